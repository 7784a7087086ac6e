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

#endif /* BARREL_JSON_H */
