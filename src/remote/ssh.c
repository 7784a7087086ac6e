/*
 * ssh.c: an SSH session to the recovery host through libssh2: TCP connect,
 * handshake, host key check against known_hosts, authentication,
 * keepalives, disconnect.
 *
 * Host keys are checked strictly, as OpenSSH does with
 * StrictHostKeyChecking=yes: a key that is not in known_hosts is refused,
 * a key that differs from the recorded one is refused loudly; nothing is
 * accepted silently. Only an explicit StrictHostKeyChecking=accept-new
 * adds an unknown key, and no option accepts a changed one. Before the
 * handshake the key types recorded for the host are moved to the front of
 * the host key algorithms, as OpenSSH does, so that a host known by its
 * ed25519 key is not asked for an ecdsa one and then reported unknown.
 *
 * known_hosts is read line by line (libssh2_knownhost_readfile stops at the
 * first line it cannot parse, and certificates or new key types are
 * common): lines libssh2 cannot parse are skipped, @cert-authority lines
 * are ignored, @revoked keys are refused. Hashed names (|1|salt|hash, the
 * Debian default) are matched with HMAC-SHA1 for the type preference;
 * libssh2 matches them itself in the check.
 *
 * Authentication: ssh-agent identities, then key files, then a password
 * only when PasswordAuthentication=yes was given (and the password is read
 * from the environment, never from the command line, never printed).
 */
#include "barrel/build.h"
#include "barrel/remote.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "barrel/error.h"
#include "barrel/log.h"
#include "barrel/mem.h"
#include "barrel/strbuf.h"
#include "remote_int.h"

#define GLOBAL_KNOWN_HOSTS "/etc/ssh/ssh_known_hosts"
/*
 * Blocking calls after login give up after this long without progress (a
 * dead peer), or after ServerAliveInterval * ServerAliveCountMax when longer:
 * a remote fsync of a large file may legitimately take minutes.
 */
#define SESSION_IO_TIMEOUT_S 600

/* ---------------------------------------------------------------- errors */

static const char *
sftp_status_text(unsigned long code)
{
    switch (code) {
    case LIBSSH2_FX_EOF: return "end of file";
    case LIBSSH2_FX_NO_SUCH_FILE: return "no such file or directory";
    case LIBSSH2_FX_PERMISSION_DENIED: return "permission denied";
    case LIBSSH2_FX_FAILURE: return "failure (the SFTP server gives no reason: the file may exist, or the disk may be full)";
    case LIBSSH2_FX_BAD_MESSAGE: return "bad message";
    case LIBSSH2_FX_NO_CONNECTION: return "no connection";
    case LIBSSH2_FX_CONNECTION_LOST: return "connection lost";
    case LIBSSH2_FX_OP_UNSUPPORTED: return "operation not supported by the SFTP server";
    case LIBSSH2_FX_INVALID_HANDLE: return "invalid handle";
    case LIBSSH2_FX_NO_SUCH_PATH: return "no such path";
    case LIBSSH2_FX_FILE_ALREADY_EXISTS: return "file already exists";
    case LIBSSH2_FX_WRITE_PROTECT: return "write protected";
    case LIBSSH2_FX_NO_MEDIA: return "no media";
    case LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM: return "no space left on the filesystem";
    case LIBSSH2_FX_QUOTA_EXCEEDED: return "quota exceeded";
    case LIBSSH2_FX_DIR_NOT_EMPTY: return "directory not empty";
    case LIBSSH2_FX_NOT_A_DIRECTORY: return "not a directory";
    case LIBSSH2_FX_INVALID_FILENAME: return "invalid file name";
    case LIBSSH2_FX_LINK_LOOP: return "too many levels of symbolic links";
    default: return "SFTP error";
    }
}

unsigned long
remote_sftp_status(struct remote_session *s)
{
    if (s->ssh == NULL || s->sftp == NULL || libssh2_session_last_errno(s->ssh) != LIBSSH2_ERROR_SFTP_PROTOCOL)
        return 0;
    return libssh2_sftp_last_error(s->sftp);
}

int
remote_fail(struct remote_session *s, struct br_error *err, const char *fmt, ...)
{
    char what[384], reason[256];
    char *text = NULL;
    int code = 0;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (s->ssh != NULL)
        code = libssh2_session_last_error(s->ssh, &text, NULL, 0);
    if (code == LIBSSH2_ERROR_SFTP_PROTOCOL && s->sftp != NULL) {
        unsigned long st = libssh2_sftp_last_error(s->sftp);
        snprintf(reason, sizeof(reason), "%s", sftp_status_text(st));
    } else if (code == LIBSSH2_ERROR_SOCKET_RECV || code == LIBSSH2_ERROR_SOCKET_SEND
               || code == LIBSSH2_ERROR_SOCKET_DISCONNECT || code == LIBSSH2_ERROR_SOCKET_NONE) {
        /* libssh2's own text ("Failure while draining incoming flow") does not say what happened */
        snprintf(reason, sizeof(reason), "the connection was lost (libssh2 error %d: %s)", code,
                 text != NULL && text[0] != '\0' ? text : "socket error");
    } else if (code == LIBSSH2_ERROR_TIMEOUT) {
        snprintf(reason, sizeof(reason), "timed out (%s)", text != NULL ? text : "no answer");
    } else if (code != 0 && text != NULL && text[0] != '\0') {
        snprintf(reason, sizeof(reason), "%s (libssh2 error %d)", text, code);
    } else {
        snprintf(reason, sizeof(reason), "unknown libssh2 error %d", code);
    }
    br_error_set(err, BR_E_REMOTE, "%s on %s: %s", what, s->label != NULL ? s->label : "remote host", reason);
    return -1;
}

/* ------------------------------------------------------------ init, TCP */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc;

static void
global_init(void)
{
    init_rc = libssh2_init(0);
}

/* Connect with a timeout to the first address of host that answers. */
static int
tcp_connect(const struct remote_target *t, struct br_error *err)
{
    struct addrinfo hints, *res = NULL, *ai;
    char port[16], addr[INET6_ADDRSTRLEN];
    int fd = -1, gai, last_errno = 0;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = t->family;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    snprintf(port, sizeof(port), "%d", t->port);
    gai = getaddrinfo(t->host, port, &hints, &res);
    if (gai != 0) {
        br_error_set(err, BR_E_REMOTE, "could not resolve host \"%s\": %s", t->host, gai_strerror(gai));
        return -1;
    }
    addr[0] = '\0';
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        struct pollfd pfd;
        int soerr = 0, one = 1, pr;
        socklen_t len = sizeof(soerr);

        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            if (errno != EINPROGRESS) {
                last_errno = errno;
                goto next;
            }
            pfd.fd = fd;
            pfd.events = POLLOUT;
            do
                pr = poll(&pfd, 1, t->connect_timeout_s * 1000);
            while (pr < 0 && errno == EINTR);
            if (pr == 0) {
                last_errno = ETIMEDOUT;
                goto next;
            }
            if (pr < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 || soerr != 0) {
                last_errno = pr < 0 ? errno : soerr;
                goto next;
            }
        }
        /* blocking from here: libssh2 in blocking mode waits on it itself */
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
        freeaddrinfo(res);
        return fd;
next:
        if (ai->ai_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *) (void *) ai->ai_addr)->sin_addr, addr, sizeof(addr));
        else if (ai->ai_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *) (void *) ai->ai_addr)->sin6_addr, addr, sizeof(addr));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    errno = last_errno;
    if (addr[0] != '\0' && strcmp(addr, t->host) != 0)
        return br_error_sys(err, BR_E_REMOTE, "could not connect to %s (%s) port %d", t->host, addr, t->port);
    return br_error_sys(err, BR_E_REMOTE, "could not connect to %s port %d", t->host, t->port);
}

/* ------------------------------------------------------------ host keys */

static char *
home_dir(void)
{
    const char *home = getenv("HOME");
    struct passwd *pw;

    if (home != NULL && home[0] != '\0')
        return br_strdup(home);
    pw = getpwuid(geteuid());
    return br_strdup(pw != NULL ? pw->pw_dir : "/");
}

/* The name known_hosts records the host under: "host", or "[host]:port" off port 22. */
static char *
known_hosts_name(const struct remote_target *t)
{
    if (t->port == REMOTE_SSH_DEFAULT_PORT)
        return br_strdup(t->host);
    return br_asprintf("[%s]:%d", t->host, t->port);
}

static int
knownhost_keybit(int hostkey_type)
{
    switch (hostkey_type) {
    case LIBSSH2_HOSTKEY_TYPE_RSA: return LIBSSH2_KNOWNHOST_KEY_SSHRSA;
    case LIBSSH2_HOSTKEY_TYPE_DSS: return LIBSSH2_KNOWNHOST_KEY_SSHDSS;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: return LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: return LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: return LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
    case LIBSSH2_HOSTKEY_TYPE_ED25519: return LIBSSH2_KNOWNHOST_KEY_ED25519;
    default: return LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
    }
}

static const char *
hostkey_type_name(int hostkey_type)
{
    switch (hostkey_type) {
    case LIBSSH2_HOSTKEY_TYPE_RSA: return "RSA";
    case LIBSSH2_HOSTKEY_TYPE_DSS: return "DSA";
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_256:
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_384:
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: return "ECDSA";
    case LIBSSH2_HOSTKEY_TYPE_ED25519: return "ED25519";
    default: return "unknown";
    }
}

/* Host key algorithms (libssh2 names) for a known_hosts key type word. */
static const char *
algorithms_for_keytype(const char *keytype)
{
    if (strcmp(keytype, "ssh-ed25519") == 0)
        return "ssh-ed25519";
    if (strncmp(keytype, "ecdsa-sha2-nistp", 16) == 0)
        return keytype;
    if (strcmp(keytype, "ssh-rsa") == 0)
        return "rsa-sha2-512,rsa-sha2-256,ssh-rsa";
    if (strcmp(keytype, "ssh-dss") == 0)
        return "ssh-dss";
    return NULL;
}

/* OpenSSH's base64 (with padding; fingerprints strip it). */
static void
base64_append(struct strbuf *sb, const unsigned char *in, size_t len)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned) in[i] << 16;
        if (i + 1 < len) v |= (unsigned) in[i + 1] << 8;
        if (i + 2 < len) v |= in[i + 2];
        strbuf_append_char(sb, tbl[(v >> 18) & 63]);
        strbuf_append_char(sb, tbl[(v >> 12) & 63]);
        strbuf_append_char(sb, i + 1 < len ? tbl[(v >> 6) & 63] : '=');
        strbuf_append_char(sb, i + 2 < len ? tbl[v & 63] : '=');
    }
}

static int
base64_decode(const char *in, unsigned char *out, size_t cap, size_t *len)
{
    int n = EVP_DecodeBlock(out, (const unsigned char *) in, (int) strlen(in));
    size_t inlen = strlen(in);

    if (n < 0 || (size_t) n > cap)
        return -1;
    /* EVP_DecodeBlock counts the padding as zero bytes */
    while (inlen > 0 && in[inlen - 1] == '=' && n > 0) {
        inlen--;
        n--;
    }
    *len = (size_t) n;
    return 0;
}

/* "SHA256:..." of the server's key, as ssh-keygen -l prints it. */
static char *
fingerprint(LIBSSH2_SESSION *ssh)
{
    const unsigned char *hash = (const unsigned char *) libssh2_hostkey_hash(ssh, LIBSSH2_HOSTKEY_HASH_SHA256);
    struct strbuf sb;

    strbuf_init(&sb);
    if (hash == NULL) {
        strbuf_append(&sb, "(unavailable)");
        return strbuf_detach(&sb);
    }
    strbuf_append(&sb, "SHA256:");
    base64_append(&sb, hash, 32);
    while (sb.len > 0 && sb.buf[sb.len - 1] == '=')
        sb.buf[--sb.len] = '\0';
    return strbuf_detach(&sb);
}

/* 1 when the hosts field of a known_hosts line names `name` (plain list or |1|salt|hash). */
static int
hosts_field_matches(const char *field, const char *name)
{
    if (strncmp(field, "|1|", 3) == 0) {
        char salt_b64[128], hash_b64[128];
        unsigned char salt[96], want[96], got[EVP_MAX_MD_SIZE];
        size_t salt_len, want_len;
        unsigned got_len = 0;
        const char *bar = strchr(field + 3, '|');

        if (bar == NULL || (size_t) (bar - field - 3) >= sizeof(salt_b64) || strlen(bar + 1) >= sizeof(hash_b64))
            return 0;
        memcpy(salt_b64, field + 3, (size_t) (bar - field - 3));
        salt_b64[bar - field - 3] = '\0';
        snprintf(hash_b64, sizeof(hash_b64), "%s", bar + 1);
        if (base64_decode(salt_b64, salt, sizeof(salt), &salt_len) != 0
            || base64_decode(hash_b64, want, sizeof(want), &want_len) != 0)
            return 0;
        if (HMAC(EVP_sha1(), salt, (int) salt_len, (const unsigned char *) name, strlen(name), got, &got_len) == NULL)
            return 0;
        return got_len == want_len && memcmp(got, want, got_len) == 0;
    }
    for (const char *p = field; *p != '\0';) {
        size_t len = strcspn(p, ",");
        if (len == strlen(name) && strncmp(p, name, len) == 0)
            return 1;
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}

struct known_hosts {
    LIBSSH2_KNOWNHOSTS *keys;      /* every parseable line */
    LIBSSH2_KNOWNHOSTS *revoked;   /* @revoked lines */
    struct strbuf algorithms;      /* host key algorithms recorded for our host, comma-separated */
    int lines_for_host;
};

/*
 * Load one known_hosts file (a missing file is fine: nothing is known).
 * Lines libssh2 cannot parse (certificates, key types it lacks) are
 * skipped, not fatal.
 */
static int
known_hosts_load(struct remote_session *s, struct known_hosts *kh, const char *path, const char *name,
                 struct br_error *err)
{
    FILE *fp = fopen(path, "re");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0;

    (void) s;
    if (fp == NULL) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 0;
        return br_error_sys(err, BR_E_REMOTE, "could not read known_hosts file \"%s\"", path);
    }
    while ((len = getline(&line, &cap, fp)) > 0) {
        char *p = line, *hosts, *keytype;
        LIBSSH2_KNOWNHOSTS *into = kh->keys;

        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0' || *p == '#')
            continue;
        if (*p == '@') {
            if (strncmp(p, "@revoked", 8) != 0 || (p[8] != ' ' && p[8] != '\t'))
                continue;   /* @cert-authority: host certificates are not supported, ignore */
            p += 8;
            while (*p == ' ' || *p == '\t')
                p++;
            into = kh->revoked;
        }
        if (libssh2_knownhost_readline(into, p, strlen(p), LIBSSH2_KNOWNHOST_FILE_OPENSSH) != 0) {
            br_log_debug("known_hosts \"%s\" line %d skipped: libssh2 cannot parse it", path, lineno);
            continue;
        }
        if (into != kh->keys)
            continue;
        /* for the algorithm preference: which key types does this file record for our host? */
        hosts = strtok_r(p, " \t", &keytype);
        keytype = strtok_r(NULL, " \t", &keytype);
        if (hosts != NULL && keytype != NULL && hosts_field_matches(hosts, name)) {
            const char *algs = algorithms_for_keytype(keytype);
            kh->lines_for_host++;
            if (algs != NULL && strstr(kh->algorithms.buf, algs) == NULL) {
                if (kh->algorithms.len > 0)
                    strbuf_append_char(&kh->algorithms, ',');
                strbuf_append(&kh->algorithms, algs);
            }
        }
    }
    free(line);
    fclose(fp);
    return 0;
}

/*
 * Put the host key algorithms known for the host first, then libssh2's
 * others, so that the server is asked for the key we can check.
 */
static void
prefer_known_algorithms(struct remote_session *s, const struct known_hosts *kh)
{
    const char **algs = NULL;
    struct strbuf pref;
    int n;

    if (kh->algorithms.len == 0)
        return;
    n = libssh2_session_supported_algs(s->ssh, LIBSSH2_METHOD_HOSTKEY, &algs);
    if (n <= 0)
        return;
    strbuf_init(&pref);
    /* known ones, in libssh2's order of strength */
    for (int i = 0; i < n; i++) {
        if (strstr(kh->algorithms.buf, algs[i]) != NULL) {
            if (pref.len > 0)
                strbuf_append_char(&pref, ',');
            strbuf_append(&pref, algs[i]);
        }
    }
    for (int i = 0; i < n; i++) {
        if (strstr(kh->algorithms.buf, algs[i]) == NULL) {
            if (pref.len > 0)
                strbuf_append_char(&pref, ',');
            strbuf_append(&pref, algs[i]);
        }
    }
    if (libssh2_session_method_pref(s->ssh, LIBSSH2_METHOD_HOSTKEY, pref.buf) != 0)
        br_log_debug("libssh2 refused the host key preference \"%s\"", pref.buf);
    else
        br_log_debug("host key algorithms: %s", pref.buf);
    libssh2_free(s->ssh, algs);
    strbuf_free(&pref);
}

/* Append the host's key to the user's known_hosts (accept-new). */
static int
known_hosts_add(struct remote_session *s, struct known_hosts *kh, const char *path, const char *name,
                const char *key, size_t key_len, int keybit, struct br_error *err)
{
    struct libssh2_knownhost *entry = NULL;
    char line[16384];
    size_t line_len = 0;
    char *dir;
    FILE *fp;

    if (libssh2_knownhost_addc(kh->keys, name, NULL, key, key_len, NULL, 0,
                               LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | keybit, &entry) != 0
        || libssh2_knownhost_writeline(kh->keys, entry, line, sizeof(line), &line_len,
                                       LIBSSH2_KNOWNHOST_FILE_OPENSSH) != 0)
        return remote_fail(s, err, "could not record the host key of '%s'", name);
    dir = strrchr(path, '/') != NULL ? br_strndup(path, (size_t) (strrchr(path, '/') - path)) : NULL;
    if (dir != NULL && dir[0] != '\0' && mkdir(dir, 0700) != 0 && errno != EEXIST) {
        br_error_sys(err, BR_E_REMOTE, "could not create directory \"%s\"", dir);
        free(dir);
        return -1;
    }
    free(dir);
    fp = fopen(path, "ae");
    if (fp == NULL)
        return br_error_sys(err, BR_E_REMOTE, "could not open known_hosts file \"%s\"", path);
    if (fwrite(line, 1, line_len, fp) != line_len || fflush(fp) != 0 || fsync(fileno(fp)) != 0) {
        br_error_sys(err, BR_E_REMOTE, "could not write known_hosts file \"%s\"", path);
        fclose(fp);
        return -1;
    }
    if (fclose(fp) != 0)
        return br_error_sys(err, BR_E_REMOTE, "could not write known_hosts file \"%s\"", path);
    return 0;
}

/* Check the server's host key; 0 when it is the recorded one (or newly accepted). */
static int
check_host_key(struct remote_session *s, const struct remote_target *t, struct known_hosts *kh,
               const char *user_file, const char *name, struct br_error *err)
{
    const char *key;
    size_t key_len = 0;
    int type = 0, keybit, rc;
    struct libssh2_knownhost *found = NULL;
    int typemask = LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW;
    int port = t->port == REMOTE_SSH_DEFAULT_PORT ? -1 : t->port;
    char *fp;

    key = libssh2_session_hostkey(s->ssh, &key_len, &type);
    if (key == NULL)
        return remote_fail(s, err, "could not get the host key");
    keybit = knownhost_keybit(type);
    typemask |= keybit;

    /* a revoked key is refused whatever else known_hosts says */
    if (libssh2_knownhost_checkp(kh->revoked, t->host, port, key, key_len, typemask, &found)
        == LIBSSH2_KNOWNHOST_CHECK_MATCH) {
        br_error_set(err, BR_E_REMOTE, "host key for '%s' is marked as revoked in known_hosts (%s)", name, user_file);
        return -1;
    }
    rc = libssh2_knownhost_checkp(kh->keys, t->host, port, key, key_len, typemask, &found);
    if (rc == LIBSSH2_KNOWNHOST_CHECK_MATCH)
        return 0;
    fp = fingerprint(s->ssh);
    if (rc == LIBSSH2_KNOWNHOST_CHECK_MISMATCH) {
        br_error_set(err, BR_E_REMOTE,
                     "host key for '%s' has CHANGED since it was recorded in known_hosts (%s): possible "
                     "man-in-the-middle attack",
                     name, user_file);
        br_error_detail(err, "The server offered the %s key %s. barrel never accepts a changed host key.",
                        hostkey_type_name(type), fp);
        br_error_hint(err, "If the host was legitimately reinstalled, check the new fingerprint out of band and "
                           "remove the old key with: ssh-keygen -R '%s' -f '%s'", name, user_file);
        free(fp);
        return -1;
    }
    if (rc == LIBSSH2_KNOWNHOST_CHECK_NOTFOUND && t->hostkey_policy == REMOTE_HOSTKEY_ACCEPT_NEW) {
        if (known_hosts_add(s, kh, user_file, name, key, key_len, keybit, err) != 0) {
            free(fp);
            return -1;
        }
        br_log_warning("permanently added the %s host key %s of '%s' to \"%s\" (StrictHostKeyChecking=accept-new)",
                       hostkey_type_name(type), fp, name, user_file);
        free(fp);
        return 0;
    }
    if (rc == LIBSSH2_KNOWNHOST_CHECK_NOTFOUND) {
        br_error_set(err, BR_E_REMOTE, "host key for '%s' is not in known_hosts (%s)", name, user_file);
        if (kh->lines_for_host > 0)
            br_error_detail(err, "The server offered the %s key %s; known_hosts records other key types for "
                                 "this host.", hostkey_type_name(type), fp);
        else
            br_error_detail(err, "The server offered the %s key %s.", hostkey_type_name(type), fp);
        br_error_hint(err, "Check the fingerprint out of band, then add the host to known_hosts (connect once "
                           "with ssh as this user, or ssh-keyscan -p %d %s >> '%s'), or pass -o "
                           "StrictHostKeyChecking=accept-new.", t->port, t->host, user_file);
        free(fp);
        return -1;
    }
    free(fp);
    return remote_fail(s, err, "could not check the host key of '%s'", name);
}

/* ------------------------------------------------------- authentication */

static int
try_agent(struct remote_session *s, const char *user, struct strbuf *tried)
{
    LIBSSH2_AGENT *agent;
    struct libssh2_agent_publickey *id = NULL, *prev = NULL;
    int ok = 0, n = 0;

    if (getenv("SSH_AUTH_SOCK") == NULL || getenv("SSH_AUTH_SOCK")[0] == '\0')
        return 0;
    agent = libssh2_agent_init(s->ssh);
    if (agent == NULL)
        return 0;
    if (libssh2_agent_connect(agent) != 0) {
        strbuf_appendf(tried, "%sssh-agent (could not connect to SSH_AUTH_SOCK)", tried->len ? ", " : "");
        libssh2_agent_free(agent);
        return 0;
    }
    if (libssh2_agent_list_identities(agent) == 0) {
        while (libssh2_agent_get_identity(agent, &id, prev) == 0) {
            n++;
            if (libssh2_agent_userauth(agent, user, id) == 0) {
                ok = 1;
                br_log_debug("authenticated as '%s' with the agent key \"%s\"", user, id->comment ? id->comment : "");
                break;
            }
            prev = id;
        }
    }
    if (!ok)
        strbuf_appendf(tried, "%sssh-agent (%d key%s refused)", tried->len ? ", " : "", n, n == 1 ? "" : "s");
    libssh2_agent_disconnect(agent);
    libssh2_agent_free(agent);
    return ok;
}

static int
try_key_file(struct remote_session *s, const char *user, const char *file, struct strbuf *tried)
{
    int rc = libssh2_userauth_publickey_fromfile_ex(s->ssh, user, (unsigned) strlen(user), NULL, file, NULL);

    if (rc == 0) {
        br_log_debug("authenticated as '%s' with the key \"%s\"", user, file);
        return 1;
    }
    if (rc == LIBSSH2_ERROR_FILE)
        strbuf_appendf(tried, "%skey \"%s\" (unreadable, or protected by a passphrase: load it into ssh-agent)",
                       tried->len ? ", " : "", file);
    else
        strbuf_appendf(tried, "%skey \"%s\" (refused)", tried->len ? ", " : "", file);
    return 0;
}

static int
authenticate(struct remote_session *s, const struct remote_target *t, struct br_error *err)
{
    const char *user = t->user;
    char *methods_list, *home = NULL;
    struct strbuf tried;
    int ok = 0, pubkey, password, use_agent;
    char methods[256];

    methods_list = libssh2_userauth_list(s->ssh, user, (unsigned) strlen(user));
    if (methods_list == NULL) {
        if (libssh2_userauth_authenticated(s->ssh))
            return 0;   /* the server accepted "none" */
        return remote_fail(s, err, "could not start authentication as '%s'", user);
    }
    snprintf(methods, sizeof(methods), "%s", methods_list);
    pubkey = strstr(methods, "publickey") != NULL;
    password = strstr(methods, "password") != NULL;
    use_agent = !(t->identities_only && t->identity_files != NULL);
    strbuf_init(&tried);

    if (pubkey && use_agent)
        ok = try_agent(s, user, &tried);
    if (!ok && pubkey) {
        if (t->identity_files != NULL) {
            for (char **f = t->identity_files; !ok && *f != NULL; f++)
                ok = try_key_file(s, user, *f, &tried);
        } else {
            static const char *const defaults[] = {"id_ed25519", "id_ecdsa", "id_rsa"};
            home = home_dir();
            for (size_t i = 0; !ok && i < BR_ARRAY_LEN(defaults); i++) {
                char *f = br_asprintf("%s/.ssh/%s", home, defaults[i]);
                if (access(f, R_OK) == 0)
                    ok = try_key_file(s, user, f, &tried);
                free(f);
            }
        }
    }
    if (!ok && t->password_auth && password) {
        const char *pw = getenv(REMOTE_PASSWORD_ENV);

        if (pw == NULL) {
            strbuf_appendf(&tried, "%spassword (not tried: %s is not set)", tried.len ? ", " : "", REMOTE_PASSWORD_ENV);
        } else {
            ok = libssh2_userauth_password_ex(s->ssh, user, (unsigned) strlen(user), pw, (unsigned) strlen(pw), NULL)
                 == 0;
            if (!ok)
                strbuf_appendf(&tried, "%spassword (refused)", tried.len ? ", " : "");
        }
    }
    if (!ok) {
        br_error_set(err, BR_E_REMOTE, "authentication as '%s' to %s failed", user, s->label);
        br_error_detail(err, "Tried: %s. The server accepts: %s.", tried.len ? tried.buf : "nothing usable", methods);
        if (!pubkey)
            br_error_hint(err, "The server does not accept public keys; barrel uses a password only with -o "
                               "PasswordAuthentication=yes and the password in %s.", REMOTE_PASSWORD_ENV);
        else
            br_error_hint(err, "Add the public key of this user (%s/.ssh/id_*.pub) to ~%s/.ssh/authorized_keys on "
                               "the host, or load a key into ssh-agent, or give one with -i.",
                          home != NULL ? home : "~", user);
    }
    free(home);
    strbuf_free(&tried);
    return ok ? 0 : -1;
}

/* --------------------------------------------------------------- session */

struct remote_session *
remote_session_open(const struct remote_target *t, struct br_error *err)
{
    struct remote_session *s = br_calloc(1, sizeof(*s));
    struct known_hosts kh = {0};
    char *user_file = NULL, *home = NULL, *name = NULL;
    int ok = 0;

    s->sock = -1;
    s->fsync_supported = 1;
    s->label = remote_target_label(t);
    strbuf_init(&kh.algorithms);
    pthread_once(&init_once, global_init);
    if (init_rc != 0) {
        br_error_set(err, BR_E_REMOTE, "could not initialise libssh2 (error %d)", init_rc);
        goto out;
    }

    /* connect */
    s->sock = tcp_connect(t, err);
    if (s->sock < 0)
        goto out;
    s->ssh = libssh2_session_init_ex(NULL, NULL, NULL, s);
    if (s->ssh == NULL) {
        br_error_set(err, BR_E_REMOTE, "could not create an SSH session for %s", s->label);
        goto out;
    }
    libssh2_session_set_blocking(s->ssh, 1);
    libssh2_session_set_timeout(s->ssh, (long) t->connect_timeout_s * 1000);
    if (t->compression)
        libssh2_session_flag(s->ssh, LIBSSH2_FLAG_COMPRESS, 1);

    /* known_hosts, before the handshake: it decides the host key algorithms */
    home = home_dir();
    user_file = t->known_hosts != NULL ? br_strdup(t->known_hosts) : br_asprintf("%s/.ssh/known_hosts", home);
    name = known_hosts_name(t);
    kh.keys = libssh2_knownhost_init(s->ssh);
    kh.revoked = libssh2_knownhost_init(s->ssh);
    if (kh.keys == NULL || kh.revoked == NULL) {
        remote_fail(s, err, "could not initialise the known_hosts check");
        goto out;
    }
    if (known_hosts_load(s, &kh, user_file, name, err) != 0
        || known_hosts_load(s, &kh, GLOBAL_KNOWN_HOSTS, name, err) != 0)
        goto out;
    prefer_known_algorithms(s, &kh);

    /* handshake and host key */
    if (libssh2_session_handshake(s->ssh, s->sock) != 0) {
        remote_fail(s, err, "SSH handshake failed");
        goto out;
    }
    if (check_host_key(s, t, &kh, user_file, name, err) != 0)
        goto out;

    /* authentication */
    if (authenticate(s, t, err) != 0)
        goto out;

    /* a dead peer is noticed by keepalives and, in blocking calls, by the timeout */
    libssh2_keepalive_config(s->ssh, 1, (unsigned) t->alive_interval_s);
    {
        long dead_ms = (long) t->alive_interval_s * t->alive_count_max * 1000;
        libssh2_session_set_timeout(s->ssh, dead_ms > SESSION_IO_TIMEOUT_S * 1000L ? dead_ms
                                                                                : SESSION_IO_TIMEOUT_S * 1000L);
    }
    br_log_debug("SSH session to %s open", s->label);
    ok = 1;
out:
    if (kh.keys != NULL)
        libssh2_knownhost_free(kh.keys);
    if (kh.revoked != NULL)
        libssh2_knownhost_free(kh.revoked);
    strbuf_free(&kh.algorithms);
    free(user_file);
    free(home);
    free(name);
    if (!ok) {
        remote_session_close(s);
        return NULL;
    }
    return s;
}

void
remote_session_close(struct remote_session *s)
{
    if (s == NULL)
        return;
    if (s->sftp != NULL)
        libssh2_sftp_shutdown(s->sftp);
    if (s->ssh != NULL) {
        /* a short timeout: a dead peer must not hold the exit */
        libssh2_session_set_timeout(s->ssh, 5000);
        libssh2_session_disconnect(s->ssh, "barrel: done");
        libssh2_session_free(s->ssh);
    }
    if (s->sock >= 0)
        close(s->sock);
    free(s->label);
    free(s);
}

const char *
remote_session_label(const struct remote_session *s)
{
    return s->label;
}

int
remote_session_keepalive(struct remote_session *s, struct br_error *err)
{
    int next = 0;

    if (libssh2_keepalive_send(s->ssh, &next) != 0)
        return remote_fail(s, err, "could not send an SSH keepalive");
    return 0;
}

LIBSSH2_SFTP *
remote_sftp(struct remote_session *s, struct br_error *err)
{
    if (s->sftp != NULL)
        return s->sftp;
    s->sftp = libssh2_sftp_init(s->ssh);
    if (s->sftp == NULL) {
        remote_fail(s, err, "could not start the SFTP subsystem");
        br_error_hint(err, "barrel writes files over SFTP: the host's sshd_config needs a \"Subsystem sftp\" line.");
    }
    return s->sftp;
}
