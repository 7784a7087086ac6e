/*
 * test_retention.c: keep, delete, retention and cron's retention step.
 *
 * Part 1, Barman 3.4 compatibility, on a copy of the fixture catalog of
 * server pg (no PostgreSQL needed). The fixture catalog is the final state
 * (20261122T133101, 20261122T133134 and the FAILED 20261122T133331); the
 * two pg backups Barman deleted during the run are rebuilt from what Barman
 * printed about them: 20261122T133000 from show-backup-obsolete.txt
 * (begin/end WAL 000000010000000000000008, begin/end times) and
 * 20261122T133024 from list-backups-3-backups-one-obsolete.json (end time)
 * and cron-retention.txt (its WAL starts at 00000001000000000000000D, the
 * first one Barman removed with it). Their WAL, 08 to 16, is rebuilt as
 * small files with xlog.db lines before the fixture's own lines (17 on).
 * The states, in the order make-fixtures.sh went through them:
 *
 *   A. after pg #3: 133000, 133024, 133101 (list-backups-3-backups-one-obsolete.*,
 *      show-backup-obsolete.txt); then `delete pg 133000` (delete.txt);
 *   B. after pg #4 "fixture latest": 133024, 133101, 133134
 *      (list-backups-before-cron-retention.txt); then `cron` (cron-retention.txt)
 *      and list-backups-after-cron-retention.txt;
 *   C. keeps and the FAILED backup: keep-*.txt/json, delete-kept-backup.txt,
 *      err-keep-bad-target.txt.
 *
 * Verdicts are compared per backup (the label list-backups/show-backup
 * print); command output is compared line for line, with the start time
 * and elapsed time of "Deleted backup" masked and barman -> barrel in
 * argparse messages.
 *
 * Part 2, a real PostgreSQL 15 cluster archiving into incoming/ with
 * archive_command: four `barrel backup --wait` with rows and WAL switches
 * between them, REDUNDANCY 2. After `barrel cron`: the two oldest backups
 * are gone, xlog.db and wals/ hold exactly the WAL from the oldest remaining
 * backup's begin_wal on (the history-free archive had everything from the
 * first backup's begin_wal), every file matches a line and every line a
 * file; `barrel recover` of the oldest remaining backup replays to the end
 * and PostgreSQL shows every row. Then the refusals with exact messages, and
 * `delete --dry-run` and `retention --dry-run` leave the catalog tree byte for
 * byte as it was (sha256 of every file and the list of names).
 */
#include "barrel/build.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "barrel/mem.h"
#include "barrel/strbuf.h"
#include "catalog_setup.h"
#include "harness.h"
#include "rserver.h"

#define B_OLDEST "20261122T133000"
#define B_SECOND "20261122T133024"
#define B_THIRD "20261122T133101"
#define B_LATEST "20261122T133134"
#define B_FAILED "20261122T133331"

struct fixture {
    char *tmp;
    char *home;
    char *conf;
    /* part 2 */
    struct h_pg *pg;
    char *pconf;
    char *phome;
    char *ids[4];
    char *begin_wal[4];
    int rows;
};

/* ---- small helpers ---- */

static void
mkdir_p(const char *path)
{
    struct h_result r = h_sh("mkdir -p '%s'", path);

    assert_int_equal(r.status, 0);
    h_result_free(&r);
}

#define BARREL(conf, ...) H_BARREL((conf), __VA_ARGS__)

/* The transcript without its "$ barman ..." line; NULL if missing. */
static char *
transcript(const char *name)
{
    char *path = br_asprintf("%s/cli/%s", h_fixtures_dir(), name);
    char *text = h_read_file(path);
    char *nl;
    char *body = NULL;

    if (text != NULL && (nl = strchr(text, '\n')) != NULL)
        body = br_strdup(nl + 1);
    free(text);
    free(path);
    assert_non_null(body);
    return body;
}

/* Replace every "(start time: ..., elapsed time: ...)" by "(TIMES)". */
static void
mask_times(char *text)
{
    char *p;

    while ((p = strstr(text, "(start time: ")) != NULL) {
        char *end = strchr(p, ')');

        assert_non_null(end);
        memmove(p + 7, end + 1, strlen(end + 1) + 1);
        memcpy(p, "(TIMES)", 7);
    }
}

/* Label of each "pg <ID> ..." line of list-backups text: "OBSOLETE", "KEEP:FULL", ... or "-". */
static char *
labels_of(const char *text)
{
    struct strbuf sb;
    const char *line = text;

    strbuf_init(&sb);
    while (*line != '\0') {
        size_t len = strcspn(line, "\n");
        char *one = br_strndup(line, len);
        const char *labels[] = {"OBSOLETE*", "OBSOLETE", "KEEP:FULL", "KEEP:STANDALONE", "VALID"};
        const char *found = "-";

        if (strncmp(one, "pg ", 3) == 0) {
            for (size_t i = 0; i < BR_ARRAY_LEN(labels); i++) {
                char *suffix = br_asprintf(" - %s", labels[i]);
                size_t sl = strlen(suffix);

                if (len >= sl && strcmp(one + len - sl, suffix) == 0) {
                    found = labels[i];
                    free(suffix);
                    break;
                }
                free(suffix);
            }
            strbuf_appendf(&sb, "%.15s %s\n", one + 3, found);
        }
        free(one);
        line += len;
        if (*line == '\n')
            line++;
    }
    return strbuf_detach(&sb);
}

/* "ID label" per backup from the JSON form ("retention_status"), same shape as labels_of(). */
static char *
json_labels_of(const char *json)
{
    struct strbuf sb;
    const char *p = json;

    strbuf_init(&sb);
    while ((p = strstr(p, "\"backup_id\": \"")) != NULL) {
        const char *id = p + strlen("\"backup_id\": \"");
        const char *rs = strstr(id, "\"retention_status\": \"");
        size_t rl;

        assert_non_null(rs);
        rs += strlen("\"retention_status\": \"");
        rl = strcspn(rs, "\"");
        strbuf_appendf(&sb, "%.15s %.*s\n", id, (int) rl, rs);
        p = rs;
    }
    return strbuf_detach(&sb);
}

static void
write_text(const char *path, const char *text)
{
    h_write_file(path, text);
}

/* ---- part 1: the fixture catalog ---- */

static void
write_synthetic_info(struct fixture *fx, const char *id, const char *begin_wal, const char *begin_time,
                     const char *end_time, const char *copy_stats)
{
    char *dir = br_asprintf("%s/pg/base/%s", fx->home, id);
    char *path = br_asprintf("%s/backup.info", dir);
    char *text;

    mkdir_p(dir);
    /* the keys Barman 3.4 writes for a postgres-method plain backup; values from its transcripts */
    text = br_asprintf("backup_label='START WAL LOCATION: 0/%s000028 (file %s)\\nBACKUP METHOD: streamed\\n'\n"
                       "begin_offset=40\nbegin_time=%s\nbegin_wal=%s\nbegin_xlog=0/%s000028\n"
                       "compression=None\nconfig_file=/tmp/bfx/pgdata/postgresql.conf\ncopy_stats=%s\n"
                       "deduplicated_size=46959778\nend_offset=0\nend_time=%s\nend_wal=%s\nend_xlog=0/%s000000\n"
                       "error=None\nhba_file=/tmp/bfx/pgdata/pg_hba.conf\nident_file=/tmp/bfx/pgdata/pg_ident.conf\n"
                       "included_files=None\nmode=postgres\npgdata=/tmp/bfx/pgdata\nserver_name=pg\n"
                       "size=46959778\nstatus=DONE\nsystemid=7710987126708478174\n"
                       "tablespaces=[('ts1', 16409, '/tmp/bfx/ts1')]\ntimeline=1\nversion=150018\n"
                       "xlog_segment_size=16777216\n",
                       begin_wal + 22, begin_wal, begin_time, begin_wal, begin_wal + 22, copy_stats, end_time,
                       begin_wal, begin_wal + 22);
    write_text(path, text);
    free(text);
    free(path);
    free(dir);
}

/* WAL 08..16 (rebuilt) then the fixture's xlog.db lines; each line gets a small file. */
static void
write_wal(struct fixture *fx)
{
    char *wals = br_asprintf("%s/pg/wals", fx->home);
    char *hash = br_asprintf("%s/0000000100000000", wals);
    char *xlogdb_path = br_asprintf("%s/xlog.db", wals);
    char *fixture_db = br_asprintf("%s/catalog/pg/xlog.db", h_fixtures_dir());
    char *orig = h_read_file(fixture_db);
    struct strbuf db;
    const char *line;

    assert_non_null(orig);
    mkdir_p(hash);
    strbuf_init(&db);
    for (unsigned seg = 0x08; seg <= 0x16; seg++)
        strbuf_appendf(&db, "0000000100000000000000%02X\t16400\t%u.5\tgzip\n", seg, 1795354200u + seg);
    strbuf_append(&db, orig);
    write_text(xlogdb_path, db.buf);
    for (line = db.buf; *line != '\0';) {
        size_t len = strcspn(line, "\t\n");
        char *name = br_strndup(line, len);
        char *file = br_asprintf("%s/%s", hash, name);

        write_text(file, "wal\n");
        free(file);
        free(name);
        line += strcspn(line, "\n");
        if (*line == '\n')
            line++;
    }
    strbuf_free(&db);
    free(orig);
    free(fixture_db);
    free(xlogdb_path);
    free(hash);
    free(wals);
}

static int
group_setup(void **state)
{
    struct fixture *fx = br_calloc(1, sizeof(*fx));
    char *user = h_current_user();
    char *text;
    struct h_result r;

    *state = fx;
    fx->tmp = h_mkdtemp();
    fx->home = br_asprintf("%s/barman_home", fx->tmp);
    fx->conf = br_asprintf("%s/barman.conf", fx->tmp);
    mkdir_p(fx->home);
    /* the fixture's three backups as they are, without their annotations (state A has none) */
    r = h_sh("mkdir -p '%s/pg/base' && cp -a '%s/catalog/pg/base/%s' '%s/catalog/pg/base/%s' '%s/pg/base/' && "
             "chmod -R u+w '%s' && rm -rf '%s/pg/base/%s/annotations'",
             fx->home, h_fixtures_dir(), B_THIRD, h_fixtures_dir(), B_LATEST, fx->home, fx->home, fx->home,
             B_LATEST);
    assert_int_equal(r.status, 0);
    h_result_free(&r);
    write_synthetic_info(fx, B_OLDEST, "000000010000000000000008", "2026-11-22 13:30:00.487221+00:00",
                         "2026-11-22 13:30:05.544027+00:00", "{'copy_time': 5.056806, 'total_time': 5.056806}");
    write_synthetic_info(fx, B_SECOND, "00000001000000000000000D", "2026-11-22 13:30:24.100000+00:00",
                         "2026-11-22 13:30:25.200000+00:00", "{'copy_time': 1.1, 'total_time': 1.1}");
    write_wal(fx);
    text = br_asprintf("[barman]\nbarman_home = %s\nbarman_user = %s\nlog_file = %s/barman.log\n"
                       "minimum_redundancy = 0\n\n"
                       "[pg]\nconninfo = host=127.0.0.1 port=1 user=barman dbname=postgres\n"
                       "backup_method = postgres\narchiver = on\ncompression = gzip\n"
                       "retention_policy = REDUNDANCY 2\n",
                       fx->home, user, fx->tmp);
    write_text(fx->conf, text);
    free(text);
    free(user);
    return 0;
}

/* Move a backup directory out of base/ (or back), to recreate a state. */
static void
park(struct fixture *fx, const char *id, int out)
{
    char *in_base = br_asprintf("%s/pg/base/%s", fx->home, id);
    char *parked = br_asprintf("%s/parked-%s", fx->tmp, id);
    struct stat st;

    if (out && stat(in_base, &st) == 0)
        assert_int_equal(rename(in_base, parked), 0);
    if (!out && stat(parked, &st) == 0)
        assert_int_equal(rename(parked, in_base), 0);
    free(parked);
    free(in_base);
}

static void
test_retention_compat_state_a(void **state)
{
    struct fixture *fx = *state;
    struct h_result r;
    char *want, *got, *json_want, *json_got, *body;

    /* A: after pg #3, before the manual delete; 133134 and the FAILED one do not exist yet */
    park(fx, B_LATEST, 1);
    r = BARREL(fx->conf, "list-backups", "pg");
    assert_int_equal(r.status, 0);
    body = transcript("list-backups-3-backups-one-obsolete.txt");
    want = labels_of(body);
    got = labels_of(r.out);
    assert_string_equal(got, want);
    assert_non_null(strstr(want, B_OLDEST " OBSOLETE"));
    free(body);
    free(want);
    free(got);
    h_result_free(&r);

    r = BARREL(fx->conf, "-f", "json", "list-backups", "pg");
    assert_int_equal(r.status, 0);
    body = transcript("list-backups-3-backups-one-obsolete.json");
    json_want = json_labels_of(body);
    json_got = json_labels_of(r.out);
    assert_string_equal(json_got, json_want);
    free(body);
    free(json_want);
    free(json_got);
    h_result_free(&r);

    /* show-backup-obsolete.txt: the label line */
    r = BARREL(fx->conf, "show-backup", "pg", B_OLDEST);
    assert_int_equal(r.status, 0);
    body = transcript("show-backup-obsolete.txt");
    assert_non_null(strstr(body, "    Retention Policy     : OBSOLETE\n"));
    assert_non_null(strstr(r.out, "    Retention Policy     : OBSOLETE\n"));
    free(body);
    h_result_free(&r);
}

static void
test_retention_compat_delete(void **state)
{
    struct fixture *fx = *state;
    struct h_result r;
    char *want;
    char *gone = br_asprintf("%s/pg/wals/0000000100000000/00000001000000000000000C", fx->home);
    char *kept = br_asprintf("%s/pg/wals/0000000100000000/00000001000000000000000D", fx->home);
    struct stat st;

    /* delete.txt, in state A: the oldest backup and its WAL 08..0C */
    r = BARREL(fx->conf, "delete", "pg", B_OLDEST);
    assert_int_equal(r.status, 0);
    want = transcript("delete.txt");
    mask_times(want);
    mask_times(r.out);
    assert_string_equal(r.out, want);
    assert_int_not_equal(stat(gone, &st), 0);
    assert_int_equal(stat(kept, &st), 0);
    free(want);
    h_result_free(&r);

    /* delete-again-unknown-id.txt */
    r = BARREL(fx->conf, "delete", "pg", B_OLDEST);
    assert_int_equal(r.status, 1);
    want = transcript("delete-again-unknown-id.txt");
    assert_non_null(strstr(r.err, want));
    free(want);
    h_result_free(&r);
    free(gone);
    free(kept);
}

static void
test_retention_compat_cron(void **state)
{
    struct fixture *fx = *state;
    struct h_result r;
    char *want, *got, *body, *block_end;
    char *xlogdb = br_asprintf("%s/pg/wals/xlog.db", fx->home);
    char *db;

    /* B: pg #4 "fixture latest" exists (DONE, no keep yet) */
    park(fx, B_LATEST, 0);
    r = BARREL(fx->conf, "list-backups", "pg");
    body = transcript("list-backups-before-cron-retention.txt");
    want = labels_of(body);
    got = labels_of(r.out);
    assert_string_equal(got, want);
    free(body);
    free(want);
    free(got);
    h_result_free(&r);

    /* cron-retention.txt: the pg block (the other servers of the fixture are not configured here) */
    r = BARREL(fx->conf, "cron");
    assert_int_equal(r.status, 0);
    body = transcript("cron-retention.txt");
    block_end = strstr(body, "Starting WAL archiving for server pglz4");
    assert_non_null(block_end);
    *block_end = '\0';
    mask_times(body);
    mask_times(r.out);
    assert_string_equal(r.out, body);
    free(body);
    h_result_free(&r);

    r = BARREL(fx->conf, "list-backups", "pg");
    body = transcript("list-backups-after-cron-retention.txt");
    want = labels_of(body);
    got = labels_of(r.out);
    assert_string_equal(got, want);
    free(body);
    free(want);
    free(got);
    h_result_free(&r);

    /* xlog.db now starts at 133101's begin_wal, the fixture's first line */
    db = h_read_file(xlogdb);
    assert_non_null(db);
    assert_int_equal(strncmp(db, "000000010000000000000017\t", 25), 0);
    free(db);
    free(xlogdb);
}

static void
test_retention_compat_keep(void **state)
{
    struct fixture *fx = *state;
    struct h_result r;
    char *want, *keep_file, *content;

    park(fx, B_FAILED, 0);
    {
        struct h_result c = h_sh("cp -a '%s/catalog/pg/base/%s' '%s/pg/base/' && chmod -R u+w '%s/pg/base/%s'",
                                 h_fixtures_dir(), B_FAILED, fx->home, fx->home, B_FAILED);
        assert_int_equal(c.status, 0);
        h_result_free(&c);
    }
    /* keep-full.txt, keep-status-full.txt/.json */
    r = BARREL(fx->conf, "keep", "--target", "full", "pg", B_THIRD);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "");
    h_result_free(&r);
    keep_file = br_asprintf("%s/pg/base/%s/annotations/keep", fx->home, B_THIRD);
    content = h_read_file(keep_file);
    assert_non_null(content);
    assert_string_equal(content, "full");   /* Barman's annotation: no newline */
    free(content);
    r = BARREL(fx->conf, "keep", "--status", "pg", B_THIRD);
    want = transcript("keep-status-full.txt");
    assert_string_equal(r.out, want);
    free(want);
    h_result_free(&r);
    r = BARREL(fx->conf, "-f", "json", "keep", "--status", "pg", B_THIRD);
    want = transcript("keep-status-full.json");
    assert_string_equal(r.out, want);
    free(want);
    h_result_free(&r);
    r = BARREL(fx->conf, "-f", "json", "keep", "--status", "pg", B_LATEST);
    want = transcript("keep-status-none.json");
    assert_string_equal(r.out, want);
    free(want);
    h_result_free(&r);

    /* keep-standalone.txt, list-backups-with-keep.txt (verdicts), delete-kept-backup.txt (exact stderr) */
    r = BARREL(fx->conf, "keep", "--target", "standalone", "pg", B_LATEST);
    assert_int_equal(r.status, 0);
    h_result_free(&r);
    r = BARREL(fx->conf, "list-backups", "pg");
    {
        char *body = transcript("list-backups-with-keep.txt");
        char *w = labels_of(body), *g = labels_of(r.out);

        assert_string_equal(g, w);
        free(w);
        free(g);
        free(body);
    }
    h_result_free(&r);
    r = BARREL(fx->conf, "delete", "pg", B_LATEST);
    assert_int_equal(r.status, 1);
    want = transcript("delete-kept-backup.txt");
    if (strstr(r.err, want) == NULL)
        fail_msg("delete of a kept backup:\n%s\nexpected:\n%s", r.err, want);
    free(want);
    h_result_free(&r);

    /* a FAILED backup cannot be kept; a bad target is argparse's error */
    r = BARREL(fx->conf, "keep", "--target", "full", "pg", B_FAILED);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "ERROR: Cannot add keep to backup " B_FAILED
                                  " because it has status FAILED. Only backups with status DONE can be kept.\n"));
    h_result_free(&r);
    r = BARREL(fx->conf, "keep", "--target", "sometimes", "pg", B_THIRD);
    assert_int_equal(r.status, 2);
    want = transcript("err-keep-bad-target.txt");
    {
        /* argparse names the program */
        char *p;
        while ((p = strstr(want, "barman")) != NULL)
            memcpy(p, "barrel", 6);
    }
    assert_non_null(strstr(r.err, want));
    free(want);
    h_result_free(&r);
    r = BARREL(fx->conf, "keep", "pg", B_THIRD);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "ERROR: one of the arguments -r/--release -s/--status --target is required\n"));
    h_result_free(&r);

    /* keep-release.txt, keep-status-after-release.txt: the annotation directory goes too */
    r = BARREL(fx->conf, "keep", "--release", "pg", B_THIRD);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "");
    h_result_free(&r);
    r = BARREL(fx->conf, "keep", "--status", "pg", B_THIRD);
    want = transcript("keep-status-after-release.txt");
    assert_string_equal(r.out, want);
    free(want);
    h_result_free(&r);
    assert_null(h_read_file(keep_file));
    free(keep_file);
}

static int
group_teardown(void **state)
{
    struct fixture *fx = *state;

    if (fx->pg != NULL)
        h_pg_destroy(fx->pg);
    if (fx->tmp != NULL)
        h_rmtree(fx->tmp);
    for (int i = 0; i < 4; i++) {
        free(fx->ids[i]);
        free(fx->begin_wal[i]);
    }
    free(fx->tmp);
    free(fx->home);
    free(fx->conf);
    free(fx->pconf);
    free(fx->phome);
    free(fx);
    return 0;
}

/* ---- part 2: a real cluster ---- */

static char *
psql(struct fixture *fx, const char *query)
{
    char *out = h_pg_sql(fx->pg, "postgres", query);

    if (out == NULL)
        fail_msg("psql failed: %s", query);
    return out;
}

/* A row, then a WAL switch, then wait until archive_command has put the closed segment into incoming/. */
static void
activity(struct fixture *fx)
{
    char *q = br_asprintf("INSERT INTO marks VALUES (%d, repeat('x', 1000))", ++fx->rows);
    char *closed;

    free(psql(fx, q));
    free(q);
    closed = psql(fx, "SELECT pg_walfile_name(pg_switch_wal())");
    (void) h_pg_wait_archived(fx->pg, closed, 50);
    free(closed);
}

static char *
info_value(const char *text, const char *key)
{
    char *needle = br_asprintf("\n%s=", key);
    const char *p = strstr(text, needle);
    char *v = NULL;

    if (p == NULL && strncmp(text, needle + 1, strlen(needle) - 1) == 0)
        p = text - 1;
    if (p != NULL) {
        p += strlen(needle);
        v = br_strndup(p, strcspn(p, "\n"));
    }
    free(needle);
    return v;
}

static int
pg_setup(struct fixture *fx)
{
    char *incoming, *pg, *global;

    fx->phome = br_asprintf("%s/phome", fx->tmp);
    fx->pconf = br_asprintf("%s/pg.conf", fx->tmp);
    incoming = h_incoming_dir(fx->phome, "pg");
    fx->pg = h_pg_start_archiving(incoming, NULL);
    free(incoming);
    if (fx->pg == NULL)
        return -1;
    global = br_asprintf("log_file = %s/pg-barrel.log\n", fx->tmp);
    pg = h_conf_server(fx->pg, "pg", "immediate_checkpoint = true\nretention_policy = REDUNDANCY 2\nminimum_redundancy = 1\n");
    h_write_conf(fx->pconf, fx->phome, NULL, global, pg);
    free(pg);
    free(global);
    free(psql(fx, "CREATE TABLE marks (id int, pad text)"));
    return 0;
}

/* One listing "name\n" per xlog.db line, and one of the files under wals/ (history at the top, segments in hash dirs). */
static char *
xlogdb_names(struct fixture *fx)
{
    struct h_result r = h_sh("cut -f1 '%s/pg/wals/xlog.db' | sort", fx->phome);
    char *out = r.out;

    r.out = NULL;
    h_result_free(&r);
    return out;
}

static char *
wal_files(struct fixture *fx)
{
    struct h_result r = h_sh("cd '%s/pg/wals' && find . -type f ! -name xlog.db ! -name '*.lock' -printf '%%f\\n' | sort",
                             fx->phome);
    char *out = r.out;

    r.out = NULL;
    h_result_free(&r);
    return out;
}

/* The lines of `names` whose name is >= floor (or a .history file). */
static char *
names_from(const char *names, const char *floor)
{
    struct strbuf sb;
    const char *line = names;

    strbuf_init(&sb);
    while (*line != '\0') {
        size_t len = strcspn(line, "\n");
        char *one = br_strndup(line, len);

        if (strcmp(one, floor) >= 0 || strstr(one, ".history") != NULL)
            strbuf_appendf(&sb, "%s\n", one);
        free(one);
        line += len;
        if (*line == '\n')
            line++;
    }
    return strbuf_detach(&sb);
}

static char *
tree_hash(struct fixture *fx)
{
    /* every name (dirs included) and every file's content; lock files excluded (flock targets, no content) */
    struct h_result r = h_sh("cd '%s' && (find . ! -name '*.lock' | sort; find . -type f ! -name '*.lock' | sort | "
                             "xargs -d '\\n' sha256sum) | sha256sum",
                             fx->phome);
    char *out = r.out;

    assert_int_equal(r.status, 0);
    r.out = NULL;
    h_result_free(&r);
    return out;
}

static void
test_retention_cluster_cron(void **state)
{
    struct fixture *fx = *state;
    struct h_result r;
    char *before, *after, *files, *expected, *text, *dest;

    h_skip_without_pg();
    assert_int_equal(pg_setup(fx), 0);

    /* four backups with WAL between them */
    for (int i = 0; i < 4; i++) {
        char *path;
        char *info;

        activity(fx);
        if (i == 0) {
            /* WAL archived before the first backup: the first backup purges it (spec 4.8) */
            activity(fx);
            r = BARREL(fx->pconf, "archive-wal", "pg");
            assert_int_equal(r.status, 0);
            h_result_free(&r);
        }
        r = BARREL(fx->pconf, "backup", "--wait", "pg");
        if (r.status != 0)
            fail_msg("backup %d failed: %s%s", i + 1, r.out, r.err);
        if (i == 0 && (strstr(r.out, "This is the first backup for server pg\n"
                                     "WAL segments preceding the current backup have been found:\n\t") == NULL
                       || strstr(r.out, " from server pg has been removed\n") == NULL))
            fail_msg("first backup: no WAL purge in:\n%s", r.out);
        h_result_free(&r);
        r = h_sh("ls '%s/pg/base' | sort | tail -1", fx->phome);
        fx->ids[i] = br_strndup(r.out, strcspn(r.out, "\n"));
        h_result_free(&r);
        path = br_asprintf("%s/pg/base/%s/backup.info", fx->phome, fx->ids[i]);
        info = h_read_file(path);
        assert_non_null(info);
        fx->begin_wal[i] = info_value(info, "begin_wal");
        assert_non_null(fx->begin_wal[i]);
        assert_non_null(strstr(info, "\nstatus=DONE\n"));
        free(info);
        free(path);
        if (i > 0)
            assert_string_not_equal(fx->ids[i], fx->ids[i - 1]);
        /* backup ids have a one-second resolution */
        sleep(1);
    }
    /* rows after the last backup, archived: recovery must reach them */
    activity(fx);
    activity(fx);
    r = BARREL(fx->pconf, "switch-wal", "--archive", "pg");
    h_result_free(&r);
    r = BARREL(fx->pconf, "archive-wal", "pg");
    assert_int_equal(r.status, 0);
    h_result_free(&r);

    before = xlogdb_names(fx);
    /* the first backup purged what came before it: the archive starts at its begin_wal */
    assert_int_equal(strncmp(before, fx->begin_wal[0], 24), 0);

    /* retention --dry-run says what cron will do, and changes nothing */
    text = tree_hash(fx);
    r = BARREL(fx->pconf, "retention", "--dry-run", "pg");
    assert_int_equal(r.status, 0);
    {
        char *l1 = br_asprintf("Dry run: would remove backup %s for server pg", fx->ids[0]);
        char *l2 = br_asprintf("Dry run: would remove backup %s for server pg", fx->ids[1]);

        assert_non_null(strstr(r.out, l1));
        assert_non_null(strstr(r.out, l2));
        free(l1);
        free(l2);
    }
    h_result_free(&r);
    r = BARREL(fx->pconf, "delete", "--dry-run", "pg", fx->ids[0]);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "Dry run: would delete associated WAL segments:"));
    h_result_free(&r);
    after = tree_hash(fx);
    assert_string_equal(after, text);
    free(after);
    free(text);

    /* cron: the two oldest go, each with the WAL before the next one */
    r = BARREL(fx->pconf, "cron");
    assert_int_equal(r.status, 0);
    for (int i = 0; i < 2; i++) {
        char *line = br_asprintf("Enforcing retention policy: removing backup %s for server pg\n"
                                 "Deleting backup %s for server pg\nDelete associated WAL segments:\n",
                                 fx->ids[i], fx->ids[i]);
        if (strstr(r.out, line) == NULL)
            fail_msg("cron output lacks:\n%s\n--- got ---\n%s%s", line, r.out, r.err);
        free(line);
    }
    h_result_free(&r);
    r = h_sh("ls '%s/pg/base'", fx->phome);
    text = br_asprintf("%s\n%s\n", fx->ids[2], fx->ids[3]);
    assert_string_equal(r.out, text);
    free(text);
    h_result_free(&r);

    /* exactly the WAL before the oldest remaining backup's begin_wal went; lines and files agree */
    after = xlogdb_names(fx);
    expected = names_from(before, fx->begin_wal[2]);
    assert_string_equal(after, expected);
    files = wal_files(fx);
    assert_string_equal(files, after);
    free(files);
    free(expected);
    free(after);
    free(before);

    /* recovery of the oldest remaining backup to its latest point */
    dest = br_asprintf("%s/restored", fx->tmp);
    r = BARREL(fx->pconf, "recover", "pg", fx->ids[2], dest);
    if (r.status != 0)
        fail_msg("recover failed: %s%s", r.out, r.err);
    h_result_free(&r);
    {
        struct h_rserver *rs = h_rserver_start(dest, fx->pg->os_user, NULL);
        char *count, *out;

        if (rs == NULL)
            fail_msg("recovered cluster did not start");
        /* recovery ends (promotion) after replaying every archived WAL file */
        h_rserver_wait_for(rs, "SELECT pg_is_in_recovery()", "f", 300);
        out = h_rserver_sql(rs, "postgres", "SELECT count(*), max(id) FROM marks");
        count = br_asprintf("%d|%d", fx->rows, fx->rows);
        if (out == NULL || strcmp(out, count) != 0)
            fail_msg("recovered rows: %s, expected %s", out ? out : "(query failed)", count);
        free(out);
        free(count);
        h_rserver_stop(rs);
    }
    free(dest);
}

static void
test_retention_cluster_refusals(void **state)
{
    struct fixture *fx = *state;
    struct h_result r;
    char *want, *hash_before, *hash_after;

    if (fx->pg == NULL)
        skip();
    hash_before = tree_hash(fx);
    /* minimum_redundancy = 1 and REDUNDANCY 2: deleting one of two is fine, the last one is not */
    r = BARREL(fx->pconf, "keep", "--target", "full", "pg", fx->ids[2]);
    assert_int_equal(r.status, 0);
    h_result_free(&r);
    r = BARREL(fx->pconf, "delete", "pg", fx->ids[2]);
    assert_int_equal(r.status, 1);
    want = br_asprintf("WARNING: Skipping delete of backup %s for server pg as it has a current keep request. If you "
                       "really want to delete this backup please remove the keep and try again.\n"
                       "ERROR: Cannot delete backup (pg LocalBackupInfo(", fx->ids[2]);
    if (strstr(r.err, want) == NULL)
        fail_msg("got:\n%s", r.err);
    free(want);
    h_result_free(&r);
    r = BARREL(fx->pconf, "keep", "--release", "pg", fx->ids[2]);
    h_result_free(&r);
    hash_after = tree_hash(fx);
    assert_string_equal(hash_after, hash_before);
    free(hash_after);

    r = BARREL(fx->pconf, "delete", "pg", fx->ids[2]);
    assert_int_equal(r.status, 0);
    /* ids[2] had no predecessor: its WAL up to ids[3]'s begin_wal went */
    assert_non_null(strstr(r.out, "Delete associated WAL segments:\n"));
    h_result_free(&r);
    r = BARREL(fx->pconf, "delete", "pg", fx->ids[3]);
    assert_int_equal(r.status, 1);
    want = br_asprintf("WARNING: Skipping delete of backup %s for server pg due to minimum redundancy requirements "
                       "(minimum redundancy = 1, current redundancy = 1)\n", fx->ids[3]);
    assert_non_null(strstr(r.err, want));
    free(want);
    h_result_free(&r);
    free(hash_before);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retention_compat_state_a),
        cmocka_unit_test(test_retention_compat_delete),
        cmocka_unit_test(test_retention_compat_cron),
        cmocka_unit_test(test_retention_compat_keep),
        cmocka_unit_test(test_retention_cluster_cron),
        cmocka_unit_test(test_retention_cluster_refusals),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
