/*
 * fuzz_replication.c: the replication-protocol message parsers: the
 * CopyData messages of START_REPLICATION (walrecv_handle_message: 'w'
 * XLogData and 'k' keepalive, through the bounds-checked copymsg readers)
 * and of BASE_BACKUP (the PG 15 'n'/'d'/'p'/'m' demultiplexer,
 * basebackup_stream_message, feeding the tar tap that the backup chains
 * start with).
 *
 * Input: one mode byte (even: WAL stream, odd: base backup stream), then
 * messages, each a 2-byte big-endian length and that many bytes; a stream
 * that stops in the middle of a length is cut there.
 */
#include "barrel/build.h"

#include <stddef.h>
#include <stdint.h>

#include "barrel/basebackup.h"
#include "barrel/error.h"
#include "barrel/stage.h"
#include "barrel/walrecv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- WAL stream: a sink that only checks the positions it is given ---- */

struct wal_sink_state {
    uint64_t next_lsn;
    int begun;
};

static volatile unsigned char fuzz_sum;

static int
ws_begin(void *arg, uint32_t tli, uint64_t lsn, struct br_error *err)
{
    struct wal_sink_state *s = arg;
    (void) tli;
    (void) err;
    s->next_lsn = lsn;
    s->begun = 1;
    return 0;
}

static int
ws_write(void *arg, uint64_t lsn, const void *buf, size_t len, struct br_error *err)
{
    struct wal_sink_state *s = arg;
    if (s->begun && lsn != s->next_lsn)
        return br_error_set(err, BR_E_FORMAT, "fuzz sink: write at an unexpected position");
    for (size_t i = 0; i < len; i++)       /* touch every byte: ASan checks the bounds */
        fuzz_sum ^= ((const unsigned char *) buf)[i];
    s->next_lsn = lsn + len;
    return 0;
}

static int
ws_flush(void *arg, struct br_error *err)
{
    (void) arg;
    (void) err;
    return 0;
}

static uint64_t
ws_flushed(void *arg)
{
    return ((struct wal_sink_state *) arg)->next_lsn;
}

static int
ws_close(void *arg, struct br_error *err)
{
    (void) arg;
    (void) err;
    return 0;
}

static int
ws_has_history(void *arg, uint32_t tli)
{
    (void) arg;
    (void) tli;
    return 1;
}

/* ---- base backup stream: each archive into a tar tap, the manifest into memory ---- */

static struct stage *
bb_archive_begin(void *arg, const char *name, const char *location, struct br_error *err)
{
    (void) arg;
    (void) name;
    (void) location;
    (void) err;
    return stage_tar_tap_new(stage_mem_sink_new(), stage_tar_parser_new(stage_mem_sink_new()), 1, NULL);
}

static struct stage *
bb_manifest_begin(void *arg, struct br_error *err)
{
    (void) arg;
    (void) err;
    return stage_mem_sink_new();
}

/* Next framed message: 1 with msg and len set, 0 at the end of the input. */
static int
next_message(const uint8_t **p, const uint8_t *end, const uint8_t **msg, size_t *len)
{
    size_t n;

    if (end - *p < 2)
        return 0;
    n = ((size_t) (*p)[0] << 8) | (*p)[1];
    *p += 2;
    if ((size_t) (end - *p) < n)
        n = (size_t) (end - *p);
    *msg = *p;
    *len = n;
    *p += n;
    return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *p = data + 1, *end = data + size, *msg;
    struct br_error err;
    size_t len;

    if (size < 1)
        return 0;
    br_error_clear(&err);
    if ((data[0] & 1) == 0) {
        struct wal_sink_state s = {0};
        struct walrecv_sink sink = {.arg = &s, .begin = ws_begin, .write = ws_write, .flush = ws_flush,
                                    .flushed = ws_flushed, .close_partial = ws_close, .has_history = ws_has_history};
        struct walrecv_state st = {.blockpos = 0x1000000};

        s.next_lsn = st.blockpos;
        s.begun = 1;
        while (next_message(&p, end, &msg, &len)) {
            /* a copy of exactly len bytes: ASan sees any read past the message */
            unsigned char *copy = malloc(len ? len : 1);
            int rc;

            memcpy(copy, msg, len);
            rc = walrecv_handle_message(&st, &sink, copy, len, &err);
            free(copy);
            if (rc != 0)
                break;
        }
    } else {
        struct basebackup_handler h = {.archive_begin = bb_archive_begin, .manifest_begin = bb_manifest_begin};
        struct basebackup_result res;
        struct basebackup_stream *bs;
        int rc = 0;

        memset(&res, 0, sizeof(res));
        bs = basebackup_stream_new(&h, &res);
        while (rc == 0 && next_message(&p, end, &msg, &len)) {
            unsigned char *copy = malloc(len ? len : 1);

            memcpy(copy, msg, len);
            rc = basebackup_stream_message(bs, copy, len, &err);
            free(copy);
        }
        if (rc == 0)
            (void) basebackup_stream_end(bs, &err);
        basebackup_stream_free(bs);
        basebackup_result_reset(&res);
    }
    return 0;
}
