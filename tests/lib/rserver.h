/*
 * rserver.h: PostgreSQL started on a restored or recovered data directory,
 * to query what a restore produced.
 *
 * The server gets a free port on 127.0.0.1, a socket directory of its own
 * (<datadir>.sock, its log file in it) and archive_mode off; it runs as
 * os_user (through runuser) when that is set, as the harness cluster does
 * when the tests run as root. Every server started is stopped (pg_ctl -m
 * immediate) by h_rserver_stop, h_rserver_stop_all or at exit.
 */
#ifndef BARREL_TEST_RSERVER_H
#define BARREL_TEST_RSERVER_H

#include "barrel/build.h"

struct h_rserver {
    char *datadir, *sockdir, *log;
    const char *os_user;   /* not owned: NULL, or the user it runs as */
    int port;
};

/*
 * Start PostgreSQL on datadir (pg_ctl -w -t 120); with os_user set, datadir,
 * the socket directory and the extra_paths (a shell word list, may be NULL)
 * are chown -R to it first. NULL, with the command's output and the log
 * printed, when it does not start.
 */
struct h_rserver *h_rserver_start(const char *datadir, const char *os_user, const char *extra_paths);
/* psql over its socket: trimmed output (caller frees), or NULL with psql's error printed. */
char *h_rserver_sql(const struct h_rserver *rs, const char *db, const char *query);
/* Ask query (database postgres) every 100 ms, at most tries times, until it returns want: 0, or -1. */
int h_rserver_wait_for(const struct h_rserver *rs, const char *query, const char *want, int tries);
/* Stop (immediate) and forget the server; a stopped slot is a no-op. */
void h_rserver_stop(struct h_rserver *rs);
/* Stop every server still running. */
void h_rserver_stop_all(void);

#endif /* BARREL_TEST_RSERVER_H */
