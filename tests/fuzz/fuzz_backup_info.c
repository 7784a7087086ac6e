/*
 * fuzz_backup_info.c: backup.info (src/catalog/backup_info.c and the Python
 * literal reader src/core/pyliteral.c behind its tablespaces and list
 * values). What parses must serialize and parse again to the same text.
 */
#include "barrel/build.h"

#include <stddef.h>
#include <stdint.h>

#include "barrel/catalog.h"
#include "barrel/error.h"
#include "barrel/mem.h"
#include "barrel/strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = br_strndup((const char *) data, size);
    struct br_error err;
    struct backup_info *bi;

    br_error_clear(&err);
    bi = backup_info_parse(text, "fuzz", "20240101T000000", &err);
    if (bi != NULL) {
        struct strbuf once, twice;
        struct backup_info *again;

        strbuf_init(&once);
        strbuf_init(&twice);
        backup_info_serialize(bi, &once);
        again = backup_info_parse(once.buf, "fuzz (serialized)", "20240101T000000", &err);
        if (again == NULL)
            __builtin_trap();           /* our own output must read back */
        backup_info_serialize(again, &twice);
        if (strcmp(once.buf, twice.buf) != 0)
            __builtin_trap();           /* and be a fixed point */
        backup_info_free(again);
        strbuf_free(&once);
        strbuf_free(&twice);
    }
    backup_info_free(bi);
    free(text);
    return 0;
}
