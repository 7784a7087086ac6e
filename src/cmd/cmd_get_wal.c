/*
 * cmd_get_wal.c: `get-wal [-o DIR] [-P] [-z|-x|--gzip] [-j|--bzip2]
 * [-p N|--peek N] [-t|--test] [--keep-compression] SERVER_NAME WAL_NAME`
 * (spec 5.2, 6.7), the restore_command side of Barman's CLI. Exit status:
 * 0 found, 1 not found, 3 bad WAL name or unwritable output file.
 */
#include "barrel/build.h"
#include "barrel/cmd.h"
#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/getwal.h"
#include "barrel/output.h"

#include <errno.h>
#include <getopt.h>

static const char get_wal_help[] =
    "  --output-directory OUTPUT_DIRECTORY, -o OUTPUT_DIRECTORY\n"
    "                        put the retrieved WAL file in this directory with the original name\n"
    "  --partial, -P         retrieve also partial WAL files (.partial)\n"
    "  --gzip, -z, -x        compress the output with gzip\n"
    "  --bzip2, -j           compress the output with bzip2\n"
    "  --keep-compression    send the WAL file as it is stored (Barman >= 3.12)\n"
    "  --peek SIZE, -p SIZE  peek from the WAL archive up to 'SIZE' WAL files, starting from the requested one.\n"
    "                        'SIZE' must be an integer >= 1. When invoked with this option, get-wal returns a\n"
    "                        list of zero to 'SIZE' WAL segment names, one per row.\n"
    "  --test, -t            test both the connection and the configuration of the requested PostgreSQL server\n"
    "                        in Barman for WAL retrieval. With this option, the 'wal_name' mandatory argument\n"
    "                        is ignored.\n";

/*
 * Barman's get_server(args, inactive_is_error=True): "all" and unknown names
 * are errors, an inactive server is an error, a disabled one prints its
 * configuration problems.
 */
const struct server_config *
cmd_wal_server(struct cmd_context *ctx, const char *name)
{
    const struct server_config *srv;

    if (strcmp(name, "all") == 0) {
        output_error("You cannot use 'all' in a single server context");
        return NULL;
    }
    srv = config_find_server(ctx->cfg, name);
    if (srv == NULL) {
        output_error("Unknown server '%s'", name);
        return NULL;
    }
    if (!cmd_server_usable(srv, 1, 1, 1, 1))
        return NULL;
    return srv;
}

static int
parse_peek(const char *text, int *out, struct br_error *err)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(text, &end, 10);
    if (end == text || *end != '\0' || errno != 0 || v > 1000000000L)
        return br_error_set(err, BR_E_USAGE, "argument --peek/-p: '%s' is not a valid positive integer", text);
    if (v < 1)
        return br_error_set(err, BR_E_USAGE, "argument --peek/-p: '%s' is not a valid positive integer", text);
    *out = (int) v;
    return 0;
}

int
cmd_get_wal(struct cmd_context *ctx, int argc, char **argv, struct br_error *err)
{
    static const struct option longopts[] = {
        {"output-directory", required_argument, NULL, 'o'}, {"partial", no_argument, NULL, 'P'},
        {"gzip", no_argument, NULL, 'z'},  {"bzip2", no_argument, NULL, 'j'},
        {"peek", required_argument, NULL, 'p'}, {"test", no_argument, NULL, 't'},
        {"keep-compression", no_argument, NULL, 'K'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct getwal_opts opts = {0};
    const struct server_config *srv;
    int c, test = 0;

    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:Pzxjp:th", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': opts.output_dir = optarg; break;
        case 'P': opts.partial = 1; break;
        case 'z':
        case 'x': opts.compression = GETWAL_GZIP; break;
        case 'j': opts.compression = GETWAL_BZIP2; break;
        case 'K': opts.compression = GETWAL_KEEP; break;
        case 'p':
            if (parse_peek(optarg, &opts.peek, err) < 0)
                return -1;
            break;
        case 't': test = 1; break;
        case 'h': cmd_print_help(cmd_find("get-wal"), get_wal_help); return 0;
        default:
            if (optopt == 'o' || optopt == 'p')
                return br_error_set(err, BR_E_USAGE, "argument -%c: expected one argument", optopt);
            return br_error_set(err, BR_E_USAGE, "unrecognized arguments: %s", argv[optind - 1]);
        }
    }
    if (argc - optind < 2)
        return br_error_set(err, BR_E_USAGE, "the following arguments are required: %s",
                            argc - optind == 0 ? "server_name, wal_name" : "wal_name");
    if (argc - optind > 2)
        return br_error_set(err, BR_E_USAGE, "unrecognized arguments: %s", argv[optind + 2]);

    srv = cmd_wal_server(ctx, argv[optind]);
    if (srv == NULL)
        return 0;       /* reported: exit status 1 */
    if (test) {
        output_info("Ready to retrieve WAL files from the server %s", srv->name);
        return 0;
    }
    opts.wal_name = argv[optind + 1];
    return getwal_run(srv, &opts, err);
}
