/*
 * walrebuild.h: rebuild-xlogdb (spec 2.4, 4.8), xlog.db regenerated from
 * what wals/ holds: the repair for an archive-wal interrupted between a
 * file's rename and its xlog.db line, or a lost xlog.db.
 */
#ifndef BARREL_WALREBUILD_H
#define BARREL_WALREBUILD_H

#include "barrel/build.h"

struct br_error;
struct server_config;

struct walrebuild_counts {
    long history;         /* TLI.history at the root of wals/ */
    long backup_labels;   /* SEG.OFFSET.backup in hash directories */
    long wal_files;       /* segments in hash directories */
};

/*
 * Scan wals/ in sorted order (hash directories, then their files, sorted),
 * taking segments and .backup files from hash directories and .history
 * files from the root; .tmp, .partial and any other file are skipped with a
 * warning in the log. Compression comes from the magic bytes, size and time
 * from the file. xlog.db is replaced durably under the xlogdb lock
 * (xlogdb_rewrite). Prints nothing; the caller prints Barman's lines.
 */
int walrebuild_run(const struct server_config *srv, const char *lock_dir, struct walrebuild_counts *counts,
                   struct br_error *err);

#endif /* BARREL_WALREBUILD_H */
