/*
 * cmd_keep.c: `keep SERVER_NAME BACKUP_ID (--target {full,standalone} |
 * --release | --status)`, Barman 3.4's cli.keep().
 *
 * The annotation is Barman's own file (catalog_keep_*: base/<ID>/annotations/keep
 * holding "full" or "standalone"), so a keep set by either tool binds the
 * other. As in Barman, --status wins over --release, which wins over
 * --target; only DONE backups can be kept; --target and --release print
 * nothing on success.
 */
#include "barrel/build.h"
#include "barrel/cmd.h"

#include <getopt.h>

#include "barrel/catalog.h"
#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/json.h"
#include "barrel/output.h"

/* argparse's message for a bad --target, printed exactly (stderr, exit 2). */
static int
bad_target(const struct cmd_context *ctx, const char *value, struct br_error *err)
{
    fflush(stdout);
    fprintf(stderr,
            "usage: %s keep [-h] [--release] [--status] [--target {full,standalone}]\n"
            "%*s server_name backup_id\n"
            "%s keep: error: argument --target: invalid choice: '%s' (choose from 'full', 'standalone')\n",
            ctx->prog, (int) strlen(ctx->prog) + 12, "", ctx->prog, value);
    return br_error_set(err, BR_E_USAGE, "%s", "");
}

/* --status: "Server pg:" / "\tKeep: full" (Barman's status writer), or its JSON form. */
static void
keep_status(const struct server_config *srv, const char *target)
{
    const char *message = target != NULL ? target : "nokeep";

    if (output_is_json()) {
        struct json *status = json_object();
        struct json *item = json_object();

        json_object_set(item, "description", json_string("Keep"));
        json_object_set(item, "message", json_string(message));
        json_object_set(status, "keep_status", item);
        output_result_set(srv->name, status);
        return;
    }
    output_text("Server %s:\n", srv->name);
    output_text("\tKeep: %s\n", message);
}

int
cmd_keep(struct cmd_context *ctx, int argc, char **argv, struct br_error *err)
{
    static const struct option longopts[] = {
        {"target", required_argument, NULL, 't'}, {"release", no_argument, NULL, 'r'},
        {"status", no_argument, NULL, 's'},       {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *target = NULL;
    int release = 0, status = 0, c, rc = -1;
    const struct server_config *srv;
    struct catalog *cat = NULL;
    const struct backup_info *bi;

    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            cmd_print_help(cmd_find("keep"),
                           "  --release             If specified, the command will remove the keep annotation\n"
                           "                        for this backup.\n"
                           "  --status              Return the keep status of the backup\n"
                           "  --target {full,standalone}\n"
                           "                        Specify the recovery target for this backup\n");
            return 0;
        case 't':
            if (strcmp(optarg, "full") != 0 && strcmp(optarg, "standalone") != 0)
                return bad_target(ctx, optarg, err);
            target = optarg;
            continue;
        case 'r':
            release = 1;
            continue;
        case 's':
            status = 1;
            continue;
        default:
            if (optopt == 't')
                return br_error_set(err, BR_E_USAGE, "argument --target: expected one argument");
            return br_error_set(err, BR_E_USAGE, "unrecognized arguments: %s", argv[optind - 1]);
        }
    }
    if (argc - optind < 2)
        return br_error_set(err, BR_E_USAGE, "the following arguments are required: %s",
                            argc - optind == 0 ? "server_name, backup_id" : "backup_id");
    if (argc - optind > 2)
        return br_error_set(err, BR_E_USAGE, "unrecognized arguments: %s", argv[optind + 2]);
    /* Barman checks this before it even looks at the server */
    if (!release && !status && target == NULL) {
        output_error("one of the arguments -r/--release -s/--status --target is required");
        return 0;
    }

    /* 1. the server and the backup */
    srv = cmd_single_server(ctx, &argv[optind]);
    if (srv == NULL)
        return 0;
    cat = catalog_open(srv, err);
    if (cat == NULL)
        goto out;
    bi = catalog_resolve(cat, argv[optind + 1], err);
    if (bi == NULL)
        goto out;

    /* 2. the action */
    if (status) {
        char *current = catalog_keep_get(srv, bi->backup_id);

        keep_status(srv, current);
        free(current);
    } else if (release) {
        if (catalog_keep_release(srv, bi->backup_id, err) != 0)
            goto out;
    } else {
        if (bi->status != BACKUP_STATUS_DONE) {
            output_error("Cannot add keep to backup %s because it has status %s. "
                         "Only backups with status DONE can be kept.",
                         bi->backup_id, backup_status_name(bi->status));
            rc = 0;
            goto out;
        }
        if (catalog_keep_set(srv, bi->backup_id, target, err) != 0)
            goto out;
    }
    rc = 0;
out:
    catalog_free(cat);
    return rc;
}
