/* Internal to smtpd: one client connection. The I/O side lives in
 * smtpd_session.c, the command handlers in smtpd_commands.c. */
#ifndef TLSRELAY_SMTPD_SESSION_H
#define TLSRELAY_SMTPD_SESSION_H

#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "tlsrelay/queue.h"
#include "tlsrelay/anvil.h"
#include "tlsrelay/smtpd.h"
#include "tlsrelay/smtpd_parse.h"
#include "tlsrelay/smtpd_policy.h"
#include "tlsrelay/tls.h"
#include "tlsrelay/util.h"
#include "smtpd_header.h"
#include "smtpd_int.h"

struct conn;
struct event;

enum session_state {
	SS_HANDSHAKE,		/* TLS handshake in progress */
	SS_PROXY,		/* reading the load balancer's PROXY header
				 * (smtpd_upstream_proxy_protocol): nothing
				 * said or counted yet */
	SS_COMMAND,		/* reading command lines */
	SS_DATA,		/* reading message content */
	SS_COMMIT,		/* final dot read, the commit thread has the
				 * message: not reading, not freed */
	SS_PAUSED,		/* error sleep: not reading */
	SS_WAIT_DNS,		/* DNS answers pending (the client's name
				 * before the greeting, the restrictions):
				 * not reading, the reply not sent */
	SS_AUTH,		/* the SASL backend has the client's last
				 * AUTH line: not reading */
	SS_CLOSING,		/* last reply queued, closing when flushed */
};

/* Per-command counters for Postfix's disconnect line. */
enum session_counter {
	CNT_HELO, CNT_EHLO, CNT_STARTTLS, CNT_AUTH, CNT_MAIL, CNT_RCPT,
	CNT_DATA, CNT_BDAT, CNT_RSET, CNT_NOOP, CNT_VRFY, CNT_ETRN, CNT_HELP,
	CNT_QUIT,
	CNT_UNKNOWN, CNT_MAX
};

struct smtpd_session {
	struct event_base *base;
	struct conn *conn;		/* socket, TLS, timers (conn.h) */
	const struct smtpd_listener *listener;
	const struct smtpd_policy *policy;
	struct anvil *anvil;
	int worker_index;
	void (*done)(void);
	struct smtpd_session *next, *prev;	/* all sessions of the worker */

	char addr[INET6_ADDRSTRLEN];
	int port;
	char local_addr[INET6_ADDRSTRLEN];
	int local_port;
	char name[256];
	enum session_state state;
	const char *last_command;	/* for "timeout after X" */
	int shutdown_requested;
	int no_client;			/* no PROXY header named one: nothing
					 * to log a connect or disconnect of */
	int anvil_counted;		/* anvil_connect() was called */
	int bare_lf_reject;		/* reject mode applies to this client */
	int line_cut;			/* the last line read was too long */

	/* Restrictions (smtpd_restrict*.c). */
	struct smtpd_dnscheck *dnscheck;	/* DNS answers (smtpd_dnscheck.h) */
	int access_denied;		/* refused at connect
					 * (smtpd_delay_reject = no) */
	int improper_pipelining;
	char *current_line;		/* the command being handled */
	char *pending_line;		/* SS_WAIT_DNS: handled again */
	enum { RESUME_CONNECT, RESUME_COMMAND, RESUME_GREETING,
	    RESUME_END_OF_DATA } resume;	/* what waits in SS_WAIT_DNS;
					 * CONNECT: the client's name */
	unsigned txn_actions;		/* RESTRICT_ACTION_* of this
					 * transaction */

	/* SMTP state. */
	char *helo;
	int esmtp;
	int tls_active;
	/* Set with tls_active: 1 KiB that a plaintext session does not
	 * need. */
	struct tls_info *tls;
	long long errors;

	/* SMTP AUTH (smtpd_auth.c). */
	int auth_step;		/* not 0: an exchange is on */
	struct sasl_exchange *auth_exchange;	/* the backend's */
	int auth_in_call;	/* inside the backend's start or step */
	int auth_end_deferred;	/* end the exchange when it returns */
	char *auth_mech;	/* "PLAIN", "LOGIN", ..., during and after */
	char *sasl_username;	/* set once authenticated */
	long long auth_failures;

	int ok[CNT_MAX];
	int total[CNT_MAX];

	/* Transaction. */
	char *sender;
	struct smtp_mail_params mail_params;
	char **recipients;
	size_t n_recipients;
	size_t recipients_cap;
	size_t rcpt_attempts;
	size_t rcpt_overshoot;	/* RCPTs past smtpd_recipient_limit */

	/* DATA. */
	struct spool_writer *spool;
	char queue_id[QUEUE_ID_MAX];	/* of the message being committed */
	int commit_event;		/* conn_event + 1 during SS_COMMIT */
	struct smtpd_data_reader reader;
	/* For the message-id= line; allocated by DATA and freed with the
	 * transaction: 1 KiB that an idle session does not need. */
	struct smtpd_header_scan *header;
	struct strbuf content;
	int data_too_big;
	int data_write_errno;
	unsigned long long data_size;

	struct event *pause_timer;
	/* smtpd_per_request_deadline: when the request being read must be
	 * complete (CLOCK_MONOTONIC ms), -1 for the TLS handshake's, 0 when
	 * none is armed. */
	long long deadline_ms;
};

/* smtpd_session.c */
void session_reply(struct smtpd_session *s, const char *fmt, ...)
    PRINTFLIKE(2, 3);
void session_close_after_reply(struct smtpd_session *s);
void session_start_tls(struct smtpd_session *s);
/* Hands the finished queue file to the commit thread; the session reads
 * nothing more until session_data_committed has answered. */
void session_commit(struct smtpd_session *s, struct spool_writer *w);
void session_reset_transaction(struct smtpd_session *s);
/* The restrictions want DNS answers: reading stops, and what was being
 * answered (s->resume) is done again once they are in. */
void session_wait_dns(struct smtpd_session *s);
/* A SASL verdict is pending: stop reading (SS_AUTH); then read again. */
void session_auth_wait(struct smtpd_session *s);
void session_auth_resume(struct smtpd_session *s);

/* smtpd_commands.c */
/* The greeting, or the connect-time reject (smtpd_delay_reject = no). */
void session_greet(struct smtpd_session *s);
void session_command(struct smtpd_session *s, char *line);
/* Consumes content bytes in DATA state; returns the bytes used. */
size_t session_data(struct smtpd_session *s, const char *in, size_t len);
/* The final dot has been read (again, after a DNS wait). */
void session_data_end(struct smtpd_session *s);
void session_count(struct smtpd_session *s, enum session_counter c, int ok);
/* The commit is over (err NULL: the message is durable): the answer to
 * the final dot. */
void session_data_committed(struct smtpd_session *s, const char *err);
void session_log_disconnect(struct smtpd_session *s);

/* smtpd_auth.c */
/* EHLO's "250-AUTH PLAIN LOGIN" line(s), if AUTH is offered now. */
void smtpd_auth_ehlo(struct smtpd_session *s);
/* The AUTH command; returns 1 (authenticated), 0 (refused) or -1 when a
 * challenge was sent and the answer comes through smtpd_auth_response. */
int smtpd_auth_command(struct smtpd_session *s, const char *arg);
/* A client line while an exchange is on (s->auth_step != 0). */
void smtpd_auth_response(struct smtpd_session *s, const char *line);
/* Forgets the login (STARTTLS, end of session). */
void smtpd_auth_reset(struct smtpd_session *s);

/* smtpd_commit.c: commits w in the worker's commit thread, together
 * with every other message handed over in this pass of the event loop;
 * done(arg, err) runs from the loop once the commit is over. */
void smtpd_commit(struct spool_writer *w, spool_commit_cb done, void *arg);

/* smtpd_received.c: the Received header for the queue file. */
char *smtpd_received_header(const struct smtpd_session *s,
    const char *queue_id);

/* smtpd_deadline.c: Postfix's smtpd_per_request_deadline and
 * smtpd_min_data_rate, and the worker's stress mode. */
/* Waiting for a command line that is not complete yet. */
void session_deadline_wait(struct smtpd_session *s);
/* The request is complete: no deadline until the next one. */
void session_deadline_done(struct smtpd_session *s);
/* DATA took n more bytes of content. */
void session_deadline_data(struct smtpd_session *s, size_t n);

#endif
