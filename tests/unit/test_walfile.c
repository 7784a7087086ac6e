/*
 * test_walfile.c: WAL file compression by Barman's names. Magic detection on
 * the real segments Barman 3.4 compressed (fixtures catalog/wal-samples),
 * round trips of every algorithm against the standard tools (what barrel
 * writes, gzip/bzip2/zstd/lz4/xz read; what they write, barrel reads), the
 * custom shell filters, and the duplicate comparison.
 */
#include "barrel/build.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/mem.h"
#include "barrel/stage.h"
#include "barrel/walfile.h"
#include "harness.h"

#define SAMPLE_PLAIN "catalog/wal-samples/000000010000000000000014.uncompressed"
#define SAMPLE_GZIP "catalog/wal-samples/000000010000000000000019.gzip-compressed-by-barman"
#define SAMPLE_BZIP2 "catalog/wal-samples/000000010000000000000012.bzip2-compressed-by-barman"

struct fx {
    char *tmp;
};

static char *
sample(const char *rel)
{
    return br_asprintf("%s/%s", h_fixtures_dir(), rel);
}

static int
setup(void **state)
{
    struct fx *fx = br_calloc(1, sizeof(*fx));
    fx->tmp = h_mkdtemp();
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *fx = *state;
    h_rmtree(fx->tmp);
    free(fx->tmp);
    free(fx);
    return 0;
}

static char *
sha256_of_cmd(const char *cmd)
{
    struct h_result r = h_sh("%s | sha256sum | cut -c1-64", cmd);
    char *out;

    assert_int_equal(r.status, 0);
    out = br_strndup(r.out, 64);
    h_result_free(&r);
    return out;
}

static void
test_walfile_codec_parse_barman_names(void **state)
{
    static const struct {
        const char *name;
        enum walfile_codec codec;
    } cases[] = {
        {"gzip", WALFILE_GZIP},   {"pigz", WALFILE_GZIP}, {"pygzip", WALFILE_GZIP}, {"bzip2", WALFILE_BZIP2},
        {"pybzip2", WALFILE_BZIP2}, {"zstd", WALFILE_ZSTD}, {"lz4", WALFILE_LZ4},   {"xz", WALFILE_XZ},
        {"custom", WALFILE_CUSTOM}, {"none", WALFILE_NONE}, {"None", WALFILE_NONE}, {"", WALFILE_NONE},
    };
    enum walfile_codec c;
    (void) state;

    for (size_t i = 0; i < BR_ARRAY_LEN(cases); i++) {
        assert_int_equal(walfile_codec_parse(cases[i].name, &c), 0);
        assert_int_equal(c, cases[i].codec);
    }
    assert_int_equal(walfile_codec_parse(NULL, &c), 0);
    assert_int_equal(c, WALFILE_NONE);
    assert_int_equal(walfile_codec_parse("snappy", &c), -1);
    assert_int_equal(walfile_codec_parse("GZIP", &c), -1);
    assert_string_equal(walfile_codec_name(WALFILE_GZIP), "gzip");
    assert_string_equal(walfile_codec_name(WALFILE_NONE), "None");
}

static void
test_walfile_identify_fixture_samples(void **state)
{
    struct server_config srv = {0};
    struct br_error err;
    enum walfile_codec c;
    char *p;
    (void) state;

    p = sample(SAMPLE_GZIP);
    assert_int_equal(walfile_identify(p, &srv, 1, &c, &err), 0);
    assert_int_equal(c, WALFILE_GZIP);
    free(p);
    p = sample(SAMPLE_BZIP2);
    assert_int_equal(walfile_identify(p, &srv, 1, &c, &err), 0);
    assert_int_equal(c, WALFILE_BZIP2);
    free(p);
    p = sample(SAMPLE_PLAIN);
    assert_int_equal(walfile_identify(p, &srv, 1, &c, &err), 0);
    assert_int_equal(c, WALFILE_NONE);
    free(p);
    assert_int_equal(walfile_identify("/nonexistent/x", &srv, 1, &c, &err), -1);
    assert_int_equal(err.code, BR_E_IO);
}

static void
test_walfile_identify_barman_order_and_custom(void **state)
{
    static const unsigned char gz[] = {0x1f, 0x8b, 0x08, 0x00}, zst[] = {0x28, 0xb5, 0x2f, 0xfd, 0x00},
                               lz4[] = {0x04, 0x22, 0x4d, 0x18}, xz[] = {0xfd, '7', 'z', 'X', 'Z', 0x00},
                               bz[] = {'B', 'Z', 'h', '9'}, plain[] = {0x10, 0xd1, 0x02, 0x00};
    struct server_config srv = {0};
    char custom[] = "custom", magic[] = "0x1f8b08";
    (void) state;

    assert_int_equal(walfile_identify_bytes(gz, sizeof(gz), &srv, 1), WALFILE_GZIP);
    assert_int_equal(walfile_identify_bytes(zst, sizeof(zst), &srv, 1), WALFILE_ZSTD);
    assert_int_equal(walfile_identify_bytes(lz4, sizeof(lz4), &srv, 1), WALFILE_LZ4);
    assert_int_equal(walfile_identify_bytes(xz, sizeof(xz), &srv, 1), WALFILE_XZ);
    assert_int_equal(walfile_identify_bytes(bz, sizeof(bz), &srv, 1), WALFILE_BZIP2);
    assert_int_equal(walfile_identify_bytes(plain, sizeof(plain), &srv, 1), WALFILE_NONE);
    assert_int_equal(walfile_identify_bytes(gz, 2, &srv, 1), WALFILE_NONE);   /* too short to match */

    /* compression = custom without a magic: anything unidentified is custom, when asked for */
    srv.compression = custom;
    assert_int_equal(walfile_identify_bytes(plain, sizeof(plain), &srv, 1), WALFILE_CUSTOM);
    assert_int_equal(walfile_identify_bytes(plain, sizeof(plain), &srv, 0), WALFILE_NONE);
    assert_int_equal(walfile_identify_bytes(gz, sizeof(gz), &srv, 1), WALFILE_GZIP);
    /* a custom magic is tested before gzip ("custom" < "gzip"), but after bzip2 */
    srv.custom_compression_magic = magic;
    assert_int_equal(walfile_identify_bytes(gz, sizeof(gz), &srv, 1), WALFILE_CUSTOM);
    assert_int_equal(walfile_identify_bytes(plain, sizeof(plain), &srv, 1), WALFILE_NONE);
    assert_int_equal(walfile_identify_bytes(bz, sizeof(bz), &srv, 1), WALFILE_BZIP2);
    /* the magic counts only when the server's compression is custom */
    srv.compression = NULL;
    assert_int_equal(walfile_identify_bytes(gz, sizeof(gz), &srv, 1), WALFILE_GZIP);
}

/* Compress path into out with barrel. */
static void
compress_to(const char *path, const char *out, enum walfile_codec codec, const struct server_config *srv)
{
    struct br_error err;
    int in = open(path, O_RDONLY), fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    assert_true(in >= 0 && fd >= 0);
    if (walfile_compress_fd(in, path, fd, out, codec, srv, &err) != 0)
        fail_msg("compress: %s", err.msg);
    close(in);
    close(fd);
}

static void
test_walfile_round_trips_with_standard_tools(void **state)
{
    static const struct {
        enum walfile_codec codec;
        const char *tool;       /* reads stdin, writes stdout */
    } cases[] = {
        {WALFILE_GZIP, "gzip"}, {WALFILE_BZIP2, "bzip2"}, {WALFILE_ZSTD, "zstd -q"}, {WALFILE_LZ4, "lz4 -q"},
        {WALFILE_XZ, "xz"},
    };
    struct fx *fx = *state;
    struct server_config srv = {0};
    char *plain = sample(SAMPLE_PLAIN);
    char *cmd = br_asprintf("cat '%s'", plain);
    char *want = sha256_of_cmd(cmd);

    free(cmd);
    for (size_t i = 0; i < BR_ARRAY_LEN(cases); i++) {
        char *ours = br_asprintf("%s/ours.%zu", fx->tmp, i);
        char *theirs = br_asprintf("%s/theirs.%zu", fx->tmp, i);
        struct br_error err;
        enum walfile_codec detected;
        char *got;

        /* barrel writes, the tool reads */
        compress_to(plain, ours, cases[i].codec, &srv);
        assert_int_equal(walfile_identify(ours, &srv, 1, &detected, &err), 0);
        assert_int_equal(detected, cases[i].codec);
        cmd = br_asprintf("%s -dc < '%s'", cases[i].tool, ours);
        got = sha256_of_cmd(cmd);
        assert_string_equal(got, want);
        free(got);
        free(cmd);

        /* the tool writes, barrel reads (and compares as Barman's duplicate check) */
        cmd = br_asprintf("%s -c < '%s' > '%s'", cases[i].tool, plain, theirs);
        assert_int_equal(system(cmd), 0);
        free(cmd);
        assert_int_equal(walfile_identify(theirs, &srv, 1, &detected, &err), 0);
        assert_int_equal(detected, cases[i].codec);
        assert_int_equal(walfile_same_content(theirs, detected, plain, WALFILE_NONE, &srv, &err), 1);
        assert_int_equal(walfile_same_content(theirs, detected, ours, cases[i].codec, &srv, &err), 1);
        free(ours);
        free(theirs);
    }
    free(want);
    free(plain);
}

static void
test_walfile_decompress_barman_samples_into_stage(void **state)
{
    struct server_config srv = {0};
    struct br_error err;
    char *gz = sample(SAMPLE_GZIP), *bz = sample(SAMPLE_BZIP2);
    struct stage *sink;
    size_t len;
    (void) state;

    sink = stage_mem_sink_new();
    assert_int_equal(walfile_decompress(gz, WALFILE_GZIP, &srv, sink, &err), 0);
    assert_int_equal(stage_finish(sink, &err), 0);
    stage_mem_sink_data(sink, &len);
    assert_int_equal(len, 16777216);
    stage_free(sink);

    sink = stage_mem_sink_new();
    assert_int_equal(walfile_decompress(bz, WALFILE_BZIP2, &srv, sink, &err), 0);
    stage_mem_sink_data(sink, &len);
    assert_int_equal(len, 16777216);
    stage_free(sink);

    /* a plain file declared gzip is refused, not passed through */
    sink = stage_mem_sink_new();
    free(bz);
    bz = sample(SAMPLE_PLAIN);
    assert_int_equal(walfile_decompress(bz, WALFILE_GZIP, &srv, sink, &err), -1);
    assert_int_equal(err.code, BR_E_FORMAT);
    stage_free(sink);
    free(gz);
    free(bz);
}

static void
test_walfile_corrupt_gzip_is_an_error(void **state)
{
    struct fx *fx = *state;
    struct server_config srv = {0};
    struct br_error err;
    char *path = br_asprintf("%s/bad", fx->tmp);
    char *gz = sample(SAMPLE_GZIP);
    char *cmd = br_asprintf("head -c 4000 '%s' > '%s'", gz, path);
    struct stage *sink = stage_mem_sink_new();

    assert_int_equal(system(cmd), 0);
    assert_int_equal(walfile_decompress(path, WALFILE_GZIP, &srv, sink, &err), -1);
    assert_int_not_equal(err.msg[0], '\0');
    stage_free(sink);
    free(cmd);
    free(gz);
    free(path);
}

static void
test_walfile_custom_filters(void **state)
{
    struct fx *fx = *state;
    struct server_config srv = {0};
    struct br_error err;
    char custom[] = "custom", cfilter[] = "zstd -q -c", dfilter[] = "zstd -q -d -c", magic[] = "0x28b52ffd",
         failing[] = "exit 3";
    char *plain = sample(SAMPLE_PLAIN);
    char *out = br_asprintf("%s/custom", fx->tmp);
    enum walfile_codec detected;

    srv.compression = custom;
    srv.custom_compression_filter = cfilter;
    srv.custom_decompression_filter = dfilter;
    srv.custom_compression_magic = magic;
    compress_to(plain, out, WALFILE_CUSTOM, &srv);
    assert_int_equal(walfile_identify(out, &srv, 1, &detected, &err), 0);
    assert_int_equal(detected, WALFILE_CUSTOM);
    assert_int_equal(walfile_same_content(out, WALFILE_CUSTOM, plain, WALFILE_NONE, &srv, &err), 1);

    /* a failing filter is an error naming it */
    srv.custom_decompression_filter = failing;
    {
        struct stage *sink = stage_mem_sink_new();
        assert_int_equal(walfile_decompress(out, WALFILE_CUSTOM, &srv, sink, &err), -1);
        assert_non_null(strstr(err.msg, "exit 3"));
        stage_free(sink);
    }
    free(out);
    free(plain);
}

static void
test_walfile_same_content_detects_differences(void **state)
{
    struct fx *fx = *state;
    struct server_config srv = {0};
    struct br_error err;
    char *plain = sample(SAMPLE_PLAIN);
    char *copy = br_asprintf("%s/copy", fx->tmp), *shorter = br_asprintf("%s/short", fx->tmp);
    char *cmd = br_asprintf("cp '%s' '%s' && printf X | dd of='%s' bs=1 seek=9000000 conv=notrunc 2>/dev/null && "
                            "head -c 1000000 '%s' > '%s'", plain, copy, copy, plain, shorter);

    assert_int_equal(system(cmd), 0);
    assert_int_equal(walfile_same_content(plain, WALFILE_NONE, copy, WALFILE_NONE, &srv, &err), 0);
    assert_int_equal(walfile_same_content(plain, WALFILE_NONE, shorter, WALFILE_NONE, &srv, &err), 0);
    assert_int_equal(walfile_same_content(plain, WALFILE_NONE, plain, WALFILE_NONE, &srv, &err), 1);
    free(cmd);
    free(copy);
    free(shorter);
    free(plain);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_walfile_codec_parse_barman_names),
        cmocka_unit_test(test_walfile_identify_fixture_samples),
        cmocka_unit_test(test_walfile_identify_barman_order_and_custom),
        cmocka_unit_test_setup_teardown(test_walfile_round_trips_with_standard_tools, setup, teardown),
        cmocka_unit_test(test_walfile_decompress_barman_samples_into_stage),
        cmocka_unit_test_setup_teardown(test_walfile_corrupt_gzip_is_an_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_walfile_custom_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_walfile_same_content_detects_differences, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
