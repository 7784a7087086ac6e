/*
 * test_core.c: unit tests of src/core: WAL-name and LSN arithmetic,
 * Barman's human formats, the JSON writer, durable writes, redaction.
 */
#include "barrel/build.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "barrel/error.h"
#include "barrel/fmt.h"
#include "barrel/fs.h"
#include "barrel/json.h"
#include "barrel/mem.h"
#include "barrel/output.h"
#include "barrel/strbuf.h"
#include "barrel/xlog.h"
#include "harness.h"

static void
test_xlog_lsn_parse_format(void **state)
{
    uint64_t lsn;
    char buf[XLOG_LSN_BUFLEN];
    (void) state;

    assert_int_equal(xlog_lsn_parse("0/1B000000", &lsn), 0);
    assert_true(lsn == 0x1B000000);
    xlog_lsn_format(lsn, buf);
    assert_string_equal(buf, "0/1B000000");
    assert_int_equal(xlog_lsn_parse("1a/abcdef01", &lsn), 0);
    xlog_lsn_format(lsn, buf);
    assert_string_equal(buf, "1A/ABCDEF01");
    assert_int_equal(xlog_lsn_parse("0/", &lsn), -1);
    assert_int_equal(xlog_lsn_parse("01B000000", &lsn), -1);
    assert_int_equal(xlog_lsn_parse("123456789/0", &lsn), -1);
    assert_int_equal(xlog_lsn_parse("0/xyz", &lsn), -1);
}

static void
test_xlog_name_parse_kinds(void **state)
{
    struct xlog_name xn;
    (void) state;

    assert_int_equal(xlog_name_parse("00000001000000000000001A", &xn), XLOG_KIND_SEGMENT);
    assert_int_equal(xn.tli, 1);
    assert_int_equal(xn.seg, 0x1A);
    assert_int_equal(xlog_name_parse("00000001000000000000001a", &xn), XLOG_KIND_SEGMENT);
    assert_int_equal(xlog_name_parse("00000001000000000000000A.00000028.backup", &xn), XLOG_KIND_BACKUP);
    assert_int_equal(xn.backup_offset, 0x28);
    assert_int_equal(xlog_name_parse("00000002.history", &xn), XLOG_KIND_HISTORY);
    assert_int_equal(xn.tli, 2);
    assert_int_equal(xlog_name_parse("00000001000000000000001A.partial", &xn), XLOG_KIND_PARTIAL);
    assert_int_equal(xlog_name_parse("00000001000000000000001A.gz", &xn), XLOG_KIND_NONE);
    assert_int_equal(xlog_name_parse("0000000100000000000001A", &xn), XLOG_KIND_NONE);
    assert_int_equal(xlog_name_parse("garbage.txt", &xn), XLOG_KIND_NONE);
    assert_int_equal(xlog_name_parse("0000000G000000000000001A", &xn), XLOG_KIND_NONE);
}

static void
test_xlog_segment_arithmetic(void **state)
{
    char name[XLOG_NAME_LEN + 1], hash[17];
    uint32_t seg16 = XLOG_DEFAULT_SEGMENT_SIZE;
    (void) state;

    assert_int_equal(xlog_segments_per_log(seg16), 256);
    xlog_segment_name(1, xlog_segno_of_lsn(0x1A000028, seg16), seg16, name);
    assert_string_equal(name, "00000001000000000000001A");
    /* the end_wal rule: an LSN exactly at a segment start belongs to the previous segment */
    xlog_segment_name(1, xlog_segno_of_end_lsn(0x1B000000, seg16), seg16, name);
    assert_string_equal(name, "00000001000000000000001A");
    xlog_segment_name(1, xlog_segno_of_end_lsn(0x1B000001, seg16), seg16, name);
    assert_string_equal(name, "00000001000000000000001B");
    assert_int_equal(xlog_segment_offset(0x1A000028, seg16), 40);
    /* log id wrap: segment 0xFF of log 0 is followed by segment 0 of log 1 */
    xlog_segment_name(2, xlog_segno(0, 0xFF, seg16) + 1, seg16, name);
    assert_string_equal(name, "000000020000000100000000");
    /* 64 MiB segments: 64 per log id */
    xlog_segment_name(1, xlog_segno(3, 63, 64u << 20) + 1, 64u << 20, name);
    assert_string_equal(name, "000000010000000400000000");
    xlog_hash_dir("00000001000000000000001A.00000028.backup", hash);
    assert_string_equal(hash, "0000000100000000");
    xlog_hash_dir("00000002.history", hash);
    assert_string_equal(hash, "");
}

static void
test_fmt_pretty_size_barman(void **state)
{
    char buf[32];
    (void) state;

    /* values and results from the Barman 3.4 fixture transcripts */
    fmt_pretty_size(0, buf, sizeof(buf));
    assert_string_equal(buf, "0 B");
    fmt_pretty_size(1023, buf, sizeof(buf));
    assert_string_equal(buf, "1023 B");
    fmt_pretty_size(47525340, buf, sizeof(buf));
    assert_string_equal(buf, "45.3 MiB");
    fmt_pretty_size(167407, buf, sizeof(buf));
    assert_string_equal(buf, "163.5 KiB");
    fmt_pretty_size(201326592, buf, sizeof(buf));
    assert_string_equal(buf, "192.0 MiB");
    fmt_pretty_size(3604, buf, sizeof(buf));
    assert_string_equal(buf, "3.5 KiB");
}

static void
test_fmt_timedelta_barman(void **state)
{
    char buf[64];
    (void) state;

    fmt_timedelta(0.4, buf, sizeof(buf));
    assert_string_equal(buf, "less than one second");
    fmt_timedelta(1.2, buf, sizeof(buf));
    assert_string_equal(buf, "1 second");
    fmt_timedelta(3723, buf, sizeof(buf));
    assert_string_equal(buf, "1 hour, 2 minutes, 3 seconds");
    fmt_timedelta(2 * 86400 + 60, buf, sizeof(buf));
    assert_string_equal(buf, "2 days, 1 minute");
    fmt_timedelta(-120, buf, sizeof(buf));
    assert_string_equal(buf, "2 minutes ago");
}

static void
test_fmt_ctime_python(void **state)
{
    struct tm tm = {.tm_year = 126, .tm_mon = 10, .tm_mday = 2, .tm_hour = 3, .tm_min = 4, .tm_sec = 5, .tm_wday = 1};
    char buf[64];
    (void) state;

    fmt_ctime(&tm, buf, sizeof(buf));
    assert_string_equal(buf, "Mon Nov  2 03:04:05 2026");
}

static void
test_json_write_sorted_python_style(void **state)
{
    struct json *root = json_object(), *arr = json_array(), *inner = json_object();
    struct strbuf sb;
    (void) state;

    json_object_set(inner, "name", json_string("ts1"));
    json_object_set(inner, "location", json_string("/tmp/bfx/ts1"));
    json_array_add(arr, inner);
    json_object_set(root, "tablespaces", arr);
    json_object_set(root, "backup_id", json_string("20261122T133101"));
    json_object_set(root, "size_bytes", json_int(47427036));
    json_object_set(root, "flag", json_bool(1));
    json_object_set(root, "none", json_null());
    json_object_set(root, "text", json_string("a\"b\\c\n\x01\xc3\xa9"));
    json_object_set(root, "size_bytes", json_int(1));    /* replaces */
    strbuf_init(&sb);
    json_write(root, &sb, 0);
    assert_string_equal(sb.buf, "{\"backup_id\": \"20261122T133101\", \"flag\": true, \"none\": null, \"size_bytes\": 1, "
                                "\"tablespaces\": [{\"location\": \"/tmp/bfx/ts1\", \"name\": \"ts1\"}], "
                                "\"text\": \"a\\\"b\\\\c\\n\\u0001\\u00e9\"}");
    strbuf_reset(&sb);
    json_write(arr, &sb, 4);
    assert_string_equal(sb.buf, "[\n    {\n        \"location\": \"/tmp/bfx/ts1\",\n        \"name\": \"ts1\"\n    }\n]");
    strbuf_free(&sb);
    json_free(root);
}

static void
test_json_parse_round_trip_and_errors(void **state)
{
    static const char text[] = "{\"a\": [1, -2, 3.5, true, false, null], \"s\": \"x\\\"y\\u00e9\\ud83d\\ude00\", "
                               "\"big\": 9223372036854775807, \"o\": {}}";
    struct br_error err;
    struct json *v = json_parse(text, strlen(text), "t", &err);
    struct strbuf sb;
    (void) state;

    assert_non_null(v);
    assert_int_equal(json_get_int(v, "big", 0), INT64_MAX);
    assert_string_equal(json_get_string(v, "s"), "x\"y\xc3\xa9\xf0\x9f\x98\x80");
    assert_int_equal(json_get_int(v, "missing", 7), 7);
    struct json *arr = json_object_get(v, "a");
    assert_int_equal(json_array_len(arr), 6);
    assert_int_equal(json_type_of(json_array_get(arr, 0)), JSON_INT);
    assert_int_equal(json_type_of(json_array_get(arr, 2)), JSON_DOUBLE);
    assert_int_equal(json_type_of(json_array_get(arr, 5)), JSON_NULL);
    strbuf_init(&sb);
    json_write(v, &sb, 0);
    assert_string_equal(sb.buf, "{\"a\": [1, -2, 3.5, true, false, null], \"big\": 9223372036854775807, \"o\": {}, "
                                "\"s\": \"x\\\"y\\u00e9\\ud83d\\ude00\"}");
    strbuf_free(&sb);
    json_free(v);

    static const char *const bad[] = {"{\"a\": }", "[1, 2", "{\"a\" 1}", "\"abc", "tru", "{} x", "[\"\\u0000\"]"};
    static const char *const why[] = {"bad number", "expected ',' or ']'", "expected ':'", "unterminated string",
                                      "bad number", "unexpected text after the value", "\\u0000 in a string"};
    for (size_t i = 0; i < BR_ARRAY_LEN(bad); i++) {
        assert_null(json_parse(bad[i], strlen(bad[i]), "bad.json", &err));
        assert_int_equal(err.code, BR_E_FORMAT);
        if (strstr(err.msg, why[i]) == NULL || strncmp(err.msg, "could not parse JSON in \"bad.json\" at byte ", 41) != 0)
            fail_msg("case %zu: %s", i, err.msg);
    }
}

static void
test_json_state_write_read(void **state)
{
    char *dir = h_mkdtemp(), *path = br_asprintf("%s/barrel/verify/x.json", dir);
    struct json *obj = json_object(), *back;
    struct br_error err;
    struct stat st;
    (void) state;

    back = json_state_read(path, &err);           /* absent: NULL and no error */
    assert_null(back);
    assert_int_equal(err.code, BR_E_OK);
    json_object_set(obj, "verified_at", json_int(1795354295));
    json_object_set(obj, "seconds", json_double(0.25));
    json_object_set(obj, "result", json_string("OK"));
    assert_int_equal(json_state_write(path, obj, &err), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    back = json_state_read(path, &err);
    assert_non_null(back);
    assert_int_equal(json_get_int(back, "verified_at", 0), 1795354295);
    assert_true(json_get_double(back, "seconds", 0) == 0.25);
    assert_string_equal(json_get_string(back, "result"), "OK");
    json_free(back);
    h_write_file(path, "[1]");
    assert_null(json_state_read(path, &err));
    assert_int_equal(err.code, BR_E_FORMAT);
    json_free(obj);
    h_rmtree(dir);
    free(path);
    free(dir);
}

static void
test_fs_write_file_durable_replaces(void **state)
{
    char *dir = h_mkdtemp(), *path = path_join(dir, "backup.info"), *tmp = br_asprintf("%s.tmp", path);
    struct br_error err;
    struct stat st;
    char *text;
    (void) state;

    assert_int_equal(fs_write_file_durable(path, "one\n", 4, 0600, &err), 0);
    assert_int_equal(fs_write_file_durable(path, "two\n", 4, 0600, &err), 0);
    text = h_read_file(path);
    assert_string_equal(text, "two\n");
    assert_false(path_exists(tmp));
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    free(text);

    /* a path whose parent is a file: ENOTDIR, message names the temporary file, target untouched */
    char *bad = path_join(path, "x");
    assert_int_equal(fs_write_file_durable(bad, "z", 1, 0600, &err), -1);
    assert_int_equal(err.code, BR_E_IO);
    char *expect = br_asprintf("could not create file \"%s.tmp\": Not a directory", bad);
    assert_string_equal(err.msg, expect);
    text = h_read_file(path);
    assert_string_equal(text, "two\n");
    free(text);
    free(expect);
    free(bad);
    h_rmtree(dir);
    free(tmp);
    free(path);
    free(dir);
}

static void
test_fs_mkdir_p_modes_and_errors(void **state)
{
    char *dir = h_mkdtemp(), *deep = path_join(dir, "a/b/c"), *file = path_join(dir, "f");
    struct br_error err;
    struct stat st;
    (void) state;

    assert_int_equal(fs_mkdir_p(deep, 0700, &err), 0);
    assert_int_equal(fs_mkdir_p(deep, 0700, &err), 0);    /* existing is fine */
    assert_int_equal(stat(deep, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    h_write_file(file, "x");
    char *under = path_join(file, "sub");
    assert_int_equal(fs_mkdir_p(under, 0700, &err), -1);
    assert_int_equal(err.sys_errno, ENOTDIR);
    free(under);
    h_rmtree(dir);
    free(deep);
    free(file);
    free(dir);
}

static void
test_output_redact_conninfo(void **state)
{
    char *r;
    (void) state;

    r = output_redact_conninfo("host=db password=s3cret user=barman");
    assert_string_equal(r, "host=db password=*REDACTED* user=barman");
    free(r);
    r = output_redact_conninfo("password = 'with space' host=x");
    assert_string_equal(r, "password=*REDACTED* host=x");
    free(r);
    r = output_redact_conninfo("postgresql://barman:s3cret@db/postgres");
    assert_string_equal(r, "postgresql://barman:*REDACTED*@db/postgres");
    free(r);
    r = output_redact_conninfo("host=db user=barman");
    assert_string_equal(r, "host=db user=barman");
    free(r);
}

static void
test_error_sys_appends_strerror(void **state)
{
    struct br_error err;
    (void) state;

    errno = ENOENT;
    assert_int_equal(br_error_sys(&err, BR_E_IO, "could not open file \"%s\"", "/x"), -1);
    assert_string_equal(err.msg, "could not open file \"/x\": No such file or directory");
    assert_int_equal(err.sys_errno, ENOENT);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xlog_lsn_parse_format),
        cmocka_unit_test(test_xlog_name_parse_kinds),
        cmocka_unit_test(test_xlog_segment_arithmetic),
        cmocka_unit_test(test_fmt_pretty_size_barman),
        cmocka_unit_test(test_fmt_timedelta_barman),
        cmocka_unit_test(test_fmt_ctime_python),
        cmocka_unit_test(test_json_write_sorted_python_style),
        cmocka_unit_test(test_json_parse_round_trip_and_errors),
        cmocka_unit_test(test_json_state_write_read),
        cmocka_unit_test(test_fs_write_file_durable_replaces),
        cmocka_unit_test(test_fs_mkdir_p_modes_and_errors),
        cmocka_unit_test(test_output_redact_conninfo),
        cmocka_unit_test(test_error_sys_appends_strerror),
    };
    return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
