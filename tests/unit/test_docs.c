/*
 * test_docs.c: the man pages and the code cannot drift apart. Every option
 * of the option table is documented in man/barrel.conf.5 and every option
 * documented there exists; every command of the command table is in
 * man/barrel.1; both pages render without groff warnings.
 */
#include "barrel/build.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "barrel/cmd.h"
#include "barrel/config.h"
#include "barrel/mem.h"
#include "harness.h"

static void
test_docs_every_option_in_barrel_conf_5(void **state)
{
    char *page = h_read_file("man/barrel.conf.5");
    (void) state;

    assert_non_null(page);
    for (size_t i = 0; i < config_option_count(); i++) {
        char *entry = br_asprintf(".TP\n.B %s\n", config_option_at(i)->name);
        if (strstr(page, entry) == NULL)
            fail_msg("option \"%s\" is not documented in man/barrel.conf.5", config_option_at(i)->name);
        free(entry);
    }
    /* and the reverse: each documented entry is a real option */
    for (const char *p = strstr(page, ".TP\n.B "); p != NULL; p = strstr(p + 1, ".TP\n.B ")) {
        const char *name = p + 7, *end = strchr(name, '\n');
        char *n = br_strndup(name, (size_t) (end - name));
        int found = 0;
        for (size_t i = 0; i < config_option_count() && !found; i++)
            found = strcmp(config_option_at(i)->name, n) == 0;
        if (!found)
            fail_msg("man/barrel.conf.5 documents \"%s\", which is not an option", n);
        free(n);
    }
    free(page);
}

static void
test_docs_every_command_in_barrel_1(void **state)
{
    char *page = h_read_file("man/barrel.1");
    size_t n;
    const struct cmd_entry *cmds = cmd_table(&n);
    (void) state;

    assert_non_null(page);
    for (size_t i = 0; i < n; i++) {
        /* roff escapes '-' as '\-' */
        struct strbuf_like { char buf[128]; } esc;
        size_t k = 0;
        for (const char *c = cmds[i].name; *c && k + 3 < sizeof(esc.buf); c++) {
            if (*c == '-')
                esc.buf[k++] = '\\';
            esc.buf[k++] = *c;
        }
        esc.buf[k] = '\0';
        char *entry = br_asprintf(".B %s", esc.buf);
        if (strstr(page, entry) == NULL)
            fail_msg("command \"%s\" is not documented in man/barrel.1", cmds[i].name);
        free(entry);
    }
    free(page);
}

static void
test_docs_man_pages_render_without_warnings(void **state)
{
    (void) state;
    struct h_result r = h_sh("command -v groff >/dev/null || exit 77; "
                             "groff -ww -man -Tutf8 man/barrel.1 man/barrel.conf.5 2>&1 >/dev/null");
    if (r.status == 77) {
        h_result_free(&r);
        skip();
    }
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "");
    h_result_free(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_docs_every_option_in_barrel_conf_5),
        cmocka_unit_test(test_docs_every_command_in_barrel_1),
        cmocka_unit_test(test_docs_man_pages_render_without_warnings),
    };
    return cmocka_run_group_tests_name("docs", tests, NULL, NULL);
}
