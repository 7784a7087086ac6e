/*
 * cmd_receive_wal.c: `receive-wal [--stop | --reset | --create-slot |
 * --drop-slot] SERVER`, Barman 3.4's command (cli.py receive_wal,
 * server.py receive_wal/kill/create_physical_repslot/drop_repslot,
 * wal_archiver.py StreamingWalArchiver.receive_wal) with barrel's own
 * streaming in place of a pg_receivewal child.
 *
 * Recipe of the receiver: refuse unless streaming_archiver is on; take
 * .<server>-receive-wal.lock for the whole life of the process (its pid is
 * what `receive-wal --stop`, Barman's included, signals); then sessions:
 * connect, IDENTIFY_SYSTEM, segment size, slot (created when create_slot =
 * auto), repair a torn partial, pick the start (streaming/, else the slot's
 * restart_lsn, else the server's position), stream. A session that fails
 * after streaming had begun once is retried with exponential back-off
 * (1 s .. 60 s), each retry logged; a failure before that ends the command
 * (cron starts it again a minute later, as Barman's does). SIGINT/SIGTERM
 * stop it cleanly.
 *
 * Lines of the stream ("finished segment at ...") are printed as Barman
 * echoes pg_receivewal's: prefixed with "<server>: ".
 */
#include "barrel/build.h"
#include "barrel/cmd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "barrel/catalog.h"
#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/fs.h"
#include "barrel/log.h"
#include "barrel/mem.h"
#include "barrel/output.h"
#include "barrel/pgconn.h"
#include "barrel/segment_writer.h"
#include "barrel/walrecv.h"
#include "barrel/xlog.h"

#define BACKOFF_MIN_S 1
#define BACKOFF_MAX_S 60
#define SLOT_BUSY_TRIES 4            /* 1 + 2 + 4 + 8 s for a dead receiver's walsender to go */
#define STOP_WAIT_CHECKS 100        /* Barman's ProcessManager.kill waits 10 s; we look every 100 ms */
#define STOP_WAIT_STEP_MS 100
/* READ_REPLICATION_SLOT needs PostgreSQL 15; older servers are asked through pg_replication_slots. */
#define PG_VERSION_READ_REPLICATION_SLOT 150000

static volatile sig_atomic_t g_stop_signal;

static void
on_stop_signal(int sig)
{
    g_stop_signal = sig;
}

struct receiver {
    struct cmd_context *ctx;
    const struct server_config *srv;
    const char *lock_dir;
    struct segment_writer *writer;
    uint32_t segment_size;
};

static const char *
lock_dir_of(const struct cmd_context *ctx)
{
    return ctx->cfg->barman_lock_directory ? ctx->cfg->barman_lock_directory : ctx->cfg->barman_home;
}

/* A line of the stream, as Barman prints pg_receivewal's: "<server>: <line>". */
static void
stream_notice(void *arg, const char *message)
{
    const struct receiver *rv = arg;

    /* JSON collects every message until exit: a receiver that runs for months must not */
    if (output_is_json())
        br_log_info("%s: %s", rv->srv->name, message);
    else
        output_info("%s: %s", rv->srv->name, message);
}

/* ---- sink: the segment writer behind walrecv's callbacks ---- */

static int
sink_begin(void *arg, uint32_t tli, uint64_t lsn, struct br_error *err)
{
    return segment_writer_begin(((struct receiver *) arg)->writer, tli, lsn, err);
}

static int
sink_write(void *arg, uint64_t lsn, const void *data, size_t len, struct br_error *err)
{
    return segment_writer_write(((struct receiver *) arg)->writer, lsn, data, len, err);
}

static int
sink_flush(void *arg, struct br_error *err)
{
    return segment_writer_flush(((struct receiver *) arg)->writer, err);
}

static uint64_t
sink_flushed(void *arg)
{
    return segment_writer_flush_lsn(((struct receiver *) arg)->writer);
}

static int
sink_close_partial(void *arg, struct br_error *err)
{
    return segment_writer_close_partial(((struct receiver *) arg)->writer, err);
}

static int
sink_has_history(void *arg, uint32_t tli)
{
    return segment_writer_has_history(((struct receiver *) arg)->writer, tli);
}

static int
sink_write_history(void *arg, uint32_t tli, const char *name, const void *content, size_t len, struct br_error *err)
{
    return segment_writer_write_history(((struct receiver *) arg)->writer, tli, name, content, len, err);
}

/* ---- slots ---- */

/* Barman's create_physical_repslot(): messages, and errors through output_error. 0 created, -1 not. */
static int
create_slot(const struct server_config *srv, struct pgconn *conn)
{
    struct br_error err;

    br_error_clear(&err);
    output_info("Creating physical replication slot '%s' on server '%s'", srv->slot_name, srv->name);
    switch (walrecv_create_slot(conn, srv->slot_name, &err)) {
    case WALRECV_SLOT_OK:
        output_info("Replication slot '%s' created", srv->slot_name);
        return 0;
    case WALRECV_SLOT_EXISTS:
        output_error("Replication slot '%s' already exists", srv->slot_name);
        return -1;
    case WALRECV_SLOT_FULL:
        output_error("All replication slots for server '%s' are in use\n"
                     "Free one or increase the max_replication_slots value on your PostgreSQL server.",
                     srv->name);
        return -1;
    default:
        output_error("Cannot create replication slot '%s' on server '%s': %s", srv->slot_name, srv->name, err.msg);
        return -1;
    }
}

/* Open the streaming connection for a slot command; Barman's "Cannot connect" message on failure. */
static struct pgconn *
slot_connection(const struct server_config *srv, const char *what)
{
    struct br_error err;
    struct pgconn *conn;

    br_error_clear(&err);
    if (srv->slot_name == NULL) {
        output_error("Unable to %s a physical replication slot: slot_name configuration option required", what);
        return NULL;
    }
    conn = pgconn_open(srv->streaming_conninfo, srv->streaming_archiver_name, 1, &err);
    if (conn == NULL) {
        output_error("Cannot connect to server '%s'", srv->name);
        br_log_error("Cannot connect to server '%s': %s", srv->name, err.msg);
    }
    return conn;
}

static void
do_create_slot(const struct server_config *srv)
{
    struct pgconn *conn = slot_connection(srv, "create");

    if (conn != NULL)
        create_slot(srv, conn);
    pgconn_close(conn);
}

static void
do_drop_slot(const struct server_config *srv)
{
    struct pgconn *conn = slot_connection(srv, "drop");
    struct br_error err;

    if (conn == NULL)
        return;
    br_error_clear(&err);
    output_info("Dropping physical replication slot '%s' on server '%s'", srv->slot_name, srv->name);
    switch (walrecv_drop_slot(conn, srv->slot_name, &err)) {
    case WALRECV_SLOT_OK:
        output_info("Replication slot '%s' dropped", srv->slot_name);
        break;
    case WALRECV_SLOT_MISSING:
        output_error("Replication slot '%s' does not exist", srv->slot_name);
        break;
    case WALRECV_SLOT_IN_USE:
        output_error("Cannot drop replication slot '%s' on server '%s' because it is in use.", srv->slot_name,
                     srv->name);
        break;
    default:
        output_error("Cannot drop replication slot '%s' on server '%s': %s", srv->slot_name, srv->name, err.msg);
        break;
    }
    pgconn_close(conn);
}

/*
 * The slot as the receiver needs it. PostgreSQL >= 15 answers
 * READ_REPLICATION_SLOT on the streaming connection; older servers are
 * asked through pg_replication_slots on the normal connection.
 */
static int
read_slot(const struct server_config *srv, struct pgconn *repl, struct walrecv_slot *slot, struct br_error *err)
{
    struct pgconn *conn;
    struct pgconn_slot ps;
    int rc;

    if (pgconn_server_version_num(repl) >= PG_VERSION_READ_REPLICATION_SLOT)
        return walrecv_read_slot(repl, srv->slot_name, slot, err);
    memset(slot, 0, sizeof(*slot));
    conn = pgconn_open(srv->conninfo, NULL, 0, err);
    if (conn == NULL)
        return -1;
    rc = pgconn_replication_slot(conn, srv->slot_name, &ps, err);
    if (rc == 1) {
        slot->exists = 1;
        if (ps.restart_lsn != NULL && xlog_lsn_parse(ps.restart_lsn, &slot->restart_lsn) != 0)
            slot->restart_lsn = 0;
        if (ps.active) {
            rc = br_error_set(err, BR_E_STATE, "replication slot '%s' is already in use", srv->slot_name);
            pgconn_slot_reset(&ps);
            pgconn_close(conn);
            return rc;
        }
        pgconn_slot_reset(&ps);
    }
    pgconn_close(conn);
    return rc < 0 ? -1 : 0;
}

/* ---- one streaming session ---- */

/* Where to start: streaming/, else the slot, else the server's position; always a segment start. */
static int
choose_start(struct receiver *rv, const struct pgconn_identify *id, const struct walrecv_slot *slot, uint32_t *tli,
             uint64_t *lsn, struct br_error *err)
{
    int found = segment_writer_find_start(rv->srv->streaming_wals_directory, rv->segment_size, tli, lsn, err);

    if (found < 0)
        return -1;
    if (found) {
        if (*tli > id->timeline)
            return br_error_set(err, BR_E_STATE, "starting timeline %" PRIu32 " is not present in the server",
                                *tli);
        return 0;
    }
    if (slot->exists && slot->restart_lsn != 0) {
        *lsn = slot->restart_lsn;
        *tli = slot->restart_tli != 0 ? slot->restart_tli : id->timeline;
    } else {
        *lsn = id->xlogpos;
        *tli = id->timeline;
    }
    *lsn -= xlog_segment_offset(*lsn, rv->segment_size);
    return 0;
}

/*
 * Connect and stream until stopped (0) or until something fails (-1).
 * `first`: the first session of this process, which also creates the slot
 * (create_slot = auto) and repairs a torn partial file.
 */
static int
session(struct receiver *rv, int first, int *started, struct br_error *err)
{
    const struct server_config *srv = rv->srv;
    struct pgconn *conn;
    struct pgconn_identify id;
    struct walrecv_slot slot = {0};
    struct walrecv_options opts = {0};
    struct walrecv_sink sink = {
        rv, sink_begin, sink_write, sink_flush, sink_flushed, sink_close_partial, sink_has_history,
        sink_write_history,
    };
    uint32_t tli = 0;
    uint64_t startpos = 0;
    int rc = -1;

    *started = 0;
    conn = pgconn_open(srv->streaming_conninfo, srv->streaming_archiver_name, 1, err);
    if (conn == NULL)
        return -1;
    if (pgconn_identify_system(conn, &id, err) != 0 || walrecv_segment_size(conn, &rv->segment_size, err) != 0)
        goto out;

    if (srv->slot_name != NULL) {
        if (read_slot(srv, conn, &slot, err) != 0)
            goto out;
        if (!slot.exists) {
            if (!first || srv->create_slot != CREATE_SLOT_AUTO) {
                br_error_set(err, BR_E_STATE, "replication slot '%s' doesn't exist. Please execute '%s receive-wal "
                             "--create-slot %s'", srv->slot_name, rv->ctx->prog, srv->name);
                goto out;
            }
            output_info("Creating replication slot '%s'", srv->slot_name);
            if (create_slot(srv, conn) != 0) {
                br_error_set(err, BR_E_CHECK_FAILED, "%s", "");
                goto out;
            }
        }
    }

    if (first) {
        char *path = NULL;
        off_t size = 0;
        int fixed = segment_writer_fix_partial(srv->streaming_wals_directory, rv->segment_size, &path, &size, err);

        if (fixed < 0)
            goto out;
        if (fixed)
            output_info("Truncating partial file %s that has wrong size %lld while %" PRIu32 " was expected.", path,
                        (long long) size, rv->segment_size);
        free(path);
    }
    if (choose_start(rv, &id, &slot, &tli, &startpos, err) != 0)
        goto out;

    segment_writer_free(rv->writer);
    rv->writer = segment_writer_new(srv->streaming_wals_directory, rv->segment_size, stream_notice, rv);
    opts.slot_name = srv->slot_name;
    opts.segment_size = rv->segment_size;
    /* listed in synchronous_standby_names: a synchronous standby (Barman passes --synchronous then) */
    {
        char *names = NULL;
        struct br_error e;

        br_error_clear(&e);
        if (pgconn_query_value(conn, "SHOW synchronous_standby_names", &names, &e) == 0)
            opts.synchronous = walrecv_standby_listed(names, srv->streaming_archiver_name);
        else
            br_log_warning("could not read synchronous_standby_names: %s", e.msg);
        if (opts.synchronous)
            br_log_info("%s: '%s' is in synchronous_standby_names: each write is flushed and confirmed at once",
                        srv->name, srv->streaming_archiver_name);
        free(names);
    }
    opts.stop = &g_stop_signal;
    opts.notice = stream_notice;
    opts.notice_arg = rv;
    rc = walrecv_stream(conn, &opts, &sink, tli, startpos, started, err);
    if (rc != 0) {
        /* keep what was received durable; the error to report is the stream's */
        struct br_error ignored;

        br_error_clear(&ignored);
        segment_writer_close_partial(rv->writer, &ignored);
    }
out:
    pgconn_close(conn);
    return rc;
}

/* Sleep `seconds`, waking early when a stop signal arrives. */
static void
interruptible_sleep(int seconds)
{
    for (int i = 0; i < seconds * 10 && !g_stop_signal; i++) {
        struct timespec ts = {0, 100 * 1000 * 1000};

        nanosleep(&ts, NULL);
    }
}

static void
install_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    /* no SA_RESTART: poll() and nanosleep() must return so that the flag is seen */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static int
run_receiver(struct cmd_context *ctx, const struct server_config *srv, struct br_error *err)
{
    struct receiver rv = {ctx, srv, lock_dir_of(ctx), NULL, 0};
    struct catalog_lock *lock;
    int backoff = BACKOFF_MIN_S, ever_started = 0, slot_busy_tries = 0, rc = -1;

    /* a receiver runs for months with its output in a file: one line at a time */
    setvbuf(stdout, NULL, _IOLBF, 0);
    output_info("Starting receive-wal for server %s", srv->name);
    lock = catalog_lock_acquire(rv.lock_dir, srv->name, "receive-wal", 0, err);
    if (lock == NULL) {
        if (err->code != BR_E_LOCKED)
            return -1;
        br_error_clear(err);
        output_info("Another receive-wal process is already running for server %s.", srv->name);
        return 0;
    }
    if (fs_mkdir_p(srv->streaming_wals_directory, 0700, err) != 0)
        goto out;
    install_signals();
    br_log_info("Activating WAL archiving through streaming protocol");

    for (;;) {
        int started = 0;

        br_error_clear(err);
        if (session(&rv, !ever_started, &started, err) == 0 || g_stop_signal)
            break;
        /*
         * Before the first stream, give up (cron starts us again), except
         * for a slot still held by the receiver this one replaces: its
         * walsender needs a moment to notice that its client died.
         */
        if (!ever_started && !started) {
            if (err->code != BR_E_LOCKED || ++slot_busy_tries > SLOT_BUSY_TRIES)
                goto out;
        } else {
            if (err->code != BR_E_PG && err->code != BR_E_LOCKED)
                goto out;
            ever_started = 1;
        }
        if (started)
            backoff = BACKOFF_MIN_S;
        output_warning("%s: %s; reconnecting in %d second%s", srv->name, err->msg, backoff, backoff == 1 ? "" : "s");
        interruptible_sleep(backoff);
        if (g_stop_signal)
            break;
        backoff = backoff * 2 > BACKOFF_MAX_S ? BACKOFF_MAX_S : backoff * 2;
    }
    br_error_clear(err);
    if (g_stop_signal)
        output_info("%s received. Terminate gracefully.", g_stop_signal == SIGTERM ? "SIGTERM" : "SIGINT");
    rc = 0;
out:
    segment_writer_free(rv.writer);
    catalog_lock_release(lock);
    return rc;
}

/* ---- --reset ---- */

/* The newest segment or partial file name in dir (new string), NULL if none. */
static char *
newest_status_file(const char *dir, struct br_error *err)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char *best = NULL;

    if (d == NULL) {
        if (errno == ENOENT)
            return NULL;
        br_error_sys(err, BR_E_IO, "could not open directory \"%s\"", dir);
        return NULL;
    }
    while ((de = readdir(d)) != NULL) {
        enum xlog_kind k = xlog_name_parse(de->d_name, NULL);

        if (k != XLOG_KIND_SEGMENT && k != XLOG_KIND_PARTIAL)
            continue;
        if (best == NULL || strcmp(de->d_name, best) > 0) {
            free(best);
            best = br_strdup(de->d_name);
        }
    }
    closedir(d);
    return best;
}

/*
 * Barman's _reset_streaming_status(): make streaming/ start again at the
 * slot's restart_lsn (or the server's position) with an empty partial file.
 */
static int
reset_status(struct receiver *rv, struct br_error *err)
{
    const struct server_config *srv = rv->srv;
    struct pgconn *conn;
    struct pgconn_identify id;
    struct walrecv_slot slot = {0};
    char current_wal[XLOG_NAME_LEN + 1], restart_wal[XLOG_NAME_LEN + 1];
    char *last = NULL, *restart_partial = NULL, *path = NULL;
    int rc = -1;

    conn = pgconn_open(srv->streaming_conninfo, srv->streaming_archiver_name, 1, err);
    if (conn == NULL)
        return -1;
    if (pgconn_identify_system(conn, &id, err) != 0 || walrecv_segment_size(conn, &rv->segment_size, err) != 0)
        goto out;
    if (srv->slot_name != NULL) {
        if (read_slot(srv, conn, &slot, err) != 0)
            goto out;
        if (!slot.exists && srv->create_slot != CREATE_SLOT_AUTO) {
            br_error_set(err, BR_E_STATE, "replication slot '%s' doesn't exist. Please execute '%s receive-wal "
                         "--create-slot %s'", srv->slot_name, rv->ctx->prog, srv->name);
            goto out;
        }
    }
    xlog_segment_name(id.timeline, xlog_segno_of_lsn(id.xlogpos, rv->segment_size), rv->segment_size, current_wal);
    memcpy(restart_wal, current_wal, sizeof(restart_wal));
    if (slot.exists && slot.restart_lsn != 0)
        xlog_segment_name(id.timeline, xlog_segno_of_lsn(slot.restart_lsn, rv->segment_size), rv->segment_size,
                          restart_wal);
    if (fs_mkdir_p(srv->streaming_wals_directory, 0700, err) != 0)
        goto out;
    last = newest_status_file(srv->streaming_wals_directory, err);
    if (last == NULL && err->code != BR_E_OK)
        goto out;
    restart_partial = br_asprintf("%s.partial", restart_wal);
    rc = 0;
    if (last == NULL || strcmp(last, restart_partial) == 0 || strcmp(last, restart_wal) == 0) {
        output_info("Nothing to do. Position of receive-wal is aligned.");
        goto out;
    }
    if (strcmp(last, current_wal) > 0) {
        output_error("The receive-wal position is ahead of PostgreSQL current WAL lsn (%s > %s)", last,
                     id.xlogpos_text);
        goto out;
    }
    output_info("Resetting receive-wal directory status");
    if (xlog_name_parse(last, NULL) == XLOG_KIND_PARTIAL) {
        path = path_join(srv->streaming_wals_directory, last);
        output_info("Removing status file %s", path);
        if (unlink(path) != 0) {
            rc = br_error_sys(err, BR_E_IO, "could not remove file \"%s\"", path);
            goto out;
        }
        free(path);
    }
    path = path_join(srv->streaming_wals_directory, restart_partial);
    output_info("Creating status file %s", path);
    {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        if (fd < 0 || fsync(fd) != 0) {
            rc = br_error_sys(err, BR_E_IO, "could not create file \"%s\"", path);
            if (fd >= 0)
                close(fd);
            goto out;
        }
        close(fd);
    }
    rc = fs_fsync_path(srv->streaming_wals_directory, 1, err);
out:
    free(path);
    free(restart_partial);
    free(last);
    pgconn_close(conn);
    return rc;
}

static int
run_reset(struct cmd_context *ctx, const struct server_config *srv, struct br_error *err)
{
    struct receiver rv = {ctx, srv, lock_dir_of(ctx), NULL, 0};
    struct catalog_lock *lock = catalog_lock_acquire(rv.lock_dir, srv->name, "receive-wal", 0, err);
    int rc;

    if (lock == NULL) {
        if (err->code != BR_E_LOCKED)
            return -1;
        br_error_clear(err);
        output_info("Unable to reset the status of receive-wal for server %s. Process is still running", srv->name);
        return 0;
    }
    rc = reset_status(&rv, err);
    catalog_lock_release(lock);
    return rc;
}

/* ---- --stop ---- */

/* 1 while pid exists and has not exited (a zombie whose parent has not reaped it yet has exited). */
static int
process_alive(long pid)
{
    char path[64], buf[512];
    const char *p;
    FILE *fp;
    int alive = 1;

    if (kill((pid_t) pid, 0) != 0)
        return errno != ESRCH;
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    fp = fopen(path, "r");
    if (fp == NULL)
        return 1;
    if (fgets(buf, sizeof(buf), fp) != NULL && (p = strrchr(buf, ')')) != NULL && p[1] == ' '
        && (p[2] == 'Z' || p[2] == 'X'))
        alive = 0;
    fclose(fp);
    return alive;
}

/* Barman's kill("receive-wal"): SIGINT to the pid in the held lock, then wait up to 10 s for it to go. */
static int
run_stop(struct cmd_context *ctx, const struct server_config *srv, struct br_error *err)
{
    long pid = catalog_lock_holder(lock_dir_of(ctx), srv->name, "receive-wal", err);

    if (pid < 0)
        return -1;
    if (pid == 0) {
        output_error("Termination of receive-wal failed: no such process for server %s", srv->name);
        return 0;
    }
    br_log_debug("Sending SIGINT to PID %ld", pid);
    if (kill((pid_t) pid, SIGINT) != 0) {
        if (errno == ESRCH) {
            output_info("Stopped process receive-wal(%ld)", pid);
            return 0;
        }
        output_error("%s", strerror(errno));
        return 0;
    }
    for (int i = 0; i < STOP_WAIT_CHECKS; i++) {
        if (!process_alive(pid)) {
            output_info("Stopped process receive-wal(%ld)", pid);
            return 0;
        }
        nanosleep(&(struct timespec){0, STOP_WAIT_STEP_MS * 1000000L}, NULL);
    }
    output_error("Cannot terminate process receive-wal(%ld)", pid);
    return 0;
}

/* ---- the command ---- */

static const char receive_wal_help[] =
    "  --stop                stop the receive-wal subprocess for the server\n"
    "  --reset               reset the status of receive-wal removing any status files\n"
    "  --create-slot         create the replication slot, if it does not exist\n"
    "  --drop-slot           drop the replication slot, if it exists\n";

int
cmd_receive_wal(struct cmd_context *ctx, int argc, char **argv, struct br_error *err)
{
    static const struct option longopts[] = {
        {"stop", no_argument, NULL, 's'},        {"reset", no_argument, NULL, 'r'},
        {"create-slot", no_argument, NULL, 'C'}, {"drop-slot", no_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    int stop = 0, reset = 0, create = 0, drop = 0, c;
    const struct server_config **list = NULL;
    const struct server_config *srv = NULL;
    int skip_inactive;

    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h': cmd_print_help(cmd_find("receive-wal"), receive_wal_help); return 0;
        case 's': stop = 1; break;
        case 'r': reset = 1; break;
        case 'C': create = 1; break;
        case 'D': drop = 1; break;
        default: return br_error_set(err, BR_E_USAGE, "unrecognized arguments: %s", argv[optind - 1]);
        }
    }
    if (argc - optind < 1)
        return br_error_set(err, BR_E_USAGE, "the following arguments are required: server_name");
    if (argc - optind > 1)
        return br_error_set(err, BR_E_USAGE, "unrecognized arguments: %s", argv[optind + 1]);
    if (strcmp(argv[optind], "all") == 0) {
        output_error("You cannot use 'all' in a single server context");
        return 0;
    }
    /* Barman's get_server(): inactive servers only run the maintenance options */
    skip_inactive = !(create || drop || stop || reset);
    if (cmd_servers_from_args(ctx, 1, &argv[optind], 0, &list) == 1)
        srv = list[0];
    free(list);
    if (srv == NULL || !cmd_server_usable(srv, 0, 1, skip_inactive, 1))
        return 0;

    if (stop && reset) {
        output_error("--stop and --reset options are not compatible");
        return 0;
    }
    if (stop)
        return run_stop(ctx, srv, err);
    if (create) {
        do_create_slot(srv);
        return 0;
    }
    if (drop) {
        do_drop_slot(srv);
        return 0;
    }
    if (!srv->streaming_archiver) {
        output_error("Unable to start receive-wal process: streaming_archiver option set to 'off' in barman "
                     "configuration file");
        return 0;
    }
    if (reset)
        return run_reset(ctx, srv, err);
    return run_receiver(ctx, srv, err);
}
