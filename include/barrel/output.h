/*
 * output.h: what the user sees, with Barman's two writers.
 *
 * Console: info lines to stdout (suppressed by -q), "WARNING: ..." and
 * "ERROR: ..." to stderr. JSON (-f json): nothing is printed until
 * output_close(); then one object with sorted keys and no trailing newline,
 * holding the command's result keys plus "_INFO", "_WARNING", "_ERROR" lists.
 * Every message also goes to the log (log.h).
 */
#ifndef BARREL_OUTPUT_H
#define BARREL_OUTPUT_H

#include "barrel/build.h"

struct json;

enum output_format { OUTPUT_CONSOLE, OUTPUT_JSON };

void output_init(enum output_format format, int quiet, int debug);
enum output_format output_format(void);
int output_is_json(void);
int output_quiet(void);

void output_info(const char *fmt, ...) BR_PRINTF(1, 2);
void output_warning(const char *fmt, ...) BR_PRINTF(1, 2);
void output_error(const char *fmt, ...) BR_PRINTF(1, 2);   /* marks the run as failed */
void output_debug(const char *fmt, ...) BR_PRINTF(1, 2);   /* only with -d */

/*
 * Command results. Console commands print their tables with output_text()
 * (stdout, not suppressed by -q, nothing added). JSON commands put their
 * result under a key of the root object (ownership of value is taken).
 */
void output_text(const char *fmt, ...) BR_PRINTF(1, 2);
void output_result_set(const char *key, struct json *value);
struct json *output_result_root(void);      /* borrowed; created on first use */

int output_had_error(void);
/* Flush the JSON document (JSON mode) and stdout. Idempotent. */
void output_close(void);

/* Replace passwords in a conninfo or URI by *REDACTED*; returns a new string. */
char *output_redact_conninfo(const char *conninfo);

#endif /* BARREL_OUTPUT_H */
