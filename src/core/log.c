/*
 * log.c: Barman's log_file. One line per message, with the pid, so the
 * lines of concurrent barrel and Barman processes in a shared log file can
 * be told apart. Write errors on the log are ignored: logging must never
 * make a backup fail.
 */
#include "barrel/build.h"
#include "barrel/log.h"
#include "barrel/error.h"

#include <ctype.h>
#include <stdarg.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static FILE *log_fp;
static int log_level = BR_LOG_INFO;
static int log_stderr_debug;

int
br_log_level_parse(const char *name)
{
    static const struct { const char *name; int level; } levels[] = {
        {"DEBUG", BR_LOG_DEBUG}, {"INFO", BR_LOG_INFO}, {"WARNING", BR_LOG_WARNING},
        {"ERROR", BR_LOG_ERROR}, {"CRITICAL", BR_LOG_ERROR}, {"NOTSET", BR_LOG_DEBUG},
    };
    for (size_t i = 0; i < BR_ARRAY_LEN(levels); i++)
        if (strcasecmp(name, levels[i].name) == 0)
            return levels[i].level;
    return -1;
}

void br_log_set_level(int level) { log_level = level; }
void br_log_set_stderr_debug(int on) { log_stderr_debug = on; }

int
br_log_open(const char *path, struct br_error *err)
{
    FILE *fp = fopen(path, "ae");

    if (fp == NULL)
        return br_error_sys(err, BR_E_IO, "could not open log file \"%s\"", path);
    br_log_close();
    log_fp = fp;
    return 0;
}

void
br_log_close(void)
{
    if (log_fp != NULL)
        fclose(log_fp);
    log_fp = NULL;
}

static const char *
level_name(int level)
{
    switch (level) {
    case BR_LOG_DEBUG: return "DEBUG";
    case BR_LOG_INFO: return "INFO";
    case BR_LOG_WARNING: return "WARNING";
    default: return "ERROR";
    }
}

void
br_log(int level, const char *fmt, ...)
{
    va_list ap;

    if (level == BR_LOG_DEBUG && log_stderr_debug) {
        va_start(ap, fmt);
        fputs("DEBUG: ", stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
    }
    if (log_fp == NULL || level < log_level)
        return;

    struct timeval tv;
    struct tm tm;
    char stamp[32];
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
    fprintf(log_fp, "%s,%03d [%ld] barrel %s: ", stamp, (int) (tv.tv_usec / 1000), (long) getpid(),
            level_name(level));
    va_start(ap, fmt);
    vfprintf(log_fp, fmt, ap);
    va_end(ap);
    fputc('\n', log_fp);
    fflush(log_fp);
}
