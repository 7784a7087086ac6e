/*
 * dir_reader.c: push a directory tree into a stage chain as archive
 * members, so that plain-format backups go through the same verifier as
 * tar ones. Recursion depth is bounded by the tree's depth; each directory
 * is read with opendir/readdir and its entries sorted, so that the order
 * (and any report) is the same on every run.
 */
#include "barrel/build.h"
#include "barrel/stage.h"
#include "barrel/error.h"
#include "barrel/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIR_READ_BLOCK (1024 * 1024)

struct walk {
    struct stage *sink;
    const char *const *skip;
    unsigned char *buf;
    struct br_error *err;
};

static int
name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

static int
push_file(struct walk *w, const char *path, const struct stage_member *m)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

    if (fd < 0)
        return br_error_sys(w->err, BR_E_IO, "could not open file \"%s\"", path);
    for (;;) {
        ssize_t n = read(fd, w->buf, DIR_READ_BLOCK);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            br_error_sys(w->err, BR_E_IO, "could not read file \"%s\"", path);
            close(fd);
            return -1;
        }
        if (n == 0)
            break;
        struct chunk ck = {.kind = CHUNK_MEMBER_DATA, .data = w->buf, .len = (size_t) n, .member = m};
        if (stage_push(w->sink, &ck, w->err) != 0) {
            close(fd);
            return -1;
        }
    }
    close(fd);
    return 0;
}

static int walk_dir(struct walk *w, const char *dir, const char *rel, int top);

static int
walk_entry(struct walk *w, const char *dir, const char *rel, const char *name)
{
    char *path = br_asprintf("%s/%s", dir, name);
    char *member_path = br_asprintf("%s%s", rel, name);
    char link[4096];
    struct stat st;
    struct stage_member m = {.path = member_path};
    struct chunk ck = {.kind = CHUNK_MEMBER_HEADER, .member = &m};
    int rc = -1;

    if (lstat(path, &st) != 0) {
        br_error_sys(w->err, BR_E_IO, "could not stat \"%s\"", path);
        goto out;
    }
    m.mode = st.st_mode & 07777;
    m.mtime = st.st_mtime;
    if (S_ISREG(st.st_mode)) {
        m.type = MEMBER_FILE;
        m.size = st.st_size;
    } else if (S_ISDIR(st.st_mode))
        m.type = MEMBER_DIR;
    else if (S_ISLNK(st.st_mode)) {
        ssize_t n = readlink(path, link, sizeof(link) - 1);
        if (n < 0) {
            br_error_sys(w->err, BR_E_IO, "could not read symlink \"%s\"", path);
            goto out;
        }
        link[n] = '\0';
        m.type = MEMBER_SYMLINK;
        m.linkname = link;
    } else
        m.type = MEMBER_OTHER;
    if (stage_push(w->sink, &ck, w->err) != 0)
        goto out;
    if (m.type == MEMBER_FILE && push_file(w, path, &m) != 0)
        goto out;
    ck.kind = CHUNK_MEMBER_END;
    if (stage_push(w->sink, &ck, w->err) != 0)
        goto out;
    if (m.type == MEMBER_DIR) {
        char *sub = br_asprintf("%s/", member_path);
        rc = walk_dir(w, path, sub, 0);
        free(sub);
        goto out;
    }
    rc = 0;
out:
    free(path);
    free(member_path);
    return rc;
}

static int
walk_dir(struct walk *w, const char *dir, const char *rel, int top)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;

    if (d == NULL)
        return br_error_sys(w->err, BR_E_IO, "could not open directory \"%s\"", dir);
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        int skipped = 0;
        for (const char *const *s = w->skip; top && s && *s; s++)
            skipped |= strcmp(*s, de->d_name) == 0;
        if (skipped)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            names = br_realloc(names, cap * sizeof(*names));
        }
        names[n++] = br_strdup(de->d_name);
    }
    closedir(d);
    if (n > 0)
        qsort(names, n, sizeof(*names), name_cmp);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0)
            rc = walk_entry(w, dir, rel, names[i]);
        free(names[i]);
    }
    free(names);
    return rc;
}

int
dir_reader_run(const char *root, const char *prefix, const char *const *skip, struct stage *sink,
               struct br_error *err)
{
    struct walk w = {.sink = sink, .skip = skip, .err = err};
    int rc;

    w.buf = br_malloc(DIR_READ_BLOCK);
    rc = walk_dir(&w, root, prefix ? prefix : "", 1);
    if (rc == 0) {
        struct chunk end = {.kind = CHUNK_ARCHIVE_END};
        rc = stage_push(sink, &end, err);
    }
    free(w.buf);
    return rc;
}
