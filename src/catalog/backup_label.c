/*
 * backup_label.c: backup.info fields from a backup_label text and from the
 * end position of a backup (Barman 3.4's _backup_info_from_backup_label and
 * _backup_info_from_stop_location).
 *
 * The label is the server's (it arrives inside base.tar) and is parsed as
 * untrusted text: the LSN must parse and agree with the file name on it.
 */
#include "barrel/build.h"
#include "barrel/backup_label.h"

#include <stdint.h>

#include "barrel/catalog.h"
#include "barrel/error.h"
#include "barrel/mem.h"
#include "barrel/timestamp.h"
#include "barrel/xlog.h"

/* The value of "KEY: value" at the start of a line, up to the end of the line (new string), or NULL. */
static char *
label_line(const char *label, const char *key)
{
    size_t klen = strlen(key);

    for (const char *p = label; p != NULL && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, key, klen) == 0) {
            const char *v = p + klen, *end = strchr(v, '\n');

            return br_strndup(v, end ? (size_t) (end - v) : strlen(v));
        }
    }
    return NULL;
}

/* "START TIME: 2026-11-22 12:58:29 UTC": the server writes its log_timezone abbreviation; only UTC/GMT are certain. */
static void
label_start_time(struct backup_info *bi, const char *label)
{
    char *v = label_line(label, "START TIME: ");
    char text[40];
    size_t len;

    if (v == NULL)
        return;
    len = strlen(v);
    if (len == 23 && (strcmp(v + 19, " UTC") == 0 || strcmp(v + 19, " GMT") == 0)) {
        snprintf(text, sizeof(text), "%.19s+00:00", v);
        if (br_timestamp_parse(text, &bi->begin_time) == 0)
            bi->begin_time_set = 1;
    }
    free(v);
}

int
backup_label_apply(struct backup_info *bi, const char *label, struct br_error *err)
{
    char *v = label_line(label, "START WAL LOCATION: ");
    char lsn_text[XLOG_LSN_BUFLEN], file[XLOG_NAME_LEN + 1], expect[XLOG_NAME_LEN + 1];
    struct xlog_name xn;
    uint64_t lsn;
    uint32_t segsize = bi->xlog_segment_size > 0 && bi->xlog_segment_size != BI_NULL_INT
                           ? (uint32_t) bi->xlog_segment_size : XLOG_DEFAULT_SEGMENT_SIZE;
    int n = 0;

    /* "0/2000028 (file 000000010000000000000002)" */
    if (v == NULL || sscanf(v, "%17s (file %24[0-9A-Fa-f])%n", lsn_text, file, &n) != 2 || n == 0
        || v[n] != '\0') {
        free(v);
        return br_error_set(err, BR_E_FORMAT, "failure parsing backup_label for backup %s", bi->backup_id);
    }
    free(v);
    if (xlog_lsn_parse(lsn_text, &lsn) != 0 || xlog_name_parse(file, &xn) != XLOG_KIND_SEGMENT)
        return br_error_set(err, BR_E_FORMAT, "failure parsing backup_label for backup %s", bi->backup_id);
    xlog_segment_name(xn.tli, xlog_segno_of_lsn(lsn, segsize), segsize, expect);
    if (strcmp(expect, file) != 0)
        return br_error_set(err, BR_E_FORMAT, "backup_label of backup %s: location %s is not in file %s",
                            bi->backup_id, lsn_text, file);

    free(bi->backup_label);
    bi->backup_label = br_strdup(label);
    bi->timeline = xn.tli;
    free(bi->begin_xlog);
    xlog_lsn_format(lsn, lsn_text);
    bi->begin_xlog = br_strdup(lsn_text);
    free(bi->begin_wal);
    bi->begin_wal = br_strdup(file);
    bi->begin_offset = xlog_segment_offset(lsn, segsize);
    if (!bi->begin_time_set)
        label_start_time(bi, label);
    return 0;
}

void
backup_label_set_end(struct backup_info *bi, uint64_t end_lsn, uint32_t tli)
{
    char text[XLOG_LSN_BUFLEN], name[XLOG_NAME_LEN + 1];
    uint32_t segsize = bi->xlog_segment_size > 0 && bi->xlog_segment_size != BI_NULL_INT
                           ? (uint32_t) bi->xlog_segment_size : XLOG_DEFAULT_SEGMENT_SIZE;

    xlog_lsn_format(end_lsn, text);
    xlog_segment_name(tli, xlog_segno_of_end_lsn(end_lsn, segsize), segsize, name);
    free(bi->end_xlog);
    bi->end_xlog = br_strdup(text);
    free(bi->end_wal);
    bi->end_wal = br_strdup(name);
    bi->end_offset = xlog_segment_offset(end_lsn, segsize);
}
