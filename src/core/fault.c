/*
 * fault.c: test-only kill points (see fault.h).
 *
 * Inert by default: one relaxed atomic load per point when no variable was
 * set. With BARREL_FAULT_KILL_AT the process kills itself with SIGKILL at
 * the chosen point, from whichever thread reaches it, so that nothing runs
 * after it: no atexit handler, no stage free, no unlink of a temporary file.
 */
#include "barrel/build.h"
#include "barrel/fault.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

static pthread_once_t fault_once = PTHREAD_ONCE_INIT;
static atomic_int fault_armed;             /* 1 when either variable was set */
static atomic_long fault_count;
static long fault_kill_at;                 /* 0: never */
static char fault_trace_path[4096];

static void
fault_read_env(void)
{
    const char *at = getenv("BARREL_FAULT_KILL_AT");
    const char *trace = getenv("BARREL_FAULT_TRACE");

    if (at != NULL && at[0] != '\0') {
        char *end = NULL;
        long n = strtol(at, &end, 10);
        if (end != NULL && *end == '\0' && n > 0)
            fault_kill_at = n;
    }
    if (trace != NULL && trace[0] != '\0' && strlen(trace) < sizeof(fault_trace_path))
        memcpy(fault_trace_path, trace, strlen(trace) + 1);
    unsetenv("BARREL_FAULT_KILL_AT");
    unsetenv("BARREL_FAULT_TRACE");
    atomic_store(&fault_armed, fault_kill_at > 0 || fault_trace_path[0] != '\0');
}

void
fault_init(void)
{
    pthread_once(&fault_once, fault_read_env);
}

void
fault_point(const char *what)
{
    fault_init();
    if (!atomic_load_explicit(&fault_armed, memory_order_relaxed))
        return;

    long n = atomic_fetch_add(&fault_count, 1) + 1;

    if (fault_trace_path[0] != '\0') {
        char line[160];
        int len = snprintf(line, sizeof(line), "%ld %s\n", n, what);
        int fd = open(fault_trace_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd >= 0) {
            /* one short O_APPEND write: lines of concurrent threads never interleave */
            ssize_t w BR_UNUSED = write(fd, line, (size_t) len < sizeof(line) ? (size_t) len : sizeof(line) - 1);
            close(fd);
        }
    }
    if (n == fault_kill_at)
        raise(SIGKILL);
}
