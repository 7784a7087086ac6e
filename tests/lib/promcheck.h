/*
 * promcheck.h: a strict checker of the Prometheus text exposition format
 * (0.0.4), for the metrics tests: it runs always, whether or not promtool
 * is installed, and is stricter than the parser where barrel can be.
 */
#ifndef BARREL_TEST_PROMCHECK_H
#define BARREL_TEST_PROMCHECK_H

#include "barrel/build.h"
#include <stddef.h>

/*
 * 0 when text is well formed; -1 with the first problem in why ("line N:
 * ..."). Rules: every line is "# HELP name text", "# TYPE name type" or a
 * sample "name[{label="value",...}] value"; names match
 * [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* and not
 * "__"-prefixed, label values are quoted with only \\ \" \n escapes, no
 * label twice; values parse as floats (or +Inf, -Inf, NaN); each sample's
 * family has one # TYPE before its first sample, at most one # HELP; a
 * family's lines are contiguous; no series appears twice; the text ends
 * with a newline and has no empty lines.
 */
int h_prom_check(const char *text, char *why, size_t why_len);

/* Samples (non-comment lines) in text. */
size_t h_prom_count_samples(const char *text);

#endif /* BARREL_TEST_PROMCHECK_H */
