/*
 * spawn.c: background processes for the tests (see spawn.h).
 */
#include "barrel/build.h"
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "barrel/mem.h"

#define MAX_SPAWNED 64

static pid_t g_spawned[MAX_SPAWNED];
static pid_t g_owner;

static void
forget(pid_t pid)
{
    for (int i = 0; i < MAX_SPAWNED; i++)
        if (g_spawned[i] == pid)
            g_spawned[i] = 0;
}

void
h_spawn_kill_all(void)
{
    if (g_owner != getpid())
        return;
    for (int i = 0; i < MAX_SPAWNED; i++) {
        if (g_spawned[i] > 0) {
            kill(g_spawned[i], SIGKILL);
            while (waitpid(g_spawned[i], NULL, 0) < 0 && errno == EINTR)
                ;
            g_spawned[i] = 0;
        }
    }
}

pid_t
h_spawn_sh(const char *logfile, const char *fmt, ...)
{
    va_list ap;
    char *cmd, *line;
    pid_t pid;

    if (g_owner == 0) {
        g_owner = getpid();
        atexit(h_spawn_kill_all);
    }
    va_start(ap, fmt);
    cmd = br_vasprintf(fmt, ap);
    va_end(ap);
    /* env: CMD may start with VAR=value assignments, which exec alone would take for the command */
    line = br_asprintf("exec env %s", cmd);
    free(cmd);
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        int fd = open(logfile, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int nul = open("/dev/null", O_RDONLY);

        signal(SIGPIPE, SIG_DFL);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (nul >= 0)
            dup2(nul, 0);
        execl("/bin/sh", "sh", "-c", line, (char *) NULL);
        _exit(127);
    }
    free(line);
    if (pid > 0) {
        for (int i = 0; i < MAX_SPAWNED; i++) {
            if (g_spawned[i] == 0) {
                g_spawned[i] = pid;
                break;
            }
        }
    }
    return pid;
}

int
h_spawn_wait(pid_t pid, int timeout_ms)
{
    for (int waited = 0;; waited += 20) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);

        if (r == pid) {
            forget(pid);
            if (WIFEXITED(status))
                return WEXITSTATUS(status);
            return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
        }
        if (r < 0 && errno != EINTR) {
            forget(pid);
            return -1;
        }
        if (waited >= timeout_ms)
            return -1;
        h_sleep_ms(20);
    }
}

int
h_spawn_running(pid_t pid)
{
    siginfo_t info;

    /* WNOWAIT: the status stays for h_spawn_wait() */
    memset(&info, 0, sizeof(info));
    if (pid <= 0 || waitid(P_PID, (id_t) pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0)
        return 0;
    return info.si_pid == 0;
}

void
h_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}
