/*
 * fmt.h: human-readable formats that Barman's output uses, byte for byte.
 */
#ifndef BARREL_FMT_H
#define BARREL_FMT_H

#include "barrel/build.h"
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Barman's pretty_size(): base 1024, "%d B" under 1 KiB, else "%.1f KiB|MiB|GiB|...". */
void fmt_pretty_size(double bytes, char *buf, size_t len);
/* Barman's human_readable_timedelta(): "less than one second", "1 second", "2 minutes, 3 seconds", ... */
void fmt_timedelta(double seconds, char *buf, size_t len);
/* Python's datetime.ctime() of a wall-clock time: "Sun Nov 22 13:31:35 2026". */
void fmt_ctime(const struct tm *tm, char *buf, size_t len);
/* Python repr() of a float: shortest text that reads back exactly ("1.5", "2.0", "1e+16"). */
void fmt_py_float(double value, char *buf, size_t len);

#endif /* BARREL_FMT_H */
