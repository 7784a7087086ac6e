/*
 * timestamp.c: backup.info's timestamps, in the text form of Python's
 * str(datetime): "YYYY-MM-DD HH:MM:SS[.ffffff][+HH:MM[:SS]]".
 *
 * A timestamp is kept as UTC microseconds plus the offset it was written
 * with, so that formatting gives back the same text (Barman writes the
 * PostgreSQL server's offset, which need not be ours). Naive values are
 * local time, as Barman's load_datetime_tz() assumes. Civil-date
 * arithmetic is done by hand (Howard Hinnant's days_from_civil) so that
 * aware values never depend on the TZ of the process.
 */
#include "barrel/build.h"
#include "barrel/timestamp.h"

#include <stdint.h>
#include <time.h>

#define USEC_PER_SEC INT64_C(1000000)
#define SEC_PER_DAY  INT64_C(86400)

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t
ts_days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void
ts_civil_from_days(int64_t z, int *y, int *m, int *d)
{
    int64_t era, doe, yoe, doy, mp, yy;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    yy = yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int) (doy - (153 * mp + 2) / 5 + 1);
    *m = (int) (mp < 10 ? mp + 3 : mp - 9);
    *y = (int) (yy + (*m <= 2));
}

static int64_t
ts_floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && ((a < 0) != (b < 0)));
}

/* Read exactly n digits. */
static int
ts_digits(const char **p, int n, int *out)
{
    int v = 0, i;

    for (i = 0; i < n; i++) {
        if ((*p)[i] < '0' || (*p)[i] > '9')
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

int
br_timestamp_parse(const char *text, struct br_timestamp *out)
{
    const char *p = text;
    int year, mon, day, hour, min, sec, usec = 0;
    int64_t secs;

    if (ts_digits(&p, 4, &year) < 0 || *p++ != '-' || ts_digits(&p, 2, &mon) < 0 || *p++ != '-' ||
        ts_digits(&p, 2, &day) < 0 || (*p != ' ' && *p != 'T'))
        return -1;
    p++;
    if (ts_digits(&p, 2, &hour) < 0 || *p++ != ':' || ts_digits(&p, 2, &min) < 0 || *p++ != ':' ||
        ts_digits(&p, 2, &sec) < 0)
        return -1;
    if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 59)
        return -1;
    if (*p == '.') {
        /* up to 6 digits count; further digits (nanoseconds) are dropped as dateutil does */
        int ndig = 0;

        p++;
        while (*p >= '0' && *p <= '9') {
            if (ndig < 6) {
                usec = usec * 10 + (*p - '0');
                ndig++;
            }
            p++;
        }
        if (ndig == 0)
            return -1;
        while (ndig++ < 6)
            usec *= 10;
    }

    out->has_tz = 0;
    out->tz_offset_s = 0;
    if (*p == 'Z') {
        out->has_tz = 1;
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        int oh, om = 0, os = 0;

        p++;
        if (ts_digits(&p, 2, &oh) < 0)
            return -1;
        if (*p == ':')
            p++;
        if (*p >= '0' && *p <= '9' && ts_digits(&p, 2, &om) < 0)
            return -1;
        if (*p == ':') {
            p++;
            if (ts_digits(&p, 2, &os) < 0)
                return -1;
        }
        if (oh > 23 || om > 59 || os > 59)
            return -1;
        out->has_tz = 1;
        out->tz_offset_s = sign * (oh * 3600 + om * 60 + os);
    }
    if (*p != '\0')
        return -1;

    if (out->has_tz) {
        secs = ts_days_from_civil(year, mon, day) * SEC_PER_DAY + hour * 3600 + min * 60 + sec
               - out->tz_offset_s;
    } else {
        struct tm tm;

        memset(&tm, 0, sizeof(tm));
        tm.tm_year = year - 1900;
        tm.tm_mon = mon - 1;
        tm.tm_mday = day;
        tm.tm_hour = hour;
        tm.tm_min = min;
        tm.tm_sec = sec;
        tm.tm_isdst = -1;
        secs = (int64_t) mktime(&tm);
    }
    out->epoch_usec = secs * USEC_PER_SEC + usec;
    return 0;
}

void
br_timestamp_wallclock(const struct br_timestamp *ts, struct tm *tm_out)
{
    int64_t secs = ts_floor_div(ts->epoch_usec, USEC_PER_SEC);

    memset(tm_out, 0, sizeof(*tm_out));
    if (!ts->has_tz) {
        time_t t = (time_t) secs;

        localtime_r(&t, tm_out);
        return;
    }
    {
        int64_t local = secs + ts->tz_offset_s;
        int64_t days = ts_floor_div(local, SEC_PER_DAY);
        int64_t rem = local - days * SEC_PER_DAY;
        int y, m, d;

        ts_civil_from_days(days, &y, &m, &d);
        tm_out->tm_year = y - 1900;
        tm_out->tm_mon = m - 1;
        tm_out->tm_mday = d;
        tm_out->tm_hour = (int) (rem / 3600);
        tm_out->tm_min = (int) (rem % 3600 / 60);
        tm_out->tm_sec = (int) (rem % 60);
        /* 1970-01-01 was a Thursday */
        tm_out->tm_wday = (int) ((days % 7 + 11) % 7);
        tm_out->tm_yday = (int) (days - ts_days_from_civil(y, 1, 1));
        tm_out->tm_isdst = 0;
        tm_out->tm_gmtoff = ts->tz_offset_s;
    }
}

void
br_timestamp_format(const struct br_timestamp *ts, char *buf, size_t len)
{
    struct tm tm;
    int usec = (int) (ts->epoch_usec - ts_floor_div(ts->epoch_usec, USEC_PER_SEC) * USEC_PER_SEC);
    size_t pos;

    br_timestamp_wallclock(ts, &tm);
    snprintf(buf, len, "%04d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec);
    pos = strlen(buf);
    /* str(datetime) omits the fraction when it is zero */
    if (usec != 0 && pos < len)
        pos += (size_t) snprintf(buf + pos, len - pos, ".%06d", usec);
    if (ts->has_tz && pos < len) {
        int off = ts->tz_offset_s < 0 ? -ts->tz_offset_s : ts->tz_offset_s;

        pos += (size_t) snprintf(buf + pos, len - pos, "%c%02d:%02d", ts->tz_offset_s < 0 ? '-' : '+',
                                 off / 3600, off % 3600 / 60);
        if (off % 60 != 0 && pos < len)
            snprintf(buf + pos, len - pos, ":%02d", off % 60);
    }
}

void
br_timestamp_now(struct br_timestamp *out)
{
    struct timespec now;
    struct tm tm;
    time_t t;

    clock_gettime(CLOCK_REALTIME, &now);
    t = now.tv_sec;
    localtime_r(&t, &tm);
    out->epoch_usec = (int64_t) now.tv_sec * USEC_PER_SEC + now.tv_nsec / 1000;
    out->has_tz = 1;
    out->tz_offset_s = (int) tm.tm_gmtoff;
}
