#!/usr/bin/env bash
# bench/gpu_curve.sh — issue 13's curve on the GPU: `longscan bench models --max-len 1048576`
# (causal Mamba, bidirectional Mamba and the matched Transformer, d_model 256 x 8 layers, bf16,
# L = 1K … 1M), under `timeout ${LIMIT:-400}` s; --max-seconds ${MAX_SECONDS:-8} bounds each
# model's longest training step, so the Transformer stops where a step would take longer.
# Bundle here: `make gpu-bundle-curve` (writes .gpu-curve/: longscan and this script). On the
# device: bash .gpu-curve/gpu_curve.sh. $OUT gets curve/ (models.csv, report.md, plots/*.gp and
# .dat: draw them here with gnuplot, the device has none), curve.log and summary.txt.
set -u
G=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/gpu-out}
mkdir -p "$out"
zlib=/tmp/gpu-libz && mkdir -p "$zlib"
for f in "$G"/libz/*.gz; do [ -e "$f" ] && gunzip -c "$f" > "$zlib/$(basename "$f" .gz)"; done
for f in "$G"/bin/*.gz; do [ -e "$f" ] && gunzip -f "$f" && chmod +x "${f%.gz}"; done
export LD_LIBRARY_PATH="$zlib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
R="$G/run"
S=$out/summary.txt
say() { echo "$*" | tee -a "$S"; }
say "# commit: $(tr '\n' ' ' < "$G/COMMIT" 2>/dev/null || echo unknown)"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 \
    | sed 's/^/# gpu: /' | tee -a "$S"
start=$SECONDS
timeout "${LIMIT:-400}" "$R" longscan bench models --max-len "${MAX_LEN:-1048576}" \
    --d-model 256 --layers 8 --max-seconds "${MAX_SECONDS:-8}" --device cuda \
    -o "$out/curve" > "$out/curve.log" 2>&1
say "## bench models: rc=$? in $((SECONDS - start)) s"
cat "$out/curve.log" >> "$S"
[ -f "$out/curve/report.md" ] && cat "$out/curve/report.md" >> "$S"
cat "$S"
