/* Internal to tlsrelayd: the supervisor's pieces. */
#ifndef TLSRELAY_DAEMON_H
#define TLSRELAY_DAEMON_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "tlsrelay/log.h"
#include "tlsrelay/smtpd.h"
#include "tlsrelay/smtpd_policy.h"

struct built_service;
struct conf;
struct master_service;
struct tls_client;

/* listen.c: the bound sockets, kept across reloads so that a SIGHUP does
 * not need to bind again (we may no longer be able to). Each belongs to
 * the children of one kind, and a child keeps only its kind's. */
enum listen_role {
	LISTEN_NONE,		/* the queue manager: no listener at all */
	LISTEN_SMTPD,		/* the inet services of master.cf */
	LISTEN_STATUS,		/* tlsrelay_metrics_listen, _health_listen */
};

/* Binds (or reuses) the sockets of one inet service. Appends the fds to
 * *fds. Returns 0, or -1 with *err set. */
int listen_service(const struct conf *conf,
    const struct master_service *service, int **fds, size_t *n_fds,
    char **err);
/* Binds (or reuses) the status socket of a parameter whose value is
 * host:port or [ipv6]:port (tlsrelay_metrics_listen). Appends the fds to
 * *fds. */
int listen_address(const struct conf *conf, const char *param,
    const char *value, int **fds, size_t *n_fds, char **err);
/* Before building a generation / after: close sockets no one uses. */
void listen_mark_unused(void);
void listen_close_unused(void);
/* The generation could not be built: the sockets bound for it are
 * closed, the running one's are left as they were. */
void listen_undo(void);
void listen_close_all(void);
/* In a child, right after fork(): every socket of another role closed. */
void listen_keep_only(enum listen_role role);

/* privileges.c (struct run_user and its lookup: tlsrelay/setup.h) */
struct run_user;
/* In a child, for good: supplementary groups, gid, uid. */
void run_user_drop(const struct run_user *user);
/* kill(2) that also reaches children running as the user, without
 * CAP_KILL. 0, or -1 with errno. */
int run_user_kill(const struct run_user *user, pid_t pid, int sig);

/* throttle.c: the pause before a child that ended by itself is started
 * again (Postfix's service_throttle_time), one per service. */
struct throttle {
	const char *service;	/* "smtpd", "qmgr": for the log */
	long long max_pause;	/* service_throttle_time, seconds */
	long long pause;	/* the last pause; 0: none */
	time_t until;		/* no start before */
};

/* At start-up and on reload: no pause pending. */
void throttle_reset(struct throttle *t, const char *service,
    long long max_pause);
/* A child of the service that started at started ended without being
 * asked to: sets the time the next one may start, with a log line when
 * that means a pause. */
void throttle_child_ended(struct throttle *t, time_t started, time_t now);
/* fork() failed: try again in a second. */
void throttle_fork_failed(struct throttle *t, time_t now);
/* 1 when a child of the service may be started now. */
int throttle_ready(const struct throttle *t, time_t now);

/* generation.c: everything built from one reading of the configuration. */
struct generation {
	struct conf *conf;
	struct built_service *services;	/* config_build's, owned here */
	size_t n_services;
	struct smtpd_listener *listeners;	/* one per bound socket */
	size_t n_listeners;
	int n_workers;
	int run_qmgr;			/* master.cf has a qmgr service */
	int *metrics_fds;		/* tlsrelay_metrics_listen */
	size_t n_metrics;
	int *health_fds;		/* tlsrelay_health_listen */
	size_t n_health;
	struct tls_client *client_tls;	/* the qmgr's, read as root */
	int live_workers;		/* processes still running */
	struct generation *next;	/* retired generations */
};

/* NULL with *err: every problem found, one per line. */
struct generation *generation_new(const char *confdir, char **err);
void generation_free(struct generation *gen);
/* "using N session ticket keys from FILE", once per key file, when the
 * log is open. */
void generation_log_ticket_keys(const struct generation *gen);
/* In a child that serves no TLS (the status process): the servers'
 * keys go. */
void generation_forget_server_keys(struct generation *gen);
/* Into the log (open by then): a status socket off loopback. */
void generation_warn_status(const struct generation *gen);

/* sd_notify.c: a notice to systemd ("READY=1", "STATUS=..."), when it
 * started us with $NOTIFY_SOCKET; otherwise nothing. */
void sd_notifyf(const char *fmt, ...) PRINTFLIKE(1, 2);

/* cert_watch.c: the TLS files (certificates, keys, chains, CAs, DH) the
 * generation's configuration names, remembered as they are on disk. */
void cert_watch_reset(const struct generation *gen);
/* The files changed since (caller frees), or NULL. */
char *cert_watch_changed(void);
/* Into the metrics: the notAfter of each certificate file in service,
 * and now as the time of the last (re)load. */
struct stats;
void cert_watch_publish(const struct generation *gen, struct stats *stats);

/* supervisor.c */
int supervisor_run(const char *confdir, int foreground);

#endif
