/*
 * faultenv.c: the common ground of the fault tests (see faultenv.h).
 */
#include "barrel/build.h"
#include "faultenv.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cmocka.h>

#include "barrel/mem.h"
#include "barrel/strbuf.h"
#include "catalog_setup.h"
#include "pgwal.h"
#include "spawn.h"

#define MAX_MOUNTS 4

/* tmpfs mounts still in place, unmounted at exit whatever happens to the test */
static char *g_mounts[MAX_MOUNTS];
static pid_t g_mount_owner;

static void
unmount_path(const char *path)
{
    if (umount(path) != 0 && errno == EBUSY)
        umount2(path, MNT_DETACH);
}

static void
unmount_all(void)
{
    if (g_mount_owner != getpid())
        return;
    for (int i = 0; i < MAX_MOUNTS; i++) {
        if (g_mounts[i] != NULL) {
            unmount_path(g_mounts[i]);
            free(g_mounts[i]);
            g_mounts[i] = NULL;
        }
    }
}

static void
forget_mount(const char *path)
{
    for (int i = 0; i < MAX_MOUNTS; i++) {
        if (g_mounts[i] != NULL && strcmp(g_mounts[i], path) == 0) {
            free(g_mounts[i]);
            g_mounts[i] = NULL;
        }
    }
}

/* Mount a tmpfs of size_mb on path; NULL, or why not (new string). */
static char *
mount_tmpfs(const char *path, int size_mb)
{
    char opts[64];

    if (geteuid() != 0)
        return br_strdup("mounting a tmpfs needs root");
    snprintf(opts, sizeof(opts), "size=%dm,mode=0755", size_mb);
    if (mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, opts) != 0)
        return br_asprintf("mount -t tmpfs -o %s on %s failed: %s", opts, path, strerror(errno));
    if (g_mount_owner == 0) {
        g_mount_owner = getpid();
        atexit(unmount_all);
    }
    for (int i = 0; i < MAX_MOUNTS; i++) {
        if (g_mounts[i] == NULL) {
            g_mounts[i] = br_strdup(path);
            break;
        }
    }
    return NULL;
}

static int
sh_quiet(const char *what, struct h_result r)
{
    int rc = r.status == 0 ? 0 : -1;

    if (rc != 0)
        fprintf(stderr, "faultenv: %s failed (status %d): %s%s", what, r.status, r.out, r.err);
    h_result_free(&r);
    return rc;
}

struct h_fenv *
h_fenv_new(const struct h_fenv_opts *opts, char **why)
{
    static const struct h_fenv_opts defaults = {0, 0, NULL};
    struct h_fenv *fe;

    *why = NULL;
    if (opts == NULL)
        opts = &defaults;
    if (!h_pg_available()) {
        *why = br_strdup("PostgreSQL 15 server binaries are not installed");
        return NULL;
    }
    fe = br_calloc(1, sizeof(*fe));
    fe->tmp = h_mkdtemp();
    fe->home = br_asprintf("%s/home", fe->tmp);
    fe->conf = br_asprintf("%s/barrel.conf", fe->tmp);
    if (mkdir(fe->home, 0755) != 0) {
        *why = br_asprintf("error: mkdir %s: %s", fe->home, strerror(errno));
        h_fenv_free(fe);
        return NULL;
    }
    if (opts->tmpfs_mb > 0) {
        *why = mount_tmpfs(fe->home, opts->tmpfs_mb);
        if (*why != NULL) {
            h_fenv_free(fe);
            return NULL;
        }
        fe->mounted = 1;
    }
    /* h_mkdtemp's 0755 lets the cluster (another user when we are root) reach either place */
    if (opts->incoming_outside) {
        fe->incoming = br_asprintf("%s/incoming", fe->tmp);
        if (sh_quiet("mkdir", h_sh("mkdir -p '%s' && chmod 0777 '%s'", fe->incoming, fe->incoming)) != 0) {
            *why = br_strdup("error: cannot make the incoming directory");
            h_fenv_free(fe);
            return NULL;
        }
    } else {
        fe->incoming = h_incoming_dir(fe->home, "pg");
    }
    fe->pg = h_pg_start_archiving(fe->incoming, opts->pg_conf);
    if (fe->pg == NULL) {
        *why = br_strdup("error: the PostgreSQL cluster did not start");
        h_fenv_free(fe);
        return NULL;
    }
    {
        char *out = h_pg_sql(fe->pg, "postgres", "CREATE TABLE marks (id int, pad text)");

        if (out == NULL) {
            *why = br_strdup("error: CREATE TABLE failed");
            h_fenv_free(fe);
            return NULL;
        }
        free(out);
    }
    return fe;
}

void
h_fenv_free(struct h_fenv *fe)
{
    if (fe == NULL)
        return;
    h_spawn_kill_all();
    h_pg_destroy(fe->pg);
    if (fe->mounted) {
        unmount_path(fe->home);
        forget_mount(fe->home);
    }
    h_rmtree(fe->tmp);
    free(fe->tmp);
    free(fe->home);
    free(fe->conf);
    free(fe->incoming);
    free(fe);
}

char *
h_fenv_section(const struct h_fenv *fe, const char *name, int port, const char *extra)
{
    /* catalog_setup's section, with the conninfos through another port when asked */
    struct h_pg via = *fe->pg;
    char *section, *text;

    if (port > 0)
        via.port = port;
    section = h_conf_server(&via, name, extra);
    text = br_asprintf("%s\n", section);
    free(section);
    return text;
}

void
h_fenv_write_conf(const struct h_fenv *fe, const char *sections)
{
    char *global = br_asprintf("log_file = %s/barrel.log\nlog_level = INFO\n", fe->tmp);

    h_write_conf(fe->conf, fe->home, NULL, global, sections);
    free(global);
}

struct h_result
h_fenv_barrel(const struct h_fenv *fe, const char *env, const char *args, const char *in)
{
    return h_sh("%s'%s' -c '%s' %s < '%s'", env != NULL ? env : "", h_barrel_bin(), fe->conf, args,
                in != NULL ? in : "/dev/null");
}

char *
h_fenv_sql(struct h_fenv *fe, const char *sql)
{
    char *out = h_pg_sql(fe->pg, "postgres", sql);

    if (out == NULL)
        fail_msg("psql failed: %s", sql);
    return out;
}

char *
h_fenv_switch(struct h_fenv *fe)
{
    char *closed = h_pg_switch_segment(fe->pg);

    if (closed == NULL)
        fail_msg("psql failed: a row and pg_switch_wal()");
    return closed;
}

void
h_fenv_wait_archived(struct h_fenv *fe, const char *name)
{
    if (h_pg_wait_archived(fe->pg, name, 50) != 0)
        fail_msg("archive_command did not archive %s within 30 s", name);
}

void
h_fenv_activity(struct h_fenv *fe)
{
    char *closed = h_fenv_switch(fe);

    h_fenv_wait_archived(fe, closed);
    free(closed);
}

void
h_fenv_seed_backup(struct h_fenv *fe, const char *server)
{
    char *backup = br_asprintf("backup --wait %s", server), *archive = br_asprintf("archive-wal %s", server);

    h_fenv_activity(fe);
    h_ok("backup --wait", h_fenv_barrel(fe, NULL, backup, NULL));
    h_fenv_activity(fe);
    h_ok("archive-wal", h_fenv_barrel(fe, NULL, archive, NULL));
    free(archive);
    free(backup);
}

void
h_fenv_check_catalog(const struct h_fenv *fe, const char *server, struct h_catalog *cat, const char *when)
{
    char *dir = br_asprintf("%s/%s", fe->home, server);

    h_catalog_check(dir, cat);
    free(dir);
    if (cat->problems != NULL)
        fail_msg("catalog of %s inconsistent %s:\n%s", server, when, cat->problems);
}

void
h_fenv_verify_done(const struct h_fenv *fe, const char *server, const struct h_catalog *cat, const char *when)
{
    for (size_t i = 0; i < cat->n_done; i++) {
        char *args = br_asprintf("verify-backup %s %s", server, cat->done_ids[i]);
        struct h_result r = h_fenv_barrel(fe, NULL, args, NULL);

        if (r.status != 0)
            fail_msg("verify-backup %s %s failed %s: %s%s", server, cat->done_ids[i], when, r.out, r.err);
        h_result_free(&r);
        free(args);
    }
}

char *
h_fenv_backup_field(const struct h_fenv *fe, const char *server, const char *id, const char *key)
{
    char *path = br_asprintf("%s/%s/base/%s/backup.info", fe->home, server, id);
    char *text = h_read_file(path), *val = NULL, *pat = br_asprintf("\n%s=", key);
    const char *p = text != NULL ? strstr(text, pat) : NULL;

    if (p != NULL)
        val = br_strndup(p + strlen(pat), strcspn(p + strlen(pat), "\n"));
    free(pat);
    free(text);
    free(path);
    return val;
}

/* A bare segment name: 24 hex digits. */
static int
parse_segment(const char *name, unsigned *tli, uint64_t *segno)
{
    unsigned log, seg;

    if (strlen(name) != 24 || strspn(name, "0123456789ABCDEF") != 24)
        return 0;
    if (sscanf(name, "%8x%8x%8x", tli, &log, &seg) != 3)
        return 0;
    *segno = (uint64_t) log * 256 + seg;    /* 16 MiB segments: 256 a "log" */
    return 1;
}

char *
h_fenv_wal_gap(const struct h_catalog *cat, const char *through)
{
    struct strbuf sb;
    unsigned prev_tli = 0;
    uint64_t prev = 0;
    const char *prev_name = NULL;
    int have_prev = 0, found = through == NULL;

    strbuf_init(&sb);
    for (size_t i = 0; i < cat->n_wals; i++) {
        unsigned tli;
        uint64_t segno;

        if (!parse_segment(cat->wal_names[i], &tli, &segno))
            continue;
        if (through != NULL && strcmp(cat->wal_names[i], through) == 0)
            found = 1;
        if (have_prev && tli == prev_tli && segno != prev + 1)
            strbuf_appendf(&sb, "xlog.db jumps from %s to %s (%lld segment(s) missing)\n", prev_name,
                           cat->wal_names[i], (long long) segno - (long long) prev - 1);
        prev_name = cat->wal_names[i];
        prev_tli = tli;
        prev = segno;
        have_prev = 1;
    }
    if (!found)
        strbuf_appendf(&sb, "%s is not archived (last: %s)\n", through,
                       cat->n_wals > 0 ? cat->wal_names[cat->n_wals - 1] : "none");
    if (sb.len == 0) {
        strbuf_free(&sb);
        return NULL;
    }
    return strbuf_detach(&sb);
}

/* ---- receive-wal ---- */

static char *
receiver_log_path(const struct h_fenv *fe, const char *server)
{
    return br_asprintf("%s/receive-wal-%s.log", fe->tmp, server);
}

pid_t
h_fenv_receiver_start(const struct h_fenv *fe, const char *server, const char *env)
{
    char *log = receiver_log_path(fe, server);
    pid_t pid = h_spawn_sh(log, "%s'%s' -c '%s' receive-wal %s", env != NULL ? env : "", h_barrel_bin(), fe->conf,
                           server);

    free(log);
    if (pid < 0)
        fail_msg("cannot start receive-wal %s", server);
    return pid;
}

char *
h_fenv_receiver_log(const struct h_fenv *fe, const char *server)
{
    char *log = receiver_log_path(fe, server);
    char *text = h_read_file(log);

    free(log);
    if (text == NULL || text[0] == '\0') {
        free(text);
        return br_strdup("(none)");
    }
    return text;
}

int
h_fenv_wait_streamed(const struct h_fenv *fe, const char *server, pid_t pid, const char *name, int partial,
                     int timeout_ms)
{
    char *in_streaming = br_asprintf("%s/%s/streaming/%s%s", fe->home, server, name, partial ? ".partial" : "");
    char *in_wals = br_asprintf("%s/%s/wals/%.16s/%s", fe->home, server, name, name);
    int rc = -1;

    for (int waited = 0; waited < timeout_ms && rc < 0; waited += 20) {
        if (access(in_streaming, F_OK) == 0 || access(in_wals, F_OK) == 0)
            rc = 1;
        else if (!h_spawn_running(pid))
            rc = 0;
        else
            h_sleep_ms(20);
    }
    free(in_streaming);
    free(in_wals);
    if (rc < 0) {
        char *text = h_fenv_receiver_log(fe, server);

        fail_msg("receive-wal %s did not stream %s%s within %d s; its output:\n%s", server, name,
                 partial ? ".partial" : "", timeout_ms / 1000, text);
    }
    return rc;
}

char *
h_fenv_stream_switch(struct h_fenv *fe, const char *server, pid_t pid, int timeout_ms, const char *when)
{
    char *closed = h_fenv_switch(fe);

    if (h_fenv_wait_streamed(fe, server, pid, closed, 0, timeout_ms) != 1) {
        char *text = h_fenv_receiver_log(fe, server);

        fail_msg("receive-wal %s exited (status %d) before streaming %s %s; its output:\n%s", server,
                 h_spawn_wait(pid, 1000), closed, when, text);
    }
    return closed;
}

void
h_fenv_stream_settle(struct h_fenv *fe, const char *server, pid_t pid, int timeout_ms, const char *when)
{
    char *current;

    free(h_fenv_sql(fe, "INSERT INTO marks VALUES (0, 'next segment')"));
    /* the insert position: the write position may still be at the boundary (synchronous_commit = off) */
    current = h_fenv_sql(fe, "SELECT pg_walfile_name(pg_current_wal_insert_lsn())");
    if (h_fenv_wait_streamed(fe, server, pid, current, 1, timeout_ms) != 1) {
        char *text = h_fenv_receiver_log(fe, server);

        fail_msg("receive-wal %s exited (status %d) before opening %s.partial %s; its output:\n%s", server,
                 h_spawn_wait(pid, 1000), current, when, text);
    }
    free(current);
}

void
h_fenv_receiver_stop(const struct h_fenv *fe, const char *server, pid_t pid, const char *when)
{
    int status;

    kill(pid, SIGTERM);
    status = h_spawn_wait(pid, 10000);
    if (status != 0) {
        char *text = h_fenv_receiver_log(fe, server);

        fail_msg("receive-wal %s did not stop cleanly %s (status %d); its output:\n%s", server, when, status, text);
    }
}

long long
h_fenv_free_bytes(const char *path)
{
    struct statvfs sv;

    if (statvfs(path, &sv) != 0)
        return -1;
    return (long long) sv.f_bavail * (long long) sv.f_frsize;
}
