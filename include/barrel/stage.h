/*
 * stage.h: chains of stages that carry bytes (DESIGN.md "the picture").
 *
 * A stage is a small struct embedding `struct stage` as its first member,
 * with push / finish / free operations that each return a status, so a
 * failing write deep in a chain reaches the command, which can then mark a
 * backup FAILED and remove partial files (curl's client writers; unlike
 * PostgreSQL's astreamer, which cannot fail).
 *
 * Chains are built backwards from the sink: each constructor takes
 * ownership of `next`. The head owns the chain: stage_free(head) frees every
 * stage; stage_finish(head) flushes each stage and then finishes its next.
 * A stage never keeps a pointer into a chunk it was pushed; it copies what
 * it needs into buffers of fixed size allocated once.
 */
#ifndef BARREL_STAGE_H
#define BARREL_STAGE_H

#include "barrel/build.h"
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct br_error;

enum chunk_kind {
    CHUNK_RAW,            /* bytes of an unparsed stream (a tar archive, a WAL file) */
    CHUNK_MEMBER_HEADER,  /* an archive member begins; chunk.member describes it */
    CHUNK_MEMBER_DATA,    /* bytes of the current member */
    CHUNK_MEMBER_END,     /* the current member is complete */
    CHUNK_ARCHIVE_END,    /* the archive has no more members */
};

enum member_type { MEMBER_FILE = 'f', MEMBER_DIR = 'd', MEMBER_SYMLINK = 'l', MEMBER_OTHER = '?' };

struct stage_member {
    const char *path;      /* as stored in the archive, without a leading "./" */
    int64_t size;          /* bytes of content (files), 0 otherwise */
    unsigned mode;         /* permission bits */
    enum member_type type;
    const char *linkname;  /* MEMBER_SYMLINK only */
    int64_t mtime;
};

struct chunk {
    enum chunk_kind kind;
    const unsigned char *data;   /* RAW and MEMBER_DATA */
    size_t len;
    const struct stage_member *member;  /* MEMBER_HEADER (and END, for convenience) */
};

struct stage;

struct stage_ops {
    int  (*push)(struct stage *st, const struct chunk *ck, struct br_error *err);
    int  (*finish)(struct stage *st, struct br_error *err);  /* flush self, then finish next */
    void (*free)(struct stage *st);                          /* free next, then self; never fails */
};

struct stage {
    const struct stage_ops *ops;
    struct stage *next;     /* owned */
    const char *name;       /* for messages: "zstd compressor", "file sink" */
};

int stage_push(struct stage *st, const struct chunk *ck, struct br_error *err);
/* Push bytes as one CHUNK_RAW. */
int stage_push_raw(struct stage *st, const void *data, size_t len, struct br_error *err);
int stage_finish(struct stage *st, struct br_error *err);
void stage_free(struct stage *st);                          /* NULL is a no-op */
/* Helpers for implementers: forward a chunk unchanged / finish the next stage. */
int stage_forward(struct stage *st, const struct chunk *ck, struct br_error *err);
int stage_finish_next(struct stage *st, struct br_error *err);
void stage_free_next(struct stage *st);

/*
 * File sink: writes RAW bytes to "<path>.tmp" (created with `mode`); at
 * finish, fsyncs it and renames it to `path`, then fsyncs the directory.
 * Freed without a successful finish, it removes the temporary file, so a
 * failed or interrupted write never leaves a file under the final name.
 */
struct stage *stage_file_sink_new(const char *path, mode_t mode, struct br_error *err);
/* Bytes written so far. */
int64_t stage_file_sink_bytes(const struct stage *st);

/* Memory sink, for tests and small outputs: collects RAW bytes (and member events as text lines). */
struct stage *stage_mem_sink_new(void);
const unsigned char *stage_mem_sink_data(const struct stage *st, size_t *len);
int stage_mem_sink_finished(const struct stage *st);

/* Counting tap: counts RAW bytes passing through (progress and sizes). */
struct stage *stage_counter_new(struct stage *next, int64_t *counter);

/*
 * zstd compressor: RAW in, one zstd frame (with content checksum) out as
 * RAW. level 1..22 (0 = libzstd's default 3); workers > 0 compresses on
 * that many libzstd threads. Takes ownership of next.
 */
struct stage *stage_zstd_compress_new(int level, int workers, struct stage *next, struct br_error *err);

/* zstd decompressor: RAW in (one or more frames), RAW out. */
struct stage *stage_zstd_decompress_new(struct stage *next, struct br_error *err);

/*
 * gzip, lz4 or bzip2 compressor through libarchive's write filters (the
 * same code Barman's archives are read back with). level: 0 = the filter's
 * default. Takes ownership of next.
 */
enum filter_kind { FILTER_GZIP, FILTER_LZ4, FILTER_BZIP2 };
struct stage *stage_filter_compress_new(enum filter_kind kind, int level, struct stage *next, struct br_error *err);

#endif /* BARREL_STAGE_H */
