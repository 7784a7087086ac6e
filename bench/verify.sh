#!/bin/sh
# bench/verify.sh [SCALE] [RUNS]: the verify section of bench/run alone
# (barrel verify-backup beside zstd -dc > /dev/null of the same archives).
# See bench/run for the details.
exec "$(dirname "$0")/run" --scale "${1:-100}" --rounds "${2:-3}" --only verify
