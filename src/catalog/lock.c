/*
 * lock.c: Barman's lock files, so that barrel and Barman exclude each other.
 *
 * Barman (barman/lockfile.py) takes flock(LOCK_EX[|LOCK_NB]) on
 * <lock_dir>/.<server>-<what>.lock, created 0600, and writes its pid and a
 * newline into it once the lock is held. The file is never deleted: an
 * unlocked file with a stale pid is normal, and deleting it would let two
 * processes lock two different inodes of the same name. flock locks belong
 * to the open file description, so a holder check on a separate descriptor
 * sees even a lock held by this very process.
 */
#include "barrel/build.h"
#include "barrel/catalog.h"

#include "barrel/error.h"
#include "barrel/fs.h"
#include "barrel/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

struct catalog_lock {
    int fd;
    char *path;
};

static char *
lock_path(const char *lock_dir, const char *server, const char *what)
{
    char *name = br_asprintf(".%s-%s.lock", server, what);
    char *path = path_join(lock_dir, name);

    free(name);
    return path;
}

/* The pid written in a lock file, 0 when there is none. */
static long
lock_read_pid(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    char *end;
    long pid;

    if (n <= 0)
        return 0;
    buf[n] = '\0';
    pid = strtol(buf, &end, 10);
    if (end == buf || pid <= 0)
        return 0;
    return pid;
}

/* Take the lock on `path` (ownership of the string is taken). */
static struct catalog_lock *
lock_acquire_path(char *path, int blocking, struct br_error *err)
{
    struct catalog_lock *lock = NULL;
    char pidtext[32];
    int len;
    int fd;

    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        br_error_sys(err, BR_E_IO, "could not open lock file \"%s\"", path);
        goto fail;
    }
    while (flock(fd, LOCK_EX | (blocking ? 0 : LOCK_NB)) != 0) {
        if (errno == EINTR)
            continue;
        if (errno == EWOULDBLOCK) {
            long pid = lock_read_pid(fd);

            br_error_set(err, BR_E_LOCKED, "lock file \"%s\" is held by another process", path);
            if (pid > 0)
                br_error_detail(err, "The lock is held by process %ld.", pid);
        } else {
            br_error_sys(err, BR_E_IO, "could not lock file \"%s\"", path);
        }
        goto fail;
    }
    /* ours now: replace whatever pid a previous holder left */
    len = snprintf(pidtext, sizeof(pidtext), "%ld\n", (long) getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pidtext, (size_t) len, 0) != len) {
        br_error_sys(err, BR_E_IO, "could not write lock file \"%s\"", path);
        goto fail;
    }
    if (fsync(fd) != 0) {
        br_error_sys(err, BR_E_IO, "could not fsync lock file \"%s\"", path);
        goto fail;
    }
    lock = br_malloc(sizeof(*lock));
    lock->fd = fd;
    lock->path = path;
    return lock;
fail:
    if (fd >= 0)
        close(fd);   /* also drops the flock if we got it */
    free(path);
    return NULL;
}

struct catalog_lock *
catalog_lock_acquire(const char *lock_dir, const char *server, const char *what, int blocking,
                     struct br_error *err)
{
    return lock_acquire_path(lock_path(lock_dir, server, what), blocking, err);
}

struct catalog_lock *
catalog_lock_acquire_global(const char *lock_dir, const char *what, int blocking, struct br_error *err)
{
    char *name = br_asprintf(".%s.lock", what);
    char *path = path_join(lock_dir, name);

    free(name);
    return lock_acquire_path(path, blocking, err);
}

void
catalog_lock_release(struct catalog_lock *lock)
{
    if (lock == NULL)
        return;
    /* closing the only descriptor releases the flock; the file stays, as Barman's do */
    flock(lock->fd, LOCK_UN);
    close(lock->fd);
    free(lock->path);
    free(lock);
}

long
catalog_lock_holder(const char *lock_dir, const char *server, const char *what, struct br_error *err)
{
    char *path = lock_path(lock_dir, server, what);
    long result = -1;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            result = 0;
        else
            br_error_sys(err, BR_E_IO, "could not open lock file \"%s\"", path);
        goto out;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
        flock(fd, LOCK_UN);
        result = 0;
        goto out;
    }
    if (errno != EWOULDBLOCK) {
        br_error_sys(err, BR_E_IO, "could not test lock file \"%s\"", path);
        goto out;
    }
    result = lock_read_pid(fd);
    if (result == 0) {
        /* held, but the holder has not written its pid yet (or never will) */
        br_error_set(err, BR_E_LOCKED, "lock file \"%s\" is held but holds no pid", path);
        result = -1;
    }
out:
    if (fd >= 0)
        close(fd);
    free(path);
    return result;
}
