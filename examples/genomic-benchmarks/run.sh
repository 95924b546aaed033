#!/usr/bin/env bash
# examples/genomic-benchmarks/run.sh — Genomic Benchmarks human_nontata_promoters (251 bp) and
# human_enhancers_cohn (500 bp) from ../shared/data/dna/gb-test-splits: 5-fold
# cross-validation on the folds given there (folds.tsv) — train on four folds, evaluate on
# the fifth, rotate — one bidirectional Mamba classifier per fold; accuracy over the whole
# held-out fold (longscan eval --json), mean and spread over the folds.
# NOT the published protocol: only the official *test* splits are available here, so the
# model trains on 80 % of a test split (about a third of the official training set size) and
# is evaluated on the rest; published numbers train on the official train split.
# The files are class-sorted; longscan shuffles its batches and computes metrics over a whole
# fold, never per batch. The folds are cut from the FASTA by a pipe, read in place.
#
#   examples/genomic-benchmarks/run.sh                  both datasets, 5 folds, 5 minutes
#   DATASETS=human_nontata_promoters FOLDS="0 1" examples/genomic-benchmarks/run.sh
#   STEPS=20 D_MODEL=16 LAYERS=1 examples/genomic-benchmarks/run.sh        smoke run
#
# Environment, besides examples/common.sh's (LONGSCAN DATA OUT SEEDS ALL_SEEDS MINUTES
# MINUTES_PER_RUN STEPS DEVICE PRECISION THREADS TRAIN_ARGS EVAL_ARGS COMMIT):
#   DATASETS                  default: human_nontata_promoters human_enhancers_cohn
#   FOLDS                     held-out folds (default 0 1 2 3 4)
#   MODEL                     bimamba (default), mamba or transformer
#   D_MODEL LAYERS BATCH LR   (default 128, 4, 64, 2e-3)
# Seeds: the first of SEEDS for every fold (the folds give the spread); all with ALL_SEEDS=1.
# Output (OUT, default build/examples/genomic-benchmarks): metrics/<dataset>.f<fold>.s<seed>.json,
# runs.tsv, summary.tsv (group = dataset, metric = accuracy on the held-out fold).
RECIPE=genomic-benchmarks
source "$(dirname "$0")/../common.sh"
recipe_args "$@"
datasets=(${DATASETS:-human_nontata_promoters human_enhancers_cohn})
folds=(${FOLDS:-0 1 2 3 4})
need=()
for d in "${datasets[@]}"; do
    need+=("dna/gb-test-splits/$d/test.fa.gz" "dna/gb-test-splits/$d/test.labels.tsv"
           "dna/gb-test-splits/$d/folds.tsv")
done
recipe_init "${need[@]}"
model=${MODEL:-bimamba}
for k in "${folds[@]}"; do
    [[ $k =~ ^[0-4]$ ]] || usage_error "FOLDS: '$k' is not 0-4"
done

# fold_fasta DATASET FOLD in|out — the records of one fold (in) or of the other four (out),
# as FASTA on stdout (the source has one line per sequence).
fold_fasta() {
    local g=$DATA/dna/gb-test-splits/$1
    gzip -dc "$g/test.fa.gz" | awk -v k="$2" -v want="$3" '
        NR == FNR { fold[$1] = $2; next }
        /^>/ {
            name = substr($1, 2)
            if (!(name in fold)) { print "no fold for " name > "/dev/stderr"; exit 1 }
            keep = (fold[name] == k) == (want == "in")
        }
        keep' "$g/folds.tsv" -
}

seeds=($(recipe_seeds other))
recipe_budget $(( ${#datasets[@]} * ${#folds[@]} * ${#seeds[@]} ))
for d in "${datasets[@]}"; do
    g=$DATA/dna/gb-test-splits/$d
    for k in "${folds[@]}"; do
        for seed in "${seeds[@]}"; do
            run=$d.f$k.s$seed
            recipe_train "$run" --task classify --model "$model" \
                --data <(fold_fasta "$d" "$k" out) --labels "$g/test.labels.tsv" \
                --d-model "${D_MODEL:-128}" --layers "${LAYERS:-4}" \
                --batch-size "${BATCH:-64}" --lr "${LR:-2e-3}" --seed "$seed"
            recipe_eval "$run" "$run" "$d" "$seed" heldout_fold accuracy \
                --data <(fold_fasta "$d" "$k" in) --labels "$g/test.labels.tsv"
            # the held-out fold must have been read whole
            want=$(awk -v k="$k" '$2 == k' "$g/folds.tsv" | wc -l)
            got=$(json_number "$OUT/eval/$run.json" n)
            [ "$got" = "$want" ] || die "$run: evaluated $got records, fold $k holds $want"
        done
    done
done
recipe_summary
