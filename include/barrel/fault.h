/*
 * fault.h: test-only kill points in the durable-write paths.
 *
 * Every step that changes what is on disk for good (a write, an fsync, a
 * rename, an unlink in the catalog, the segment writer, the stage sinks)
 * calls fault_point() first. The hook is always compiled in and inert
 * unless the environment asks for it, so that the fault tests exercise the
 * very binary that ships:
 *
 *   BARREL_FAULT_KILL_AT=N   the N-th point in this process raises SIGKILL
 *                            (N >= 1); the process dies as at a power cut
 *                            of the process alone (the kernel keeps what was
 *                            written), with no cleanup of any kind;
 *   BARREL_FAULT_TRACE=FILE  each point appends "N WHAT\n" to FILE, so that a
 *                            test can count the points of an operation and
 *                            name the one a kill landed on.
 *
 * Both variables are read once, at the first point or at fault_init(), and
 * removed from the environment then, so that children (cron's archive-wal,
 * hooks) never inherit them. The counter is shared by all threads.
 */
#ifndef BARREL_FAULT_H
#define BARREL_FAULT_H

#include "barrel/build.h"

/* Read and clear the BARREL_FAULT_* variables; main() calls it before anything else. */
void fault_init(void);

/* One durable step named `what` (a string constant: "fs.rename", ...) is about to happen. */
void fault_point(const char *what);

#endif /* BARREL_FAULT_H */
