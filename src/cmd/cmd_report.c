/*
 * cmd_report.c: `report [-f text|json] [--offline] [SERVER...|all]`, the
 * morning-after page of each server (last backup, WAL archive and lag,
 * retention, verifications and drills, failures, free space and days left).
 *
 * Text for a terminal or a cron mail; JSON whose keys are documented by
 * contrib/report.schema.json. The command reports, it does not judge: it
 * exits 0 whatever the servers' state (a server's "status" says it).
 */
#include "barrel/build.h"
#include "barrel/cmd.h"

#include <getopt.h>
#include <time.h>

#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/json.h"
#include "barrel/mem.h"
#include "barrel/output.h"
#include "barrel/report.h"
#include "barrel/strbuf.h"

int
cmd_report(struct cmd_context *ctx, int argc, char **argv, struct br_error *err)
{
    static const struct option longopts[] = {
        {"format", required_argument, NULL, 'f'}, {"offline", no_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    const struct server_config **servers = NULL;
    const char *lock_dir = ctx->cfg->barman_lock_directory ? ctx->cfg->barman_lock_directory : ctx->cfg->barman_home;
    char *all[] = {(char *) (uintptr_t) "all"};
    int c, live = 1, rc = 0;
    size_t n;
    int64_t now = (int64_t) time(NULL);

    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "hf:", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            cmd_print_help(cmd_find("report"),
                           "  -f, --format {text,json}\n"
                           "                        output format (also a global option)\n"
                           "  --offline             do not ask the PostgreSQL servers for their WAL position\n");
            return 0;
        case 'f':
            if (strcmp(optarg, "json") == 0) {
                if (!output_is_json())
                    output_init(OUTPUT_JSON, output_quiet(), 0);
            } else if (strcmp(optarg, "text") == 0 || strcmp(optarg, "console") == 0) {
                if (output_is_json())
                    output_init(OUTPUT_CONSOLE, output_quiet(), 0);
            } else
                return br_error_set(err, BR_E_USAGE,
                                    "argument -f/--format: invalid choice: '%s' (choose from 'text', 'json')", optarg);
            break;
        case 'o':
            live = 0;
            break;
        default:
            return br_error_set(err, BR_E_USAGE, "report: unrecognized arguments: %s", argv[optind - 1]);
        }
    }
    /* no server named: all of them */
    if (optind < argc)
        n = cmd_servers_from_args(ctx, argc - optind, &argv[optind], 1, &servers);
    else
        n = cmd_servers_from_args(ctx, 1, all, 1, &servers);

    for (size_t i = 0; i < n; i++) {
        struct report_server rs;

        /* a disabled server is reported, its configuration problems among the failures */
        if (!cmd_server_usable(servers[i], 0, 0, 1, 0))
            continue;
        if (report_collect(servers[i], lock_dir, now, live, &rs, err) != 0) {
            rc = -1;
            break;
        }
        if (output_is_json())
            output_result_set(servers[i]->name, report_to_json(&rs));
        else {
            struct strbuf sb;
            strbuf_init(&sb);
            report_to_text(&rs, &sb);
            output_text("%s%s", i > 0 ? "\n" : "", sb.buf);
            strbuf_free(&sb);
        }
        report_server_reset(&rs);
    }
    free(servers);
    if (rc == 0 && output_had_error())
        return br_error_set(err, BR_E_CHECK_FAILED, "%s", "");
    return rc;
}
