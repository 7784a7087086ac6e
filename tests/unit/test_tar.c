/*
 * test_tar.c: the tar parser, tap and member capture stages (stage_tar.c).
 *
 * Archives are made by GNU tar (ustar, gnu and pax formats, long names,
 * files of 0, 511, 512, 513 bytes, a directory and a symlink) and fed
 * whole, byte by byte, cut at 511/512/513 and at random points: the member
 * events must be the same every time. The tap must forward the bytes
 * untouched, capture backup_label, and complete an archive that lacks its
 * end-of-archive blocks; truncated and corrupt archives are errors.
 */
#include "barrel/build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/stat.h>
#include <unistd.h>

#include "barrel/error.h"
#include "barrel/mem.h"
#include "barrel/stage.h"
#include "barrel/strbuf.h"
#include "harness.h"

#define LONG_NAME "a_directory_with_a_rather_long_name_to_exceed_the_ustar_limits/" \
                  "and_a_file_whose_name_is_long_too_because_tar_has_only_100_bytes_for_it.dat"

static const char *const label_text =
    "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n"
    "CHECKPOINT LOCATION: 0/2000060\n"
    "BACKUP METHOD: streamed\n"
    "BACKUP FROM: primary\n"
    "START TIME: 2026-11-22 12:58:29 UTC\n"
    "LABEL: barrel backup pg 20261122T125829\n"
    "START TIMELINE: 1\n";

struct tarfx {
    char *dir;
    unsigned char *data;
    size_t len;
};

static void
write_sized(const char *path, size_t size)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    for (size_t i = 0; i < size; i++)
        fputc('a' + (int) (i % 26), fp);
    fclose(fp);
}

/* Make an archive with GNU tar in the given format and read it into fx. */
static void
make_archive(struct tarfx *fx, const char *format, int with_long_name)
{
    struct h_result r;
    char *src, *path, *text;
    size_t len;

    fx->dir = h_mkdtemp();
    src = br_asprintf("%s/src", fx->dir);
    assert_int_equal(mkdir(src, 0755), 0);
    path = br_asprintf("%s/backup_label", src);
    h_write_file(path, label_text);
    free(path);
    path = br_asprintf("%s/tablespace_map", src);
    h_write_file(path, "16384 /tmp/tbs1\n");
    free(path);
    {
        static const size_t sizes[] = {0, 1, 511, 512, 513, 1024, 70000};
        for (size_t i = 0; i < BR_ARRAY_LEN(sizes); i++) {
            path = br_asprintf("%s/f%zu", src, sizes[i]);
            write_sized(path, sizes[i]);
            free(path);
        }
    }
    path = br_asprintf("%s/pg_wal/archive_status", src);
    r = h_sh("mkdir -p '%s' && ln -s /tmp/somewhere '%s/pg_tblspc_link'", path, src);
    assert_int_equal(r.status, 0);
    h_result_free(&r);
    free(path);
    if (with_long_name) {
        path = br_asprintf("%s/" LONG_NAME, src);
        r = h_sh("mkdir -p \"$(dirname '%s')\"", path);
        h_result_free(&r);
        write_sized(path, 1000);
        free(path);
    }
    r = h_sh("cd '%s' && tar --format=%s --sort=name -cf ../a.tar .", src, format);
    assert_int_equal(r.status, 0);
    h_result_free(&r);
    path = br_asprintf("%s/a.tar", fx->dir);
    text = h_read_file(path);
    assert_non_null(text);
    {
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        len = (size_t) st.st_size;
    }
    fx->data = (unsigned char *) text;
    fx->len = len;
    free(path);
    free(src);
}

static void
free_archive(struct tarfx *fx)
{
    h_rmtree(fx->dir);
    free(fx->dir);
    free(fx->data);
}

/* Push data in pieces: 0 whole, 1 byte by byte, 2 at 511/512/513, 3 random. Returns push/finish status. */
static int
push_pieces(struct stage *st, const unsigned char *data, size_t len, int mode, struct br_error *err)
{
    static const size_t cuts[] = {511, 512, 513};
    size_t pos = 0, k = 0;
    uint32_t x = 7;

    while (pos < len) {
        size_t n;
        switch (mode) {
        case 0: n = len; break;
        case 1: n = 1; break;
        case 2: n = cuts[k++ % 3]; break;
        default: x = x * 1103515245u + 12345u; n = 1 + (x >> 16) % 3000; break;
        }
        if (n > len - pos)
            n = len - pos;
        if (stage_push_raw(st, data + pos, n, err) != 0)
            return -1;
        pos += n;
    }
    return stage_finish(st, err);
}

/* Parse fx with the parser into a memory sink; returns the event text (new string). */
static char *
parse_events(const unsigned char *data, size_t len, int mode)
{
    struct stage *sink = stage_mem_sink_new();
    struct stage *parser = stage_tar_parser_new(sink);
    struct br_error err;
    const unsigned char *out;
    size_t out_len;
    char *text;

    if (push_pieces(parser, data, len, mode, &err) != 0)
        fail_msg("parse failed (mode %d): %s", mode, err.msg);
    assert_true(stage_mem_sink_finished(sink));
    out = stage_mem_sink_data(sink, &out_len);
    text = br_strndup((const char *) out, out_len);
    stage_free(parser);
    return text;
}

static void
check_format(const char *format, int with_long_name)
{
    struct tarfx fx;
    char *whole;

    make_archive(&fx, format, with_long_name);
    whole = parse_events(fx.data, fx.len, 0);
    /* what must be there, in the archive's order */
    {
        char *hdr = br_asprintf("<member backup_label f %zu>", strlen(label_text));
        assert_non_null(strstr(whole, hdr));
        free(hdr);
    }
    assert_non_null(strstr(whole, label_text));
    assert_non_null(strstr(whole, "<member f0 f 0></member>"));
    assert_non_null(strstr(whole, "<member f511 f 511>"));
    assert_non_null(strstr(whole, "<member f512 f 512>"));
    assert_non_null(strstr(whole, "<member f513 f 513>"));
    assert_non_null(strstr(whole, "<member f70000 f 70000>"));
    assert_non_null(strstr(whole, "<member pg_wal/archive_status d 0></member>"));
    assert_non_null(strstr(whole, "<member pg_tblspc_link l 0></member>"));
    if (with_long_name)
        assert_non_null(strstr(whole, "<member " LONG_NAME " f 1000>"));
    assert_non_null(strstr(whole, "<end>"));
    for (int mode = 1; mode <= 3; mode++) {
        char *other = parse_events(fx.data, fx.len, mode);
        assert_string_equal(other, whole);
        free(other);
    }
    free(whole);
    free_archive(&fx);
}

static void
test_tar_parser_ustar(void **state)
{
    (void) state;
    check_format("ustar", 0);
}

static void
test_tar_parser_gnu_long_names(void **state)
{
    (void) state;
    check_format("gnu", 1);
}

static void
test_tar_parser_pax_long_names(void **state)
{
    (void) state;
    check_format("pax", 1);
}

/* The tap forwards the bytes untouched and captures backup_label and tablespace_map, whatever the cuts. */
static void
test_tar_tap_forwards_and_captures(void **state)
{
    struct tarfx fx;
    (void) state;

    make_archive(&fx, "ustar", 0);
    for (int mode = 0; mode <= 3; mode++) {
        struct strbuf label, map;
        int found_label = 0, found_map = 0;
        int64_t added = 0;
        struct stage *sink = stage_mem_sink_new();
        struct stage *side = stage_member_capture_new("backup_label", &label, 65536, &found_label,
                                                      stage_member_capture_new("tablespace_map", &map, 65536,
                                                                               &found_map, NULL));
        struct stage *tap;
        struct br_error err;
        const unsigned char *out;
        size_t out_len;

        strbuf_init(&label);
        strbuf_init(&map);
        tap = stage_tar_tap_new(sink, side, 1, &added);
        if (push_pieces(tap, fx.data, fx.len, mode, &err) != 0)
            fail_msg("tap failed (mode %d): %s", mode, err.msg);
        out = stage_mem_sink_data(sink, &out_len);
        assert_int_equal(out_len, fx.len);
        assert_memory_equal(out, fx.data, fx.len);
        assert_int_equal(added, 0);
        assert_true(found_label);
        assert_true(found_map);
        assert_string_equal(label.buf, label_text);
        assert_string_equal(map.buf, "16384 /tmp/tbs1\n");
        stage_free(tap);
        strbuf_free(&label);
        strbuf_free(&map);
    }
    free_archive(&fx);
}

/* Length of the archive without its end-of-archive blocks and record padding. */
static size_t
content_length(const struct tarfx *fx)
{
    size_t len = fx->len;

    while (len >= 512) {
        int zero = 1;
        for (size_t i = len - 512; i < len; i++)
            if (fx->data[i] != 0) {
                zero = 0;
                break;
            }
        if (!zero)
            break;
        len -= 512;
    }
    /* the last non-zero block may be the padded end of a member: keep it */
    return len;
}

/* An archive without its two zero blocks is completed by the tap, and refused when asked not to. */
static void
test_tar_tap_completes_trailer(void **state)
{
    struct tarfx fx;
    size_t cut;
    (void) state;

    make_archive(&fx, "ustar", 0);
    cut = content_length(&fx);
    for (int blocks = 0; blocks <= 1; blocks++) {
        for (int mode = 0; mode <= 3; mode++) {
            struct stage *sink = stage_mem_sink_new();
            int64_t added = 0;
            struct stage *tap = stage_tar_tap_new(sink, stage_mem_sink_new(), 1, &added);
            struct br_error err;
            const unsigned char *out;
            size_t out_len, in_len = cut + (size_t) blocks * 512;

            if (push_pieces(tap, fx.data, in_len, mode, &err) != 0)
                fail_msg("tap failed: %s", err.msg);
            out = stage_mem_sink_data(sink, &out_len);
            assert_int_equal(added, (2 - blocks) * 512);
            assert_int_equal(out_len, cut + 1024);
            assert_memory_equal(out, fx.data, cut);
            for (size_t i = cut; i < out_len; i++)
                assert_int_equal(out[i], 0);
            stage_free(tap);
        }
    }
    {
        struct stage *tap = stage_tar_tap_new(stage_mem_sink_new(), NULL, 0, NULL);
        struct br_error err;

        assert_int_equal(push_pieces(tap, fx.data, cut, 0, &err), -1);
        assert_string_equal(err.msg, "tar archive has no end-of-archive blocks");
        stage_free(tap);
    }
    free_archive(&fx);
}

/* Truncated archives, bad checksums and garbage after the end are errors. */
static void
test_tar_parser_errors(void **state)
{
    struct tarfx fx;
    struct br_error err;
    struct stage *st;
    unsigned char *copy;
    (void) state;

    make_archive(&fx, "ustar", 0);

    /* cut inside the header of the first member */
    st = stage_tar_parser_new(stage_mem_sink_new());
    assert_int_equal(push_pieces(st, fx.data, 300, 2, &err), -1);
    assert_string_equal(err.msg, "tar archive is truncated at offset 300");
    stage_free(st);

    /* cut inside backup_label's contents (the first member, sorted by name: backup_label) */
    st = stage_tar_tap_new(stage_mem_sink_new(), NULL, 1, NULL);
    assert_int_equal(push_pieces(st, fx.data, 512 + 100, 1, &err), -1);
    assert_non_null(strstr(err.msg, "tar archive is truncated at offset 612"));
    stage_free(st);

    /* a flipped byte in a header */
    copy = br_malloc(fx.len);
    memcpy(copy, fx.data, fx.len);
    copy[10] ^= 0x55;
    st = stage_tar_parser_new(stage_mem_sink_new());
    assert_int_equal(push_pieces(st, copy, fx.len, 3, &err), -1);
    assert_string_equal(err.msg, "invalid tar header checksum at offset 0");
    stage_free(st);

    /* garbage after the end-of-archive blocks */
    memcpy(copy, fx.data, fx.len);
    copy[fx.len - 1] = 'x';
    st = stage_tar_parser_new(stage_mem_sink_new());
    assert_int_equal(push_pieces(st, copy, fx.len, 0, &err), -1);
    assert_non_null(strstr(err.msg, "data after the end of the tar archive"));
    stage_free(st);
    free(copy);

    /* a capture refuses a member larger than it may hold */
    {
        struct strbuf sb;
        strbuf_init(&sb);
        st = stage_tar_tap_new(stage_mem_sink_new(), stage_member_capture_new("f70000", &sb, 1000, NULL, NULL), 1,
                               NULL);
        assert_int_equal(push_pieces(st, fx.data, fx.len, 0, &err), -1);
        assert_string_equal(err.msg, "member \"f70000\" is too large (70000 bytes, at most 1000 expected)");
        stage_free(st);
        strbuf_free(&sb);
    }
    free_archive(&fx);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tar_parser_ustar),
        cmocka_unit_test(test_tar_parser_gnu_long_names),
        cmocka_unit_test(test_tar_parser_pax_long_names),
        cmocka_unit_test(test_tar_tap_forwards_and_captures),
        cmocka_unit_test(test_tar_tap_completes_trailer),
        cmocka_unit_test(test_tar_parser_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
