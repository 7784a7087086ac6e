/*
 * walcheck.c: check one archived WAL segment (see walcheck.h). The
 * segment is streamed through the decompressor with a fixed buffer; only
 * the first page header is kept. Header layout (xlog_internal.h,
 * XLogLongPageHeaderData, native byte order, PostgreSQL 15):
 *   0 uint16 xlp_magic, 2 uint16 xlp_info, 4 uint32 xlp_tli,
 *   8 uint64 xlp_pageaddr, 16 uint32 xlp_rem_len, (pad)
 *   24 uint64 xlp_sysid, 32 uint32 xlp_seg_size, 36 uint32 xlp_xlog_blcksz.
 */
#include "barrel/build.h"
#include "barrel/walcheck.h"
#include "barrel/error.h"
#include "barrel/mem.h"
#include "barrel/walfile.h"
#include "barrel/xlog.h"

#include <inttypes.h>

#define WAL_READ_BLOCK (256 * 1024)
#define XLP_LONG_HEADER 0x0002
#define LONG_HEADER_BYTES 40

/* XLOG_PAGE_MAGIC of the PostgreSQL versions barrel reads (15, 16, 17). */
static int
known_magic(uint16_t magic)
{
    return magic == 0xD110 || magic == 0xD113 || magic == 0xD116;
}

int
walcheck_segment(const struct server_config *srv, const char *path, const char *name, const char *expected_sysid,
                 uint32_t segment_size, struct br_error *err)
{
    enum walfile_codec codec;
    struct walfile_reader *r = NULL;
    unsigned char *buf = NULL, head[LONG_HEADER_BYTES];
    struct xlog_name xn;
    int64_t total = 0;
    int rc = -1;

    if (xlog_name_parse(name, &xn) != XLOG_KIND_SEGMENT)
        return br_error_set(err, BR_E_INTERNAL, "\"%s\" is not a WAL segment name", name);
    if (walfile_identify(path, srv, 0, &codec, err) != 0)
        return -1;
    r = walfile_reader_open(path, codec, srv, err);
    if (r == NULL)
        return -1;
    buf = br_malloc(WAL_READ_BLOCK);
    for (;;) {
        ssize_t n = walfile_reader_read(r, buf, WAL_READ_BLOCK, err);
        if (n < 0) {
            /* keep the cause, but say which segment it was */
            char cause[sizeof(err->msg)];
            snprintf(cause, sizeof(cause), "%s", err->msg);
            br_error_set(err, BR_E_FORMAT, "WAL segment %s is unreadable: %s", name, cause);
            goto out;
        }
        if (n == 0)
            break;
        if (total < LONG_HEADER_BYTES) {
            size_t take = (size_t) (LONG_HEADER_BYTES - total) < (size_t) n ? (size_t) (LONG_HEADER_BYTES - total)
                                                                            : (size_t) n;
            memcpy(head + total, buf, take);
        }
        total += n;
    }
    if (walfile_reader_close(r, err) != 0) {
        r = NULL;
        goto out;
    }
    r = NULL;
    if (total != segment_size) {
        br_error_set(err, BR_E_FORMAT, "WAL segment %s has %" PRId64 " bytes, expected %" PRIu32, name, total,
                     segment_size);
        goto out;
    }
    {
        uint16_t magic, info;
        uint32_t tli, seg_size;
        uint64_t pageaddr, sysid;
        uint64_t expected_addr = xlog_segno(xn.log, xn.seg, segment_size) * segment_size;

        memcpy(&magic, head, 2);
        memcpy(&info, head + 2, 2);
        memcpy(&tli, head + 4, 4);
        memcpy(&pageaddr, head + 8, 8);
        memcpy(&sysid, head + 24, 8);
        memcpy(&seg_size, head + 32, 4);
        if (!known_magic(magic)) {
            br_error_set(err, BR_E_FORMAT, "WAL segment %s has a bad page magic 0x%04X", name, magic);
            goto out;
        }
        if (!(info & XLP_LONG_HEADER)) {
            br_error_set(err, BR_E_FORMAT, "WAL segment %s does not start with a long page header", name);
            goto out;
        }
        if (pageaddr != expected_addr) {
            br_error_set(err, BR_E_FORMAT, "WAL segment %s starts at %X/%X, expected %X/%X", name,
                         (uint32_t) (pageaddr >> 32), (uint32_t) pageaddr, (uint32_t) (expected_addr >> 32),
                         (uint32_t) expected_addr);
            goto out;
        }
        /* a segment holds pages of its own timeline or, before a switch point, older ones */
        if (tli == 0 || tli > xn.tli) {
            br_error_set(err, BR_E_FORMAT, "WAL segment %s has pages of timeline %" PRIu32, name, tli);
            goto out;
        }
        if (seg_size != segment_size) {
            br_error_set(err, BR_E_FORMAT, "WAL segment %s was written with segment size %" PRIu32, name, seg_size);
            goto out;
        }
        if (expected_sysid != NULL && strtoull(expected_sysid, NULL, 10) != sysid) {
            br_error_set(err, BR_E_FORMAT, "WAL segment %s belongs to system %" PRIu64 ", expected %s", name, sysid,
                         expected_sysid);
            goto out;
        }
    }
    rc = 0;
out:
    if (r != NULL)
        walfile_reader_close(r, NULL);
    free(buf);
    return rc;
}
