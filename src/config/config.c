/*
 * config.c: from INI text to struct barrel_config, as Barman 3.4 resolves
 * it, but strict where Barman only warns (see config.h).
 *
 * Steps: find the main file (-c, BARMAN_CONFIG_FILE, default locations);
 * parse it; resolve the global options of [barman] (or [barrel]); read
 * every *.conf of configuration_files_directory in name order; reject
 * duplicate sections, a server named "all" and global keys in included
 * files; collect the warnings (unknown keys, options barrel does not
 * implement); resolve each server: [server] (then [DEFAULT]) -> [barman]
 * for options allowed there -> built-in default; then Barman's
 * consistency rules (disabled reasons, archiver forced on).
 *
 * Resolution is lazy and memoised per server: a %(name)s reference to an
 * option resolves that option first (its final value, inheritance and
 * default included), so the order of the table does not matter; a
 * reference loop is an error. Nothing here prints: warnings go to
 * cfg->warnings and the one error to err.
 */
#include "barrel/build.h"
#include "barrel/config.h"
#include "config_int.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "barrel/error.h"
#include "barrel/fs.h"
#include "barrel/mem.h"
#include "barrel/output.h"
#include "barrel/strbuf.h"

#define CONFIG_MAX_FILE_BYTES (16u * 1024 * 1024)
#define CONFIG_GLOBAL_SECTION "barman"
#define CONFIG_GLOBAL_SYNONYM "barrel"
#define CONFIG_DEFAULT_SECTION "DEFAULT"

_Static_assert(sizeof(enum backup_method) == sizeof(unsigned), "enum fields are stored as unsigned");

struct config_builder {
    struct ini ini;
    struct barrel_config *cfg;
    const struct ini_section *global;     /* [barman] or [barrel] of the main file */
    const struct ini_section *defaults;   /* [DEFAULT], if any */
    unsigned char *skip;                  /* per ini section: an empty [barman] of an included file */
};

/* One resolution scope: the global section, or one server. */
struct resolver {
    struct config_builder *b;
    struct server_config *srv;            /* NULL: the global scope */
    const struct ini_section *sec;        /* the server's section, or the global one */
    char **text;                          /* per option: resolved text, NULL = None */
    unsigned char *state;                 /* per option: 0 todo, 1 resolving, 2 done */
};

/* The interpolation context of one value: the resolver and the section the raw text came from. */
struct interp_ctx {
    struct resolver *r;
    const struct ini_section *sec;
    int missing_ok;     /* a built-in default: an unset reference makes the default unset */
    int missing;        /* set when that happened */
};

static int resolve_option(struct resolver *r, size_t idx, struct br_error *err);
static int interp_lookup_var(struct interp_ctx *ctx, const char *var, int depth, char **out,
                             struct br_error *err);

static int
is_global_name(const char *name)
{
    return strcmp(name, CONFIG_GLOBAL_SECTION) == 0 || strcmp(name, CONFIG_GLOBAL_SYNONYM) == 0;
}

static void
add_string(char ***arr, size_t *n, char *s)
{
    *arr = br_realloc(*arr, (*n + 1) * sizeof(**arr));
    (*arr)[(*n)++] = s;
}

static void
config_warn(struct barrel_config *cfg, const char *fmt, ...) BR_PRINTF(2, 3);

static void
config_warn(struct barrel_config *cfg, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    add_string(&cfg->warnings, &cfg->n_warnings, br_vasprintf(fmt, ap));
    va_end(ap);
}

/* "~" and "~user" at the start of a path; anything else is returned as a copy. */
static char *
expand_tilde(const char *path)
{
    const char *slash, *home = NULL;
    struct passwd *pw;
    char *user;

    if (path[0] != '~')
        return br_strdup(path);
    slash = strchr(path, '/');
    if (slash == NULL)
        slash = path + strlen(path);
    if (slash == path + 1) {
        home = getenv("HOME");
        if (home == NULL || home[0] == '\0') {
            pw = getpwuid(getuid());
            home = pw ? pw->pw_dir : NULL;
        }
    } else {
        user = br_strndup(path + 1, (size_t) (slash - path - 1));
        pw = getpwnam(user);
        free(user);
        home = pw ? pw->pw_dir : NULL;
    }
    if (home == NULL)
        return br_strdup(path);
    return br_asprintf("%s%s", home, slash);
}

/* ------------------------------------------------------------------ */
/* Freeing                                                             */
/* ------------------------------------------------------------------ */

static void
server_config_free(struct server_config *sc)
{
    if (sc == NULL)
        return;
    for (size_t i = 0; i < config_n_options; i++) {
        const struct config_option *opt = &config_options[i];
        char **field;

        if (opt->in_global || opt->offset == CONFIG_NO_FIELD)
            continue;
        switch (opt->type) {
        case CONFIG_TYPE_STRING:
        case CONFIG_TYPE_PATH:
        case CONFIG_TYPE_ABSPATH:
        case CONFIG_TYPE_SLOT:
        case CONFIG_TYPE_RETENTION:
            break;
        case CONFIG_TYPE_ENUM:
            if (opt->choice_values != NULL)
                continue;
            break;
        default:
            continue;
        }
        field = (char **) (void *) ((char *) sc + opt->offset);
        free(*field);
    }
    for (size_t i = 0; i < sc->n_raw; i++) {
        free(sc->raw_names[i]);
        free(sc->raw_values[i]);
    }
    free(sc->raw_names);
    free(sc->raw_values);
    for (size_t i = 0; i < sc->n_disabled_reasons; i++)
        free(sc->disabled_reasons[i]);
    free(sc->disabled_reasons);
    free(sc->name);
    free(sc->defined_in);
    free(sc);
}

void
config_free(struct barrel_config *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < cfg->n_servers; i++)
        server_config_free(cfg->servers[i]);
    free(cfg->servers);
    for (size_t i = 0; i < cfg->n_warnings; i++)
        free(cfg->warnings[i]);
    free(cfg->warnings);
    free(cfg->path);
    free(cfg->barman_home);
    free(cfg->barman_user);
    free(cfg->barman_lock_directory);
    free(cfg->log_file);
    free(cfg->log_level);
    free(cfg->configuration_files_directory);
    free(cfg);
}

const struct server_config *
config_find_server(const struct barrel_config *cfg, const char *name)
{
    if (cfg == NULL || name == NULL)
        return NULL;
    for (size_t i = 0; i < cfg->n_servers; i++)
        if (strcmp(cfg->servers[i]->name, name) == 0)
            return cfg->servers[i];
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Resolution                                                          */
/* ------------------------------------------------------------------ */

/* Does this option belong to the scope of r (global keys, or server keys)? */
static int
option_in_scope(const struct resolver *r, const struct config_option *opt)
{
    return (opt->info.scope & (r->srv ? CONFIG_SCOPE_SERVER : CONFIG_SCOPE_GLOBAL)) != 0;
}

static int
interp_lookup(void *vctx, const char *var, int depth, char **out, struct br_error *err)
{
    struct interp_ctx *ctx = vctx;
    int rc = interp_lookup_var(ctx, var, depth, out, err);

    if (rc == 1 && ctx->missing_ok) {
        /* Barman would interpolate Python's None; barrel leaves the default unset. */
        ctx->missing = 1;
        *out = br_strdup("");
        return 0;
    }
    return rc;
}

static int
interp_lookup_var(struct interp_ctx *ctx, const char *var, int depth, char **out, struct br_error *err)
{
    struct resolver *r = ctx->r;
    const struct config_option *opt;
    const struct ini_entry *e;
    size_t idx;

    /* Barman's server variables: the section name and two global values. */
    if (r->srv != NULL) {
        if (strcmp(var, "name") == 0) {
            *out = br_strdup(r->srv->name);
            return 0;
        }
        if (strcmp(var, "barman_home") == 0 || strcmp(var, "barman_lock_directory") == 0) {
            const char *v = strcmp(var, "barman_home") == 0 ? r->b->cfg->barman_home
                                                            : r->b->cfg->barman_lock_directory;

            if (v == NULL)
                return 1;
            *out = br_strdup(v);
            return 0;
        }
    }
    /* An option of this scope: its final value. */
    opt = config_option_find(var, &idx);
    if (opt != NULL && option_in_scope(r, opt)) {
        if (resolve_option(r, idx, err) != 0)
            return -1;
        if (r->text[idx] == NULL)
            return 1;
        *out = br_strdup(r->text[idx]);
        return 0;
    }
    /* Any other key of the same section, then [DEFAULT], interpolated in turn. */
    e = ini_section_get(ctx->sec, var);
    if (e == NULL)
        e = ini_section_get(r->b->defaults, var);
    if (e == NULL)
        return 1;
    {
        char *where = br_asprintf("%s:%d: bad interpolation in option \"%s\" in [%s] section", ctx->sec->file,
                                  e->line, e->key, ctx->sec->name);

        *out = ini_interpolate(e->value, interp_lookup, ctx, depth, where, err);
        free(where);
    }
    return *out ? 0 : -1;
}

/* Where an option's value comes from, for messages. */
struct value_origin {
    const char *file;
    int line;
    const char *section;
};

static int
invalid_value(struct br_error *err, const struct value_origin *at, const char *what, const char *value,
              const char *option, const char *expected)
{
    return br_error_set(err, BR_E_CONFIG, "%s:%d: invalid %s '%s' for option \"%s\" in [%s] section (%s)",
                        at->file, at->line, what, value, option, at->section, expected);
}

static void
append_choices(struct strbuf *sb, const char *const *choices)
{
    for (size_t i = 0; choices[i] != NULL; i++)
        strbuf_appendf(sb, "%s'%s'", i ? ", " : "", choices[i]);
}

static void
store_ptr(void *base, size_t offset, const void *src, size_t len)
{
    memcpy((char *) base + offset, src, len);
}

/*
 * Parse text (NULL = unset) by the option's type, store the typed value in
 * its field and replace *textp by its normal form (lowered enum, expanded
 * path). 0, or -1 with err naming `at`.
 */
static int
parse_and_store(struct resolver *r, const struct config_option *opt, char **textp,
                const struct value_origin *at, struct br_error *err)
{
    void *base = opt->in_global ? (void *) r->b->cfg : (void *) r->srv;
    const char *name = opt->info.name;
    char *text = *textp;
    char *sval = NULL;
    int ival = -1;
    int64_t lval = -1;
    long long ll;
    unsigned uval = 0;
    struct strbuf sb;

    switch (opt->type) {
    case CONFIG_TYPE_STRING:
        sval = br_strdup(text);
        break;
    case CONFIG_TYPE_PATH:
    case CONFIG_TYPE_ABSPATH:
        if (text != NULL) {
            sval = expand_tilde(text);
            free(text);
            *textp = text = br_strdup(sval);
            if (opt->type == CONFIG_TYPE_ABSPATH && sval[0] != '/') {
                free(sval);
                return invalid_value(err, at, "path", text, name, "must be an absolute path");
            }
        }
        break;
    case CONFIG_TYPE_SLOT:
        if (text != NULL) {
            sval = br_strdup(text);
            for (char *p = sval; *p; p++)
                *p = (char) tolower((unsigned char) *p);
            if (sval[strspn(sval, "0123456789abcdefghijklmnopqrstuvwxyz_")] != '\0' || sval[0] == '\0') {
                free(sval);
                return invalid_value(err, at, "slot name", text, name,
                                     "replication slot names may only contain lower case letters, numbers, "
                                     "and the underscore character");
            }
            free(text);
            *textp = br_strdup(sval);
        }
        break;
    case CONFIG_TYPE_BOOL:
        ival = 0;
        if (text != NULL && (ival = config_parse_bool(text)) < 0)
            return invalid_value(err, at, "boolean value", text, name,
                                 "expected true/false, on/off, yes/no, 1/0");
        break;
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        if (text != NULL) {
            if (config_parse_int_text(text, &ll) != 0
                || (opt->type == CONFIG_TYPE_INT && (ll > INT_MAX || ll < INT_MIN)))
                return invalid_value(err, at, "integer value", text, name, "expected an integer");
            if (ll < opt->min_value) {
                char expected[64];

                snprintf(expected, sizeof(expected), "expected an integer >= %d", opt->min_value);
                return invalid_value(err, at, "integer value", text, name, expected);
            }
            ival = (int) ll;
            lval = ll;
        }
        break;
    case CONFIG_TYPE_INTERVAL:
        if (text != NULL && (lval = config_parse_interval(text)) < 0)
            return invalid_value(err, at, "time interval", text, name,
                                 "expected 'N HOURS|DAYS|WEEKS|MONTHS'");
        break;
    case CONFIG_TYPE_SIZE:
        if (text != NULL && (lval = config_parse_size(text)) < 0)
            return invalid_value(err, at, "size", text, name,
                                 "expected a number with an optional k, Ki, M, Mi, G, Gi, T or Ti suffix");
        break;
    case CONFIG_TYPE_ENUM:
        if (text != NULL) {
            size_t i;

            for (i = 0; opt->choices[i] != NULL; i++)
                if (strcasecmp(text, opt->choices[i]) == 0)
                    break;
            if (opt->choices[i] == NULL) {
                strbuf_init(&sb);
                strbuf_append(&sb, "must be one in: ");
                append_choices(&sb, opt->choices);
                invalid_value(err, at, "value", text, name, sb.buf);
                strbuf_free(&sb);
                return -1;
            }
            free(text);
            *textp = br_strdup(opt->choices[i]);
            if (opt->choice_values != NULL)
                uval = opt->choice_values[i];
            else
                sval = br_strdup(opt->choices[i]);
        }
        break;
    case CONFIG_TYPE_CSV:
        if (text != NULL) {
            char *copy = br_strdup(text), *save = NULL, *item;
            int bad = 0;

            strbuf_init(&sb);
            for (item = strtok_r(copy, ",", &save); item != NULL && !bad; item = strtok_r(NULL, ",", &save)) {
                char *end = item + strlen(item);
                size_t i;

                while (isspace((unsigned char) *item))
                    item++;
                while (end > item && isspace((unsigned char) end[-1]))
                    *--end = '\0';
                for (i = 0; opt->choices[i] != NULL; i++)
                    if (strcasecmp(item, opt->choices[i]) == 0)
                        break;
                if (opt->choices[i] == NULL) {
                    strbuf_appendf(&sb, "unknown value '%s', expected a comma-separated list of: ", item);
                    append_choices(&sb, opt->choices);
                    bad = 1;
                } else {
                    uval |= opt->choice_values[i];
                }
            }
            /* empty items ("a,,b" or a trailing comma) are as unknown as any other word */
            if (!bad && (strstr(text, ",,") != NULL || text[0] == ',' || text[strlen(text) - 1] == ',')) {
                strbuf_append(&sb, "empty item, expected a comma-separated list of: ");
                append_choices(&sb, opt->choices);
                bad = 1;
            }
            if (!bad && strcmp(name, "backup_options") == 0 && (uval & BACKUP_OPT_CONCURRENT)
                && (uval & BACKUP_OPT_EXCLUSIVE)) {
                strbuf_append(&sb, "cannot contain both 'concurrent_backup' and 'exclusive_backup'");
                bad = 1;
            }
            free(copy);
            if (bad) {
                invalid_value(err, at, "value", text, name, sb.buf);
                strbuf_free(&sb);
                return -1;
            }
            strbuf_free(&sb);
        }
        break;
    case CONFIG_TYPE_RETENTION: {
        struct retention_policy rp = { RETENTION_NONE, 0, RETENTION_DAYS };

        if (text != NULL && retention_policy_parse(text, &rp, err) != 0)
            return invalid_value(err, at, "retention policy", text, name,
                                 "expected 'REDUNDANCY n' or 'RECOVERY WINDOW OF n DAYS|WEEKS|MONTHS'");
        if (r->srv != NULL)
            r->srv->retention_policy = rp;
        sval = br_strdup(text);
        break;
    }
    }

    if (opt->offset == CONFIG_NO_FIELD || base == NULL) {
        free(sval);
        return 0;
    }
    switch (opt->type) {
    case CONFIG_TYPE_BOOL:
    case CONFIG_TYPE_INT:
        store_ptr(base, opt->offset, &ival, sizeof(ival));
        break;
    case CONFIG_TYPE_INT64:
    case CONFIG_TYPE_INTERVAL:
    case CONFIG_TYPE_SIZE:
        store_ptr(base, opt->offset, &lval, sizeof(lval));
        break;
    case CONFIG_TYPE_CSV:
        store_ptr(base, opt->offset, &uval, sizeof(uval));
        break;
    case CONFIG_TYPE_ENUM:
        if (opt->choice_values != NULL) {
            store_ptr(base, opt->offset, &uval, sizeof(uval));
            break;
        }
        __attribute__((fallthrough));   /* an enum kept as text */
    default: {
        char **field = (char **) (void *) ((char *) base + opt->offset);

        free(*field);
        *field = sval;
        break;
    }
    }
    return 0;
}

/*
 * Resolve option idx in r's scope: [section] (then [DEFAULT]), else [barman]
 * for options allowed there, else the default. Memoised; a loop through
 * %(name)s references is an error.
 */
/* 1 when text is, to the letter, one of the choices of an ENUM option. */
static int
is_enum_choice(const struct config_option *opt, const char *text)
{
    if (opt->type != CONFIG_TYPE_ENUM || opt->choices == NULL)
        return 0;
    for (const char *const *c = opt->choices; *c != NULL; c++)
        if (strcmp(*c, text) == 0)
            return 1;
    return 0;
}

static int
resolve_option(struct resolver *r, size_t idx, struct br_error *err)
{
    const struct config_option *opt = &config_options[idx];
    const struct ini_section *src = NULL;
    const struct ini_entry *e;
    struct interp_ctx ctx;
    struct value_origin at;
    char *text = NULL, *where;

    if (r->state[idx] == 2)
        return 0;
    if (r->state[idx] == 1)
        return br_error_set(err, BR_E_CONFIG, "%s:%d: option \"%s\" in [%s] section refers to itself through "
                            "%%(name)s interpolation", r->sec->file, r->sec->line, opt->info.name, r->sec->name);
    r->state[idx] = 1;

    if ((e = ini_section_get(r->sec, opt->info.name)) != NULL)
        src = r->sec;
    else if ((e = ini_section_get(r->b->defaults, opt->info.name)) != NULL)
        src = r->b->defaults;
    else if (r->srv != NULL && (opt->info.scope & CONFIG_SCOPE_GLOBAL)
             && (e = ini_section_get(r->b->global, opt->info.name)) != NULL)
        src = r->b->global;

    memset(&ctx, 0, sizeof(ctx));
    ctx.r = r;
    if (e != NULL) {
        at.file = src->file;
        at.line = e->line;
        at.section = src->name;
        ctx.sec = src;
        where = br_asprintf("%s:%d: bad interpolation in option \"%s\" in [%s] section", at.file, at.line,
                            opt->info.name, src->name);
        text = ini_interpolate(e->value, interp_lookup, &ctx, 0, where, err);
        free(where);
        if (text == NULL)
            return -1;
        /*
         * Barman: "None" (any case) and "" are unset, and stop inheritance and
         * defaults. Except where an option's choices spell the word exactly
         * (backup_compression = none: Barman 3.9's tar without compression),
         * which reading as unset would silently turn into barrel's default.
         */
        if (ini_is_none(text) && !is_enum_choice(opt, text))
            text[0] = '\0';
        ini_strip_quotes(text);
        if (text[0] == '\0') {
            free(text);
            text = NULL;
        }
    } else {
        at.file = r->sec->file;
        at.line = r->sec->line;
        at.section = r->sec->name;
        if (opt->info.default_text != NULL && opt->info.default_text[0] != '\0') {
            if (opt->default_interp) {
                ctx.sec = r->sec;
                ctx.missing_ok = 1;
                where = br_asprintf("%s:%d: bad interpolation in the default of option \"%s\" in [%s] section",
                                    at.file, at.line, opt->info.name, at.section);
                text = ini_interpolate(opt->info.default_text, interp_lookup, &ctx, 0, where, err);
                free(where);
                if (text == NULL)
                    return -1;
                if (ctx.missing) {
                    free(text);
                    text = NULL;
                }
            } else {
                text = br_strdup(opt->info.default_text);
            }
        }
    }

    if (parse_and_store(r, opt, &text, &at, err) != 0) {
        free(text);
        return -1;
    }
    r->text[idx] = text;
    r->state[idx] = 2;
    return 0;
}

static void
resolver_init(struct resolver *r, struct config_builder *b, struct server_config *srv,
              const struct ini_section *sec)
{
    r->b = b;
    r->srv = srv;
    r->sec = sec;
    r->text = br_calloc(config_n_options, sizeof(*r->text));
    r->state = br_calloc(config_n_options, 1);
}

static void
resolver_reset(struct resolver *r)
{
    for (size_t i = 0; i < config_n_options; i++)
        free(r->text[i]);
    free(r->text);
    free(r->state);
}

/* ------------------------------------------------------------------ */
/* Sections: globals, includes, duplicates, warnings                   */
/* ------------------------------------------------------------------ */

static int
resolve_globals(struct config_builder *b, struct br_error *err)
{
    struct resolver r;
    int rc = -1;

    /*
     * Only the global-only keys: a server option written in [barman] may use
     * %(name)s, so it is resolved (and checked) for each server that inherits it.
     */
    resolver_init(&r, b, NULL, b->global);
    for (size_t i = 0; i < config_n_options; i++)
        if (config_options[i].info.scope == CONFIG_SCOPE_GLOBAL && resolve_option(&r, i, err) != 0)
            goto out;
    if (b->cfg->barman_home == NULL) {
        br_error_set(err, BR_E_CONFIG, "%s:%d: missing required option \"barman_home\" in [%s] section",
                     b->global->file, b->global->line, b->global->name);
        goto out;
    }
    rc = 0;
out:
    resolver_reset(&r);
    return rc;
}

static int
compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * A file holding a password (a conninfo's password=..., a URI's user:secret@)
 * must not be readable by others: libpq ignores a .pgpass with group or world
 * access, barrel refuses such a configuration file. Group access is allowed
 * for a file owned by root (root:barman 0640, the way PostgreSQL accepts a
 * root-owned ssl_key_file), since only root could have widened it.
 */
static int
check_password_file_mode(const char *path, const char *text, struct br_error *err)
{
    char *redacted = output_redact_conninfo(text);
    int has_password = redacted != NULL && strcmp(redacted, text) != 0;
    struct stat st;
    mode_t forbidden;

    free(redacted);
    if (!has_password || stat(path, &st) != 0)
        return 0;
    forbidden = st.st_uid == 0 ? S_IRWXO : (S_IRWXG | S_IRWXO);
    if ((st.st_mode & forbidden) == 0)
        return 0;
    return br_error_set(err, BR_E_CONFIG, "%s: contains a password and is readable by others (mode %04o); chmod 0600 it",
                        path, (unsigned) (st.st_mode & 07777));
}

/* Parse one more file into the builder's INI. */
static int
parse_file(struct config_builder *b, const char *path, struct br_error *err)
{
    char *text = fs_read_file(path, CONFIG_MAX_FILE_BYTES, NULL, err);
    int rc;

    if (text == NULL) {
        int saved = err->sys_errno;

        br_error_set(err, BR_E_CONFIG, "could not read configuration file \"%s\": %s", path,
                     saved ? strerror(saved) : err->msg);
        err->sys_errno = saved;
        return -1;
    }
    if (check_password_file_mode(path, text, err) != 0) {
        free(text);
        return -1;
    }
    rc = ini_parse(&b->ini, text, path, err);
    free(text);
    return rc;
}

/* Every *.conf regular file of configuration_files_directory, in name order (Python's sorted glob). */
static int
read_includes(struct config_builder *b, struct br_error *err)
{
    const char *dir = b->cfg->configuration_files_directory;
    const struct ini_entry *e = ini_section_get(b->global, "configuration_files_directory");
    int at_line = e ? e->line : b->global->line;
    char **names = NULL;
    size_t n_names = 0;
    struct dirent *de;
    DIR *dh;
    int rc = -1;

    dh = opendir(dir);
    if (dh == NULL)
        return br_error_sys(err, BR_E_CONFIG, "%s:%d: could not open configuration_files_directory \"%s\"",
                            b->global->file, at_line, dir);
    while ((de = readdir(dh)) != NULL) {
        size_t len = strlen(de->d_name);

        /* glob("*.conf") skips dot files */
        if (de->d_name[0] != '.' && len > 5 && strcmp(de->d_name + len - 5, ".conf") == 0)
            add_string(&names, &n_names, br_strdup(de->d_name));
    }
    closedir(dh);
    if (n_names > 0)
        qsort(names, n_names, sizeof(*names), compare_names);

    for (size_t i = 0; i < n_names; i++) {
        char *path = path_join(dir, names[i]);
        struct stat st;
        int bad;

        if (stat(path, &st) != 0) {
            br_error_sys(err, BR_E_CONFIG, "%s:%d: could not read included configuration file \"%s\"",
                         b->global->file, at_line, path);
            free(path);
            goto out;
        }
        if (!S_ISREG(st.st_mode)) {
            config_warn(b->cfg, "Discarding configuration file: %s (not a file)", path);
            free(path);
            continue;
        }
        bad = parse_file(b, path, err);
        free(path);
        if (bad)
            goto out;
    }
    rc = 0;
out:
    for (size_t i = 0; i < n_names; i++)
        free(names[i]);
    free(names);
    return rc;
}

/*
 * Barman's rules on sections across all files: [barman] only in the main
 * file (an included one may hold an empty header), no duplicates (stricter
 * than Barman, which merges them), no server named "all".
 */
static int
check_sections(struct config_builder *b, struct br_error *err)
{
    struct ini *ini = &b->ini;

    b->skip = br_calloc(ini->n_sections ? ini->n_sections : 1, 1);
    for (size_t i = 0; i < ini->n_sections; i++) {
        const struct ini_section *sec = ini->sections[i];

        if (sec->file_idx > 0 && is_global_name(sec->name)) {
            if (sec->n_entries > 0)
                return br_error_set(err, BR_E_CONFIG,
                                    "%s:%d: the configuration file %s contains a not empty [%s] section "
                                    "(global options belong in the main file %s)",
                                    sec->file, sec->line, sec->file, sec->name, ini->files[0]);
            b->skip[i] = 1;
            continue;
        }
        for (size_t j = 0; j < i; j++) {
            const struct ini_section *prev = ini->sections[j];
            int same = strcmp(prev->name, sec->name) == 0
                       || (is_global_name(prev->name) && is_global_name(sec->name));

            if (!b->skip[j] && same) {
                if (strcmp(prev->name, sec->name) == 0)
                    return br_error_set(err, BR_E_CONFIG, "%s:%d: duplicate section [%s] (already defined at %s:%d)",
                                        sec->file, sec->line, sec->name, prev->file, prev->line);
                return br_error_set(err, BR_E_CONFIG,
                                    "%s:%d: duplicate section [%s] (already defined at %s:%d as [%s])",
                                    sec->file, sec->line, sec->name, prev->file, prev->line, prev->name);
            }
        }
        if (strcmp(sec->name, "all") == 0)
            return br_error_set(err, BR_E_CONFIG,
                                "%s:%d: the reserved word 'all' is not allowed as server name",
                                sec->file, sec->line);
    }
    return 0;
}

/* Barman's warning for unknown keys, and barrel's for known options it does not implement yet. */
static void
collect_warnings(struct config_builder *b)
{
    for (size_t i = 0; i < b->ini.n_sections; i++) {
        const struct ini_section *sec = b->ini.sections[i];
        enum config_scope scope;

        if (b->skip[i])
            continue;
        if (strcmp(sec->name, CONFIG_DEFAULT_SECTION) == 0)
            scope = CONFIG_SCOPE_BOTH;
        else if (is_global_name(sec->name))
            scope = CONFIG_SCOPE_GLOBAL;
        else
            scope = CONFIG_SCOPE_SERVER;
        for (size_t k = 0; k < sec->n_entries; k++) {
            const struct ini_entry *e = &sec->entries[k];
            const struct config_option *opt = config_option_find(e->key, NULL);

            if (opt == NULL || (opt->info.scope & scope) == 0)
                config_warn(b->cfg, "Invalid configuration option \"%s\" in [%s] section.", e->key, sec->name);
            else if (!opt->info.implemented && e->value[0] != '\0' && !ini_is_none(e->value))
                config_warn(b->cfg, "option \"%s\" in [%s] section is accepted but not implemented by barrel yet",
                            e->key, sec->name);
        }
    }
}

/* ------------------------------------------------------------------ */
/* Servers                                                             */
/* ------------------------------------------------------------------ */

static void
disable(struct server_config *sc, const char *fmt, ...) BR_PRINTF(2, 3);

static void
disable(struct server_config *sc, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    add_string(&sc->disabled_reasons, &sc->n_disabled_reasons, br_vasprintf(fmt, ap));
    va_end(ap);
}

/* Barman's consistency rules (server.py): they disable the server, they are not errors. */
static void
apply_server_rules(struct config_builder *b, struct server_config *sc)
{
    int passive = sc->primary_ssh_command != NULL;

    /* With neither archiver on, Barman warns and turns the file archiver on. */
    if (!sc->archiver && !sc->streaming_archiver) {
        config_warn(b->cfg, "No archiver enabled for server '%s'. "
                    "Please turn on 'archiver', 'streaming_archiver' or both", sc->name);
        config_warn(b->cfg, "Forcing 'archiver = on'");
        sc->archiver = 1;
    }
    /* rsync methods pick concurrent backup when no strategy is given; postgres always is. */
    if ((sc->backup_options & (BACKUP_OPT_CONCURRENT | BACKUP_OPT_EXCLUSIVE)) == 0)
        sc->backup_options |= BACKUP_OPT_CONCURRENT;

    if (sc->conninfo == NULL && !passive)
        disable(sc, "PostgreSQL connection: Missing 'conninfo' parameter for server '%s'", sc->name);
    if (!passive) {
        if (sc->backup_method == BACKUP_METHOD_RSYNC && sc->ssh_command == NULL)
            disable(sc, "Missing or invalid ssh_command in barman configuration for server %s", sc->name);
        if (sc->backup_method == BACKUP_METHOD_LOCAL_RSYNC && sc->ssh_command != NULL)
            disable(sc, "Local copy requires ssh_command in barman configuration to be empty for server %s",
                    sc->name);
        if ((sc->backup_method == BACKUP_METHOD_RSYNC || sc->backup_method == BACKUP_METHOD_LOCAL_RSYNC)
            && sc->backup_compression != BACKUP_COMPRESSION_UNSET)
            disable(sc, "backup_compression option is not supported by rsync backup_method");
    }
    if (sc->streaming_archiver && !sc->archiver && (sc->streaming_conninfo == NULL || sc->slot_name == NULL))
        disable(sc, "Streaming-only archiver requires 'streaming_conninfo' and 'slot_name' options to be "
                "properly configured");
    if (sc->backup_compression != BACKUP_COMPRESSION_UNSET && sc->backup_compression_format == BACKUP_FORMAT_PLAIN
        && sc->backup_compression_location != BACKUP_LOCATION_SERVER)
        disable(sc, "backup_compression_format plain is not compatible with backup_compression_location %s",
                sc->backup_compression_location == BACKUP_LOCATION_CLIENT ? "client" : "None");
}

static struct server_config *
build_server(struct config_builder *b, const struct ini_section *sec, struct br_error *err)
{
    struct server_config *sc = br_calloc(1, sizeof(*sc));
    struct resolver r;
    size_t n_server_opts = 0;

    sc->name = br_strdup(sec->name);
    sc->defined_in = br_strdup(sec->file);
    sc->defined_line = sec->line;

    resolver_init(&r, b, sc, sec);
    for (size_t i = 0; i < config_n_options; i++) {
        if (!option_in_scope(&r, &config_options[i]))
            continue;
        if (resolve_option(&r, i, err) != 0) {
            resolver_reset(&r);
            server_config_free(sc);
            return NULL;
        }
        n_server_opts++;
    }

    /* Everything as resolved text, in table order, for show-server. */
    sc->raw_names = br_calloc(n_server_opts, sizeof(*sc->raw_names));
    sc->raw_values = br_calloc(n_server_opts, sizeof(*sc->raw_values));
    for (size_t i = 0; i < config_n_options; i++) {
        if (!option_in_scope(&r, &config_options[i]))
            continue;
        sc->raw_names[sc->n_raw] = br_strdup(config_options[i].info.name);
        sc->raw_values[sc->n_raw] = r.text[i];
        r.text[i] = NULL;
        sc->n_raw++;
    }
    resolver_reset(&r);

    apply_server_rules(b, sc);
    if (sc->archiver) {
        for (size_t i = 0; i < sc->n_raw; i++) {
            if (strcmp(sc->raw_names[i], "archiver") == 0
                && (sc->raw_values[i] == NULL || config_parse_bool(sc->raw_values[i]) != 1)) {
                free(sc->raw_values[i]);
                sc->raw_values[i] = br_strdup("on");
            }
        }
    }
    return sc;
}

static int
compare_servers(const void *a, const void *b)
{
    return strcmp((*(struct server_config *const *) a)->name, (*(struct server_config *const *) b)->name);
}

/*
 * Everything after the main file's text is known: globals, includes,
 * section rules, warnings, servers. Takes the builder's INI with the main
 * file already parsed.
 */
static struct barrel_config *
build_config(struct config_builder *b, const char *main_path, struct br_error *err)
{
    struct barrel_config *cfg = br_calloc(1, sizeof(*cfg));

    b->cfg = cfg;
    cfg->path = br_strdup(main_path);

    for (size_t i = 0; i < b->ini.n_sections; i++) {
        const struct ini_section *sec = b->ini.sections[i];

        if (is_global_name(sec->name) && b->global == NULL)
            b->global = sec;
        else if (strcmp(sec->name, CONFIG_DEFAULT_SECTION) == 0 && b->defaults == NULL)
            b->defaults = sec;
    }
    if (b->global == NULL) {
        br_error_set(err, BR_E_CONFIG, "%s: missing [barman] section (the global section, with barman_home)",
                     main_path);
        goto fail;
    }
    /* Duplicates of the main file first, so that a [barman] twice is reported before its contents are used. */
    if (check_sections(b, err) != 0)
        goto fail;
    if (resolve_globals(b, err) != 0)
        goto fail;
    if (cfg->configuration_files_directory != NULL) {
        if (read_includes(b, err) != 0)
            goto fail;
        free(b->skip);
        b->skip = NULL;
        if (check_sections(b, err) != 0)
            goto fail;
        for (size_t i = 0; i < b->ini.n_sections && b->defaults == NULL; i++)
            if (strcmp(b->ini.sections[i]->name, CONFIG_DEFAULT_SECTION) == 0)
                b->defaults = b->ini.sections[i];
    }
    collect_warnings(b);

    for (size_t i = 0; i < b->ini.n_sections; i++) {
        const struct ini_section *sec = b->ini.sections[i];
        struct server_config *sc;

        if (b->skip[i] || is_global_name(sec->name) || strcmp(sec->name, CONFIG_DEFAULT_SECTION) == 0)
            continue;
        sc = build_server(b, sec, err);
        if (sc == NULL)
            goto fail;
        cfg->servers = br_realloc(cfg->servers, (cfg->n_servers + 1) * sizeof(*cfg->servers));
        cfg->servers[cfg->n_servers++] = sc;
    }
    if (cfg->n_servers > 1)
        qsort(cfg->servers, cfg->n_servers, sizeof(*cfg->servers), compare_servers);
    return cfg;
fail:
    config_free(cfg);
    b->cfg = NULL;
    return NULL;
}

static void
builder_reset(struct config_builder *b)
{
    ini_reset(&b->ini);
    free(b->skip);
}

struct barrel_config *
config_load_string(const char *text, const char *name, struct br_error *err)
{
    struct config_builder b;
    struct barrel_config *cfg = NULL;

    memset(&b, 0, sizeof(b));
    ini_init(&b.ini);
    if (ini_parse(&b.ini, text, name, err) == 0)
        cfg = build_config(&b, name, err);
    builder_reset(&b);
    return cfg;
}

/* ------------------------------------------------------------------ */
/* Finding the main file                                               */
/* ------------------------------------------------------------------ */

static const char *const default_locations[] = {
    "~/.barrel.conf", "/etc/barrel.conf", "/etc/barrel/barrel.conf",
    "~/.barman.conf", "/etc/barman.conf", "/etc/barman/barman.conf",
};

static char *
find_main_file(const char *explicit_path, struct br_error *err)
{
    const char *env = getenv("BARMAN_CONFIG_FILE");
    const char *given = explicit_path ? explicit_path : (env && env[0] ? env : NULL);

    if (given != NULL) {
        char *path = expand_tilde(given);

        if (!path_exists(path)) {
            br_error_set(err, BR_E_CONFIG, "Configuration file '%s' does not exist", given);
            free(path);
            return NULL;
        }
        return path;
    }
    for (size_t i = 0; i < BR_ARRAY_LEN(default_locations); i++) {
        char *path = expand_tilde(default_locations[i]);

        if (path_is_file(path) && access(path, R_OK) == 0)
            return path;
        free(path);
    }
    br_error_set(err, BR_E_CONFIG, "could not find any configuration file at default locations");
    br_error_detail(err, "Looked for ~/.barrel.conf, /etc/barrel.conf, /etc/barrel/barrel.conf, "
                    "~/.barman.conf, /etc/barman.conf and /etc/barman/barman.conf.");
    br_error_hint(err, "Use -c FILE or set BARMAN_CONFIG_FILE.");
    return NULL;
}

struct barrel_config *
config_load(const char *explicit_path, struct br_error *err)
{
    struct config_builder b;
    struct barrel_config *cfg = NULL;
    char *path = find_main_file(explicit_path, err);

    if (path == NULL)
        return NULL;
    memset(&b, 0, sizeof(b));
    ini_init(&b.ini);
    if (parse_file(&b, path, err) == 0)
        cfg = build_config(&b, path, err);
    builder_reset(&b);
    free(path);
    return cfg;
}
