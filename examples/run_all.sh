#!/usr/bin/env bash
# examples/run_all.sh — run several recipes one after the other (e.g. in one GPU call), each
# with its own training budget and a hard time limit, and collect what they measured:
# RESULTS/summary.tsv (every recipe's summary rows), RESULTS/status.tsv (exit status and
# seconds per recipe), RESULTS/metrics/<recipe>/*.json (every run's metrics JSON) and
# RESULTS/metrics.jsonl (the same, one line each), RESULTS/logs/<recipe>.log,
# RESULTS/results-rows.md (the summary as rows for docs/results.md) and
# RESULTS/results.tar.gz holding all of it plus each recipe's logs, evaluation windows, plots
# and generated audio.
#
#   examples/run_all.sh                              all recipes, 5 training minutes each
#   examples/run_all.sh gue fsdd-digits              these, in this order
#   BUDGETS="gue=3 great-apes=4" examples/run_all.sh gue great-apes
#   STEPS=5 D_MODEL=16 LAYERS=1 examples/run_all.sh bacteria-species     smoke run
#   examples/run_all.sh --needs gue great-apes       the data they read (to carry), and exit
#   examples/run_all.sh --list                       the recipes, and exit
# On the GPU machine (only $OUT comes back, at most 8 files):
#   GPU_BUNDLE=.gpu DATA=.data PACK_TO=$OUT examples/run_all.sh gue fsdd-digits
#
# Environment (everything else, e.g. SEEDS, DEVICE, PRECISION, STEPS, THREADS, D_MODEL, is
# passed on to every recipe; see examples/common.sh and each run.sh --help):
#   BUDGET_MINUTES  each recipe's training budget, its MINUTES (default 5)
#   BUDGETS         per-recipe budgets overriding it, "recipe=minutes ..."
#   RECIPE_TIMEOUT  seconds after which a recipe is stopped (default 2 x its budget + 180;
#                   evaluation and generation come on top of the training budget)
#   WORK            the recipes' output folders are WORK/<recipe> (default build/examples)
#   RESULTS         the collection (default build/examples/results)
#   PACK_TO         also write summary.tsv, status.tsv, metrics.jsonl and results.tar.gz
#                   there, after every recipe (so a call cut short still returns them), and
#                   results-rows.md at the end
#   KEEP_MODELS     recipes whose trained models go into the tarball (default fsdd-lm: its
#                   models can generate audio later, ONLY=generate)
#   GPU_BUNDLE      a bundle made by `make gpu-bundle` (e.g. .gpu): its gzipped binaries and
#                   libraries are unpacked as bench/gpu.sh does, LONGSCAN becomes
#                   "GPU_BUNDLE/run longscan" and COMMIT the bundle's COMMIT file
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
all="gue genomic-benchmarks great-apes bacteria-species fsdd-digits fsdd-lm chr20-lm"
declare -A needs=(
    [gue]=dna/gue [genomic-benchmarks]=dna/gb-test-splits [great-apes]=dna/great-apes-chr22
    [bacteria-species]=dna/bacteria-species [fsdd-digits]=audio/fsdd [fsdd-lm]=audio/fsdd
    [chr20-lm]=dna/human-grch37-chr20)

case ${1:-} in
-h|--help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
--list) for r in $all; do echo "$r	${needs[$r]}"; done; exit 0 ;;
--needs)
    shift
    [ $# -gt 0 ] || set -- $all
    data=${DATA:-$root/../shared/data}
    for r in "$@"; do
        [ -n "${needs[$r]:-}" ] || { echo "examples/run_all.sh: unknown recipe '$r'" >&2; exit 2; }
    done
    folders=$(for r in "$@"; do echo "${needs[$r]}"; done | sort -u)
    (cd "$data" && du -cshL --apparent-size $folders) || exit 1
    exit 0 ;;
esac
if [ -n "${GPU_BUNDLE:-}" ]; then
    G=$(cd "$GPU_BUNDLE" && pwd) || exit 1
    zlib=/tmp/run-all-libz && mkdir -p "$zlib"
    for f in "$G"/libz/*.gz; do [ -e "$f" ] && gunzip -c "$f" > "$zlib/$(basename "$f" .gz)"; done
    for f in "$G"/bin/*.gz; do [ -e "$f" ] && gunzip -f "$f" && chmod +x "${f%.gz}"; done
    export LD_LIBRARY_PATH="$zlib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    export LONGSCAN="$G/run longscan"
    if [ -z "${COMMIT:-}" ] && [ -e "$G/COMMIT" ]; then
        COMMIT=$(tr -d '\n' < "$G/COMMIT") && export COMMIT
    fi
fi
recipes=("$@"); [ $# -gt 0 ] || read -ra recipes <<< "$all"
for r in "${recipes[@]}"; do
    if [ -z "${needs[$r]:-}" ]; then
        echo "examples/run_all.sh: unknown recipe '$r' (recipes: $all)" >&2; exit 2
    fi
done
work=${WORK:-$root/build/examples}
results=${RESULTS:-$root/build/examples/results}
rm -rf "$results"
mkdir -p "$results/metrics" "$results/logs" "$work"
printf '#recipe\tstatus\tseconds\tbudget_min\n' > "$results/status.tsv"
: > "$results/metrics.jsonl"
summary_header=0

budget_of() {
    local kv
    for kv in ${BUDGETS:-}; do
        [ "${kv%%=*}" = "$1" ] && { echo "${kv#*=}"; return; }
    done
    echo "${BUDGET_MINUTES:-5}"
}

pack() {
    local r files=()
    for r in "${recipes[@]}"; do
        [ -d "$work/$r" ] || continue
        files+=($(cd "$work" && find "$r" -maxdepth 1 \( -name '*.tsv' -o -name '*.dat' \
                  -o -name '*.gp' -o -name '*.png' \) -print))
        for sub in metrics eval logs media; do
            [ -d "$work/$r/$sub" ] && files+=("$r/$sub")
        done
        files+=($(cd "$work" && find "$r/models" -name '*.info' -print 2>/dev/null))
        case " ${KEEP_MODELS:-fsdd-lm} " in
        *" $r "*) files+=($(cd "$work" && find "$r/models" -name '*.safetensors' \
                            ! -name '*.state.safetensors' ! -name '*.best.safetensors' \
                            -print 2>/dev/null)) ;;
        esac
    done
    tar -czf "$results/results.tar.gz.tmp" -C "$work" "${files[@]}" \
        -C "$results" summary.tsv status.tsv metrics.jsonl 2>/dev/null \
        && mv "$results/results.tar.gz.tmp" "$results/results.tar.gz"
    if [ -n "${PACK_TO:-}" ]; then
        mkdir -p "$PACK_TO"
        cp "$results/summary.tsv" "$results/status.tsv" "$results/metrics.jsonl" \
           "$results/results.tar.gz" "$PACK_TO/" 2>/dev/null
    fi
}

failed=0
for r in "${recipes[@]}"; do
    budget=$(budget_of "$r")
    limit=${RECIPE_TIMEOUT:-$(awk -v b="$budget" 'BEGIN { printf "%d", 2 * b * 60 + 180 }')}
    echo "=== $r: budget $budget min, stopped after $limit s"
    t0=$SECONDS
    # nothing of an earlier run may be collected as this one's
    rm -rf "$work/$r/metrics" "$work/$r/runs.tsv" "$work/$r/summary.tsv"
    OUT=$work/$r MINUTES=$budget timeout -k 30 "$limit" bash "$here/$r/run.sh" 2>&1 \
        | tee "$results/logs/$r.log"
    rc=${PIPESTATUS[0]}
    [ "$rc" = 124 ] && echo "=== $r: stopped at its time limit ($limit s)"
    [ "$rc" = 0 ] || failed=$((failed + 1))
    printf '%s\t%s\t%s\t%s\n' "$r" "$rc" "$((SECONDS - t0))" "$budget" >> "$results/status.tsv"
    if [ -d "$work/$r/metrics" ]; then
        mkdir -p "$results/metrics/$r"
        for j in "$work/$r"/metrics/*.json; do
            [ -e "$j" ] || continue
            cp "$j" "$results/metrics/$r/"
            tr -d '\n' < "$j" >> "$results/metrics.jsonl"; echo >> "$results/metrics.jsonl"
        done
    fi
    # a recipe stopped part-way has no summary yet: make it from the runs it finished
    if [ ! -s "$work/$r/summary.tsv" ] \
       && [ "$(grep -vc '^#' "$work/$r/runs.tsv" 2>/dev/null)" -gt 0 ]; then
        (RECIPE=$r OUT=$work/$r; source "$here/common.sh"; recipe_summary > /dev/null)
    fi
    if [ -s "$work/$r/summary.tsv" ]; then
        if [ $summary_header = 0 ]; then
            head -1 "$work/$r/summary.tsv" > "$results/summary.tsv"; summary_header=1
        fi
        tail -n +2 "$work/$r/summary.tsv" >> "$results/summary.tsv"
    fi
    [ -e "$results/summary.tsv" ] || : > "$results/summary.tsv"
    pack
done
# the rows for docs/results.md, as measured (mean ± sample sd over the runs of a row)
awk -F'\t' '
    NR == 1 { print "| recipe | row | metric (split) | ours: mean ± sd (runs) | params |" \
                    " train s (mean) | device | commit |"
              print "|---|---|---|---|---:|---:|---|---|"; next }
    { sd = ($7 == "-") ? "" : " ± " $7
      printf "| %s | %s | %s (%s) | %s%s (%s) | %s | %s | %s | %s |\n",
             $1, $2, $4, $3, $6, sd, $5, $10, $11, $12, $13 }
' "$results/summary.tsv" > "$results/results-rows.md"
[ -n "${PACK_TO:-}" ] && cp "$results/results-rows.md" "$PACK_TO/"
echo "=== status ($results/status.tsv)"
column -t -s $'\t' "$results/status.tsv" 2>/dev/null || cat "$results/status.tsv"
echo "=== summary ($results/summary.tsv)"
column -t -s $'\t' "$results/summary.tsv" 2>/dev/null || cat "$results/summary.tsv"
[ "$failed" = 0 ]
