/*
 * cmd_rebuild_xlogdb.c: `rebuild-xlogdb SERVER_NAME [SERVER_NAME ...]`
 * (spec 4.8), with Barman's two lines per server.
 */
#include "barrel/build.h"
#include "barrel/cmd.h"
#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/output.h"
#include "barrel/walrebuild.h"

#include <getopt.h>

int
cmd_rebuild_xlogdb(struct cmd_context *ctx, int argc, char **argv, struct br_error *err)
{
    static const struct option longopts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const struct server_config **servers = NULL;
    const char *lock_dir;
    size_t n;
    int c;

    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'h') {
            cmd_print_help(cmd_find("rebuild-xlogdb"), NULL);
            return 0;
        }
        return br_error_set(err, BR_E_USAGE, "unrecognized arguments: %s", argv[optind - 1]);
    }
    if (argc - optind < 1)
        return br_error_set(err, BR_E_USAGE, "the following arguments are required: server_name");

    lock_dir = ctx->cfg->barman_lock_directory ? ctx->cfg->barman_lock_directory : ctx->cfg->barman_home;
    n = cmd_servers_from_args(ctx, argc - optind, argv + optind, 1, &servers);
    for (size_t i = 0; i < n; i++) {
        struct walrebuild_counts counts;
        struct br_error one;

        if (!cmd_server_usable(servers[i], 0, 1, 1, 1))
            continue;
        output_info("Rebuilding xlogdb for server %s", servers[i]->name);
        if (walrebuild_run(servers[i], lock_dir, &counts, &one) < 0) {
            /* Barman would stop on the exception; report it and go on with the next server */
            output_error("%s", one.msg);
            continue;
        }
        output_info("Done rebuilding xlogdb for server %s (history: %ld, backup_labels: %ld, wal_file: %ld)",
                    servers[i]->name, counts.history, counts.backup_labels, counts.wal_files);
    }
    free(servers);
    return 0;
}
