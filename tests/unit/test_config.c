/*
 * test_config.c: the configuration module (src/config/).
 *
 * The Barman 3.4 fixture configuration must load with the values Barman
 * showed for it (show-server captures); every bad input must give one
 * error whose exact text is asserted; the INI rules (interpolation,
 * continuation lines, quotes, no inline comments, [DEFAULT]) and the
 * search order are checked on strings and on files in a temporary
 * directory that the teardown removes. Tests run from the repository
 * root; FIXTURES overrides the fixture directory.
 */
#include "barrel/build.h"
#include "barrel/config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "barrel/error.h"
#include "barrel/fs.h"
#include "barrel/mem.h"

/* ---- helpers ---- */

struct tmp_state {
    char *dir;
    char *saved_home;
    char *saved_env;
};

static int
tmp_setup(void **state)
{
    struct tmp_state *ts = br_calloc(1, sizeof(*ts));
    const char *base = getenv("TMPDIR");
    const char *home = getenv("HOME");
    const char *env = getenv("BARMAN_CONFIG_FILE");

    ts->dir = br_asprintf("%s/test_config.XXXXXX", base && base[0] ? base : "/tmp");
    if (mkdtemp(ts->dir) == NULL)
        return -1;
    ts->saved_home = home ? br_strdup(home) : NULL;
    ts->saved_env = env ? br_strdup(env) : NULL;
    *state = ts;
    return 0;
}

static int
tmp_teardown(void **state)
{
    struct tmp_state *ts = *state;
    struct br_error err;

    if (ts->saved_home)
        setenv("HOME", ts->saved_home, 1);
    else
        unsetenv("HOME");
    if (ts->saved_env)
        setenv("BARMAN_CONFIG_FILE", ts->saved_env, 1);
    else
        unsetenv("BARMAN_CONFIG_FILE");
    fs_remove_tree(ts->dir, &err);
    free(ts->dir);
    free(ts->saved_home);
    free(ts->saved_env);
    free(ts);
    return 0;
}

static char *
write_file(const char *dir, const char *name, const char *text)
{
    char *path = br_asprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static struct barrel_config *
load(const char *text, struct br_error *err)
{
    br_error_clear(err);
    return config_load_string(text, "t.conf", err);
}

/* Load text that must fail; check the error text and code. */
static void
assert_load_error(const char *text, const char *expected)
{
    struct br_error err;
    struct barrel_config *cfg = load(text, &err);

    if (cfg != NULL) {
        config_free(cfg);
        fail_msg("expected error: %s", expected);
    }
    assert_int_equal(err.code, BR_E_CONFIG);
    assert_string_equal(err.msg, expected);
}

/* Load text that must succeed. */
static struct barrel_config *
load_ok(const char *text)
{
    struct br_error err;
    struct barrel_config *cfg = load(text, &err);

    if (cfg == NULL)
        fail_msg("unexpected error: %s", err.msg);
    return cfg;
}

static const struct server_config *
server(const struct barrel_config *cfg, const char *name)
{
    const struct server_config *sc = config_find_server(cfg, name);

    if (sc == NULL)
        fail_msg("no server %s", name);
    return sc;
}

static const char *
raw_value(const struct server_config *sc, const char *name)
{
    for (size_t i = 0; i < sc->n_raw; i++)
        if (strcmp(sc->raw_names[i], name) == 0)
            return sc->raw_values[i];
    fail_msg("no raw option %s", name);
    return NULL;
}

static int
has_warning(const struct barrel_config *cfg, const char *text)
{
    for (size_t i = 0; i < cfg->n_warnings; i++)
        if (strcmp(cfg->warnings[i], text) == 0)
            return 1;
    return 0;
}

#define GLOBAL "[barman]\nbarman_home = /srv/barman\n"
/* A server that is neither disabled nor warned about. */
#define PG_OK "conninfo = host=pg\nbackup_method = postgres\nstreaming_archiver = on\nslot_name = barman\n"

/* ---- the Barman 3.4 fixture ---- */

static void
test_config_load_fixture_servers(void **state)
{
    const char *fx = getenv("FIXTURES");
    char *path = br_asprintf("%s/config/barman.conf", fx && fx[0] ? fx : "../shared/fixtures/barman-3.4");
    struct br_error err;
    struct barrel_config *cfg;
    const struct server_config *sc;
    char buf[64];

    (void) state;
    cfg = config_load(path, &err);
    if (cfg == NULL)
        fail_msg("%s", err.msg);
    assert_string_equal(cfg->path, path);
    assert_string_equal(cfg->barman_home, "/tmp/bfx/barman_home");
    assert_string_equal(cfg->barman_user, "barman");
    assert_string_equal(cfg->barman_lock_directory, "/tmp/bfx/barman_home");
    assert_string_equal(cfg->log_file, "/tmp/bfx/log/barman.log");
    assert_string_equal(cfg->log_level, "INFO");
    assert_null(cfg->configuration_files_directory);
    assert_int_equal(cfg->n_warnings, 0);
    assert_int_equal(cfg->n_servers, 6);
    /* sorted by name */
    assert_string_equal(cfg->servers[0]->name, "pg");
    assert_string_equal(cfg->servers[1]->name, "pglz4");
    assert_string_equal(cfg->servers[2]->name, "pgsrv");
    assert_string_equal(cfg->servers[3]->name, "pgtl");
    assert_string_equal(cfg->servers[4]->name, "pgz");
    assert_string_equal(cfg->servers[5]->name, "pgzstd");
    for (size_t i = 0; i < cfg->n_servers; i++) {
        sc = cfg->servers[i];
        assert_int_equal(sc->n_disabled_reasons, 0);
        assert_int_equal(sc->active, 1);
        assert_int_equal(sc->backup_method, BACKUP_METHOD_POSTGRES);
        assert_int_equal(sc->streaming_archiver, 1);
        assert_int_equal(sc->archiver, 0);
        assert_int_equal(sc->create_slot, CREATE_SLOT_AUTO);
        assert_string_equal(sc->path_prefix, "/usr/lib/postgresql/15/bin");   /* from [barman] */
        assert_int_equal(sc->minimum_redundancy, 0);
        assert_int_equal(sc->parallel_jobs, 1);
        assert_int_equal(sc->check_timeout, 30);
        assert_int_equal(sc->basebackup_retry_sleep, 30);
        assert_int_equal(sc->basebackup_retry_times, 0);
        assert_int_equal(sc->immediate_checkpoint, 0);
        assert_int_equal(sc->network_compression, 0);
        assert_int_equal(sc->backup_options, BACKUP_OPT_CONCURRENT);
        assert_int_equal(sc->recovery_options, 0);
        assert_string_equal(sc->streaming_archiver_name, "barman_receive_wal");
        assert_string_equal(sc->streaming_backup_name, "barman_streaming_backup");
        assert_string_equal(sc->wal_retention_policy, "main");
        assert_string_equal(sc->retention_policy_mode, "auto");
        assert_int_equal(sc->last_backup_maximum_age, -1);
        assert_int_equal(sc->last_backup_minimum_size, -1);
        assert_int_equal(sc->max_incoming_wals_queue, -1);
        assert_int_equal(sc->bandwidth_limit, -1);
        assert_null(sc->ssh_command);
        assert_string_equal(sc->defined_in, path);
    }

    sc = server(cfg, "pg");
    assert_string_equal(sc->description, "PG15 fixture: plain pg_basebackup, gzip WAL");
    assert_string_equal(sc->conninfo, "host=127.0.0.1 port=5440 user=barman dbname=postgres");
    assert_string_equal(sc->streaming_conninfo, "host=127.0.0.1 port=5440 user=streaming_barman dbname=postgres");
    assert_string_equal(sc->slot_name, "barman");
    assert_string_equal(sc->compression, "gzip");
    assert_int_equal(sc->retention_policy.kind, RETENTION_REDUNDANCY);
    assert_int_equal(sc->retention_policy.value, 2);
    retention_policy_format(&sc->retention_policy, buf, sizeof(buf));
    assert_string_equal(buf, "REDUNDANCY 2");
    assert_string_equal(sc->retention_policy_text, "REDUNDANCY 2");
    assert_int_equal(sc->backup_compression, BACKUP_COMPRESSION_UNSET);
    assert_int_equal(sc->backup_compression_format, BACKUP_FORMAT_UNSET);
    assert_int_equal(sc->backup_compression_level, -1);
    assert_null(sc->recovery_staging_path);
    assert_string_equal(sc->backup_directory, "/tmp/bfx/barman_home/pg");
    assert_string_equal(sc->basebackups_directory, "/tmp/bfx/barman_home/pg/base");
    assert_string_equal(sc->wals_directory, "/tmp/bfx/barman_home/pg/wals");
    assert_string_equal(sc->incoming_wals_directory, "/tmp/bfx/barman_home/pg/incoming");
    assert_string_equal(sc->streaming_wals_directory, "/tmp/bfx/barman_home/pg/streaming");
    assert_string_equal(sc->errors_directory, "/tmp/bfx/barman_home/pg/errors");
    assert_int_equal(sc->defined_line, 11);
    /* show-server's raw text */
    assert_string_equal(raw_value(sc, "backup_method"), "postgres");
    assert_string_equal(raw_value(sc, "wals_directory"), "/tmp/bfx/barman_home/pg/wals");
    assert_null(raw_value(sc, "post_backup_script"));
    assert_null(raw_value(sc, "snapshot_disks"));
    assert_string_equal(raw_value(sc, "create_slot"), "auto");

    sc = server(cfg, "pgz");
    assert_string_equal(sc->slot_name, "barman_pgz");
    assert_int_equal(sc->backup_compression, BACKUP_COMPRESSION_GZIP);
    assert_int_equal(sc->backup_compression_format, BACKUP_FORMAT_TAR);
    assert_int_equal(sc->backup_compression_location, BACKUP_LOCATION_UNSET);
    assert_string_equal(sc->recovery_staging_path, "/tmp/bfx/staging");
    assert_int_equal(sc->retention_policy.kind, RETENTION_REDUNDANCY);
    assert_string_equal(sc->compression, "gzip");

    sc = server(cfg, "pglz4");
    assert_string_equal(sc->description, "PG15 fixture: tar+lz4 backups, bzip2 WAL");
    assert_string_equal(sc->compression, "bzip2");
    assert_int_equal(sc->backup_compression, BACKUP_COMPRESSION_LZ4);
    assert_int_equal(sc->backup_compression_format, BACKUP_FORMAT_TAR);
    assert_int_equal(sc->retention_policy.kind, RETENTION_NONE);
    assert_null(sc->retention_policy_text);
    assert_null(raw_value(sc, "retention_policy"));

    sc = server(cfg, "pgzstd");
    assert_null(sc->compression);
    assert_int_equal(sc->backup_compression, BACKUP_COMPRESSION_ZSTD);
    assert_int_equal(sc->backup_compression_level, 3);
    assert_string_equal(sc->slot_name, "barman_pgzstd");

    sc = server(cfg, "pgsrv");
    assert_int_equal(sc->backup_compression, BACKUP_COMPRESSION_GZIP);
    assert_int_equal(sc->backup_compression_location, BACKUP_LOCATION_SERVER);
    assert_int_equal(sc->backup_compression_format, BACKUP_FORMAT_PLAIN);
    assert_null(sc->recovery_staging_path);

    sc = server(cfg, "pgtl");
    assert_string_equal(sc->conninfo, "host=127.0.0.1 port=5441 user=barman dbname=postgres");
    assert_string_equal(sc->slot_name, "barman_tl");
    assert_string_equal(sc->description, "PG15 fixture: promoted recovery, timeline 2");
    assert_string_equal(sc->backup_directory, "/tmp/bfx/barman_home/pgtl");

    config_free(cfg);
    free(path);
}

/* ---- defaults and resolution ---- */

static void
test_config_load_string_defaults(void **state)
{
    struct barrel_config *cfg;
    const struct server_config *sc;

    (void) state;
    cfg = load_ok(GLOBAL "[pg]\nconninfo = host=pg\n");
    assert_string_equal(cfg->path, "t.conf");
    assert_string_equal(cfg->barman_user, "barman");
    assert_string_equal(cfg->barman_lock_directory, "/srv/barman");
    assert_string_equal(cfg->log_level, "INFO");
    assert_null(cfg->log_file);
    sc = server(cfg, "pg");
    assert_string_equal(sc->defined_in, "t.conf");
    assert_int_equal(sc->defined_line, 3);
    assert_string_equal(sc->streaming_conninfo, "host=pg");          /* %(conninfo)s */
    assert_int_equal(sc->backup_method, BACKUP_METHOD_RSYNC);
    assert_string_equal(sc->backup_directory, "/srv/barman/pg");
    assert_string_equal(sc->errors_directory, "/srv/barman/pg/errors");
    assert_int_equal(sc->retention_policy.kind, RETENTION_NONE);
    assert_int_equal(sc->reuse_backup, REUSE_BACKUP_UNSET);
    assert_int_equal(sc->backup_compression_workers, -1);
    assert_int_equal(sc->last_wal_maximum_age, -1);
    assert_null(sc->metrics_file);
    assert_int_equal(sc->forward_config_path, 0);
    /* both archivers off: Barman's two warnings, archiver forced on */
    assert_int_equal(sc->archiver, 1);
    assert_string_equal(raw_value(sc, "archiver"), "on");
    assert_int_equal(cfg->n_warnings, 2);
    assert_string_equal(cfg->warnings[0],
                        "No archiver enabled for server 'pg'. Please turn on 'archiver', 'streaming_archiver' or both");
    assert_string_equal(cfg->warnings[1], "Forcing 'archiver = on'");
    /* rsync without ssh_command: disabled like Barman */
    assert_int_equal(sc->n_disabled_reasons, 1);
    assert_string_equal(sc->disabled_reasons[0], "Missing or invalid ssh_command in barman configuration for server pg");
    config_free(cfg);
}

static void
test_config_load_string_inheritance(void **state)
{
    struct barrel_config *cfg;

    (void) state;
    cfg = load_ok(GLOBAL "compression = gzip\nparallel_jobs = 4\nimmediate_checkpoint = on\n"
                  "[a]\n" PG_OK "compression =\n"
                  "[b]\n" PG_OK "compression = None\nbackup_compression = None\n"
                  "[c]\n" PG_OK "compression = bzip2\nparallel_jobs = 2\nbackup_compression = none\n"
                  "[d]\n" PG_OK);
    assert_null(server(cfg, "a")->compression);           /* empty: unset, no inheritance */
    assert_null(server(cfg, "b")->compression);           /* None: the same */
    assert_int_equal(server(cfg, "b")->backup_compression, BACKUP_COMPRESSION_UNSET);
    /* backup_compression: lower-case none is Barman 3.9's uncompressed tar, None is unset */
    assert_int_equal(server(cfg, "c")->backup_compression, BACKUP_COMPRESSION_NONE);
    assert_int_equal(server(cfg, "d")->backup_compression, BACKUP_COMPRESSION_UNSET);
    assert_string_equal(server(cfg, "c")->compression, "bzip2");
    assert_string_equal(server(cfg, "d")->compression, "gzip");
    assert_int_equal(server(cfg, "c")->parallel_jobs, 2);
    assert_int_equal(server(cfg, "d")->parallel_jobs, 4);
    assert_int_equal(server(cfg, "d")->immediate_checkpoint, 1);
    assert_int_equal(cfg->n_warnings, 0);
    config_free(cfg);
}

static void
test_config_load_string_barrel_synonym(void **state)
{
    struct barrel_config *cfg;

    (void) state;
    cfg = load_ok("[barrel]\nbarman_home = /b\nminimum_redundancy = 3\n[pg]\n" PG_OK);
    assert_string_equal(cfg->barman_home, "/b");
    assert_int_equal(server(cfg, "pg")->minimum_redundancy, 3);
    assert_string_equal(server(cfg, "pg")->backup_directory, "/b/pg");
    assert_int_equal(cfg->n_servers, 1);
    config_free(cfg);
}

static void
test_config_load_string_default_section(void **state)
{
    struct barrel_config *cfg;

    (void) state;
    cfg = load_ok("[DEFAULT]\ncheck_timeout = 60\nbase = /data\n"
                  GLOBAL "check_timeout = 90\n"
                  "[pg]\n" PG_OK "wals_directory = %(base)s/%(name)s/wals\n");
    /* configparser: [DEFAULT] is part of every section, so it wins over [barman] */
    assert_int_equal(server(cfg, "pg")->check_timeout, 60);
    assert_string_equal(server(cfg, "pg")->wals_directory, "/data/pg/wals");
    assert_int_equal(cfg->n_servers, 1);
    assert_int_equal(cfg->n_warnings, 1);
    assert_string_equal(cfg->warnings[0], "Invalid configuration option \"base\" in [DEFAULT] section.");
    config_free(cfg);
}

static void
test_config_load_string_tilde(void **state)
{
    struct barrel_config *cfg;
    char *saved = getenv("HOME") ? br_strdup(getenv("HOME")) : NULL;

    (void) state;
    setenv("HOME", "/home/tester", 1);
    cfg = load_ok("[barman]\nbarman_home = ~/bh\nlog_file = ~/log/barman.log\n"
                  "[pg]\n" PG_OK "recovery_staging_path = ~/staging\n");
    assert_string_equal(cfg->barman_home, "/home/tester/bh");
    assert_string_equal(cfg->barman_lock_directory, "/home/tester/bh");
    assert_string_equal(cfg->log_file, "/home/tester/log/barman.log");
    assert_string_equal(server(cfg, "pg")->backup_directory, "/home/tester/bh/pg");
    assert_string_equal(server(cfg, "pg")->recovery_staging_path, "/home/tester/staging");
    config_free(cfg);
    if (saved)
        setenv("HOME", saved, 1);
    else
        unsetenv("HOME");
    free(saved);
}

/* ---- INI rules ---- */

static void
test_config_load_string_interpolation(void **state)
{
    struct barrel_config *cfg;
    const struct server_config *sc;

    (void) state;
    cfg = load_ok("[barman]\nbarman_home = /srv/b\nbarman_lock_directory = %(barman_home)s/locks\n"
                  "path_prefix = %(barman_home)s/bin\nstreaming_archiver_name = receive_%(name)s\n"
                  "[pg]\n" PG_OK
                  "backup_directory = /data/%(name)s\n"
                  "description = 100%% of %(name)s on %(CONNINFO)s\n"
                  "custom_compression_filter = xz -c\n"
                  "custom_decompression_filter = %(custom_compression_filter)s -d\n");
    assert_string_equal(cfg->barman_lock_directory, "/srv/b/locks");
    sc = server(cfg, "pg");
    assert_string_equal(sc->path_prefix, "/srv/b/bin");
    assert_string_equal(sc->backup_directory, "/data/pg");
    assert_string_equal(sc->wals_directory, "/data/pg/wals");      /* default follows backup_directory */
    assert_string_equal(sc->description, "100% of pg on host=pg");
    assert_string_equal(sc->custom_decompression_filter, "xz -c -d");
    assert_string_equal(sc->streaming_archiver_name, "receive_pg");    /* [barman] text, server's name */
    config_free(cfg);
}

static void
test_config_load_string_interpolation_errors(void **state)
{
    (void) state;
    assert_load_error(GLOBAL "[pg]\n" PG_OK "description = %(nosuch)s here\n",
                      "t.conf:8: bad interpolation in option \"description\" in [pg] section: "
                      "key \"nosuch\" in '%(nosuch)s' is not defined");
    assert_load_error(GLOBAL "[pg]\n" PG_OK "description = 50% off\n",
                      "t.conf:8: bad interpolation in option \"description\" in [pg] section: "
                      "'%' must be followed by '%' or '(', found '% off'");
    assert_load_error(GLOBAL "[pg]\n" PG_OK "description = %(name)\n",
                      "t.conf:8: bad interpolation in option \"description\" in [pg] section: "
                      "bad variable reference '%(name)' (expected '%(name)s')");
    assert_load_error(GLOBAL "[pg]\n" PG_OK "conninfo = %(streaming_conninfo)s\n",
                      "t.conf:3: option \"conninfo\" in [pg] section refers to itself through "
                      "%(name)s interpolation");
    assert_load_error(GLOBAL "[pg]\n" PG_OK "description = %(a)s\na = %(b)s\nb = %(a)s\n",
                      "t.conf:9: bad interpolation in option \"a\" in [pg] section: "
                      "interpolation nested more than 10 levels deep (recursive reference?)");
}

static void
test_config_load_string_continuation_lines(void **state)
{
    struct barrel_config *cfg;

    (void) state;
    cfg = load_ok(GLOBAL "[pg]\n" PG_OK
                  "description = first\n"
                  "   second\n"
                  "# a comment line inside the value is skipped\n"
                  "\n"
                  "\tthird\n"
                  "\n"
                  "compression = gzip\n");
    assert_string_equal(server(cfg, "pg")->description, "first\nsecond\n\nthird");
    assert_string_equal(server(cfg, "pg")->compression, "gzip");
    config_free(cfg);
}

static void
test_config_load_string_quotes_and_comments(void **state)
{
    struct barrel_config *cfg;

    (void) state;
    cfg = load_ok("# leading comment\n; another\n" GLOBAL
                  "[a]\n" PG_OK "description = \"Main DB\"\ncompression = gzip ; fast\n"
                  "path_prefix = '/opt/bin'\n"
                  "  # indented comment\n"
                  "[b]\n" PG_OK "description = \"mixed'\ncompression = gzip # not a comment\n"
                  "path_prefix = \"\"\n"
                  "[c]\n" PG_OK "Description: \"x\" and \"y\"\nCOMPRESSION : bzip2\n");
    assert_string_equal(server(cfg, "a")->description, "Main DB");
    assert_string_equal(server(cfg, "a")->compression, "gzip ; fast");
    assert_string_equal(server(cfg, "a")->path_prefix, "/opt/bin");
    assert_string_equal(server(cfg, "b")->description, "\"mixed'");
    assert_string_equal(server(cfg, "b")->compression, "gzip # not a comment");
    assert_null(server(cfg, "b")->path_prefix);           /* "" after stripping: unset */
    assert_string_equal(server(cfg, "c")->description, "x\" and \"y");   /* one pair, like Barman's regex */
    assert_string_equal(server(cfg, "c")->compression, "bzip2");        /* key: value, key lowered */
    config_free(cfg);
}

static void
test_config_load_string_syntax_errors(void **state)
{
    (void) state;
    /* "conninfo host=pg" is the key "conninfo host" for configparser: not a syntax error */
    assert_load_error(GLOBAL "[pg]\njust some words\n",
                      "t.conf:4: syntax error: expected \"[section]\" or \"key = value\", found 'just some words'");
    assert_load_error("barman_home = /x\n[barman]\n",
                      "t.conf:1: option 'barman_home' appears before any section header (expected \"[name]\" first)");
    assert_load_error(GLOBAL "[pg]\n = value\n",
                      "t.conf:4: syntax error: missing option name before '=' in '= value'");
    assert_load_error(GLOBAL "[pg\n", "t.conf:3: syntax error: expected a section header \"[name]\", found '[pg'");
    assert_load_error(GLOBAL "[]\n", "t.conf:3: syntax error: expected a section header \"[name]\", found '[]'");
}

static void
test_config_load_string_section_errors(void **state)
{
    (void) state;
    assert_load_error(GLOBAL "[pg]\n" PG_OK "[pg]\n" PG_OK,
                      "t.conf:8: duplicate section [pg] (already defined at t.conf:3)");
    assert_load_error(GLOBAL "[barrel]\nbarman_home = /y\n",
                      "t.conf:3: duplicate section [barrel] (already defined at t.conf:1 as [barman])");
    assert_load_error(GLOBAL "[all]\n" PG_OK, "t.conf:3: the reserved word 'all' is not allowed as server name");
    assert_load_error("[barman]\nlog_level = INFO\n[pg]\n" PG_OK,
                      "t.conf:1: missing required option \"barman_home\" in [barman] section");
    assert_load_error("[barman]\nbarman_home =\n", "t.conf:1: missing required option \"barman_home\" in [barman] section");
    assert_load_error("[pg]\n" PG_OK, "t.conf: missing [barman] section (the global section, with barman_home)");
}

/* ---- values ---- */

static void
test_config_load_string_bad_values(void **state)
{
    (void) state;
    assert_load_error(GLOBAL "[pg]\n" PG_OK "archiver = maybe\n",
                      "t.conf:8: invalid boolean value 'maybe' for option \"archiver\" in [pg] section "
                      "(expected true/false, on/off, yes/no, 1/0)");
    assert_load_error(GLOBAL "[pg]\n" PG_OK "parallel_jobs = 5k\n",
                      "t.conf:8: invalid integer value '5k' for option \"parallel_jobs\" in [pg] section "
                      "(expected an integer)");
    assert_load_error(GLOBAL "[pg]\n" PG_OK "parallel_jobs = 0\n",
                      "t.conf:8: invalid integer value '0' for option \"parallel_jobs\" in [pg] section "
                      "(expected an integer >= 1)");
    assert_load_error(GLOBAL "[pg]\n" PG_OK "minimum_redundancy = -1\n",
                      "t.conf:8: invalid integer value '-1' for option \"minimum_redundancy\" in [pg] section "
                      "(expected an integer >= 0)");
    assert_load_error(GLOBAL "[pg]\nconninfo = x\nbackup_method = magic\n",
                      "t.conf:5: invalid value 'magic' for option \"backup_method\" in [pg] section "
                      "(must be one in: 'rsync', 'postgres', 'local-rsync', 'snapshot')");
    assert_load_error(GLOBAL "[pg]\n" PG_OK "backup_compression = bzip2\n",
                      "t.conf:8: invalid value 'bzip2' for option \"backup_compression\" in [pg] section "
                      "(must be one in: 'gzip', 'lz4', 'zstd', 'none')");
    assert_load_error(GLOBAL "[pg]\n" PG_OK "create_slot = sometimes\n",
                      "t.conf:8: invalid value 'sometimes' for option \"create_slot\" in [pg] section "
                      "(must be one in: 'manual', 'auto')");
    assert_load_error(GLOBAL "[pg]\n" PG_OK "wal_retention_policy = base\n",
                      "t.conf:8: invalid value 'base' for option \"wal_retention_policy\" in [pg] section "
                      "(must be one in: 'main')");
    assert_load_error("[barman]\nbarman_home = /x\nlog_level = LOUD\n",
                      "t.conf:3: invalid value 'LOUD' for option \"log_level\" in [barman] section "
                      "(must be one in: 'DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL')");
    assert_load_error(GLOBAL "[pg]\nconninfo = x\nslot_name = Barman-Slot!\n",
                      "t.conf:5: invalid slot name 'Barman-Slot!' for option \"slot_name\" in [pg] section "
                      "(replication slot names may only contain lower case letters, numbers, and the underscore "
                      "character)");
    assert_load_error(GLOBAL "[pg]\n" PG_OK "recovery_staging_path = relative/path\n",
                      "t.conf:8: invalid path 'relative/path' for option \"recovery_staging_path\" in [pg] section "
                      "(must be an absolute path)");
    assert_load_error(GLOBAL "[pg]\n" PG_OK "retention_policy = REDUNDANCY two\n",
                      "t.conf:8: invalid retention policy 'REDUNDANCY two' for option \"retention_policy\" in [pg] "
                      "section (expected 'REDUNDANCY n' or 'RECOVERY WINDOW OF n DAYS|WEEKS|MONTHS')");
    assert_load_error(GLOBAL "[pg]\n" PG_OK "last_backup_maximum_age = 1 fortnight\n",
                      "t.conf:8: invalid time interval '1 fortnight' for option \"last_backup_maximum_age\" in [pg] "
                      "section (expected 'N HOURS|DAYS|WEEKS|MONTHS')");
    assert_load_error(GLOBAL "[pg]\n" PG_OK "last_backup_minimum_size = 10 KB\n",
                      "t.conf:8: invalid size '10 KB' for option \"last_backup_minimum_size\" in [pg] section "
                      "(expected a number with an optional k, Ki, M, Mi, G, Gi, T or Ti suffix)");
    assert_load_error(GLOBAL "[pg]\n" PG_OK "recovery_options = get-wal, fast\n",
                      "t.conf:8: invalid value 'get-wal, fast' for option \"recovery_options\" in [pg] section "
                      "(unknown value 'fast', expected a comma-separated list of: 'get-wal', 'delta-restore')");
    assert_load_error(GLOBAL "[pg]\n" PG_OK "backup_options = concurrent_backup,exclusive_backup\n",
                      "t.conf:8: invalid value 'concurrent_backup,exclusive_backup' for option \"backup_options\" "
                      "in [pg] section (cannot contain both 'concurrent_backup' and 'exclusive_backup')");
    /* a bad value inherited from [barman] is reported where it is written */
    assert_load_error(GLOBAL "streaming_archiver = sure\n[pg]\nconninfo = x\n",
                      "t.conf:3: invalid boolean value 'sure' for option \"streaming_archiver\" in [barman] section "
                      "(expected true/false, on/off, yes/no, 1/0)");
}

static void
test_config_load_string_typed_values(void **state)
{
    struct barrel_config *cfg;
    const struct server_config *sc;

    (void) state;
    cfg = load_ok(GLOBAL "[pg]\n" PG_OK
                  "slot_name = Barman_Slot\nactive = No\narchiver = TRUE\nbackup_method = Local-Rsync\n"
                  "retention_policy = recovery window of 2 week\n"
                  "last_backup_maximum_age = 1 day\nlast_wal_maximum_age = 3 hours\n"
                  "last_backup_minimum_size = 10 Mi\nbandwidth_limit = 1_000\n"
                  "max_incoming_wals_queue = +5\nbackup_options = external_configuration, exclusive_backup\n"
                  "recovery_options = get-wal\nreuse_backup = LINK\nbackup_compression_location = client\n"
                  "metrics_file = /var/lib/barrel/metrics.prom\n");
    sc = server(cfg, "pg");
    assert_string_equal(sc->slot_name, "barman_slot");
    assert_int_equal(sc->active, 0);
    assert_int_equal(sc->archiver, 1);
    assert_int_equal(sc->backup_method, BACKUP_METHOD_LOCAL_RSYNC);
    assert_string_equal(raw_value(sc, "backup_method"), "local-rsync");
    assert_int_equal(sc->retention_policy.kind, RETENTION_WINDOW);
    assert_int_equal(sc->retention_policy.value, 2);
    assert_int_equal(sc->retention_policy.unit, RETENTION_WEEKS);
    assert_string_equal(sc->retention_policy_text, "recovery window of 2 week");
    assert_int_equal(sc->last_backup_maximum_age, 86400);
    assert_int_equal(sc->last_wal_maximum_age, 3 * 3600);
    assert_int_equal(sc->last_backup_minimum_size, 10 * 1024 * 1024);
    assert_int_equal(sc->bandwidth_limit, 1000);
    assert_int_equal(sc->max_incoming_wals_queue, 5);
    assert_int_equal(sc->backup_options, BACKUP_OPT_EXTERNAL_CFG | BACKUP_OPT_EXCLUSIVE);
    assert_int_equal(sc->recovery_options, RECOVERY_OPT_GET_WAL);
    assert_int_equal(sc->reuse_backup, REUSE_BACKUP_LINK);
    assert_int_equal(sc->backup_compression_location, BACKUP_LOCATION_CLIENT);
    assert_string_equal(sc->metrics_file, "/var/lib/barrel/metrics.prom");
    assert_int_equal(sc->n_disabled_reasons, 0);
    config_free(cfg);
}

/* ---- warnings and disabled reasons ---- */

static void
test_config_load_string_warnings(void **state)
{
    struct barrel_config *cfg;

    (void) state;
    cfg = load_ok(GLOBAL "conninfo = host=x\npre_backup_script = /bin/true\ncolour = blue\nreuse_backup =\n"
                  "[pg]\n" PG_OK "barman_home = /elsewhere\nreuse_backup = link\nssh_command = None\n"
                  "snapshot_disks = d1\nworm_mode = on\nfrobnicate = yes\n");
    assert_int_equal(cfg->n_warnings, 8);
    assert_string_equal(cfg->warnings[0], "Invalid configuration option \"conninfo\" in [barman] section.");
    assert_string_equal(cfg->warnings[1],
                        "option \"pre_backup_script\" in [barman] section is accepted but not implemented by barrel yet");
    assert_string_equal(cfg->warnings[2], "Invalid configuration option \"colour\" in [barman] section.");
    assert_string_equal(cfg->warnings[3], "Invalid configuration option \"barman_home\" in [pg] section.");
    assert_string_equal(cfg->warnings[4],
                        "option \"reuse_backup\" in [pg] section is accepted but not implemented by barrel yet");
    assert_true(has_warning(cfg, "option \"snapshot_disks\" in [pg] section is accepted but not implemented by barrel yet"));
    assert_true(has_warning(cfg, "option \"worm_mode\" in [pg] section is accepted but not implemented by barrel yet"));
    assert_false(has_warning(cfg, "option \"ssh_command\" in [pg] section is accepted but not implemented by barrel yet"));
    assert_string_equal(cfg->warnings[7], "Invalid configuration option \"frobnicate\" in [pg] section.");
    config_free(cfg);
}

static void
test_config_load_string_disabled_reasons(void **state)
{
    struct barrel_config *cfg;
    const struct server_config *sc;

    (void) state;
    cfg = load_ok(GLOBAL
                  "[noconn]\nbackup_method = postgres\nstreaming_archiver = on\nslot_name = s\n"
                  "[noslot]\nconninfo = x\nbackup_method = postgres\nstreaming_archiver = on\n"
                  "[plain]\n" PG_OK "backup_compression = gzip\nbackup_compression_format = plain\n"
                  "backup_compression_location = client\n"
                  "[local]\nconninfo = x\nbackup_method = local-rsync\nssh_command = ssh pg\narchiver = on\n"
                  "[both]\n" PG_OK "archiver = on\n");
    sc = server(cfg, "noconn");
    assert_int_equal(sc->n_disabled_reasons, 2);
    assert_string_equal(sc->disabled_reasons[0], "PostgreSQL connection: Missing 'conninfo' parameter for server 'noconn'");
    assert_string_equal(sc->disabled_reasons[1],
                        "Streaming-only archiver requires 'streaming_conninfo' and 'slot_name' options to be "
                        "properly configured");
    sc = server(cfg, "noslot");
    assert_int_equal(sc->n_disabled_reasons, 1);
    assert_string_equal(sc->disabled_reasons[0],
                        "Streaming-only archiver requires 'streaming_conninfo' and 'slot_name' options to be "
                        "properly configured");
    sc = server(cfg, "plain");
    assert_int_equal(sc->n_disabled_reasons, 1);
    assert_string_equal(sc->disabled_reasons[0],
                        "backup_compression_format plain is not compatible with backup_compression_location client");
    sc = server(cfg, "local");
    assert_int_equal(sc->n_disabled_reasons, 1);
    assert_string_equal(sc->disabled_reasons[0],
                        "Local copy requires ssh_command in barman configuration to be empty for server local");
    sc = server(cfg, "both");
    assert_int_equal(sc->n_disabled_reasons, 0);
    assert_int_equal(sc->archiver, 1);
    assert_int_equal(sc->streaming_archiver, 1);
    config_free(cfg);
}

/* ---- files: includes and search order ---- */

static void
test_config_load_includes_sorted(void **state)
{
    struct tmp_state *ts = *state;
    char *incdir = br_asprintf("%s/barman.d", ts->dir);
    char *main_text, *main_path, *sub, *p;
    struct br_error err;
    struct barrel_config *cfg;

    assert_int_equal(mkdir(incdir, 0700), 0);
    free(write_file(incdir, "20-b.conf", "[b]\n" PG_OK "description = from b\n"));
    free(write_file(incdir, "10-a.conf", "[barman]\n\n[a]\n" PG_OK "description = from a\n"));
    free(write_file(incdir, ".hidden.conf", "[hidden]\n" PG_OK));
    free(write_file(incdir, "notes.txt", "this is not INI at all\n"));
    sub = br_asprintf("%s/30-dir.conf", incdir);
    assert_int_equal(mkdir(sub, 0700), 0);
    main_text = br_asprintf("[barman]\nbarman_home = %s/home\nconfiguration_files_directory = %s\n[main]\n" PG_OK,
                            ts->dir, incdir);
    main_path = write_file(ts->dir, "barman.conf", main_text);

    cfg = config_load(main_path, &err);
    if (cfg == NULL)
        fail_msg("%s", err.msg);
    assert_string_equal(cfg->configuration_files_directory, incdir);
    assert_int_equal(cfg->n_servers, 3);
    assert_string_equal(cfg->servers[0]->name, "a");
    assert_string_equal(cfg->servers[1]->name, "b");
    assert_string_equal(cfg->servers[2]->name, "main");
    p = br_asprintf("%s/10-a.conf", incdir);
    assert_string_equal(server(cfg, "a")->defined_in, p);
    assert_int_equal(server(cfg, "a")->defined_line, 3);
    free(p);
    assert_string_equal(server(cfg, "b")->description, "from b");
    assert_null(config_find_server(cfg, "hidden"));
    assert_int_equal(cfg->n_warnings, 1);
    p = br_asprintf("Discarding configuration file: %s (not a file)", sub);
    assert_string_equal(cfg->warnings[0], p);
    free(p);
    config_free(cfg);

    /* the same section in two files: both places named */
    free(write_file(incdir, "40-dup.conf", "\n[b]\n" PG_OK));
    cfg = config_load(main_path, &err);
    assert_null(cfg);
    p = br_asprintf("%s/40-dup.conf:2: duplicate section [b] (already defined at %s/20-b.conf:1)", incdir, incdir);
    assert_string_equal(err.msg, p);
    assert_int_equal(err.code, BR_E_CONFIG);
    free(p);

    free(main_text);
    free(main_path);
    free(sub);
    free(incdir);
}

static void
test_config_load_includes_errors(void **state)
{
    struct tmp_state *ts = *state;
    char *incdir = br_asprintf("%s/inc", ts->dir);
    char *main_text, *main_path, *p, *link_path, *target;
    struct br_error err;

    assert_int_equal(mkdir(incdir, 0700), 0);
    main_text = br_asprintf("[barman]\nbarman_home = /x\nconfiguration_files_directory = %s\n", incdir);
    main_path = write_file(ts->dir, "main.conf", main_text);

    /* an included file may not set global options */
    free(write_file(incdir, "a.conf", "[pg]\n" PG_OK "[barman]\ncompression = gzip\n"));
    assert_null(config_load(main_path, &err));
    p = br_asprintf("%s/a.conf:6: the configuration file %s/a.conf contains a not empty [barman] section "
                    "(global options belong in the main file %s)", incdir, incdir, main_path);
    assert_string_equal(err.msg, p);
    free(p);
    p = br_asprintf("%s/a.conf", incdir);
    unlink(p);
    free(p);

    /* a dangling symlink cannot be read */
    link_path = br_asprintf("%s/b.conf", incdir);
    target = br_asprintf("%s/nowhere.conf", ts->dir);
    assert_int_equal(symlink(target, link_path), 0);
    assert_null(config_load(main_path, &err));
    p = br_asprintf("%s:3: could not read included configuration file \"%s\": No such file or directory",
                    main_path, link_path);
    assert_string_equal(err.msg, p);
    assert_int_equal(err.code, BR_E_CONFIG);
    free(p);
    unlink(link_path);

    /* a syntax error in an included file names that file */
    free(write_file(incdir, "c.conf", "[c]\njunk\n"));
    assert_null(config_load(main_path, &err));
    p = br_asprintf("%s/c.conf:2: syntax error: expected \"[section]\" or \"key = value\", found 'junk'", incdir);
    assert_string_equal(err.msg, p);
    free(p);

    /* the directory itself is missing */
    free(main_text);
    free(main_path);
    main_text = br_asprintf("[barman]\nbarman_home = /x\nconfiguration_files_directory = %s/missing\n", ts->dir);
    main_path = write_file(ts->dir, "main2.conf", main_text);
    assert_null(config_load(main_path, &err));
    p = br_asprintf("%s:3: could not open configuration_files_directory \"%s/missing\": No such file or directory",
                    main_path, ts->dir);
    assert_string_equal(err.msg, p);
    free(p);

    free(main_text);
    free(main_path);
    free(link_path);
    free(target);
    free(incdir);
}

static void
test_config_load_search_order(void **state)
{
    struct tmp_state *ts = *state;
    char *barrel_path, *barman_path, *env_path, *p;
    struct br_error err;
    struct barrel_config *cfg;

    setenv("HOME", ts->dir, 1);
    unsetenv("BARMAN_CONFIG_FILE");

    /* -c FILE that does not exist: Barman's message */
    p = br_asprintf("%s/does-not-exist.conf", ts->dir);
    assert_null(config_load(p, &err));
    assert_int_equal(err.code, BR_E_CONFIG);
    {
        char *expected = br_asprintf("Configuration file '%s' does not exist", p);

        assert_string_equal(err.msg, expected);
        free(expected);
    }
    free(p);

    /* ~/.barrel.conf comes before ~/.barman.conf */
    barman_path = write_file(ts->dir, ".barman.conf", "[barman]\nbarman_home = /from-barman-conf\n");
    barrel_path = write_file(ts->dir, ".barrel.conf", "[barrel]\nbarman_home = /from-barrel-conf\n");
    cfg = config_load(NULL, &err);
    if (cfg == NULL)
        fail_msg("%s", err.msg);
    assert_string_equal(cfg->barman_home, "/from-barrel-conf");
    assert_string_equal(cfg->path, barrel_path);
    config_free(cfg);

    /* then ~/.barman.conf, unless an /etc/barrel file exists on this machine */
    unlink(barrel_path);
    if (access("/etc/barrel.conf", F_OK) != 0 && access("/etc/barrel/barrel.conf", F_OK) != 0) {
        cfg = config_load(NULL, &err);
        if (cfg == NULL)
            fail_msg("%s", err.msg);
        assert_string_equal(cfg->path, barman_path);
        config_free(cfg);
    }

    /* BARMAN_CONFIG_FILE before the default locations, -c before BARMAN_CONFIG_FILE */
    env_path = write_file(ts->dir, "env.conf", "[barman]\nbarman_home = /from-env\n");
    setenv("BARMAN_CONFIG_FILE", env_path, 1);
    cfg = config_load(NULL, &err);
    assert_non_null(cfg);
    assert_string_equal(cfg->barman_home, "/from-env");
    config_free(cfg);
    cfg = config_load(barman_path, &err);
    assert_non_null(cfg);
    assert_string_equal(cfg->barman_home, "/from-barman-conf");
    config_free(cfg);
    p = br_asprintf("%s/gone.conf", ts->dir);
    setenv("BARMAN_CONFIG_FILE", p, 1);
    assert_null(config_load(NULL, &err));
    {
        char *expected = br_asprintf("Configuration file '%s' does not exist", p);

        assert_string_equal(err.msg, expected);
        free(expected);
    }
    free(p);
    unsetenv("BARMAN_CONFIG_FILE");

    /* nothing anywhere (only checkable where /etc has no barman or barrel file) */
    unlink(barman_path);
    if (access("/etc/barrel.conf", F_OK) != 0 && access("/etc/barrel/barrel.conf", F_OK) != 0
        && access("/etc/barman.conf", F_OK) != 0 && access("/etc/barman/barman.conf", F_OK) != 0) {
        assert_null(config_load(NULL, &err));
        assert_int_equal(err.code, BR_E_CONFIG);
        assert_string_equal(err.msg, "could not find any configuration file at default locations");
    }

    free(barrel_path);
    free(barman_path);
    free(env_path);
}

/* ---- retention and value parsers ---- */

static void
test_retention_policy_parse_valid(void **state)
{
    struct retention_policy rp;
    struct br_error err;
    char buf[64];

    (void) state;
    assert_int_equal(retention_policy_parse("REDUNDANCY 2", &rp, &err), 0);
    assert_int_equal(rp.kind, RETENTION_REDUNDANCY);
    assert_int_equal(rp.value, 2);
    retention_policy_format(&rp, buf, sizeof(buf));
    assert_string_equal(buf, "REDUNDANCY 2");
    assert_int_equal(retention_policy_window_seconds(&rp), 0);

    assert_int_equal(retention_policy_parse("  redundancy   0 ", &rp, &err), 0);
    assert_int_equal(rp.value, 0);

    assert_int_equal(retention_policy_parse("recovery window of 1 week", &rp, &err), 0);
    assert_int_equal(rp.kind, RETENTION_WINDOW);
    assert_int_equal(rp.unit, RETENTION_WEEKS);
    retention_policy_format(&rp, buf, sizeof(buf));
    assert_string_equal(buf, "RECOVERY WINDOW OF 1 WEEKS");
    assert_int_equal(retention_policy_window_seconds(&rp), 7 * 86400);

    assert_int_equal(retention_policy_parse("RECOVERY  WINDOW OF 3 MONTHS", &rp, &err), 0);
    assert_int_equal(rp.unit, RETENTION_MONTHS);
    assert_int_equal(retention_policy_window_seconds(&rp), 3 * 31 * 86400);
    retention_policy_format(&rp, buf, sizeof(buf));
    assert_string_equal(buf, "RECOVERY WINDOW OF 3 MONTHS");

    assert_int_equal(retention_policy_parse("Recovery Window Of 10 Day", &rp, &err), 0);
    assert_int_equal(rp.unit, RETENTION_DAYS);
    assert_int_equal(retention_policy_window_seconds(&rp), 10 * 86400);
    retention_policy_format(&rp, buf, sizeof(buf));
    assert_string_equal(buf, "RECOVERY WINDOW OF 10 DAYS");

    rp.kind = RETENTION_NONE;
    retention_policy_format(&rp, buf, sizeof(buf));
    assert_string_equal(buf, "None");
}

static void
test_retention_policy_parse_invalid(void **state)
{
    static const char *const bad[] = {
        "", "REDUNDANCY", "REDUNDANCY two", "REDUNDANCY -1", "REDUNDANCY 2 backups", "REDUNDANCY2",
        "RECOVERY WINDOW OF 1", "RECOVERY WINDOW 1 DAYS", "RECOVERY WINDOW OF 1 YEARS",
        "RECOVERY WINDOW OF 1 HOURS", "RECOVERY WINDOW OF x DAYS", "RECOVERY WINDOW OF 1DAYS",
        "REDUNDANCY 99999999999999999999",
    };
    struct retention_policy rp;
    struct br_error err;

    (void) state;
    for (size_t i = 0; i < BR_ARRAY_LEN(bad); i++) {
        br_error_clear(&err);
        if (retention_policy_parse(bad[i], &rp, &err) != -1)
            fail_msg("accepted '%s'", bad[i]);
        assert_int_equal(err.code, BR_E_CONFIG);
    }
    retention_policy_parse("REDUNDANCY two", &rp, &err);
    assert_string_equal(err.msg, "invalid retention policy 'REDUNDANCY two' (expected 'REDUNDANCY n' or "
                                 "'RECOVERY WINDOW OF n DAYS|WEEKS|MONTHS')");
}

static void
test_config_parse_interval_cases(void **state)
{
    (void) state;
    assert_int_equal(config_parse_interval("1 day"), 86400);
    assert_int_equal(config_parse_interval("2 DAYS"), 2 * 86400);
    assert_int_equal(config_parse_interval(" 3 weeks "), 3 * 7 * 86400);
    assert_int_equal(config_parse_interval("1 month"), 31 * 86400);
    assert_int_equal(config_parse_interval("5 Hours"), 5 * 3600);
    assert_int_equal(config_parse_interval("0 days"), 0);
    assert_int_equal(config_parse_interval("1day"), -1);
    assert_int_equal(config_parse_interval("1 year"), -1);
    assert_int_equal(config_parse_interval("day"), -1);
    assert_int_equal(config_parse_interval("-1 day"), -1);
    assert_int_equal(config_parse_interval("1 days ago"), -1);
    assert_int_equal(config_parse_interval(""), -1);
    assert_int_equal(config_parse_interval("99999999999999999999 days"), -1);
}

static void
test_config_parse_size_cases(void **state)
{
    (void) state;
    assert_int_equal(config_parse_size("0"), 0);
    assert_int_equal(config_parse_size("512"), 512);
    assert_int_equal(config_parse_size("5k"), 5000);
    assert_int_equal(config_parse_size("5 Ki"), 5120);
    assert_int_equal(config_parse_size("2M"), 2000000);
    assert_int_equal(config_parse_size("2Mi"), 2 * 1024 * 1024);
    assert_int_equal(config_parse_size("3 G"), 3000000000LL);
    assert_int_equal(config_parse_size("3Gi"), 3LL * 1024 * 1024 * 1024);
    assert_int_equal(config_parse_size("1T"), 1000000000000LL);
    assert_int_equal(config_parse_size("1 Ti "), 1099511627776LL);
    assert_int_equal(config_parse_size("5K"), -1);       /* case-sensitive */
    assert_int_equal(config_parse_size("5 ki"), -1);
    assert_int_equal(config_parse_size("5 KB"), -1);
    assert_int_equal(config_parse_size(" 5"), -1);       /* re.match: no leading blank */
    assert_int_equal(config_parse_size("-5"), -1);
    assert_int_equal(config_parse_size(""), -1);
    assert_int_equal(config_parse_size("k"), -1);
    assert_int_equal(config_parse_size("99999999999 Ti"), -1);
}

static void
test_config_parse_bool_cases(void **state)
{
    static const char *const yes[] = { "true", "TRUE", "t", "T", "yes", "Yes", "1", "on", "ON" };
    static const char *const no[] = { "false", "False", "f", "F", "no", "NO", "0", "off", "Off" };
    static const char *const bad[] = { "", "maybe", "2", "y", "n", "enabled", " on", "on ", "truee" };

    (void) state;
    for (size_t i = 0; i < BR_ARRAY_LEN(yes); i++)
        assert_int_equal(config_parse_bool(yes[i]), 1);
    for (size_t i = 0; i < BR_ARRAY_LEN(no); i++)
        assert_int_equal(config_parse_bool(no[i]), 0);
    for (size_t i = 0; i < BR_ARRAY_LEN(bad); i++)
        assert_int_equal(config_parse_bool(bad[i]), -1);
}

static void
test_config_load_string_integers(void **state)
{
    struct barrel_config *cfg;

    (void) state;
    /* Python int(): blanks, sign and single underscores between digits */
    cfg = load_ok(GLOBAL "[pg]\n" PG_OK "check_timeout = \" 45 \"\narchiver_batch_size = +1_0\n"
                  "backup_compression_level = -1\n");
    assert_int_equal(server(cfg, "pg")->check_timeout, 45);
    assert_int_equal(server(cfg, "pg")->archiver_batch_size, 10);
    assert_int_equal(server(cfg, "pg")->backup_compression_level, -1);
    config_free(cfg);
    assert_load_error(GLOBAL "[pg]\n" PG_OK "check_timeout = 1__0\n",
                      "t.conf:8: invalid integer value '1__0' for option \"check_timeout\" in [pg] section "
                      "(expected an integer)");
    assert_load_error(GLOBAL "[pg]\n" PG_OK "check_timeout = 3000000000\n",
                      "t.conf:8: invalid integer value '3000000000' for option \"check_timeout\" in [pg] section "
                      "(expected an integer)");
    assert_load_error(GLOBAL "[pg]\n" PG_OK "check_timeout = 1.5\n",
                      "t.conf:8: invalid integer value '1.5' for option \"check_timeout\" in [pg] section "
                      "(expected an integer)");
}

/* ---- the option table ---- */

static void
test_config_option_at_table(void **state)
{
    static const char *const hooks[] = { "backup", "archive", "delete", "recovery", "wal_delete" };
    size_t n = config_option_count();
    char name[64];

    (void) state;
    assert_true(n > 100);
    assert_null(config_option_at(n));
    for (size_t i = 0; i < n; i++) {
        const struct config_option_info *oi = config_option_at(i);

        assert_non_null(oi->name);
        assert_true(oi->scope >= CONFIG_SCOPE_GLOBAL && oi->scope <= CONFIG_SCOPE_BOTH);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(config_option_at(j)->name, oi->name);
    }
    /* the twenty hook scripts, accepted but not implemented */
    for (size_t h = 0; h < BR_ARRAY_LEN(hooks); h++) {
        for (int phase = 0; phase < 2; phase++) {
            for (int retry = 0; retry < 2; retry++) {
                int found = 0;

                snprintf(name, sizeof(name), "%s_%s_%sscript", phase ? "post" : "pre", hooks[h],
                         retry ? "retry_" : "");
                for (size_t i = 0; i < n; i++) {
                    if (strcmp(config_option_at(i)->name, name) == 0) {
                        found = 1;
                        assert_int_equal(config_option_at(i)->implemented, 0);
                        assert_int_equal(config_option_at(i)->scope, CONFIG_SCOPE_BOTH);
                    }
                }
                if (!found)
                    fail_msg("hook %s missing", name);
            }
        }
    }
    /* a few rows that others rely on */
    for (size_t i = 0; i < n; i++) {
        const struct config_option_info *oi = config_option_at(i);

        if (strcmp(oi->name, "barman_home") == 0)
            assert_int_equal(oi->scope, CONFIG_SCOPE_GLOBAL);
        if (strcmp(oi->name, "conninfo") == 0)
            assert_int_equal(oi->scope, CONFIG_SCOPE_SERVER);
        if (strcmp(oi->name, "backup_directory") == 0)
            assert_string_equal(oi->default_text, "%(barman_home)s/%(name)s");
        if (strcmp(oi->name, "metrics_file") == 0) {
            assert_string_equal(oi->since, "barrel");
            assert_int_equal(oi->implemented, 1);
        }
        if (strcmp(oi->name, "combine_mode") == 0) {
            assert_string_equal(oi->since, "3.16");
            assert_int_equal(oi->implemented, 0);
        }
        if (strcmp(oi->name, "reuse_backup") == 0)
            assert_int_equal(oi->implemented, 0);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_load_fixture_servers),
        cmocka_unit_test(test_config_load_string_defaults),
        cmocka_unit_test(test_config_load_string_inheritance),
        cmocka_unit_test(test_config_load_string_barrel_synonym),
        cmocka_unit_test(test_config_load_string_default_section),
        cmocka_unit_test(test_config_load_string_tilde),
        cmocka_unit_test(test_config_load_string_interpolation),
        cmocka_unit_test(test_config_load_string_interpolation_errors),
        cmocka_unit_test(test_config_load_string_continuation_lines),
        cmocka_unit_test(test_config_load_string_quotes_and_comments),
        cmocka_unit_test(test_config_load_string_syntax_errors),
        cmocka_unit_test(test_config_load_string_section_errors),
        cmocka_unit_test(test_config_load_string_bad_values),
        cmocka_unit_test(test_config_load_string_typed_values),
        cmocka_unit_test(test_config_load_string_integers),
        cmocka_unit_test(test_config_load_string_warnings),
        cmocka_unit_test(test_config_load_string_disabled_reasons),
        cmocka_unit_test_setup_teardown(test_config_load_includes_sorted, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_config_load_includes_errors, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_config_load_search_order, tmp_setup, tmp_teardown),
        cmocka_unit_test(test_retention_policy_parse_valid),
        cmocka_unit_test(test_retention_policy_parse_invalid),
        cmocka_unit_test(test_config_parse_interval_cases),
        cmocka_unit_test(test_config_parse_size_cases),
        cmocka_unit_test(test_config_parse_bool_cases),
        cmocka_unit_test(test_config_option_at_table),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
