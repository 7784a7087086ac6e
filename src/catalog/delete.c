/*
 * delete.c: the catalog side of deleting a backup (Barman 3.4's
 * delete_backup_data() and delete_basebackup()), in steps that a crash can
 * interrupt anywhere:
 *
 *   1. the delete marker base/<ID>/annotations/delete_this ("delete"), as
 *      Barman >= 3.12 writes it: the backup is going, whatever happens next;
 *   2. the data: each tablespace directory, then data/ (or pgdata/);
 *   3. (the caller removes the WAL, catalog_wal_remove());
 *   4. meta/<ID>-* (Barman >= 3.13 layouts), then base/<ID> is renamed to
 *      base/.barrel-deleting-<ID> (durably: from here the backup is gone
 *      for every reader) and that directory removed.
 *
 * A crash before 4 leaves backup.info and the marker: the next delete or
 * cron of barrel (or Barman >= 3.12) finishes the job. A crash during 4
 * leaves a dot directory that no reader lists; catalog_delete_recover()
 * removes it.
 */
#include "barrel/build.h"
#include "barrel/catalog.h"
#include "barrel/fault.h"

#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/fs.h"
#include "barrel/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <unistd.h>

#define DELETE_MARKER "delete_this"
#define DELETE_MARKER_TEXT "delete"
#define DELETING_PREFIX ".barrel-deleting-"

static char *
marker_path(const struct server_config *srv, const char *backup_id)
{
    char *dir = catalog_backup_dir(srv, backup_id);
    char *path = br_asprintf("%s/annotations/%s", dir, DELETE_MARKER);

    free(dir);
    return path;
}

static char *
base_dir(const struct server_config *srv)
{
    if (srv->basebackups_directory != NULL)
        return br_strdup(srv->basebackups_directory);
    return path_join(srv->backup_directory, "base");
}

/* The marker without its text: a new empty file needs no data block, so it can be made on a full disk. */
static int
marker_create_empty(const char *path, struct br_error *err)
{
    int fd;

    fault_point("delete.marker.empty");
    fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return br_error_sys(err, BR_E_IO, "could not create file \"%s\"", path);
    if (fsync(fd) != 0) {
        br_error_sys(err, BR_E_IO, "could not fsync file \"%s\"", path);
        close(fd);
        return -1;
    }
    close(fd);
    return fs_fsync_parent(path, err);
}

int
catalog_delete_marker_set(const struct server_config *srv, const char *backup_id, struct br_error *err)
{
    char *path = marker_path(srv, backup_id);
    char *ann = path_dirname(path);
    int rc = -1;

    if (fs_mkdir_p(ann, 0700, err) != 0 || fs_fsync_parent(ann, err) != 0)
        goto out;
    rc = fs_write_file_durable(path, DELETE_MARKER_TEXT, strlen(DELETE_MARKER_TEXT), 0600, err);
    /*
     * A full disk is when backups get deleted: the marker then goes in
     * empty (barrel only needs it to exist); the caller writes its text
     * once the data is gone and space is back.
     */
    if (rc != 0 && (err->sys_errno == ENOSPC || err->sys_errno == EDQUOT)) {
        struct br_error first = *err;

        br_error_clear(err);
        rc = marker_create_empty(path, err) == 0 ? 1 : -1;
        if (rc < 0)
            *err = first;
    }
out:
    free(ann);
    free(path);
    return rc;
}

int
catalog_delete_marker_exists(const struct server_config *srv, const char *backup_id)
{
    char *path = marker_path(srv, backup_id);
    int exists = path_exists(path);

    free(path);
    return exists;
}

/* rm -rf, then make the removal durable in the parent. */
static int
remove_tree_durable(const char *path, struct br_error *err)
{
    if (!path_exists(path))
        return 0;
    if (fs_remove_tree(path, err) != 0)
        return -1;
    return fs_fsync_parent(path, err);
}

int
catalog_backup_delete_data(const struct server_config *srv, const struct backup_info *bi, struct br_error *err)
{
    char *dir = catalog_backup_dir(srv, bi->backup_id);
    char *data = path_join(dir, "data");
    char *tbs_dir = NULL;
    int rc = -1;

    /* Barman's backup_version: 2 (tablespaces beside data/) unless only the old pgdata/ layout is there */
    if (!path_is_dir(data)) {
        char *pgdata = path_join(dir, "pgdata");

        if (path_is_dir(pgdata)) {
            free(data);
            data = pgdata;
            tbs_dir = path_join(data, "pg_tblspc");
        } else {
            free(pgdata);
        }
    }
    if (tbs_dir == NULL)
        tbs_dir = br_strdup(dir);
    for (size_t i = 0; bi->tablespaces_set && i < bi->n_tablespaces; i++) {
        char oid[16];
        char *path;

        snprintf(oid, sizeof(oid), "%" PRIu32, bi->tablespaces[i].oid);
        path = path_join(tbs_dir, oid);
        rc = remove_tree_durable(path, err);
        free(path);
        if (rc != 0)
            goto out;
    }
    rc = remove_tree_durable(data, err);
out:
    free(tbs_dir);
    free(data);
    free(dir);
    return rc;
}

/* unlink meta/<ID>-<suffix> when it exists, durably */
static int
remove_meta(const struct server_config *srv, const char *backup_id, const char *suffix, struct br_error *err)
{
    char *path = br_asprintf("%s/meta/%s-%s", srv->backup_directory, backup_id, suffix);
    int rc = 0;

    if (unlink(path) == 0)
        rc = fs_fsync_parent(path, err);
    else if (errno != ENOENT)
        rc = br_error_sys(err, BR_E_IO, "could not remove file \"%s\"", path);
    free(path);
    return rc;
}

int
catalog_backup_remove(const struct server_config *srv, const char *backup_id, struct br_error *err)
{
    char *dir = catalog_backup_dir(srv, backup_id);
    char *base = base_dir(srv);
    char *name = br_asprintf("%s%s", DELETING_PREFIX, backup_id);
    char *gone = path_join(base, name);
    int rc = -1;

    if (remove_meta(srv, backup_id, "backup.info", err) != 0 || remove_meta(srv, backup_id, "keep", err) != 0)
        goto out;
    if (path_exists(dir)) {
        /* a leftover of an earlier crash with the same name goes first */
        if (fs_remove_tree(gone, err) != 0)
            goto out;
        fault_point("delete.rename");
        if (rename(dir, gone) != 0) {
            br_error_sys(err, BR_E_IO, "could not rename \"%s\" to \"%s\"", dir, gone);
            goto out;
        }
        if (fs_fsync_path(base, 1, err) != 0)
            goto out;
    }
    rc = remove_tree_durable(gone, err);
out:
    free(gone);
    free(name);
    free(base);
    free(dir);
    return rc;
}

int
catalog_delete_recover(const struct server_config *srv, struct br_error *err)
{
    char *base = base_dir(srv);
    DIR *d = opendir(base);
    struct dirent *de;
    int rc = 0;

    if (d == NULL) {
        if (errno != ENOENT)
            rc = br_error_sys(err, BR_E_IO, "could not open directory \"%s\"", base);
        free(base);
        return rc;
    }
    while (rc == 0 && (de = readdir(d)) != NULL) {
        char *path;

        if (strncmp(de->d_name, DELETING_PREFIX, strlen(DELETING_PREFIX)) != 0)
            continue;
        path = path_join(base, de->d_name);
        rc = remove_tree_durable(path, err);
        free(path);
    }
    closedir(d);
    free(base);
    return rc;
}
