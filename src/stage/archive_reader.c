/*
 * archive_reader.c: pull a tar archive through libarchive (which detects
 * and undoes gzip, bzip2, lz4, xz and zstd compression) and push its
 * members into a stage chain. Data blocks are libarchive's own buffers,
 * passed on without a copy; memory stays at libarchive's block size
 * whatever the archive's size.
 */
#include "barrel/build.h"
#include "barrel/stage.h"
#include "barrel/error.h"
#include "barrel/mem.h"

#include <archive.h>
#include <archive_entry.h>

#define READ_BLOCK_BYTES (1024 * 1024)

static const unsigned char zero_block[64 * 1024];

static int
push_zeros(struct stage *sink, int64_t n, struct br_error *err)
{
    while (n > 0) {
        size_t len = n > (int64_t) sizeof(zero_block) ? sizeof(zero_block) : (size_t) n;
        struct chunk ck = {.kind = CHUNK_MEMBER_DATA, .data = zero_block, .len = len};
        if (stage_push(sink, &ck, err) != 0)
            return -1;
        n -= (int64_t) len;
    }
    return 0;
}

static enum member_type
member_type_of(mode_t type)
{
    switch (type) {
    case AE_IFREG: return MEMBER_FILE;
    case AE_IFDIR: return MEMBER_DIR;
    case AE_IFLNK: return MEMBER_SYMLINK;
    default: return MEMBER_OTHER;
    }
}

int
archive_reader_run(const char *path, const char *prefix, struct stage *sink, struct br_error *err)
{
    struct archive *a = archive_read_new();
    struct archive_entry *entry;
    char *full = NULL;
    int rc = -1, r;

    archive_read_support_filter_all(a);
    /* tar in its three dialects only: nothing else belongs in a backup */
    archive_read_support_format_tar(a);
    archive_read_support_format_gnutar(a);
    if (archive_read_open_filename(a, path, READ_BLOCK_BYTES) != ARCHIVE_OK) {
        br_error_set(err, BR_E_IO, "could not open archive \"%s\": %s", path, archive_error_string(a));
        goto out;
    }
    while ((r = archive_read_next_header(a, &entry)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
        const char *name = archive_entry_pathname(entry);
        struct stage_member member = {0};
        struct chunk ck = {0};

        if (name == NULL) {
            br_error_set(err, BR_E_FORMAT, "archive \"%s\": a member has no name", path);
            goto out;
        }
        if (strncmp(name, "./", 2) == 0)
            name += 2;
        free(full);
        full = br_asprintf("%s%s", prefix ? prefix : "", name);
        member.path = full;
        member.type = member_type_of(archive_entry_filetype(entry));
        member.size = member.type == MEMBER_FILE ? archive_entry_size(entry) : 0;
        member.mode = archive_entry_perm(entry);
        member.mtime = archive_entry_mtime(entry);
        member.linkname = archive_entry_symlink(entry);
        ck.kind = CHUNK_MEMBER_HEADER;
        ck.member = &member;
        if (stage_push(sink, &ck, err) != 0)
            goto out;
        if (member.type == MEMBER_FILE) {
            const void *buf;
            size_t len;
            la_int64_t offset, expected = 0;
            while ((r = archive_read_data_block(a, &buf, &len, &offset)) == ARCHIVE_OK) {
                if (offset > expected && push_zeros(sink, offset - expected, err) != 0)
                    goto out;
                struct chunk dk = {.kind = CHUNK_MEMBER_DATA, .data = buf, .len = len, .member = &member};
                if (len > 0 && stage_push(sink, &dk, err) != 0)
                    goto out;
                expected = offset + (la_int64_t) len;
            }
            if (r != ARCHIVE_EOF) {
                br_error_set(err, BR_E_FORMAT, "archive \"%s\" is damaged in member \"%s\": %s", path, name,
                             archive_error_string(a));
                goto out;
            }
            if (expected < member.size && push_zeros(sink, member.size - expected, err) != 0)
                goto out;
        }
        ck.kind = CHUNK_MEMBER_END;
        if (stage_push(sink, &ck, err) != 0)
            goto out;
    }
    if (r != ARCHIVE_EOF) {
        br_error_set(err, BR_E_FORMAT, "archive \"%s\" is damaged: %s", path, archive_error_string(a));
        goto out;
    }
    {
        struct chunk end = {.kind = CHUNK_ARCHIVE_END};
        if (stage_push(sink, &end, err) != 0)
            goto out;
    }
    rc = 0;
out:
    free(full);
    archive_read_free(a);
    return rc;
}
