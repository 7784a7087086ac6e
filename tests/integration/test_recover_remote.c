/*
 * test_recover_remote.c: `barrel recover --remote-ssh-command` to "another
 * host": an OpenSSH server on 127.0.0.1 (tests/lib/sshd.c) with its own
 * host key, barrel's client key in its authorized_keys and a known_hosts
 * for barrel's HOME. The destination is on this machine, so the recovered
 * directory can be STARTED with pg_ctl and its rows read back.
 *
 * As root, sshd runs as the cluster's OS user and barrel logs in as that
 * user, so that the files it writes belong to PostgreSQL's user, as with
 * Barman's "ssh postgres@host"; as an ordinary user, everything is that
 * user's.
 *
 *   table in a tablespace | rows 1-3 | backup (tar.zst) | rows 4-5 | restore point rp | rows 6-7 | WAL archived
 *
 * Recovered: latest (WAL into pg_wal, tablespace relocated, --jobs 2) and
 * --target-name rp (barman_wal, recovery settings); then, after the server's
 * host key changed, a recovery that must be refused with nothing written.
 */
#include "barrel/build.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "barrel/mem.h"
#include "harness.h"
#include "sshd.h"

#define PG_BIN "/usr/lib/postgresql/15/bin"

struct fixture {
    struct h_pg *pg;
    struct h_sshd *sshd;
    char *tmp, *home, *conf, *tbs, *remote, *ssh_command;
    char *started[4];          /* data directories started, stopped at teardown */
};

static void
sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static char *
sql(struct h_pg *pg, const char *text)
{
    char *out = h_pg_sql(pg, "postgres", text);

    if (out == NULL)
        fail_msg("SQL failed: %s", text);
    return out;
}

/* barrel -c CONF args..., with HOME at the test's ~/.ssh and no agent */
static struct h_result
barrel(const struct fixture *fx, const char *const *args)
{
    const char *argv[40];
    char *home = br_asprintf("HOME=%s", fx->sshd->home);
    const char *env[] = {home, "SSH_AUTH_SOCK", NULL};
    size_t n = 0;
    struct h_result r;

    argv[n++] = h_barrel_bin();
    argv[n++] = "-c";
    argv[n++] = fx->conf;
    for (; *args && n < BR_ARRAY_LEN(argv) - 1; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    r = h_run(argv, NULL, env);
    free(home);
    return r;
}

#define BARREL(fx, ...) barrel((fx), (const char *const[]){__VA_ARGS__, NULL})

static const char *
os_user(const struct fixture *fx)
{
    return fx->pg->os_user;
}

static void
stop_started(struct fixture *fx)
{
    for (size_t i = 0; i < BR_ARRAY_LEN(fx->started); i++) {
        struct h_result r;

        if (fx->started[i] == NULL)
            continue;
        r = h_sh("%s%s%s " PG_BIN "/pg_ctl -D '%s' -m immediate -w stop >/dev/null 2>&1",
                 os_user(fx) ? "runuser -u " : "", os_user(fx) ? os_user(fx) : "", os_user(fx) ? " --" : "",
                 fx->started[i]);
        h_result_free(&r);
        free(fx->started[i]);
        fx->started[i] = NULL;
    }
}

/* Start PostgreSQL on a recovered directory and return the ids of table pitr ("1,2,3"). */
static char *
start_and_read(struct fixture *fx, const char *datadir)
{
    char *sock = br_asprintf("%s.sock", datadir), *log = br_asprintf("%s.sock/postgresql.log", datadir);
    int port = h_free_port();
    struct h_result r;
    char *ids = NULL;
    size_t slot = 0;

    while (slot < BR_ARRAY_LEN(fx->started) && fx->started[slot] != NULL)
        slot++;
    assert_true(slot < BR_ARRAY_LEN(fx->started));
    r = h_sh("mkdir -p '%s'", sock);
    h_result_free(&r);
    if (os_user(fx) != NULL) {
        r = h_sh("chown %s '%s'", os_user(fx), sock);
        h_result_free(&r);
    }
    r = h_sh("%s%s%s " PG_BIN "/pg_ctl -D '%s' -l '%s' -w -t 120 "
             "-o \"-p %d -k '%s' -c listen_addresses=127.0.0.1 -c archive_mode=off\" start",
             os_user(fx) ? "runuser -u " : "", os_user(fx) ? os_user(fx) : "", os_user(fx) ? " --" : "", datadir, log,
             port, sock);
    if (r.status != 0) {
        char *text = h_read_file(log);
        fail_msg("pg_ctl start on the recovered directory failed (%d): %s%s\n--- log ---\n%s", r.status, r.out, r.err,
                 text ? text : "(none)");
    }
    h_result_free(&r);
    fx->started[slot] = br_strdup(datadir);
    /* a PITR recovery promotes at the target; wait until it accepts writes */
    for (int i = 0; i < 600; i++) {
        char p[16];
        const char *argv[] = {PG_BIN "/psql", "-X", "-q", "-A", "-t", "-h", sock, "-p", p, "-U", "postgres", "-d",
                              "postgres", "-c",
                              "SELECT CASE WHEN pg_is_in_recovery() THEN 'recovering' ELSE "
                              "coalesce(string_agg(id::text, ',' ORDER BY id), '') END FROM pitr",
                              NULL};
        snprintf(p, sizeof(p), "%d", port);
        r = h_run(argv, NULL, NULL);
        if (r.status == 0 && strncmp(r.out, "recovering", 10) != 0) {
            size_t len = strlen(r.out);
            while (len > 0 && r.out[len - 1] == '\n')
                r.out[--len] = '\0';
            ids = r.out;
            r.out = NULL;
            h_result_free(&r);
            break;
        }
        h_result_free(&r);
        sleep_ms(100);
    }
    free(sock);
    free(log);
    return ids;
}

/* ---- fixture ---- */

static int
group_setup(void **state)
{
    struct fixture *fx = br_calloc(1, sizeof(*fx));
    char *incoming, *extra, *conninfo, *user, *text, *seg;
    struct h_result r;

    *state = fx;
    if (!h_pg_available() || !h_sshd_available())
        return 0;
    fx->tmp = h_mkdtemp();
    fx->home = br_asprintf("%s/home", fx->tmp);
    fx->conf = br_asprintf("%s/barrel.conf", fx->tmp);
    fx->tbs = br_asprintf("%s/tbs1", fx->tmp);
    incoming = br_asprintf("%s/pg/incoming", fx->home);
    r = h_sh("mkdir -p '%s' '%s' && chmod 0777 '%s' '%s/pg' '%s'", incoming, fx->tbs, incoming, fx->home, fx->home);
    h_result_free(&r);
    extra = br_asprintf("archive_mode = on\n"
                        "archive_command = 'test ! -f %s/%%f && cp %%p %s/%%f.tmp && mv %s/%%f.tmp %s/%%f'\n",
                        incoming, incoming, incoming, incoming);
    fx->pg = h_pg_start(extra);
    free(extra);
    if (fx->pg == NULL) {
        free(incoming);
        return -1;
    }
    /* the "other host": sshd running as PostgreSQL's user, so what barrel writes is that user's */
    fx->sshd = os_user(fx) != NULL ? h_sshd_start_as(os_user(fx)) : h_sshd_start();
    if (fx->sshd == NULL) {
        free(incoming);
        return -1;
    }
    fx->ssh_command = h_sshd_command(fx->sshd);
    fx->remote = br_asprintf("%s/remote", fx->sshd->dir);
    r = h_sh("mkdir -p '%s' && chmod 755 '%s' %s%s %s", fx->remote, fx->remote, os_user(fx) ? "&& chown " : "",
             os_user(fx) ? os_user(fx) : "", os_user(fx) ? fx->remote : "");
    h_result_free(&r);
    if (os_user(fx) != NULL) {
        r = h_sh("chown %s '%s'", os_user(fx), fx->tbs);
        h_result_free(&r);
    }

    conninfo = h_pg_conninfo(fx->pg);
    user = h_current_user();
    text = br_asprintf("[barman]\nbarman_home = %s\nbarman_user = %s\nlog_level = INFO\n\n"
                       "[pg]\nconninfo = %s\nbackup_method = postgres\narchiver = on\n"
                       "immediate_checkpoint = true\nbackup_compression = zstd\n",
                       fx->home, user, conninfo);
    h_write_file(fx->conf, text);
    free(text);
    free(user);
    free(conninfo);

    /* data: a table in a tablespace, rows around a backup and a restore point */
    text = br_asprintf("CREATE TABLESPACE ts1 LOCATION '%s'", fx->tbs);
    free(sql(fx->pg, text));
    free(text);
    free(sql(fx->pg, "CREATE TABLE ts_data (id int, v text) TABLESPACE ts1; "
                     "INSERT INTO ts_data SELECT g, md5(g::text) FROM generate_series(1, 3000) g; "
                     "CREATE TABLE pitr (id int PRIMARY KEY); INSERT INTO pitr VALUES (1), (2), (3)"));
    {
        const char *args[] = {"backup", "pg", NULL};
        r = barrel(fx, args);
        if (r.status != 0) {
            print_message("backup failed: %s%s", r.out, r.err);
            h_result_free(&r);
            free(incoming);
            return -1;
        }
        h_result_free(&r);
    }
    free(sql(fx->pg, "INSERT INTO pitr VALUES (4), (5)"));
    free(sql(fx->pg, "SELECT pg_create_restore_point('rp')"));
    free(sql(fx->pg, "INSERT INTO pitr VALUES (6), (7)"));
    seg = sql(fx->pg, "SELECT pg_walfile_name(pg_switch_wal())");
    for (int i = 0; i < 600; i++) {
        char *last = sql(fx->pg, "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver");
        int ok = strcmp(last, seg) >= 0;
        free(last);
        if (ok)
            break;
        sleep_ms(100);
    }
    free(seg);
    {
        const char *args[] = {"archive-wal", "pg", NULL};
        r = barrel(fx, args);
        h_result_free(&r);
    }
    free(incoming);
    return 0;
}

static int
group_teardown(void **state)
{
    struct fixture *fx = *state;

    stop_started(fx);
    h_sshd_destroy(fx->sshd);
    h_pg_destroy(fx->pg);
    if (fx->tmp != NULL)
        h_rmtree(fx->tmp);
    free(fx->tmp);
    free(fx->home);
    free(fx->conf);
    free(fx->tbs);
    free(fx->remote);
    free(fx->ssh_command);
    free(fx);
    return 0;
}

static struct fixture *
need_all(void **state)
{
    struct fixture *fx = *state;

    if (!h_pg_available() || !h_sshd_available()) {
        print_message("PostgreSQL 15 or sshd not installed: skipping\n");
        skip();
    }
    assert_non_null(fx->pg);
    assert_non_null(fx->sshd);
    return fx;
}

/* ---- tests ---- */

static void
test_recover_remote_latest(void **state)
{
    struct fixture *fx = need_all(state);
    char *dest = br_asprintf("%s/data1", fx->remote), *ts = br_asprintf("%s/data1_ts1", fx->remote);
    char *reloc = br_asprintf("ts1:%s", ts);
    struct h_result r;
    char *ids, *path;

    r = BARREL(fx, "recover", "--remote-ssh-command", fx->ssh_command, "--jobs", "2", "--tablespace", reloc, "pg",
               "latest", dest);
    if (r.status != 0)
        fail_msg("remote recover failed (%d): %s%s", r.status, r.out, r.err);
    assert_non_null(strstr(r.out, "Starting remote restore for server pg using backup"));
    h_result_free(&r);

    /* what was written over SFTP: the tablespace link, WAL in pg_wal, Barman's files */
    r = h_sh("cd '%s' && readlink pg_tblspc/* && ls pg_wal | grep -c '^0000' && test -f .barman-recover.info && "
             "ls backup_manifest.* && test ! -e recovery.signal && stat -c '%%U %%a' PG_VERSION . && "
             "test -z \"$(find . -name '*.tmp')\"",
             dest);
    if (r.status != 0)
        fail_msg("recovered directory: %s%s", r.out, r.err);
    assert_non_null(strstr(r.out, ts));
    {
        char *owner = os_user(fx) != NULL ? br_strdup(os_user(fx)) : h_current_user();
        char *want = br_asprintf("%s 600\n%s 700\n", owner, owner);
        assert_non_null(strstr(r.out, want));
        free(want);
        free(owner);
    }
    h_result_free(&r);

    ids = start_and_read(fx, dest);
    assert_non_null(ids);
    assert_string_equal(ids, "1,2,3,4,5,6,7");
    free(ids);
    path = br_asprintf("%s/PG_VERSION", dest);
    assert_true(access(path, F_OK) == 0);
    free(path);
    free(reloc);
    free(ts);
    free(dest);
}

static void
test_recover_remote_pitr(void **state)
{
    struct fixture *fx = need_all(state);
    char *dest = br_asprintf("%s/data2", fx->remote), *ts = br_asprintf("%s/data2_ts1", fx->remote);
    char *reloc = br_asprintf("ts1:%s", ts);
    struct h_result r;
    char *ids, *conf;

    r = BARREL(fx, "recover", "--remote-ssh-command", fx->ssh_command, "--target-name", "rp", "--target-action",
               "promote", "--tablespace", reloc, "pg", "latest", dest);
    if (r.status != 0)
        fail_msg("remote PITR recover failed (%d): %s%s", r.status, r.out, r.err);
    h_result_free(&r);
    conf = br_asprintf("%s/postgresql.auto.conf", dest);
    {
        char *text = h_read_file(conf);
        assert_non_null(text);
        assert_non_null(strstr(text, "restore_command = 'cp barman_wal/%f %p'\n"));
        assert_non_null(strstr(text, "recovery_target_name = 'rp'\n"));
        free(text);
    }
    free(conf);
    conf = br_asprintf("%s/recovery.signal", dest);
    assert_true(access(conf, F_OK) == 0);
    free(conf);
    ids = start_and_read(fx, dest);
    assert_non_null(ids);
    assert_string_equal(ids, "1,2,3,4,5");
    free(ids);
    free(reloc);
    free(ts);
    free(dest);
}

/* --get-wal: no WAL copied; the recovered server would fetch it with barman-cli's barman-wal-restore (spec 6.3) */
static void
test_recover_remote_get_wal(void **state)
{
    struct fixture *fx = need_all(state);
    char *dest = br_asprintf("%s/data4", fx->remote), *ts = br_asprintf("%s/data4_ts1", fx->remote);
    char *reloc = br_asprintf("ts1:%s", ts);
    char *user = h_current_user(), *want, *text, *path;
    struct h_result r;

    r = BARREL(fx, "recover", "--remote-ssh-command", fx->ssh_command, "--get-wal", "--target-name", "rp",
               "--tablespace", reloc, "pg", "latest", dest);
    if (r.status != 0)
        fail_msg("remote recover --get-wal failed (%d): %s%s", r.status, r.out, r.err);
    h_result_free(&r);
    path = br_asprintf("%s/postgresql.auto.conf", dest);
    text = h_read_file(path);
    assert_non_null(text);
    assert_non_null(strstr(text, "# The 'barman-wal-restore' command is provided in the 'barman-cli' package\n"));
    want = br_asprintf("restore_command = 'barman-wal-restore -P -U %s ", user);
    assert_non_null(strstr(text, want));
    assert_non_null(strstr(text, " pg %f %p'\n"));
    free(text);
    free(path);
    /* as Barman: barman_wal/archive_status/ exists for a PITR even with get-wal, but no WAL is copied */
    r = h_sh("cd '%s/barman_wal' && find . -mindepth 1 | sort", dest);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "./archive_status\n");
    h_result_free(&r);
    free(want);
    free(user);
    free(reloc);
    free(ts);
    free(dest);
}

static void
test_recover_remote_refuses_changed_host_key(void **state)
{
    struct fixture *fx = need_all(state);
    char *dest = br_asprintf("%s/data3", fx->remote), *ts = br_asprintf("%s/data3_ts1", fx->remote);
    char *reloc = br_asprintf("ts1:%s", ts);
    struct h_result r, before, after;
    char *want;

    before = h_sh("find '%s' | sort | md5sum", fx->remote);
    assert_int_equal(h_sshd_change_host_key(fx->sshd), 0);
    r = BARREL(fx, "recover", "--remote-ssh-command", fx->ssh_command, "--tablespace", reloc, "pg", "latest", dest);
    assert_int_not_equal(r.status, 0);
    want = br_asprintf("host key for '[127.0.0.1]:%d' has CHANGED since it was recorded in known_hosts (%s): "
                       "possible man-in-the-middle attack",
                       fx->sshd->port, fx->sshd->known_hosts);
    if (strstr(r.err, want) == NULL)
        fail_msg("expected \"%s\" in:\n%s%s", want, r.out, r.err);
    h_result_free(&r);
    /* nothing was written on the "remote host" */
    after = h_sh("find '%s' | sort | md5sum", fx->remote);
    assert_string_equal(before.out, after.out);
    assert_int_equal(access(dest, F_OK), -1);
    h_result_free(&before);
    h_result_free(&after);
    free(want);
    free(reloc);
    free(ts);
    free(dest);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recover_remote_latest),
        cmocka_unit_test(test_recover_remote_pitr),
        cmocka_unit_test(test_recover_remote_get_wal),
        cmocka_unit_test(test_recover_remote_refuses_changed_host_key),
    };
    return cmocka_run_group_tests_name("recover_remote", tests, group_setup, group_teardown);
}
