/*
 * retention.h: the retention-status engine (spec 7.2-7.5), a pure function.
 *
 * Given a server's backups in ID order, its retention policy, its
 * minimum_redundancy and "now", it labels each backup as Barman 3.4's
 * RetentionPolicy._backup_report() does: VALID, OBSOLETE, OBSOLETE*
 * (potentially obsolete: kept for minimum_redundancy), KEEP:FULL,
 * KEEP:STANDALONE, or "-" (not DONE, or no policy). No I/O: the caller reads
 * the catalog and the keep annotations; deciding what to delete from these
 * labels is the caller's job too.
 */
#ifndef BARREL_RETENTION_H
#define BARREL_RETENTION_H

#include "barrel/build.h"
#include "barrel/catalog.h"
#include "barrel/config.h"
#include <stddef.h>
#include <stdint.h>

enum retention_status {
    RETENTION_STATUS_NONE = 0,              /* "-" */
    RETENTION_STATUS_VALID,
    RETENTION_STATUS_OBSOLETE,
    RETENTION_STATUS_POTENTIALLY_OBSOLETE,  /* "OBSOLETE*" */
    RETENTION_STATUS_KEEP_FULL,
    RETENTION_STATUS_KEEP_STANDALONE,
};

enum retention_keep {
    RETENTION_KEEP_NONE = 0,
    RETENTION_KEEP_FULL,        /* "full", or any target other than "standalone" (Barman: for safety) */
    RETENTION_KEEP_STANDALONE,
};

/* What the engine needs to know about one backup. */
struct retention_backup {
    enum backup_status status;
    int     end_time_set;       /* 0: end_time is None (treated as older than any window) */
    int64_t end_time_usec;      /* UTC microseconds since the epoch */
    enum retention_keep keep;
};

/* Barman's label text: "VALID", "OBSOLETE", "OBSOLETE*", "KEEP:FULL", "KEEP:STANDALONE", "-". */
const char *retention_status_name(enum retention_status st);

/* Map a keep annotation's content ("full", "standalone", NULL) to the enum. */
enum retention_keep retention_keep_from_target(const char *target);

/*
 * Label every backup. `backups` holds n entries sorted by backup ID, oldest
 * first (the catalog order); out[i] receives the label of backups[i].
 * `now_usec` is the current time (UTC microseconds), used by RECOVERY
 * WINDOW only; a backup whose end_time equals the window start is inside the
 * window (Barman compares with a strict "<"). With no policy
 * (RETENTION_NONE) every label is NONE, as Barman reports nothing when
 * retention is not enforced. A REDUNDANCY below minimum_redundancy is raised
 * to it. Never fails, allocates nothing.
 */
void retention_evaluate(const struct retention_backup *backups, size_t n, const struct retention_policy *policy,
                        int minimum_redundancy, int64_t now_usec, enum retention_status *out);

#endif /* BARREL_RETENTION_H */
