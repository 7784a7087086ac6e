/*
 * output.c: Barman's console and JSON writers.
 *
 * Console: info to stdout, warnings and errors to stderr, prefixed as
 * Barman does. JSON: messages are collected and the document is written
 * once, at output_close(), with sorted keys and no trailing newline.
 */
#include "barrel/build.h"
#include "barrel/output.h"
#include "barrel/json.h"
#include "barrel/log.h"
#include "barrel/mem.h"
#include "barrel/strbuf.h"

#include <ctype.h>
#include <stdarg.h>

static enum output_format out_fmt = OUTPUT_CONSOLE;
static int out_quiet, out_debug_on, out_error_seen, out_closed;
static struct json *out_root;

void
output_init(enum output_format format, int quiet, int debug)
{
    out_fmt = format;
    out_quiet = quiet;
    out_debug_on = debug;
    out_error_seen = 0;
    out_closed = 0;
    json_free(out_root);
    out_root = NULL;
}

enum output_format output_format(void) { return out_fmt; }
int output_is_json(void) { return out_fmt == OUTPUT_JSON; }
int output_quiet(void) { return out_quiet; }
int output_had_error(void) { return out_error_seen; }

struct json *
output_result_root(void)
{
    if (out_root == NULL)
        out_root = json_object();
    return out_root;
}

void
output_result_set(const char *key, struct json *value)
{
    json_object_set(output_result_root(), key, value);
}

static void
json_message(const char *list, const char *text)
{
    struct json *root = output_result_root();
    struct json *arr = json_object_get(root, list);

    if (arr == NULL) {
        arr = json_array();
        json_object_set(root, list, arr);
    }
    json_array_add(arr, json_string(text));
}

static void
emit(int level, const char *prefix, const char *list, const char *fmt, va_list ap)
{
    char *text = br_vasprintf(fmt, ap);

    br_log(level, "%s", text);
    if (out_fmt == OUTPUT_JSON) {
        if (level != BR_LOG_DEBUG || out_debug_on)
            json_message(list, text);
    } else if (level == BR_LOG_INFO) {
        if (!out_quiet) {
            fputs(text, stdout);
            fputc('\n', stdout);
        }
    } else if (level != BR_LOG_DEBUG || out_debug_on) {
        /* keep the order of stdout and stderr lines as a reader saw them */
        fflush(stdout);
        fprintf(stderr, "%s%s\n", prefix, text);
    }
    free(text);
}

void
output_info(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(BR_LOG_INFO, "", "_INFO", fmt, ap);
    va_end(ap);
}

void
output_warning(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(BR_LOG_WARNING, "WARNING: ", "_WARNING", fmt, ap);
    va_end(ap);
}

void
output_error(const char *fmt, ...)
{
    va_list ap;
    out_error_seen = 1;
    va_start(ap, fmt);
    emit(BR_LOG_ERROR, "ERROR: ", "_ERROR", fmt, ap);
    va_end(ap);
}

void
output_debug(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(BR_LOG_DEBUG, "DEBUG: ", "_DEBUG", fmt, ap);
    va_end(ap);
}

void
output_text(const char *fmt, ...)
{
    va_list ap;

    if (out_fmt == OUTPUT_JSON)
        return;
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
}

void
output_close(void)
{
    if (out_closed)
        return;
    out_closed = 1;
    if (out_fmt == OUTPUT_JSON) {
        struct strbuf sb;
        strbuf_init(&sb);
        json_write(out_root ? out_root : output_result_root(), &sb, 0);
        fputs(sb.buf, stdout);
        strbuf_free(&sb);
    }
    fflush(stdout);
    json_free(out_root);
    out_root = NULL;
}

char *
output_redact_conninfo(const char *conninfo)
{
    struct strbuf sb;
    const char *p = conninfo;

    if (conninfo == NULL)
        return NULL;
    strbuf_init(&sb);
    /* URI form: postgresql://user:secret@host -> postgresql://user:*REDACTED*@host */
    const char *scheme = strstr(p, "://");
    if (scheme != NULL) {
        const char *at = strchr(scheme + 3, '@');
        const char *colon = strchr(scheme + 3, ':');
        if (at != NULL && colon != NULL && colon < at) {
            strbuf_append_len(&sb, p, (size_t) (colon + 1 - p));
            strbuf_append(&sb, "*REDACTED*");
            p = at;
        }
    }
    /* keyword form: password=secret or password = 'sec ret' */
    while (*p) {
        if (strncmp(p, "password", 8) == 0 && (p == conninfo || isspace((unsigned char) p[-1]) || p[-1] == '&'
                                               || p[-1] == '?')) {
            const char *q = p + 8;
            while (*q == ' ')
                q++;
            if (*q == '=') {
                q++;
                while (*q == ' ')
                    q++;
                strbuf_append(&sb, "password=*REDACTED*");
                if (*q == '\'') {
                    for (q++; *q && *q != '\''; q++)
                        if (*q == '\\' && q[1])
                            q++;
                    if (*q == '\'')
                        q++;
                } else {
                    while (*q && !isspace((unsigned char) *q) && *q != '&')
                        q++;
                }
                p = q;
                continue;
            }
        }
        strbuf_append_char(&sb, *p++);
    }
    return strbuf_detach(&sb);
}
