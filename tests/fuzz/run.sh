#!/bin/sh
# Run each libFuzzer target for FUZZ_SECONDS seconds (default 20) over a
# copy of its seed corpus tests/fuzz/corpus/<name>/ (libFuzzer adds the new
# inputs it finds to the first directory it is given: the copy, never the
# repository). A crash leaves build/fuzz/artifacts/<name>-crash-<sha1>; the
# script then prints the reproducer command and exits 1.
set -u
secs=${FUZZ_SECONDS:-20}
failed=""
for bin in "$@"; do
    name=$(basename "$bin")          # fuzz_<target>
    target=${name#fuzz_}
    work="build/fuzz/corpus/$target"
    art="build/fuzz/artifacts"
    mkdir -p "$work" "$art"
    seeds="tests/fuzz/corpus/$target"
    [ -d "$seeds" ] || seeds=""
    echo "== $name: ${secs}s (seeds: ${seeds:-none})"
    # -rss_limit_mb and -timeout: a slow or huge input is a bug too
    # a fixed seed (FUZZ_SEED, default 1) keeps CI reproducible; set another to explore
    if ! "./$bin" -seed="${FUZZ_SEED:-1}" -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
            -artifact_prefix="$art/$target-" "$work" $seeds >"$art/$target.log" 2>&1; then
        tail -40 "$art/$target.log"
        echo "$name: FAILED; replay with: ./$bin $art/$target-crash-*"
        failed="$failed $name"
    else
        grep -E '^stat::number_of_executed_units|^stat::new_units_added' "$art/$target.log" | tr '\n' ' '
        echo
    fi
done
if [ -n "$failed" ]; then
    echo "fuzz: failures:$failed"
    exit 1
fi
echo "fuzz: $# targets, ${secs}s each, no crash"
