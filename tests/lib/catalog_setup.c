/*
 * catalog_setup.c: the shared test setup declared in catalog_setup.h.
 */
#include "barrel/build.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "barrel/mem.h"
#include "barrel/strbuf.h"
#include "catalog_setup.h"
#include "spawn.h"

/* ---------------------------------------------------------------- barrel */

struct h_result
h_run_conf(const char *tool, const char *conf, const char *const *env, const char *const *args)
{
    const char *argv[40];
    size_t n = 0;

    argv[n++] = tool;
    argv[n++] = "-c";
    argv[n++] = conf;
    for (; *args != NULL && n < BR_ARRAY_LEN(argv) - 1; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    return h_run(argv, NULL, env);
}

struct h_result
h_barrel_args(const char *conf, const char *const *args, size_t n)
{
    const char *list[36];
    size_t k = 0;

    for (size_t i = 0; i < n && k < BR_ARRAY_LEN(list) - 1; i++)
        if (args[i] != NULL)
            list[k++] = args[i];
    list[k] = NULL;
    return h_run_conf(h_barrel_bin(), conf, NULL, list);
}

void
h_ok(const char *what, struct h_result r)
{
    if (r.status != 0)
        fail_msg("%s failed (%d): %s%s", what, r.status, r.out, r.err);
    h_result_free(&r);
}

void
h_skip_without_pg(void)
{
    if (!h_pg_available()) {
        print_message("PostgreSQL 15 server binaries not installed: skipping\n");
        skip();
    }
}

/* ---------------------------------------------------------------- fixture */

void
h_fixture_dirs(char **tmp, char **home, char **conf, const char *conf_name)
{
    *tmp = h_mkdtemp();
    *home = br_asprintf("%s/home", *tmp);
    *conf = br_asprintf("%s/%s", *tmp, conf_name);
}

void
h_fixture_drop(struct h_pg *pg, char *tmp, char *home, char *conf)
{
    h_pg_destroy(pg);
    h_rmtree(tmp);
    free(tmp);
    free(home);
    free(conf);
}

/* ---------------------------------------------------------- configuration */

void
h_write_conf(const char *path, const char *home, const char *user, const char *global, const char *servers)
{
    char *me = user ? NULL : h_current_user();
    char *text = br_asprintf("[barman]\nbarman_home = %s\nbarman_user = %s\n%s\n%s", home, user ? user : me,
                             global ? global : "", servers ? servers : "");

    h_write_file(path, text);
    free(text);
    free(me);
}

char *
h_conf_server(struct h_pg *pg, const char *name, const char *more)
{
    char *conninfo = pg ? h_pg_conninfo(pg) : br_strdup("host=127.0.0.1 port=1");
    char *repl = pg ? h_pg_repl_conninfo(pg) : br_strdup("host=127.0.0.1 port=1");
    char *text = br_asprintf("[%s]\nconninfo = %s\nstreaming_conninfo = %s\nbackup_method = postgres\narchiver = on\n%s",
                             name, conninfo, repl, more ? more : "");

    free(conninfo);
    free(repl);
    return text;
}

/* ------------------------------------------------------- archiving cluster */

char *
h_incoming_dir(const char *home, const char *server)
{
    char *incoming = br_asprintf("%s/%s/incoming", home, server);
    struct h_result r = h_sh("mkdir -p '%s' && chmod 0777 '%s' '%s/%s' '%s'", incoming, incoming, home, server, home);

    if (r.status != 0)
        fprintf(stderr, "catalog_setup: cannot make %s: %s", incoming, r.err);
    h_result_free(&r);
    return incoming;
}

struct h_pg *
h_pg_start_archiving(const char *incoming, const char *extra_conf)
{
    char *conf = br_asprintf("archive_mode = on\n"
                             "archive_command = 'test ! -f %s/%%f && cp %%p %s/%%f.tmp && mv %s/%%f.tmp %s/%%f'\n%s",
                             incoming, incoming, incoming, incoming, extra_conf ? extra_conf : "");
    struct h_pg *pg = h_pg_start(conf);

    free(conf);
    return pg;
}

char *
h_pg_sqlf(struct h_pg *pg, const char *fmt, ...)
{
    va_list ap;
    char *text, *out;

    va_start(ap, fmt);
    text = br_vasprintf(fmt, ap);
    va_end(ap);
    out = h_pg_sql(pg, "postgres", text);
    if (out == NULL)
        fail_msg("SQL failed: %s", text);
    free(text);
    return out;
}

long
h_pg_sql_long(struct h_pg *pg, const char *sql)
{
    char *out = h_pg_sql(pg, "postgres", sql);
    long v = out ? atol(out) : -1;

    free(out);
    return v;
}

void
h_pg_wait_archived_count(struct h_pg *pg, long target)
{
    for (int i = 0; i < 600 && h_pg_sql_long(pg, "SELECT archived_count FROM pg_stat_archiver") < target; i++)
        h_sleep_ms(100);
}

int
h_pg_wait_archived(struct h_pg *pg, const char *seg, int interval_ms)
{
    const char *query = "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver";

    for (int i = 0; i < 600; i++) {
        char *last = h_pg_sql(pg, "postgres", query);
        int done;

        if (last == NULL)
            fail_msg("SQL failed: %s", query);
        done = strcmp(last, seg) >= 0;
        free(last);
        if (done)
            return 0;
        h_sleep_ms(interval_ms);
    }
    return -1;
}

/* ---------------------------------------------------------------- ssh */

void
h_write_fake_ssh(const char *path)
{
    static const char fake_ssh[] =
        "#!/bin/sh\n"
        "# fake ssh: drop the options and USER@HOST, run the remote command line with sh -c\n"
        "while [ $# -gt 0 ]; do\n"
        "  case \"$1\" in\n"
        "    -p|-o|-i|-l|-F) shift 2 ;;\n"
        "    -*) shift ;;\n"
        "    *) break ;;\n"
        "  esac\n"
        "done\n"
        "shift\n"
        "exec sh -c \"$*\"\n";

    h_write_file(path, fake_ssh);
    chmod(path, 0755);
}
