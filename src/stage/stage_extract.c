/*
 * stage_extract.c: the secure extractor at the end of a restore chain.
 *
 * libarchive's archive_write_disk does the writing, with
 * ARCHIVE_EXTRACT_SECURE_SYMLINKS (never write through a symlink) and
 * SECURE_NODOTDOT. Because we give it absolute paths (dest + member, so
 * that no process-wide chdir is needed and parallel restores are safe),
 * the absolute-path and ".." checks on the member name are done here,
 * before libarchive sees it, and dest is resolved with realpath so that a
 * symlink in the destination's own path is not mistaken for an attack.
 */
#include "barrel/build.h"
#include "barrel/stage.h"
#include "barrel/fault.h"
#include "barrel/error.h"
#include "barrel/mem.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

struct extract_stage {
    struct stage base;
    struct archive *disk;
    char *dest;                /* realpath of the destination */
    char **skip;
    int skipping;              /* the current member is not extracted */
    int in_member;
    char *member_path;         /* for messages */
    int64_t files, bytes;
};

static int
is_skipped(const struct extract_stage *ex, const char *path)
{
    for (char **s = ex->skip; s && *s; s++)
        if (strcmp(*s, path) == 0)
            return 1;
    return 0;
}

static int
extract_header(struct extract_stage *ex, const struct stage_member *m, struct br_error *err)
{
    struct archive_entry *entry;
    char *full;
    int rc = 0;

    free(ex->member_path);
    ex->member_path = br_strdup(m->path);
    ex->in_member = 1;
    ex->skipping = is_skipped(ex, m->path);
    if (ex->skipping)
        return 0;
    if (stage_member_path_check(m->path, err) != 0)
        return -1;
    if (m->type == MEMBER_OTHER)
        return br_error_set(err, BR_E_FORMAT, "refusing archive member \"%s\": not a file, directory or symlink",
                            m->path);
    entry = archive_entry_new();
    full = br_asprintf("%s/%s", ex->dest, m->path);
    archive_entry_set_pathname(entry, full);
    archive_entry_set_perm(entry, m->mode);
    archive_entry_set_mtime(entry, m->mtime, 0);
    switch (m->type) {
    case MEMBER_DIR: archive_entry_set_filetype(entry, AE_IFDIR); break;
    case MEMBER_SYMLINK:
        archive_entry_set_filetype(entry, AE_IFLNK);
        archive_entry_set_symlink(entry, m->linkname ? m->linkname : "");
        break;
    default:
        archive_entry_set_filetype(entry, AE_IFREG);
        archive_entry_set_size(entry, m->size);
        ex->files++;
    }
    fault_point("extract.header");
    if (archive_write_header(ex->disk, entry) < ARCHIVE_WARN)
        rc = br_error_set(err, BR_E_IO, "could not extract \"%s\": %s", m->path, archive_error_string(ex->disk));
    archive_entry_free(entry);
    free(full);
    return rc;
}

static int
extract_push(struct stage *st, const struct chunk *ck, struct br_error *err)
{
    struct extract_stage *ex = (struct extract_stage *) st;

    switch (ck->kind) {
    case CHUNK_MEMBER_HEADER:
        return extract_header(ex, ck->member, err);
    case CHUNK_MEMBER_DATA:
        if (ex->skipping)
            return 0;
        fault_point("extract.write");
        if (archive_write_data(ex->disk, ck->data, ck->len) < 0)
            return br_error_set(err, BR_E_IO, "could not write \"%s\": %s", ex->member_path,
                                archive_error_string(ex->disk));
        ex->bytes += (int64_t) ck->len;
        return 0;
    case CHUNK_MEMBER_END:
        ex->in_member = 0;
        if (ex->skipping)
            return 0;
        if (archive_write_finish_entry(ex->disk) < ARCHIVE_WARN)
            return br_error_set(err, BR_E_IO, "could not finish \"%s\": %s", ex->member_path,
                                archive_error_string(ex->disk));
        return 0;
    case CHUNK_ARCHIVE_END:
        return 0;
    default:
        return br_error_set(err, BR_E_INTERNAL, "extractor: unexpected chunk kind %d", ck->kind);
    }
}

static int
extract_finish(struct stage *st, struct br_error *err)
{
    struct extract_stage *ex = (struct extract_stage *) st;
    int fd;

    /* close applies the deferred directory modes and times */
    if (archive_write_close(ex->disk) != ARCHIVE_OK)
        return br_error_set(err, BR_E_IO, "could not complete extraction into \"%s\": %s", ex->dest,
                            archive_error_string(ex->disk));
    fd = open(ex->dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return br_error_sys(err, BR_E_IO, "could not open \"%s\"", ex->dest);
    if (syncfs(fd) != 0) {
        close(fd);
        return br_error_sys(err, BR_E_IO, "could not sync the filesystem of \"%s\"", ex->dest);
    }
    close(fd);
    return stage_finish_next(st, err);
}

static void
extract_free(struct stage *st)
{
    struct extract_stage *ex = (struct extract_stage *) st;

    stage_free_next(st);
    if (ex->disk)
        archive_write_free(ex->disk);
    for (char **s = ex->skip; s && *s; s++)
        free(*s);
    free(ex->skip);
    free(ex->dest);
    free(ex->member_path);
    free(ex);
}

static const struct stage_ops extract_ops = {extract_push, extract_finish, extract_free};

struct stage *
stage_extract_new(const char *dest, const char *const *skip, struct br_error *err)
{
    struct extract_stage *ex = br_calloc(1, sizeof(*ex));
    char resolved[PATH_MAX];
    size_t n = 0;

    ex->base.ops = &extract_ops;
    ex->base.name = "extractor";
    if (realpath(dest, resolved) == NULL) {
        br_error_sys(err, BR_E_IO, "could not resolve destination \"%s\"", dest);
        extract_free(&ex->base);
        return NULL;
    }
    ex->dest = br_strdup(resolved);
    while (skip && skip[n])
        n++;
    ex->skip = br_calloc(n + 1, sizeof(*ex->skip));
    for (size_t i = 0; i < n; i++)
        ex->skip[i] = br_strdup(skip[i]);
    ex->disk = archive_write_disk_new();
    archive_write_disk_set_options(ex->disk, ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME
                                                 | ARCHIVE_EXTRACT_SECURE_SYMLINKS | ARCHIVE_EXTRACT_SECURE_NODOTDOT);
    return &ex->base;
}

void
stage_extract_counts(const struct stage *st, int64_t *files, int64_t *bytes)
{
    const struct extract_stage *ex = (const struct extract_stage *) st;
    *files = ex->files;
    *bytes = ex->bytes;
}
