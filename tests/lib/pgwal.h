/*
 * pgwal.h: closing WAL segments on a harness cluster, for the tests that
 * archive them (fault, concurrency, secrets and permission tests).
 */
#ifndef BARREL_TEST_PGWAL_H
#define BARREL_TEST_PGWAL_H

#include "barrel/build.h"

struct h_pg;

/*
 * Write a row (into a table h_pgwal_marks it creates once) and switch WAL,
 * without waiting for the archiver: the name of the segment just closed
 * (caller frees), or NULL when psql failed. The fault tests' h_fenv_switch()
 * is this.
 */
char *h_pg_switch_segment(struct h_pg *pg);
/*
 * h_pg_switch_segment(), then wait (catalog_setup's h_pg_wait_archived(),
 * which fails the test when psql does) up to 30 s until archive_command has
 * archived the segment just closed (pg_stat_archiver). Returns the closed
 * segment's name (caller frees), or NULL with a message on stderr when psql
 * failed or archiving did not catch up.
 */
char *h_pg_close_segment(struct h_pg *pg);

#endif /* BARREL_TEST_PGWAL_H */
