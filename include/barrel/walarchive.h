/*
 * walarchive.h: archive-wal, moving finished WAL files from streaming/ and
 * incoming/ into wals/ (spec 4.2), compressed in place under their bare
 * names, each with its xlog.db line once it is durable.
 */
#ifndef BARREL_WALARCHIVE_H
#define BARREL_WALARCHIVE_H

#include "barrel/build.h"

struct br_error;
struct server_config;

struct walarchive_opts {
    int verbose;     /* Barman's verbose mode: headers and "no file found" even with nothing to do */
    int workers;     /* compression threads; 0 = online CPUs + 1 (or $BARREL_ARCHIVE_WORKERS), at most WALARCHIVE_MAX_WORKERS */
};

#define WALARCHIVE_MAX_WORKERS 8

/*
 * Run archive-wal for one server, printing Barman's console lines through
 * output.h. Takes .<server>-archive-wal.lock without waiting: when another
 * process holds it, prints Barman's "Another archive-wal process is already
 * running on server X. Skipping to the next server" and returns 0.
 *
 * Streaming archiver first (streaming_archiver = on), then the file
 * archiver (archiver = on). Files are compressed in parallel by `workers`
 * threads into wals/<hash>/<name>.tmp (fsynced), then committed in name
 * order under the xlogdb lock: rename into place, fsync of the directory,
 * unlink of the source, fsync of its directory, and only then the xlog.db
 * lines. A crash leaves at most a .tmp file (ignored and overwritten by the
 * next run) or an archived file without its line (rebuild-xlogdb).
 * Returns 0, or -1 with err set on the first failure (files committed
 * before it keep their lines).
 */
int walarchive_run(const struct server_config *srv, const char *lock_dir, const struct walarchive_opts *opts,
                   struct br_error *err);

#endif /* BARREL_WALARCHIVE_H */
