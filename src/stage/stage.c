/*
 * stage.c: the chain plumbing shared by every stage, and the two trivial
 * stages (memory sink, byte counter).
 */
#include "barrel/build.h"
#include "barrel/stage.h"
#include "barrel/error.h"
#include "barrel/mem.h"
#include "barrel/strbuf.h"

int
stage_push(struct stage *st, const struct chunk *ck, struct br_error *err)
{
    return st->ops->push(st, ck, err);
}

int
stage_push_raw(struct stage *st, const void *data, size_t len, struct br_error *err)
{
    struct chunk ck = {.kind = CHUNK_RAW, .data = data, .len = len};
    return st->ops->push(st, &ck, err);
}

int
stage_finish(struct stage *st, struct br_error *err)
{
    return st->ops->finish(st, err);
}

void
stage_free(struct stage *st)
{
    if (st != NULL)
        st->ops->free(st);
}

int
stage_forward(struct stage *st, const struct chunk *ck, struct br_error *err)
{
    if (st->next == NULL)
        return 0;
    return st->next->ops->push(st->next, ck, err);
}

int
stage_finish_next(struct stage *st, struct br_error *err)
{
    if (st->next == NULL)
        return 0;
    return st->next->ops->finish(st->next, err);
}

void
stage_free_next(struct stage *st)
{
    stage_free(st->next);
    st->next = NULL;
}

/* ---- memory sink ---- */

struct mem_sink {
    struct stage base;
    struct strbuf buf;
    int finished;
};

static int
mem_sink_push(struct stage *st, const struct chunk *ck, struct br_error *err)
{
    struct mem_sink *ms = (struct mem_sink *) st;
    (void) err;

    switch (ck->kind) {
    case CHUNK_RAW:
    case CHUNK_MEMBER_DATA:
        strbuf_append_len(&ms->buf, (const char *) ck->data, ck->len);
        break;
    case CHUNK_MEMBER_HEADER:
        strbuf_appendf(&ms->buf, "<member %s %c %lld>", ck->member->path, (char) ck->member->type,
                       (long long) ck->member->size);
        break;
    case CHUNK_MEMBER_END:
        strbuf_append(&ms->buf, "</member>");
        break;
    case CHUNK_ARCHIVE_END:
        strbuf_append(&ms->buf, "<end>");
        break;
    }
    return 0;
}

static int
mem_sink_finish(struct stage *st, struct br_error *err)
{
    (void) err;
    ((struct mem_sink *) st)->finished = 1;
    return 0;
}

static void
mem_sink_free(struct stage *st)
{
    struct mem_sink *ms = (struct mem_sink *) st;
    strbuf_free(&ms->buf);
    free(ms);
}

static const struct stage_ops mem_sink_ops = {mem_sink_push, mem_sink_finish, mem_sink_free};

struct stage *
stage_mem_sink_new(void)
{
    struct mem_sink *ms = br_calloc(1, sizeof(*ms));
    ms->base.ops = &mem_sink_ops;
    ms->base.name = "memory sink";
    strbuf_init(&ms->buf);
    return &ms->base;
}

const unsigned char *
stage_mem_sink_data(const struct stage *st, size_t *len)
{
    const struct mem_sink *ms = (const struct mem_sink *) st;
    *len = ms->buf.len;
    return (const unsigned char *) ms->buf.buf;
}

int
stage_mem_sink_finished(const struct stage *st)
{
    return ((const struct mem_sink *) st)->finished;
}

/* ---- counter ---- */

struct counter {
    struct stage base;
    int64_t *count;
};

static int
counter_push(struct stage *st, const struct chunk *ck, struct br_error *err)
{
    struct counter *c = (struct counter *) st;
    if (ck->kind == CHUNK_RAW || ck->kind == CHUNK_MEMBER_DATA)
        *c->count += (int64_t) ck->len;
    return stage_forward(st, ck, err);
}

static void
counter_free(struct stage *st)
{
    stage_free_next(st);
    free(st);
}

static const struct stage_ops counter_ops = {counter_push, stage_finish_next, counter_free};

struct stage *
stage_counter_new(struct stage *next, int64_t *counter)
{
    struct counter *c = br_calloc(1, sizeof(*c));
    c->base.ops = &counter_ops;
    c->base.next = next;
    c->base.name = "byte counter";
    c->count = counter;
    return &c->base;
}

int
stage_member_path_check(const char *path, struct br_error *err)
{
    const char *p = path;

    if (path[0] == '\0')
        return br_error_set(err, BR_E_FORMAT, "refusing archive member with an empty name");
    if (path[0] == '/')
        return br_error_set(err, BR_E_FORMAT, "refusing archive member \"%s\": absolute path", path);
    while (*p) {
        size_t len = strcspn(p, "/");
        if (len == 2 && p[0] == '.' && p[1] == '.')
            return br_error_set(err, BR_E_FORMAT, "refusing archive member \"%s\": path contains \"..\"", path);
        p += len;
        while (*p == '/')
            p++;
    }
    return 0;
}
