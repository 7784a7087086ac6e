/*
 * test_fuzz_regress.c: every input the fuzzers (tests/fuzz/) found a bug
 * with, replayed on the normal build (and under ASan by `make check ASAN=1`,
 * under valgrind by `make check-valgrind`). The inputs live in
 * tests/fuzz/regress/<target>-<sha1 prefix>; each is run through the same
 * checks as its fuzz target:
 *
 *   backup_info-930291dc3dcf  a raw byte that is not UTF-8 inside a string was
 *                             kept as is, written back as \xf4 and read again
 *                             as U+00F4: a second write differed. Such a
 *                             string is now refused, as Python refuses to
 *                             decode the file;
 *   backup_info-e7a959efcc10  the same through an unknown escape: a backslash
 *                             followed by a raw byte that is not UTF-8;
 *   tar_manifest-4a8079034783 manifest_parse() looked for "Manifest-Checksum"
 *                             with strstr() past the `len` bytes it was given
 *                             (a heap overflow when the text is not NUL-
 *                             terminated).
 */
#include "barrel/build.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "barrel/catalog.h"
#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/fs.h"
#include "barrel/manifest.h"
#include "barrel/mem.h"
#include "barrel/pyliteral.h"
#include "barrel/stage.h"
#include "barrel/strbuf.h"

#define REGRESS_DIR "tests/fuzz/regress"

static unsigned char *
load(const char *name, size_t *len)
{
    char *path = path_join(REGRESS_DIR, name);
    struct br_error err;
    char *text = fs_read_file(path, 1 << 20, len, &err);

    if (text == NULL)
        fail_msg("%s: %s", path, err.msg);
    free(path);
    return (unsigned char *) text;
}

/* fuzz_backup_info's check: what parses serializes to a fixed point. */
static void
replay_backup_info(const unsigned char *data, size_t len)
{
    char *text = br_strndup((const char *) data, len);
    struct br_error err;
    struct backup_info *bi = backup_info_parse(text, "regress", "20240101T000000", &err);

    if (bi != NULL) {
        struct strbuf once, twice;
        struct backup_info *again;

        strbuf_init(&once);
        strbuf_init(&twice);
        backup_info_serialize(bi, &once);
        again = backup_info_parse(once.buf, "regress (serialized)", "20240101T000000", &err);
        assert_non_null(again);
        backup_info_serialize(again, &twice);
        assert_string_equal(once.buf, twice.buf);
        backup_info_free(again);
        strbuf_free(&once);
        strbuf_free(&twice);
    }
    backup_info_free(bi);
    free(text);
}

static void
ignore_problem(void *arg, const char *problem)
{
    (void) arg;
    (void) problem;
}

/* fuzz_tar_manifest's run: a manifest of exactly mlen bytes (not NUL-terminated), then tar bytes. */
static void
replay_tar_manifest(const unsigned char *data, size_t size)
{
    struct br_error err;
    struct manifest *m = NULL;
    struct stage *chain;
    size_t mlen, step, off;
    int rc = 0;

    if (size < 2)
        return;
    mlen = ((size_t) data[0] << 8) | data[1];
    if (mlen > size - 2)
        mlen = size - 2;
    if (mlen > 0) {
        char *text = br_malloc(mlen);

        memcpy(text, data + 2, mlen);
        m = manifest_parse(text, mlen, "regress manifest", &err);
        free(text);
    }
    chain = stage_tar_parser_new(m != NULL ? stage_manifest_verify_new(m, 0, ignore_problem, NULL, NULL) : NULL);
    step = 1 + (mlen % 1031);
    for (off = 2 + mlen; rc == 0 && off < size; off += step)
        rc = stage_push_raw(chain, data + off, size - off < step ? size - off : step, &err);
    if (rc == 0 && stage_finish(chain, &err) == 0 && m != NULL)
        (void) manifest_report_unseen(m, ignore_problem, NULL);
    stage_free(chain);
    manifest_free(m);
}

static void
test_replay_all(void **state)
{
    DIR *d = opendir(REGRESS_DIR);
    struct dirent *de;
    int replayed = 0;

    (void) state;
    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        size_t len;
        unsigned char *data;

        if (de->d_name[0] == '.')
            continue;
        data = load(de->d_name, &len);
        if (strncmp(de->d_name, "backup_info-", 12) == 0)
            replay_backup_info(data, len);
        else if (strncmp(de->d_name, "tar_manifest-", 13) == 0)
            replay_tar_manifest(data, len);
        else
            fail_msg("%s: no replay for this target", de->d_name);
        free(data);
        replayed++;
    }
    closedir(d);
    assert_true(replayed >= 3);
}

/* The two bugs, stated directly. */
static void
test_pyliteral_refuses_bytes_not_utf8(void **state)
{
    struct br_error err;
    struct pyl *v;

    (void) state;
    v = pyl_parse("'f\xf4le'", &err);
    assert_null(v);
    assert_string_equal(err.msg, "invalid python literal at offset 2: string is not valid UTF-8");
    v = pyl_parse("r'\\\xf4'", &err);
    assert_null(v);
    v = pyl_parse("'\\\xce" "C'", &err);         /* an unknown escape of a byte that is not UTF-8 */
    assert_null(v);
    v = pyl_parse("'\\q'", &err);               /* unknown ASCII escapes stay as they are */
    assert_non_null(v);
    pyl_free(v);
    v = pyl_parse("'f\xc3\xb4le'", &err);           /* valid UTF-8 stays accepted */
    assert_non_null(v);
    pyl_free(v);
}

static void
test_manifest_text_not_terminated(void **state)
{
    static const char body[] = "{ \"PostgreSQL-Backup-Manifest-Version\": 1,\n\"Files\": [ ],\n"
                               "\"Manifest-Checksum\": \"00\"}";
    size_t len = sizeof(body) - 1;
    char *text = br_malloc(len);         /* exactly len bytes: ASan flags any read past them */
    struct br_error err;
    struct manifest *m;

    (void) state;
    memcpy(text, body, len);
    m = manifest_parse(text, len, "unterminated", &err);
    assert_null(m);                       /* a wrong checksum, found within the bytes given */
    free(text);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_all),
        cmocka_unit_test(test_pyliteral_refuses_bytes_not_utf8),
        cmocka_unit_test(test_manifest_text_not_terminated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
