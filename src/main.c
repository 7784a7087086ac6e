/*
 * main.c: argv -> global options -> configuration -> user switch -> command
 * -> exit status. The only place that prints a struct br_error and exits.
 *
 * Exit statuses follow Barman's: 0 success, 1 any error (or a failed
 * check), 2 usage errors and bad configuration files (and nagios CRITICAL),
 * 3 get-wal with a bad WAL name.
 *
 * Invoked as "barman" (a symlink), barrel speaks as Barman's CLI so that
 * barman-wal-archive / barman-wal-restore keep working against it.
 */
#include "barrel/build.h"
#include "barrel/cmd.h"
#include "barrel/fault.h"
#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/log.h"
#include "barrel/output.h"
#include "barrel/version.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

struct global_options {
    const char *config_path;
    const char *log_level;
    enum output_format format;
    int quiet;
    int debug;
};

static void
print_usage(FILE *fp, const char *prog)
{
    size_t n;
    const struct cmd_entry *cmds = cmd_table(&n);

    fprintf(fp, "usage: %s [-h] [-v] [-c CONFIG] [--log-level LEVEL] [-q] [-d] [-f {text,json}] COMMAND ...\n\n",
            prog);
    fprintf(fp, "Barman-compatible backup and recovery for PostgreSQL.\n\ncommands:\n");
    for (size_t i = 0; i < n; i++) {
        char name[64];
        if (cmds[i].alias)
            snprintf(name, sizeof(name), "%s (%s)", cmds[i].name, cmds[i].alias);
        else
            snprintf(name, sizeof(name), "%s", cmds[i].name);
        fprintf(fp, "  %-28s %s\n", name, cmds[i].summary);
    }
    fprintf(fp, "\noptions:\n"
                "  -h, --help            show this help message and exit\n"
                "  -v, --version         show program's version number and exit\n"
                "  -c, --config CONFIG   uses a configuration file (defaults: ~/.barrel.conf,\n"
                "                        /etc/barrel.conf, /etc/barrel/barrel.conf, then Barman's)\n"
                "  --color {never,always,auto}  accepted for Barman compatibility; barrel never colours\n"
                "  --log-level LEVEL     override the log_level of the configuration\n"
                "  -q, --quiet           be quiet (warnings and errors are still printed)\n"
                "  -d, --debug           print debug messages on standard error\n"
                "  -f, --format {text,json}  output format (console is a synonym of text)\n"
                "\n'%s COMMAND --help' describes a command.\n", prog);
}

/* Parse options up to the command name; returns the index of the command in argv, or -1/-2. */
static int
parse_global_options(int argc, char **argv, struct global_options *opts, const char *prog, struct br_error *err)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"format", required_argument, NULL, 'f'},
        {"quiet", no_argument, NULL, 'q'},        {"debug", no_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},         {"version", no_argument, NULL, 'v'},
        {"log-level", required_argument, NULL, 'L'}, {"color", required_argument, NULL, 'C'},
        {"colour", required_argument, NULL, 'C'}, {NULL, 0, NULL, 0},
    };
    int c;

    /* "+": stop at the first non-option, the command name */
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+c:f:qdhv", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': opts->config_path = optarg; break;
        case 'f':
            if (strcmp(optarg, "json") == 0)
                opts->format = OUTPUT_JSON;
            else if (strcmp(optarg, "text") == 0 || strcmp(optarg, "console") == 0)
                opts->format = OUTPUT_CONSOLE;
            else
                return br_error_set(err, BR_E_USAGE, "argument -f/--format: invalid choice: '%s' (choose from 'text', 'json')",
                                    optarg);
            break;
        case 'q': opts->quiet = 1; break;
        case 'd': opts->debug = 1; break;
        case 'L':
            if (br_log_level_parse(optarg) < 0)
                return br_error_set(err, BR_E_USAGE, "argument --log-level: invalid choice: '%s'", optarg);
            opts->log_level = optarg;
            break;
        case 'C':
            if (strcmp(optarg, "never") && strcmp(optarg, "always") && strcmp(optarg, "auto"))
                return br_error_set(err, BR_E_USAGE, "argument --color: invalid choice: '%s'", optarg);
            break;
        case 'h': print_usage(stdout, prog); return -2;
        case 'v':
            printf("%s %s\n\nbarrel: Barman-compatible backup and recovery for PostgreSQL\n", prog, BARREL_VERSION);
            return -2;
        default:
            return br_error_set(err, BR_E_USAGE, "unrecognized option '%s' (see '%s --help')",
                                argv[optind - 1], prog);
        }
    }
    if (optind >= argc)
        return br_error_set(err, BR_E_USAGE, "a command is required (see '%s --help')", prog);
    return optind;
}

/*
 * Barman's barman_user rule: started as root, become that user before
 * touching the catalog; started as anybody else, refuse unless already that user.
 */
static int
switch_to_barman_user(const struct barrel_config *cfg, const char *prog, struct br_error *err)
{
    const char *user = cfg->barman_user ? cfg->barman_user : "barman";
    struct passwd *pw;

    errno = 0;
    pw = getpwnam(user);
    if (geteuid() == 0) {
        if (pw == NULL)
            return br_error_set(err, BR_E_CONFIG, "barman_user '%s' does not exist on this system", user);
        if (pw->pw_uid == 0)
            return 0;
        if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
            return br_error_sys(err, BR_E_IO, "could not switch to user '%s'", user);
        setenv("HOME", pw->pw_dir, 1);
        setenv("USER", pw->pw_name, 1);
        setenv("LOGNAME", pw->pw_name, 1);
        return 0;
    }
    if (pw == NULL || pw->pw_uid != geteuid())
        return br_error_set(err, BR_E_STATE, "please run %s as '%s' user", prog, user);
    return 0;
}

static int
exit_status_for(const struct br_error *err)
{
    switch (err->code) {
    case BR_E_USAGE:
    case BR_E_CONFIG:
    case BR_E_NAGIOS_CRITICAL:
        return 2;
    case BR_E_BAD_WAL_NAME:
        return 3;
    default:
        return 1;
    }
}

static void
report_error(const struct br_error *err, const char *prog)
{
    if (err->msg[0] == '\0')
        return;
    if (err->code == BR_E_USAGE && !output_is_json()) {
        fflush(stdout);
        fprintf(stderr, "%s: error: %s\n", prog, err->msg);
        return;
    }
    output_error("%s", err->msg);
    if (err->detail[0])
        output_error("DETAIL: %s", err->detail);
    if (err->hint[0])
        output_info("HINT: %s", err->hint);
}

int
main(int argc, char **argv)
{
    struct global_options opts = {.format = OUTPUT_CONSOLE};
    struct br_error err;
    struct cmd_context ctx = {0};
    const struct cmd_entry *entry;
    const char *base = strrchr(argv[0], '/');
    int cmd_idx, rc = 0, status;

    fault_init();     /* test-only kill points: read and clear BARREL_FAULT_* */
    br_error_clear(&err);
    base = base ? base + 1 : argv[0];
    ctx.prog = strcmp(base, "barman") == 0 ? "barman" : "barrel";

    cmd_idx = parse_global_options(argc, argv, &opts, ctx.prog, &err);
    output_init(opts.format, opts.quiet, opts.debug);
    br_log_set_stderr_debug(opts.debug);
    if (cmd_idx == -2) {
        output_close();
        return 0;
    }
    if (cmd_idx < 0) {
        report_error(&err, ctx.prog);
        output_close();
        return exit_status_for(&err);
    }

    entry = cmd_find(argv[cmd_idx]);
    if (entry == NULL) {
        br_error_set(&err, BR_E_USAGE, "unknown command '%s' (see '%s --help')", argv[cmd_idx], ctx.prog);
        report_error(&err, ctx.prog);
        output_close();
        return 2;
    }

    if (entry->needs_config) {
        ctx.cfg = config_load(opts.config_path, &err);
        if (ctx.cfg == NULL)
            goto fail;
        if (switch_to_barman_user(ctx.cfg, ctx.prog, &err) != 0)
            goto fail;
        br_log_set_level(br_log_level_parse(opts.log_level ? opts.log_level
                                            : ctx.cfg->log_level ? ctx.cfg->log_level : "INFO"));
        if (ctx.cfg->log_file != NULL && br_log_open(ctx.cfg->log_file, &err) != 0) {
            /* an unwritable log file must not stop a backup: warn and go on */
            output_warning("%s", err.msg);
            br_error_clear(&err);
        }
        for (size_t i = 0; i < ctx.cfg->n_warnings; i++)
            output_warning("%s", ctx.cfg->warnings[i]);
    }

    rc = entry->fn(&ctx, argc - cmd_idx, argv + cmd_idx, &err);
    if (rc != 0)
        goto fail;
    status = output_had_error() ? 1 : 0;
    output_close();
    config_free(ctx.cfg);
    br_log_close();
    return status;

fail:
    report_error(&err, ctx.prog);
    status = exit_status_for(&err);
    output_close();
    config_free(ctx.cfg);
    br_log_close();
    return status;
}
