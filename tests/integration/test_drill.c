/*
 * test_drill.c: `barrel drill` against a real PostgreSQL 15 backup.
 *
 * A cluster archiving into incoming/ with a table, a B-tree index and a
 * sentinel row is backed up by barrel. The drill of that backup passes,
 * checks the index with amcheck, records its duration, removes its scratch
 * copy, and report and metrics show it. Copies of the catalog (servers
 * "pgdmg" and "pgnowal") with a truncated archive, and with the backup's
 * WAL deleted (restore refuses), and zeroed (restore copies it, PostgreSQL
 * cannot reach consistency), fail the drill with the cause, leave nothing
 * behind (no scratch copy, no server), and report and metrics show the failure.
 */
#include "barrel/build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "barrel/mem.h"
#include "catalog_setup.h"
#include "harness.h"
#include "promcheck.h"

struct fixture {
    struct h_pg *pg;
    char *tmp, *conf, *home, *scratch, *backup_id, *begin_wal;
};

static struct h_result
barrel(const struct fixture *fx, const char *a1, const char *a2, const char *a3, const char *a4, const char *a5)
{
    const char *args[] = {a1, a2, a3, a4, a5};

    return h_barrel_args(fx->conf, args, BR_ARRAY_LEN(args));
}

static int
group_setup(void **state)
{
    struct fixture *fx = br_calloc(1, sizeof(*fx));
    char *conninfo, *pg, *text, *incoming;
    struct h_result r;

    *state = fx;
    if (!h_pg_available())
        return 0;
    h_fixture_dirs(&fx->tmp, &fx->home, &fx->conf, "barrel.conf");
    fx->scratch = br_asprintf("%s/scratch", fx->tmp);
    incoming = h_incoming_dir(fx->home, "pg");
    r = h_sh("mkdir -p '%s' && chmod 0755 '%s'", fx->scratch, fx->scratch);
    h_result_free(&r);
    fx->pg = h_pg_start_archiving(incoming, NULL);
    free(incoming);
    if (fx->pg == NULL)
        return 0;
    conninfo = h_pg_conninfo(fx->pg);
    pg = h_conf_server(fx->pg, "pg", "compression = gzip\nimmediate_checkpoint = true\n");
    text = br_asprintf("%s\n"
                       "[pgdmg]\nconninfo = %s\nbackup_method = postgres\narchiver = on\nbackup_directory = %s/dmg\n\n"
                       "[pgnowal]\nconninfo = %s\nbackup_method = postgres\narchiver = on\n"
                       "backup_directory = %s/nowal\n",
                       pg, conninfo, fx->tmp, conninfo, fx->tmp);
    h_write_conf(fx->conf, fx->home, NULL, "log_level = INFO\n", text);
    free(text);
    free(pg);
    free(conninfo);

    free(h_pg_sql(fx->pg, "postgres",
                  "CREATE TABLE drill_t (id int PRIMARY KEY, v text); "
                  "INSERT INTO drill_t SELECT g, md5(g::text) FROM generate_series(1, 20000) g; "
                  "CREATE INDEX drill_t_v ON drill_t (v)"));
    r = barrel(fx, "backup", "--wait", "pg", NULL, NULL);
    if (r.status != 0)
        fprintf(stderr, "backup failed: %s%s", r.out, r.err);
    h_result_free(&r);
    r = h_sh("ls '%s/pg/base' | head -1", fx->home);
    fx->backup_id = br_strndup(r.out, 15);
    h_result_free(&r);
    r = h_sh("sed -n 's/^begin_wal=//p' '%s/pg/base/%s/backup.info'", fx->home, fx->backup_id);
    fx->begin_wal = br_strndup(r.out, 24);
    h_result_free(&r);
    return 0;
}

static int
group_teardown(void **state)
{
    struct fixture *fx = *state;

    h_fixture_drop(fx->pg, fx->tmp, fx->home, fx->conf);
    free(fx->scratch);
    free(fx->backup_id);
    free(fx->begin_wal);
    free(fx);
    return 0;
}

static struct fixture *
need_pg(void **state)
{
    struct fixture *fx = *state;

    h_skip_without_pg();
    assert_non_null(fx->pg);
    assert_int_equal(strlen(fx->backup_id), 15);
    assert_int_equal(strlen(fx->begin_wal), 24);
    return fx;
}

static void
assert_scratch_empty(const struct fixture *fx)
{
    struct h_result r = h_sh("ls -A '%s'", fx->scratch);
    if (r.out[0] != '\0')
        fail_msg("the drill left %s in its scratch directory", r.out);
    h_result_free(&r);
}

static char *
metrics(const struct fixture *fx, const char *server)
{
    struct h_result r = barrel(fx, "metrics", "--offline", server, NULL, NULL);
    char why[512], *out;

    assert_int_equal(r.status, 0);
    if (h_prom_check(r.out, why, sizeof(why)) != 0)
        fail_msg("metrics: %s\n%s", why, r.out);
    out = br_strdup(r.out);
    h_result_free(&r);
    return out;
}

static void
test_drill_good_backup(void **state)
{
    struct fixture *fx = need_pg(state);
    struct h_result r = barrel(fx, "drill", "pg", fx->backup_id, "--scratch-dir", fx->scratch);
    char *want, *rec, *text, *m;

    if (r.status != 0)
        fail_msg("drill failed: %s%s", r.out, r.err);
    assert_string_equal(r.err, "");
    want = br_asprintf("Starting the restore drill of backup %s of server pg\n"
                       "Restore drill of backup %s of server pg: OK in ",
                       fx->backup_id, fx->backup_id);
    if (strncmp(r.out, want, strlen(want)) != 0)
        fail_msg("unexpected output:\n%s", r.out);
    free(want);
    /* the primary key and the extra index at least, in postgres (and the catalogs' own) */
    assert_non_null(strstr(r.out, " databases, "));
    assert_non_null(strstr(r.out, " B-tree indexes checked)\n"));
    h_result_free(&r);
    assert_scratch_empty(fx);

    /* the verdict and the measured time, in barrel's own file */
    rec = br_asprintf("%s/pg/barrel/drill/%s.json", fx->home, fx->backup_id);
    text = h_read_file(rec);
    assert_non_null(text);
    assert_non_null(strstr(text, "\"result\": \"OK\""));
    assert_non_null(strstr(text, "\"amcheck\": true"));
    {
        const char *s = strstr(text, "\"seconds\": ");
        assert_non_null(s);
        assert_true(strtod(s + 11, NULL) > 0);
        const char *ix = strstr(text, "\"indexes_checked\": ");
        assert_non_null(ix);
        assert_true(atol(ix + 19) >= 2);
    }
    free(text);
    free(rec);

    /* report and metrics show it */
    r = barrel(fx, "report", "--offline", "pg", NULL, NULL);
    want = br_asprintf("\t\t%s  DONE              -                never verified, drill ", fx->backup_id);
    if (strstr(r.out, want) == NULL || strstr(r.out, " OK (") == NULL)
        fail_msg("report:\n%s", r.out);
    free(want);
    h_result_free(&r);
    m = metrics(fx, "pg");
    want = br_asprintf("barrel_drill_last_success{server=\"pg\",backup_id=\"%s\"} 1\n", fx->backup_id);
    assert_non_null(strstr(m, want));
    free(want);
    want = br_asprintf("barrel_drill_last_duration_seconds{server=\"pg\",backup_id=\"%s\"} ", fx->backup_id);
    assert_non_null(strstr(m, want));
    free(want);
    assert_non_null(strstr(m, "barrel_drill_last_success_timestamp_seconds{server=\"pg\"} "));
    free(m);

    /* the production server was not touched: still up, same data */
    char *count = h_pg_sql(fx->pg, "postgres", "SELECT count(*) FROM drill_t");
    assert_string_equal(count, "20000");
    free(count);
}

/* A copy of pg's catalog as server `server`, damaged by `command` (run in the copy). */
static void
failing_drill(struct fixture *fx, const char *server, const char *dir, const char *command, const char *expect)
{
    struct h_result r;
    char *want, *m, *rec, *text;

    h_ok("copy", h_sh("rm -rf '%s/%s' && cp -a '%s/pg' '%s/%s' && rm -rf '%s/%s/barrel'", fx->tmp, dir, fx->home,
                    fx->tmp, dir, fx->tmp, dir));
    h_ok("damage", h_sh("cd '%s/%s' && %s", fx->tmp, dir, command));
    r = barrel(fx, "drill", server, "--scratch-dir", fx->scratch, NULL);
    want = br_asprintf("ERROR: restore drill of backup %s of server %s failed: %s", fx->backup_id, server, expect);
    if (r.status != 1 || strncmp(r.err, want, strlen(want)) != 0)
        fail_msg("%s: status %d, stderr:\n%s\nexpected to start with:\n%s", server, r.status, r.err, want);
    print_message("%s: %s", server, r.err);
    free(want);
    h_result_free(&r);
    assert_scratch_empty(fx);

    rec = br_asprintf("%s/%s/barrel/drill/%s.json", fx->tmp, dir, fx->backup_id);
    text = h_read_file(rec);
    assert_non_null(text);
    assert_non_null(strstr(text, "\"result\": \"FAILED\""));
    free(text);
    free(rec);

    r = barrel(fx, "report", "--offline", server, NULL, NULL);
    want = br_asprintf("\t\tbackup %s failed its last restore drill: %s", fx->backup_id, expect);
    if (strstr(r.out, want) == NULL)
        fail_msg("report of %s:\n%s", server, r.out);
    free(want);
    h_result_free(&r);
    m = metrics(fx, server);
    want = br_asprintf("barrel_drill_last_success{server=\"%s\",backup_id=\"%s\"} 0\n", server, fx->backup_id);
    assert_non_null(strstr(m, want));
    free(want);
    want = br_asprintf("barrel_failures{server=\"%s\"} 1\n", server);
    assert_non_null(strstr(m, want));
    free(want);
    assert_null(strstr(m, "barrel_drill_last_success_timestamp_seconds{"));
    free(m);
}

static void
test_drill_damaged_archive(void **state)
{
    struct fixture *fx = need_pg(state);
    char *cmd = br_asprintf("head -c 100000 base/%s/data/base.tar.zst > t && mv t base/%s/data/base.tar.zst",
                            fx->backup_id, fx->backup_id);

    failing_drill(fx, "pgdmg", "dmg", cmd, "restore failed: ");
    free(cmd);
}

static void
test_drill_missing_wal(void **state)
{
    struct fixture *fx = need_pg(state);
    char *cmd = br_asprintf("rm wals/%.16s/%s", fx->begin_wal, fx->begin_wal);

    failing_drill(fx, "pgnowal", "nowal", cmd, "");
    free(cmd);
}

/* A segment whose content is gone (zeros, still a valid gzip): restore copies it, PostgreSQL cannot recover. */
static void
test_drill_zeroed_wal_server_fails(void **state)
{
    struct fixture *fx = need_pg(state);
    char *cmd = br_asprintf("head -c 16777216 /dev/zero | gzip > wals/%.16s/%s", fx->begin_wal, fx->begin_wal);

    failing_drill(fx, "pgnowal", "nowal", cmd, "PostgreSQL ");
    free(cmd);
}

static void
test_drill_usage(void **state)
{
    struct fixture *fx = need_pg(state);
    struct h_result r = barrel(fx, "drill", "pg", "20000101T000000", NULL, NULL);

    assert_string_equal(r.err, "ERROR: Unknown backup '20000101T000000' for server 'pg'\n");
    assert_int_equal(r.status, 1);
    h_result_free(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_drill_good_backup),
        cmocka_unit_test(test_drill_damaged_archive),
        cmocka_unit_test(test_drill_missing_wal),
        cmocka_unit_test(test_drill_zeroed_wal_server_fails),
        cmocka_unit_test(test_drill_usage),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
