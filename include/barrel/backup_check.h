/*
 * backup_check.h: Barman 3.4's check_backup (spec 3.3): is every WAL
 * segment from begin_wal to end_wal in the archive? Used by `backup`
 * (and its --wait loop), `check-backup` and, later, `cron`.
 *
 * It looks at the files in wals/, never at xlog.db, as Barman does.
 */
#ifndef BARREL_BACKUP_CHECK_H
#define BARREL_BACKUP_CHECK_H

#include "barrel/build.h"

struct br_error;
struct backup_info;
struct server_config;

/*
 * The newest plain segment name archived on timeline `tli_hex` (8 hex
 * characters): hash directories scanned from the highest down, files in
 * each from the highest down, .backup/.partial/.history names skipped.
 * Returns 1 with name (25 bytes) filled, 0 when the timeline has none,
 * -1 on an I/O error.
 */
int backup_check_last_archived(const char *wals_dir, const char *tli_hex, char *name, struct br_error *err);

/*
 * Check a backup and set its status as Barman does: nothing when end_wal is
 * unknown (in progress); WAITING_FOR_WALS while the archive has nothing on
 * the backup's timeline or nothing at or after begin_wal; FAILED with
 * error "At least one WAL file is missing. The first missing WAL file is
 * <seg>" when a segment between begin_wal and the newest archived one is
 * absent; DONE when all are there up to end_wal; WAITING_FOR_WALS otherwise.
 * backup.info is written (bi->path) whenever a status was decided, as
 * Barman saves it. The caller holds the backup's lock and refuses FAILED
 * backups beforehand. 0, or -1 with err.
 */
int backup_check(const struct server_config *srv, struct backup_info *bi, struct br_error *err);

#endif /* BARREL_BACKUP_CHECK_H */
