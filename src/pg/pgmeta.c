/*
 * pgmeta.c: the SQL side of a backup (pgmeta.h). Multi-row answers
 * (configuration files, tablespaces) are read here, inside src/pg/, and
 * copied into the backup_info; no PGresult leaves the file.
 */
#include "barrel/build.h"
#include "barrel/pgmeta.h"

#include <errno.h>
#include <inttypes.h>

#include <libpq-fe.h>

#include "barrel/catalog.h"
#include "barrel/error.h"
#include "barrel/mem.h"
#include "barrel/pgconn.h"
#include "barrel/xlog.h"

/* Run a query returning rows; NULL with err on failure (the caller clears the result). */
static PGresult *
query_rows(struct pgconn *pc, const char *sql, const char *what, struct br_error *err)
{
    PGconn *conn = (PGconn *) pgconn_libpq(pc);
    PGresult *res = PQexec(conn, sql);

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        const char *msg = res ? PQresultErrorMessage(res) : NULL;
        size_t len = 0;

        if (msg == NULL || *msg == '\0')
            msg = PQerrorMessage(conn);
        while (msg[len] != '\0' && msg[len] != '\n')
            len++;
        br_error_set(err, BR_E_PG, "could not read %s: %.*s", what, (int) len, msg);
        PQclear(res);
        return NULL;
    }
    return res;
}

static int
parse_i64(const char *text, int64_t *out)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

int
pgmeta_current_position(struct pgconn *conn, struct pgmeta_position *out, struct br_error *err)
{
    /*
     * One statement, so that the LSN, its file and the timestamp belong
     * together. Barman reads the same three things (current_xlog_info).
     * The timestamp travels as microseconds and a UTC offset, which
     * rebuild Python's str(datetime) exactly whatever the DateStyle.
     */
    static const char sql[] =
        "SELECT l::text, (pg_catalog.pg_walfile_name_offset(l)).file_name, "
        "(pg_catalog.pg_walfile_name_offset(l)).file_offset, "
        "(extract(epoch FROM CURRENT_TIMESTAMP) * 1000000)::bigint::text, "
        "extract(timezone FROM CURRENT_TIMESTAMP)::int::text "
        "FROM (SELECT CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_last_wal_replay_lsn() "
        "ELSE pg_catalog.pg_current_wal_lsn() END AS l) AS pos";
    PGresult *res = query_rows(conn, sql, "the current WAL location", err);
    int64_t offset, usec, tz;
    struct xlog_name xn;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (res == NULL)
        return -1;
    if (PQntuples(res) != 1 || PQnfields(res) != 5 || PQgetisnull(res, 0, 0) || PQgetisnull(res, 0, 1)) {
        br_error_set(err, BR_E_PG, "could not read the current WAL location: unexpected reply");
        goto out;
    }
    if (xlog_lsn_parse(PQgetvalue(res, 0, 0), &out->lsn) != 0 || strlen(PQgetvalue(res, 0, 1)) != XLOG_NAME_LEN
        || xlog_name_parse(PQgetvalue(res, 0, 1), &xn) != XLOG_KIND_SEGMENT
        || parse_i64(PQgetvalue(res, 0, 2), &offset) != 0 || offset < 0 || offset > UINT32_MAX
        || parse_i64(PQgetvalue(res, 0, 3), &usec) != 0 || parse_i64(PQgetvalue(res, 0, 4), &tz) != 0
        || tz < -86400 || tz > 86400) {
        br_error_set(err, BR_E_PG, "could not read the current WAL location: invalid value in the reply");
        goto out;
    }
    snprintf(out->file_name, sizeof(out->file_name), "%s", PQgetvalue(res, 0, 1));
    out->file_offset = (uint32_t) offset;
    out->timeline = xn.tli;
    out->time.epoch_usec = usec;
    out->time.has_tz = 1;
    out->time.tz_offset_s = (int) tz;
    rc = 0;
out:
    PQclear(res);
    return rc;
}

static int
fill_settings(struct pgconn *conn, struct backup_info *bi, struct br_error *err)
{
    static const char sql[] =
        "SELECT name, setting FROM pg_catalog.pg_settings "
        "WHERE name IN ('data_directory', 'config_file', 'hba_file', 'ident_file', 'wal_segment_size')";
    PGresult *res = query_rows(conn, sql, "the server settings", err);
    int64_t segsize = -1;

    if (res == NULL)
        return -1;
    for (int i = 0; i < PQntuples(res); i++) {
        const char *name = PQgetvalue(res, i, 0), *value = PQgetisnull(res, i, 1) ? NULL : PQgetvalue(res, i, 1);
        char **slot = NULL;

        if (strcmp(name, "data_directory") == 0)
            slot = &bi->pgdata;
        else if (strcmp(name, "config_file") == 0)
            slot = &bi->config_file;
        else if (strcmp(name, "hba_file") == 0)
            slot = &bi->hba_file;
        else if (strcmp(name, "ident_file") == 0)
            slot = &bi->ident_file;
        else if (strcmp(name, "wal_segment_size") == 0 && value != NULL && parse_i64(value, &segsize) != 0)
            segsize = -1;
        if (slot != NULL) {
            free(*slot);
            *slot = br_strdup(value);
        }
    }
    PQclear(res);
    /* PG >= 11 reports it in bytes: a power of two from 1 MB to 1 GB */
    if (segsize < (1 << 20) || segsize > (1 << 30) || (segsize & (segsize - 1)) != 0)
        return br_error_set(err, BR_E_PG, "server reported an invalid wal_segment_size");
    bi->xlog_segment_size = segsize;
    if (bi->pgdata == NULL)
        return br_error_set(err, BR_E_PG, "could not read data_directory (is the user a superuser or a member of "
                                          "pg_read_all_settings?)");
    return 0;
}

static int
fill_included_files(struct pgconn *conn, struct backup_info *bi, struct br_error *err)
{
    /* Barman's get_configuration_files(): sources of settings other than the main file */
    static const char sql[] =
        "SELECT DISTINCT sourcefile FROM pg_catalog.pg_settings "
        "WHERE sourcefile IS NOT NULL AND sourcefile NOT IN "
        "(SELECT setting FROM pg_catalog.pg_settings WHERE name = 'config_file') ORDER BY 1";
    PGresult *res = query_rows(conn, sql, "the included configuration files", err);
    int n;

    if (res == NULL)
        return -1;
    n = PQntuples(res);
    for (size_t i = 0; i < bi->n_included_files; i++)
        free(bi->included_files[i]);
    free(bi->included_files);
    bi->included_files = NULL;
    bi->n_included_files = 0;
    bi->included_files_set = 0;
    if (n > 0) {
        bi->included_files = br_calloc((size_t) n, sizeof(char *));
        for (int i = 0; i < n; i++)
            bi->included_files[i] = br_strdup(PQgetvalue(res, i, 0));
        bi->n_included_files = (size_t) n;
        bi->included_files_set = 1;
    }
    PQclear(res);
    return 0;
}

static int
fill_tablespaces(struct pgconn *conn, struct backup_info *bi, struct br_error *err)
{
    static const char sql[] =
        "SELECT spcname, oid, pg_catalog.pg_tablespace_location(oid) FROM pg_catalog.pg_tablespace "
        "WHERE pg_catalog.pg_tablespace_location(oid) != '' ORDER BY oid";
    PGresult *res = query_rows(conn, sql, "the tablespaces", err);
    int n;

    if (res == NULL)
        return -1;
    n = PQntuples(res);
    bi->tablespaces_set = n > 0;
    bi->n_tablespaces = 0;
    bi->tablespaces = n > 0 ? br_calloc((size_t) n, sizeof(*bi->tablespaces)) : NULL;
    for (int i = 0; i < n; i++) {
        int64_t oid;

        if (parse_i64(PQgetvalue(res, i, 1), &oid) != 0 || oid <= 0 || oid > UINT32_MAX) {
            PQclear(res);
            return br_error_set(err, BR_E_PG, "server reported an invalid tablespace oid");
        }
        bi->tablespaces[i].name = br_strdup(PQgetvalue(res, i, 0));
        bi->tablespaces[i].oid = (uint32_t) oid;
        bi->tablespaces[i].location = br_strdup(PQgetvalue(res, i, 2));
        bi->n_tablespaces++;
    }
    PQclear(res);
    return 0;
}

int
pgmeta_fill_backup_info(struct pgconn *conn, struct backup_info *bi, struct br_error *err)
{
    bi->version = pgconn_server_version_num(conn);
    if (fill_settings(conn, bi, err) != 0 || fill_included_files(conn, bi, err) != 0
        || fill_tablespaces(conn, bi, err) != 0)
        return -1;
    return 0;
}

int
pgmeta_create_restore_point(struct pgconn *conn, const char *name, struct br_error *err)
{
    char *value = NULL;
    int rc = pgconn_query_value_param(conn, "SELECT pg_catalog.pg_create_restore_point($1)::text", name, &value, err);

    free(value);
    return rc;
}
