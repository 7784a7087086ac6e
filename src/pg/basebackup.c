/*
 * basebackup.c: BASE_BACKUP on a replication connection, PostgreSQL 15's
 * protocol (see basebackup.h for the message flow).
 *
 * Two parts: the stream demultiplexer (basebackup_stream_*), which turns
 * CopyData messages into calls on the caller's stage chains and checks the
 * order of messages as pg_basebackup's ReceiveArchiveStreamChunk() does;
 * and basebackup_run(), which sends the command, reads the result sets and
 * pumps the COPY stream with libpq's asynchronous calls, so that a signal
 * flag is seen within BASEBACKUP_POLL_MS even when the server is silent
 * (checkpoint, waiting for WAL archiving).
 */
#include "barrel/build.h"
#include "barrel/basebackup.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>

#include <libpq-fe.h>

#include "barrel/copymsg.h"
#include "barrel/error.h"
#include "barrel/log.h"
#include "barrel/mem.h"
#include "barrel/output.h"
#include "barrel/pgconn.h"
#include "barrel/stage.h"
#include "barrel/strbuf.h"
#include "barrel/xlog.h"

/* The server's MAX_RATE bounds, in kB/s (basebackup.c MAX_RATE_LOWER / MAX_RATE_UPPER). */
#define BASEBACKUP_MAX_RATE_LOWER 32
#define BASEBACKUP_MAX_RATE_UPPER 1048576
/* Archive names are short: "base.tar.zst", "16384.tar.gz". */
#define BASEBACKUP_ARCHIVE_NAME_MAX 64

/* ------------------------------------------------------------ command text */

/* Append a replication-grammar quoted string: '...' with quotes doubled. */
static void
append_quoted(struct strbuf *sb, const char *text)
{
    strbuf_append_char(sb, '\'');
    for (const char *p = text; *p; p++) {
        if (*p == '\'')
            strbuf_append_char(sb, '\'');
        strbuf_append_char(sb, *p);
    }
    strbuf_append_char(sb, '\'');
}

char *
basebackup_command(const struct basebackup_options *opts, struct br_error *err)
{
    struct strbuf sb;

    if (opts->compression != NULL && strcmp(opts->compression, "gzip") != 0 && strcmp(opts->compression, "lz4") != 0
        && strcmp(opts->compression, "zstd") != 0) {
        br_error_set(err, BR_E_USAGE, "unsupported server-side compression \"%s\"", opts->compression);
        return NULL;
    }
    if (opts->max_rate_kbps != 0
        && (opts->max_rate_kbps < BASEBACKUP_MAX_RATE_LOWER || opts->max_rate_kbps > BASEBACKUP_MAX_RATE_UPPER)) {
        br_error_set(err, BR_E_USAGE, "bandwidth limit %" PRId64 " kB/s is out of range (%d..%d)", opts->max_rate_kbps,
                     BASEBACKUP_MAX_RATE_LOWER, BASEBACKUP_MAX_RATE_UPPER);
        return NULL;
    }
    strbuf_init(&sb);
    strbuf_append(&sb, "BASE_BACKUP (LABEL ");
    append_quoted(&sb, opts->label ? opts->label : "barrel base backup");
    if (opts->progress)
        strbuf_append(&sb, ", PROGRESS");
    /* no WAL option: the WAL comes from the archive, as with pg_basebackup --wal-method=none */
    strbuf_append(&sb, opts->fast_checkpoint ? ", CHECKPOINT 'fast'" : ", CHECKPOINT 'spread'");
    if (opts->manifest_checksums != NULL) {
        strbuf_append(&sb, ", MANIFEST 'yes', MANIFEST_CHECKSUMS ");
        append_quoted(&sb, opts->manifest_checksums);
    }
    if (opts->tablespace_map)
        strbuf_append(&sb, ", TABLESPACE_MAP");
    /*
     * The server's own wait for the archive polls once a second (see
     * do_pg_backup_stop): a caller that waits itself saves most of that second.
     */
    if (opts->no_wait)
        strbuf_append(&sb, ", WAIT false");
    if (opts->max_rate_kbps > 0)
        strbuf_appendf(&sb, ", MAX_RATE %" PRId64, opts->max_rate_kbps);
    if (opts->compression != NULL) {
        strbuf_append(&sb, ", COMPRESSION ");
        append_quoted(&sb, opts->compression);
        if (opts->compression_level > 0 || opts->compression_workers > 0) {
            char detail[64];

            if (opts->compression_level > 0 && opts->compression_workers > 0)
                snprintf(detail, sizeof(detail), "level=%d,workers=%d", opts->compression_level,
                         opts->compression_workers);
            else if (opts->compression_level > 0)
                snprintf(detail, sizeof(detail), "level=%d", opts->compression_level);
            else
                snprintf(detail, sizeof(detail), "workers=%d", opts->compression_workers);
            strbuf_append(&sb, ", COMPRESSION_DETAIL ");
            append_quoted(&sb, detail);
        }
    }
    strbuf_append_char(&sb, ')');
    return strbuf_detach(&sb);
}

/* ------------------------------------------------------------ the stream */

enum bb_phase { BB_BEFORE_ARCHIVE, BB_IN_ARCHIVE, BB_IN_MANIFEST };

struct basebackup_stream {
    const struct basebackup_handler *h;
    struct basebackup_result *res;
    enum bb_phase phase;
    struct stage *chain;      /* the open archive's or manifest's chain */
    char name[BASEBACKUP_ARCHIVE_NAME_MAX];
};

struct basebackup_stream *
basebackup_stream_new(const struct basebackup_handler *h, struct basebackup_result *res)
{
    struct basebackup_stream *bs = br_calloc(1, sizeof(*bs));

    bs->h = h;
    bs->res = res;
    bs->phase = BB_BEFORE_ARCHIVE;
    return bs;
}

void
basebackup_stream_free(struct basebackup_stream *bs)
{
    if (bs == NULL)
        return;
    stage_free(bs->chain);
    free(bs);
}

/* Finish and free the open chain. */
static int
close_chain(struct basebackup_stream *bs, struct br_error *err)
{
    struct stage *chain = bs->chain;
    int rc;

    if (chain == NULL)
        return 0;
    bs->chain = NULL;
    rc = stage_finish(chain, err);
    stage_free(chain);
    return rc;
}

/* An archive name from the server becomes part of a file name: accept only plain names. */
static int
check_archive_name(const char *name, struct br_error *err)
{
    size_t len = strlen(name);

    if (len == 0 || len >= BASEBACKUP_ARCHIVE_NAME_MAX || name[0] == '.' || strchr(name, '/') != NULL)
        return br_error_set(err, BR_E_PG, "server sent an invalid archive name \"%.64s\"", name);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char) name[i] < 0x20 || (unsigned char) name[i] >= 0x7f)
            return br_error_set(err, BR_E_PG, "server sent an invalid archive name");
    return 0;
}

int
basebackup_stream_message(struct basebackup_stream *bs, const unsigned char *msg, size_t len, struct br_error *err)
{
    struct copymsg m;
    uint8_t type;

    copymsg_init(&m, msg, len, "base backup message");
    if (copymsg_byte(&m, &type, err) != 0)
        return -1;
    switch (type) {
    case 'n': {
        const char *name, *location;

        m.what = "new archive message";
        if (copymsg_string(&m, &name, err) != 0 || copymsg_string(&m, &location, err) != 0
            || copymsg_end(&m, err) != 0)
            return -1;
        /* PG 15 sends the manifest after the last archive: an archive after it breaks that order */
        if (bs->phase == BB_IN_MANIFEST)
            return br_error_set(err, BR_E_PG, "server sent a new archive after the backup manifest");
        if (check_archive_name(name, err) != 0)
            return -1;
        if (close_chain(bs, err) != 0)
            return -1;
        snprintf(bs->name, sizeof(bs->name), "%s", name);
        br_log_debug("receiving archive \"%s\" (tablespace \"%s\")", name, location);
        bs->chain = bs->h->archive_begin(bs->h->arg, name, location, err);
        if (bs->chain == NULL)
            return -1;
        bs->phase = BB_IN_ARCHIVE;
        bs->res->n_archives++;
        return 0;
    }
    case 'm':
        m.what = "manifest message";
        if (copymsg_end(&m, err) != 0)
            return -1;
        if (bs->phase == BB_IN_MANIFEST)
            return br_error_set(err, BR_E_PG, "server sent the backup manifest twice");
        if (close_chain(bs, err) != 0)
            return -1;
        snprintf(bs->name, sizeof(bs->name), "backup_manifest");
        bs->chain = bs->h->manifest_begin(bs->h->arg, err);
        if (bs->chain == NULL)
            return -1;
        bs->phase = BB_IN_MANIFEST;
        bs->res->manifest_received = 1;
        return 0;
    case 'd': {
        const unsigned char *data;
        size_t n;

        if (bs->phase == BB_BEFORE_ARCHIVE)
            return br_error_set(err, BR_E_PG, "server sent archive data before any archive began");
        copymsg_rest(&m, &data, &n);
        if (bs->phase == BB_IN_ARCHIVE)
            bs->res->archive_bytes += (int64_t) n;
        else
            bs->res->manifest_bytes += (int64_t) n;
        return stage_push_raw(bs->chain, data, n, err);
    }
    case 'p': {
        int64_t done;

        m.what = "progress message";
        if (copymsg_i64(&m, &done, err) != 0 || copymsg_end(&m, err) != 0)
            return -1;
        if (bs->phase == BB_IN_MANIFEST)
            return br_error_set(err, BR_E_PG, "server sent a progress message after the backup manifest");
        if (bs->h->progress != NULL)
            bs->h->progress(bs->h->arg, done, bs->res->estimated_bytes);
        return 0;
    }
    default:
        return br_error_set(err, BR_E_PG, "server sent a base backup message of unknown type %d", type);
    }
}

int
basebackup_stream_end(struct basebackup_stream *bs, struct br_error *err)
{
    return close_chain(bs, err);
}

/* ------------------------------------------------------------ libpq pump */

static int
interrupted(const struct basebackup_handler *h)
{
    return h->interrupted != NULL && h->interrupted(h->arg);
}

static int
set_interrupted(struct br_error *err)
{
    return br_error_set(err, BR_E_INTERRUPTED, "base backup interrupted by a signal");
}

/* The first line of libpq's last message. */
static int
set_conn_error(PGconn *conn, const char *prefix, struct br_error *err)
{
    const char *msg = PQerrorMessage(conn);
    size_t len = 0;

    if (msg == NULL || *msg == '\0')
        msg = "connection lost";
    while (msg[len] != '\0' && msg[len] != '\n')
        len++;
    return br_error_set(err, BR_E_PG, "%s: %.*s", prefix, (int) len, msg);
}

static int
set_result_error(PGresult *res, PGconn *conn, const char *prefix, struct br_error *err)
{
    const char *msg = res ? PQresultErrorMessage(res) : NULL;
    size_t len = 0;

    if (msg == NULL || *msg == '\0')
        return set_conn_error(conn, prefix, err);
    while (msg[len] != '\0' && msg[len] != '\n')
        len++;
    return br_error_set(err, BR_E_PG, "%s: %.*s", prefix, (int) len, msg);
}

/* Wait until the socket is readable or BASEBACKUP_POLL_MS pass; then read what arrived. */
static int
wait_input(PGconn *conn, const struct basebackup_handler *h, struct br_error *err)
{
    struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN};
    int rc;

    if (pfd.fd < 0)
        return set_conn_error(conn, "base backup failed", err);
    rc = poll(&pfd, 1, BASEBACKUP_POLL_MS);
    if (rc < 0 && errno != EINTR)
        return br_error_sys(err, BR_E_IO, "could not wait for the server");
    if (interrupted(h))
        return set_interrupted(err);
    if (rc > 0 && PQconsumeInput(conn) == 0)
        return set_conn_error(conn, "base backup failed", err);
    return 0;
}

/* PQgetResult without blocking past BASEBACKUP_POLL_MS at a time. NULL with err set on failure. */
static PGresult *
next_result(PGconn *conn, const struct basebackup_handler *h, int *done, struct br_error *err)
{
    PGresult *res;

    *done = 0;
    while (PQisBusy(conn)) {
        if (wait_input(conn, h, err) != 0)
            return NULL;
    }
    res = PQgetResult(conn);
    if (res == NULL)
        *done = 1;
    return res;
}

/* An LSN and timeline result set: one row, two columns ("0/2000028", tli). */
static int
parse_position(PGresult *res, uint64_t *lsn, uint32_t *tli, const char *what, struct br_error *err)
{
    char *end;
    unsigned long long v;
    const char *text;

    if (PQntuples(res) != 1 || PQnfields(res) < 2 || PQgetisnull(res, 0, 0) || PQgetisnull(res, 0, 1))
        return br_error_set(err, BR_E_PG, "unexpected %s result from the server: %d rows and %d fields", what,
                            PQntuples(res), PQnfields(res));
    text = PQgetvalue(res, 0, 0);
    if (xlog_lsn_parse(text, lsn) != 0)
        return br_error_set(err, BR_E_PG, "server sent an invalid %s \"%.32s\"", what, text);
    text = PQgetvalue(res, 0, 1);
    errno = 0;
    v = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v == 0 || v > UINT32_MAX)
        return br_error_set(err, BR_E_PG, "server sent an invalid timeline \"%.32s\" with the %s", text, what);
    *tli = (uint32_t) v;
    return 0;
}

/* The tablespace list: spcoid, spclocation, size (kB); the main directory has NULL oid and location. */
static int
parse_tablespaces(PGresult *res, struct basebackup_result *out, struct br_error *err)
{
    int n = PQntuples(res);

    if (PQnfields(res) < 3 || n < 1)
        return br_error_set(err, BR_E_PG, "unexpected tablespace list from the server: %d rows and %d fields", n,
                            PQnfields(res));
    out->tablespaces = br_calloc((size_t) n, sizeof(*out->tablespaces));
    out->n_tablespaces = (size_t) n;
    out->estimated_bytes = 0;
    for (int i = 0; i < n; i++) {
        struct basebackup_tablespace *ts = &out->tablespaces[i];

        ts->size_kb = -1;
        if (!PQgetisnull(res, i, 0)) {
            const char *text = PQgetvalue(res, i, 0);
            char *end;
            unsigned long long v;

            errno = 0;
            v = strtoull(text, &end, 10);
            if (errno != 0 || end == text || *end != '\0' || v == 0 || v > UINT32_MAX)
                return br_error_set(err, BR_E_PG, "server sent an invalid tablespace oid \"%.32s\"", text);
            ts->oid = (uint32_t) v;
            ts->location = br_strdup(PQgetisnull(res, i, 1) ? "" : PQgetvalue(res, i, 1));
        }
        if (!PQgetisnull(res, i, 2)) {
            const char *text = PQgetvalue(res, i, 2);
            char *end;
            long long v;

            errno = 0;
            v = strtoll(text, &end, 10);
            if (errno != 0 || end == text || *end != '\0' || v < 0)
                return br_error_set(err, BR_E_PG, "server sent an invalid tablespace size \"%.32s\"", text);
            ts->size_kb = v;
        }
        if (ts->size_kb < 0)
            out->estimated_bytes = -1;
        else if (out->estimated_bytes >= 0)
            out->estimated_bytes += ts->size_kb * 1024;
    }
    return 0;
}

/*
 * Pump the COPY stream into the demultiplexer until CopyDone. The chain
 * still open (the manifest's) is finished by the caller, only once the
 * server has confirmed the end of the backup.
 */
static int
copy_stream(PGconn *conn, const struct basebackup_handler *h, struct basebackup_stream *bs, struct br_error *err)
{
    for (;;) {
        char *buf = NULL;
        int n = PQgetCopyData(conn, &buf, 1);

        if (n > 0) {
            int mrc = basebackup_stream_message(bs, (const unsigned char *) buf, (size_t) n, err);

            /* PQgetCopyData allocates every message: release it at once */
            PQfreemem(buf);
            if (mrc != 0)
                return -1;
            if (interrupted(h))
                return set_interrupted(err);
            continue;
        }
        if (n == 0) {
            if (wait_input(conn, h, err) != 0)
                return -1;
            continue;
        }
        if (n == -1)
            return 0;       /* CopyDone, or an error whose result follows */
        return set_conn_error(conn, "base backup failed", err);
    }
}

int
basebackup_run(struct pgconn *pc, const struct basebackup_options *opts, const struct basebackup_handler *h,
               struct basebackup_result *res, struct br_error *err)
{
    PGconn *conn = (PGconn *) pgconn_libpq(pc);
    char *command = NULL;
    PGresult *r = NULL;
    struct basebackup_stream *bs = NULL;
    int done, rc = -1, got_end = 0;

    memset(res, 0, sizeof(*res));
    res->estimated_bytes = -1;
    if (pgconn_server_version_num(pc) < BASEBACKUP_MIN_SERVER_VERSION)
        return br_error_set(err, BR_E_PG, "unsupported version: PostgreSQL %s is older than 15, which barrel needs "
                            "for streaming backups", pgconn_server_version_text(pc));
    command = basebackup_command(opts, err);
    if (command == NULL)
        return -1;
    br_log_debug("sending %s", command);
    if (!PQsendQuery(conn, command)) {
        set_conn_error(conn, "could not send the base backup command", err);
        goto out;
    }

    /* start position and timeline */
    r = next_result(conn, h, &done, err);
    if (r == NULL) {
        if (done)
            br_error_set(err, BR_E_PG, "base backup failed: no reply from the server");
        goto out;
    }
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        set_result_error(r, conn, "could not start the base backup", err);
        goto out;
    }
    if (parse_position(r, &res->start_lsn, &res->start_tli, "start position", err) != 0)
        goto out;
    PQclear(r);

    /* tablespaces */
    r = next_result(conn, h, &done, err);
    if (r == NULL) {
        if (done)
            br_error_set(err, BR_E_PG, "base backup failed: no tablespace list from the server");
        goto out;
    }
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        set_result_error(r, conn, "could not get the tablespace list", err);
        goto out;
    }
    if (parse_tablespaces(r, res, err) != 0)
        goto out;
    PQclear(r);
    if (h->started != NULL && h->started(h->arg, res, err) != 0) {
        r = NULL;
        goto out;
    }

    /* the COPY stream */
    r = next_result(conn, h, &done, err);
    if (r == NULL) {
        if (done)
            br_error_set(err, BR_E_PG, "base backup failed: the server sent no data");
        goto out;
    }
    if (PQresultStatus(r) != PGRES_COPY_OUT) {
        set_result_error(r, conn, "base backup failed", err);
        goto out;
    }
    PQclear(r);
    r = NULL;
    bs = basebackup_stream_new(h, res);
    if (copy_stream(conn, h, bs, err) != 0)
        goto out;

    /*
     * After CopyDone PG 15 sends no CommandComplete for the COPY itself: the
     * next result is the end position, then the command's completion. An
     * error raised at the end of the backup (WAL archiving, disk) comes here.
     */
    for (;;) {
        r = next_result(conn, h, &done, err);
        if (r == NULL) {
            if (!done)
                goto out;
            break;
        }
        if (PQresultStatus(r) == PGRES_TUPLES_OK && !got_end) {
            if (parse_position(r, &res->end_lsn, &res->end_tli, "end position", err) != 0)
                goto out;
            got_end = 1;
        } else if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            set_result_error(r, conn, "base backup failed", err);
            goto out;
        }
        PQclear(r);
    }
    r = NULL;
    if (!got_end) {
        br_error_set(err, BR_E_PG, "base backup failed: the server did not send the end position");
        goto out;
    }
    if (res->n_archives == 0) {
        br_error_set(err, BR_E_PG, "base backup failed: the server sent no archive");
        goto out;
    }
    if (opts->manifest_checksums != NULL && !res->manifest_received) {
        br_error_set(err, BR_E_PG, "base backup failed: the server sent no backup manifest");
        goto out;
    }
    /* the server confirmed the backup: only now does the last file get its final name */
    if (basebackup_stream_end(bs, err) != 0)
        goto out;
    rc = 0;
out:
    basebackup_stream_free(bs);
    PQclear(r);
    free(command);
    return rc;
}

void
basebackup_result_reset(struct basebackup_result *res)
{
    if (res == NULL)
        return;
    for (size_t i = 0; i < res->n_tablespaces; i++)
        free(res->tablespaces[i].location);
    free(res->tablespaces);
    memset(res, 0, sizeof(*res));
}
