#!/usr/bin/env bash
# bench/gpu_gck.sh — layer-input checkpointing on one GPU (train --grad-checkpoint K,
# docs/models.md "Gradient checkpointing"): what it saves and what it costs.
#   1. the same bytes: a causal Mamba LM d64 x 6 (fp32 and bf16), 3 steps of 2 windows of 8K,
#      with K = 1, 2, 3 and K = 1 again; cmp of the checkpoints. Expected: K = 2 and 3 equal
#      K = 1 byte for byte where the K = 1 rerun does (the recompute runs the same kernels
#      on the same inputs; only nondeterministic kernels could make any of them differ).
#   2. speed and memory: `bench model --model bimamba --d-model 256 --layers 8` (bf16, one
#      sequence, train rows) at L = 1M, 4M, 8M for K = 1, 2, 4: tokens/s and peak_GiB
#      (--json). Expected: peak falls (8 layers: 9 copies of L x 256 x 4 bytes at K = 1, 6 at
#      K = 2 and 4: about 3 GiB less at 1M... 24 GiB less at 8M positions), tokens/s falls
#      by the extra forwards: predicted +25-30 % a step at K = 2 and 4 (not measured yet).
# Bundle here: `make gpu-bundle-gck` (.gpu-gck/). On the device: bash .gpu-gck/gpu_gck.sh.
# $OUT gets summary.txt and gck.tar.gz (the logs). DEADLINE (540): seconds for all of it.
# CPU smoke test here: SMOKE=1 bash bench/gpu_gck.sh (tiny sizes, the CPU).
set -u
GPU_SCRIPT=$0
deadline=${DEADLINE:-540} # gpu_common.sh's step() skips what would pass it (seconds)
if [ -n "${SMOKE:-}" ]; then
    G=$(cd "$(dirname "$0")/.." && pwd); out=${OUT:-/tmp/gpu-gck-smoke}; mkdir -p "$out"
    RUN=("$G/build/longscan"); S=$out/summary.txt; : > "$S"
    say() { echo "$*" | tee -a "$S"; }
    step() { local name=$1 t=$2 log=$3; shift 3; local t0=$SECONDS; echo "### $name" >> "$log"
             timeout "$t" "$@" >> "$log" 2>&1; local rc=$?
             say "## $name: rc=$rc ($((SECONDS - t0)) s)"; return $rc; }
    DEV=(--device cpu); WIN=512; D=16; LAYERS=3; PRECS=(fp32)
    BENCH=(--d-model 16 --layers 8); LENS=4096,16384
else
    . "$(dirname "$0")/gpu_common.sh"
    RUN=("$R" longscan)
    DEV=(); WIN=8192; D=64; LAYERS=6; PRECS=(fp32 bf16)
    BENCH=(--d-model 256 --layers 8); LENS=1048576,4194304,8388608
fi
logdir=$out/gck; mkdir -p "$logdir"

# random DNA: n records of m bases, fixed seed
python3 - "$logdir/lm.fa" 4 $((WIN * 2)) <<'PY'
import random, sys
random.seed(1)
path, n, m = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path, "w") as f:
    for r in range(n):
        f.write(">r%d\n%s\n" % (r, "".join(random.choices("ACGT", k=m))))
PY

# 1. the same bytes
for prec in "${PRECS[@]}"; do
    for K in 1 2 3 1b; do
        step "train $prec K=$K" 120 "$logdir/train.log" "${RUN[@]}" train --task lm --model mamba \
            --data "$logdir/lm.fa" --seq-len "$WIN" --d-model "$D" --layers "$LAYERS" --steps 3 \
            --batch-size 2 --no-bucket --precision "$prec" "${DEV[@]}" \
            --grad-checkpoint "${K%b}" -o "$logdir/$prec-$K.safetensors"
    done
    for K in 2 3 1b; do
        what="K=${K%b}"; [ "$K" = 1b ] && what="K=1 again"
        if cmp -s "$logdir/$prec-1.safetensors" "$logdir/$prec-$K.safetensors"; then
            say "$prec: $what gives K=1's checkpoint byte for byte"
        else say "$prec: $what differs from K=1's checkpoint"; fi
    done
done
grep -h "activation arena\|peak GPU" "$logdir/train.log" | sed 's/^/# /' | tee -a "$S" > /dev/null

# 2. speed and memory, bimamba d256 x 8 (bf16 on the GPU by default)
for K in 1 2 4; do
    step "bench K=$K" 200 "$logdir/bench-$K.json" "${RUN[@]}" bench model --model bimamba \
        "${BENCH[@]}" --seq-len "$LENS" --repeat 2 --json "${DEV[@]}" --grad-checkpoint "$K"
    python3 - "$logdir/bench-$K.json" "$K" <<'PY' | tee -a "$S"
import json, sys
text = open(sys.argv[1]).read()
text = text[text.find("["):] if "[" in text else "[]"
try:
    rows = json.loads(text[:text.rfind("]") + 1])
except ValueError:
    rows = []
for r in rows:
    print("K=%s L=%-9d tokens/s %s peak_GiB %s planned_GiB %s" % (
        sys.argv[2], r["L"], r.get("tokens_per_s", "-"), r.get("peak_GiB", "-"),
        r.get("planned_GiB", "-")) + ("  " + r["note"] if "note" in r else ""))
if not rows:
    print("K=%s: no rows (see bench-%s.json)" % (sys.argv[2], sys.argv[2]))
PY
done
tar -C "$out" -czf "$out/gck.tar.gz" gck && rm -rf "$logdir"
