#!/usr/bin/env bash
# examples/fsdd-digits/run.sh — spoken digits 0-9 from the raw waveform (no spectrogram):
# Free Spoken Digit Dataset, 8 kHz, ../shared/data/audio/fsdd. A bidirectional Mamba reads
# the samples in frames of FRAME samples (a linear map of each frame is its token), pooled by
# the mean; trained on the dataset's train split (takes 5-49), evaluated on its test split
# (takes 0-4, 300 files): accuracy over all 300 (longscan eval --json). Every seed of SEEDS
# runs (a headline row). The test split's speakers also speak in train; UNSEEN_SPEAKERS adds
# leave-one-speaker-out runs (train on the other five speakers, every take; test on all 500
# files of the one left out), each with the first seed.
#
#   examples/fsdd-digits/run.sh                        3 seeds, 5 training minutes
#   UNSEEN_SPEAKERS="george jackson lucas nicolas theo yweweler" examples/fsdd-digits/run.sh
#   STEPS=5 D_MODEL=16 LAYERS=1 SEEDS=1 examples/fsdd-digits/run.sh      smoke run
#
# Environment, besides examples/common.sh's (LONGSCAN DATA OUT SEEDS ALL_SEEDS MINUTES
# MINUTES_PER_RUN STEPS DEVICE PRECISION THREADS TRAIN_ARGS EVAL_ARGS COMMIT):
#   UNSEEN_SPEAKERS           speakers to hold out one at a time (default none)
#   FRAME                     samples per frame (default 40, 5 ms)
#   MODEL                     bimamba (default), mamba or transformer
#   D_MODEL LAYERS BATCH LR   (default 128, 4, 32, 2e-3)
# Output (OUT, default build/examples/fsdd-digits): metrics/digits.s<seed>.json and
# metrics/unseen-<speaker>.s<seed>.json, runs.tsv, summary.tsv (metric = accuracy on test,
# or on the held-out speaker).
RECIPE=fsdd-digits
source "$(dirname "$0")/../common.sh"
recipe_args "$@"
recipe_init audio/fsdd/split.tsv
F=$DATA/audio/fsdd
model=${MODEL:-bimamba}
read -ra speakers <<< "${UNSEEN_SPEAKERS:-}"
seeds=($(recipe_seeds headline))
recipe_budget $(( ${#seeds[@]} + ${#speakers[@]} ))
train_common=(--task classify --model "$model" --sample-rate 8000 --input waveform
              --frame "${FRAME:-40}" --d-model "${D_MODEL:-128}" --layers "${LAYERS:-4}"
              --batch-size "${BATCH:-32}" --lr "${LR:-2e-3}")

for seed in "${seeds[@]}"; do
    run=digits.s$seed
    recipe_train "$run" "${train_common[@]}" --data "$F/split.tsv" --seed "$seed"
    recipe_eval "$run" "$run" digits "$seed" test accuracy --data "$F/split.tsv" --split test
    n=$(json_number "$OUT/eval/$run.json" n)
    [ "$n" = 300 ] || die "$run: evaluated $n files, the test split holds 300"
done

# leave one speaker out: a manifest of the shared files (absolute paths, nothing copied)
for s in "${speakers[@]}"; do
    manifest=$OUT/unseen-$s.tsv
    awk -F'\t' -v OFS='\t' -v s="$s" -v dir="$F" '
        /^#/ { print "#file", "label", "split"; next }
        { print dir "/" $1, $2, ($4 == s ? "test" : "train"); if ($4 == s) n++ }
        END { if (n == 0) { print "no files of speaker " s > "/dev/stderr"; exit 1 } }' \
        "$F/split.tsv" > "$manifest" || die "UNSEEN_SPEAKERS: unknown speaker '$s'"
    seed=${seeds[0]}
    run=unseen-$s.s$seed
    recipe_train "$run" "${train_common[@]}" --data "$manifest" --seed "$seed"
    recipe_eval "$run" "$run" "unseen-$s" "$seed" "speaker-$s" accuracy \
        --data "$manifest" --split test
done
recipe_summary
