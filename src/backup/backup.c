/*
 * backup.c: `backup` for one server, as a recipe of named steps
 * (pgBackRest's cmdBackup): check, prepare the catalog, lock, start, copy,
 * stop, complete, wait for the WAL. Each step is a function; backup_run()
 * reads as the list of them.
 *
 * Failure rule: before base/<ID>/backup.info exists (checks, lock, a
 * catalog that cannot be written) nothing is left behind. After it exists,
 * any failure marks it FAILED with Barman's "failure <action> (<message>)"
 * and removes the archives of this backup (data/); no other backup, and no
 * WAL, is ever touched.
 */
#include "barrel/build.h"
#include "barrel/backup.h"
#include "backup_int.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "barrel/backup_check.h"
#include "barrel/backup_label.h"
#include "barrel/catalog.h"
#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/fmt.h"
#include "barrel/fs.h"
#include "barrel/log.h"
#include "barrel/mem.h"
#include "barrel/output.h"
#include "barrel/pgconn.h"
#include "barrel/pgmeta.h"
#include "barrel/retention.h"
#include "barrel/stage.h"
#include "barrel/timestamp.h"
#include "barrel/walarchive.h"
#include "barrel/xlog.h"

/* Two backups of a server in the same second would get the same ID: wait for the next second, this many times. */
#define BACKUP_ID_TRIES 3
#define BACKUP_DIR_MODE 0700
#define BACKUP_WAIT_POLL_MS 1000
/* pg_stat_archiver polling after BASE_BACKUP ... WAIT false */
#define BACKUP_ARCHIVED_POLL_MS 50
#define BACKUP_MANIFEST_CHECKSUMS "CRC32C"

/* ------------------------------------------------------------ signals */

static volatile sig_atomic_t backup_signal;

static void
on_signal(int signo)
{
    backup_signal = signo;
}

int
backup_signalled(void)
{
    return backup_signal != 0;
}

struct saved_signals {
    struct sigaction sigint, sigterm, sighup, sigpipe;
};

/*
 * No SA_RESTART: a signal interrupts poll() and nanosleep(), and the loops
 * look at the flag. A hang-up of the terminal fails the backup like SIGTERM;
 * SIGPIPE is ignored so that a closed stderr cannot kill a backup midway.
 */
static void
signals_install(struct saved_signals *saved)
{
    struct sigaction sa;

    backup_signal = 0;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &saved->sigint);
    sigaction(SIGTERM, &sa, &saved->sigterm);
    sigaction(SIGHUP, &sa, &saved->sighup);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, &saved->sigpipe);
}

static void
signals_restore(const struct saved_signals *saved)
{
    sigaction(SIGINT, &saved->sigint, NULL);
    sigaction(SIGTERM, &saved->sigterm, NULL);
    sigaction(SIGHUP, &saved->sighup, NULL);
    sigaction(SIGPIPE, &saved->sigpipe, NULL);
}

double
backup_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------ helpers */

static int
save(struct backup_ctx *cx, struct br_error *err)
{
    return backup_info_write(cx->bi, err);
}

/* Sizes of the files under dir: all, and those with one link (Barman's deduplicated_size). */
static int
tree_size(const char *dir, int64_t *size, int64_t *dedup, struct br_error *err)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int rc = 0;

    if (d == NULL)
        return br_error_sys(err, BR_E_IO, "could not open directory \"%s\"", dir);
    while (rc == 0 && (de = readdir(d)) != NULL) {
        struct stat st;
        char *path;

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        path = path_join(dir, de->d_name);
        if (lstat(path, &st) != 0)
            rc = br_error_sys(err, BR_E_IO, "could not stat file \"%s\"", path);
        else if (S_ISDIR(st.st_mode))
            rc = tree_size(path, size, dedup, err);
        else if (S_ISREG(st.st_mode)) {
            *size += st.st_size;
            if (st.st_nlink == 1)
                *dedup += st.st_size;
        }
        free(path);
    }
    closedir(d);
    return rc;
}

static void
pretty(double bytes, char *buf, size_t len)
{
    fmt_pretty_size(bytes, buf, len);
}

/* ------------------------------------------------------------ the steps */

/* backup_compression -> backup.info's compression and the file suffix; unset means zstd. */
static void
choose_compression(struct backup_ctx *cx)
{
    switch (cx->srv->backup_compression) {
    case BACKUP_COMPRESSION_GZIP: cx->compression = "gzip"; cx->ext = ".gz"; break;
    case BACKUP_COMPRESSION_LZ4: cx->compression = "lz4"; cx->ext = ".lz4"; break;
    case BACKUP_COMPRESSION_NONE: cx->compression = "none"; cx->ext = ""; break;
    case BACKUP_COMPRESSION_ZSTD:
    case BACKUP_COMPRESSION_UNSET:
    default: cx->compression = "zstd"; cx->ext = ".zst"; break;
    }
    cx->server_side = cx->srv->backup_compression_location == BACKUP_LOCATION_SERVER
                      && strcmp(cx->compression, "none") != 0;
}

/* The catalog's directories, and identity.json at the first backup (Barman writes it before locking). */
static int
step_prepare_catalog(struct backup_ctx *cx, struct br_error *err)
{
    const struct server_config *srv = cx->srv;
    /* catalog_backup_dir() knows basebackups_directory and its default */
    char *some_backup = catalog_backup_dir(srv, "x"), *base_dir = path_dirname(some_backup);
    char *stored = NULL, *version = NULL;
    int rc;

    free(some_backup);
    rc = fs_mkdir_p(srv->backup_directory, BACKUP_DIR_MODE, err);
    if (rc == 0)
        rc = fs_mkdir_p(base_dir, BACKUP_DIR_MODE, err);
    if (rc == 0 && srv->wals_directory != NULL)
        rc = fs_mkdir_p(srv->wals_directory, BACKUP_DIR_MODE, err);
    free(base_dir);
    if (rc != 0)
        return -1;
    rc = catalog_identity_read(srv, &stored, &version, err);
    free(stored);
    free(version);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        char major[16];

        snprintf(major, sizeof(major), "%d", pgconn_server_version_num(cx->pg) / 10000);
        return catalog_identity_write(srv, cx->systemid, major, err);
    }
    return 0;
}

static int
step_lock(struct backup_ctx *cx, struct br_error *err)
{
    struct br_error e;

    br_error_clear(&e);
    cx->lock = catalog_lock_acquire(cx->opts->lock_dir, cx->srv->name, "backup", 0, &e);
    if (cx->lock != NULL)
        return 0;
    if (e.code != BR_E_LOCKED) {
        *err = e;
        return -1;
    }
    br_error_set(err, BR_E_LOCKED, "Another backup process is running");
    br_error_detail(err, "%s", e.msg);
    return -1;
}

/* base/<ID>, backup.info EMPTY, then STARTED with what PostgreSQL says (Barman's start_backup). */
static int
step_start(struct backup_ctx *cx, struct br_error *err)
{
    const struct server_config *srv = cx->srv;
    struct backup_info *bi;
    struct pgmeta_position pos;
    char id[BACKUP_ID_LEN + 1], lsn[XLOG_LSN_BUFLEN];

    /* the ID is the local time; never reuse the directory of another backup */
    for (int attempt = 0;; attempt++) {
        struct timeval tv;

        gettimeofday(&tv, NULL);
        cx->start_wall = tv.tv_sec;
        cx->start_usec = (int64_t) tv.tv_sec * 1000000 + tv.tv_usec;
        backup_id_from_time(cx->start_wall, id);
        free(cx->backup_dir);
        cx->backup_dir = catalog_backup_dir(srv, id);
        if (!path_exists(cx->backup_dir))
            break;
        if (attempt + 1 >= BACKUP_ID_TRIES)
            return br_error_set(err, BR_E_STATE, "backup directory \"%s\" already exists", cx->backup_dir);
        sleep(1);
    }
    cx->start_mono = backup_now();
    if (mkdir(cx->backup_dir, BACKUP_DIR_MODE) != 0)
        return br_error_sys(err, BR_E_IO, "could not create directory \"%s\"", cx->backup_dir);
    cx->data_dir = path_join(cx->backup_dir, "data");

    bi = backup_info_new(id);
    bi->path = path_join(cx->backup_dir, "backup.info");
    bi->server_name = br_strdup(srv->name);
    bi->systemid = br_strdup(cx->systemid);
    bi->mode = br_strdup("postgres");
    bi->backup_name = br_strdup(cx->opts->name);
    if (backup_info_write(bi, err) != 0) {
        backup_info_free(bi);
        rmdir(cx->backup_dir);
        return -1;
    }
    /* from here on, a failure is recorded in backup.info */
    cx->bi = bi;
    output_info("Starting backup using postgres method for server %s in %s", srv->name, cx->backup_dir);

    cx->action = "initialising postgres backup_method";
    if (pgmeta_fill_backup_info(cx->pg, bi, err) != 0 || pgmeta_current_position(cx->pg, &pos, err) != 0)
        return -1;
    xlog_lsn_format(pos.lsn, lsn);
    bi->begin_time = pos.time;
    bi->begin_time_set = 1;
    bi->begin_xlog = br_strdup(lsn);
    bi->begin_wal = br_strdup(pos.file_name);
    bi->begin_offset = pos.file_offset;
    bi->timeline = pos.timeline;
    bi->status = BACKUP_STATUS_STARTED;
    if (save(cx, err) != 0)
        return -1;
    output_info("Backup start at LSN: %s (%s, %08" PRIX32 ")", lsn, pos.file_name, pos.file_offset);

    /* data/ for the archives; an empty <oid>/ per tablespace, as Barman 3.4 leaves them */
    if (mkdir(cx->data_dir, BACKUP_DIR_MODE) != 0)
        return br_error_sys(err, BR_E_IO, "could not create directory \"%s\"", cx->data_dir);
    for (size_t i = 0; i < bi->n_tablespaces; i++) {
        char name[16], *dir;

        snprintf(name, sizeof(name), "%" PRIu32, bi->tablespaces[i].oid);
        dir = path_join(cx->backup_dir, name);
        if (mkdir(dir, BACKUP_DIR_MODE) != 0 && errno != EEXIST) {
            br_error_sys(err, BR_E_IO, "could not create directory \"%s\"", dir);
            free(dir);
            return -1;
        }
        free(dir);
    }
    return 0;
}

/* BASE_BACKUP, every archive through its chain into data/, then the manifest. */
static int
step_copy(struct backup_ctx *cx, struct br_error *err)
{
    const struct server_config *srv = cx->srv;
    struct basebackup_options bo;
    struct basebackup_handler h;
    char label[128], took[64];
    int rc;

    cx->action = "copying files";
    output_info("Starting backup copy via the streaming replication protocol for %s", cx->bi->backup_id);
    memset(&bo, 0, sizeof(bo));
    snprintf(label, sizeof(label), "Barman backup %s %s", srv->name, cx->bi->backup_id);
    bo.label = label;
    bo.fast_checkpoint = cx->opts->immediate_checkpoint >= 0 ? cx->opts->immediate_checkpoint
                                                              : srv->immediate_checkpoint;
    bo.progress = 1;
    bo.manifest_checksums = BACKUP_MANIFEST_CHECKSUMS;
    bo.tablespace_map = 1;
    bo.max_rate_kbps = srv->bandwidth_limit > 0 ? srv->bandwidth_limit : 0;
    /* with archive_command, step_wait_archived() waits for the last segment instead of the server */
    bo.no_wait = srv->archiver;
    if (cx->server_side) {
        bo.compression = cx->compression;
        bo.compression_level = srv->backup_compression_level > 0 ? srv->backup_compression_level : 0;
        bo.compression_workers = strcmp(cx->compression, "zstd") == 0 && srv->backup_compression_workers > 0
                                     ? srv->backup_compression_workers : 0;
    }
    backup_handler_init(cx, &h);
    cx->copy_start_mono = backup_now();
    rc = basebackup_run(cx->repl, &bo, &h, &cx->res, err);
    cx->copy_end_mono = backup_now();
    backup_progress_end(cx);
    if (rc != 0)
        return -1;
    br_log_debug("backup %s: %zu archives, %" PRId64 " archive bytes, %" PRId64 " zero bytes added",
                 cx->bi->backup_id, cx->res.n_archives, cx->res.archive_bytes, cx->trailer_added);
    fmt_timedelta(cx->copy_end_mono - cx->copy_start_mono, took, sizeof(took));
    output_info("Copy done (time: %s)", took);
    return 0;
}

/* backup_label, end position, compression, copy_stats, restore point (Barman's stop_backup). */
static int
step_stop(struct backup_ctx *cx, struct br_error *err)
{
    struct backup_info *bi = cx->bi;
    struct pgmeta_position pos;
    double copy_time;

    cx->action = "reading the backup label";
    if (cx->server_side && backup_read_label_from_archive(cx, err) != 0)
        return -1;
    if (!cx->label_found)
        return br_error_set(err, BR_E_FORMAT, "could not find backup_label in base.tar");
    if (backup_label_apply(bi, cx->label.buf, err) != 0)
        return -1;
    if (cx->res.start_lsn != 0) {
        uint64_t label_lsn;

        if (xlog_lsn_parse(bi->begin_xlog, &label_lsn) == 0 && label_lsn != cx->res.start_lsn)
            return br_error_set(err, BR_E_PG, "backup_label says the backup began at %s, the server said otherwise",
                                bi->begin_xlog);
    }

    cx->action = "stopping postgres backup_method";
    output_info("Finalising the backup.");
    backup_label_set_end(bi, cx->res.end_lsn, cx->res.end_tli);
    if (pgmeta_current_position(cx->pg, &pos, err) != 0)
        return -1;
    bi->end_time = pos.time;
    bi->end_time_set = 1;
    free(bi->compression);
    bi->compression = br_strdup(cx->compression);
    /* Barman's postgres method: {'copy_time': X, 'total_time': X}, microsecond precision */
    copy_time = (double) (int64_t) ((cx->copy_end_mono - cx->copy_start_mono) * 1e6 + 0.5) / 1e6;
    bi->copy_time = copy_time;
    bi->total_time = copy_time;

    /* a named point to recover to, on the primary only (Barman's barman_<ID>) */
    if (!cx->in_recovery) {
        char name[32];

        snprintf(name, sizeof(name), "barman_%s", bi->backup_id);
        if (pgmeta_create_restore_point(cx->pg, name, err) != 0)
            return -1;
    }
    return 0;
}

/* ---- first backup: the WAL before it is of no use (spec 4.8, Barman's _purge_unused_wal_files) ---- */

struct purge_walk {
    struct retention_delete_plan plan;
    const char *server;
    int announced;
};

static int
purge_keep(const struct xlogdb_entry *entry, void *arg)
{
    const struct purge_walk *pw = arg;

    return retention_plan_keeps_wal(&pw->plan, entry->name);
}

static void
purge_removed(const char *name, void *arg)
{
    struct purge_walk *pw = arg;

    if (!pw->announced)
        output_info("WAL segments preceding the current backup have been found:");
    pw->announced = 1;
    output_info("\t%s from server %s has been removed", name, pw->server);
}

/* Every WAL file before the backup's begin_wal goes (history files stay), crash-safely (catalog_wal_remove). */
static int
purge_preceding_wal(struct backup_ctx *cx, struct br_error *err)
{
    struct purge_walk pw = {.server = cx->srv->name};

    if (cx->bi->begin_wal == NULL)
        return 0;
    retention_plan_first_backup(cx->bi->begin_wal, &pw.plan);
    return catalog_wal_remove(cx->srv, cx->opts->lock_dir, purge_keep, &pw, purge_removed, &pw, err);
}

/* Durable tree, sizes, WAITING_FOR_WALS (Barman's backup_fsync_and_set_sizes, then save). */
static int
step_complete(struct backup_ctx *cx, struct br_error *err)
{
    struct backup_info *bi = cx->bi;
    int64_t size = 0, dedup = 0;
    char text[64], start[64], elapsed[64];
    struct br_error e;
    struct catalog *cat;
    int first = 1;

    cx->action = "finalising the backup";
    if (fs_fsync_path(cx->data_dir, 1, err) != 0 || fs_fsync_path(cx->backup_dir, 1, err) != 0)
        return -1;
    br_error_clear(&e);
    cat = catalog_open(cx->srv, &e);
    for (size_t i = 0; cat != NULL && i < cat->n_backups; i++)
        if (strcmp(cat->backups[i]->backup_id, bi->backup_id) != 0
            && (cat->backups[i]->status == BACKUP_STATUS_DONE
                || cat->backups[i]->status == BACKUP_STATUS_WAITING_FOR_WALS))
            first = 0;
    catalog_free(cat);
    if (first) {
        output_info("This is the first backup for server %s", cx->srv->name);
        if (purge_preceding_wal(cx, err) != 0)
            return -1;
    }

    if (tree_size(cx->backup_dir, &size, &dedup, err) != 0)
        return -1;
    bi->size = size;
    bi->deduplicated_size = dedup;
    bi->status = BACKUP_STATUS_WAITING_FOR_WALS;
    if (save(cx, err) != 0)
        return -1;

    pretty((double) size, text, sizeof(text));
    output_info("Backup size: %s", text);
    output_info("Backup end at LSN: %s (%s, %08" PRIX64 ")", bi->end_xlog, bi->end_wal, bi->end_offset);
    {
        struct br_timestamp ts;

        /* the local wall-clock time the backup started, as Barman prints its copy_start_time */
        ts.epoch_usec = cx->start_usec;
        ts.has_tz = 0;
        ts.tz_offset_s = 0;
        br_timestamp_format(&ts, start, sizeof(start));
    }
    fmt_timedelta(backup_now() - cx->start_mono, elapsed, sizeof(elapsed));
    output_info("Backup completed (start time: %s, elapsed time: %s)", start, elapsed);
    return 0;
}

/*
 * What the server's BASE_BACKUP would have waited for (WAIT false was sent
 * when archive_command is in use): pg_stat_archiver's last archived WAL at
 * or past end_wal. The server polls once a second; this polls every
 * BACKUP_ARCHIVED_POLL_MS, mostly while step_complete's fsyncs have already
 * given the archiver its time. Like the server it waits as long as it takes,
 * with a warning each minute; a signal or a lost connection ends the wait
 * and leaves the rest to step_wait_for_wal (WAITING_FOR_WALS, not FAILED:
 * the data is complete).
 */
static void
step_wait_archived(struct backup_ctx *cx)
{
    const char *end_wal = cx->bi->end_wal;
    double start = backup_now(), next_warning = start + 60.0;

    if (!cx->srv->archiver || end_wal == NULL || strlen(end_wal) != 24)
        return;
    cx->action = "waiting for the WAL archive";
    for (;;) {
        struct timespec nap = {0, BACKUP_ARCHIVED_POLL_MS * 1000000L};
        struct br_error e;
        char *last = NULL;
        int done;

        br_error_clear(&e);
        if (pgconn_query_value(cx->pg, "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver", &last, &e)
            != 0) {
            br_log_warning("could not read pg_stat_archiver: %s", e.msg);
            return;
        }
        /* segment names sort in WAL order; a .backup or .partial name starts with its segment */
        done = strlen(last) >= 24 && strncmp(last, end_wal, 24) >= 0 && strspn(last, "0123456789ABCDEF") >= 24;
        free(last);
        if (done || backup_signalled())
            return;
        if (backup_now() >= next_warning) {
            output_warning("still waiting for the WAL file %s to be archived (%d seconds elapsed); check that "
                           "archive_command works", end_wal, (int) (backup_now() - start));
            next_warning += 60.0;
        }
        nanosleep(&nap, NULL);
    }
}

/*
 * Barman's wait: archive what incoming/ and streaming/ hold (archive-wal,
 * quietly), then check_backup; once, or until the WAL is there with --wait.
 * The check runs under the backup's own lock.
 */
static int
step_wait_for_wal(struct backup_ctx *cx, struct br_error *err)
{
    struct backup_info *bi = cx->bi;
    struct catalog_lock *lock;
    double deadline = backup_now() + cx->opts->wait_timeout_s;
    int rc = 0;

    cx->action = "checking the WAL";
    lock = catalog_lock_acquire(cx->opts->lock_dir, cx->srv->name, bi->backup_id, 1, err);
    if (lock == NULL)
        return -1;
    if (cx->opts->wait)
        output_info("Waiting for the WAL file %s from server '%s'", bi->end_wal, cx->srv->name);
    for (;;) {
        struct timespec nap = {BACKUP_WAIT_POLL_MS / 1000, (BACKUP_WAIT_POLL_MS % 1000) * 1000000L};
        struct walarchive_opts wo = {0, 0};
        struct br_error e;

        /* another archive-wal (cron) may hold its lock: then it does the work, and this is a no-op */
        br_error_clear(&e);
        if (walarchive_run(cx->srv, cx->opts->lock_dir, &wo, &e) != 0)
            br_log_warning("archive-wal for server %s: %s", cx->srv->name, e.msg);
        rc = backup_check(cx->srv, bi, err);
        if (rc != 0 || !cx->opts->wait || bi->status != BACKUP_STATUS_WAITING_FOR_WALS || backup_signalled())
            break;
        if (cx->opts->wait_timeout_s > 0 && backup_now() >= deadline) {
            output_info("The WAL file %s has not been received in %d seconds", bi->end_wal,
                        cx->opts->wait_timeout_s);
            break;
        }
        nanosleep(&nap, NULL);
    }
    catalog_lock_release(lock);
    if (rc != 0)
        return -1;
    if (bi->status == BACKUP_STATUS_WAITING_FOR_WALS && backup_signalled())
        return br_error_set(err, BR_E_INTERRUPTED, "interrupted while waiting for the WAL of backup %s of server "
                            "'%s', which stays WAITING_FOR_WALS", bi->backup_id, cx->srv->name);
    if (bi->status == BACKUP_STATUS_WAITING_FOR_WALS)
        output_warning("IMPORTANT: this backup is classified as WAITING_FOR_WALS, meaning that Barman has not "
                       "received yet all the required WAL files for the backup consistency.\n"
                       "This is a common behaviour in concurrent backup scenarios, and Barman automatically set "
                       "the backup as DONE once all the required WAL files have been archived.\n"
                       "Hint: execute the backup command with '--wait'");
    if (bi->status == BACKUP_STATUS_FAILED)
        return br_error_set(err, BR_E_STATE, "backup %s of server '%s' is FAILED: %s", bi->backup_id,
                            cx->srv->name, bi->error ? bi->error : "unknown error");
    return 0;
}

/* One line: what was read, what is stored, the ratio, the time and the throughput. */
static void
print_summary(struct backup_ctx *cx)
{
    char read[32], stored[32], rate[32], took[64];
    double secs = cx->copy_end_mono - cx->copy_start_mono;
    int64_t raw = cx->server_side ? cx->res.archive_bytes : cx->tar_bytes;
    int64_t size = 0, dedup = 0;
    struct br_error e;

    if (tree_size(cx->data_dir, &size, &dedup, &e) != 0)
        return;
    pretty((double) raw, read, sizeof(read));
    pretty((double) size, stored, sizeof(stored));
    pretty(secs > 0 ? (double) raw / secs : 0, rate, sizeof(rate));
    fmt_timedelta(secs, took, sizeof(took));
    if (cx->server_side)
        output_info("Backup %s: %s received compressed by the server (%s stored), copy time %s, %s/s",
                    cx->bi->backup_id, read, stored, took, rate);
    else
        output_info("Backup %s: %s read, %s stored (%s, ratio %.2f), copy time %s, %s/s", cx->bi->backup_id, read,
                    stored, cx->compression, size > 0 ? (double) raw / (double) size : 0.0, took, rate);
}

/* After backup.info exists: FAILED with Barman's error text, this backup's archives removed. */
static void
mark_failed(struct backup_ctx *cx, struct br_error *err)
{
    struct backup_info *bi = cx->bi;
    struct br_error e;
    char cause[sizeof(err->msg)];

    snprintf(cause, sizeof(cause), "%s", err->msg);
    br_error_clear(&e);
    if (cx->data_dir != NULL && fs_remove_tree(cx->data_dir, &e) != 0)
        br_log_warning("could not remove \"%s\": %s", cx->data_dir, e.msg);
    if (bi->status != BACKUP_STATUS_FAILED) {
        free(bi->error);
        bi->error = br_asprintf("failure %s (%s)", cx->action ? cx->action : "", cause);
        bi->status = BACKUP_STATUS_FAILED;
        br_error_clear(&e);
        if (backup_info_write(bi, &e) != 0)
            br_log_error("could not mark backup %s FAILED: %s", bi->backup_id, e.msg);
    }
    /* one line: what failed, where, why; backup.info holds the same */
    br_error_set(err, err->code, "backup %s of server '%s' failed %s: %s", bi->backup_id, cx->srv->name,
                 cx->action ? cx->action : "", cause);
}

int
backup_run(const struct server_config *srv, const struct backup_options *opts, char *backup_id,
           struct br_error *err)
{
    struct backup_ctx cx;
    struct saved_signals saved;
    int rc = -1;

    memset(&cx, 0, sizeof(cx));
    cx.srv = srv;
    cx.opts = opts;
    cx.progress = opts->progress;
    strbuf_init(&cx.label);
    strbuf_init(&cx.tablespace_map);
    choose_compression(&cx);
    if (backup_id != NULL)
        backup_id[0] = '\0';
    signals_install(&saved);

    /* the checks Barman runs before a backup: the failing one is named */
    if (backup_checks(&cx, err) != 0)
        goto out;
    /* catalog directories, identity.json at the first backup */
    if (step_prepare_catalog(&cx, err) != 0)
        goto out;
    /* one backup of a server at a time (Barman's lock file) */
    if (step_lock(&cx, err) != 0)
        goto out;
    /* backup.info EMPTY, then STARTED */
    if (step_start(&cx, err) != 0)
        goto failed;
    if (backup_id != NULL)
        snprintf(backup_id, BACKUP_ID_LEN + 1, "%s", cx.bi->backup_id);
    /* stream the archives and the manifest */
    if (step_copy(&cx, err) != 0)
        goto failed;
    /* backup_label, end position, restore point */
    if (step_stop(&cx, err) != 0)
        goto failed;
    /* sizes, WAITING_FOR_WALS */
    if (step_complete(&cx, err) != 0)
        goto failed;
    /* the server did not wait for the archive: wait here, faster */
    step_wait_archived(&cx);
    /* the connections are not needed to wait for WAL */
    pgconn_close(cx.repl);
    pgconn_close(cx.pg);
    cx.repl = cx.pg = NULL;
    print_summary(&cx);
    /* DONE once every WAL segment it needs is archived */
    rc = step_wait_for_wal(&cx, err);
    goto out;

failed:
    backup_progress_end(&cx);
    if (cx.bi != NULL) {
        if (backup_signalled() && err->code != BR_E_INTERRUPTED)
            br_error_set(err, BR_E_INTERRUPTED, "interrupted by signal %d", (int) backup_signal);
        mark_failed(&cx, err);
    }
out:
    signals_restore(&saved);
    pgconn_close(cx.repl);
    pgconn_close(cx.pg);
    catalog_lock_release(cx.lock);
    backup_info_free(cx.bi);
    basebackup_result_reset(&cx.res);
    strbuf_free(&cx.label);
    strbuf_free(&cx.tablespace_map);
    free(cx.backup_dir);
    free(cx.data_dir);
    return rc;
}
