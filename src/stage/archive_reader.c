/*
 * archive_reader.c: pull a tar archive through libarchive (which detects
 * and undoes gzip, bzip2, lz4, xz and zstd compression) and push its
 * members into a stage chain. Data blocks are libarchive's own buffers,
 * passed on without a copy; memory stays at libarchive's block size
 * whatever the archive's size.
 *
 * A zstd archive is decompressed on a thread of its own, libzstd straight
 * into a ring of ZPIPE_BUFS blocks that libarchive reads as plain tar: the
 * decompression (most of the work) and the tar parsing plus whatever the
 * chain does (manifest CRC32C, writes) overlap, so verify-backup and
 * recover run at decompression speed.
 */
#include "barrel/build.h"
#include "barrel/stage.h"
#include "barrel/error.h"
#include "barrel/mem.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
#include <zstd.h>

#define READ_BLOCK_BYTES (1024 * 1024)
#define ZPIPE_BUFS 4
#define ZPIPE_BUF_BYTES (1024 * 1024)

/* ---- the zstd decompression thread ---- */

struct zpipe {
    int fd;
    const char *path;
    ZSTD_DCtx *dctx;
    unsigned char *in;
    unsigned char *buf[ZPIPE_BUFS];
    size_t len[ZPIPE_BUFS];
    pthread_mutex_t lock;
    pthread_cond_t cond;
    unsigned filled;          /* blocks produced (the producer's count) */
    unsigned consumed;        /* blocks handed to libarchive and released */
    int holding;              /* libarchive holds block consumed % ZPIPE_BUFS */
    int eof, stop, failed;
    char error[256];
    pthread_t thread;
    int started;
};

static void
zpipe_fail(struct zpipe *zp, const char *fmt, const char *detail)
{
    pthread_mutex_lock(&zp->lock);
    snprintf(zp->error, sizeof(zp->error), fmt, zp->path, detail);
    zp->failed = 1;
    pthread_cond_broadcast(&zp->cond);
    pthread_mutex_unlock(&zp->lock);
}

static void *
zpipe_main(void *arg)
{
    struct zpipe *zp = arg;
    ZSTD_inBuffer in = {zp->in, 0, 0};
    size_t hint = 1;          /* 0 once the last frame ended */
    int input_done = 0;

    for (;;) {
        unsigned slot;
        ZSTD_outBuffer out;

        /* a free block: fewer than ZPIPE_BUFS produced and not released */
        pthread_mutex_lock(&zp->lock);
        while (!zp->stop && zp->filled - zp->consumed >= ZPIPE_BUFS)
            pthread_cond_wait(&zp->cond, &zp->lock);
        if (zp->stop) {
            pthread_mutex_unlock(&zp->lock);
            return NULL;
        }
        slot = zp->filled % ZPIPE_BUFS;
        pthread_mutex_unlock(&zp->lock);

        out.dst = zp->buf[slot];
        out.size = ZPIPE_BUF_BYTES;
        out.pos = 0;
        while (out.pos < out.size) {
            if (in.pos == in.size && !input_done) {
                ssize_t n = read(zp->fd, zp->in, ZSTD_DStreamInSize());
                if (n < 0) {
                    if (errno == EINTR)
                        continue;
                    zpipe_fail(zp, "could not read archive \"%s\": %s", strerror(errno));
                    return NULL;
                }
                in.size = (size_t) n;
                in.pos = 0;
                if (n == 0)
                    input_done = 1;
            }
            if (input_done && in.pos == in.size) {
                /* flush what the decoder still holds; no progress then means the end */
                size_t before = out.pos;
                if (hint != 0) {
                    hint = ZSTD_decompressStream(zp->dctx, &out, &in);
                    if (ZSTD_isError(hint)) {
                        zpipe_fail(zp, "archive \"%s\": zstd data is corrupt: %s", ZSTD_getErrorName(hint));
                        return NULL;
                    }
                }
                if (out.pos == before)
                    break;
                continue;
            }
            hint = ZSTD_decompressStream(zp->dctx, &out, &in);
            if (ZSTD_isError(hint)) {
                zpipe_fail(zp, "archive \"%s\": zstd data is corrupt: %s", ZSTD_getErrorName(hint));
                return NULL;
            }
        }
        if (input_done && out.pos < out.size && hint != 0) {
            zpipe_fail(zp, "archive \"%s\": zstd data is truncated%s", ": the last frame is incomplete");
            return NULL;
        }
        pthread_mutex_lock(&zp->lock);
        zp->len[slot] = out.pos;
        zp->filled++;
        if (input_done && out.pos < out.size)
            zp->eof = 1;
        pthread_cond_broadcast(&zp->cond);
        pthread_mutex_unlock(&zp->lock);
        if (input_done && out.pos < out.size)
            return NULL;
    }
}

/* libarchive's read callback: the next block, valid until the next call. */
static la_ssize_t
zpipe_read(struct archive *a, void *arg, const void **buf)
{
    struct zpipe *zp = arg;
    la_ssize_t n;

    pthread_mutex_lock(&zp->lock);
    if (zp->holding) {
        zp->consumed++;
        zp->holding = 0;
        pthread_cond_broadcast(&zp->cond);
    }
    while (!zp->failed && zp->filled == zp->consumed && !zp->eof)
        pthread_cond_wait(&zp->cond, &zp->lock);
    if (zp->filled != zp->consumed) {
        unsigned slot = zp->consumed % ZPIPE_BUFS;
        *buf = zp->buf[slot];
        n = (la_ssize_t) zp->len[slot];
        zp->holding = 1;
    } else if (zp->failed) {
        archive_set_error(a, EIO, "%s", zp->error);
        n = -1;
    } else {
        n = 0;                /* eof */
    }
    pthread_mutex_unlock(&zp->lock);
    return n;
}

static void
zpipe_free(struct zpipe *zp)
{
    if (zp == NULL)
        return;
    if (zp->started) {
        pthread_mutex_lock(&zp->lock);
        zp->stop = 1;
        pthread_cond_broadcast(&zp->cond);
        pthread_mutex_unlock(&zp->lock);
        pthread_join(zp->thread, NULL);
    }
    pthread_mutex_destroy(&zp->lock);
    pthread_cond_destroy(&zp->cond);
    if (zp->fd >= 0)
        close(zp->fd);
    ZSTD_freeDCtx(zp->dctx);
    free(zp->in);
    for (int i = 0; i < ZPIPE_BUFS; i++)
        free(zp->buf[i]);
    free(zp);
}

/* A zpipe for path when it starts with the zstd magic; NULL otherwise (or on any trouble: libarchive then tries). */
static struct zpipe *
zpipe_open(const char *path)
{
    unsigned char magic[4];
    struct zpipe *zp;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return NULL;
    if (read(fd, magic, 4) != 4 || magic[0] != 0x28 || magic[1] != 0xb5 || magic[2] != 0x2f || magic[3] != 0xfd
        || lseek(fd, 0, SEEK_SET) != 0) {
        close(fd);
        return NULL;
    }
    zp = br_calloc(1, sizeof(*zp));
    zp->fd = fd;
    zp->path = path;
    zp->dctx = ZSTD_createDCtx();
    zp->in = br_malloc(ZSTD_DStreamInSize());
    for (int i = 0; i < ZPIPE_BUFS; i++)
        zp->buf[i] = br_malloc(ZPIPE_BUF_BYTES);
    pthread_mutex_init(&zp->lock, NULL);
    pthread_cond_init(&zp->cond, NULL);
    if (zp->dctx == NULL || pthread_create(&zp->thread, NULL, zpipe_main, zp) != 0) {
        zpipe_free(zp);
        return NULL;
    }
    zp->started = 1;
    return zp;
}

static const unsigned char zero_block[64 * 1024];

static int
push_zeros(struct stage *sink, int64_t n, struct br_error *err)
{
    while (n > 0) {
        size_t len = n > (int64_t) sizeof(zero_block) ? sizeof(zero_block) : (size_t) n;
        struct chunk ck = {.kind = CHUNK_MEMBER_DATA, .data = zero_block, .len = len};
        if (stage_push(sink, &ck, err) != 0)
            return -1;
        n -= (int64_t) len;
    }
    return 0;
}

static enum member_type
member_type_of(mode_t type)
{
    switch (type) {
    case AE_IFREG: return MEMBER_FILE;
    case AE_IFDIR: return MEMBER_DIR;
    case AE_IFLNK: return MEMBER_SYMLINK;
    default: return MEMBER_OTHER;
    }
}

int
archive_reader_run(const char *path, const char *prefix, struct stage *sink, struct br_error *err)
{
    struct archive *a = archive_read_new();
    struct archive_entry *entry;
    struct zpipe *zp = zpipe_open(path);
    char *full = NULL;
    int rc = -1, r, opened;

    archive_read_support_filter_all(a);
    /* tar in its three dialects only: nothing else belongs in a backup */
    archive_read_support_format_tar(a);
    archive_read_support_format_gnutar(a);
    if (zp != NULL)
        opened = archive_read_open(a, zp, NULL, zpipe_read, NULL);
    else
        opened = archive_read_open_filename(a, path, READ_BLOCK_BYTES);
    if (opened != ARCHIVE_OK) {
        br_error_set(err, BR_E_IO, "could not open archive \"%s\": %s", path, archive_error_string(a));
        goto out;
    }
    while ((r = archive_read_next_header(a, &entry)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
        const char *name = archive_entry_pathname(entry);
        struct stage_member member = {0};
        struct chunk ck = {0};

        if (name == NULL) {
            br_error_set(err, BR_E_FORMAT, "archive \"%s\": a member has no name", path);
            goto out;
        }
        if (strncmp(name, "./", 2) == 0)
            name += 2;
        free(full);
        full = br_asprintf("%s%s", prefix ? prefix : "", name);
        member.path = full;
        member.type = member_type_of(archive_entry_filetype(entry));
        member.size = member.type == MEMBER_FILE ? archive_entry_size(entry) : 0;
        member.mode = archive_entry_perm(entry);
        member.mtime = archive_entry_mtime(entry);
        member.linkname = archive_entry_symlink(entry);
        ck.kind = CHUNK_MEMBER_HEADER;
        ck.member = &member;
        if (stage_push(sink, &ck, err) != 0)
            goto out;
        if (member.type == MEMBER_FILE) {
            const void *buf;
            size_t len;
            la_int64_t offset, expected = 0;
            while ((r = archive_read_data_block(a, &buf, &len, &offset)) == ARCHIVE_OK) {
                if (offset > expected && push_zeros(sink, offset - expected, err) != 0)
                    goto out;
                struct chunk dk = {.kind = CHUNK_MEMBER_DATA, .data = buf, .len = len, .member = &member};
                if (len > 0 && stage_push(sink, &dk, err) != 0)
                    goto out;
                expected = offset + (la_int64_t) len;
            }
            if (r != ARCHIVE_EOF) {
                br_error_set(err, BR_E_FORMAT, "archive \"%s\" is damaged in member \"%s\": %s", path, name,
                             archive_error_string(a));
                goto out;
            }
            if (expected < member.size && push_zeros(sink, member.size - expected, err) != 0)
                goto out;
        }
        ck.kind = CHUNK_MEMBER_END;
        if (stage_push(sink, &ck, err) != 0)
            goto out;
    }
    if (r != ARCHIVE_EOF) {
        br_error_set(err, BR_E_FORMAT, "archive \"%s\" is damaged: %s", path, archive_error_string(a));
        goto out;
    }
    {
        struct chunk end = {.kind = CHUNK_ARCHIVE_END};
        if (stage_push(sink, &end, err) != 0)
            goto out;
    }
    rc = 0;
out:
    free(full);
    archive_read_free(a);
    zpipe_free(zp);
    return rc;
}
