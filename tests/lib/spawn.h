/*
 * spawn.h: background processes for the tests (a receiver that streams while
 * the test generates WAL, a backup that a fault interrupts).
 *
 * Every process started here is remembered and killed (SIGKILL, then
 * reaped) by h_spawn_kill_all(), which an atexit handler also runs, so that
 * a failing test leaves nothing behind.
 */
#ifndef BARREL_TEST_SPAWN_H
#define BARREL_TEST_SPAWN_H

#include "barrel/build.h"
#include <sys/types.h>

/*
 * `sh -c "exec env CMD"` in the background (CMD may start with VAR=value), stdin from /dev/null, stdout and
 * stderr appended to logfile; the pid is the command's own. -1 on failure.
 */
pid_t h_spawn_sh(const char *logfile, const char *fmt, ...) BR_PRINTF(2, 3);
/* Wait up to timeout_ms: the status as h_result has it (exit code, or 128+signal), -1 if still running. */
int   h_spawn_wait(pid_t pid, int timeout_ms);
/* 1 while pid runs (it has not exited; its status is left for h_spawn_wait). */
int   h_spawn_running(pid_t pid);
/* SIGKILL and reap every process still running. */
void  h_spawn_kill_all(void);
void  h_sleep_ms(int ms);

#endif /* BARREL_TEST_SPAWN_H */
