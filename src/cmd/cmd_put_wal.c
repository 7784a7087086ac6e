/*
 * cmd_put_wal.c: `put-wal [-t|--test] SERVER_NAME` (spec 6.9): the tar
 * stream of barman-wal-archive on standard input goes into incoming/.
 */
#include "barrel/build.h"
#include "barrel/cmd.h"
#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/output.h"
#include "barrel/putwal.h"

#include <getopt.h>
#include <unistd.h>

int
cmd_put_wal(struct cmd_context *ctx, int argc, char **argv, struct br_error *err)
{
    static const struct option longopts[] = {
        {"test", no_argument, NULL, 't'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
    };
    const struct server_config *srv;
    int c, test = 0;

    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "th", longopts, NULL)) != -1) {
        if (c == 't') {
            test = 1;
            continue;
        }
        if (c == 'h') {
            cmd_print_help(cmd_find("put-wal"),
                           "  --test, -t            test both the connection and the configuration of the requested\n"
                           "                        PostgreSQL server in Barman to make sure it is ready to receive WAL\n"
                           "                        files.\n");
            return 0;
        }
        return br_error_set(err, BR_E_USAGE, "unrecognized arguments: %s", argv[optind - 1]);
    }
    if (argc - optind < 1)
        return br_error_set(err, BR_E_USAGE, "the following arguments are required: server_name");
    if (argc - optind > 1)
        return br_error_set(err, BR_E_USAGE, "unrecognized arguments: %s", argv[optind + 1]);

    srv = cmd_wal_server(ctx, argv[optind]);
    if (srv == NULL)
        return 0;       /* reported: exit status 1 */
    if (test) {
        output_info("Ready to accept WAL files for the server %s", srv->name);
        return 0;
    }
    return putwal_run(srv, STDIN_FILENO, err);
}
