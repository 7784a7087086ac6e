/*
 * test_wal_cli.c: the barman-cli protocol, end to end, with the REAL
 * barman-wal-archive and barman-wal-restore scripts (Debian's barman-cli,
 * /usr/bin). They run `ssh ... USER@HOST barman [--config ...] put-wal|get-wal
 * ...`; here a fake `ssh` first in PATH drops its options and USER@HOST and
 * runs the rest with sh -c, and a `barman` symlink to the barrel binary in
 * another directory of PATH answers (barrel speaks as Barman's CLI when its
 * argv[0] is "barman"). A real segment from the fixtures (Barman's lab
 * cluster) is archived with barman-wal-archive, moved by archive-wal, and
 * restored with barman-wal-restore plain, with -z, -j, -P, -p (spool),
 * --test, and for a missing segment (the client's exit status 1); every
 * restored file is compared byte for byte. put-wal with a bad checksum, an
 * identical resend and different content under an existing name close it.
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

#define SEG "000000010000000000000014"
#define SEG2 "000000010000000000000015"
#define SAMPLE "catalog/wal-samples/000000010000000000000014.uncompressed"

struct fx {
    char *tmp;
    char *home;
    char *conf;
    char *path_env;     /* "PATH=<ssh dir>:<barman dir>:$PATH" */
    char *seg;          /* a real segment, named SEG */
    char *seg2;         /* the same bytes, named SEG2 */
    char *spool;
};

static int
setup(void **state)
{
    struct fx *fx = br_calloc(1, sizeof(*fx));
    char *user = h_current_user(), *text, *sample;
    const char *bin = h_barrel_bin();
    char *abs_bin = realpath(bin, NULL);
    struct h_result r;

    if (access("/usr/bin/barman-wal-archive", X_OK) != 0 || access("/usr/bin/barman-wal-restore", X_OK) != 0) {
        free(fx);
        free(user);
        free(abs_bin);
        skip();
    }
    h_fixture_dirs(&fx->tmp, &fx->home, &fx->conf, "barman.conf");
    fx->spool = br_asprintf("%s/spool", fx->tmp);
    text = br_asprintf("log_file = %s/barman.log\n", fx->tmp);
    h_write_conf(fx->conf, fx->home, user, text,
                 "[pg]\ndescription = \"barman-cli protocol\"\n"
                 "conninfo = host=127.0.0.1 port=1 user=x dbname=postgres\n"
                 "backup_method = postgres\narchiver = on\ncompression = gzip\n");
    free(text);

    /* PATH: the fake ssh, then the barman symlink, then the rest (the real Barman in /usr/bin comes last) */
    r = h_sh("mkdir -p %s/sshbin %s/barmanbin %s/pg/streaming && ln -s '%s' %s/barmanbin/barman", fx->tmp, fx->tmp,
             fx->home, abs_bin, fx->tmp);
    assert_int_equal(r.status, 0);
    h_result_free(&r);
    text = br_asprintf("%s/sshbin/ssh", fx->tmp);
    h_write_fake_ssh(text);
    free(text);
    fx->path_env = br_asprintf("PATH=%s/sshbin:%s/barmanbin:%s", fx->tmp, fx->tmp, getenv("PATH"));

    sample = br_asprintf("%s/%s", h_fixtures_dir(), SAMPLE);
    fx->seg = br_asprintf("%s/" SEG, fx->tmp);
    fx->seg2 = br_asprintf("%s/" SEG2, fx->tmp);
    r = h_sh("cp '%s' '%s' && cp '%s' '%s'", sample, fx->seg, sample, fx->seg2);
    assert_int_equal(r.status, 0);
    h_result_free(&r);
    free(sample);
    free(user);
    free(abs_bin);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *fx = *state;

    if (fx == NULL)
        return 0;
    h_rmtree(fx->tmp);
    free(fx->tmp);
    free(fx->home);
    free(fx->conf);
    free(fx->path_env);
    free(fx->seg);
    free(fx->seg2);
    free(fx->spool);
    free(fx);
    return 0;
}

/* Run a shell command line with the test PATH. */
#define run(fx, ...) h_sh_env((const char *const[]){(fx)->path_env, NULL}, __VA_ARGS__)

static void
expect_ok(struct h_result r, const char *what)
{
    if (r.status != 0)
        fail_msg("%s: exit %d\n--- stdout\n%s--- stderr\n%s", what, r.status, r.out, r.err);
}

static void
test_wal_cli_archive_and_restore_round_trip(void **state)
{
    struct fx *fx = *state;
    struct h_result r;

    /* the barman in PATH is barrel */
    r = run(fx, "barman -v");
    expect_ok(r, "barman -v");
    assert_non_null(strstr(r.out, "barrel"));
    h_result_free(&r);

    /* barman-wal-archive --test, then the real archive_command */
    r = run(fx, "barman-wal-archive -c '%s' --test backup1 pg '%s'", fx->conf, fx->seg);
    expect_ok(r, "barman-wal-archive --test");
    assert_non_null(strstr(r.out, "Ready to accept WAL files for the server pg"));
    h_result_free(&r);
    r = run(fx, "barman-wal-archive -c '%s' backup1 pg '%s' && barman-wal-archive -c '%s' backup1 pg '%s'", fx->conf,
            fx->seg, fx->conf, fx->seg2);
    expect_ok(r, "barman-wal-archive");
    h_result_free(&r);
    r = h_sh("cmp '%s' %s/pg/incoming/" SEG, fx->seg, fx->home);
    expect_ok(r, "incoming copy");
    h_result_free(&r);

    /* a killed client retries: the identical file is accepted again */
    r = run(fx, "barman-wal-archive -c '%s' backup1 pg '%s'", fx->conf, fx->seg);
    expect_ok(r, "identical resend");
    h_result_free(&r);

    /* different content under an existing name: refused, and nothing overwritten */
    r = h_sh("mkdir -p %s/other && head -c 8192 /dev/urandom > %s/other/" SEG, fx->tmp, fx->tmp);
    h_result_free(&r);
    r = run(fx, "barman-wal-archive -c '%s' backup1 pg %s/other/" SEG, fx->conf, fx->tmp);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "ERROR: Impossible to write already existing file '" SEG
                                  "' in put-wal for server 'pg'"));
    assert_non_null(strstr(r.err, "ERROR: Remote 'barman put-wal' command has failed!"));
    h_result_free(&r);
    r = h_sh("cmp '%s' %s/pg/incoming/" SEG, fx->seg, fx->home);
    expect_ok(r, "incoming untouched");
    h_result_free(&r);

    /* archive-wal moves both into wals/ (gzip) */
    r = run(fx, "barman -c '%s' archive-wal pg", fx->conf);
    expect_ok(r, "archive-wal");
    assert_string_equal(r.out, "Processing xlog segments from file archival for pg\n\t" SEG "\n\t" SEG2 "\n");
    h_result_free(&r);

    /* barman-wal-restore: --test, plain, -z, -j */
    r = run(fx, "barman-wal-restore -c '%s' --spool-dir '%s' --test backup1 pg " SEG " %s/x", fx->conf, fx->spool,
            fx->tmp);
    expect_ok(r, "barman-wal-restore --test");
    assert_non_null(strstr(r.out, "Ready to retrieve WAL files from the server pg"));
    h_result_free(&r);
    {
        static const char *const forms[] = {"", "-z", "-j", "-P"};
        for (size_t i = 0; i < BR_ARRAY_LEN(forms); i++) {
            r = run(fx, "rm -f %s/restored && barman-wal-restore -c '%s' --spool-dir '%s' %s backup1 pg " SEG
                        " %s/restored && cmp '%s' %s/restored",
                    fx->tmp, fx->conf, fx->spool, forms[i], fx->tmp, fx->seg, fx->tmp);
            expect_ok(r, forms[i][0] ? forms[i] : "plain restore");
            h_result_free(&r);
        }
    }

    /* -p 2: SEG restored, SEG2 prefetched into the spool, then delivered from it */
    r = run(fx, "barman-wal-restore -c '%s' --spool-dir '%s' -p 2 backup1 pg " SEG " %s/r1 && test -f '%s/" SEG2
                "' && barman-wal-restore -c '%s' --spool-dir '%s' backup1 pg " SEG2 " %s/r2 && cmp '%s' %s/r1 && "
                "cmp '%s' %s/r2 && ! test -f '%s/" SEG2 "'",
            fx->conf, fx->spool, fx->tmp, fx->spool, fx->conf, fx->spool, fx->tmp, fx->seg, fx->tmp, fx->seg2, fx->tmp,
            fx->spool);
    expect_ok(r, "parallel restore with spool");
    h_result_free(&r);

    /* the partial segment that only exists in streaming/, with -P */
    r = h_sh("cp '%s' %s/pg/streaming/000000010000000000000016.partial", fx->seg, fx->home);
    h_result_free(&r);
    r = run(fx, "barman-wal-restore -c '%s' --spool-dir '%s' -P backup1 pg 000000010000000000000016 %s/r3 && "
                "cmp '%s' %s/r3",
            fx->conf, fx->spool, fx->tmp, fx->seg, fx->tmp);
    expect_ok(r, "-P restore of a partial");
    h_result_free(&r);

    /* a missing segment: the client exits with the remote status, 1 */
    r = run(fx, "barman-wal-restore -c '%s' --spool-dir '%s' backup1 pg 0000000100000000000000FE %s/r4", fx->conf,
            fx->spool, fx->tmp);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "ERROR: WAL file '0000000100000000000000FE' not found in server 'pg'"));
    assert_non_null(strstr(r.err, "ERROR: Remote 'barman get-wal' command has failed!"));
    h_result_free(&r);
}

static void
test_wal_cli_put_wal_bad_checksum(void **state)
{
    struct fx *fx = *state;
    struct h_result r;

    /* the stream barman-wal-archive would send, with a wrong MD5SUMS */
    r = run(fx,
            "cd %s && printf '%%s *%%s\\n' 0123456789abcdef0123456789abcdef " SEG " > MD5SUMS && "
            "tar --format=pax -cf bad.tar " SEG " MD5SUMS && ssh -q -T barman@backup1 barman \"--config='%s'\" put-wal pg "
            "< bad.tar",
            fx->tmp, fx->conf);
    assert_int_equal(r.status, 1);
    {
        struct h_result m = h_sh("md5sum < '%s' | cut -c1-32", fx->seg);
        char *want = br_asprintf("ERROR: Bad file checksum '%.32s' (should be 0123456789abcdef0123456789abcdef) for "
                                 "file '" SEG "' in put-wal for server 'pg'\n", m.out);
        assert_string_equal(r.err, want);
        free(want);
        h_result_free(&m);
    }
    h_result_free(&r);
    /* nothing stored, not even a temporary file */
    r = h_sh("ls -A %s/pg/incoming", fx->home);
    assert_string_equal(r.out, "");
    h_result_free(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_wal_cli_archive_and_restore_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wal_cli_put_wal_bad_checksum, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
