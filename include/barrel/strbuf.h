/*
 * strbuf.h: a growable NUL-terminated string, for text whose size is not
 * known in advance (output lines, JSON, backup.info). Not for data streams:
 * those go through fixed stage buffers.
 */
#ifndef BARREL_STRBUF_H
#define BARREL_STRBUF_H

#include "barrel/build.h"
#include <stddef.h>
#include <stdarg.h>

struct strbuf {
    char  *buf;   /* always NUL-terminated once initialised */
    size_t len;
    size_t cap;
};

void strbuf_init(struct strbuf *sb);
void strbuf_reset(struct strbuf *sb);             /* len = 0, keeps the memory */
void strbuf_free(struct strbuf *sb);              /* frees, leaves an empty buffer */
/* The caller owns the string; sb is left empty and unallocated (buf NULL), usable again by appends. */
char *strbuf_detach(struct strbuf *sb);
void strbuf_append(struct strbuf *sb, const char *s);
void strbuf_append_len(struct strbuf *sb, const char *s, size_t len);
void strbuf_append_char(struct strbuf *sb, char c);
void strbuf_appendf(struct strbuf *sb, const char *fmt, ...) BR_PRINTF(2, 3);
void strbuf_vappendf(struct strbuf *sb, const char *fmt, va_list ap) BR_PRINTF(2, 0);

#endif /* BARREL_STRBUF_H */
