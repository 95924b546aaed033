#!/usr/bin/env bash
# bench/synth.sh — issue 15's bars on this machine, as reproducible runs:
#   mqar-transformer  MQAR (L 256, 16 pairs, vocab $VOCAB): a 2-layer Transformer trained
#                     within $CPU_MINUTES CPU-minutes, tested on a fresh seed (bar: >= 95 %);
#                     attention-only blocks, the Transformer of Zoology's table
#   mqar-transformer-mlp  the same with an MLP after each attention (reported: it does not
#                     learn the task in this budget, docs/synth.md)
#   mqar-hybrid       the same with a 4-layer hybrid, one attention block (bar: >= 90 %)
#   mqar-mamba        the same with a 4-layer Mamba (reported)
#   induction         induction heads through `longscan compare --experiments induction`:
#                     the Mamba paper's Mamba (2 layers, d_model 64, d_state 16), the grid's
#                     Transformer (2 attention-only layers, d_model 64) and hybrid, trained
#                     at L 256 (with as many examples at L 64: docs/synth.md says why) for
#                     $INDUCTION_STEPS steps of the paper's optimizer (batch 8, constant
#                     learning rate 1e-3, no weight decay), tested on $INDUCTION_N examples of
#                     seed $SEED + 1000 at 256, 512, ... 16,384 (bar: Mamba >= 99 % at
#                     16,384; the Transformer reported past twice its training length)
#   induction-grid    the table of docs/synth.md: induction for SEED 1 (all models), then
#                     the Mamba alone for SEED 2 and 3, and for SEED 1 at vocabulary 32
#   all               every one of them but induction-grid
# Usage: bench/synth.sh WHAT...   (env: SEED=1, TEST_SEED=$((SEED + 1000)), VOCAB=8192,
#        CPU_MINUTES=10, THREADS=1, INDUCTION_MODELS=mamba,transformer,hybrid,
#        INDUCTION_VOCAB=16, INDUCTION_STEPS=8000, INDUCTION_N=500,
#        INDUCTION_LENGTHS=256,512,1024,2048,4096,8192,16384,
#        LONGSCAN=build/longscan, OUT=bench/results)
#
# The budget is CPU time, not wall time: the machine is shared, so a wall-clock limit would
# measure the neighbours. Each MQAR run first times 10 and 40 training steps (CPU time of the
# process, getrusage through /usr/bin/time), takes the slope as the cost of a step, and
# trains for as many steps as fit in 90 % of the budget less the fixed cost (a step's cost
# varies with the neighbours' load on caches and memory); the whole
# training process's CPU time (trial runs not counted) is then printed beside the budget.
# The induction runs take a number of steps instead: the same training on a loaded machine.
# The recipe is the same for every seed and vocabulary: nothing here is tuned to one grid.
# Results go to $OUT/synth-<what>-<commit>.txt with the commit, the machine and its load.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
LONGSCAN=${LONGSCAN:-$here/build/longscan}
OUT=${OUT:-$here/bench/results}
SEED=${SEED:-1}
TEST_SEED=${TEST_SEED:-$((SEED + 1000))}
VOCAB=${VOCAB:-8192}
CPU_MINUTES=${CPU_MINUTES:-10}
THREADS=${THREADS:-1}
commit=$(git -C "$here" rev-parse --short HEAD)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# cpu_seconds CMD... — run CMD, print its user+sys CPU seconds (its wall seconds are left in
# $work/wall)
cpu_seconds() {
    /usr/bin/time -f '%U %S %e' -o "$work/time" "$@"
    awk '{ print $3 }' "$work/time" > "$work/wall"
    awk '{ print $1 + $2 }' "$work/time"
}

# steps_for_budget ARGS... — training steps of `train ARGS` that fit in the CPU budget
steps_for_budget() {
    local t10 t40
    t10=$(cpu_seconds "$LONGSCAN" train "$@" --steps 10 --verbosity 0 -o "$work/trial.safetensors")
    t40=$(cpu_seconds "$LONGSCAN" train "$@" --steps 40 --verbosity 0 -o "$work/trial.safetensors")
    awk -v a="$t10" -v b="$t40" -v m="$CPU_MINUTES" 'BEGIN {
        step = (b - a) / 30; fixed = a - 10 * step; if (fixed < 0) fixed = 0
        n = int((0.9 * m * 60 - fixed) / step); if (n < 1) n = 1; print n }'
}

# header TITLE [BUDGET] — what ran, where, when
header() {
    echo "# $1 — longscan $commit, $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "# machine: $(nproc) CPU cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 |
        sed 's/^ *//')), shared with other jobs; load average at start: $(cut -d' ' -f1-3 \
        /proc/loadavg); $THREADS training thread(s)"
    echo "# budget: ${2:-$CPU_MINUTES CPU-minutes of training (CPU time, not wall time)}"
}

# train_mqar NAME MODEL-ARGS... — train within the budget, test on a fresh seed
train_mqar() {
    local name=$1
    shift
    local data="synth:mqar,len=256,pairs=16,vocab=$VOCAB,n=200000,seed=$SEED"
    local test="synth:mqar,len=256,pairs=16,vocab=$VOCAB,n=2000,seed=$TEST_SEED"
    local args=(--task lm "$@" --data "$data" --batch-size 32 --threads "$THREADS" --seed "$SEED")
    local file="$OUT/synth-mqar-$name-$commit.txt"
    {
        header "MQAR L=256, 16 pairs, vocab $VOCAB: $name"
        local steps cpu
        steps=$(steps_for_budget "${args[@]}")
        echo "# command: longscan train ${args[*]} --steps $steps -o mqar-$name.safetensors"
        cpu=$(cpu_seconds "$LONGSCAN" train "${args[@]}" --steps "$steps" --verbosity 0 \
              -o "$work/mqar-$name.safetensors")
        echo "training: $steps steps, $cpu CPU-seconds (budget $((CPU_MINUTES * 60)))," \
             "$(cat "$work/wall") wall-seconds"
        echo "# test: longscan eval -m mqar-$name.safetensors --data $test --json"
        "$LONGSCAN" eval -m "$work/mqar-$name.safetensors" --data "$test" --json \
            --threads "$THREADS"
    } | tee "$file"
}

# run_induction FILE — one induction run of `longscan compare` (SEED, INDUCTION_VOCAB,
# INDUCTION_MODELS), its report and CSV appended to FILE
run_induction() {
    local file=$1
    local vocab=${INDUCTION_VOCAB:-16} steps=${INDUCTION_STEPS:-8000} n=${INDUCTION_N:-500}
    local dir=$work/induction-v$vocab-s$SEED
    local args=(compare --experiments induction
                --models "${INDUCTION_MODELS:-mamba,transformer,hybrid}"
                --mamba-d-model 64 --mamba-layers 2 --d-model 64 --layers 2 --heads 2
                --induction-vocab "$vocab" --train-len 256 --mix-len 64
                --eval-lengths "${INDUCTION_LENGTHS:-256,512,1024,2048,4096,8192,16384}"
                --n-eval "$n"
                --steps "$steps" --batch-size 8 --lr 1e-3 --min-lr 1e-3 --weight-decay 0
                --n-train 1000000 --threads "$THREADS" --seed "$SEED" --verbosity 1 -o "$dir")
    {
        header "induction heads, vocabulary $vocab, seed $SEED (tests: seed $((SEED + 1000)))" \
            "$steps training steps per model (the same training on a loaded machine)"
        echo "# command: longscan ${args[*]}"
        local cpu
        cpu=$(cpu_seconds "$LONGSCAN" "${args[@]}" 2> "$work/compare.err")
        sed 's/^/# /' "$work/compare.err"
        echo "# compare: $cpu CPU-seconds, $(cat "$work/wall") wall-seconds (training and tests)"
        sed 's/^#/##/' "$dir/report.md"
        echo
        echo '```'
        cat "$dir/results.csv"
        echo '```'
    } | tee -a "$file"
}

[ $# -gt 0 ] || { awk 'NR > 1 && !/^#/ { exit } NR > 1' "$0"; exit 1; }
mkdir -p "$OUT"
for what in "$@"; do
    case $what in
    mqar-transformer)
        train_mqar transformer --model transformer --d-model 64 --layers 2 --heads 2 \
            --mlp-hidden 0 --lr 3e-3 ;;
    mqar-transformer-mlp)
        train_mqar transformer-mlp --model transformer --d-model 64 --layers 2 --heads 2 \
            --lr 3e-3 ;;
    mqar-hybrid)
        train_mqar hybrid --model hybrid --d-model 64 --layers 4 --attn-every 4 --heads 2 \
            --lr 3e-3 ;;
    mqar-mamba) train_mqar mamba --model mamba --d-model 64 --layers 4 --lr 3e-3 ;;
    induction)
        run_induction "$OUT/synth-induction-v${INDUCTION_VOCAB:-16}-s$SEED-$commit.txt" ;;
    induction-grid)
        grid=$OUT/synth-induction-$commit.txt
        : > "$grid"
        SEED=1 run_induction "$grid"
        for s in 2 3; do SEED=$s INDUCTION_MODELS=mamba run_induction "$grid"; done
        SEED=1 INDUCTION_VOCAB=32 INDUCTION_MODELS=mamba run_induction "$grid" ;;
    all) "$0" mqar-transformer mqar-transformer-mlp mqar-hybrid mqar-mamba induction ;;
    *) echo "bench/synth.sh: unknown run '$what'" >&2; exit 2 ;;
    esac
done
