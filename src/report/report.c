/*
 * report.c: gather one server's figures once (report_collect) and write
 * them as the text page or the JSON object of `barrel report`.
 *
 * Recipe of report_collect: read the catalog; label retention; read each
 * backup's verify and drill verdicts; WAL figures of every backup and of
 * the archive in one pass over xlog.db each (streamed); the newest DONE
 * backup's uncompressed size from its manifest (streamed, "Size" fields
 * only); the live server's position; errors/ and the receive-wal lock;
 * statvfs of the catalog's filesystem; the growth projection. Nothing here
 * writes anything.
 */
#include "barrel/build.h"
#include "barrel/report.h"
#include "barrel/backup_stats.h"
#include "barrel/config.h"
#include "barrel/drill.h"
#include "barrel/error.h"
#include "barrel/fmt.h"
#include "barrel/fs.h"
#include "barrel/json.h"
#include "barrel/mem.h"
#include "barrel/pgstatus.h"
#include "barrel/strbuf.h"
#include "barrel/verify.h"
#include "barrel/walverify.h"
#include "barrel/xlog.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define SECONDS_PER_DAY 86400.0
#define MANIFEST_SCAN_BLOCK (64 * 1024)

void
report_server_reset(struct report_server *rs)
{
    for (size_t i = 0; i < rs->n_backups; i++) {
        free(rs->backups[i].error);
        free(rs->backups[i].drill_message);
    }
    free(rs->backups);
    for (size_t i = 0; i < rs->n_config_problems; i++)
        free(rs->config_problems[i]);
    free(rs->config_problems);
    free(rs->name);
    free(rs->catalog_error);
    free(rs->last_compression);
    free(rs->pg_error);
    free(rs->pg_current_wal);
    memset(rs, 0, sizeof(*rs));
}

/* ---- xlog.db: one streaming pass ---- */

struct wal_pass {
    struct report_server *rs;
    double window_start;
    double first_time;               /* oldest xlog.db time in the window */
};

static int
wal_cb(const struct xlogdb_entry *e, void *arg)
{
    struct wal_pass *wp = arg;
    struct report_server *rs = wp->rs;

    if (!xlog_is_segment_name(e->name))
        return 0;
    rs->wal_segments++;
    rs->wal_bytes += e->size;
    /* xlog.db is in archive order: the last line is the newest segment */
    rs->has_wal = 1;
    snprintf(rs->wal_last, sizeof(rs->wal_last), "%s", e->name);
    rs->wal_last_time = e->time;
    if (e->time >= wp->window_start) {
        rs->wal_window_segments++;
        rs->wal_window_bytes += e->size;
        if (wp->first_time == 0 || e->time < wp->first_time)
            wp->first_time = e->time;
    }
    return 0;
}

/* ---- the manifest's total size, streamed: the sum of its "Size" fields ---- */

static int64_t
manifest_total_size(const char *path)
{
    static const char key[] = "\"Size\":";
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char *buf;
    size_t keep = 0;
    int64_t total = 0;
    ssize_t n;

    if (fd < 0)
        return -1;
    buf = br_malloc(MANIFEST_SCAN_BLOCK + 1);
    /* a key cut by the block boundary is found again: the tail of each block is kept */
    while ((n = read(fd, buf + keep, MANIFEST_SCAN_BLOCK - keep)) > 0) {
        size_t len = keep + (size_t) n;
        const char *p = buf, *end = buf + len;
        buf[len] = '\0';
        while ((p = strstr(p, key)) != NULL) {
            const char *q = p + sizeof(key) - 1;
            while (q < end && *q == ' ')
                q++;
            /* need the whole number in this block */
            const char *d = q;
            while (d < end && *d >= '0' && *d <= '9')
                d++;
            if (d == end)
                break;
            total += strtoll(q, NULL, 10);
            p = d;
        }
        /* keep what may hold the start of a key and its number */
        size_t tail = p != NULL ? (size_t) (end - p) : (len < 32 ? len : 32);
        if (tail > 64)
            tail = 64;
        memmove(buf, end - tail, tail);
        keep = tail;
    }
    close(fd);
    free(buf);
    return n < 0 ? -1 : total;
}

/* Files in a directory (errors/); 0 when it does not exist. */
static int64_t
count_files(const char *dir)
{
    DIR *d = dir ? opendir(dir) : NULL;
    struct dirent *de;
    int64_t n = 0;

    if (d == NULL)
        return 0;
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static double
backup_duration(const struct backup_info *bi)
{
    if (bi->total_time >= 0)
        return bi->total_time;
    if (bi->copy_time >= 0)
        return bi->copy_time;
    if (bi->begin_time_set && bi->end_time_set)
        return (double) (bi->end_time.epoch_usec - bi->begin_time.epoch_usec) / 1e6;
    return -1;
}

static void
collect_last_backup(struct report_server *rs, const struct server_config *srv, const struct backup_info *bi)
{
    char *dir = catalog_backup_dir(srv, bi->backup_id);
    char *manifest = br_asprintf("%s/data/backup_manifest", dir);
    int64_t stored = bi->size != BI_NULL_INT ? bi->size : -1;

    rs->last_duration_s = backup_duration(bi);
    rs->last_uncompressed_bytes = path_exists(manifest) ? manifest_total_size(manifest) : -1;
    rs->last_compression = br_strdup(bi->compression);
    if (rs->last_uncompressed_bytes > 0 && stored > 0)
        rs->last_compression_ratio = (double) rs->last_uncompressed_bytes / (double) stored;
    if (rs->last_duration_s > 0) {
        int64_t bytes = rs->last_uncompressed_bytes > 0 ? rs->last_uncompressed_bytes : stored;
        if (bytes > 0)
            rs->last_throughput_bps = (double) bytes / rs->last_duration_s;
    }
    free(manifest);
    free(dir);
}

/* Position of the live server against the archive. */
static void
collect_live(struct report_server *rs, const struct server_config *srv, uint32_t seg_size)
{
    struct pg_remote_status st;
    uint64_t lsn;
    struct xlog_name xn;

    memset(&st, 0, sizeof(st));
    pg_remote_status_fetch(srv, &st);
    rs->pg_checked = 1;
    rs->pg_reachable = st.server_version_num > 0;
    if (!rs->pg_reachable)
        rs->pg_error = br_strdup(st.connection_error ? st.connection_error : "server not reachable");
    rs->pg_current_wal = br_strdup(st.current_xlog);
    if (st.xlog_segment_size != NULL && atol(st.xlog_segment_size) > 0)
        seg_size = (uint32_t) atol(st.xlog_segment_size);
    if (rs->pg_reachable && st.current_lsn != NULL && xlog_lsn_parse(st.current_lsn, &lsn) == 0 && rs->has_wal
        && xlog_name_parse(rs->wal_last, &xn) == XLOG_KIND_SEGMENT) {
        uint64_t archived_end = (xlog_segno(xn.log, xn.seg, seg_size) + 1) * (uint64_t) seg_size;
        rs->has_lag = 1;
        rs->lag_bytes = lsn > archived_end ? (int64_t) (lsn - archived_end) : 0;
        /* a segment still being written is not late: only a finished one waiting is */
        rs->lag_seconds = rs->lag_bytes >= (int64_t) seg_size ? (double) rs->now - rs->wal_last_time : 0;
        if (rs->lag_seconds < 0)
            rs->lag_seconds = 0;
    }
    pg_remote_status_reset(&st);
}

int
report_collect(const struct server_config *srv, const char *lock_dir, int64_t now, int live,
               struct report_server *rs, struct br_error *err)
{
    struct br_error e;
    struct catalog *cat;
    struct backup_wal_stats *stats = NULL;
    enum retention_status *labels = NULL;
    struct wal_pass wp;
    uint32_t seg_size = XLOG_DEFAULT_SEGMENT_SIZE;
    double growth_bytes = 0, oldest = (double) now;
    struct statvfs sv;

    (void) err;
    memset(rs, 0, sizeof(*rs));
    rs->name = br_strdup(srv->name);
    rs->now = now;
    rs->last_duration_s = -1;
    rs->last_uncompressed_bytes = -1;
    if (srv->n_disabled_reasons > 0) {
        rs->config_problems = br_calloc(srv->n_disabled_reasons, sizeof(char *));
        for (size_t i = 0; i < srv->n_disabled_reasons; i++)
            rs->config_problems[rs->n_config_problems++] = br_strdup(srv->disabled_reasons[i]);
    }

    /* 1. the catalog */
    br_error_clear(&e);
    cat = catalog_open(srv, &e);
    if (cat == NULL) {
        rs->catalog_error = br_strdup(e.msg);
        return 0;
    }
    rs->catalog_ok = 1;
    rs->n_backups = cat->n_backups;
    rs->backups = br_calloc(cat->n_backups ? cat->n_backups : 1, sizeof(*rs->backups));
    stats = br_calloc(cat->n_backups ? cat->n_backups : 1, sizeof(*stats));
    labels = br_calloc(cat->n_backups ? cat->n_backups : 1, sizeof(*labels));

    /* 2. retention labels and the WAL each backup needs (one xlog.db pass) */
    backup_stats_retention(cat, labels);
    br_error_clear(&e);
    if (backup_stats_compute(cat, lock_dir, stats, &e) != 0) {
        rs->catalog_ok = 0;
        rs->catalog_error = br_strdup(e.msg);
    }

    /* 3. each backup with its verdicts */
    for (size_t i = 0; i < cat->n_backups; i++) {
        const struct backup_info *bi = cat->backups[i];
        struct report_backup *rb = &rs->backups[i];
        struct verify_result vr;
        struct drill_result dr;
        time_t when;

        snprintf(rb->backup_id, sizeof(rb->backup_id), "%s", bi->backup_id);
        rb->status = bi->status;
        rb->end_time = bi->end_time_set ? bi->end_time.epoch_usec / 1000000 : -1;
        rb->size_bytes = bi->size != BI_NULL_INT ? bi->size : -1;
        rb->wal_size_bytes = stats[i].computed ? stats[i].wal_size : 0;
        rb->retention = labels[i];
        rb->error = br_strdup(bi->error);
        if ((unsigned) bi->status < REPORT_N_STATUSES)
            rs->status_counts[bi->status]++;
        if ((unsigned) labels[i] < BR_ARRAY_LEN(rs->retention_counts))
            rs->retention_counts[labels[i]]++;
        br_error_clear(&e);
        if (verify_last(srv, bi->backup_id, &vr, &when, &e) == 1) {
            rb->verified = 1;
            rb->verify_ok = vr.problems == 0;
            rb->verify_time = (int64_t) when;
            rb->verify_problems = vr.problems;
        }
        br_error_clear(&e);
        if (drill_last(srv, bi->backup_id, &dr, &when, &e) == 1) {
            rb->drilled = 1;
            rb->drill_ok = dr.ok;
            rb->drill_time = (int64_t) when;
            rb->drill_seconds = dr.seconds;
            rb->drill_message = dr.message[0] ? br_strdup(dr.message) : NULL;
        }
        if (bi->status == BACKUP_STATUS_DONE) {
            rs->has_last = 1;
            rs->last_idx = i;
        }
        if (bi->xlog_segment_size > 0)
            seg_size = (uint32_t) bi->xlog_segment_size;
        /* growth: what the backups ended in the window added */
        if (rb->end_time >= 0 && (double) rb->end_time >= (double) now - REPORT_GROWTH_WINDOW_DAYS * SECONDS_PER_DAY
            && rb->size_bytes > 0) {
            growth_bytes += (double) rb->size_bytes;
            if ((double) rb->end_time < oldest)
                oldest = (double) rb->end_time;
        }
    }
    if (rs->has_last)
        collect_last_backup(rs, srv, cat->backups[rs->last_idx]);

    /* 4. the archive, one more streaming pass */
    memset(&wp, 0, sizeof(wp));
    wp.rs = rs;
    wp.window_start = (double) now - REPORT_GROWTH_WINDOW_DAYS * SECONDS_PER_DAY;
    br_error_clear(&e);
    if (xlogdb_foreach(srv, lock_dir, wal_cb, &wp, &e) < 0 && rs->catalog_ok) {
        rs->catalog_ok = 0;
        rs->catalog_error = br_strdup(e.msg);
    }
    if (rs->wal_window_segments > 0) {
        double span = (double) now - wp.first_time;
        if (span < 3600)
            span = 3600;     /* a rate from less than an hour says little: count it as an hour */
        rs->wal_rate_per_hour = (double) rs->wal_window_segments * 3600.0 / span;
        growth_bytes += (double) rs->wal_window_bytes;
        if (wp.first_time < oldest)
            oldest = wp.first_time;
    }

    /* 5. the live server */
    if (live)
        collect_live(rs, srv, seg_size);

    /* 6. failures beside the backups */
    rs->archiver_errors = count_files(srv->errors_directory);
    rs->receive_wal_expected = srv->streaming_archiver;
    if (srv->streaming_archiver) {
        br_error_clear(&e);
        rs->receive_wal_running = catalog_lock_holder(lock_dir, srv->name, "receive-wal", &e) != 0;
    }
    {
        struct walverify_result wr;
        time_t when;
        br_error_clear(&e);
        if (walverify_last(srv, &wr, &when, &e) == 1) {
            rs->wal_verified = 1;
            rs->wal_verify_ok = wr.problems == 0;
            rs->wal_verify_time = (int64_t) when;
            rs->wal_verify_problems = wr.problems;
        }
    }

    /* 7. free space and days left at the window's growth (a day at least, so one fresh backup is not a trend) */
    if (statvfs(srv->backup_directory, &sv) == 0) {
        double span_days = ((double) now - oldest) / SECONDS_PER_DAY;
        rs->has_space = 1;
        rs->fs_free_bytes = (int64_t) sv.f_bavail * (int64_t) sv.f_frsize;
        rs->fs_size_bytes = (int64_t) sv.f_blocks * (int64_t) sv.f_frsize;
        if (span_days < 1)
            span_days = 1;
        rs->growth_bytes_per_day = growth_bytes / span_days;
        if (rs->growth_bytes_per_day > 0) {
            rs->has_days_left = 1;
            rs->days_left = (double) rs->fs_free_bytes / rs->growth_bytes_per_day;
        }
    }
    free(labels);
    free(stats);
    catalog_free(cat);
    return 0;
}

/* ---- failures ---- */

size_t
report_failures(const struct report_server *rs, struct json *out)
{
    size_t n = 0;

    for (size_t i = 0; i < rs->n_config_problems; i++) {
        json_array_add(out, json_stringf("configuration: %s", rs->config_problems[i]));
        n++;
    }
    if (!rs->catalog_ok) {
        json_array_add(out, json_stringf("catalog unreadable: %s", rs->catalog_error ? rs->catalog_error : ""));
        n++;
    }
    for (size_t i = 0; i < rs->n_backups; i++) {
        const struct report_backup *rb = &rs->backups[i];
        if (rb->status == BACKUP_STATUS_FAILED) {
            json_array_add(out, json_stringf("backup %s FAILED%s%s", rb->backup_id, rb->error ? ": " : "",
                                             rb->error ? rb->error : ""));
            n++;
        }
        if (rb->verified && !rb->verify_ok) {
            json_array_add(out, json_stringf("backup %s failed its last verification (%" PRId64 " problem%s)",
                                             rb->backup_id, rb->verify_problems, rb->verify_problems == 1 ? "" : "s"));
            n++;
        }
        if (rb->drilled && !rb->drill_ok) {
            json_array_add(out, json_stringf("backup %s failed its last restore drill%s%s", rb->backup_id,
                                             rb->drill_message ? ": " : "", rb->drill_message ? rb->drill_message : ""));
            n++;
        }
    }
    if (rs->wal_verified && !rs->wal_verify_ok) {
        json_array_add(out, json_stringf("the WAL archive failed its last verification (%" PRId64 " problem%s)",
                                         rs->wal_verify_problems, rs->wal_verify_problems == 1 ? "" : "s"));
        n++;
    }
    if (rs->archiver_errors > 0) {
        json_array_add(out, json_stringf("%" PRId64 " file%s in the errors directory (archiver errors)",
                                         rs->archiver_errors, rs->archiver_errors == 1 ? "" : "s"));
        n++;
    }
    if (rs->receive_wal_expected && !rs->receive_wal_running) {
        json_array_add(out, json_string("receive-wal is not running"));
        n++;
    }
    if (rs->pg_checked && !rs->pg_reachable) {
        json_array_add(out, json_stringf("PostgreSQL is not reachable: %s", rs->pg_error ? rs->pg_error : ""));
        n++;
    }
    return n;
}

/* ---- JSON ---- */

static struct json *
json_time_or_null(int64_t t)
{
    return t >= 0 ? json_int(t) : json_null();
}

static struct json *
json_iso_time(int64_t t)
{
    char buf[40];
    struct tm tm;
    time_t tt = (time_t) t;

    if (t < 0)
        return json_null();
    gmtime_r(&tt, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(buf);
}

struct json *
report_to_json(const struct report_server *rs)
{
    struct json *obj = json_object(), *backups = json_array(), *failures = json_array();
    struct json *last = json_null(), *wal = json_object(), *space = json_object(), *counts = json_object();
    struct json *retention = json_object(), *verify_wal = json_null();

    json_object_set(obj, "server", json_string(rs->name));
    json_object_set(obj, "generated_at", json_int(rs->now));
    json_object_set(obj, "catalog_ok", json_bool(rs->catalog_ok));

    for (int st = 0; st < REPORT_N_STATUSES; st++)
        json_object_set(counts, backup_status_name((enum backup_status) st), json_int(rs->status_counts[st]));
    json_object_set(obj, "backup_counts", counts);
    /* the real labels only: "-" (no policy, not DONE) is not a retention state */
    for (int st = 1; st < (int) BR_ARRAY_LEN(rs->retention_counts); st++)
        json_object_set(retention, retention_status_name((enum retention_status) st), json_int(rs->retention_counts[st]));
    json_object_set(obj, "retention_counts", retention);

    if (rs->has_last) {
        const struct report_backup *rb = &rs->backups[rs->last_idx];
        json_free(last);
        last = json_object();
        json_object_set(last, "backup_id", json_string(rb->backup_id));
        json_object_set(last, "end_time", json_time_or_null(rb->end_time));
        json_object_set(last, "end_time_iso", json_iso_time(rb->end_time));
        json_object_set(last, "age_seconds", rb->end_time >= 0 ? json_int(rs->now - rb->end_time) : json_null());
        json_object_set(last, "size_bytes", rb->size_bytes >= 0 ? json_int(rb->size_bytes) : json_null());
        json_object_set(last, "uncompressed_bytes",
                        rs->last_uncompressed_bytes >= 0 ? json_int(rs->last_uncompressed_bytes) : json_null());
        json_object_set(last, "compression", json_string(rs->last_compression));
        json_object_set(last, "compression_ratio",
                        rs->last_compression_ratio > 0 ? json_double(rs->last_compression_ratio) : json_null());
        json_object_set(last, "duration_seconds",
                        rs->last_duration_s >= 0 ? json_double(rs->last_duration_s) : json_null());
        json_object_set(last, "throughput_bytes_per_second",
                        rs->last_throughput_bps > 0 ? json_double(rs->last_throughput_bps) : json_null());
        json_object_set(last, "wal_size_bytes", json_int(rb->wal_size_bytes));
    }
    json_object_set(obj, "last_backup", last);

    json_object_set(wal, "segments", json_int(rs->wal_segments));
    json_object_set(wal, "size_bytes", json_int(rs->wal_bytes));
    json_object_set(wal, "last_segment", rs->has_wal ? json_string(rs->wal_last) : json_null());
    json_object_set(wal, "last_archived_time", rs->has_wal ? json_double(rs->wal_last_time) : json_null());
    json_object_set(wal, "last_archived_age_seconds",
                    rs->has_wal ? json_double(floor((double) rs->now - rs->wal_last_time)) : json_null());
    json_object_set(wal, "rate_segments_per_hour", json_double(rs->wal_rate_per_hour));
    json_object_set(wal, "window_segments", json_int(rs->wal_window_segments));
    json_object_set(wal, "window_bytes", json_int(rs->wal_window_bytes));
    json_object_set(wal, "server_reachable", rs->pg_checked ? json_bool(rs->pg_reachable) : json_null());
    json_object_set(wal, "server_current_wal", json_string(rs->pg_current_wal));
    json_object_set(wal, "lag_bytes", rs->has_lag ? json_int(rs->lag_bytes) : json_null());
    json_object_set(wal, "lag_seconds", rs->has_lag ? json_double(rs->lag_seconds) : json_null());
    json_object_set(wal, "receive_wal_expected", json_bool(rs->receive_wal_expected));
    json_object_set(wal, "receive_wal_running", json_bool(rs->receive_wal_running));
    json_object_set(wal, "archiver_errors", json_int(rs->archiver_errors));
    if (rs->wal_verified) {
        json_free(verify_wal);
        verify_wal = json_object();
        json_object_set(verify_wal, "time", json_int(rs->wal_verify_time));
        json_object_set(verify_wal, "result", json_string(rs->wal_verify_ok ? "OK" : "FAILED"));
        json_object_set(verify_wal, "problems", json_int(rs->wal_verify_problems));
    }
    json_object_set(wal, "last_verification", verify_wal);
    json_object_set(obj, "wal", wal);

    for (size_t i = rs->n_backups; i > 0; i--) {
        const struct report_backup *rb = &rs->backups[i - 1];
        struct json *b = json_object(), *v = json_null(), *d = json_null();
        json_object_set(b, "backup_id", json_string(rb->backup_id));
        json_object_set(b, "status", json_string(backup_status_name(rb->status)));
        json_object_set(b, "end_time", json_time_or_null(rb->end_time));
        json_object_set(b, "size_bytes", rb->size_bytes >= 0 ? json_int(rb->size_bytes) : json_null());
        json_object_set(b, "wal_size_bytes", json_int(rb->wal_size_bytes));
        json_object_set(b, "retention", json_string(retention_status_name(rb->retention)));
        json_object_set(b, "error", json_string(rb->error));
        if (rb->verified) {
            json_free(v);
            v = json_object();
            json_object_set(v, "time", json_int(rb->verify_time));
            json_object_set(v, "result", json_string(rb->verify_ok ? "OK" : "FAILED"));
            json_object_set(v, "problems", json_int(rb->verify_problems));
        }
        json_object_set(b, "last_verification", v);
        if (rb->drilled) {
            json_free(d);
            d = json_object();
            json_object_set(d, "time", json_int(rb->drill_time));
            json_object_set(d, "result", json_string(rb->drill_ok ? "OK" : "FAILED"));
            json_object_set(d, "seconds", json_double(rb->drill_seconds));
            json_object_set(d, "message", json_string(rb->drill_message));
        }
        json_object_set(b, "last_drill", d);
        json_array_add(backups, b);
    }
    json_object_set(obj, "backups", backups);

    json_object_set(space, "free_bytes", rs->has_space ? json_int(rs->fs_free_bytes) : json_null());
    json_object_set(space, "size_bytes", rs->has_space ? json_int(rs->fs_size_bytes) : json_null());
    json_object_set(space, "growth_bytes_per_day", rs->has_space ? json_double(rs->growth_bytes_per_day) : json_null());
    json_object_set(space, "growth_window_days", json_int(REPORT_GROWTH_WINDOW_DAYS));
    json_object_set(space, "days_left", rs->has_days_left ? json_double(floor(rs->days_left * 10) / 10) : json_null());
    json_object_set(obj, "space", space);

    report_failures(rs, failures);
    json_object_set(obj, "status", json_string(json_array_len(failures) == 0 ? "OK" : "FAILED"));
    json_object_set(obj, "failures", failures);
    return obj;
}

/* ---- text ---- */

static void
text_time(int64_t t, char *buf, size_t len)
{
    struct tm tm;
    time_t tt = (time_t) t;

    if (t < 0) {
        snprintf(buf, len, "-");
        return;
    }
    localtime_r(&tt, &tm);
    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

static void
text_age(double seconds, char *buf, size_t len)
{
    fmt_timedelta(seconds < 0 ? 0 : seconds, buf, len);
    if (strlen(buf) + 5 <= len)
        memcpy(buf + strlen(buf), " ago", 5);
}

void
report_to_text(const struct report_server *rs, struct strbuf *out)
{
    char a[160], b[64], c[160];
    struct json *failures = json_array();

    strbuf_appendf(out, "Server %s:\n", rs->name);
    if (!rs->catalog_ok && rs->n_backups == 0) {
        strbuf_appendf(out, "\tCatalog: unreadable (%s)\n", rs->catalog_error ? rs->catalog_error : "");
    }

    /* last backup */
    if (rs->has_last) {
        const struct report_backup *rb = &rs->backups[rs->last_idx];
        text_time(rb->end_time, a, sizeof(a));
        text_age((double) (rs->now - rb->end_time), b, sizeof(b));
        strbuf_appendf(out, "\tLast backup: %s (ended %s, %s)\n", rb->backup_id, a, b);
        fmt_pretty_size((double) (rb->size_bytes > 0 ? rb->size_bytes : 0), a, sizeof(a));
        if (rs->last_compression_ratio > 0) {
            fmt_pretty_size((double) rs->last_uncompressed_bytes, b, sizeof(b));
            strbuf_appendf(out, "\t\tSize: %s stored, %s of data (ratio %.2f, %s)\n", a, b, rs->last_compression_ratio,
                           rs->last_compression ? rs->last_compression : "None");
        } else
            strbuf_appendf(out, "\t\tSize: %s\n", a);
        if (rs->last_duration_s >= 0) {
            fmt_timedelta(rs->last_duration_s, a, sizeof(a));
            fmt_pretty_size(rs->last_throughput_bps, b, sizeof(b));
            strbuf_appendf(out, "\t\tDuration: %s (%s/s)\n", a, b);
        }
    } else
        strbuf_append(out, "\tLast backup: none\n");
    strbuf_appendf(out, "\tBackups: %" PRId64 " DONE, %" PRId64 " FAILED, %" PRId64 " WAITING_FOR_WALS, %" PRId64
                        " in progress\n",
                   rs->status_counts[BACKUP_STATUS_DONE], rs->status_counts[BACKUP_STATUS_FAILED],
                   rs->status_counts[BACKUP_STATUS_WAITING_FOR_WALS],
                   rs->status_counts[BACKUP_STATUS_STARTED] + rs->status_counts[BACKUP_STATUS_EMPTY]
                       + rs->status_counts[BACKUP_STATUS_SYNCING]);

    /* WAL */
    if (rs->has_wal) {
        text_age((double) rs->now - rs->wal_last_time, a, sizeof(a));
        fmt_pretty_size((double) rs->wal_bytes, b, sizeof(b));
        strbuf_appendf(out, "\tWAL archive: last %s (archived %s), %" PRId64 " segments, %s\n", rs->wal_last, a,
                       rs->wal_segments, b);
    } else
        strbuf_append(out, "\tWAL archive: empty\n");
    strbuf_appendf(out, "\t\tRate: %.1f segments/hour over the last %d days\n", rs->wal_rate_per_hour,
                   REPORT_GROWTH_WINDOW_DAYS);
    if (rs->has_lag) {
        fmt_pretty_size((double) rs->lag_bytes, a, sizeof(a));
        strbuf_appendf(out, "\t\tLag: %s, %.0f s behind the server (current WAL %s)\n", a, rs->lag_seconds,
                       rs->pg_current_wal ? rs->pg_current_wal : "-");
    } else if (rs->pg_checked)
        strbuf_appendf(out, "\t\tLag: unknown (%s)\n", rs->pg_reachable ? "server position unknown" : "server not reachable");
    if (rs->receive_wal_expected)
        strbuf_appendf(out, "\t\treceive-wal: %s\n", rs->receive_wal_running ? "running" : "NOT RUNNING");
    if (rs->wal_verified) {
        text_time(rs->wal_verify_time, a, sizeof(a));
        strbuf_appendf(out, "\t\tLast verify-wal: %s, %s\n", a, rs->wal_verify_ok ? "OK" : "FAILED");
    }

    /* retention */
    if (rs->n_backups > 0) {
        strbuf_append(out, "\tRetention:");
        int first = 1;
        for (size_t st = 1; st < BR_ARRAY_LEN(rs->retention_counts); st++)
            if (rs->retention_counts[st] > 0) {
                strbuf_appendf(out, "%s %" PRId64 " %s", first ? "" : ",", rs->retention_counts[st],
                               retention_status_name((enum retention_status) st));
                first = 0;
            }
        strbuf_append(out, first ? " not enforced\n" : "\n");
    }

    /* every backup, newest first: verification and drill */
    if (rs->n_backups > 0)
        strbuf_append(out, "\tBackups (newest first):\n");
    for (size_t i = rs->n_backups; i > 0; i--) {
        const struct report_backup *rb = &rs->backups[i - 1];
        if (rb->verified) {
            text_time(rb->verify_time, b, sizeof(b));
            snprintf(a, sizeof(a), "verified %s %s", b, rb->verify_ok ? "OK" : "FAILED");
        } else
            snprintf(a, sizeof(a), "never verified");
        if (rb->drilled) {
            text_time(rb->drill_time, b, sizeof(b));
            snprintf(c, sizeof(c), ", drill %s %s (%.0f s)", b, rb->drill_ok ? "OK" : "FAILED", rb->drill_seconds);
        } else
            c[0] = '\0';
        strbuf_appendf(out, "\t\t%s  %-16s  %-15s  %s%s\n", rb->backup_id, backup_status_name(rb->status),
                       retention_status_name(rb->retention), a, c);
    }

    /* space */
    if (rs->has_space) {
        fmt_pretty_size((double) rs->fs_free_bytes, a, sizeof(a));
        fmt_pretty_size((double) rs->fs_size_bytes, b, sizeof(b));
        strbuf_appendf(out, "\tFree space: %s of %s", a, b);
        if (rs->has_days_left) {
            fmt_pretty_size(rs->growth_bytes_per_day, c, sizeof(c));
            strbuf_appendf(out, ", %.1f days left at %s/day\n", rs->days_left, c);
        } else
            strbuf_append(out, ", no growth in the last days\n");
    }

    /* failures */
    if (report_failures(rs, failures) == 0)
        strbuf_append(out, "\tFailures: none\n");
    else {
        strbuf_append(out, "\tFailures:\n");
        for (size_t i = 0; i < json_array_len(failures); i++)
            strbuf_appendf(out, "\t\t%s\n", json_string_value(json_array_get(failures, i)));
    }
    json_free(failures);
}
