/*
 * pgconn.c: the libpq connection handle and the small queries barrel needs
 * outside the replication loops (check, status, backup preparation).
 *
 * The only file of barrel, with its siblings in src/pg/, that includes
 * libpq-fe.h. Every PGresult is cleared before the function that obtained it
 * returns; callers get copies. Messages never carry a password: conninfo
 * strings and libpq messages pass through output_redact_conninfo(); a
 * password file with group or world access is refused before connecting.
 * libpq notices (WARNINGs from the server) go to the debug log instead of
 * libpq's default of printing them on stderr.
 */
#include "barrel/build.h"
#include "barrel/pgconn.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <libpq-fe.h>

#include "barrel/error.h"
#include "barrel/log.h"
#include "barrel/mem.h"
#include "barrel/output.h"
#include "barrel/xlog.h"

/* PG 10 added pg_monitor / pg_read_all_settings and renamed xlog functions to wal. */
#define PG_VERSION_MONITOR_ROLES 100000
/* PG 15 renamed pg_start_backup/pg_stop_backup and dropped the exclusive mode argument. */
#define PG_VERSION_BACKUP_START_RENAMED 150000

struct pgconn {
    PGconn *conn;
    int     replication;
};

/* Copy the first line of a libpq message, without passwords, into err. */
static int
set_pg_error(struct br_error *err, const char *prefix, const char *pgmsg)
{
    char line[400];
    size_t len = 0;
    char *redacted;

    if (pgmsg == NULL || *pgmsg == '\0')
        pgmsg = "unknown libpq error";
    while (pgmsg[len] != '\0' && pgmsg[len] != '\n' && len < sizeof(line) - 1)
        len++;
    memcpy(line, pgmsg, len);
    line[len] = '\0';
    redacted = output_redact_conninfo(line);
    br_error_set(err, BR_E_PG, "%s: %s", prefix, redacted ? redacted : line);
    free(redacted);
    return -1;
}

static void
notice_to_log(void *arg, const char *message)
{
    (void) arg;
    br_log_debug("PostgreSQL notice: %s", message);
}

/* 1 if the conninfo (keyword or URI form) sets connect_timeout itself. */
static int
has_connect_timeout(const char *conninfo)
{
    return conninfo != NULL && strstr(conninfo, "connect_timeout") != NULL;
}

/*
 * The password file libpq would read for this conninfo: none when a password
 * is given (conninfo or PGPASSWORD), else passfile=, PGPASSFILE or
 * ~/.pgpass (libpq's order). New string or NULL.
 */
static char *
passfile_for(const char *conninfo)
{
    PQconninfoOption *opts = PQconninfoParse(conninfo ? conninfo : "", NULL);
    const char *env = getenv("PGPASSFILE"), *pw = getenv("PGPASSWORD"), *home = getenv("HOME");
    char *path = NULL;
    int has_password = pw != NULL && pw[0] != '\0';

    for (PQconninfoOption *o = opts; o != NULL && o->keyword != NULL; o++) {
        if (o->val == NULL || o->val[0] == '\0')
            continue;
        if (strcmp(o->keyword, "password") == 0)
            has_password = 1;
        else if (strcmp(o->keyword, "passfile") == 0 && path == NULL)
            path = br_strdup(o->val);
    }
    PQconninfoFree(opts);
    if (has_password) {
        free(path);
        return NULL;
    }
    if (path == NULL && env != NULL && env[0] != '\0')
        path = br_strdup(env);
    if (path == NULL && home != NULL && home[0] != '\0')
        path = br_asprintf("%s/.pgpass", home);
    return path;
}

/*
 * libpq ignores a password file with group or world access (with a warning on
 * stderr, then fails to authenticate or, worse, succeeds with another
 * method); barrel refuses it before connecting, with libpq's words.
 */
static int
check_passfile(const char *conninfo, struct br_error *err)
{
    char *path = passfile_for(conninfo);
    struct stat st;
    int rc = 0;

    if (path != NULL && stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
        rc = br_error_set(err, BR_E_CONFIG, "password file \"%s\" has group or world access (mode %04o); "
                          "permissions should be u=rw (0600) or less", path, (unsigned) (st.st_mode & 07777));
    free(path);
    return rc;
}

struct pgconn *
pgconn_open(const char *conninfo, const char *application_name, int replication, struct br_error *err)
{
    /*
     * With expand_dbname, "dbname" carries the whole conninfo; keywords are
     * processed in order and later ones win. So connect_timeout comes first
     * (the user's conninfo overrides it), replication and application_name
     * after it (ours win).
     */
    const char *keys[6], *vals[6];
    char timeout[16];
    int n = 0;
    struct pgconn *pc;
    PGconn *conn;

    snprintf(timeout, sizeof(timeout), "%d", PGCONN_DEFAULT_CONNECT_TIMEOUT_S);
    if (!has_connect_timeout(conninfo)) {
        keys[n] = "connect_timeout";
        vals[n++] = timeout;
    }
    keys[n] = "dbname";
    vals[n++] = conninfo ? conninfo : "";
    if (replication) {
        keys[n] = "replication";
        vals[n++] = "true";
    }
    if (application_name != NULL) {
        keys[n] = "application_name";
        vals[n++] = application_name;
    }
    keys[n] = NULL;
    vals[n] = NULL;

    if (check_passfile(conninfo, err) != 0)
        return NULL;
    conn = PQconnectdbParams(keys, vals, 1);
    if (conn == NULL) {
        br_error_set(err, BR_E_PG, "could not connect to server: out of memory in libpq");
        return NULL;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        char *safe = output_redact_conninfo(conninfo ? conninfo : "");
        char *prefix = br_asprintf("could not connect to server (%s)", safe ? safe : "");

        set_pg_error(err, prefix, PQerrorMessage(conn));
        free(prefix);
        free(safe);
        PQfinish(conn);
        return NULL;
    }
    PQsetNoticeProcessor(conn, notice_to_log, NULL);
    pc = br_calloc(1, sizeof(*pc));
    pc->conn = conn;
    pc->replication = replication ? 1 : 0;
    return pc;
}

void
pgconn_close(struct pgconn *conn)
{
    if (conn == NULL)
        return;
    PQfinish(conn->conn);
    free(conn);
}

struct pg_conn *
pgconn_libpq(struct pgconn *conn)
{
    return conn->conn;
}

int
pgconn_is_replication(const struct pgconn *conn)
{
    return conn->replication;
}

int
pgconn_server_version_num(const struct pgconn *conn)
{
    return PQserverVersion(conn->conn);
}

const char *
pgconn_server_version_text(const struct pgconn *conn)
{
    const char *v = PQparameterStatus(conn->conn, "server_version");

    return v ? v : "";
}

/*
 * Run sql (with $1 = param when param is not NULL; the simple protocol
 * otherwise, which replication connections require). Returns the result,
 * or NULL with err set; the caller clears it.
 */
static PGresult *
run(struct pgconn *conn, const char *sql, const char *param, struct br_error *err)
{
    PGresult *res;
    ExecStatusType st;

    if (param != NULL)
        res = PQexecParams(conn->conn, sql, 1, NULL, &param, NULL, NULL, 0);
    else
        res = PQexec(conn->conn, sql);
    st = PQresultStatus(res);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        const char *msg = res ? PQresultErrorMessage(res) : NULL;

        set_pg_error(err, "query failed", (msg && *msg) ? msg : PQerrorMessage(conn->conn));
        PQclear(res);
        return NULL;
    }
    return res;
}

static int
query_value(struct pgconn *conn, const char *sql, const char *param, char **value, struct br_error *err)
{
    PGresult *res = run(conn, sql, param, err);

    *value = NULL;
    if (res == NULL)
        return -1;
    if (PQntuples(res) > 0 && PQnfields(res) > 0 && !PQgetisnull(res, 0, 0))
        *value = br_strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

int
pgconn_query_value(struct pgconn *conn, const char *sql, char **value, struct br_error *err)
{
    return query_value(conn, sql, NULL, value, err);
}

int
pgconn_query_value_param(struct pgconn *conn, const char *sql, const char *param, char **value,
                         struct br_error *err)
{
    return query_value(conn, sql, param, value, err);
}

int
pgconn_query_row(struct pgconn *conn, const char *sql, const char *param, char ***fields, int *nfields,
                 struct br_error *err)
{
    PGresult *res = run(conn, sql, param, err);
    int nf;

    *fields = NULL;
    *nfields = 0;
    if (res == NULL)
        return -1;
    if (PQntuples(res) < 1) {
        PQclear(res);
        return 0;
    }
    nf = PQnfields(res);
    *fields = br_calloc((size_t) (nf > 0 ? nf : 1), sizeof(char *));
    for (int i = 0; i < nf; i++)
        (*fields)[i] = PQgetisnull(res, 0, i) ? NULL : br_strdup(PQgetvalue(res, 0, i));
    *nfields = nf;
    PQclear(res);
    return 1;
}

void
pgconn_row_free(char **fields, int nfields)
{
    if (fields == NULL)
        return;
    for (int i = 0; i < nfields; i++)
        free(fields[i]);
    free(fields);
}

int
pgconn_exec(struct pgconn *conn, const char *sql, struct br_error *err)
{
    PGresult *res = run(conn, sql, NULL, err);

    if (res == NULL)
        return -1;
    PQclear(res);
    return 0;
}

/* A boolean query: 1 for 't', 0 for 'f' (or no row / NULL), -1 on error. */
static int
query_bool(struct pgconn *conn, const char *sql, struct br_error *err)
{
    char *v = NULL;
    int rc;

    if (query_value(conn, sql, NULL, &v, err) != 0)
        return -1;
    rc = (v != NULL && strcmp(v, "t") == 0) ? 1 : 0;
    free(v);
    return rc;
}

int
pgconn_is_superuser(struct pgconn *conn, struct br_error *err)
{
    return query_bool(conn, "SELECT usesuper FROM pg_catalog.pg_user WHERE usename = CURRENT_USER", err);
}

int
pgconn_has_backup_privileges(struct pgconn *conn, struct br_error *err)
{
    int version = pgconn_server_version_num(conn);
    const char *start_check, *stop_check;
    char *sql;
    int rc;

    if (version < PG_VERSION_MONITOR_ROLES)
        return pgconn_is_superuser(conn, err);
    if (version >= PG_VERSION_BACKUP_START_RENAMED) {
        start_check = "has_function_privilege(CURRENT_USER, 'pg_backup_start(text,bool)', 'EXECUTE')";
        stop_check = "has_function_privilege(CURRENT_USER, 'pg_backup_stop(bool)', 'EXECUTE')";
    } else {
        start_check = "has_function_privilege(CURRENT_USER, 'pg_start_backup(text,bool,bool)', 'EXECUTE')";
        stop_check = "has_function_privilege(CURRENT_USER, 'pg_stop_backup()', 'EXECUTE') OR "
                     "has_function_privilege(CURRENT_USER, 'pg_stop_backup(bool,bool)', 'EXECUTE')";
    }
    /* the query of Barman's PostgreSQLConnection.has_backup_privileges */
    sql = br_asprintf("SELECT usesuper OR ("
                      "(pg_has_role(CURRENT_USER, 'pg_monitor', 'MEMBER') OR "
                      "(pg_has_role(CURRENT_USER, 'pg_read_all_settings', 'MEMBER') "
                      "AND pg_has_role(CURRENT_USER, 'pg_read_all_stats', 'MEMBER'))) "
                      "AND (%s) AND (%s) "
                      "AND has_function_privilege(CURRENT_USER, 'pg_switch_wal()', 'EXECUTE') "
                      "AND has_function_privilege(CURRENT_USER, 'pg_create_restore_point(text)', 'EXECUTE')) "
                      "FROM pg_catalog.pg_user WHERE usename = CURRENT_USER",
                      start_check, stop_check);
    rc = query_bool(conn, sql, err);
    free(sql);
    return rc;
}

int
pgconn_setting(struct pgconn *conn, const char *name, char **value, struct br_error *err)
{
    if (query_value(conn, "SELECT pg_catalog.current_setting($1)", name, value, err) != 0)
        return -1;
    if (*value == NULL)
        return br_error_set(err, BR_E_PG, "setting \"%s\" has no value", name);
    return 0;
}

int
pgconn_is_in_recovery(struct pgconn *conn, struct br_error *err)
{
    return query_bool(conn, "SELECT pg_catalog.pg_is_in_recovery()", err);
}

int
pgconn_system_identifier(struct pgconn *conn, char **systemid, struct br_error *err)
{
    if (query_value(conn, "SELECT system_identifier FROM pg_catalog.pg_control_system()", NULL, systemid,
                    err) != 0)
        return -1;
    if (*systemid == NULL)
        return br_error_set(err, BR_E_PG, "pg_control_system() returned no system identifier");
    return 0;
}

int
pgconn_replication_slot(struct pgconn *conn, const char *slot_name, struct pgconn_slot *slot,
                        struct br_error *err)
{
    char **row = NULL;
    int nf = 0;
    int rc;

    memset(slot, 0, sizeof(*slot));
    rc = pgconn_query_row(conn,
                          "SELECT slot_name, active, restart_lsn FROM pg_catalog.pg_replication_slots "
                          "WHERE slot_type = 'physical' AND slot_name = $1",
                          slot_name, &row, &nf, err);
    if (rc <= 0)
        return rc;
    if (nf != 3 || row[0] == NULL) {
        pgconn_row_free(row, nf);
        return br_error_set(err, BR_E_PG, "unexpected reply from pg_replication_slots (%d columns)", nf);
    }
    slot->slot_name = row[0];
    slot->active = row[1] != NULL && strcmp(row[1], "t") == 0;
    slot->restart_lsn = row[2];
    free(row[1]);
    free(row);
    return 1;
}

void
pgconn_slot_reset(struct pgconn_slot *slot)
{
    if (slot == NULL)
        return;
    free(slot->slot_name);
    free(slot->restart_lsn);
    memset(slot, 0, sizeof(*slot));
}

int
pgconn_identify_system(struct pgconn *conn, struct pgconn_identify *out, struct br_error *err)
{
    PGresult *res;
    const char *sysid, *tli, *pos;
    char *end;
    unsigned long long tli_val;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    res = run(conn, "IDENTIFY_SYSTEM", NULL, err);
    if (res == NULL)
        return -1;
    /* PG >= 9.4 answers one row of four columns: systemid, timeline, xlogpos, dbname */
    if (PQntuples(res) != 1 || PQnfields(res) < 3) {
        br_error_set(err, BR_E_PG, "could not identify system: got %d rows and %d fields, expected 1 row and 3 or more fields",
                     PQntuples(res), PQnfields(res));
        goto out;
    }
    if (PQgetisnull(res, 0, 0) || PQgetisnull(res, 0, 1) || PQgetisnull(res, 0, 2)) {
        br_error_set(err, BR_E_PG, "could not identify system: NULL field in reply");
        goto out;
    }
    sysid = PQgetvalue(res, 0, 0);
    tli = PQgetvalue(res, 0, 1);
    pos = PQgetvalue(res, 0, 2);

    if (*sysid == '\0' || strlen(sysid) >= sizeof(out->systemid)) {
        br_error_set(err, BR_E_PG, "could not identify system: bad system identifier length");
        goto out;
    }
    for (const char *p = sysid; *p; p++) {
        if (!isdigit((unsigned char) *p)) {
            br_error_set(err, BR_E_PG, "could not identify system: system identifier \"%.32s\" is not a number", sysid);
            goto out;
        }
    }
    errno = 0;
    tli_val = strtoull(tli, &end, 10);
    if (errno != 0 || end == tli || *end != '\0' || tli_val == 0 || tli_val > UINT32_MAX) {
        br_error_set(err, BR_E_PG, "could not identify system: invalid timeline \"%.32s\"", tli);
        goto out;
    }
    if (strlen(pos) >= sizeof(out->xlogpos_text) || xlog_lsn_parse(pos, &out->xlogpos) != 0) {
        br_error_set(err, BR_E_PG, "could not identify system: invalid WAL location \"%.32s\"", pos);
        goto out;
    }
    snprintf(out->systemid, sizeof(out->systemid), "%s", sysid);
    snprintf(out->xlogpos_text, sizeof(out->xlogpos_text), "%s", pos);
    out->timeline = (uint32_t) tli_val;
    rc = 0;
out:
    PQclear(res);
    return rc;
}
