/*
 * test_verify_wal.c: `barrel verify-wal` against the archive of a real
 * PostgreSQL 15 cluster (archive_command into incoming/, archive-wal with
 * gzip compression, one barrel backup for the system id).
 *
 * A good archive passes; each damage (deleted segment, two deleted,
 * garbage, truncated gzip, a segment of another cluster, --to past the end)
 * is made on a copy of the catalog (server "pgcopy") and must fail with the
 * exact message naming the segment. Then the cluster is promoted to
 * timeline 2 by an archive recovery that ends at the end of its WAL: the
 * archive with 00000002.history and the old timeline's .partial passes,
 * and without the history file, or with the last segment before the switch
 * deleted, it fails with the message naming it.
 *
 * Tests run in order and share the cluster.
 */
#include "barrel/build.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "barrel/mem.h"
#include "catalog_setup.h"
#include "harness.h"

#define MAX_SEGS 256

struct fixture {
    struct h_pg *pg;
    char *tmp, *conf, *home, *copy;   /* copy = backup_directory of pgcopy */
    char *sysid;
    char segs[MAX_SEGS][32];          /* archived segment names of timeline 1, sorted */
    size_t n_segs;
};

static struct h_result
barrel(const struct fixture *fx, const char *a1, const char *a2, const char *a3, const char *a4, const char *a5)
{
    const char *args[] = {a1, a2, a3, a4, a5};

    return h_barrel_args(fx->conf, args, BR_ARRAY_LEN(args));
}

/* Switch n segments, wait until the server archived them all, then archive-wal. */
static void
make_wal(struct fixture *fx, int n)
{
    long target = h_pg_sql_long(fx->pg, "SELECT archived_count FROM pg_stat_archiver") + n;

    for (int i = 0; i < n; i++) {
        free(h_pg_sql(fx->pg, "postgres", "INSERT INTO t SELECT g FROM generate_series(1, 1000) g"));
        free(h_pg_sql(fx->pg, "postgres", "SELECT pg_switch_wal()"));
    }
    h_pg_wait_archived_count(fx->pg, target);
    struct h_result r = barrel(fx, "archive-wal", "pg", NULL, NULL, NULL);
    h_ok("archive-wal", r);
}

/* The plain segment names of wals/ (all timelines), sorted. */
static size_t
list_segments(const char *wals, char out[][32], size_t max)
{
    struct h_result r = h_sh("cd '%s' && ls */ 2>/dev/null | grep -E '^[0-9A-F]{24}$' | LC_ALL=C sort", wals);
    size_t n = 0;
    char *save = NULL;

    for (char *line = strtok_r(r.out, "\n", &save); line != NULL && n < max; line = strtok_r(NULL, "\n", &save))
        snprintf(out[n++], 32, "%s", line);
    h_result_free(&r);
    return n;
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
    fx->copy = br_asprintf("%s/copy", fx->tmp);
    incoming = h_incoming_dir(fx->home, "pg");
    fx->pg = h_pg_start_archiving(incoming, NULL);
    free(incoming);
    if (fx->pg == NULL)
        return 0;
    conninfo = h_pg_conninfo(fx->pg);
    pg = h_conf_server(fx->pg, "pg", "compression = gzip\nimmediate_checkpoint = true\n");
    text = br_asprintf("%s\n"
                       "[pgcopy]\nconninfo = %s\nbackup_method = postgres\narchiver = on\ncompression = gzip\n"
                       "backup_directory = %s\n",
                       pg, conninfo, fx->copy);
    h_write_conf(fx->conf, fx->home, NULL, "log_level = INFO\n", text);
    free(text);
    free(pg);
    free(conninfo);

    free(h_pg_sql(fx->pg, "postgres", "CREATE TABLE t (id int)"));
    fx->sysid = h_pg_sql(fx->pg, "postgres", "SELECT system_identifier FROM pg_control_system()");
    /*
     * a backup gives the catalog its system id (identity.json and
     * backup.info); the archive starts at its begin_wal (archive-wal drops
     * what is older than the first backup)
     */
    r = barrel(fx, "backup", "pg", NULL, NULL, NULL);
    if (r.status != 0)
        fprintf(stderr, "backup failed: %s%s", r.out, r.err);
    h_result_free(&r);
    make_wal(fx, 7);
    {
        char *wals = br_asprintf("%s/pg/wals", fx->home);
        fx->n_segs = list_segments(wals, fx->segs, MAX_SEGS);
        free(wals);
    }
    return 0;
}

static int
group_teardown(void **state)
{
    struct fixture *fx = *state;

    h_fixture_drop(fx->pg, fx->tmp, fx->home, fx->conf);
    free(fx->copy);
    free(fx->sysid);
    free(fx);
    return 0;
}

static struct fixture *
need_pg(void **state)
{
    struct fixture *fx = *state;

    h_skip_without_pg();
    assert_non_null(fx->pg);
    assert_non_null(fx->sysid);
    if (fx->n_segs < 8)
        fail_msg("only %zu segments were archived", fx->n_segs);
    return fx;
}

/* A fresh copy of the catalog of pg as pgcopy's backup_directory. */
static void
fresh_copy(const struct fixture *fx)
{
    h_ok("copy", h_sh("rm -rf '%s' && cp -a '%s/pg' '%s'", fx->copy, fx->home, fx->copy));
}

static char *
copy_seg_path(const struct fixture *fx, const char *name)
{
    return br_asprintf("%s/wals/%.16s/%s", fx->copy, name, name);
}

static void
test_verify_wal_good_archive(void **state)
{
    struct fixture *fx = need_pg(state);
    struct h_result r = barrel(fx, "verify-wal", "pg", NULL, NULL, NULL);
    char *want = br_asprintf("Verifying the WAL archive of server pg\n"
                             "WAL archive of server pg verified: OK (%zu segments, ",
                             fx->n_segs);

    assert_string_equal(r.err, "");
    if (strncmp(r.out, want, strlen(want)) != 0)
        fail_msg("unexpected output:\n%s", r.out);
    char *range = br_asprintf(", %s to %s, timeline 1, ", fx->segs[0], fx->segs[fx->n_segs - 1]);
    assert_non_null(strstr(r.out, range));
    assert_int_equal(r.status, 0);
    h_result_free(&r);
    free(range);
    free(want);

    /* the verdict is in barrel's own file */
    char *rec = br_asprintf("%s/pg/barrel/verify/wal.json", fx->home);
    char *text = h_read_file(rec);
    assert_non_null(text);
    assert_non_null(strstr(text, "\"result\": \"OK\""));
    free(text);
    free(rec);

    /* JSON */
    const char *argv[] = {h_barrel_bin(), "-c", fx->conf, "-f", "json", "verify-wal", "pg", NULL};
    r = h_run(argv, NULL, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "\"problems\": [], \"result\": \"OK\""));
    h_result_free(&r);

    /* a range inside the archive */
    r = barrel(fx, "verify-wal", "pg", "--from", fx->segs[2], NULL);
    assert_int_equal(r.status, 0);
    want = br_asprintf("verified: OK (%zu segments, ", fx->n_segs - 2);
    assert_non_null(strstr(r.out, want));
    free(want);
    h_result_free(&r);
}

static void
run_damage(struct fixture *fx, const char *name, const char *command, const char *expect_err, const char *opt,
           const char *optval)
{
    fresh_copy(fx);
    if (command != NULL) {
        struct h_result d = h_sh("%s", command);
        if (d.status != 0)
            fail_msg("%s: damage command failed: %s", name, d.err);
        h_result_free(&d);
    }
    struct h_result r = barrel(fx, "verify-wal", "pgcopy", opt, optval, NULL);
    if (r.status != 1 || strcmp(r.err, expect_err) != 0)
        fail_msg("%s: status %d, stderr:\n%s\nexpected:\n%s", name, r.status, r.err, expect_err);
    h_result_free(&r);
}

static void
test_verify_wal_damage_table(void **state)
{
    struct fixture *fx = need_pg(state);
    const char *mid = fx->segs[fx->n_segs / 2], *next = fx->segs[fx->n_segs / 2 + 1];
    char *p_mid = copy_seg_path(fx, mid), *p_next = copy_seg_path(fx, next), *cmd, *want;

    /* a deleted segment in the middle */
    cmd = br_asprintf("rm '%s'", p_mid);
    want = br_asprintf("ERROR: gap in the WAL archive: %s is missing\n"
                       "ERROR: WAL archive of server pgcopy failed verification: 1 problem\n",
                       mid);
    run_damage(fx, "deleted segment", cmd, want, NULL, NULL);
    free(cmd);
    free(want);

    /* two in a row: one line */
    cmd = br_asprintf("rm '%s' '%s'", p_mid, p_next);
    want = br_asprintf("ERROR: gap in the WAL archive: %s to %s are missing (2 segments)\n"
                       "ERROR: WAL archive of server pgcopy failed verification: 1 problem\n",
                       mid, next);
    run_damage(fx, "two deleted segments", cmd, want, NULL, NULL);
    free(cmd);
    free(want);

    /* garbage in place of a segment */
    cmd = br_asprintf("printf 'garbage' > '%s'", p_mid);
    want = br_asprintf("ERROR: WAL segment %s has 7 bytes, expected 16777216\n"
                       "ERROR: WAL archive of server pgcopy failed verification: 1 problem\n",
                       mid);
    run_damage(fx, "garbage segment", cmd, want, NULL, NULL);
    free(cmd);
    free(want);

    /* a truncated gzip stream, and a deleted one after it: both, in segment order */
    cmd = br_asprintf("head -c 2000 '%s' > '%s.t' && mv '%s.t' '%s' && rm '%s'", p_mid, p_mid, p_mid, p_mid, p_next);
    fresh_copy(fx);
    {
        struct h_result d = h_sh("%s", cmd), r;
        assert_int_equal(d.status, 0);
        h_result_free(&d);
        r = barrel(fx, "verify-wal", "pgcopy", NULL, NULL, NULL);
        char *first = br_asprintf("ERROR: WAL segment %s is unreadable: ", mid);
        char *second = br_asprintf("\nERROR: gap in the WAL archive: %s is missing\n"
                                   "ERROR: WAL archive of server pgcopy failed verification: 2 problems\n",
                                   next);
        if (r.status != 1 || strncmp(r.err, first, strlen(first)) != 0 || strstr(r.err, second) == NULL)
            fail_msg("truncated segment: status %d, stderr:\n%s", r.status, r.err);
        h_result_free(&r);
        free(first);
        free(second);
    }
    free(cmd);

    /* --to past the last archived segment */
    {
        char to[32];
        snprintf(to, sizeof(to), "%.16s%08X", fx->segs[fx->n_segs - 1],
                 (unsigned) strtoul(fx->segs[fx->n_segs - 1] + 16, NULL, 16) + 2);
        char after[32];
        snprintf(after, sizeof(after), "%.16s%08X", fx->segs[fx->n_segs - 1],
                 (unsigned) strtoul(fx->segs[fx->n_segs - 1] + 16, NULL, 16) + 1);
        want = br_asprintf("ERROR: gap in the WAL archive: %s to %s are missing (2 segments)\n"
                           "ERROR: WAL archive of server pgcopy failed verification: 1 problem\n",
                           after, to);
        run_damage(fx, "--to past the end", NULL, want, "--to", to);
        free(want);
    }

    /* a bad option value */
    {
        struct h_result r = barrel(fx, "verify-wal", "pg", "--from", "nonsense", NULL);
        assert_string_equal(r.err, "barrel: error: --from: \"nonsense\" is not a WAL segment name\n");
        assert_int_equal(r.status, 2);
        h_result_free(&r);
    }
    free(p_mid);
    free(p_next);
}

/* A segment of another cluster with the same name: only its system id differs. */
static void
test_verify_wal_foreign_segment(void **state)
{
    struct fixture *fx = need_pg(state);
    struct h_pg *other = h_pg_start(NULL);
    char *other_sysid, *cmd, *want;

    assert_non_null(other);
    other_sysid = h_pg_sql(other, "postgres", "SELECT system_identifier FROM pg_control_system()");
    assert_non_null(other_sysid);
    /* bring the other cluster to our archive's first segment: it is its current one, in its pg_wal */
    const char *target = fx->segs[0];
    for (int i = 0; i < 64; i++) {
        free(h_pg_sql(other, "postgres", "CREATE TABLE IF NOT EXISTS filler (i int); INSERT INTO filler VALUES (1)"));
        char *cur = h_pg_sql(other, "postgres", "SELECT pg_walfile_name(pg_current_wal_insert_lsn())");
        int there = cur != NULL && strcmp(cur, target) == 0;
        free(cur);
        if (there)
            break;
        free(h_pg_sql(other, "postgres", "SELECT pg_switch_wal()"));
    }
    cmd = br_asprintf("cp '%s/pg_wal/%s' '%s/wals/%.16s/%s'", other->datadir, target, fx->copy, target, target);
    want = br_asprintf("ERROR: WAL segment %s belongs to system %s, expected %s\n"
                       "ERROR: WAL archive of server pgcopy failed verification: 1 problem\n",
                       target, other_sysid, fx->sysid);
    run_damage(fx, "segment of another system", cmd, want, NULL, NULL);
    free(cmd);
    free(want);
    free(other_sysid);
    h_pg_destroy(other);
}

/*
 * Promote to timeline 2: an archive recovery with nothing to restore ends
 * at the end of pg_wal and switches to a new timeline, archiving
 * 00000002.history and the old timeline's last segment as .partial.
 */
static void
test_verify_wal_timeline_switch(void **state)
{
    struct fixture *fx = need_pg(state);
    char *signal_path, *conf_path, *wals = br_asprintf("%s/pg/wals", fx->home);
    char segs[MAX_SEGS][32];
    size_t n;
    struct h_result r;

    assert_int_equal(h_pg_stop(fx->pg), 0);
    signal_path = br_asprintf("%s/recovery.signal", fx->pg->datadir);
    h_write_file(signal_path, "");
    conf_path = br_asprintf("%s/postgresql.auto.conf", fx->pg->datadir);
    h_write_file(conf_path, "restore_command = '/bin/false'\nrecovery_target_timeline = 'latest'\n");
    if (fx->pg->os_user != NULL)
        h_ok("chown", h_sh("chown %s '%s' '%s'", fx->pg->os_user, signal_path, conf_path));
    assert_int_equal(h_pg_restart(fx->pg), 0);
    for (int i = 0; i < 300 && h_pg_sql_long(fx->pg, "SELECT pg_is_in_recovery()::int") != 0; i++)
        usleep(100 * 1000);
    {
        char *tli = h_pg_sql(fx->pg, "postgres", "SELECT timeline_id FROM pg_control_checkpoint()");
        free(h_pg_sql(fx->pg, "postgres", "CHECKPOINT"));
        free(tli);
    }
    make_wal(fx, 3);
    /* the history file is archived at promotion; wait for it too */
    for (int i = 0; i < 300; i++) {
        char *h = br_asprintf("%s/00000002.history", wals);
        int there = access(h, F_OK) == 0;
        free(h);
        if (there)
            break;
        usleep(100 * 1000);
        r = barrel(fx, "archive-wal", "pg", NULL, NULL, NULL);
        h_result_free(&r);
    }
    n = list_segments(wals, segs, MAX_SEGS);

    /* timeline 2 follows timeline 1 at the switch point: no gap */
    r = barrel(fx, "verify-wal", "pg", NULL, NULL, NULL);
    if (r.status != 0)
        fail_msg("verify-wal after the switch: %s%s", r.out, r.err);
    assert_string_equal(r.err, "");
    {
        char *range = br_asprintf(", %s to %s, timeline 2, ", segs[0], segs[n - 1]);
        if (strstr(r.out, range) == NULL)
            fail_msg("expected %s in:\n%s", range, r.out);
        free(range);
    }
    h_result_free(&r);
    assert_true(strncmp(segs[n - 1], "00000002", 8) == 0);

    /* without the history file, timeline 1 is off the path and that is said */
    {
        char *cmd = br_asprintf("rm '%s/wals/00000002.history'", fx->copy);
        run_damage(fx, "history file deleted", cmd,
                   "ERROR: timeline 2 has no history file 00000002.history in the archive: its ancestors cannot be "
                   "followed\n"
                   "ERROR: WAL archive of server pgcopy failed verification: 1 problem\n",
                   NULL, NULL);
        free(cmd);
    }

    /* the last segment of timeline 1 before the switch point is on the path */
    {
        const char *last_tl1 = NULL;
        for (size_t i = 0; i < n; i++)
            if (strncmp(segs[i], "00000001", 8) == 0)
                last_tl1 = segs[i];
        assert_non_null(last_tl1);
        char *path = copy_seg_path(fx, last_tl1);
        char *cmd = br_asprintf("rm '%s'", path);
        char *want = br_asprintf("ERROR: gap in the WAL archive: %s is missing\n"
                                 "ERROR: WAL archive of server pgcopy failed verification: 1 problem\n",
                                 last_tl1);
        run_damage(fx, "last segment before the switch deleted", cmd, want, NULL, NULL);
        free(want);
        free(cmd);
        free(path);
    }
    free(signal_path);
    free(conf_path);
    free(wals);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verify_wal_good_archive),
        cmocka_unit_test(test_verify_wal_damage_table),
        cmocka_unit_test(test_verify_wal_foreign_segment),
        cmocka_unit_test(test_verify_wal_timeline_switch),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
