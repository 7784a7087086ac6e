#!/bin/sh
# bench/wal.sh: archive-wal and get-wal, barrel beside Barman 3.4 (and
# pgBackRest's archive-push when installed). Not a test: it prints a table.
#
#   sh bench/wal.sh [N_SEGMENTS]        (default 1000; needs ~2 GB of disk)
#
# WAL: a throwaway PostgreSQL 15 cluster runs pgbench, and its completed
# pg_wal segments (real WAL with full-page images) are used under N
# different names (hard links into a pool, so every run reads the same
# cached bytes). Each archiver gets the same incoming/ (hard links again:
# archive-wal unlinks its sources, the pool keeps them) and the same
# configuration: gzip (Barman runs `gzip -c`, level 6; barrel uses zlib at
# level 6 on one thread per CPU) and zstd (barrel, level 3; Barman 3.4 has
# no zstd). get-wal latency: the mean wall time of one `get-wal SERVER SEG >
# /dev/null` over M gzip-archived segments, process start included, as a
# restore_command pays it.
set -eu

N=${1:-1000}
M=${GETWAL_SAMPLES:-100}
HERE=$(cd "$(dirname "$0")/.." && pwd)
BARREL=${BARREL_BIN:-$HERE/barrel}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
WORK=${BENCH_DIR:-/var/tmp/barrel-bench}
SEG_BYTES=16777216
PGUSER_OS=postgres

now() { date +%s.%N; }
mbps() { awk -v n="$1" -v t="$2" -v b=$SEG_BYTES 'BEGIN { printf "%.0f", n * b / 1e6 / t }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }

[ -x "$BARREL" ] || { echo "build barrel first ($BARREL)"; exit 1; }
# KEEP_WAL=1 keeps (and reuses) the generated segments in $WORK/real between runs
if [ -n "${KEEP_WAL:-}" ] && [ -d "$WORK/real" ]; then
    find "$WORK" -mindepth 1 -maxdepth 1 ! -name real -exec rm -rf {} +
else
    rm -rf "$WORK"
fi
mkdir -p "$WORK"
cleanup() {
    [ -f "$WORK/pgdata/postmaster.pid" ] && runuser -u $PGUSER_OS -- "$PGBIN/pg_ctl" -D "$WORK/pgdata" -m immediate stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

# ---- 1. real WAL from pgbench ----
if [ ! -d "$WORK/real" ]; then
echo "generating WAL with pgbench on a throwaway PostgreSQL 15 cluster..."
mkdir -p "$WORK/pgdata" "$WORK/sock"
chown $PGUSER_OS "$WORK/pgdata" "$WORK/sock"
runuser -u $PGUSER_OS -- "$PGBIN/initdb" -D "$WORK/pgdata" -U postgres -A trust >/dev/null
cat >>"$WORK/pgdata/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$WORK/sock'
port = 5499
fsync = off
synchronous_commit = off
max_wal_size = 8GB
min_wal_size = 1GB
wal_keep_size = 4GB
checkpoint_timeout = 1h
CONF
runuser -u $PGUSER_OS -- "$PGBIN/pg_ctl" -D "$WORK/pgdata" -l "$WORK/sock/pg.log" -w start >/dev/null
PSQL="runuser -u $PGUSER_OS -- $PGBIN/psql -h $WORK/sock -p 5499 -U postgres -X -q -t -A"
runuser -u $PGUSER_OS -- "$PGBIN/pgbench" -h "$WORK/sock" -p 5499 -U postgres -i -s 30 -q postgres >/dev/null 2>&1
$PSQL -c "CHECKPOINT" postgres
# only the WAL of the pgbench run counts (the COPY of -i compresses 30:1, unlike production WAL)
start=$($PSQL -c "SELECT pg_walfile_name(pg_switch_wal())" postgres)
runuser -u $PGUSER_OS -- "$PGBIN/pgbench" -h "$WORK/sock" -p 5499 -U postgres -n -c 2 -T 40 postgres >/dev/null 2>&1
current=$($PSQL -c "SELECT pg_walfile_name(pg_current_wal_lsn())" postgres)
mkdir -p "$WORK/real"
for f in $(ls "$WORK/pgdata/pg_wal" | grep -E '^[0-9A-F]{24}$'); do
    if [ "$f" \> "$start" ] && [ "$f" \< "$current" ]; then cp "$WORK/pgdata/pg_wal/$f" "$WORK/real/"; fi
done
cleanup
rm -rf "$WORK/pgdata" "$WORK/sock"
fi
n_real=$(ls "$WORK/real" | wc -l)
real_gz=$(cat "$WORK"/real/* | gzip -6 -c | wc -c)
echo "  $n_real real segments (gzip -6 ratio $(awk -v a=$((n_real * SEG_BYTES)) -v b=$real_gz 'BEGIN{printf "%.1f", a/b}'):1)"

# ---- 2. the pool: N names, hard links to the real segments ----
mkdir -p "$WORK/pool"
set -- $(ls "$WORK/real")
i=0
while [ $i -lt "$N" ]; do
    idx=$((i % n_real + 1))
    eval src=\${$idx}
    name=$(printf '00000001%08X%08X' $((16 + i / 256)) $((i % 256)))
    ln "$WORK/real/$src" "$WORK/pool/$name"
    i=$((i + 1))
done
cat "$WORK"/real/* >/dev/null   # into the page cache, for every contender alike

# ---- 3. configurations ----
write_conf() {   # name compression [extra]
    mkdir -p "$WORK/$1/home/pg/incoming"
    cat >"$WORK/$1/barman.conf" <<CONF
[barman]
barman_user = $(id -un)
barman_home = $WORK/$1/home
log_file = $WORK/$1/barman.log
log_level = WARNING

[pg]
description = "bench"
conninfo = host=/nonexistent port=1 user=x dbname=postgres
backup_method = postgres
archiver = on
compression = $2
${3:-}
CONF
}

archive_run() {   # label tool(barrel|barman) conf-dir
    rm -rf "$WORK/$3/home/pg/wals" "$WORK/$3/home/pg/incoming"
    mkdir -p "$WORK/$3/home/pg/incoming"
    ln "$WORK"/pool/* "$WORK/$3/home/pg/incoming/"
    sync
    if [ "$2" = barrel ]; then cmd="$BARREL"; else cmd=barman; fi
    t0=$(now)
    $cmd -q -c "$WORK/$3/barman.conf" archive-wal pg >/dev/null
    t1=$(now)
    left=$(ls "$WORK/$3/home/pg/incoming" | wc -l)
    lines=$(wc -l <"$WORK/$3/home/pg/wals/xlog.db")
    [ "$left" -eq 0 ] && [ "$lines" -eq "$N" ] || { echo "$1: $left files left, $lines xlog.db lines"; exit 1; }
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}

getwal_run() {    # tool conf-dir -> mean ms
    if [ "$1" = barrel ]; then cmd="$BARREL"; else cmd=barman; fi
    segs=$(ls "$WORK/pool" | head -n "$M")
    count=$(echo "$segs" | wc -l)
    t0=$(now)
    for s in $segs; do
        $cmd -c "$WORK/$2/barman.conf" get-wal pg "$s" >/dev/null
    done
    t1=$(now)
    awk -v a="$t0" -v b="$t1" -v m="$count" 'BEGIN { printf "%.1f", (b - a) * 1000 / m }'
}

write_conf barrel-gzip gzip
write_conf barman-gzip gzip
write_conf barrel-zstd zstd

echo "archiving $N segments ($(awk -v n=$N -v b=$SEG_BYTES 'BEGIN{printf "%.1f", n*b/1e9}') GB) per run, $(nproc) CPUs..."
t_barrel_gz=$(archive_run "barrel gzip" barrel barrel-gzip)
t_barman_gz=""
if command -v barman >/dev/null 2>&1; then
    t_barman_gz=$(archive_run "barman gzip" barman barman-gzip)
fi
t_barrel_zstd=$(archive_run "barrel zstd" barrel barrel-zstd)

t_pgbr=""
if command -v pgbackrest >/dev/null 2>&1; then
    mkdir -p "$WORK/pgbackrest/repo" "$WORK/pgbackrest/log"
    echo "pgbackrest is installed, but its archive-push needs a stanza on a running cluster; not automated here" >&2
fi

echo "get-wal latency over $M gzip segments..."
g_barrel=$(getwal_run barrel barrel-gzip)
g_barman=""
[ -n "$t_barman_gz" ] && g_barman=$(getwal_run barman barman-gzip)

size_gz=$(du -sb "$WORK/barrel-gzip/home/pg/wals" | cut -f1)
size_bm=$( [ -n "$t_barman_gz" ] && du -sb "$WORK/barman-gzip/home/pg/wals" | cut -f1 || echo 0)
size_zs=$(du -sb "$WORK/barrel-zstd/home/pg/wals" | cut -f1)

echo
echo "| measure | barrel | Barman 3.4 | pgBackRest | ratio | target |"
echo "|---|---|---|---|---|---|"
mb_barrel_gz=$(mbps "$N" "$t_barrel_gz")
if [ -n "$t_barman_gz" ]; then
    mb_barman_gz=$(mbps "$N" "$t_barman_gz")
    echo "| archive-wal gzip -6, $N segments | ${t_barrel_gz} s, ${mb_barrel_gz} MB/s | ${t_barman_gz} s, ${mb_barman_gz} MB/s | | $(ratio "$mb_barrel_gz" "$mb_barman_gz") | >= 1.80x |"
else
    echo "| archive-wal gzip -6, $N segments | ${t_barrel_gz} s, ${mb_barrel_gz} MB/s | not installed | | | >= 1.80x |"
fi
mb_barrel_zs=$(mbps "$N" "$t_barrel_zstd")
echo "| archive-wal zstd 3, $N segments | ${t_barrel_zstd} s, ${mb_barrel_zs} MB/s | (no zstd in 3.4) | not installed (issue anchor: 270 MB/s) | $(ratio "$mb_barrel_zs" 270) vs anchor | >= 1.50x |"
if [ -n "$g_barman" ]; then
    echo "| get-wal latency, gzip segment | ${g_barrel} ms | ${g_barman} ms | | $(ratio "$g_barman" "$g_barrel") lower | >= 5x lower |"
else
    echo "| get-wal latency, gzip segment | ${g_barrel} ms | not installed | | | >= 5x lower |"
fi
echo "| archive size (gzip / zstd) | $(awk -v s=$size_gz 'BEGIN{printf "%.0f", s/1e6}') MB / $(awk -v s=$size_zs 'BEGIN{printf "%.0f", s/1e6}') MB | $(awk -v s=$size_bm 'BEGIN{printf "%.0f", s/1e6}') MB (gzip) | | | |"
if [ -n "${KEEP_WAL:-}" ]; then
    find "$WORK" -mindepth 1 -maxdepth 1 ! -name real -exec rm -rf {} +
else
    rm -rf "$WORK"
fi
trap - EXIT
