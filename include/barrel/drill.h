/*
 * drill.h: the restore drill (drill) and its recorded verdicts.
 *
 * A drill restores a backup into a scratch directory, starts PostgreSQL on
 * it on a free loopback port, waits for recovery to reach the backup's end
 * (or a target time), checks that it answers queries, runs amcheck's
 * bt_index_check over every B-tree index, then stops the server and removes
 * the scratch copy on every path. The verdict and the measured time go to
 * barrel's own file, <backup_directory>/barrel/drill/<ID>.json, which
 * report and metrics read; Barman's files are never touched.
 */
#ifndef BARREL_DRILL_H
#define BARREL_DRILL_H

#include "barrel/build.h"
#include <stdint.h>
#include <time.h>

struct br_error;
struct server_config;
struct barrel_config;
struct backup_info;

#define DRILL_DEFAULT_TIMEOUT_S 600

struct drill_opts {
    const char *target_time;       /* NULL: recover to the backup's end (recovery_target = 'immediate') */
    const char *scratch_parent;    /* NULL: $TMPDIR, else /var/tmp */
    int timeout_s;                 /* server start and recovery; 0: DRILL_DEFAULT_TIMEOUT_S */
    int quiet_restore;             /* hide recover's own progress lines */
};

struct drill_result {
    int ok;                        /* 1 passed, 0 failed */
    double seconds;                /* the whole drill: restore + recovery + checks */
    double restore_seconds;        /* files in place */
    double recovery_seconds;       /* server start until it accepts queries, recovery done */
    int64_t databases;             /* databases checked */
    int64_t indexes_checked;       /* B-tree indexes through bt_index_check */
    int amcheck;                   /* 1 when amcheck was available */
    char message[512];             /* why it failed ("" when ok) */
};

/*
 * Run the drill of one DONE backup (see the file comment). Returns 0 when
 * the drill ran to a verdict, passed or not (result->ok, result->message),
 * after stopping the server and removing the scratch copy; -1 with err
 * only when it could not run at all (no scratch directory). Blocks; takes
 * as long as a restore plus a recovery. When run as root, the server runs
 * as the "postgres" user (PostgreSQL refuses root).
 */
int drill_run(const struct barrel_config *cfg, const struct server_config *srv, const struct backup_info *bi,
              const struct drill_opts *opts, struct drill_result *result, struct br_error *err);

/* Record the verdict durably in <backup_directory>/barrel/drill/<ID>.json. */
int drill_record(const struct server_config *srv, const char *backup_id, const struct drill_result *result,
                 time_t when, struct br_error *err);
/* Read the last verdict of a backup: 1 found, 0 never drilled, -1 on error. */
int drill_last(const struct server_config *srv, const char *backup_id, struct drill_result *result, time_t *when,
               struct br_error *err);

#endif /* BARREL_DRILL_H */
