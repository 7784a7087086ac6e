/*
 * test_pyliteral.c: Python literal parsing and repr(), and Python's float
 * repr (fmt_py_float). Expected texts are what CPython 3 prints.
 */
#include "barrel/build.h"
#include "barrel/pyliteral.h"

#include "barrel/error.h"
#include "barrel/fmt.h"
#include "barrel/strbuf.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* repr(parse(text)) must give `expected` */
static void
check_round(const char *text, const char *expected)
{
    struct br_error err;
    struct strbuf sb;
    struct pyl *v = pyl_parse(text, &err);

    if (v == NULL)
        fail_msg("parse of %s failed: %s", text, err.msg);
    strbuf_init(&sb);
    pyl_repr(v, &sb);
    assert_string_equal(sb.buf, expected);
    strbuf_free(&sb);
    pyl_free(v);
}

static void
check_repr_str(const char *s, const char *expected)
{
    struct strbuf sb;

    strbuf_init(&sb);
    pyl_repr_str(s, &sb);
    assert_string_equal(sb.buf, expected);
    strbuf_free(&sb);
    /* and what we write reads back to the same text */
    {
        struct br_error err;
        struct pyl *v;

        strbuf_init(&sb);
        pyl_repr_str(s, &sb);
        v = pyl_parse(sb.buf, &err);
        assert_non_null(v);
        assert_int_equal(v->type, PYL_STR);
        assert_string_equal(v->sval, s);
        pyl_free(v);
        strbuf_free(&sb);
    }
}

static void
check_parse_error(const char *text, const char *message)
{
    struct br_error err;
    struct pyl *v = pyl_parse(text, &err);

    assert_null(v);
    assert_int_equal(err.code, BR_E_FORMAT);
    assert_string_equal(err.msg, message);
}

static void
check_float(double value, const char *expected)
{
    char buf[64];

    fmt_py_float(value, buf, sizeof(buf));
    assert_string_equal(buf, expected);
}

static void
test_pyl_repr_str_quotes(void **state)
{
    (void) state;
    check_repr_str("abc", "'abc'");
    check_repr_str("", "''");
    check_repr_str("it's", "\"it's\"");
    check_repr_str("say \"hi\"", "'say \"hi\"'");
    check_repr_str("both ' and \"", "'both \\' and \"'");
}

static void
test_pyl_repr_str_escapes(void **state)
{
    (void) state;
    check_repr_str("a\nb\tc\\d\re", "'a\\nb\\tc\\\\d\\re'");
    check_repr_str("\x01\x1f\x7f", "'\\x01\\x1f\\x7f'");
    check_repr_str("caf\xc3\xa9", "'caf\xc3\xa9'");                 /* é raw */
    check_repr_str("\xe2\x82\xac \xf0\x9f\x98\x80", "'\xe2\x82\xac \xf0\x9f\x98\x80'");
    check_repr_str("nb\xc2\xa0sp", "'nb\\xa0sp'");                   /* U+00A0 is not printable */
    check_repr_str("zw\xe2\x80\x8bsp", "'zw\\u200bsp'");             /* U+200B */
    check_repr_str("\xc2\x85", "'\\x85'");                           /* C1 control */
    /* the real backup_label line of Barman's fixtures */
    check_repr_str("START WAL LOCATION: 0/B000028 (file 00000001000000000000000B)\nSTART TIMELINE: 1\n",
                   "'START WAL LOCATION: 0/B000028 (file 00000001000000000000000B)\\nSTART TIMELINE: 1\\n'");
}

static void
test_pyl_parse_strings(void **state)
{
    struct br_error err;
    struct pyl *v;

    (void) state;
    v = pyl_parse("\"it's\"", &err);
    assert_non_null(v);
    assert_string_equal(v->sval, "it's");
    pyl_free(v);

    v = pyl_parse("'\\x41\\u00e9\\U0001F600\\101\\'\\\"\\q'", &err);
    assert_non_null(v);
    assert_string_equal(v->sval, "A\xc3\xa9\xf0\x9f\x98\x80" "A'\"\\q");
    pyl_free(v);

    v = pyl_parse("'ab' \"cd\"", &err);   /* adjacent literals concatenate */
    assert_non_null(v);
    assert_string_equal(v->sval, "abcd");
    pyl_free(v);

    v = pyl_parse("r'a\\nb'", &err);
    assert_non_null(v);
    assert_string_equal(v->sval, "a\\nb");
    pyl_free(v);

    v = pyl_parse("u'x'", &err);
    assert_non_null(v);
    assert_string_equal(v->sval, "x");
    pyl_free(v);
}

static void
test_pyl_scalars(void **state)
{
    (void) state;
    check_round("None", "None");
    check_round("True", "True");
    check_round("False", "False");
    check_round("42", "42");
    check_round("-7", "-7");
    check_round("0x10", "16");
    check_round("1_000", "1000");
    check_round("1.5", "1.5");
    check_round("-0.25", "-0.25");
    check_round("2.", "2.0");
    check_round("1e3", "1000.0");
    check_round("9223372036854775807", "9223372036854775807");
    check_round("-9223372036854775808", "-9223372036854775808");
}

static void
test_pyl_containers(void **state)
{
    struct br_error err;
    struct pyl *v;

    (void) state;
    check_round("()", "()");
    check_round("(1,)", "(1,)");
    check_round("(1)", "1");
    check_round("(1, 2,)", "(1, 2)");
    check_round("[]", "[]");
    check_round("[ 1 ,'a',None,True,1.5 ]", "[1, 'a', None, True, 1.5]");
    check_round("[('ts1', 16409, '/tmp/bfx/ts1')]", "[('ts1', 16409, '/tmp/bfx/ts1')]");
    check_round("{}", "{}");
    check_round("{'a': 1, 'b': 2}", "{'a': 1, 'b': 2}");
    check_round("{'b': 2, 'a': 1}", "{'b': 2, 'a': 1}");   /* insertion order, not sorted */
    check_round("{'copy_time': 1.090182, 'total_time': 1.090182}", "{'copy_time': 1.090182, 'total_time': 1.090182}");
    /* the rsync copy_stats of spec 3.4, nested dicts */
    check_round("{'total_time': 0.733683, 'number_of_workers': 1, 'analysis_time_per_item': {'tbs1': 0.14806, "
                "'pgdata': 0.163365}, 'copy_time_per_item': {'tbs1': 0.101176, 'pgdata': 0.252433, 'pg_control': "
                "0.050355}, 'serialized_copy_time_per_item': {'tbs1': 0.100531, 'pgdata': 0.250293, 'pg_control': "
                "0.050355}, 'analysis_time': 0.311434, 'copy_time': 0.406483, 'serialized_copy_time': 0.401179}",
                "{'total_time': 0.733683, 'number_of_workers': 1, 'analysis_time_per_item': {'tbs1': 0.14806, "
                "'pgdata': 0.163365}, 'copy_time_per_item': {'tbs1': 0.101176, 'pgdata': 0.252433, 'pg_control': "
                "0.050355}, 'serialized_copy_time_per_item': {'tbs1': 0.100531, 'pgdata': 0.250293, 'pg_control': "
                "0.050355}, 'analysis_time': 0.311434, 'copy_time': 0.406483, 'serialized_copy_time': 0.401179}");
    check_round("{'a': {'b': [(1,), ()]}, 'c': (None, 'x')}", "{'a': {'b': [(1,), ()]}, 'c': (None, 'x')}");

    v = pyl_parse("{'copy_time': 4.5, 'n': 3, 'copy_time': 5.5}", &err);
    assert_non_null(v);
    assert_int_equal(v->n, 3);
    assert_true(pyl_dict_get(v, "copy_time")->fval == 5.5);   /* last duplicate wins, as in Python */
    assert_int_equal(pyl_dict_get(v, "n")->ival, 3);
    assert_null(pyl_dict_get(v, "missing"));
    pyl_free(v);
}

static void
test_pyl_parse_errors(void **state)
{
    (void) state;
    check_parse_error("'abc", "invalid python literal at offset 4: unterminated string");
    check_parse_error("[1, 2", "invalid python literal at offset 5: expected ',' or closing bracket");
    check_parse_error("1 2", "invalid python literal at offset 2: trailing characters");
    check_parse_error("{1, 2}", "invalid python literal at offset 2: expected ':' in dict (sets are not supported)");
    check_parse_error("", "invalid python literal at offset 0: unexpected end of text");
    check_parse_error("foo", "invalid python literal at offset 0: unexpected character");
    check_parse_error("'\\x4'", "invalid python literal at offset 4: truncated \\x, \\u or \\U escape");
    check_parse_error("'\\x00'", "invalid python literal at offset 5: NUL character in string");
    check_parse_error("99999999999999999999", "invalid python literal at offset 0: integer out of range or invalid");
}

static void
test_fmt_py_float(void **state)
{
    (void) state;
    check_float(1.5, "1.5");
    check_float(2.0, "2.0");
    check_float(100.0, "100.0");
    check_float(0.1, "0.1");
    check_float(0.3, "0.3");
    check_float(1.0 / 3.0, "0.3333333333333333");
    check_float(1795352312.311351, "1795352312.311351");
    check_float(1795352227.2873476, "1795352227.2873476");
    check_float(1795354313.9834368, "1795354313.9834368");
    check_float(1e16, "1e+16");
    check_float(1234567890123456.0, "1234567890123456.0");
    check_float(123456789012345678.0, "1.2345678901234568e+17");
    check_float(1e22, "1e+22");
    check_float(1e-05, "1e-05");
    check_float(1.5e-05, "1.5e-05");
    check_float(0.0001, "0.0001");
    check_float(0.00012345, "0.00012345");
    check_float(1.7976931348623157e308, "1.7976931348623157e+308");
    check_float(5e-324, "5e-324");
    /* powers of two, where the correctly rounded digits are not the shortest that read back */
    check_float(0x1p-1017, "7.120236347223045e-307");
    check_float(0x1p-957, "8.209073602596753e-289");
    check_float(9.999999999999999e22, "1e+23");
    check_float(-0.5, "-0.5");
    check_float(0.0, "0.0");
    check_float(-0.0, "-0.0");
    check_float(INFINITY, "inf");
    check_float(-INFINITY, "-inf");
    check_float(NAN, "nan");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pyl_repr_str_quotes),
        cmocka_unit_test(test_pyl_repr_str_escapes),
        cmocka_unit_test(test_pyl_parse_strings),
        cmocka_unit_test(test_pyl_scalars),
        cmocka_unit_test(test_pyl_containers),
        cmocka_unit_test(test_pyl_parse_errors),
        cmocka_unit_test(test_fmt_py_float),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
