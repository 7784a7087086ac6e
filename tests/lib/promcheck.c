/*
 * promcheck.c: see promcheck.h. Series and families seen are kept in
 * small arrays: test inputs have a few hundred lines.
 */
#include "barrel/build.h"
#include "promcheck.h"

#include <ctype.h>
#include <stdarg.h>

#include "barrel/mem.h"
#include "barrel/strbuf.h"

struct seen {
    size_t n, cap;
    char **items;
};

static int
seen_has(const struct seen *s, const char *v)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->items[i], v) == 0)
            return 1;
    return 0;
}

static void
seen_add(struct seen *s, const char *v)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->items = br_realloc(s->items, s->cap * sizeof(char *));
    }
    s->items[s->n++] = br_strdup(v);
}

static void
seen_free(struct seen *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->items[i]);
    free(s->items);
}

static int fail(char *why, size_t len, int lineno, const char *fmt, ...) BR_PRINTF(4, 5);

static int
fail(char *why, size_t len, int lineno, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(why, len, "line %d: %s", lineno, msg);
    return -1;
}

static size_t
name_len(const char *p, int metric)
{
    size_t n = 0;

    if (!(isalpha((unsigned char) p[0]) || p[0] == '_' || (metric && p[0] == ':')))
        return 0;
    while (isalnum((unsigned char) p[n]) || p[n] == '_' || (metric && p[n] == ':'))
        n++;
    return n;
}

static int
valid_value(const char *v)
{
    char *end;

    if (strcmp(v, "+Inf") == 0 || strcmp(v, "-Inf") == 0 || strcmp(v, "NaN") == 0)
        return 1;
    if (*v == '\0' || isspace((unsigned char) *v))
        return 0;
    strtod(v, &end);
    return *end == '\0' && strcmp(v, "inf") != 0 && strcmp(v, "nan") != 0;
}

int
h_prom_check(const char *text, char *why, size_t why_len)
{
    struct seen typed = {0}, helped = {0}, families_done = {0}, series = {0}, sampled = {0};
    char current[256] = "";
    int lineno = 0, rc = 0;
    const char *p = text;

    if (*text == '\0' || text[strlen(text) - 1] != '\n')
        return fail(why, why_len, 0, "the text does not end with a newline");
    while (*p && rc == 0) {
        const char *eol = strchr(p, '\n');
        char *line = br_strndup(p, (size_t) (eol - p));
        char family[256];
        lineno++;
        p = eol + 1;

        if (line[0] == '\0') {
            rc = fail(why, why_len, lineno, "empty line");
        } else if (line[0] == '#') {
            /* # HELP name text | # TYPE name type */
            int is_help = strncmp(line, "# HELP ", 7) == 0, is_type = strncmp(line, "# TYPE ", 7) == 0;
            if (!is_help && !is_type) {
                rc = fail(why, why_len, lineno, "comment that is neither # HELP nor # TYPE");
            } else {
                const char *n = line + 7;
                size_t nl = name_len(n, 1);
                if (nl == 0 || nl >= sizeof(family) || n[nl] != ' ') {
                    rc = fail(why, why_len, lineno, "bad metric name in %s", is_help ? "HELP" : "TYPE");
                } else {
                    memcpy(family, n, nl);
                    family[nl] = '\0';
                    if (strcmp(family, current) != 0) {
                        if (seen_has(&families_done, family))
                            rc = fail(why, why_len, lineno, "family %s is not contiguous", family);
                        if (current[0])
                            seen_add(&families_done, current);
                        snprintf(current, sizeof(current), "%s", family);
                    }
                    if (rc == 0 && is_help) {
                        if (seen_has(&helped, family))
                            rc = fail(why, why_len, lineno, "second HELP for %s", family);
                        seen_add(&helped, family);
                    } else if (rc == 0) {
                        const char *t = n + nl + 1;
                        if (seen_has(&typed, family))
                            rc = fail(why, why_len, lineno, "second TYPE for %s", family);
                        else if (seen_has(&sampled, family))
                            rc = fail(why, why_len, lineno, "TYPE for %s after its samples", family);
                        else if (strcmp(t, "counter") && strcmp(t, "gauge") && strcmp(t, "histogram")
                                 && strcmp(t, "summary") && strcmp(t, "untyped"))
                            rc = fail(why, why_len, lineno, "unknown type \"%s\"", t);
                        seen_add(&typed, family);
                    }
                }
            }
        } else {
            /* sample: name[{labels}] value */
            size_t nl = name_len(line, 1);
            struct strbuf key;
            struct seen labels = {0};
            const char *q = line + nl;

            strbuf_init(&key);
            if (nl == 0 || nl >= sizeof(family)) {
                rc = fail(why, why_len, lineno, "bad metric name");
            } else {
                memcpy(family, line, nl);
                family[nl] = '\0';
                strbuf_append(&key, family);
                if (!seen_has(&typed, family))
                    rc = fail(why, why_len, lineno, "sample of %s without a # TYPE before it", family);
                else if (strcmp(family, current) != 0)
                    rc = fail(why, why_len, lineno, "sample of %s inside family %s", family, current);
            }
            if (rc == 0 && *q == '{') {
                q++;
                strbuf_append_char(&key, '{');
                while (rc == 0 && *q != '}') {
                    size_t ll = name_len(q, 0);
                    char lname[128];
                    if (ll == 0 || ll >= sizeof(lname)) {
                        rc = fail(why, why_len, lineno, "bad label name");
                        break;
                    }
                    memcpy(lname, q, ll);
                    lname[ll] = '\0';
                    if (strncmp(lname, "__", 2) == 0)
                        rc = fail(why, why_len, lineno, "reserved label name %s", lname);
                    else if (seen_has(&labels, lname))
                        rc = fail(why, why_len, lineno, "label %s twice", lname);
                    seen_add(&labels, lname);
                    q += ll;
                    if (rc == 0 && (q[0] != '=' || q[1] != '"'))
                        rc = fail(why, why_len, lineno, "label %s without =\"value\"", lname);
                    if (rc != 0)
                        break;
                    strbuf_appendf(&key, "%s=\"", lname);
                    q += 2;
                    while (*q && *q != '"') {
                        if (*q == '\\') {
                            if (q[1] != '\\' && q[1] != '"' && q[1] != 'n') {
                                rc = fail(why, why_len, lineno, "bad escape in the value of %s", lname);
                                break;
                            }
                            strbuf_append_char(&key, *q++);
                        }
                        strbuf_append_char(&key, *q++);
                    }
                    if (rc != 0)
                        break;
                    if (*q != '"') {
                        rc = fail(why, why_len, lineno, "unterminated value of %s", lname);
                        break;
                    }
                    q++;
                    strbuf_append(&key, "\",");
                    if (*q == ',')
                        q++;
                    else if (*q != '}')
                        rc = fail(why, why_len, lineno, "expected , or } after label %s", lname);
                }
                if (rc == 0)
                    q++;
            }
            if (rc == 0) {
                if (*q != ' ')
                    rc = fail(why, why_len, lineno, "expected one space before the value");
                else if (!valid_value(q + 1))
                    rc = fail(why, why_len, lineno, "bad value \"%s\"", q + 1);
                else if (seen_has(&series, key.buf))
                    rc = fail(why, why_len, lineno, "duplicate series %s", key.buf);
                else {
                    seen_add(&series, key.buf);
                    if (!seen_has(&sampled, family))
                        seen_add(&sampled, family);
                }
            }
            strbuf_free(&key);
            seen_free(&labels);
        }
        free(line);
    }
    seen_free(&typed);
    seen_free(&helped);
    seen_free(&families_done);
    seen_free(&series);
    seen_free(&sampled);
    return rc;
}

size_t
h_prom_count_samples(const char *text)
{
    size_t n = 0;

    for (const char *p = text; *p;) {
        const char *eol = strchr(p, '\n');
        if (*p != '#' && *p != '\n')
            n++;
        if (eol == NULL)
            break;
        p = eol + 1;
    }
    return n;
}
