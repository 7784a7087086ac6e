/*
 * test_restore_stager.c: the restore_command script of recover
 * --background-wal (restore_stager.c), run by sh against processes the test
 * controls: it waits while the stager lives and the segment's marker is
 * there, copies the complete file once the marker is gone, and fails at
 * once, naming the stager, when the stager is dead, a zombie or another
 * process under the same pid. No timing is asserted: each wait is a
 * condition polled until it holds.
 */
#include "barrel/build.h"
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "barrel/mem.h"
#include "barrel/restore.h"
#include "harness.h"

#define SEG "000000010000000000000042"

static void
pause_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A child that sleeps until killed. */
static pid_t
sleeper(void)
{
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        for (;;)
            pause();
    }
    return pid;
}

/* The script for (pid, its start time) written as barman_wal/.barrel-wait-wal under a new directory. */
static char *
setup_dir(long pid, const char *start)
{
    char *dir = h_mkdtemp();
    char *script = restore_stager_script(pid, start);
    char *path = br_asprintf("%s/barman_wal/.barrel-wait-wal", dir);
    struct h_result r = h_sh("mkdir -p '%s/barman_wal/.barrel-pending' '%s/pg_wal'", dir, dir);

    assert_int_equal(r.status, 0);
    h_result_free(&r);
    h_write_file(path, script);
    free(path);
    free(script);
    return dir;
}

/* sh barman_wal/.barrel-wait-wal SEG pg_wal/RECOVERYXLOG, in dir, in the background */
static pid_t
run_script(const char *dir, const char *seg)
{
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        char *err = br_asprintf("%s/script.err", dir);
        if (chdir(dir) != 0 || freopen(err, "w", stderr) == NULL)
            _exit(99);
        execl("/bin/sh", "sh", "barman_wal/.barrel-wait-wal", seg, "pg_wal/RECOVERYXLOG", (char *) NULL);
        _exit(98);
    }
    return pid;
}

static int
exit_status(pid_t pid)
{
    int st;

    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void
test_stager_start_time_matches_proc(void **state)
{
    pid_t child = sleeper();
    char start[32];
    struct h_result r;
    (void) state;

    assert_int_equal(restore_stager_start_time((long) child, start, sizeof(start)), 0);
    r = h_sh("cut -d' ' -f22 /proc/%ld/stat | tr -d '\\n'", (long) child);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, start);
    h_result_free(&r);
    assert_int_equal(restore_stager_start_time(0x7ffffff0L, start, sizeof(start)), -1);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
}

static void
test_stager_script_waits_then_copies(void **state)
{
    pid_t stager = sleeper(), script;
    char start[32];
    char *dir, *out;
    struct h_result r;
    (void) state;

    assert_int_equal(restore_stager_start_time((long) stager, start, sizeof(start)), 0);
    dir = setup_dir((long) stager, start);
    r = h_sh("cd '%s' && : > barman_wal/.barrel-pending/" SEG, dir);
    h_result_free(&r);
    script = run_script(dir, SEG);
    /* give the script time to look a few times: it must still be waiting (a wrong verdict exits at once) */
    pause_ms(300);
    assert_int_equal(waitpid(script, NULL, WNOHANG), 0);
    /* the stager's order: the complete file under its final name, then the marker goes */
    r = h_sh("cd '%s' && printf 'segment bytes' > barman_wal/" SEG ".tmp && mv barman_wal/" SEG ".tmp barman_wal/" SEG
             " && rm barman_wal/.barrel-pending/" SEG, dir);
    assert_int_equal(r.status, 0);
    h_result_free(&r);
    assert_int_equal(exit_status(script), 0);
    out = br_asprintf("%s/pg_wal/RECOVERYXLOG", dir);
    {
        char *text = h_read_file(out);
        assert_non_null(text);
        assert_string_equal(text, "segment bytes");
        free(text);
    }
    /* same file system, same owner: a hard link, not a copy */
    r = h_sh("cd '%s' && test \"$(stat -c %%i barman_wal/" SEG ")\" = \"$(stat -c %%i pg_wal/RECOVERYXLOG)\"", dir);
    assert_int_equal(r.status, 0);
    h_result_free(&r);
    /* where no link can be made (pg_wal on another file system): a copy of the same bytes */
    r = h_sh("cd '%s' && d=$(mktemp -d /dev/shm/barrel-stager-XXXXXX) && rm -f pg_wal/RECOVERYXLOG && rmdir pg_wal "
             "&& ln -s \"$d\" pg_wal && echo \"$d\"", dir);
    if (r.status == 0) {
        char *other = br_strndup(r.out, strcspn(r.out, "\n"));
        h_result_free(&r);
        script = run_script(dir, SEG);
        assert_int_equal(exit_status(script), 0);
        r = h_sh("cd '%s' && cmp barman_wal/" SEG " pg_wal/RECOVERYXLOG && "
                 "test \"$(stat -c %%i barman_wal/" SEG ")\" != \"$(stat -Lc %%i pg_wal/RECOVERYXLOG)\"", dir);
        assert_int_equal(r.status, 0);
        h_rmtree(other);
        free(other);
    } else {
        print_message("no /dev/shm: the copy fallback is not exercised\n");
    }
    h_result_free(&r);
    free(out);
    /* no marker: a missing file fails as cp fails (PostgreSQL's end of the archive) */
    script = run_script(dir, "00000002.history");
    assert_int_equal(exit_status(script), 1);
    kill(stager, SIGKILL);
    waitpid(stager, NULL, 0);
    h_rmtree(dir);
    free(dir);
}

static void
check_fails_at_once(long pid, const char *start)
{
    char *dir = setup_dir(pid, start);
    char *errp = br_asprintf("%s/script.err", dir);
    char *err;
    struct h_result r = h_sh("cd '%s' && : > barman_wal/.barrel-pending/" SEG, dir);
    pid_t script;

    h_result_free(&r);
    script = run_script(dir, SEG);
    assert_int_equal(exit_status(script), 1);
    err = h_read_file(errp);
    assert_non_null(err);
    if (strstr(err, "stopped before staging " SEG) == NULL || strstr(err, "Run barrel recover again") == NULL)
        fail_msg("stderr: %s", err);
    free(err);
    r = h_sh("test ! -e '%s/pg_wal/RECOVERYXLOG'", dir);
    assert_int_equal(r.status, 0);
    h_result_free(&r);
    h_rmtree(dir);
    free(errp);
    free(dir);
}

static void
test_stager_script_fails_when_stager_is_gone(void **state)
{
    pid_t stager = sleeper(), other;
    char start[32];
    (void) state;

    assert_int_equal(restore_stager_start_time((long) stager, start, sizeof(start)), 0);
    /* a zombie (killed, not reaped) is dead */
    kill(stager, SIGKILL);
    for (int i = 0; i < 200; i++) {
        struct h_result r = h_sh("cut -d' ' -f3 /proc/%ld/stat | tr -d '\\n'", (long) stager);
        int zombie = r.status == 0 && strcmp(r.out, "Z") == 0;
        h_result_free(&r);
        if (zombie)
            break;
        pause_ms(50);
    }
    check_fails_at_once((long) stager, start);
    /* reaped: no such process */
    waitpid(stager, NULL, 0);
    check_fails_at_once((long) stager, start);
    /* a live process whose start time differs: a reused pid */
    other = sleeper();
    check_fails_at_once((long) other, "1");
    kill(other, SIGKILL);
    waitpid(other, NULL, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stager_start_time_matches_proc),
        cmocka_unit_test(test_stager_script_waits_then_copies),
        cmocka_unit_test(test_stager_script_fails_when_stager_is_gone),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
