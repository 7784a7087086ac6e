/*
 * putwal.c: put-wal (Barman 3.4's Server.put_wal, with the retry rule of
 * Barman >= 3.13 for an identical existing file).
 *
 * The stream is untrusted: members must be regular files with plain names
 * (no '/', not "." or ".."), checksum files are bounded in size and parsed
 * line by line, the number of members is bounded, and nothing lands under
 * a final name before every checksum has been verified. Each file is
 * written once, through a fixed buffer, hashed with both MD5 and SHA-256 as
 * it streams (the checksum member comes after the files it describes).
 */
#include "barrel/build.h"
#include "barrel/putwal.h"
#include "barrel/fault.h"

#include "barrel/config.h"
#include "barrel/digest.h"
#include "barrel/error.h"
#include "barrel/fs.h"
#include "barrel/log.h"
#include "barrel/mem.h"
#include "barrel/output.h"
#include "barrel/strbuf.h"
#include "barrel/walfile.h"

#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define PUTWAL_BLOCK (128 * 1024)
/* A checksum file names a handful of files: anything larger is not one. */
#define PUTWAL_SUMS_MAX (64 * 1024)

struct received {
    char *name;
    char *tmp_path;
    char *path;
    char md5[DIGEST_HEX_MAX];
    char sha256[DIGEST_HEX_MAX];
    int validated;
};

struct checksum {
    char *name;
    char *hex;
    enum digest_kind kind;
};

struct putwal {
    const struct server_config *srv;
    char suffix[96];
    char *dest_dir;
    struct received files[PUTWAL_MAX_MEMBERS];
    size_t n_files;
    struct checksum sums[PUTWAL_MAX_MEMBERS];
    size_t n_sums;
    unsigned char *buf;
};

/* Python tarfile's type character, for Barman's "Unsupported file type" message. */
static char
tar_type_char(struct archive_entry *entry)
{
    if (archive_entry_hardlink(entry) != NULL)
        return '1';
    switch (archive_entry_filetype(entry)) {
    case AE_IFREG: return '0';
    case AE_IFLNK: return '2';
    case AE_IFCHR: return '3';
    case AE_IFBLK: return '4';
    case AE_IFDIR: return '5';
    case AE_IFIFO: return '6';
    default: return '?';
    }
}

static struct received *
find_file(struct putwal *pw, const char *name)
{
    for (size_t i = 0; i < pw->n_files; i++)
        if (strcmp(pw->files[i].name, name) == 0)
            return &pw->files[i];
    return NULL;
}

/* Parse an MD5SUMS / SHA256SUMS body: "<hex>  <path>" or "<hex> *<path>" per line (Barman: re.split(r" [* ]", line, 1)). */
static int
parse_sums(struct putwal *pw, const char *text, enum digest_kind kind, struct br_error *err)
{
    const char *line = text;

    while (*line != '\0') {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t) (eol - line) : strlen(line);
        char *copy = br_strndup(line, len);
        size_t clen = strlen(copy);
        char *sep = NULL;

        /* Python's rstrip(): trailing whitespace goes */
        while (clen > 0 && isspace((unsigned char) copy[clen - 1]))
            copy[--clen] = '\0';
        for (char *p = copy; p[0] != '\0' && p[1] != '\0'; p++) {
            if (p[0] == ' ' && (p[1] == '*' || p[1] == ' ')) {
                sep = p;
                break;
            }
        }
        if (sep == NULL) {
            output_warning("Bad checksum line '%s' found in put-wal for server '%s'%s", copy, pw->srv->name, pw->suffix);
        } else {
            const char *path = sep + 2;
            struct checksum *sum = NULL;

            *sep = '\0';
            if (strncmp(path, "./", 2) == 0)
                path += 2;
            for (size_t i = 0; i < pw->n_sums; i++)
                if (strcmp(pw->sums[i].name, path) == 0)
                    sum = &pw->sums[i];
            if (sum == NULL) {
                if (pw->n_sums == PUTWAL_MAX_MEMBERS) {
                    free(copy);
                    return br_error_set(err, BR_E_FORMAT, "too many checksums in put-wal for server '%s'%s",
                                        pw->srv->name, pw->suffix);
                }
                sum = &pw->sums[pw->n_sums++];
                sum->name = br_strdup(path);
            } else {
                free(sum->hex);
            }
            sum->hex = br_strdup(copy);
            sum->kind = kind;
        }
        free(copy);
        line += len;
        if (*line == '\n')
            line++;
    }
    return 0;
}

static int
read_sums_member(struct putwal *pw, struct archive *a, enum digest_kind kind, struct br_error *err)
{
    struct strbuf sb;
    int rc = 0;

    strbuf_init(&sb);
    for (;;) {
        la_ssize_t n = archive_read_data(a, pw->buf, PUTWAL_BLOCK);
        if (n < 0) {
            rc = br_error_set(err, BR_E_FORMAT, "could not read the put-wal stream for server '%s'%s: %s", pw->srv->name,
                              pw->suffix, archive_error_string(a) ? archive_error_string(a) : "unknown error");
            break;
        }
        if (n == 0)
            break;
        if (sb.len + (size_t) n > PUTWAL_SUMS_MAX) {
            rc = br_error_set(err, BR_E_FORMAT, "checksum file too large in put-wal for server '%s'%s", pw->srv->name,
                              pw->suffix);
            break;
        }
        strbuf_append_len(&sb, (const char *) pw->buf, (size_t) n);
    }
    if (rc == 0)
        rc = parse_sums(pw, sb.buf ? sb.buf : "", kind, err);
    strbuf_free(&sb);
    return rc;
}

/* Extract one regular member to incoming/.<pid>-<name>, hashing it, fsynced, with its mtime. */
static int
extract_member(struct putwal *pw, struct archive *a, struct archive_entry *entry, const char *name,
               struct br_error *err)
{
    struct received *rf = find_file(pw, name);
    struct digest *md5 = digest_new(DIGEST_MD5), *sha = digest_new(DIGEST_SHA256);
    int fd = -1, rc = -1;

    if (rf == NULL) {
        char *tmp_name;

        if (pw->n_files == PUTWAL_MAX_MEMBERS) {
            br_error_set(err, BR_E_FORMAT, "too many files in put-wal for server '%s'%s", pw->srv->name, pw->suffix);
            goto out;
        }
        rf = &pw->files[pw->n_files++];
        rf->name = br_strdup(name);
        tmp_name = br_asprintf(".%ld-%s", (long) getpid(), name);
        rf->tmp_path = path_join(pw->dest_dir, tmp_name);
        rf->path = path_join(pw->dest_dir, name);
        free(tmp_name);
    }
    fd = open(rf->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        br_error_sys(err, BR_E_IO, "could not create file \"%s\"", rf->tmp_path);
        goto out;
    }
    for (;;) {
        la_ssize_t n = archive_read_data(a, pw->buf, PUTWAL_BLOCK);
        size_t done = 0;

        if (n < 0) {
            br_error_set(err, BR_E_FORMAT, "could not read the put-wal stream for server '%s'%s: %s", pw->srv->name,
                         pw->suffix, archive_error_string(a) ? archive_error_string(a) : "unknown error");
            goto out;
        }
        if (n == 0)
            break;
        digest_update(md5, pw->buf, (size_t) n);
        digest_update(sha, pw->buf, (size_t) n);
        while (done < (size_t) n) {
            fault_point("putwal.write");
            ssize_t w = write(fd, pw->buf + done, (size_t) n - done);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                br_error_sys(err, BR_E_IO, "could not write file \"%s\"", rf->tmp_path);
                goto out;
            }
            done += (size_t) w;
        }
    }
    digest_final_hex(md5, rf->md5);
    digest_final_hex(sha, rf->sha256);
    rf->validated = 0;
    {
        /* Barman: tar.utime(item, tmp_path), atime and mtime = the member's mtime */
        struct timespec times[2];

        times[0].tv_sec = times[1].tv_sec = archive_entry_mtime(entry);
        times[0].tv_nsec = times[1].tv_nsec = archive_entry_mtime_nsec(entry);
        if (futimens(fd, times) != 0) {
            br_error_sys(err, BR_E_IO, "could not set times of file \"%s\"", rf->tmp_path);
            goto out;
        }
    }
    fault_point("putwal.fsync");
    if (fsync(fd) != 0) {
        br_error_sys(err, BR_E_IO, "could not fsync file \"%s\"", rf->tmp_path);
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0 && close(fd) != 0 && rc == 0)
        rc = br_error_sys(err, BR_E_IO, "could not close file \"%s\"", rf->tmp_path);
    digest_free(md5);
    digest_free(sha);
    return rc;
}

static int
read_stream(struct putwal *pw, int in_fd, struct br_error *err)
{
    struct archive *a = archive_read_new();
    struct archive_entry *entry;
    int rc = -1, r;

    archive_read_support_format_tar(a);
    if (archive_read_open_fd(a, in_fd, 10240) != ARCHIVE_OK) {
        br_error_set(err, BR_E_FORMAT, "could not read the put-wal stream for server '%s'%s: %s", pw->srv->name,
                     pw->suffix, archive_error_string(a) ? archive_error_string(a) : "unknown error");
        goto out;
    }
    while ((r = archive_read_next_header(a, &entry)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
        const char *name = archive_entry_pathname(entry);

        if (name == NULL)
            name = "";
        if (strncmp(name, "./", 2) == 0)
            name += 2;
        if (archive_entry_filetype(entry) != AE_IFREG || archive_entry_hardlink(entry) != NULL) {
            /* Python's tarfile names a directory without its trailing slashes */
            size_t len = strlen(name);

            while (archive_entry_filetype(entry) == AE_IFDIR && len > 1 && name[len - 1] == '/')
                len--;
            br_error_set(err, BR_E_FORMAT, "Unsupported file type '%c' for file '%.*s' in put-wal for server '%s'%s",
                         tar_type_char(entry), (int) len, name, pw->srv->name, pw->suffix);
            goto out;
        }
        if (strchr(name, '/') != NULL || name[0] == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
            br_error_set(err, BR_E_FORMAT, "Unsupported filename '%s' in put-wal for server '%s'%s", name,
                         pw->srv->name, pw->suffix);
            goto out;
        }
        if (strcmp(name, "MD5SUMS") == 0 || strcmp(name, "SHA256SUMS") == 0) {
            if (read_sums_member(pw, a, name[0] == 'M' ? DIGEST_MD5 : DIGEST_SHA256, err) < 0)
                goto out;
            continue;
        }
        if (extract_member(pw, a, entry, name, err) < 0)
            goto out;
    }
    if (r != ARCHIVE_EOF) {
        br_error_set(err, BR_E_FORMAT, "could not read the put-wal stream for server '%s'%s: %s", pw->srv->name,
                     pw->suffix, archive_error_string(a) ? archive_error_string(a) : "unknown error");
        goto out;
    }
    rc = 0;
out:
    archive_read_free(a);
    return rc;
}

static int
verify_checksums(struct putwal *pw, struct br_error *err)
{
    for (size_t i = 0; i < pw->n_sums; i++) {
        const struct checksum *sum = &pw->sums[i];
        struct received *rf = find_file(pw, sum->name);
        const char *actual;

        if (rf == NULL)
            return br_error_set(err, BR_E_FORMAT, "Checksum without corresponding file '%s' in put-wal for server '%s'%s",
                                sum->name, pw->srv->name, pw->suffix);
        actual = sum->kind == DIGEST_MD5 ? rf->md5 : rf->sha256;
        if (strcasecmp(actual, sum->hex) != 0)
            return br_error_set(err, BR_E_FORMAT,
                                "Bad file checksum '%s' (should be %s) for file '%s' in put-wal for server '%s'%s", actual,
                                sum->hex, sum->name, pw->srv->name, pw->suffix);
        br_log_info("Received file '%s' with checksum '%s' by put-wal for server '%s'%s", sum->name, sum->hex,
                    pw->srv->name, pw->suffix);
        rf->validated = 1;
    }
    for (size_t i = 0; i < pw->n_files; i++)
        if (!pw->files[i].validated)
            return br_error_set(err, BR_E_FORMAT, "Missing checksum for file '%s' in put-wal for server '%s'%s",
                                pw->files[i].name, pw->srv->name, pw->suffix);
    return 0;
}

/*
 * Put one verified file in place. link(2) fails with EEXIST instead of
 * replacing: the check and the placement are one atomic step, even against a
 * concurrent put-wal of the same name.
 */
static int
place_file(struct putwal *pw, struct received *rf, struct br_error *err)
{
    int same;

    fault_point("putwal.link");
    if (link(rf->tmp_path, rf->path) == 0)
        return fs_fsync_path(rf->path, 0, err);
    if (errno != EEXIST)
        return br_error_sys(err, BR_E_IO, "could not link \"%s\" to \"%s\"", rf->tmp_path, rf->path);
    /* a client killed after our rename retries with the same file: accept it, never overwrite */
    same = walfile_same_content(rf->path, WALFILE_NONE, rf->tmp_path, WALFILE_NONE, pw->srv, err);
    if (same < 0)
        return -1;
    if (same) {
        br_log_info("File '%s' already present in the incoming directory with the same content: put-wal for server "
                    "'%s' accepted%s", rf->name, pw->srv->name, pw->suffix);
        return 0;
    }
    return br_error_set(err, BR_E_STATE, "Impossible to write already existing file '%s' in put-wal for server '%s'%s",
                        rf->name, pw->srv->name, pw->suffix);
}

int
putwal_run(const struct server_config *srv, int in_fd, struct br_error *err)
{
    const char *ssh = getenv("SSH_CONNECTION");
    struct putwal pw = {0};
    int rc = -1;

    pw.srv = srv;
    if (ssh != NULL && ssh[0] != '\0')
        snprintf(pw.suffix, sizeof(pw.suffix), " (SSH host: %.*s)", (int) strcspn(ssh, " "), ssh);
    pw.dest_dir = br_strdup(srv->incoming_wals_directory);
    pw.buf = br_malloc(PUTWAL_BLOCK);
    if (fs_mkdir_p(pw.dest_dir, 0700, err) < 0)
        goto out;

    /* 1. every member to a temporary name, hashed */
    if (read_stream(&pw, in_fd, err) < 0)
        goto out;
    /* 2. every checksum matches a file, every file has one */
    if (verify_checksums(&pw, err) < 0)
        goto out;
    /* 3. into place, durably */
    for (size_t i = 0; i < pw.n_files; i++)
        if (place_file(&pw, &pw.files[i], err) < 0)
            goto out;
    if (fs_fsync_path(pw.dest_dir, 1, err) < 0)
        goto out;
    /* the client writes the tar's end padding: read it so that it never sees a broken pipe */
    while (read(in_fd, pw.buf, PUTWAL_BLOCK) > 0)
        ;
    rc = 0;
out:
    for (size_t i = 0; i < pw.n_files; i++) {
        unlink(pw.files[i].tmp_path);
        free(pw.files[i].name);
        free(pw.files[i].tmp_path);
        free(pw.files[i].path);
    }
    for (size_t i = 0; i < pw.n_sums; i++) {
        free(pw.sums[i].name);
        free(pw.sums[i].hex);
    }
    free(pw.buf);
    free(pw.dest_dir);
    return rc;
}
