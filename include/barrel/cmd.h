/*
 * cmd.h: the command front-ends (src/cmd/), one function per command.
 *
 * main.c parses the global options, loads the configuration (unless the
 * command needs none), then calls the command with argv starting at the
 * command name, so each command parses its own options with getopt_long.
 * A command prints its results through output.h and returns 0, or -1 with
 * err set; main.c prints err once and maps err->code to the exit status.
 * A command that already reported its failures through output_error()
 * returns -1 with code BR_E_CHECK_FAILED and an empty message.
 */
#ifndef BARREL_CMD_H
#define BARREL_CMD_H

#include "barrel/build.h"

struct br_error;
struct barrel_config;
struct server_config;

struct cmd_context {
    struct barrel_config *cfg;   /* loaded configuration; NULL for commands that need none */
    const char *prog;            /* "barrel" or "barman" (argv[0] personality) */
};

typedef int (*cmd_fn)(struct cmd_context *ctx, int argc, char **argv, struct br_error *err);

struct cmd_entry {
    const char *name;
    const char *alias;           /* NULL if none */
    cmd_fn      fn;
    int         needs_config;
    const char *summary;         /* one line for --help */
    const char *usage;           /* "SERVER_NAME [SERVER_NAME ...]" */
};

/* The command table (src/cmd/cmd_table.c) and lookup by name or alias. */
const struct cmd_entry *cmd_table(size_t *count);
const struct cmd_entry *cmd_find(const char *name);

/*
 * Resolve the SERVER_NAME arguments of a command: names, or "all" alone.
 * Unknown names are reported with output_error("Unknown server '%s'") and
 * skipped. Returns the number of servers stored in *out, sorted by name as
 * Barman runs them (caller frees the array, not the servers); skip_inactive
 * silently drops inactive servers.
 */
size_t cmd_servers_from_args(struct cmd_context *ctx, int argc, char **argv, int skip_inactive,
                             const struct server_config ***out);

/*
 * Barman's manage_server_command(): 1 if the command runs on this server.
 * Inactive servers are skipped (or reported, inactive_is_error); disabled
 * servers have each configuration problem printed as an error (unless
 * disabled_is_error is 0) and are skipped unless skip_disabled is 0.
 */
int cmd_server_usable(const struct server_config *srv, int inactive_is_error, int disabled_is_error,
                      int skip_inactive, int skip_disabled);

/*
 * Barman's get_server() for a single-server command (show-backup,
 * list-files, ...): "all" is refused, unknown servers are reported, inactive
 * ones skipped, a disabled server prints its configuration errors. NULL:
 * nothing to do (already reported when it is an error).
 */
const struct server_config *cmd_single_server(struct cmd_context *ctx, char **name_arg);

/* Print a command's --help text to stdout. */
void cmd_print_help(const struct cmd_entry *entry, const char *options_text);

int cmd_list_servers(struct cmd_context *ctx, int argc, char **argv, struct br_error *err);
int cmd_show_server(struct cmd_context *ctx, int argc, char **argv, struct br_error *err);
int cmd_status(struct cmd_context *ctx, int argc, char **argv, struct br_error *err);
int cmd_list_backups(struct cmd_context *ctx, int argc, char **argv, struct br_error *err);
int cmd_show_backup(struct cmd_context *ctx, int argc, char **argv, struct br_error *err);
int cmd_list_files(struct cmd_context *ctx, int argc, char **argv, struct br_error *err);
int cmd_check(struct cmd_context *ctx, int argc, char **argv, struct br_error *err);
int cmd_switch_wal(struct cmd_context *ctx, int argc, char **argv, struct br_error *err);
int cmd_cron(struct cmd_context *ctx, int argc, char **argv, struct br_error *err);
int cmd_verify_backup(struct cmd_context *ctx, int argc, char **argv, struct br_error *err);
int cmd_verify_wal(struct cmd_context *ctx, int argc, char **argv, struct br_error *err);
int cmd_report(struct cmd_context *ctx, int argc, char **argv, struct br_error *err);
int cmd_metrics(struct cmd_context *ctx, int argc, char **argv, struct br_error *err);
int cmd_drill(struct cmd_context *ctx, int argc, char **argv, struct br_error *err);
int cmd_receive_wal(struct cmd_context *ctx, int argc, char **argv, struct br_error *err);
int cmd_archive_wal(struct cmd_context *ctx, int argc, char **argv, struct br_error *err);
int cmd_get_wal(struct cmd_context *ctx, int argc, char **argv, struct br_error *err);
int cmd_put_wal(struct cmd_context *ctx, int argc, char **argv, struct br_error *err);
int cmd_rebuild_xlogdb(struct cmd_context *ctx, int argc, char **argv, struct br_error *err);
/*
 * The server of get-wal / put-wal (Barman's get_server(inactive_is_error=True)):
 * "all", unknown and inactive servers are reported as errors; NULL then.
 */
const struct server_config *cmd_wal_server(struct cmd_context *ctx, const char *name);

int cmd_backup(struct cmd_context *ctx, int argc, char **argv, struct br_error *err);
int cmd_check_backup(struct cmd_context *ctx, int argc, char **argv, struct br_error *err);
int cmd_recover(struct cmd_context *ctx, int argc, char **argv, struct br_error *err);

/* ---- retention: keep, delete, retention (cmd_keep.c, cmd_delete.c, cmd_retention.c) ---- */
struct catalog;
struct retention_backup;
struct retention_delete_plan;
int cmd_keep(struct cmd_context *ctx, int argc, char **argv, struct br_error *err);
int cmd_delete(struct cmd_context *ctx, int argc, char **argv, struct br_error *err);
int cmd_retention(struct cmd_context *ctx, int argc, char **argv, struct br_error *err);
/* The retention engine's view of a catalog: each backup with its keep annotation (caller frees; borrows cat). */
struct retention_backup *cmd_retention_view(const struct catalog *cat);
/*
 * Delete one backup as Barman's Server.delete_backup() does, mode
 * RETENTION_DELETE_MANUAL (delete) or RETENTION_DELETE_POLICY (cron),
 * printing Barman's lines. Returns 1 when deleted (or, dry_run, when it
 * would be), 0 when refused (already reported as a WARNING or ERROR), -1
 * with err set on a failure.
 */
int cmd_delete_backup(const struct cmd_context *ctx, const struct server_config *srv, const char *backup_id,
                      int mode, int dry_run, struct br_error *err);
/* Print "\tNAME" for each WAL the plan removes that none of the earlier plans removes (dry runs). */
int cmd_retention_list_wal(const struct cmd_context *ctx, const struct server_config *srv,
                           const struct retention_delete_plan *plan, const struct retention_delete_plan *const *earlier,
                           size_t n_earlier, struct br_error *err);
/* Say why a plan removes no WAL (dry runs). */
void cmd_retention_explain_no_wal(const struct retention_delete_plan *plan, const struct retention_backup *backups);
/* Cron's step 4 for one server: finish interrupted deletes, then delete the OBSOLETE backups. Reports its errors. */
void cmd_retention_enforce(const struct cmd_context *ctx, const struct server_config *srv);

#endif /* BARREL_CMD_H */
