/*
 * harness.c: the shared test helpers declared in harness.h.
 *
 * The PostgreSQL part follows PostgreSQL's Test/Cluster.pm: initdb -k into a
 * temporary directory, a free port on 127.0.0.1 (found by binding port 0;
 * the start is retried with a new port if another process took it first),
 * a socket directory of its own, fsync off, wal_level replica, a replication
 * role, start with pg_ctl -w. Every cluster is registered in a global list
 * and removed from an atexit handler and from a SIGINT/SIGTERM/SIGABRT
 * handler, so that a failing cmocka test (which longjmps out of the test
 * body) or an interrupted run leaves no server and no directory behind.
 *
 * PostgreSQL refuses to run as root: when the tests run with euid 0 the
 * cluster belongs to an unprivileged user ("postgres" when it exists, else
 * "barrel_test", created once with useradd) and initdb/pg_ctl run through
 * runuser. psql and barrel itself connect over TCP to 127.0.0.1, so they
 * run as the current user. Nothing listens beyond loopback.
 *
 * Failures in the harness print a message on stderr and return NULL/-1:
 * the test asserts on that.
 */
#include "barrel/build.h"
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "barrel/mem.h"
#include "barrel/strbuf.h"

#define H_PG_BINDIR        "/usr/lib/postgresql/15/bin"
#define H_PG_MAX_CLUSTERS  16
#define H_PG_START_TRIES   5
#define H_PG_FALLBACK_USER "barrel_test"

/* ---------------------------------------------------------------- files */

char *
h_mkdtemp(void)
{
    const char *tmp = getenv("TMPDIR");
    char *path;

    if (tmp == NULL || tmp[0] == '\0')
        tmp = "/tmp";
    path = br_asprintf("%s/barrel-test-XXXXXX", tmp);
    if (mkdtemp(path) == NULL) {
        fprintf(stderr, "harness: mkdtemp \"%s\": %s\n", path, strerror(errno));
        free(path);
        return NULL;
    }
    /* 0755: a cluster owned by another user must be able to traverse it */
    if (chmod(path, 0755) != 0)
        fprintf(stderr, "harness: chmod \"%s\": %s\n", path, strerror(errno));
    return path;
}

static int
rmtree_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;
    if (remove(path) != 0 && errno != ENOENT)
        fprintf(stderr, "harness: remove \"%s\": %s\n", path, strerror(errno));
    return 0;
}

void
h_rmtree(const char *path)
{
    struct stat st;

    if (path == NULL || lstat(path, &st) != 0)
        return;
    nftw(path, rmtree_cb, 32, FTW_DEPTH | FTW_PHYS);
}

char *
h_read_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    struct strbuf sb;
    char buf[8192];
    size_t n;

    if (fp == NULL)
        return NULL;
    strbuf_init(&sb);
    while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
        strbuf_append_len(&sb, buf, n);
    fclose(fp);
    return strbuf_detach(&sb);
}

void
h_write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "wb");

    if (fp == NULL) {
        fprintf(stderr, "harness: cannot write \"%s\": %s\n", path, strerror(errno));
        return;
    }
    fputs(text, fp);
    if (fclose(fp) != 0)
        fprintf(stderr, "harness: cannot close \"%s\": %s\n", path, strerror(errno));
}

int
h_copy_tree(const char *src, const char *dst)
{
    const char *argv[] = { "cp", "-a", src, dst, NULL };
    struct h_result r = h_run(argv, NULL, NULL);
    int rc = r.status == 0 ? 0 : -1;

    if (rc != 0)
        fprintf(stderr, "harness: cp -a \"%s\" \"%s\" failed: %s", src, dst, r.err);
    h_result_free(&r);
    if (rc == 0) {
        /* the fixtures are read-only: a copy a test may change must be writable by its owner */
        const char *chmod_argv[] = { "chmod", "-R", "u+w", dst, NULL };
        r = h_run(chmod_argv, NULL, NULL);
        rc = r.status == 0 ? 0 : -1;
        h_result_free(&r);
    }
    return rc;
}

const char *
h_fixtures_dir(void)
{
    static char resolved[PATH_MAX];
    const char *env = getenv("FIXTURES");
    const char *dir = (env != NULL && env[0] != '\0') ? env : "../shared/fixtures/barman-3.4";

    if (realpath(dir, resolved) == NULL)
        return dir;
    return resolved;
}

const char *
h_barrel_bin(void)
{
    const char *env = getenv("BARREL_BIN");

    return (env != NULL && env[0] != '\0') ? env : "./barrel";
}

/* ------------------------------------------------------------ processes */

static void
set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl >= 0)
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* In the child: add "K=V" entries to the environment. */
static void
child_apply_env(const char *const *env)
{
    for (; env != NULL && *env != NULL; env++) {
        const char *eq = strchr(*env, '=');
        char *key;

        if (eq == NULL) {
            unsetenv(*env);
            continue;
        }
        key = br_strndup(*env, (size_t) (eq - *env));
        setenv(key, eq + 1, 1);
        free(key);
    }
}

struct h_result
h_run(const char *const *argv, const char *stdin_text, const char *const *env)
{
    struct h_result r = { -1, NULL, NULL };
    int in_pipe[2] = { -1, -1 }, out_pipe[2] = { -1, -1 }, err_pipe[2] = { -1, -1 };
    struct strbuf out, errb;
    struct sigaction ign, old_pipe;
    size_t in_len = stdin_text ? strlen(stdin_text) : 0, in_off = 0;
    pid_t pid;
    int wstatus;

    strbuf_init(&out);
    strbuf_init(&errb);
    fflush(NULL);  /* the child must not flush our buffered output again */
    if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0
        || pipe2(err_pipe, O_CLOEXEC) != 0) {
        strbuf_appendf(&errb, "harness: pipe: %s\n", strerror(errno));
        goto fail;
    }

    pid = fork();
    if (pid < 0) {
        strbuf_appendf(&errb, "harness: fork: %s\n", strerror(errno));
        goto fail;
    }
    if (pid == 0) {
        signal(SIGPIPE, SIG_DFL);
        dup2(in_pipe[0], 0);
        dup2(out_pipe[1], 1);
        dup2(err_pipe[1], 2);
        child_apply_env(env);
        execvp(argv[0], (char *const *) (uintptr_t) argv);
        {
            char msg[512];
            int n = snprintf(msg, sizeof(msg), "harness: exec \"%s\": %s\n", argv[0], strerror(errno));
            ssize_t w BR_UNUSED = write(2, msg, n > 0 ? (size_t) n : 0);
        }
        _exit(127);
    }

    /* parent: a child that exits without reading stdin must not kill us */
    memset(&ign, 0, sizeof(ign));
    ign.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ign, &old_pipe);
    close(in_pipe[0]);
    close(out_pipe[1]);
    close(err_pipe[1]);
    in_pipe[0] = out_pipe[1] = err_pipe[1] = -1;
    if (in_len == 0) {
        close(in_pipe[1]);
        in_pipe[1] = -1;
    } else {
        set_nonblock(in_pipe[1]);
    }

    while (out_pipe[0] >= 0 || err_pipe[0] >= 0) {
        struct pollfd pfd[3];
        int nfd = 0, idx_in = -1, idx_out = -1, idx_err = -1;

        if (in_pipe[1] >= 0) {
            idx_in = nfd;
            pfd[nfd].fd = in_pipe[1];
            pfd[nfd++].events = POLLOUT;
        }
        if (out_pipe[0] >= 0) {
            idx_out = nfd;
            pfd[nfd].fd = out_pipe[0];
            pfd[nfd++].events = POLLIN;
        }
        if (err_pipe[0] >= 0) {
            idx_err = nfd;
            pfd[nfd].fd = err_pipe[0];
            pfd[nfd++].events = POLLIN;
        }
        if (poll(pfd, (nfds_t) nfd, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (idx_in >= 0 && pfd[idx_in].revents) {
            ssize_t w = write(in_pipe[1], stdin_text + in_off, in_len - in_off);

            if (w > 0)
                in_off += (size_t) w;
            if ((w < 0 && errno != EAGAIN && errno != EINTR) || in_off >= in_len) {
                close(in_pipe[1]);
                in_pipe[1] = -1;
            }
        }
        for (int k = 0; k < 2; k++) {
            int idx = k == 0 ? idx_out : idx_err;
            int *fdp = k == 0 ? &out_pipe[0] : &err_pipe[0];
            struct strbuf *sb = k == 0 ? &out : &errb;
            char buf[8192];
            ssize_t n;

            if (idx < 0 || pfd[idx].revents == 0)
                continue;
            n = read(*fdp, buf, sizeof(buf));
            if (n > 0) {
                strbuf_append_len(sb, buf, (size_t) n);
            } else if (n == 0 || errno != EINTR) {
                close(*fdp);
                *fdp = -1;
            }
        }
    }
    if (in_pipe[1] >= 0)
        close(in_pipe[1]);
    while (waitpid(pid, &wstatus, 0) < 0) {
        if (errno != EINTR) {
            wstatus = -1;
            break;
        }
    }
    sigaction(SIGPIPE, &old_pipe, NULL);
    if (wstatus == -1)
        r.status = -1;
    else if (WIFEXITED(wstatus))
        r.status = WEXITSTATUS(wstatus);
    else if (WIFSIGNALED(wstatus))
        r.status = 128 + WTERMSIG(wstatus);
    r.out = strbuf_detach(&out);
    r.err = strbuf_detach(&errb);
    return r;

fail:
    for (int k = 0; k < 2; k++) {
        if (in_pipe[k] >= 0) close(in_pipe[k]);
        if (out_pipe[k] >= 0) close(out_pipe[k]);
        if (err_pipe[k] >= 0) close(err_pipe[k]);
    }
    r.status = -1;
    r.out = strbuf_detach(&out);
    r.err = strbuf_detach(&errb);
    return r;
}

/* sh -c of the formatted command line, env entries added (h_sh, h_sh_env). */
static struct h_result
vsh(const char *const *env, const char *fmt, va_list ap)
{
    char *cmd = br_vasprintf(fmt, ap);
    const char *argv[] = { "sh", "-c", cmd, NULL };
    struct h_result r = h_run(argv, NULL, env);

    free(cmd);
    return r;
}

struct h_result
h_sh(const char *fmt, ...)
{
    va_list ap;
    struct h_result r;

    va_start(ap, fmt);
    r = vsh(NULL, fmt, ap);
    va_end(ap);
    return r;
}

struct h_result
h_sh_env(const char *const *env, const char *fmt, ...)
{
    va_list ap;
    struct h_result r;

    va_start(ap, fmt);
    r = vsh(env, fmt, ap);
    va_end(ap);
    return r;
}

void
h_result_free(struct h_result *r)
{
    if (r == NULL)
        return;
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

/* ----------------------------------------------------------- PostgreSQL */

/* Clusters to remove at exit or on a fatal signal; only the creating process cleans. */
static struct h_pg *g_clusters[H_PG_MAX_CLUSTERS];
static long g_postmaster_pid[H_PG_MAX_CLUSTERS];
static pid_t g_owner_pid;
static volatile sig_atomic_t g_cleaning;

static int
registry_index(const struct h_pg *pg)
{
    for (int i = 0; i < H_PG_MAX_CLUSTERS; i++)
        if (g_clusters[i] == pg)
            return i;
    return -1;
}

/* 1 while pid exists and is not a zombie (PID 1 in a container may never reap it). */
static int
pid_alive(long pid)
{
    char path[64], buf[512];
    FILE *fp;
    const char *p;
    int alive = 1;

    if (pid <= 0 || kill((pid_t) pid, 0) != 0)
        return 0;
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    fp = fopen(path, "r");
    if (fp == NULL)
        return 1;
    if (fgets(buf, sizeof(buf), fp) != NULL && (p = strrchr(buf, ')')) != NULL && p[1] == ' '
        && (p[2] == 'Z' || p[2] == 'X'))
        alive = 0;
    fclose(fp);
    return alive;
}

/*
 * Last-resort cleanup: immediate shutdown by signal (SIGQUIT to the
 * postmaster, SIGKILL after 10 s), then remove the directory. Used from the
 * atexit and signal handlers, where starting pg_ctl is not an option.
 */
static void
emergency_cleanup(void)
{
    if (g_cleaning || getpid() != g_owner_pid)
        return;
    g_cleaning = 1;
    for (int i = 0; i < H_PG_MAX_CLUSTERS; i++) {
        struct h_pg *pg = g_clusters[i];
        long pid = g_postmaster_pid[i];

        if (pg == NULL)
            continue;
        if (pid <= 0 && pg->datadir != NULL) {
            /* interrupted during pg_ctl start: the server may be up already */
            char path[PATH_MAX];
            FILE *fp;

            snprintf(path, sizeof(path), "%s/postmaster.pid", pg->datadir);
            if ((fp = fopen(path, "r")) != NULL) {
                if (fscanf(fp, "%ld", &pid) != 1)
                    pid = 0;
                fclose(fp);
            }
        }
        if (pid > 0) {
            kill((pid_t) pid, SIGQUIT);
            for (int waited = 0; waited < 1000 && pid_alive(pid); waited++) {
                struct timespec ts = { 0, 10 * 1000 * 1000 };
                nanosleep(&ts, NULL);
            }
            if (pid_alive(pid))
                kill((pid_t) pid, SIGKILL);
        }
        h_rmtree(pg->basedir);
        g_clusters[i] = NULL;
    }
}

static void
fatal_signal_handler(int sig)
{
    emergency_cleanup();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void
registry_init(void)
{
    static int done;
    static const int sigs[] = { SIGINT, SIGTERM, SIGABRT, SIGHUP };

    if (done)
        return;
    done = 1;
    g_owner_pid = getpid();
    atexit(emergency_cleanup);
    for (size_t i = 0; i < BR_ARRAY_LEN(sigs); i++) {
        struct sigaction sa;

        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = fatal_signal_handler;
        sigemptyset(&sa.sa_mask);
        sigaction(sigs[i], &sa, NULL);
    }
}

static int
registry_add(struct h_pg *pg)
{
    registry_init();
    for (int i = 0; i < H_PG_MAX_CLUSTERS; i++) {
        if (g_clusters[i] == NULL) {
            g_postmaster_pid[i] = 0;
            g_clusters[i] = pg;
            return 0;
        }
    }
    fprintf(stderr, "harness: more than %d clusters at once\n", H_PG_MAX_CLUSTERS);
    return -1;
}

static void
registry_remove(const struct h_pg *pg)
{
    int i = registry_index(pg);

    if (i >= 0) {
        g_clusters[i] = NULL;
        g_postmaster_pid[i] = 0;
    }
}

/* Remember the postmaster pid (first line of postmaster.pid) for emergency cleanup. */
static void
registry_note_postmaster(const struct h_pg *pg)
{
    char *path = br_asprintf("%s/postmaster.pid", pg->datadir);
    char *text = h_read_file(path);
    int i = registry_index(pg);

    if (i >= 0)
        g_postmaster_pid[i] = text ? strtol(text, NULL, 10) : 0;
    free(text);
    free(path);
}

int
h_pg_available(void)
{
    static const char *const bins[] = { "initdb", "pg_ctl", "postgres", "psql" };

    for (size_t i = 0; i < BR_ARRAY_LEN(bins); i++) {
        char *p = br_asprintf("%s/%s", H_PG_BINDIR, bins[i]);
        int ok = access(p, X_OK) == 0;

        free(p);
        if (!ok)
            return 0;
    }
    if (geteuid() == 0 && access("/usr/sbin/runuser", X_OK) != 0 && access("/sbin/runuser", X_OK) != 0
        && access("/usr/bin/runuser", X_OK) != 0)
        return 0;
    return 1;
}

/* The unprivileged user the cluster runs as when we are root; created once. */
static const char *
pg_os_user(void)
{
    const char *argv[] = { "useradd", "-r", "-M", "-s", "/usr/sbin/nologin", H_PG_FALLBACK_USER, NULL };
    struct h_result r;

    if (getpwnam("postgres") != NULL)
        return "postgres";
    if (getpwnam(H_PG_FALLBACK_USER) != NULL)
        return H_PG_FALLBACK_USER;
    r = h_run(argv, NULL, NULL);
    /* status 9: created concurrently by another test binary */
    if (r.status != 0 && r.status != 9)
        fprintf(stderr, "harness: useradd %s failed: %s", H_PG_FALLBACK_USER, r.err);
    h_result_free(&r);
    return getpwnam(H_PG_FALLBACK_USER) != NULL ? H_PG_FALLBACK_USER : NULL;
}

/* Run a server binary (bindir/NAME args...), as pg->os_user when set. */
static struct h_result
pg_exec(const struct h_pg *pg, const char *name, const char *const *args)
{
    const char *argv[32];
    size_t n = 0;
    char *bin = br_asprintf("%s/%s", pg->bindir, name);
    struct h_result r;

    if (pg->os_user != NULL) {
        argv[n++] = "runuser";
        argv[n++] = "-u";
        argv[n++] = pg->os_user;
        argv[n++] = "--";
    }
    argv[n++] = bin;
    for (; *args != NULL && n < BR_ARRAY_LEN(argv) - 1; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    r = h_run(argv, NULL, NULL);
    free(bin);
    return r;
}

static int
chown_to(const char *path, const char *user)
{
    struct passwd *pw = getpwnam(user);

    if (pw == NULL || chown(path, pw->pw_uid, pw->pw_gid) != 0) {
        fprintf(stderr, "harness: cannot chown \"%s\" to %s: %s\n", path, user, strerror(errno));
        return -1;
    }
    return 0;
}

/* A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0). */
int
h_free_port(void)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    if (fd < 0)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0;
    if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0
        && getsockname(fd, (struct sockaddr *) &sa, &len) == 0)
        port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

static void
print_log_tail(const struct h_pg *pg)
{
    char *path = br_asprintf("%s/postgresql.log", pg->basedir);
    char *text = h_read_file(path);

    if (text != NULL) {
        size_t len = strlen(text);
        fprintf(stderr, "harness: --- %s (tail) ---\n%s\n", path, len > 4000 ? text + len - 4000 : text);
    }
    free(text);
    free(path);
}

static void
pg_free(struct h_pg *pg)
{
    if (pg == NULL)
        return;
    free(pg->bindir);
    free(pg->datadir);
    free(pg->sockdir);
    free(pg->basedir);
    free(pg->os_user);
    free(pg);
}

/* Write the port line of postgresql.conf, and start; 0 or -1. */
static int
pg_start_with_port(struct h_pg *pg, int port)
{
    char *conf = br_asprintf("%s/postgresql.port.conf", pg->basedir);
    char *line = br_asprintf("port = %d\n", port);
    char *logfile = br_asprintf("%s/postgresql.log", pg->basedir);
    const char *args[] = { "-w", "-t", "60", "-D", pg->datadir, "-l", logfile, "start", NULL };
    struct h_result r;
    int rc;

    /* included from postgresql.conf; kept apart so that a retry only rewrites this file */
    h_write_file(conf, line);
    if (pg->os_user != NULL)
        chown_to(conf, pg->os_user);
    r = pg_exec(pg, "pg_ctl", args);
    rc = r.status == 0 ? 0 : -1;
    if (rc == 0) {
        pg->port = port;
        pg->running = 1;
        registry_note_postmaster(pg);
    }
    h_result_free(&r);
    free(logfile);
    free(line);
    free(conf);
    return rc;
}

struct h_pg *
h_pg_start(const char *extra_conf)
{
    struct h_pg *pg = br_calloc(1, sizeof(*pg));
    char *base = NULL, *path = NULL, *conf = NULL, *out = NULL;
    struct h_result r = { 0, NULL, NULL };
    int started = 0;

    pg->bindir = br_strdup(H_PG_BINDIR);
    base = h_mkdtemp();
    if (base == NULL)
        goto fail;
    pg->basedir = base;
    if (registry_add(pg) != 0) {
        h_rmtree(base);
        pg_free(pg);
        return NULL;
    }
    pg->datadir = br_asprintf("%s/data", base);
    pg->sockdir = br_asprintf("%s/sock", base);
    if (geteuid() == 0) {
        const char *user = pg_os_user();

        if (user == NULL)
            goto fail;
        pg->os_user = br_strdup(user);
    }
    if (mkdir(pg->sockdir, 0700) != 0) {
        fprintf(stderr, "harness: mkdir \"%s\": %s\n", pg->sockdir, strerror(errno));
        goto fail;
    }
    if (pg->os_user != NULL && (chown_to(base, pg->os_user) != 0 || chown_to(pg->sockdir, pg->os_user) != 0))
        goto fail;

    /* initdb: checksums, trust on loopback (tests only), no fsync */
    {
        const char *args[] = { "-k", "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C",
                               "--no-sync", "--no-instructions", "-D", pg->datadir, NULL };
        r = pg_exec(pg, "initdb", args);
        if (r.status != 0) {
            fprintf(stderr, "harness: initdb failed (%d):\n%s%s", r.status, r.out, r.err);
            goto fail;
        }
        h_result_free(&r);
    }

    /* postgresql.conf: appended, so our lines win over initdb's */
    {
        struct strbuf sb;

        path = br_asprintf("%s/postgresql.conf", pg->datadir);
        conf = h_read_file(path);
        strbuf_init(&sb);
        strbuf_append(&sb, conf ? conf : "");
        strbuf_appendf(&sb,
                       "\n# barrel test harness\n"
                       "listen_addresses = '127.0.0.1'\n"
                       "unix_socket_directories = '%s'\n"
                       "wal_level = replica\n"
                       "max_wal_senders = 10\n"
                       "max_replication_slots = 10\n"
                       "max_connections = 30\n"
                       "fsync = off\n"
                       "full_page_writes = off\n"
                       "synchronous_commit = off\n"
                       "log_line_prefix = '%%m [%%p] '\n"
                       "include '%s/postgresql.port.conf'\n",
                       pg->sockdir, base);
        if (extra_conf != NULL)
            strbuf_appendf(&sb, "%s\n", extra_conf);
        out = strbuf_detach(&sb);
        h_write_file(path, out);
        free(path);
        free(conf);
        free(out);
        path = conf = out = NULL;

        /* pg_hba.conf: first match wins, so put ours first */
        path = br_asprintf("%s/pg_hba.conf", pg->datadir);
        conf = h_read_file(path);
        out = br_asprintf("host replication " H_PG_REPL_USER " 127.0.0.1/32 trust\n"
                          "host all all 127.0.0.1/32 trust\n%s",
                          conf ? conf : "");
        h_write_file(path, out);
        free(path);
        free(conf);
        free(out);
        path = conf = out = NULL;
    }

    /* start; another process may grab the port between bind and start: retry */
    for (int attempt = 0; attempt < H_PG_START_TRIES && !started; attempt++) {
        int port = h_free_port();

        if (port <= 0) {
            fprintf(stderr, "harness: no free port on 127.0.0.1\n");
            goto fail;
        }
        started = pg_start_with_port(pg, port) == 0;
    }
    if (!started) {
        fprintf(stderr, "harness: pg_ctl start failed %d times\n", H_PG_START_TRIES);
        print_log_tail(pg);
        goto fail;
    }

    /* the replication role barrel streams with */
    out = h_pg_sql(pg, "postgres", "CREATE ROLE " H_PG_REPL_USER " WITH REPLICATION LOGIN");
    if (out == NULL)
        goto fail;
    free(out);
    return pg;

fail:
    h_result_free(&r);
    free(path);
    free(conf);
    h_pg_destroy(pg);
    return NULL;
}

int
h_pg_stop(struct h_pg *pg)
{
    const char *args[] = { "-w", "-t", "60", "-D", pg->datadir, "-m", "fast", "stop", NULL };
    struct h_result r;
    int rc;

    if (pg == NULL || !pg->running)
        return 0;
    r = pg_exec(pg, "pg_ctl", args);
    rc = r.status == 0 ? 0 : -1;
    if (rc != 0)
        fprintf(stderr, "harness: pg_ctl stop failed (%d): %s%s", r.status, r.out, r.err);
    else {
        int i = registry_index(pg);

        pg->running = 0;
        if (i >= 0)
            g_postmaster_pid[i] = 0;   /* never signal a pid that may be reused */
    }
    h_result_free(&r);
    return rc;
}

int
h_pg_restart(struct h_pg *pg)
{
    char *logfile = br_asprintf("%s/postgresql.log", pg->basedir);
    const char *args[] = { "-w", "-t", "60", "-D", pg->datadir, "-l", logfile, "-m", "fast", "restart", NULL };
    struct h_result r = pg_exec(pg, "pg_ctl", args);
    int rc = r.status == 0 ? 0 : -1;

    if (rc != 0) {
        fprintf(stderr, "harness: pg_ctl restart failed (%d): %s%s", r.status, r.out, r.err);
        print_log_tail(pg);
    } else {
        pg->running = 1;
        registry_note_postmaster(pg);
    }
    h_result_free(&r);
    free(logfile);
    return rc;
}

void
h_pg_destroy(struct h_pg *pg)
{
    if (pg == NULL)
        return;
    if (pg->running && h_pg_stop(pg) != 0) {
        /* pg_ctl failed: fall back to signals for this cluster */
        int i = registry_index(pg);
        long pid = i >= 0 ? g_postmaster_pid[i] : 0;

        if (pid > 0) {
            kill((pid_t) pid, SIGQUIT);
            for (int waited = 0; waited < 1000 && pid_alive(pid); waited++) {
                struct timespec ts = { 0, 10 * 1000 * 1000 };
                nanosleep(&ts, NULL);
            }
            if (pid_alive(pid))
                kill((pid_t) pid, SIGKILL);
        }
        pg->running = 0;
    }
    h_rmtree(pg->basedir);
    registry_remove(pg);
    pg_free(pg);
}

char *
h_pg_sql(struct h_pg *pg, const char *dbname, const char *sql)
{
    char port[16];
    char *psql = br_asprintf("%s/psql", pg->bindir);
    const char *argv[] = { psql, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1",
                           "-p", port, "-U", "postgres", "-d", dbname ? dbname : "postgres",
                           "-c", sql, NULL };
    const char *env[] = { "PGCONNECT_TIMEOUT=10", "PGAPPNAME=barrel_test_harness", NULL };
    struct h_result r;
    char *res = NULL;

    snprintf(port, sizeof(port), "%d", pg->port);
    r = h_run(argv, NULL, env);
    if (r.status != 0) {
        fprintf(stderr, "harness: psql failed (%d) for \"%s\": %s", r.status, sql, r.err);
    } else {
        size_t len = strlen(r.out);

        while (len > 0 && (r.out[len - 1] == '\n' || r.out[len - 1] == ' ' || r.out[len - 1] == '\r'))
            r.out[--len] = '\0';
        res = r.out;
        r.out = NULL;
    }
    h_result_free(&r);
    free(psql);
    return res;
}

char *
h_pg_conninfo(struct h_pg *pg)
{
    return br_asprintf("host=127.0.0.1 port=%d user=postgres dbname=postgres", pg->port);
}

char *
h_pg_repl_conninfo(struct h_pg *pg)
{
    return br_asprintf("host=127.0.0.1 port=%d user=" H_PG_REPL_USER " dbname=postgres", pg->port);
}

char *
h_current_user(void)
{
    struct passwd *pw = getpwuid(geteuid());

    return br_strdup(pw != NULL ? pw->pw_name : "root");
}
