/*
 * stage_fd.c: a sink that writes to a descriptor it borrows, and a pump
 * that feeds a chain from a descriptor. get-wal streams to standard output
 * through the sink; archive-wal compresses into temporary files whose
 * fsync, mode and times it manages itself, which the durable file sink
 * (rename at finish) cannot leave to it.
 */
#include "barrel/build.h"
#include "barrel/stage.h"
#include "barrel/error.h"
#include "barrel/mem.h"

#include <errno.h>
#include <unistd.h>

struct fd_sink {
    struct stage base;
    int fd;
    char *label;
    int64_t bytes;
};

static int
fd_sink_push(struct stage *st, const struct chunk *ck, struct br_error *err)
{
    struct fd_sink *fs = (struct fd_sink *) st;
    const unsigned char *p = ck->data;
    size_t left = ck->len;

    if (ck->kind != CHUNK_RAW)
        return br_error_set(err, BR_E_INTERNAL, "descriptor sink \"%s\": unexpected chunk kind %d", fs->label, ck->kind);
    while (left > 0) {
        ssize_t n = write(fs->fd, p, left);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return br_error_sys(err, BR_E_IO, "could not write to \"%s\"", fs->label);
        }
        p += n;
        left -= (size_t) n;
        fs->bytes += n;
    }
    return 0;
}

static int
fd_sink_finish(struct stage *st, struct br_error *err)
{
    (void) st;
    (void) err;
    return 0;
}

static void
fd_sink_free(struct stage *st)
{
    struct fd_sink *fs = (struct fd_sink *) st;

    free(fs->label);
    free(fs);
}

static const struct stage_ops fd_sink_ops = {fd_sink_push, fd_sink_finish, fd_sink_free};

struct stage *
stage_fd_sink_new(int fd, const char *label)
{
    struct fd_sink *fs = br_calloc(1, sizeof(*fs));

    fs->base.ops = &fd_sink_ops;
    fs->base.name = "descriptor sink";
    fs->fd = fd;
    fs->label = br_strdup(label);
    return &fs->base;
}

int64_t
stage_fd_sink_bytes(const struct stage *st)
{
    return ((const struct fd_sink *) st)->bytes;
}

int
stage_pump_fd(int fd, const char *label, struct stage *st, struct br_error *err)
{
    unsigned char *buf = br_malloc(STAGE_BLOCK_SIZE);
    int rc = 0;

    for (;;) {
        ssize_t n = read(fd, buf, STAGE_BLOCK_SIZE);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = br_error_sys(err, BR_E_IO, "could not read \"%s\"", label);
            break;
        }
        if (n == 0)
            break;
        if (stage_push_raw(st, buf, (size_t) n, err) != 0) {
            rc = -1;
            break;
        }
    }
    free(buf);
    return rc;
}
