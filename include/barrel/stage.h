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
 * zstd compressor: RAW in, one zstd frame out as RAW, with a content
 * checksum if `checksum` (WAL files; base backups rely on backup_manifest).
 * level 1..22 (0 = libzstd's default 3); workers > 0 compresses on that
 * many libzstd threads, in 2 MiB jobs. Takes ownership of next.
 */
struct stage *stage_zstd_compress_new(int level, int workers, int checksum, struct stage *next, struct br_error *err);

/* zstd decompressor: RAW in (one or more frames), RAW out. */
struct stage *stage_zstd_decompress_new(struct stage *next, struct br_error *err);

/*
 * gzip, lz4, bzip2 or xz compressor through libarchive's write filters (the
 * same code Barman's archives are read back with). level: 0 = the filter's
 * default. Takes ownership of next.
 */
enum filter_kind { FILTER_GZIP, FILTER_LZ4, FILTER_BZIP2, FILTER_XZ };
struct stage *stage_filter_compress_new(enum filter_kind kind, int level, struct stage *next, struct br_error *err);

/*
 * The path rule every extractor (local, SFTP, restore's guard) applies
 * before joining a member path to a destination: not empty, not absolute,
 * no ".." component. 0, or -1 with err `refusing archive member "P":
 * absolute path` / `... path contains ".."` (BR_E_FORMAT).
 */
int stage_member_path_check(const char *path, struct br_error *err);

/* ---- reading archives (restore, verify) ---- */

/*
 * Read a tar archive file (plain, or compressed with gzip, bzip2, lz4, xz or
 * zstd: libarchive detects the filter) and push its members into sink as
 * MEMBER_HEADER / MEMBER_DATA / MEMBER_END chunks, then ARCHIVE_END. Data
 * comes from libarchive's own buffers (no copy); sparse holes are pushed as
 * zeros. `prefix` (may be NULL or "") is prepended to every member path,
 * e.g. "pg_tblspc/16409/" for a tablespace archive. Member paths lose a
 * leading "./". Does not finish the sink.
 */
int archive_reader_run(const char *path, const char *prefix, struct stage *sink, struct br_error *err);

/*
 * Secure extraction into dest (which must exist): members are refused,
 * with an error naming them, when their path is absolute, contains a ".."
 * component, or would be written through a symlink (libarchive's
 * ARCHIVE_EXTRACT_SECURE_* flags; dest is resolved with realpath first).
 * Regular files, directories and symlinks are written with their mode
 * and mtime; other member types are refused. `skip` (NULL-terminated, may
 * be NULL) lists member paths not to extract (tablespace_map, ...).
 * At finish the filesystem holding dest is synced once (syncfs), rather
 * than one fsync per file.
 */
struct stage *stage_extract_new(const char *dest, const char *const *skip, struct br_error *err);
/* Files and bytes written so far. */
void stage_extract_counts(const struct stage *st, int64_t *files, int64_t *bytes);

/*
 * Descriptor sink: writes RAW bytes to an open descriptor it does not own
 * (stdout for get-wal, a temporary file whose durability the caller
 * handles). `label` names it in messages ("standard output", a path).
 * Finishing does nothing but finish; closing and fsync are the caller's.
 */
struct stage *stage_fd_sink_new(int fd, const char *label);
int64_t stage_fd_sink_bytes(const struct stage *st);

/* Descriptor source: read `fd` to its end in blocks of STAGE_BLOCK_SIZE and push every block into st (no finish). */
#define STAGE_BLOCK_SIZE (256 * 1024)
int stage_pump_fd(int fd, const char *label, struct stage *st, struct br_error *err);

/* ---- tar (src/stage/stage_tar.c) ---- */

struct strbuf;

/*
 * Tar parser: RAW tar bytes in (cut anywhere), member chunks out:
 * MEMBER_HEADER, MEMBER_DATA..., MEMBER_END per member, ARCHIVE_END at the
 * end-of-archive blocks (or at finish when the archive has none). ustar,
 * GNU long names, pax path/linkpath/size, octal and base-256 numbers. Bad
 * checksums, a stream cut inside a member and garbage after the end are
 * BR_E_FORMAT errors. Takes ownership of next.
 */
struct stage *stage_tar_parser_new(struct stage *next);

/*
 * Tar tap: RAW in, the same RAW bytes forwarded unchanged to next; the
 * member chunks, parsed on the way, go to `side` (owned, may be NULL; it is
 * finished before next). At finish, an archive that lacks its two 512-byte
 * end-of-archive zero blocks is completed with them when complete_trailer
 * is set (*added_bytes, when not NULL, grows by the bytes added), and is an
 * error otherwise; an archive cut inside a member is always an error.
 * Takes ownership of next and side.
 */
struct stage *stage_tar_tap_new(struct stage *next, struct stage *side, int complete_trailer, int64_t *added_bytes);

/*
 * Member capture: a pass-through for member chunks that copies the contents
 * of the regular file named `path` (as the parser names it, without "./")
 * into `out` (caller-owned, initialised; reset when the member starts) and
 * sets *found (when not NULL) to 1. A member larger than max_bytes is an
 * error. next may be NULL. Takes ownership of next.
 */
struct stage *stage_member_capture_new(const char *path, struct strbuf *out, size_t max_bytes, int *found,
                                       struct stage *next);

/*
 * Walk a directory tree (a plain-format backup) and push its regular files,
 * directories and symlinks into sink as members, like archive_reader_run:
 * paths relative to root with `prefix` prepended; file contents read in
 * fixed blocks. Symlinks are reported, never followed; names in `skip`
 * (top-level entries, NULL-terminated, may be NULL) are not walked.
 */
int dir_reader_run(const char *root, const char *prefix, const char *const *skip, struct stage *sink,
                   struct br_error *err);

#endif /* BARREL_STAGE_H */
