/*
 * test_retention.c: the retention-status engine (src/retention/retention.c)
 * on hand-worked cases from spec 7.2-7.5 and Barman 3.4's
 * retention_policies.py. Backups are given oldest first, as the catalog
 * orders them; the expected labels are written in the same order.
 */
#include "barrel/build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "barrel/retention.h"

#define DAY_USEC (INT64_C(86400) * 1000000)
#define NOW_USEC (INT64_C(1795354295) * 1000000)   /* Sun Nov 22 13:31:35 2026 UTC */

#define DONE(days_ago) {BACKUP_STATUS_DONE, 1, NOW_USEC - (int64_t) ((days_ago) * (double) DAY_USEC), RETENTION_KEEP_NONE}
#define DONE_KEEP(days_ago, keep) {BACKUP_STATUS_DONE, 1, NOW_USEC - (int64_t) ((days_ago) * (double) DAY_USEC), (keep)}
#define OTHER(status, days_ago) {(status), 1, NOW_USEC - (int64_t) ((days_ago) * (double) DAY_USEC), RETENTION_KEEP_NONE}

static const struct retention_policy redundancy_1 = {RETENTION_REDUNDANCY, 1, RETENTION_DAYS};
static const struct retention_policy redundancy_2 = {RETENTION_REDUNDANCY, 2, RETENTION_DAYS};
static const struct retention_policy window_7_days = {RETENTION_WINDOW, 7, RETENTION_DAYS};
static const struct retention_policy window_1_week = {RETENTION_WINDOW, 1, RETENTION_WEEKS};
static const struct retention_policy window_1_month = {RETENTION_WINDOW, 1, RETENTION_MONTHS};
static const struct retention_policy no_policy = {RETENTION_NONE, 0, RETENTION_DAYS};

static void
check_labels(const struct retention_backup *backups, size_t n, const struct retention_policy *policy,
             int minimum_redundancy, int64_t now_usec, const char *const *expected)
{
    enum retention_status out[16];

    assert_true(n <= 16);
    for (size_t i = 0; i < n; i++)
        out[i] = (enum retention_status) 99;    /* every slot must be written */
    retention_evaluate(backups, n, policy, minimum_redundancy, now_usec, out);
    for (size_t i = 0; i < n; i++) {
        const char *got = retention_status_name(out[i]);
        if (strcmp(got, expected[i]) != 0)
            fail_msg("backup %zu (oldest first): expected %s, got %s", i, expected[i], got);
    }
}

/* ---- names ---- */

static void
test_retention_status_name_all(void **state)
{
    (void) state;
    assert_string_equal(retention_status_name(RETENTION_STATUS_NONE), "-");
    assert_string_equal(retention_status_name(RETENTION_STATUS_VALID), "VALID");
    assert_string_equal(retention_status_name(RETENTION_STATUS_OBSOLETE), "OBSOLETE");
    assert_string_equal(retention_status_name(RETENTION_STATUS_POTENTIALLY_OBSOLETE), "OBSOLETE*");
    assert_string_equal(retention_status_name(RETENTION_STATUS_KEEP_FULL), "KEEP:FULL");
    assert_string_equal(retention_status_name(RETENTION_STATUS_KEEP_STANDALONE), "KEEP:STANDALONE");
}

static void
test_retention_keep_from_target_values(void **state)
{
    (void) state;
    assert_int_equal(retention_keep_from_target(NULL), RETENTION_KEEP_NONE);
    assert_int_equal(retention_keep_from_target(""), RETENTION_KEEP_NONE);
    assert_int_equal(retention_keep_from_target("standalone"), RETENTION_KEEP_STANDALONE);
    assert_int_equal(retention_keep_from_target("full"), RETENTION_KEEP_FULL);
    /* Barman: any other recovery target is KEEP:FULL, for safety */
    assert_int_equal(retention_keep_from_target("sometimes"), RETENTION_KEEP_FULL);
}

/* ---- REDUNDANCY (7.2) ---- */

static void
test_retention_evaluate_redundancy_oldest_obsolete(void **state)
{
    /* the fixture run: REDUNDANCY 2 and three DONE backups (list-backups-3-backups-one-obsolete.txt) */
    const struct retention_backup b[] = {DONE(3), DONE(2), DONE(1)};
    const char *const want[] = {"OBSOLETE", "VALID", "VALID"};

    (void) state;
    check_labels(b, 3, &redundancy_2, 0, NOW_USEC, want);
}

static void
test_retention_evaluate_redundancy_failed_ignored(void **state)
{
    /* non-DONE backups are "-" and use no redundancy slot */
    const struct retention_backup b[] = {
        DONE(5), DONE(4), OTHER(BACKUP_STATUS_FAILED, 3), DONE(2),
        OTHER(BACKUP_STATUS_WAITING_FOR_WALS, 1), OTHER(BACKUP_STATUS_STARTED, 0),
    };
    const char *const want[] = {"OBSOLETE", "VALID", "-", "VALID", "-", "-"};

    (void) state;
    check_labels(b, 6, &redundancy_2, 0, NOW_USEC, want);
}

static void
test_retention_evaluate_redundancy_keep_uses_slot(void **state)
{
    /* a kept backup keeps its KEEP label and still counts towards the redundancy */
    const struct retention_backup b[] = {
        DONE_KEEP(4, RETENTION_KEEP_FULL), DONE(3), DONE(2), DONE_KEEP(1, RETENTION_KEEP_STANDALONE),
    };
    const char *const want[] = {"KEEP:FULL", "OBSOLETE", "VALID", "KEEP:STANDALONE"};

    (void) state;
    check_labels(b, 4, &redundancy_2, 0, NOW_USEC, want);
}

static void
test_retention_evaluate_redundancy_fixture_keeps(void **state)
{
    /* list-backups-with-keep.txt: FAILED, KEEP:STANDALONE, KEEP:FULL under REDUNDANCY 2 */
    const struct retention_backup b[] = {
        DONE_KEEP(2, RETENTION_KEEP_FULL), DONE_KEEP(1, RETENTION_KEEP_STANDALONE), OTHER(BACKUP_STATUS_FAILED, 0),
    };
    const char *const want[] = {"KEEP:FULL", "KEEP:STANDALONE", "-"};

    (void) state;
    check_labels(b, 3, &redundancy_2, 0, NOW_USEC, want);
}

static void
test_retention_evaluate_redundancy_minimum_raises(void **state)
{
    /* REDUNDANCY 1 with minimum_redundancy 3: Barman enforces 3 */
    const struct retention_backup b[] = {DONE(4), DONE(3), DONE(2), DONE(1)};
    const char *const want[] = {"OBSOLETE", "VALID", "VALID", "VALID"};
    const char *const want_zero[] = {"OBSOLETE", "OBSOLETE", "OBSOLETE", "VALID"};

    (void) state;
    check_labels(b, 4, &redundancy_1, 3, NOW_USEC, want);
    check_labels(b, 4, &redundancy_1, 0, NOW_USEC, want_zero);
}

static void
test_retention_evaluate_redundancy_zero(void **state)
{
    /* REDUNDANCY 0: every unkept DONE backup is OBSOLETE */
    const struct retention_policy zero = {RETENTION_REDUNDANCY, 0, RETENTION_DAYS};
    const struct retention_backup b[] = {DONE(2), DONE_KEEP(1, RETENTION_KEEP_FULL)};
    const char *const want[] = {"OBSOLETE", "KEEP:FULL"};

    (void) state;
    check_labels(b, 2, &zero, 0, NOW_USEC, want);
}

/* ---- RECOVERY WINDOW (7.3) ---- */

static void
test_retention_evaluate_window_spec_example(void **state)
{
    /* spec 7.3: window 7 days, backups ending 1, 5, 9, 12 days ago -> VALID VALID VALID OBSOLETE (newest first) */
    const struct retention_backup b[] = {DONE(12), DONE(9), DONE(5), DONE(1)};
    const char *const want[] = {"OBSOLETE", "VALID", "VALID", "VALID"};

    (void) state;
    check_labels(b, 4, &window_7_days, 0, NOW_USEC, want);
    check_labels(b, 4, &window_1_week, 0, NOW_USEC, want);
}

static void
test_retention_evaluate_window_minimum_redundancy(void **state)
{
    /*
     * window 7 days, minimum_redundancy 3, ends 1, 9, 12, 15 days ago:
     * 1 VALID (valid 1), 9 VALID and outside -> found (valid 2),
     * 12 OBSOLETE* (2 < 3, valid 3), 15 OBSOLETE.
     */
    const struct retention_backup b[] = {DONE(15), DONE(12), DONE(9), DONE(1)};
    const char *const want[] = {"OBSOLETE", "OBSOLETE*", "VALID", "VALID"};

    (void) state;
    check_labels(b, 4, &window_7_days, 3, NOW_USEC, want);
}

static void
test_retention_evaluate_window_keeps(void **state)
{
    /* keeps replace every label and still count as valid towards minimum_redundancy */
    const struct retention_backup b[] = {
        DONE(20), DONE_KEEP(15, RETENTION_KEEP_STANDALONE), DONE(12), DONE_KEEP(10, RETENTION_KEEP_FULL), DONE(9),
        DONE_KEEP(1, RETENTION_KEEP_FULL),
    };
    /* newest first: 1 KEEP (valid 1), 9 VALID found (valid 2), 10 KEEP:FULL (2<3, valid 3), 12 OBSOLETE, 15 KEEP, 20 OBSOLETE */
    const char *const want[] = {"OBSOLETE", "KEEP:STANDALONE", "OBSOLETE", "KEEP:FULL", "VALID", "KEEP:FULL"};

    (void) state;
    check_labels(b, 6, &window_7_days, 3, NOW_USEC, want);
}

static void
test_retention_evaluate_window_failed_ignored(void **state)
{
    const struct retention_backup b[] = {
        DONE(12), OTHER(BACKUP_STATUS_FAILED, 10), DONE(9), OTHER(BACKUP_STATUS_WAITING_FOR_WALS, 0),
    };
    const char *const want[] = {"OBSOLETE", "-", "VALID", "-"};

    (void) state;
    check_labels(b, 4, &window_7_days, 0, NOW_USEC, want);
}

static void
test_retention_evaluate_window_boundary(void **state)
{
    /*
     * Barman: end_time < now - window, strictly. A backup ending exactly at
     * the window start is inside the window: it stays VALID and does not end
     * the search, so the next older one is VALID too.
     */
    const int64_t start = NOW_USEC - 7 * DAY_USEC;
    const struct retention_backup on_edge[] = {
        {BACKUP_STATUS_DONE, 1, start - 2, RETENTION_KEEP_NONE},
        {BACKUP_STATUS_DONE, 1, start - 1, RETENTION_KEEP_NONE},
        {BACKUP_STATUS_DONE, 1, start, RETENTION_KEEP_NONE},
    };
    const char *const want_edge[] = {"OBSOLETE", "VALID", "VALID"};
    const struct retention_backup just_before[] = {
        {BACKUP_STATUS_DONE, 1, start - 2, RETENTION_KEEP_NONE},
        {BACKUP_STATUS_DONE, 1, start - 1, RETENTION_KEEP_NONE},
    };
    const char *const want_before[] = {"OBSOLETE", "VALID"};

    (void) state;
    check_labels(on_edge, 3, &window_7_days, 0, NOW_USEC, want_edge);
    check_labels(just_before, 2, &window_7_days, 0, NOW_USEC, want_before);
}

static void
test_retention_evaluate_window_month_is_31_days(void **state)
{
    /* 1 MONTH = 31 days: ending 30 days ago is inside, 32 days ago is the first outside */
    const struct retention_backup b[] = {DONE(40), DONE(32), DONE(30)};
    const char *const want[] = {"OBSOLETE", "VALID", "VALID"};

    (void) state;
    check_labels(b, 3, &window_1_month, 0, NOW_USEC, want);
}

static void
test_retention_evaluate_window_all_recent(void **state)
{
    /* nothing older than the window: every DONE backup is VALID */
    const struct retention_backup b[] = {DONE(3), DONE(2), DONE(1)};
    const char *const want[] = {"VALID", "VALID", "VALID"};

    (void) state;
    check_labels(b, 3, &window_7_days, 0, NOW_USEC, want);
}

/* ---- no policy ---- */

static void
test_retention_evaluate_no_policy(void **state)
{
    const struct retention_backup b[] = {DONE(40), DONE_KEEP(2, RETENTION_KEEP_FULL), OTHER(BACKUP_STATUS_FAILED, 1)};
    const char *const want[] = {"-", "-", "-"};

    (void) state;
    check_labels(b, 3, &no_policy, 0, NOW_USEC, want);
    check_labels(b, 3, NULL, 5, NOW_USEC, want);
}

static void
test_retention_evaluate_empty(void **state)
{
    (void) state;
    retention_evaluate(NULL, 0, &redundancy_2, 1, NOW_USEC, NULL);
    retention_evaluate(NULL, 0, &window_7_days, 1, NOW_USEC, NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retention_status_name_all),
        cmocka_unit_test(test_retention_keep_from_target_values),
        cmocka_unit_test(test_retention_evaluate_redundancy_oldest_obsolete),
        cmocka_unit_test(test_retention_evaluate_redundancy_failed_ignored),
        cmocka_unit_test(test_retention_evaluate_redundancy_keep_uses_slot),
        cmocka_unit_test(test_retention_evaluate_redundancy_fixture_keeps),
        cmocka_unit_test(test_retention_evaluate_redundancy_minimum_raises),
        cmocka_unit_test(test_retention_evaluate_redundancy_zero),
        cmocka_unit_test(test_retention_evaluate_window_spec_example),
        cmocka_unit_test(test_retention_evaluate_window_minimum_redundancy),
        cmocka_unit_test(test_retention_evaluate_window_keeps),
        cmocka_unit_test(test_retention_evaluate_window_failed_ignored),
        cmocka_unit_test(test_retention_evaluate_window_boundary),
        cmocka_unit_test(test_retention_evaluate_window_month_is_31_days),
        cmocka_unit_test(test_retention_evaluate_window_all_recent),
        cmocka_unit_test(test_retention_evaluate_no_policy),
        cmocka_unit_test(test_retention_evaluate_empty),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
