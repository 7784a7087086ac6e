/*
 * restore_wal.c: the WAL part of recover without get-wal (spec 4.4, 4.5, 6.2 step 7).
 *
 * Selection is Barman 3.4's get_required_xlog_files(): from xlog.db, every
 * .history file, plus every entry named >= begin_wal on a timeline <= the
 * target timeline; with a target time, entries after end_wal stop once one
 * is later than the target (that one is still taken). Beyond Barman: the
 * newest streamed streaming/<SEG>.partial after the last complete segment is
 * added under its bare name (PostgreSQL replays it up to its zero padding),
 * so a recovery to the end of WAL keeps the last streamed transactions.
 *
 * Copy: each file decompressed (codec by magic bytes) straight into the
 * target's sink as a member DEST/<barman_wal|pg_wal>/<name>, `jobs` files
 * at a time; without PITR an empty archive_status/<name>.done follows each
 * one so the recovered server does not archive them again.
 */
#include "barrel/build.h"
#include "restore_int.h"

#include "barrel/catalog.h"
#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/fs.h"
#include "barrel/mem.h"
#include "barrel/stage.h"
#include "barrel/walfile.h"
#include "barrel/xlog.h"

#include <dirent.h>
#include <inttypes.h>
#include <sys/stat.h>

#define HISTORY_MAX_BYTES (1024 * 1024)

struct select_state {
    struct rctx *cx;
    char end[64];
    int stopped;              /* target time passed: only history files from now on */
    size_t cap;
};

static void
add_wal(struct rctx *cx, size_t *cap, const char *name, char *src, int is_partial)
{
    if (cx->n_wal == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        cx->wal = br_realloc(cx->wal, *cap * sizeof(*cx->wal));
    }
    memset(&cx->wal[cx->n_wal], 0, sizeof(cx->wal[0]));
    snprintf(cx->wal[cx->n_wal].name, sizeof(cx->wal[0].name), "%s", name);
    cx->wal[cx->n_wal].src = src;
    cx->wal[cx->n_wal].is_partial = is_partial;
    cx->n_wal++;
}

static char *
catalog_path(const struct server_config *srv, const char *name)
{
    char hash[17];

    xlog_hash_dir(name, hash);
    return hash[0] ? br_asprintf("%s/%s/%s", srv->wals_directory, hash, name) : path_join(srv->wals_directory, name);
}

static int
select_cb(const struct xlogdb_entry *e, void *arg)
{
    struct select_state *s = arg;
    struct rctx *cx = s->cx;
    struct xlog_name xn;
    enum xlog_kind kind = xlog_name_parse(e->name, &xn);

    if (kind == XLOG_KIND_NONE)
        return 0;
    if (kind == XLOG_KIND_HISTORY) {
        add_wal(cx, &s->cap, e->name, catalog_path(cx->srv, e->name), 0);
        return 0;
    }
    if (s->stopped || strcmp(e->name, cx->bi->begin_wal) < 0 || xn.tli > cx->target_tli)
        return 0;
    add_wal(cx, &s->cap, e->name, catalog_path(cx->srv, e->name), 0);
    cx->wal_bytes += kind == XLOG_KIND_SEGMENT || kind == XLOG_KIND_PARTIAL ? cx->seg_size : e->size;
    if (strcmp(e->name, s->end) > 0) {
        snprintf(s->end, sizeof(s->end), "%s", e->name);
        if (cx->o->target_time != NULL && (int64_t) (e->time * 1e6) > cx->target_epoch_usec)
            s->stopped = 1;
    }
    return 0;
}

/* The newest streaming/<SEG>.partial on a usable timeline, after every selected segment. */
static void
select_partial(struct rctx *cx, size_t *cap)
{
    const char *dir = cx->srv->streaming_wals_directory;
    char best[64] = "", last[64] = "";
    DIR *d;
    struct dirent *de;

    if (dir == NULL || (d = opendir(dir)) == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        struct xlog_name xn;
        size_t len = strlen(de->d_name);
        if (len >= sizeof(best) || xlog_name_parse(de->d_name, &xn) != XLOG_KIND_PARTIAL || xn.tli > cx->target_tli)
            continue;
        if (strcmp(de->d_name, best) > 0)
            memcpy(best, de->d_name, len + 1);
    }
    closedir(d);
    if (best[0] == '\0')
        return;
    for (size_t i = 0; i < cx->n_wal; i++)
        if (xlog_is_segment_name(cx->wal[i].name) && strcmp(cx->wal[i].name, last) > 0)
            snprintf(last, sizeof(last), "%s", cx->wal[i].name);
    /* "<SEG>.partial" vs "<SEG>": compare the 24-character names only */
    if (last[0] != '\0' && strncmp(best, last, XLOG_NAME_LEN) <= 0)
        return;
    {
        char bare[XLOG_NAME_LEN + 1];
        char *src = path_join(dir, best);
        struct stat st;

        /* pg_receivewal's partial is always full-size; anything else is being rewritten */
        if (stat(src, &st) != 0 || (uint64_t) st.st_size != cx->seg_size) {
            free(src);
            return;
        }
        memcpy(bare, best, XLOG_NAME_LEN);
        bare[XLOG_NAME_LEN] = '\0';
        add_wal(cx, cap, bare, src, 1);
        cx->wal_bytes += cx->seg_size;
        cx->res->partial_included = 1;
        snprintf(cx->res->partial_name, sizeof(cx->res->partial_name), "%s", best);
    }
}

int
restore_wal_select(struct rctx *cx, struct br_error *err)
{
    struct select_state s = {.cx = cx};
    struct xlog_name begin, end;
    const char *lock_dir = cx->cfg->barman_lock_directory ? cx->cfg->barman_lock_directory : cx->cfg->barman_home;

    if (cx->bi->begin_wal == NULL || cx->bi->end_wal == NULL
        || xlog_name_parse(cx->bi->begin_wal, &begin) != XLOG_KIND_SEGMENT
        || xlog_name_parse(cx->bi->end_wal, &end) != XLOG_KIND_SEGMENT)
        return br_error_set(err, BR_E_STATE, "backup %s has no valid WAL range (begin_wal/end_wal)", cx->bi->backup_id);
    snprintf(s.end, sizeof(s.end), "%s", cx->bi->end_wal);
    if (xlogdb_foreach(cx->srv, lock_dir, select_cb, &s, err) != 0)
        return -1;

    /* every segment of the backup's own range must be there, or PostgreSQL cannot reach consistency */
    {
        uint64_t first = xlog_segno(begin.log, begin.seg, cx->seg_size);
        uint64_t last = xlog_segno(end.log, end.seg, cx->seg_size);
        for (uint64_t segno = first; segno <= last; segno++) {
            char name[XLOG_NAME_LEN + 1];
            int found = 0;
            xlog_segment_name(end.tli, segno, cx->seg_size, name);
            for (size_t i = 0; i < cx->n_wal && !found; i++)
                found = strcmp(cx->wal[i].name, name) == 0;
            if (!found) {
                br_error_set(err, BR_E_STATE,
                             "WAL file %s, needed to make backup %s consistent, is not in the archive of server %s",
                             name, cx->bi->backup_id, cx->srv->name);
                br_error_hint(err, "Run 'barrel check-backup %s %s'; with --get-wal, PostgreSQL fetches WAL from "
                              "the archive while it recovers.", cx->srv->name, cx->bi->backup_id);
                return -1;
            }
        }
    }
    if (!s.stopped && !cx->o->target_immediate)
        select_partial(cx, &s.cap);
    return 0;
}

void
restore_wal_free(struct rctx *cx)
{
    for (size_t i = 0; i < cx->n_wal; i++)
        free(cx->wal[i].src);
    free(cx->wal);
    cx->wal = NULL;
    cx->n_wal = 0;
}

/* ---- timelines ---- */

struct tli_state {
    uint32_t max;
};

static int
tli_cb(const struct xlogdb_entry *e, void *arg)
{
    struct tli_state *s = arg;
    struct xlog_name xn;

    if (xlog_name_parse(e->name, &xn) != XLOG_KIND_NONE && xn.tli > s->max)
        s->max = xn.tli;
    return 0;
}

int
restore_wal_latest_tli(struct rctx *cx, uint32_t *tli, struct br_error *err)
{
    struct tli_state s = {0};
    const char *lock_dir = cx->cfg->barman_lock_directory ? cx->cfg->barman_lock_directory : cx->cfg->barman_home;

    if (xlogdb_foreach(cx->srv, lock_dir, tli_cb, &s, err) != 0)
        return -1;
    *tli = s.max;
    return 0;
}

int
restore_wal_timeline_reachable(struct rctx *cx, uint32_t tli, struct br_error *err)
{
    char name[32];
    char *path;
    enum walfile_codec codec;
    struct stage *mem = NULL;
    const unsigned char *data;
    size_t len;
    uint64_t end_lsn = 0;
    int reachable = 0;

    if (tli == (uint32_t) cx->bi->timeline)
        return 1;
    if (tli < (uint32_t) cx->bi->timeline)
        return 0;
    snprintf(name, sizeof(name), "%08" PRIX32 ".history", tli);
    path = path_join(cx->srv->wals_directory, name);
    if (!path_exists(path)) {
        free(path);
        return 0;
    }
    mem = stage_mem_sink_new();
    if (walfile_identify(path, cx->srv, 1, &codec, err) != 0 || walfile_decompress(path, codec, cx->srv, mem, err) != 0) {
        stage_free(mem);
        free(path);
        return -1;
    }
    data = stage_mem_sink_data(mem, &len);
    if (cx->bi->end_xlog != NULL)
        xlog_lsn_parse(cx->bi->end_xlog, &end_lsn);
    /* lines "parentTLI <tab> switchpoint <tab> reason": the backup's timeline must be an ancestor, left after the backup ended */
    if (len < HISTORY_MAX_BYTES) {
        char *text = br_strndup((const char *) data, len);
        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            char lsn_text[32];
            unsigned parent;
            uint64_t lsn;
            if (sscanf(line, "%u %31s", &parent, lsn_text) != 2 || xlog_lsn_parse(lsn_text, &lsn) != 0)
                continue;
            if (parent == (unsigned) cx->bi->timeline && lsn >= end_lsn)
                reachable = 1;
        }
        free(text);
    }
    stage_free(mem);
    free(path);
    return reachable;
}

/* ---- copy ---- */

struct copy_state {
    struct rctx *cx;
    struct stage *heads[RESTORE_MAX_JOBS];   /* tally -> sink, one per worker */
    int64_t files[RESTORE_MAX_JOBS], bytes[RESTORE_MAX_JOBS];
};

static int
push_member(struct stage *head, const struct stage_member *m, const void *data, size_t len, struct br_error *err)
{
    struct chunk h = {.kind = CHUNK_MEMBER_HEADER, .member = m};
    struct chunk d = {.kind = CHUNK_MEMBER_DATA, .data = data, .len = len, .member = m};
    struct chunk e = {.kind = CHUNK_MEMBER_END, .member = m};

    if (stage_push(head, &h, err) != 0 || (len > 0 && stage_push(head, &d, err) != 0))
        return -1;
    return stage_push(head, &e, err);
}

static int
copy_unit(void *arg, size_t unit, int worker, struct br_error *err)
{
    struct copy_state *cs = arg;
    struct rctx *cx = cs->cx;
    const struct rwal *w = &cx->wal[unit];
    struct stage_member m = {.type = MEMBER_FILE, .mode = strcmp(cx->wal_dest_rel, "barman_wal") == 0 ? 0644 : 0600,
                             .mtime = (int64_t) time(NULL)};
    enum walfile_codec codec;
    struct xlog_name xn;
    char *member_path = br_asprintf("%s/%s", cx->wal_dest_rel, w->name);
    int rc = -1;

    m.path = member_path;
    if (cs->heads[worker] == NULL) {
        struct stage *sink = cx->t->ops->sink_new(cx->t, cx->dest, err);
        if (sink == NULL)
            goto out;
        cs->heads[worker] = restore_tally_new(&cx->shared, &cs->files[worker], &cs->bytes[worker], sink);
    }
    if (atomic_load(&cx->shared.abort)) {
        br_error_set(err, BR_E_INTERRUPTED, "WAL copy stopped because another worker failed");
        goto out;
    }
    if (walfile_identify(w->src, cx->srv, 1, &codec, err) != 0)
        goto out;
    if (xlog_name_parse(w->name, &xn) == XLOG_KIND_SEGMENT) {
        /* a segment has a known size: stream it */
        struct stage *wrap = restore_wrap_new(&m, cs->heads[worker]);
        struct chunk h = {.kind = CHUNK_MEMBER_HEADER, .member = &m};
        struct chunk e = {.kind = CHUNK_MEMBER_END, .member = &m};
        int64_t before = cs->bytes[worker];

        m.size = cx->seg_size;
        if (stage_push(cs->heads[worker], &h, err) != 0 || walfile_decompress(w->src, codec, cx->srv, wrap, err) != 0) {
            stage_free(wrap);
            goto out;
        }
        stage_free(wrap);
        if (cs->bytes[worker] - before != (int64_t) cx->seg_size) {
            br_error_set(err, BR_E_FORMAT, "WAL file \"%s\" holds %" PRId64 " bytes once decompressed, not %" PRIu32,
                         w->src, cs->bytes[worker] - before, cx->seg_size);
            goto out;
        }
        if (stage_push(cs->heads[worker], &e, err) != 0)
            goto out;
    } else {
        /* history and .backup files are small: decompress, then write with their size */
        struct stage *mem = stage_mem_sink_new();
        const unsigned char *data;
        size_t len;
        if (walfile_decompress(w->src, codec, cx->srv, mem, err) != 0) {
            stage_free(mem);
            goto out;
        }
        data = stage_mem_sink_data(mem, &len);
        m.size = (int64_t) len;
        rc = push_member(cs->heads[worker], &m, data, len, err);
        stage_free(mem);
        if (rc != 0)
            goto out;
        rc = -1;
    }
    if (!cx->is_pitr) {
        /* Barman's "Generating archive status files" */
        char *done = br_asprintf("%s/archive_status/%s.done", cx->wal_dest_rel, w->name);
        struct stage_member dm = {.path = done, .type = MEMBER_FILE, .mode = 0644, .mtime = m.mtime};
        int drc = push_member(cs->heads[worker], &dm, NULL, 0, err);
        free(done);
        if (drc != 0)
            goto out;
    }
    rc = 0;
out:
    if (rc != 0)
        restore_error_prefix(err, "could not copy WAL file %s", w->name);
    free(member_path);
    return rc;
}

int
restore_wal_copy(struct rctx *cx, struct br_error *err)
{
    struct copy_state *cs = br_calloc(1, sizeof(*cs));
    int rc;

    cs->cx = cx;
    rc = restore_pool_run(cx, cx->n_wal, cx->o->jobs, copy_unit, cs, "copying WAL", err);
    for (int i = 0; i < RESTORE_MAX_JOBS; i++) {
        if (cs->heads[i] == NULL)
            continue;
        if (rc == 0)
            rc = stage_finish(cs->heads[i], err);
        stage_free(cs->heads[i]);
        cx->res->bytes += cs->bytes[i];
        cx->res->wal_files += cs->files[i];
    }
    if (!cx->is_pitr)
        cx->res->wal_files /= 2;   /* the .done files */
    free(cs);
    return rc;
}
