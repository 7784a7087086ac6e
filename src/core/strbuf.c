/* strbuf.c: growable string; doubles its capacity, so appends are amortised O(1). */
#include "barrel/build.h"
#include "barrel/strbuf.h"
#include "barrel/mem.h"

static void
strbuf_grow(struct strbuf *sb, size_t extra)
{
    size_t need = sb->len + extra + 1;

    if (sb->buf != NULL && need <= sb->cap)
        return;
    size_t cap = sb->cap ? sb->cap : 64;
    while (cap < need)
        cap *= 2;
    sb->buf = br_realloc(sb->buf, cap);
    if (sb->cap == 0)
        sb->buf[0] = '\0';
    sb->cap = cap;
}

void
strbuf_init(struct strbuf *sb)
{
    sb->buf = NULL;
    sb->len = sb->cap = 0;
    strbuf_grow(sb, 0);
}

void
strbuf_reset(struct strbuf *sb)
{
    sb->len = 0;
    if (sb->buf)
        sb->buf[0] = '\0';
}

void
strbuf_free(struct strbuf *sb)
{
    free(sb->buf);
    sb->buf = NULL;
    sb->len = sb->cap = 0;
}

char *
strbuf_detach(struct strbuf *sb)
{
    char *s = sb->buf;

    if (s == NULL)
        s = br_strdup("");
    /* leave sb empty and unallocated: a detached buffer needs no strbuf_free() */
    sb->buf = NULL;
    sb->len = sb->cap = 0;
    return s;
}

void
strbuf_append_len(struct strbuf *sb, const char *s, size_t len)
{
    strbuf_grow(sb, len);
    memcpy(sb->buf + sb->len, s, len);
    sb->len += len;
    sb->buf[sb->len] = '\0';
}

void
strbuf_append(struct strbuf *sb, const char *s)
{
    strbuf_append_len(sb, s, strlen(s));
}

void
strbuf_append_char(struct strbuf *sb, char c)
{
    strbuf_append_len(sb, &c, 1);
}

void
strbuf_vappendf(struct strbuf *sb, const char *fmt, va_list ap)
{
    va_list ap2;
    int n;

    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return;
    strbuf_grow(sb, (size_t) n);
    vsnprintf(sb->buf + sb->len, sb->cap - sb->len, fmt, ap);
    sb->len += (size_t) n;
}

void
strbuf_appendf(struct strbuf *sb, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    strbuf_vappendf(sb, fmt, ap);
    va_end(ap);
}
