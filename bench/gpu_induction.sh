#!/usr/bin/env bash
# bench/gpu_induction.sh — issue 15's induction heads on the GPU, in one call of ~4 minutes:
# the Mamba paper's model (2 layers, d_model 64, d_state 16) trained on synth:induction at
# L = 256 for TRAIN_MINUTES, then tested on fresh examples (seed + 1000) at every LENGTHS up to
# 1M tokens, N_TEST examples each; the same for the 2-layer attention-only Transformer up to
# TF_MAX_LEN (its attention is quadratic; it is there to show where it stops recalling).
# The recipe is bench/synth.sh's induction recipe (docs/synth.md "Induction heads: the
# numbers"): the paper's batch 8, constant learning rate 1e-3, no weight decay; the GPU only
# buys more steps in the same minutes. fp32 by default (PRECISION=bf16 for the mixed path).
#
# Environment: DEVICE (cuda), PRECISION (fp32), VOCAB (16), SEED (1), TRAIN_LEN (256),
#   TRAIN_MINUTES (1.4 per model), MODELS ("mamba transformer"), LENGTHS ("256 1024 4096 16384
#   65536 262144 1048576"), TF_MAX_LEN (16384), N_TEST (200), DEADLINE (240 s for everything).
# A smoke test here (no GPU): make gpu-bundle-induction && OUT=/tmp/gi DEVICE=cpu TRAIN_LEN=16
#   TRAIN_MINUTES=0.05 LENGTHS="16 64" N_TEST=8 bash .gpu-induction/gpu_induction.sh
# Bundle: `make gpu-bundle-induction` (.gpu-induction/: longscan and this script). On the
# device: bash .gpu-induction/gpu_induction.sh. $OUT gets summary.txt, table.md, the log (with
# every eval's JSON), and the trained models with their training logs (a few hundred KB), so
# they can be tested again on the CPU here: 7 files.
set -u
deadline=${DEADLINE:-240}
GPU_SCRIPT=$0
. "$(dirname "$0")/gpu_common.sh"
dev=${DEVICE:-cuda}
prec=${PRECISION:-fp32}
vocab=${VOCAB:-16}
seed=${SEED:-1}
test_seed=$((seed + 1000))
train_len=${TRAIN_LEN:-256}
minutes=${TRAIN_MINUTES:-1.4}
lengths=${LENGTHS:-256 1024 4096 16384 65536 262144 1048576}
tf_max=${TF_MAX_LEN:-16384}
n_test=${N_TEST:-200}
log=$out/induction.log
W=/tmp/ls-induction && rm -rf "$W" && mkdir -p "$W" # the evals' JSON (a call brings back 8 files)
recipe=(--lr 1e-3 --min-lr 1e-3 --weight-decay 0 --batch-size 8)
say "# induction heads on $dev ($prec): vocabulary $vocab, trained at L = $train_len for" \
    "$minutes min per model (${recipe[*]}), seed $seed; tests: seed $test_seed, $n_test" \
    "examples per length"
table=$out/table.md
echo "| model | steps | test L | n | accuracy (%) | eval s |" > "$table"
echo "|---|---|---|---|---|---|" >> "$table"
for model in ${MODELS:-mamba transformer}; do
    case $model in
    mamba) margs=(--model mamba --d-model 64 --layers 2 --d-state 16) ;;
    transformer) margs=(--model transformer --d-model 64 --layers 2 --heads 2 --mlp-hidden 0
                        --window "$tf_max") ;;
    *) say "## unknown model '$model'"; continue ;;
    esac
    ckpt=$out/induction-$model.safetensors
    # n: more examples than the run draws at a few ms a step (loading 1M names takes ~2 s)
    step "train $model" "$(awk -v m="$minutes" 'BEGIN { print int(m * 60 + 60) }')" "$log" \
        "$R" longscan train --task lm "${margs[@]}" "${recipe[@]}" \
        --data "synth:induction,len=$train_len,vocab=$vocab,n=1000000,seed=$seed" \
        --minutes "$minutes" --device "$dev" --precision "$prec" --seed "$seed" \
        --progress plain --print-every 1000 --log "$out/train-$model.csv" -o "$ckpt" || continue
    rm -f "${ckpt%.safetensors}.state.safetensors"
    steps=$(tail -1 "$out/train-$model.csv" | cut -d, -f1)
    say "   $model: $(grep '^trained' "$log" | tail -1 | cut -c1-160)"
    for L in $lengths; do
        if [ "$model" = transformer ] && [ "$L" -gt "$tf_max" ]; then continue; fi
        bs=$((262144 / L)); [ $bs -lt 1 ] && bs=1; [ $bs -gt "$n_test" ] && bs=$n_test
        json=$W/eval-$model-$L.json
        t0=$SECONDS
        step "eval $model L=$L" 90 "$log" "$R" longscan eval -m "$ckpt" --device "$dev" \
            --precision "$prec" --batch-size "$bs" --json -o "$json" \
            --data "synth:induction,len=$L,vocab=$vocab,n=$n_test,seed=$test_seed" || continue
        cat "$json" >> "$log"; echo >> "$log"
        acc=$(sed -n 's/.*"accuracy":\([0-9.eE+-]*\).*/\1/p' "$json")
        pct=$(awk -v a="$acc" 'BEGIN { printf "%.1f", 100 * a }')
        echo "| $model | $steps | $L | $n_test | $pct | $((SECONDS - t0)) |" >> "$table"
    done
done
cat "$table" >> "$S"
cat "$S"
