/*
 * stage_tar.c: a tar stream parser that works across arbitrary chunk
 * boundaries (PostgreSQL's astreamer_tar.c parser, with statuses), and the
 * two stages built on it:
 *
 *   - the tar parser: RAW in, member chunks out (HEADER, DATA, END, and
 *     ARCHIVE_END), for readers (restore, verify);
 *   - the tar tap: RAW in, the very same RAW bytes out to the next stage,
 *     and the member chunks to a side chain. backup puts it in front of the
 *     compressor of base.tar to capture backup_label and tablespace_map as
 *     they stream by, and to complete the archive with its end-of-archive
 *     blocks when the server did not send them.
 *
 * Formats: ustar (name + prefix), GNU long names and link names ('L', 'K'),
 * pax extended headers ('x': path, linkpath, size; 'g' ignored), numbers in
 * octal or GNU base-256. Every header checksum is verified; a stream that
 * ends inside a header, a member or its padding is an error.
 *
 * Memory: one 512-byte header block, and a metadata buffer of at most
 * TAR_META_MAX bytes for long names and pax records; member contents are
 * never buffered.
 */
#include "barrel/build.h"
#include "barrel/stage.h"

#include <stdint.h>

#include "barrel/error.h"
#include "barrel/mem.h"
#include "barrel/strbuf.h"

#define TAR_BLOCK 512
/* long names and pax records bigger than this are not tar archives we read */
#define TAR_META_MAX (64 * 1024)

enum tar_state {
    TAR_HEADER,       /* filling hdr */
    TAR_DATA,         /* member contents: `remaining` bytes */
    TAR_META,         /* contents of an 'L', 'K' or 'x' entry, into meta */
    TAR_PAD,          /* padding to the next block: `remaining` bytes */
    TAR_TRAILER,      /* after the end-of-archive blocks: zeros only */
};

struct tar_parser {
    enum tar_state state;
    unsigned char hdr[TAR_BLOCK];
    size_t hdr_fill;
    int64_t remaining;
    int64_t entry_size;           /* bytes of contents of the current entry (padding follows) */
    int zero_blocks;              /* consecutive zero blocks seen at a header position */
    int64_t offset;               /* bytes parsed, for messages */

    char meta_type;               /* 'L', 'K', 'x', 'g' while in TAR_META */
    unsigned char *meta;
    size_t meta_len;

    /* overrides for the next header, from 'L', 'K', 'x' */
    char *next_path;
    char *next_link;
    int64_t next_size;            /* -1 = none */

    /* the current member */
    struct stage_member member;
    char *path;
    char *link;
    int in_member;
};

static void
tar_parser_init(struct tar_parser *tp)
{
    memset(tp, 0, sizeof(*tp));
    tp->state = TAR_HEADER;
    tp->next_size = -1;
}

static void
tar_parser_reset(struct tar_parser *tp)
{
    free(tp->meta);
    free(tp->next_path);
    free(tp->next_link);
    free(tp->path);
    free(tp->link);
}

/* Parse a numeric field: octal text (NUL/space terminated) or GNU base-256. */
static int
tar_number(const unsigned char *field, size_t len, int64_t *out)
{
    uint64_t v = 0;
    size_t i = 0;

    if (field[0] & 0x80) {
        /* base-256: the first byte's 0x80 flag, then big-endian binary; negative values refused */
        if (field[0] & 0x40)
            return -1;
        v = field[0] & 0x3f;
        for (i = 1; i < len; i++) {
            if (v > (UINT64_MAX >> 8))
                return -1;
            v = (v << 8) | field[i];
        }
    } else {
        while (i < len && field[i] == ' ')
            i++;
        for (; i < len && field[i] >= '0' && field[i] <= '7'; i++) {
            if (v > (UINT64_MAX >> 3))
                return -1;
            v = (v << 3) | (uint64_t) (field[i] - '0');
        }
        for (; i < len; i++)
            if (field[i] != ' ' && field[i] != '\0')
                return -1;
    }
    if (v > (uint64_t) INT64_MAX)
        return -1;
    *out = (int64_t) v;
    return 0;
}

/* The checksum rule: the sum of all bytes with the checksum field read as spaces (unsigned, or signed by old tars). */
static int
tar_checksum_ok(const unsigned char *h)
{
    int64_t stored;
    uint64_t usum = 0;
    int64_t ssum = 0;

    if (tar_number(h + 148, 8, &stored) != 0)
        return 0;
    for (size_t i = 0; i < TAR_BLOCK; i++) {
        unsigned char c = (i >= 148 && i < 156) ? ' ' : h[i];
        usum += c;
        ssum += (signed char) c;
    }
    return (int64_t) usum == stored || ssum == stored;
}

static int
block_is_zero(const unsigned char *h)
{
    for (size_t i = 0; i < TAR_BLOCK; i++)
        if (h[i] != 0)
            return 0;
    return 1;
}

/* A NUL-terminated copy of a fixed-size field. */
static char *
field_str(const unsigned char *f, size_t len)
{
    size_t n = 0;

    while (n < len && f[n] != '\0')
        n++;
    return br_strndup((const char *) f, n);
}

/* Drop leading "./" (PostgreSQL's archives have "./pg_wal/archive_status" beside "PG_VERSION"). */
static char *
clean_path(char *p)
{
    size_t skip = 0;

    while (p[skip] == '.' && p[skip + 1] == '/')
        skip += 2;
    if (skip > 0)
        memmove(p, p + skip, strlen(p + skip) + 1);
    return p;
}

/* Apply pax records ("LEN key=value\n"...) of meta to the next header. */
static int
tar_apply_pax(struct tar_parser *tp, struct br_error *err)
{
    size_t pos = 0;

    while (pos < tp->meta_len) {
        size_t reclen = 0, start = pos, eq, end;
        const char *rec = (const char *) tp->meta;

        while (pos < tp->meta_len && rec[pos] >= '0' && rec[pos] <= '9') {
            reclen = reclen * 10 + (size_t) (rec[pos] - '0');
            pos++;
            if (reclen > tp->meta_len)
                break;
        }
        if (pos >= tp->meta_len || rec[pos] != ' ' || reclen == 0 || start + reclen > tp->meta_len
            || rec[start + reclen - 1] != '\n')
            return br_error_set(err, BR_E_FORMAT, "malformed pax extended header at offset %lld",
                                (long long) tp->offset);
        end = start + reclen - 1;      /* the '\n' */
        pos++;
        for (eq = pos; eq < end && rec[eq] != '='; eq++)
            ;
        if (eq == end)
            return br_error_set(err, BR_E_FORMAT, "malformed pax record at offset %lld", (long long) tp->offset);
        if (eq - pos == 4 && memcmp(rec + pos, "path", 4) == 0) {
            free(tp->next_path);
            tp->next_path = br_strndup(rec + eq + 1, end - eq - 1);
        } else if (eq - pos == 8 && memcmp(rec + pos, "linkpath", 8) == 0) {
            free(tp->next_link);
            tp->next_link = br_strndup(rec + eq + 1, end - eq - 1);
        } else if (eq - pos == 4 && memcmp(rec + pos, "size", 4) == 0) {
            int64_t v = 0;
            size_t i;

            for (i = eq + 1; i < end && rec[i] >= '0' && rec[i] <= '9' && v < INT64_MAX / 10; i++)
                v = v * 10 + (rec[i] - '0');
            if (i != end || i == eq + 1)
                return br_error_set(err, BR_E_FORMAT, "malformed pax size at offset %lld", (long long) tp->offset);
            tp->next_size = v;
        }
        pos = start + reclen;
    }
    return 0;
}

/* The metadata entry is complete: keep what it says for the next header. */
static int
tar_meta_done(struct tar_parser *tp, struct br_error *err)
{
    char *text = br_strndup((const char *) tp->meta, tp->meta_len);
    int rc = 0;

    if (tp->meta_type == 'L') {
        free(tp->next_path);
        tp->next_path = text;
        text = NULL;
    } else if (tp->meta_type == 'K') {
        free(tp->next_link);
        tp->next_link = text;
        text = NULL;
    } else if (tp->meta_type == 'x') {
        rc = tar_apply_pax(tp, err);
    }
    free(text);
    free(tp->meta);
    tp->meta = NULL;
    tp->meta_len = 0;
    return rc;
}

typedef int (*tar_emit_fn)(void *arg, const struct chunk *ck, struct br_error *err);

static int
tar_end_member(struct tar_parser *tp, tar_emit_fn emit, void *arg, struct br_error *err)
{
    struct chunk ck = {.kind = CHUNK_MEMBER_END, .member = &tp->member};

    tp->in_member = 0;
    return emit(arg, &ck, err);
}

/* A complete 512-byte header block is in tp->hdr. */
static int
tar_header(struct tar_parser *tp, tar_emit_fn emit, void *arg, struct br_error *err)
{
    const unsigned char *h = tp->hdr;
    int64_t size, mode = 0, mtime = 0;
    char type;
    char *name;

    if (block_is_zero(h)) {
        if (++tp->zero_blocks == 2) {
            struct chunk ck = {.kind = CHUNK_ARCHIVE_END};

            tp->state = TAR_TRAILER;
            return emit(arg, &ck, err);
        }
        return 0;
    }
    if (tp->zero_blocks > 0)
        return br_error_set(err, BR_E_FORMAT, "tar archive has a zero block followed by data at offset %lld",
                            (long long) tp->offset - TAR_BLOCK);
    if (!tar_checksum_ok(h))
        return br_error_set(err, BR_E_FORMAT, "invalid tar header checksum at offset %lld",
                            (long long) tp->offset - TAR_BLOCK);
    if (tar_number(h + 124, 12, &size) != 0 || tar_number(h + 100, 8, &mode) != 0
        || tar_number(h + 136, 12, &mtime) != 0)
        return br_error_set(err, BR_E_FORMAT, "invalid number in tar header at offset %lld",
                            (long long) tp->offset - TAR_BLOCK);
    type = (char) h[156];

    /* metadata entries describe the next header */
    if (type == 'L' || type == 'K' || type == 'x' || type == 'g') {
        if (size > TAR_META_MAX)
            return br_error_set(err, BR_E_FORMAT, "tar extended header of %lld bytes is too large",
                                (long long) size);
        tp->meta_type = type;
        tp->meta = br_malloc((size_t) size + 1);
        tp->meta_len = 0;
        tp->remaining = size;
        tp->entry_size = size;
        tp->state = size > 0 ? TAR_META : TAR_HEADER;
        if (size == 0)
            return tar_meta_done(tp, err);
        return 0;
    }

    free(tp->path);
    free(tp->link);
    if (tp->next_path != NULL) {
        name = tp->next_path;
        tp->next_path = NULL;
    } else if (memcmp(h + 257, "ustar", 5) == 0 && h[345] != '\0') {
        char *prefix = field_str(h + 345, 155), *base = field_str(h, 100);

        name = br_asprintf("%s/%s", prefix, base);
        free(prefix);
        free(base);
    } else {
        name = field_str(h, 100);
    }
    tp->path = clean_path(name);
    if (tp->next_link != NULL) {
        tp->link = tp->next_link;
        tp->next_link = NULL;
    } else {
        tp->link = field_str(h + 157, 100);
    }
    if (tp->next_size >= 0) {
        size = tp->next_size;
        tp->next_size = -1;
    }

    memset(&tp->member, 0, sizeof(tp->member));
    tp->member.path = tp->path;
    tp->member.mode = (unsigned) (mode & 07777);
    tp->member.mtime = mtime;
    switch (type) {
    case '0': case '\0': case '7': tp->member.type = MEMBER_FILE; break;
    case '5':
        tp->member.type = MEMBER_DIR;
        /* "pg_wal/" and "pg_wal" name the same directory */
        for (size_t len = strlen(tp->path); len > 1 && tp->path[len - 1] == '/'; len--)
            tp->path[len - 1] = '\0';
        break;
    case '2': tp->member.type = MEMBER_SYMLINK; tp->member.linkname = tp->link; break;
    default: tp->member.type = MEMBER_OTHER; break;
    }
    /* only regular files (and unknown types, which tar skips by size) carry contents */
    if (tp->member.type == MEMBER_DIR || tp->member.type == MEMBER_SYMLINK || type == '1' || type == '3'
        || type == '4' || type == '6')
        size = 0;
    tp->member.size = tp->member.type == MEMBER_FILE ? size : 0;
    tp->remaining = size;
    tp->entry_size = size;
    tp->in_member = 1;
    {
        struct chunk ck = {.kind = CHUNK_MEMBER_HEADER, .member = &tp->member};

        if (emit(arg, &ck, err) != 0)
            return -1;
    }
    if (size == 0) {
        tp->state = TAR_HEADER;
        return tar_end_member(tp, emit, arg, err);
    }
    tp->state = TAR_DATA;
    return 0;
}

/* Feed bytes; member events go to emit. */
static int
tar_parser_feed(struct tar_parser *tp, const unsigned char *data, size_t len, tar_emit_fn emit, void *arg,
                struct br_error *err)
{
    while (len > 0) {
        size_t n;

        switch (tp->state) {
        case TAR_HEADER:
            n = TAR_BLOCK - tp->hdr_fill;
            if (n > len)
                n = len;
            memcpy(tp->hdr + tp->hdr_fill, data, n);
            tp->hdr_fill += n;
            tp->offset += (int64_t) n;
            data += n;
            len -= n;
            if (tp->hdr_fill == TAR_BLOCK) {
                tp->hdr_fill = 0;
                if (tar_header(tp, emit, arg, err) != 0)
                    return -1;
            }
            break;
        case TAR_DATA:
        case TAR_META:
            n = len < (uint64_t) tp->remaining ? len : (size_t) tp->remaining;
            if (tp->state == TAR_DATA) {
                struct chunk ck = {.kind = CHUNK_MEMBER_DATA, .data = data, .len = n, .member = &tp->member};

                if (emit(arg, &ck, err) != 0)
                    return -1;
            } else {
                memcpy(tp->meta + tp->meta_len, data, n);
                tp->meta_len += n;
            }
            tp->remaining -= (int64_t) n;
            tp->offset += (int64_t) n;
            data += n;
            len -= n;
            if (tp->remaining == 0) {
                int64_t size = tp->entry_size;

                if (tp->state == TAR_DATA && tar_end_member(tp, emit, arg, err) != 0)
                    return -1;
                if (tp->state == TAR_META && tar_meta_done(tp, err) != 0)
                    return -1;
                tp->remaining = (TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK;
                tp->state = tp->remaining > 0 ? TAR_PAD : TAR_HEADER;
            }
            break;
        case TAR_PAD:
            n = len < (uint64_t) tp->remaining ? len : (size_t) tp->remaining;
            tp->remaining -= (int64_t) n;
            tp->offset += (int64_t) n;
            data += n;
            len -= n;
            if (tp->remaining == 0)
                tp->state = TAR_HEADER;
            break;
        case TAR_TRAILER:
            /* tar pads archives to its record size with zeros; anything else is garbage */
            for (size_t i = 0; i < len; i++)
                if (data[i] != 0)
                    return br_error_set(err, BR_E_FORMAT, "data after the end of the tar archive at offset %lld",
                                        (long long) (tp->offset + (int64_t) i));
            tp->offset += (int64_t) len;
            len = 0;
            break;
        }
    }
    return 0;
}

/*
 * End of input. Returns the number of zero blocks the archive still needs
 * to be complete (0, 1 or 2), or -1 when the stream stops inside a header,
 * a member or its padding.
 */
static int
tar_parser_end(struct tar_parser *tp, struct br_error *err)
{
    if (tp->state == TAR_TRAILER)
        return 0;
    if (tp->state != TAR_HEADER || tp->hdr_fill != 0 || tp->meta != NULL || tp->next_path != NULL
        || tp->next_link != NULL || tp->next_size >= 0)
        return br_error_set(err, BR_E_FORMAT, "tar archive is truncated at offset %lld%s%s%s", (long long) tp->offset,
                            tp->in_member ? " (inside member \"" : "", tp->in_member ? tp->path : "",
                            tp->in_member ? "\")" : "");
    return 2 - tp->zero_blocks;
}

/* ------------------------------------------------------------ tar parser stage */

struct tar_stage {
    struct stage base;
    struct tar_parser tp;
    struct stage *side;        /* tap: where member events go (owned, may be NULL) */
    int complete_trailer;      /* tap: add missing end-of-archive blocks at finish */
    int64_t *added;            /* tap: how many zero bytes were added, when not NULL */
};

static int
emit_next(void *arg, const struct chunk *ck, struct br_error *err)
{
    return stage_forward((struct stage *) arg, ck, err);
}

static int
emit_side(void *arg, const struct chunk *ck, struct br_error *err)
{
    struct tar_stage *ts = arg;

    if (ts->side == NULL)
        return 0;
    return stage_push(ts->side, ck, err);
}

static int
tar_parse_push(struct stage *st, const struct chunk *ck, struct br_error *err)
{
    struct tar_stage *ts = (struct tar_stage *) st;

    if (ck->kind != CHUNK_RAW)
        return br_error_set(err, BR_E_INTERNAL, "tar parser: unexpected chunk kind %d", ck->kind);
    return tar_parser_feed(&ts->tp, ck->data, ck->len, emit_next, st, err);
}

static int
tar_parse_finish(struct stage *st, struct br_error *err)
{
    struct tar_stage *ts = (struct tar_stage *) st;
    int missing = tar_parser_end(&ts->tp, err);

    if (missing < 0)
        return -1;
    if (missing > 0) {
        /* an archive without its end blocks still ends here */
        struct chunk ck = {.kind = CHUNK_ARCHIVE_END};

        if (stage_forward(st, &ck, err) != 0)
            return -1;
    }
    return stage_finish_next(st, err);
}

static void
tar_stage_free(struct stage *st)
{
    struct tar_stage *ts = (struct tar_stage *) st;

    stage_free(ts->side);
    stage_free_next(st);
    tar_parser_reset(&ts->tp);
    free(ts);
}

static const struct stage_ops tar_parse_ops = {tar_parse_push, tar_parse_finish, tar_stage_free};

struct stage *
stage_tar_parser_new(struct stage *next)
{
    struct tar_stage *ts = br_calloc(1, sizeof(*ts));

    ts->base.ops = &tar_parse_ops;
    ts->base.next = next;
    ts->base.name = "tar parser";
    tar_parser_init(&ts->tp);
    return &ts->base;
}

/* ------------------------------------------------------------ tar tap stage */

static int
tar_tap_push(struct stage *st, const struct chunk *ck, struct br_error *err)
{
    struct tar_stage *ts = (struct tar_stage *) st;

    if (ck->kind != CHUNK_RAW)
        return br_error_set(err, BR_E_INTERNAL, "tar tap: unexpected chunk kind %d", ck->kind);
    if (tar_parser_feed(&ts->tp, ck->data, ck->len, emit_side, ts, err) != 0)
        return -1;
    return stage_forward(st, ck, err);
}

static int
tar_tap_finish(struct stage *st, struct br_error *err)
{
    static const unsigned char zeros[2 * TAR_BLOCK];
    struct tar_stage *ts = (struct tar_stage *) st;
    int missing = tar_parser_end(&ts->tp, err);

    if (missing < 0)
        return -1;
    if (missing > 0) {
        struct chunk ck = {.kind = CHUNK_ARCHIVE_END};

        if (!ts->complete_trailer)
            return br_error_set(err, BR_E_FORMAT, "tar archive has no end-of-archive blocks");
        if (stage_push_raw(st->next, zeros, (size_t) missing * TAR_BLOCK, err) != 0)
            return -1;
        if (ts->added != NULL)
            *ts->added += (int64_t) missing * TAR_BLOCK;
        if (ts->side != NULL && stage_push(ts->side, &ck, err) != 0)
            return -1;
    }
    if (ts->side != NULL && stage_finish(ts->side, err) != 0)
        return -1;
    return stage_finish_next(st, err);
}

static const struct stage_ops tar_tap_ops = {tar_tap_push, tar_tap_finish, tar_stage_free};

struct stage *
stage_tar_tap_new(struct stage *next, struct stage *side, int complete_trailer, int64_t *added_bytes)
{
    struct tar_stage *ts = br_calloc(1, sizeof(*ts));

    ts->base.ops = &tar_tap_ops;
    ts->base.next = next;
    ts->base.name = "tar tap";
    ts->side = side;
    ts->complete_trailer = complete_trailer;
    ts->added = added_bytes;
    tar_parser_init(&ts->tp);
    return &ts->base;
}

/* ------------------------------------------------------------ member capture */

struct capture_stage {
    struct stage base;
    char *path;
    struct strbuf *out;
    size_t max_bytes;
    int active;                /* inside the member we want */
    int *found;
};

static int
capture_push(struct stage *st, const struct chunk *ck, struct br_error *err)
{
    struct capture_stage *cs = (struct capture_stage *) st;

    switch (ck->kind) {
    case CHUNK_MEMBER_HEADER:
        cs->active = ck->member->type == MEMBER_FILE && strcmp(ck->member->path, cs->path) == 0;
        if (cs->active) {
            if ((uint64_t) ck->member->size > cs->max_bytes)
                return br_error_set(err, BR_E_FORMAT, "member \"%s\" is too large (%lld bytes, at most %zu expected)",
                                    cs->path, (long long) ck->member->size, cs->max_bytes);
            strbuf_reset(cs->out);
            strbuf_append(cs->out, "");
            if (cs->found != NULL)
                *cs->found = 1;
        }
        break;
    case CHUNK_MEMBER_DATA:
        if (cs->active)
            strbuf_append_len(cs->out, (const char *) ck->data, ck->len);
        break;
    case CHUNK_MEMBER_END:
        cs->active = 0;
        break;
    default:
        break;
    }
    return stage_forward(st, ck, err);
}

static void
capture_free(struct stage *st)
{
    struct capture_stage *cs = (struct capture_stage *) st;

    stage_free_next(st);
    free(cs->path);
    free(cs);
}

static const struct stage_ops capture_ops = {capture_push, stage_finish_next, capture_free};

struct stage *
stage_member_capture_new(const char *path, struct strbuf *out, size_t max_bytes, int *found, struct stage *next)
{
    struct capture_stage *cs = br_calloc(1, sizeof(*cs));

    cs->base.ops = &capture_ops;
    cs->base.next = next;
    cs->base.name = "member capture";
    cs->path = br_strdup(path);
    cs->out = out;
    cs->max_bytes = max_bytes;
    cs->found = found;
    return &cs->base;
}
