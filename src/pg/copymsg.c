/*
 * copymsg.c: bounds-checked CopyData message readers (see copymsg.h).
 */
#include "barrel/build.h"
#include "barrel/copymsg.h"
#include "barrel/error.h"

void
copymsg_init(struct copymsg *m, const void *data, size_t len, const char *what)
{
    m->data = data;
    m->len = len;
    m->pos = 0;
    m->what = what;
}

static int
need(struct copymsg *m, size_t n, struct br_error *err)
{
    if (m->len - m->pos < n)
        return br_error_set(err, BR_E_FORMAT, "malformed %s message from the server: %zu bytes, expected at least %zu",
                            m->what, m->len, m->pos + n);
    return 0;
}

int
copymsg_byte(struct copymsg *m, uint8_t *out, struct br_error *err)
{
    if (need(m, 1, err) != 0)
        return -1;
    *out = m->data[m->pos++];
    return 0;
}

int
copymsg_u32(struct copymsg *m, uint32_t *out, struct br_error *err)
{
    uint32_t v = 0;

    if (need(m, 4, err) != 0)
        return -1;
    for (int i = 0; i < 4; i++)
        v = (v << 8) | m->data[m->pos++];
    *out = v;
    return 0;
}

int
copymsg_u64(struct copymsg *m, uint64_t *out, struct br_error *err)
{
    uint64_t v = 0;

    if (need(m, 8, err) != 0)
        return -1;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | m->data[m->pos++];
    *out = v;
    return 0;
}

int
copymsg_i64(struct copymsg *m, int64_t *out, struct br_error *err)
{
    uint64_t v;

    if (copymsg_u64(m, &v, err) != 0)
        return -1;
    *out = (int64_t) v;
    return 0;
}

int
copymsg_string(struct copymsg *m, const char **out, struct br_error *err)
{
    const unsigned char *start = m->data + m->pos;
    const unsigned char *nul = memchr(start, '\0', m->len - m->pos);

    if (nul == NULL)
        return br_error_set(err, BR_E_FORMAT, "malformed %s message from the server: unterminated string", m->what);
    *out = (const char *) start;
    m->pos += (size_t) (nul - start) + 1;
    return 0;
}

void
copymsg_rest(struct copymsg *m, const unsigned char **out, size_t *len)
{
    *out = m->data + m->pos;
    *len = m->len - m->pos;
    m->pos = m->len;
}

int
copymsg_end(struct copymsg *m, struct br_error *err)
{
    if (m->pos != m->len)
        return br_error_set(err, BR_E_FORMAT, "malformed %s message from the server: %zu unexpected trailing bytes",
                            m->what, m->len - m->pos);
    return 0;
}

void
copymsg_put_u64(unsigned char *buf, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        buf[i] = (unsigned char) (v & 0xff);
        v >>= 8;
    }
}

void
copymsg_put_u32(unsigned char *buf, uint32_t v)
{
    for (int i = 3; i >= 0; i--) {
        buf[i] = (unsigned char) (v & 0xff);
        v >>= 8;
    }
}
