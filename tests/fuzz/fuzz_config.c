/*
 * fuzz_config.c: the configuration reader (src/config/ini.c, config.c,
 * values.c) on arbitrary text: Barman's INI rules, every option's value
 * parser, server sections and their checks. Must never crash, leak or read
 * out of bounds; a refusal is a normal outcome.
 */
#include "barrel/build.h"

#include <stddef.h>
#include <stdint.h>

#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = br_strndup((const char *) data, size);
    struct br_error err;
    struct barrel_config *cfg;

    br_error_clear(&err);
    cfg = config_load_string(text, "fuzz.conf", &err);
    config_free(cfg);
    free(text);
    return 0;
}
