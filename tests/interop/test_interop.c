/*
 * test_interop.c: barrel and the REAL Barman 3.4 (Debian's barman and
 * barman-cli) on one catalog, both ways, against a PostgreSQL 15 cluster.
 *
 * One primary archives every WAL segment through one archive_command
 * script: a raw copy (the server's own bytes, for byte comparisons), a copy
 * into incoming/ of servers bb, bmt and mx, and barman-wal-archive for
 * server sw (a fake ssh first in PATH runs the remote command line locally;
 * the `barman` it finds is a symlink, to the real Barman or to barrel).
 * Barman's own receive-wal (pg_receivewal) streams for server bmp. Both
 * tools run with the same configuration file as one unprivileged user
 * (barman_user: the cluster's OS user when the tests run as root, else the
 * current user), so that they share the catalog.
 *
 *   bb   barrel backs up (gzip tar, then zstd tar) and archives (gzip, then
 *        bzip2 WAL); Barman lists, checks, recovers (PITR) and applies
 *        REDUNDANCY 2 with cron.
 *   bmp  Barman backs up plain (3.4's "none"), WAL by its receive-wal, gzip;
 *   bmt  Barman backs up gzip tar, WAL by archive_command, gzip;
 *        barrel lists, verifies and recovers both (PITR).
 *   mx   backups by barrel (zstd tar) and Barman (plain) in turns, WAL moved
 *        into wals/ by either tool in turns; retention by each tool on a
 *        copy gives the same verdicts and leaves the same catalog; get-wal
 *        of each tool serves what the other archived, byte for byte.
 *   sw   barman-wal-archive keeps archiving while the `barman` on the backup
 *        host switches from Barman to barrel and back: every segment once.
 *
 * Rows 1..7 of table pitr are committed between the backups, with the time
 * right after each commit; each recovery targets one of those times, and
 * the recovered server is STARTED and must hold exactly the rows before it.
 *
 * Skipped, with a message, when Barman or PostgreSQL 15 is not installed.
 * The cluster, Barman's receive-wal (its whole process group), recovered
 * servers and every directory are removed on every exit path.
 */
#include "barrel/build.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "barrel/mem.h"
#include "barrel/strbuf.h"
#include "catalog_setup.h"
#include "harness.h"
#include "rserver.h"
#include "spawn.h"

#define BARMAN_BIN  "/usr/bin/barman"
#define PG_BIN      "/usr/lib/postgresql/15/bin"
#define N_ROWS      7
#define ID_LEN      15   /* YYYYMMDDTHHMMSS */

struct fixture {
    struct h_pg *pg;
    char *tmp, *home, *conf, *raw, *user;
    char *path_env;              /* PATH=<fake ssh>:<switch barman>:$PATH */
    char *swlink;                /* <tmp>/swbin/barman */
    char time_after[N_ROWS + 1][64];
    /* backup ids */
    char bb[3][ID_LEN + 1];      /* barrel: gzip, zstd, zstd */
    char bmp[ID_LEN + 1];        /* Barman plain */
    char bmt[ID_LEN + 1];        /* Barman gzip tar */
    char mx[3][ID_LEN + 1];      /* barrel, Barman, barrel */
    /* segments moved into mx's wals/ by each tool */
    struct strbuf mx_by_barman, mx_by_barrel;
    pid_t receiver;              /* Barman's receive-wal for bmp (own process group) */
};

static const char *g_os_user;
static pid_t g_receiver;
static char *g_lock_dir;

/* ---------------------------------------------------------------- helpers */

/* Run barrel or Barman (tool = h_barrel_bin() or BARMAN_BIN) with -c CONF (NULL: the fixture's) and args. */
static struct h_result
tool_argv(const struct fixture *fx, const char *tool, const char *conf, const char *const *args)
{
    const char *env[] = {fx->path_env, NULL};

    return h_run_conf(tool, conf ? conf : fx->conf, env, args);
}

#define BARREL(fx, ...) tool_argv((fx), h_barrel_bin(), NULL, (const char *const[]){__VA_ARGS__, NULL})
#define BARMAN(fx, ...) tool_argv((fx), BARMAN_BIN, NULL, (const char *const[]){__VA_ARGS__, NULL})

/* Fail with both streams unless the command succeeded; returns its stdout (caller frees). */
static char *
ok_out(struct h_result r, const char *what)
{
    char *out;

    if (r.status != 0)
        fail_msg("%s: exit %d\n--- stdout\n%s--- stderr\n%s", what, r.status, r.out, r.err);
    out = r.out;
    r.out = NULL;
    h_result_free(&r);
    return out;
}

static void
ok(struct h_result r, const char *what)
{
    free(ok_out(r, what));
}

/* Shell command with the test PATH. */
#define run(fx, ...) h_sh_env((const char *const[]){(fx)->path_env, NULL}, __VA_ARGS__)

/* ---- recovered servers ---- */

/*
 * Stop Barman's receive-wal: its process group (pg_receivewal included),
 * then whatever receive-wal holds bmp's lock (one `barman cron` may have
 * started): the PID Barman writes into .bmp-receive-wal.lock.
 */
static void
stop_receiver(void)
{
    if (g_lock_dir != NULL) {
        char *path = br_asprintf("%s/.bmp-receive-wal.lock", g_lock_dir);
        char *text = h_read_file(path);
        long pid = text ? strtol(text, NULL, 10) : 0;

        if (pid > 1 && pid != (long) g_receiver && kill((pid_t) pid, 0) == 0) {
            struct h_result r = h_sh("cat /proc/%ld/cmdline 2>/dev/null | tr '\\0' ' '", pid);

            /* only a Barman receive-wal for this catalog: the PID may have been reused */
            if (strstr(r.out, "receive-wal") != NULL && strstr(r.out, " bmp") != NULL)
                kill((pid_t) pid, SIGTERM);
            h_result_free(&r);
        }
        free(text);
        free(path);
    }
    if (g_receiver > 0) {
        kill(-g_receiver, SIGTERM);
        for (int i = 0; i < 100 && waitpid(g_receiver, NULL, WNOHANG) == 0; i++)
            h_sleep_ms(50);
        kill(-g_receiver, SIGKILL);
        waitpid(g_receiver, NULL, 0);
        g_receiver = 0;
    }
}

static void
stop_all(void)
{
    h_rserver_stop_all();
    stop_receiver();
}

/* Start PostgreSQL on a recovered data directory (mode 0700 first: Barman's restores may leave it wider). */
static struct h_rserver *
start_recovered(const char *datadir)
{
    struct h_result r = h_sh("chmod 0700 '%s'", datadir);

    h_result_free(&r);
    return h_rserver_start(datadir, g_os_user, NULL);
}

static char *
expected_ids(int n)
{
    struct strbuf sb;

    strbuf_init(&sb);
    for (int i = 1; i <= n; i++)
        strbuf_appendf(&sb, "%s%d", i > 1 ? "," : "", i);
    return strbuf_detach(&sb);
}

/* Start the recovered directory and require exactly rows 1..n. */
static void
start_and_expect_rows(const char *dest, int n, const char *what)
{
    struct h_rserver *rs = start_recovered(dest);
    char *ids, *want = expected_ids(n);

    if (rs == NULL)
        fail_msg("%s: the recovered server did not start", what);
    ids = h_rserver_sql(rs, "postgres", "SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') FROM pitr");
    if (ids == NULL || strcmp(ids, want) != 0)
        fail_msg("%s: rows %s, expected exactly %s", what, ids ? ids : "(query failed)", want);
    free(ids);
    free(want);
    h_rserver_stop(rs);
}

/* ---- WAL and rows ---- */

static void
commit_row(struct fixture *fx, int id)
{
    char *out;

    free(h_pg_sqlf(fx->pg, "INSERT INTO pitr VALUES (%d, 'row %d')", id, id));
    out = h_pg_sqlf(fx->pg, "SELECT clock_timestamp()::text");
    snprintf(fx->time_after[id], sizeof(fx->time_after[id]), "%s", out);
    free(out);
    h_sleep_ms(30);
}

/* Switch to a new segment (after a little WAL) and wait until archive_command took the old one. */
static char *
switch_and_wait(struct fixture *fx)
{
    char *seg;

    free(h_pg_sqlf(fx->pg, "CREATE TABLE IF NOT EXISTS filler (v int); INSERT INTO filler VALUES (1)"));
    seg = h_pg_sqlf(fx->pg, "SELECT pg_walfile_name(pg_switch_wal())");
    if (h_pg_wait_archived(fx->pg, seg, 50) != 0)
        fail_msg("segment %s was not archived", seg);
    return seg;
}

/* Wait until Barman's receive-wal closed seg in bmp's streaming/ (the bare name). */
static void
wait_streamed(struct fixture *fx, const char *seg)
{
    char *path = br_asprintf("%s/bmp/streaming/%s", fx->home, seg);
    int found = 0;

    for (int i = 0; i < 600 && !found; i++) {
        found = access(path, F_OK) == 0;
        if (!found)
            h_sleep_ms(50);
    }
    if (!found)
        fail_msg("Barman's receive-wal did not close %s", seg);
    free(path);
}

/* Append the "\tSEG" lines of an archive-wal run to sb. */
static void
note_archived(struct strbuf *sb, const char *out)
{
    for (const char *p = out; (p = strstr(p, "\n\t")) != NULL; p += 2) {
        size_t len = strcspn(p + 2, "\n");
        strbuf_append_len(sb, p + 2, len);
        strbuf_append(sb, "\n");
    }
}

/* The newest backup id of a server (list-backups --minimal, newest first). */
static void
newest_id(struct fixture *fx, const char *server, char *id)
{
    char *out = ok_out(BARREL(fx, "list-backups", "--minimal", server), "list-backups --minimal");

    assert_true(strlen(out) >= ID_LEN);
    memcpy(id, out, ID_LEN);
    id[ID_LEN] = '\0';
    free(out);
}

static void
barrel_backup(struct fixture *fx, const char *server, char *id)
{
    char *what = br_asprintf("barrel backup %s", server);

    ok(BARREL(fx, "backup", server), what);
    newest_id(fx, server, id);
    free(what);
    h_sleep_ms(1100);   /* backup ids have a one-second resolution */
}

static void
barman_backup(struct fixture *fx, const char *server, char *id)
{
    char *what = br_asprintf("barman backup %s", server);

    ok(BARMAN(fx, "backup", "--wait", server), what);
    newest_id(fx, server, id);
    free(what);
    h_sleep_ms(1100);
}

/* Rewrite "key = old" as "key = new" in section [server] of the configuration. */
static void
set_option(struct fixture *fx, const char *server, const char *key, const char *value)
{
    struct h_result r = h_sh("sed -i '/^\\[%s\\]/,/^\\[/ s/^%s = .*/%s = %s/' '%s'", server, key, key, value, fx->conf);
    ok(r, "sed on the configuration");
}

/* ---------------------------------------------------------------- fixture */

static void
write_files(struct fixture *fx)
{
    char *conninfo = h_pg_conninfo(fx->pg), *repl = h_pg_repl_conninfo(fx->pg);
    char *text, *path, *abs_bin = realpath(h_barrel_bin(), NULL);
    struct h_result r;

    assert_non_null(abs_bin);
    /* one configuration for both tools */
    text = br_asprintf(
        "[barman]\nbarman_home = %s\nbarman_user = %s\nlog_file = %s/barman.log\nlog_level = INFO\n"
        "path_prefix = " PG_BIN "\nrecovery_staging_path = %s/staging\n\n"
        "[bb]\ndescription = \"barrel writes, Barman reads\"\nconninfo = %s\nstreaming_conninfo = %s\n"
        "backup_method = postgres\narchiver = on\ncompression = gzip\nbackup_compression = gzip\n"
        "retention_policy = REDUNDANCY 2\n\n"
        "[bmp]\ndescription = \"Barman plain, receive-wal\"\nconninfo = %s\nstreaming_conninfo = %s\n"
        "backup_method = postgres\nstreaming_archiver = on\nslot_name = interop_bmp\ncreate_slot = auto\n"
        "compression = gzip\n\n"
        "[bmt]\ndescription = \"Barman gzip tar, archive_command\"\nconninfo = %s\nstreaming_conninfo = %s\n"
        "backup_method = postgres\narchiver = on\ncompression = gzip\nbackup_compression = gzip\n\n"
        "[mx]\ndescription = \"mixed\"\nconninfo = %s\nstreaming_conninfo = %s\n"
        "backup_method = postgres\narchiver = on\ncompression = gzip\n\n"
        "[sw]\ndescription = \"switched backup host\"\nconninfo = %s\nstreaming_conninfo = %s\n"
        "backup_method = postgres\narchiver = on\ncompression = gzip\n",
        fx->home, fx->user, fx->tmp, fx->tmp, conninfo, repl, conninfo, repl, conninfo, repl, conninfo, repl,
        conninfo, repl);
    h_write_file(fx->conf, text);
    free(text);

    /* fake ssh, and the switchable `barman` (the real one first) */
    r = h_sh("mkdir -p %s/sshbin %s/swbin %s/barrelbin && ln -s " BARMAN_BIN " %s/swbin/barman && "
             "ln -s '%s' %s/barrelbin/barman",
             fx->tmp, fx->tmp, fx->tmp, fx->tmp, abs_bin, fx->tmp);
    ok(r, "bin directories");
    path = br_asprintf("%s/sshbin/ssh", fx->tmp);
    h_write_fake_ssh(path);
    free(path);

    /* archive_command: raw copy, incoming/ of bb bmt mx (hidden name, then rename), barman-wal-archive for sw */
    text = br_asprintf("#!/bin/sh\n"
                       "p=\"$1\"; f=\"$2\"\n"
                       "put() { [ -f \"$1/$f\" ] && return 0; cp \"$p\" \"$1/.$f.tmp\" && mv \"$1/.$f.tmp\" \"$1/$f\"; }\n"
                       "put %s || exit 1\n"
                       "for s in bb bmt mx; do mkdir -p %s/$s/incoming && put %s/$s/incoming || exit 1; done\n"
                       "PATH=%s/sshbin:%s/swbin:$PATH barman-wal-archive -c %s backuphost sw \"$p\" || exit 1\n",
                       fx->raw, fx->home, fx->home, fx->tmp, fx->tmp, fx->conf);
    path = br_asprintf("%s/archive.sh", fx->tmp);
    h_write_file(path, text);
    chmod(path, 0755);
    free(path);
    free(text);
    free(abs_bin);
    free(conninfo);
    free(repl);
}

static void
start_barman_receiver(struct fixture *fx)
{
    char *log = br_asprintf("%s/receive-wal.log", fx->tmp);

    fflush(NULL);
    fx->receiver = fork();
    assert_true(fx->receiver >= 0);
    if (fx->receiver == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

        setpgid(0, 0);   /* its own group: pg_receivewal goes with it */
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(BARMAN_BIN, BARMAN_BIN, "-c", fx->conf, "receive-wal", "bmp", (char *) NULL);
        _exit(127);
    }
    setpgid(fx->receiver, fx->receiver);
    g_receiver = fx->receiver;
    free(log);
    /* streaming: the slot shows up active */
    for (int i = 0; i < 600; i++) {
        char *n = h_pg_sqlf(fx->pg, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'interop_bmp' AND active");
        int up = strcmp(n, "1") == 0;
        free(n);
        if (up)
            return;
        h_sleep_ms(50);
    }
    fail_msg("Barman's receive-wal did not start streaming");
}

/*
 * The timeline. Rows 1..7; backups between them:
 *   bb0 bmp bmt mx0 | row 1 2 | bb1(zstd, bzip2 WAL from here) mx1 | row 3 4 | bb2 mx2 | row 5 6 7 | switch
 */
static void
build_history(struct fixture *fx)
{
    char *seg, *out;

    /* every server's WAL archive starts working */
    free(switch_and_wait(fx));
    ok(BARREL(fx, "archive-wal", "bb"), "barrel archive-wal bb");
    ok(BARMAN(fx, "switch-wal", "--force", "--archive", "bmp"), "barman switch-wal --archive bmp");
    ok(BARMAN(fx, "archive-wal", "bmt"), "barman archive-wal bmt");

    barrel_backup(fx, "bb", fx->bb[0]);
    barman_backup(fx, "bmp", fx->bmp);
    barman_backup(fx, "bmt", fx->bmt);
    barrel_backup(fx, "mx", fx->mx[0]);
    out = ok_out(BARREL(fx, "archive-wal", "mx"), "barrel archive-wal mx");
    note_archived(&fx->mx_by_barrel, out);
    free(out);

    commit_row(fx, 1);
    commit_row(fx, 2);

    /* bb: zstd tar backups and bzip2 WAL from now on, in the same configuration file */
    set_option(fx, "bb", "backup_compression", "zstd");
    set_option(fx, "bb", "compression", "bzip2");
    free(switch_and_wait(fx));
    ok(BARREL(fx, "archive-wal", "bb"), "barrel archive-wal bb");
    barrel_backup(fx, "bb", fx->bb[1]);
    out = ok_out(BARMAN(fx, "archive-wal", "mx"), "barman archive-wal mx");
    note_archived(&fx->mx_by_barman, out);
    free(out);
    barman_backup(fx, "mx", fx->mx[1]);
    out = ok_out(BARMAN(fx, "archive-wal", "mx"), "barman archive-wal mx");
    note_archived(&fx->mx_by_barman, out);
    free(out);

    commit_row(fx, 3);
    commit_row(fx, 4);

    barrel_backup(fx, "bb", fx->bb[2]);
    barrel_backup(fx, "mx", fx->mx[2]);
    out = ok_out(BARREL(fx, "archive-wal", "mx"), "barrel archive-wal mx");
    note_archived(&fx->mx_by_barrel, out);
    free(out);

    commit_row(fx, 5);
    commit_row(fx, 6);
    commit_row(fx, 7);

    /* everything up to after row 7 archived by every server */
    seg = switch_and_wait(fx);
    wait_streamed(fx, seg);
    ok(BARREL(fx, "archive-wal", "bb"), "barrel archive-wal bb");
    ok(BARMAN(fx, "archive-wal", "bmp"), "barman archive-wal bmp");
    ok(BARMAN(fx, "archive-wal", "bmt"), "barman archive-wal bmt");
    out = ok_out(BARMAN(fx, "archive-wal", "mx"), "barman archive-wal mx");
    note_archived(&fx->mx_by_barman, out);
    free(out);
    free(seg);
}

static int
group_setup(void **state)
{
    struct fixture *fx = br_calloc(1, sizeof(*fx));
    char *extra;
    struct h_result r;

    *state = fx;
    strbuf_init(&fx->mx_by_barman);
    strbuf_init(&fx->mx_by_barrel);
    if (!h_pg_available() || access(BARMAN_BIN, X_OK) != 0 || access("/usr/bin/barman-wal-archive", X_OK) != 0)
        return 0;
    atexit(stop_all);
    fx->tmp = h_mkdtemp();
    assert_non_null(fx->tmp);
    fx->home = br_asprintf("%s/home", fx->tmp);
    fx->conf = br_asprintf("%s/barman.conf", fx->tmp);
    fx->raw = br_asprintf("%s/raw", fx->tmp);
    fx->swlink = br_asprintf("%s/swbin/barman", fx->tmp);
    fx->path_env = br_asprintf("PATH=%s/sshbin:%s/swbin:%s", fx->tmp, fx->tmp, getenv("PATH"));
    g_lock_dir = br_strdup(fx->home);

    extra = br_asprintf("archive_mode = on\narchive_command = '%s/archive.sh %%p %%f'\n"
                        "wal_recycle = off\nmax_wal_size = 256MB\n",
                        fx->tmp);
    fx->pg = h_pg_start(extra);
    free(extra);
    assert_non_null(fx->pg);
    g_os_user = fx->pg->os_user;
    /* Barman, barrel and the archive_command: one unprivileged user */
    fx->user = g_os_user ? br_strdup(g_os_user) : h_current_user();
    r = h_sh("mkdir -p %s/staging %s %s && chown -R %s %s", fx->tmp, fx->home, fx->raw, fx->user, fx->tmp);
    ok(r, "catalog directories");
    write_files(fx);
    free(h_pg_sqlf(fx->pg, "CREATE TABLE pitr (id int PRIMARY KEY, label text)"));
    start_barman_receiver(fx);
    build_history(fx);
    return 0;
}

static int
group_teardown(void **state)
{
    struct fixture *fx = *state;

    stop_all();
    if (fx->pg != NULL) {
        struct h_result r = BARMAN(fx, "receive-wal", "--stop", "bmp");
        h_result_free(&r);
    }
    h_fixture_drop(fx->pg, fx->tmp, fx->home, fx->conf);
    free(fx->raw);
    free(fx->user);
    free(fx->path_env);
    free(fx->swlink);
    strbuf_free(&fx->mx_by_barman);
    strbuf_free(&fx->mx_by_barrel);
    free(g_lock_dir);
    g_lock_dir = NULL;
    free(fx);
    return 0;
}

static struct fixture *
need_all(void **state)
{
    struct fixture *fx = *state;

    h_skip_without_pg();
    if (access(BARMAN_BIN, X_OK) != 0 || access("/usr/bin/barman-wal-archive", X_OK) != 0) {
        print_message("Barman 3.4 (barman, barman-cli) not installed: skipping (make deps installs it)\n");
        skip();
    }
    assert_non_null(fx->pg);
    return fx;
}

/* ---------------------------------------------------------------- comparisons */

/* Fail with a unified diff of Barman's and barrel's text (cmocka truncates long messages). */
static void
fail_diff(const struct fixture *fx, const char *what, const char *barman_text, const char *barrel_text)
{
    char *a = br_asprintf("%s/diff.barman", fx->tmp), *b = br_asprintf("%s/diff.barrel", fx->tmp);
    struct h_result r;

    h_write_file(a, barman_text);
    h_write_file(b, barrel_text);
    r = h_sh("diff -u '%s' '%s'", a, b);
    print_message("%s: Barman (-) and barrel (+) differ:\n%s", what, r.out);
    h_result_free(&r);
    free(a);
    free(b);
    fail_msg("%s differs", what);
}

/* Both tools' output of the same command must be identical, line for line. */
static void
same_output(struct fixture *fx, const char *const *args, const char *what)
{
    struct h_result a = tool_argv(fx, BARMAN_BIN, NULL, args), b = tool_argv(fx, h_barrel_bin(), NULL, args);

    if (a.status != 0 || b.status != 0 || a.out[0] == '\0')
        fail_msg("%s: Barman exit %d, barrel exit %d\n--- Barman\n%s%s--- barrel\n%s%s", what, a.status, b.status,
                 a.out, a.err, b.out, b.err);
    if (strcmp(a.out, b.out) != 0)
        fail_diff(fx, what, a.out, b.out);
    h_result_free(&a);
    h_result_free(&b);
}

/*
 * status: the same lines except the ones computed from the clock at the
 * moment of the call ("Server WAL archiving rate" divides by now).
 */
static char *
status_masked(struct fixture *fx, const char *tool, const char *server)
{
    const char *args[] = {"status", server, NULL};
    struct h_result r = tool_argv(fx, tool, NULL, args);
    struct strbuf sb;
    char *out = ok_out(r, "status");

    strbuf_init(&sb);
    for (char *line = strtok(out, "\n"); line != NULL; line = strtok(NULL, "\n"))
        if (strstr(line, "Server WAL archiving rate:") == NULL)
            strbuf_appendf(&sb, "%s\n", line);
    free(out);
    return strbuf_detach(&sb);
}

static void
same_status(struct fixture *fx, const char *server)
{
    char *a = status_masked(fx, BARMAN_BIN, server), *b = status_masked(fx, h_barrel_bin(), server);

    if (strcmp(a, b) != 0)
        fail_diff(fx, "status", a, b);
    free(a);
    free(b);
}

/*
 * show-server: the same lines, except the keys README lists as differences:
 * Barman's pg_basebackup_* and pg_receivexlog_* (barrel runs neither
 * program), the pg_stat_archiver rows that barrel shows in `status` only,
 * and included_files (recorded in each backup.info, not shown here).
 */
static char *
show_server_masked(struct fixture *fx, const char *tool, const char *server)
{
    static const char *const skipped[] = {"\tpg_basebackup_", "\tpg_receivexlog_", "\tarchived_count:",
                                          "\tcurrent_archived_wals_per_second:", "\tfailed_count:",
                                          "\tis_archiving:", "\tlast_archived_time:", "\tlast_archived_wal:",
                                          "\tlast_failed_time:", "\tlast_failed_wal:", "\tstats_reset:",
                                          "\tincluded_files:"};
    const char *args[] = {"show-server", server, NULL};
    char *out = ok_out(tool_argv(fx, tool, NULL, args), "show-server");
    struct strbuf sb;

    strbuf_init(&sb);
    for (char *line = strtok(out, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        int keep = 1;

        for (size_t i = 0; i < BR_ARRAY_LEN(skipped); i++)
            if (strncmp(line, skipped[i], strlen(skipped[i])) == 0)
                keep = 0;
        if (keep)
            strbuf_appendf(&sb, "%s\n", line);
    }
    free(out);
    return strbuf_detach(&sb);
}

static void
same_show_server(struct fixture *fx, const char *server)
{
    char *a = show_server_masked(fx, BARMAN_BIN, server), *b = show_server_masked(fx, h_barrel_bin(), server);

    if (strcmp(a, b) != 0)
        fail_diff(fx, "show-server", a, b);
    free(a);
    free(b);
}

/* ---------------------------------------------------------------- Barman reads barrel */

static void
test_barman_reads_barrel_catalog(void **state)
{
    struct fixture *fx = need_all(state);
    char *out;

    /* Barman lists barrel's three backups, exactly as barrel does */
    out = ok_out(BARMAN(fx, "list-backups", "--minimal", "bb"), "barman list-backups --minimal bb");
    {
        char *want = br_asprintf("%s\n%s\n%s\n", fx->bb[2], fx->bb[1], fx->bb[0]);
        assert_string_equal(out, want);
        free(want);
    }
    free(out);
    same_output(fx, (const char *const[]){"list-backups", "bb", NULL}, "list-backups bb");
    for (int i = 0; i < 3; i++) {
        char *info = br_asprintf("%s/bb/base/%s/backup.info", fx->home, fx->bb[i]);
        char *text = h_read_file(info);

        assert_non_null(text);
        assert_non_null(strstr(text, i == 0 ? "\ncompression=gzip\n" : "\ncompression=zstd\n"));
        free(text);
        free(info);
        same_output(fx, (const char *const[]){"show-backup", "bb", fx->bb[i], NULL}, "show-backup bb");
        /* check-backup: Barman finds every WAL the backup needs */
        ok(BARMAN(fx, "check-backup", "bb", fx->bb[i]), "barman check-backup");
        ok(BARREL(fx, "check-backup", "bb", fx->bb[i]), "barrel check-backup");
    }
    same_output(fx, (const char *const[]){"list-files", "--target", "wal", "bb", fx->bb[0], NULL}, "list-files");
    same_status(fx, "bb");
    same_show_server(fx, "bb");
    /* the WAL archive holds gzip then bzip2 files: Barman reads both (get-wal) */
    {
        struct h_result r = run(fx, "cd %s/bb/wals && awk '{print $1, $4}' xlog.db | sort -u -k2,2 | wc -l", fx->home);
        out = ok_out(r, "xlog.db compressions");
        assert_string_equal(out, "2\n");
        free(out);
    }
}

/* barman recover of a barrel backup (gzip tar) to a time, WAL gzip then bzip2 */
static void
test_barman_recovers_barrel_gzip(void **state)
{
    struct fixture *fx = need_all(state);
    char *dest = br_asprintf("%s/r_barman_bb0", fx->tmp);

    ok(BARMAN(fx, "recover", "--target-time", fx->time_after[3], "bb", fx->bb[0], dest), "barman recover bb0");
    start_and_expect_rows(dest, 3, "barman recover of barrel's gzip backup");
    free(dest);
}

/* ... and of a barrel zstd tar backup */
static void
test_barman_recovers_barrel_zstd(void **state)
{
    struct fixture *fx = need_all(state);
    char *dest = br_asprintf("%s/r_barman_bb1", fx->tmp);

    ok(BARMAN(fx, "recover", "--target-time", fx->time_after[5], "bb", fx->bb[1], dest), "barman recover bb1");
    start_and_expect_rows(dest, 5, "barman recover of barrel's zstd backup");
    free(dest);
}

/* barman cron applies REDUNDANCY 2 to barrel's backups, and barrel agrees with what is left */
static void
test_barman_retention_on_barrel_backups(void **state)
{
    struct fixture *fx = need_all(state);
    char *out, *want, *begin;
    struct h_result r;

    /* the verdicts before: both tools mark the oldest OBSOLETE */
    for (int i = 0; i < 3; i++)
        same_output(fx, (const char *const[]){"show-backup", "bb", fx->bb[i], NULL}, "show-backup with a policy");
    ok(BARMAN(fx, "cron"), "barman cron");
    out = ok_out(BARREL(fx, "list-backups", "--minimal", "bb"), "barrel list-backups after cron");
    want = br_asprintf("%s\n%s\n", fx->bb[2], fx->bb[1]);
    assert_string_equal(out, want);
    free(out);
    free(want);
    same_output(fx, (const char *const[]){"list-backups", "bb", NULL}, "list-backups bb after cron");
    /* the WAL before the oldest remaining backup's begin_wal is gone, and xlog.db matches wals/ */
    r = h_sh("sed -n 's/^begin_wal=//p' %s/bb/base/%s/backup.info", fx->home, fx->bb[1]);
    begin = ok_out(r, "begin_wal");
    begin[strcspn(begin, "\n")] = '\0';
    r = h_sh("cd %s/bb/wals && cut -f1 xlog.db | awk '$1 < \"%s\"' | grep -v history; "
             "cut -f1 xlog.db > %s/x.list; ls -1 */ | grep -v : | grep . | LC_ALL=C sort > %s/y.list; "
             "diff %s/x.list %s/y.list",
             fx->home, begin, fx->tmp, fx->tmp, fx->tmp, fx->tmp);
    out = ok_out(r, "xlog.db against wals/");
    assert_string_equal(out, "");
    free(out);
    free(begin);
    ok(BARREL(fx, "check-backup", "bb", fx->bb[1]), "barrel check-backup after Barman's cron");
}

/* ---------------------------------------------------------------- barrel reads Barman */

static void
test_barrel_reads_barman_catalog(void **state)
{
    struct fixture *fx = need_all(state);
    const char *servers[] = {"bmp", "bmt"};
    const char *ids[] = {fx->bmp, fx->bmt};

    for (size_t i = 0; i < 2; i++) {
        char *out;

        same_output(fx, (const char *const[]){"list-backups", servers[i], NULL}, "list-backups");
        same_output(fx, (const char *const[]){"show-backup", servers[i], ids[i], NULL}, "show-backup");
        same_output(fx, (const char *const[]){"list-files", "--target", "full", servers[i], ids[i], NULL},
                    "list-files");
        same_status(fx, servers[i]);
        same_show_server(fx, servers[i]);
        ok(BARREL(fx, "check-backup", servers[i], ids[i]), "barrel check-backup");
        out = ok_out(BARREL(fx, "verify-backup", servers[i], ids[i]), "barrel verify-backup");
        free(out);
    }
    /* 3.4's "none" is plain: data/ is a PGDATA; the other is a gzip tarball */
    {
        char *p = br_asprintf("%s/bmp/base/%s/data/PG_VERSION", fx->home, fx->bmp);
        char *t = br_asprintf("%s/bmt/base/%s/data/base.tar.gz", fx->home, fx->bmt);
        assert_int_equal(access(p, F_OK), 0);
        assert_int_equal(access(t, F_OK), 0);
        free(p);
        free(t);
    }
}

static void
test_barrel_recovers_barman_plain(void **state)
{
    struct fixture *fx = need_all(state);
    char *dest = br_asprintf("%s/r_barrel_bmp", fx->tmp);

    ok(BARREL(fx, "recover", "--target-time", fx->time_after[2], "bmp", fx->bmp, dest), "barrel recover bmp");
    start_and_expect_rows(dest, 2, "barrel recover of Barman's plain backup");
    free(dest);
}

static void
test_barrel_recovers_barman_tar(void **state)
{
    struct fixture *fx = need_all(state);
    char *dest = br_asprintf("%s/r_barrel_bmt", fx->tmp);

    ok(BARREL(fx, "recover", "--target-time", fx->time_after[6], "bmt", fx->bmt, dest), "barrel recover bmt");
    start_and_expect_rows(dest, 6, "barrel recover of Barman's gzip tar backup");
    free(dest);
}

/* ---------------------------------------------------------------- mixed catalog */

static void
test_mixed_listing(void **state)
{
    struct fixture *fx = need_all(state);

    assert_true(fx->mx_by_barman.len > 0);
    assert_true(fx->mx_by_barrel.len > 0);
    same_output(fx, (const char *const[]){"list-backups", "mx", NULL}, "list-backups mx");
    for (int i = 0; i < 3; i++) {
        same_output(fx, (const char *const[]){"show-backup", "mx", fx->mx[i], NULL}, "show-backup mx");
        ok(BARMAN(fx, "check-backup", "mx", fx->mx[i]), "barman check-backup mx");
        ok(BARREL(fx, "check-backup", "mx", fx->mx[i]), "barrel check-backup mx");
    }
    same_status(fx, "mx");
    same_show_server(fx, "mx");
}

/* get-wal of each tool serves, byte for byte, the segments the other tool archived */
static void
test_mixed_get_wal(void **state)
{
    struct fixture *fx = need_all(state);
    struct {
        const char *tool;
        const struct strbuf *archived_by_other;
    } cases[] = {{h_barrel_bin(), &fx->mx_by_barman}, {BARMAN_BIN, &fx->mx_by_barrel}};
    int served = 0;

    for (size_t c = 0; c < BR_ARRAY_LEN(cases); c++) {
        char *list = br_strdup(cases[c].archived_by_other->buf);

        for (char *seg = strtok(list, "\n"); seg != NULL; seg = strtok(NULL, "\n")) {
            struct h_result r;

            if (strlen(seg) != 24)
                continue;   /* .backup files: no raw copy to compare with */
            r = run(fx, "'%s' -c '%s' get-wal mx %s > %s/got && cmp %s/got %s/%s", cases[c].tool, fx->conf, seg,
                    fx->tmp, fx->tmp, fx->raw, seg);
            ok(r, "get-wal is byte-identical to the server's segment");
            served++;
        }
        free(list);
    }
    assert_true(served >= 2);
}

/*
 * Retention by either tool on two copies of the mixed catalog: the same
 * verdict per backup before, the same backups and WAL left after.
 */
static void
test_mixed_retention_same_verdicts(void **state)
{
    struct fixture *fx = need_all(state);
    const char *copies[] = {"copy_barman", "copy_barrel"};
    const char *tools[] = {BARMAN_BIN, h_barrel_bin()};
    char *left[2], *conf[2];
    struct h_result r;

    for (int k = 0; k < 2; k++) {
        char *text;

        r = h_sh("mkdir -p %s/%s && cp -a %s/mx %s/%s/mx && chown -R %s %s/%s", fx->tmp, copies[k], fx->home,
                 fx->tmp, copies[k], fx->user, fx->tmp, copies[k]);
        ok(r, "copy of the mixed catalog");
        conf[k] = br_asprintf("%s/%s.conf", fx->tmp, copies[k]);
        text = br_asprintf("[barman]\nbarman_home = %s/%s\nbarman_user = %s\nlog_file = %s/%s.log\n"
                           "path_prefix = " PG_BIN "\n\n"
                           "[mx]\ndescription = \"mixed\"\nconninfo = host=127.0.0.1 port=%d user=postgres dbname=postgres\n"
                           "backup_method = postgres\narchiver = on\ncompression = gzip\n"
                           "retention_policy = REDUNDANCY 2\n",
                           fx->tmp, copies[k], fx->user, fx->tmp, copies[k], fx->pg->port);
        h_write_file(conf[k], text);
        free(text);
    }
    /* verdicts before: the same show-backup (its "Retention Policy" line) from both tools */
    for (int i = 0; i < 3; i++) {
        const char *args[] = {"show-backup", "mx", fx->mx[i], NULL};
        struct h_result a = tool_argv(fx, BARMAN_BIN, conf[0], args), b = tool_argv(fx, h_barrel_bin(), conf[0], args);
        const char *want = i == 0 ? "Retention Policy     : OBSOLETE" : "Retention Policy     : VALID";

        if (strstr(a.out, want) == NULL || strcmp(a.out, b.out) != 0)
            fail_msg("verdict for %s (want \"%s\")\n--- Barman\n%s--- barrel\n%s", fx->mx[i], want, a.out, b.out);
        h_result_free(&a);
        h_result_free(&b);
    }
    /* each tool's cron on its own copy */
    for (int k = 0; k < 2; k++) {
        const char *args[] = {"cron", NULL};
        ok(tool_argv(fx, tools[k], conf[k], args), "cron on a copy");
        r = h_sh("cd %s/%s/mx && ls base && cat wals/xlog.db | cut -f1,2,4 && ls -R wals | sort", fx->tmp, copies[k]);
        left[k] = ok_out(r, "catalog after cron");
    }
    if (strcmp(left[0], left[1]) != 0)
        fail_diff(fx, "the catalog left by cron", left[0], left[1]);
    {
        char *want = br_asprintf("%s\n%s\n", fx->mx[1], fx->mx[2]);
        assert_true(strncmp(left[0], want, strlen(want)) == 0);
        free(want);
    }
    for (int k = 0; k < 2; k++) {
        free(left[k]);
        free(conf[k]);
    }
}

/* ---------------------------------------------------------------- operational switch */

/* Point the backup host's `barman` at target (atomic rename of a new symlink). */
static void
switch_backup_host(struct fixture *fx, const char *target)
{
    struct h_result r = h_sh("ln -sfn '%s' %s.new && mv -T %s.new %s", target, fx->swlink, fx->swlink, fx->swlink);
    ok(r, "switch the backup host's barman");
}

/* Make n segments, wait for each to be archived through barman-wal-archive, then archive-wal with tool. */
static void
archive_through(struct fixture *fx, const char *tool, int n, char *last)
{
    const char *args[] = {"archive-wal", "sw", NULL};

    for (int i = 0; i < n; i++) {
        char *seg = switch_and_wait(fx);
        snprintf(last, 25, "%s", seg);
        free(seg);
    }
    ok(tool_argv(fx, tool, NULL, args), "archive-wal sw");
}

static void
test_operational_switch(void **state)
{
    struct fixture *fx = need_all(state);
    char *barrel_abs = realpath(h_barrel_bin(), NULL), *first, *out;
    char last[32] = "";
    struct h_result r;

    /* Barman behind barman-wal-archive (what ran so far), then barrel, then Barman again */
    out = ok_out(run(fx, "barman -v 2>&1"), "barman -v");
    assert_non_null(strstr(out, "Barman"));
    free(out);
    archive_through(fx, BARMAN_BIN, 2, last);
    switch_backup_host(fx, barrel_abs);
    out = ok_out(run(fx, "barman -v 2>&1"), "barman -v");
    assert_non_null(strstr(out, "barrel"));
    free(out);
    archive_through(fx, h_barrel_bin(), 3, last);
    switch_backup_host(fx, BARMAN_BIN);
    archive_through(fx, BARMAN_BIN, 2, last);

    /* the archiver never failed */
    out = h_pg_sqlf(fx->pg, "SELECT failed_count FROM pg_stat_archiver");
    assert_string_equal(out, "0");
    free(out);

    /* from the first segment sw got to the last switched one: each in xlog.db once, and in wals/ once */
    r = h_sh("cut -f1 %s/sw/wals/xlog.db | grep -E '^[0-9A-F]{24}$' | head -1", fx->home);
    first = ok_out(r, "first segment");
    first[strcspn(first, "\n")] = '\0';
    assert_int_equal(strlen(first), 24);
    r = h_sh("cd %s/sw/wals && for f in $(ls %s | grep -E '^[0-9A-F]{24}$' | awk '$1 >= \"%s\" && $1 <= \"%s\"'); do "
             "n=$(cut -f1 xlog.db | grep -c \"^$f$\"); m=$(ls */$f 2>/dev/null | wc -l); "
             "[ \"$n$m\" = 11 ] || echo \"$f: $n lines, $m files\"; done; "
             "ls %s/sw/incoming %s/sw/errors 2>/dev/null | grep -E '^[0-9A-F]{24}'",
             fx->home, fx->raw, first, last, fx->home, fx->home);
    out = r.out;
    r.out = NULL;
    h_result_free(&r);
    assert_string_equal(out, "");
    free(out);
    /* at least the seven segments switched here, plus what sw got before */
    r = h_sh("ls %s | grep -E '^[0-9A-F]{24}$' | awk '$1 >= \"%s\" && $1 <= \"%s\"' | wc -l", fx->raw, first, last);
    out = ok_out(r, "count");
    assert_true(atoi(out) >= 7);
    free(out);
    /* and the served bytes are the server's: first and last through each tool */
    r = run(fx, "barman -c '%s' get-wal sw %s > %s/g1 && cmp %s/g1 %s/%s && '%s' -c '%s' get-wal sw %s > %s/g2 && "
                "cmp %s/g2 %s/%s",
            fx->conf, first, fx->tmp, fx->tmp, fx->raw, first, barrel_abs, fx->conf, last, fx->tmp, fx->tmp,
            fx->raw, last);
    ok(r, "get-wal of the first and last switched segments");
    free(first);
    free(barrel_abs);
}

/* ---------------------------------------------------------------- barrel check */

/* What Barman 3.4 cannot read or recover is said in one line of barrel check. */
static void
test_check_says_what_barman_cannot_read(void **state)
{
    struct fixture *fx = need_all(state);
    char *conf = br_asprintf("%s/check.conf", fx->tmp);
    char *text = br_asprintf("[barman]\nbarman_home = %s/checkhome\nbarman_user = %s\nlog_file = %s/check.log\n\n"
                             "[zw]\nconninfo = host=127.0.0.1 port=1 dbname=postgres\nbackup_method = postgres\n"
                             "archiver = on\ncompression = zstd\nbackup_compression = gzip\n\n"
                             "[nb]\nconninfo = host=127.0.0.1 port=1 dbname=postgres\nbackup_method = postgres\n"
                             "archiver = on\ncompression = gzip\n\n"
                             "[ok]\nconninfo = host=127.0.0.1 port=1 dbname=postgres\nbackup_method = postgres\n"
                             "archiver = on\ncompression = bzip2\nbackup_compression = lz4\n",
                             fx->tmp, fx->user, fx->tmp);
    struct {
        const char *server, *line;
    } cases[] = {
        {"zw", "\tcompression settings: OK (zstd WAL files cannot be read by Barman 3.4)\n"},
        {"nb", "\tcompression settings: OK (backup_compression unset: barrel writes zstd tar backups, "
               "which Barman 3.4 recovers only with recovery_staging_path)\n"},
        {"ok", "\tcompression settings: OK\n"},
    };

    h_write_file(conf, text);
    for (size_t i = 0; i < BR_ARRAY_LEN(cases); i++) {
        const char *args[] = {"check", cases[i].server, NULL};
        struct h_result r = tool_argv(fx, h_barrel_bin(), conf, args);

        if (strstr(r.out, cases[i].line) == NULL)
            fail_msg("check %s: no \"%s\" in:\n%s", cases[i].server, cases[i].line, r.out);
        h_result_free(&r);
    }
    free(text);
    free(conf);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_barman_reads_barrel_catalog),
        cmocka_unit_test(test_barman_recovers_barrel_gzip),
        cmocka_unit_test(test_barman_recovers_barrel_zstd),
        cmocka_unit_test(test_barman_retention_on_barrel_backups),
        cmocka_unit_test(test_barrel_reads_barman_catalog),
        cmocka_unit_test(test_barrel_recovers_barman_plain),
        cmocka_unit_test(test_barrel_recovers_barman_tar),
        cmocka_unit_test(test_mixed_listing),
        cmocka_unit_test(test_mixed_get_wal),
        cmocka_unit_test(test_mixed_retention_same_verdicts),
        cmocka_unit_test(test_operational_switch),
        cmocka_unit_test(test_check_says_what_barman_cannot_read),
    };

    if (access(BARMAN_BIN, X_OK) != 0)
        print_message("Barman 3.4 is not installed: the interoperability tests are skipped (make deps installs it)\n");
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
