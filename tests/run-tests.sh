#!/bin/sh
# Run cmocka test binaries, one after another, and sum their results.
# The last line is "N passed, N failed, N skipped"; the exit status is 1
# when any test failed or any binary exited non-zero (a crash counts).
# TEST_RUNNER, when set, is a command put before each binary (valgrind ...).
passed=0; failed=0; skipped=0; bad_bins=""
for bin in "$@"; do
    out=$(mktemp)
    echo "== $bin"
    # shellcheck disable=SC2086
    ${TEST_RUNNER:-} "./$bin" >"$out" 2>&1
    rc=$?
    cat "$out"
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | awk '{s+=$1} END {print s+0}')
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$out" | awk '{s+=$1} END {print s+0}')
    s=$(sed -n 's/^\[  SKIPPED \] \([0-9]*\) test.*/\1/p' "$out" | awk '{s+=$1} END {print s+0}')
    passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        # cmocka exits with the number of tests that failed or errored (a setup
        # failure prints no FAILED summary); 128 and above is a crash.
        if [ "$rc" -lt 128 ]; then n=$rc; else n=1; fi
        failed=$((failed + n)); bad_bins="$bad_bins $bin(exit $rc)"
    fi
    rm -f "$out"
done
[ -n "$bad_bins" ] && echo "binaries that exited non-zero without a FAILED summary:$bad_bins"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
