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
ex=$root/examples
build=${LS_BUILD:-$root/build}
export LONGSCAN=${LONGSCAN:-$build/longscan}
export SPECTROGRAM=$build/tools/spectrogram
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-exitcode=86:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-exitcode=87:halt_on_error=1:print_stacktrace=1}
# tiny, quick and the same everywhere; the recipes' own options come from the environment
export STEPS=2 D_MODEL=8 LAYERS=1 THREADS=1 COMMIT=test
unset DEVICE PRECISION MINUTES MINUTES_PER_RUN SEEDS ALL_SEEDS TRAIN_ARGS EVAL_ARGS OUT ONLY \
      AUGMENT DROPOUT HOLDOUT

n=0; failed=0
# verdict NAME STATUS [FILE...] — one TAP line; on failure the files' tails as comments
verdict() {
    local name=$1 status=$2; shift 2
    n=$((n + 1))
    if [ "$status" = 0 ]; then echo "ok $n - $name"; return; fi
    failed=$((failed + 1)); echo "not ok $n - $name"
    local f
    for f in "$@"; do [ -e "$f" ] && tail -20 "$f" | sed 's/^/# /'; done
}
# check NAME COMMAND... — the command must succeed
check() {
    local name=$1; shift
    "$@" > "$TMP/out" 2> "$TMP/err"
    verdict "$name" $? "$TMP/out" "$TMP/err"
}
num() { grep -oE "\"$2\":-?[0-9][0-9.eE+-]*" "$1" | head -1 | cut -d: -f2; }
rows() { grep -vc '^#' "$1"; }

recipes=(gue genomic-benchmarks great-apes bacteria-species fsdd-digits fsdd-lm chr20-lm)

# ---------------------------------------------------------------------------- every script
for r in "${recipes[@]}"; do
    check "$r/run.sh parses" bash -n "$ex/$r/run.sh"
    bash "$ex/$r/run.sh" --help > "$TMP/out" 2>&1 \
        && head -1 "$TMP/out" | grep -q "^examples/$r/run.sh — " \
        && grep -q "^Environment" "$TMP/out"
    verdict "$r/run.sh --help" $? "$TMP/out"
done
check "common.sh parses" bash -n "$ex/common.sh"
check "run_all.sh parses" bash -n "$ex/run_all.sh"
[ "$(bash "$ex/run_all.sh" --list | cut -f1 | sort)" = "$(printf '%s\n' "${recipes[@]}" | sort)" ]
verdict "run_all.sh --list names every recipe" $?

# ---------------------------------------------------------------------------- bad use
bash "$ex/gue/run.sh" --steps 3 > "$TMP/out" 2> "$TMP/err"
[ $? = 2 ] && grep -q "unexpected argument '--steps'" "$TMP/err"
verdict "an argument is a usage error (exit 2)" $? "$TMP/err"
DATA=$TMP/nowhere bash "$ex/chr20-lm/run.sh" > "$TMP/out" 2> "$TMP/err"
[ $? = 1 ] && [ "$(wc -l < "$TMP/err")" = 1 ] && grep -q "$TMP/nowhere: no such folder" "$TMP/err"
verdict "a missing DATA folder: one line naming it, exit 1" $? "$TMP/err"
mkdir -p "$TMP/empty"
DATA=$TMP/empty bash "$ex/gue/run.sh" > "$TMP/out" 2> "$TMP/err"
[ $? = 1 ] && grep -q "dna/gue/prom_core_notata/train.fa.gz: missing" "$TMP/err"
verdict "a missing data file is named, exit 1" $? "$TMP/err"
TASKS=tf9 DATA=$TMP/empty bash "$ex/gue/run.sh" > "$TMP/out" 2> "$TMP/err"
[ $? = 2 ] && grep -q "unknown task 'tf9'" "$TMP/err"
verdict "an unknown GUE task is a usage error" $? "$TMP/err"

# ---------------------------------------------------------------------------- the budget
budget=$(RECIPE=budget; source "$ex/common.sh"; STEPS=; MINUTES=1
         recipe_budget 3 > /dev/null; echo "${BUDGET_ARGS[*]}"
         MINUTES_PER_RUN=2; recipe_budget 3 > /dev/null; echo "${BUDGET_ARGS[*]}"
         STEPS=7; recipe_budget 3 > /dev/null; echo "${BUDGET_ARGS[*]}")
[ "$(tr '\n' ',' <<< "$budget")" = "--minutes 0.333,--minutes 2,--steps 7," ]
verdict "the budget: MINUTES split over runs, MINUTES_PER_RUN, STEPS (got: ${budget//$'\n'/, })" $?

# the regularisation and hold-out: a recipe's defaults, AUGMENT=none, DROPOUT only when set,
# HOLDOUT=0 evaluates the final weights
reg=$(RECIPE=reg; source "$ex/common.sh"
      recipe_regularisation rc > /dev/null; echo "${REG_ARGS[*]}"
      AUGMENT=none DROPOUT=0.1; recipe_regularisation rc > /dev/null; echo "${REG_ARGS[*]}"
      AUGMENT=gain=6; unset DROPOUT; recipe_regularisation rc > /dev/null; echo "${REG_ARGS[*]}"
      recipe_holdout 0.1 > /dev/null; echo "${HOLDOUT_ARGS[*]} $CHECKPOINT"
      HOLDOUT=0; recipe_holdout 0.1 > /dev/null; echo "${HOLDOUT_ARGS[*]} $CHECKPOINT")
[ "$(tr '\n' ',' <<< "$reg")" = "--augment rc,--dropout 0.1,--augment gain=6,--valid-fraction 0.1 best, final," ]
verdict "AUGMENT, DROPOUT and HOLDOUT as train options (got: ${reg//$'\n'/, })" $?

# ---------------------------------------------------------------------------- spectrogram
sox -n -r 8000 -b 16 -c 1 "$TMP/sine.wav" synth 1 sine 1000 vol 0.5 2> "$TMP/err"
"$SPECTROGRAM" "$TMP/sine.wav" > "$TMP/sine.dat" 2> "$TMP/err"
status=$?
# the bin with the highest mean level and that level: -6 dB for amplitude 0.5, -6 dB more
# because a real sine's power splits between +f and -f
read -r peak level < <(awk 'NF == 3 { s[$2] += $3; c[$2]++ }
    END { for (f in s) if (best == "" || s[f] / c[f] > s[best] / c[best]) best = f
          print best, s[best] / c[best] }' "$TMP/sine.dat")
frames=$(grep -c '^$' "$TMP/sine.dat")
[ $status = 0 ] && [ "$peak" = 1000.000 ] && [ "$frames" = 61 ] \
    && awk -v l="$level" 'BEGIN { exit !(l > -12.2 && l < -11.9) }'
verdict "spectrogram: 1 kHz sine peaks at 1000 Hz, -12 dB, 61 frames (got $peak, $level, $frames)" \
    $? "$TMP/err"
"$SPECTROGRAM" "$TMP/none.wav" > "$TMP/out" 2> "$TMP/err"
[ $? = 1 ] && [ ! -s "$TMP/out" ] && grep -q "none.wav" "$TMP/err"
verdict "spectrogram: a missing file, exit 1" $? "$TMP/err"
"$SPECTROGRAM" --hop 0 "$TMP/sine.wav" > "$TMP/out" 2> "$TMP/err"
[ $? = 2 ] && grep -q -- "--hop '0'" "$TMP/err"
verdict "spectrogram: --hop 0 is a usage error" $? "$TMP/err"

# ------------------------------------------------------------- the shipped data, laid out as shared
data=$TMP/data
b=$data/dna/bacteria-species a=$data/dna/great-apes-chr22 d=$root/examples/data/dna
mkdir -p "$b/train" "$b/dev" "$a/train" "$a/dev"
ln -s "$d/bacteria_train.fa.gz" "$b/train/bacteria.fa.gz"
cp "$d/bacteria_train.labels.tsv" "$b/train/labels.tsv"
ln -s "$d/bacteria_test.fa.gz" "$b/dev/bacteria.fa.gz"
cp "$d/bacteria_test.labels.tsv" "$b/dev/labels.tsv"
for split in train dev; do # the slice stands in for both splits: plumbing, not a result
    for ext in "" .fai .gzi; do
        ln -s "$d/apes_chr22_dev_slice.fa.gz$ext" "$a/$split/apes.fa.gz$ext"
    done
    printf '%s.dev.slice\t%s\n' hsap hsap ptro ptro ggor ggor ppyg ppyg > "$a/$split/labels.tsv"
done

# bacteria-species: 2 lengths, 1 seed
out=$TMP/bacteria
check "bacteria-species runs on the shipped windows" env DATA="$data" OUT="$out" \
    LENGTHS="256 512" TOKENS=2048 EVAL_WINDOWS=2 bash "$ex/bacteria-species/run.sh"
cp "$TMP/err" "$TMP/bacteria.err"
good=0
for L in 256 512; do # 100 dev records of 1,000 bp: 2 windows each at 256, 1 at 512
    j=$out/metrics/bimamba.L$L.s1.json
    [ -s "$j" ] && [ "$(num "$j" n)" = $((L == 256 ? 200 : 100)) ] \
        && [ "$(num "$j" value)" = "$(num "$out/eval/bimamba.L$L.s1.json" accuracy)" ] \
        && [ "$(num "$j" params)" -gt 0 ] && [ "$(num "$j" train_steps)" = 2 ] || good=1
done
verdict "bacteria-species: a metrics JSON per length, n and accuracy as eval wrote them" $good \
    "$TMP/bacteria.err"
python3 -c 'import json, sys
for p in sys.argv[1:]:
    d = json.load(open(p))
    assert d["recipe"] == "bacteria-species" and d["split"] == "dev", p
    assert d["metric"] == "accuracy" and d["eval"]["accuracy"] == d["value"], p
    assert d["commit"] == "test" and d["device"] == "cpu" and d["seed"] == "1", p
' "$out"/metrics/*.json 2> "$TMP/err"
verdict "bacteria-species: metrics JSONs parse, with the fields promised" $? "$TMP/err"
# the parameters come from the checkpoint (info --tsv); train's own table must agree
table=$(awk -F'|' '$2 ~ /^ parameters / { gsub(/ /, "", $3); print $3 }' \
        "$out/logs/bimamba.L256.s1.train.log")
[ -n "$table" ] && [ "$(num "$out/metrics/bimamba.L256.s1.json" params)" = "$table" ] \
    && [ "$(num "$out/metrics/bimamba.L256.s1.json" train_steps)" = 2 ]
verdict "bacteria-species: params from the checkpoint = train's count ($table), steps from the log" \
    $? "$out/metrics/bimamba.L256.s1.json"
[ "$(rows "$out/summary.tsv")" = 2 ] && [ "$(rows "$out/runs.tsv")" = 2 ]
verdict "bacteria-species: summary.tsv and runs.tsv have a row per length" $? "$out/summary.tsv"

# gue: the bacteria data standing in for prom_core_notata (plumbing, not a result): 10 % of
# train held out and the best weights on it evaluated, reverse-complement augmentation; and
# with AUGMENT=none HOLDOUT=0 neither, the final weights evaluated
g=$data/dna/gue/prom_core_notata
mkdir -p "$g"
ln -s "$d/bacteria_train.fa.gz" "$g/train.fa.gz"
cp "$d/bacteria_train.labels.tsv" "$g/train.labels.tsv"
ln -s "$d/bacteria_test.fa.gz" "$g/dev.fa.gz"
cp "$d/bacteria_test.labels.tsv" "$g/dev.labels.tsv"
out=$TMP/gue
check "gue runs on a stand-in task" env DATA="$data" OUT="$out" TASKS=prom_core_notata SEEDS=1 \
    bash "$ex/gue/run.sh"
cp "$TMP/err" "$TMP/gue.err"
j=$out/metrics/prom_core_notata.s1.json
python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
assert d["checkpoint"] == "best" and d["best_step"] == 2 and d["best_valid_loss"] > 0, d
assert " --valid-fraction 0.1 --augment rc " in d["train_command"], d["train_command"]
assert "/models/prom_core_notata.s1.best.safetensors " in d["eval_command"], d["eval_command"]
assert d["eval"]["n"] == 100 and d["value"] == d["eval"]["mcc"], d
assert d["augment"] == "rc" and d["holdout"] == 0.1 and d["dropout"] is None, d
' "$j" 2> "$TMP/err"
verdict "gue: 10 % held out, the best weights evaluated, augmented by rc" $? "$TMP/err" \
    "$TMP/gue.err"
python3 "$root/examples/fill_results.py" "$j" 2> "$TMP/err" | grep -F '| GUE prom_core_notata ★ |' \
    | grep -qF '; augment rc; evaluated at the lowest loss on 10 % of train held out (step 2) |'
verdict "fill_results: the row says how the run was regularised and which weights were evaluated" \
    $? "$TMP/err"
check "gue runs with AUGMENT=none HOLDOUT=0" env DATA="$data" OUT="$out" \
    TASKS=prom_core_notata SEEDS=1 AUGMENT=none HOLDOUT=0 bash "$ex/gue/run.sh"
python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
assert d["checkpoint"] == "final" and d["best_step"] is None, d
assert d["augment"] is None and d["holdout"] is None, d
assert "--augment" not in d["train_command"] and "--valid-fraction" not in d["train_command"], d
assert "/models/prom_core_notata.s1.safetensors " in d["eval_command"], d["eval_command"]
' "$j" 2> "$TMP/err"
verdict "gue: AUGMENT=none HOLDOUT=0: no augmentation, nothing held out, the final weights" $? \
    "$TMP/err"

# great-apes: bimamba (the headline at the longest length: both seeds) and the Transformer
# at a window of 256, evaluated at 1024 on its centre 256
out=$TMP/apes
check "great-apes runs on the shipped slice" env DATA="$data" OUT="$out" LENGTHS="256 1024" \
    MODELS="bimamba transformer" TRANSFORMER_WINDOW=256 TOKENS=2048 EVAL_WINDOWS=4 SEEDS="1 2" \
    bash "$ex/great-apes/run.sh"
cp "$TMP/err" "$TMP/apes.err"
j=$out/metrics/bimamba.L1024.s1.json
[ "$(num "$j" n)" = 16 ] && grep -q -- '--seq-len 1024 --stride 64 --max-windows 4 ' "$j"
verdict "great-apes: 4 dev windows per record (eval --stride L/16 --max-windows 4)" $? "$j"
want="bimamba.L1024.s1.json bimamba.L1024.s2.json bimamba.L256.s1.json transformer.L1024.s1.json"
[ "$(ls "$out/metrics" 2>&1 | tr '\n' ' ')" = "$want transformer.L256.s1.json " ]
verdict "great-apes: both seeds for the headline, one elsewhere" $? "$TMP/apes.err"
grep -q '"model":"transformer.W256.s1"' "$out/metrics/transformer.L1024.s1.json" \
    && [ ! -e "$out/models/transformer.W1024.s1.safetensors" ]
verdict "great-apes: the Transformer at 1024 is the model trained at its window" $?
row=$(awk -F'\t' '$2 == "bimamba.L1024"' "$out/summary.tsv")
mean=$(awk -F'\t' '$2 == "bimamba.L1024" { s += $7; k++ } END { printf "%.4f", s / k }' \
       "$out/runs.tsv")
[ "$(cut -f5 <<< "$row")" = 2 ] && [ "$(cut -f6 <<< "$row")" = "$mean" ] \
    && [ "$(cut -f7 <<< "$row")" != - ]
verdict "great-apes: the headline row is the mean of its 2 runs, with an sd" $? "$out/summary.tsv"
[ -s "$out/accuracy.dat" ] && [ -s "$out/accuracy.gp" ]
verdict "great-apes: accuracy.dat and accuracy.gp" $? "$TMP/apes.err"
if command -v gnuplot > /dev/null; then
    [ -s "$out/accuracy.png" ]; verdict "great-apes: accuracy.png drawn" $?
else
    verdict "great-apes: accuracy.png # SKIP gnuplot is not installed" 0
fi

# run_all.sh: a failing recipe (no chr20 data here) does not stop the next; the collection
results=$TMP/results pack=$TMP/pack
DATA=$data WORK=$TMP/work RESULTS=$results PACK_TO=$pack LENGTHS=256 TOKENS=2048 EVAL_WINDOWS=1 \
    bash "$ex/run_all.sh" chr20-lm bacteria-species > "$TMP/runall.out" 2>&1
status=$?
[ $status = 1 ] && [ "$(cut -f1,2 "$results/status.tsv" | tr '\t\n' ':,')" \
                      = "#recipe:status,chr20-lm:1,bacteria-species:0," ]
verdict "run_all: a failing recipe is recorded and the next one runs" $? "$TMP/runall.out"
[ -s "$results/metrics/bacteria-species/bimamba.L256.s1.json" ] \
    && [ "$(wc -l < "$results/metrics.jsonl")" = 1 ]
verdict "run_all: metrics collected, one line in metrics.jsonl" $? "$TMP/runall.out"
tar -tzf "$pack/results.tar.gz" > "$TMP/tar" 2>&1 \
    && grep -q '^bacteria-species/metrics/bimamba.L256.s1.json$' "$TMP/tar" \
    && [ -s "$pack/summary.tsv" ] && [ -s "$pack/status.tsv" ] && [ -s "$pack/results-rows.md" ] \
    && [ "$(find "$pack" -type f | wc -l)" -le 8 ]
verdict "run_all: PACK_TO holds the tarball and the tables, at most 8 files" $? "$TMP/tar"
grep -q '^| bacteria-species | bimamba.L256 | accuracy (dev) | ' "$results/results-rows.md"
verdict "run_all: results-rows.md has the measured row" $? "$results/results-rows.md"
# fill_results.py: the collected metrics as docs/results.md's table, written into a copy
fill=$root/examples/fill_results.py
python3 "$fill" "$results/metrics.jsonl" > "$TMP/table" 2> "$TMP/err"
acc=$(num "$results/metrics/bacteria-species/bimamba.L256.s1.json" value)
want=$(awk -v a="$acc" 'BEGIN { printf "%.3f", a }')
grep -q "^| bacteria-species bimamba.L256 | accuracy (dev) | — | $want | " "$TMP/table" \
    && grep -q '^| GUE prom_core_notata ★ | MCC (dev) | .* | not yet measured' "$TMP/table"
verdict "fill_results: the measured row ($want) and the unmeasured ones" $? "$TMP/table" "$TMP/err"
cp "$root/docs/results.md" "$TMP/results.md"
python3 "$fill" --write "$TMP/results.md" "$results/metrics.jsonl" 2> "$TMP/err" \
    && diff <(grep -v '^|' "$root/docs/results.md") <(grep -v '^|' "$TMP/results.md") \
       > "$TMP/err" && grep -qF "$(tail -1 "$TMP/table")" "$TMP/results.md"
verdict "fill_results --write: the table replaced, the rest of the file as it was" $? "$TMP/err"
echo "1..$n"
[ "$failed" -eq 0 ]
