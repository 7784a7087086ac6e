/*
 * remote.h: SSH and SFTP to a recovery host, spoken by barrel itself
 * through libssh2 (DESIGN.md, module remote/). No ssh or rsync process is
 * started on the data path.
 *
 * - remote_target: a Barman-style --remote-ssh-command string
 *   ("ssh [-p PORT] [-i KEY] [-o Option=Value ...] user@host") parsed into
 *   what barrel can honour; anything it cannot is refused with a message.
 * - remote_session: one TCP connection, one SSH session, its host key
 *   checked against known_hosts (strict by default: an unknown or changed
 *   key is refused), authenticated by ssh-agent, then key files, then (only
 *   when configured) a password; lazily one SFTP channel. A session is used
 *   by one thread at a time: --jobs N opens N sessions.
 * - SFTP file operations, a durable remote file sink, the remote secure
 *   extractor stage (stage_sftp_extract_new), and an exec helper for small
 *   commands (test, mv, rm -rf).
 *
 * All calls block. Every failure returns -1 (or NULL) with a BR_E_REMOTE
 * error naming the host and carrying libssh2's or the SFTP server's reason.
 * Passwords never appear in a message.
 */
#ifndef BARREL_REMOTE_H
#define BARREL_REMOTE_H

#include "barrel/build.h"
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct br_error;
struct stage;
struct strbuf;

#define REMOTE_SSH_DEFAULT_PORT 22
/* Environment variable holding the password when PasswordAuthentication=yes is given. */
#define REMOTE_PASSWORD_ENV "BARREL_SSH_PASSWORD"

enum remote_hostkey_policy {
    REMOTE_HOSTKEY_STRICT,      /* default, StrictHostKeyChecking=yes: unknown and changed keys refused */
    REMOTE_HOSTKEY_ACCEPT_NEW,  /* accept-new (or no): an unknown key is added; a changed key is refused */
};

struct remote_target {
    char *command;          /* the string as given, for messages */
    char *host;             /* name or address; IPv6 without brackets */
    int port;
    char *user;             /* login name; never NULL after a successful parse */
    char **identity_files;  /* -i / IdentityFile, NULL-terminated; NULL when none */
    int identities_only;    /* IdentitiesOnly=yes: no agent when identity files are given */
    char *known_hosts;      /* UserKnownHostsFile; NULL: ~/.ssh/known_hosts */
    enum remote_hostkey_policy hostkey_policy;
    int password_auth;      /* PasswordAuthentication=yes: password from REMOTE_PASSWORD_ENV */
    int connect_timeout_s;  /* ConnectTimeout; default 30 */
    int alive_interval_s;   /* ServerAliveInterval; default 15 (SSH keepalives) */
    int alive_count_max;    /* ServerAliveCountMax; default 3: no reply for interval*count = dead */
    int compression;        /* -C / Compression=yes */
    int family;             /* AF_UNSPEC, or AF_INET / AF_INET6 with -4 / -6 */
};

/*
 * Parse a --remote-ssh-command string (shell words: quotes and backslashes
 * as sh reads them). The program must be ssh (any path). Understood:
 * -p PORT, -l USER, -i FILE, -4, -6, -C, -q, -T, -n, -x, -v (ignored) and
 * -o for Port, User, IdentityFile, IdentitiesOnly, UserKnownHostsFile,
 * StrictHostKeyChecking (yes, accept-new; no acts as accept-new: barrel
 * never accepts a changed key), PasswordAuthentication, PubkeyAuthentication
 * (yes), ConnectTimeout, ServerAliveInterval, ServerAliveCountMax,
 * Compression, BatchMode, LogLevel, ForwardAgent=no, ForwardX11=no,
 * RequestTTY=no, ControlMaster=no, AddressFamily. Anything else (a
 * ProxyCommand, a jump host, forwarding, -F, a remote command after the
 * host) is refused with BR_E_USAGE naming it. The user defaults to the
 * current user. t is initialised here; remote_target_reset frees it (also
 * after a failure).
 */
int remote_target_parse(const char *command, struct remote_target *t, struct br_error *err);
void remote_target_reset(struct remote_target *t);

/* "user@host" or "user@[host]:port", new string, for messages. */
char *remote_target_label(const struct remote_target *t);

struct remote_session;

/*
 * Connect (getaddrinfo, IPv4 or IPv6, ConnectTimeout), handshake, check the
 * host key, authenticate. Host key: ~/.ssh/known_hosts of the user running
 * barrel (HOME, or the passwd entry) or UserKnownHostsFile, then
 * /etc/ssh/ssh_known_hosts; the key types known for the host are preferred
 * in the negotiation, as OpenSSH does. Refused, with BR_E_REMOTE:
 *   host key for 'HOST' is not in known_hosts (FILE)
 *   host key for 'HOST' has CHANGED since it was recorded in known_hosts (FILE): possible man-in-the-middle attack
 *   host key for 'HOST' is marked as revoked in known_hosts (FILE)
 * where HOST is the known_hosts name ("host", or "[host]:port" when the port
 * is not 22). Authentication: every identity of ssh-agent (SSH_AUTH_SOCK),
 * then the -i files or ~/.ssh/id_ed25519, id_ecdsa, id_rsa; a password only
 * with PasswordAuthentication=yes. Returns a session the caller closes.
 */
struct remote_session *remote_session_open(const struct remote_target *t, struct br_error *err);
/* Close the SFTP channel, disconnect politely, close the socket, free. NULL is a no-op. */
void remote_session_close(struct remote_session *s);
/* "user@host[:port]", owned by the session. */
const char *remote_session_label(const struct remote_session *s);
/* Send an SSH keepalive when one is due (cheap; long local work between remote calls should call it). */
int remote_session_keepalive(struct remote_session *s, struct br_error *err);

/* ---- SFTP file operations (src/remote/sftp.c); paths are remote and absolute ---- */

enum remote_file_type { REMOTE_FILE = 'f', REMOTE_DIR = 'd', REMOTE_SYMLINK = 'l', REMOTE_OTHER = '?' };

struct remote_stat {
    enum remote_file_type type;
    unsigned mode;          /* permission bits */
    int64_t size;
    int64_t mtime;
};

/* lstat: 0 and *st filled when path exists, 1 when it does not, -1 on error. */
int remote_lstat(struct remote_session *s, const char *path, struct remote_stat *st, struct br_error *err);
/* Resolve symlinks, "." and ".." (the path must exist): new string or NULL. */
char *remote_realpath(struct remote_session *s, const char *path, struct br_error *err);
/* mkdir -p: each directory created gets `mode` (exactly, whatever the remote umask); existing ones are fine. */
int remote_mkdir_p(struct remote_session *s, const char *path, unsigned mode, struct br_error *err);
/* Remove a file or symlink; a missing path is fine. */
int remote_unlink(struct remote_session *s, const char *path, struct br_error *err);
/* Rename, replacing `to` when it exists (SFTP v3 renames refuse that: `to` is removed first). */
int remote_rename(struct remote_session *s, const char *from, const char *to, struct br_error *err);
/* Create the symlink linkpath -> target (target is stored as given). */
int remote_symlink(struct remote_session *s, const char *target, const char *linkpath, struct br_error *err);
int remote_chmod(struct remote_session *s, const char *path, unsigned mode, struct br_error *err);
/* Set atime and mtime (follows symlinks, as SFTP SETSTAT does). */
int remote_utime(struct remote_session *s, const char *path, int64_t mtime, struct br_error *err);
/* 1 when the server offers fsync@openssh.com (known after the first file synced; 1 until then). */
int remote_fsync_supported(const struct remote_session *s);

/*
 * Write a whole small file durably: "<path>.tmp" written with `mode`,
 * fsynced (fsync@openssh.com when offered), renamed over path. On failure
 * the temporary file is removed and path is untouched.
 */
int remote_write_file(struct remote_session *s, const char *path, const void *data, size_t len, unsigned mode,
                      struct br_error *err);
/*
 * Read a whole small file into a new NUL-terminated buffer (*len_out, when
 * not NULL, gets its length). Missing file: NULL with BR_E_NOT_FOUND; larger
 * than max_bytes: NULL with BR_E_REMOTE.
 */
char *remote_read_file(struct remote_session *s, const char *path, size_t max_bytes, size_t *len_out,
                       struct br_error *err);

/*
 * Remote file sink (the SFTP twin of stage_file_sink_new): RAW bytes go to
 * "<path>.tmp" (created with `mode`) in pipelined writes; at finish it is
 * fsynced and renamed to path. Freed without a successful finish, it
 * removes the temporary file. The session is borrowed and must outlive it.
 */
struct stage *stage_sftp_file_sink_new(struct remote_session *s, const char *path, unsigned mode,
                                       struct br_error *err);
int64_t stage_sftp_file_sink_bytes(const struct stage *st);

/*
 * Remote secure extractor (the SFTP twin of stage_extract_new, same
 * contract and messages): member chunks in, files written under dest on
 * the remote host, which must exist (it is resolved with realpath first).
 * Refused, with an error naming the member: an absolute path, a ".."
 * component, a path whose directories are not real directories (writing
 * through a symlink), a member type other than file, directory or symlink.
 * Files are created exclusively (an existing file or symlink at the final
 * name is removed first, never followed), written with pipelined SFTP
 * writes, get their mode and mtime, and are fsynced (fsync@openssh.com)
 * before close. Directories are created 0700 and get their own mode and
 * mtime at finish. `skip` (NULL-terminated, may be NULL) lists member paths
 * not to extract. The session is borrowed and must outlive the stage.
 */
struct stage *stage_sftp_extract_new(struct remote_session *s, const char *dest, const char *const *skip,
                                     struct br_error *err);
/* Files and bytes written so far. */
void stage_sftp_extract_counts(const struct stage *st, int64_t *files, int64_t *bytes);
/* Turn the per-file fsync off (tests, or a caller that syncs otherwise). On by default. */
void stage_sftp_extract_set_fsync(struct stage *st, int on);

/* ---- exec channel (src/remote/exec.c) ---- */

#define REMOTE_EXEC_MAX_OUTPUT (64 * 1024)

struct remote_exec_result {
    int status;          /* exit status; 128+N when killed by signal N (as sh reports it); -1 if unknown */
    char *exit_signal;   /* "TERM" when killed by a signal, else NULL */
    char *out;           /* stdout, NUL-terminated, at most REMOTE_EXEC_MAX_OUTPUT bytes kept */
    char *err;           /* stderr, likewise */
};

/*
 * Run one command line on the remote host (through the login shell, as ssh
 * does) and wait for it. Returns 0 when the command ran, whatever its exit
 * status (res filled; free it with remote_exec_result_free), -1 when the
 * channel failed. Output beyond REMOTE_EXEC_MAX_OUTPUT per stream is read
 * and dropped.
 */
int remote_exec(struct remote_session *s, const char *command, struct remote_exec_result *res,
                struct br_error *err);
/* As remote_exec, with each argument single-quoted as Barman does ("test '-e' '/path'"). */
int remote_exec_argv(struct remote_session *s, const char *const *argv, struct remote_exec_result *res,
                     struct br_error *err);
void remote_exec_result_free(struct remote_exec_result *res);
/* Append arg to sb quoted for a POSIX shell ('...' with ' as '\''). */
void remote_shell_quote(struct strbuf *sb, const char *arg);
/* rm -rf path on the remote host; 0, or -1 when the command fails (its stderr in the detail). */
int remote_remove_tree(struct remote_session *s, const char *path, struct br_error *err);

/* ---- restore target (src/remote/restore_target_ssh.c) ---- */

struct restore_target;

/*
 * The host of a --remote-ssh-command as a restore_target (restore_target.h)
 * for `barrel recover`: file operations over SFTP on one session, sinks
 * (the remote extractor) on sessions of their own leased from a pool, one
 * per worker thread, rm -rf and kill -0 through the exec helper. The first
 * session is opened here and must run `true`, as Barman checks: a refused
 * host key or login fails here, before anything is written. Free with
 * restore_target_free().
 */
struct restore_target *restore_target_ssh_new(const char *ssh_command, struct br_error *err);

#endif /* BARREL_REMOTE_H */
