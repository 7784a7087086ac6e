/*
 * report.h: the morning-after page of a server (report) and its
 * Prometheus form (metrics).
 *
 * report_collect() gathers everything once, from what other modules
 * already keep: the catalog (backup.info files), one streaming pass over
 * xlog.db, the retention labels, the verdicts of verify-backup, verify-wal
 * and drill (barrel's own files), the live server's position when it
 * answers, and the free space of the catalog's filesystem. Then the same
 * struct is written as text, as JSON (keys documented in
 * contrib/report.schema.json) or as Prometheus samples (metrics.c). Memory
 * is O(backups), never O(xlog.db).
 */
#ifndef BARREL_REPORT_H
#define BARREL_REPORT_H

#include "barrel/build.h"
#include "barrel/catalog.h"
#include "barrel/retention.h"
#include <stddef.h>
#include <stdint.h>

struct br_error;
struct json;
struct server_config;
struct strbuf;

/* Growth is measured over this many days back from now (backups ended and WAL archived in the window). */
#define REPORT_GROWTH_WINDOW_DAYS 7
#define REPORT_N_STATUSES 6          /* enum backup_status values */

struct report_backup {
    char backup_id[BACKUP_ID_LEN + 1];
    enum backup_status status;
    int64_t end_time;                /* epoch seconds, -1 when None */
    int64_t size_bytes;              /* backup.info size (on disk), -1 when None */
    int64_t wal_size_bytes;          /* WAL needed by the backup (begin..end), on disk */
    enum retention_status retention;
    char *error;                     /* backup.info error (FAILED), NULL when None */
    /* last verify-backup: verified = 0 never */
    int verified, verify_ok;
    int64_t verify_time, verify_problems;
    /* last drill: drilled = 0 never */
    int drilled, drill_ok;
    int64_t drill_time;
    double drill_seconds;
    char *drill_message;
};

struct report_server {
    char *name;
    int64_t now;                     /* epoch seconds the report was made at */
    int catalog_ok;                  /* 0: the catalog could not be read (catalog_error says why) */
    char *catalog_error;
    size_t n_config_problems;        /* why Barman would disable the server (copies) */
    char **config_problems;

    size_t n_backups;                /* catalog order: oldest first */
    struct report_backup *backups;
    int64_t status_counts[REPORT_N_STATUSES];
    int64_t retention_counts[6];     /* by enum retention_status */

    /* the newest DONE backup */
    int has_last;
    size_t last_idx;
    double last_duration_s;          /* copy_stats total_time, else copy_time, else end - begin; -1 unknown */
    int64_t last_uncompressed_bytes; /* sum of the manifest's file sizes; -1 without a manifest */
    double last_compression_ratio;   /* uncompressed / stored; 0 unknown */
    double last_throughput_bps;      /* (uncompressed, else stored) bytes / duration; 0 unknown */
    char *last_compression;          /* backup.info compression, NULL = None */

    /* the WAL archive (xlog.db) */
    int64_t wal_segments, wal_bytes; /* plain segments in xlog.db */
    int has_wal;
    char wal_last[64];               /* last plain segment in archive order */
    double wal_last_time;            /* its xlog.db time */
    int64_t wal_window_segments, wal_window_bytes;   /* archived in the growth window */
    double wal_rate_per_hour;        /* segments per hour over the window (or the archive's life, if shorter) */

    /* the live server */
    int pg_checked;                  /* 0: not asked (--offline) */
    int pg_reachable;
    char *pg_error;
    char *pg_current_wal;            /* current WAL file of the server, NULL on a standby */
    int has_lag;
    int64_t lag_bytes;               /* current LSN - end of the last archived segment (0 when ahead) */
    double lag_seconds;              /* 0 when no finished segment waits, else age of the last archived one */

    /* failures */
    int64_t archiver_errors;         /* files in errors/ */
    int receive_wal_expected;        /* streaming_archiver = on */
    int receive_wal_running;

    /* verify-wal */
    int wal_verified, wal_verify_ok;
    int64_t wal_verify_time, wal_verify_problems;

    /* free space */
    int has_space;
    int64_t fs_free_bytes, fs_size_bytes;
    double growth_bytes_per_day;     /* backups ended + WAL archived in the window, per day (gross: retention ignored) */
    int has_days_left;
    double days_left;                /* fs_free_bytes / growth_bytes_per_day */
};

/*
 * Gather the report of one server. live: also ask the server for its
 * position (pg_remote_status_fetch; never fails, an unreachable server is
 * reported as such). A catalog that cannot be read is not an error either:
 * catalog_ok = 0 and catalog_error say why (so that metrics still exports
 * barrel_up 0). Returns 0; -1 only on broken invariants.
 */
int report_collect(const struct server_config *srv, const char *lock_dir, int64_t now, int live,
                   struct report_server *out, struct br_error *err);
void report_server_reset(struct report_server *rs);

/* The failures of a server, one sentence each, in a stable order; returns how many were added to `out` (an array of strings). */
size_t report_failures(const struct report_server *rs, struct json *out);

/* The JSON object of one server (keys: contrib/report.schema.json). Caller owns it. */
struct json *report_to_json(const struct report_server *rs);
/* The text page of one server, appended to out. */
void report_to_text(const struct report_server *rs, struct strbuf *out);

/* ---- metrics (metrics.c) ---- */

struct metric_family {
    const char *name;        /* barrel_... */
    const char *type;        /* "gauge" */
    const char *help;
    const char *labels;      /* label names, comma-separated ("server,status") */
};

/* Every family barrel emits, in output order (for the man page test and the Grafana test). */
const struct metric_family *metrics_families(size_t *count);

/* The Prometheus text exposition of all the servers, appended to out. */
void metrics_write(const struct report_server *servers, size_t n, int64_t now, struct strbuf *out);

/*
 * Collect the servers (live: ask each PostgreSQL server for its position)
 * and write their metrics to path atomically and durably (temporary file,
 * fsync, rename: node_exporter never reads half a file), mode 0644; path
 * NULL writes to stdout. 0 or -1 with err.
 */
int metrics_write_file(const struct server_config *const *servers, size_t n, const char *lock_dir, int live,
                       const char *path, struct br_error *err);

#endif /* BARREL_REPORT_H */
