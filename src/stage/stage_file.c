/*
 * stage_file.c: the durable file sink that ends most chains.
 *
 * Bytes go to "<path>.tmp"; finish fsyncs, renames to the final name and
 * fsyncs the directory. Until then nothing exists under the final name, so
 * a crash or a failure leaves at most a temporary file, which free()
 * removes. Writes are issued as they come: the stages before it already
 * produce large blocks (compressors emit ~128 KiB).
 */
#include "barrel/build.h"
#include "barrel/stage.h"
#include "barrel/fault.h"
#include "barrel/error.h"
#include "barrel/fs.h"
#include "barrel/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

struct file_sink {
    struct stage base;
    char *path;
    char *tmp_path;
    int fd;
    int done;          /* renamed into place */
    int64_t bytes;
};

static int
file_sink_push(struct stage *st, const struct chunk *ck, struct br_error *err)
{
    struct file_sink *fsk = (struct file_sink *) st;
    const unsigned char *p = ck->data;
    size_t left = ck->len;

    if (ck->kind != CHUNK_RAW)
        return br_error_set(err, BR_E_INTERNAL, "file sink \"%s\": unexpected chunk kind %d", fsk->path, ck->kind);
    while (left > 0) {
        fault_point("file_sink.write");
        ssize_t n = write(fsk->fd, p, left);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return br_error_sys(err, BR_E_IO, "could not write file \"%s\"", fsk->tmp_path);
        }
        p += n;
        left -= (size_t) n;
        fsk->bytes += n;
    }
    return 0;
}

static int
file_sink_finish(struct stage *st, struct br_error *err)
{
    struct file_sink *fsk = (struct file_sink *) st;

    fault_point("file_sink.fsync");
    if (fsync(fsk->fd) != 0)
        return br_error_sys(err, BR_E_IO, "could not fsync file \"%s\"", fsk->tmp_path);
    if (close(fsk->fd) != 0) {
        fsk->fd = -1;
        return br_error_sys(err, BR_E_IO, "could not close file \"%s\"", fsk->tmp_path);
    }
    fsk->fd = -1;
    fault_point("file_sink.rename");
    if (rename(fsk->tmp_path, fsk->path) != 0)
        return br_error_sys(err, BR_E_IO, "could not rename \"%s\" to \"%s\"", fsk->tmp_path, fsk->path);
    fsk->done = 1;
    return fs_fsync_parent(fsk->path, err);
}

static void
file_sink_free(struct stage *st)
{
    struct file_sink *fsk = (struct file_sink *) st;

    if (fsk->fd >= 0)
        close(fsk->fd);
    if (!fsk->done)
        unlink(fsk->tmp_path);
    free(fsk->path);
    free(fsk->tmp_path);
    free(fsk);
}

static const struct stage_ops file_sink_ops = {file_sink_push, file_sink_finish, file_sink_free};

struct stage *
stage_file_sink_new(const char *path, mode_t mode, struct br_error *err)
{
    struct file_sink *fsk = br_calloc(1, sizeof(*fsk));

    fsk->base.ops = &file_sink_ops;
    fsk->base.name = "file sink";
    fsk->path = br_strdup(path);
    fsk->tmp_path = br_asprintf("%s.tmp", path);
    fsk->fd = open(fsk->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fsk->fd < 0) {
        br_error_sys(err, BR_E_IO, "could not create file \"%s\"", fsk->tmp_path);
        fsk->done = 1;     /* nothing to remove */
        file_sink_free(&fsk->base);
        return NULL;
    }
    return &fsk->base;
}

int64_t
stage_file_sink_bytes(const struct stage *st)
{
    return ((const struct file_sink *) st)->bytes;
}
