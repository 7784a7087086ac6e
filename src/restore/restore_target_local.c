/*
 * restore_target_local.c: the local filesystem as a restore target.
 *
 * Thin wrappers over POSIX calls and the core helpers (fs.h); the sink is
 * the secure extractor (stage_extract_new: libarchive's disk writer with
 * SECURE_SYMLINKS and SECURE_NODOTDOT, one syncfs at finish).
 */
#include "barrel/build.h"
#include "barrel/restore_target.h"
#include "barrel/fault.h"

#include "barrel/error.h"
#include "barrel/fs.h"
#include "barrel/manifest.h"
#include "barrel/mem.h"
#include "barrel/stage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define LOCAL_READ_BLOCK (256 * 1024)

static int
local_stat(struct restore_target *t, const char *path, struct restore_stat *out, struct br_error *err)
{
    struct stat st;

    (void) t;
    memset(out, 0, sizeof(*out));
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            out->type = RT_MISSING;
            return 0;
        }
        return br_error_sys(err, BR_E_IO, "could not stat \"%s\"", path);
    }
    out->type = S_ISREG(st.st_mode) ? RT_FILE : S_ISDIR(st.st_mode) ? RT_DIR : S_ISLNK(st.st_mode) ? RT_LINK : RT_OTHER;
    out->size = (int64_t) st.st_size;
    out->mode = (unsigned) (st.st_mode & 07777);
    return 0;
}

static int
local_mkdir_p(struct restore_target *t, const char *path, mode_t mode, struct br_error *err)
{
    (void) t;
    return fs_mkdir_p(path, mode, err);
}

static int
local_symlink(struct restore_target *t, const char *target, const char *linkpath, struct br_error *err)
{
    (void) t;
    if (symlink(target, linkpath) != 0)
        return br_error_sys(err, BR_E_IO, "could not create symbolic link \"%s\" -> \"%s\"", linkpath, target);
    return 0;
}

static int
local_remove(struct restore_target *t, const char *path, struct br_error *err)
{
    struct stat st;

    (void) t;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : br_error_sys(err, BR_E_IO, "could not stat \"%s\"", path);
    if (!S_ISDIR(st.st_mode)) {
        if (unlink(path) != 0 && errno != ENOENT)
            return br_error_sys(err, BR_E_IO, "could not remove \"%s\"", path);
        return 0;
    }
    return fs_remove_tree(path, err);
}

static int
local_rename(struct restore_target *t, const char *from, const char *to, struct br_error *err)
{
    (void) t;
    fault_point("restore.rename");
    if (rename(from, to) != 0)
        return br_error_sys(err, BR_E_IO, "could not rename \"%s\" to \"%s\"", from, to);
    return 0;
}

static int
local_write_file(struct restore_target *t, const char *path, const void *data, size_t len, mode_t mode,
                 struct br_error *err)
{
    (void) t;
    return fs_write_file_durable(path, data, len, mode, err);
}

static char *
local_read_file(struct restore_target *t, const char *path, size_t max_bytes, size_t *len_out, struct br_error *err)
{
    (void) t;
    if (!path_exists(path)) {
        br_error_set(err, BR_E_NOT_FOUND, "file \"%s\" does not exist", path);
        return NULL;
    }
    return fs_read_file(path, max_bytes, len_out, err);
}

static int
name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

static int
local_list_dir(struct restore_target *t, const char *path, restore_dir_fn cb, void *arg, struct br_error *err)
{
    DIR *d;
    struct dirent *de;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;

    (void) t;
    d = opendir(path);
    if (d == NULL)
        return br_error_sys(err, BR_E_IO, "could not open directory \"%s\"", path);
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            names = br_realloc(names, cap * sizeof(*names));
        }
        names[n++] = br_strdup(de->d_name);
    }
    closedir(d);
    if (n > 0)
        qsort(names, n, sizeof(*names), name_cmp);
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *full = path_join(path, names[i]);
        struct restore_stat st;

        rc = local_stat(t, full, &st, err);
        if (rc == 0 && st.type != RT_MISSING)
            rc = cb(arg, names[i], st.type, err);
        free(full);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

static int
local_free_space(struct restore_target *t, const char *path, int64_t *avail_bytes, uint64_t *fs_id,
                 struct br_error *err)
{
    char *p = br_strdup(path);
    struct statvfs vfs;
    struct stat st;
    int rc = 0;

    (void) t;
    /* the nearest existing parent */
    while (lstat(p, &st) != 0) {
        char *parent = path_dirname(p);
        if (strcmp(parent, p) == 0) {
            free(parent);
            free(p);
            return 1;
        }
        free(p);
        p = parent;
    }
    if (statvfs(p, &vfs) != 0)
        rc = br_error_sys(err, BR_E_IO, "could not read the free space of \"%s\"", p);
    else {
        *avail_bytes = (int64_t) vfs.f_bavail * (int64_t) vfs.f_frsize;
        *fs_id = (uint64_t) st.st_dev;
    }
    free(p);
    return rc;
}

static int
local_file_matches(struct restore_target *t, const char *path, const struct manifest_file *entry, int *match,
                   struct br_error *err)
{
    struct manifest_hasher *h;
    unsigned char *buf;
    struct stat st;
    char hex[2 * MANIFEST_MAX_CHECKSUM + 1];
    int fd, rc = 0;

    (void) t;
    *match = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return br_error_sys(err, BR_E_IO, "could not open file \"%s\"", path);
    if (fstat(fd, &st) != 0) {
        close(fd);
        return br_error_sys(err, BR_E_IO, "could not stat file \"%s\"", path);
    }
    if (!S_ISREG(st.st_mode) || (int64_t) st.st_size != entry->size) {
        close(fd);
        return 0;
    }
    h = manifest_hasher_new(entry->algorithm);
    buf = br_malloc(LOCAL_READ_BLOCK);
    for (;;) {
        ssize_t n = read(fd, buf, LOCAL_READ_BLOCK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = br_error_sys(err, BR_E_IO, "could not read file \"%s\"", path);
            break;
        }
        if (n == 0)
            break;
        manifest_hasher_update(h, buf, (size_t) n);
    }
    if (rc == 0)
        *match = manifest_hasher_matches(h, entry, hex, sizeof(hex));
    manifest_hasher_free(h);
    free(buf);
    close(fd);
    return rc;
}

static int
local_server_running(struct restore_target *t, const char *pid_path, int *unknown, struct br_error *err)
{
    char *text;
    long pid;

    (void) t;
    *unknown = 0;
    if (!path_exists(pid_path))
        return 0;
    text = fs_read_file(pid_path, 4096, NULL, err);
    if (text == NULL)
        return -1;
    pid = strtol(text, NULL, 10);
    free(text);
    if (pid <= 0) {
        *unknown = 1;
        return 0;
    }
    /* EPERM: alive, owned by another user (the postgres user) */
    return kill((pid_t) pid, 0) == 0 || errno == EPERM ? 1 : 0;
}

static struct stage *
local_sink_new(struct restore_target *t, const char *root, struct br_error *err)
{
    (void) t;
    return stage_extract_new(root, NULL, err);
}

static void
local_free(struct restore_target *t)
{
    free(t);
}

static const struct restore_target_ops local_ops = {
    local_stat, local_mkdir_p, local_symlink, local_remove, local_rename, local_write_file, local_read_file,
    local_list_dir, local_free_space, local_file_matches, local_server_running, local_sink_new, local_free,
};

struct restore_target *
restore_target_local_new(void)
{
    struct restore_target *t = br_calloc(1, sizeof(*t));

    t->ops = &local_ops;
    t->kind = "local";
    return t;
}

void
restore_target_free(struct restore_target *t)
{
    if (t != NULL)
        t->ops->free(t);
}
