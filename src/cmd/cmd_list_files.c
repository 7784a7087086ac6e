/*
 * cmd_list_files.c: `list-files [--target standalone|data|wal|full]
 * SERVER_NAME BACKUP_ID`, Barman 3.4's LocalBackupInfo.get_list_of_files():
 * one absolute path per line.
 *
 *   data        every file under base/<ID>/, as os.walk() visits them:
 *               top-down, directories in readdir order, the files of each
 *               directory sorted, symlinked directories not entered;
 *   standalone  data + the segment names begin_wal..end_wal (computed, not
 *               checked on disk);
 *   wal         the xlog.db entries of get_wal_until_next_backup() with the
 *               .history files (backup_stats_foreach_wal());
 *   full        data + wal.
 *
 * Lines are printed as they are found (streaming). In JSON mode they go to
 * the "_INFO" list, as Barman's output.info() puts them.
 */
#include "barrel/build.h"
#include "barrel/cmd.h"
#include "barrel/backup_stats.h"
#include "barrel/catalog.h"
#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/json.h"
#include "barrel/mem.h"
#include "barrel/output.h"
#include "barrel/strbuf.h"
#include "barrel/xlog.h"

#include <dirent.h>
#include <getopt.h>
#include <inttypes.h>
#include <sys/stat.h>

enum list_target { TARGET_STANDALONE, TARGET_DATA, TARGET_WAL, TARGET_FULL };

static const char *const target_names[] = {"standalone", "data", "wal", "full"};

struct list_files_ctx {
    const struct server_config *srv;
    struct json *info;           /* JSON mode: the "_INFO" list (borrowed from the output root) */
};

/* Barman: output.info(line, log=False). */
static void
emit_path(struct list_files_ctx *lf, const char *path)
{
    if (lf->info != NULL)
        json_array_add(lf->info, json_string(path));
    else if (!output_quiet())
        output_text("%s\n", path);
}

/* ---- data: os.walk() ---- */

struct name_list {
    size_t n, cap;
    char **names;
};

static void
name_list_add(struct name_list *l, const char *name)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 32;
        l->names = br_realloc(l->names, l->cap * sizeof(*l->names));
    }
    l->names[l->n++] = br_strdup(name);
}

static void
name_list_reset(struct name_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->names[i]);
    free(l->names);
    memset(l, 0, sizeof(*l));
}

/* Python sorts str by code point; strcmp on UTF-8 gives the same order. */
static int
name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * One directory of os.walk(top, followlinks=False): its files (sorted), then
 * each subdirectory in readdir order. Like os.walk, an unreadable directory
 * is silently skipped. Memory: the names of one directory per level.
 */
static void
walk_dir(struct list_files_ctx *lf, const char *dir)
{
    struct name_list files = {0}, dirs = {0};
    DIR *dp = opendir(dir);
    struct dirent *de;

    if (dp == NULL)
        return;
    while ((de = readdir(dp)) != NULL) {
        char *path;
        struct stat st;

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        path = br_asprintf("%s/%s", dir, de->d_name);
        /* entry.is_dir() follows symlinks */
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            name_list_add(&dirs, de->d_name);
        else
            name_list_add(&files, de->d_name);
        free(path);
    }
    closedir(dp);

    if (files.n > 1)
        qsort(files.names, files.n, sizeof(*files.names), name_cmp);
    for (size_t i = 0; i < files.n; i++) {
        char *path = br_asprintf("%s/%s", dir, files.names[i]);
        emit_path(lf, path);
        free(path);
    }
    name_list_reset(&files);

    for (size_t i = 0; i < dirs.n; i++) {
        char *path = br_asprintf("%s/%s", dir, dirs.names[i]);
        struct stat st;

        /* followlinks=False: a symlink to a directory is listed nowhere */
        if (lstat(path, &st) == 0 && !S_ISLNK(st.st_mode))
            walk_dir(lf, path);
        free(path);
    }
    name_list_reset(&dirs);
}

/* ---- standalone: the required segments ---- */

/*
 * xlog.generate_segment_names(begin_wal, end_wal, version, segment_size):
 * the (log, seg) pairs in order, wrapping after the last segment of a log;
 * before 9.3 the last segment of each log (0xFF) does not exist.
 */
static void
list_required_segments(struct list_files_ctx *lf, const struct backup_info *bi)
{
    struct xlog_name begin, end;
    uint32_t seg_size = bi->xlog_segment_size != BI_NULL_INT && bi->xlog_segment_size > 0
                            ? (uint32_t) bi->xlog_segment_size : XLOG_DEFAULT_SEGMENT_SIZE;
    uint32_t per_log_max = (uint32_t) (0xFFFFFFFFu / seg_size);   /* Barman's xlog_segments_per_file() */
    int skip_last = bi->version != BI_NULL_INT && bi->version < 90300;

    /* Barman would loop forever without an end_wal; barrel lists no WAL then */
    if (bi->begin_wal == NULL || bi->end_wal == NULL)
        return;
    if (xlog_name_parse(bi->begin_wal, &begin) != XLOG_KIND_SEGMENT
        || xlog_name_parse(bi->end_wal, &end) != XLOG_KIND_SEGMENT)
        return;
    for (uint64_t log = begin.log, seg = begin.seg; log < end.log || (log == end.log && seg <= end.seg);) {
        char *path = br_asprintf("%s/%08" PRIX32 "%08" PRIX64 "/%08" PRIX32 "%08" PRIX64 "%08" PRIX64,
                                 lf->srv->wals_directory, begin.tli, log, begin.tli, log, seg);
        emit_path(lf, path);
        free(path);
        seg++;
        if (seg > per_log_max || (skip_last && seg == per_log_max)) {
            seg = 0;
            log++;
        }
    }
}

/* ---- wal: the archive entries until the next backup ---- */

static int
wal_entry(const struct xlogdb_entry *entry, void *arg)
{
    struct list_files_ctx *lf = arg;
    char hash[XLOG_NAME_LEN + 1];
    char *path;

    xlog_hash_dir(entry->name, hash);
    if (hash[0] != '\0')
        path = br_asprintf("%s/%s/%s", lf->srv->wals_directory, hash, entry->name);
    else
        path = br_asprintf("%s/%s", lf->srv->wals_directory, entry->name);
    emit_path(lf, path);
    free(path);
    return 0;
}

/* ---- the command ---- */

/* argparse's message for a bad --target, printed exactly (stderr, exit 2). */
static int
bad_target(const struct cmd_context *ctx, const char *value, struct br_error *err)
{
    fflush(stdout);
    fprintf(stderr,
            "usage: %s list-files [-h] [--target {standalone,data,wal,full}]\n"
            "%*s server_name backup_id\n"
            "%s list-files: error: argument --target: invalid choice: '%s' (choose from 'standalone', 'data', "
            "'wal', 'full')\n",
            ctx->prog, (int) strlen(ctx->prog) + 18, "", ctx->prog, value);
    br_error_set(err, BR_E_USAGE, "%s", "");
    return -1;
}

int
cmd_list_files(struct cmd_context *ctx, int argc, char **argv, struct br_error *err)
{
    static const struct option longopts[] = {
        {"target", required_argument, NULL, 't'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
    };
    enum list_target target = TARGET_STANDALONE;
    struct list_files_ctx lf = {0};
    struct catalog *cat = NULL;
    const struct backup_info *bi;
    int c, rc = -1;

    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'h') {
            cmd_print_help(cmd_find("list-files"),
                           "  --target {standalone,data,wal,full}\n"
                           "                        Possible values are: data (just the data files), standalone\n"
                           "                        (base backup files, including required WAL files), wal (just\n"
                           "                        WAL files between the beginning of base backup and the\n"
                           "                        following one (if any) or the end of the log) and full (same\n"
                           "                        as data + wal). Defaults to standalone\n");
            return 0;
        }
        if (c == 't') {
            size_t t;
            for (t = 0; t < BR_ARRAY_LEN(target_names) && strcmp(optarg, target_names[t]) != 0; t++)
                ;
            if (t == BR_ARRAY_LEN(target_names))
                return bad_target(ctx, optarg, err);
            target = (enum list_target) t;
            continue;
        }
        if (optopt == 't')
            return br_error_set(err, BR_E_USAGE, "argument --target: expected one argument");
        return br_error_set(err, BR_E_USAGE, "unrecognized arguments: %s", argv[optind - 1]);
    }
    if (argc - optind < 2)
        return br_error_set(err, BR_E_USAGE, "the following arguments are required: %s",
                            argc - optind == 0 ? "server_name, backup_id" : "backup_id");
    if (argc - optind > 2)
        return br_error_set(err, BR_E_USAGE, "unrecognized arguments: %s", argv[optind + 2]);

    /* 1. the server and the backup */
    lf.srv = cmd_single_server(ctx, &argv[optind]);
    if (lf.srv == NULL)
        return 0;       /* reported; main.c turns an ERROR into exit status 1 */
    cat = catalog_open(lf.srv, err);
    if (cat == NULL)
        goto out;
    bi = catalog_resolve(cat, argv[optind + 1], err);
    if (bi == NULL)
        goto out;

    if (output_is_json()) {
        struct json *root = output_result_root();
        lf.info = json_object_get(root, "_INFO");
        if (lf.info == NULL) {
            lf.info = json_array();
            json_object_set(root, "_INFO", lf.info);
        }
    }

    /* 2. the backup directory */
    if (target == TARGET_DATA || target == TARGET_STANDALONE || target == TARGET_FULL) {
        char *dir = br_asprintf("%s/%s", lf.srv->basebackups_directory, bi->backup_id);
        walk_dir(&lf, dir);
        free(dir);
    }
    /* 3. the WAL files */
    if (target == TARGET_STANDALONE)
        list_required_segments(&lf, bi);
    if (target == TARGET_WAL || target == TARGET_FULL) {
        const char *lock_dir = ctx->cfg->barman_lock_directory ? ctx->cfg->barman_lock_directory
                                                               : ctx->cfg->barman_home;
        if (backup_stats_foreach_wal(cat, bi, lock_dir, 1, wal_entry, &lf, err) != 0)
            goto out;
    }
    rc = 0;
out:
    catalog_free(cat);
    return rc;
}
