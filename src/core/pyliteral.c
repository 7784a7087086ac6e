/*
 * pyliteral.c: the Python literals of backup.info, read as ast.literal_eval
 * reads them and written as repr() writes them.
 *
 * The reader is a recursive-descent parser over str (either quote style,
 * u/r prefixes, adjacent-literal concatenation, every escape Python knows
 * except \N{...}), int (decimal, 0x/0o/0b, underscores), float, None,
 * True, False, tuples, lists and dicts. Strings are decoded to UTF-8; a NUL
 * or a surrogate code point cannot live in a C string and is rejected.
 *
 * The writer follows CPython's unicode_repr(): single quotes unless the
 * text contains ' and no ", backslash escapes for \\ \n \r \t and the
 * active quote, \xhh for the other ASCII controls and DEL, non-ASCII
 * characters raw when printable and \xhh/\uhhhh/\Uhhhhhhhh when not.
 * "Printable" comes from the Unicode database in CPython; here it is a
 * table of the non-printable ranges that can plausibly appear (C1
 * controls, format characters, separators, private use), so an unassigned
 * code point is written raw where CPython would escape it. Bytes that are
 * not valid UTF-8 are written as \xhh.
 */
#include "barrel/build.h"
#include "barrel/pyliteral.h"

#include "barrel/error.h"
#include "barrel/fmt.h"
#include "barrel/mem.h"

#include <errno.h>
#include <inttypes.h>

/* Nesting limit: backup.info literals are two levels deep; this stops a hostile file blowing the stack. */
#define PYL_MAX_DEPTH 64

struct pyl_parser {
    const char *text;
    size_t pos;
    struct br_error *err;
};

static struct pyl *pyl_parse_value(struct pyl_parser *ps, int depth);
static size_t pyl_utf8_decode(const unsigned char *s, uint32_t *cp);

static int
pyl_fail(struct pyl_parser *ps, const char *what)
{
    return br_error_set(ps->err, BR_E_FORMAT, "invalid python literal at offset %zu: %s", ps->pos, what);
}

static struct pyl *
pyl_new(enum pyl_type type)
{
    struct pyl *v = br_calloc(1, sizeof(*v));

    v->type = type;
    return v;
}

static void
pyl_push(struct pyl *v, struct pyl *item, size_t *cap)
{
    if (v->n >= *cap) {
        *cap = *cap ? *cap * 2 : 4;
        v->items = br_realloc(v->items, *cap * sizeof(*v->items));
    }
    v->items[v->n++] = item;
}

void
pyl_free(struct pyl *v)
{
    size_t i, count;

    if (v == NULL)
        return;
    count = v->type == PYL_DICT ? 2 * v->n : v->n;
    if (v->type == PYL_TUPLE || v->type == PYL_LIST || v->type == PYL_DICT)
        for (i = 0; i < count; i++)
            pyl_free(v->items[i]);
    free(v->items);
    free(v->sval);
    free(v);
}

static void
pyl_skip_ws(struct pyl_parser *ps)
{
    for (;;) {
        char c = ps->text[ps->pos];

        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v')
            ps->pos++;
        else if (c == '\\' && ps->text[ps->pos + 1] == '\n')
            ps->pos += 2;   /* explicit line joining */
        else
            return;
    }
}

/* ---- strings ---- */

static void
pyl_put_utf8(struct strbuf *sb, uint32_t cp)
{
    char b[4];

    if (cp < 0x80) {
        b[0] = (char) cp;
        strbuf_append_len(sb, b, 1);
    } else if (cp < 0x800) {
        b[0] = (char) (0xC0 | (cp >> 6));
        b[1] = (char) (0x80 | (cp & 0x3F));
        strbuf_append_len(sb, b, 2);
    } else if (cp < 0x10000) {
        b[0] = (char) (0xE0 | (cp >> 12));
        b[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char) (0x80 | (cp & 0x3F));
        strbuf_append_len(sb, b, 3);
    } else {
        b[0] = (char) (0xF0 | (cp >> 18));
        b[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char) (0x80 | (cp & 0x3F));
        strbuf_append_len(sb, b, 4);
    }
}

static int
pyl_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Exactly `count` hex digits at ps->pos (Python requires all of them). */
static int
pyl_read_hex(struct pyl_parser *ps, int count, uint32_t *out)
{
    uint32_t cp = 0;
    int i;

    for (i = 0; i < count; i++) {
        int h = pyl_hexval(ps->text[ps->pos]);

        if (h < 0)
            return pyl_fail(ps, "truncated \\x, \\u or \\U escape");
        cp = cp * 16 + (uint32_t) h;
        ps->pos++;
    }
    *out = cp;
    return 0;
}

static int
pyl_put_codepoint(struct pyl_parser *ps, struct strbuf *sb, uint32_t cp)
{
    if (cp == 0)
        return pyl_fail(ps, "NUL character in string");
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return pyl_fail(ps, "invalid code point in string");
    pyl_put_utf8(sb, cp);
    return 0;
}

/* One quoted piece (prefix already consumed), appended to sb. */
static int
pyl_parse_quoted(struct pyl_parser *ps, struct strbuf *sb, int raw)
{
    char quote = ps->text[ps->pos++];

    for (;;) {
        char c = ps->text[ps->pos];
        uint32_t cp = 0;

        if (c == '\0' || c == '\n')
            return pyl_fail(ps, "unterminated string");
        if (c == quote) {
            ps->pos++;
            return 0;
        }
        if (c != '\\') {
            if ((unsigned char) c >= 0x80) {
                /* Python decodes the file first: bytes that are not UTF-8 never reach literal_eval */
                uint32_t ucp;
                size_t used = pyl_utf8_decode((const unsigned char *) ps->text + ps->pos, &ucp);

                if (used == 0)
                    return pyl_fail(ps, "string is not valid UTF-8");
                strbuf_append_len(sb, ps->text + ps->pos, used);
                ps->pos += used;
                continue;
            }
            strbuf_append_char(sb, c);
            ps->pos++;
            continue;
        }
        /* a backslash */
        c = ps->text[ps->pos + 1];
        if (c == '\0')
            return pyl_fail(ps, "unterminated string");
        if (raw) {
            /* in a raw string the backslash stays, and only protects the next character */
            strbuf_append_char(sb, '\\');
            if (c == quote || c == '\\') {
                strbuf_append_char(sb, c);
                ps->pos += 2;
            } else {
                ps->pos++;      /* anything else (a UTF-8 sequence too) is read by the loop */
            }
            continue;
        }
        ps->pos += 2;
        switch (c) {
        case '\n': break;
        case '\\': strbuf_append_char(sb, '\\'); break;
        case '\'': strbuf_append_char(sb, '\''); break;
        case '"': strbuf_append_char(sb, '"'); break;
        case 'a': strbuf_append_char(sb, '\a'); break;
        case 'b': strbuf_append_char(sb, '\b'); break;
        case 'f': strbuf_append_char(sb, '\f'); break;
        case 'n': strbuf_append_char(sb, '\n'); break;
        case 'r': strbuf_append_char(sb, '\r'); break;
        case 't': strbuf_append_char(sb, '\t'); break;
        case 'v': strbuf_append_char(sb, '\v'); break;
        case 'x':
            if (pyl_read_hex(ps, 2, &cp) < 0 || pyl_put_codepoint(ps, sb, cp) < 0)
                return -1;
            break;
        case 'u':
            if (pyl_read_hex(ps, 4, &cp) < 0 || pyl_put_codepoint(ps, sb, cp) < 0)
                return -1;
            break;
        case 'U':
            if (pyl_read_hex(ps, 8, &cp) < 0 || pyl_put_codepoint(ps, sb, cp) < 0)
                return -1;
            break;
        case '0': case '1': case '2': case '3': case '4': case '5': case '6': case '7': {
            int digits = 1;

            cp = (uint32_t) (c - '0');
            while (digits < 3 && ps->text[ps->pos] >= '0' && ps->text[ps->pos] <= '7') {
                cp = cp * 8 + (uint32_t) (ps->text[ps->pos++] - '0');
                digits++;
            }
            if (pyl_put_codepoint(ps, sb, cp) < 0)
                return -1;
            break;
        }
        case 'N':
            return pyl_fail(ps, "\\N{...} escapes are not supported");
        default:
            /* Python keeps unknown escapes as they are (with a warning); the character is read
               again by the loop, so that a non-ASCII one is checked as UTF-8 too */
            strbuf_append_char(sb, '\\');
            ps->pos--;
            break;
        }
    }
}

/* A string: optional u/r prefix, then pieces, adjacent pieces concatenated as Python does. */
static struct pyl *
pyl_parse_string(struct pyl_parser *ps)
{
    struct strbuf sb;
    struct pyl *v;

    strbuf_init(&sb);
    for (;;) {
        int raw = 0;
        size_t save = ps->pos;
        char c = ps->text[ps->pos];

        if (c == 'u' || c == 'U' || c == 'r' || c == 'R') {
            raw = (c == 'r' || c == 'R');
            ps->pos++;
        }
        c = ps->text[ps->pos];
        if (c != '\'' && c != '"') {
            ps->pos = save;
            break;
        }
        if (ps->text[ps->pos + 1] == c && ps->text[ps->pos + 2] == c) {
            pyl_fail(ps, "triple-quoted strings are not supported");
            strbuf_free(&sb);
            return NULL;
        }
        if (pyl_parse_quoted(ps, &sb, raw) < 0) {
            strbuf_free(&sb);
            return NULL;
        }
        save = ps->pos;
        pyl_skip_ws(ps);
        c = ps->text[ps->pos];
        if (!(c == '\'' || c == '"' || ((c == 'u' || c == 'U' || c == 'r' || c == 'R') &&
              (ps->text[ps->pos + 1] == '\'' || ps->text[ps->pos + 1] == '"')))) {
            ps->pos = save;
            break;
        }
    }
    v = pyl_new(PYL_STR);
    v->sval = strbuf_detach(&sb);
    strbuf_free(&sb);   /* detach leaves a fresh empty buffer behind */
    return v;
}

/* ---- numbers ---- */

static struct pyl *
pyl_parse_number(struct pyl_parser *ps, int negative)
{
    const char *start = ps->text + ps->pos;
    const char *p = start;
    char tok[128];
    size_t n = 0;
    int is_float = 0;
    int base = 10;
    struct pyl *v;

    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X' || p[1] == 'o' || p[1] == 'O' || p[1] == 'b' || p[1] == 'B')) {
        base = (p[1] == 'x' || p[1] == 'X') ? 16 : (p[1] == 'o' || p[1] == 'O') ? 8 : 2;
        p += 2;
        while (pyl_hexval(*p) >= 0 || *p == '_') {
            if (*p != '_' && n + 1 < sizeof(tok))
                tok[n++] = *p;
            p++;
        }
    } else {
        while ((*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == 'e' || *p == 'E' ||
               ((*p == '+' || *p == '-') && p > start && (p[-1] == 'e' || p[-1] == 'E'))) {
            if (*p == '.' || *p == 'e' || *p == 'E')
                is_float = 1;
            if (*p != '_' && n + 1 < sizeof(tok))
                tok[n++] = *p;
            p++;
        }
    }
    tok[n] = '\0';
    if (n == 0 || n + 1 >= sizeof(tok)) {
        pyl_fail(ps, "invalid number");
        return NULL;
    }
    if (*p == 'j' || *p == 'J' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')) {
        pyl_fail(ps, "invalid number");
        return NULL;
    }

    errno = 0;
    if (is_float) {
        char *end;
        double d = strtod(tok, &end);

        if (*end != '\0') {
            pyl_fail(ps, "invalid number");
            return NULL;
        }
        v = pyl_new(PYL_FLOAT);
        v->fval = negative ? -d : d;
    } else {
        char *end;
        unsigned long long u = strtoull(tok, &end, base);

        if (*end != '\0' || errno == ERANGE || u > (unsigned long long) INT64_MAX + (negative ? 1u : 0u)) {
            pyl_fail(ps, "integer out of range or invalid");
            return NULL;
        }
        v = pyl_new(PYL_INT);
        v->ival = negative ? (int64_t) (0 - u) : (int64_t) u;
    }
    ps->pos = (size_t) (p - ps->text);
    return v;
}

/* ---- containers ---- */

/* Tuple or list items up to `close`, separated by commas, trailing comma allowed. */
static int
pyl_parse_items(struct pyl_parser *ps, struct pyl *v, char close, int depth, int *saw_comma)
{
    size_t cap = 0;

    *saw_comma = 0;
    for (;;) {
        struct pyl *item;

        pyl_skip_ws(ps);
        if (ps->text[ps->pos] == close) {
            ps->pos++;
            return 0;
        }
        item = pyl_parse_value(ps, depth + 1);
        if (item == NULL)
            return -1;
        pyl_push(v, item, &cap);
        pyl_skip_ws(ps);
        if (ps->text[ps->pos] == ',') {
            ps->pos++;
            *saw_comma = 1;
            continue;
        }
        if (ps->text[ps->pos] == close) {
            ps->pos++;
            return 0;
        }
        return pyl_fail(ps, "expected ',' or closing bracket");
    }
}

static struct pyl *
pyl_parse_container(struct pyl_parser *ps, char open, int depth)
{
    char close = open == '(' ? ')' : open == '[' ? ']' : '}';
    enum pyl_type type = open == '(' ? PYL_TUPLE : open == '[' ? PYL_LIST : PYL_DICT;
    struct pyl *v = pyl_new(type);
    int saw_comma;

    ps->pos++;
    if (type == PYL_DICT) {
        /* dict items are stored key, value: parse pairs by hand so that items[] stays 2n long */
        size_t cap = 0;

        for (;;) {
            struct pyl *key, *val;

            pyl_skip_ws(ps);
            if (ps->text[ps->pos] == '}') {
                ps->pos++;
                return v;
            }
            key = pyl_parse_value(ps, depth + 1);
            if (key == NULL)
                goto fail;
            pyl_skip_ws(ps);
            if (ps->text[ps->pos] != ':') {
                pyl_free(key);
                pyl_fail(ps, "expected ':' in dict (sets are not supported)");
                goto fail;
            }
            ps->pos++;
            val = pyl_parse_value(ps, depth + 1);
            if (val == NULL) {
                pyl_free(key);
                goto fail;
            }
            if (2 * v->n + 2 > cap) {
                cap = cap ? cap * 2 : 8;
                v->items = br_realloc(v->items, cap * sizeof(*v->items));
            }
            v->items[2 * v->n] = key;
            v->items[2 * v->n + 1] = val;
            v->n++;
            pyl_skip_ws(ps);
            if (ps->text[ps->pos] == ',') {
                ps->pos++;
                continue;
            }
            if (ps->text[ps->pos] == '}') {
                ps->pos++;
                return v;
            }
            pyl_fail(ps, "expected ',' or '}'");
            goto fail;
        }
    }
    if (pyl_parse_items(ps, v, close, depth, &saw_comma) < 0)
        goto fail;
    /* "(x)" is x itself, not a tuple: only a comma (or "()") makes a tuple */
    if (type == PYL_TUPLE && v->n == 1 && !saw_comma) {
        struct pyl *inner = v->items[0];

        v->n = 0;
        pyl_free(v);
        return inner;
    }
    return v;
fail:
    pyl_free(v);
    return NULL;
}

static int
pyl_word(struct pyl_parser *ps, const char *word)
{
    size_t len = strlen(word);
    char next;

    if (strncmp(ps->text + ps->pos, word, len) != 0)
        return 0;
    next = ps->text[ps->pos + len];
    if ((next >= 'a' && next <= 'z') || (next >= 'A' && next <= 'Z') || (next >= '0' && next <= '9') || next == '_')
        return 0;
    ps->pos += len;
    return 1;
}

static struct pyl *
pyl_parse_value(struct pyl_parser *ps, int depth)
{
    char c;
    int negative = 0;

    if (depth > PYL_MAX_DEPTH) {
        pyl_fail(ps, "nesting too deep");
        return NULL;
    }
    pyl_skip_ws(ps);
    c = ps->text[ps->pos];
    if (c == '(' || c == '[' || c == '{')
        return pyl_parse_container(ps, c, depth);
    if (c == '\'' || c == '"' ||
        ((c == 'u' || c == 'U' || c == 'r' || c == 'R') &&
         (ps->text[ps->pos + 1] == '\'' || ps->text[ps->pos + 1] == '"')))
        return pyl_parse_string(ps);
    if (pyl_word(ps, "None"))
        return pyl_new(PYL_NONE);
    if (pyl_word(ps, "True") || pyl_word(ps, "False")) {
        struct pyl *v = pyl_new(PYL_BOOL);

        v->ival = (c == 'T');
        return v;
    }
    /* literal_eval allows unary minus and plus on numbers */
    while (c == '-' || c == '+') {
        if (c == '-')
            negative = !negative;
        ps->pos++;
        pyl_skip_ws(ps);
        c = ps->text[ps->pos];
    }
    if ((c >= '0' && c <= '9') || (c == '.' && ps->text[ps->pos + 1] >= '0' && ps->text[ps->pos + 1] <= '9'))
        return pyl_parse_number(ps, negative);
    if (c == '\0')
        pyl_fail(ps, "unexpected end of text");
    else
        pyl_fail(ps, "unexpected character");
    return NULL;
}

struct pyl *
pyl_parse(const char *text, struct br_error *err)
{
    struct pyl_parser ps = { text, 0, err };
    struct pyl *v = pyl_parse_value(&ps, 0);

    if (v == NULL)
        return NULL;
    pyl_skip_ws(&ps);
    if (text[ps.pos] != '\0') {
        pyl_fail(&ps, "trailing characters");
        pyl_free(v);
        return NULL;
    }
    return v;
}

/* ---- repr ---- */

/* Non-printable code points above ASCII, per Python's str.isprintable() (see the file header). */
static int
pyl_is_printable(uint32_t cp)
{
    static const uint32_t ranges[][2] = {
        { 0x80, 0xA0 }, { 0xAD, 0xAD }, { 0x378, 0x379 }, { 0x600, 0x605 }, { 0x61C, 0x61C },
        { 0x6DD, 0x6DD }, { 0x70F, 0x70F }, { 0x890, 0x891 }, { 0x8E2, 0x8E2 }, { 0x1680, 0x1680 },
        { 0x180E, 0x180E }, { 0x2000, 0x200F }, { 0x2028, 0x202F }, { 0x205F, 0x206F },
        { 0x3000, 0x3000 }, { 0xD800, 0xF8FF }, { 0xFEFF, 0xFEFF }, { 0xFFF0, 0xFFFB },
        { 0xFFFE, 0xFFFF }, { 0x110BD, 0x110BD }, { 0x110CD, 0x110CD }, { 0x13430, 0x1343F },
        { 0x1BCA0, 0x1BCA3 }, { 0x1D173, 0x1D17A }, { 0xE0000, 0xE0FFF }, { 0xF0000, 0x10FFFF },
    };
    size_t i;

    if ((cp & 0xFFFE) == 0xFFFE)
        return 0;   /* the noncharacters U+xFFFE and U+xFFFF of every plane */
    for (i = 0; i < BR_ARRAY_LEN(ranges); i++)
        if (cp >= ranges[i][0] && cp <= ranges[i][1])
            return 0;
    return 1;
}

/* Decode one UTF-8 sequence; 0 bytes consumed when it is not valid (caller escapes the byte). */
static size_t
pyl_utf8_decode(const unsigned char *s, uint32_t *cp)
{
    size_t len, i;
    uint32_t v;

    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    } else if ((s[0] & 0xE0) == 0xC0) {
        len = 2;
        v = s[0] & 0x1F;
    } else if ((s[0] & 0xF0) == 0xE0) {
        len = 3;
        v = s[0] & 0x0F;
    } else if ((s[0] & 0xF8) == 0xF0) {
        len = 4;
        v = s[0] & 0x07;
    } else {
        return 0;
    }
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    /* overlong forms, surrogates and out-of-range values are not UTF-8 */
    if ((len == 2 && v < 0x80) || (len == 3 && v < 0x800) || (len == 4 && v < 0x10000) ||
        v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return len;
}

void
pyl_repr_str(const char *s, struct strbuf *out)
{
    const unsigned char *p = (const unsigned char *) s;
    char quote = '\'';

    if (strchr(s, '\'') != NULL && strchr(s, '"') == NULL)
        quote = '"';
    strbuf_append_char(out, quote);
    while (*p != '\0') {
        uint32_t cp = 0;
        size_t used = pyl_utf8_decode(p, &cp);

        if (used == 0) {
            strbuf_appendf(out, "\\x%02x", *p);
            p++;
            continue;
        }
        if (cp == (uint32_t) quote || cp == '\\') {
            strbuf_append_char(out, '\\');
            strbuf_append_char(out, (char) cp);
        } else if (cp == '\t') {
            strbuf_append(out, "\\t");
        } else if (cp == '\n') {
            strbuf_append(out, "\\n");
        } else if (cp == '\r') {
            strbuf_append(out, "\\r");
        } else if (cp < 0x20 || cp == 0x7F) {
            strbuf_appendf(out, "\\x%02x", (unsigned) cp);
        } else if (cp < 0x7F || pyl_is_printable(cp)) {
            strbuf_append_len(out, (const char *) p, used);
        } else if (cp < 0x100) {
            strbuf_appendf(out, "\\x%02x", (unsigned) cp);
        } else if (cp < 0x10000) {
            strbuf_appendf(out, "\\u%04x", (unsigned) cp);
        } else {
            strbuf_appendf(out, "\\U%08x", (unsigned) cp);
        }
        p += used;
    }
    strbuf_append_char(out, quote);
}

void
pyl_repr(const struct pyl *v, struct strbuf *out)
{
    char num[64];
    size_t i;

    switch (v->type) {
    case PYL_NONE:
        strbuf_append(out, "None");
        break;
    case PYL_BOOL:
        strbuf_append(out, v->ival ? "True" : "False");
        break;
    case PYL_INT:
        strbuf_appendf(out, "%" PRId64, v->ival);
        break;
    case PYL_FLOAT:
        fmt_py_float(v->fval, num, sizeof(num));
        strbuf_append(out, num);
        break;
    case PYL_STR:
        pyl_repr_str(v->sval, out);
        break;
    case PYL_TUPLE:
    case PYL_LIST:
        strbuf_append_char(out, v->type == PYL_TUPLE ? '(' : '[');
        for (i = 0; i < v->n; i++) {
            if (i > 0)
                strbuf_append(out, ", ");
            pyl_repr(v->items[i], out);
        }
        /* a 1-tuple needs its comma, or it would read back as the bare value */
        if (v->type == PYL_TUPLE && v->n == 1)
            strbuf_append_char(out, ',');
        strbuf_append_char(out, v->type == PYL_TUPLE ? ')' : ']');
        break;
    case PYL_DICT:
        strbuf_append_char(out, '{');
        for (i = 0; i < v->n; i++) {
            if (i > 0)
                strbuf_append(out, ", ");
            pyl_repr(v->items[2 * i], out);
            strbuf_append(out, ": ");
            pyl_repr(v->items[2 * i + 1], out);
        }
        strbuf_append_char(out, '}');
        break;
    }
}

const struct pyl *
pyl_dict_get(const struct pyl *dict, const char *key)
{
    size_t i;

    if (dict == NULL || dict->type != PYL_DICT)
        return NULL;
    /* Python keeps the last of duplicate keys: search from the end */
    for (i = dict->n; i-- > 0;) {
        const struct pyl *k = dict->items[2 * i];

        if (k->type == PYL_STR && strcmp(k->sval, key) == 0)
            return dict->items[2 * i + 1];
    }
    return NULL;
}
