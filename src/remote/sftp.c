/*
 * sftp.c: file operations on the recovery host over the session's SFTP
 * channel, the pipelined writer every remote write goes through, and the
 * remote file sink stage.
 *
 * SFTP version 3 (OpenSSH's) has traps this file hides: a rename never
 * replaces an existing target (so remote_rename removes it first); SETSTAT
 * follows symlinks (so callers never setstat a path that may be one);
 * permissions given at open or mkdir pass through the server's umask (so
 * modes are set explicitly afterwards); fsync is an extension
 * (fsync@openssh.com), used when offered; "failure" is all the server says
 * about EEXIST or ENOSPC on old servers (so callers lstat to find out).
 */
#include "barrel/build.h"
#include "barrel/remote.h"

#include <errno.h>

#include "barrel/error.h"
#include "barrel/log.h"
#include "barrel/mem.h"
#include "barrel/stage.h"
#include "barrel/strbuf.h"
#include "remote_int.h"

#define READ_BLOCK_BYTES (64 * 1024)

/* ------------------------------------------------------------- metadata */

int
remote_lstat(struct remote_session *s, const char *path, struct remote_stat *st, struct br_error *err)
{
    LIBSSH2_SFTP *sftp = remote_sftp(s, err);
    LIBSSH2_SFTP_ATTRIBUTES attrs;

    if (sftp == NULL)
        return -1;
    memset(&attrs, 0, sizeof(attrs));
    if (libssh2_sftp_lstat(sftp, path, &attrs) != 0) {
        unsigned long status = remote_sftp_status(s);
        if (status == LIBSSH2_FX_NO_SUCH_FILE || status == LIBSSH2_FX_NO_SUCH_PATH)
            return 1;
        return remote_fail(s, err, "could not stat remote file \"%s\"", path);
    }
    memset(st, 0, sizeof(*st));
    if (!(attrs.flags & LIBSSH2_SFTP_ATTR_PERMISSIONS))
        st->type = REMOTE_OTHER;
    else if (LIBSSH2_SFTP_S_ISREG(attrs.permissions))
        st->type = REMOTE_FILE;
    else if (LIBSSH2_SFTP_S_ISDIR(attrs.permissions))
        st->type = REMOTE_DIR;
    else if (LIBSSH2_SFTP_S_ISLNK(attrs.permissions))
        st->type = REMOTE_SYMLINK;
    else
        st->type = REMOTE_OTHER;
    st->mode = (unsigned) (attrs.permissions & 07777);
    st->size = (attrs.flags & LIBSSH2_SFTP_ATTR_SIZE) ? (int64_t) attrs.filesize : 0;
    st->mtime = (attrs.flags & LIBSSH2_SFTP_ATTR_ACMODTIME) ? (int64_t) attrs.mtime : 0;
    return 0;
}

char *
remote_realpath(struct remote_session *s, const char *path, struct br_error *err)
{
    LIBSSH2_SFTP *sftp = remote_sftp(s, err);
    char buf[4096];
    int n;

    if (sftp == NULL)
        return NULL;
    n = libssh2_sftp_realpath(sftp, path, buf, sizeof(buf) - 1);
    if (n < 0) {
        remote_fail(s, err, "could not resolve remote path \"%s\"", path);
        return NULL;
    }
    buf[n] = '\0';
    return br_strdup(buf);
}

static int
setstat(struct remote_session *s, const char *path, unsigned long flags, unsigned mode, int64_t mtime,
        struct br_error *err)
{
    LIBSSH2_SFTP *sftp = remote_sftp(s, err);
    LIBSSH2_SFTP_ATTRIBUTES attrs;

    if (sftp == NULL)
        return -1;
    memset(&attrs, 0, sizeof(attrs));
    attrs.flags = flags;
    attrs.permissions = mode & 07777;
    attrs.atime = attrs.mtime = (unsigned long) mtime;
    if (libssh2_sftp_setstat(sftp, path, &attrs) != 0)
        return remote_fail(s, err, "could not set the %s of remote file \"%s\"",
                           flags & LIBSSH2_SFTP_ATTR_PERMISSIONS ? "mode" : "times", path);
    return 0;
}

int
remote_chmod(struct remote_session *s, const char *path, unsigned mode, struct br_error *err)
{
    return setstat(s, path, LIBSSH2_SFTP_ATTR_PERMISSIONS, mode, 0, err);
}

int
remote_utime(struct remote_session *s, const char *path, int64_t mtime, struct br_error *err)
{
    return setstat(s, path, LIBSSH2_SFTP_ATTR_ACMODTIME, 0, mtime, err);
}

int
remote_fsync_supported(const struct remote_session *s)
{
    return s->fsync_supported;
}

/* ------------------------------------------------------ names and links */

int
remote_mkdir_p(struct remote_session *s, const char *path, unsigned mode, struct br_error *err)
{
    LIBSSH2_SFTP *sftp = remote_sftp(s, err);
    struct remote_stat st;
    char *prefix;
    int rc = -1, r;

    if (sftp == NULL)
        return -1;
    /* the common case in one round trip */
    r = remote_lstat(s, path, &st, err);
    if (r < 0)
        return -1;
    if (r == 0 && st.type == REMOTE_DIR)
        return 0;
    prefix = br_strdup(path);
    for (char *p = prefix + 1;; p++) {
        char saved = *p;

        if (saved != '/' && saved != '\0')
            continue;
        *p = '\0';
        if (p[-1] != '/') {
            if (libssh2_sftp_mkdir(sftp, prefix, (long) (mode & 07777)) == 0) {
                if (remote_chmod(s, prefix, mode, err) != 0)
                    goto out;
            } else {
                /* exists already (a directory, or a symlink to one: mkdir -p follows it), or a real failure */
                struct br_error mkdir_err;
                LIBSSH2_SFTP_ATTRIBUTES a;

                remote_fail(s, &mkdir_err, "could not create remote directory \"%s\"", prefix);
                memset(&a, 0, sizeof(a));
                if (libssh2_sftp_stat(sftp, prefix, &a) != 0) {
                    *err = mkdir_err;
                    goto out;
                }
                if (!LIBSSH2_SFTP_S_ISDIR(a.permissions)) {
                    br_error_set(err, BR_E_REMOTE, "could not create remote directory \"%s\" on %s: a file is in "
                                                   "the way", prefix, s->label);
                    goto out;
                }
            }
        }
        *p = saved;
        if (saved == '\0')
            break;
    }
    rc = 0;
out:
    free(prefix);
    return rc;
}

int
remote_unlink(struct remote_session *s, const char *path, struct br_error *err)
{
    LIBSSH2_SFTP *sftp = remote_sftp(s, err);

    if (sftp == NULL)
        return -1;
    if (libssh2_sftp_unlink(sftp, path) != 0) {
        unsigned long status = remote_sftp_status(s);
        if (status == LIBSSH2_FX_NO_SUCH_FILE || status == LIBSSH2_FX_NO_SUCH_PATH)
            return 0;
        return remote_fail(s, err, "could not remove remote file \"%s\"", path);
    }
    return 0;
}

int
remote_rename(struct remote_session *s, const char *from, const char *to, struct br_error *err)
{
    LIBSSH2_SFTP *sftp = remote_sftp(s, err);
    const long flags = LIBSSH2_SFTP_RENAME_OVERWRITE | LIBSSH2_SFTP_RENAME_ATOMIC | LIBSSH2_SFTP_RENAME_NATIVE;
    struct remote_stat st;
    int r;

    if (sftp == NULL)
        return -1;
    if (libssh2_sftp_rename_ex(sftp, from, (unsigned) strlen(from), to, (unsigned) strlen(to), flags) == 0)
        return 0;
    remote_fail(s, err, "could not rename remote file \"%s\" to \"%s\"", from, to);
    /* SFTP v3 refuses to replace: remove the target (never a directory) and try again */
    r = remote_lstat(s, to, &st, err);
    if (r != 0 || st.type == REMOTE_DIR)
        return r == 0 ? br_error_set(err, BR_E_REMOTE, "could not rename remote file \"%s\" to \"%s\" on %s: "
                                                       "a directory is in the way", from, to, s->label)
                      : -1;
    if (remote_unlink(s, to, err) != 0)
        return -1;
    if (libssh2_sftp_rename_ex(sftp, from, (unsigned) strlen(from), to, (unsigned) strlen(to), flags) != 0)
        return remote_fail(s, err, "could not rename remote file \"%s\" to \"%s\"", from, to);
    return 0;
}

int
remote_symlink(struct remote_session *s, const char *target, const char *linkpath, struct br_error *err)
{
    LIBSSH2_SFTP *sftp = remote_sftp(s, err);

    if (sftp == NULL)
        return -1;
    /*
     * OpenSSH's sftp-server reads SSH_FXP_SYMLINK's two paths in the
     * opposite order to the draft; libssh2 sends them in OpenSSH's order,
     * so (target, linkpath) here means "linkpath -> target" there.
     */
    char *copy_target = br_strdup(target), *copy_link = br_strdup(linkpath);
    int rc = 0;

    /* libssh2 declares both writable (they are outputs for READLINK): pass copies */
    if (libssh2_sftp_symlink_ex(sftp, copy_target, (unsigned) strlen(copy_target), copy_link,
                                (unsigned) strlen(copy_link), LIBSSH2_SFTP_SYMLINK) != 0) {
        /*
         * libssh2 1.10 reads the status of a SYMLINK reply at the wrong
         * offset (it returns the request id as the status: right only for
         * the first request of a channel). The link's existence is the
         * truth: READLINK, which parses correctly, says whether it is there
         * with our target.
         */
        char buf[4096];
        int n;

        rc = remote_fail(s, err, "could not create remote symbolic link \"%s\"", linkpath);
        n = libssh2_sftp_symlink_ex(sftp, copy_link, (unsigned) strlen(copy_link), buf, sizeof(buf) - 1,
                                    LIBSSH2_SFTP_READLINK);
        if (n >= 0 && (size_t) n == strlen(target) && memcmp(buf, target, (size_t) n) == 0)
            rc = 0;
        else
            br_error_set(err, BR_E_REMOTE, "could not create remote symbolic link \"%s\" on %s", linkpath,
                         s->label);
    }
    free(copy_target);
    free(copy_link);
    return rc;
}

/* ---------------------------------------------------------------- writer */

void
remote_writer_init(struct remote_writer *w)
{
    memset(w, 0, sizeof(*w));
}

void
remote_writer_reset(struct remote_writer *w)
{
    free(w->buf);
    memset(w, 0, sizeof(*w));
}

void
remote_writer_begin(struct remote_writer *w, LIBSSH2_SFTP_HANDLE *handle)
{
    w->handle = handle;
    w->start = w->end = 0;
    w->written = 0;
}

/* One libssh2 write call: returns once some requests are acknowledged. */
static int
writer_send(struct remote_session *s, struct remote_writer *w, const char *path, struct br_error *err)
{
    ssize_t n = libssh2_sftp_write(w->handle, (const char *) w->buf + w->start, w->end - w->start);

    if (n < 0)
        return remote_fail(s, err, "could not write remote file \"%s\"", path);
    w->start += (size_t) n;
    w->written += n;
    if (w->start == w->end)
        w->start = w->end = 0;
    return 0;
}

int
remote_writer_write(struct remote_session *s, struct remote_writer *w, const void *data, size_t len,
                    const char *path, struct br_error *err)
{
    const unsigned char *p = data;

    if (w->buf == NULL)
        w->buf = br_malloc(REMOTE_WRITE_BUFFER);
    while (len > 0) {
        size_t room;

        if (w->end == REMOTE_WRITE_BUFFER) {
            /* full: wait for acknowledgements until half is free, keep the rest in flight */
            while (w->end - w->start > REMOTE_WRITE_BUFFER / 2)
                if (writer_send(s, w, path, err) != 0)
                    return -1;
            if (w->start > 0) {
                memmove(w->buf, w->buf + w->start, w->end - w->start);
                w->end -= w->start;
                w->start = 0;
            }
        }
        room = REMOTE_WRITE_BUFFER - w->end;
        if (room > len)
            room = len;
        memcpy(w->buf + w->end, p, room);
        w->end += room;
        p += room;
        len -= room;
    }
    return 0;
}

int
remote_writer_flush(struct remote_session *s, struct remote_writer *w, const char *path, struct br_error *err)
{
    while (w->end > w->start)
        if (writer_send(s, w, path, err) != 0)
            return -1;
    return 0;
}

int
remote_file_complete(struct remote_session *s, LIBSSH2_SFTP_HANDLE *h, const char *path, unsigned mode,
                     int64_t mtime, int do_fsync, struct br_error *err)
{
    LIBSSH2_SFTP_ATTRIBUTES attrs;
    int rc = 0;

    memset(&attrs, 0, sizeof(attrs));
    attrs.flags = LIBSSH2_SFTP_ATTR_PERMISSIONS;
    attrs.permissions = mode & 07777;
    if (mtime >= 0) {
        attrs.flags |= LIBSSH2_SFTP_ATTR_ACMODTIME;
        attrs.atime = attrs.mtime = (unsigned long) mtime;
    }
    if (libssh2_sftp_fsetstat(h, &attrs) != 0)
        rc = remote_fail(s, err, "could not set the mode of remote file \"%s\"", path);
    if (rc == 0 && do_fsync && s->fsync_supported && libssh2_sftp_fsync(h) != 0) {
        if (remote_sftp_status(s) == LIBSSH2_FX_OP_UNSUPPORTED) {
            s->fsync_supported = 0;
            br_log_warning("the SFTP server of %s does not offer fsync@openssh.com: remote files are not synced "
                           "to disk by barrel", s->label);
        } else {
            rc = remote_fail(s, err, "could not fsync remote file \"%s\"", path);
        }
    }
    /* close reports late write errors (a full disk on NFS, for one) */
    if (libssh2_sftp_close_handle(h) != 0 && rc == 0)
        rc = remote_fail(s, err, "could not close remote file \"%s\"", path);
    return rc;
}

/* Open path for writing, created exclusively (any old file at that name is removed first, never followed). */
static LIBSSH2_SFTP_HANDLE *
open_new(struct remote_session *s, const char *path, unsigned mode, struct br_error *err)
{
    LIBSSH2_SFTP *sftp = remote_sftp(s, err);
    LIBSSH2_SFTP_HANDLE *h;

    if (sftp == NULL || remote_unlink(s, path, err) != 0)
        return NULL;
    h = libssh2_sftp_open_ex(sftp, path, (unsigned) strlen(path),
                             LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_EXCL, (long) (mode & 0777),
                             LIBSSH2_SFTP_OPENFILE);
    if (h == NULL)
        remote_fail(s, err, "could not create remote file \"%s\"", path);
    return h;
}

int
remote_write_file(struct remote_session *s, const char *path, const void *data, size_t len, unsigned mode,
                  struct br_error *err)
{
    char *tmp = br_asprintf("%s.tmp", path);
    LIBSSH2_SFTP_HANDLE *h = open_new(s, tmp, mode, err);
    const char *p = data;
    size_t off = 0;
    int rc = -1;

    if (h == NULL)
        goto out;
    /* the data is in memory already: libssh2 pipelines one call's worth itself */
    while (off < len) {
        ssize_t n = libssh2_sftp_write(h, p + off, len - off);
        if (n < 0) {
            remote_fail(s, err, "could not write remote file \"%s\"", tmp);
            libssh2_sftp_close_handle(h);
            goto out_unlink;
        }
        off += (size_t) n;
    }
    if (remote_file_complete(s, h, tmp, mode, -1, 1, err) != 0)
        goto out_unlink;
    if (remote_rename(s, tmp, path, err) != 0)
        goto out_unlink;
    rc = 0;
    goto out;
out_unlink: {
        struct br_error ignored;
        remote_unlink(s, tmp, &ignored);
    }
out:
    free(tmp);
    return rc;
}

char *
remote_read_file(struct remote_session *s, const char *path, size_t max_bytes, size_t *len_out,
                 struct br_error *err)
{
    LIBSSH2_SFTP *sftp = remote_sftp(s, err);
    LIBSSH2_SFTP_HANDLE *h;
    struct strbuf sb;
    char buf[READ_BLOCK_BYTES];
    ssize_t n;

    if (sftp == NULL)
        return NULL;
    h = libssh2_sftp_open_ex(sftp, path, (unsigned) strlen(path), LIBSSH2_FXF_READ, 0, LIBSSH2_SFTP_OPENFILE);
    if (h == NULL) {
        unsigned long status = remote_sftp_status(s);
        remote_fail(s, err, "could not open remote file \"%s\"", path);
        if (status == LIBSSH2_FX_NO_SUCH_FILE || status == LIBSSH2_FX_NO_SUCH_PATH)
            err->code = BR_E_NOT_FOUND;
        return NULL;
    }
    strbuf_init(&sb);
    strbuf_append(&sb, "");
    while ((n = libssh2_sftp_read(h, buf, sizeof(buf))) > 0) {
        if (sb.len + (size_t) n > max_bytes) {
            br_error_set(err, BR_E_REMOTE, "remote file \"%s\" on %s is larger than %zu bytes", path, s->label,
                         max_bytes);
            goto fail;
        }
        strbuf_append_len(&sb, buf, (size_t) n);
    }
    if (n < 0) {
        remote_fail(s, err, "could not read remote file \"%s\"", path);
        goto fail;
    }
    libssh2_sftp_close_handle(h);
    if (len_out != NULL)
        *len_out = sb.len;
    return strbuf_detach(&sb);
fail:
    libssh2_sftp_close_handle(h);
    strbuf_free(&sb);
    return NULL;
}

/* ------------------------------------------------------------- file sink */

struct sftp_sink {
    struct stage base;
    struct remote_session *s;     /* borrowed */
    char *path, *tmp;
    unsigned mode;
    LIBSSH2_SFTP_HANDLE *handle;  /* open until finish */
    struct remote_writer w;
    int done;
};

static int
sink_push(struct stage *st, const struct chunk *ck, struct br_error *err)
{
    struct sftp_sink *k = (struct sftp_sink *) st;

    if (ck->kind != CHUNK_RAW)
        return br_error_set(err, BR_E_INTERNAL, "remote file sink: unexpected chunk kind %d", ck->kind);
    return remote_writer_write(k->s, &k->w, ck->data, ck->len, k->tmp, err);
}

static int
sink_finish(struct stage *st, struct br_error *err)
{
    struct sftp_sink *k = (struct sftp_sink *) st;
    LIBSSH2_SFTP_HANDLE *h = k->handle;

    if (remote_writer_flush(k->s, &k->w, k->tmp, err) != 0)
        return -1;
    k->handle = NULL;
    if (remote_file_complete(k->s, h, k->tmp, k->mode, -1, 1, err) != 0)
        return -1;
    if (remote_rename(k->s, k->tmp, k->path, err) != 0)
        return -1;
    k->done = 1;
    return stage_finish_next(st, err);
}

static void
sink_free(struct stage *st)
{
    struct sftp_sink *k = (struct sftp_sink *) st;

    stage_free_next(st);
    if (k->handle != NULL)
        libssh2_sftp_close_handle(k->handle);
    if (!k->done && k->tmp != NULL) {
        struct br_error ignored;
        remote_unlink(k->s, k->tmp, &ignored);
    }
    remote_writer_reset(&k->w);
    free(k->path);
    free(k->tmp);
    free(k);
}

static const struct stage_ops sink_ops = {sink_push, sink_finish, sink_free};

struct stage *
stage_sftp_file_sink_new(struct remote_session *s, const char *path, unsigned mode, struct br_error *err)
{
    struct sftp_sink *k = br_calloc(1, sizeof(*k));

    k->base.ops = &sink_ops;
    k->base.name = "remote file sink";
    k->s = s;
    k->path = br_strdup(path);
    k->tmp = br_asprintf("%s.tmp", path);
    k->mode = mode;
    remote_writer_init(&k->w);
    k->handle = open_new(s, k->tmp, mode, err);
    if (k->handle == NULL) {
        k->done = 1;   /* nothing to remove */
        sink_free(&k->base);
        return NULL;
    }
    remote_writer_begin(&k->w, k->handle);
    return &k->base;
}

int64_t
stage_sftp_file_sink_bytes(const struct stage *st)
{
    const struct sftp_sink *k = (const struct sftp_sink *) st;

    return k->w.written + (int64_t) (k->w.end - k->w.start);
}
