/*
 * test_remote.c: barrel's SSH transport against a real OpenSSH server on
 * 127.0.0.1 (tests/lib/sshd.c): sessions, host key refusals with their
 * exact messages, authentication failures, the exec helper, SFTP file
 * operations, the remote secure extractor on a real tar.zst (byte-identical
 * with modes and times, hostile members refused with nothing outside the
 * destination changed) and two parallel sessions as --jobs 2 uses them.
 */
#include "barrel/build.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "barrel/error.h"
#include "barrel/fs.h"
#include "barrel/mem.h"
#include "barrel/remote.h"
#include "barrel/stage.h"
#include "harness.h"
#include "sshd.h"
#include "tcpproxy.h"

static struct h_sshd *g_sshd;
static char *g_old_home;

static int
setup_server(void **state)
{
    (void) state;
    if (!h_sshd_available()) {
        fprintf(stderr, "sshd or ssh-keygen missing: remote tests skipped (make deps)\n");
        return 0;
    }
    g_sshd = h_sshd_start();
    if (g_sshd == NULL)
        return -1;
    g_old_home = h_sshd_use_home(g_sshd);
    return 0;
}

static int
teardown_server(void **state)
{
    (void) state;
    h_sshd_destroy(g_sshd);
    g_sshd = NULL;
    if (g_old_home != NULL)
        setenv("HOME", g_old_home, 1);
    free(g_old_home);
    return 0;
}

#define NEED_SSHD()            \
    do {                       \
        if (g_sshd == NULL)    \
            skip();            \
    } while (0)

/* Open a session with the given command (NULL: the harness's own). */
static struct remote_session *
open_with(const char *command, struct br_error *err)
{
    struct remote_target t;
    char *cmd = command != NULL ? br_strdup(command) : h_sshd_command(g_sshd);
    struct remote_session *s = NULL;

    br_error_clear(err);
    if (remote_target_parse(cmd, &t, err) == 0)
        s = remote_session_open(&t, err);
    remote_target_reset(&t);
    free(cmd);
    return s;
}

static struct remote_session *
open_ok(void)
{
    struct br_error err;
    struct remote_session *s = open_with(NULL, &err);

    if (s == NULL)
        fail_msg("session refused: %s (%s) %s", err.msg, err.detail, err.hint);
    return s;
}

/* ------------------------------------------------------------- sessions */

static void
test_session_connect_and_exec(void **state)
{
    struct remote_session *s;
    struct remote_exec_result res;
    struct br_error err;
    (void) state;
    NEED_SSHD();

    s = open_ok();
    assert_int_equal(remote_exec(s, "true", &res, &err), 0);
    assert_int_equal(res.status, 0);
    assert_string_equal(res.out, "");
    remote_exec_result_free(&res);

    assert_int_equal(remote_exec(s, "echo out; echo err >&2; exit 3", &res, &err), 0);
    assert_int_equal(res.status, 3);
    assert_string_equal(res.out, "out\n");
    assert_string_equal(res.err, "err\n");
    remote_exec_result_free(&res);

    /* Barman's quoting: test '-e' '/path' */
    {
        const char *argv[] = {"test", "-e", "/nonexistent/it's", NULL};
        assert_int_equal(remote_exec_argv(s, argv, &res, &err), 0);
        assert_int_equal(res.status, 1);
        remote_exec_result_free(&res);
    }

    /* killed by a signal: 128 + N, as sh reports it */
    assert_int_equal(remote_exec(s, "kill -TERM $$", &res, &err), 0);
    assert_int_equal(res.status, 128 + 15);
    assert_string_equal(res.exit_signal, "TERM");
    remote_exec_result_free(&res);

    /* much more stderr than a channel window, while stdout is read: no deadlock; the output is capped */
    assert_int_equal(remote_exec(s, "head -c 3000000 /dev/zero | tr '\\0' e >&2; echo done", &res, &err), 0);
    assert_int_equal(res.status, 0);
    assert_string_equal(res.out, "done\n");
    assert_int_equal(strlen(res.err), REMOTE_EXEC_MAX_OUTPUT);
    remote_exec_result_free(&res);

    assert_int_equal(remote_session_keepalive(s, &err), 0);
    remote_session_close(s);
}

static void
test_session_refuses_unknown_host_key(void **state)
{
    char *known = h_read_file(g_sshd != NULL ? g_sshd->known_hosts : "/nonexistent");
    char *want;
    struct br_error err;
    struct remote_session *s;
    (void) state;
    NEED_SSHD();

    /* a known_hosts that knows other hosts only (and a line libssh2 cannot parse) */
    h_write_file(g_sshd->known_hosts, "# comment\n"
                                      "otherhost ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEgsb3VUmJ8Yh9VTNTDZzlZy5cAz+Yq0KnyKZ3xVnCYS\n"
                                      "@cert-authority *.example ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEgsb3VUmJ8Yh9VTNTDZzlZy5cAz+Yq0KnyKZ3xVnCYS\n"
                                      "weird sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29tAAAAIA==\n");
    s = open_with(NULL, &err);
    assert_null(s);
    assert_int_equal(err.code, BR_E_REMOTE);
    want = br_asprintf("host key for '[127.0.0.1]:%d' is not in known_hosts (%s)", g_sshd->port, g_sshd->known_hosts);
    assert_string_equal(err.msg, want);
    assert_non_null(strstr(err.detail, "The server offered the ED25519 key SHA256:"));
    free(want);

    /* no known_hosts at all: the same refusal */
    unlink(g_sshd->known_hosts);
    assert_null(open_with(NULL, &err));
    assert_non_null(strstr(err.msg, "is not in known_hosts"));

    /* accept-new adds it (and only then), after which strict checking passes */
    {
        char *cmd = br_asprintf("ssh -o StrictHostKeyChecking=accept-new -p %d %s@127.0.0.1", g_sshd->port,
                                g_sshd->user);
        s = open_with(cmd, &err);
        if (s == NULL)
            fail_msg("accept-new refused: %s", err.msg);
        remote_session_close(s);
        free(cmd);
        char *added = h_read_file(g_sshd->known_hosts);
        char *prefix = br_asprintf("[127.0.0.1]:%d ssh-ed25519 ", g_sshd->port);
        assert_non_null(added);
        assert_true(strncmp(added, prefix, strlen(prefix)) == 0);
        free(prefix);
        free(added);
        s = open_ok();
        remote_session_close(s);
    }

    /* hashed names (Debian's HashKnownHosts) are found too */
    {
        struct h_result r = h_sh("ssh-keygen -H -f '%s' >/dev/null 2>&1 && grep -c '^|1|' '%s'", g_sshd->known_hosts,
                                 g_sshd->known_hosts);
        assert_string_equal(r.out, "1\n");
        h_result_free(&r);
        s = open_ok();
        remote_session_close(s);
    }
    h_write_file(g_sshd->known_hosts, known);
    free(known);
}

static void
test_session_refuses_changed_host_key(void **state)
{
    struct h_sshd *d;
    struct br_error err;
    struct remote_session *s;
    char *old_home, *cmd, *want, *dest;
    (void) state;
    NEED_SSHD();

    /* a server of its own: its key changes */
    d = h_sshd_start();
    assert_non_null(d);
    old_home = h_sshd_use_home(d);
    cmd = h_sshd_command(d);
    dest = br_asprintf("%s/dest", d->dir);
    mkdir(dest, 0777);
    chmod(dest, 0777);
    s = open_with(cmd, &err);
    assert_non_null(s);
    remote_session_close(s);

    assert_int_equal(h_sshd_change_host_key(d), 0);
    s = open_with(cmd, &err);
    assert_null(s);
    assert_int_equal(err.code, BR_E_REMOTE);
    want = br_asprintf("host key for '[127.0.0.1]:%d' has CHANGED since it was recorded in known_hosts (%s): "
                       "possible man-in-the-middle attack",
                       d->port, d->known_hosts);
    assert_string_equal(err.msg, want);
    assert_non_null(strstr(err.hint, "ssh-keygen -R"));
    free(want);

    /* accept-new does not accept a changed key */
    {
        char *cmd2 = br_asprintf("ssh -o StrictHostKeyChecking=no -p %d %s@127.0.0.1", d->port, d->user);
        assert_null(open_with(cmd2, &err));
        assert_non_null(strstr(err.msg, "has CHANGED"));
        free(cmd2);
    }
    /* nothing was written: the server's log shows no session was ever accepted past the key exchange */
    {
        struct h_result r = h_sh("find '%s' -mindepth 1 | wc -l", dest);
        assert_string_equal(r.out, "0\n");
        h_result_free(&r);
    }
    setenv("HOME", old_home, 1);
    free(old_home);
    free(dest);
    free(cmd);
    h_sshd_destroy(d);
}

static void
test_session_auth_failures(void **state)
{
    struct br_error err;
    char *cmd, *want, *other;
    (void) state;
    NEED_SSHD();

    /* a user the server does not let in */
    cmd = br_asprintf("ssh -p %d nosuchuser@127.0.0.1", g_sshd->port);
    assert_null(open_with(cmd, &err));
    want = br_asprintf("authentication as 'nosuchuser' to nosuchuser@[127.0.0.1]:%d failed", g_sshd->port);
    assert_string_equal(err.msg, want);
    assert_non_null(strstr(err.detail, "(refused)"));
    assert_non_null(strstr(err.detail, "The server accepts: publickey."));
    free(want);
    free(cmd);

    /* a key the server does not know */
    other = br_asprintf("%s/other_key", g_sshd->dir);
    {
        struct h_result r = h_sh("ssh-keygen -q -t ed25519 -N '' -f '%s'", other);
        assert_int_equal(r.status, 0);
        h_result_free(&r);
    }
    cmd = br_asprintf("ssh -i %s -p %d %s@127.0.0.1", other, g_sshd->port, g_sshd->user);
    assert_null(open_with(cmd, &err));
    want = br_asprintf("Tried: key \"%s\" (refused). The server accepts: publickey.", other);
    assert_string_equal(err.detail, want);
    free(want);
    free(cmd);

    /* a passphrase-protected key: said so */
    {
        struct h_result r = h_sh("rm -f '%s' && ssh-keygen -q -t ed25519 -N secret -f '%s'", other, other);
        assert_int_equal(r.status, 0);
        h_result_free(&r);
    }
    cmd = br_asprintf("ssh -i %s -p %d %s@127.0.0.1", other, g_sshd->port, g_sshd->user);
    assert_null(open_with(cmd, &err));
    assert_non_null(strstr(err.detail, "protected by a passphrase"));
    free(cmd);
    free(other);

    /* nothing listening */
    cmd = br_asprintf("ssh -p 1 %s@127.0.0.1", g_sshd->user);
    assert_null(open_with(cmd, &err));
    assert_string_equal(err.msg, "could not connect to 127.0.0.1 port 1: Connection refused");
    free(cmd);
}

/*
 * A server that takes passwords only: without -o PasswordAuthentication=yes
 * barrel does not send one (and says how to); with it, only the password
 * from BARREL_SSH_PASSWORD, never a prompt.
 */
static void
test_session_password_only_server(void **state)
{
    struct br_error err;
    char *cmd, *want;
    (void) state;
    NEED_SSHD();

    assert_int_equal(h_sshd_reconfigure(g_sshd, "PubkeyAuthentication no\nPasswordAuthentication yes\n"), 0);
    unsetenv(REMOTE_PASSWORD_ENV);

    assert_null(open_with(NULL, &err));
    want = br_asprintf("authentication as '%s' to %s@[127.0.0.1]:%d failed", g_sshd->user, g_sshd->user,
                       g_sshd->port);
    assert_string_equal(err.msg, want);
    free(want);
    assert_string_equal(err.detail, "Tried: nothing usable. The server accepts: password.");
    assert_string_equal(err.hint, "The server does not accept public keys; barrel uses a password only with -o "
                                  "PasswordAuthentication=yes and the password in " REMOTE_PASSWORD_ENV ".");

    cmd = br_asprintf("ssh -o PasswordAuthentication=yes -p %d %s@127.0.0.1", g_sshd->port, g_sshd->user);
    assert_null(open_with(cmd, &err));
    assert_string_equal(err.detail, "Tried: password (not tried: " REMOTE_PASSWORD_ENV " is not set). "
                                    "The server accepts: password.");
    /* a wrong password: tried once, refused, and the password itself is nowhere in the message */
    setenv(REMOTE_PASSWORD_ENV, "not-the-password-4711", 1);
    assert_null(open_with(cmd, &err));
    unsetenv(REMOTE_PASSWORD_ENV);
    assert_string_equal(err.detail, "Tried: password (refused). The server accepts: password.");
    assert_null(strstr(err.msg, "4711"));
    assert_null(strstr(err.hint, "4711"));
    free(cmd);

    assert_int_equal(h_sshd_reconfigure(g_sshd, NULL), 0);
    remote_session_close(open_ok());
}

/* Public-key authentication through ssh-agent, with no key file in ~/.ssh. */
static void
test_session_agent_auth(void **state)
{
    char *sock, *moved, *cmd;
    struct h_result r;
    struct br_error err;
    struct remote_session *s;
    (void) state;
    NEED_SSHD();

    sock = br_asprintf("%s/agent.sock", g_sshd->dir);
    moved = br_asprintf("%s/agent_key", g_sshd->dir);
    r = h_sh("ssh-agent -a '%s' > '%s/agent.env' && cp '%s' '%s' && chmod 600 '%s' && SSH_AUTH_SOCK='%s' ssh-add -q "
             "'%s'",
             sock, g_sshd->dir, g_sshd->client_key, moved, moved, sock, moved);
    if (r.status != 0) {
        h_result_free(&r);
        fail_msg("ssh-agent: %s", r.err);
    }
    h_result_free(&r);
    /* the key file is gone from ~/.ssh: only the agent can log us in */
    {
        char *hidden = br_asprintf("%s.hidden", g_sshd->client_key);
        rename(g_sshd->client_key, hidden);
        setenv("SSH_AUTH_SOCK", sock, 1);
        cmd = h_sshd_command(g_sshd);
        s = open_with(cmd, &err);
        unsetenv("SSH_AUTH_SOCK");
        rename(hidden, g_sshd->client_key);
        free(hidden);
        if (s == NULL)
            fail_msg("agent authentication refused: %s (%s)", err.msg, err.detail);
        remote_session_close(s);
        free(cmd);
    }
    r = h_sh(". '%s/agent.env' >/dev/null && kill $SSH_AGENT_PID", g_sshd->dir);
    h_result_free(&r);
    free(sock);
    free(moved);
}

/* ------------------------------------------------------------------ SFTP */

/* A remote directory the login user can write (the test runs as that user). */
static char *
remote_dir(const char *name)
{
    char *dir = br_asprintf("%s/%s", g_sshd->dir, name);

    mkdir(dir, 0700);
    return dir;
}

static void
test_sftp_file_operations(void **state)
{
    struct remote_session *s;
    struct br_error err;
    struct remote_stat st;
    char *base = remote_dir("ops"), *p, *q, *text;
    size_t len;
    (void) state;
    NEED_SSHD();

    s = open_ok();
    p = br_asprintf("%s/a/b/c", base);
    assert_int_equal(remote_mkdir_p(s, p, 0750, &err), 0);
    assert_int_equal(remote_mkdir_p(s, p, 0750, &err), 0);   /* again: fine */
    assert_int_equal(remote_lstat(s, p, &st, &err), 0);
    assert_int_equal(st.type, REMOTE_DIR);
    assert_int_equal(st.mode, 0750);
    free(p);

    p = br_asprintf("%s/a/file", base);
    assert_int_equal(remote_write_file(s, p, "hello\n", 6, 0640, &err), 0);
    assert_int_equal(remote_lstat(s, p, &st, &err), 0);
    assert_int_equal(st.type, REMOTE_FILE);
    assert_int_equal(st.mode, 0640);
    assert_int_equal(st.size, 6);
    text = remote_read_file(s, p, 1024, &len, &err);
    assert_string_equal(text, "hello\n");
    free(text);
    assert_null(remote_read_file(s, p, 3, &len, &err));
    assert_non_null(strstr(err.msg, "is larger than 3 bytes"));

    /* rename replaces an existing target (SFTP v3 alone would refuse) */
    q = br_asprintf("%s/a/file2", base);
    assert_int_equal(remote_write_file(s, q, "old", 3, 0600, &err), 0);
    assert_int_equal(remote_rename(s, p, q, &err), 0);
    text = remote_read_file(s, q, 1024, NULL, &err);
    assert_string_equal(text, "hello\n");
    free(text);
    assert_int_equal(remote_lstat(s, p, &st, &err), 1);
    assert_null(remote_read_file(s, p, 1024, NULL, &err));
    assert_int_equal(err.code, BR_E_NOT_FOUND);
    {
        char *want = br_asprintf("could not open remote file \"%s\" on %s@[127.0.0.1]:%d: no such file or directory",
                                 p, g_sshd->user, g_sshd->port);
        assert_string_equal(err.msg, want);
        free(want);
    }

    /* symlink: linkpath -> target, as ln -s */
    free(p);
    p = br_asprintf("%s/link", base);
    assert_int_equal(remote_symlink(s, "/some/where", p, &err), 0);
    assert_int_equal(remote_lstat(s, p, &st, &err), 0);
    assert_int_equal(st.type, REMOTE_SYMLINK);
    {
        char target[256];
        ssize_t n = readlink(p, target, sizeof(target) - 1);
        assert_true(n > 0);
        target[n] = '\0';
        assert_string_equal(target, "/some/where");
    }
    assert_int_equal(remote_unlink(s, p, &err), 0);
    assert_int_equal(remote_unlink(s, p, &err), 0);   /* missing: fine */

    /* a remote file sink: durable, never under its final name unless finished */
    free(p);
    p = br_asprintf("%s/wal", base);
    {
        struct stage *sink = stage_sftp_file_sink_new(s, p, 0600, &err);
        unsigned char *big = br_malloc(9 * 1024 * 1024 + 17);
        assert_non_null(sink);
        for (size_t i = 0; i < 9 * 1024 * 1024 + 17; i++)
            big[i] = (unsigned char) (i * 2654435761u >> 13);
        for (size_t off = 0; off < 9 * 1024 * 1024 + 17; off += 100000) {
            size_t n = 9 * 1024 * 1024 + 17 - off < 100000 ? 9 * 1024 * 1024 + 17 - off : 100000;
            assert_int_equal(stage_push_raw(sink, big + off, n, &err), 0);
        }
        assert_int_equal(remote_lstat(s, p, &st, &err), 1);
        assert_int_equal(stage_finish(sink, &err), 0);
        assert_int_equal(stage_sftp_file_sink_bytes(sink), 9 * 1024 * 1024 + 17);
        stage_free(sink);
        text = h_read_file(p);
        assert_non_null(text);
        assert_memory_equal(text, big, 9 * 1024 * 1024 + 17);
        free(text);
        free(big);
        /* freed unfinished: no file, no .tmp */
        sink = stage_sftp_file_sink_new(s, q, 0600, &err);
        assert_int_equal(stage_push_raw(sink, "x", 1, &err), 0);
        stage_free(sink);
        char *tmp = br_asprintf("%s.tmp", q);
        assert_false(path_exists(tmp));
        free(tmp);
    }

    /* rm -rf through the exec helper */
    assert_int_equal(remote_remove_tree(s, base, &err), 0);
    assert_false(path_exists(base));
    remote_session_close(s);
    free(p);
    free(q);
    free(base);
}

/* ------------------------------------------------------------- extractor */

/*
 * A directory with what a data directory has (and a bit more): modes from
 * 0400 to 0755, a read-only directory, an empty file and directory, a file
 * larger than the writer's buffer, relative and absolute symlinks, a name
 * with a space; every time set. Archived as tar + zstd by the real tools.
 */
static char *
make_archive(const char *dir, const char *name)
{
    char *tar = br_asprintf("%s/%s.tar.zst", dir, name);
    struct h_result r = h_sh(
        "set -e; cd '%s'; rm -rf src; mkdir src; cd src\n"
        "printf '15\\n' > PG_VERSION; chmod 600 PG_VERSION\n"
        "mkdir -p base/1 global emptydir ro; chmod 750 emptydir\n"
        "head -c 8192 /dev/zero > base/1/1259\n"
        "head -c 9437201 /dev/urandom > base/1/16384\n"
        ": > base/1/empty; chmod 640 base/1/empty\n"
        "printf 'x' > 'global/name with space'\n"
        "printf '#!/bin/sh\\n' > exec.sh; chmod 755 exec.sh\n"
        "printf 'ro' > ro/file; chmod 400 ro/file; chmod 500 ro\n"
        "printf 'map' > tablespace_map\n"
        "ln -s PG_VERSION link; ln -s /nonexistent/target abs\n"
        "find . -mindepth 1 ! -type l -exec touch -d @1600000000 {} +\n"
        "tar --format=gnu --sort=name -cf - * | zstd -q -o '%s'\n",
        dir, tar);
    if (r.status != 0)
        fail_msg("make_archive: %s%s", r.out, r.err);
    h_result_free(&r);
    return tar;
}

/* Extract tar into dest over s; 0 or -1 with err. */
static int
extract_remote(struct remote_session *s, const char *tar, const char *dest, const char *const *skip,
               int64_t *files, struct br_error *err)
{
    struct stage *ex = stage_sftp_extract_new(s, dest, skip, err);
    int rc;

    if (ex == NULL)
        return -1;
    rc = archive_reader_run(tar, "", ex, err);
    if (rc == 0)
        rc = stage_finish(ex, err);
    if (files != NULL) {
        int64_t bytes;
        stage_sftp_extract_counts(ex, files, &bytes);
    }
    stage_free(ex);
    return rc;
}

/* The same tree: contents, types, modes, sizes, times (not of symlinks), link targets. */
static void
assert_same_tree(const char *a, const char *b, const char *exclude)
{
    struct h_result r = h_sh("diff -r --no-dereference -x '%s' '%s' '%s' && "
                             "l() { cd \"$1\" && find . -mindepth 1 ! -name '%s' ! -type l -printf '%%p %%y %%m %%s %%T@\\n' "
                             "| sort && find . -type l -printf '%%p %%l\\n' | sort; }; "
                             "a=$(l '%s') && b=$(l '%s') && test -n \"$a\" && "
                             "if [ \"$a\" != \"$b\" ]; then echo \"$a\" > /tmp/.a.$$; echo \"$b\" | diff /tmp/.a.$$ -; "
                             "rm -f /tmp/.a.$$; exit 1; fi",
                             exclude, a, b, exclude, a, b);
    if (r.status != 0)
        fail_msg("trees differ:\n%s%s", r.out, r.err);
    h_result_free(&r);
}

static void
cleanup_dir(char *dir)
{
    struct h_result r = h_sh("chmod -R u+w '%s' 2>/dev/null", dir);
    h_result_free(&r);
    h_rmtree(dir);
    free(dir);
}

static void
test_sftp_extract_tar_zst(void **state)
{
    char *dir = h_mkdtemp(), *tar, *dest, *src;
    struct remote_session *s;
    struct br_error err;
    int64_t files = 0;
    static const char *const skip[] = {"tablespace_map", NULL};
    (void) state;
    NEED_SSHD();

    tar = make_archive(dir, "base");
    dest = remote_dir("extract");
    src = br_asprintf("%s/src", dir);
    s = open_ok();
    if (extract_remote(s, tar, dest, skip, &files, &err) != 0)
        fail_msg("extraction failed: %s", err.msg);
    assert_int_equal(files, 7);   /* tablespace_map skipped */
    assert_same_tree(src, dest, "tablespace_map");
    {
        char *tsmap = br_asprintf("%s/tablespace_map", dest);
        assert_false(path_exists(tsmap));
        free(tsmap);
    }

    /* again over the same tree: files and symlinks are replaced, directories kept */
    if (extract_remote(s, tar, dest, skip, NULL, &err) != 0)
        fail_msg("second extraction failed: %s", err.msg);
    assert_same_tree(src, dest, "tablespace_map");

    /* a destination that does not exist */
    {
        char *missing = br_asprintf("%s/missing", dest);
        assert_int_equal(extract_remote(s, tar, missing, NULL, NULL, &err), -1);
        char *want = br_asprintf("remote destination \"%s\" on %s@[127.0.0.1]:%d does not exist", missing,
                                 g_sshd->user, g_sshd->port);
        assert_string_equal(err.msg, want);
        free(want);
        free(missing);
    }
    remote_session_close(s);
    cleanup_dir(dest);
    free(src);
    free(tar);
    cleanup_dir(dir);
}

/*
 * The connection dies in the middle of an SFTP extraction (a proxy between
 * barrel and sshd resets it): the extraction fails at once with one clear
 * error naming the host, instead of hanging or reporting success.
 */
static void
test_sftp_connection_cut(void **state)
{
    char *dir = h_mkdtemp(), *tar, *dest, *cmd, *known, *line, *entry;
    struct remote_session *s;
    struct h_proxy *proxy;
    struct br_error err;
    (void) state;
    NEED_SSHD();

    proxy = h_proxy_start(g_sshd->port);
    assert_non_null(proxy);
    /* the host key, as known for the proxy's port too */
    known = h_read_file(g_sshd->known_hosts);
    assert_non_null(known);
    line = strchr(known, ' ');
    assert_non_null(line);
    entry = br_asprintf("%s[127.0.0.1]:%d%s", known, h_proxy_port(proxy), line);
    h_write_file(g_sshd->known_hosts, entry);

    tar = make_archive(dir, "base");
    dest = remote_dir("cut");
    cmd = br_asprintf("ssh -p %d %s@127.0.0.1", h_proxy_port(proxy), g_sshd->user);
    s = open_with(cmd, &err);
    if (s == NULL)
        fail_msg("session through the proxy refused: %s (%s)", err.msg, err.detail);
    /* a few KiB of the server's replies into the 9 MiB file, the connection is reset */
    h_proxy_cut_after(proxy, 4096);
    assert_int_equal(extract_remote(s, tar, dest, NULL, NULL, &err), -1);
    assert_int_equal(h_proxy_cuts(proxy), 1);
    {
        char *label = br_asprintf("%s@[127.0.0.1]:%d", g_sshd->user, h_proxy_port(proxy));

        if (strstr(err.msg, label) == NULL || strchr(err.msg, '\n') != NULL
            || strstr(err.msg, ": the connection was lost (libssh2 error ") == NULL)
            fail_msg("not one line naming %s and the lost connection: \"%s\"", label, err.msg);
        free(label);
    }
    remote_session_close(s);

    h_write_file(g_sshd->known_hosts, known);
    h_proxy_stop(proxy);
    free(entry);
    free(known);
    free(cmd);
    cleanup_dir(dest);
    free(tar);
    cleanup_dir(dir);
}

/* Build a hostile tar with python3's tarfile (as tests/unit/test_manifest.c). */
static char *
hostile_tar(const char *dir, const char *spec)
{
    char *path = br_asprintf("%s/evil.tar", dir);
    struct h_result r = h_sh("cd '%s' && python3 - <<'PY'\nimport tarfile, io\n"
                             "def f(t, name, data=b'x'):\n"
                             "    i = tarfile.TarInfo(name); i.size = len(data); t.addfile(i, io.BytesIO(data))\n"
                             "def d(t, name):\n"
                             "    i = tarfile.TarInfo(name); i.type = tarfile.DIRTYPE; i.mode = 0o755; t.addfile(i)\n"
                             "def l(t, name, target):\n"
                             "    i = tarfile.TarInfo(name); i.type = tarfile.SYMTYPE; i.linkname = target; t.addfile(i)\n"
                             "t = tarfile.open('evil.tar', 'w', format=tarfile.GNU_FORMAT)\n%s\nt.close()\nPY\n",
                             dir, spec);
    assert_int_equal(r.status, 0);
    h_result_free(&r);
    return path;
}

/*
 * Extract a hostile archive remotely; the result (refused with message_fmt,
 * %s being the temporary directory, or accepted when NULL) and nothing
 * created outside dest.
 */
static void
expect_remote_refused(struct remote_session *s, const char *spec, const char *message_fmt)
{
    char *dir = remote_dir("hostile"), *dest = br_asprintf("%s/dest", dir), *outside = br_asprintf("%s/outside", dir);
    struct br_error err;
    char *tar;
    int rc;

    mkdir(dest, 0700);
    mkdir(outside, 0700);
    tar = hostile_tar(dir, spec);
    rc = extract_remote(s, tar, dest, NULL, NULL, &err);
    if (message_fmt != NULL) {
        char *want = br_asprintf(message_fmt, dir);
        assert_int_equal(rc, -1);
        if (strstr(err.msg, want) == NULL)
            fail_msg("expected \"%s\", got \"%s\"", want, err.msg);
        free(want);
    } else if (rc != 0) {
        fail_msg("refused: %s", err.msg);
    }
    {
        struct h_result r = h_sh("find '%s' -mindepth 1 | wc -l", outside);
        assert_string_equal(r.out, "0\n");
        h_result_free(&r);
    }
    free(tar);
    free(dest);
    free(outside);
    cleanup_dir(dir);
}

static void
test_sftp_extract_refuses_hostile_members(void **state)
{
    struct remote_session *s;
    (void) state;
    NEED_SSHD();

    s = open_ok();
    expect_remote_refused(s, "f(t, 'ok'); f(t, '../outside/pwned')",
                          "refusing archive member \"../outside/pwned\": path contains \"..\"");
    expect_remote_refused(s, "f(t, 'a/../../outside/pwned')", "path contains \"..\"");
    expect_remote_refused(s, "import os\nf(t, os.getcwd() + '/outside/pwned')",
                          "refusing archive member \"%s/outside/pwned\": absolute path");
    /* writing through a symlink, to an absolute and to a relative place */
    expect_remote_refused(s, "import os\nl(t, 'link', os.getcwd() + '/outside'); f(t, 'link/pwned')",
                          "could not extract \"link/pwned\": \"link\" is a symbolic link in the destination, "
                          "refusing to write through it");
    expect_remote_refused(s, "l(t, 'up', '..'); f(t, 'up/outside/pwned')", "could not extract \"up/outside/pwned\"");
    expect_remote_refused(s, "import os\nl(t, 'd', os.getcwd() + '/outside'); d(t, 'd/sub')",
                          "could not extract \"d/sub/\": \"d\" is a symbolic link");
    expect_remote_refused(s, "import os\nd(t, 'a'); l(t, 'a/b', os.getcwd() + '/outside'); f(t, 'a/b/c/pwned')",
                          "could not extract \"a/b/c/pwned\": \"a/b\" is a symbolic link");
    /* a file over a symlink replaces the link, it does not follow it */
    expect_remote_refused(s, "import os\nl(t, 'x', os.getcwd() + '/outside/victim'); f(t, 'x', b'data')", NULL);
    /* devices and fifos are not data */
    expect_remote_refused(s, "i = tarfile.TarInfo('fifo'); i.type = tarfile.FIFOTYPE; t.addfile(i)",
                          "refusing archive member \"fifo\": not a file, directory or symlink");
    remote_session_close(s);
}

/* --jobs 2: two sessions, one per thread, each with its own chain. */
struct job {
    const char *tar, *dest;
    int rc;
    struct br_error err;
};

static void *
job_run(void *arg)
{
    struct job *j = arg;
    struct remote_session *s = open_with(NULL, &j->err);

    j->rc = -1;
    if (s != NULL) {
        j->rc = extract_remote(s, j->tar, j->dest, NULL, NULL, &j->err);
        remote_session_close(s);
    }
    return NULL;
}

static void
test_sftp_extract_two_jobs(void **state)
{
    char *dir = h_mkdtemp(), *tar1, *tar2, *src, *d1, *d2;
    pthread_t th[2];
    struct job jobs[2];
    (void) state;
    NEED_SSHD();

    tar1 = make_archive(dir, "one");
    tar2 = br_asprintf("%s/two.tar.zst", dir);
    {
        struct h_result r = h_sh("cp '%s' '%s'", tar1, tar2);
        h_result_free(&r);
    }
    src = br_asprintf("%s/src", dir);
    d1 = remote_dir("job1");
    d2 = remote_dir("job2");
    jobs[0] = (struct job){tar1, d1, -1, {0}};
    jobs[1] = (struct job){tar2, d2, -1, {0}};
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, job_run, &jobs[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 2; i++)
        if (jobs[i].rc != 0)
            fail_msg("job %d failed: %s", i, jobs[i].err.msg);
    assert_same_tree(src, d1, "no-such-name");
    assert_same_tree(src, d2, "no-such-name");
    cleanup_dir(d1);
    cleanup_dir(d2);
    free(src);
    free(tar1);
    free(tar2);
    cleanup_dir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_session_connect_and_exec),
        cmocka_unit_test(test_session_refuses_unknown_host_key),
        cmocka_unit_test(test_session_refuses_changed_host_key),
        cmocka_unit_test(test_session_auth_failures),
        cmocka_unit_test(test_session_agent_auth),
        cmocka_unit_test(test_sftp_file_operations),
        cmocka_unit_test(test_sftp_extract_tar_zst),
        cmocka_unit_test(test_sftp_extract_refuses_hostile_members),
        cmocka_unit_test(test_sftp_extract_two_jobs),
        cmocka_unit_test(test_sftp_connection_cut),
        cmocka_unit_test(test_session_password_only_server),
    };
    return cmocka_run_group_tests_name("remote", tests, setup_server, teardown_server);
}
