/*
 * cmd_list_backups.c: `list-backups SERVER_NAME... [--minimal]` (alias
 * list-backup, `all` accepted), in Barman 3.4's format (output.py
 * result_list_backup, server.py list_backups):
 *
 *   pg 20261122T133134 'fixture latest' - Sun Nov 22 13:31:35 2026 - Size: 45.3 MiB - WAL Size: 163.5 KiB (tablespaces: ts1:/tmp/bfx/ts1)
 *   pg 20261122T133331 - FAILED
 *
 * Newest first. Size = backup size + the WALs it requires; WAL Size = the
 * WALs after it up to the next backup; then " - WAITING_FOR_WALS" and the
 * retention label unless it is VALID or "-". The WAL figures of all the
 * backups of a server come from one pass over xlog.db (backup_stats.h).
 */
#include "barrel/build.h"
#include "barrel/cmd.h"
#include "barrel/backup_stats.h"
#include "barrel/catalog.h"
#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/fmt.h"
#include "barrel/json.h"
#include "barrel/mem.h"
#include "barrel/output.h"
#include "barrel/retention.h"
#include "barrel/strbuf.h"
#include "barrel/timestamp.h"

#include <getopt.h>

struct list_options {
    int minimal;
};

/* Everything printed for one backup. */
struct list_row {
    const struct backup_info *bi;
    int copy_done;
    int64_t size_bytes;          /* backup size + required WALs */
    int64_t wal_size_bytes;      /* WALs until the next backup */
    const char *retention;       /* label to show, NULL for none (VALID is not shown) */
};

static const char *
lock_dir_of(const struct cmd_context *ctx)
{
    return ctx->cfg->barman_lock_directory ? ctx->cfg->barman_lock_directory : ctx->cfg->barman_home;
}

static void
end_time_ctime(const struct backup_info *bi, char *buf, size_t len)
{
    struct tm tm;

    if (!bi->end_time_set) {
        snprintf(buf, len, "None");
        return;
    }
    br_timestamp_wallclock(&bi->end_time, &tm);
    fmt_ctime(&tm, buf, len);
}

static void
print_row_console(const struct list_row *row, const struct list_options *opts)
{
    const struct backup_info *bi = row->bi;
    struct strbuf line;
    char when[64], size[32], wal_size[32];

    if (opts->minimal) {
        output_text("%s\n", bi->backup_id);
        return;
    }
    strbuf_init(&line);
    strbuf_appendf(&line, "%s %s ", bi->server_name ? bi->server_name : "None", bi->backup_id);
    if (bi->backup_name != NULL)
        strbuf_appendf(&line, "'%s' - ", bi->backup_name);
    else
        strbuf_append(&line, "- ");
    if (row->copy_done) {
        end_time_ctime(bi, when, sizeof(when));
        fmt_pretty_size((double) row->size_bytes, size, sizeof(size));
        fmt_pretty_size((double) row->wal_size_bytes, wal_size, sizeof(wal_size));
        strbuf_appendf(&line, "%s - Size: %s - WAL Size: %s", when, size, wal_size);
        if (bi->n_tablespaces > 0) {
            strbuf_append(&line, " (tablespaces: ");
            for (size_t i = 0; i < bi->n_tablespaces; i++)
                strbuf_appendf(&line, "%s%s:%s", i ? ", " : "", bi->tablespaces[i].name,
                               bi->tablespaces[i].location);
            strbuf_append(&line, ")");
        }
        if (bi->status == BACKUP_STATUS_WAITING_FOR_WALS)
            strbuf_append(&line, " - WAITING_FOR_WALS");
        if (row->retention != NULL && strcmp(row->retention, "-") != 0)
            strbuf_appendf(&line, " - %s", row->retention);
    } else {
        strbuf_append(&line, backup_status_name(bi->status));
    }
    output_text("%s\n", line.buf);
    strbuf_free(&line);
}

static struct json *
row_json(const struct list_row *row, const struct list_options *opts)
{
    const struct backup_info *bi = row->bi;
    struct json *obj;
    char buf[64];

    if (opts->minimal)
        return json_string(bi->backup_id);
    obj = json_object();
    json_object_set(obj, "backup_id", json_string(bi->backup_id));
    if (bi->backup_name != NULL)
        json_object_set(obj, "backup_name", json_string(bi->backup_name));
    json_object_set(obj, "status", json_string(backup_status_name(bi->status)));
    if (!row->copy_done)
        return obj;

    /* Barman: str(int(timestamp(end_time))), int() truncating toward zero */
    json_object_set(obj, "end_time_timestamp",
                    bi->end_time_set ? json_stringf("%lld", (long long) (bi->end_time.epoch_usec / 1000000))
                                     : json_null());
    end_time_ctime(bi, buf, sizeof(buf));
    json_object_set(obj, "end_time", json_string(buf));
    json_object_set(obj, "size_bytes", json_int(row->size_bytes));
    json_object_set(obj, "wal_size_bytes", json_int(row->wal_size_bytes));
    fmt_pretty_size((double) row->size_bytes, buf, sizeof(buf));
    json_object_set(obj, "size", json_string(buf));
    fmt_pretty_size((double) row->wal_size_bytes, buf, sizeof(buf));
    json_object_set(obj, "wal_size", json_string(buf));
    json_object_set(obj, "retention_status", json_string(row->retention ? row->retention : "-"));

    struct json *tbs = json_array();
    for (size_t i = 0; i < bi->n_tablespaces; i++) {
        struct json *t = json_object();
        json_object_set(t, "name", json_string(bi->tablespaces[i].name));
        json_object_set(t, "location", json_string(bi->tablespaces[i].location));
        json_array_add(tbs, t);
    }
    json_object_set(obj, "tablespaces", tbs);
    return obj;
}

/* One server: read the catalog, compute the figures, print newest first. */
static int
list_server(const struct cmd_context *ctx, const struct server_config *srv, const struct list_options *opts,
            struct br_error *err)
{
    struct catalog *cat = NULL;
    struct backup_wal_stats *stats = NULL;
    enum retention_status *labels = NULL;
    struct json *list = NULL;
    int enforce = srv->retention_policy.kind != RETENTION_NONE;
    int rc = -1;

    cat = catalog_open(srv, err);
    if (cat == NULL)
        goto out;

    /* the WAL figures and retention labels are not shown by --minimal */
    if (!opts->minimal) {
        stats = br_calloc(cat->n_backups + 1, sizeof(*stats));
        if (backup_stats_compute(cat, lock_dir_of(ctx), stats, err) != 0)
            goto out;
        labels = br_calloc(cat->n_backups + 1, sizeof(*labels));
        backup_stats_retention(cat, labels);
    }

    if (output_is_json())
        list = json_array();
    for (size_t idx = cat->n_backups; idx-- > 0;) {
        const struct backup_info *bi = cat->backups[idx];
        struct list_row row = {.bi = bi};

        row.copy_done = (BACKUP_MASK_COPY_DONE & BACKUP_STATUS_MASK(bi->status)) != 0;
        if (row.copy_done && !opts->minimal) {
            row.size_bytes = (bi->size != BI_NULL_INT ? bi->size : 0) + stats[idx].wal_size;
            row.wal_size_bytes = stats[idx].wal_until_next_size;
            if (enforce && labels[idx] != RETENTION_STATUS_VALID)
                row.retention = retention_status_name(labels[idx]);
        }
        if (list != NULL)
            json_array_add(list, row_json(&row, opts));
        else if (!output_quiet())
            print_row_console(&row, opts);
    }
    if (list != NULL) {
        output_result_set(srv->name, list);
        list = NULL;
    }
    rc = 0;
out:
    json_free(list);
    free(labels);
    free(stats);
    catalog_free(cat);
    return rc;
}

int
cmd_list_backups(struct cmd_context *ctx, int argc, char **argv, struct br_error *err)
{
    static const struct option longopts[] = {
        {"minimal", no_argument, NULL, 'm'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
    };
    struct list_options opts = {0};
    const struct server_config **servers = NULL;
    size_t n_servers;
    int c;

    /* optind = 0: glibc's full reinitialisation (main.c parsed the global options); it permutes argv */
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'm')
            opts.minimal = 1;
        else if (c == 'h') {
            cmd_print_help(cmd_find("list-backups"), "  --minimal             machine readable output\n");
            return 0;
        } else
            return br_error_set(err, BR_E_USAGE, "unrecognized arguments: %s", argv[optind - 1]);
    }
    if (optind >= argc)
        return br_error_set(err, BR_E_USAGE, "the following arguments are required: server_name");

    n_servers = cmd_servers_from_args(ctx, argc - optind, argv + optind, 1, &servers);

    for (size_t i = 0; i < n_servers; i++) {
        const struct server_config *srv = servers[i];
        struct br_error serr;

        /* Barman walks a dict of servers (sorted by name): a name given twice runs once */
        if (i > 0 && servers[i - 1] == srv)
            continue;
        /* manage_server_command(): a disabled server prints its configuration errors and is skipped */
        if (!cmd_server_usable(srv, 0, 1, 1, 1))
            continue;
        br_error_clear(&serr);
        if (list_server(ctx, srv, &opts, &serr) != 0) {
            output_error("%s", serr.msg);
            if (serr.hint[0])
                output_error("HINT: %s", serr.hint);
        }
    }
    free(servers);
    return 0;
}
