/*
 * cmd_verify_wal.c: `verify-wal SERVER [--from SEGMENT] [--to SEGMENT]`,
 * deep verification of the WAL archive (beyond Barman: every segment
 * decompressed and its header checked, continuity along the timeline path).
 *
 * Each problem is one ERROR line naming the segment; the verdict is recorded
 * in barrel's own file for report and metrics; the exit status is 1 when
 * any problem was found.
 */
#include "barrel/build.h"
#include "barrel/cmd.h"

#include <getopt.h>
#include <inttypes.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "barrel/catalog.h"
#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/fmt.h"
#include "barrel/json.h"
#include "barrel/mem.h"
#include "barrel/output.h"
#include "barrel/walverify.h"

#define PROGRESS_INTERVAL_S 1.0

struct vw_ctx {
    struct json *problems;      /* JSON mode */
    int show_progress;          /* stderr is a terminal, not -q, not JSON */
    int progress_shown;
    double last_progress;
};

static double
now_s(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double) tv.tv_sec + (double) tv.tv_usec / 1e6;
}

static void
on_problem(void *arg, const char *problem)
{
    struct vw_ctx *vc = arg;

    if (vc->progress_shown) {
        /* do not leave the progress line under the error */
        fputc('\n', stderr);
        vc->progress_shown = 0;
    }
    if (output_is_json())
        json_array_add(vc->problems, json_string(problem));
    else
        output_error("%s", problem);
}

/* pg_basebackup's progress_report(): at most once a second, \r on a terminal. */
static void
on_progress(void *arg, const struct walverify_result *sofar, const char *segment)
{
    struct vw_ctx *vc = arg;
    double t = now_s();
    char size[32];

    if (!vc->show_progress || t - vc->last_progress < PROGRESS_INTERVAL_S)
        return;
    vc->last_progress = t;
    fmt_pretty_size((double) sofar->bytes, size, sizeof(size));
    fprintf(stderr, "\r%" PRId64 " segments checked (%s), at %s", sofar->segments, size, segment);
    fflush(stderr);
    vc->progress_shown = 1;
}

/* The system id the archive must belong to: identity.json, else the newest backup's. */
static char *
expected_sysid(const struct server_config *srv, const struct catalog *cat)
{
    struct br_error err;
    char *sysid = NULL, *version = NULL;

    br_error_clear(&err);
    if (catalog_identity_read(srv, &sysid, &version, &err) == 0 && sysid != NULL) {
        free(version);
        return sysid;
    }
    free(sysid);
    free(version);
    for (size_t i = cat ? cat->n_backups : 0; i > 0; i--)
        if (cat->backups[i - 1]->systemid != NULL)
            return br_strdup(cat->backups[i - 1]->systemid);
    return NULL;
}

static uint32_t
segment_size(const struct catalog *cat)
{
    for (size_t i = cat ? cat->n_backups : 0; i > 0; i--)
        if (cat->backups[i - 1]->xlog_segment_size > 0)
            return (uint32_t) cat->backups[i - 1]->xlog_segment_size;
    return 0;
}

int
cmd_verify_wal(struct cmd_context *ctx, int argc, char **argv, struct br_error *err)
{
    static const struct option longopts[] = {
        {"from", required_argument, NULL, 'F'}, {"to", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},      {NULL, 0, NULL, 0},
    };
    struct walverify_options opts = {0};
    struct walverify_result res;
    struct vw_ctx vc = {0};
    const struct server_config *srv;
    struct catalog *cat = NULL;
    char *sysid = NULL, size[32];
    int c, rc = -1;

    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            cmd_print_help(cmd_find("verify-wal"),
                           "  --from SEGMENT        first WAL segment position to check (default: the first archived)\n"
                           "  --to SEGMENT          last WAL segment position to check (default: the last archived)\n");
            return 0;
        case 'F':
            opts.from = optarg;
            break;
        case 'T':
            opts.to = optarg;
            break;
        default:
            return br_error_set(err, BR_E_USAGE, "verify-wal: unrecognized arguments: %s", argv[optind - 1]);
        }
    }
    if (argc - optind != 1)
        return br_error_set(err, BR_E_USAGE, "verify-wal: expected SERVER_NAME");
    srv = cmd_single_server(ctx, &argv[optind]);
    if (srv == NULL)
        return 0;

    /* the catalog says what the segments must be: system id and segment size */
    cat = catalog_open(srv, err);
    if (cat == NULL)
        return -1;
    sysid = expected_sysid(srv, cat);
    opts.sysid = sysid;
    opts.segment_size = segment_size(cat);

    if (output_is_json())
        vc.problems = json_array();
    vc.show_progress = !output_quiet() && !output_is_json() && isatty(STDERR_FILENO);
    output_info("Verifying the WAL archive of server %s", srv->name);
    if (walverify_run(srv, &opts, on_problem, on_progress, &vc, &res, err) != 0)
        goto out;
    if (vc.progress_shown)
        fputc('\n', stderr);
    if (walverify_record(srv, &res, time(NULL), err) != 0)
        goto out;

    fmt_pretty_size((double) res.bytes, size, sizeof(size));
    if (output_is_json()) {
        struct json *obj = json_object();
        json_object_set(obj, "result", json_string(res.problems == 0 ? "OK" : "FAILED"));
        json_object_set(obj, "problems", vc.problems);
        vc.problems = NULL;
        json_object_set(obj, "segments", json_int(res.segments));
        json_object_set(obj, "gaps", json_int(res.gaps));
        json_object_set(obj, "missing", json_int(res.missing));
        json_object_set(obj, "bad", json_int(res.bad));
        json_object_set(obj, "off_path", json_int(res.off_path));
        json_object_set(obj, "bytes", json_int(res.bytes));
        json_object_set(obj, "timeline", json_int(res.timeline));
        json_object_set(obj, "first", json_string(res.first[0] ? res.first : NULL));
        json_object_set(obj, "last", json_string(res.last[0] ? res.last : NULL));
        json_object_set(obj, "seconds", json_double(res.seconds));
        output_result_set(srv->name, obj);
    }
    if (res.problems == 0) {
        if (res.segments == 0)
            output_info("WAL archive of server %s verified: OK (no WAL segments)", srv->name);
        else
            output_info("WAL archive of server %s verified: OK (%" PRId64 " segments, %s, %s to %s, timeline %" PRIu32
                        ", %.1f s)",
                        srv->name, res.segments, size, res.first, res.last, res.timeline, res.seconds);
        rc = 0;
    } else {
        br_error_set(err, BR_E_CHECK_FAILED, "WAL archive of server %s failed verification: %" PRId64 " problem%s",
                     srv->name, res.problems, res.problems == 1 ? "" : "s");
    }
out:
    json_free(vc.problems);
    free(sysid);
    catalog_free(cat);
    return rc;
}
