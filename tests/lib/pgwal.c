/*
 * pgwal.c: h_pg_close_segment() (see pgwal.h). A segment only closes when
 * something was written since the last switch, hence the row first.
 */
#include "barrel/build.h"
#include "pgwal.h"

#include <stdio.h>
#include <unistd.h>

#include "barrel/mem.h"
#include "harness.h"

#define PGWAL_WAIT_STEP_US 50000
#define PGWAL_WAIT_STEPS   600      /* 30 s */

char *
h_pg_close_segment(struct h_pg *pg)
{
    char *out, *closed, *wait;

    out = h_pg_sql(pg, "postgres", "CREATE TABLE IF NOT EXISTS h_pgwal_marks (at timestamptz, pad text); "
                                   "INSERT INTO h_pgwal_marks VALUES (now(), repeat('x', 1000))");
    if (out == NULL)
        return NULL;
    free(out);
    closed = h_pg_sql(pg, "postgres", "SELECT pg_walfile_name(pg_switch_wal())");
    if (closed == NULL)
        return NULL;
    wait = br_asprintf("SELECT coalesce(last_archived_wal, '') >= '%s' FROM pg_stat_archiver", closed);
    for (int i = 0; i < PGWAL_WAIT_STEPS; i++) {
        char *done = h_pg_sql(pg, "postgres", wait);
        int ok = done != NULL && strcmp(done, "t") == 0;

        free(done);
        if (ok) {
            free(wait);
            return closed;
        }
        usleep(PGWAL_WAIT_STEP_US);
    }
    fprintf(stderr, "harness: segment %s not archived after 30 s\n", closed);
    free(wait);
    free(closed);
    return NULL;
}
