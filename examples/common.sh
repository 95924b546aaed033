# examples/common.sh — sourced by every examples/<task>/run.sh: the environment the recipes
# share, one training run, one evaluation kept as a metrics JSON, and the recipe's summary.
#
# Environment (every recipe; each run.sh lists its own on top):
#   LONGSCAN    the longscan command (default build/longscan of this checkout); may carry
#               words before the binary, e.g. LONGSCAN=".gpu/run longscan" on the GPU machine
#   DATA        the shared data folder, read in place (default ../shared/data beside the repo)
#   OUT         the recipe's output folder (default build/examples/<recipe>): models/, logs/,
#               eval/ (longscan eval --json as written), metrics/ (one JSON per run: the eval
#               object with the run's recipe, seed, parameters, time, device and commit),
#               runs.tsv (one line per run) and summary.tsv (mean and spread per row)
#   SEEDS       seeds of the recipe's headline runs (default "1 2 3"); the other runs use the
#               first of them, or all of them with ALL_SEEDS=1
#   MINUTES     the recipe's whole training budget in minutes (default 5), split evenly over
#               its training runs and given to each as `--minutes` (evaluation comes on top);
#               MINUTES_PER_RUN gives every run that budget instead
#   STEPS       optimizer steps per run instead of a time budget (smoke runs: STEPS=20)
#   DEVICE      --device for train, eval and generate (default: longscan's own choice)
#   PRECISION   --precision for train (default: longscan's own choice)
#   THREADS     --threads (default: all cores)
#   AUGMENT     `--augment LIST` for every training run (each recipe that reads it sets its
#               own default; "none" or empty: no augmentation); see `longscan train --help`
#   DROPOUT     `--dropout P` for every training run, only when set (default: not passed)
#   HOLDOUT     `--valid-fraction F` for the recipes that hold out part of their training data
#               to choose the checkpoint (each sets its own default; 0: none): they evaluate
#               the weights with the lowest loss on that held-out part (MODEL.best), never
#               choosing anything on the split they report
#   TRAIN_ARGS  extra words appended to every `longscan train` (and EVAL_ARGS to every eval)
#   GROUP_TAG   appended to every group name as ".TAG": runs of another configuration (a
#               longer budget, a wider model) then form rows of their own in the summaries
#   COMMIT      the commit to record (default: git's HEAD of this checkout, "+dirty" if the
#               tracked files differ from it)
# Every number a recipe writes comes from `longscan eval --json` over the whole evaluation
# set; nothing here computes a metric, it only copies them and takes means and spreads.

set -euo pipefail
LS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PARAM_LIMIT=10000000 # issue 14: at most 10 M parameters per model

die() { echo "examples/$RECIPE/run.sh: $*" >&2; exit 1; }
usage_error() { echo "examples/$RECIPE/run.sh: $*" >&2; exit 2; }
note() { echo "== $*"; }

# `run.sh --help` prints the comment block at the top of run.sh; any other argument is a
# usage error (recipes take their options from the environment).
recipe_args() {
    if [ $# -gt 0 ]; then
        case $1 in
        -h|--help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$0"; exit 0 ;;
        *) echo "examples/$RECIPE/run.sh: unexpected argument '$1' (options come from the" \
                "environment; see --help)" >&2; exit 2 ;;
        esac
    fi
}

# recipe_init DATA_PATH... — settle the environment (RECIPE is set by run.sh), check the
# binary and the data the recipe reads, and clear what an earlier run of the recipe left in
# OUT (with ONLY set, e.g. ONLY=plot, nothing is cleared: the recipe redoes one step).
recipe_init() {
    read -ra LS <<< "${LONGSCAN:-$LS_ROOT/build/longscan}"
    DATA=${DATA:-$LS_ROOT/../shared/data}
    OUT=${OUT:-$LS_ROOT/build/examples/$RECIPE}
    SEEDS=${SEEDS:-1 2 3}
    read -ra SEED_LIST <<< "$SEEDS"
    [ ${#SEED_LIST[@]} -gt 0 ] || die "SEEDS is empty"
    MINUTES=${MINUTES:-5}
    [ -d "$DATA" ] || die "$DATA: no such folder (set DATA to the shared data folder)"
    DATA=$(cd "$DATA" && pwd)
    "${LS[@]}" --version > /dev/null 2>&1 \
        || die "cannot run '${LS[*]}' (build it with make, or set LONGSCAN)"
    local path
    for path in "$@"; do
        [ -e "$DATA/$path" ] || die "$DATA/$path: missing (set DATA to the shared data folder)"
    done
    COMMON_ARGS=()
    [ -n "${DEVICE:-}" ] && COMMON_ARGS+=(--device "$DEVICE")
    [ -n "${THREADS:-}" ] && COMMON_ARGS+=(--threads "$THREADS")
    if [ -z "${COMMIT:-}" ]; then
        COMMIT=$(git -C "$LS_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
        if [ "$COMMIT" != unknown ] && ! git -C "$LS_ROOT" diff --quiet HEAD -- 2>/dev/null; then
            COMMIT="$COMMIT+dirty"
        fi
    fi
    MACHINE=$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)
    MACHINE="$MACHINE, $(nproc) cores"
    if [ -z "${CI:-}" ] && command -v nvidia-smi > /dev/null 2>&1; then
        local gpu
        gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 || true)
        [ -n "$gpu" ] && MACHINE="$gpu; $MACHINE"
    fi
    mkdir -p "$OUT"
    if [ -z "${ONLY:-}" ]; then
        rm -rf "$OUT/models" "$OUT/logs" "$OUT/eval" "$OUT/metrics" "$OUT/runs.tsv" \
            "$OUT/summary.tsv"
        mkdir -p "$OUT/models" "$OUT/logs" "$OUT/eval" "$OUT/metrics"
        printf '#%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' recipe group run seed \
            split metric value params train_s steps eval_s device commit > "$OUT/runs.tsv"
    fi
    note "$RECIPE: longscan '${LS[*]}', data $DATA, output $OUT, commit $COMMIT, $MACHINE"
}

# recipe_regularisation AUGMENT_DEFAULT — REG_ARGS from AUGMENT (else the recipe's default)
# and DROPOUT, for the recipe's training runs; the effective values in AUGMENT and DROPOUT.
recipe_regularisation() {
    AUGMENT=${AUGMENT-$1}
    REG_ARGS=()
    [ -n "$AUGMENT" ] && [ "$AUGMENT" != none ] && REG_ARGS+=(--augment "$AUGMENT")
    [ -n "${DROPOUT:-}" ] && REG_ARGS+=(--dropout "$DROPOUT")
    note "augment ${AUGMENT:-none}, dropout ${DROPOUT:-not set}"
}

# recipe_holdout DEFAULT — HOLDOUT_ARGS (--valid-fraction) and CHECKPOINT: with a held-out
# share of the training data, the runs are evaluated at their best checkpoint on it.
recipe_holdout() {
    HOLDOUT=${HOLDOUT-$1}
    HOLDOUT_ARGS=()
    CHECKPOINT=final
    if [ -n "$HOLDOUT" ] && awk -v h="$HOLDOUT" 'BEGIN { exit !(h > 0) }'; then
        HOLDOUT_ARGS=(--valid-fraction "$HOLDOUT")
        CHECKPOINT=best
    fi
    note "held out of train: ${HOLDOUT:-0}; evaluated: the $CHECKPOINT weights"
}

# recipe_seeds headline|other — the seeds of one run.
recipe_seeds() {
    if [ "$1" = headline ] || [ "${ALL_SEEDS:-0}" = 1 ]; then echo "${SEED_LIST[@]}"
    else echo "${SEED_LIST[0]}"; fi
}

# recipe_budget N — the budget of each of the recipe's N training runs, into BUDGET_ARGS.
recipe_budget() {
    local runs=$1
    if [ -n "${STEPS:-}" ]; then
        BUDGET_ARGS=(--steps "$STEPS")
        note "$runs training runs of $STEPS steps each"
    else
        local per=${MINUTES_PER_RUN:-}
        [ -n "$per" ] || per=$(awk -v m="$MINUTES" -v n="$runs" 'BEGIN { printf "%.3f", m / n }')
        BUDGET_ARGS=(--minutes "$per")
        note "$runs training runs of $per minutes each" \
             "(MINUTES=$MINUTES${MINUTES_PER_RUN:+, MINUTES_PER_RUN=$MINUTES_PER_RUN})"
    fi
}

# The value of a top-level number in a flat-enough JSON object (the first occurrence of
# "KEY": wins, which for longscan eval's objects is the top-level one); empty for null.
json_number() { grep -oE "\"$2\":-?[0-9][0-9.eE+-]*" "$1" | head -1 | cut -d: -f2 || true; }
json_string() {
    local s=$1
    s=${s//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\t'/\\t}; s=${s//$'\n'/\\n}
    printf '"%s"' "$s"
}
now() { date +%s.%N; }
seconds_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# recipe_train NAME TRAIN_ARGS... — train models/NAME.safetensors with the run's budget and
# the shared options; the log goes to logs/NAME.train.log (+ .csv per step) and what the
# metrics need (parameters, steps, seconds, device, command) to models/NAME.info.
recipe_train() {
    local name=$1; shift
    local model=$OUT/models/$name.safetensors log=$OUT/logs/$name.train.log
    local -a cmd=("${LS[@]}" train "$@" "${BUDGET_ARGS[@]}" "${COMMON_ARGS[@]}")
    [ -n "${PRECISION:-}" ] && cmd+=(--precision "$PRECISION")
    # shellcheck disable=SC2206 # TRAIN_ARGS is a list of words by design
    [ -n "${TRAIN_ARGS:-}" ] && cmd+=($TRAIN_ARGS)
    cmd+=(--progress plain --log "$OUT/logs/$name.csv" -o "$model")
    local t0; t0=$(now)
    if ! "${cmd[@]}" 2> "$log"; then
        tail -5 "$log" >&2
        die "training $name failed (log: $log)"
    fi
    local seconds; seconds=$(seconds_since "$t0")
    # the regularisation as passed (the recipe's, or TRAIN_ARGS'): the last of each option
    local i augment="" dropout="" holdout=""
    for ((i = 0; i + 1 < ${#cmd[@]}; i++)); do
        case ${cmd[i]} in
        --augment) augment=${cmd[i + 1]} ;;
        --dropout) dropout=${cmd[i + 1]} ;;
        --valid-fraction) holdout=${cmd[i + 1]} ;;
        esac
    done
    local params device steps peak best_step best_loss
    # parameters: the checkpoint's tensors (longscan info --tsv: one row per tensor, its numel
    # in column 5), so the count is that of the file the metrics describe
    params=$("${LS[@]}" info --tsv "$model" 2>> "$log" \
             | awk -F'\t' 'NR > 1 { n += $5 } END { if (NR > 1) print n }')
    # steps and peak GPU memory: the last row of the CSV log (step, ..., peak_gpu_gib)
    steps=$(awk -F, 'NR > 1 && $1 != "" { s = $1 } END { print s }' "$OUT/logs/$name.csv")
    peak=$(awk -F, 'NR > 1 { p = $NF } END { print p }' "$OUT/logs/$name.csv")
    # the device: the first word of the configuration table's device cell, e.g. "cpu" of
    # "cpu (auto: no GPU visible)" or "cuda:0" of "cuda:0 (NVIDIA ...), auto"
    device=$(awk -F'|' '$2 ~ /^ device / { gsub(/^ +| +$/, "", $3); split($3, w, " ");
                                           print w[1] }' "$log")
    # with a validation split: where the best checkpoint (lowest validation loss) was written
    best_step=$(sed -n 's/.*best validation loss \([0-9.]*\) at step \([0-9]*\) in .*/\2/p' "$log")
    best_loss=$(sed -n 's/.*best validation loss \([0-9.]*\) at step \([0-9]*\) in .*/\1/p' "$log")
    {
        echo "params=${params:-}"
        echo "device=${device:-}"
        echo "steps=${steps:-}"
        echo "seconds=$seconds"
        echo "peak_gpu_gib=${peak:-}"
        echo "augment=$augment"
        echo "dropout=$dropout"
        echo "holdout=$holdout"
        echo "best_step=${best_step:-}"
        echo "best_valid_loss=${best_loss:-}"
        printf 'command=%s\n' "${cmd[*]}"
    } > "$OUT/models/$name.info"
    echo "train $name: ${params:-?} parameters, ${steps:-?} steps in $seconds s on ${device:-?}${best_step:+; best held-out loss $best_loss at step $best_step}"
    if [ -n "$params" ] && [ "$params" -gt "$PARAM_LIMIT" ]; then
        echo "examples/$RECIPE/run.sh: warning: $name has $params parameters, over the" \
             "$PARAM_LIMIT of issue 14" >&2
    fi
}

info_value() { sed -n "s/^$2=//p" "$OUT/models/$1.info"; }

# recipe_eval RUN MODEL GROUP SEED SPLIT METRIC EVAL_ARGS... — evaluate models/MODEL on the
# given data (longscan eval --json over the whole set) and write metrics/RUN.json and a line
# of runs.tsv. GROUP names the summary row the run belongs to (runs of one group differ only
# in seed or fold); METRIC is the eval key the summary reports. With CHECKPOINT=best (set by
# recipe_holdout) the weights evaluated are MODEL.best.safetensors, those of the lowest loss
# on the part of train held out; the metrics record which, and at what step.
recipe_eval() {
    local run=$1 model=$2 group=$3${GROUP_TAG:+.$GROUP_TAG} seed=$4 split=$5 metric=$6; shift 6
    local eval_json=$OUT/eval/$run.json log=$OUT/logs/$run.eval.log
    local checkpoint=${CHECKPOINT:-final} file=$OUT/models/$model.safetensors
    if [ "$checkpoint" = best ]; then
        file=$OUT/models/$model.best.safetensors
        [ -s "$file" ] || die "$file: missing (the run held out no validation data?)"
    fi
    local -a cmd=("${LS[@]}" eval -m "$file" "$@" "${COMMON_ARGS[@]}")
    # shellcheck disable=SC2206
    [ -n "${EVAL_ARGS:-}" ] && cmd+=($EVAL_ARGS)
    cmd+=(--json -o "$eval_json")
    local t0; t0=$(now)
    if ! "${cmd[@]}" 2> "$log"; then
        tail -5 "$log" >&2
        die "evaluating $run failed (log: $log)"
    fi
    local eval_seconds; eval_seconds=$(seconds_since "$t0")
    local value; value=$(json_number "$eval_json" "$metric")
    [ -n "$value" ] || die "$eval_json: no number '$metric'"
    local params device steps seconds peak
    params=$(info_value "$model" params); device=$(info_value "$model" device)
    steps=$(info_value "$model" steps); seconds=$(info_value "$model" seconds)
    peak=$(info_value "$model" peak_gpu_gib)
    {
        printf '{"recipe":%s,"run":%s,"group":%s,"seed":%s,"split":%s,' \
            "$(json_string "$RECIPE")" "$(json_string "$run")" "$(json_string "$group")" \
            "$(json_string "$seed")" "$(json_string "$split")"
        printf '"metric":%s,"value":%s,"params":%s,"train_steps":%s,"train_seconds":%s,' \
            "$(json_string "$metric")" "$value" "${params:-null}" "${steps:-null}" "$seconds"
        printf '"eval_seconds":%s,"device":%s,"peak_gpu_gib":%s,"machine":%s,"commit":%s,' \
            "$eval_seconds" "$(json_string "$device")" "${peak:-null}" \
            "$(json_string "$MACHINE")" "$(json_string "$COMMIT")"
        local best_step best_loss augment dropout holdout
        best_step=$(info_value "$model" best_step); best_loss=$(info_value "$model" best_valid_loss)
        augment=$(info_value "$model" augment); dropout=$(info_value "$model" dropout)
        holdout=$(info_value "$model" holdout)
        printf '"checkpoint":%s,"best_step":%s,"best_valid_loss":%s,' \
            "$(json_string "$checkpoint")" "${best_step:-null}" "${best_loss:-null}"
        printf '"augment":%s,"dropout":%s,"holdout":%s,' \
            "$([ -n "$augment" ] && json_string "$augment" || echo null)" \
            "${dropout:-null}" "${holdout:-null}"
        # RUN_EXTRA: more "key":value pairs a recipe records with every run (e.g. encoding)
        [ -n "${RUN_EXTRA:-}" ] && printf '%s,' "$RUN_EXTRA"
        printf '"model":%s,"train_command":%s,"eval_command":%s,"eval":' \
            "$(json_string "$model")" "$(json_string "$(info_value "$model" command)")" \
            "$(json_string "${cmd[*]}")"
        cat "$eval_json"
        echo "}"
    } > "$OUT/metrics/$run.json"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$RECIPE" "$group" "$run" \
        "$seed" "$split" "$metric" "$value" "${params:-}" "$seconds" "${steps:-}" \
        "$eval_seconds" "$device" "$COMMIT" >> "$OUT/runs.tsv"
    echo "eval  $run: $metric $value ($split, $(json_number "$eval_json" n) items, $eval_seconds s)"
}

# recipe_summary — summary.tsv: per group, split and metric the number of runs, mean, sample
# standard deviation (n-1; "-" for one run), min and max, with parameters, mean training
# seconds, device and commit; printed as a table.
recipe_summary() {
    awk -F'\t' -v OFS='\t' '
        /^#/ { next }
        {
            key = $1 OFS $2 OFS $5 OFS $6
            if (!(key in n)) {
                order[++k] = key; params[key] = $8; device[key] = $12; commit[key] = $13
            }
            n[key]++; sum[key] += $7; sq[key] += $7 * $7; tsum[key] += $9
            if (n[key] == 1 || $7 < lo[key]) lo[key] = $7
            if (n[key] == 1 || $7 > hi[key]) hi[key] = $7
        }
        END {
            print "#recipe", "group", "split", "metric", "runs", "mean", "sd", "min", "max",
                  "params", "train_s", "device", "commit"
            for (i = 1; i <= k; i++) {
                key = order[i]; m = sum[key] / n[key]
                sd = "-"
                if (n[key] > 1) {
                    v = (sq[key] - n[key] * m * m) / (n[key] - 1)
                    sd = sprintf("%.4f", v > 0 ? sqrt(v) : 0)
                }
                print key, n[key], sprintf("%.4f", m), sd, sprintf("%.4f", lo[key]),
                      sprintf("%.4f", hi[key]), params[key],
                      sprintf("%.1f", tsum[key] / n[key]), device[key], commit[key]
            }
        }' "$OUT/runs.tsv" > "$OUT/summary.tsv"
    note "$RECIPE: summary ($OUT/summary.tsv)"
    if command -v column > /dev/null 2>&1; then column -t -s $'\t' "$OUT/summary.tsv"
    else cat "$OUT/summary.tsv"; fi
}

# recipe_plot NAME — run gnuplot on OUT/NAME.gp (which writes NAME.png beside it) when it is
# installed; otherwise say how to draw it later. The .dat and .gp files stay either way.
recipe_plot() {
    local name=$1
    if command -v gnuplot > /dev/null 2>&1; then
        (cd "$OUT" && gnuplot "$name.gp") || die "gnuplot failed on $OUT/$name.gp"
        echo "plot  $OUT/$name.png"
    else
        echo "plot  gnuplot is not installed: $OUT/$name.png not drawn (data and script are" \
             "in $OUT; run 'gnuplot $name.gp' there, or ONLY=plot with the same OUT)"
    fi
}
