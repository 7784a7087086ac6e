/*
 * test_readonly.c: list-backups, show-backup and list-files against Barman
 * 3.4's own transcripts (fixtures cli/), on a copy of the fixture catalog.
 *
 * The catalog: for pg, pgz, pglz4, pgzstd and pgsrv, every directory, file
 * and symlink under barman_home/<server>/base/ is recreated from
 * catalog/barman_home.find.txt (files as sparse files of the listed size:
 * the trimmed fixture has no data files, and only their names and sizes
 * matter here), then each backup.info is copied from catalog/<server>/base/
 * and catalog/<server>/xlog.db goes to <server>/wals/xlog.db. The config is
 * config/barman.conf with barman_home, barman_user (the current user) and
 * log_file pointing into the temporary directory. No figure below is
 * hard-coded: every expected output is a transcript, and every command
 * line is the transcript's own first line ("$ barman -c ... ARGS").
 *
 * The transcripts were taken at different moments of make-fixtures.sh, and
 * the catalog snapshot is the final state. Each test recreates the state of
 * its transcript first:
 *
 *  - REPORTING (make-fixtures.sh phase "reporting": list-backups.*,
 *    list-backups-all.*, show-backup-{latest,by-id,by-name,first,oldest,
 *    last,pgz,pglz4,pgzstd,pgsrv}.*, list-files-*): the FAILED pg backup was
 *    not made yet (its directory is parked outside base/), no keep
 *    annotation, and the WAL archive ended at the "Last available" WAL of
 *    show-backup-latest.txt: later xlog.db lines (00000001000000000000001F,
 *    archived by the final cron) are left out. Server pgtl was added to the
 *    configuration later, so its section is dropped from the config.
 *  - FAILED (list-backups-with-failed.*, show-backup-failed.*,
 *    show-backup-last-failed.txt, list-backups-minimal.txt, err-*): the
 *    FAILED backup is back, still no keep annotation.
 *  - KEEP (list-backups-with-keep.*, show-backup-keep-standalone.*): keep
 *    --target full on the oldest DONE pg backup and --target standalone on
 *    the newest one (the final catalog keeps only the latter: the former was
 *    released afterwards).
 *
 * list-files --target data|standalone|full of a plain backup walk 1,300
 * files in readdir order, which depends on the filesystem: those are
 * compared as sorted lists. Paths Barman computed under /tmp/bfx/barman_home
 * are rewritten to the temporary barman_home; paths stored in backup.info
 * (the FAILED backup's error) are not. argparse's usage error names the
 * program, barman vs barrel.
 *
 * A last test builds a synthetic server with 1,000 backups and 100,000
 * xlog.db lines and checks that list-backups stays fast (one xlog.db pass).
 */
#include "barrel/build.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "barrel/mem.h"
#include "barrel/strbuf.h"
#include "harness.h"

#define ORIG_HOME "/tmp/bfx/barman_home"
#define MAX_ARGS 32

static const char *const servers[] = {"pg", "pgz", "pglz4", "pgzstd", "pgsrv"};

enum catalog_state { STATE_REPORTING, STATE_FAILED, STATE_KEEP };

struct fixture {
    char *tmp;
    char *home;
    char *conf;
    char *parked;              /* where the FAILED backup waits while it "does not exist yet" */
    char *failed_id;           /* pg backup with status=FAILED */
    char *oldest_done_id;      /* pg: oldest DONE backup */
    char *newest_done_id;      /* pg: newest DONE backup */
    int ready;
};

/* ---- small helpers ---- */

static void
mkdir_p(const char *path)
{
    char *copy = br_strdup(path);

    for (char *p = copy + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            mkdir(copy, 0700);
            *p = '/';
        }
    }
    mkdir(copy, 0700);
    free(copy);
}

static char *
replace_all(const char *text, const char *from, const char *to)
{
    struct strbuf sb;
    size_t from_len = strlen(from);
    const char *p = text, *hit;

    strbuf_init(&sb);
    while ((hit = strstr(p, from)) != NULL) {
        strbuf_append_len(&sb, p, (size_t) (hit - p));
        strbuf_append(&sb, to);
        p = hit + from_len;
    }
    strbuf_append(&sb, p);
    return strbuf_detach(&sb);
}

static char *
fixture_path(const char *rel)
{
    return br_asprintf("%s/%s", h_fixtures_dir(), rel);
}

/* Value of "key=" in a backup.info text (new string) or NULL. */
static char *
info_value(const char *text, const char *key)
{
    size_t key_len = strlen(key);

    for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, key, key_len) == 0 && line[key_len] == '=') {
            const char *end = strchr(line, '\n');
            return br_strndup(line + key_len + 1, end ? (size_t) (end - line - key_len - 1) : strlen(line));
        }
    }
    return NULL;
}

/* ---- building the catalog ---- */

/* Recreate barman_home/<server>/base/ from find.txt (sizes) and symlinks.txt (targets). */
static void
recreate_base_tree(struct fixture *fx, const char *server)
{
    char *find_path = fixture_path("catalog/barman_home.find.txt");
    char *links_path = fixture_path("catalog/barman_home.symlinks.txt");
    char *find = h_read_file(find_path);
    char *links = h_read_file(links_path);
    char *prefix = br_asprintf("barman_home/%s/base", server);
    size_t prefix_len = strlen(prefix);

    assert_non_null(find);
    assert_non_null(links);
    for (char *save = NULL, *line = strtok_r(find, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char mode[16];
        long long size;
        int name_at = 0;
        const char *rel;
        char *path;

        if (sscanf(line, "%15s %lld %n", mode, &size, &name_at) != 2 || name_at == 0)
            continue;
        rel = line + name_at;
        if (strncmp(rel, prefix, prefix_len) != 0 || (rel[prefix_len] != '/' && rel[prefix_len] != '\0'))
            continue;
        path = br_asprintf("%s/%s", fx->tmp, rel);      /* tmp/barman_home/... = home/... */
        if (mode[0] == 'd') {
            mkdir_p(path);
        } else if (mode[0] == '-') {
            int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
            assert_true(fd >= 0);
            assert_int_equal(ftruncate(fd, (off_t) size), 0);
            close(fd);
        } else if (mode[0] == 'l') {
            /* "barman_home/x -> /tmp/bfx/barman_home/y": point into our home */
            char *needle = br_asprintf("%s -> ", rel);
            char *hit = strstr(links, needle);
            assert_non_null(hit);
            char *target_end = strchr(hit, '\n');
            char *target = br_strndup(hit + strlen(needle),
                                      target_end ? (size_t) (target_end - hit - strlen(needle)) : strlen(hit));
            char *local = replace_all(target, ORIG_HOME, fx->home);
            assert_int_equal(symlink(local, path), 0);
            free(local);
            free(target);
            free(needle);
        }
        free(path);
    }
    free(prefix);
    free(links);
    free(find);
    free(links_path);
    free(find_path);
}

/* Copy each backup.info of the fixture catalog over the placeholder of the same size. */
static void
copy_backup_infos(struct fixture *fx, const char *server)
{
    char *base = br_asprintf("%s/catalog/%s/base", h_fixtures_dir(), server);
    DIR *dp = opendir(base);
    struct dirent *de;

    assert_non_null(dp);
    while ((de = readdir(dp)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char *src = br_asprintf("%s/%s/backup.info", base, de->d_name);
        char *dst_dir = br_asprintf("%s/%s/base/%s", fx->home, server, de->d_name);
        char *dst = br_asprintf("%s/backup.info", dst_dir);
        char *text = h_read_file(src);

        if (text != NULL) {
            mkdir_p(dst_dir);
            h_write_file(dst, text);
        }
        free(text);
        free(dst);
        free(dst_dir);
        free(src);
    }
    closedir(dp);
    free(base);
}

/* xlog.db as it was in the reporting phase: timeline-1 lines up to last_wal. */
static void
write_xlogdb(struct fixture *fx, const char *server, const char *last_wal)
{
    char *src = br_asprintf("%s/catalog/%s/xlog.db", h_fixtures_dir(), server);
    char *dir = br_asprintf("%s/%s/wals", fx->home, server);
    char *dst = br_asprintf("%s/xlog.db", dir);
    char *text = h_read_file(src);
    struct strbuf out;

    assert_non_null(text);
    strbuf_init(&out);
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, last_wal, strlen(last_wal)) > 0)
            continue;
        strbuf_append(&out, line);
        strbuf_append_char(&out, '\n');
    }
    mkdir_p(dir);
    h_write_file(dst, out.buf);
    strbuf_free(&out);
    free(text);
    free(dst);
    free(dir);
    free(src);
}

/* The fixture config, pointed at our directory, without the late pgtl section. */
static void
write_config(struct fixture *fx)
{
    char *src = fixture_path("config/barman.conf");
    char *text = h_read_file(src);
    char *user = h_current_user();
    struct strbuf out;
    int in_global = 0, skip = 0;

    assert_non_null(text);
    strbuf_init(&out);
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '[') {
            in_global = strncmp(line, "[barman]", 8) == 0;
            skip = strncmp(line, "[pgtl]", 6) == 0;
        }
        if (skip)
            continue;
        if (in_global && strncmp(line, "barman_home", 11) == 0)
            strbuf_appendf(&out, "barman_home = %s\n", fx->home);
        else if (in_global && strncmp(line, "barman_user", 11) == 0)
            strbuf_appendf(&out, "barman_user = %s\n", user);
        else if (in_global && strncmp(line, "log_file", 8) == 0)
            strbuf_appendf(&out, "log_file = %s/barman.log\n", fx->tmp);
        else
            strbuf_appendf(&out, "%s\n", line);
    }
    h_write_file(fx->conf, out.buf);
    strbuf_free(&out);
    free(user);
    free(text);
    free(src);
}

/* "Last available" of show-backup-latest.txt: the newest WAL of the reporting phase. */
static char *
reporting_last_wal(void)
{
    char *path = fixture_path("cli/show-backup-latest.txt");
    char *text = h_read_file(path);
    const char *hit;
    char *wal;

    assert_non_null(text);
    hit = strstr(text, "Last available       : ");
    assert_non_null(hit);
    hit += strlen("Last available       : ");
    wal = br_strndup(hit, strcspn(hit, "\n"));
    free(text);
    free(path);
    return wal;
}

/* The pg backups' roles, from their backup.info files. */
static void
find_pg_roles(struct fixture *fx)
{
    char *base = br_asprintf("%s/catalog/pg/base", h_fixtures_dir());
    DIR *dp = opendir(base);
    struct dirent *de;

    assert_non_null(dp);
    while ((de = readdir(dp)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char *path = br_asprintf("%s/%s/backup.info", base, de->d_name);
        char *text = h_read_file(path);
        char *status = text ? info_value(text, "status") : NULL;

        if (status != NULL && strcmp(status, "FAILED") == 0) {
            fx->failed_id = br_strdup(de->d_name);
        } else if (status != NULL && strcmp(status, "DONE") == 0) {
            if (fx->oldest_done_id == NULL || strcmp(de->d_name, fx->oldest_done_id) < 0) {
                free(fx->oldest_done_id);
                fx->oldest_done_id = br_strdup(de->d_name);
            }
            if (fx->newest_done_id == NULL || strcmp(de->d_name, fx->newest_done_id) > 0) {
                free(fx->newest_done_id);
                fx->newest_done_id = br_strdup(de->d_name);
            }
        }
        free(status);
        free(text);
        free(path);
    }
    closedir(dp);
    free(base);
    assert_non_null(fx->failed_id);
    assert_non_null(fx->oldest_done_id);
    assert_non_null(fx->newest_done_id);
}

static void
set_keep(struct fixture *fx, const char *backup_id, const char *target)
{
    char *dir = br_asprintf("%s/pg/base/%s/annotations", fx->home, backup_id);
    char *file = br_asprintf("%s/keep", dir);

    if (target != NULL) {
        mkdir_p(dir);
        h_write_file(file, target);
    } else {
        unlink(file);
        rmdir(dir);
    }
    free(file);
    free(dir);
}

static void
set_state(struct fixture *fx, enum catalog_state state)
{
    char *in_base = br_asprintf("%s/pg/base/%s", fx->home, fx->failed_id);
    char *parked = br_asprintf("%s/%s", fx->parked, fx->failed_id);
    struct stat st;

    if (state == STATE_REPORTING) {
        if (stat(in_base, &st) == 0)
            assert_int_equal(rename(in_base, parked), 0);
    } else if (stat(parked, &st) == 0) {
        assert_int_equal(rename(parked, in_base), 0);
    }
    set_keep(fx, fx->oldest_done_id, state == STATE_KEEP ? "full" : NULL);
    set_keep(fx, fx->newest_done_id, state == STATE_KEEP ? "standalone" : NULL);
    free(parked);
    free(in_base);
}

static int
group_setup(void **state)
{
    struct fixture *fx = br_calloc(1, sizeof(*fx));
    char *last_wal;

    *state = fx;
    fx->tmp = h_mkdtemp();
    fx->home = br_asprintf("%s/barman_home", fx->tmp);
    fx->conf = br_asprintf("%s/barman.conf", fx->tmp);
    fx->parked = br_asprintf("%s/parked", fx->tmp);
    mkdir_p(fx->home);
    mkdir_p(fx->parked);

    last_wal = reporting_last_wal();
    for (size_t i = 0; i < BR_ARRAY_LEN(servers); i++) {
        recreate_base_tree(fx, servers[i]);
        copy_backup_infos(fx, servers[i]);
        write_xlogdb(fx, servers[i], last_wal);
    }
    free(last_wal);
    write_config(fx);
    find_pg_roles(fx);
    fx->ready = 1;
    return 0;
}

static int
group_teardown(void **state)
{
    struct fixture *fx = *state;

    if (fx->tmp != NULL)
        h_rmtree(fx->tmp);
    free(fx->tmp);
    free(fx->home);
    free(fx->conf);
    free(fx->parked);
    free(fx->failed_id);
    free(fx->oldest_done_id);
    free(fx->newest_done_id);
    free(fx);
    return 0;
}

/* ---- running a transcript ---- */

struct transcript {
    char *argv_text;           /* the first line, after "$ " */
    char *expected;            /* everything after the first line */
    const char *args[MAX_ARGS];
    char *arg_store[MAX_ARGS];
    int n_args;
};

/* Split the command line as the shell did (words, single quotes); drop "barman -c FILE". */
static void
split_command(struct transcript *t)
{
    const char *p = t->argv_text;
    int word = 0;

    while (*p) {
        struct strbuf sb;

        while (*p == ' ')
            p++;
        if (!*p)
            break;
        strbuf_init(&sb);
        while (*p && *p != ' ') {
            if (*p == '\'') {
                const char *q = strchr(p + 1, '\'');
                assert_non_null(q);
                strbuf_append_len(&sb, p + 1, (size_t) (q - p - 1));
                p = q + 1;
            } else {
                strbuf_append_char(&sb, *p++);
            }
        }
        /* word 0 = barman, 1 = -c, 2 = the config file */
        if (word >= 3) {
            assert_true(t->n_args < MAX_ARGS);
            t->arg_store[t->n_args] = strbuf_detach(&sb);
            t->args[t->n_args] = t->arg_store[t->n_args];
            t->n_args++;
        } else {
            strbuf_free(&sb);
        }
        word++;
    }
}

static void
transcript_load(struct transcript *t, const char *name)
{
    char *rel = br_asprintf("cli/%s", name);
    char *path = fixture_path(rel);
    char *text = h_read_file(path);
    char *nl;

    if (text == NULL)
        fail_msg("missing transcript %s", path);
    memset(t, 0, sizeof(*t));
    assert_true(strncmp(text, "$ barman -c ", 12) == 0);
    nl = strchr(text, '\n');
    assert_non_null(nl);
    t->argv_text = br_strndup(text + 2, (size_t) (nl - text - 2));
    t->expected = br_strdup(nl + 1);
    split_command(t);
    free(text);
    free(path);
    free(rel);
}

static void
transcript_free(struct transcript *t)
{
    for (int i = 0; i < t->n_args; i++)
        free(t->arg_store[i]);
    free(t->argv_text);
    free(t->expected);
}

static struct h_result
run_args(struct fixture *fx, const char *const *args, int n_args)
{
    const char *argv[MAX_ARGS + 4];
    int n = 0;

    argv[n++] = h_barrel_bin();
    argv[n++] = "-c";
    argv[n++] = fx->conf;
    for (int i = 0; i < n_args; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    return h_run(argv, NULL, NULL);
}

static void
assert_valid_json(const char *text)
{
    const char *argv[] = {"python3", "-c", "import json,sys; json.load(sys.stdin)", NULL};
    struct h_result r = h_run(argv, text, NULL);

    if (r.status != 0)
        fail_msg("not valid JSON (%s): %s", r.err, text);
    h_result_free(&r);
}

enum compare_flags {
    CMP_EXACT = 0,
    CMP_HOME = 1,              /* rewrite /tmp/bfx/barman_home to our barman_home in the expected text */
    CMP_SORTED = 2,            /* compare the sorted lines (readdir-dependent listings) */
    CMP_PROG = 4,              /* argparse's program name: barman -> barrel */
};

static int
line_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

static char *
sorted_lines(const char *text)
{
    char *copy = br_strdup(text);
    size_t n = 0, cap = 64;
    char **lines = br_malloc(cap * sizeof(*lines));
    struct strbuf sb;

    for (char *save = NULL, *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (n == cap)
            lines = br_realloc(lines, (cap *= 2) * sizeof(*lines));
        lines[n++] = l;
    }
    qsort(lines, n, sizeof(*lines), line_cmp);
    strbuf_init(&sb);
    for (size_t i = 0; i < n; i++) {
        strbuf_append(&sb, lines[i]);
        strbuf_append_char(&sb, '\n');
    }
    free(lines);
    free(copy);
    return strbuf_detach(&sb);
}

/* Run the transcript's command against our catalog and compare with Barman's output and exit status. */
static void
check_transcript(struct fixture *fx, const char *name, int flags)
{
    struct transcript t;
    struct h_result r;
    char *expected, *got, *tmp;
    int want_status;

    assert_true(fx->ready);
    transcript_load(&t, name);
    want_status = strncmp(name, "err-list-files-bad-target", 25) == 0 ? 2 : strncmp(name, "err-", 4) == 0 ? 1 : 0;
    r = run_args(fx, t.args, t.n_args);

    expected = br_strdup(t.expected);
    if (flags & CMP_HOME) {
        tmp = replace_all(expected, ORIG_HOME, fx->home);
        free(expected);
        expected = tmp;
    }
    if (flags & CMP_PROG) {
        tmp = replace_all(expected, "barman list-files", "barrel list-files");
        free(expected);
        expected = tmp;
    }
    /* the transcripts merge stdout and stderr; each of these commands writes to only one */
    got = br_asprintf("%s%s", r.out, r.err);
    if (flags & CMP_SORTED) {
        tmp = sorted_lines(expected);
        free(expected);
        expected = tmp;
        tmp = sorted_lines(got);
        free(got);
        got = tmp;
    }
    if (strcmp(expected, got) != 0) {
        fprintf(stderr, "--- %s: barman %s\n--- expected:\n%s\n--- barrel (status %d):\n%s\n", name, t.argv_text,
                expected, r.status, got);
        fail_msg("%s differs from Barman's transcript", name);
    }
    if (r.status != want_status)
        fail_msg("%s: exit status %d, Barman's was %d", name, r.status, want_status);
    if (want_status == 0)
        assert_string_equal(r.err, "");
    if (strstr(t.argv_text, " -f json ") != NULL && want_status != 2)
        assert_valid_json(r.out);

    free(got);
    free(expected);
    h_result_free(&r);
    transcript_free(&t);
}

/* ---- REPORTING state ---- */

static void
test_list_backups_reporting(void **state)
{
    struct fixture *fx = *state;

    set_state(fx, STATE_REPORTING);
    check_transcript(fx, "list-backups.txt", CMP_EXACT);
    check_transcript(fx, "list-backups.json", CMP_EXACT);
    check_transcript(fx, "list-backups-all.txt", CMP_EXACT);
    check_transcript(fx, "list-backups-all.json", CMP_EXACT);
}

static void
test_show_backup_reporting(void **state)
{
    struct fixture *fx = *state;
    static const char *const names[] = {
        "show-backup-latest.txt", "show-backup-latest.json", "show-backup-by-id.txt", "show-backup-by-id.json",
        "show-backup-by-name.txt", "show-backup-by-name.json", "show-backup-first.txt", "show-backup-oldest.txt",
        "show-backup-last.txt", "show-backup-pgz.txt", "show-backup-pgz.json", "show-backup-pglz4.txt",
        "show-backup-pglz4.json", "show-backup-pgzstd.txt", "show-backup-pgzstd.json", "show-backup-pgsrv.txt",
        "show-backup-pgsrv.json",
    };

    set_state(fx, STATE_REPORTING);
    for (size_t i = 0; i < BR_ARRAY_LEN(names); i++)
        check_transcript(fx, names[i], CMP_EXACT);
}

static void
test_list_files_reporting(void **state)
{
    struct fixture *fx = *state;

    set_state(fx, STATE_REPORTING);
    check_transcript(fx, "list-files-wal.txt", CMP_HOME);
    check_transcript(fx, "list-files-wal.json", CMP_HOME);
    /* a tar backup: one directory level, the order does not depend on readdir */
    check_transcript(fx, "list-files-pgz-standalone.txt", CMP_HOME);
    check_transcript(fx, "list-files-pgz-standalone.json", CMP_HOME);
    /* plain backups: os.walk visits subdirectories in readdir order */
    check_transcript(fx, "list-files-data.txt", CMP_HOME | CMP_SORTED);
    check_transcript(fx, "list-files-standalone.txt", CMP_HOME | CMP_SORTED);
    check_transcript(fx, "list-files-full.txt", CMP_HOME | CMP_SORTED);
    check_transcript(fx, "list-files-pgzstd-data.txt", CMP_HOME | CMP_SORTED);
    check_transcript(fx, "list-files-pgsrv-data.txt", CMP_HOME | CMP_SORTED);
}

/* ---- FAILED state ---- */

static void
test_failed_backup(void **state)
{
    struct fixture *fx = *state;

    set_state(fx, STATE_FAILED);
    check_transcript(fx, "list-backups-with-failed.txt", CMP_EXACT);
    check_transcript(fx, "list-backups-with-failed.json", CMP_EXACT);
    /* the error text names Barman's directory: it is stored in backup.info, not computed */
    check_transcript(fx, "show-backup-failed.txt", CMP_EXACT);
    check_transcript(fx, "show-backup-failed.json", CMP_EXACT);
    check_transcript(fx, "show-backup-last-failed.txt", CMP_EXACT);
    check_transcript(fx, "list-backups-minimal.txt", CMP_EXACT);
}

static void
test_errors(void **state)
{
    struct fixture *fx = *state;

    set_state(fx, STATE_FAILED);
    check_transcript(fx, "err-bad-backup-id.txt", CMP_EXACT);
    check_transcript(fx, "err-bad-backup-id.json", CMP_EXACT);
    check_transcript(fx, "err-bad-backup-id-syntax.txt", CMP_EXACT);
    check_transcript(fx, "err-unknown-server-list-backups.txt", CMP_EXACT);
    check_transcript(fx, "err-list-files-bad-target.txt", CMP_PROG);
}

/* ---- KEEP state ---- */

static void
test_keep_annotations(void **state)
{
    struct fixture *fx = *state;

    set_state(fx, STATE_KEEP);
    check_transcript(fx, "list-backups-with-keep.txt", CMP_EXACT);
    check_transcript(fx, "list-backups-with-keep.json", CMP_EXACT);
    check_transcript(fx, "show-backup-keep-standalone.txt", CMP_EXACT);
    check_transcript(fx, "show-backup-keep-standalone.json", CMP_EXACT);
    set_state(fx, STATE_REPORTING);
}

/* ---- --help and usage ---- */

static void
test_help_and_usage(void **state)
{
    struct fixture *fx = *state;
    static const char *const help_cmds[][2] = {
        {"list-backups", "-h"}, {"list-backup", "--help"}, {"show-backup", "-h"}, {"show-backups", "--help"},
        {"list-files", "-h"},
    };
    const char *missing[] = {"show-backup", "pg"};
    struct h_result r;

    for (size_t i = 0; i < BR_ARRAY_LEN(help_cmds); i++) {
        r = run_args(fx, help_cmds[i], 2);
        assert_int_equal(r.status, 0);
        assert_non_null(strstr(r.out, "usage: barrel "));
        h_result_free(&r);
    }
    r = run_args(fx, missing, 2);
    assert_int_equal(r.status, 2);
    h_result_free(&r);
}

/* ---- scale: 1,000 backups, 100,000 xlog.db lines ---- */

#define PERF_BACKUPS 1000
#define PERF_WALS_PER_BACKUP 100

static void
test_list_backups_scale(void **state)
{
    struct fixture *fx = *state;
    char *conf = br_asprintf("%s/perf.conf", fx->tmp);
    char *home = br_asprintf("%s/perf_home", fx->tmp);
    char *user = h_current_user();
    struct strbuf sb;
    struct timespec t0, t1;
    struct h_result r;
    const char *perf_argv[] = {h_barrel_bin(), "-c", conf, "list-backups", "perf", NULL};
    size_t n_lines = 0;

    /*
     * Backup i (0-based) starts and ends in segment 100*i + 1, every
     * segment is 1,000 bytes: each backup requires 1 segment, and the 100
     * segments after it up to the next backup's end_wal are its WAL Size.
     */
    strbuf_init(&sb);
    for (int i = 0; i < PERF_BACKUPS; i++) {
        char id[32], wal[32], dir[4096];
        time_t when = 1795000000 + (time_t) i * 3600;
        struct tm tm;

        gmtime_r(&when, &tm);
        strftime(id, sizeof(id), "%Y%m%dT%H%M%S", &tm);
        snprintf(wal, sizeof(wal), "00000001%08X%08X", (unsigned) ((100 * i + 1) / 256),
                 (unsigned) ((100 * i + 1) % 256));
        snprintf(dir, sizeof(dir), "%s/perf/base/%s", home, id);
        mkdir_p(dir);
        char *info_path = br_asprintf("%s/backup.info", dir);
        char *info = br_asprintf("backup_label=None\nbegin_offset=40\nbegin_time=2026-11-22 13:31:01+00:00\n"
                                 "begin_wal=%s\nbegin_xlog=0/0\ncompression=None\nconfig_file=None\n"
                                 "copy_stats=None\ndeduplicated_size=None\nend_offset=0\n"
                                 "end_time=2026-11-22 13:31:05+00:00\nend_wal=%s\nend_xlog=0/0\nerror=None\n"
                                 "hba_file=None\nident_file=None\nincluded_files=None\nmode=postgres\n"
                                 "pgdata=/tmp/pgdata\nserver_name=perf\nsize=1000000\nstatus=DONE\n"
                                 "systemid=1\ntablespaces=None\ntimeline=1\nversion=150018\n"
                                 "xlog_segment_size=16777216\n", wal, wal);
        h_write_file(info_path, info);
        free(info);
        free(info_path);
    }
    for (int seg = 1; seg <= PERF_BACKUPS * PERF_WALS_PER_BACKUP; seg++)
        strbuf_appendf(&sb, "00000001%08X%08X\t1000\t%d.5\tgzip\n", (unsigned) (seg / 256), (unsigned) (seg % 256),
                       1795000000 + seg);
    char *wals = br_asprintf("%s/perf/wals", home);
    mkdir_p(wals);
    char *xlogdb = br_asprintf("%s/xlog.db", wals);
    h_write_file(xlogdb, sb.buf);
    strbuf_reset(&sb);
    strbuf_appendf(&sb, "[barman]\nbarman_home = %s\nbarman_user = %s\nlog_file = %s/perf.log\n\n"
                        "[perf]\ndescription = scale\nconninfo = host=127.0.0.1\nbackup_method = postgres\n"
                        "streaming_archiver = on\nslot_name = perf\nretention_policy = REDUNDANCY 2\n",
                   home, user, fx->tmp);
    h_write_file(conf, sb.buf);
    strbuf_free(&sb);

    clock_gettime(CLOCK_MONOTONIC, &t0);
    r = h_run(perf_argv, NULL, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (r.status != 0)
        fail_msg("list-backups perf: status %d: %s", r.status, r.err);
    for (const char *p = r.out; (p = strchr(p, '\n')) != NULL; p++)
        n_lines++;
    assert_int_equal(n_lines, PERF_BACKUPS);
    /* a middle backup: 1 required segment, 100 until the next one; REDUNDANCY 2 makes it OBSOLETE */
    assert_non_null(strstr(r.out, " - Size: 977.5 KiB - WAL Size: 97.7 KiB - OBSOLETE\n"));
    double secs = (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
    /* one pass over 100,000 lines: well under a second; a rescan per backup would take far longer */
    if (secs > 5.0)
        fail_msg("list-backups of 1,000 backups over 100,000 WALs took %.2f s", secs);
    h_result_free(&r);
    free(xlogdb);
    free(wals);
    free(user);
    free(home);
    free(conf);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_backups_reporting),
        cmocka_unit_test(test_show_backup_reporting),
        cmocka_unit_test(test_list_files_reporting),
        cmocka_unit_test(test_failed_backup),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_keep_annotations),
        cmocka_unit_test(test_help_and_usage),
        cmocka_unit_test(test_list_backups_scale),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
