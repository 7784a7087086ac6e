/*
 * test_walrecv.c: the segment writer (offsets across segment boundaries,
 * rename at the end of a segment, resume from a partial, torn partials) and
 * the replication-stream message handling fed with crafted CopyData buffers.
 *
 * Segments are 1 MiB here (PostgreSQL's smallest) so that a few of them
 * are cheap to write; the arithmetic is the same as for 16 MiB.
 */
#include "barrel/build.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "barrel/copymsg.h"
#include "barrel/error.h"
#include "barrel/mem.h"
#include "barrel/segment_writer.h"
#include "barrel/walrecv.h"
#include "harness.h"

#define SEG ((uint32_t) 1024 * 1024)

struct fx {
    char *dir;
    struct segment_writer *w;
    char notices[4096];
};

static void
collect_notice(void *arg, const char *message)
{
    struct fx *f = arg;
    size_t len = strlen(f->notices);

    snprintf(f->notices + len, sizeof(f->notices) - len, "%s\n", message);
}

static int
setup(void **state)
{
    struct fx *f = br_calloc(1, sizeof(*f));

    f->dir = h_mkdtemp();
    f->w = segment_writer_new(f->dir, SEG, collect_notice, f);
    *state = f;
    return f->dir == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;

    segment_writer_free(f->w);
    h_rmtree(f->dir);
    free(f->dir);
    free(f);
    return 0;
}

/* Deterministic WAL-like bytes: the byte at LSN x. */
static unsigned char
byte_at(uint64_t lsn)
{
    return (unsigned char) ((lsn * 2654435761u) >> 13);
}

static unsigned char *
pattern(uint64_t lsn, size_t len)
{
    unsigned char *p = br_malloc(len ? len : 1);

    for (size_t i = 0; i < len; i++)
        p[i] = byte_at(lsn + i);
    return p;
}

static char *
file_in(const struct fx *f, const char *name)
{
    return br_asprintf("%s/%s", f->dir, name);
}

static off_t
file_size(const struct fx *f, const char *name)
{
    char *p = file_in(f, name);
    struct stat st;
    off_t size = stat(p, &st) == 0 ? st.st_size : -1;

    free(p);
    return size;
}

/* Compare a file's bytes [from, to) with the pattern of the segment starting at seg_lsn; bytes past `valid` must be 0. */
static void
assert_segment(const struct fx *f, const char *name, uint64_t seg_lsn, size_t valid)
{
    char *p = file_in(f, name);
    FILE *fp = fopen(p, "rb");
    unsigned char *buf = br_malloc(SEG);

    assert_non_null(fp);
    assert_int_equal(fread(buf, 1, SEG, fp), SEG);
    fclose(fp);
    for (size_t i = 0; i < SEG; i++) {
        unsigned char want = i < valid ? byte_at(seg_lsn + i) : 0;
        if (buf[i] != want)
            fail_msg("%s: byte %zu is %u, expected %u", name, i, buf[i], want);
    }
    free(buf);
    free(p);
}

/* Feed [start, start+len) split into chunks of the given sizes (cycled). */
static void
feed(struct fx *f, uint64_t start, size_t len, const size_t *chunks, size_t n_chunks)
{
    struct br_error err;
    size_t off = 0, k = 0;

    while (off < len) {
        size_t n = chunks[k++ % n_chunks];
        unsigned char *p;

        if (n > len - off)
            n = len - off;
        p = pattern(start + off, n);
        if (segment_writer_write(f->w, start + off, p, n, &err) != 0)
            fail_msg("write at %zu: %s", off, err.msg);
        free(p);
        off += n;
    }
}

static void
test_segment_writer_crosses_boundaries(void **state)
{
    static const size_t splits[][3] = {{SEG + SEG / 2, 1, 1}, {511, 512, 513}, {8192, 131072, 7}, {1, 1, 65536}};
    struct br_error err;

    for (size_t s = 0; s < BR_ARRAY_LEN(splits); s++) {
        struct fx *f = *state;
        uint64_t start = (uint64_t) 0x10 * SEG;   /* segment 0x10 = 000000010000000000000010 */

        segment_writer_free(f->w);
        h_rmtree(f->dir);
        assert_int_equal(mkdir(f->dir, 0700), 0);
        f->notices[0] = '\0';
        f->w = segment_writer_new(f->dir, SEG, collect_notice, f);
        assert_int_equal(segment_writer_begin(f->w, 1, start, &err), 0);
        feed(f, start, SEG + SEG / 2, splits[s], 3);

        /* the first segment is complete under its bare name; the second is a full-size partial */
        assert_int_equal(file_size(f, "000000010000000000000010"), SEG);
        assert_int_equal(file_size(f, "000000010000000000000010.partial"), -1);
        assert_int_equal(file_size(f, "000000010000000000000011.partial"), SEG);
        assert_segment(f, "000000010000000000000010", start, SEG);
        assert_segment(f, "000000010000000000000011.partial", start + SEG, SEG / 2);
        assert_true(segment_writer_write_lsn(f->w) == start + SEG + SEG / 2);
        /* completed segments are durable; the partial one after a flush */
        assert_true(segment_writer_flush_lsn(f->w) == start + SEG);
        assert_int_equal(segment_writer_flush(f->w, &err), 0);
        assert_true(segment_writer_flush_lsn(f->w) == start + SEG + SEG / 2);
        assert_string_equal(f->notices, "finished segment at 0/1100000 (timeline 1)\n");

        /* finishing the second one exactly at its end renames it too */
        feed(f, start + SEG + SEG / 2, SEG / 2, splits[s], 3);
        assert_int_equal(file_size(f, "000000010000000000000011"), SEG);
        assert_int_equal(file_size(f, "000000010000000000000011.partial"), -1);
        assert_segment(f, "000000010000000000000011", start + SEG, SEG);
        /* nothing is open now: closing is a no-op and no partial appears */
        assert_int_equal(segment_writer_close_partial(f->w, &err), 0);
        assert_int_equal(file_size(f, "000000010000000000000012.partial"), -1);
    }
}

static void
test_segment_writer_rejects_wrong_offsets(void **state)
{
    struct fx *f = *state;
    struct br_error err;
    unsigned char b[16] = {0};

    assert_int_equal(segment_writer_begin(f->w, 1, SEG + 8, &err), -1);
    assert_int_equal(err.code, BR_E_INTERNAL);
    assert_string_equal(err.msg, "streaming must start at a segment boundary, not at 0/100008");

    assert_int_equal(segment_writer_begin(f->w, 1, SEG, &err), 0);
    assert_int_equal(segment_writer_write(f->w, SEG, b, sizeof(b), &err), 0);
    assert_int_equal(segment_writer_write(f->w, SEG + 32, b, sizeof(b), &err), -1);
    assert_int_equal(err.code, BR_E_FORMAT);
    assert_string_equal(err.msg, "got WAL data offset 00000020, expected 00000010");
}

static void
test_segment_writer_close_partial_keeps_name(void **state)
{
    struct fx *f = *state;
    struct br_error err;
    static const size_t one[] = {1000};

    assert_int_equal(segment_writer_begin(f->w, 3, 5 * (uint64_t) SEG, &err), 0);
    feed(f, 5 * (uint64_t) SEG, 3000, one, 1);
    assert_int_equal(segment_writer_close_partial(f->w, &err), 0);
    assert_int_equal(file_size(f, "000000030000000000000005.partial"), SEG);
    assert_segment(f, "000000030000000000000005.partial", 5 * (uint64_t) SEG, 3000);
    assert_string_equal(f->notices, "not renaming \"000000030000000000000005.partial\", segment is not complete\n");
    assert_true(segment_writer_flush_lsn(f->w) == 5 * (uint64_t) SEG + 3000);
}

static void
touch(const struct fx *f, const char *name, off_t size)
{
    char *p = file_in(f, name);
    FILE *fp = fopen(p, "wb");

    assert_non_null(fp);
    fclose(fp);
    assert_int_equal(truncate(p, size), 0);
    free(p);
}

static void
test_segment_writer_find_start(void **state)
{
    struct fx *f = *state;
    struct br_error err;
    uint32_t tli = 0;
    uint64_t lsn = 0;

    /* empty: nothing to resume from */
    assert_int_equal(segment_writer_find_start(f->dir, SEG, &tli, &lsn, &err), 0);

    /* complete segments only: the next one */
    touch(f, "000000010000000000000003", SEG);
    touch(f, "000000010000000000000004", SEG);
    touch(f, "garbage.txt", 10);
    touch(f, "00000002.history", 10);
    assert_int_equal(segment_writer_find_start(f->dir, SEG, &tli, &lsn, &err), 1);
    assert_int_equal(tli, 1);
    assert_true(lsn == 5 * (uint64_t) SEG);

    /* a complete segment of the wrong size does not count */
    touch(f, "000000010000000000000007", 100);
    assert_int_equal(segment_writer_find_start(f->dir, SEG, &tli, &lsn, &err), 1);
    assert_true(lsn == 5 * (uint64_t) SEG);

    /* a partial: from its start, whatever its size */
    touch(f, "000000010000000000000005.partial", 0);
    assert_int_equal(segment_writer_find_start(f->dir, SEG, &tli, &lsn, &err), 1);
    assert_true(lsn == 5 * (uint64_t) SEG);

    /* the same segment on a newer timeline wins */
    touch(f, "000000020000000000000005.partial", SEG);
    assert_int_equal(segment_writer_find_start(f->dir, SEG, &tli, &lsn, &err), 1);
    assert_int_equal(tli, 2);
    assert_true(lsn == 5 * (uint64_t) SEG);

    /* a complete segment wins over its own partial */
    touch(f, "000000020000000000000005", SEG);
    assert_int_equal(segment_writer_find_start(f->dir, SEG, &tli, &lsn, &err), 1);
    assert_int_equal(tli, 2);
    assert_true(lsn == 6 * (uint64_t) SEG);

    /* segment numbers past the first log id */
    touch(f, "000000020000000100000002", SEG);
    assert_int_equal(segment_writer_find_start(f->dir, SEG, &tli, &lsn, &err), 1);
    assert_true(lsn == ((uint64_t) 1 << 32) + 3 * (uint64_t) SEG);

    assert_int_equal(segment_writer_find_start("/nonexistent/dir", SEG, &tli, &lsn, &err), -1);
    assert_int_equal(err.code, BR_E_IO);
}

static void
test_segment_writer_resume_from_partial(void **state)
{
    struct fx *f = *state;
    struct br_error err;
    static const size_t chunk[] = {4096};
    uint32_t tli;
    uint64_t lsn, start = 7 * (uint64_t) SEG;

    /* a first run stops in the middle of segment 7 (SIGKILL: no flush, no close) */
    assert_int_equal(segment_writer_begin(f->w, 1, start, &err), 0);
    feed(f, start, SEG / 3, chunk, 1);
    segment_writer_free(f->w);

    /* the next run starts at the partial's beginning, rewrites it in place and completes it */
    assert_int_equal(segment_writer_find_start(f->dir, SEG, &tli, &lsn, &err), 1);
    assert_true(lsn == start);
    f->w = segment_writer_new(f->dir, SEG, collect_notice, f);
    assert_int_equal(segment_writer_begin(f->w, tli, lsn, &err), 0);
    feed(f, start, SEG + 100, chunk, 1);
    assert_segment(f, "000000010000000000000007", start, SEG);
    assert_segment(f, "000000010000000000000008.partial", start + SEG, 100);
}

static void
test_segment_writer_torn_partial(void **state)
{
    struct fx *f = *state;
    struct br_error err;
    static const size_t chunk[] = {777};
    char *path = NULL;
    off_t old = 0;

    /* nothing to repair */
    assert_int_equal(segment_writer_fix_partial(f->dir, SEG, &path, &old, &err), 0);
    touch(f, "000000010000000000000002.partial", SEG);
    assert_int_equal(segment_writer_fix_partial(f->dir, SEG, &path, &old, &err), 0);

    /* cut short while being padded: the newest partial is truncated, as Barman does */
    touch(f, "000000010000000000000003.partial", 12345);
    assert_int_equal(segment_writer_fix_partial(f->dir, SEG, &path, &old, &err), 1);
    assert_int_equal(old, 12345);
    assert_non_null(strstr(path, "/000000010000000000000003.partial"));
    free(path);
    assert_int_equal(file_size(f, "000000010000000000000003.partial"), 0);

    /* and the writer pads it again before any WAL goes in; a short one it finds itself is padded too */
    touch(f, "000000010000000000000004.partial", 999);
    assert_int_equal(segment_writer_begin(f->w, 1, 3 * (uint64_t) SEG, &err), 0);
    feed(f, 3 * (uint64_t) SEG, SEG + 10, chunk, 1);
    assert_segment(f, "000000010000000000000003", 3 * (uint64_t) SEG, SEG);
    assert_int_equal(file_size(f, "000000010000000000000004.partial"), SEG);
    assert_segment(f, "000000010000000000000004.partial", 4 * (uint64_t) SEG, 10);
}

static void
test_segment_writer_history(void **state)
{
    struct fx *f = *state;
    struct br_error err;
    static const char hist[] = "1\t0/3000158\tno recovery target specified\n";
    char *p, *text;

    assert_int_equal(segment_writer_has_history(f->w, 2), 0);
    assert_int_equal(segment_writer_write_history(f->w, 2, "00000002.history", hist, strlen(hist), &err), 0);
    assert_int_equal(segment_writer_has_history(f->w, 2), 1);
    p = file_in(f, "00000002.history");
    text = h_read_file(p);
    assert_string_equal(text, hist);
    free(text);
    free(p);
    assert_int_equal(file_size(f, "00000002.history.tmp"), -1);

    assert_int_equal(segment_writer_write_history(f->w, 3, "../00000003.history", hist, strlen(hist), &err), -1);
    assert_int_equal(err.code, BR_E_FORMAT);
    assert_string_equal(err.msg, "server replied with history file \"../00000003.history\" for timeline 3, expected "
                                 "\"00000003.history\"");
}

/* ---- message handling ---- */

struct mem_sink {
    uint64_t first_lsn, next_lsn;
    size_t bytes;
    unsigned char data[256];
};

static int
mem_write(void *arg, uint64_t lsn, const void *data, size_t len, struct br_error *err)
{
    struct mem_sink *ms = arg;

    if (ms->bytes == 0)
        ms->first_lsn = lsn;
    else if (lsn != ms->next_lsn)
        return br_error_set(err, BR_E_FORMAT, "gap");
    if (ms->bytes + len <= sizeof(ms->data))
        memcpy(ms->data + ms->bytes, data, len);
    ms->bytes += len;
    ms->next_lsn = lsn + len;
    return 0;
}

static const struct walrecv_sink *
mem_sink_ops(struct mem_sink *ms)
{
    static struct walrecv_sink sink;

    memset(&sink, 0, sizeof(sink));
    sink.arg = ms;
    sink.write = mem_write;
    return &sink;
}

/* 'w' + start + end + time + payload */
static size_t
xlogdata(unsigned char *buf, uint64_t start, uint64_t end, const char *payload)
{
    size_t n = strlen(payload);

    buf[0] = 'w';
    copymsg_put_u64(buf + 1, start);
    copymsg_put_u64(buf + 9, end);
    copymsg_put_u64(buf + 17, 12345);
    memcpy(buf + 25, payload, n);
    return 25 + n;
}

static size_t
keepalive(unsigned char *buf, uint64_t end, int reply)
{
    buf[0] = 'k';
    copymsg_put_u64(buf + 1, end);
    copymsg_put_u64(buf + 9, 999);
    buf[17] = (unsigned char) reply;
    return 18;
}

static void
test_walrecv_handle_xlogdata(void **state)
{
    struct mem_sink ms = {0};
    const struct walrecv_sink *sink = mem_sink_ops(&ms);
    struct walrecv_state st = {.blockpos = 0x3000000};
    struct br_error err;
    unsigned char buf[128];
    size_t n;
    (void) state;

    n = xlogdata(buf, 0x3000000, 0x3000100, "hello ");
    assert_int_equal(walrecv_handle_message(&st, sink, buf, n, &err), 0);
    n = xlogdata(buf, 0x3000006, 0x3000100, "world");
    assert_int_equal(walrecv_handle_message(&st, sink, buf, n, &err), 0);
    assert_true(st.blockpos == 0x300000b);
    assert_true(st.server_wal_end == 0x3000100);
    assert_int_equal(ms.bytes, 11);
    assert_memory_equal(ms.data, "hello world", 11);
    assert_true(ms.first_lsn == 0x3000000);
    /* an empty XLogData is legal and writes nothing */
    n = xlogdata(buf, 0x300000b, 0x3000100, "");
    assert_int_equal(walrecv_handle_message(&st, sink, buf, n, &err), 0);
    assert_int_equal(ms.bytes, 11);
    assert_int_equal(st.messages, 3);

    /* data that does not continue the stream */
    n = xlogdata(buf, 0x3000020, 0x3000100, "x");
    assert_int_equal(walrecv_handle_message(&st, sink, buf, n, &err), -1);
    assert_int_equal(err.code, BR_E_FORMAT);
    assert_string_equal(err.msg, "received WAL data at 0/3000020, expected it at 0/300000B");
    assert_int_equal(ms.bytes, 11);
}

static void
test_walrecv_handle_keepalive(void **state)
{
    struct mem_sink ms = {0};
    const struct walrecv_sink *sink = mem_sink_ops(&ms);
    struct walrecv_state st = {.blockpos = 0x1000000};
    struct br_error err;
    unsigned char buf[64];
    size_t n;
    (void) state;

    n = keepalive(buf, 0x1000500, 0);
    assert_int_equal(walrecv_handle_message(&st, sink, buf, n, &err), 0);
    assert_int_equal(st.reply_requested, 0);
    assert_true(st.server_wal_end == 0x1000500);
    n = keepalive(buf, 0x1000600, 1);
    assert_int_equal(walrecv_handle_message(&st, sink, buf, n, &err), 0);
    assert_int_equal(st.reply_requested, 1);
    assert_true(st.blockpos == 0x1000000);

    /* trailing byte */
    n = keepalive(buf, 0x1000600, 0);
    buf[n++] = 0;
    assert_int_equal(walrecv_handle_message(&st, sink, buf, n, &err), -1);
    assert_string_equal(err.msg, "malformed keepalive message from the server: 1 unexpected trailing bytes");
    /* short */
    assert_int_equal(walrecv_handle_message(&st, sink, buf, 10, &err), -1);
    assert_string_equal(err.msg, "malformed keepalive message from the server: 10 bytes, expected at least 17");
}

static void
test_walrecv_handle_bad_messages(void **state)
{
    struct mem_sink ms = {0};
    const struct walrecv_sink *sink = mem_sink_ops(&ms);
    struct walrecv_state st = {0};
    struct br_error err;
    unsigned char buf[64] = {'w', 0, 0};
    (void) state;

    /* empty */
    assert_int_equal(walrecv_handle_message(&st, sink, buf, 0, &err), -1);
    assert_int_equal(err.code, BR_E_FORMAT);
    assert_string_equal(err.msg, "malformed streaming header message from the server: 0 bytes, expected at least 1");
    /* XLogData header cut short */
    assert_int_equal(walrecv_handle_message(&st, sink, buf, 20, &err), -1);
    assert_string_equal(err.msg, "malformed XLogData message from the server: 20 bytes, expected at least 25");
    /* unknown type */
    buf[0] = 'z';
    assert_int_equal(walrecv_handle_message(&st, sink, buf, 1, &err), -1);
    assert_string_equal(err.msg, "unrecognized streaming header: \"z\"");
    buf[0] = 0x01;
    assert_int_equal(walrecv_handle_message(&st, sink, buf, 1, &err), -1);
    assert_string_equal(err.msg, "unrecognized streaming header: \"?\"");
    assert_int_equal(ms.bytes, 0);
}

static void
test_walrecv_build_status(void **state)
{
    unsigned char buf[WALRECV_STATUS_LEN];
    static const unsigned char want[WALRECV_STATUS_LEN] = {
        'r',
        0, 0, 0, 0, 0x05, 0x00, 0x01, 0x00,      /* write 0/5000100 */
        0, 0, 0, 0, 0x05, 0x00, 0x00, 0x00,      /* flush 0/5000000 */
        0, 0, 0, 0, 0, 0, 0, 0,                  /* apply: invalid */
        0, 0, 0, 0, 0, 0, 0x30, 0x39,            /* sendTime 12345 */
        0,                                       /* no reply requested */
    };
    (void) state;

    walrecv_build_status(buf, 0x5000100, 0x5000000, 12345, 0);
    assert_memory_equal(buf, want, sizeof(want));
    /* the clock is the protocol's: microseconds since 2000-01-01, so after 2020 it is past 6.3e14 */
    assert_true(walrecv_now_us() > INT64_C(631152000000000));
}

/* synchronous_standby_names in each of PostgreSQL's forms, matched as PostgreSQL matches application_name. */
static void
test_walrecv_standby_listed(void **state)
{
    static const struct {
        const char *names;
        int listed;
    } cases[] = {
        {"", 0},
        {"barman_receive_wal", 1},
        {"BARMAN_RECEIVE_WAL", 1},                          /* case-insensitive, as syncrep.c */
        {"other, barman_receive_wal", 1},
        {"other,barman_receive_wal ", 1},
        {"*", 1},
        {"other, *", 1},
        {"FIRST 1 (other, barman_receive_wal)", 1},
        {"ANY 2 (\"barman_receive_wal\", other)", 1},
        {"2 (a, b)", 0},
        {"barman_receive_wal_2", 0},
        {"barman", 0},
        {"\"barman_receive_wal, x\"", 0},                  /* one quoted name with a comma in it */
        {"FIRST 1 (other", 0},                              /* unbalanced: nothing matches */
        {"\"a\"\"b\"", 0},
    };
    (void) state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (walrecv_standby_listed(cases[i].names, "barman_receive_wal") != cases[i].listed)
            fail_msg("'%s': expected %d", cases[i].names, cases[i].listed);
    assert_int_equal(walrecv_standby_listed("\"a\"\"b\"", "a\"b"), 1);
    assert_int_equal(walrecv_standby_listed(NULL, "x"), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_segment_writer_crosses_boundaries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_segment_writer_rejects_wrong_offsets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_segment_writer_close_partial_keeps_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_segment_writer_find_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_segment_writer_resume_from_partial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_segment_writer_torn_partial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_segment_writer_history, setup, teardown),
        cmocka_unit_test(test_walrecv_handle_xlogdata),
        cmocka_unit_test(test_walrecv_handle_keepalive),
        cmocka_unit_test(test_walrecv_handle_bad_messages),
        cmocka_unit_test(test_walrecv_build_status),
        cmocka_unit_test(test_walrecv_standby_listed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
