/*
 * segment_writer.c: streamed WAL into streaming/, as pg_receivewal writes it
 * (receivelog.c open_walfile/close_walfile with walmethods.c's directory
 * method): "<seg>.partial" padded with zeros to the segment size before any
 * WAL goes in, WAL written at its offset, fsync + rename to the bare name +
 * fsync of the directory when the segment is full.
 *
 * Why pad first: a file that has its full size from its first fsync can
 * never be mistaken for a torn segment, and reusing a full-size partial
 * after a restart means rewriting bytes in place. A partial of any other
 * size can only come from a crash during padding, when it holds no WAL yet:
 * it is padded again from zero.
 */
#include "barrel/build.h"
#include "barrel/segment_writer.h"
#include "barrel/fault.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <unistd.h>

#include "barrel/error.h"
#include "barrel/fs.h"
#include "barrel/mem.h"
#include "barrel/xlog.h"

#define PAD_CHUNK_BYTES (64 * 1024)
#define PARTIAL_SUFFIX ".partial"
#define SEGMENT_FILE_MODE 0600

struct segment_writer {
    char *dir;
    uint32_t segment_size;
    segment_writer_notice_fn notice;
    void *notice_arg;

    uint32_t tli;                        /* timeline being written */
    uint64_t write_lsn;                  /* next byte expected */
    uint64_t flush_lsn;                  /* durable before this */
    int positioned;                      /* begin() was called */

    int fd;                              /* open partial segment, -1 if none */
    char name[XLOG_NAME_LEN + 1];        /* its bare name */
};

static void
notice(const struct segment_writer *w, const char *fmt, ...) BR_PRINTF(2, 3);

static void
notice(const struct segment_writer *w, const char *fmt, ...)
{
    va_list ap;
    char *msg;

    if (w->notice == NULL)
        return;
    va_start(ap, fmt);
    msg = br_vasprintf(fmt, ap);
    va_end(ap);
    w->notice(w->notice_arg, msg);
    free(msg);
}

struct segment_writer *
segment_writer_new(const char *dir, uint32_t segment_size, segment_writer_notice_fn notice_fn, void *notice_arg)
{
    struct segment_writer *w = br_calloc(1, sizeof(*w));

    w->dir = br_strdup(dir);
    w->segment_size = segment_size;
    w->notice = notice_fn;
    w->notice_arg = notice_arg;
    w->fd = -1;
    return w;
}

void
segment_writer_free(struct segment_writer *w)
{
    if (w == NULL)
        return;
    if (w->fd >= 0)
        close(w->fd);
    free(w->dir);
    free(w);
}

uint64_t
segment_writer_write_lsn(const struct segment_writer *w)
{
    return w->write_lsn;
}

uint64_t
segment_writer_flush_lsn(const struct segment_writer *w)
{
    return w->flush_lsn;
}

uint32_t
segment_writer_timeline(const struct segment_writer *w)
{
    return w->tli;
}

/* "<dir>/<name><suffix>" */
static char *
seg_path(const struct segment_writer *w, const char *name, const char *suffix)
{
    return br_asprintf("%s/%s%s", w->dir, name, suffix);
}

static int
write_all(int fd, const void *buf, size_t len, off_t offset, const char *path, struct br_error *err)
{
    const unsigned char *p = buf;

    while (len > 0) {
        fault_point("segment.write");
        ssize_t n = pwrite(fd, p, len, offset);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return br_error_sys(err, BR_E_IO, "could not write to file \"%s\"", path);
        }
        if (n == 0) {
            errno = ENOSPC;
            return br_error_sys(err, BR_E_IO, "could not write to file \"%s\"", path);
        }
        p += n;
        len -= (size_t) n;
        offset += n;
    }
    return 0;
}

/* Zero-fill fd to the segment size, then fsync it and the directory. */
static int
pad_segment(const struct segment_writer *w, int fd, const char *path, struct br_error *err)
{
    static const unsigned char zeros[PAD_CHUNK_BYTES];
    off_t off = 0;

    if (ftruncate(fd, 0) != 0)
        return br_error_sys(err, BR_E_IO, "could not truncate file \"%s\"", path);
    while (off < (off_t) w->segment_size) {
        size_t n = (size_t) ((off_t) w->segment_size - off < PAD_CHUNK_BYTES ? (off_t) w->segment_size - off
                                                                             : PAD_CHUNK_BYTES);

        if (write_all(fd, zeros, n, off, path, err) != 0)
            return -1;
        off += (off_t) n;
    }
    if (fsync(fd) != 0)
        return br_error_sys(err, BR_E_IO, "could not fsync file \"%s\"", path);
    return fs_fsync_path(w->dir, 1, err);
}

/* Open (creating and padding when needed) the partial file of the segment holding write_lsn. */
static int
open_segment(struct segment_writer *w, struct br_error *err)
{
    uint64_t segno = xlog_segno_of_lsn(w->write_lsn, w->segment_size);
    char *path;
    struct stat st;
    int fd, rc = -1;

    xlog_segment_name(w->tli, segno, w->segment_size, w->name);
    path = seg_path(w, w->name, PARTIAL_SUFFIX);
    fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, SEGMENT_FILE_MODE);
    if (fd < 0) {
        br_error_sys(err, BR_E_IO, "could not open file \"%s\"", path);
        goto out;
    }
    if (fstat(fd, &st) != 0) {
        br_error_sys(err, BR_E_IO, "could not stat file \"%s\"", path);
        goto out;
    }
    /* full size: an earlier run's partial, rewritten in place; anything else holds no WAL yet */
    if (st.st_size != (off_t) w->segment_size && pad_segment(w, fd, path, err) != 0)
        goto out;
    w->fd = fd;
    fd = -1;
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    free(path);
    return rc;
}

/* The open segment is full: fsync, close, rename to the bare name, fsync the directory. */
static int
complete_segment(struct segment_writer *w, struct br_error *err)
{
    char *partial = seg_path(w, w->name, PARTIAL_SUFFIX);
    char *final = seg_path(w, w->name, "");
    char lsn_text[XLOG_LSN_BUFLEN];
    int rc = -1;

    fault_point("segment.complete.fsync");
    if (fsync(w->fd) != 0) {
        br_error_sys(err, BR_E_IO, "could not fsync file \"%s\"", partial);
        goto out;
    }
    close(w->fd);
    w->fd = -1;
    fault_point("segment.complete.rename");
    if (rename(partial, final) != 0) {
        br_error_sys(err, BR_E_IO, "could not rename file \"%s\" to \"%s\"", partial, final);
        goto out;
    }
    if (fs_fsync_path(w->dir, 1, err) != 0)
        goto out;
    w->flush_lsn = w->write_lsn;
    xlog_lsn_format(w->write_lsn, lsn_text);
    notice(w, "finished segment at %s (timeline %" PRIu32 ")", lsn_text, w->tli);
    rc = 0;
out:
    free(partial);
    free(final);
    return rc;
}

int
segment_writer_begin(struct segment_writer *w, uint32_t tli, uint64_t lsn, struct br_error *err)
{
    char lsn_text[XLOG_LSN_BUFLEN];

    if (segment_writer_close_partial(w, err) != 0)
        return -1;
    if (xlog_segment_offset(lsn, w->segment_size) != 0) {
        xlog_lsn_format(lsn, lsn_text);
        return br_error_set(err, BR_E_INTERNAL, "streaming must start at a segment boundary, not at %s", lsn_text);
    }
    w->tli = tli;
    w->write_lsn = lsn;
    w->flush_lsn = lsn;
    w->positioned = 1;
    return 0;
}

int
segment_writer_write(struct segment_writer *w, uint64_t lsn, const void *data, size_t len, struct br_error *err)
{
    const unsigned char *p = data;

    if (!w->positioned)
        return br_error_set(err, BR_E_INTERNAL, "segment writer used before its start position was set");
    if (lsn != w->write_lsn)
        return br_error_set(err, BR_E_FORMAT, "got WAL data offset %08" PRIx32 ", expected %08" PRIx32,
                            xlog_segment_offset(lsn, w->segment_size),
                            xlog_segment_offset(w->write_lsn, w->segment_size));
    while (len > 0) {
        uint32_t offset = xlog_segment_offset(w->write_lsn, w->segment_size);
        size_t room = w->segment_size - offset;
        size_t n = len < room ? len : room;
        char *path;

        if (w->fd < 0 && open_segment(w, err) != 0)
            return -1;
        path = seg_path(w, w->name, PARTIAL_SUFFIX);
        if (write_all(w->fd, p, n, (off_t) offset, path, err) != 0) {
            free(path);
            return -1;
        }
        free(path);
        p += n;
        len -= n;
        w->write_lsn += n;
        if (n == room && complete_segment(w, err) != 0)
            return -1;
    }
    return 0;
}

int
segment_writer_flush(struct segment_writer *w, struct br_error *err)
{
    if (w->fd >= 0 && w->flush_lsn < w->write_lsn) {
        fault_point("segment.flush");
        if (fsync(w->fd) != 0) {
            char *path = seg_path(w, w->name, PARTIAL_SUFFIX);

            br_error_sys(err, BR_E_IO, "could not fsync file \"%s\"", path);
            free(path);
            return -1;
        }
    }
    w->flush_lsn = w->write_lsn;
    return 0;
}

int
segment_writer_close_partial(struct segment_writer *w, struct br_error *err)
{
    if (w->fd < 0)
        return 0;
    if (segment_writer_flush(w, err) != 0)
        return -1;
    close(w->fd);
    w->fd = -1;
    notice(w, "not renaming \"%s%s\", segment is not complete", w->name, PARTIAL_SUFFIX);
    return 0;
}

int
segment_writer_has_history(const struct segment_writer *w, uint32_t tli)
{
    char name[32];
    char *path;
    int exists;

    snprintf(name, sizeof(name), "%08" PRIX32 ".history", tli);
    path = seg_path(w, name, "");
    exists = path_exists(path);
    free(path);
    return exists;
}

int
segment_writer_write_history(struct segment_writer *w, uint32_t tli, const char *name, const void *content,
                             size_t len, struct br_error *err)
{
    char expected[32];
    char *path;
    int rc;

    snprintf(expected, sizeof(expected), "%08" PRIX32 ".history", tli);
    if (strcmp(name, expected) != 0)
        return br_error_set(err, BR_E_FORMAT, "server replied with history file \"%.64s\" for timeline %" PRIu32
                            ", expected \"%s\"", name, tli, expected);
    path = seg_path(w, name, "");
    rc = fs_write_file_durable(path, content, len, SEGMENT_FILE_MODE, err);
    free(path);
    return rc;
}

int
segment_writer_find_start(const char *dir, uint32_t segment_size, uint32_t *tli, uint64_t *lsn,
                          struct br_error *err)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    uint64_t high_segno = 0;
    uint32_t high_tli = 0;
    int high_partial = 0, found = 0;

    if (d == NULL)
        return br_error_sys(err, BR_E_IO, "could not open directory \"%s\"", dir);
    while ((errno = 0, de = readdir(d)) != NULL) {
        struct xlog_name xn;
        enum xlog_kind kind = xlog_name_parse(de->d_name, &xn);
        uint64_t segno;
        int partial;

        if (kind != XLOG_KIND_SEGMENT && kind != XLOG_KIND_PARTIAL)
            continue;
        partial = kind == XLOG_KIND_PARTIAL;
        if (xn.seg >= xlog_segments_per_log(segment_size))
            continue;
        if (!partial) {
            /* a complete segment of the wrong size is not ours to resume from (pg_receivewal skips it too) */
            struct stat st;
            char *path = br_asprintf("%s/%s", dir, de->d_name);
            int ok = stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == (off_t) segment_size;

            free(path);
            if (!ok)
                continue;
        }
        segno = xlog_segno(xn.log, xn.seg, segment_size);
        if (!found || segno > high_segno || (segno == high_segno && xn.tli > high_tli)
            || (segno == high_segno && xn.tli == high_tli && high_partial && !partial)) {
            high_segno = segno;
            high_tli = xn.tli;
            high_partial = partial;
            found = 1;
        }
    }
    if (errno != 0) {
        br_error_sys(err, BR_E_IO, "could not read directory \"%s\"", dir);
        closedir(d);
        return -1;
    }
    closedir(d);
    if (!found)
        return 0;
    /* after a complete segment comes the next one; a partial one is received again from its start */
    if (!high_partial)
        high_segno++;
    *tli = high_tli;
    *lsn = high_segno * (uint64_t) segment_size;
    return 1;
}

int
segment_writer_fix_partial(const char *dir, uint32_t segment_size, char **path_out, off_t *old_size,
                           struct br_error *err)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char *newest = NULL;
    char *path = NULL;
    struct stat st;
    int rc = -1;

    *path_out = NULL;
    *old_size = 0;
    if (d == NULL)
        return br_error_sys(err, BR_E_IO, "could not open directory \"%s\"", dir);
    while ((errno = 0, de = readdir(d)) != NULL) {
        if (xlog_name_parse(de->d_name, NULL) != XLOG_KIND_PARTIAL)
            continue;
        if (newest == NULL || strcmp(de->d_name, newest) > 0) {
            free(newest);
            newest = br_strdup(de->d_name);
        }
    }
    if (errno != 0) {
        br_error_sys(err, BR_E_IO, "could not read directory \"%s\"", dir);
        goto out;
    }
    rc = 0;
    if (newest == NULL)
        goto out;
    path = br_asprintf("%s/%s", dir, newest);
    if (stat(path, &st) != 0) {
        rc = br_error_sys(err, BR_E_IO, "could not stat file \"%s\"", path);
        goto out;
    }
    if (st.st_size == 0 || st.st_size == (off_t) segment_size)
        goto out;
    if (truncate(path, 0) != 0) {
        rc = br_error_sys(err, BR_E_IO, "could not truncate file \"%s\"", path);
        goto out;
    }
    *old_size = st.st_size;
    *path_out = path;
    path = NULL;
    rc = 1;
out:
    closedir(d);
    free(newest);
    free(path);
    return rc;
}
