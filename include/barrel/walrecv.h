/*
 * walrecv.h: the physical replication loop (PostgreSQL's receivelog.c
 * ReceiveXlogStream/HandleCopyStream, rewritten for barrel): TIMELINE_HISTORY,
 * START_REPLICATION [SLOT s] PHYSICAL lsn TIMELINE tli, XLogData and
 * keepalive messages, standby status updates, the end of a timeline and the
 * switch to the next one. Plus the replication commands around it
 * (READ_REPLICATION_SLOT, CREATE_/DROP_REPLICATION_SLOT, SHOW
 * wal_segment_size).
 *
 * The loop writes nothing itself: bytes go to a sink (struct walrecv_sink),
 * which the segment writer implements. Every message from the server is
 * parsed with the bounds-checked copymsg readers.
 *
 * Flush positions: the status update reports as flushed only what the sink
 * says is durable, so a replication slot never moves past WAL that a crash
 * could lose. The sink is flushed before each periodic status update and
 * before answering a reply request (which is what lets a shutting-down
 * primary finish quickly).
 */
#ifndef BARREL_WALRECV_H
#define BARREL_WALRECV_H

#include "barrel/build.h"
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

struct br_error;
struct pgconn;

/* Where the stream goes. Each call returns 0, or -1 with err set. */
struct walrecv_sink {
    void *arg;
    /* Position the sink: the next byte is `lsn` (a segment start) on `tli`. */
    int (*begin)(void *arg, uint32_t tli, uint64_t lsn, struct br_error *err);
    /* len bytes of WAL starting at lsn (always the position after the previous write). */
    int (*write)(void *arg, uint64_t lsn, const void *data, size_t len, struct br_error *err);
    /* Make everything written durable. */
    int (*flush)(void *arg, struct br_error *err);
    /* Everything before the returned LSN is durable. */
    uint64_t (*flushed)(void *arg);
    /* End of timeline or clean stop: flush and close the current segment (it stays partial). */
    int (*close_partial)(void *arg, struct br_error *err);
    /* 1 if the history file of tli is already there. */
    int (*has_history)(void *arg, uint32_t tli);
    /* Store a history file received with TIMELINE_HISTORY. */
    int (*write_history)(void *arg, uint32_t tli, const char *name, const void *content, size_t len,
                         struct br_error *err);
};

/* A line for the user ("starting log streaming at 0/2000000 (timeline 1)"). */
typedef void (*walrecv_notice_fn)(void *arg, const char *message);

#define WALRECV_STATUS_INTERVAL_MS 10000   /* pg_receivewal's --status-interval default */

/*
 * 1 when synchronous_standby_names (any of its forms: "a, b", "FIRST 1 (a, b)",
 * "ANY 2 (a, \"B\")", "*") lists application_name `name`, compared as
 * PostgreSQL does (case-insensitively); then receive-wal must run as a
 * synchronous standby (pg_receivewal --synchronous, as Barman does).
 */
int walrecv_standby_listed(const char *standby_names, const char *name);
#define WALRECV_POLL_MS 1000               /* longest wait before the stop flag is looked at again */

struct walrecv_options {
    const char *slot_name;             /* NULL: stream without a slot */
    uint32_t segment_size;             /* the server's wal_segment_size */
    int status_interval_ms;            /* 0: WALRECV_STATUS_INTERVAL_MS */
    int synchronous;                   /* flush and report after every burst of WAL (a synchronous standby) */
    volatile sig_atomic_t *stop;       /* set by a signal handler; the loop ends cleanly when non-zero */
    walrecv_notice_fn notice;          /* may be NULL */
    void *notice_arg;
};

/*
 * Stream from `startpos` (a segment start) on timeline `tli` over a
 * replication connection until *opts->stop is set, following timeline
 * switches. Returns 0 after a clean stop (status update sent, COPY ended,
 * current segment closed as partial); -1 with err otherwise: the connection
 * failed or the server ended the stream (BR_E_PG), a message did not parse
 * (BR_E_FORMAT), the sink failed (its code), the slot is active for another
 * process (BR_E_LOCKED). *started is set to 1 once
 * START_REPLICATION has been accepted at least once (the caller's back-off
 * uses it). Blocks; waits at most WALRECV_POLL_MS between looks at the flag.
 */
int walrecv_stream(struct pgconn *conn, const struct walrecv_options *opts, const struct walrecv_sink *sink,
                   uint32_t tli, uint64_t startpos, int *started, struct br_error *err);

/* ---- message handling, separate from libpq so that tests can feed it crafted buffers ---- */

struct walrecv_state {
    uint64_t blockpos;                 /* end of the WAL received so far */
    uint64_t server_wal_end;           /* last walEnd the server reported */
    int reply_requested;               /* a keepalive asked for an immediate status update */
    uint64_t messages;                 /* XLogData messages handled */
};

/*
 * Handle one CopyData message of the replication stream: 'w' (XLogData:
 * dataStart, walEnd, sendTime, data; the data goes to sink->write) or 'k'
 * (keepalive: walEnd, sendTime, replyRequested). Any other type, a short
 * message or trailing bytes is BR_E_FORMAT.
 */
int walrecv_handle_message(struct walrecv_state *st, const struct walrecv_sink *sink, const void *buf, size_t len,
                           struct br_error *err);

#define WALRECV_STATUS_LEN 34   /* 'r', write, flush, apply, sendTime, replyRequested */
/* Build a standby status update ('r') into buf (WALRECV_STATUS_LEN bytes); apply is always invalid (0). */
void walrecv_build_status(unsigned char *buf, uint64_t write_lsn, uint64_t flush_lsn, int64_t now_us,
                          int reply_requested);
/* Microseconds since 2000-01-01 00:00:00 UTC (the protocol's timestamps). */
int64_t walrecv_now_us(void);

/* ---- replication commands (on a replication connection) ---- */

/* SHOW wal_segment_size, parsed ("16MB" -> 16777216); checked to be a power of two of 1 MB .. 1 GB. */
int walrecv_segment_size(struct pgconn *conn, uint32_t *segment_size, struct br_error *err);

struct walrecv_slot {
    int exists;
    uint64_t restart_lsn;              /* 0 when the slot never reserved WAL */
    uint32_t restart_tli;              /* 0 when unknown */
};
/* READ_REPLICATION_SLOT (PostgreSQL >= 15); BR_E_PG with a clear message on older servers. */
int walrecv_read_slot(struct pgconn *conn, const char *slot_name, struct walrecv_slot *slot, struct br_error *err);

enum walrecv_slot_result {
    WALRECV_SLOT_OK = 0,
    WALRECV_SLOT_EXISTS,               /* create: duplicate_object */
    WALRECV_SLOT_FULL,                 /* create: configuration_limit_exceeded */
    WALRECV_SLOT_MISSING,              /* drop: undefined_object */
    WALRECV_SLOT_IN_USE,               /* drop: object_in_use */
    WALRECV_SLOT_ERROR,                /* anything else: err holds the server's message */
};
/* CREATE_REPLICATION_SLOT name PHYSICAL (the name is an identifier: checked, not quoted, as Barman sends it). */
enum walrecv_slot_result walrecv_create_slot(struct pgconn *conn, const char *slot_name, struct br_error *err);
/* DROP_REPLICATION_SLOT name */
enum walrecv_slot_result walrecv_drop_slot(struct pgconn *conn, const char *slot_name, struct br_error *err);

#endif /* BARREL_WALRECV_H */
