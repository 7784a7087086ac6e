/*
 * backup_int.h: what the steps of a backup share (src/backup/ only).
 */
#ifndef BARREL_BACKUP_INT_H
#define BARREL_BACKUP_INT_H

#include "barrel/build.h"
#include "barrel/basebackup.h"
#include "barrel/catalog.h"
#include "barrel/strbuf.h"
#include <stdint.h>
#include <time.h>

struct pgconn;
struct server_config;
struct backup_options;
struct catalog_lock;

/* Barman's label text for the replication command and the backup_label LABEL line. */
#define BACKUP_LABEL_MAX_BYTES (64 * 1024)

struct backup_ctx {
    const struct server_config *srv;
    const struct backup_options *opts;
    const char *action;                 /* Barman's current_action, for "failure <action> (...)" */

    struct pgconn *pg;                  /* normal connection: metadata, restore point */
    struct pgconn *repl;                /* replication connection: BASE_BACKUP */
    char systemid[32];
    int in_recovery;

    struct catalog_lock *lock;          /* .<server>-backup.lock */
    struct backup_info *bi;             /* NULL until base/<ID>/backup.info exists */
    char *backup_dir;                   /* base/<ID> */
    char *data_dir;                     /* base/<ID>/data */

    /* compression */
    const char *compression;            /* backup.info value: "zstd", "gzip", "lz4", "none" */
    const char *ext;                    /* ".zst", ".gz", ".lz4", "" */
    int server_side;

    /* what the stream brought */
    struct basebackup_result res;
    struct strbuf label;                /* backup_label from base.tar */
    struct strbuf tablespace_map;
    int label_found;
    int64_t tar_bytes;                  /* uncompressed tar bytes (client-side compression) */
    int64_t trailer_added;              /* zero bytes added to complete archives */

    /* times */
    time_t start_wall;                  /* local time the backup began (Barman's copy_start_time) */
    int64_t start_usec;                 /* the same, microseconds since the epoch */
    double start_mono;                  /* monotonic seconds */
    double copy_start_mono, copy_end_mono;

    /* progress on a terminal */
    int progress;
    double progress_last;
    int progress_shown;
};

/* 1 once SIGINT or SIGTERM arrived during a backup (backup.c). */
int backup_signalled(void);

/* Monotonic clock, seconds. */
double backup_now(void);

/* The stage handler that routes archives and the manifest into files (backup_archive.c). */
void backup_handler_init(struct backup_ctx *cx, struct basebackup_handler *h);
/* Server-side compression: read backup_label back from the stored base archive. */
int backup_read_label_from_archive(struct backup_ctx *cx, struct br_error *err);
/* End the progress line, if one is shown. */
void backup_progress_end(struct backup_ctx *cx);

/* The checks Barman runs before a backup (backup_checks.c); the failing one is named in err. */
int backup_checks(struct backup_ctx *cx, struct br_error *err);

#endif /* BARREL_BACKUP_INT_H */
