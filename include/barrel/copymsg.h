/*
 * copymsg.h: bounds-checked readers for the messages that arrive inside
 * CopyData during BASE_BACKUP and START_REPLICATION (PostgreSQL's
 * protocol-replication docs). Every byte from the server is untrusted: a
 * read past the end, or bytes left over when a message should be complete,
 * is an error naming the message, never an out-of-bounds access
 * (pg_basebackup.c's GetCopyDataByte/String/UInt64/End do the same).
 *
 * Integers are big-endian on the wire.
 */
#ifndef BARREL_COPYMSG_H
#define BARREL_COPYMSG_H

#include "barrel/build.h"
#include <stddef.h>
#include <stdint.h>

struct br_error;

struct copymsg {
    const unsigned char *data;
    size_t len;
    size_t pos;
    const char *what;      /* message name for errors: "XLogData", "archive header" */
};

void copymsg_init(struct copymsg *m, const void *data, size_t len, const char *what);
int copymsg_byte(struct copymsg *m, uint8_t *out, struct br_error *err);
int copymsg_u32(struct copymsg *m, uint32_t *out, struct br_error *err);
int copymsg_u64(struct copymsg *m, uint64_t *out, struct br_error *err);
int copymsg_i64(struct copymsg *m, int64_t *out, struct br_error *err);
/* A NUL-terminated string inside the message: *out points into the message (borrowed). */
int copymsg_string(struct copymsg *m, const char **out, struct br_error *err);
/* The rest of the message (borrowed), possibly empty. */
void copymsg_rest(struct copymsg *m, const unsigned char **out, size_t *len);
/* Fail if bytes remain. */
int copymsg_end(struct copymsg *m, struct br_error *err);

/* Writers for the messages barrel sends (standby status update): big-endian into buf. */
void copymsg_put_u64(unsigned char *buf, uint64_t v);
void copymsg_put_u32(unsigned char *buf, uint32_t v);

#endif /* BARREL_COPYMSG_H */
