/*
 * test_backup.c: the backup.info fields computed from a backup_label and an
 * end LSN (backup_label.c, with the end_wal boundary rule), and Barman's
 * check_backup over synthetic wals/ trees (backup_check.c): waiting, failed
 * with the first missing segment, done, timelines, the log-number wrap.
 */
#include "barrel/build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/stat.h>

#include "barrel/backup_check.h"
#include "barrel/backup_label.h"
#include "barrel/catalog.h"
#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/mem.h"
#include "harness.h"

static const char label_a[] =
    "START WAL LOCATION: 0/17000028 (file 000000010000000000000017)\n"
    "CHECKPOINT LOCATION: 0/17000060\n"
    "BACKUP METHOD: streamed\n"
    "BACKUP FROM: primary\n"
    "START TIME: 2026-11-22 13:31:04 UTC\n"
    "LABEL: pg_basebackup base backup\n"
    "START TIMELINE: 1\n";

static void
test_backup_label_apply_fields(void **state)
{
    struct backup_info *bi = backup_info_new("20261122T133101");
    struct br_error err;
    char ts[64];
    (void) state;

    assert_int_equal(backup_label_apply(bi, label_a, &err), 0);
    assert_string_equal(bi->begin_xlog, "0/17000028");
    assert_string_equal(bi->begin_wal, "000000010000000000000017");
    assert_int_equal(bi->begin_offset, 40);
    assert_int_equal(bi->timeline, 1);
    assert_string_equal(bi->backup_label, label_a);
    /* no begin_time yet: the label's START TIME */
    assert_true(bi->begin_time_set);
    br_timestamp_format(&bi->begin_time, ts, sizeof(ts));
    assert_string_equal(ts, "2026-11-22 13:31:04+00:00");
    backup_info_free(bi);
}

static void
test_backup_label_keeps_begin_time(void **state)
{
    struct backup_info *bi = backup_info_new("20261122T133101");
    struct br_error err;
    char ts[64];
    (void) state;

    assert_int_equal(br_timestamp_parse("2026-11-22 13:31:01.328752+00:00", &bi->begin_time), 0);
    bi->begin_time_set = 1;
    assert_int_equal(backup_label_apply(bi, label_a, &err), 0);
    br_timestamp_format(&bi->begin_time, ts, sizeof(ts));
    assert_string_equal(ts, "2026-11-22 13:31:01.328752+00:00");
    backup_info_free(bi);
}

static void
test_backup_label_timeline_and_segment_size(void **state)
{
    /* timeline 2, 64 MiB segments: 0/1C000060 is in segment 7 of log 0, offset 0x60 */
    static const char label[] = "START WAL LOCATION: 0/1C000060 (file 000000020000000000000007)\n"
                                "START TIME: 2026-11-22 13:34:31 CET\n";
    struct backup_info *bi = backup_info_new("20261122T133431");
    struct br_error err;
    (void) state;

    bi->xlog_segment_size = 64 * 1024 * 1024;
    assert_int_equal(backup_label_apply(bi, label, &err), 0);
    assert_int_equal(bi->timeline, 2);
    assert_string_equal(bi->begin_wal, "000000020000000000000007");
    assert_int_equal(bi->begin_offset, 0x60);
    /* a zone that is not UTC cannot be trusted: no begin_time from it */
    assert_false(bi->begin_time_set);
    backup_info_free(bi);
}

static void
test_backup_label_bad(void **state)
{
    static const char *const bad[] = {
        "CHECKPOINT LOCATION: 0/17000060\n",
        "START WAL LOCATION: 0/17000028\n",
        "START WAL LOCATION: zz/17000028 (file 000000010000000000000017)\n",
        "START WAL LOCATION: 0/17000028 (file 00000001000000000000001)\n",
        "START WAL LOCATION: 0/17000028 (file 000000010000000000000017) trailing\n",
    };
    (void) state;

    for (size_t i = 0; i < BR_ARRAY_LEN(bad); i++) {
        struct backup_info *bi = backup_info_new("20261122T133101");
        struct br_error err;

        assert_int_equal(backup_label_apply(bi, bad[i], &err), -1);
        assert_string_equal(err.msg, "failure parsing backup_label for backup 20261122T133101");
        assert_null(bi->begin_wal);
        backup_info_free(bi);
    }
    {
        /* the LSN is not in the file the label names */
        struct backup_info *bi = backup_info_new("20261122T133101");
        struct br_error err;

        assert_int_equal(backup_label_apply(bi, "START WAL LOCATION: 0/17000028 (file 000000010000000000000018)\n",
                                            &err), -1);
        assert_string_equal(err.msg, "backup_label of backup 20261122T133101: location 0/17000028 is not in file "
                                     "000000010000000000000018");
        backup_info_free(bi);
    }
}

static void
test_backup_label_set_end_boundary_rule(void **state)
{
    static const struct {
        uint64_t lsn;
        uint32_t tli;
        const char *xlog, *wal;
        int64_t offset;
    } cases[] = {
        /* exactly at a segment start: the previous segment, offset 0 (Barman's fixtures) */
        {0x18000000, 1, "0/18000000", "000000010000000000000017", 0},
        {0x9000000, 1, "0/9000000", "000000010000000000000008", 0},
        /* inside a segment */
        {0x7000100, 1, "0/7000100", "000000010000000000000007", 0x100},
        /* a new log number: 1/0 ends segment FF of log 0 */
        {UINT64_C(0x100000000), 3, "1/0", "0000000300000000000000FF", 0},
        {UINT64_C(0x100000028), 3, "1/28", "000000030000000100000000", 0x28},
    };
    (void) state;

    for (size_t i = 0; i < BR_ARRAY_LEN(cases); i++) {
        struct backup_info *bi = backup_info_new("20261122T133101");

        backup_label_set_end(bi, cases[i].lsn, cases[i].tli);
        assert_string_equal(bi->end_xlog, cases[i].xlog);
        assert_string_equal(bi->end_wal, cases[i].wal);
        assert_int_equal(bi->end_offset, cases[i].offset);
        backup_info_free(bi);
    }
}

/* ------------------------------------------------------------ check_backup */

struct checkfx {
    char *dir;
    struct server_config srv;
    struct backup_info *bi;
};

static int
check_setup(void **state)
{
    struct checkfx *fx = br_calloc(1, sizeof(*fx));
    char *base;

    fx->dir = h_mkdtemp();
    fx->srv.name = br_strdup("pg");
    fx->srv.backup_directory = fx->dir;
    fx->srv.wals_directory = br_asprintf("%s/wals", fx->dir);
    base = br_asprintf("%s/base/20261122T133101", fx->dir);
    {
        struct h_result r = h_sh("mkdir -p '%s' '%s'", base, fx->srv.wals_directory);
        h_result_free(&r);
    }
    fx->bi = backup_info_new("20261122T133101");
    fx->bi->path = br_asprintf("%s/backup.info", base);
    fx->bi->status = BACKUP_STATUS_WAITING_FOR_WALS;
    fx->bi->begin_wal = br_strdup("0000000100000000000000FE");
    fx->bi->end_wal = br_strdup("000000010000000100000001");
    free(base);
    *state = fx;
    return 0;
}

static int
check_teardown(void **state)
{
    struct checkfx *fx = *state;

    h_rmtree(fx->dir);
    free(fx->dir);
    free(fx->srv.wals_directory);
    free(fx->srv.name);
    backup_info_free(fx->bi);
    free(fx);
    return 0;
}

/* Put files (names) into their hash directories of wals/. */
static void
add_wals(struct checkfx *fx, const char *const *names)
{
    for (size_t i = 0; names[i] != NULL; i++) {
        struct h_result r = h_sh("mkdir -p '%s/%.16s' && echo x > '%s/%.16s/%s'", fx->srv.wals_directory, names[i],
                                 fx->srv.wals_directory, names[i], names[i]);
        assert_int_equal(r.status, 0);
        h_result_free(&r);
    }
}

static void
expect_status(struct checkfx *fx, enum backup_status st, const char *error)
{
    struct br_error err;
    struct backup_info *saved;

    assert_int_equal(backup_check(&fx->srv, fx->bi, &err), 0);
    assert_int_equal(fx->bi->status, st);
    if (error != NULL)
        assert_string_equal(fx->bi->error, error);
    /* what it decided is in backup.info */
    saved = backup_info_read(fx->bi->path, fx->bi->backup_id, &err);
    assert_non_null(saved);
    assert_int_equal(saved->status, st);
    backup_info_free(saved);
}

static void
test_backup_check_waiting_then_done_across_log_wrap(void **state)
{
    struct checkfx *fx = *state;
    static const char *const older[] = {"0000000100000000000000FD", NULL};
    static const char *const part[] = {"0000000100000000000000FE", "0000000100000000000000FF",
                                       "0000000100000000000000FE.00000028.backup", NULL};
    static const char *const rest[] = {"000000010000000100000000", "000000010000000100000001.partial", NULL};
    static const char *const end[] = {"000000010000000100000001", NULL};

    /* empty archive: waiting */
    expect_status(fx, BACKUP_STATUS_WAITING_FOR_WALS, NULL);
    /* only older WAL: waiting */
    add_wals(fx, older);
    expect_status(fx, BACKUP_STATUS_WAITING_FOR_WALS, NULL);
    /* some of them, across FF -> next log, a .partial ignored: still waiting */
    add_wals(fx, part);
    expect_status(fx, BACKUP_STATUS_WAITING_FOR_WALS, NULL);
    add_wals(fx, rest);
    expect_status(fx, BACKUP_STATUS_WAITING_FOR_WALS, NULL);
    /* the end segment: done */
    add_wals(fx, end);
    expect_status(fx, BACKUP_STATUS_DONE, NULL);
}

static void
test_backup_check_missing_segment_fails(void **state)
{
    struct checkfx *fx = *state;
    static const char *const holes[] = {"0000000100000000000000FE", "000000010000000100000000",
                                        "000000010000000100000002", NULL};

    add_wals(fx, holes);
    expect_status(fx, BACKUP_STATUS_FAILED,
                  "At least one WAL file is missing. The first missing WAL file is 0000000100000000000000FF");
}

static void
test_backup_check_other_timeline_waits(void **state)
{
    struct checkfx *fx = *state;
    static const char *const tl2[] = {"0000000200000001000000FE", "0000000200000001000000FF", "00000002.history",
                                      NULL};
    struct h_result r;

    add_wals(fx, tl2);
    /* a history file lives at the root of wals/ */
    r = h_sh("echo x > '%s/00000002.history'", fx->srv.wals_directory);
    h_result_free(&r);
    expect_status(fx, BACKUP_STATUS_WAITING_FOR_WALS, NULL);
}

static void
test_backup_check_in_progress_untouched(void **state)
{
    struct checkfx *fx = *state;
    struct br_error err;
    struct stat st;

    free(fx->bi->end_wal);
    fx->bi->end_wal = NULL;
    fx->bi->status = BACKUP_STATUS_STARTED;
    assert_int_equal(backup_check(&fx->srv, fx->bi, &err), 0);
    assert_int_equal(fx->bi->status, BACKUP_STATUS_STARTED);
    /* nothing written */
    assert_int_not_equal(stat(fx->bi->path, &st), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backup_label_apply_fields),
        cmocka_unit_test(test_backup_label_keeps_begin_time),
        cmocka_unit_test(test_backup_label_timeline_and_segment_size),
        cmocka_unit_test(test_backup_label_bad),
        cmocka_unit_test(test_backup_label_set_end_boundary_rule),
        cmocka_unit_test_setup_teardown(test_backup_check_waiting_then_done_across_log_wrap, check_setup,
                                        check_teardown),
        cmocka_unit_test_setup_teardown(test_backup_check_missing_segment_fails, check_setup, check_teardown),
        cmocka_unit_test_setup_teardown(test_backup_check_other_timeline_waits, check_setup, check_teardown),
        cmocka_unit_test_setup_teardown(test_backup_check_in_progress_untouched, check_setup, check_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
