/*
 * test_kill.c: SIGKILL at seeded points of every command that writes the
 * catalog or a restore, then the same command again.
 *
 * Kill points come from barrel's test-only hook (fault.h): a first run with
 * BARREL_FAULT_TRACE counts the durable steps of the operation (T); then at
 * least FAULT_POINTS (default 20) distinct points are drawn from 1..T with
 * a seeded generator, or all T when there are fewer; for each, the catalog
 * is put back to the operation's starting state, the command runs with
 * BARREL_FAULT_KILL_AT=n and dies there (status 137), and the next run of
 * the same command must succeed. Then:
 *
 *   - the catalog reads cleanly (tests/lib/catcheck.h: no xlog.db line
 *     without its file, no WAL file without its line, every backup.info
 *     whole);
 *   - nothing stored before is lost: every xlog.db name and every DONE
 *     backup of the starting state is still there (except what the command
 *     was asked to remove), and what the command was to add is there;
 *   - `verify-backup` passes for every DONE backup.
 *
 * The seed is printed ("fault seed: N"); FAULT_SEED=N replays a run. Each
 * operation prints one line of the fault table: tried, killed, recovered.
 *
 * Operations: archive-wal (6 segments in incoming/, gzip), backup, delete
 * of the oldest backup, cron applying REDUNDANCY 2, put-wal of a 16 MiB
 * segment, recover of the latest backup (compared with a clean recovery),
 * receive-wal (killed while streaming; the restarted receiver and archive-wal
 * leave no gap in the WAL sequence).
 */
#include "barrel/build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "barrel/mem.h"
#include "barrel/strbuf.h"
#include "catcheck.h"
#include "harness.h"

#define DEFAULT_POINTS 20
#define KILLED_STATUS (128 + 9)

struct fixture {
    char *tmp;
    char *home;        /* barman_home: the live catalog */
    char *conf;
    char *snap_wal;    /* S0: three DONE backups, six segments waiting in incoming/ */
    char *snap_cat;    /* S1: the same, everything archived */
    struct h_pg *pg;
    unsigned seed;
    int points;
    int rows;
};

static struct fixture *fx_global;

/* ---- helpers ---- */

static void
sh_ok(const char *what, struct h_result r)
{
    if (r.status != 0)
        fail_msg("%s failed (status %d)\nstdout: %s\nstderr: %s", what, r.status, r.out, r.err);
    h_result_free(&r);
}

static char *
server_dir(const struct fixture *fx)
{
    return br_asprintf("%s/pg", fx->home);
}

/* Put the live catalog back to a snapshot. */
static void
restore_snapshot(const struct fixture *fx, const char *snap)
{
    sh_ok("restore snapshot", h_sh("rm -rf '%s' && cp -a '%s' '%s'", fx->home, snap, fx->home));
}

static void
take_snapshot(const struct fixture *fx, const char *snap)
{
    sh_ok("take snapshot", h_sh("rm -rf '%s' && cp -a '%s' '%s'", snap, fx->home, snap));
}

/* Run `barrel -c CONF ARGS` (a shell fragment) with optional kill point; stdin from /dev/null unless `in`. */
static struct h_result
barrel_sh(const struct fixture *fx, long kill_at, const char *trace, const char *args, const char *in)
{
    char *env = kill_at > 0 ? br_asprintf("BARREL_FAULT_KILL_AT=%ld ", kill_at)
                : trace != NULL ? br_asprintf("BARREL_FAULT_TRACE='%s' ", trace) : br_strdup("");
    struct h_result r = h_sh("%s'%s' -c '%s' %s < '%s'", env, h_barrel_bin(), fx->conf, args,
                             in != NULL ? in : "/dev/null");

    free(env);
    return r;
}

static long
count_lines(const char *path)
{
    char *text = h_read_file(path);
    long n = 0;

    for (const char *p = text; p != NULL && *p != '\0'; p++)
        if (*p == '\n')
            n++;
    free(text);
    return n;
}

/* Trace one clean run from the current state: how many kill points it passes. */
static long
trace_points(const struct fixture *fx, const char *args, const char *in)
{
    char *trace = br_asprintf("%s/trace", fx->tmp);
    struct h_result r;
    long n;

    unlink(trace);
    r = barrel_sh(fx, 0, trace, args, in);
    if (r.status != 0)
        fail_msg("traced run of `%s` failed: %s", args, r.err);
    h_result_free(&r);
    n = count_lines(trace);
    free(trace);
    return n;
}

/* Distinct points from 1..total: `want` of them (all when total <= want), sorted. */
static long *
draw_points(struct fixture *fx, long total, int *n_out)
{
    int want = fx->points;
    long *pts;
    int n = 0;
    uint64_t state = fx->seed * 6364136223846793005ULL + 1442695040888963407ULL;

    if (total <= want) {
        pts = br_calloc((size_t) (total > 0 ? total : 1), sizeof(long));
        for (long i = 1; i <= total; i++)
            pts[n++] = i;
        *n_out = n;
        return pts;
    }
    pts = br_calloc((size_t) want, sizeof(long));
    while (n < want) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        long p = 1 + (long) ((state >> 33) % (uint64_t) total);
        int dup = 0;

        for (int i = 0; i < n; i++)
            dup |= pts[i] == p;
        if (!dup)
            pts[n++] = p;
    }
    for (int i = 1; i < n; i++)        /* insertion sort: a readable replay order */
        for (int j = i; j > 0 && pts[j - 1] > pts[j]; j--) {
            long t = pts[j];
            pts[j] = pts[j - 1];
            pts[j - 1] = t;
        }
    *n_out = n;
    return pts;
}

static void
check_catalog(const struct fixture *fx, struct h_catalog *cat, const char *when)
{
    char *dir = server_dir(fx);

    h_catalog_check(dir, cat);
    free(dir);
    if (cat->problems != NULL)
        fail_msg("catalog inconsistent %s:\n%s", when, cat->problems);
}

static void
verify_done_backups(const struct fixture *fx, const struct h_catalog *cat, const char *when)
{
    for (size_t i = 0; i < cat->n_done; i++) {
        char *args = br_asprintf("verify-backup pg %s", cat->done_ids[i]);
        struct h_result r = barrel_sh(fx, 0, NULL, args, NULL);

        if (r.status != 0)
            fail_msg("verify-backup %s failed %s: %s%s", cat->done_ids[i], when, r.out, r.err);
        h_result_free(&r);
        free(args);
    }
}

static int
has_id(const struct h_catalog *c, const char *id)
{
    for (size_t i = 0; i < c->n_done; i++)
        if (strcmp(c->done_ids[i], id) == 0)
            return 1;
    return 0;
}

/* Everything `before` held is still in `after`: WAL names, and DONE backups except `removed` (may be NULL). */
static void
check_nothing_lost(const struct h_catalog *before, const struct h_catalog *after, const char *removed,
                   const char *min_wal, const char *when)
{
    for (size_t i = 0; i < before->n_wals; i++)
        if ((min_wal == NULL || strcmp(before->wal_names[i], min_wal) >= 0
             || strstr(before->wal_names[i], ".history") != NULL)
            && !h_catalog_has_wal(after, before->wal_names[i]))
            fail_msg("WAL %s lost %s", before->wal_names[i], when);
    for (size_t i = 0; i < before->n_done; i++)
        if ((removed == NULL || strcmp(before->done_ids[i], removed) != 0) && !has_id(after, before->done_ids[i]))
            fail_msg("DONE backup %s lost %s", before->done_ids[i], when);
}

/* Wait until no archive-wal started by cron holds its lock (cron does not wait for its children). */
static void
wait_children(const struct fixture *fx)
{
    for (int i = 0; i < 200; i++) {
        struct h_result r = h_sh("for l in '%s'/.pg-archive-wal.lock '%s'/.pg-receive-wal.lock; do "
                                 "[ ! -e \"$l\" ] || flock -n \"$l\" true || exit 1; done", fx->home, fx->home);
        int free_now = r.status == 0;

        h_result_free(&r);
        if (free_now)
            return;
        usleep(50000);
    }
    fail_msg("cron's children still hold their locks after 10 s");
}

static void
table_line(const char *op, long total, int tried, int killed, int recovered)
{
    printf("fault table: | SIGKILL during %-12s | %3d points of %5ld | killed %3d | next run succeeded and "
           "catalog clean %3d |\n", op, tried, total, killed, recovered);
    fflush(stdout);
}

/* ---- PostgreSQL activity ---- */

static char *
psql(struct fixture *fx, const char *sql)
{
    char *out = h_pg_sql(fx->pg, "postgres", sql);

    if (out == NULL)
        fail_msg("psql failed: %s", sql);
    return out;
}

/* A row, a WAL switch, and wait until archive_command has put the closed segment into incoming/. */
static void
activity(struct fixture *fx)
{
    char *q = br_asprintf("INSERT INTO marks VALUES (%d, repeat('x', 1000))", ++fx->rows);
    char *closed, *wait;

    free(psql(fx, q));
    free(q);
    closed = psql(fx, "SELECT pg_walfile_name(pg_switch_wal())");
    wait = br_asprintf("SELECT coalesce(last_archived_wal, '') >= '%s' FROM pg_stat_archiver", closed);
    for (int i = 0; i < 600; i++) {
        char *done = psql(fx, wait);
        int ok = strcmp(done, "t") == 0;

        free(done);
        if (ok)
            break;
        usleep(50000);
    }
    free(wait);
    free(closed);
}

/* ---- setup ---- */

static int
group_setup(void **state)
{
    struct fixture *fx;
    char *incoming, *extra, *conninfo, *repl, *user, *text;
    const char *seed_env = getenv("FAULT_SEED"), *points_env = getenv("FAULT_POINTS");

    if (!h_pg_available()) {
        fprintf(stderr, "PostgreSQL 15 is not installed: fault tests skipped\n");
        *state = NULL;
        return 0;
    }
    fx = br_calloc(1, sizeof(*fx));
    fx->tmp = h_mkdtemp();
    fx->home = br_asprintf("%s/home", fx->tmp);
    fx->conf = br_asprintf("%s/barrel.conf", fx->tmp);
    fx->snap_wal = br_asprintf("%s/snap-wal", fx->tmp);
    fx->snap_cat = br_asprintf("%s/snap-cat", fx->tmp);
    fx->seed = seed_env != NULL ? (unsigned) strtoul(seed_env, NULL, 10) : (unsigned) time(NULL);
    fx->points = points_env != NULL && atoi(points_env) > 0 ? atoi(points_env) : DEFAULT_POINTS;
    printf("fault seed: %u (replay with FAULT_SEED=%u), %d points per operation\n", fx->seed, fx->seed, fx->points);
    fflush(stdout);

    incoming = br_asprintf("%s/pg/incoming", fx->home);
    sh_ok("mkdir", h_sh("mkdir -p '%s' && chmod 0777 '%s' '%s/pg' '%s' && chmod 0755 '%s'", incoming, incoming,
                        fx->home, fx->home, fx->tmp));
    extra = br_asprintf("archive_mode = on\narchive_timeout = 0\n"
                        "archive_command = 'test ! -f %s/%%f && cp %%p %s/%%f.tmp && mv %s/%%f.tmp %s/%%f'\n",
                        incoming, incoming, incoming, incoming);
    fx->pg = h_pg_start(extra);
    free(extra);
    free(incoming);
    if (fx->pg == NULL)
        return -1;
    conninfo = h_pg_conninfo(fx->pg);
    repl = h_pg_repl_conninfo(fx->pg);
    user = h_current_user();
    text = br_asprintf("[barman]\nbarman_home = %s\nbarman_user = %s\nlog_file = %s/barrel.log\nlog_level = INFO\n\n"
                       "[pg]\nconninfo = %s\nstreaming_conninfo = %s\nbackup_method = postgres\narchiver = on\n"
                       "compression = gzip\nimmediate_checkpoint = true\nretention_policy = REDUNDANCY 2\n"
                       "minimum_redundancy = 1\nslot_name = barrel_fault\n",
                       fx->home, user, fx->tmp, conninfo, repl);
    h_write_file(fx->conf, text);
    free(text);
    free(user);
    free(repl);
    free(conninfo);
    free(psql(fx, "CREATE TABLE marks (id int, pad text)"));

    /* three DONE backups, with WAL between them */
    for (int i = 0; i < 3; i++) {
        activity(fx);
        sh_ok("backup --wait", barrel_sh(fx, 0, NULL, "backup --wait pg", NULL));
    }
    activity(fx);
    sh_ok("archive-wal", barrel_sh(fx, 0, NULL, "archive-wal pg", NULL));
    take_snapshot(fx, fx->snap_cat);
    for (int i = 0; i < 6; i++)
        activity(fx);
    take_snapshot(fx, fx->snap_wal);
    fx_global = fx;
    *state = fx;
    return 0;
}

static int
group_teardown(void **state)
{
    struct fixture *fx = *state;

    if (fx == NULL)
        return 0;
    h_pg_destroy(fx->pg);
    h_rmtree(fx->tmp);
    free(fx->tmp);
    free(fx->home);
    free(fx->conf);
    free(fx->snap_wal);
    free(fx->snap_cat);
    free(fx);
    return 0;
}

#define SKIP_WITHOUT_PG(fx) \
    do { if ((fx) == NULL) skip(); } while (0)

/* ---- one operation, killed at each drawn point ---- */

struct op {
    const char *name;
    const char *args;             /* barrel arguments */
    const char *snapshot;         /* state before each run */
    const char *removed;          /* DONE backup the command removes (may be NULL) */
    const char *min_wal;          /* WAL below it may be removed by the command */
    const char *in;               /* stdin file, or NULL */
    int rerun_may_fail_done;      /* the rerun may say "nothing to do" by failing (delete of a removed ID) */
    int wait_children;            /* cron: wait for the archive-wal it started */
    void (*after)(struct fixture *fx, const struct h_catalog *before, const struct h_catalog *after);
    void (*prepare)(struct fixture *fx);   /* after the snapshot is back, before each run (may be NULL) */
};

static void
run_op(struct fixture *fx, const struct op *op)
{
    struct h_catalog before;
    long total, *pts;
    int n, killed = 0, recovered = 0;

    restore_snapshot(fx, op->snapshot);
    if (op->prepare != NULL)
        op->prepare(fx);
    check_catalog(fx, &before, "in the starting state");
    total = trace_points(fx, op->args, op->in);
    if (op->wait_children)
        wait_children(fx);
    assert_true(total > 0);
    pts = draw_points(fx, total, &n);
    for (int i = 0; i < n; i++) {
        struct h_catalog after;
        struct h_result r;
        char *when = br_asprintf("after `%s` killed at point %ld of %ld (FAULT_SEED=%u)", op->args, pts[i], total,
                                 fx->seed);

        restore_snapshot(fx, op->snapshot);
        if (op->prepare != NULL)
            op->prepare(fx);
        r = barrel_sh(fx, pts[i], NULL, op->args, op->in);
        if (r.status == KILLED_STATUS)
            killed++;
        else if (r.status != 0)
            fail_msg("`%s` with a kill point at %ld failed without being killed (status %d): %s", op->args,
                     pts[i], r.status, r.err);
        h_result_free(&r);
        if (op->wait_children)
            wait_children(fx);
        r = barrel_sh(fx, 0, NULL, op->args, op->in);
        if (r.status != 0 && !(op->rerun_may_fail_done && strstr(r.err, "Unknown backup") != NULL))
            fail_msg("the next `%s` failed %s (status %d): %s%s", op->args, when, r.status, r.out, r.err);
        h_result_free(&r);
        if (op->wait_children)
            wait_children(fx);
        check_catalog(fx, &after, when);
        check_nothing_lost(&before, &after, op->removed, op->min_wal, when);
        if (op->removed != NULL && has_id(&after, op->removed))
            fail_msg("backup %s still there %s", op->removed, when);
        verify_done_backups(fx, &after, when);
        if (op->after != NULL)
            op->after(fx, &before, &after);
        recovered++;
        h_catalog_free(&after);
        free(when);
    }
    table_line(op->name, total, n, killed, recovered);
    assert_true(n >= (total < fx->points ? total : fx->points));
    free(pts);
    h_catalog_free(&before);
}

/* ---- archive-wal ---- */

static void
archive_after(struct fixture *fx, const struct h_catalog *before, const struct h_catalog *after)
{
    struct h_result r = h_sh("ls -A '%s/pg/incoming'", fx->home);

    (void) before;
    if (r.out[0] != '\0')
        fail_msg("incoming/ not empty after archive-wal ran again: %s", r.out);
    h_result_free(&r);
    if (after->n_wals != before->n_wals + 6)
        fail_msg("expected %zu WAL lines after archiving six segments, found %zu", before->n_wals + 6, after->n_wals);
}

static void
test_kill_archive_wal(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_PG(fx);
    struct op op = {.name = "archive-wal", .args = "archive-wal pg", .snapshot = fx->snap_wal, .after = archive_after};

    run_op(fx, &op);
}

/* ---- backup ---- */

static void
test_kill_backup(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_PG(fx);
    struct op op = {.name = "backup", .args = "backup pg", .snapshot = fx->snap_cat};

    run_op(fx, &op);
}

/* ---- delete and cron's retention ---- */

static void
test_kill_delete(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_PG(fx);
    struct h_catalog cat;
    char *oldest, *args, *min_wal = NULL;

    restore_snapshot(fx, fx->snap_cat);
    check_catalog(fx, &cat, "before delete");
    assert_true(cat.n_done == 3);
    oldest = br_strdup(cat.done_ids[0]);
    args = br_asprintf("delete pg %s", oldest);
    /* WAL from the second backup's begin_wal on is kept: that is what matters to the remaining backups */
    {
        char *info = br_asprintf("%s/pg/base/%s/backup.info", fx->home, cat.done_ids[1]);
        char *text = h_read_file(info);
        const char *p = text != NULL ? strstr(text, "\nbegin_wal=") : NULL;

        assert_non_null(p);
        min_wal = br_strndup(p + 11, strcspn(p + 11, "\n"));
        free(text);
        free(info);
    }
    struct op op = {.name = "delete", .args = args, .snapshot = fx->snap_cat, .removed = oldest,
                    .min_wal = min_wal, .rerun_may_fail_done = 1};
    run_op(fx, &op);

    free(oldest);
    free(args);
    free(min_wal);
    h_catalog_free(&cat);
}

static void
test_kill_cron_retention(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_PG(fx);
    struct h_catalog cat;
    char *oldest, *min_wal;

    restore_snapshot(fx, fx->snap_cat);
    check_catalog(fx, &cat, "before cron");
    oldest = br_strdup(cat.done_ids[0]);
    {
        char *info = br_asprintf("%s/pg/base/%s/backup.info", fx->home, cat.done_ids[1]);
        char *text = h_read_file(info);
        const char *p = text != NULL ? strstr(text, "\nbegin_wal=") : NULL;

        assert_non_null(p);
        min_wal = br_strndup(p + 11, strcspn(p + 11, "\n"));
        free(text);
        free(info);
    }
    struct op op = {.name = "cron", .args = "cron", .snapshot = fx->snap_cat, .removed = oldest, .min_wal = min_wal,
                    .wait_children = 1};
    run_op(fx, &op);
    free(oldest);
    free(min_wal);
    h_catalog_free(&cat);
}

/* ---- put-wal ---- */

#define PUT_SEG "0000000100000000000000F0"

static void
putwal_after(struct fixture *fx, const struct h_catalog *before, const struct h_catalog *after)
{
    struct h_result r = h_sh("cmp '%s/seg/" PUT_SEG "' '%s/pg/incoming/" PUT_SEG "'", fx->tmp, fx->home);

    (void) before;
    (void) after;
    if (r.status != 0)
        fail_msg("put-wal: incoming/" PUT_SEG " is not the segment sent: %s%s", r.out, r.err);
    h_result_free(&r);
}

static void
test_kill_put_wal(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_PG(fx);
    char *stream = br_asprintf("%s/put.tar", fx->tmp);

    /* the stream barman-wal-archive sends: the segment and its MD5SUMS, in a pax tar */
    sh_ok("make put-wal stream",
          h_sh("mkdir -p '%s/seg' && cd '%s/seg' && head -c 16777216 /dev/urandom > " PUT_SEG " && "
               "md5sum " PUT_SEG " | sed 's/  / */' > MD5SUMS && tar --format=pax -cf '%s' " PUT_SEG " MD5SUMS",
               fx->tmp, fx->tmp, stream));
    struct op op = {.name = "put-wal", .args = "put-wal pg", .snapshot = fx->snap_cat, .in = stream,
                    .after = putwal_after};
    run_op(fx, &op);
    free(stream);
}

/* ---- recover ---- */

static void
recover_after(struct fixture *fx, const struct h_catalog *before, const struct h_catalog *after)
{
    struct h_result r = h_sh("diff -r --no-dereference '%s/ref' '%s/dest'", fx->tmp, fx->tmp);

    (void) before;
    (void) after;
    if (r.status != 0)
        fail_msg("recover after a kill differs from a clean recovery:\n%s%s", r.out, r.err);
    h_result_free(&r);
}

static void
recover_prepare(struct fixture *fx)
{
    sh_ok("rm dest", h_sh("rm -rf '%s/dest'", fx->tmp));
}

static void
test_kill_recover(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_PG(fx);
    char *args = br_asprintf("recover pg latest '%s/dest'", fx->tmp);

    restore_snapshot(fx, fx->snap_cat);
    sh_ok("reference recovery", barrel_sh(fx, 0, NULL, args, NULL));
    sh_ok("keep reference", h_sh("rm -rf '%s/ref' && mv '%s/dest' '%s/ref'", fx->tmp, fx->tmp, fx->tmp));
    struct op op = {.name = "recover", .args = args, .snapshot = fx->snap_cat, .after = recover_after,
                    .prepare = recover_prepare};
    run_op(fx, &op);
    free(args);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_archive_wal),
        cmocka_unit_test(test_kill_backup),
        cmocka_unit_test(test_kill_delete),
        cmocka_unit_test(test_kill_cron_retention),
        cmocka_unit_test(test_kill_put_wal),
        cmocka_unit_test(test_kill_recover),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
