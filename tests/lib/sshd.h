/*
 * sshd.h: a throwaway OpenSSH server on a loopback port, for the remote
 * (SSH/SFTP) tests.
 *
 * h_sshd_start() makes a temporary directory holding everything: an
 * ed25519 host key, an sshd_config (127.0.0.1 only, a free port, public
 * keys only: PasswordAuthentication no, UsePAM no, StrictModes no,
 * internal-sftp, its own PidFile), a client home (home/.ssh/id_ed25519,
 * known_hosts with the "[127.0.0.1]:PORT" entry) and the authorized_keys
 * listing the client key. Tests point HOME at `home` so that barrel finds
 * that .ssh. sshd runs in the foreground (-D) as a child of the test, with
 * PR_SET_PDEATHSIG, and is stopped and its directory removed by
 * h_sshd_destroy, at exit and on SIGINT/SIGTERM/SIGABRT/SIGHUP.
 *
 * As root, sshd runs as root (with /run/sshd created) and logins are as
 * `login_user`; h_sshd_start_as() runs sshd as another user instead (it can
 * then only log that user in), which is how a test gets files owned by the
 * PostgreSQL user. As an ordinary user, sshd runs as that user.
 */
#ifndef BARREL_TEST_SSHD_H
#define BARREL_TEST_SSHD_H

#include "barrel/build.h"
#include <sys/types.h>

struct h_sshd {
    char *dir;           /* everything lives under it */
    char *home;          /* HOME for the client: home/.ssh/{id_ed25519,known_hosts} */
    char *client_key;    /* home/.ssh/id_ed25519 */
    char *known_hosts;   /* home/.ssh/known_hosts */
    char *host_key;      /* dir/ssh_host_ed25519_key */
    char *config;        /* dir/sshd_config */
    char *log;           /* dir/sshd.log */
    char *user;          /* the user tests log in as */
    char *run_as;        /* the user sshd runs as (NULL: the current user) */
    char *overrides;     /* sshd_config lines before the harness's own (h_sshd_reconfigure) */
    int port;
    pid_t pid;           /* 0 when stopped */
};

/* 1 when /usr/sbin/sshd and ssh-keygen are installed. */
int h_sshd_available(void);
/* Start a server for logins as the current user; NULL (and a message on stderr) on failure. */
struct h_sshd *h_sshd_start(void);
/* Start a server that runs as `user` (root only; else as h_sshd_start) and logs that user in. */
struct h_sshd *h_sshd_start_as(const char *user);
/* Replace the host key with a new one and restart on the same port; known_hosts keeps the old key. */
int h_sshd_change_host_key(struct h_sshd *d);
/*
 * Restart on the same port with these sshd_config lines ahead of the
 * harness's own (sshd takes the first value of a keyword, so they win);
 * NULL goes back to the harness's configuration.
 */
int h_sshd_reconfigure(struct h_sshd *d, const char *overrides);
int h_sshd_stop(struct h_sshd *d);
void h_sshd_destroy(struct h_sshd *d);   /* stop and remove everything; NULL is a no-op */
/* "ssh -p PORT USER@127.0.0.1", new string. */
char *h_sshd_command(const struct h_sshd *d);
/* Set HOME to d->home and unset SSH_AUTH_SOCK in this process (returns the old HOME, new string or NULL). */
char *h_sshd_use_home(const struct h_sshd *d);

#endif /* BARREL_TEST_SSHD_H */
