/*
 * test_verify.c: verify-backup on Barman's own tar backup (the fixture
 * backup-tar-complete: base.tar.gz, 16409.tar.gz, backup_manifest and the
 * gzip WAL segment it needs), on the same backup laid out as a plain one,
 * and the damage table: each kind of damage must fail with a message
 * naming the file or segment (pg_verifybackup's 003_corruption.pl style).
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
#include "catalog_setup.h"
#include "harness.h"

#define BID "20261122T133022"

struct fixture {
    char *tmp, *home, *conf, *backup;    /* backup = <home>/pgz/base/<ID> */
};

static int
setup(void **state)
{
    struct fixture *fx = br_calloc(1, sizeof(*fx));
    char *user = h_current_user(), *src;

    h_fixture_dirs(&fx->tmp, &fx->home, &fx->conf, "barrel.conf");
    fx->backup = br_asprintf("%s/pgz/base/" BID, fx->home);
    mkdir(fx->home, 0700);
    src = br_asprintf("%s/backup-tar-complete/pgz", h_fixtures_dir());
    char *dst = br_asprintf("%s/pgz", fx->home);
    assert_int_equal(h_copy_tree(src, dst), 0);
    h_write_conf(fx->conf, fx->home, user, NULL,
                 "[pgz]\nconninfo = host=127.0.0.1 port=1\n"
                 "backup_method = postgres\nbackup_compression = gzip\ncompression = gzip\narchiver = on\n");
    free(dst);
    free(src);
    free(user);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *fx = *state;
    h_rmtree(fx->tmp);
    free(fx->tmp);
    free(fx->home);
    free(fx->conf);
    free(fx->backup);
    free(fx);
    return 0;
}

static struct h_result
verify(struct fixture *fx)
{
    const char *argv[] = {h_barrel_bin(), "-c", fx->conf, "verify-backup", "pgz", BID, NULL};
    return h_run(argv, NULL, NULL);
}

static void
sh_ok(const char *fmt, const char *a, const char *b)
{
    struct h_result r = h_sh(fmt, a, b);
    if (r.status != 0)
        fail_msg("setup command failed: %s", r.err);
    h_result_free(&r);
}

static void
test_verify_barman_tar_backup_ok(void **state)
{
    struct fixture *fx = *state;
    struct h_result r = verify(fx);

    assert_string_equal(r.err, "");
    assert_true(strncmp(r.out, "Verifying backup " BID " of server pgz\nBackup " BID " of server pgz verified: OK (1289 files, ",
                        95) == 0);
    assert_non_null(strstr(r.out, ", 1 WAL segments, "));
    assert_int_equal(r.status, 0);
    h_result_free(&r);
    /* the verdict is recorded in barrel's own file, not in backup.info */
    char *rec = br_asprintf("%s/pgz/barrel/verify/" BID ".json", fx->home);
    char *text = h_read_file(rec);
    assert_non_null(text);
    assert_non_null(strstr(text, "\"result\": \"OK\""));
    char *info = br_asprintf("%s/backup.info", fx->backup);
    char *want = br_asprintf("%s/backup-tar-complete/pgz/base/" BID "/backup.info", h_fixtures_dir());
    char *a = h_read_file(info), *b = h_read_file(want);
    assert_string_equal(a, b);
    free(a);
    free(b);
    free(info);
    free(want);
    free(text);
    free(rec);
}

static void
test_verify_plain_layout_ok(void **state)
{
    struct fixture *fx = *state;

    /* the same backup as Barman stores a plain one: data/ tree, <oid>/ tree, compression=None */
    sh_ok("cd '%s' && mkdir -p data.plain 16409 && tar -xzf data/base.tar.gz -C data.plain && "
          "tar -xzf data/16409.tar.gz -C 16409 && mv data/backup_manifest data.plain/ && rm -r data && "
          "mv data.plain data && sed -i 's/^compression=gzip$/compression=None/' backup.info%s", fx->backup, "");
    struct h_result r = verify(fx);
    assert_string_equal(r.err, "");
    assert_non_null(strstr(r.out, "verified: OK (1289 files, "));
    assert_int_equal(r.status, 0);
    h_result_free(&r);

    /* and a changed byte in a plain file is caught */
    sh_ok("cd '%s/data' && printf 'X' | dd of=PG_VERSION bs=1 seek=0 conv=notrunc 2>/dev/null%s", fx->backup, "");
    r = verify(fx);
    assert_string_equal(r.err, "ERROR: checksum mismatch for file \"PG_VERSION\"\n"
                               "ERROR: backup " BID " of server pgz failed verification: 1 problem\n");
    assert_int_equal(r.status, 1);
    h_result_free(&r);
}

struct damage {
    const char *name;
    const char *command;       /* run in the backup directory, %s = wals dir */
    const char *expect;        /* substring of stderr */
};

static const struct damage damages[] = {
    {"flipped byte in compressed archive",
     "python3 -c \"import sys; f=open('data/base.tar.gz','r+b'); f.seek(200000); b=f.read(1); f.seek(200000); "
     "f.write(bytes([b[0]^0xff])); f.close()\"",
     "base.tar.gz"},
    {"truncated archive", "head -c 30000 data/16409.tar.gz > t && mv t data/16409.tar.gz", "16409.tar.gz"},
    {"missing archive", "rm data/16409.tar.gz", "data/16409.tar.gz\" is missing"},
    {"WAL segment deleted", "rm '%s/0000000100000000/00000001000000000000000B'",
     "WAL segment 00000001000000000000000B needed by backup " BID " is missing from the archive"},
    {"WAL segment damaged", "printf 'garbage' > '%s/0000000100000000/00000001000000000000000B'",
     "WAL segment 00000001000000000000000B"},
    {"checksum edited in manifest",
     "sed -i 's/\"Checksum\": \"43872087\"/\"Checksum\": \"43872088\"/' data/backup_manifest",
     "backup_manifest\" has a wrong checksum"},
};

static void
test_verify_damage_table(void **state)
{
    for (size_t i = 0; i < BR_ARRAY_LEN(damages); i++) {
        struct fixture *fx;
        setup((void **) &fx);
        char *wals = br_asprintf("%s/pgz/wals", fx->home);
        char *cmd = br_asprintf("cd '%s' && %s", fx->backup, damages[i].command);
        struct h_result d = h_sh(cmd, wals);
        if (d.status != 0)
            fail_msg("%s: damage command failed: %s", damages[i].name, d.err);
        h_result_free(&d);
        struct h_result r = verify(fx);
        if (r.status != 1 || strstr(r.err, damages[i].expect) == NULL || strstr(r.err, "failed verification") == NULL)
            fail_msg("%s: status %d, stderr:\n%s", damages[i].name, r.status, r.err);
        h_result_free(&r);
        free(cmd);
        free(wals);
        teardown((void **) &fx);
    }
    (void) state;
}

static void
test_verify_unknown_backup(void **state)
{
    struct fixture *fx = *state;
    const char *argv[] = {h_barrel_bin(), "-c", fx->conf, "verify-backup", "pgz", "20000101T000000", NULL};
    struct h_result r = h_run(argv, NULL, NULL);

    assert_string_equal(r.err, "ERROR: Unknown backup '20000101T000000' for server 'pgz'\n");
    assert_int_equal(r.status, 1);
    h_result_free(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_verify_barman_tar_backup_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_plain_layout_ok, setup, teardown),
        cmocka_unit_test(test_verify_damage_table),
        cmocka_unit_test_setup_teardown(test_verify_unknown_backup, setup, teardown),
    };
    return cmocka_run_group_tests_name("verify", tests, NULL, NULL);
}
