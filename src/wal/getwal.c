/*
 * getwal.c: get-wal (Barman 3.4's Server.get_wal / get_wal_sendfile).
 *
 * This is on PostgreSQL's restore path, once per segment, so it does the
 * least possible: one stat per candidate path, the magic bytes, and one
 * streaming pass through fixed buffers (decompressor -> optional
 * compressor -> descriptor). When the stored format is already the one
 * asked for, the stored bytes are copied untouched. No temporary files
 * (Barman decompresses and recompresses through two of them in wals/).
 */
#include "barrel/build.h"
#include "barrel/getwal.h"

#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/fs.h"
#include "barrel/log.h"
#include "barrel/mem.h"
#include "barrel/output.h"
#include "barrel/stage.h"
#include "barrel/walfile.h"
#include "barrel/xlog.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* Barman's generate_segment_names() without a segment size: every possible segment number. */
#define PEEK_MAX_SEG 0x7FFFF
#define MAX_CANDIDATES 8

struct candidates {
    size_t n;
    char *paths[MAX_CANDIDATES];
};

static void
candidates_free(struct candidates *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->paths[i]);
    c->n = 0;
}

/* Barman's get_wal_possible_paths(). */
static void
possible_paths(const struct server_config *srv, const char *name, int partial, struct candidates *c)
{
    char hash[17];
    char *hash_dir, *full, *incoming, *streaming;

    xlog_hash_dir(name, hash);
    hash_dir = hash[0] ? path_join(srv->wals_directory, hash) : br_strdup(srv->wals_directory);
    full = path_join(hash_dir, name);
    incoming = path_join(srv->incoming_wals_directory, name);
    streaming = path_join(srv->streaming_wals_directory, name);
    c->n = 0;
    c->paths[c->n++] = br_strdup(full);
    c->paths[c->n++] = br_strdup(incoming);
    c->paths[c->n++] = br_strdup(streaming);
    if (partial) {
        c->paths[c->n++] = br_asprintf("%s.partial", streaming);
        /* streaming again: pg_receivewal may have completed the segment meanwhile */
        c->paths[c->n++] = br_strdup(streaming);
        /* the last incomplete segment archived before a promotion */
        c->paths[c->n++] = br_asprintf("%s.partial", full);
        c->paths[c->n++] = br_asprintf("%s.partial", incoming);
    }
    /* the archive again: archive-wal may have moved it while we looked */
    c->paths[c->n++] = full;
    free(hash_dir);
    free(incoming);
    free(streaming);
}

static int
any_exists(const struct candidates *c)
{
    for (size_t i = 0; i < c->n; i++)
        if (path_exists(c->paths[i]))
            return 1;
    return 0;
}

static int
is_power_of_two(uint32_t n)
{
    return n != 0 && (n & (n - 1)) == 0;
}

/* --peek N: names that exist, from wal_name on, stopping at the first gap (spec 5.2). */
static void
peek(const struct server_config *srv, const char *wal_name, int count_max)
{
    struct xlog_name xn;
    struct candidates c;
    int count = 0;

    if (xlog_name_parse(wal_name, &xn) != XLOG_KIND_SEGMENT) {
        possible_paths(srv, wal_name, 0, &c);
        if (any_exists(&c))
            output_info("%s", wal_name);
        candidates_free(&c);
        return;
    }
    while (count < count_max) {
        char name[XLOG_NAME_LEN + 1];
        int found;

        snprintf(name, sizeof(name), "%08X%08X%08X", xn.tli, xn.log, xn.seg);
        possible_paths(srv, name, 0, &c);
        found = any_exists(&c);
        candidates_free(&c);
        if (found) {
            output_info("%s", name);
            count++;
            if (++xn.seg > PEEK_MAX_SEG) {
                xn.seg = 0;
                xn.log++;
            }
            continue;
        }
        /* the segment size is unknown: a missing power-of-two segment may be the end of a log id */
        if (!is_power_of_two(xn.seg))
            break;
        xn.seg = 0;
        xn.log++;
    }
}

/*
 * Send one stored file to out_fd in the requested form. Returns 0, 1 when
 * the file vanished before any byte was sent (try the next path), -1 on error.
 */
static int
send_file(const struct server_config *srv, const char *path, enum getwal_compression want, int out_fd,
          const char *out_label, struct br_error *err)
{
    enum walfile_codec stored, out_codec;
    struct stage *sink, *chain;
    int rc;

    if (walfile_identify(path, srv, 1, &stored, err) < 0)
        return err->sys_errno == ENOENT ? 1 : -1;
    switch (want) {
    case GETWAL_GZIP: out_codec = WALFILE_GZIP; break;
    case GETWAL_BZIP2: out_codec = WALFILE_BZIP2; break;
    case GETWAL_KEEP: out_codec = stored; break;
    default: out_codec = WALFILE_NONE; break;
    }
    sink = chain = stage_fd_sink_new(out_fd, out_label);
    if (stored == out_codec) {
        /* already in the wanted form: the stored bytes as they are */
        rc = walfile_decompress(path, WALFILE_NONE, srv, chain, err);
    } else {
        chain = walfile_compressor_new(out_codec, sink, err);
        if (chain == NULL)
            return -1;
        rc = walfile_decompress(path, stored, srv, chain, err);
    }
    if (rc < 0 && err->sys_errno == ENOENT && stage_fd_sink_bytes(sink) == 0) {
        stage_free(chain);
        return 1;
    }
    if (rc == 0)
        rc = stage_finish(chain, err);
    stage_free(chain);
    return rc;
}

int
getwal_run(const struct server_config *srv, const struct getwal_opts *opts, struct br_error *err)
{
    const char *ssh = getenv("SSH_CONNECTION");
    char suffix[96] = "";
    struct candidates c = {0};
    char *dest_path = NULL, *dest_desc = NULL;
    int out_fd = STDOUT_FILENO, rc = -1;

    /* through ssh, name the client (the first field of SSH_CONNECTION) in messages */
    if (ssh != NULL && ssh[0] != '\0')
        snprintf(suffix, sizeof(suffix), " (SSH host: %.*s)", (int) strcspn(ssh, " "), ssh);

    if (xlog_name_parse(opts->wal_name, NULL) == XLOG_KIND_NONE)
        return br_error_set(err, BR_E_BAD_WAL_NAME, "'%s' is not a valid wal file name%s", opts->wal_name, suffix);

    if (opts->peek > 0) {
        peek(srv, opts->wal_name, opts->peek);
        return 0;
    }

    if (opts->output_dir != NULL) {
        dest_path = path_join(opts->output_dir, opts->wal_name);
        dest_desc = br_asprintf("into '%s' file", dest_path);
        out_fd = open(dest_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
        if (out_fd < 0) {
            br_error_sys(err, BR_E_BAD_WAL_NAME, "Unable to open '%s' file%s", dest_path, suffix);
            goto out;
        }
    } else {
        dest_desc = br_strdup("to standard output");
    }

    possible_paths(srv, opts->wal_name, opts->partial, &c);
    for (size_t i = 0; i < c.n; i++) {
        int sent;

        if (!path_exists(c.paths[i]))
            continue;
        /* with standard output taken by the WAL, messages only go to the log */
        if (opts->output_dir != NULL)
            output_info("Sending WAL '%s' for server '%s' %s%s", path_basename(c.paths[i]), srv->name, dest_desc, suffix);
        else
            br_log_info("Sending WAL '%s' for server '%s' %s%s", path_basename(c.paths[i]), srv->name, dest_desc, suffix);
        sent = send_file(srv, c.paths[i], opts->compression, out_fd, dest_path ? dest_path : "standard output", err);
        if (sent < 0)
            goto out;
        if (sent == 0) {
            rc = 0;
            goto out;
        }
        br_error_clear(err);
        br_log_info("Skipping vanished WAL file '%s'%s", c.paths[i], suffix);
    }
    br_error_set(err, BR_E_NOT_FOUND, "WAL file '%s' not found in server '%s'%s", opts->wal_name, srv->name, suffix);
out:
    if (out_fd != STDOUT_FILENO && out_fd >= 0) {
        if (close(out_fd) != 0 && rc == 0)
            rc = br_error_sys(err, BR_E_IO, "could not close file \"%s\"", dest_path);
        /* Barman leaves an empty file behind when the WAL is not found: a restore_command must not see one */
        if (rc != 0)
            unlink(dest_path);
    }
    candidates_free(&c);
    free(dest_path);
    free(dest_desc);
    return rc;
}
