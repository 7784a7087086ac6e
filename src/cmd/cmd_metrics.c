/*
 * cmd_metrics.c: `metrics [--output FILE] [--offline] [SERVER...|all]`,
 * the report's figures in the Prometheus text format (families and labels:
 * man/barrel.1, METRICS). With --output the file is replaced atomically,
 * as node_exporter's textfile collector needs; `barrel cron` does the same
 * for every distinct metrics_file of the configuration.
 */
#include "barrel/build.h"
#include "barrel/cmd.h"

#include <getopt.h>

#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/mem.h"
#include "barrel/output.h"
#include "barrel/report.h"

int
cmd_metrics(struct cmd_context *ctx, int argc, char **argv, struct br_error *err)
{
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'}, {"offline", no_argument, NULL, 'O'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    const struct server_config **servers = NULL;
    const struct server_config **usable;
    const char *lock_dir = ctx->cfg->barman_lock_directory ? ctx->cfg->barman_lock_directory : ctx->cfg->barman_home;
    const char *output = NULL;
    char *all[] = {(char *) (uintptr_t) "all"};
    int c, live = 1, rc;
    size_t n, n_usable = 0;

    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            cmd_print_help(cmd_find("metrics"),
                           "  -o, --output FILE     write the metrics to FILE atomically (default: standard output)\n"
                           "  --offline             do not ask the PostgreSQL servers for their WAL position\n");
            return 0;
        case 'o':
            output = optarg;
            break;
        case 'O':
            live = 0;
            break;
        default:
            return br_error_set(err, BR_E_USAGE, "metrics: unrecognized arguments: %s", argv[optind - 1]);
        }
    }
    if (optind < argc)
        n = cmd_servers_from_args(ctx, argc - optind, &argv[optind], 1, &servers);
    else
        n = cmd_servers_from_args(ctx, 1, all, 1, &servers);
    usable = br_calloc(n ? n : 1, sizeof(*usable));
    for (size_t i = 0; i < n; i++)
        if (cmd_server_usable(servers[i], 0, 0, 1, 0))
            usable[n_usable++] = servers[i];
    rc = metrics_write_file(usable, n_usable, lock_dir, live, output, err);
    free(usable);
    free(servers);
    if (rc == 0 && output_had_error())
        return br_error_set(err, BR_E_CHECK_FAILED, "%s", "");
    return rc;
}
