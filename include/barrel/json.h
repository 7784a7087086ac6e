/*
 * json.h: a small JSON value tree for command output.
 *
 * Serialised the way Barman's JSON writer does (Python json.dumps with
 * sort_keys=True, ensure_ascii=True): separators ", " and ": ", object keys
 * sorted, non-ASCII as \uXXXX, floats in Python repr form. Output sizes are
 * bounded by what a command reports (a list of backups), never by data size.
 */
#ifndef BARREL_JSON_H
#define BARREL_JSON_H

#include "barrel/build.h"
#include "barrel/strbuf.h"
#include <stdint.h>

enum json_type {
    JSON_NULL, JSON_BOOL, JSON_INT, JSON_DOUBLE, JSON_STRING, JSON_ARRAY, JSON_OBJECT,
};

struct json;

/* Constructors: the caller owns the result until it is added to a container. */
struct json *json_null(void);
struct json *json_bool(int value);
struct json *json_int(int64_t value);
struct json *json_double(double value);
struct json *json_string(const char *value);   /* NULL gives a JSON null */
struct json *json_stringf(const char *fmt, ...) BR_PRINTF(1, 2);
struct json *json_array(void);
struct json *json_object(void);

/* Containers take ownership of `value`. json_object_set replaces an existing key. */
void json_array_add(struct json *array, struct json *value);
void json_object_set(struct json *object, const char *key, struct json *value);

enum json_type json_type_of(const struct json *value);
struct json *json_object_get(const struct json *object, const char *key); /* borrowed, or NULL */
size_t json_array_len(const struct json *array);
struct json *json_array_get(const struct json *array, size_t idx);        /* borrowed */
const char *json_string_value(const struct json *value);                  /* NULL if not a string */

/* Append the serialised value to out; `indent` > 0 pretty-prints like json.dumps(indent=N). */
void json_write(const struct json *value, struct strbuf *out, int indent);

/* Append a JSON string literal (quotes included) for a C string. */
void json_write_string(struct strbuf *out, const char *s);

void json_free(struct json *value);

/*
 * Parse JSON text (RFC 8259; numbers without '.', 'e' or 'E' that fit in
 * 64 bits become JSON_INT). NULL with err (BR_E_FORMAT, naming `origin`
 * and the byte offset) on any error or trailing text. Nesting is limited
 * to 64 levels. For barrel's own state files and tests, not for data whose
 * size grows with the database.
 */
struct br_error;
struct json *json_parse(const char *text, size_t len, const char *origin, struct br_error *err);

/* Typed lookups in an object with a default when the key is absent or of another type. */
int64_t json_get_int(const struct json *object, const char *key, int64_t dflt);
double json_get_double(const struct json *object, const char *key, double dflt);   /* ints convert */
int json_get_bool(const struct json *object, const char *key, int dflt);
const char *json_get_string(const struct json *object, const char *key);            /* NULL if absent */

/*
 * barrel's own state files (verify, drill verdicts...): write an object
 * durably as indented JSON (parent directories created 0700, file 0600);
 * read one back (NULL and no error when the file does not exist: check
 * err->code, BR_E_OK means "absent").
 */
int json_state_write(const char *path, const struct json *object, struct br_error *err);
struct json *json_state_read(const char *path, struct br_error *err);

#endif /* BARREL_JSON_H */
