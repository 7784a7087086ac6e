/*
 * json.c: a JSON value tree serialised like Python's json.dumps(sort_keys=True).
 *
 * Objects keep insertion order in memory and are sorted (by byte order of
 * the UTF-8 keys, which matches Python's code-point order) when written.
 */
#include "barrel/build.h"
#include "barrel/json.h"
#include "barrel/fmt.h"
#include "barrel/mem.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>

struct json {
    enum json_type type;
    int64_t ival;
    double dval;
    char *sval;
    size_t n, cap;
    char **keys;          /* objects */
    struct json **items;  /* arrays and objects */
};

static struct json *
json_new(enum json_type type)
{
    struct json *v = br_calloc(1, sizeof(*v));
    v->type = type;
    return v;
}

struct json *json_null(void) { return json_new(JSON_NULL); }
struct json *json_array(void) { return json_new(JSON_ARRAY); }
struct json *json_object(void) { return json_new(JSON_OBJECT); }

struct json *
json_bool(int value)
{
    struct json *v = json_new(JSON_BOOL);
    v->ival = value != 0;
    return v;
}

struct json *
json_int(int64_t value)
{
    struct json *v = json_new(JSON_INT);
    v->ival = value;
    return v;
}

struct json *
json_double(double value)
{
    struct json *v = json_new(JSON_DOUBLE);
    v->dval = value;
    return v;
}

struct json *
json_string(const char *value)
{
    struct json *v;

    if (value == NULL)
        return json_null();
    v = json_new(JSON_STRING);
    v->sval = br_strdup(value);
    return v;
}

struct json *
json_stringf(const char *fmt, ...)
{
    va_list ap;
    struct json *v = json_new(JSON_STRING);

    va_start(ap, fmt);
    v->sval = br_vasprintf(fmt, ap);
    va_end(ap);
    return v;
}

static void
json_grow(struct json *c)
{
    if (c->n < c->cap)
        return;
    c->cap = c->cap ? c->cap * 2 : 8;
    c->items = br_realloc(c->items, c->cap * sizeof(*c->items));
    if (c->type == JSON_OBJECT)
        c->keys = br_realloc(c->keys, c->cap * sizeof(*c->keys));
}

void
json_array_add(struct json *array, struct json *value)
{
    json_grow(array);
    array->items[array->n++] = value;
}

void
json_object_set(struct json *object, const char *key, struct json *value)
{
    for (size_t i = 0; i < object->n; i++) {
        if (strcmp(object->keys[i], key) == 0) {
            json_free(object->items[i]);
            object->items[i] = value;
            return;
        }
    }
    json_grow(object);
    object->keys[object->n] = br_strdup(key);
    object->items[object->n++] = value;
}

enum json_type json_type_of(const struct json *value) { return value->type; }

struct json *
json_object_get(const struct json *object, const char *key)
{
    if (object == NULL || object->type != JSON_OBJECT)
        return NULL;
    for (size_t i = 0; i < object->n; i++)
        if (strcmp(object->keys[i], key) == 0)
            return object->items[i];
    return NULL;
}

size_t json_array_len(const struct json *array) { return array->type == JSON_ARRAY ? array->n : 0; }

struct json *
json_array_get(const struct json *array, size_t idx)
{
    return array->type == JSON_ARRAY && idx < array->n ? array->items[idx] : NULL;
}

const char *
json_string_value(const struct json *value)
{
    return value && value->type == JSON_STRING ? value->sval : NULL;
}

/* Decode one UTF-8 sequence; invalid bytes decode as U+FFFD and advance by one. */
static uint32_t
utf8_next(const unsigned char **pp)
{
    const unsigned char *p = *pp;
    uint32_t cp;
    int extra;

    if (p[0] < 0x80) { *pp = p + 1; return p[0]; }
    if ((p[0] & 0xE0) == 0xC0) { cp = p[0] & 0x1F; extra = 1; }
    else if ((p[0] & 0xF0) == 0xE0) { cp = p[0] & 0x0F; extra = 2; }
    else if ((p[0] & 0xF8) == 0xF0) { cp = p[0] & 0x07; extra = 3; }
    else { *pp = p + 1; return 0xFFFD; }
    for (int i = 1; i <= extra; i++) {
        if ((p[i] & 0xC0) != 0x80) { *pp = p + 1; return 0xFFFD; }
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    *pp = p + extra + 1;
    return cp;
}

void
json_write_string(struct strbuf *out, const char *s)
{
    const unsigned char *p = (const unsigned char *) s;

    strbuf_append_char(out, '"');
    while (*p) {
        uint32_t cp = utf8_next(&p);
        switch (cp) {
        case '"': strbuf_append(out, "\\\""); break;
        case '\\': strbuf_append(out, "\\\\"); break;
        case '\n': strbuf_append(out, "\\n"); break;
        case '\r': strbuf_append(out, "\\r"); break;
        case '\t': strbuf_append(out, "\\t"); break;
        case '\b': strbuf_append(out, "\\b"); break;
        case '\f': strbuf_append(out, "\\f"); break;
        default:
            if (cp < 0x20 || (cp > 0x7F && cp < 0x10000))
                strbuf_appendf(out, "\\u%04" PRIx32, cp);
            else if (cp >= 0x10000) {
                /* ensure_ascii: astral characters become a surrogate pair */
                uint32_t v = cp - 0x10000;
                strbuf_appendf(out, "\\u%04" PRIx32 "\\u%04" PRIx32, 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
            } else
                strbuf_append_char(out, (char) cp);
        }
    }
    strbuf_append_char(out, '"');
}

static int
key_cmp(const void *a, const void *b)
{
    const char *const *ka = a, *const *kb = b;
    return strcmp(*ka, *kb);
}

static void
write_indent(struct strbuf *out, int indent, int level)
{
    strbuf_append_char(out, '\n');
    for (int i = 0; i < indent * level; i++)
        strbuf_append_char(out, ' ');
}

static void
json_write_level(const struct json *v, struct strbuf *out, int indent, int level)
{
    char buf[64];

    switch (v->type) {
    case JSON_NULL: strbuf_append(out, "null"); break;
    case JSON_BOOL: strbuf_append(out, v->ival ? "true" : "false"); break;
    case JSON_INT: strbuf_appendf(out, "%" PRId64, v->ival); break;
    case JSON_DOUBLE:
        if (isnan(v->dval))
            strbuf_append(out, "NaN");
        else if (isinf(v->dval))
            strbuf_append(out, v->dval > 0 ? "Infinity" : "-Infinity");
        else {
            fmt_py_float(v->dval, buf, sizeof(buf));
            strbuf_append(out, buf);
        }
        break;
    case JSON_STRING: json_write_string(out, v->sval); break;
    case JSON_ARRAY:
        strbuf_append_char(out, '[');
        for (size_t i = 0; i < v->n; i++) {
            if (i > 0)
                strbuf_append(out, indent ? "," : ", ");
            if (indent)
                write_indent(out, indent, level + 1);
            json_write_level(v->items[i], out, indent, level + 1);
        }
        if (indent && v->n)
            write_indent(out, indent, level);
        strbuf_append_char(out, ']');
        break;
    case JSON_OBJECT: {
        /* sort an index of the keys, not the object itself */
        const char **order = br_malloc((v->n ? v->n : 1) * sizeof(*order));
        for (size_t i = 0; i < v->n; i++)
            order[i] = v->keys[i];
        qsort(order, v->n, sizeof(*order), key_cmp);
        strbuf_append_char(out, '{');
        for (size_t i = 0; i < v->n; i++) {
            if (i > 0)
                strbuf_append(out, indent ? "," : ", ");
            if (indent)
                write_indent(out, indent, level + 1);
            json_write_string(out, order[i]);
            strbuf_append(out, ": ");
            json_write_level(json_object_get(v, order[i]), out, indent, level + 1);
        }
        if (indent && v->n)
            write_indent(out, indent, level);
        strbuf_append_char(out, '}');
        free(order);
        break;
    }
    }
}

void
json_write(const struct json *value, struct strbuf *out, int indent)
{
    json_write_level(value, out, indent, 0);
}

void
json_free(struct json *value)
{
    if (value == NULL)
        return;
    for (size_t i = 0; i < value->n; i++) {
        json_free(value->items[i]);
        if (value->keys)
            free(value->keys[i]);
    }
    free(value->items);
    free(value->keys);
    free(value->sval);
    free(value);
}
