/*
 * digest.c: MD5 and SHA-256 with OpenSSL's EVP interface. The only file
 * that includes OpenSSL's headers for hashing.
 */
#include "barrel/build.h"
#include "barrel/digest.h"
#include "barrel/mem.h"

#include <openssl/evp.h>

struct digest {
    EVP_MD_CTX *ctx;
    int finished;
};

struct digest *
digest_new(enum digest_kind kind)
{
    struct digest *d = br_calloc(1, sizeof(*d));
    const EVP_MD *md = kind == DIGEST_MD5 ? EVP_md5() : EVP_sha256();

    d->ctx = EVP_MD_CTX_new();
    if (d->ctx == NULL || md == NULL || EVP_DigestInit_ex(d->ctx, md, NULL) != 1) {
        fprintf(stderr, "could not initialise the %s digest\n", digest_name(kind));
        abort();
    }
    return d;
}

void
digest_update(struct digest *d, const void *data, size_t len)
{
    if (len > 0 && !d->finished)
        EVP_DigestUpdate(d->ctx, data, len);
}

void
digest_final_hex(struct digest *d, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    hex[0] = '\0';
    if (d->finished || EVP_DigestFinal_ex(d->ctx, md, &len) != 1)
        return;
    d->finished = 1;
    for (unsigned int i = 0; i < len && 2 * i + 2 < DIGEST_HEX_MAX; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 0xf];
        hex[2 * i + 2] = '\0';
    }
}

void
digest_free(struct digest *d)
{
    if (d == NULL)
        return;
    EVP_MD_CTX_free(d->ctx);
    free(d);
}

const char *
digest_name(enum digest_kind kind)
{
    return kind == DIGEST_MD5 ? "MD5" : "SHA256";
}
