# bench/gpu_common.sh — what every device-call script of a bundle starts with (sourced, not run):
# unpack the gzipped binaries and libraries, set LD_LIBRARY_PATH, and define
#   G (the bundle), out (= $OUT), R (the bundle's runner), S (summary.txt), say, and
#   step NAME TIMEOUT LOG COMMAND...: COMMAND (a program or an exported shell function) under
#   `timeout`, appended to LOG, its rc and seconds said; skipped once past $deadline (set it
#   before sourcing, seconds since the script started).
# The caller sets `set -u` and GPU_SCRIPT (its own path, for G).
G=$(cd "$(dirname "$GPU_SCRIPT")" && pwd)
out=${OUT:-/tmp/gpu-out}
mkdir -p "$out"
# a folder of this run's own: rewriting a shared one under a running program is a SIGBUS (seen
# here with two bundles tried at once)
zlib=$(mktemp -d /tmp/gpu-libz.XXXXXX)
for f in "$G"/libz/*.gz; do [ -e "$f" ] && gunzip -c "$f" > "$zlib/$(basename "$f" .gz)"; done
for f in "$G"/bin/*.gz; do [ -e "$f" ] && gunzip -f "$f" && chmod +x "${f%.gz}"; done
export LD_LIBRARY_PATH="$zlib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
R="$G/run"
S=$out/summary.txt
say() { echo "$*" | tee -a "$S"; }
step() { # name timeout log command...
    local name=$1 t=$2 log=$3; shift 3
    if [ $((SECONDS + 5)) -ge "$deadline" ]; then say "## $name: skipped (deadline)"; return 1; fi
    [ $((SECONDS + t)) -gt "$deadline" ] && t=$((deadline - SECONDS))
    local t0=$SECONDS
    echo "### $name" >> "$log"
    # through bash: exported shell functions run too (a bare `timeout fn` is rc 127)
    timeout "$t" bash -c '"$@"' step "$@" >> "$log" 2>&1
    local rc=$?
    say "## $name: rc=$rc ($((SECONDS - t0)) s)"
    return $rc
}
say "# commit: $(tr '\n' ' ' < "$G/COMMIT" 2>/dev/null || echo unknown)"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm \
    --format=csv,noheader 2>&1 | sed 's/^/# gpu: /' | tee -a "$S"
