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
 * The seed is printed ("fault seed: N"); FAULT_SEED=N replays a run,
 * FAULT_ONLY=<glob> runs only the matching tests (test_kill_receive_wal). Each
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
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "barrel/mem.h"
#include "barrel/strbuf.h"
#include "catalog_setup.h"
#include "catcheck.h"
#include "faultenv.h"
#include "harness.h"
#include "spawn.h"

#define DEFAULT_POINTS 20
#define KILLED_STATUS (128 + 9)

/* "BARREL_FAULT_KILL_AT=N " or "BARREL_FAULT_TRACE='F' " (or ""), for h_fenv_barrel's env; new string. */
static char *
fault_env(long kill_at, const char *trace)
{
    return kill_at > 0 ? br_asprintf("BARREL_FAULT_KILL_AT=%ld ", kill_at)
           : trace != NULL ? br_asprintf("BARREL_FAULT_TRACE='%s' ", trace) : br_strdup("");
}

struct fixture {
    struct h_fenv *fe;
    char *tmp;         /* fe->tmp */
    char *home;        /* fe->home: the live catalog */
    char *snap_wal;    /* S0: three DONE backups, six segments waiting in incoming/ */
    char *snap_cat;    /* S1: the same, everything archived */
    unsigned seed;
    int points;
};

/* ---- helpers ---- */

/* Put the live catalog back to a snapshot. */
static void
restore_snapshot(const struct fixture *fx, const char *snap)
{
    h_ok("restore snapshot", h_sh("rm -rf '%s' && cp -a '%s' '%s'", fx->home, snap, fx->home));
}

static void
take_snapshot(const struct fixture *fx, const char *snap)
{
    h_ok("take snapshot", h_sh("rm -rf '%s' && cp -a '%s' '%s'", snap, fx->home, snap));
}

/* Run `barrel -c CONF ARGS` (a shell fragment) with optional kill point; stdin from /dev/null unless `in`. */
static struct h_result
barrel_sh(const struct fixture *fx, long kill_at, const char *trace, const char *args, const char *in)
{
    char *env = fault_env(kill_at, trace);
    struct h_result r = h_fenv_barrel(fx->fe, env, args, in);

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

/* What point n of the traced run is ("segment.write"...), from <tmp>/trace; NULL when unknown. New string. */
static char *
point_kind(const char *trace_text, long n)
{
    char key[32];
    const char *p;

    snprintf(key, sizeof(key), "%ld ", n);
    for (p = trace_text; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p != NULL ? p + 1 : NULL)
        if (strncmp(p, key, strlen(key)) == 0)
            return br_strndup(p + strlen(key), strcspn(p + strlen(key), "\n"));
    return NULL;
}

static int
has_point(const long *pts, int n, long p)
{
    for (int i = 0; i < n; i++)
        if (pts[i] == p)
            return 1;
    return 0;
}

/*
 * Distinct points from 1..total, sorted: all of them when total <= want;
 * else the first and the last point of every kind in the traced run
 * (<tmp>/trace: a rename or a directory fsync is one point among hundreds
 * of writes, and must not be left to chance), then seeded draws up to
 * `want`.
 */
static long *
draw_points(struct fixture *fx, long total, int *n_out)
{
    int want = fx->points;
    long *pts;
    int n = 0;
    uint64_t state = fx->seed * 6364136223846793005ULL + 1442695040888963407ULL;
    char *trace = br_asprintf("%s/trace", fx->tmp), *text = h_read_file(trace);

    free(trace);
    if (total <= want) {
        pts = br_calloc((size_t) (total > 0 ? total : 1), sizeof(long));
        for (long i = 1; i <= total; i++)
            pts[n++] = i;
        *n_out = n;
        free(text);
        return pts;
    }
    pts = br_calloc((size_t) want + 2 * (size_t) total, sizeof(long));
    /* every kind: its first and its last point (one pass over the trace, "N KIND" a line) */
    {
        char **kinds = br_calloc((size_t) total + 1, sizeof(char *));

        for (const char *p = text; p != NULL && *p != '\0';) {
            size_t len = strcspn(p, "\n");
            char *end = NULL;
            long at = strtol(p, &end, 10);

            if (end != NULL && *end == ' ' && at >= 1 && at <= total && kinds[at] == NULL)
                kinds[at] = br_strndup(end + 1, len - (size_t) (end + 1 - p));
            p += len + (p[len] == '\n');
        }
        for (long i = 1; i <= total; i++) {
            long last = i;
            int seen = 0;

            if (kinds[i] == NULL)
                continue;
            for (long j = 1; j < i && !seen; j++)
                seen = kinds[j] != NULL && strcmp(kinds[j], kinds[i]) == 0;
            if (seen)
                continue;       /* not the first of its kind */
            for (long j = i + 1; j <= total; j++)
                if (kinds[j] != NULL && strcmp(kinds[j], kinds[i]) == 0)
                    last = j;
            pts[n++] = i;
            if (last != i)
                pts[n++] = last;
        }
        for (long i = 0; i <= total; i++)
            free(kinds[i]);
        free(kinds);
    }
    while (n < want) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        long p = 1 + (long) ((state >> 33) % (uint64_t) total);

        if (!has_point(pts, n, p))
            pts[n++] = p;
    }
    for (int i = 1; i < n; i++)        /* insertion sort: a readable replay order */
        for (int j = i; j > 0 && pts[j - 1] > pts[j]; j--) {
            long t = pts[j];
            pts[j] = pts[j - 1];
            pts[j - 1] = t;
        }
    *n_out = n;
    free(text);
    return pts;
}

static void
check_catalog(const struct fixture *fx, struct h_catalog *cat, const char *when)
{
    h_fenv_check_catalog(fx->fe, "pg", cat, when);
}

static void
verify_done_backups(const struct fixture *fx, const struct h_catalog *cat, const char *when)
{
    h_fenv_verify_done(fx->fe, "pg", cat, when);
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
        if ((removed == NULL || strcmp(before->done_ids[i], removed) != 0)
            && !h_catalog_has_done(after, before->done_ids[i]))
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

/* ---- setup ---- */

static int
group_setup(void **state)
{
    struct fixture *fx;
    char *why = NULL, *pg, *stream, *sections;
    const char *seed_env = getenv("FAULT_SEED"), *points_env = getenv("FAULT_POINTS");

    fx = br_calloc(1, sizeof(*fx));
    fx->fe = h_fenv_new(NULL, &why);
    if (fx->fe == NULL) {
        int failed = strncmp(why, "error:", 6) == 0;

        fprintf(stderr, "fault tests: %s%s\n", why, failed ? "" : ": skipped");
        free(why);
        free(fx);
        *state = NULL;
        return failed ? -1 : 0;
    }
    fx->tmp = fx->fe->tmp;
    fx->home = fx->fe->home;
    fx->snap_wal = br_asprintf("%s/snap-wal", fx->tmp);
    fx->snap_cat = br_asprintf("%s/snap-cat", fx->tmp);
    fx->seed = seed_env != NULL ? (unsigned) strtoul(seed_env, NULL, 10) : (unsigned) time(NULL);
    fx->points = points_env != NULL && atoi(points_env) > 0 ? atoi(points_env) : DEFAULT_POINTS;
    printf("fault seed: %u (replay with FAULT_SEED=%u), %d points per operation\n", fx->seed, fx->seed, fx->points);
    fflush(stdout);

    pg = h_fenv_section(fx->fe, "pg", 0, "compression = gzip\nimmediate_checkpoint = true\n"
                                         "retention_policy = REDUNDANCY 2\nminimum_redundancy = 1\n"
                                         "slot_name = barrel_fault\n");
    /* receive-wal's own server: the same cluster, streamed through a slot, its own catalog */
    stream = h_fenv_section(fx->fe, "stream", 0, "streaming_archiver = on\ncompression = gzip\n"
                                                 "slot_name = barrel_fault_stream\ncreate_slot = auto\n");
    sections = br_asprintf("%s%s", pg, stream);
    h_fenv_write_conf(fx->fe, sections);
    free(sections);
    free(stream);
    free(pg);

    /* three DONE backups, with WAL between them */
    for (int i = 0; i < 3; i++) {
        h_fenv_activity(fx->fe);
        h_ok("backup --wait", barrel_sh(fx, 0, NULL, "backup --wait pg", NULL));
    }
    h_fenv_activity(fx->fe);
    h_ok("archive-wal", barrel_sh(fx, 0, NULL, "archive-wal pg", NULL));
    take_snapshot(fx, fx->snap_cat);
    for (int i = 0; i < 6; i++)
        h_fenv_activity(fx->fe);
    take_snapshot(fx, fx->snap_wal);
    *state = fx;
    return 0;
}

static int
group_teardown(void **state)
{
    struct fixture *fx = *state;

    if (fx == NULL)
        return 0;
    h_fenv_free(fx->fe);
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
        if (op->removed != NULL && h_catalog_has_done(&after, op->removed))
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
    char *oldest, *args, *min_wal;

    restore_snapshot(fx, fx->snap_cat);
    check_catalog(fx, &cat, "before delete");
    assert_true(cat.n_done == 3);
    oldest = br_strdup(cat.done_ids[0]);
    args = br_asprintf("delete pg %s", oldest);
    /* WAL from the second backup's begin_wal on is kept: that is what matters to the remaining backups */
    min_wal = h_fenv_backup_field(fx->fe, "pg", cat.done_ids[1], "begin_wal");
    assert_non_null(min_wal);
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
    min_wal = h_fenv_backup_field(fx->fe, "pg", cat.done_ids[1], "begin_wal");
    assert_non_null(min_wal);
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
    h_ok("make put-wal stream",
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
    h_ok("rm dest", h_sh("rm -rf '%s/dest'", fx->tmp));
}

static void
test_kill_recover(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_PG(fx);
    char *args = br_asprintf("recover pg latest '%s/dest'", fx->tmp);

    restore_snapshot(fx, fx->snap_cat);
    h_ok("reference recovery", barrel_sh(fx, 0, NULL, args, NULL));
    h_ok("keep reference", h_sh("rm -rf '%s/ref' && mv '%s/dest' '%s/ref'", fx->tmp, fx->tmp, fx->tmp));
    struct op op = {.name = "recover", .args = args, .snapshot = fx->snap_cat, .after = recover_after,
                    .prepare = recover_prepare};
    run_op(fx, &op);
    free(args);
}

/* ---- receive-wal ---- */

#define RW_SWITCHES 2                 /* segments closed while a receiver with a kill point runs */
#define RW_STREAM_TIMEOUT_MS 30000    /* a restarted receiver may wait 1+2+4+8 s for a dead one's slot */

/*
 * The next receive-wal and archive-wal: a new receiver streams the segment
 * closed now, stops cleanly, archive-wal archives: then the catalog is
 * clean, nothing archived before is lost, and xlog.db has every segment
 * from the first one streamed through the one just closed.
 */
static void
receive_and_archive(struct fixture *fx, const struct h_catalog *before, const char *when)
{
    pid_t pid = h_fenv_receiver_start(fx->fe, "stream", NULL);
    char *closed = h_fenv_stream_switch(fx->fe, "stream", pid, RW_STREAM_TIMEOUT_MS, when), *gap;
    struct h_catalog after;
    struct h_result r;

    h_fenv_stream_settle(fx->fe, "stream", pid, RW_STREAM_TIMEOUT_MS, when);
    h_fenv_receiver_stop(fx->fe, "stream", pid, when);
    r = barrel_sh(fx, 0, NULL, "archive-wal stream", NULL);
    if (r.status != 0)
        fail_msg("archive-wal stream failed %s: %s%s", when, r.out, r.err);
    h_fenv_check_catalog(fx->fe, "stream", &after, when);
    if (before != NULL)
        check_nothing_lost(before, &after, NULL, NULL, when);
    gap = h_fenv_wal_gap(&after, closed);
    if (gap != NULL)
        fail_msg("WAL sequence broken %s:\n%sarchive-wal said: %s%s", when, gap, r.out, r.err);
    h_result_free(&r);
    h_catalog_free(&after);
    free(closed);
}

static void
test_kill_receive_wal(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_PG(fx);
    char *trace = br_asprintf("%s/trace", fx->tmp), *env;
    struct h_catalog before;
    long total, *pts;
    pid_t pid;
    int n, killed = 0, recovered = 0;

    /* the first receiver creates the slot; its segment is the start of the sequence */
    receive_and_archive(fx, NULL, "at the first receive-wal");

    /* trace: a receiver that streams RW_SWITCHES segments, then stops */
    unlink(trace);
    env = fault_env(0, trace);
    pid = h_fenv_receiver_start(fx->fe, "stream", env);
    free(env);
    for (int k = 0; k < RW_SWITCHES; k++)
        free(h_fenv_stream_switch(fx->fe, "stream", pid, RW_STREAM_TIMEOUT_MS, "in the traced run"));
    h_fenv_receiver_stop(fx->fe, "stream", pid, "after the traced run");
    total = count_lines(trace);
    h_ok("archive-wal stream", barrel_sh(fx, 0, NULL, "archive-wal stream", NULL));
    assert_true(total > 0);

    pts = draw_points(fx, total, &n);
    for (int i = 0; i < n; i++) {
        char *when = br_asprintf("after receive-wal killed at point %ld of %ld (FAULT_SEED=%u)", pts[i], total,
                                 fx->seed);
        int status, streamed = 1;

        h_fenv_check_catalog(fx->fe, "stream", &before, "before receive-wal");
        env = fault_env(pts[i], NULL);
        pid = h_fenv_receiver_start(fx->fe, "stream", env);
        free(env);
        /* WAL arrives until the receiver dies at its point, or has streamed RW_SWITCHES segments */
        for (int k = 0; k < RW_SWITCHES && streamed; k++) {
            char *closed = h_fenv_switch(fx->fe);

            streamed = h_fenv_wait_streamed(fx->fe, "stream", pid, closed, 0, RW_STREAM_TIMEOUT_MS);
            free(closed);
        }
        /* still running: stop it (the last points are on its way out: the kill may land there) */
        if (streamed)
            kill(pid, SIGTERM);
        status = h_spawn_wait(pid, 10000);
        if (status == KILLED_STATUS)
            killed++;
        else if (!streamed || status != 0)
            fail_msg("receive-wal with a kill point at %ld ended with status %d %s", pts[i], status,
                     streamed ? "when stopped" : "before it was killed");
        receive_and_archive(fx, &before, when);
        recovered++;
        h_catalog_free(&before);
        free(when);
    }
    table_line("receive-wal", total, n, killed, recovered);
    /* where the kills landed (the traced run's names of the drawn points) */
    {
        char *text = h_read_file(trace);

        printf("receive-wal kill points:");
        for (int i = 0; i < n; i++) {
            char *kind = text != NULL ? point_kind(text, pts[i]) : NULL;

            printf(" %ld:%s", pts[i], kind != NULL ? kind : "?");
            free(kind);
        }
        printf("\n");
        free(text);
    }
    assert_true(n >= (total < fx->points ? total : fx->points));
    free(pts);
    free(trace);
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
        cmocka_unit_test(test_kill_receive_wal),
    };
    /* FAULT_ONLY=test_kill_backup (a glob) runs part of the suite */
    if (getenv("FAULT_ONLY") != NULL)
        cmocka_set_test_filter(getenv("FAULT_ONLY"));
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
