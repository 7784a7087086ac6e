/*
 * cmd_check.c: `check [--nagios] SERVER_NAME...`, Barman 3.4's server check.
 *
 * For each server, in name order, the checks run in Barman's order
 * (barman/server.py Server.check()) with Barman's names and hints, and are
 * printed as they complete: "Server NAME:" then "\tname: OK|FAILED[ (hint)]"
 * (console), {"NAME": {"check_key": {"hint", "status"}}} (-f json), or one
 * Nagios summary at the end (--nagios). Any failed check on an active
 * server makes the run fail (exit 1; 2 with --nagios, Barman's CRITICAL).
 *
 * Differences from Barman, on purpose:
 * - barrel speaks the replication protocol itself and never runs
 *   pg_basebackup or pg_receivewal, so the executor checks "pg_basebackup",
 *   "pg_basebackup compatible", "pg_basebackup supports tablespaces mapping"
 *   and the streaming archiver's "pg_receivexlog", "pg_receivexlog
 *   compatible" are not printed (Barman prints them for backup_method =
 *   postgres and streaming_archiver = on). rsync/ssh executor checks are not
 *   printed either: barrel has no rsync executor.
 * - "receive-wal running" looks at the flock on .<server>-receive-wal.lock
 *   (held by barrel's or Barman's receiver alike), not at a process list.
 * - check_timeout is not enforced as a whole-command alarm; every
 *   connection is bounded by connect_timeout instead.
 * - WAL compressions that Barman 3.4 cannot read (xz, zstd, lz4, snappy)
 *   pass "compression settings" with a hint saying so (DESIGN.md rule 3);
 *   so does an unset backup_compression without recovery_staging_path
 *   (barrel's zstd tar backups, which Barman 3.4 recovers only staged).
 * - The "archiver errors" summary counts files in name order (Barman uses
 *   the unordered os.listdir()).
 */
#include "barrel/build.h"
#include "barrel/cmd.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

#include "barrel/catalog.h"
#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/fmt.h"
#include "barrel/fs.h"
#include "barrel/json.h"
#include "barrel/mem.h"
#include "barrel/output.h"
#include "barrel/pgconn.h"
#include "barrel/strbuf.h"
#include "barrel/xlog.h"

/* Barman 3.4's PostgreSQL.MINIMAL_VERSION */
#define CHECK_PG_MINIMAL_VERSION      90600
#define CHECK_PG_MINIMAL_VERSION_TEXT "9.6"
/* application_name of the connections check opens */
#define CHECK_APPLICATION_NAME "barrel_check"

/* One check outcome, kept for the Nagios summary. */
struct check_result {
    char   *server;       /* borrowed server name */
    char   *name;
    int     ok;
    char   *hint;         /* NULL = none */
    int     has_perf;
    int64_t perfdata;
    int     active;       /* the server is active: failures count */
};

struct check_results {
    size_t n, cap;
    struct check_result *items;
};

/* What the checks of one server share. */
struct check_ctx {
    struct cmd_context *cmd;
    const struct server_config *srv;
    const char *lock_dir;
    int nagios;
    struct json *json_server;          /* -f json: this server's object (owned until output_result_set) */
    struct check_results *results;

    struct catalog *cat;               /* NULL when the catalog could not be read */
    struct pgconn *pg;                 /* NULL when PostgreSQL is down */
    struct pgconn *streaming;          /* NULL when not needed or unreachable */
    char *postgres_systemid;           /* from pg_control_system() */
    char *streaming_systemid;          /* from IDENTIFY_SYSTEM */
    int   any_failed;                  /* a check failed on this active server */
};

/* Barman's JSON key: lower case, ' ' and '-' to '_', '.' removed. */
static char *
json_key(const char *name)
{
    char *key = br_malloc(strlen(name) + 1);
    size_t n = 0;

    for (const char *p = name; *p; p++) {
        if (*p == '.')
            continue;
        key[n++] = (*p == ' ' || *p == '-') ? '_' : (char) ((*p >= 'A' && *p <= 'Z') ? *p - 'A' + 'a' : *p);
    }
    key[n] = '\0';
    return key;
}

/* Record and print one result (Barman's output.result("check", ...)). */
static void
check_result_full(struct check_ctx *cx, const char *name, int ok, int has_perf, int64_t perf,
                  const char *hint_fmt, ...) BR_PRINTF(6, 7);

static void
check_result_full(struct check_ctx *cx, const char *name, int ok, int has_perf, int64_t perf,
                  const char *hint_fmt, ...)
{
    struct check_results *rs = cx->results;
    struct check_result *r;
    char *hint = NULL;

    if (hint_fmt != NULL) {
        va_list ap;

        va_start(ap, hint_fmt);
        hint = br_vasprintf(hint_fmt, ap);
        va_end(ap);
        if (hint[0] == '\0') {
            free(hint);
            hint = NULL;
        }
    }
    if (rs->n == rs->cap) {
        rs->cap = rs->cap ? rs->cap * 2 : 32;
        rs->items = br_realloc(rs->items, rs->cap * sizeof(*rs->items));
    }
    r = &rs->items[rs->n++];
    r->server = cx->srv->name;
    r->name = br_strdup(name);
    r->ok = ok;
    r->hint = hint;
    r->has_perf = has_perf;
    r->perfdata = perf;
    r->active = cx->srv->active;
    if (!ok && cx->srv->active)
        cx->any_failed = 1;

    if (cx->nagios)
        return;
    if (output_is_json()) {
        struct json *obj = json_object();
        char *key = json_key(name);

        json_object_set(obj, "hint", json_string(hint ? hint : ""));
        json_object_set(obj, "status", json_string(ok ? "OK" : "FAILED"));
        json_object_set(cx->json_server, key, obj);
        free(key);
    } else if (hint != NULL) {
        output_info("\t%s: %s (%s)", name, ok ? "OK" : "FAILED", hint);
    } else {
        output_info("\t%s: %s", name, ok ? "OK" : "FAILED");
    }
}

#define check_ok(cx, name) check_result_full((cx), (name), 1, 0, 0, NULL)
#define check_failed(cx, name) check_result_full((cx), (name), 0, 0, 0, NULL)
#define check_hint(cx, name, ok, ...) check_result_full((cx), (name), (ok), 0, 0, __VA_ARGS__)

static void
check_results_free(struct check_results *rs)
{
    for (size_t i = 0; i < rs->n; i++) {
        free(rs->items[i].name);
        free(rs->items[i].hint);
    }
    free(rs->items);
    rs->items = NULL;
    rs->n = rs->cap = 0;
}

static struct backup_info *
last_backup(const struct check_ctx *cx, unsigned mask)
{
    if (cx->cat == NULL)
        return NULL;
    for (size_t i = cx->cat->n_backups; i > 0; i--) {
        struct backup_info *bi = cx->cat->backups[i - 1];
        if (mask & BACKUP_STATUS_MASK(bi->status))
            return bi;
    }
    return NULL;
}

static size_t
count_backups(const struct check_ctx *cx, unsigned mask)
{
    size_t n = 0;

    if (cx->cat == NULL)
        return 0;
    for (size_t i = 0; i < cx->cat->n_backups; i++)
        if (mask & BACKUP_STATUS_MASK(cx->cat->backups[i]->status))
            n++;
    return n;
}

static double
now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* Entries of a directory, minus "." / ".." and names ending in `skip_suffix`; -1 if unreadable. */
static long
count_dir_entries(const char *dir, const char *skip_suffix)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    long n = 0;
    size_t sl = skip_suffix ? strlen(skip_suffix) : 0;

    if (d == NULL)
        return -1;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        /* glob("*") skips dot files */
        if (de->d_name[0] == '.')
            continue;
        if (sl && len >= sl && strcmp(de->d_name + len - sl, skip_suffix) == 0)
            continue;
        n++;
    }
    closedir(d);
    return n;
}

/* ---------------------------------------------------------------- checks */

/* Barman's _check_wal_queue(): only visible when failing. */
static void
check_wal_queue(struct check_ctx *cx, const char *dir_name, const char *dir, const char *archiver_name,
                int enabled)
{
    long count = dir ? count_dir_entries(dir, ".tmp") : -1;
    char name[64];

    if (count < 0)
        count = 0;
    /* the streaming directory always holds one .partial file */
    if (strcmp(dir_name, "streaming") == 0)
        count -= 1;
    if (!enabled) {
        if (count > 0) {
            snprintf(name, sizeof(name), "empty %s directory", dir_name);
            check_hint(cx, name, 0, "'%s' must be empty when %s=off", dir, archiver_name);
        }
        return;
    }
    if (cx->srv->max_incoming_wals_queue < 0)
        return;
    if (count > cx->srv->max_incoming_wals_queue) {
        snprintf(name, sizeof(name), "%s WALs directory", dir_name);
        check_hint(cx, name, 0, "there are too many WALs in queue: %ld, max %d", count,
                   cx->srv->max_incoming_wals_queue);
    }
}

/* "WAL archive": xlog.db must exist and not be empty, unless a backup waits for WALs. */
static void
check_archive(struct check_ctx *cx)
{
    char *path = xlogdb_path(cx->srv);
    struct stat st;
    int empty = !(path != NULL && stat(path, &st) == 0 && st.st_size > 0);

    free(path);
    if (empty && last_backup(cx, BACKUP_STATUS_MASK(BACKUP_STATUS_WAITING_FOR_WALS)) == NULL)
        check_hint(cx, "WAL archive", 0, "please make sure WAL shipping is setup");
    check_wal_queue(cx, "incoming", cx->srv->incoming_wals_directory, "archiver", cx->srv->archiver);
    check_wal_queue(cx, "streaming", cx->srv->streaming_wals_directory, "streaming_archiver",
                    cx->srv->streaming_archiver);
}

/* "PostgreSQL streaming": a replication connection that answers IDENTIFY_SYSTEM. */
static void
check_streaming(struct check_ctx *cx)
{
    const struct server_config *srv = cx->srv;
    const char *conninfo = srv->streaming_conninfo ? srv->streaming_conninfo : srv->conninfo;
    struct pgconn_identify id;
    struct br_error err;

    br_error_clear(&err);
    cx->streaming = pgconn_open(conninfo, srv->streaming_archiver_name ? srv->streaming_archiver_name
                                                                       : CHECK_APPLICATION_NAME,
                                1, &err);
    if (cx->streaming == NULL) {
        check_hint(cx, "PostgreSQL streaming", 0, "%s", err.msg);
        return;
    }
    if (pgconn_identify_system(cx->streaming, &id, &err) != 0) {
        /* connected, but not to a walsender: Barman's streaming = False */
        check_failed(cx, "PostgreSQL streaming");
        return;
    }
    cx->streaming_systemid = br_strdup(id.systemid);
    check_ok(cx, "PostgreSQL streaming");
}

/* "replication slot", Barman's rules for streaming_archiver on and off. */
static void
check_slot(struct check_ctx *cx)
{
    const struct server_config *srv = cx->srv;
    struct pgconn_slot slot;
    struct br_error err;
    int found;

    br_error_clear(&err);
    found = pgconn_replication_slot(cx->pg, srv->slot_name, &slot, &err);
    if (found < 0) {
        check_hint(cx, "replication slot", 0, "%s", err.msg);
        return;
    }
    if (srv->streaming_archiver) {
        if (!found)
            check_hint(cx, "replication slot", 0,
                       "replication slot '%s' doesn't exist. Please execute '%s receive-wal --create-slot %s'",
                       srv->slot_name, cx->cmd->prog, srv->name);
        else if (slot.restart_lsn == NULL)
            check_hint(cx, "replication slot", 0, "slot '%s' not initialised: is 'receive-wal' running?",
                       srv->slot_name);
        else if (!slot.active)
            check_hint(cx, "replication slot", 0, "slot '%s' not active: is 'receive-wal' running?",
                       srv->slot_name);
        else
            check_ok(cx, "replication slot");
    } else if (found && slot.restart_lsn != NULL) {
        /* not a failure: a slot nobody consumes keeps WAL on the server */
        check_hint(cx, "replication slot", 1, "WARNING: slot '%s' is %s but not required by the current config",
                   srv->slot_name, slot.active ? "active" : "initialised");
    }
    if (found)
        pgconn_slot_reset(&slot);
}

/* The three checks Barman runs when primary_conninfo is set (backup from a standby). */
static void
check_standby(struct check_ctx *cx)
{
    struct br_error err;
    struct pgconn *primary;
    char *primary_id = NULL;
    int in_recovery;

    br_error_clear(&err);
    in_recovery = pgconn_is_in_recovery(cx->pg, &err);
    if (in_recovery == 1)
        check_ok(cx, "PostgreSQL server is standby");
    else
        check_hint(cx, "PostgreSQL server is standby", 0,
                   "conninfo should point to a standby server if primary_conninfo is set");

    primary = pgconn_open(cx->srv->primary_conninfo, CHECK_APPLICATION_NAME, 0, &err);
    in_recovery = primary ? pgconn_is_in_recovery(primary, &err) : -1;
    if (in_recovery == 0)
        check_ok(cx, "Primary server is not a standby");
    else
        check_hint(cx, "Primary server is not a standby", 0,
                   "primary_conninfo should point to a primary server, not a standby");

    if (primary != NULL)
        pgconn_system_identifier(primary, &primary_id, &err);
    if (primary_id != NULL && cx->postgres_systemid != NULL && strcmp(primary_id, cx->postgres_systemid) == 0)
        check_ok(cx, "Primary and standby have same system ID");
    else
        check_hint(cx, "Primary and standby have same system ID", 0,
                   "primary_conninfo and conninfo should point to primary and standby servers which share "
                   "the same system identifier");
    free(primary_id);
    pgconn_close(primary);
}

/* Barman's check_postgres(): nothing after "PostgreSQL: FAILED". */
static void
check_postgres(struct check_ctx *cx)
{
    const struct server_config *srv = cx->srv;
    struct br_error err;
    char *wal_level = NULL;
    int priv;

    br_error_clear(&err);
    cx->pg = srv->conninfo ? pgconn_open(srv->conninfo, CHECK_APPLICATION_NAME, 0, &err) : NULL;
    if (cx->pg == NULL) {
        check_failed(cx, "PostgreSQL");
        return;
    }
    if (pgconn_server_version_num(cx->pg) < CHECK_PG_MINIMAL_VERSION) {
        check_hint(cx, "PostgreSQL", 0, "unsupported version: PostgreSQL server is too old (%s < %s)",
                   pgconn_server_version_text(cx->pg), CHECK_PG_MINIMAL_VERSION_TEXT);
        return;
    }
    check_ok(cx, "PostgreSQL");
    if (pgconn_system_identifier(cx->pg, &cx->postgres_systemid, &err) != 0)
        cx->postgres_systemid = NULL;

    /* unknown (query error): Barman omits the line */
    priv = pgconn_has_backup_privileges(cx->pg, &err);
    if (priv == 1)
        check_ok(cx, "superuser or standard user with backup privileges");
    else if (priv == 0)
        check_hint(cx, "no access to backup functions", 0,
                   "privileges for PostgreSQL backup functions are required (see documentation)");

    /* Barman has a streaming connection for the postgres method and for the streaming archiver */
    if (srv->backup_method == BACKUP_METHOD_POSTGRES || srv->streaming_archiver)
        check_streaming(cx);

    if (pgconn_setting(cx->pg, "wal_level", &wal_level, &err) == 0) {
        if (strcmp(wal_level, "minimal") != 0)
            check_ok(cx, "wal_level");
        else
            check_hint(cx, "wal_level", 0, "please set it to a higher level than 'minimal'");
    }
    free(wal_level);

    if (srv->slot_name != NULL && srv->slot_name[0] != '\0')
        check_slot(cx);
    if (srv->primary_conninfo != NULL)
        check_standby(cx);
}

/* "directories": create every missing *_directory, 0700, like Barman's _make_directories(). */
static void
check_directories(struct check_ctx *cx)
{
    const struct server_config *srv = cx->srv;
    const char *dirs[] = {
        srv->backup_directory, srv->basebackups_directory, srv->errors_directory,
        srv->incoming_wals_directory, srv->streaming_wals_directory, srv->wals_directory,
        cx->lock_dir,
    };

    /* a disabled server (configuration errors) gets no line, as in Barman */
    if (srv->n_disabled_reasons > 0)
        return;
    for (size_t i = 0; i < BR_ARRAY_LEN(dirs); i++) {
        struct br_error err;

        br_error_clear(&err);
        if (dirs[i] == NULL || path_is_dir(dirs[i]))
            continue;
        if (fs_mkdir_p(dirs[i], 0700, &err) != 0) {
            check_hint(cx, "directories", 0, "%s: %s", dirs[i],
                       err.sys_errno ? strerror(err.sys_errno) : err.msg);
            return;
        }
    }
    check_ok(cx, "directories");
}

/*
 * "disk space" (barrel only; Barman has no such check): the filesystem of
 * backup_directory must have room for another backup as large as the last
 * DONE one, or the next nightly backup fails half-way.
 */
static void
check_disk_space(struct check_ctx *cx)
{
    struct statvfs vfs;
    const struct backup_info *last = last_backup(cx, BACKUP_STATUS_MASK(BACKUP_STATUS_DONE));
    char free_text[32], need_text[32];

    if (cx->srv->n_disabled_reasons > 0 || cx->srv->backup_directory == NULL)
        return;
    if (statvfs(cx->srv->backup_directory, &vfs) != 0) {
        check_hint(cx, "disk space", 0, "cannot read the free space of %s: %s", cx->srv->backup_directory,
                   strerror(errno));
        return;
    }
    double free_bytes = (double) vfs.f_bavail * (double) vfs.f_frsize;
    fmt_pretty_size(free_bytes, free_text, sizeof(free_text));
    if (last == NULL || last->size <= 0) {
        check_hint(cx, "disk space", 1, "%s free", free_text);
        return;
    }
    fmt_pretty_size((double) last->size, need_text, sizeof(need_text));
    if (free_bytes < (double) last->size)
        check_hint(cx, "disk space", 0, "%s free, the next backup needs about %s", free_text, need_text);
    else
        check_hint(cx, "disk space", 1, "%s free, last backup %s", free_text, need_text);
}

/* "backup maximum age" and "backup minimum size" (perfdata: last backup size). */
static void
check_backup_validity(struct check_ctx *cx)
{
    const struct server_config *srv = cx->srv;
    const struct backup_info *last = last_backup(cx, BACKUP_MASK_COPY_DONE);
    int64_t size = (last != NULL && last->size != BI_NULL_INT) ? last->size : 0;
    char interval[128], age[128], a[64], b[64];

    if (srv->last_backup_maximum_age >= 0) {
        int ok = 0;

        fmt_timedelta((double) srv->last_backup_maximum_age, interval, sizeof(interval));
        if (last == NULL || !last->end_time_set) {
            snprintf(age, sizeof(age), "No available backups");
        } else {
            double end = (double) last->end_time.epoch_usec / 1e6, now = now_seconds();

            fmt_timedelta(now - end, age, sizeof(age));
            ok = end >= now - (double) srv->last_backup_maximum_age;
        }
        check_hint(cx, "backup maximum age", ok, "interval provided: %s, latest backup age: %s", interval, age);
    } else {
        check_hint(cx, "backup maximum age", 1, "no last_backup_maximum_age provided");
    }

    if (srv->last_backup_minimum_size >= 0) {
        int ok = last != NULL && size >= srv->last_backup_minimum_size;

        fmt_pretty_size((double) size, a, sizeof(a));
        fmt_pretty_size((double) srv->last_backup_minimum_size, b, sizeof(b));
        check_result_full(cx, "backup minimum size", ok, 1, size, "last backup size %s %s %s minimum", a,
                          ok ? ">" : "<", b);
    } else {
        fmt_pretty_size((double) size, a, sizeof(a));
        check_result_full(cx, "backup minimum size", 1, 1, size, "%s", a);
    }
}

/* Barman's get_wal_until_next_backup() + get_wal_info(), streamed over xlog.db. */
struct wal_scan {
    const char *begin;
    const char *end;
    const char *next_end;      /* end_wal of the next backup, NULL if none */
    uint32_t backup_tli;
    int64_t until_next_size;
    int has_last;
    double last_time;
};

static int
wal_scan_cb(const struct xlogdb_entry *e, void *arg)
{
    struct wal_scan *ws = arg;
    struct xlog_name xn;

    if (xlog_name_parse(e->name, &xn) == XLOG_KIND_HISTORY)
        return 0;
    if (strcmp(e->name, ws->begin) < 0)
        return 0;
    if (xlog_name_parse(e->name, &xn) != XLOG_KIND_NONE && xn.tli > ws->backup_tli)
        return 0;
    if (!xlog_is_segment_name(e->name))
        return 0;
    if (ws->next_end != NULL && strcmp(e->name, ws->next_end) > 0)
        return 1;   /* xlog.db is in name order: stop */
    if (ws->end == NULL || strcmp(e->name, ws->end) > 0)
        ws->until_next_size += e->size;
    ws->has_last = 1;
    ws->last_time = e->time;
    return 0;
}

/* "wal maximum age" and "wal size" (perfdata: WAL size since the last backup). */
static void
check_wal_validity(struct check_ctx *cx)
{
    const struct server_config *srv = cx->srv;
    const struct backup_info *last = last_backup(cx, BACKUP_MASK_COPY_DONE);
    struct wal_scan ws;
    char size_text[64];

    memset(&ws, 0, sizeof(ws));
    if (last != NULL && last->begin_wal != NULL) {
        struct xlog_name xn;
        const struct backup_info *next = catalog_next(cx->cat, last, BACKUP_MASK_COPY_DONE);
        struct br_error err;

        br_error_clear(&err);
        ws.begin = last->begin_wal;
        ws.end = last->end_wal;
        ws.next_end = next ? next->end_wal : NULL;
        ws.backup_tli = xlog_name_parse(last->begin_wal, &xn) != XLOG_KIND_NONE ? xn.tli : UINT32_MAX;
        if (xlogdb_foreach(srv, cx->lock_dir, wal_scan_cb, &ws, &err) < 0)
            output_error("%s", err.msg);
    }

    if (srv->last_wal_maximum_age >= 0) {
        if (last == NULL || !ws.has_last) {
            check_hint(cx, "wal maximum age", 0, "No WAL files archived for last backup");
        } else {
            char interval[128], age_text[128];
            double age = now_seconds() - ws.last_time;

            fmt_timedelta((double) srv->last_wal_maximum_age, interval, sizeof(interval));
            fmt_timedelta(age, age_text, sizeof(age_text));
            check_hint(cx, "wal maximum age", age <= (double) srv->last_wal_maximum_age,
                       "interval provided: %s, latest wal age: %s", interval, age_text);
        }
    } else {
        check_hint(cx, "wal maximum age", 1, "no last_wal_maximum_age provided");
    }
    fmt_pretty_size((double) ws.until_next_size, size_text, sizeof(size_text));
    check_result_full(cx, "wal size", 1, 1, ws.until_next_size, "%s", size_text);
}

/*
 * What Barman 3.4 could not recover from the backups barrel takes with these
 * settings, or NULL. barrel stores tar backups only; with backup_compression
 * unset (Barman's plain backups) it writes zstd tarballs, which 3.4 reads but
 * recovers only through a recovery_staging_path.
 */
static const char *
backup_compression_caveat(const struct server_config *srv)
{
    if (srv->backup_method != BACKUP_METHOD_POSTGRES || srv->backup_compression != BACKUP_COMPRESSION_UNSET
        || srv->recovery_staging_path != NULL)
        return NULL;
    return "backup_compression unset: barrel writes zstd tar backups, "
           "which Barman 3.4 recovers only with recovery_staging_path";
}

/*
 * "compression settings": Barman 3.4's compression registry, plus what barrel
 * also reads. What Barman 3.4 cannot read (WAL) or recover (backups) is
 * said in the hint of a passing line, one line per server.
 */
static void
check_compression(struct check_ctx *cx)
{
    static const char *const barman34[] = { "gzip", "bzip2", "pigz", "pygzip", "pybzip2", "custom" };
    static const char *const newer[] = { "xz", "zstd", "lz4", "snappy" };
    const char *c = cx->srv->compression;
    const char *caveat = backup_compression_caveat(cx->srv);

    if (c == NULL || c[0] == '\0') {
        if (caveat != NULL)
            check_hint(cx, "compression settings", 1, "%s", caveat);
        else
            check_ok(cx, "compression settings");
        return;
    }
    for (size_t i = 0; i < BR_ARRAY_LEN(barman34); i++) {
        if (strcmp(c, barman34[i]) == 0) {
            if (strcmp(c, "custom") == 0 && cx->srv->custom_compression_filter == NULL)
                check_hint(cx, "compression settings", 0, "custom_compression_filter setting");
            else if (strcmp(c, "custom") == 0 && cx->srv->custom_decompression_filter == NULL)
                check_hint(cx, "compression settings", 0, "custom_decompression_filter setting");
            else if (caveat != NULL)
                check_hint(cx, "compression settings", 1, "%s", caveat);
            else
                check_ok(cx, "compression settings");
            return;
        }
    }
    for (size_t i = 0; i < BR_ARRAY_LEN(newer); i++) {
        if (strcmp(c, newer[i]) == 0) {
            check_hint(cx, "compression settings", 1, "%s WAL files cannot be read by Barman 3.4%s%s", c,
                       caveat != NULL ? "; " : "", caveat != NULL ? caveat : "");
            return;
        }
    }
    check_failed(cx, "compression settings");
}

/* "failed backups" and "minimum redundancy requirements" (Barman's BackupManager.check()). */
static void
check_backup_manager(struct check_ctx *cx)
{
    size_t failed = count_backups(cx, BACKUP_STATUS_MASK(BACKUP_STATUS_FAILED));
    size_t done = count_backups(cx, BACKUP_STATUS_MASK(BACKUP_STATUS_DONE));

    check_compression(cx);
    check_hint(cx, "failed backups", failed == 0, "there are %zu failed backups", failed);
    check_hint(cx, "minimum redundancy requirements", done >= (size_t) (cx->srv->minimum_redundancy > 0
                                                                          ? cx->srv->minimum_redundancy : 0),
               "have %zu backups, expected at least %d", done, cx->srv->minimum_redundancy);
    /* Barman's executor checks (pg_basebackup ...) would follow here: see the file comment */
}

/* "configuration": the reasons that disabled the server, one per line. */
static void
check_configuration(struct check_ctx *cx)
{
    if (cx->srv->n_disabled_reasons == 0)
        return;
    check_failed(cx, "configuration");
    if (!cx->nagios && !output_is_json())
        for (size_t i = 0; i < cx->srv->n_disabled_reasons; i++)
            output_info("\t\t%s", cx->srv->disabled_reasons[i]);
}

/* "systemid coherence": streaming vs normal connection, then identity.json. */
static void
check_identity(struct check_ctx *cx)
{
    const char *live = cx->streaming_systemid ? cx->streaming_systemid : cx->postgres_systemid;
    char *stored = NULL, *version = NULL, *path;
    struct br_error err;
    int rc;

    if (cx->streaming_systemid && cx->postgres_systemid
        && strcmp(cx->streaming_systemid, cx->postgres_systemid) != 0) {
        check_hint(cx, "systemid coherence", 0,
                   "is the streaming DSN targeting the same server of the PostgreSQL connection string?");
        return;
    }
    if (live == NULL) {
        check_hint(cx, "systemid coherence", 1, "no system Id available");
        return;
    }
    br_error_clear(&err);
    rc = catalog_identity_read(cx->srv, &stored, &version, &err);
    if (rc == 1) {
        check_hint(cx, "systemid coherence", 1, "no system Id stored on disk");
    } else if (rc < 0) {
        check_hint(cx, "systemid coherence", 0, "%s", err.msg);
    } else if (stored == NULL || strcmp(stored, live) != 0) {
        path = path_join(cx->srv->backup_directory, "identity.json");
        check_hint(cx, "systemid coherence", 0,
                   "the system Id of the connected PostgreSQL server changed, stored in \"%s\"", path);
        free(path);
    } else {
        check_ok(cx, "systemid coherence");
    }
    free(stored);
    free(version);
}

/* The archivers, in Barman's order: streaming first, then the archive_command one. */
static void
check_archivers(struct check_ctx *cx)
{
    const struct server_config *srv = cx->srv;

    if (srv->streaming_archiver) {
        struct br_error err;
        long holder;

        br_error_clear(&err);
        holder = catalog_lock_holder(cx->lock_dir, srv->name, "receive-wal", &err);
        /* held without a pid yet: a receiver that is starting is running */
        if (holder > 0 || (holder < 0 && err.code == BR_E_LOCKED))
            check_ok(cx, "receive-wal running");
        else
            check_hint(cx, "receive-wal running", 0, "See the Barman log file for more details");
    }
    if (srv->archiver && cx->pg != NULL) {
        struct br_error err;
        char *mode = NULL, *command = NULL, *archiving = NULL;
        int version = pgconn_server_version_num(cx->pg);

        br_error_clear(&err);
        if (pgconn_setting(cx->pg, "archive_mode", &mode, &err) != 0)
            return;
        if (strcmp(mode, "on") == 0 || strcmp(mode, "always") == 0)
            check_ok(cx, "archive_mode");
        else
            check_hint(cx, "archive_mode", 0, "please set it to 'on'%s", version >= 90500 ? " or 'always'" : "");
        if (pgconn_setting(cx->pg, "archive_command", &command, &err) == 0 && command[0] != '\0'
            && strcmp(command, "(disabled)") != 0) {
            check_ok(cx, "archive_command");
            /* Barman's is_archiving expression over pg_stat_archiver */
            if (pgconn_query_value(cx->pg,
                                   "SELECT current_setting('archive_mode') IN ('on', 'always') "
                                   "AND (last_failed_wal IS NULL "
                                   "OR last_failed_wal LIKE '%.history' "
                                   "AND substring(last_failed_wal from 1 for 8) "
                                   "<= substring(last_archived_wal from 1 for 8) "
                                   "OR last_failed_time <= last_archived_time) FROM pg_stat_archiver",
                                   &archiving, &err) == 0 && archiving != NULL)
                check_result_full(cx, "continuous archiving", strcmp(archiving, "t") == 0, 0, 0, NULL);
        } else {
            check_hint(cx, "archive_command", 0, "please set it accordingly to documentation");
        }
        free(mode);
        free(command);
        free(archiving);
    }
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* "archiver errors": Barman's summarise_error_files() over errors/. */
static void
check_archiver_errors(struct check_ctx *cx)
{
    static const char *const labels[] = { "not relevant", "duplicates", "unknown", "unknown failure" };
    const char *dir = cx->srv->errors_directory;
    DIR *d = dir ? opendir(dir) : NULL;
    struct dirent *de;
    char **names = NULL;
    size_t n = 0, cap = 0;
    long counts[4] = { 0, 0, 0, 0 };
    int order[4], n_order = 0;
    struct strbuf sb;

    while (d != NULL && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            names = br_realloc(names, cap * sizeof(*names));
        }
        names[n++] = br_strdup(de->d_name);
    }
    if (d != NULL)
        closedir(d);
    if (n > 1)
        qsort(names, n, sizeof(*names), cmp_str);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        int kind;

#define ENDS_WITH(s) (len >= sizeof(s) - 1 && strcmp(names[i] + len - (sizeof(s) - 1), s) == 0)
        kind = ENDS_WITH(".error") ? 0 : ENDS_WITH(".duplicate") ? 1 : ENDS_WITH(".unknown") ? 2 : 3;
#undef ENDS_WITH
        /* Python's defaultdict keeps first-insertion order */
        if (counts[kind]++ == 0)
            order[n_order++] = kind;
        free(names[i]);
    }
    free(names);
    strbuf_init(&sb);
    for (int i = 0; i < n_order; i++)
        strbuf_appendf(&sb, "%s%s: %ld", i ? ", " : "", labels[order[i]], counts[order[i]]);
    check_hint(cx, "archiver errors", n == 0, "%s", sb.buf ? sb.buf : "");
    strbuf_free(&sb);
}

/* ----------------------------------------------------------- the recipe */

static void
check_server(struct check_ctx *cx)
{
    struct br_error err;

    br_error_clear(&err);
    cx->cat = catalog_open(cx->srv, &err);
    if (cx->cat == NULL)
        output_error("%s", err.msg);

    /* WAL archive (visible only when failing), incoming/streaming queues */
    check_archive(cx);
    /* PostgreSQL, privileges, streaming, wal_level, slot, standby (not on passive nodes) */
    if (cx->srv->primary_ssh_command == NULL)
        check_postgres(cx);
    /* directories, created when missing */
    check_directories(cx);
    check_disk_space(cx);
    /* retention policy: barrel refuses to load a policy it cannot enforce */
    check_ok(cx, "retention policy settings");
    /* last backup age and size */
    check_backup_validity(cx);
    /* WAL age and size since the last backup */
    check_wal_validity(cx);
    /* compression, failed backups, minimum redundancy */
    check_backup_manager(cx);
    /* configuration problems that disabled the server */
    check_configuration(cx);
    /* system identifier: live vs identity.json */
    check_identity(cx);
    /* receive-wal, archive_mode/archive_command */
    check_archivers(cx);
    /* files in errors/ */
    check_archiver_errors(cx);

    pgconn_close(cx->streaming);
    pgconn_close(cx->pg);
    catalog_free(cx->cat);
    free(cx->postgres_systemid);
    free(cx->streaming_systemid);
    cx->streaming = cx->pg = NULL;
    cx->cat = NULL;
    cx->postgres_systemid = cx->streaming_systemid = NULL;
}

/* Barman's NagiosOutputWriter.close(): one summary line, then one line per failure. Returns 1 if CRITICAL. */
static int
print_nagios(const struct check_results *rs, int global_error)
{
    const char *servers[256], *issues[256];
    size_t n_servers = 0, n_issues = 0;
    struct strbuf perf, line;
    int critical = 0;

    strbuf_init(&perf);
    strbuf_init(&line);
    for (size_t i = 0; i < rs->n; i++) {
        const struct check_result *r = &rs->items[i];
        size_t k;

        for (k = 0; k < n_servers && strcmp(servers[k], r->server) != 0; k++)
            ;
        if (k == n_servers && n_servers < BR_ARRAY_LEN(servers))
            servers[n_servers++] = r->server;
        if (!r->ok) {
            for (k = 0; k < n_issues && strcmp(issues[k], r->server) != 0; k++)
                ;
            if (k == n_issues && n_issues < BR_ARRAY_LEN(issues))
                issues[n_issues++] = r->server;
        }
        if (r->has_perf && strcmp(r->name, "backup minimum size") == 0)
            strbuf_appendf(&perf, "%s%s=%lldB", perf.len ? " " : "", r->server, (long long) r->perfdata);
        if (r->has_perf && strcmp(r->name, "wal size") == 0)
            strbuf_appendf(&perf, "%s%s_wals=%lldB", perf.len ? " " : "", r->server, (long long) r->perfdata);
    }

    if (n_issues == 0 && global_error) {
        output_text("BARMAN CRITICAL - Global configuration errors\n");
        critical = 1;
    } else if (n_issues > 0 && global_error) {
        /* global_error is set by a failure on an active server (or a configuration error) */
        if (n_servers == 1)
            strbuf_appendf(&line, "BARMAN CRITICAL - server %s has issues * ", servers[0]);
        else
            strbuf_appendf(&line, "BARMAN CRITICAL - %zu server out of %zu have issues * ", n_issues, n_servers);
        for (size_t s = 0; s < n_issues; s++) {
            int first = 1;

            strbuf_appendf(&line, "%s%s FAILED: ", s ? " * " : "", issues[s]);
            for (size_t i = 0; i < rs->n; i++) {
                if (strcmp(rs->items[i].server, issues[s]) == 0 && !rs->items[i].ok) {
                    strbuf_appendf(&line, "%s%s", first ? "" : ", ", rs->items[i].name);
                    first = 0;
                }
            }
        }
        output_text("%s%s%s\n", line.buf, perf.len ? "|" : "", perf.len ? perf.buf : "");
        for (size_t s = 0; s < n_issues; s++) {
            for (size_t i = 0; i < rs->n; i++) {
                const struct check_result *r = &rs->items[i];

                if (strcmp(r->server, issues[s]) != 0 || r->ok)
                    continue;
                if (r->hint)
                    output_text("%s.%s: FAILED (%s)\n", r->server, r->name, r->hint);
                else
                    output_text("%s.%s: FAILED\n", r->server, r->name);
            }
        }
        critical = 1;
    } else {
        size_t n_good = 0;
        const char *good[256];

        for (size_t i = 0; i < n_servers; i++) {
            size_t k;

            for (k = 0; k < n_issues && strcmp(issues[k], servers[i]) != 0; k++)
                ;
            if (k == n_issues)
                good[n_good++] = servers[i];
        }
        if (n_good == 0)
            strbuf_append(&line, "BARMAN OK - No server configured");
        else if (n_good == 1)
            strbuf_appendf(&line, "BARMAN OK - Ready to serve the Espresso backup for %s", good[0]);
        else {
            strbuf_appendf(&line, "BARMAN OK - Ready to serve the Espresso backup for %zu servers", n_good);
            for (size_t i = 0; i < n_good; i++)
                strbuf_appendf(&line, " * %s", good[i]);
        }
        for (size_t i = 0; i < n_issues; i++)
            strbuf_appendf(&line, " * IGNORING: %s", issues[i]);
        output_text("%s%s%s\n", line.buf, perf.len ? "|" : "", perf.len ? perf.buf : "");
    }
    strbuf_free(&perf);
    strbuf_free(&line);
    return critical;
}

int
cmd_check(struct cmd_context *ctx, int argc, char **argv, struct br_error *err)
{
    static const struct option longopts[] = {
        {"nagios", no_argument, NULL, 'n'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
    };
    const struct server_config **servers = NULL;
    struct check_results results = { 0, 0, NULL };
    size_t n_servers;
    int nagios = 0, c, any_failed = 0, rc = 0;

    optind = 0;    /* 0, not 1: glibc re-initialises and permutes again (main parsed with "+") */
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'n')
            nagios = 1;
        else if (c == 'h') {
            cmd_print_help(cmd_find("check"), "  --nagios              Nagios plugin compatible output\n");
            return 0;
        } else
            return br_error_set(err, BR_E_USAGE, "check: unrecognized arguments");
    }
    if (optind >= argc)
        return br_error_set(err, BR_E_USAGE, "the following arguments are required: server_name");

    /* inactive servers are checked too; their failures do not count */
    n_servers = cmd_servers_from_args(ctx, argc - optind, argv + optind, 0, &servers);
    for (size_t i = 0; i < n_servers; i++) {
        const struct server_config *srv = servers[i];
        struct check_ctx cx;

        memset(&cx, 0, sizeof(cx));
        cx.cmd = ctx;
        cx.srv = srv;
        cx.lock_dir = ctx->cfg->barman_lock_directory ? ctx->cfg->barman_lock_directory : ctx->cfg->barman_home;
        cx.nagios = nagios;
        cx.results = &results;
        if (!nagios && output_is_json()) {
            cx.json_server = json_object();
        } else if (!nagios) {
            output_info("Server %s%s:", srv->name,
                        !srv->active ? " (inactive)" : srv->n_disabled_reasons ? " (WARNING: disabled)" : "");
        }
        check_server(&cx);
        if (cx.json_server != NULL)
            output_result_set(srv->name, cx.json_server);
        any_failed |= cx.any_failed;
    }

    if (nagios) {
        if (print_nagios(&results, any_failed || output_had_error())) {
            /* Barman exits 2 on CRITICAL; the report is already printed */
            br_error_set(err, BR_E_NAGIOS_CRITICAL, "%s", "");
            rc = -1;
        }
    } else if (any_failed) {
        br_error_set(err, BR_E_CHECK_FAILED, "%s", "");
        rc = -1;
    }
    check_results_free(&results);
    free(servers);
    return rc;
}
