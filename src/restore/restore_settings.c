/*
 * restore_settings.c: the last step of recover (spec 6.2 steps 8-11, 6.3).
 *
 * For postgresql.conf and postgresql.auto.conf (created when missing, PG
 * 12+): the original is renamed to <file>.origin (so its mode and time are
 * kept) and a mangled copy written in its place: archive_command lines
 * become "#BARMAN#<line>" + "archive_command = false", recovery_target*
 * lines are only commented. The recovery settings are appended to
 * postgresql.auto.conf, exactly as Barman 3.4 writes them (including the
 * empty line its Python 3 end-of-line test always adds), and the signal
 * file comes last of all: until it exists the directory does not look
 * ready for recovery.
 */
#include "barrel/build.h"
#include "restore_int.h"

#include "barrel/catalog.h"
#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/fs.h"
#include "barrel/mem.h"
#include "barrel/output.h"
#include "barrel/strbuf.h"

#include <ctype.h>
#include <netdb.h>
#include <unistd.h>
#include <inttypes.h>

#define CONF_MAX_BYTES (64 * 1024 * 1024)
#define PG_VERSION_SIGNAL_FILES 120000    /* recovery.signal / standby.signal and settings in postgresql.auto.conf */

struct assertion {
    char *file;
    int line;
    char *key;
    char *value;
};

struct assertions {
    size_t n;
    struct assertion *a;
};

static void
assertion_add(struct assertions *as, const char *file, int line, const char *key, const char *value)
{
    as->a = br_realloc(as->a, (as->n + 1) * sizeof(*as->a));
    as->a[as->n].file = br_strdup(file);
    as->a[as->n].line = line;
    as->a[as->n].key = br_strdup(key);
    as->a[as->n].value = br_strdup(value);
    as->n++;
}

static void
assertions_free(struct assertions *as)
{
    for (size_t i = 0; i < as->n; i++) {
        free(as->a[i].file);
        free(as->a[i].key);
        free(as->a[i].value);
    }
    free(as->a);
}

/* Barman's PG_CONF_SETTING_RE: ^\s*([^\s=]+)\s*=?\s*(.*)$ ; 0 when the line does not match. */
static int
parse_setting(const char *line, size_t len, char **key, char **value)
{
    size_t i = 0, ks, ke;

    while (i < len && isspace((unsigned char) line[i]) && line[i] != '\n')
        i++;
    ks = i;
    while (i < len && !isspace((unsigned char) line[i]) && line[i] != '=')
        i++;
    ke = i;
    if (ke == ks)
        return 0;
    while (i < len && isspace((unsigned char) line[i]) && line[i] != '\n')
        i++;
    if (i < len && line[i] == '=')
        i++;
    while (i < len && isspace((unsigned char) line[i]) && line[i] != '\n')
        i++;
    size_t ve = len;
    while (ve > i && (line[ve - 1] == '\n' || line[ve - 1] == '\r'))
        ve--;
    *key = br_strndup(line + ks, ke - ks);
    *value = br_strndup(line + i, ve - i);
    return 1;
}

static const char *
mangled_value(const char *key, int *found)
{
    static const char *const commented[] = {"recovery_target", "recovery_target_name", "recovery_target_time",
                                            "recovery_target_xid", "recovery_target_lsn", "recovery_target_inclusive",
                                            "recovery_target_timeline", "recovery_target_action"};
    *found = 1;
    if (strcmp(key, "archive_command") == 0)
        return "false";
    for (size_t i = 0; i < BR_ARRAY_LEN(commented); i++)
        if (strcmp(key, commented[i]) == 0)
            return NULL;
    *found = 0;
    return NULL;
}

static int
is_dangerous(const char *key)
{
    static const char *const names[] = {"data_directory", "config_file", "hba_file", "ident_file", "external_pid_file",
                                        "ssl_cert_file", "ssl_key_file", "ssl_ca_file", "ssl_crl_file",
                                        "unix_socket_directory", "unix_socket_directories", "include", "include_dir",
                                        "include_if_exists"};
    for (size_t i = 0; i < BR_ARRAY_LEN(names); i++)
        if (strcmp(key, names[i]) == 0)
            return 1;
    return 0;
}

/*
 * Barman's ConfigurationFileMangeler.mangle_options(): rename to .origin,
 * write the mangled copy with the same mode, append `append` (may be NULL).
 */
static int
mangle_file(struct rctx *cx, const char *name, int create, const char *append, struct assertions *changes,
            struct assertions *warnings, struct br_error *err)
{
    struct restore_target *t = cx->t;
    char *path = path_join(cx->dest, name);
    char *origin = br_asprintf("%s.origin", path);
    struct restore_stat st;
    struct strbuf out;
    char *text = NULL;
    size_t len = 0;
    const char *last_line = NULL;
    int line_no = 0, rc = -1;

    strbuf_init(&out);
    if (t->ops->stat(t, path, &st, err) != 0)
        goto done;
    if (st.type == RT_MISSING && !create) {
        rc = 0;
        goto done;
    }
    if (st.type == RT_MISSING) {
        /* PG 12+: postgresql.auto.conf is created when missing */
        if (t->ops->write_file(t, path, "", 0, 0600, err) != 0)
            goto done;
        st.mode = 0600;
    } else if (st.type != RT_FILE) {
        br_error_set(err, BR_E_STATE, "\"%s\" is not a regular file", path);
        goto done;
    }
    text = t->ops->read_file(t, path, CONF_MAX_BYTES, &len, err);
    if (text == NULL)
        goto done;
    if (t->ops->rename(t, path, origin, err) != 0)
        goto done;
    for (const char *p = text; p < text + len; line_no++) {
        const char *nl = memchr(p, '\n', (size_t) (text + len - p));
        size_t ll = nl ? (size_t) (nl - p) + 1 : (size_t) (text + len - p);
        char *key = NULL, *value = NULL;
        int mangle = 0;

        if (parse_setting(p, ll, &key, &value)) {
            const char *newval = mangled_value(key, &mangle);
            if (mangle) {
                strbuf_append(&out, "#BARMAN#");
                strbuf_append_len(&out, p, ll);
                if (newval != NULL)
                    strbuf_appendf(&out, "%s = %s\n", key, newval);
                assertion_add(changes, name, line_no, key, newval ? newval : "None");
            } else if (is_dangerous(key)) {
                assertion_add(warnings, name, line_no, key, value);
            }
        }
        free(key);
        free(value);
        if (!mangle) {
            strbuf_append_len(&out, p, ll);
            last_line = p;
        }
        p += ll;
    }
    if (append != NULL) {
        /*
         * Barman compares the last line's final byte (an int in Python 3)
         * with b"\n": never equal, so a newline always goes first when
         * any line was kept. Reproduced for byte-identical files.
         */
        if (last_line != NULL)
            strbuf_append_char(&out, '\n');
        strbuf_append(&out, append);
    }
    if (t->ops->write_file(t, path, out.buf, out.len, (mode_t) st.mode, err) != 0)
        goto done;
    rc = 0;
done:
    if (rc != 0)
        restore_error_prefix(err, "could not update %s", name);
    strbuf_free(&out);
    free(text);
    free(origin);
    free(path);
    return rc;
}

/* A value inside single quotes, PostgreSQL style (' doubled). */
static void
append_quoted(struct strbuf *sb, const char *value)
{
    strbuf_append_char(sb, '\'');
    for (const char *p = value; *p; p++) {
        if (*p == '\'')
            strbuf_append_char(sb, '\'');
        strbuf_append_char(sb, *p);
    }
    strbuf_append_char(sb, '\'');
}

/* This host's fully qualified name, as Python's socket.getfqdn() gives it to Barman. */
static void
barman_host_fqdn(char *buf, size_t len)
{
    struct addrinfo hints, *res = NULL;

    if (gethostname(buf, len) != 0) {
        snprintf(buf, len, "localhost");
        return;
    }
    buf[len - 1] = '\0';
    memset(&hints, 0, sizeof(hints));
    hints.ai_flags = AI_CANONNAME;
    if (getaddrinfo(buf, NULL, &hints, &res) == 0 && res != NULL && res->ai_canonname != NULL)
        snprintf(buf, len, "%s", res->ai_canonname);
    if (res != NULL)
        freeaddrinfo(res);
}

/* Barman's _generate_recovery_conf() lines, in its order. */
static void
recovery_lines(struct rctx *cx, struct strbuf *sb)
{
    const struct restore_opts *o = cx->o;

    if (o->get_wal && cx->t->is_remote) {
        /* the recovered server fetches WAL from this host with barman-cli's client (spec 6.3) */
        char fqdn[256];
        barman_host_fqdn(fqdn, sizeof(fqdn));
        strbuf_append(sb, "# The 'barman-wal-restore' command is provided in the 'barman-cli' package\n");
        strbuf_appendf(sb, "restore_command = 'barman-wal-restore %s -U %s %s %s %%f %%p'\n", o->standby_mode ? "" : "-P",
                       o->barman_user ? o->barman_user : "barman", fqdn, cx->srv->name);
    } else if (o->get_wal) {
        const char *user = o->barman_user ? o->barman_user : "barman";
        strbuf_appendf(sb, "# The 'barrel get-wal' command must run as '%s' user\n", user);
        strbuf_appendf(sb, "restore_command = 'sudo -u %s %s", user, o->barrel_path ? o->barrel_path : "barrel");
        if (o->config_path != NULL)
            strbuf_appendf(sb, " -c %s", o->config_path);
        /* Barman leaves the -P slot empty in standby mode (two spaces) */
        strbuf_appendf(sb, " get-wal %s %s %%f > %%p'\n", o->standby_mode ? "" : "-P", cx->srv->name);
    } else if (cx->is_pitr && restore_wal_in_background(cx)) {
        /* waits for each segment barrel's stager is still writing, then links or copies it (restore_stager.c) */
        strbuf_append(sb, "restore_command = 'sh barman_wal/.barrel-wait-wal %f %p'\n");
        strbuf_append(sb, "recovery_end_command = 'rm -fr barman_wal'\n");
    } else if (cx->is_pitr) {
        strbuf_append(sb, "restore_command = 'cp barman_wal/%f %p'\n");
        strbuf_append(sb, "recovery_end_command = 'rm -fr barman_wal'\n");
    }
    /* a standby without get-wal and without PITR has its WAL in pg_wal: no restore_command (Barman >= 3.13.1) */
    if (o->target_time)
        strbuf_appendf(sb, "recovery_target_time = '%s'\n", o->target_time);
    if (o->target_xid)
        strbuf_appendf(sb, "recovery_target_xid = '%s'\n", o->target_xid);
    if (o->target_lsn)
        strbuf_appendf(sb, "recovery_target_lsn = '%s'\n", o->target_lsn);
    if (o->target_name)
        strbuf_appendf(sb, "recovery_target_name = '%s'\n", o->target_name);
    if (o->target_immediate)
        strbuf_append(sb, "recovery_target = 'immediate'\n");
    if ((o->target_xid || o->target_time || o->target_lsn) && o->exclusive)
        strbuf_append(sb, "recovery_target_inclusive = 'False'\n");
    if (o->target_tli)
        strbuf_appendf(sb, "recovery_target_timeline = %s\n", o->target_tli);
    if (o->target_action && cx->is_pitr)
        strbuf_appendf(sb, "recovery_target_action = '%s'\n", o->target_action);
    if (o->standby_mode && o->primary_conninfo) {
        strbuf_append(sb, "primary_conninfo = ");
        append_quoted(sb, o->primary_conninfo);
        strbuf_append_char(sb, '\n');
    }
}

static void
print_assertions(const char *title, const char *intro, const struct assertions *as)
{
    if (as->n == 0)
        return;
    output_info("%s", "");
    output_info("%s", title);
    output_info("%s", intro);
    output_info("%s", "");
    for (size_t i = 0; i < as->n; i++)
        output_info("%s line %d: %s = %s", as->a[i].file, as->a[i].line, as->a[i].key, as->a[i].value);
}

int
restore_settings_write(struct rctx *cx, struct br_error *err)
{
    struct assertions changes = {0}, warnings = {0};
    struct strbuf lines;
    int want_conf = cx->is_pitr || cx->o->get_wal || cx->o->standby_mode;
    int rc = -1;

    strbuf_init(&lines);
    if (cx->bi->version != BI_NULL_INT && cx->bi->version < PG_VERSION_SIGNAL_FILES) {
        br_error_set(err, BR_E_STATE, "backup %s is of PostgreSQL %" PRId64 ": barrel recovers PostgreSQL 12 and later",
                     cx->bi->backup_id, cx->bi->version);
        goto out;
    }
    if (want_conf) {
        output_info("Generating recovery configuration");
        recovery_lines(cx, &lines);
    }
    output_info("Identify dangerous settings in destination directory.");
    if (mangle_file(cx, "postgresql.conf", 0, NULL, &changes, &warnings, err) != 0)
        goto out;
    if (mangle_file(cx, "postgresql.auto.conf", 1, want_conf ? lines.buf : NULL, &changes, &warnings, err) != 0)
        goto out;

    /* last: the signal file */
    if (want_conf) {
        char *signal = path_join(cx->dest, cx->o->standby_mode ? "standby.signal" : "recovery.signal");
        int src = cx->t->ops->write_file(cx->t, signal, "", 0, 0644, err);
        free(signal);
        if (src != 0)
            goto out;
    }
    print_assertions("IMPORTANT", "These settings have been modified to prevent data losses", &changes);
    print_assertions("WARNING", "You are required to review the following options as potentially dangerous",
                     &warnings);
    if (cx->o->get_wal) {
        output_info("%s", "");
        output_info("WARNING: 'get-wal' is in the specified 'recovery_options'.");
        output_info("Before you start up the PostgreSQL server, please review the postgresql.auto.conf file");
        output_info("inside the target directory. Make sure that 'restore_command' can be executed by the "
                    "PostgreSQL user.");
    }
    rc = 0;
out:
    strbuf_free(&lines);
    assertions_free(&changes);
    assertions_free(&warnings);
    return rc;
}
