#!/bin/sh
# bench/verify.sh: barrel verify-backup beside the plain decompression
# limit of the same archives. Not a test: it prints a table.
#
#   sh bench/verify.sh [SCALE] [RUNS]   (pgbench scale, default 100, ~15 MB per unit; best of RUNS, default 3)
#
# A throwaway PostgreSQL 15 cluster is filled with `pgbench -i -s SCALE`
# and backed up by `barrel backup` (zstd level 3, WAL archived through
# incoming/ so that the backup is DONE). Then, each timed with
# /usr/bin/time -v (best wall time of RUNS, page cache warm for all):
#   zstd -dc       `zstd -dc` of every archive of the backup to /dev/null:
#                  decompression alone, the limit
#   zstd -dc|tar   the same piped into `tar -tf -` (decompress + read tar)
#   verify-backup  barrel verify-backup: decompression, tar reading, CRC32C
#                  of every file against backup_manifest, WAL range check
# Throughput is the uncompressed size of the archives over the wall time;
# the target is verify-backup within 1.2x of zstd -dc.
set -eu

SCALE=${1:-100}
RUNS=${2:-3}
HERE=$(cd "$(dirname "$0")/.." && pwd)
BARREL=${BARREL_BIN:-$HERE/barrel}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
WORK=${BENCH_DIR:-/var/tmp/barrel-bench-verify}
PORT=${BENCH_PORT:-5497}
PGUSER_OS=postgres

[ -x "$BARREL" ] || { echo "build barrel first ($BARREL)"; exit 1; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time is needed (package time)"; exit 1; }
command -v zstd >/dev/null || { echo "zstd is needed"; exit 1; }
rm -rf "$WORK"
mkdir -p "$WORK/pgdata" "$WORK/sock" "$WORK/home/pg/incoming"
chown $PGUSER_OS "$WORK/pgdata" "$WORK/sock" "$WORK/home/pg/incoming"
cleanup() {
    [ -f "$WORK/pgdata/postmaster.pid" ] && runuser -u $PGUSER_OS -- "$PGBIN/pg_ctl" -D "$WORK/pgdata" -m immediate stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

IN="$WORK/home/pg/incoming"
echo "initialising a PostgreSQL 15 cluster with pgbench -i -s $SCALE..."
runuser -u $PGUSER_OS -- "$PGBIN/initdb" -D "$WORK/pgdata" -U postgres -A trust >/dev/null
cat >>"$WORK/pgdata/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$WORK/sock'
port = $PORT
fsync = off
synchronous_commit = off
wal_level = replica
max_wal_senders = 10
archive_mode = on
archive_command = 'test ! -f $IN/%f && cp %p $IN/%f.tmp && mv $IN/%f.tmp $IN/%f'
max_wal_size = 4GB
CONF
runuser -u $PGUSER_OS -- "$PGBIN/pg_ctl" -D "$WORK/pgdata" -l "$WORK/pgdata/pg.log" -w start >/dev/null
"$PGBIN/pgbench" -i -q -s "$SCALE" -h 127.0.0.1 -p $PORT -U postgres postgres >/dev/null 2>&1
DBSIZE=$("$PGBIN/psql" -qAt -h 127.0.0.1 -p $PORT -U postgres -c "SELECT pg_size_pretty(sum(pg_database_size(oid))) FROM pg_database" postgres)

CONN="host=127.0.0.1 port=$PORT user=postgres dbname=postgres"
cat >"$WORK/barrel.conf" <<CONF
[barman]
barman_home = $WORK/home
barman_user = $(id -un)
log_level = WARNING

[pg]
conninfo = $CONN
streaming_conninfo = $CONN
backup_method = postgres
archiver = on
immediate_checkpoint = true
backup_compression = zstd
backup_compression_level = 3
CONF
echo "database: $DBSIZE; backing up..."
"$BARREL" -q -c "$WORK/barrel.conf" backup --wait pg
DATA=$(ls -d "$WORK"/home/pg/base/*/data)
RAW=$(cat "$DATA"/*.tar.zst | zstd -dc | wc -c)
STORED=$(cat "$DATA"/*.tar.zst | wc -c)

measure() {   # time -v file -> "wall cpu rss_kb"
    awk -F': ' '
        /Elapsed \(wall clock\)/ { n = split($2, p, ":"); w = 0; for (i = 1; i <= n; i++) w = w * 60 + p[i] }
        /User time/ { u = $2 } /System time/ { s = $2 }
        /Maximum resident set size/ { r = $2 }
        END { printf "%.3f %.2f %d\n", w, u + s, r }' "$1"
}
RESULTS="$WORK/results"
: >"$RESULTS"
best() {   # $1 = label, rest = command (sh -c): keeps the run with the best wall time
    label=$1; shift
    b=""
    i=0
    while [ $i -lt "$RUNS" ]; do
        t0=$(date +%s.%N)
        /usr/bin/time -v -o "$WORK/time.txt" sh -c "$*" >/dev/null 2>"$WORK/err.txt" || { cat "$WORK/err.txt"; exit 1; }
        t1=$(date +%s.%N)
        # wall time from the nanosecond clock (time -v rounds to 10 ms)
        m=$(measure "$WORK/time.txt" | awk -v w="$(echo "$t0 $t1" | awk '{ printf "%.4f", $2 - $1 }')" '{ print w, $2, $3 }')
        if [ -z "$b" ] || [ "$(echo "$m $b" | awk '{ print ($1 < $4) }')" = 1 ]; then b=$m; fi
        i=$((i + 1))
    done
    echo "$label $b" >>"$RESULTS"
}
# warm the page cache once
cat "$DATA"/*.tar.zst >/dev/null
echo "timing (best of $RUNS)..."
best "zstd_-dc" "zstd -dc $DATA/*.tar.zst > /dev/null"
best "zstd_-dc|tar_-t" "zstd -dc $DATA/*.tar.zst | tar -tf - > /dev/null"
best "verify-backup" "'$BARREL' -q -c '$WORK/barrel.conf' verify-backup pg latest"

awk -v scale="$SCALE" -v db="$DBSIZE" -v raw="$RAW" -v stored="$STORED" -v cpus="$(nproc)" '
    { name[NR] = $1; wall[$1] = $2; cpu[$1] = $3; rss[$1] = $4 }
    END {
        printf "pgbench scale %s (%s): archives %.1f MB zstd, %.1f MB uncompressed; %s CPUs\n\n", scale, db,
            stored / 1e6, raw / 1e6, cpus
        printf "%-18s %9s %9s %10s %12s %9s\n", "tool", "wall s", "cpu s", "rss MB", "MB/s (raw)", "vs zstd"
        for (i = 1; i <= NR; i++) { n = name[i]; gsub("_", " ", name[i])
            printf "%-18s %9.3f %9.2f %10.1f %12.1f %9.2f\n", name[i], wall[n], cpu[n], rss[n] / 1024,
                raw / 1e6 / wall[n], wall[n] / wall["zstd_-dc"] }
        r = wall["verify-backup"] / wall["zstd_-dc"]
        printf "\nverify-backup / zstd -dc: %.2fx (target <= 1.20x): %s\n", r, r <= 1.2 ? "met" : "NOT met"
    }' "$RESULTS"
