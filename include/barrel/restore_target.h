/*
 * restore_target.h: where `barrel recover` writes, as an interface.
 *
 * The recover recipe (src/restore/) never calls open(2), mkdir(2) or
 * libarchive's disk writer itself: every write to the destination host
 * goes through a `struct restore_target`. barrel ships the local
 * implementation (restore_target_local_new); the SSH transport
 * (src/remote/, libssh2 + SFTP) implements the same operations for a
 * remote host and the recipe does not change.
 *
 * Contract for implementers (paths are absolute paths on the target host):
 * - every operation returns 0 or -1 with err set (a pointer or NULL for
 *   read_file and sink_new), and names the path in its message;
 * - sink_new() may be called from several worker threads at once, one
 *   sink per thread (`--jobs`): each sink must be independent (for SFTP,
 *   its own channel); the other operations are called from the main
 *   thread only;
 * - a sink receives member chunks (stage.h: MEMBER_HEADER, MEMBER_DATA...,
 *   MEMBER_END, ARCHIVE_END) whose paths are relative to `root`, already
 *   checked by the recipe (no absolute path, no "..", nothing through a
 *   symlink member), and writes regular files, directories and symlinks
 *   with the member's mode and mtime; an existing file at a member's path
 *   is replaced. It must still refuse to write through a symlink that
 *   already exists on the target (libarchive's SECURE_SYMLINKS, or
 *   SFTP lstat of each new parent). Its finish makes everything it wrote
 *   durable (fsync, syncfs, or the remote equivalent);
 * - write_file() is atomic and durable (temporary name, fsync, rename).
 */
#ifndef BARREL_RESTORE_TARGET_H
#define BARREL_RESTORE_TARGET_H

#include "barrel/build.h"
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct br_error;
struct stage;
struct manifest_file;
struct restore_target;

enum restore_ftype { RT_MISSING = 0, RT_FILE = 'f', RT_DIR = 'd', RT_LINK = 'l', RT_OTHER = '?' };

struct restore_stat {
    enum restore_ftype type;   /* lstat(2): a symlink is RT_LINK, never followed */
    int64_t size;
    unsigned mode;             /* permission bits */
};

/* One directory entry ("." and ".." are never passed); return non-zero to stop (passed back). */
typedef int (*restore_dir_fn)(void *arg, const char *name, enum restore_ftype type, struct br_error *err);

struct restore_target_ops {
    /* lstat; a missing path is not an error (type RT_MISSING) */
    int (*stat)(struct restore_target *t, const char *path, struct restore_stat *st, struct br_error *err);
    /* mkdir -p, `mode` for each directory created */
    int (*mkdir_p)(struct restore_target *t, const char *path, mode_t mode, struct br_error *err);
    /* ln -s target linkpath (linkpath must not exist) */
    int (*symlink)(struct restore_target *t, const char *target, const char *linkpath, struct br_error *err);
    /* rm -rf without following symlinks; a missing path is fine */
    int (*remove)(struct restore_target *t, const char *path, struct br_error *err);
    int (*rename)(struct restore_target *t, const char *from, const char *to, struct br_error *err);
    /* a small file, atomically and durably */
    int (*write_file)(struct restore_target *t, const char *path, const void *data, size_t len, mode_t mode,
                      struct br_error *err);
    /* a small file into a new NUL-terminated buffer; NULL with BR_E_NOT_FOUND when missing */
    char *(*read_file)(struct restore_target *t, const char *path, size_t max_bytes, size_t *len_out,
                       struct br_error *err);
    /* the entries of a directory, sorted by name */
    int (*list_dir)(struct restore_target *t, const char *path, restore_dir_fn cb, void *arg, struct br_error *err);
    /*
     * Free bytes for an unprivileged writer on the filesystem holding path
     * (or its nearest existing parent) and an identifier of that
     * filesystem; 1 when the target cannot tell.
     */
    int (*free_space)(struct restore_target *t, const char *path, int64_t *avail_bytes, uint64_t *fs_id,
                      struct br_error *err);
    /* --delta: *match = 1 when the file has the entry's size and checksum */
    int (*file_matches)(struct restore_target *t, const char *path, const struct manifest_file *entry, int *match,
                        struct br_error *err);
    /* 1 when postmaster.pid at path names a running process, 0 when not (or it cannot tell: 0 with *unknown = 1) */
    int (*server_running)(struct restore_target *t, const char *pid_path, int *unknown, struct br_error *err);
    /* A sink of member chunks writing under root (see the contract above). */
    struct stage *(*sink_new)(struct restore_target *t, const char *root, struct br_error *err);
    void (*free)(struct restore_target *t);
};

struct restore_target {
    const struct restore_target_ops *ops;
    const char *kind;          /* "local", "ssh" ... for messages */
    int is_remote;
};

/* The local filesystem. Never fails. */
struct restore_target *restore_target_local_new(void);
/* NULL is a no-op. */
void restore_target_free(struct restore_target *t);

#endif /* BARREL_RESTORE_TARGET_H */
