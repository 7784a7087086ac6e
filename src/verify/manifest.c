/*
 * manifest.c: parse PostgreSQL's backup_manifest.
 *
 * A small recursive-descent JSON reader specialised for the manifest: it
 * walks the top-level object, turns each "Files" entry straight into a
 * compact struct (no DOM of millions of small JSON values), skips keys it
 * does not know, and checks the manifest's own SHA-256 over the bytes that
 * precede the "Manifest-Checksum" line, as pg_verifybackup does.
 */
#include "barrel/build.h"
#include "barrel/manifest.h"
#include "barrel/error.h"
#include "barrel/fs.h"
#include "barrel/mem.h"
#include "barrel/strbuf.h"
#include "barrel/xlog.h"

#include <ctype.h>
#include <stdarg.h>

#define MANIFEST_MAX_BYTES ((size_t) 4 << 30)

struct parser {
    const char *text;
    size_t len;
    size_t pos;
    const char *origin;
    struct br_error *err;
    struct manifest *m;
};

static int perr(struct parser *p, const char *fmt, ...) BR_PRINTF(2, 3);

static int
perr(struct parser *p, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    size_t line = 1;

    for (size_t i = 0; i < p->pos && i < p->len; i++)
        line += p->text[i] == '\n';
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return br_error_set(p->err, BR_E_FORMAT, "could not parse backup manifest \"%s\": line %zu: %s", p->origin, line,
                        msg);
}

static void
skip_ws(struct parser *p)
{
    while (p->pos < p->len && isspace((unsigned char) p->text[p->pos]))
        p->pos++;
}

static int
expect(struct parser *p, char c)
{
    skip_ws(p);
    if (p->pos >= p->len || p->text[p->pos] != c)
        return perr(p, "expected '%c'", c);
    p->pos++;
    return 0;
}

/* Is the next non-blank character c? Consumes it if so. */
static int
accept(struct parser *p, char c)
{
    skip_ws(p);
    if (p->pos < p->len && p->text[p->pos] == c) {
        p->pos++;
        return 1;
    }
    return 0;
}

static int
hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static void
put_utf8(struct strbuf *sb, uint32_t cp)
{
    char b[4];
    if (cp < 0x80)
        strbuf_append_char(sb, (char) cp);
    else if (cp < 0x800) {
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

/* A JSON string into sb (decoded). */
static int
parse_string(struct parser *p, struct strbuf *sb)
{
    if (expect(p, '"') != 0)
        return -1;
    strbuf_reset(sb);
    while (p->pos < p->len) {
        unsigned char c = (unsigned char) p->text[p->pos++];
        if (c == '"')
            return 0;
        if (c < 0x20)
            return perr(p, "control character in a string");
        if (c != '\\') {
            strbuf_append_char(sb, (char) c);
            continue;
        }
        if (p->pos >= p->len)
            break;
        c = (unsigned char) p->text[p->pos++];
        switch (c) {
        case '"': case '\\': case '/': strbuf_append_char(sb, (char) c); break;
        case 'b': strbuf_append_char(sb, '\b'); break;
        case 'f': strbuf_append_char(sb, '\f'); break;
        case 'n': strbuf_append_char(sb, '\n'); break;
        case 'r': strbuf_append_char(sb, '\r'); break;
        case 't': strbuf_append_char(sb, '\t'); break;
        case 'u': {
            uint32_t cp = 0;
            if (p->len - p->pos < 4)
                return perr(p, "truncated \\u escape");
            for (int i = 0; i < 4; i++) {
                int h = hexval(p->text[p->pos++]);
                if (h < 0)
                    return perr(p, "bad \\u escape");
                cp = cp << 4 | (uint32_t) h;
            }
            if (cp == 0)
                return perr(p, "\\u0000 in a string");
            put_utf8(sb, cp);
            break;
        }
        default:
            return perr(p, "bad escape '\\%c'", c);
        }
    }
    return perr(p, "unterminated string");
}

static int
parse_int(struct parser *p, int64_t *out)
{
    int64_t v = 0;
    int neg = 0, digits = 0;

    skip_ws(p);
    if (p->pos < p->len && p->text[p->pos] == '-') {
        neg = 1;
        p->pos++;
    }
    while (p->pos < p->len && isdigit((unsigned char) p->text[p->pos])) {
        if (v > (INT64_MAX - 9) / 10)
            return perr(p, "number out of range");
        v = v * 10 + (p->text[p->pos++] - '0');
        digits++;
    }
    if (digits == 0)
        return perr(p, "expected a number");
    *out = neg ? -v : v;
    return 0;
}

static int skip_value(struct parser *p, int depth);

static int
skip_value(struct parser *p, int depth)
{
    struct strbuf sb;
    int rc = 0;

    if (depth > 64)
        return perr(p, "nesting too deep");
    skip_ws(p);
    if (p->pos >= p->len)
        return perr(p, "unexpected end");
    switch (p->text[p->pos]) {
    case '"':
        strbuf_init(&sb);
        rc = parse_string(p, &sb);
        strbuf_free(&sb);
        return rc;
    case '{':
        p->pos++;
        if (accept(p, '}'))
            return 0;
        strbuf_init(&sb);
        do {
            if (parse_string(p, &sb) != 0 || expect(p, ':') != 0 || skip_value(p, depth + 1) != 0) {
                rc = -1;
                break;
            }
        } while (accept(p, ','));
        strbuf_free(&sb);
        return rc != 0 ? -1 : expect(p, '}');
    case '[':
        p->pos++;
        if (accept(p, ']'))
            return 0;
        do {
            if (skip_value(p, depth + 1) != 0)
                return -1;
        } while (accept(p, ','));
        return expect(p, ']');
    default:
        /* numbers, true, false, null */
        while (p->pos < p->len && (isalnum((unsigned char) p->text[p->pos]) || strchr("+-.", p->text[p->pos])))
            p->pos++;
        return 0;
    }
}

static enum manifest_checksum
checksum_from_name(const char *name, int *ok)
{
    static const struct { const char *name; enum manifest_checksum alg; } algs[] = {
        {"NONE", MANIFEST_CK_NONE}, {"CRC32C", MANIFEST_CK_CRC32C}, {"SHA224", MANIFEST_CK_SHA224},
        {"SHA256", MANIFEST_CK_SHA256}, {"SHA384", MANIFEST_CK_SHA384}, {"SHA512", MANIFEST_CK_SHA512},
    };
    for (size_t i = 0; i < BR_ARRAY_LEN(algs); i++)
        if (strcmp(name, algs[i].name) == 0) {
            *ok = 1;
            return algs[i].alg;
        }
    *ok = 0;
    return MANIFEST_CK_NONE;
}

const char *
manifest_checksum_name(enum manifest_checksum algorithm)
{
    switch (algorithm) {
    case MANIFEST_CK_CRC32C: return "CRC32C";
    case MANIFEST_CK_SHA224: return "SHA224";
    case MANIFEST_CK_SHA256: return "SHA256";
    case MANIFEST_CK_SHA384: return "SHA384";
    case MANIFEST_CK_SHA512: return "SHA512";
    default: return "NONE";
    }
}

static int
hex_decode(const char *hex, unsigned char *out, size_t max, size_t *len)
{
    size_t n = strlen(hex);

    if (n % 2 != 0 || n / 2 > max)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (unsigned char) (hi << 4 | lo);
    }
    *len = n / 2;
    return 0;
}

static int
parse_file_entry(struct parser *p)
{
    struct manifest *m = p->m;
    struct manifest_file f = {0};
    struct strbuf key, val;
    int have_size = 0, have_path = 0, rc = -1;
    int64_t size;

    strbuf_init(&key);
    strbuf_init(&val);
    if (expect(p, '{') != 0)
        goto out;
    do {
        if (parse_string(p, &key) != 0 || expect(p, ':') != 0)
            goto out;
        if (strcmp(key.buf, "Path") == 0 || strcmp(key.buf, "Encoded-Path") == 0) {
            if (parse_string(p, &val) != 0)
                goto out;
            free(f.path);
            f.path = NULL;
            if (strcmp(key.buf, "Path") == 0)
                f.path = br_strdup(val.buf);
            else {
                unsigned char *raw = br_malloc(val.len / 2 + 1);
                size_t rl;
                if (hex_decode(val.buf, raw, val.len / 2, &rl) != 0) {
                    free(raw);
                    perr(p, "bad Encoded-Path");
                    goto out;
                }
                raw[rl] = '\0';
                f.path = (char *) raw;
            }
            have_path = 1;
        } else if (strcmp(key.buf, "Size") == 0) {
            if (parse_int(p, &size) != 0)
                goto out;
            if (size < 0) {
                perr(p, "negative file size");
                goto out;
            }
            f.size = size;
            have_size = 1;
        } else if (strcmp(key.buf, "Checksum-Algorithm") == 0) {
            int ok;
            if (parse_string(p, &val) != 0)
                goto out;
            f.algorithm = checksum_from_name(val.buf, &ok);
            if (!ok) {
                perr(p, "unknown checksum algorithm \"%s\"", val.buf);
                goto out;
            }
        } else if (strcmp(key.buf, "Checksum") == 0) {
            if (parse_string(p, &val) != 0)
                goto out;
            if (hex_decode(val.buf, f.checksum, sizeof(f.checksum), &f.checksum_len) != 0) {
                perr(p, "invalid checksum \"%s\"", val.buf);
                goto out;
            }
        } else if (skip_value(p, 1) != 0)
            goto out;
    } while (accept(p, ','));
    if (expect(p, '}') != 0)
        goto out;
    if (!have_path || !have_size) {
        perr(p, "file entry without %s", have_path ? "Size" : "Path");
        goto out;
    }
    if (m->n_files % 1024 == 0)
        m->files = br_realloc(m->files, (m->n_files + 1024) * sizeof(*m->files));
    m->files[m->n_files++] = f;
    f.path = NULL;
    rc = 0;
out:
    free(f.path);
    strbuf_free(&key);
    strbuf_free(&val);
    return rc;
}

static int
parse_wal_range(struct parser *p)
{
    struct manifest *m = p->m;
    struct manifest_wal_range r = {0};
    struct strbuf key, val;
    int64_t tli;
    int rc = -1;

    strbuf_init(&key);
    strbuf_init(&val);
    if (expect(p, '{') != 0)
        goto out;
    do {
        if (parse_string(p, &key) != 0 || expect(p, ':') != 0)
            goto out;
        if (strcmp(key.buf, "Timeline") == 0) {
            if (parse_int(p, &tli) != 0)
                goto out;
            if (tli <= 0 || tli > UINT32_MAX) {
                perr(p, "timeline out of range");
                goto out;
            }
            r.timeline = (uint32_t) tli;
        } else if (strcmp(key.buf, "Start-LSN") == 0 || strcmp(key.buf, "End-LSN") == 0) {
            uint64_t lsn;
            if (parse_string(p, &val) != 0)
                goto out;
            if (xlog_lsn_parse(val.buf, &lsn) != 0) {
                perr(p, "invalid LSN \"%s\"", val.buf);
                goto out;
            }
            if (key.buf[0] == 'S')
                r.start_lsn = lsn;
            else
                r.end_lsn = lsn;
        } else if (skip_value(p, 1) != 0)
            goto out;
    } while (accept(p, ','));
    if (expect(p, '}') != 0)
        goto out;
    m->wal_ranges = br_realloc(m->wal_ranges, (m->n_wal_ranges + 1) * sizeof(*m->wal_ranges));
    m->wal_ranges[m->n_wal_ranges++] = r;
    rc = 0;
out:
    strbuf_free(&key);
    strbuf_free(&val);
    return rc;
}

static uint64_t
hash_path(const char *s)
{
    uint64_t h = 1469598103934665603ull;   /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char) *s) * 1099511628211ull;
    return h;
}

static int
build_table(struct parser *p)
{
    struct manifest *m = p->m;

    m->table_size = 16;
    while (m->table_size < m->n_files * 2)
        m->table_size *= 2;
    m->table = br_calloc(m->table_size, sizeof(*m->table));
    for (size_t i = 0; i < m->n_files; i++) {
        size_t slot = hash_path(m->files[i].path) & (m->table_size - 1);
        while (m->table[slot] != 0) {
            if (strcmp(m->files[m->table[slot] - 1].path, m->files[i].path) == 0)
                return br_error_set(p->err, BR_E_FORMAT, "backup manifest \"%s\" lists file \"%s\" twice", p->origin,
                                    m->files[i].path);
            slot = (slot + 1) & (m->table_size - 1);
        }
        m->table[slot] = i + 1;
    }
    return 0;
}

struct manifest_file *
manifest_find(const struct manifest *m, const char *path)
{
    size_t slot;

    if (m->table_size == 0)
        return NULL;
    slot = hash_path(path) & (m->table_size - 1);
    while (m->table[slot] != 0) {
        struct manifest_file *f = &m->files[m->table[slot] - 1];
        if (strcmp(f->path, path) == 0)
            return f;
        slot = (slot + 1) & (m->table_size - 1);
    }
    return NULL;
}

/* The manifest checksum covers every byte up to and including the newline before "Manifest-Checksum". */
static int
verify_manifest_checksum(struct parser *p, const char *expected_hex)
{
    const char *key = "\"Manifest-Checksum\"";
    const char *at = NULL;
    char computed[2 * MANIFEST_MAX_CHECKSUM + 1];
    struct manifest_file probe = {0};
    struct manifest_hasher *h;

    /* the last occurrence: the key could appear inside a path string; the text is len bytes, not a C string */
    for (const char *s = p->text, *end = p->text + p->len; (s = memmem(s, (size_t) (end - s), key, strlen(key))) != NULL;
         s++)
        at = s;
    if (at == NULL)
        return perr(p, "no Manifest-Checksum");
    while (at > p->text && at[-1] != '\n')
        at--;
    probe.algorithm = MANIFEST_CK_SHA256;
    if (hex_decode(expected_hex, probe.checksum, sizeof(probe.checksum), &probe.checksum_len) != 0
        || probe.checksum_len != 32)
        return perr(p, "invalid Manifest-Checksum \"%s\"", expected_hex);
    h = manifest_hasher_new(MANIFEST_CK_SHA256);
    manifest_hasher_update(h, p->text, (size_t) (at - p->text));
    int ok = manifest_hasher_matches(h, &probe, computed, sizeof(computed));
    manifest_hasher_free(h);
    if (!ok)
        return br_error_set(p->err, BR_E_FORMAT,
                            "backup manifest \"%s\" has a wrong checksum: expected %s, computed %s", p->origin,
                            expected_hex, computed);
    return 0;
}

struct manifest *
manifest_parse(const char *text, size_t len, const char *origin, struct br_error *err)
{
    struct parser p = {.text = text, .len = len, .origin = origin, .err = err};
    struct strbuf key, val;
    char *manifest_checksum = NULL;
    int rc = -1;
    int64_t ival;

    p.m = br_calloc(1, sizeof(*p.m));
    strbuf_init(&key);
    strbuf_init(&val);
    if (memchr(text, '\0', len) != NULL) {
        br_error_set(err, BR_E_FORMAT, "backup manifest \"%s\" contains a NUL byte", origin);
        goto out;
    }
    if (expect(&p, '{') != 0)
        goto out;
    do {
        if (parse_string(&p, &key) != 0 || expect(&p, ':') != 0)
            goto out;
        if (strcmp(key.buf, "PostgreSQL-Backup-Manifest-Version") == 0) {
            if (parse_int(&p, &ival) != 0)
                goto out;
            if (ival != 1 && ival != 2) {
                perr(&p, "unsupported manifest version %lld", (long long) ival);
                goto out;
            }
            p.m->version = (int) ival;
        } else if (strcmp(key.buf, "System-Identifier") == 0) {
            if (parse_int(&p, &ival) != 0)
                goto out;
            p.m->system_identifier = br_asprintf("%llu", (unsigned long long) ival);
        } else if (strcmp(key.buf, "Files") == 0) {
            if (expect(&p, '[') != 0)
                goto out;
            if (!accept(&p, ']')) {
                do {
                    if (parse_file_entry(&p) != 0)
                        goto out;
                } while (accept(&p, ','));
                if (expect(&p, ']') != 0)
                    goto out;
            }
        } else if (strcmp(key.buf, "WAL-Ranges") == 0) {
            if (expect(&p, '[') != 0)
                goto out;
            if (!accept(&p, ']')) {
                do {
                    if (parse_wal_range(&p) != 0)
                        goto out;
                } while (accept(&p, ','));
                if (expect(&p, ']') != 0)
                    goto out;
            }
        } else if (strcmp(key.buf, "Manifest-Checksum") == 0) {
            if (parse_string(&p, &val) != 0)
                goto out;
            free(manifest_checksum);
            manifest_checksum = br_strdup(val.buf);
        } else if (skip_value(&p, 1) != 0)
            goto out;
    } while (accept(&p, ','));
    if (expect(&p, '}') != 0)
        goto out;
    skip_ws(&p);
    if (p.pos != p.len) {
        perr(&p, "unexpected text after the manifest");
        goto out;
    }
    if (p.m->version == 0) {
        perr(&p, "no PostgreSQL-Backup-Manifest-Version");
        goto out;
    }
    if (manifest_checksum == NULL) {
        perr(&p, "no Manifest-Checksum");
        goto out;
    }
    if (verify_manifest_checksum(&p, manifest_checksum) != 0 || build_table(&p) != 0)
        goto out;
    rc = 0;
out:
    free(manifest_checksum);
    strbuf_free(&key);
    strbuf_free(&val);
    if (rc != 0) {
        manifest_free(p.m);
        return NULL;
    }
    return p.m;
}

struct manifest *
manifest_load(const char *path, struct br_error *err)
{
    size_t len;
    char *text = fs_read_file(path, MANIFEST_MAX_BYTES, &len, err);
    struct manifest *m;

    if (text == NULL)
        return NULL;
    m = manifest_parse(text, len, path, err);
    free(text);
    return m;
}

void
manifest_free(struct manifest *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n_files; i++)
        free(m->files[i].path);
    free(m->files);
    free(m->wal_ranges);
    free(m->table);
    free(m->system_identifier);
    free(m);
}
