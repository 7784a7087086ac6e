/*
 * log.h: the log file (Barman's log_file) and debug lines.
 *
 * Lines are "YYYY-MM-DD HH:MM:SS,mmm [pid] barrel LEVEL: message". Without
 * a log file, nothing is written except DEBUG lines to stderr under -d.
 * User-facing messages go through output.h, which also logs them here.
 */
#ifndef BARREL_LOG_H
#define BARREL_LOG_H

#include "barrel/build.h"

struct br_error;

enum br_log_level { BR_LOG_DEBUG = 10, BR_LOG_INFO = 20, BR_LOG_WARNING = 30, BR_LOG_ERROR = 40 };

/* Parse "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL" (any case); -1 if unknown. */
int br_log_level_parse(const char *name);
void br_log_set_level(int level);
void br_log_set_stderr_debug(int on);
/* Open (append) the log file; 0 or -1 with err set. */
int br_log_open(const char *path, struct br_error *err);
void br_log_close(void);

void br_log(int level, const char *fmt, ...) BR_PRINTF(2, 3);
#define br_log_debug(...)   br_log(BR_LOG_DEBUG, __VA_ARGS__)
#define br_log_info(...)    br_log(BR_LOG_INFO, __VA_ARGS__)
#define br_log_warning(...) br_log(BR_LOG_WARNING, __VA_ARGS__)
#define br_log_error(...)   br_log(BR_LOG_ERROR, __VA_ARGS__)

#endif /* BARREL_LOG_H */
