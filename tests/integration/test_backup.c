/*
 * test_backup.c: `barrel backup` and `check-backup` against a real
 * PostgreSQL 15 cluster with a user tablespace.
 *
 * The cluster archives WAL with archive_command into the incoming/
 * directory of server "pg" (cp to a .tmp name, then mv), so that the
 * backup's own archive-wal step moves the segments into wals/ and the
 * backup reaches DONE. Other servers point at the same cluster with other
 * compressions; their WAL never arrives, so they end WAITING_FOR_WALS.
 *
 * Proofs: backup.info fields against the backup_label inside base.tar and
 * the manifest's WAL range; the archives extracted with the standard tools
 * (zstd, gzip, lz4, tar) and checked by pg_verifybackup against the stored
 * manifest. Failures (walsender killed mid-copy, SIGTERM, destination not
 * writable, bad conninfo, another cluster's identity.json, busy lock) each
 * give one clear error, a non-zero exit, FAILED or no entry, and leave the
 * first backup byte for byte as it was.
 *
 * Tests run in order and share the cluster; the first DONE backup is the
 * one the failure tests protect.
 */
#include "barrel/build.h"

#include <dirent.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "barrel/catalog.h"
#include "barrel/error.h"
#include "barrel/mem.h"
#include "barrel/strbuf.h"
#include "catalog_setup.h"
#include "harness.h"

#define VERIFYBACKUP "/usr/lib/postgresql/15/bin/pg_verifybackup"

struct fixture {
    struct h_pg *pg;
    char *tmp;
    char *conf;
    char *home;
    char *tbs;            /* tablespace directory */
    char *first_id;       /* the DONE backup the failure tests protect */
    char *first_sums;     /* sha256sum of its files */
};

static int
chown_to_user(const char *path, const char *user)
{
    struct passwd *pw;

    if (user == NULL)
        return 0;
    pw = getpwnam(user);
    return pw != NULL && chown(path, pw->pw_uid, pw->pw_gid) == 0 ? 0 : -1;
}

static int
group_setup(void **state)
{
    /* server name and its lines after archiver = on; all stream from the cluster */
    static const char *const servers[][2] = {
        {"pg", "immediate_checkpoint = true\n"},
        {"pggz", "immediate_checkpoint = true\nbackup_compression = gzip\n"},
        {"pglz4", "immediate_checkpoint = true\nbackup_compression = lz4\n"},
        {"pgzstd2", "immediate_checkpoint = true\nbackup_compression = zstd\nbackup_compression_level = 5\n"
                    "backup_compression_workers = 2\n"},
        {"pgsrv", "immediate_checkpoint = true\nbackup_compression = gzip\nbackup_compression_location = server\n"},
        {"pgnone", "immediate_checkpoint = true\nbackup_compression = none\n"},
        {"pgslow", "immediate_checkpoint = true\nbandwidth_limit = 1000\n"},
    };
    struct fixture *fx = br_calloc(1, sizeof(*fx));
    char *text, *incoming, *notdir, *section;
    struct strbuf sb;
    struct h_result r;

    *state = fx;
    if (!h_pg_available())
        return 0;
    h_fixture_dirs(&fx->tmp, &fx->home, &fx->conf, "barrel.conf");
    fx->tbs = br_asprintf("%s/tbs1", fx->tmp);
    incoming = h_incoming_dir(fx->home, "pg");
    r = h_sh("mkdir -p '%s'", fx->tbs);
    h_result_free(&r);
    fx->pg = h_pg_start_archiving(incoming, "max_wal_size = 256MB\n");
    free(incoming);
    if (fx->pg == NULL)
        return 0;
    chown_to_user(fx->tbs, fx->pg->os_user);
    notdir = br_asprintf("%s/a-file", fx->tmp);
    h_write_file(notdir, "not a directory\n");
    strbuf_init(&sb);
    for (size_t i = 0; i < BR_ARRAY_LEN(servers); i++) {
        section = h_conf_server(fx->pg, servers[i][0], servers[i][1]);
        strbuf_appendf(&sb, "%s\n", section);
        free(section);
    }
    strbuf_append(&sb, "[pgbad]\n"
                       "conninfo = host=127.0.0.1 port=1 user=postgres dbname=postgres connect_timeout=3\n"
                       "backup_method = postgres\narchiver = on\n"
                       "\n");
    section = h_conf_server(fx->pg, "pgid", NULL);
    strbuf_appendf(&sb, "%s\n", section);
    free(section);
    text = br_asprintf("backup_directory = %s/sub\n", notdir);
    section = h_conf_server(fx->pg, "pgnw", text);
    strbuf_append(&sb, section);
    free(section);
    free(text);
    h_write_conf(fx->conf, fx->home, NULL, "log_level = INFO\n", sb.buf);
    strbuf_free(&sb);
    free(notdir);

    /* a user tablespace with data in it, and data in the main directory */
    text = br_asprintf("CREATE TABLESPACE tbs1 LOCATION '%s'", fx->tbs);
    free(h_pg_sql(fx->pg, "postgres", text));
    free(text);
    free(h_pg_sql(fx->pg, "postgres",
                  "CREATE TABLE in_tbs (id int, v text) TABLESPACE tbs1; "
                  "INSERT INTO in_tbs SELECT g, md5(g::text) FROM generate_series(1, 20000) g; "
                  "CREATE TABLE in_main (id int, v text); "
                  "INSERT INTO in_main SELECT g, repeat(md5(g::text), 4) FROM generate_series(1, 50000) g; "
                  "CHECKPOINT"));
    return 0;
}

static int
group_teardown(void **state)
{
    struct fixture *fx = *state;

    h_fixture_drop(fx->pg, fx->tmp, fx->home, fx->conf);
    free(fx->tbs);
    free(fx->first_id);
    free(fx->first_sums);
    free(fx);
    return 0;
}

static struct fixture *
need_pg(void **state)
{
    struct fixture *fx = *state;

    h_skip_without_pg();
    assert_non_null(fx->pg);
    return fx;
}

/* barrel -c CONF ARGS... */
static struct h_result
barrel(const struct fixture *fx, const char *a1, const char *a2, const char *a3, const char *a4)
{
    const char *args[] = {a1, a2, a3, a4};

    return h_barrel_args(fx->conf, args, BR_ARRAY_LEN(args));
}

/* The IDs under <home>/<server>/base, sorted; returns how many (at most max). */
static size_t
backup_ids(const struct fixture *fx, const char *server, char ids[][BACKUP_ID_LEN + 1], size_t max)
{
    char *dir = br_asprintf("%s/%s/base", fx->home, server);
    DIR *d = opendir(dir);
    struct dirent *de;
    size_t n = 0;

    while (d != NULL && (de = readdir(d)) != NULL) {
        if (backup_id_is_valid(de->d_name) && n < max)
            snprintf(ids[n++], BACKUP_ID_LEN + 1, "%.15s", de->d_name);
    }
    if (d != NULL)
        closedir(d);
    free(dir);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(ids[j - 1], ids[j]) > 0; j--) {
            char t[BACKUP_ID_LEN + 1];
            memcpy(t, ids[j], sizeof(t));
            memcpy(ids[j], ids[j - 1], sizeof(t));
            memcpy(ids[j - 1], t, sizeof(t));
        }
    return n;
}

static struct backup_info *
read_info(const struct fixture *fx, const char *server, const char *id)
{
    char *path = br_asprintf("%s/%s/base/%s/backup.info", fx->home, server, id);
    struct br_error err;
    struct backup_info *bi = backup_info_read(path, id, &err);

    if (bi == NULL)
        fail_msg("cannot read %s: %s", path, err.msg);
    free(path);
    return bi;
}

/* The newest backup of a server (new string), failing when there is none. */
static char *
latest_id(const struct fixture *fx, const char *server)
{
    char ids[16][BACKUP_ID_LEN + 1];
    size_t n = backup_ids(fx, server, ids, 16);

    if (n == 0)
        fail_msg("no backup for server %s", server);
    return br_strdup(ids[n - 1]);
}

/* sha256 of every file of a backup directory, sorted by name. */
static char *
tree_sums(const struct fixture *fx, const char *server, const char *id)
{
    struct h_result r = h_sh("cd '%s/%s/base/%s' && find . -type f | LC_ALL=C sort | xargs sha256sum", fx->home,
                             server, id);
    char *out;

    assert_int_equal(r.status, 0);
    out = br_strdup(r.out);
    h_result_free(&r);
    return out;
}

/* A "key": "value" of the manifest (first occurrence), new string. */
static char *
manifest_value(const char *manifest, const char *key)
{
    char *pat = br_asprintf("\"%s\": \"", key);
    const char *p = strstr(manifest, pat), *end;
    char *v = NULL;

    if (p != NULL) {
        p += strlen(pat);
        end = strchr(p, '"');
        if (end != NULL)
            v = br_strndup(p, (size_t) (end - p));
    }
    free(pat);
    return v;
}

/*
 * Extract the archives of a backup with the standard tools (`decompress`
 * is the command reading stdin, "" for a plain tar), put the tablespace
 * where pg_tblspc points, and run pg_verifybackup against the stored manifest.
 */
static void
extract_and_verify(const struct fixture *fx, const char *server, const char *id, const char *ext,
                   const char *decompress)
{
    char *bdir = br_asprintf("%s/%s/base/%s", fx->home, server, id);
    char *x = br_asprintf("%s/extract-%s-%s", fx->tmp, server, id);
    struct h_result r;

    r = h_sh("set -e; mkdir -p '%s/data'; cd '%s/data'; "
             "for a in '%s/data/'*.tar%s; do "
             "  n=$(basename \"$a\" .tar%s); d='%s/data'; [ \"$n\" = base ] || d='%s/'\"$n\"; mkdir -p \"$d\"; "
             "  if [ -n '%s' ]; then %s < \"$a\" | tar -xf - -C \"$d\"; else tar -xf \"$a\" -C \"$d\"; fi; "
             "done; "
             "for l in '%s/data/pg_tblspc/'*; do [ -e \"$l\" ] || [ -L \"$l\" ] || continue; rm -f \"$l\"; done; "
             "while read oid loc; do ln -sfn '%s/'\"$oid\" '%s/data/pg_tblspc/'\"$oid\"; done < '%s/data/tablespace_map'",
             x, x, bdir, ext, ext, x, x, decompress, decompress, x, x, x, x);
    if (r.status != 0)
        fail_msg("extraction of %s failed: %s%s", bdir, r.out, r.err);
    h_result_free(&r);
    r = h_sh("%s -n -m '%s/data/backup_manifest' '%s/data' 2>&1", VERIFYBACKUP, bdir, x);
    if (r.status != 0)
        fail_msg("pg_verifybackup failed on %s: %s", bdir, r.out);
    assert_non_null(strstr(r.out, "backup successfully verified"));
    h_result_free(&r);
    h_rmtree(x);
    free(x);
    free(bdir);
}

/* The first backup: DONE, Barman's layout, LSNs that agree with the label and the manifest, pg_verifybackup. */
static void
test_backup_done_and_verified(void **state)
{
    struct fixture *fx = need_pg(state);
    struct h_result r;
    struct backup_info *bi;
    char *id, *path, *text, *label, *start_lsn, *end_lsn;
    struct stat st;

    r = barrel(fx, "backup", "--wait", "--wait-timeout=60", "pg");
    if (r.status != 0)
        fail_msg("backup failed (%d): %s%s", r.status, r.out, r.err);
    assert_non_null(strstr(r.out, "Starting backup using postgres method for server pg in "));
    assert_non_null(strstr(r.out, "This is the first backup for server pg"));
    assert_non_null(strstr(r.out, "Waiting for the WAL file "));
    assert_null(strstr(r.err, "WAITING_FOR_WALS"));
    h_result_free(&r);

    id = latest_id(fx, "pg");
    bi = read_info(fx, "pg", id);
    assert_int_equal(bi->status, BACKUP_STATUS_DONE);
    assert_string_equal(bi->mode, "postgres");
    assert_string_equal(bi->compression, "zstd");
    assert_null(bi->error);
    assert_int_equal(bi->timeline, 1);
    assert_int_equal(bi->version / 10000, 15);
    assert_int_equal(bi->xlog_segment_size, 16777216);
    assert_int_equal(bi->n_tablespaces, 1);
    assert_string_equal(bi->tablespaces[0].name, "tbs1");
    assert_true(bi->tablespaces[0].oid >= 16384);
    assert_string_equal(bi->tablespaces[0].location, fx->tbs);
    assert_true(bi->begin_time_set && bi->end_time_set);
    assert_true(bi->size > 0 && bi->deduplicated_size == bi->size);
    assert_true(bi->copy_time >= 0);
    assert_non_null(bi->pgdata);
    assert_non_null(bi->config_file);

    /* layout: data/base.tar.zst, data/<oid>.tar.zst, data/backup_manifest, empty <oid>/, identity.json */
    path = br_asprintf("%s/pg/base/%s/data/base.tar.zst", fx->home, id);
    assert_int_equal(stat(path, &st), 0);
    free(path);
    path = br_asprintf("%s/pg/base/%s/data/%u.tar.zst", fx->home, id, (unsigned) bi->tablespaces[0].oid);
    assert_int_equal(stat(path, &st), 0);
    free(path);
    path = br_asprintf("%s/pg/base/%s/data/backup_manifest", fx->home, id);
    assert_int_equal(stat(path, &st), 0);
    free(path);
    path = br_asprintf("%s/pg/base/%s/%u", fx->home, id, (unsigned) bi->tablespaces[0].oid);
    assert_true(stat(path, &st) == 0 && S_ISDIR(st.st_mode));
    free(path);
    path = br_asprintf("%s/pg/identity.json", fx->home);
    text = h_read_file(path);
    assert_non_null(text);
    assert_non_null(strstr(text, bi->systemid));
    free(text);
    free(path);

    /* begin_*: what the label inside base.tar says; the label itself is stored */
    r = h_sh("zstd -dc '%s/pg/base/%s/data/base.tar.zst' | tar -xOf - backup_label", fx->home, id);
    assert_int_equal(r.status, 0);
    label = br_strdup(r.out);
    h_result_free(&r);
    assert_string_equal(bi->backup_label, label);
    text = br_asprintf("START WAL LOCATION: %s (file %s)\n", bi->begin_xlog, bi->begin_wal);
    assert_non_null(strstr(label, text));
    free(text);
    text = br_asprintf("LABEL: Barman backup pg %s\n", id);
    assert_non_null(strstr(label, text));
    free(text);
    free(label);

    /* end_*: the manifest's WAL range, with the end_wal boundary rule */
    path = br_asprintf("%s/pg/base/%s/data/backup_manifest", fx->home, id);
    text = h_read_file(path);
    assert_non_null(text);
    start_lsn = manifest_value(text, "Start-LSN");
    end_lsn = manifest_value(text, "End-LSN");
    assert_non_null(start_lsn);
    assert_non_null(end_lsn);
    assert_string_equal(start_lsn, bi->begin_xlog);
    assert_string_equal(end_lsn, bi->end_xlog);
    {
        uint64_t lsn = 0;
        char expect[32];
        unsigned hi, lo;

        assert_int_equal(sscanf(bi->end_xlog, "%X/%X", &hi, &lo), 2);
        lsn = ((uint64_t) hi << 32) | lo;
        snprintf(expect, sizeof(expect), "%08X%08X%08X", 1u, (unsigned) ((lsn - 1) >> 32),
                 (unsigned) (((lsn - 1) & 0xffffffffu) >> 24));
        assert_string_equal(bi->end_wal, expect);
        assert_int_equal(bi->end_offset, (int64_t) (lsn & 0xffffff));
    }
    free(start_lsn);
    free(end_lsn);
    free(text);
    free(path);

    /* the WAL from begin to end is in wals/, with its xlog.db lines */
    path = br_asprintf("%s/pg/wals/%.16s/%s", fx->home, bi->end_wal, bi->end_wal);
    assert_int_equal(stat(path, &st), 0);
    free(path);

    extract_and_verify(fx, "pg", id, ".zst", "zstd -dc");

    /* check-backup: silent, status unchanged */
    r = barrel(fx, "check-backup", "pg", id, NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "");
    h_result_free(&r);

    fx->first_id = id;
    fx->first_sums = tree_sums(fx, "pg", id);
    backup_info_free(bi);
}

/* Every compression gives archives the standard tools read, and pg_verifybackup accepts. */
static void
test_backup_every_compression(void **state)
{
    static const struct {
        const char *server, *compression, *ext, *tool;
    } cases[] = {
        {"pggz", "gzip", ".gz", "gzip -dc"},
        {"pglz4", "lz4", ".lz4", "lz4 -dc"},
        {"pgzstd2", "zstd", ".zst", "zstd -dc"},
        {"pgsrv", "gzip", ".gz", "gzip -dc"},
        /* Barman 3.9's "none": a plain .tar, not barrel's zstd default */
        {"pgnone", "none", "", ""},
    };
    struct fixture *fx = need_pg(state);

    for (size_t i = 0; i < BR_ARRAY_LEN(cases); i++) {
        struct h_result r = barrel(fx, "-q", "backup", cases[i].server, NULL);
        struct backup_info *bi;
        char *id;

        if (r.status != 0)
            fail_msg("backup of %s failed (%d): %s%s", cases[i].server, r.status, r.out, r.err);
        /* its WAL goes to server pg's incoming/: it waits, as Barman's would */
        assert_non_null(strstr(r.err, "WAITING_FOR_WALS"));
        h_result_free(&r);
        id = latest_id(fx, cases[i].server);
        bi = read_info(fx, cases[i].server, id);
        assert_int_equal(bi->status, BACKUP_STATUS_WAITING_FOR_WALS);
        assert_string_equal(bi->compression, cases[i].compression);
        assert_non_null(bi->backup_label);
        extract_and_verify(fx, cases[i].server, id, cases[i].ext, cases[i].tool);
        /* the standard tool's own integrity test */
        if (cases[i].tool[0] == '\0') {
            r = h_sh("tar -tf '%s/%s/base/%s/data/base.tar' PG_VERSION", fx->home, cases[i].server, id);
            if (r.status != 0 || strcmp(r.out, "PG_VERSION\n") != 0)
                fail_msg("tar -t of the uncompressed base.tar failed: %s%s", r.out, r.err);
            h_result_free(&r);
        } else {
            r = h_sh("%.4s -t '%s/%s/base/%s/data/base.tar%s'", cases[i].tool, fx->home, cases[i].server, id,
                     cases[i].ext);
            if (r.status != 0)
                fail_msg("%s -t failed: %s%s", cases[i].tool, r.out, r.err);
            h_result_free(&r);
        }
        backup_info_free(bi);
        free(id);
    }
}

/* A second backup while one runs: refused with Barman's message, nothing created. */
static void
test_backup_lock_busy(void **state)
{
    struct fixture *fx = need_pg(state);
    struct br_error err;
    struct catalog_lock *lock = catalog_lock_acquire(fx->home, "pg", "backup", 0, &err);
    char before[16][BACKUP_ID_LEN + 1], after[16][BACKUP_ID_LEN + 1];
    size_t n_before = backup_ids(fx, "pg", before, 16);
    struct h_result r;

    assert_non_null(lock);
    r = barrel(fx, "backup", "pg", NULL, NULL);
    assert_int_not_equal(r.status, 0);
    assert_non_null(strstr(r.err, "ERROR: Another backup process is running"));
    h_result_free(&r);
    catalog_lock_release(lock);
    assert_int_equal(backup_ids(fx, "pg", after, 16), n_before);
}

/* Refusals before anything is written: one clear line naming the check, no catalog entry. */
static void
test_backup_refusals(void **state)
{
    static const struct {
        const char *server, *expect;
    } cases[] = {
        {"pgbad", "check 'PostgreSQL' failed: could not connect to server"},
        {"pgid", "check 'systemid coherence' failed: the server's system identifier is"},
        {"pgnw", "a-file/sub"},
    };
    struct fixture *fx = need_pg(state);
    char *path;
    struct h_result r;

    /* pgid's catalog belongs to another cluster */
    path = br_asprintf("%s/pgid", fx->home);
    r = h_sh("mkdir -p '%s' && printf '{\\n    \"systemid\": \"1234567890123456789\",\\n    \"version\": \"15\"\\n}\\n' "
             "> '%s/identity.json'", path, path);
    assert_int_equal(r.status, 0);
    h_result_free(&r);
    free(path);

    for (size_t i = 0; i < BR_ARRAY_LEN(cases); i++) {
        char ids[4][BACKUP_ID_LEN + 1];
        const char *nl;

        r = barrel(fx, "backup", cases[i].server, NULL, NULL);
        assert_int_not_equal(r.status, 0);
        if (strstr(r.err, cases[i].expect) == NULL)
            fail_msg("%s: expected \"%s\" in:\n%s", cases[i].server, cases[i].expect, r.err);
        /* one line for the error (a hint may follow on stdout) */
        nl = strchr(r.err, '\n');
        assert_true(nl != NULL && (nl[1] == '\0' || strncmp(nl + 1, "ERROR:", 6) != 0));
        h_result_free(&r);
        assert_int_equal(backup_ids(fx, cases[i].server, ids, 4), 0);
    }
}

/* Wait until the newest backup of `server` is being copied (STARTED with a .tmp archive). */
static char *
wait_copy_started(const struct fixture *fx, const char *server)
{
    for (int i = 0; i < 300; i++) {
        char ids[16][BACKUP_ID_LEN + 1];
        size_t n = backup_ids(fx, server, ids, 16);

        if (n > 0) {
            char *tmp = br_asprintf("%s/%s/base/%s/data/base.tar.zst.tmp", fx->home, server, ids[n - 1]);
            struct stat st;
            int ok = stat(tmp, &st) == 0 && st.st_size > 0;

            free(tmp);
            if (ok)
                return br_strdup(ids[n - 1]);
        }
        usleep(100 * 1000);
    }
    fail_msg("the backup of %s never started copying", server);
    return NULL;
}

/* Run `barrel backup SERVER` in the background; its output and status land in files under tmp. */
static void
start_background_backup(const struct fixture *fx, const char *server, const char *tag)
{
    /* the subshell records barrel's own pid, waits for it and records its status */
    struct h_result r = h_sh("( '%s' -c '%s' backup %s > '%s/%s.out' 2> '%s/%s.err' & echo $! > '%s/%s.pid'; "
                             "wait $!; echo $? > '%s/%s.rc' ) < /dev/null > /dev/null 2>&1 &",
                             h_barrel_bin(), fx->conf, server, fx->tmp, tag, fx->tmp, tag, fx->tmp, tag, fx->tmp, tag);
    assert_int_equal(r.status, 0);
    h_result_free(&r);
}

/* The exit status of the background backup (waits for it), and its stderr. */
static int
background_result(const struct fixture *fx, const char *tag, char **err_text)
{
    char *rc_path = br_asprintf("%s/%s.rc", fx->tmp, tag), *err_path = br_asprintf("%s/%s.err", fx->tmp, tag);
    char *text = NULL;
    int rc = -1;

    for (int i = 0; i < 600 && text == NULL; i++) {
        text = h_read_file(rc_path);
        if (text == NULL || strchr(text, '\n') == NULL) {
            free(text);
            text = NULL;
            usleep(100 * 1000);
        }
    }
    assert_non_null(text);
    rc = atoi(text);
    free(text);
    *err_text = h_read_file(err_path);
    free(rc_path);
    free(err_path);
    return rc;
}

static void
assert_failed_and_clean(const struct fixture *fx, const char *server, const char *id, const char *error_part)
{
    struct backup_info *bi = read_info(fx, server, id);
    char *data = br_asprintf("%s/%s/base/%s/data", fx->home, server, id);
    char *sums;

    assert_int_equal(bi->status, BACKUP_STATUS_FAILED);
    assert_non_null(bi->error);
    if (strstr(bi->error, error_part) == NULL)
        fail_msg("error \"%s\" does not mention \"%s\"", bi->error, error_part);
    {
        struct stat st;
        assert_int_not_equal(lstat(data, &st), 0);
    }
    backup_info_free(bi);
    free(data);
    /* the first backup is untouched */
    sums = tree_sums(fx, "pg", fx->first_id);
    assert_string_equal(sums, fx->first_sums);
    free(sums);
}

/* The walsender dies in the middle of the copy: FAILED, partial archives gone, the first backup intact. */
static void
test_backup_walsender_killed(void **state)
{
    struct fixture *fx = need_pg(state);
    char *id, *err_text, *out;
    int rc;

    assert_non_null(fx->first_id);
    start_background_backup(fx, "pgslow", "killed");
    id = wait_copy_started(fx, "pgslow");
    out = h_pg_sql(fx->pg, "postgres",
                   "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_replication "
                   "WHERE application_name = 'barman_streaming_backup'");
    assert_non_null(out);
    assert_string_equal(out, "1");
    free(out);
    rc = background_result(fx, "killed", &err_text);
    assert_int_not_equal(rc, 0);
    assert_non_null(err_text);
    assert_non_null(strstr(err_text, "failed copying files: "));
    /* one line */
    assert_non_null(strchr(err_text, '\n'));
    assert_string_equal(strchr(err_text, '\n'), "\n");
    free(err_text);
    assert_failed_and_clean(fx, "pgslow", id, "failure copying files (");
    free(id);
}

/* SIGTERM during the copy: FAILED with the signal named, partial archives gone. */
static void
test_backup_sigterm(void **state)
{
    struct fixture *fx = need_pg(state);
    char *id, *err_text, *pid_path, *pid_text;
    int rc;

    assert_non_null(fx->first_id);
    start_background_backup(fx, "pgslow", "term");
    id = wait_copy_started(fx, "pgslow");
    pid_path = br_asprintf("%s/term.pid", fx->tmp);
    pid_text = h_read_file(pid_path);
    assert_non_null(pid_text);
    assert_true(atoi(pid_text) > 1);
    assert_int_equal(kill((pid_t) atoi(pid_text), SIGTERM), 0);
    rc = background_result(fx, "term", &err_text);
    assert_int_not_equal(rc, 0);
    assert_non_null(strstr(err_text, "interrupted"));
    free(err_text);
    assert_failed_and_clean(fx, "pgslow", id, "interrupted");
    free(pid_text);
    free(pid_path);
    free(id);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backup_done_and_verified),
        cmocka_unit_test(test_backup_every_compression),
        cmocka_unit_test(test_backup_lock_busy),
        cmocka_unit_test(test_backup_refusals),
        cmocka_unit_test(test_backup_walsender_killed),
        cmocka_unit_test(test_backup_sigterm),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
