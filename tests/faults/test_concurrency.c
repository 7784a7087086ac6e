/*
 * test_concurrency.c: barrel commands racing each other on one catalog.
 *
 * One PostgreSQL 15 cluster archives into incoming/ (archive_command) and,
 * once cron has started it, streams to receive-wal; the catalog uses gzip
 * and bandwidth_limit, so that a base backup lasts long enough (a second or
 * two) for the other command of a pair to run inside it. Each case starts
 * two commands at the same instant (two subshells of one sh) and then reads
 * the catalog with tests/lib/catcheck.h:
 *
 *   - get-wal in a loop while archive-wal moves the same segments from
 *     incoming/ into wals/ (a feeder puts them into incoming/ one by one):
 *     every get-wal returns the exact bytes of the segment, or "not found"
 *     before it was ever found, never a partial file;
 *   - two `cron` at once, several rounds, with a segment closed between
 *     rounds: both exit 0 (the loser says Barman's "already running"
 *     sentence), no WAL lost (every closed segment has its line, verify-wal
 *     passes), no name twice in xlog.db, nothing in errors/;
 *   - two `backup` at once: exactly one succeeds, the other fails with the
 *     lock message, one new backup, and it verifies;
 *   - `backup` while `delete` of the oldest backup runs: both succeed, the
 *     deleted one is gone, every remaining backup verifies.
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
#include "barrel/strbuf.h"
#include "catalog_setup.h"
#include "catcheck.h"
#include "harness.h"
#include "pgwal.h"

#define CRON_ROUNDS 6
#define GETWAL_SEGMENTS 5
#define GETWAL_PASSES 6
/* kB/s: a fresh cluster's base backup (~30 MB) takes about 1.5 s */
#define BANDWIDTH_LIMIT_KBPS 20000

struct fixture {
    char *tmp;
    char *home;        /* barman_home */
    char *conf;
    struct h_pg *pg;
};

/* ---- helpers ---- */

static struct h_result
barrel(const struct fixture *fx, const char *args)
{
    return h_sh("'%s' -c '%s' %s < /dev/null", h_barrel_bin(), fx->conf, args);
}

/*
 * Start `barrel ARGS_A` and `barrel ARGS_B` at the same instant and wait for
 * both: out[0] and out[1] get their status, stdout and stderr.
 */
static void
barrel_pair(const struct fixture *fx, const char *args_a, const char *args_b, struct h_result out[2])
{
    const char *args[2] = {args_a, args_b};
    char *dir = br_asprintf("%s/pair", fx->tmp);
    struct h_result r;

    /* `;` before the first `&`: with `&&`, the whole list up to it would go to the background */
    r = h_sh("rm -rf '%s' && mkdir '%s' && cd '%s' || exit 1; "
             "( '%s' -c '%s' %s </dev/null >o0 2>e0; echo $? >s0 ) & "
             "( '%s' -c '%s' %s </dev/null >o1 2>e1; echo $? >s1 ) & wait",
             dir, dir, dir, h_barrel_bin(), fx->conf, args_a, h_barrel_bin(), fx->conf, args_b);
    h_ok("run a pair", r);
    for (int i = 0; i < 2; i++) {
        char *p = br_asprintf("%s/s%d", dir, i), *status = h_read_file(p);

        if (status == NULL)
            fail_msg("no exit status for `%s`", args[i]);
        out[i].status = atoi(status);
        free(status);
        free(p);
        p = br_asprintf("%s/o%d", dir, i);
        out[i].out = h_read_file(p);
        free(p);
        p = br_asprintf("%s/e%d", dir, i);
        out[i].err = h_read_file(p);
        free(p);
    }
    free(dir);
}

static char *
server_dir(const struct fixture *fx)
{
    return br_asprintf("%s/pg", fx->home);
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
        struct h_result r = barrel(fx, args);

        if (r.status != 0)
            fail_msg("verify-backup %s failed %s: %s%s", cat->done_ids[i], when, r.out, r.err);
        h_result_free(&r);
        free(args);
    }
}

/* The number of xlog.db lines naming `name`. */
static int
wal_lines(const struct h_catalog *c, const char *name)
{
    int n = 0;

    for (size_t i = 0; i < c->n_wals; i++)
        n += strcmp(c->wal_names[i], name) == 0;
    return n;
}

/* Entries of a directory (0 when it does not exist). */
static int
dir_entries(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *de;
    int n = 0;

    if (d == NULL)
        return 0;
    while ((de = readdir(d)) != NULL)
        n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    closedir(d);
    return n;
}

static void
assert_no_error_files(const struct fixture *fx)
{
    char *errors = br_asprintf("%s/pg/errors", fx->home);
    struct h_result r = h_sh("ls -A '%s' 2>/dev/null", errors);

    if (dir_entries(errors) != 0)
        fail_msg("archive-wal moved files to errors/: %s", r.out);
    h_result_free(&r);
    free(errors);
}

/* Wait until no archive-wal (started by cron or by backup --wait) holds its lock. */
static void
wait_archiver(const struct fixture *fx)
{
    for (int i = 0; i < 200; i++) {
        struct h_result r = h_sh("l='%s/.pg-archive-wal.lock'; [ ! -e \"$l\" ] || flock -n \"$l\" true", fx->home);
        int free_now = r.status == 0;

        h_result_free(&r);
        if (free_now)
            return;
        usleep(50000);
    }
    fail_msg("archive-wal still holds its lock after 10 s");
}

static char *
close_segment(struct fixture *fx)
{
    char *seg = h_pg_close_segment(fx->pg);

    if (seg == NULL)
        fail_msg("could not close and archive a WAL segment");
    return seg;
}

/* ---- setup ---- */

static int
group_setup(void **state)
{
    struct fixture *fx;
    char *incoming, *extra, *conninfo, *repl, *user, *text;

    if (!h_pg_available()) {
        fprintf(stderr, "PostgreSQL 15 is not installed: concurrency tests skipped\n");
        *state = NULL;
        return 0;
    }
    fx = br_calloc(1, sizeof(*fx));
    fx->tmp = h_mkdtemp();
    fx->home = br_asprintf("%s/home", fx->tmp);
    fx->conf = br_asprintf("%s/barrel.conf", fx->tmp);

    /* incoming/ is written by archive_command, which runs as the cluster's user */
    incoming = br_asprintf("%s/pg/incoming", fx->home);
    h_ok("mkdir", h_sh("mkdir -p '%s' && chmod 0777 '%s' && chmod 0755 '%s/pg' '%s' '%s'", incoming, incoming,
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
                       "streaming_archiver = on\nslot_name = barrel_concurrency\ncreate_slot = auto\n"
                       "compression = gzip\nimmediate_checkpoint = true\nminimum_redundancy = 1\n"
                       "bandwidth_limit = %d\n",
                       fx->home, user, fx->tmp, conninfo, repl, BANDWIDTH_LIMIT_KBPS);
    h_write_file(fx->conf, text);
    free(text);
    free(user);
    free(repl);
    free(conninfo);
    *state = fx;
    return 0;
}

static int
group_teardown(void **state)
{
    struct fixture *fx = *state;

    if (fx == NULL)
        return 0;
    {
        struct h_result r = barrel(fx, "receive-wal --stop pg");
        h_result_free(&r);
    }
    h_fixture_drop(fx->pg, fx->tmp, fx->home, fx->conf);
    free(fx);
    return 0;
}

#define SKIP_WITHOUT_PG(fx) \
    do { if ((fx) == NULL) skip(); } while (0)

/* ---- get-wal while archive-wal ---- */

/*
 * Segments closed by PostgreSQL are taken out of incoming/ into ref/; then,
 * at once: a feeder puts them back into incoming/ one by one (cp to a
 * directory beside it and rename, as an archive_command does), a loop runs
 * archive-wal until the feeder is done and incoming/ is empty, and a loop
 * runs get-wal for every segment, recording status and whether the bytes
 * are the segment's.
 */
static void
test_getwal_while_archive_wal(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_PG(fx);
    char *segs[GETWAL_SEGMENTS], *gw = br_asprintf("%s/gw", fx->tmp);
    struct strbuf names;
    struct h_catalog cat;
    struct h_result r;
    int seen_ok[GETWAL_SEGMENTS] = {0}, n_ok = 0, n_missing = 0;

    strbuf_init(&names);
    for (int i = 0; i < GETWAL_SEGMENTS; i++) {
        segs[i] = close_segment(fx);
        strbuf_appendf(&names, "%s%s", i ? " " : "", segs[i]);
    }
    h_ok("take the segments out of incoming/",
         h_sh("mkdir -p '%s/ref' '%s/feed' '%s/err' && mv '%s'/pg/incoming/0* '%s/ref/' && ls '%s/ref'", gw, gw, gw,
              fx->home, gw, gw));

    r = h_sh("cd '%s' || exit 1; B='%s'; C='%s'; IN='%s/pg/incoming'; "
             "( for s in %s; do sleep 0.15; cp ref/$s feed/$s && mv feed/$s \"$IN/$s\"; done; touch fed ) & "
             /* bounded: a file archive-wal never takes fails the test (archive.err) instead of hanging it */
             "( n=0; while [ ! -e fed ] || [ -n \"$(ls -A \"$IN\")\" ]; do "
             "    n=$((n + 1)); if [ $n -gt 3000 ]; then "
             "      echo \"ERROR: incoming/ never emptied: $(ls -A \"$IN\")\" >>archive.err; break; fi; "
             "    \"$B\" -c \"$C\" archive-wal pg >>archive.out 2>>archive.err || echo \"status $?\" >>archive.err; "
             "  done ) & "
             "( for i in $(seq 1 %d); do for s in %s; do "
             "    \"$B\" -c \"$C\" get-wal pg $s >got-$s 2>err/$s.$i; st=$?; "
             "    if [ $st = 0 ]; then if cmp -s got-$s ref/$s; then v=same; else v=differ; fi; else v=-; fi; "
             "    echo \"$i $s $st $v $(stat -c %%s got-$s)\" >>results; rm -f got-$s; "
             "  done; done ) & wait",
             gw, h_barrel_bin(), fx->conf, fx->home, names.buf, GETWAL_PASSES, names.buf);
    h_ok("the race", r);

    /* every get-wal: the exact bytes, or "not found" before the segment was first found */
    {
        char *path = br_asprintf("%s/results", gw), *text = h_read_file(path);
        char *save = NULL;

        assert_non_null(text);
        for (char *line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
            int pass, status, idx = -1;
            char seg[64], verdict[16];
            long size;

            if (sscanf(line, "%d %63s %d %15s %ld", &pass, seg, &status, verdict, &size) != 5)
                fail_msg("bad result line: %s", line);
            for (int i = 0; i < GETWAL_SEGMENTS; i++)
                if (strcmp(segs[i], seg) == 0)
                    idx = i;
            assert_true(idx >= 0);
            if (status == 0) {
                if (strcmp(verdict, "same") != 0)
                    fail_msg("get-wal %s (pass %d) returned %ld bytes that are not the segment", seg, pass, size);
                seen_ok[idx] = 1;
                n_ok++;
            } else {
                char *ep = br_asprintf("%s/err/%s.%d", gw, seg, pass), *err = h_read_file(ep);
                char *want = br_asprintf("ERROR: WAL file '%s' not found in server 'pg'\n", seg);

                if (status != 1 || err == NULL || strcmp(err, want) != 0)
                    fail_msg("get-wal %s (pass %d): status %d, stderr: %s", seg, pass, status, err ? err : "");
                if (seen_ok[idx])
                    fail_msg("get-wal %s (pass %d): not found after it had been found", seg, pass);
                if (size != 0)
                    fail_msg("get-wal %s (pass %d): not found but wrote %ld bytes", seg, pass, size);
                n_missing++;
                free(want);
                free(err);
                free(ep);
            }
        }
        free(text);
        free(path);
    }
    printf("get-wal while archive-wal: %d exact, %d not found yet\n", n_ok, n_missing);
    assert_int_equal(n_ok + n_missing, GETWAL_SEGMENTS * GETWAL_PASSES);
    {
        char *path = br_asprintf("%s/archive.err", gw), *err = h_read_file(path);

        if (err != NULL && strstr(err, "ERROR") != NULL)
            fail_msg("archive-wal failed during the race: %s", err);
        free(err);
        free(path);
    }

    /* afterwards: each segment archived once, incoming/ empty, and get-wal returns it */
    check_catalog(fx, &cat, "after get-wal raced archive-wal");
    for (int i = 0; i < GETWAL_SEGMENTS; i++) {
        if (wal_lines(&cat, segs[i]) != 1)
            fail_msg("%s has %d xlog.db lines", segs[i], wal_lines(&cat, segs[i]));
        h_ok("get-wal after archiving",
             h_sh("'%s' -c '%s' get-wal pg %s | cmp - '%s/ref/%s'", h_barrel_bin(), fx->conf, segs[i], gw, segs[i]));
    }
    {
        char *in = br_asprintf("%s/pg/incoming", fx->home);
        assert_int_equal(dir_entries(in), 0);
        free(in);
    }
    assert_no_error_files(fx);
    h_catalog_free(&cat);
    for (int i = 0; i < GETWAL_SEGMENTS; i++)
        free(segs[i]);
    strbuf_free(&names);
    free(gw);
}

/* ---- two crons ---- */

static void
assert_cron_ok(const struct h_result *r, int round)
{
    static const char skip_line[] = "Another cron process is already running. Skipping this run\n";

    if (r->status != 0)
        fail_msg("cron (round %d) exited %d: %s%s", round, r->status, r->out, r->err);
    if (r->err != NULL && strstr(r->err, "ERROR") != NULL)
        fail_msg("cron (round %d) reported an error: %s", round, r->err);
    /* either the run, or Barman's one sentence and nothing else */
    if (strstr(r->out, "Another cron process") != NULL && strcmp(r->out, skip_line) != 0)
        fail_msg("cron (round %d): unexpected output: %s", round, r->out);
}

static void
test_two_crons(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_PG(fx);
    char *closed[CRON_ROUNDS];
    struct h_catalog cat;
    int skipped = 0;

    for (int round = 0; round < CRON_ROUNDS; round++) {
        struct h_result rr[2];

        closed[round] = close_segment(fx);
        barrel_pair(fx, "cron", "cron", rr);
        for (int i = 0; i < 2; i++) {
            assert_cron_ok(&rr[i], round);
            skipped += strstr(rr[i].out, "Another cron process is already running") != NULL;
            h_result_free(&rr[i]);
        }
        wait_archiver(fx);
    }
    printf("two crons: %d rounds, %d runs skipped by the lock\n", CRON_ROUNDS, skipped);

    /* the last segments: whatever incoming/ and streaming/ still hold */
    h_ok("final archive-wal", barrel(fx, "archive-wal pg"));
    check_catalog(fx, &cat, "after concurrent crons");
    for (int round = 0; round < CRON_ROUNDS; round++) {
        if (wal_lines(&cat, closed[round]) != 1)
            fail_msg("WAL %s has %d xlog.db lines after concurrent crons", closed[round],
                     wal_lines(&cat, closed[round]));
        free(closed[round]);
    }
    assert_no_error_files(fx);
    {
        struct h_result r = barrel(fx, "verify-wal pg");

        if (r.status != 0)
            fail_msg("verify-wal after concurrent crons: %s%s", r.out, r.err);
        h_result_free(&r);
    }
    h_catalog_free(&cat);
    /* the receiver cron started keeps running: backup refuses to start without it (streaming_archiver) */
}

/* ---- two backups ---- */

static void
test_two_backups(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_PG(fx);
    struct h_catalog before, after;
    struct h_result rr[2];
    int winner;
    char *want;

    check_catalog(fx, &before, "before two backups");
    barrel_pair(fx, "backup --wait pg", "backup --wait pg", rr);
    if ((rr[0].status == 0) == (rr[1].status == 0))
        fail_msg("two backups at once: statuses %d and %d\n--- first\n%s%s--- second\n%s%s", rr[0].status,
                 rr[1].status, rr[0].out, rr[0].err, rr[1].out, rr[1].err);
    winner = rr[0].status == 0 ? 0 : 1;
    want = br_asprintf("ERROR: Another backup process is running\n"
                       "ERROR: DETAIL: lock file \"%s/.pg-backup.lock\" is held by another process\n",
                       fx->home);
    assert_int_equal(rr[1 - winner].status, 1);
    assert_string_equal(rr[1 - winner].err, want);
    assert_string_equal(rr[1 - winner].out, "");
    free(want);
    h_result_free(&rr[0]);
    h_result_free(&rr[1]);

    wait_archiver(fx);
    check_catalog(fx, &after, "after two backups");
    assert_int_equal(after.n_backups, before.n_backups + 1);
    assert_int_equal(after.n_done, before.n_done + 1);
    verify_done_backups(fx, &after, "after two backups");
    h_catalog_free(&before);
    h_catalog_free(&after);
}

/* ---- backup while delete ---- */

static void
test_backup_while_delete(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_PG(fx);
    struct h_catalog before, after;
    struct h_result rr[2];
    char *oldest, *del;

    /* two DONE backups at least, so that the oldest may go */
    h_ok("backup", barrel(fx, "backup --wait pg"));
    wait_archiver(fx);
    check_catalog(fx, &before, "before backup and delete");
    assert_true(before.n_done >= 2);
    oldest = br_strdup(before.done_ids[0]);
    del = br_asprintf("delete pg %s", oldest);

    barrel_pair(fx, "backup --wait pg", del, rr);
    if (rr[0].status != 0 || rr[1].status != 0)
        fail_msg("backup and delete at once: statuses %d and %d\n--- backup\n%s%s--- delete\n%s%s", rr[0].status,
                 rr[1].status, rr[0].out, rr[0].err, rr[1].out, rr[1].err);
    if (strstr(rr[0].err, "ERROR") != NULL || strstr(rr[1].err, "ERROR") != NULL)
        fail_msg("an error during backup and delete:\n%s%s", rr[0].err, rr[1].err);
    {
        char *line = br_asprintf("Deleting backup %s for server pg\n", oldest);
        if (strstr(rr[1].out, line) == NULL)
            fail_msg("delete did not say it deleted %s: %s", oldest, rr[1].out);
        free(line);
    }
    h_result_free(&rr[0]);
    h_result_free(&rr[1]);

    wait_archiver(fx);
    check_catalog(fx, &after, "after backup and delete");
    if (h_catalog_has_done(&after, oldest))
        fail_msg("backup %s still there after delete", oldest);
    for (size_t i = 1; i < before.n_done; i++)
        if (!h_catalog_has_done(&after, before.done_ids[i]))
            fail_msg("backup %s lost while another was deleted", before.done_ids[i]);
    assert_int_equal(after.n_done, before.n_done);    /* one gone, one new */
    assert_int_equal(after.n_backups, before.n_backups);
    verify_done_backups(fx, &after, "after backup and delete");
    h_catalog_free(&before);
    h_catalog_free(&after);
    free(oldest);
    free(del);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_getwal_while_archive_wal),
        cmocka_unit_test(test_two_crons),
        cmocka_unit_test(test_two_backups),
        cmocka_unit_test(test_backup_while_delete),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
