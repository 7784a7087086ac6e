/*
 * test_stage.c: the stage chain: compressors and decompressors fed whole,
 * byte by byte and split at 511/512/513 and at random points must give the
 * same bytes; their output must be readable by the standard tools (zstd,
 * gzip, lz4, bzip2); the file sink must never leave a file under its final
 * name unless it finished.
 */
#include "barrel/build.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/stat.h>
#include <unistd.h>

#include "barrel/error.h"
#include "barrel/fs.h"
#include "barrel/mem.h"
#include "barrel/stage.h"
#include "harness.h"

#define INPUT_LEN (300 * 1024 + 7)

static unsigned char *input;

static int
setup_input(void **state)
{
    uint32_t x = 12345;
    (void) state;

    /* half text-like (compressible), half pseudo-random (not) */
    input = br_malloc(INPUT_LEN);
    for (size_t i = 0; i < INPUT_LEN; i++) {
        x = x * 1103515245u + 12345u;
        input[i] = i < INPUT_LEN / 2 ? (unsigned char) ("barrel backs up postgres "[i % 25]) : (unsigned char) (x >> 16);
    }
    return 0;
}

static int
teardown_input(void **state)
{
    (void) state;
    free(input);
    return 0;
}

/* Push input through st in pieces cut by `mode`: 0 whole, 1 byte by byte, 2 at 511/512/513, 3 random. */
static void
push_pieces(struct stage *st, const unsigned char *data, size_t len, int mode)
{
    struct br_error err;
    size_t pos = 0;
    uint32_t x = 99;
    static const size_t cuts[] = {511, 512, 513};

    while (pos < len) {
        size_t n;
        switch (mode) {
        case 0: n = len; break;
        case 1: n = 1; break;
        case 2: n = cuts[(pos / 7) % 3]; break;
        default: x = x * 1103515245u + 12345u; n = 1 + (x >> 16) % 9000; break;
        }
        if (n > len - pos)
            n = len - pos;
        if (stage_push_raw(st, data + pos, n, &err) != 0)
            fail_msg("push failed at %zu: %s", pos, err.msg);
        pos += n;
    }
    if (stage_finish(st, &err) != 0)
        fail_msg("finish failed (mode %d): %s", mode, err.msg);
}

static void
test_stage_zstd_round_trip_any_split(void **state)
{
    (void) state;
    for (int mode = 0; mode < 4; mode++) {
        /* byte-by-byte over 300 KiB is slow under sanitizers: use a prefix for that mode */
        size_t len = mode == 1 ? 20000 : INPUT_LEN;
        struct br_error err;
        struct stage *csink = stage_mem_sink_new();
        struct stage *comp = stage_zstd_compress_new(3, mode == 3 ? 2 : 0, mode != 2, csink, &err);
        size_t clen, dlen;

        assert_non_null(comp);
        push_pieces(comp, input, len, mode);
        const unsigned char *cdata = stage_mem_sink_data(csink, &clen);
        assert_true(clen > 0 && clen < len);
        assert_int_equal(cdata[0], 0x28);      /* zstd magic 28 b5 2f fd */
        assert_int_equal(cdata[3], 0xfd);
        /* frame header descriptor: Content_Checksum_flag (bit 2) as asked (mode 2 without) */
        assert_int_equal((cdata[4] & 0x04) != 0, mode != 2);

        struct stage *dsink = stage_mem_sink_new();
        struct stage *dec = stage_zstd_decompress_new(dsink, &err);
        push_pieces(dec, cdata, clen, mode == 1 ? 3 : mode);
        const unsigned char *ddata = stage_mem_sink_data(dsink, &dlen);
        assert_int_equal(dlen, len);
        assert_memory_equal(ddata, input, len);
        assert_true(stage_mem_sink_finished(dsink));
        stage_free(dec);
        stage_free(comp);
    }
}

static void
test_stage_zstd_decompress_truncated_fails(void **state)
{
    struct br_error err;
    struct stage *csink = stage_mem_sink_new();
    struct stage *comp = stage_zstd_compress_new(1, 0, 1, csink, &err);
    size_t clen;
    (void) state;

    push_pieces(comp, input, INPUT_LEN, 0);
    const unsigned char *cdata = stage_mem_sink_data(csink, &clen);
    struct stage *dec = stage_zstd_decompress_new(stage_mem_sink_new(), &err);
    assert_int_equal(stage_push_raw(dec, cdata, clen - 10, &err), 0);
    assert_int_equal(stage_finish(dec, &err), -1);
    assert_int_equal(err.code, BR_E_FORMAT);
    assert_string_equal(err.msg, "zstd data is truncated: the last frame is incomplete");
    stage_free(dec);

    /* a flipped byte in the middle is caught by the frame checksum or the decoder */
    unsigned char *bad = br_malloc(clen);
    memcpy(bad, cdata, clen);
    bad[clen / 2] ^= 0x55;
    dec = stage_zstd_decompress_new(stage_mem_sink_new(), &err);
    int rc = stage_push_raw(dec, bad, clen, &err);
    if (rc == 0)
        rc = stage_finish(dec, &err);
    assert_int_equal(rc, -1);
    assert_int_equal(err.code, BR_E_FORMAT);
    assert_non_null(strstr(err.msg, "zstd data is corrupt"));
    stage_free(dec);
    free(bad);
    stage_free(comp);
}

/* Compress through the stage into a file, then decompress with the standard CLI and compare. */
static void
check_with_cli(struct stage *(*make)(struct stage *next, struct br_error *err), const char *cli, const char *name)
{
    char *dir = h_mkdtemp(), *path = path_join(dir, name), *orig = path_join(dir, "orig");
    struct br_error err;
    struct stage *sink = stage_file_sink_new(path, 0600, &err);
    struct stage *comp;

    assert_non_null(sink);
    comp = make(sink, &err);
    assert_non_null(comp);
    push_pieces(comp, input, INPUT_LEN, 2);
    stage_free(comp);
    assert_true(path_is_file(path));
    FILE *fp = fopen(orig, "w");
    assert_non_null(fp);
    assert_int_equal(fwrite(input, 1, INPUT_LEN, fp), INPUT_LEN);
    fclose(fp);
    struct h_result r = h_sh("%s < '%s' | cmp - '%s'", cli, path, orig);
    assert_int_equal(r.status, 0);
    h_result_free(&r);
    h_rmtree(dir);
    free(dir);
    free(path);
    free(orig);
}

static struct stage *make_zstd(struct stage *next, struct br_error *err) { return stage_zstd_compress_new(3, 1, 0, next, err); }
static struct stage *make_gzip(struct stage *next, struct br_error *err) { return stage_filter_compress_new(FILTER_GZIP, 6, next, err); }
static struct stage *make_lz4(struct stage *next, struct br_error *err) { return stage_filter_compress_new(FILTER_LZ4, 0, next, err); }
static struct stage *make_bzip2(struct stage *next, struct br_error *err) { return stage_filter_compress_new(FILTER_BZIP2, 9, next, err); }

static void test_stage_zstd_readable_by_zstd_cli(void **state) { (void) state; check_with_cli(make_zstd, "zstd -dc", "base.tar.zst"); }
static void test_stage_gzip_readable_by_gzip_cli(void **state) { (void) state; check_with_cli(make_gzip, "gzip -dc", "base.tar.gz"); }
static void test_stage_lz4_readable_by_lz4_cli(void **state) { (void) state; check_with_cli(make_lz4, "lz4 -dc", "base.tar.lz4"); }
static void test_stage_bzip2_readable_by_bzip2_cli(void **state) { (void) state; check_with_cli(make_bzip2, "bzip2 -dc", "wal.bz2"); }

static void
test_stage_file_sink_no_final_file_without_finish(void **state)
{
    char *dir = h_mkdtemp(), *path = path_join(dir, "base.tar.zst"), *tmp = br_asprintf("%s.tmp", path);
    struct br_error err;
    struct stage *sink = stage_file_sink_new(path, 0600, &err);
    (void) state;

    assert_int_equal(stage_push_raw(sink, "abc", 3, &err), 0);
    assert_true(path_exists(tmp));
    assert_false(path_exists(path));
    stage_free(sink);                 /* abandoned: the temporary file goes too */
    assert_false(path_exists(tmp));
    assert_false(path_exists(path));

    sink = stage_file_sink_new(path, 0600, &err);
    assert_int_equal(stage_push_raw(sink, "abc", 3, &err), 0);
    assert_int_equal(stage_finish(sink, &err), 0);
    assert_int_equal(stage_file_sink_bytes(sink), 3);
    stage_free(sink);
    assert_false(path_exists(tmp));
    char *text = h_read_file(path);
    assert_string_equal(text, "abc");
    free(text);

    /* parent is a file: clear error naming the temporary file */
    char *bad = path_join(path, "x");
    assert_null(stage_file_sink_new(bad, 0600, &err));
    char *expect = br_asprintf("could not create file \"%s.tmp\": Not a directory", bad);
    assert_string_equal(err.msg, expect);
    free(expect);
    free(bad);
    h_rmtree(dir);
    free(dir);
    free(path);
    free(tmp);
}

/* archive_reader_run of dir/name into a memory sink: its bytes (*len), or NULL with err */
static char *
read_archive(const char *dir, const char *name, size_t *out_len, struct br_error *err)
{
    char *path = path_join(dir, name);
    struct stage *sink = stage_mem_sink_new();
    char *text = NULL;
    size_t len;

    if (archive_reader_run(path, "", sink, err) == 0) {
        const unsigned char *d = stage_mem_sink_data(sink, &len);
        text = br_malloc(len + 1);
        memcpy(text, d, len);
        text[len] = '\0';
        *out_len = len;
    }
    stage_free(sink);
    free(path);
    return text;
}

/*
 * A .tar.zst is decompressed on a thread of its own into a ring of 1 MiB
 * blocks (archive_reader.c): the members come out exactly as from the
 * plain tar, across block boundaries (3 MiB + 1 file, a file of exactly
 * 1 MiB), with two concatenated frames, and a truncated or damaged archive
 * fails with a message naming it.
 */
static void
test_stage_archive_reader_zstd_pipe(void **state)
{
    char *dir = h_mkdtemp();
    struct br_error err;
    struct h_result r;
    char *plain, *zst, *multi, *bad;
    size_t lp = 0, lz = 0, lm = 0, lb = 0;
    (void) state;

    r = h_sh("cd '%s' && mkdir t && head -c 3145729 /dev/urandom > t/big && head -c 1048576 /dev/zero > t/mib "
             "&& printf small > t/small && tar -cf plain.tar -C t . && zstd -q -3 plain.tar -o one.tar.zst "
             "&& head -c 2000000 plain.tar | zstd -q -c > multi.tar.zst "
             "&& tail -c +2000001 plain.tar | zstd -q -c >> multi.tar.zst "
             "&& head -c 1500000 one.tar.zst > trunc.tar.zst "
             "&& cp one.tar.zst bad.tar.zst && printf 'XXXXXXXX' | dd of=bad.tar.zst bs=1 seek=100 conv=notrunc 2>/dev/null",
             dir);
    assert_int_equal(r.status, 0);
    h_result_free(&r);

    plain = read_archive(dir, "plain.tar", &lp, &err);
    assert_non_null(plain);
    assert_non_null(memmem(plain, lp, "<member big f 3145729>", 22));
    assert_non_null(memmem(plain, lp, "<member mib f 1048576>", 22));
    zst = read_archive(dir, "one.tar.zst", &lz, &err);
    if (zst == NULL)
        fail_msg("one.tar.zst: %s", err.msg);
    assert_true(lz == lp && memcmp(zst, plain, lp) == 0);
    multi = read_archive(dir, "multi.tar.zst", &lm, &err);
    if (multi == NULL)
        fail_msg("multi.tar.zst: %s", err.msg);
    assert_true(lm == lp && memcmp(multi, plain, lp) == 0);

    assert_null(read_archive(dir, "trunc.tar.zst", &lb, &err));
    assert_non_null(strstr(err.msg, "trunc.tar.zst"));
    bad = read_archive(dir, "bad.tar.zst", &lb, &err);
    if (bad != NULL) {
        /* a flip the decoder cannot see changes the bytes (the manifest's CRC catches that) */
        assert_false(lb == lp && memcmp(bad, plain, lp) == 0);
        free(bad);
    } else {
        assert_non_null(strstr(err.msg, "bad.tar.zst"));
    }
    free(plain);
    free(zst);
    free(multi);
    h_rmtree(dir);
    free(dir);
}

static void
test_stage_counter_counts_and_forwards(void **state)
{
    int64_t count = 0;
    struct stage *sink = stage_mem_sink_new();
    struct stage *ctr = stage_counter_new(sink, &count);
    size_t len;
    (void) state;

    push_pieces(ctr, input, 1000, 2);
    assert_int_equal(count, 1000);
    assert_memory_equal(stage_mem_sink_data(sink, &len), input, 1000);
    stage_free(ctr);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stage_zstd_round_trip_any_split),
        cmocka_unit_test(test_stage_zstd_decompress_truncated_fails),
        cmocka_unit_test(test_stage_zstd_readable_by_zstd_cli),
        cmocka_unit_test(test_stage_gzip_readable_by_gzip_cli),
        cmocka_unit_test(test_stage_lz4_readable_by_lz4_cli),
        cmocka_unit_test(test_stage_bzip2_readable_by_bzip2_cli),
        cmocka_unit_test(test_stage_file_sink_no_final_file_without_finish),
        cmocka_unit_test(test_stage_counter_counts_and_forwards),
        cmocka_unit_test(test_stage_archive_reader_zstd_pipe),
    };
    return cmocka_run_group_tests_name("stage", tests, setup_input, teardown_input);
}
