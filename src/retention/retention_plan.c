/*
 * retention_plan.c: what deleting one backup does to the catalog, decided
 * without touching it (Barman 3.4's BackupManager.delete_backup(),
 * should_remove_wals(), get_timelines_to_protect() and
 * remove_wal_before_backup(), spec 7.6).
 *
 * The invariant: WAL only ever goes "from the oldest end". A backup's WAL is
 * removed only when no older backup needs it for point-in-time recovery;
 * KEEP:STANDALONE backups older than it keep exactly their own
 * [begin_wal, end_wal] (when retention deletes; a manual delete keeps
 * everything then). What stays is decided per xlog.db name by
 * retention_plan_keeps_wal(), so that the caller can stream xlog.db.
 */
#include "barrel/build.h"
#include "barrel/retention.h"

#include "barrel/mem.h"
#include "barrel/xlog.h"

/* Barman's DEFAULT_STATUS_FILTER (STATUS_COPY_DONE) */
static int
copy_done(const struct retention_backup *b)
{
    return !b->gone && (b->status == BACKUP_STATUS_DONE || b->status == BACKUP_STATUS_WAITING_FOR_WALS);
}

/* Barman's STATUS_ARCHIVING: backups whose timeline protects its WAL */
static int
archiving(const struct retention_backup *b)
{
    return !b->gone && (b->status == BACKUP_STATUS_STARTED || b->status == BACKUP_STATUS_WAITING_FOR_WALS
                        || b->status == BACKUP_STATUS_DONE || b->status == BACKUP_STATUS_SYNCING);
}

static void
copy_name(char *dst, const char *src)
{
    snprintf(dst, RETENTION_WAL_NAME_MAX, "%s", src != NULL ? src : "");
}

static void
add_timeline(struct retention_delete_plan *plan, int64_t tli)
{
    for (size_t i = 0; i < plan->n_timelines; i++)
        if (plan->timelines[i] == tli)
            return;
    plan->timelines = br_realloc(plan->timelines, (plan->n_timelines + 1) * sizeof(*plan->timelines));
    plan->timelines[plan->n_timelines++] = tli;
}

/*
 * should_remove_wals(): walk the older backups. None left: WAL may go.
 * KEEP:STANDALONE: a manual delete stops here (keeps everything); retention
 * protects its range and looks further back. Anything else needs the WAL
 * from its start to now: nothing goes.
 */
static int
plan_should_remove_wals(const struct retention_backup *backups, size_t target, enum retention_delete_mode mode,
                        struct retention_delete_plan *plan)
{
    for (size_t idx = target; idx-- > 0;) {
        const struct retention_backup *b = &backups[idx];

        if (!copy_done(b))
            continue;
        if (b->keep == RETENTION_KEEP_STANDALONE) {
            if (mode == RETENTION_DELETE_MANUAL) {
                plan->no_wal = RETENTION_NO_WAL_STANDALONE_MANUAL;
                plan->blocker = idx;
                return 0;
            }
            /* Python would fail on None here; a DONE backup always has both */
            if (b->begin_wal != NULL && b->end_wal != NULL) {
                plan->ranges = br_realloc(plan->ranges, (plan->n_ranges + 1) * sizeof(*plan->ranges));
                copy_name(plan->ranges[plan->n_ranges].begin_wal, b->begin_wal);
                copy_name(plan->ranges[plan->n_ranges].end_wal, b->end_wal);
                plan->n_ranges++;
            }
            continue;
        }
        plan->no_wal = RETENTION_NO_WAL_PREVIOUS;
        plan->blocker = idx;
        plan->n_ranges = 0;
        return 0;
    }
    return 1;
}

void
retention_plan_delete(const struct retention_backup *backups, size_t n, size_t target, int minimum_redundancy,
                      int concurrent_backup, enum retention_delete_mode mode, struct retention_delete_plan *plan)
{
    const struct retention_backup *tb = &backups[target];

    memset(plan, 0, sizeof(*plan));
    plan->target = target;

    /* 1. refusals: a keep annotation, then minimum_redundancy over DONE backups */
    if (tb->keep != RETENTION_KEEP_NONE) {
        plan->refusal = RETENTION_REFUSE_KEEP;
        return;
    }
    for (size_t idx = 0; idx < n; idx++)
        if (!backups[idx].gone && backups[idx].status == BACKUP_STATUS_DONE)
            plan->done_count++;
    if (tb->status == BACKUP_STATUS_DONE && minimum_redundancy >= plan->done_count) {
        plan->refusal = RETENTION_REFUSE_MINIMUM_REDUNDANCY;
        return;
    }

    /* 2. does any WAL go, and which ranges stay for older standalone backups */
    if (!plan_should_remove_wals(backups, target, mode, plan))
        return;
    plan->remove_wals = 1;

    /* 3. remove_until: the next backup, or the target itself for concurrent backups, or nothing (all) */
    for (size_t idx = target + 1; idx < n; idx++) {
        if (copy_done(&backups[idx])) {
            plan->has_until = 1;
            plan->until = idx;
            break;
        }
    }
    if (!plan->has_until && concurrent_backup) {
        plan->has_until = 1;
        plan->until = target;
    }
    if (!plan->has_until)
        return;
    copy_name(plan->until_wal, backups[plan->until].begin_wal);

    /* 4. every other backup's timeline is protected, except remove_until's own */
    for (size_t idx = 0; idx < n; idx++) {
        if (idx == target || !archiving(&backups[idx]))
            continue;
        if (backups[idx].timeline != backups[plan->until].timeline)
            add_timeline(plan, backups[idx].timeline);
    }
}

void
retention_delete_plan_reset(struct retention_delete_plan *plan)
{
    free(plan->timelines);
    free(plan->ranges);
    memset(plan, 0, sizeof(*plan));
}

int
retention_plan_keeps_wal(const struct retention_delete_plan *plan, const char *name)
{
    struct xlog_name xn;
    enum xlog_kind kind = xlog_name_parse(name, &xn);
    char head[XLOG_NAME_LEN + 1];
    const char *cmp = name;

    if (!plan->remove_wals || kind == XLOG_KIND_NONE || kind == XLOG_KIND_HISTORY)
        return 1;
    for (size_t i = 0; i < plan->n_timelines; i++)
        if (plan->timelines[i] == (int64_t) xn.tli)
            return 1;
    if (kind == XLOG_KIND_BACKUP) {
        memcpy(head, name, XLOG_NAME_LEN);
        head[XLOG_NAME_LEN] = '\0';
        cmp = head;
    }
    for (size_t i = 0; i < plan->n_ranges; i++)
        if (strcmp(cmp, plan->ranges[i].begin_wal) >= 0 && strcmp(cmp, plan->ranges[i].end_wal) <= 0)
            return 1;
    if (plan->has_until && plan->until_wal[0] != '\0' && strcmp(name, plan->until_wal) >= 0)
        return 1;
    return 0;
}

void
retention_plan_first_backup(const char *begin_wal, struct retention_delete_plan *plan)
{
    memset(plan, 0, sizeof(*plan));
    plan->remove_wals = 1;
    plan->has_until = 1;
    copy_name(plan->until_wal, begin_wal);
}

size_t
retention_obsolete(const enum retention_status *labels, size_t n, size_t *idx)
{
    size_t count = 0;

    for (size_t i = 0; i < n; i++)
        if (labels[i] == RETENTION_STATUS_OBSOLETE)
            idx[count++] = i;
    return count;
}
