/*
 * digest.h: MD5 and SHA-256 through OpenSSL's EVP API, for put-wal's
 * MD5SUMS / SHA256SUMS (spec 6.9) and anything else that needs a file
 * checksum. Incremental: feed bytes as they stream by, never a whole file.
 */
#ifndef BARREL_DIGEST_H
#define BARREL_DIGEST_H

#include "barrel/build.h"
#include <stddef.h>

enum digest_kind { DIGEST_MD5, DIGEST_SHA256 };

/* Longest hex digest plus NUL (SHA-256: 64 hex digits). */
#define DIGEST_HEX_MAX 65

struct digest;

/* A new running digest; never NULL (out of memory or a missing algorithm aborts, as br_malloc does). */
struct digest *digest_new(enum digest_kind kind);
void digest_update(struct digest *d, const void *data, size_t len);
/* Lowercase hex of the digest into hex (DIGEST_HEX_MAX bytes); the digest cannot be updated afterwards. */
void digest_final_hex(struct digest *d, char *hex);
void digest_free(struct digest *d);                  /* NULL is a no-op */

/* Name as in the checksum file names: "MD5", "SHA256". */
const char *digest_name(enum digest_kind kind);

#endif /* BARREL_DIGEST_H */
