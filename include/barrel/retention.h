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

/*
 * What the engine needs to know about one backup. The labels use the first
 * four fields; the delete plan (below) uses the rest too.
 */
struct retention_backup {
    enum backup_status status;
    int     end_time_set;       /* 0: end_time is None (treated as older than any window) */
    int64_t end_time_usec;      /* UTC microseconds since the epoch */
    enum retention_keep keep;   /* labels read it for DONE backups only; plans for every status */
    const char *backup_id;      /* borrowed; for messages */
    const char *begin_wal;      /* borrowed; NULL = None */
    const char *end_wal;        /* borrowed; NULL = None */
    int64_t timeline;           /* 0 = None */
    int     gone;               /* deleted earlier in this run (a simulation): treated as absent */
};

/* Why a backup got its label (barrel's `retention` command explains each one). */
enum retention_reason {
    RETENTION_WHY_NO_POLICY = 0,        /* no retention_policy: nothing is evaluated */
    RETENTION_WHY_NOT_DONE,             /* only DONE backups are evaluated */
    RETENTION_WHY_KEEP,                 /* keep annotation: never obsolete */
    RETENTION_WHY_REDUNDANCY_VALID,     /* one of the newest n DONE backups */
    RETENTION_WHY_REDUNDANCY_OBSOLETE,  /* older than the newest n DONE backups */
    RETENTION_WHY_WINDOW_INSIDE,        /* ends inside the recovery window */
    RETENTION_WHY_WINDOW_BASE,          /* newest backup ending before the window: recovers to its start */
    RETENTION_WHY_MINIMUM_REDUNDANCY,   /* OBSOLETE*: one of the newest minimum_redundancy backups */
    RETENTION_WHY_WINDOW_OBSOLETE,      /* older than the backup that covers the window start */
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
/* The same, also filling why[i] (may be NULL) with the reason of each label. Backups marked gone get NONE. */
void retention_evaluate_explained(const struct retention_backup *backups, size_t n,
                                  const struct retention_policy *policy, int minimum_redundancy, int64_t now_usec,
                                  enum retention_status *out, enum retention_reason *why);
/* A short English sentence for a reason ("one of the 2 newest DONE backups" needs n: pass the policy). */
void retention_reason_text(enum retention_reason why, const struct retention_policy *policy, int minimum_redundancy,
                           char *buf, size_t len);

/* ---- deleting one backup (spec 7.4-7.6): the plan, no I/O ---- */

enum retention_refusal {
    RETENTION_REFUSE_NONE = 0,
    RETENTION_REFUSE_KEEP,                 /* a keep annotation (any status) */
    RETENTION_REFUSE_MINIMUM_REDUNDANCY,   /* a DONE backup and minimum_redundancy >= DONE backups */
};

enum retention_delete_mode {
    RETENTION_DELETE_MANUAL,    /* `delete`: a KEEP:STANDALONE predecessor stops WAL removal */
    RETENTION_DELETE_POLICY,    /* cron / retention: its WAL range is protected and the walk goes on */
};

/* Why no WAL goes with a backup (RETENTION_NO_WAL_NONE when some may). */
enum retention_no_wal {
    RETENTION_NO_WAL_NONE = 0,
    RETENTION_NO_WAL_PREVIOUS,             /* an older backup needs every WAL from its start to now */
    RETENTION_NO_WAL_STANDALONE_MANUAL,    /* an older KEEP:STANDALONE backup and a manual delete */
};

#define RETENTION_WAL_NAME_MAX 64

struct retention_wal_range {
    char begin_wal[RETENTION_WAL_NAME_MAX];   /* inclusive, 24-character names */
    char end_wal[RETENTION_WAL_NAME_MAX];
};

/*
 * What deleting backups[target] does (Barman 3.4's delete_backup(),
 * should_remove_wals(), get_timelines_to_protect(),
 * remove_wal_before_backup()). Caller-owned; retention_delete_plan_reset()
 * frees what retention_plan_delete() allocated.
 */
struct retention_delete_plan {
    size_t target;
    enum retention_refusal refusal;
    int done_count;                           /* DONE backups, the target included (refusal message) */
    int remove_wals;                          /* 0: no WAL goes (no_wal says why) */
    enum retention_no_wal no_wal;
    size_t blocker;                           /* RETENTION_NO_WAL_*: the older backup that needs the WAL */
    int has_until;                            /* remove_until is a backup: WAL >= its begin_wal stays */
    size_t until;                             /* that backup (the next one, or the target itself) */
    char until_wal[RETENTION_WAL_NAME_MAX];   /* its begin_wal, "" when None (then nothing is held back by it) */
    size_t n_timelines;                       /* protected timelines: every WAL on them stays */
    int64_t *timelines;
    size_t n_ranges;                          /* protected [begin_wal, end_wal] of KEEP:STANDALONE backups */
    struct retention_wal_range *ranges;
};

/*
 * Plan the deletion of backups[target] among n backups in ID order (gone
 * ones are ignored, as if already deleted). concurrent_backup: "concurrent_backup"
 * is in backup_options (when the target is the last backup, the WAL from its
 * begin_wal on stays for a backup that may be starting). A refusal is
 * reported in plan->refusal and nothing else is set. Allocates (the plan
 * owns it); never fails.
 */
void retention_plan_delete(const struct retention_backup *backups, size_t n, size_t target, int minimum_redundancy,
                           int concurrent_backup, enum retention_delete_mode mode,
                           struct retention_delete_plan *plan);
void retention_delete_plan_reset(struct retention_delete_plan *plan);

/*
 * 1 when the xlog.db entry `name` stays under a plan with remove_wals set:
 * .history files, files on a protected timeline, files in a protected range
 * (a .backup file compared on its first 24 characters), files >= until_wal.
 * A name that is not a WAL-archive name stays too (Barman drops its line and
 * leaves the file; barrel keeps both and the caller reports it).
 */
int retention_plan_keeps_wal(const struct retention_delete_plan *plan, const char *name);

/*
 * The first backup of a server (spec 4.8, Barman's remove_wal_before_backup()
 * with no other backup): every WAL file before begin_wal goes, .history
 * files stay. Nothing allocated; reset is a no-op but allowed.
 */
void retention_plan_first_backup(const char *begin_wal, struct retention_delete_plan *plan);

/*
 * Cron's list (spec 7.7): the indexes of the OBSOLETE backups in ascending
 * ID order, computed once from the labels. Returns how many were stored in
 * idx (which holds n entries).
 */
size_t retention_obsolete(const enum retention_status *labels, size_t n, size_t *idx);

#endif /* BARREL_RETENTION_H */
