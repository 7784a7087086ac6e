/*
 * drill.c: the restore drill (drill.h): prove a backup restores, recovers
 * and answers, and measure how long that takes.
 *
 * Recipe: scratch directory; restore through barrel's recover module into
 * <scratch>/data, every tablespace relocated under <scratch>/tbs (never at
 * its original place: the production server may be on this host), WAL
 * copied and recovery_target = 'immediate' (the backup's end) or the
 * target time, with recovery_target_action = 'promote' so that the server
 * ends writable (amcheck must be created); the server's own settings are
 * overridden on the command line (port on 127.0.0.1, socket directory,
 * pg_hba of trust on the socket only, archive_mode off, no synchronous
 * standbys, no preload libraries, fsync off); pg_ctl start; wait for the
 * end of recovery; in every database that accepts connections, a query and
 * bt_index_check() over every B-tree index when amcheck is available; then
 * stop the server and remove the scratch directory on every path.
 *
 * Invariant: once the server was started, it is stopped before drill_run
 * returns, whatever failed; the scratch directory never outlives the call.
 */
#include "barrel/build.h"
#include "barrel/drill.h"
#include "barrel/catalog.h"
#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/fs.h"
#include "barrel/mem.h"
#include "barrel/output.h"
#include "barrel/pgconn.h"
#include "barrel/restore.h"
#include "barrel/restore_target.h"
#include "barrel/strbuf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <stdarg.h>
#include <stddef.h>
#include <time.h>
#include <unistd.h>

#define DRILL_PG_OS_USER "postgres"       /* the server's user when barrel runs as root */
#define DRILL_POLL_MS 200
#define DRILL_LOG_TAIL 4096               /* bytes of the server log searched for the cause */
#define SERVER_VERSION_DIVISOR 10000      /* backup.info version 150018 -> major 15 */

struct drill {
    const struct barrel_config *cfg;
    const struct server_config *srv;
    const struct backup_info *bi;
    const struct drill_opts *opts;
    struct drill_result *res;
    char *scratch, *data, *sock, *log, *hba, *ident, *bindir;
    int port;
    int started;
    uid_t run_uid;                        /* 0: as ourselves */
    gid_t run_gid;
    const char *run_user;
};

static double
now_s(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double) tv.tv_sec + (double) tv.tv_usec / 1e6;
}

static void drill_fail(struct drill *d, const char *fmt, ...) BR_PRINTF(2, 3);

/* The verdict is FAILED, for the first reason given. */
static void
drill_fail(struct drill *d, const char *fmt, ...)
{
    va_list ap;

    if (!d->res->ok && d->res->message[0])
        return;
    d->res->ok = 0;
    va_start(ap, fmt);
    vsnprintf(d->res->message, sizeof(d->res->message), fmt, ap);
    va_end(ap);
}

/* Run argv (as the server's user when set), output to the server log; the exit status, or -1. */
static int
run(const struct drill *d, const char *const *argv)
{
    pid_t pid;
    int status;

    fflush(NULL);
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd, nul;
        /* first become the server's user: the log must be its own file */
        if (d->run_uid != 0) {
            if (setgid(d->run_gid) != 0 || setuid(d->run_uid) != 0)
                _exit(126);
        }
        fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        nul = open("/dev/null", O_RDONLY);
        if (nul >= 0)
            dup2(nul, 0);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(argv[0], (char *const *) (uintptr_t) argv);
        _exit(127);
    }
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* A free TCP port on 127.0.0.1 (bound, read, released: the server binds it next). */
static int
free_port(void)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

    if (fd < 0)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) == 0 && getsockname(fd, (struct sockaddr *) &sa, &len) == 0)
        port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

/* The server binaries: path_prefix when it holds pg_ctl, else Debian's /usr/lib/postgresql/<major>/bin. */
static char *
find_bindir(const struct server_config *srv, const struct backup_info *bi)
{
    if (srv->path_prefix != NULL) {
        char *copy = br_strdup(srv->path_prefix), *save = NULL;
        for (char *dir = strtok_r(copy, ":", &save); dir != NULL; dir = strtok_r(NULL, ":", &save)) {
            char *ctl = br_asprintf("%s/pg_ctl", dir);
            int ok = access(ctl, X_OK) == 0;
            free(ctl);
            if (ok) {
                char *found = br_strdup(dir);
                free(copy);
                return found;
            }
        }
        free(copy);
    }
    if (bi->version != BI_NULL_INT && bi->version > 0) {
        char *dir = br_asprintf("/usr/lib/postgresql/%" PRId64 "/bin", bi->version / SERVER_VERSION_DIVISOR);
        char *ctl = br_asprintf("%s/pg_ctl", dir);
        int ok = access(ctl, X_OK) == 0;
        free(ctl);
        if (ok)
            return dir;
        free(dir);
    }
    return NULL;
}

static uid_t chown_uid;
static gid_t chown_gid;

static int
chown_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) flag;
    (void) ftw;
    return lchown(path, chown_uid, chown_gid) == 0 ? 0 : -1;
}

/* The last FATAL/PANIC line of the server log (or its last line), for the message. */
static void
log_cause(const struct drill *d, char *buf, size_t len)
{
    char *text = fs_read_file(d->log, 64 * 1024 * 1024, NULL, &(struct br_error){0});
    const char *best = NULL;

    buf[0] = '\0';
    if (text == NULL)
        return;
    size_t tlen = strlen(text);
    const char *from = tlen > DRILL_LOG_TAIL ? text + tlen - DRILL_LOG_TAIL : text;
    for (const char *p = strstr(from, "FATAL:"); p != NULL; p = strstr(p + 1, "FATAL:"))
        best = p;
    if (best == NULL)
        for (const char *p = strstr(from, "PANIC:"); p != NULL; p = strstr(p + 1, "PANIC:"))
            best = p;
    if (best != NULL) {
        const char *eol = strchr(best, '\n');
        snprintf(buf, len, "%.*s", (int) (eol ? eol - best : (ptrdiff_t) strlen(best)), best);
    }
    free(text);
}

/* ---- the steps ---- */

/* 1. A scratch directory the server's user can enter. */
static int
step_scratch(struct drill *d, struct br_error *err)
{
    const char *parent = d->opts->scratch_parent ? d->opts->scratch_parent
                         : getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR")
                                                                 : "/var/tmp";
    char *tmpl = br_asprintf("%s/barrel-drill-%s-XXXXXX", parent, d->srv->name);

    if (mkdtemp(tmpl) == NULL) {
        br_error_sys(err, BR_E_IO, "could not create a scratch directory under \"%s\"", parent);
        free(tmpl);
        return -1;
    }
    chmod(tmpl, 0755);
    d->scratch = tmpl;
    d->data = path_join(tmpl, "data");
    d->sock = path_join(tmpl, "sock");
    d->log = path_join(tmpl, "postgresql.log");
    d->hba = path_join(tmpl, "pg_hba.conf");
    d->ident = path_join(tmpl, "pg_ident.conf");
    return 0;
}

/* 2. barrel's recover into the scratch directory. */
static int
step_restore(struct drill *d)
{
    struct restore_opts o;
    struct restore_result rr;
    struct restore_relocation *relocs = NULL;
    struct restore_target *target;
    struct br_error e;
    char **locs = NULL;
    char self[4096];
    ssize_t n;
    int rc, quiet = d->opts->quiet_restore && !output_is_json() && !output_quiet();
    double t0 = now_s();

    memset(&o, 0, sizeof(o));
    if (d->opts->target_time != NULL)
        o.target_time = d->opts->target_time;
    else
        o.target_immediate = 1;
    /* a promoted server is writable: CREATE EXTENSION amcheck needs that */
    o.target_action = "promote";
    o.jobs = d->srv->parallel_jobs > 0 ? d->srv->parallel_jobs : 1;
    if (o.jobs > RESTORE_MAX_JOBS)
        o.jobs = RESTORE_MAX_JOBS;
    n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    self[n > 0 ? n : 0] = '\0';
    o.barrel_path = n > 0 ? self : NULL;
    o.config_path = d->cfg->path;
    o.barman_user = d->cfg->barman_user;
    /* every tablespace inside the scratch directory, never at its original place */
    if (d->bi->n_tablespaces > 0) {
        relocs = br_calloc(d->bi->n_tablespaces, sizeof(*relocs));
        locs = br_calloc(d->bi->n_tablespaces, sizeof(*locs));
        for (size_t i = 0; i < d->bi->n_tablespaces; i++) {
            locs[i] = br_asprintf("%s/tbs/%s", d->scratch, d->bi->tablespaces[i].name);
            relocs[i].name = d->bi->tablespaces[i].name;
            relocs[i].location = locs[i];
        }
        o.n_relocations = d->bi->n_tablespaces;
        o.relocations = relocs;
    }
    if (quiet)
        output_init(OUTPUT_CONSOLE, 1, 0);
    target = restore_target_local_new();
    br_error_clear(&e);
    rc = restore_run(d->cfg, d->srv, d->bi, d->data, &o, target, &rr, &e);
    restore_target_free(target);
    if (quiet)
        output_init(OUTPUT_CONSOLE, 0, 0);
    if (rc != 0)
        drill_fail(d, "restore failed: %s", e.msg);
    d->res->restore_seconds = now_s() - t0;
    for (size_t i = 0; i < d->bi->n_tablespaces; i++)
        free(locs[i]);
    free(locs);
    free(relocs);
    return rc;
}

/* 3. What the restored configuration cannot be trusted with on this host. */
static int
step_prepare(struct drill *d)
{
    struct br_error e;
    char *conf = path_join(d->data, "postgresql.conf");
    int rc = 0;

    br_error_clear(&e);
    /* Debian keeps postgresql.conf in /etc: the restored directory may have none */
    if (!path_exists(conf) && fs_write_file_durable(conf, "", 0, 0600, &e) != 0)
        rc = -1;
    /* connections over the scratch socket only, trusted */
    if (rc == 0 && fs_write_file_durable(d->hba, "local all all trust\n", 20, 0644, &e) != 0)
        rc = -1;
    if (rc == 0 && fs_write_file_durable(d->ident, "", 0, 0644, &e) != 0)
        rc = -1;
    if (rc == 0 && mkdir(d->sock, 0755) != 0)
        rc = br_error_sys(&e, BR_E_IO, "could not create directory \"%s\"", d->sock);
    if (rc == 0)
        chmod(d->data, 0700);
    /* PostgreSQL refuses to run as root: hand the scratch copy to its user */
    if (rc == 0 && geteuid() == 0) {
        struct passwd *pw = getpwnam(DRILL_PG_OS_USER);
        if (pw == NULL) {
            br_error_set(&e, BR_E_STATE, "running as root and there is no \"%s\" user to run PostgreSQL as",
                         DRILL_PG_OS_USER);
            rc = -1;
        } else {
            d->run_uid = pw->pw_uid;
            d->run_gid = pw->pw_gid;
            d->run_user = DRILL_PG_OS_USER;
            chown_uid = pw->pw_uid;
            chown_gid = pw->pw_gid;
            if (nftw(d->scratch, chown_one, 32, FTW_PHYS) != 0)
                rc = br_error_sys(&e, BR_E_IO, "could not hand \"%s\" to user %s", d->scratch, DRILL_PG_OS_USER);
        }
    }
    if (rc != 0)
        drill_fail(d, "could not prepare the restored directory: %s", e.msg);
    free(conf);
    return rc;
}

/* 4. Start the server and wait for the end of recovery. */
static int
step_start(struct drill *d, struct pgconn **conn_out, char **user_out)
{
    char *opts, *ctl = br_asprintf("%s/pg_ctl", d->bindir), timeout[16], cause[512];
    int timeout_s = d->opts->timeout_s > 0 ? d->opts->timeout_s : DRILL_DEFAULT_TIMEOUT_S;
    double t0 = now_s(), deadline;
    int rc = -1;

    d->port = free_port();
    if (d->port <= 0) {
        drill_fail(d, "no free port on 127.0.0.1");
        free(ctl);
        return -1;
    }
    /* command-line settings win over postgresql.conf and postgresql.auto.conf */
    opts = br_asprintf("-c port=%d -c listen_addresses='' -c unix_socket_directories='%s' -c hba_file='%s' "
                       "-c ident_file='%s' -c archive_mode=off -c synchronous_standby_names='' "
                       "-c shared_preload_libraries='' -c ssl=off -c fsync=off -c hot_standby=on "
                       "-c logging_collector=off -c cluster_name='barrel drill'",
                       d->port, d->sock, d->hba, d->ident);
    snprintf(timeout, sizeof(timeout), "%d", timeout_s);
    {
        const char *argv[] = {ctl, "-D", d->data, "-l", d->log, "-w", "-t", timeout, "-o", opts, "start", NULL};
        d->started = 1;    /* from here on, stop it whatever happens */
        if (run(d, argv) != 0) {
            log_cause(d, cause, sizeof(cause));
            drill_fail(d, "PostgreSQL did not start%s%s", cause[0] ? ": " : "", cause);
            goto out;
        }
    }
    /* recovery ends with the promotion: wait until the server is writable */
    deadline = t0 + timeout_s;
    {
        const char *users[3] = {"postgres", d->cfg->barman_user, NULL};
        struct pgconn *conn = NULL;
        struct br_error e;
        br_error_clear(&e);
        for (size_t i = 0; i < 2 && conn == NULL; i++) {
            if (users[i] == NULL)
                continue;
            char *ci = br_asprintf("host=%s port=%d user=%s dbname=postgres connect_timeout=10", d->sock, d->port,
                                   users[i]);
            conn = pgconn_open(ci, "barrel drill", 0, &e);
            free(ci);
            if (conn != NULL)
                *user_out = br_strdup(users[i]);
        }
        if (conn == NULL) {
            drill_fail(d, "PostgreSQL does not accept connections: %s", e.msg);
            goto out;
        }
        for (;;) {
            int in_rec = pgconn_is_in_recovery(conn, &e);
            if (in_rec == 0)
                break;
            if (in_rec < 0) {
                log_cause(d, cause, sizeof(cause));
                drill_fail(d, "PostgreSQL stopped during recovery%s%s", cause[0] ? ": " : "",
                           cause[0] ? cause : e.msg);
                pgconn_close(conn);
                goto out;
            }
            if (now_s() > deadline) {
                drill_fail(d, "recovery did not end within %d seconds", timeout_s);
                pgconn_close(conn);
                goto out;
            }
            usleep(DRILL_POLL_MS * 1000);
        }
        *conn_out = conn;
    }
    d->res->recovery_seconds = now_s() - t0;
    rc = 0;
out:
    free(opts);
    free(ctl);
    return rc;
}

/* The B-tree indexes amcheck can check, and the check itself in one statement. */
static const char amcheck_sql[] =
    "SELECT count(bt_index_check(c.oid)) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
    "JOIN pg_am am ON am.oid = c.relam "
    "WHERE am.amname = 'btree' AND c.relpersistence <> 't' AND i.indisvalid AND i.indisready";

/* 5. Every database: a query, then amcheck over its B-tree indexes. */
static int
step_checks(struct drill *d, struct pgconn *conn, const char *user)
{
    struct br_error e;
    char *list = NULL, *avail = NULL, *save = NULL;
    int rc = 0;

    br_error_clear(&e);
    if (pgconn_query_value(conn, "SELECT string_agg(datname, E'\\n' ORDER BY datname) FROM pg_database "
                                 "WHERE datallowconn",
                           &list, &e) != 0
        || pgconn_query_value(conn, "SELECT count(*) FROM pg_available_extensions WHERE name = 'amcheck'", &avail,
                              &e) != 0) {
        drill_fail(d, "PostgreSQL does not answer queries: %s", e.msg);
        rc = -1;
        goto out;
    }
    d->res->amcheck = avail != NULL && atoi(avail) > 0;
    for (char *db = strtok_r(list ? list : (char *) (uintptr_t) "", "\n", &save); db != NULL && rc == 0;
         db = strtok_r(NULL, "\n", &save)) {
        char *ci = br_asprintf("host=%s port=%d user=%s dbname='%s' connect_timeout=10", d->sock, d->port, user, db);
        struct pgconn *c = pgconn_open(ci, "barrel drill", 0, &e);
        char *count = NULL;
        free(ci);
        if (c == NULL) {
            drill_fail(d, "database %s does not accept connections: %s", db, e.msg);
            rc = -1;
            break;
        }
        if (pgconn_query_value(c, "SELECT count(*) FROM pg_class", &count, &e) != 0) {
            drill_fail(d, "database %s does not answer queries: %s", db, e.msg);
            rc = -1;
        } else if (d->res->amcheck) {
            free(count);
            count = NULL;
            if (pgconn_exec(c, "CREATE EXTENSION IF NOT EXISTS amcheck", &e) != 0
                || pgconn_query_value(c, amcheck_sql, &count, &e) != 0) {
                drill_fail(d, "amcheck failed in database %s: %s", db, e.msg);
                rc = -1;
            } else
                d->res->indexes_checked += count ? atoll(count) : 0;
        }
        d->res->databases++;
        free(count);
        pgconn_close(c);
    }
out:
    free(list);
    free(avail);
    return rc;
}

/* 6. Stop the server (fast, then immediate). */
static void
step_stop(struct drill *d)
{
    char *ctl = br_asprintf("%s/pg_ctl", d->bindir);
    const char *fast[] = {ctl, "-D", d->data, "-w", "-t", "60", "-m", "fast", "stop", NULL};
    const char *immediate[] = {ctl, "-D", d->data, "-w", "-t", "60", "-m", "immediate", "stop", NULL};
    char *pidfile = path_join(d->data, "postmaster.pid");

    if (path_exists(pidfile) && run(d, fast) != 0 && path_exists(pidfile))
        run(d, immediate);
    free(pidfile);
    free(ctl);
}

int
drill_run(const struct barrel_config *cfg, const struct server_config *srv, const struct backup_info *bi,
          const struct drill_opts *opts, struct drill_result *res, struct br_error *err)
{
    struct drill d;
    struct pgconn *conn = NULL;
    char *user = NULL;
    double t0 = now_s();

    memset(res, 0, sizeof(*res));
    memset(&d, 0, sizeof(d));
    d.cfg = cfg;
    d.srv = srv;
    d.bi = bi;
    d.opts = opts;
    d.res = res;
    res->ok = 1;

    if (step_scratch(&d, err) != 0)
        return -1;
    d.bindir = find_bindir(srv, bi);
    if (d.bindir == NULL)
        drill_fail(&d, "no PostgreSQL %" PRId64 " server binaries (path_prefix, /usr/lib/postgresql/%" PRId64 "/bin)",
                   bi->version / SERVER_VERSION_DIVISOR, bi->version / SERVER_VERSION_DIVISOR);
    /* each step runs only while everything before it passed */
    if (res->ok)
        step_restore(&d);
    if (res->ok)
        step_prepare(&d);
    if (res->ok)
        step_start(&d, &conn, &user);
    if (res->ok)
        step_checks(&d, conn, user);
    res->seconds = now_s() - t0;
    pgconn_close(conn);
    if (d.started)
        step_stop(&d);
    {
        struct br_error e;
        br_error_clear(&e);
        if (fs_remove_tree(d.scratch, &e) != 0)
            output_warning("could not remove the drill's scratch directory: %s", e.msg);
    }
    free(user);
    free(d.scratch);
    free(d.data);
    free(d.sock);
    free(d.log);
    free(d.hba);
    free(d.ident);
    free(d.bindir);
    return 0;
}
