/*
 * cmd_backup.c: `backup SERVER_NAME...|all` and `check-backup SERVER_NAME
 * BACKUP_ID`, thin front-ends over src/backup/ and backup_check.
 *
 * backup runs the servers in name order and goes on after a failure, as
 * Barman does; each failure is printed as it happens and the run exits 1.
 * A single server's failure is returned as the command's error.
 *
 * check-backup is silent (Barman's prints only debug lines) and refuses
 * FAILED backups with Barman's message.
 */
#include "barrel/build.h"
#include "barrel/cmd.h"

#include <getopt.h>
#include <unistd.h>

#include "barrel/backup.h"
#include "barrel/backup_check.h"
#include "barrel/catalog.h"
#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/mem.h"
#include "barrel/output.h"

static const char backup_options_help[] =
    "  --name NAME           a name which can be used to reference this backup in commands\n"
    "                        such as recover and delete\n"
    "  -w, --wait            wait for all the required WAL files to be archived\n"
    "  --wait-timeout WAIT_TIMEOUT\n"
    "                        the time, in seconds, spent waiting for the required WAL files\n"
    "                        to be archived before timing out\n"
    "  --immediate-checkpoint\n"
    "                        forces the initial checkpoint to be done as quickly as possible\n"
    "  --no-immediate-checkpoint\n"
    "                        forces the initial checkpoint to be spread\n"
    "  --bwlimit KBPS        maximum transfer rate in kilobytes per second (overrides bandwidth_limit)\n";

/* Barman's check for --name: not empty, not an ID, not a reserved word. */
static int
check_backup_name(const char *name, struct br_error *err)
{
    static const char *const reserved[] = {"latest", "last", "oldest", "first", "last-failed"};

    if (name[0] == '\0')
        return br_error_set(err, BR_E_USAGE, "Backup name cannot be empty");
    if (backup_id_is_valid(name))
        return br_error_set(err, BR_E_USAGE, "Backup name '%s' is not allowed: backup ID", name);
    for (size_t i = 0; i < BR_ARRAY_LEN(reserved); i++)
        if (strcmp(name, reserved[i]) == 0)
            return br_error_set(err, BR_E_USAGE, "Backup name '%s' is not allowed: reserved word", name);
    return 0;
}

static int
parse_seconds(const char *text, int *out)
{
    char *end;
    long v = strtol(text, &end, 10);

    if (end == text || *end != '\0' || v < 0 || v > 1000000000L)
        return -1;
    *out = (int) v;
    return 0;
}

int
cmd_backup(struct cmd_context *ctx, int argc, char **argv, struct br_error *err)
{
    enum { OPT_NAME = 1000, OPT_WAIT_TIMEOUT, OPT_IMMEDIATE, OPT_NO_IMMEDIATE, OPT_BWLIMIT, OPT_REUSE, OPT_JOBS,
           OPT_RETRY_TIMES, OPT_RETRY_SLEEP, OPT_NO_RETRY };
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"name", required_argument, NULL, OPT_NAME},
        {"wait", no_argument, NULL, 'w'},
        {"wait-timeout", required_argument, NULL, OPT_WAIT_TIMEOUT},
        {"immediate-checkpoint", no_argument, NULL, OPT_IMMEDIATE},
        {"no-immediate-checkpoint", no_argument, NULL, OPT_NO_IMMEDIATE},
        {"bwlimit", required_argument, NULL, OPT_BWLIMIT},
        {NULL, 0, NULL, 0},
    };
    struct backup_options opts;
    const struct server_config **servers = NULL;
    int64_t bwlimit = -1;
    size_t n_servers, failures = 0;
    int c;

    memset(&opts, 0, sizeof(opts));
    opts.immediate_checkpoint = -1;
    opts.prog = ctx->prog;
    opts.lock_dir = ctx->cfg->barman_lock_directory ? ctx->cfg->barman_lock_directory : ctx->cfg->barman_home;
    /* progress only where someone watches it */
    opts.progress = isatty(STDERR_FILENO) && !output_quiet() && !output_is_json();

    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "hw", longopts, NULL)) != -1) {
        switch (c) {
        case 'h': cmd_print_help(cmd_find("backup"), backup_options_help); return 0;
        case OPT_NAME:
            if (check_backup_name(optarg, err) != 0)
                return -1;
            opts.name = optarg;
            break;
        case 'w': opts.wait = 1; break;
        case OPT_WAIT_TIMEOUT:
            if (parse_seconds(optarg, &opts.wait_timeout_s) != 0)
                return br_error_set(err, BR_E_USAGE, "argument --wait-timeout: invalid value: '%s'", optarg);
            break;
        case OPT_IMMEDIATE: opts.immediate_checkpoint = 1; break;
        case OPT_NO_IMMEDIATE: opts.immediate_checkpoint = 0; break;
        case OPT_BWLIMIT: {
            int v;

            if (parse_seconds(optarg, &v) != 0)
                return br_error_set(err, BR_E_USAGE, "argument --bwlimit: invalid value: '%s'", optarg);
            bwlimit = v;
            break;
        }
        default:
            return br_error_set(err, BR_E_USAGE, "unrecognized arguments: %s", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return br_error_set(err, BR_E_USAGE, "the following arguments are required: server_name");

    n_servers = cmd_servers_from_args(ctx, argc - optind, argv + optind, 1, &servers);
    for (size_t i = 0; i < n_servers; i++) {
        struct server_config srv_copy;
        char id[BACKUP_ID_LEN + 1];
        struct br_error e;

        if (!cmd_server_usable(servers[i], 0, 1, 1, 1)) {
            failures++;
            continue;
        }
        /* --bwlimit overrides the server's bandwidth_limit for this run */
        srv_copy = *servers[i];
        if (bwlimit >= 0)
            srv_copy.bandwidth_limit = bwlimit;
        br_error_clear(&e);
        if (backup_run(&srv_copy, &opts, id, &e) != 0) {
            failures++;
            if (n_servers == 1) {
                *err = e;
                free(servers);
                return -1;
            }
            output_error("%s", e.msg);
            if (e.detail[0])
                output_error("DETAIL: %s", e.detail);
        }
    }
    free(servers);
    if (failures > 0 || output_had_error())
        return br_error_set(err, BR_E_CHECK_FAILED, "%s", "");
    return 0;
}

int
cmd_check_backup(struct cmd_context *ctx, int argc, char **argv, struct br_error *err)
{
    static const struct option longopts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *lock_dir = ctx->cfg->barman_lock_directory ? ctx->cfg->barman_lock_directory : ctx->cfg->barman_home;
    const struct server_config *srv;
    struct catalog *cat = NULL;
    struct catalog_lock *lock = NULL;
    struct backup_info *bi;
    int c, rc = -1;

    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'h') {
            cmd_print_help(cmd_find("check-backup"), NULL);
            return 0;
        }
        return br_error_set(err, BR_E_USAGE, "unrecognized arguments: %s", argv[optind - 1]);
    }
    if (argc - optind < 2)
        return br_error_set(err, BR_E_USAGE, "the following arguments are required: %s",
                            argc - optind == 0 ? "server_name, backup_id" : "backup_id");
    if (argc - optind > 2)
        return br_error_set(err, BR_E_USAGE, "unrecognized arguments: %s", argv[optind + 2]);

    srv = cmd_single_server(ctx, &argv[optind]);
    if (srv == NULL)
        return 0;
    cat = catalog_open(srv, err);
    if (cat == NULL)
        goto out;
    bi = catalog_resolve(cat, argv[optind + 1], err);
    if (bi == NULL)
        goto out;
    output_debug("Checking backup %s of server %s", bi->backup_id, srv->name);
    if (bi->status == BACKUP_STATUS_FAILED) {
        output_error("The validity of a failed backup cannot be checked");
        rc = 0;
        goto out;
    }
    /* one process modifies a backup at a time */
    lock = catalog_lock_acquire(lock_dir, srv->name, bi->backup_id, 0, err);
    if (lock == NULL)
        goto out;
    {
        enum backup_status before = bi->status;

        if (backup_check(srv, bi, err) != 0)
            goto out;
        if (bi->status == before)
            output_debug("Check finished: the status of backup %s of server %s remains %s", bi->backup_id,
                         srv->name, backup_status_name(bi->status));
        else
            output_debug("Check finished: the status of backup %s of server %s changed from %s to %s",
                         bi->backup_id, srv->name, backup_status_name(before), backup_status_name(bi->status));
    }
    rc = 0;
out:
    catalog_lock_release(lock);
    catalog_free(cat);
    return rc;
}
