/*
 * metrics.c: the report's figures in the Prometheus text exposition format
 * (version 0.0.4), for node_exporter's textfile collector.
 *
 * One table lists every family (name, type, help, labels); the writer walks
 * it family by family and, inside each, server by server, so that the
 * samples of a family are contiguous as the format requires. Figures that
 * are unknown (no live server, no drill yet) are left out, not written as
 * 0: an absent series is what a Prometheus alert can tell from "zero".
 * Timestamps are seconds since the epoch; sizes are bytes (base units).
 */
#include "barrel/build.h"
#include "barrel/report.h"
#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/fmt.h"
#include "barrel/fs.h"
#include "barrel/json.h"
#include "barrel/mem.h"
#include "barrel/strbuf.h"

#include <inttypes.h>
#include <math.h>
#include <time.h>

enum metric_id {
    M_UP,
    M_POSTGRES_UP,
    M_BACKUPS_TOTAL,
    M_BACKUPS_RETENTION,
    M_LAST_BACKUP_END,
    M_LAST_BACKUP_SIZE,
    M_LAST_BACKUP_UNCOMPRESSED,
    M_LAST_BACKUP_RATIO,
    M_LAST_BACKUP_DURATION,
    M_LAST_BACKUP_THROUGHPUT,
    M_BACKUP_SIZE,
    M_BACKUP_END,
    M_BACKUP_VERIFIED,
    M_BACKUP_VERIFY_TIME,
    M_VERIFY_LAST_SUCCESS,
    M_VERIFY_FAILED_BACKUPS,
    M_WAL_LAST_ARCHIVED,
    M_WAL_SEGMENTS,
    M_WAL_SIZE,
    M_WAL_RATE,
    M_WAL_LAG_BYTES,
    M_WAL_LAG_SECONDS,
    M_WAL_VERIFY_OK,
    M_WAL_VERIFY_TIME,
    M_ARCHIVER_ERRORS,
    M_RECEIVE_WAL_RUNNING,
    M_DRILL_LAST_TIME,
    M_DRILL_LAST_SUCCESS,
    M_DRILL_LAST_DURATION,
    M_DRILL_LAST_SUCCESS_TIME,
    M_CATALOG_FREE,
    M_CATALOG_SIZE,
    M_CATALOG_GROWTH,
    M_CATALOG_DAYS_LEFT,
    M_FAILURES,
    M_GENERATED,
};

static const struct metric_family families[] = {
    [M_UP] = {"barrel_up", "gauge", "1 when barrel could read the server's catalog, 0 otherwise", "server"},
    [M_POSTGRES_UP] = {"barrel_postgres_up", "gauge", "1 when the PostgreSQL server answered, 0 otherwise", "server"},
    [M_BACKUPS_TOTAL] = {"barrel_backups", "gauge", "Backups in the catalog by status", "server,status"},
    [M_BACKUPS_RETENTION] = {"barrel_backups_retention", "gauge",
                             "DONE backups by retention label (VALID, OBSOLETE, ...), when a policy is set",
                             "server,label"},
    [M_LAST_BACKUP_END] = {"barrel_last_backup_end_timestamp_seconds", "gauge",
                           "End time of the newest DONE backup", "server"},
    [M_LAST_BACKUP_SIZE] = {"barrel_last_backup_size_bytes", "gauge", "Size on disk of the newest DONE backup",
                            "server"},
    [M_LAST_BACKUP_UNCOMPRESSED] = {"barrel_last_backup_uncompressed_bytes", "gauge",
                                    "Data size of the newest DONE backup (sum of its manifest's file sizes)", "server"},
    [M_LAST_BACKUP_RATIO] = {"barrel_last_backup_compression_ratio", "gauge",
                             "Uncompressed / stored size of the newest DONE backup", "server"},
    [M_LAST_BACKUP_DURATION] = {"barrel_last_backup_duration_seconds", "gauge",
                                "Duration of the newest DONE backup", "server"},
    [M_LAST_BACKUP_THROUGHPUT] = {"barrel_last_backup_throughput_bytes_per_second", "gauge",
                                  "Data bytes per second of the newest DONE backup", "server"},
    [M_BACKUP_SIZE] = {"barrel_backup_size_bytes", "gauge", "Size on disk of each backup", "server,backup_id"},
    [M_BACKUP_END] = {"barrel_backup_end_timestamp_seconds", "gauge", "End time of each backup", "server,backup_id"},
    [M_BACKUP_VERIFIED] = {"barrel_backup_verified", "gauge",
                           "1 when the backup's last verify-backup passed, 0 when it failed or never ran",
                           "server,backup_id"},
    [M_BACKUP_VERIFY_TIME] = {"barrel_backup_verify_timestamp_seconds", "gauge",
                              "Time of the backup's last verify-backup", "server,backup_id"},
    [M_VERIFY_LAST_SUCCESS] = {"barrel_verify_last_success_timestamp_seconds", "gauge",
                               "Time of the newest verify-backup that passed, on any backup of the server", "server"},
    [M_VERIFY_FAILED_BACKUPS] = {"barrel_verify_failed_backups", "gauge",
                                 "Backups whose last verify-backup failed", "server"},
    [M_WAL_LAST_ARCHIVED] = {"barrel_wal_last_archived_timestamp_seconds", "gauge",
                             "Archive time of the newest WAL segment (xlog.db)", "server"},
    [M_WAL_SEGMENTS] = {"barrel_wal_segments", "gauge", "WAL segments in the archive", "server"},
    [M_WAL_SIZE] = {"barrel_wal_size_bytes", "gauge", "Size on disk of the WAL archive", "server"},
    [M_WAL_RATE] = {"barrel_wal_archive_rate_segments_per_hour", "gauge",
                    "WAL segments archived per hour over the growth window", "server"},
    [M_WAL_LAG_BYTES] = {"barrel_wal_archive_lag_bytes", "gauge",
                         "Bytes between the server's current WAL position and the end of the newest archived segment",
                         "server"},
    [M_WAL_LAG_SECONDS] = {"barrel_wal_archive_lag_seconds", "gauge",
                           "Age of the newest archived segment while a finished segment waits, else 0", "server"},
    [M_WAL_VERIFY_OK] = {"barrel_wal_verified", "gauge", "1 when the last verify-wal passed, 0 when it failed",
                         "server"},
    [M_WAL_VERIFY_TIME] = {"barrel_wal_verify_timestamp_seconds", "gauge", "Time of the last verify-wal", "server"},
    [M_ARCHIVER_ERRORS] = {"barrel_archiver_errors", "gauge", "Files in the server's errors directory", "server"},
    [M_RECEIVE_WAL_RUNNING] = {"barrel_receive_wal_running", "gauge",
                               "1 when receive-wal runs, 0 when it should and does not (streaming_archiver = on)",
                               "server"},
    [M_DRILL_LAST_TIME] = {"barrel_drill_last_timestamp_seconds", "gauge", "Time of the newest restore drill",
                           "server,backup_id"},
    [M_DRILL_LAST_SUCCESS] = {"barrel_drill_last_success", "gauge", "1 when the newest restore drill passed",
                              "server,backup_id"},
    [M_DRILL_LAST_DURATION] = {"barrel_drill_last_duration_seconds", "gauge",
                               "Measured recovery time of the newest restore drill (restore, start, checks)",
                               "server,backup_id"},
    [M_DRILL_LAST_SUCCESS_TIME] = {"barrel_drill_last_success_timestamp_seconds", "gauge",
                                   "Time of the newest restore drill that passed", "server"},
    [M_CATALOG_FREE] = {"barrel_catalog_free_bytes", "gauge", "Free bytes on the catalog's filesystem", "server"},
    [M_CATALOG_SIZE] = {"barrel_catalog_filesystem_size_bytes", "gauge", "Size of the catalog's filesystem",
                        "server"},
    [M_CATALOG_GROWTH] = {"barrel_catalog_growth_bytes_per_day", "gauge",
                          "Bytes added per day by backups and WAL over the growth window (retention ignored)",
                          "server"},
    [M_CATALOG_DAYS_LEFT] = {"barrel_catalog_time_left_seconds", "gauge",
                             "Time until the catalog's filesystem is full at the growth of the window", "server"},
    [M_FAILURES] = {"barrel_failures", "gauge", "Failures the report lists for the server", "server"},
    [M_GENERATED] = {"barrel_metrics_generated_timestamp_seconds", "gauge", "When this file was written", ""},
};

const struct metric_family *
metrics_families(size_t *count)
{
    *count = BR_ARRAY_LEN(families);
    return families;
}

/* Label values: backslash, double quote and newline escaped. */
static void
append_label_value(struct strbuf *out, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\')
            strbuf_append(out, "\\\\");
        else if (*v == '"')
            strbuf_append(out, "\\\"");
        else if (*v == '\n')
            strbuf_append(out, "\\n");
        else
            strbuf_append_char(out, *v);
    }
}

/* Values: integers exactly, others as the shortest text that reads back exactly, +Inf/NaN as Prometheus spells them. */
static void
append_value(struct strbuf *out, double v)
{
    if (isnan(v))
        strbuf_append(out, "NaN");
    else if (isinf(v))
        strbuf_append(out, v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 9e15)
        strbuf_appendf(out, "%" PRId64, (int64_t) v);
    else {
        char buf[40];
        fmt_py_float(v, buf, sizeof(buf));
        strbuf_append(out, buf);
    }
}

/* One sample: name{server="..."[,k2="v2"]} value */
static void
sample(struct strbuf *out, enum metric_id id, const char *server, const char *k2, const char *v2, double value)
{
    strbuf_append(out, families[id].name);
    if (server != NULL) {
        strbuf_append(out, "{server=\"");
        append_label_value(out, server);
        strbuf_append_char(out, '"');
        if (k2 != NULL) {
            strbuf_appendf(out, ",%s=\"", k2);
            append_label_value(out, v2);
            strbuf_append_char(out, '"');
        }
        strbuf_append_char(out, '}');
    }
    strbuf_append_char(out, ' ');
    append_value(out, value);
    strbuf_append_char(out, '\n');
}

/* The newest drilled backup of a server, or NULL. */
static const struct report_backup *
newest_drill(const struct report_server *rs, int only_ok)
{
    const struct report_backup *best = NULL;

    for (size_t i = 0; i < rs->n_backups; i++) {
        const struct report_backup *rb = &rs->backups[i];
        if (rb->drilled && (!only_ok || rb->drill_ok) && (best == NULL || rb->drill_time >= best->drill_time))
            best = rb;
    }
    return best;
}

static void
emit_server(struct strbuf *out, enum metric_id id, const struct report_server *rs)
{
    const char *s = rs->name;
    const struct report_backup *last = rs->has_last ? &rs->backups[rs->last_idx] : NULL;

    switch (id) {
    case M_UP:
        sample(out, id, s, NULL, NULL, rs->catalog_ok);
        break;
    case M_POSTGRES_UP:
        if (rs->pg_checked)
            sample(out, id, s, NULL, NULL, rs->pg_reachable);
        break;
    case M_BACKUPS_TOTAL:
        for (int st = 0; st < REPORT_N_STATUSES; st++)
            sample(out, id, s, "status", backup_status_name((enum backup_status) st), (double) rs->status_counts[st]);
        break;
    case M_BACKUPS_RETENTION:
        for (size_t st = 1; st < BR_ARRAY_LEN(rs->retention_counts); st++)
            sample(out, id, s, "label", retention_status_name((enum retention_status) st),
                   (double) rs->retention_counts[st]);
        break;
    case M_LAST_BACKUP_END:
        if (last && last->end_time >= 0)
            sample(out, id, s, NULL, NULL, (double) last->end_time);
        break;
    case M_LAST_BACKUP_SIZE:
        if (last && last->size_bytes >= 0)
            sample(out, id, s, NULL, NULL, (double) last->size_bytes);
        break;
    case M_LAST_BACKUP_UNCOMPRESSED:
        if (last && rs->last_uncompressed_bytes >= 0)
            sample(out, id, s, NULL, NULL, (double) rs->last_uncompressed_bytes);
        break;
    case M_LAST_BACKUP_RATIO:
        if (last && rs->last_compression_ratio > 0)
            sample(out, id, s, NULL, NULL, rs->last_compression_ratio);
        break;
    case M_LAST_BACKUP_DURATION:
        if (last && rs->last_duration_s >= 0)
            sample(out, id, s, NULL, NULL, rs->last_duration_s);
        break;
    case M_LAST_BACKUP_THROUGHPUT:
        if (last && rs->last_throughput_bps > 0)
            sample(out, id, s, NULL, NULL, rs->last_throughput_bps);
        break;
    case M_BACKUP_SIZE:
        for (size_t i = 0; i < rs->n_backups; i++)
            if (rs->backups[i].size_bytes >= 0)
                sample(out, id, s, "backup_id", rs->backups[i].backup_id, (double) rs->backups[i].size_bytes);
        break;
    case M_BACKUP_END:
        for (size_t i = 0; i < rs->n_backups; i++)
            if (rs->backups[i].end_time >= 0)
                sample(out, id, s, "backup_id", rs->backups[i].backup_id, (double) rs->backups[i].end_time);
        break;
    case M_BACKUP_VERIFIED:
        for (size_t i = 0; i < rs->n_backups; i++)
            if (rs->backups[i].status == BACKUP_STATUS_DONE || rs->backups[i].verified)
                sample(out, id, s, "backup_id", rs->backups[i].backup_id,
                       rs->backups[i].verified && rs->backups[i].verify_ok);
        break;
    case M_BACKUP_VERIFY_TIME:
        for (size_t i = 0; i < rs->n_backups; i++)
            if (rs->backups[i].verified)
                sample(out, id, s, "backup_id", rs->backups[i].backup_id, (double) rs->backups[i].verify_time);
        break;
    case M_VERIFY_LAST_SUCCESS: {
        int64_t best = -1;
        for (size_t i = 0; i < rs->n_backups; i++)
            if (rs->backups[i].verified && rs->backups[i].verify_ok && rs->backups[i].verify_time > best)
                best = rs->backups[i].verify_time;
        if (best >= 0)
            sample(out, id, s, NULL, NULL, (double) best);
        break;
    }
    case M_VERIFY_FAILED_BACKUPS: {
        int64_t n = 0;
        for (size_t i = 0; i < rs->n_backups; i++)
            n += rs->backups[i].verified && !rs->backups[i].verify_ok;
        sample(out, id, s, NULL, NULL, (double) n);
        break;
    }
    case M_WAL_LAST_ARCHIVED:
        if (rs->has_wal)
            sample(out, id, s, NULL, NULL, rs->wal_last_time);
        break;
    case M_WAL_SEGMENTS:
        sample(out, id, s, NULL, NULL, (double) rs->wal_segments);
        break;
    case M_WAL_SIZE:
        sample(out, id, s, NULL, NULL, (double) rs->wal_bytes);
        break;
    case M_WAL_RATE:
        sample(out, id, s, NULL, NULL, rs->wal_rate_per_hour);
        break;
    case M_WAL_LAG_BYTES:
        if (rs->has_lag)
            sample(out, id, s, NULL, NULL, (double) rs->lag_bytes);
        break;
    case M_WAL_LAG_SECONDS:
        if (rs->has_lag)
            sample(out, id, s, NULL, NULL, rs->lag_seconds);
        break;
    case M_WAL_VERIFY_OK:
        if (rs->wal_verified)
            sample(out, id, s, NULL, NULL, rs->wal_verify_ok);
        break;
    case M_WAL_VERIFY_TIME:
        if (rs->wal_verified)
            sample(out, id, s, NULL, NULL, (double) rs->wal_verify_time);
        break;
    case M_ARCHIVER_ERRORS:
        sample(out, id, s, NULL, NULL, (double) rs->archiver_errors);
        break;
    case M_RECEIVE_WAL_RUNNING:
        if (rs->receive_wal_expected)
            sample(out, id, s, NULL, NULL, rs->receive_wal_running);
        break;
    case M_DRILL_LAST_TIME:
    case M_DRILL_LAST_SUCCESS:
    case M_DRILL_LAST_DURATION: {
        const struct report_backup *d = newest_drill(rs, 0);
        if (d != NULL)
            sample(out, id, s, "backup_id", d->backup_id,
                   id == M_DRILL_LAST_TIME      ? (double) d->drill_time
                   : id == M_DRILL_LAST_SUCCESS ? (double) d->drill_ok
                                                : d->drill_seconds);
        break;
    }
    case M_DRILL_LAST_SUCCESS_TIME: {
        const struct report_backup *d = newest_drill(rs, 1);
        if (d != NULL)
            sample(out, id, s, NULL, NULL, (double) d->drill_time);
        break;
    }
    case M_CATALOG_FREE:
        if (rs->has_space)
            sample(out, id, s, NULL, NULL, (double) rs->fs_free_bytes);
        break;
    case M_CATALOG_SIZE:
        if (rs->has_space)
            sample(out, id, s, NULL, NULL, (double) rs->fs_size_bytes);
        break;
    case M_CATALOG_GROWTH:
        if (rs->has_space)
            sample(out, id, s, NULL, NULL, rs->growth_bytes_per_day);
        break;
    case M_CATALOG_DAYS_LEFT:
        if (rs->has_days_left)
            sample(out, id, s, NULL, NULL, rs->days_left * 86400.0);
        break;
    case M_FAILURES: {
        struct json *f = json_array();
        sample(out, id, s, NULL, NULL, (double) report_failures(rs, f));
        json_free(f);
        break;
    }
    case M_GENERATED:
        break;
    }
}

void
metrics_write(const struct report_server *servers, size_t n, int64_t now, struct strbuf *out)
{
    for (size_t id = 0; id < BR_ARRAY_LEN(families); id++) {
        strbuf_appendf(out, "# HELP %s %s\n# TYPE %s %s\n", families[id].name, families[id].help, families[id].name,
                       families[id].type);
        if (id == M_GENERATED) {
            sample(out, M_GENERATED, NULL, NULL, NULL, (double) now);
            continue;
        }
        for (size_t i = 0; i < n; i++)
            emit_server(out, (enum metric_id) id, &servers[i]);
    }
}

int
metrics_write_file(const struct server_config *const *servers, size_t n, const char *lock_dir, int live,
                   const char *path, struct br_error *err)
{
    struct report_server *rs = br_calloc(n ? n : 1, sizeof(*rs));
    int64_t now = (int64_t) time(NULL);
    struct strbuf sb;
    int rc = 0;

    for (size_t i = 0; i < n && rc == 0; i++)
        rc = report_collect(servers[i], lock_dir, now, live, &rs[i], err);
    strbuf_init(&sb);
    if (rc == 0) {
        metrics_write(rs, n, now, &sb);
        /* node_exporter reads *.prom files: a whole file, or the previous one */
        rc = path == NULL ? (fputs(sb.buf, stdout) == EOF ? br_error_sys(err, BR_E_IO, "could not write metrics") : 0)
                          : fs_write_file_durable(path, sb.buf, sb.len, 0644, err);
    }
    strbuf_free(&sb);
    for (size_t i = 0; i < n; i++)
        report_server_reset(&rs[i]);
    free(rs);
    return rc;
}
