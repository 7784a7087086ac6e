/*
 * crc32c.c: CRC-32C with the SSE4.2 instruction when available (about
 * 8 bytes per cycle, so verification runs at decompression speed), and a
 * portable slicing-by-8 table otherwise. The result for PostgreSQL's
 * manifests is the finished value printed as 8 hex digits of its
 * little-endian bytes, which the manifest code handles.
 */
#include "barrel/build.h"
#include "barrel/crc32c.h"

#include <pthread.h>

#if defined(__x86_64__) || defined(__i386__)
#include <nmmintrin.h>
#define HAVE_X86_CRC 1
#endif

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;
static int use_hw;

static void
crc32c_init_tables(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xFF];
#ifdef HAVE_X86_CRC
    __builtin_cpu_init();
    use_hw = __builtin_cpu_supports("sse4.2");
#endif
}

static uint32_t
crc32c_sw(uint32_t crc, const unsigned char *p, size_t len)
{
    while (len >= 8) {
        uint32_t lo = crc ^ ((uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24);
        crc = table[7][lo & 0xFF] ^ table[6][(lo >> 8) & 0xFF] ^ table[5][(lo >> 16) & 0xFF] ^ table[4][lo >> 24]
              ^ table[3][p[4]] ^ table[2][p[5]] ^ table[1][p[6]] ^ table[0][p[7]];
        p += 8;
        len -= 8;
    }
    while (len--)
        crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xFF];
    return crc;
}

#ifdef HAVE_X86_CRC
__attribute__((target("sse4.2"))) static uint32_t
crc32c_hw(uint32_t crc, const unsigned char *p, size_t len)
{
    uint64_t c = crc;

    while (len >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);     /* unaligned-safe load */
        c = _mm_crc32_u64(c, v);
        p += 8;
        len -= 8;
    }
    while (len--)
        c = _mm_crc32_u8((uint32_t) c, *p++);
    return (uint32_t) c;
}
#endif

uint32_t
crc32c_update(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&table_once, crc32c_init_tables);
#ifdef HAVE_X86_CRC
    if (use_hw)
        return crc32c_hw(crc, data, len);
#endif
    return crc32c_sw(crc, data, len);
}

uint32_t
crc32c_update_portable(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&table_once, crc32c_init_tables);
    return crc32c_sw(crc, data, len);
}
