#!/usr/bin/env bash
# bench/gpu_induction.sh — issue 15's induction heads on the GPU, in one call of ~4 minutes:
# the Mamba paper's model (2 layers, d_model 64, d_state 16) trained on synth:induction and
# tested on fresh examples (seed + 1000) at every LENGTHS up to 1M tokens, N_TEST each.
# Three runs, in order of importance (later ones are skipped past DEADLINE):
#   mamba        the CPU recipe of bench/synth.sh (docs/synth.md "Induction heads: the
#                numbers"): L 256 with as many examples at L 64, STEPS steps of the paper's
#                optimizer (batch 8, constant learning rate 1e-3, no weight decay)
#   mamba256     the paper's training exactly: L 256 alone, the same optimizer, for
#                PURE_MINUTES (the GPU buys the steps the CPU cannot: the paper trained
#                204,800; on the CPU none had formed the circuit after 4,300)
#   transformer  the 2-layer attention-only Transformer, the CPU recipe, tested up to
#                TF_MAX_LEN (its attention is quadratic; it shows where it stops recalling)
# fp32 by default (PRECISION=bf16 for the mixed path).
#
# Environment: DEVICE (cuda), PRECISION (fp32), VOCAB (16), SEED (1), BATCH (8: the paper's;
#   the GPU is launch-bound at this size, so a larger batch costs about the same per step),
#   TRAIN_LEN (256),
#   MIX_LEN (64), STEPS (8000), PURE_MINUTES (1.5), RUNS ("mamba mamba256 transformer"),
#   LENGTHS ("256 1024 4096 16384 65536 262144 1048576"), TF_MAX_LEN (65536), N_TEST (200),
#   DEADLINE (240 s for everything).
# A smoke test here (no GPU): make gpu-bundle-induction && OUT=/tmp/gi DEVICE=cpu TRAIN_LEN=16
#   MIX_LEN=8 STEPS=20 PURE_MINUTES=0.1 LENGTHS="16 64" N_TEST=8 bash .gpu-induction/gpu_induction.sh
# Bundle: `make gpu-bundle-induction` (.gpu-induction/: longscan and this script). On the
# device: bash .gpu-induction/gpu_induction.sh. $OUT gets summary.txt (with the table), the
# log (with every eval's JSON), and each trained model with its training log (a few hundred
# KB each), to be tested again on the CPU here: 8 files.
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
mix_len=${MIX_LEN:-64}
steps=${STEPS:-8000}
pure_minutes=${PURE_MINUTES:-1.5}
lengths=${LENGTHS:-256 1024 4096 16384 65536 262144 1048576}
tf_max=${TF_MAX_LEN:-65536}
n_test=${N_TEST:-200}
log=$out/induction.log
W=/tmp/ls-induction && rm -rf "$W" && mkdir -p "$W" # the evals' JSON (a call brings back 8 files)
optim=(--batch-size "${BATCH:-8}" --lr 1e-3 --min-lr 1e-3 --weight-decay 0)
# more examples than a run draws (loading 1M example names takes ~2 s)
data_main="synth:induction,len=$train_len,vocab=$vocab,n=1000000,seed=$seed"
data_mix="synth:induction,len=$mix_len,vocab=$vocab,n=1000000,seed=$seed"
mamba=(--model mamba --d-model 64 --layers 2 --d-state 16)
say "# induction heads on $dev ($prec): vocabulary $vocab, seed $seed, ${optim[*]};" \
    "tests: seed $test_seed, $n_test examples per length"
table=$W/table.md
echo "| run | training | steps | test L | n | accuracy (%) | eval s |" > "$table"
echo "|---|---|---|---|---|---|---|" >> "$table"
for run in ${RUNS:-mamba mamba256 transformer}; do
    case $run in
    # --steps with --minutes: the minutes cap the run (it stops there, saved), so a GPU slower
    # than hoped still leaves time for the tests
    mamba) margs=("${mamba[@]}" --data "$data_main" --data "$data_mix" --steps "$steps"
                  --minutes 1.2)
           what="L $train_len + $mix_len, $steps steps"; timeout_s=110 ;;
    mamba256) margs=("${mamba[@]}" --data "$data_main" --minutes "$pure_minutes")
              what="L $train_len alone, $pure_minutes min"
              timeout_s=$(awk -v m="$pure_minutes" 'BEGIN { print int(m * 60 + 30) }') ;;
    transformer) margs=(--model transformer --d-model 64 --layers 2 --heads 2 --mlp-hidden 0
                        --window "$tf_max" --data "$data_main" --data "$data_mix"
                        --steps "$steps" --minutes 0.8)
                 what="L $train_len + $mix_len, $steps steps"; timeout_s=80 ;;
    *) say "## unknown run '$run'"; continue ;;
    esac
    ckpt=$out/induction-$run.safetensors
    step "train $run ($what)" "$timeout_s" "$log" "$R" longscan train --task lm "${margs[@]}" \
        "${optim[@]}" --device "$dev" --precision "$prec" --seed "$seed" --progress plain \
        --print-every 1000 --log "$out/train-$run.csv" -o "$ckpt" || continue
    rm -f "${ckpt%.safetensors}.state.safetensors"
    done_steps=$(tail -1 "$out/train-$run.csv" | cut -d, -f1)
    say "   $run: $(grep '^trained' "$log" | tail -1 | cut -c1-160)"
    for L in $lengths; do
        if [ "$run" = transformer ] && [ "$L" -gt "$tf_max" ]; then continue; fi
        bs=$((262144 / L)); [ $bs -lt 1 ] && bs=1; [ $bs -gt "$n_test" ] && bs=$n_test
        json=$W/eval-$run-$L.json
        t0=$SECONDS
        step "eval $run L=$L" 90 "$log" "$R" longscan eval -m "$ckpt" --device "$dev" \
            --precision "$prec" --batch-size "$bs" --json -o "$json" \
            --data "synth:induction,len=$L,vocab=$vocab,n=$n_test,seed=$test_seed" || continue
        cat "$json" >> "$log"; echo >> "$log"
        acc=$(sed -n 's/.*"accuracy":\([0-9.eE+-]*\).*/\1/p' "$json")
        pct=$(awk -v a="$acc" 'BEGIN { printf "%.1f", 100 * a }')
        echo "| $run | $what | $done_steps | $L | $n_test | $pct | $((SECONDS - t0)) |" \
            >> "$table"
    done
done
cat "$table" >> "$S"
cat "$S"
