/*
 * restore_pool.c: a small pthread pool for recover (`--jobs N`).
 *
 * Units (an archive, a plain tree, a WAL file) are handed out in order
 * through one atomic index; each worker builds its own stage chain per
 * unit, so the only state they share is the index, the progress counters
 * and the abort flag (restore_int.h). The calling thread waits and prints
 * progress, pg_basebackup style: at most once a second, "\r" on a
 * terminal, a final newline.
 */
#include "barrel/build.h"
#include "restore_int.h"

#include "barrel/error.h"
#include "barrel/fmt.h"
#include "barrel/mem.h"

#include <inttypes.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

struct pool {
    struct rctx *cx;
    size_t n_units;
    atomic_size_t next;
    restore_unit_fn fn;
    void *arg;
    pthread_mutex_t lock;
    int failed;
    struct br_error first_err;
    atomic_int running;
};

struct worker {
    struct pool *pool;
    int idx;
};

static void *
worker_main(void *p)
{
    struct worker *w = p;
    struct pool *pool = w->pool;
    struct br_error err;

    br_error_clear(&err);
    for (;;) {
        size_t unit = atomic_fetch_add(&pool->next, 1);
        if (unit >= pool->n_units || atomic_load(&pool->cx->shared.abort))
            break;
        if (pool->fn(pool->arg, unit, w->idx, &err) != 0) {
            pthread_mutex_lock(&pool->lock);
            /* the first real failure wins over the "stopped" of the others */
            if (!pool->failed || (pool->first_err.code == BR_E_INTERRUPTED && err.code != BR_E_INTERRUPTED)) {
                pool->first_err = err;
                pool->failed = 1;
            }
            pthread_mutex_unlock(&pool->lock);
            atomic_store(&pool->cx->shared.abort, 1);
            break;
        }
    }
    atomic_fetch_sub(&pool->running, 1);
    return NULL;
}

static void
print_progress(struct rctx *cx, const char *what, int final)
{
    char done[32], total[32];
    int64_t bytes = (int64_t) atomic_load(&cx->shared.bytes);

    fmt_pretty_size((double) bytes, done, sizeof(done));
    if (cx->total_bytes > 0 && bytes <= cx->total_bytes) {
        fmt_pretty_size((double) cx->total_bytes, total, sizeof(total));
        fprintf(stderr, "\r%s: %s of %s (%d%%), %" PRId64 " files   ", what, done, total,
                (int) (bytes * 100 / cx->total_bytes), (int64_t) atomic_load(&cx->shared.files));
    } else {
        fprintf(stderr, "\r%s: %s, %" PRId64 " files   ", what, done, (int64_t) atomic_load(&cx->shared.files));
    }
    if (final)
        fputc('\n', stderr);
    fflush(stderr);
}

int
restore_pool_run(struct rctx *cx, size_t n_units, int jobs, restore_unit_fn fn, void *arg, const char *what,
                 struct br_error *err)
{
    struct pool pool;
    pthread_t threads[RESTORE_MAX_JOBS];
    struct worker workers[RESTORE_MAX_JOBS];
    int started = 0;

    if (n_units == 0)
        return 0;
    if (jobs < 1)
        jobs = 1;
    if (jobs > RESTORE_MAX_JOBS)
        jobs = RESTORE_MAX_JOBS;
    if ((size_t) jobs > n_units)
        jobs = (int) n_units;
    memset(&pool, 0, sizeof(pool));
    pool.cx = cx;
    pool.n_units = n_units;
    pool.fn = fn;
    pool.arg = arg;
    atomic_init(&pool.next, 0);
    atomic_init(&pool.running, jobs);
    pthread_mutex_init(&pool.lock, NULL);
    br_error_clear(&pool.first_err);

    for (int i = 0; i < jobs; i++) {
        workers[i].pool = &pool;
        workers[i].idx = i;
        if (pthread_create(&threads[i], NULL, worker_main, &workers[i]) != 0) {
            atomic_fetch_sub(&pool.running, jobs - i);
            atomic_store(&cx->shared.abort, 1);
            if (!pool.failed) {
                br_error_set(&pool.first_err, BR_E_INTERNAL, "could not start a restore worker thread");
                pool.failed = 1;
            }
            break;
        }
        started++;
    }
    if (cx->o->progress) {
        struct timespec tick = {0, 100 * 1000 * 1000};
        int ticks = 0;
        while (atomic_load(&pool.running) > 0) {
            nanosleep(&tick, NULL);
            if (++ticks % 10 == 0)
                print_progress(cx, what, 0);
        }
        print_progress(cx, what, 1);
    }
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    pthread_mutex_destroy(&pool.lock);
    if (pool.failed) {
        *err = pool.first_err;
        return -1;
    }
    return 0;
}
