# parallel_common.sh — what test_dp.sh, test_sp.sh and test_gck.sh share (sourced, not run):
# the TAP counters and ok / not_ok, the two closeness checks with their tolerances (the
# scripts' headers say why those), and check_run. The caller sets `here` (its folder); this
# sets root, LONGSCAN, BUILD, ST_TOOL (build/tests/helpers/st_tool), EX, and TMP (removed at
# exit), and enters TMP.
root=$(cd "$here/../.." && pwd)
LONGSCAN=${LONGSCAN:-$root/build/longscan}
BUILD=${LS_BUILD:-$root/build}
ST_TOOL=$BUILD/tests/helpers/st_tool
EX=$root/examples/data
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cd "$TMP" || exit 1
n=0; failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; shift; for l in "$@"; do echo "# $l"; done; }

# columns 3 (loss) and 5 (grad_norm) of two logs within 1e-5 * max(1, |a|)
logs_close() {
    paste -d, "$1" "$2" | awk -F, -v h="$3" 'NR == 1 { next }
        { for (k = 0; k < 2; k++) { c = k ? 5 : 3; a = $c; b = $(c + h)
              d = a - b; if (d < 0) d = -d; m = a < 0 ? -a : a; if (m < 1) m = 1
              if (d > 1e-5 * m) { print "step " $1 " column " c ": " a " vs " b; exit 1 } } }
        END { if (NR < 2) { print "empty log"; exit 1 } }'
}
# every tensor value of two checkpoints within 1e-5 (st_tool dump: one "values" line a tensor)
weights_close() {
    paste -d'\n' <("$ST_TOOL" dump "$1" | grep '^values') <("$ST_TOOL" dump "$2" | grep '^values') |
    awk 'NR % 2 == 1 { n = split($0, a, /[ \t]+/); next }
         { if (split($0, b, /[ \t]+/) != n) { print "tensor shapes differ"; exit 1 }
           for (i = 2; i <= n; i++) { d = a[i] - b[i]; if (d < 0) d = -d; if (d > w) w = d } }
         END { if (NR < 2) { print "no tensors"; exit 1 }
               printf "max |difference| %.3g\n", w; exit !(w <= 1e-5) }'
}
check_run() { # name command...
    local name=$1; shift
    "$@" > "$name.out" 2> "$name.err"
    local status=$?
    [ "$status" = 0 ] && return 0
    not_ok "$name runs" "exit status $status: $*" "$(tail -3 "$name.err")"
    return 1
}
