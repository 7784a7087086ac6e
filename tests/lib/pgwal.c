/*
 * pgwal.c: h_pg_switch_segment() and h_pg_close_segment() (see pgwal.h).
 * A segment only closes when something was written since the last switch,
 * hence the row first.
 */
#include "barrel/build.h"
#include "pgwal.h"

#include <stdio.h>

#include "barrel/mem.h"
#include "catalog_setup.h"
#include "harness.h"

char *
h_pg_switch_segment(struct h_pg *pg)
{
    char *out = h_pg_sql(pg, "postgres", "CREATE TABLE IF NOT EXISTS h_pgwal_marks (at timestamptz, pad text); "
                                         "INSERT INTO h_pgwal_marks VALUES (now(), repeat('x', 1000))");

    if (out == NULL)
        return NULL;
    free(out);
    return h_pg_sql(pg, "postgres", "SELECT pg_walfile_name(pg_switch_wal())");
}

char *
h_pg_close_segment(struct h_pg *pg)
{
    char *closed = h_pg_switch_segment(pg);

    if (closed == NULL)
        return NULL;
    /* 600 polls every 50 ms: 30 s */
    if (h_pg_wait_archived(pg, closed, 50) != 0) {
        fprintf(stderr, "harness: segment %s not archived after 30 s\n", closed);
        free(closed);
        return NULL;
    }
    return closed;
}
