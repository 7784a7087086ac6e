#!/bin/sh
# bench/backup.sh [SCALE]: the backup section of bench/run alone (barrel zstd 3
# with workers 1 and 2 beside pg_basebackup client-zstd:3 and server-zstd:3,
# Barman and pgBackRest where installed). See bench/run for the details.
exec "$(dirname "$0")/run" --scale "${1:-10}" --only backup
