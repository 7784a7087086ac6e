/*
 * cmd_table.c: the command table: names, Barman's aliases, the function,
 * and whether the command reads the configuration. A command appears here
 * only once it is implemented.
 */
#include "barrel/build.h"
#include "barrel/cmd.h"

static const struct cmd_entry commands[] = {
    {"archive-wal", NULL, cmd_archive_wal, 1, "Execute maintenance operations on WAL files for a given server", "SERVER_NAME"},
    {"backup", NULL, cmd_backup, 1, "Perform a full backup for the given server (supports 'all')",
     "SERVER_NAME [SERVER_NAME ...]"},
    {"check", NULL, cmd_check, 1, "Check if the server configuration is working", "SERVER_NAME [SERVER_NAME ...]"},
    {"check-backup", NULL, cmd_check_backup, 1, "Make sure that all the required WAL files to check the consistency of a physical backup are available",
     "SERVER_NAME BACKUP_ID"},
    {"cron", NULL, cmd_cron, 1, "Run maintenance tasks (global command)", "[--keep-descriptors]"},
    {"delete", NULL, cmd_delete, 1, "Delete a backup", "[--dry-run] SERVER_NAME BACKUP_ID"},
    {"drill", NULL, cmd_drill, 1, "Restore a backup into a scratch directory, start and check it, measure it, remove it",
     "SERVER_NAME [BACKUP_ID] [--target-time TIME] [--scratch-dir DIR] [--timeout SECONDS]"},
    {"get-wal", NULL, cmd_get_wal, 1, "Retrieve WAL_NAME file from SERVER_NAME archive", "SERVER_NAME WAL_NAME"},
    {"keep", NULL, cmd_keep, 1, "Tag the specified backup so that it will never be deleted",
     "(--target {full,standalone} | --release | --status) SERVER_NAME BACKUP_ID"},
    {"list-backups", "list-backup", cmd_list_backups, 1, "List available backups for the given server (supports 'all')",
     "SERVER_NAME [SERVER_NAME ...]"},
    {"list-files", NULL, cmd_list_files, 1, "List all the files for a single backup", "SERVER_NAME BACKUP_ID"},
    {"list-servers", "list-server", cmd_list_servers, 1, "List available servers, with useful information", ""},
    {"metrics", NULL, cmd_metrics, 1, "Write the report's figures in the Prometheus text format (node_exporter textfile)",
     "[--output FILE] [--offline] [SERVER_NAME ...|all]"},
    {"put-wal", NULL, cmd_put_wal, 1,
     "Receive a WAL file from SERVER_NAME and securely store it in the incoming directory", "SERVER_NAME"},
    {"rebuild-xlogdb", NULL, cmd_rebuild_xlogdb, 1, "Rebuild the WAL file database guessing it from the disk content",
     "SERVER_NAME [SERVER_NAME ...]"},
    {"recover", NULL, cmd_recover, 1, "Recover a server at a given time, name, LSN or xid",
     "[options] SERVER_NAME BACKUP_ID DESTINATION_DIRECTORY"},
    {"receive-wal", NULL, cmd_receive_wal, 1, "Start a receive-wal process",
     "[--stop | --reset | --create-slot | --drop-slot] SERVER_NAME"},
    {"retention", NULL, cmd_retention, 1, "Apply the retention policy of a server now, saying why each backup stays or goes",
     "[--dry-run] SERVER_NAME"},
    {"report", NULL, cmd_report, 1, "One page per server: last backup, WAL archive, retention, verifications, failures, space",
     "[-f {text,json}] [--offline] [SERVER_NAME ...|all]"},
    {"show-backup", "show-backups", cmd_show_backup, 1, "Show a single backup's information", "SERVER_NAME BACKUP_ID"},
    {"show-servers", "show-server", cmd_show_server, 1, "Show all configuration parameters for the specified servers",
     "SERVER_NAME [SERVER_NAME ...]"},
    {"switch-wal", "switch-xlog", cmd_switch_wal, 1, "Execute the switch-wal command on the target server",
     "[--force] [--archive] [--archive-timeout TIMEOUT] SERVER_NAME [SERVER_NAME ...]"},
    {"verify-backup", "verify", cmd_verify_backup, 1, "Verify a backup against its manifest, inside its archives, and its WAL",
     "SERVER_NAME BACKUP_ID"},
    {"verify-wal", NULL, cmd_verify_wal, 1, "Decompress and check every archived WAL segment and the continuity of the archive",
     "SERVER_NAME [--from SEGMENT] [--to SEGMENT]"},
    {"status", NULL, cmd_status, 1, "Show the status of the specified servers", "SERVER_NAME [SERVER_NAME ...]"},
};

const struct cmd_entry *
cmd_table(size_t *count)
{
    *count = BR_ARRAY_LEN(commands);
    return commands;
}

const struct cmd_entry *
cmd_find(const char *name)
{
    for (size_t i = 0; i < BR_ARRAY_LEN(commands); i++)
        if (strcmp(commands[i].name, name) == 0 || (commands[i].alias && strcmp(commands[i].alias, name) == 0))
            return &commands[i];
    return NULL;
}
