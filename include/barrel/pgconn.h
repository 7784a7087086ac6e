/*
 * pgconn.h: libpq connections to PostgreSQL, behind an opaque handle.
 *
 * src/pg/ is the only module that includes libpq-fe.h; everything above it
 * sees `struct pgconn` and C strings. No PGresult leaves the module: query
 * helpers copy what they return into new strings that the caller frees.
 *
 * Passwords never reach a message: conninfo strings are redacted
 * (output_redact_conninfo) before they are put into an error, and so is
 * the first line of libpq's own message. Errors use code BR_E_PG.
 *
 * Every call blocks until the server answers (libpq synchronous API); a
 * connection attempt is bounded by connect_timeout in the conninfo, or by
 * PGCONN_DEFAULT_CONNECT_TIMEOUT_S when the conninfo does not set one.
 */
#ifndef BARREL_PGCONN_H
#define BARREL_PGCONN_H

#include "barrel/build.h"
#include <stddef.h>
#include <stdint.h>

struct br_error;
struct pgconn;
struct pg_conn;   /* libpq's PGconn, for other files of src/pg/ only */

#define PGCONN_DEFAULT_CONNECT_TIMEOUT_S 10

/*
 * Open a connection. `replication` 1 asks for a physical replication
 * connection (replication=true, dbname ignored by the server), 0 a normal
 * one. application_name may be NULL (then the conninfo's, if any, applies).
 * Returns a new handle or NULL with err set: "could not connect to server
 * (<redacted conninfo>): <first line of libpq's message>".
 */
struct pgconn *pgconn_open(const char *conninfo, const char *application_name, int replication,
                           struct br_error *err);
/* Close the connection and free the handle; NULL is a no-op. */
void pgconn_close(struct pgconn *conn);

/* The underlying PGconn (borrowed), for the replication code in src/pg/. */
struct pg_conn *pgconn_libpq(struct pgconn *conn);
/* 1 for a replication connection. */
int pgconn_is_replication(const struct pgconn *conn);

/* server_version_num of the connected server (150018), from the startup packet. */
int pgconn_server_version_num(const struct pgconn *conn);
/* "15.18" (the server_version parameter, borrowed; valid until pgconn_close). */
const char *pgconn_server_version_text(const struct pgconn *conn);

/*
 * Run a query returning at most one value. On success returns 0 and sets
 * *value to a new string, or to NULL when the result has no row or the value
 * is SQL NULL. -1 with err ("query failed: <server message>") otherwise.
 */
int pgconn_query_value(struct pgconn *conn, const char *sql, char **value, struct br_error *err);
/*
 * As pgconn_query_value with one text parameter ($1), sent out of line so
 * that no quoting is needed.
 */
int pgconn_query_value_param(struct pgconn *conn, const char *sql, const char *param, char **value,
                             struct br_error *err);
/*
 * First row of a query: returns 1 and sets *fields (nfields new strings, NULL
 * for SQL NULL; free with pgconn_row_free), 0 when there is no row, -1 on error.
 * `param` is $1 when not NULL.
 */
int pgconn_query_row(struct pgconn *conn, const char *sql, const char *param, char ***fields, int *nfields,
                     struct br_error *err);
void pgconn_row_free(char **fields, int nfields);

/* Run a command with no result rows (SET, CHECKPOINT, ...). */
int pgconn_exec(struct pgconn *conn, const char *sql, struct br_error *err);

/* ---- what `check` and `status` ask (normal connections) ---- */

/* 1 if the current user is a superuser, 0 if not; -1 on error. */
int pgconn_is_superuser(struct pgconn *conn, struct br_error *err);
/*
 * Barman's has_backup_privileges(): superuser, or (pg_monitor, or both
 * pg_read_all_settings and pg_read_all_stats) with EXECUTE on
 * pg_backup_start/pg_backup_stop (PG >= 15; pg_start_backup/pg_stop_backup
 * before), pg_switch_wal and pg_create_restore_point. 1, 0, or -1 on error.
 */
int pgconn_has_backup_privileges(struct pgconn *conn, struct br_error *err);
/* current_setting(name) as a new string; -1 on error (unknown setting included). */
int pgconn_setting(struct pgconn *conn, const char *name, char **value, struct br_error *err);
/* pg_is_in_recovery(): 1, 0, or -1 on error. */
int pgconn_is_in_recovery(struct pgconn *conn, struct br_error *err);
/* SELECT system_identifier FROM pg_control_system(), as decimal text (new string). */
int pgconn_system_identifier(struct pgconn *conn, char **systemid, struct br_error *err);

/* A physical replication slot, as pg_replication_slots shows it. */
struct pgconn_slot {
    char *slot_name;
    int   active;          /* 1 / 0 */
    char *restart_lsn;     /* "0/3000060", NULL when the slot was never used */
};
/* Look the slot up: 1 found (*slot filled; free with pgconn_slot_reset), 0 absent, -1 on error. */
int pgconn_replication_slot(struct pgconn *conn, const char *slot_name, struct pgconn_slot *slot,
                            struct br_error *err);
void pgconn_slot_reset(struct pgconn_slot *slot);

/* ---- replication connections ---- */

#define PGCONN_SYSTEMID_LEN 32

struct pgconn_identify {
    char     systemid[PGCONN_SYSTEMID_LEN];  /* decimal, as the server sends it */
    uint32_t timeline;
    uint64_t xlogpos;
    char     xlogpos_text[24];               /* "0/1741580" as sent */
};
/*
 * IDENTIFY_SYSTEM on a replication connection. The reply (one row, at least
 * three columns) is checked: a non-numeric system identifier, a timeline of
 * 0 or out of range, or an LSN that does not parse is an error.
 */
int pgconn_identify_system(struct pgconn *conn, struct pgconn_identify *out, struct br_error *err);

#endif /* BARREL_PGCONN_H */
