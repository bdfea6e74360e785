/* Internal to tlsrelayd: the supervisor's pieces. */
#ifndef TLSRELAY_DAEMON_H
#define TLSRELAY_DAEMON_H

#include <stddef.h>
#include <sys/types.h>

#include "tlsrelay/smtpd.h"

struct conf;
struct master_service;
struct tls_client;

/* listen.c: the bound sockets, kept across reloads so that a SIGHUP does
 * not need to bind again (we may no longer be able to). */
struct bound_socket {
	char *key;		/* "addr|port", numeric */
	int fd;
	int used;		/* by the current generation */
};

/* Binds (or reuses) the sockets of one inet service. Appends the fds to
 * *fds. Returns 0, or -1 with *err set. */
int listen_service(const struct conf *conf,
    const struct master_service *service, int **fds, size_t *n_fds,
    char **err);
/* Before building a generation / after: close sockets no one uses. */
void listen_mark_unused(void);
void listen_close_unused(void);
void listen_close_all(void);

/* privileges.c */
struct run_user {
	int drop;		/* started as root: drop in children */
	uid_t uid;
	gid_t gid;
	char *name;
};
int run_user_lookup(const struct conf *conf, struct run_user *user,
    char **err);
/* In a child, for good: supplementary groups, gid, uid. */
void run_user_drop(const struct run_user *user);

/* generation.c: everything built from one reading of the configuration. */
struct service {
	struct conf *conf;		/* main.cf with the -o overrides */
	struct smtpd_policy *policy;
	void *ssl_ctx;			/* SSL_CTX * or NULL */
};

struct generation {
	struct conf *conf;
	struct service *services;
	size_t n_services;
	struct smtpd_listener *listeners;	/* one per bound socket */
	size_t n_listeners;
	int n_workers;
	int run_qmgr;			/* master.cf has a qmgr service */
	struct tls_client *client_tls;	/* the qmgr's, read as root */
	int live_workers;		/* processes still running */
	struct generation *next;	/* retired generations */
};

struct generation *generation_new(const char *confdir, char **err);
void generation_free(struct generation *gen);

/* supervisor.c */
int supervisor_run(const char *confdir, int foreground);

#endif
