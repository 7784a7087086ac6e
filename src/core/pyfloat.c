/*
 * pyfloat.c: Python's repr() of a float, which Barman writes into xlog.db
 * (WAL mtimes) and backup.info (copy_stats).
 *
 * repr() prints the shortest decimal string that reads back to the same
 * double (David Gay's algorithm), in fixed notation when the decimal
 * exponent is in [-4, 16) and in exponent notation otherwise, always with a
 * ".0" or an exponent so that the text stays a float. We find the shortest
 * digits by asking printf for 1, 2, ... 17 significant digits, correctly
 * rounded by glibc, and keeping the first that strtod() maps back to the
 * same value (or, at a power of two, the next decimal up: see
 * pyfloat_shortest()); then we lay the digits out as Python's
 * float_repr_style "short" does.
 */
#include "barrel/build.h"
#include "barrel/fmt.h"

#include <math.h>

#define PYFLOAT_MAX_DIGITS 17   /* enough for any double to round-trip */

/* Split printf's "d.ddde+xx" into its digits and the exponent of the first digit. */
static void
pyfloat_split(const char *text, char *digits, size_t dlen, int *exp10)
{
    size_t n = 0;
    const char *p = text;

    for (; *p != '\0' && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9' && n + 1 < dlen)
            digits[n++] = *p;
    digits[n] = '\0';
    *exp10 = *p == 'e' ? (int) strtol(p + 1, NULL, 10) : 0;
}

/* Does digits x 10^(exp10 - ndigits + 1) read back as value? */
static int
pyfloat_reads_back(const char *digits, int exp10, double value)
{
    char text[64];

    snprintf(text, sizeof(text), "%c.%se%d", digits[0], digits + 1, exp10);
    return strtod(text, NULL) == value;
}

/* Add one unit in the last place to a digit string; a carry out of the top adds an exponent. */
static void
pyfloat_increment(char *digits, int *exp10)
{
    size_t i = strlen(digits);

    while (i-- > 0) {
        if (digits[i] != '9') {
            digits[i]++;
            return;
        }
        digits[i] = '0';
    }
    /* all nines: 999 + 1 = 1000, same length, one more power of ten */
    digits[0] = '1';
    (*exp10)++;
}

/*
 * Fill digits (no dot, no trailing zeros) and the exponent of the first
 * digit. At each length the correctly rounded digits come first, as Gay's
 * algorithm prefers the candidate nearest the value; when they miss, the
 * next decimal up is tried too, because at a power of two the doubles below
 * are twice as close as those above and only the upper candidate can fit.
 */
static void
pyfloat_shortest(double value, char *digits, size_t dlen, int *exp10)
{
    char text[64];
    int prec;
    size_t n;

    for (prec = 1; prec <= PYFLOAT_MAX_DIGITS; prec++) {
        snprintf(text, sizeof(text), "%.*e", prec - 1, value);
        pyfloat_split(text, digits, dlen, exp10);
        if (pyfloat_reads_back(digits, *exp10, value))
            break;
        pyfloat_increment(digits, exp10);
        if (pyfloat_reads_back(digits, *exp10, value))
            break;
    }
    if (prec > PYFLOAT_MAX_DIGITS) {
        snprintf(text, sizeof(text), "%.*e", PYFLOAT_MAX_DIGITS - 1, value);
        pyfloat_split(text, digits, dlen, exp10);
    }
    n = strlen(digits);
    while (n > 1 && digits[n - 1] == '0')
        n--;
    digits[n] = '\0';
}

void
fmt_py_float(double value, char *buf, size_t len)
{
    char digits[PYFLOAT_MAX_DIGITS + 2];
    char out[400];
    size_t pos = 0;
    size_t ndig;
    int exp10;

    if (len == 0)
        return;
    if (isnan(value)) {
        snprintf(buf, len, "nan");
        return;
    }
    if (isinf(value)) {
        snprintf(buf, len, "%s", value < 0 ? "-inf" : "inf");
        return;
    }
    if (value == 0.0) {
        snprintf(buf, len, "%s", signbit(value) ? "-0.0" : "0.0");
        return;
    }

    if (value < 0) {
        out[pos++] = '-';
        value = -value;
    }
    pyfloat_shortest(value, digits, sizeof(digits), &exp10);
    ndig = strlen(digits);

    if (exp10 < -4 || exp10 >= 16) {
        /* exponent notation: "d[.ddd]e[+-]XX", at least two exponent digits */
        out[pos++] = digits[0];
        if (ndig > 1) {
            out[pos++] = '.';
            memcpy(out + pos, digits + 1, ndig - 1);
            pos += ndig - 1;
        }
        snprintf(out + pos, sizeof(out) - pos, "e%c%02d", exp10 < 0 ? '-' : '+', abs(exp10));
    } else if (exp10 < 0) {
        /* "0.000ddd" */
        int zeros = -exp10 - 1;

        out[pos++] = '0';
        out[pos++] = '.';
        while (zeros-- > 0)
            out[pos++] = '0';
        memcpy(out + pos, digits, ndig);
        pos += ndig;
        out[pos] = '\0';
    } else {
        /* integer part of exp10 + 1 digits (zero padded), then the rest or "0" */
        size_t int_digits = (size_t) exp10 + 1;
        size_t i;

        for (i = 0; i < int_digits; i++)
            out[pos++] = i < ndig ? digits[i] : '0';
        out[pos++] = '.';
        if (ndig > int_digits) {
            memcpy(out + pos, digits + int_digits, ndig - int_digits);
            pos += ndig - int_digits;
        } else {
            out[pos++] = '0';
        }
        out[pos] = '\0';
    }
    snprintf(buf, len, "%s", out);
}
