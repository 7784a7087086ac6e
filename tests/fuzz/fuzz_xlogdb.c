/*
 * fuzz_xlogdb.c: xlog.db lines (xlogdb_parse_line): every line of the input
 * is parsed; a line that parses is formatted and must parse again to the
 * same entry.
 */
#include "barrel/build.h"

#include <stddef.h>
#include <stdint.h>

#include "barrel/catalog.h"
#include "barrel/mem.h"
#include "barrel/strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = br_strndup((const char *) data, size);
    char *line = text;

    for (;;) {
        char *nl = strchr(line, '\n');
        struct xlogdb_entry e, again;

        if (nl != NULL)
            *nl = '\0';
        if (xlogdb_parse_line(line, &e) == 0) {
            struct strbuf sb;

            strbuf_init(&sb);
            xlogdb_format_line(&e, &sb);
            if (sb.len > 0 && sb.buf[sb.len - 1] == '\n')
                sb.buf[--sb.len] = '\0';
            if (xlogdb_parse_line(sb.buf, &again) != 0 || strcmp(e.name, again.name) != 0
                || e.size != again.size || strcmp(e.compression, again.compression) != 0)
                __builtin_trap();
            strbuf_free(&sb);
        }
        if (nl == NULL)
            break;
        line = nl + 1;
    }
    free(text);
    return 0;
}
