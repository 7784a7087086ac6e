/*
 * test_report.c: report and metrics on real catalogs.
 *
 * - "pg": a PostgreSQL 15 cluster archiving into incoming/, one barrel
 *   backup, WAL through archive-wal, verify-backup and verify-wal run: the
 *   text page, the JSON (validated against contrib/report.schema.json), the
 *   metrics file (strict format check, promtool where installed) and
 *   `cron` refreshing metrics_file;
 * - "pgz": a copy of Barman 3.4's fixture tar backup (no live server,
 *   --offline): the page of a Barman catalog, then its failures once the
 *   backup's archive is damaged and verify-backup fails, and a file in
 *   errors/.
 */
#include "barrel/build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "barrel/mem.h"
#include "catalog_setup.h"
#include "harness.h"
#include "promcheck.h"

#define FX_ID "20261122T133022"

struct fixture {
    struct h_pg *pg;
    char *tmp, *conf, *home, *prom, *backup_id;
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
    char *pg, *text, *incoming;
    struct h_result r;

    *state = fx;
    h_fixture_dirs(&fx->tmp, &fx->home, &fx->conf, "barrel.conf");
    fx->prom = br_asprintf("%s/textfile/barrel.prom", fx->tmp);
    incoming = h_incoming_dir(fx->home, "pg");
    r = h_sh("mkdir -p '%s/textfile' && cp -a '%s/backup-tar-complete/pgz' '%s/pgz'", fx->tmp, h_fixtures_dir(),
             fx->home);
    h_result_free(&r);
    if (h_pg_available())
        fx->pg = h_pg_start_archiving(incoming, NULL);
    /* without a server, [pg] still parses: the pgz tests run */
    text = br_asprintf("compression = gzip\nimmediate_checkpoint = true\nretention_policy = REDUNDANCY 2\n"
                       "metrics_file = %s\n\n"
                       "[pgz]\nconninfo = host=127.0.0.1 port=1 connect_timeout=2\nbackup_method = postgres\n"
                       "archiver = on\ncompression = gzip\nbackup_compression = gzip\n",
                       fx->prom);
    pg = h_conf_server(fx->pg, "pg", text);
    h_write_conf(fx->conf, fx->home, NULL, "log_level = INFO\n", pg);
    free(pg);
    free(text);
    free(incoming);
    if (fx->pg == NULL)
        return 0;

    /* a backup, some WAL after it, its verification and the archive's */
    free(h_pg_sql(fx->pg, "postgres", "CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 50000) g"));
    r = barrel(fx, "backup", "pg", NULL, NULL, NULL);
    if (r.status != 0)
        fprintf(stderr, "backup failed: %s%s", r.out, r.err);
    h_result_free(&r);
    {
        long target = h_pg_sql_long(fx->pg, "SELECT archived_count FROM pg_stat_archiver") + 2;
        for (int i = 0; i < 2; i++)
            free(h_pg_sql(fx->pg, "postgres", "INSERT INTO t SELECT g, 'x' FROM generate_series(1, 1000) g; "
                                              "SELECT pg_switch_wal()"));
        h_pg_wait_archived_count(fx->pg, target);
    }
    r = barrel(fx, "archive-wal", "pg", NULL, NULL, NULL);
    h_result_free(&r);
    r = h_sh("ls '%s/pg/base' | head -1", fx->home);
    fx->backup_id = br_strndup(r.out, 15);
    h_result_free(&r);
    r = barrel(fx, "verify-backup", "pg", fx->backup_id, NULL, NULL);
    if (r.status != 0)
        fprintf(stderr, "verify-backup failed: %s%s", r.out, r.err);
    h_result_free(&r);
    r = barrel(fx, "verify-wal", "pg", NULL, NULL, NULL);
    if (r.status != 0)
        fprintf(stderr, "verify-wal failed: %s%s", r.out, r.err);
    h_result_free(&r);
    return 0;
}

static int
group_teardown(void **state)
{
    struct fixture *fx = *state;

    h_fixture_drop(fx->pg, fx->tmp, fx->home, fx->conf);
    free(fx->prom);
    free(fx->backup_id);
    free(fx);
    return 0;
}

static struct fixture *
need_pg(void **state)
{
    struct fixture *fx = *state;

    h_skip_without_pg();
    assert_non_null(fx->pg);
    assert_non_null(fx->backup_id);
    return fx;
}

static void
check_schema(const char *json_text)
{
    char *dir = h_mkdtemp(), *path = br_asprintf("%s/r.json", dir);
    struct h_result r;

    h_write_file(path, json_text);
    r = h_sh("python3 -c 'import json, sys, jsonschema; "
             "jsonschema.validate(json.load(open(sys.argv[1])), json.load(open(\"contrib/report.schema.json\")))' "
             "'%s' 2>&1",
             path);
    if (r.status != 0)
        fail_msg("report JSON does not validate against contrib/report.schema.json:\n%s\n%s", r.out, json_text);
    h_result_free(&r);
    h_rmtree(dir);
    free(path);
    free(dir);
}

static void
check_metrics(const char *text)
{
    char why[512], *dir = h_mkdtemp(), *path = br_asprintf("%s/m.prom", dir);
    struct h_result r;

    if (h_prom_check(text, why, sizeof(why)) != 0)
        fail_msg("metrics: %s\n%s", why, text);
    h_write_file(path, text);
    r = h_sh("command -v promtool >/dev/null || exit 77; promtool check metrics < '%s' 2>&1", path);
    if (r.status == 77)
        print_message("promtool not installed (Debian package prometheus): only the strict built-in check ran\n");
    else if (r.status != 0)
        fail_msg("promtool check metrics:\n%s", r.out);
    h_result_free(&r);
    h_rmtree(dir);
    free(path);
    free(dir);
}

static void
test_report_live_text(void **state)
{
    struct fixture *fx = need_pg(state);
    struct h_result r = barrel(fx, "report", "pg", NULL, NULL, NULL);
    char *want;

    assert_int_equal(r.status, 0);
    assert_string_equal(r.err, "");
    want = br_asprintf("Server pg:\n\tLast backup: %s (ended ", fx->backup_id);
    if (strncmp(r.out, want, strlen(want)) != 0)
        fail_msg("unexpected page:\n%s", r.out);
    free(want);
    assert_non_null(strstr(r.out, " of data (ratio "));
    assert_non_null(strstr(r.out, "\tBackups: 1 DONE, 0 FAILED, 0 WAITING_FOR_WALS, 0 in progress\n"));
    assert_non_null(strstr(r.out, "\t\tLag: "));
    assert_non_null(strstr(r.out, " behind the server (current WAL "));
    assert_non_null(strstr(r.out, "\t\tLast verify-wal: "));
    assert_non_null(strstr(r.out, "\tRetention: 1 VALID\n"));
    want = br_asprintf("\t\t%s  DONE              VALID            verified ", fx->backup_id);
    assert_non_null(strstr(r.out, want));
    free(want);
    assert_non_null(strstr(r.out, " OK\n\tFree space: "));
    assert_non_null(strstr(r.out, " days left at "));
    if (strstr(r.out, "\tFailures: none\n") == NULL)
        fail_msg("failures on a healthy server:\n%s", r.out);
    h_result_free(&r);
}

static void
test_report_live_json(void **state)
{
    struct fixture *fx = need_pg(state);
    struct h_result r = barrel(fx, "report", "pg", "-f", "json", NULL);
    char *want;

    assert_int_equal(r.status, 0);
    check_schema(r.out);
    assert_non_null(strstr(r.out, "\"server_reachable\": true"));
    assert_non_null(strstr(r.out, "\"status\": \"OK\""));
    assert_non_null(strstr(r.out, "\"failures\": []"));
    assert_null(strstr(r.out, "\"lag_bytes\": null"));
    want = br_asprintf("\"backup_id\": \"%s\", \"end_time\": ", fx->backup_id);
    assert_non_null(strstr(r.out, want));
    free(want);
    assert_non_null(strstr(r.out, "\"last_verification\": {\"problems\": 0, \"result\": \"OK\", \"time\": "));
    h_result_free(&r);
}

static void
test_metrics_live_file_and_cron(void **state)
{
    struct fixture *fx = need_pg(state);
    struct h_result r = barrel(fx, "metrics", "--output", fx->prom, "pg", NULL);
    struct stat st;
    char *text, *want;

    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "");
    h_result_free(&r);
    assert_int_equal(stat(fx->prom, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    text = h_read_file(fx->prom);
    check_metrics(text);
    assert_non_null(strstr(text, "barrel_up{server=\"pg\"} 1\n"));
    assert_non_null(strstr(text, "barrel_postgres_up{server=\"pg\"} 1\n"));
    assert_non_null(strstr(text, "barrel_backups{server=\"pg\",status=\"DONE\"} 1\n"));
    want = br_asprintf("barrel_backup_verified{server=\"pg\",backup_id=\"%s\"} 1\n", fx->backup_id);
    assert_non_null(strstr(text, want));
    free(want);
    assert_non_null(strstr(text, "barrel_wal_verified{server=\"pg\"} 1\n"));
    assert_non_null(strstr(text, "barrel_wal_archive_lag_bytes{server=\"pg\"} "));
    assert_non_null(strstr(text, "barrel_verify_last_success_timestamp_seconds{server=\"pg\"} "));
    free(text);
    /* no temporary file left beside it */
    r = h_sh("ls -A '%s/textfile'", fx->tmp);
    assert_string_equal(r.out, "barrel.prom\n");
    h_result_free(&r);

    /* cron rewrites metrics_file */
    unlink(fx->prom);
    r = barrel(fx, "cron", NULL, NULL, NULL, NULL);
    assert_int_equal(r.status, 0);
    h_result_free(&r);
    text = h_read_file(fx->prom);
    if (text == NULL)
        fail_msg("cron did not write %s", fx->prom);
    check_metrics(text);
    assert_non_null(strstr(text, "barrel_up{server=\"pg\"} 1\n"));
    /* pgz has no metrics_file: it is not in pg's file */
    assert_null(strstr(text, "server=\"pgz\""));
    free(text);
}

/* Barman's own tar backup: the page, then its failures. */
static void
test_report_barman_fixture(void **state)
{
    struct fixture *fx = *state;
    struct h_result r;
    char *errors;

    r = barrel(fx, "verify-backup", "pgz", FX_ID, NULL, NULL);
    h_ok("verify-backup of the fixture", r);
    r = barrel(fx, "report", "--offline", "pgz", NULL, NULL);
    assert_int_equal(r.status, 0);
    if (strncmp(r.out, "Server pgz:\n\tLast backup: " FX_ID " (ended 2026-11-22 ", 52) != 0)
        fail_msg("unexpected page:\n%s", r.out);
    assert_non_null(strstr(r.out, "\t\tSize: 5.1 MiB stored, "));
    assert_non_null(strstr(r.out, " of data (ratio "));
    assert_non_null(strstr(r.out, ", gzip)\n"));
    assert_non_null(strstr(r.out, "\tWAL archive: last 00000001000000000000000B (archived "));
    assert_non_null(strstr(r.out, "\t\t" FX_ID "  DONE              -                verified "));
    assert_non_null(strstr(r.out, "\tFailures: none\n"));
    assert_null(strstr(r.out, "Lag:"));
    h_result_free(&r);

    {
        const char *argv[] = {h_barrel_bin(), "-c", fx->conf, "-f", "json", "report", "--offline", "pgz", NULL};
        r = h_run(argv, NULL, NULL);
        assert_int_equal(r.status, 0);
        check_schema(r.out);
        assert_non_null(strstr(r.out, "\"server_reachable\": null"));
        assert_non_null(strstr(r.out, "\"uncompressed_bytes\": "));
        assert_null(strstr(r.out, "\"uncompressed_bytes\": null"));
        h_result_free(&r);
    }

    /* damage the archive: verify-backup fails, report and metrics show it */
    h_ok("damage", h_sh("cd '%s/pgz/base/" FX_ID "/data' && head -c 30000 16409.tar.gz > t && mv t 16409.tar.gz",
                      fx->home));
    r = barrel(fx, "verify-backup", "pgz", FX_ID, NULL, NULL);
    assert_int_equal(r.status, 1);
    h_result_free(&r);
    errors = br_asprintf("%s/pgz/errors/00000001000000000000000C.20261122T140000.unknown", fx->home);
    h_ok("errors/", h_sh("mkdir -p '%s/pgz/errors' && echo x > '%s'", fx->home, errors));
    free(errors);
    r = barrel(fx, "report", "--offline", "pgz", NULL, NULL);
    assert_int_equal(r.status, 0);
    if (strstr(r.out, "\tFailures:\n\t\tbackup " FX_ID " failed its last verification (") == NULL
        || strstr(r.out, "\t\t1 file in the errors directory (archiver errors)\n") == NULL
        || strstr(r.out, "\t\t" FX_ID "  DONE              -                verified ") == NULL
        || strstr(r.out, " FAILED\n") == NULL)
        fail_msg("unexpected page:\n%s", r.out);
    h_result_free(&r);
    r = barrel(fx, "metrics", "--offline", "pgz", NULL, NULL);
    assert_int_equal(r.status, 0);
    check_metrics(r.out);
    assert_non_null(strstr(r.out, "barrel_backup_verified{server=\"pgz\",backup_id=\"" FX_ID "\"} 0\n"));
    assert_non_null(strstr(r.out, "barrel_verify_failed_backups{server=\"pgz\"} 1\n"));
    assert_non_null(strstr(r.out, "barrel_archiver_errors{server=\"pgz\"} 1\n"));
    assert_non_null(strstr(r.out, "barrel_failures{server=\"pgz\"} 2\n"));
    assert_null(strstr(r.out, "barrel_postgres_up{server=\"pgz\"}"));
    h_result_free(&r);
}

static void
test_report_unknown_server(void **state)
{
    struct fixture *fx = *state;
    struct h_result r = barrel(fx, "report", "nosuch", NULL, NULL, NULL);

    assert_string_equal(r.err, "ERROR: Unknown server 'nosuch'\n");
    assert_int_equal(r.status, 1);
    h_result_free(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_live_text),
        cmocka_unit_test(test_report_live_json),
        cmocka_unit_test(test_metrics_live_file_and_cron),
        cmocka_unit_test(test_report_barman_fixture),
        cmocka_unit_test(test_report_unknown_server),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
