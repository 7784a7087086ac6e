/*
 * pyliteral.h: the subset of Python literals that Barman writes into
 * backup.info (repr() of str, int, float, None, True/False, tuples, lists,
 * dicts). The parser accepts whatever ast.literal_eval would for these
 * types; the writer emits exactly what repr() emits, so files round-trip
 * byte for byte.
 */
#ifndef BARREL_PYLITERAL_H
#define BARREL_PYLITERAL_H

#include "barrel/build.h"
#include "barrel/strbuf.h"
#include <stddef.h>
#include <stdint.h>

struct br_error;

enum pyl_type { PYL_NONE, PYL_BOOL, PYL_INT, PYL_FLOAT, PYL_STR, PYL_TUPLE, PYL_LIST, PYL_DICT };

struct pyl {
    enum pyl_type type;
    int64_t ival;          /* BOOL, INT */
    double  fval;          /* FLOAT */
    char   *sval;          /* STR: decoded UTF-8 */
    size_t  n;             /* TUPLE, LIST, DICT: number of items (pairs for DICT) */
    struct pyl **items;    /* TUPLE, LIST: n items; DICT: 2n items, key then value */
};

/* Parse the whole text as one literal; NULL with err set (BR_E_FORMAT) on trailing junk or bad syntax. */
struct pyl *pyl_parse(const char *text, struct br_error *err);
void pyl_free(struct pyl *v);
/* Append repr(v). */
void pyl_repr(const struct pyl *v, struct strbuf *out);
/* Append repr() of a Python str holding this UTF-8 text (quote choice and escapes as CPython). */
void pyl_repr_str(const char *s, struct strbuf *out);
/* Dict lookup by string key; NULL if absent or not a dict. */
const struct pyl *pyl_dict_get(const struct pyl *dict, const char *key);

#endif /* BARREL_PYLITERAL_H */
