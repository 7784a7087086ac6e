/*
 * manifest.h: PostgreSQL's backup_manifest (version 1 and 2), read for
 * verification and restore.
 *
 * The whole manifest is held in memory, as pg_verifybackup does: its size
 * grows with the number of files in the cluster (about 200 bytes each),
 * not with the data. Entries are found by path in a hash table.
 *
 * Checksums: CRC32C, SHA224, SHA256, SHA384, SHA512 or NONE. The manifest's
 * own checksum (SHA-256 of everything before the "Manifest-Checksum" line)
 * is verified on load.
 */
#ifndef BARREL_MANIFEST_H
#define BARREL_MANIFEST_H

#include "barrel/build.h"
#include <stddef.h>
#include <stdint.h>

struct br_error;

enum manifest_checksum { MANIFEST_CK_NONE, MANIFEST_CK_CRC32C, MANIFEST_CK_SHA224, MANIFEST_CK_SHA256,
                         MANIFEST_CK_SHA384, MANIFEST_CK_SHA512 };

#define MANIFEST_MAX_CHECKSUM 64     /* SHA-512 */

struct manifest_file {
    char *path;                      /* decoded (Encoded-Path is hex) */
    int64_t size;
    enum manifest_checksum algorithm;
    unsigned char checksum[MANIFEST_MAX_CHECKSUM];
    size_t checksum_len;
    int seen;                        /* set by the verifier when the file was found */
};

struct manifest_wal_range {
    uint32_t timeline;
    uint64_t start_lsn;
    uint64_t end_lsn;
};

struct manifest {
    int version;
    char *system_identifier;         /* version 2 only, else NULL */
    size_t n_files;
    struct manifest_file *files;
    size_t n_wal_ranges;
    struct manifest_wal_range *wal_ranges;
    /* hash table over files, open addressing */
    size_t table_size;
    size_t *table;                   /* index + 1 into files, 0 = empty */
};

/* Parse manifest text (len bytes). NULL with err naming `origin` on any problem, including a bad manifest checksum. */
struct manifest *manifest_parse(const char *text, size_t len, const char *origin, struct br_error *err);
/* Read and parse a file. */
struct manifest *manifest_load(const char *path, struct br_error *err);
void manifest_free(struct manifest *m);
/* The entry for a path (as in the manifest: relative to PGDATA), or NULL. */
struct manifest_file *manifest_find(const struct manifest *m, const char *path);
const char *manifest_checksum_name(enum manifest_checksum algorithm);

/*
 * Incremental checksum of one file's content, for the algorithm of its
 * entry: init, update with each piece, then compare with the entry.
 */
struct manifest_hasher;
struct manifest_hasher *manifest_hasher_new(enum manifest_checksum algorithm);
void manifest_hasher_update(struct manifest_hasher *h, const void *data, size_t len);
/* 1 if the result equals the entry's checksum (always 1 for NONE); writes the hex of what was computed. */
int manifest_hasher_matches(struct manifest_hasher *h, const struct manifest_file *entry, char *hex_out, size_t hex_len);
void manifest_hasher_free(struct manifest_hasher *h);

/*
 * A stage that checks archive members against the manifest as they stream
 * by (pg_verifybackup's checks, inside compressed tar archives): presence,
 * size and checksum; each entry found is marked `seen`. Every problem is
 * passed to report() with pg_verifybackup's wording, e.g.
 * `checksum mismatch for file "base/1/1259"`; with fail_fast the first
 * problem also fails the push (restore), otherwise checking goes on
 * (verify). pg_verifybackup's ignore list (backup_manifest, pg_wal/,
 * postgresql.auto.conf, recovery.signal, standby.signal) is not checked. It
 * forwards every chunk to next (which may be NULL: a pure verifier).
 */
struct stage;
typedef void (*manifest_report_fn)(void *arg, const char *problem);
struct stage *stage_manifest_verify_new(struct manifest *m, int fail_fast, manifest_report_fn report, void *arg,
                                        struct stage *next);
/* Problems found so far by that stage. */
int64_t stage_manifest_verify_problems(const struct stage *st);
/* Report every manifest entry not seen (after all archives were read); returns how many. */
int64_t manifest_report_unseen(const struct manifest *m, manifest_report_fn report, void *arg);

#endif /* BARREL_MANIFEST_H */
