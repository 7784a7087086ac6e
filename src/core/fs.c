/*
 * fs.c: paths and durable file operations.
 *
 * The durability recipe is PostgreSQL's durable_rename(): the data reaches
 * disk under a temporary name, the rename is atomic, and the directory
 * entry is made durable by an fsync of the directory. A crash at any point
 * leaves either the old file or the new one, never a torn one.
 */
#include "barrel/build.h"
#include "barrel/fs.h"
#include "barrel/fault.h"
#include "barrel/error.h"
#include "barrel/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

char *
path_join(const char *a, const char *b)
{
    size_t la = strlen(a);

    if (la > 0 && a[la - 1] == '/')
        return br_asprintf("%s%s", a, b[0] == '/' ? b + 1 : b);
    return br_asprintf("%s/%s", a, b[0] == '/' ? b + 1 : b);
}

char *
path_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL)
        return br_strdup(".");
    if (slash == path)
        return br_strdup("/");
    return br_strndup(path, (size_t) (slash - path));
}

const char *
path_basename(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

int
path_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

int
path_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int
path_is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int
fs_mkdir_p(const char *path, mode_t mode, struct br_error *err)
{
    char *copy = br_strdup(path);
    int rc = 0;

    /* Walk the components left to right; EEXIST on a directory is fine. */
    for (char *p = copy + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(copy, mode) != 0 && errno != EEXIST) {
                rc = br_error_sys(err, BR_E_IO, "could not create directory \"%s\"", copy);
                break;
            }
            *p = saved;
            if (saved == '\0')
                break;
        }
    }
    if (rc == 0 && !path_is_dir(path))
        rc = br_error_set(err, BR_E_IO, "could not create directory \"%s\": a file of that name exists", path);
    free(copy);
    return rc;
}

int
fs_fsync_path(const char *path, int is_dir, struct br_error *err)
{
    int fd = open(path, (is_dir ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);

    if (fd < 0)
        return br_error_sys(err, BR_E_IO, "could not open \"%s\" to fsync it", path);
    fault_point("fs.fsync");
    if (fsync(fd) != 0) {
        int rc = br_error_sys(err, BR_E_IO, "could not fsync \"%s\"", path);
        close(fd);
        return rc;
    }
    close(fd);
    return 0;
}

int
fs_fsync_parent(const char *path, struct br_error *err)
{
    char *dir = path_dirname(path);
    int rc = fs_fsync_path(dir, 1, err);
    free(dir);
    return rc;
}

int
fs_durable_rename(const char *oldpath, const char *newpath, struct br_error *err)
{
    if (fs_fsync_path(oldpath, 0, err) != 0)
        return -1;
    fault_point("fs.durable_rename");
    if (rename(oldpath, newpath) != 0)
        return br_error_sys(err, BR_E_IO, "could not rename \"%s\" to \"%s\"", oldpath, newpath);
    if (fs_fsync_parent(newpath, err) != 0)
        return -1;
    /* A rename across directories changes two directory entries. */
    char *d1 = path_dirname(oldpath), *d2 = path_dirname(newpath);
    int rc = 0;
    if (strcmp(d1, d2) != 0)
        rc = fs_fsync_path(d1, 1, err);
    free(d1);
    free(d2);
    return rc;
}

static int
write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        fault_point("fs.write");
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t) n;
    }
    return 0;
}

/* Write buf to tmp, fsync, rename over path, fsync the directory; tmp is freed. */
static int
write_durable_via(const char *path, char *tmp, const void *buf, size_t len, mode_t mode, struct br_error *err)
{
    int fd = -1, rc = -1;

    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        br_error_sys(err, BR_E_IO, "could not create file \"%s\"", tmp);
        goto out;
    }
    if (write_all(fd, buf, len) != 0) {
        br_error_sys(err, BR_E_IO, "could not write file \"%s\"", tmp);
        goto out;
    }
    fault_point("fs.write_file.fsync");
    if (fsync(fd) != 0) {
        br_error_sys(err, BR_E_IO, "could not fsync file \"%s\"", tmp);
        goto out;
    }
    if (close(fd) != 0) {
        fd = -1;
        br_error_sys(err, BR_E_IO, "could not close file \"%s\"", tmp);
        goto out;
    }
    fd = -1;
    fault_point("fs.write_file.rename");
    if (rename(tmp, path) != 0) {
        br_error_sys(err, BR_E_IO, "could not rename \"%s\" to \"%s\"", tmp, path);
        goto out;
    }
    rc = fs_fsync_parent(path, err);
out:
    if (fd >= 0)
        close(fd);
    if (rc != 0)
        unlink(tmp);
    free(tmp);
    return rc;
}

int
fs_write_file_durable(const char *path, const void *buf, size_t len, mode_t mode, struct br_error *err)
{
    return write_durable_via(path, br_asprintf("%s.tmp", path), buf, len, mode, err);
}

int
fs_write_file_durable_shared(const char *path, const void *buf, size_t len, mode_t mode, struct br_error *err)
{
    /* one temporary name per process: two writers never truncate or rename each other's file */
    return write_durable_via(path, br_asprintf("%s.%ld.tmp", path, (long) getpid()), buf, len, mode, err);
}

FILE *
fs_fopen_private(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *fp;

    if (fd < 0)
        return NULL;
    /* an existing file keeps its mode through O_CREAT: make it private too */
    if (fchmod(fd, 0600) != 0 || (fp = fdopen(fd, "w")) == NULL) {
        int saved = errno;

        close(fd);
        errno = saved;
        return NULL;
    }
    return fp;
}

char *
fs_read_file(const char *path, size_t max_bytes, size_t *len_out, struct br_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    char *buf = NULL;
    size_t len = 0, cap;

    if (fd < 0) {
        br_error_sys(err, errno == ENOENT ? BR_E_NOT_FOUND : BR_E_IO, "could not open file \"%s\"", path);
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        br_error_set(err, BR_E_IO, "\"%s\" is not a regular file", path);
        close(fd);
        return NULL;
    }
    if ((size_t) st.st_size > max_bytes) {
        br_error_set(err, BR_E_FORMAT, "file \"%s\" is too large (%lld bytes, at most %zu expected)",
                     path, (long long) st.st_size, max_bytes);
        close(fd);
        return NULL;
    }
    cap = (size_t) st.st_size + 1;
    buf = br_malloc(cap);
    for (;;) {
        if (len + 1 >= cap) {
            if (cap > max_bytes + 1) {
                br_error_set(err, BR_E_FORMAT, "file \"%s\" is too large", path);
                goto fail;
            }
            cap *= 2;
            buf = br_realloc(buf, cap);
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            br_error_sys(err, BR_E_IO, "could not read file \"%s\"", path);
            goto fail;
        }
        if (n == 0)
            break;
        len += (size_t) n;
    }
    close(fd);
    buf[len] = '\0';
    if (len_out)
        *len_out = len;
    return buf;
fail:
    close(fd);
    free(buf);
    return NULL;
}

static int
remove_entry(const char *fpath, const struct stat *sb, int typeflag, struct FTW *ftwbuf)
{
    (void) sb;
    (void) ftwbuf;
    fault_point("fs.remove");
    if (typeflag == FTW_DP)
        return rmdir(fpath) == 0 ? 0 : -1;
    return unlink(fpath) == 0 || errno == ENOENT ? 0 : -1;
}

int
fs_remove_tree(const char *path, struct br_error *err)
{
    if (!path_exists(path))
        return 0;
    if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return br_error_sys(err, BR_E_IO, "could not remove \"%s\"", path);
    return 0;
}
