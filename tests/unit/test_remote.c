/*
 * test_remote.c: the parts of src/remote/ that need no server: the
 * --remote-ssh-command parser (every form Barman users write, and every
 * refusal with its exact message) and shell quoting for the exec helper.
 * The sessions, host keys, SFTP and exec are tested against a real sshd in
 * tests/integration/test_remote.c.
 */
#include "barrel/build.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/socket.h>

#include "barrel/error.h"
#include "barrel/mem.h"
#include "barrel/remote.h"
#include "barrel/strbuf.h"
#include "harness.h"

static void
parse_ok(const char *command, struct remote_target *t)
{
    struct br_error err;

    br_error_clear(&err);
    if (remote_target_parse(command, t, &err) != 0)
        fail_msg("\"%s\" refused: %s", command, err.msg);
}

static void
parse_refused(const char *command, const char *message)
{
    struct remote_target t;
    struct br_error err;

    br_error_clear(&err);
    assert_int_equal(remote_target_parse(command, &t, &err), -1);
    assert_int_equal(err.code, BR_E_USAGE);
    if (strcmp(err.msg, message) != 0)
        fail_msg("\"%s\": expected \"%s\", got \"%s\"", command, message, err.msg);
    remote_target_reset(&t);
}

static void
test_remote_target_parse_barman_forms(void **state)
{
    struct remote_target t;
    char *label;
    (void) state;

    parse_ok("ssh postgres@pg1", &t);
    assert_string_equal(t.host, "pg1");
    assert_string_equal(t.user, "postgres");
    assert_int_equal(t.port, 22);
    assert_null(t.identity_files);
    assert_int_equal(t.hostkey_policy, REMOTE_HOSTKEY_STRICT);
    assert_int_equal(t.password_auth, 0);
    label = remote_target_label(&t);
    assert_string_equal(label, "postgres@pg1");
    free(label);
    remote_target_reset(&t);

    parse_ok("/usr/bin/ssh -q -p 2222 -i /var/lib/barman/.ssh/id_rsa -o BatchMode=yes "
             "-o 'ConnectTimeout 5' -o StrictHostKeyChecking=accept-new postgres@10.0.0.7",
             &t);
    assert_string_equal(t.host, "10.0.0.7");
    assert_int_equal(t.port, 2222);
    assert_string_equal(t.identity_files[0], "/var/lib/barman/.ssh/id_rsa");
    assert_null(t.identity_files[1]);
    assert_int_equal(t.connect_timeout_s, 5);
    assert_int_equal(t.hostkey_policy, REMOTE_HOSTKEY_ACCEPT_NEW);
    label = remote_target_label(&t);
    assert_string_equal(label, "postgres@[10.0.0.7]:2222");
    free(label);
    remote_target_reset(&t);

    /* attached values, -l, options after the host, IPv6 in brackets, ssh:// */
    parse_ok("ssh -p2200 -lpg -oUser=ignored [::1] -4 -C -o Port=2201", &t);
    assert_string_equal(t.host, "::1");
    assert_string_equal(t.user, "pg");    /* the first user and port given win, as in ssh */
    assert_int_equal(t.port, 2200);
    assert_int_equal(t.family, AF_INET);
    assert_int_equal(t.compression, 1);
    remote_target_reset(&t);

    parse_ok("ssh ssh://barman@[fe80::1]:2022", &t);
    assert_string_equal(t.host, "fe80::1");
    assert_string_equal(t.user, "barman");
    assert_int_equal(t.port, 2022);
    remote_target_reset(&t);

    /* quoting as sh reads it; ~/ expands to HOME */
    setenv("HOME", "/home/b", 1);
    parse_ok("ssh -i ~/.ssh/my\\ key -o \"UserKnownHostsFile = /etc/barman/known_hosts\" u@h", &t);
    assert_string_equal(t.identity_files[0], "/home/b/.ssh/my key");
    assert_string_equal(t.known_hosts, "/etc/barman/known_hosts");
    remote_target_reset(&t);

    /* no user: the current one */
    parse_ok("ssh -o PasswordAuthentication=yes -o StrictHostKeyChecking=no db.example", &t);
    {
        char *me = h_current_user();
        assert_string_equal(t.user, me);
        free(me);
    }
    assert_int_equal(t.password_auth, 1);
    assert_int_equal(t.hostkey_policy, REMOTE_HOSTKEY_ACCEPT_NEW);   /* never "accept a changed key" */
    remote_target_reset(&t);
}

static void
test_remote_target_parse_refusals(void **state)
{
    (void) state;
    parse_refused("", "--remote-ssh-command is empty");
    parse_refused("rsh pg1", "--remote-ssh-command must start with ssh, not \"rsh\"");
    parse_refused("ssh -p", "--remote-ssh-command: option -p needs a value");
    parse_refused("ssh -p 0 pg1", "--remote-ssh-command: bad value \"0\" for ssh option -p");
    parse_refused("ssh -p", "--remote-ssh-command: option -p needs a value");
    parse_refused("ssh -q", "--remote-ssh-command: no host in \"ssh -q\"");
    parse_refused("ssh pg1 true", "--remote-ssh-command: a remote command after the host is not supported by barrel");
    parse_refused("ssh -J bastion pg1", "--remote-ssh-command: ssh option -J is not supported by barrel");
    parse_refused("ssh -F /etc/ssh/other pg1", "--remote-ssh-command: ssh option -F is not supported by barrel");
    parse_refused("ssh -A pg1", "--remote-ssh-command: ssh option -A is not supported by barrel");
    parse_refused("ssh -o ProxyCommand=nc\\ host pg1",
                  "--remote-ssh-command: ssh option \"ProxyCommand\" is not supported by barrel");
    parse_refused("ssh -o ForwardAgent=yes pg1",
                  "--remote-ssh-command: ssh option \"ForwardAgent\" is not supported by barrel");
    parse_refused("ssh -o StrictHostKeyChecking=maybe pg1",
                  "--remote-ssh-command: bad value \"maybe\" for ssh option StrictHostKeyChecking");
    parse_refused("ssh -o 'UserKnownHostsFile=/a /b' pg1",
                  "--remote-ssh-command: more than one UserKnownHostsFile is not supported by barrel");
    parse_refused("ssh -o Port pg1", "--remote-ssh-command: ssh option Port has no value");
    parse_refused("ssh 'pg1", "--remote-ssh-command: unterminated quote or escape in \"ssh 'pg1\"");
    parse_refused("ssh $HOST", "--remote-ssh-command: shell syntax is not supported in \"ssh $HOST\"");
    parse_refused("ssh pg1; rm -rf /", "--remote-ssh-command: shell syntax is not supported in \"ssh pg1; rm -rf /\"");
    parse_refused("ssh @pg1", "--remote-ssh-command: empty user name in \"@pg1\"");
    parse_refused("ssh -o PubkeyAuthentication=no pg1",
                  "--remote-ssh-command: PubkeyAuthentication=no is not supported by barrel");
}

static void
test_remote_shell_quote(void **state)
{
    struct strbuf sb;
    (void) state;

    strbuf_init(&sb);
    remote_shell_quote(&sb, "/tmp/it's here");
    strbuf_append_char(&sb, ' ');
    remote_shell_quote(&sb, "");
    assert_string_equal(sb.buf, "'/tmp/it'\\''s here' ''");
    strbuf_free(&sb);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_remote_target_parse_barman_forms),
        cmocka_unit_test(test_remote_target_parse_refusals),
        cmocka_unit_test(test_remote_shell_quote),
    };
    return cmocka_run_group_tests_name("remote", tests, NULL, NULL);
}
