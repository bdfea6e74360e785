/* config_build: what one reading of the configuration turns into before
 * anything listens or delivers, and so the one place that decides whether
 * tlsrelayd would start with it: per smtpd service its view of the
 * parameters, its policy and its TLS context; for the queue manager its
 * checks and the client's keys. tlsrelayd keeps what is built (it reads
 * every private key here, as root); tlsrelay conf and tlsrelay check
 * build the same and only report. Every problem is reported, not only
 * the first, so that a bad file takes one round to fix. */
#ifndef TLSRELAY_CONFIG_BUILD_H
#define TLSRELAY_CONFIG_BUILD_H

#include <stddef.h>

struct conf;
struct master_service;
struct smtpd_policy;
struct ssl_ctx_st;
struct tls_client;

struct built_service {
	const struct master_service *svc;
	struct conf *conf;		/* main.cf with the -o overrides */
	struct smtpd_policy *policy;	/* NULL when refused */
	struct ssl_ctx_st *ssl_ctx;	/* OpenSSL's SSL_CTX, or NULL */
};

struct built_config {
	struct conf *conf;
	/* The inet smtpd services whose parameters resolved, in file
	 * order. */
	struct built_service *services;
	size_t n_services;
	const struct master_service *qmgr;	/* NULL: mail is not delivered */
	struct tls_client *client_tls;		/* the queue manager's */
	char *ignored;		/* "name/type, ..." of services not run, or NULL */
	int errors;		/* problems reported */
};

/* How a problem is reported: svc is the master.cf service it belongs to
 * (NULL for main.cf as a whole), what names the part ("service",
 * "queue manager"), text is one line, usually "FILE:LINE: ...". */
typedef void config_report_fn(void *arg, const struct master_service *svc,
    const char *what, const char *text);

/* The problem as one located line: text itself when it starts with
 * "FILE:LINE:", else "MASTER.CF:LINE: what NAME: text" (caller frees). */
char *config_problem_line(const struct master_service *svc,
    const char *what, const char *text);

enum {
	/* Checking for an administrator, not starting: a key or
	 * certificate that only root may read is not a problem of a check
	 * run by another user (tlsrelayd reads it as root); it is reported
	 * with what "not checked", not counted. */
	CONFIG_BUILD_CHECK = 1,
};

/* Reads confdir and builds everything. NULL when main.cf or master.cf
 * cannot be read or parsed, or a value is refused (each reported); else
 * the build, whose errors field counts what was reported. */
struct built_config *config_build(const char *confdir, int flags,
    config_report_fn *report, void *arg);
void config_build_free(struct built_config *built);

#endif
