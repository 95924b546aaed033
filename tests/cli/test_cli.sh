#!/usr/bin/env bash
# test_cli.sh — table-driven end-to-end tests of the longscan command line, TAP output.
#
# Every tests/cli/*.tst file is a table, one case per line:
#     P|N  EXIT  EXPECT  COMMAND...
#   P  the command must exit with EXIT; EXPECT is an extended regex that stdout must match
#      (grep -E, any line), or '-' for no check of stdout.
#   N  the command must exit with EXIT, print nothing on stdout, and print exactly ONE line on
#      stderr that starts with 'longscan' and matches the regex EXPECT.
# Fields are separated by runs of spaces; EXPECT may not contain spaces (use '.' or [[:space:]]).
# COMMAND runs under bash with $LONGSCAN (the binary), $EX (examples/data), $FIX (fixtures made
# by tests/cli/make_bad_inputs.sh in a fresh temp folder) and $TMP (scratch).
# TABLES=augment (names without .tst, space-separated) runs only those tables, for iterating.
# Under SAN=1, sanitizer reports exit with 86/87, so a leak or UB can never pass as exit 1.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
LONGSCAN=${LONGSCAN:-$root/build/longscan}
EX=$root/examples/data
TMP=$(mktemp -d)
FIX=$TMP/fix
trap 'rm -rf "$TMP"' EXIT
export LONGSCAN EX FIX TMP
# allocator_may_return_null: an impossible request (generate --length 2^40) must reach the
# code's own out-of-memory line, as malloc's NULL does outside ASan (whose default aborts)
export ASAN_OPTIONS=${ASAN_OPTIONS:-exitcode=86:detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-exitcode=87:halt_on_error=1:print_stacktrace=1}

mkdir -p "$FIX"
if ! bash "$here/make_bad_inputs.sh" "$FIX" > "$TMP/fixtures.log" 2>&1; then
    echo "1..1"
    echo "not ok 1 - making fixtures failed:"
    sed 's/^/# /' "$TMP/fixtures.log"
    exit 1
fi

cases=()
tables=("$here"/*.tst)
if [ -n "${TABLES:-}" ]; then
    tables=()
    for t in $TABLES; do tables+=("$here/$t.tst"); done
fi
for table in "${tables[@]}"; do
    while IFS= read -r line; do
        [[ -z "${line//[[:space:]]/}" || "$line" =~ ^[[:space:]]*# ]] && continue
        cases+=("$(basename "$table" .tst)|$line")
    done < "$table"
done

echo "1..${#cases[@]}"
n=0; failed=0
for entry in "${cases[@]}"; do
    n=$((n + 1))
    table=${entry%%|*}
    line=${entry#*|}
    read -r kind want_exit expect command <<< "$line"
    (cd "$TMP" && bash -c "$command") > "$TMP/stdout" 2> "$TMP/stderr"
    got_exit=$?
    # under SAN=1, ASan's notice of a refused allocation (allocator_may_return_null, above) is
    # the sanitizer's line, not the program's: the one-line rule is about longscan's own
    if [ "${LS_SAN:-0}" = 1 ]; then
        sed -i '/^==[0-9]*==WARNING: AddressSanitizer failed to allocate /d' "$TMP/stderr"
    fi
    problem=""
    if [ "$got_exit" != "$want_exit" ]; then
        problem="exit status $got_exit, expected $want_exit"
    elif [ "$kind" = N ]; then
        lines=$(wc -l < "$TMP/stderr")
        if [ -s "$TMP/stdout" ]; then
            problem="stdout not empty on failure"
        elif [ "$lines" -ne 1 ]; then
            problem="stderr has $lines lines, expected exactly 1"
        elif ! grep -qE '^longscan' "$TMP/stderr"; then
            problem="stderr line does not start with 'longscan'"
        elif ! grep -qE -- "$expect" "$TMP/stderr"; then
            problem="stderr does not match /$expect/"
        fi
    elif [ "$expect" != "-" ] && ! grep -qE -- "$expect" "$TMP/stdout"; then
        problem="stdout does not match /$expect/"
    fi
    if [ -z "$problem" ]; then
        echo "ok $n - $table: $command"
    else
        failed=$((failed + 1))
        echo "not ok $n - $table: $command"
        echo "# $problem"
        head -c 2000 "$TMP/stderr" | sed 's/^/# stderr: /'
        head -c 1000 "$TMP/stdout" | sed 's/^/# stdout: /'
    fi
done
[ "$failed" -eq 0 ]
