/*
 * cmd_drill.c: `drill SERVER [BACKUP_ID] [--target-time TIME]
 * [--scratch-dir DIR] [--timeout SECONDS]`, the restore drill (beyond
 * Barman): restore the backup (default: latest) into a scratch directory,
 * start PostgreSQL on it, recover to the backup's end or the target, check
 * it answers and its B-tree indexes pass amcheck, measure the whole, clean
 * up. The verdict goes to <backup_directory>/barrel/drill/<ID>.json for
 * report and metrics; the exit status is 1 when the drill failed.
 */
#include "barrel/build.h"
#include "barrel/cmd.h"

#include <getopt.h>
#include <inttypes.h>
#include <time.h>

#include "barrel/catalog.h"
#include "barrel/config.h"
#include "barrel/drill.h"
#include "barrel/error.h"
#include "barrel/json.h"
#include "barrel/output.h"

int
cmd_drill(struct cmd_context *ctx, int argc, char **argv, struct br_error *err)
{
    static const struct option longopts[] = {
        {"target-time", required_argument, NULL, 't'}, {"scratch-dir", required_argument, NULL, 's'},
        {"timeout", required_argument, NULL, 'T'},     {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct drill_opts opts = {.quiet_restore = 1};
    struct drill_result res;
    const struct server_config *srv;
    struct catalog *cat = NULL;
    struct catalog_lock *lock = NULL;
    struct backup_info *bi;
    const char *lock_dir = ctx->cfg->barman_lock_directory ? ctx->cfg->barman_lock_directory : ctx->cfg->barman_home;
    int c, rc = -1;

    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            cmd_print_help(cmd_find("drill"),
                           "  --target-time TIME    recover to this time instead of the backup's end\n"
                           "  --scratch-dir DIR     where the scratch copy goes (default: $TMPDIR, else /var/tmp)\n"
                           "  --timeout SECONDS     limit for the server's start and recovery (default 600)\n");
            return 0;
        case 't':
            opts.target_time = optarg;
            break;
        case 's':
            opts.scratch_parent = optarg;
            break;
        case 'T':
            opts.timeout_s = atoi(optarg);
            if (opts.timeout_s <= 0)
                return br_error_set(err, BR_E_USAGE, "--timeout: \"%s\" is not a positive number of seconds", optarg);
            break;
        default:
            return br_error_set(err, BR_E_USAGE, "drill: unrecognized arguments: %s", argv[optind - 1]);
        }
    }
    if (argc - optind < 1 || argc - optind > 2)
        return br_error_set(err, BR_E_USAGE, "drill: expected SERVER_NAME [BACKUP_ID]");
    srv = cmd_single_server(ctx, &argv[optind]);
    if (srv == NULL)
        return 0;
    cat = catalog_open(srv, err);
    if (cat == NULL)
        return -1;
    bi = catalog_resolve(cat, argc - optind == 2 ? argv[optind + 1] : "latest", err);
    if (bi == NULL)
        goto out;
    if (bi->status != BACKUP_STATUS_DONE) {
        br_error_set(err, BR_E_STATE, "backup %s of server %s has status %s: only DONE backups can be drilled",
                     bi->backup_id, srv->name, backup_status_name(bi->status));
        goto out;
    }
    /* the backup's lock, as recover takes it: a delete waits for the drill */
    lock = catalog_lock_acquire(lock_dir, srv->name, bi->backup_id, 1, err);
    if (lock == NULL)
        goto out;

    output_info("Starting the restore drill of backup %s of server %s", bi->backup_id, srv->name);
    if (drill_run(ctx->cfg, srv, bi, &opts, &res, err) != 0)
        goto out;
    if (drill_record(srv, bi->backup_id, &res, time(NULL), err) != 0)
        goto out;
    if (output_is_json()) {
        struct json *obj = json_object();
        json_object_set(obj, "backup_id", json_string(bi->backup_id));
        json_object_set(obj, "result", json_string(res.ok ? "OK" : "FAILED"));
        json_object_set(obj, "message", json_string(res.message[0] ? res.message : NULL));
        json_object_set(obj, "seconds", json_double(res.seconds));
        json_object_set(obj, "restore_seconds", json_double(res.restore_seconds));
        json_object_set(obj, "recovery_seconds", json_double(res.recovery_seconds));
        json_object_set(obj, "databases", json_int(res.databases));
        json_object_set(obj, "indexes_checked", json_int(res.indexes_checked));
        json_object_set(obj, "amcheck", json_bool(res.amcheck));
        output_result_set(srv->name, obj);
    }
    if (res.ok) {
        if (!res.amcheck)
            output_warning("amcheck is not available: B-tree indexes were not checked");
        output_info("Restore drill of backup %s of server %s: OK in %.1f s (restore %.1f s, recovery %.1f s, "
                    "%" PRId64 " databases, %" PRId64 " B-tree indexes checked)",
                    bi->backup_id, srv->name, res.seconds, res.restore_seconds, res.recovery_seconds, res.databases,
                    res.indexes_checked);
        rc = 0;
    } else {
        br_error_set(err, BR_E_CHECK_FAILED, "restore drill of backup %s of server %s failed: %s", bi->backup_id,
                     srv->name, res.message);
    }
out:
    catalog_lock_release(lock);
    catalog_free(cat);
    return rc;
}
