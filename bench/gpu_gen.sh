#!/usr/bin/env bash
# bench/gpu_gen.sh — the fused generation step's device call, one call of <= 150 s (issue 13
# "Audio generation"; kernels/gen_step.h, docs/generate.md "The fused step"):
#   1. test_gpu gen_step: fused against unfused logits every step and states at the end
#      (fp32 and bf16, B 1, 3, 64, several shapes), same tokens for one seed in fp32;
#      (if it fails: again with LS_GEN_STEP_PDL=0, plain launches, to tell which change broke);
#   2. bench generate, the issue's 6 x 256 mu-law LM with random weights, batch 1, 8, 64,
#      --fused against --unfused (the default), bf16 first (and --fused with
#      LS_GEN_STEP_PDL=0: what the programmatic dependent launch gives), then fp32 if time is
#      left (--steps 2048 --repeat 3);
#   3. compute-sanitizer memcheck on the short gen_step cases (LS_GEN_STEP_SHORT=1), last.
# Bundle here: `make gpu-bundle-gen` (.gpu-gen/: longscan, test_gpu, this script). On the
# device: bash .gpu-gen/gpu_gen.sh (logs to $OUT: summary.txt, bench.txt, logs.tar.gz).
set -u
deadline=${DEADLINE:-145}
GPU_SCRIPT=$0
. "$(dirname "$0")/gpu_common.sh"
logs=$(mktemp -d /tmp/gpu-gen-logs.XXXXXX)

P=$logs/parity.log
step "test_gpu gen_step" 30 "$P" "$R" test_gpu gen_step
say "## gen_step: $(grep -c '^ok' "$P") ok, $(grep -c '^not ok' "$P") not ok"
grep '^not ok' "$P" | head -30 | cut -c1-400 | tee -a "$S"
grep -E '^ok .*(d256|tokens)' "$P" | cut -c1-300 >> "$S"
if grep -q '^not ok' "$P"; then
    P0=$logs/parity-nopdl.log
    step "test_gpu gen_step LS_GEN_STEP_PDL=0" 30 "$P0" env LS_GEN_STEP_PDL=0 "$R" test_gpu gen_step
    say "## gen_step without PDL: $(grep -c '^ok' "$P0") ok, $(grep -c '^not ok' "$P0") not ok"
fi

# each bench step ~5-10 s at e30fbd1 (4096 steps took 10-19 s); the memcheck needs ~10 s
B=$out/bench.txt
for prec in bf16 fp32; do
    for path in --fused nopdl --unfused; do
        pre=()
        if [ "$path" = nopdl ]; then
            [ "$prec" = fp32 ] && continue
            pre=(env LS_GEN_STEP_PDL=0) path=--fused
        fi
        if [ $((SECONDS + 25)) -ge "$deadline" ]; then # keep time for the memcheck
            say "## bench generate $prec $path: skipped (deadline)"
            continue
        fi
        step "bench generate $prec $path${pre[*]:+ LS_GEN_STEP_PDL=0}" 30 "$B" \
            ${pre[@]+"${pre[@]}"} "$R" longscan bench generate --device cuda --precision $prec \
            --batch 1,8,64 --steps 2048 --repeat 3 $path
    done
done
grep -E '^#|^[0-9]' "$B" | tee -a "$S"

# the sanitizer last: the numbers above matter more when the call runs short
san=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
C=$logs/memcheck.log
export LS_GEN_STEP_SHORT=1
step "memcheck gen_step (short)" 30 "$C" "$san" --target-processes all \
    --tool memcheck --error-exitcode 9 "$R" test_gpu gen_step
unset LS_GEN_STEP_SHORT
grep -E '^(not )?ok|ERROR SUMMARY' "$C" | tail -6 | tee -a "$S"

tar -C "$logs" -czf "$out/logs.tar.gz" . && rm -rf "$logs"
say "# done in $SECONDS s"
