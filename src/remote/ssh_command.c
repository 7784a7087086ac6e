/*
 * ssh_command.c: a Barman --remote-ssh-command string, as a shell would
 * split it, read the way OpenSSH's ssh(1) reads its arguments, into a
 * struct remote_target.
 *
 * Barman runs the string verbatim as a shell prefix; barrel speaks SSH
 * itself, so it must understand every word. What it cannot honour (a
 * ProxyCommand, a jump host, forwardings, another config file, a remote
 * command) is refused by name rather than silently ignored: a user who
 * relies on a jump host must not find barrel connecting directly.
 * ~/.ssh/config is not read.
 */
#include "barrel/build.h"
#include "barrel/remote.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "barrel/error.h"
#include "barrel/mem.h"
#include "barrel/strbuf.h"

#define DEFAULT_CONNECT_TIMEOUT_S 30
#define DEFAULT_ALIVE_INTERVAL_S  15
#define DEFAULT_ALIVE_COUNT_MAX   3

struct words {
    char **v;
    size_t n, cap;
};

static void
words_add(struct words *w, char *word)
{
    if (w->n + 1 >= w->cap) {
        w->cap = w->cap ? w->cap * 2 : 8;
        w->v = br_realloc(w->v, w->cap * sizeof(*w->v));
    }
    w->v[w->n++] = word;
    w->v[w->n] = NULL;
}

static void
words_free(struct words *w)
{
    for (size_t i = 0; i < w->n; i++)
        free(w->v[i]);
    free(w->v);
}

/*
 * Split like sh: blanks separate words, '...' is literal, "..." keeps
 * blanks and honours \\ \" \$ \`, a backslash outside quotes escapes the
 * next character. Expansions and operators are refused: barrel would not
 * run them as Barman's shell did.
 */
static int
split_words(const char *s, struct words *out, struct br_error *err)
{
    struct strbuf cur;
    int in_word = 0;

    strbuf_init(&cur);
    for (const char *p = s;; p++) {
        char c = *p;

        if (c == '\0' || c == ' ' || c == '\t' || c == '\n') {
            if (in_word)
                words_add(out, strbuf_detach(&cur));
            in_word = 0;
            if (c == '\0')
                break;
            continue;
        }
        in_word = 1;
        if (c == '\'') {
            const char *end = strchr(p + 1, '\'');
            if (end == NULL)
                goto unterminated;
            strbuf_append_len(&cur, p + 1, (size_t) (end - p - 1));
            p = end;
        } else if (c == '"') {
            for (p++; *p != '"'; p++) {
                if (*p == '\0')
                    goto unterminated;
                if (*p == '\\' && p[1] != '\0' && strchr("\\\"$`\n", p[1]) != NULL)
                    p++;
                else if (*p == '$' || *p == '`')
                    goto expansion;
                strbuf_append_char(&cur, *p);
            }
        } else if (c == '\\') {
            if (p[1] == '\0')
                goto unterminated;
            strbuf_append_char(&cur, *++p);
        } else if (c == '~' && cur.len == 0 && (p[1] == '/' || p[1] == '\0' || p[1] == ' ')) {
            /* ~/... as the shell expands it for Barman */
            const char *home = getenv("HOME");
            struct passwd *pw = getpwuid(geteuid());

            if ((home == NULL || home[0] == '\0') && pw != NULL)
                home = pw->pw_dir;
            strbuf_append(&cur, home != NULL ? home : "~");
        } else if (strchr("$`;|&<>()*?{}#~", c) != NULL) {
            goto expansion;
        } else {
            strbuf_append_char(&cur, c);
        }
    }
    strbuf_free(&cur);
    return 0;

unterminated:
    strbuf_free(&cur);
    return br_error_set(err, BR_E_USAGE, "--remote-ssh-command: unterminated quote or escape in \"%s\"", s);
expansion:
    strbuf_free(&cur);
    br_error_set(err, BR_E_USAGE, "--remote-ssh-command: shell syntax is not supported in \"%s\"", s);
    br_error_hint(err, "barrel speaks SSH itself: give the plain ssh options, without variables, globs or "
                       "operators.");
    return -1;
}

static int
parse_yes_no(const char *opt, const char *value, int *out, struct br_error *err)
{
    if (strcasecmp(value, "yes") == 0 || strcasecmp(value, "true") == 0) {
        *out = 1;
        return 0;
    }
    if (strcasecmp(value, "no") == 0 || strcasecmp(value, "false") == 0) {
        *out = 0;
        return 0;
    }
    return br_error_set(err, BR_E_USAGE, "--remote-ssh-command: bad value \"%s\" for ssh option %s (yes or no)",
                        value, opt);
}

static int
parse_int_value(const char *opt, const char *value, int min, int max, int *out, struct br_error *err)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(value, &end, 10);
    if (errno != 0 || end == value || *end != '\0' || v < min || v > max)
        return br_error_set(err, BR_E_USAGE, "--remote-ssh-command: bad value \"%s\" for ssh option %s", value, opt);
    *out = (int) v;
    return 0;
}

static void
add_identity(struct remote_target *t, const char *file)
{
    size_t n = 0;

    while (t->identity_files != NULL && t->identity_files[n] != NULL)
        n++;
    t->identity_files = br_realloc(t->identity_files, (n + 2) * sizeof(char *));
    t->identity_files[n] = br_strdup(file);
    t->identity_files[n + 1] = NULL;
}

static int
unsupported(const char *what, struct br_error *err)
{
    br_error_set(err, BR_E_USAGE, "--remote-ssh-command: %s is not supported by barrel", what);
    br_error_hint(err, "barrel connects with its own SSH client (libssh2): give the host, -p, -l, -i and "
                       "the -o options listed in barrel(1), or set up what else is needed on the network side.");
    return -1;
}

/* One -o option: "Key=Value", "Key Value" or "Key = Value"; keys are case-insensitive. */
static int
parse_o(struct remote_target *t, const char *arg, struct br_error *err)
{
    char key[64];
    const char *v;
    size_t klen = strcspn(arg, "= \t");
    int on;

    if (klen == 0 || klen >= sizeof(key))
        return br_error_set(err, BR_E_USAGE, "--remote-ssh-command: bad ssh option \"-o %s\"", arg);
    memcpy(key, arg, klen);
    key[klen] = '\0';
    v = arg + klen;
    while (*v == ' ' || *v == '\t')
        v++;
    if (*v == '=')
        v++;
    while (*v == ' ' || *v == '\t')
        v++;
    if (*v == '\0')
        return br_error_set(err, BR_E_USAGE, "--remote-ssh-command: ssh option %s has no value", key);

    if (strcasecmp(key, "Port") == 0) {
        int port;
        if (parse_int_value(key, v, 1, 65535, &port, err) != 0)
            return -1;
        if (t->port < 0)   /* the first port and user given win, as in ssh */
            t->port = port;
        return 0;
    }
    if (strcasecmp(key, "User") == 0) {
        if (t->user == NULL)
            t->user = br_strdup(v);
        return 0;
    }
    if (strcasecmp(key, "IdentityFile") == 0) {
        add_identity(t, v);
        return 0;
    }
    if (strcasecmp(key, "IdentitiesOnly") == 0)
        return parse_yes_no(key, v, &t->identities_only, err);
    if (strcasecmp(key, "UserKnownHostsFile") == 0) {
        if (strchr(v, ' ') != NULL)
            return unsupported("more than one UserKnownHostsFile", err);
        free(t->known_hosts);
        t->known_hosts = br_strdup(v);
        return 0;
    }
    if (strcasecmp(key, "StrictHostKeyChecking") == 0) {
        if (strcasecmp(v, "yes") == 0 || strcasecmp(v, "ask") == 0)
            t->hostkey_policy = REMOTE_HOSTKEY_STRICT;
        else if (strcasecmp(v, "accept-new") == 0 || strcasecmp(v, "no") == 0 || strcasecmp(v, "off") == 0)
            t->hostkey_policy = REMOTE_HOSTKEY_ACCEPT_NEW;   /* a changed key is refused all the same */
        else
            return br_error_set(err, BR_E_USAGE,
                                "--remote-ssh-command: bad value \"%s\" for ssh option StrictHostKeyChecking", v);
        return 0;
    }
    if (strcasecmp(key, "PasswordAuthentication") == 0)
        return parse_yes_no(key, v, &t->password_auth, err);
    if (strcasecmp(key, "PubkeyAuthentication") == 0) {
        if (parse_yes_no(key, v, &on, err) != 0)
            return -1;
        return on ? 0 : unsupported("PubkeyAuthentication=no", err);
    }
    if (strcasecmp(key, "ConnectTimeout") == 0)
        return parse_int_value(key, v, 1, 3600, &t->connect_timeout_s, err);
    if (strcasecmp(key, "ServerAliveInterval") == 0)
        return parse_int_value(key, v, 0, 86400, &t->alive_interval_s, err);
    if (strcasecmp(key, "ServerAliveCountMax") == 0)
        return parse_int_value(key, v, 1, 1000, &t->alive_count_max, err);
    if (strcasecmp(key, "Compression") == 0)
        return parse_yes_no(key, v, &t->compression, err);
    if (strcasecmp(key, "AddressFamily") == 0) {
        if (strcasecmp(v, "any") == 0)
            t->family = AF_UNSPEC;
        else if (strcasecmp(v, "inet") == 0)
            t->family = AF_INET;
        else if (strcasecmp(v, "inet6") == 0)
            t->family = AF_INET6;
        else
            return br_error_set(err, BR_E_USAGE, "--remote-ssh-command: bad value \"%s\" for ssh option AddressFamily",
                                v);
        return 0;
    }
    /* harmless for barrel: it never prompts, never forwards, never asks for a terminal */
    if (strcasecmp(key, "BatchMode") == 0 || strcasecmp(key, "LogLevel") == 0
        || strcasecmp(key, "CheckHostIP") == 0 || strcasecmp(key, "HashKnownHosts") == 0
        || strcasecmp(key, "TCPKeepAlive") == 0)
        return 0;
    if (strcasecmp(key, "ForwardAgent") == 0 || strcasecmp(key, "ForwardX11") == 0
        || strcasecmp(key, "ControlMaster") == 0 || strcasecmp(key, "RequestTTY") == 0) {
        if (strcasecmp(v, "no") == 0 || strcasecmp(v, "false") == 0 || strcasecmp(v, "auto") == 0)
            return 0;
    }
    {
        char what[128];
        snprintf(what, sizeof(what), "ssh option \"%s\"", key);
        return unsupported(what, err);
    }
}

/* [user@]host, [user@][v6addr], or ssh://[user@]host[:port]. */
static int
parse_destination(struct remote_target *t, const char *word, struct br_error *err)
{
    const char *hostpart = word, *at;
    int is_uri = strncmp(word, "ssh://", 6) == 0;
    char *host;

    if (is_uri)
        hostpart = word + 6;
    at = strrchr(hostpart, '@');
    if (at != NULL) {
        if (at == hostpart)
            return br_error_set(err, BR_E_USAGE, "--remote-ssh-command: empty user name in \"%s\"", word);
        if (t->user == NULL)     /* -l and -o User given before win, as in ssh */
            t->user = br_strndup(hostpart, (size_t) (at - hostpart));
        hostpart = at + 1;
    }
    if (hostpart[0] == '[') {
        const char *close = strchr(hostpart, ']');
        if (close == NULL || close == hostpart + 1)
            return br_error_set(err, BR_E_USAGE, "--remote-ssh-command: bad host \"%s\"", hostpart);
        host = br_strndup(hostpart + 1, (size_t) (close - hostpart - 1));
        if (close[1] == ':' && is_uri) {
            int port;
            if (parse_int_value("port", close + 2, 1, 65535, &port, err) != 0) {
                free(host);
                return -1;
            }
            if (t->port < 0)
                t->port = port;
        } else if (close[1] != '\0') {
            free(host);
            return br_error_set(err, BR_E_USAGE, "--remote-ssh-command: bad host \"%s\"", hostpart);
        }
    } else {
        size_t len = strlen(hostpart);
        const char *colon = strchr(hostpart, ':');

        if (is_uri && colon != NULL && strchr(colon + 1, ':') == NULL) {
            int port;
            if (parse_int_value("port", colon + 1, 1, 65535, &port, err) != 0)
                return -1;
            if (t->port < 0)
                t->port = port;
            len = (size_t) (colon - hostpart);
        }
        host = br_strndup(hostpart, len);
    }
    if (host[0] == '\0' || strchr(host, '/') != NULL || strchr(host, ' ') != NULL) {
        br_error_set(err, BR_E_USAGE, "--remote-ssh-command: bad host \"%s\"", host);
        free(host);
        return -1;
    }
    t->host = host;
    return 0;
}

void
remote_target_reset(struct remote_target *t)
{
    if (t == NULL)
        return;
    free(t->command);
    free(t->host);
    free(t->user);
    for (char **f = t->identity_files; f != NULL && *f != NULL; f++)
        free(*f);
    free(t->identity_files);
    free(t->known_hosts);
    memset(t, 0, sizeof(*t));
}

int
remote_target_parse(const char *command, struct remote_target *t, struct br_error *err)
{
    struct words w = {0};
    const char *prog;
    int rc = -1;
    size_t i;

    memset(t, 0, sizeof(*t));
    t->port = -1;
    t->connect_timeout_s = DEFAULT_CONNECT_TIMEOUT_S;
    t->alive_interval_s = DEFAULT_ALIVE_INTERVAL_S;
    t->alive_count_max = DEFAULT_ALIVE_COUNT_MAX;
    t->family = AF_UNSPEC;
    t->hostkey_policy = REMOTE_HOSTKEY_STRICT;
    t->command = br_strdup(command != NULL ? command : "");
    if (split_words(t->command, &w, err) != 0)
        goto out;
    if (w.n == 0) {
        br_error_set(err, BR_E_USAGE, "--remote-ssh-command is empty");
        goto out;
    }
    prog = strrchr(w.v[0], '/') ? strrchr(w.v[0], '/') + 1 : w.v[0];
    if (strcmp(prog, "ssh") != 0) {
        br_error_set(err, BR_E_USAGE, "--remote-ssh-command must start with ssh, not \"%s\"", w.v[0]);
        br_error_hint(err, "barrel speaks SSH itself and reads the ssh options from the command "
                           "(\"ssh [-p PORT] user@host\").");
        goto out;
    }
    /* ssh reads options before and after the destination; any other word is a remote command */
    for (i = 1; i < w.n; i++) {
        const char *word = w.v[i];

        if (word[0] != '-' || word[1] == '\0') {
            if (t->host != NULL) {
                unsupported("a remote command after the host", err);
                goto out;
            }
            if (parse_destination(t, word, err) != 0)
                goto out;
            continue;
        }
        if (strcmp(word, "--") == 0)
            continue;
        for (const char *f = word + 1; *f != '\0'; f++) {
            const char *arg = NULL;

            if (strchr("plio", *f) != NULL) {
                if (f[1] != '\0')
                    arg = f + 1;
                else if (i + 1 < w.n)
                    arg = w.v[++i];
                else {
                    br_error_set(err, BR_E_USAGE, "--remote-ssh-command: option -%c needs a value", *f);
                    goto out;
                }
            }
            switch (*f) {
            case 'p': {
                int port;
                if (parse_int_value("-p", arg, 1, 65535, &port, err) != 0)
                    goto out;
                if (t->port < 0)
                    t->port = port;
                break;
            }
            case 'l':
                if (t->user == NULL)
                    t->user = br_strdup(arg);
                break;
            case 'i':
                add_identity(t, arg);
                break;
            case 'o':
                if (parse_o(t, arg, err) != 0)
                    goto out;
                break;
            case '4': t->family = AF_INET; break;
            case '6': t->family = AF_INET6; break;
            case 'C': t->compression = 1; break;
            case 'q': case 'T': case 'n': case 'x': case 'v': case 'a': case 'k':
                break;
            default: {
                char what[64];
                snprintf(what, sizeof(what), "ssh option -%c", *f);
                unsupported(what, err);
                goto out;
            }
            }
            if (arg != NULL)
                break;   /* the rest of the word was the value */
        }
    }
    if (t->host == NULL) {
        br_error_set(err, BR_E_USAGE, "--remote-ssh-command: no host in \"%s\"", t->command);
        goto out;
    }
    if (t->port < 0)
        t->port = REMOTE_SSH_DEFAULT_PORT;
    if (t->user == NULL) {
        struct passwd *pw = getpwuid(geteuid());
        if (pw == NULL) {
            br_error_set(err, BR_E_USAGE, "--remote-ssh-command: no user given and the current user has no name");
            goto out;
        }
        t->user = br_strdup(pw->pw_name);
    }
    rc = 0;
out:
    words_free(&w);
    return rc;
}

char *
remote_target_label(const struct remote_target *t)
{
    int v6 = strchr(t->host, ':') != NULL;

    if (t->port == REMOTE_SSH_DEFAULT_PORT)
        return v6 ? br_asprintf("%s@[%s]", t->user, t->host) : br_asprintf("%s@%s", t->user, t->host);
    return br_asprintf("%s@[%s]:%d", t->user, t->host, t->port);
}
