/*
 * restore_delta.c: --delta, restoring over an existing stopped data
 * directory (beyond Barman 3.4; pgBackRest's --delta).
 *
 * Before extraction, every file under DEST (and under each tablespace's
 * location) is compared with the manifest: a file with the manifest's size
 * and checksum is marked in cx->keep[] and the extraction chain drops that
 * member (restore_delta_filter_new); a file the manifest does not list is
 * removed, and so is every symlink (pg_tblspc links are made again). What
 * differs is simply written again by the extraction. The archives are still
 * read and verified whole: a tar stream cannot be skipped through.
 */
#include "barrel/build.h"
#include "restore_int.h"

#include "barrel/catalog.h"
#include "barrel/error.h"
#include "barrel/fs.h"
#include "barrel/manifest.h"
#include "barrel/mem.h"

#include <inttypes.h>

struct walk {
    struct rctx *cx;
    const char *abs;        /* absolute directory being listed */
    const char *rel;        /* its manifest path ("" for the data directory root) */
    int depth;
};

static int walk_dir(struct rctx *cx, const char *abs, const char *rel, int depth, struct br_error *err);

static int
walk_entry(void *arg, const char *name, enum restore_ftype type, struct br_error *err)
{
    struct walk *w = arg;
    struct rctx *cx = w->cx;
    char *abs = path_join(w->abs, name);
    char *rel = w->rel[0] ? br_asprintf("%s/%s", w->rel, name) : br_strdup(name);
    int rc = 0;

    if (type == RT_DIR) {
        /* DEST/pg_tblspc holds links only (removed below); tablespaces are walked at their locations */
        rc = walk_dir(cx, abs, rel, w->depth + 1, err);
    } else {
        struct manifest_file *f = type == RT_FILE ? manifest_find(cx->m, rel) : NULL;
        int match = 0;

        if (f != NULL) {
            rc = cx->t->ops->file_matches(cx->t, abs, f, &match, err);
            if (rc == 0 && match) {
                cx->keep[f - cx->m->files] = 1;
                cx->res->files_kept++;
            }
        } else {
            rc = cx->t->ops->remove(cx->t, abs, err);
            if (rc == 0 && type != RT_LINK)
                cx->res->files_removed++;
        }
    }
    free(rel);
    free(abs);
    return rc;
}

static int
walk_dir(struct rctx *cx, const char *abs, const char *rel, int depth, struct br_error *err)
{
    struct walk w = {.cx = cx, .abs = abs, .rel = rel, .depth = depth};

    if (depth > 64)
        return br_error_set(err, BR_E_STATE, "\"%s\" is nested too deeply for a data directory", abs);
    return cx->t->ops->list_dir(cx->t, abs, walk_entry, &w, err);
}

int
restore_delta_scan(struct rctx *cx, struct br_error *err)
{
    struct restore_stat st;

    if (cx->m == NULL)
        return br_error_set(err, BR_E_STATE, "--delta needs a backup with a backup_manifest; backup %s has none",
                            cx->bi->backup_id);
    cx->keep = br_calloc(cx->m->n_files ? cx->m->n_files : 1, 1);
    if (cx->t->ops->stat(cx->t, cx->dest, &st, err) != 0)
        return -1;
    if (st.type == RT_DIR && walk_dir(cx, cx->dest, "", 0, err) != 0)
        return -1;
    for (size_t i = 0; i < cx->n_tbs; i++) {
        char *rel = br_asprintf("pg_tblspc/%" PRIu32, cx->tbs[i].oid);
        int rc = 0;

        if (cx->t->ops->stat(cx->t, cx->tbs[i].location, &st, err) != 0)
            rc = -1;
        else if (st.type == RT_DIR)
            rc = walk_dir(cx, cx->tbs[i].location, rel, 1, err);
        free(rel);
        if (rc != 0)
            return -1;
    }
    return 0;
}
