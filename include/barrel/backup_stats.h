/*
 * backup_stats.h: the WAL figures that list-backups, show-backup and
 * list-files report for a backup, computed from xlog.db exactly as Barman
 * 3.4 does (server.py get_wal_until_next_backup() and get_wal_info()).
 *
 * For one backup B, Barman walks xlog.db in file order and considers the
 * plain segments (no .history, .backup or .partial) whose name is >=
 * B.begin_wal and whose timeline is <= B's timeline; it stops at the first
 * such segment whose name is > the end_wal of the next backup (DONE or
 * WAITING_FOR_WALS), if there is one. Those up to B.end_wal are "required"
 * (WAL number, the size added to the backup's size), the others are "until
 * next" (list-backups' WAL Size, show-backup's WAL information).
 *
 * backup_stats_compute() does this for every backup of a catalog in one
 * streaming pass over xlog.db: memory is O(backups), never O(xlog.db), and
 * the work per xlog.db line is proportional to the number of backups whose
 * range contains that line (usually one or two), not to the catalog size.
 */
#ifndef BARREL_BACKUP_STATS_H
#define BARREL_BACKUP_STATS_H

#include "barrel/build.h"
#include "barrel/catalog.h"
#include "barrel/retention.h"
#include <stdint.h>

struct br_error;

#define BACKUP_STATS_NAME_LEN 64

/* get_wal_info() of one backup; every field is 0 / "" when Barman's would be 0 / None. */
struct backup_wal_stats {
    int     computed;                    /* 1 for DONE / WAITING_FOR_WALS backups with a begin_wal */
    int64_t wal_num;                     /* segments from begin_wal to end_wal found in xlog.db */
    int64_t wal_size;                    /* their size on disk (compressed) */
    int64_t wal_until_next_num;          /* segments after end_wal, up to the next backup's end_wal */
    int64_t wal_until_next_size;
    int     has_first;                   /* the begin_wal segment itself is in xlog.db */
    double  wal_first_time;
    int     has_last;                    /* at least one segment was counted */
    char    wal_last[BACKUP_STATS_NAME_LEN];
    double  wal_last_time;
    /*
     * Derived figures, set only when has_first and has_last (Barman leaves
     * them at int 0 otherwise, which JSON shows as 0, not 0.0).
     */
    int     has_ratios;
    double  wal_compression_ratio;            /* 1 - wal_size / (wal_num * segment size) */
    double  wal_until_next_compression_ratio; /* same for the until-next segments */
    double  wals_per_second;                  /* (wal_num + until_next) / (last - first time); 0.0 if no span */
};

/*
 * Compute the figures of every backup of `cat` in one pass over xlog.db
 * (read under the xlogdb lock in lock_dir). `out` must hold
 * cat->n_backups entries and receives them in catalog order. Returns 0, or
 * -1 with err set: xlog.db unreadable, or a line Barman would reject
 * ("invalid WAL segment name 'X'", BR_E_FORMAT, with a rebuild-xlogdb hint).
 */
int backup_stats_compute(const struct catalog *cat, const char *lock_dir, struct backup_wal_stats *out,
                         struct br_error *err);

/*
 * Stream the xlog.db entries of get_wal_until_next_backup(bi) in file order:
 * the segments described above, plus, when include_history is set, every
 * .history entry wherever it appears (list-files --target wal|full).
 * cb returning non-zero stops the walk and that value is returned (without
 * touching err). Returns 0 or -1 with err set, as backup_stats_compute().
 */
typedef int (*backup_stats_wal_cb)(const struct xlogdb_entry *entry, void *arg);
int backup_stats_foreach_wal(const struct catalog *cat, const struct backup_info *bi, const char *lock_dir,
                             int include_history, backup_stats_wal_cb cb, void *arg, struct br_error *err);

/*
 * The retention label of every backup of `cat` (catalog order) under the
 * server's policy, minimum_redundancy and the current time: reads the keep
 * annotations of the DONE backups, then runs retention_evaluate(). All NONE
 * when the server has no retention_policy (Barman: "not enforced").
 */
void backup_stats_retention(const struct catalog *cat, enum retention_status *out);

#endif /* BARREL_BACKUP_STATS_H */
