/*
 * xlog.c: LSN and WAL file-name arithmetic, as PostgreSQL's
 * xlog_internal.h macros and Barman's xlog.py define them.
 */
#include "barrel/build.h"
#include "barrel/xlog.h"

#include <ctype.h>
#include <inttypes.h>

static int
parse_hex(const char *s, size_t len, uint32_t *out)
{
    uint32_t v = 0;

    if (len == 0 || len > 8)
        return -1;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char) s[i];
        if (!isxdigit(c))
            return -1;
        v = (v << 4) | (uint32_t) (isdigit(c) ? c - '0' : (tolower(c) - 'a' + 10));
    }
    *out = v;
    return 0;
}

int
xlog_lsn_parse(const char *text, uint64_t *lsn)
{
    const char *slash = strchr(text, '/');
    uint32_t hi, lo;

    if (slash == NULL)
        return -1;
    if (parse_hex(text, (size_t) (slash - text), &hi) != 0 || parse_hex(slash + 1, strlen(slash + 1), &lo) != 0)
        return -1;
    *lsn = ((uint64_t) hi << 32) | lo;
    return 0;
}

void
xlog_lsn_format(uint64_t lsn, char *buf)
{
    snprintf(buf, XLOG_LSN_BUFLEN, "%" PRIX32 "/%" PRIX32, (uint32_t) (lsn >> 32), (uint32_t) lsn);
}

static int
all_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char) s[i]))
            return 0;
    return 1;
}

enum xlog_kind
xlog_name_parse(const char *name, struct xlog_name *out)
{
    size_t len = strlen(name);
    struct xlog_name tmp = {0};

    /* TTTTTTTT.history */
    if (len == 16 && all_hex(name, 8) && strcmp(name + 8, ".history") == 0) {
        parse_hex(name, 8, &tmp.tli);
        tmp.kind = XLOG_KIND_HISTORY;
        goto done;
    }
    if (len < XLOG_NAME_LEN || !all_hex(name, XLOG_NAME_LEN))
        return XLOG_KIND_NONE;
    parse_hex(name, 8, &tmp.tli);
    parse_hex(name + 8, 8, &tmp.log);
    parse_hex(name + 16, 8, &tmp.seg);
    if (len == XLOG_NAME_LEN)
        tmp.kind = XLOG_KIND_SEGMENT;
    else if (strcmp(name + XLOG_NAME_LEN, ".partial") == 0)
        tmp.kind = XLOG_KIND_PARTIAL;
    else if (len == XLOG_NAME_LEN + 16 && name[24] == '.' && all_hex(name + 25, 8)
             && strcmp(name + 33, ".backup") == 0) {
        parse_hex(name + 25, 8, &tmp.backup_offset);
        tmp.kind = XLOG_KIND_BACKUP;
    } else
        return XLOG_KIND_NONE;
done:
    if (out)
        *out = tmp;
    return tmp.kind;
}

int
xlog_is_segment_name(const char *name)
{
    return xlog_name_parse(name, NULL) == XLOG_KIND_SEGMENT;
}

uint32_t
xlog_segments_per_log(uint32_t segment_size)
{
    return (uint32_t) (UINT64_C(0x100000000) / segment_size);
}

uint64_t
xlog_segno(uint32_t log, uint32_t seg, uint32_t segment_size)
{
    return (uint64_t) log * xlog_segments_per_log(segment_size) + seg;
}

void
xlog_segment_name(uint32_t tli, uint64_t segno, uint32_t segment_size, char *buf)
{
    uint32_t per = xlog_segments_per_log(segment_size);
    snprintf(buf, XLOG_NAME_LEN + 1, "%08" PRIX32 "%08" PRIX32 "%08" PRIX32, tli,
             (uint32_t) (segno / per), (uint32_t) (segno % per));
}

uint64_t
xlog_segno_of_lsn(uint64_t lsn, uint32_t segment_size)
{
    return lsn / segment_size;
}

uint64_t
xlog_segno_of_end_lsn(uint64_t lsn, uint32_t segment_size)
{
    return lsn == 0 ? 0 : (lsn - 1) / segment_size;
}

uint32_t
xlog_segment_offset(uint64_t lsn, uint32_t segment_size)
{
    return (uint32_t) (lsn % segment_size);
}

void
xlog_hash_dir(const char *name, char *buf)
{
    struct xlog_name xn;
    enum xlog_kind kind = xlog_name_parse(name, &xn);

    if (kind == XLOG_KIND_NONE || kind == XLOG_KIND_HISTORY) {
        buf[0] = '\0';
        return;
    }
    snprintf(buf, 17, "%08" PRIX32 "%08" PRIX32, xn.tli, xn.log);
}
