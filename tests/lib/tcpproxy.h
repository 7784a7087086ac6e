/*
 * tcpproxy.h: a TCP proxy on loopback that the network-fault tests put
 * between barrel and PostgreSQL, and tell to cut connections.
 *
 * A thread of the test process listens on a free 127.0.0.1 port and
 * forwards each connection to 127.0.0.1:<upstream port>, both ways, through
 * fixed buffers (non-blocking sockets, one poll() loop). A cut closes both
 * sides of every open connection with a reset (SO_LINGER 0), as a firewall
 * or a crashed middlebox would; new connections are accepted afterwards.
 * Nothing is ever exposed beyond loopback.
 */
#ifndef BARREL_TEST_TCPPROXY_H
#define BARREL_TEST_TCPPROXY_H

#include "barrel/build.h"

struct h_proxy;

/* Listen on a free loopback port and forward to upstream_port; NULL (and a message) on failure. */
struct h_proxy *h_proxy_start(int upstream_port);
int  h_proxy_port(const struct h_proxy *p);
/* Cut every open connection now; returns how many were cut (the loop has done it when this returns). */
int  h_proxy_cut(struct h_proxy *p);
/* Cut every open connection once `bytes` more have gone from the server to the clients. */
void h_proxy_cut_after(struct h_proxy *p, long long bytes);
/*
 * Stop forwarding server-to-client bytes once `bytes` more have gone that
 * way (0: now); h_proxy_resume() forwards again. The server's writes then
 * block: a stream frozen in the middle, for as long as the test needs.
 */
void h_proxy_pause_after(struct h_proxy *p, long long bytes);
void h_proxy_resume(struct h_proxy *p);
int  h_proxy_paused(struct h_proxy *p);        /* 1 once a pause has taken effect */
long long h_proxy_bytes(struct h_proxy *p);    /* server-to-client bytes forwarded so far */
int  h_proxy_cuts(struct h_proxy *p);          /* connections cut so far (by h_proxy_cut or a trigger) */
int  h_proxy_open(struct h_proxy *p);          /* connections open now */
/* Stop the thread, close everything, free; NULL is a no-op. */
void h_proxy_stop(struct h_proxy *p);

#endif /* BARREL_TEST_TCPPROXY_H */
