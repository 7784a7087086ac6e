/*
 * error.c: setters for struct br_error. Messages are truncated, never
 * overflowed; a truncated message keeps its beginning, which names the cause.
 */
#include "barrel/build.h"
#include "barrel/error.h"

#include <errno.h>
#include <stdarg.h>

void
br_error_clear(struct br_error *err)
{
    if (err == NULL)
        return;
    err->code = BR_E_OK;
    err->sys_errno = 0;
    err->msg[0] = err->detail[0] = err->hint[0] = '\0';
}

int
br_error_set(struct br_error *err, int code, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return -1;
    br_error_clear(err);
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return -1;
}

int
br_error_sys(struct br_error *err, int code, const char *fmt, ...)
{
    int saved = errno;
    va_list ap;
    size_t len;

    if (err == NULL)
        return -1;
    br_error_clear(err);
    err->code = code;
    err->sys_errno = saved;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    len = strlen(err->msg);
    if (saved != 0 && len < sizeof(err->msg))
        snprintf(err->msg + len, sizeof(err->msg) - len, ": %s", strerror(saved));
    errno = saved;
    return -1;
}

void
br_error_detail(struct br_error *err, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
    va_end(ap);
}

void
br_error_hint(struct br_error *err, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(err->hint, sizeof(err->hint), fmt, ap);
    va_end(ap);
}
