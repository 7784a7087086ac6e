/*
 * test_check.c: `barrel check` against a real PostgreSQL 15 cluster.
 *
 * One cluster for the whole group (started in the group setup, removed in
 * its teardown and, should a test crash, by the harness's exit handlers).
 * The tests run in order: a fresh server with no slot, the slot states,
 * the Nagios and JSON writers, then the server stopped (Barman's
 * check-pg-down.txt). barman_user is the current user, so barrel does not
 * switch users.
 */
#include "barrel/build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "barrel/mem.h"
#include "catalog_setup.h"
#include "harness.h"

struct fixture {
    struct h_pg *pg;
    char *tmp;
    char *conf;
    char *home;
};

static int
group_setup(void **state)
{
    struct fixture *fx = br_calloc(1, sizeof(*fx));
    char *conninfo, *repl, *text;

    *state = fx;
    if (!h_pg_available())
        return 0;
    fx->pg = h_pg_start(NULL);
    if (fx->pg == NULL)
        return 0;   /* each test asserts on it */
    h_fixture_dirs(&fx->tmp, &fx->home, &fx->conf, "barrel.conf");
    conninfo = h_pg_conninfo(fx->pg);
    repl = h_pg_repl_conninfo(fx->pg);
    text = br_asprintf("[pg]\n"
                       "description = integration test server\n"
                       "conninfo = %s\n"
                       "streaming_conninfo = %s\n"
                       "backup_method = postgres\n"
                       "streaming_archiver = on\n"
                       "slot_name = barrel\n",
                       conninfo, repl);
    h_write_conf(fx->conf, fx->home, NULL, "log_level = INFO\n", text);
    free(text);
    free(repl);
    free(conninfo);
    return 0;
}

static int
group_teardown(void **state)
{
    struct fixture *fx = *state;

    h_fixture_drop(fx->pg, fx->tmp, fx->home, fx->conf);
    free(fx);
    return 0;
}

/* Skip without PostgreSQL; fail if it is installed but did not start. */
static struct fixture *
need_pg(void **state)
{
    struct fixture *fx = *state;

    h_skip_without_pg();
    assert_non_null(fx->pg);
    return fx;
}

/* barrel -c CONF check [OPT] pg */
static struct h_result
run_check(const struct fixture *fx, const char *opt)
{
    const char *args[] = {"check", opt, "pg"};

    return h_barrel_args(fx->conf, args, BR_ARRAY_LEN(args));
}

/* 1 if `text` has `line` as a whole line. */
static int
has_line(const char *text, const char *line)
{
    size_t len = strlen(line);

    for (const char *p = text; p != NULL && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, line, len) == 0 && (p[len] == '\n' || p[len] == '\0'))
            return 1;
    }
    return 0;
}

static void
assert_line(const struct h_result *r, const char *line)
{
    if (!has_line(r->out, line))
        fail_msg("missing line \"%s\" in output:\n%s\nstderr:\n%s", line, r->out, r->err);
}

static void
assert_no_line_prefix(const struct h_result *r, const char *prefix)
{
    if (strstr(r->out, prefix) != NULL)
        fail_msg("unexpected \"%s\" in output:\n%s", prefix, r->out);
}

static int
is_dir(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void
test_check_fresh_server(void **state)
{
    struct fixture *fx = need_pg(state);
    struct h_result r = run_check(fx, NULL);
    static const char *const dirs[] = { "pg", "pg/base", "pg/wals", "pg/incoming", "pg/streaming", "pg/errors" };

    assert_true(strncmp(r.out, "Server pg:\n", 11) == 0);
    assert_line(&r, "\tWAL archive: FAILED (please make sure WAL shipping is setup)");
    assert_line(&r, "\tPostgreSQL: OK");
    assert_line(&r, "\tsuperuser or standard user with backup privileges: OK");
    assert_line(&r, "\tPostgreSQL streaming: OK");
    assert_line(&r, "\twal_level: OK");
    assert_line(&r, "\treplication slot: FAILED (replication slot 'barrel' doesn't exist. "
                    "Please execute 'barrel receive-wal --create-slot pg')");
    assert_line(&r, "\tdirectories: OK");
    /* barrel only: no backup yet, so only the free space is shown */
    if (strstr(r.out, "\tdisk space: OK (") == NULL || strstr(r.out, " free)\n") == NULL)
        fail_msg("missing disk space line in:\n%s", r.out);
    assert_line(&r, "\tretention policy settings: OK");
    assert_line(&r, "\tbackup maximum age: OK (no last_backup_maximum_age provided)");
    assert_line(&r, "\tbackup minimum size: OK (0 B)");
    assert_line(&r, "\twal maximum age: OK (no last_wal_maximum_age provided)");
    assert_line(&r, "\twal size: OK (0 B)");
    /* no backup_compression and no recovery_staging_path: the one-line caveat for Barman 3.4 */
    assert_line(&r, "\tcompression settings: OK (backup_compression unset: barrel writes zstd tar backups, "
                    "which Barman 3.4 recovers only with recovery_staging_path)");
    assert_line(&r, "\tfailed backups: OK (there are 0 failed backups)");
    assert_line(&r, "\tminimum redundancy requirements: OK (have 0 backups, expected at least 0)");
    assert_line(&r, "\tsystemid coherence: OK (no system Id stored on disk)");
    assert_line(&r, "\treceive-wal running: FAILED (See the Barman log file for more details)");
    assert_line(&r, "\tarchiver errors: OK");
    /* barrel runs neither pg_basebackup nor pg_receivewal */
    assert_no_line_prefix(&r, "pg_basebackup");
    assert_no_line_prefix(&r, "pg_receivexlog");
    assert_int_equal(r.status, 1);
    for (size_t i = 0; i < BR_ARRAY_LEN(dirs); i++) {
        char *p = br_asprintf("%s/%s", fx->home, dirs[i]);
        if (!is_dir(p))
            fail_msg("directory \"%s\" was not created", p);
        free(p);
    }
    h_result_free(&r);
}

static void
test_check_slot_states(void **state)
{
    struct fixture *fx = need_pg(state);
    struct h_result r;
    char *out;

    /* created but never used: no restart_lsn */
    out = h_pg_sql(fx->pg, "postgres", "SELECT slot_name FROM pg_create_physical_replication_slot('barrel')");
    assert_non_null(out);
    free(out);
    r = run_check(fx, NULL);
    assert_line(&r, "\treplication slot: FAILED (slot 'barrel' not initialised: is 'receive-wal' running?)");
    assert_int_equal(r.status, 1);
    h_result_free(&r);

    /* reserved WAL but nobody streaming */
    out = h_pg_sql(fx->pg, "postgres",
                   "SELECT pg_drop_replication_slot('barrel'); "
                   "SELECT slot_name FROM pg_create_physical_replication_slot('barrel', true)");
    assert_non_null(out);
    free(out);
    r = run_check(fx, NULL);
    assert_line(&r, "\treplication slot: FAILED (slot 'barrel' not active: is 'receive-wal' running?)");
    h_result_free(&r);
}

static void
test_check_nagios(void **state)
{
    struct fixture *fx = need_pg(state);
    struct h_result r = run_check(fx, "--nagios");
    const char *first = "BARMAN CRITICAL - server pg has issues * pg FAILED: WAL archive, replication slot, "
                        "receive-wal running|pg=0B pg_wals=0B\n";

    if (strncmp(r.out, first, strlen(first)) != 0)
        fail_msg("nagios output:\n%s\nexpected first line:\n%s", r.out, first);
    assert_line(&r, "pg.WAL archive: FAILED (please make sure WAL shipping is setup)");
    assert_line(&r, "pg.replication slot: FAILED (slot 'barrel' not active: is 'receive-wal' running?)");
    assert_line(&r, "pg.receive-wal running: FAILED (See the Barman log file for more details)");
    assert_int_equal(r.status, 2);
    assert_string_equal(r.err, "");
    h_result_free(&r);
}

static void
test_check_json(void **state)
{
    struct fixture *fx = need_pg(state);
    const char *argv[] = { h_barrel_bin(), "-c", fx->conf, "-f", "json", "check", "pg", NULL };
    struct h_result r = h_run(argv, NULL, NULL);

    assert_true(strncmp(r.out, "{\"pg\": {", 8) == 0);
    assert_non_null(strstr(r.out, "\"postgresql\": {\"hint\": \"\", \"status\": \"OK\"}"));
    assert_non_null(strstr(r.out, "\"wal_level\": {\"hint\": \"\", \"status\": \"OK\"}"));
    assert_non_null(strstr(r.out, "\"directories\": {\"hint\": \"\", \"status\": \"OK\"}"));
    assert_non_null(strstr(r.out, "\"superuser_or_standard_user_with_backup_privileges\": {\"hint\": \"\", "
                                  "\"status\": \"OK\"}"));
    assert_non_null(strstr(r.out, "\"wal_archive\": {\"hint\": \"please make sure WAL shipping is setup\", "
                                  "\"status\": \"FAILED\"}"));
    assert_non_null(strstr(r.out, "\"replication_slot\": {\"hint\": \"slot 'barrel' not active: is "
                                  "'receive-wal' running?\", \"status\": \"FAILED\"}"));
    assert_non_null(strstr(r.out, "\"receive_wal_running\": {"));
    assert_non_null(strstr(r.out, "\"systemid_coherence\": {\"hint\": \"no system Id stored on disk\""));
    assert_null(strstr(r.out, "Server pg:"));
    assert_int_equal(r.out[strlen(r.out) - 1], '}');   /* no trailing newline, like Barman */
    assert_int_equal(r.status, 1);
    h_result_free(&r);
}

static void
test_check_pg_down(void **state)
{
    struct fixture *fx = need_pg(state);
    struct h_result r;

    assert_int_equal(h_pg_stop(fx->pg), 0);
    r = run_check(fx, NULL);
    assert_line(&r, "\tPostgreSQL: FAILED");
    assert_line(&r, "\tdirectories: OK");
    assert_line(&r, "\tsystemid coherence: OK (no system Id available)");
    /* nothing that needs a connection is printed after "PostgreSQL: FAILED" */
    assert_no_line_prefix(&r, "\twal_level");
    assert_no_line_prefix(&r, "\tPostgreSQL streaming");
    assert_no_line_prefix(&r, "\treplication slot");
    assert_no_line_prefix(&r, "\tsuperuser");
    assert_true(r.status != 0);
    h_result_free(&r);

    r = run_check(fx, "--nagios");
    assert_true(strncmp(r.out, "BARMAN CRITICAL - server pg has issues * pg FAILED: WAL archive, PostgreSQL, ", 77)
                == 0);
    assert_line(&r, "pg.PostgreSQL: FAILED");
    assert_int_equal(r.status, 2);
    h_result_free(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_fresh_server),
        cmocka_unit_test(test_check_slot_states),
        cmocka_unit_test(test_check_nagios),
        cmocka_unit_test(test_check_json),
        cmocka_unit_test(test_check_pg_down),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
