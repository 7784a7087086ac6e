#!/bin/sh
# bench/restore.sh [SCALE] [WAL_MB]: the restore and PITR sections of bench/run
# alone (barrel recover beside zstd -dc | tar -x, barman recover and pgbackrest
# restore; time to a queryable server at a PITR target with WAL_MB of gzip WAL,
# barrel beside Barman). See bench/run for the details.
PITR_WAL_MB=${2:-1024} exec "$(dirname "$0")/run" --scale "${1:-20}" --only "restore pitr"
