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
#include "barrel/xlog.h"

#define DAY_USEC (INT64_C(86400) * 1000000)
#define NOW_USEC (INT64_C(1795354295) * 1000000)   /* Sun Nov 22 13:31:35 2026 UTC */

#define AGO(days_ago) (NOW_USEC - (int64_t) ((days_ago) * (double) DAY_USEC))
#define DONE(days_ago) {.status = BACKUP_STATUS_DONE, .end_time_set = 1, .end_time_usec = AGO(days_ago)}
#define DONE_KEEP(days_ago, k) {.status = BACKUP_STATUS_DONE, .end_time_set = 1, .end_time_usec = AGO(days_ago), .keep = (k)}
#define OTHER(st, days_ago) {.status = (st), .end_time_set = 1, .end_time_usec = AGO(days_ago)}
#define DONE_AT(t) {.status = BACKUP_STATUS_DONE, .end_time_set = 1, .end_time_usec = (t)}

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
        DONE_AT(start - 2),
        DONE_AT(start - 1),
        DONE_AT(start),
    };
    const char *const want_edge[] = {"OBSOLETE", "VALID", "VALID"};
    const struct retention_backup just_before[] = {
        DONE_AT(start - 2),
        DONE_AT(start - 1),
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

/* ---- delete plans (7.6) ---- */

/* A backup for plan tests: status, keep, timeline, begin/end WAL. */
#define PB(st, k, tli, b, e) \
    {.status = (st), .end_time_set = 1, .end_time_usec = NOW_USEC, .keep = (k), .backup_id = "id", \
     .begin_wal = (b), .end_wal = (e), .timeline = (tli)}

static struct retention_delete_plan
plan_of(const struct retention_backup *b, size_t n, size_t target, int minred, int concurrent,
        enum retention_delete_mode mode)
{
    struct retention_delete_plan plan;

    retention_plan_delete(b, n, target, minred, concurrent, mode, &plan);
    return plan;
}

/* names that go under the plan, checked against `gone` (every other name of `names` stays) */
static void
check_wal(const struct retention_delete_plan *plan, const char *const *names, size_t n_names,
          const char *const *gone, size_t n_gone)
{
    for (size_t i = 0; i < n_names; i++) {
        int expect_gone = 0;

        for (size_t j = 0; j < n_gone; j++)
            if (strcmp(names[i], gone[j]) == 0)
                expect_gone = 1;
        if (retention_plan_keeps_wal(plan, names[i]) == expect_gone)
            fail_msg("%s: expected it to %s", names[i], expect_gone ? "go" : "stay");
    }
}

static void
test_retention_plan_delete_fixture_oldest(void **state)
{
    /*
     * delete.txt: 20261122T133000 (begin 08) is the oldest, 20261122T133024
     * begins at 0D: Barman removed 08 to 0C, nothing from 0D on.
     */
    const struct retention_backup b[] = {
        PB(BACKUP_STATUS_DONE, RETENTION_KEEP_NONE, 1, "000000010000000000000008", "000000010000000000000008"),
        PB(BACKUP_STATUS_DONE, RETENTION_KEEP_NONE, 1, "00000001000000000000000D", "00000001000000000000000D"),
        PB(BACKUP_STATUS_DONE, RETENTION_KEEP_NONE, 1, "000000010000000000000017", "000000010000000000000017"),
    };
    const char *const names[] = {"000000010000000000000007", "000000010000000000000008",
                                 "000000010000000000000008.00000028.backup", "00000001000000000000000C",
                                 "00000001000000000000000D", "00000001000000000000000D.00000028.backup",
                                 "000000010000000000000017", "00000002.history", "00000001.history"};
    const char *const gone[] = {"000000010000000000000007", "000000010000000000000008",
                                "000000010000000000000008.00000028.backup", "00000001000000000000000C"};
    struct retention_delete_plan plan = plan_of(b, 3, 0, 0, 1, RETENTION_DELETE_MANUAL);

    (void) state;
    assert_int_equal(plan.refusal, RETENTION_REFUSE_NONE);
    assert_true(plan.remove_wals);
    assert_true(plan.has_until);
    assert_int_equal(plan.until, 1);
    assert_string_equal(plan.until_wal, "00000001000000000000000D");
    assert_int_equal(plan.n_timelines, 0);   /* every other backup is on remove_until's timeline */
    check_wal(&plan, names, BR_ARRAY_LEN(names), gone, BR_ARRAY_LEN(gone));
    retention_delete_plan_reset(&plan);
}

static void
test_retention_plan_delete_middle_keeps_wal(void **state)
{
    /* WAL only goes from the oldest end: the older backup needs it all for PITR */
    const struct retention_backup b[] = {
        PB(BACKUP_STATUS_DONE, RETENTION_KEEP_NONE, 1, "000000010000000000000008", "000000010000000000000008"),
        PB(BACKUP_STATUS_DONE, RETENTION_KEEP_NONE, 1, "00000001000000000000000D", "00000001000000000000000D"),
        PB(BACKUP_STATUS_DONE, RETENTION_KEEP_NONE, 1, "000000010000000000000017", "000000010000000000000017"),
    };
    struct retention_delete_plan plan = plan_of(b, 3, 1, 0, 1, RETENTION_DELETE_POLICY);

    (void) state;
    assert_int_equal(plan.refusal, RETENTION_REFUSE_NONE);
    assert_false(plan.remove_wals);
    assert_int_equal(plan.no_wal, RETENTION_NO_WAL_PREVIOUS);
    assert_int_equal(plan.blocker, 0);
    assert_true(retention_plan_keeps_wal(&plan, "000000010000000000000001"));
    retention_delete_plan_reset(&plan);
}

static void
test_retention_plan_delete_failed_predecessor_ignored(void **state)
{
    /* only DONE / WAITING_FOR_WALS backups count as "previous" */
    const struct retention_backup b[] = {
        PB(BACKUP_STATUS_FAILED, RETENTION_KEEP_NONE, 1, "000000010000000000000002", NULL),
        PB(BACKUP_STATUS_DONE, RETENTION_KEEP_NONE, 1, "000000010000000000000008", "000000010000000000000008"),
        PB(BACKUP_STATUS_DONE, RETENTION_KEEP_NONE, 1, "00000001000000000000000D", "00000001000000000000000D"),
    };
    struct retention_delete_plan plan = plan_of(b, 3, 1, 0, 1, RETENTION_DELETE_MANUAL);

    (void) state;
    assert_true(plan.remove_wals);
    assert_string_equal(plan.until_wal, "00000001000000000000000D");
    assert_false(retention_plan_keeps_wal(&plan, "000000010000000000000002"));
    retention_delete_plan_reset(&plan);
}

static void
test_retention_plan_delete_keep_full_predecessor(void **state)
{
    /* KEEP:FULL keeps every WAL from its start to the present: nothing goes, in both modes */
    const struct retention_backup b[] = {
        PB(BACKUP_STATUS_DONE, RETENTION_KEEP_FULL, 1, "000000010000000000000008", "000000010000000000000008"),
        PB(BACKUP_STATUS_DONE, RETENTION_KEEP_NONE, 1, "00000001000000000000000D", "00000001000000000000000D"),
        PB(BACKUP_STATUS_DONE, RETENTION_KEEP_NONE, 1, "000000010000000000000017", "000000010000000000000017"),
    };
    struct retention_delete_plan plan = plan_of(b, 3, 1, 0, 1, RETENTION_DELETE_POLICY);

    (void) state;
    assert_false(plan.remove_wals);
    assert_int_equal(plan.no_wal, RETENTION_NO_WAL_PREVIOUS);
    retention_delete_plan_reset(&plan);
    plan = plan_of(b, 3, 1, 0, 1, RETENTION_DELETE_MANUAL);
    assert_false(plan.remove_wals);
    retention_delete_plan_reset(&plan);
}

static void
test_retention_plan_delete_standalone_predecessors(void **state)
{
    /*
     * Two KEEP:STANDALONE backups before the target. A manual delete keeps
     * everything; retention keeps their own [begin, end] ranges (a .backup
     * file compared on its first 24 characters) and removes the rest up to
     * the next backup's begin_wal.
     */
    const struct retention_backup b[] = {
        PB(BACKUP_STATUS_DONE, RETENTION_KEEP_STANDALONE, 1, "000000010000000000000002", "000000010000000000000003"),
        PB(BACKUP_STATUS_DONE, RETENTION_KEEP_STANDALONE, 1, "000000010000000000000006", "000000010000000000000006"),
        PB(BACKUP_STATUS_DONE, RETENTION_KEEP_NONE, 1, "000000010000000000000009", "000000010000000000000009"),
        PB(BACKUP_STATUS_DONE, RETENTION_KEEP_NONE, 1, "00000001000000000000000C", "00000001000000000000000C"),
    };
    const char *const names[] = {
        "000000010000000000000001", "000000010000000000000002", "000000010000000000000002.00000028.backup",
        "000000010000000000000003", "000000010000000000000004", "000000010000000000000005",
        "000000010000000000000006", "000000010000000000000006.00000060.backup", "000000010000000000000007",
        "000000010000000000000009", "00000001000000000000000B", "00000001000000000000000C",
        "00000001000000000000000C.00000028.backup", "00000001000000000000000D", "00000002.history",
    };
    const char *const gone[] = {"000000010000000000000001", "000000010000000000000004", "000000010000000000000005",
                                "000000010000000000000007", "000000010000000000000009", "00000001000000000000000B"};
    struct retention_delete_plan plan = plan_of(b, 4, 2, 0, 1, RETENTION_DELETE_MANUAL);

    (void) state;
    assert_false(plan.remove_wals);
    assert_int_equal(plan.no_wal, RETENTION_NO_WAL_STANDALONE_MANUAL);
    assert_int_equal(plan.blocker, 1);
    retention_delete_plan_reset(&plan);

    plan = plan_of(b, 4, 2, 0, 1, RETENTION_DELETE_POLICY);
    assert_true(plan.remove_wals);
    assert_int_equal(plan.n_ranges, 2);
    assert_string_equal(plan.until_wal, "00000001000000000000000C");
    check_wal(&plan, names, BR_ARRAY_LEN(names), gone, BR_ARRAY_LEN(gone));
    retention_delete_plan_reset(&plan);
}

static void
test_retention_plan_delete_last_backup(void **state)
{
    /* no next backup: concurrent backups keep WAL from the target's begin_wal; exclusive ones remove all */
    const struct retention_backup b[] = {
        PB(BACKUP_STATUS_DONE, RETENTION_KEEP_NONE, 1, "000000010000000000000008", "000000010000000000000008"),
        PB(BACKUP_STATUS_FAILED, RETENTION_KEEP_NONE, 1, "00000001000000000000000A", NULL),
    };
    const char *const names[] = {"000000010000000000000007", "000000010000000000000008", "00000001000000000000000B",
                                 "00000002.history"};
    const char *const gone_concurrent[] = {"000000010000000000000007"};
    const char *const gone_exclusive[] = {"000000010000000000000007", "000000010000000000000008",
                                          "00000001000000000000000B"};
    struct retention_delete_plan plan = plan_of(b, 2, 0, 0, 1, RETENTION_DELETE_MANUAL);

    (void) state;
    assert_true(plan.has_until);
    assert_int_equal(plan.until, 0);
    check_wal(&plan, names, BR_ARRAY_LEN(names), gone_concurrent, BR_ARRAY_LEN(gone_concurrent));
    retention_delete_plan_reset(&plan);
    plan = plan_of(b, 2, 0, 0, 0, RETENTION_DELETE_MANUAL);
    assert_false(plan.has_until);
    check_wal(&plan, names, BR_ARRAY_LEN(names), gone_exclusive, BR_ARRAY_LEN(gone_exclusive));
    retention_delete_plan_reset(&plan);
}

static void
test_retention_plan_delete_protected_timelines(void **state)
{
    /*
     * A backup on timeline 2 remains after remove_until (timeline 1): its
     * timeline is protected, so no timeline-2 WAL goes even though "00000002..."
     * names sort after; timeline-1 WAL before remove_until's begin_wal goes.
     */
    const struct retention_backup b[] = {
        PB(BACKUP_STATUS_DONE, RETENTION_KEEP_NONE, 1, "000000010000000000000008", "000000010000000000000008"),
        PB(BACKUP_STATUS_DONE, RETENTION_KEEP_NONE, 1, "00000001000000000000000D", "00000001000000000000000D"),
        PB(BACKUP_STATUS_STARTED, RETENTION_KEEP_NONE, 3, "000000030000000000000020", NULL),
        PB(BACKUP_STATUS_DONE, RETENTION_KEEP_NONE, 2, "000000020000000000000010", "000000020000000000000010"),
    };
    const char *const names[] = {"000000010000000000000008", "00000001000000000000000C", "00000001000000000000000D",
                                 "000000020000000000000001", "000000030000000000000001"};
    const char *const gone[] = {"000000010000000000000008", "00000001000000000000000C"};
    struct retention_delete_plan plan = plan_of(b, 4, 0, 0, 1, RETENTION_DELETE_MANUAL);

    (void) state;
    assert_int_equal(plan.n_timelines, 2);
    check_wal(&plan, names, BR_ARRAY_LEN(names), gone, BR_ARRAY_LEN(gone));
    retention_delete_plan_reset(&plan);
}

static void
test_retention_plan_delete_refusals(void **state)
{
    const struct retention_backup b[] = {
        PB(BACKUP_STATUS_DONE, RETENTION_KEEP_STANDALONE, 1, "000000010000000000000002", "000000010000000000000002"),
        PB(BACKUP_STATUS_FAILED, RETENTION_KEEP_NONE, 1, "000000010000000000000004", NULL),
        PB(BACKUP_STATUS_DONE, RETENTION_KEEP_NONE, 1, "000000010000000000000008", "000000010000000000000008"),
    };
    struct retention_delete_plan plan = plan_of(b, 3, 0, 0, 1, RETENTION_DELETE_MANUAL);

    (void) state;
    /* a keep annotation, whatever the mode */
    assert_int_equal(plan.refusal, RETENTION_REFUSE_KEEP);
    retention_delete_plan_reset(&plan);
    /* minimum_redundancy >= DONE backups (2): refused for a DONE target, never for a FAILED one */
    plan = plan_of(b, 3, 2, 2, 1, RETENTION_DELETE_MANUAL);
    assert_int_equal(plan.refusal, RETENTION_REFUSE_MINIMUM_REDUNDANCY);
    assert_int_equal(plan.done_count, 2);
    retention_delete_plan_reset(&plan);
    plan = plan_of(b, 3, 2, 1, 1, RETENTION_DELETE_MANUAL);
    assert_int_equal(plan.refusal, RETENTION_REFUSE_NONE);
    retention_delete_plan_reset(&plan);
    plan = plan_of(b, 3, 1, 5, 1, RETENTION_DELETE_MANUAL);
    assert_int_equal(plan.refusal, RETENTION_REFUSE_NONE);
    retention_delete_plan_reset(&plan);
}

static void
test_retention_plan_keeps_odd_names(void **state)
{
    struct retention_delete_plan plan;

    (void) state;
    retention_plan_first_backup("000000010000000000000008", &plan);
    assert_true(retention_plan_keeps_wal(&plan, "not-a-wal"));
    assert_true(retention_plan_keeps_wal(&plan, "00000005.history"));
    assert_false(retention_plan_keeps_wal(&plan, "000000010000000000000007.partial"));
    assert_false(retention_plan_keeps_wal(&plan, "000000010000000000000007.00000028.backup"));
    assert_true(retention_plan_keeps_wal(&plan, "000000010000000000000008.00000028.backup"));
    assert_true(retention_plan_keeps_wal(&plan, "000000010000000000000008"));
    retention_delete_plan_reset(&plan);
}

static void
test_retention_obsolete_order(void **state)
{
    const enum retention_status labels[] = {RETENTION_STATUS_OBSOLETE, RETENTION_STATUS_POTENTIALLY_OBSOLETE,
                                            RETENTION_STATUS_OBSOLETE, RETENTION_STATUS_KEEP_FULL,
                                            RETENTION_STATUS_NONE, RETENTION_STATUS_VALID};
    size_t idx[6];

    (void) state;
    assert_int_equal(retention_obsolete(labels, 6, idx), 2);
    assert_int_equal(idx[0], 0);
    assert_int_equal(idx[1], 2);
}

/* ---- months of nightly backups: cron after cron (7.7), backups AND WAL ---- */

#define SIM_DAYS 400
#define SIM_SEGS_PER_DAY 4
#define SIM_MAX_WAL (SIM_DAYS * (SIM_SEGS_PER_DAY + 1) + 4)

struct sim {
    size_t n;
    struct retention_backup b[SIM_DAYS];
    char id[SIM_DAYS][16];
    char begin[SIM_DAYS][25];
    size_t n_wal;
    char wal[SIM_MAX_WAL][48];
    int present[SIM_MAX_WAL];
    uint64_t wal_seg[SIM_MAX_WAL];      /* segment number; UINT64_MAX for the history file */
    uint64_t begin_seg[SIM_DAYS];
};

static void
sim_add_wal(struct sim *s, uint64_t seg, const char *suffix)
{
    char name[32];

    xlog_segment_name(1, seg, XLOG_DEFAULT_SEGMENT_SIZE, name);
    snprintf(s->wal[s->n_wal], sizeof(s->wal[0]), "%s%s", name, suffix);
    s->wal_seg[s->n_wal] = seg;
    s->present[s->n_wal++] = 1;
}

/*
 * Day d: WAL segments 4d .. 4d+3 are archived; the nightly backup of day d
 * begins and ends in segment 4d+1 (begin_wal = end_wal), its .backup file is
 * archived, and it ends at midnight of day d. failed(d) marks FAILED ones.
 */
static void
sim_day(struct sim *s, int day, int failed, enum retention_keep keep)
{
    struct retention_backup *b = &s->b[s->n];
    uint64_t seg = (uint64_t) day * SIM_SEGS_PER_DAY;

    for (int i = 0; i < SIM_SEGS_PER_DAY; i++) {
        sim_add_wal(s, seg + (uint64_t) i, "");
        if (i == 1 && !failed)
            sim_add_wal(s, seg + 1, ".00000028.backup");
    }
    snprintf(s->id[s->n], sizeof(s->id[0]), "day%03d", day);
    xlog_segment_name(1, seg + 1, XLOG_DEFAULT_SEGMENT_SIZE, s->begin[s->n]);
    s->begin_seg[s->n] = seg + 1;
    memset(b, 0, sizeof(*b));
    b->status = failed ? BACKUP_STATUS_FAILED : BACKUP_STATUS_DONE;
    b->end_time_set = !failed;
    b->end_time_usec = (int64_t) day * DAY_USEC;
    b->keep = keep;
    b->backup_id = s->id[s->n];
    b->begin_wal = s->begin[s->n];
    b->end_wal = failed ? NULL : s->begin[s->n];
    b->timeline = 1;
    s->n++;
}

/* `barrel backup` of the first backup: the WAL before it goes (spec 4.8). */
static void
sim_first_backup_purge(struct sim *s)
{
    struct retention_delete_plan plan;

    for (size_t i = 0; i < s->n; i++) {
        if (s->b[i].status != BACKUP_STATUS_DONE)
            continue;
        retention_plan_first_backup(s->b[i].begin_wal, &plan);
        for (size_t w = 0; w < s->n_wal; w++)
            if (!retention_plan_keeps_wal(&plan, s->wal[w]))
                s->present[w] = 0;
        retention_delete_plan_reset(&plan);
        return;
    }
}

/* One `cron`: label once, delete the OBSOLETE backups oldest first, each with its WAL. Returns deletions. */
static int
sim_cron(struct sim *s, const struct retention_policy *policy, int minred, int64_t now_usec)
{
    enum retention_status labels[SIM_DAYS];
    size_t idx[SIM_DAYS];
    size_t n_obsolete;
    int deleted = 0;

    retention_evaluate(s->b, s->n, policy, minred, now_usec, labels);
    n_obsolete = retention_obsolete(labels, s->n, idx);
    for (size_t k = 0; k < n_obsolete; k++) {
        struct retention_delete_plan plan;

        retention_plan_delete(s->b, s->n, idx[k], minred, 1, RETENTION_DELETE_POLICY, &plan);
        if (plan.refusal == RETENTION_REFUSE_NONE) {
            for (size_t w = 0; w < s->n_wal; w++)
                if (s->present[w] && !retention_plan_keeps_wal(&plan, s->wal[w]))
                    s->present[w] = 0;
            s->b[idx[k]].gone = 1;
            deleted++;
        }
        retention_delete_plan_reset(&plan);
    }
    return deleted;
}

/* Safety after every cron: what must never go. */
static void
sim_check_safety(const struct sim *s, int minred)
{
    size_t newest_done = SIZE_MAX;
    int done_left = 0, done_total = 0;

    for (size_t i = 0; i < s->n; i++) {
        if (s->b[i].status != BACKUP_STATUS_DONE)
            continue;
        newest_done = i;
        done_total++;
        if (!s->b[i].gone)
            done_left++;
    }
    /* the newest backup is never removed; minimum_redundancy holds */
    if (newest_done != SIZE_MAX)
        assert_false(s->b[newest_done].gone);
    assert_true(done_left >= (minred < done_total ? minred : done_total));
    for (size_t i = 0; i < s->n; i++) {
        const struct retention_backup *b = &s->b[i];

        /* kept and FAILED backups are never touched by retention */
        if (b->keep != RETENTION_KEEP_NONE || b->status != BACKUP_STATUS_DONE)
            assert_false(b->gone);
        if (b->gone || b->status != BACKUP_STATUS_DONE)
            continue;
        for (size_t w = 0; w < s->n_wal; w++) {
            /* KEEP:STANDALONE: its own range; any other backup: everything from its begin_wal to the present */
            int needed = b->keep == RETENTION_KEEP_STANDALONE ? s->wal_seg[w] == s->begin_seg[i]
                                                               : s->wal_seg[w] >= s->begin_seg[i];
            if (needed && !s->present[w])
                fail_msg("%s is gone but backup %s needs it", s->wal[w], b->backup_id);
        }
    }
}

/* Exactness for catalogs without keeps: WAL from the oldest remaining DONE backup's begin_wal on, nothing before. */
static void
sim_check_exact_wal(const struct sim *s)
{
    uint64_t oldest = UINT64_MAX;

    for (size_t i = 0; i < s->n; i++)
        if (!s->b[i].gone && s->b[i].status == BACKUP_STATUS_DONE && s->begin_seg[i] < oldest)
            oldest = s->begin_seg[i];
    for (size_t w = 0; w < s->n_wal; w++) {
        int want = s->wal_seg[w] == UINT64_MAX || s->wal_seg[w] >= oldest;

        if (s->present[w] != want)
            fail_msg("%s: expected %s", s->wal[w], want ? "present" : "removed");
    }
}

static struct sim *
sim_new(void)
{
    struct sim *s = calloc(1, sizeof(*s));

    assert_non_null(s);
    snprintf(s->wal[0], sizeof(s->wal[0]), "00000001.history");
    s->wal_seg[0] = UINT64_MAX;
    s->present[0] = 1;
    s->n_wal = 1;
    return s;
}

static void
test_retention_sim_redundancy_months(void **state)
{
    /*
     * REDUNDANCY 7, minimum_redundancy 2, 400 nights, one FAILED backup every
     * 10th night. Worked by hand: after each cron exactly the 7 newest DONE
     * backups remain (plus every FAILED one, which retention never touches),
     * and the WAL is exactly segment >= the oldest remaining begin_wal, the
     * history file included.
     */
    const struct retention_policy red7 = {RETENTION_REDUNDANCY, 7, RETENTION_DAYS};
    struct sim *s = sim_new();

    (void) state;
    for (int day = 0; day < SIM_DAYS; day++) {
        int left = 0;

        sim_day(s, day, day % 10 == 9, RETENTION_KEEP_NONE);
        if (day == 0)
            sim_first_backup_purge(s);
        sim_cron(s, &red7, 2, (int64_t) day * DAY_USEC + DAY_USEC / 2);
        sim_check_safety(s, 2);
        sim_check_exact_wal(s);
        for (size_t i = s->n; i-- > 0;) {
            if (s->b[i].status != BACKUP_STATUS_DONE) {
                assert_false(s->b[i].gone);
                continue;
            }
            left++;
            assert_int_equal(s->b[i].gone, left > 7);
        }
    }
    free(s);
}

static void
test_retention_sim_window_months(void **state)
{
    /*
     * RECOVERY WINDOW OF 2 WEEKS, minimum_redundancy 2, backups at midnight
     * every night, cron at noon (the window start is then noon of 14 days
     * ago): the remaining DONE backups are the ones of the last 14 nights
     * plus the one before (it recovers to the window start), i.e. the 15
     * newest DONE nights. Then cron runs again exactly at midnight, where
     * the window start equals a backup's end_time: that backup is inside the
     * window (strict <), so one more, older backup is kept.
     */
    const struct retention_policy win2w = {RETENTION_WINDOW, 2, RETENTION_WEEKS};
    struct sim *s = sim_new();

    (void) state;
    for (int day = 0; day < 200; day++) {
        sim_day(s, day, 0, RETENTION_KEEP_NONE);
        if (day == 0)
            sim_first_backup_purge(s);
        sim_cron(s, &win2w, 2, (int64_t) day * DAY_USEC + DAY_USEC / 2);
        sim_check_safety(s, 2);
        sim_check_exact_wal(s);
        for (size_t i = 0; i < s->n; i++)
            assert_int_equal(s->b[i].gone, (int) i < day - 14);
    }
    /*
     * Boundary: cron at midnight of day 214 with one more backup, night 200.
     * The window starts at midnight of day 200, exactly night 200's end_time:
     * not strictly before, so night 200 is inside the window and the search
     * goes on to night 199, the newest backup ending strictly before the
     * start. Nights 199 and 200 stay, everything older goes.
     */
    sim_day(s, 200, 0, RETENTION_KEEP_NONE);
    sim_cron(s, &win2w, 2, (int64_t) 214 * DAY_USEC);
    for (size_t i = 0; i < s->n; i++)
        assert_int_equal(s->b[i].gone, i < 199);
    sim_check_exact_wal(s);
    free(s);
}

static void
test_retention_sim_keeps_and_failures(void **state)
{
    /*
     * REDUNDANCY 3 over 300 nights with a KEEP:STANDALONE on nights 22 and
     * 122, a KEEP:FULL on night 150, FAILED every 7th night. Worked by hand:
     *  - before night 150, WAL older than the 3 newest is removed except the
     *    standalone nights' own segment (4d+1): the standalone ones never
     *    block retention's WAL cleanup;
     *  - from night 150 on, the KEEP:FULL backup is an older non-standalone
     *    backup of every later one: no WAL from its begin_wal on ever goes
     *    again, while backups keep being deleted (3 newest + the kept ones).
     */
    const struct retention_policy red3 = {RETENTION_REDUNDANCY, 3, RETENTION_DAYS};
    struct sim *s = sim_new();

    (void) state;
    for (int day = 0; day < 300; day++) {
        enum retention_keep keep = day == 22 || day == 122 ? RETENTION_KEEP_STANDALONE
                                 : day == 150 ? RETENTION_KEEP_FULL : RETENTION_KEEP_NONE;
        int failed = day % 7 == 6;

        sim_day(s, day, failed, failed ? RETENTION_KEEP_NONE : keep);
        if (day == 0)
            sim_first_backup_purge(s);
        sim_cron(s, &red3, 0, (int64_t) day * DAY_USEC + DAY_USEC / 2);
        sim_check_safety(s, 0);

        if (day == 149) {
            /* the standalone nights keep exactly their own segment (and .backup file) before the 3 newest */
            uint64_t oldest = UINT64_MAX;

            for (size_t i = 0; i < s->n; i++)
                if (!s->b[i].gone && s->b[i].keep == RETENTION_KEEP_NONE && s->b[i].status == BACKUP_STATUS_DONE
                    && s->begin_seg[i] < oldest)
                    oldest = s->begin_seg[i];
            for (size_t w = 0; w < s->n_wal; w++) {
                uint64_t seg = s->wal_seg[w];
                int want = seg == UINT64_MAX || seg >= oldest || seg == 22 * 4 + 1 || seg == 122 * 4 + 1;

                if (s->present[w] != want)
                    fail_msg("night 149: %s expected %s", s->wal[w], want ? "present" : "removed");
            }
        }
    }
    /* after 300 nights: every segment from night 150's begin_wal to now is there, nothing before but the ranges */
    for (size_t w = 0; w < s->n_wal; w++) {
        uint64_t seg = s->wal_seg[w];
        int want = seg == UINT64_MAX || seg >= 150 * 4 + 1 || seg == 22 * 4 + 1 || seg == 122 * 4 + 1;

        if (s->present[w] != want)
            fail_msg("night 299: %s expected %s", s->wal[w], want ? "present" : "removed");
    }
    /* the backups left: the kept ones, every FAILED one, the 3 newest DONE */
    {
        int done_left = 0;

        for (size_t i = 0; i < s->n; i++) {
            if (s->b[i].gone)
                continue;
            if (s->b[i].status == BACKUP_STATUS_DONE && s->b[i].keep == RETENTION_KEEP_NONE)
                done_left++;
        }
        /* 3 slots, of which none is used by a kept backup once they are older than the 3 newest */
        assert_int_equal(done_left, 3);
    }
    free(s);
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
        cmocka_unit_test(test_retention_plan_delete_fixture_oldest),
        cmocka_unit_test(test_retention_plan_delete_middle_keeps_wal),
        cmocka_unit_test(test_retention_plan_delete_failed_predecessor_ignored),
        cmocka_unit_test(test_retention_plan_delete_keep_full_predecessor),
        cmocka_unit_test(test_retention_plan_delete_standalone_predecessors),
        cmocka_unit_test(test_retention_plan_delete_last_backup),
        cmocka_unit_test(test_retention_plan_delete_protected_timelines),
        cmocka_unit_test(test_retention_plan_delete_refusals),
        cmocka_unit_test(test_retention_plan_keeps_odd_names),
        cmocka_unit_test(test_retention_obsolete_order),
        cmocka_unit_test(test_retention_sim_redundancy_months),
        cmocka_unit_test(test_retention_sim_window_months),
        cmocka_unit_test(test_retention_sim_keeps_and_failures),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
