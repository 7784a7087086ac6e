/*
 * pgstatus.c: gather what Barman calls the remote status of a server. Each
 * query is independent: a failing one leaves its field NULL and the rest
 * go on, so `status` can still print what it knows about a half-working
 * server, and nothing here ever aborts a command.
 */
#include "barrel/build.h"
#include "barrel/pgstatus.h"
#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/fmt.h"
#include "barrel/log.h"
#include "barrel/mem.h"
#include "barrel/pgconn.h"

#include <stdio.h>
#include <time.h>

static char *
query(struct pgconn *conn, const char *sql)
{
    struct br_error err;
    char *value = NULL;

    if (pgconn_query_value(conn, sql, &value, &err) != 0) {
        br_log_debug("query failed (%s): %s", sql, err.msg);
        return NULL;
    }
    return value;
}

static char *
setting(struct pgconn *conn, const char *name)
{
    struct br_error err;
    char *value = NULL;

    if (pgconn_setting(conn, name, &value, &err) != 0)
        return NULL;
    return value;
}

/* Python's ctime() of a server timestamp, in this host's local time. */
static char *
epoch_ctime(const char *epoch_text)
{
    time_t t = (time_t) strtoll(epoch_text, NULL, 10);
    struct tm tm;
    char buf[64];

    localtime_r(&t, &tm);
    fmt_ctime(&tm, buf, sizeof(buf));
    return br_strdup(buf);
}

static void
fetch_normal(const struct server_config *srv, struct pg_remote_status *st)
{
    struct br_error err;
    struct pgconn *conn = pgconn_open(srv->conninfo, "barrel", 0, &err);
    char **row = NULL;
    int nfields = 0;

    if (conn == NULL) {
        st->connection_error = br_strdup(err.msg);
        return;
    }
    /* Barman shows the second word of version(), "15.18", not "15.18 (Debian 15.18-0+deb12u1)" */
    st->server_txt_version = br_strndup(pgconn_server_version_text(conn),
                                        strcspn(pgconn_server_version_text(conn), " "));
    st->server_version_num = pgconn_server_version_num(conn);
    st->is_superuser = pgconn_is_superuser(conn, &err);
    st->has_backup_privileges = pgconn_has_backup_privileges(conn, &err);
    st->is_in_recovery = pgconn_is_in_recovery(conn, &err);
    if (st->has_backup_privileges == 1)
        st->data_directory = setting(conn, "data_directory");
    st->config_file = setting(conn, "config_file");
    st->hba_file = setting(conn, "hba_file");
    st->ident_file = setting(conn, "ident_file");
    st->wal_level = setting(conn, "wal_level");
    st->hot_standby = setting(conn, "hot_standby");
    st->max_wal_senders = setting(conn, "max_wal_senders");
    st->data_checksums = setting(conn, "data_checksums");
    st->max_replication_slots = setting(conn, "max_replication_slots");
    st->wal_compression = setting(conn, "wal_compression");
    st->wal_keep_size = setting(conn, "wal_keep_size");
    st->archive_mode = setting(conn, "archive_mode");
    st->archive_command = setting(conn, "archive_command");
    st->synchronous_standby_names = setting(conn, "synchronous_standby_names");
    /* Barman shows these two as integers (seconds) */
    st->archive_timeout = query(conn, "SELECT setting FROM pg_settings WHERE name = 'archive_timeout'");
    st->checkpoint_timeout = query(conn, "SELECT setting FROM pg_settings WHERE name = 'checkpoint_timeout'");
    st->xlog_segment_size = query(conn, "SELECT setting::bigint * (CASE unit WHEN 'B' THEN 1 WHEN 'kB' THEN 1024 "
                                        "WHEN 'MB' THEN 1048576 ELSE 1 END) FROM pg_settings WHERE name = 'wal_segment_size'");
    if (st->is_in_recovery == 0) {
        st->current_lsn = query(conn, "SELECT pg_current_wal_lsn()");
        st->current_xlog = query(conn, "SELECT pg_walfile_name(pg_current_wal_lsn())");
    } else if (st->is_in_recovery == 1)
        st->current_lsn = query(conn, "SELECT pg_last_wal_replay_lsn()");
    if (st->has_backup_privileges == 1)
        st->current_size = query(conn, "SELECT sum(pg_tablespace_size(oid)) FROM pg_tablespace");
    st->postgres_systemid = query(conn, "SELECT system_identifier::text FROM pg_control_system()");

    /* floor(), not ::bigint (which rounds): Python's ctime() drops the fraction of the second */
    if (pgconn_query_row(conn,
                         "SELECT last_archived_wal, floor(EXTRACT(EPOCH FROM last_archived_time))::bigint::text, "
                         "failed_count::text, last_failed_wal, "
                         "floor(EXTRACT(EPOCH FROM last_failed_time))::bigint::text, "
                         "(archived_count::numeric / EXTRACT(EPOCH FROM age(now(), stats_reset)))::text "
                         "FROM pg_stat_archiver", NULL, &row, &nfields, &err) == 1 && nfields == 6) {
        st->last_archived_wal = row[0] ? br_strdup(row[0]) : NULL;
        st->last_archived_time_ctime = row[1] ? epoch_ctime(row[1]) : NULL;
        st->failed_count = row[2] ? br_strdup(row[2]) : NULL;
        st->last_failed_wal = row[3] ? br_strdup(row[3]) : NULL;
        st->last_failed_time_ctime = row[4] ? epoch_ctime(row[4]) : NULL;
        st->archived_wals_per_second = row[5] ? br_strdup(row[5]) : NULL;
    }
    pgconn_row_free(row, nfields);

    if (srv->slot_name != NULL) {
        struct pgconn_slot slot = {0};
        int found = pgconn_replication_slot(conn, srv->slot_name, &slot, &err);
        st->slot_found = found;
        if (found == 1) {
            st->slot_active = slot.active;
            st->slot_restart_lsn = br_strdup(slot.restart_lsn);
        }
        pgconn_slot_reset(&slot);
    }
    pgconn_close(conn);
}

static void
fetch_streaming(const struct server_config *srv, struct pg_remote_status *st)
{
    struct br_error err;
    struct pgconn_identify id;
    struct pgconn *conn;
    char buf[32];

    if (srv->streaming_conninfo == NULL)
        return;
    conn = pgconn_open(srv->streaming_conninfo, srv->streaming_archiver_name, 1, &err);
    if (conn == NULL) {
        if (st->connection_error == NULL)
            st->connection_error = br_strdup(err.msg);
        return;
    }
    if (pgconn_identify_system(conn, &id, &err) == 0) {
        st->streaming = 1;
        st->streaming_systemid = br_strdup(id.systemid);
        snprintf(buf, sizeof(buf), "%u", id.timeline);
        st->timeline = br_strdup(buf);
        st->xlogpos = br_strdup(id.xlogpos_text);
    }
    pgconn_close(conn);
}

void
pg_remote_status_fetch(const struct server_config *srv, struct pg_remote_status *st)
{
    memset(st, 0, sizeof(*st));
    st->is_superuser = st->has_backup_privileges = st->is_in_recovery = st->slot_found = -1;
    if (srv->conninfo != NULL)
        fetch_normal(srv, st);
    if (srv->backup_method == BACKUP_METHOD_POSTGRES || srv->streaming_archiver)
        fetch_streaming(srv, st);
}

void
pg_remote_status_reset(struct pg_remote_status *st)
{
    char **fields[] = {
        &st->connection_error, &st->server_txt_version, &st->data_directory, &st->config_file, &st->hba_file,
        &st->ident_file, &st->wal_level, &st->hot_standby, &st->max_wal_senders, &st->data_checksums,
        &st->max_replication_slots, &st->wal_compression, &st->wal_keep_size, &st->archive_mode,
        &st->archive_command, &st->archive_timeout, &st->checkpoint_timeout, &st->synchronous_standby_names,
        &st->current_lsn, &st->current_xlog, &st->current_size, &st->xlog_segment_size, &st->postgres_systemid,
        &st->last_archived_wal, &st->last_archived_time_ctime, &st->failed_count, &st->last_failed_wal,
        &st->last_failed_time_ctime, &st->archived_wals_per_second, &st->slot_restart_lsn,
        &st->streaming_systemid, &st->timeline, &st->xlogpos,
    };
    for (size_t i = 0; i < BR_ARRAY_LEN(fields); i++) {
        free(*fields[i]);
        *fields[i] = NULL;
    }
}
