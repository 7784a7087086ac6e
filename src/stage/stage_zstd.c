/*
 * stage_zstd.c: zstd compressor and decompressor stages (libzstd streaming
 * API). The compressor writes one frame, with a content checksum when asked
 * (WAL: `zstd -t` checks a segment alone; base backups go without, as
 * pg_basebackup's, since backup_manifest's CRC32C covers every file and the
 * checksum costs an extra pass over every byte); with workers > 0 libzstd
 * compresses on its own threads while this thread keeps feeding it, in
 * jobs of ZSTD_MT_JOB_SIZE so that its buffers stay small whatever the
 * level's window. Output goes to the next stage in blocks of
 * ZSTD_CStreamOutSize().
 */
#include "barrel/build.h"
#include "barrel/stage.h"
#include "barrel/error.h"
#include "barrel/mem.h"

#include <zstd.h>

/*
 * libzstd's default job is 4 windows (8 MiB at level 3) and it keeps about
 * workers + 3 input and workers + 2 output buffers of that size: 77 MiB of
 * RSS with 2 workers. 2 MiB jobs keep 2 workers under 30 MiB; each job
 * still sees the end of the previous one (libzstd's overlap), so the ratio
 * hardly moves.
 */
#define ZSTD_MT_JOB_SIZE (2 * 1024 * 1024)

struct zstd_stage {
    struct stage base;
    ZSTD_CCtx *cctx;
    ZSTD_DCtx *dctx;
    unsigned char *out;
    size_t out_size;
    int frame_open;     /* decompressor: inside a frame */
};

static int
zstd_emit(struct zstd_stage *zs, ZSTD_outBuffer *ob, struct br_error *err)
{
    if (ob->pos == 0)
        return 0;
    if (stage_push_raw(zs->base.next, ob->dst, ob->pos, err) != 0)
        return -1;
    ob->pos = 0;
    return 0;
}

static int
zstd_compress_push(struct stage *st, const struct chunk *ck, struct br_error *err)
{
    struct zstd_stage *zs = (struct zstd_stage *) st;
    ZSTD_inBuffer in = {ck->data, ck->len, 0};

    if (ck->kind != CHUNK_RAW)
        return stage_forward(st, ck, err);
    while (in.pos < in.size) {
        ZSTD_outBuffer ob = {zs->out, zs->out_size, 0};
        size_t rc = ZSTD_compressStream2(zs->cctx, &ob, &in, ZSTD_e_continue);
        if (ZSTD_isError(rc))
            return br_error_set(err, BR_E_INTERNAL, "zstd compression failed: %s", ZSTD_getErrorName(rc));
        if (zstd_emit(zs, &ob, err) != 0)
            return -1;
    }
    return 0;
}

static int
zstd_compress_finish(struct stage *st, struct br_error *err)
{
    struct zstd_stage *zs = (struct zstd_stage *) st;
    ZSTD_inBuffer in = {NULL, 0, 0};
    size_t remaining;

    do {
        ZSTD_outBuffer ob = {zs->out, zs->out_size, 0};
        remaining = ZSTD_compressStream2(zs->cctx, &ob, &in, ZSTD_e_end);
        if (ZSTD_isError(remaining))
            return br_error_set(err, BR_E_INTERNAL, "zstd compression failed: %s", ZSTD_getErrorName(remaining));
        if (zstd_emit(zs, &ob, err) != 0)
            return -1;
    } while (remaining != 0);
    return stage_finish_next(st, err);
}

static int
zstd_decompress_push(struct stage *st, const struct chunk *ck, struct br_error *err)
{
    struct zstd_stage *zs = (struct zstd_stage *) st;
    ZSTD_inBuffer in = {ck->data, ck->len, 0};

    if (ck->kind != CHUNK_RAW)
        return stage_forward(st, ck, err);
    while (in.pos < in.size) {
        ZSTD_outBuffer ob = {zs->out, zs->out_size, 0};
        size_t rc = ZSTD_decompressStream(zs->dctx, &ob, &in);
        if (ZSTD_isError(rc))
            return br_error_set(err, BR_E_FORMAT, "zstd data is corrupt: %s", ZSTD_getErrorName(rc));
        zs->frame_open = rc != 0;
        if (zstd_emit(zs, &ob, err) != 0)
            return -1;
    }
    return 0;
}

static int
zstd_decompress_finish(struct stage *st, struct br_error *err)
{
    struct zstd_stage *zs = (struct zstd_stage *) st;

    /*
     * Flush what the decoder still holds. frame_open is the hint of the last
     * call: 0 means a frame ended and was fully flushed. Calling again with
     * no input after that would only announce the next frame.
     */
    while (zs->frame_open) {
        ZSTD_inBuffer in = {NULL, 0, 0};
        ZSTD_outBuffer ob = {zs->out, zs->out_size, 0};
        size_t rc = ZSTD_decompressStream(zs->dctx, &ob, &in);
        if (ZSTD_isError(rc))
            return br_error_set(err, BR_E_FORMAT, "zstd data is corrupt: %s", ZSTD_getErrorName(rc));
        zs->frame_open = rc != 0;
        if (ob.pos == 0)
            break;          /* no progress without more input: truncated if still open */
        if (zstd_emit(zs, &ob, err) != 0)
            return -1;
    }
    if (zs->frame_open)
        return br_error_set(err, BR_E_FORMAT, "zstd data is truncated: the last frame is incomplete");
    return stage_finish_next(st, err);
}

static void
zstd_free(struct stage *st)
{
    struct zstd_stage *zs = (struct zstd_stage *) st;

    stage_free_next(st);
    ZSTD_freeCCtx(zs->cctx);
    ZSTD_freeDCtx(zs->dctx);
    free(zs->out);
    free(zs);
}

static const struct stage_ops zstd_compress_ops = {zstd_compress_push, zstd_compress_finish, zstd_free};
static const struct stage_ops zstd_decompress_ops = {zstd_decompress_push, zstd_decompress_finish, zstd_free};

struct stage *
stage_zstd_compress_new(int level, int workers, int checksum, struct stage *next, struct br_error *err)
{
    struct zstd_stage *zs = br_calloc(1, sizeof(*zs));
    size_t rc;

    zs->base.ops = &zstd_compress_ops;
    zs->base.next = next;
    zs->base.name = "zstd compressor";
    zs->cctx = ZSTD_createCCtx();
    zs->out_size = ZSTD_CStreamOutSize();
    zs->out = br_malloc(zs->out_size);
    if (zs->cctx == NULL) {
        br_error_set(err, BR_E_INTERNAL, "could not create a zstd compression context");
        goto fail;
    }
    rc = ZSTD_CCtx_setParameter(zs->cctx, ZSTD_c_compressionLevel, level > 0 ? level : ZSTD_CLEVEL_DEFAULT);
    if (!ZSTD_isError(rc))
        rc = ZSTD_CCtx_setParameter(zs->cctx, ZSTD_c_checksumFlag, checksum ? 1 : 0);
    if (!ZSTD_isError(rc) && workers > 0)
        rc = ZSTD_CCtx_setParameter(zs->cctx, ZSTD_c_nbWorkers, workers);
    if (!ZSTD_isError(rc) && workers > 0)
        rc = ZSTD_CCtx_setParameter(zs->cctx, ZSTD_c_jobSize, ZSTD_MT_JOB_SIZE);
    if (ZSTD_isError(rc)) {
        br_error_set(err, BR_E_INTERNAL, "invalid zstd setting (level %d, workers %d): %s", level, workers,
                     ZSTD_getErrorName(rc));
        goto fail;
    }
    return &zs->base;
fail:
    zstd_free(&zs->base);
    return NULL;
}

struct stage *
stage_zstd_decompress_new(struct stage *next, struct br_error *err)
{
    struct zstd_stage *zs = br_calloc(1, sizeof(*zs));

    zs->base.ops = &zstd_decompress_ops;
    zs->base.next = next;
    zs->base.name = "zstd decompressor";
    zs->dctx = ZSTD_createDCtx();
    zs->out_size = ZSTD_DStreamOutSize();
    zs->out = br_malloc(zs->out_size);
    if (zs->dctx == NULL) {
        br_error_set(err, BR_E_INTERNAL, "could not create a zstd decompression context");
        zstd_free(&zs->base);
        return NULL;
    }
    return &zs->base;
}
