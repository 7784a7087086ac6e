/*
 * crc32c.h: CRC-32C (Castagnoli), the checksum PostgreSQL writes into
 * backup manifests by default. Uses the SSE4.2 crc32 instruction when the
 * CPU has it (checked once at run time), else a slicing-by-8 table.
 */
#ifndef BARREL_CRC32C_H
#define BARREL_CRC32C_H

#include "barrel/build.h"
#include <stddef.h>
#include <stdint.h>

/* Start value, update over any number of pieces, then finish. */
#define CRC32C_INIT 0xFFFFFFFFu
uint32_t crc32c_update(uint32_t crc, const void *data, size_t len);
/* The portable table version, whatever the CPU (tests compare it with the fast path). */
uint32_t crc32c_update_portable(uint32_t crc, const void *data, size_t len);
static inline uint32_t crc32c_finish(uint32_t crc) { return crc ^ 0xFFFFFFFFu; }

#endif /* BARREL_CRC32C_H */
