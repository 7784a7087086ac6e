/*
 * config.h: Barman's configuration files, read as Barman 3.4 reads them.
 *
 * Search order: -c FILE, then BARMAN_CONFIG_FILE, then the first readable of
 * ~/.barrel.conf, /etc/barrel.conf, /etc/barrel/barrel.conf, ~/.barman.conf,
 * /etc/barman.conf, /etc/barman/barman.conf. Then every *.conf in
 * configuration_files_directory, in name order. `[barman]` (or its synonym
 * `[barrel]`) is the global section; every other section is a server.
 *
 * Each option comes from one table (src/config/options.c): name, scope,
 * type, default, and whether barrel implements it yet. The loader, the
 * defaults, validation, show-server and the "accepted but not implemented"
 * warning all read that table.
 *
 * Where Barman only warns and carries on, barrel is stricter on purpose:
 * a value that does not parse (bad boolean, bad retention policy, bad
 * enum), an unreadable include, a duplicate section or a missing
 * barman_home is an error naming the file and line, exit status 2.
 * Unknown keys give Barman's warning; known options barrel does not
 * implement yet give a one-line warning.
 */
#ifndef BARREL_CONFIG_H
#define BARREL_CONFIG_H

#include "barrel/build.h"
#include <stddef.h>
#include <stdint.h>

struct br_error;

enum backup_method { BACKUP_METHOD_RSYNC, BACKUP_METHOD_POSTGRES, BACKUP_METHOD_LOCAL_RSYNC, BACKUP_METHOD_SNAPSHOT };
enum create_slot_mode { CREATE_SLOT_MANUAL, CREATE_SLOT_AUTO };
enum backup_compression { BACKUP_COMPRESSION_UNSET, BACKUP_COMPRESSION_GZIP, BACKUP_COMPRESSION_LZ4,
                          BACKUP_COMPRESSION_ZSTD, BACKUP_COMPRESSION_NONE };
enum backup_compression_format { BACKUP_FORMAT_UNSET, BACKUP_FORMAT_PLAIN, BACKUP_FORMAT_TAR };
enum backup_compression_location { BACKUP_LOCATION_UNSET, BACKUP_LOCATION_CLIENT, BACKUP_LOCATION_SERVER };
enum reuse_backup { REUSE_BACKUP_UNSET, REUSE_BACKUP_OFF, REUSE_BACKUP_COPY, REUSE_BACKUP_LINK };

/* backup_options / recovery_options CSV flags */
#define BACKUP_OPT_CONCURRENT   0x1
#define BACKUP_OPT_EXCLUSIVE    0x2
#define BACKUP_OPT_EXTERNAL_CFG 0x4
#define RECOVERY_OPT_GET_WAL    0x1
#define RECOVERY_OPT_DELTA      0x2

enum retention_kind { RETENTION_NONE = 0, RETENTION_REDUNDANCY, RETENTION_WINDOW };
enum retention_unit { RETENTION_DAYS = 'd', RETENTION_WEEKS = 'w', RETENTION_MONTHS = 'm' };

struct retention_policy {
    enum retention_kind kind;
    int value;                 /* n of REDUNDANCY n, or of RECOVERY WINDOW OF n UNIT */
    enum retention_unit unit;  /* RETENTION_WINDOW only */
};

/*
 * Parse a retention_policy string ("REDUNDANCY 2", "recovery window of 1 week").
 * 0 on success; -1 with a message in err ("expected 'REDUNDANCY n' or
 * 'RECOVERY WINDOW OF n DAYS|WEEKS|MONTHS'").
 */
int retention_policy_parse(const char *text, struct retention_policy *out, struct br_error *err);
/* Barman's display form: "REDUNDANCY 2", "RECOVERY WINDOW OF 1 WEEKS" ("None" when unset). */
void retention_policy_format(const struct retention_policy *rp, char *buf, size_t len);
/* Window length in seconds (a month is 31 days); 0 for non-window policies. */
int64_t retention_policy_window_seconds(const struct retention_policy *rp);

/* Durations ("1 day", "2 weeks", "3 hours", a month = 31 days) in seconds; -1 if invalid. */
int64_t config_parse_interval(const char *text);
/* Sizes with SI/IEC suffixes, case-sensitive ("10 Gi", "5k"); -1 if invalid. */
int64_t config_parse_size(const char *text);
/* Barman booleans: 1, 0, or -1 if invalid. */
int config_parse_bool(const char *text);

/* A NULL pointer below means "unset" (Barman's None). */
struct server_config {
    char *name;
    /* file:line of the section header, for messages */
    char *defined_in;
    int   defined_line;

    int   active;                         /* default true */
    char *description;
    char *conninfo;
    char *streaming_conninfo;             /* default: conninfo */
    char *primary_conninfo;
    enum backup_method backup_method;     /* default rsync */
    unsigned backup_options;              /* BACKUP_OPT_* */
    char *ssh_command;
    int   archiver;                       /* effective value (forced on when both archivers are off) */
    int   archiver_batch_size;
    int   streaming_archiver;
    int   streaming_archiver_batch_size;
    char *streaming_archiver_name;        /* default barman_receive_wal */
    char *streaming_backup_name;          /* default barman_streaming_backup */
    char *slot_name;
    enum create_slot_mode create_slot;
    char *path_prefix;
    char *compression;                    /* WAL compression name, validated by check */
    char *custom_compression_filter;
    char *custom_decompression_filter;
    char *custom_compression_magic;
    enum backup_compression backup_compression;
    enum backup_compression_format backup_compression_format;
    int   backup_compression_level;       /* -1 = unset */
    enum backup_compression_location backup_compression_location;
    int   backup_compression_workers;     /* -1 = unset */
    enum reuse_backup reuse_backup;
    int   parallel_jobs;                  /* default 1 */
    int   network_compression;
    int64_t bandwidth_limit;              /* -1 = unset */
    char *tablespace_bandwidth_limit;
    int   immediate_checkpoint;
    int   basebackup_retry_times;
    int   basebackup_retry_sleep;         /* default 30 */
    int   check_timeout;                  /* default 30 */
    int   minimum_redundancy;             /* default 0 */
    char *retention_policy_text;          /* as written, NULL if unset */
    struct retention_policy retention_policy;
    char *wal_retention_policy;           /* "main" */
    char *retention_policy_mode;          /* "auto" */
    int64_t last_backup_maximum_age;      /* seconds, -1 = unset */
    int64_t last_backup_minimum_size;     /* bytes, -1 = unset */
    int64_t last_wal_maximum_age;         /* seconds, -1 = unset */
    int   max_incoming_wals_queue;        /* -1 = unset */
    unsigned recovery_options;            /* RECOVERY_OPT_* */
    char *recovery_staging_path;
    char *primary_ssh_command;
    int   forward_config_path;
    char *backup_directory;               /* default %(barman_home)s/%(name)s */
    char *basebackups_directory;          /* default %(backup_directory)s/base */
    char *wals_directory;
    char *incoming_wals_directory;
    char *streaming_wals_directory;
    char *errors_directory;
    char *metrics_file;                   /* barrel only: Prometheus textfile output */

    /* Everything as resolved text, in option-table order, for show-server. */
    size_t n_raw;
    char **raw_names;
    char **raw_values;                    /* NULL = None */

    /* Configuration problems that make Barman mark the server disabled. */
    size_t n_disabled_reasons;
    char **disabled_reasons;
};

struct barrel_config {
    char *path;                   /* the main file actually read */
    char *barman_home;
    char *barman_user;            /* default "barman" */
    char *barman_lock_directory;  /* default barman_home */
    char *log_file;
    char *log_level;              /* default "INFO" */
    char *configuration_files_directory;

    size_t n_servers;
    struct server_config **servers;   /* sorted by name */

    /* Warnings found while loading (unknown keys, unimplemented options), in order. */
    size_t n_warnings;
    char **warnings;
};

/*
 * Find and load the configuration. explicit_path is -c FILE or NULL.
 * Returns NULL with err set (code BR_E_CONFIG, message naming the file and
 * line) on any problem. Nothing else is touched.
 */
struct barrel_config *config_load(const char *explicit_path, struct br_error *err);
/* Load from a string (tests); `name` is used in messages as the file name. */
struct barrel_config *config_load_string(const char *text, const char *name, struct br_error *err);
void config_free(struct barrel_config *cfg);

/* The server section with that name, or NULL. */
const struct server_config *config_find_server(const struct barrel_config *cfg, const char *name);

/* The option table, for show-server, the man-page test and warnings. */
enum config_scope { CONFIG_SCOPE_GLOBAL = 1, CONFIG_SCOPE_SERVER = 2, CONFIG_SCOPE_BOTH = 3 };
struct config_option_info {
    const char *name;
    enum config_scope scope;
    const char *default_text;     /* NULL = None */
    int implemented;              /* 0: accepted with a warning */
    const char *since;            /* NULL: Barman 3.4; "3.10": added in that release; "barrel": ours */
};
size_t config_option_count(void);
const struct config_option_info *config_option_at(size_t idx);

#endif /* BARREL_CONFIG_H */
