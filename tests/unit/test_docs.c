/*
 * test_docs.c: the man pages and the code cannot drift apart. Every option
 * of the option table is documented in man/barrel.conf.5 and every option
 * documented there exists; every command of the command table is in
 * man/barrel.1; both pages render without groff warnings.
 *
 * Command-line options cannot drift either: the long options of every
 * getopt table in src/cmd/cmd_<command>.c (read from the source, so that
 * an option added there and nowhere else fails here) appear in that
 * command's entry of man/barrel.1 and in its --help; main.c's are in GLOBAL
 * OPTIONS; and every \-\-option barrel.1 names is accepted by some command.
 */
#include "barrel/build.h"

#include <ctype.h>
#include <dirent.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <unistd.h>

#include "barrel/cmd.h"
#include "barrel/config.h"
#include "barrel/mem.h"
#include "barrel/strbuf.h"
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

/* ---- command-line options ---- */

#define MAX_OPTS 512

struct optlist {
    char *name[MAX_OPTS];
    size_t n;
};

static void
optlist_free(struct optlist *ol)
{
    for (size_t i = 0; i < ol->n; i++)
        free(ol->name[i]);
    ol->n = 0;
}

static int
optlist_has(const struct optlist *ol, const char *name)
{
    for (size_t i = 0; i < ol->n; i++)
        if (strcmp(ol->name[i], name) == 0)
            return 1;
    return 0;
}

/* The long options of the `struct option` table that starts at `t`, "help" left out. */
static void
options_in_table(const char *t, struct optlist *out)
{
    const char *end = strstr(t, "{NULL, 0, NULL, 0}");

    if (end == NULL)
        end = strstr(t, "{0, 0, 0, 0}");
    assert_non_null(end);
    for (const char *q = strstr(t, "{\""); q != NULL && q < end; q = strstr(q + 2, "{\"")) {
        const char *name = q + 2, *close = strchr(name, '"');
        char *n = br_strndup(name, (size_t) (close - name));

        if (strcmp(n, "help") == 0 || optlist_has(out, n) || out->n == MAX_OPTS)
            free(n);
        else
            out->name[out->n++] = n;
    }
}

/* The C function that runs `command`, as cmd_table.c names it (new string). */
static char *
command_function(const char *command)
{
    char *table = h_read_file("src/cmd/cmd_table.c"), *key = br_asprintf("{\"%s\", ", command), *fn = NULL;
    const char *p;

    assert_non_null(table);
    p = strstr(table, key);
    if (p != NULL) {
        /* {"name", alias, function, ... */
        p = strchr(p + strlen(key), ',');
        if (p != NULL) {
            p++;
            while (*p == ' ')
                p++;
            fn = br_strndup(p, strcspn(p, ","));
        }
    }
    free(key);
    free(table);
    return fn;
}

/*
 * The long options of `command`: its function is found in src/cmd/ by its
 * definition ("\ncmd_x(struct cmd_context"), and its getopt table is the
 * first one in it. Returns the file (new string), NULL when not found.
 */
static char *
command_options(const char *command, struct optlist *out)
{
    char *fn = command_function(command), *def, *found = NULL;
    DIR *dir = opendir("src/cmd");
    struct dirent *de;

    assert_non_null(dir);
    if (fn == NULL) {
        closedir(dir);
        return NULL;
    }
    def = br_asprintf("\n%s(struct cmd_context", fn);
    while (found == NULL && (de = readdir(dir)) != NULL) {
        size_t len = strlen(de->d_name);
        char *path, *src;
        const char *at;

        if (len < 3 || strcmp(de->d_name + len - 2, ".c") != 0)
            continue;
        path = br_asprintf("src/cmd/%s", de->d_name);
        src = h_read_file(path);
        at = src ? strstr(src, def) : NULL;
        if (at != NULL) {
            const char *t = strstr(at, "struct option");
            const char *body_end = strstr(at, "\n}\n");

            if (t != NULL && (body_end == NULL || t < body_end))
                options_in_table(t, out);
            found = path;
        } else
            free(path);
        free(src);
    }
    closedir(dir);
    free(def);
    free(fn);
    return found;
}

/* The long options of every `struct option` table in a C file. */
static void
long_options_of(const char *path, struct optlist *out)
{
    char *src = h_read_file(path);

    assert_non_null(src);
    for (const char *t = strstr(src, "struct option"); t != NULL; t = strstr(t + 1, "struct option"))
        options_in_table(t, out);
    free(src);
}

/* "a-b" as roff writes it: "a\-b". */
static char *
roff_escape(const char *s)
{
    struct strbuf sb;

    strbuf_init(&sb);
    for (; *s; s++) {
        if (*s == '-')
            strbuf_append_char(&sb, '\\');
        strbuf_append_char(&sb, *s);
    }
    return strbuf_detach(&sb);
}

/* 1 when `text` has `word` (already escaped as the text spells it) not followed by more of a name. */
static int
has_word(const char *text, const char *word, int roff)
{
    size_t len = strlen(word);

    for (const char *p = strstr(text, word); p != NULL; p = strstr(p + 1, word)) {
        char next = p[len];

        if (isalnum((unsigned char) next) || next == '_')
            continue;
        if (roff ? strncmp(p + len, "\\-", 2) == 0 : next == '-')
            continue;
        return 1;
    }
    return 0;
}

/* The entry of `command` in barrel.1's COMMANDS: from its ".TP\n.B name" to the next command's or section. */
static char *
command_entry(const char *page, const char *command)
{
    size_t n;
    const struct cmd_entry *cmds = cmd_table(&n);
    const char *commands = strstr(page, "\n.SH COMMANDS\n"), *stop, *start = NULL;
    char *esc = roff_escape(command), *head = br_asprintf("\n.TP\n.B %s", esc);

    assert_non_null(commands);
    stop = strstr(commands + 1, "\n.SH ");
    for (const char *p = strstr(commands, head); p != NULL && p < stop && start == NULL; p = strstr(p + 1, head))
        if (p[strlen(head)] == ' ' || p[strlen(head)] == '\n')
            start = p + 1;
    free(head);
    free(esc);
    if (start == NULL)
        return NULL;
    /* the entry ends where the next command's begins */
    const char *end = stop;
    for (size_t i = 0; i < n; i++) {
        char *e = roff_escape(cmds[i].name), *h = br_asprintf("\n.TP\n.B %s", e);

        for (const char *p = strstr(start, h); p != NULL && p < end; p = strstr(p + 1, h))
            if ((p[strlen(h)] == ' ' || p[strlen(h)] == '\n') && strcmp(cmds[i].name, command) != 0) {
                end = p;
                break;
            }
        free(h);
        free(e);
    }
    return br_strndup(start, (size_t) (end - start));
}

static void
test_docs_every_command_option_in_barrel_1_and_help(void **state)
{
    char *page = h_read_file("man/barrel.1");
    size_t n, checked = 0, missing = 0;
    const struct cmd_entry *cmds = cmd_table(&n);
    (void) state;

    assert_non_null(page);
    for (size_t i = 0; i < n; i++) {
        struct optlist ol = { {0}, 0 };
        char *file, *entry;
        const char *argv[] = { h_barrel_bin(), cmds[i].name, "--help", NULL };
        struct h_result r;

        file = command_options(cmds[i].name, &ol);
        if (file == NULL)
            fail_msg("command \"%s\": no function definition found in src/cmd/ to read its options from", cmds[i].name);
        entry = command_entry(page, cmds[i].name);
        if (entry == NULL)
            fail_msg("command \"%s\" has no entry in man/barrel.1's COMMANDS", cmds[i].name);
        r = h_run(argv, NULL, NULL);
        if (r.status != 0)
            fail_msg("barrel %s --help exited %d: %s", cmds[i].name, r.status, r.err);
        for (size_t k = 0; k < ol.n; k++) {
            char *dashed = br_asprintf("--%s", ol.name[k]), *esc = roff_escape(dashed);

            /* every gap is listed, then the test fails */
            if (!has_word(entry, esc, 1)) {
                print_message("option %s of %s (%s) is not in its entry of man/barrel.1\n", dashed, cmds[i].name, file);
                missing++;
            }
            if (!has_word(r.out, dashed, 0)) {
                print_message("option %s of %s (%s) is not in 'barrel %s --help'\n", dashed, cmds[i].name, file,
                              cmds[i].name);
                missing++;
            }
            checked++;
            free(esc);
            free(dashed);
        }
        h_result_free(&r);
        free(entry);
        free(file);
        optlist_free(&ol);
    }
    if (missing > 0)
        fail_msg("%zu gaps between the getopt tables and barrel.1 or --help", missing);
    assert_true(checked > 50);
    free(page);
}

static void
test_docs_global_options_in_barrel_1(void **state)
{
    char *page = h_read_file("man/barrel.1");
    struct optlist ol = { {0}, 0 };
    const char *global, *end;
    char *section;
    (void) state;

    assert_non_null(page);
    long_options_of("src/main.c", &ol);
    assert_true(ol.n >= 5);
    global = strstr(page, "\n.SH GLOBAL OPTIONS\n");
    assert_non_null(global);
    end = strstr(global + 1, "\n.SH ");
    section = br_strndup(global, (size_t) (end - global));
    for (size_t k = 0; k < ol.n; k++) {
        char *dashed = br_asprintf("--%s", ol.name[k]), *esc = roff_escape(dashed);

        if (!has_word(section, esc, 1))
            fail_msg("global option %s (src/main.c) is not in GLOBAL OPTIONS of man/barrel.1", dashed);
        free(esc);
        free(dashed);
    }
    free(section);
    optlist_free(&ol);
    free(page);
}

/* The reverse: barrel.1 names no long option that no command accepts. */
static void
test_docs_barrel_1_names_only_real_options(void **state)
{
    char *page = h_read_file("man/barrel.1");
    struct optlist all = { {0}, 0 };
    size_t n;
    const struct cmd_entry *cmds = cmd_table(&n);
    (void) state;

    assert_non_null(page);
    long_options_of("src/main.c", &all);
    for (size_t i = 0; i < n; i++) {
        free(command_options(cmds[i].name, &all));
    }
    /* GLOBAL OPTIONS and COMMANDS; EXAMPLES quote other programs' options (systemctl --now) */
    const char *from = strstr(page, "\n.SH GLOBAL OPTIONS\n"), *to = strstr(page, "\n.SH METRICS\n");
    size_t bad = 0;

    assert_non_null(from);
    assert_non_null(to);
    for (const char *p = strstr(from, "\\-\\-"); p != NULL && p < to; p = strstr(p + 1, "\\-\\-")) {
        struct strbuf name;
        const char *q = p + 4;

        strbuf_init(&name);
        while (isalnum((unsigned char) *q) || strncmp(q, "\\-", 2) == 0) {
            if (*q == '\\') {
                strbuf_append_char(&name, '-');
                q += 2;
            } else
                strbuf_append_char(&name, *q++);
        }
        /* a bare "--" (end of options) and --help are not options of a table */
        if (name.len > 0 && strcmp(name.buf, "help") != 0 && !optlist_has(&all, name.buf)) {
            print_message("man/barrel.1 names --%s, which no command accepts\n", name.buf);
            bad++;
        }
        strbuf_free(&name);
        p = q - 1;
    }
    if (bad > 0)
        fail_msg("man/barrel.1 names %zu options that no command accepts", bad);
    optlist_free(&all);
    free(page);
}

static void
test_docs_man_pages_render_without_warnings(void **state)
{
    (void) state;
    struct h_result r = h_sh("command -v groff >/dev/null || exit 77; "
                             "for m in man/barrel.1 man/barrel.conf.5 man/barrel-wal.7; do "
                             "groff -ww -man -Tutf8 $m 2>&1 >/dev/null; done");
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
        cmocka_unit_test(test_docs_every_command_option_in_barrel_1_and_help),
        cmocka_unit_test(test_docs_global_options_in_barrel_1),
        cmocka_unit_test(test_docs_barrel_1_names_only_real_options),
        cmocka_unit_test(test_docs_man_pages_render_without_warnings),
    };
    return cmocka_run_group_tests_name("docs", tests, NULL, NULL);
}
