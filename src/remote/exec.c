/*
 * exec.c: run one small command on the recovery host over an SSH exec
 * channel (test -e, mv, rm -rf: the few things SFTP cannot do in one
 * request) and collect its exit status, stdout and stderr.
 *
 * Both output streams share one channel window: reading stdout in blocking
 * mode while the command fills stderr would deadlock, so the channel is
 * read in non-blocking mode, both streams in turn, waiting on the socket in
 * the directions libssh2 asks for.
 */
#include "barrel/build.h"
#include "barrel/remote.h"

#include <errno.h>
#include <poll.h>

#include "barrel/error.h"
#include "barrel/mem.h"
#include "barrel/strbuf.h"
#include "remote_int.h"

#define EXEC_READ_BYTES 16384
#define EXEC_TIMEOUT_MS (600 * 1000)

void
remote_shell_quote(struct strbuf *sb, const char *arg)
{
    strbuf_append_char(sb, '\'');
    for (const char *p = arg; *p; p++) {
        if (*p == '\'')
            strbuf_append(sb, "'\\''");
        else
            strbuf_append_char(sb, *p);
    }
    strbuf_append_char(sb, '\'');
}

void
remote_exec_result_free(struct remote_exec_result *res)
{
    if (res == NULL)
        return;
    free(res->exit_signal);
    free(res->out);
    free(res->err);
    memset(res, 0, sizeof(*res));
    res->status = -1;
}

static int
signal_number(const char *name)
{
    static const struct { const char *name; int num; } sigs[] = {
        {"HUP", 1}, {"INT", 2}, {"QUIT", 3}, {"ILL", 4}, {"ABRT", 6}, {"FPE", 8}, {"KILL", 9},
        {"SEGV", 11}, {"PIPE", 13}, {"ALRM", 14}, {"TERM", 15}, {"USR1", 10}, {"USR2", 12},
    };

    for (size_t i = 0; i < BR_ARRAY_LEN(sigs); i++)
        if (strcmp(sigs[i].name, name) == 0)
            return sigs[i].num;
    return 127;
}

/* Wait until the socket is ready in the directions libssh2 is blocked on; -1 on timeout. */
static int
wait_socket(struct remote_session *s)
{
    struct pollfd pfd;
    int dir = libssh2_session_block_directions(s->ssh), r;

    pfd.fd = s->sock;
    pfd.events = 0;
    if (dir & LIBSSH2_SESSION_BLOCK_INBOUND)
        pfd.events |= POLLIN;
    if (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND)
        pfd.events |= POLLOUT;
    if (pfd.events == 0)
        pfd.events = POLLIN;
    do
        r = poll(&pfd, 1, EXEC_TIMEOUT_MS);
    while (r < 0 && errno == EINTR);
    return r > 0 ? 0 : -1;
}

static void
append_capped(struct strbuf *sb, const char *buf, size_t n)
{
    if (sb->len >= REMOTE_EXEC_MAX_OUTPUT)
        return;
    if (n > REMOTE_EXEC_MAX_OUTPUT - sb->len)
        n = REMOTE_EXEC_MAX_OUTPUT - sb->len;
    strbuf_append_len(sb, buf, n);
}

int
remote_exec(struct remote_session *s, const char *command, struct remote_exec_result *res, struct br_error *err)
{
    LIBSSH2_CHANNEL *ch;
    struct strbuf out, errb;
    char buf[EXEC_READ_BYTES];
    char *sig = NULL;
    size_t sig_len = 0;
    int rc = -1;

    memset(res, 0, sizeof(*res));
    res->status = -1;
    strbuf_init(&out);
    strbuf_init(&errb);
    strbuf_append(&out, "");
    strbuf_append(&errb, "");
    ch = libssh2_channel_open_session(s->ssh);
    if (ch == NULL) {
        remote_fail(s, err, "could not open an SSH channel to run \"%s\"", command);
        goto out;
    }
    if (libssh2_channel_exec(ch, command) != 0) {
        remote_fail(s, err, "could not run \"%s\"", command);
        goto out;
    }

    libssh2_session_set_blocking(s->ssh, 0);
    for (;;) {
        ssize_t n1, n2;
        int progress = 0;

        while ((n1 = libssh2_channel_read(ch, buf, sizeof(buf))) > 0) {
            append_capped(&out, buf, (size_t) n1);
            progress = 1;
        }
        while ((n2 = libssh2_channel_read_stderr(ch, buf, sizeof(buf))) > 0) {
            append_capped(&errb, buf, (size_t) n2);
            progress = 1;
        }
        if ((n1 < 0 && n1 != LIBSSH2_ERROR_EAGAIN) || (n2 < 0 && n2 != LIBSSH2_ERROR_EAGAIN)) {
            libssh2_session_set_blocking(s->ssh, 1);
            remote_fail(s, err, "could not read the output of \"%s\"", command);
            goto out;
        }
        if (libssh2_channel_eof(ch))
            break;
        if (!progress && wait_socket(s) != 0) {
            libssh2_session_set_blocking(s->ssh, 1);
            br_error_set(err, BR_E_REMOTE, "no answer from %s for %d s while running \"%s\"", s->label,
                         EXEC_TIMEOUT_MS / 1000, command);
            goto out;
        }
    }
    libssh2_session_set_blocking(s->ssh, 1);
    if (libssh2_channel_close(ch) != 0 || libssh2_channel_wait_closed(ch) != 0) {
        remote_fail(s, err, "could not close the channel of \"%s\"", command);
        goto out;
    }
    res->status = libssh2_channel_get_exit_status(ch);
    if (libssh2_channel_get_exit_signal(ch, &sig, &sig_len, NULL, NULL, NULL, NULL) == 0 && sig != NULL) {
        res->exit_signal = br_strndup(sig, sig_len);
        res->status = 128 + signal_number(res->exit_signal);
        libssh2_free(s->ssh, sig);
    }
    res->out = strbuf_detach(&out);
    res->err = strbuf_detach(&errb);
    rc = 0;
out:
    if (ch != NULL)
        libssh2_channel_free(ch);
    strbuf_free(&out);
    strbuf_free(&errb);
    return rc;
}

int
remote_exec_argv(struct remote_session *s, const char *const *argv, struct remote_exec_result *res,
                 struct br_error *err)
{
    struct strbuf cmd;
    int rc;

    strbuf_init(&cmd);
    for (size_t i = 0; argv[i] != NULL; i++) {
        if (i > 0)
            strbuf_append_char(&cmd, ' ');
        remote_shell_quote(&cmd, argv[i]);
    }
    rc = remote_exec(s, cmd.buf, res, err);
    strbuf_free(&cmd);
    return rc;
}

int
remote_remove_tree(struct remote_session *s, const char *path, struct br_error *err)
{
    const char *argv[] = {"rm", "-rf", "--", path, NULL};
    struct remote_exec_result res;

    if (path[0] != '/' || strcmp(path, "/") == 0)
        return br_error_set(err, BR_E_INTERNAL, "refusing to remove remote path \"%s\"", path);
    if (remote_exec_argv(s, argv, &res, err) != 0)
        return -1;
    if (res.status != 0) {
        size_t len = strlen(res.err);
        while (len > 0 && res.err[len - 1] == '\n')
            res.err[--len] = '\0';
        br_error_set(err, BR_E_REMOTE, "could not remove remote directory \"%s\" on %s: rm exited with status %d",
                     path, s->label, res.status);
        if (len > 0)
            br_error_detail(err, "%s", res.err);
        remote_exec_result_free(&res);
        return -1;
    }
    remote_exec_result_free(&res);
    return 0;
}
