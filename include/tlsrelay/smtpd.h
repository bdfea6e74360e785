/* smtpd: the inbound SMTP server as the daemon runs it: one worker
 * process per core, each with the listeners of one generation. Its parts
 * have their own headers: smtpd_parse.h (what a client sends),
 * smtpd_policy.h, sasl.h (SMTP AUTH), anvil.h (connection counts). */
#ifndef TLSRELAY_SMTPD_H
#define TLSRELAY_SMTPD_H

#include <stddef.h>

struct anvil;
struct conf;
struct smtpd_policy;

/* ---- the worker (src/smtpd/smtpd_worker.c) ---- */

/* One inet service of master.cf: its listening socket, its conf (with -o
 * overrides) and its TLS context. */
struct smtpd_listener {
	int fd;
	char *name;		/* service name, for logging */
	struct conf *conf;	/* owned by the generation */
	struct ssl_ctx_st *ssl_ctx;	/* NULL when TLS is off */
	struct smtpd_policy *policy;	/* owned by the generation */
};

/* Runs the event loop of one worker until SIGTERM and the last session has
 * ended. Returns the exit status for the process. */
int smtpd_worker_run(struct smtpd_listener *listeners, size_t n_listeners,
    struct anvil *anvil, int worker_index);

#endif
