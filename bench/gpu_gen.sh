#!/usr/bin/env bash
# bench/gpu_gen.sh — the fused generation step's device call (issue 13 "Audio generation";
# kernels/gen_step.h, docs/generate.md "The fused step"):
#   1. test_gpu gen_step: fused against unfused logits every step and states at the end
#      (fp32 and bf16, B 1, 3, 64, several shapes), same tokens for one seed in fp32;
#      then test_gpu model_stream (generation's teacher forcing now runs the fused step);
#   2. bench generate, the issue's 6 x 256 mu-law LM with random weights, batch 1, 8, 64,
#      fused and --unfused, bf16 and fp32;
#   3. compute-sanitizer memcheck on the short gen_step cases (LS_GEN_STEP_SHORT=1), last.
# Bundle here: `make gpu-bundle-gen` (.gpu-gen/: longscan, test_gpu, this script). On the
# device: bash .gpu-gen/gpu_gen.sh (logs to $OUT: summary.txt, bench.txt, logs.tar.gz).
set -u
deadline=${DEADLINE:-290}
GPU_SCRIPT=$0
. "$(dirname "$0")/gpu_common.sh"
logs=$(mktemp -d /tmp/gpu-gen-logs.XXXXXX)

P=$logs/parity.log
step "test_gpu gen_step" 90 "$P" "$R" test_gpu gen_step
say "## gen_step: $(grep -c '^ok' "$P") ok, $(grep -c '^not ok' "$P") not ok"
grep '^not ok' "$P" | head -30 | cut -c1-400 | tee -a "$S"
grep -E '^ok .*(d256|tokens)' "$P" | cut -c1-300 >> "$S"

M=$logs/model_stream.log
step "test_gpu model_stream" 60 "$M" "$R" test_gpu model_stream
say "## model_stream: $(grep -c '^ok' "$M") ok, $(grep -c '^not ok' "$M") not ok"
grep '^not ok' "$M" | head -20 | cut -c1-400 | tee -a "$S"

B=$out/bench.txt
for prec in bf16 fp32; do
    for path in "" --unfused; do
        step "bench generate $prec ${path:-fused}" 45 "$B" "$R" longscan bench generate \
            --device cuda --precision $prec --batch 1,8,64 --steps 4096 --repeat 3 $path
    done
done
grep -E '^#|^[0-9]' "$B" | tee -a "$S"

# the sanitizer last: the numbers above matter more when the call runs short
san=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
C=$logs/memcheck.log
export LS_GEN_STEP_SHORT=1
step "memcheck gen_step (short)" 90 "$C" "$san" --target-processes all \
    --tool memcheck --error-exitcode 9 "$R" test_gpu gen_step
unset LS_GEN_STEP_SHORT
grep -E '^(not )?ok|ERROR SUMMARY' "$C" | tail -6 | tee -a "$S"


tar -C "$logs" -czf "$out/logs.tar.gz" . && rm -rf "$logs"
say "# done in $SECONDS s"
