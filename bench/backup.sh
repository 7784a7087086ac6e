#!/bin/sh
# bench/backup.sh: barrel backup beside pg_basebackup -Ft with the same
# client-side zstd compression. Not a test: it prints a table.
#
#   sh bench/backup.sh [SCALE]        (pgbench scale, default 10; ~15 MB per unit)
#
# A throwaway PostgreSQL 15 cluster (archive_command = /bin/true, so that
# both tools pass the server's wait for WAL archiving at once) is filled with
# `pgbench -i -s SCALE`, then backed up, each run after a CHECKPOINT, with:
#   barrel          backup_compression = zstd, level 3, no worker threads
#   barrel w2       the same with backup_compression_workers = 2
#   pg_basebackup   -Ft -X none -c fast --compress=client-zstd:3
#   pg_basebackup w2  --compress=client-zstd:level=3,workers=2
# and /usr/bin/time -v gives wall time, CPU time (user + system) and peak
# RSS; the size is what each stored. Ratios are barrel / pg_basebackup.
set -eu

SCALE=${1:-10}
HERE=$(cd "$(dirname "$0")/.." && pwd)
BARREL=${BARREL_BIN:-$HERE/barrel}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
WORK=${BENCH_DIR:-/var/tmp/barrel-bench-backup}
PORT=${BENCH_PORT:-5498}
PGUSER_OS=postgres

[ -x "$BARREL" ] || { echo "build barrel first ($BARREL)"; exit 1; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time is needed (package time)"; exit 1; }
rm -rf "$WORK"
mkdir -p "$WORK/pgdata" "$WORK/sock"
chown $PGUSER_OS "$WORK/pgdata" "$WORK/sock"
cleanup() {
    [ -f "$WORK/pgdata/postmaster.pid" ] && runuser -u $PGUSER_OS -- "$PGBIN/pg_ctl" -D "$WORK/pgdata" -m immediate stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

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
archive_command = '/bin/true'
max_wal_size = 4GB
CONF
runuser -u $PGUSER_OS -- "$PGBIN/pg_ctl" -D "$WORK/pgdata" -l "$WORK/pgdata/pg.log" -w start >/dev/null
"$PGBIN/pgbench" -i -q -s "$SCALE" -h 127.0.0.1 -p $PORT -U postgres postgres >/dev/null 2>&1
DBSIZE=$("$PGBIN/psql" -qAt -h 127.0.0.1 -p $PORT -U postgres -c "SELECT pg_size_pretty(sum(pg_database_size(oid))) FROM pg_database" postgres)

CONN="host=127.0.0.1 port=$PORT user=postgres dbname=postgres"
write_conf() {   # $1 = workers
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
backup_compression_workers = $1
CONF
}

# time -v fields -> "wall cpu rss_kb"
measure() {
    awk -F': ' '
        /Elapsed \(wall clock\)/ { n = split($2, p, ":"); w = 0; for (i = 1; i <= n; i++) w = w * 60 + p[i] }
        /User time/ { u = $2 } /System time/ { s = $2 }
        /Maximum resident set size/ { r = $2 }
        END { printf "%.2f %.2f %d\n", w, u + s, r }' "$1"
}

checkpoint() { "$PGBIN/psql" -qAt -h 127.0.0.1 -p $PORT -U postgres -c CHECKPOINT postgres >/dev/null; }

RESULTS="$WORK/results"
: >"$RESULTS"
run_barrel() {   # $1 = label, $2 = workers
    write_conf "$2"
    rm -rf "$WORK/home"
    checkpoint
    /usr/bin/time -v -o "$WORK/time.txt" "$BARREL" -q -c "$WORK/barrel.conf" backup pg 2>"$WORK/barrel.err" || {
        cat "$WORK/barrel.err"; exit 1; }
    size=$(du -sb "$WORK"/home/pg/base/*/data | awk '{ print $1 }')
    echo "$1 $(measure "$WORK/time.txt") $size" >>"$RESULTS"
}
run_pgbb() {     # $1 = label, $2 = compression spec
    rm -rf "$WORK/pgbb"
    checkpoint
    /usr/bin/time -v -o "$WORK/time.txt" "$PGBIN/pg_basebackup" -d "$CONN" -D "$WORK/pgbb" -Ft -X none -c fast \
        --compress="$2" 2>"$WORK/pgbb.err" || { cat "$WORK/pgbb.err"; exit 1; }
    size=$(du -sb "$WORK/pgbb" | awk '{ print $1 }')
    echo "$1 $(measure "$WORK/time.txt") $size" >>"$RESULTS"
}

echo "database: $DBSIZE; running the backups..."
run_pgbb  pg_basebackup    client-zstd:3
run_barrel barrel          0
run_pgbb  pg_basebackup_w2 client-zstd:level=3,workers=2
run_barrel barrel_w2       2

awk -v scale="$SCALE" -v db="$DBSIZE" '
    { name[NR] = $1; wall[$1] = $2; cpu[$1] = $3; rss[$1] = $4; size[$1] = $5 }
    END {
        printf "pgbench scale %s (%s), zstd level 3\n\n", scale, db
        printf "%-18s %9s %9s %10s %11s\n", "tool", "wall s", "cpu s", "rss MB", "size MB"
        for (i = 1; i <= NR; i++) { n = name[i]
            printf "%-18s %9.2f %9.2f %10.1f %11.1f\n", n, wall[n], cpu[n], rss[n] / 1024, size[n] / 1e6 }
        printf "\nratios barrel / pg_basebackup (lower is better for time and memory)\n"
        printf "%-18s %9.2f %9.2f %10.2f %11.2f\n", "workers 0", wall["barrel"] / wall["pg_basebackup"],
            cpu["barrel"] / cpu["pg_basebackup"], rss["barrel"] / rss["pg_basebackup"], size["barrel"] / size["pg_basebackup"]
        printf "%-18s %9.2f %9.2f %10.2f %11.2f\n", "workers 2", wall["barrel_w2"] / wall["pg_basebackup_w2"],
            cpu["barrel_w2"] / cpu["pg_basebackup_w2"], rss["barrel_w2"] / rss["pg_basebackup_w2"],
            size["barrel_w2"] / size["pg_basebackup_w2"]
        printf "%-18s %9.2f\n", "barrel w2 / pgbb w0", wall["barrel_w2"] / wall["pg_basebackup"]
    }' "$RESULTS"
