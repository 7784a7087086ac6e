/*
 * values.c: the value parsers of Barman's configuration (spec 1.4 and
 * 7.1): retention policies, time intervals, sizes with SI/IEC suffixes,
 * booleans and Python int().
 *
 * Each parser accepts exactly what Barman's regular expression accepts and
 * nothing more: they are pure functions of their text, with no locale (a
 * hand-written ASCII scanner, not strtol with its leading blanks and
 * locale) and no global state. Overflow is "invalid", never a wrap.
 */
#include "barrel/build.h"
#include "barrel/config.h"
#include "config_int.h"

#include <limits.h>
#include <strings.h>

#include "barrel/error.h"

#define SECONDS_PER_HOUR 3600LL
#define SECONDS_PER_DAY  86400LL
#define DAYS_PER_WEEK    7
#define DAYS_PER_MONTH   31          /* Barman: a month is 31 days */

static int
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static const char *
skip_space(const char *p)
{
    while (is_space(*p))
        p++;
    return p;
}

/* Decimal digits at *pp into *out (no sign); advances *pp. 0 or -1 (none, overflow). */
static int
scan_digits(const char **pp, long long *out)
{
    const char *p = *pp;
    long long v = 0;

    if (*p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (LLONG_MAX - (*p - '0')) / 10)
            return -1;
        v = v * 10 + (*p - '0');
    }
    *pp = p;
    *out = v;
    return 0;
}

/* Match a case-insensitive word at *pp; advances on success. */
static int
match_word(const char **pp, const char *word)
{
    size_t n = strlen(word);

    if (strncasecmp(*pp, word, n) != 0)
        return 0;
    *pp += n;
    return 1;
}

/* At least one blank, then skip the rest: Barman's \s+. */
static int
need_space(const char **pp)
{
    if (!is_space(**pp))
        return 0;
    *pp = skip_space(*pp);
    return 1;
}

/* "day", "week", "month" (and "hour" when allowed), optionally plural. 0 if none matched. */
static char
scan_unit(const char **pp, int allow_hours)
{
    char unit = 0;

    if (match_word(pp, "day"))
        unit = 'd';
    else if (match_word(pp, "week"))
        unit = 'w';
    else if (match_word(pp, "month"))
        unit = 'm';
    else if (allow_hours && match_word(pp, "hour"))
        unit = 'h';
    if (unit != 0 && (**pp == 's' || **pp == 'S'))
        (*pp)++;
    return unit;
}

int
retention_policy_parse(const char *text, struct retention_policy *out, struct br_error *err)
{
    const char *p = skip_space(text);
    long long n;
    char unit;

    if (match_word(&p, "redundancy")) {
        if (need_space(&p) && scan_digits(&p, &n) == 0 && n <= INT_MAX && *skip_space(p) == '\0') {
            out->kind = RETENTION_REDUNDANCY;
            out->value = (int) n;
            out->unit = RETENTION_DAYS;
            return 0;
        }
    } else if (match_word(&p, "recovery") && need_space(&p) && match_word(&p, "window") && need_space(&p)
               && match_word(&p, "of") && need_space(&p) && scan_digits(&p, &n) == 0 && n <= INT_MAX
               && need_space(&p) && (unit = scan_unit(&p, 0)) != 0 && *skip_space(p) == '\0') {
        out->kind = RETENTION_WINDOW;
        out->value = (int) n;
        out->unit = (enum retention_unit) unit;
        return 0;
    }
    return br_error_set(err, BR_E_CONFIG,
                        "invalid retention policy '%s' (expected 'REDUNDANCY n' or "
                        "'RECOVERY WINDOW OF n DAYS|WEEKS|MONTHS')", text);
}

void
retention_policy_format(const struct retention_policy *rp, char *buf, size_t len)
{
    const char *unit;

    if (len == 0)
        return;
    switch (rp->kind) {
    case RETENTION_REDUNDANCY:
        snprintf(buf, len, "REDUNDANCY %d", rp->value);
        return;
    case RETENTION_WINDOW:
        unit = rp->unit == RETENTION_WEEKS ? "WEEKS" : rp->unit == RETENTION_MONTHS ? "MONTHS" : "DAYS";
        snprintf(buf, len, "RECOVERY WINDOW OF %d %s", rp->value, unit);
        return;
    case RETENTION_NONE:
        break;
    }
    snprintf(buf, len, "None");
}

int64_t
retention_policy_window_seconds(const struct retention_policy *rp)
{
    int64_t days;

    if (rp->kind != RETENTION_WINDOW)
        return 0;
    days = rp->unit == RETENTION_WEEKS ? DAYS_PER_WEEK : rp->unit == RETENTION_MONTHS ? DAYS_PER_MONTH : 1;
    return (int64_t) rp->value * days * SECONDS_PER_DAY;
}

int64_t
config_parse_interval(const char *text)
{
    const char *p = skip_space(text);
    long long n, mult;
    char unit;

    /* ^\s*(\d+)\s+(day|month|week|hour)s?\s*$, case-insensitive */
    if (scan_digits(&p, &n) != 0 || !need_space(&p) || (unit = scan_unit(&p, 1)) == 0
        || *skip_space(p) != '\0')
        return -1;
    switch (unit) {
    case 'h': mult = SECONDS_PER_HOUR; break;
    case 'd': mult = SECONDS_PER_DAY; break;
    case 'w': mult = DAYS_PER_WEEK * SECONDS_PER_DAY; break;
    default:  mult = DAYS_PER_MONTH * SECONDS_PER_DAY; break;
    }
    if (n > INT64_MAX / mult)
        return -1;
    return (int64_t) (n * mult);
}

int64_t
config_parse_size(const char *text)
{
    static const struct { const char *suffix; long long mult; } suffixes[] = {
        /* two-letter suffixes first so that "Ki" is not read as an unknown "K" */
        { "Ki", 1024LL }, { "Mi", 1024LL * 1024 }, { "Gi", 1024LL * 1024 * 1024 },
        { "Ti", 1024LL * 1024 * 1024 * 1024 },
        { "k", 1000LL }, { "M", 1000LL * 1000 }, { "G", 1000LL * 1000 * 1000 },
        { "T", 1000LL * 1000 * 1000 * 1000 },
    };
    const char *p = text;
    long long n, mult = 1;

    /* Barman: re.match(r"(\d+)\s*(k|Ki|M|Mi|G|Gi|T|Ti)?\s*$"), case-sensitive, no leading blanks */
    if (scan_digits(&p, &n) != 0)
        return -1;
    p = skip_space(p);
    for (size_t i = 0; i < BR_ARRAY_LEN(suffixes); i++) {
        size_t sl = strlen(suffixes[i].suffix);

        if (strncmp(p, suffixes[i].suffix, sl) == 0) {
            mult = suffixes[i].mult;
            p += sl;
            break;
        }
    }
    if (*skip_space(p) != '\0' || n > INT64_MAX / mult)
        return -1;
    return (int64_t) (n * mult);
}

int
config_parse_bool(const char *text)
{
    static const char *const yes[] = { "true", "t", "yes", "1", "on" };
    static const char *const no[] = { "false", "f", "no", "0", "off" };

    for (size_t i = 0; i < BR_ARRAY_LEN(yes); i++) {
        if (strcasecmp(text, yes[i]) == 0)
            return 1;
        if (strcasecmp(text, no[i]) == 0)
            return 0;
    }
    return -1;
}

int
config_parse_int_text(const char *text, long long *out)
{
    const char *p = skip_space(text);
    int negative = 0;
    long long v = 0;
    int digits = 0;

    if (*p == '+' || *p == '-')
        negative = *p++ == '-';
    /* digits, with single underscores allowed between two digits (PEP 515) */
    for (;; p++) {
        if (*p >= '0' && *p <= '9') {
            int d = *p - '0';

            if (v > (LLONG_MAX - d) / 10)
                return -1;
            v = v * 10 + d;
            digits++;
        } else if (*p == '_' && digits > 0 && p[1] >= '0' && p[1] <= '9') {
            continue;
        } else {
            break;
        }
    }
    if (digits == 0 || *skip_space(p) != '\0')
        return -1;
    *out = negative ? -v : v;
    return 0;
}
