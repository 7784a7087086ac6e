/*
 * catalog_setup.h: the setup the integration tests share around a barrel
 * catalog: running barrel (or Barman) with a configuration file, writing
 * that file, a cluster whose archive_command copies WAL into a server's
 * incoming/ directory, waiting for the archiver, and a fake ssh.
 *
 * The helpers that fail or skip the test (h_ok, h_skip_without_pg,
 * h_pg_wait_*) are for cmocka test bodies and group setups.
 */
#ifndef BARREL_TEST_CATALOG_SETUP_H
#define BARREL_TEST_CATALOG_SETUP_H

#include "barrel/build.h"
#include <stddef.h>

#include "harness.h"

/* ---- running barrel ---- */

/* `tool -c conf ARGS...` (args NULL-terminated), env entries "K=V" added (env may be NULL). */
struct h_result h_run_conf(const char *tool, const char *conf, const char *const *env, const char *const *args);
/* `barrel -c conf` with the non-NULL entries of args[0..n), in order. */
struct h_result h_barrel_args(const char *conf, const char *const *args, size_t n);
/* H_BARREL(conf, "backup", "pg"): `barrel -c conf backup pg`. */
#define H_BARREL(conf, ...) h_run_conf(h_barrel_bin(), (conf), NULL, (const char *const[]){__VA_ARGS__, NULL})

/* Fail the test ("WHAT failed (STATUS): OUT ERR") unless r exited 0; frees r. */
void h_ok(const char *what, struct h_result r);
/* Skip the test, saying so, when the PostgreSQL 15 server binaries are not installed. */
void h_skip_without_pg(void);

/* ---- the usual fixture: a temporary directory, barman_home and the configuration file in it ---- */

/* *tmp a new temporary directory; *home = <tmp>/home and *conf = <tmp>/<conf_name>, paths only (new strings). */
void h_fixture_dirs(char **tmp, char **home, char **conf, const char *conf_name);
/* Group teardown: destroy pg (may be NULL), remove tmp (may be NULL), free tmp, home and conf. */
void h_fixture_drop(struct h_pg *pg, char *tmp, char *home, char *conf);

/* ---- the configuration file ---- */

/*
 * Write a barrel configuration to path: "[barman]", barman_home = home,
 * barman_user = user (NULL: the current user), the `global` lines (may be
 * NULL), a blank line, then `servers` as they are (may be NULL).
 */
void h_write_conf(const char *path, const char *home, const char *user, const char *global, const char *servers);
/*
 * The section of a server backed up from pg: "[name]", conninfo and
 * streaming_conninfo of pg (the superuser, the replication user),
 * backup_method = postgres, archiver = on, then the `more` lines (may be
 * NULL). pg NULL: both conninfos "host=127.0.0.1 port=1" (nothing listens;
 * for a configuration that must parse without a server). New string.
 */
char *h_conf_server(struct h_pg *pg, const char *name, const char *more);

/* ---- a cluster archiving into a catalog ---- */

/*
 * <home>/<server>/incoming, created, with mode 0777 on it, on <home>/<server>
 * and on home: the server (another OS user when the tests run as root)
 * writes into it. New string.
 */
char *h_incoming_dir(const char *home, const char *server);
/*
 * h_pg_start() with archive_mode = on and an archive_command that copies
 * each segment into incoming (to a .tmp name, then mv; a segment already
 * there is refused), then the extra_conf lines (may be NULL).
 */
struct h_pg *h_pg_start_archiving(const char *incoming, const char *extra_conf);

/* SQL (printf format) as the superuser in database postgres: trimmed output (caller frees); fails the test on error. */
char *h_pg_sqlf(struct h_pg *pg, const char *fmt, ...) BR_PRINTF(2, 3);
/* A number from SQL on pg (the first column of the first row); -1 when psql fails. */
long h_pg_sql_long(struct h_pg *pg, const char *sql);
/* Wait (up to 60 s, every 100 ms) until pg_stat_archiver's archived_count reaches target. */
void h_pg_wait_archived_count(struct h_pg *pg, long target);
/*
 * Wait (up to 600 polls, every interval_ms) until pg_stat_archiver's
 * last_archived_wal is seg or later: 0, or -1 when it never was. Fails the
 * test ("SQL failed: ...") when psql does.
 */
int h_pg_wait_archived(struct h_pg *pg, const char *seg, int interval_ms);

/* ---- ssh ---- */

/*
 * An executable fake ssh at path: drops the options and USER@HOST and runs
 * the remote command line locally with sh -c (barman-wal-archive and
 * barman-wal-restore find it first in PATH).
 */
void h_write_fake_ssh(const char *path);

#endif /* BARREL_TEST_CATALOG_SETUP_H */
