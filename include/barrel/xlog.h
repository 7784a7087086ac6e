/*
 * xlog.h: LSN and WAL file-name arithmetic (PostgreSQL's xlog_internal.h
 * rules, and Barman's xlog.py name classes). Pure functions, no I/O.
 */
#ifndef BARREL_XLOG_H
#define BARREL_XLOG_H

#include "barrel/build.h"
#include <stdint.h>

#define XLOG_DEFAULT_SEGMENT_SIZE 16777216u
#define XLOG_NAME_LEN 24                 /* TTTTTTTTXXXXXXXXYYYYYYYY */
#define XLOG_LSN_BUFLEN 18               /* "FFFFFFFF/FFFFFFFF" + NUL */

enum xlog_kind {
    XLOG_KIND_NONE = 0,     /* not a WAL-archive name */
    XLOG_KIND_SEGMENT,      /* 000000010000000000000001 */
    XLOG_KIND_PARTIAL,      /* 000000010000000000000001.partial */
    XLOG_KIND_BACKUP,       /* 000000010000000000000001.00000028.backup */
    XLOG_KIND_HISTORY,      /* 00000002.history */
};

struct xlog_name {
    enum xlog_kind kind;
    uint32_t tli;
    uint32_t log;           /* high 32 bits of the segment's LSN */
    uint32_t seg;           /* segment within log */
    uint32_t backup_offset; /* XLOG_KIND_BACKUP only */
};

/* Parse "X/X" (hex, any case). 0 on success, -1 if malformed. */
int xlog_lsn_parse(const char *text, uint64_t *lsn);
/* Format as PostgreSQL does: "%X/%X". buf must hold XLOG_LSN_BUFLEN. */
void xlog_lsn_format(uint64_t lsn, char *buf);

/* Classify a file name (Barman's regular expression); kind NONE if it is not one. */
enum xlog_kind xlog_name_parse(const char *name, struct xlog_name *out);
int xlog_is_segment_name(const char *name);

/* Segments per log id for a segment size (256 for 16 MiB). */
uint32_t xlog_segments_per_log(uint32_t segment_size);
/* Absolute segment number <-> (log, seg). */
uint64_t xlog_segno(uint32_t log, uint32_t seg, uint32_t segment_size);
/* "%08X%08X%08X" for tli and absolute segment number; buf holds XLOG_NAME_LEN + 1. */
void xlog_segment_name(uint32_t tli, uint64_t segno, uint32_t segment_size, char *buf);
/* The segment holding `lsn`. */
uint64_t xlog_segno_of_lsn(uint64_t lsn, uint32_t segment_size);
/*
 * The end_wal rule (pg_walfile_name_offset): an LSN exactly at a segment
 * start belongs to the previous segment.
 */
uint64_t xlog_segno_of_end_lsn(uint64_t lsn, uint32_t segment_size);
/* Offset of lsn inside its segment. */
uint32_t xlog_segment_offset(uint64_t lsn, uint32_t segment_size);

/* Hash directory of a name: first 16 chars, upper case; "" for history files. buf: 17 bytes. */
void xlog_hash_dir(const char *name, char *buf);

#endif /* BARREL_XLOG_H */
