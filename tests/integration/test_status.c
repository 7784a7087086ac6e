/*
 * test_status.c: the server-level read-only commands (list-servers,
 * status, show-server), configuration errors and the barman_user rule,
 * against a copy of the Barman 3.4 fixture catalog and a live PostgreSQL 15.
 *
 * The fixture config points at 127.0.0.1:5440, where nothing listens in
 * the tests: that is exactly the state Barman's status-pg-down.txt was
 * captured in, so the output must match it byte for byte.
 */
#include "barrel/build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "barrel/mem.h"
#include "barrel/strbuf.h"
#include "catalog_setup.h"
#include "harness.h"

struct fixture {
    char *tmp;
    char *home;
    char *conf;        /* the fixture config, barman_home and barman_user rewritten, without [pgtl] */
    struct h_pg *pg;
};

/* The fixture barman.conf with barman_home = home, barman_user = user and no log file; [pgtl] dropped. */
static char *
fixture_config(const char *home, const char *user)
{
    char *path = br_asprintf("%s/config/barman.conf", h_fixtures_dir());
    char *text = h_read_file(path);
    struct strbuf sb;
    char *line, *save = NULL;

    assert_non_null(text);
    strbuf_init(&sb);
    for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "; the cluster recovered from pgz", 32) == 0)
            break;        /* [pgtl] was added after the transcripts we compare with */
        if (strncmp(line, "barman_home", 11) == 0)
            strbuf_appendf(&sb, "barman_home = %s\n", home);
        else if (strncmp(line, "barman_user", 11) == 0)
            strbuf_appendf(&sb, "barman_user = %s\n", user);
        else if (strncmp(line, "log_file", 8) != 0)
            strbuf_appendf(&sb, "%s\n", line);
    }
    free(text);
    free(path);
    return strbuf_detach(&sb);
}

/* The transcript of a fixture capture without its "$ barman ..." line. */
static char *
transcript(const char *name)
{
    char *path = br_asprintf("%s/cli/%s", h_fixtures_dir(), name);
    char *text = h_read_file(path), *body;

    assert_non_null(text);
    body = br_strdup(strchr(text, '\n') + 1);
    free(text);
    free(path);
    return body;
}

static int
setup(void **state)
{
    struct fixture *fx = br_calloc(1, sizeof(*fx));
    char *user = h_current_user(), *src, *dst, *text;

    h_fixture_dirs(&fx->tmp, &fx->home, &fx->conf, "barman.conf");
    mkdir(fx->home, 0700);
    /* catalog/pg holds xlog.db beside base/; Barman keeps it in wals/ */
    src = br_asprintf("%s/catalog/pg", h_fixtures_dir());
    dst = br_asprintf("%s/pg", fx->home);
    assert_int_equal(h_copy_tree(src, dst), 0);
    struct h_result r = h_sh("mkdir -p '%s/wals' && mv '%s/xlog.db' '%s/wals/xlog.db'", dst, dst, dst);
    assert_int_equal(r.status, 0);
    h_result_free(&r);
    text = fixture_config(fx->home, user);
    h_write_file(fx->conf, text);
    free(text);
    free(src);
    free(dst);
    free(user);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *fx = *state;

    h_fixture_drop(fx->pg, fx->tmp, fx->home, fx->conf);
    free(fx);
    return 0;
}

static struct h_result
barrel(const struct fixture *fx, const char *a1, const char *a2, const char *a3)
{
    const char *args[] = {a1, a2, a3};

    return h_barrel_args(fx->conf, args, BR_ARRAY_LEN(args));
}

static void
test_list_servers_matches_barman(void **state)
{
    struct fixture *fx = *state;
    struct h_result r = barrel(fx, "list-servers", NULL, NULL);
    char *want = transcript("list-servers.txt");

    assert_string_equal(r.out, want);
    assert_string_equal(r.err, "");
    assert_int_equal(r.status, 0);
    h_result_free(&r);
    free(want);

    r = barrel(fx, "-f", "json", "list-servers");
    want = transcript("list-servers.json");
    assert_string_equal(r.out, want);
    assert_int_equal(r.status, 0);
    h_result_free(&r);
    free(want);
}

static void
test_status_server_down_matches_barman(void **state)
{
    struct fixture *fx = *state;
    struct h_result r = barrel(fx, "status", "pg", NULL);
    char *want = transcript("status-pg-down.txt");

    assert_string_equal(r.out, want);
    assert_int_equal(r.status, 0);
    h_result_free(&r);
    free(want);
}

static void
test_unknown_server_error_text_and_json(void **state)
{
    struct fixture *fx = *state;
    struct h_result r = barrel(fx, "status", "nosuchserver", NULL);

    assert_string_equal(r.out, "");
    assert_string_equal(r.err, "ERROR: Unknown server 'nosuchserver'\n");
    assert_int_equal(r.status, 1);
    h_result_free(&r);

    const char *argv[] = {h_barrel_bin(), "-c", fx->conf, "-f", "json", "status", "nosuchserver", NULL};
    r = h_run(argv, NULL, NULL);
    char *want = transcript("err-unknown-server.json");
    assert_string_equal(r.out, want);
    assert_int_equal(r.status, 1);
    free(want);
    h_result_free(&r);
}

static void
test_show_server_keys_match_barman(void **state)
{
    struct fixture *fx = *state;
    struct h_result r = barrel(fx, "show-server", "pg", NULL);
    char *want = transcript("show-server.txt");
    struct strbuf got_keys, want_keys;
    char *save = NULL;

    /* compare the key sets: values of live keys differ (the server is down here) */
    strbuf_init(&got_keys);
    strbuf_init(&want_keys);
    for (char *l = strtok_r(r.out, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        strbuf_appendf(&got_keys, "%.*s\n", (int) strcspn(l, ":"), l);
    save = NULL;
    for (char *l = strtok_r(want, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        /* barrel runs neither program: documented in README */
        if (strncmp(l, "\tpg_basebackup_", 15) == 0 || strncmp(l, "\tpg_receivexlog_", 16) == 0)
            continue;
        strbuf_appendf(&want_keys, "%.*s\n", (int) strcspn(l, ":"), l);
    }
    assert_string_equal(got_keys.buf, want_keys.buf);
    assert_int_equal(r.status, 0);
    strbuf_free(&got_keys);
    strbuf_free(&want_keys);
    h_result_free(&r);
    free(want);

    /* configuration values are Barman's spelling */
    r = barrel(fx, "show-server", "pg", NULL);
    assert_non_null(strstr(r.out, "\tbackup_options: BackupOptions({'concurrent_backup'})\n"));
    assert_non_null(strstr(r.out, "\tretention_policy: REDUNDANCY 2\n"));
    assert_non_null(strstr(r.out, "\tstreaming_archiver: True\n"));
    assert_non_null(strstr(r.out, "\tarchiver: False\n"));
    assert_non_null(strstr(r.out, "\tcreate_slot: auto\n"));
    assert_non_null(strstr(r.out, "\tmsg_list: []\n"));
    h_result_free(&r);
}

/* argparse accepts options after positional arguments; so must every command (glibc getopt permutes). */
static void
test_options_after_server_name(void **state)
{
    struct fixture *fx = *state;
    struct h_result r = barrel(fx, "check", "pg", "--nagios");

    assert_true(strncmp(r.out, "BARMAN CRITICAL - server pg has issues * pg FAILED: PostgreSQL", 62) == 0);
    assert_string_equal(r.err, "");
    assert_int_equal(r.status, 2);
    h_result_free(&r);
    r = barrel(fx, "list-servers", "--minimal", NULL);
    assert_string_equal(r.out, "pg\npglz4\npgsrv\npgz\npgzstd\n");
    h_result_free(&r);
}

static void
test_bad_config_exit_2_names_file_and_line(void **state)
{
    struct fixture *fx = *state;
    char *bad = br_asprintf("%s/bad.conf", fx->tmp);
    char *user = h_current_user();
    char *text = br_asprintf("[barman]\nbarman_home = %s\nbarman_user = %s\n\n[pg]\nconninfo = host=x\narchiver = maybe\n",
                             fx->home, user);
    h_write_file(bad, text);
    const char *argv[] = {h_barrel_bin(), "-c", bad, "list-servers", NULL};
    struct h_result r = h_run(argv, NULL, NULL);
    char *want = br_asprintf("ERROR: %s:7: invalid boolean value 'maybe' for option \"archiver\" in [pg] section "
                             "(expected true/false, on/off, yes/no, 1/0)\n", bad);

    assert_string_equal(r.err, want);
    assert_string_equal(r.out, "");
    assert_int_equal(r.status, 2);
    h_result_free(&r);
    free(want);

    /* a missing -c file */
    const char *argv2[] = {h_barrel_bin(), "-c", "/nonexistent/barrel.conf", "list-servers", NULL};
    r = h_run(argv2, NULL, NULL);
    assert_string_equal(r.err, "ERROR: Configuration file '/nonexistent/barrel.conf' does not exist\n");
    assert_int_equal(r.status, 2);
    h_result_free(&r);
    free(text);
    free(user);
    free(bad);
}

/* Started as another user than barman_user (and not root), barrel refuses like Barman. */
static void
test_wrong_user_refused(void **state)
{
    struct fixture *fx = *state;
    char *conf = br_asprintf("%s/other-user.conf", fx->tmp);
    struct h_result r;

    if (geteuid() == 0) {
        /* as root: run barrel as 'nobody' against a config naming another user */
        char *text = br_asprintf("[barman]\nbarman_home = %s\nbarman_user = root\n", fx->home);
        h_write_file(conf, text);
        chmod(fx->tmp, 0755);
        chmod(conf, 0644);
        r = h_sh("runuser -u nobody -- '%s' -c '%s' list-servers", h_barrel_bin(), conf);
        assert_string_equal(r.err, "ERROR: please run barrel as 'root' user\n");
        free(text);
    } else {
        char *text = br_asprintf("[barman]\nbarman_home = %s\nbarman_user = root\n", fx->home);
        h_write_file(conf, text);
        const char *argv[] = {h_barrel_bin(), "-c", conf, "list-servers", NULL};
        r = h_run(argv, NULL, NULL);
        assert_string_equal(r.err, "ERROR: please run barrel as 'root' user\n");
        free(text);
    }
    assert_int_equal(r.status, 1);
    h_result_free(&r);
    free(conf);
}

/* Started as root, barrel becomes barman_user before touching the catalog. */
static void
test_root_switches_to_barman_user(void **state)
{
    struct fixture *fx = *state;
    struct passwd *pw = getpwnam("nobody");
    struct stat st;

    if (geteuid() != 0 || pw == NULL) {
        print_message("not root: the switch cannot be observed\n");
        skip();
    }
    char *home = br_asprintf("%s/nobody-home", fx->tmp);
    char *conf = br_asprintf("%s/nobody.conf", fx->tmp);
    char *text = br_asprintf("[barman]\nbarman_home = %s\nbarman_user = nobody\n\n[pg]\nconninfo = host=127.0.0.1 port=1\n"
                             "backup_method = postgres\nstreaming_archiver = on\nslot_name = barrel\n", home);
    mkdir(home, 0700);
    assert_int_equal(chown(home, pw->pw_uid, pw->pw_gid), 0);
    chmod(fx->tmp, 0755);
    h_write_file(conf, text);
    const char *argv[] = {h_barrel_bin(), "-c", conf, "check", "pg", NULL};
    struct h_result r = h_run(argv, NULL, NULL);
    /* check creates the server directories: they belong to the switched-to user */
    char *dir = br_asprintf("%s/pg/base", home);
    assert_int_equal(stat(dir, &st), 0);
    assert_int_equal(st.st_uid, pw->pw_uid);
    h_result_free(&r);
    free(dir);
    free(text);
    free(conf);
    free(home);
}

static void
test_status_live_server(void **state)
{
    struct fixture *fx = *state;
    char *user = h_current_user();

    h_skip_without_pg();
    fx->pg = h_pg_start(NULL);
    assert_non_null(fx->pg);
    char *conninfo = h_pg_conninfo(fx->pg), *repl = h_pg_repl_conninfo(fx->pg);
    char *conf = br_asprintf("%s/live.conf", fx->tmp);
    char *home = br_asprintf("%s/live", fx->tmp);
    char *text = br_asprintf("[live]\ndescription = live server\n"
                             "conninfo = %s\nstreaming_conninfo = %s\nbackup_method = postgres\nstreaming_archiver = on\n"
                             "slot_name = barrel\n", conninfo, repl);
    h_write_conf(conf, home, user, NULL, text);
    free(home);
    char *wal = h_pg_sql(fx->pg, "postgres", "SELECT pg_walfile_name(pg_current_wal_lsn())");
    /* Barman's rule: the second word of version(), "15.18" without " (Debian ...)" */
    char *version = h_pg_sql(fx->pg, "postgres", "SELECT split_part(version(), ' ', 2)");
    const char *argv[] = {h_barrel_bin(), "-c", conf, "status", "live", NULL};
    struct h_result r = h_run(argv, NULL, NULL);
    char *v = br_asprintf("\tPostgreSQL version: %s\n", version);
    char *w = br_asprintf("\tCurrent WAL segment: %s\n", wal);
    char *d = br_asprintf("\tPostgreSQL Data directory: %s\n", fx->pg->datadir);

    assert_non_null(strstr(r.out, "Server live:\n\tDescription: live server\n\tActive: True\n\tDisabled: False\n"));
    assert_non_null(strstr(r.out, v));
    assert_non_null(strstr(r.out, "\tCluster state: in production\n"));
    assert_non_null(strstr(r.out, "\tCurrent data size: "));
    assert_non_null(strstr(r.out, d));
    assert_non_null(strstr(r.out, w));
    assert_non_null(strstr(r.out, "\tRetention policies: not enforced\n\tNo. of available backups: 0\n"
                                  "\tFirst available backup: None\n\tLast available backup: None\n"
                                  "\tMinimum redundancy requirements: satisfied (0/0)\n"));
    assert_int_equal(r.status, 0);
    h_result_free(&r);

    /* show-server reports what the live server says */
    const char *argv2[] = {h_barrel_bin(), "-c", conf, "show-server", "live", NULL};
    r = h_run(argv2, NULL, NULL);
    char *sv = br_asprintf("\tserver_txt_version: %s\n", version);
    assert_non_null(strstr(r.out, sv));
    assert_non_null(strstr(r.out, "\twal_level: replica\n"));
    assert_non_null(strstr(r.out, "\tstreaming: True\n"));
    assert_non_null(strstr(r.out, "\tis_superuser: True\n"));
    h_result_free(&r);
    free(sv);
    free(v);
    free(w);
    free(d);
    free(wal);
    free(version);
    free(text);
    free(conf);
    free(conninfo);
    free(repl);
    free(user);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_list_servers_matches_barman, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_server_down_matches_barman, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_server_error_text_and_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_show_server_keys_match_barman, setup, teardown),
        cmocka_unit_test_setup_teardown(test_options_after_server_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_config_exit_2_names_file_and_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_user_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_root_switches_to_barman_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_live_server, setup, teardown),
    };
    return cmocka_run_group_tests_name("status", tests, NULL, NULL);
}
