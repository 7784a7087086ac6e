/*
 * identity.c: <backup_directory>/identity.json (spec 2.6), the system
 * identifier and major version a server's backups belong to.
 *
 * Barman writes it with json.dump(..., indent=4, sort_keys=True) plus a
 * newline. We write the same bytes and read it with a small reader for a
 * flat JSON object: keys we do not know are skipped, nested values refused
 * (Barman never writes them). Strings are returned decoded; numbers are
 * returned as their text, in case another tool wrote "version": 15.
 */
#include "barrel/build.h"
#include "barrel/catalog.h"

#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/fs.h"
#include "barrel/json.h"
#include "barrel/mem.h"
#include "barrel/strbuf.h"

#include <ctype.h>

#define IDENTITY_MAX_BYTES (64 * 1024)

static char *
identity_path(const struct server_config *srv)
{
    return path_join(srv->backup_directory, "identity.json");
}

struct identity_reader {
    const char *p;
    const char *path;
    struct br_error *err;
};

static void
identity_skip_ws(struct identity_reader *rd)
{
    while (*rd->p == ' ' || *rd->p == '\t' || *rd->p == '\n' || *rd->p == '\r')
        rd->p++;
}

static int
identity_bad(struct identity_reader *rd, const char *why)
{
    return br_error_set(rd->err, BR_E_FORMAT, "invalid JSON in file \"%s\": %s", rd->path, why);
}

static void
identity_put_utf8(struct strbuf *sb, unsigned cp)
{
    if (cp < 0x80) {
        strbuf_append_char(sb, (char) cp);
    } else if (cp < 0x800) {
        strbuf_append_char(sb, (char) (0xC0 | (cp >> 6)));
        strbuf_append_char(sb, (char) (0x80 | (cp & 0x3F)));
    } else {
        strbuf_append_char(sb, (char) (0xE0 | (cp >> 12)));
        strbuf_append_char(sb, (char) (0x80 | ((cp >> 6) & 0x3F)));
        strbuf_append_char(sb, (char) (0x80 | (cp & 0x3F)));
    }
}

/* A JSON string at rd->p (the opening quote); new string or NULL with err. */
static char *
identity_string(struct identity_reader *rd)
{
    struct strbuf sb;
    char *out;

    strbuf_init(&sb);
    rd->p++;
    for (;;) {
        char c = *rd->p++;

        if (c == '\0') {
            identity_bad(rd, "unterminated string");
            strbuf_free(&sb);
            return NULL;
        }
        if (c == '"')
            break;
        if (c != '\\') {
            strbuf_append_char(&sb, c);
            continue;
        }
        c = *rd->p++;
        switch (c) {
        case '"': case '\\': case '/': strbuf_append_char(&sb, c); break;
        case 'b': strbuf_append_char(&sb, '\b'); break;
        case 'f': strbuf_append_char(&sb, '\f'); break;
        case 'n': strbuf_append_char(&sb, '\n'); break;
        case 'r': strbuf_append_char(&sb, '\r'); break;
        case 't': strbuf_append_char(&sb, '\t'); break;
        case 'u': {
            unsigned cp = 0;
            int i;

            for (i = 0; i < 4; i++) {
                char h = *rd->p++;

                cp <<= 4;
                if (h >= '0' && h <= '9')
                    cp |= (unsigned) (h - '0');
                else if (h >= 'a' && h <= 'f')
                    cp |= (unsigned) (h - 'a' + 10);
                else if (h >= 'A' && h <= 'F')
                    cp |= (unsigned) (h - 'A' + 10);
                else {
                    identity_bad(rd, "bad \\u escape");
                    strbuf_free(&sb);
                    return NULL;
                }
            }
            if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF)) {
                identity_bad(rd, "unsupported \\u escape");
                strbuf_free(&sb);
                return NULL;
            }
            identity_put_utf8(&sb, cp);
            break;
        }
        default:
            identity_bad(rd, "bad escape");
            strbuf_free(&sb);
            return NULL;
        }
    }
    out = strbuf_detach(&sb);
    strbuf_free(&sb);
    return out;
}

/* A scalar value: string, number, true/false/null (NULL result for null). */
static int
identity_value(struct identity_reader *rd, char **out)
{
    const char *start = rd->p;

    *out = NULL;
    if (*rd->p == '"') {
        *out = identity_string(rd);
        return *out != NULL ? 0 : -1;
    }
    if (strncmp(rd->p, "null", 4) == 0) {
        rd->p += 4;
        return 0;
    }
    while (*rd->p == '-' || *rd->p == '+' || *rd->p == '.' || isalnum((unsigned char) *rd->p))
        rd->p++;
    if (rd->p == start)
        return identity_bad(rd, "expected a string, number or literal");
    *out = br_strndup(start, (size_t) (rd->p - start));
    return 0;
}

int
catalog_identity_read(const struct server_config *srv, char **systemid, char **version, struct br_error *err)
{
    char *path = identity_path(srv);
    char *text;
    struct identity_reader rd;
    int rc = -1;

    *systemid = *version = NULL;
    if (!path_exists(path)) {
        free(path);
        return 1;
    }
    text = fs_read_file(path, IDENTITY_MAX_BYTES, NULL, err);
    if (text == NULL) {
        free(path);
        return -1;
    }
    rd.p = text;
    rd.path = path;
    rd.err = err;

    identity_skip_ws(&rd);
    if (*rd.p++ != '{') {
        identity_bad(&rd, "expected an object");
        goto out;
    }
    identity_skip_ws(&rd);
    if (*rd.p == '}') {
        rd.p++;
    } else {
        for (;;) {
            char *key, *value;

            identity_skip_ws(&rd);
            if (*rd.p != '"') {
                identity_bad(&rd, "expected a key");
                goto out;
            }
            key = identity_string(&rd);
            if (key == NULL)
                goto out;
            identity_skip_ws(&rd);
            if (*rd.p++ != ':') {
                free(key);
                identity_bad(&rd, "expected ':'");
                goto out;
            }
            identity_skip_ws(&rd);
            if (identity_value(&rd, &value) < 0) {
                free(key);
                goto out;
            }
            if (strcmp(key, "systemid") == 0) {
                free(*systemid);
                *systemid = value;
            } else if (strcmp(key, "version") == 0) {
                free(*version);
                *version = value;
            } else {
                free(value);
            }
            free(key);
            identity_skip_ws(&rd);
            if (*rd.p == ',') {
                rd.p++;
                continue;
            }
            if (*rd.p == '}') {
                rd.p++;
                break;
            }
            identity_bad(&rd, "expected ',' or '}'");
            goto out;
        }
    }
    identity_skip_ws(&rd);
    if (*rd.p != '\0') {
        identity_bad(&rd, "trailing characters");
        goto out;
    }
    rc = 0;
out:
    if (rc != 0) {
        free(*systemid);
        free(*version);
        *systemid = *version = NULL;
    }
    free(text);
    free(path);
    return rc;
}

int
catalog_identity_write(const struct server_config *srv, const char *systemid, const char *version,
                       struct br_error *err)
{
    char *path;
    struct strbuf sb;
    int rc;

    if (fs_mkdir_p(srv->backup_directory, 0700, err) < 0)
        return -1;
    /* Barman: json.dump(indent=4, sort_keys=True) plus a final newline */
    struct json *obj = json_object();
    json_object_set(obj, "systemid", json_string(systemid));
    json_object_set(obj, "version", json_string(version));
    strbuf_init(&sb);
    json_write(obj, &sb, 4);
    strbuf_append_char(&sb, '\n');
    json_free(obj);
    path = identity_path(srv);
    /* two `backup` started at once both write it before one of them gets the backup lock */
    rc = fs_write_file_durable_shared(path, sb.buf, sb.len, 0600, err);
    free(path);
    strbuf_free(&sb);
    return rc;
}
