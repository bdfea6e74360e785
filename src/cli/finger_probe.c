/* finger_probe: one SMTP session with one address for tlsrelay
 * tls-finger, driven through the connection layer (src/net) like the
 * relay's own client: the same STARTTLS, the same handshake error lines,
 * the same SSL set-up (tls_client_ssl_setup) and session cache
 * (tls_client_session_prepare). It greets, asks for STARTTLS when the
 * server offers it, says EHLO again over TLS so that TLS 1.3 session
 * tickets arrive, and QUITs: no MAIL command is ever sent. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <event2/event.h>

#include "tlsrelay/conn.h"
#include "tlsrelay/dns.h"
#include "tlsrelay/log.h"
#include "tlsrelay/smtp.h"
#include "tlsrelay/tls.h"
#include "tlsrelay/tls_client.h"
#include "tlsrelay/util.h"

#include "finger.h"

enum state {
	S_GREETING,
	S_EHLO,
	S_STARTTLS,
	S_HANDSHAKE,
	S_QUIT,
	S_DONE,
};

struct session {
	struct finger_probe *p;
	const struct dns_target *t;
	char addr[64];
	unsigned port;
	struct conn *conn;
	enum state state;
	int tls_active;
	struct smtp_reply reply;
};

/* What the relay's client says of a step that went wrong. */
static const char *
state_words(enum state s)
{
	switch (s) {
	case S_GREETING:
		return "while receiving the initial server greeting";
	case S_EHLO:
		return "while performing the EHLO handshake";
	case S_STARTTLS:
		return "while sending STARTTLS";
	case S_HANDSHAKE:
		return "while performing the TLS handshake";
	default:
		return "while sending QUIT";
	}
}

static void
send_line(struct session *s, const char *line)
{
	if (s->p->chat)
		printf("> %s\n", line);
	conn_printf(s->conn, "%s\r\n", line);
}

static void
finish(struct session *s)
{
	s->state = S_DONE;
	smtp_reply_clear(&s->reply);
	if (s->conn != NULL)
		conn_close(s->conn);
	s->conn = NULL;
}

/* The session stops at stage for why (taken); say QUIT if the server
 * can still hear it. */
static void
stop(struct session *s, enum finger_stage stage, char *why, int quit)
{
	s->p->stage = stage;
	free(s->p->why);
	s->p->why = why;
	if (quit && s->conn != NULL) {
		send_line(s, "QUIT");
		s->state = S_QUIT;
		return;
	}
	finish(s);
}

static void
send_ehlo(struct session *s)
{
	char *line = xasprintf("EHLO %s", s->p->helo_name);

	send_line(s, line);
	free(line);
	s->state = S_EHLO;
}

static void
start_tls(struct session *s)
{
	struct finger_probe *p = s->p;
	char *sni, *err = NULL;
	SSL *ssl;

	if ((ssl = conn_tls_new(s->conn, p->ssl_ctx)) == NULL) {
		stop(s, FINGER_TLS_FAILED, xstrdup("Cannot start TLS: "
		    "handshake failure"), 0);
		return;
	}
	sni = tls_client_sni(p->policy->servername, s->t->hostname,
	    p->nexthop);
	if (tls_client_ssl_setup(ssl, p->policy, sni, &err) != 0) {
		msg_warn("%s: %s", p->peer, err);
		free(err);
		free(sni);
		stop(s, FINGER_TLS_FAILED, xstrdup("Cannot start TLS: "
		    "handshake failure"), 0);
		return;
	}
	free(sni);
	if (p->dane != NULL) {
		/* As smtp_conn.c: no resumption, a resumed session was never
		 * matched against these records. */
		if (tls_client_dane_setup(ssl, p->dane, &err) != 0) {
			msg_warn("%s: %s", p->peer, err);
			free(err);
			stop(s, FINGER_TLS_FAILED, xstrdup("Cannot start TLS: "
			    "handshake failure"), 0);
			return;
		}
	} else
		/* The relay's key: next hop, host, address, port, policy. */
		p->session_offered = tls_client_session_prepare(ssl,
		    p->nexthop, s->t->hostname, s->addr, s->port,
		    tls_policy_cache_key(p->policy));
	s->state = S_HANDSHAKE;
	if (conn_starttls(s->conn, CONN_CLIENT) < 0)
		stop(s, FINGER_TLS_FAILED, xstrdup("Cannot start TLS: "
		    "handshake failure"), 0);
}

static void
handle_reply(struct session *s)
{
	const struct smtp_reply *r = &s->reply;
	struct finger_probe *p = s->p;

	switch (s->state) {
	case S_GREETING:
		if (r->code != 220) {
			stop(s, FINGER_NO_SMTP, xasprintf("host %s refused to "
			    "talk to me: %d %s", p->peer, r->code, r->text), 1);
			return;
		}
		send_ehlo(s);
		return;
	case S_EHLO:
		if (r->code != 250) {
			stop(s, FINGER_NO_SMTP, xasprintf("host %s said: %d %s "
			    "(in reply to EHLO command)", p->peer, r->code,
			    r->text), 1);
			return;
		}
		if (s->tls_active) {
			send_line(s, "QUIT");
			s->state = S_QUIT;
		} else if (!smtp_reply_has_ext(r, "STARTTLS", NULL)) {
			stop(s, FINGER_NO_STARTTLS, xasprintf("TLS is "
			    "required, but was not offered by host %s",
			    p->peer), 1);
		} else if (p->ssl_ctx == NULL) {
			stop(s, FINGER_NO_STARTTLS, xstrdup("STARTTLS not "
			    "tried: " TLS_POLICY_PROBLEM), 1);
		} else {
			send_line(s, "STARTTLS");
			s->state = S_STARTTLS;
		}
		return;
	case S_STARTTLS:
		if (r->code / 100 != 2) {
			stop(s, FINGER_STARTTLS_REFUSED, xasprintf("TLS is "
			    "required, but host %s refused to start TLS: "
			    "%d %s", p->peer, r->code, r->text), 1);
			return;
		}
		start_tls(s);
		return;
	case S_QUIT:
		finish(s);
		return;
	default:
		return;
	}
}

static void
read_cb(struct conn *conn, void *arg)
{
	struct session *s = arg;
	char *line;
	size_t len;
	int flags;

	(void)conn;
	while (s->state != S_DONE && s->state != S_HANDSHAKE &&
	    (line = conn_read_line(s->conn, 4096, &len, &flags)) != NULL) {
		if (flags & CONN_LINE_TAIL)
			continue;
		if (s->p->chat)
			printf("< %s\n", line);
		switch (smtp_reply_feed(&s->reply, line)) {
		case SMTP_REPLY_MORE:
			continue;
		case SMTP_REPLY_BAD:
			stop(s, FINGER_NO_SMTP, xasprintf("host %s sent a "
			    "malformed reply %s", s->p->peer,
			    state_words(s->state)), 0);
			return;
		case SMTP_REPLY_DONE:
			handle_reply(s);
			smtp_reply_clear(&s->reply);
			memset(&s->reply, 0, sizeof(s->reply));
			break;
		}
	}
}

static void
tls_done_cb(struct conn *conn, void *arg)
{
	struct session *s = arg;
	SSL *ssl = conn_ssl(conn);

	s->tls_active = 1;
	s->p->stage = FINGER_TLS;
	s->p->resumed = SSL_session_reused(ssl);
	s->p->ticket = SSL_SESSION_has_ticket(SSL_get0_session(ssl));
	snprintf(s->p->protocol, sizeof(s->p->protocol), "%s",
	    SSL_get_version(ssl));
	if (s->p->tls_done != NULL)
		s->p->tls_done(ssl, s->p->arg);
	/* RFC 3207: what the server said before TLS is forgotten. */
	send_ehlo(s);
}

static void
event_cb(struct conn *conn, enum conn_event what, void *arg)
{
	struct session *s = arg;
	struct finger_probe *p = s->p;

	(void)conn;
	if (what == CONN_TLS_FAILED) {
		/* As the relay: a stored session may be what the server
		 * choked on. */
		if (conn_ssl(s->conn) != NULL)
			tls_client_session_forget(conn_ssl(s->conn));
		p->stage = FINGER_TLS_FAILED;
		free(p->why);
		p->why = xstrdup("Cannot start TLS: handshake failure");
		conn_abort(s->conn);
		s->conn = NULL;
		finish(s);
		return;
	}
	if (s->state == S_QUIT) {
		finish(s);
		return;
	}
	free(p->why);
	p->why = what == CONN_TIMEOUT ?
	    xasprintf("conversation with %s timed out %s", p->peer,
	    state_words(s->state)) :
	    xasprintf("lost connection with %s %s", p->peer,
	    state_words(s->state));
	/* After the handshake the verdicts stand: they are TLS's. */
	if (p->stage != FINGER_TLS)
		p->stage = s->state == S_HANDSHAKE ? FINGER_TLS_FAILED :
		    FINGER_NO_SMTP;
	conn_abort(s->conn);
	s->conn = NULL;
	finish(s);
}

/* A blocking connect bounded by the timeout: a command waits anyway. */
static int
connect_to(const struct dns_target *t, long long timeout, char **why,
    const char *peer)
{
	struct pollfd pfd;
	socklen_t len = sizeof(int);
	int fd, error = 0, n;

	fd = socket(t->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd < 0 || (connect(fd, (const struct sockaddr *)&t->addr,
	    t->addrlen) < 0 && errno != EINPROGRESS)) {
		*why = xasprintf("connect to %s: %s", peer, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	pfd.fd = fd;
	pfd.events = POLLOUT;
	do
		n = poll(&pfd, 1, (int)(timeout * 1000));
	while (n < 0 && errno == EINTR);
	if (n == 0)
		error = ETIMEDOUT;
	else if (n < 0)
		error = errno;
	else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0)
		error = errno;
	if (error != 0) {
		*why = xasprintf("connect to %s: %s", peer, strerror(error));
		close(fd);
		return -1;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 },
	    sizeof(int));
	return fd;
}

void
finger_probe_run(struct event_base *base, const struct dns_target *t,
    struct finger_probe *p)
{
	static const struct conn_callbacks cbs = {
		.read = read_cb,
		.tls_done = tls_done_cb,
		.event = event_cb,
	};
	struct session s;
	int fd;

	memset(&s, 0, sizeof(s));
	s.p = p;
	s.t = t;
	p->stage = FINGER_NO_CONNECT;
	p->session_offered = p->resumed = 0;
	s.port = dns_target_address(t, s.addr, sizeof(s.addr));
	if ((fd = connect_to(t, p->timeout, &p->why, p->peer)) < 0) {
		if (p->chat)
			printf("%s\n", p->why);
		return;
	}
	if (p->chat)
		printf("Connected to %s\n", p->peer);
	p->stage = FINGER_NO_SMTP;
	s.conn = conn_new(base, fd, p->peer, "smtp", &cbs, &s);
	conn_set_idle_timeout(s.conn, p->timeout);
	s.state = S_GREETING;
	event_base_dispatch(base);
	if (s.state != S_DONE) {
		/* The loop ran dry with the session unfinished. */
		if (p->why == NULL)
			p->why = xasprintf("lost connection with %s %s",
			    p->peer, state_words(s.state));
		finish(&s);
		event_base_dispatch(base);
	}
	fflush(stdout);
}

void
finger_probe_clear(struct finger_probe *p)
{
	free(p->why);
	p->why = NULL;
}
