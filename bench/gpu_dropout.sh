#!/usr/bin/env bash
# bench/gpu_dropout.sh — the dropout device call (docs/models.md "Dropout (training)"):
#   1. test_gpu dropout: the op bit-identical to the CPU (masks equal element for element), the
#      models' training step with dropout on the GPU against the CPU, dropped elements leaving
#      the GPU's residual stream unchanged, loss curves and run-to-run identity;
#   2. the CLI on the GPU: train --dropout stopped and resumed gives the bytes of a run never
#      stopped (fp32 and bf16), and --dropout 0 the bytes of a run without the option;
#   3. what dropout costs: bench model, bimamba d256 x 8 bf16 training steps at 128K and 1M
#      tokens, without and with --dropout 0.1.
# Bundle here: `make gpu-bundle-dropout` (writes .gpu-dropout/: longscan, test_gpu, this script,
# the shipped bacteria data). On the device: bash .gpu-dropout/gpu_dropout.sh (logs to $OUT).
set -u
deadline=${DEADLINE:-400}
GPU_SCRIPT=$0
. "$(dirname "$0")/gpu_common.sh"

P=$out/parity.log
if [ -z "${SKIP_PARITY:-}" ]; then
timeout 180 "$R" test_gpu dropout > "$P" 2>&1
say "## test_gpu dropout: rc=$? $(grep -c '^ok' "$P") ok, $(grep -c '^not ok' "$P") not ok"
grep '^not ok' "$P" | head -40 | cut -c1-400 | tee -a "$S"
grep -E '^ok .*(model|train)' "$P" | cut -c1-300 >> "$S"
fi

C=$out/cli.log
T=/tmp/ls-dropout && rm -rf "$T" && mkdir -p "$T"
D="$G/data"
tr_args=(--task classify --model bimamba --data "$D/bacteria_train.fa.gz"
         --labels "$D/bacteria_train.labels.tsv" --d-model 64 --layers 2 --batch-size 16
         --steps 12 --progress plain)
for prec in fp32 bf16; do
    timeout 60 "$R" longscan train "${tr_args[@]}" --precision $prec --dropout 0.1 \
        -o "$T/a-$prec.safetensors" >> "$C" 2>&1; a=$?
    timeout 60 "$R" longscan train "${tr_args[@]}" --precision $prec --dropout 0.1 \
        --stop-after 5 -o "$T/b-$prec.safetensors" >> "$C" 2>&1 &&
        timeout 60 "$R" longscan train --resume "$T/b-$prec.safetensors" >> "$C" 2>&1; b=$?
    same=$(cmp -s "$T/a-$prec.safetensors" "$T/b-$prec.safetensors" && echo same || echo DIFFER)
    say "## train $prec --dropout 0.1: rc=$a, stopped at 5 + resumed: rc=$b, checkpoints $same"
done
timeout 60 "$R" longscan train "${tr_args[@]}" --precision fp32 -o "$T/n.safetensors" \
    >> "$C" 2>&1; a=$?
timeout 60 "$R" longscan train "${tr_args[@]}" --precision fp32 --dropout 0 \
    -o "$T/z.safetensors" >> "$C" 2>&1; b=$?
same=$(cmp -s "$T/n.safetensors" "$T/z.safetensors" && echo same || echo DIFFER)
say "## train fp32 without --dropout: rc=$a; --dropout 0: rc=$b; checkpoints $same"

B=$out/bench.log
for p in 0 0.1; do
    timeout 120 "$R" longscan bench model --model bimamba --d-model 256 --layers 8 \
        --seq-len 131072,1048576 --precision bf16 --repeat 3 --dropout $p >> "$B" 2>&1
    say "## bench model bimamba d256x8 bf16 --dropout $p: rc=$?"
done
grep -E '^bimamba' "$B" | tee -a "$S"
