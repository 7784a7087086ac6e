/*
 * restore_stages.c: the small stages only recover needs.
 *
 * guard   refuses hostile member paths before anything else sees them, so
 *         that a ../ entry is refused as such (not as "not in the
 *         manifest"), for every target, local or remote;
 * prefix  rewrites member paths (tablespace archives are verified under
 *         pg_tblspc/<oid>/ but written at the tablespace's location);
 * filter  drops members named in a skip list (tablespace_map) or whose file
 *         is already in place (--delta);
 * tally   counts what reaches the sink (summary and progress);
 * wrap    turns RAW bytes (a decompressed WAL file) into member data.
 */
#include "barrel/build.h"
#include "restore_int.h"

#include "barrel/error.h"
#include "barrel/manifest.h"
#include "barrel/mem.h"
#include "barrel/stage.h"
#include "barrel/strbuf.h"

#include <stdarg.h>

#define GUARD_MAX_SYMLINKS 4096

/* ---- guard ---- */

struct guard_stage {
    struct stage base;
    char *label;
    atomic_int *abort_flag;
    int dropping;              /* the current member is the root entry */
    size_t n_links;
    char **links;              /* symlink members seen so far */
};

static int
guard_header(struct guard_stage *g, const struct stage_member *m, struct br_error *err)
{
    const char *path = m->path;

    g->dropping = 0;
    if (path[0] == '\0' || strcmp(path, ".") == 0 || strcmp(path, "./") == 0) {
        g->dropping = 1;
        return 0;
    }
    if (stage_member_path_check(path, err) != 0) {
        char why[sizeof(err->msg)];
        snprintf(why, sizeof(why), "%s", err->msg);
        return br_error_set(err, BR_E_FORMAT, "%s: %s", g->label, why);
    }
    if (m->type == MEMBER_OTHER)
        return br_error_set(err, BR_E_FORMAT,
                            "%s: refusing archive member \"%s\": not a file, directory or symbolic link", g->label,
                            path);
    /* nothing may be written below a symlink the archive itself made */
    for (size_t i = 0; i < g->n_links; i++) {
        size_t len = strlen(g->links[i]);
        if (strncmp(path, g->links[i], len) == 0 && (path[len] == '/' || path[len] == '\0'))
            return br_error_set(err, BR_E_FORMAT,
                                "%s: refusing archive member \"%s\": it would be written through the symbolic link "
                                "\"%s\"", g->label, path, g->links[i]);
    }
    if (m->type == MEMBER_SYMLINK) {
        const char *target = m->linkname ? m->linkname : "";
        struct br_error scratch;
        /* a link target obeys the member path rule: relative, no ".." */
        if (stage_member_path_check(target, &scratch) != 0)
            return br_error_set(err, BR_E_FORMAT,
                                "%s: refusing archive member \"%s\": symbolic link to \"%s\" points outside the "
                                "destination", g->label, path, target);
        if (g->n_links >= GUARD_MAX_SYMLINKS)
            return br_error_set(err, BR_E_FORMAT, "%s: refusing archive member \"%s\": more than %d symbolic links",
                                g->label, path, GUARD_MAX_SYMLINKS);
        g->links = br_realloc(g->links, (g->n_links + 1) * sizeof(*g->links));
        g->links[g->n_links] = br_strdup(path);
        /* "dir/" and "dir" name the same link */
        size_t len = strlen(g->links[g->n_links]);
        while (len > 1 && g->links[g->n_links][len - 1] == '/')
            g->links[g->n_links][--len] = '\0';
        g->n_links++;
    }
    return 0;
}

static int
guard_push(struct stage *st, const struct chunk *ck, struct br_error *err)
{
    struct guard_stage *g = (struct guard_stage *) st;

    if (atomic_load(g->abort_flag))
        return br_error_set(err, BR_E_INTERRUPTED, "%s: stopped because another worker failed", g->label);
    if (ck->kind == CHUNK_MEMBER_HEADER && guard_header(g, ck->member, err) != 0)
        return -1;
    if (g->dropping && (ck->kind == CHUNK_MEMBER_HEADER || ck->kind == CHUNK_MEMBER_DATA || ck->kind == CHUNK_MEMBER_END))
        return 0;
    return stage_forward(st, ck, err);
}

static void
guard_free(struct stage *st)
{
    struct guard_stage *g = (struct guard_stage *) st;

    stage_free_next(st);
    for (size_t i = 0; i < g->n_links; i++)
        free(g->links[i]);
    free(g->links);
    free(g->label);
    free(g);
}

static const struct stage_ops guard_ops = {guard_push, stage_finish_next, guard_free};

struct stage *
restore_guard_new(const char *label, atomic_int *abort_flag, struct stage *next)
{
    struct guard_stage *g = br_calloc(1, sizeof(*g));

    g->base.ops = &guard_ops;
    g->base.next = next;
    g->base.name = "path guard";
    g->label = br_strdup(label);
    g->abort_flag = abort_flag;
    return &g->base;
}

/* ---- prefix ---- */

struct prefix_stage {
    struct stage base;
    char *add, *strip;
    struct stage_member member;    /* the rewritten header, valid until the next one */
    char *path;
};

static int
prefix_push(struct stage *st, const struct chunk *ck, struct br_error *err)
{
    struct prefix_stage *p = (struct prefix_stage *) st;
    struct chunk out = *ck;

    if (ck->member != NULL && (ck->kind == CHUNK_MEMBER_HEADER || ck->kind == CHUNK_MEMBER_DATA
                               || ck->kind == CHUNK_MEMBER_END)) {
        if (ck->kind == CHUNK_MEMBER_HEADER) {
            const char *path = ck->member->path;
            free(p->path);
            if (p->strip != NULL) {
                size_t len = strlen(p->strip);
                if (strncmp(path, p->strip, len) != 0)
                    return br_error_set(err, BR_E_INTERNAL, "member \"%s\" lacks the prefix \"%s\"", path, p->strip);
                p->path = br_strdup(path + len);
            } else {
                p->path = br_asprintf("%s%s", p->add ? p->add : "", path);
            }
            p->member = *ck->member;
            p->member.path = p->path;
        }
        out.member = &p->member;
    }
    return stage_push(st->next, &out, err);
}

static void
prefix_free(struct stage *st)
{
    struct prefix_stage *p = (struct prefix_stage *) st;

    stage_free_next(st);
    free(p->add);
    free(p->strip);
    free(p->path);
    free(p);
}

static const struct stage_ops prefix_ops = {prefix_push, stage_finish_next, prefix_free};

struct stage *
restore_prefix_new(const char *add, const char *strip, struct stage *next)
{
    struct prefix_stage *p = br_calloc(1, sizeof(*p));

    p->base.ops = &prefix_ops;
    p->base.next = next;
    p->base.name = "prefix";
    p->add = br_strdup(add);
    p->strip = br_strdup(strip);
    return &p->base;
}

/* ---- member filter ---- */

struct delta_stage {
    struct stage base;
    const struct manifest *m;     /* may be NULL */
    const unsigned char *keep;    /* may be NULL */
    const char *const *skip;      /* borrowed, static lists */
    int dropping;
};

static int
delta_push(struct stage *st, const struct chunk *ck, struct br_error *err)
{
    struct delta_stage *d = (struct delta_stage *) st;

    if (ck->kind == CHUNK_MEMBER_HEADER) {
        const struct manifest_file *f;
        d->dropping = 0;
        for (const char *const *s = d->skip; s && *s && !d->dropping; s++)
            d->dropping = strcmp(*s, ck->member->path) == 0;
        if (!d->dropping && d->keep != NULL && ck->member->type == MEMBER_FILE && (f = manifest_find(d->m, ck->member->path)) != NULL)
            d->dropping = d->keep[f - d->m->files];
    }
    if (d->dropping && (ck->kind == CHUNK_MEMBER_HEADER || ck->kind == CHUNK_MEMBER_DATA || ck->kind == CHUNK_MEMBER_END))
        return 0;
    return stage_forward(st, ck, err);
}

static void
delta_free(struct stage *st)
{
    stage_free_next(st);
    free(st);
}

static const struct stage_ops delta_ops = {delta_push, stage_finish_next, delta_free};

struct stage *
restore_filter_new(const struct manifest *m, const unsigned char *keep, const char *const *skip, struct stage *next)
{
    struct delta_stage *d = br_calloc(1, sizeof(*d));

    d->base.ops = &delta_ops;
    d->base.next = next;
    d->base.name = "member filter";
    d->m = m;
    d->keep = keep;
    d->skip = skip;
    return &d->base;
}

/* ---- tally ---- */

struct tally_stage {
    struct stage base;
    struct rshared *shared;
    int64_t *files, *bytes;
};

static int
tally_push(struct stage *st, const struct chunk *ck, struct br_error *err)
{
    struct tally_stage *t = (struct tally_stage *) st;

    if (ck->kind == CHUNK_MEMBER_HEADER && ck->member->type == MEMBER_FILE) {
        (*t->files)++;
        atomic_fetch_add(&t->shared->files, 1);
    } else if (ck->kind == CHUNK_MEMBER_DATA) {
        *t->bytes += (int64_t) ck->len;
        atomic_fetch_add(&t->shared->bytes, (int_fast64_t) ck->len);
    }
    return stage_forward(st, ck, err);
}

static void
tally_free(struct stage *st)
{
    stage_free_next(st);
    free(st);
}

static const struct stage_ops tally_ops = {tally_push, stage_finish_next, tally_free};

struct stage *
restore_tally_new(struct rshared *shared, int64_t *files, int64_t *bytes, struct stage *next)
{
    struct tally_stage *t = br_calloc(1, sizeof(*t));

    t->base.ops = &tally_ops;
    t->base.next = next;
    t->base.name = "tally";
    t->shared = shared;
    t->files = files;
    t->bytes = bytes;
    return &t->base;
}

/* ---- wrap ---- */

struct wrap_stage {
    struct stage base;
    const struct stage_member *member;
};

static int
wrap_push(struct stage *st, const struct chunk *ck, struct br_error *err)
{
    struct wrap_stage *w = (struct wrap_stage *) st;
    struct chunk out = {.kind = CHUNK_MEMBER_DATA, .data = ck->data, .len = ck->len, .member = w->member};

    if (ck->kind != CHUNK_RAW)
        return br_error_set(err, BR_E_INTERNAL, "member wrapper: unexpected chunk kind %d", ck->kind);
    return stage_push(st->next, &out, err);
}

/* The wrapper never owns its next: the caller pushes the member's end into the same sink. */
static int
wrap_finish(struct stage *st, struct br_error *err)
{
    (void) st;
    (void) err;
    return 0;
}

static void
wrap_free(struct stage *st)
{
    free(st);
}

static const struct stage_ops wrap_ops = {wrap_push, wrap_finish, wrap_free};

struct stage *
restore_wrap_new(const struct stage_member *member, struct stage *next)
{
    struct wrap_stage *w = br_calloc(1, sizeof(*w));

    w->base.ops = &wrap_ops;
    w->base.next = next;
    w->base.name = "member wrapper";
    w->member = member;
    return &w->base;
}

void
restore_error_prefix(struct br_error *err, const char *fmt, ...)
{
    struct strbuf sb;
    va_list ap;

    strbuf_init(&sb);
    va_start(ap, fmt);
    strbuf_vappendf(&sb, fmt, ap);
    va_end(ap);
    strbuf_appendf(&sb, ": %s", err->msg);
    /* truncated to the message's size, like every br_error message */
    if (sb.len >= sizeof(err->msg))
        sb.buf[sizeof(err->msg) - 1] = '\0';
    memcpy(err->msg, sb.buf, strlen(sb.buf) + 1);
    strbuf_free(&sb);
}
