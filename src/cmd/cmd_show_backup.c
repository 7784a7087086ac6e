/*
 * cmd_show_backup.c: `show-backup SERVER_NAME BACKUP_ID` (alias
 * show-backups), Barman 3.4's report of one backup (server.py
 * get_backup_ext_info, output.py render_show_backup_* and the JSON writer's
 * result_show_backup), field for field.
 *
 * Recipe: resolve the server and the backup selector, compute the WAL
 * figures (one pass over xlog.db, backup_stats.h), the retention label, the
 * previous/next backups and the child timelines, then render as text or as
 * JSON. A backup that is not DONE / WAITING_FOR_WALS shows only its general
 * block and its error.
 */
#include "barrel/build.h"
#include "barrel/cmd.h"
#include "barrel/backup_stats.h"
#include "barrel/catalog.h"
#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/fmt.h"
#include "barrel/json.h"
#include "barrel/mem.h"
#include "barrel/output.h"
#include "barrel/pyliteral.h"
#include "barrel/retention.h"
#include "barrel/strbuf.h"
#include "barrel/timestamp.h"
#include "barrel/xlog.h"

#include <getopt.h>
#include <inttypes.h>

#define HISTORY_MAX_BYTES (1024 * 1024)   /* a timeline history file is a few lines */

/* The JSON writer's text for wal_information._WARNING (a Python string with backslash-newline continuations). */
#define MULTI_TIMELINE_JSON_WARNING                                                                              \
    "WAL information is inaccurate                     due to multiple timelines interacting with "             \
    "                    this backup"

/* What get_backup_ext_info() adds to backup.info. */
struct backup_ext_info {
    const struct backup_info *bi;
    int copy_done;
    struct backup_wal_stats wal;
    const char *retention;            /* label, NULL = "not enforced" */
    const struct backup_info *previous, *next;
    size_t n_children;
    uint32_t *children;               /* child timelines reachable from the backup */
    struct pyl *copy_stats;           /* parsed copy_stats, NULL if None or unreadable */
};

static const char *
lock_dir_of(const struct cmd_context *ctx)
{
    return ctx->cfg->barman_lock_directory ? ctx->cfg->barman_lock_directory : ctx->cfg->barman_home;
}

/* ---- small Python-compatible formatters ---- */

static const char *
str_or_none(const char *s)
{
    return s != NULL ? s : "None";
}

static void
int_or_none(int64_t v, char *buf, size_t len)
{
    if (v == BI_NULL_INT)
        snprintf(buf, len, "None");
    else
        snprintf(buf, len, "%" PRId64, v);
}

/* "{percent:.2%}" */
static void
percent(double ratio, char *buf, size_t len)
{
    snprintf(buf, len, "%.2f%%", ratio * 100);
}

/* human_readable_timedelta(timedelta(seconds=s)): timedelta keeps whole microseconds, rounded half-even */
static void
timedelta_text(double seconds, char *buf, size_t len)
{
    double usec = seconds < 0 ? -seconds * 1e6 : seconds * 1e6;
    int64_t whole = (int64_t) usec;
    double frac = usec - (double) whole;

    if (frac > 0.5 || (frac == 0.5 && (whole & 1)))
        whole++;
    fmt_timedelta((seconds < 0 ? -(double) whole : (double) whole) / 1e6, buf, len);
}

static void
timestamp_text(int set, const struct br_timestamp *ts, char *buf, size_t len)
{
    if (set)
        br_timestamp_format(ts, buf, len);
    else
        snprintf(buf, len, "None");
}

/* ---- copy_stats (a Python dict literal) ---- */

static const struct pyl *
copy_stat(const struct backup_ext_info *ext, const char *key)
{
    const struct pyl *v = ext->copy_stats ? pyl_dict_get(ext->copy_stats, key) : NULL;

    if (v != NULL && v->type != PYL_INT && v->type != PYL_FLOAT && v->type != PYL_BOOL)
        return NULL;
    return v;
}

static double
pyl_number(const struct pyl *v)
{
    return v->type == PYL_FLOAT ? v->fval : (double) v->ival;
}

/* The number as Python's json would write it: int stays int. */
static struct json *
pyl_number_json(const struct pyl *v)
{
    if (v->type == PYL_FLOAT)
        return json_double(v->fval);
    if (v->type == PYL_BOOL)
        return json_bool((int) v->ival);
    return json_int(v->ival);
}

/* `copy_stats` truthy and copy_time present and non-zero: the copy-time rows are shown */
static const struct pyl *
copy_time_of(const struct backup_ext_info *ext)
{
    const struct pyl *ct;

    if (ext->copy_stats == NULL || ext->copy_stats->type != PYL_DICT || ext->copy_stats->n == 0)
        return NULL;
    ct = copy_stat(ext, "copy_time");
    return ct != NULL && pyl_number(ct) != 0 ? ct : NULL;
}

/* `deduplicated_size or size`, -1 for None */
static int64_t
throughput_size(const struct backup_info *bi)
{
    if (bi->deduplicated_size != BI_NULL_INT && bi->deduplicated_size != 0)
        return bi->deduplicated_size;
    return bi->size != BI_NULL_INT ? bi->size : -1;
}

/* ---- gathering ---- */

static int
is_compressed(const unsigned char *p, size_t n)
{
    static const struct { const char *magic; size_t len; } magics[] = {
        {"\x1f\x8b", 2}, {"BZh", 3}, {"\xfd" "7zXZ", 5}, {"\x28\xb5\x2f\xfd", 4}, {"\x04\x22\x4d\x18", 4},
    };

    for (size_t i = 0; i < BR_ARRAY_LEN(magics); i++)
        if (n >= magics[i].len && memcmp(p, magics[i].magic, magics[i].len) == 0)
            return 1;
    return 0;
}

/*
 * Barman's get_children_timelines(tli, forked_after=end_xlog): read
 * <wals>/<tli+1>.history, <tli+2>.history, ... until one is missing, and
 * keep the lines whose parent is `tli` and whose switch point is not before
 * the backup's end. Compressed history files are skipped (barrel has no
 * WAL decompressor here yet); unreadable lines are skipped too.
 */
static void
find_children(const struct server_config *srv, const struct backup_info *bi, struct backup_ext_info *ext)
{
    uint64_t forked_after = 0;
    int have_fork = bi->end_xlog != NULL && xlog_lsn_parse(bi->end_xlog, &forked_after) == 0;
    size_t cap = 0;

    if (bi->timeline == BI_NULL_INT || srv->wals_directory == NULL)
        return;
    for (int64_t child = bi->timeline + 1; child <= UINT32_MAX; child++) {
        char *path = br_asprintf("%s/%08" PRIX64 ".history", srv->wals_directory, child);
        FILE *fp = fopen(path, "rb");
        char *text;
        size_t n;

        free(path);
        if (fp == NULL)
            break;
        text = br_malloc(HISTORY_MAX_BYTES + 1);
        n = fread(text, 1, HISTORY_MAX_BYTES, fp);
        fclose(fp);
        text[n] = '\0';
        if (is_compressed((const unsigned char *) text, n)) {
            output_debug("skipping compressed history file for timeline %" PRId64, child);
            free(text);
            continue;
        }
        for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            char *fields[4] = {0};
            int n_fields = 0;
            uint64_t switchpoint;
            char *end;

            while (*line == ' ' || *line == '\t' || *line == '\r')
                line++;
            if (*line == '#' || *line == '\0')
                continue;
            for (char *s2 = NULL, *f = strtok_r(line, "\t", &s2); f && n_fields < 4; f = strtok_r(NULL, "\t", &s2))
                fields[n_fields++] = f;
            if (n_fields != 3 || xlog_lsn_parse(fields[1], &switchpoint) != 0)
                continue;
            if (strtoll(fields[0], &end, 10) != bi->timeline || *end != '\0')
                continue;
            if (have_fork && switchpoint < forked_after)
                continue;
            if (ext->n_children == cap) {
                cap = cap ? cap * 2 : 4;
                ext->children = br_realloc(ext->children, cap * sizeof(*ext->children));
            }
            ext->children[ext->n_children++] = (uint32_t) child;
        }
        free(text);
    }
}

static int
gather(const struct cmd_context *ctx, const struct catalog *cat, size_t idx, struct backup_ext_info *ext,
       struct br_error *err)
{
    const struct backup_info *bi = cat->backups[idx];
    struct backup_wal_stats *stats = NULL;
    enum retention_status *labels = NULL;
    int rc = -1;

    ext->bi = bi;
    ext->copy_done = (BACKUP_MASK_COPY_DONE & BACKUP_STATUS_MASK(bi->status)) != 0;
    if (bi->copy_stats != NULL) {
        struct br_error perr;
        ext->copy_stats = pyl_parse(bi->copy_stats, &perr);
    }
    if (!ext->copy_done)
        return 0;

    ext->previous = catalog_previous(cat, bi, BACKUP_MASK_COPY_DONE);
    ext->next = catalog_next(cat, bi, BACKUP_MASK_COPY_DONE);

    stats = br_calloc(cat->n_backups + 1, sizeof(*stats));
    if (backup_stats_compute(cat, lock_dir_of(ctx), stats, err) != 0)
        goto out;
    ext->wal = stats[idx];

    if (cat->srv->retention_policy.kind != RETENTION_NONE) {
        labels = br_calloc(cat->n_backups + 1, sizeof(*labels));
        backup_stats_retention(cat, labels);
        ext->retention = retention_status_name(labels[idx]);
    }
    find_children(cat->srv, bi, ext);
    rc = 0;
out:
    free(labels);
    free(stats);
    return rc;
}

static void
ext_reset(struct backup_ext_info *ext)
{
    free(ext->children);
    pyl_free(ext->copy_stats);
    memset(ext, 0, sizeof(*ext));
}

/* ---- console ---- */

#define ROW(sb, label, ...)                                                                                      \
    do {                                                                                                         \
        strbuf_appendf((sb), "  %-23s: ", (label));                                                             \
        strbuf_appendf((sb), __VA_ARGS__);                                                                       \
        strbuf_append_char((sb), '\n');                                                                          \
    } while (0)
#define NESTED(sb, label, ...)                                                                                   \
    do {                                                                                                         \
        strbuf_appendf((sb), "    %-21s: ", (label));                                                           \
        strbuf_appendf((sb), __VA_ARGS__);                                                                       \
        strbuf_append_char((sb), '\n');                                                                          \
    } while (0)

static void
render_base(const struct backup_ext_info *ext, struct strbuf *sb)
{
    const struct backup_info *bi = ext->bi;
    const struct pyl *copy_time = copy_time_of(ext);
    char a[64], b[64];

    strbuf_append(sb, "  Base backup information:\n");
    if (bi->size != BI_NULL_INT) {
        fmt_pretty_size((double) bi->size, a, sizeof(a));
        fmt_pretty_size((double) (bi->size + ext->wal.wal_size), b, sizeof(b));
        NESTED(sb, "Disk usage", "%s (%s with WALs)", a, b);
    }
    if (bi->deduplicated_size != BI_NULL_INT && bi->size != BI_NULL_INT && bi->size > 0) {
        fmt_pretty_size((double) bi->deduplicated_size, a, sizeof(a));
        percent(1 - ((double) bi->deduplicated_size / (double) bi->size), b, sizeof(b));
        NESTED(sb, "Incremental size", "%s (-%s)", a, b);
    }
    int_or_none(bi->timeline, a, sizeof(a));
    NESTED(sb, "Timeline", "%s", a);
    NESTED(sb, "Begin WAL", "%s", str_or_none(bi->begin_wal));
    NESTED(sb, "End WAL", "%s", str_or_none(bi->end_wal));
    NESTED(sb, "WAL number", "%" PRId64, ext->wal.wal_num);
    if (ext->wal.wal_compression_ratio > 0) {
        percent(ext->wal.wal_compression_ratio, a, sizeof(a));
        NESTED(sb, "WAL compression ratio", "%s", a);
    }
    timestamp_text(bi->begin_time_set, &bi->begin_time, a, sizeof(a));
    NESTED(sb, "Begin time", "%s", a);
    timestamp_text(bi->end_time_set, &bi->end_time, a, sizeof(a));
    NESTED(sb, "End time", "%s", a);
    if (copy_time != NULL) {
        const struct pyl *analysis = copy_stat(ext, "analysis_time");
        const struct pyl *workers = copy_stat(ext, "number_of_workers");
        int64_t size = throughput_size(bi);

        timedelta_text(pyl_number(copy_time), a, sizeof(a));
        if (analysis != NULL && pyl_number(analysis) >= 1) {
            timedelta_text(pyl_number(analysis), b, sizeof(b));
            NESTED(sb, "Copy time", "%s + %s startup", a, b);
        } else {
            NESTED(sb, "Copy time", "%s", a);
        }
        if (size >= 0) {
            fmt_pretty_size((double) size / pyl_number(copy_time), a, sizeof(a));
            if (workers != NULL && pyl_number(workers) > 1)
                NESTED(sb, "Estimated throughput", "%s/s (%" PRId64 " jobs)", a, (int64_t) pyl_number(workers));
            else
                NESTED(sb, "Estimated throughput", "%s/s", a);
        }
    }
    int_or_none(bi->begin_offset, a, sizeof(a));
    NESTED(sb, "Begin Offset", "%s", a);
    int_or_none(bi->end_offset, a, sizeof(a));
    NESTED(sb, "End Offset", "%s", a);
    NESTED(sb, "Begin LSN", "%s", str_or_none(bi->begin_xlog));
    NESTED(sb, "End LSN", "%s", str_or_none(bi->end_xlog));
    strbuf_append_char(sb, '\n');
}

static void
render_wal(const struct backup_ext_info *ext, struct strbuf *sb)
{
    const struct backup_wal_stats *w = &ext->wal;
    char a[64];

    strbuf_append(sb, "  WAL information:\n");
    NESTED(sb, "No of files", "%" PRId64, w->wal_until_next_num);
    fmt_pretty_size((double) w->wal_until_next_size, a, sizeof(a));
    NESTED(sb, "Disk usage", "%s", a);
    if (w->wals_per_second > 0)
        NESTED(sb, "WAL rate", "%.2f/hour", w->wals_per_second * 3600);
    if (w->wal_until_next_compression_ratio > 0) {
        percent(w->wal_until_next_compression_ratio, a, sizeof(a));
        NESTED(sb, "Compression ratio", "%s", a);
    }
    NESTED(sb, "Last available", "%s", w->has_last ? w->wal_last : "None");
    if (ext->n_children > 0) {
        strbuf_appendf(sb, "    %-21s: ", "Reachable timelines");
        for (size_t i = 0; i < ext->n_children; i++)
            strbuf_appendf(sb, "%s%" PRIu32, i ? ", " : "", ext->children[i]);
        strbuf_append_char(sb, '\n');
    }
    strbuf_append_char(sb, '\n');
}

static void
render_console(const struct backup_ext_info *ext, struct strbuf *sb)
{
    const struct backup_info *bi = ext->bi;
    char a[64];

    strbuf_appendf(sb, "Backup %s:\n", bi->backup_id);
    if (bi->backup_name != NULL)
        ROW(sb, "Backup Name", "%s", bi->backup_name);
    ROW(sb, "Server Name", "%s", str_or_none(bi->server_name));
    if (bi->systemid != NULL && bi->systemid[0] != '\0')
        ROW(sb, "System Id", "%s", bi->systemid);
    ROW(sb, "Status", "%s", backup_status_name(bi->status));
    if (!ext->copy_done) {
        if (bi->error != NULL && bi->error[0] != '\0')
            ROW(sb, "Error", "%s", bi->error);
        return;
    }
    int_or_none(bi->version, a, sizeof(a));
    ROW(sb, "PostgreSQL Version", "%s", a);
    ROW(sb, "PGDATA directory", "%s", str_or_none(bi->pgdata));
    strbuf_append_char(sb, '\n');

    if (bi->n_tablespaces > 0) {
        strbuf_append(sb, "  Tablespaces:\n");
        for (size_t i = 0; i < bi->n_tablespaces; i++)
            NESTED(sb, bi->tablespaces[i].name, "%s (oid: %" PRIu32 ")", bi->tablespaces[i].location,
                   bi->tablespaces[i].oid);
        strbuf_append_char(sb, '\n');
    }
    render_base(ext, sb);
    render_wal(ext, sb);

    strbuf_append(sb, "  Catalog information:\n");
    NESTED(sb, "Retention Policy", "%s", ext->retention ? ext->retention : "not enforced");
    NESTED(sb, "Previous Backup", "%s",
           ext->previous ? ext->previous->backup_id : "- (this is the oldest base backup)");
    NESTED(sb, "Next Backup", "%s", ext->next ? ext->next->backup_id : "- (this is the latest base backup)");
    if (ext->n_children > 0)
        strbuf_append(sb, "\nWARNING: WAL information is inaccurate due to multiple timelines interacting with "
                          "this backup\n");
}

/* ---- JSON ---- */

static struct json *
json_int_or_null(int64_t v)
{
    return v == BI_NULL_INT ? json_null() : json_int(v);
}

static struct json *
json_pretty(double bytes)
{
    char buf[64];

    fmt_pretty_size(bytes, buf, sizeof(buf));
    return json_string(buf);
}

static struct json *
json_time(int set, const struct br_timestamp *ts)
{
    char buf[64];

    if (!set)
        return json_null();
    br_timestamp_format(ts, buf, sizeof(buf));
    return json_string(buf);
}

static struct json *
json_epoch(int set, const struct br_timestamp *ts)
{
    /* str(int(timestamp(t))): int() truncates toward zero, as C division does */
    return set ? json_stringf("%lld", (long long) (ts->epoch_usec / 1000000)) : json_null();
}

static struct json *
base_json(const struct backup_ext_info *ext)
{
    const struct backup_info *bi = ext->bi;
    const struct pyl *copy_time = copy_time_of(ext);
    struct json *o = json_object();
    int64_t size = bi->size != BI_NULL_INT ? bi->size : 0;
    char buf[64];

    json_object_set(o, "disk_usage", json_pretty((double) size));
    json_object_set(o, "disk_usage_bytes", json_int_or_null(bi->size));
    json_object_set(o, "disk_usage_with_wals", json_pretty((double) (size + ext->wal.wal_size)));
    json_object_set(o, "disk_usage_with_wals_bytes", json_int(size + ext->wal.wal_size));
    if (bi->deduplicated_size != BI_NULL_INT && bi->size != BI_NULL_INT && bi->size > 0) {
        json_object_set(o, "incremental_size", json_pretty((double) bi->deduplicated_size));
        json_object_set(o, "incremental_size_bytes", json_int(bi->deduplicated_size));
        percent(1 - ((double) bi->deduplicated_size / (double) bi->size), buf, sizeof(buf));
        json_object_set(o, "incremental_size_ratio", json_stringf("-%s", buf));
    }
    json_object_set(o, "timeline", json_int_or_null(bi->timeline));
    json_object_set(o, "begin_wal", json_string(bi->begin_wal));
    json_object_set(o, "end_wal", json_string(bi->end_wal));
    if (ext->wal.wal_compression_ratio > 0) {
        percent(ext->wal.wal_compression_ratio, buf, sizeof(buf));
        json_object_set(o, "wal_compression_ratio", json_string(buf));
    }
    json_object_set(o, "begin_time_timestamp", json_epoch(bi->begin_time_set, &bi->begin_time));
    json_object_set(o, "begin_time", json_time(bi->begin_time_set, &bi->begin_time));
    json_object_set(o, "end_time_timestamp", json_epoch(bi->end_time_set, &bi->end_time));
    json_object_set(o, "end_time", json_time(bi->end_time_set, &bi->end_time));
    if (copy_time != NULL) {
        const struct pyl *analysis = copy_stat(ext, "analysis_time");
        const struct pyl *workers = copy_stat(ext, "number_of_workers");
        int64_t tsize = throughput_size(bi);
        double throughput = (double) (tsize >= 0 ? tsize : 0) / pyl_number(copy_time);

        timedelta_text(pyl_number(copy_time), buf, sizeof(buf));
        json_object_set(o, "copy_time", json_string(buf));
        json_object_set(o, "copy_time_seconds", pyl_number_json(copy_time));
        timedelta_text(analysis ? pyl_number(analysis) : 0, buf, sizeof(buf));
        json_object_set(o, "analysis_time", json_string(buf));
        json_object_set(o, "analysis_time_seconds", analysis ? pyl_number_json(analysis) : json_int(0));
        fmt_pretty_size(throughput, buf, sizeof(buf));
        json_object_set(o, "throughput", json_stringf("%s/s", buf));
        json_object_set(o, "throughput_bytes", json_double(throughput));
        json_object_set(o, "number_of_workers", workers ? pyl_number_json(workers) : json_int(1));
    }
    json_object_set(o, "begin_offset", json_int_or_null(bi->begin_offset));
    json_object_set(o, "end_offset", json_int_or_null(bi->end_offset));
    json_object_set(o, "begin_lsn", json_string(bi->begin_xlog));
    json_object_set(o, "end_lsn", json_string(bi->end_xlog));
    return o;
}

static struct json *
wal_json(const struct backup_ext_info *ext)
{
    const struct backup_wal_stats *w = &ext->wal;
    struct json *o = json_object();
    struct json *timelines = json_array();
    char buf[64];

    json_object_set(o, "no_of_files", json_int(w->wal_until_next_num));
    json_object_set(o, "disk_usage", json_pretty((double) w->wal_until_next_size));
    json_object_set(o, "disk_usage_bytes", json_int(w->wal_until_next_size));
    /* Barman leaves these at int 0 unless they are positive */
    if (w->wals_per_second > 0) {
        snprintf(buf, sizeof(buf), "%.2f/hour", w->wals_per_second * 3600);
        json_object_set(o, "wal_rate", json_string(buf));
        json_object_set(o, "wal_rate_per_second", json_double(w->wals_per_second));
    } else {
        json_object_set(o, "wal_rate", json_int(0));
        json_object_set(o, "wal_rate_per_second", json_int(0));
    }
    if (w->wal_until_next_compression_ratio > 0) {
        percent(w->wal_until_next_compression_ratio, buf, sizeof(buf));
        json_object_set(o, "compression_ratio", json_string(buf));
    } else {
        json_object_set(o, "compression_ratio", json_int(0));
    }
    json_object_set(o, "last_available", w->has_last ? json_string(w->wal_last) : json_null());
    for (size_t i = 0; i < ext->n_children; i++)
        json_array_add(timelines, json_stringf("%" PRIu32, ext->children[i]));
    json_object_set(o, "timelines", timelines);
    if (ext->n_children > 0)
        json_object_set(o, "_WARNING", json_string(MULTI_TIMELINE_JSON_WARNING));
    return o;
}

static struct json *
render_json(const struct backup_ext_info *ext)
{
    const struct backup_info *bi = ext->bi;
    struct json *o = json_object();

    json_object_set(o, "backup_id", json_string(bi->backup_id));
    json_object_set(o, "status", json_string(backup_status_name(bi->status)));
    if (bi->backup_name != NULL)
        json_object_set(o, "backup_name", json_string(bi->backup_name));
    if (!ext->copy_done) {
        if (bi->error != NULL && bi->error[0] != '\0')
            json_object_set(o, "error", json_string(bi->error));
        return o;
    }
    json_object_set(o, "postgresql_version", json_int_or_null(bi->version));
    json_object_set(o, "pgdata_directory", json_string(bi->pgdata));
    struct json *tbs = json_array();
    for (size_t i = 0; i < bi->n_tablespaces; i++) {
        struct json *t = json_object();
        json_object_set(t, "name", json_string(bi->tablespaces[i].name));
        json_object_set(t, "location", json_string(bi->tablespaces[i].location));
        json_object_set(t, "oid", json_int(bi->tablespaces[i].oid));
        json_array_add(tbs, t);
    }
    json_object_set(o, "tablespaces", tbs);
    json_object_set(o, "base_backup_information", base_json(ext));
    json_object_set(o, "wal_information", wal_json(ext));

    struct json *cat = json_object();
    json_object_set(cat, "retention_policy", json_string(ext->retention ? ext->retention : "not enforced"));
    json_object_set(cat, "previous_backup",
                    json_string(ext->previous ? ext->previous->backup_id : "- (this is the oldest base backup)"));
    json_object_set(cat, "next_backup",
                    json_string(ext->next ? ext->next->backup_id : "- (this is the latest base backup)"));
    json_object_set(o, "catalog_information", cat);
    return o;
}

/* ---- the command ---- */

int
cmd_show_backup(struct cmd_context *ctx, int argc, char **argv, struct br_error *err)
{
    static const struct option longopts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const struct server_config *srv;
    struct catalog *cat = NULL;
    struct backup_info *bi;
    struct backup_ext_info ext = {0};
    size_t idx;
    int c, rc = -1;

    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'h') {
            cmd_print_help(cmd_find("show-backup"), NULL);
            return 0;
        }
        return br_error_set(err, BR_E_USAGE, "unrecognized arguments: %s", argv[optind - 1]);
    }
    if (argc - optind < 2)
        return br_error_set(err, BR_E_USAGE, "the following arguments are required: %s",
                            argc - optind == 0 ? "server_name, backup_id" : "backup_id");
    if (argc - optind > 2)
        return br_error_set(err, BR_E_USAGE, "unrecognized arguments: %s", argv[optind + 2]);

    /* 1. the server */
    srv = cmd_single_server(ctx, &argv[optind]);
    if (srv == NULL)
        return 0;       /* reported; main.c turns an ERROR into exit status 1 */

    /* 2. the backup */
    cat = catalog_open(srv, err);
    if (cat == NULL)
        goto out;
    bi = catalog_resolve(cat, argv[optind + 1], err);
    if (bi == NULL)
        goto out;
    for (idx = 0; idx < cat->n_backups && cat->backups[idx] != bi; idx++)
        ;
    if (idx == cat->n_backups) {
        br_error_set(err, BR_E_INTERNAL, "backup %s resolved outside its catalog", bi->backup_id);
        goto out;
    }

    /* 3. what get_backup_ext_info() adds: WAL figures, retention, neighbours, child timelines */
    if (gather(ctx, cat, idx, &ext, err) != 0)
        goto out;

    /* 4. render */
    if (output_is_json()) {
        output_result_set(srv->name, render_json(&ext));
    } else if (!output_quiet()) {
        struct strbuf sb;
        strbuf_init(&sb);
        render_console(&ext, &sb);
        output_text("%s", sb.buf);
        strbuf_free(&sb);
    }
    rc = 0;
out:
    ext_reset(&ext);
    catalog_free(cat);
    return rc;
}
