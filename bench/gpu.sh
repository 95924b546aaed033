#!/usr/bin/env bash
# bench/gpu.sh — everything the lent GPU machine checks and times, in one call:
#   1. test_gpu: every CUDA op against its CPU specification (tests/gpu, all suites);
#   2. compute-sanitizer memcheck + racecheck on the short suites;
#   3. the development harnesses at their default sizes (kernels/dev: scan, conv, attention);
#   4. `longscan bench kernels` with the peers' numbers (../shared/anchors/peers-h100.json).
# Build and bundle here:   make gpu-bundle          (writes .gpu/, ignored by git)
# On the device:           bash bench/gpu.sh [steps] (carry .gpu; steps: any of
#                          parity,sanitize,harness,bench; default all)
# Logs go to $OUT (one tarball of the logs plus summary.txt); the summary is printed last.
set -u
# LS_GPU_DIR: the bundle (default .gpu); LS_GPU_TAG: a name for this bundle's logs (several
# bundles can run in one call, e.g. the chosen kernels and a candidate); LS_GPU_SUITES: the
# parity suites (default all).
root=$(cd "$(dirname "$0")/.." && pwd)
G=$root/${LS_GPU_DIR:-.gpu}
tag=${LS_GPU_TAG:-main}
steps=${1:-parity,sanitize,harness,bench}
out=${OUT:-/tmp/gpu-out}
logs=/tmp/gpu-logs-$tag
rm -rf "$logs" && mkdir -p "$out" "$logs"
has() { [[ ",$steps," == *",$1,"* ]]; }
# the largest libraries travel gzipped
zlib=/tmp/gpu-libz-$tag && mkdir -p "$zlib"
for f in "$G"/libz/*.gz; do [ -e "$f" ] && gunzip -c "$f" > "$zlib/$(basename "$f" .gz)"; done
# binaries may travel gzipped too (a second bundle beside .gpu, sharing its libraries)
for f in "$G"/bin/*.gz; do [ -e "$f" ] && gunzip -f "$f" && chmod +x "${f%.gz}"; done
export LD_LIBRARY_PATH="$zlib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
summary=$logs/summary-$tag.txt
say() { echo "$*" | tee -a "$summary"; }
say "# commit: $(tr '\n' ' ' < "$G/COMMIT" 2>/dev/null || echo unknown)"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm \
    --format=csv,noheader 2>&1 | sed 's/^/# gpu: /' | tee -a "$summary"
step() { # name timeout log command...
    local name=$1 t=$2 log=$3; shift 3
    local t0=$SECONDS
    timeout "$t" "$@" > "$logs/$log" 2>&1
    local rc=$?
    say "## $name: rc=$rc ($((SECONDS - t0)) s)"
    cp "$summary" "$out/" # what ran so far comes back even when the call is cut off
    return $rc
}
status=0
if has parity; then
    step "parity (all suites)" 300 parity.log "$G/run" test_gpu ${LS_GPU_SUITES:-} || status=1
    say "   $(grep -c '^ok' "$logs/parity.log") ok, $(grep -c '^not ok' "$logs/parity.log") not ok"
    grep '^not ok' "$logs/parity.log" | head -30 | cut -c1-300 | tee -a "$summary"
fi
if has sanitize; then
    short="scan_short attention_small conv norm act embedding loss pool optim"
    for tool in memcheck racecheck; do
        LS_GPU_SHORT=1 step "$tool" 150 $tool.log compute-sanitizer --tool $tool \
            --target-processes all --error-exitcode 99 "$G/run" test_gpu $short || status=1
        grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$logs/$tool.log" | tail -1 | tee -a "$summary"
    done
fi
if has harness; then # LS_GPU_HARNESS: which harnesses (default scan conv attention)
    h=" ${LS_GPU_HARNESS:-scan conv attention} "
    [[ $h == *" scan "* ]] && step "harness scan (L = 1M)" 120 harness_scan.log "$G/run" scan 1048576 10 65536
    [[ $h == *" conv "* ]] && step "harness conv (D = 1024, L = 1M)" 60 harness_conv.log "$G/run" conv
    [[ $h == *" attention "* ]] && step "harness attention" 90 harness_attention.log "$G/run" attention 4096 16384 65536
    cat "$logs"/harness_*.log 2>/dev/null | grep -v '^$' | tail -60 | tee -a "$summary"
fi
if has bench; then
    step "bench kernels" 200 bench.txt "$G/run" longscan bench kernels \
        --peers "$G/peers-h100.json" --csv "$logs/bench.csv" || status=1
    tee -a "$summary" < "$logs/bench.txt"
fi
cp "$summary" "$out/"
tar -czf "$out/logs-$tag.tar.gz" -C "$logs" .
exit $status
