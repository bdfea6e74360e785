/* smtp_conn: one connection to one server at a time. It connects to the
 * run's targets in order until one gives a usable session (greeting, EHLO
 * or HELO, STARTTLS as the level asks, EHLO again over TLS), then hands
 * the session to smtp_xfer.c for the mail transaction. Afterwards the
 * session is reset and goes back to the pool, or says QUIT.
 *
 * Set-up failures (connect, greeting, EHLO, TLS required but missing, a
 * server certificate the destination's TLS policy rejects) move on to
 * the next target; when none is left, the run is deferred
 * with the last reason. At level may a failed handshake means: the same
 * server again, at once, in plaintext. */
#include "config.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/conn.h"
#include "tlsrelay/log.h"
#include "tlsrelay/stats.h"
#include "tlsrelay/tls.h"
#include "tlsrelay/tls_client.h"
#include "smtp_int.h"

/* A reply line longer than this without CR LF is not SMTP. Lines up to
 * it are accepted and cut by the reply parser. */
#define LINE_HARD_MAX	(64 * 1024)

enum broken_why {
	BROKEN_LOST,
	BROKEN_TIMEOUT,
	BROKEN_GARBLED,
};

static void io_read(struct conn *, void *);
static void io_drained(struct conn *, void *);
static void io_tls_done(struct conn *, void *);
static void io_event(struct conn *, enum conn_event, void *);
static void conn_try_target(struct smtp_conn *);
static void conn_target_failed(struct smtp_conn *, const char *, int,
    char *);
static void conn_broken(struct smtp_conn *, enum broken_why);

/* The connection layer calls these under the log name "smtp". */
static const struct conn_callbacks io_callbacks = {
	.read = io_read,
	.drained = io_drained,
	.tls_done = io_tls_done,
	.event = io_event,
};

/* ---- plumbing -------------------------------------------------------- */

void
smtp_conn_timeout(struct smtp_conn *conn, long long seconds)
{
	if (conn->io != NULL)
		conn_set_deadline(conn->io, seconds);
}

void
smtp_conn_send(struct smtp_conn *conn, const char *fmt, ...)
{
	va_list ap;

	if (conn->io == NULL)
		return;
	if (msg_verbose) {
		char *line;

		va_start(ap, fmt);
		line = xvasprintf(fmt, ap);
		va_end(ap);
		msg_debug("> %s: %.*s", conn->label,
		    (int)strcspn(line, "\r\n"), line);
		free(line);
	}
	va_start(ap, fmt);
	evbuffer_add_vprintf(conn_output(conn->io), fmt, ap);
	va_end(ap);
}

/* Drops the current session's socket, TLS and protocol state; the
 * connection object stays. orderly: what is in the output (a QUIT) is
 * sent and a TLS session gets its close_notify, else it is dropped. */
static void
session_reset(struct smtp_conn *conn, int orderly)
{
	if (conn->connect_ev != NULL) {
		event_free(conn->connect_ev);
		conn->connect_ev = NULL;
	}
	if (conn->io != NULL) {
		if (orderly)
			conn_close(conn->io);
		else
			conn_abort(conn->io);
	} else if (conn->fd >= 0)
		close(conn->fd);
	conn->io = NULL;
	conn->fd = -1;
	conn->tls_active = 0;
	conn->esmtp = conn->pipelining = conn->starttls = 0;
	conn->eightbitmime = conn->has_size = 0;
	conn->size_limit = 0;
	smtp_sasl_session_clear(&conn->sasl);
	smtp_reply_clear(&conn->reply);
}

struct smtp_conn *
smtp_conn_new(struct smtp_pool *pool, struct smtp_dest *dest)
{
	struct smtp_conn *conn = xcalloc(1, sizeof(*conn));

	conn->pool = pool;
	conn->dest = dest;
	conn->fd = -1;
	conn->state = CS_CONNECTING;
	TAILQ_INSERT_TAIL(&pool->conns, conn, entry);
	return conn;
}

void
smtp_conn_free(struct smtp_conn *conn)
{
	session_reset(conn, 0);
	tls_policy_free(conn->own_policy);
	free(conn->tls_key);
	free(conn->hostname);
	free(conn->label);
	free(conn->relay);
	free(conn);
}

void
smtp_conn_close(struct smtp_conn *conn)
{
	if (conn->state == CS_CLOSED)
		return;
	if (conn->run != NULL) {
		/* Callers settle the run first; never lose one. */
		smtp_run_set_rest(conn->run, SMTP_DEFER, "4.3.0", conn->relay,
		    "delivery interrupted");
		smtp_run_finish(conn->pool, conn->run);
		conn->run = NULL;
	}
	/* An idle session gets a last-moment QUIT (nothing else is in the
	 * output), and after QUIT a TLS session its close_notify. */
	if (conn->state == CS_IDLE)
		smtp_conn_send(conn, "QUIT\r\n");
	session_reset(conn, conn->state == CS_IDLE ||
	    conn->state == CS_QUIT);
	conn->state = CS_CLOSED;
	smtp_pool_conn_closed(conn);
}

void
smtp_conn_quit(struct smtp_conn *conn)
{
	smtp_pool_conn_detach(conn);
	switch (conn->state) {
	case CS_GREETING:
	case CS_EHLO:
	case CS_HELO:
	case CS_XFER:
	case CS_DOT:
	case CS_RSET:
	case CS_IDLE:
		/* Between commands: the server will read QUIT as one. */
		smtp_conn_send(conn, "QUIT\r\n");
		conn->state = CS_QUIT;
		smtp_conn_timeout(conn, conn->pool->set.quit_timeout);
		break;
	default:
		smtp_conn_close(conn);
		break;
	}
}

/* ---- targets ---------------------------------------------------------- */

static void
set_peer(struct smtp_conn *conn, const struct dns_target *t)
{
	free(conn->hostname);
	free(conn->label);
	free(conn->relay);
	conn->port = dns_target_address(t, conn->addr, sizeof(conn->addr));
	conn->hostname = xstrdup(t->hostname ? t->hostname : conn->addr);
	conn->label = xasprintf("%s[%s]", conn->hostname, conn->addr);
	conn->relay = xasprintf("%s:%u", conn->label, conn->port);
	conn->tls_refused = 0;
}

/* Starts a non-blocking connect; 0, or -1 with *reason set. */
static int
conn_connect(struct smtp_conn *conn, const struct dns_target *t,
    char **reason);

static void
connected(struct smtp_conn *conn, evutil_socket_t fd, short what)
{
	socklen_t len = sizeof(int);
	int error = 0;
	char *reason;

	event_free(conn->connect_ev);
	conn->connect_ev = NULL;
	if (what & EV_TIMEOUT)
		error = ETIMEDOUT;
	else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0)
		error = errno;
	if (error != 0) {
		reason = xasprintf("connect to %s: %s", conn->relay,
		    strerror(error));
		conn_target_failed(conn, "4.4.1", 0, reason);
		return;
	}
	conn->t_connected = smtp_now();
	conn->io = conn_new(conn->pool->base, fd, conn->relay, "smtp",
	    &io_callbacks, conn);
	conn->fd = -1;
	conn->state = CS_GREETING;
	smtp_conn_timeout(conn, conn->pool->set.helo_timeout);
}

static void
connected_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_conn *conn = arg;
	struct log_name saved;

	smtp_log_enter(&saved);
	connected(conn, fd, what);
	smtp_log_leave(&saved);
}

static int
conn_connect(struct smtp_conn *conn, const struct dns_target *t,
    char **reason)
{
	long long timeout = conn->pool->set.connect_timeout;
	struct timeval tv = { .tv_sec = (time_t)timeout, .tv_usec = 0 };
	int fd;

	fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd < 0 || (connect(fd, (const struct sockaddr *)&t->addr,
	    t->addrlen) < 0 && errno != EINPROGRESS)) {
		*reason = xasprintf("connect to %s: %s", conn->relay,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	/* Every command group and the body go out as whole writes; without
	 * this the final dot waits behind Nagle for the server's delayed
	 * ACK, 40 ms per message on every connection. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 },
	    sizeof(int));
	conn->fd = fd;
	conn->state = CS_CONNECTING;
	conn->connect_ev = event_new(conn->pool->base, fd, EV_WRITE,
	    connected_cb, conn);
	if (conn->connect_ev == NULL)
		msg_fatal("conn_connect: cannot create an event");
	event_add(conn->connect_ev, timeout > 0 ? &tv : NULL);
	return 0;
}

/* The same server again, without STARTTLS (level may). */
static void
conn_reconnect_plain(struct smtp_conn *conn)
{
	const struct dns_target *t =
	    &conn->run->job->targets[conn->run->next_target];
	char *reason = NULL;

	session_reset(conn, 0);
	if (conn_connect(conn, t, &reason) != 0) {
		conn_target_failed(conn, "4.4.1", 0, reason);
		return;
	}
	conn->tls_refused = 1;
}

/* Levels dane and dane-only: this target's verdict (smtp.h). Returns 0,
 * or -1 with *reason when the target is not to be tried. */
static int
target_dane(struct smtp_conn *conn, size_t i, char **reason)
{
	const struct smtp_job *job = conn->run->job;

	conn->dane = NULL;
	conn->tls_level = conn->policy->level;
	if (conn->tls_level != TLS_LEV_DANE &&
	    conn->tls_level != TLS_LEV_DANE_ONLY)
		return 0;
	if (job->dane == NULL) {
		*reason = xstrdup("no DANE TLSA lookup was made");
		return -1;
	}
	if (job->dane[i].defer != NULL) {
		*reason = xstrdup(job->dane[i].defer);
		return -1;
	}
	if ((conn->dane = job->dane[i].tlsa) == NULL)
		conn->tls_level = job->dane[i].encrypt ? TLS_LEV_ENCRYPT :
		    TLS_LEV_MAY;
	return 0;
}

static void
conn_try_target(struct smtp_conn *conn)
{
	struct smtp_run *run = conn->run;
	const struct smtp_job *job = run->job;
	char *reason = NULL;

	if (run->next_target < job->n_targets) {
		const struct dns_target *t = &job->targets[run->next_target];

		set_peer(conn, t);
		if (target_dane(conn, run->next_target, &reason) != 0) {
			conn_target_failed(conn, "4.7.5", 0, reason);
			return;
		}
		if (conn_connect(conn, t, &reason) != 0)
			conn_target_failed(conn, "4.4.1", 0, reason);
		return;
	}
	/* Nothing left to try. */
	if (run->last_reason == NULL) {
		run->last_reason = xasprintf("no address to deliver to for "
		    "%s", job->nexthop);
		snprintf(run->last_dsn, sizeof(run->last_dsn), "4.4.3");
	}
	smtp_run_set_rest(run, SMTP_DEFER, run->last_dsn, run->last_relay,
	    run->last_reason);
	smtp_run_finish(conn->pool, run);
	conn->run = NULL;
	smtp_conn_close(conn);
}

/* Takes reason. talked: the server answered, so relay= names it. */
static void
conn_target_failed(struct smtp_conn *conn, const char *dsn, int talked,
    char *reason)
{
	struct smtp_run *run = conn->run;

	free(run->last_reason);
	free(run->last_relay);
	run->last_reason = reason;
	run->last_relay = xstrdup(talked ? conn->relay : "none");
	snprintf(run->last_dsn, sizeof(run->last_dsn), "%s", dsn);
	run->next_target++;
	/* As Postfix: the last failure is the recipients' reason, the ones
	 * before it are logged. */
	if (run->next_target < run->job->n_targets)
		msg_info("%s", reason);
	session_reset(conn, 0);
	conn_try_target(conn);
}

/* The session's TLS policy: the job's, or main.cf's at the job's bare
 * level. */
static void
set_policy(struct smtp_conn *conn, const struct smtp_job *job)
{
	tls_policy_free(conn->own_policy);
	conn->own_policy = NULL;
	free(conn->tls_key);
	conn->tls_key = NULL;
	if (job->tls_policy != NULL) {
		conn->policy = job->tls_policy;
		conn->tls_key = xstrdup(tls_policy_cache_key(job->tls_policy));
	} else {
		conn->own_policy = tls_policy_main(conn->pool->conf,
		    job->tls_level, job->nexthop);
		conn->policy = conn->own_policy;
	}
	conn->tls_level = conn->policy->level;
	conn->tls_reuse = conn->policy->conn_reuse;
	/* The context of the policy's settings, built once and kept:
	 * nothing of OpenSSL's is redone per connection. */
	conn->ssl_ctx = NULL;
	if (conn->policy->error == NULL && conn->tls_level >= TLS_LEV_MAY)
		conn->ssl_ctx = tls_client_ctx(conn->pool->tls, conn->policy);
}

void
smtp_conn_open(struct smtp_conn *conn, struct smtp_run *run)
{
	conn->run = run;
	conn->reused = 0;
	run->t_conn = smtp_now();
	set_policy(conn, run->job);
	if (conn->policy->error != NULL || (conn->tls_level >= TLS_LEV_MAY &&
	    conn->ssl_ctx == NULL)) {
		/* Already logged, with the table and key or when its
		 * context was refused: defer, never deliver with less
		 * protection than was asked for. */
		smtp_run_set_rest(run, SMTP_DEFER, "4.7.5", NULL,
		    conn->policy->error ? conn->policy->error :
		    TLS_POLICY_PROBLEM);
		smtp_run_finish(conn->pool, run);
		conn->run = NULL;
		smtp_conn_close(conn);
		return;
	}
	conn_try_target(conn);
}

int
smtp_conn_fits(const struct smtp_conn *conn, const struct smtp_run *run)
{
	const struct tls_policy *p = run->job->tls_policy;

	if (p == NULL)
		return conn->tls_key == NULL &&
		    run->job->tls_level == conn->tls_level;
	return conn->tls_key != NULL &&
	    strcmp(conn->tls_key, tls_policy_cache_key(p)) == 0;
}

void
smtp_conn_take(struct smtp_conn *conn, struct smtp_run *run)
{
	conn->run = run;
	conn->reused = 1;
	/* Same policy (smtp_conn_fits); the run's own object from now. */
	if (run->job->tls_policy != NULL)
		conn->policy = run->job->tls_policy;
	run->t_conn = run->t_ready = smtp_now();
	smtp_xfer_start(conn);
}

/* ---- TLS -------------------------------------------------------------- */

/* The handshake failed (the connection layer logged why), timed out, or
 * could not begin. */
static void
tls_failed(struct smtp_conn *conn)
{
	/* A stored session may be what the server choked on. */
	if (conn->io != NULL && conn_ssl(conn->io) != NULL &&
	    conn->state == CS_HANDSHAKE)
		tls_client_session_forget(conn_ssl(conn->io));
	if (conn->tls_level < TLS_LEV_ENCRYPT) {
		msg_info("%s: Cannot start TLS: handshake failure; "
		    "trying again without TLS", conn->relay);
		conn_reconnect_plain(conn);
		return;
	}
	conn_target_failed(conn, "4.7.5", 1,
	    xstrdup("Cannot start TLS: handshake failure"));
}

static void
tls_start(struct smtp_conn *conn)
{
	char *sni, *err = NULL;
	SSL *ssl;

	if ((ssl = conn_tls_new(conn->io, conn->ssl_ctx)) == NULL) {
		tls_failed(conn);
		return;
	}
	sni = tls_client_sni(conn->policy->servername, conn->hostname,
	    conn->run->job->nexthop);
	if (tls_client_ssl_setup(ssl, conn->policy, sni, &err) != 0) {
		msg_warn("%s: %s", conn->relay, err);
		free(err);
		free(sni);
		tls_failed(conn);
		return;
	}
	free(sni);
	if (conn->dane != NULL) {
		/* No resumption: a resumed session was never matched
		 * against these records. */
		if (tls_client_dane_setup(ssl, conn->dane, &err) != 0) {
			msg_warn("%s: %s", conn->relay, err);
			free(err);
			tls_failed(conn);
			return;
		}
	} else
		/* The session cached for this server under this policy,
		 * if any. */
		(void)tls_client_session_prepare(ssl, conn->run->job->nexthop,
		    conn->hostname, conn->addr, conn->port,
		    tls_policy_cache_key(conn->policy));
	conn->state = CS_HANDSHAKE;
	if (conn_starttls(conn->io, CONN_CLIENT) < 0) {
		tls_failed(conn);
		return;
	}
	smtp_conn_timeout(conn, conn->pool->set.starttls_timeout);
}

static void
send_ehlo(struct smtp_conn *conn)
{
	smtp_conn_send(conn, "EHLO %s\r\n", conn->pool->set.helo_name);
	conn->state = CS_EHLO;
	smtp_conn_timeout(conn, conn->pool->set.helo_timeout);
}

/* What a stricter policy that is only reported on (MTA-STS testing:
 * tls_policy's audit) would have refused. */
static void
audit_failed(struct smtp_conn *conn, const char *why)
{
	msg_info("%s: %s: MX host %s: %s: would fail in mode enforce",
	    conn->run->job->queue_id, conn->policy->audit, conn->hostname,
	    why);
}

static void
tls_established(struct smtp_conn *conn)
{
	char *reason = NULL;

	/* The level's checks; a failure is this server's, so the next
	 * one is tried, as Postfix does. */
	if (tls_client_check_peer(conn_ssl(conn->io), conn->policy,
	    conn->hostname, conn->relay, conn->pool->set.tls_loglevel,
	    &reason) != 0) {
		/* As Postfix: QUIT over the TLS session, not a dropped
		 * connection that the server logs as an error. */
		smtp_conn_send(conn, "QUIT\r\n");
		session_reset(conn, 1);
		conn_target_failed(conn, "4.7.5", 1, reason);
		return;
	}
	if (tls_client_audit(conn_ssl(conn->io), conn->policy,
	    conn->hostname, &reason) != 0) {
		audit_failed(conn, reason);
		free(reason);
	}
	conn->tls_active = 1;
	/* RFC 3207: forget what the server said before TLS. */
	conn->esmtp = conn->pipelining = conn->starttls = 0;
	conn->eightbitmime = conn->has_size = 0;
	send_ehlo(conn);
}

/* ---- session set-up --------------------------------------------------- */

static void
session_ready(struct smtp_conn *conn)
{
	conn->run->t_ready = smtp_now();
	smtp_xfer_start(conn);
}

/* SMTP AUTH when enabled, offered and a password is known (smtp_sasl.c),
 * then the transaction. reply: the answer to the last AUTH line, NULL to
 * begin. */
static void
session_auth(struct smtp_conn *conn, const struct smtp_reply *reply)
{
	char dsn[16], *reason;

	switch (smtp_sasl_step(conn, reply, dsn, &reason)) {
	case SMTP_SASL_SEND:
		break;
	case SMTP_SASL_DONE:
		session_ready(conn);
		break;
	default:
		conn_target_failed(conn, dsn, 1, reason);
		break;
	}
}

/* After EHLO or HELO: STARTTLS as the level asks, or go. */
static void
session_negotiated(struct smtp_conn *conn)
{
	if (!conn->tls_active) {
		if (conn->starttls && conn->tls_level >= TLS_LEV_MAY &&
		    !conn->tls_refused) {
			smtp_conn_send(conn, "STARTTLS\r\n");
			conn->state = CS_STARTTLS;
			smtp_conn_timeout(conn,
			    conn->pool->set.starttls_timeout);
			return;
		}
		if (conn->starttls && conn->tls_level == TLS_LEV_NONE &&
		    conn->pool->set.note_starttls_offer)
			msg_info("Host offered STARTTLS: [%s]",
			    conn->hostname);
		if (conn->tls_level >= TLS_LEV_ENCRYPT) {
			conn_target_failed(conn, "4.7.4", 1,
			    xasprintf("TLS is required, but was not offered "
			    "by host %s", conn->label));
			return;
		}
		if (conn->policy->audit != NULL)
			audit_failed(conn, conn->starttls ? "the TLS handshake "
			    "failed" : "STARTTLS not offered");
	}
	session_auth(conn, NULL);
}

static void
parse_extensions(struct smtp_conn *conn, const struct smtp_reply *reply)
{
	const char *param;

	conn->esmtp = 1;
	conn->pipelining = smtp_reply_has_ext(reply, "PIPELINING", NULL);
	conn->starttls = smtp_reply_has_ext(reply, "STARTTLS", NULL);
	conn->eightbitmime = smtp_reply_has_ext(reply, "8BITMIME", NULL);
	conn->has_size = smtp_reply_has_ext(reply, "SIZE", &param);
	conn->size_limit = conn->has_size ? strtoull(param, NULL, 10) : 0;
	smtp_sasl_ehlo(&conn->sasl, reply);
}

static void
greeting_reply(struct smtp_conn *conn)
{
	char *line, dsn[16];

	if (conn->reply.code / 100 == 2) {
		send_ehlo(conn);
		return;
	}
	line = smtp_reply_line(&conn->reply);
	smtp_reply_dsn(&conn->reply, dsn);
	conn_target_failed(conn, dsn, 1,
	    xasprintf("host %s refused to talk to me: %s", conn->label,
	    line));
	free(line);
}

static void
helo_failed(struct smtp_conn *conn, const char *command)
{
	char dsn[16];

	smtp_reply_dsn(&conn->reply, dsn);
	conn_target_failed(conn, dsn, 1,
	    smtp_reply_reason(conn->label, &conn->reply, command));
}

static void
ehlo_reply(struct smtp_conn *conn)
{
	if (conn->reply.code / 100 == 2) {
		parse_extensions(conn, &conn->reply);
		session_negotiated(conn);
	} else if (conn->reply.code / 100 == 5) {
		smtp_conn_send(conn, "HELO %s\r\n", conn->pool->set.helo_name);
		conn->state = CS_HELO;
		smtp_conn_timeout(conn, conn->pool->set.helo_timeout);
	} else
		helo_failed(conn, "EHLO command");
}

static void
helo_reply(struct smtp_conn *conn)
{
	if (conn->reply.code / 100 == 2)
		session_negotiated(conn);
	else
		helo_failed(conn, "HELO command");
}

static void
starttls_reply(struct smtp_conn *conn)
{
	char *line;

	if (conn->reply.code / 100 == 2) {
		/* Anything behind the 220 is discarded, unread, by the
		 * connection layer (CVE-2011-0411). */
		tls_start(conn);
		return;
	}
	if (conn->tls_level < TLS_LEV_ENCRYPT) {
		session_auth(conn, NULL);
		return;
	}
	line = smtp_reply_line(&conn->reply);
	conn_target_failed(conn, "4.7.4", 1,
	    xasprintf("TLS is required, but host %s refused to start TLS: "
	    "%s", conn->label, line));
	free(line);
}

static void
rset_reply(struct smtp_conn *conn)
{
	if (conn->reply.code / 100 == 2)
		smtp_pool_conn_idle(conn);
	else
		smtp_conn_quit(conn);
}

void
smtp_conn_after_run(struct smtp_conn *conn)
{
	struct smtp_pool *pool = conn->pool;
	double age = smtp_now() - conn->t_connected;

	conn->run = NULL;
	/* The run's policy and TLSA records may go with it; tls_key stays
	 * for the next. */
	conn->policy = conn->own_policy;
	conn->dane = NULL;
	conn->jobs++;
	if (!pool->set.cache_connections || pool->closing ||
	    conn->dest == NULL || age >= (double)pool->set.reuse_time_limit ||
	    (conn->tls_active && conn->tls_reuse == 0)) {
		smtp_conn_quit(conn);
		return;
	}
	if (conn->n_sent == 0) {
		/* No transaction was started: nothing to reset. */
		smtp_pool_conn_idle(conn);
		return;
	}
	smtp_conn_send(conn, "RSET\r\n");
	conn->state = CS_RSET;
	smtp_conn_timeout(conn, pool->set.rset_timeout);
	smtp_pool_conn_resetting(conn);
}

/* ---- input -------------------------------------------------------------- */

static void
dispatch_reply(struct smtp_conn *conn)
{
	switch (conn->state) {
	case CS_GREETING:
		greeting_reply(conn);
		break;
	case CS_EHLO:
		ehlo_reply(conn);
		break;
	case CS_HELO:
		helo_reply(conn);
		break;
	case CS_STARTTLS:
		starttls_reply(conn);
		break;
	case CS_AUTH:
		session_auth(conn, &conn->reply);
		break;
	case CS_XFER:
	case CS_BODY:
	case CS_DOT:
		smtp_xfer_reply(conn);
		break;
	case CS_RSET:
		rset_reply(conn);
		break;
	default:
		/* QUIT's reply, or a server talking out of turn while the
		 * session is idle (a 421 before it closes). */
		smtp_conn_close(conn);
		break;
	}
}

static void
conn_line(struct smtp_conn *conn, const char *line)
{
	msg_debug("< %s: %s", conn->label, line);
	switch (smtp_reply_feed(&conn->reply, line)) {
	case SMTP_REPLY_MORE:
		return;
	case SMTP_REPLY_BAD:
		smtp_reply_clear(&conn->reply);
		conn_broken(conn, BROKEN_GARBLED);
		return;
	case SMTP_REPLY_DONE:
		dispatch_reply(conn);
		smtp_reply_clear(&conn->reply);
		return;
	}
}

static void
read_replies(struct smtp_conn *conn)
{
	struct conn *io = conn->io;

	/* A handler may close the connection: the rest of this input is
	 * then not ours to read. After STARTTLS the layer gives no more
	 * plaintext lines. */
	while (conn->io == io && conn->state != CS_CLOSED) {
		size_t len;
		int flags;
		char *line = conn_read_line(io, LINE_HARD_MAX, &len, &flags);

		if (line == NULL)
			return;
		if (flags & CONN_LINE_CUT) {
			conn_broken(conn, BROKEN_GARBLED);
			return;
		}
		conn_line(conn, line);
	}
}

static void
io_read(struct conn *io, void *arg)
{
	(void)io;
	read_replies(arg);
}

static void
io_drained(struct conn *io, void *arg)
{
	struct smtp_conn *conn = arg;

	(void)io;
	if (conn->state == CS_BODY)
		smtp_xfer_writable(conn);
}

static void
io_tls_done(struct conn *io, void *arg)
{
	struct smtp_conn *conn = arg;

	(void)io;
	if (conn->state == CS_HANDSHAKE)
		tls_established(conn);
}

static void
io_timeout(struct smtp_conn *conn)
{
	switch (conn->state) {
	case CS_HANDSHAKE:
		msg_info("%s: TLS handshake timed out", conn->relay);
		stats_tls_failure("smtp", "timed out");
		tls_failed(conn);
		break;
	case CS_IDLE:
		/* smtp_connection_cache_time_limit */
		smtp_conn_quit(conn);
		break;
	default:
		conn_broken(conn, BROKEN_TIMEOUT);
		break;
	}
}

static void
io_event(struct conn *io, enum conn_event what, void *arg)
{
	struct smtp_conn *conn = arg;

	(void)io;
	switch (what) {
	case CONN_TIMEOUT:
		io_timeout(conn);
		break;
	case CONN_TLS_FAILED:
		tls_failed(conn);
		break;
	default:
		if (conn->state == CS_HANDSHAKE)
			tls_failed(conn);
		else
			conn_broken(conn, BROKEN_LOST);
		break;
	}
}

/* ---- failures ------------------------------------------------------------ */

static const char *
doing(const struct smtp_conn *conn)
{
	switch (conn->state) {
	case CS_GREETING:
		return "receiving the initial server greeting";
	case CS_EHLO:
		return "performing the EHLO handshake";
	case CS_HELO:
		return "performing the HELO handshake";
	case CS_STARTTLS:
		return "receiving the STARTTLS response";
	case CS_AUTH:
		return "performing the SASL authentication";
	case CS_XFER:
	case CS_BODY:
	case CS_DOT:
		return smtp_xfer_doing(conn);
	case CS_RSET:
		return "sending RSET";
	case CS_QUIT:
		return "sending QUIT";
	default:
		return "waiting for the next message";
	}
}

static void
conn_broken(struct smtp_conn *conn, enum broken_why why)
{
	struct smtp_run *run = conn->run;
	char *reason;

	switch (why) {
	case BROKEN_LOST:
		reason = xasprintf("lost connection with %s while %s",
		    conn->label, doing(conn));
		break;
	case BROKEN_TIMEOUT:
		reason = xasprintf("conversation with %s timed out while %s",
		    conn->label, doing(conn));
		break;
	default:
		reason = xasprintf("host %s sent a malformed reply while %s",
		    conn->label, doing(conn));
		break;
	}
	switch (conn->state) {
	case CS_GREETING:
	case CS_EHLO:
	case CS_HELO:
	case CS_STARTTLS:
	case CS_AUTH:
		conn_target_failed(conn, "4.4.2", 1, reason);
		return;
	case CS_XFER:
	case CS_BODY:
	case CS_DOT:
		/* A cached session the server dropped meanwhile: nothing
		 * was committed, so the run starts over elsewhere. */
		if (conn->reused && conn->n_replied == 0 &&
		    smtp_run_requeue(conn, run) == 0) {
			msg_info("%s; retrying on a new connection", reason);
			conn->run = NULL;
			break;
		}
		smtp_run_set_rest(run, SMTP_DEFER, "4.4.2", conn->relay,
		    reason);
		smtp_run_finish(conn->pool, run);
		conn->run = NULL;
		break;
	default:
		break;
	}
	free(reason);
	smtp_conn_close(conn);
}
