/*
 * backup_checks.c: the checks that must pass before a backup starts, a
 * subset of Barman's `check` (Barman 3.4 runs the whole check silently and
 * refuses with "Impossible to start the backup"). barrel names the check
 * that failed, with its reason, in one line.
 *
 * In order: the configuration barrel can honour (backup_method postgres,
 * tar format), "PostgreSQL" (a normal connection, PG >= 15), "PostgreSQL
 * streaming" (IDENTIFY_SYSTEM on a replication connection), "backup
 * privileges", "wal_level", "systemid coherence" (both connections and
 * identity.json agree), and the WAL archivers that are configured
 * ("receive-wal running" for streaming_archiver, "archive_mode" and
 * "archive_command" for archiver). The connections stay open for the backup.
 *
 * Left out on purpose: "WAL archive" (xlog.db not empty), which would
 * refuse the very first backup of a server until a WAL file has been
 * archived; the backup then simply waits for its WAL (WAITING_FOR_WALS).
 */
#include "barrel/build.h"
#include "backup_int.h"

#include "barrel/backup.h"
#include "barrel/catalog.h"
#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/fs.h"
#include "barrel/mem.h"
#include "barrel/pgconn.h"

/* application_name of the normal connection (the replication one uses streaming_backup_name) */
#define BACKUP_APPLICATION_NAME "barrel_backup"

/* Refuse, naming the check; `why` becomes part of the one-line message. */
static int
refuse(struct backup_ctx *cx, struct br_error *err, int code, const char *check, const char *why)
{
    char reason[sizeof(err->msg)];

    snprintf(reason, sizeof(reason), "%s", why);
    br_error_set(err, code, "impossible to start the backup of server '%s': check '%s' failed: %s", cx->srv->name,
                 check, reason);
    br_error_hint(err, "Run '%s check %s' for details.", cx->opts->prog ? cx->opts->prog : "barrel", cx->srv->name);
    return -1;
}

static int
check_configuration(struct backup_ctx *cx, struct br_error *err)
{
    const struct server_config *srv = cx->srv;

    if (srv->n_disabled_reasons > 0)
        return refuse(cx, err, BR_E_CONFIG, "configuration", srv->disabled_reasons[0]);
    if (srv->backup_method != BACKUP_METHOD_POSTGRES)
        return refuse(cx, err, BR_E_CONFIG, "backup_method",
                      "barrel takes backups over the replication protocol only: set backup_method = postgres");
    if (srv->backup_compression_format == BACKUP_FORMAT_PLAIN)
        return refuse(cx, err, BR_E_CONFIG, "backup_compression_format",
                      "barrel stores tar backups only: remove backup_compression_format = plain");
    if (srv->backup_compression_location == BACKUP_LOCATION_SERVER
        && (srv->backup_compression == BACKUP_COMPRESSION_NONE || srv->backup_compression == BACKUP_COMPRESSION_UNSET))
        return refuse(cx, err, BR_E_CONFIG, "backup_compression_location",
                      "server-side compression needs backup_compression = gzip, lz4 or zstd");
    if (srv->conninfo == NULL)
        return refuse(cx, err, BR_E_CONFIG, "PostgreSQL", "conninfo is not set");
    return 0;
}

static int
check_postgres(struct backup_ctx *cx, struct br_error *err)
{
    struct br_error e;
    char *value = NULL;
    int rc;

    br_error_clear(&e);
    cx->pg = pgconn_open(cx->srv->conninfo, BACKUP_APPLICATION_NAME, 0, &e);
    if (cx->pg == NULL)
        return refuse(cx, err, BR_E_PG, "PostgreSQL", e.msg);
    if (pgconn_server_version_num(cx->pg) < BASEBACKUP_MIN_SERVER_VERSION) {
        char why[128];

        snprintf(why, sizeof(why), "unsupported version: PostgreSQL %s is older than 15",
                 pgconn_server_version_text(cx->pg));
        return refuse(cx, err, BR_E_PG, "PostgreSQL", why);
    }
    rc = pgconn_has_backup_privileges(cx->pg, &e);
    if (rc < 0)
        return refuse(cx, err, BR_E_PG, "superuser or standard user with backup privileges", e.msg);
    if (rc == 0)
        return refuse(cx, err, BR_E_PG, "superuser or standard user with backup privileges",
                      "privileges for PostgreSQL backup functions are required (see documentation)");
    if (pgconn_setting(cx->pg, "wal_level", &value, &e) != 0)
        return refuse(cx, err, BR_E_PG, "wal_level", e.msg);
    rc = strcmp(value, "minimal") == 0;
    free(value);
    if (rc)
        return refuse(cx, err, BR_E_PG, "wal_level", "please set it to a higher level than 'minimal'");
    cx->in_recovery = pgconn_is_in_recovery(cx->pg, &e);
    if (cx->in_recovery < 0)
        return refuse(cx, err, BR_E_PG, "PostgreSQL", e.msg);
    return 0;
}

static int
check_streaming(struct backup_ctx *cx, struct br_error *err)
{
    const struct server_config *srv = cx->srv;
    const char *conninfo = srv->streaming_conninfo ? srv->streaming_conninfo : srv->conninfo;
    struct pgconn_identify id;
    struct br_error e;
    char *pg_systemid = NULL;
    int same;

    br_error_clear(&e);
    cx->repl = pgconn_open(conninfo, srv->streaming_backup_name ? srv->streaming_backup_name
                                                                  : "barman_streaming_backup", 1, &e);
    if (cx->repl == NULL)
        return refuse(cx, err, BR_E_PG, "PostgreSQL streaming", e.msg);
    if (pgconn_identify_system(cx->repl, &id, &e) != 0)
        return refuse(cx, err, BR_E_PG, "PostgreSQL streaming", e.msg);
    if (pgconn_server_version_num(cx->repl) < BASEBACKUP_MIN_SERVER_VERSION)
        return refuse(cx, err, BR_E_PG, "PostgreSQL streaming", "unsupported version: PostgreSQL older than 15");
    snprintf(cx->systemid, sizeof(cx->systemid), "%s", id.systemid);
    if (pgconn_system_identifier(cx->pg, &pg_systemid, &e) != 0)
        return refuse(cx, err, BR_E_PG, "systemid coherence", e.msg);
    same = strcmp(pg_systemid, cx->systemid) == 0;
    free(pg_systemid);
    if (!same)
        return refuse(cx, err, BR_E_STATE, "systemid coherence",
                      "conninfo and streaming_conninfo reach different clusters");
    return 0;
}

/* identity.json, when present, must name the same cluster: never mix two clusters in one catalog. */
static int
check_identity(struct backup_ctx *cx, struct br_error *err)
{
    char *stored = NULL, *version = NULL;
    struct br_error e;
    int rc;

    br_error_clear(&e);
    rc = catalog_identity_read(cx->srv, &stored, &version, &e);
    if (rc < 0)
        return refuse(cx, err, BR_E_STATE, "systemid coherence", e.msg);
    if (rc == 0 && (stored == NULL || strcmp(stored, cx->systemid) != 0)) {
        char *path = path_join(cx->srv->backup_directory, "identity.json");
        char why[400];

        snprintf(why, sizeof(why), "the server's system identifier is %s but \"%s\" says %s: "
                 "this is not the cluster this catalog belongs to", cx->systemid, path, stored ? stored : "none");
        free(path);
        free(stored);
        free(version);
        return refuse(cx, err, BR_E_STATE, "systemid coherence", why);
    }
    free(stored);
    free(version);
    return 0;
}

/* At least the configured archivers must be working, or the backup will never get its WAL. */
static int
check_archivers(struct backup_ctx *cx, struct br_error *err)
{
    const struct server_config *srv = cx->srv;
    struct br_error e;

    br_error_clear(&e);
    if (srv->streaming_archiver) {
        long holder = catalog_lock_holder(cx->opts->lock_dir, srv->name, "receive-wal", &e);

        /* held without a pid yet: a receiver that is starting is running */
        if (!(holder > 0 || (holder < 0 && e.code == BR_E_LOCKED)))
            return refuse(cx, err, BR_E_STATE, "receive-wal running",
                          "streaming_archiver is on but no receive-wal process holds its lock");
    }
    if (srv->archiver) {
        char *mode = NULL, *command = NULL;
        int ok_mode, ok_command;

        if (pgconn_setting(cx->pg, "archive_mode", &mode, &e) != 0)
            return refuse(cx, err, BR_E_PG, "archive_mode", e.msg);
        ok_mode = strcmp(mode, "on") == 0 || strcmp(mode, "always") == 0;
        free(mode);
        if (!ok_mode)
            return refuse(cx, err, BR_E_STATE, "archive_mode", "please set it to 'on' or 'always'");
        if (pgconn_setting(cx->pg, "archive_command", &command, &e) != 0)
            return refuse(cx, err, BR_E_PG, "archive_command", e.msg);
        ok_command = command[0] != '\0' && strcmp(command, "(disabled)") != 0;
        free(command);
        if (!ok_command)
            return refuse(cx, err, BR_E_STATE, "archive_command", "please set it accordingly to documentation");
    }
    return 0;
}

int
backup_checks(struct backup_ctx *cx, struct br_error *err)
{
    /* what barrel can do with this configuration */
    if (check_configuration(cx, err) != 0)
        return -1;
    /* PostgreSQL: reachable, version, privileges, wal_level */
    if (check_postgres(cx, err) != 0)
        return -1;
    /* PostgreSQL streaming: a walsender that answers, on the same cluster */
    if (check_streaming(cx, err) != 0)
        return -1;
    /* the catalog belongs to this cluster */
    if (check_identity(cx, err) != 0)
        return -1;
    /* WAL archiving works */
    return check_archivers(cx, err);
}
