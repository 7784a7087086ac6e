/*
 * fuzz_putwal.c: put-wal's tar stream reader (src/wal/putwal.c), the server
 * side of barman-wal-archive: the input is the stream a client would send on
 * standard input. Files it accepts land in a scratch incoming/ directory
 * (under $TMPDIR), emptied after each input.
 */
#include "barrel/build.h"

#include <dirent.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "barrel/config.h"
#include "barrel/error.h"
#include "barrel/fs.h"
#include "barrel/mem.h"
#include "barrel/putwal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct barrel_config *cfg;
static const struct server_config *srv;

static void
setup(void)
{
    const char *tmp = getenv("TMPDIR");
    char *home = br_asprintf("%s/barrel-fuzz-putwal-XXXXXX", tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    char *text;
    struct br_error err;

    if (mkdtemp(home) == NULL)
        abort();
    text = br_asprintf("[barman]\nbarman_home = %s\n\n[pg]\nconninfo = host=127.0.0.1 port=1 dbname=postgres\n"
                       "backup_method = postgres\narchiver = on\n", home);
    br_error_clear(&err);
    cfg = config_load_string(text, "fuzz.conf", &err);
    if (cfg == NULL || (srv = config_find_server(cfg, "pg")) == NULL)
        abort();
    free(text);
    free(home);
}

static void
empty_incoming(void)
{
    DIR *d = opendir(srv->incoming_wals_directory);
    struct dirent *de;

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char *path = path_join(srv->incoming_wals_directory, de->d_name);
        unlink(path);
        free(path);
    }
    closedir(d);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct br_error err;
    int fd;

    if (cfg == NULL)
        setup();
    fd = memfd_create("putwal-input", MFD_CLOEXEC);
    if (fd < 0 || (size > 0 && write(fd, data, size) != (ssize_t) size) || lseek(fd, 0, SEEK_SET) != 0)
        abort();
    br_error_clear(&err);
    (void) putwal_run(srv, fd, &err);
    close(fd);
    empty_incoming();
    return 0;
}
