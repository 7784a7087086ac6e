/*
 * test_receive_wal_sync.c: receive-wal as a synchronous standby. When
 * synchronous_standby_names lists streaming_archiver_name, every commit on
 * the primary waits until barrel says the WAL is flushed: barrel must then
 * flush and confirm each burst at once (pg_receivewal --synchronous, which
 * Barman passes in that case), not at its 10-second status interval.
 *
 * The proof: pg_stat_replication shows the receiver as 'sync', and ten
 * commits in a row each return within COMMIT_LIMIT_S seconds (with the
 * status interval alone each would wait up to 10 s: 10 commits could not
 * finish inside the limit), and after each the receiver's flush_lsn is
 * past where the WAL was before the commit's INSERT.
 */
#include "barrel/build.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sys/stat.h>

#include "barrel/mem.h"
#include "catalog_setup.h"
#include "harness.h"
#include "spawn.h"

#define COMMIT_LIMIT_S 8

struct fixture {
    struct h_pg *pg;
    char *tmp, *home, *conf, *log;
};

static int
setup(void **state)
{
    struct fixture *fx = br_calloc(1, sizeof(*fx));
    char *server;

    *state = fx;
    if (!h_pg_available())
        return 0;
    fx->tmp = h_mkdtemp();
    fx->home = br_asprintf("%s/home", fx->tmp);
    fx->conf = br_asprintf("%s/barrel.conf", fx->tmp);
    fx->log = br_asprintf("%s/receive-wal.log", fx->tmp);
    mkdir(fx->home, 0700);
    /* listed in the FIRST form, upper case: PostgreSQL matches names case-insensitively */
    fx->pg = h_pg_start(NULL);
    if (fx->pg == NULL)
        return -1;
    /* after the harness's own setup commits, which would otherwise wait for a standby not there yet */
    free(h_pg_sql(fx->pg, "postgres",
                  "ALTER SYSTEM SET synchronous_standby_names = 'FIRST 1 (nobody_else, \"BARMAN_RECEIVE_WAL\")'"));
    free(h_pg_sql(fx->pg, "postgres", "ALTER SYSTEM SET synchronous_commit = on"));   /* the harness turns it off */
    free(h_pg_sql(fx->pg, "postgres", "SELECT pg_reload_conf()"));
    server = h_conf_server(fx->pg, "pg", "archiver = off\nstreaming_archiver = on\nslot_name = barrel_sync\n"
                                         "create_slot = auto\n");
    h_write_conf(fx->conf, fx->home, NULL, NULL, server);
    free(server);
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *fx = *state;

    h_spawn_kill_all();
    h_pg_destroy(fx->pg);
    if (fx->tmp != NULL)
        h_rmtree(fx->tmp);
    free(fx->tmp);
    free(fx->home);
    free(fx->conf);
    free(fx->log);
    free(fx);
    return 0;
}

/* The receiver's row in pg_stat_replication, polled until it is streaming; its sync_state. */
static char *
wait_streaming(struct fixture *fx)
{
    for (int i = 0; i < 300; i++) {
        char *state = h_pg_sql(fx->pg, "postgres",
                               "SELECT sync_state FROM pg_stat_replication "
                               "WHERE application_name = 'barman_receive_wal' AND state = 'streaming'");

        if (state != NULL && state[0] != '\0')
            return state;
        free(state);
        h_sleep_ms(100);
    }
    fail_msg("receive-wal never appeared in pg_stat_replication: %s", h_read_file(fx->log));
    return NULL;
}

static void
test_receive_wal_synchronous_standby(void **state)
{
    struct fixture *fx = *state;
    pid_t pid;
    char *sync_state;

    if (fx->pg == NULL)
        skip();
    pid = h_spawn_sh(fx->log, "'%s' -c '%s' receive-wal pg", h_barrel_bin(), fx->conf);
    assert_true(pid > 0);
    sync_state = wait_streaming(fx);
    assert_string_equal(sync_state, "sync");
    free(sync_state);

    free(h_pg_sql(fx->pg, "postgres", "CREATE TABLE sync_t (id int)"));
    for (int i = 0; i < 10; i++) {
        /* synchronous_commit = on (the default): the commit returns once barrel confirmed the flush */
        char *conninfo = h_pg_conninfo(fx->pg);
        struct h_result r = h_sh("timeout %d '%s/psql' -X -q -At -d '%s' "
                                 "-c 'SELECT pg_current_wal_lsn()' -c 'INSERT INTO sync_t VALUES (%d)'",
                                 COMMIT_LIMIT_S, fx->pg->bindir, conninfo, i);
        char *ok;

        free(conninfo);

        if (r.status != 0)
            fail_msg("commit %d did not return within %d s (status %d): %s; receive-wal log: %s", i,
                     COMMIT_LIMIT_S, r.status, r.err, h_read_file(fx->log));
        r.out[strcspn(r.out, "\n")] = '\0';
        {
            /* the commit record lies past where WAL was before the INSERT */
            char *sql = br_asprintf("SELECT flush_lsn > '%s'::pg_lsn FROM pg_stat_replication "
                                    "WHERE application_name = 'barman_receive_wal'", r.out);
            ok = h_pg_sql(fx->pg, "postgres", sql);
            free(sql);
        }
        assert_non_null(ok);
        if (strcmp(ok, "t") != 0)
            fail_msg("after commit %d at %s the receiver's flush_lsn is behind", i, r.out);
        free(ok);
        h_result_free(&r);
    }
    /* the receiver ran without an error all along */
    {
        char *log = h_read_file(fx->log);

        assert_non_null(log);
        assert_null(strstr(log, "ERROR"));
        free(log);
    }
    assert_true(h_spawn_running(pid));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_receive_wal_synchronous_standby),
    };

    return cmocka_run_group_tests_name("receive_wal_sync", tests, setup, teardown);
}
