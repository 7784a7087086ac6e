/*
 * cmd_recover.c: `recover [options] SERVER BACKUP_ID DESTINATION_DIRECTORY`.
 *
 * Barman 3.4's options and messages (cli.py recover()), plus barrel's:
 * BACKUP_ID `auto`, --delta, --primary-conninfo (with --standby-mode).
 * The work is the recipe in src/restore/; this file parses, validates the
 * command line as Barman does, picks the backup and the target (local, or
 * with --remote-ssh-command the SSH/SFTP target of src/remote/), and holds
 * the backup's lock so that a delete cannot remove the files being
 * restored.
 */
#include "barrel/build.h"
#include "barrel/catalog.h"
#include "barrel/cmd.h"
#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/mem.h"
#include "barrel/output.h"
#include "barrel/remote.h"
#include "barrel/restore.h"
#include "barrel/restore_target.h"

#include <getopt.h>
#include <limits.h>
#include <unistd.h>

#define MAX_RELOCATIONS 256

enum {
    OPT_TARGET_TIME = 1000, OPT_TARGET_XID, OPT_TARGET_LSN, OPT_TARGET_NAME, OPT_TARGET_IMMEDIATE, OPT_TARGET_TLI,
    OPT_EXCLUSIVE, OPT_TARGET_ACTION, OPT_STANDBY, OPT_PRIMARY_CONNINFO, OPT_TABLESPACE, OPT_REMOTE, OPT_GET_WAL,
    OPT_NO_GET_WAL, OPT_STAGING, OPT_DELTA, OPT_NO_DELTA, OPT_BWLIMIT, OPT_RETRY_TIMES, OPT_RETRY_SLEEP, OPT_NO_RETRY,
    OPT_NETCOMP, OPT_NO_NETCOMP, OPT_PROGRESS, OPT_NO_PROGRESS, OPT_BACKGROUND_WAL,
};

static const char options_text[] =
    "  --target-tli TARGET_TLI\n"
    "                        target timeline: a number, 'current' or 'latest'\n"
    "  --target-time TARGET_TIME\n"
    "                        target time, e.g. '2026-11-22 13:32:13+00' (without a zone: local time)\n"
    "  --target-xid TARGET_XID\n"
    "                        target transaction ID\n"
    "  --target-lsn TARGET_LSN\n"
    "                        target LSN (Log Sequence Number)\n"
    "  --target-name TARGET_NAME\n"
    "                        target name created previously with pg_create_restore_point()\n"
    "  --target-immediate    end recovery as soon as a consistent state is reached\n"
    "  --exclusive           set target (time, XID or LSN) to be non inclusive\n"
    "  --target-action {pause,shutdown,promote}\n"
    "                        what PostgreSQL does once the target is reached\n"
    "  --standby-mode        start the recovered server as a standby (standby.signal)\n"
    "  --primary-conninfo CONNINFO\n"
    "                        with --standby-mode: the primary_conninfo the standby streams from (barrel)\n"
    "  --tablespace NAME:LOCATION\n"
    "                        tablespace relocation rule (repeatable)\n"
    "  --remote-ssh-command SSH_COMMAND\n"
    "                        recover to another host over SSH: \"ssh [options] [user@]host\" (see barrel(1))\n"
    "  --get-wal             PostgreSQL fetches WAL with 'barrel get-wal' (restore_command)\n"
    "  --no-get-wal          copy the WAL needed into the destination (default)\n"
    "  --background-wal      with a target, on this host: stage the WAL into barman_wal while PostgreSQL\n"
    "                        already replays (restore_command waits for each segment); barrel extension\n"
    "  --recovery-staging-path RECOVERY_STAGING_PATH\n"
    "                        accepted for Barman compatibility; barrel streams archives and needs no staging\n"
    "  -j JOBS, --jobs JOBS  archives, trees and WAL files restored in parallel\n"
    "  --delta, --delta-restore, --no-delta-restore\n"
    "                        restore over an existing stopped data directory, rewriting only the files that\n"
    "                        differ from the backup's manifest and removing those it lacks\n"
    "  --network-compression, --no-network-compression\n"
    "                        with --remote-ssh-command: compress the SSH transport (ssh -C)\n"
    "  --bwlimit KBPS, --retry-times N, --retry-sleep N, --no-retry\n"
    "                        accepted for Barman compatibility (local copies neither throttle nor retry)\n"
    "  --progress, --no-progress\n"
    "                        progress on standard error (default: when it is a terminal)\n";

static int
is_default_config(const char *path)
{
    static const char *const defaults[] = {"/etc/barrel.conf", "/etc/barrel/barrel.conf", "/etc/barman.conf",
                                           "/etc/barman/barman.conf"};
    if (path == NULL)
        return 1;
    for (size_t i = 0; i < BR_ARRAY_LEN(defaults); i++)
        if (strcmp(path, defaults[i]) == 0)
            return 1;
    return 0;
}

static int
positive_int(const char *text, int *out)
{
    char *end;
    long v = strtol(text, &end, 10);

    if (*text == '\0' || *end != '\0' || v < 1 || v > INT_MAX)
        return -1;
    *out = (int) v;
    return 0;
}

int
cmd_recover(struct cmd_context *ctx, int argc, char **argv, struct br_error *err)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"target-time", required_argument, NULL, OPT_TARGET_TIME},
        {"target-xid", required_argument, NULL, OPT_TARGET_XID},
        {"target-lsn", required_argument, NULL, OPT_TARGET_LSN},
        {"target-name", required_argument, NULL, OPT_TARGET_NAME},
        {"target-immediate", no_argument, NULL, OPT_TARGET_IMMEDIATE},
        {"target-tli", required_argument, NULL, OPT_TARGET_TLI},
        {"exclusive", no_argument, NULL, OPT_EXCLUSIVE},
        {"target-action", required_argument, NULL, OPT_TARGET_ACTION},
        {"standby-mode", no_argument, NULL, OPT_STANDBY},
        {"primary-conninfo", required_argument, NULL, OPT_PRIMARY_CONNINFO},
        {"tablespace", required_argument, NULL, OPT_TABLESPACE},
        {"remote-ssh-command", required_argument, NULL, OPT_REMOTE},
        {"get-wal", no_argument, NULL, OPT_GET_WAL},
        {"no-get-wal", no_argument, NULL, OPT_NO_GET_WAL},
        {"background-wal", no_argument, NULL, OPT_BACKGROUND_WAL},
        {"recovery-staging-path", required_argument, NULL, OPT_STAGING},
        {"jobs", required_argument, NULL, 'j'},
        {"delta", no_argument, NULL, OPT_DELTA},
        {"delta-restore", no_argument, NULL, OPT_DELTA},
        {"no-delta-restore", no_argument, NULL, OPT_NO_DELTA},
        {"bwlimit", required_argument, NULL, OPT_BWLIMIT},
        {"retry-times", required_argument, NULL, OPT_RETRY_TIMES},
        {"retry-sleep", required_argument, NULL, OPT_RETRY_SLEEP},
        {"no-retry", no_argument, NULL, OPT_NO_RETRY},
        {"network-compression", no_argument, NULL, OPT_NETCOMP},
        {"no-network-compression", no_argument, NULL, OPT_NO_NETCOMP},
        {"progress", no_argument, NULL, OPT_PROGRESS},
        {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
        {NULL, 0, NULL, 0}};
    struct restore_opts o;
    struct restore_relocation relocs[MAX_RELOCATIONS];
    char *reloc_names[MAX_RELOCATIONS];
    size_t n_relocs = 0;
    const char *remote = NULL, *staging = NULL;
    int get_wal = -1, delta = -1, jobs = 0, progress = -1, netcomp = 0, background_wal = 0;
    const struct server_config *srv;
    struct catalog *cat = NULL;
    struct backup_info *bi;
    struct catalog_lock *lock = NULL;
    struct restore_target *target = NULL;
    struct restore_result res;
    char self[PATH_MAX], *dest = NULL;
    int c, n_targets, rc = -1;

    memset(&o, 0, sizeof(o));
    optind = 0;    /* 0, not 1: glibc re-initialises and permutes again (main parsed with "+") */
    while ((c = getopt_long(argc, argv, "hj:", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            cmd_print_help(cmd_find("recover"), options_text);
            rc = 0;
            goto out;
        case OPT_TARGET_TIME: o.target_time = optarg; break;
        case OPT_TARGET_XID: o.target_xid = optarg; break;
        case OPT_TARGET_LSN: o.target_lsn = optarg; break;
        case OPT_TARGET_NAME: o.target_name = optarg; break;
        case OPT_TARGET_IMMEDIATE: o.target_immediate = 1; break;
        case OPT_TARGET_TLI: o.target_tli = optarg; break;
        case OPT_EXCLUSIVE: o.exclusive = 1; break;
        case OPT_TARGET_ACTION:
            if (strcmp(optarg, "pause") != 0 && strcmp(optarg, "shutdown") != 0 && strcmp(optarg, "promote") != 0) {
                br_error_set(err, BR_E_USAGE, "argument --target-action: invalid choice: '%s' (choose from 'pause', "
                             "'shutdown', 'promote')", optarg);
                goto out;
            }
            o.target_action = optarg;
            break;
        case OPT_STANDBY: o.standby_mode = 1; break;
        case OPT_PRIMARY_CONNINFO: o.primary_conninfo = optarg; break;
        case OPT_TABLESPACE: {
            const char *colon = strchr(optarg, ':');
            if (colon == NULL) {
                output_error("Invalid tablespace relocation rule '%s'", optarg);
                output_info("HINT: The valid syntax for a relocation rule is NAME:LOCATION");
                br_error_set(err, BR_E_CHECK_FAILED, "%s", "");
                goto out;
            }
            if (n_relocs == MAX_RELOCATIONS) {
                br_error_set(err, BR_E_USAGE, "too many --tablespace rules (at most %d)", MAX_RELOCATIONS);
                goto out;
            }
            /* a later rule for the same name wins, as Barman's dict update */
            size_t slot = n_relocs;
            char *name = br_strndup(optarg, (size_t) (colon - optarg));
            for (size_t i = 0; i < n_relocs; i++)
                if (strcmp(reloc_names[i], name) == 0)
                    slot = i;
            if (slot == n_relocs)
                reloc_names[n_relocs++] = name;
            else
                free(name);
            relocs[slot].name = reloc_names[slot];
            relocs[slot].location = colon + 1;
            break;
        }
        case OPT_REMOTE: remote = optarg; break;
        case OPT_GET_WAL: get_wal = 1; break;
        case OPT_NO_GET_WAL: get_wal = 0; break;
        case OPT_BACKGROUND_WAL: background_wal = 1; break;
        case OPT_STAGING: staging = optarg; break;
        case 'j':
            if (positive_int(optarg, &jobs) != 0) {
                br_error_set(err, BR_E_USAGE, "argument -j/--jobs: invalid positive integer value: '%s'", optarg);
                goto out;
            }
            break;
        case OPT_DELTA: delta = 1; break;
        case OPT_NO_DELTA: delta = 0; break;
        case OPT_BWLIMIT: case OPT_RETRY_TIMES: case OPT_RETRY_SLEEP: case OPT_NO_RETRY: break;
        case OPT_NETCOMP: netcomp = 1; break;
        case OPT_NO_NETCOMP: netcomp = 0; break;
        case OPT_PROGRESS: progress = 1; break;
        case OPT_NO_PROGRESS: progress = 0; break;
        default:
            br_error_set(err, BR_E_USAGE, "recover: unrecognized arguments");
            goto out;
        }
    }
    if (argc - optind != 3) {
        br_error_set(err, BR_E_USAGE, "recover: expected SERVER_NAME BACKUP_ID DESTINATION_DIRECTORY");
        goto out;
    }
    srv = cmd_single_server(ctx, &argv[optind]);
    if (srv == NULL) {
        rc = 0;
        goto out;
    }

    /* the backup: an id, a name, latest/oldest, or auto (the newest DONE one before the target) */
    cat = catalog_open(srv, err);
    if (cat == NULL)
        goto out;
    bi = strcmp(argv[optind + 1], "auto") == 0 ? restore_pick_auto(cat, &o, err) : catalog_resolve(cat, argv[optind + 1], err);
    if (bi == NULL)
        goto out;
    if (bi->status != BACKUP_STATUS_DONE && bi->status != BACKUP_STATUS_WAITING_FOR_WALS) {
        br_error_set(err, BR_E_STATE, "Cannot recover from backup '%s' of server '%s': backup status is not DONE",
                     argv[optind + 1], srv->name);
        goto out;
    }
    /* barrel streams compressed archives: the staging path is only validated */
    if (staging != NULL && staging[0] != '/') {
        br_error_set(err, BR_E_STATE, "Cannot parse recovery staging path: Invalid value : '%s' (must be an absolute "
                     "path)", staging);
        goto out;
    }
    if (strchr(argv[optind + 2], ':') != NULL) {
        br_error_set(err, BR_E_USAGE, "The destination directory parameter cannot contain the ':' character");
        br_error_hint(err, "If you want to do a remote recovery you have to use the --remote-ssh-command option");
        err->code = BR_E_STATE;
        goto out;
    }
    n_targets = (o.target_time != NULL) + (o.target_xid != NULL) + (o.target_lsn != NULL) + (o.target_name != NULL)
                + o.target_immediate;
    if (n_targets > 1) {
        br_error_set(err, BR_E_STATE, "You cannot specify multiple targets for the recovery operation");
        goto out;
    }
    if (netcomp && remote == NULL) {
        br_error_set(err, BR_E_STATE, "Network compression can only be used with --remote-ssh-command");
        goto out;
    }
    if (o.primary_conninfo != NULL && !o.standby_mode) {
        br_error_set(err, BR_E_USAGE, "--primary-conninfo needs --standby-mode");
        goto out;
    }
    if (remote != NULL && argv[optind + 2][0] != '/') {
        br_error_set(err, BR_E_USAGE, "the destination directory must be an absolute path with --remote-ssh-command");
        goto out;
    }

    /* options, with the server's recovery_options and parallel_jobs as defaults */
    o.n_relocations = n_relocs;
    o.relocations = relocs;
    o.get_wal = get_wal >= 0 ? get_wal : (srv->recovery_options & RECOVERY_OPT_GET_WAL) != 0;
    o.delta = delta >= 0 ? delta : (srv->recovery_options & RECOVERY_OPT_DELTA) != 0;
    o.background_wal = background_wal;
    o.jobs = jobs > 0 ? jobs : srv->parallel_jobs > 0 ? srv->parallel_jobs : 1;
    if (o.jobs > RESTORE_MAX_JOBS)
        o.jobs = RESTORE_MAX_JOBS;
    o.progress = progress >= 0 ? progress : isatty(STDERR_FILENO) && !output_quiet() && !output_is_json();
    {
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        self[n > 0 ? n : 0] = '\0';
        o.barrel_path = n > 0 ? self : NULL;
    }
    o.config_path = is_default_config(ctx->cfg->path) ? NULL : ctx->cfg->path;
    o.barman_user = ctx->cfg->barman_user;

    /* the destination as an absolute path */
    if (argv[optind + 2][0] == '/') {
        dest = br_strdup(argv[optind + 2]);
    } else {
        char cwd[PATH_MAX];
        if (getcwd(cwd, sizeof(cwd)) == NULL) {
            br_error_sys(err, BR_E_IO, "could not get the current directory");
            goto out;
        }
        dest = br_asprintf("%s/%s", cwd, argv[optind + 2]);
    }
    while (strlen(dest) > 1 && dest[strlen(dest) - 1] == '/')
        dest[strlen(dest) - 1] = '\0';

    /* the backup's lock (Barman's ServerBackupIdLock): a delete waits for the recovery */
    lock = catalog_lock_acquire(ctx->cfg->barman_lock_directory ? ctx->cfg->barman_lock_directory
                                                                : ctx->cfg->barman_home,
                                srv->name, bi->backup_id, 1, err);
    if (lock == NULL)
        goto out;
    /* remote: the host key and the login are checked here, before anything is written */
    if (remote != NULL) {
        /* --network-compression: SSH's own compression (ssh -C) */
        char *command = netcomp ? br_asprintf("%s -C", remote) : br_strdup(remote);
        target = restore_target_ssh_new(command, err);
        free(command);
        if (target == NULL)
            goto out;
    } else {
        target = restore_target_local_new();
    }
    rc = restore_run(ctx->cfg, srv, bi, dest, &o, target, &res, err);
out:
    restore_target_free(target);
    catalog_lock_release(lock);
    catalog_free(cat);
    for (size_t i = 0; i < n_relocs; i++)
        free(reloc_names[i]);
    free(dest);
    return rc;
}
