/*
 * walverify.c: verify-wal, deep verification of the WAL archive (see
 * walverify.h).
 *
 * Recipe: find the newest timeline in wals/ and read its history file into
 * the timeline path; list the hash directories and sort them by (log id,
 * timeline); then, one log id at a time, list the segments of every
 * timeline of that log id, sort them by position, and walk them: the main
 * thread decides continuity from the names alone and queues each segment
 * for the two workers, which decompress and check it. Results leave a ring
 * of WALVERIFY_SLOTS entries in submission order, so problems are reported
 * in segment order whatever worker finished first, and memory stays bounded.
 *
 * Invariant: a problem is reported once, as one line naming the segment (or
 * the first and last segment of a gap, or the history file).
 */
#include "barrel/build.h"
#include "barrel/walverify.h"
#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/fs.h"
#include "barrel/json.h"
#include "barrel/mem.h"
#include "barrel/strbuf.h"
#include "barrel/walcheck.h"
#include "barrel/walfile.h"
#include "barrel/xlog.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/time.h>

#define WALVERIFY_SLOTS 16              /* ring of queued segments: bounds memory and reorders results */
#define HISTORY_MAX_BYTES (1024 * 1024) /* a history file is one line per ancestor timeline */
#define WALVERIFY_MAX_WORKERS 16

/* ---- the timeline path ---- */

/* From segment start_segno on, timeline tli owns the WAL (until the next entry's start). */
struct tl_step {
    uint32_t tli;
    uint64_t start_segno;
};

struct tl_path {
    size_t n;
    struct tl_step *steps;    /* ascending start_segno; steps[0].start_segno = 0 */
};

static uint32_t
path_owner(const struct tl_path *p, uint64_t segno)
{
    for (size_t i = p->n; i > 0; i--)
        if (p->steps[i - 1].start_segno <= segno)
            return p->steps[i - 1].tli;
    return p->steps[0].tli;
}

/* ---- the ring of queued checks ---- */

enum slot_state { SLOT_FREE, SLOT_QUEUED, SLOT_RUNNING, SLOT_DONE };

struct slot {
    enum slot_state state;
    int is_check;                       /* 0: a note (gap line) already decided */
    char name[XLOG_NAME_LEN + 1];
    char *path;
    int failed;
    int64_t bytes;
    char msg[600];
};

struct wv {
    const struct server_config *srv;
    const struct walverify_options *opts;
    uint32_t seg_size;
    walverify_problem_fn problem;
    walverify_progress_fn progress;
    void *arg;
    struct walverify_result *res;

    pthread_mutex_t mu;
    pthread_cond_t cv_work;             /* a slot was queued, or stop */
    pthread_cond_t cv_done;             /* a slot is done */
    struct slot slots[WALVERIFY_SLOTS];
    uint64_t head;                      /* next slot to report */
    uint64_t tail;                      /* next slot to fill */
    uint64_t next_task;                 /* next slot a worker takes */
    int stop;
};

static void wv_problem(struct wv *w, const char *fmt, ...) BR_PRINTF(2, 3);

/* Report one problem (calling thread only). */
static void
wv_problem(struct wv *w, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    w->res->problems++;
    if (w->problem)
        w->problem(w->arg, msg);
}

static void *
worker_main(void *arg)
{
    struct wv *w = arg;

    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->stop && w->next_task == w->tail)
            pthread_cond_wait(&w->cv_work, &w->mu);
        if (w->next_task == w->tail)
            break;                                      /* stop, and nothing left */
        struct slot *s = &w->slots[w->next_task++ % WALVERIFY_SLOTS];
        if (s->state != SLOT_QUEUED)
            continue;                                   /* a note: already done */
        s->state = SLOT_RUNNING;
        pthread_mutex_unlock(&w->mu);

        struct br_error err;
        struct stat st;
        br_error_clear(&err);
        s->bytes = stat(s->path, &st) == 0 ? (int64_t) st.st_size : 0;
        s->failed = walcheck_segment(w->srv, s->path, s->name, w->opts->sysid, w->seg_size, &err) != 0;
        /* every line names the segment first, whatever layer found the damage */
        if (s->failed && strncmp(err.msg, "WAL segment ", 12) == 0)
            snprintf(s->msg, sizeof(s->msg), "%s", err.msg);
        else if (s->failed) {
            char name[XLOG_NAME_LEN + 1];
            memcpy(name, s->name, sizeof(name));
            snprintf(s->msg, sizeof(s->msg), "WAL segment %s is unreadable: %s", name, err.msg);
        }

        pthread_mutex_lock(&w->mu);
        s->state = SLOT_DONE;
        pthread_cond_broadcast(&w->cv_done);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Report finished slots in order; with `all`, wait for every queued slot, else until one slot is free. */
static void
ring_drain(struct wv *w, int all)
{
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->head < w->tail && w->slots[w->head % WALVERIFY_SLOTS].state == SLOT_DONE) {
            struct slot *s = &w->slots[w->head % WALVERIFY_SLOTS];
            pthread_mutex_unlock(&w->mu);
            /* the slot is ours until head moves past it */
            if (s->is_check) {
                w->res->segments++;
                w->res->bytes += s->bytes;
                if (s->failed) {
                    w->res->bad++;
                    wv_problem(w, "%s", s->msg);
                }
                if (w->progress)
                    w->progress(w->arg, w->res, s->name);
            } else
                wv_problem(w, "%s", s->msg);
            free(s->path);
            s->path = NULL;
            pthread_mutex_lock(&w->mu);
            s->state = SLOT_FREE;
            w->head++;
        }
        if (all ? w->head == w->tail : w->tail - w->head < WALVERIFY_SLOTS)
            break;
        pthread_cond_wait(&w->cv_done, &w->mu);
    }
    pthread_mutex_unlock(&w->mu);
}

/* Queue a check (path taken over) or a note (path NULL, msg = the problem). */
static void
ring_submit(struct wv *w, const char *name, char *path, const char *note)
{
    ring_drain(w, 0);
    pthread_mutex_lock(&w->mu);
    struct slot *s = &w->slots[w->tail % WALVERIFY_SLOTS];
    memset(s, 0, sizeof(*s));
    snprintf(s->name, sizeof(s->name), "%s", name);
    s->path = path;
    s->is_check = path != NULL;
    if (note != NULL)
        snprintf(s->msg, sizeof(s->msg), "%s", note);
    s->state = s->is_check ? SLOT_QUEUED : SLOT_DONE;
    w->tail++;
    pthread_cond_signal(&w->cv_work);
    pthread_mutex_unlock(&w->mu);
}

/* ---- history files ---- */

/* Read a (possibly compressed) history file into a new string; NULL with err. */
static char *
history_read(const struct server_config *srv, const char *path, struct br_error *err)
{
    enum walfile_codec codec;
    struct walfile_reader *r;
    struct strbuf sb;
    char buf[4096];
    ssize_t n;

    if (walfile_identify(path, srv, 1, &codec, err) != 0)
        return NULL;
    r = walfile_reader_open(path, codec, srv, err);
    if (r == NULL)
        return NULL;
    strbuf_init(&sb);
    while ((n = walfile_reader_read(r, buf, sizeof(buf), err)) > 0) {
        strbuf_append_len(&sb, buf, (size_t) n);
        if (sb.len > HISTORY_MAX_BYTES) {
            br_error_set(err, BR_E_FORMAT, "it is larger than %d bytes", HISTORY_MAX_BYTES);
            n = -1;
            break;
        }
    }
    if (n < 0) {
        walfile_reader_close(r, NULL);
        strbuf_free(&sb);
        return NULL;
    }
    if (walfile_reader_close(r, err) != 0) {
        strbuf_free(&sb);
        return NULL;
    }
    return strbuf_detach(&sb);
}

/*
 * The path to `target` from its history file (PostgreSQL's format: one
 * "parentTLI<tab>switchpoint<tab>reason" line per ancestor, oldest first,
 * '#' comments). A problem is reported and the path falls back to the
 * target alone, so that its own segments are still checked for gaps.
 */
static void
path_build(struct wv *w, uint32_t target, struct tl_path *p)
{
    char name[32], *path, *text;
    struct br_error err;
    int ok = 1;

    p->n = 0;
    p->steps = br_calloc(1, sizeof(*p->steps));
    if (target <= 1)
        goto fallback;
    snprintf(name, sizeof(name), "%08" PRIX32 ".history", target);
    path = path_join(w->srv->wals_directory, name);
    if (!path_exists(path)) {
        wv_problem(w, "timeline %" PRIu32 " has no history file %s in the archive: its ancestors cannot be followed",
                   target, name);
        free(path);
        goto fallback;
    }
    br_error_clear(&err);
    text = history_read(w->srv, path, &err);
    free(path);
    if (text == NULL) {
        wv_problem(w, "history file %s is unreadable: %s", name, err.msg);
        goto fallback;
    }
    {
        char *save = NULL, *line = strtok_r(text, "\n", &save);
        uint32_t prev_tli = 0;
        uint64_t prev_start = 0;
        int lineno = 0;

        for (; line != NULL && ok; line = strtok_r(NULL, "\n", &save)) {
            unsigned long tli;
            char lsn_text[32];
            uint64_t lsn;

            lineno++;
            while (*line == ' ' || *line == '\t')
                line++;
            if (*line == '\0' || *line == '#')
                continue;
            if (sscanf(line, "%lu %31s", &tli, lsn_text) != 2 || xlog_lsn_parse(lsn_text, &lsn) != 0 || tli == 0
                || tli <= prev_tli || tli >= target) {
                wv_problem(w, "history file %s: line %d does not parse", name, lineno);
                ok = 0;
                break;
            }
            uint64_t start = xlog_segno_of_lsn(lsn, w->seg_size);
            if (p->n > 0 && start < prev_start) {
                wv_problem(w, "history file %s: line %d goes back in the WAL", name, lineno);
                ok = 0;
                break;
            }
            /* timeline tli owns the WAL from the previous switch up to this one */
            p->steps = br_realloc(p->steps, (p->n + 2) * sizeof(*p->steps));
            p->steps[p->n].tli = (uint32_t) tli;
            p->steps[p->n].start_segno = prev_start;
            p->n++;
            prev_tli = (uint32_t) tli;
            prev_start = start;
        }
        free(text);
        if (ok) {
            p->steps = br_realloc(p->steps, (p->n + 1) * sizeof(*p->steps));
            p->steps[p->n].tli = target;
            p->steps[p->n].start_segno = prev_start;
            p->n++;
            return;
        }
        p->n = 0;
    }
fallback:
    p->steps[0].tli = target;
    p->steps[0].start_segno = 0;
    p->n = 1;
}

/* ---- scanning wals/ ---- */

struct hash_dir {
    uint32_t tli, log;
    char name[17];
};

struct seg_item {
    uint64_t segno;
    uint32_t tli;
    char name[XLOG_NAME_LEN + 1];
};

static int
hash_dir_cmp(const void *a, const void *b)
{
    const struct hash_dir *x = a, *y = b;
    if (x->log != y->log)
        return x->log < y->log ? -1 : 1;
    return x->tli < y->tli ? -1 : x->tli > y->tli;
}

static int
seg_item_cmp(const void *a, const void *b)
{
    const struct seg_item *x = a, *y = b;
    if (x->segno != y->segno)
        return x->segno < y->segno ? -1 : 1;
    return x->tli < y->tli ? -1 : x->tli > y->tli;
}

static int
is_hex(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'F')))
            return 0;
    return s[len] == '\0';
}

/* The hash directories of wals/ and the newest timeline seen (directories and history files). */
static int
scan_root(struct wv *w, struct hash_dir **dirs_out, size_t *n_out, uint32_t *max_tli, struct br_error *err)
{
    DIR *d = opendir(w->srv->wals_directory);
    struct dirent *de;
    struct hash_dir *dirs = NULL;
    size_t n = 0, cap = 0;

    *max_tli = 0;
    if (d == NULL) {
        if (errno == ENOENT) {
            *dirs_out = NULL;
            *n_out = 0;
            return 0;
        }
        return br_error_sys(err, BR_E_IO, "could not open directory \"%s\"", w->srv->wals_directory);
    }
    while ((de = readdir(d)) != NULL) {
        struct xlog_name xn;
        if (xlog_name_parse(de->d_name, &xn) == XLOG_KIND_HISTORY) {
            if (xn.tli > *max_tli)
                *max_tli = xn.tli;
            continue;
        }
        if (strlen(de->d_name) != 16 || !is_hex(de->d_name, 16))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            dirs = br_realloc(dirs, cap * sizeof(*dirs));
        }
        snprintf(dirs[n].name, sizeof(dirs[n].name), "%s", de->d_name);
        {
            char tli_hex[9];
            memcpy(tli_hex, de->d_name, 8);
            tli_hex[8] = '\0';
            dirs[n].tli = (uint32_t) strtoul(tli_hex, NULL, 16);
            dirs[n].log = (uint32_t) strtoul(de->d_name + 8, NULL, 16);
        }
        if (dirs[n].tli > *max_tli)
            *max_tli = dirs[n].tli;
        n++;
    }
    closedir(d);
    qsort(dirs, n, sizeof(*dirs), hash_dir_cmp);
    *dirs_out = dirs;
    *n_out = n;
    return 0;
}

/* The segments of the hash directories dirs[0..n) (one log id), sorted by position; NULL when none. */
static struct seg_item *
list_log(struct wv *w, const struct hash_dir *dirs, size_t n, size_t *count)
{
    struct seg_item *items = NULL;
    size_t len = 0, cap = 0;

    for (size_t i = 0; i < n; i++) {
        char *dpath = path_join(w->srv->wals_directory, dirs[i].name);
        DIR *d = opendir(dpath);
        struct dirent *de;

        if (d == NULL) {
            char note[600];
            snprintf(note, sizeof(note), "could not open directory \"%s\": %s", dpath, strerror(errno));
            ring_submit(w, dirs[i].name, NULL, note);
            free(dpath);
            continue;
        }
        while ((de = readdir(d)) != NULL) {
            struct xlog_name xn;
            char hash[17];

            /* .partial, .backup, temporary and foreign files are not segments of the sequence */
            if (xlog_name_parse(de->d_name, &xn) != XLOG_KIND_SEGMENT || strlen(de->d_name) != XLOG_NAME_LEN)
                continue;
            xlog_hash_dir(de->d_name, hash);
            if (strcmp(hash, dirs[i].name) != 0 || !is_hex(de->d_name, XLOG_NAME_LEN))
                continue;
            if (xn.seg >= xlog_segments_per_log(w->seg_size)) {
                char note[256];
                snprintf(note, sizeof(note), "WAL segment %s is not a valid name for %" PRIu32 "-byte segments",
                         de->d_name, w->seg_size);
                ring_submit(w, de->d_name, NULL, note);
                continue;
            }
            if (len == cap) {
                cap = cap ? cap * 2 : 256;
                items = br_realloc(items, cap * sizeof(*items));
            }
            items[len].segno = xlog_segno(xn.log, xn.seg, w->seg_size);
            items[len].tli = xn.tli;
            snprintf(items[len].name, sizeof(items[len].name), "%s", de->d_name);
            len++;
        }
        closedir(d);
        free(dpath);
    }
    qsort(items, len, sizeof(*items), seg_item_cmp);
    *count = len;
    return items;
}

/* Queue the report of missing segments first..last (positions on the path). */
static void
report_gap(struct wv *w, const struct tl_path *p, uint64_t first, uint64_t last)
{
    char a[XLOG_NAME_LEN + 1], b[XLOG_NAME_LEN + 1], note[256];

    xlog_segment_name(path_owner(p, first), first, w->seg_size, a);
    xlog_segment_name(path_owner(p, last), last, w->seg_size, b);
    if (first == last)
        snprintf(note, sizeof(note), "gap in the WAL archive: %s is missing", a);
    else
        snprintf(note, sizeof(note), "gap in the WAL archive: %s to %s are missing (%" PRIu64 " segments)", a, b,
                 last - first + 1);
    w->res->gaps++;
    w->res->missing += (int64_t) (last - first + 1);
    ring_submit(w, a, NULL, note);
}

static int
parse_position(const char *text, const char *option, uint64_t *segno, uint32_t seg_size, struct br_error *err)
{
    struct xlog_name xn;

    if (xlog_name_parse(text, &xn) != XLOG_KIND_SEGMENT || strlen(text) != XLOG_NAME_LEN
        || xn.seg >= xlog_segments_per_log(seg_size))
        return br_error_set(err, BR_E_USAGE, "%s: \"%s\" is not a WAL segment name", option, text);
    *segno = xlog_segno(xn.log, xn.seg, seg_size);
    return 0;
}

int
walverify_run(const struct server_config *srv, const struct walverify_options *opts, walverify_problem_fn problem,
              walverify_progress_fn progress, void *arg, struct walverify_result *result, struct br_error *err)
{
    struct wv w;
    struct tl_path tlp = {0, NULL};
    struct hash_dir *dirs = NULL;
    size_t n_dirs = 0;
    uint32_t max_tli;
    uint64_t from = 0, to = UINT64_MAX, next_expected = 0;
    int have_prev = 0, n_workers;
    pthread_t threads[WALVERIFY_MAX_WORKERS];
    struct timeval t0, t1;

    memset(result, 0, sizeof(*result));
    memset(&w, 0, sizeof(w));
    w.srv = srv;
    w.opts = opts;
    w.seg_size = opts->segment_size ? opts->segment_size : XLOG_DEFAULT_SEGMENT_SIZE;
    w.problem = problem;
    w.progress = progress;
    w.arg = arg;
    w.res = result;
    if (opts->from != NULL && parse_position(opts->from, "--from", &from, w.seg_size, err) != 0)
        return -1;
    if (opts->to != NULL && parse_position(opts->to, "--to", &to, w.seg_size, err) != 0)
        return -1;
    if (from > to)
        return br_error_set(err, BR_E_USAGE, "--from %s is after --to %s", opts->from, opts->to);
    gettimeofday(&t0, NULL);
    if (scan_root(&w, &dirs, &n_dirs, &max_tli, err) != 0)
        return -1;

    /* 1. the timeline path of the newest timeline */
    result->timeline = max_tli ? max_tli : 1;
    path_build(&w, result->timeline, &tlp);

    /* 2. the workers */
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv_work, NULL);
    pthread_cond_init(&w.cv_done, NULL);
    n_workers = opts->workers > 0 ? opts->workers : WALVERIFY_WORKERS;
    if (n_workers > WALVERIFY_MAX_WORKERS)
        n_workers = WALVERIFY_MAX_WORKERS;
    for (int i = 0; i < n_workers; i++)
        if (pthread_create(&threads[i], NULL, worker_main, &w) != 0) {
            n_workers = i;
            break;
        }
    if (n_workers == 0) {
        pthread_cond_destroy(&w.cv_done);
        pthread_cond_destroy(&w.cv_work);
        pthread_mutex_destroy(&w.mu);
        free(tlp.steps);
        free(dirs);
        return br_error_set(err, BR_E_INTERNAL, "could not start the verify-wal worker threads");
    }

    /* 3. one log id at a time, every timeline of it, in position order */
    for (size_t i = 0; i < n_dirs;) {
        size_t j = i, n_items = 0;
        while (j < n_dirs && dirs[j].log == dirs[i].log)
            j++;
        uint64_t log_first = xlog_segno(dirs[i].log, 0, w.seg_size);
        uint64_t log_last = log_first + xlog_segments_per_log(w.seg_size) - 1;
        if (log_last < from || log_first > to) {
            i = j;
            continue;
        }
        struct seg_item *items = list_log(&w, &dirs[i], j - i, &n_items);
        for (size_t k = 0; k < n_items; k++) {
            const struct seg_item *it = &items[k];
            if (it->segno < from || it->segno > to)
                continue;
            if (path_owner(&tlp, it->segno) == it->tli) {
                if (have_prev && it->segno > next_expected)
                    report_gap(&w, &tlp, next_expected, it->segno - 1);
                else if (!have_prev && opts->from != NULL && it->segno > from)
                    report_gap(&w, &tlp, from, it->segno - 1);
                if (!have_prev)
                    snprintf(result->first, sizeof(result->first), "%s", it->name);
                snprintf(result->last, sizeof(result->last), "%s", it->name);
                have_prev = 1;
                next_expected = it->segno + 1;
            } else
                result->off_path++;
            {
                char hash[17];
                xlog_hash_dir(it->name, hash);
                ring_submit(&w, it->name, br_asprintf("%s/%s/%s", w.srv->wals_directory, hash, it->name), NULL);
            }
        }
        free(items);
        i = j;
    }
    /* a --to beyond the last present segment, or a range with nothing in it */
    if (have_prev && opts->to != NULL && next_expected <= to)
        report_gap(&w, &tlp, next_expected, to);
    else if (!have_prev && opts->from != NULL && opts->to != NULL)
        report_gap(&w, &tlp, from, to);

    /* 4. wait for the last results, stop the workers */
    ring_drain(&w, 1);
    pthread_mutex_lock(&w.mu);
    w.stop = 1;
    pthread_cond_broadcast(&w.cv_work);
    pthread_mutex_unlock(&w.mu);
    for (int i = 0; i < n_workers; i++)
        pthread_join(threads[i], NULL);
    pthread_cond_destroy(&w.cv_done);
    pthread_cond_destroy(&w.cv_work);
    pthread_mutex_destroy(&w.mu);

    gettimeofday(&t1, NULL);
    result->seconds = (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_usec - t0.tv_usec) / 1e6;
    free(tlp.steps);
    free(dirs);
    return 0;
}

static char *
record_path(const struct server_config *srv)
{
    return br_asprintf("%s/barrel/verify/wal.json", srv->backup_directory);
}

int
walverify_record(const struct server_config *srv, const struct walverify_result *r, time_t when, struct br_error *err)
{
    char *path = record_path(srv);
    struct json *obj = json_object();
    int rc;

    json_object_set(obj, "verified_at", json_int((int64_t) when));
    json_object_set(obj, "result", json_string(r->problems == 0 ? "OK" : "FAILED"));
    json_object_set(obj, "problems", json_int(r->problems));
    json_object_set(obj, "gaps", json_int(r->gaps));
    json_object_set(obj, "missing", json_int(r->missing));
    json_object_set(obj, "bad", json_int(r->bad));
    json_object_set(obj, "segments", json_int(r->segments));
    json_object_set(obj, "bytes", json_int(r->bytes));
    json_object_set(obj, "timeline", json_int(r->timeline));
    json_object_set(obj, "first", json_string(r->first));
    json_object_set(obj, "last", json_string(r->last));
    json_object_set(obj, "seconds", json_double(r->seconds));
    rc = json_state_write(path, obj, err);
    json_free(obj);
    free(path);
    return rc;
}

static void
copy_string(const struct json *obj, const char *key, char *out, size_t len)
{
    const char *v = json_get_string(obj, key);
    snprintf(out, len, "%s", v ? v : "");
}

int
walverify_last(const struct server_config *srv, struct walverify_result *r, time_t *when, struct br_error *err)
{
    char *path = record_path(srv);
    struct json *obj = json_state_read(path, err);

    free(path);
    if (obj == NULL)
        return err->code == BR_E_OK ? 0 : -1;
    memset(r, 0, sizeof(*r));
    *when = (time_t) json_get_int(obj, "verified_at", 0);
    r->problems = json_get_int(obj, "problems", 0);
    r->gaps = json_get_int(obj, "gaps", 0);
    r->missing = json_get_int(obj, "missing", 0);
    r->bad = json_get_int(obj, "bad", 0);
    r->segments = json_get_int(obj, "segments", 0);
    r->bytes = json_get_int(obj, "bytes", 0);
    r->timeline = (uint32_t) json_get_int(obj, "timeline", 0);
    copy_string(obj, "first", r->first, sizeof(r->first));
    copy_string(obj, "last", r->last, sizeof(r->last));
    r->seconds = json_get_double(obj, "seconds", 0);
    json_free(obj);
    return 1;
}
