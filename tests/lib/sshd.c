/*
 * sshd.c: the throwaway OpenSSH server declared in sshd.h.
 *
 * Like the PostgreSQL clusters of harness.c, every server is registered in
 * a list that an atexit handler and a fatal-signal handler clean (the
 * handler chains to whatever handler was installed before it, so the
 * clusters are cleaned too); sshd also gets PR_SET_PDEATHSIG so that it
 * dies with the test even on SIGKILL. Readiness is sshd's own "Server
 * listening on 127.0.0.1 port N" log line, not a TCP connect that could
 * reach another process holding the port; if the port was taken meanwhile
 * sshd exits and the start is retried on a new one.
 */
#include "barrel/build.h"
#include "sshd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "barrel/mem.h"
#include "harness.h"

#define SSHD_BIN         "/usr/sbin/sshd"
#define SSHD_MAX         8
#define SSHD_START_TRIES 5
#define SSHD_READY_MS    15000

static struct h_sshd *g_servers[SSHD_MAX];
static pid_t g_owner;
static volatile sig_atomic_t g_cleaning;
static struct sigaction g_old_actions[NSIG];

static void
sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Stop pid: SIGTERM, then SIGKILL after 5 s; reaps it. */
static void
kill_and_reap(pid_t pid)
{
    int status;

    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    for (int i = 0; i < 500; i++) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD))
            return;
        sleep_ms(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
}

static void
cleanup_all(void)
{
    if (g_cleaning || getpid() != g_owner)
        return;
    g_cleaning = 1;
    for (int i = 0; i < SSHD_MAX; i++) {
        if (g_servers[i] == NULL)
            continue;
        kill_and_reap(g_servers[i]->pid);
        g_servers[i]->pid = 0;
        h_rmtree(g_servers[i]->dir);
        g_servers[i] = NULL;
    }
    g_cleaning = 0;
}

static void
on_fatal_signal(int sig)
{
    cleanup_all();
    /* chain: the PostgreSQL harness (or the default action) comes next */
    if (g_old_actions[sig].sa_handler != SIG_IGN && g_old_actions[sig].sa_handler != SIG_DFL
        && g_old_actions[sig].sa_handler != on_fatal_signal) {
        g_old_actions[sig].sa_handler(sig);
        return;
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void
registry_init(void)
{
    static int done;
    static const int sigs[] = {SIGINT, SIGTERM, SIGABRT, SIGHUP};

    if (done)
        return;
    done = 1;
    g_owner = getpid();
    atexit(cleanup_all);
    for (size_t i = 0; i < BR_ARRAY_LEN(sigs); i++) {
        struct sigaction sa;

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_fatal_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(sigs[i], &sa, &g_old_actions[sigs[i]]);
    }
}

int
h_sshd_available(void)
{
    return access(SSHD_BIN, X_OK) == 0 && system("command -v ssh-keygen >/dev/null 2>&1") == 0;
}

static int
keygen(const char *path, const char *comment)
{
    struct h_result r = h_sh("rm -f '%s' '%s.pub' && ssh-keygen -q -t ed25519 -N '' -C '%s' -f '%s'", path, path,
                             comment, path);
    int rc = r.status == 0 ? 0 : -1;

    if (rc != 0)
        fprintf(stderr, "sshd harness: ssh-keygen failed: %s%s", r.out, r.err);
    h_result_free(&r);
    return rc;
}

/* known_hosts: "[127.0.0.1]:PORT <type> <key>" from the host's public key. */
static int
write_known_hosts(struct h_sshd *d)
{
    char *pub_path = br_asprintf("%s.pub", d->host_key);
    char *pub = h_read_file(pub_path);
    char *line;

    free(pub_path);
    if (pub == NULL) {
        fprintf(stderr, "sshd harness: no host public key\n");
        return -1;
    }
    line = br_asprintf("[127.0.0.1]:%d %s", d->port, pub);
    h_write_file(d->known_hosts, line);
    free(line);
    free(pub);
    return 0;
}

static int
write_config(struct h_sshd *d)
{
    char *text = br_asprintf("%sPort %d\n"
                             "ListenAddress 127.0.0.1\n"
                             "HostKey %s\n"
                             "PidFile %s/sshd.pid\n"
                             "AuthorizedKeysFile %s/authorized_keys\n"
                             "StrictModes no\n"
                             "UsePAM no\n"
                             "PasswordAuthentication no\n"
                             "KbdInteractiveAuthentication no\n"
                             "PubkeyAuthentication yes\n"
                             "PermitRootLogin prohibit-password\n"
                             "AllowUsers %s\n"
                             "Subsystem sftp internal-sftp\n"
                             "MaxStartups 50\n"
                             "MaxSessions 50\n"
                             "LogLevel VERBOSE\n",
                             d->overrides != NULL ? d->overrides : "", d->port, d->host_key, d->dir, d->dir,
                             d->user);

    h_write_file(d->config, text);
    free(text);
    return 0;
}

static int
chown_tree(const char *path, const char *user)
{
    struct h_result r = h_sh("chown -R '%s' '%s'", user, path);
    int rc = r.status == 0 ? 0 : -1;

    if (rc != 0)
        fprintf(stderr, "sshd harness: chown failed: %s", r.err);
    h_result_free(&r);
    return rc;
}

/* One start attempt on d->port: 0 when sshd says it listens, 1 when the port was taken, -1 otherwise. */
static int
start_once(struct h_sshd *d)
{
    struct passwd *pw = d->run_as != NULL ? getpwnam(d->run_as) : NULL;
    pid_t pid;
    char *want;
    int rc = -1;

    if (d->run_as != NULL && pw == NULL) {
        fprintf(stderr, "sshd harness: no user %s\n", d->run_as);
        return -1;
    }
    unlink(d->log);
    write_config(d);
    if (write_known_hosts(d) != 0)
        return -1;
    if (d->run_as != NULL && chown_tree(d->dir, d->run_as) != 0)
        return -1;
    /* the client side stays ours */
    if (d->run_as != NULL)
        chown_tree(d->home, "root");
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        fprintf(stderr, "sshd harness: fork: %s\n", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR);

        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (devnull >= 0) {
            dup2(devnull, 0);
            dup2(devnull, 1);
            dup2(devnull, 2);
        }
        signal(SIGPIPE, SIG_DFL);
        if (pw != NULL && (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0
                           || setuid(pw->pw_uid) != 0))
            _exit(126);
        execl(SSHD_BIN, SSHD_BIN, "-D", "-f", d->config, "-E", d->log, (char *) NULL);
        _exit(127);
    }
    d->pid = pid;
    want = br_asprintf("Server listening on 127.0.0.1 port %d", d->port);
    for (int waited = 0; waited < SSHD_READY_MS; waited += 20) {
        char *log = h_read_file(d->log);
        int status;

        if (waitpid(pid, &status, WNOHANG) == pid) {
            d->pid = 0;
            if (log != NULL && strstr(log, "Address already in use") != NULL)
                rc = 1;
            else
                fprintf(stderr, "sshd harness: sshd exited (status %d):\n%s\n", status, log ? log : "(no log)");
            free(log);
            break;
        }
        if (log != NULL && strstr(log, want) != NULL) {
            free(log);
            rc = 0;
            break;
        }
        free(log);
        sleep_ms(20);
    }
    if (rc == -1 && d->pid != 0) {
        fprintf(stderr, "sshd harness: sshd did not start listening in %d ms\n", SSHD_READY_MS);
        kill_and_reap(d->pid);
        d->pid = 0;
    }
    free(want);
    return rc;
}

static int
start_server(struct h_sshd *d, int keep_port)
{
    for (int attempt = 0; attempt < SSHD_START_TRIES; attempt++) {
        int rc;

        if (!keep_port || d->port <= 0)
            d->port = h_free_port();
        if (d->port <= 0) {
            fprintf(stderr, "sshd harness: no free port\n");
            return -1;
        }
        rc = start_once(d);
        if (rc == 0)
            return 0;
        if (rc < 0)
            return -1;
        if (keep_port)
            sleep_ms(200);
    }
    fprintf(stderr, "sshd harness: could not start sshd in %d tries\n", SSHD_START_TRIES);
    return -1;
}

static struct h_sshd *
start(const char *run_as)
{
    struct h_sshd *d = br_calloc(1, sizeof(*d));
    char *ssh_dir = NULL, *pub_path = NULL, *pub = NULL, *ak = NULL;
    int slot = -1;

    registry_init();
    for (int i = 0; i < SSHD_MAX && slot < 0; i++)
        if (g_servers[i] == NULL)
            slot = i;
    if (slot < 0) {
        fprintf(stderr, "sshd harness: more than %d servers\n", SSHD_MAX);
        free(d);
        return NULL;
    }
    d->dir = h_mkdtemp();
    if (d->dir == NULL) {
        free(d);
        return NULL;
    }
    g_servers[slot] = d;
    d->home = br_asprintf("%s/home", d->dir);
    d->client_key = br_asprintf("%s/.ssh/id_ed25519", d->home);
    d->known_hosts = br_asprintf("%s/.ssh/known_hosts", d->home);
    d->host_key = br_asprintf("%s/ssh_host_ed25519_key", d->dir);
    d->config = br_asprintf("%s/sshd_config", d->dir);
    d->log = br_asprintf("%s/sshd.log", d->dir);
    if (geteuid() == 0 && run_as != NULL && strcmp(run_as, "root") != 0) {
        d->run_as = br_strdup(run_as);
        d->user = br_strdup(run_as);
    } else {
        d->user = h_current_user();
    }
    ssh_dir = br_asprintf("%s/.ssh", d->home);
    if (mkdir(d->home, 0700) != 0 || mkdir(ssh_dir, 0700) != 0) {
        fprintf(stderr, "sshd harness: mkdir: %s\n", strerror(errno));
        goto fail;
    }
    if (geteuid() == 0 && d->run_as == NULL && mkdir("/run/sshd", 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "sshd harness: mkdir /run/sshd: %s\n", strerror(errno));
        goto fail;
    }
    if (keygen(d->host_key, "barrel-test-host") != 0 || keygen(d->client_key, "barrel-test-client") != 0)
        goto fail;
    pub_path = br_asprintf("%s.pub", d->client_key);
    pub = h_read_file(pub_path);
    ak = br_asprintf("%s/authorized_keys", d->dir);
    h_write_file(ak, pub != NULL ? pub : "");
    if (start_server(d, 0) != 0)
        goto fail;
    free(ssh_dir);
    free(pub_path);
    free(pub);
    free(ak);
    return d;
fail:
    free(ssh_dir);
    free(pub_path);
    free(pub);
    free(ak);
    h_sshd_destroy(d);
    return NULL;
}

struct h_sshd *
h_sshd_start(void)
{
    return start(NULL);
}

struct h_sshd *
h_sshd_start_as(const char *user)
{
    return start(user);
}

int
h_sshd_stop(struct h_sshd *d)
{
    if (d == NULL || d->pid == 0)
        return 0;
    kill_and_reap(d->pid);
    d->pid = 0;
    return 0;
}

int
h_sshd_change_host_key(struct h_sshd *d)
{
    char *known = h_read_file(d->known_hosts);
    int rc;

    h_sshd_stop(d);
    if (keygen(d->host_key, "barrel-test-host-new") != 0) {
        free(known);
        return -1;
    }
    rc = start_server(d, 1);
    /* the client keeps believing in the old key */
    if (known != NULL)
        h_write_file(d->known_hosts, known);
    free(known);
    return rc;
}

int
h_sshd_reconfigure(struct h_sshd *d, const char *overrides)
{
    h_sshd_stop(d);
    free(d->overrides);
    d->overrides = overrides != NULL ? br_strdup(overrides) : NULL;
    return start_server(d, 1);
}

void
h_sshd_destroy(struct h_sshd *d)
{
    if (d == NULL)
        return;
    h_sshd_stop(d);
    for (int i = 0; i < SSHD_MAX; i++)
        if (g_servers[i] == d)
            g_servers[i] = NULL;
    h_rmtree(d->dir);
    free(d->dir);
    free(d->home);
    free(d->client_key);
    free(d->known_hosts);
    free(d->host_key);
    free(d->config);
    free(d->log);
    free(d->user);
    free(d->run_as);
    free(d->overrides);
    free(d);
}

char *
h_sshd_command(const struct h_sshd *d)
{
    return br_asprintf("ssh -p %d %s@127.0.0.1", d->port, d->user);
}

char *
h_sshd_use_home(const struct h_sshd *d)
{
    const char *old = getenv("HOME");
    char *saved = old != NULL ? br_strdup(old) : NULL;

    setenv("HOME", d->home, 1);
    unsetenv("SSH_AUTH_SOCK");
    return saved;
}
