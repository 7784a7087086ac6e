/*
 * basebackup.h: BASE_BACKUP over a replication connection (PostgreSQL 15+
 * option syntax and its single COPY stream), feeding one stage chain per
 * archive and one for the backup manifest.
 *
 * The protocol (protocol-replication.html, PG 15): two result sets (start
 * position and timeline; the tablespace list with sizes in kB), then one
 * CopyOut stream of CopyData messages whose first byte says what they are:
 * 'n' a new archive (name, tablespace location), 'd' archive or manifest
 * bytes, 'p' progress (bytes sent so far for the whole backup), 'm' the
 * manifest begins; then CopyDone and a result set with the end position.
 * Every message is read with the bounds-checked copymsg readers.
 *
 * The caller decides where bytes go: for each archive and for the manifest
 * it returns a stage chain, which basebackup_run then owns, finishes when
 * that part of the stream ends and frees. On any failure the current chain
 * is freed without being finished (a file sink then removes its temporary
 * file). Memory is bounded: each CopyData buffer is released as soon as it
 * has been pushed.
 *
 * basebackup_run blocks until the backup ends, but waits on the socket in
 * slices of BASEBACKUP_POLL_MS so that an interruption (signal flag) is
 * noticed even while the server is checkpointing or waiting for WAL
 * archiving; the caller then closes the connection, which makes the server
 * abort the backup.
 */
#ifndef BARREL_BASEBACKUP_H
#define BARREL_BASEBACKUP_H

#include "barrel/build.h"
#include <stddef.h>
#include <stdint.h>

struct br_error;
struct pgconn;
struct stage;

/* The first release with BASE_BACKUP's parenthesised options and the single COPY stream. */
#define BASEBACKUP_MIN_SERVER_VERSION 150000
#define BASEBACKUP_POLL_MS 200

struct basebackup_options {
    const char *label;                /* LABEL; quoted by basebackup_command() */
    int  fast_checkpoint;             /* CHECKPOINT 'fast' (else spread) */
    int  progress;                    /* PROGRESS: sizes in the tablespace list, 'p' messages */
    const char *manifest_checksums;   /* MANIFEST 'yes' with these checksums ("CRC32C", "SHA256"); NULL: no manifest */
    int  tablespace_map;              /* TABLESPACE_MAP */
    int64_t max_rate_kbps;            /* MAX_RATE in kB/s; 0 = unlimited */
    const char *compression;          /* server-side COMPRESSION ("gzip", "lz4", "zstd"); NULL = none */
    int  compression_level;           /* 0 = the method's default */
    int  compression_workers;         /* zstd only; 0 = none */
    int  no_wait;                     /* WAIT false: the caller waits for the WAL archive itself */
};

struct basebackup_tablespace {
    uint32_t oid;                     /* 0 for the main data directory */
    char    *location;                /* NULL for the main data directory */
    int64_t  size_kb;                 /* -1 when the server did not estimate it */
};

struct basebackup_result {
    uint64_t start_lsn;
    uint32_t start_tli;
    uint64_t end_lsn;
    uint32_t end_tli;
    size_t   n_tablespaces;           /* as listed by the server; the main directory last */
    struct basebackup_tablespace *tablespaces;
    int64_t  estimated_bytes;         /* sum of the sizes, -1 when unknown */
    int64_t  archive_bytes;           /* archive bytes received (compressed by the server when it compresses) */
    int64_t  manifest_bytes;
    size_t   n_archives;
    int      manifest_received;
};

struct basebackup_handler {
    /*
     * An archive begins. `name` comes from the server and has been checked
     * (no '/', not empty, not starting with '.'); `location` is "" for the
     * main data directory. Return the chain for its bytes, or NULL with err.
     */
    struct stage *(*archive_begin)(void *arg, const char *name, const char *location, struct br_error *err);
    /* The manifest begins: return its chain, or NULL with err. */
    struct stage *(*manifest_begin)(void *arg, struct br_error *err);
    /* The server's start position is known (before any archive); may be NULL. 0 or -1 with err. */
    int (*started)(void *arg, const struct basebackup_result *res, struct br_error *err);
    /* Progress: bytes done (server's count), estimated total (-1 unknown); may be NULL. */
    void (*progress)(void *arg, int64_t done_bytes, int64_t total_bytes);
    /* Non-zero aborts the backup with BR_E_INTERRUPTED; may be NULL. Polled at least every BASEBACKUP_POLL_MS. */
    int (*interrupted)(void *arg);
    void *arg;
};

/*
 * The BASE_BACKUP command text for these options (new string). Invalid
 * options (a label with a NUL, unknown compression) are refused with err.
 */
char *basebackup_command(const struct basebackup_options *opts, struct br_error *err);

/*
 * Run a base backup on a replication connection (PG >= 15, else an
 * "unsupported version" error). Fills *res (reset it with
 * basebackup_result_reset, also after a failure). Returns 0, or -1 with err:
 * the server's message ("backup failed: ..."), a protocol violation, an
 * error of a stage, or BR_E_INTERRUPTED.
 */
int basebackup_run(struct pgconn *conn, const struct basebackup_options *opts, const struct basebackup_handler *h,
                   struct basebackup_result *res, struct br_error *err);
void basebackup_result_reset(struct basebackup_result *res);

/*
 * Feed one CopyData message of the stream to the demultiplexer. Exposed for
 * unit tests, which drive it with crafted messages; basebackup_run uses it.
 */
struct basebackup_stream;
struct basebackup_stream *basebackup_stream_new(const struct basebackup_handler *h, struct basebackup_result *res);
int basebackup_stream_message(struct basebackup_stream *bs, const unsigned char *msg, size_t len,
                              struct br_error *err);
/* The COPY stream ended normally: finish the open chain. */
int basebackup_stream_end(struct basebackup_stream *bs, struct br_error *err);
/* Free; a chain still open is freed without being finished. */
void basebackup_stream_free(struct basebackup_stream *bs);

#endif /* BARREL_BASEBACKUP_H */
