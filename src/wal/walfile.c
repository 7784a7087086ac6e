/*
 * walfile.c: compression of archived WAL files by Barman's names, detection
 * by magic bytes, and streaming decompression (spec 4.3).
 *
 * Reading goes through libarchive's read filters with the "raw" format:
 * only the filter the magic announced is enabled, and the reader checks that
 * libarchive really stacked it, so a file that merely starts like gzip is
 * never passed through as if it were plain. Writing goes through the
 * compressor stages (stage_filter.c, stage_zstd.c). The custom codec runs
 * the configured shell filters as Barman does ("sh -c FILTER < src > dst").
 * Every path uses fixed buffers: memory does not grow with the file.
 */
#include "barrel/build.h"
#include "barrel/walfile.h"

#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/mem.h"
#include "barrel/stage.h"

#include <archive.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

/* libarchive's read block: large enough that the filter call overhead vanishes. */
#define WALFILE_READ_BLOCK (128 * 1024)
#define WALFILE_CMP_BLOCK (128 * 1024)

/* Barman's compression levels: gzip -c / bzip2 -c use the CLI defaults. */
#define WALFILE_GZIP_LEVEL 6
#define WALFILE_BZIP2_LEVEL 9
#define WALFILE_ZSTD_LEVEL 3
#define WALFILE_XZ_LEVEL 6

static const unsigned char magic_bzip2[] = {0x42, 0x5a, 0x68};
static const unsigned char magic_gzip[] = {0x1f, 0x8b, 0x08};
static const unsigned char magic_lz4[] = {0x04, 0x22, 0x4d, 0x18};
static const unsigned char magic_xz[] = {0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00};
static const unsigned char magic_zstd[] = {0x28, 0xb5, 0x2f, 0xfd};

int
walfile_codec_parse(const char *name, enum walfile_codec *out)
{
    static const struct {
        const char *name;
        enum walfile_codec codec;
    } names[] = {
        {"gzip", WALFILE_GZIP}, {"pigz", WALFILE_GZIP},   {"pygzip", WALFILE_GZIP}, {"bzip2", WALFILE_BZIP2},
        {"pybzip2", WALFILE_BZIP2}, {"zstd", WALFILE_ZSTD}, {"lz4", WALFILE_LZ4},   {"xz", WALFILE_XZ},
        {"custom", WALFILE_CUSTOM}, {"none", WALFILE_NONE}, {"None", WALFILE_NONE},
    };

    if (name == NULL || name[0] == '\0') {
        *out = WALFILE_NONE;
        return 0;
    }
    for (size_t i = 0; i < BR_ARRAY_LEN(names); i++) {
        if (strcmp(name, names[i].name) == 0) {
            *out = names[i].codec;
            return 0;
        }
    }
    return -1;
}

const char *
walfile_codec_name(enum walfile_codec codec)
{
    switch (codec) {
    case WALFILE_GZIP: return "gzip";
    case WALFILE_BZIP2: return "bzip2";
    case WALFILE_ZSTD: return "zstd";
    case WALFILE_LZ4: return "lz4";
    case WALFILE_XZ: return "xz";
    case WALFILE_CUSTOM: return "custom";
    case WALFILE_NONE: break;
    }
    return "None";
}

static int
server_uses_custom(const struct server_config *srv)
{
    return srv != NULL && srv->compression != NULL && strcmp(srv->compression, "custom") == 0;
}

/* Barman: binascii.unhexlify(custom_compression_magic[2:]). Length in bytes, 0 if unset or not hex. */
static size_t
custom_magic(const struct server_config *srv, unsigned char *out)
{
    const char *hex = srv != NULL ? srv->custom_compression_magic : NULL;
    size_t n = 0, len;

    if (hex == NULL || strlen(hex) < 2)
        return 0;
    hex += 2;
    len = strlen(hex);
    if (len == 0 || len % 2 != 0 || len / 2 > WALFILE_MAGIC_MAX)
        return 0;
    for (size_t i = 0; i < len; i += 2) {
        char pair[3] = {hex[i], hex[i + 1], '\0'};
        if (!isxdigit((unsigned char) pair[0]) || !isxdigit((unsigned char) pair[1]))
            return 0;
        out[n++] = (unsigned char) strtoul(pair, NULL, 16);
    }
    return n;
}

static int
starts_with(const unsigned char *buf, size_t len, const unsigned char *magic, size_t mlen)
{
    return len >= mlen && memcmp(buf, magic, mlen) == 0;
}

enum walfile_codec
walfile_identify_bytes(const unsigned char *buf, size_t len, const struct server_config *srv, int unidentified_custom)
{
    unsigned char cmagic[WALFILE_MAGIC_MAX];
    size_t cmagic_len = server_uses_custom(srv) ? custom_magic(srv, cmagic) : 0;

    /* alphabetical order of the registry names, as Barman's sorted(compression_registry.items()) */
    if (starts_with(buf, len, magic_bzip2, sizeof(magic_bzip2)))
        return WALFILE_BZIP2;
    if (cmagic_len > 0 && starts_with(buf, len, cmagic, cmagic_len))
        return WALFILE_CUSTOM;
    if (starts_with(buf, len, magic_gzip, sizeof(magic_gzip)))
        return WALFILE_GZIP;
    if (starts_with(buf, len, magic_lz4, sizeof(magic_lz4)))
        return WALFILE_LZ4;
    if (starts_with(buf, len, magic_xz, sizeof(magic_xz)))
        return WALFILE_XZ;
    if (starts_with(buf, len, magic_zstd, sizeof(magic_zstd)))
        return WALFILE_ZSTD;
    if (unidentified_custom && server_uses_custom(srv) && srv->custom_compression_magic == NULL)
        return WALFILE_CUSTOM;
    return WALFILE_NONE;
}

int
walfile_identify(const char *path, const struct server_config *srv, int unidentified_custom, enum walfile_codec *out,
                 struct br_error *err)
{
    unsigned char buf[WALFILE_MAGIC_MAX];
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return br_error_sys(err, BR_E_IO, "could not open file \"%s\"", path);
    while (got < sizeof(buf)) {
        ssize_t n = read(fd, buf + got, sizeof(buf) - got);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            br_error_sys(err, BR_E_IO, "could not read file \"%s\"", path);
            close(fd);
            return -1;
        }
        if (n == 0)
            break;
        got += (size_t) n;
    }
    close(fd);
    *out = walfile_identify_bytes(buf, got, srv, unidentified_custom);
    return 0;
}

/* ---- shell filters (custom) ---- */

/*
 * Start "/bin/sh -c cmd" with in_fd as its standard input and out_fd as its
 * standard output. Between fork and exec the child calls only
 * async-signal-safe functions (archive-wal forks from worker threads).
 */
static pid_t
filter_spawn(const char *cmd, int in_fd, int out_fd, struct br_error *err)
{
    pid_t pid = fork();

    if (pid < 0) {
        br_error_sys(err, BR_E_IO, "could not start filter \"%s\"", cmd);
        return -1;
    }
    if (pid == 0) {
        if (in_fd != STDIN_FILENO && dup2(in_fd, STDIN_FILENO) < 0)
            _exit(127);
        if (out_fd != STDOUT_FILENO && dup2(out_fd, STDOUT_FILENO) < 0)
            _exit(127);
        signal(SIGPIPE, SIG_DFL);
        execl("/bin/sh", "sh", "-c", cmd, (char *) NULL);
        _exit(127);
    }
    return pid;
}

static int
filter_wait(pid_t pid, const char *cmd, struct br_error *err)
{
    int status;

    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return br_error_sys(err, BR_E_IO, "could not wait for filter \"%s\"", cmd);
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (err == NULL)
        return -1;
    if (WIFEXITED(status))
        return br_error_set(err, BR_E_IO, "filter \"%s\" failed with exit status %d", cmd, WEXITSTATUS(status));
    return br_error_set(err, BR_E_IO, "filter \"%s\" was terminated by signal %d", cmd, WTERMSIG(status));
}

/* ---- reader ---- */

struct walfile_reader {
    enum walfile_codec codec;
    char *path;
    int fd;                 /* the file (none, libarchive) or the filter's pipe (custom) */
    struct archive *a;
    pid_t child;            /* custom filter, 0 if none */
    char *filter;
};

static int
archive_filter_enable(struct archive *a, enum walfile_codec codec)
{
    switch (codec) {
    case WALFILE_GZIP: return archive_read_support_filter_gzip(a);
    case WALFILE_BZIP2: return archive_read_support_filter_bzip2(a);
    case WALFILE_ZSTD: return archive_read_support_filter_zstd(a);
    case WALFILE_LZ4: return archive_read_support_filter_lz4(a);
    case WALFILE_XZ: return archive_read_support_filter_xz(a);
    default: return ARCHIVE_FATAL;
    }
}

struct walfile_reader *
walfile_reader_open(const char *path, enum walfile_codec codec, const struct server_config *srv, struct br_error *err)
{
    struct walfile_reader *r = br_calloc(1, sizeof(*r));
    struct archive_entry *entry;

    r->codec = codec;
    r->path = br_strdup(path);
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        br_error_sys(err, BR_E_IO, "could not open file \"%s\"", path);
        goto fail;
    }
    switch (codec) {
    case WALFILE_NONE:
        break;
    case WALFILE_CUSTOM: {
        int pipefd[2];

        if (srv == NULL || srv->custom_decompression_filter == NULL) {
            br_error_set(err, BR_E_CONFIG, "file \"%s\" is custom compressed but custom_decompression_filter is not set",
                         path);
            goto fail;
        }
        r->filter = br_strdup(srv->custom_decompression_filter);
        if (pipe2(pipefd, O_CLOEXEC) != 0) {
            br_error_sys(err, BR_E_IO, "could not create a pipe");
            goto fail;
        }
        r->child = filter_spawn(r->filter, r->fd, pipefd[1], err);
        close(pipefd[1]);
        close(r->fd);
        r->fd = pipefd[0];
        if (r->child < 0) {
            r->child = 0;
            goto fail;
        }
        break;
    }
    default:
        r->a = archive_read_new();
        if (archive_filter_enable(r->a, codec) != ARCHIVE_OK || archive_read_support_format_raw(r->a) != ARCHIVE_OK
            || archive_read_open_fd(r->a, r->fd, WALFILE_READ_BLOCK) != ARCHIVE_OK
            || archive_read_next_header(r->a, &entry) != ARCHIVE_OK) {
            br_error_set(err, BR_E_FORMAT, "could not read %s file \"%s\": %s", walfile_codec_name(codec), path,
                         archive_error_string(r->a) ? archive_error_string(r->a) : "unknown error");
            goto fail;
        }
        /* filter 0 is the outermost: "none" means libarchive did not recognise the compression */
        if (archive_filter_count(r->a) < 2) {
            br_error_set(err, BR_E_FORMAT, "file \"%s\" is not %s compressed", path, walfile_codec_name(codec));
            goto fail;
        }
        break;
    }
    return r;
fail:
    walfile_reader_close(r, NULL);
    return NULL;
}

ssize_t
walfile_reader_read(struct walfile_reader *r, void *buf, size_t len, struct br_error *err)
{
    if (r->a != NULL) {
        la_ssize_t n = archive_read_data(r->a, buf, len);
        if (n < 0)
            return br_error_set(err, BR_E_FORMAT, "could not decompress %s file \"%s\": %s", walfile_codec_name(r->codec),
                                r->path, archive_error_string(r->a) ? archive_error_string(r->a) : "unknown error");
        return (ssize_t) n;
    }
    for (;;) {
        ssize_t n = read(r->fd, buf, len);
        if (n >= 0)
            return n;
        if (errno != EINTR)
            return br_error_sys(err, BR_E_IO, "could not read file \"%s\"", r->path);
    }
}

int
walfile_reader_close(struct walfile_reader *r, struct br_error *err)
{
    int rc = 0;

    if (r == NULL)
        return 0;
    if (r->a != NULL)
        archive_read_free(r->a);
    if (r->fd >= 0)
        close(r->fd);
    if (r->child > 0) {
        /* an abandoned filter may block writing to the closed pipe: SIGPIPE ends it */
        rc = filter_wait(r->child, r->filter, err);
    }
    free(r->filter);
    free(r->path);
    free(r);
    return rc;
}

int
walfile_decompress(const char *path, enum walfile_codec codec, const struct server_config *srv, struct stage *st,
                   struct br_error *err)
{
    struct walfile_reader *r;
    unsigned char *buf;
    int rc = 0;

    /* uncompressed: no reader layer, the pump reads straight into the chain */
    if (codec == WALFILE_NONE) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        if (fd < 0)
            return br_error_sys(err, BR_E_IO, "could not open file \"%s\"", path);
        posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        rc = stage_pump_fd(fd, path, st, err);
        close(fd);
        return rc;
    }
    r = walfile_reader_open(path, codec, srv, err);
    if (r == NULL)
        return -1;
    buf = br_malloc(WALFILE_READ_BLOCK);
    for (;;) {
        ssize_t n = walfile_reader_read(r, buf, WALFILE_READ_BLOCK, err);
        if (n < 0 || (n > 0 && stage_push_raw(st, buf, (size_t) n, err) != 0)) {
            rc = -1;
            break;
        }
        if (n == 0)
            break;
    }
    free(buf);
    if (walfile_reader_close(r, rc == 0 ? err : NULL) != 0)
        rc = -1;
    return rc;
}

/* Fill buf completely unless the stream ends first. */
static ssize_t
reader_fill(struct walfile_reader *r, unsigned char *buf, size_t len, struct br_error *err)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = walfile_reader_read(r, buf + got, len - got, err);
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        got += (size_t) n;
    }
    return (ssize_t) got;
}

int
walfile_same_content(const char *path_a, enum walfile_codec codec_a, const char *path_b, enum walfile_codec codec_b,
                     const struct server_config *srv, struct br_error *err)
{
    struct walfile_reader *ra = NULL, *rb = NULL;
    unsigned char *ba = NULL, *bb = NULL;
    int result = -1;

    ra = walfile_reader_open(path_a, codec_a, srv, err);
    if (ra == NULL)
        goto out;
    rb = walfile_reader_open(path_b, codec_b, srv, err);
    if (rb == NULL)
        goto out;
    ba = br_malloc(WALFILE_CMP_BLOCK);
    bb = br_malloc(WALFILE_CMP_BLOCK);
    for (;;) {
        ssize_t na = reader_fill(ra, ba, WALFILE_CMP_BLOCK, err);
        ssize_t nb = na < 0 ? -1 : reader_fill(rb, bb, WALFILE_CMP_BLOCK, err);

        if (na < 0 || nb < 0)
            goto out;
        if (na != nb || memcmp(ba, bb, (size_t) na) != 0) {
            result = 0;
            break;
        }
        if (na == 0) {
            result = 1;
            break;
        }
    }
out:
    free(ba);
    free(bb);
    /* a filter stopped early (the contents differ) dies of SIGPIPE: only check its status on a full read */
    if (walfile_reader_close(ra, result == 1 ? err : NULL) != 0 && result == 1)
        result = -1;
    if (walfile_reader_close(rb, result == 1 ? err : NULL) != 0 && result == 1)
        result = -1;
    return result;
}

/* ---- compression ---- */

struct stage *
walfile_compressor_new(enum walfile_codec codec, struct stage *next, struct br_error *err)
{
    struct stage *st = NULL;

    switch (codec) {
    case WALFILE_NONE: return next;
    case WALFILE_GZIP: st = stage_filter_compress_new(FILTER_GZIP, WALFILE_GZIP_LEVEL, next, err); break;
    case WALFILE_BZIP2: st = stage_filter_compress_new(FILTER_BZIP2, WALFILE_BZIP2_LEVEL, next, err); break;
    case WALFILE_LZ4: st = stage_filter_compress_new(FILTER_LZ4, 0, next, err); break;
    case WALFILE_XZ: st = stage_filter_compress_new(FILTER_XZ, WALFILE_XZ_LEVEL, next, err); break;
    case WALFILE_ZSTD: st = stage_zstd_compress_new(WALFILE_ZSTD_LEVEL, 0, 1, next, err); break;
    case WALFILE_CUSTOM:
        br_error_set(err, BR_E_INTERNAL, "custom compression is a shell filter, not a stage");
        stage_free(next);
        break;
    }
    return st;
}

int
walfile_compress_fd(int src_fd, const char *src_label, int out_fd, const char *out_label, enum walfile_codec codec,
                    const struct server_config *srv, struct br_error *err)
{
    struct stage *chain;
    int rc;

    if (codec == WALFILE_CUSTOM) {
        pid_t pid;

        if (srv == NULL || srv->custom_compression_filter == NULL)
            return br_error_set(err, BR_E_CONFIG, "custom compression needs custom_compression_filter");
        pid = filter_spawn(srv->custom_compression_filter, src_fd, out_fd, err);
        if (pid < 0)
            return -1;
        return filter_wait(pid, srv->custom_compression_filter, err);
    }
    chain = walfile_compressor_new(codec, stage_fd_sink_new(out_fd, out_label), err);
    if (chain == NULL)
        return -1;
    posix_fadvise(src_fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    rc = stage_pump_fd(src_fd, src_label, chain, err);
    if (rc == 0)
        rc = stage_finish(chain, err);
    stage_free(chain);
    return rc;
}
