#!/usr/bin/env bash
# bench/gpu_pack.sh — the packed batches' device call (docs/models.md "Packed batches"):
#   1. test_gpu glue pool model_pack model: the glue and pooling kernels, packed batches on the
#      GPU against the CPU packed and the GPU padded (fp32, bf16), and the whole-model suite
#      (nothing of the padded path moved);
#   2. the CLI on the GPU: train --pack gives the padded run's losses (fp32), predict --pack
#      the padded probabilities (bf16, the default there).
# Bundle here: `make gpu-bundle-pack` (writes .gpu-pack/: longscan, test_gpu, this script, the
# shipped bacteria data). On the device: bash .gpu-pack/gpu_pack.sh (logs to $OUT).
set -u
deadline=${DEADLINE:-400}
GPU_SCRIPT=$0
. "$(dirname "$0")/gpu_common.sh"

P=$out/parity.log
if [ -z "${SKIP_PARITY:-}" ]; then # SKIP_PARITY=1: the suites run elsewhere (gpu_model.sh)
timeout 240 "$R" test_gpu glue pool model_pack model > "$P" 2>&1
say "## test_gpu glue pool model_pack model: rc=$? $(grep -c '^ok' "$P") ok, $(grep -c '^not ok' "$P") not ok"
grep '^not ok' "$P" | head -40 | cut -c1-400 | tee -a "$S"
grep -E '^ok .*model_pack' "$P" | cut -c1-300 >> "$S"
fi

C=$out/cli.log
T=/tmp/ls-pack && rm -rf "$T" && mkdir -p "$T"
D="$G/data"
# the shipped records are all 1000 bases: cut record i to 40 + (37·i mod 960) (lengths 40..999)
var() { zcat "$1" | awk '/^>/ { if (s != "") print substr(s, 1, 40 + (37 * i) % 960); print;
    i++; s = ""; next } { s = s $0 } END { print substr(s, 1, 40 + (37 * i) % 960) }'; }
var "$D/bacteria_train.fa.gz" > "$T/train.fa"
var "$D/bacteria_test.fa.gz" > "$T/test.fa"
tr_args=(--task classify --model bimamba --data "$T/train.fa"
         --labels "$D/bacteria_train.labels.tsv" --d-model 64 --layers 2 --batch-size 16
         --steps ${STEPS:-20} --progress plain --no-bucket) # random batches: many per row
timeout 120 "$R" longscan train "${tr_args[@]}" --precision fp32 --log "$T/a.csv" \
    -o "$T/a.safetensors" >> "$C" 2>&1; say "## train fp32 padded: rc=$?"
timeout 120 "$R" longscan train "${tr_args[@]}" --precision fp32 --log "$T/b.csv" \
    -o "$T/b.safetensors" --pack >> "$C" 2>&1; say "## train fp32 --pack: rc=$?"
grep 'packed:' "$C" | tail -1 | sed 's/.*packed:/   packed:/' | tee -a "$S"
paste -d, "$T/a.csv" "$T/b.csv" | awk -F, 'NR > 1 { n = NF / 2; d = $3 - $(n + 3);
    if (d < 0) d = -d; if (d > m) m = d } END { printf "   max |loss padded - loss packed| over %d steps: %.3g\n", NR - 1, m }' | tee -a "$S"
timeout 60 "$R" longscan predict -m "$T/a.safetensors" "$T/test.fa" > "$T/p1" 2>> "$C"
timeout 60 "$R" longscan predict --pack -m "$T/a.safetensors" "$T/test.fa" > "$T/p2" 2>> "$C"
paste "$T/p1" "$T/p2" | awk -F'\t' 'NR > 1 { n = NF / 2; for (i = 2; i <= n; i++) {
    d = $i - $(n + i); if (d < 0) d = -d; if (d > m) m = d } } END {
    printf "   predict bf16 --pack vs padded: %d records, max |diff| %.3g\n", NR - 1, m }' \
    | tee -a "$S"
