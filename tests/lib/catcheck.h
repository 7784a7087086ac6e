/*
 * catcheck.h: a catalog consistency checker for the fault tests.
 *
 * It reads one server's catalog directory (<barman_home>/<server>) the way
 * Barman and barrel read it after a crash, and lists what is wrong:
 *
 *   - every xlog.db line parses and names a file that exists under wals/
 *     (the hash directory for segments, wals/ itself for history files);
 *     no name has two lines;
 *   - every WAL file under wals/ has its line (temporary files, dot files,
 *     xlog.db itself and its journals are ignored, as every reader does);
 *   - every base/<ID>/backup.info parses completely (no half-written file).
 *
 * It also returns the IDs of the DONE backups, for verify-backup.
 */
#ifndef BARREL_TEST_CATCHECK_H
#define BARREL_TEST_CATCHECK_H

#include "barrel/build.h"
#include <stddef.h>

struct h_catalog {
    char *problems;       /* NULL when clean, else one problem a line */
    char **done_ids;      /* the DONE backups, sorted */
    size_t n_done;
    char **wal_names;     /* the xlog.db names, in file order */
    size_t n_wals;
    size_t n_backups;     /* backup.info files read */
};

/* Check the catalog of one server directory; never fails (problems say what is wrong). */
void h_catalog_check(const char *server_dir, struct h_catalog *out);
void h_catalog_free(struct h_catalog *c);
/* 1 if name is among c's xlog.db names. */
int h_catalog_has_wal(const struct h_catalog *c, const char *name);
/* 1 if id is among c's DONE backups. */
int h_catalog_has_done(const struct h_catalog *c, const char *id);

#endif /* BARREL_TEST_CATCHECK_H */
