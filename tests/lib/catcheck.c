/*
 * catcheck.c: the catalog consistency checker of the fault tests (see
 * catcheck.h). It uses barrel's own readers for the formats (xlog.db lines,
 * backup.info), and walks the directories itself.
 */
#include "barrel/build.h"
#include "catcheck.h"

#include <dirent.h>
#include <sys/stat.h>

#include "barrel/catalog.h"
#include "barrel/error.h"
#include "barrel/fs.h"
#include "barrel/mem.h"
#include "barrel/strbuf.h"
#include "barrel/xlog.h"

static int
str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

static void
push(char ***list, size_t *n, const char *s)
{
    *list = br_realloc(*list, (*n + 1) * sizeof(**list));
    (*list)[(*n)++] = br_strdup(s);
}

/* wals/<hash>/<name> for a segment-like name, wals/<name> for a history file. */
static char *
wal_path(const char *wals, const char *name)
{
    char hash[17];

    xlog_hash_dir(name, hash);
    if (hash[0] == '\0')
        return path_join(wals, name);
    return br_asprintf("%s/%s/%s", wals, hash, name);
}

static int
ignored_name(const char *name)
{
    size_t len = strlen(name);

    return name[0] == '.' || strncmp(name, "xlog.db", 7) == 0 || (len > 4 && strcmp(name + len - 4, ".tmp") == 0)
           || (len > 5 && strcmp(name + len - 5, ".lock") == 0);
}

static void
check_file_has_line(const struct h_catalog *c, const char *rel, const char *name, struct strbuf *problems)
{
    if (ignored_name(name))
        return;
    if (xlog_name_parse(name, &(struct xlog_name){0}) == XLOG_KIND_NONE) {
        strbuf_appendf(problems, "unexpected file wals/%s\n", rel);
        return;
    }
    if (!h_catalog_has_wal(c, name))
        strbuf_appendf(problems, "file wals/%s has no xlog.db line\n", rel);
}

void
h_catalog_check(const char *server_dir, struct h_catalog *out)
{
    char *wals = path_join(server_dir, "wals");
    char *xlogdb = path_join(wals, "xlog.db");
    char *base = path_join(server_dir, "base");
    struct strbuf problems;
    struct br_error err;
    size_t len = 0;
    char *text;
    DIR *d;
    struct dirent *de;

    memset(out, 0, sizeof(*out));
    strbuf_init(&problems);

    /* xlog.db: every line parses and has its file */
    text = path_exists(xlogdb) ? fs_read_file(xlogdb, (size_t) 1 << 30, &len, &err) : br_strdup("");
    if (text == NULL) {
        strbuf_appendf(&problems, "xlog.db unreadable: %s\n", err.msg);
    } else {
        char *line = text;

        if (len > 0 && text[len - 1] != '\n')
            strbuf_appendf(&problems, "xlog.db does not end with a newline (torn last line)\n");
        while (*line != '\0') {
            char *nl = strchr(line, '\n');
            struct xlogdb_entry e;

            if (nl != NULL)
                *nl = '\0';
            if (xlogdb_parse_line(line, &e) != 0) {
                strbuf_appendf(&problems, "xlog.db line does not parse: \"%s\"\n", line);
            } else {
                char *path = wal_path(wals, e.name);

                if (h_catalog_has_wal(out, e.name))
                    strbuf_appendf(&problems, "xlog.db names %s twice\n", e.name);
                push(&out->wal_names, &out->n_wals, e.name);
                if (!path_is_file(path))
                    strbuf_appendf(&problems, "xlog.db line %s: no file %s\n", e.name, path);
                free(path);
            }
            if (nl == NULL)
                break;
            line = nl + 1;
        }
        free(text);
    }

    /* every WAL file has its line */
    if ((d = opendir(wals)) != NULL) {
        while ((de = readdir(d)) != NULL) {
            char *sub;
            struct stat st;

            if (de->d_name[0] == '.')
                continue;
            sub = path_join(wals, de->d_name);
            if (stat(sub, &st) == 0 && S_ISDIR(st.st_mode)) {
                DIR *hd = opendir(sub);
                struct dirent *he;

                while (hd != NULL && (he = readdir(hd)) != NULL) {
                    char *rel;

                    if (strcmp(he->d_name, ".") == 0 || strcmp(he->d_name, "..") == 0)
                        continue;
                    rel = br_asprintf("%s/%s", de->d_name, he->d_name);
                    check_file_has_line(out, rel, he->d_name, &problems);
                    free(rel);
                }
                if (hd != NULL)
                    closedir(hd);
            } else {
                check_file_has_line(out, de->d_name, de->d_name, &problems);
            }
            free(sub);
        }
        closedir(d);
    }

    /* every backup.info reads completely */
    if ((d = opendir(base)) != NULL) {
        while ((de = readdir(d)) != NULL) {
            char *info;
            struct backup_info *bi;

            if (de->d_name[0] == '.')
                continue;
            info = br_asprintf("%s/%s/backup.info", base, de->d_name);
            if (!path_exists(info)) {
                free(info);
                continue;       /* a directory without backup.info is not a backup for any reader */
            }
            bi = backup_info_read(info, de->d_name, &err);
            if (bi == NULL) {
                strbuf_appendf(&problems, "backup.info of %s does not read: %s\n", de->d_name, err.msg);
            } else {
                out->n_backups++;
                if (bi->status == BACKUP_STATUS_DONE)
                    push(&out->done_ids, &out->n_done, de->d_name);
                backup_info_free(bi);
            }
            free(info);
        }
        closedir(d);
    }
    if (out->n_done > 1)
        qsort(out->done_ids, out->n_done, sizeof(char *), str_cmp);
    out->problems = problems.len > 0 ? br_strdup(problems.buf) : NULL;
    strbuf_free(&problems);
    free(base);
    free(xlogdb);
    free(wals);
}

int
h_catalog_has_wal(const struct h_catalog *c, const char *name)
{
    for (size_t i = 0; i < c->n_wals; i++)
        if (strcmp(c->wal_names[i], name) == 0)
            return 1;
    return 0;
}

int
h_catalog_has_done(const struct h_catalog *c, const char *id)
{
    for (size_t i = 0; i < c->n_done; i++)
        if (strcmp(c->done_ids[i], id) == 0)
            return 1;
    return 0;
}

void
h_catalog_free(struct h_catalog *c)
{
    for (size_t i = 0; i < c->n_done; i++)
        free(c->done_ids[i]);
    for (size_t i = 0; i < c->n_wals; i++)
        free(c->wal_names[i]);
    free(c->done_ids);
    free(c->wal_names);
    free(c->problems);
    memset(c, 0, sizeof(*c));
}
