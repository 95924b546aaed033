#!/usr/bin/env bash
# bench/attention_gpu.sh — one call on the lent GPU machine for the attention kernels: parity
# (tests/gpu/parity_attention.c), compute-sanitizer memcheck + racecheck on the small suite,
# the timing harness (kernels/dev/attention.cu) and PyTorch's SDPA backends on the same card.
# Build here (the bundle goes into the checkout that `run` sends, e.g. /work/main):
#   make -j2 build/test_gpu
#   nvcc -O3 -std=c++17 -I. -gencode arch=compute_90,code=sm_90 -Xcompiler -fopenmp \
#       -DLS_CUDA_ARCH_NAME='"sm_90"' kernels/dev/attention.cu build/liblongscan.a \
#       -o build/attention_dev
#   ../shared/tools/gpu-bundle DIR build/test_gpu build/attention_dev
#   cp bench/attention_gpu.sh kernels/dev/attention_torch.py DIR/
#   git rev-parse --short HEAD > DIR/COMMIT
# On the device (carry DIR): bash DIR/attention_gpu.sh   (logs to $OUT; summary printed last)
# Typical run well under the sum of the step timeouts (at most 6 min).
set -u
G=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/attn-out}
mkdir -p "$out"
exec > >(tee "$out/go.log") 2>&1
echo "# commit $(cat "$G/COMMIT" 2>/dev/null || echo unknown)"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu \
    --format=csv,noheader | sed 's/^/# gpu: /'
step() { # name timeout log command...
    local name=$1 t=$2 log=$3; shift 3
    local t0=$SECONDS
    timeout "$t" "$@" >"$out/$log" 2>&1
    local rc=$?
    echo "## $name: rc=$rc, $((SECONDS - t0)) s, log $log"
    summary+=("$name rc=$rc")
}
summary=()
step "parity small" 30 small.log "$G/run" test_gpu attention_small
grep -E "^not ok|^1\.\." "$out/small.log" | head -20
step "timing" 60 bench.log "$G/run" attention_dev 4096 16384 65536
cat "$out/bench.log"
step "parity full" 60 parity.log "$G/run" test_gpu attention
grep -E "^not ok|^1\.\." "$out/parity.log" | head -30
step "memcheck" 60 memcheck.log compute-sanitizer --target-processes all --tool memcheck \
    --error-exitcode 9 "$G/run" test_gpu attention_small
tail -2 "$out/memcheck.log"
step "racecheck" 90 racecheck.log compute-sanitizer --target-processes all --tool racecheck \
    --error-exitcode 9 "$G/run" test_gpu attention_small
tail -2 "$out/racecheck.log"
step "torch peers" 60 torch.log python3 "$G/attention_torch.py" 4096 16384 65536
cat "$out/torch.log"
echo "## summary: ${summary[*]}"
echo "## parity: $(grep -c '^ok' "$out/small.log") + $(grep -c '^ok' "$out/parity.log") ok," \
     "$(cat "$out/small.log" "$out/parity.log" | grep -c '^not ok') not ok"
