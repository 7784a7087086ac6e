/*
 * walverify.h: deep verification of a server's WAL archive (verify-wal),
 * beyond anything Barman does.
 *
 * Every archived segment in the range is decompressed and its long page
 * header checked (walcheck_segment: length, magic, page address, timeline,
 * system identifier); the sequence is checked for continuity along the
 * timeline path of the newest timeline in the archive, as recovery with
 * recovery_target_timeline = 'latest' would follow it: its history file
 * says from which segment on each timeline owns the WAL (the segment
 * holding a switch point belongs to the child timeline). A gap is a segment
 * missing between two present ones on that path (or between --from/--to
 * and the first/last present one, when they are given). Segments of
 * timelines off the path are checked, not required.
 *
 * The archive is read as a sorted scan of wals/, one log id at a time (all
 * timelines of that log id together), so memory holds the names of one log
 * id (256 segments per timeline with 16 MiB segments), never the archive.
 * Two worker threads decompress and check segments; results are reported
 * in segment order. The verdict is recorded in barrel's own file,
 * <backup_directory>/barrel/verify/wal.json, for report and metrics.
 */
#ifndef BARREL_WALVERIFY_H
#define BARREL_WALVERIFY_H

#include "barrel/build.h"
#include <stdint.h>
#include <time.h>

struct br_error;
struct server_config;

#define WALVERIFY_WORKERS 2

struct walverify_options {
    const char *from;         /* first segment position to check (24-hex name), NULL: first present */
    const char *to;           /* last segment position to check, NULL: last present */
    const char *sysid;        /* expected system identifier (decimal), NULL: not checked */
    uint32_t segment_size;    /* 0: 16 MiB */
    int workers;              /* 0: WALVERIFY_WORKERS */
};

struct walverify_result {
    int64_t problems;         /* gaps + bad segments + history problems */
    int64_t gaps;             /* runs of missing segments */
    int64_t missing;          /* segments missing in those runs */
    int64_t bad;              /* segments that failed walcheck_segment */
    int64_t segments;         /* segments checked */
    int64_t off_path;         /* checked segments of timelines off the path (not required) */
    int64_t bytes;            /* compressed bytes read */
    uint32_t timeline;        /* the newest timeline: the end of the path */
    char first[32];           /* first and last segment on the path ("" when none) */
    char last[32];
    double seconds;
};

/* One problem line (names the segment or history file); called in segment order, from the calling thread. */
typedef void (*walverify_problem_fn)(void *arg, const char *problem);
/* Progress after each checked segment (calling thread). */
typedef void (*walverify_progress_fn)(void *arg, const struct walverify_result *sofar, const char *segment);

/*
 * Verify the WAL archive of srv. Returns 0 when the verification ran
 * (result->problems says whether the archive is good), -1 with err when it
 * could not run (bad --from/--to, unreadable wals/ directory). Blocks until
 * done; starts and joins its worker threads.
 */
int walverify_run(const struct server_config *srv, const struct walverify_options *opts, walverify_problem_fn problem,
                  walverify_progress_fn progress, void *arg, struct walverify_result *result, struct br_error *err);

/* Record the verdict durably in <backup_directory>/barrel/verify/wal.json. */
int walverify_record(const struct server_config *srv, const struct walverify_result *result, time_t when,
                     struct br_error *err);
/* Read the last verdict: 1 found, 0 never run, -1 on error. */
int walverify_last(const struct server_config *srv, struct walverify_result *result, time_t *when,
                   struct br_error *err);

#endif /* BARREL_WALVERIFY_H */
