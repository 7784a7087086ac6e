/*
 * walrecv.c: the physical replication loop and the replication commands
 * around it (see walrecv.h). Written after PostgreSQL's receivelog.c
 * (ReceiveXlogStream, HandleCopyStream, HandleEndOfCopyStream,
 * ReadEndOfStreamingResult) and pg_receivewal.c, read, not copied.
 *
 * Protocol facts this file relies on (PostgreSQL protocol-replication docs):
 * - START_REPLICATION answers CopyBothResponse; inside the COPY the server
 *   sends 'w' XLogData (dataStart, walEnd, sendTime, bytes) and 'k'
 *   keepalives (walEnd, sendTime, replyRequested); we send 'r' standby
 *   status updates (write, flush, apply, sendTime, replyRequested).
 * - At the end of a timeline the server sends CopyDone; we answer CopyDone,
 *   then get a one-row result (next timeline, its start LSN) and a
 *   CommandComplete. The next timeline is streamed from the start of the
 *   segment that holds its start LSN.
 * - A server that shuts down sends CopyDone and CommandComplete without the
 *   row: the stream is over and the caller reconnects.
 */
#include "barrel/build.h"
#include "barrel/walrecv.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libpq-fe.h>

#include "barrel/copymsg.h"
#include "barrel/error.h"
#include "barrel/log.h"
#include "barrel/mem.h"
#include "barrel/pgconn.h"
#include "barrel/xlog.h"

/* READ_REPLICATION_SLOT appeared in PostgreSQL 15. */
#define PG_VERSION_READ_REPLICATION_SLOT 150000
/* Seconds between the Unix epoch and the PostgreSQL epoch (2000-01-01). */
#define PG_EPOCH_OFFSET_S INT64_C(946684800)
/* How long a clean stop waits for the server to end the COPY. */
#define STOP_DRAIN_MS 5000
/* A history file is a few lines per timeline; refuse absurd replies. */
#define HISTORY_MAX_BYTES (16 * 1024 * 1024)
#define SLOT_NAME_MAX 63   /* NAMEDATALEN - 1 */

/* SQLSTATEs the slot commands map to Barman's messages. */
#define SQLSTATE_DUPLICATE_OBJECT "42710"
#define SQLSTATE_CONFIG_LIMIT     "53400"
#define SQLSTATE_UNDEFINED_OBJECT "42704"
#define SQLSTATE_OBJECT_IN_USE    "55006"

enum copy_end { COPY_STOPPED, COPY_SERVER_DONE };

static void
notice(const struct walrecv_options *opts, const char *fmt, ...) BR_PRINTF(2, 3);

static void
notice(const struct walrecv_options *opts, const char *fmt, ...)
{
    va_list ap;
    char *msg;

    va_start(ap, fmt);
    msg = br_vasprintf(fmt, ap);
    va_end(ap);
    br_log_debug("walrecv: %s", msg);
    if (opts->notice != NULL)
        opts->notice(opts->notice_arg, msg);
    free(msg);
}

/* First line of a libpq or server message into err (BR_E_PG). */
static int
set_pg_error(struct br_error *err, const char *prefix, const char *pgmsg)
{
    size_t len = 0;

    if (pgmsg == NULL || *pgmsg == '\0')
        pgmsg = "unknown libpq error";
    while (pgmsg[len] != '\0' && pgmsg[len] != '\n' && len < 400)
        len++;
    return br_error_set(err, BR_E_PG, "%s: %.*s", prefix, (int) len, pgmsg);
}

static int
result_error(struct br_error *err, PGconn *pc, const PGresult *res, const char *prefix)
{
    const char *msg = res != NULL ? PQresultErrorMessage(res) : NULL;

    return set_pg_error(err, prefix, (msg != NULL && *msg) ? msg : PQerrorMessage(pc));
}

static PGconn *
libpq_of(struct pgconn *conn)
{
    return (PGconn *) pgconn_libpq(conn);
}

/* PostgreSQL's ReplicationSlotValidateName(): lower-case letters, digits and underscores, 1..63 of them. */
static int
slot_name_valid(const char *name)
{
    size_t len = strlen(name);

    if (len == 0 || len > SLOT_NAME_MAX)
        return 0;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return 0;
    return 1;
}

int64_t
walrecv_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return ((int64_t) ts.tv_sec - PG_EPOCH_OFFSET_S) * INT64_C(1000000) + ts.tv_nsec / 1000;
}

static int64_t
monotonic_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
walrecv_build_status(unsigned char *buf, uint64_t write_lsn, uint64_t flush_lsn, int64_t now_us,
                     int reply_requested)
{
    buf[0] = 'r';
    copymsg_put_u64(buf + 1, write_lsn);
    copymsg_put_u64(buf + 9, flush_lsn);
    copymsg_put_u64(buf + 17, 0);             /* apply: nothing is replayed here */
    copymsg_put_u64(buf + 25, (uint64_t) now_us);
    buf[33] = reply_requested ? 1 : 0;
}

int
walrecv_handle_message(struct walrecv_state *st, const struct walrecv_sink *sink, const void *buf, size_t len,
                       struct br_error *err)
{
    struct copymsg m;
    uint8_t type;
    uint64_t data_start, wal_end;
    int64_t send_time;

    copymsg_init(&m, buf, len, "streaming header");
    if (copymsg_byte(&m, &type, err) != 0)
        return -1;
    if (type == 'k') {
        uint8_t reply;

        m.what = "keepalive";
        if (copymsg_u64(&m, &wal_end, err) != 0 || copymsg_i64(&m, &send_time, err) != 0
            || copymsg_byte(&m, &reply, err) != 0 || copymsg_end(&m, err) != 0)
            return -1;
        st->server_wal_end = wal_end;
        if (reply)
            st->reply_requested = 1;
        return 0;
    }
    if (type == 'w') {
        const unsigned char *data;
        size_t data_len;

        m.what = "XLogData";
        if (copymsg_u64(&m, &data_start, err) != 0 || copymsg_u64(&m, &wal_end, err) != 0
            || copymsg_i64(&m, &send_time, err) != 0)
            return -1;
        copymsg_rest(&m, &data, &data_len);
        if (data_start != st->blockpos) {
            char got[XLOG_LSN_BUFLEN], want[XLOG_LSN_BUFLEN];

            xlog_lsn_format(data_start, got);
            xlog_lsn_format(st->blockpos, want);
            return br_error_set(err, BR_E_FORMAT, "received WAL data at %s, expected it at %s", got, want);
        }
        if (data_len > 0 && sink->write(sink->arg, data_start, data, data_len, err) != 0)
            return -1;
        st->blockpos = data_start + data_len;
        st->server_wal_end = wal_end;
        st->messages++;
        return 0;
    }
    return br_error_set(err, BR_E_FORMAT, "unrecognized streaming header: \"%c\"",
                        isprint(type) ? (char) type : '?');
}

/* Send a standby status update; flush_first makes the sink durable before reporting. */
static int
send_status(PGconn *pc, const struct walrecv_sink *sink, const struct walrecv_state *st, int flush_first,
            struct br_error *err)
{
    unsigned char buf[WALRECV_STATUS_LEN];
    char *copy;
    int rc;

    if (flush_first && sink->flush(sink->arg, err) != 0)
        return -1;
    walrecv_build_status(buf, st->blockpos, sink->flushed(sink->arg), walrecv_now_us(), 0);
    /* PQputCopyData takes a char buffer */
    copy = br_malloc(sizeof(buf));
    memcpy(copy, buf, sizeof(buf));
    rc = PQputCopyData(pc, copy, (int) sizeof(buf)) <= 0 || PQflush(pc) != 0;
    free(copy);
    if (rc)
        return set_pg_error(err, "could not send feedback packet", PQerrorMessage(pc));
    return 0;
}

/* Wait until the socket is readable or timeout_ms passed; 0 on timeout/readable/EINTR, -1 on error. */
static int
wait_socket(PGconn *pc, int timeout_ms, struct br_error *err)
{
    struct pollfd pfd;
    int rc;

    pfd.fd = PQsocket(pc);
    pfd.events = POLLIN;
    pfd.revents = 0;
    if (pfd.fd < 0)
        return set_pg_error(err, "invalid socket", PQerrorMessage(pc));
    rc = poll(&pfd, 1, timeout_ms);
    if (rc < 0 && errno != EINTR)
        return br_error_sys(err, BR_E_PG, "poll() failed");
    if (rc > 0 && PQconsumeInput(pc) == 0)
        return set_pg_error(err, "could not receive data from WAL stream", PQerrorMessage(pc));
    return 0;
}

/*
 * Clean stop inside the COPY: flush, report, close the segment, send
 * CopyDone, and give the server a few seconds to end its side.
 */
static int
stop_copy(PGconn *pc, const struct walrecv_sink *sink, const struct walrecv_state *st, struct br_error *err)
{
    int64_t deadline = monotonic_ms() + STOP_DRAIN_MS;

    if (send_status(pc, sink, st, 1, err) != 0 || sink->close_partial(sink->arg, err) != 0)
        return -1;
    if (PQputCopyEnd(pc, NULL) <= 0 || PQflush(pc) != 0)
        return set_pg_error(err, "could not send copy-end packet", PQerrorMessage(pc));
    while (monotonic_ms() < deadline) {
        char *buf = NULL;
        int r = PQgetCopyData(pc, &buf, 1);

        if (buf != NULL)
            PQfreemem(buf);
        if (r > 0)
            continue;            /* WAL already in flight: dropped, the next run asks for it again */
        if (r < 0)
            break;               /* the server ended its side (or the connection is gone) */
        if (wait_socket(pc, 100, err) != 0)
            return 0;            /* we are stopping anyway */
    }
    for (PGresult *res; (res = PQgetResult(pc)) != NULL;)
        PQclear(res);
    return 0;
}

/*
 * The COPY loop of one timeline: receive, write, report. Returns
 * COPY_SERVER_DONE when the server ended the COPY, COPY_STOPPED after a
 * clean stop, -1 on error.
 */
static int
copy_stream(PGconn *pc, const struct walrecv_options *opts, const struct walrecv_sink *sink,
            struct walrecv_state *st, struct br_error *err)
{
    int interval = opts->status_interval_ms > 0 ? opts->status_interval_ms : WALRECV_STATUS_INTERVAL_MS;
    int64_t last_status = -1;

    for (;;) {
        int64_t now = monotonic_ms();
        char *buf = NULL;
        int r;

        if (opts->stop != NULL && *opts->stop)
            return stop_copy(pc, sink, st, err) == 0 ? COPY_STOPPED : -1;

        /* periodic status (first one at once), or the reply the server asked for */
        if (st->reply_requested || last_status < 0 || now - last_status >= interval) {
            if (send_status(pc, sink, st, 1, err) != 0)
                return -1;
            st->reply_requested = 0;
            last_status = now;
        }

        r = PQgetCopyData(pc, &buf, 1);
        /*
         * A synchronous standby: once the burst the server sent is written,
         * make it durable and say so at once, or every commit waits for the
         * next status interval (pg_receivewal --synchronous does the same).
         */
        if (r == 0 && opts->synchronous && sink->flushed(sink->arg) < st->blockpos) {
            if (send_status(pc, sink, st, 1, err) != 0)
                return -1;
            last_status = monotonic_ms();
            continue;
        }
        if (r == 0) {
            int64_t until_status = last_status + interval - monotonic_ms();
            int timeout = until_status < WALRECV_POLL_MS ? (int) (until_status > 0 ? until_status : 0)
                                                         : WALRECV_POLL_MS;

            if (wait_socket(pc, timeout, err) != 0)
                return -1;
            continue;
        }
        if (r == -1)
            return COPY_SERVER_DONE;
        if (r == -2 || buf == NULL)
            return set_pg_error(err, "could not read COPY data", PQerrorMessage(pc));
        r = walrecv_handle_message(st, sink, buf, (size_t) r, err);
        PQfreemem(buf);
        if (r != 0)
            return -1;
    }
}

/* TIMELINE_HISTORY tli, stored through the sink. */
static int
fetch_history(PGconn *pc, const struct walrecv_sink *sink, uint32_t tli, struct br_error *err)
{
    char cmd[64];
    PGresult *res;
    int rc = -1;

    snprintf(cmd, sizeof(cmd), "TIMELINE_HISTORY %" PRIu32, tli);
    res = PQexec(pc, cmd);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        result_error(err, pc, res, "could not send replication command \"TIMELINE_HISTORY\"");
        goto out;
    }
    if (PQntuples(res) != 1 || PQnfields(res) != 2 || PQgetisnull(res, 0, 0) || PQgetisnull(res, 0, 1)) {
        br_error_set(err, BR_E_PG, "unexpected response to TIMELINE_HISTORY command: got %d rows and %d fields, "
                     "expected 1 row and 2 fields", PQntuples(res), PQnfields(res));
        goto out;
    }
    if (PQgetlength(res, 0, 1) > HISTORY_MAX_BYTES) {
        br_error_set(err, BR_E_FORMAT, "history file of timeline %" PRIu32 " is too large (%d bytes)", tli,
                     PQgetlength(res, 0, 1));
        goto out;
    }
    rc = sink->write_history(sink->arg, tli, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
                             (size_t) PQgetlength(res, 0, 1), err);
out:
    PQclear(res);
    return rc;
}

/* Parse the one-row result that follows the end of a timeline: next timeline and where it starts. */
static int
read_end_of_streaming(const PGresult *res, uint32_t *next_tli, uint64_t *next_start, struct br_error *err)
{
    const char *tli_text, *lsn_text;
    char *end;
    unsigned long long v;

    if (PQnfields(res) < 2 || PQntuples(res) != 1 || PQgetisnull(res, 0, 0) || PQgetisnull(res, 0, 1))
        return br_error_set(err, BR_E_PG, "unexpected result set after end-of-timeline: got %d rows and %d fields, "
                            "expected 1 row and 2 fields", PQntuples(res), PQnfields(res));
    tli_text = PQgetvalue(res, 0, 0);
    lsn_text = PQgetvalue(res, 0, 1);
    errno = 0;
    v = strtoull(tli_text, &end, 10);
    if (errno != 0 || end == tli_text || *end != '\0' || v == 0 || v > UINT32_MAX)
        return br_error_set(err, BR_E_PG, "could not parse next timeline's ID \"%.32s\"", tli_text);
    if (xlog_lsn_parse(lsn_text, next_start) != 0)
        return br_error_set(err, BR_E_PG, "could not parse next timeline's starting point \"%.32s\"", lsn_text);
    *next_tli = (uint32_t) v;
    return 0;
}

/*
 * After the server's CopyDone: close our side, then read what follows.
 * Returns 1 with the next timeline set, or -1 (the stream ended or failed).
 */
static int
end_of_copy(PGconn *pc, const struct walrecv_sink *sink, const struct walrecv_state *st, uint32_t tli,
            uint32_t *next_tli, uint64_t *next_start, struct br_error *err)
{
    PGresult *res;
    int rc = -1;

    if (sink->close_partial(sink->arg, err) != 0)
        return -1;
    res = PQgetResult(pc);
    if (PQresultStatus(res) == PGRES_COPY_IN) {
        PQclear(res);
        if (PQputCopyEnd(pc, NULL) <= 0 || PQflush(pc) != 0)
            return set_pg_error(err, "could not send copy-end packet", PQerrorMessage(pc));
        res = PQgetResult(pc);
    }
    if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        char stop_text[XLOG_LSN_BUFLEN], next_text[XLOG_LSN_BUFLEN];

        if (read_end_of_streaming(res, next_tli, next_start, err) != 0)
            goto out;
        if (*next_tli <= tli) {
            br_error_set(err, BR_E_PG, "server reported unexpected next timeline %" PRIu32 ", following timeline %"
                         PRIu32, *next_tli, tli);
            goto out;
        }
        if (*next_start > st->blockpos) {
            xlog_lsn_format(st->blockpos, stop_text);
            xlog_lsn_format(*next_start, next_text);
            br_error_set(err, BR_E_PG, "server stopped streaming timeline %" PRIu32 " at %s, but reported next "
                         "timeline %" PRIu32 " to begin at %s", tli, stop_text, *next_tli, next_text);
            goto out;
        }
        PQclear(res);
        res = PQgetResult(pc);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            result_error(err, pc, res, "unexpected termination of replication stream");
            goto out;
        }
        PQclear(res);
        while ((res = PQgetResult(pc)) != NULL)
            PQclear(res);
        return 1;
    }
    if (PQresultStatus(res) == PGRES_COMMAND_OK)
        br_error_set(err, BR_E_PG, "replication stream was terminated before stop point");
    else
        result_error(err, pc, res, "unexpected termination of replication stream");
out:
    PQclear(res);
    return rc;
}

int
walrecv_stream(struct pgconn *conn, const struct walrecv_options *opts, const struct walrecv_sink *sink,
               uint32_t tli, uint64_t startpos, int *started, struct br_error *err)
{
    PGconn *pc = libpq_of(conn);
    struct walrecv_state st;
    char lsn_text[XLOG_LSN_BUFLEN];
    int first = 1;

    *started = 0;
    for (;;) {
        char *cmd;
        PGresult *res;
        uint32_t next_tli = 0;
        uint64_t next_start = 0;
        int rc;

        if (opts->stop != NULL && *opts->stop)
            return 0;
        /* the history of a timeline comes first, as with pg_receivewal: recovery needs it */
        if (tli != 1 && !sink->has_history(sink->arg, tli) && fetch_history(pc, sink, tli, err) != 0)
            return -1;

        xlog_lsn_format(startpos, lsn_text);
        if (opts->slot_name != NULL && !slot_name_valid(opts->slot_name))
            return br_error_set(err, BR_E_CONFIG, "replication slot name \"%s\" contains invalid character",
                                opts->slot_name);
        if (opts->slot_name != NULL)
            cmd = br_asprintf("START_REPLICATION SLOT %s PHYSICAL %s TIMELINE %" PRIu32, opts->slot_name,
                              lsn_text, tli);
        else
            cmd = br_asprintf("START_REPLICATION PHYSICAL %s TIMELINE %" PRIu32, lsn_text, tli);
        res = PQexec(pc, cmd);
        free(cmd);
        if (PQresultStatus(res) != PGRES_COPY_BOTH) {
            const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

            result_error(err, pc, res, "could not send replication command \"START_REPLICATION\"");
            /* the slot is still held by a receiver that just died: the caller may wait and retry */
            if (state != NULL && strcmp(state, SQLSTATE_OBJECT_IN_USE) == 0)
                err->code = BR_E_LOCKED;
            PQclear(res);
            return -1;
        }
        PQclear(res);
        *started = 1;
        if (sink->begin(sink->arg, tli, startpos, err) != 0)
            return -1;
        if (first)
            notice(opts, "starting log streaming at %s (timeline %" PRIu32 ")", lsn_text, tli);
        first = 0;

        memset(&st, 0, sizeof(st));
        st.blockpos = startpos;
        rc = copy_stream(pc, opts, sink, &st, err);
        if (rc < 0)
            return -1;
        if (rc == COPY_STOPPED)
            return 0;
        if (end_of_copy(pc, sink, &st, tli, &next_tli, &next_start, err) < 0)
            return -1;
        xlog_lsn_format(next_start, lsn_text);
        notice(opts, "switched to timeline %" PRIu32 " at %s", next_tli, lsn_text);
        /* the new timeline is always streamed from the start of a segment */
        tli = next_tli;
        startpos = next_start - xlog_segment_offset(next_start, opts->segment_size);
    }
}

/* ---- replication commands ---- */

int
walrecv_segment_size(struct pgconn *conn, uint32_t *segment_size, struct br_error *err)
{
    char *value = NULL;
    char *end;
    unsigned long long n, mult = 1;
    uint64_t bytes;

    if (pgconn_query_value(conn, "SHOW wal_segment_size", &value, err) != 0)
        return -1;
    if (value == NULL)
        return br_error_set(err, BR_E_PG, "could not fetch WAL segment size: no value returned");
    errno = 0;
    n = strtoull(value, &end, 10);
    if (errno != 0 || end == value)
        goto bad;
    if (strcmp(end, "B") == 0 || *end == '\0')
        mult = 1;
    else if (strcmp(end, "kB") == 0)
        mult = 1024;
    else if (strcmp(end, "MB") == 0)
        mult = 1024 * 1024;
    else if (strcmp(end, "GB") == 0)
        mult = 1024 * 1024 * 1024;
    else
        goto bad;
    bytes = (uint64_t) n * mult;
    /* PostgreSQL allows powers of two from 1 MB to 1 GB */
    if (bytes < 1024 * 1024 || bytes > 1024 * 1024 * 1024 || (bytes & (bytes - 1)) != 0)
        goto bad;
    *segment_size = (uint32_t) bytes;
    free(value);
    return 0;
bad:
    br_error_set(err, BR_E_PG, "invalid WAL segment size \"%.32s\" reported by the server", value);
    free(value);
    return -1;
}

int
walrecv_read_slot(struct pgconn *conn, const char *slot_name, struct walrecv_slot *slot, struct br_error *err)
{
    PGconn *pc = libpq_of(conn);
    PGresult *res;
    char *cmd;
    int rc = -1;

    memset(slot, 0, sizeof(*slot));
    if (pgconn_server_version_num(conn) < PG_VERSION_READ_REPLICATION_SLOT)
        return br_error_set(err, BR_E_PG, "READ_REPLICATION_SLOT needs PostgreSQL 15 or later (server is %s)",
                            pgconn_server_version_text(conn));
    if (!slot_name_valid(slot_name))
        return br_error_set(err, BR_E_CONFIG, "replication slot name \"%s\" contains invalid character", slot_name);
    cmd = br_asprintf("READ_REPLICATION_SLOT %s", slot_name);
    res = PQexec(pc, cmd);
    free(cmd);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        result_error(err, pc, res, "could not send replication command \"READ_REPLICATION_SLOT\"");
        goto out;
    }
    if (PQntuples(res) != 1 || PQnfields(res) != 3) {
        br_error_set(err, BR_E_PG, "could not read replication slot \"%s\": got %d rows and %d fields, expected 1 "
                     "row and 3 fields", slot_name, PQntuples(res), PQnfields(res));
        goto out;
    }
    rc = 0;
    /* a slot that does not exist comes back as a row of NULLs */
    if (PQgetisnull(res, 0, 0))
        goto out;
    if (strcmp(PQgetvalue(res, 0, 0), "physical") != 0) {
        rc = br_error_set(err, BR_E_PG, "replication slot \"%s\" is not a physical slot", slot_name);
        goto out;
    }
    slot->exists = 1;
    if (!PQgetisnull(res, 0, 1) && xlog_lsn_parse(PQgetvalue(res, 0, 1), &slot->restart_lsn) != 0) {
        rc = br_error_set(err, BR_E_PG, "could not parse restart_lsn \"%.32s\" of replication slot \"%s\"",
                          PQgetvalue(res, 0, 1), slot_name);
        goto out;
    }
    if (!PQgetisnull(res, 0, 2)) {
        unsigned long v = strtoul(PQgetvalue(res, 0, 2), NULL, 10);

        slot->restart_tli = v <= UINT32_MAX ? (uint32_t) v : 0;
    }
out:
    PQclear(res);
    return rc;
}

static enum walrecv_slot_result
slot_command(struct pgconn *conn, const char *verb, const char *slot_name, const char *suffix,
             const char *state_a, enum walrecv_slot_result result_a, const char *state_b,
             enum walrecv_slot_result result_b, struct br_error *err)
{
    PGconn *pc = libpq_of(conn);
    PGresult *res;
    char *cmd;
    enum walrecv_slot_result result = WALRECV_SLOT_OK;

    if (!slot_name_valid(slot_name)) {
        br_error_set(err, BR_E_CONFIG, "replication slot name \"%s\" contains invalid character", slot_name);
        br_error_hint(err, "Replication slot names may only contain lower case letters, numbers, and the "
                      "underscore character.");
        return WALRECV_SLOT_ERROR;
    }
    /* unquoted, as Barman sends it: the name was checked above */
    cmd = br_asprintf("%s %s%s", verb, slot_name, suffix);
    res = PQexec(pc, cmd);
    free(cmd);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

        if (state != NULL && strcmp(state, state_a) == 0)
            result = result_a;
        else if (state != NULL && strcmp(state, state_b) == 0)
            result = result_b;
        else
            result = WALRECV_SLOT_ERROR;
        if (primary != NULL)
            br_error_set(err, BR_E_PG, "%s", primary);
        else
            result_error(err, pc, res, verb);
    }
    PQclear(res);
    return result;
}

enum walrecv_slot_result
walrecv_create_slot(struct pgconn *conn, const char *slot_name, struct br_error *err)
{
    return slot_command(conn, "CREATE_REPLICATION_SLOT", slot_name, " PHYSICAL", SQLSTATE_DUPLICATE_OBJECT,
                        WALRECV_SLOT_EXISTS, SQLSTATE_CONFIG_LIMIT, WALRECV_SLOT_FULL, err);
}

enum walrecv_slot_result
walrecv_drop_slot(struct pgconn *conn, const char *slot_name, struct br_error *err)
{
    return slot_command(conn, "DROP_REPLICATION_SLOT", slot_name, "", SQLSTATE_UNDEFINED_OBJECT,
                        WALRECV_SLOT_MISSING, SQLSTATE_OBJECT_IN_USE, WALRECV_SLOT_IN_USE, err);
}

/* PostgreSQL's NAMEDATALEN - 1: application_name is cut there */
#define NAMEDATALEN_MAX 63

/* One name of the list, trimmed and unquoted, against name (PostgreSQL compares them case-insensitively). */
static int
standby_name_matches(const char *item, size_t len, const char *name)
{
    char unq[NAMEDATALEN_MAX + 1];
    size_t n = 0;

    while (len > 0 && isspace((unsigned char) item[0]))
        item++, len--;
    while (len > 0 && isspace((unsigned char) item[len - 1]))
        len--;
    if (len == 1 && item[0] == '*')
        return 1;
    if (len >= 2 && item[0] == '"' && item[len - 1] == '"') {
        for (size_t i = 1; i + 1 < len && n < NAMEDATALEN_MAX; i++) {
            unq[n++] = item[i];
            if (item[i] == '"' && i + 2 < len && item[i + 1] == '"')
                i++;   /* "" stands for " */
        }
    } else {
        for (size_t i = 0; i < len && n < NAMEDATALEN_MAX; i++)
            unq[n++] = item[i];
    }
    unq[n] = '\0';
    return n > 0 && strcasecmp(unq, name) == 0;
}

int
walrecv_standby_listed(const char *standby_names, const char *name)
{
    const char *list = standby_names, *end, *open;

    if (standby_names == NULL || name == NULL)
        return 0;
    /* "FIRST n (...)", "ANY n (...)", "n (...)": the names are inside the parentheses */
    open = strchr(standby_names, '(');
    if (open != NULL) {
        list = open + 1;
        end = strrchr(list, ')');
        if (end == NULL)
            return 0;
    } else {
        end = standby_names + strlen(standby_names);
    }
    while (list < end) {
        const char *comma = list;
        int quoted = 0;

        /* the next comma outside double quotes */
        while (comma < end && (quoted || *comma != ',')) {
            if (*comma == '"')
                quoted = !quoted;
            comma++;
        }
        if (standby_name_matches(list, (size_t) (comma - list), name))
            return 1;
        list = comma + 1;
    }
    return 0;
}
