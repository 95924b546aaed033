#!/usr/bin/env bash
# bench/gpu_sp.sh — issue 17's sequence parallel across GPUs (docs/parallel.md "Sequence
# parallel across ranks"): `train --gpus G --seq-parallel`, one slice of every row a GPU,
# halos / scan summaries through ncclSend+ncclRecv / ncclAllGather, a classifier's pooled
# parts and the gradients through ncclAllReduce; each rank holds only its slice of every row
# (the memory split). NCCL from the machine's PyTorch wheel as in bench/gpu_dp.sh.
#   1. `--gpus 1 --seq-parallel` against a plain run (a causal Mamba LM d256 x 8, fp32, 6 steps
#      of 2 windows of 16K): one rank is one slice, the plain path through the communicator.
#      Expected: identical losses and gradient norms.
#   2. with 2+ GPUs: `--gpus 2 --seq-parallel` (and --gpus <all> when more than 2) against the
#      plain run, for that Mamba LM and for a bimamba classifier (2 random labels), fp32:
#      within 1e-4 relative (the CPU test, tests/cli/test_sp.sh, sees <= 3.5e-7 on weights).
#   3. with 2+ GPUs, speed and memory: one sequence (batch 1) of L = 4M, 8M, 16M, 32M, 64M
#      random bases through a bimamba d256 x 8 (bf16), 3 steps, on 1 GPU and on all of them:
#      tokens/s of the last two steps, rank 0's peak GPU memory (the log's peak_gpu_gib)
#      and activation arena (train's closing line), or the error line. Expected: the arena
#      about 1/G of one GPU's at the same L; about 11.3 KB a position a rank (docs/parallel.md),
#      so out of memory at L/G past ~6M positions on an 80 GB card (64M on 8 H100s).
# Bundle here: `make gpu-bundle-sp` (.gpu-sp/). On the device: bash .gpu-sp/gpu_sp.sh.
# $OUT gets summary.txt and sp.tar.gz (the logs). DEADLINE (540): seconds for all of it.
# CPU smoke test here: SMOKE=1 bash bench/gpu_sp.sh (2 CPU ranks, tiny sizes; nothing GPU).
set -u
GPU_SCRIPT=$0
deadline=${DEADLINE:-540} # gpu_common.sh's step() skips what would pass it (seconds)
if [ -n "${SMOKE:-}" ]; then
    G=$(cd "$(dirname "$0")/.." && pwd); out=${OUT:-/tmp/gpu-sp-smoke}; mkdir -p "$out"
    RUN=("$G/build/longscan"); S=$out/summary.txt; : > "$S"
    say() { echo "$*" | tee -a "$S"; }
    step() { local name=$1 t=$2 log=$3; shift 3; local t0=$SECONDS; echo "### $name" >> "$log"
             timeout "$t" "$@" >> "$log" 2>&1; local rc=$?
             say "## $name: rc=$rc ($((SECONDS - t0)) s)"; return $rc; }
    PAR=--cpu-ranks; DEV=(--device cpu); L=512; D=16; LAYERS=2; STEPS=3
    PREC=(); GPUS=2; LONG=(4096 8192); LONG_T=120
else
    . "$(dirname "$0")/gpu_common.sh"
    RUN=("$R" longscan)
    PAR=--gpus; DEV=(); L=16384; D=256; LAYERS=8; STEPS=6
    PREC=(--precision fp32)
    GPUS=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')
    if [ -z "${LS_NCCL_LIBRARY:-}" ]; then
        nccl=$(python3 -c "import nvidia.nccl, os; print(os.path.dirname(nvidia.nccl.__file__))" \
               2>/dev/null)
        [ -n "$nccl" ] && [ -e "$nccl/lib/libnccl.so.2" ] && export LS_NCCL_LIBRARY=$nccl/lib/libnccl.so.2
    fi
    say "# NCCL: ${LS_NCCL_LIBRARY:-not found by python; longscan searches itself}; GPUs: $GPUS"
    LONG=(4194304 8388608 16777216 33554432 67108864); LONG_T=240
fi
export NCCL_NVLS_ENABLE=0 # (longscan sets it too)
logdir=$out/sp; mkdir -p "$logdir"

# random DNA: n records of m bases, fixed seed
rand_fa() { # file n m
    python3 - "$@" <<'PY'
import random, sys
random.seed(1)
path, n, m = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path, "w") as f:
    for r in range(n):
        f.write(">r%d\n%s\n" % (r, "".join(random.choices("ACGT", k=m))))
PY
}
rand_fa "$logdir/rand.fa" 16 "$((2 * L))"
awk '/^>/ { print $1 "\t" (k++ % 2 ? "a" : "b") }' "$logdir/rand.fa" | sed 's/^>//' > "$logdir/rand.labels.tsv"

lm=(train --task lm --model mamba --data "$logdir/rand.fa" --seq-len "$L" --d-model "$D"
    --layers "$LAYERS" --lr 1e-3 --seed 1 --verbosity 1 --progress plain --batch-size 2)
cls=(train --model bimamba --data "$logdir/rand.fa" --labels "$logdir/rand.labels.tsv"
     --d-model "$D" --layers "$LAYERS" --lr 1e-3 --seed 1 --verbosity 1 --progress plain
     --batch-size 2)
run() { # name base-array-name steps extra...
    local name=$1 arr=$2 steps=$3; shift 3
    local -n b=$arr
    step "$name" 300 "$logdir/$name.log" "${RUN[@]}" "${b[@]}" --steps "$steps" \
        --log "$logdir/$name.csv" -o "$logdir/$name.safetensors" "$@"
}
compare() {
    paste -d, "$1" "$2" | awk -F, -v h="$(head -1 "$1" | awk -F, '{ print NF }')" '
        NR == 1 { next }
        { for (k = 0; k < 2; k++) { c = k ? 5 : 3; a = $c; b = $(c + h); if (a != b) same = 1
              d = a - b; if (d < 0) d = -d; m = a < 0 ? -a : a; if (m < 1) m = 1
              if (d / m > w) w = d / m } ; n++ }
        END { if (n == 0) print "no rows"; else if (!same) print "identical (" n " steps)";
              else printf "max relative difference %.3g (%d steps)\n", w, n }'
}

say "## 1. plain vs ${PAR#--} 1 --seq-parallel, mamba LM, fp32"
run plain lm "$STEPS" "${DEV[@]}" "${PREC[@]}" && run one lm "$STEPS" $PAR 1 --seq-parallel "${PREC[@]}" &&
    say "plain vs $PAR 1 --seq-parallel: $(compare "$logdir/plain.csv" "$logdir/one.csv")"
if [ "$GPUS" -ge 2 ]; then
    say "## 2. $PAR G --seq-parallel vs plain, fp32"
    run cplain cls "$STEPS" "${DEV[@]}" "${PREC[@]}"
    for g in 2 $([ "$GPUS" -gt 2 ] && echo "$GPUS"); do
        run "lm$g" lm "$STEPS" $PAR "$g" --seq-parallel "${PREC[@]}" &&
            say "mamba LM, $g ranks: $(compare "$logdir/plain.csv" "$logdir/lm$g.csv")"
        run "cls$g" cls "$STEPS" $PAR "$g" --seq-parallel "${PREC[@]}" &&
            say "bimamba classifier, $g ranks: $(compare "$logdir/cplain.csv" "$logdir/cls$g.csv")"
    done
    say "## 3. one sequence of L bases, bimamba d$D x $LAYERS, default precision, 3 steps"
    for Lx in "${LONG[@]}"; do
        rand_fa "$logdir/long.fa" 2 "$Lx"
        printf 'r0\ta\nr1\tb\n' > "$logdir/long.labels.tsv"
        big=(train --model bimamba --data "$logdir/long.fa" --labels "$logdir/long.labels.tsv"
             --d-model "$D" --layers "$LAYERS" --seed 1 --verbosity 1 --progress plain
             --batch-size 1 --steps 3)
        for g in 1 "$GPUS"; do
            name="long${Lx}_g$g"
            if [ "$g" = 1 ]; then extra=("${DEV[@]}"); else extra=($PAR "$g" --seq-parallel); fi
            if step "$name" "$LONG_T" "$logdir/$name.log" "${RUN[@]}" "${big[@]}" "${extra[@]}" \
                    --log "$logdir/$name.csv" -o "$logdir/$name.safetensors"; then
                say "L=$Lx, $g rank(s): $(awk -F, 'NR > 2 { t += $6; s += $6 / $7; m = $14 }
                    END { if (s > 0) printf "%.0f tokens/s (steps 2-3), peak %s GiB", t / s, m }' \
                    "$logdir/$name.csv")$(sed -n 's/.*\(activation arena [0-9]* bytes\).*/, \1/p' \
                    "$logdir/$name.log" | head -1)"
            else
                say "L=$Lx, $g rank(s): failed: $(grep -h '^longscan' "$logdir/$name.log" | head -1)"
            fi
        done
    done
else
    say "## 2, 3: skipped (one GPU visible): no G-rank equality, no speed or memory measured"
fi
grep -h "sequence_parallel\|^longscan\|trained" "$logdir"/*.log | sed 's/^/# /' >> "$S"
rm -f "$logdir"/*.safetensors "$logdir"/*.fa
tar -C "$out" -czf "$out/sp.tar.gz" sp && rm -rf "$logdir"
cat "$S"
