/*
 * cmd_status.c: `status SERVER...`, Barman's server-status report: the
 * server's flags, what PostgreSQL says about itself, the archiver's
 * statistics, the retention settings and the backups in the catalog.
 * Rows are Barman's (description, message) pairs: "\tDescription: message"
 * on a console, {"key": {"description", "message"}} in JSON.
 */
#include "barrel/build.h"
#include "barrel/catalog.h"
#include "barrel/cmd.h"
#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/fmt.h"
#include "barrel/json.h"
#include "barrel/mem.h"
#include "barrel/output.h"
#include "barrel/pgstatus.h"

#include <getopt.h>
#include <stdarg.h>

struct status_out {
    const char *server;
    struct json *obj;      /* JSON mode */
    int header_done;
};

static void status_row(struct status_out *so, const char *key, const char *description, const char *fmt, ...)
    BR_PRINTF(4, 5);

static void
status_row(struct status_out *so, const char *key, const char *description, const char *fmt, ...)
{
    va_list ap;
    char *message;

    va_start(ap, fmt);
    message = br_vasprintf(fmt, ap);
    va_end(ap);
    if (output_is_json()) {
        struct json *row = json_object();
        json_object_set(row, "description", json_string(description));
        json_object_set(row, "message", json_string(message));
        json_object_set(so->obj, key, row);
    } else {
        if (!so->header_done)
            output_text("Server %s:\n", so->server);
        so->header_done = 1;
        output_text("\t%s: %s\n", description, message);
    }
    free(message);
}

static void
status_postgres(struct status_out *so, const struct pg_remote_status *st)
{
    char size[32];

    if (st->server_txt_version == NULL) {
        status_row(so, "pg_version", "PostgreSQL version", "FAILED trying to get PostgreSQL version");
        return;
    }
    status_row(so, "pg_version", "PostgreSQL version", "%s", st->server_txt_version);
    status_row(so, "is_in_recovery", "Cluster state", "%s", st->is_in_recovery == 1 ? "in archive recovery" : "in production");
    if (st->current_size != NULL) {
        fmt_pretty_size(strtod(st->current_size, NULL), size, sizeof(size));
        status_row(so, "current_size", "Current data size", "%s", size);
    }
    if (st->data_directory != NULL)
        status_row(so, "data_directory", "PostgreSQL Data directory", "%s", st->data_directory);
    if (st->current_xlog != NULL)
        status_row(so, "current_xlog", "Current WAL segment", "%s", st->current_xlog);
}

/* Barman's FileWalArchiver.status(): only for archiver = on, and only when PostgreSQL answered. */
static void
status_file_archiver(struct status_out *so, const struct server_config *srv, const struct pg_remote_status *st)
{
    if (!srv->archiver || st->archive_mode == NULL)
        return;
    status_row(so, "archive_command", "PostgreSQL 'archive_command' setting", "%s",
               st->archive_command && st->archive_command[0] ? st->archive_command
                                                            : "FAILED (please set it accordingly to documentation)");
    if (st->last_archived_wal && st->last_archived_time_ctime)
        status_row(so, "last_archived_wal", "Last archived WAL", "%s, at %s", st->last_archived_wal,
                   st->last_archived_time_ctime);
    else
        status_row(so, "last_archived_wal", "Last archived WAL", "%s",
                   st->last_archived_wal ? st->last_archived_wal : "No WAL segment shipped yet");
    if (st->failed_count != NULL) {
        if (atoll(st->failed_count) > 0)
            status_row(so, "failed_count", "Failures of WAL archiver", "%s (%s at %s)", st->failed_count,
                       st->last_failed_wal ? st->last_failed_wal : "None",
                       st->last_failed_time_ctime ? st->last_failed_time_ctime : "None");
        else
            status_row(so, "failed_count", "Failures of WAL archiver", "%s", st->failed_count);
    }
    if (st->archived_wals_per_second && strtod(st->archived_wals_per_second, NULL) > 0)
        status_row(so, "server_archived_wals_per_hour", "Server WAL archiving rate", "%0.2f/hour",
                   3600 * strtod(st->archived_wals_per_second, NULL));
}

static int
status_catalog(struct status_out *so, const struct server_config *srv, struct br_error *err)
{
    struct catalog *cat = catalog_open(srv, err);
    const char *first = NULL, *last = NULL;
    int done = 0;

    if (cat == NULL)
        return -1;
    for (size_t i = 0; i < cat->n_backups; i++) {
        const struct backup_info *bi = cat->backups[i];
        if (bi->status == BACKUP_STATUS_DONE)
            done++;
        /* first/last use Barman's default filter: DONE and WAITING_FOR_WALS */
        if (BACKUP_MASK_COPY_DONE & BACKUP_STATUS_MASK(bi->status)) {
            if (first == NULL)
                first = bi->backup_id;
            last = bi->backup_id;
        }
    }
    status_row(so, "backups_number", "No. of available backups", "%d", done);
    status_row(so, "first_backup", "First available backup", "%s", first ? first : "None");
    status_row(so, "last_backup", "Last available backup", "%s", last ? last : "None");
    status_row(so, "minimum_redundancy", "Minimum redundancy requirements", "%s (%d/%d)",
               done < srv->minimum_redundancy ? "FAILED" : "satisfied", done, srv->minimum_redundancy);
    catalog_free(cat);
    return 0;
}

static int
status_server(const struct server_config *srv, struct br_error *err)
{
    struct status_out so = {.server = srv->name};
    struct pg_remote_status st;
    char policy[64];
    int rc;

    if (output_is_json())
        so.obj = json_object();
    if (srv->description)
        status_row(&so, "description", "Description", "%s", srv->description);
    status_row(&so, "active", "Active", "%s", srv->active ? "True" : "False");
    status_row(&so, "disabled", "Disabled", "%s", srv->n_disabled_reasons ? "True" : "False");

    pg_remote_status_fetch(srv, &st);
    status_postgres(&so, &st);
    status_file_archiver(&so, srv, &st);
    pg_remote_status_reset(&st);

    status_row(&so, "passive_node", "Passive node", "False");
    if (srv->retention_policy.kind != RETENTION_NONE) {
        retention_policy_format(&srv->retention_policy, policy, sizeof(policy));
        status_row(&so, "retention_policies", "Retention policies", "enforced (mode: %s, retention: %s, WAL retention: %s)",
                   srv->retention_policy_mode ? srv->retention_policy_mode : "auto", policy, "MAIN");
    } else
        status_row(&so, "retention_policies", "Retention policies", "not enforced");
    rc = status_catalog(&so, srv, err);
    if (so.obj != NULL)
        output_result_set(srv->name, so.obj);
    return rc;
}

int
cmd_status(struct cmd_context *ctx, int argc, char **argv, struct br_error *err)
{
    static const struct option longopts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const struct server_config **servers = NULL;
    size_t n;
    int c, rc = 0;

    optind = 0;    /* 0, not 1: glibc re-initialises and permutes again (main parsed with "+") */
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'h') {
            cmd_print_help(cmd_find("status"), NULL);
            return 0;
        }
        return br_error_set(err, BR_E_USAGE, "status: unrecognized arguments");
    }
    if (optind >= argc)
        return br_error_set(err, BR_E_USAGE, "status: the following arguments are required: server_name");
    n = cmd_servers_from_args(ctx, argc - optind, argv + optind, 1, &servers);
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!cmd_server_usable(servers[i], 0, 1, 1, 1))
            continue;
        rc = status_server(servers[i], err);
    }
    free(servers);
    return rc;
}
