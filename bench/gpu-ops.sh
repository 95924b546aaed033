#!/usr/bin/env bash
# bench/gpu-ops.sh — the ops helper's one call on the lent GPU machine (issue 11, every op
# family but the scan and attention): the parity suites of build/test_gpu in full, the conv
# timing harness (kernels/dev/conv.cu), and compute-sanitizer memcheck + racecheck on the short
# sizes (LS_GPU_SHORT=1). Logs go to $OUT (or /tmp/gpu-ops); a summary is printed last.
# Build here first:
#   make -j2 build/test_gpu && nvcc ... kernels/dev/conv.cu (see its top) -o build/conv_dev
#   ../shared/tools/gpu-bundle <dir> build/test_gpu build/conv_dev; cp bench/gpu-ops.sh <dir>/
# then on the device, from the checkout root: bash <dir>/gpu-ops.sh <dir>
# QUICK=1: conv timing and the parity suites only, with short limits (no sanitizers).
set -u
QUICK=${QUICK:-0}
G=${1:-.gpu-ops}
out=${OUT:-/tmp/gpu-ops}
mkdir -p "$out"
SUITES="runtime conv matmul norm act embedding loss pool optim"
# the sanitizers skip matmul (cuBLAS's own kernels take long to instrument; ours are checked)
# (and the runtime suite, whose deliberate 1 PiB allocation memcheck reports as an API error)
SAN_SUITES="conv norm act embedding loss pool optim"
san=$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)
{
    echo "# commit: $(cat "$G/COMMIT" 2>/dev/null || echo unknown)"
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm \
        --format=csv,noheader 2>&1 | sed 's/^/# gpu: /'
    nproc | sed 's/^/# cpus: /'
} > "$out/info.log"
cat "$out/info.log"

t0=$(date +%s)
timeout $([ "$QUICK" = 1 ] && echo 15 || echo 25) "$G/run" conv_dev > "$out/conv_bench.log" 2>&1
echo "conv_dev rc=$? ($(( $(date +%s) - t0 )) s)"
t0=$(date +%s)
timeout $([ "$QUICK" = 1 ] && echo 35 || echo 70) "$G/run" test_gpu $SUITES > "$out/parity.log" 2>&1
echo "parity rc=$? ($(( $(date +%s) - t0 )) s)"
[ "$QUICK" = 1 ] || {
t0=$(date +%s)
LS_GPU_SHORT=1 timeout 30 "$san" --tool memcheck --leak-check full --error-exitcode 9 \
    --target-processes all "$G/run" test_gpu $SAN_SUITES > "$out/memcheck.log" 2>&1
echo "memcheck rc=$? ($(( $(date +%s) - t0 )) s)"
t0=$(date +%s)
LS_GPU_SHORT=1 timeout 20 "$san" --tool racecheck --error-exitcode 9 \
    --target-processes all "$G/run" test_gpu $SAN_SUITES > "$out/racecheck.log" 2>&1
echo "racecheck rc=$? ($(( $(date +%s) - t0 )) s)"
}

echo "===== summary"
for f in parity memcheck racecheck; do
    [ -f "$out/$f.log" ] || continue
    printf '%-10s ok %s, not ok %s, plan %s\n' "$f" "$(grep -c '^ok ' "$out/$f.log")" \
        "$(grep -c '^not ok' "$out/$f.log")" "$(grep -m1 '^1\.\.' "$out/$f.log")"
done
[ "$QUICK" = 1 ] || grep -H 'ERROR SUMMARY\|RACECHECK SUMMARY\|LEAK SUMMARY' "$out"/*check*.log
echo "----- failures (parity, first 40)"
grep '^not ok' "$out/parity.log" | head -40
grep -i 'cuBLASLt has no\|error\|abort\|fault' "$out/parity.log" | grep -v '^ok\|^not ok' | head -10
echo "----- sanitizer failures (first 10)"
grep '^not ok\|Invalid\|Race\|Hazard' "$out"/*check*.log 2>/dev/null | head -10
echo "----- conv"
cat "$out/conv_bench.log"
