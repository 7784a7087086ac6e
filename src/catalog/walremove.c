/*
 * walremove.c: removing WAL files from the archive (backup deletion,
 * retention, the first-backup purge), crash-safely.
 *
 * Barman 3.4 unlinks each file while it reads xlog.db and rewrites xlog.db
 * at the end, so a crash in between leaves lines naming files that are gone.
 * barrel keeps DESIGN.md's rule instead: a line disappears before its file.
 *
 *   1. under the blocking xlogdb lock, stream xlog.db: kept lines go to
 *      "<xlog.db>.tmp", the names of the others to the journal
 *      "<wals>/.barrel-wal-remove", whose first line records the inode of
 *      "<xlog.db>.tmp"; both are fsynced;
 *   2. "<xlog.db>.tmp" is renamed over xlog.db (the commit), directory fsynced;
 *   3. every file in the journal is unlinked, its hash directory removed
 *      when empty, the directories fsynced;
 *   4. the journal is removed.
 *
 * The journal is committed exactly when xlog.db has the inode it records
 * (the rename happened). catalog_wal_remove_recover(), run before every
 * removal and by cron, finishes a committed journal and drops an
 * uncommitted one. Memory does not grow with xlog.db: everything streams.
 */
#include "barrel/build.h"
#include "barrel/catalog.h"
#include "barrel/fault.h"

#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/fs.h"
#include "barrel/mem.h"
#include "barrel/xlog.h"

#include <errno.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <unistd.h>

#define JOURNAL_NAME ".barrel-wal-remove"
#define JOURNAL_MAGIC "barrel-wal-remove ino="
#define JOURNAL_LINE_MAX 256

static char *
wals_dir(const struct server_config *srv)
{
    if (srv->wals_directory != NULL)
        return br_strdup(srv->wals_directory);
    return path_join(srv->backup_directory, "wals");
}

char *
catalog_wal_file_path(const struct server_config *srv, const char *name)
{
    char *wals = wals_dir(srv);
    char hash[17];
    char *path;

    xlog_hash_dir(name, hash);
    if (hash[0] == '\0') {
        path = path_join(wals, name);
    } else {
        char *dir = path_join(wals, hash);

        path = path_join(dir, name);
        free(dir);
    }
    free(wals);
    return path;
}

/* ---- step 3: the journal's files ---- */

struct unlink_state {
    char *last_dir;          /* hash directory of the previous file, fsynced when we leave it */
};

static int
leave_dir(struct unlink_state *us, struct br_error *err)
{
    int rc = 0;

    if (us->last_dir == NULL)
        return 0;
    /* the directory went when empty (removedirs); otherwise make the unlinks durable */
    if (rmdir(us->last_dir) == 0)
        rc = fs_fsync_parent(us->last_dir, err);
    else if (errno == ENOTEMPTY || errno == EEXIST)
        rc = fs_fsync_path(us->last_dir, 1, err);
    else if (errno != ENOENT)
        rc = br_error_sys(err, BR_E_IO, "could not remove directory \"%s\"", us->last_dir);
    free(us->last_dir);
    us->last_dir = NULL;
    return rc;
}

static int
unlink_wal(const struct server_config *srv, struct unlink_state *us, const char *name, struct br_error *err)
{
    char *path = catalog_wal_file_path(srv, name);
    char *dir = path_dirname(path);
    int rc = 0;

    if (us->last_dir != NULL && strcmp(us->last_dir, dir) != 0 && leave_dir(us, err) != 0) {
        rc = -1;
        goto out;
    }
    fault_point("walremove.unlink");
    if (unlink(path) != 0 && errno != ENOENT) {
        rc = br_error_sys(err, BR_E_IO, "could not remove file \"%s\"", path);
        goto out;
    }
    if (us->last_dir == NULL) {
        us->last_dir = dir;
        dir = NULL;
    }
out:
    free(dir);
    free(path);
    return rc;
}

/* Read the journal's inode header; 0 or -1 (unreadable or not a journal). */
static int
journal_header(FILE *fp, uint64_t *ino)
{
    char line[JOURNAL_LINE_MAX];
    char *end;

    if (fgets(line, sizeof(line), fp) == NULL || strncmp(line, JOURNAL_MAGIC, strlen(JOURNAL_MAGIC)) != 0)
        return -1;
    errno = 0;
    *ino = strtoull(line + strlen(JOURNAL_MAGIC), &end, 10);
    if (errno != 0 || *end != '\n')
        return -1;
    return 0;
}

/*
 * Steps 3 and 4 for a journal whose commit is known (or checked here):
 * unlink its files, then the journal. cb (may be NULL) sees each name.
 */
static int
journal_finish(const struct server_config *srv, const char *journal, catalog_wal_removed_fn cb, void *cb_arg,
               struct br_error *err)
{
    struct unlink_state us = {NULL};
    char line[JOURNAL_LINE_MAX];
    FILE *fp = fopen(journal, "re");
    char *xlogdb = NULL;
    struct stat st;
    uint64_t ino;
    int rc = -1, committed;

    if (fp == NULL) {
        if (errno == ENOENT)
            return 0;
        return br_error_sys(err, BR_E_IO, "could not open file \"%s\"", journal);
    }
    xlogdb = xlogdb_path(srv);
    committed = journal_header(fp, &ino) == 0 && stat(xlogdb, &st) == 0 && (uint64_t) st.st_ino == ino;
    while (committed && fgets(line, sizeof(line), fp) != NULL) {
        size_t len = strcspn(line, "\n");
        struct xlog_name xn;

        line[len] = '\0';
        /* never a history file, never anything that is not a WAL-archive name */
        if (xlog_name_parse(line, &xn) == XLOG_KIND_NONE || xn.kind == XLOG_KIND_HISTORY)
            continue;
        if (unlink_wal(srv, &us, line, err) != 0)
            goto out;
        if (cb != NULL)
            cb(line, cb_arg);
    }
    if (committed && ferror(fp)) {
        br_error_sys(err, BR_E_IO, "could not read file \"%s\"", journal);
        goto out;
    }
    if (leave_dir(&us, err) != 0)
        goto out;
    if (unlink(journal) != 0 && errno != ENOENT) {
        br_error_sys(err, BR_E_IO, "could not remove file \"%s\"", journal);
        goto out;
    }
    if (fs_fsync_parent(journal, err) != 0)
        goto out;
    rc = 0;
out:
    free(us.last_dir);
    free(xlogdb);
    fclose(fp);
    return rc;
}

/* ---- step 1: the rewrite ---- */

struct rewrite_state {
    const struct server_config *srv;
    catalog_wal_keep_fn keep;
    void *keep_arg;
    struct xlogdb_writer *w;
    FILE *journal;
    const char *journal_path;
    struct br_error *err;
    int failed;
    size_t removed;
};

static int
rewrite_line(const struct xlogdb_entry *entry, void *arg)
{
    struct rewrite_state *rs = arg;

    if (rs->keep(entry, rs->keep_arg)) {
        if (xlogdb_writer_add(rs->w, entry, rs->err) != 0) {
            rs->failed = 1;
            return -1;
        }
        return 0;
    }
    if (fprintf(rs->journal, "%s\n", entry->name) < 0) {
        br_error_sys(rs->err, BR_E_IO, "could not write file \"%s\"", rs->journal_path);
        rs->failed = 1;
        return -1;
    }
    rs->removed++;
    return 0;
}

static int
rewrite_fill(struct xlogdb_writer *w, void *arg, struct br_error *err)
{
    struct rewrite_state *rs = arg;
    char *xlogdb = xlogdb_path(rs->srv);
    char *tmp = br_asprintf("%s.tmp", xlogdb);
    struct stat st;
    int rc = -1;

    rs->w = w;
    rs->err = err;
    /* the journal names the new xlog.db by its inode: committed exactly when the rename happened */
    if (stat(tmp, &st) != 0) {
        br_error_sys(err, BR_E_IO, "could not stat file \"%s\"", tmp);
        goto out;
    }
    rs->journal = fs_fopen_private(rs->journal_path);
    if (rs->journal == NULL) {
        br_error_sys(err, BR_E_IO, "could not create file \"%s\"", rs->journal_path);
        goto out;
    }
    if (fprintf(rs->journal, JOURNAL_MAGIC "%" PRIu64 "\n", (uint64_t) st.st_ino) < 0) {
        br_error_sys(err, BR_E_IO, "could not write file \"%s\"", rs->journal_path);
        goto out;
    }
    if (xlogdb_foreach(rs->srv, NULL, rewrite_line, rs, err) != 0)
        goto out;
    fault_point("walremove.journal.fsync");
    if (fflush(rs->journal) != 0 || fsync(fileno(rs->journal)) != 0) {
        br_error_sys(err, BR_E_IO, "could not fsync file \"%s\"", rs->journal_path);
        goto out;
    }
    if (fs_fsync_parent(rs->journal_path, err) != 0)
        goto out;
    rc = 0;
out:
    free(tmp);
    free(xlogdb);
    return rc;
}

int
catalog_wal_remove(const struct server_config *srv, const char *lock_dir, catalog_wal_keep_fn keep, void *keep_arg,
                   catalog_wal_removed_fn removed, void *removed_arg, struct br_error *err)
{
    struct rewrite_state rs = {0};
    struct catalog_lock *lock;
    char *wals = wals_dir(srv);
    char *journal = path_join(wals, JOURNAL_NAME);
    int rc = -1;

    lock = catalog_lock_acquire(lock_dir, srv->name, "xlogdb", 1, err);
    if (lock == NULL)
        goto out;
    /* a removal interrupted earlier is finished (or dropped) first */
    if (journal_finish(srv, journal, NULL, NULL, err) != 0)
        goto out;

    rs.srv = srv;
    rs.keep = keep;
    rs.keep_arg = keep_arg;
    rs.journal_path = journal;
    if (xlogdb_rewrite(srv, NULL, rewrite_fill, &rs, err) != 0) {
        if (rs.journal != NULL)
            fclose(rs.journal);
        rs.journal = NULL;
        /* not committed: the journal names files still in xlog.db; it must not survive */
        unlink(journal);
        goto out;
    }
    fclose(rs.journal);
    rs.journal = NULL;
    if (journal_finish(srv, journal, removed, removed_arg, err) != 0)
        goto out;
    rc = 0;
out:
    catalog_lock_release(lock);
    free(journal);
    free(wals);
    return rc;
}

int
catalog_wal_remove_recover(const struct server_config *srv, const char *lock_dir, struct br_error *err)
{
    char *wals = wals_dir(srv);
    char *journal = path_join(wals, JOURNAL_NAME);
    struct catalog_lock *lock = NULL;
    int rc = 0;

    if (path_exists(journal)) {
        lock = catalog_lock_acquire(lock_dir, srv->name, "xlogdb", 1, err);
        rc = lock == NULL ? -1 : journal_finish(srv, journal, NULL, NULL, err);
    }
    catalog_lock_release(lock);
    free(journal);
    free(wals);
    return rc;
}
