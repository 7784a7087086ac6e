/*
 * cmd_delete.c: `delete SERVER_NAME BACKUP_ID [--dry-run]` (Barman 3.4's
 * cli.delete, Server.delete_backup and BackupManager.delete_backup), and
 * the one-backup delete that cron and `retention` share.
 *
 * Recipe of one delete (spec 7.6):
 *   1. refuse a running backup (the backup lock is busy and the target is
 *      the oldest backup, STARTED or EMPTY); take .<server>-<ID>.lock;
 *   2. finish what a crash interrupted (a WAL-removal journal, a half-removed
 *      backup directory);
 *   3. plan (retention_plan_delete()): keep annotation, minimum_redundancy,
 *      which WAL goes;
 *   4. mark the backup as being deleted (Barman >= 3.12's delete_this
 *      annotation), delete its data, remove its WAL (xlog.db first, then the
 *      files), remove base/<ID>;
 *   5. print Barman's lines; remove the per-backup lock file.
 * A crash anywhere leaves a catalog the next delete or cron finishes: a
 * marked backup is deleted again without refusals (its data may be gone).
 * --dry-run (barrel only) prints the plan and touches nothing, no lock file
 * included.
 */
#include "barrel/build.h"
#include "barrel/cmd.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <time.h>
#include <unistd.h>

#include "barrel/catalog.h"
#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/fmt.h"
#include "barrel/fs.h"
#include "barrel/log.h"
#include "barrel/mem.h"
#include "barrel/output.h"
#include "barrel/retention.h"
#include "barrel/strbuf.h"
#include "barrel/timestamp.h"
#include "barrel/xlog.h"
#include "barrel/pyliteral.h"

static const char *
lock_dir_of(const struct cmd_context *ctx)
{
    return ctx->cfg->barman_lock_directory ? ctx->cfg->barman_lock_directory : ctx->cfg->barman_home;
}

struct retention_backup *
cmd_retention_view(const struct catalog *cat)
{
    struct retention_backup *rb = br_calloc(cat->n_backups + 1, sizeof(*rb));

    for (size_t i = 0; i < cat->n_backups; i++) {
        const struct backup_info *bi = cat->backups[i];
        char *target = catalog_keep_get(cat->srv, bi->backup_id);

        rb[i].status = bi->status;
        rb[i].end_time_set = bi->end_time_set;
        rb[i].end_time_usec = bi->end_time.epoch_usec;
        rb[i].keep = retention_keep_from_target(target);
        rb[i].backup_id = bi->backup_id;
        rb[i].begin_wal = bi->begin_wal;
        rb[i].end_wal = bi->end_wal;
        rb[i].timeline = bi->timeline == BI_NULL_INT ? 0 : bi->timeline;
        free(target);
    }
    return rb;
}

/* ---- Python's repr() of a LocalBackupInfo, for "Cannot delete backup (pg ...)" ---- */

/* repr() of the datetime dateutil parses from a backup.info timestamp (Barman's load_datetime_tz) */
static void
repr_datetime(const char *text, struct strbuf *out)
{
    struct br_timestamp ts;
    struct tm tm;
    int usec;

    if (br_timestamp_parse(text, &ts) != 0) {
        pyl_repr_str(text, out);
        return;
    }
    br_timestamp_wallclock(&ts, &tm);
    usec = (int) (((ts.epoch_usec % 1000000) + 1000000) % 1000000);
    strbuf_appendf(out, "datetime.datetime(%d, %d, %d, %d, %d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                   tm.tm_hour, tm.tm_min);
    if (usec != 0)
        strbuf_appendf(out, ", %d, %d", tm.tm_sec, usec);
    else if (tm.tm_sec != 0)
        strbuf_appendf(out, ", %d", tm.tm_sec);
    /* naive -> tzlocal(); dateutil gives tzlocal() for +00:00 too when the local zone is UTC */
    tzset();
    if (!ts.has_tz || (ts.tz_offset_s == 0 && strcmp(tzname[0], "UTC") == 0))
        strbuf_append(out, ", tzinfo=tzlocal())");
    else if (ts.tz_offset_s == 0)
        strbuf_append(out, ", tzinfo=tzutc())");
    else
        strbuf_appendf(out, ", tzinfo=tzoffset(None, %d))", ts.tz_offset_s);
}

static int
is_int_key(const char *key)
{
    static const char *const keys[] = {"begin_offset", "deduplicated_size", "end_offset", "size", "timeline",
                                       "version", "xlog_segment_size"};

    for (size_t i = 0; i < BR_ARRAY_LEN(keys); i++)
        if (strcmp(key, keys[i]) == 0)
            return 1;
    return 0;
}

/* "LocalBackupInfo(key=repr, ...)": FieldListFile.__repr__ over the serialised (sorted) fields. */
static char *
backup_info_repr(const struct backup_info *bi)
{
    struct strbuf text, out;
    char *line, *save = NULL;
    int first = 1;

    strbuf_init(&text);
    strbuf_init(&out);
    backup_info_serialize(bi, &text);
    strbuf_append(&out, "LocalBackupInfo(");
    for (line = strtok_r(text.buf, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        const char *value;

        if (eq == NULL)
            continue;
        *eq = '\0';
        value = eq + 1;
        strbuf_appendf(&out, "%s%s=", first ? "" : ", ", line);
        first = 0;
        if (strcmp(value, "None") == 0 || (is_int_key(line) && value[0] != '\0'))
            strbuf_append(&out, value);
        else if (strcmp(line, "begin_time") == 0 || strcmp(line, "end_time") == 0)
            repr_datetime(value, &out);
        else
            pyl_repr_str(value, &out);
    }
    strbuf_append(&out, ")");
    strbuf_free(&text);
    return strbuf_detach(&out);
}

/* ---- WAL removal ---- */

struct wal_walk {
    const struct retention_delete_plan *plan;
    const struct server_config *srv;
    const char *prog;
    const struct retention_delete_plan *const *earlier;   /* dry runs of a sequence: already listed there */
    size_t n_earlier;
};

static int
wal_keep(const struct xlogdb_entry *entry, void *arg)
{
    const struct wal_walk *ww = arg;
    struct xlog_name xn;

    if (xlog_name_parse(entry->name, &xn) == XLOG_KIND_NONE) {
        /* Barman drops such a line and leaves the file; barrel keeps both */
        output_error("invalid WAL segment name '%s'\nHINT: Please run \"%s rebuild-xlogdb %s\" to solve this issue",
                     entry->name, ww->prog, ww->srv->name);
        return 1;
    }
    return retention_plan_keeps_wal(ww->plan, entry->name);
}

static void
wal_removed(const char *name, void *arg)
{
    (void) arg;
    output_info("\t%s", name);
}

/* dry run: print what the plan would remove, leaving out what an earlier plan of the sequence removes */
static int
wal_list(const struct xlogdb_entry *entry, void *arg)
{
    const struct wal_walk *ww = arg;

    if (retention_plan_keeps_wal(ww->plan, entry->name))
        return 0;
    for (size_t i = 0; i < ww->n_earlier; i++)
        if (!retention_plan_keeps_wal(ww->earlier[i], entry->name))
            return 0;
    output_info("\t%s", entry->name);
    return 0;
}

int
cmd_retention_list_wal(const struct cmd_context *ctx, const struct server_config *srv,
                       const struct retention_delete_plan *plan, const struct retention_delete_plan *const *earlier,
                       size_t n_earlier, struct br_error *err)
{
    struct wal_walk ww = {plan, srv, ctx->prog, earlier, n_earlier};

    return xlogdb_foreach(srv, lock_dir_of(ctx), wal_list, &ww, err);
}

void
cmd_retention_explain_no_wal(const struct retention_delete_plan *plan, const struct retention_backup *backups)
{
    switch (plan->no_wal) {
    case RETENTION_NO_WAL_PREVIOUS:
        output_info("No WAL segment goes: the older backup %s needs every WAL from its start to now",
                    backups[plan->blocker].backup_id);
        break;
    case RETENTION_NO_WAL_STANDALONE_MANUAL:
        output_info("No WAL segment goes: the older backup %s is KEEP:STANDALONE (a manual delete keeps its WAL; "
                    "retention would keep only its own range)", backups[plan->blocker].backup_id);
        break;
    case RETENTION_NO_WAL_NONE:
        break;
    }
}

/* ---- one delete ---- */

static void
now_ctime(char *buf, size_t len)
{
    time_t now = time(NULL);
    struct tm tm;

    localtime_r(&now, &tm);
    fmt_ctime(&tm, buf, len);
}

static double
now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* Barman's refusal messages (warnings: cron goes on with the next backup) */
static void
report_refusal(const struct server_config *srv, const struct backup_info *bi, const struct retention_delete_plan *plan)
{
    if (plan->refusal == RETENTION_REFUSE_KEEP)
        output_warning("Skipping delete of backup %s for server %s as it has a current keep request. If you really "
                       "want to delete this backup please remove the keep and try again.",
                       bi->backup_id, srv->name);
    else
        output_warning("Skipping delete of backup %s for server %s due to minimum redundancy requirements "
                       "(minimum redundancy = %d, current redundancy = %d)",
                       bi->backup_id, srv->name, srv->minimum_redundancy, plan->done_count);
}

/* Steps 3-5 under the per-backup lock. */
static int
delete_locked(const struct cmd_context *ctx, const struct server_config *srv, const char *backup_id,
              enum retention_delete_mode mode, int dry_run, struct br_error *err)
{
    const char *lock_dir = lock_dir_of(ctx);
    struct retention_delete_plan plan = {0};
    struct retention_backup *rb = NULL;
    struct catalog *cat = NULL;
    const struct backup_info *bi = NULL;
    size_t target = 0;
    char start[64], elapsed[64];
    double t0;
    int resumed, marked, rc = -1;

    /* a crash may have left a journal or a half-removed directory: finish them first */
    if (!dry_run && (catalog_wal_remove_recover(srv, lock_dir, err) != 0 || catalog_delete_recover(srv, err) != 0))
        goto out;
    cat = catalog_open(srv, err);
    if (cat == NULL)
        goto out;
    for (target = 0; target < cat->n_backups; target++)
        if (strcmp(cat->backups[target]->backup_id, backup_id) == 0)
            break;
    if (target == cat->n_backups) {
        br_error_set(err, BR_E_NOT_FOUND, "Unknown backup '%s' for server '%s'", backup_id, srv->name);
        goto out;
    }
    bi = cat->backups[target];
    rb = cmd_retention_view(cat);
    resumed = catalog_delete_marker_exists(srv, backup_id);
    if (resumed)
        rb[target].keep = RETENTION_KEEP_NONE;    /* decided when it started; its data may be gone */

    /* 3. the plan: refusals, then which WAL goes */
    retention_plan_delete(rb, cat->n_backups, target, resumed ? 0 : srv->minimum_redundancy,
                          (srv->backup_options & BACKUP_OPT_CONCURRENT) != 0, mode, &plan);
    if (plan.refusal != RETENTION_REFUSE_NONE) {
        report_refusal(srv, bi, &plan);
        rc = 0;
        goto out;
    }
    now_ctime(start, sizeof(start));
    t0 = now_seconds();

    if (dry_run) {
        output_info("Dry run: would delete backup %s for server %s", backup_id, srv->name);
        if (plan.remove_wals) {
            output_info("Dry run: would delete associated WAL segments:");
            if (cmd_retention_list_wal(ctx, srv, &plan, NULL, 0, err) != 0)
                goto out;
        } else {
            cmd_retention_explain_no_wal(&plan, rb);
        }
        rc = 1;
        goto out;
    }

    /* 4. mark, data, WAL, directory */
    if (resumed)
        output_info("Resuming the interrupted delete of backup %s for server %s", backup_id, srv->name);
    output_info("Deleting backup %s for server %s", backup_id, srv->name);
    marked = catalog_delete_marker_set(srv, backup_id, err);
    if (marked < 0)
        goto out;
    if (catalog_backup_delete_data(srv, bi, err) != 0) {
        output_error("Failure deleting backup %s for server %s.\n%s", backup_id, srv->name, err->msg);
        br_error_clear(err);
        rc = 0;
        goto out;
    }
    /* the marker went in empty for want of space: its text now that the data is gone (Barman reads it) */
    if (marked > 0) {
        struct br_error ignored;

        br_error_clear(&ignored);
        if (catalog_delete_marker_set(srv, backup_id, &ignored) != 0)
            br_log_warning("the delete marker of backup %s stays empty: %s", backup_id,
                           ignored.msg[0] != '\0' ? ignored.msg : "still no space");
    }
    if (plan.remove_wals) {
        struct wal_walk ww = {&plan, srv, ctx->prog, NULL, 0};

        output_info("Delete associated WAL segments:");
        if (catalog_wal_remove(srv, lock_dir, wal_keep, &ww, wal_removed, NULL, err) != 0)
            goto out;
    }
    if (catalog_backup_remove(srv, backup_id, err) != 0) {
        char *dir = catalog_backup_dir(srv, backup_id);

        output_error("Failure deleting backup %s for server %s.\n%s\nPlease manually remove the '%s' directory",
                     backup_id, srv->name, err->msg, dir);
        free(dir);
        br_error_clear(err);
        rc = 0;
        goto out;
    }
    fmt_timedelta(now_seconds() - t0, elapsed, sizeof(elapsed));
    output_info("Deleted backup %s (start time: %s, elapsed time: %s)", backup_id, start, elapsed);
    rc = 1;
out:
    retention_delete_plan_reset(&plan);
    free(rb);
    catalog_free(cat);
    return rc;
}

/* .<server>-<suffix>.lock in the lock directory */
static void
unlink_lock_file(const char *lock_dir, const char *server, const char *suffix)
{
    char *path = br_asprintf("%s/.%s-%s.lock", lock_dir, server, suffix);

    if (unlink(path) == 0) {
        struct br_error e;

        br_error_clear(&e);
        fs_fsync_parent(path, &e);
    }
    free(path);
}

int
cmd_delete_backup(const struct cmd_context *ctx, const struct server_config *srv, const char *backup_id, int mode,
                  int dry_run, struct br_error *err)
{
    const char *lock_dir = lock_dir_of(ctx);
    struct catalog_lock *lock = NULL;
    long holder;
    int rc;

    /* 1. a running backup: Barman refuses the oldest backup while it is STARTED or EMPTY */
    holder = catalog_lock_holder(lock_dir, srv->name, "backup", err);
    if (holder < 0 && err->code != BR_E_LOCKED)
        return -1;
    br_error_clear(err);
    if (holder != 0) {
        struct catalog *cat = catalog_open(srv, err);

        if (cat == NULL)
            return -1;
        if (cat->n_backups > 0 && strcmp(cat->backups[0]->backup_id, backup_id) == 0
            && (cat->backups[0]->status == BACKUP_STATUS_STARTED || cat->backups[0]->status == BACKUP_STATUS_EMPTY)) {
            output_error("Cannot delete a running backup (%s %s)", srv->name, backup_id);
            catalog_free(cat);
            return 0;
        }
        catalog_free(cat);
    }
    /* only one process changes a backup at a time (a dry run changes nothing and leaves no lock file) */
    if (!dry_run) {
        lock = catalog_lock_acquire(lock_dir, srv->name, backup_id, 0, err);
        if (lock == NULL) {
            if (err->code != BR_E_LOCKED)
                return -1;
            br_error_clear(err);
            output_error("Another process is holding the lock for backup %s of server %s.", backup_id, srv->name);
            return 0;
        }
    }
    rc = delete_locked(ctx, srv, backup_id, (enum retention_delete_mode) mode, dry_run, err);
    catalog_lock_release(lock);
    if (rc == 1 && !dry_run) {
        /* as Barman: the per-backup lock file goes with the backup, and a passive node's sync lock too */
        char *sync = br_asprintf("%s-sync-backup", backup_id);

        unlink_lock_file(lock_dir, srv->name, backup_id);
        unlink_lock_file(lock_dir, srv->name, sync);
        free(sync);
    }
    return rc;
}

int
cmd_delete(struct cmd_context *ctx, int argc, char **argv, struct br_error *err)
{
    static const struct option longopts[] = {
        {"dry-run", no_argument, NULL, 'n'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
    };
    const struct server_config *srv;
    struct catalog *cat = NULL;
    const struct backup_info *bi;
    char id[BACKUP_ID_LEN + 1];
    int dry_run = 0, c, rc = -1, done;

    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'h') {
            cmd_print_help(cmd_find("delete"),
                           "  --dry-run             Print what would be deleted (the backup and its WAL\n"
                           "                        segments) and why, and change nothing (barrel only)\n");
            return 0;
        }
        if (c == 'n') {
            dry_run = 1;
            continue;
        }
        return br_error_set(err, BR_E_USAGE, "unrecognized arguments: %s", argv[optind - 1]);
    }
    if (argc - optind < 2)
        return br_error_set(err, BR_E_USAGE, "the following arguments are required: %s",
                            argc - optind == 0 ? "server_name, backup_id" : "backup_id");
    if (argc - optind > 2)
        return br_error_set(err, BR_E_USAGE, "unrecognized arguments: %s", argv[optind + 2]);

    srv = cmd_single_server(ctx, &argv[optind]);
    if (srv == NULL)
        return 0;
    cat = catalog_open(srv, err);
    if (cat == NULL)
        goto out;
    bi = catalog_resolve(cat, argv[optind + 1], err);
    if (bi == NULL)
        goto out;
    snprintf(id, sizeof(id), "%s", bi->backup_id);

    done = cmd_delete_backup(ctx, srv, id, RETENTION_DELETE_MANUAL, dry_run, err);
    if (done < 0)
        goto out;
    if (done == 0) {
        char *repr = backup_info_repr(bi);

        output_error("Cannot delete backup (%s %s)", srv->name, repr);
        free(repr);
    }
    rc = 0;
out:
    catalog_free(cat);
    return rc;
}
