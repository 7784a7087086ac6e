/*
 * remote_int.h: what the files of src/remote/ share. The only header in
 * barrel that includes libssh2.h (DESIGN.md: library types stay in their
 * module).
 */
#ifndef BARREL_REMOTE_INT_H
#define BARREL_REMOTE_INT_H

#include "barrel/build.h"
#include <libssh2.h>
#include <libssh2_sftp.h>
#include <stdint.h>

struct br_error;

struct remote_session {
    int sock;
    LIBSSH2_SESSION *ssh;
    LIBSSH2_SFTP *sftp;        /* NULL until the first SFTP call */
    int fsync_supported;       /* 1 until the server says fsync@openssh.com is unsupported */
    char *label;               /* user@host[:port] */
};

/*
 * Set a BR_E_REMOTE error "<formatted> on LABEL: <reason>", the reason being
 * libssh2's last error text, or the SFTP status text when the failure was
 * an SFTP status. Returns -1.
 */
int remote_fail(struct remote_session *s, struct br_error *err, const char *fmt, ...) BR_PRINTF(3, 4);

/* The SFTP status of the last failed SFTP call (LIBSSH2_FX_*), 0 when the failure was not an SFTP status. */
unsigned long remote_sftp_status(struct remote_session *s);

/* The session's SFTP channel, started on first use; NULL with err set. */
LIBSSH2_SFTP *remote_sftp(struct remote_session *s, struct br_error *err);

/*
 * Pipelined SFTP writer. libssh2_sftp_write() sends everything it is given
 * as 30000-byte write requests and returns as soon as the first ones are
 * acknowledged; it must be called again with the data starting at the first
 * unacknowledged byte. So the writer keeps a buffer of REMOTE_WRITE_BUFFER
 * bytes: when it is full, it calls write until at most half is unacknowledged,
 * then moves that half to the front. About half a buffer stays in flight,
 * so throughput is not bound to one round trip per write.
 */
#define REMOTE_WRITE_BUFFER (4 * 1024 * 1024)

struct remote_writer {
    LIBSSH2_SFTP_HANDLE *handle;   /* borrowed */
    unsigned char *buf;            /* owned, REMOTE_WRITE_BUFFER bytes */
    size_t start, end;             /* unacknowledged bytes: buf[start..end) */
    int64_t written;               /* bytes acknowledged */
};

void remote_writer_init(struct remote_writer *w);
void remote_writer_reset(struct remote_writer *w);   /* frees the buffer */
/* Start writing to handle (the buffer must be empty). */
void remote_writer_begin(struct remote_writer *w, LIBSSH2_SFTP_HANDLE *handle);
int remote_writer_write(struct remote_session *s, struct remote_writer *w, const void *data, size_t len,
                        const char *path, struct br_error *err);
/* Wait until every byte is acknowledged. */
int remote_writer_flush(struct remote_session *s, struct remote_writer *w, const char *path, struct br_error *err);

/*
 * Finish a file opened for writing: attributes (mode always; mtime when
 * mtime >= 0), fsync when the server supports it and do_fsync is set, then
 * close. The handle is closed on every path.
 */
int remote_file_complete(struct remote_session *s, LIBSSH2_SFTP_HANDLE *h, const char *path, unsigned mode,
                         int64_t mtime, int do_fsync, struct br_error *err);

#endif /* BARREL_REMOTE_INT_H */
