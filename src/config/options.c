/*
 * options.c: THE option table. Every key Barman 3.4 documents (global-only
 * keys, every server option including snapshot_* and the twenty hook
 * scripts), the newer keys of Barman 3.5..3.17 (accepted, not implemented)
 * and barrel's own metrics_file.
 *
 * Each row says where the key may appear (scope), how its text is parsed,
 * its default, which typed field receives it and whether barrel implements
 * it. The loader, the defaults, validation, show-server (table order) and
 * the "accepted but not implemented" warning all read this table; nothing
 * else lists option names. Defaults flagged `interp` go through %(name)s
 * interpolation like Barman's DEFAULTS; the others are literal.
 */
#include "barrel/build.h"
#include "config_int.h"

#include <limits.h>
#include <stddef.h>

/* The choices and the value each one stores (enum constant or CSV bit). */
static const char *const backup_method_choices[] = { "rsync", "postgres", "local-rsync", "snapshot", NULL };
static const unsigned backup_method_values[] = { BACKUP_METHOD_RSYNC, BACKUP_METHOD_POSTGRES,
                                                 BACKUP_METHOD_LOCAL_RSYNC, BACKUP_METHOD_SNAPSHOT };
static const char *const create_slot_choices[] = { "manual", "auto", NULL };
static const unsigned create_slot_values[] = { CREATE_SLOT_MANUAL, CREATE_SLOT_AUTO };
/* "none" is Barman 3.9's uncompressed tar; being a choice, the exact word does not read as None (unset) */
static const char *const backup_compression_choices[] = { "gzip", "lz4", "zstd", "none", NULL };
static const unsigned backup_compression_values[] = { BACKUP_COMPRESSION_GZIP, BACKUP_COMPRESSION_LZ4,
                                                      BACKUP_COMPRESSION_ZSTD, BACKUP_COMPRESSION_NONE };
static const char *const backup_format_choices[] = { "plain", "tar", NULL };
static const unsigned backup_format_values[] = { BACKUP_FORMAT_PLAIN, BACKUP_FORMAT_TAR };
static const char *const backup_location_choices[] = { "client", "server", NULL };
static const unsigned backup_location_values[] = { BACKUP_LOCATION_CLIENT, BACKUP_LOCATION_SERVER };
static const char *const reuse_backup_choices[] = { "off", "copy", "link", NULL };
static const unsigned reuse_backup_values[] = { REUSE_BACKUP_OFF, REUSE_BACKUP_COPY, REUSE_BACKUP_LINK };
static const char *const backup_options_choices[] = { "concurrent_backup", "exclusive_backup",
                                                      "external_configuration", NULL };
static const unsigned backup_options_values[] = { BACKUP_OPT_CONCURRENT, BACKUP_OPT_EXCLUSIVE,
                                                  BACKUP_OPT_EXTERNAL_CFG };
/* delta-restore is 3.16; accepted because the flag exists in config.h */
static const char *const recovery_options_choices[] = { "get-wal", "delta-restore", NULL };
static const unsigned recovery_options_values[] = { RECOVERY_OPT_GET_WAL, RECOVERY_OPT_DELTA };
/* Enums stored as text (choice_values NULL): the canonical spelling below is stored. */
static const char *const wal_retention_choices[] = { "main", NULL };
static const char *const retention_mode_choices[] = { "auto", NULL };
static const char *const log_level_choices[] = { "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", NULL };

#define G CONFIG_SCOPE_GLOBAL
#define S CONFIG_SCOPE_SERVER
#define B CONFIG_SCOPE_BOTH
#define SRV(field) 0, offsetof(struct server_config, field)
#define GLB(field) 1, offsetof(struct barrel_config, field)
#define NOF 0, CONFIG_NO_FIELD

/*
 * name, scope, default, implemented, since | type, interp, choices, values, min | where
 * (`where` is last because SRV()/GLB()/NOF expand to two initialisers).
 */
#define OPT(name, scope, def, impl, since, type, interp, choices, values, min, ...) \
    { { name, scope, def, impl, since }, CONFIG_TYPE_##type, __VA_ARGS__, choices, values, min, interp }
#define STR(name, scope, def, impl, ...) OPT(name, scope, def, impl, NULL, STRING, 0, NULL, NULL, 0, __VA_ARGS__)
#define PATHD(name, scope, def, ...) OPT(name, scope, def, 1, NULL, PATH, 1, NULL, NULL, 0, __VA_ARGS__)
#define BOOL(name, scope, def, impl, ...) OPT(name, scope, def, impl, NULL, BOOL, 0, NULL, NULL, 0, __VA_ARGS__)
#define INT(name, scope, def, impl, min, ...) OPT(name, scope, def, impl, NULL, INT, 0, NULL, NULL, min, __VA_ARGS__)
#define ENUM(name, scope, def, impl, ch, vals, ...) \
    OPT(name, scope, def, impl, NULL, ENUM, 0, ch, vals, 0, __VA_ARGS__)
#define HOOK(name) STR(name, B, NULL, 0, NOF)
#define NEWER(name, scope, def, since) OPT(name, scope, def, 0, since, STRING, 0, NULL, NULL, 0, NOF)

const struct config_option config_options[] = {
    /* ---- global-only keys ([barman]) ---- */
    OPT("barman_home", G, NULL, 1, NULL, PATH, 0, NULL, NULL, 0, GLB(barman_home)),
    STR("barman_user", G, "barman", 1, GLB(barman_user)),
    OPT("barman_lock_directory", G, "%(barman_home)s", 1, NULL, PATH, 1, NULL, NULL, 0,
        GLB(barman_lock_directory)),
    OPT("log_file", G, NULL, 1, NULL, PATH, 0, NULL, NULL, 0, GLB(log_file)),
    OPT("log_level", G, "INFO", 1, NULL, ENUM, 0, log_level_choices, NULL, 0, GLB(log_level)),
    STR("log_format", G, "%(asctime)s [%(process)s] %(name)s %(levelname)s: %(message)s", 1, NOF),
    OPT("configuration_files_directory", G, NULL, 1, NULL, PATH, 0, NULL, NULL, 0,
        GLB(configuration_files_directory)),

    /* ---- server options (Barman 3.4, spec 1.5) ---- */
    BOOL("active", S, "true", 1, SRV(active)),
    STR("description", S, NULL, 1, SRV(description)),
    STR("conninfo", S, NULL, 1, SRV(conninfo)),
    OPT("streaming_conninfo", S, "%(conninfo)s", 1, NULL, STRING, 1, NULL, NULL, 0, SRV(streaming_conninfo)),
    STR("primary_conninfo", S, NULL, 1, SRV(primary_conninfo)),
    ENUM("backup_method", B, "rsync", 1, backup_method_choices, backup_method_values, SRV(backup_method)),
    OPT("backup_options", B, "", 0, NULL, CSV, 0, backup_options_choices, backup_options_values, 0,
        SRV(backup_options)),
    STR("ssh_command", S, NULL, 0, SRV(ssh_command)),
    BOOL("archiver", B, "off", 1, SRV(archiver)),
    INT("archiver_batch_size", B, "0", 1, 0, SRV(archiver_batch_size)),
    BOOL("streaming_archiver", B, "off", 1, SRV(streaming_archiver)),
    INT("streaming_archiver_batch_size", B, "0", 1, 0, SRV(streaming_archiver_batch_size)),
    STR("streaming_archiver_name", B, "barman_receive_wal", 1, SRV(streaming_archiver_name)),
    STR("streaming_backup_name", B, "barman_streaming_backup", 1, SRV(streaming_backup_name)),
    OPT("slot_name", B, NULL, 1, NULL, SLOT, 0, NULL, NULL, 0, SRV(slot_name)),
    ENUM("create_slot", B, "manual", 1, create_slot_choices, create_slot_values, SRV(create_slot)),
    STR("path_prefix", B, NULL, 1, SRV(path_prefix)),
    STR("compression", B, NULL, 1, SRV(compression)),
    STR("custom_compression_filter", B, NULL, 1, SRV(custom_compression_filter)),
    STR("custom_decompression_filter", B, NULL, 1, SRV(custom_decompression_filter)),
    STR("custom_compression_magic", B, NULL, 1, SRV(custom_compression_magic)),
    ENUM("backup_compression", B, NULL, 1, backup_compression_choices, backup_compression_values,
        SRV(backup_compression)),
    ENUM("backup_compression_format", B, NULL, 1, backup_format_choices, backup_format_values,
        SRV(backup_compression_format)),
    INT("backup_compression_level", B, NULL, 1, INT_MIN, SRV(backup_compression_level)),
    ENUM("backup_compression_location", B, NULL, 1, backup_location_choices, backup_location_values,
        SRV(backup_compression_location)),
    INT("backup_compression_workers", B, NULL, 1, 0, SRV(backup_compression_workers)),
    ENUM("reuse_backup", B, NULL, 0, reuse_backup_choices, reuse_backup_values, SRV(reuse_backup)),
    INT("parallel_jobs", B, "1", 1, 1, SRV(parallel_jobs)),
    BOOL("network_compression", B, "false", 1, SRV(network_compression)),
    OPT("bandwidth_limit", B, NULL, 1, NULL, INT64, 0, NULL, NULL, 0, SRV(bandwidth_limit)),
    STR("tablespace_bandwidth_limit", B, NULL, 0, SRV(tablespace_bandwidth_limit)),
    BOOL("immediate_checkpoint", B, "false", 1, SRV(immediate_checkpoint)),
    INT("basebackup_retry_times", B, "0", 1, 0, SRV(basebackup_retry_times)),
    INT("basebackup_retry_sleep", B, "30", 1, 0, SRV(basebackup_retry_sleep)),
    INT("check_timeout", B, "30", 1, 0, SRV(check_timeout)),
    INT("minimum_redundancy", B, "0", 1, 0, SRV(minimum_redundancy)),
    OPT("retention_policy", B, NULL, 1, NULL, RETENTION, 0, NULL, NULL, 0, SRV(retention_policy_text)),
    ENUM("wal_retention_policy", B, "main", 1, wal_retention_choices, NULL, SRV(wal_retention_policy)),
    ENUM("retention_policy_mode", B, "auto", 1, retention_mode_choices, NULL, SRV(retention_policy_mode)),
    OPT("last_backup_maximum_age", B, NULL, 1, NULL, INTERVAL, 0, NULL, NULL, 0,
        SRV(last_backup_maximum_age)),
    OPT("last_backup_minimum_size", B, NULL, 1, NULL, SIZE, 0, NULL, NULL, 0, SRV(last_backup_minimum_size)),
    OPT("last_wal_maximum_age", B, NULL, 1, NULL, INTERVAL, 0, NULL, NULL, 0, SRV(last_wal_maximum_age)),
    INT("max_incoming_wals_queue", B, NULL, 1, 0, SRV(max_incoming_wals_queue)),
    OPT("recovery_options", B, "", 1, NULL, CSV, 0, recovery_options_choices, recovery_options_values, 0,
        SRV(recovery_options)),
    OPT("recovery_staging_path", B, NULL, 1, NULL, ABSPATH, 0, NULL, NULL, 0, SRV(recovery_staging_path)),
    STR("primary_ssh_command", B, NULL, 0, SRV(primary_ssh_command)),
    BOOL("forward_config_path", B, "false", 0, SRV(forward_config_path)),
    PATHD("backup_directory", S, "%(barman_home)s/%(name)s", SRV(backup_directory)),
    PATHD("basebackups_directory", S, "%(backup_directory)s/base", SRV(basebackups_directory)),
    PATHD("wals_directory", S, "%(backup_directory)s/wals", SRV(wals_directory)),
    PATHD("incoming_wals_directory", S, "%(backup_directory)s/incoming", SRV(incoming_wals_directory)),
    PATHD("streaming_wals_directory", S, "%(backup_directory)s/streaming", SRV(streaming_wals_directory)),
    PATHD("errors_directory", S, "%(backup_directory)s/errors", SRV(errors_directory)),

    /* ---- GCP disk snapshots (3.4, backup_method = snapshot) ---- */
    STR("snapshot_disks", S, NULL, 0, NOF),
    STR("snapshot_instance", S, NULL, 0, NOF),
    STR("snapshot_provider", B, NULL, 0, NOF),
    STR("snapshot_zone", B, NULL, 0, NOF),
    STR("snapshot_gcp_project", B, NULL, 0, NOF),

    /* ---- hook scripts (spec 1.7) ---- */
    HOOK("pre_backup_script"), HOOK("pre_backup_retry_script"),
    HOOK("post_backup_script"), HOOK("post_backup_retry_script"),
    HOOK("pre_archive_script"), HOOK("pre_archive_retry_script"),
    HOOK("post_archive_script"), HOOK("post_archive_retry_script"),
    HOOK("pre_delete_script"), HOOK("pre_delete_retry_script"),
    HOOK("post_delete_script"), HOOK("post_delete_retry_script"),
    HOOK("pre_recovery_script"), HOOK("pre_recovery_retry_script"),
    HOOK("post_recovery_script"), HOOK("post_recovery_retry_script"),
    HOOK("pre_wal_delete_script"), HOOK("pre_wal_delete_retry_script"),
    HOOK("post_wal_delete_script"), HOOK("post_wal_delete_retry_script"),

    /* ---- newer Barman releases (spec 1.3 and 1.6): accepted, not implemented ---- */
    NEWER("lock_directory_cleanup", G, "true", "3.10"),
    NEWER("config_changes_queue", G, "%(barman_home)s/cfg_changes.queue", "3.10"),
    NEWER("parallel_jobs_start_batch_size", B, "10", "3.5"),
    NEWER("parallel_jobs_start_batch_period", B, "1", "3.5"),
    NEWER("gcp_project", B, NULL, "3.6"),
    NEWER("gcp_zone", B, NULL, "3.6"),
    NEWER("azure_credential", B, NULL, "3.6"),
    NEWER("azure_resource_group", B, NULL, "3.6"),
    NEWER("azure_subscription_id", B, NULL, "3.6"),
    NEWER("aws_profile", B, NULL, "3.7"),
    NEWER("aws_region", B, NULL, "3.7"),
    NEWER("autogenerate_manifest", B, "false", "3.7"),
    NEWER("primary_checkpoint_timeout", B, "0", "3.8"),
    NEWER("wal_conninfo", S, NULL, "3.10"),
    NEWER("wal_streaming_conninfo", S, NULL, "3.10"),
    NEWER("cluster", B, NULL, "3.10"),
    NEWER("model", S, NULL, "3.10"),
    NEWER("keepalive_interval", B, "60", "3.11"),
    NEWER("local_staging_path", B, NULL, "3.11"),
    NEWER("aws_await_snapshots_timeout", B, "3600", "3.11"),
    NEWER("aws_snapshot_lock_mode", B, NULL, "3.12"),
    NEWER("aws_snapshot_lock_duration", B, NULL, "3.12"),
    NEWER("aws_snapshot_lock_cool_off_period", B, NULL, "3.12"),
    NEWER("aws_snapshot_lock_expiration_date", B, NULL, "3.12"),
    NEWER("xlogdb_directory", B, NULL, "3.13"),
    NEWER("worm_mode", B, "off", "3.13"),
    NEWER("compression_level", B, "medium", "3.14"),
    NEWER("encryption", B, "none", "3.14"),
    NEWER("encryption_key_id", B, NULL, "3.14"),
    NEWER("encryption_passphrase_command", B, NULL, "3.14"),
    NEWER("staging_path", B, NULL, "3.15"),
    NEWER("staging_location", B, "local", "3.15"),
    NEWER("combine_mode", B, "copy", "3.16"),

    /* ---- barrel's own ---- */
    OPT("metrics_file", B, NULL, 1, "barrel", PATH, 0, NULL, NULL, 0, SRV(metrics_file)),
};

const size_t config_n_options = BR_ARRAY_LEN(config_options);

const struct config_option *
config_option_find(const char *name, size_t *idx_out)
{
    for (size_t i = 0; i < config_n_options; i++) {
        if (strcmp(config_options[i].info.name, name) == 0) {
            if (idx_out != NULL)
                *idx_out = i;
            return &config_options[i];
        }
    }
    return NULL;
}

size_t
config_option_count(void)
{
    return config_n_options;
}

const struct config_option_info *
config_option_at(size_t idx)
{
    if (idx >= config_n_options)
        return NULL;
    return &config_options[idx].info;
}
