/*
 * build.h: included first by every barrel .c file.
 *
 * It fixes the feature-test macros (POSIX 2008 plus the BSD/GNU bits we use:
 * flock, mkdtemp, strsep), declares the printf-format attribute macro, and
 * poisons the unbounded string functions so that a later use fails to build,
 * as pgBackRest's src/build.h does. The system headers that declare them are
 * included before the poison so that their own declarations still compile.
 */
#ifndef BARREL_BUILD_H
#define BARREL_BUILD_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#define BR_PRINTF(fmt_idx, first_arg) __attribute__((format(printf, fmt_idx, first_arg)))
#define BR_UNUSED __attribute__((unused))
#define BR_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#pragma GCC poison sprintf vsprintf strcpy strcat strncpy gets

#endif /* BARREL_BUILD_H */
