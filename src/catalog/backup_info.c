/*
 * backup_info.c: backup.info, read tolerantly and written byte for byte as
 * Barman 3.4 writes it (spec sections 3.1 and 3.2, and 8.2.1).
 *
 * Reading follows FieldListFile.load(): skip blank and '#' lines, split at
 * the first '=', strip both sides, "None" is null, typed keys converted.
 * Unlike Barman 3.4, which dies on a key it does not know, keys written by
 * newer Barman versions are kept verbatim in extra_* and written back,
 * sorted with the rest, so that a rewrite by barrel loses nothing.
 *
 * Writing follows FieldListFile.save(): every 3.4 key, sorted, "key=value\n",
 * null as "None", backup_name and snapshots_info left out when null. The
 * Python-literal keys use null_repr(), which writes None for an empty
 * value: an empty label, list or dict is written as None, as Barman does.
 */
#include "barrel/build.h"
#include "barrel/catalog.h"

#include "barrel/error.h"
#include "barrel/fmt.h"
#include "barrel/fs.h"
#include "barrel/mem.h"
#include "barrel/pyliteral.h"
#include "barrel/strbuf.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <time.h>

/* A backup.info holds a label and a few paths; anything near this size is not one. */
#define BACKUP_INFO_MAX_BYTES (4 * 1024 * 1024)
#define BACKUP_INFO_DEFAULT_SEGMENT_SIZE INT64_C(16777216)

enum bi_kind {
    BI_KIND_STR,          /* plain text; None is NULL */
    BI_KIND_NAME,         /* plain text, key left out when NULL */
    BI_KIND_INT,
    BI_KIND_BEGIN_TIME,
    BI_KIND_END_TIME,
    BI_KIND_LABEL,        /* repr() of a str */
    BI_KIND_COPY_STATS,   /* repr() of a dict, kept verbatim */
    BI_KIND_INCLUDED,     /* repr() of a list of str */
    BI_KIND_TABLESPACES,  /* repr() of a list of (name, oid, location) */
    BI_KIND_SNAPSHOTS,    /* repr() of a dict, kept verbatim, key left out when NULL */
    BI_KIND_STATUS,
};

struct bi_key {
    const char *name;
    enum bi_kind kind;
    size_t offset;        /* of the char * or int64_t field, for STR, NAME and INT */
};

/* Barman 3.4's BackupInfo fields, in sorted order (which is also the write order). */
static const struct bi_key bi_keys[] = {
    { "backup_label", BI_KIND_LABEL, 0 },
    { "backup_name", BI_KIND_NAME, offsetof(struct backup_info, backup_name) },
    { "begin_offset", BI_KIND_INT, offsetof(struct backup_info, begin_offset) },
    { "begin_time", BI_KIND_BEGIN_TIME, 0 },
    { "begin_wal", BI_KIND_STR, offsetof(struct backup_info, begin_wal) },
    { "begin_xlog", BI_KIND_STR, offsetof(struct backup_info, begin_xlog) },
    { "compression", BI_KIND_STR, offsetof(struct backup_info, compression) },
    { "config_file", BI_KIND_STR, offsetof(struct backup_info, config_file) },
    { "copy_stats", BI_KIND_COPY_STATS, 0 },
    { "deduplicated_size", BI_KIND_INT, offsetof(struct backup_info, deduplicated_size) },
    { "end_offset", BI_KIND_INT, offsetof(struct backup_info, end_offset) },
    { "end_time", BI_KIND_END_TIME, 0 },
    { "end_wal", BI_KIND_STR, offsetof(struct backup_info, end_wal) },
    { "end_xlog", BI_KIND_STR, offsetof(struct backup_info, end_xlog) },
    { "error", BI_KIND_STR, offsetof(struct backup_info, error) },
    { "hba_file", BI_KIND_STR, offsetof(struct backup_info, hba_file) },
    { "ident_file", BI_KIND_STR, offsetof(struct backup_info, ident_file) },
    { "included_files", BI_KIND_INCLUDED, 0 },
    { "mode", BI_KIND_STR, offsetof(struct backup_info, mode) },
    { "pgdata", BI_KIND_STR, offsetof(struct backup_info, pgdata) },
    { "server_name", BI_KIND_STR, offsetof(struct backup_info, server_name) },
    { "size", BI_KIND_INT, offsetof(struct backup_info, size) },
    { "snapshots_info", BI_KIND_SNAPSHOTS, 0 },
    { "status", BI_KIND_STATUS, 0 },
    { "systemid", BI_KIND_STR, offsetof(struct backup_info, systemid) },
    { "tablespaces", BI_KIND_TABLESPACES, 0 },
    { "timeline", BI_KIND_INT, offsetof(struct backup_info, timeline) },
    { "version", BI_KIND_INT, offsetof(struct backup_info, version) },
    { "xlog_segment_size", BI_KIND_INT, offsetof(struct backup_info, xlog_segment_size) },
};

static const char *const bi_status_names[] = {
    [BACKUP_STATUS_EMPTY] = "EMPTY",
    [BACKUP_STATUS_STARTED] = "STARTED",
    [BACKUP_STATUS_WAITING_FOR_WALS] = "WAITING_FOR_WALS",
    [BACKUP_STATUS_DONE] = "DONE",
    [BACKUP_STATUS_FAILED] = "FAILED",
    [BACKUP_STATUS_SYNCING] = "SYNCING",
};

const char *
backup_status_name(enum backup_status st)
{
    if ((size_t) st < BR_ARRAY_LEN(bi_status_names))
        return bi_status_names[st];
    return "UNKNOWN";
}

int
backup_status_parse(const char *text, enum backup_status *out)
{
    size_t i;

    for (i = 0; i < BR_ARRAY_LEN(bi_status_names); i++) {
        if (strcmp(text, bi_status_names[i]) == 0) {
            *out = (enum backup_status) i;
            return 0;
        }
    }
    return -1;
}

int
backup_id_is_valid(const char *text)
{
    int i;

    if (text == NULL || strlen(text) != BACKUP_ID_LEN)
        return 0;
    for (i = 0; i < BACKUP_ID_LEN; i++) {
        if (i == 8) {
            if (text[i] != 'T')
                return 0;
        } else if (text[i] < '0' || text[i] > '9') {
            return 0;
        }
    }
    return 1;
}

void
backup_id_from_time(time_t when, char *buf)
{
    struct tm tm;

    localtime_r(&when, &tm);
    strftime(buf, BACKUP_ID_LEN + 1, "%Y%m%dT%H%M%S", &tm);
}

struct backup_info *
backup_info_new(const char *backup_id)
{
    struct backup_info *bi = br_calloc(1, sizeof(*bi));

    if (backup_id != NULL)
        snprintf(bi->backup_id, sizeof(bi->backup_id), "%s", backup_id);
    bi->begin_offset = BI_NULL_INT;
    bi->end_offset = BI_NULL_INT;
    bi->deduplicated_size = BI_NULL_INT;
    bi->size = BI_NULL_INT;
    bi->timeline = BI_NULL_INT;
    bi->version = BI_NULL_INT;
    bi->xlog_segment_size = BACKUP_INFO_DEFAULT_SEGMENT_SIZE;
    bi->number_of_workers = BI_NULL_INT;
    bi->copy_time = bi->total_time = bi->analysis_time = -1;
    bi->status = BACKUP_STATUS_EMPTY;
    return bi;
}

static void
bi_free_tablespaces(struct backup_info *bi)
{
    size_t i;

    for (i = 0; i < bi->n_tablespaces; i++) {
        free(bi->tablespaces[i].name);
        free(bi->tablespaces[i].location);
    }
    free(bi->tablespaces);
    bi->tablespaces = NULL;
    bi->n_tablespaces = 0;
    bi->tablespaces_set = 0;
}

static void
bi_free_included(struct backup_info *bi)
{
    size_t i;

    for (i = 0; i < bi->n_included_files; i++)
        free(bi->included_files[i]);
    free(bi->included_files);
    bi->included_files = NULL;
    bi->n_included_files = 0;
    bi->included_files_set = 0;
}

void
backup_info_free(struct backup_info *bi)
{
    size_t i;

    if (bi == NULL)
        return;
    for (i = 0; i < BR_ARRAY_LEN(bi_keys); i++)
        if (bi_keys[i].kind == BI_KIND_STR || bi_keys[i].kind == BI_KIND_NAME)
            free(*(char **) ((char *) bi + bi_keys[i].offset));
    free(bi->path);
    free(bi->backup_label);
    free(bi->copy_stats);
    free(bi->snapshots_info);
    bi_free_tablespaces(bi);
    bi_free_included(bi);
    for (i = 0; i < bi->n_extra; i++) {
        free(bi->extra_keys[i]);
        free(bi->extra_values[i]);
    }
    free(bi->extra_keys);
    free(bi->extra_values);
    free(bi);
}

/* ---- reading ---- */

/* Context for the error messages of one line. */
struct bi_line {
    const char *origin;
    size_t lineno;
    const char *key;
    struct br_error *err;
};

static int
bi_bad_value(const struct bi_line *ln, const char *why)
{
    return br_error_set(ln->err, BR_E_FORMAT, "invalid value for \"%s\" at line %zu of file \"%s\": %s",
                        ln->key, ln->lineno, ln->origin, why);
}

/* A pyl_parse() failure: its message (already in err) becomes the reason. */
static int
bi_bad_literal(const struct bi_line *ln)
{
    char why[sizeof(ln->err->msg)];

    snprintf(why, sizeof(why), "%s", ln->err != NULL ? ln->err->msg : "invalid python literal");
    return bi_bad_value(ln, why);
}

/* Python's int(): optional sign, decimal digits, '_' between digits. */
static int
bi_parse_int(const char *text, int64_t *out)
{
    char digits[32];
    size_t n = 0;
    const char *p = text;
    char *end;
    long long v;

    if (*p == '+' || *p == '-')
        digits[n++] = *p++;
    if (!(*p >= '0' && *p <= '9'))
        return -1;
    for (; *p != '\0'; p++) {
        if (*p == '_' && p[1] >= '0' && p[1] <= '9' && p[-1] >= '0' && p[-1] <= '9')
            continue;
        if (!(*p >= '0' && *p <= '9') || n + 1 >= sizeof(digits))
            return -1;
        digits[n++] = *p;
    }
    digits[n] = '\0';
    errno = 0;
    v = strtoll(digits, &end, 10);
    if (errno == ERANGE || *end != '\0' || v == (long long) BI_NULL_INT)
        return -1;
    *out = (int64_t) v;
    return 0;
}

static double
bi_pyl_number(const struct pyl *v)
{
    if (v == NULL)
        return -1;
    if (v->type == PYL_FLOAT)
        return v->fval;
    if (v->type == PYL_INT)
        return (double) v->ival;
    return -1;
}

static int
bi_set_copy_stats(struct backup_info *bi, const char *value, const struct bi_line *ln)
{
    struct pyl *dict = pyl_parse(value, ln->err);
    const struct pyl *workers;

    if (dict == NULL)
        return bi_bad_literal(ln);
    if (dict->type != PYL_DICT) {
        pyl_free(dict);
        return bi_bad_value(ln, "expected a dict");
    }
    free(bi->copy_stats);
    /* null_repr() writes None for an empty dict: keep the same on rewrite */
    bi->copy_stats = dict->n > 0 ? br_strdup(value) : NULL;
    bi->copy_time = bi_pyl_number(pyl_dict_get(dict, "copy_time"));
    bi->total_time = bi_pyl_number(pyl_dict_get(dict, "total_time"));
    bi->analysis_time = bi_pyl_number(pyl_dict_get(dict, "analysis_time"));
    workers = pyl_dict_get(dict, "number_of_workers");
    bi->number_of_workers = workers != NULL && workers->type == PYL_INT ? workers->ival : BI_NULL_INT;
    pyl_free(dict);
    return 0;
}

static int
bi_set_included(struct backup_info *bi, const char *value, const struct bi_line *ln)
{
    struct pyl *list = pyl_parse(value, ln->err);
    size_t i;

    if (list == NULL)
        return bi_bad_literal(ln);
    if (list->type != PYL_LIST && list->type != PYL_TUPLE) {
        pyl_free(list);
        return bi_bad_value(ln, "expected a list of strings");
    }
    for (i = 0; i < list->n; i++) {
        if (list->items[i]->type != PYL_STR) {
            pyl_free(list);
            return bi_bad_value(ln, "expected a list of strings");
        }
    }
    bi_free_included(bi);
    if (list->n > 0) {
        bi->included_files = br_calloc(list->n, sizeof(char *));
        for (i = 0; i < list->n; i++)
            bi->included_files[i] = br_strdup(list->items[i]->sval);
        bi->n_included_files = list->n;
        bi->included_files_set = 1;
    }
    pyl_free(list);
    return 0;
}

static int
bi_set_tablespaces(struct backup_info *bi, const char *value, const struct bi_line *ln)
{
    struct pyl *list = pyl_parse(value, ln->err);
    size_t i;

    if (list == NULL)
        return bi_bad_literal(ln);
    if (list->type != PYL_LIST && list->type != PYL_TUPLE)
        goto bad;
    for (i = 0; i < list->n; i++) {
        const struct pyl *ts = list->items[i];

        if ((ts->type != PYL_TUPLE && ts->type != PYL_LIST) || ts->n != 3 || ts->items[0]->type != PYL_STR ||
            ts->items[1]->type != PYL_INT || ts->items[1]->ival < 0 || ts->items[1]->ival > UINT32_MAX ||
            ts->items[2]->type != PYL_STR)
            goto bad;
    }
    bi_free_tablespaces(bi);
    /* load_tablespace_list() turns an empty list into None */
    if (list->n > 0) {
        bi->tablespaces = br_calloc(list->n, sizeof(*bi->tablespaces));
        for (i = 0; i < list->n; i++) {
            const struct pyl *ts = list->items[i];

            bi->tablespaces[i].name = br_strdup(ts->items[0]->sval);
            bi->tablespaces[i].oid = (uint32_t) ts->items[1]->ival;
            bi->tablespaces[i].location = br_strdup(ts->items[2]->sval);
        }
        bi->n_tablespaces = list->n;
        bi->tablespaces_set = 1;
    }
    pyl_free(list);
    return 0;
bad:
    pyl_free(list);
    return bi_bad_value(ln, "expected a list of (name, oid, location) tuples");
}

static void
bi_set_extra(struct backup_info *bi, const char *key, const char *value)
{
    size_t i;

    for (i = 0; i < bi->n_extra; i++) {
        if (strcmp(bi->extra_keys[i], key) == 0) {
            free(bi->extra_values[i]);
            bi->extra_values[i] = br_strdup(value);
            return;
        }
    }
    bi->extra_keys = br_realloc(bi->extra_keys, (bi->n_extra + 1) * sizeof(char *));
    bi->extra_values = br_realloc(bi->extra_values, (bi->n_extra + 1) * sizeof(char *));
    bi->extra_keys[bi->n_extra] = br_strdup(key);
    bi->extra_values[bi->n_extra] = br_strdup(value);
    bi->n_extra++;
}

/* Apply one key=value (value already stripped; NULL for None). */
static int
bi_set(struct backup_info *bi, const char *key, const char *value, const struct bi_line *ln)
{
    const struct bi_key *k = NULL;
    size_t i;

    for (i = 0; i < BR_ARRAY_LEN(bi_keys); i++) {
        if (strcmp(bi_keys[i].name, key) == 0) {
            k = &bi_keys[i];
            break;
        }
    }
    if (k == NULL) {
        bi_set_extra(bi, key, value != NULL ? value : "None");
        return 0;
    }

    switch (k->kind) {
    case BI_KIND_STR:
    case BI_KIND_NAME: {
        char **field = (char **) ((char *) bi + k->offset);

        free(*field);
        *field = br_strdup(value);
        return 0;
    }
    case BI_KIND_INT: {
        int64_t *field = (int64_t *) ((char *) bi + k->offset);

        if (value == NULL) {
            *field = BI_NULL_INT;
            return 0;
        }
        if (bi_parse_int(value, field) < 0)
            return bi_bad_value(ln, "expected an integer");
        return 0;
    }
    case BI_KIND_BEGIN_TIME:
    case BI_KIND_END_TIME: {
        int is_begin = k->kind == BI_KIND_BEGIN_TIME;
        struct br_timestamp *ts = is_begin ? &bi->begin_time : &bi->end_time;
        int *set = is_begin ? &bi->begin_time_set : &bi->end_time_set;

        *set = 0;
        if (value == NULL)
            return 0;
        if (br_timestamp_parse(value, ts) < 0)
            return bi_bad_value(ln, "expected a timestamp");
        *set = 1;
        return 0;
    }
    case BI_KIND_LABEL: {
        struct pyl *label;

        free(bi->backup_label);
        bi->backup_label = NULL;
        if (value == NULL)
            return 0;
        label = pyl_parse(value, ln->err);
        if (label == NULL)
            return bi_bad_literal(ln);
        if (label->type != PYL_STR) {
            pyl_free(label);
            return bi_bad_value(ln, "expected a string");
        }
        bi->backup_label = label->sval;
        label->sval = NULL;
        pyl_free(label);
        return 0;
    }
    case BI_KIND_COPY_STATS:
        if (value == NULL) {
            free(bi->copy_stats);
            bi->copy_stats = NULL;
            bi->copy_time = bi->total_time = bi->analysis_time = -1;
            bi->number_of_workers = BI_NULL_INT;
            return 0;
        }
        return bi_set_copy_stats(bi, value, ln);
    case BI_KIND_INCLUDED:
        if (value == NULL) {
            bi_free_included(bi);
            return 0;
        }
        return bi_set_included(bi, value, ln);
    case BI_KIND_TABLESPACES:
        if (value == NULL) {
            bi_free_tablespaces(bi);
            return 0;
        }
        return bi_set_tablespaces(bi, value, ln);
    case BI_KIND_SNAPSHOTS: {
        struct pyl *check;

        free(bi->snapshots_info);
        bi->snapshots_info = NULL;
        if (value == NULL)
            return 0;
        check = pyl_parse(value, ln->err);
        if (check == NULL)
            return bi_bad_literal(ln);
        pyl_free(check);
        bi->snapshots_info = br_strdup(value);
        return 0;
    }
    case BI_KIND_STATUS:
        if (value == NULL) {
            bi->status = BACKUP_STATUS_EMPTY;
            return 0;
        }
        if (backup_status_parse(value, &bi->status) < 0)
            return bi_bad_value(ln, "unknown backup status");
        return 0;
    }
    return br_error_set(ln->err, BR_E_INTERNAL, "unexpected backup.info key kind %d", (int) k->kind);
}

/* Python's str.strip(): ASCII whitespace at both ends (in place, returns the new start). */
static char *
bi_strip(char *s)
{
    size_t len;

    while (*s != '\0' && isspace((unsigned char) *s))
        s++;
    len = strlen(s);
    while (len > 0 && isspace((unsigned char) s[len - 1]))
        s[--len] = '\0';
    return s;
}

struct backup_info *
backup_info_parse(const char *text, const char *origin, const char *backup_id, struct br_error *err)
{
    struct backup_info *bi = backup_info_new(backup_id);
    const char *p = text;
    struct bi_line ln = { origin, 0, NULL, err };

    while (*p != '\0') {
        const char *nl = strchr(p, '\n');
        size_t len = nl != NULL ? (size_t) (nl - p) : strlen(p);
        char *line = br_strndup(p, len);
        char *s = bi_strip(line);
        char *eq, *key, *value;
        int rc;

        ln.lineno++;
        p += len + (nl != NULL);
        if (*s == '\0' || *s == '#') {
            free(line);
            continue;
        }
        eq = strchr(s, '=');
        if (eq == NULL) {
            br_error_set(err, BR_E_FORMAT, "invalid line %zu in file \"%s\": no '=' found", ln.lineno, origin);
            free(line);
            goto fail;
        }
        *eq = '\0';
        key = bi_strip(s);
        value = bi_strip(eq + 1);
        ln.key = key;
        rc = bi_set(bi, key, strcmp(value, "None") == 0 ? NULL : value, &ln);
        free(line);
        if (rc < 0)
            goto fail;
    }
    return bi;
fail:
    backup_info_free(bi);
    return NULL;
}

struct backup_info *
backup_info_read(const char *path, const char *backup_id, struct br_error *err)
{
    char *text = fs_read_file(path, BACKUP_INFO_MAX_BYTES, NULL, err);
    struct backup_info *bi;

    if (text == NULL)
        return NULL;
    bi = backup_info_parse(text, path, backup_id, err);
    free(text);
    if (bi != NULL)
        bi->path = br_strdup(path);
    return bi;
}

/* ---- writing ---- */

struct bi_entry {
    const char *key;
    char *value;   /* owned */
};

static int
bi_entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct bi_entry *) a)->key, ((const struct bi_entry *) b)->key);
}

/* The text of one known key; NULL when the key is left out. */
static char *
bi_value_text(const struct backup_info *bi, const struct bi_key *k)
{
    struct strbuf sb;
    char num[64];
    size_t i;

    strbuf_init(&sb);
    switch (k->kind) {
    case BI_KIND_STR:
    case BI_KIND_NAME: {
        const char *v = *(char *const *) ((const char *) bi + k->offset);

        if (v == NULL && k->kind == BI_KIND_NAME)
            goto omit;
        strbuf_append(&sb, v != NULL ? v : "None");
        break;
    }
    case BI_KIND_INT: {
        int64_t v = *(const int64_t *) ((const char *) bi + k->offset);

        if (v == BI_NULL_INT)
            strbuf_append(&sb, "None");
        else
            strbuf_appendf(&sb, "%" PRId64, v);
        break;
    }
    case BI_KIND_BEGIN_TIME:
    case BI_KIND_END_TIME: {
        int is_begin = k->kind == BI_KIND_BEGIN_TIME;
        char ts[64];

        if (!(is_begin ? bi->begin_time_set : bi->end_time_set)) {
            strbuf_append(&sb, "None");
            break;
        }
        br_timestamp_format(is_begin ? &bi->begin_time : &bi->end_time, ts, sizeof(ts));
        strbuf_append(&sb, ts);
        break;
    }
    case BI_KIND_LABEL:
        if (bi->backup_label == NULL || bi->backup_label[0] == '\0')
            strbuf_append(&sb, "None");
        else
            pyl_repr_str(bi->backup_label, &sb);
        break;
    case BI_KIND_COPY_STATS:
        if (bi->copy_stats != NULL) {
            strbuf_append(&sb, bi->copy_stats);
        } else if (bi->copy_time >= 0) {
            /* what the postgres method records when the caller only set the times */
            fmt_py_float(bi->copy_time, num, sizeof(num));
            strbuf_appendf(&sb, "{'copy_time': %s, ", num);
            fmt_py_float(bi->total_time >= 0 ? bi->total_time : bi->copy_time, num, sizeof(num));
            strbuf_appendf(&sb, "'total_time': %s}", num);
        } else {
            strbuf_append(&sb, "None");
        }
        break;
    case BI_KIND_INCLUDED:
        if (!bi->included_files_set || bi->n_included_files == 0) {
            strbuf_append(&sb, "None");
            break;
        }
        strbuf_append_char(&sb, '[');
        for (i = 0; i < bi->n_included_files; i++) {
            if (i > 0)
                strbuf_append(&sb, ", ");
            pyl_repr_str(bi->included_files[i], &sb);
        }
        strbuf_append_char(&sb, ']');
        break;
    case BI_KIND_TABLESPACES:
        if (!bi->tablespaces_set || bi->n_tablespaces == 0) {
            strbuf_append(&sb, "None");
            break;
        }
        strbuf_append_char(&sb, '[');
        for (i = 0; i < bi->n_tablespaces; i++) {
            if (i > 0)
                strbuf_append(&sb, ", ");
            strbuf_append_char(&sb, '(');
            pyl_repr_str(bi->tablespaces[i].name, &sb);
            strbuf_appendf(&sb, ", %" PRIu32 ", ", bi->tablespaces[i].oid);
            pyl_repr_str(bi->tablespaces[i].location, &sb);
            strbuf_append_char(&sb, ')');
        }
        strbuf_append_char(&sb, ']');
        break;
    case BI_KIND_SNAPSHOTS:
        if (bi->snapshots_info == NULL)
            goto omit;
        strbuf_append(&sb, bi->snapshots_info);
        break;
    case BI_KIND_STATUS:
        strbuf_append(&sb, backup_status_name(bi->status));
        break;
    }
    {
        char *text = strbuf_detach(&sb);

        strbuf_free(&sb);
        return text;
    }
omit:
    strbuf_free(&sb);
    return NULL;
}

void
backup_info_serialize(const struct backup_info *bi, struct strbuf *out)
{
    size_t cap = BR_ARRAY_LEN(bi_keys) + bi->n_extra;
    struct bi_entry *entries = br_calloc(cap, sizeof(*entries));
    size_t n = 0, i;

    for (i = 0; i < BR_ARRAY_LEN(bi_keys); i++) {
        char *value = bi_value_text(bi, &bi_keys[i]);

        if (value != NULL) {
            entries[n].key = bi_keys[i].name;
            entries[n].value = value;
            n++;
        }
    }
    for (i = 0; i < bi->n_extra; i++) {
        entries[n].key = bi->extra_keys[i];
        entries[n].value = br_strdup(bi->extra_values[i]);
        n++;
    }
    /* Python's sorted() on str compares code points, which is strcmp() on UTF-8 */
    qsort(entries, n, sizeof(*entries), bi_entry_cmp);
    for (i = 0; i < n; i++) {
        strbuf_appendf(out, "%s=%s\n", entries[i].key, entries[i].value);
        free(entries[i].value);
    }
    free(entries);
}

int
backup_info_write(const struct backup_info *bi, struct br_error *err)
{
    struct strbuf sb;
    char *dir;
    int rc;

    if (bi->path == NULL)
        return br_error_set(err, BR_E_INTERNAL, "backup.info of backup %s has no path", bi->backup_id);
    dir = path_dirname(bi->path);
    rc = fs_mkdir_p(dir, 0700, err);
    free(dir);
    if (rc < 0)
        return -1;
    strbuf_init(&sb);
    backup_info_serialize(bi, &sb);
    rc = fs_write_file_durable(bi->path, sb.buf, sb.len, 0600, err);
    strbuf_free(&sb);
    return rc;
}
