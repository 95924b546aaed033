#!/usr/bin/env bash
# test_examples.sh — the result recipes of examples/ (issue 14), TAP output. Without
# ../shared: every script parses (bash -n) and answers --help; bad arguments and a missing
# data folder fail clearly; tools/spectrogram finds a 1 kHz sine in the 1 kHz bin; and the
# bacteria-species, great-apes and run_all.sh scripts run end to end with a few steps of a
# tiny model on the data shipped in examples/data, laid out as ../shared/data lays it out
# (symbolic links, nothing copied): the metrics JSONs, the summary, the evaluation windows and
# the collection are checked against what the recipes promise. Numbers are not judged here —
# two training steps learn nothing; the recipes' results are measured by running them
# (docs/results.md).
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${LS_BUILD:-$root/build}
export LONGSCAN=${LONGSCAN:-$build/longscan}
export SPECTROGRAM=$build/tools/spectrogram
EX=$root/examples/data
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-exitcode=86:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-exitcode=87:halt_on_error=1:print_stacktrace=1}
# tiny, quick and the same everywhere; the recipes' own options come from the environment
export STEPS=2 D_MODEL=8 LAYERS=1 THREADS=1 COMMIT=test
unset DEVICE PRECISION MINUTES MINUTES_PER_RUN SEEDS ALL_SEEDS TRAIN_ARGS EVAL_ARGS OUT ONLY

n=0; failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() {
    n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; shift
    for f in "$@"; do [ -e "$f" ] && tail -20 "$f" | sed 's/^/# /'; done
}
check() { # name command... : the command must succeed
    local name=$1; shift
    if "$@" > "$TMP/out" 2> "$TMP/err"; then ok "$name"; else not_ok "$name" "$TMP/out" "$TMP/err"; fi
}
num() { grep -oE "\"$2\":-?[0-9][0-9.eE+-]*" "$1" | head -1 | cut -d: -f2; }

recipes=(gue genomic-benchmarks great-apes bacteria-species fsdd-digits fsdd-lm chr20-lm)

# ---------------------------------------------------------------------------- every script
for r in "${recipes[@]}"; do
    check "$r/run.sh parses" bash -n "$root/examples/$r/run.sh"
    if bash "$root/examples/$r/run.sh" --help > "$TMP/out" 2>&1 \
       && head -1 "$TMP/out" | grep -q "^examples/$r/run.sh — " && grep -q "^Environment" "$TMP/out"
    then ok "$r/run.sh --help"; else not_ok "$r/run.sh --help" "$TMP/out"; fi
done
check "common.sh and run_all.sh parse" bash -n "$root/examples/common.sh" "$root/examples/run_all.sh"
check "run_all.sh --list names every recipe" \
    bash -c "[ \"\$(bash '$root/examples/run_all.sh' --list | cut -f1 | sort | tr '\n' ' ')\" = \
              \"$(printf '%s\n' "${recipes[@]}" | sort | tr '\n' ' ')\" ]"

# ---------------------------------------------------------------------------- bad use
bash "$root/examples/gue/run.sh" --steps 3 > "$TMP/out" 2> "$TMP/err"
if [ $? = 2 ] && grep -q "unexpected argument '--steps'" "$TMP/err"; then ok "an argument is a usage error (exit 2)"
else not_ok "an argument is a usage error (exit 2)" "$TMP/err"; fi
DATA=$TMP/nowhere bash "$root/examples/chr20-lm/run.sh" > "$TMP/out" 2> "$TMP/err"
if [ $? = 1 ] && [ "$(wc -l < "$TMP/err")" = 1 ] && grep -q "$TMP/nowhere: no such folder" "$TMP/err"
then ok "a missing DATA folder: one line naming it, exit 1"
else not_ok "a missing DATA folder: one line naming it, exit 1" "$TMP/err"; fi
mkdir -p "$TMP/empty"
DATA=$TMP/empty bash "$root/examples/gue/run.sh" > "$TMP/out" 2> "$TMP/err"
if [ $? = 1 ] && grep -q "dna/gue/prom_core_notata/train.fa.gz: missing" "$TMP/err"
then ok "a missing data file is named, exit 1"; else not_ok "a missing data file is named, exit 1" "$TMP/err"; fi

# ---------------------------------------------------------------------------- spectrogram
sox -n -r 8000 -b 16 -c 1 "$TMP/sine.wav" synth 1 sine 1000 vol 0.5 2> "$TMP/err"
if "$SPECTROGRAM" "$TMP/sine.wav" > "$TMP/sine.dat" 2> "$TMP/err"; then
    # the bin of the highest mean level over the frames, and its level (-6 dB for amplitude 0.5,
    # -6 dB more for the window's two-sided split)
    read -r peak level < <(awk 'NF == 3 { s[$2] += $3; c[$2]++ }
        END { for (f in s) if (best == "" || s[f] / c[f] > s[best] / c[best]) best = f
              print best, s[best] / c[best] }' "$TMP/sine.dat")
    frames=$(grep -c '^$' "$TMP/sine.dat")
    if [ "$peak" = 1000.000 ] && awk -v l="$level" 'BEGIN { exit !(l > -12.2 && l < -11.9) }' \
       && [ "$frames" = 61 ]; then ok "spectrogram: a 1 kHz sine peaks at 1000 Hz, -12 dB, 61 frames"
    else not_ok "spectrogram: a 1 kHz sine peaks at 1000 Hz (got $peak Hz, $level dB, $frames frames)"; fi
else not_ok "spectrogram: a 1 kHz sine peaks at 1000 Hz" "$TMP/err"; fi
"$SPECTROGRAM" "$TMP/none.wav" > "$TMP/out" 2> "$TMP/err"
if [ $? = 1 ] && [ ! -s "$TMP/out" ] && grep -q "none.wav" "$TMP/err"; then ok "spectrogram: a missing file, exit 1"
else not_ok "spectrogram: a missing file, exit 1" "$TMP/err"; fi
"$SPECTROGRAM" --hop 0 "$TMP/sine.wav" > "$TMP/out" 2> "$TMP/err"
if [ $? = 2 ] && grep -q -- "--hop '0'" "$TMP/err"; then ok "spectrogram: --hop 0 is a usage error"
else not_ok "spectrogram: --hop 0 is a usage error" "$TMP/err"; fi

# ---------------------------------------------------------------------------- shipped data as ../shared/data
data=$TMP/data
b=$data/dna/bacteria-species a=$data/dna/great-apes-chr22
mkdir -p "$b/train" "$b/dev" "$a/train" "$a/dev"
ln -s "$EX/dna/bacteria_train.fa.gz" "$b/train/bacteria.fa.gz"
cp "$EX/dna/bacteria_train.labels.tsv" "$b/train/labels.tsv"
ln -s "$EX/dna/bacteria_test.fa.gz" "$b/dev/bacteria.fa.gz"
cp "$EX/dna/bacteria_test.labels.tsv" "$b/dev/labels.tsv"
for split in train dev; do  # the slice stands in for both splits: plumbing, not a result
    for ext in "" .fai .gzi; do
        ln -s "$EX/dna/apes_chr22_dev_slice.fa.gz$ext" "$a/$split/apes.fa.gz$ext"
    done
    printf 'hsap.dev.slice\thsap\nptro.dev.slice\tptro\nggor.dev.slice\tggor\nppyg.dev.slice\tppyg\n' \
        > "$a/$split/labels.tsv"
done

# bacteria-species: 2 lengths, 1 seed
out=$TMP/bacteria
check "bacteria-species runs on the shipped windows" env DATA="$data" OUT="$out" \
    LENGTHS="256 512" TOKENS=2048 EVAL_WINDOWS=2 bash "$root/examples/bacteria-species/run.sh"
cp "$TMP/err" "$TMP/bacteria.err"
good=1
for L in 256 512; do
    j=$out/metrics/bimamba.L$L.s1.json
    # 100 dev records of 1,000 bp: 2 windows each at 256, 1 at 512
    want=$((L == 256 ? 200 : 100))
    [ -s "$j" ] && [ "$(num "$j" n)" = "$want" ] && [ "$(num "$j" value)" = "$(num "$out/eval/bimamba.L$L.s1.json" accuracy)" ] \
        && [ "$(num "$j" params)" -gt 0 ] && [ "$(num "$j" train_steps)" = 2 ] || good=0
done
[ $good = 1 ] && ok "bacteria-species: a metrics JSON per length, n and accuracy as eval wrote them" \
    || not_ok "bacteria-species: a metrics JSON per length, n and accuracy as eval wrote them" "$TMP/bacteria.err"
if command -v python3 > /dev/null && python3 -c 'import json, sys
for p in sys.argv[1:]:
    d = json.load(open(p))
    assert d["recipe"] == "bacteria-species" and d["split"] == "dev" and d["metric"] == "accuracy"
    assert d["eval"]["accuracy"] == d["value"] and d["commit"] == "test" and d["device"] == "cpu"
' "$out"/metrics/*.json 2> "$TMP/err"; then ok "bacteria-species: metrics JSONs parse, fields as promised"
else not_ok "bacteria-species: metrics JSONs parse, fields as promised" "$TMP/err"; fi
[ "$(grep -vc '^#' "$out/summary.tsv")" = 2 ] && [ "$(grep -vc '^#' "$out/runs.tsv")" = 2 ] \
    && ok "bacteria-species: summary.tsv and runs.tsv have a row per length" \
    || not_ok "bacteria-species: summary.tsv and runs.tsv have a row per length" "$out/summary.tsv"
budget=$(RECIPE=budget; source "$root/examples/common.sh"; STEPS=; MINUTES=1; recipe_budget 3 > /dev/null
         echo "${BUDGET_ARGS[*]}"; MINUTES_PER_RUN=2; recipe_budget 3 > /dev/null; echo "${BUDGET_ARGS[*]}"
         STEPS=7; recipe_budget 3 > /dev/null; echo "${BUDGET_ARGS[*]}")
[ "$(tr '\n' ',' <<< "$budget")" = "--minutes 0.333,--minutes 2,--steps 7," ] \
    && ok "the budget: MINUTES split over the runs, MINUTES_PER_RUN, STEPS" \
    || not_ok "the budget: MINUTES split over the runs, MINUTES_PER_RUN, STEPS (got $budget)"

# great-apes: bimamba (headline at the longest length: both seeds) and the Transformer at a
# window of 256, evaluated at 1024 on its centre 256
out=$TMP/apes
check "great-apes runs on the shipped slice" env DATA="$data" OUT="$out" LENGTHS="256 1024" \
    MODELS="bimamba transformer" TRANSFORMER_WINDOW=256 TOKENS=2048 EVAL_WINDOWS=4 SEEDS="1 2" \
    bash "$root/examples/great-apes/run.sh"
cp "$TMP/err" "$TMP/apes.err"
m=$out/eval-windows-L1024.tsv
if [ "$(wc -l < "$m")" = 16 ] && grep -q "apes.fa.gz:hsap.dev.slice:1-1024	hsap$" "$m" \
   && grep -q "apes.fa.gz:ppyg.dev.slice:18977-20000	ppyg$" "$m"
then ok "great-apes: 4 windows per record, first at the start, last at the end (20,000)"
else not_ok "great-apes: 4 windows per record, first at the start, last at the end (20,000)" "$m"; fi
ls "$out"/metrics > "$TMP/list" 2>&1
if [ "$(tr '\n' ' ' < "$TMP/list")" = "bimamba.L1024.s1.json bimamba.L1024.s2.json bimamba.L256.s1.json transformer.L1024.s1.json transformer.L256.s1.json " ]
then ok "great-apes: both seeds for the headline, one elsewhere"
else not_ok "great-apes: both seeds for the headline, one elsewhere" "$TMP/list"; fi
if grep -q '"model":"transformer.W256.s1"' "$out/metrics/transformer.L1024.s1.json" \
   && [ ! -e "$out/models/transformer.W1024.s1.safetensors" ]
then ok "great-apes: the Transformer at 1024 is the model trained at its window"
else not_ok "great-apes: the Transformer at 1024 is the model trained at its window"; fi
row=$(awk -F'\t' '$2 == "bimamba.L1024"' "$out/summary.tsv")
mean=$(awk -F'\t' '$2 == "bimamba.L1024" && !/^#/ { s += $7; k++ } END { printf "%.4f", s / k }' "$out/runs.tsv")
if [ "$(cut -f5 <<< "$row")" = 2 ] && [ "$(cut -f6 <<< "$row")" = "$mean" ] && [ "$(cut -f7 <<< "$row")" != - ]
then ok "great-apes: the headline row is the mean of its 2 runs, with an sd"
else not_ok "great-apes: the headline row is the mean of its 2 runs, with an sd" "$out/summary.tsv"; fi
[ -s "$out/accuracy.dat" ] && [ -s "$out/accuracy.gp" ] && ok "great-apes: accuracy.dat and accuracy.gp" \
    || not_ok "great-apes: accuracy.dat and accuracy.gp" "$TMP/apes.err"
if command -v gnuplot > /dev/null; then
    [ -s "$out/accuracy.png" ] && ok "great-apes: accuracy.png drawn" || not_ok "great-apes: accuracy.png drawn"
else
    ok "great-apes: accuracy.png # SKIP gnuplot is not installed"
fi

# run_all.sh: a collection, a pack, and a failing recipe that does not stop the rest
results=$TMP/results pack=$TMP/pack
DATA=$data WORK=$TMP/work RESULTS=$results PACK_TO=$pack LENGTHS=256 TOKENS=2048 EVAL_WINDOWS=1 \
    bash "$root/examples/run_all.sh" chr20-lm bacteria-species > "$TMP/runall.out" 2>&1
rc=$?
if [ $rc = 1 ] && [ "$(cut -f1,2 "$results/status.tsv" | tr '\t\n' ':,')" = "#recipe:status,chr20-lm:1,bacteria-species:0," ]
then ok "run_all: a recipe that fails (no chr20 here) is recorded and the next one runs"
else not_ok "run_all: a recipe that fails (no chr20 here) is recorded and the next one runs" "$TMP/runall.out"; fi
[ -s "$results/metrics/bacteria-species/bimamba.L256.s1.json" ] && [ "$(wc -l < "$results/metrics.jsonl")" = 1 ] \
    && ok "run_all: metrics collected, one line in metrics.jsonl" || not_ok "run_all: metrics collected" "$TMP/runall.out"
if tar -tzf "$pack/results.tar.gz" > "$TMP/tar" 2>&1 && grep -q '^bacteria-species/metrics/bimamba.L256.s1.json$' "$TMP/tar" \
   && [ -s "$pack/summary.tsv" ] && [ -s "$pack/status.tsv" ] && [ -s "$pack/results-rows.md" ] \
   && [ "$(find "$pack" -type f | wc -l)" -le 8 ]
then ok "run_all: PACK_TO holds the tarball and the tables, at most 8 files"
else not_ok "run_all: PACK_TO holds the tarball and the tables, at most 8 files" "$TMP/tar"; fi
grep -q '^| bacteria-species | bimamba.L256 | accuracy (dev) | ' "$results/results-rows.md" \
    && ok "run_all: results-rows.md has the measured row" || not_ok "run_all: results-rows.md" "$results/results-rows.md"
echo "1..$n"
[ "$failed" -eq 0 ]
