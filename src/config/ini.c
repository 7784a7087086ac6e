/*
 * ini.c: Barman's INI dialect, i.e. Python configparser with strict=False,
 * no inline comments and basic interpolation.
 *
 * Rules kept here (and only here): sections "[name]" (case-sensitive);
 * "key = value" or "key: value", split at the first '=' or ':', keys
 * lowered; whole-line '#' and ';' comments, also inside a multi-line value;
 * an indented line continues the previous value (joined with "\n", blank
 * lines kept inside, trailing ones dropped); no inline comments, so
 * "gzip ; fast" is a value. What the sections mean ([barman], servers,
 * duplicates across files) is config.c's business: this file keeps each
 * section occurrence as written.
 */
#include "barrel/build.h"
#include "config_int.h"

#include <ctype.h>
#include <strings.h>

#include "barrel/error.h"
#include "barrel/mem.h"
#include "barrel/strbuf.h"

void
ini_init(struct ini *ini)
{
    memset(ini, 0, sizeof(*ini));
}

static void
ini_section_free(struct ini_section *sec)
{
    if (sec == NULL)
        return;
    for (size_t i = 0; i < sec->n_entries; i++) {
        free(sec->entries[i].key);
        free(sec->entries[i].value);
    }
    free(sec->entries);
    free(sec->name);
    free(sec);
}

void
ini_reset(struct ini *ini)
{
    for (size_t i = 0; i < ini->n_sections; i++)
        ini_section_free(ini->sections[i]);
    free(ini->sections);
    for (size_t i = 0; i < ini->n_files; i++)
        free(ini->files[i]);
    free(ini->files);
    ini_init(ini);
}

const struct ini_entry *
ini_section_get(const struct ini_section *sec, const char *key)
{
    if (sec == NULL)
        return NULL;
    for (size_t i = 0; i < sec->n_entries; i++)
        if (strcmp(sec->entries[i].key, key) == 0)
            return &sec->entries[i];
    return NULL;
}

static struct ini_section *
ini_add_section(struct ini *ini, const char *name, size_t name_len, int line)
{
    struct ini_section *sec = br_calloc(1, sizeof(*sec));

    sec->name = br_strndup(name, name_len);
    sec->file_idx = (int) ini->n_files - 1;
    sec->file = ini->files[ini->n_files - 1];
    sec->line = line;
    if (ini->n_sections == ini->cap_sections) {
        ini->cap_sections = ini->cap_sections ? ini->cap_sections * 2 : 8;
        ini->sections = br_realloc(ini->sections, ini->cap_sections * sizeof(*ini->sections));
    }
    ini->sections[ini->n_sections++] = sec;
    return sec;
}

/* Set key in sec; a repeated key keeps its first position and takes the new value (last wins). */
static struct ini_entry *
ini_set_entry(struct ini_section *sec, char *key, char *value, int line)
{
    for (size_t i = 0; i < sec->n_entries; i++) {
        if (strcmp(sec->entries[i].key, key) == 0) {
            free(key);
            free(sec->entries[i].value);
            sec->entries[i].value = value;
            sec->entries[i].line = line;
            return &sec->entries[i];
        }
    }
    if (sec->n_entries == sec->cap_entries) {
        sec->cap_entries = sec->cap_entries ? sec->cap_entries * 2 : 16;
        sec->entries = br_realloc(sec->entries, sec->cap_entries * sizeof(*sec->entries));
    }
    sec->entries[sec->n_entries].key = key;
    sec->entries[sec->n_entries].value = value;
    sec->entries[sec->n_entries].line = line;
    return &sec->entries[sec->n_entries++];
}

static int
is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\f' || c == '\v' || c == '\r';
}

/*
 * The value being built. Blank lines inside a value are counted and only
 * added when a continuation line follows them: configparser rstrips the
 * joined value, which drops trailing blank lines.
 */
struct ini_pending {
    struct ini_section *sec;
    char  *key;                /* NULL when no value is open */
    int    line;
    int    indent;
    int    blank_lines;
    struct strbuf sb;
};

static void
ini_pending_flush(struct ini_pending *pend)
{
    if (pend->key == NULL)
        return;
    ini_set_entry(pend->sec, pend->key, strbuf_detach(&pend->sb), pend->line);
    pend->key = NULL;
    pend->blank_lines = 0;
}

int
ini_parse(struct ini *ini, const char *text, const char *file, struct br_error *err)
{
    struct ini_pending pend;
    struct ini_section *cursect = NULL;
    const char *p = text;
    int lineno = 0;
    int rc = -1;

    ini->files = br_realloc(ini->files, (ini->n_files + 1) * sizeof(*ini->files));
    ini->files[ini->n_files++] = br_strdup(file);
    file = ini->files[ini->n_files - 1];

    memset(&pend, 0, sizeof(pend));
    strbuf_init(&pend.sb);

    while (*p != '\0') {
        const char *line = p;
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t) (eol - p) : strlen(p);
        const char *start = p, *end = p + len;
        int indent;

        p = eol ? eol + 1 : p + len;
        lineno++;

        /* Trim both ends; the indentation decides continuation lines. */
        while (start < end && is_blank(*start))
            start++;
        while (end > start && is_blank(end[-1]))
            end--;
        indent = (int) (start - line);

        if (start < end && (*start == '#' || *start == ';'))
            continue;                   /* whole-line comment, never part of a value */
        if (start == end) {
            if (pend.key != NULL)
                pend.blank_lines++;
            continue;
        }

        /* An indented line after an option continues its value. */
        if (pend.key != NULL && indent > pend.indent) {
            for (; pend.blank_lines > 0; pend.blank_lines--)
                strbuf_append_char(&pend.sb, '\n');
            strbuf_append_char(&pend.sb, '\n');
            strbuf_append_len(&pend.sb, start, (size_t) (end - start));
            continue;
        }
        ini_pending_flush(&pend);

        if (*start == '[') {
            const char *close = end - 1;

            if (*close != ']' || close - start < 2) {
                br_error_set(err, BR_E_CONFIG,
                             "%s:%d: syntax error: expected a section header \"[name]\", found '%.*s'",
                             file, lineno, (int) (end - start), start);
                goto out;
            }
            cursect = ini_add_section(ini, start + 1, (size_t) (close - start - 1), lineno);
            continue;
        }

        {
            const char *sep = start;
            const char *kend, *vstart;
            char *key;

            while (sep < end && *sep != '=' && *sep != ':')
                sep++;
            if (sep == end) {
                br_error_set(err, BR_E_CONFIG,
                             "%s:%d: syntax error: expected \"[section]\" or \"key = value\", found '%.*s'",
                             file, lineno, (int) (end - start), start);
                goto out;
            }
            kend = sep;
            while (kend > start && is_blank(kend[-1]))
                kend--;
            if (kend == start) {
                br_error_set(err, BR_E_CONFIG,
                             "%s:%d: syntax error: missing option name before '%c' in '%.*s'",
                             file, lineno, *sep, (int) (end - start), start);
                goto out;
            }
            if (cursect == NULL) {
                br_error_set(err, BR_E_CONFIG,
                             "%s:%d: option '%.*s' appears before any section header (expected \"[name]\" first)",
                             file, lineno, (int) (kend - start), start);
                goto out;
            }
            key = br_strndup(start, (size_t) (kend - start));
            for (char *k = key; *k; k++)
                *k = (char) tolower((unsigned char) *k);
            vstart = sep + 1;
            while (vstart < end && is_blank(*vstart))
                vstart++;

            pend.sec = cursect;
            pend.key = key;
            pend.line = lineno;
            pend.indent = indent;
            pend.blank_lines = 0;
            strbuf_reset(&pend.sb);
            strbuf_append_len(&pend.sb, vstart, (size_t) (end - vstart));
        }
    }
    ini_pending_flush(&pend);
    rc = 0;
out:
    free(pend.key);
    strbuf_free(&pend.sb);
    return rc;
}

char *
ini_interpolate(const char *raw, ini_lookup_fn lookup, void *ctx, int depth, const char *where,
                struct br_error *err)
{
    struct strbuf sb;
    const char *p = raw;

    if (depth > INI_MAX_INTERPOLATION_DEPTH) {
        br_error_set(err, BR_E_CONFIG, "%s: interpolation nested more than %d levels deep (recursive reference?)",
                     where, INI_MAX_INTERPOLATION_DEPTH);
        return NULL;
    }
    strbuf_init(&sb);
    while (*p != '\0') {
        const char *pct = strchr(p, '%');

        if (pct == NULL) {
            strbuf_append(&sb, p);
            break;
        }
        strbuf_append_len(&sb, p, (size_t) (pct - p));
        if (pct[1] == '%') {
            strbuf_append_char(&sb, '%');
            p = pct + 2;
        } else if (pct[1] == '(') {
            const char *close = strchr(pct + 2, ')');
            char *var, *val = NULL;
            int found;

            if (close == NULL || close == pct + 2 || close[1] != 's') {
                br_error_set(err, BR_E_CONFIG, "%s: bad variable reference '%s' (expected '%%(name)s')",
                             where, pct);
                goto fail;
            }
            var = br_strndup(pct + 2, (size_t) (close - pct - 2));
            for (char *k = var; *k; k++)
                *k = (char) tolower((unsigned char) *k);
            found = lookup(ctx, var, depth + 1, &val, err);
            if (found == 1)
                br_error_set(err, BR_E_CONFIG, "%s: key \"%s\" in '%%(%s)s' is not defined", where, var, var);
            free(var);
            if (found != 0)
                goto fail;
            strbuf_append(&sb, val);
            free(val);
            p = close + 2;
        } else {
            br_error_set(err, BR_E_CONFIG, "%s: '%%' must be followed by '%%' or '(', found '%s'", where, pct);
            goto fail;
        }
    }
    return strbuf_detach(&sb);
fail:
    strbuf_free(&sb);
    return NULL;
}

void
ini_strip_quotes(char *s)
{
    size_t len = strlen(s);

    /* Barman's ^(["'])(.*)\1$ : '.' does not match a newline. */
    if (len < 2 || (s[0] != '"' && s[0] != '\'') || s[len - 1] != s[0] || memchr(s, '\n', len) != NULL)
        return;
    memmove(s, s + 1, len - 2);
    s[len - 2] = '\0';
}

int
ini_is_none(const char *s)
{
    return strcasecmp(s, "none") == 0;
}
