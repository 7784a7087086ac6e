/*
 * stage_filter.c: gzip, lz4, bzip2 and xz compressor stages built on
 * libarchive's write filters, so the same library that reads Barman's
 * archives back also writes them. libarchive's "raw" format passes the
 * bytes through untouched; only the filter is applied. Padding of the last
 * block is disabled, so the output is exactly what `gzip -c` would accept.
 */
#include "barrel/build.h"
#include "barrel/stage.h"
#include "barrel/error.h"
#include "barrel/mem.h"

#include <archive.h>
#include <archive_entry.h>

#define FILTER_BUF_BYTES (64 * 1024)

struct filter_stage {
    struct stage base;
    struct archive *a;
    /*
     * What libarchive compresses is copied here first: after a write that
     * failed, the compressor still points at its input, and archive_write_free
     * flushes it; the caller's buffer is long gone by then (ASan: use after
     * free when a backup met a full disk), this one is not. (archive_write_fail
     * before the free would skip that flush, but then libarchive 3.6 leaks the
     * filter's zlib state; the copy costs little beside gzip or lz4.)
     */
    unsigned char buf[FILTER_BUF_BYTES];
    struct br_error cb_err;   /* error raised by the next stage inside libarchive's callback */
    int cb_failed;
    const char *filter_name;
};

static la_ssize_t
filter_write_cb(struct archive *a, void *client, const void *buf, size_t len)
{
    struct filter_stage *fs = client;
    (void) a;

    if (stage_push_raw(fs->base.next, buf, len, &fs->cb_err) != 0) {
        fs->cb_failed = 1;
        return -1;
    }
    return (la_ssize_t) len;
}

static int
filter_fail(struct filter_stage *fs, const char *what, struct br_error *err)
{
    /* the real cause, when the next stage failed, is in cb_err */
    if (fs->cb_failed) {
        *err = fs->cb_err;
        return -1;
    }
    return br_error_set(err, BR_E_IO, "%s compression failed while %s: %s", fs->filter_name, what,
                        archive_error_string(fs->a) ? archive_error_string(fs->a) : "unknown error");
}

static int
filter_push(struct stage *st, const struct chunk *ck, struct br_error *err)
{
    struct filter_stage *fs = (struct filter_stage *) st;

    if (ck->kind != CHUNK_RAW)
        return stage_forward(st, ck, err);
    for (size_t off = 0; off < ck->len;) {
        size_t n = ck->len - off < sizeof(fs->buf) ? ck->len - off : sizeof(fs->buf);

        memcpy(fs->buf, (const unsigned char *) ck->data + off, n);
        if (archive_write_data(fs->a, fs->buf, n) < 0)
            return filter_fail(fs, "writing", err);
        off += n;
    }
    return 0;
}

static int
filter_finish(struct stage *st, struct br_error *err)
{
    struct filter_stage *fs = (struct filter_stage *) st;

    if (archive_write_close(fs->a) != ARCHIVE_OK)
        return filter_fail(fs, "closing", err);
    return stage_finish_next(st, err);
}

static void
filter_free(struct stage *st)
{
    struct filter_stage *fs = (struct filter_stage *) st;

    /* free before the next stage: archive_write_free may still call the write callback */
    if (fs->a != NULL) {
        fs->cb_failed = 1;    /* ignore anything it tries to write now */
        archive_write_free(fs->a);
    }
    stage_free_next(st);
    free(fs);
}

static la_ssize_t
discard_write_cb(struct archive *a, void *client, const void *buf, size_t len)
{
    struct filter_stage *fs = client;
    (void) a;
    (void) buf;
    if (fs->cb_failed)
        return (la_ssize_t) len;
    return filter_write_cb(a, client, buf, len);
}

static const struct stage_ops filter_ops = {filter_push, filter_finish, filter_free};

struct stage *
stage_filter_compress_new(enum filter_kind kind, int level, struct stage *next, struct br_error *err)
{
    struct filter_stage *fs = br_calloc(1, sizeof(*fs));
    struct archive_entry *entry = NULL;
    char opt[64];
    int rc;

    fs->base.ops = &filter_ops;
    fs->base.next = next;
    fs->base.name = "compressor";
    fs->a = archive_write_new();
    switch (kind) {
    case FILTER_GZIP: fs->filter_name = "gzip"; rc = archive_write_add_filter_gzip(fs->a); break;
    case FILTER_LZ4: fs->filter_name = "lz4"; rc = archive_write_add_filter_lz4(fs->a); break;
    case FILTER_BZIP2: fs->filter_name = "bzip2"; rc = archive_write_add_filter_bzip2(fs->a); break;
    case FILTER_XZ: fs->filter_name = "xz"; rc = archive_write_add_filter_xz(fs->a); break;
    default: rc = ARCHIVE_FATAL; fs->filter_name = "unknown";
    }
    if (rc != ARCHIVE_OK) {
        br_error_set(err, BR_E_INTERNAL, "libarchive cannot write %s: %s", fs->filter_name,
                     archive_error_string(fs->a) ? archive_error_string(fs->a) : "unsupported");
        goto fail;
    }
    if (level > 0) {
        snprintf(opt, sizeof(opt), "%d", level);
        if (archive_write_set_filter_option(fs->a, NULL, "compression-level", opt) != ARCHIVE_OK) {
            br_error_set(err, BR_E_USAGE, "invalid %s compression level %d", fs->filter_name, level);
            goto fail;
        }
    }
    if (archive_write_set_format_raw(fs->a) != ARCHIVE_OK || archive_write_set_bytes_in_last_block(fs->a, 1) != ARCHIVE_OK
        || archive_write_open(fs->a, fs, NULL, discard_write_cb, NULL) != ARCHIVE_OK) {
        br_error_set(err, BR_E_INTERNAL, "could not start %s compression: %s", fs->filter_name,
                     archive_error_string(fs->a) ? archive_error_string(fs->a) : "unknown error");
        goto fail;
    }
    /* the raw format wants one regular-file header before the data */
    entry = archive_entry_new();
    archive_entry_set_pathname(entry, "data");
    archive_entry_set_filetype(entry, AE_IFREG);
    archive_entry_set_perm(entry, 0600);
    if (archive_write_header(fs->a, entry) != ARCHIVE_OK) {
        br_error_set(err, BR_E_INTERNAL, "could not start %s compression: %s", fs->filter_name,
                     archive_error_string(fs->a) ? archive_error_string(fs->a) : "unknown error");
        goto fail;
    }
    archive_entry_free(entry);
    return &fs->base;
fail:
    archive_entry_free(entry);
    filter_free(&fs->base);
    return NULL;
}
