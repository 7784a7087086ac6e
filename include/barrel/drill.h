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

/* Record the verdict durably in <backup_directory>/barrel/drill/<ID>.json. */
int drill_record(const struct server_config *srv, const char *backup_id, const struct drill_result *result,
                 time_t when, struct br_error *err);
/* Read the last verdict of a backup: 1 found, 0 never drilled, -1 on error. */
int drill_last(const struct server_config *srv, const char *backup_id, struct drill_result *result, time_t *when,
               struct br_error *err);

#endif /* BARREL_DRILL_H */
