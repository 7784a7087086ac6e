/*
 * catalog.h: Barman's on-disk catalog of one server, byte-compatible with
 * Barman 3.4 (spec sections 2 and 3):
 *
 *   <backup_directory>/base/<ID>/backup.info   (also <backup_directory>/meta/<ID>-backup.info, which wins)
 *   <backup_directory>/base/<ID>/annotations/keep
 *   <backup_directory>/identity.json
 *   <wals_directory>/xlog.db  (3, 4 or 5 fields read; 4 written)
 *   <wals_directory>/<16 hex>/<segment>, <wals_directory>/<TLI>.history
 *   <barman_lock_directory>/.<server>-<what>.lock
 *
 * backup.info is written with exactly Barman 3.4's keys, sorted, and nothing
 * barrel invents; keys from newer Barman versions found on read are kept and
 * written back unchanged. Every write is durable (tmp, fsync, rename, fsync dir).
 */
#ifndef BARREL_CATALOG_H
#define BARREL_CATALOG_H

#include "barrel/build.h"
#include "barrel/timestamp.h"
#include <stddef.h>
#include <stdint.h>

struct br_error;
struct strbuf;
struct server_config;
struct barrel_config;

#define BACKUP_ID_LEN 15               /* YYYYMMDDTHHMMSS */
#define BI_NULL_INT INT64_MIN          /* an integer key that is None */

enum backup_status {
    BACKUP_STATUS_EMPTY, BACKUP_STATUS_STARTED, BACKUP_STATUS_WAITING_FOR_WALS,
    BACKUP_STATUS_DONE, BACKUP_STATUS_FAILED, BACKUP_STATUS_SYNCING,
};
const char *backup_status_name(enum backup_status st);
int backup_status_parse(const char *text, enum backup_status *out);

struct tablespace_info {
    char    *name;
    uint32_t oid;
    char    *location;
};

/*
 * One backup.info. Strings are NULL for None. Integers are BI_NULL_INT for
 * None. Timestamps have `set` = 0 for None.
 */
struct backup_info {
    char backup_id[BACKUP_ID_LEN + 1];
    char *path;                       /* file it was read from / will be written to */

    char   *backup_label;             /* decoded text */
    char   *backup_name;              /* key absent when NULL */
    int64_t begin_offset;
    int     begin_time_set;
    struct br_timestamp begin_time;
    char   *begin_wal;
    char   *begin_xlog;
    char   *compression;              /* None, gzip, lz4, zstd, none */
    char   *config_file;
    char   *copy_stats;               /* the Python dict literal, verbatim */
    double  copy_time;                /* from copy_stats, -1 if absent */
    double  total_time;               /* from copy_stats, -1 if absent */
    double  analysis_time;            /* from copy_stats, -1 if absent */
    int64_t number_of_workers;        /* from copy_stats, BI_NULL_INT if absent */
    int64_t deduplicated_size;
    int64_t end_offset;
    int     end_time_set;
    struct br_timestamp end_time;
    char   *end_wal;
    char   *end_xlog;
    char   *error;
    char   *hba_file;
    char   *ident_file;
    size_t  n_included_files;         /* included_files: NULL list = None */
    char  **included_files;
    int     included_files_set;
    char   *mode;
    char   *pgdata;
    char   *server_name;
    int64_t size;
    char   *snapshots_info;           /* verbatim literal; key absent when NULL */
    enum backup_status status;
    char   *systemid;
    size_t  n_tablespaces;            /* tablespaces: None when tablespaces_set = 0 */
    struct tablespace_info *tablespaces;
    int     tablespaces_set;
    int64_t timeline;
    int64_t version;
    int64_t xlog_segment_size;        /* default 16777216 */

    /* keys written by newer Barman versions, kept verbatim (sorted with the rest on write) */
    size_t  n_extra;
    char  **extra_keys;
    char  **extra_values;
};

/* A backup_info with Barman's defaults (status EMPTY, ints None, segment size 16 MiB). */
struct backup_info *backup_info_new(const char *backup_id);
void backup_info_free(struct backup_info *bi);
/* Parse backup.info text (tolerant, section 8.2.1). NULL with err set naming `origin` and line. */
struct backup_info *backup_info_parse(const char *text, const char *origin, const char *backup_id,
                                      struct br_error *err);
/* Read a file. */
struct backup_info *backup_info_read(const char *path, const char *backup_id, struct br_error *err);
/*
 * Serialise exactly as Barman 3.4 would (sorted key=value lines). When
 * copy_stats is NULL but copy_time >= 0, writes the postgres method's
 * {'copy_time': X, 'total_time': Y} (Y = copy_time when total_time < 0).
 */
void backup_info_serialize(const struct backup_info *bi, struct strbuf *out);
/* Durable write to bi->path. */
int backup_info_write(const struct backup_info *bi, struct br_error *err);

/* "^\d{8}T\d{6}$" */
int backup_id_is_valid(const char *text);
/* A new ID from the local time (Barman: strftime("%Y%m%dT%H%M%S")). */
void backup_id_from_time(time_t when, char *buf);

/* New string: <basebackups_directory>/<ID> (basebackups_directory defaults to <backup_directory>/base). */
char *catalog_backup_dir(const struct server_config *srv, const char *backup_id);

/* Keep annotations: "full", "standalone" or NULL (caller frees). */
char *catalog_keep_get(const struct server_config *srv, const char *backup_id);
int catalog_keep_set(const struct server_config *srv, const char *backup_id, const char *target,
                     struct br_error *err);
int catalog_keep_release(const struct server_config *srv, const char *backup_id, struct br_error *err);

/* All backups of a server, sorted by ID (oldest first). */
struct catalog {
    const struct server_config *srv;  /* borrowed */
    size_t n_backups;
    struct backup_info **backups;
};

/*
 * Scan base/ and meta/; unreadable backup.info files are an error naming the
 * file. Only directory names that are backup IDs count. A missing base/
 * directory is an empty catalog.
 */
struct catalog *catalog_open(const struct server_config *srv, struct br_error *err);
void catalog_free(struct catalog *cat);

/*
 * Resolve a backup selector as Barman does: an ID, a backup name,
 * latest/last (newest DONE or WAITING_FOR_WALS), oldest/first, last-failed.
 * Returns a borrowed pointer or NULL with err: "Unknown backup 'X' for
 * server 'Y'" (BR_E_NOT_FOUND), or Barman's message for ambiguous names
 * (BR_E_STATE). Names are searched among DONE and WAITING_FOR_WALS backups.
 */
struct backup_info *catalog_resolve(const struct catalog *cat, const char *selector, struct br_error *err);
/*
 * Previous / next backup in ID order among those with the given status mask
 * (1 << status, 0 = any status); NULL if none.
 */
struct backup_info *catalog_previous(const struct catalog *cat, const struct backup_info *bi, unsigned status_mask);
struct backup_info *catalog_next(const struct catalog *cat, const struct backup_info *bi, unsigned status_mask);
#define BACKUP_STATUS_MASK(st) (1u << (st))
#define BACKUP_MASK_COPY_DONE (BACKUP_STATUS_MASK(BACKUP_STATUS_DONE) | BACKUP_STATUS_MASK(BACKUP_STATUS_WAITING_FOR_WALS))

/* ---- xlog.db ---- */

struct xlogdb_entry {
    char    name[64];
    int64_t size;          /* bytes on disk */
    double  time;          /* mtime, seconds since the epoch */
    char    compression[16];  /* "None" when uncompressed */
};

/* Path of the server's xlog.db (wals/xlog.db; falls back to <server>-xlog.db of Barman >= 3.13 when only that exists). */
char *xlogdb_path(const struct server_config *srv);

/*
 * Stream every line through cb (stop early by returning non-zero, which is
 * passed back). A missing file is an empty database. Lines that do not
 * parse are an error naming the file and line. Holds the xlogdb lock while reading.
 * lock_dir NULL: take no lock (the caller already holds it; taking it twice
 * from one process would deadlock, flock locks belong to each open).
 */
typedef int (*xlogdb_cb)(const struct xlogdb_entry *entry, void *arg);
int xlogdb_foreach(const struct server_config *srv, const char *lock_dir, xlogdb_cb cb, void *arg,
                   struct br_error *err);
/* Parse one line (3, 4 or 5 whitespace-separated fields); 0 or -1. */
int xlogdb_parse_line(const char *line, struct xlogdb_entry *out);
/* Format a Barman 3.4 line "name\tsize\ttime\tcompression\n". */
void xlogdb_format_line(const struct xlogdb_entry *entry, struct strbuf *out);
/* Append entries under the blocking xlogdb lock, then fsync. The files must already be durable. */
int xlogdb_append(const struct server_config *srv, const char *lock_dir, const struct xlogdb_entry *entries,
                  size_t n, struct br_error *err);

/*
 * Replace xlog.db as a whole (rebuild-xlogdb, WAL removal): under the
 * blocking xlogdb lock (lock_dir NULL: the caller holds it), `fill` writes
 * the new entries with xlogdb_writer_add() into "<xlog.db>.tmp", which is
 * fsynced, renamed over xlog.db, and the directory fsynced. When fill or a
 * write fails, the temporary file is removed and xlog.db is untouched.
 */
struct xlogdb_writer;
typedef int (*xlogdb_fill_fn)(struct xlogdb_writer *w, void *arg, struct br_error *err);
int xlogdb_rewrite(const struct server_config *srv, const char *lock_dir, xlogdb_fill_fn fill, void *arg,
                   struct br_error *err);
int xlogdb_writer_add(struct xlogdb_writer *w, const struct xlogdb_entry *entry, struct br_error *err);

/* ---- WAL removal (backup deletion, retention, first-backup purge; src/catalog/walremove.c) ---- */

/* New string: where the archive keeps a WAL file: <wals>/<hash>/<name>, or <wals>/<name> for history files. */
char *catalog_wal_file_path(const struct server_config *srv, const char *name);

/* 1: the xlog.db entry stays; 0: it and its file go. */
typedef int (*catalog_wal_keep_fn)(const struct xlogdb_entry *entry, void *arg);
/* Told each removed name, in xlog.db order, once its file is gone. */
typedef void (*catalog_wal_removed_fn)(const char *name, void *arg);

/*
 * Remove from the archive every xlog.db entry `keep` rejects, crash-safely:
 * under the blocking xlogdb lock (taken here in lock_dir), xlog.db is
 * rewritten without them (durably, through a journal of their names), then
 * their files are unlinked and hash directories left empty removed. A crash
 * never leaves an xlog.db line without its file; at worst files that
 * xlog.db no longer names. Streams: memory does not grow with xlog.db.
 * Returns 0, or -1 with err set (xlog.db then unchanged, or rewritten with
 * some files still to unlink, which catalog_wal_remove_recover() finishes).
 */
int catalog_wal_remove(const struct server_config *srv, const char *lock_dir, catalog_wal_keep_fn keep, void *keep_arg,
                       catalog_wal_removed_fn removed, void *removed_arg, struct br_error *err);
/* Finish (or drop, if it never committed) a removal a crash interrupted. 0 or -1. */
int catalog_wal_remove_recover(const struct server_config *srv, const char *lock_dir, struct br_error *err);

/* ---- backup deletion (src/catalog/delete.c); the steps, in the order a delete runs them ---- */

/*
 * base/<ID>/annotations/delete_this = "delete" (Barman >= 3.12's marker),
 * durably: 0. On a full disk (ENOSPC, EDQUOT) the marker is made empty,
 * which needs no data block: 1, and the caller sets it again once the data
 * is removed. -1 on failure.
 */
int catalog_delete_marker_set(const struct server_config *srv, const char *backup_id, struct br_error *err);
/* 1 when a delete of this backup started and did not finish. */
int catalog_delete_marker_exists(const struct server_config *srv, const char *backup_id);
/* Remove the backup's tablespace directories, then its data directory (missing ones are fine). */
int catalog_backup_delete_data(const struct server_config *srv, const struct backup_info *bi, struct br_error *err);
/* Remove what is left: meta/<ID>-*, then base/<ID> (renamed to a dot name first, durably). */
int catalog_backup_remove(const struct server_config *srv, const char *backup_id, struct br_error *err);
/* Remove the dot directories an interrupted catalog_backup_remove() left. */
int catalog_delete_recover(const struct server_config *srv, struct br_error *err);

/* ---- identity.json ---- */
/* Read systemid and version; returns 0, 1 if the file does not exist, -1 on error. Caller frees. */
int catalog_identity_read(const struct server_config *srv, char **systemid, char **version, struct br_error *err);
int catalog_identity_write(const struct server_config *srv, const char *systemid, const char *version,
                           struct br_error *err);

/* ---- locks ---- */

/*
 * Barman's lock files: <lock_dir>/.<server>-<what>.lock (what = backup,
 * cron, archive-wal, receive-wal, xlogdb, <backup_id>), flock(LOCK_EX
 * [|LOCK_NB]), our pid + "\n" written inside, file mode 0600, never deleted.
 */
struct catalog_lock;
/* NULL with err BR_E_LOCKED when busy (non-blocking) */
struct catalog_lock *catalog_lock_acquire(const char *lock_dir, const char *server, const char *what,
                                          int blocking, struct br_error *err);
/* A global lock, <lock_dir>/.<what>.lock (Barman's .cron.lock, .config-update.lock), same rules. */
struct catalog_lock *catalog_lock_acquire_global(const char *lock_dir, const char *what, int blocking,
                                                 struct br_error *err);
void catalog_lock_release(struct catalog_lock *lock);
/* pid of the holder if the lock is held by another process, 0 if free, -1 on error. */
long catalog_lock_holder(const char *lock_dir, const char *server, const char *what, struct br_error *err);

#endif /* BARREL_CATALOG_H */
