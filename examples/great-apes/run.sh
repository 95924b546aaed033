#!/usr/bin/env bash
# examples/great-apes/run.sh — which great ape is this DNA from (human, chimpanzee, gorilla,
# orangutan; chance 25 %), from homologous chr22 DNA in ../shared/data/dna/great-apes-chr22:
# accuracy against the window length (1K, 16K, 256K, 1M bases) for a bidirectional Mamba, a
# causal Mamba and a Transformer, each trained on random windows of the train records
# (species drawn uniformly), evaluated on evenly spaced, overlapping windows of the dev
# records: EVAL_WINDOWS windows of each species' dev record (about 2.16 Mb), the first at its
# start, the last at its end (so at 1M they overlap by about 93 %), chosen by longscan eval
# (--seq-len L --stride L/16 --max-windows EVAL_WINDOWS). Input is upper-cased
# (longscan's default soft-mask rule), so the species' own repeat masking is no clue.
# The Transformer reads at most TRANSFORMER_WINDOW bases: it is trained at min(L, window), and
# for longer L the model trained at its window is evaluated on the centre window of each
# L-window — its curve stops rising there, by construction.
# Headline: the bidirectional Mamba at the longest length runs every seed of SEEDS; the other
# runs the first seed (all with ALL_SEEDS=1). The final weights are evaluated.
#
#   examples/great-apes/run.sh                             the sweep, 5 training minutes
#   LENGTHS=1048576 MODELS=bimamba MINUTES=5 examples/great-apes/run.sh   the headline alone
#   LENGTHS="1024 4096" STEPS=5 D_MODEL=16 LAYERS=1 TOKENS=8192 EVAL_WINDOWS=4 \
#       examples/great-apes/run.sh                          smoke run
#
# Environment, besides examples/common.sh's (LONGSCAN DATA OUT SEEDS ALL_SEEDS MINUTES
# MINUTES_PER_RUN STEPS DEVICE PRECISION THREADS TRAIN_ARGS EVAL_ARGS COMMIT):
#   LENGTHS             window lengths (default 1024 16384 262144 1048576)
#   MODELS              any of bimamba mamba transformer (default all three)
#   TRANSFORMER_WINDOW  the Transformer's window (default 16384)
#   TOKENS              training tokens per step: batch = max(1, TOKENS / L) (default 131072)
#   EVAL_WINDOWS        dev windows per species (default 256 at L <= 1K, 64 at <= 16K,
#                       32 at <= 256K, 16 above)
#   EVAL_TOKENS         tokens per evaluation pass: batch = max(1, EVAL_TOKENS / L), at most
#                       64 (default 1048576)
#   D_MODEL LAYERS LR   (default 128, 4, 2e-3)
# Output (OUT, default build/examples/great-apes): metrics/<model>.L<L>.s<seed>.json, runs.tsv,
# summary.tsv (group = <model>.L<L>, metric = accuracy on dev), accuracy.dat/.gp/.png.
RECIPE=great-apes
source "$(dirname "$0")/../common.sh"
recipe_args "$@"
recipe_init dna/great-apes-chr22/train/labels.tsv dna/great-apes-chr22/dev/labels.tsv
A=$DATA/dna/great-apes-chr22
read -ra lengths <<< "${LENGTHS:-1024 16384 262144 1048576}"
read -ra models <<< "${MODELS:-bimamba mamba transformer}"
tw=${TRANSFORMER_WINDOW:-16384}
tokens=${TOKENS:-131072}
for m in "${models[@]}"; do
    case $m in bimamba|mamba|transformer) ;; *) usage_error "MODELS: unknown model '$m'" ;; esac
done
longest=0; for L in "${lengths[@]}"; do [ "$L" -gt "$longest" ] && longest=$L; done

batch_for() { local b=$((tokens / $1)); echo $((b < 1 ? 1 : b)); }
eval_windows_for() {
    if [ -n "${EVAL_WINDOWS:-}" ]; then echo "$EVAL_WINDOWS"
    elif [ "$1" -le 1024 ]; then echo 256
    elif [ "$1" -le 16384 ]; then echo 64
    elif [ "$1" -le 262144 ]; then echo 32
    else echo 16; fi
}
is_headline() { [ "$1" = bimamba ] && [ "$2" -eq "$longest" ]; }

# The training runs: every Mamba model at every length; the Transformer at each distinct
# min(L, window).
train_names=() train_args=()
plan_train() { train_names+=("$1"); train_args+=("$2"); }
for m in "${models[@]}"; do
    if [ "$m" = transformer ]; then
        done_w=" "
        for L in "${lengths[@]}"; do
            W=$((L < tw ? L : tw))
            case $done_w in *" $W "*) continue ;; esac
            done_w="$done_w$W "
            for seed in $(recipe_seeds other); do
                plan_train "transformer.W$W.s$seed" "transformer $W $W $seed"
            done
        done
    else
        for L in "${lengths[@]}"; do
            kind=other; is_headline "$m" "$L" && kind=headline
            for seed in $(recipe_seeds $kind); do plan_train "$m.L$L.s$seed" "$m $L 0 $seed"; done
        done
    fi
done
recipe_budget ${#train_names[@]}
for i in "${!train_names[@]}"; do
    read -r m L W seed <<< "${train_args[$i]}"
    extra=(); [ "$m" = transformer ] && extra=(--window "$W")
    recipe_train "${train_names[$i]}" --task classify --model "$m" \
        --data "$A/train" --labels "$A/train/labels.tsv" --softmask upper \
        --seq-len "$L" --balanced \
        --d-model "${D_MODEL:-128}" --layers "${LAYERS:-4}" --batch-size "$(batch_for "$L")" \
        --lr "${LR:-2e-3}" --seed "$seed" "${extra[@]}"
done

for L in "${lengths[@]}"; do
    # windows start every L/16 bases of each dev record; of those, EVAL_WINDOWS evenly spread
    # from the record's start to its end (longscan eval --stride, --max-windows)
    stride=$((L / 16 > 0 ? L / 16 : 1))
    eb=$(( ${EVAL_TOKENS:-1048576} / L )); eb=$((eb < 1 ? 1 : eb > 64 ? 64 : eb))
    for m in "${models[@]}"; do
        kind=other; is_headline "$m" "$L" && kind=headline
        [ "$m" = transformer ] && kind=other
        for seed in $(recipe_seeds $kind); do
            if [ "$m" = transformer ]; then model=transformer.W$((L < tw ? L : tw)).s$seed
            else model=$m.L$L.s$seed; fi
            recipe_eval "$m.L$L.s$seed" "$model" "$m.L$L" "$seed" dev accuracy \
                --data "$A/dev" --labels "$A/dev/labels.tsv" --seq-len "$L" \
                --stride "$stride" --max-windows "$(eval_windows_for "$L")" --batch-size "$eb"
        done
    done
done
recipe_summary

# accuracy against window length, one line per model (means over seeds)
awk -F'\t' '!/^#/ { split($2, g, ".L"); print g[1], substr(g[2], 1), $6 }' "$OUT/summary.tsv" \
    | sort -k1,1 -k2,2n > "$OUT/accuracy.dat"
{
    echo "set terminal pngcairo size 800,500"
    echo "set output 'accuracy.png'"
    echo "set title 'great apes (chr22, 4 species): dev accuracy against window length'"
    echo "set logscale x 2; set format x '2^{%L}'; set xlabel 'window (bases)'"
    echo "set ylabel 'accuracy'; set yrange [0:1]; set key left top; set grid"
    echo "plot 0.25 title 'chance' dashtype 2 lc rgb 'gray', \\"
    first=1
    for m in "${models[@]}"; do
        [ $first = 1 ] || echo ", \\"
        printf "  'accuracy.dat' using (strcol(1) eq '%s' ? \$2 : NaN):3" "$m"
        printf " with linespoints title '%s'" "$m"
        first=0
    done
    echo
} > "$OUT/accuracy.gp"
recipe_plot accuracy
