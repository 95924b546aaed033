#!/usr/bin/env bash
# examples/fsdd-digits/run.sh — spoken digits 0-9 from the raw waveform (no spectrogram):
# Free Spoken Digit Dataset, 8 kHz, ../shared/data/audio/fsdd. A bidirectional Mamba reads
# the samples in frames of FRAME samples (a linear map of each frame is its token), pooled by
# the mean; trained on the dataset's train split (takes 5-49), evaluated on its test split
# (takes 0-4, 300 files): accuracy over all 300 (longscan eval --json). Every seed of SEEDS
# runs (a headline row). The test split's speakers also speak in train; UNSEEN_SPEAKERS adds
# leave-one-speaker-out runs (train on the other five speakers, every take; test on all 500
# files of the one left out), each with the first seed. Every training batch is augmented
# (AUGMENT: speed, circular time shift, gain, noise); the final weights are evaluated, all
# 2,700 training files trained on (HOLDOUT > 0 holds out that share of them instead, by a
# hash of the file name within each digit, and evaluates the weights of the lowest loss on
# it: README.md says why that is not the default).
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
#   AUGMENT                   train --augment (default speed=10,shift=50,gain=6,noise=20;
#                             none: off)
#   DROPOUT                   train --dropout P (default: not passed)
#   HOLDOUT                   share of the training files held out for early stopping
#                             (default 0: none; the held-out files are takes of the training
#                             speakers, also in the leave-one-speaker-out runs)
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
recipe_regularisation speed=10,shift=50,gain=6,noise=20
recipe_holdout 0
recipe_budget $(( ${#seeds[@]} + ${#speakers[@]} ))
train_common=(--task classify --model "$model" --sample-rate 8000 --input waveform
              --frame "${FRAME:-40}" --d-model "${D_MODEL:-128}" --layers "${LAYERS:-4}"
              --batch-size "${BATCH:-32}" --lr "${LR:-2e-3}" "${HOLDOUT_ARGS[@]}"
              "${REG_ARGS[@]}")
# What training reads: the dataset's split as it is, or with HOLDOUT a manifest of the same
# files whose train rows have no split, so that --valid-fraction holds out HOLDOUT of them
# (the test rows stay test, never trained on). Derived manifests sit in OUT/manifests beside
# a link to the recordings (nothing copied) and name the files as split.tsv does
# (recordings/<file>.wav): the examples' names, and so the files held out (a hash of the name
# and the seed), are the same wherever DATA is.
M=$OUT/manifests
mkdir -p "$M" && ln -sfn "$F/recordings" "$M/recordings"
train_manifest=$F/split.tsv
if [ ${#HOLDOUT_ARGS[@]} -gt 0 ]; then
    train_manifest=$M/train-holdout.tsv
    awk -F'\t' -v OFS='\t' '
        /^#/ { print "#file", "label", "split"; next }
        { print $1, $2, ($3 == "train" ? "" : $3) }' "$F/split.tsv" > "$train_manifest"
fi

for seed in "${seeds[@]}"; do
    run=digits.s$seed
    recipe_train "$run" "${train_common[@]}" --data "$train_manifest" --seed "$seed"
    recipe_eval "$run" "$run" digits "$seed" test accuracy --data "$F/split.tsv" --split test
    n=$(json_number "$OUT/eval/$run.json" n)
    [ "$n" = 300 ] || die "$run: evaluated $n files, the test split holds 300"
done

# leave one speaker out: a manifest of the shared files (in OUT/manifests, as above)
for s in "${speakers[@]}"; do
    manifest=$M/unseen-$s.tsv
    awk -F'\t' -v OFS='\t' -v s="$s" \
        -v sp="$([ ${#HOLDOUT_ARGS[@]} -gt 0 ] || echo train)" '
        /^#/ { print "#file", "label", "split"; next }
        { print $1, $2, ($4 == s ? "test" : sp); if ($4 == s) n++ }
        END { if (n == 0) { print "no files of speaker " s > "/dev/stderr"; exit 1 } }' \
        "$F/split.tsv" > "$manifest" || die "UNSEEN_SPEAKERS: unknown speaker '$s'"
    seed=${seeds[0]}
    run=unseen-$s.s$seed
    recipe_train "$run" "${train_common[@]}" --data "$manifest" --seed "$seed"
    recipe_eval "$run" "$run" "unseen-$s" "$seed" "speaker-$s" accuracy \
        --data "$manifest" --split test
done
recipe_summary
