/*
 * pgmeta.h: what a backup asks PostgreSQL over a normal (SQL) connection
 * to fill backup.info, with the queries Barman 3.4 uses (barman/postgres.py):
 * data directory, version, WAL segment size, configuration files, user
 * tablespaces, the current WAL position with the server's timestamp, and
 * the restore point written after a backup.
 */
#ifndef BARREL_PGMETA_H
#define BARREL_PGMETA_H

#include "barrel/build.h"
#include "barrel/timestamp.h"
#include <stdint.h>

struct br_error;
struct pgconn;
struct backup_info;

struct pgmeta_position {
    uint64_t lsn;
    char     file_name[25];     /* pg_walfile_name_offset(): the previous segment at a boundary */
    uint32_t file_offset;
    uint32_t timeline;          /* from file_name */
    struct br_timestamp time;   /* CURRENT_TIMESTAMP, with the session's UTC offset */
};

/*
 * pg_current_wal_lsn() (pg_last_wal_replay_lsn() on a standby), its file
 * name and offset, and CURRENT_TIMESTAMP. 0 or -1 with err.
 */
int pgmeta_current_position(struct pgconn *conn, struct pgmeta_position *out, struct br_error *err);

/*
 * Fill pgdata, version, xlog_segment_size, config_file, hba_file,
 * ident_file, included_files (None when there are none) and tablespaces
 * (name, oid, location of every tablespace with a location; None when
 * there are none). 0 or -1 with err.
 */
int pgmeta_fill_backup_info(struct pgconn *conn, struct backup_info *bi, struct br_error *err);

/* SELECT pg_create_restore_point(name). 0 or -1 with err. */
int pgmeta_create_restore_point(struct pgconn *conn, const char *name, struct br_error *err);

#endif /* BARREL_PGMETA_H */
