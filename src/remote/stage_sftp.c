/*
 * stage_sftp.c: the remote secure extractor, twin of stage_extract.c for a
 * destination on another host, written over SFTP.
 *
 * The contract and the messages are the local extractor's: absolute member
 * paths and ".." components are refused before anything is sent; nothing is
 * ever written through a symlink. libarchive's SECURE_SYMLINKS check is not
 * available remotely, so it is done here: every directory above a member
 * must be a real directory, checked with lstat (SFTP LSTAT does not follow
 * the last component) or created by us, and remembered in a set so that the
 * thousands of files of base/<oid>/ cost one check of their directory, not
 * one per file. A directory only enters the set once its own parents are in
 * it, so checking a member's parent is enough. At the final name, an old
 * file or symlink is removed, never followed, and files are created with
 * CREAT|EXCL (O_EXCL does not follow a symlink either).
 *
 * Directory modes and times are applied at finish, as libarchive defers
 * them: a 0500 directory must stay writable while its files arrive, and
 * each new file changes its directory's mtime. Symlink times are not set
 * (SFTP has no lutimes). Each file is fsynced before close when the server
 * offers fsync@openssh.com; SFTP cannot fsync a directory.
 */
#include "barrel/build.h"
#include "barrel/remote.h"

#include <stdint.h>

#include "barrel/error.h"
#include "barrel/log.h"
#include "barrel/mem.h"
#include "barrel/stage.h"
#include "barrel/strbuf.h"
#include "remote_int.h"

/* ------------------------------------------------- set of real directories */

struct dirset {
    char **slots;   /* open addressing; NULL = empty */
    size_t cap, n;
};

static uint64_t
hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;   /* FNV-1a */

    for (; *s; s++)
        h = (h ^ (unsigned char) *s) * 1099511628211ULL;
    return h;
}

static int
dirset_has(const struct dirset *d, const char *path)
{
    if (d->cap == 0)
        return 0;
    for (size_t i = hash_str(path) & (d->cap - 1);; i = (i + 1) & (d->cap - 1)) {
        if (d->slots[i] == NULL)
            return 0;
        if (strcmp(d->slots[i], path) == 0)
            return 1;
    }
}

static void
dirset_add(struct dirset *d, const char *path)
{
    if (dirset_has(d, path))
        return;
    if ((d->n + 1) * 2 > d->cap) {
        struct dirset bigger = {NULL, d->cap ? d->cap * 2 : 64, 0};

        bigger.slots = br_calloc(bigger.cap, sizeof(char *));
        for (size_t i = 0; i < d->cap; i++) {
            if (d->slots[i] != NULL) {
                size_t j = hash_str(d->slots[i]) & (bigger.cap - 1);
                while (bigger.slots[j] != NULL)
                    j = (j + 1) & (bigger.cap - 1);
                bigger.slots[j] = d->slots[i];
                bigger.n++;
            }
        }
        free(d->slots);
        *d = bigger;
    }
    for (size_t i = hash_str(path) & (d->cap - 1);; i = (i + 1) & (d->cap - 1)) {
        if (d->slots[i] == NULL) {
            d->slots[i] = br_strdup(path);
            d->n++;
            return;
        }
    }
}

static void
dirset_free(struct dirset *d)
{
    for (size_t i = 0; i < d->cap; i++)
        free(d->slots[i]);
    free(d->slots);
    memset(d, 0, sizeof(*d));
}

/* ----------------------------------------------------------------- stage */

struct deferred_dir {
    char *path;     /* full remote path */
    unsigned mode;
    int64_t mtime;
};

struct sftp_extract {
    struct stage base;
    struct remote_session *s;     /* borrowed */
    char *dest;                   /* remote realpath of the destination */
    char **skip;
    struct dirset dirs;           /* relative paths known to be real directories; "" is dest */
    struct deferred_dir *deferred;
    size_t n_deferred, cap_deferred;
    LIBSSH2_SFTP_HANDLE *file;    /* the member being written */
    char *file_path;              /* its full remote path */
    unsigned file_mode;
    int64_t file_mtime;
    struct remote_writer w;
    char *member_path;            /* as in the archive, for messages */
    struct strbuf rel;            /* normalised relative path of the current member */
    int skipping, do_fsync;
    int64_t files, bytes;
};

/* rel = path without empty and "." components (checked: no ".."). */
static void
normalise(struct strbuf *rel, const char *path)
{
    strbuf_reset(rel);
    strbuf_append(rel, "");
    for (const char *p = path; *p;) {
        size_t len = strcspn(p, "/");
        if (len > 0 && !(len == 1 && p[0] == '.')) {
            if (rel->len > 0)
                strbuf_append_char(rel, '/');
            strbuf_append_len(rel, p, len);
        }
        p += len;
        while (*p == '/')
            p++;
    }
}

static int
is_skipped(const struct sftp_extract *ex, const char *path)
{
    for (char **s = ex->skip; s && *s; s++)
        if (strcmp(*s, path) == 0)
            return 1;
    return 0;
}

static char *
full_path(const struct sftp_extract *ex, const char *rel)
{
    if (rel[0] == '\0')
        return br_strdup(ex->dest);
    return strcmp(ex->dest, "/") == 0 ? br_asprintf("/%s", rel) : br_asprintf("%s/%s", ex->dest, rel);
}

static void
defer_dir(struct sftp_extract *ex, char *full, unsigned mode, int64_t mtime)
{
    if (ex->n_deferred == ex->cap_deferred) {
        ex->cap_deferred = ex->cap_deferred ? ex->cap_deferred * 2 : 64;
        ex->deferred = br_realloc(ex->deferred, ex->cap_deferred * sizeof(*ex->deferred));
    }
    ex->deferred[ex->n_deferred].path = full;   /* owned from now on */
    ex->deferred[ex->n_deferred].mode = mode;
    ex->deferred[ex->n_deferred].mtime = mtime;
    ex->n_deferred++;
}

/*
 * An existing directory we are about to write into (an extraction over an
 * earlier one) may be read-only, as ro/ dirs of a backup are once finished:
 * make it writable for now, and put its mode back at finish.
 */
static int
make_writable(struct sftp_extract *ex, const char *full, const struct remote_stat *st, int restore,
              struct br_error *err)
{
    if ((st->mode & 0700) == 0700)
        return 0;
    if (remote_chmod(ex->s, full, st->mode | 0700, err) != 0)
        return -1;
    if (restore)     /* a directory member restores its own mode */
        defer_dir(ex, br_strdup(full), st->mode, st->mtime);
    return 0;
}

/*
 * Make sure every directory above rel is a real directory under dest,
 * creating missing ones 0700 (as libarchive does). Refuses a symlink or a
 * file in the way: that is how an archive would write outside dest.
 */
static int
ensure_parents(struct sftp_extract *ex, const char *rel, struct br_error *err)
{
    const char *slash = strrchr(rel, '/');
    char *parent, *full;
    struct remote_stat st;
    int rc = -1, r;

    if (slash == NULL)
        return 0;   /* directly in dest */
    parent = br_strndup(rel, (size_t) (slash - rel));
    if (dirset_has(&ex->dirs, parent)) {
        free(parent);
        return 0;
    }
    if (ensure_parents(ex, parent, err) != 0)
        goto out;
    full = full_path(ex, parent);
    r = remote_lstat(ex->s, full, &st, err);
    if (r == 1) {
        LIBSSH2_SFTP *sftp = remote_sftp(ex->s, err);
        if (sftp == NULL || libssh2_sftp_mkdir(sftp, full, 0700) != 0) {
            if (sftp != NULL)
                remote_fail(ex->s, err, "could not extract \"%s\": could not create remote directory \"%s\"",
                            ex->member_path, full);
            free(full);
            goto out;
        }
    } else if (r == 0 && st.type == REMOTE_SYMLINK) {
        br_error_set(err, BR_E_FORMAT, "could not extract \"%s\": \"%s\" is a symbolic link in the destination, "
                                       "refusing to write through it", ex->member_path, parent);
        free(full);
        goto out;
    } else if (r == 0 && st.type != REMOTE_DIR) {
        br_error_set(err, BR_E_FORMAT, "could not extract \"%s\": \"%s\" is not a directory in the destination",
                     ex->member_path, parent);
        free(full);
        goto out;
    } else if (r < 0 || make_writable(ex, full, &st, 1, err) != 0) {
        free(full);
        goto out;
    }
    free(full);
    dirset_add(&ex->dirs, parent);
    rc = 0;
out:
    free(parent);
    return rc;
}

/*
 * The final name is free for a new object: an old file or symlink there is
 * removed (never followed); a directory in the way is an error. 0, or -1.
 */
static int
clear_final_name(struct sftp_extract *ex, const char *full, struct br_error *err)
{
    struct remote_stat st;
    int r = remote_lstat(ex->s, full, &st, err);

    if (r == 1)
        return 0;
    if (r < 0)
        return -1;
    if (st.type == REMOTE_DIR)
        return br_error_set(err, BR_E_FORMAT, "could not extract \"%s\": a directory is in the way",
                            ex->member_path);
    return remote_unlink(ex->s, full, err);
}

static int
open_file(struct sftp_extract *ex, const char *full, struct br_error *err)
{
    LIBSSH2_SFTP *sftp = remote_sftp(ex->s, err);
    const unsigned long flags = LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_EXCL;

    if (sftp == NULL)
        return -1;
    for (int attempt = 0; attempt < 2; attempt++) {
        ex->file = libssh2_sftp_open_ex(sftp, full, (unsigned) strlen(full), flags, 0600, LIBSSH2_SFTP_OPENFILE);
        if (ex->file != NULL)
            return 0;
        remote_fail(ex->s, err, "could not extract \"%s\": could not create remote file \"%s\"", ex->member_path,
                    full);
        if (attempt == 0) {
            /* most likely the name exists: clear it (never following it), once */
            struct br_error first = *err;
            struct remote_stat st;
            int r = remote_lstat(ex->s, full, &st, err);

            if (r < 0)
                return -1;
            if (r == 1) {
                *err = first;
                return -1;
            }
            if (clear_final_name(ex, full, err) != 0)
                return -1;
        }
    }
    return -1;
}

static int
member_header(struct sftp_extract *ex, const struct stage_member *m, struct br_error *err)
{
    char *full = NULL;
    int rc = -1;

    free(ex->member_path);
    ex->member_path = br_strdup(m->path);
    ex->skipping = is_skipped(ex, m->path);
    if (ex->skipping)
        return 0;
    if (stage_member_path_check(m->path, err) != 0)
        return -1;
    if (m->type == MEMBER_OTHER)
        return br_error_set(err, BR_E_FORMAT, "refusing archive member \"%s\": not a file, directory or symlink",
                            m->path);
    normalise(&ex->rel, m->path);
    if (ex->rel.len == 0) {
        ex->skipping = 1;    /* "." itself: the destination, which exists */
        return 0;
    }
    if (ensure_parents(ex, ex->rel.buf, err) != 0)
        return -1;
    full = full_path(ex, ex->rel.buf);

    switch (m->type) {
    case MEMBER_DIR:
        if (!dirset_has(&ex->dirs, ex->rel.buf)) {
            LIBSSH2_SFTP *sftp = remote_sftp(ex->s, err);
            if (sftp == NULL)
                goto out;
            if (libssh2_sftp_mkdir(sftp, full, 0700) != 0) {
                struct remote_stat st;
                int r;

                remote_fail(ex->s, err, "could not extract \"%s\": could not create remote directory \"%s\"",
                            m->path, full);
                r = remote_lstat(ex->s, full, &st, err);
                if (r == 0 && st.type == REMOTE_DIR && make_writable(ex, full, &st, 0, err) != 0)
                    goto out;
                if (r != 0 || st.type != REMOTE_DIR) {
                    /* an old file or symlink: replace it; nothing there: the mkdir error stands */
                    if (r != 0 || remote_unlink(ex->s, full, err) != 0)
                        goto out;
                    if (libssh2_sftp_mkdir(sftp, full, 0700) != 0) {
                        remote_fail(ex->s, err, "could not extract \"%s\": could not create remote directory "
                                                "\"%s\"", m->path, full);
                        goto out;
                    }
                }
            }
            dirset_add(&ex->dirs, ex->rel.buf);
        }
        defer_dir(ex, full, m->mode, m->mtime);
        full = NULL;
        break;
    case MEMBER_SYMLINK:
        if (clear_final_name(ex, full, err) != 0
            || remote_symlink(ex->s, m->linkname != NULL ? m->linkname : "", full, err) != 0)
            goto out;
        break;
    default:
        if (open_file(ex, full, err) != 0)
            goto out;
        remote_writer_begin(&ex->w, ex->file);
        ex->file_path = full;
        ex->file_mode = m->mode;
        ex->file_mtime = m->mtime;
        full = NULL;
        ex->files++;
    }
    rc = 0;
out:
    free(full);
    return rc;
}

static int
member_end(struct sftp_extract *ex, struct br_error *err)
{
    LIBSSH2_SFTP_HANDLE *h = ex->file;
    int rc;

    if (h == NULL)
        return 0;
    if (remote_writer_flush(ex->s, &ex->w, ex->file_path, err) != 0)
        return -1;
    ex->file = NULL;
    rc = remote_file_complete(ex->s, h, ex->file_path, ex->file_mode, ex->file_mtime, ex->do_fsync, err);
    free(ex->file_path);
    ex->file_path = NULL;
    return rc;
}

static int
extract_push(struct stage *st, const struct chunk *ck, struct br_error *err)
{
    struct sftp_extract *ex = (struct sftp_extract *) st;

    switch (ck->kind) {
    case CHUNK_MEMBER_HEADER:
        if (ex->file != NULL)
            return br_error_set(err, BR_E_INTERNAL, "remote extractor: member \"%s\" begins inside \"%s\"",
                                ck->member->path, ex->member_path);
        return member_header(ex, ck->member, err);
    case CHUNK_MEMBER_DATA:
        if (ex->skipping || ex->file == NULL)
            return 0;
        if (remote_writer_write(ex->s, &ex->w, ck->data, ck->len, ex->file_path, err) != 0)
            return -1;
        ex->bytes += (int64_t) ck->len;
        return 0;
    case CHUNK_MEMBER_END:
        if (ex->skipping)
            return 0;
        return member_end(ex, err);
    case CHUNK_ARCHIVE_END:
        return 0;
    default:
        return br_error_set(err, BR_E_INTERNAL, "remote extractor: unexpected chunk kind %d", ck->kind);
    }
}

static int
extract_finish(struct stage *st, struct br_error *err)
{
    struct sftp_extract *ex = (struct sftp_extract *) st;

    if (ex->file != NULL && member_end(ex, err) != 0)
        return -1;
    /* deepest first, though SETSTAT does not touch the parent's times */
    for (size_t i = ex->n_deferred; i-- > 0;) {
        const struct deferred_dir *d = &ex->deferred[i];
        LIBSSH2_SFTP *sftp = remote_sftp(ex->s, err);
        LIBSSH2_SFTP_ATTRIBUTES attrs;

        if (sftp == NULL)
            return -1;
        memset(&attrs, 0, sizeof(attrs));
        attrs.flags = LIBSSH2_SFTP_ATTR_PERMISSIONS | LIBSSH2_SFTP_ATTR_ACMODTIME;
        attrs.permissions = d->mode & 07777;
        attrs.atime = attrs.mtime = (unsigned long) d->mtime;
        if (libssh2_sftp_setstat(sftp, d->path, &attrs) != 0)
            return remote_fail(ex->s, err, "could not set the mode of remote directory \"%s\"", d->path);
    }
    return stage_finish_next(st, err);
}

static void
extract_free(struct stage *st)
{
    struct sftp_extract *ex = (struct sftp_extract *) st;

    stage_free_next(st);
    if (ex->file != NULL)
        libssh2_sftp_close_handle(ex->file);
    remote_writer_reset(&ex->w);
    for (size_t i = 0; i < ex->n_deferred; i++)
        free(ex->deferred[i].path);
    free(ex->deferred);
    dirset_free(&ex->dirs);
    for (char **s = ex->skip; s && *s; s++)
        free(*s);
    free(ex->skip);
    free(ex->dest);
    free(ex->file_path);
    free(ex->member_path);
    strbuf_free(&ex->rel);
    free(ex);
}

static const struct stage_ops extract_ops = {extract_push, extract_finish, extract_free};

struct stage *
stage_sftp_extract_new(struct remote_session *s, const char *dest, const char *const *skip, struct br_error *err)
{
    struct sftp_extract *ex = br_calloc(1, sizeof(*ex));
    struct remote_stat st;
    size_t n = 0;
    int r;

    ex->base.ops = &extract_ops;
    ex->base.name = "remote extractor";
    ex->s = s;
    ex->do_fsync = 1;
    strbuf_init(&ex->rel);
    remote_writer_init(&ex->w);
    while (skip && skip[n])
        n++;
    ex->skip = br_calloc(n + 1, sizeof(*ex->skip));
    for (size_t i = 0; i < n; i++)
        ex->skip[i] = br_strdup(skip[i]);
    /* resolve dest, so that a symlink in its own path is not taken for an attack */
    ex->dest = remote_realpath(s, dest, err);
    if (ex->dest == NULL)
        goto fail;
    r = remote_lstat(s, ex->dest, &st, err);
    if (r == 1 || (r == 0 && st.type != REMOTE_DIR)) {
        br_error_set(err, BR_E_REMOTE, "remote destination \"%s\" on %s %s", dest, remote_session_label(s),
                     r == 1 ? "does not exist" : "is not a directory");
        goto fail;
    }
    if (r < 0)
        goto fail;
    dirset_add(&ex->dirs, "");
    return &ex->base;
fail:
    extract_free(&ex->base);
    return NULL;
}

void
stage_sftp_extract_counts(const struct stage *st, int64_t *files, int64_t *bytes)
{
    const struct sftp_extract *ex = (const struct sftp_extract *) st;

    *files = ex->files;
    *bytes = ex->bytes;
}

void
stage_sftp_extract_set_fsync(struct stage *st, int on)
{
    ((struct sftp_extract *) st)->do_fsync = on;
}
