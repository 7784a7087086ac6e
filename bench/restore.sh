#!/bin/sh
# bench/restore.sh: barrel recover beside plain `zstd -dc | tar -x` (the
# limit) and beside `barman recover` of a Barman 3.4 backup of the same
# data; then the time to a queryable server at a PITR target with about
# WAL_MB of archived WAL (gzip WAL in both catalogs). Not a test: it prints
# a table.
#
#   sh bench/restore.sh [SCALE] [WAL_MB]     (pgbench scale, default 20; WAL to replay, default 1024)
#
# One PostgreSQL 15 cluster (as user postgres) archives every segment into
# both catalogs (archive_command copies to barrel's and Barman's incoming/),
# is filled with `pgbench -i -s SCALE`, and backed up by both tools as
# zstd tar archives. Restore wall times, each into a new directory:
#   tar           zstd -dc base.tar.zst | tar -xf -   (barrel's archive; no checks, no fsync)
#   barrel -j1    barrel recover (manifest checked on the way, one syncfs at the end)
#   barrel -j2    the same with --jobs 2
#   barman        barman recover --recovery-staging-path (rsync to staging, tar -x)
# Then `UPDATE pgbench_accounts` passes write about WAL_MB of WAL after the
# backups; the target time is taken after them. Time to a queryable server:
# recover --target-time, pg_ctl start, and polling until replay has paused
# at the target (recovery_target_action defaults to pause).
set -eu

SCALE=${1:-20}
WAL_MB=${2:-1024}
HERE=$(cd "$(dirname "$0")/.." && pwd)
BARREL=${BARREL_BIN:-$HERE/barrel}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
WORK=${BENCH_DIR:-/var/tmp/barrel-bench-restore}
PORT=${BENCH_PORT:-5497}
RPORT=$((PORT + 1))
PGU=postgres

[ -x "$BARREL" ] || { echo "build barrel first ($BARREL)"; exit 1; }
HAVE_BARMAN=0
command -v barman >/dev/null 2>&1 && HAVE_BARMAN=1

cleanup() {
    for d in "$WORK"/pgdata "$WORK"/r_*; do
        [ -f "$d/postmaster.pid" ] && runuser -u $PGU -- "$PGBIN/pg_ctl" -D "$d" -m immediate stop >/dev/null 2>&1 || true
    done
}
trap cleanup EXIT
cleanup
rm -rf "$WORK"
mkdir -p "$WORK/pgdata" "$WORK/sock" "$WORK/barrel/pg/incoming" "$WORK/barman/pgb/incoming" "$WORK/stage"
chown $PGU "$WORK/pgdata" "$WORK/sock"
chmod 0777 "$WORK/barrel/pg/incoming" "$WORK/barman/pgb/incoming"
chmod 0755 "$WORK" "$WORK/barrel" "$WORK/barrel/pg" "$WORK/barman" "$WORK/barman/pgb"

now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc; }

echo "initialising PostgreSQL 15 with pgbench -i -s $SCALE..."
runuser -u $PGU -- "$PGBIN/initdb" -D "$WORK/pgdata" -U postgres -A trust >/dev/null
cat >>"$WORK/pgdata/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$WORK/sock'
port = $PORT
fsync = off
synchronous_commit = off
wal_level = replica
max_wal_senders = 10
archive_mode = on
archive_command = 'cp %p $WORK/barrel/pg/incoming/%f.tmp && mv $WORK/barrel/pg/incoming/%f.tmp $WORK/barrel/pg/incoming/%f && cp %p $WORK/barman/pgb/incoming/%f.tmp && mv $WORK/barman/pgb/incoming/%f.tmp $WORK/barman/pgb/incoming/%f'
max_wal_size = 8GB
checkpoint_timeout = 60s
CONF
runuser -u $PGU -- "$PGBIN/pg_ctl" -D "$WORK/pgdata" -l "$WORK/sock/pg.log" -w start >/dev/null
PSQL="$PGBIN/psql -X -q -At -h 127.0.0.1 -p $PORT -U postgres"
$PGBIN/pgbench -i -q -s "$SCALE" -h 127.0.0.1 -p $PORT -U postgres postgres >/dev/null 2>&1

CONNINFO="host=127.0.0.1 port=$PORT user=postgres dbname=postgres"
cat >"$WORK/barrel.conf" <<CONF
[barman]
barman_home = $WORK/barrel
barman_user = root
log_level = WARNING

[pg]
conninfo = $CONNINFO
streaming_conninfo = $CONNINFO
backup_method = postgres
backup_compression = zstd
immediate_checkpoint = true
archiver = on
compression = gzip
CONF
cat >"$WORK/barman.conf" <<CONF
[barman]
barman_home = $WORK/barman
barman_user = root
log_file = $WORK/barman/barman.log
log_level = WARNING

[pgb]
conninfo = $CONNINFO
streaming_conninfo = $CONNINFO
backup_method = postgres
backup_compression = zstd
immediate_checkpoint = true
archiver = on
compression = gzip
CONF
B() { "$BARREL" -c "$WORK/barrel.conf" "$@"; }
M() { barman -c "$WORK/barman.conf" "$@"; }

# archive everything written so far, in both catalogs
archive_all() {
    seg=$($PSQL -c "SELECT pg_walfile_name(pg_switch_wal())")
    while [ "$($PSQL -c "SELECT coalesce(last_archived_wal,'') >= '$seg' FROM pg_stat_archiver")" != t ]; do sleep 0.2; done
    B archive-wal pg >/dev/null
    [ $HAVE_BARMAN = 1 ] && M archive-wal pgb >/dev/null 2>&1 || true
}

echo "backing up with barrel and Barman..."
archive_all   # Barman refuses a first backup before one WAL file is archived
B backup pg >/dev/null
if [ $HAVE_BARMAN = 1 ]; then
    M backup --wait --wait-timeout 300 pgb >/dev/null 2>&1 &
    MB=$!
    sleep 2
    while kill -0 $MB 2>/dev/null; do archive_all; sleep 1; done
    wait $MB || true
fi
archive_all
ID=$(B list-backups --minimal pg | head -1)
DATA_SIZE=$(du -sm "$WORK/pgdata/base" | cut -f1)

# ---- restore wall time ----
echo "timing restores of backup $ID (data: ${DATA_SIZE} MB)..."
cat "$WORK/barrel/pg/base/$ID/data/"* >/dev/null   # same page cache for everyone
t0=$(now); mkdir "$WORK/r_tar"; zstd -q -dc "$WORK/barrel/pg/base/$ID/data/base.tar.zst" | tar -xf - -C "$WORK/r_tar"; t1=$(now)
T_TAR=$(elapsed $t0 $t1)
t0=$(now); B recover pg latest "$WORK/r_j1" --jobs 1 >/dev/null; t1=$(now)
T_J1=$(elapsed $t0 $t1)
t0=$(now); B recover pg latest "$WORK/r_j2" --jobs 2 >/dev/null; t1=$(now)
T_J2=$(elapsed $t0 $t1)
T_BARMAN=n/a
if [ $HAVE_BARMAN = 1 ] && M list-backups pgb 2>/dev/null | grep -q .; then
    t0=$(now); M recover --recovery-staging-path "$WORK/stage" pgb latest "$WORK/r_barman" >/dev/null 2>&1; t1=$(now)
    T_BARMAN=$(elapsed $t0 $t1)
fi
rm -rf "$WORK"/r_tar "$WORK"/r_j1 "$WORK"/r_j2 "$WORK"/r_barman

# ---- PITR with about WAL_MB of WAL ----
echo "writing about $WAL_MB MB of WAL after the backups..."
start_lsn=$($PSQL -c "SELECT pg_current_wal_insert_lsn()")
while [ "$($PSQL -c "SELECT (pg_current_wal_insert_lsn() - '$start_lsn') / 1048576 >= $WAL_MB")" != t ]; do
    $PSQL -c "UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid % 4 = (random() * 3)::int" >/dev/null
done
$PSQL -c "CREATE TABLE pitr_mark AS SELECT 1 AS id"
sleep 1
TARGET=$($PSQL -c "SELECT clock_timestamp()")
sleep 1
$PSQL -c "INSERT INTO pitr_mark VALUES (2)"
WAL_WRITTEN=$($PSQL -c "SELECT ((pg_current_wal_insert_lsn() - '$start_lsn') / 1048576)::int")
archive_all
ARCHIVED_GZ=$(du -sm "$WORK/barrel/pg/wals" | cut -f1)

# recover, start, wait until replay pauses at the target; prints seconds
to_queryable() {
    dest=$1; shift
    t0=$(now)
    "$@" >"$WORK/$(basename "$dest").out" 2>&1 || { cat "$WORK/$(basename "$dest").out"; return 1; }
    chown -R $PGU "$dest"
    runuser -u $PGU -- "$PGBIN/pg_ctl" -D "$dest" -l "$WORK/sock/$(basename "$dest").log" -w -t 3600 \
        -o "-p $RPORT -k $WORK/sock -c listen_addresses=127.0.0.1 -c archive_mode=off" start >/dev/null
    while [ "$($PGBIN/psql -X -At -h 127.0.0.1 -p $RPORT -U postgres -c "SELECT pg_get_wal_replay_pause_state()" 2>/dev/null)" != paused ]; do
        sleep 0.1
    done
    t1=$(now)
    rows=$($PGBIN/psql -X -At -h 127.0.0.1 -p $RPORT -U postgres -c "SELECT count(*) FROM pitr_mark")
    runuser -u $PGU -- "$PGBIN/pg_ctl" -D "$dest" -m immediate stop >/dev/null
    [ "$rows" = 1 ] || { echo "wrong PITR result in $dest: $rows rows" >&2; return 1; }
    elapsed $t0 $t1
}
echo "timing PITR to '$TARGET' ($WAL_WRITTEN MB of WAL, $ARCHIVED_GZ MB gzip in the archive)..."
P_BARREL=$(to_queryable "$WORK/r_pitr_barrel" "$BARREL" -c "$WORK/barrel.conf" recover --jobs 2 --target-time "$TARGET" pg latest "$WORK/r_pitr_barrel")
rm -rf "$WORK/r_pitr_barrel"
P_BARMAN=n/a
if [ "$T_BARMAN" != n/a ]; then
    P_BARMAN=$(to_queryable "$WORK/r_pitr_barman" barman -c "$WORK/barman.conf" recover --recovery-staging-path "$WORK/stage" --target-time "$TARGET" pgb latest "$WORK/r_pitr_barman")
    rm -rf "$WORK/r_pitr_barman"
fi

ratio() { [ "$2" = n/a ] && echo n/a || printf "%.2f" "$(echo "scale=4; $1 / $2" | bc)"; }
sec() { [ "$1" = n/a ] && echo n/a || printf "%.2f" "$1"; }
echo
echo "restore of a pgbench -s $SCALE database (${DATA_SIZE} MB), $(nproc) CPUs"
printf "%-34s %10s %16s\n" "restore" "seconds" "barrel-j2 / it"
printf "%-34s %10s %16s\n" "zstd -dc | tar -x (the limit)" "$(sec $T_TAR)" "$(ratio $T_J2 $T_TAR)"
printf "%-34s %10s %16s\n" "barrel recover --jobs 1" "$(sec $T_J1)" "$(ratio $T_J2 $T_J1)"
printf "%-34s %10s %16s\n" "barrel recover --jobs 2" "$(sec $T_J2)" "1.00"
printf "%-34s %10s %16s\n" "barman recover (3.4)" "$(sec $T_BARMAN)" "$(ratio $T_J2 $T_BARMAN)"
echo
echo "time to a queryable server at a PITR target, $WAL_WRITTEN MB of WAL (gzip, $ARCHIVED_GZ MB stored)"
printf "%-34s %10s %16s\n" "recover + start + replay" "seconds" "barrel / it"
printf "%-34s %10s %16s\n" "barrel recover --jobs 2" "$(sec $P_BARREL)" "1.00"
printf "%-34s %10s %16s\n" "barman recover (3.4)" "$(sec $P_BARMAN)" "$(ratio $P_BARREL $P_BARMAN)"
