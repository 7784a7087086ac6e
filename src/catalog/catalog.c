/*
 * catalog.c: the list of a server's backups and Barman's backup selectors.
 *
 * Barman 3.4 finds backups by globbing <basebackups_directory>/<any>/backup.info
 * and takes the ID from the directory name; Barman >= 3.13.2 writes
 * <backup_directory>/meta/<ID>-backup.info instead and prefers it when both
 * exist. We read both, meta/ winning, and keep the list sorted by ID, which
 * is also chronological order (spec 2.11).
 *
 * Selector rules are those of barman/cli.py parse_backup_id() and
 * barman/utils.py: latest/last and oldest/first among DONE and
 * WAITING_FOR_WALS backups, last-failed the newest FAILED one, anything that
 * looks like an ID is an ID, anything else a name, searched among DONE and
 * WAITING_FOR_WALS backups. Barman 3.4 tests "last-failed" with a substring
 * check (so "fail" also selects it); we do not copy that bug.
 */
#include "barrel/build.h"
#include "barrel/catalog.h"

#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/fs.h"
#include "barrel/mem.h"
#include "barrel/strbuf.h"

#include <dirent.h>
#include <errno.h>

#define META_BACKUP_INFO_SUFFIX "-backup.info"

static char *
catalog_base_root(const struct server_config *srv)
{
    if (srv->basebackups_directory != NULL)
        return br_strdup(srv->basebackups_directory);
    return path_join(srv->backup_directory, "base");
}

char *
catalog_backup_dir(const struct server_config *srv, const char *backup_id)
{
    char *root = catalog_base_root(srv);
    char *dir = path_join(root, backup_id);

    free(root);
    return dir;
}

/* One backup found on disk, before reading. */
struct catalog_found {
    char id[BACKUP_ID_LEN + 1];
    char *path;
    int from_meta;
};

struct catalog_scan {
    struct catalog_found *items;
    size_t n, cap;
};

static void
catalog_scan_add(struct catalog_scan *scan, const char *id, char *path, int from_meta)
{
    size_t i;

    for (i = 0; i < scan->n; i++) {
        if (strcmp(scan->items[i].id, id) == 0) {
            /* meta/ wins over base/, whichever order readdir gave them */
            if (from_meta && !scan->items[i].from_meta) {
                free(scan->items[i].path);
                scan->items[i].path = path;
                scan->items[i].from_meta = 1;
            } else {
                free(path);
            }
            return;
        }
    }
    if (scan->n == scan->cap) {
        scan->cap = scan->cap ? scan->cap * 2 : 16;
        scan->items = br_realloc(scan->items, scan->cap * sizeof(*scan->items));
    }
    snprintf(scan->items[scan->n].id, sizeof(scan->items[scan->n].id), "%s", id);
    scan->items[scan->n].path = path;
    scan->items[scan->n].from_meta = from_meta;
    scan->n++;
}

/* Read one directory; a missing directory is fine. */
static int
catalog_scan_dir(struct catalog_scan *scan, const char *dir, int is_meta, struct br_error *err)
{
    DIR *d = opendir(dir);
    struct dirent *de;

    if (d == NULL) {
        if (errno == ENOENT)
            return 0;
        return br_error_sys(err, BR_E_IO, "could not open directory \"%s\"", dir);
    }
    for (;;) {
        char id[BACKUP_ID_LEN + 1];
        char *path;

        errno = 0;
        de = readdir(d);
        if (de == NULL)
            break;
        if (is_meta) {
            size_t len = strlen(de->d_name);
            size_t slen = strlen(META_BACKUP_INFO_SUFFIX);

            if (len != BACKUP_ID_LEN + slen || strcmp(de->d_name + BACKUP_ID_LEN, META_BACKUP_INFO_SUFFIX) != 0)
                continue;
            memcpy(id, de->d_name, BACKUP_ID_LEN);
            id[BACKUP_ID_LEN] = '\0';
            if (!backup_id_is_valid(id))
                continue;
            path = path_join(dir, de->d_name);
        } else {
            char *sub;

            if (!backup_id_is_valid(de->d_name))
                continue;
            memcpy(id, de->d_name, BACKUP_ID_LEN + 1);
            sub = path_join(dir, de->d_name);
            path = path_join(sub, "backup.info");
            free(sub);
        }
        if (!path_is_file(path)) {
            free(path);
            continue;
        }
        catalog_scan_add(scan, id, path, is_meta);
    }
    if (errno != 0) {
        int rc = br_error_sys(err, BR_E_IO, "could not read directory \"%s\"", dir);

        closedir(d);
        return rc;
    }
    closedir(d);
    return 0;
}

static int
catalog_cmp_backup(const void *a, const void *b)
{
    const struct backup_info *const *x = a;
    const struct backup_info *const *y = b;

    return strcmp((*x)->backup_id, (*y)->backup_id);
}

struct catalog *
catalog_open(const struct server_config *srv, struct br_error *err)
{
    struct catalog *cat = br_calloc(1, sizeof(*cat));
    struct catalog_scan scan = { NULL, 0, 0 };
    char *base = catalog_base_root(srv);
    char *meta = srv->backup_directory != NULL ? path_join(srv->backup_directory, "meta") : NULL;
    size_t i;
    int ok = 0;

    cat->srv = srv;
    if (catalog_scan_dir(&scan, base, 0, err) < 0)
        goto out;
    if (meta != NULL && catalog_scan_dir(&scan, meta, 1, err) < 0)
        goto out;

    cat->backups = br_calloc(scan.n > 0 ? scan.n : 1, sizeof(*cat->backups));
    for (i = 0; i < scan.n; i++) {
        struct backup_info *bi = backup_info_read(scan.items[i].path, scan.items[i].id, err);

        if (bi == NULL)
            goto out;
        cat->backups[cat->n_backups++] = bi;
    }
    qsort(cat->backups, cat->n_backups, sizeof(*cat->backups), catalog_cmp_backup);
    ok = 1;
out:
    for (i = 0; i < scan.n; i++)
        free(scan.items[i].path);
    free(scan.items);
    free(base);
    free(meta);
    if (!ok) {
        catalog_free(cat);
        return NULL;
    }
    return cat;
}

void
catalog_free(struct catalog *cat)
{
    size_t i;

    if (cat == NULL)
        return;
    for (i = 0; i < cat->n_backups; i++)
        backup_info_free(cat->backups[i]);
    free(cat->backups);
    free(cat);
}

static int
catalog_status_matches(const struct backup_info *bi, unsigned status_mask)
{
    return status_mask == 0 || (status_mask & BACKUP_STATUS_MASK(bi->status)) != 0;
}

static struct backup_info *
catalog_newest(const struct catalog *cat, unsigned status_mask)
{
    size_t i;

    for (i = cat->n_backups; i-- > 0;)
        if (catalog_status_matches(cat->backups[i], status_mask))
            return cat->backups[i];
    return NULL;
}

static struct backup_info *
catalog_oldest(const struct catalog *cat, unsigned status_mask)
{
    size_t i;

    for (i = 0; i < cat->n_backups; i++)
        if (catalog_status_matches(cat->backups[i], status_mask))
            return cat->backups[i];
    return NULL;
}

/* Barman's get_backup_info_from_name(): one match, none, or an error listing every match. */
static struct backup_info *
catalog_find_name(const struct catalog *cat, const char *name, int *ambiguous, struct br_error *err)
{
    struct backup_info *found = NULL;
    struct strbuf ids;
    size_t i, matches = 0;

    *ambiguous = 0;
    strbuf_init(&ids);
    for (i = 0; i < cat->n_backups; i++) {
        struct backup_info *bi = cat->backups[i];

        if (!catalog_status_matches(bi, BACKUP_MASK_COPY_DONE) || bi->backup_name == NULL ||
            strcmp(bi->backup_name, name) != 0)
            continue;
        if (matches++ > 0)
            strbuf_append_char(&ids, ' ');
        strbuf_append(&ids, bi->backup_id);
        found = bi;
    }
    if (matches > 1) {
        *ambiguous = 1;
        br_error_set(err, BR_E_STATE, "Multiple backups found matching name '%s' (try using backup ID instead): %s",
                     name, ids.buf);
        found = NULL;
    }
    strbuf_free(&ids);
    return found;
}

struct backup_info *
catalog_resolve(const struct catalog *cat, const char *selector, struct br_error *err)
{
    struct backup_info *bi = NULL;

    if (strcmp(selector, "latest") == 0 || strcmp(selector, "last") == 0) {
        bi = catalog_newest(cat, BACKUP_MASK_COPY_DONE);
    } else if (strcmp(selector, "oldest") == 0 || strcmp(selector, "first") == 0) {
        bi = catalog_oldest(cat, BACKUP_MASK_COPY_DONE);
    } else if (strcmp(selector, "last-failed") == 0) {
        bi = catalog_newest(cat, BACKUP_STATUS_MASK(BACKUP_STATUS_FAILED));
    } else if (backup_id_is_valid(selector)) {
        size_t i;

        for (i = 0; i < cat->n_backups; i++) {
            if (strcmp(cat->backups[i]->backup_id, selector) == 0) {
                bi = cat->backups[i];
                break;
            }
        }
    } else {
        int ambiguous;

        bi = catalog_find_name(cat, selector, &ambiguous, err);
        if (ambiguous)
            return NULL;
    }
    if (bi == NULL) {
        const char *server = cat->srv != NULL && cat->srv->name != NULL ? cat->srv->name : "";

        /* Barman's wording, capitalised as it prints it */
        br_error_set(err, BR_E_NOT_FOUND, "Unknown backup '%s' for server '%s'", selector, server);
    }
    return bi;
}

struct backup_info *
catalog_previous(const struct catalog *cat, const struct backup_info *bi, unsigned status_mask)
{
    size_t i;

    for (i = cat->n_backups; i-- > 0;) {
        struct backup_info *cand = cat->backups[i];

        if (strcmp(cand->backup_id, bi->backup_id) < 0 && catalog_status_matches(cand, status_mask))
            return cand;
    }
    return NULL;
}

struct backup_info *
catalog_next(const struct catalog *cat, const struct backup_info *bi, unsigned status_mask)
{
    size_t i;

    for (i = 0; i < cat->n_backups; i++) {
        struct backup_info *cand = cat->backups[i];

        if (strcmp(cand->backup_id, bi->backup_id) > 0 && catalog_status_matches(cand, status_mask))
            return cand;
    }
    return NULL;
}
