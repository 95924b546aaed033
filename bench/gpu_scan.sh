#!/usr/bin/env bash
# bench/gpu_scan.sh — the scan's GPU checks and timings in one device call (see bench/NOTES.md):
# parity (test_gpu scan), compute-sanitizer memcheck + racecheck on the short suite, the
# development harness (kernels/dev/scan.cu versions at L = 1M), and `longscan bench kernels`.
# Build here:  make build/longscan build/test_gpu build/dev/scan
#              ../shared/tools/gpu-bundle DIR build/longscan build/test_gpu build/dev/scan
#              cp bench/gpu_scan.sh ../shared/anchors/peers-h100.json DIR/   (+ COMMIT)
# On the device: bash DIR/gpu_scan.sh [steps]   (steps: any of parity,sanitize,harness,bench,ncu,
# sass; default parity,sanitize,harness,bench). Logs go to $OUT (or /tmp/gpu-scan); a summary is printed last.
set -u
G=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/gpu-scan}
steps=${1:-parity,sanitize,harness,bench}
mkdir -p "$out"
# large libraries travel gzipped (the device call carries at most 64 MiB)
zlib=/tmp/gpu-scan-lib
mkdir -p "$zlib"
for f in "$G"/libz/*.gz; do [ -e "$f" ] && gunzip -c "$f" > "$zlib/$(basename "$f" .gz)"; done
cuda_lib=$(ls -d /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib 2>/dev/null | head -1)
py_libs=$(python3 -c 'import importlib, os
for m in ("nvidia.cublas", "nvidia.cu13", "nvidia.cuda_runtime"):
    try: print(os.path.join(importlib.import_module(m).__path__[0], "lib"), end=":")
    except Exception: pass' 2>/dev/null || true)
export LD_LIBRARY_PATH="$G/lib:$zlib:$cuda_lib:$py_libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
has() { [[ ",$steps," == *",$1,"* ]]; }
{
    echo "# commit: $(cat "$G/COMMIT" 2>/dev/null || echo unknown)"
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm \
        --format=csv,noheader 2>&1 | sed 's/^/# gpu: /'
} | tee "$out/summary.txt"
if has parity; then
    start=$SECONDS
    timeout 240 "$G/bin/test_gpu" scan > "$out/parity.log" 2>&1
    rc=$?
    echo "## parity rc=$rc ($((SECONDS - start)) s): $(grep -c '^ok' "$out/parity.log") ok," \
         "$(grep -c '^not ok' "$out/parity.log") not ok" | tee -a "$out/summary.txt"
    grep '^not ok' "$out/parity.log" | head -40 | cut -c1-400 | tee -a "$out/summary.txt"
fi
if has sanitize; then
    for tool in memcheck racecheck; do
        start=$SECONDS
        timeout 150 compute-sanitizer --tool $tool --error-exitcode 99 "$G/bin/test_gpu" \
            scan_short > "$out/$tool.log" 2>&1
        rc=$?
        echo "## $tool rc=$rc ($((SECONDS - start)) s): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' \
             "$out/$tool.log" | tail -1)" | tee -a "$out/summary.txt"
    done
fi
if has harness; then
    start=$SECONDS
    timeout 200 "$G/bin/scan" 1048576 10 65536 > "$out/harness.log" 2>&1
    echo "## harness rc=$? ($((SECONDS - start)) s)" | tee -a "$out/summary.txt"
    cat "$out/harness.log" | tee -a "$out/summary.txt"
fi
if has bench; then
    start=$SECONDS
    timeout 200 "$G/bin/longscan" bench kernels --peers "$G/peers-h100.json" \
        --csv "$out/bench.csv" > "$out/bench.txt" 2>&1
    echo "## bench kernels rc=$? ($((SECONDS - start)) s)" | tee -a "$out/summary.txt"
    cat "$out/bench.txt" | tee -a "$out/summary.txt"
fi
if has ncu; then
    # one fwd+bwd call at L = 256K per dtype (the third: two warm-ups skipped), every scan kernel
    for t in f32 bf16; do
        start=$SECONDS
        timeout 150 ncu --clock-control none \
            -k regex:'fwd_local|fwd_fix|fwd_out|bwd_local|bwd_fix|bwd_window|param_reduce' \
            --launch-skip 14 --launch-count 7 --section SpeedOfLight --section Occupancy \
            --section LaunchStats --section WarpStateStats --section SchedulerStats \
            --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis \
            "$G/bin/longscan" bench kernels --workload scan_fwd_bwd --len 262144 --dtype $t \
            --repeat 10 > "$out/ncu_$t.txt" 2>&1
        echo "## ncu $t rc=$? ($((SECONDS - start)) s)" | tee -a "$out/summary.txt"
        grep -E '^  [a-z_]+.*\(|Duration|Issue Slots Busy|Executed Ipc Active|Achieved Occupancy|Memory Throughput|Compute \(SM\) Throughput' \
            "$out/ncu_$t.txt" | head -120 | tee -a "$out/summary.txt"
    done
fi
if has sass; then
    cuobjdump -sass "$G/bin/longscan" 2>/dev/null | awk '/Function : .*(fwd_out_kernelILi16E|bwd_window_kernelILi4E)/{p=1} p{print} /^\s+\.{10}/{p=0}' \
        > "$out/sass.txt"
    echo "## sass: $(wc -l < "$out/sass.txt") lines" | tee -a "$out/summary.txt"
fi
