/*
 * fmt.c: Barman's human-readable formats (barman/utils.py pretty_size and
 * human_readable_timedelta, Python's ctime), reproduced exactly so that
 * barrel's console output matches Barman's line for line.
 */
#include "barrel/build.h"
#include "barrel/fmt.h"

#include <math.h>

void
fmt_pretty_size(double bytes, char *buf, size_t len)
{
    static const char *const suffixes[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"};
    double size = bytes;

    for (size_t i = 0; i < BR_ARRAY_LEN(suffixes); i++) {
        if (fabs(size) < 1024 || i == BR_ARRAY_LEN(suffixes) - 1) {
            if (i == 0)
                snprintf(buf, len, "%d %s", (int) size, suffixes[i]);   /* "%d" truncates like Python */
            else
                snprintf(buf, len, "%.1f %s", size, suffixes[i]);
            return;
        }
        size /= 1024;
    }
}

static void
append_unit(char *buf, size_t len, long value, const char *unit)
{
    size_t used = strlen(buf);

    if (value <= 0)
        return;
    snprintf(buf + used, len - used, "%s%ld %s%s", used ? ", " : "", value, unit, value == 1 ? "" : "s");
}

void
fmt_timedelta(double seconds, char *buf, size_t len)
{
    double delta = fabs(seconds);
    long total = (long) delta;
    long days = total / 86400, rem = total % 86400;

    buf[0] = '\0';
    append_unit(buf, len, days, "day");
    append_unit(buf, len, rem / 3600, "hour");
    append_unit(buf, len, (rem / 60) % 60, "minute");
    append_unit(buf, len, rem % 60, "second");
    if (delta < 1)
        snprintf(buf, len, "less than one second");
    if (seconds < 0) {
        size_t used = strlen(buf);
        snprintf(buf + used, len - used, " ago");
    }
}

void
fmt_ctime(const struct tm *tm, char *buf, size_t len)
{
    static const char *const wday[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    /* Python: "%s %s %2d %02d:%02d:%02d %d" */
    snprintf(buf, len, "%s %s %2d %02d:%02d:%02d %d", wday[tm->tm_wday % 7], mon[tm->tm_mon % 12], tm->tm_mday,
             tm->tm_hour, tm->tm_min, tm->tm_sec, tm->tm_year + 1900);
}
