/*
 * fuzz_retention.c: retention_policy_parse ("REDUNDANCY n", "RECOVERY
 * WINDOW OF n DAYS|WEEKS|MONTHS", any case) and the interval, size and
 * boolean value parsers of the configuration. A policy that parses is
 * formatted and must parse again to the same policy.
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
    struct retention_policy rp, again;
    struct br_error err;

    br_error_clear(&err);
    if (retention_policy_parse(text, &rp, &err) == 0) {
        char buf[128];

        retention_policy_format(&rp, buf, sizeof(buf));
        if (retention_policy_parse(buf, &again, &err) != 0 || again.kind != rp.kind || again.value != rp.value)
            __builtin_trap();
        (void) retention_policy_window_seconds(&rp);
    }
    (void) config_parse_interval(text);
    (void) config_parse_size(text);
    (void) config_parse_bool(text);
    free(text);
    return 0;
}
