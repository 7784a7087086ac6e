/*
 * walcheck.h: is an archived WAL segment what its name says? Decompress
 * it completely (so a damaged gzip/bzip2/zstd stream is caught), check its
 * length is the segment size, and check the long page header of its first
 * page: magic of a supported PostgreSQL version, long-header flag, page
 * address = the segment's start LSN, system identifier and segment size.
 */
#ifndef BARREL_WALCHECK_H
#define BARREL_WALCHECK_H

#include "barrel/build.h"
#include <stdint.h>

struct br_error;
struct server_config;

/*
 * Check the file at path holding segment `name` (a 24-hex segment name).
 * expected_sysid may be NULL (not checked) or the decimal system id.
 * 0 if good; -1 with err naming the segment and what is wrong.
 */
int walcheck_segment(const struct server_config *srv, const char *path, const char *name, const char *expected_sysid,
                     uint32_t segment_size, struct br_error *err);

#endif /* BARREL_WALCHECK_H */
