/*
 * mem.c: allocation wrappers. Out of memory exits at once (the only exit
 * outside main.c), because no caller could do anything sensible with NULL.
 */
#include "barrel/build.h"
#include "barrel/mem.h"

#include <unistd.h>

static void
br_oom(void)
{
    static const char msg[] = "ERROR: out of memory\n";
    ssize_t rc BR_UNUSED = write(2, msg, sizeof(msg) - 1);
    _exit(1);
}

void *
br_malloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (p == NULL)
        br_oom();
    return p;
}

void *
br_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (p == NULL)
        br_oom();
    return p;
}

void *
br_realloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);
    if (p == NULL)
        br_oom();
    return p;
}

char *
br_strdup(const char *s)
{
    char *p;

    if (s == NULL)
        return NULL;
    p = strdup(s);
    if (p == NULL)
        br_oom();
    return p;
}

char *
br_strndup(const char *s, size_t n)
{
    char *p = strndup(s, n);
    if (p == NULL)
        br_oom();
    return p;
}

char *
br_vasprintf(const char *fmt, va_list ap)
{
    char *p = NULL;
    if (vasprintf(&p, fmt, ap) < 0)
        br_oom();
    return p;
}

char *
br_asprintf(const char *fmt, ...)
{
    va_list ap;
    char *p;

    va_start(ap, fmt);
    p = br_vasprintf(fmt, ap);
    va_end(ap);
    return p;
}
