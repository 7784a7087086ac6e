/*
 * walrebuild.c: rebuild-xlogdb, Barman 3.4's BackupManager.rebuild_xlogdb().
 *
 * The new xlog.db is streamed into a temporary file while wals/ is walked,
 * one directory listing at a time (a hash directory holds at most a few
 * hundred names), so memory does not grow with the archive.
 */
#include "barrel/build.h"
#include "barrel/walrebuild.h"

#include "barrel/catalog.h"
#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/fs.h"
#include "barrel/log.h"
#include "barrel/mem.h"
#include "barrel/walfile.h"
#include "barrel/xlog.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

struct rebuild {
    const struct server_config *srv;
    struct walrebuild_counts *counts;
};

struct names {
    size_t n, cap;
    char **v;
};

static int
names_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

static void
names_free(struct names *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

/* os.listdir() sorted; every name but "." and "..". */
static int
list_sorted(const char *dir, struct names *out, struct br_error *err)
{
    DIR *dp = opendir(dir);
    struct dirent *de;

    if (dp == NULL)
        return br_error_sys(err, BR_E_IO, "could not open directory \"%s\"", dir);
    while ((de = readdir(dp)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (out->n == out->cap) {
            out->cap = out->cap ? out->cap * 2 : 64;
            out->v = br_realloc(out->v, out->cap * sizeof(*out->v));
        }
        out->v[out->n++] = br_strdup(de->d_name);
    }
    closedir(dp);
    if (out->n > 1)
        qsort(out->v, out->n, sizeof(*out->v), names_cmp);
    return 0;
}

static int
ends_with(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

/* One xlog.db line from the file itself (Barman's get_wal_file_info). */
static int
add_entry(struct rebuild *rb, struct xlogdb_writer *w, const char *path, const char *name, struct br_error *err)
{
    struct xlogdb_entry e = {0};
    struct stat st;
    enum walfile_codec codec;

    if (stat(path, &st) != 0)
        return br_error_sys(err, BR_E_IO, "could not stat file \"%s\"", path);
    if (walfile_identify(path, rb->srv, 1, &codec, err) < 0)
        return -1;
    snprintf(e.name, sizeof(e.name), "%s", name);
    e.size = (int64_t) st.st_size;
    e.time = (double) st.st_mtim.tv_sec + (double) st.st_mtim.tv_nsec * 1e-9;
    snprintf(e.compression, sizeof(e.compression), "%s", walfile_codec_name(codec));
    return xlogdb_writer_add(w, &e, err);
}

static int
scan_hash_dir(struct rebuild *rb, struct xlogdb_writer *w, const char *dir, struct br_error *err)
{
    struct names files = {0};
    int rc = 0;

    if (list_sorted(dir, &files, err) < 0)
        return -1;
    for (size_t i = 0; i < files.n && rc == 0; i++) {
        char *path = path_join(dir, files.v[i]);
        enum xlog_kind kind = xlog_name_parse(files.v[i], NULL);

        if (path_is_dir(path))
            br_log_warning("unexpected directory rebuilding the wal database: %s", path);
        else if (kind == XLOG_KIND_SEGMENT || kind == XLOG_KIND_BACKUP) {
            if (kind == XLOG_KIND_SEGMENT)
                rb->counts->wal_files++;
            else
                rb->counts->backup_labels++;
            rc = add_entry(rb, w, path, files.v[i], err);
        } else if (ends_with(files.v[i], ".tmp"))
            br_log_warning("temporary file found rebuilding the wal database: %s", path);
        else
            br_log_warning("unexpected file rebuilding the wal database: %s", path);
        free(path);
    }
    names_free(&files);
    return rc;
}

static int
fill(struct xlogdb_writer *w, void *arg, struct br_error *err)
{
    struct rebuild *rb = arg;
    const char *root = rb->srv->wals_directory;
    char *own_db = br_asprintf("%s-xlog.db", rb->srv->name);
    struct names top = {0};
    int rc = 0;

    if (list_sorted(root, &top, err) < 0) {
        free(own_db);
        return -1;
    }
    for (size_t i = 0; i < top.n && rc == 0; i++) {
        const char *name = top.v[i];
        char *path;

        /* xlog.db itself, its temporary file, and Barman >= 3.13's <server>-xlog.db */
        if (strncmp(name, "xlog.db", 7) == 0 || strncmp(name, own_db, strlen(own_db)) == 0)
            continue;
        path = path_join(root, name);
        if (path_is_dir(path)) {
            rc = scan_hash_dir(rb, w, path, err);
        } else if (xlog_name_parse(name, NULL) == XLOG_KIND_HISTORY) {
            rb->counts->history++;
            rc = add_entry(rb, w, path, name, err);
        } else {
            br_log_warning("unexpected file rebuilding the wal database: %s", path);
        }
        free(path);
    }
    names_free(&top);
    free(own_db);
    return rc;
}

int
walrebuild_run(const struct server_config *srv, const char *lock_dir, struct walrebuild_counts *counts,
               struct br_error *err)
{
    struct rebuild rb = {srv, counts};

    memset(counts, 0, sizeof(*counts));
    if (fs_mkdir_p(srv->wals_directory, 0700, err) < 0)
        return -1;
    return xlogdb_rewrite(srv, lock_dir, fill, &rb, err);
}
