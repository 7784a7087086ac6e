/*
 * test_diskfull.c: the catalog on a full filesystem.
 *
 * barman_home is a 256 MiB tmpfs (mounted by the test when it runs as root
 * and mount(2) works; otherwise every test is skipped with the reason).
 * PostgreSQL archives into an incoming directory on another filesystem, so
 * that only barrel's own writes meet the full disk. A filler file
 * (fallocate) takes all but a chosen number of bytes, then:
 *
 *   - backup: exits non-zero with one line naming "No space left on device"
 *     and the file; backup.info says FAILED with the same error; the data of
 *     the failed backup is removed (the space comes back); the earlier DONE
 *     backup and every archived WAL file are intact and verify-backup passes;
 *     once the filler is gone the next backup succeeds;
 *   - archive-wal of three segments into a server that stores them
 *     uncompressed (16 MiB each) with room for one and a half: the same
 *     clear error, the catalog clean (no line without its file, no
 *     temporary file left taking space), nothing archived before lost; once
 *     space is freed the next run archives the rest, with no gap;
 *   - put-wal of a 16 MiB segment into an incoming/ that has room for half
 *     of it: the clear error, nothing left in incoming/; the retry after
 *     freeing space stores the exact bytes, archive-wal archives both
 *     segments sent, in order;
 *   - receive-wal: the next segment's partial file cannot be padded: the
 *     receiver exits non-zero with the clear error in its output; archive-wal
 *     on the full disk fails cleanly or succeeds, never leaving the catalog
 *     inconsistent; once space is freed a new receiver resumes and the
 *     archived sequence has no gap.
 *
 * The filesystem is unmounted on every path (group teardown, and an atexit
 * handler in tests/lib/faultenv.c for the paths that skip the teardown).
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
#include "barrel/strbuf.h"
#include "catalog_setup.h"
#include "catcheck.h"
#include "faultenv.h"
#include "harness.h"
#include "spawn.h"

#define TMPFS_MB 256
#define SEG_BYTES (16LL * 1024 * 1024)
#define STREAM_TIMEOUT_MS 30000
#define ENOSPC_TEXT "No space left on device"

struct fixture {
    struct h_fenv *fe;
    char *filler;
    char *arch_incoming;     /* server arch's incoming directory (off the small filesystem) */
};

static char *g_skip_reason;

/* ---- helpers ---- */

static struct fixture *
need_env(void **state)
{
    struct fixture *fx = *state;

    if (fx == NULL) {
        print_message("disk-full tests skipped: %s\n", g_skip_reason != NULL ? g_skip_reason : "no environment");
        skip();
    }
    return fx;
}

/* Take all the free space of barman_home's filesystem but `leave` bytes. */
static void
fill_disk(struct fixture *fx, long long leave)
{
    long long avail = h_fenv_free_bytes(fx->fe->home), take = avail - leave;

    if (take <= 0)
        fail_msg("only %lld bytes free on %s, wanted to leave %lld", avail, fx->fe->home, leave);
    h_ok("fill the disk", h_sh("fallocate -l %lld '%s'", take, fx->filler));
    if (h_fenv_free_bytes(fx->fe->home) > leave + 65536)
        fail_msg("the filler did not fill %s: %lld bytes free", fx->fe->home, h_fenv_free_bytes(fx->fe->home));
}

static void
free_disk(struct fixture *fx)
{
    unlink(fx->filler);
}

/*
 * The error: non-zero status, a line with "No space left on device" and the
 * path under barman_home; with one_line (a command's stderr), nothing else.
 */
static void
assert_enospc(const struct fixture *fx, const char *what, int status, const char *text, int one_line)
{
    if (one_line && text != NULL && strchr(text, '\n') != NULL && strchr(text, '\n')[1] != '\0')
        fail_msg("%s: more than one line of error on a full disk:\n%s", what, text);
    const char *line = text != NULL ? strstr(text, ENOSPC_TEXT) : NULL;
    const char *bol;

    if (status != 1)
        fail_msg("%s on a full disk: status %d, expected 1:\n%s", what, status, text != NULL ? text : "");
    if (line == NULL)
        fail_msg("%s failed (status %d) without saying \"" ENOSPC_TEXT "\":\n%s", what, status, text);
    for (bol = line; bol > text && bol[-1] != '\n'; bol--)
        ;
    /* the same line names the file (under barman_home) that could not be written */
    {
        char *one = br_strndup(bol, strcspn(bol, "\n"));

        if (strstr(one, fx->fe->home) == NULL)
            fail_msg("%s: the disk-full error does not name the file under %s: %s", what, fx->fe->home, one);
        free(one);
    }
}

/* No temporary file (*.tmp, .<pid>-<name>) left under dir taking space. */
static void
assert_no_leftovers(const char *dir, const char *when)
{
    struct h_result r = h_sh("find '%s' -type f \\( -name '*.tmp' -o -name '.[0-9]*-*' \\) 2>/dev/null", dir);

    if (r.out[0] != '\0')
        fail_msg("temporary files left %s:\n%s", when, r.out);
    h_result_free(&r);
}

/* Every DONE backup and every WAL name of `before` is still in `after`. */
static void
assert_nothing_lost(const struct h_catalog *before, const struct h_catalog *after, const char *when)
{
    for (size_t i = 0; i < before->n_wals; i++)
        if (!h_catalog_has_wal(after, before->wal_names[i]))
            fail_msg("WAL %s lost %s", before->wal_names[i], when);
    for (size_t i = 0; i < before->n_done; i++)
        if (!h_catalog_has_done(after, before->done_ids[i]))
            fail_msg("DONE backup %s lost %s", before->done_ids[i], when);
}

/* ---- setup ---- */

static int
group_setup(void **state)
{
    struct h_fenv_opts opts = {.tmpfs_mb = TMPFS_MB, .incoming_outside = 1};
    struct fixture *fx;
    char *why = NULL, *pg, *zstd, *lz4, *dflt, *arch, *tear, *put, *stream, *extra, *sections;
    struct h_fenv *fe = h_fenv_new(&opts, &why);

    *state = NULL;
    if (fe == NULL) {
        int failed = strncmp(why, "error:", 6) == 0;

        fprintf(stderr, "disk-full tests: %s\n", why);
        g_skip_reason = why;
        return failed ? -1 : 0;
    }
    fx = br_calloc(1, sizeof(*fx));
    fx->fe = fe;
    fx->filler = br_asprintf("%s/filler", fe->home);
    /* pg: backups and WAL from archive_command, gzip */
    extra = br_asprintf("incoming_wals_directory = %s\ncompression = gzip\nbackup_compression = gzip\n"
                        "immediate_checkpoint = true\n", fe->incoming);
    pg = h_fenv_section(fe, "pg", 0, extra);
    free(extra);
    /* arch: segments taken from pg's incoming, stored uncompressed: 16 MiB each on the small filesystem */
    fx->arch_incoming = br_asprintf("%s/arch-incoming", fe->tmp);
    mkdir(fx->arch_incoming, 0700);
    extra = br_asprintf("incoming_wals_directory = %s\ncompression = none\n", fx->arch_incoming);
    arch = h_fenv_section(fe, "arch", 0, extra);
    /* zstd, lz4, default (no backup_compression): backups through the other compressors */
    zstd = h_fenv_section(fe, "zstd", 0, "backup_compression = zstd\nimmediate_checkpoint = true\n");
    lz4 = h_fenv_section(fe, "lz4", 0, "backup_compression = lz4\nimmediate_checkpoint = true\n");
    dflt = h_fenv_section(fe, "default", 0, "immediate_checkpoint = true\n");
    /* tear: like arch, its xlog.db seeded to end just before a page boundary */
    free(extra);
    extra = br_asprintf("%s/tear-incoming", fe->tmp);
    mkdir(extra, 0700);
    free(extra);
    extra = br_asprintf("incoming_wals_directory = %s/tear-incoming\ncompression = none\n", fe->tmp);
    tear = h_fenv_section(fe, "tear", 0, extra);
    /* put: put-wal into its incoming/ on the small filesystem */
    put = h_fenv_section(fe, "put", 0, "compression = none\n");
    /* stream: receive-wal into streaming/ on the small filesystem */
    stream = h_fenv_section(fe, "stream", 0, "streaming_archiver = on\ncompression = gzip\n"
                                             "slot_name = barrel_diskfull\ncreate_slot = auto\n");
    sections = br_asprintf("%s%s%s%s%s%s%s%s", pg, zstd, lz4, dflt, arch, tear, put, stream);
    h_fenv_write_conf(fe, sections);
    free(sections);
    free(stream);
    free(put);
    free(arch);
    free(tear);
    free(zstd);
    free(lz4);
    free(dflt);
    free(pg);
    free(extra);
    *state = fx;

    /* one DONE backup and its WAL */
    h_fenv_seed_backup(fe, "pg");
    return 0;
}

static int
group_teardown(void **state)
{
    struct fixture *fx = *state;

    free(g_skip_reason);
    g_skip_reason = NULL;
    if (fx == NULL)
        return 0;
    h_fenv_free(fx->fe);
    free(fx->filler);
    free(fx->arch_incoming);
    free(fx);
    return 0;
}

static int
test_teardown(void **state)
{
    struct fixture *fx = *state;

    if (fx != NULL)
        free_disk(fx);
    return 0;
}

/* ---- backup ---- */

/*
 * `backup SERVER` with room for backup.info but not for the data: one line
 * naming ENOSPC and the file, the new backup FAILED with the cause, its
 * data removed, no temporary file left, everything of `before` still there.
 */
static void
backup_into_full_disk(struct fixture *fx, const char *server, const struct h_catalog *before)
{
    char *args = br_asprintf("backup %s", server), *what = br_asprintf("backup %s", server);
    char *id, *status, *error, *data;
    struct h_catalog after;
    struct h_result r;

    fill_disk(fx, 1024 * 1024);
    r = h_fenv_barrel(fx->fe, NULL, args, NULL);
    print_message("%s on a full disk: status %d, stderr: %s", what, r.status, r.err);
    assert_enospc(fx, what, r.status, r.err, 1);

    h_fenv_check_catalog(fx->fe, server, &after, "after the failed backup");
    assert_int_equal(after.n_backups, before->n_backups + 1);
    {
        struct h_result ls = h_sh("ls '%s/%s/base' | tail -1", fx->fe->home, server);

        id = br_strndup(ls.out, strcspn(ls.out, "\n"));
        h_result_free(&ls);
    }
    status = h_fenv_backup_field(fx->fe, server, id, "status");
    error = h_fenv_backup_field(fx->fe, server, id, "error");
    if (status == NULL || strcmp(status, "FAILED") != 0)
        fail_msg("%s: backup.info of %s says status=%s", what, id, status != NULL ? status : "(missing)");
    if (error == NULL || strstr(error, ENOSPC_TEXT) == NULL)
        fail_msg("%s: backup.info of %s says error=%s", what, id, error != NULL ? error : "(missing)");
    data = br_asprintf("%s/%s/base/%s/data", fx->fe->home, server, id);
    if (access(data, F_OK) == 0)
        fail_msg("%s: the data of the FAILED backup %s is still there, taking space", what, id);
    assert_no_leftovers(fx->fe->home, "after the failed backup");
    assert_nothing_lost(before, &after, "after the failed backup");
    h_fenv_verify_done(fx->fe, server, &after, "after the failed backup");
    free_disk(fx);
    h_result_free(&r);
    h_catalog_free(&after);
    free(data);
    free(status);
    free(error);
    free(id);
    free(what);
    free(args);
}

static void
test_diskfull_backup(void **state)
{
    struct fixture *fx = need_env(state);
    struct h_catalog before, after;

    h_fenv_check_catalog(fx->fe, "pg", &before, "before the backup");
    assert_true(before.n_done >= 1);
    backup_into_full_disk(fx, "pg", &before);

    /* space back: the next backup works */
    h_ok("backup after freeing space", h_fenv_barrel(fx->fe, NULL, "backup --wait pg", NULL));
    h_fenv_check_catalog(fx->fe, "pg", &after, "after the next backup");
    assert_int_equal(after.n_done, before.n_done + 1);
    h_fenv_verify_done(fx->fe, "pg", &after, "after the next backup");
    /* its space is needed by the WAL tests */
    {
        char *args = br_asprintf("delete pg %s", after.done_ids[after.n_done - 1]);

        h_ok("delete", h_fenv_barrel(fx->fe, NULL, args, NULL));
        free(args);
    }
    h_catalog_free(&after);
    h_catalog_free(&before);
}

/* The other compressors' failure paths: zstd (its own stage), lz4 (libarchive's filter), the default. */
static void
test_diskfull_backup_compressions(void **state)
{
    struct fixture *fx = need_env(state);
    static const char *const servers[] = {"zstd", "lz4", "default"};

    for (size_t i = 0; i < BR_ARRAY_LEN(servers); i++) {
        struct h_catalog before;

        h_fenv_check_catalog(fx->fe, servers[i], &before, "before the backup");
        backup_into_full_disk(fx, servers[i], &before);
        h_catalog_free(&before);
    }
}

/*
 * Less and less room: at 0 bytes even backup.info cannot be written. Every
 * run fails with the one-line ENOSPC error, and leaves nothing behind but,
 * at most, a FAILED backup.info.
 */
static void
test_diskfull_backup_no_room(void **state)
{
    struct fixture *fx = need_env(state);
    static const long long leave[] = {0, 4096, 64 * 1024};

    for (size_t i = 0; i < BR_ARRAY_LEN(leave); i++) {
        struct h_catalog before, after;
        struct h_result r;
        char *what = br_asprintf("backup pg with %lld bytes free", leave[i]);

        h_fenv_check_catalog(fx->fe, "pg", &before, "before the backup");
        fill_disk(fx, leave[i]);
        r = h_fenv_barrel(fx->fe, NULL, "backup pg", NULL);
        print_message("%s: status %d, stderr: %s", what, r.status, r.err);
        assert_enospc(fx, what, r.status, r.err, 1);
        h_result_free(&r);
        h_fenv_check_catalog(fx->fe, "pg", &after, what);
        assert_nothing_lost(&before, &after, what);
        if (after.n_done != before.n_done)
            fail_msg("%s: %zu DONE backups, expected %zu", what, after.n_done, before.n_done);
        free_disk(fx);
        assert_no_leftovers(fx->fe->home, what);
        /* no backup directory without its backup.info */
        r = h_sh("for d in '%s'/pg/base/*/; do [ -f \"$d/backup.info\" ] || echo \"$d\"; done", fx->fe->home);
        if (r.out[0] != '\0')
            fail_msg("%s left backup directories without backup.info:\n%s", what, r.out);
        h_result_free(&r);
        h_fenv_verify_done(fx->fe, "pg", &after, what);
        h_catalog_free(&after);
        h_catalog_free(&before);
        free(what);
    }
}

/*
 * The day the disk is full is the day backups get deleted: `delete` of the
 * oldest DONE backup with 0 bytes free must work (removing frees space
 * before anything is rewritten), and the rest stays whole.
 */
static void
test_diskfull_delete(void **state)
{
    struct fixture *fx = need_env(state);
    struct h_catalog before, after;
    struct h_result r;
    char *args;
    long long free_before;

    h_ok("a second DONE backup", h_fenv_barrel(fx->fe, NULL, "backup --wait pg", NULL));
    h_fenv_check_catalog(fx->fe, "pg", &before, "before delete");
    assert_true(before.n_done >= 2);
    fill_disk(fx, 0);
    free_before = h_fenv_free_bytes(fx->fe->home);
    args = br_asprintf("delete pg %s", before.done_ids[0]);
    r = h_fenv_barrel(fx->fe, NULL, args, NULL);
    print_message("delete on a full disk: status %d, %lld -> %lld bytes free\n%s%s", r.status, free_before,
                  h_fenv_free_bytes(fx->fe->home), r.out, r.err);
    if (r.status != 0)
        fail_msg("delete of %s failed on a full disk (status %d): %s", before.done_ids[0], r.status, r.err);
    h_result_free(&r);
    h_fenv_check_catalog(fx->fe, "pg", &after, "after delete on a full disk");
    assert_int_equal(after.n_done, before.n_done - 1);
    for (size_t i = 1; i < before.n_done; i++) {
        int found = 0;

        for (size_t j = 0; j < after.n_done; j++)
            found |= strcmp(before.done_ids[i], after.done_ids[j]) == 0;
        if (!found)
            fail_msg("delete on a full disk lost DONE backup %s", before.done_ids[i]);
    }
    if (h_fenv_free_bytes(fx->fe->home) <= free_before)
        fail_msg("delete freed nothing");
    h_fenv_verify_done(fx->fe, "pg", &after, "after delete on a full disk");
    h_catalog_free(&after);
    h_catalog_free(&before);
    free(args);
}

/* ---- archive-wal ---- */

static void
test_diskfull_archive_wal(void **state)
{
    struct fixture *fx = need_env(state);
    struct h_catalog before, after;
    struct h_result r;
    char *last = NULL, *gap;

    h_fenv_check_catalog(fx->fe, "arch", &before, "before archive-wal");
    /* three consecutive segments, moved from pg's incoming to arch's */
    for (int i = 0; i < 3; i++) {
        free(last);
        last = h_fenv_switch(fx->fe);
        h_fenv_wait_archived(fx->fe, last);
        h_ok("move a segment to arch", h_sh("mv '%s/%s' '%s/'", fx->fe->incoming, last, fx->arch_incoming));
    }
    /* room for one segment and a half */
    fill_disk(fx, SEG_BYTES + SEG_BYTES / 2);
    r = h_fenv_barrel(fx->fe, NULL, "archive-wal arch", NULL);
    print_message("archive-wal on a full disk: status %d, stderr: %s", r.status, r.err);
    assert_enospc(fx, "archive-wal", r.status, r.err, 1);
    h_result_free(&r);
    h_fenv_check_catalog(fx->fe, "arch", &after, "after archive-wal failed");
    assert_nothing_lost(&before, &after, "after archive-wal failed");
    assert_no_leftovers(fx->fe->home, "after archive-wal failed");
    gap = h_fenv_wal_gap(&after, NULL);
    if (gap != NULL)
        fail_msg("WAL sequence broken after archive-wal failed:\n%s", gap);
    h_catalog_free(&after);

    /* space back: the rest is archived, in order */
    free_disk(fx);
    h_ok("archive-wal after freeing space", h_fenv_barrel(fx->fe, NULL, "archive-wal arch", NULL));
    h_fenv_check_catalog(fx->fe, "arch", &after, "after the next archive-wal");
    assert_nothing_lost(&before, &after, "after the next archive-wal");
    gap = h_fenv_wal_gap(&after, last);
    if (gap != NULL)
        fail_msg("WAL sequence broken after the next archive-wal:\n%s", gap);
    {
        struct h_result ls = h_sh("ls -A '%s'", fx->arch_incoming);

        if (ls.out[0] != '\0')
            fail_msg("incoming/ not empty after archive-wal: %s", ls.out);
        h_result_free(&ls);
    }
    h_catalog_free(&after);
    h_catalog_free(&before);
    free(last);
}

/* ---- the xlog.db line that does not fit ---- */

#define PAGE_BYTES 4096
#define XLOGDB_ROOM 8          /* bytes left in xlog.db's last page: less than a line */

/*
 * Seed server "tear" with history files and their xlog.db lines, sized so
 * that xlog.db ends XLOGDB_ROOM bytes before a page boundary: on a full
 * tmpfs the next line can only be written in part.
 */
static void
seed_tear_catalog(const struct fixture *fx)
{
    char *wals = br_asprintf("%s/tear/wals", fx->fe->home), *xlogdb;
    const char *content = "1\t0/3000000\tno recovery target specified\n";
    const size_t target = PAGE_BYTES - XLOGDB_ROOM;
    struct strbuf db;
    size_t line_len, n, extra;

    h_ok("mkdir tear/wals", h_sh("mkdir -p '%s' && chmod 0700 '%s/tear' '%s'", wals, fx->fe->home, wals));
    /* every line "<8 hex>.history\t<size>\t1700000000.<decimals>5\tNone\n": up to 5 more decimals each */
    line_len = strlen("00000002.history\t\t1700000000.5\tNone\n") + (size_t) snprintf(NULL, 0, "%zu", strlen(content));
    n = target / line_len;
    extra = target - n * line_len;
    strbuf_init(&db);
    for (size_t i = 0; i < n; i++) {
        char *name = br_asprintf("%08zX.history", i + 2), *path = br_asprintf("%s/%s", wals, name);
        int e = extra > 5 ? 5 : (int) extra;

        extra -= (size_t) e;
        strbuf_appendf(&db, "%s\t%zu\t1700000000.%.*s5\tNone\n", name, strlen(content), e, "12345");
        h_write_file(path, content);
        free(path);
        free(name);
    }
    if (db.len != target || extra != 0)
        fail_msg("could not size xlog.db to %zu bytes (got %zu)", target, db.len);
    xlogdb = br_asprintf("%s/xlog.db", wals);
    h_write_file(xlogdb, db.buf);
    free(xlogdb);
    strbuf_free(&db);
    free(wals);
}

static void
test_diskfull_xlogdb_line(void **state)
{
    struct fixture *fx = need_env(state);
    char *seg, *incoming = br_asprintf("%s/tear-incoming", fx->fe->tmp);
    struct h_catalog before, after;
    struct h_result r;

    seed_tear_catalog(fx);
    h_fenv_check_catalog(fx->fe, "tear", &before, "in the seeded catalog");
    /* a first run with nothing to do leaves its lock files (a page each), which are never removed */
    h_ok("archive-wal tear (nothing to do)", h_fenv_barrel(fx->fe, NULL, "archive-wal tear", NULL));
    /* a real segment (archive-wal checks its page header), copied from pg's incoming */
    seg = h_fenv_switch(fx->fe);
    h_fenv_wait_archived(fx->fe, seg);
    h_ok("copy a segment", h_sh("cp '%s/%s' '%s/'", fx->fe->incoming, seg, incoming));
    /* room for the segment's copy and the commit journal (one page): not for a new page of xlog.db */
    fill_disk(fx, SEG_BYTES + PAGE_BYTES);
    if (h_fenv_free_bytes(fx->fe->home) != SEG_BYTES + PAGE_BYTES)
        fail_msg("%lld bytes free, wanted exactly %lld", h_fenv_free_bytes(fx->fe->home), SEG_BYTES + PAGE_BYTES);
    r = h_fenv_barrel(fx->fe, NULL, "archive-wal tear", NULL);
    print_message("archive-wal with no room for the xlog.db line: status %d, stderr: %s", r.status, r.err);
    assert_enospc(fx, "archive-wal (xlog.db line)", r.status, r.err, 1);
    if (strstr(r.err, "xlog.db") == NULL)
        fail_msg("archive-wal did not fail on xlog.db as planned: %s", r.err);
    h_result_free(&r);
    /*
     * xlog.db whole: no torn line; the segment is in wals/ without its line
     * (named in the commit journal, as after a crash at that point)
     */
    {
        char *dir = br_asprintf("%s/tear", fx->fe->home);
        char *want = br_asprintf("file wals/%.16s/%s has no xlog.db line\n", seg, seg);

        h_catalog_check(dir, &after);
        if (after.problems != NULL && strcmp(after.problems, want) != 0)
            fail_msg("after archive-wal failed to write its xlog.db line:\n%s", after.problems);
        free(want);
        free(dir);
        h_catalog_free(&after);
    }

    /* space back: the next run adds the line (from the journal) */
    free_disk(fx);
    h_ok("archive-wal tear after freeing space", h_fenv_barrel(fx->fe, NULL, "archive-wal tear", NULL));
    h_fenv_check_catalog(fx->fe, "tear", &after, "after the next archive-wal");
    assert_int_equal(after.n_wals, before.n_wals + 1);
    assert_true(h_catalog_has_wal(&after, seg));
    h_catalog_free(&after);
    h_catalog_free(&before);
    free(seg);
    free(incoming);
}

/* ---- put-wal ---- */

#define PUT_SEG_1 "0000000100000000000000F0"
#define PUT_SEG_2 "0000000100000000000000F1"

/* A put-wal stream (the segment and its MD5SUMS in a pax tar) of random bytes; the path of the tar. */
static char *
make_put_stream(const struct fixture *fx, const char *seg)
{
    char *tar = br_asprintf("%s/put-%s.tar", fx->fe->tmp, seg);

    h_ok("make put-wal stream",
              h_sh("mkdir -p '%s/seg' && cd '%s/seg' && head -c %lld /dev/urandom > %s && "
                   "md5sum %s | sed 's/  / */' > MD5SUMS && tar --format=pax -cf '%s' %s MD5SUMS",
                   fx->fe->tmp, fx->fe->tmp, SEG_BYTES, seg, seg, tar, seg));
    return tar;
}

static void
test_diskfull_put_wal(void **state)
{
    struct fixture *fx = need_env(state);
    char *tar1 = make_put_stream(fx, PUT_SEG_1), *tar2 = make_put_stream(fx, PUT_SEG_2), *gap;
    char *incoming = br_asprintf("%s/put/incoming", fx->fe->home);
    struct h_catalog after;
    struct h_result r;

    h_ok("put-wal " PUT_SEG_1, h_fenv_barrel(fx->fe, NULL, "put-wal put", tar1));
    /* room for half a segment */
    fill_disk(fx, SEG_BYTES / 2);
    r = h_fenv_barrel(fx->fe, NULL, "put-wal put", tar2);
    print_message("put-wal on a full disk: status %d, stderr: %s", r.status, r.err);
    assert_enospc(fx, "put-wal", r.status, r.err, 1);
    h_result_free(&r);
    assert_no_leftovers(incoming, "after put-wal failed");
    r = h_sh("ls -A '%s'", incoming);
    assert_string_equal(r.out, PUT_SEG_1 "\n");
    h_result_free(&r);

    free_disk(fx);
    h_ok("put-wal after freeing space", h_fenv_barrel(fx->fe, NULL, "put-wal put", tar2));
    r = h_sh("cmp '%s/seg/" PUT_SEG_2 "' '%s/" PUT_SEG_2 "'", fx->fe->tmp, incoming);
    if (r.status != 0)
        fail_msg("incoming/" PUT_SEG_2 " is not the segment sent: %s%s", r.out, r.err);
    h_result_free(&r);
    h_ok("archive-wal put", h_fenv_barrel(fx->fe, NULL, "archive-wal put", NULL));
    h_fenv_check_catalog(fx->fe, "put", &after, "after put-wal and archive-wal");
    assert_int_equal(after.n_wals, 2);
    gap = h_fenv_wal_gap(&after, PUT_SEG_2);
    if (gap != NULL)
        fail_msg("put-wal: %s", gap);
    h_catalog_free(&after);
    free(incoming);
    free(tar1);
    free(tar2);
}

/* ---- receive-wal ---- */

static void
test_diskfull_receive_wal(void **state)
{
    struct fixture *fx = need_env(state);
    struct h_catalog before, after;
    struct h_result r;
    char *closed, *log, *gap;
    pid_t pid;
    int status;

    /* a first receiver: the slot, one segment archived, the next one's partial padded */
    pid = h_fenv_receiver_start(fx->fe, "stream", NULL);
    free(h_fenv_stream_switch(fx->fe, "stream", pid, STREAM_TIMEOUT_MS, "at the first receive-wal"));
    h_fenv_stream_settle(fx->fe, "stream", pid, STREAM_TIMEOUT_MS, "at the first receive-wal");
    h_fenv_receiver_stop(fx->fe, "stream", pid, "at the first receive-wal");
    h_ok("archive-wal stream", h_fenv_barrel(fx->fe, NULL, "archive-wal stream", NULL));
    h_fenv_check_catalog(fx->fe, "stream", &before, "before the disk fills");
    assert_true(before.n_wals >= 1);

    /* room for half a segment: the partial after the next switch cannot be padded */
    fill_disk(fx, SEG_BYTES / 2);
    pid = h_fenv_receiver_start(fx->fe, "stream", NULL);
    closed = h_fenv_switch(fx->fe);
    free(h_fenv_sql(fx->fe, "INSERT INTO marks VALUES (0, 'next segment')"));
    status = h_spawn_wait(pid, STREAM_TIMEOUT_MS);
    log = h_fenv_receiver_log(fx->fe, "stream");
    print_message("receive-wal on a full disk: status %d, output:\n%s", status, log);
    if (status == -1)
        fail_msg("receive-wal still runs %d s after the disk filled; its output:\n%s", STREAM_TIMEOUT_MS / 1000, log);
    assert_enospc(fx, "receive-wal", status, log, 0);
    free(log);

    /* archive-wal on the full disk: a clean failure or a success, never a broken catalog */
    r = h_fenv_barrel(fx->fe, NULL, "archive-wal stream", NULL);
    print_message("archive-wal stream on a full disk: status %d, stderr: %s", r.status, r.err);
    if (r.status != 0)
        assert_enospc(fx, "archive-wal stream", r.status, r.err, 1);
    h_result_free(&r);
    h_fenv_check_catalog(fx->fe, "stream", &after, "after receive-wal met the full disk");
    assert_nothing_lost(&before, &after, "after receive-wal met the full disk");
    h_catalog_free(&after);

    /* space back: a new receiver resumes, the sequence has no gap */
    free_disk(fx);
    pid = h_fenv_receiver_start(fx->fe, "stream", NULL);
    free(h_fenv_stream_switch(fx->fe, "stream", pid, STREAM_TIMEOUT_MS, "after freeing space"));
    h_fenv_stream_settle(fx->fe, "stream", pid, STREAM_TIMEOUT_MS, "after freeing space");
    h_fenv_receiver_stop(fx->fe, "stream", pid, "after freeing space");
    h_ok("archive-wal stream", h_fenv_barrel(fx->fe, NULL, "archive-wal stream", NULL));
    h_fenv_check_catalog(fx->fe, "stream", &after, "after freeing space");
    assert_nothing_lost(&before, &after, "after freeing space");
    gap = h_fenv_wal_gap(&after, closed);
    if (gap != NULL)
        fail_msg("WAL sequence broken after freeing space:\n%s", gap);
    h_catalog_free(&after);
    h_catalog_free(&before);
    free(closed);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_diskfull_backup, test_teardown),
        cmocka_unit_test_teardown(test_diskfull_backup_compressions, test_teardown),
        cmocka_unit_test_teardown(test_diskfull_backup_no_room, test_teardown),
        cmocka_unit_test_teardown(test_diskfull_delete, test_teardown),
        cmocka_unit_test_teardown(test_diskfull_archive_wal, test_teardown),
        cmocka_unit_test_teardown(test_diskfull_xlogdb_line, test_teardown),
        cmocka_unit_test_teardown(test_diskfull_put_wal, test_teardown),
        cmocka_unit_test_teardown(test_diskfull_receive_wal, test_teardown),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
