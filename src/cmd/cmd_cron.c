/*
 * cmd_cron.c: `cron [--keep-descriptors]`, Barman 3.4's maintenance pass
 * (cli.py cron, server.py cron/cron_archive_wal/cron_receive_wal/
 * cron_check_backup), safe to run every minute.
 *
 * Recipe: take the global .cron.lock (Barman 3.4 defines it without using
 * it; barrel uses it so that two crons never overlap: the second one says so
 * and exits 0); then for every active, enabled server in name order, under
 * .<server>-cron.lock:
 *   1. start `archive-wal SERVER` when .<server>-archive-wal.lock is free;
 *   2. start `receive-wal SERVER` when streaming_archiver is on and its lock
 *      is free, or stop a running receiver when the option is off;
 *   3. start `check-backup SERVER ID` for the oldest WAITING_FOR_WALS backup
 *      (when that command exists in this build);
 *   4. retention: finish interrupted deletes, delete the OBSOLETE backups.
 * After the servers, every distinct metrics_file is rewritten with the
 * metrics of the servers that name it (cron_metrics_files).
 * Children are barrel itself (/proc/self/exe) with `-c CONF -q`, in a new
 * session, stdin on /dev/null and stdout/stderr too unless
 * --keep-descriptors; they are not waited for, except that cron gives each
 * a moment to take its lock, so that a cron started right after this one
 * sees it running and starts no duplicate.
 */
#include "barrel/build.h"
#include "barrel/cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "barrel/catalog.h"
#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/log.h"
#include "barrel/mem.h"
#include "barrel/output.h"
#include "barrel/report.h"

#define SELF_EXE "/proc/self/exe"
#define CHILD_LOCK_WAIT_MS 3000      /* how long cron waits for a child to hold its lock */
#define CHILD_POLL_MS 20
#define STOP_WAIT_CHECKS 100         /* stopping a receiver: up to 10 s, as Barman's kill() */
#define STOP_WAIT_STEP_MS 100

struct cron_ctx {
    struct cmd_context *ctx;
    const char *lock_dir;
    int keep_descriptors;
};

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* pid holding .<server>-<what>.lock; 0 when free; -1 when held by a process whose pid is not written yet. */
static long
holder(const struct cron_ctx *cc, const char *server, const char *what)
{
    struct br_error err;
    long pid;

    br_error_clear(&err);
    pid = catalog_lock_holder(cc->lock_dir, server, what, &err);
    if (pid < 0 && err.code != BR_E_LOCKED)
        br_log_warning("%s", err.msg);
    return pid;
}

/*
 * Start `<self> -c CONF -q <args...>` detached (Barman's BarmanSubProcess).
 * Returns the child's pid, or -1 (logged) when it could not be started.
 */
static pid_t
spawn_barrel(const struct cron_ctx *cc, const char *const *args, size_t n_args)
{
    const char *argv[16];
    size_t n = 0;
    pid_t pid;

    argv[n++] = cc->ctx->prog;
    argv[n++] = "-c";
    argv[n++] = cc->ctx->cfg->path;
    argv[n++] = "-q";
    for (size_t i = 0; i < n_args && n < BR_ARRAY_LEN(argv) - 1; i++)
        argv[n++] = args[i];
    argv[n] = NULL;

    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        output_error("could not start \"%s\": %s", args[0], strerror(errno));
        return -1;
    }
    if (pid == 0) {
        int nul = open("/dev/null", O_RDWR);

        setsid();
        if (nul >= 0) {
            dup2(nul, 0);
            if (!cc->keep_descriptors) {
                dup2(nul, 1);
                dup2(nul, 2);
            }
            if (nul > 2)
                close(nul);
        }
        execv(SELF_EXE, (char *const *) (uintptr_t) argv);
        _exit(127);
    }
    return pid;
}

/* Give a child a moment to hold its lock (or to finish); reaps it when it has exited. */
static void
wait_child_lock(const struct cron_ctx *cc, pid_t pid, const char *server, const char *what)
{
    for (int waited = 0; waited < CHILD_LOCK_WAIT_MS; waited += CHILD_POLL_MS) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        if (holder(cc, server, what) == (long) pid)
            return;
        sleep_ms(CHILD_POLL_MS);
    }
}

/* Step 1: archive-wal. */
static void
cron_archive_wal(const struct cron_ctx *cc, const struct server_config *srv)
{
    const char *args[] = {"archive-wal", srv->name};
    pid_t pid;

    if (holder(cc, srv->name, "archive-wal") != 0) {
        output_info("Another archive-wal process is already running on server %s. Skipping to the next server",
                    srv->name);
        return;
    }
    output_info("Starting WAL archiving for server %s", srv->name);
    pid = spawn_barrel(cc, args, BR_ARRAY_LEN(args));
    if (pid > 0)
        wait_child_lock(cc, pid, srv->name, "archive-wal");
}

/* 1 while pid exists and has not exited (a zombie has exited). */
static int
process_alive(long pid)
{
    char path[64], buf[512];
    const char *p;
    FILE *fp;
    int alive = 1;

    if (kill((pid_t) pid, 0) != 0)
        return errno != ESRCH;
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

/* Step 2: receive-wal started, or stopped when streaming_archiver is off (Barman's kill(fail_if_not_present=False)). */
static void
cron_receive_wal(const struct cron_ctx *cc, const struct server_config *srv)
{
    long pid = holder(cc, srv->name, "receive-wal");

    if (srv->streaming_archiver) {
        const char *args[] = {"receive-wal", srv->name};
        pid_t child;

        if (pid != 0) {
            br_log_debug("Another STREAMING ARCHIVER process is running for server %s", srv->name);
            return;
        }
        output_info("Starting streaming archiver for server %s", srv->name);
        child = spawn_barrel(cc, args, BR_ARRAY_LEN(args));
        if (child > 0)
            wait_child_lock(cc, child, srv->name, "receive-wal");
        return;
    }
    if (pid <= 0)
        return;
    if (kill((pid_t) pid, SIGINT) != 0 && errno != ESRCH) {
        output_error("%s", strerror(errno));
        return;
    }
    for (int i = 0; i < STOP_WAIT_CHECKS; i++) {
        if (!process_alive(pid)) {
            output_info("Stopped process receive-wal(%ld)", pid);
            return;
        }
        sleep_ms(STOP_WAIT_STEP_MS);
    }
    output_error("Cannot terminate process receive-wal(%ld)", pid);
}

/* Step 3: check-backup for the oldest backup waiting for its WAL. */
static void
cron_check_backup(const struct cron_ctx *cc, const struct server_config *srv)
{
    struct br_error err;
    struct catalog *cat;
    const char *backup_id = NULL;

    /* provided by the backup commands; a build without them has nothing to do here */
    if (cmd_find("check-backup") == NULL)
        return;
    br_error_clear(&err);
    cat = catalog_open(srv, &err);
    if (cat == NULL) {
        output_error("%s", err.msg);
        return;
    }
    for (size_t i = 0; i < cat->n_backups && backup_id == NULL; i++)
        if (cat->backups[i]->status == BACKUP_STATUS_WAITING_FOR_WALS)
            backup_id = cat->backups[i]->backup_id;
    if (backup_id != NULL && holder(cc, srv->name, backup_id) == 0) {
        const char *args[] = {"check-backup", srv->name, backup_id};

        output_info("Starting check-backup for backup %s of server %s", backup_id, srv->name);
        spawn_barrel(cc, args, BR_ARRAY_LEN(args));
    }
    catalog_free(cat);
}

/*
 * Step 4: retention policies, in-process after the WAL steps as Barman 3.4
 * does (cmd_retention.c): interrupted deletes are finished, then every
 * OBSOLETE backup is deleted in ascending ID order.
 */
static void
cron_retention_policy(const struct cron_ctx *cc, const struct server_config *srv)
{
    cmd_retention_enforce(cc->ctx, srv);
}

/*
 * barrel's step after the servers: refresh each metrics_file (an option of
 * [barman] or of a server) with the metrics of the active, enabled servers
 * that name it, atomically. A file that cannot be written is a warning:
 * cron's WAL work matters more than its metrics.
 */
static void
cron_metrics_files(const struct cron_ctx *cc)
{
    const struct barrel_config *cfg = cc->ctx->cfg;
    const struct server_config **group = br_calloc(cfg->n_servers ? cfg->n_servers : 1, sizeof(*group));

    for (size_t i = 0; i < cfg->n_servers; i++) {
        const struct server_config *srv = cfg->servers[i];
        size_t n = 0;
        int done_before = 0;
        struct br_error err;

        if (srv->metrics_file == NULL || !srv->active || srv->n_disabled_reasons > 0)
            continue;
        for (size_t j = 0; j < i && !done_before; j++)
            done_before = cfg->servers[j]->metrics_file != NULL && cfg->servers[j]->active
                          && cfg->servers[j]->n_disabled_reasons == 0
                          && strcmp(cfg->servers[j]->metrics_file, srv->metrics_file) == 0;
        if (done_before)
            continue;
        for (size_t j = i; j < cfg->n_servers; j++)
            if (cfg->servers[j]->metrics_file != NULL && cfg->servers[j]->active
                && cfg->servers[j]->n_disabled_reasons == 0 && strcmp(cfg->servers[j]->metrics_file, srv->metrics_file) == 0)
                group[n++] = cfg->servers[j];
        br_error_clear(&err);
        if (metrics_write_file(group, n, cc->lock_dir, 1, srv->metrics_file, &err) != 0)
            output_warning("could not refresh metrics file \"%s\": %s", srv->metrics_file, err.msg);
    }
    free(group);
}

/* Barman's Server.cron() for one server. */
static void
cron_server(const struct cron_ctx *cc, const struct server_config *srv)
{
    struct br_error err;
    struct catalog_lock *lock;

    br_error_clear(&err);
    lock = catalog_lock_acquire(cc->lock_dir, srv->name, "cron", 0, &err);
    if (lock == NULL) {
        if (err.code == BR_E_LOCKED)
            output_info("Another cron process is already running on server %s. Skipping to the next server",
                        srv->name);
        else
            output_error("%s", err.msg);
        return;
    }
    cron_archive_wal(cc, srv);
    cron_receive_wal(cc, srv);
    cron_check_backup(cc, srv);
    cron_retention_policy(cc, srv);
    catalog_lock_release(lock);
}

int
cmd_cron(struct cmd_context *ctx, int argc, char **argv, struct br_error *err)
{
    static const struct option longopts[] = {
        {"keep-descriptors", no_argument, NULL, 'k'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
    };
    struct cron_ctx cc = {ctx, NULL, 0};
    struct catalog_lock *lock;
    const struct barrel_config *cfg = ctx->cfg;
    int c;

    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'h') {
            cmd_print_help(cmd_find("cron"), "  --keep-descriptors    Keep the stdout and the stderr streams attached to "
                                             "Barman subprocesses\n");
            return 0;
        }
        if (c == 'k') {
            cc.keep_descriptors = 1;
            continue;
        }
        return br_error_set(err, BR_E_USAGE, "unrecognized arguments: %s", argv[optind - 1]);
    }
    if (optind < argc)
        return br_error_set(err, BR_E_USAGE, "unrecognized arguments: %s", argv[optind]);
    cc.lock_dir = cfg->barman_lock_directory ? cfg->barman_lock_directory : cfg->barman_home;

    lock = catalog_lock_acquire_global(cc.lock_dir, "cron", 0, err);
    if (lock == NULL) {
        if (err->code != BR_E_LOCKED)
            return -1;
        br_error_clear(err);
        output_info("Another cron process is already running. Skipping this run");
        return 0;
    }
    for (size_t i = 0; i < cfg->n_servers; i++) {
        const struct server_config *srv = cfg->servers[i];

        if (!srv->active) {
            output_info("Skipping inactive server '%s'", srv->name);
            continue;
        }
        if (srv->n_disabled_reasons > 0) {
            output_info("Skipping temporarily disabled server '%s'", srv->name);
            continue;
        }
        cron_server(&cc, srv);
    }
    cron_metrics_files(&cc);
    catalog_lock_release(lock);
    return 0;
}
