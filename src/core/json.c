/*
 * json.c: a JSON value tree serialised like Python's json.dumps(sort_keys=True),
 * a small parser for barrel's own state files, and their durable read/write.
 *
 * Objects keep insertion order in memory and are sorted (by byte order of
 * the UTF-8 keys, which matches Python's code-point order) when written.
 */
#include "barrel/build.h"
#include "barrel/json.h"
#include "barrel/error.h"
#include "barrel/fmt.h"
#include "barrel/fs.h"
#include "barrel/mem.h"

#include <ctype.h>
#include <errno.h>
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

/* ---- parsing ---- */

#define JSON_MAX_DEPTH 64
#define JSON_STATE_MAX_BYTES (1024 * 1024)

struct json_parser {
    const char *s;
    size_t len, pos;
    const char *origin;
    struct br_error *err;
};

static struct json *
json_fail(struct json_parser *p, const char *what)
{
    br_error_set(p->err, BR_E_FORMAT, "could not parse JSON in \"%s\" at byte %zu: %s", p->origin, p->pos, what);
    return NULL;
}

static void
json_ws(struct json_parser *p)
{
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n'
                               || p->s[p->pos] == '\r'))
        p->pos++;
}

static int
json_lit(struct json_parser *p, const char *word)
{
    size_t n = strlen(word);
    if (p->len - p->pos >= n && memcmp(p->s + p->pos, word, n) == 0) {
        p->pos += n;
        return 1;
    }
    return 0;
}

static int
json_hex4(struct json_parser *p, uint32_t *out)
{
    uint32_t v = 0;
    if (p->len - p->pos < 4)
        return -1;
    for (int i = 0; i < 4; i++) {
        int c = (unsigned char) p->s[p->pos++];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (uint32_t) (c - '0');
        else if (c >= 'a' && c <= 'f') v |= (uint32_t) (c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (uint32_t) (c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

static void
json_put_utf8(struct strbuf *sb, uint32_t cp)
{
    if (cp < 0x80)
        strbuf_append_char(sb, (char) cp);
    else if (cp < 0x800) {
        strbuf_append_char(sb, (char) (0xC0 | (cp >> 6)));
        strbuf_append_char(sb, (char) (0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        strbuf_append_char(sb, (char) (0xE0 | (cp >> 12)));
        strbuf_append_char(sb, (char) (0x80 | ((cp >> 6) & 0x3F)));
        strbuf_append_char(sb, (char) (0x80 | (cp & 0x3F)));
    } else {
        strbuf_append_char(sb, (char) (0xF0 | (cp >> 18)));
        strbuf_append_char(sb, (char) (0x80 | ((cp >> 12) & 0x3F)));
        strbuf_append_char(sb, (char) (0x80 | ((cp >> 6) & 0x3F)));
        strbuf_append_char(sb, (char) (0x80 | (cp & 0x3F)));
    }
}

/* A string literal (after the opening quote) into sb. */
static int
json_str(struct json_parser *p, struct strbuf *sb)
{
    while (p->pos < p->len) {
        unsigned char c = (unsigned char) p->s[p->pos++];
        if (c == '"')
            return 0;
        if (c < 0x20) {
            json_fail(p, "control character in a string");
            return -1;
        }
        if (c != '\\') {
            strbuf_append_char(sb, (char) c);
            continue;
        }
        if (p->pos >= p->len)
            break;
        c = (unsigned char) p->s[p->pos++];
        switch (c) {
        case '"': case '\\': case '/': strbuf_append_char(sb, (char) c); break;
        case 'b': strbuf_append_char(sb, '\b'); break;
        case 'f': strbuf_append_char(sb, '\f'); break;
        case 'n': strbuf_append_char(sb, '\n'); break;
        case 'r': strbuf_append_char(sb, '\r'); break;
        case 't': strbuf_append_char(sb, '\t'); break;
        case 'u': {
            uint32_t cp, lo;
            if (json_hex4(p, &cp) != 0) {
                json_fail(p, "bad \\u escape");
                return -1;
            }
            if (cp >= 0xD800 && cp < 0xDC00 && json_lit(p, "\\u") && json_hex4(p, &lo) == 0 && lo >= 0xDC00
                && lo < 0xE000)
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            if (cp == 0) {
                json_fail(p, "\\u0000 in a string");
                return -1;
            }
            json_put_utf8(sb, cp);
            break;
        }
        default:
            json_fail(p, "bad escape");
            return -1;
        }
    }
    json_fail(p, "unterminated string");
    return -1;
}

static struct json *json_value(struct json_parser *p, int depth);

static struct json *
json_number(struct json_parser *p)
{
    size_t start = p->pos;
    int is_float = 0;
    char buf[64];

    if (p->pos < p->len && p->s[p->pos] == '-')
        p->pos++;
    if (p->pos >= p->len || !isdigit((unsigned char) p->s[p->pos]))
        return json_fail(p, "bad number");
    while (p->pos < p->len && (isdigit((unsigned char) p->s[p->pos]) || strchr(".eE+-", p->s[p->pos]))) {
        if (strchr(".eE", p->s[p->pos]))
            is_float = 1;
        p->pos++;
    }
    if (p->pos - start >= sizeof(buf))
        return json_fail(p, "number too long");
    memcpy(buf, p->s + start, p->pos - start);
    buf[p->pos - start] = '\0';
    errno = 0;
    if (!is_float) {
        char *end;
        long long v = strtoll(buf, &end, 10);
        if (errno == 0 && *end == '\0')
            return json_int(v);
    }
    char *end;
    double d = strtod(buf, &end);
    if (*end != '\0')
        return json_fail(p, "bad number");
    return json_double(d);
}

static struct json *
json_value(struct json_parser *p, int depth)
{
    struct strbuf sb;
    struct json *v;

    if (depth > JSON_MAX_DEPTH)
        return json_fail(p, "nesting too deep");
    json_ws(p);
    if (p->pos >= p->len)
        return json_fail(p, "unexpected end");
    switch (p->s[p->pos]) {
    case '"':
        p->pos++;
        strbuf_init(&sb);
        if (json_str(p, &sb) != 0) {
            strbuf_free(&sb);
            return NULL;
        }
        v = json_string(sb.buf);
        strbuf_free(&sb);
        return v;
    case '{':
        p->pos++;
        v = json_object();
        json_ws(p);
        if (p->pos < p->len && p->s[p->pos] == '}') {
            p->pos++;
            return v;
        }
        for (;;) {
            json_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != '"') {
                json_free(v);
                return json_fail(p, "expected a key");
            }
            p->pos++;
            strbuf_init(&sb);
            if (json_str(p, &sb) != 0) {
                strbuf_free(&sb);
                json_free(v);
                return NULL;
            }
            json_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':') {
                strbuf_free(&sb);
                json_free(v);
                return json_fail(p, "expected ':'");
            }
            p->pos++;
            struct json *item = json_value(p, depth + 1);
            if (item == NULL) {
                strbuf_free(&sb);
                json_free(v);
                return NULL;
            }
            json_object_set(v, sb.buf, item);
            strbuf_free(&sb);
            json_ws(p);
            if (p->pos < p->len && p->s[p->pos] == ',') {
                p->pos++;
                continue;
            }
            if (p->pos < p->len && p->s[p->pos] == '}') {
                p->pos++;
                return v;
            }
            json_free(v);
            return json_fail(p, "expected ',' or '}'");
        }
    case '[':
        p->pos++;
        v = json_array();
        json_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ']') {
            p->pos++;
            return v;
        }
        for (;;) {
            struct json *item = json_value(p, depth + 1);
            if (item == NULL) {
                json_free(v);
                return NULL;
            }
            json_array_add(v, item);
            json_ws(p);
            if (p->pos < p->len && p->s[p->pos] == ',') {
                p->pos++;
                continue;
            }
            if (p->pos < p->len && p->s[p->pos] == ']') {
                p->pos++;
                return v;
            }
            json_free(v);
            return json_fail(p, "expected ',' or ']'");
        }
    default:
        if (json_lit(p, "true"))
            return json_bool(1);
        if (json_lit(p, "false"))
            return json_bool(0);
        if (json_lit(p, "null"))
            return json_null();
        return json_number(p);
    }
}

struct json *
json_parse(const char *text, size_t len, const char *origin, struct br_error *err)
{
    struct json_parser p = {.s = text, .len = len, .origin = origin, .err = err};
    struct json *v = json_value(&p, 0);

    if (v == NULL)
        return NULL;
    json_ws(&p);
    if (p.pos != p.len) {
        json_free(v);
        return json_fail(&p, "unexpected text after the value");
    }
    return v;
}

int64_t
json_get_int(const struct json *object, const char *key, int64_t dflt)
{
    const struct json *v = json_object_get(object, key);
    return v && v->type == JSON_INT ? v->ival : dflt;
}

double
json_get_double(const struct json *object, const char *key, double dflt)
{
    const struct json *v = json_object_get(object, key);
    if (v && v->type == JSON_DOUBLE)
        return v->dval;
    if (v && v->type == JSON_INT)
        return (double) v->ival;
    return dflt;
}

int
json_get_bool(const struct json *object, const char *key, int dflt)
{
    const struct json *v = json_object_get(object, key);
    return v && v->type == JSON_BOOL ? (int) v->ival : dflt;
}

const char *
json_get_string(const struct json *object, const char *key)
{
    return json_string_value(json_object_get(object, key));
}

int
json_state_write(const char *path, const struct json *object, struct br_error *err)
{
    char *dir = path_dirname(path);
    struct strbuf sb;
    int rc;

    strbuf_init(&sb);
    json_write(object, &sb, 4);
    strbuf_append_char(&sb, '\n');
    rc = fs_mkdir_p(dir, 0700, err);
    if (rc == 0)
        rc = fs_write_file_durable(path, sb.buf, sb.len, 0600, err);
    strbuf_free(&sb);
    free(dir);
    return rc;
}

struct json *
json_state_read(const char *path, struct br_error *err)
{
    size_t len;
    char *text = fs_read_file(path, JSON_STATE_MAX_BYTES, &len, err);
    struct json *v;

    if (text == NULL) {
        if (err->code == BR_E_NOT_FOUND)
            br_error_clear(err);
        return NULL;
    }
    v = json_parse(text, len, path, err);
    free(text);
    if (v != NULL && v->type != JSON_OBJECT) {
        json_free(v);
        br_error_set(err, BR_E_FORMAT, "\"%s\" is not a JSON object", path);
        return NULL;
    }
    return v;
}
