/*
 * cmd_verify_backup.c: `verify-backup SERVER BACKUP_ID` (alias verify).
 *
 * Unlike Barman, which runs pg_verifybackup on plain backups only, barrel
 * verifies tar backups inside their compressed archives and plain ones in
 * place, plus the WAL range, and records the verdict for the reports.
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
#include "barrel/verify.h"

#include <getopt.h>
#include <inttypes.h>
#include <time.h>

struct report_ctx {
    struct json *problems;   /* JSON mode */
};

static void
on_problem(void *arg, const char *problem)
{
    struct report_ctx *rc = arg;

    if (output_is_json())
        json_array_add(rc->problems, json_string(problem));
    else
        output_error("%s", problem);
}

static void
on_progress(void *arg, const char *what, int64_t files)
{
    (void) arg;
    output_debug("verified %s (%" PRId64 " files so far)", what, files);
}

int
cmd_verify_backup(struct cmd_context *ctx, int argc, char **argv, struct br_error *err)
{
    static const struct option longopts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const struct server_config *srv;
    struct catalog *cat = NULL;
    struct backup_info *bi;
    struct verify_result res;
    struct report_ctx rctx = {0};
    char size[32];
    int c, rc = -1;

    optind = 0;    /* 0, not 1: glibc re-initialises and permutes again (main parsed with "+") */
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'h') {
            cmd_print_help(cmd_find("verify-backup"), NULL);
            return 0;
        }
        return br_error_set(err, BR_E_USAGE, "verify-backup: unrecognized arguments");
    }
    if (argc - optind != 2)
        return br_error_set(err, BR_E_USAGE, "verify-backup: expected SERVER_NAME BACKUP_ID");
    srv = cmd_single_server(ctx, &argv[optind]);
    if (srv == NULL)
        return 0;
    cat = catalog_open(srv, err);
    if (cat == NULL)
        return -1;
    bi = catalog_resolve(cat, argv[optind + 1], err);
    if (bi == NULL)
        goto out;
    output_info("Verifying backup %s of server %s", bi->backup_id, srv->name);
    if (output_is_json())
        rctx.problems = json_array();
    if (verify_backup(srv, bi, on_problem, on_progress, &rctx, &res, err) != 0)
        goto out;
    if (!res.has_manifest)
        output_warning("backup %s has no backup_manifest: only its WAL range was verified", bi->backup_id);
    if (verify_record(srv, bi->backup_id, &res, time(NULL), err) != 0)
        goto out;
    fmt_pretty_size((double) res.bytes_checked, size, sizeof(size));
    if (output_is_json()) {
        struct json *obj = json_object();
        json_object_set(obj, "backup_id", json_string(bi->backup_id));
        json_object_set(obj, "result", json_string(res.problems == 0 ? "OK" : "FAILED"));
        json_object_set(obj, "problems", rctx.problems);
        rctx.problems = NULL;
        json_object_set(obj, "files", json_int(res.files_checked));
        json_object_set(obj, "bytes", json_int(res.bytes_checked));
        json_object_set(obj, "wal_segments", json_int(res.wal_segments));
        json_object_set(obj, "has_manifest", json_bool(res.has_manifest));
        json_object_set(obj, "seconds", json_double(res.seconds));
        output_result_set(srv->name, obj);
    }
    if (res.problems == 0) {
        output_info("Backup %s of server %s verified: OK (%" PRId64 " files, %s, %" PRId64 " WAL segments, %.1f s)",
                    bi->backup_id, srv->name, res.files_checked, size, res.wal_segments, res.seconds);
        rc = 0;
    } else {
        br_error_set(err, BR_E_CHECK_FAILED, "backup %s of server %s failed verification: %" PRId64 " problem%s",
                     bi->backup_id, srv->name, res.problems, res.problems == 1 ? "" : "s");
    }
out:
    json_free(rctx.problems);
    catalog_free(cat);
    return rc;
}
