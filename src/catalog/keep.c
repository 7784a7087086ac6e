/*
 * keep.c: the keep annotation that exempts a backup from retention.
 *
 * Barman 3.4 stores it as base/<ID>/annotations/keep holding exactly "full"
 * or "standalone" (no newline) and removes annotations/ when the last
 * annotation goes; any content other than "standalone" means full.
 * Barman >= 3.13.3 keeps it as <backup_directory>/meta/<ID>-keep instead.
 * We read both (meta/ first), write the 3.4 location, update a meta/ copy
 * when one exists so the two never disagree, and release both.
 */
#include "barrel/build.h"
#include "barrel/catalog.h"

#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/fs.h"
#include "barrel/mem.h"

#include <errno.h>
#include <unistd.h>

#define KEEP_MAX_BYTES 4096

static char *
keep_annotations_dir(const struct server_config *srv, const char *backup_id)
{
    char *dir = catalog_backup_dir(srv, backup_id);
    char *ann = path_join(dir, "annotations");

    free(dir);
    return ann;
}

static char *
keep_meta_path(const struct server_config *srv, const char *backup_id)
{
    char *meta = path_join(srv->backup_directory, "meta");
    char *name = br_asprintf("%s-keep", backup_id);
    char *path = path_join(meta, name);

    free(meta);
    free(name);
    return path;
}

/* "full"/"standalone" from a file, or NULL when it does not exist or cannot be read. */
static char *
keep_read(const char *path)
{
    struct br_error err;
    char *text = fs_read_file(path, KEEP_MAX_BYTES, NULL, &err);
    char *target;

    if (text == NULL)
        return NULL;
    target = br_strdup(strcmp(text, "standalone") == 0 ? "standalone" : "full");
    free(text);
    return target;
}

char *
catalog_keep_get(const struct server_config *srv, const char *backup_id)
{
    char *meta = keep_meta_path(srv, backup_id);
    char *target = keep_read(meta);

    free(meta);
    if (target == NULL) {
        char *ann = keep_annotations_dir(srv, backup_id);
        char *path = path_join(ann, "keep");

        target = keep_read(path);
        free(path);
        free(ann);
    }
    return target;
}

int
catalog_keep_set(const struct server_config *srv, const char *backup_id, const char *target,
                 struct br_error *err)
{
    char *ann = NULL, *path = NULL, *meta = NULL;
    int rc = -1;

    if (strcmp(target, "full") != 0 && strcmp(target, "standalone") != 0)
        return br_error_set(err, BR_E_USAGE, "invalid keep target \"%s\": expected full or standalone", target);
    ann = keep_annotations_dir(srv, backup_id);
    path = path_join(ann, "keep");
    meta = keep_meta_path(srv, backup_id);
    if (fs_mkdir_p(ann, 0700, err) < 0)
        goto out;
    /* the new directory entry of annotations/ must survive a crash too */
    if (fs_fsync_parent(ann, err) < 0)
        goto out;
    if (fs_write_file_durable(path, target, strlen(target), 0600, err) < 0)
        goto out;
    if (path_exists(meta) && fs_write_file_durable(meta, target, strlen(target), 0600, err) < 0)
        goto out;
    rc = 0;
out:
    free(ann);
    free(path);
    free(meta);
    return rc;
}

/* unlink a file and make the removal durable; a missing file is fine. */
static int
keep_unlink(const char *path, struct br_error *err)
{
    if (unlink(path) != 0) {
        if (errno == ENOENT)
            return 0;
        return br_error_sys(err, BR_E_IO, "could not remove file \"%s\"", path);
    }
    return fs_fsync_parent(path, err);
}

int
catalog_keep_release(const struct server_config *srv, const char *backup_id, struct br_error *err)
{
    char *ann = keep_annotations_dir(srv, backup_id);
    char *path = path_join(ann, "keep");
    char *meta = keep_meta_path(srv, backup_id);
    int rc = -1;

    if (keep_unlink(path, err) < 0 || keep_unlink(meta, err) < 0)
        goto out;
    /* as Barman: annotations/ goes when its last annotation does; other annotations keep it */
    if (rmdir(ann) == 0) {
        if (fs_fsync_parent(ann, err) < 0)
            goto out;
    } else if (errno != ENOENT && errno != ENOTEMPTY && errno != EEXIST) {
        br_error_sys(err, BR_E_IO, "could not remove directory \"%s\"", ann);
        goto out;
    }
    rc = 0;
out:
    free(ann);
    free(path);
    free(meta);
    return rc;
}
