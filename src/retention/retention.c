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

#include "barrel/mem.h"

#include <stdio.h>
#include <stdlib.h>

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
evaluate_redundancy(const struct retention_backup *backups, size_t n, int redundancy, enum retention_status *out,
                    enum retention_reason *why)
{
    int done_seen = 0;

    for (size_t idx = n; idx-- > 0;) {
        const struct retention_backup *b = &backups[idx];

        if (b->gone || b->status != BACKUP_STATUS_DONE) {
            out[idx] = RETENTION_STATUS_NONE;
            why[idx] = RETENTION_WHY_NOT_DONE;
            continue;
        }
        if (b->keep != RETENTION_KEEP_NONE) {
            out[idx] = keep_label(b->keep);
            why[idx] = RETENTION_WHY_KEEP;
        } else if (done_seen < redundancy) {
            out[idx] = RETENTION_STATUS_VALID;
            why[idx] = RETENTION_WHY_REDUNDANCY_VALID;
        } else {
            out[idx] = RETENTION_STATUS_OBSOLETE;
            why[idx] = RETENTION_WHY_REDUNDANCY_OBSOLETE;
        }
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
                enum retention_status *out, enum retention_reason *why)
{
    int found = 0, valid = 0;

    for (size_t idx = n; idx-- > 0;) {
        const struct retention_backup *b = &backups[idx];
        enum retention_status keep = keep_label(b->keep);

        if (b->gone || b->status != BACKUP_STATUS_DONE) {
            out[idx] = RETENTION_STATUS_NONE;
            why[idx] = RETENTION_WHY_NOT_DONE;
            continue;
        }
        if (!found) {
            out[idx] = keep != RETENTION_STATUS_NONE ? keep : RETENTION_STATUS_VALID;
            why[idx] = RETENTION_WHY_WINDOW_INSIDE;
            valid++;
            /*
             * Barman compares end_time < now - window, strictly. A DONE
             * backup without end_time would make Python fail; treat it as
             * older than the window, which keeps it VALID and ends the window.
             */
            if (!b->end_time_set || b->end_time_usec < point_usec) {
                found = 1;
                why[idx] = RETENTION_WHY_WINDOW_BASE;
            }
        } else if (valid < minimum_redundancy) {
            out[idx] = keep != RETENTION_STATUS_NONE ? keep : RETENTION_STATUS_POTENTIALLY_OBSOLETE;
            why[idx] = RETENTION_WHY_MINIMUM_REDUNDANCY;
            valid++;
        } else {
            out[idx] = keep != RETENTION_STATUS_NONE ? keep : RETENTION_STATUS_OBSOLETE;
            why[idx] = RETENTION_WHY_WINDOW_OBSOLETE;
        }
        if (keep != RETENTION_STATUS_NONE)
            why[idx] = RETENTION_WHY_KEEP;
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
retention_evaluate_explained(const struct retention_backup *backups, size_t n, const struct retention_policy *policy,
                             int minimum_redundancy, int64_t now_usec, enum retention_status *out,
                             enum retention_reason *why)
{
    enum retention_reason *scratch = NULL;

    if (why == NULL)
        why = scratch = br_calloc(n + 1, sizeof(*why));
    switch (policy != NULL ? policy->kind : RETENTION_NONE) {
    case RETENTION_REDUNDANCY: {
        int redundancy = policy->value;

        /* Barman logs a warning and enforces minimum_redundancy instead */
        if (redundancy < minimum_redundancy)
            redundancy = minimum_redundancy;
        evaluate_redundancy(backups, n, redundancy, out, why);
        break;
    }
    case RETENTION_WINDOW:
        evaluate_window(backups, n, now_usec - window_usec(policy), minimum_redundancy, out, why);
        break;
    case RETENTION_NONE:
        for (size_t idx = 0; idx < n; idx++) {
            out[idx] = RETENTION_STATUS_NONE;
            why[idx] = RETENTION_WHY_NO_POLICY;
        }
        break;
    }
    free(scratch);
}

void
retention_evaluate(const struct retention_backup *backups, size_t n, const struct retention_policy *policy,
                   int minimum_redundancy, int64_t now_usec, enum retention_status *out)
{
    retention_evaluate_explained(backups, n, policy, minimum_redundancy, now_usec, out, NULL);
}

void
retention_reason_text(enum retention_reason why, const struct retention_policy *policy, int minimum_redundancy,
                      char *buf, size_t len)
{
    int redundancy = policy != NULL ? policy->value : 0;

    if (redundancy < minimum_redundancy)
        redundancy = minimum_redundancy;
    switch (why) {
    case RETENTION_WHY_NO_POLICY:
        snprintf(buf, len, "no retention policy: never removed automatically");
        return;
    case RETENTION_WHY_NOT_DONE:
        snprintf(buf, len, "not DONE: not evaluated, never removed by the policy");
        return;
    case RETENTION_WHY_KEEP:
        snprintf(buf, len, "keep annotation: never removed");
        return;
    case RETENTION_WHY_REDUNDANCY_VALID:
        snprintf(buf, len, "one of the %d newest DONE backups", redundancy);
        return;
    case RETENTION_WHY_REDUNDANCY_OBSOLETE:
        snprintf(buf, len, "older than the %d newest DONE backups", redundancy);
        return;
    case RETENTION_WHY_WINDOW_INSIDE:
        snprintf(buf, len, "ends inside the recovery window");
        return;
    case RETENTION_WHY_WINDOW_BASE:
        snprintf(buf, len, "newest backup ending before the window starts: needed to recover to its start");
        return;
    case RETENTION_WHY_MINIMUM_REDUNDANCY:
        snprintf(buf, len, "outside the window but one of the %d backups minimum_redundancy keeps (never removed "
                 "automatically)", minimum_redundancy);
        return;
    case RETENTION_WHY_WINDOW_OBSOLETE:
        snprintf(buf, len, "older than the backup that covers the start of the window");
        return;
    }
    snprintf(buf, len, "unknown reason %d", (int) why);
}
