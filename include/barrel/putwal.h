/*
 * putwal.h: put-wal, the server side of barman-wal-archive (spec 6.9):
 * a tar stream with the WAL file(s) and an MD5SUMS (Barman 3.4 clients) or
 * SHA256SUMS (newer clients) member, stored into incoming/ durably.
 */
#ifndef BARREL_PUTWAL_H
#define BARREL_PUTWAL_H

#include "barrel/build.h"

struct br_error;
struct server_config;

/* Most members one stream may carry (barman-wal-archive sends two). */
#define PUTWAL_MAX_MEMBERS 64

/*
 * Read the tar stream from in_fd (ustar or pax), write each regular member
 * to incoming/.<pid>-<name> while hashing it (MD5 and SHA-256), check that
 * every file has a matching checksum and every checksum a file, then put
 * each file in place with link(2) + fsync, so an existing incoming/<name>
 * is never overwritten: identical content is accepted (a client retrying
 * after being killed), different content is refused with Barman's
 * "Impossible to write already existing file ..." error. Temporary files are
 * removed on every path. Errors carry Barman's messages (exit status 1).
 */
int putwal_run(const struct server_config *srv, int in_fd, struct br_error *err);

#endif /* BARREL_PUTWAL_H */
