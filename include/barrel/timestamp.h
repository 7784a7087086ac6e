/*
 * timestamp.h: the timestamps of backup.info, as Python's str(datetime)
 * writes them: "YYYY-MM-DD HH:MM:SS[.ffffff][+HH:MM]" (microseconds omitted
 * when zero; the offset present for aware values). Naive values are local time.
 */
#ifndef BARREL_TIMESTAMP_H
#define BARREL_TIMESTAMP_H

#include "barrel/build.h"
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct br_timestamp {
    int64_t epoch_usec;   /* UTC microseconds since the epoch */
    int     has_tz;       /* 0: naive (local time) */
    int     tz_offset_s;  /* seconds east of UTC, as written */
};

/* Parse; 0 or -1. Also accepts "T" for the space and "+HHMM" / "Z" forms. */
int br_timestamp_parse(const char *text, struct br_timestamp *out);
/* Format back exactly as Python would; buf >= 40 bytes. */
void br_timestamp_format(const struct br_timestamp *ts, char *buf, size_t len);
/* Wall-clock fields in the timestamp's own offset (local time when naive). */
void br_timestamp_wallclock(const struct br_timestamp *ts, struct tm *tm_out);
/* Now, as an aware timestamp in the local zone's offset. */
void br_timestamp_now(struct br_timestamp *out);

#endif /* BARREL_TIMESTAMP_H */
