/*
 * test_manifest.c: backup_manifest parsing and verification of Barman's
 * real tar backup (fixture backup-tar-complete), damage detection, and
 * the secure extractor against hostile archives.
 */
#include "barrel/build.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/stat.h>
#include <unistd.h>

#include "barrel/error.h"
#include "barrel/fs.h"
#include "barrel/manifest.h"
#include "barrel/mem.h"
#include "barrel/stage.h"
#include "barrel/strbuf.h"
#include "harness.h"

#define BACKUP_ID "20261122T133022"

static char *
fixture_data(const char *file)
{
    return br_asprintf("%s/backup-tar-complete/pgz/base/" BACKUP_ID "/data/%s", h_fixtures_dir(), file);
}

struct problems {
    int n;
    struct strbuf text;
};

static void
collect(void *arg, const char *problem)
{
    struct problems *p = arg;
    p->n++;
    strbuf_appendf(&p->text, "%s\n", problem);
}

static void
test_manifest_load_fixture(void **state)
{
    char *path = fixture_data("backup_manifest");
    struct br_error err;
    struct manifest *m = manifest_load(path, &err);
    (void) state;

    if (m == NULL)
        fail_msg("%s", err.msg);
    assert_int_equal(m->version, 1);
    assert_int_equal(m->n_files, 1289);
    struct manifest_file *f = manifest_find(m, "global/pg_control");
    assert_non_null(f);
    assert_int_equal(f->size, 8192);
    assert_int_equal(f->algorithm, MANIFEST_CK_CRC32C);
    assert_int_equal(f->checksum_len, 4);
    assert_memory_equal(f->checksum, "\x43\x87\x20\x87", 4);
    assert_null(manifest_find(m, "global/nope"));
    assert_int_equal(m->n_wal_ranges, 1);
    assert_int_equal(m->wal_ranges[0].timeline, 1);
    assert_true(m->wal_ranges[0].start_lsn == 0xB000028);
    assert_true(m->wal_ranges[0].end_lsn == 0xB000100);
    manifest_free(m);
    free(path);
}

static void
test_manifest_checksum_and_syntax_errors(void **state)
{
    char *path = fixture_data("backup_manifest");
    size_t len;
    struct br_error err;
    char *text = fs_read_file(path, 1 << 26, &len, &err);
    (void) state;

    assert_non_null(text);
    /* one changed digit inside a file entry: the manifest checksum no longer matches */
    char *pos = strstr(text, "\"Size\": 8192");
    assert_non_null(pos);
    pos[9] = '3';
    assert_null(manifest_parse(text, len, "m", &err));
    assert_int_equal(err.code, BR_E_FORMAT);
    assert_true(strncmp(err.msg, "backup manifest \"m\" has a wrong checksum: expected 8c810f20", 59) == 0);
    pos[9] = '1';

    static const char bad[] = "{ \"PostgreSQL-Backup-Manifest-Version\": 1,\n\"Files\": [\n{ \"Path\": \"x\" }\n]}";
    assert_null(manifest_parse(bad, strlen(bad), "bad", &err));
    assert_string_equal(err.msg, "could not parse backup manifest \"bad\": line 3: file entry without Size");
    static const char trunc[] = "{ \"PostgreSQL-Backup-Manifest-Version\": 1,\n\"Files\": [\n{ \"Path\": \"x";
    assert_null(manifest_parse(trunc, strlen(trunc), "t", &err));
    assert_string_equal(err.msg, "could not parse backup manifest \"t\": line 3: unterminated string");
    free(text);
    free(path);
}

/* Run base.tar.gz and 16409.tar.gz of the fixture through the verifier. */
static int
verify_fixture(const char *base_tar, struct problems *pr)
{
    char *mpath = fixture_data("backup_manifest"), *ts = fixture_data("16409.tar.gz");
    struct br_error err;
    struct manifest *m = manifest_load(mpath, &err);
    struct stage *v = stage_manifest_verify_new(m, 0, collect, pr, NULL);
    int rc;

    assert_non_null(m);
    rc = archive_reader_run(base_tar, "", v, &err);
    if (rc == 0)
        rc = archive_reader_run(ts, "pg_tblspc/16409/", v, &err);
    if (rc != 0)
        collect(pr, err.msg);
    manifest_report_unseen(m, collect, pr);
    stage_free(v);
    manifest_free(m);
    free(mpath);
    free(ts);
    return rc;
}

static void
test_verify_barman_tar_backup_clean(void **state)
{
    char *base = fixture_data("base.tar.gz");
    struct problems pr = {0};
    (void) state;

    strbuf_init(&pr.text);
    assert_int_equal(verify_fixture(base, &pr), 0);
    if (pr.n != 0)
        fail_msg("unexpected problems:\n%s", pr.text.buf);
    strbuf_free(&pr.text);
    free(base);
}

static void
test_verify_detects_flipped_byte_in_member(void **state)
{
    char *base = fixture_data("base.tar.gz"), *dir = h_mkdtemp();
    struct problems pr = {0};
    (void) state;

    strbuf_init(&pr.text);
    /* flip one byte inside PG_VERSION's content and recompress */
    struct h_result r = h_sh("cd '%s' && gzip -dc '%s' > base.tar && python3 - <<'PY'\n"
                             "import tarfile\n"
                             "t = tarfile.open('base.tar')\n"
                             "m = t.getmember('PG_VERSION')\n"
                             "f = open('base.tar', 'r+b'); f.seek(m.offset_data); b = f.read(1); f.seek(m.offset_data)\n"
                             "f.write(bytes([b[0] ^ 1])); f.close()\n"
                             "PY\n"
                             "gzip -f base.tar", dir, base);
    assert_int_equal(r.status, 0);
    h_result_free(&r);
    char *damaged = br_asprintf("%s/base.tar.gz", dir);
    assert_int_equal(verify_fixture(damaged, &pr), 0);
    assert_int_equal(pr.n, 1);
    assert_string_equal(pr.text.buf, "checksum mismatch for file \"PG_VERSION\"\n");
    strbuf_free(&pr.text);

    /* a truncated compressed archive is reported as damaged, naming the file */
    strbuf_init(&pr.text);
    pr.n = 0;
    r = h_sh("cd '%s' && head -c 100000 base.tar.gz > t.tar.gz && mv t.tar.gz base.tar.gz", dir);
    h_result_free(&r);
    assert_int_equal(verify_fixture(damaged, &pr), -1);
    char *expect = br_asprintf("archive \"%s\" is damaged", damaged);
    if (strstr(pr.text.buf, expect) == NULL)
        fail_msg("expected \"%s\" in:\n%s", expect, pr.text.buf);
    free(expect);
    strbuf_free(&pr.text);
    free(damaged);
    h_rmtree(dir);
    free(dir);
    free(base);
}

static void
test_extract_matches_gnu_tar(void **state)
{
    char *base = fixture_data("base.tar.gz"), *dir = h_mkdtemp();
    char *ours = br_asprintf("%s/ours", dir), *theirs = br_asprintf("%s/theirs", dir);
    struct br_error err;
    static const char *const skip[] = {"tablespace_map", NULL};
    (void) state;

    mkdir(ours, 0700);
    mkdir(theirs, 0700);
    struct stage *ex = stage_extract_new(ours, skip, &err);
    assert_non_null(ex);
    assert_int_equal(archive_reader_run(base, "", ex, &err), 0);
    assert_int_equal(stage_finish(ex, &err), 0);
    int64_t files, bytes;
    stage_extract_counts(ex, &files, &bytes);
    assert_true(files > 1000);
    stage_free(ex);
    struct h_result r = h_sh("tar -xzf '%s' -C '%s' --exclude tablespace_map && diff -r '%s' '%s' && "
                             "test \"$(stat -c %%a '%s/PG_VERSION')\" = 600",
                             base, theirs, ours, theirs, ours);
    if (r.status != 0)
        fail_msg("differences from GNU tar:\n%s%s", r.out, r.err);
    h_result_free(&r);
    char *tsmap = br_asprintf("%s/tablespace_map", ours);
    assert_false(path_exists(tsmap));      /* skipped */
    free(tsmap);
    h_rmtree(dir);
    free(dir);
    free(ours);
    free(theirs);
    free(base);
}

/* Build a hostile tar with python3's tarfile; `spec` is python code adding members to t. */
static char *
hostile_tar(const char *dir, const char *spec)
{
    char *path = br_asprintf("%s/evil.tar", dir);
    struct h_result r = h_sh("cd '%s' && python3 - <<'PY'\nimport tarfile, io\n"
                             "def f(t, name, data=b'x'):\n"
                             "    i = tarfile.TarInfo(name); i.size = len(data); t.addfile(i, io.BytesIO(data))\n"
                             "def l(t, name, target):\n"
                             "    i = tarfile.TarInfo(name); i.type = tarfile.SYMTYPE; i.linkname = target; t.addfile(i)\n"
                             "t = tarfile.open('evil.tar', 'w', format=tarfile.GNU_FORMAT)\n%s\nt.close()\nPY\n",
                             dir, spec);
    assert_int_equal(r.status, 0);
    h_result_free(&r);
    return path;
}

static void
expect_refused(const char *spec, const char *message_fmt)
{
    char *dir = h_mkdtemp(), *dest = br_asprintf("%s/dest", dir), *outside = br_asprintf("%s/outside", dir);
    struct br_error err;
    char *tar;

    mkdir(dest, 0700);
    mkdir(outside, 0700);
    tar = hostile_tar(dir, spec);
    struct stage *ex = stage_extract_new(dest, NULL, &err);
    int rc = archive_reader_run(tar, "", ex, &err);
    if (rc == 0)
        rc = stage_finish(ex, &err);
    stage_free(ex);
    assert_int_equal(rc, -1);
    char *want = br_asprintf(message_fmt, dir);
    if (strstr(err.msg, want) == NULL)
        fail_msg("expected \"%s\", got \"%s\"", want, err.msg);
    /* nothing was written outside the destination */
    struct h_result r = h_sh("find '%s' -mindepth 1 | wc -l", outside);
    assert_string_equal(r.out, "0\n");
    h_result_free(&r);
    free(want);
    free(tar);
    h_rmtree(dir);
    free(dir);
    free(dest);
    free(outside);
}

static void
test_extract_refuses_dotdot(void **state)
{
    (void) state;
    expect_refused("f(t, 'ok'); f(t, '../outside/pwned')",
                   "refusing archive member \"../outside/pwned\": path contains \"..\"");
    expect_refused("f(t, 'a/../../outside/pwned')", "path contains \"..\"");
}

static void
test_extract_refuses_absolute(void **state)
{
    char spec[512], msg[512];
    (void) state;
    /* %s is the temporary directory: an absolute path into "outside" */
    snprintf(spec, sizeof(spec), "import os\nf(t, os.getcwd() + '/outside/pwned')");
    snprintf(msg, sizeof(msg), "refusing archive member \"%%s/outside/pwned\": absolute path");
    expect_refused(spec, msg);
}

static void
test_extract_refuses_writing_through_symlink(void **state)
{
    (void) state;
    expect_refused("import os\nl(t, 'link', os.getcwd() + '/outside'); f(t, 'link/pwned')",
                   "could not extract \"link/pwned\"");
    expect_refused("l(t, 'up', '..'); f(t, 'up/outside/pwned')", "could not extract \"up/outside/pwned\"");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manifest_load_fixture),
        cmocka_unit_test(test_manifest_checksum_and_syntax_errors),
        cmocka_unit_test(test_verify_barman_tar_backup_clean),
        cmocka_unit_test(test_verify_detects_flipped_byte_in_member),
        cmocka_unit_test(test_extract_matches_gnu_tar),
        cmocka_unit_test(test_extract_refuses_dotdot),
        cmocka_unit_test(test_extract_refuses_absolute),
        cmocka_unit_test(test_extract_refuses_writing_through_symlink),
    };
    return cmocka_run_group_tests_name("manifest", tests, NULL, NULL);
}
