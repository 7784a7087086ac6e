/*
 * cmd_common.c: what several command front-ends share: resolving the
 * SERVER_NAME arguments (with "all"), and the --help text.
 */
#include "barrel/build.h"
#include "barrel/cmd.h"
#include "barrel/config.h"
#include "barrel/mem.h"
#include "barrel/output.h"

static int
server_name_cmp(const void *a, const void *b)
{
    const struct server_config *const *sa = a, *const *sb = b;
    return strcmp((*sa)->name, (*sb)->name);
}

size_t
cmd_servers_from_args(struct cmd_context *ctx, int argc, char **argv, int skip_inactive,
                      const struct server_config ***out)
{
    const struct barrel_config *cfg = ctx->cfg;
    const struct server_config **list = br_calloc(cfg->n_servers + (size_t) argc + 1, sizeof(*list));
    size_t n = 0;

    /* "all" alone means every server, in name order */
    if (argc == 1 && strcmp(argv[0], "all") == 0) {
        for (size_t i = 0; i < cfg->n_servers; i++) {
            if (skip_inactive && !cfg->servers[i]->active)
                continue;
            list[n++] = cfg->servers[i];
        }
        *out = list;
        return n;
    }
    for (int i = 0; i < argc; i++) {
        const struct server_config *srv = config_find_server(cfg, argv[i]);
        if (srv == NULL) {
            output_error("Unknown server '%s'", argv[i]);
            continue;
        }
        if (skip_inactive && !srv->active)
            continue;
        list[n++] = srv;
    }
    /* Barman runs the servers in name order, whatever the order on the command line */
    qsort(list, n, sizeof(*list), server_name_cmp);
    *out = list;
    return n;
}

int
cmd_server_usable(const struct server_config *srv, int inactive_is_error, int disabled_is_error, int skip_inactive,
                  int skip_disabled)
{
    if (!srv->active) {
        if (inactive_is_error)
            output_error("Inactive server: %s", srv->name);
        if (skip_inactive)
            return 0;
    }
    if (srv->n_disabled_reasons > 0) {
        if (disabled_is_error)
            for (size_t i = 0; i < srv->n_disabled_reasons; i++)
                output_error("%s", srv->disabled_reasons[i]);
        if (skip_disabled)
            return 0;
    }
    return 1;
}

void
cmd_print_help(const struct cmd_entry *entry, const char *options_text)
{
    printf("usage: barrel %s [-h] %s\n\n%s\n", entry->name, entry->usage, entry->summary);
    if (entry->alias)
        printf("(alias: %s)\n", entry->alias);
    printf("\noptions:\n  -h, --help            show this help message and exit\n%s", options_text ? options_text : "");
}

const struct server_config *
cmd_single_server(struct cmd_context *ctx, char **name_arg)
{
    const struct server_config **list = NULL, *srv = NULL;

    if (strcmp(name_arg[0], "all") == 0) {
        output_error("You cannot use 'all' in a single server context");
        return NULL;
    }
    if (cmd_servers_from_args(ctx, 1, name_arg, 1, &list) == 1)
        srv = list[0];
    free(list);
    if (srv != NULL && !cmd_server_usable(srv, 0, 1, 1, 1))
        return NULL;
    return srv;
}
