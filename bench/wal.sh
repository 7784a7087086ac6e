#!/bin/sh
# bench/wal.sh [N_SEGMENTS]: the WAL section of bench/run alone (archive-wal of
# N real segments, gzip beside Barman and zstd beside pgBackRest's archive-push;
# get-wal latency beside barman get-wal), on a pgbench -s 30 cluster whose
# UPDATEs make the WAL. See bench/run for the details.
WAL_SEGMENTS=${1:-1000} exec "$(dirname "$0")/run" --scale "${SCALE:-30}" --only wal
