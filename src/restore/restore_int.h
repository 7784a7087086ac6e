/*
 * restore_int.h: what the files of src/restore/ share (not a public API).
 *
 * The recover context `struct rctx` is filled by the pre-checks and then
 * read by each step; the worker pool and the restore-only stages (path
 * guard, prefix rewriting, delta filter, tally, member wrapper) live here.
 */
#ifndef BARREL_RESTORE_INT_H
#define BARREL_RESTORE_INT_H

#include "barrel/build.h"
#include "barrel/restore.h"
#include "barrel/restore_target.h"

#include <stdatomic.h>
#include <stdint.h>

struct manifest;
struct stage;
struct stage_member;
struct walfile_list;

/* One tablespace of the backup and where it goes. */
struct rtablespace {
    const char *name;
    uint32_t oid;
    char *location;           /* original or relocated */
    int relocated;
};

/* One WAL file to copy. */
struct rwal {
    char name[64];            /* as stored; for the partial: the bare name it is served as */
    char *src;                /* path in the catalog */
    int is_partial;
};

/* Shared by the workers; everything else a worker touches is its own. */
struct rshared {
    atomic_int_fast64_t bytes;   /* progress: bytes written so far */
    atomic_int_fast64_t files;
    atomic_int abort;            /* set by the first worker that fails */
};

struct rctx {
    const struct barrel_config *cfg;
    const struct server_config *srv;
    const struct backup_info *bi;
    const struct restore_opts *o;
    struct restore_target *t;
    struct restore_result *res;
    char *dest;
    char *backup_dir;             /* catalog: base/<ID> */
    char *data_dir;               /* catalog: base/<ID>/data */
    int is_tar;
    const char *tar_ext;          /* ".tar.zst" ... */
    struct manifest *m;           /* NULL for Barman's rsync backups */
    size_t n_tbs;
    struct rtablespace *tbs;
    /* targets */
    int is_pitr;
    uint32_t target_tli;          /* resolved */
    int64_t target_epoch_usec;    /* --target-time */
    char target_time_text[64];    /* as Barman prints it */
    const char *wal_dest_rel;     /* "barman_wal" or "pg_wal" */
    /* WAL */
    size_t n_wal;
    struct rwal *wal;
    int64_t wal_bytes;
    uint32_t seg_size;
    /* state for cleanup */
    int dest_existed;
    int wrote_anything;
    int64_t total_bytes;          /* expected data bytes (manifest), for progress */
    unsigned char *keep;          /* --delta: manifest entries left in place */
    struct rshared shared;
};

/* ---- restore_stages.c ---- */

/*
 * Path guard, first stage after a reader: refuses absolute member paths,
 * ".." components, symlinks whose target is absolute or climbs with "..",
 * members that would be written below an earlier symlink member, and
 * special files; drops the archive's root entry ("" or "."); stops with an
 * error as soon as shared->abort is set. `label` names the archive.
 */
struct stage *restore_guard_new(const char *label, atomic_int *abort_flag, struct stage *next);
/* Prepend `add` (may be NULL) or strip `strip` (may be NULL) from member paths. */
struct stage *restore_prefix_new(const char *add, const char *strip, struct stage *next);
/*
 * Drop the members named in skip (exact paths, NULL-terminated, borrowed
 * for the stage's life) and those whose manifest entry is marked in keep[]
 * (--delta). m, keep and skip may be NULL.
 */
struct stage *restore_filter_new(const struct manifest *m, const unsigned char *keep, const char *const *skip,
                                 struct stage *next);
/* Count files and bytes into *files / *bytes and into the shared progress counters. */
struct stage *restore_tally_new(struct rshared *shared, int64_t *files, int64_t *bytes, struct stage *next);
/* RAW bytes in, MEMBER_DATA chunks of `member` out (a decompressed WAL file into a sink). */
struct stage *restore_wrap_new(const struct stage_member *member, struct stage *next);

/* ---- restore_pool.c ---- */

/*
 * Run fn(arg, unit, worker) for unit = 0 .. n_units-1 on `jobs` threads;
 * units are taken in order. The first failure sets shared->abort, the
 * other workers stop at their next chunk, and its error is returned. With
 * progress, the calling thread prints a progress line to stderr once a
 * second while it waits.
 */
typedef int (*restore_unit_fn)(void *arg, size_t unit, int worker, struct br_error *err);
int restore_pool_run(struct rctx *cx, size_t n_units, int jobs, restore_unit_fn fn, void *arg, const char *what,
                     struct br_error *err);

/* ---- restore_wal.c ---- */

/* Decide the WAL files to copy (spec 4.5) and the newest streamed .partial; checks the backup's own range. */
int restore_wal_select(struct rctx *cx, struct br_error *err);
/* Copy them decompressed into DEST/<wal_dest_rel>/, with .done files when not PITR. */
int restore_wal_copy(struct rctx *cx, struct br_error *err);
/*
 * --background-wal (PITR, local target): history files now, every segment
 * by a detached stager while PostgreSQL replays; restore_command waits for
 * each one (restore_stager.c). Sets res->stager_pid and wal_background.
 */
int restore_wal_stage_background(struct rctx *cx, struct br_error *err);
int restore_wal_in_background(const struct rctx *cx);
void restore_wal_free(struct rctx *cx);
/* Highest timeline found in the archive (segments and history files); 0 if none. */
int restore_wal_latest_tli(struct rctx *cx, uint32_t *tli, struct br_error *err);
/* 1 when <tli>.history is in the archive and leads back to the backup's timeline. */
int restore_wal_timeline_reachable(struct rctx *cx, uint32_t tli, struct br_error *err);

/* ---- restore_settings.c ---- */

/* Mangle postgresql.conf / postgresql.auto.conf (.origin copies), append the recovery settings, signal file. */
int restore_settings_write(struct rctx *cx, struct br_error *err);

/* ---- restore_delta.c ---- */

/* --delta: compare what is in DEST (and the tablespaces) with the manifest; fill cx->keep, remove extra files. */
int restore_delta_scan(struct rctx *cx, struct br_error *err);

/* Prefix an error message with context ("base.tar.zst: ..."), keeping the rest of err. */
void restore_error_prefix(struct br_error *err, const char *fmt, ...) BR_PRINTF(2, 3);

#endif /* BARREL_RESTORE_INT_H */
