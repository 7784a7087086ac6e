/*
 * test_catalog.c: the catalog module against Barman 3.4's real files.
 *
 * Every backup.info of the fixtures must come back byte for byte after a
 * parse and a serialise; a copy of the fixture catalog is opened, resolved,
 * annotated and locked in a temporary directory of its own per test, so the
 * shared fixtures are never written.
 */
#include "barrel/build.h"
#include "barrel/catalog.h"

#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/fs.h"
#include "barrel/mem.h"
#include "barrel/strbuf.h"

#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#define FIXTURE_PG_DIR "catalog/pg"
#define ID_OLD   "20261122T133101"
#define ID_NAMED "20261122T133134"
#define ID_FAIL  "20261122T133331"

struct tctx {
    char *dir;                    /* this test's temporary directory */
    char *pg;                     /* <dir>/pg: a copy of the fixture catalog of server pg */
    struct server_config srv;
};

static const char *
fixtures_dir(void)
{
    const char *env = getenv("FIXTURES");

    return env != NULL && env[0] != '\0' ? env : "../shared/fixtures/barman-3.4";
}

static char *
fixture_path(const char *rel)
{
    return path_join(fixtures_dir(), rel);
}

static char *
read_text(const char *path)
{
    struct br_error err;
    char *text = fs_read_file(path, 16 * 1024 * 1024, NULL, &err);

    if (text == NULL)
        fail_msg("%s", err.msg);
    return text;
}

static void
write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static int
setup_tmp(void **state)
{
    struct tctx *t = br_calloc(1, sizeof(*t));
    char tmpl[] = "/tmp/barrel-test-catalog-XXXXXX";

    if (mkdtemp(tmpl) == NULL)
        return -1;
    t->dir = br_strdup(tmpl);
    t->pg = path_join(t->dir, "pg");
    t->srv.name = br_strdup("pg");
    t->srv.backup_directory = br_strdup(t->pg);
    t->srv.basebackups_directory = path_join(t->pg, "base");
    /* the fixture keeps xlog.db at the top of the server directory */
    t->srv.wals_directory = br_strdup(t->pg);
    *state = t;
    return 0;
}

/* setup_tmp plus a writable copy of the fixture catalog of server pg */
static int
setup_catalog(void **state)
{
    struct tctx *t;
    char *src, *cmd;
    int rc;

    if (setup_tmp(state) != 0)
        return -1;
    t = *state;
    src = fixture_path(FIXTURE_PG_DIR);
    cmd = br_asprintf("cp -a '%s' '%s' && chmod -R u+w '%s'", src, t->pg, t->pg);
    rc = system(cmd);
    free(cmd);
    free(src);
    return rc == 0 ? 0 : -1;
}

static int
teardown_tmp(void **state)
{
    struct tctx *t = *state;
    struct br_error err;

    fs_remove_tree(t->dir, &err);
    free(t->dir);
    free(t->pg);
    free(t->srv.name);
    free(t->srv.backup_directory);
    free(t->srv.basebackups_directory);
    free(t->srv.wals_directory);
    free(t);
    return 0;
}

/* ---- backup.info ---- */

static char **found_infos;
static size_t n_found_infos;

static int
collect_backup_info(const char *fpath, const struct stat *sb, int typeflag, struct FTW *ftwbuf)
{
    (void) sb;
    if (typeflag == FTW_F && strcmp(fpath + ftwbuf->base, "backup.info") == 0) {
        found_infos = br_realloc(found_infos, (n_found_infos + 1) * sizeof(char *));
        found_infos[n_found_infos++] = br_strdup(fpath);
    }
    return 0;
}

static void
test_backup_info_roundtrip_fixtures(void **state)
{
    size_t i;

    (void) state;
    n_found_infos = 0;
    found_infos = NULL;
    assert_int_equal(nftw(fixtures_dir(), collect_backup_info, 16, FTW_PHYS), 0);
    /* 10 under catalog/ (one a WAITING_FOR_WALS snapshot) and 1 in backup-tar-complete/ */
    assert_true(n_found_infos >= 11);
    for (i = 0; i < n_found_infos; i++) {
        struct br_error err;
        char *text = read_text(found_infos[i]);
        struct backup_info *bi = backup_info_parse(text, found_infos[i], NULL, &err);
        struct strbuf sb;

        if (bi == NULL)
            fail_msg("%s", err.msg);
        strbuf_init(&sb);
        backup_info_serialize(bi, &sb);
        if (strcmp(sb.buf, text) != 0)
            fail_msg("%s does not round-trip:\n%s", found_infos[i], sb.buf);
        strbuf_free(&sb);
        backup_info_free(bi);
        free(text);
        free(found_infos[i]);
    }
    free(found_infos);
}

static struct backup_info *
read_fixture_info(const char *rel, const char *id)
{
    struct br_error err;
    char *path = fixture_path(rel);
    struct backup_info *bi = backup_info_read(path, id, &err);

    if (bi == NULL)
        fail_msg("%s", err.msg);
    free(path);
    return bi;
}

static void
test_backup_info_typed_values(void **state)
{
    struct backup_info *bi;
    char ts[64];

    (void) state;
    bi = read_fixture_info("catalog/pg/base/" ID_NAMED "/backup.info", ID_NAMED);
    assert_string_equal(bi->backup_id, ID_NAMED);
    assert_string_equal(bi->backup_name, "fixture latest");
    assert_string_equal(bi->begin_xlog, "0/1A000028");
    assert_string_equal(bi->begin_wal, "00000001000000000000001A");
    assert_string_equal(bi->end_wal, "00000001000000000000001A");
    assert_string_equal(bi->end_xlog, "0/1B000000");
    assert_int_equal(bi->begin_offset, 40);
    assert_int_equal(bi->end_offset, 0);
    assert_int_equal(bi->size, 47508875);
    assert_int_equal(bi->timeline, 1);
    assert_int_equal(bi->version, 150018);
    assert_int_equal(bi->xlog_segment_size, 16777216);
    assert_int_equal(bi->status, BACKUP_STATUS_DONE);
    assert_null(bi->compression);
    assert_null(bi->error);
    assert_int_equal(bi->tablespaces_set, 1);
    assert_int_equal(bi->n_tablespaces, 1);
    assert_string_equal(bi->tablespaces[0].name, "ts1");
    assert_int_equal(bi->tablespaces[0].oid, 16409);
    assert_string_equal(bi->tablespaces[0].location, "/tmp/bfx/ts1");
    assert_int_equal(bi->included_files_set, 0);
    assert_true(bi->copy_time == 0.998959);
    assert_true(bi->total_time == 0.998959);
    assert_true(bi->analysis_time == -1);
    assert_true(bi->number_of_workers == BI_NULL_INT);
    {
        const char *head = "START WAL LOCATION: 0/1A000028 (file 00000001000000000000001A)\n"
                           "CHECKPOINT LOCATION: 0/1A000060\nBACKUP METHOD: streamed\n";
        const char *tail = "START TIMELINE: 1\n";   /* the decoded text ends with a real newline */

        assert_true(strncmp(bi->backup_label, head, strlen(head)) == 0);

        assert_string_equal(bi->backup_label + strlen(bi->backup_label) - strlen(tail), tail);
    }
    assert_int_equal(bi->begin_time_set, 1);
    assert_true(bi->begin_time.epoch_usec == INT64_C(1795354294478020));
    assert_int_equal(bi->begin_time.has_tz, 1);
    assert_int_equal(bi->begin_time.tz_offset_s, 0);
    br_timestamp_format(&bi->end_time, ts, sizeof(ts));
    assert_string_equal(ts, "2026-11-22 13:31:35.506058+00:00");
    assert_non_null(strstr(bi->path, "catalog/pg/base/" ID_NAMED "/backup.info"));
    backup_info_free(bi);

    bi = read_fixture_info("catalog/pg/base/" ID_FAIL "/backup.info", ID_FAIL);
    assert_int_equal(bi->status, BACKUP_STATUS_FAILED);
    assert_string_equal(bi->error, "failure copying files (data transfer failure on directory "
                        "'/tmp/bfx/barman_home/pg/base/20261122T133331/data')");
    assert_null(bi->backup_label);
    assert_null(bi->copy_stats);
    assert_true(bi->copy_time == -1);
    assert_int_equal(bi->end_time_set, 0);
    assert_true(bi->size == BI_NULL_INT);
    assert_true(bi->end_offset == BI_NULL_INT);
    assert_int_equal(bi->begin_offset, 10503280);
    backup_info_free(bi);

    bi = read_fixture_info("catalog/pgtl/base/20261122T133431/backup.info", "20261122T133431");
    assert_int_equal(bi->included_files_set, 1);
    assert_int_equal(bi->n_included_files, 1);
    assert_string_equal(bi->included_files[0], "/tmp/bfx/restore3/postgresql.auto.conf");
    assert_int_equal(bi->timeline, 2);
    assert_string_equal(bi->compression, "gzip");
    backup_info_free(bi);

    bi = read_fixture_info("catalog/pglz4/backup.info-while-WAITING_FOR_WALS/backup.info", NULL);
    assert_int_equal(bi->status, BACKUP_STATUS_WAITING_FOR_WALS);
    backup_info_free(bi);
}

static void
test_backup_info_extra_keys_kept(void **state)
{
    struct tctx *t = *state;
    char *src = fixture_path("catalog/pg/base/" ID_OLD "/backup.info");
    char *text = read_text(src);
    struct strbuf in, expected;
    struct br_error err;
    struct backup_info *bi, *again;
    char *at, *written;

    /* 3.11+ keys appended out of order, as a hand edit would */
    strbuf_init(&in);
    strbuf_append(&in, text);
    strbuf_append(&in, "cluster_size=123\nchildren_backup_ids=None\n");
    bi = backup_info_parse(in.buf, "test", ID_OLD, &err);
    assert_non_null(bi);
    assert_int_equal(bi->n_extra, 2);

    /* written back sorted with the 3.4 keys: both sort between begin_xlog and compression */
    at = strstr(text, "compression=");
    assert_non_null(at);
    strbuf_init(&expected);
    strbuf_append_len(&expected, text, (size_t) (at - text));
    strbuf_append(&expected, "children_backup_ids=None\ncluster_size=123\n");
    strbuf_append(&expected, at);

    bi->path = path_join(t->dir, "base/" ID_OLD "/backup.info");
    assert_int_equal(backup_info_write(bi, &err), 0);
    written = read_text(bi->path);
    assert_string_equal(written, expected.buf);

    /* and a second generation keeps them too */
    again = backup_info_read(bi->path, ID_OLD, &err);
    assert_non_null(again);
    assert_int_equal(again->n_extra, 2);
    backup_info_free(again);

    free(written);
    strbuf_free(&expected);
    strbuf_free(&in);
    backup_info_free(bi);
    free(text);
    free(src);
}

static void
test_backup_info_tolerant_parse(void **state)
{
    struct br_error err;
    struct backup_info *bi;
    struct strbuf sb;

    (void) state;
    bi = backup_info_parse("# a comment\n\n   \n  status = DONE  \r\nbackup_name=a=b\n  # indented comment\n"
                           "tablespaces=[]\nincluded_files=[]\ncopy_stats={}\nbegin_time=2026-11-22 13:31:34\n",
                           "test", ID_OLD, &err);
    assert_non_null(bi);
    assert_int_equal(bi->status, BACKUP_STATUS_DONE);
    assert_string_equal(bi->backup_name, "a=b");   /* split at the first '=' only */
    assert_int_equal(bi->tablespaces_set, 0);      /* empty list reads as None, as in Barman */
    assert_int_equal(bi->included_files_set, 0);
    assert_null(bi->copy_stats);
    assert_int_equal(bi->begin_time.has_tz, 0);
    assert_int_equal(bi->xlog_segment_size, 16777216);
    strbuf_init(&sb);
    backup_info_serialize(bi, &sb);
    assert_string_equal(sb.buf,
                        "backup_label=None\nbackup_name=a=b\nbegin_offset=None\nbegin_time=2026-11-22 13:31:34\n"
                        "begin_wal=None\nbegin_xlog=None\ncompression=None\nconfig_file=None\ncopy_stats=None\n"
                        "deduplicated_size=None\nend_offset=None\nend_time=None\nend_wal=None\nend_xlog=None\n"
                        "error=None\nhba_file=None\nident_file=None\nincluded_files=None\nmode=None\npgdata=None\n"
                        "server_name=None\nsize=None\nstatus=DONE\nsystemid=None\ntablespaces=None\n"
                        "timeline=None\nversion=None\nxlog_segment_size=16777216\n");
    strbuf_free(&sb);
    backup_info_free(bi);

    bi = backup_info_parse("status=DONE\nno equals here\n", "some/backup.info", ID_OLD, &err);
    assert_null(bi);
    assert_int_equal(err.code, BR_E_FORMAT);
    assert_string_equal(err.msg, "invalid line 2 in file \"some/backup.info\": no '=' found");

    bi = backup_info_parse("size=12x\n", "t", ID_OLD, &err);
    assert_null(bi);
    assert_string_equal(err.msg, "invalid value for \"size\" at line 1 of file \"t\": expected an integer");

    bi = backup_info_parse("status=BOGUS\n", "t", ID_OLD, &err);
    assert_null(bi);
    assert_string_equal(err.msg, "invalid value for \"status\" at line 1 of file \"t\": unknown backup status");

    bi = backup_info_parse("tablespaces=[('ts1', 'x', '/l')]\n", "t", ID_OLD, &err);
    assert_null(bi);
    assert_string_equal(err.msg, "invalid value for \"tablespaces\" at line 1 of file \"t\": "
                        "expected a list of (name, oid, location) tuples");

    bi = backup_info_parse("backup_label='unterminated\n", "t", ID_OLD, &err);
    assert_null(bi);
    assert_string_equal(err.msg, "invalid value for \"backup_label\" at line 1 of file \"t\": "
                        "invalid python literal at offset 13: unterminated string");
}

static void
test_backup_info_write_new(void **state)
{
    struct tctx *t = *state;
    struct backup_info *bi = backup_info_new(ID_OLD);
    struct br_error err;
    struct stat st;
    char *text;

    bi->path = path_join(t->dir, "base/" ID_OLD "/backup.info");
    bi->backup_label = br_strdup("LABEL: it's\n");
    bi->status = BACKUP_STATUS_STARTED;
    bi->server_name = br_strdup("pg");
    bi->tablespaces = br_calloc(2, sizeof(*bi->tablespaces));
    bi->tablespaces[0].name = br_strdup("ts1");
    bi->tablespaces[0].oid = 16409;
    bi->tablespaces[0].location = br_strdup("/tmp/bfx/ts1");
    bi->tablespaces[1].name = br_strdup("t's");
    bi->tablespaces[1].oid = 16410;
    bi->tablespaces[1].location = br_strdup("/x");
    bi->n_tablespaces = 2;
    bi->tablespaces_set = 1;
    bi->included_files = br_calloc(2, sizeof(char *));
    bi->included_files[0] = br_strdup("/a.conf");
    bi->included_files[1] = br_strdup("/b.conf");
    bi->n_included_files = 2;
    bi->included_files_set = 1;
    bi->copy_time = 1.5;
    assert_int_equal(br_timestamp_parse("2026-11-22 13:30:22.829636+01:00", &bi->begin_time), 0);
    bi->begin_time_set = 1;
    bi->size = 0;
    assert_int_equal(backup_info_write(bi, &err), 0);

    assert_int_equal(stat(bi->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    text = read_text(bi->path);
    assert_string_equal(text,
                        "backup_label=\"LABEL: it's\\n\"\nbegin_offset=None\n"
                        "begin_time=2026-11-22 13:30:22.829636+01:00\nbegin_wal=None\nbegin_xlog=None\n"
                        "compression=None\nconfig_file=None\ncopy_stats={'copy_time': 1.5, 'total_time': 1.5}\n"
                        "deduplicated_size=None\nend_offset=None\nend_time=None\nend_wal=None\nend_xlog=None\n"
                        "error=None\nhba_file=None\nident_file=None\nincluded_files=['/a.conf', '/b.conf']\n"
                        "mode=None\npgdata=None\nserver_name=pg\nsize=0\nstatus=STARTED\nsystemid=None\n"
                        "tablespaces=[('ts1', 16409, '/tmp/bfx/ts1'), (\"t's\", 16410, '/x')]\n"
                        "timeline=None\nversion=None\nxlog_segment_size=16777216\n");
    free(text);
    backup_info_free(bi);
}

static void
test_backup_id(void **state)
{
    char id[BACKUP_ID_LEN + 1];
    enum backup_status st;

    (void) state;
    assert_true(backup_id_is_valid("20261122T133134"));
    assert_false(backup_id_is_valid("20261122T13313"));
    assert_false(backup_id_is_valid("20261122X133134"));
    assert_false(backup_id_is_valid("fixture latest"));
    assert_false(backup_id_is_valid("20261122T1331345"));
    backup_id_from_time(time(NULL), id);
    assert_true(backup_id_is_valid(id));
    assert_int_equal(backup_status_parse("WAITING_FOR_WALS", &st), 0);
    assert_int_equal(st, BACKUP_STATUS_WAITING_FOR_WALS);
    assert_int_equal(backup_status_parse("done", &st), -1);
    assert_string_equal(backup_status_name(BACKUP_STATUS_SYNCING), "SYNCING");
}

static void
test_timestamp_forms(void **state)
{
    struct br_timestamp ts;
    char buf[64];

    (void) state;
    assert_int_equal(br_timestamp_parse("2026-11-22 13:31:34+00:00", &ts), 0);
    br_timestamp_format(&ts, buf, sizeof(buf));
    assert_string_equal(buf, "2026-11-22 13:31:34+00:00");
    assert_int_equal(br_timestamp_parse("2026-11-22T13:31:34.5-0530", &ts), 0);
    assert_int_equal(ts.tz_offset_s, -(5 * 3600 + 30 * 60));
    br_timestamp_format(&ts, buf, sizeof(buf));
    assert_string_equal(buf, "2026-11-22 13:31:34.500000-05:30");
    assert_int_equal(br_timestamp_parse("2026-11-22 13:31:34Z", &ts), 0);
    assert_true(ts.epoch_usec == INT64_C(1795354294000000));
    assert_int_equal(br_timestamp_parse("2026-11-22", &ts), -1);
    assert_int_equal(br_timestamp_parse("2026-11-22 13:31:34 junk", &ts), -1);
}

/* ---- xlog.db ---- */

static void
test_xlogdb_parse_line(void **state)
{
    struct xlogdb_entry e;

    (void) state;
    assert_int_equal(xlogdb_parse_line("00000001000000000000000A\t16461\t1795352312.311351\tgzip\n", &e), 0);
    assert_string_equal(e.name, "00000001000000000000000A");
    assert_int_equal(e.size, 16461);
    assert_true(e.time == 1795352312.311351);
    assert_string_equal(e.compression, "gzip");

    assert_int_equal(xlogdb_parse_line("00000001000000000000000B 16777216 1795352312", &e), 0);
    assert_string_equal(e.compression, "None");
    assert_true(e.time == 1795352312.0);

    assert_int_equal(xlogdb_parse_line("00000001000000000000000A\t16461\t1795352312.311351\tgzip\tNone\n", &e), 0);
    assert_string_equal(e.compression, "gzip");

    assert_int_equal(xlogdb_parse_line("00000002.history\t70\t1795352453.8621433\tNone", &e), 0);
    assert_string_equal(e.name, "00000002.history");

    assert_int_equal(xlogdb_parse_line("a b", &e), -1);
    assert_int_equal(xlogdb_parse_line("a 1 2 3 4 5", &e), -1);
    assert_int_equal(xlogdb_parse_line("a size 1.0 gzip", &e), -1);
    assert_int_equal(xlogdb_parse_line("a 1 time gzip", &e), -1);
    assert_int_equal(xlogdb_parse_line("", &e), -1);
}

static void
test_xlogdb_format_line(void **state)
{
    struct xlogdb_entry e;
    struct strbuf sb;

    (void) state;
    memset(&e, 0, sizeof(e));
    snprintf(e.name, sizeof(e.name), "00000001000000000000000A");
    e.size = 16461;
    e.time = 1795352312.311351;
    snprintf(e.compression, sizeof(e.compression), "gzip");
    strbuf_init(&sb);
    xlogdb_format_line(&e, &sb);
    assert_string_equal(sb.buf, "00000001000000000000000A\t16461\t1795352312.311351\tgzip\n");
    strbuf_reset(&sb);
    e.compression[0] = '\0';
    e.time = 1795352312.0;
    xlogdb_format_line(&e, &sb);
    assert_string_equal(sb.buf, "00000001000000000000000A\t16461\t1795352312.0\tNone\n");
    strbuf_free(&sb);
}

struct xlog_collect {
    size_t n;
    char last[64];
    size_t stop_after;
};

static int
collect_xlog(const struct xlogdb_entry *entry, void *arg)
{
    struct xlog_collect *c = arg;

    c->n++;
    snprintf(c->last, sizeof(c->last), "%s", entry->name);
    return c->stop_after != 0 && c->n == c->stop_after ? 7 : 0;
}

static void
test_xlogdb_append_and_read(void **state)
{
    struct tctx *t = *state;
    struct xlogdb_entry e[2];
    struct xlog_collect c = { 0, "", 0 };
    struct br_error err;
    char *path, *text, *lock;

    memset(e, 0, sizeof(e));
    snprintf(e[0].name, sizeof(e[0].name), "00000001000000000000000A");
    e[0].size = 16461;
    e[0].time = 1795352312.311351;
    snprintf(e[0].compression, sizeof(e[0].compression), "gzip");
    snprintf(e[1].name, sizeof(e[1].name), "00000001000000000000000A.00000028.backup");
    e[1].size = 198;
    e[1].time = 1795352312.3527133;
    snprintf(e[1].compression, sizeof(e[1].compression), "None");

    assert_int_equal(xlogdb_append(&t->srv, t->dir, &e[0], 1, &err), 0);
    assert_int_equal(xlogdb_append(&t->srv, t->dir, &e[1], 1, &err), 0);
    path = xlogdb_path(&t->srv);
    text = read_text(path);
    assert_string_equal(text, "00000001000000000000000A\t16461\t1795352312.311351\tgzip\n"
                        "00000001000000000000000A.00000028.backup\t198\t1795352312.3527133\tNone\n");
    /* the lock file was created by the append and left in place */
    lock = path_join(t->dir, ".pg-xlogdb.lock");
    assert_true(path_is_file(lock));

    assert_int_equal(xlogdb_foreach(&t->srv, t->dir, collect_xlog, &c, &err), 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.last, "00000001000000000000000A.00000028.backup");

    /* the callback stops the walk and its value comes back */
    memset(&c, 0, sizeof(c));
    c.stop_after = 1;
    assert_int_equal(xlogdb_foreach(&t->srv, NULL, collect_xlog, &c, &err), 7);
    assert_int_equal(c.n, 1);

    free(lock);
    free(text);
    free(path);
}

static void
test_xlogdb_bad_lines(void **state)
{
    struct tctx *t = *state;
    struct xlog_collect c = { 0, "", 0 };
    struct br_error err;
    char *path, *expected;

    assert_int_equal(fs_mkdir_p(t->pg, 0700, &err), 0);
    path = xlogdb_path(&t->srv);

    /* a missing file is an empty database */
    assert_int_equal(xlogdb_foreach(&t->srv, t->dir, collect_xlog, &c, &err), 0);
    assert_int_equal(c.n, 0);

    write_text(path, "000000010000000000000001 16777216 1795352312\n"
               "\n"
               "000000010000000000000002\t16461\t1795352312.311351\tgzip\tNone\n"
               "garbage line\n"
               "000000010000000000000003\t16461\t1795352312.311351\tgzip\n");
    assert_int_equal(xlogdb_foreach(&t->srv, t->dir, collect_xlog, &c, &err), -1);
    assert_int_equal(c.n, 2);
    assert_int_equal(err.code, BR_E_FORMAT);
    expected = br_asprintf("cannot parse line 4 of file \"%s\": 'garbage line'", path);
    assert_string_equal(err.msg, expected);
    free(expected);

    write_text(path, "000000010000000000000001\tsixteen\t1795352312.311351\tgzip\n");
    assert_int_equal(xlogdb_foreach(&t->srv, t->dir, collect_xlog, &c, &err), -1);
    expected = br_asprintf("cannot parse line 1 of file \"%s\": '000000010000000000000001\tsixteen\t"
                           "1795352312.311351\tgzip'", path);
    assert_string_equal(err.msg, expected);
    free(expected);
    free(path);
}

static void
test_xlogdb_fixture(void **state)
{
    struct tctx *t = *state;
    struct xlog_collect c = { 0, "", 0 };
    struct br_error err;

    assert_int_equal(xlogdb_foreach(&t->srv, t->dir, collect_xlog, &c, &err), 0);
    assert_int_equal(c.n, 9);
}

/* ---- catalog ---- */

static void
test_catalog_open_and_resolve(void **state)
{
    struct tctx *t = *state;
    struct br_error err;
    struct catalog *cat = catalog_open(&t->srv, &err);
    struct backup_info *bi;

    if (cat == NULL)
        fail_msg("%s", err.msg);
    assert_int_equal(cat->n_backups, 3);
    assert_string_equal(cat->backups[0]->backup_id, ID_OLD);
    assert_string_equal(cat->backups[1]->backup_id, ID_NAMED);
    assert_string_equal(cat->backups[2]->backup_id, ID_FAIL);

    assert_string_equal(catalog_resolve(cat, "latest", &err)->backup_id, ID_NAMED);
    assert_string_equal(catalog_resolve(cat, "last", &err)->backup_id, ID_NAMED);
    assert_string_equal(catalog_resolve(cat, "oldest", &err)->backup_id, ID_OLD);
    assert_string_equal(catalog_resolve(cat, "first", &err)->backup_id, ID_OLD);
    assert_string_equal(catalog_resolve(cat, "last-failed", &err)->backup_id, ID_FAIL);
    assert_string_equal(catalog_resolve(cat, "fixture latest", &err)->backup_id, ID_NAMED);
    assert_string_equal(catalog_resolve(cat, ID_FAIL, &err)->backup_id, ID_FAIL);

    assert_null(catalog_resolve(cat, "20200101T000000", &err));
    assert_int_equal(err.code, BR_E_NOT_FOUND);
    assert_string_equal(err.msg, "Unknown backup '20200101T000000' for server 'pg'");
    assert_null(catalog_resolve(cat, "nonexistent", &err));
    assert_string_equal(err.msg, "Unknown backup 'nonexistent' for server 'pg'");
    assert_null(catalog_resolve(cat, "fail", &err));   /* Barman 3.4's substring quirk is not copied */

    bi = catalog_resolve(cat, ID_NAMED, &err);
    assert_string_equal(catalog_previous(cat, bi, BACKUP_MASK_COPY_DONE)->backup_id, ID_OLD);
    assert_null(catalog_next(cat, bi, BACKUP_MASK_COPY_DONE));
    assert_string_equal(catalog_next(cat, bi, 0)->backup_id, ID_FAIL);
    assert_null(catalog_previous(cat, cat->backups[0], 0));
    catalog_free(cat);
}

static void
test_catalog_meta_wins_and_name_collision(void **state)
{
    struct tctx *t = *state;
    struct br_error err;
    struct catalog *cat;
    char *meta_dir = path_join(t->pg, "meta");
    char *src = path_join(t->pg, "base/" ID_OLD "/backup.info");
    char *dst = path_join(meta_dir, ID_OLD "-backup.info");
    char *text = read_text(src);
    struct strbuf sb;

    assert_int_equal(fs_mkdir_p(meta_dir, 0700, &err), 0);
    /* the meta/ copy of ID_OLD carries the same name as ID_NAMED */
    strbuf_init(&sb);
    strbuf_append(&sb, text);
    strbuf_append(&sb, "backup_name=fixture latest\n");
    write_text(dst, sb.buf);

    cat = catalog_open(&t->srv, &err);
    assert_non_null(cat);
    assert_int_equal(cat->n_backups, 3);
    assert_string_equal(cat->backups[0]->backup_name, "fixture latest");
    assert_string_equal(cat->backups[0]->path, dst);
    assert_null(catalog_resolve(cat, "fixture latest", &err));
    assert_int_equal(err.code, BR_E_STATE);
    assert_string_equal(err.msg, "Multiple backups found matching name 'fixture latest' "
                        "(try using backup ID instead): " ID_OLD " " ID_NAMED);
    catalog_free(cat);

    /* a meta/-only backup is found too; a broken one is an error naming it */
    write_text(dst, "status=DONE\nsize=oops\n");
    cat = catalog_open(&t->srv, &err);
    assert_null(cat);
    {
        char *expected = br_asprintf("invalid value for \"size\" at line 2 of file \"%s\": expected an integer", dst);

        assert_string_equal(err.msg, expected);
        free(expected);
    }

    strbuf_free(&sb);
    free(text);
    free(dst);
    free(src);
    free(meta_dir);
}

static void
test_catalog_empty(void **state)
{
    struct tctx *t = *state;
    struct br_error err;
    struct catalog *cat = catalog_open(&t->srv, &err);

    assert_non_null(cat);
    assert_int_equal(cat->n_backups, 0);
    assert_null(catalog_resolve(cat, "latest", &err));
    assert_string_equal(err.msg, "Unknown backup 'latest' for server 'pg'");
    catalog_free(cat);
}

/* ---- keep ---- */

static void
test_keep_get_set_release(void **state)
{
    struct tctx *t = *state;
    struct br_error err;
    char *keep, *ann, *path, *text, *meta_dir, *meta_keep;

    keep = catalog_keep_get(&t->srv, ID_NAMED);
    assert_non_null(keep);
    assert_string_equal(keep, "standalone");
    free(keep);
    assert_null(catalog_keep_get(&t->srv, ID_OLD));

    assert_int_equal(catalog_keep_set(&t->srv, ID_OLD, "full", &err), 0);
    ann = path_join(t->pg, "base/" ID_OLD "/annotations");
    path = path_join(ann, "keep");
    text = read_text(path);
    assert_string_equal(text, "full");   /* exactly, without a newline */
    free(text);
    keep = catalog_keep_get(&t->srv, ID_OLD);
    assert_string_equal(keep, "full");
    free(keep);

    assert_int_equal(catalog_keep_set(&t->srv, ID_OLD, "standalone", &err), 0);
    text = read_text(path);
    assert_string_equal(text, "standalone");
    free(text);

    assert_int_equal(catalog_keep_set(&t->srv, ID_OLD, "forever", &err), -1);
    assert_string_equal(err.msg, "invalid keep target \"forever\": expected full or standalone");

    assert_int_equal(catalog_keep_release(&t->srv, ID_OLD, &err), 0);
    assert_false(path_exists(path));
    assert_false(path_exists(ann));   /* the directory goes with its last annotation */
    assert_null(catalog_keep_get(&t->srv, ID_OLD));
    assert_int_equal(catalog_keep_release(&t->srv, ID_OLD, &err), 0);   /* twice is fine */

    /* newer Barman's meta/<ID>-keep is honoured, and released too */
    meta_dir = path_join(t->pg, "meta");
    meta_keep = path_join(meta_dir, ID_OLD "-keep");
    assert_int_equal(fs_mkdir_p(meta_dir, 0700, &err), 0);
    write_text(meta_keep, "anything");
    keep = catalog_keep_get(&t->srv, ID_OLD);
    assert_string_equal(keep, "full");
    free(keep);
    assert_int_equal(catalog_keep_release(&t->srv, ID_OLD, &err), 0);
    assert_false(path_exists(meta_keep));

    free(meta_keep);
    free(meta_dir);
    free(path);
    free(ann);
}

/* ---- identity.json ---- */

static void
test_identity_roundtrip(void **state)
{
    struct tctx *t = *state;
    struct br_error err;
    char *systemid, *version, *fixture, *expected, *written, *path;
    char other_name[] = "other";
    struct server_config other;

    assert_int_equal(catalog_identity_read(&t->srv, &systemid, &version, &err), 0);
    assert_string_equal(systemid, "7710987126708478174");
    assert_string_equal(version, "15");
    free(systemid);
    free(version);

    memset(&other, 0, sizeof(other));
    other.name = other_name;
    other.backup_directory = path_join(t->dir, "other");
    assert_int_equal(catalog_identity_read(&other, &systemid, &version, &err), 1);
    assert_null(systemid);
    assert_int_equal(catalog_identity_write(&other, "7710987126708478174", "15", &err), 0);

    fixture = fixture_path(FIXTURE_PG_DIR "/identity.json");
    expected = read_text(fixture);
    path = path_join(other.backup_directory, "identity.json");
    written = read_text(path);
    assert_string_equal(written, expected);

    free(written);
    free(path);
    free(expected);
    free(fixture);
    free(other.backup_directory);
    free(systemid);
    free(version);
}

static void
test_identity_bad(void **state)
{
    struct tctx *t = *state;
    struct br_error err;
    char *systemid, *version, *path, *expected;

    assert_int_equal(fs_mkdir_p(t->pg, 0700, &err), 0);
    path = path_join(t->pg, "identity.json");
    write_text(path, "{\"version\": 15, \"extra\": \"x\", \"systemid\": \"1\\u0032\"}");
    assert_int_equal(catalog_identity_read(&t->srv, &systemid, &version, &err), 0);
    assert_string_equal(systemid, "12");
    assert_string_equal(version, "15");
    free(systemid);
    free(version);

    write_text(path, "{\"systemid\": \"1\"");
    assert_int_equal(catalog_identity_read(&t->srv, &systemid, &version, &err), -1);
    expected = br_asprintf("invalid JSON in file \"%s\": expected ',' or '}'", path);
    assert_string_equal(err.msg, expected);
    assert_null(systemid);
    free(expected);
    free(path);
}

/* ---- locks ---- */

static void
test_lock_exclusion(void **state)
{
    struct tctx *t = *state;
    struct br_error err;
    struct catalog_lock *lock;
    char *path = path_join(t->dir, ".pg-backup.lock");
    char *text, *expected;
    pid_t child;
    int status;

    /* a stale pid left by an earlier holder is replaced */
    write_text(path, "999999999\n");
    lock = catalog_lock_acquire(t->dir, "pg", "backup", 0, &err);
    if (lock == NULL)
        fail_msg("%s", err.msg);
    text = read_text(path);
    expected = br_asprintf("%ld\n", (long) getpid());
    assert_string_equal(text, expected);
    free(text);
    free(expected);

    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        /* exit status: 0 all as expected, else the number of the failed check */
        struct br_error cerr;
        struct catalog_lock *again = catalog_lock_acquire(t->dir, "pg", "backup", 0, &cerr);

        if (again != NULL)
            _exit(1);
        if (cerr.code != BR_E_LOCKED)
            _exit(2);
        if (strstr(cerr.msg, "is held by another process") == NULL)
            _exit(3);
        if (catalog_lock_holder(t->dir, "pg", "backup", &cerr) != (long) getppid())
            _exit(4);
        _exit(0);
    }
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);

    assert_int_equal(catalog_lock_holder(t->dir, "pg", "backup", &err), (long) getpid());
    catalog_lock_release(lock);
    assert_true(path_is_file(path));   /* never deleted */
    assert_int_equal(catalog_lock_holder(t->dir, "pg", "backup", &err), 0);
    assert_int_equal(catalog_lock_holder(t->dir, "pg", "cron", &err), 0);   /* no file: free */

    /* free again: a blocking acquire returns at once */
    lock = catalog_lock_acquire(t->dir, "pg", "backup", 1, &err);
    assert_non_null(lock);
    catalog_lock_release(lock);
    catalog_lock_release(NULL);
    free(path);
}

static void
test_lock_new_file_mode(void **state)
{
    struct tctx *t = *state;
    struct br_error err;
    struct catalog_lock *lock = catalog_lock_acquire(t->dir, "pg", ID_NAMED, 0, &err);
    char *path = path_join(t->dir, ".pg-" ID_NAMED ".lock");
    struct stat st;

    assert_non_null(lock);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    catalog_lock_release(lock);

    /* a lock directory that does not exist is an I/O error naming the file */
    lock = catalog_lock_acquire("/nonexistent-barrel-dir", "pg", "backup", 0, &err);
    assert_null(lock);
    assert_int_equal(err.code, BR_E_IO);
    assert_string_equal(err.msg, "could not open lock file \"/nonexistent-barrel-dir/.pg-backup.lock\": "
                        "No such file or directory");
    free(path);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backup_info_roundtrip_fixtures),
        cmocka_unit_test(test_backup_info_typed_values),
        cmocka_unit_test_setup_teardown(test_backup_info_extra_keys_kept, setup_tmp, teardown_tmp),
        cmocka_unit_test(test_backup_info_tolerant_parse),
        cmocka_unit_test_setup_teardown(test_backup_info_write_new, setup_tmp, teardown_tmp),
        cmocka_unit_test(test_backup_id),
        cmocka_unit_test(test_timestamp_forms),
        cmocka_unit_test(test_xlogdb_parse_line),
        cmocka_unit_test(test_xlogdb_format_line),
        cmocka_unit_test_setup_teardown(test_xlogdb_append_and_read, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_xlogdb_bad_lines, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_xlogdb_fixture, setup_catalog, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_catalog_open_and_resolve, setup_catalog, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_catalog_meta_wins_and_name_collision, setup_catalog, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_catalog_empty, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_keep_get_set_release, setup_catalog, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_identity_roundtrip, setup_catalog, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_identity_bad, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_lock_exclusion, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_lock_new_file_mode, setup_tmp, teardown_tmp),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
