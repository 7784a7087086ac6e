/* test_copymsg.c: the CopyData readers refuse short, unterminated and over-long messages. */
#include "barrel/build.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "barrel/copymsg.h"
#include "barrel/error.h"

static void
test_copymsg_xlogdata_header(void **state)
{
    /* 'w', start 0/1000000, end 0/1000010, time 42, then 3 bytes of WAL */
    static const unsigned char msg[] = {'w', 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0x10,
                                        0, 0, 0, 0, 0, 0, 0, 42, 'a', 'b', 'c'};
    struct copymsg m;
    struct br_error err;
    uint8_t kind;
    uint64_t start, end;
    int64_t when;
    const unsigned char *rest;
    size_t len;
    (void) state;

    copymsg_init(&m, msg, sizeof(msg), "XLogData");
    assert_int_equal(copymsg_byte(&m, &kind, &err), 0);
    assert_int_equal(kind, 'w');
    assert_int_equal(copymsg_u64(&m, &start, &err), 0);
    assert_true(start == 0x1000000);
    assert_int_equal(copymsg_u64(&m, &end, &err), 0);
    assert_true(end == 0x1000010);
    assert_int_equal(copymsg_i64(&m, &when, &err), 0);
    assert_int_equal(when, 42);
    copymsg_rest(&m, &rest, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(rest, "abc", 3);
    assert_int_equal(copymsg_end(&m, &err), 0);
}

static void
test_copymsg_short_message_is_an_error(void **state)
{
    static const unsigned char msg[] = {'k', 0, 0, 0};
    struct copymsg m;
    struct br_error err;
    uint8_t kind;
    uint64_t v;
    (void) state;

    copymsg_init(&m, msg, sizeof(msg), "keepalive");
    assert_int_equal(copymsg_byte(&m, &kind, &err), 0);
    assert_int_equal(copymsg_u64(&m, &v, &err), -1);
    assert_int_equal(err.code, BR_E_FORMAT);
    assert_string_equal(err.msg, "malformed keepalive message from the server: 4 bytes, expected at least 9");
}

static void
test_copymsg_strings_and_trailing_bytes(void **state)
{
    static const unsigned char msg[] = {'n', 'b', 'a', 's', 'e', '.', 't', 'a', 'r', 0, 0, 'x'};
    static const unsigned char bad[] = {'n', 'b', 'a', 's', 'e'};
    struct copymsg m;
    struct br_error err;
    uint8_t kind;
    const char *name, *loc;
    (void) state;

    copymsg_init(&m, msg, sizeof(msg), "new archive");
    assert_int_equal(copymsg_byte(&m, &kind, &err), 0);
    assert_int_equal(copymsg_string(&m, &name, &err), 0);
    assert_string_equal(name, "base.tar");
    assert_int_equal(copymsg_string(&m, &loc, &err), 0);
    assert_string_equal(loc, "");
    assert_int_equal(copymsg_end(&m, &err), -1);
    assert_string_equal(err.msg, "malformed new archive message from the server: 1 unexpected trailing bytes");

    copymsg_init(&m, bad, sizeof(bad), "new archive");
    assert_int_equal(copymsg_byte(&m, &kind, &err), 0);
    assert_int_equal(copymsg_string(&m, &name, &err), -1);
    assert_string_equal(err.msg, "malformed new archive message from the server: unterminated string");
}

static void
test_copymsg_put_big_endian(void **state)
{
    unsigned char buf[8];
    (void) state;

    copymsg_put_u64(buf, UINT64_C(0x0102030405060708));
    assert_memory_equal(buf, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
    copymsg_put_u32(buf, 0xA0B0C0D0u);
    assert_memory_equal(buf, "\xA0\xB0\xC0\xD0", 4);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copymsg_xlogdata_header),
        cmocka_unit_test(test_copymsg_short_message_is_an_error),
        cmocka_unit_test(test_copymsg_strings_and_trailing_bytes),
        cmocka_unit_test(test_copymsg_put_big_endian),
    };
    return cmocka_run_group_tests_name("copymsg", tests, NULL, NULL);
}
