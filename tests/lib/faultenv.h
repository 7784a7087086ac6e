/*
 * faultenv.h: the common ground of the fault tests (tests/faults/).
 *
 * One PostgreSQL 15 cluster that archives (catalog_setup.h's
 * h_pg_start_archiving(), into server pg's incoming/ or into a directory off
 * barman_home's filesystem), a barman_home that can be a small tmpfs for the
 * disk-full tests, a barrel configuration built from sections, and the
 * checks every fault test makes afterwards: the catalog reads cleanly, DONE
 * backups verify, the archived WAL has no gap.
 *
 * Functions that check something fail the running cmocka test (fail_msg)
 * with what they found; the others return NULL or -1.
 */
#ifndef BARREL_TEST_FAULTENV_H
#define BARREL_TEST_FAULTENV_H

#include "barrel/build.h"
#include <stddef.h>
#include <sys/types.h>

#include "catcheck.h"
#include "harness.h"

struct h_fenv_opts {
    int tmpfs_mb;            /* > 0: barman_home is a tmpfs of this size (needs root and mount(2)) */
    int incoming_outside;    /* archive_command writes to <tmp>/incoming, off barman_home's filesystem */
    const char *pg_conf;     /* more postgresql.conf lines (may be NULL) */
};

struct h_fenv {
    char *tmp;               /* everything of the test lives under it */
    char *home;              /* barman_home */
    char *conf;              /* the barrel configuration file (h_fenv_write_conf) */
    char *incoming;          /* where archive_command puts segments: server "pg"'s incoming directory */
    struct h_pg *pg;
    int mounted;             /* home is a tmpfs of ours */
};

/*
 * Start the cluster and make the directories. NULL when the environment
 * cannot run the test: *why (new string) says why, for a cmocka skip (no
 * PostgreSQL 15, not root, mount refused); a real failure also returns
 * NULL, with *why starting with "error:".
 */
struct h_fenv *h_fenv_new(const struct h_fenv_opts *opts, char **why);
/* Kill spawned processes, remove the cluster, unmount, remove everything. NULL is a no-op. */
void h_fenv_free(struct h_fenv *fe);

/*
 * catalog_setup's h_conf_server() section ("[name]", conninfo and
 * streaming_conninfo, backup_method = postgres, archiver = on, then `extra`
 * lines, may be NULL) with both conninfos through 127.0.0.1:port (0: the
 * cluster's own port, > 0: a proxy's), and a blank line. New string.
 */
char *h_fenv_section(const struct h_fenv *fe, const char *name, int port, const char *extra);
/* Write the configuration: [barman] (home, current user, log file <tmp>/barrel.log) and `sections`. */
void h_fenv_write_conf(const struct h_fenv *fe, const char *sections);

/* `env barrel -c CONF args` through sh (args is a shell fragment); env ("K=V ...") and in may be NULL. */
struct h_result h_fenv_barrel(const struct h_fenv *fe, const char *env, const char *args, const char *in);

/* psql as the superuser: trimmed output (new string); fails the test on error. */
char *h_fenv_sql(struct h_fenv *fe, const char *sql);
/*
 * pgwal.h's h_pg_switch_segment() (a row, then pg_switch_wal()): the name of
 * the segment it closed (new string); fails the test if psql does.
 */
char *h_fenv_switch(struct h_fenv *fe);
/* Wait (up to 30 s) until archive_command has archived `name` or a later segment; fails the test otherwise. */
void h_fenv_wait_archived(struct h_fenv *fe, const char *name);
/* h_fenv_switch() and h_fenv_wait_archived(). */
void h_fenv_activity(struct h_fenv *fe);

/*
 * The group setups' starting point: h_fenv_activity(), `backup --wait
 * SERVER`, h_fenv_activity(), `archive-wal SERVER` (one DONE backup and its
 * WAL archived); fails the test if a command does.
 */
void h_fenv_seed_backup(struct h_fenv *fe, const char *server);

/* Check <home>/<server>: fails the test with the problems found, `when` says after what. */
void h_fenv_check_catalog(const struct h_fenv *fe, const char *server, struct h_catalog *cat, const char *when);
/* verify-backup of every DONE backup of cat; fails the test on the first that does not pass. */
void h_fenv_verify_done(const struct h_fenv *fe, const char *server, const struct h_catalog *cat, const char *when);
/*
 * The value of `key` in <home>/<server>/base/<id>/backup.info (new string),
 * NULL when the file or the key is missing.
 */
char *h_fenv_backup_field(const struct h_fenv *fe, const char *server, const char *id, const char *key);
/*
 * NULL when cat's xlog.db holds every segment (of the timeline of each
 * pair) between its first and its last, and `through` (when not NULL) is
 * among them; otherwise what is missing (new string).
 */
char *h_fenv_wal_gap(const struct h_catalog *cat, const char *through);
/* ---- a receive-wal in the background (server with streaming_archiver = on) ---- */

/* `[env] barrel receive-wal SERVER`, its output appended to <tmp>/receive-wal-SERVER.log; fails the test if it cannot start. */
pid_t h_fenv_receiver_start(const struct h_fenv *fe, const char *server, const char *env);
/* That output so far (new string, "(none)" when empty). */
char *h_fenv_receiver_log(const struct h_fenv *fe, const char *server);
/*
 * Wait until segment `name` is complete in <server>/streaming/ (or in
 * wals/), or with `partial` until streaming/<name>.partial exists: 1, or 0
 * when the receiver exited first. Fails the test after timeout_ms.
 */
int h_fenv_wait_streamed(const struct h_fenv *fe, const char *server, pid_t pid, const char *name, int partial,
                         int timeout_ms);
/* h_fenv_switch(), then wait until the receiver has the closed segment; fails if it exits. New string. */
char *h_fenv_stream_switch(struct h_fenv *fe, const char *server, pid_t pid, int timeout_ms, const char *when);
/*
 * One more row, and wait until the receiver has opened the next segment's
 * partial file: archive-wal keeps the newest complete segment back while
 * streaming/ has no partial (as Barman's does, the receiver resumes from it).
 */
void h_fenv_stream_settle(struct h_fenv *fe, const char *server, pid_t pid, int timeout_ms, const char *when);
/* SIGTERM (`receive-wal --stop` sends SIGINT); the receiver must end with status 0 within 10 s. */
void h_fenv_receiver_stop(const struct h_fenv *fe, const char *server, pid_t pid, const char *when);

/* Free bytes of the filesystem holding path (statvfs). */
long long h_fenv_free_bytes(const char *path);

#endif /* BARREL_TEST_FAULTENV_H */
