/*
 * pgstatus.h: the "remote status" of a server that status, show-server and
 * check report (Barman's fetch_remote_status()). Gathering never fails:
 * what cannot be read stays NULL, as Barman shows None, and the first
 * connection error is kept in connection_error.
 */
#ifndef BARREL_PGSTATUS_H
#define BARREL_PGSTATUS_H

#include "barrel/build.h"

struct server_config;

struct pg_remote_status {
    char *connection_error;       /* first connection error, redacted */
    /* normal connection */
    char *server_txt_version;     /* "15.18" */
    int   server_version_num;     /* 0 when unknown */
    int   is_superuser;           /* -1 unknown */
    int   has_backup_privileges;  /* -1 unknown */
    int   is_in_recovery;         /* -1 unknown */
    char *data_directory;
    char *config_file, *hba_file, *ident_file;
    char *wal_level, *hot_standby, *max_wal_senders, *data_checksums, *max_replication_slots;
    char *wal_compression, *wal_keep_size, *archive_mode, *archive_command, *archive_timeout;
    char *checkpoint_timeout, *synchronous_standby_names;
    char *current_lsn;
    char *current_xlog;           /* NULL on a standby */
    char *current_size;           /* bytes, decimal text */
    char *xlog_segment_size;      /* bytes, decimal text */
    char *postgres_systemid;
    /* pg_stat_archiver */
    char *last_archived_wal, *last_archived_time_ctime, *failed_count, *last_failed_wal,
         *last_failed_time_ctime, *archived_wals_per_second;
    /* replication slot (slot_name set) */
    int   slot_found;             /* -1 unknown, 0 absent, 1 present */
    char *slot_restart_lsn;
    int   slot_active;
    /* streaming connection */
    int   streaming;              /* 1 when a replication connection worked */
    char *streaming_systemid;
    char *timeline;
    char *xlogpos;
};

/* Query the server of srv (conninfo, and streaming_conninfo when streaming is configured). */
void pg_remote_status_fetch(const struct server_config *srv, struct pg_remote_status *st);
void pg_remote_status_reset(struct pg_remote_status *st);

#endif /* BARREL_PGSTATUS_H */
