/*
 * restore_target_ssh.c: the recovery host of --remote-ssh-command as a
 * restore_target (restore_target.h), so that `barrel recover` writes there
 * through the same recipe as locally.
 *
 * One session serves the recipe's main-thread operations (stat, mkdir,
 * links, small files, listing, removal). Sinks run on the worker threads,
 * one per thread at a time: each leases a session of its own from a small
 * pool (opened on demand, at most `jobs` plus the main one, returned when
 * the sink is freed, closed instead when it failed, so that a broken
 * channel never serves again). The first session is opened by the
 * constructor: a refused host key or login stops the recovery before
 * anything is written. rm -rf and kill -0 go through the exec helper; all
 * the rest is SFTP.
 */
#include "barrel/build.h"
#include "barrel/remote.h"

#include <pthread.h>

#include "barrel/error.h"
#include "barrel/manifest.h"
#include "barrel/mem.h"
#include "barrel/restore_target.h"
#include "barrel/stage.h"
#include "remote_int.h"

#define FILE_READ_BLOCK (1024 * 1024)

struct ssh_target {
    struct restore_target base;
    struct remote_target rt;
    struct remote_session *main;     /* main-thread operations */
    pthread_mutex_t lock;            /* guards idle */
    struct remote_session **idle;    /* sessions free for a sink */
    size_t n_idle, cap_idle;
};

/* ------------------------------------------------------------ sessions */

static struct remote_session *
lease(struct ssh_target *t, struct br_error *err)
{
    struct remote_session *s = NULL;

    pthread_mutex_lock(&t->lock);
    if (t->n_idle > 0)
        s = t->idle[--t->n_idle];
    pthread_mutex_unlock(&t->lock);
    return s != NULL ? s : remote_session_open(&t->rt, err);
}

static void
give_back(struct ssh_target *t, struct remote_session *s, int healthy)
{
    if (!healthy) {
        remote_session_close(s);
        return;
    }
    pthread_mutex_lock(&t->lock);
    if (t->n_idle == t->cap_idle) {
        t->cap_idle = t->cap_idle ? t->cap_idle * 2 : 8;
        t->idle = br_realloc(t->idle, t->cap_idle * sizeof(*t->idle));
    }
    t->idle[t->n_idle++] = s;
    pthread_mutex_unlock(&t->lock);
}

/* ------------------------------------------------------------- the sink */

/* Holds the session lease of the remote extractor behind it. */
struct lease_stage {
    struct stage base;
    struct ssh_target *t;
    struct remote_session *s;
    int failed;
};

static int
lease_push(struct stage *st, const struct chunk *ck, struct br_error *err)
{
    struct lease_stage *l = (struct lease_stage *) st;
    int rc = stage_forward(st, ck, err);

    if (rc != 0 && err->code == BR_E_REMOTE)
        l->failed = 1;
    return rc;
}

static int
lease_finish(struct stage *st, struct br_error *err)
{
    struct lease_stage *l = (struct lease_stage *) st;
    int rc = stage_finish_next(st, err);

    if (rc != 0)
        l->failed = 1;
    return rc;
}

static void
lease_free(struct stage *st)
{
    struct lease_stage *l = (struct lease_stage *) st;

    stage_free_next(st);   /* the extractor closes its file handles first */
    give_back(l->t, l->s, !l->failed);
    free(l);
}

static const struct stage_ops lease_ops = {lease_push, lease_finish, lease_free};

static struct stage *
ssh_sink_new(struct restore_target *rt, const char *root, struct br_error *err)
{
    struct ssh_target *t = (struct ssh_target *) rt;
    struct remote_session *s = lease(t, err);
    struct lease_stage *l;
    struct stage *ex;

    if (s == NULL)
        return NULL;
    ex = stage_sftp_extract_new(s, root, NULL, err);
    if (ex == NULL) {
        give_back(t, s, err->code != BR_E_REMOTE || strstr(err->msg, "does not exist") != NULL);
        return NULL;
    }
    l = br_calloc(1, sizeof(*l));
    l->base.ops = &lease_ops;
    l->base.name = "remote session";
    l->base.next = ex;
    l->t = t;
    l->s = s;
    return &l->base;
}

/* ----------------------------------------------------------- operations */

static int
ssh_stat(struct restore_target *rt, const char *path, struct restore_stat *out, struct br_error *err)
{
    struct ssh_target *t = (struct ssh_target *) rt;
    struct remote_stat st;
    int r = remote_lstat(t->main, path, &st, err);

    memset(out, 0, sizeof(*out));
    if (r < 0)
        return -1;
    if (r == 1) {
        out->type = RT_MISSING;
        return 0;
    }
    out->type = st.type == REMOTE_FILE ? RT_FILE : st.type == REMOTE_DIR ? RT_DIR : st.type == REMOTE_SYMLINK ? RT_LINK
                                                                                                            : RT_OTHER;
    out->size = st.size;
    out->mode = st.mode;
    return 0;
}

static int
ssh_mkdir_p(struct restore_target *rt, const char *path, mode_t mode, struct br_error *err)
{
    return remote_mkdir_p(((struct ssh_target *) rt)->main, path, (unsigned) mode, err);
}

static int
ssh_symlink(struct restore_target *rt, const char *target, const char *linkpath, struct br_error *err)
{
    return remote_symlink(((struct ssh_target *) rt)->main, target, linkpath, err);
}

static int
ssh_remove(struct restore_target *rt, const char *path, struct br_error *err)
{
    struct ssh_target *t = (struct ssh_target *) rt;
    struct remote_stat st;
    int r = remote_lstat(t->main, path, &st, err);

    if (r != 0)
        return r < 0 ? -1 : 0;
    if (st.type == REMOTE_DIR)
        return remote_remove_tree(t->main, path, err);   /* rm -rf does not follow symlinks */
    return remote_unlink(t->main, path, err);
}

static int
ssh_rename(struct restore_target *rt, const char *from, const char *to, struct br_error *err)
{
    return remote_rename(((struct ssh_target *) rt)->main, from, to, err);
}

static int
ssh_write_file(struct restore_target *rt, const char *path, const void *data, size_t len, mode_t mode,
               struct br_error *err)
{
    return remote_write_file(((struct ssh_target *) rt)->main, path, data, len, (unsigned) mode, err);
}

static char *
ssh_read_file(struct restore_target *rt, const char *path, size_t max_bytes, size_t *len_out, struct br_error *err)
{
    return remote_read_file(((struct ssh_target *) rt)->main, path, max_bytes, len_out, err);
}

struct dir_entry {
    char *name;
    enum restore_ftype type;
};

static int
entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct dir_entry *) a)->name, ((const struct dir_entry *) b)->name);
}

static int
ssh_list_dir(struct restore_target *rt, const char *path, restore_dir_fn cb, void *arg, struct br_error *err)
{
    struct ssh_target *t = (struct ssh_target *) rt;
    LIBSSH2_SFTP *sftp = remote_sftp(t->main, err);
    LIBSSH2_SFTP_HANDLE *dir;
    struct dir_entry *entries = NULL;
    size_t n = 0, cap = 0;
    char name[1024];
    int rc = 0;

    if (sftp == NULL)
        return -1;
    dir = libssh2_sftp_open_ex(sftp, path, (unsigned) strlen(path), 0, 0, LIBSSH2_SFTP_OPENDIR);
    if (dir == NULL)
        return remote_fail(t->main, err, "could not open remote directory \"%s\"", path);
    for (;;) {
        LIBSSH2_SFTP_ATTRIBUTES attrs;
        int len;

        memset(&attrs, 0, sizeof(attrs));
        len = libssh2_sftp_readdir_ex(dir, name, sizeof(name) - 1, NULL, 0, &attrs);
        if (len == 0)
            break;
        if (len < 0) {
            rc = remote_fail(t->main, err, "could not read remote directory \"%s\"", path);
            break;
        }
        name[len] = '\0';
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            entries = br_realloc(entries, cap * sizeof(*entries));
        }
        entries[n].name = br_strdup(name);
        /* OpenSSH's sftp-server lstat()s directory entries */
        entries[n].type = !(attrs.flags & LIBSSH2_SFTP_ATTR_PERMISSIONS)   ? RT_OTHER
                          : LIBSSH2_SFTP_S_ISREG(attrs.permissions) ? RT_FILE
                          : LIBSSH2_SFTP_S_ISDIR(attrs.permissions) ? RT_DIR
                          : LIBSSH2_SFTP_S_ISLNK(attrs.permissions) ? RT_LINK
                                                                    : RT_OTHER;
        n++;
    }
    libssh2_sftp_close_handle(dir);
    if (rc == 0 && n > 0)
        qsort(entries, n, sizeof(*entries), entry_cmp);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = cb(arg, entries[i].name, entries[i].type, err);
    for (size_t i = 0; i < n; i++)
        free(entries[i].name);
    free(entries);
    return rc;
}

static int
ssh_free_space(struct restore_target *rt, const char *path, int64_t *avail_bytes, uint64_t *fs_id,
               struct br_error *err)
{
    struct ssh_target *t = (struct ssh_target *) rt;
    LIBSSH2_SFTP *sftp = remote_sftp(t->main, err);
    LIBSSH2_SFTP_STATVFS vfs;
    char *p;
    int rc = 0;

    if (sftp == NULL)
        return -1;
    p = br_strdup(path);
    /* the nearest existing parent */
    for (;;) {
        struct remote_stat st;
        int r = remote_lstat(t->main, p, &st, err);
        char *slash;

        if (r < 0) {
            free(p);
            return -1;
        }
        if (r == 0)
            break;
        slash = strrchr(p, '/');
        if (slash == NULL || slash == p) {
            free(p);
            return 1;
        }
        *slash = '\0';
    }
    memset(&vfs, 0, sizeof(vfs));
    if (libssh2_sftp_statvfs(sftp, p, strlen(p), &vfs) != 0) {
        /* statvfs@openssh.com is an extension: without it the recipe cannot tell */
        rc = remote_sftp_status(t->main) == LIBSSH2_FX_OP_UNSUPPORTED || remote_sftp_status(t->main) == 0
                 ? 1
                 : remote_fail(t->main, err, "could not read the free space of remote \"%s\"", p);
    } else {
        *avail_bytes = (int64_t) (vfs.f_bavail * vfs.f_frsize);
        *fs_id = (uint64_t) vfs.f_fsid;
    }
    free(p);
    return rc;
}

static int
ssh_file_matches(struct restore_target *rt, const char *path, const struct manifest_file *entry, int *match,
                 struct br_error *err)
{
    struct ssh_target *t = (struct ssh_target *) rt;
    LIBSSH2_SFTP *sftp = remote_sftp(t->main, err);
    LIBSSH2_SFTP_HANDLE *h;
    struct manifest_hasher *hasher;
    struct remote_stat st;
    char hex[2 * MANIFEST_MAX_CHECKSUM + 1];
    char *buf;
    ssize_t n;
    int r, rc = 0;

    *match = 0;
    if (sftp == NULL)
        return -1;
    r = remote_lstat(t->main, path, &st, err);
    if (r < 0)
        return -1;
    if (r == 1 || st.type != REMOTE_FILE || st.size != entry->size)
        return 0;
    h = libssh2_sftp_open_ex(sftp, path, (unsigned) strlen(path), LIBSSH2_FXF_READ, 0, LIBSSH2_SFTP_OPENFILE);
    if (h == NULL)
        return remote_fail(t->main, err, "could not open remote file \"%s\"", path);
    hasher = manifest_hasher_new(entry->algorithm);
    buf = br_malloc(FILE_READ_BLOCK);
    /* libssh2 reads ahead within one call: a large buffer keeps several requests in flight */
    while ((n = libssh2_sftp_read(h, buf, FILE_READ_BLOCK)) > 0)
        manifest_hasher_update(hasher, buf, (size_t) n);
    if (n < 0)
        rc = remote_fail(t->main, err, "could not read remote file \"%s\"", path);
    else
        *match = manifest_hasher_matches(hasher, entry, hex, sizeof(hex));
    manifest_hasher_free(hasher);
    free(buf);
    libssh2_sftp_close_handle(h);
    return rc;
}

static int
ssh_server_running(struct restore_target *rt, const char *pid_path, int *unknown, struct br_error *err)
{
    struct ssh_target *t = (struct ssh_target *) rt;
    struct remote_exec_result res;
    struct br_error exec_err;
    char pid_text[32];
    char *text;
    long pid;
    int running;

    *unknown = 0;
    text = remote_read_file(t->main, pid_path, 4096, NULL, err);
    if (text == NULL)
        return err->code == BR_E_NOT_FOUND ? 0 : -1;
    pid = strtol(text, NULL, 10);
    free(text);
    if (pid <= 0) {
        *unknown = 1;
        return 0;
    }
    snprintf(pid_text, sizeof(pid_text), "%ld", pid);
    {
        const char *argv[] = {"kill", "-0", pid_text, NULL};
        if (remote_exec_argv(t->main, argv, &res, &exec_err) != 0) {
            *unknown = 1;
            return 0;
        }
    }
    /* EPERM: alive, owned by another user (the postgres user) */
    running = res.status == 0 || strstr(res.err, "not permitted") != NULL;
    remote_exec_result_free(&res);
    return running;
}

static void
ssh_free(struct restore_target *rt)
{
    struct ssh_target *t = (struct ssh_target *) rt;

    for (size_t i = 0; i < t->n_idle; i++)
        remote_session_close(t->idle[i]);
    free(t->idle);
    remote_session_close(t->main);
    remote_target_reset(&t->rt);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

static const struct restore_target_ops ssh_ops = {
    ssh_stat,       ssh_mkdir_p,      ssh_symlink,        ssh_remove,  ssh_rename, ssh_write_file, ssh_read_file,
    ssh_list_dir,   ssh_free_space,   ssh_file_matches,   ssh_server_running, ssh_sink_new, ssh_free,
};

struct restore_target *
restore_target_ssh_new(const char *ssh_command, struct br_error *err)
{
    struct ssh_target *t = br_calloc(1, sizeof(*t));
    struct remote_exec_result res;

    t->base.ops = &ssh_ops;
    t->base.kind = "ssh";
    t->base.is_remote = 1;
    pthread_mutex_init(&t->lock, NULL);
    if (remote_target_parse(ssh_command, &t->rt, err) != 0)
        goto fail;
    t->main = remote_session_open(&t->rt, err);
    if (t->main == NULL)
        goto fail;
    /* Barman's first remote step: the command must run `true` (rm -rf and kill -0 need a shell) */
    if (remote_exec(t->main, "true", &res, err) != 0)
        goto fail;
    if (res.status != 0) {
        br_error_set(err, BR_E_REMOTE, "Unable to connect to the target host using the command '%s'", ssh_command);
        br_error_detail(err, "\"true\" exited with status %d on %s%s%s", res.status, t->main->label,
                        res.err[0] != '\0' ? ": " : "", res.err);
        remote_exec_result_free(&res);
        goto fail;
    }
    remote_exec_result_free(&res);
    return &t->base;
fail:
    ssh_free(&t->base);
    return NULL;
}
