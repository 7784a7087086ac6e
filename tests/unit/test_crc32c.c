/* test_crc32c.c: CRC-32C against published check values, in pieces of any size. */
#include "barrel/build.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "barrel/crc32c.h"
#include "barrel/mem.h"

static void
test_crc32c_check_values(void **state)
{
    (void) state;
    /* RFC 3720 B.4 and the standard "123456789" check value */
    assert_int_equal(crc32c_finish(crc32c_update(CRC32C_INIT, "123456789", 9)), 0xE3069283u);
    unsigned char zeros[32] = {0}, ones[32];
    memset(ones, 0xFF, sizeof(ones));
    assert_int_equal(crc32c_finish(crc32c_update(CRC32C_INIT, zeros, 32)), 0x8A9136AAu);
    assert_int_equal(crc32c_finish(crc32c_update(CRC32C_INIT, ones, 32)), 0x62A8AB43u);
    assert_int_equal(crc32c_finish(crc32c_update(CRC32C_INIT, "", 0)), 0);
}

static void
test_crc32c_pieces_equal_whole(void **state)
{
    size_t len = 100003;
    unsigned char *buf = br_malloc(len);
    uint32_t x = 7, whole, parts = CRC32C_INIT;
    (void) state;

    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (unsigned char) (x >> 16);
    }
    whole = crc32c_finish(crc32c_update(CRC32C_INIT, buf, len));
    for (size_t pos = 0, n = 1; pos < len; pos += n, n = n * 3 % 9973 + 1) {
        if (n > len - pos)
            n = len - pos;
        parts = crc32c_update(parts, buf + pos, n);
    }
    assert_int_equal(crc32c_finish(parts), whole);
    assert_int_equal(crc32c_finish(crc32c_update_portable(CRC32C_INIT, buf, len)), whole);
    assert_int_equal(crc32c_finish(crc32c_update_portable(CRC32C_INIT, "123456789", 9)), 0xE3069283u);
    free(buf);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_check_values),
        cmocka_unit_test(test_crc32c_pieces_equal_whole),
    };
    return cmocka_run_group_tests_name("crc32c", tests, NULL, NULL);
}
