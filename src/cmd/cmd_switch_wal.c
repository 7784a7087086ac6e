/*
 * cmd_switch_wal.c: `switch-wal [--force] [--archive] [--archive-timeout N]
 * SERVER...` (alias switch-xlog), Barman 3.4's command (cli.py switch_wal,
 * server.py switch_wal/wait_for_wal, postgres.py switch_wal/checkpoint).
 *
 * Recipe per server, in name order: CHECKPOINT under --force (superuser
 * only), the WAL file name before and after pg_switch_wal(), Barman's
 * message for what happened; then, with --archive, archive-wal every 0.1 s
 * (in this process, in Barman's non-verbose mode, so that its "Processing
 * xlog segments ..." lines appear exactly as Barman's do) until the closed
 * file is in wals/, or until --archive-timeout seconds have passed.
 */
#include "barrel/build.h"
#include "barrel/cmd.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <time.h>

#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/fs.h"
#include "barrel/log.h"
#include "barrel/mem.h"
#include "barrel/output.h"
#include "barrel/pgconn.h"
#include "barrel/strbuf.h"
#include "barrel/walarchive.h"
#include "barrel/xlog.h"

#define ARCHIVE_TIMEOUT_DEFAULT_S 30
#define ARCHIVE_POLL_MS 100

struct switch_opts {
    int force;
    int archive;
    long archive_timeout_s;    /* 0: wait for ever, as Barman does */
};

static const char *
lock_dir_of(const struct cmd_context *ctx)
{
    return ctx->cfg->barman_lock_directory ? ctx->cfg->barman_lock_directory : ctx->cfg->barman_home;
}

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/*
 * Barman's PostgreSQLConnection.switch_wal(): the closed WAL file name
 * (new string), "" when no switch was needed; NULL with *standby = 1 on a
 * standby; NULL otherwise when it could not be done (err says why, for the log).
 */
static char *
switch_wal(struct pgconn *conn, int *standby, int *no_privileges, struct br_error *err)
{
    char *pre = NULL, *post = NULL, *ignored = NULL, *closed = NULL;
    int rc;

    *standby = 0;
    *no_privileges = 0;
    rc = pgconn_has_backup_privileges(conn, err);
    if (rc <= 0) {
        *no_privileges = rc == 0;
        return NULL;
    }
    rc = pgconn_is_in_recovery(conn, err);
    if (rc != 0) {
        *standby = rc == 1;
        return NULL;
    }
    if (pgconn_query_value(conn, "SELECT pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_insert_lsn())", &pre,
                           err) != 0
        || pgconn_query_value(conn, "SELECT pg_catalog.pg_walfile_name(pg_catalog.pg_switch_wal())", &ignored,
                              err) != 0
        || pgconn_query_value(conn, "SELECT pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_insert_lsn())",
                              &post, err) != 0)
        goto out;
    if (pre == NULL || post == NULL) {
        br_error_set(err, BR_E_PG, "pg_walfile_name() returned no value");
        goto out;
    }
    closed = br_strdup(strcmp(pre, post) < 0 ? pre : "");
out:
    free(pre);
    free(post);
    free(ignored);
    return closed;
}

/*
 * Barman's get_latest_archived_wals_info(), reduced to what wait_for_wal
 * compares: for each timeline, the newest WAL segment in wals/, as one
 * string ("<name>\n" per timeline, in name order).
 */
static char *
latest_archived(const struct server_config *srv)
{
    struct strbuf sb;
    DIR *d = opendir(srv->wals_directory);
    struct dirent *de;
    char **newest = NULL;        /* one per hash directory; reduced to one per timeline below */
    size_t n = 0, cap = 0;

    strbuf_init(&sb);
    if (d == NULL)
        return strbuf_detach(&sb);
    while ((de = readdir(d)) != NULL) {
        char *dir;
        DIR *hd;
        struct dirent *he;
        char best[XLOG_NAME_LEN + 1] = "";

        if (strlen(de->d_name) != 16)
            continue;
        dir = path_join(srv->wals_directory, de->d_name);
        hd = opendir(dir);
        free(dir);
        if (hd == NULL)
            continue;
        while ((he = readdir(hd)) != NULL)
            if (xlog_is_segment_name(he->d_name) && strcmp(he->d_name, best) > 0)
                memcpy(best, he->d_name, sizeof(best));   /* a segment name: exactly XLOG_NAME_LEN + NUL */
        closedir(hd);
        if (best[0] == '\0')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            newest = br_realloc(newest, cap * sizeof(*newest));
        }
        newest[n++] = br_strdup(best);
    }
    closedir(d);
    /* per timeline (first 8 characters), the greatest name */
    for (size_t i = 0; i < n; i++) {
        int is_max = 1;

        for (size_t j = 0; j < n && is_max; j++)
            if (j != i && strncmp(newest[i], newest[j], 8) == 0 && strcmp(newest[j], newest[i]) > 0)
                is_max = 0;
        if (is_max)
            strbuf_appendf(&sb, "%s\n", newest[i]);
    }
    for (size_t i = 0; i < n; i++)
        free(newest[i]);
    free(newest);
    return strbuf_detach(&sb);
}

/* Barman's wait_for_wal(): archive-wal until the file (or any new file) is in wals/. */
static void
wait_for_wal(struct cmd_context *ctx, const struct server_config *srv, const char *wal_file, long timeout_s)
{
    struct walarchive_opts wo = {.verbose = 0, .workers = 0};
    char max_msg[64] = "";
    char *initial = NULL, *target = NULL;
    double end = timeout_s > 0 ? now_s() + (double) timeout_s : 0;
    int found = 0;

    if (timeout_s > 0)
        snprintf(max_msg, sizeof(max_msg), " (max: %ld seconds)", timeout_s);
    if (wal_file != NULL && wal_file[0] != '\0') {
        char hash[17];

        xlog_hash_dir(wal_file, hash);
        target = br_asprintf("%s/%s/%s", srv->wals_directory, hash, wal_file);
        output_info("Waiting for the WAL file %s from server '%s'%s", wal_file, srv->name, max_msg);
    } else {
        initial = latest_archived(srv);
        output_info("Waiting for a WAL file from server '%s' to be archived%s", srv->name, max_msg);
    }
    while (end == 0 || now_s() < end) {
        struct br_error err;

        br_error_clear(&err);
        if (walarchive_run(srv, lock_dir_of(ctx), &wo, &err) != 0)
            output_error("%s", err.msg);
        if (target != NULL) {
            if (path_exists(target)) {
                found = 1;
                break;
            }
        } else {
            char *current = latest_archived(srv);
            int changed = strcmp(current, initial) != 0;

            free(current);
            if (changed) {
                found = 1;
                break;
            }
        }
        nanosleep(&(struct timespec){0, ARCHIVE_POLL_MS * 1000000L}, NULL);
    }
    if (!found) {
        if (target != NULL)
            output_error("The WAL file %s has not been received in %ld seconds", wal_file, timeout_s);
        else
            output_info("A WAL file has not been received in %ld seconds", timeout_s);
    }
    free(target);
    free(initial);
}

/* Barman's Server.switch_wal() for one server. */
static void
switch_one(struct cmd_context *ctx, const struct server_config *srv, const struct switch_opts *opts)
{
    struct br_error err;
    struct pgconn *conn;
    char *closed = NULL;
    int standby = 0, no_privileges = 0;

    br_error_clear(&err);
    conn = pgconn_open(srv->conninfo, NULL, 0, &err);
    if (opts->force && conn != NULL) {
        int super;

        br_log_info("Force a CHECKPOINT before pg_switch_wal()");
        super = pgconn_is_superuser(conn, &err);
        if (super == 0) {
            output_error("Barman switch-wal requires superuser rights");
            goto out;
        }
        /* Barman logs a failed CHECKPOINT at debug level and goes on */
        if (super < 0 || pgconn_exec(conn, "CHECKPOINT", &err) != 0)
            br_log_debug("Error issuing CHECKPOINT: %s", err.msg);
        br_error_clear(&err);
    }
    if (conn != NULL)
        closed = switch_wal(conn, &standby, &no_privileges, &err);
    if (standby) {
        output_info("No switch performed because server '%s' is a standby.", srv->name);
    } else if (no_privileges) {
        char *user = NULL;
        struct br_error ignored;

        pgconn_query_value(conn, "SELECT CURRENT_USER", &user, &ignored);
        output_error("Postgres user '%s' is missing required privileges (see \"Preliminary steps\" in the Barman "
                     "manual)", user ? user : "");
        free(user);
        goto out;
    } else if (closed == NULL) {
        br_log_debug("Error issuing pg_switch_wal() command: %s", err.msg);
        output_error("Unable to perform pg_switch_wal for server '%s'.", srv->name);
        goto out;
    } else if (closed[0] != '\0') {
        output_info("The WAL file %s has been closed on server '%s'", closed, srv->name);
    } else {
        output_info("No switch required for server '%s'", srv->name);
    }
    /* the connection is not needed while waiting */
    pgconn_close(conn);
    conn = NULL;
    if (opts->archive)
        wait_for_wal(ctx, srv, closed, opts->archive_timeout_s);
out:
    free(closed);
    pgconn_close(conn);
}

static const char switch_wal_help[] =
    "  --force               forces the switch by executing CHECKPOINT before pg_switch_wal(). Note: requires\n"
    "                        superuser permissions\n"
    "  --archive             wait for one WAL file to be archived\n"
    "  --archive-timeout TIMEOUT\n"
    "                        the time, in seconds, the archiver will wait for a new WAL file to be archived\n"
    "                        before timing out\n";

int
cmd_switch_wal(struct cmd_context *ctx, int argc, char **argv, struct br_error *err)
{
    static const struct option longopts[] = {
        {"force", no_argument, NULL, 'f'},
        {"archive", no_argument, NULL, 'a'},
        {"archive-timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct switch_opts opts = {0, 0, ARCHIVE_TIMEOUT_DEFAULT_S};
    const struct server_config **list = NULL;
    size_t n;
    int c;

    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h': cmd_print_help(cmd_find("switch-wal"), switch_wal_help); return 0;
        case 'f': opts.force = 1; break;
        case 'a': opts.archive = 1; break;
        case 't': {
            char *end;
            long v;

            errno = 0;
            v = strtol(optarg, &end, 10);
            if (errno != 0 || end == optarg || *end != '\0' || v < 0 || v > INT_MAX)
                return br_error_set(err, BR_E_USAGE, "argument --archive-timeout: '%s' is not a valid non "
                                    "negative integer", optarg);
            opts.archive_timeout_s = v;
            break;
        }
        default:
            if (optopt == 't')
                return br_error_set(err, BR_E_USAGE, "argument --archive-timeout: expected one argument");
            return br_error_set(err, BR_E_USAGE, "unrecognized arguments: %s", argv[optind - 1]);
        }
    }
    if (argc - optind < 1)
        return br_error_set(err, BR_E_USAGE, "the following arguments are required: server_name");

    n = cmd_servers_from_args(ctx, argc - optind, argv + optind, 1, &list);
    for (size_t i = 0; i < n; i++)
        if (cmd_server_usable(list[i], 0, 1, 1, 1))
            switch_one(ctx, list[i], &opts);
    free(list);
    return 0;
}
