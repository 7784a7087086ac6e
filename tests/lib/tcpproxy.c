/*
 * tcpproxy.c: the loopback TCP proxy of the network-fault tests (see
 * tcpproxy.h).
 *
 * One thread, one poll() loop. Each connection is a pair of non-blocking
 * sockets with one fixed buffer per direction: a side is polled for input
 * only while its buffer is empty, the other side for output while it is
 * not, so a slow reader slows the writer down as TCP would. An end of file
 * or an error on either side closes the pair once what was read has been
 * passed on. The test thread talks to the loop through a mutex and a pipe
 * that wakes poll(); h_proxy_cut() waits until the loop has cut.
 */
#include "barrel/build.h"
#include "tcpproxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "barrel/mem.h"

#define PROXY_MAX_CONNS 32
#define PROXY_BUF_BYTES (64 * 1024)

struct pipe_dir {                  /* one direction of a connection */
    char buf[PROXY_BUF_BYTES];
    size_t len, off;
    int eof;                       /* the source side ended */
};

struct conn {
    int client, server;            /* -1 when the slot is free */
    struct pipe_dir up;            /* client -> server */
    struct pipe_dir down;          /* server -> client */
};

struct h_proxy {
    int listen_fd;
    int port, upstream_port;
    int wake[2];
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    /* shared with the test thread, under mu */
    int quit;
    long cut_requests, cuts_done;  /* h_proxy_cut(): requested / handled */
    long long bytes_down;
    long long cut_at;              /* cut once bytes_down reaches it; -1: no */
    long long pause_at;            /* pause once bytes_down reaches it; -1: no */
    int paused;
    int cuts;
    int open;
    /* the loop's own */
    struct conn conns[PROXY_MAX_CONNS];
};

static void
set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl >= 0)
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Close with a reset: the peer gets ECONNRESET, not a polite end of file. */
static void
close_reset(int fd)
{
    struct linger lg = {1, 0};

    if (fd < 0)
        return;
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(fd);
}

static void
conn_close(struct h_proxy *p, struct conn *c, int reset)
{
    if (c->client < 0)
        return;
    if (reset) {
        close_reset(c->client);
        close_reset(c->server);
    } else {
        close(c->client);
        close(c->server);
    }
    c->client = c->server = -1;
    pthread_mutex_lock(&p->mu);
    p->open--;
    pthread_mutex_unlock(&p->mu);
}

static int
cut_all(struct h_proxy *p)
{
    int n = 0;

    for (int i = 0; i < PROXY_MAX_CONNS; i++)
        n += p->conns[i].client >= 0;
    /* counted before the resets: a client that sees one and exits at once must find the cut counted */
    pthread_mutex_lock(&p->mu);
    p->cuts += n;
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < PROXY_MAX_CONNS; i++)
        conn_close(p, &p->conns[i], 1);
    return n;
}

static int
connect_upstream(int port)
{
    struct sockaddr_in sa;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons((uint16_t) port);
    /* blocking connect on loopback: refused or accepted at once */
    if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    set_nonblock(fd);
    return fd;
}

static void
accept_one(struct h_proxy *p)
{
    int cfd = accept4(p->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), sfd;
    struct conn *c = NULL;

    if (cfd < 0)
        return;
    for (int i = 0; i < PROXY_MAX_CONNS && c == NULL; i++)
        if (p->conns[i].client < 0)
            c = &p->conns[i];
    /* the server down (or no slot): the client sees a closed connection, as without a proxy */
    if (c == NULL || (sfd = connect_upstream(p->upstream_port)) < 0) {
        close_reset(cfd);
        return;
    }
    c->client = cfd;
    c->server = sfd;
    c->up.len = c->up.off = 0;
    c->down.len = c->down.off = 0;
    c->up.eof = c->down.eof = 0;
    pthread_mutex_lock(&p->mu);
    p->open++;
    pthread_mutex_unlock(&p->mu);
}

/* Read what the source side has (the buffer is empty); 0 ok, -1 closed or failed. */
static int
fill(int fd, struct pipe_dir *d, size_t max)
{
    ssize_t n = read(fd, d->buf, max < sizeof(d->buf) ? max : sizeof(d->buf));

    if (n > 0) {
        d->len = (size_t) n;
        d->off = 0;
        return 0;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    d->eof = 1;
    return -1;
}

static int
drain(int fd, struct pipe_dir *d)
{
    ssize_t n = write(fd, d->buf + d->off, d->len - d->off);

    if (n > 0) {
        d->off += (size_t) n;
        if (d->off == d->len)
            d->len = d->off = 0;
        return 0;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    return -1;
}

static void *
proxy_loop(void *arg)
{
    struct h_proxy *p = arg;
    struct pollfd pfd[2 + 2 * PROXY_MAX_CONNS];

    for (;;) {
        int nfd = 0, idx[PROXY_MAX_CONNS][2];
        int paused;
        long long room;              /* server-to-client bytes allowed before the next trigger */

        pthread_mutex_lock(&p->mu);
        if (p->quit) {
            pthread_mutex_unlock(&p->mu);
            break;
        }
        if (p->cut_requests > p->cuts_done) {
            pthread_mutex_unlock(&p->mu);
            cut_all(p);
            pthread_mutex_lock(&p->mu);
            p->cuts_done = p->cut_requests;
            pthread_cond_broadcast(&p->cond);
        }
        if (p->cut_at >= 0 && p->bytes_down >= p->cut_at) {
            p->cut_at = -1;
            pthread_mutex_unlock(&p->mu);
            cut_all(p);
            pthread_mutex_lock(&p->mu);
        }
        if (p->pause_at >= 0 && p->bytes_down >= p->pause_at) {
            p->pause_at = -1;
            p->paused = 1;
        }
        paused = p->paused;
        room = PROXY_BUF_BYTES;
        if (p->cut_at >= 0 && p->cut_at - p->bytes_down < room)
            room = p->cut_at - p->bytes_down;
        if (p->pause_at >= 0 && p->pause_at - p->bytes_down < room)
            room = p->pause_at - p->bytes_down;
        pthread_mutex_unlock(&p->mu);

        pfd[nfd].fd = p->wake[0];
        pfd[nfd++].events = POLLIN;
        pfd[nfd].fd = p->listen_fd;
        pfd[nfd++].events = POLLIN;
        for (int i = 0; i < PROXY_MAX_CONNS; i++) {
            struct conn *c = &p->conns[i];

            idx[i][0] = idx[i][1] = -1;
            if (c->client < 0)
                continue;
            idx[i][0] = nfd;
            pfd[nfd].fd = c->client;
            pfd[nfd].events = (short) ((c->up.len == 0 && !c->up.eof ? POLLIN : 0) | (c->down.len > 0 ? POLLOUT : 0));
            nfd++;
            idx[i][1] = nfd;
            pfd[nfd].fd = c->server;
            pfd[nfd].events = (short) ((c->down.len == 0 && !c->down.eof && !paused ? POLLIN : 0)
                                       | (c->up.len > 0 ? POLLOUT : 0));
            nfd++;
        }
        if (poll(pfd, (nfds_t) nfd, 1000) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pfd[0].revents & POLLIN) {
            char b[64];
            ssize_t n BR_UNUSED = read(p->wake[0], b, sizeof(b));
        }
        if (pfd[1].revents & POLLIN)
            accept_one(p);
        for (int i = 0; i < PROXY_MAX_CONNS; i++) {
            struct conn *c = &p->conns[i];
            short rc, rs;
            int bad = 0;

            if (idx[i][0] < 0 || c->client < 0)
                continue;
            rc = pfd[idx[i][0]].revents;
            rs = pfd[idx[i][1]].revents;
            if ((rc & (POLLIN | POLLHUP | POLLERR)) && c->up.len == 0 && !c->up.eof)
                bad |= fill(c->client, &c->up, sizeof(c->up.buf)) != 0;
            if ((rs & (POLLIN | POLLHUP | POLLERR)) && c->down.len == 0 && !c->down.eof && !paused && room > 0) {
                bad |= fill(c->server, &c->down, (size_t) room) != 0;
                pthread_mutex_lock(&p->mu);
                p->bytes_down += (long long) c->down.len;
                pthread_mutex_unlock(&p->mu);
            }
            if (c->up.len > 0 && drain(c->server, &c->up) != 0)
                bad = 1;
            if (c->down.len > 0 && drain(c->client, &c->down) != 0)
                bad = 1;
            /* one side ended or failed: pass on what is left, then close both */
            if (bad || c->up.eof || c->down.eof) {
                for (int tries = 0; c->down.len > 0 && tries < 20; tries++) {
                    struct pollfd out = {c->client, POLLOUT, 0};

                    if (poll(&out, 1, 100) < 0 || drain(c->client, &c->down) != 0)
                        break;
                }
                conn_close(p, c, 0);
            }
        }
    }
    for (int i = 0; i < PROXY_MAX_CONNS; i++)
        conn_close(p, &p->conns[i], 1);
    return NULL;
}

static void
wake(struct h_proxy *p)
{
    ssize_t n BR_UNUSED = write(p->wake[1], "x", 1);
}

struct h_proxy *
h_proxy_start(int upstream_port)
{
    struct h_proxy *p = br_calloc(1, sizeof(*p));
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int one = 1;

    p->upstream_port = upstream_port;
    p->cut_at = p->pause_at = -1;
    for (int i = 0; i < PROXY_MAX_CONNS; i++)
        p->conns[i].client = p->conns[i].server = -1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(p->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (p->listen_fd < 0 || bind(p->listen_fd, (struct sockaddr *) &sa, sizeof(sa)) != 0
        || listen(p->listen_fd, 16) != 0 || getsockname(p->listen_fd, (struct sockaddr *) &sa, &len) != 0
        || pipe2(p->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        fprintf(stderr, "tcpproxy: cannot listen on loopback: %s\n", strerror(errno));
        if (p->listen_fd >= 0)
            close(p->listen_fd);
        free(p);
        return NULL;
    }
    p->port = ntohs(sa.sin_port);
    if (pthread_create(&p->thread, NULL, proxy_loop, p) != 0) {
        fprintf(stderr, "tcpproxy: cannot start its thread\n");
        close(p->listen_fd);
        close(p->wake[0]);
        close(p->wake[1]);
        free(p);
        return NULL;
    }
    return p;
}

int
h_proxy_port(const struct h_proxy *p)
{
    return p->port;
}

int
h_proxy_cut(struct h_proxy *p)
{
    int before, after;
    long want;

    pthread_mutex_lock(&p->mu);
    before = p->cuts;
    want = ++p->cut_requests;
    pthread_mutex_unlock(&p->mu);
    wake(p);
    pthread_mutex_lock(&p->mu);
    while (p->cuts_done < want)
        pthread_cond_wait(&p->cond, &p->mu);
    after = p->cuts;
    pthread_mutex_unlock(&p->mu);
    return after - before;
}

void
h_proxy_cut_after(struct h_proxy *p, long long bytes)
{
    pthread_mutex_lock(&p->mu);
    p->cut_at = p->bytes_down + bytes;
    pthread_mutex_unlock(&p->mu);
    wake(p);
}

void
h_proxy_pause_after(struct h_proxy *p, long long bytes)
{
    pthread_mutex_lock(&p->mu);
    p->pause_at = p->bytes_down + bytes;
    pthread_mutex_unlock(&p->mu);
    wake(p);
}

void
h_proxy_resume(struct h_proxy *p)
{
    pthread_mutex_lock(&p->mu);
    p->paused = 0;
    p->pause_at = -1;
    pthread_mutex_unlock(&p->mu);
    wake(p);
}

#define LOCKED_GET(p, field)                  \
    do {                                      \
        __typeof__((p)->field) v_;            \
        pthread_mutex_lock(&(p)->mu);         \
        v_ = (p)->field;                      \
        pthread_mutex_unlock(&(p)->mu);       \
        return v_;                            \
    } while (0)

int
h_proxy_paused(struct h_proxy *p)
{
    LOCKED_GET(p, paused);
}

long long
h_proxy_bytes(struct h_proxy *p)
{
    LOCKED_GET(p, bytes_down);
}

int
h_proxy_cuts(struct h_proxy *p)
{
    LOCKED_GET(p, cuts);
}

int
h_proxy_open(struct h_proxy *p)
{
    LOCKED_GET(p, open);
}

void
h_proxy_stop(struct h_proxy *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_mutex_unlock(&p->mu);
    wake(p);
    pthread_join(p->thread, NULL);
    close(p->listen_fd);
    close(p->wake[0]);
    close(p->wake[1]);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cond);
    free(p);
}
