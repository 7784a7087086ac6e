/*
 * cmd_archive_wal.c: `archive-wal SERVER_NAME` (spec 4.2): the front-end of
 * walarchive_run(), in Barman's verbose mode (headers and "no file found"
 * are printed even when there is nothing to archive).
 */
#include "barrel/build.h"
#include "barrel/cmd.h"
#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/walarchive.h"

#include <getopt.h>

int
cmd_archive_wal(struct cmd_context *ctx, int argc, char **argv, struct br_error *err)
{
    static const struct option longopts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    struct walarchive_opts opts = {.verbose = 1, .workers = 0};
    const struct server_config *srv;
    const char *lock_dir;
    int c;

    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'h') {
            cmd_print_help(cmd_find("archive-wal"), NULL);
            return 0;
        }
        return br_error_set(err, BR_E_USAGE, "unrecognized arguments: %s", argv[optind - 1]);
    }
    if (argc - optind < 1)
        return br_error_set(err, BR_E_USAGE, "the following arguments are required: server_name");
    if (argc - optind > 1)
        return br_error_set(err, BR_E_USAGE, "unrecognized arguments: %s", argv[optind + 1]);

    srv = cmd_single_server(ctx, &argv[optind]);
    if (srv == NULL)
        return 0;       /* reported (or an inactive server, skipped as Barman does) */
    lock_dir = ctx->cfg->barman_lock_directory ? ctx->cfg->barman_lock_directory : ctx->cfg->barman_home;
    return walarchive_run(srv, lock_dir, &opts, err);
}
