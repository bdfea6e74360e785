/* smtpd_session: the I/O side of one client connection, driven through
 * the connection layer (conn.h): command lines and DATA bytes come out of
 * the conn, replies go into it, STARTTLS and the orderly ending are the
 * layer's. A session is freed in exactly one place, session_free(),
 * reached from an event callback, never from a command handler, so
 * handlers may always touch the session they were given; and never while
 * the commit thread has its message (SS_COMMIT). */
#include "config.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/conn.h"
#include "tlsrelay/log.h"
#include "tlsrelay/map.h"
#include "tlsrelay/proxy.h"
#include "tlsrelay/smtpd_dnscheck.h"
#include "tlsrelay/stats.h"
#include "smtpd_session.h"


static struct smtpd_session *sessions;

static void session_read(struct conn *, void *);
static void session_drained(struct conn *, void *);
static void session_tls_done(struct conn *, void *);
static void session_event(struct conn *, enum conn_event, void *);
static void session_process_input(struct smtpd_session *);
static void session_begin(struct smtpd_session *);
static void session_proxied(struct conn *, const struct proxy_info *,
    void *);

static const struct conn_callbacks session_callbacks = {
	.read = session_read,
	.drained = session_drained,
	.tls_done = session_tls_done,
	.event = session_event,
};

static void
session_free(struct smtpd_session *s)
{
	void (*done)(void) = s->done;

	if (s->prev)
		s->prev->next = s->next;
	else
		sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;

	/* Without a PROXY header there was no client to speak of: the
	 * warning said why. */
	if (s->state != SS_PROXY && !s->no_client)
		session_log_disconnect(s);
	session_reset_transaction(s);
	smtpd_auth_reset(s);
	free(s->pending_line);
	if (s->anvil_counted)
		anvil_disconnect(s->anvil, s->worker_index, s->addr);
	if (s->pause_timer)
		event_free(s->pause_timer);
	smtpd_dnscheck_free(s->dnscheck);
	/* After a 221 or 421 a TLS client gets its close_notify. */
	conn_close(s->conn);
	strbuf_free(&s->content);
	free(s->tls);
	free(s->helo);
	free(s);
	if (done)
		done();
}

void
session_reply(struct smtpd_session *s, const char *fmt, ...)
{
	char line[SMTPD_REPLY_MAX + 64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 3)
		n = (int)sizeof(line) - 3;
	msg_debug("> %s[%s]: %s", s->name, s->addr, line);
	if (line[0] == '4' || line[0] == '5')
		s->errors++;
	line[n++] = '\r';
	line[n++] = '\n';
	conn_write(s->conn, line, (size_t)n);
}

void
session_close_after_reply(struct smtpd_session *s)
{
	s->state = SS_CLOSING;
	conn_read_pause(s->conn);
	/* session_drained runs when the output buffer is empty. */
	conn_wake_writer(s->conn);
}

static void
tls_begin(struct smtpd_session *s)
{
	s->state = SS_HANDSHAKE;
	if (conn_tls_new(s->conn, s->listener->ssl_ctx) == NULL ||
	    conn_starttls(s->conn, CONN_SERVER) < 0) {
		/* Logged; the client hears nothing more. */
		s->state = SS_CLOSING;
		conn_wake_writer(s->conn);
		return;
	}
	/* The whole handshake, not only each read: a ClientHello one byte
	 * at a time must not hold the session. */
	conn_set_idle_timeout(s->conn, s->policy->starttls_timeout);
	if (s->policy->starttls_timeout > 0) {
		conn_set_deadline(s->conn, s->policy->starttls_timeout);
		s->deadline_ms = -1;	/* armed: cleared when it is over */
	}
}

void
session_start_tls(struct smtpd_session *s)
{
	/* The 220 leaves first; what the client sent behind STARTTLS is
	 * discarded by the connection layer (CVE-2011-0411). */
	tls_begin(s);
}

static void
handshake_done(struct smtpd_session *s)
{
	SSL *ssl = conn_ssl(s->conn);

	s->tls = xcalloc(1, sizeof(*s->tls));
	tls_info_get(ssl, s->tls);
	/* The digest was checked when the configuration was read. */
	(void)tls_info_fingerprints(ssl, s->policy->fingerprint_digest,
	    s->tls);
	tls_log_server_established(s->tls, s->name, s->addr,
	    s->policy->tls_loglevel);
	s->tls_active = 1;
	/* RFC 3207: forget everything learned before TLS. */
	free(s->helo);
	s->helo = NULL;
	s->esmtp = 0;
	session_reset_transaction(s);
	smtpd_auth_reset(s);
	s->state = SS_COMMAND;
	session_deadline_done(s);
	conn_set_idle_timeout(s->conn, s->policy->timeout);
	if (s->policy->wrappermode && s->total[CNT_STARTTLS] == 0)
		session_greet(s);
}

static void
session_read(struct conn *conn, void *arg)
{
	(void)conn;
	session_process_input(arg);
}

static void
session_drained(struct conn *conn, void *arg)
{
	struct smtpd_session *s = arg;

	(void)conn;
	if (s->state == SS_CLOSING)
		session_free(s);
}

static void
session_tls_done(struct conn *conn, void *arg)
{
	struct smtpd_session *s = arg;

	(void)conn;
	handshake_done(s);
	session_process_input(s);
}

static void
session_event(struct conn *conn, enum conn_event what, void *arg)
{
	struct smtpd_session *s = arg;

	(void)conn;
	if (s->state == SS_COMMIT) {
		/* The commit thread still has the message: its outcome is
		 * logged (and answered, if the client still listens) before
		 * this is dealt with, in commit_done. */
		s->commit_event = (int)what + 1;
		return;
	}
	if (s->state == SS_CLOSING) {
		session_free(s);
		return;
	}
	if (what == CONN_TIMEOUT) {
		msg_info("timeout after %s from %s[%s]",
		    s->state == SS_HANDSHAKE ? "STARTTLS" : s->last_command,
		    s->name, s->addr);
		if (s->state == SS_HANDSHAKE) {
			stats_tls_failure("smtpd", "timed out");
			session_free(s);
			return;
		}
		session_reply(s, "421 4.4.2 %s Error: timeout exceeded",
		    s->policy->myhostname);
		session_close_after_reply(s);
		return;
	}
	/* A failed handshake was logged as "SSL_accept error from ...". */
	msg_info("lost connection after %s from %s[%s]",
	    s->state == SS_HANDSHAKE ? "STARTTLS" : s->last_command, s->name,
	    s->addr);
	session_free(s);
}

/* The commit thread is done with this session's message. */
static void
commit_done(void *arg, const char *err)
{
	struct smtpd_session *s = arg;
	int missed = s->commit_event;

	s->state = SS_COMMAND;
	s->commit_event = 0;
	session_data_committed(s, err);
	if (missed != 0) {
		session_event(s->conn, (enum conn_event)(missed - 1), s);
		return;
	}
	/* Commands pipelined behind the dot are waiting in the input. */
	conn_read_resume(s->conn);
	session_process_input(s);
}

void
session_commit(struct smtpd_session *s, struct spool_writer *w)
{
	/* Stop reading: the client's next command is answered after the
	 * dot, and the read timeout starts again when reading does. */
	s->state = SS_COMMIT;
	conn_read_pause(s->conn);
	smtpd_commit(w, commit_done, s);
}

void
session_wait_dns(struct smtpd_session *s)
{
	if (s->resume == RESUME_COMMAND) {
		free(s->pending_line);
		s->pending_line = xstrdup(s->current_line);
	}
	s->state = SS_WAIT_DNS;
	conn_read_pause(s->conn);
}

/* Every DNS answer the restrictions asked for is in: what waited is
 * done again from the start, now finding them in the memo. */
static void
dns_resume(void *arg)
{
	struct smtpd_session *s = arg;
	struct log_name saved;
	char *line;

	if (s->state != SS_WAIT_DNS)
		return;		/* shutting down: answered already */
	conn_log_enter(s->conn, &saved);
	s->state = SS_COMMAND;
	switch (s->resume) {
	case RESUME_CONNECT:
		session_begin(s);
		break;
	case RESUME_COMMAND:
		line = s->pending_line;
		s->pending_line = NULL;
		session_command(s, line);
		free(line);
		break;
	case RESUME_GREETING:
		session_greet(s);
		break;
	case RESUME_END_OF_DATA:
		session_data_end(s);
		break;
	}
	if (s->state == SS_COMMAND) {
		conn_read_resume(s->conn);
		session_process_input(s);
	}
	conn_log_leave(&saved);
}

void
session_auth_wait(struct smtpd_session *s)
{
	s->state = SS_AUTH;
	conn_read_pause(s->conn);
}

void
session_auth_resume(struct smtpd_session *s)
{
	s->state = SS_COMMAND;
	conn_read_resume(s->conn);
	session_process_input(s);
}

static void
pause_done(evutil_socket_t fd, short what, void *arg)
{
	struct smtpd_session *s = arg;
	struct log_name saved;

	(void)fd;
	(void)what;
	conn_log_enter(s->conn, &saved);
	s->state = SS_COMMAND;
	conn_read_resume(s->conn);
	session_process_input(s);
	conn_log_leave(&saved);
}

/* Postfix's smtpd_error_sleep_time: a client past the soft error limit
 * waits before each further reply is read. */
static int
maybe_pause(struct smtpd_session *s)
{
	struct timeval tv;

	if (s->state != SS_COMMAND || s->errors <= s->policy->soft_error_limit
	    || s->policy->error_sleep_time <= 0)
		return 0;
	if (s->pause_timer == NULL)
		s->pause_timer = evtimer_new(s->base, pause_done, s);
	tv.tv_sec = (time_t)s->policy->error_sleep_time;
	tv.tv_usec = 0;
	s->state = SS_PAUSED;
	conn_read_pause(s->conn);
	evtimer_add(s->pause_timer, &tv);
	return 1;
}

/* Takes one command line off the input. Returns the line, or NULL if a
 * whole line is not there yet or the session must end (*end set). */
static char *
next_line(struct smtpd_session *s, int *end)
{
	size_t len;
	int flags;
	char *line;

	*end = 0;
	for (;;) {
		line = conn_read_line(s->conn, (size_t)s->policy->line_limit,
		    &len, &flags);
		if (line == NULL)
			return NULL;
		s->line_cut = (flags & CONN_LINE_CUT) != 0;
		if ((flags & CONN_LINE_BARE_LF) && s->bare_lf_reject) {
			msg_info("disconnect: bare <LF> received from %s[%s] "
			    "after %s", s->name, s->addr, s->last_command);
			session_reply(s, "521 5.5.2 %s Error: bare <LF> received",
			    s->policy->myhostname);
			session_close_after_reply(s);
			*end = 1;
			return NULL;
		}
		if (!(flags & CONN_LINE_TAIL))
			return line;
	}
}

static void
process_data(struct smtpd_session *s)
{
	struct evbuffer *in = conn_input(s->conn);
	struct evbuffer_iovec vec[8];
	int n = evbuffer_peek(in, -1, NULL, vec, 8);
	size_t used = 0;

	for (int i = 0; i < n && i < 8 && s->state == SS_DATA; i++) {
		size_t u = session_data(s, vec[i].iov_base, vec[i].iov_len);

		used += u;
		if (u < vec[i].iov_len)
			break;
	}
	evbuffer_drain(in, used);
	if (s->state == SS_DATA)
		session_deadline_data(s, used);
	else
		session_deadline_done(s);
}

/* Logs a client line with -v, without the secrets of an AUTH exchange
 * (an initial response, a password). */
static void
debug_line(const struct smtpd_session *s, const char *line)
{
	size_t verb = strcspn(line, " \t"), mech;

	if (!msg_verbose)
		return;
	if (s->auth_step != 0) {
		msg_debug("< %s[%s]: ********", s->name, s->addr);
		return;
	}
	mech = verb + strspn(line + verb, " \t");
	mech += strcspn(line + mech, " \t");
	if (verb == 4 && strncasecmp(line, "AUTH", 4) == 0 &&
	    line[mech] != '\0')
		msg_debug("< %s[%s]: %.*s ********", s->name, s->addr,
		    (int)mech, line);
	else
		msg_debug("< %s[%s]: %s", s->name, s->addr, line);
}

/* Postfix's "improper command pipelining": the client sent more before
 * our reply to a command that must end a pipelined group (RFC 2920
 * 3.1), or before it knew that we speak ESMTP. reject_unauth_pipelining
 * refuses such a client later. */
static void
check_pipelining(struct smtpd_session *s, const char *line)
{
	static const char *const last[] = { "HELO", "EHLO", "STARTTLS",
	    "AUTH", "DATA", "NOOP", "VRFY" };
	struct evbuffer *in = conn_input(s->conn);
	size_t verb = strcspn(line, " \t"), avail;
	int must_be_last = 0;
	char next[101];

	if (s->improper_pipelining || s->auth_step != 0 ||
	    (avail = evbuffer_get_length(in)) == 0)
		return;
	for (size_t i = 0; i < sizeof(last) / sizeof(last[0]); i++)
		if (strlen(last[i]) == verb &&
		    strncasecmp(line, last[i], verb) == 0)
			must_be_last = 1;
	if (s->esmtp && !must_be_last)
		return;
	/* QUIT ends the session: what follows it is never read. */
	if (verb == 4 && strncasecmp(line, "QUIT", 4) == 0)
		return;
	if (avail > sizeof(next) - 1)
		avail = sizeof(next) - 1;
	evbuffer_copyout(in, next, avail);
	next[avail] = '\0';
	next[strcspn(next, "\r\n")] = '\0';
	msg_info("improper command pipelining after %.*s from %s[%s]: %s",
	    (int)verb, line, s->name, s->addr, next);
	s->improper_pipelining = 1;
}

static void
session_process_input(struct smtpd_session *s)
{
	char *line;
	int end;

	for (;;) {
		if (s->state == SS_DATA) {
			size_t before = evbuffer_get_length(
			    conn_input(s->conn));

			process_data(s);
			if (s->state == SS_DATA && evbuffer_get_length(
			    conn_input(s->conn)) == before)
				return;
			continue;
		}
		if (s->state != SS_COMMAND)
			return;
		if (s->errors >= s->policy->hard_error_limit) {
			msg_info("too many errors after %s from %s[%s]",
			    s->last_command, s->name, s->addr);
			session_reply(s, "421 4.7.0 %s Error: too many errors",
			    s->policy->myhostname);
			session_close_after_reply(s);
			return;
		}
		if ((line = next_line(s, &end)) == NULL) {
			if (!end)
				session_deadline_wait(s);
			return;
		}
		session_deadline_done(s);
		debug_line(s, line);
		check_pipelining(s, line);
		session_command(s, line);
		if (s->shutdown_requested && s->state == SS_COMMAND) {
			session_reply(s, "421 4.3.2 %s Service shutting down, "
			    "closing transmission channel",
			    s->policy->myhostname);
			session_close_after_reply(s);
			return;
		}
		if (maybe_pause(s))
			return;
	}
}

static void
format_addr(const struct sockaddr *sa, socklen_t salen, char *buf,
    size_t len, int *port)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

	*port = sa->sa_family == AF_INET6 ? ntohs(sin6->sin6_port) :
	    sa->sa_family == AF_INET ?
	    ntohs(((const struct sockaddr_in *)sa)->sin_port) : 0;

	if (sa->sa_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], buf,
		    (socklen_t)len);
		return;
	}
	if (getnameinfo(sa, salen, buf, (socklen_t)len, NULL, 0,
	    NI_NUMERICHOST) != 0)
		snprintf(buf, len, "unknown");
}

/* Refuses the connection before any SMTP, when the client already holds
 * smtpd_client_connection_count_limit connections over all workers. */
static int
over_connection_limit(struct smtpd_session *s)
{
	const struct smtpd_policy *p = s->policy;
	int count;

	if (s->anvil == NULL)
		return 0;
	count = anvil_connect(s->anvil, s->worker_index, s->addr);
	s->anvil_counted = 1;
	if (p->conn_count_limit <= 0 || count <= p->conn_count_limit ||
	    cidr_list_match_text(p->event_limit_exceptions, s->addr))
		return 0;
	msg_warn("Connection concurrency limit exceeded: %d from %s[%s] for "
	    "service %s", count, s->name, s->addr, s->listener->name);
	return 1;
}


void
smtpd_session_start(struct event_base *base, int fd,
    const struct sockaddr *sa, socklen_t salen,
    const struct smtpd_listener *listener, struct anvil *anvil,
    int worker_index, void (*done)(void))
{
	struct smtpd_session *s = xcalloc(1, sizeof(*s));
	struct sockaddr_storage local;
	socklen_t local_len;
	struct log_name saved;
	char *peer;

	s->listener = listener;
	s->policy = listener->policy;
	s->anvil = anvil;
	s->worker_index = worker_index;
	s->done = done;
	s->last_command = "CONNECT";
	format_addr(sa, salen, s->addr, sizeof(s->addr), &s->port);
	/* For the SASL backend (Dovecot's lip= and lport=). */
	local_len = sizeof(local);
	if (getsockname(fd, (struct sockaddr *)&local, &local_len) == 0)
		format_addr((struct sockaddr *)&local, local_len,
		    s->local_addr, sizeof(s->local_addr), &s->local_port);
	snprintf(s->name, sizeof(s->name), "unknown");
	strbuf_init(&s->content);
	s->bare_lf_reject = s->policy->bare_lf_mode == BARE_LF_REJECT &&
	    !cidr_list_match_text(s->policy->bare_lf_exclusions, s->addr);
	peer = xasprintf("%s[%s]", s->name, s->addr);
	s->conn = conn_new(base, fd, peer, log_service(), &session_callbacks,
	    s);
	/* A service's own syslog_name (master.cf -o syslog_name=
	 * postfix/submission) names every line of its sessions. */
	conn_set_log_ident(s->conn, conf_str(listener->conf, P_syslog_name));
	free(peer);
	s->base = base;
	if (smtpd_worker_dns() != NULL)
		s->dnscheck = smtpd_dnscheck_new(smtpd_worker_dns(),
		    1000 * conf_time(listener->conf,
		    P_tlsrelay_smtpd_dns_timeout), dns_resume, s);

	s->next = sessions;
	if (sessions)
		sessions->prev = s;
	sessions = s;

	/* Behind a load balancer its header names the client, before
	 * anything is looked up, counted, logged or said. */
	if (s->policy->upstream_proxy) {
		s->state = SS_PROXY;
		conn_proxy_receive(s->conn, s->policy->upstream_proxy_timeout,
		    session_proxied);
		return;
	}
	conn_log_enter(s->conn, &saved);
	session_begin(s);
	conn_log_leave(&saved);
}

/* The PROXY header is in (info), or there was none (NULL, logged by the
 * connection layer; the client gets Postfix's 421). Its client replaces
 * the socket's peer everywhere from here on; a health check of the balancer's own (v2 LOCAL, v1
 * UNKNOWN) keeps the socket's peer, as Postfix does with LOCAL. */
static void
session_proxied(struct conn *conn, const struct proxy_info *info, void *arg)
{
	struct smtpd_session *s = arg;
	char *peer;

	if (info == NULL) {
		/* As Postfix: we do not know who this is, so hang up before
		 * reading anything, with a reply the balancer can log. */
		s->no_client = 1;
		session_reply(s, "421 4.3.0 %s Server local error",
		    s->policy->myhostname);
		session_close_after_reply(s);
		return;
	}
	if (!info->local) {
		snprintf(s->addr, sizeof(s->addr), "%s", info->client_addr);
		s->port = (int)info->client_port;
		/* The address the client connected to (Dovecot's lip=). */
		snprintf(s->local_addr, sizeof(s->local_addr), "%s",
		    info->server_addr);
		s->local_port = (int)info->server_port;
		s->bare_lf_reject = s->policy->bare_lf_mode ==
		    BARE_LF_REJECT && !cidr_list_match_text(
		    s->policy->bare_lf_exclusions, s->addr);
		peer = xasprintf("%s[%s]", s->name, s->addr);
		conn_set_peer(conn, peer);
		free(peer);
	}
	/* As smtpd_session_start leaves a session without a header. */
	s->state = SS_HANDSHAKE;
	session_begin(s);
}

static void session_connected(struct smtpd_session *s);

/* Postfix's smtpd_peername_lookup: the client's name (PTR, confirmed by
 * the name's addresses) before anything is logged or said, bounded by
 * tlsrelay_smtpd_dns_timeout. "unknown" when there is none. */
static void
session_begin(struct smtpd_session *s)
{
	const struct client_name_answer *cn;

	if (s->dnscheck == NULL ||
	    !conf_bool(s->listener->conf, P_smtpd_peername_lookup)) {
		session_connected(s);
		return;
	}
	if (smtpd_dnscheck_client_name(s->dnscheck, s->addr, &cn) ==
	    DNSCHECK_PENDING) {
		/* Whatever the client sends meanwhile (a TLS ClientHello on
		 * a wrappermode port) stays in the socket: a STARTTLS
		 * handshake discards plaintext read before it. */
		s->resume = RESUME_CONNECT;
		s->state = SS_WAIT_DNS;
		conn_read_pause(s->conn);
		return;
	}
	conn_read_resume(s->conn);
	if (cn->status == DNSCHECK_FOUND) {
		char *peer;

		snprintf(s->name, sizeof(s->name), "%s", cn->name);
		peer = xasprintf("%s[%s]", s->name, s->addr);
		conn_set_peer(s->conn, peer);
		free(peer);
	}
	session_connected(s);
}

/* The session proper, once the client's name is known. */
static void
session_connected(struct smtpd_session *s)
{
	msg_info("connect from %s[%s]", s->name, s->addr);
	if (over_connection_limit(s)) {
		session_reply(s, "421 4.7.0 %s Error: too many connections "
		    "from %s", s->policy->myhostname, s->addr);
		session_close_after_reply(s);
		return;
	}
	if (s->policy->wrappermode) {
		tls_begin(s);
		return;
	}
	conn_set_idle_timeout(s->conn, s->policy->timeout);
	s->state = SS_COMMAND;
	session_greet(s);
	/* What a client sent before the greeting waits in the input. */
	session_process_input(s);
}

void
smtpd_sessions_shutdown(void)
{
	struct smtpd_session *s, *next;

	for (s = sessions; s != NULL; s = next) {
		next = s->next;
		s->shutdown_requested = 1;
		switch (s->state) {
		case SS_COMMAND:
		case SS_PAUSED:
		case SS_WAIT_DNS:
		case SS_AUTH:	/* the verdict is dropped */
			if (s->pause_timer)
				evtimer_del(s->pause_timer);
			session_reply(s, "421 4.3.2 %s Service shutting down, "
			    "closing transmission channel",
			    s->policy->myhostname);
			session_close_after_reply(s);
			break;
		case SS_HANDSHAKE:
		case SS_PROXY:
			session_free(s);
			break;
		case SS_DATA:	/* finishes its message, then 421 */
		case SS_COMMIT:
		case SS_CLOSING:
			break;
		}
	}
}
