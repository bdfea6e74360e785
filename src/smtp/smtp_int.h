/* smtp internals shared by the files of src/smtp; not for other
 * subsystems.
 *
 * Who owns what: the pool owns its destinations, every connection (alive
 * or waiting to be reaped) and every run (a job between smtp_pool_deliver
 * and its callback). A connection works on at most one run at a time and
 * never frees itself synchronously: smtp_conn_close() detaches it and the
 * pool frees it from an event, so a handler can always touch the
 * connection it was given. Callbacks to the queue manager are also made
 * from an event of their own, never from inside smtp_pool_deliver. */
#ifndef TLSRELAY_SMTP_INT_H
#define TLSRELAY_SMTP_INT_H

#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "tlsrelay/conn.h"
#include "tlsrelay/smtp.h"
#include "tlsrelay/util.h"

struct evbuffer;
struct event;

/* The smtp_* parameters, read once. Times in seconds. */
struct smtp_settings {
	long long connect_timeout;
	long long helo_timeout;
	long long starttls_timeout;
	long long mail_timeout;
	long long rcpt_timeout;
	long long data_init_timeout;
	long long data_xfer_timeout;
	size_t line_length_limit;	/* smtp_line_length_limit; 0: none */
	int per_request_deadline;	/* smtp_per_request_deadline */
	long long min_data_rate;	/* smtp_min_data_rate, bytes/s */
	long long data_done_timeout;
	long long rset_timeout;
	long long quit_timeout;
	long long dest_concurrency;	/* per next hop */
	long long initial_concurrency;	/* a new or revived next hop */
	long long failed_cohort_limit;	/* 0: never declared dead */
	long long dead_time;		/* how long a dead next hop rests */
	long long process_limit;	/* all connections */
	int cache_connections;	/* smtp_connection_cache_on_demand */
	long long cache_time_limit;
	long long reuse_time_limit;
	int tls_loglevel;
	int note_starttls_offer;
	char *helo_name;
};

/* What happened to one recipient so far. */
enum rcpt_state {
	RCPT_PENDING,		/* no outcome yet */
	RCPT_ACCEPTED,		/* 2xx to RCPT TO; DATA decides */
	RCPT_FINAL,		/* outcome, dsn, reason and relay are set */
};

/* One job inside the pool. */
struct smtp_run {
	TAILQ_ENTRY(smtp_run) entry;	/* destination queue or done list */
	struct smtp_job *job;
	smtp_job_done_cb cb;
	void *arg;
	enum rcpt_state *rcpt_state;
	double t_handoff;		/* smtp_pool_deliver */
	double t_conn;			/* got a connection */
	double t_ready;			/* session set up; 0 if never */
	size_t next_target;		/* index into job->targets */
	char *last_reason;		/* of the last target that failed */
	char last_dsn[16];
	char *last_relay;		/* "none" or host[addr]:port */
	int requeued;			/* once, after a stale session */
};

enum conn_state {
	CS_CONNECTING,
	CS_GREETING,
	CS_EHLO,
	CS_HELO,
	CS_STARTTLS,
	CS_HANDSHAKE,
	CS_AUTH,		/* AUTH and its 334 rounds (smtp_sasl.c) */
	CS_XFER,		/* MAIL, RCPT, DATA replies */
	CS_BODY,
	CS_DOT,
	CS_RSET,
	CS_IDLE,
	CS_QUIT,
	CS_CLOSED,
};

/* The message content on its way out: dot-stuffed, CR LF at the end. */
struct smtp_body {
	int fd;
	off_t pos, end;
	size_t line_limit;	/* longest line sent, CR LF aside; 0: any */
	size_t line_len;	/* of the line being sent */
	int at_line_start;
	char last[2];		/* the last two content bytes */
	int finished;		/* "." CR LF appended */
};

/* One session's SMTP AUTH (smtp_sasl.c); cleared with the session. */
struct smtp_sasl_session {
	char **mechs;		/* the AUTH list of the last EHLO */
	size_t n_mechs;
	int offered;		/* that EHLO announced AUTH */
	int looked_up;		/* cred is the password table's answer */
	char *cred;		/* "user:password" logged in with, or NULL */
	const char *mech;	/* "PLAIN" or "LOGIN" while logging in */
	int round;		/* 334 challenges answered */
};

struct smtp_dest;

struct smtp_conn {
	TAILQ_ENTRY(smtp_conn) entry;		/* pool->conns */
	TAILQ_ENTRY(smtp_conn) idle_entry;	/* dest->idle */
	struct smtp_pool *pool;
	struct smtp_dest *dest;		/* NULL once detached */
	struct smtp_run *run;		/* NULL when idle */
	enum conn_state state;
	int fd;				/* while connecting, else -1 */
	struct event *connect_ev;	/* while connecting */
	struct conn *io;		/* once connected: socket, TLS, the
					 * reply timer (conn.h) */
	/* smtp_per_request_deadline: when the content must be sent
	 * (CLOCK_MONOTONIC ms), 0 before the first byte of it. */
	long long content_deadline_ms;

	/* The server of the current target. */
	char *hostname;
	char addr[64];
	unsigned port;
	char *label;			/* "host[addr]" */
	char *relay;			/* "host[addr]:port" */

	/* Session. Its TLS policy is the one of the run that opened it:
	 * policy while that run is on, own_policy when the job had none;
	 * tls_key says which for later runs (NULL for a bare level). */
	const struct tls_policy *policy;
	struct tls_policy *own_policy;
	SSL_CTX *ssl_ctx;		/* the policy's (tls_client_ctx) */
	char *tls_key;
	int tls_level;			/* the policy's, or may for a DANE
					 * target without TLSA records */
	const struct tls_dane *dane;	/* this target's TLSA records */
	int tls_reuse;			/* connection_reuse=, -1 unset */
	int tls_active;
	int tls_refused;		/* may: this server's TLS failed */
	int esmtp, pipelining, starttls, eightbitmime, has_size;
	unsigned long long size_limit;
	double t_connected;
	unsigned jobs;			/* runs delivered on it */
	int reused;			/* current run came from the cache */
	struct smtp_reply reply;
	int counted;			/* counted in dest/pool limits */
	int idle_listed;		/* in dest->idle */
	int resetting;			/* counted in dest->n_resetting */

	/* Transaction: replies are expected in this order: MAIL, one per
	 * RCPT, DATA. */
	size_t n_sent, n_replied;
	size_t n_accepted;
	int mail_ok;
	struct smtp_body body;
	struct smtp_sasl_session sasl;
};

/* Postfix's per-destination feedback: the concurrency window grows by
 * 1/window with every session that works and shrinks by 1/window with
 * every attempt that reached no usable server ("site failure"); after
 * failed_cohort_limit windows' worth of site failures in a row the next
 * hop is dead: its mail is deferred without connecting until dead_until. */
struct smtp_dest_health {
	double window;			/* concurrency, 1 .. the limit */
	double failed_cohorts;
	double dead_until;		/* 0: alive */
	char *dead_reason;		/* the failure that killed it */
	char dead_dsn[16];
};

struct smtp_dest {
	TAILQ_ENTRY(smtp_dest) entry;
	struct smtp_pool *pool;
	char *nexthop;
	TAILQ_HEAD(, smtp_run) waiting;
	size_t n_waiting;
	TAILQ_HEAD(, smtp_conn) idle;
	size_t n_conns;			/* counted connections */
	size_t n_resetting;		/* will be free after RSET */
	struct smtp_dest_health health;
};

struct smtp_pool {
	struct event_base *base;
	const struct conf *conf;
	struct smtp_settings set;
	struct tls_client *tls;		/* the caller's, not freed here */
	TAILQ_HEAD(, smtp_dest) dests;
	TAILQ_HEAD(, smtp_conn) conns;		/* all of them */
	TAILQ_HEAD(, smtp_run) done;		/* callbacks to make */
	struct event *done_ev;
	struct event *dispatch_ev;
	struct event *reap_ev;
	size_t n_conns;			/* counted connections */
	size_t n_runs;			/* not called back yet */
	int closing;
	char *iobuf;			/* content reads (one loop) */
	struct smtp_sasl *sasl;		/* NULL: AUTH is off */
};

#define SMTP_IOBUF_SIZE	(64 * 1024)

/* ---- smtp_pool.c: what connections tell the pool ---- */

double smtp_now(void);
/* Sets the outcome of recipient i (once; later calls are ignored). */
void smtp_run_set(struct smtp_run *run, size_t i, enum smtp_outcome outcome,
    const char *dsn, const char *relay, const char *reason);
/* Gives every recipient without an outcome this one. */
void smtp_run_set_rest(struct smtp_run *run, enum smtp_outcome outcome,
    const char *dsn, const char *relay, const char *reason);
/* Logs the recipients and queues the callback. */
void smtp_run_finish(struct smtp_pool *pool, struct smtp_run *run);
/* A cached session died before the run was committed to it: the run goes
 * back to the head of its destination's queue. Returns 0, or -1 when it
 * was requeued before (the caller then finishes it). */
int smtp_run_requeue(struct smtp_conn *conn, struct smtp_run *run);
/* The connection is idle after a successful RSET. */
void smtp_pool_conn_idle(struct smtp_conn *conn);
/* The connection will send RSET and then be free for the next run. */
void smtp_pool_conn_resetting(struct smtp_conn *conn);
/* The connection stops counting against the limits (closing). */
void smtp_pool_conn_detach(struct smtp_conn *conn);
/* The connection is closed; the pool frees it from an event. */
void smtp_pool_conn_closed(struct smtp_conn *conn);

/* ---- smtp_conn.c: one connection's session ---- */

struct smtp_conn *smtp_conn_new(struct smtp_pool *pool,
    struct smtp_dest *dest);
/* Connects for run: tries its targets from run->next_target on. */
void smtp_conn_open(struct smtp_conn *conn, struct smtp_run *run);
/* An idle, set-up session takes run. */
void smtp_conn_take(struct smtp_conn *conn, struct smtp_run *run);
/* 1 when an idle session may take run: it was set up under the same
 * TLS policy. */
int smtp_conn_fits(const struct smtp_conn *conn, const struct smtp_run *run);
/* Polite close: QUIT, wait for the reply (smtp_quit_timeout), close. */
void smtp_conn_quit(struct smtp_conn *conn);
/* Closes at once (socket, TLS, timer). Idempotent. */
void smtp_conn_close(struct smtp_conn *conn);
void smtp_conn_free(struct smtp_conn *conn);

/* Session internals used by smtp_xfer.c. */
void smtp_conn_send(struct smtp_conn *conn, const char *fmt, ...)
    PRINTFLIKE(2, 3);
void smtp_conn_timeout(struct smtp_conn *conn, long long seconds);
/* The transaction is over: reset for the next run, or close. */
void smtp_conn_after_run(struct smtp_conn *conn);
/* Connection lost, timed out or garbled while a run is on it: the run's
 * open recipients are deferred with "<what> with HOST while <doing>". */
void smtp_conn_broken(struct smtp_conn *conn, const char *what);

/* ---- smtp_xfer.c: one mail transaction ---- */

void smtp_xfer_start(struct smtp_conn *conn);
void smtp_xfer_reply(struct smtp_conn *conn);
/* More content may be written (output buffer below the low mark). */
void smtp_xfer_writable(struct smtp_conn *conn);
/* What the session was doing, in Postfix's words: "sending RCPT TO". */
const char *smtp_xfer_doing(const struct smtp_conn *conn);

/* ---- smtp_body.c: content, dot-stuffed ---- */

/* line_limit: smtp_line_length_limit; a longer line is broken with
 * CR LF SPACE, as Postfix does, so that a header stays one folded header
 * and MIME suffers least. */
void smtp_body_init(struct smtp_body *body, int fd, off_t offset,
    off_t length, size_t line_limit);
/* Appends at most about max bytes of content to out, and at the end a
 * CR LF when the content lacks one, then "." CR LF. buf (of bufsize
 * bytes) is scratch space. Returns 1 when all is appended, 0 when more
 * remains, -1 with errno set when the file cannot be read (EIO for a file
 * shorter than promised). */
int smtp_body_fill(struct smtp_body *body, struct evbuffer *out, size_t max,
    char *buf, size_t bufsize);

/* ---- smtp_log.c: reasons and Postfix's to= lines ---- */

/* "250 2.0.0 Ok": the reply as one line. Caller frees. */
char *smtp_reply_line(const struct smtp_reply *reply);
/* "host mx[addr] said: 550 5.1.1 text (in reply to RCPT TO command)" */
char *smtp_reply_reason(const char *label, const struct smtp_reply *reply,
    const char *in_reply_to);
/* The reply's status code, or "4.0.0"/"5.0.0"/"2.0.0" by its class. */
void smtp_reply_dsn(const struct smtp_reply *reply, char dsn[16]);
enum smtp_outcome smtp_reply_outcome(const struct smtp_reply *reply);
/* The client's lines are the smtp service's ("tlsrelay/smtp[PID]") even
 * inside the queue manager. A connection's callbacks (and OpenSSL's info
 * callback) run under the name given to conn_new(); every other way into
 * the pool from outside (calls of the interface, the pool's own events,
 * the connect event) saves the name it found in a local and puts it back
 * before the queue manager is called back: no global state, so entries
 * nest by themselves. */
void smtp_log_enter(struct log_name *saved);
void smtp_log_leave(const struct log_name *saved);
void smtp_log_run(const struct smtp_run *run, double now);

/* ---- smtp_sasl.c: AUTH to servers that want a login ---- */

/* smtp_sasl_security_options words (Cyrus SASL's). */
#define SMTP_SASL_NOPLAINTEXT		0x01
#define SMTP_SASL_NOACTIVE		0x02
#define SMTP_SASL_NODICTIONARY		0x04
#define SMTP_SASL_NOANONYMOUS		0x08
#define SMTP_SASL_MUTUAL_AUTH		0x10
#define SMTP_SASL_FORWARD_SECRECY	0x20

/* The smtp_sasl_* settings and the password table, one per pool. NULL
 * (and *err NULL) when smtp_sasl_auth_enable is off; NULL with *err set
 * for a setting that cannot work. */
struct smtp_sasl *smtp_sasl_new(const struct conf *conf, char **err);
void smtp_sasl_free(struct smtp_sasl *sasl);
/* Parses a security options value of parameter name. 0, or -1 with *err
 * set for an unknown word. */
int smtp_sasl_parse_options(const char *name, const char *value,
    unsigned *opts, char **err);
/* The options in force for a plaintext, TLS or TLS-verified session. */
unsigned smtp_sasl_options(const struct smtp_sasl *sasl, int tls_active,
    int verified);
/* "user:password" for a session with server host (its name) for nexthop
 * (as written: "[smtp.example.com]:587", "example.com"), looked up in
 * that order as Postfix does; malloc'd, NULL when there is none.
 * *error = 1 when the table failed. */
char *smtp_sasl_lookup(struct smtp_sasl *sasl, const char *host,
    const char *nexthop, int *error);
/* How many of the offered mechanisms smtp_sasl_mechanism_filter keeps
 * (Postfix's match list: the first name or !name that matches decides; no
 * filter keeps all). */
size_t smtp_sasl_filtered(const struct smtp_sasl *sasl, char *const *offered,
    size_t n_offered);
/* Our mechanism (PLAIN preferred, then LOGIN) among the offered ones that
 * smtp_sasl_mechanism_filter and opts allow; NULL when none. */
const char *smtp_sasl_choose(const struct smtp_sasl *sasl,
    char *const *offered, size_t n_offered, unsigned opts);
/* Base64 without line breaks; malloc'd. */
char *smtp_sasl_base64(const void *data, size_t len);
/* The AUTH PLAIN response for "user:password" (split at the first ':'):
 * base64 of NUL user NUL password. */
char *smtp_sasl_plain_response(const char *cred);

/* Takes the AUTH mechanisms from an EHLO reply. */
void smtp_sasl_ehlo(struct smtp_sasl_session *s,
    const struct smtp_reply *ehlo);
void smtp_sasl_session_clear(struct smtp_sasl_session *s);

enum smtp_sasl_status {
	SMTP_SASL_SEND,		/* a line to send, a reply to wait for */
	SMTP_SASL_DONE,		/* logged in, or no login needed */
	SMTP_SASL_REFUSED,	/* the server said no */
	SMTP_SASL_FAILED,	/* we cannot (go on to) log in */
};
/* The protocol alone, with s->mech and s->cred set: reply NULL starts,
 * else reply is the server's answer to the last line. SEND: *line is the
 * next line without CR LF (caller frees). */
enum smtp_sasl_status smtp_sasl_exchange(struct smtp_sasl_session *s,
    const struct smtp_reply *reply, char **line);
/* Why the exchange ended (REFUSED: reply is the server's refusal;
 * FAILED: an unexpected challenge), as the server's log and the DSN say
 * it, with dsn set to a 4.X.X code: a refused login is deferred.
 * Caller frees. */
char *smtp_sasl_reason(enum smtp_sasl_status status,
    const struct smtp_reply *reply, const char *label, char dsn[16]);
/* The session's login, after the last EHLO: reply NULL starts, else the
 * server's reply in state CS_AUTH. SEND: the line is sent, the state is
 * CS_AUTH. DONE: go on with the transaction. REFUSED, FAILED: *reason
 * (caller frees) and dsn say why; the server is given up. */
enum smtp_sasl_status smtp_sasl_step(struct smtp_conn *conn,
    const struct smtp_reply *reply, char dsn[16], char **reason);
/* 1 when an idle session may take run: it logged in (or not) with what
 * the password table says for run now. */
int smtp_sasl_fits(const struct smtp_conn *conn, const struct smtp_run *run);

#endif
