/*
 * backup_archive.c: where the bytes of a backup go. For each archive the
 * server announces, a chain is built backwards from its file:
 *
 *   file sink (data/<name>.tar<ext>: temporary name, fsync, rename)
 *     <- compressor (zstd with workers, gzip or lz4 through libarchive, or none)
 *     <- byte counter (uncompressed tar bytes, for the summary)
 *     <- tar tap (checks the tar stream, completes a missing end-of-archive;
 *                 for base.tar it captures backup_label and tablespace_map)
 *
 * With server-side compression the archive arrives compressed and goes
 * straight to its file; backup_label is read back from it afterwards.
 * The manifest goes to data/backup_manifest as it comes.
 *
 * Progress on a terminal, like pg_basebackup's progress_report(): at most
 * once a second, "\r" on stderr, from the server's 'p' messages.
 */
#include "barrel/build.h"
#include "backup_int.h"

#include <stdio.h>
#include <unistd.h>

#include "barrel/backup.h"
#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/fmt.h"
#include "barrel/fs.h"
#include "barrel/mem.h"
#include "barrel/stage.h"

/* backup_label and tablespace_map are small; anything bigger is not one */
#define BACKUP_SMALL_MEMBER_MAX (1024 * 1024)
#define BACKUP_FILE_MODE 0600

/* "base.tar" or "<oid>.tar": the names PG 15 gives uncompressed archives. */
static int
plain_tar_name(const char *name)
{
    size_t len = strlen(name);

    if (strcmp(name, "base.tar") == 0)
        return 1;
    if (len < 5 || strcmp(name + len - 4, ".tar") != 0)
        return 0;
    for (size_t i = 0; i < len - 4; i++)
        if (name[i] < '0' || name[i] > '9')
            return 0;
    return 1;
}

static struct stage *
compressor_new(struct backup_ctx *cx, struct stage *next, struct br_error *err)
{
    const struct server_config *srv = cx->srv;
    int level = srv->backup_compression_level > 0 ? srv->backup_compression_level : 0;

    if (strcmp(cx->compression, "zstd") == 0)
        /* no frame checksum: backup_manifest's CRC32C covers every file, as with pg_basebackup */
        return stage_zstd_compress_new(level, srv->backup_compression_workers > 0 ? srv->backup_compression_workers : 0,
                                       0, next, err);
    if (strcmp(cx->compression, "gzip") == 0)
        return stage_filter_compress_new(FILTER_GZIP, level, next, err);
    if (strcmp(cx->compression, "lz4") == 0)
        return stage_filter_compress_new(FILTER_LZ4, level, next, err);
    return next;   /* none */
}

static struct stage *
archive_begin(void *arg, const char *name, const char *location, struct br_error *err)
{
    struct backup_ctx *cx = arg;
    struct stage *chain, *side = NULL;
    char *path;
    int is_base = strcmp(name, "base.tar") == 0;

    (void) location;
    if (cx->server_side) {
        /* stored as the server compressed it: the name carries the method's suffix */
        size_t len = strlen(name), elen = strlen(cx->ext);
        int ok = len > elen && strcmp(name + len - elen, cx->ext) == 0;

        if (!ok) {
            br_error_set(err, BR_E_PG, "server sent archive \"%s\", expected a name ending in \"%s\"", name, cx->ext);
            return NULL;
        }
        path = path_join(cx->data_dir, name);
        chain = stage_file_sink_new(path, BACKUP_FILE_MODE, err);
        free(path);
        return chain;
    }
    if (!plain_tar_name(name)) {
        br_error_set(err, BR_E_PG, "server sent archive \"%s\", expected base.tar or <oid>.tar", name);
        return NULL;
    }
    {
        char *file = br_asprintf("%s%s", name, cx->ext);

        path = path_join(cx->data_dir, file);
        free(file);
    }
    chain = stage_file_sink_new(path, BACKUP_FILE_MODE, err);
    free(path);
    if (chain == NULL)
        return NULL;
    chain = compressor_new(cx, chain, err);
    if (chain == NULL)
        return NULL;
    chain = stage_counter_new(chain, &cx->tar_bytes);
    if (is_base)
        side = stage_member_capture_new("backup_label", &cx->label, BACKUP_SMALL_MEMBER_MAX, &cx->label_found,
                                        stage_member_capture_new("tablespace_map", &cx->tablespace_map,
                                                                 BACKUP_SMALL_MEMBER_MAX, NULL, NULL));
    /* PG 15 ends each archive with its two zero blocks; older servers did not: complete them if missing */
    return stage_tar_tap_new(chain, side, 1, &cx->trailer_added);
}

static struct stage *
manifest_begin(void *arg, struct br_error *err)
{
    struct backup_ctx *cx = arg;
    char *path = path_join(cx->data_dir, "backup_manifest");
    struct stage *st = stage_file_sink_new(path, BACKUP_FILE_MODE, err);

    free(path);
    return st;
}

static void
show_progress(struct backup_ctx *cx, int64_t done, int64_t total, int force)
{
    double now = backup_now(), elapsed = now - cx->copy_start_mono;
    char done_text[32], total_text[32], rate_text[32], eta_text[64] = "";
    double rate;

    if (!cx->progress || (!force && now - cx->progress_last < 1.0))
        return;
    cx->progress_last = now;
    rate = elapsed > 0 ? (double) done / elapsed : 0;
    fmt_pretty_size((double) done, done_text, sizeof(done_text));
    fmt_pretty_size(rate, rate_text, sizeof(rate_text));
    if (total > 0) {
        /* the estimate is taken before the copy: files can grow past it */
        if (done > total)
            total = done;
        fmt_pretty_size((double) total, total_text, sizeof(total_text));
        if (rate > 0 && done < total) {
            char left[48];

            fmt_timedelta((double) (total - done) / rate, left, sizeof(left));
            snprintf(eta_text, sizeof(eta_text), ", ETA %s", left);
        }
        fprintf(stderr, "\r%s / %s (%d%%), %s/s%s\033[K", done_text, total_text, (int) (done * 100 / total),
                rate_text, eta_text);
    } else {
        fprintf(stderr, "\r%s, %s/s\033[K", done_text, rate_text);
    }
    fflush(stderr);
    cx->progress_shown = 1;
}

static void
progress(void *arg, int64_t done, int64_t total)
{
    show_progress(arg, done, total, 0);
}

void
backup_progress_end(struct backup_ctx *cx)
{
    if (cx->progress_shown) {
        fputc('\n', stderr);
        fflush(stderr);
        cx->progress_shown = 0;
    }
}

static int
interrupted(void *arg)
{
    (void) arg;
    return backup_signalled();
}

void
backup_handler_init(struct backup_ctx *cx, struct basebackup_handler *h)
{
    memset(h, 0, sizeof(*h));
    h->archive_begin = archive_begin;
    h->manifest_begin = manifest_begin;
    h->progress = progress;
    h->interrupted = interrupted;
    h->arg = cx;
}

int
backup_read_label_from_archive(struct backup_ctx *cx, struct br_error *err)
{
    char *file = br_asprintf("base.tar%s", cx->ext);
    char *path = path_join(cx->data_dir, file);
    struct stage *capture = stage_member_capture_new(
        "backup_label", &cx->label, BACKUP_SMALL_MEMBER_MAX, &cx->label_found,
        stage_member_capture_new("tablespace_map", &cx->tablespace_map, BACKUP_SMALL_MEMBER_MAX, NULL, NULL));
    int rc = archive_reader_run(path, NULL, capture, err);

    if (rc == 0 && !cx->label_found)
        rc = br_error_set(err, BR_E_FORMAT, "could not find backup_label in \"%s\"", path);
    stage_free(capture);
    free(path);
    free(file);
    return rc;
}
