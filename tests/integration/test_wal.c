/*
 * test_wal.c: archive-wal, get-wal, rebuild-xlogdb and put-wal through the
 * barrel binary, on synthetic server directories built from the real
 * segments of the fixtures (catalog/wal-samples: a plain segment, and
 * segments gzip- and bzip2-compressed by Barman 3.4).
 *
 * - archive-wal: streaming/ rules (keep back the newest complete file when
 *   no partial; archive all but the newest partial), incoming/ (hidden and
 *   .tmp ignored, bad names and directories to errors/), duplicates
 *   (identical dropped without a line; different to errors/ with Barman's
 *   message), pre-compressed files kept as they are with the detected name,
 *   compression none, batch sizes, a busy lock, a .tmp left by a crash;
 * - get-wal: Barman 3.4's transcripts (cli/get-wal-*.txt) replayed on a
 *   catalog rebuilt to match them, with the exit codes of cli/_captures.jsonl;
 * - rebuild-xlogdb: Barman's output, and the same xlog.db as archive-wal wrote;
 * - put-wal: tar streams from Python's tarfile (as barman-wal-archive builds
 *   them): good, bad checksum, missing checksum, SHA256SUMS, identical and
 *   different resends, a directory member, a name with '/'.
 */
#include "barrel/build.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "barrel/mem.h"
#include "barrel/strbuf.h"
#include "catalog_setup.h"
#include "harness.h"

#define SEG_PLAIN "catalog/wal-samples/000000010000000000000014.uncompressed"
#define SEG_GZIP "catalog/wal-samples/000000010000000000000019.gzip-compressed-by-barman"
#define SEG_BZIP2 "catalog/wal-samples/000000010000000000000012.bzip2-compressed-by-barman"
#define HASH "0000000100000000"

struct fx {
    char *tmp;
    char *home;
    char *conf;
};

/* Run a shell command line that must succeed. */
static void
sh_ok(const char *fmt, ...) BR_PRINTF(1, 2);

static void
sh_ok(const char *fmt, ...)
{
    va_list ap;
    char *cmd;
    struct h_result r;

    va_start(ap, fmt);
    cmd = br_vasprintf(fmt, ap);
    va_end(ap);
    r = h_sh("%s", cmd);
    if (r.status != 0)
        fail_msg("%s: exit %d: %s", cmd, r.status, r.err);
    h_result_free(&r);
    free(cmd);
}

/* Write text into <home>/pg/<rel>. */
static void
put_text(struct fx *fx, const char *rel, const char *text)
{
    char *path = br_asprintf("%s/pg/%s", fx->home, rel);

    h_write_file(path, text);
    free(path);
}

static void
write_conf(struct fx *fx, const char *extra)
{
    char *global = br_asprintf("log_file = %s/barman.log\nlog_level = INFO\n", fx->tmp);
    char *text = br_asprintf("[pg]\ndescription = \"wal tests\"\nconninfo = host=127.0.0.1 port=1 user=x dbname=postgres\n"
                             "backup_method = postgres\nstreaming_archiver = on\narchiver = on\nslot_name = barman\n"
                             "compression = gzip\n%s\n"
                             "[pgtl]\ndescription = \"history\"\nconninfo = host=127.0.0.1 port=1 user=x dbname=postgres\n"
                             "backup_method = postgres\nstreaming_archiver = on\nslot_name = barman_pgtl\n"
                             "compression = gzip\n",
                             extra ? extra : "");

    h_write_conf(fx->conf, fx->home, NULL, global, text);
    free(text);
    free(global);
}

static int
setup(void **state)
{
    struct fx *fx = br_calloc(1, sizeof(*fx));

    h_fixture_dirs(&fx->tmp, &fx->home, &fx->conf, "barman.conf");
    sh_ok("mkdir -p %s/pg/incoming %s/pg/streaming %s/pgtl/wals", fx->home, fx->home, fx->home);
    write_conf(fx, NULL);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *fx = *state;

    h_rmtree(fx->tmp);
    free(fx->tmp);
    free(fx->home);
    free(fx->conf);
    free(fx);
    return 0;
}

static char *
fixture(const char *rel)
{
    return br_asprintf("%s/%s", h_fixtures_dir(), rel);
}

/* cp a fixture sample to <home>/pg/<rel>, with a given mtime offset so files differ in time. */
static void
put_sample(struct fx *fx, const char *sample, const char *rel)
{
    char *src = fixture(sample);
    struct h_result r = h_sh("cp '%s' '%s/pg/%s' && chmod 0644 '%s/pg/%s'", src, fx->home, rel, fx->home, rel);

    assert_int_equal(r.status, 0);
    h_result_free(&r);
    free(src);
}

static struct h_result
barrel(struct fx *fx, const char *args)
{
    return h_sh("'%s' -c '%s' %s", h_barrel_bin(), fx->conf, args);
}

static void
expect_run(struct fx *fx, const char *args, int status, const char *out, const char *err)
{
    struct h_result r = barrel(fx, args);

    if (r.status != status || (out && strcmp(r.out, out) != 0) || (err && strcmp(r.err, err) != 0))
        fail_msg("barrel %s: status %d\n--- stdout\n%s--- expected\n%s--- stderr\n%s--- expected\n%s", args, r.status,
                 r.out, out ? out : "(any)\n", r.err, err ? err : "(any)\n");
    h_result_free(&r);
}

static char *
read_rel(struct fx *fx, const char *rel)
{
    char *path = br_asprintf("%s/%s", fx->home, rel);
    char *text = h_read_file(path);

    free(path);
    return text;
}

static int
exists_rel(struct fx *fx, const char *rel)
{
    char *path = br_asprintf("%s/%s", fx->home, rel);
    struct stat st;
    int ok = lstat(path, &st) == 0;

    free(path);
    return ok;
}

/* Number of entries in a directory matching a prefix. */
static int
count_prefix(struct fx *fx, const char *rel_dir, const char *prefix)
{
    char *path = br_asprintf("%s/%s", fx->home, rel_dir);
    DIR *dp = opendir(path);
    struct dirent *de;
    int n = 0;

    free(path);
    if (dp == NULL)
        return 0;
    while ((de = readdir(dp)) != NULL)
        if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
            n++;
    closedir(dp);
    return n;
}

/* The names column of xlog.db, one per line; checks that every line has 4 tab-separated fields. */
static char *
xlogdb_names(struct fx *fx)
{
    char *db = read_rel(fx, "pg/wals/xlog.db");
    struct strbuf sb;

    strbuf_init(&sb);
    strbuf_append(&sb, "");
    for (char *line = db; line && *line;) {
        char *eol = strchr(line, '\n');
        int tabs = 0;

        assert_non_null(eol);
        for (char *p = line; p < eol; p++)
            tabs += *p == '\t';
        assert_int_equal(tabs, 3);
        strbuf_append_len(&sb, line, strcspn(line, "\t"));
        strbuf_append_char(&sb, '\n');
        line = eol + 1;
    }
    free(db);
    return strbuf_detach(&sb);
}

/* The xlog.db line of name (new string, without the newline), or NULL. */
static char *
xlogdb_line(struct fx *fx, const char *name)
{
    char *db = read_rel(fx, "pg/wals/xlog.db");
    char *found = NULL;

    for (char *line = db; line && *line;) {
        char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t) (eol - line) : strlen(line);

        if (strncmp(line, name, strlen(name)) == 0 && line[strlen(name)] == '\t')
            found = br_strndup(line, len);
        line = eol ? eol + 1 : line + len;
    }
    free(db);
    return found;
}

static char *
sha_of(const char *cmd)
{
    struct h_result r = h_sh("%s | sha256sum | cut -c1-64", cmd);
    char *s = br_strndup(r.out, 64);

    h_result_free(&r);
    return s;
}

/* ---- archive-wal ---- */

static void
test_archive_wal_streaming_keeps_newest_complete(void **state)
{
    struct fx *fx = *state;
    char *names, *line, *want, *got;

    put_sample(fx, SEG_PLAIN, "streaming/000000010000000000000014");
    put_sample(fx, SEG_PLAIN, "streaming/000000010000000000000015");
    put_sample(fx, SEG_PLAIN, "streaming/000000010000000000000016");
    expect_run(fx, "archive-wal pg", 0,
               "Processing xlog segments from streaming for pg\n"
               "\t000000010000000000000014\n"
               "\t000000010000000000000015\n"
               "Processing xlog segments from file archival for pg\n"
               "\tno file found\n",
               "");
    assert_true(exists_rel(fx, "pg/streaming/000000010000000000000016"));
    assert_false(exists_rel(fx, "pg/streaming/000000010000000000000014"));
    names = xlogdb_names(fx);
    assert_string_equal(names, "000000010000000000000014\n000000010000000000000015\n");
    free(names);

    /* gzip in place under the bare name; the line says gzip and the size on disk */
    line = xlogdb_line(fx, "000000010000000000000014");
    {
        struct stat st;
        char *path = br_asprintf("%s/pg/wals/" HASH "/000000010000000000000014", fx->home);
        char *prefix;

        assert_int_equal(stat(path, &st), 0);
        prefix = br_asprintf("000000010000000000000014\t%lld\t", (long long) st.st_size);
        assert_true(strncmp(line, prefix, strlen(prefix)) == 0);
        assert_non_null(strstr(line, "\tgzip"));
        char *cmd = br_asprintf("gzip -dc '%s'", path);

        got = sha_of(cmd);
        free(cmd);
        free(prefix);
        free(path);
    }
    {
        char *src = fixture(SEG_PLAIN);
        char *cmd = br_asprintf("cat '%s'", src);
        want = sha_of(cmd);
        free(cmd);
        free(src);
    }
    assert_string_equal(got, want);
    free(got);
    free(want);
    free(line);

    /* nothing new: still one file kept back */
    expect_run(fx, "archive-wal pg", 0,
               "Processing xlog segments from streaming for pg\n\tno file found\n"
               "Processing xlog segments from file archival for pg\n\tno file found\n",
               "");
}

static void
test_archive_wal_streaming_partials(void **state)
{
    struct fx *fx = *state;
    char *names;

    put_sample(fx, SEG_PLAIN, "streaming/000000010000000000000014");
    put_sample(fx, SEG_PLAIN, "streaming/000000010000000000000015.partial");
    put_sample(fx, SEG_PLAIN, "streaming/000000020000000000000015.partial");
    put_sample(fx, SEG_PLAIN, "streaming/00000002.history");
    expect_run(fx, "archive-wal pg", 0,
               "Processing xlog segments from streaming for pg\n"
               "\t000000010000000000000014\n"
               "\t000000010000000000000015.partial\n"
               "\t00000002.history\n"
               "Processing xlog segments from file archival for pg\n"
               "\tno file found\n",
               "");
    assert_true(exists_rel(fx, "pg/streaming/000000020000000000000015.partial"));
    assert_true(exists_rel(fx, "pg/wals/" HASH "/000000010000000000000015.partial"));
    assert_true(exists_rel(fx, "pg/wals/00000002.history"));
    names = xlogdb_names(fx);
    assert_string_equal(names, "000000010000000000000014\n000000010000000000000015.partial\n00000002.history\n");
    free(names);
}

static void
test_archive_wal_incoming_errors_and_precompressed(void **state)
{
    struct fx *fx = *state;
    char *line, *stored, *orig;

    put_sample(fx, SEG_BZIP2, "incoming/000000010000000000000012");
    put_sample(fx, SEG_GZIP, "incoming/000000010000000000000019");
    put_sample(fx, SEG_PLAIN, "incoming/000000010000000000000014.00000028.backup");
    put_text(fx, "incoming/garbage.txt", "x\n");
    put_text(fx, "incoming/.hidden", "x\n");
    put_text(fx, "incoming/00000001000000000000001A.tmp", "x\n");
    sh_ok("mkdir %s/pg/incoming/00000001000000000000001B", fx->home);
    expect_run(fx, "archive-wal pg", 0,
               "Processing xlog segments from streaming for pg\n"
               "\tno file found\n"
               "Processing xlog segments from file archival for pg\n"
               "\t000000010000000000000012\n"
               "\t000000010000000000000014.00000028.backup\n"
               "\t000000010000000000000019\n"
               "Some unknown objects have been found while processing xlog segments for pg. Objects moved to errors "
               "directory:\n"
               "\t00000001000000000000001B\n"
               "\tgarbage.txt\n",
               "");
    /* pre-compressed files are stored byte for byte, with the detected name */
    line = xlogdb_line(fx, "000000010000000000000012");
    assert_non_null(strstr(line, "\t225\t"));
    assert_non_null(strstr(line, "\tbzip2"));
    free(line);
    line = xlogdb_line(fx, "000000010000000000000019");
    assert_non_null(strstr(line, "\tgzip"));
    free(line);
    stored = read_rel(fx, "pg/wals/" HASH "/000000010000000000000012");
    {
        char *bz = fixture(SEG_BZIP2);
        orig = h_read_file(bz);
        free(bz);
    }
    assert_memory_equal(stored, orig, 225);
    free(stored);
    free(orig);
    /* the .backup file is compressed too */
    line = xlogdb_line(fx, "000000010000000000000014.00000028.backup");
    assert_non_null(strstr(line, "\tgzip"));
    free(line);
    assert_int_equal(count_prefix(fx, "pg/errors", "garbage.txt."), 1);
    assert_int_equal(count_prefix(fx, "pg/errors", "00000001000000000000001B."), 1);
    assert_true(exists_rel(fx, "pg/incoming/.hidden"));
    assert_true(exists_rel(fx, "pg/incoming/00000001000000000000001A.tmp"));
    {
        struct h_result r = h_sh("ls %s/pg/errors | grep -E '^garbage\\.txt\\.[0-9]{8}T[0-9]{6}Z\\.unknown$'", fx->home);
        assert_int_equal(r.status, 0);
        h_result_free(&r);
    }
}

static void
test_archive_wal_duplicates(void **state)
{
    struct fx *fx = *state;
    char *names;

    put_sample(fx, SEG_PLAIN, "incoming/000000010000000000000019");
    {
        char *gz = fixture(SEG_GZIP);
        sh_ok("gzip -dc < '%s' > %s/pg/incoming/000000010000000000000019", gz, fx->home);
        free(gz);
    }
    expect_run(fx, "-q archive-wal pg", 0, "", "");
    names = xlogdb_names(fx);
    assert_string_equal(names, "000000010000000000000019\n");
    free(names);

    /* the same content again, this time Barman-gzipped: dropped without a line */
    put_sample(fx, SEG_GZIP, "incoming/000000010000000000000019");
    /* different content under the same name: errors/ */
    put_sample(fx, SEG_BZIP2, "streaming/000000010000000000000019");
    put_sample(fx, SEG_PLAIN, "streaming/000000010000000000000020.partial");
    expect_run(fx, "archive-wal pg", 0,
               "Processing xlog segments from streaming for pg\n"
               "\t000000010000000000000019\n"
               "\tError: 000000010000000000000019 is already present in server pg. File moved to errors directory.\n"
               "Processing xlog segments from file archival for pg\n"
               "\t000000010000000000000019\n",
               "");
    names = xlogdb_names(fx);
    assert_string_equal(names, "000000010000000000000019\n");
    free(names);
    assert_false(exists_rel(fx, "pg/incoming/000000010000000000000019"));
    assert_false(exists_rel(fx, "pg/streaming/000000010000000000000019"));
    {
        struct h_result r = h_sh("ls %s/pg/errors | grep -E '^000000010000000000000019\\.[0-9]{8}T[0-9]{6}Z\\.duplicate$'",
                                 fx->home);
        assert_int_equal(r.status, 0);
        h_result_free(&r);
    }
}

static void
test_archive_wal_compression_none_and_batch(void **state)
{
    struct fx *fx = *state;
    char *line;

    write_conf(fx, "archiver_batch_size = 2\ncompression = none\n");
    /* "compression = none" is given twice: the last one wins in Barman's INI rules */
    put_sample(fx, SEG_PLAIN, "incoming/000000010000000000000014");
    put_sample(fx, SEG_PLAIN, "incoming/000000010000000000000015");
    put_sample(fx, SEG_PLAIN, "incoming/000000010000000000000016");
    expect_run(fx, "archive-wal pg", 0,
               "Processing xlog segments from streaming for pg\n"
               "\tno file found\n"
               "Processing xlog segments from file archival for pg (batch size: 2)\n"
               "\t000000010000000000000014\n"
               "\t000000010000000000000015\n",
               "");
    line = xlogdb_line(fx, "000000010000000000000014");
    assert_non_null(strstr(line, "\t16777216\t"));
    assert_non_null(strstr(line, "\tNone"));
    free(line);
    assert_true(exists_rel(fx, "pg/incoming/000000010000000000000016"));
}

static void
test_archive_wal_left_over_tmp_and_busy_lock(void **state)
{
    struct fx *fx = *state;
    char *names;
    struct h_result r;

    /* a crash left a torn .tmp: ignored by rebuild, overwritten by the next run */
    sh_ok("mkdir -p %s/pg/wals/" HASH " && echo torn > %s/pg/wals/" HASH "/000000010000000000000014.tmp",
                          fx->home, fx->home);
    put_sample(fx, SEG_PLAIN, "incoming/000000010000000000000014");
    expect_run(fx, "-q archive-wal pg", 0, "", "");
    assert_false(exists_rel(fx, "pg/wals/" HASH "/000000010000000000000014.tmp"));
    names = xlogdb_names(fx);
    assert_string_equal(names, "000000010000000000000014\n");
    free(names);

    /* another archive-wal holds the lock: Barman's message, exit 0, nothing touched */
    put_sample(fx, SEG_PLAIN, "incoming/000000010000000000000015");
    r = h_sh("flock %s/.pg-archive-wal.lock '%s' -c '%s' archive-wal pg", fx->home, h_barrel_bin(), fx->conf);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out,
                        "Another archive-wal process is already running on server pg. Skipping to the next server\n");
    h_result_free(&r);
    assert_true(exists_rel(fx, "pg/incoming/000000010000000000000015"));
}

/* Many files through the worker pool: every one archived once, xlog.db in name order, whatever the pool size. */
static void
test_archive_wal_pool_keeps_order(void **state)
{
    struct fx *fx = *state;
    static const char *const workers[] = {"1", "3", "8"};

    for (size_t w = 0; w < BR_ARRAY_LEN(workers); w++) {
        char *names, *want;
        struct strbuf sb;
        struct h_result r;

        /* 300 files over two log ids (hash directories), each with its own content */
        sh_ok("cd %s/pg/incoming && for i in $(seq 0 299); do n=$(printf '00000001%%08X%%08X' $((i / 256 + %zu)) "
              "$((i %% 256))); head -c 65536 /dev/urandom > $n; printf %%0100000d 0 >> $n; done",
              fx->home, 2 * w);
        r = h_sh("BARREL_ARCHIVE_WORKERS=%s '%s' -q -c '%s' archive-wal pg", workers[w], h_barrel_bin(), fx->conf);
        if (r.status != 0)
            fail_msg("archive-wal with %s workers: %s", workers[w], r.err);
        h_result_free(&r);
        names = xlogdb_names(fx);
        r = h_sh("cd %s/pg/wals && ls 0*/* | sed 's|.*/||' | sort", fx->home);
        want = br_strdup(r.out);
        h_result_free(&r);
        strbuf_init(&sb);
        strbuf_append(&sb, names);
        assert_string_equal(sb.buf, want);
        assert_int_equal(count_prefix(fx, "pg/incoming", "0"), 0);
        strbuf_free(&sb);
        free(names);
        free(want);
    }
    /* no temporary file anywhere */
    {
        struct h_result r = h_sh("find %s -name '*.tmp' | wc -l", fx->home);
        assert_string_equal(r.out, "0\n");
        h_result_free(&r);
    }
}

/*
 * A failure in the middle of a batch: files before it are archived with
 * their lines, the failing one and those after stay in incoming/, no .tmp
 * is left, and the exit status is 1. (The hash directory of log 1 is a
 * file, so creating it fails, even as root.)
 */
static void
test_archive_wal_failure_midway(void **state)
{
    struct fx *fx = *state;
    struct h_result r;
    char *names;

    put_sample(fx, SEG_PLAIN, "incoming/000000010000000000000014");
    put_sample(fx, SEG_PLAIN, "incoming/0000000100000000000000FF");
    put_sample(fx, SEG_PLAIN, "incoming/000000010000000100000000");
    put_sample(fx, SEG_PLAIN, "incoming/000000010000000100000001");
    sh_ok("mkdir -p %s/pg/wals && echo blocker > %s/pg/wals/0000000100000001", fx->home, fx->home);
    r = barrel(fx, "archive-wal pg");
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "ERROR: "));
    assert_non_null(strstr(r.err, "0000000100000001"));
    h_result_free(&r);
    names = xlogdb_names(fx);
    assert_string_equal(names, "000000010000000000000014\n0000000100000000000000FF\n");
    free(names);
    assert_true(exists_rel(fx, "pg/incoming/000000010000000100000000"));
    assert_true(exists_rel(fx, "pg/incoming/000000010000000100000001"));
    r = h_sh("find %s -name '*.tmp' | wc -l", fx->home);
    assert_string_equal(r.out, "0\n");
    h_result_free(&r);

    /* the obstacle gone, the next run finishes the job */
    sh_ok("rm %s/pg/wals/0000000100000001", fx->home);
    expect_run(fx, "-q archive-wal pg", 0, "", "");
    names = xlogdb_names(fx);
    assert_string_equal(names, "000000010000000000000014\n0000000100000000000000FF\n000000010000000100000000\n"
                               "000000010000000100000001\n");
    free(names);
}

static void
test_rebuild_xlogdb_matches_archive(void **state)
{
    struct fx *fx = *state;
    char *before, *after;

    put_sample(fx, SEG_BZIP2, "incoming/000000010000000000000012");
    put_sample(fx, SEG_PLAIN, "incoming/000000010000000000000014");
    put_sample(fx, SEG_PLAIN, "incoming/000000010000000000000014.00000028.backup");
    put_sample(fx, SEG_GZIP, "incoming/000000010000000000000019");
    put_sample(fx, SEG_PLAIN, "incoming/00000002.history");
    put_sample(fx, SEG_PLAIN, "incoming/00000001000000000000001A.partial");
    expect_run(fx, "-q archive-wal pg", 0, "", "");
    before = read_rel(fx, "pg/wals/xlog.db");
    /* the partial has its line after archive-wal, and not after a rebuild (Barman's rules) */
    assert_non_null(strstr(before, "00000001000000000000001A.partial\t"));
    sh_ok("echo torn > %s/pg/wals/" HASH "/00000001000000000000001B.tmp && rm %s/pg/wals/xlog.db",
                          fx->home, fx->home);
    expect_run(fx, "rebuild-xlogdb pg", 0,
               "Rebuilding xlogdb for server pg\n"
               "Done rebuilding xlogdb for server pg (history: 1, backup_labels: 1, wal_file: 3)\n",
               "");
    after = read_rel(fx, "pg/wals/xlog.db");
    {
        /* same lines, the partial excepted; sizes, times and compressions from the files */
        struct strbuf sb;
        strbuf_init(&sb);
        for (char *line = before; *line;) {
            char *eol = strchr(line, '\n');
            if (strncmp(line, "00000001000000000000001A.partial", 32) != 0)
                strbuf_append_len(&sb, line, (size_t) (eol - line + 1));
            line = eol + 1;
        }
        /* rebuild walks hash dirs first (sorted names: "0000000100000000" < "00000002.history") */
        assert_string_equal(after, sb.buf);
        strbuf_free(&sb);
    }
    free(before);
    free(after);
}

/* ---- get-wal, against Barman's transcripts ---- */

/* Exit code of a transcript in cli/_captures.jsonl. */
static int
capture_exit_code(const char *file)
{
    char *path = fixture("cli/_captures.jsonl");
    char *text = h_read_file(path);
    char *key = br_asprintf("{\"file\": \"%s\"", file);
    char *hit = strstr(text, key);
    int code = -1;

    if (hit != NULL) {
        char *ec = strstr(hit, "\"exit_code\": ");
        if (ec != NULL)
            code = atoi(ec + strlen("\"exit_code\": "));
    }
    free(key);
    free(text);
    free(path);
    return code;
}

static char *
replace_all(const char *text, const char *from, const char *to)
{
    struct strbuf sb;
    const char *p = text, *hit;

    strbuf_init(&sb);
    strbuf_append(&sb, "");
    while ((hit = strstr(p, from)) != NULL) {
        strbuf_append_len(&sb, p, (size_t) (hit - p));
        strbuf_append(&sb, to);
        p = hit + strlen(from);
    }
    strbuf_append(&sb, p);
    return strbuf_detach(&sb);
}

/*
 * The catalog those transcripts saw: pg's wals/ held 17..1F (Barman-gzipped),
 * streaming/ the partial 20; pgtl's wals/ its 00000002.history.
 */
static void
build_getwal_catalog(struct fx *fx)
{
    static const char *const segs[] = {"17", "18", "19", "1A", "1B", "1C", "1D", "1E", "1F"};
    char *hist = fixture("catalog/pgtl/00000002.history");

    sh_ok("mkdir -p %s/pg/wals/" HASH " %s/getwal", fx->home, fx->tmp);
    for (size_t i = 0; i < BR_ARRAY_LEN(segs); i++) {
        char *rel = br_asprintf("wals/" HASH "/0000000100000000000000%s", segs[i]);
        put_sample(fx, SEG_GZIP, rel);
        free(rel);
    }
    put_sample(fx, SEG_PLAIN, "streaming/000000010000000000000020.partial");
    sh_ok("cp '%s' %s/pgtl/wals/", hist, fx->home);
    free(hist);
}

static void
replay_transcript(struct fx *fx, const char *file)
{
    char *path = br_asprintf("%s/cli/%s", h_fixtures_dir(), file);
    char *text = h_read_file(path);
    char *nl, *cmd, *expected, *barman_prefix, *ours;
    struct h_result r;
    int want_status = capture_exit_code(file);

    assert_non_null(text);
    assert_true(strncmp(text, "$ ", 2) == 0);
    nl = strchr(text, '\n');
    cmd = br_strndup(text + 2, (size_t) (nl - text - 2));
    expected = br_strdup(nl + 1);
    /* the transcript files end with one blank line after the output */
    {
        size_t len = strlen(expected);
        if (len >= 1 && expected[len - 1] == '\n' && (len == 1 || expected[len - 2] == '\n'))
            expected[len - 1] = '\0';
    }
    barman_prefix = br_asprintf("'%s' -c '%s'", h_barrel_bin(), fx->conf);
    ours = replace_all(cmd, "barman -c /tmp/bfx/barman.conf", barman_prefix);
    {
        char *home_fixed = replace_all(ours, "/tmp/bfx/barman_home", fx->home);
        char *dir_fixed = replace_all(home_fixed, "/tmp/bfx/getwal", "GETWALDIR");
        char *getwal_dir = br_asprintf("%s/getwal", fx->tmp);
        free(ours);
        ours = replace_all(dir_fixed, "GETWALDIR", getwal_dir);
        free(home_fixed);
        free(dir_fixed);
        /* messages that name the output directory */
        home_fixed = replace_all(expected, "/tmp/bfx/getwal", getwal_dir);
        free(expected);
        expected = home_fixed;
        free(getwal_dir);
    }
    r = h_sh("%s", ours);
    {
        char *both = br_asprintf("%s%s", r.out, r.err);
        if (strcmp(both, expected) != 0 || r.status != want_status)
            fail_msg("%s: %s\nstatus %d (want %d)\n--- got\n%s--- want\n%s", file, ours, r.status, want_status, both,
                     expected);
        free(both);
    }
    h_result_free(&r);
    free(ours);
    free(barman_prefix);
    free(expected);
    free(cmd);
    free(text);
    free(path);
}

static void
test_get_wal_barman_transcripts(void **state)
{
    static const char *const transcripts[] = {
        "get-wal-stdout-sha256.txt", "get-wal-gzip-stdout.txt",  "get-wal-bzip2-stdout.txt",
        "get-wal-history.txt",       "get-wal-missing-history.txt", "get-wal-missing.txt",
        "get-wal-not-a-wal-name.txt", "get-wal-output-directory.txt", "get-wal-partial-stdout.txt",
        "get-wal-partial.txt",       "get-wal-peek-last.txt",    "get-wal-peek.txt",
        "get-wal-test.txt",
    };
    struct fx *fx = *state;

    build_getwal_catalog(fx);
    for (size_t i = 0; i < BR_ARRAY_LEN(transcripts); i++)
        replay_transcript(fx, transcripts[i]);
}

static void
test_get_wal_search_order_and_forms(void **state)
{
    struct fx *fx = *state;
    char *want, *got, *plain = fixture(SEG_PLAIN), *cmd;
    struct h_result r;

    cmd = br_asprintf("cat '%s'", plain);
    want = sha_of(cmd);
    free(cmd);
    /* incoming/ is searched after wals/, streaming/ after incoming/; .partial only with -P */
    put_sample(fx, SEG_PLAIN, "incoming/000000010000000000000030");
    put_sample(fx, SEG_PLAIN, "streaming/000000010000000000000031.partial");
    cmd = br_asprintf("'%s' -c '%s' get-wal pg 000000010000000000000030", h_barrel_bin(), fx->conf);
    got = sha_of(cmd);
    assert_string_equal(got, want);
    free(got);
    free(cmd);
    expect_run(fx, "get-wal pg 000000010000000000000031", 1, "",
               "ERROR: WAL file '000000010000000000000031' not found in server 'pg'\n");
    cmd = br_asprintf("'%s' -c '%s' get-wal -P pg 000000010000000000000031", h_barrel_bin(), fx->conf);
    got = sha_of(cmd);
    assert_string_equal(got, want);
    free(got);
    free(cmd);
    /* --keep-compression sends the stored bytes; -z on a stored gzip file too */
    sh_ok("mkdir -p %s/pg/wals/" HASH, fx->home);
    put_sample(fx, SEG_GZIP, "wals/" HASH "/000000010000000000000019");
    {
        char *gz = fixture(SEG_GZIP);
        r = h_sh("'%s' -c '%s' get-wal --keep-compression pg 000000010000000000000019 | cmp - '%s'", h_barrel_bin(),
                 fx->conf, gz);
        assert_int_equal(r.status, 0);
        h_result_free(&r);
        r = h_sh("'%s' -c '%s' get-wal -z pg 000000010000000000000019 | cmp - '%s'", h_barrel_bin(), fx->conf, gz);
        assert_int_equal(r.status, 0);
        h_result_free(&r);
        free(gz);
    }
    /* an output file that cannot be created: exit 3, nothing on stdout */
    r = barrel(fx, "get-wal -o /nonexistent/dir pg 000000010000000000000019");
    assert_int_equal(r.status, 3);
    assert_string_equal(r.out, "");
    assert_non_null(strstr(r.err, "ERROR: Unable to open '/nonexistent/dir/000000010000000000000019' file"));
    h_result_free(&r);
    /* "all" and unknown servers */
    expect_run(fx, "get-wal nosuch 000000010000000000000019", 1, "", "ERROR: Unknown server 'nosuch'\n");
    free(want);
    free(plain);
}

/* ---- put-wal ---- */

/*
 * Build a tar as barman-wal-archive does (Python tarfile, pax): the file(s)
 * named, then a checksum member. sums: "md5", "sha256", "none", "badmd5".
 * extra: a python statement run before closing (to add odd members).
 */
static char *
make_tar(struct fx *fx, const char *src, const char *name, const char *sums, const char *extra)
{
    static int seq;
    char *out = br_asprintf("%s/put.%d.tar", fx->tmp, ++seq);
    char *script = br_asprintf(
        "import hashlib, io, tarfile, sys\n"
        "src, name, sums, out = sys.argv[1:5]\n"
        "data = open(src, 'rb').read()\n"
        "t = tarfile.open(out, 'w|', format=tarfile.PAX_FORMAT)\n"
        "ti = t.gettarinfo(src, arcname=name)\n"
        "t.addfile(ti, io.BytesIO(data))\n"
        "%s\n"
        "def add(n, text):\n"
        "    b = text.encode(); i = tarfile.TarInfo(n); i.size = len(b); i.mode = 0o644; t.addfile(i, io.BytesIO(b))\n"
        "if sums == 'md5': add('MD5SUMS', '%%s *%%s\\n' %% (hashlib.md5(data).hexdigest(), name))\n"
        "if sums == 'sha256': add('SHA256SUMS', '%%s *%%s\\n' %% (hashlib.sha256(data).hexdigest(), name))\n"
        "if sums == 'badmd5': add('MD5SUMS', '%%s *%%s\\n' %% ('0' * 32, name))\n"
        "if sums == 'orphan': add('MD5SUMS', '%%s *%%s\\n%%s *%%s\\n' %% (hashlib.md5(data).hexdigest(), name, '1' * 32, 'other'))\n"
        "t.close()\n",
        extra ? extra : "");
    char *py = br_asprintf("%s/mk.py", fx->tmp);
    struct h_result r;

    h_write_file(py, script);
    r = h_sh("python3 %s '%s' '%s' '%s' '%s'", py, src, name, sums, out);
    if (r.status != 0)
        fail_msg("python: %s", r.err);
    h_result_free(&r);
    free(py);
    free(script);
    return out;
}

static struct h_result
put_wal(struct fx *fx, const char *tar)
{
    return h_sh("'%s' -c '%s' put-wal pg < '%s'", h_barrel_bin(), fx->conf, tar);
}

static void
test_put_wal_checksums(void **state)
{
    struct fx *fx = *state;
    char *plain = fixture(SEG_PLAIN), *gz = fixture(SEG_GZIP);
    char *tar;
    struct h_result r;

    /* bad checksum: Barman's message, nothing stored, no temporary file left */
    tar = make_tar(fx, plain, "000000010000000000000040", "badmd5", NULL);
    r = put_wal(fx, tar);
    assert_int_equal(r.status, 1);
    {
        char *md5 = NULL;
        struct h_result m = h_sh("md5sum < '%s' | cut -c1-32", plain);
        md5 = br_strndup(m.out, 32);
        char *want = br_asprintf("ERROR: Bad file checksum '%s' (should be %s) for file '000000010000000000000040' "
                                 "in put-wal for server 'pg'\n", md5, "00000000000000000000000000000000");
        assert_string_equal(r.err, want);
        free(want);
        free(md5);
        h_result_free(&m);
    }
    h_result_free(&r);
    free(tar);
    assert_int_equal(count_prefix(fx, "pg/incoming", ""), 2);   /* "." and ".." */

    /* missing checksum */
    tar = make_tar(fx, plain, "000000010000000000000040", "none", NULL);
    r = put_wal(fx, tar);
    assert_int_equal(r.status, 1);
    assert_string_equal(r.err, "ERROR: Missing checksum for file '000000010000000000000040' in put-wal for server 'pg'\n");
    h_result_free(&r);
    free(tar);

    /* checksum without a file */
    tar = make_tar(fx, plain, "000000010000000000000040", "orphan", NULL);
    r = put_wal(fx, tar);
    assert_int_equal(r.status, 1);
    assert_string_equal(r.err, "ERROR: Checksum without corresponding file 'other' in put-wal for server 'pg'\n");
    h_result_free(&r);
    free(tar);
    assert_int_equal(count_prefix(fx, "pg/incoming", ""), 2);

    /* MD5SUMS (3.4 clients) and SHA256SUMS (newer) are both accepted */
    tar = make_tar(fx, plain, "000000010000000000000040", "md5", NULL);
    r = put_wal(fx, tar);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "");
    h_result_free(&r);
    free(tar);
    tar = make_tar(fx, gz, "000000010000000000000041", "sha256", NULL);
    r = put_wal(fx, tar);
    assert_int_equal(r.status, 0);
    h_result_free(&r);
    free(tar);
    r = h_sh("cmp %s/pg/incoming/000000010000000000000040 '%s' && cmp %s/pg/incoming/000000010000000000000041 '%s'",
             fx->home, plain, fx->home, gz);
    assert_int_equal(r.status, 0);
    h_result_free(&r);
    assert_int_equal(count_prefix(fx, "pg/incoming", "."), 2);   /* no .<pid>- file left */

    /* a retry with the same content succeeds; other content under that name is refused, never written */
    tar = make_tar(fx, plain, "000000010000000000000040", "md5", NULL);
    r = put_wal(fx, tar);
    assert_int_equal(r.status, 0);
    h_result_free(&r);
    free(tar);
    tar = make_tar(fx, gz, "000000010000000000000040", "md5", NULL);
    r = put_wal(fx, tar);
    assert_int_equal(r.status, 1);
    assert_string_equal(r.err, "ERROR: Impossible to write already existing file '000000010000000000000040' in put-wal "
                               "for server 'pg'\n");
    h_result_free(&r);
    free(tar);
    r = h_sh("cmp %s/pg/incoming/000000010000000000000040 '%s'", fx->home, plain);
    assert_int_equal(r.status, 0);
    h_result_free(&r);
    assert_int_equal(count_prefix(fx, "pg/incoming", "."), 2);

    /* hostile members */
    tar = make_tar(fx, plain, "000000010000000000000042", "md5",
                   "d = tarfile.TarInfo('somedir'); d.type = tarfile.DIRTYPE; t.addfile(d)");
    r = put_wal(fx, tar);
    assert_int_equal(r.status, 1);
    assert_string_equal(r.err, "ERROR: Unsupported file type '5' for file 'somedir' in put-wal for server 'pg'\n");
    h_result_free(&r);
    free(tar);
    tar = make_tar(fx, plain, "sub/000000010000000000000043", "md5", NULL);
    r = put_wal(fx, tar);
    assert_int_equal(r.status, 1);
    assert_string_equal(r.err, "ERROR: Unsupported filename 'sub/000000010000000000000043' in put-wal for server 'pg'\n");
    h_result_free(&r);
    free(tar);
    assert_false(exists_rel(fx, "pg/incoming/000000010000000000000042"));
    assert_int_equal(count_prefix(fx, "pg/incoming", "."), 2);

    /* garbage on stdin */
    r = h_sh("echo garbage | '%s' -c '%s' put-wal pg", h_barrel_bin(), fx->conf);
    assert_int_equal(r.status, 1);
    h_result_free(&r);

    expect_run(fx, "put-wal --test pg", 0, "Ready to accept WAL files for the server pg\n", "");
    free(plain);
    free(gz);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_archive_wal_streaming_keeps_newest_complete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_archive_wal_streaming_partials, setup, teardown),
        cmocka_unit_test_setup_teardown(test_archive_wal_incoming_errors_and_precompressed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_archive_wal_duplicates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_archive_wal_compression_none_and_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_archive_wal_left_over_tmp_and_busy_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_archive_wal_pool_keeps_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_archive_wal_failure_midway, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rebuild_xlogdb_matches_archive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_wal_barman_transcripts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_wal_search_order_and_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_wal_checksums, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
