/*
 * backup_label.h: the backup.info fields that come from a backup_label
 * text and from the end position of a backup, computed as Barman 3.4 does
 * (backup_executor.py _backup_info_from_backup_label and
 * _backup_info_from_stop_location; spec 3.2).
 */
#ifndef BARREL_BACKUP_LABEL_H
#define BARREL_BACKUP_LABEL_H

#include "barrel/build.h"
#include <stdint.h>

struct br_error;
struct backup_info;

/*
 * From "START WAL LOCATION: <lsn> (file <segment>)" set begin_xlog,
 * begin_wal, begin_offset (lsn modulo xlog_segment_size, which must be set)
 * and timeline (the segment's first 8 hex digits); also backup_label itself.
 * begin_time is taken from "START TIME: ..." only when not set yet. A label
 * without these lines, or whose LSN and file disagree, is a BR_E_FORMAT error.
 */
int backup_label_apply(struct backup_info *bi, const char *label, struct br_error *err);

/*
 * end_xlog, end_wal and end_offset from the end LSN on timeline tli. The
 * boundary rule: an LSN at the very start of a segment ends the previous
 * segment (pg_walfile_name_offset), with offset 0.
 */
void backup_label_set_end(struct backup_info *bi, uint64_t end_lsn, uint32_t tli);

#endif /* BARREL_BACKUP_LABEL_H */
