/*
 * test_metrics.c: the report module's outputs without a catalog.
 *
 * - metrics_write() of report structs filled by hand (every figure known,
 *   and none) passes the strict format check of tests/lib/promcheck.c and,
 *   where it is installed, `promtool check metrics`;
 * - the checker itself rejects what it must (so a pass means something);
 * - every family and its labels are documented in man/barrel.1 (METRICS);
 * - every metric the Grafana dashboard queries (the PromQL "expr" fields
 *   and the template's label_values()) is one barrel emits;
 * - report_to_json() validates against contrib/report.schema.json.
 */
#include "barrel/build.h"

#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "barrel/catalog.h"
#include "barrel/json.h"
#include "barrel/mem.h"
#include "barrel/report.h"
#include "barrel/strbuf.h"
#include "harness.h"
#include "promcheck.h"

#define NOW 1795400000

/* A server with every figure known: two DONE backups, one FAILED, verdicts, a drill, a live server. */
static void
fill_full(struct report_server *rs, const char *name)
{
    memset(rs, 0, sizeof(*rs));
    rs->name = br_strdup(name);
    rs->now = NOW;
    rs->catalog_ok = 1;
    rs->n_backups = 3;
    rs->backups = br_calloc(3, sizeof(*rs->backups));
    for (size_t i = 0; i < 3; i++) {
        struct report_backup *rb = &rs->backups[i];
        snprintf(rb->backup_id, sizeof(rb->backup_id), "2026112%zuT010000", i + 1);
        rb->status = i == 2 ? BACKUP_STATUS_FAILED : BACKUP_STATUS_DONE;
        rb->end_time = i == 2 ? -1 : NOW - 86400 * (3 - (int64_t) i);
        rb->size_bytes = i == 2 ? -1 : 1000000 + (int64_t) i;
        rb->wal_size_bytes = 16777216;
        rb->retention = i == 2 ? RETENTION_STATUS_NONE : RETENTION_STATUS_VALID;
        rb->error = i == 2 ? br_strdup("failure copying files (\"quoted\" \\ reason)") : NULL;
        rs->status_counts[rb->status]++;
        rs->retention_counts[rb->retention]++;
    }
    rs->backups[0].verified = 1;
    rs->backups[0].verify_ok = 1;
    rs->backups[0].verify_time = NOW - 3600;
    rs->backups[1].verified = 1;
    rs->backups[1].verify_ok = 0;
    rs->backups[1].verify_time = NOW - 1800;
    rs->backups[1].verify_problems = 2;
    rs->backups[1].drilled = 1;
    rs->backups[1].drill_ok = 0;
    rs->backups[1].drill_time = NOW - 600;
    rs->backups[1].drill_seconds = 42.5;
    rs->backups[1].drill_message = br_strdup("PostgreSQL did not start");
    rs->backups[0].drilled = 1;
    rs->backups[0].drill_ok = 1;
    rs->backups[0].drill_time = NOW - 7200;
    rs->backups[0].drill_seconds = 30.25;
    rs->has_last = 1;
    rs->last_idx = 1;
    rs->last_duration_s = 12.5;
    rs->last_uncompressed_bytes = 5000000;
    rs->last_compression_ratio = 5000000.0 / 1000001.0;
    rs->last_throughput_bps = 400000;
    rs->last_compression = br_strdup("zstd");
    rs->wal_segments = 100;
    rs->wal_bytes = 123456789;
    rs->has_wal = 1;
    snprintf(rs->wal_last, sizeof(rs->wal_last), "0000000200000001000000FF");
    rs->wal_last_time = NOW - 30.5;
    rs->wal_window_segments = 50;
    rs->wal_window_bytes = 60000000;
    rs->wal_rate_per_hour = 0.297619;
    rs->pg_checked = 1;
    rs->pg_reachable = 1;
    rs->pg_current_wal = br_strdup("000000020000000200000001");
    rs->has_lag = 1;
    rs->lag_bytes = 1234;
    rs->lag_seconds = 0;
    rs->archiver_errors = 1;
    rs->receive_wal_expected = 1;
    rs->receive_wal_running = 0;
    rs->wal_verified = 1;
    rs->wal_verify_ok = 1;
    rs->wal_verify_time = NOW - 100;
    rs->has_space = 1;
    rs->fs_free_bytes = 1000000000;
    rs->fs_size_bytes = 4000000000;
    rs->growth_bytes_per_day = 70000000.5;
    rs->has_days_left = 1;
    rs->days_left = 14.285714;
}

/* A server with nothing known: unreadable catalog, offline. */
static void
fill_empty(struct report_server *rs, const char *name)
{
    memset(rs, 0, sizeof(*rs));
    rs->name = br_strdup(name);
    rs->now = NOW;
    rs->catalog_error = br_strdup("could not open directory \"/x\": Permission denied");
    rs->last_duration_s = -1;
    rs->last_uncompressed_bytes = -1;
}

static char *
metrics_text(void)
{
    struct report_server rs[3];
    struct strbuf sb;

    fill_full(&rs[0], "pg");
    fill_empty(&rs[1], "pg-empty");
    /* a name that needs escaping in a label value */
    fill_full(&rs[2], "we\"ird\\name");
    strbuf_init(&sb);
    metrics_write(rs, 3, NOW, &sb);
    for (size_t i = 0; i < 3; i++)
        report_server_reset(&rs[i]);
    return strbuf_detach(&sb);
}

static void
test_metrics_write_strict_format(void **state)
{
    char *text = metrics_text(), why[512];
    (void) state;

    if (h_prom_check(text, why, sizeof(why)) != 0)
        fail_msg("%s\n%s", why, text);
    assert_non_null(strstr(text, "barrel_last_backup_end_timestamp_seconds{server=\"pg\"} 1795227200\n"));
    assert_non_null(strstr(text, "barrel_backups{server=\"pg\",status=\"FAILED\"} 1\n"));
    assert_non_null(strstr(text, "barrel_backup_verified{server=\"pg\",backup_id=\"20261121T010000\"} 1\n"));
    assert_non_null(strstr(text, "barrel_backup_verified{server=\"pg\",backup_id=\"20261122T010000\"} 0\n"));
    assert_non_null(strstr(text, "barrel_drill_last_success{server=\"pg\",backup_id=\"20261122T010000\"} 0\n"));
    assert_non_null(strstr(text, "barrel_drill_last_duration_seconds{server=\"pg\",backup_id=\"20261122T010000\"} 42.5\n"));
    assert_non_null(strstr(text, "barrel_drill_last_success_timestamp_seconds{server=\"pg\"} 1795392800\n"));
    assert_non_null(strstr(text, "barrel_up{server=\"pg-empty\"} 0\n"));
    assert_non_null(strstr(text, "barrel_up{server=\"we\\\"ird\\\\name\"} 1\n"));
    assert_non_null(strstr(text, "barrel_wal_archive_lag_bytes{server=\"pg\"} 1234\n"));
    assert_non_null(strstr(text, "barrel_catalog_time_left_seconds{server=\"pg\"} 1234285.6896\n"));
    /* unknown figures are absent, not 0 */
    assert_null(strstr(text, "barrel_postgres_up{server=\"pg-empty\"}"));
    assert_null(strstr(text, "barrel_last_backup_end_timestamp_seconds{server=\"pg-empty\"}"));
    assert_non_null(strstr(text, "# TYPE barrel_metrics_generated_timestamp_seconds gauge\n"
                                 "barrel_metrics_generated_timestamp_seconds 1795400000\n"));

    /* promtool, where installed */
    {
        char *dir = h_mkdtemp(), *path = br_asprintf("%s/barrel.prom", dir);
        h_write_file(path, text);
        struct h_result r = h_sh("command -v promtool >/dev/null || exit 77; promtool check metrics < '%s' 2>&1", path);
        if (r.status == 77)
            print_message("promtool not installed (Debian package prometheus): only the strict built-in check ran\n");
        else if (r.status != 0)
            fail_msg("promtool check metrics failed:\n%s", r.out);
        h_result_free(&r);
        h_rmtree(dir);
        free(path);
        free(dir);
    }
    free(text);
}

static void
expect_bad(const char *text, const char *why_part)
{
    char why[512];

    if (h_prom_check(text, why, sizeof(why)) == 0)
        fail_msg("accepted:\n%s", text);
    if (strstr(why, why_part) == NULL)
        fail_msg("expected \"%s\", got \"%s\"", why_part, why);
}

static void
test_metrics_checker_rejects(void **state)
{
    char why[256];
    (void) state;

    assert_int_equal(h_prom_check("# HELP a_b x\n# TYPE a_b gauge\na_b{x=\"1\"} 2\na_b{x=\"2\"} +Inf\n", why,
                                  sizeof(why)), 0);
    expect_bad("a 1\n", "without a # TYPE");
    expect_bad("# TYPE a gauge\na 1\na 2\n", "duplicate series a");
    expect_bad("# TYPE a gauge\na{x=\"1\"} 1\n# TYPE b gauge\nb 1\na{x=\"2\"} 1\n", "sample of a inside family b");
    expect_bad("# TYPE a gauge\n# TYPE b gauge\n# TYPE a gauge\n", "not contiguous");
    expect_bad("# TYPE a gauge\na{1x=\"1\"} 1\n", "bad label name");
    expect_bad("# TYPE a gauge\na{__x=\"1\"} 1\n", "reserved label name");
    expect_bad("# TYPE a gauge\na{x=\"1\",x=\"2\"} 1\n", "label x twice");
    expect_bad("# TYPE a gauge\na{x=\"\\t\"} 1\n", "bad escape");
    expect_bad("# TYPE a gauge\na 1.2.3\n", "bad value");
    expect_bad("# TYPE a gauge\na  1\n", "bad value");
    expect_bad("# TYPE a-b gauge\n", "bad metric name");
    expect_bad("# TYPE a gauge\n# TYPE a counter\n", "second TYPE");
    expect_bad("# TYPE a gauge\na 1", "newline");
    expect_bad("# TYPE a gauge\n\na 1\n", "empty line");
    expect_bad("# TYPE a widget\n", "unknown type");
}

/* Every family, with each of its labels, has an entry in the METRICS section of barrel(1). */
static void
test_metrics_documented_in_man_page(void **state)
{
    char *page = h_read_file("man/barrel.1");
    size_t n;
    const struct metric_family *f = metrics_families(&n);
    (void) state;

    assert_non_null(page);
    const char *section = strstr(page, ".SH METRICS\n");
    assert_non_null(section);
    const char *end = strstr(section + 1, "\n.SH ");
    char *sec = br_strndup(section, end ? (size_t) (end - section) : strlen(section));
    for (size_t i = 0; i < n; i++) {
        char *entry = br_asprintf(".TP\n.B %s\n", f[i].name);
        const char *e = strstr(sec, entry);
        if (e == NULL)
            fail_msg("metric %s is not documented in the METRICS section of man/barrel.1", f[i].name);
        const char *eol = strstr(e + strlen(entry), "\n");
        char *desc = br_strndup(e + strlen(entry), (size_t) (eol - e - strlen(entry)));
        char *labels = br_strdup(f[i].labels), *save = NULL;
        for (char *l = strtok_r(labels, ",", &save); l != NULL; l = strtok_r(NULL, ",", &save)) {
            if (strstr(desc, "Labels:") == NULL || strstr(strstr(desc, "Labels:"), l) == NULL)
                fail_msg("label %s of %s is not documented in man/barrel.1", l, f[i].name);
        }
        if (f[i].labels[0] == '\0' && strstr(desc, "Labels: none.") == NULL)
            fail_msg("%s has no labels but its entry does not say so", f[i].name);
        free(labels);
        free(desc);
        free(entry);
    }
    free(sec);
    free(page);
}

static int
emitted(const char *name)
{
    size_t n;
    const struct metric_family *f = metrics_families(&n);

    for (size_t i = 0; i < n; i++)
        if (strcmp(f[i].name, name) == 0)
            return 1;
    return 0;
}

static int
promql_keyword(const char *w)
{
    /* operators, and the aggregations, which may take "by (...)" before their parenthesis */
    static const char *const words[] = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool",
                                        "and", "or", "unless", "offset", "inf", "nan", "sum", "min", "max", "avg",
                                        "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk",
                                        "quantile", NULL};
    for (size_t i = 0; words[i]; i++)
        if (strcasecmp(w, words[i]) == 0)
            return 1;
    return 0;
}

/*
 * The metric names of a PromQL expression: identifiers outside label
 * matchers and strings, not followed by "(" (functions, aggregations), not
 * keywords, not the label list after by/without/on/ignoring/group_*.
 * Adds them to out (names separated by spaces); returns how many.
 */
static size_t
promql_metrics(const char *expr, struct strbuf *out)
{
    size_t n = 0;
    const char *p = expr;

    while (*p) {
        if (*p == '"' || *p == '\'' || *p == '`') {
            char q = *p++;
            while (*p && *p != q)
                p += (*p == '\\' && p[1]) ? 2 : 1;
            if (*p)
                p++;
        } else if (*p == '{') {
            while (*p && *p != '}')
                p++;
        } else if (*p == '[') {
            while (*p && *p != ']')
                p++;
        } else if (isalpha((unsigned char) *p) || *p == '_' || *p == ':') {
            const char *s = p;
            while (isalnum((unsigned char) *p) || *p == '_' || *p == ':')
                p++;
            char *word = br_strndup(s, (size_t) (p - s));
            const char *q = p;
            while (*q == ' ')
                q++;
            if (strcmp(word, "by") == 0 || strcmp(word, "without") == 0 || strcmp(word, "on") == 0
                || strcmp(word, "ignoring") == 0 || strcmp(word, "group_left") == 0
                || strcmp(word, "group_right") == 0) {
                if (*q == '(') {
                    while (*q && *q != ')')
                        q++;
                    p = q;
                }
            } else if (*q != '(' && !promql_keyword(word)) {
                strbuf_appendf(out, "%s ", word);
                n++;
            }
            free(word);
            continue;
        } else if (isdigit((unsigned char) *p)) {
            while (isalnum((unsigned char) *p) || *p == '.')
                p++;
            continue;
        }
        if (*p)
            p++;
    }
    return n;
}

/* The JSON string values of every "key": "..." in text, unescaped, each passed to cb. */
static size_t
each_json_string(const char *text, const char *key, void (*cb)(const char *value, void *arg), void *arg)
{
    char *pat = br_asprintf("\"%s\": \"", key);
    size_t n = 0;

    for (const char *p = strstr(text, pat); p != NULL; p = strstr(p + 1, pat)) {
        struct strbuf v;
        const char *q = p + strlen(pat);
        strbuf_init(&v);
        for (; *q && *q != '"'; q++) {
            if (*q == '\\' && q[1]) {
                q++;
                strbuf_append_char(&v, *q == 'n' ? '\n' : *q);
            } else
                strbuf_append_char(&v, *q);
        }
        cb(v.buf, arg);
        strbuf_free(&v);
        n++;
    }
    free(pat);
    return n;
}

struct dash_check {
    size_t names;
    struct strbuf used;
};

static void
check_expr(const char *expr, void *arg)
{
    struct dash_check *dc = arg;
    struct strbuf names;

    strbuf_init(&names);
    if (promql_metrics(expr, &names) == 0)
        fail_msg("dashboard expression queries no metric: %s", expr);
    char *save = NULL;
    for (char *w = strtok_r(names.buf, " ", &save); w != NULL; w = strtok_r(NULL, " ", &save)) {
        if (!emitted(w))
            fail_msg("the dashboard queries %s (in \"%s\"), which barrel does not emit", w, expr);
        strbuf_appendf(&dc->used, " %s ", w);
        dc->names++;
    }
    strbuf_free(&names);
}

static void
check_label_values(const char *query, void *arg)
{
    const char *p = strstr(query, "label_values(");
    (void) arg;
    if (p == NULL)
        return;
    p += strlen("label_values(");
    const char *e = p;
    while (*e && *e != ',' && *e != ')' && *e != '{')
        e++;
    char *name = br_strndup(p, (size_t) (e - p));
    if (!emitted(name))
        fail_msg("the dashboard's template queries %s, which barrel does not emit", name);
    free(name);
}

static void
test_metrics_grafana_dashboard_queries_emitted_metrics(void **state)
{
    char *dash = h_read_file("contrib/grafana-dashboard.json");
    struct dash_check dc = {0};
    size_t n;
    const struct metric_family *f = metrics_families(&n);
    (void) state;

    assert_non_null(dash);
    strbuf_init(&dc.used);
    /* the parser itself */
    {
        struct strbuf t;
        strbuf_init(&t);
        assert_int_equal(promql_metrics("sum by (server, status) (barrel_backups{server=~\"$s\"}) / "
                                        "time() - rate(x_total[5m]) > bool 2",
                                        &t),
                         2);
        assert_string_equal(t.buf, "barrel_backups x_total ");
        strbuf_free(&t);
    }
    assert_true(each_json_string(dash, "expr", check_expr, &dc) >= 20);
    assert_true(each_json_string(dash, "definition", check_label_values, NULL) >= 1);
    /* and the dashboard shows every family but the bookkeeping one at least once */
    for (size_t i = 0; i < n; i++) {
        char *w = br_asprintf(" %s ", f[i].name);
        if (strstr(dc.used.buf, w) == NULL)
            fail_msg("metric %s is on no panel of the dashboard", f[i].name);
        free(w);
    }
    strbuf_free(&dc.used);
    free(dash);
}

/* report_to_json() of both servers through contrib/report.schema.json (python3-jsonschema). */
static void
test_report_json_validates_against_schema(void **state)
{
    struct report_server rs[2];
    struct json *root = json_object();
    struct strbuf sb;
    char *dir = h_mkdtemp(), *path = br_asprintf("%s/report.json", dir);
    (void) state;

    fill_full(&rs[0], "pg");
    fill_empty(&rs[1], "pg-empty");
    json_object_set(root, "pg", report_to_json(&rs[0]));
    json_object_set(root, "pg-empty", report_to_json(&rs[1]));
    json_object_set(root, "_WARNING", json_array());
    strbuf_init(&sb);
    json_write(root, &sb, 0);
    h_write_file(path, sb.buf);
    struct h_result r = h_sh("python3 -c 'import json, sys, jsonschema; "
                             "s = json.load(open(\"contrib/report.schema.json\")); "
                             "jsonschema.Draft7Validator.check_schema(s); "
                             "jsonschema.validate(json.load(open(sys.argv[1])), s)' '%s' 2>&1",
                             path);
    if (r.status != 0)
        fail_msg("report JSON does not validate (python3-jsonschema comes with scripts/deps.sh):\n%s\n%s", r.out,
                 sb.buf);
    h_result_free(&r);
    /* figures as documented */
    assert_non_null(strstr(sb.buf, "\"status\": \"FAILED\""));
    assert_non_null(strstr(sb.buf, "\"days_left\": 14.2"));
    assert_non_null(strstr(sb.buf, "\"failures\": [\"backup 20261122T010000 failed its last verification (2 problems)\", "
                                   "\"backup 20261122T010000 failed its last restore drill: PostgreSQL did not start\", "
                                   "\"backup 20261123T010000 FAILED: failure copying files"));

    /* and a document with an unknown key does not validate: the schema is closed */
    json_object_set(json_object_get(root, "pg"), "surprise", json_int(1));
    strbuf_reset(&sb);
    json_write(root, &sb, 0);
    h_write_file(path, sb.buf);
    r = h_sh("python3 -c 'import json, sys, jsonschema; "
             "jsonschema.validate(json.load(open(sys.argv[1])), json.load(open(\"contrib/report.schema.json\")))' "
             "'%s' >/dev/null 2>&1",
             path);
    assert_int_not_equal(r.status, 0);
    h_result_free(&r);

    strbuf_free(&sb);
    json_free(root);
    report_server_reset(&rs[0]);
    report_server_reset(&rs[1]);
    h_rmtree(dir);
    free(path);
    free(dir);
}

/* The text page names what an operator looks for first. */
static void
test_report_text_page(void **state)
{
    struct report_server rs;
    struct strbuf sb;
    (void) state;

    fill_full(&rs, "pg");
    strbuf_init(&sb);
    report_to_text(&rs, &sb);
    assert_true(strncmp(sb.buf, "Server pg:\n\tLast backup: 20261122T010000 (ended ", 47) == 0);
    assert_non_null(strstr(sb.buf, "\t\tSize: 976.6 KiB stored, 4.8 MiB of data (ratio 5.00, zstd)\n"));
    assert_non_null(strstr(sb.buf, "\tBackups: 2 DONE, 1 FAILED, 0 WAITING_FOR_WALS, 0 in progress\n"));
    assert_non_null(strstr(sb.buf, "\tWAL archive: last 0000000200000001000000FF (archived 30 seconds ago), 100 segments, "
                                   "117.7 MiB\n"));
    assert_non_null(strstr(sb.buf, "\t\treceive-wal: NOT RUNNING\n"));
    assert_non_null(strstr(sb.buf, "\tRetention: 2 VALID\n"));
    assert_non_null(strstr(sb.buf, ", 14.3 days left at 66.8 MiB/day\n"));
    assert_non_null(strstr(sb.buf, "\tFailures:\n\t\tbackup 20261122T010000 failed its last verification (2 problems)\n"
                                   "\t\tbackup 20261122T010000 failed its last restore drill: PostgreSQL did not start\n"
                                   "\t\tbackup 20261123T010000 FAILED: failure copying files (\"quoted\" \\ reason)\n"
                                   "\t\t1 file in the errors directory (archiver errors)\n"
                                   "\t\treceive-wal is not running\n"));
    strbuf_free(&sb);
    report_server_reset(&rs);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_write_strict_format),
        cmocka_unit_test(test_metrics_checker_rejects),
        cmocka_unit_test(test_metrics_documented_in_man_page),
        cmocka_unit_test(test_metrics_grafana_dashboard_queries_emitted_metrics),
        cmocka_unit_test(test_report_json_validates_against_schema),
        cmocka_unit_test(test_report_text_page),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
