#!/usr/bin/env bash
# examples/chr20-lm/run.sh — next-base language model on human chromosome 20 (GRCh37,
# ../shared/data/dna/human-grch37-chr20): perplexity against context length. One causal Mamba
# per context L (1K, 16K, 1M bases), same size and budget, trained on random windows of L of
# the chromosome before 56 Mb (the four N-free stretches 60,001-26,319,569,
# 29,419,570-29,653,908, 29,803,909-34,897,085, 34,947,086-56,000,000), evaluated on the
# held-out region 20:56,000,001-60,194,304 (4 Mb = 4 × 2^20, no N), cut into non-overlapping
# windows of L: every base is predicted from the bases before it in its window, so a model
# of context L sees on average L/2 bases of context; the scored bases are the same for every
# L but the first of each window (longscan eval --json: bits per base, perplexity 2^bits).
# The claim under test: Mamba's perplexity falls as the context grows. A gnuplot plot of
# perplexity against context is drawn when gnuplot is installed.
#
#   examples/chr20-lm/run.sh                               1K, 16K, 1M; 5 training minutes
#   CONTEXTS="256 1024" EVAL_BP=16384 STEPS=5 D_MODEL=16 LAYERS=1 TOKENS=8192 \
#       examples/chr20-lm/run.sh                            smoke run
#   ONLY=plot examples/chr20-lm/run.sh                     redraw the plot from OUT
#
# Environment, besides examples/common.sh's (LONGSCAN DATA OUT SEEDS ALL_SEEDS MINUTES
# MINUTES_PER_RUN STEPS DEVICE PRECISION THREADS TRAIN_ARGS EVAL_ARGS COMMIT):
#   CONTEXTS            context lengths (default 1024 16384 1048576)
#   EVAL_BP             held-out bases from 56,000,001 (default 4194304; a multiple of every
#                       context, at most 5,091,436 so that it holds no N)
#   TOKENS              training tokens per step: batch = max(1, TOKENS / L) (default 262144)
#   EVAL_TOKENS         tokens per evaluation pass (default 1048576)
#   D_MODEL LAYERS LR   (default 128, 4, 2e-3)
# Seeds: the first of SEEDS (all with ALL_SEEDS=1).
# Output (OUT, default build/examples/chr20-lm): metrics/mamba.L<L>.s<seed>.json, runs.tsv,
# summary.tsv (group = mamba.L<L>, metric = perplexity on the held-out region),
# perplexity.dat/.gp/.png.
RECIPE=chr20-lm
source "$(dirname "$0")/../common.sh"
recipe_args "$@"
case ${ONLY:-} in ""|plot) ;; *) usage_error "ONLY must be plot" ;; esac
recipe_init dna/human-grch37-chr20/chr20.fa.gz dna/human-grch37-chr20/chr20.fa.gz.fai
C=$DATA/dna/human-grch37-chr20/chr20.fa.gz
read -ra contexts <<< "${CONTEXTS:-1024 16384 1048576}"
eval_bp=${EVAL_BP:-4194304}
tokens=${TOKENS:-262144}
# the first N run after 56 Mb starts at 61,091,437 (0-based): README's table
[ "$eval_bp" -ge 1 ] && [ "$eval_bp" -le 5091436 ] || die "EVAL_BP=$eval_bp: must be 1..5091436"
for L in "${contexts[@]}"; do
    [ $((eval_bp % L)) = 0 ] || die "EVAL_BP=$eval_bp is not a multiple of the context $L"
done
held_out="20:56000001-$((56000000 + eval_bp))"
train_regions=(--data "$C:20:60001-26319569" --data "$C:20:29419570-29653908"
               --data "$C:20:29803909-34897085" --data "$C:20:34947086-56000000")

if [ -z "${ONLY:-}" ]; then
    seeds=($(recipe_seeds other))
    recipe_budget $(( ${#contexts[@]} * ${#seeds[@]} ))
    RUN_EXTRA="\"held_out\":$(json_string "$held_out")"
    for L in "${contexts[@]}"; do
        b=$((tokens / L)); b=$((b < 1 ? 1 : b))
        eb=$(( ${EVAL_TOKENS:-1048576} / L )); eb=$((eb < 1 ? 1 : eb > 64 ? 64 : eb))
        for seed in "${seeds[@]}"; do
            run=mamba.L$L.s$seed
            recipe_train "$run" --task lm --model mamba "${train_regions[@]}" --seq-len "$L" \
                --d-model "${D_MODEL:-128}" --layers "${LAYERS:-4}" --batch-size "$b" \
                --lr "${LR:-2e-3}" --seed "$seed"
            recipe_eval "$run" "$run" "mamba.L$L" "$seed" "$held_out" perplexity \
                --data "$C:$held_out" --seq-len "$L" --batch-size "$eb"
            scored=$(json_number "$OUT/eval/$run.json" tokens)
            [ "$scored" = $((eval_bp - eval_bp / L)) ] \
                || die "$run: scored $scored bases, expected $((eval_bp - eval_bp / L))"
        done
    done
    unset RUN_EXTRA
    recipe_summary
fi

# perplexity against context (means over seeds), from summary.tsv
[ -s "$OUT/summary.tsv" ] || die "$OUT/summary.tsv: missing (run the recipe without ONLY first)"
awk -F'\t' '!/^#/ { sub(/^mamba\.L/, "", $2); print $2, $6, $8, $9 }' "$OUT/summary.tsv" \
    | sort -n > "$OUT/perplexity.dat"
cat > "$OUT/perplexity.gp" <<'GP'
set terminal pngcairo size 800,500
set output 'perplexity.png'
set title 'human chr20 (GRCh37) next-base LM: held-out perplexity against context'
set offsets graph 0.05, graph 0.05, graph 0.05, graph 0.05; set pointsize 1.5
set logscale x 2; set format x '2^{%L}'; set xlabel 'context length (bases)'
set ylabel 'perplexity (per base)'; set grid; set key right top
plot 'perplexity.dat' using 1:2:3:4 with yerrorlines title 'Mamba (mean; bars: min-max over seeds)'
GP
recipe_plot perplexity
