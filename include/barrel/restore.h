/*
 * restore.h: the recover recipe (`barrel recover`, spec section 6).
 *
 * restore_run() turns a stored backup plus archived WAL into a PostgreSQL
 * data directory on a restore_target (restore_target.h): pre-checks before
 * anything is written; every archive (or plain tree) streamed through a
 * path guard, the manifest verifier (fail fast) and the target's sink, in
 * parallel with `jobs` workers; tablespaces at their original or relocated
 * places with barrel-made pg_tblspc links; the WAL needed copied
 * decompressed into barman_wal/ (PITR) or pg_wal/ (no target), plus the
 * newest streamed .partial segment; Barman's configuration edits and
 * recovery settings written last, so that a failed run never leaves a
 * directory that looks ready to start.
 */
#ifndef BARREL_RESTORE_H
#define BARREL_RESTORE_H

#include "barrel/build.h"
#include <stddef.h>
#include <stdint.h>

struct br_error;
struct server_config;
struct barrel_config;
struct catalog;
struct backup_info;
struct restore_target;

#define RESTORE_MAX_JOBS 64

struct restore_relocation {
    const char *name;        /* tablespace name */
    const char *location;    /* new absolute location */
};

struct restore_opts {
    /* at most one of these targets (the command checks) */
    const char *target_time;
    const char *target_xid;
    const char *target_lsn;
    const char *target_name;
    int target_immediate;
    const char *target_tli;      /* NULL, a number, "current" or "latest" */
    int exclusive;
    const char *target_action;   /* NULL, pause, promote, shutdown */
    int standby_mode;
    const char *primary_conninfo;   /* barrel: written with --standby-mode */
    size_t n_relocations;
    const struct restore_relocation *relocations;
    int get_wal;
    int delta;
    int jobs;                    /* 1 .. RESTORE_MAX_JOBS */
    int background_wal;          /* PITR, local: stage WAL while PostgreSQL replays (restore_stager.c) */
    int progress;                /* print progress to stderr (a terminal) */
    /* for the get-wal restore_command */
    const char *barrel_path;     /* absolute path of this program */
    const char *config_path;     /* -c value to put in it, NULL when the default is found */
    const char *barman_user;
};

struct restore_result {
    int64_t files;               /* files written */
    int64_t bytes;               /* bytes written (data files and WAL) */
    int64_t files_kept;          /* --delta: files left in place */
    int64_t files_removed;       /* --delta: files the backup lacks, removed */
    int64_t wal_files;           /* WAL files copied (0 with get-wal) */
    int64_t wal_background;      /* --background-wal: segments left to the stager */
    long stager_pid;             /* --background-wal: its pid, 0 when none was needed */
    int partial_included;        /* the newest .partial was copied */
    char partial_name[64];
    int is_pitr;
    double seconds;
};

/*
 * Resolve BACKUP_ID "auto": the newest DONE backup that ends before the
 * target of opts (time: end_time <= target; lsn: end_xlog <= target;
 * other targets: the newest DONE backup). NULL with err when none.
 */
struct backup_info *restore_pick_auto(const struct catalog *cat, const struct restore_opts *opts,
                                      struct br_error *err);

/*
 * The recipe. Prints Barman's progress lines and summary through output.h.
 * On failure, nothing is left that looks like a ready data directory: a
 * destination that was empty or absent is emptied again; with --delta,
 * global/pg_control is removed so that the half-updated directory cannot
 * be started. Blocks until done.
 */
int restore_run(const struct barrel_config *cfg, const struct server_config *srv, const struct backup_info *bi,
                const char *dest, const struct restore_opts *opts, struct restore_target *target,
                struct restore_result *res, struct br_error *err);

/*
 * recover --background-wal (restore_stager.c): the start time of process
 * pid (field 22 of /proc/PID/stat), 0 or -1; and the restore_command script
 * that waits for barman_wal/.barrel-pending/<WAL> to go while that process
 * (pid with that start time, not a zombie) lives, then copies
 * barman_wal/<WAL> to its second argument; a new string.
 */
int restore_stager_start_time(long pid, char *out, size_t size);
char *restore_stager_script(long pid, const char *start_time);

#endif /* BARREL_RESTORE_H */
