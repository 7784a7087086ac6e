/*
 * manifest_hash.c: the per-file checksums of a backup manifest. CRC32C is
 * computed by core/crc32c.c; the SHA-2 family by OpenSSL's EVP API (its
 * SHA extensions make SHA-256 verification run near memory speed).
 * PostgreSQL prints a CRC32C as the hex of its four bytes in memory order
 * (little-endian), and SHA digests as hex of the digest bytes.
 */
#include "barrel/build.h"
#include "barrel/manifest.h"
#include "barrel/crc32c.h"
#include "barrel/mem.h"

#include <openssl/evp.h>

struct manifest_hasher {
    enum manifest_checksum algorithm;
    uint32_t crc;
    EVP_MD_CTX *md;
};

struct manifest_hasher *
manifest_hasher_new(enum manifest_checksum algorithm)
{
    struct manifest_hasher *h = br_calloc(1, sizeof(*h));
    const EVP_MD *md = NULL;

    h->algorithm = algorithm;
    h->crc = CRC32C_INIT;
    switch (algorithm) {
    case MANIFEST_CK_SHA224: md = EVP_sha224(); break;
    case MANIFEST_CK_SHA256: md = EVP_sha256(); break;
    case MANIFEST_CK_SHA384: md = EVP_sha384(); break;
    case MANIFEST_CK_SHA512: md = EVP_sha512(); break;
    default: break;
    }
    if (md != NULL) {
        h->md = EVP_MD_CTX_new();
        if (h->md == NULL || EVP_DigestInit_ex(h->md, md, NULL) != 1)
            abort();   /* only on out of memory: OpenSSL always has these digests */
    }
    return h;
}

void
manifest_hasher_update(struct manifest_hasher *h, const void *data, size_t len)
{
    if (h->algorithm == MANIFEST_CK_CRC32C)
        h->crc = crc32c_update(h->crc, data, len);
    else if (h->md != NULL)
        EVP_DigestUpdate(h->md, data, len);
}

int
manifest_hasher_matches(struct manifest_hasher *h, const struct manifest_file *entry, char *hex_out, size_t hex_len)
{
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;

    if (hex_len > 0)
        hex_out[0] = '\0';
    if (h->algorithm == MANIFEST_CK_NONE)
        return 1;
    if (h->algorithm == MANIFEST_CK_CRC32C) {
        uint32_t crc = crc32c_finish(h->crc);
        for (int i = 0; i < 4; i++)
            digest[i] = (unsigned char) (crc >> (8 * i));
        dlen = 4;
    } else if (EVP_DigestFinal_ex(h->md, digest, &dlen) != 1)
        return 0;
    for (unsigned int i = 0; i < dlen && 2 * i + 2 < hex_len; i++)
        snprintf(hex_out + 2 * i, 3, "%02x", digest[i]);
    return entry->algorithm == h->algorithm && entry->checksum_len == dlen && memcmp(entry->checksum, digest, dlen) == 0;
}

void
manifest_hasher_free(struct manifest_hasher *h)
{
    if (h == NULL)
        return;
    EVP_MD_CTX_free(h->md);
    free(h);
}
