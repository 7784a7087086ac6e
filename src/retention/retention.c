/*
 * retention.c: retention labels as Barman 3.4's retention_policies.py
 * computes them (RedundancyRetentionPolicy and
 * RecoveryWindowRetentionPolicy, _backup_report()).
 *
 * Both walk the backups newest first. Only DONE backups take part; every
 * other status is "-". The invariant both share: a kept backup is never
 * OBSOLETE, but it still counts (it uses a redundancy slot, or counts as
 * "valid" towards minimum_redundancy in a window policy).
 */
#include "barrel/build.h"
#include "barrel/retention.h"

const char *
retention_status_name(enum retention_status st)
{
    switch (st) {
    case RETENTION_STATUS_VALID: return "VALID";
    case RETENTION_STATUS_OBSOLETE: return "OBSOLETE";
    case RETENTION_STATUS_POTENTIALLY_OBSOLETE: return "OBSOLETE*";
    case RETENTION_STATUS_KEEP_FULL: return "KEEP:FULL";
    case RETENTION_STATUS_KEEP_STANDALONE: return "KEEP:STANDALONE";
    case RETENTION_STATUS_NONE: break;
    }
    return "-";
}

enum retention_keep
retention_keep_from_target(const char *target)
{
    if (target == NULL || target[0] == '\0')
        return RETENTION_KEEP_NONE;
    if (strcmp(target, "standalone") == 0)
        return RETENTION_KEEP_STANDALONE;
    /* Barman: "Any other recovery target is treated as KEEP_FULL for safety" */
    return RETENTION_KEEP_FULL;
}

static enum retention_status
keep_label(enum retention_keep keep)
{
    switch (keep) {
    case RETENTION_KEEP_FULL: return RETENTION_STATUS_KEEP_FULL;
    case RETENTION_KEEP_STANDALONE: return RETENTION_STATUS_KEEP_STANDALONE;
    case RETENTION_KEEP_NONE: break;
    }
    return RETENTION_STATUS_NONE;
}

/* Spec 7.2: the newest max(n, minimum_redundancy) DONE backups are VALID; kept ones use a slot too. */
static void
evaluate_redundancy(const struct retention_backup *backups, size_t n, int redundancy, enum retention_status *out)
{
    int done_seen = 0;

    for (size_t idx = n; idx-- > 0;) {
        const struct retention_backup *b = &backups[idx];

        if (b->status != BACKUP_STATUS_DONE) {
            out[idx] = RETENTION_STATUS_NONE;
            continue;
        }
        if (b->keep != RETENTION_KEEP_NONE)
            out[idx] = keep_label(b->keep);
        else if (done_seen < redundancy)
            out[idx] = RETENTION_STATUS_VALID;
        else
            out[idx] = RETENTION_STATUS_OBSOLETE;
        done_seen++;
    }
}

/*
 * Spec 7.3: everything down to (and including) the newest backup that ended
 * before the window start is VALID; it is needed to recover to the start of
 * the window. Older ones are OBSOLETE, or OBSOLETE* while fewer than
 * minimum_redundancy backups have been counted as valid.
 */
static void
evaluate_window(const struct retention_backup *backups, size_t n, int64_t point_usec, int minimum_redundancy,
                enum retention_status *out)
{
    int found = 0, valid = 0;

    for (size_t idx = n; idx-- > 0;) {
        const struct retention_backup *b = &backups[idx];
        enum retention_status keep = keep_label(b->keep);

        if (b->status != BACKUP_STATUS_DONE) {
            out[idx] = RETENTION_STATUS_NONE;
            continue;
        }
        if (!found) {
            out[idx] = keep != RETENTION_STATUS_NONE ? keep : RETENTION_STATUS_VALID;
            valid++;
            /*
             * Barman compares end_time < now - window, strictly. A DONE
             * backup without end_time would make Python fail; treat it as
             * older than the window, which keeps it VALID and ends the window.
             */
            if (!b->end_time_set || b->end_time_usec < point_usec)
                found = 1;
        } else if (valid < minimum_redundancy) {
            out[idx] = keep != RETENTION_STATUS_NONE ? keep : RETENTION_STATUS_POTENTIALLY_OBSOLETE;
            valid++;
        } else {
            out[idx] = keep != RETENTION_STATUS_NONE ? keep : RETENTION_STATUS_OBSOLETE;
        }
    }
}

/* Window length: Barman's timedelta(days=n), (weeks=n), (days=31*n). */
static int64_t
window_usec(const struct retention_policy *policy)
{
    int64_t days = policy->value;

    if (policy->unit == RETENTION_WEEKS)
        days *= 7;
    else if (policy->unit == RETENTION_MONTHS)
        days *= 31;
    return days * 86400 * INT64_C(1000000);
}

void
retention_evaluate(const struct retention_backup *backups, size_t n, const struct retention_policy *policy,
                   int minimum_redundancy, int64_t now_usec, enum retention_status *out)
{
    switch (policy != NULL ? policy->kind : RETENTION_NONE) {
    case RETENTION_REDUNDANCY: {
        int redundancy = policy->value;

        /* Barman logs a warning and enforces minimum_redundancy instead */
        if (redundancy < minimum_redundancy)
            redundancy = minimum_redundancy;
        evaluate_redundancy(backups, n, redundancy, out);
        return;
    }
    case RETENTION_WINDOW:
        evaluate_window(backups, n, now_usec - window_usec(policy), minimum_redundancy, out);
        return;
    case RETENTION_NONE:
        break;
    }
    for (size_t idx = 0; idx < n; idx++)
        out[idx] = RETENTION_STATUS_NONE;
}
