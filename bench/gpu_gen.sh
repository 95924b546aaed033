#!/usr/bin/env bash
# bench/gpu_gen.sh — the fused generation step's device call, one call of <= 300 s (issue 13
# "Audio generation"; kernels/gen_step.h: the whole step as one kernel on thread-block
# clusters; docs/generate.md "The fused step"):
#   1. test_gpu gen_step: fused against unfused logits every step and states at the end
#      (fp32 and bf16, B 1, 2, 3, 5, 8, 17, 64, several shapes, 18 layers, the fallback),
#      same tokens for one seed in fp32; clusters of 16 where the GPU allows (the default),
#      then again with LS_GEN_STEP_CLUSTER=8 (portable clusters);
#   2. bench generate, the issue's 6 x 256 mu-law LM with random weights, batch 1, 8, 64,
#      --fused against --unfused (the default), bf16 then fp32, and bf16 --fused with
#      LS_GEN_STEP_CLUSTER=8 (portable clusters) and with LS_GEN_STEP_PREFETCH=0 (no L1
#      prefetch of the weights) (--steps 2048 --repeat 3); the launch plans (cluster size,
#      rows per cluster) from --verbosity 3;
#   3. compute-sanitizer memcheck on the short gen_step cases (LS_GEN_STEP_SHORT=1), last.
# Bundle here: `make gpu-bundle-gen` (.gpu-gen/: longscan, test_gpu, this script). On the
# device: bash .gpu-gen/gpu_gen.sh (logs to $OUT: summary.txt, bench.txt, logs.tar.gz).
set -u
deadline=${DEADLINE:-290}
GPU_SCRIPT=$0
. "$(dirname "$0")/gpu_common.sh"
logs=$(mktemp -d /tmp/gpu-gen-logs.XXXXXX)

P=$logs/parity.log
step "test_gpu gen_step" 60 "$P" "$R" test_gpu gen_step
say "## gen_step: $(grep -c '^ok' "$P") ok, $(grep -c '^not ok' "$P") not ok"
grep '^not ok' "$P" | head -30 | cut -c1-400 | tee -a "$S"
grep -E '^ok .*(d256|tokens|d520)' "$P" | cut -c1-300 >> "$S"
P8=$logs/parity-cluster8.log
step "test_gpu gen_step LS_GEN_STEP_CLUSTER=8" 60 "$P8" env LS_GEN_STEP_CLUSTER=8 "$R" test_gpu \
    gen_step
say "## gen_step clusters of 8: $(grep -c '^ok' "$P8") ok, $(grep -c '^not ok' "$P8") not ok"
grep '^not ok' "$P8" | head -10 | cut -c1-400 | tee -a "$S"

# each bench step a few seconds (2048 steps x 3 batches x (1 warm-up + 3 runs))
B=$out/bench.txt
for prec in bf16 fp32; do
    for path in --fused cluster8 noprefetch --unfused; do
        pre=()
        case $path in
        cluster8 | noprefetch)
            [ "$prec" = fp32 ] && continue
            pre=(env LS_GEN_STEP_CLUSTER=8)
            [ "$path" = noprefetch ] && pre=(env LS_GEN_STEP_PREFETCH=0)
            path=--fused
            ;;
        esac
        if [ $((SECONDS + 25)) -ge "$deadline" ]; then # keep time for the memcheck
            say "## bench generate $prec $path: skipped (deadline)"
            continue
        fi
        step "bench generate $prec $path${pre[*]:+ ${pre[1]}}" 40 "$B" \
            ${pre[@]+"${pre[@]}"} "$R" longscan bench generate --device cuda --precision $prec \
            --batch 1,8,64 --steps 2048 --repeat 3 --verbosity 3 $path
    done
done
grep -E '^#|^[0-9]' "$B" | tee -a "$S"
grep -E 'fused generation step: B' "$B" | sed 's/^.*fused generation step/plan/' | sort | uniq \
    | tee -a "$S"

# the sanitizer last: the numbers above matter more when the call runs short
san=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
C=$logs/memcheck.log
export LS_GEN_STEP_SHORT=1
step "memcheck gen_step (short)" 60 "$C" "$san" --target-processes all \
    --tool memcheck --error-exitcode 9 "$R" test_gpu gen_step
unset LS_GEN_STEP_SHORT
grep -E '^(not )?ok|ERROR SUMMARY' "$C" | tail -8 | tee -a "$S"

tar -C "$logs" -czf "$out/logs.tar.gz" . && rm -rf "$logs"
say "# done in $SECONDS s"
