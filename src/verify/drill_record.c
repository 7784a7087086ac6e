/*
 * drill_record.c: the drill verdict files, <backup_directory>/barrel/drill/<ID>.json
 * (barrel's own, beside Barman's catalog, never inside it). Written by the
 * JSON writer, durably, and read back with the JSON parser (json_state_*).
 */
#include "barrel/build.h"
#include "barrel/drill.h"
#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/json.h"
#include "barrel/mem.h"


static char *
record_path(const struct server_config *srv, const char *backup_id)
{
    return br_asprintf("%s/barrel/drill/%s.json", srv->backup_directory, backup_id);
}

int
drill_record(const struct server_config *srv, const char *backup_id, const struct drill_result *r, time_t when,
             struct br_error *err)
{
    char *path = record_path(srv, backup_id);
    struct json *obj = json_object();
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
    rc = json_state_write(path, obj, err);
    json_free(obj);
    free(path);
    return rc;
}

int
drill_last(const struct server_config *srv, const char *backup_id, struct drill_result *r, time_t *when,
           struct br_error *err)
{
    char *path = record_path(srv, backup_id);
    struct json *obj = json_state_read(path, err);
    const char *result, *message;

    free(path);
    if (obj == NULL)
        return err->code == BR_E_OK ? 0 : -1;
    memset(r, 0, sizeof(*r));
    *when = (time_t) json_get_int(obj, "drilled_at", 0);
    result = json_get_string(obj, "result");
    r->ok = result != NULL && strcmp(result, "OK") == 0;
    r->seconds = json_get_double(obj, "seconds", 0);
    r->restore_seconds = json_get_double(obj, "restore_seconds", 0);
    r->recovery_seconds = json_get_double(obj, "recovery_seconds", 0);
    r->databases = json_get_int(obj, "databases", 0);
    r->indexes_checked = json_get_int(obj, "indexes_checked", 0);
    r->amcheck = json_get_bool(obj, "amcheck", 0);
    message = json_get_string(obj, "message");
    snprintf(r->message, sizeof(r->message), "%s", message ? message : "");
    json_free(obj);
    return 1;
}
