#!/usr/bin/env bash
# examples/gue/run.sh — GUE, the benchmark of DNABERT-2: its seven human tasks in
# ../shared/data/dna/gue (tf0–tf4: transcription-factor binding sites, 101 bp;
# prom_core_notata, prom_core_tata: core promoters, 70 bp), 0/1 labels. One bidirectional
# Mamba classifier per task, trained on train, evaluated on dev: MCC over the whole dev set
# (longscan eval --json). The headline task, prom_core_notata, runs every seed of SEEDS; the
# others run the first seed (all with ALL_SEEDS=1). Training holds out HOLDOUT (10 %) of
# train, stratified by label, and the weights with the lowest loss on it are evaluated
# (early stopping); each training batch is augmented by reverse complement. Nothing is
# chosen on dev.
#
#   examples/gue/run.sh                                  all seven tasks, 5 training minutes
#   TASKS=prom_core_notata MINUTES=3 examples/gue/run.sh
#   STEPS=20 D_MODEL=16 LAYERS=1 examples/gue/run.sh     smoke run (seconds on a CPU)
#
# Environment, besides examples/common.sh's (LONGSCAN DATA OUT SEEDS ALL_SEEDS MINUTES
# MINUTES_PER_RUN STEPS DEVICE PRECISION THREADS TRAIN_ARGS EVAL_ARGS COMMIT):
#   TASKS                     the tasks (default: tf0 tf1 tf2 tf3 tf4 prom_core_notata
#                             prom_core_tata; prom_core_notata always runs first)
#   MODEL                     bimamba (default), mamba or transformer
#   D_MODEL LAYERS BATCH LR   width, blocks, batch size, peak learning rate
#                             (default 128, 4, 64, 2e-3)
#   AUGMENT                   train --augment (default rc; none: off)
#   DROPOUT                   train --dropout P (default: not passed)
#   HOLDOUT                   share of train held out for early stopping (default 0.1;
#                             0: none, the final weights are evaluated)
# Output (OUT, default build/examples/gue): metrics/<task>.s<seed>.json, runs.tsv,
# summary.tsv (group = task, metric = mcc on dev).
RECIPE=gue
source "$(dirname "$0")/../common.sh"
recipe_args "$@"
all_tasks="prom_core_notata prom_core_tata tf0 tf1 tf2 tf3 tf4"
tasks=()
for t in ${TASKS:-$all_tasks}; do
    case " $all_tasks " in
    *" $t "*) ;;
    *) usage_error "unknown task '$t' (tasks: $all_tasks)" ;;
    esac
    [ "$t" = prom_core_notata ] && tasks=("$t" "${tasks[@]}") || tasks+=("$t")
done
need=(); for t in "${tasks[@]}"; do need+=("dna/gue/$t/train.fa.gz" "dna/gue/$t/dev.fa.gz"); done
recipe_init "${need[@]}"
model=${MODEL:-bimamba}
recipe_regularisation rc
recipe_holdout 0.1

runs=0
for t in "${tasks[@]}"; do
    kind=other; [ "$t" = prom_core_notata ] && kind=headline
    for seed in $(recipe_seeds $kind); do runs=$((runs + 1)); done
done
recipe_budget $runs

for t in "${tasks[@]}"; do
    g=$DATA/dna/gue/$t
    kind=other; [ "$t" = prom_core_notata ] && kind=headline
    for seed in $(recipe_seeds $kind); do
        run=$t.s$seed
        recipe_train "$run" --task classify --model "$model" \
            --data "$g/train.fa.gz" --labels "$g/train.labels.tsv" \
            --d-model "${D_MODEL:-128}" --layers "${LAYERS:-4}" --batch-size "${BATCH:-64}" \
            --lr "${LR:-2e-3}" --seed "$seed" "${HOLDOUT_ARGS[@]}" "${REG_ARGS[@]}"
        recipe_eval "$run" "$run" "$t" "$seed" dev mcc \
            --data "$g/dev.fa.gz" --labels "$g/dev.labels.tsv"
    done
done
recipe_summary
