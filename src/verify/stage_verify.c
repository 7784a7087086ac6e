/*
 * stage_verify.c: check archive members against the backup manifest while
 * they stream by, the way pg_verifybackup checks a plain data directory,
 * but inside (compressed) tar archives and without writing anything.
 */
#include "barrel/build.h"
#include "barrel/manifest.h"
#include "barrel/error.h"
#include "barrel/mem.h"
#include "barrel/stage.h"

#include <inttypes.h>
#include <stdarg.h>

struct verify_stage {
    struct stage base;
    struct manifest *m;
    int fail_fast;
    manifest_report_fn report;
    void *arg;
    int64_t problems;
    /* the current member */
    struct manifest_file *entry;
    struct manifest_hasher *hasher;
    int64_t bytes;
};

/*
 * pg_verifybackup's ignore list: files a restore tool may legitimately add
 * or change (pg_basebackup -R rewrites postgresql.auto.conf). They are
 * marked seen when listed, but not checked.
 */
static int
ignored(const char *path)
{
    static const char *const names[] = {"backup_manifest", "postgresql.auto.conf", "recovery.signal",
                                        "standby.signal"};
    for (size_t i = 0; i < BR_ARRAY_LEN(names); i++)
        if (strcmp(path, names[i]) == 0)
            return 1;
    return strncmp(path, "pg_wal/", 7) == 0 || strcmp(path, "pg_wal") == 0;
}

static int verify_problem(struct verify_stage *vs, struct br_error *err, const char *fmt, ...) BR_PRINTF(3, 4);

static int
verify_problem(struct verify_stage *vs, struct br_error *err, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    vs->problems++;
    if (vs->report)
        vs->report(vs->arg, msg);
    if (vs->fail_fast)
        return br_error_set(err, BR_E_FORMAT, "%s", msg);
    return 0;
}

static int
verify_push(struct stage *st, const struct chunk *ck, struct br_error *err)
{
    struct verify_stage *vs = (struct verify_stage *) st;
    char hex[2 * MANIFEST_MAX_CHECKSUM + 1];

    switch (ck->kind) {
    case CHUNK_MEMBER_HEADER:
        vs->entry = NULL;
        vs->bytes = 0;
        manifest_hasher_free(vs->hasher);
        vs->hasher = NULL;
        if (ck->member->type == MEMBER_FILE && ignored(ck->member->path)) {
            struct manifest_file *f = manifest_find(vs->m, ck->member->path);
            if (f != NULL)
                f->seen = 1;
        } else if (ck->member->type == MEMBER_FILE) {
            vs->entry = manifest_find(vs->m, ck->member->path);
            if (vs->entry == NULL) {
                if (verify_problem(vs, err, "\"%s\" is present in the archive but not in the manifest",
                                   ck->member->path) != 0)
                    return -1;
            } else {
                vs->entry->seen = 1;
                vs->hasher = manifest_hasher_new(vs->entry->algorithm);
            }
        }
        break;
    case CHUNK_MEMBER_DATA:
        if (vs->hasher != NULL) {
            manifest_hasher_update(vs->hasher, ck->data, ck->len);
            vs->bytes += (int64_t) ck->len;
        }
        break;
    case CHUNK_MEMBER_END:
        if (vs->entry != NULL) {
            if (vs->bytes != vs->entry->size) {
                if (verify_problem(vs, err, "\"%s\" has size %" PRId64 " in the archive but size %" PRId64
                                   " in the manifest", vs->entry->path, vs->bytes, vs->entry->size) != 0)
                    return -1;
            } else if (!manifest_hasher_matches(vs->hasher, vs->entry, hex, sizeof(hex))) {
                if (verify_problem(vs, err, "checksum mismatch for file \"%s\"", vs->entry->path) != 0)
                    return -1;
            }
        }
        vs->entry = NULL;
        manifest_hasher_free(vs->hasher);
        vs->hasher = NULL;
        break;
    default:
        break;
    }
    return stage_forward(st, ck, err);
}

static void
verify_free(struct stage *st)
{
    struct verify_stage *vs = (struct verify_stage *) st;

    stage_free_next(st);
    manifest_hasher_free(vs->hasher);
    free(vs);
}

static const struct stage_ops verify_ops = {verify_push, stage_finish_next, verify_free};

struct stage *
stage_manifest_verify_new(struct manifest *m, int fail_fast, manifest_report_fn report, void *arg, struct stage *next)
{
    struct verify_stage *vs = br_calloc(1, sizeof(*vs));

    vs->base.ops = &verify_ops;
    vs->base.next = next;
    vs->base.name = "manifest verifier";
    vs->m = m;
    vs->fail_fast = fail_fast;
    vs->report = report;
    vs->arg = arg;
    return &vs->base;
}

int64_t
stage_manifest_verify_problems(const struct stage *st)
{
    return ((const struct verify_stage *) st)->problems;
}

int64_t
manifest_report_unseen(const struct manifest *m, manifest_report_fn report, void *arg)
{
    int64_t n = 0;
    char msg[512];

    for (size_t i = 0; i < m->n_files; i++) {
        if (m->files[i].seen)
            continue;
        n++;
        if (report) {
            snprintf(msg, sizeof(msg), "\"%s\" is present in the manifest but not in the archive", m->files[i].path);
            report(arg, msg);
        }
    }
    return n;
}
