/*
 * xlogdb.c: xlog.db, the list of archived WAL files (spec 2.4).
 *
 * One line per file, "name\tsize\ttime\tcompression\n", time in Python
 * str(float) form. Barman 3.4 reads lines of 3 fields (old format, no
 * compression) or 4; Barman >= 3.14 adds a 5th (encryption). We read all
 * three shapes and write 4, which every version reads.
 *
 * The file grows with the archive, so it is streamed line by line through
 * a fixed buffer, never loaded whole. Every read and write happens under
 * the blocking .<server>-xlogdb.lock, as Barman does, so that a Barman
 * process and a barrel process never see each other's half-written lines.
 */
#include "barrel/build.h"
#include "barrel/catalog.h"
#include "barrel/fault.h"

#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/fmt.h"
#include "barrel/fs.h"
#include "barrel/mem.h"
#include "barrel/strbuf.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <unistd.h>

/* Longest line accepted: a WAL name, a size, a time and two short words fit many times over. */
#define XLOGDB_LINE_MAX 1024
/* How much of a bad line goes into the error message. */
#define XLOGDB_QUOTE_MAX 120

static char *
xlogdb_wals_dir(const struct server_config *srv)
{
    if (srv->wals_directory != NULL)
        return br_strdup(srv->wals_directory);
    return path_join(srv->backup_directory, "wals");
}

char *
xlogdb_path(const struct server_config *srv)
{
    char *wals = xlogdb_wals_dir(srv);
    char *path = path_join(wals, "xlog.db");

    /* Barman >= 3.13 renames it <server>-xlog.db (and deletes xlog.db): follow it when it is all there is */
    if (!path_exists(path) && srv->name != NULL) {
        char *name = br_asprintf("%s-xlog.db", srv->name);
        char *newer = path_join(wals, name);

        free(name);
        if (path_exists(newer)) {
            free(path);
            path = newer;
        } else {
            free(newer);
        }
    }
    free(wals);
    return path;
}

int
xlogdb_parse_line(const char *line, struct xlogdb_entry *out)
{
    /* split on any whitespace, as Python's str.split() */
    const char *field[6];
    size_t flen[6];
    int nf = 0;
    const char *p = line;
    char num[32];
    char *end;

    while (*p != '\0') {
        while (*p != '\0' && isspace((unsigned char) *p))
            p++;
        if (*p == '\0')
            break;
        if (nf == 6)
            return -1;
        field[nf] = p;
        while (*p != '\0' && !isspace((unsigned char) *p))
            p++;
        flen[nf] = (size_t) (p - field[nf]);
        nf++;
    }
    if (nf < 3 || nf > 5)
        return -1;
    if (flen[0] >= sizeof(out->name) || flen[1] >= sizeof(num) || flen[2] >= sizeof(num))
        return -1;
    if (nf >= 4 && flen[3] >= sizeof(out->compression))
        return -1;

    memset(out, 0, sizeof(*out));
    memcpy(out->name, field[0], flen[0]);

    memcpy(num, field[1], flen[1]);
    num[flen[1]] = '\0';
    errno = 0;
    out->size = strtoll(num, &end, 10);
    if (end == num || *end != '\0' || errno == ERANGE)
        return -1;

    memcpy(num, field[2], flen[2]);
    num[flen[2]] = '\0';
    out->time = strtod(num, &end);
    if (end == num || *end != '\0')
        return -1;

    if (nf >= 4)
        memcpy(out->compression, field[3], flen[3]);
    else
        memcpy(out->compression, "None", 5);
    /* the 5th field (encryption, Barman >= 3.14) is not kept: barrel refuses encrypted WALs when it reads them */
    return 0;
}

void
xlogdb_format_line(const struct xlogdb_entry *entry, struct strbuf *out)
{
    char time_text[64];

    fmt_py_float(entry->time, time_text, sizeof(time_text));
    strbuf_appendf(out, "%s\t%" PRId64 "\t%s\t%s\n", entry->name, entry->size, time_text,
                   entry->compression[0] != '\0' ? entry->compression : "None");
}

/* Quote a bad line for a message, shortened and without its newline. */
static void
xlogdb_quote(const char *line, char *buf, size_t len)
{
    size_t n = strcspn(line, "\r\n");

    if (n > XLOGDB_QUOTE_MAX)
        snprintf(buf, len, "%.*s...", XLOGDB_QUOTE_MAX, line);
    else
        snprintf(buf, len, "%.*s", (int) n, line);
}

static int
xlogdb_read(const char *path, xlogdb_cb cb, void *arg, struct br_error *err)
{
    FILE *fp = fopen(path, "re");
    char line[XLOGDB_LINE_MAX];
    size_t lineno = 0;
    int rc = 0;

    if (fp == NULL) {
        if (errno == ENOENT)
            return 0;
        return br_error_sys(err, BR_E_IO, "could not open file \"%s\"", path);
    }
    while (fgets(line, sizeof(line), fp) != NULL) {
        size_t len = strlen(line);
        struct xlogdb_entry entry;
        const char *s = line;

        lineno++;
        if (len == sizeof(line) - 1 && line[len - 1] != '\n' && !feof(fp)) {
            rc = br_error_set(err, BR_E_FORMAT, "line %zu of file \"%s\" is too long", lineno, path);
            break;
        }
        while (*s != '\0' && isspace((unsigned char) *s))
            s++;
        if (*s == '\0')
            continue;   /* blank lines carry nothing; Barman would choke on them, we skip them */
        if (xlogdb_parse_line(line, &entry) < 0) {
            char quoted[XLOGDB_QUOTE_MAX + 8];

            xlogdb_quote(line, quoted, sizeof(quoted));
            rc = br_error_set(err, BR_E_FORMAT, "cannot parse line %zu of file \"%s\": '%s'", lineno, path, quoted);
            break;
        }
        rc = cb(&entry, arg);
        if (rc != 0)
            break;
    }
    if (rc == 0 && ferror(fp))
        rc = br_error_sys(err, BR_E_IO, "could not read file \"%s\"", path);
    fclose(fp);
    return rc;
}

int
xlogdb_foreach(const struct server_config *srv, const char *lock_dir, xlogdb_cb cb, void *arg,
               struct br_error *err)
{
    struct catalog_lock *lock = NULL;
    char *path;
    int rc;

    if (lock_dir != NULL) {
        lock = catalog_lock_acquire(lock_dir, srv->name, "xlogdb", 1, err);
        if (lock == NULL)
            return -1;
    }
    path = xlogdb_path(srv);
    rc = xlogdb_read(path, cb, arg, err);
    free(path);
    catalog_lock_release(lock);
    return rc;
}

int
xlogdb_append(const struct server_config *srv, const char *lock_dir, const struct xlogdb_entry *entries,
              size_t n, struct br_error *err)
{
    struct catalog_lock *lock = NULL;
    struct strbuf sb;
    char *path = NULL, *wals = NULL;
    int fd = -1, created, rc = -1;
    size_t i, done = 0;
    struct stat st;

    strbuf_init(&sb);
    for (i = 0; i < n; i++)
        xlogdb_format_line(&entries[i], &sb);

    if (lock_dir != NULL) {
        lock = catalog_lock_acquire(lock_dir, srv->name, "xlogdb", 1, err);
        if (lock == NULL)
            goto out;
    }
    wals = xlogdb_wals_dir(srv);
    if (fs_mkdir_p(wals, 0700, err) < 0)
        goto out;
    path = xlogdb_path(srv);
    created = !path_exists(path);
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        br_error_sys(err, BR_E_IO, "could not open file \"%s\"", path);
        goto out;
    }
    /* where the lines start: a failed append is cut back to it */
    if (fstat(fd, &st) != 0) {
        br_error_sys(err, BR_E_IO, "could not stat file \"%s\"", path);
        goto out;
    }
    while (done < sb.len) {
        fault_point("xlogdb.append.write");
        ssize_t w = write(fd, sb.buf + done, sb.len - done);

        if (w < 0) {
            if (errno == EINTR)
                continue;
            br_error_sys(err, BR_E_IO, "could not write file \"%s\"", path);
            goto out;
        }
        done += (size_t) w;
    }
    fault_point("xlogdb.append.fsync");
    if (fsync(fd) != 0) {
        br_error_sys(err, BR_E_IO, "could not fsync file \"%s\"", path);
        goto out;
    }
    if (created && fs_fsync_parent(path, err) < 0)
        goto out;
    rc = 0;
out:
    /*
     * A write that failed part way (ENOSPC once the last page is full)
     * leaves a torn line, which every later line would be glued to and
     * which makes Barman refuse the whole file: cut the file back to its
     * last whole line. Shrinking needs no space.
     */
    if (rc != 0 && fd >= 0 && done > 0 && ftruncate(fd, st.st_size) == 0)
        (void) fsync(fd);
    if (fd >= 0)
        close(fd);
    catalog_lock_release(lock);
    free(path);
    free(wals);
    strbuf_free(&sb);
    return rc;
}

/* ---- rewrite ---- */

struct xlogdb_writer {
    FILE *fp;
    const char *tmp_path;
    struct strbuf line;
};

int
xlogdb_writer_add(struct xlogdb_writer *w, const struct xlogdb_entry *entry, struct br_error *err)
{
    strbuf_reset(&w->line);
    xlogdb_format_line(entry, &w->line);
    if (fwrite(w->line.buf, 1, w->line.len, w->fp) != w->line.len)
        return br_error_sys(err, BR_E_IO, "could not write file \"%s\"", w->tmp_path);
    return 0;
}

int
xlogdb_rewrite(const struct server_config *srv, const char *lock_dir, xlogdb_fill_fn fill, void *arg,
               struct br_error *err)
{
    struct catalog_lock *lock = NULL;
    struct xlogdb_writer w = {0};
    char *wals = NULL, *path = NULL, *tmp = NULL;
    int rc = -1;

    strbuf_init(&w.line);
    if (lock_dir != NULL) {
        lock = catalog_lock_acquire(lock_dir, srv->name, "xlogdb", 1, err);
        if (lock == NULL)
            goto out;
    }
    wals = xlogdb_wals_dir(srv);
    if (fs_mkdir_p(wals, 0700, err) < 0)
        goto out;
    path = xlogdb_path(srv);
    tmp = br_asprintf("%s.tmp", path);
    w.tmp_path = tmp;
    w.fp = fs_fopen_private(tmp);
    if (w.fp == NULL) {
        br_error_sys(err, BR_E_IO, "could not create file \"%s\"", tmp);
        goto out;
    }
    if (fill(&w, arg, err) != 0)
        goto out;
    fault_point("xlogdb.rewrite.fsync");
    if (fflush(w.fp) != 0 || fsync(fileno(w.fp)) != 0) {
        br_error_sys(err, BR_E_IO, "could not fsync file \"%s\"", tmp);
        goto out;
    }
    if (fclose(w.fp) != 0) {
        w.fp = NULL;
        br_error_sys(err, BR_E_IO, "could not close file \"%s\"", tmp);
        goto out;
    }
    w.fp = NULL;
    fault_point("xlogdb.rewrite.rename");
    if (rename(tmp, path) != 0) {
        br_error_sys(err, BR_E_IO, "could not rename \"%s\" to \"%s\"", tmp, path);
        goto out;
    }
    if (fs_fsync_parent(path, err) < 0)
        goto out;
    rc = 0;
out:
    if (w.fp != NULL)
        fclose(w.fp);
    if (rc != 0 && tmp != NULL)
        unlink(tmp);
    catalog_lock_release(lock);
    strbuf_free(&w.line);
    free(tmp);
    free(path);
    free(wals);
    return rc;
}
