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

#include "tlsrelay/smtp.h"
#include "tlsrelay/util.h"

struct bufferevent;
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
	long long data_done_timeout;
	long long rset_timeout;
	long long quit_timeout;
	long long dest_concurrency;	/* per next hop */
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
	int at_line_start;
	char last[2];		/* the last two content bytes */
	int finished;		/* "." CR LF appended */
};

struct smtp_dest;

struct smtp_conn {
	TAILQ_ENTRY(smtp_conn) entry;		/* pool->conns */
	TAILQ_ENTRY(smtp_conn) idle_entry;	/* dest->idle */
	struct smtp_pool *pool;
	struct smtp_dest *dest;		/* NULL once detached */
	struct smtp_run *run;		/* NULL when idle */
	enum conn_state state;
	int fd;				/* -1 when none */
	struct event *connect_ev;	/* while connecting */
	struct bufferevent *bev;
	SSL *ssl;			/* owned by bev once TLS is on */
	struct event *timer;

	/* The server of the current target. */
	char *hostname;
	char addr[64];
	unsigned port;
	char *label;			/* "host[addr]" */
	char *relay;			/* "host[addr]:port" */

	/* Session. */
	int tls_level;			/* of the run that opened it */
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
};

struct smtp_pool {
	struct event_base *base;
	const struct conf *conf;
	struct smtp_settings set;
	SSL_CTX *ssl_ctx;
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

void smtp_body_init(struct smtp_body *body, int fd, off_t offset,
    off_t length);
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
 * inside the queue manager: every way into the pool from outside (calls
 * of the interface, libevent callbacks) enters, and leaves before the
 * queue manager is called back. Entries nest. */
void smtp_log_enter(void);
void smtp_log_leave(void);
void smtp_log_run(const struct smtp_run *run, double now);

#endif
