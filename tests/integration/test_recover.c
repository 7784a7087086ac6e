/*
 * test_recover.c: `barrel recover` against real PostgreSQL 15 clusters.
 *
 * One primary (with a tablespace) archives WAL both ways at once: with
 * archive_command into incoming/ and with `barrel receive-wal` into
 * streaming/. Rows are committed one by one, with each commit's xid, the
 * time right after it and the WAL insert position after it recorded, and a
 * restore point between two base backups:
 *
 *   backup 1 | rows 1-3 | restore point rp_mid | rows 4-5 | backup 2 | rows 6-10
 *   | WAL switched and archived | rows 11-12 (only in streaming/<SEG>.partial)
 *
 * Each target kind is recovered into a fresh directory, the recovered
 * server is STARTED (its own port and socket directory, as the cluster's
 * OS user) and must hold exactly the rows before the target. Then: the end
 * of WAL with the partial segment, a standby that streams from the primary,
 * hostile archives, a flipped byte, refusals, --delta, and Barman 3.4's own
 * tar backup.
 */
#include "barrel/build.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
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

#define N_ROWS_ARCHIVED 10
#define N_ROWS 12

struct row {
    char xid[32];
    char time_after[64];      /* clock_timestamp() right after the commit */
    char lsn_after[32];       /* pg_current_wal_insert_lsn() right after the commit */
};

struct fixture {
    struct h_pg *pg;
    char *tmp, *home, *conf, *tbs;
    char *backup1, *backup2;
    struct row rows[N_ROWS + 1];
    pid_t receiver;
};

/* ---- helpers ---- */

#define BARREL(fx, ...) H_BARREL((fx)->conf, __VA_ARGS__)

/* "1,2,3" : the ids in table pitr of a recovered server */
static char *
ids_of(const struct h_rserver *rs)
{
    return h_rserver_sql(rs, "postgres", "SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') FROM pitr");
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

/* Wait until the replication client `app` has flushed up to lsn. */
static int
wait_flushed(struct h_pg *pg, const char *app, const char *lsn)
{
    for (int i = 0; i < 600; i++) {
        char *q = br_asprintf("SELECT count(*) FROM pg_stat_replication WHERE application_name = '%s' AND "
                              "flush_lsn >= '%s'::pg_lsn", app, lsn);
        char *out = h_pg_sql(pg, "postgres", q);
        int ok = out != NULL && strcmp(out, "1") == 0;
        free(out);
        free(q);
        if (ok)
            return 0;
        h_sleep_ms(100);
    }
    return -1;
}

/* Switch WAL and wait for archive_command to have archived that segment; then archive-wal. */
static void
switch_and_archive(struct fixture *fx)
{
    char *seg = h_pg_sqlf(fx->pg, "SELECT pg_walfile_name(pg_switch_wal())");
    struct h_result r;

    if (h_pg_wait_archived(fx->pg, seg, 100) != 0)
        fail_msg("segment %s was not archived", seg);
    r = BARREL(fx, "archive-wal", "pg");
    if (r.status != 0)
        fail_msg("archive-wal failed: %s%s", r.out, r.err);
    h_result_free(&r);
    free(seg);
}

static void
commit_row(struct fixture *fx, int id)
{
    char *out = h_pg_sqlf(fx->pg, "INSERT INTO pitr VALUES (%d, 'row %d') RETURNING pg_current_xact_id()", id, id);
    char *after = h_pg_sqlf(fx->pg, "SELECT clock_timestamp()::text || '|' || pg_current_wal_insert_lsn()::text");
    char *bar = strchr(after, '|');

    assert_non_null(bar);
    *bar = '\0';
    snprintf(fx->rows[id].xid, sizeof(fx->rows[id].xid), "%s", out);
    snprintf(fx->rows[id].time_after, sizeof(fx->rows[id].time_after), "%s", after);
    snprintf(fx->rows[id].lsn_after, sizeof(fx->rows[id].lsn_after), "%s", bar + 1);
    free(out);
    free(after);
    h_sleep_ms(20);
}

static char *
take_backup(struct fixture *fx)
{
    struct h_result r = BARREL(fx, "backup", "pg");
    char *id;

    if (r.status != 0)
        fail_msg("backup failed: %s%s", r.out, r.err);
    h_result_free(&r);
    r = BARREL(fx, "list-backups", "--minimal", "pg");
    assert_int_equal(r.status, 0);
    id = br_strndup(r.out, 15);   /* newest first */
    h_result_free(&r);
    return id;
}

/* ---- fixture ---- */

static int
group_setup(void **state)
{
    struct fixture *fx = br_calloc(1, sizeof(*fx));
    char *incoming, *pg, *text, *log;
    struct h_result r;

    *state = fx;
    if (!h_pg_available())
        return 0;
    h_fixture_dirs(&fx->tmp, &fx->home, &fx->conf, "barrel.conf");
    fx->tbs = br_asprintf("%s/tbs1", fx->tmp);
    incoming = h_incoming_dir(fx->home, "pg");
    r = h_sh("mkdir -p '%s'", fx->tbs);
    h_result_free(&r);
    /* new zero-filled segments: what archive_command and receive-wal store is then byte-identical */
    fx->pg = h_pg_start_archiving(incoming, "wal_recycle = off\nmax_wal_size = 256MB\n");
    free(incoming);
    if (fx->pg == NULL)
        return 0;
    if (fx->pg->os_user != NULL) {
        r = h_sh("chown %s '%s'", fx->pg->os_user, fx->tbs);
        h_result_free(&r);
    }
    pg = h_conf_server(fx->pg, "pg", "streaming_archiver = on\nslot_name = barrel_rec\ncreate_slot = auto\n"
                                     "immediate_checkpoint = true\nbackup_compression = zstd\n");
    text = br_asprintf("%s\n"
                       "[pgz]\nbackup_directory = %s/pgz\nconninfo = host=127.0.0.1 port=1 dbname=postgres\n"
                       "backup_method = postgres\narchiver = on\n\n"
                       "[evil]\nbackup_directory = %s/evil\nconninfo = host=127.0.0.1 port=1 dbname=postgres\n"
                       "backup_method = postgres\narchiver = on\n",
                       pg, fx->tmp, fx->tmp);
    h_write_conf(fx->conf, fx->home, NULL, "log_level = INFO\n", text);
    free(text);
    free(pg);

    /* receive-wal in the background, from before the first backup */
    log = br_asprintf("%s/receive-wal.log", fx->tmp);
    fflush(NULL);
    fx->receiver = fork();
    if (fx->receiver == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(h_barrel_bin(), h_barrel_bin(), "-c", fx->conf, "receive-wal", "pg", (char *) NULL);
        _exit(127);
    }
    free(log);

    /* data: a table in the tablespace, the PITR table in the main one */
    text = br_asprintf("CREATE TABLESPACE ts1 LOCATION '%s'", fx->tbs);
    free(h_pg_sqlf(fx->pg, "%s", text));
    free(text);
    free(h_pg_sqlf(fx->pg, "CREATE TABLE ts_data (id int, v text) TABLESPACE ts1; "
                     "INSERT INTO ts_data SELECT g, md5(g::text) FROM generate_series(1, 2500) g; "
                     "CREATE TABLE pitr (id int PRIMARY KEY, label text)"));

    fx->backup1 = take_backup(fx);
    for (int i = 1; i <= 3; i++)
        commit_row(fx, i);
    free(h_pg_sqlf(fx->pg, "SELECT pg_create_restore_point('rp_mid')"));
    for (int i = 4; i <= 5; i++)
        commit_row(fx, i);
    h_sleep_ms(1100);   /* backup ids have a one-second resolution */
    fx->backup2 = take_backup(fx);
    for (int i = 6; i <= N_ROWS_ARCHIVED; i++)
        commit_row(fx, i);
    switch_and_archive(fx);
    /* rows only the streaming receiver has: its .partial segment */
    for (int i = N_ROWS_ARCHIVED + 1; i <= N_ROWS; i++)
        commit_row(fx, i);
    if (wait_flushed(fx->pg, "barman_receive_wal", fx->rows[N_ROWS].lsn_after) != 0)
        print_message("receive-wal did not flush %s in time\n", fx->rows[N_ROWS].lsn_after);
    return 0;
}

static int
group_teardown(void **state)
{
    struct fixture *fx = *state;

    h_rserver_stop_all();
    if (fx->receiver > 0) {
        kill(fx->receiver, SIGTERM);
        waitpid(fx->receiver, NULL, 0);
    }
    h_fixture_drop(fx->pg, fx->tmp, fx->home, fx->conf);
    free(fx->tbs);
    free(fx->backup1);
    free(fx->backup2);
    free(fx);
    return 0;
}

static struct fixture *
need_pg(void **state)
{
    struct fixture *fx = *state;

    h_skip_without_pg();
    assert_non_null(fx->pg);
    assert_non_null(fx->backup1);
    return fx;
}

/*
 * Recover with the options given into <tmp>/<name> (tablespace relocated to
 * <tmp>/<name>_ts1), start it, and check the pitr rows are exactly 1..n.
 */
static void
recover_and_check(struct fixture *fx, const char *name, const char *const *opts, const char *backup, int n,
                  const char *expect_line)
{
    char *dest = br_asprintf("%s/%s", fx->tmp, name);
    char *tsloc = br_asprintf("%s/%s_ts1", fx->tmp, name);
    char *reloc = br_asprintf("ts1:%s", tsloc);
    const char *args[32];
    size_t k = 0;
    struct h_result r;
    struct h_rserver *rs;
    char *ids, *want, *count;

    args[k++] = "recover";
    args[k++] = "--tablespace";
    args[k++] = reloc;
    for (; opts && *opts; opts++)
        args[k++] = *opts;
    args[k++] = "pg";
    args[k++] = backup;
    args[k++] = dest;
    args[k] = NULL;
    r = h_run_conf(h_barrel_bin(), fx->conf, NULL, args);
    if (r.status != 0)
        fail_msg("recover %s failed (%d): %s%s", name, r.status, r.out, r.err);
    if (expect_line != NULL && strstr(r.out, expect_line) == NULL)
        fail_msg("recover %s: no \"%s\" in:\n%s", name, expect_line, r.out);
    h_result_free(&r);

    rs = h_rserver_start(dest, fx->pg->os_user, tsloc);
    assert_non_null(rs);
    ids = ids_of(rs);
    want = expected_ids(n);
    assert_non_null(ids);
    if (strcmp(ids, want) != 0)
        fail_msg("recovery %s: rows %s, expected exactly %s", name, ids, want);
    /* the relocated tablespace is there and complete */
    count = h_rserver_sql(rs, "postgres", "SELECT count(*) FROM ts_data");
    assert_non_null(count);
    assert_string_equal(count, "2500");
    free(count);
    free(ids);
    free(want);
    h_rserver_stop(rs);
    free(reloc);
    free(tsloc);
    free(dest);
}

/* a live process (not a zombie) */
static int
stager_alive(long pid)
{
    struct h_result r = h_sh("test -e /proc/%ld/stat && ! cut -d' ' -f3 /proc/%ld/stat | grep -qx Z", pid, pid);
    int alive = r.status == 0;

    h_result_free(&r);
    return alive;
}

/*
 * --background-wal: recover returns with the segments left to a detached
 * stager; restore_command waits for each one (marker, then the complete
 * file) and the server reaches the target with exactly the rows before it.
 * Once the stager is gone, a segment still marked as pending makes the
 * restore_command fail at once, naming the stager, rather than wait.
 */
static void
test_recover_background_wal(void **state)
{
    struct fixture *fx = need_pg(state);
    char *dest = br_asprintf("%s/r_bg", fx->tmp);
    char *tsloc = br_asprintf("%s/r_bg_ts1", fx->tmp);
    char *reloc = br_asprintf("ts1:%s", tsloc);
    struct h_result r;
    struct h_rserver *rs;
    char *conf, *ids, *want, *out;
    const char *p;
    long pid = 0;

    r = BARREL(fx, "recover", "--tablespace", reloc, "--target-xid", fx->rows[4].xid, "--jobs", "2",
               "--background-wal", "pg", fx->backup1, dest);
    if (r.status != 0)
        fail_msg("recover --background-wal failed (%d): %s%s", r.status, r.out, r.err);
    p = strstr(r.out, "by barrel's stager (pid ");
    if (p == NULL)
        fail_msg("recover --background-wal: no stager line in:\n%s", r.out);
    pid = strtol(p + strlen("by barrel's stager (pid "), NULL, 10);
    assert_true(pid > 0);
    h_result_free(&r);
    conf = br_asprintf("%s/postgresql.auto.conf", dest);
    out = h_read_file(conf);
    assert_non_null(out);
    if (strstr(out, "restore_command = 'sh barman_wal/.barrel-wait-wal %f %p'\n") == NULL
        || strstr(out, "recovery_end_command = 'rm -fr barman_wal'\n") == NULL)
        fail_msg("postgresql.auto.conf:\n%s", out);
    free(out);
    free(conf);

    rs = h_rserver_start(dest, fx->pg->os_user, tsloc);
    assert_non_null(rs);
    h_rserver_wait_for(rs, "SELECT pg_get_wal_replay_pause_state()", "paused", 600);
    ids = ids_of(rs);
    want = expected_ids(4);
    assert_non_null(ids);
    if (strcmp(ids, want) != 0)
        fail_msg("recovery with --background-wal: rows %s, expected exactly %s", ids, want);
    free(ids);
    free(want);
    h_rserver_stop(rs);

    /* the stager ends by itself, its work done: no marker left */
    for (int i = 0; i < 600 && stager_alive(pid); i++)
        h_sleep_ms(100);
    assert_false(stager_alive(pid));
    r = h_sh("cd '%s' && test ! -e barman_wal/.barrel-pending && ls barman_wal | grep -c '^0000000100000000000000'",
             dest);
    assert_int_equal(r.status, 0);
    h_result_free(&r);
    /* a segment still pending once the stager is gone: restore_command fails at once and says why */
    r = h_sh("cd '%s' && mkdir barman_wal/.barrel-pending && : > barman_wal/.barrel-pending/0000000100000000000000FE "
             "&& sh barman_wal/.barrel-wait-wal 0000000100000000000000FE pg_wal/RECOVERYXLOG",
             dest);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "stopped before staging 0000000100000000000000FE"));
    h_result_free(&r);
    r = h_sh("test ! -e '%s/pg_wal/RECOVERYXLOG'", dest);
    assert_int_equal(r.status, 0);
    h_result_free(&r);
    free(reloc);
    free(tsloc);
    free(dest);
}

/* ---- PITR: each kind of target ---- */

static void
test_recover_target_time(void **state)
{
    struct fixture *fx = need_pg(state);
    /* auto: the newest backup ending before the target is backup 1 */
    const char *opts[] = {"--target-time", fx->rows[2].time_after, NULL};
    char *line = br_asprintf("Starting local restore for server pg using backup %s", fx->backup1);

    recover_and_check(fx, "r_time", opts, "auto", 2, line);
    free(line);
}

static void
test_recover_target_xid(void **state)
{
    struct fixture *fx = need_pg(state);
    const char *opts[] = {"--target-xid", fx->rows[4].xid, "--jobs", "2", NULL};

    recover_and_check(fx, "r_xid", opts, fx->backup1, 4, "Doing PITR. Recovery target xid: ");
}

static void
test_recover_target_xid_exclusive(void **state)
{
    struct fixture *fx = need_pg(state);
    const char *opts[] = {"--target-xid", fx->rows[4].xid, "--exclusive", NULL};

    recover_and_check(fx, "r_xid_excl", opts, fx->backup1, 3, NULL);
}

static void
test_recover_target_lsn(void **state)
{
    struct fixture *fx = need_pg(state);
    const char *opts[] = {"--target-lsn", fx->rows[7].lsn_after, NULL};
    char *line = br_asprintf("Starting local restore for server pg using backup %s", fx->backup2);

    recover_and_check(fx, "r_lsn", opts, "auto", 7, line);
    free(line);
}

static void
test_recover_target_name(void **state)
{
    struct fixture *fx = need_pg(state);
    const char *opts[] = {"--target-name", "rp_mid", "--target-action", "promote", NULL};

    recover_and_check(fx, "r_name", opts, fx->backup1, 3, "Doing PITR. Recovery target name: 'rp_mid'");
}

static void
test_recover_target_immediate(void **state)
{
    struct fixture *fx = need_pg(state);
    const char *opts[] = {"--target-immediate", NULL};

    recover_and_check(fx, "r_immediate", opts, fx->backup2, 5, "Doing PITR. Recovery target immediate: True");
}

/* ---- the end of WAL, with the streamed partial segment ---- */

static void
test_recover_latest_partial(void **state)
{
    struct fixture *fx = need_pg(state);
    char *dest = br_asprintf("%s/r_latest", fx->tmp);
    char *settings;

    /* no target: WAL into pg_wal with .done files, the partial under its bare name */
    recover_and_check(fx, "r_latest", NULL, "latest", N_ROWS, "The last streamed WAL segment ");
    settings = br_asprintf("%s/postgresql.auto.conf", dest);
    {
        char *text = h_read_file(settings);
        assert_non_null(text);
        assert_null(strstr(text, "restore_command"));
        free(text);
    }
    free(settings);
    free(dest);
}

/* ---- replica rebuild: a standby that streams from the primary ---- */

static void
test_recover_standby(void **state)
{
    struct fixture *fx = need_pg(state);
    char *dest = br_asprintf("%s/r_standby", fx->tmp);
    char *tsloc = br_asprintf("%s/r_standby_ts1", fx->tmp);
    char *reloc = br_asprintf("ts1:%s", tsloc);
    char *conninfo = br_asprintf("host=127.0.0.1 port=%d user=" H_PG_REPL_USER " application_name=rebuilt_standby",
                                 fx->pg->port);
    struct h_result r;
    struct h_rserver *rs;
    char *out = NULL, *text, *path;
    int streaming = 0;

    r = BARREL(fx, "recover", "--standby-mode", "--primary-conninfo", conninfo, "--tablespace", reloc, "pg", "latest",
               dest);
    if (r.status != 0)
        fail_msg("recover --standby-mode failed: %s%s", r.out, r.err);
    h_result_free(&r);
    path = br_asprintf("%s/standby.signal", dest);
    assert_true(access(path, F_OK) == 0);
    free(path);
    path = br_asprintf("%s/postgresql.auto.conf", dest);
    text = h_read_file(path);
    assert_non_null(strstr(text, "primary_conninfo = 'host=127.0.0.1"));
    free(text);
    free(path);

    rs = h_rserver_start(dest, fx->pg->os_user, tsloc);
    assert_non_null(rs);
    for (int i = 0; i < 300 && !streaming; i++) {
        free(out);
        out = h_pg_sqlf(fx->pg, "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'rebuilt_standby' AND "
                          "state = 'streaming'");
        streaming = strcmp(out, "1") == 0;
        if (!streaming)
            h_sleep_ms(100);
    }
    free(out);
    if (!streaming) {
        char *log = h_read_file(rs->log);
        fail_msg("the rebuilt standby does not stream; its log:\n%s", log ? log : "");
    }
    out = h_rserver_sql(rs, "postgres", "SELECT pg_is_in_recovery()");
    assert_string_equal(out, "t");
    free(out);
    /* a row committed now on the primary reaches the standby */
    free(h_pg_sqlf(fx->pg, "INSERT INTO pitr VALUES (100, 'after the standby')"));
    free(h_pg_sqlf(fx->pg, "DELETE FROM pitr WHERE id = 100"));
    h_rserver_stop(rs);
    free(conninfo);
    free(reloc);
    free(tsloc);
    free(dest);
}

/* ---- --get-wal: restore_command calls barrel get-wal, no WAL copied ---- */

static void
test_recover_get_wal_settings(void **state)
{
    struct fixture *fx = need_pg(state);
    char *dest = br_asprintf("%s/r_getwal", fx->tmp);
    char *reloc = br_asprintf("ts1:%s/r_getwal_ts1", fx->tmp);
    char *path = br_asprintf("%s/postgresql.auto.conf", dest);
    char *user = h_current_user();
    char *want, *text, *self = realpath(h_barrel_bin(), NULL);
    struct h_result r;

    assert_non_null(self);
    r = BARREL(fx, "recover", "--get-wal", "--target-name", "rp_mid", "--tablespace", reloc, "pg", fx->backup1, dest);
    if (r.status != 0)
        fail_msg("recover --get-wal failed: %s%s", r.out, r.err);
    assert_non_null(strstr(r.out, "WARNING: 'get-wal' is in the specified 'recovery_options'."));
    h_result_free(&r);
    text = h_read_file(path);
    assert_non_null(text);
    want = br_asprintf("\n# The 'barrel get-wal' command must run as '%s' user\n"
                       "restore_command = 'sudo -u %s %s -c %s get-wal -P pg %%f > %%p'\n"
                       "recovery_target_name = 'rp_mid'\n", user, user, self, fx->conf);
    if (strstr(text, want) == NULL)
        fail_msg("postgresql.auto.conf lacks:\n%s\nit is:\n%s", want, text);
    free(want);
    free(text);
    /* no WAL copied: barman_wal holds only archive_status, as Barman's */
    r = h_sh("ls -A '%s/barman_wal'", dest);
    assert_string_equal(r.out, "archive_status\n");
    h_result_free(&r);
    free(self);
    free(user);
    free(path);
    free(reloc);
    free(dest);
}

/* ---- refusals: one clear line, non-zero exit, nothing written ---- */

static void
expect_refusal(struct fixture *fx, const char *const *args, const char *message)
{
    struct h_result r = h_run_conf(h_barrel_bin(), fx->conf, NULL, args);

    if (r.status == 0 || strstr(r.err, message) == NULL)
        fail_msg("expected a refusal with \"%s\", got %d:\n%s%s", message, r.status, r.out, r.err);
    h_result_free(&r);
}

static void
test_recover_refusals(void **state)
{
    struct fixture *fx = need_pg(state);
    char *never = br_asprintf("%s/never", fx->tmp);
    char *full = br_asprintf("%s/full", fx->tmp);
    char *junk = br_asprintf("%s/full/something", fx->tmp);
    char *r_ts = br_asprintf("ts1:%s/never_ts1", fx->tmp);
    struct h_result r;

    mkdir(full, 0700);
    h_write_file(junk, "not a data directory\n");
    {
        const char *a[] = {"recover", "--target-time", "2000-01-01 00:00:00+00", "pg", fx->backup1, never, NULL};
        expect_refusal(fx, a, "ERROR: The requested target time 2000-01-01 00:00:00+00:00 is before the backup end time ");
    }
    {
        const char *a[] = {"recover", "--target-immediate", "--target-name", "x", "pg", fx->backup1, never, NULL};
        expect_refusal(fx, a, "ERROR: You cannot specify multiple targets for the recovery operation");
    }
    {
        const char *a[] = {"recover", "--target-tli", "7", "pg", fx->backup1, never, NULL};
        expect_refusal(fx, a, "ERROR: The requested target timeline 7 is not reachable from backup");
    }
    {
        const char *a[] = {"recover", "--tablespace", "nosuch:/tmp/x", "pg", fx->backup1, never, NULL};
        expect_refusal(fx, a, "ERROR: Invalid tablespace name 'nosuch'");
    }
    {
        const char *a[] = {"recover", "--tablespace", r_ts, "pg", fx->backup1, full, NULL};
        expect_refusal(fx, a, "is not empty");
    }
    {
        const char *a[] = {"recover", "--target-action", "promote", "--tablespace", r_ts, "pg", fx->backup1, never, NULL};
        expect_refusal(fx, a, "ERROR: Can't enable recovery target action when PITR is not required");
    }
    {
        /* remote recovery is tested in test_recover_remote.c; here an ssh option barrel cannot honour */
        const char *a[] = {"recover", "--remote-ssh-command", "ssh -o ProxyCommand=nc postgres@host", "pg", fx->backup1,
                           never, NULL};
        expect_refusal(fx, a, "--remote-ssh-command: ssh option \"ProxyCommand\" is not supported by barrel");
    }
    {
        const char *a[] = {"recover", "pg", "20000101T000000", never, NULL};
        expect_refusal(fx, a, "ERROR: Unknown backup '20000101T000000' for server 'pg'");
    }
    {
        const char *a[] = {"recover", "pg", fx->backup1, "host:/tmp/x", NULL};
        expect_refusal(fx, a, "ERROR: The destination directory parameter cannot contain the ':' character");
    }
    {
        const char *a[] = {"recover", "--target-lsn", "0/1", "pg", fx->backup1, never, NULL};
        expect_refusal(fx, a, "is before the backup end LSN");
    }
    /* nothing was created by any of them */
    assert_int_equal(access(never, F_OK), -1);
    r = h_sh("ls -A '%s' | wc -l", full);
    assert_string_equal(r.out, "1\n");
    h_result_free(&r);
    free(r_ts);
    free(junk);
    free(full);
    free(never);
}

/* ---- hostile and damaged archives ---- */

/* A copy of server pg's catalog as server `evil`, whose backup 2 gets base.tar.zst from `python` (a script body). */
static void
make_evil(struct fixture *fx, const char *python)
{
    char *script = br_asprintf("%s/craft.py", fx->tmp);
    char *base = br_asprintf("%s/evil/base/%s/data/base.tar.zst", fx->tmp, fx->backup2);
    struct h_result r;

    r = h_sh("rm -rf '%s/evil' && cp -a '%s/pg' '%s/evil' && rm -f '%s/evil/streaming/'*", fx->tmp, fx->home, fx->tmp,
             fx->tmp);
    assert_int_equal(r.status, 0);
    h_result_free(&r);
    h_write_file(script, python);
    r = h_sh("zstd -dc '%s' > '%s.tar' && python3 '%s' '%s.tar' '%s.new.tar' && zstd -q -f '%s.new.tar' -o '%s' "
             "&& rm -f '%s.tar' '%s.new.tar'", base, base, script, base, base, base, base, base, base);
    if (r.status != 0)
        fail_msg("crafting the archive failed: %s%s", r.out, r.err);
    h_result_free(&r);
    free(base);
    free(script);
}

static void
expect_evil_refused(struct fixture *fx, const char *name, const char *message, const char *outside)
{
    char *dest = br_asprintf("%s/%s", fx->tmp, name);
    char *tsloc = br_asprintf("ts1:%s/%s_ts1", fx->tmp, name);
    struct h_result r = BARREL(fx, "recover", "--tablespace", tsloc, "evil", fx->backup2, dest);

    if (r.status == 0 || strstr(r.err, message) == NULL)
        fail_msg("%s: expected \"%s\", got %d:\n%s%s", name, message, r.status, r.out, r.err);
    h_result_free(&r);
    /* the destination was emptied again: nothing looks like a data directory */
    assert_int_equal(access(dest, F_OK), -1);
    /* and nothing outside it changed */
    r = h_sh("ls -A '%s' 2>/dev/null | wc -l", outside);
    assert_string_equal(r.out, "1\n");
    h_result_free(&r);
    free(tsloc);
    free(dest);
}

static void
test_recover_hostile_archives(void **state)
{
    struct fixture *fx = need_pg(state);
    char *outside = br_asprintf("%s/outside", fx->tmp);
    char *sentinel = br_asprintf("%s/outside/sentinel", fx->tmp);
    char *py;

    mkdir(outside, 0755);
    h_write_file(sentinel, "untouched\n");

    /* "../outside/evil": climbing out of the destination */
    py = br_asprintf("import sys, tarfile, io\n"
                     "src = tarfile.open(sys.argv[1]); dst = tarfile.open(sys.argv[2], 'w', format=tarfile.GNU_FORMAT)\n"
                     "ti = tarfile.TarInfo('../outside/evil'); data = b'pwned'; ti.size = len(data)\n"
                     "dst.addfile(ti, io.BytesIO(data))\n"
                     "for m in src.getmembers(): dst.addfile(m, src.extractfile(m) if m.isfile() else None)\n"
                     "dst.close()\n");
    make_evil(fx, py);
    free(py);
    expect_evil_refused(fx, "e_dotdot", "refusing archive member \"../outside/evil\": path contains \"..\"", outside);

    /* an absolute path */
    py = br_asprintf("import sys, tarfile, io\n"
                     "src = tarfile.open(sys.argv[1]); dst = tarfile.open(sys.argv[2], 'w', format=tarfile.GNU_FORMAT)\n"
                     "for m in src.getmembers(): dst.addfile(m, src.extractfile(m) if m.isfile() else None)\n"
                     "ti = tarfile.TarInfo('%s/abs'); data = b'pwned'; ti.size = len(data)\n"
                     "dst.addfile(ti, io.BytesIO(data))\n"
                     "dst.close()\n", outside);
    make_evil(fx, py);
    free(py);
    expect_evil_refused(fx, "e_abs", "absolute path", outside);

    /* a symlink to outside, then a file written through it */
    py = br_asprintf("import sys, tarfile, io\n"
                     "src = tarfile.open(sys.argv[1]); dst = tarfile.open(sys.argv[2], 'w', format=tarfile.GNU_FORMAT)\n"
                     "for m in src.getmembers(): dst.addfile(m, src.extractfile(m) if m.isfile() else None)\n"
                     "ti = tarfile.TarInfo('escape'); ti.type = tarfile.SYMTYPE; ti.linkname = '%s'\n"
                     "dst.addfile(ti)\n"
                     "ti = tarfile.TarInfo('escape/evil'); data = b'pwned'; ti.size = len(data)\n"
                     "dst.addfile(ti, io.BytesIO(data))\n"
                     "dst.close()\n", outside);
    make_evil(fx, py);
    free(py);
    expect_evil_refused(fx, "e_symlink", "symbolic link to", outside);

    /* a relative symlink to the destination itself, then a file below it */
    py = br_asprintf("import sys, tarfile, io\n"
                     "src = tarfile.open(sys.argv[1]); dst = tarfile.open(sys.argv[2], 'w', format=tarfile.GNU_FORMAT)\n"
                     "ti = tarfile.TarInfo('loop'); ti.type = tarfile.SYMTYPE; ti.linkname = '.'\n"
                     "dst.addfile(ti)\n"
                     "ti = tarfile.TarInfo('loop/evil'); data = b'pwned'; ti.size = len(data)\n"
                     "dst.addfile(ti, io.BytesIO(data))\n"
                     "for m in src.getmembers(): dst.addfile(m, src.extractfile(m) if m.isfile() else None)\n"
                     "dst.close()\n");
    make_evil(fx, py);
    free(py);
    expect_evil_refused(fx, "e_through", "would be written through the symbolic link \"loop\"", outside);

    {
        char *text = h_read_file(sentinel);
        assert_string_equal(text, "untouched\n");
        free(text);
    }
    free(sentinel);
    free(outside);
}

static void
test_recover_flipped_byte(void **state)
{
    struct fixture *fx = need_pg(state);
    /* one byte of PG_VERSION changed, same size: only the checksum can tell */
    const char *py = "import sys, tarfile, io\n"
                     "src = tarfile.open(sys.argv[1]); dst = tarfile.open(sys.argv[2], 'w', format=tarfile.GNU_FORMAT)\n"
                     "for m in src.getmembers():\n"
                     "    f = src.extractfile(m) if m.isfile() else None\n"
                     "    if m.name == 'PG_VERSION':\n"
                     "        data = bytearray(f.read()); data[0] ^= 0x01; f = io.BytesIO(bytes(data))\n"
                     "    dst.addfile(m, f)\n"
                     "dst.close()\n";

    make_evil(fx, py);
    {
        char *dest = br_asprintf("%s/e_flip", fx->tmp);
        char *tsloc = br_asprintf("ts1:%s/e_flip_ts1", fx->tmp);
        struct h_result r = BARREL(fx, "recover", "--tablespace", tsloc, "evil", fx->backup2, dest);

        if (r.status == 0 || strstr(r.err, "base.tar.zst: checksum mismatch for file \"PG_VERSION\"") == NULL)
            fail_msg("expected a checksum mismatch naming PG_VERSION, got %d:\n%s%s", r.status, r.out, r.err);
        h_result_free(&r);
        assert_int_equal(access(dest, F_OK), -1);
        free(tsloc);
        free(dest);
    }
}

/* ---- --delta ---- */

static void
test_recover_delta(void **state)
{
    struct fixture *fx = need_pg(state);
    char *dest = br_asprintf("%s/r_delta", fx->tmp);
    char *tsloc = br_asprintf("%s/r_delta_ts1", fx->tmp);
    char *reloc = br_asprintf("ts1:%s", tsloc);
    struct h_result r;
    struct h_rserver *rs;
    char *ids, *want;

    r = BARREL(fx, "recover", "--tablespace", reloc, "pg", fx->backup2, dest);
    if (r.status != 0)
        fail_msg("first recover failed: %s%s", r.out, r.err);
    h_result_free(&r);
    /* damage: one file changed (same size), one removed, one extra file */
    r = h_sh("cd '%s' && printf 'X' | dd of=global/pg_control bs=1 seek=100 conv=notrunc 2>/dev/null && "
             "rm -f base/1/PG_VERSION && echo junk > base/extra_junk", dest);
    assert_int_equal(r.status, 0);
    h_result_free(&r);

    /* without --delta: refused */
    r = BARREL(fx, "recover", "--tablespace", reloc, "pg", fx->backup2, dest);
    assert_int_not_equal(r.status, 0);
    assert_non_null(strstr(r.err, "is not empty"));
    h_result_free(&r);

    /*
     * --delta rewrites exactly: global/pg_control, base/1/PG_VERSION, the
     * postgresql.conf the first recovery edited (archive_command) and
     * backup_manifest.<ID>, which the backup's manifest does not list.
     */
    r = BARREL(fx, "recover", "--delta", "--tablespace", reloc, "pg", fx->backup2, dest);
    if (r.status != 0)
        fail_msg("recover --delta failed: %s%s", r.out, r.err);
    if (strstr(r.out, "Restored 4 files (") == NULL)
        fail_msg("unexpected delta summary:\n%s", r.out);
    h_result_free(&r);
    r = h_sh("test ! -e '%s/base/extra_junk'", dest);
    assert_int_equal(r.status, 0);
    h_result_free(&r);

    rs = h_rserver_start(dest, fx->pg->os_user, tsloc);
    assert_non_null(rs);
    ids = ids_of(rs);
    want = expected_ids(N_ROWS);
    assert_string_equal(ids, want);
    free(ids);
    free(want);

    /* a running server is never restored over */
    r = BARREL(fx, "recover", "--delta", "--tablespace", reloc, "pg", fx->backup2, dest);
    assert_int_not_equal(r.status, 0);
    assert_non_null(strstr(r.err, "a PostgreSQL server is running on"));
    h_result_free(&r);
    h_rserver_stop(rs);
    free(reloc);
    free(tsloc);
    free(dest);
}

/* ---- Barman 3.4's own tar backup (gzip, a tablespace, gzip WAL) ---- */

static void
test_recover_barman_fixture(void **state)
{
    struct fixture *fx = need_pg(state);
    char *dest = br_asprintf("%s/r_barman", fx->tmp);
    char *tsloc = br_asprintf("%s/r_barman_ts1", fx->tmp);
    char *reloc = br_asprintf("ts1:%s", tsloc);
    struct h_result r;
    struct h_rserver *rs;
    char *out;

    r = h_sh("cp -a '%s/backup-tar-complete/pgz' '%s/pgz' && chmod -R u+w '%s/pgz'", h_fixtures_dir(), fx->tmp,
             fx->tmp);
    assert_int_equal(r.status, 0);
    h_result_free(&r);

    /* Barman's restore3 command on the same backup: the same postgresql.auto.conf, byte for byte */
    {
        char *d3 = br_asprintf("%s/r_barman3", fx->tmp);
        char *reloc3 = br_asprintf("ts1:%s/r_barman3_ts1", fx->tmp);
        char *mine, *theirs, *path;

        r = BARREL(fx, "recover", "--target-name", "fixture_rp", "--target-action", "promote", "--tablespace", reloc3,
                   "pgz", "20261122T133022", d3);
        if (r.status != 0)
            fail_msg("recover like Barman's restore3 failed: %s%s", r.out, r.err);
        assert_non_null(strstr(r.out, "Doing PITR. Recovery target name: 'fixture_rp'\n"));
        h_result_free(&r);
        path = br_asprintf("%s/postgresql.auto.conf", d3);
        mine = h_read_file(path);
        free(path);
        path = br_asprintf("%s/recover/restore3-tar-gzip-target-name-promote/postgresql.auto.conf", h_fixtures_dir());
        theirs = h_read_file(path);
        free(path);
        assert_non_null(theirs);
        assert_string_equal(mine, theirs);
        free(mine);
        free(theirs);
        path = br_asprintf("%s/postgresql.auto.conf.origin", d3);
        mine = h_read_file(path);
        free(path);
        path = br_asprintf("%s/recover/restore3-tar-gzip-target-name-promote/postgresql.auto.conf.origin",
                           h_fixtures_dir());
        theirs = h_read_file(path);
        free(path);
        assert_string_equal(mine, theirs);
        free(mine);
        free(theirs);
        r = h_sh("cd '%s' && test -f recovery.signal && test -f backup_manifest.20261122T133022 && "
                 "test -f .barman-recover.info && test -d barman_wal/archive_status && "
                 "test -f barman_wal/00000001000000000000000B && test -L pg_tblspc/16409", d3);
        assert_int_equal(r.status, 0);
        h_result_free(&r);
        free(reloc3);
        free(d3);
    }
    r = BARREL(fx, "recover", "--target-immediate", "--target-action", "promote", "--tablespace", reloc, "pgz",
               "latest", dest);
    if (r.status != 0)
        fail_msg("recover of Barman's backup failed: %s%s", r.out, r.err);
    h_result_free(&r);
    rs = h_rserver_start(dest, fx->pg->os_user, tsloc);
    assert_non_null(rs);
    h_rserver_wait_for(rs, "SELECT pg_is_in_recovery()", "f", 100);
    out = h_rserver_sql(rs, "bench", "SELECT count(*) FROM pgbench_accounts");
    assert_non_null(out);
    assert_string_equal(out, "100000");
    free(out);
    out = h_rserver_sql(rs, "bench", "SELECT count(*) FROM ts_data");
    assert_non_null(out);
    assert_string_equal(out, "2500");
    free(out);
    out = h_rserver_sql(rs, "bench", "SELECT pg_tablespace_location(oid) FROM pg_tablespace WHERE spcname = 'ts1'");
    assert_string_equal(out, tsloc);
    free(out);
    h_rserver_stop(rs);
    free(reloc);
    free(tsloc);
    free(dest);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recover_target_time),
        cmocka_unit_test(test_recover_target_xid),
        cmocka_unit_test(test_recover_target_xid_exclusive),
        cmocka_unit_test(test_recover_target_lsn),
        cmocka_unit_test(test_recover_target_name),
        cmocka_unit_test(test_recover_target_immediate),
        cmocka_unit_test(test_recover_latest_partial),
        cmocka_unit_test(test_recover_standby),
        cmocka_unit_test(test_recover_get_wal_settings),
        cmocka_unit_test(test_recover_background_wal),
        cmocka_unit_test(test_recover_refusals),
        cmocka_unit_test(test_recover_hostile_archives),
        cmocka_unit_test(test_recover_flipped_byte),
        cmocka_unit_test(test_recover_delta),
        cmocka_unit_test(test_recover_barman_fixture),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
