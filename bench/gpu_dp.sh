#!/usr/bin/env bash
# bench/gpu_dp.sh — issue 17's data parallel on the lent GPU machine (docs/parallel.md "Data
# parallel"). NCCL is not in the bundle: the machine's PyTorch wheel brings it (nvidia.nccl),
# found here and given as LS_NCCL_LIBRARY (longscan would also look there itself).
#   1. equal: a causal Mamba LM (d_model 256 x 8 layers, fp32, 10 steps of 8 windows of 16K
#      random bases) as a plain run and as `--gpus 1` (one rank through NCCL: the whole code
#      path, the gradient buckets on the communication stream, the host exchanges). Expected:
#      the same loss and gradient norm at every step, digit for digit (one rank adds nothing).
#   2. with 2+ GPUs visible: `--gpus 2` on the same global batch, fp32: the losses of 1 within
#      1e-4 relative (fp32 rounding of other groupings; the CPU test sees 1e-6).
#   3. speed, bf16 (the default), 30 steps: 1 GPU with batch 8, 2 GPUs with batch 8 (strong
#      scaling) and batch 16 (weak: 8 per GPU); tokens/s over steps 6..30 from the logs, and the
#      scaling efficiency = tokens/s / (GPUs x tokens/s of one GPU).
# Bundle here: `make gpu-bundle-dp` (.gpu-dp/: longscan and the scripts; < 60 MiB). On the
# device: bash .gpu-dp/gpu_dp.sh. $OUT gets summary.txt and dp.tar.gz (the logs).
# CPU smoke test here: SMOKE=1 bash bench/gpu_dp.sh (ranks on the CPU, tiny sizes; nothing GPU).
set -u
deadline=${DEADLINE:-480}
GPU_SCRIPT=$0
if [ -n "${SMOKE:-}" ]; then # this machine: the repository's build, no bundle
    G=$(cd "$(dirname "$0")/.." && pwd); out=${OUT:-/tmp/gpu-dp-smoke}; mkdir -p "$out"
    RUN=("$G/build/longscan"); S=$out/summary.txt; : > "$S"
    say() { echo "$*" | tee -a "$S"; }
    step() { local name=$1 t=$2 log=$3; shift 3; local t0=$SECONDS; echo "### $name" >> "$log"
             timeout "$t" "$@" >> "$log" 2>&1; local rc=$?
             say "## $name: rc=$rc ($((SECONDS - t0)) s)"; return $rc; }
    PAR=--cpu-ranks; DEV=(--device cpu); L=512; D=16; LAYERS=2; STEPS=4; SPEED_STEPS=8
    PREC=(); GPUS=2
else
    . "$(dirname "$0")/gpu_common.sh"
    RUN=("$R" longscan) # the bundle's runner: its libraries, then bin/longscan
    PAR=--gpus; DEV=(); L=16384; D=256; LAYERS=8; STEPS=10; SPEED_STEPS=30
    PREC=(--precision fp32)
    GPUS=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')
    if [ -z "${LS_NCCL_LIBRARY:-}" ]; then
        nccl=$(python3 -c "import nvidia.nccl, os; print(os.path.dirname(nvidia.nccl.__file__))" \
               2>/dev/null)
        [ -n "$nccl" ] && [ -e "$nccl/lib/libnccl.so.2" ] && export LS_NCCL_LIBRARY=$nccl/lib/libnccl.so.2
    fi
    say "# NCCL: ${LS_NCCL_LIBRARY:-not found by python; longscan searches itself}; GPUs: $GPUS"
fi
export NCCL_NVLS_ENABLE=0 # (longscan sets it too)
logdir=$out/dp; mkdir -p "$logdir"

# random DNA, 64 records of 2·L bases (a fixed seed: the same data each call)
python3 - "$logdir/rand.fa" "$L" <<'EOF' || awk -v L="$L" 'BEGIN { srand(1); for (r = 0; r < 64; r++) { printf ">r%d\n", r; for (i = 0; i < 2 * L; i++) printf "%s", substr("ACGT", int(rand() * 4) + 1, 1); printf "\n" } }' > "$logdir/rand.fa"
import random, sys
random.seed(1)
L = int(sys.argv[2])
with open(sys.argv[1], "w") as f:
    for r in range(64):
        f.write(">r%d\n%s\n" % (r, "".join(random.choice("ACGT") for _ in range(2 * L))))
EOF

base=(train --task lm --model mamba --data "$logdir/rand.fa" --seq-len "$L" --d-model "$D"
      --layers "$LAYERS" --lr 1e-3 --seed 1 --verbosity 1 --progress plain)
run() { # name batch steps extra...
    local name=$1 batch=$2 steps=$3; shift 3
    step "$name" 150 "$logdir/$name.log" "${RUN[@]}" "${base[@]}" --batch-size "$batch" --steps "$steps" \
        --log "$logdir/$name.csv" -o "$logdir/$name.safetensors" "$@"
}
# loss and grad_norm columns of two logs: "identical", or the largest relative difference
compare() {
    paste -d, "$1" "$2" | awk -F, -v h="$(head -1 "$1" | awk -F, '{ print NF }')" '
        NR == 1 { next }
        { for (k = 0; k < 2; k++) { c = k ? 5 : 3; a = $c; b = $(c + h); if (a != b) same = 1
              d = a - b; if (d < 0) d = -d; m = a < 0 ? -a : a; if (m < 1) m = 1
              if (d / m > w) w = d / m } ; n++ }
        END { if (n == 0) print "no rows"; else if (!same) print "identical (" n " steps)";
              else printf "max relative difference %.3g (%d steps)\n", w, n }'
}
# tokens/s over steps after the 5th: all their tokens over all their seconds
speed() {
    awk -F, 'NR > 6 && $7 > 0 { t += $6; s += $6 / $7 } END { if (s > 0) printf "%.0f", t / s; else print 0 }' "$1"
}

say "## 1. plain vs ${PAR#--} 1, fp32"
run plain 8 "$STEPS" "${DEV[@]}" "${PREC[@]}" && run one 8 "$STEPS" $PAR 1 "${PREC[@]}" &&
    say "plain vs $PAR 1: $(compare "$logdir/plain.csv" "$logdir/one.csv")"
if [ "$GPUS" -ge 2 ]; then
    say "## 2. $PAR 2 vs 1, same global batch, fp32"
    run two 8 "$STEPS" $PAR 2 "${PREC[@]}" &&
        say "plain vs $PAR 2: $(compare "$logdir/plain.csv" "$logdir/two.csv")"
    say "## 3. speed (default precision), $SPEED_STEPS steps"
    run s1 8 "$SPEED_STEPS" "${DEV[@]}" && run s2 8 "$SPEED_STEPS" $PAR 2 &&
        run s2w 16 "$SPEED_STEPS" $PAR 2
    t1=$(speed "$logdir/s1.csv"); t2=$(speed "$logdir/s2.csv"); t2w=$(speed "$logdir/s2w.csv")
    say "tokens/s: 1 GPU batch 8: $t1; 2 GPUs batch 8: $t2; 2 GPUs batch 16: $t2w"
    awk -v a="$t1" -v b="$t2" -v c="$t2w" 'BEGIN { if (a > 0) printf "scaling efficiency at 2 GPUs: strong %.1f %%, weak %.1f %%\n", 100 * b / (2 * a), 100 * c / (2 * a) }' | tee -a "$S"
else
    say "## 2, 3: skipped (one GPU visible): no 2-rank equality or scaling measured"
    run s1 8 "$SPEED_STEPS" "${DEV[@]}" && run s1g 8 "$SPEED_STEPS" $PAR 1
    say "tokens/s (default precision): plain $(speed "$logdir/s1.csv"); $PAR 1 $(speed "$logdir/s1g.csv")"
fi
grep -h "data_parallel\|^longscan\|trained" "$logdir"/*.log | sed 's/^/# /' >> "$S"
rm -f "$logdir"/*.safetensors "$logdir/rand.fa"
tar -C "$out" -czf "$out/dp.tar.gz" dp && rm -rf "$logdir"
cat "$S"
