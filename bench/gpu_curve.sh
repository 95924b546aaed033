#!/usr/bin/env bash
# bench/gpu_curve.sh — issue 13's curve on the GPU: `longscan bench models --max-len 1048576`
# (causal Mamba, bidirectional Mamba and the matched Transformer, d_model 256 x 8 layers, bf16,
# L = 1K … 1M), under `timeout ${LIMIT:-400}` s; --max-seconds ${MAX_SECONDS:-12} bounds each
# model's longest training step, so the Transformer stops where a step would take longer
# (bench model measured its 131K step at 2.4 s: 256K runs, about 10 s, 512K is skipped).
# A smoke test here: DEVICE=cpu D_MODEL=16 LAYERS=1 MIN_LEN=64 MAX_LEN=256 (same script).
# Bundle here: `make gpu-bundle-curve` (writes .gpu-curve/: longscan and this script). On the
# device: bash .gpu-curve/gpu_curve.sh. $OUT gets summary.txt, curve.log, models.csv, report.md
# and curve.tar.gz (the whole folder: plots/*.gp and .dat to draw here, the device has no gnuplot).
set -u
deadline=${DEADLINE:-400}
GPU_SCRIPT=$0
. "$(dirname "$0")/gpu_common.sh"
start=$SECONDS
cmd=(longscan bench models --max-len "${MAX_LEN:-1048576}" --min-len "${MIN_LEN:-1024}"
     --d-model "${D_MODEL:-256}" --layers "${LAYERS:-8}" --max-seconds "${MAX_SECONDS:-12}"
     --device "${DEVICE:-cuda}" -o "$out/curve")
say "# ${cmd[*]}"
timeout "${LIMIT:-400}" "$R" "${cmd[@]}" > "$out/curve.log" 2>&1
say "## bench models: rc=$? in $((SECONDS - start)) s"
cat "$out/curve.log" >> "$S"
[ -f "$out/curve/report.md" ] && cat "$out/curve/report.md" >> "$S"
# a device call brings back a few files: the folder travels as one tarball, the CSV and the
# report beside it
if [ -d "$out/curve" ]; then
    cp "$out/curve/models.csv" "$out/curve/report.md" "$out/" 2>/dev/null
    tar -C "$out" -czf "$out/curve.tar.gz" curve && rm -rf "$out/curve"
fi
cat "$S"
