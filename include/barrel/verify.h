/*
 * verify.h: verification of a stored backup (verify-backup, and later the
 * restore drill and the reports).
 *
 * verify_backup() streams every archive of a backup (tar: base.tar.* and
 * <oid>.tar.*, through decompression; plain: the data/ and <oid>/ trees)
 * through the manifest verifier, without extracting anything, then checks
 * that the manifest's files were all found and that the WAL range the
 * backup needs (begin_wal .. end_wal) is in the archive. Every problem is
 * reported and checking goes on, as pg_verifybackup does. The verdict is
 * recorded in barrel's own file, <backup_directory>/barrel/verify/<ID>.json,
 * never in Barman's backup.info.
 */
#ifndef BARREL_VERIFY_H
#define BARREL_VERIFY_H

#include "barrel/build.h"
#include <stdint.h>
#include <time.h>

struct br_error;
struct server_config;
struct backup_info;

typedef void (*verify_problem_fn)(void *arg, const char *problem);
typedef void (*verify_progress_fn)(void *arg, const char *what, int64_t files);

struct verify_result {
    int64_t problems;
    int64_t files_checked;     /* archive members checked against the manifest */
    int64_t bytes_checked;     /* uncompressed bytes read */
    int64_t archives;
    int64_t wal_segments;      /* WAL segments of the needed range found */
    int has_manifest;          /* 0: Barman backup without a manifest: only WAL was checked */
    double seconds;
};

/*
 * Verify one backup; problems go to problem() one by one. Returns 0 when
 * the verification ran (result->problems says whether the backup is good),
 * -1 with err when it could not run at all (unreadable catalog).
 */
int verify_backup(const struct server_config *srv, const struct backup_info *bi, verify_problem_fn problem,
                  verify_progress_fn progress, void *arg, struct verify_result *result, struct br_error *err);

/* Record the verdict durably in <backup_directory>/barrel/verify/<ID>.json. */
int verify_record(const struct server_config *srv, const char *backup_id, const struct verify_result *result,
                  time_t when, struct br_error *err);
/* Read the last verdict: 1 found (fields filled), 0 never verified, -1 on error. */
int verify_last(const struct server_config *srv, const char *backup_id, struct verify_result *result, time_t *when,
                struct br_error *err);

#endif /* BARREL_VERIFY_H */
