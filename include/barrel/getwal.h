/*
 * getwal.h: get-wal, serving archived WAL files back (spec 4.4, 5.2, 6.7):
 * PostgreSQL's restore_command through `barman get-wal` or barman-wal-restore.
 */
#ifndef BARREL_GETWAL_H
#define BARREL_GETWAL_H

#include "barrel/build.h"

struct br_error;
struct server_config;

enum getwal_compression {
    GETWAL_PLAIN,       /* decompressed (default) */
    GETWAL_GZIP,        /* -z / -x / --gzip */
    GETWAL_BZIP2,       /* -j / --bzip2 */
    GETWAL_KEEP,        /* --keep-compression: the stored bytes */
};

struct getwal_opts {
    const char *wal_name;
    const char *output_dir;     /* NULL: standard output */
    int partial;                /* -P: also .partial files */
    enum getwal_compression compression;
    int peek;                   /* > 0: list up to that many names instead */
};

/*
 * Find wal_name in wals/, incoming/ and streaming/ (Barman's order; with
 * partial, also the .partial files) and write its content, decompressed or
 * recompressed as asked, to standard output or output_dir/wal_name. Nothing
 * but the WAL bytes reaches standard output: messages go to the log (or to
 * standard output with output_dir, as Barman does).
 * Errors: BR_E_BAD_WAL_NAME (exit 3) for a name that is not a WAL name or an
 * output file that cannot be created; BR_E_NOT_FOUND (exit 1) "WAL file 'X'
 * not found in server 'Y'"; others for I/O failures.
 */
int getwal_run(const struct server_config *srv, const struct getwal_opts *opts, struct br_error *err);

#endif /* BARREL_GETWAL_H */
