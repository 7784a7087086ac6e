/*
 * fuzz_tar_manifest.c: the tar parser (src/stage/stage_tar.c) and the
 * manifest reader and verifier (src/verify/manifest.c, stage_verify.c)
 * together, as verify-backup and recover run them: tar bytes -> parser ->
 * manifest verifier.
 *
 * Input: a 2-byte big-endian manifest length, the manifest text, then the
 * tar bytes, pushed in pieces whose sizes come from the manifest length's
 * low bits (so that chunk boundaries fall everywhere). When the manifest
 * does not parse, the tar is still parsed, with no verifier.
 */
#include "barrel/build.h"

#include <stddef.h>
#include <stdint.h>

#include "barrel/error.h"
#include "barrel/manifest.h"
#include "barrel/stage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
report(void *arg, const char *problem)
{
    (void) arg;
    (void) problem;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct br_error err;
    struct manifest *m = NULL;
    struct stage *chain, *verifier = NULL;
    size_t mlen, step, off;
    int rc = 0;

    if (size < 2)
        return 0;
    mlen = ((size_t) data[0] << 8) | data[1];
    if (mlen > size - 2)
        mlen = size - 2;
    br_error_clear(&err);
    if (mlen > 0) {
        char *text = malloc(mlen);

        memcpy(text, data + 2, mlen);       /* exactly mlen bytes: no terminator to lean on */
        m = manifest_parse(text, mlen, "fuzz manifest", &err);
        free(text);
    }
    if (m != NULL)
        verifier = stage_manifest_verify_new(m, 0, report, NULL, NULL);
    chain = stage_tar_parser_new(verifier);
    step = 1 + (mlen % 1031);
    for (off = 2 + mlen; rc == 0 && off < size; off += step) {
        size_t n = size - off < step ? size - off : step;

        rc = stage_push_raw(chain, data + off, n, &err);
    }
    if (rc == 0 && stage_finish(chain, &err) == 0 && m != NULL)
        (void) manifest_report_unseen(m, report, NULL);
    stage_free(chain);
    manifest_free(m);
    return 0;
}
