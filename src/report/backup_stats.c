/*
 * backup_stats.c: per-backup WAL figures from xlog.db in one streaming pass.
 *
 * Barman 3.4 rescans xlog.db once per backup (get_wal_info() ->
 * get_wal_until_next_backup()). Here every backup's scan runs in the same
 * pass: each backup is a "range" [begin_wal, next backup's end_wal], kept in
 * a list sorted by begin_wal while its scan is still running. For a line
 * named N only the ranges with begin_wal <= N can see it, so the walk of the
 * list stops at the first range that begins after N; a range leaves the list
 * for good at the first segment after its next backup's end_wal, as Barman's
 * `break` ends its loop. With sorted xlog.db lines the list holds the one or
 * two ranges around N, whatever the number of backups.
 *
 * Invariant: for each backup the lines counted, their order and the stop
 * point are exactly those of Barman's loop, also when xlog.db is not sorted
 * (lines appended out of order, several timelines).
 */
#include "barrel/build.h"
#include "barrel/backup_stats.h"
#include "barrel/catalog.h"
#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/mem.h"
#include "barrel/retention.h"
#include "barrel/timestamp.h"
#include "barrel/xlog.h"

/* One backup's scan. */
struct wal_range {
    const struct backup_info *bi;
    struct backup_wal_stats *st;
    const char *begin;          /* bi->begin_wal */
    const char *end;            /* bi->end_wal, may be NULL */
    const char *next_end;       /* end_wal of the next DONE/WAITING_FOR_WALS backup, NULL = no limit */
    uint32_t tli;               /* timeline of begin_wal */
    int prev, next;             /* links of the running-scan list, -1 at the ends */
};

struct stats_pass {
    struct wal_range *ranges;   /* sorted by begin */
    int head;                   /* first running range, -1 when none */
    const char *server;
    struct br_error *err;
    int failed;
};

/* Barman's BadXlogSegmentName, reported the way list-backups and show-backup do. */
static int
bad_segment_name(struct br_error *err, const char *name, const char *server)
{
    br_error_set(err, BR_E_FORMAT, "invalid WAL segment name '%s'", name);
    br_error_hint(err, "Please run \"barrel rebuild-xlogdb %s\" to solve this issue.", server);
    return -1;
}

static const char *
next_end_wal(const struct catalog *cat, const struct backup_info *bi)
{
    const struct backup_info *next = catalog_next(cat, bi, BACKUP_MASK_COPY_DONE);

    return next != NULL ? next->end_wal : NULL;
}

/* Fill a range for bi; 0 if bi takes no part (no begin_wal), -1 on a begin_wal Barman cannot decode. */
static int
range_init(struct wal_range *r, const struct catalog *cat, const struct backup_info *bi, struct br_error *err)
{
    struct xlog_name xn;

    memset(r, 0, sizeof(*r));
    if (bi->begin_wal == NULL)
        return 0;
    if (xlog_name_parse(bi->begin_wal, &xn) == XLOG_KIND_NONE)
        return bad_segment_name(err, bi->begin_wal, cat->srv->name);
    r->bi = bi;
    r->begin = bi->begin_wal;
    r->end = bi->end_wal;
    r->next_end = next_end_wal(cat, bi);
    r->tli = xn.tli;
    return 1;
}

static void
range_count(struct wal_range *r, const struct xlogdb_entry *entry)
{
    struct backup_wal_stats *st = r->st;

    if (strcmp(entry->name, r->begin) == 0) {
        st->has_first = 1;
        st->wal_first_time = entry->time;
    }
    if (r->end != NULL && strcmp(entry->name, r->end) <= 0) {
        st->wal_num++;
        st->wal_size += entry->size;
    } else {
        st->wal_until_next_num++;
        st->wal_until_next_size += entry->size;
    }
    st->has_last = 1;
    snprintf(st->wal_last, sizeof(st->wal_last), "%s", entry->name);
    st->wal_last_time = entry->time;
}

static void
range_unlink(struct stats_pass *pass, int idx)
{
    struct wal_range *r = &pass->ranges[idx];

    if (r->prev >= 0)
        pass->ranges[r->prev].next = r->next;
    else
        pass->head = r->next;
    if (r->next >= 0)
        pass->ranges[r->next].prev = r->prev;
    r->prev = r->next = -1;
}

static int
stats_line(const struct xlogdb_entry *entry, void *arg)
{
    struct stats_pass *pass = arg;
    struct xlog_name xn;
    enum xlog_kind kind = xlog_name_parse(entry->name, &xn);
    int idx, next;

    if (kind == XLOG_KIND_HISTORY)
        return 0;
    for (idx = pass->head; idx >= 0; idx = next) {
        struct wal_range *r = &pass->ranges[idx];

        next = r->next;
        /* sorted by begin: no later range can see this line either */
        if (strcmp(entry->name, r->begin) < 0)
            break;
        if (kind == XLOG_KIND_NONE) {
            bad_segment_name(pass->err, entry->name, pass->server);
            pass->failed = 1;
            return 1;
        }
        if (xn.tli > r->tli || kind != XLOG_KIND_SEGMENT)
            continue;
        if (r->next_end != NULL && strcmp(entry->name, r->next_end) > 0) {
            range_unlink(pass, idx);    /* Barman's `break` */
            continue;
        }
        range_count(r, entry);
    }
    return 0;
}

/* get_wal_info()'s statistics, computed once the counts are known. */
static void
stats_finish(struct backup_wal_stats *st, const struct backup_info *bi)
{
    double segment_size = (double) (bi->xlog_segment_size != BI_NULL_INT ? bi->xlog_segment_size
                                                                         : XLOG_DEFAULT_SEGMENT_SIZE);
    double span, theoretical;

    if (!st->has_first || !st->has_last)
        return;
    st->has_ratios = 1;
    span = st->wal_last_time - st->wal_first_time;
    if (span > 0)
        st->wals_per_second = (double) (st->wal_num + st->wal_until_next_num) / span;
    /* Python raises ZeroDivisionError on x / 0.0 and Barman then uses 0.0 */
    theoretical = (double) st->wal_num * segment_size;
    st->wal_compression_ratio = theoretical != 0 ? 1 - ((double) st->wal_size / theoretical) : 0.0;
    theoretical = (double) st->wal_until_next_num * segment_size;
    st->wal_until_next_compression_ratio = theoretical != 0 ? 1 - ((double) st->wal_until_next_size / theoretical)
                                                            : 0.0;
}

static int
range_cmp(const void *a, const void *b)
{
    const struct wal_range *ra = a, *rb = b;
    int c = strcmp(ra->begin, rb->begin);

    if (c != 0)
        return c;
    return strcmp(ra->bi->backup_id, rb->bi->backup_id);
}

int
backup_stats_compute(const struct catalog *cat, const char *lock_dir, struct backup_wal_stats *out,
                     struct br_error *err)
{
    struct stats_pass pass = {.head = -1, .server = cat->srv->name, .err = err};
    size_t n_ranges = 0;
    int rc = -1;

    memset(out, 0, cat->n_backups * sizeof(*out));
    pass.ranges = br_calloc(cat->n_backups + 1, sizeof(*pass.ranges));

    /* one range per backup that Barman would scan: DONE or WAITING_FOR_WALS */
    for (size_t i = 0; i < cat->n_backups; i++) {
        const struct backup_info *bi = cat->backups[i];
        int added;

        if (!(BACKUP_MASK_COPY_DONE & BACKUP_STATUS_MASK(bi->status)))
            continue;
        added = range_init(&pass.ranges[n_ranges], cat, bi, err);
        if (added < 0)
            goto out;
        if (added == 0)
            continue;
        out[i].computed = 1;
        pass.ranges[n_ranges].st = &out[i];
        n_ranges++;
    }
    if (n_ranges == 0) {
        rc = 0;
        goto out;
    }

    /* the running list starts with every range, in begin_wal order */
    qsort(pass.ranges, n_ranges, sizeof(*pass.ranges), range_cmp);
    for (size_t i = 0; i < n_ranges; i++) {
        pass.ranges[i].prev = (int) i - 1;
        pass.ranges[i].next = i + 1 < n_ranges ? (int) i + 1 : -1;
    }
    pass.head = 0;

    /* the single pass */
    if (xlogdb_foreach(cat->srv, lock_dir, stats_line, &pass, err) != 0 && !pass.failed) {
        if (err->code == BR_E_OK)
            br_error_set(err, BR_E_INTERNAL, "unexpected stop while reading xlog.db");
        goto out;
    }
    if (pass.failed)
        goto out;

    for (size_t i = 0; i < n_ranges; i++)
        stats_finish(pass.ranges[i].st, pass.ranges[i].bi);
    rc = 0;
out:
    free(pass.ranges);
    return rc;
}

/* ---- one backup's WAL list (list-files --target wal|full) ---- */

struct foreach_pass {
    struct wal_range range;
    int include_history;
    backup_stats_wal_cb cb;
    void *arg;
    int stopped;                /* Barman's `break` was reached */
    int failed;                 /* err is set */
    int cb_rc;                  /* non-zero value returned by cb */
    const char *server;
    struct br_error *err;
};

static int
foreach_line(const struct xlogdb_entry *entry, void *arg)
{
    struct foreach_pass *fp = arg;
    struct xlog_name xn;
    enum xlog_kind kind = xlog_name_parse(entry->name, &xn);
    int rc;

    if (fp->stopped)
        return 1;
    if (kind == XLOG_KIND_HISTORY) {
        if (!fp->include_history)
            return 0;
        goto emit;
    }
    if (strcmp(entry->name, fp->range.begin) < 0)
        return 0;
    if (kind == XLOG_KIND_NONE) {
        bad_segment_name(fp->err, entry->name, fp->server);
        fp->failed = 1;
        return 1;
    }
    if (xn.tli > fp->range.tli || kind != XLOG_KIND_SEGMENT)
        return 0;
    if (fp->range.next_end != NULL && strcmp(entry->name, fp->range.next_end) > 0) {
        fp->stopped = 1;
        return 1;
    }
emit:
    rc = fp->cb(entry, fp->arg);
    if (rc != 0)
        fp->cb_rc = rc;
    return rc;
}

int
backup_stats_foreach_wal(const struct catalog *cat, const struct backup_info *bi, const char *lock_dir,
                         int include_history, backup_stats_wal_cb cb, void *arg, struct br_error *err)
{
    struct foreach_pass fp = {.include_history = include_history, .cb = cb, .arg = arg,
                              .server = cat->srv->name, .err = err};
    int added = range_init(&fp.range, cat, bi, err);

    if (added <= 0)
        return added;           /* no begin_wal: nothing to list */
    if (xlogdb_foreach(cat->srv, lock_dir, foreach_line, &fp, err) != 0) {
        if (fp.failed)
            return -1;
        if (fp.cb_rc != 0)
            return fp.cb_rc;
        if (!fp.stopped) {
            if (err->code == BR_E_OK)
                br_error_set(err, BR_E_INTERNAL, "unexpected stop while reading xlog.db");
            return -1;
        }
    }
    return 0;
}

/* ---- retention labels of a catalog ---- */

void
backup_stats_retention(const struct catalog *cat, enum retention_status *out)
{
    const struct server_config *srv = cat->srv;
    struct retention_backup *rb = br_calloc(cat->n_backups + 1, sizeof(*rb));
    struct br_timestamp now;

    for (size_t i = 0; i < cat->n_backups; i++) {
        const struct backup_info *bi = cat->backups[i];

        rb[i].status = bi->status;
        rb[i].end_time_set = bi->end_time_set;
        rb[i].end_time_usec = bi->end_time.epoch_usec;
        /* Barman reads the keep annotation of DONE backups only */
        if (bi->status == BACKUP_STATUS_DONE && srv->retention_policy.kind != RETENTION_NONE) {
            char *target = catalog_keep_get(srv, bi->backup_id);
            rb[i].keep = retention_keep_from_target(target);
            free(target);
        }
    }
    br_timestamp_now(&now);
    retention_evaluate(rb, cat->n_backups, &srv->retention_policy, srv->minimum_redundancy, now.epoch_usec, out);
    free(rb);
}
