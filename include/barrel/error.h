/*
 * error.h: the one error struct that every fallible barrel function fills.
 *
 * Convention (STYLE.md section 5): a function that can fail returns 0 or -1
 * (or a pointer or NULL) and takes a `struct br_error *err` last. The error
 * is set once, where the cause is known, with the context a user needs; the
 * callers pass it up unchanged (they may add a detail). Only main.c prints
 * it and turns `code` into an exit status.
 */
#ifndef BARREL_ERROR_H
#define BARREL_ERROR_H

#include "barrel/build.h"

enum br_error_code {
    BR_E_OK = 0,
    BR_E_INTERNAL,     /* a broken invariant or an impossible state */
    BR_E_USAGE,        /* bad command line: exit 2, like argparse */
    BR_E_CONFIG,       /* bad configuration file: exit 2 */
    BR_E_NOT_FOUND,    /* unknown server, backup, WAL file */
    BR_E_IO,           /* a system call on a file failed */
    BR_E_FORMAT,       /* a file or stream that does not parse */
    BR_E_PG,           /* PostgreSQL refused or the connection failed */
    BR_E_LOCKED,       /* a lock is held by another process */
    BR_E_STATE,        /* the catalog state forbids the action */
    BR_E_BAD_WAL_NAME, /* get-wal with a name that is not a WAL name: exit 3 */
    BR_E_CHECK_FAILED, /* a check failed; already reported, exit 1 */
    BR_E_INTERRUPTED,  /* SIGINT/SIGTERM */
    BR_E_NAGIOS_CRITICAL, /* check --nagios found a problem; already printed: exit 2 */
    BR_E_REMOTE,       /* SSH/SFTP: connection, host key, authentication or a remote file operation */
};

struct br_error {
    int  code;         /* enum br_error_code */
    int  sys_errno;    /* errno at the failure, 0 if none */
    char msg[512];     /* primary message: lowercase, no final period */
    char detail[512];  /* optional, full sentence */
    char hint[256];    /* optional, full sentence */
};

/* Reset to "no error". */
void br_error_clear(struct br_error *err);

/* Fill err (code, message) and return -1, so that `return br_error_set(...)` reads naturally. */
int br_error_set(struct br_error *err, int code, const char *fmt, ...) BR_PRINTF(3, 4);

/* As br_error_set, and append ": <strerror(errno)>" using the errno at the call. */
int br_error_sys(struct br_error *err, int code, const char *fmt, ...) BR_PRINTF(3, 4);

/* Set the optional detail / hint of an already set error. */
void br_error_detail(struct br_error *err, const char *fmt, ...) BR_PRINTF(2, 3);
void br_error_hint(struct br_error *err, const char *fmt, ...) BR_PRINTF(2, 3);

#endif /* BARREL_ERROR_H */
