/*
 * test_policies.c: the retention presets shipped in policies/ (installed to
 * <datadir>/barrel/policies/) load through the configuration loader the
 * three ways their comments tell an operator to use them:
 *
 *  - their lines pasted into a server section;
 *  - their lines pasted into [barman] of the main file (every server inherits);
 *  - the file turned into a server file with the sed line it documents
 *    ("; [SERVER]" becomes "[pg]") and completed with the connection options;
 *
 * and that the file copied unchanged is refused (it has no section header),
 * as its comments say. Each preset's expected policy is written here by
 * hand, from the issue: nightly-7d = RECOVERY WINDOW OF 7 DAYS with
 * minimum_redundancy 2, and so on. No warning may come out of the loader.
 * Tests run from the repository root (make check).
 */
#include "barrel/build.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/mem.h"
#include "harness.h"

#define SERVER_KEYS "conninfo = host=127.0.0.1 user=barman dbname=postgres\nbackup_method = postgres\narchiver = on\n"
#define GLOBAL_KEYS "barman_home = /var/lib/barman\nbarman_user = barman\n"

struct preset {
    const char *name;
    enum retention_kind kind;
    int value;
    enum retention_unit unit;
    int minimum_redundancy;
    const char *display;
};

static const struct preset presets[] = {
    {"nightly-7d", RETENTION_WINDOW, 7, RETENTION_DAYS, 2, "RECOVERY WINDOW OF 7 DAYS"},
    {"nightly-30d", RETENTION_WINDOW, 30, RETENTION_DAYS, 3, "RECOVERY WINDOW OF 30 DAYS"},
    {"weekly-4w", RETENTION_WINDOW, 4, RETENTION_WEEKS, 2, "RECOVERY WINDOW OF 4 WEEKS"},
    {"redundancy-3", RETENTION_REDUNDANCY, 3, RETENTION_DAYS, 2, "REDUNDANCY 3"},
};

static char *
preset_text(const struct preset *p)
{
    char *path = br_asprintf("policies/%s.conf", p->name);
    char *text = h_read_file(path);

    if (text == NULL)
        fail_msg("cannot read %s (tests run from the repository root)", path);
    free(path);
    return text;
}

/* The lines below the "cut here" marker, as an operator pastes them. */
static const char *
preset_lines(const char *text)
{
    const char *cut = strstr(text, "; ---- cut here");

    assert_non_null(cut);
    return cut;
}

static void
check_server(const struct barrel_config *cfg, const struct preset *p, const char *how)
{
    const struct server_config *srv = config_find_server(cfg, "pg");
    char shown[64];

    assert_non_null(srv);
    if (srv->retention_policy.kind != p->kind || srv->retention_policy.value != p->value
        || (p->kind == RETENTION_WINDOW && srv->retention_policy.unit != p->unit)
        || srv->minimum_redundancy != p->minimum_redundancy)
        fail_msg("%s (%s): retention policy or minimum_redundancy differs from the preset's name", p->name, how);
    retention_policy_format(&srv->retention_policy, shown, sizeof(shown));
    assert_string_equal(shown, p->display);
    assert_string_equal(srv->wal_retention_policy, "main");
    assert_string_equal(srv->retention_policy_mode, "auto");
    assert_int_equal(srv->n_disabled_reasons, 0);
    if (cfg->n_warnings != 0)
        fail_msg("%s (%s): unexpected warning: %s", p->name, how, cfg->warnings[0]);
}

static struct barrel_config *
load(const char *text, const char *name)
{
    struct br_error err;
    struct barrel_config *cfg;

    br_error_clear(&err);
    cfg = config_load_string(text, name, &err);
    if (cfg == NULL)
        fail_msg("%s: %s", name, err.msg);
    return cfg;
}

static void
test_policies_pasted_into_server_section(void **state)
{
    (void) state;
    for (size_t i = 0; i < BR_ARRAY_LEN(presets); i++) {
        char *text = preset_text(&presets[i]);
        char *conf = br_asprintf("[barman]\n" GLOBAL_KEYS "\n[pg]\n" SERVER_KEYS "%s", preset_lines(text));
        struct barrel_config *cfg = load(conf, presets[i].name);

        check_server(cfg, &presets[i], "server section");
        config_free(cfg);
        free(conf);
        free(text);
    }
}

static void
test_policies_pasted_into_barman_section(void **state)
{
    (void) state;
    for (size_t i = 0; i < BR_ARRAY_LEN(presets); i++) {
        char *text = preset_text(&presets[i]);
        char *conf = br_asprintf("[barman]\n" GLOBAL_KEYS "%s\n[pg]\n" SERVER_KEYS, preset_lines(text));
        struct barrel_config *cfg = load(conf, presets[i].name);

        check_server(cfg, &presets[i], "[barman] section");
        config_free(cfg);
        free(conf);
        free(text);
    }
}

static void
test_policies_as_server_file(void **state)
{
    (void) state;
    for (size_t i = 0; i < BR_ARRAY_LEN(presets); i++) {
        char *text = preset_text(&presets[i]);
        char *marker = strstr(text, "\n; [SERVER]\n");
        struct { char *s; } out;
        char *conf;
        struct barrel_config *cfg;

        /* the documented sed: 's/^; \[SERVER\]$/[pg]/' */
        assert_non_null(marker);
        *marker = '\0';
        out.s = br_asprintf("%s\n[pg]\n%s", text, marker + strlen("\n; [SERVER]\n"));
        conf = br_asprintf("[barman]\n" GLOBAL_KEYS "\n%s" SERVER_KEYS, out.s);
        cfg = load(conf, presets[i].name);
        check_server(cfg, &presets[i], "server file");
        config_free(cfg);
        free(conf);
        free(out.s);
        free(text);
    }
}

static void
test_policies_unchanged_file_refused(void **state)
{
    (void) state;
    for (size_t i = 0; i < BR_ARRAY_LEN(presets); i++) {
        char *text = preset_text(&presets[i]);
        struct br_error err;
        struct barrel_config *cfg;

        br_error_clear(&err);
        cfg = config_load_string(text, presets[i].name, &err);
        assert_null(cfg);
        assert_int_equal(err.code, BR_E_CONFIG);
        assert_non_null(strstr(err.msg, "appears before any section header"));
        free(text);
    }
}

static void
test_policies_every_file_has_a_test(void **state)
{
    DIR *d = opendir("policies");
    struct dirent *de;
    size_t n = 0;

    (void) state;
    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name), i;

        if (len < 6 || strcmp(de->d_name + len - 5, ".conf") != 0)
            continue;
        for (i = 0; i < BR_ARRAY_LEN(presets); i++)
            if (strncmp(de->d_name, presets[i].name, len - 5) == 0 && strlen(presets[i].name) == len - 5)
                break;
        if (i == BR_ARRAY_LEN(presets))
            fail_msg("policies/%s has no expectation in test_policies.c", de->d_name);
        n++;
    }
    closedir(d);
    assert_int_equal(n, BR_ARRAY_LEN(presets));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policies_pasted_into_server_section),
        cmocka_unit_test(test_policies_pasted_into_barman_section),
        cmocka_unit_test(test_policies_as_server_file),
        cmocka_unit_test(test_policies_unchanged_file_refused),
        cmocka_unit_test(test_policies_every_file_has_a_test),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
