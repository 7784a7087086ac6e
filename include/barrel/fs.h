/*
 * fs.h: paths and durable file operations.
 *
 * Every catalog write goes through these: write to a temporary name in the
 * same directory, fsync it, rename it over the target, fsync the directory
 * (PostgreSQL's durable_rename()). Directories barrel creates are 0700 and
 * files 0600 unless the caller says otherwise.
 */
#ifndef BARREL_FS_H
#define BARREL_FS_H

#include "barrel/build.h"
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

struct br_error;

/* Join two path parts with one '/': returns a new string. */
char *path_join(const char *a, const char *b);
/* New string: the directory part ("." when none) / the last component. */
char *path_dirname(const char *path);
const char *path_basename(const char *path);   /* points into path */

int path_exists(const char *path);             /* lstat succeeds */
int path_is_dir(const char *path);             /* stat: a directory */
int path_is_file(const char *path);            /* stat: a regular file */

/* mkdir -p with `mode` for each directory created; existing ones are fine. */
int fs_mkdir_p(const char *path, mode_t mode, struct br_error *err);

/* fsync a file or directory by path. */
int fs_fsync_path(const char *path, int is_dir, struct br_error *err);
/* fsync the directory that contains path. */
int fs_fsync_parent(const char *path, struct br_error *err);

/* rename + fsync of the file and of both parent directories. */
int fs_durable_rename(const char *oldpath, const char *newpath, struct br_error *err);

/*
 * Write buf to path atomically and durably: "<path>.tmp" is written and
 * fsynced, renamed over path, and the directory fsynced. On failure the
 * temporary file is removed and path is untouched.
 */
int fs_write_file_durable(const char *path, const void *buf, size_t len, mode_t mode,
                          struct br_error *err);
/*
 * The same for a file that two processes may write at once without holding
 * a lock (identity.json, written before the backup lock as Barman does): the
 * temporary file is "<path>.<pid>.tmp", so each rename publishes a whole file.
 */
int fs_write_file_durable_shared(const char *path, const void *buf, size_t len, mode_t mode,
                                 struct br_error *err);

/*
 * fopen(path, "we") for a catalog file: created with mode 0600 whatever the
 * umask (Barman's catalog is the barman user's alone). NULL with errno set.
 */
FILE *fs_fopen_private(const char *path);

/* Read a whole small file (config, backup.info) into a new NUL-terminated string. */
char *fs_read_file(const char *path, size_t max_bytes, size_t *len_out, struct br_error *err);

/* rm -rf; missing path is fine. */
int fs_remove_tree(const char *path, struct br_error *err);

#endif /* BARREL_FS_H */
