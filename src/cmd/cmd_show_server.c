/*
 * cmd_show_server.c: `show-servers SERVER...` (alias show-server): every
 * configuration value of the server, then what PostgreSQL reports, as
 * sorted "\tkey: value" lines in Barman's spelling (Python's str():
 * True/False/None, BackupOptions({...})), or one JSON object per server.
 *
 * Differences from Barman: no pg_basebackup_* / pg_receivexlog_* keys,
 * because barrel runs neither program; no pg_stat_archiver keys (status
 * shows them) and no included_files; passwords in conninfo values are
 * redacted.
 */
#include "barrel/build.h"
#include "barrel/cmd.h"
#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/json.h"
#include "barrel/mem.h"
#include "barrel/output.h"
#include "barrel/pgstatus.h"
#include "barrel/strbuf.h"

#include <ctype.h>
#include <getopt.h>

enum value_kind { VK_TEXT, VK_BOOL, VK_INT, VK_NONE };

struct kv {
    char *key;
    char *text;            /* console form */
    enum value_kind kind;  /* JSON form */
};

struct kv_list {
    struct kv *items;
    size_t n, cap;
};

static void
kv_add(struct kv_list *l, const char *key, const char *text, enum value_kind kind)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->items[i].key, key) == 0) {   /* later sources win, as in Barman's dict update */
            free(l->items[i].text);
            l->items[i].text = br_strdup(text ? text : "None");
            l->items[i].kind = text ? kind : VK_NONE;
            return;
        }
    }
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->items = br_realloc(l->items, l->cap * sizeof(*l->items));
    }
    l->items[l->n].key = br_strdup(key);
    l->items[l->n].text = br_strdup(text ? text : "None");
    l->items[l->n].kind = text ? kind : VK_NONE;
    l->n++;
}

static void
kv_add_bool(struct kv_list *l, const char *key, int value)
{
    if (value < 0)
        kv_add(l, key, NULL, VK_NONE);
    else
        kv_add(l, key, value ? "True" : "False", VK_BOOL);
}

static int
kv_cmp(const void *a, const void *b)
{
    return strcmp(((const struct kv *) a)->key, ((const struct kv *) b)->key);
}

static int
is_bool_option(const char *name)
{
    static const char *const names[] = {"active", "archiver", "streaming_archiver", "network_compression",
                                        "immediate_checkpoint", "forward_config_path"};
    for (size_t i = 0; i < BR_ARRAY_LEN(names); i++)
        if (strcmp(name, names[i]) == 0)
            return 1;
    return 0;
}

static int
is_int_text(const char *s)
{
    if (*s == '-' || *s == '+')
        s++;
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char) *s))
            return 0;
    return 1;
}

/* Barman 3.4's keys always; barrel's own only when set; newer Barman's never (3.4 has no such key). */
static int
option_shown(const char *name, const char *value)
{
    for (size_t i = 0; i < config_option_count(); i++) {
        const struct config_option_info *info = config_option_at(i);
        if (strcmp(info->name, name) == 0)
            return info->since == NULL || (strcmp(info->since, "barrel") == 0 && value != NULL);
    }
    return 0;
}

static char *
flags_repr(const char *type, unsigned flags, const char *const *names, const unsigned *bits, size_t n)
{
    struct strbuf sb;
    int first = 1;

    strbuf_init(&sb);
    strbuf_appendf(&sb, "%s(", type);
    for (size_t i = 0; i < n; i++) {
        if (!(flags & bits[i]))
            continue;
        strbuf_appendf(&sb, "%s'%s'", first ? "{" : ", ", names[i]);
        first = 0;
    }
    strbuf_append(&sb, first ? ")" : "})");
    return strbuf_detach(&sb);
}

static void
add_config_values(struct kv_list *l, const struct barrel_config *cfg, const struct server_config *srv)
{
    static const char *const bo_names[] = {"concurrent_backup", "exclusive_backup", "external_configuration"};
    static const unsigned bo_bits[] = {BACKUP_OPT_CONCURRENT, BACKUP_OPT_EXCLUSIVE, BACKUP_OPT_EXTERNAL_CFG};
    static const char *const ro_names[] = {"get-wal", "delta-restore"};
    static const unsigned ro_bits[] = {RECOVERY_OPT_GET_WAL, RECOVERY_OPT_DELTA};
    struct strbuf sb;
    char *text;

    for (size_t i = 0; i < srv->n_raw; i++) {
        const char *name = srv->raw_names[i], *value = srv->raw_values[i];
        if (!option_shown(name, value))
            continue;
        if (strcmp(name, "backup_options") == 0) {
            text = flags_repr("BackupOptions", srv->backup_options, bo_names, bo_bits, BR_ARRAY_LEN(bo_bits));
            kv_add(l, name, text, VK_TEXT);
            free(text);
        } else if (strcmp(name, "recovery_options") == 0) {
            text = flags_repr("RecoveryOptions", srv->recovery_options, ro_names, ro_bits, BR_ARRAY_LEN(ro_bits));
            kv_add(l, name, text, VK_TEXT);
            free(text);
        } else if (strcmp(name, "wal_retention_policy") == 0)
            /* Barman replaces the string by its policy object (str() "MAIN") only with a retention_policy */
            kv_add(l, name, srv->retention_policy.kind != RETENTION_NONE ? "MAIN" : "main", VK_TEXT);
        else if (strstr(name, "conninfo") != NULL && value != NULL) {
            text = output_redact_conninfo(value);
            kv_add(l, name, text, VK_TEXT);
            free(text);
        } else if (value != NULL && is_bool_option(name))
            kv_add_bool(l, name, config_parse_bool(value));
        else
            kv_add(l, name, value, value && is_int_text(value) ? VK_INT : VK_TEXT);
    }
    kv_add(l, "name", srv->name, VK_TEXT);
    kv_add(l, "barman_home", cfg->barman_home, VK_TEXT);
    kv_add(l, "barman_lock_directory", cfg->barman_lock_directory, VK_TEXT);
    kv_add_bool(l, "disabled", srv->n_disabled_reasons > 0);
    kv_add_bool(l, "passive_node", 0);
    /* msg_list: Python list repr of the configuration problems */
    strbuf_init(&sb);
    strbuf_append_char(&sb, '[');
    for (size_t i = 0; i < srv->n_disabled_reasons; i++) {
        const char *m = srv->disabled_reasons[i];
        strbuf_appendf(&sb, "%s%c%s%c", i ? ", " : "", strchr(m, '\'') ? '"' : '\'', m, strchr(m, '\'') ? '"' : '\'');
    }
    strbuf_append_char(&sb, ']');
    kv_add(l, "msg_list", sb.buf, VK_TEXT);
    strbuf_free(&sb);
}

static void
add_remote_values(struct kv_list *l, const struct server_config *srv)
{
    struct pg_remote_status st;
    char *slot;

    pg_remote_status_fetch(srv, &st);
    kv_add(l, "connection_error", st.connection_error, VK_TEXT);
    kv_add(l, "server_txt_version", st.server_txt_version, VK_TEXT);
    kv_add_bool(l, "is_superuser", st.is_superuser);
    kv_add_bool(l, "has_backup_privileges", st.has_backup_privileges);
    kv_add_bool(l, "is_in_recovery", st.is_in_recovery);
    kv_add(l, "data_directory", st.data_directory, VK_TEXT);
    kv_add(l, "config_file", st.config_file, VK_TEXT);
    kv_add(l, "hba_file", st.hba_file, VK_TEXT);
    kv_add(l, "ident_file", st.ident_file, VK_TEXT);
    kv_add(l, "wal_level", st.wal_level, VK_TEXT);
    kv_add(l, "hot_standby", st.hot_standby, VK_TEXT);
    kv_add(l, "max_wal_senders", st.max_wal_senders, VK_TEXT);
    kv_add(l, "data_checksums", st.data_checksums, VK_TEXT);
    kv_add(l, "max_replication_slots", st.max_replication_slots, VK_TEXT);
    kv_add(l, "wal_compression", st.wal_compression, VK_TEXT);
    kv_add(l, "wal_keep_size", st.wal_keep_size, VK_TEXT);
    kv_add(l, "archive_timeout", st.archive_timeout, VK_INT);
    kv_add(l, "checkpoint_timeout", st.checkpoint_timeout, VK_INT);
    kv_add(l, "current_lsn", st.current_lsn, VK_TEXT);
    kv_add(l, "current_xlog", st.current_xlog, VK_TEXT);
    kv_add(l, "current_size", st.current_size, VK_INT);
    kv_add(l, "xlog_segment_size", st.xlog_segment_size, VK_INT);
    kv_add(l, "postgres_systemid", st.postgres_systemid, VK_TEXT);
    kv_add(l, "version_supported", st.server_version_num ? (st.server_version_num >= 150000 ? "True" : "False") : NULL,
           VK_BOOL);
    kv_add(l, "replication_slot_support", st.server_txt_version ? "True" : NULL, VK_BOOL);
    if (srv->slot_name != NULL && st.slot_found == 1) {
        slot = br_asprintf("Record(slot_name='%s', active=%s, restart_lsn=%s%s%s)", srv->slot_name,
                           st.slot_active ? "True" : "False", st.slot_restart_lsn ? "'" : "",
                           st.slot_restart_lsn ? st.slot_restart_lsn : "None", st.slot_restart_lsn ? "'" : "");
        kv_add(l, "replication_slot", slot, VK_TEXT);
        free(slot);
    } else
        kv_add(l, "replication_slot", NULL, VK_NONE);
    if (st.synchronous_standby_names != NULL) {
        char *ssn = br_asprintf("['%s']", st.synchronous_standby_names);
        kv_add(l, "synchronous_standby_names", ssn, VK_TEXT);
        free(ssn);
    } else
        kv_add(l, "synchronous_standby_names", NULL, VK_NONE);
    if (srv->archiver) {
        kv_add(l, "archive_mode", st.archive_mode, VK_TEXT);
        kv_add(l, "archive_command", st.archive_command, VK_TEXT);
    }
    if (srv->backup_method == BACKUP_METHOD_POSTGRES || srv->streaming_archiver) {
        kv_add_bool(l, "streaming", st.streaming ? 1 : 0);
        kv_add(l, "streaming_supported", st.streaming ? "True" : NULL, VK_BOOL);
        kv_add(l, "streaming_systemid", st.streaming_systemid, VK_TEXT);
        kv_add(l, "timeline", st.timeline, VK_INT);
        kv_add(l, "xlogpos", st.xlogpos, VK_TEXT);
    }
    pg_remote_status_reset(&st);
}

static void
show_server(const struct barrel_config *cfg, const struct server_config *srv)
{
    struct kv_list l = {0};

    add_config_values(&l, cfg, srv);
    add_remote_values(&l, srv);
    qsort(l.items, l.n, sizeof(*l.items), kv_cmp);
    if (output_is_json()) {
        struct json *obj = json_object();
        for (size_t i = 0; i < l.n; i++) {
            struct json *v;
            switch (l.items[i].kind) {
            case VK_NONE: v = json_null(); break;
            case VK_BOOL: v = json_bool(strcmp(l.items[i].text, "True") == 0); break;
            case VK_INT: v = json_int(strtoll(l.items[i].text, NULL, 10)); break;
            default: v = json_string(l.items[i].text);
            }
            json_object_set(obj, l.items[i].key, v);
        }
        output_result_set(srv->name, obj);
    } else {
        output_text("Server %s%s:\n", srv->name, srv->n_disabled_reasons ? " (WARNING: disabled)" : "");
        for (size_t i = 0; i < l.n; i++)
            output_text("\t%s: %s\n", l.items[i].key, l.items[i].text);
    }
    for (size_t i = 0; i < l.n; i++) {
        free(l.items[i].key);
        free(l.items[i].text);
    }
    free(l.items);
}

int
cmd_show_server(struct cmd_context *ctx, int argc, char **argv, struct br_error *err)
{
    static const struct option longopts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const struct server_config **servers = NULL;
    size_t n;
    int c;

    optind = 0;    /* 0, not 1: glibc re-initialises and permutes again (main parsed with "+") */
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'h') {
            cmd_print_help(cmd_find("show-servers"), NULL);
            return 0;
        }
        return br_error_set(err, BR_E_USAGE, "show-servers: unrecognized arguments");
    }
    if (optind >= argc)
        return br_error_set(err, BR_E_USAGE, "show-servers: the following arguments are required: server_name");
    n = cmd_servers_from_args(ctx, argc - optind, argv + optind, 0, &servers);
    for (size_t i = 0; i < n; i++)
        if (cmd_server_usable(servers[i], 0, 0, 0, 0))
            show_server(ctx->cfg, servers[i]);
    free(servers);
    return 0;
}
