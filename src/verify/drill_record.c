/*
 * drill_record.c: the drill verdict files, <backup_directory>/barrel/drill/<ID>.json
 * (barrel's own, beside Barman's catalog, never inside it). Written by the
 * JSON writer, durably; read back by key, as verify_last() does.
 */
#include "barrel/build.h"
#include "barrel/drill.h"
#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/fs.h"
#include "barrel/json.h"
#include "barrel/mem.h"
#include "barrel/strbuf.h"

#include <inttypes.h>

#define DRILL_RECORD_MAX_BYTES (64 * 1024)

static char *
record_path(const struct server_config *srv, const char *backup_id)
{
    return br_asprintf("%s/barrel/drill/%s.json", srv->backup_directory, backup_id);
}

int
drill_record(const struct server_config *srv, const char *backup_id, const struct drill_result *r, time_t when,
             struct br_error *err)
{
    char *path = record_path(srv, backup_id), *dir = path_dirname(path);
    struct json *obj = json_object();
    struct strbuf sb;
    int rc;

    json_object_set(obj, "backup_id", json_string(backup_id));
    json_object_set(obj, "drilled_at", json_int((int64_t) when));
    json_object_set(obj, "result", json_string(r->ok ? "OK" : "FAILED"));
    json_object_set(obj, "seconds", json_double(r->seconds));
    json_object_set(obj, "restore_seconds", json_double(r->restore_seconds));
    json_object_set(obj, "recovery_seconds", json_double(r->recovery_seconds));
    json_object_set(obj, "databases", json_int(r->databases));
    json_object_set(obj, "indexes_checked", json_int(r->indexes_checked));
    json_object_set(obj, "amcheck", json_bool(r->amcheck));
    json_object_set(obj, "message", json_string(r->message));
    strbuf_init(&sb);
    json_write(obj, &sb, 4);
    strbuf_append_char(&sb, '\n');
    rc = fs_mkdir_p(dir, 0700, err);
    if (rc == 0)
        rc = fs_write_file_durable(path, sb.buf, sb.len, 0600, err);
    strbuf_free(&sb);
    json_free(obj);
    free(dir);
    free(path);
    return rc;
}

static const char *
find_key(const char *text, const char *key)
{
    char pattern[64];
    const char *p;

    snprintf(pattern, sizeof(pattern), "\"%s\": ", key);
    p = strstr(text, pattern);
    return p ? p + strlen(pattern) : NULL;
}

int
drill_last(const struct server_config *srv, const char *backup_id, struct drill_result *r, time_t *when,
           struct br_error *err)
{
    char *path = record_path(srv, backup_id);
    char *text = fs_read_file(path, DRILL_RECORD_MAX_BYTES, NULL, err);
    const char *p;

    free(path);
    if (text == NULL) {
        if (err->code == BR_E_NOT_FOUND) {
            br_error_clear(err);
            return 0;
        }
        return -1;
    }
    memset(r, 0, sizeof(*r));
    *when = (p = find_key(text, "drilled_at")) ? (time_t) strtoll(p, NULL, 10) : 0;
    r->ok = (p = find_key(text, "result")) != NULL && strncmp(p, "\"OK\"", 4) == 0;
    r->seconds = (p = find_key(text, "seconds")) ? strtod(p, NULL) : 0;
    r->restore_seconds = (p = find_key(text, "restore_seconds")) ? strtod(p, NULL) : 0;
    r->recovery_seconds = (p = find_key(text, "recovery_seconds")) ? strtod(p, NULL) : 0;
    r->databases = (p = find_key(text, "databases")) ? strtoll(p, NULL, 10) : 0;
    r->indexes_checked = (p = find_key(text, "indexes_checked")) ? strtoll(p, NULL, 10) : 0;
    r->amcheck = (p = find_key(text, "amcheck")) != NULL && strncmp(p, "true", 4) == 0;
    if ((p = find_key(text, "message")) != NULL && *p == '"') {
        /* our writer escapes quotes and backslashes; keep the text up to the closing quote */
        size_t k = 0;
        for (p++; *p && *p != '"' && k + 1 < sizeof(r->message); p++) {
            if (*p == '\\' && p[1] != '\0')
                p++;
            r->message[k++] = *p;
        }
        r->message[k] = '\0';
    }
    free(text);
    return 1;
}
