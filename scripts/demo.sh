#!/usr/bin/env bash
# scripts/demo.sh: barrel's main job, end to end, on a throwaway local
# PostgreSQL 15 cluster (`make demo`).
#
#   1. a primary with pgbench data, on a free loopback port
#   2. WAL streaming into barrel's catalog (receive-wal, replication slot)
#   3. a compressed base backup (zstd), waited for until its WAL is archived
#   4. more writes, with the time between them recorded
#   5. verify-backup, verify-wal and the morning report
#   6. a point-in-time recovery to the recorded moment, started and queried:
#      the rows written before it are there, those written after it are not
#
# Everything lives in one temporary directory that the EXIT trap removes, with
# both servers and the WAL receiver stopped, whatever happens (DEMO_KEEP=1
# keeps the directory for a look). Run as root, the clusters run as the
# postgres user and barrel as root (barman_user = root); run as anybody else,
# everything runs as that user. It drives the real ./barrel: build it first
# (`make demo` does).
#
# Knobs: PGBIN (PostgreSQL 15 binaries), DEMO_SCALE (pgbench scale, default 10).
set -eu
set -o pipefail

cd "$(dirname "$0")/.."
BARREL="$PWD/barrel"
PGBIN="${PGBIN:-/usr/lib/postgresql/15/bin}"
SCALE="${DEMO_SCALE:-10}"
START_SECONDS=$SECONDS

# ---- output helpers --------------------------------------------------------

if [ -t 1 ]; then BOLD=$(printf '\033[1m'); DIM=$(printf '\033[2m'); OFF=$(printf '\033[0m'); else BOLD=""; DIM=""; OFF=""; fi
STEP=0
step() {
    STEP=$((STEP + 1))
    printf '\n%s== %d. %s%s %s(%d s)%s\n' "$BOLD" "$STEP" "$*" "$OFF" "$DIM" $((SECONDS - START_SECONDS)) "$OFF"
}
# Show a barrel command as a user would type it, then run it.
barrel() {
    local shown="" a
    for a in "$@"; do
        case "$a" in *[!A-Za-z0-9_./:=-]*) shown="$shown '$a'" ;; *) shown="$shown $a" ;; esac
    done
    printf '%s$ barrel%s%s\n' "$DIM" "$shown" "$OFF"
    "$BARREL" -c "$CONF" "$@"
}
die() {
    printf 'demo: %s\n' "$*" >&2
    exit 1
}

# ---- prerequisites ---------------------------------------------------------

[ -x "$BARREL" ] || die "./barrel is not built: run 'make demo' (or 'make' first)"
for b in initdb pg_ctl postgres psql pgbench; do
    [ -x "$PGBIN/$b" ] || die "PostgreSQL 15 is not installed ($PGBIN/$b is missing): run 'make deps'"
done

RUNAS=()
if [ "$(id -u)" -eq 0 ]; then
    # PostgreSQL refuses to run as root: the clusters belong to postgres
    id postgres >/dev/null 2>&1 || die "running as root needs a 'postgres' user for the clusters (make deps creates it)"
    command -v runuser >/dev/null 2>&1 || die "running as root needs runuser (util-linux)"
    RUNAS=(runuser -u postgres --)
fi
as_pg() { "${RUNAS[@]}" "$@"; }

# A TCP port on 127.0.0.1 nobody listens on (bash's /dev/tcp connects or fails).
free_port() {
    local port
    for _ in $(seq 1 200); do
        port=$((20000 + RANDOM % 30000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    die "no free TCP port on 127.0.0.1"
}

# ---- the throwaway directory, and its cleanup on every path ----------------

WORK=$(mktemp -d "${TMPDIR:-/tmp}/barrel-demo.XXXXXX")
chmod 0755 "$WORK"
PRIMARY="$WORK/primary"
RESTORE="$WORK/restore"
SOCK="$WORK/sock"
CONF="$WORK/barrel.conf"
RECEIVER_PID=""
APP_PID=""

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    if [ -n "$APP_PID" ] && kill -0 "$APP_PID" 2>/dev/null; then
        kill -TERM "$APP_PID" 2>/dev/null
        wait "$APP_PID" 2>/dev/null
    fi
    if [ -n "$RECEIVER_PID" ] && kill -0 "$RECEIVER_PID" 2>/dev/null; then
        kill -TERM "$RECEIVER_PID" 2>/dev/null
        wait "$RECEIVER_PID" 2>/dev/null
    fi
    for d in "$RESTORE" "$PRIMARY"; do
        if [ -f "$d/postmaster.pid" ]; then
            as_pg "$PGBIN/pg_ctl" -D "$d" -m immediate -w stop >/dev/null 2>&1
        fi
    done
    if [ "${DEMO_KEEP:-0}" = 1 ]; then
        echo "demo: kept $WORK"
    else
        rm -rf "$WORK"
    fi
    if [ "$rc" -ne 0 ]; then
        printf '\ndemo: FAILED at step %d (exit %d); everything it started is stopped and removed\n' "$STEP" "$rc" >&2
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

LOGS="$WORK/logs"
mkdir -p "$SOCK" "$LOGS" "$WORK/catalog"
chmod 0700 "$WORK/catalog"
[ ${#RUNAS[@]} -eq 0 ] || chown postgres "$SOCK" "$LOGS"

PORT=$(free_port)
PSQL=("$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres -d postgres)
sql() { "${PSQL[@]}" -At -c "$1"; }

# ---- 1. primary ------------------------------------------------------------

step "A throwaway PostgreSQL 15 primary on 127.0.0.1:$PORT with pgbench data (scale $SCALE)"
if [ ${#RUNAS[@]} -gt 0 ]; then
    mkdir "$PRIMARY" && chown postgres "$PRIMARY" && chmod 0700 "$PRIMARY"
fi
as_pg "$PGBIN/initdb" -k -A trust -U postgres -E UTF8 --locale=C --no-sync --no-instructions -D "$PRIMARY" >/dev/null
cat >>"$PRIMARY/postgresql.conf" <<EOF

# barrel demo (throwaway: fsync off for speed)
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$SOCK'
wal_level = replica
max_wal_senders = 4
max_replication_slots = 4
fsync = off
EOF
# pg_hba.conf: first match wins, so ours go first
{
    echo "host replication streaming_barman 127.0.0.1/32 trust"
    echo "host all all 127.0.0.1/32 trust"
    cat "$PRIMARY/pg_hba.conf"
} >"$WORK/pg_hba.conf" && cat "$WORK/pg_hba.conf" >"$PRIMARY/pg_hba.conf"
as_pg "$PGBIN/pg_ctl" -D "$PRIMARY" -l "$LOGS/primary.log" -w -t 60 start >/dev/null
sql "CREATE ROLE streaming_barman WITH REPLICATION LOGIN"
"$PGBIN/pgbench" -h 127.0.0.1 -p "$PORT" -U postgres -i -s "$SCALE" -q postgres 2>&1 | tail -n 1
echo "pgbench_accounts: $(sql "SELECT count(*) FROM pgbench_accounts") rows, database $(sql "SELECT pg_size_pretty(pg_database_size('postgres'))")"

# ---- 2. barrel's configuration and WAL streaming ---------------------------

step "barrel's configuration (Barman's format) and WAL streaming with a replication slot"
cat >"$CONF" <<EOF
[barman]
barman_home = $WORK/catalog
barman_user = $(id -un)
log_level = INFO
compression = gzip

[demo]
description = "barrel demo primary"
conninfo = host=127.0.0.1 port=$PORT user=postgres dbname=postgres
streaming_conninfo = host=127.0.0.1 port=$PORT user=streaming_barman dbname=postgres
backup_method = postgres
backup_compression = zstd
streaming_archiver = on
slot_name = barrel_demo
create_slot = auto
immediate_checkpoint = true
retention_policy = REDUNDANCY 2
EOF
sed 's/^/    /' "$CONF"
barrel receive-wal --create-slot demo
printf '%s$ barrel receive-wal demo &%s\n' "$DIM" "$OFF"
"$BARREL" -c "$CONF" receive-wal demo >"$WORK/receive-wal.log" 2>&1 &
RECEIVER_PID=$!
for _ in $(seq 1 100); do
    [ "$(sql "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'barman_receive_wal'")" = 1 ] && break
    kill -0 "$RECEIVER_PID" 2>/dev/null || { cat "$WORK/receive-wal.log" >&2; die "receive-wal exited"; }
    sleep 0.1
done
sql "SELECT 'streaming to slot ' || slot_name || ', active: ' || active FROM pg_replication_slots"
# a live application: 10 pgbench transactions a second until the end of the demo
# (archive-wal, like Barman's, leaves the newest complete segment in streaming/
# until the receiver starts the next one, which an idle server may not do for 15 s)
"$PGBIN/pgbench" -h 127.0.0.1 -p "$PORT" -U postgres -n -c 1 -R 10 -T 600 postgres >/dev/null 2>&1 &
APP_PID=$!
echo "pgbench running in the background at 10 transactions/s (pid $APP_PID)"
# as with Barman: close a segment and see it archived, so that check's "WAL archive" passes
barrel switch-wal --force --archive demo
barrel check demo

# ---- 3. base backup --------------------------------------------------------

step "A compressed base backup over the replication protocol, waited for until its WAL is archived"
barrel backup --wait demo
BACKUP_ID=$("$BARREL" -c "$CONF" list-backups --minimal demo | head -n 1)
barrel list-backups demo

# ---- 4. more writes, with the recovery target between them -----------------

step "More writes: pgbench traffic, then two batches of orders with the recovery target between them"
sql "CREATE TABLE demo_orders (id serial PRIMARY KEY, batch text NOT NULL, created timestamptz NOT NULL DEFAULT clock_timestamp())"
"$PGBIN/pgbench" -h 127.0.0.1 -p "$PORT" -U postgres -n -c 2 -T 3 postgres 2>&1 | grep -E '^(number of transactions actually processed|tps)' || true
sql "INSERT INTO demo_orders (batch) SELECT 'before' FROM generate_series(1, 1000)"
BEFORE_TIME=$(sql "SELECT max(created) FROM demo_orders")
sleep 1
TARGET=$(sql "SELECT clock_timestamp()")
sleep 1
sql "INSERT INTO demo_orders (batch) SELECT 'after' FROM generate_series(1, 500)"
AFTER_TIME=$(sql "SELECT min(created) FROM demo_orders WHERE batch = 'after'")
"$PGBIN/pgbench" -h 127.0.0.1 -p "$PORT" -U postgres -n -c 2 -T 2 postgres >/dev/null 2>&1
echo "1000 'before' orders, last at  $BEFORE_TIME"
echo "recovery target                $TARGET"
echo " 500 'after' orders, first at  $AFTER_TIME"
echo "primary now: $(sql "SELECT string_agg(batch || '=' || n, ', ' ORDER BY batch) FROM (SELECT batch, count(*) n FROM demo_orders GROUP BY batch) s")"
# close the segment holding the 'after' batch and wait for it in the archive
barrel switch-wal --archive demo

# ---- 5. verification and report --------------------------------------------

step "Verification: the backup against its manifest inside the archives, and the WAL archive"
barrel verify-backup demo "$BACKUP_ID"
barrel verify-wal demo

step "The morning report"
barrel report demo

# ---- 6. point-in-time recovery ---------------------------------------------

step "Point-in-time recovery of backup $BACKUP_ID to $TARGET"
barrel recover --target-time "$TARGET" --target-action promote demo "$BACKUP_ID" "$RESTORE"

step "Start the recovered server and query it"
PORT2=$(free_port)
[ ${#RUNAS[@]} -eq 0 ] || chown -R postgres "$RESTORE"
chmod 0700 "$RESTORE"
if ! as_pg "$PGBIN/pg_ctl" -D "$RESTORE" -l "$LOGS/restore.log" -w -t 120 \
    -o "-p $PORT2 -k $SOCK -c listen_addresses=127.0.0.1 -c archive_mode=off" start >/dev/null; then
    tail -n 25 "$LOGS/restore.log" | sed 's/^/    log: /' >&2
    die "the recovered server did not start"
fi
PSQL2=("$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT2" -U postgres -d postgres -At)
for _ in $(seq 1 600); do
    [ "$("${PSQL2[@]}" -c "SELECT pg_is_in_recovery()")" = f ] && break
    sleep 0.1
done
grep -E "recovery stopping|selected new timeline|database system is ready" "$LOGS/restore.log" | sed 's/^/    log: /' || true
printf '%s$ psql -c "SELECT batch, count(*) FROM demo_orders GROUP BY batch"%s\n' "$DIM" "$OFF"
"${PSQL2[@]}" -P footer=off -c "SELECT batch, count(*) FROM demo_orders GROUP BY batch ORDER BY batch" | sed 's/^/    /'
N_BEFORE=$("${PSQL2[@]}" -c "SELECT count(*) FROM demo_orders WHERE batch = 'before'")
N_AFTER=$("${PSQL2[@]}" -c "SELECT count(*) FROM demo_orders WHERE batch = 'after'")
N_ACCOUNTS=$("${PSQL2[@]}" -c "SELECT count(*) FROM pgbench_accounts")
LATEST=$("${PSQL2[@]}" -c "SELECT coalesce(max(mtime)::text, 'none') FROM pgbench_history")
echo "pgbench_accounts: $N_ACCOUNTS rows; newest pgbench_history entry: $LATEST"

if [ "$N_BEFORE" != 1000 ] || [ "$N_AFTER" != 0 ]; then
    die "the recovered server has $N_BEFORE 'before' and $N_AFTER 'after' orders; expected 1000 and 0"
fi
printf '\n%sdemo: OK%s: recovered to %s: all 1000 orders written before the target are there, none of the 500 after it (%d s)\n' \
    "$BOLD" "$OFF" "$TARGET" $((SECONDS - START_SECONDS))
