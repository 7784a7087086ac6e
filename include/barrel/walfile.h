/*
 * walfile.h: one archived WAL file, compressed or not (spec 4.3).
 *
 * Barman stores WAL files compressed in place under their bare names and
 * finds the algorithm again from the first bytes. This module knows
 * Barman's registry names (gzip, pigz, pygzip -> gzip format; bzip2,
 * pybzip2 -> bzip2; xz, zstd, lz4 of Barman >= 3.12; custom through the
 * configured shell filters), detects a file's compression by magic bytes in
 * Barman's order, and reads any of them back as a stream through a fixed
 * buffer: a WAL segment is never held whole in memory.
 */
#ifndef BARREL_WALFILE_H
#define BARREL_WALFILE_H

#include "barrel/build.h"
#include <stddef.h>
#include <sys/types.h>

struct br_error;
struct server_config;
struct stage;

enum walfile_codec {
    WALFILE_NONE = 0,
    WALFILE_GZIP,
    WALFILE_BZIP2,
    WALFILE_ZSTD,
    WALFILE_LZ4,
    WALFILE_XZ,
    WALFILE_CUSTOM,
};

/* Longest magic barrel compares (a custom magic may be this long). */
#define WALFILE_MAGIC_MAX 32

/*
 * Barman's registry name -> codec: gzip/pigz/pygzip, bzip2/pybzip2, zstd,
 * lz4, xz, custom; NULL, "", "none" and "None" are WALFILE_NONE. -1 for any
 * other name (snappy, typos).
 */
int walfile_codec_parse(const char *name, enum walfile_codec *out);

/* Name a detected codec as Barman reports it ("gzip", "bzip2", ...), "None" for WALFILE_NONE. */
const char *walfile_codec_name(enum walfile_codec codec);

/*
 * Identify a compression from the first bytes of a file, testing Barman's
 * registry in alphabetical order (bzip2, custom, gzip, lz4, pigz, pybzip2,
 * pygzip, xz, zstd; first match wins). The custom magic counts only when
 * the server's compression is "custom" and custom_compression_magic is set
 * ("0x28b52ffd"). unidentified_custom: a file matching nothing is "custom"
 * when the server's compression is custom without a magic (Barman's rule
 * for get-wal, rebuild-xlogdb and duplicate checks, not for incoming files).
 */
enum walfile_codec walfile_identify_bytes(const unsigned char *buf, size_t len, const struct server_config *srv,
                                          int unidentified_custom);
/* Same, reading the start of a file. 0 or -1 (cannot open or read it). */
int walfile_identify(const char *path, const struct server_config *srv, int unidentified_custom,
                     enum walfile_codec *out, struct br_error *err);

/*
 * A pull reader of the decompressed content of a file. gzip, bzip2, xz, lz4
 * and zstd go through libarchive's read filters ("raw" format); custom runs
 * custom_decompression_filter through /bin/sh with the file on its standard
 * input; none reads the file. Fixed buffers only.
 */
struct walfile_reader;
struct walfile_reader *walfile_reader_open(const char *path, enum walfile_codec codec, const struct server_config *srv,
                                           struct br_error *err);
/* Up to len bytes into buf: the count, 0 at the end, -1 with err set. */
ssize_t walfile_reader_read(struct walfile_reader *r, void *buf, size_t len, struct br_error *err);
/*
 * Close and free (NULL is a no-op). For custom, waits for the filter and
 * fails when it exited non-zero; err may be NULL to discard that status
 * (a reader abandoned after an earlier error).
 */
int walfile_reader_close(struct walfile_reader *r, struct br_error *err);

/* Push the decompressed content of path into st (no finish). */
int walfile_decompress(const char *path, enum walfile_codec codec, const struct server_config *srv,
                       struct stage *st, struct br_error *err);

/*
 * 1 when the decompressed contents of two stored files are identical, 0
 * when they differ, -1 on error: Barman's duplicate check, streamed through
 * two readers instead of two ".uncompressed" temporary files.
 */
int walfile_same_content(const char *path_a, enum walfile_codec codec_a, const char *path_b,
                         enum walfile_codec codec_b, const struct server_config *srv, struct br_error *err);

/*
 * A compressor stage for codec at Barman's level (gzip -6, bzip2 -9, zstd 3,
 * lz4 1, xz 6), taking ownership of next. WALFILE_NONE returns next itself.
 * WALFILE_CUSTOM is not a stage (it is a shell filter): NULL with err.
 */
struct stage *walfile_compressor_new(enum walfile_codec codec, struct stage *next, struct br_error *err);

/*
 * Compress (or copy, WALFILE_NONE) the file src_fd into out_fd, from their
 * current offsets; custom runs custom_compression_filter through /bin/sh
 * with src_fd as its standard input and out_fd as its standard output.
 * Neither descriptor is closed or fsynced here.
 */
int walfile_compress_fd(int src_fd, const char *src_label, int out_fd, const char *out_label, enum walfile_codec codec,
                        const struct server_config *srv, struct br_error *err);

#endif /* BARREL_WALFILE_H */
