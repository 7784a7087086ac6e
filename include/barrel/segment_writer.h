/*
 * segment_writer.h: WAL received by streaming, written into streaming/
 * exactly as pg_receivewal writes it.
 *
 * The segment being filled is "<name>.partial", pre-allocated with zeros to
 * the full segment size (and fsynced with its directory) before the first
 * byte of WAL goes in, so that a crash never leaves a short file. When the
 * last byte of a segment is written the file is fsynced, renamed to its bare
 * name and the directory fsynced. Timeline history files are written
 * durably as "<TLI>.history" (temporary name, fsync, rename, fsync dir).
 *
 * Invariant: every byte before segment_writer_flush_lsn() is on disk; a
 * segment with a bare name is complete. What a crash leaves is at most one
 * ".partial" per timeline, which the next run rewrites from its start.
 *
 * Nothing here talks to PostgreSQL; the streaming loop (walrecv.h) feeds it.
 */
#ifndef BARREL_SEGMENT_WRITER_H
#define BARREL_SEGMENT_WRITER_H

#include "barrel/build.h"
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct br_error;
struct segment_writer;

/* Receives one line for the user ("finished segment at 0/3000000 (timeline 1)"); arg is the caller's. */
typedef void (*segment_writer_notice_fn)(void *arg, const char *message);

/*
 * A writer into `dir` (which must exist) for segments of segment_size bytes.
 * notice may be NULL. Never fails; nothing is opened until segment_writer_begin().
 */
struct segment_writer *segment_writer_new(const char *dir, uint32_t segment_size, segment_writer_notice_fn notice,
                                          void *notice_arg);
/*
 * Close the open segment, if any, without fsync and without renaming it (it
 * stays ".partial"); free the writer. NULL is a no-op. Call
 * segment_writer_close_partial() first for a clean stop.
 */
void segment_writer_free(struct segment_writer *w);

/*
 * Set the position of the next byte: `lsn` (a segment start) on timeline
 * `tli`. Any segment still open is closed as by segment_writer_close_partial().
 * -1 with BR_E_INTERNAL if lsn is not at a segment start.
 */
int segment_writer_begin(struct segment_writer *w, uint32_t tli, uint64_t lsn, struct br_error *err);

/*
 * Write len bytes of WAL that start at `lsn`, which must be the current
 * position (BR_E_FORMAT "got WAL data offset %08x, expected %08x"
 * otherwise). Opens (pre-allocating) and completes (fsync, rename, fsync
 * dir) segments as the data crosses their boundaries. Blocks on disk I/O.
 */
int segment_writer_write(struct segment_writer *w, uint64_t lsn, const void *data, size_t len,
                         struct br_error *err);

/* fsync the open segment if it has unflushed bytes; afterwards flush_lsn == write_lsn. */
int segment_writer_flush(struct segment_writer *w, struct br_error *err);

/*
 * End of a timeline or a clean stop: flush and close the open segment,
 * keeping its ".partial" name when it is not complete (a notice says so,
 * as pg_receivewal's "not renaming ..." does). No-op when nothing is open.
 */
int segment_writer_close_partial(struct segment_writer *w, struct br_error *err);

uint64_t segment_writer_write_lsn(const struct segment_writer *w);   /* next byte expected */
uint64_t segment_writer_flush_lsn(const struct segment_writer *w);   /* durable up to here */
uint32_t segment_writer_timeline(const struct segment_writer *w);

/* 1 if "<dir>/<TLI>.history" exists. */
int segment_writer_has_history(const struct segment_writer *w, uint32_t tli);
/*
 * Write a timeline history file durably. `name` must be "%08X.history" for
 * tli (the server's TIMELINE_HISTORY reply is checked, BR_E_FORMAT otherwise).
 */
int segment_writer_write_history(struct segment_writer *w, uint32_t tli, const char *name, const void *content,
                                 size_t len, struct br_error *err);

/*
 * pg_receivewal's FindStreamingStart(): the highest segment in dir
 * (complete or ".partial", by segment number, then timeline; a complete one
 * wins over a partial of the same name). Complete segments whose size is not
 * segment_size are ignored. Returns 1 with *tli and *lsn set (the start of
 * the next segment after a complete one, the start of the partial one
 * otherwise), 0 when dir has no segment, -1 with err if it cannot be read.
 */
int segment_writer_find_start(const char *dir, uint32_t segment_size, uint32_t *tli, uint64_t *lsn,
                              struct br_error *err);

/*
 * Barman's _truncate_partial_file_if_needed(): the newest ".partial" in dir
 * is truncated to 0 bytes when its size is neither 0 nor segment_size (it
 * was cut short while being pre-allocated). Returns 1 when it truncated
 * (*path_out: new string, the full path; *old_size: its size before), 0
 * when nothing had to be done, -1 with err on an I/O error.
 */
int segment_writer_fix_partial(const char *dir, uint32_t segment_size, char **path_out, off_t *old_size,
                               struct br_error *err);

#endif /* BARREL_SEGMENT_WRITER_H */
