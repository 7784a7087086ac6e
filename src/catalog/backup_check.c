/*
 * backup_check.c: Barman 3.4's check_backup (backup.py
 * BackupManager.check_backup and get_latest_archived_wals_info): decide
 * whether the WAL a backup needs for consistency is in the archive.
 *
 * Like Barman it reads the file system, not xlog.db: a segment counts when
 * a file of that name exists in its hash directory. Names compare as
 * strings (Barman writes upper-case hex, so string order is WAL order).
 */
#include "barrel/build.h"
#include "barrel/backup_check.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <sys/stat.h>

#include "barrel/catalog.h"
#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/fs.h"
#include "barrel/log.h"
#include "barrel/mem.h"
#include "barrel/xlog.h"

static int
cmp_desc(const void *a, const void *b)
{
    return strcmp(*(const char *const *) b, *(const char *const *) a);
}

/* Entry names of dir, sorted from the highest down (NULL-terminated, caller frees); NULL with err, or *missing. */
static char **
list_desc(const char *dir, size_t *count, int *missing, struct br_error *err)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char **names = NULL;
    size_t n = 0, cap = 0;

    *count = 0;
    *missing = 0;
    if (d == NULL) {
        if (errno == ENOENT) {
            *missing = 1;
            return NULL;
        }
        br_error_sys(err, BR_E_IO, "could not open directory \"%s\"", dir);
        return NULL;
    }
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (n + 1 >= cap) {
            cap = cap ? cap * 2 : 32;
            names = br_realloc(names, cap * sizeof(*names));
        }
        names[n++] = br_strdup(de->d_name);
    }
    closedir(d);
    if (n > 1)
        qsort(names, n, sizeof(*names), cmp_desc);
    if (names == NULL)
        names = br_calloc(1, sizeof(*names));
    names[n] = NULL;
    *count = n;
    return names;
}

static void
free_names(char **names)
{
    if (names == NULL)
        return;
    for (size_t i = 0; names[i] != NULL; i++)
        free(names[i]);
    free(names);
}

static int
is_dir_path(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int
backup_check_last_archived(const char *wals_dir, const char *tli_hex, char *name, struct br_error *err)
{
    size_t n_dirs, n_files;
    int missing, found = 0;
    char **dirs = list_desc(wals_dir, &n_dirs, &missing, err);

    if (dirs == NULL)
        return missing ? 0 : -1;
    for (size_t i = 0; i < n_dirs && !found; i++) {
        char *hash_path, **files;

        /* hash directories are "TTTTTTTTLLLLLLLL"; Barman only looks at the timeline part */
        if (strncmp(dirs[i], tli_hex, 8) != 0)
            continue;
        hash_path = path_join(wals_dir, dirs[i]);
        if (!is_dir_path(hash_path)) {
            free(hash_path);
            continue;
        }
        files = list_desc(hash_path, &n_files, &missing, err);
        if (files == NULL && !missing) {
            free(hash_path);
            free_names(dirs);
            return -1;
        }
        for (size_t j = 0; files != NULL && j < n_files; j++) {
            char *full;

            if (!xlog_is_segment_name(files[j]))
                continue;
            full = path_join(hash_path, files[j]);
            if (!is_dir_path(full)) {
                snprintf(name, XLOG_NAME_LEN + 1, "%s", files[j]);
                found = 1;
            }
            free(full);
            if (found)
                break;
        }
        free_names(files);
        free(hash_path);
        /* a hash directory without a segment: Barman goes on with the next one down */
    }
    free_names(dirs);
    return found;
}

static int
set_status(struct backup_info *bi, enum backup_status st, const char *error, struct br_error *err)
{
    bi->status = st;
    if (error != NULL) {
        free(bi->error);
        bi->error = br_strdup(error);
    }
    return backup_info_write(bi, err);
}

int
backup_check(const struct server_config *srv, struct backup_info *bi, struct br_error *err)
{
    char last[XLOG_NAME_LEN + 1], tli_hex[9], seg[XLOG_NAME_LEN + 1];
    struct xlog_name begin, end;
    uint32_t segsize;
    uint64_t segno, end_segno;
    int rc;

    /* case 0: still in progress */
    if (bi->end_wal == NULL)
        return 0;
    if (bi->begin_wal == NULL || xlog_name_parse(bi->begin_wal, &begin) != XLOG_KIND_SEGMENT
        || xlog_name_parse(bi->end_wal, &end) != XLOG_KIND_SEGMENT || begin.tli != end.tli)
        return br_error_set(err, BR_E_FORMAT, "backup %s has invalid begin_wal/end_wal (%s, %s)", bi->backup_id,
                            bi->begin_wal ? bi->begin_wal : "None", bi->end_wal);
    segsize = bi->xlog_segment_size > 0 && bi->xlog_segment_size != BI_NULL_INT ? (uint32_t) bi->xlog_segment_size
                                                                                : XLOG_DEFAULT_SEGMENT_SIZE;
    snprintf(tli_hex, sizeof(tli_hex), "%.8s", bi->begin_wal);
    rc = backup_check_last_archived(srv->wals_directory, tli_hex, last, err);
    if (rc < 0)
        return -1;
    /* case 1: nothing archived on this timeline; case 2: nothing since the backup began */
    if (rc == 0 || strcmp(last, bi->begin_wal) < 0) {
        br_log_debug("backup %s: waiting for WAL (last archived on timeline %s: %s)", bi->backup_id, tli_hex,
                     rc ? last : "none");
        return set_status(bi, BACKUP_STATUS_WAITING_FOR_WALS, NULL, err);
    }
    /* case 3: a hole between begin_wal and the newest archived segment */
    end_segno = xlog_segno(end.log, end.seg, segsize);
    for (segno = xlog_segno(begin.log, begin.seg, segsize); segno <= end_segno; segno++) {
        char hash[17], *dir, *path;
        int exists;

        xlog_segment_name(begin.tli, segno, segsize, seg);
        if (strcmp(seg, last) > 0)
            break;
        xlog_hash_dir(seg, hash);
        dir = path_join(srv->wals_directory, hash);
        path = path_join(dir, seg);
        exists = path_exists(path);
        free(path);
        free(dir);
        if (!exists) {
            char msg[128];

            snprintf(msg, sizeof(msg), "At least one WAL file is missing. The first missing WAL file is %s", seg);
            return set_status(bi, BACKUP_STATUS_FAILED, msg, err);
        }
    }
    /* case 4: complete; case 5: the end is not archived yet */
    if (strcmp(bi->end_wal, last) <= 0)
        return set_status(bi, BACKUP_STATUS_DONE, NULL, err);
    return set_status(bi, BACKUP_STATUS_WAITING_FOR_WALS, NULL, err);
}
