/*
 * restore.c: the recover recipe (spec 6.1, 6.2, 6.6), as a list of steps.
 *
 * Nothing is written before every check has passed. Then the archives (or
 * a plain backup's trees) are streamed, `jobs` at a time, each through its
 * own chain:
 *
 *   reader -> path guard -> [add pg_tblspc/<oid>/] -> manifest verifier
 *          -> filter (tablespace_map, --delta) -> [strip prefix] -> tally -> target sink
 *
 * so a hostile path is refused before anything sees it, and a file that
 * does not match the manifest stops the recovery with its name. WAL comes
 * next, then the configuration edits and, last, the signal file. On
 * failure the destination is emptied again (or, with --delta, made
 * unstartable), so a half-restored directory never looks ready.
 *
 * Barman's own tar backups need a staging directory and `tar -x`; barrel
 * streams, so --recovery-staging-path is accepted and unused.
 */
#include "barrel/build.h"
#include "barrel/restore.h"
#include "restore_int.h"

#include "barrel/catalog.h"
#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/fmt.h"
#include "barrel/fs.h"
#include "barrel/manifest.h"
#include "barrel/mem.h"
#include "barrel/output.h"
#include "barrel/stage.h"
#include "barrel/strbuf.h"
#include "barrel/timestamp.h"
#include "barrel/xlog.h"

#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MIN_VERSION_TARGET_LSN 100000

/* Never extracted from the base archive (Barman's exclusions for tar backups). */
static const char *const base_skip[] = {"recovery.conf", "tablespace_map", NULL};
/* Top-level entries of a plain backup's data/ tree that are not restored. */
static const char *const plain_skip[] = {"pg_tblspc", "pg_wal", "pg_xlog", "postmaster.pid", "recovery.conf",
                                         "backup_manifest", NULL};
static const char *const plain_skip_legacy[] = {"pg_tblspc", "pg_wal", "pg_xlog", "postmaster.pid", "recovery.conf",
                                                "backup_manifest", "pg_log", "log", NULL};

static double
now_seconds(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double) tv.tv_sec + (double) tv.tv_usec / 1e6;
}

static const char *
tar_ext(const char *compression)
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

/* ---- BACKUP_ID auto ---- */

struct backup_info *
restore_pick_auto(const struct catalog *cat, const struct restore_opts *o, struct br_error *err)
{
    struct br_timestamp target;
    uint64_t target_lsn = 0;
    int by_time = 0, by_lsn = 0;

    if (o->target_time != NULL) {
        if (br_timestamp_parse(o->target_time, &target) != 0) {
            br_error_set(err, BR_E_STATE, "Unable to parse the target time parameter '%s'", o->target_time);
            return NULL;
        }
        by_time = 1;
    }
    if (o->target_lsn != NULL) {
        if (xlog_lsn_parse(o->target_lsn, &target_lsn) != 0) {
            br_error_set(err, BR_E_STATE, "invalid target LSN '%s'", o->target_lsn);
            return NULL;
        }
        by_lsn = 1;
    }
    for (size_t i = cat->n_backups; i-- > 0;) {
        struct backup_info *bi = cat->backups[i];
        uint64_t end_lsn;
        if (bi->status != BACKUP_STATUS_DONE)
            continue;
        if (by_time && (!bi->end_time_set || bi->end_time.epoch_usec > target.epoch_usec))
            continue;
        if (by_lsn && (bi->end_xlog == NULL || xlog_lsn_parse(bi->end_xlog, &end_lsn) != 0 || end_lsn > target_lsn))
            continue;
        return bi;
    }
    br_error_set(err, BR_E_NOT_FOUND, "No backup of server '%s' is DONE and ends before the recovery target",
                 cat->srv->name);
    return NULL;
}

/* ---- checks ---- */

/* Tablespaces from backup.info, with --tablespace relocations. */
static int
check_tablespaces(struct rctx *cx, struct br_error *err)
{
    const struct backup_info *bi = cx->bi;
    const struct restore_opts *o = cx->o;

    for (size_t r = 0; r < o->n_relocations; r++) {
        int found = 0;
        for (size_t i = 0; i < bi->n_tablespaces; i++)
            found |= strcmp(bi->tablespaces[i].name, o->relocations[r].name) == 0;
        if (!found) {
            struct strbuf names;
            strbuf_init(&names);
            for (size_t i = 0; i < bi->n_tablespaces; i++)
                strbuf_appendf(&names, "%s%s", i ? ", " : "", bi->tablespaces[i].name);
            br_error_set(err, BR_E_STATE, "Invalid tablespace name '%s'", o->relocations[r].name);
            if (bi->n_tablespaces > 0)
                br_error_hint(err, "Please use any of the following tablespaces: %s", names.buf);
            else
                br_error_hint(err, "Backup %s has no tablespaces.", bi->backup_id);
            strbuf_free(&names);
            return -1;
        }
        if (o->relocations[r].location[0] != '/')
            return br_error_set(err, BR_E_STATE, "the location of tablespace '%s' must be an absolute path: '%s'",
                                o->relocations[r].name, o->relocations[r].location);
    }
    cx->n_tbs = bi->n_tablespaces;
    cx->tbs = br_calloc(cx->n_tbs ? cx->n_tbs : 1, sizeof(*cx->tbs));
    for (size_t i = 0; i < bi->n_tablespaces; i++) {
        cx->tbs[i].name = bi->tablespaces[i].name;
        cx->tbs[i].oid = bi->tablespaces[i].oid;
        for (size_t r = 0; r < o->n_relocations; r++)
            if (strcmp(o->relocations[r].name, bi->tablespaces[i].name) == 0) {
                cx->tbs[i].location = br_strdup(o->relocations[r].location);
                cx->tbs[i].relocated = 1;
            }
        if (cx->tbs[i].location == NULL)
            cx->tbs[i].location = br_strdup(bi->tablespaces[i].location);
        if (cx->tbs[i].location == NULL || cx->tbs[i].location[0] != '/')
            return br_error_set(err, BR_E_STATE, "tablespace '%s' of backup %s has no absolute location",
                                cx->tbs[i].name, bi->backup_id);
        if (strcmp(cx->tbs[i].location, cx->dest) == 0)
            return br_error_set(err, BR_E_STATE, "tablespace '%s' cannot be restored into the destination directory itself",
                                cx->tbs[i].name);
    }
    return 0;
}

/* The backup's format and files. */
static int
check_backup_files(struct rctx *cx, struct br_error *err)
{
    const struct backup_info *bi = cx->bi;
    char *mpath;

    if (bi->snapshots_info != NULL)
        return br_error_set(err, BR_E_STATE, "backup %s is a snapshot backup: barrel cannot recover it",
                            bi->backup_id);
    cx->backup_dir = catalog_backup_dir(cx->srv, bi->backup_id);
    cx->data_dir = path_join(cx->backup_dir, "data");
    cx->tar_ext = tar_ext(bi->compression);
    cx->is_tar = cx->tar_ext != NULL;
    if (bi->compression != NULL && !cx->is_tar)
        return br_error_set(err, BR_E_STATE, "backup %s has an unknown compression '%s'", bi->backup_id,
                            bi->compression);
    if (cx->is_tar) {
        char *base = br_asprintf("%s/base%s", cx->data_dir, cx->tar_ext);
        int ok = path_is_file(base);
        if (!ok)
            br_error_set(err, BR_E_STATE, "backup %s is incomplete: \"%s\" is missing", bi->backup_id, base);
        free(base);
        if (!ok)
            return -1;
        for (size_t i = 0; i < cx->n_tbs; i++) {
            char *tbs = br_asprintf("%s/%" PRIu32 "%s", cx->data_dir, cx->tbs[i].oid, cx->tar_ext);
            ok = path_is_file(tbs);
            if (!ok)
                br_error_set(err, BR_E_STATE, "backup %s is incomplete: \"%s\" is missing", bi->backup_id, tbs);
            free(tbs);
            if (!ok)
                return -1;
        }
    } else if (!path_is_dir(cx->data_dir)) {
        return br_error_set(err, BR_E_STATE, "backup %s is incomplete: \"%s\" is missing", bi->backup_id,
                            cx->data_dir);
    }
    mpath = path_join(cx->data_dir, "backup_manifest");
    if (path_exists(mpath)) {
        cx->m = manifest_load(mpath, err);
        if (cx->m == NULL) {
            free(mpath);
            return -1;
        }
        for (size_t i = 0; i < cx->m->n_files; i++)
            cx->total_bytes += cx->m->files[i].size;
    } else {
        cx->total_bytes = bi->size > 0 ? bi->size : 0;
    }
    free(mpath);
    return 0;
}

/* Python's str() of an aware datetime in the local zone. */
static void
format_local(int64_t epoch_usec, char *buf, size_t len)
{
    struct br_timestamp ts = {.epoch_usec = epoch_usec, .has_tz = 1};
    struct tm tm;
    time_t secs = (time_t) (epoch_usec / 1000000);

    localtime_r(&secs, &tm);
    ts.tz_offset_s = (int) tm.tm_gmtoff;
    br_timestamp_format(&ts, buf, len);
}

static int
check_targets(struct rctx *cx, struct br_error *err)
{
    const struct restore_opts *o = cx->o;
    const struct backup_info *bi = cx->bi;
    struct strbuf desc;
    int tli_differs = 0;

    cx->target_tli = (uint32_t) bi->timeline;
    if (bi->end_wal != NULL) {
        struct xlog_name xn;
        if (xlog_name_parse(bi->end_wal, &xn) == XLOG_KIND_SEGMENT)
            cx->target_tli = xn.tli;
    }
    if (o->target_tli != NULL) {
        uint32_t tli;
        if (strcmp(o->target_tli, "current") == 0)
            tli = (uint32_t) bi->timeline;
        else if (strcmp(o->target_tli, "latest") == 0) {
            if (restore_wal_latest_tli(cx, &tli, err) != 0)
                return -1;
            if (tli < (uint32_t) bi->timeline)
                tli = (uint32_t) bi->timeline;
        } else {
            char *end;
            unsigned long v;
            for (const char *p = o->target_tli; *p; p++)
                if (!isdigit((unsigned char) *p))
                    return br_error_set(err, BR_E_STATE, "%s is not a valid timeline keyword", o->target_tli);
            v = strtoul(o->target_tli, &end, 10);
            if (o->target_tli[0] == '\0' || v == 0 || v > UINT32_MAX)
                return br_error_set(err, BR_E_STATE, "%s is not a valid timeline keyword", o->target_tli);
            tli = (uint32_t) v;
        }
        {
            int reachable = restore_wal_timeline_reachable(cx, tli, err);
            if (reachable < 0)
                return -1;
            if (!reachable) {
                br_error_set(err, BR_E_STATE,
                             "The requested target timeline %" PRIu32 " is not reachable from backup %s (timeline %"
                             PRId64 ")", tli, bi->backup_id, bi->timeline);
                br_error_detail(err, "The archive of server %s has no %08" PRIX32 ".history file that leads back to "
                                "timeline %" PRId64 " after the end of the backup.", cx->srv->name, tli, bi->timeline);
                return -1;
            }
        }
        tli_differs = tli != (uint32_t) bi->timeline;
        cx->target_tli = tli;
    }
    cx->is_pitr = o->target_time || o->target_xid || o->target_name || o->target_immediate || o->target_lsn
                  || tli_differs;

    strbuf_init(&desc);
    if (o->target_time) {
        struct br_timestamp ts;
        char end_text[64];
        if (br_timestamp_parse(o->target_time, &ts) != 0) {
            strbuf_free(&desc);
            return br_error_set(err, BR_E_STATE, "Unable to parse the target time parameter '%s'", o->target_time);
        }
        cx->target_epoch_usec = ts.epoch_usec;
        if (ts.has_tz)
            br_timestamp_format(&ts, cx->target_time_text, sizeof(cx->target_time_text));
        else
            format_local(ts.epoch_usec, cx->target_time_text, sizeof(cx->target_time_text));
        if (bi->end_time_set && bi->end_time.epoch_usec > ts.epoch_usec) {
            br_timestamp_format(&bi->end_time, end_text, sizeof(end_text));
            strbuf_free(&desc);
            return br_error_set(err, BR_E_STATE, "The requested target time %s is before the backup end time %s",
                                cx->target_time_text, end_text);
        }
        strbuf_appendf(&desc, "time: '%s'", cx->target_time_text);
    }
    if (o->target_xid) {
        for (const char *p = o->target_xid; *p; p++)
            if (!isdigit((unsigned char) *p)) {
                strbuf_free(&desc);
                return br_error_set(err, BR_E_STATE, "invalid target xid '%s': expected a transaction id (digits)",
                                    o->target_xid);
            }
        strbuf_appendf(&desc, "%sxid: '%s'", desc.len ? ", " : "", o->target_xid);
    }
    if (o->target_lsn) {
        uint64_t lsn, end_lsn;
        if (xlog_lsn_parse(o->target_lsn, &lsn) != 0) {
            strbuf_free(&desc);
            return br_error_set(err, BR_E_STATE, "invalid target LSN '%s': expected an LSN such as 0/1D0054D8",
                                o->target_lsn);
        }
        if (bi->version != BI_NULL_INT && bi->version < MIN_VERSION_TARGET_LSN) {
            strbuf_free(&desc);
            return br_error_set(err, BR_E_STATE, "Illegal use of recovery_target_lsn '%s' for this version of "
                                "PostgreSQL (version 10 minimum required)", o->target_lsn);
        }
        if (bi->end_xlog != NULL && xlog_lsn_parse(bi->end_xlog, &end_lsn) == 0 && lsn < end_lsn) {
            strbuf_free(&desc);
            return br_error_set(err, BR_E_STATE, "The requested target LSN %s is before the backup end LSN %s",
                                o->target_lsn, bi->end_xlog);
        }
        strbuf_appendf(&desc, "%slsn: '%s'", desc.len ? ", " : "", o->target_lsn);
    }
    if (tli_differs)
        strbuf_appendf(&desc, "%stimeline: '%" PRIu32 "'", desc.len ? ", " : "", cx->target_tli);
    if (o->target_name)
        strbuf_appendf(&desc, "%sname: '%s'", desc.len ? ", " : "", o->target_name);
    if (o->target_immediate)
        strbuf_appendf(&desc, "%simmediate: True", desc.len ? ", " : "");
    if (!cx->is_pitr && o->target_action) {
        strbuf_free(&desc);
        return br_error_set(err, BR_E_STATE, "Can't enable recovery target action when PITR is not required");
    }
    if (cx->is_pitr)
        output_info("Doing PITR. Recovery target %s", desc.buf);
    strbuf_free(&desc);
    cx->wal_dest_rel = cx->is_pitr ? "barman_wal" : "pg_wal";
    return 0;
}

struct empty_check {
    int entries;
};

static int
count_entry(void *arg, const char *name, enum restore_ftype type, struct br_error *err)
{
    (void) name;
    (void) type;
    (void) err;
    ((struct empty_check *) arg)->entries++;
    return 1;   /* one is enough */
}

/*
 * A recovery killed before its end (SIGKILL, power cut) cleans nothing up.
 * Each directory it writes into gets RECOVER_MARKER first, and loses it
 * last: a directory holding it is barrel's own unfinished work, which the
 * next recover empties and starts again instead of refusing it as "not
 * empty". A directory without it is never touched.
 */
#define RECOVER_MARKER ".barrel-recover-incomplete"

struct name_collect {
    char **names;
    size_t n;
};

static int
collect_entry(void *arg, const char *name, enum restore_ftype type, struct br_error *err)
{
    struct name_collect *nc = arg;

    (void) type;
    (void) err;
    nc->names = br_realloc(nc->names, (nc->n + 1) * sizeof(char *));
    nc->names[nc->n++] = br_strdup(name);
    return 0;
}

/*
 * Empty `path` when it holds RECOVER_MARKER, or only the temporary file of
 * one (a recover killed while it wrote its marker, before anything else
 * went in): 1 emptied, 0 not ours (untouched), -1 error.
 */
static int
clear_interrupted(struct rctx *cx, const char *path, struct br_error *err)
{
    struct restore_target *t = cx->t;
    char *marker = path_join(path, RECOVER_MARKER);
    char *marker_tmp = path_join(path, RECOVER_MARKER ".tmp");
    struct name_collect nc = {NULL, 0};
    struct restore_stat st;
    int rc = -1;

    if (t->ops->stat(t, marker, &st, err) != 0)
        goto out;
    if (st.type != RT_FILE) {
        struct restore_stat tst;

        if (t->ops->stat(t, marker_tmp, &tst, err) != 0)
            goto out;
        if (tst.type != RT_FILE) {
            rc = 0;
            goto out;
        }
        /* the marker's first write did not finish: nothing but it can be ours */
        if (t->ops->list_dir(t, path, collect_entry, &nc, err) < 0)
            goto out;
        if (nc.n != 1) {
            rc = 0;
            goto out;
        }
        rc = t->ops->remove(t, marker_tmp, err) == 0 ? 1 : -1;
        goto out;
    }
    output_info("\"%s\" holds an interrupted recovery: removing it before recovering again", path);
    if (t->ops->list_dir(t, path, collect_entry, &nc, err) < 0)
        goto out;
    for (size_t i = 0; i < nc.n; i++) {
        char *entry;

        if (strcmp(nc.names[i], RECOVER_MARKER) == 0)
            continue;                  /* last, so that a crash in here leaves it recognisable */
        entry = path_join(path, nc.names[i]);
        int rm = t->ops->remove(t, entry, err);
        free(entry);
        if (rm != 0)
            goto out;
    }
    if (t->ops->remove(t, marker, err) != 0)
        goto out;
    rc = 1;
out:
    for (size_t i = 0; i < nc.n; i++)
        free(nc.names[i]);
    free(nc.names);
    free(marker_tmp);
    free(marker);
    return rc;
}

static int
mark_incomplete(struct rctx *cx, const char *path, struct br_error *err)
{
    char *marker = path_join(path, RECOVER_MARKER);
    static const char text[] = "barrel recover did not finish here: the next recover empties this directory\n";
    int rc = cx->t->ops->write_file(cx->t, marker, text, sizeof(text) - 1, 0600, err);

    free(marker);
    return rc;
}

static int
unmark_incomplete(struct rctx *cx, const char *path, struct br_error *err)
{
    char *marker = path_join(path, RECOVER_MARKER);
    int rc = cx->t->ops->remove(cx->t, marker, err);

    free(marker);
    return rc;
}

/* 1 empty or missing, 0 not empty, -1 error (not a directory, unreadable). */
static int
dir_is_empty(struct rctx *cx, const char *path, int *existed, struct br_error *err)
{
    struct restore_stat st;
    struct empty_check ec = {0};

    *existed = 0;
    if (cx->t->ops->stat(cx->t, path, &st, err) != 0)
        return -1;
    if (st.type == RT_MISSING)
        return 1;
    *existed = 1;
    if (st.type != RT_DIR)
        return br_error_set(err, BR_E_STATE, "\"%s\" exists and is not a directory", path);
    if (cx->t->ops->list_dir(cx->t, path, count_entry, &ec, err) < 0)
        return -1;
    return ec.entries == 0;
}

static int
check_destination(struct rctx *cx, struct br_error *err)
{
    int existed, empty;

    empty = dir_is_empty(cx, cx->dest, &existed, err);
    if (empty < 0)
        return -1;
    if (!empty && !cx->o->delta) {
        int cleared = clear_interrupted(cx, cx->dest, err);

        if (cleared < 0)
            return -1;
        empty = cleared;
    }
    cx->dest_existed = existed;
    if (cx->o->delta && !empty) {
        char *pid = path_join(cx->dest, "postmaster.pid");
        int unknown = 0, running = cx->t->ops->server_running(cx->t, pid, &unknown, err);
        free(pid);
        if (running < 0)
            return -1;
        if (running)
            return br_error_set(err, BR_E_STATE,
                                "a PostgreSQL server is running on \"%s\" (see its postmaster.pid): stop it before "
                                "restoring over it with --delta", cx->dest);
        return 0;
    }
    if (!empty) {
        br_error_set(err, BR_E_STATE, "destination directory \"%s\" is not empty", cx->dest);
        br_error_hint(err, "Recover into an empty or new directory, or use --delta to restore over a stopped data "
                      "directory.");
        return -1;
    }
    for (size_t i = 0; i < cx->n_tbs; i++) {
        empty = dir_is_empty(cx, cx->tbs[i].location, &existed, err);
        if (empty < 0)
            return -1;
        if (!empty && !cx->o->delta) {
            int cleared = clear_interrupted(cx, cx->tbs[i].location, err);

            if (cleared < 0)
                return -1;
            empty = cleared;
        }
        if (!empty) {
            br_error_set(err, BR_E_STATE, "location \"%s\" of tablespace '%s' is not empty", cx->tbs[i].location,
                         cx->tbs[i].name);
            br_error_hint(err, "Relocate it with --tablespace %s:NEW_LOCATION (an empty or new directory), or use "
                          "--delta.", cx->tbs[i].name);
            return -1;
        }
    }
    return 0;
}

/* Enough room for the data and the WAL copied, per filesystem, when the target can tell. */
static int
check_space(struct rctx *cx, struct br_error *err)
{
    size_t n = cx->n_tbs + 1;
    const char **paths = br_calloc(n, sizeof(*paths));
    int64_t *need = br_calloc(n, sizeof(*need)), *avail = br_calloc(n, sizeof(*avail));
    uint64_t *fs = br_calloc(n, sizeof(*fs));
    int *known = br_calloc(n, sizeof(*known));
    int rc = 0;

    if (cx->o->delta)
        goto out;
    paths[0] = cx->dest;
    for (size_t i = 0; i < cx->n_tbs; i++)
        paths[i + 1] = cx->tbs[i].location;
    /* per root: manifest sizes (all to DEST without a manifest), WAL to DEST */
    if (cx->m != NULL) {
        for (size_t f = 0; f < cx->m->n_files; f++) {
            size_t root = 0;
            unsigned oid;
            if (sscanf(cx->m->files[f].path, "pg_tblspc/%u/", &oid) == 1)
                for (size_t i = 0; i < cx->n_tbs; i++)
                    if (cx->tbs[i].oid == oid)
                        root = i + 1;
            need[root] += cx->m->files[f].size;
        }
    } else {
        need[0] = cx->total_bytes;
    }
    need[0] += cx->wal_bytes;
    for (size_t i = 0; i < n; i++) {
        int r = cx->t->ops->free_space(cx->t, paths[i], &avail[i], &fs[i], err);
        if (r < 0) {
            rc = -1;
            goto out;
        }
        known[i] = r == 0;
    }
    /* roots on one filesystem add up */
    for (size_t i = 0; i < n; i++) {
        int64_t total = 0;
        if (!known[i])
            continue;
        for (size_t j = 0; j < n; j++)
            if (known[j] && fs[j] == fs[i])
                total += need[j];
        if (total > avail[i]) {
            char need_text[32], avail_text[32];
            fmt_pretty_size((double) total, need_text, sizeof(need_text));
            fmt_pretty_size((double) avail[i], avail_text, sizeof(avail_text));
            rc = br_error_set(err, BR_E_STATE, "not enough free space for \"%s\": %s needed, %s available", paths[i],
                              need_text, avail_text);
            goto out;
        }
    }
out:
    free(paths);
    free(need);
    free(avail);
    free(fs);
    free(known);
    return rc;
}

/* ---- extraction ---- */

enum unit_kind { UNIT_TAR, UNIT_TREE, UNIT_FILE };

struct unit {
    enum unit_kind kind;
    char *src;             /* archive, tree or file in the catalog */
    char *label;           /* for messages: "base.tar.zst" */
    const char *root;      /* where it goes on the target */
    char *prefix;          /* manifest prefix "pg_tblspc/<oid>/" or NULL */
    const char *const *reader_skip;
    const char *const *filter_skip;
    char *member_path;     /* UNIT_FILE: its path under root */
};

struct extract_state {
    struct rctx *cx;
    size_t n;
    struct unit *units;
    int64_t files[RESTORE_MAX_JOBS], bytes[RESTORE_MAX_JOBS];
};

static struct unit *
unit_add(struct extract_state *es, enum unit_kind kind, char *src, char *label, const char *root)
{
    struct unit *u;

    es->units = br_realloc(es->units, (es->n + 1) * sizeof(*es->units));
    u = &es->units[es->n++];
    memset(u, 0, sizeof(*u));
    u->kind = kind;
    u->src = src;
    u->label = label;
    u->root = root;
    return u;
}

static void
units_free(struct extract_state *es)
{
    for (size_t i = 0; i < es->n; i++) {
        free(es->units[i].src);
        free(es->units[i].label);
        free(es->units[i].prefix);
        free(es->units[i].member_path);
    }
    free(es->units);
}

/* A whole catalog file pushed as one member (backup_manifest -> backup_manifest.<ID>). */
static int
push_file_member(const char *src, const char *member_path, struct stage *head, struct br_error *err)
{
    struct stage_member m = {.path = member_path, .type = MEMBER_FILE, .mode = 0600};
    struct stage *wrap;
    struct stat st;
    int fd, rc;

    fd = open(src, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return br_error_sys(err, BR_E_IO, "could not open file \"%s\"", src);
    if (fstat(fd, &st) != 0) {
        close(fd);
        return br_error_sys(err, BR_E_IO, "could not stat file \"%s\"", src);
    }
    m.size = (int64_t) st.st_size;
    m.mtime = (int64_t) st.st_mtime;
    {
        struct chunk h = {.kind = CHUNK_MEMBER_HEADER, .member = &m};
        struct chunk e = {.kind = CHUNK_MEMBER_END, .member = &m};
        wrap = restore_wrap_new(&m, head);
        rc = stage_push(head, &h, err);
        if (rc == 0)
            rc = stage_pump_fd(fd, src, wrap, err);
        if (rc == 0)
            rc = stage_push(head, &e, err);
        stage_free(wrap);
    }
    close(fd);
    return rc;
}

static int
extract_unit(void *arg, size_t idx, int worker, struct br_error *err)
{
    struct extract_state *es = arg;
    struct rctx *cx = es->cx;
    const struct unit *u = &es->units[idx];
    struct stage *sink, *chain;
    int rc;

    sink = cx->t->ops->sink_new(cx->t, u->root, err);
    if (sink == NULL) {
        restore_error_prefix(err, "%s", u->label);
        return -1;
    }
    /* built backwards from the sink, one decision per line */
    chain = restore_tally_new(&cx->shared, &es->files[worker], &es->bytes[worker], sink);
    if (u->kind == UNIT_FILE) {
        rc = push_file_member(u->src, u->member_path, chain, err);
        goto finish;
    }
    if (u->prefix != NULL)                          /* written at the tablespace's location */
        chain = restore_prefix_new(NULL, u->prefix, chain);
    if (cx->keep != NULL || u->filter_skip != NULL) /* tablespace_map, files already in place */
        chain = restore_filter_new(cx->m, cx->keep, u->filter_skip, chain);
    if (cx->m != NULL)                              /* every file checked against the manifest */
        chain = stage_manifest_verify_new(cx->m, 1, NULL, NULL, chain);
    if (u->prefix != NULL)                          /* verified under pg_tblspc/<oid>/ */
        chain = restore_prefix_new(u->prefix, NULL, chain);
    chain = restore_guard_new(u->label, &cx->shared.abort, chain);   /* first: hostile paths */
    if (u->kind == UNIT_TAR)
        rc = archive_reader_run(u->src, NULL, chain, err);
    else
        rc = dir_reader_run(u->src, NULL, u->reader_skip, chain, err);
finish:
    if (rc == 0)
        rc = stage_finish(chain, err);
    stage_free(chain);
    if (rc != 0 && err->code != BR_E_INTERRUPTED && strncmp(err->msg, u->label, strlen(u->label)) != 0)
        restore_error_prefix(err, "%s", u->label);
    return rc;
}

/* Manifest entries never found in any archive (pg_wal/ is not restored from the backup). */
static int
check_unseen(struct rctx *cx, struct br_error *err)
{
    if (cx->m == NULL)
        return 0;
    for (size_t i = 0; i < cx->m->n_files; i++) {
        const struct manifest_file *f = &cx->m->files[i];
        if (f->seen || strncmp(f->path, "pg_wal/", 7) == 0)
            continue;
        return br_error_set(err, BR_E_FORMAT, "\"%s\" is present in the manifest but not in the backup's archives",
                            f->path);
    }
    return 0;
}

static int
step_extract(struct rctx *cx, struct br_error *err)
{
    struct extract_state *es = br_calloc(1, sizeof(*es));
    int rc;

    es->cx = cx;
    if (cx->is_tar) {
        /* tablespaces first: usually the biggest, and the pool takes units in order */
        for (size_t i = 0; i < cx->n_tbs; i++) {
            struct unit *u = unit_add(es, UNIT_TAR, br_asprintf("%s/%" PRIu32 "%s", cx->data_dir, cx->tbs[i].oid,
                                                                cx->tar_ext),
                                      br_asprintf("%" PRIu32 "%s", cx->tbs[i].oid, cx->tar_ext), cx->tbs[i].location);
            u->prefix = br_asprintf("pg_tblspc/%" PRIu32 "/", cx->tbs[i].oid);
        }
        struct unit *u = unit_add(es, UNIT_TAR, br_asprintf("%s/base%s", cx->data_dir, cx->tar_ext),
                                  br_asprintf("base%s", cx->tar_ext), cx->dest);
        u->filter_skip = base_skip;
    } else {
        for (size_t i = 0; i < cx->n_tbs; i++) {
            struct unit *u = unit_add(es, UNIT_TREE, br_asprintf("%s/%" PRIu32, cx->backup_dir, cx->tbs[i].oid),
                                      br_asprintf("tablespace %s", cx->tbs[i].name), cx->tbs[i].location);
            u->prefix = br_asprintf("pg_tblspc/%" PRIu32 "/", cx->tbs[i].oid);
        }
        struct unit *u = unit_add(es, UNIT_TREE, br_strdup(cx->data_dir), br_strdup("data directory"), cx->dest);
        u->reader_skip = cx->m != NULL ? plain_skip : plain_skip_legacy;
        u->filter_skip = base_skip;
    }
    if (cx->m != NULL) {
        struct unit *u = unit_add(es, UNIT_FILE, path_join(cx->data_dir, "backup_manifest"),
                                  br_strdup("backup_manifest"), cx->dest);
        u->member_path = br_asprintf("backup_manifest.%s", cx->bi->backup_id);
    }
    rc = restore_pool_run(cx, es->n, cx->o->jobs, extract_unit, es, "restoring", err);
    for (int i = 0; i < RESTORE_MAX_JOBS; i++) {
        cx->res->files += es->files[i];
        cx->res->bytes += es->bytes[i];
    }
    units_free(es);
    free(es);
    if (rc == 0)
        rc = check_unseen(cx, err);
    return rc;
}

/* ---- the other steps ---- */

static int
step_prepare_dirs(struct rctx *cx, struct br_error *err)
{
    struct restore_target *t = cx->t;

    if (t->ops->mkdir_p(t, cx->dest, 0700, err) != 0)
        return -1;
    cx->wrote_anything = 1;
    if (!cx->o->delta && mark_incomplete(cx, cx->dest, err) != 0)
        return -1;
    for (size_t i = 0; i < cx->n_tbs; i++) {
        output_info("\t%" PRIu32 ", %s, %s", cx->tbs[i].oid, cx->tbs[i].name, cx->tbs[i].location);
        if (t->ops->mkdir_p(t, cx->tbs[i].location, 0700, err) != 0)
            return -1;
        if (!cx->o->delta && mark_incomplete(cx, cx->tbs[i].location, err) != 0)
            return -1;
    }
    return 0;
}

static int
step_link_tablespaces(struct rctx *cx, struct br_error *err)
{
    struct restore_target *t = cx->t;
    char *dir = path_join(cx->dest, "pg_tblspc");
    int rc = t->ops->mkdir_p(t, dir, 0700, err);

    for (size_t i = 0; i < cx->n_tbs && rc == 0; i++) {
        char *link = br_asprintf("%s/%" PRIu32, dir, cx->tbs[i].oid);
        rc = t->ops->remove(t, link, err);
        if (rc == 0)
            rc = t->ops->symlink(t, cx->tbs[i].location, link, err);
        free(link);
    }
    free(dir);
    return rc;
}

static int
step_wal_dirs(struct rctx *cx, struct br_error *err)
{
    char *p = br_asprintf("%s/pg_wal/archive_status", cx->dest);
    int rc = cx->t->ops->mkdir_p(cx->t, p, 0700, err);

    free(p);
    /* Barman creates barman_wal/archive_status for every PITR, also with get-wal */
    if (rc == 0 && cx->is_pitr) {
        p = br_asprintf("%s/barman_wal/archive_status", cx->dest);
        rc = cx->t->ops->mkdir_p(cx->t, p, 0755, err);
        free(p);
    }
    return rc;
}

static int
step_recover_info(struct rctx *cx, struct br_error *err)
{
    struct strbuf sb;
    char *path = path_join(cx->dest, ".barman-recover.info");
    int rc;

    strbuf_init(&sb);
    backup_info_serialize(cx->bi, &sb);
    rc = cx->t->ops->write_file(cx->t, path, sb.buf, sb.len, 0644, err);
    strbuf_free(&sb);
    free(path);
    return rc;
}

struct clear_ctx {
    struct rctx *cx;
    const char *dir;
};

static int
clear_entry(void *arg, const char *name, enum restore_ftype type, struct br_error *err)
{
    struct clear_ctx *cc = arg;
    char *p = path_join(cc->dir, name);
    int rc;

    (void) type;
    rc = cc->cx->t->ops->remove(cc->cx->t, p, err);
    free(p);
    return rc;
}

/* Leave nothing that looks like a data directory ready to start. */
static void
cleanup_after_failure(struct rctx *cx)
{
    struct br_error e2;

    br_error_clear(&e2);
    if (!cx->wrote_anything)
        return;
    if (cx->o->delta) {
        char *control = br_asprintf("%s/global/pg_control", cx->dest);
        cx->t->ops->remove(cx->t, control, &e2);
        free(control);
        output_warning("the restore over \"%s\" failed half-way: global/pg_control was removed so that this "
                       "directory cannot be started; run the recovery again", cx->dest);
        return;
    }
    {
        struct clear_ctx cc = {.cx = cx, .dir = cx->dest};
        if (cx->dest_existed)
            cx->t->ops->list_dir(cx->t, cx->dest, clear_entry, &cc, &e2);
        else
            cx->t->ops->remove(cx->t, cx->dest, &e2);
    }
    for (size_t i = 0; i < cx->n_tbs; i++) {
        struct clear_ctx cc = {.cx = cx, .dir = cx->tbs[i].location};
        cx->t->ops->list_dir(cx->t, cx->tbs[i].location, clear_entry, &cc, &e2);
    }
}

static void
print_summary(struct rctx *cx, const struct br_timestamp *started, double t0)
{
    const struct restore_opts *o = cx->o;
    struct restore_result *res = cx->res;
    char start_text[64], elapsed[64], bytes[32], rate[32];
    double secs = now_seconds() - t0;

    res->seconds = secs;
    br_timestamp_format(started, start_text, sizeof(start_text));
    fmt_timedelta(secs, elapsed, sizeof(elapsed));
    fmt_pretty_size((double) res->bytes, bytes, sizeof(bytes));
    fmt_pretty_size(secs > 0 ? (double) res->bytes / secs : 0, rate, sizeof(rate));
    output_info("%s", "");
    if (o->delta)
        output_info("Restored %" PRId64 " files (%" PRId64 " unchanged files kept, %" PRId64
                    " files the backup lacks removed) and %" PRId64 " WAL files: %s written in %.1f s (%s/s)",
                    res->files, res->files_kept, res->files_removed, res->wal_files, bytes, secs, rate);
    else
        output_info("Restored %" PRId64 " files and %" PRId64 " WAL files: %s written in %.1f s (%s/s)", res->files,
                    res->wal_files, bytes, secs, rate);
    if (res->partial_included)
        output_info("The last streamed WAL segment %s is included, so transactions streamed after the last complete "
                    "segment are recovered too", res->partial_name);
    if (res->stager_pid > 0)
        output_info("%" PRId64 " WAL segments are being written into barman_wal by barrel's stager (pid %ld) in the "
                    "background: start PostgreSQL now, restore_command waits for each one", res->wal_background,
                    res->stager_pid);
    output_info("Recovery completed (start time: %s, elapsed time: %s)", start_text, elapsed);
    output_info("Your PostgreSQL server has been successfully prepared for recovery!");
    output_info("%s", "");
    output_info("Next step: as the operating-system user that will own the cluster (files here belong to the user "
                "that ran barrel), start it with");
    output_info("    pg_ctl -D %s start", cx->dest);
    if (o->standby_mode)
        output_info("It starts as a standby%s.", o->primary_conninfo ? " and streams from primary_conninfo"
                                                                    : "; set primary_conninfo to let it stream");
    else if (cx->is_pitr && (o->target_action == NULL || strcmp(o->target_action, "pause") == 0)
             && !(o->target_tli && !o->target_time && !o->target_xid && !o->target_lsn && !o->target_name
                  && !o->target_immediate))
        output_info("Recovery pauses at the target: check the data, then run SELECT pg_wal_replay_resume(); to "
                    "end recovery.");
}

int
restore_run(const struct barrel_config *cfg, const struct server_config *srv, const struct backup_info *bi,
            const char *dest, const struct restore_opts *opts, struct restore_target *target,
            struct restore_result *res, struct br_error *err)
{
    struct rctx cx;
    struct br_timestamp started;
    double t0 = now_seconds();
    int rc = -1;

    memset(&cx, 0, sizeof(cx));
    memset(res, 0, sizeof(*res));
    cx.cfg = cfg;
    cx.srv = srv;
    cx.bi = bi;
    cx.o = opts;
    cx.t = target;
    cx.res = res;
    cx.dest = br_strdup(dest);
    cx.seg_size = bi->xlog_segment_size > 0 ? (uint32_t) bi->xlog_segment_size : XLOG_DEFAULT_SEGMENT_SIZE;
    atomic_init(&cx.shared.bytes, 0);
    atomic_init(&cx.shared.files, 0);
    atomic_init(&cx.shared.abort, 0);
    br_timestamp_now(&started);

    /* 1. checks: everything that can be refused is refused before a byte is written */
    if (check_tablespaces(&cx, err) != 0)
        goto out;
    output_info("Starting %s restore for server %s using backup %s", target->is_remote ? "remote" : "local",
                srv->name, bi->backup_id);
    output_info("Destination directory: %s", dest);
    if (check_targets(&cx, err) != 0)
        goto out;
    if (check_backup_files(&cx, err) != 0)
        goto out;
    if (!opts->get_wal && restore_wal_select(&cx, err) != 0)
        goto out;
    if (check_destination(&cx, err) != 0)
        goto out;
    if (check_space(&cx, err) != 0)
        goto out;
    res->is_pitr = cx.is_pitr;

    /* 2. the destination and the tablespace locations exist */
    if (step_prepare_dirs(&cx, err) != 0)
        goto out;
    /* 3. --delta: what is already in place stays */
    if (opts->delta && restore_delta_scan(&cx, err) != 0)
        goto out;
    /* 4. every archive or tree, verified while it streams */
    output_info("Copying the base backup.");
    if (step_extract(&cx, err) != 0)
        goto out;
    /* 5. pg_tblspc links to the tablespaces' locations */
    if (step_link_tablespaces(&cx, err) != 0)
        goto out;
    /* 6. the WAL PostgreSQL needs, unless it fetches it with get-wal */
    if (step_wal_dirs(&cx, err) != 0)
        goto out;
    if (!opts->get_wal) {
        output_info("Copying required WAL segments.");
        if (!cx.is_pitr)
            output_info("Generating archive status files");
        if (restore_wal_in_background(&cx) ? restore_wal_stage_background(&cx, err) != 0
                                            : restore_wal_copy(&cx, err) != 0)
            goto out;
    }
    /* 7. .barman-recover.info, as Barman writes it */
    if (step_recover_info(&cx, err) != 0)
        goto out;
    /* 8. last: configuration edits, recovery settings, signal file */
    if (restore_settings_write(&cx, err) != 0)
        goto out;
    /* 9. the directories are complete: no longer barrel's unfinished work */
    for (size_t i = 0; i < cx.n_tbs && !opts->delta; i++)
        if (unmark_incomplete(&cx, cx.tbs[i].location, err) != 0)
            goto out;
    if (!opts->delta && unmark_incomplete(&cx, cx.dest, err) != 0)
        goto out;
    print_summary(&cx, &started, t0);
    rc = 0;
out:
    if (rc != 0)
        cleanup_after_failure(&cx);
    restore_wal_free(&cx);
    manifest_free(cx.m);
    for (size_t i = 0; i < cx.n_tbs; i++)
        free(cx.tbs[i].location);
    free(cx.tbs);
    free(cx.keep);
    free(cx.backup_dir);
    free(cx.data_dir);
    free(cx.dest);
    return rc;
}
