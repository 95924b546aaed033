#!/usr/bin/env bash
# numeric_diff.sh A B TOL — compare two tab-separated outputs line by line: the same number of
# lines and fields, text fields equal, numeric fields within TOL·max(1, |a|) (the streamed and
# the one-pass results differ by fp32 rounding, and %.6g prints 6 significant digits).
# Prints "same N" (N lines) and exits 0, or names the first difference and exits 1.
set -u
awk -F'\t' -v tol="$3" '
    function isnum(s) { return s ~ /^-?[0-9.]+([eE][-+]?[0-9]+)?$/ }
    NR == FNR { a[FNR] = $0; na = FNR; next }
    {
        nb = FNR
        if (!(FNR in a)) { print "B has more lines than A"; bad = 1; exit 1 }
        n = split(a[FNR], x, "\t")
        if (n != NF) { print "line " FNR ": " n " fields vs " NF; bad = 1; exit 1 }
        for (i = 1; i <= NF; i++) {
            if (x[i] == $i) continue
            if (!isnum(x[i]) || !isnum($i)) {
                print "line " FNR " field " i ": " x[i] " vs " $i; bad = 1; exit 1
            }
            d = x[i] - $i; if (d < 0) d = -d
            m = x[i] < 0 ? -x[i] : x[i]; if (m < 1) m = 1
            if (d > tol * m) {
                print "line " FNR " field " i ": " x[i] " vs " $i; bad = 1; exit 1
            }
        }
    }
    END {
        if (bad) exit 1
        if (na != nb) { print "A has " na " lines, B " nb; exit 1 }
        print "same " na
    }
' "$1" "$2"
