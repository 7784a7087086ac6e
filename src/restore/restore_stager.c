/*
 * restore_stager.c: recover --background-wal, PITR on the local host.
 *
 * Instead of decompressing every WAL segment into DEST/barman_wal before
 * recover returns, the segments are staged by a detached process (a
 * fork of recover, `jobs` threads, in replay order) while PostgreSQL
 * already replays. What keeps it safe:
 *
 *   - before recover returns, every segment still to come has an empty
 *     marker barman_wal/.barrel-pending/<name>; history and .backup files
 *     are copied at once (PostgreSQL asks for them first, and for history
 *     files that do not exist: those must fail at once, not wait);
 *   - a segment is written as <name>.tmp, fsynced and renamed (file sink),
 *     and only then its marker goes: no segment is ever served half-written;
 *   - restore_command is `sh barman_wal/.barrel-wait-wal %f %p`: while the
 *     marker exists it waits, unless the stager (pid and start time, from
 *     /proc) is gone, in which case it fails with the stager's error: then
 *     PostgreSQL stops with "recovery ended before the target"; after the
 *     marker it hard-links barman_wal/%f to %p when it can, else runs
 *     Barman's `cp barman_wal/%f %p` (a link saves a 16 MiB copy on
 *     replay's critical path; PostgreSQL only reads restored segments and
 *     renames them into pg_wal, and barman_wal goes with
 *     recovery_end_command before a recycled segment is ever written);
 *   - when recovery ends, Barman's recovery_end_command (rm -fr barman_wal)
 *     removes the directory: the stager notices and stops quietly; if the
 *     server fails or is stopped, the stager finishes its bounded work, so
 *     the directory ends as the synchronous mode leaves it and a restart
 *     works; at the end it removes .barrel-pending.
 */
#include "barrel/build.h"
#include "restore_int.h"

#include "barrel/error.h"
#include "barrel/fs.h"
#include "barrel/log.h"
#include "barrel/mem.h"
#include "barrel/output.h"
#include "barrel/stage.h"
#include "barrel/walfile.h"
#include "barrel/xlog.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PENDING_DIR "barman_wal/.barrel-pending"
#define WAIT_SCRIPT "barman_wal/.barrel-wait-wal"
#define ERROR_FILE "barman_wal/.barrel-stager-error"

struct stager {
    struct rctx *cx;
    size_t first;             /* cx->wal[first ..] are the background segments */
    atomic_int gone;          /* barman_wal was removed: recovery ended */
};

/* Segments in replay order: segment number first, then timeline. */
static int
cmp_replay_order(const void *a, const void *b)
{
    const struct rwal *x = a, *y = b;
    int c = strncmp(x->name + 8, y->name + 8, XLOG_NAME_LEN - 8);

    return c != 0 ? c : strncmp(x->name, y->name, 8);
}

static int
is_background(const struct rwal *w)
{
    return xlog_is_segment_name(w->name);
}

static int
stage_unit(void *arg, size_t unit, int worker, struct br_error *err)
{
    struct stager *sg = arg;
    struct rctx *cx = sg->cx;
    const struct rwal *w = &cx->wal[sg->first + unit];
    char *dir = path_join(cx->dest, "barman_wal");
    char *final = br_asprintf("%s/%s", dir, w->name);
    char *marker = br_asprintf("%s/%s/%s", cx->dest, PENDING_DIR, w->name);
    struct stage *sink = NULL;
    enum walfile_codec codec;
    int64_t bytes = 0;
    int rc = -1;

    (void) worker;
    if (atomic_load(&sg->gone) || !path_exists(dir)) {
        atomic_store(&sg->gone, 1);
        rc = 0;
        goto out;
    }
    if (walfile_identify(w->src, cx->srv, 1, &codec, err) != 0)
        goto out;
    sink = stage_file_sink_new(final, 0644, err);
    if (sink == NULL) {
        if (!path_exists(dir)) {
            atomic_store(&sg->gone, 1);
            rc = 0;
        }
        goto out;
    }
    sink = stage_counter_new(sink, &bytes);
    if (walfile_decompress(w->src, codec, cx->srv, sink, err) != 0)
        goto out;
    if (bytes != (int64_t) cx->seg_size) {
        br_error_set(err, BR_E_FORMAT, "WAL file \"%s\" holds %" PRId64 " bytes once decompressed, not %" PRIu32,
                     w->src, bytes, cx->seg_size);
        goto out;
    }
    if (stage_finish(sink, err) != 0) {
        if (!path_exists(dir)) {
            atomic_store(&sg->gone, 1);
            rc = 0;
        }
        goto out;
    }
    /*
     * Run as root, the stager gives each segment to the destination's owner
     * (the operator chowns the data directory to PostgreSQL's user once
     * recover returns, while the stager still writes), so that
     * restore_command can hard-link it instead of copying 16 MiB: the
     * kernel lets a user link only files it owns (fs.protected_hardlinks).
     * A file that misses the chown is still copied.
     */
    if (geteuid() == 0) {
        struct stat st;

        if (stat(cx->dest, &st) == 0 && st.st_uid != 0 && chown(final, st.st_uid, st.st_gid) != 0)
            br_log_debug("could not give \"%s\" to uid %ld: %s", final, (long) st.st_uid, strerror(errno));
    }
    /* complete under its final name: now restore_command may take it */
    if (unlink(marker) != 0 && errno != ENOENT) {
        br_error_sys(err, BR_E_IO, "could not remove \"%s\"", marker);
        goto out;
    }
    rc = 0;
out:
    if (rc != 0)
        restore_error_prefix(err, "could not stage WAL file %s", w->name);
    stage_free(sink);
    free(marker);
    free(final);
    free(dir);
    return rc;
}

/* The detached stager: never returns. */
static void
stager_main(struct stager *sg)
{
    struct rctx *cx = sg->cx;
    struct restore_opts o = *cx->o;
    struct br_error err;
    int devnull = open("/dev/null", O_RDWR);
    int rc;

    /* nothing inherited stays open (locks, the terminal) */
    if (devnull >= 0) {
        dup2(devnull, 0);
        dup2(devnull, 1);
        dup2(devnull, 2);
    }
    for (int fd = 3; fd < 1024; fd++)
        close(fd);
    o.progress = 0;
    cx->o = &o;
    atomic_store(&cx->shared.abort, 0);
    br_error_clear(&err);
    rc = restore_pool_run(cx, cx->n_wal - sg->first, o.jobs, stage_unit, sg, "staging WAL", &err);
    if (rc != 0 && !atomic_load(&sg->gone)) {
        char *path = path_join(cx->dest, ERROR_FILE);
        FILE *f = fopen(path, "w");

        if (f != NULL) {
            fprintf(f, "%s\n", err.msg);
            fclose(f);
        }
        free(path);
        _exit(1);
    }
    if (!atomic_load(&sg->gone)) {
        char *pending = path_join(cx->dest, PENDING_DIR);
        rmdir(pending);
        free(pending);
    }
    _exit(0);
}

/* Field 22 of /proc/PID/stat: the start time, so that a reused pid is not taken for the stager. */
int
restore_stager_start_time(long pid, char *out, size_t size)
{
    char path[64], buf[1024];
    FILE *f;
    size_t n;
    char *p;

    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    if ((f = fopen(path, "r")) == NULL)
        return -1;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* "PID (COMM) STATE ...": after the closing parenthesis, p is the space before field 3 */
    if ((p = strrchr(buf, ')')) == NULL)
        return -1;
    p++;
    for (int field = 3; field < 22; field++) {
        p = strchr(p + 1, ' ');
        if (p == NULL)
            return -1;
    }
    p++;
    n = strcspn(p, " ");
    if (n == 0 || n >= size)
        return -1;
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

/* Fork the detached stager (double fork, own session); its pid in *pid. */
static int
start_stager(struct stager *sg, pid_t *pid, struct br_error *err)
{
    int fds[2];
    pid_t child;
    long got = -1;

    if (pipe(fds) != 0)
        return br_error_sys(err, BR_E_IO, "could not create a pipe for the WAL stager");
    fflush(NULL);
    child = fork();
    if (child < 0) {
        close(fds[0]);
        close(fds[1]);
        return br_error_sys(err, BR_E_IO, "could not start the WAL stager");
    }
    if (child == 0) {
        pid_t grandchild;

        close(fds[0]);
        setsid();
        signal(SIGHUP, SIG_IGN);
        signal(SIGINT, SIG_IGN);
        grandchild = fork();
        if (grandchild != 0) {
            long v = grandchild;
            ssize_t w = write(fds[1], &v, sizeof(v));
            (void) w;
            _exit(0);
        }
        close(fds[1]);
        stager_main(sg);
    }
    close(fds[1]);
    while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
        ;
    if (read(fds[0], &got, sizeof(got)) != (ssize_t) sizeof(got) || got <= 0) {
        close(fds[0]);
        return br_error_set(err, BR_E_INTERNAL, "the WAL stager did not start");
    }
    close(fds[0]);
    *pid = (pid_t) got;
    return 0;
}

char *
restore_stager_script(long pid, const char *start_time)
{
    return br_asprintf(
        "#!/bin/sh\n"
        "# restore_command of barrel recover --background-wal, run by PostgreSQL in its data directory.\n"
        "# barrel's WAL stager (pid %ld) writes the WAL into barman_wal/ while PostgreSQL replays;\n"
        "# a segment it has still to write has a marker in " PENDING_DIR "/ until it is\n"
        "# complete under its final name. Wait for it, then copy it (Barman's cp barman_wal/%%f %%p).\n"
        "# The stager is alive while /proc/PID/stat shows its start time and a state other than Z.\n"
        "# Replay waits here whenever the stager is behind: the loop forks nothing but sleep\n"
        "# (read and set are built in) so that it can look every 10 ms.\n"
        "alive() {\n"
        "    s=\n"
        "    { read -r s < /proc/%ld/stat; } 2>/dev/null || return 1\n"
        "    set -- $s\n"
        "    [ \"$3\" != Z ] && [ \"${22}\" = %s ]\n"
        "}\n"
        "while [ -e \"" PENDING_DIR "/$1\" ]; do\n"
        "    if ! alive && [ -e \"" PENDING_DIR "/$1\" ]; then\n"
        "        echo \"barrel's WAL stager (pid %ld) stopped before staging $1: "
        "$(cat " ERROR_FILE " 2>/dev/null || echo killed). Run barrel recover again.\" >&2\n"
        "        exit 1\n"
        "    fi\n"
        "    sleep 0.01\n"
        "done\n"
        "# A hard link when the link may be made (same file system, and PostgreSQL's user owns the\n"
        "# file: fs.protected_hardlinks), else Barman's copy: either way %%p is the complete segment.\n"
        "ln -f \"barman_wal/$1\" \"$2\" 2>/dev/null && exit 0\n"
        "exec cp \"barman_wal/$1\" \"$2\"\n",
        pid, pid, start_time, pid);
}

static int
write_wait_script(struct rctx *cx, pid_t pid, const char *start, struct br_error *err)
{
    char *path = path_join(cx->dest, WAIT_SCRIPT);
    char *text = restore_stager_script((long) pid, start);
    int rc = cx->t->ops->write_file(cx->t, path, text, strlen(text), 0755, err);

    free(text);
    free(path);
    return rc;
}

int
restore_wal_in_background(const struct rctx *cx)
{
    return cx->o->background_wal && cx->is_pitr && !cx->o->get_wal && !cx->t->is_remote;
}

int
restore_wal_stage_background(struct rctx *cx, struct br_error *err)
{
    struct stager *sg;
    size_t n_small = 0, n_all = cx->n_wal;
    struct rwal *sorted = br_malloc((n_all ? n_all : 1) * sizeof(*sorted));
    char *pending;
    char start[32];
    pid_t pid = 0;
    int rc = -1;

    /* history and .backup files first, copied now; then the segments in replay order */
    for (size_t i = 0; i < n_all; i++)
        if (!is_background(&cx->wal[i]))
            sorted[n_small++] = cx->wal[i];
    for (size_t i = 0, k = n_small; i < n_all; i++)
        if (is_background(&cx->wal[i]))
            sorted[k++] = cx->wal[i];
    memcpy(cx->wal, sorted, n_all * sizeof(*sorted));
    free(sorted);
    qsort(cx->wal + n_small, n_all - n_small, sizeof(*cx->wal), cmp_replay_order);

    cx->n_wal = n_small;
    rc = restore_wal_copy(cx, err);
    cx->n_wal = n_all;
    if (rc != 0)
        return -1;
    rc = -1;

    pending = path_join(cx->dest, PENDING_DIR);
    if (cx->t->ops->mkdir_p(cx->t, pending, 0755, err) != 0)
        goto out;
    /* empty markers, made durable by one fsync of their directory */
    for (size_t i = n_small; i < n_all; i++) {
        char *marker = br_asprintf("%s/%s", pending, cx->wal[i].name);
        int fd = open(marker, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || close(fd) != 0) {
            br_error_sys(err, BR_E_IO, "could not create \"%s\"", marker);
            free(marker);
            goto out;
        }
        free(marker);
    }
    if (fs_fsync_path(pending, 1, err) != 0)
        goto out;
    sg = br_calloc(1, sizeof(*sg));
    sg->cx = cx;
    sg->first = n_small;
    atomic_init(&sg->gone, 0);
    if (n_all > n_small) {
        if (start_stager(sg, &pid, err) != 0) {
            free(sg);
            goto out;
        }
        if (restore_stager_start_time((long) pid, start, sizeof(start)) != 0)
            snprintf(start, sizeof(start), "unknown");
    } else {
        pid = getpid();
        snprintf(start, sizeof(start), "done");
    }
    free(sg);
    if (write_wait_script(cx, pid, start, err) != 0)
        goto out;
    cx->res->wal_files = (int64_t) n_all;
    cx->res->stager_pid = n_all > n_small ? (long) pid : 0;
    cx->res->wal_background = (int64_t) (n_all - n_small);
    rc = 0;
out:
    free(pending);
    return rc;
}
