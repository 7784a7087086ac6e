/*
 * config_int.h: what the three files of src/config/ share and nothing else
 * includes: the INI model (ini.c), the option table (options.c) and the
 * small value parsers (retention.c).
 *
 * The INI layer knows only Python configparser's syntax: it keeps every
 * section occurrence as written (duplicates included) so that config.c can
 * name both places of a duplicate; within one occurrence a repeated key
 * replaces the earlier value in place, as configparser does.
 */
#ifndef BARREL_CONFIG_INT_H
#define BARREL_CONFIG_INT_H

#include "barrel/build.h"
#include "barrel/config.h"

#include <stddef.h>
#include <stdint.h>

struct br_error;

/* ---- ini.c ---- */

struct ini_entry {
    char *key;        /* lowered */
    char *value;      /* raw text, continuation lines joined with "\n"; "" when empty */
    int   line;
};

struct ini_section {
    char  *name;      /* as written, case-sensitive */
    const char *file; /* points into ini->files */
    int    file_idx;  /* 0 = the main file */
    int    line;
    size_t n_entries;
    size_t cap_entries;
    struct ini_entry *entries;
};

struct ini {
    size_t n_files;
    char **files;
    size_t n_sections;
    size_t cap_sections;
    struct ini_section **sections;
};

void ini_init(struct ini *ini);
void ini_reset(struct ini *ini);

/*
 * Parse one file's text and append its sections. `file` is copied and used
 * in messages. Returns 0, or -1 with err (BR_E_CONFIG, "file:line: ...").
 */
int ini_parse(struct ini *ini, const char *text, const char *file, struct br_error *err);

/* The entry for a lowered key in one section occurrence, or NULL. */
const struct ini_entry *ini_section_get(const struct ini_section *sec, const char *key);

/*
 * Resolve one %(var)s reference during interpolation: return 0 and a new
 * string in *out, 1 when var is not defined, -1 with err set.
 */
typedef int (*ini_lookup_fn)(void *ctx, const char *var, int depth, char **out, struct br_error *err);

/* configparser's MAX_INTERPOLATION_DEPTH */
#define INI_MAX_INTERPOLATION_DEPTH 10

/*
 * configparser "basic" interpolation of raw: %(name)s is replaced through
 * lookup (names lowered), %% gives %. `where` prefixes messages, e.g.
 * "/etc/barman.conf:12: bad interpolation in option \"x\" in [pg] section".
 * Returns a new string, or NULL with err set.
 */
char *ini_interpolate(const char *raw, ini_lookup_fn lookup, void *ctx, int depth, const char *where,
                      struct br_error *err);

/* Strip one pair of matching surrounding quotes in place (Barman's _QUOTE_RE). */
void ini_strip_quotes(char *s);
/* True if s is "None" in any case (Barman 3.4 treats it as unset). */
int ini_is_none(const char *s);

/* ---- options.c ---- */

enum config_type {
    CONFIG_TYPE_STRING,
    CONFIG_TYPE_PATH,        /* string, "~" expanded */
    CONFIG_TYPE_ABSPATH,     /* path that must be absolute */
    CONFIG_TYPE_BOOL,
    CONFIG_TYPE_INT,
    CONFIG_TYPE_INT64,       /* int stored in an int64_t field */
    CONFIG_TYPE_ENUM,        /* one of choices, any case; stored as choice_values[i], or as the
                              * choice's text when choice_values is NULL */
    CONFIG_TYPE_CSV,         /* comma-separated choices; stored as bit flags */
    CONFIG_TYPE_INTERVAL,    /* seconds, int64_t */
    CONFIG_TYPE_SIZE,        /* bytes, int64_t */
    CONFIG_TYPE_RETENTION,   /* retention_policy_text + retention_policy */
    CONFIG_TYPE_SLOT,        /* replication slot name, lowered */
};

#define CONFIG_NO_FIELD ((size_t) -1)

struct config_option {
    struct config_option_info info;   /* first member: config_option_at() returns it */
    enum config_type type;
    int    in_global;                 /* offset is into struct barrel_config */
    size_t offset;                    /* CONFIG_NO_FIELD: kept as text only */
    const char *const *choices;       /* ENUM and CSV: NULL-terminated accepted values */
    const unsigned *choice_values;    /* ENUM: stored value per choice; CSV: bit per choice */
    int    min_value;                 /* INT: smallest accepted value */
    int    default_interp;            /* default_text goes through %(name)s interpolation */
};

extern const struct config_option config_options[];
extern const size_t config_n_options;

/* The option of that (lowered) name and its table index, or NULL. */
const struct config_option *config_option_find(const char *name, size_t *idx_out);

/* ---- retention.c ---- */

/* Python int(): blanks around, optional sign, digits with single '_' between them. 0 or -1. */
int config_parse_int_text(const char *text, long long *out);

#endif /* BARREL_CONFIG_INT_H */
