/*
 * rserver.c: PostgreSQL on restored data directories (rserver.h).
 *
 * The servers are kept in a fixed table so that an atexit handler can stop
 * what a failing test (cmocka longjmps out of its body) left running.
 */
#include "barrel/build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "barrel/mem.h"
#include "harness.h"
#include "rserver.h"
#include "spawn.h"

#define RS_PG_BIN "/usr/lib/postgresql/15/bin"
#define RS_MAX    16

static struct h_rserver g_started[RS_MAX];

void
h_rserver_stop(struct h_rserver *rs)
{
    struct h_result r;

    if (rs == NULL || rs->datadir == NULL)
        return;
    if (rs->os_user != NULL)
        r = h_sh("runuser -u %s -- " RS_PG_BIN "/pg_ctl -D '%s' -m immediate -w stop >/dev/null 2>&1", rs->os_user,
                 rs->datadir);
    else
        r = h_sh(RS_PG_BIN "/pg_ctl -D '%s' -m immediate -w stop >/dev/null 2>&1", rs->datadir);
    h_result_free(&r);
    free(rs->datadir);
    free(rs->sockdir);
    free(rs->log);
    memset(rs, 0, sizeof(*rs));
}

void
h_rserver_stop_all(void)
{
    for (int i = 0; i < RS_MAX; i++)
        h_rserver_stop(&g_started[i]);
}

struct h_rserver *
h_rserver_start(const char *datadir, const char *os_user, const char *extra_paths)
{
    static int atexit_done;
    struct h_rserver *rs = NULL;
    struct h_result r;

    if (!atexit_done) {
        atexit(h_rserver_stop_all);
        atexit_done = 1;
    }
    for (int i = 0; i < RS_MAX && rs == NULL; i++)
        if (g_started[i].datadir == NULL)
            rs = &g_started[i];
    assert_non_null(rs);
    rs->datadir = br_strdup(datadir);
    rs->sockdir = br_asprintf("%s.sock", datadir);
    rs->log = br_asprintf("%s.sock/postgresql.log", datadir);
    rs->os_user = os_user;
    rs->port = h_free_port();
    if (os_user != NULL)
        r = h_sh("mkdir -p '%s' && chown -R %s '%s' '%s' %s", rs->sockdir, os_user, datadir, rs->sockdir,
                 extra_paths ? extra_paths : "");
    else
        r = h_sh("mkdir -p '%s'", rs->sockdir);
    h_result_free(&r);
    r = h_sh("%s%s%s " RS_PG_BIN "/pg_ctl -D '%s' -l '%s' -w -t 120 "
             "-o \"-p %d -k '%s' -c listen_addresses=127.0.0.1 -c archive_mode=off\" start",
             os_user ? "runuser -u " : "", os_user ? os_user : "", os_user ? " --" : "", datadir, rs->log, rs->port,
             rs->sockdir);
    if (r.status != 0) {
        char *log = h_read_file(rs->log);

        print_message("pg_ctl start failed (%d): %s%s\n--- log ---\n%s\n", r.status, r.out, r.err,
                      log ? log : "(none)");
        free(log);
        h_result_free(&r);
        h_rserver_stop(rs);
        return NULL;
    }
    h_result_free(&r);
    return rs;
}

char *
h_rserver_sql(const struct h_rserver *rs, const char *db, const char *query)
{
    char port[16];
    const char *argv[] = {RS_PG_BIN "/psql", "-X", "-q", "-A", "-t", "-h", rs->sockdir, "-p", port,
                          "-U", "postgres", "-d", db, "-c", query, NULL};
    struct h_result r;
    char *out = NULL;

    snprintf(port, sizeof(port), "%d", rs->port);
    r = h_run(argv, NULL, NULL);
    if (r.status == 0) {
        size_t len = strlen(r.out);

        while (len > 0 && (r.out[len - 1] == '\n' || r.out[len - 1] == ' '))
            r.out[--len] = '\0';
        out = r.out;
        r.out = NULL;
    } else {
        print_message("psql on port %d failed: %s", rs->port, r.err);
    }
    h_result_free(&r);
    return out;
}

int
h_rserver_wait_for(const struct h_rserver *rs, const char *query, const char *want, int tries)
{
    for (int i = 0; i < tries; i++) {
        char *out = h_rserver_sql(rs, "postgres", query);
        int done = out != NULL && strcmp(out, want) == 0;

        free(out);
        if (done)
            return 0;
        h_sleep_ms(100);
    }
    return -1;
}
