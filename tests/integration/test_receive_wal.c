/*
 * test_receive_wal.c: `barrel receive-wal`, `switch-wal` and `cron` against
 * real PostgreSQL 15 clusters.
 *
 * - under load: pgbench runs for more than 60 s while the receiver streams;
 *   the receiver is killed with SIGKILL at three random moments (the seed is
 *   printed) and started again; afterwards every segment from the one
 *   current before streaming began to the last switched one is in
 *   streaming/ (or wals/ once archived), byte-identical to the server's
 *   pg_wal copy (wal_keep_size keeps them);
 * - the lock: a second receiver is refused, --stop finds the running one;
 * - slots: --create-slot / --drop-slot messages and exit statuses,
 *   create_slot = auto, a missing slot with create_slot = manual;
 * - a timeline switch: a standby made with pg_basebackup -R is streamed
 *   from with a slot, promoted, and the receiver follows it to timeline 2;
 * - switch-wal messages and --archive; cron starting one receiver and one
 *   archive-wal per server across two runs, a second cron refused.
 *
 * Every cluster and every process started here is removed on every exit
 * path: clusters by the harness (and the group teardown), processes by the
 * teardown and an atexit handler that kills whatever is left.
 */
#include "barrel/build.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "barrel/mem.h"
#include "barrel/strbuf.h"
#include "catalog_setup.h"
#include "harness.h"

#define PG_BIN "/usr/lib/postgresql/15/bin"
#define SEG_SIZE (16 * 1024 * 1024)
#define MAX_CHILDREN 64
#define LOAD_SECONDS 62

struct fixture {
    struct h_pg *pg;
    struct h_pg *standby;
    char *tmp;
    char *home;
    char *conf;
    int have_archive_wal;
};

/* ---- background processes ---- */

static pid_t g_children[MAX_CHILDREN];

static void
child_forget(pid_t pid)
{
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (g_children[i] == pid)
            g_children[i] = 0;
}

static void
kill_children(void)
{
    for (int i = 0; i < MAX_CHILDREN; i++) {
        if (g_children[i] > 0) {
            kill(g_children[i], SIGKILL);
            waitpid(g_children[i], NULL, 0);
            g_children[i] = 0;
        }
    }
}

/* Start argv in the background with stdout and stderr appended to logfile. */
static pid_t
spawn(const char *const *argv, const char *logfile)
{
    static int registered;
    pid_t pid;

    if (!registered) {
        atexit(kill_children);
        registered = 1;
    }
    fflush(NULL);
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(logfile, O_WRONLY | O_CREAT | O_APPEND, 0644);
        int nul = open("/dev/null", O_RDONLY);

        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        if (nul >= 0)
            dup2(nul, 0);
        execvp(argv[0], (char *const *) (uintptr_t) argv);
        _exit(127);
    }
    for (int i = 0; i < MAX_CHILDREN; i++) {
        if (g_children[i] == 0) {
            g_children[i] = pid;
            break;
        }
    }
    return pid;
}

/* waitpid with a timeout; returns the wait status, or -1 if still running. */
static int
wait_child(pid_t pid, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 50) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);

        if (r == pid) {
            child_forget(pid);
            return status;
        }
        usleep(50 * 1000);
    }
    return -1;
}

static void
sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- files ---- */

static int
file_exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

static off_t
file_size(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? st.st_size : -1;
}

/* 0 when both files exist and have the same bytes. */
static int
files_equal(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    char ba[65536], bb[65536];
    int rc = 0;

    if (fa == NULL || fb == NULL) {
        rc = -1;
        goto out;
    }
    for (;;) {
        size_t na = fread(ba, 1, sizeof(ba), fa), nb = fread(bb, 1, sizeof(bb), fb);

        if (na != nb || memcmp(ba, bb, na) != 0) {
            rc = 1;
            break;
        }
        if (na == 0)
            break;
    }
out:
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return rc;
}

static int
has_line(const char *text, const char *line)
{
    size_t len = strlen(line);

    for (const char *p = text; p != NULL && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, line, len) == 0 && (p[len] == '\n' || p[len] == '\0'))
            return 1;
    return 0;
}

#define assert_has_line(text, line)                                                                              \
    do {                                                                                                         \
        if (!has_line((text), (line)))                                                                           \
            fail_msg("missing line \"%s\" in:\n%s", (line), (text));                                            \
    } while (0)

static int
count_substr(const char *text, const char *needle)
{
    int n = 0;

    for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* ---- barrel ---- */

static struct h_result
barrel(const struct fixture *fx, const char *conf, const char *a1, const char *a2, const char *a3)
{
    const char *args[] = {a1, a2, a3};

    return h_barrel_args(conf ? conf : fx->conf, args, BR_ARRAY_LEN(args));
}

static pid_t
start_receiver(const struct fixture *fx, const char *conf, const char *server, const char *logfile)
{
    const char *argv[] = {h_barrel_bin(), "-c", conf ? conf : fx->conf, "receive-wal", server, NULL};

    return spawn(argv, logfile);
}

/* pid holding .<server>-<what>.lock, 0 if nobody holds it */
static long
lock_holder(const struct fixture *fx, const char *server, const char *what)
{
    char *path = br_asprintf("%s/.%s-%s.lock", fx->home, server, what);
    int fd = open(path, O_RDONLY);
    long pid = 0;

    free(path);
    if (fd < 0)
        return 0;
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
        flock(fd, LOCK_UN);
    } else {
        char buf[32] = {0};

        if (pread(fd, buf, sizeof(buf) - 1, 0) > 0)
            pid = strtol(buf, NULL, 10);
        if (pid == 0)
            pid = -1;   /* held, pid not written yet */
    }
    close(fd);
    return pid;
}

static int
wait_lock_held(const struct fixture *fx, const char *server, long pid, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 50) {
        if (lock_holder(fx, server, "receive-wal") == pid)
            return 1;
        sleep_ms(50);
    }
    return 0;
}

/* The receiver holds its lock, or the test fails showing what it printed. */
static void
assert_receiver_up(const struct fixture *fx, const char *server, pid_t pid, const char *log)
{
    if (!wait_lock_held(fx, server, pid, 10000)) {
        char *text = h_read_file(log);

        fail_msg("receive-wal %s (pid %ld) does not hold its lock; its output:\n%s", server, (long) pid,
                 text ? text : "(none)");
    }
}

static int
wait_file(const char *path, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 100) {
        if (file_exists(path))
            return 1;
        sleep_ms(100);
    }
    return 0;
}

/* ---- configuration ---- */

static void
write_config(struct fixture *fx)
{
    char *conninfo = h_pg_conninfo(fx->pg), *repl = h_pg_repl_conninfo(fx->pg);
    char *global = br_asprintf("log_file = %s/barrel.log\nlog_level = DEBUG\n", fx->tmp);
    struct strbuf sb;

    strbuf_init(&sb);
    /* load test: streaming with an automatically created slot */
    strbuf_appendf(&sb, "[pg]\nconninfo = %s\nstreaming_conninfo = %s\nbackup_method = postgres\n"
                        "streaming_archiver = on\nslot_name = barrel_pg\ncreate_slot = auto\n\n", conninfo, repl);
    /* slot commands, create_slot = manual */
    strbuf_appendf(&sb, "[slots]\nconninfo = %s\nstreaming_conninfo = %s\nbackup_method = postgres\n"
                        "streaming_archiver = on\nslot_name = barrel_slots\n\n", conninfo, repl);
    /* create_slot = auto */
    strbuf_appendf(&sb, "[auto]\nconninfo = %s\nstreaming_conninfo = %s\nbackup_method = postgres\n"
                        "streaming_archiver = on\nslot_name = barrel_auto\ncreate_slot = auto\n\n", conninfo, repl);
    /* no slot at all, for the lock tests and switch-wal */
    strbuf_appendf(&sb, "[noslot]\nconninfo = %s\nstreaming_conninfo = %s\nbackup_method = postgres\n"
                        "streaming_archiver = on\narchiver = on\n\n", conninfo, repl);
    strbuf_appendf(&sb, "[off]\nconninfo = %s\nbackup_method = postgres\narchiver = on\n\n", conninfo);
    if (fx->standby != NULL) {
        char *sconn = h_pg_conninfo(fx->standby), *srepl = h_pg_repl_conninfo(fx->standby);

        strbuf_appendf(&sb, "[stb]\nconninfo = %s\nstreaming_conninfo = %s\nbackup_method = postgres\n"
                            "streaming_archiver = on\nslot_name = barrel_stb\ncreate_slot = auto\n\n", sconn, srepl);
        free(sconn);
        free(srepl);
    }
    h_write_conf(fx->conf, fx->home, NULL, global, sb.buf);
    strbuf_free(&sb);
    free(global);
    free(conninfo);
    free(repl);
}

static int
group_setup(void **state)
{
    struct fixture *fx = br_calloc(1, sizeof(*fx));

    *state = fx;
    if (!h_pg_available())
        return 0;
    /* keep every segment in pg_wal so that the received ones can be compared with them */
    fx->pg = h_pg_start("wal_keep_size = '8GB'\nmax_wal_size = '1GB'\nhot_standby = on\n");
    if (fx->pg == NULL)
        return 0;
    h_fixture_dirs(&fx->tmp, &fx->home, &fx->conf, "barrel.conf");
    mkdir(fx->home, 0700);
    write_config(fx);
    {
        const char *argv[] = {h_barrel_bin(), "archive-wal", "--help", NULL};
        struct h_result r = h_run(argv, NULL, NULL);

        fx->have_archive_wal = r.status == 0;
        h_result_free(&r);
    }
    return 0;
}

static int
group_teardown(void **state)
{
    struct fixture *fx = *state;

    kill_children();
    h_pg_destroy(fx->standby);
    h_fixture_drop(fx->pg, fx->tmp, fx->home, fx->conf);
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

static char *
sql(struct h_pg *pg, const char *query)
{
    char *out = h_pg_sql(pg, "postgres", query);

    if (out == NULL)
        fail_msg("query failed: %s", query);
    return out;
}

static char *
path_of(const struct fixture *fx, const char *server, const char *sub, const char *name)
{
    return br_asprintf("%s/%s/%s/%s", fx->home, server, sub, name);
}

/* The archived or streamed copy of a segment: streaming/NAME or wals/<16 hex>/NAME. */
static char *
received_copy(const struct fixture *fx, const char *server, const char *name)
{
    char *p = path_of(fx, server, "streaming", name);
    char hash[17];

    if (file_exists(p))
        return p;
    free(p);
    snprintf(hash, sizeof(hash), "%.16s", name);
    p = br_asprintf("%s/%s/wals/%s/%s", fx->home, server, hash, name);
    if (file_exists(p))
        return p;
    free(p);
    return NULL;
}

static void
segment_name(uint32_t tli, uint64_t segno, char *buf)
{
    snprintf(buf, 25, "%08X%08X%08X", tli, (uint32_t) (segno / 256), (uint32_t) (segno % 256));
}

static uint64_t
segno_of_name(const char *name)
{
    unsigned log = 0, seg = 0;

    sscanf(name + 8, "%8x%8x", &log, &seg);
    return (uint64_t) log * 256 + seg;
}

/* ---- tests ---- */

static void
test_receive_wal_refusals_and_stop(void **state)
{
    struct fixture *fx = need_pg(state);
    char *log = br_asprintf("%s/noslot.log", fx->tmp);
    struct h_result r;
    pid_t pid;
    int status;
    char *expect, *text;

    /* streaming_archiver = off */
    r = barrel(fx, NULL, "receive-wal", "off", NULL);
    assert_int_equal(r.status, 1);
    assert_string_equal(r.err, "ERROR: Unable to start receive-wal process: streaming_archiver option set to 'off' "
                               "in barman configuration file\n");
    h_result_free(&r);

    /* nothing to stop */
    r = barrel(fx, NULL, "receive-wal", "--stop", "noslot");
    assert_int_equal(r.status, 1);
    assert_string_equal(r.err, "ERROR: Termination of receive-wal failed: no such process for server noslot\n");
    h_result_free(&r);

    pid = start_receiver(fx, NULL, "noslot", log);
    assert_true(pid > 0);
    assert_receiver_up(fx, "noslot", pid, log);

    /* a second receiver is refused while the first holds the lock (Barman 3.4: exit 0) */
    r = barrel(fx, NULL, "receive-wal", "noslot", NULL);
    assert_string_equal(r.out, "Starting receive-wal for server noslot\n"
                               "Another receive-wal process is already running for server noslot.\n");
    assert_int_equal(r.status, 0);
    h_result_free(&r);
    /* --reset too */
    r = barrel(fx, NULL, "receive-wal", "--reset", "noslot");
    assert_string_equal(r.out, "Unable to reset the status of receive-wal for server noslot. Process is still running\n");
    h_result_free(&r);
    r = barrel(fx, NULL, "receive-wal", "--stop", "--reset");
    assert_int_not_equal(r.status, 0);
    h_result_free(&r);

    /* --stop: SIGINT to the pid in the lock, then a clean exit */
    r = barrel(fx, NULL, "receive-wal", "--stop", "noslot");
    expect = br_asprintf("Stopped process receive-wal(%ld)\n", (long) pid);
    assert_string_equal(r.out, expect);
    assert_int_equal(r.status, 0);
    h_result_free(&r);
    free(expect);
    status = wait_child(pid, 5000);
    assert_true(status != -1);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    text = h_read_file(log);
    assert_has_line(text, "Starting receive-wal for server noslot");
    assert_non_null(strstr(text, "noslot: starting log streaming at "));
    assert_has_line(text, "SIGINT received. Terminate gracefully.");
    free(text);
    assert_int_equal(lock_holder(fx, "noslot", "receive-wal"), 0);
    free(log);
}

static void
test_receive_wal_slot_commands(void **state)
{
    struct fixture *fx = need_pg(state);
    struct h_result r;
    char *out;

    r = barrel(fx, NULL, "receive-wal", "--create-slot", "slots");
    assert_string_equal(r.out, "Creating physical replication slot 'barrel_slots' on server 'slots'\n"
                               "Replication slot 'barrel_slots' created\n");
    assert_string_equal(r.err, "");
    assert_int_equal(r.status, 0);
    h_result_free(&r);
    out = sql(fx->pg, "SELECT slot_type FROM pg_replication_slots WHERE slot_name = 'barrel_slots'");
    assert_string_equal(out, "physical");
    free(out);

    r = barrel(fx, NULL, "receive-wal", "--create-slot", "slots");
    assert_string_equal(r.out, "Creating physical replication slot 'barrel_slots' on server 'slots'\n");
    assert_string_equal(r.err, "ERROR: Replication slot 'barrel_slots' already exists\n");
    assert_int_equal(r.status, 1);
    h_result_free(&r);

    r = barrel(fx, NULL, "receive-wal", "--drop-slot", "slots");
    assert_string_equal(r.out, "Dropping physical replication slot 'barrel_slots' on server 'slots'\n"
                               "Replication slot 'barrel_slots' dropped\n");
    assert_int_equal(r.status, 0);
    h_result_free(&r);

    r = barrel(fx, NULL, "receive-wal", "--drop-slot", "slots");
    assert_string_equal(r.err, "ERROR: Replication slot 'barrel_slots' does not exist\n");
    assert_int_equal(r.status, 1);
    h_result_free(&r);

    /* create_slot = manual and no slot: Barman's error, nothing streamed */
    r = barrel(fx, NULL, "receive-wal", "slots", NULL);
    assert_string_equal(r.out, "Starting receive-wal for server slots\n");
    assert_string_equal(r.err, "ERROR: replication slot 'barrel_slots' doesn't exist. Please execute 'barrel "
                               "receive-wal --create-slot slots'\n");
    assert_int_equal(r.status, 1);
    h_result_free(&r);

    /* no slot_name */
    r = barrel(fx, NULL, "receive-wal", "--create-slot", "noslot");
    assert_string_equal(r.err, "ERROR: Unable to create a physical replication slot: slot_name configuration option "
                               "required\n");
    assert_int_equal(r.status, 1);
    h_result_free(&r);
}

static void
test_receive_wal_create_slot_auto(void **state)
{
    struct fixture *fx = need_pg(state);
    char *log = br_asprintf("%s/auto.log", fx->tmp);
    char *text, *out;
    pid_t pid;
    struct h_result r;

    pid = start_receiver(fx, NULL, "auto", log);
    assert_receiver_up(fx, "auto", pid, log);
    /* the slot is created and becomes active */
    for (int i = 0; i < 100; i++) {
        out = sql(fx->pg, "SELECT active FROM pg_replication_slots WHERE slot_name = 'barrel_auto'");
        int active = strcmp(out, "t") == 0;
        free(out);
        if (active)
            break;
        sleep_ms(100);
    }
    out = sql(fx->pg, "SELECT active FROM pg_replication_slots WHERE slot_name = 'barrel_auto'");
    assert_string_equal(out, "t");
    free(out);
    r = barrel(fx, NULL, "receive-wal", "--stop", "auto");
    if (r.status != 0)
        fail_msg("--stop failed: %s%s", r.out, r.err);
    h_result_free(&r);
    assert_true(wait_child(pid, 5000) != -1);
    text = h_read_file(log);
    assert_non_null(strstr(text, "Starting receive-wal for server auto\n"
                                 "Creating replication slot 'barrel_auto'\n"
                                 "Creating physical replication slot 'barrel_auto' on server 'auto'\n"
                                 "Replication slot 'barrel_auto' created\n"
                                 "auto: starting log streaming at "));
    free(text);
    /* the slot reports what was flushed */
    out = sql(fx->pg, "SELECT restart_lsn IS NOT NULL FROM pg_replication_slots WHERE slot_name = 'barrel_auto'");
    assert_string_equal(out, "t");
    free(out);
    free(log);
}

/*
 * pgbench for LOAD_SECONDS while the receiver streams, with three SIGKILLs
 * at random moments; then every segment must be there, byte for byte.
 */
static void
test_receive_wal_under_load_with_kills(void **state)
{
    struct fixture *fx = need_pg(state);
    char *log = br_asprintf("%s/pg.log", fx->tmp);
    char *bench_log = br_asprintf("%s/pgbench.log", fx->tmp);
    char port[16], first[25], last[25], *out, *text;
    unsigned seed = (unsigned) time(NULL) ^ (unsigned) getpid();
    int kill_at_s[3];
    int kills = 0, switches = 0;
    pid_t receiver, bench;
    int64_t t0;
    struct h_result r;

    print_message("random seed %u\n", seed);
    srand(seed);
    /* three moments in [6, 56) s, at least 5 s apart */
    kill_at_s[0] = 6 + rand() % 12;
    kill_at_s[1] = kill_at_s[0] + 5 + rand() % 12;
    kill_at_s[2] = kill_at_s[1] + 5 + rand() % (56 - kill_at_s[1] - 5);
    print_message("SIGKILL at %d, %d and %d s\n", kill_at_s[0], kill_at_s[1], kill_at_s[2]);

    snprintf(port, sizeof(port), "%d", fx->pg->port);
    r = h_sh(PG_BIN "/pgbench -i -q -s 2 -h 127.0.0.1 -p %s -U postgres postgres", port);
    if (r.status != 0)
        fail_msg("pgbench -i failed: %s", r.err);
    h_result_free(&r);

    out = sql(fx->pg, "SELECT pg_walfile_name(pg_current_wal_lsn())");
    snprintf(first, sizeof(first), "%s", out);
    free(out);

    receiver = start_receiver(fx, NULL, "pg", log);
    assert_receiver_up(fx, "pg", receiver, log);
    {
        const char *argv[] = {PG_BIN "/pgbench", "-n", "-c", "4", "-j", "2", "-T", "62", "-h", "127.0.0.1",
                              "-p", port, "-U", "postgres", "postgres", NULL};
        bench = spawn(argv, bench_log);
    }
    assert_true(bench > 0);
    t0 = now_ms();
    for (;;) {
        int64_t elapsed_s = (now_ms() - t0) / 1000;
        int status;

        if (kills < 3 && elapsed_s >= kill_at_s[kills]) {
            kill(receiver, SIGKILL);
            assert_true(wait_child(receiver, 5000) != -1);
            kills++;
            sleep_ms(rand() % 1500);
            receiver = start_receiver(fx, NULL, "pg", log);
            assert_receiver_up(fx, "pg", receiver, log);
        }
        /* more segment boundaries than pgbench alone would make */
        if (elapsed_s >= 4 * (switches + 1)) {
            free(sql(fx->pg, "SELECT pg_switch_wal()"));
            switches++;
        }
        status = wait_child(bench, 200);
        if (status != -1) {
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                text = h_read_file(bench_log);
                fail_msg("pgbench failed:\n%s", text);
            }
            break;
        }
        if (now_ms() - t0 > (LOAD_SECONDS + 60) * 1000)
            fail_msg("pgbench did not finish");
    }
    assert_int_equal(kills, 3);
    assert_true(now_ms() - t0 >= 60 * 1000);

    /* the last switched segment, then wait for the receiver to complete it */
    out = sql(fx->pg, "SELECT pg_walfile_name(pg_switch_wal())");
    snprintf(last, sizeof(last), "%s", out);
    free(out);
    {
        char *p = path_of(fx, "pg", "streaming", last);

        if (!wait_file(p, 60000)) {
            text = h_read_file(log);
            fail_msg("segment %s never arrived; receiver output:\n%s", last, text);
        }
        free(p);
    }
    r = barrel(fx, NULL, "receive-wal", "--stop", "pg");
    assert_int_equal(r.status, 0);
    h_result_free(&r);
    assert_true(wait_child(receiver, 5000) != -1);

    if (fx->have_archive_wal) {
        r = barrel(fx, NULL, "archive-wal", "pg", NULL);
        assert_int_equal(r.status, 0);
        h_result_free(&r);
    }

    /* every segment from first to last, complete and identical to pg_wal's */
    {
        uint64_t from = segno_of_name(first), to = segno_of_name(last);
        char *xlogdb = br_asprintf("%s/pg/wals/xlog.db", fx->home);
        char *db = fx->have_archive_wal ? h_read_file(xlogdb) : NULL;

        print_message("checking %llu segments %s .. %s\n", (unsigned long long) (to - from + 1), first, last);
        assert_true(to - from >= 4);
        for (uint64_t s = from; s <= to; s++) {
            char name[25], *mine, *theirs;

            segment_name(1, s, name);
            mine = received_copy(fx, "pg", name);
            if (mine == NULL)
                fail_msg("segment %s is missing", name);
            theirs = br_asprintf("%s/pg_wal/%s", fx->pg->datadir, name);
            assert_int_equal(file_size(mine), SEG_SIZE);
            if (files_equal(mine, theirs) != 0)
                fail_msg("segment %s differs from the server's copy", name);
            if (db != NULL && strstr(mine, "/wals/") != NULL && count_substr(db, name) != 1)
                fail_msg("segment %s appears %d times in xlog.db", name, count_substr(db, name));
            free(mine);
            free(theirs);
        }
        free(db);
        free(xlogdb);
    }
    text = h_read_file(log);
    /* four starts, each resuming where the last complete segment ended */
    assert_int_equal(count_substr(text, "Starting receive-wal for server pg\n"), 4);
    assert_true(count_substr(text, "pg: starting log streaming at ") >= 4);
    assert_null(strstr(text, "ERROR"));
    free(text);
    free(log);
    free(bench_log);
}

/* Run a shell command as the cluster's OS user. */
static struct h_result
pg_user_sh(const struct h_pg *pg, const char *cmd)
{
    if (pg->os_user != NULL)
        return h_sh("runuser -u %s -- sh -c '%s'", pg->os_user, cmd);
    return h_sh("%s", cmd);
}

static struct h_pg *
make_standby(struct h_pg *primary)
{
    struct h_pg *sb = br_calloc(1, sizeof(*sb));
    struct h_result r;
    char *cmd, *conf, *text;

    sb->bindir = br_strdup(PG_BIN);
    sb->basedir = h_mkdtemp();
    sb->datadir = br_asprintf("%s/data", sb->basedir);
    sb->sockdir = br_asprintf("%s/sock", sb->basedir);
    sb->os_user = br_strdup(primary->os_user);
    mkdir(sb->sockdir, 0700);
    if (sb->os_user != NULL) {
        r = h_sh("chown -R %s %s", sb->os_user, sb->basedir);
        h_result_free(&r);
    }
    cmd = br_asprintf(PG_BIN "/pg_basebackup -R -X stream -c fast -D %s -h 127.0.0.1 -p %d -U postgres",
                      sb->datadir, primary->port);
    r = pg_user_sh(sb, cmd);
    free(cmd);
    if (r.status != 0) {
        fprintf(stderr, "pg_basebackup failed: %s%s", r.out, r.err);
        h_result_free(&r);
        h_pg_destroy(sb);
        return NULL;
    }
    h_result_free(&r);
    /* the copied postgresql.conf includes the primary's port file: our lines come after it */
    sb->port = h_free_port();
    conf = br_asprintf("%s/postgresql.conf", sb->datadir);
    text = h_read_file(conf);
    {
        char *more = br_asprintf("%s\nport = %d\nunix_socket_directories = '%s'\n", text, sb->port, sb->sockdir);

        h_write_file(conf, more);
        free(more);
    }
    free(text);
    free(conf);
    cmd = br_asprintf(PG_BIN "/pg_ctl -w -t 60 -D %s -l %s/postgresql.log start", sb->datadir, sb->basedir);
    r = pg_user_sh(sb, cmd);
    free(cmd);
    if (r.status != 0) {
        fprintf(stderr, "standby start failed: %s%s", r.out, r.err);
        h_result_free(&r);
        h_pg_destroy(sb);
        return NULL;
    }
    h_result_free(&r);
    sb->running = 1;
    return sb;
}

static void
test_receive_wal_follows_timeline_switch(void **state)
{
    struct fixture *fx = need_pg(state);
    char *log = br_asprintf("%s/stb.log", fx->tmp);
    char *text, *out, *p, *q, *cmd, seg1[64], seg2[64];
    struct h_result r;
    pid_t pid;

    fx->standby = make_standby(fx->pg);
    assert_non_null(fx->standby);
    write_config(fx);

    pid = start_receiver(fx, NULL, "stb", log);
    assert_receiver_up(fx, "stb", pid, log);

    /* WAL on timeline 1 through the standby */
    free(sql(fx->pg, "CREATE TABLE tl(i int); INSERT INTO tl SELECT generate_series(1, 10000)"));
    out = sql(fx->pg, "SELECT pg_walfile_name(pg_switch_wal())");
    snprintf(seg1, sizeof(seg1), "%s", out);
    free(out);
    p = path_of(fx, "stb", "streaming", seg1);
    if (!wait_file(p, 30000)) {
        text = h_read_file(log);
        fail_msg("segment %s never arrived from the standby:\n%s", seg1, text);
    }
    free(p);

    /* some WAL past the switch, replayed by the standby: timeline 1 then ends inside a segment */
    free(sql(fx->pg, "INSERT INTO tl SELECT generate_series(1, 1000)"));
    out = sql(fx->pg, "SELECT pg_current_wal_lsn()");
    cmd = br_asprintf("SELECT pg_last_wal_replay_lsn() >= '%s'::pg_lsn", out);
    free(out);
    for (int i = 0; i < 300; i++) {
        out = sql(fx->standby, cmd);
        int caught_up = strcmp(out, "t") == 0;
        free(out);
        if (caught_up)
            break;
        sleep_ms(100);
    }
    free(cmd);

    /* promote: the standby goes to timeline 2, the receiver follows */
    cmd = br_asprintf(PG_BIN "/pg_ctl -w -t 60 -D %s promote", fx->standby->datadir);
    r = pg_user_sh(fx->standby, cmd);
    free(cmd);
    assert_int_equal(r.status, 0);
    h_result_free(&r);
    free(sql(fx->standby, "INSERT INTO tl SELECT generate_series(1, 10000)"));
    out = sql(fx->standby, "SELECT pg_walfile_name(pg_switch_wal())");
    snprintf(seg2, sizeof(seg2), "%s", out);
    free(out);
    assert_true(strncmp(seg2, "00000002", 8) == 0);

    p = path_of(fx, "stb", "streaming", seg2);
    if (!wait_file(p, 30000)) {
        text = h_read_file(log);
        fail_msg("segment %s of timeline 2 never arrived:\n%s", seg2, text);
    }
    q = br_asprintf("%s/pg_wal/%s", fx->standby->datadir, seg2);
    assert_int_equal(files_equal(p, q), 0);
    free(p);
    free(q);
    p = path_of(fx, "stb", "streaming", "00000002.history");
    q = br_asprintf("%s/pg_wal/00000002.history", fx->standby->datadir);
    assert_true(file_exists(p));
    assert_int_equal(files_equal(p, q), 0);
    free(p);
    free(q);

    r = barrel(fx, NULL, "receive-wal", "--stop", "stb");
    assert_int_equal(r.status, 0);
    h_result_free(&r);
    assert_true(wait_child(pid, 5000) != -1);
    text = h_read_file(log);
    assert_non_null(strstr(text, "stb: switched to timeline 2 at "));
    /* the last segment of timeline 1 stays partial (pg_receivewal's rule, and Barman archives it) */
    assert_non_null(strstr(text, ".partial\", segment is not complete"));
    assert_null(strstr(text, "ERROR"));
    free(text);

    /* a restart resumes on timeline 2 */
    pid = start_receiver(fx, NULL, "stb", log);
    assert_receiver_up(fx, "stb", pid, log);
    sleep_ms(1000);
    r = barrel(fx, NULL, "receive-wal", "--stop", "stb");
    h_result_free(&r);
    assert_true(wait_child(pid, 5000) != -1);
    text = h_read_file(log);
    {
        const char *lastp = NULL;

        for (const char *s = text; (s = strstr(s, "stb: starting log streaming at ")) != NULL; s++)
            lastp = s;
        assert_non_null(lastp);
        assert_non_null(strstr(lastp, "(timeline 2)"));
    }
    free(text);
    free(log);
}

/* ---- switch-wal ---- */

static void
test_switch_wal(void **state)
{
    struct fixture *fx = need_pg(state);
    char *log = br_asprintf("%s/switch.log", fx->tmp);
    char wal[64], *line, *p;
    struct h_result r;
    pid_t pid;

    /* plain switch (alias switch-xlog too) */
    r = barrel(fx, NULL, "switch-wal", "noslot", NULL);
    assert_int_equal(r.status, 0);
    assert_int_equal(sscanf(r.out, "The WAL file %24s has been closed on server 'noslot'", wal), 1);
    h_result_free(&r);
    free(sql(fx->pg, "CREATE TABLE IF NOT EXISTS sw(i int); INSERT INTO sw VALUES (1)"));
    r = barrel(fx, NULL, "switch-xlog", "noslot", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "has been closed on server 'noslot'\n"));
    h_result_free(&r);

    /* a standby-less, unreachable server */
    r = barrel(fx, NULL, "switch-wal", "--archive-timeout", "x");
    assert_int_equal(r.status, 2);
    h_result_free(&r);

    if (!fx->have_archive_wal) {
        print_message("archive-wal is not available: --archive not tested\n");
        free(log);
        return;
    }

    /* --archive with a receiver running: the closed file arrives in wals/ */
    pid = start_receiver(fx, NULL, "noslot", log);
    assert_receiver_up(fx, "noslot", pid, log);
    free(sql(fx->pg, "INSERT INTO sw VALUES (2)"));
    {
        const char *argv[] = {h_barrel_bin(), "-c", fx->conf, "switch-wal", "--force", "--archive",
                              "--archive-timeout", "30", "noslot", NULL};
        r = h_run(argv, NULL, NULL);
    }
    if (r.status != 0)
        fail_msg("switch-wal --archive failed:\n%s%s", r.out, r.err);
    assert_int_equal(sscanf(r.out, "The WAL file %24s has been closed on server 'noslot'", wal), 1);
    line = br_asprintf("Waiting for the WAL file %s from server 'noslot' (max: 30 seconds)", wal);
    assert_has_line(r.out, line);
    free(line);
    assert_has_line(r.out, "Processing xlog segments from streaming for noslot");
    line = br_asprintf("\t%s", wal);
    assert_has_line(r.out, line);
    free(line);
    h_result_free(&r);
    p = received_copy(fx, "noslot", wal);
    assert_non_null(p);
    assert_non_null(strstr(p, "/wals/"));
    free(p);

    /* no receiver: the wait times out with Barman's error */
    r = barrel(fx, NULL, "receive-wal", "--stop", "noslot");
    assert_int_equal(r.status, 0);
    h_result_free(&r);
    assert_true(wait_child(pid, 5000) != -1);
    free(sql(fx->pg, "INSERT INTO sw VALUES (3)"));
    {
        const char *argv[] = {h_barrel_bin(), "-c", fx->conf, "switch-wal", "--archive", "--archive-timeout", "1",
                              "noslot", NULL};
        r = h_run(argv, NULL, NULL);
    }
    assert_int_equal(r.status, 1);
    assert_int_equal(sscanf(r.out, "The WAL file %24s has been closed on server 'noslot'", wal), 1);
    line = br_asprintf("ERROR: The WAL file %s has not been received in 1 seconds\n", wal);
    assert_string_equal(r.err, line);
    free(line);
    h_result_free(&r);
    free(log);
}

/* ---- cron ---- */

/* Running receive-wal processes for this configuration and server (zombies excluded). */
static int
count_receivers(const char *conf, const char *server)
{
    DIR *d = opendir("/proc");
    struct dirent *de;
    int n = 0;

    if (d == NULL)
        return -1;
    while ((de = readdir(d)) != NULL) {
        char path[300], buf[4096], stat_buf[512];
        const char *args[16];
        size_t len, nargs = 0;
        FILE *fp;
        int has_conf = 0, has_cmd = 0, has_srv = 0;

        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
        fp = fopen(path, "r");
        if (fp == NULL)
            continue;
        if (fgets(stat_buf, sizeof(stat_buf), fp) == NULL || strstr(stat_buf, ") Z ") != NULL) {
            fclose(fp);
            continue;
        }
        fclose(fp);
        snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
        fp = fopen(path, "r");
        if (fp == NULL)
            continue;
        len = fread(buf, 1, sizeof(buf) - 1, fp);
        fclose(fp);
        buf[len] = '\0';
        for (size_t off = 0; off < len && nargs < BR_ARRAY_LEN(args); off += strlen(buf + off) + 1)
            args[nargs++] = buf + off;
        for (size_t i = 0; i < nargs; i++) {
            has_conf |= strcmp(args[i], conf) == 0;
            has_cmd |= strcmp(args[i], "receive-wal") == 0;
            has_srv |= strcmp(args[i], server) == 0 && i > 0 && strcmp(args[i - 1], "receive-wal") == 0;
        }
        if (has_conf && has_cmd && has_srv)
            n++;
    }
    closedir(d);
    return n;
}

static void
write_cron_config(const struct fixture *fx, const char *conf, const char *home, int c2_streaming)
{
    char *conninfo = h_pg_conninfo(fx->pg), *repl = h_pg_repl_conninfo(fx->pg), *user = h_current_user();
    char *text = br_asprintf("[barman]\nbarman_home = %s\nbarman_user = %s\nlog_file = %s/cron.log\n\n"
                             "[c1]\nconninfo = %s\nstreaming_conninfo = %s\nbackup_method = postgres\n"
                             "streaming_archiver = on\nslot_name = barrel_c1\ncreate_slot = auto\n\n"
                             "[c2]\nconninfo = %s\nstreaming_conninfo = %s\nbackup_method = postgres\n"
                             "streaming_archiver = %s\narchiver = on\n\n"
                             "[c3]\nactive = false\nconninfo = %s\nbackup_method = postgres\narchiver = on\n",
                             home, user, fx->tmp, conninfo, repl, conninfo, repl, c2_streaming ? "on" : "off",
                             conninfo);

    h_write_file(conf, text);
    free(text);
    free(conninfo);
    free(repl);
    free(user);
}

/* cron's receivers are not our children (new session, reparented): kill them by the pid in their locks. */
static void
kill_cron_receivers(const char *home)
{
    static const char *const servers[] = {"c1", "c2"};

    for (size_t i = 0; i < BR_ARRAY_LEN(servers); i++) {
        char *path = br_asprintf("%s/.%s-receive-wal.lock", home, servers[i]);
        int fd = open(path, O_RDONLY);

        free(path);
        if (fd < 0)
            continue;
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            char buf[32] = {0};
            long pid;

            if (pread(fd, buf, sizeof(buf) - 1, 0) > 0 && (pid = strtol(buf, NULL, 10)) > 0)
                kill((pid_t) pid, SIGKILL);
        }
        close(fd);
    }
}

static char *g_cron_home;

static void
cron_cleanup_at_exit(void)
{
    if (g_cron_home != NULL)
        kill_cron_receivers(g_cron_home);
}

static void
test_cron(void **state)
{
    struct fixture *fx = need_pg(state);
    char *conf = br_asprintf("%s/cron.conf", fx->tmp);
    char *home = br_asprintf("%s/cronhome", fx->tmp);
    char *lockpath, *line;
    struct h_result r;
    struct fixture cfx = *fx;
    long c1, c2;
    int fd;

    mkdir(home, 0700);
    g_cron_home = home;
    atexit(cron_cleanup_at_exit);
    write_cron_config(fx, conf, home, 1);
    cfx.home = home;

    /* first run: one archive-wal and one receiver per active server */
    r = barrel(fx, conf, "cron", NULL, NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "Starting WAL archiving for server c1\n"
                               "Starting streaming archiver for server c1\n"
                               "Starting WAL archiving for server c2\n"
                               "Starting streaming archiver for server c2\n"
                               "Skipping inactive server 'c3'\n");
    h_result_free(&r);
    c1 = lock_holder(&cfx, "c1", "receive-wal");
    c2 = lock_holder(&cfx, "c2", "receive-wal");
    assert_true(c1 > 0);
    assert_true(c2 > 0);
    assert_int_equal(count_receivers(conf, "c1"), 1);
    assert_int_equal(count_receivers(conf, "c2"), 1);

    /* second run: archive-wal again, no second receiver */
    r = barrel(fx, conf, "cron", NULL, NULL);
    assert_int_equal(r.status, 0);
    assert_null(strstr(r.out, "Starting streaming archiver"));
    assert_true(has_line(r.out, "Starting WAL archiving for server c1")
                || has_line(r.out, "Another archive-wal process is already running on server c1. Skipping to the "
                                   "next server"));
    h_result_free(&r);
    sleep_ms(500);
    assert_int_equal(count_receivers(conf, "c1"), 1);
    assert_int_equal(count_receivers(conf, "c2"), 1);
    assert_int_equal(lock_holder(&cfx, "c1", "receive-wal"), c1);
    assert_int_equal(lock_holder(&cfx, "c2", "receive-wal"), c2);

    /* a second cron while one runs (the global lock is held): refused, exit 0 */
    lockpath = br_asprintf("%s/.cron.lock", home);
    fd = open(lockpath, O_RDWR | O_CREAT, 0600);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
    r = barrel(fx, conf, "cron", NULL, NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "Another cron process is already running. Skipping this run\n");
    h_result_free(&r);
    close(fd);
    free(lockpath);

    /* a server whose cron lock is held is skipped */
    lockpath = br_asprintf("%s/.c1-cron.lock", home);
    fd = open(lockpath, O_RDWR | O_CREAT, 0600);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
    r = barrel(fx, conf, "cron", NULL, NULL);
    assert_has_line(r.out, "Another cron process is already running on server c1. Skipping to the next server");
    h_result_free(&r);
    close(fd);
    free(lockpath);

    /* streaming_archiver turned off: cron stops that receiver */
    write_cron_config(fx, conf, home, 0);
    r = barrel(fx, conf, "cron", NULL, NULL);
    assert_int_equal(r.status, 0);
    line = br_asprintf("Stopped process receive-wal(%ld)", c2);
    assert_has_line(r.out, line);
    free(line);
    h_result_free(&r);
    assert_int_equal(count_receivers(conf, "c2"), 0);
    assert_int_equal(count_receivers(conf, "c1"), 1);

    r = barrel(fx, conf, "receive-wal", "--stop", "c1");
    assert_int_equal(r.status, 0);
    h_result_free(&r);
    assert_int_equal(count_receivers(conf, "c1"), 0);
    kill_cron_receivers(home);
    g_cron_home = NULL;
    free(conf);
    free(home);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_receive_wal_refusals_and_stop),
        cmocka_unit_test(test_receive_wal_slot_commands),
        cmocka_unit_test(test_receive_wal_create_slot_auto),
        cmocka_unit_test(test_receive_wal_under_load_with_kills),
        cmocka_unit_test(test_receive_wal_follows_timeline_switch),
        cmocka_unit_test(test_switch_wal),
        cmocka_unit_test(test_cron),
    };

    /* RECEIVE_WAL_TESTS=test_cron runs one test (a cmocka filter pattern), for debugging */
    if (getenv("RECEIVE_WAL_TESTS") != NULL)
        cmocka_set_test_filter(getenv("RECEIVE_WAL_TESTS"));
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
