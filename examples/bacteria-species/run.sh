#!/usr/bin/env bash
# examples/bacteria-species/run.sh — which bacterium is this DNA from (E. coli, H. pylori,
# S. aureus, V. cholerae; chance 25 %), from ../shared/data/dna/bacteria-species, with the
# strains of dev unseen in train: a bidirectional Mamba per window length (1K, 16K), trained
# on random windows of the train genomes (species drawn uniformly), evaluated on evenly
# spread, non-overlapping windows of the dev genomes (EVAL_WINDOWS per record; V. cholerae
# has two records, so twice the windows): accuracy over all of them (longscan eval --json).
# The species differ in GC content, so short windows are already easy: this is a smoke test
# of the accuracy-against-length curve, not a hard benchmark.
#
#   examples/bacteria-species/run.sh                        1K and 16K, 5 training minutes
#   LENGTHS="512 1024" STEPS=5 D_MODEL=16 LAYERS=1 TOKENS=4096 EVAL_WINDOWS=8 \
#       examples/bacteria-species/run.sh                     smoke run
#
# Environment, besides examples/common.sh's (LONGSCAN DATA OUT SEEDS ALL_SEEDS MINUTES
# MINUTES_PER_RUN STEPS DEVICE PRECISION THREADS TRAIN_ARGS EVAL_ARGS COMMIT):
#   LENGTHS             window lengths (default 1024 16384)
#   MODEL               bimamba (default), mamba or transformer (its --window is then L)
#   TOKENS              training tokens per step: batch = max(1, TOKENS / L) (default 131072)
#   EVAL_WINDOWS        dev windows per record (default 256)
#   D_MODEL LAYERS LR   (default 128, 4, 2e-3)
# Seeds: the first of SEEDS (all with ALL_SEEDS=1).
# Output (OUT, default build/examples/bacteria-species): metrics/<model>.L<L>.s<seed>.json,
# runs.tsv, summary.tsv (group = <model>.L<L>, metric = accuracy on dev).
RECIPE=bacteria-species
source "$(dirname "$0")/../common.sh"
recipe_args "$@"
recipe_init dna/bacteria-species/train/labels.tsv dna/bacteria-species/dev/labels.tsv
B=$DATA/dna/bacteria-species
read -ra lengths <<< "${LENGTHS:-1024 16384}"
model=${MODEL:-bimamba}
tokens=${TOKENS:-131072}
seeds=($(recipe_seeds other))
recipe_budget $(( ${#lengths[@]} * ${#seeds[@]} ))
for L in "${lengths[@]}"; do
    b=$((tokens / L)); b=$((b < 1 ? 1 : b))
    extra=(); [ "$model" = transformer ] && extra=(--window "$L")
    for seed in "${seeds[@]}"; do
        run=$model.L$L.s$seed
        recipe_train "$run" --task classify --model "$model" \
            --data "$B/train" --labels "$B/train/labels.tsv" --seq-len "$L" --balanced \
            --d-model "${D_MODEL:-128}" --layers "${LAYERS:-4}" --batch-size "$b" \
            --lr "${LR:-2e-3}" --seed "$seed" "${extra[@]}"
        recipe_eval "$run" "$run" "$model.L$L" "$seed" dev accuracy \
            --data "$B/dev" --labels "$B/dev/labels.tsv" --seq-len "$L" \
            --max-windows "${EVAL_WINDOWS:-256}" --batch-size "$(( b > 64 ? 64 : b ))"
    done
done
recipe_summary
