/*
 * backup.h: `barrel backup` for one server, as a recipe of named steps
 * (pgBackRest's cmdBackup): checks, lock, start, copy, stop, complete,
 * wait. It stores exactly Barman 3.4's tar-format postgres-method layout:
 *
 *   base/<ID>/backup.info
 *   base/<ID>/data/base.tar.<ext>, data/<oid>.tar.<ext>, data/backup_manifest
 *   base/<ID>/<oid>/            (empty, as Barman 3.4 leaves it)
 *
 * with <ext> "zst", "gz", "lz4" or nothing for backup_compression zstd,
 * gzip, lz4, none. barrel only makes tar backups: an unset
 * backup_compression means zstd (Barman would make a plain backup).
 * backup_compression_location = server stores what the server compressed.
 *
 * backup.info goes EMPTY -> STARTED -> WAITING_FOR_WALS -> DONE (or FAILED
 * with `error` = "failure <action> (<message>)", the archives already
 * written removed). SIGINT, SIGTERM and SIGHUP are caught while it runs
 * and fail the backup the same way.
 */
#ifndef BARREL_BACKUP_H
#define BARREL_BACKUP_H

#include "barrel/build.h"

struct br_error;
struct server_config;

struct backup_options {
    const char *name;             /* --name, NULL for none */
    int wait;                     /* --wait */
    int wait_timeout_s;           /* --wait-timeout; 0 = no limit */
    int immediate_checkpoint;     /* 1 / 0 from the command line, -1 = the server's setting */
    int progress;                 /* show progress (a terminal, not -q) */
    const char *prog;             /* "barrel" or "barman", for hints */
    const char *lock_dir;         /* barman_lock_directory */
};

/*
 * Back up one server. Returns 0 when a backup was taken (DONE or
 * WAITING_FOR_WALS; backup_id, 16 bytes, gets its ID), -1 with err
 * otherwise: a refused check (no catalog entry), a busy lock (BR_E_LOCKED),
 * or a failed backup (its backup.info says FAILED; backup_id is set).
 */
int backup_run(const struct server_config *srv, const struct backup_options *opts, char *backup_id,
               struct br_error *err);

#endif /* BARREL_BACKUP_H */
