/*
 * mem.h: allocation that never returns NULL. Out of memory is the one
 * failure barrel does not try to recover from (like pg_malloc): the
 * allocator prints "out of memory" and exits with status 1.
 */
#ifndef BARREL_MEM_H
#define BARREL_MEM_H

#include "barrel/build.h"
#include <stddef.h>
#include <stdarg.h>

void *br_malloc(size_t size);
void *br_calloc(size_t count, size_t size);
void *br_realloc(void *ptr, size_t size);
char *br_strdup(const char *s);                 /* br_strdup(NULL) returns NULL */
char *br_strndup(const char *s, size_t n);
char *br_asprintf(const char *fmt, ...) BR_PRINTF(1, 2);
char *br_vasprintf(const char *fmt, va_list ap) BR_PRINTF(1, 0);

#endif /* BARREL_MEM_H */
