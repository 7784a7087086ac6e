/*
 * harness.h: shared helpers for barrel's cmocka tests.
 *
 * - temporary directories removed on teardown;
 * - running the barrel binary (BARREL_BIN) or any command with its stdout,
 *   stderr and exit status captured;
 * - a throwaway PostgreSQL 15 cluster (initdb -k, a free port on 127.0.0.1,
 *   its own socket directory, wal_level=replica, a replication user),
 *   stopped and removed on every exit path, also when a test fails; when the
 *   tests run as root the cluster runs as an unprivileged user.
 *
 * No mock of PostgreSQL: a test that needs a server starts one.
 */
#ifndef BARREL_TEST_HARNESS_H
#define BARREL_TEST_HARNESS_H

#include "barrel/build.h"
#include <stddef.h>
#include <sys/types.h>

/* ---- files ---- */
char *h_mkdtemp(void);                          /* new dir under $TMPDIR (or /tmp), mode 0755 */
void  h_rmtree(const char *path);
char *h_read_file(const char *path);            /* whole file, NUL-terminated; NULL if missing */
void  h_write_file(const char *path, const char *text);
int   h_copy_tree(const char *src, const char *dst);  /* cp -a; 0 on success */
/* The fixtures directory ($FIXTURES or ../shared/fixtures/barman-3.4 relative to the repo). */
const char *h_fixtures_dir(void);
const char *h_barrel_bin(void);                 /* $BARREL_BIN or ./barrel */

/* ---- processes ---- */
struct h_result {
    int   status;      /* exit status, or 128+signal */
    char *out;         /* stdout */
    char *err;         /* stderr */
};
/* Run argv (argv[0] searched in PATH) with optional stdin text; env entries "K=V" added. */
struct h_result h_run(const char *const *argv, const char *stdin_text, const char *const *env);
/* Run a shell command line with sh -c. */
struct h_result h_sh(const char *fmt, ...) BR_PRINTF(1, 2);
/* The same with env entries "K=V" added (e.g. a PATH of the test's own). */
struct h_result h_sh_env(const char *const *env, const char *fmt, ...) BR_PRINTF(2, 3);
void h_result_free(struct h_result *r);

/* ---- PostgreSQL ---- */
struct h_pg {
    char *bindir;       /* /usr/lib/postgresql/15/bin */
    char *datadir;
    char *sockdir;
    char *basedir;      /* everything lives under it */
    int   port;
    char *os_user;      /* the user the server runs as (NULL = current user) */
    int   running;
};
/* A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0); -1 if none. */
int   h_free_port(void);
/* 1 when PostgreSQL 15 server binaries are installed. */
int   h_pg_available(void);
/* initdb + start; NULL (and a message on stderr) on failure. extra_conf lines go to postgresql.conf. */
struct h_pg *h_pg_start(const char *extra_conf);
int   h_pg_stop(struct h_pg *pg);               /* pg_ctl stop -m fast */
int   h_pg_restart(struct h_pg *pg);
void  h_pg_destroy(struct h_pg *pg);            /* stop if running and remove everything */
/* Run SQL with psql as the superuser; returns trimmed stdout (caller frees) or NULL on error. */
char *h_pg_sql(struct h_pg *pg, const char *dbname, const char *sql);
/* "host=127.0.0.1 port=N user=U dbname=postgres" for the superuser / the replication user. */
char *h_pg_conninfo(struct h_pg *pg);
char *h_pg_repl_conninfo(struct h_pg *pg);

/* Roles every harness cluster has: the initdb superuser and a REPLICATION LOGIN role. */
#define H_PG_SUPERUSER "postgres"
#define H_PG_REPL_USER "streaming_barman"

/* ---- misc ---- */
/* Name of the user running the tests (for barman_user), new string. */
char *h_current_user(void);

#endif /* BARREL_TEST_HARNESS_H */
