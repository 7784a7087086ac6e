/*
 * test_secrets.c: passwords stay secret, files with credentials stay
 * private, and the catalog is the barman user's alone.
 *
 * One PostgreSQL 15 cluster; the configuration's conninfo and
 * streaming_conninfo carry passwords (keyword and URI forms), for a server
 * that answers ("pg") and one on a closed port ("closed"); log_level is
 * DEBUG so that debug lines are searched too. Then:
 *
 *   - show-server (text and JSON) shows password=*REDACTED*, never a password;
 *   - every failing command of "closed" (check, backup, receive-wal,
 *     switch-wal, status, with -d) names the server without the password;
 *   - the running receive-wal that cron starts has no password in
 *     /proc/PID/cmdline or /proc/PID/environ;
 *   - a configuration file (main or included) that holds a password and is
 *     readable by others is refused in one line; a password file
 *     (passfile=, PGPASSFILE) with group or world access is refused, and
 *     works once it is 0600;
 *   - after check, cron, receive-wal, put-wal, archive-wal and backup, all
 *     run with umask 000, every directory of the catalog is 0700 and every
 *     file 0600 (lock files too);
 *   - the log file, written by all of the above, holds no password.
 *
 * (A user other than barman_user is refused in test_status.c.)
 */
#include "barrel/build.h"

#include <ftw.h>
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
#include "harness.h"
#include "pgwal.h"

#define SECRET_SUPER "Sup3r-s3cret-4711"
#define SECRET_REPL "R3pl-s3cret-0815"
#define SECRET_CLOSED "Cl0sed-s3cret-1234"
#define SECRET_URI "Ur1-s3cret-9876"

static const char *const secrets[] = {SECRET_SUPER, SECRET_REPL, SECRET_CLOSED, SECRET_URI};

struct fixture {
    char *tmp;
    char *home;
    char *conf;
    char *spool;       /* archive_command's target, outside the catalog */
    char *log;
    int closed_port;
    struct h_pg *pg;
};

static struct fixture *g_fx;

/* `barrel -c CONF ARGS` through sh, with umask 000 so that only barrel's own modes count. */
static struct h_result
barrel(const struct fixture *fx, const char *args)
{
    return h_sh("umask 000; '%s' -c '%s' %s < /dev/null", h_barrel_bin(), fx->conf, args);
}

static void
assert_no_secret(const char *text, const char *where)
{
    for (size_t i = 0; i < BR_ARRAY_LEN(secrets); i++)
        if (text != NULL && strstr(text, secrets[i]) != NULL)
            fail_msg("a password (%s) appears in %s:\n%s", secrets[i], where, text);
}

static void
assert_result_no_secret(const struct h_result *r, const char *what)
{
    char *where = br_asprintf("the output of `%s`", what);

    assert_no_secret(r->out, where);
    assert_no_secret(r->err, where);
    free(where);
}

static char *
section_pg(const struct fixture *fx)
{
    return br_asprintf("[pg]\nconninfo = host=127.0.0.1 port=%d user=" H_PG_SUPERUSER
                       " dbname=postgres password=" SECRET_SUPER "\n"
                       "streaming_conninfo = host=127.0.0.1 port=%d user=" H_PG_REPL_USER
                       " dbname=postgres password=" SECRET_REPL "\n"
                       "backup_method = postgres\narchiver = on\nstreaming_archiver = on\n"
                       "slot_name = barrel_secrets\ncreate_slot = auto\ncompression = gzip\n"
                       "immediate_checkpoint = true\n\n",
                       fx->pg->port, fx->pg->port);
}

static char *
section_closed(const struct fixture *fx)
{
    return br_asprintf("[closed]\nconninfo = host=127.0.0.1 port=%d user=" H_PG_SUPERUSER
                       " dbname=postgres password=" SECRET_CLOSED " connect_timeout=2\n"
                       "streaming_conninfo = postgresql://" H_PG_REPL_USER ":" SECRET_URI "@127.0.0.1:%d/postgres\n"
                       "backup_method = postgres\narchiver = on\nstreaming_archiver = on\nslot_name = closed\n\n",
                       fx->closed_port, fx->closed_port);
}

/* Write a configuration file: [barman], then `sections`, with `mode`. */
static void
write_conf(const struct fixture *fx, const char *path, const char *sections, mode_t mode)
{
    char *user = h_current_user();
    char *text = br_asprintf("[barman]\nbarman_home = %s\nbarman_user = %s\nlog_file = %s\nlog_level = DEBUG\n\n%s",
                             fx->home, user, fx->log, sections);

    h_write_file(path, text);
    if (chmod(path, mode) != 0)
        fail_msg("chmod %s", path);
    free(text);
    free(user);
}

static int
group_setup(void **state)
{
    struct fixture *fx;
    char *extra, *pg_sec, *closed_sec, *both;

    if (!h_pg_available()) {
        fprintf(stderr, "PostgreSQL 15 is not installed: secret tests skipped\n");
        *state = NULL;
        return 0;
    }
    fx = br_calloc(1, sizeof(*fx));
    fx->tmp = h_mkdtemp();
    fx->home = br_asprintf("%s/home", fx->tmp);   /* made by barrel itself */
    fx->conf = br_asprintf("%s/barrel.conf", fx->tmp);
    fx->spool = br_asprintf("%s/spool", fx->tmp);
    fx->log = br_asprintf("%s/barrel.log", fx->tmp);
    fx->closed_port = h_free_port();
    h_ok("mkdir spool", h_sh("mkdir -p '%s' && chmod 0777 '%s' && chmod 0755 '%s'", fx->spool, fx->spool, fx->tmp));
    extra = br_asprintf("archive_mode = on\narchive_timeout = 0\n"
                        "archive_command = 'test ! -f %s/%%f && cp %%p %s/%%f.tmp && mv %s/%%f.tmp %s/%%f'\n",
                        fx->spool, fx->spool, fx->spool, fx->spool);
    fx->pg = h_pg_start(extra);
    free(extra);
    if (fx->pg == NULL)
        return -1;
    pg_sec = section_pg(fx);
    closed_sec = section_closed(fx);
    both = br_asprintf("%s%s", pg_sec, closed_sec);
    write_conf(fx, fx->conf, both, 0600);
    free(both);
    free(pg_sec);
    free(closed_sec);
    g_fx = fx;
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
    free(fx->spool);
    free(fx->log);
    free(fx);
    return 0;
}

#define SKIP_WITHOUT_PG(fx) \
    do { if ((fx) == NULL) skip(); } while (0)

/* ---- show-server ---- */

static void
test_show_server_masks_passwords(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_PG(fx);
    struct h_result r = barrel(fx, "show-server pg closed");
    char *want;

    assert_int_equal(r.status, 0);
    assert_result_no_secret(&r, "show-server");
    want = br_asprintf("\tconninfo: host=127.0.0.1 port=%d user=" H_PG_SUPERUSER
                       " dbname=postgres password=*REDACTED*\n", fx->pg->port);
    assert_non_null(strstr(r.out, want));
    free(want);
    want = br_asprintf("\tstreaming_conninfo: host=127.0.0.1 port=%d user=" H_PG_REPL_USER
                       " dbname=postgres password=*REDACTED*\n", fx->pg->port);
    assert_non_null(strstr(r.out, want));
    free(want);
    want = br_asprintf("\tstreaming_conninfo: postgresql://" H_PG_REPL_USER ":*REDACTED*@127.0.0.1:%d/postgres\n",
                       fx->closed_port);
    assert_non_null(strstr(r.out, want));
    free(want);
    h_result_free(&r);

    r = barrel(fx, "-f json show-server pg closed");
    assert_int_equal(r.status, 0);
    assert_result_no_secret(&r, "show-server -f json");
    assert_non_null(strstr(r.out, "password=*REDACTED*"));
    h_result_free(&r);
}

/* ---- error messages ---- */

static void
test_errors_carry_no_password(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_PG(fx);
    static const char *const commands[] = {
        "check closed", "-d check closed", "backup closed", "receive-wal closed", "switch-wal closed",
        "status closed", "-d status closed", "receive-wal --create-slot closed",
    };
    char *safe = br_asprintf("(host=127.0.0.1 port=%d user=" H_PG_SUPERUSER " dbname=postgres "
                             "password=*REDACTED* connect_timeout=2)", fx->closed_port);
    int named = 0;

    for (size_t i = 0; i < BR_ARRAY_LEN(commands); i++) {
        struct h_result r = barrel(fx, commands[i]);

        assert_result_no_secret(&r, commands[i]);
        named += strstr(r.out, safe) != NULL || strstr(r.err, safe) != NULL
                 || strstr(r.err, ":*REDACTED*@127.0.0.1") != NULL;
        h_result_free(&r);
    }
    /* the connection errors do name the server, redacted (so the test searched real messages) */
    if (named == 0)
        fail_msg("no command named the conninfo %s", safe);
    {
        /* receive-wal connects with streaming_conninfo, the URI form */
        struct h_result r = barrel(fx, "receive-wal closed");
        char *want = br_asprintf("ERROR: could not connect to server (postgresql://" H_PG_REPL_USER
                                 ":*REDACTED*@127.0.0.1:%d/postgres): connection to server at \"127.0.0.1\", "
                                 "port %d failed: Connection refused\n", fx->closed_port, fx->closed_port);

        assert_int_equal(r.status, 1);
        assert_string_equal(r.out, "Starting receive-wal for server closed\n");
        assert_string_equal(r.err, want);
        free(want);
        h_result_free(&r);
    }
    free(safe);
}

/* ---- files holding credentials ---- */

static void
test_config_with_password_readable_by_others_refused(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_PG(fx);
    char *path = br_asprintf("%s/open.conf", fx->tmp), *sec = section_pg(fx), *want;
    char *incdir = br_asprintf("%s/conf.d", fx->tmp), *inc = br_asprintf("%s/conf.d/pg.conf", fx->tmp);
    struct h_result r;

    write_conf(fx, path, sec, 0644);
    r = h_sh("'%s' -c '%s' list-servers", h_barrel_bin(), path);
    want = br_asprintf("ERROR: %s: contains a password and is readable by others (mode 0644); chmod 0600 it\n", path);
    assert_string_equal(r.err, want);
    assert_int_equal(r.status, 2);
    assert_string_equal(r.out, "");
    free(want);
    h_result_free(&r);

    /* group access: refused unless root owns the file (root:barman 0640) */
    chmod(path, 0640);
    r = h_sh("'%s' -c '%s' list-servers", h_barrel_bin(), path);
    if (geteuid() == 0) {
        assert_int_equal(r.status, 0);
        h_result_free(&r);
        if (fx->pg->os_user != NULL) {
            h_ok("chown", h_sh("chown '%s' '%s'", fx->pg->os_user, path));
            r = h_sh("'%s' -c '%s' list-servers", h_barrel_bin(), path);
            want = br_asprintf("ERROR: %s: contains a password and is readable by others (mode 0640); chmod 0600 it\n",
                               path);
            assert_string_equal(r.err, want);
            free(want);
            h_result_free(&r);
            h_ok("chown back", h_sh("chown root '%s'", path));
        }
    } else {
        want = br_asprintf("ERROR: %s: contains a password and is readable by others (mode 0640); chmod 0600 it\n",
                           path);
        assert_string_equal(r.err, want);
        free(want);
        h_result_free(&r);
    }

    /* 0600: accepted */
    chmod(path, 0600);
    r = h_sh("'%s' -c '%s' list-servers", h_barrel_bin(), path);
    assert_int_equal(r.status, 0);
    h_result_free(&r);

    /* no password: a readable file is fine */
    write_conf(fx, path, "[nopw]\nconninfo = host=127.0.0.1 port=1 user=x\n", 0644);
    r = h_sh("'%s' -c '%s' list-servers", h_barrel_bin(), path);
    assert_int_equal(r.status, 0);
    h_result_free(&r);

    /* an included file holding the password: refused by its own name */
    h_ok("mkdir conf.d", h_sh("mkdir -p '%s'", incdir));
    {
        char *main_text = br_asprintf("[barman]\nbarman_home = %s\nbarman_user = root\nconfiguration_files_directory = %s\n",
                                      fx->home, incdir);
        h_write_file(path, main_text);
        chmod(path, 0644);
        free(main_text);
    }
    h_write_file(inc, sec);
    chmod(inc, 0604);
    r = h_sh("'%s' -c '%s' list-servers", h_barrel_bin(), path);
    want = br_asprintf("ERROR: %s: contains a password and is readable by others (mode 0604); chmod 0600 it\n", inc);
    assert_string_equal(r.err, want);
    assert_int_equal(r.status, 2);
    free(want);
    h_result_free(&r);

    free(sec);
    free(path);
    free(incdir);
    free(inc);
}

static void
test_passfile_readable_by_others_refused(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_PG(fx);
    char *pass = br_asprintf("%s/pgpass", fx->tmp), *conf = br_asprintf("%s/pf.conf", fx->tmp);
    char *sec, *want, *line = br_asprintf("127.0.0.1:%d:*:*:" SECRET_SUPER "\n", fx->pg->port);
    struct h_result r;

    h_write_file(pass, line);
    chmod(pass, 0644);
    sec = br_asprintf("[pf]\nconninfo = host=127.0.0.1 port=%d user=" H_PG_SUPERUSER " dbname=postgres passfile=%s\n"
                      "backup_method = postgres\narchiver = on\n\n"
                      "[env]\nconninfo = host=127.0.0.1 port=%d user=" H_PG_SUPERUSER " dbname=postgres\n"
                      "backup_method = postgres\narchiver = on\n",
                      fx->pg->port, pass, fx->pg->port);
    write_conf(fx, conf, sec, 0600);

    /* passfile= in the conninfo (backup says why its PostgreSQL check failed) */
    r = h_sh("'%s' -c '%s' backup pf", h_barrel_bin(), conf);
    want = br_asprintf("ERROR: impossible to start the backup of server 'pf': check 'PostgreSQL' failed: password file "
                       "\"%s\" has group or world access (mode 0644); permissions should be u=rw (0600) or less\n",
                       pass);
    assert_string_equal(r.err, want);
    assert_int_equal(r.status, 1);
    assert_result_no_secret(&r, "backup with a passfile");
    h_result_free(&r);

    /* PGPASSFILE, group access only */
    chmod(pass, 0640);
    r = h_sh("PGPASSFILE='%s' '%s' -c '%s' backup env", pass, h_barrel_bin(), conf);
    free(want);
    want = br_asprintf("ERROR: impossible to start the backup of server 'env': check 'PostgreSQL' failed: password "
                       "file \"%s\" has group or world access (mode 0640); permissions should be u=rw (0600) or less\n",
                       pass);
    assert_string_equal(r.err, want);
    assert_int_equal(r.status, 1);
    h_result_free(&r);

    /* 0600: both connect */
    chmod(pass, 0600);
    r = h_sh("'%s' -c '%s' switch-wal pf && PGPASSFILE='%s' '%s' -c '%s' switch-wal env", h_barrel_bin(), conf, pass,
             h_barrel_bin(), conf);
    if (r.status != 0)
        fail_msg("switch-wal with a 0600 passfile failed: %s%s", r.out, r.err);
    h_result_free(&r);

    free(want);
    free(sec);
    free(line);
    free(conf);
    free(pass);
}

/* ---- the running receiver ---- */

static long
lock_holder(const struct fixture *fx, const char *what)
{
    struct h_result r = h_sh("l='%s/.pg-%s.lock'; [ -e \"$l\" ] && ! flock -n \"$l\" true && cat \"$l\"", fx->home,
                             what);
    long pid = r.status == 0 ? atol(r.out) : 0;

    h_result_free(&r);
    return pid;
}

static char *
proc_file(long pid, const char *name)
{
    char *path = br_asprintf("/proc/%ld/%s", pid, name), *text = h_read_file(path);

    free(path);
    return text;
}

/* /proc/PID/<name> with its NUL separators made spaces. */
static char *
proc_text(long pid, const char *name)
{
    char *path = br_asprintf("/proc/%ld/%s", pid, name);
    struct h_result r = h_sh("tr '\\0' ' ' < '%s'", path);
    char *text = r.out;

    r.out = NULL;
    h_result_free(&r);
    free(path);
    return text;
}

static long
wait_receiver(const struct fixture *fx)
{
    for (int i = 0; i < 200; i++) {
        long pid = lock_holder(fx, "receive-wal");

        if (pid > 0)
            return pid;
        usleep(50000);
    }
    fail_msg("no receive-wal holds its lock after 10 s");
    return 0;
}

static void
test_receiver_argv_and_environment(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_PG(fx);
    struct h_result r;
    long pid;
    char *cmdline, *environ_text, *status;

    r = barrel(fx, "cron");
    assert_int_equal(r.status, 0);
    assert_result_no_secret(&r, "cron");
    h_result_free(&r);
    pid = wait_receiver(fx);

    cmdline = proc_text(pid, "cmdline");
    environ_text = proc_text(pid, "environ");
    status = proc_file(pid, "status");
    assert_non_null(cmdline);
    assert_non_null(strstr(cmdline, "receive-wal pg"));
    assert_no_secret(cmdline, "/proc/PID/cmdline of receive-wal");
    assert_no_secret(environ_text, "/proc/PID/environ of receive-wal");
    assert_no_secret(status, "/proc/PID/status of receive-wal");
    free(cmdline);
    free(environ_text);
    free(status);

    /* and it streams, so the conninfo with the password was used */
    {
        char *seg = h_pg_close_segment(fx->pg);
        int found = 0;

        assert_non_null(seg);
        for (int i = 0; i < 200 && !found; i++) {
            struct h_result ls = h_sh("test -e '%s/pg/streaming/%s' -o -e '%s/pg/streaming/%s.partial' || "
                                      "ls '%s/pg/streaming' | grep -q '^0000'", fx->home, seg, fx->home, seg, fx->home);
            found = ls.status == 0;
            h_result_free(&ls);
            if (!found)
                usleep(50000);
        }
        if (!found)
            fail_msg("receive-wal streamed nothing into streaming/");
        free(seg);
    }
}

/* ---- catalog permissions ---- */

static struct strbuf g_bad_modes;

static int
mode_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    mode_t want = S_ISDIR(st->st_mode) ? 0700 : 0600;

    (void) flag;
    (void) ftw;
    if (S_ISLNK(st->st_mode))
        return 0;
    if ((st->st_mode & 07777) != want)
        strbuf_appendf(&g_bad_modes, "%04o (want %04o) %s\n", (unsigned) (st->st_mode & 07777), (unsigned) want, path);
    return 0;
}

/* Put every segment of the spool into the catalog through put-wal (barman-wal-archive's stream). */
static void
put_spool(const struct fixture *fx)
{
    h_ok("put-wal the spool",
         h_sh("cd '%s' && for s in $(ls | grep -v '\\.tmp$'); do "
              "  md5sum $s | sed 's/  / */' > ../MD5SUMS && cp ../MD5SUMS . && "
              "  tar --format=pax -cf ../put.tar $s MD5SUMS && rm MD5SUMS && "
              "  ( umask 000; '%s' -c '%s' put-wal pg < ../put.tar ) && rm $s || exit 1; "
              "done",
              fx->spool, h_barrel_bin(), fx->conf));
}

static void
test_catalog_modes(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_PG(fx);
    struct h_result r;

    /* the receiver of the previous test ran with the test's umask: start it again with umask 000 */
    h_ok("receive-wal --stop", barrel(fx, "receive-wal --stop pg"));
    h_ok("cron", barrel(fx, "cron"));
    (void) wait_receiver(fx);
    /* check creates the directories it misses (it fails here: no WAL archived yet) */
    r = barrel(fx, "check pg");
    assert_result_no_secret(&r, "check pg");
    h_result_free(&r);
    for (int i = 0; i < 2; i++) {
        char *seg = h_pg_close_segment(fx->pg);
        assert_non_null(seg);
        free(seg);
    }
    put_spool(fx);
    h_ok("archive-wal", barrel(fx, "archive-wal pg"));
    /*
     * Segments copied in by an rsync archive_command keep their source's mode
     * (0640 with initdb -g): one plain (compressed by archive-wal), one
     * already gzipped (renamed into wals/ as it is).
     */
    for (int i = 0; i < 2; i++) {
        char *seg = h_pg_close_segment(fx->pg);

        assert_non_null(seg);
        h_ok("rsync-like copy", h_sh("%s '%s/%s' > '%s/pg/incoming/%s' && chmod 0640 '%s/pg/incoming/%s' && rm '%s/%s'",
                                     i == 0 ? "cat" : "gzip -c", fx->spool, seg, fx->home, seg, fx->home, seg,
                                     fx->spool, seg));
        free(seg);
    }
    r = barrel(fx, "backup --wait pg");
    if (r.status != 0)
        fail_msg("backup: %s%s", r.out, r.err);
    h_result_free(&r);
    put_spool(fx);
    h_ok("cron", barrel(fx, "cron"));
    h_ok("archive-wal", barrel(fx, "archive-wal pg"));

    /* everything under barman_home: the catalog, and the lock files beside it */
    strbuf_init(&g_bad_modes);
    nftw(fx->home, mode_cb, 16, FTW_PHYS);
    if (g_bad_modes.len > 0)
        fail_msg("catalog entries with other modes than 0700 (directories) and 0600 (files):\n%s", g_bad_modes.buf);
    strbuf_free(&g_bad_modes);
    {
        /* the walk saw the interesting files */
        struct h_result ls = h_sh("cd '%s' && ls -A . pg pg/wals pg/base/* | tr '\\n' ' '", fx->home);
        assert_non_null(strstr(ls.out, ".pg-backup.lock"));
        assert_non_null(strstr(ls.out, "xlog.db"));
        assert_non_null(strstr(ls.out, "backup.info"));
        assert_non_null(strstr(ls.out, "streaming"));
        h_result_free(&ls);
    }
}

/* ---- the log ---- */

static void
test_log_has_no_password(void **state)
{
    struct fixture *fx = *state;
    SKIP_WITHOUT_PG(fx);
    char *text = h_read_file(fx->log);

    assert_non_null(text);
    /* it logged the failed connections and the debug lines, without the passwords */
    assert_non_null(strstr(text, "password=*REDACTED*"));
    assert_no_secret(text, "the barrel log file");
    free(text);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_show_server_masks_passwords),
        cmocka_unit_test(test_errors_carry_no_password),
        cmocka_unit_test(test_config_with_password_readable_by_others_refused),
        cmocka_unit_test(test_passfile_readable_by_others_refused),
        cmocka_unit_test(test_receiver_argv_and_environment),
        cmocka_unit_test(test_catalog_modes),
        cmocka_unit_test(test_log_has_no_password),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
