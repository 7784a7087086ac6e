/*
 * test_network.c: connections cut and PostgreSQL stopped under barrel.
 *
 * barrel reaches the cluster only through a TCP proxy of the test
 * (tests/lib/tcpproxy.h, a thread on a free loopback port) that can cut
 * every open connection, cut them once a number of bytes has passed, or
 * freeze the server-to-client direction in the middle of a stream:
 *
 *   - a cut in the middle of BASE_BACKUP: `backup` exits 1 with one error
 *     line, backup.info FAILED with the cause, the partial data removed,
 *     the earlier DONE backups and archived WAL intact (verify-backup);
 *   - cuts at ten depths of one backup's traffic, from its first checks to
 *     its last bytes: Barman's "impossible to start the backup" line when
 *     the checks lose the server, else a FAILED backup as above, or, when
 *     the cut comes after the last query the backup needed, a whole one that
 *     verifies;
 *   - PostgreSQL stopped (pg_ctl stop -m fast) while the stream is frozen in
 *     the middle of BASE_BACKUP, then started again: the same, and the next
 *     backup succeeds;
 *   - receive-wal streaming through the proxy: every connection cut three
 *     times while it waits for WAL, twice in the middle of a 6 MB burst of
 *     WAL, then PostgreSQL restarted once, a segment switched after each;
 *     the receiver reconnects by itself each time (with its back-off, the
 *     warnings in its output), stops cleanly, and archive-wal leaves
 *     xlog.db with every segment from the first streamed through the last
 *     one switched: no gap.
 */
#include "barrel/build.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "barrel/mem.h"
#include "barrel/strbuf.h"
#include "catalog_setup.h"
#include "catcheck.h"
#include "faultenv.h"
#include "harness.h"
#include "spawn.h"
#include "tcpproxy.h"

#define CUT_AFTER_BYTES (4LL * 1024 * 1024)      /* well inside the base backup stream (~30 MB) */
#define STREAM_TIMEOUT_MS 40000
#define RECEIVER_CUTS 3          /* cuts while the receiver waits for WAL */
#define RECEIVER_BURST_CUTS 2    /* cuts while WAL streams */

struct fixture {
    struct h_fenv *fe;
    struct h_proxy *proxy;
};

static char *g_skip_reason;

static struct fixture *
need_env(void **state)
{
    struct fixture *fx = *state;

    if (fx == NULL) {
        print_message("network tests skipped: %s\n", g_skip_reason != NULL ? g_skip_reason : "no environment");
        skip();
    }
    return fx;
}

static int
count_substr(const char *text, const char *needle)
{
    int n = 0;

    for (const char *p = text; p != NULL && (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* The newest backup ID of server pg (new string). */
static char *
newest_backup(const struct fixture *fx)
{
    struct h_result r = h_sh("ls '%s/pg/base' | tail -1", fx->fe->home);
    char *id = br_strndup(r.out, strcspn(r.out, "\n"));

    h_result_free(&r);
    return id;
}

/*
 * After a backup that a fault interrupted: status 1 and one error line;
 * one new backup FAILED with the cause, its data gone (or, when the fault
 * came during the checks, no backup at all and Barman's "impossible to
 * start" line); the earlier DONE backups and WAL all there and verified.
 */
static void
assert_failed_cleanly(const struct fixture *fx, const struct h_catalog *before, int status, const char *err_text,
                      const char *when)
{
    struct h_catalog after;
    char *id, *st, *error, *data, *expect;

    if (status != 1)
        fail_msg("backup %s: status %d, expected 1; stderr:\n%s", when, status, err_text);
    h_fenv_check_catalog(fx->fe, "pg", &after, when);
    /* cut during the checks, before any backup.info: Barman's "impossible to start" line, nothing written */
    if (after.n_backups == before->n_backups) {
        const char *start = "ERROR: impossible to start the backup of server 'pg': ";

        if (strncmp(err_text, start, strlen(start)) != 0 || strstr(err_text, "connection") == NULL
            || strchr(err_text, '\n') == NULL || strchr(err_text, '\n')[1] != '\0')
            fail_msg("backup %s created no backup; expected one line starting \"%s\" about the connection, got:\n%s",
                     when, start, err_text);
        if (after.n_done != before->n_done || after.n_wals < before->n_wals)
            fail_msg("backups or WAL lost %s", when);
        print_message("%s: %s", when, err_text);
        h_catalog_free(&after);
        return;
    }
    if (after.n_backups != before->n_backups + 1)
        fail_msg("%zu backups %s, expected %zu", after.n_backups, when, before->n_backups + 1);
    id = newest_backup(fx);
    /* one line, saying which backup failed and why */
    expect = br_asprintf("ERROR: backup %s of server 'pg' failed ", id);
    if (strncmp(err_text, expect, strlen(expect)) != 0 || strchr(err_text, '\n') == NULL
        || strchr(err_text, '\n')[1] != '\0')
        fail_msg("backup %s: expected one line starting \"%s\", got:\n%s", when, expect, err_text);
    /* and the cause: the connection */
    if (strstr(err_text, "connection") == NULL)
        fail_msg("backup %s: the error does not say that the connection was lost:\n%s", when, err_text);
    st = h_fenv_backup_field(fx->fe, "pg", id, "status");
    error = h_fenv_backup_field(fx->fe, "pg", id, "error");
    if (st == NULL || strcmp(st, "FAILED") != 0)
        fail_msg("backup %s %s: status=%s, expected FAILED", id, when, st != NULL ? st : "(missing)");
    if (error == NULL || error[0] == '\0')
        fail_msg("backup %s %s: no error in backup.info", id, when);
    data = br_asprintf("%s/pg/base/%s/data", fx->fe->home, id);
    if (access(data, F_OK) == 0)
        fail_msg("backup %s %s: its partial data is still there", id, when);
    for (size_t i = 0; i < before->n_wals; i++)
        if (!h_catalog_has_wal(&after, before->wal_names[i]))
            fail_msg("WAL %s lost %s", before->wal_names[i], when);
    if (after.n_done != before->n_done)
        fail_msg("%zu DONE backups %s, expected %zu", after.n_done, when, before->n_done);
    h_fenv_verify_done(fx->fe, "pg", &after, when);
    print_message("%s: %s", when, err_text);
    free(data);
    free(error);
    free(st);
    free(expect);
    free(id);
    h_catalog_free(&after);
}

/* ---- setup ---- */

static int
group_setup(void **state)
{
    struct fixture *fx;
    char *why = NULL, *pg, *stream, *sections;
    struct h_fenv *fe = h_fenv_new(NULL, &why);
    int port;

    *state = NULL;
    if (fe == NULL) {
        int failed = strncmp(why, "error:", 6) == 0;

        fprintf(stderr, "network tests: %s\n", why);
        g_skip_reason = why;
        return failed ? -1 : 0;
    }
    fx = br_calloc(1, sizeof(*fx));
    fx->fe = fe;
    *state = fx;
    fx->proxy = h_proxy_start(fe->pg->port);
    if (fx->proxy == NULL)
        return -1;
    port = h_proxy_port(fx->proxy);
    /* both servers reach PostgreSQL through the proxy only */
    pg = h_fenv_section(fe, "pg", port, "compression = gzip\nbackup_compression = gzip\n"
                                        "immediate_checkpoint = true\n");
    stream = h_fenv_section(fe, "stream", port, "streaming_archiver = on\ncompression = gzip\n"
                                                "slot_name = barrel_network\ncreate_slot = auto\n");
    sections = br_asprintf("%s%s", pg, stream);
    h_fenv_write_conf(fe, sections);
    free(sections);
    free(stream);
    free(pg);

    /* one DONE backup, its WAL archived */
    h_fenv_seed_backup(fe, "pg");
    return 0;
}

static int
group_teardown(void **state)
{
    struct fixture *fx = *state;

    free(g_skip_reason);
    g_skip_reason = NULL;
    if (fx == NULL)
        return 0;
    h_spawn_kill_all();
    h_proxy_stop(fx->proxy);
    h_fenv_free(fx->fe);
    free(fx);
    return 0;
}

/* Whatever a test did to the proxy and the server, the next one starts with both up. */
static int
test_teardown(void **state)
{
    struct fixture *fx = *state;

    if (fx == NULL)
        return 0;
    h_spawn_kill_all();
    h_proxy_resume(fx->proxy);
    h_proxy_cut_after(fx->proxy, 1LL << 62);
    if (!fx->fe->pg->running)
        h_pg_restart(fx->fe->pg);
    return 0;
}

/* ---- a cut during backup ---- */

static void
test_network_cut_during_backup(void **state)
{
    struct fixture *fx = need_env(state);
    struct h_catalog before;
    struct h_result r;
    int cuts = h_proxy_cuts(fx->proxy);

    h_fenv_check_catalog(fx->fe, "pg", &before, "before the backup");
    h_proxy_cut_after(fx->proxy, CUT_AFTER_BYTES);
    r = h_fenv_barrel(fx->fe, NULL, "backup pg", NULL);
    if (h_proxy_cuts(fx->proxy) == cuts)
        fail_msg("the proxy cut nothing: the backup passed fewer than %lld bytes (status %d)", CUT_AFTER_BYTES,
                 r.status);
    assert_failed_cleanly(fx, &before, r.status, r.err, "after a cut during the backup");
    h_result_free(&r);
    h_catalog_free(&before);
}

/*
 * Cuts at several depths of one backup's traffic (measured on a clean
 * backup through the proxy): the connection checks, the start, the middle
 * of the stream, its end, the stop. Each backup either fails cleanly (one
 * line; FAILED with the cause when backup.info had been written), or, when
 * the cut came after the last byte it needed, is whole and verifies.
 */
static void
test_network_cut_sweep(void **state)
{
    struct fixture *fx = need_env(state);
    /* bytes from the start (> 0) or before the end (<= 0) of the backup's traffic */
    static const long long depths[] = {60, 400, 1500, 4000, 1000000, -200000, -3000, -300, -40, -5};
    struct h_catalog before;
    long long start, total;
    int failed = 0, whole = 0;

    start = h_proxy_bytes(fx->proxy);
    h_ok("a clean backup through the proxy", h_fenv_barrel(fx->fe, NULL, "backup pg", NULL));
    total = h_proxy_bytes(fx->proxy) - start;
    print_message("one backup: %lld bytes from the server\n", total);
    for (size_t i = 0; i < BR_ARRAY_LEN(depths); i++) {
        long long at = depths[i] > 0 ? depths[i] : total + depths[i];
        int cuts = h_proxy_cuts(fx->proxy);
        char *when = br_asprintf("after a cut at %lld of %lld bytes", at, total);
        struct h_result r;

        h_fenv_check_catalog(fx->fe, "pg", &before, "before the backup");
        h_proxy_cut_after(fx->proxy, at > 0 ? at : 1);
        r = h_fenv_barrel(fx->fe, NULL, "backup pg", NULL);
        h_proxy_cut_after(fx->proxy, 1LL << 62);
        print_message("%s: status %d, %s", when, r.status,
                      r.status != 0 ? r.err
                      : h_proxy_cuts(fx->proxy) == cuts ? "backup whole (it ended before that byte)\n"
                                                        : "backup whole (cut after its last query)\n");
        if (r.status == 0) {
            struct h_catalog after;

            h_fenv_check_catalog(fx->fe, "pg", &after, when);
            if (after.n_backups != before.n_backups + 1)
                fail_msg("backup succeeded %s but made no backup", when);
            h_fenv_verify_done(fx->fe, "pg", &after, when);
            whole++;
            h_catalog_free(&after);
        } else {
            if (h_proxy_cuts(fx->proxy) == cuts)
                fail_msg("backup failed %s, but nothing was cut: %s", when, r.err);
            assert_failed_cleanly(fx, &before, r.status, r.err, when);
            failed++;
        }
        h_result_free(&r);
        h_catalog_free(&before);
        free(when);
    }
    print_message("cut sweep: %d failed cleanly, %d whole\n", failed, whole);
}

/* ---- PostgreSQL stopped during backup ---- */

static void
test_network_pg_stop_during_backup(void **state)
{
    struct fixture *fx = need_env(state);
    char *log = br_asprintf("%s/backup-stop.log", fx->fe->tmp), *text;
    char *errlog = br_asprintf("%s/backup-stop.err", fx->fe->tmp);
    struct h_catalog before, after;
    pid_t pid;
    int status;

    h_fenv_check_catalog(fx->fe, "pg", &before, "before the backup");
    h_proxy_pause_after(fx->proxy, CUT_AFTER_BYTES);
    pid = h_spawn_sh(log, "'%s' -c '%s' backup pg 2>'%s'", h_barrel_bin(), fx->fe->conf, errlog);
    for (int waited = 0; !h_proxy_paused(fx->proxy); waited += 20) {
        if (waited > 30000 || !h_spawn_running(pid)) {
            text = h_read_file(log);
            fail_msg("the backup never reached %lld bytes: %s", CUT_AFTER_BYTES, text != NULL ? text : "");
        }
        h_sleep_ms(20);
    }
    /* the stream is frozen in the middle: the server goes away under it */
    if (h_pg_stop(fx->fe->pg) != 0)
        fail_msg("pg_ctl stop failed while a backup was streaming");
    h_proxy_resume(fx->proxy);
    status = h_spawn_wait(pid, 30000);
    text = h_read_file(errlog);
    if (status == -1)
        fail_msg("backup still runs 30 s after PostgreSQL stopped: %s", text != NULL ? text : "");
    assert_failed_cleanly(fx, &before, status, text != NULL ? text : "", "after PostgreSQL stopped during the backup");
    free(text);

    /* the server back: the next backup succeeds */
    if (h_pg_restart(fx->fe->pg) != 0)
        fail_msg("PostgreSQL did not start again");
    h_ok("backup after the restart", h_fenv_barrel(fx->fe, NULL, "backup --wait pg", NULL));
    h_fenv_check_catalog(fx->fe, "pg", &after, "after the next backup");
    assert_int_equal(after.n_done, before.n_done + 1);
    h_fenv_verify_done(fx->fe, "pg", &after, "after the next backup");
    h_catalog_free(&after);
    h_catalog_free(&before);
    free(errlog);
    free(log);
}

/* ---- receive-wal through cuts and a restart ---- */

static void
test_network_receive_wal(void **state)
{
    struct fixture *fx = need_env(state);
    struct h_catalog cat;
    pid_t pid;
    char *closed, *first, *gap, *log;
    int reconnects;

    pid = h_fenv_receiver_start(fx->fe, "stream", NULL);
    first = h_fenv_stream_switch(fx->fe, "stream", pid, STREAM_TIMEOUT_MS, "at the start");
    for (int i = 0; i < RECEIVER_CUTS; i++) {
        char *when = br_asprintf("after cut %d", i + 1);

        /* the receiver's connection is open (it just streamed): cut it */
        if (h_proxy_cut(fx->proxy) < 1)
            fail_msg("no connection to cut %s", when);
        free(h_fenv_stream_switch(fx->fe, "stream", pid, STREAM_TIMEOUT_MS, when));
        free(when);
    }
    /* cuts in the middle of a burst of WAL (6 MB of rows), not at an idle moment */
    for (int i = 0; i < RECEIVER_BURST_CUTS; i++) {
        char *when = br_asprintf("after a cut in the middle of burst %d", i + 1);
        int cuts = h_proxy_cuts(fx->proxy);

        h_proxy_cut_after(fx->proxy, (long long) (i + 1) * 1024 * 1024);
        free(h_fenv_sql(fx->fe, "INSERT INTO marks SELECT g, repeat('y', 1500) FROM generate_series(1, 4000) g"));
        free(h_fenv_stream_switch(fx->fe, "stream", pid, STREAM_TIMEOUT_MS, when));
        if (h_proxy_cuts(fx->proxy) == cuts)
            fail_msg("the burst of WAL passed without the cut %s", when);
        free(when);
    }
    h_proxy_cut_after(fx->proxy, 1LL << 62);
    if (h_pg_restart(fx->fe->pg) != 0)
        fail_msg("pg_ctl restart failed");
    closed = h_fenv_stream_switch(fx->fe, "stream", pid, STREAM_TIMEOUT_MS, "after the restart");
    h_fenv_stream_settle(fx->fe, "stream", pid, STREAM_TIMEOUT_MS, "after the restart");
    h_fenv_receiver_stop(fx->fe, "stream", pid, "after the cuts and the restart");
    log = h_fenv_receiver_log(fx->fe, "stream");
    reconnects = count_substr(log, "; reconnecting in ");
    print_message("receive-wal: %d cuts and a restart, %d reconnections, %s .. %s streamed\n",
                  RECEIVER_CUTS + RECEIVER_BURST_CUTS, reconnects, first, closed);
    for (const char *line = log; line != NULL && *line != '\0';) {
        size_t len = strcspn(line, "\n");

        if (memmem(line, len, "reconnecting in", 15) != NULL)
            print_message("  %.*s\n", (int) len, line);
        line += len + (line[len] == '\n');
    }
    if (reconnects < RECEIVER_CUTS + RECEIVER_BURST_CUTS + 1)
        fail_msg("receive-wal reconnected %d times, expected at least %d; its output:\n%s", reconnects,
                 RECEIVER_CUTS + RECEIVER_BURST_CUTS + 1, log);

    h_ok("archive-wal stream", h_fenv_barrel(fx->fe, NULL, "archive-wal stream", NULL));
    h_fenv_check_catalog(fx->fe, "stream", &cat, "after receive-wal through cuts and a restart");
    if (!h_catalog_has_wal(&cat, first))
        fail_msg("the first segment streamed, %s, is not archived", first);
    gap = h_fenv_wal_gap(&cat, closed);
    if (gap != NULL)
        fail_msg("WAL sequence broken after the cuts and the restart:\n%s\nreceive-wal said:\n%s", gap, log);
    h_catalog_free(&cat);
    free(log);
    free(closed);
    free(first);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_network_cut_during_backup, test_teardown),
        cmocka_unit_test_teardown(test_network_cut_sweep, test_teardown),
        cmocka_unit_test_teardown(test_network_pg_stop_during_backup, test_teardown),
        cmocka_unit_test_teardown(test_network_receive_wal, test_teardown),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
