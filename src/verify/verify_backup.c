/*
 * verify_backup.c: verify a stored backup without extracting it.
 *
 * Recipe: load and check the manifest; stream each archive (or, for a
 * plain backup, each directory tree) through the manifest verifier;
 * report manifest entries never found; check every WAL segment from
 * begin_wal to end_wal is archived and readable. Problems are reported as
 * they are found and checking goes on; the caller decides the exit status.
 */
#include "barrel/build.h"
#include "barrel/verify.h"
#include "barrel/catalog.h"
#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/fs.h"
#include "barrel/json.h"
#include "barrel/manifest.h"
#include "barrel/mem.h"
#include "barrel/stage.h"
#include "barrel/walcheck.h"
#include "barrel/xlog.h"

#include <inttypes.h>
#include <stdarg.h>
#include <sys/time.h>

struct vctx {
    int archive_damaged;       /* an archive could not be read to its end */
    verify_problem_fn problem;
    verify_progress_fn progress;
    void *arg;
    struct verify_result *res;
};

static void vproblem(struct vctx *v, const char *fmt, ...) BR_PRINTF(2, 3);

static void
vproblem(struct vctx *v, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    v->res->problems++;
    if (v->problem)
        v->problem(v->arg, msg);
}

/* The verifier stage reports through this; it counts itself in stage_manifest_verify_problems(). */
static void
manifest_problem(void *arg, const char *problem)
{
    struct vctx *v = arg;
    if (v->problem)
        v->problem(v->arg, problem);
}

/* Counts members and bytes going by, after the verifier. */
struct count_sink {
    struct stage base;
    int64_t files, bytes;
};

static int
count_push(struct stage *st, const struct chunk *ck, struct br_error *err)
{
    struct count_sink *c = (struct count_sink *) st;
    (void) err;
    if (ck->kind == CHUNK_MEMBER_HEADER && ck->member->type == MEMBER_FILE)
        c->files++;
    else if (ck->kind == CHUNK_MEMBER_DATA)
        c->bytes += (int64_t) ck->len;
    return 0;
}

static int
count_finish(struct stage *st, struct br_error *err)
{
    (void) st;
    (void) err;
    return 0;
}

static void
count_free(struct stage *st)
{
    free(st);
}

static const struct stage_ops count_ops = {count_push, count_finish, count_free};

static const char *
tar_extension(const char *compression)
{
    if (compression == NULL)
        return NULL;
    if (strcmp(compression, "gzip") == 0)
        return ".tar.gz";
    if (strcmp(compression, "lz4") == 0)
        return ".tar.lz4";
    if (strcmp(compression, "zstd") == 0)
        return ".tar.zst";
    if (strcmp(compression, "none") == 0)
        return ".tar";
    return NULL;
}

/* One archive or tree through the verifier; damage is a problem, not a stop. */
static void
verify_one(struct vctx *v, struct stage *chain, const char *label, const char *path, const char *prefix, int is_dir)
{
    struct br_error err;
    int rc;
    /* the manifest itself sits in a plain backup's data/; tablespaces are walked from <oid>/ */
    static const char *const plain_skip[] = {"pg_tblspc", "backup_manifest", NULL};

    if (!path_exists(path)) {
        vproblem(v, "%s \"%s\" is missing", is_dir ? "directory" : "archive", path);
        return;
    }
    rc = is_dir ? dir_reader_run(path, prefix, plain_skip, chain, &err) : archive_reader_run(path, prefix, chain, &err);
    if (rc != 0) {
        vproblem(v, "%s", err.msg);
        v->archive_damaged = 1;
    }
    v->res->archives++;
    if (v->progress)
        v->progress(v->arg, label, ((struct count_sink *) chain->next)->files);
}

static void
verify_wal_range(struct vctx *v, const struct server_config *srv, const struct backup_info *bi)
{
    struct xlog_name begin, end;
    uint32_t seg_size = bi->xlog_segment_size > 0 ? (uint32_t) bi->xlog_segment_size : XLOG_DEFAULT_SEGMENT_SIZE;

    if (bi->begin_wal == NULL || bi->end_wal == NULL) {
        vproblem(v, "backup %s has no WAL range (begin_wal/end_wal unset)", bi->backup_id);
        return;
    }
    if (xlog_name_parse(bi->begin_wal, &begin) != XLOG_KIND_SEGMENT
        || xlog_name_parse(bi->end_wal, &end) != XLOG_KIND_SEGMENT) {
        vproblem(v, "backup %s has an invalid WAL range %s..%s", bi->backup_id, bi->begin_wal, bi->end_wal);
        return;
    }
    uint64_t first = xlog_segno(begin.log, begin.seg, seg_size), last = xlog_segno(end.log, end.seg, seg_size);
    for (uint64_t segno = first; segno <= last; segno++) {
        char name[XLOG_NAME_LEN + 1], hash[17];
        struct br_error err;
        /* the range of one backup is on its own timeline (end_wal's) */
        xlog_segment_name(end.tli, segno, seg_size, name);
        xlog_hash_dir(name, hash);
        char *path = br_asprintf("%s/%s/%s", srv->wals_directory, hash, name);
        if (!path_exists(path))
            vproblem(v, "WAL segment %s needed by backup %s is missing from the archive", name, bi->backup_id);
        else if (walcheck_segment(srv, path, name, bi->systemid, seg_size, &err) != 0)
            vproblem(v, "%s", err.msg);
        else
            v->res->wal_segments++;
        free(path);
    }
}

int
verify_backup(const struct server_config *srv, const struct backup_info *bi, verify_problem_fn problem,
              verify_progress_fn progress, void *arg, struct verify_result *result, struct br_error *err)
{
    struct vctx v = {.problem = problem, .progress = progress, .arg = arg, .res = result};
    struct manifest *m = NULL;
    struct stage *chain = NULL;
    struct timeval t0, t1;
    char *dir = catalog_backup_dir(srv, bi->backup_id);
    char *data = path_join(dir, "data");
    char *mpath = path_join(data, "backup_manifest");
    const char *ext = tar_extension(bi->compression);

    memset(result, 0, sizeof(*result));
    gettimeofday(&t0, NULL);
    if (bi->status != BACKUP_STATUS_DONE && bi->status != BACKUP_STATUS_WAITING_FOR_WALS) {
        free(dir);
        free(data);
        free(mpath);
        return br_error_set(err, BR_E_STATE, "backup %s of server %s has status %s: only DONE backups can be verified",
                            bi->backup_id, srv->name, backup_status_name(bi->status));
    }

    /* 1. the manifest (Barman's rsync backups have none: say so, verify the WAL) */
    if (path_exists(mpath)) {
        m = manifest_load(mpath, err);
        if (m == NULL)
            vproblem(&v, "%s", err->msg);
        result->has_manifest = 1;
    }
    br_error_clear(err);

    /* 2. every archive or tree through the verifier */
    if (m != NULL) {
        struct count_sink *cs = br_calloc(1, sizeof(*cs));
        cs->base.ops = &count_ops;
        cs->base.name = "counter";
        chain = stage_manifest_verify_new(m, 0, manifest_problem, &v, &cs->base);
        if (ext != NULL) {
            char *base = br_asprintf("%s/base%s", data, ext);
            verify_one(&v, chain, path_basename(base), base, "", 0);
            free(base);
        } else
            verify_one(&v, chain, "data", data, "", 1);
        for (size_t i = 0; i < bi->n_tablespaces; i++) {
            char *prefix = br_asprintf("pg_tblspc/%" PRIu32 "/", bi->tablespaces[i].oid);
            char *path = ext ? br_asprintf("%s/%" PRIu32 "%s", data, bi->tablespaces[i].oid, ext)
                             : br_asprintf("%s/%" PRIu32, dir, bi->tablespaces[i].oid);
            verify_one(&v, chain, path_basename(path), path, prefix, ext == NULL);
            free(prefix);
            free(path);
        }
        result->problems += stage_manifest_verify_problems(chain);
        if (v.archive_damaged) {
            /* the files after the damage were never reached: one line, not one per file */
            int64_t unseen = manifest_report_unseen(m, NULL, NULL);
            if (unseen > 0)
                vproblem(&v, "%" PRId64 " files of the manifest were not checked because an archive is damaged",
                         unseen);
        } else
            result->problems += manifest_report_unseen(m, manifest_problem, &v);
        result->files_checked = cs->files;
        result->bytes_checked = cs->bytes;
    }

    /* 3. the WAL the backup needs to be consistent */
    verify_wal_range(&v, srv, bi);

    gettimeofday(&t1, NULL);
    result->seconds = (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_usec - t0.tv_usec) / 1e6;
    stage_free(chain);
    manifest_free(m);
    free(dir);
    free(data);
    free(mpath);
    return 0;
}

static char *
verify_path(const struct server_config *srv, const char *backup_id)
{
    return br_asprintf("%s/barrel/verify/%s.json", srv->backup_directory, backup_id);
}

int
verify_record(const struct server_config *srv, const char *backup_id, const struct verify_result *r, time_t when,
              struct br_error *err)
{
    char *path = verify_path(srv, backup_id);
    struct json *obj = json_object();
    int rc;

    json_object_set(obj, "backup_id", json_string(backup_id));
    json_object_set(obj, "verified_at", json_int((int64_t) when));
    json_object_set(obj, "result", json_string(r->problems == 0 ? "OK" : "FAILED"));
    json_object_set(obj, "problems", json_int(r->problems));
    json_object_set(obj, "files", json_int(r->files_checked));
    json_object_set(obj, "bytes", json_int(r->bytes_checked));
    json_object_set(obj, "archives", json_int(r->archives));
    json_object_set(obj, "wal_segments", json_int(r->wal_segments));
    json_object_set(obj, "has_manifest", json_bool(r->has_manifest));
    json_object_set(obj, "seconds", json_double(r->seconds));
    rc = json_state_write(path, obj, err);
    json_free(obj);
    free(path);
    return rc;
}

int
verify_last(const struct server_config *srv, const char *backup_id, struct verify_result *r, time_t *when,
            struct br_error *err)
{
    char *path = verify_path(srv, backup_id);
    struct json *obj = json_state_read(path, err);

    free(path);
    if (obj == NULL)
        return err->code == BR_E_OK ? 0 : -1;
    memset(r, 0, sizeof(*r));
    *when = (time_t) json_get_int(obj, "verified_at", 0);
    r->problems = json_get_int(obj, "problems", -1);
    r->files_checked = json_get_int(obj, "files", -1);
    r->bytes_checked = json_get_int(obj, "bytes", -1);
    r->archives = json_get_int(obj, "archives", -1);
    r->wal_segments = json_get_int(obj, "wal_segments", -1);
    r->has_manifest = json_get_bool(obj, "has_manifest", 0);
    r->seconds = json_get_double(obj, "seconds", 0);
    json_free(obj);
    return 1;
}
