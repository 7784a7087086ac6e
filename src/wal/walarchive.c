/*
 * walarchive.c: archive-wal (spec 4.2), Barman 3.4's WalArchiver.archive()
 * with the compression spread over worker threads.
 *
 * For each archiver (streaming/, then incoming/) the directory is listed and
 * sorted by name; a batch of candidates becomes a sequence of jobs. Worker
 * threads take jobs in order, at most JOB_WINDOW ahead of the oldest job not
 * yet committed, and prepare each one on their own: a duplicate check
 * (decompressed contents compared as streams), or the compressed copy in
 * wals/<hash>/<name>.tmp, fsynced, with the source's mode and times. The
 * main thread commits finished jobs strictly in name order, in groups,
 * holding the xlogdb lock as Barman does:
 *
 *   rename .tmp (or the source) into place -> fsync the hash directories
 *   -> unlink the sources -> fsync the source directory -> xlog.db lines
 *   (one write and one fsync for the group).
 *
 * So a file is durable under its final name before its line exists, lines
 * stay in archive order, and a crash leaves either a .tmp file (ignored
 * everywhere, overwritten by the next run) or archived files without their
 * lines, never a line without its file. Those files are named, before the
 * first rename, in the journal "<wals>/.barrel-wal-archive" (fsynced), which
 * is removed once the group's lines are durable; the next archive-wal finds
 * a journal left by a crash and appends the missing lines (built from the
 * files, as rebuild-xlogdb does) before archiving anything, so no file stays
 * without its line and no segment is archived out of order.
 *
 * Memory: the sorted list of names of one directory, and JOB_WINDOW job
 * slots; every byte of WAL goes through the fixed buffers of the stages.
 */
#include "barrel/build.h"
#include "barrel/walarchive.h"
#include "barrel/fault.h"

#include "barrel/catalog.h"
#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/fs.h"
#include "barrel/log.h"
#include "barrel/mem.h"
#include "barrel/output.h"
#include "barrel/stage.h"
#include "barrel/walfile.h"
#include "barrel/xlog.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Jobs prepared ahead of the oldest uncommitted one, per worker: bounds the .tmp files in flight. */
#define JOB_WINDOW_PER_WORKER 4
#define STAMP_LEN 17                  /* YYYYMMDDTHHMMSSZ */
#define JOURNAL_NAME ".barrel-wal-archive"  /* names of the group being committed (a dot file: every reader skips it) */
#define JOURNAL_LINE_MAX 128

enum job_state { JOB_PENDING, JOB_RUNNING, JOB_DONE };

enum job_result {
    RES_MOVE,        /* rename the source into place (same filesystem, no compression) */
    RES_TMP,         /* dst.tmp is ready and durable: rename it, then unlink the source */
    RES_IDENTICAL,   /* already archived with the same content: drop the source */
    RES_DIFFERENT,   /* already archived with other content: to errors/ */
    RES_FAILED,      /* err says why */
};

struct job {
    size_t index;               /* position in the batch; SIZE_MAX for a free slot */
    char *name;                 /* borrowed from the listing */
    char *src_path;
    char *dst_dir;
    char *dst_path;
    char *tmp_path;
    struct stat src_st;
    enum walfile_codec src_codec;   /* of the source (detected for incoming/, none for streaming/) */
    enum job_state state;
    enum job_result result;
    struct br_error err;
};

struct name_list {
    size_t n, cap;
    char **names;
};

struct archiver {
    const char *label;          /* "streaming" or "file archival", as Barman's headers say */
    const char *dir;
    int batch_size;
    int is_streaming;
};

struct run {
    const struct server_config *srv;
    const char *lock_dir;
    enum walfile_codec codec;       /* configured compression */
    const char *codec_name;         /* recorded in xlog.db when we compress ("pigz" stays "pigz") */
    char *wals_dir;
    dev_t wals_dev;
    char stamp[STAMP_LEN + 1];
    int verbose;
    int n_workers;

    /* the batch being archived */
    const struct archiver *arc;
    char **batch;
    size_t n_batch;
    int detect_source;              /* file archiver: identify the source's compression */

    /* the pool */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct job *slots;
    size_t window;
    size_t next;                    /* next job a worker takes */
    size_t committed;               /* jobs below are committed */
    int stop;
};

/* ---- listing ---- */

static void
name_list_add(struct name_list *l, const char *name)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->names = br_realloc(l->names, l->cap * sizeof(*l->names));
    }
    l->names[l->n++] = br_strdup(name);
}

static void
name_list_free(struct name_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->names[i]);
    free(l->names);
    memset(l, 0, sizeof(*l));
}

static int
name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

static int
ends_with(const char *s, const char *suffix)
{
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

/*
 * glob("DIR/ *") sorted: hidden names are not listed; ".tmp" names are
 * skipped. Candidates and errors are split as Barman's get_next_batch() does.
 * A missing directory is empty.
 */
static int
list_dir(const struct archiver *arc, struct name_list *files, struct name_list *errors, struct name_list *skip,
         struct br_error *err)
{
    struct name_list all = {0};
    DIR *dp = opendir(arc->dir);
    struct dirent *de;

    if (dp == NULL) {
        if (errno == ENOENT)
            return 0;
        return br_error_sys(err, BR_E_IO, "could not open directory \"%s\"", arc->dir);
    }
    while ((de = readdir(dp)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        name_list_add(&all, de->d_name);
    }
    closedir(dp);
    if (all.n > 1)
        qsort(all.names, all.n, sizeof(*all.names), name_cmp);

    for (size_t i = 0; i < all.n; i++) {
        const char *name = all.names[i];
        char *path;
        struct stat st;
        enum xlog_kind kind;

        if (ends_with(name, ".tmp"))
            continue;
        path = path_join(arc->dir, name);
        kind = xlog_name_parse(name, NULL);
        if (stat(path, &st) != 0) {
            /* renamed or removed while we listed: not ours any more */
            if (!arc->is_streaming)
                name_list_add(errors, name);
        } else if (!S_ISREG(st.st_mode)) {
            name_list_add(errors, name);
        } else if (kind == XLOG_KIND_NONE) {
            name_list_add(errors, name);
        } else if (arc->is_streaming && kind == XLOG_KIND_PARTIAL) {
            name_list_add(skip, name);
        } else {
            name_list_add(files, name);
        }
        free(path);
    }
    name_list_free(&all);

    if (arc->is_streaming) {
        if (skip->n > 1) {
            /* several partials (a timeline switch): archive all but the newest like normal files */
            for (size_t i = 0; i + 1 < skip->n; i++) {
                br_log_info("Archiving partial files for server %s: %s", arc->label, skip->names[i]);
                name_list_add(files, skip->names[i]);
            }
            qsort(files->names, files->n, sizeof(*files->names), name_cmp);
        } else if (skip->n == 0 && files->n > 0) {
            /* pg_receivewal resumes from the newest file: keep it back when there is no partial */
            files->n--;
            free(files->names[files->n]);
        }
    }
    return 0;
}

/* ---- jobs ---- */

static void
job_reset(struct job *job)
{
    free(job->src_path);
    free(job->dst_dir);
    free(job->dst_path);
    free(job->tmp_path);
    memset(job, 0, sizeof(*job));
    job->index = SIZE_MAX;
}

static void
job_setup(struct run *run, struct job *job, size_t index)
{
    char hash[17];
    const char *name = run->batch[index];

    job_reset(job);
    job->index = index;
    job->name = run->batch[index];
    job->src_path = path_join(run->arc->dir, name);
    xlog_hash_dir(name, hash);
    job->dst_dir = hash[0] ? path_join(run->wals_dir, hash) : br_strdup(run->wals_dir);
    job->dst_path = path_join(job->dst_dir, name);
    job->tmp_path = br_asprintf("%s.tmp", job->dst_path);
    job->state = JOB_PENDING;
    br_error_clear(&job->err);
}

/* Copy the source's permission bits and times onto the temporary file (Barman: shutil.copystat). */
static int
copy_stat(int fd, const struct job *job, struct br_error *err)
{
    struct timespec times[2] = {job->src_st.st_atim, job->src_st.st_mtim};

    if (fchmod(fd, job->src_st.st_mode & 07777) != 0)
        return br_error_sys(err, BR_E_IO, "could not change mode of file \"%s\"", job->tmp_path);
    if (futimens(fd, times) != 0)
        return br_error_sys(err, BR_E_IO, "could not set times of file \"%s\"", job->tmp_path);
    return 0;
}

/* Write the source, compressed with codec (or copied), into dst.tmp and fsync it. */
static int
job_write_tmp(struct run *run, struct job *job, enum walfile_codec codec, struct br_error *err)
{
    int src_fd = -1, out_fd = -1, rc = -1;

    if (fs_mkdir_p(job->dst_dir, 0700, err) < 0)
        return -1;
    src_fd = open(job->src_path, O_RDONLY | O_CLOEXEC);
    if (src_fd < 0) {
        br_error_sys(err, BR_E_IO, "could not open file \"%s\"", job->src_path);
        goto out;
    }
    /* a .tmp left by a crash is overwritten: it was never renamed, so nothing names it */
    out_fd = open(job->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out_fd < 0) {
        br_error_sys(err, BR_E_IO, "could not create file \"%s\"", job->tmp_path);
        goto out;
    }
    if (walfile_compress_fd(src_fd, job->src_path, out_fd, job->tmp_path, codec, run->srv, err) < 0)
        goto out;
    if (copy_stat(out_fd, job, err) < 0)
        goto out;
    fault_point("walarchive.tmp.fsync");
    if (fsync(out_fd) != 0) {
        br_error_sys(err, BR_E_IO, "could not fsync file \"%s\"", job->tmp_path);
        goto out;
    }
    if (close(out_fd) != 0) {
        out_fd = -1;
        br_error_sys(err, BR_E_IO, "could not close file \"%s\"", job->tmp_path);
        goto out;
    }
    out_fd = -1;
    rc = 0;
out:
    if (src_fd >= 0)
        close(src_fd);
    if (out_fd >= 0)
        close(out_fd);
    if (rc != 0)
        unlink(job->tmp_path);
    return rc;
}

/* Everything a job needs before its commit; runs on a worker thread. */
static void
job_prepare(struct run *run, struct job *job)
{
    struct br_error *err = &job->err;

    job->result = RES_FAILED;
    if (stat(job->src_path, &job->src_st) != 0) {
        br_error_sys(err, BR_E_IO, "could not stat file \"%s\"", job->src_path);
        return;
    }
    job->src_codec = WALFILE_NONE;
    if (run->detect_source && walfile_identify(job->src_path, run->srv, 0, &job->src_codec, err) < 0)
        return;

    /* already archived: compare the decompressed contents */
    if (path_exists(job->dst_path)) {
        enum walfile_codec dst_codec;
        int same;

        if (walfile_identify(job->dst_path, run->srv, 1, &dst_codec, err) < 0)
            return;
        same = walfile_same_content(job->dst_path, dst_codec, job->src_path, job->src_codec, run->srv, err);
        if (same < 0)
            return;
        job->result = same ? RES_IDENTICAL : RES_DIFFERENT;
        return;
    }

    if (run->codec != WALFILE_NONE && job->src_codec == WALFILE_NONE) {
        if (job_write_tmp(run, job, run->codec, err) < 0)
            return;
        job->result = RES_TMP;
        return;
    }
    /* stored as it is: a rename when the filesystems allow it, else a durable copy */
    if (job->src_st.st_dev != run->wals_dev) {
        if (job_write_tmp(run, job, WALFILE_NONE, err) < 0)
            return;
        job->result = RES_TMP;
        return;
    }
    if (fs_mkdir_p(job->dst_dir, 0700, err) < 0)
        return;
    job->result = RES_MOVE;
}

static void *
worker_main(void *arg)
{
    struct run *run = arg;

    pthread_mutex_lock(&run->mu);
    for (;;) {
        struct job *job;

        while (!run->stop && run->next < run->n_batch && run->next >= run->committed + run->window)
            pthread_cond_wait(&run->cv, &run->mu);
        if (run->stop || run->next >= run->n_batch)
            break;
        job = &run->slots[run->next % run->window];
        job_setup(run, job, run->next);
        job->state = JOB_RUNNING;
        run->next++;
        pthread_mutex_unlock(&run->mu);

        job_prepare(run, job);

        pthread_mutex_lock(&run->mu);
        job->state = JOB_DONE;
        pthread_cond_broadcast(&run->cv);
    }
    pthread_mutex_unlock(&run->mu);
    return NULL;
}

/* ---- commit ---- */

static void
utc_stamp(char *buf)
{
    time_t now = time(NULL);
    struct tm tm;

    gmtime_r(&now, &tm);
    strftime(buf, STAMP_LEN + 1, "%Y%m%dT%H%M%SZ", &tm);
}

/* Barman's shutil.move(): rename, or copy and unlink across filesystems. */
static int
move_file(const char *src, const char *dst, struct br_error *err)
{
    char *tmp;
    int in = -1, out = -1, rc = -1;
    struct stage *sink = NULL;

    if (rename(src, dst) == 0)
        return 0;
    if (errno != EXDEV)
        return br_error_sys(err, BR_E_IO, "could not move \"%s\" to \"%s\"", src, dst);
    tmp = br_asprintf("%s.tmp", dst);
    in = open(src, O_RDONLY | O_CLOEXEC);
    out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (in < 0 || out < 0) {
        br_error_sys(err, BR_E_IO, "could not copy \"%s\" to \"%s\"", src, tmp);
        goto out;
    }
    sink = stage_fd_sink_new(out, tmp);
    if (stage_pump_fd(in, src, sink, err) < 0)
        goto out;
    if (fsync(out) != 0 || rename(tmp, dst) != 0 || unlink(src) != 0) {
        br_error_sys(err, BR_E_IO, "could not move \"%s\" to \"%s\"", src, dst);
        goto out;
    }
    rc = 0;
out:
    stage_free(sink);
    if (in >= 0)
        close(in);
    if (out >= 0)
        close(out);
    if (rc != 0)
        unlink(tmp);
    free(tmp);
    return rc;
}

static int
fsync_file_path(const char *path, struct br_error *err)
{
    return fs_fsync_path(path, 0, err);
}

/* Add dir to a small set of distinct directories to fsync (groups touch one or two hash dirs). */
static void
dir_set_add(struct name_list *set, const char *dir)
{
    for (size_t i = 0; i < set->n; i++)
        if (strcmp(set->names[i], dir) == 0)
            return;
    name_list_add(set, dir);
}

/* ---- the commit journal ---- */

static char *
journal_path(const struct run *run)
{
    return path_join(run->wals_dir, JOURNAL_NAME);
}

/* Name the files of jobs [from, to) that are about to be renamed into wals/, durably, before any rename. */
static int
journal_write(struct run *run, size_t from, size_t to, struct br_error *err)
{
    char *path = journal_path(run);
    FILE *fp = fs_fopen_private(path);
    int rc = -1;

    if (fp == NULL) {
        br_error_sys(err, BR_E_IO, "could not create file \"%s\"", path);
        goto out;
    }
    for (size_t i = from; i < to; i++) {
        const struct job *job = &run->slots[i % run->window];

        if ((job->result == RES_MOVE || job->result == RES_TMP) && fprintf(fp, "%s\n", job->name) < 0) {
            br_error_sys(err, BR_E_IO, "could not write file \"%s\"", path);
            goto out;
        }
    }
    fault_point("walarchive.journal.fsync");
    if (fflush(fp) != 0 || fsync(fileno(fp)) != 0) {
        br_error_sys(err, BR_E_IO, "could not fsync file \"%s\"", path);
        goto out;
    }
    rc = fs_fsync_path(run->wals_dir, 1, err);
out:
    if (fp != NULL)
        fclose(fp);
    free(path);
    return rc;
}

struct journal_names {
    struct name_list names;
    unsigned char *found;          /* names[i] has an xlog.db line */
};

static int
journal_mark_found(const struct xlogdb_entry *entry, void *arg)
{
    struct journal_names *jn = arg;

    for (size_t i = 0; i < jn->names.n; i++)
        if (strcmp(jn->names.names[i], entry->name) == 0)
            jn->found[i] = 1;
    return 0;
}

/*
 * A journal left by a crash: append the lines of its files that are in
 * wals/ without one, then remove it. Called with the xlogdb lock held.
 */
static int
journal_recover(struct run *run, struct br_error *err)
{
    char *path = journal_path(run);
    struct journal_names jn = {{0}, NULL};
    struct xlogdb_entry *entries = NULL;
    char line[JOURNAL_LINE_MAX];
    size_t n_entries = 0;
    FILE *fp = fopen(path, "re");
    int rc = -1;

    if (fp == NULL) {
        rc = errno == ENOENT ? 0 : br_error_sys(err, BR_E_IO, "could not open file \"%s\"", path);
        free(path);
        return rc;
    }
    while (fgets(line, sizeof(line), fp) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        /* a line torn by the crash names no file: skipped below */
        if (xlog_name_parse(line, &(struct xlog_name){0}) != XLOG_KIND_NONE)
            name_list_add(&jn.names, line);
    }
    jn.found = br_calloc(jn.names.n + 1, 1);
    if (jn.names.n > 0 && xlogdb_foreach(run->srv, NULL, journal_mark_found, &jn, err) != 0)
        goto out;
    entries = br_calloc(jn.names.n + 1, sizeof(*entries));
    for (size_t i = 0; i < jn.names.n; i++) {
        char *file = catalog_wal_file_path(run->srv, jn.names.names[i]);
        struct xlogdb_entry *e = &entries[n_entries];
        enum walfile_codec codec;
        struct stat st;
        int skip = jn.found[i] || stat(file, &st) != 0;     /* has its line, or was never renamed */

        if (!skip && walfile_identify(file, run->srv, 1, &codec, err) < 0) {
            free(file);
            goto out;
        }
        free(file);
        if (skip)
            continue;
        snprintf(e->name, sizeof(e->name), "%s", jn.names.names[i]);
        e->size = (int64_t) st.st_size;
        e->time = (double) st.st_mtim.tv_sec + (double) st.st_mtim.tv_nsec * 1e-9;
        snprintf(e->compression, sizeof(e->compression), "%s", walfile_codec_name(codec));
        br_log_info("Archiving of %s/%s was interrupted after the file was in place: adding its xlog.db line",
                    run->srv->name, e->name);
        n_entries++;
    }
    if (n_entries > 0 && xlogdb_append(run->srv, NULL, entries, n_entries, err) < 0)
        goto out;
    if (unlink(path) != 0 && errno != ENOENT) {
        br_error_sys(err, BR_E_IO, "could not remove file \"%s\"", path);
        goto out;
    }
    rc = 0;
out:
    fclose(fp);
    name_list_free(&jn.names);
    free(jn.found);
    free(entries);
    free(path);
    return rc;
}

/*
 * Commit jobs [from, to) in order, holding the xlogdb lock. On a failure,
 * what was already renamed still gets its fsyncs and its lines.
 */
static int
commit_group(struct run *run, size_t from, size_t to, struct br_error *err)
{
    struct catalog_lock *lock = NULL;
    struct xlogdb_entry *entries = br_calloc(to - from, sizeof(*entries));
    struct name_list dirs = {0}, unlinks = {0};
    size_t n_entries = 0;
    int rc = 0, src_dir_dirty = 0;
    struct br_error step_err;

    br_error_clear(&step_err);
    lock = catalog_lock_acquire(run->lock_dir, run->srv->name, "xlogdb", 1, err);
    if (lock == NULL) {
        free(entries);
        return -1;
    }
    if (journal_write(run, from, to, err) < 0) {
        catalog_lock_release(lock);
        free(entries);
        return -1;
    }
    for (size_t i = from; i < to && rc == 0; i++) {
        struct job *job = &run->slots[i % run->window];
        struct xlogdb_entry *e;
        struct stat st;

        output_info("\t%s", job->name);
        br_log_info("Archiving segment %zu of %zu from %s: %s/%s", i + 1, run->n_batch, run->arc->label,
                    run->srv->name, job->name);
        switch (job->result) {
        case RES_FAILED:
            step_err = job->err;
            rc = -1;
            continue;
        case RES_IDENTICAL:
            /* Barman: MatchingDuplicateWalFile, the source is simply removed */
            br_log_info("%s is already present in server %s with the same content: removing it", job->name,
                        run->srv->name);
            name_list_add(&unlinks, job->src_path);
            continue;
        case RES_DIFFERENT: {
            char *errors_name = br_asprintf("%s.%s.duplicate", job->name, run->stamp);
            char *dst = path_join(run->srv->errors_directory, errors_name);

            output_info("\tError: %s is already present in server %s. File moved to errors directory.", job->name,
                        run->srv->name);
            if (fs_mkdir_p(run->srv->errors_directory, 0700, &step_err) < 0
                || move_file(job->src_path, dst, &step_err) < 0)
                rc = -1;
            else
                src_dir_dirty = 1;
            free(errors_name);
            free(dst);
            continue;
        }
        case RES_TMP:
            fault_point("walarchive.rename_tmp");
            if (rename(job->tmp_path, job->dst_path) != 0) {
                rc = br_error_sys(&step_err, BR_E_IO, "could not rename \"%s\" to \"%s\"", job->tmp_path,
                                  job->dst_path);
                continue;
            }
            name_list_add(&unlinks, job->src_path);
            break;
        case RES_MOVE:
            fault_point("walarchive.rename_src");
            if (rename(job->src_path, job->dst_path) != 0) {
                rc = br_error_sys(&step_err, BR_E_IO, "could not rename \"%s\" to \"%s\"", job->src_path,
                                  job->dst_path);
                continue;
            }
            /* whoever wrote the source may never have fsynced it */
            src_dir_dirty = 1;
            if (fsync_file_path(job->dst_path, &step_err) < 0) {
                rc = -1;
                continue;
            }
            break;
        }
        dir_set_add(&dirs, job->dst_dir);
        e = &entries[n_entries++];
        snprintf(e->name, sizeof(e->name), "%s", job->name);
        e->size = stat(job->dst_path, &st) == 0 ? (int64_t) st.st_size : 0;
        /* Python's st_mtime: seconds + nanoseconds * 1e-9, as a double */
        e->time = (double) job->src_st.st_mtim.tv_sec + (double) job->src_st.st_mtim.tv_nsec * 1e-9;
        snprintf(e->compression, sizeof(e->compression), "%s",
                 job->src_codec != WALFILE_NONE ? walfile_codec_name(job->src_codec)
                 : run->codec != WALFILE_NONE && job->result == RES_TMP ? run->codec_name : "None");
    }
    /* the new names are durable before the sources go away, and both before the lines */
    for (size_t i = 0; i < dirs.n; i++)
        if (fs_fsync_path(dirs.names[i], 1, rc == 0 ? &step_err : err) < 0 && rc == 0)
            rc = -1;
    for (size_t i = 0; i < unlinks.n; i++) {
        fault_point("walarchive.unlink_src");
        if (unlink(unlinks.names[i]) != 0 && errno != ENOENT && rc == 0)
            rc = br_error_sys(&step_err, BR_E_IO, "could not remove file \"%s\"", unlinks.names[i]);
        src_dir_dirty = 1;
    }
    if (src_dir_dirty && fs_fsync_path(run->arc->dir, 1, rc == 0 ? &step_err : err) < 0 && rc == 0)
        rc = -1;
    if (n_entries > 0) {
        struct br_error append_err;

        if (xlogdb_append(run->srv, NULL, entries, n_entries, &append_err) < 0) {
            if (rc == 0) {
                step_err = append_err;
                rc = -1;
            }
            /* the journal stays: the next run adds the lines */
            goto unlock;
        }
    }
    {
        /* the lines are durable: the journal has served (a leftover would only be re-checked) */
        char *journal = journal_path(run);

        unlink(journal);
        free(journal);
    }
unlock:
    catalog_lock_release(lock);
    if (rc != 0)
        *err = step_err;
    name_list_free(&dirs);
    name_list_free(&unlinks);
    free(entries);
    return rc;
}

/* ---- one archiver ---- */

/*
 * Default pool size: one thread per online CPU plus one, so that a CPU is
 * not idle while a worker waits for the fsync of its compressed file
 * (~12 ms for 2 MB here). BARREL_ARCHIVE_WORKERS overrides it (benchmarks).
 */
static int
default_workers(void)
{
    const char *env = getenv("BARREL_ARCHIVE_WORKERS");
    long n;

    if (env != NULL && atoi(env) > 0)
        n = atoi(env);
    else
        n = sysconf(_SC_NPROCESSORS_ONLN) + 1;
    return n < 1 ? 1 : n > WALARCHIVE_MAX_WORKERS ? WALARCHIVE_MAX_WORKERS : (int) n;
}

/* Archive the batch with the pool; returns 0 or -1 (err). */
static int
archive_batch(struct run *run, struct br_error *err)
{
    pthread_t threads[WALARCHIVE_MAX_WORKERS];
    int n_threads = 0, rc = 0;
    size_t n_workers = (size_t) run->n_workers;

    if (n_workers > run->n_batch)
        n_workers = run->n_batch;
    run->window = n_workers * JOB_WINDOW_PER_WORKER;
    run->slots = br_calloc(run->window, sizeof(*run->slots));
    for (size_t i = 0; i < run->window; i++)
        run->slots[i].index = SIZE_MAX;
    run->next = run->committed = 0;
    run->stop = 0;
    pthread_mutex_init(&run->mu, NULL);
    pthread_cond_init(&run->cv, NULL);

    for (size_t i = 0; i < n_workers; i++) {
        if (pthread_create(&threads[n_threads], NULL, worker_main, run) != 0)
            break;
        n_threads++;
    }
    if (n_threads == 0) {
        rc = br_error_set(err, BR_E_INTERNAL, "could not start any archive-wal worker thread");
        goto out;
    }

    pthread_mutex_lock(&run->mu);
    while (run->committed < run->n_batch) {
        size_t from = run->committed, to = from;

        while (run->slots[from % run->window].index != from || run->slots[from % run->window].state != JOB_DONE)
            pthread_cond_wait(&run->cv, &run->mu);
        /* every consecutive finished job joins the group */
        while (to < run->n_batch && to < from + run->window && run->slots[to % run->window].index == to
               && run->slots[to % run->window].state == JOB_DONE)
            to++;
        pthread_mutex_unlock(&run->mu);

        rc = commit_group(run, from, to, err);

        pthread_mutex_lock(&run->mu);
        for (size_t i = from; i < to; i++) {
            struct job *job = &run->slots[i % run->window];

            /*
             * a failed group stops at its first failure: the prepared jobs
             * after it keep their .tmp files, which must not stay behind
             * taking space (a full disk is the likely failure); those that
             * were renamed have no .tmp any more
             */
            if (rc != 0 && job->result == RES_TMP)
                unlink(job->tmp_path);
            job_reset(job);
        }
        run->committed = to;
        if (rc != 0)
            run->stop = 1;
        pthread_cond_broadcast(&run->cv);
        if (rc != 0)
            break;
    }
    run->stop = 1;
    pthread_cond_broadcast(&run->cv);
    pthread_mutex_unlock(&run->mu);
out:
    for (int i = 0; i < n_threads; i++)
        pthread_join(threads[i], NULL);
    /* jobs prepared but never committed (after a failure): their .tmp files go */
    for (size_t i = 0; i < run->window; i++) {
        struct job *job = &run->slots[i];
        if (job->index != SIZE_MAX && job->state == JOB_DONE && job->result == RES_TMP)
            unlink(job->tmp_path);
        job_reset(job);
    }
    free(run->slots);
    run->slots = NULL;
    pthread_cond_destroy(&run->cv);
    pthread_mutex_destroy(&run->mu);
    return rc;
}

/* Move every "error" file to errors/<name>.<stamp>.unknown (Barman: after the loop). */
static int
move_unknown(struct run *run, const struct archiver *arc, const struct name_list *errors, struct br_error *err)
{
    if (errors->n == 0)
        return 0;
    output_info("Some unknown objects have been found while processing xlog segments for %s. "
                "Objects moved to errors directory:", run->srv->name);
    br_log_warning("Archiver is about to move %zu unexpected file(s) to errors directory for %s from %s", errors->n,
                   run->srv->name, arc->label);
    if (fs_mkdir_p(run->srv->errors_directory, 0700, err) < 0)
        return -1;
    for (size_t i = 0; i < errors->n; i++) {
        char *src = path_join(arc->dir, errors->names[i]);
        char *name = br_asprintf("%s.%s.unknown", errors->names[i], run->stamp);
        char *dst = path_join(run->srv->errors_directory, name);
        int rc;

        output_info("\t%s", errors->names[i]);
        br_log_warning("Moving unexpected file for %s from %s: %s", run->srv->name, arc->label, errors->names[i]);
        rc = move_file(src, dst, err);
        if (rc < 0 && err->sys_errno == ENOENT) {
            br_log_warning("%s not found", src);
            rc = 0;
        }
        free(src);
        free(name);
        free(dst);
        if (rc < 0)
            return -1;
    }
    return fs_fsync_path(arc->dir, 1, err);
}

static int
run_archiver(struct run *run, const struct archiver *arc, struct br_error *err)
{
    struct name_list files = {0}, errors = {0}, skip = {0};
    size_t run_size;
    int rc = -1;
    char header[512];

    if (list_dir(arc, &files, &errors, &skip, err) < 0)
        goto out;
    run_size = files.n;
    if (arc->batch_size > 0 && (size_t) arc->batch_size < run_size)
        run_size = (size_t) arc->batch_size;

    snprintf(header, sizeof(header), "Processing xlog segments from %s for %s", arc->label, run->srv->name);
    if (files.n == 0) {
        br_log_info("No xlog segments found from %s for %s.", arc->label, run->srv->name);
    } else if (files.n > run_size) {
        br_log_info("Found %zu xlog segments from %s for %s. Archive a batch of %zu segments in this run.", files.n,
                    arc->label, run->srv->name, run_size);
        snprintf(header + strlen(header), sizeof(header) - strlen(header), " (batch size: %zu)", run_size);
    } else {
        br_log_info("Found %zu xlog segments from %s for %s. Archive all segments in one run.", files.n, arc->label,
                    run->srv->name);
    }
    if (run->verbose || run_size > 0)
        output_info("%s", header);

    if (run_size > 0) {
        run->arc = arc;
        run->batch = files.names;
        run->n_batch = run_size;
        run->detect_source = !arc->is_streaming;
        if (archive_batch(run, err) < 0)
            goto out;
        br_log_debug("Archived %zu out of %zu xlog segments from %s for %s", run_size, files.n, arc->label,
                     run->srv->name);
    } else if (run->verbose) {
        output_info("\tno file found");
    }
    if (move_unknown(run, arc, &errors, err) < 0)
        goto out;
    rc = 0;
out:
    name_list_free(&files);
    name_list_free(&errors);
    name_list_free(&skip);
    return rc;
}

int
walarchive_run(const struct server_config *srv, const char *lock_dir, const struct walarchive_opts *opts,
               struct br_error *err)
{
    struct run run = {0};
    struct catalog_lock *lock;
    struct stat st;
    int rc = -1;

    if (walfile_codec_parse(srv->compression, &run.codec) < 0)
        return br_error_set(err, BR_E_CONFIG, "unsupported WAL compression '%s' for server '%s'", srv->compression,
                            srv->name);
    if (run.codec == WALFILE_CUSTOM && srv->custom_compression_filter == NULL)
        return br_error_set(err, BR_E_CONFIG, "custom WAL compression for server '%s' needs custom_compression_filter",
                            srv->name);

    lock = catalog_lock_acquire(lock_dir, srv->name, "archive-wal", 0, err);
    if (lock == NULL) {
        if (err->code != BR_E_LOCKED)
            return -1;
        br_error_clear(err);
        output_info("Another archive-wal process is already running on server %s. Skipping to the next server",
                    srv->name);
        return 0;
    }

    run.srv = srv;
    run.lock_dir = lock_dir;
    run.codec_name = srv->compression;
    run.wals_dir = br_strdup(srv->wals_directory);
    run.verbose = opts->verbose;
    run.n_workers = opts->workers > 0 ? (opts->workers > WALARCHIVE_MAX_WORKERS ? WALARCHIVE_MAX_WORKERS : opts->workers)
                                      : default_workers();
    utc_stamp(run.stamp);
    if (fs_mkdir_p(run.wals_dir, 0700, err) < 0)
        goto out;
    if (stat(run.wals_dir, &st) != 0) {
        br_error_sys(err, BR_E_IO, "could not stat directory \"%s\"", run.wals_dir);
        goto out;
    }
    run.wals_dev = st.st_dev;

    /* a commit interrupted by a crash: its files get their lines before anything else is archived */
    {
        struct catalog_lock *xlock = catalog_lock_acquire(lock_dir, srv->name, "xlogdb", 1, err);

        if (xlock == NULL)
            goto out;
        rc = journal_recover(&run, err);
        catalog_lock_release(xlock);
        if (rc < 0)
            goto out;
        rc = -1;
    }

    /* streaming first: the order of Barman's archivers list */
    if (srv->streaming_archiver) {
        struct archiver arc = {"streaming", srv->streaming_wals_directory, srv->streaming_archiver_batch_size, 1};
        if (run_archiver(&run, &arc, err) < 0)
            goto out;
    }
    if (srv->archiver) {
        struct archiver arc = {"file archival", srv->incoming_wals_directory, srv->archiver_batch_size, 0};
        if (run_archiver(&run, &arc, err) < 0)
            goto out;
    }
    rc = 0;
out:
    free(run.wals_dir);
    catalog_lock_release(lock);
    return rc;
}
