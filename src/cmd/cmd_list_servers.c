/*
 * cmd_list_servers.c: `list-servers [--minimal]`, Barman's format:
 * "name - description" with " (inactive)" / " (WARNING: disabled)" suffixes.
 */
#include "barrel/build.h"
#include "barrel/cmd.h"
#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/json.h"
#include "barrel/output.h"

#include <getopt.h>

int
cmd_list_servers(struct cmd_context *ctx, int argc, char **argv, struct br_error *err)
{
    static const struct option longopts[] = {
        {"minimal", no_argument, NULL, 'm'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
    };
    int minimal = 0, c;

    optind = 0;    /* 0, not 1: glibc re-initialises and permutes again (main parsed with "+") */
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'm')
            minimal = 1;
        else if (c == 'h') {
            cmd_print_help(cmd_find("list-servers"), "  --minimal             machine readable output\n");
            return 0;
        } else
            return br_error_set(err, BR_E_USAGE, "list-servers: unrecognized arguments");
    }
    if (optind < argc)
        return br_error_set(err, BR_E_USAGE, "list-servers: unrecognized arguments: %s", argv[optind]);

    for (size_t i = 0; i < ctx->cfg->n_servers; i++) {
        const struct server_config *srv = ctx->cfg->servers[i];
        const char *suffix = !srv->active ? " (inactive)" : srv->n_disabled_reasons ? " (WARNING: disabled)" : "";

        if (output_is_json()) {
            struct json *obj = json_object();
            json_object_set(obj, "description", json_string(srv->description));
            output_result_set(srv->name, obj);
        } else if (minimal)
            output_text("%s\n", srv->name);
        else if (srv->description)
            output_text("%s - %s%s\n", srv->name, srv->description, suffix);
        else
            output_text("%s%s\n", srv->name, suffix);
    }
    return 0;
}
