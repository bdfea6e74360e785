/* smtpd_session: the I/O side of one client connection. Lines and DATA
 * bytes come out of a bufferevent (plain or OpenSSL); replies go into it.
 * STARTTLS swaps the plain bufferevent for an OpenSSL one on the same
 * socket, after throwing away every byte the client sent behind the
 * STARTTLS line (CVE-2011-0411). A session is freed in exactly one place,
 * session_free(), reached from an event callback, never from a command
 * handler, so handlers may always touch the session they were given; and
 * never while the commit thread has its message (SS_COMMIT). */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include <openssl/err.h>

#include "tlsrelay/log.h"
#include "tlsrelay/map.h"
#include "smtpd_session.h"

static struct smtpd_session *sessions;

static void session_read_cb(struct bufferevent *, void *);
static void session_write_cb(struct bufferevent *, void *);
static void session_event_cb(struct bufferevent *, short, void *);
static void session_process_input(struct smtpd_session *);

static void
set_timeout(struct smtpd_session *s, long long seconds)
{
	struct timeval tv = { .tv_sec = (time_t)seconds, .tv_usec = 0 };

	bufferevent_set_timeouts(s->bev, &tv, &tv);
}

static void
session_attach(struct smtpd_session *s, struct bufferevent *bev)
{
	s->bev = bev;
	bufferevent_setcb(bev, session_read_cb, session_write_cb,
	    session_event_cb, s);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

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

	session_log_disconnect(s);
	session_reset_transaction(s);
	smtpd_auth_reset(s);
	if (s->anvil)
		anvil_disconnect(s->anvil, s->worker_index, s->addr);
	if (s->pause_timer)
		event_free(s->pause_timer);
	if (s->bev)
		bufferevent_free(s->bev);
	/* A TLS bufferevent owns the socket and the SSL; a plain one not. */
	if (s->ssl == NULL)
		close(s->fd);
	strbuf_free(&s->content);
	free(s->line);
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
	bufferevent_write(s->bev, line, (size_t)n);
}

void
session_close_after_reply(struct smtpd_session *s)
{
	s->state = SS_CLOSING;
	bufferevent_disable(s->bev, EV_READ);
	/* Our write callback fires when the output buffer is empty. */
	bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
		bufferevent_trigger(s->bev, EV_WRITE, BEV_TRIG_IGNORE_WATERMARKS);
}

void
session_start_tls(struct smtpd_session *s)
{
	/* Stop reading now: the next bytes from an honest client are its
	 * ClientHello, which must reach OpenSSL, not our plain buffer. */
	bufferevent_disable(s->bev, EV_READ);
	s->state = SS_STARTTLS_FLUSH;
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
		bufferevent_trigger(s->bev, EV_WRITE, BEV_TRIG_IGNORE_WATERMARKS);
}

static int
tls_begin(struct smtpd_session *s)
{
	SSL *ssl = SSL_new((SSL_CTX *)s->listener->ssl_ctx);
	struct bufferevent *bev;

	if (ssl == NULL) {
		tls_log_errors("SSL_new");
		return -1;
	}
	bev = bufferevent_openssl_socket_new(s->base, s->fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		SSL_free(ssl);
		return -1;
	}
	/* Many clients close without close_notify; that is not an error. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	s->ssl = ssl;
	s->state = SS_HANDSHAKE;
	session_attach(s, bev);
	set_timeout(s, s->policy->starttls_timeout);
	return 0;
}

/* The 220 to STARTTLS has left: drop what the client sent in plaintext
 * behind STARTTLS and start the handshake. */
static void
starttls_switch(struct smtpd_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	size_t junk = evbuffer_get_length(in);

	if (junk > 0)
		msg_info("%s[%s]: discarding %zu bytes of plaintext sent after "
		    "STARTTLS (CVE-2011-0411 injection attempt)", s->name,
		    s->addr, junk);
	bufferevent_free(s->bev);
	s->bev = NULL;
	if (tls_begin(s) < 0) {
		msg_warn("cannot start TLS for %s[%s]", s->name, s->addr);
		session_free(s);
	}
}

static void
handshake_done(struct smtpd_session *s)
{
	tls_info_get(s->ssl, &s->tls);
	/* The digest was checked when the configuration was read. */
	(void)tls_info_fingerprints(s->ssl, s->policy->fingerprint_digest,
	    &s->tls);
	tls_log_server_established(&s->tls, s->name, s->addr,
	    s->policy->tls_loglevel);
	s->tls_active = 1;
	/* RFC 3207: forget everything learned before TLS. */
	free(s->helo);
	s->helo = NULL;
	s->esmtp = 0;
	session_reset_transaction(s);
	smtpd_auth_reset(s);
	s->state = SS_COMMAND;
	set_timeout(s, s->policy->timeout);
	if (s->policy->wrappermode && s->total[CNT_STARTTLS] == 0)
		session_greet(s);
}

static void
session_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	session_process_input(arg);
}

static void
session_write_cb(struct bufferevent *bev, void *arg)
{
	struct smtpd_session *s = arg;

	if (evbuffer_get_length(bufferevent_get_output(bev)) != 0)
		return;
	if (s->state == SS_CLOSING)
		session_free(s);
	else if (s->state == SS_STARTTLS_FLUSH)
		starttls_switch(s);
}

static void
session_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct smtpd_session *s = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		handshake_done(s);
		session_process_input(s);
		return;
	}
	if (s->state == SS_COMMIT) {
		/* The commit thread still has the message: its outcome is
		 * logged (and answered, if the client still listens) before
		 * this is dealt with, in commit_done. */
		s->commit_events |= what;
		return;
	}
	if (s->state == SS_CLOSING) {
		session_free(s);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		msg_info("timeout after %s from %s[%s]",
		    s->state == SS_HANDSHAKE ? "STARTTLS" : s->last_command,
		    s->name, s->addr);
		if (s->state == SS_HANDSHAKE) {
			session_free(s);
			return;
		}
		bufferevent_enable(s->bev, EV_WRITE);
		session_reply(s, "421 4.4.2 %s Error: timeout exceeded",
		    s->policy->myhostname);
		session_close_after_reply(s);
		return;
	}
	if (s->state == SS_HANDSHAKE) {
		unsigned long e = bufferevent_get_openssl_error(s->bev);
		const char *why = e ? ERR_reason_error_string(e) : NULL;

		msg_info("SSL_accept error from %s[%s]: %s", s->name, s->addr,
		    why ? why : "lost connection");
		while ((e = bufferevent_get_openssl_error(s->bev)) != 0)
			msg_warn("TLS library problem: %s",
			    ERR_error_string(e, NULL));
	}
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
	short missed = s->commit_events;

	s->state = SS_COMMAND;
	s->commit_events = 0;
	session_data_committed(s, err);
	if (missed != 0) {
		session_event_cb(s->bev, missed, s);
		return;
	}
	/* Commands pipelined behind the dot are waiting in the input. */
	bufferevent_enable(s->bev, EV_READ);
	session_process_input(s);
}

void
session_commit(struct smtpd_session *s, struct spool_writer *w)
{
	/* Stop reading: the client's next command is answered after the
	 * dot, and the read timeout starts again when reading does. */
	s->state = SS_COMMIT;
	bufferevent_disable(s->bev, EV_READ);
	smtpd_commit(w, commit_done, s);
}

static void
pause_done(evutil_socket_t fd, short what, void *arg)
{
	struct smtpd_session *s = arg;

	(void)fd;
	(void)what;
	s->state = SS_COMMAND;
	bufferevent_enable(s->bev, EV_READ);
	session_process_input(s);
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
	bufferevent_disable(s->bev, EV_READ);
	evtimer_add(s->pause_timer, &tv);
	return 1;
}

static int
byte_at(struct evbuffer *in, size_t pos)
{
	struct evbuffer_ptr ptr;
	unsigned char c;

	if (evbuffer_ptr_set(in, &ptr, pos, EVBUFFER_PTR_SET) < 0 ||
	    evbuffer_copyout_from(in, &ptr, &c, 1) != 1)
		return -1;
	return c;
}

/* Takes one command line off the input. Returns 1 with line filled, 0 if
 * a whole line is not there yet, -1 when the session must end. */
static int
next_line(struct smtpd_session *s, char *line, size_t linesize)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);

	s->line_cut = 0;
	for (;;) {
		size_t eol_len = 0, len, avail = evbuffer_get_length(in);
		struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, &eol_len,
		    EVBUFFER_EOL_LF);
		int bare_lf = 0;

		if (eol.pos < 0) {
			/* No end of line: cut an over-long line, as Postfix
			 * does, and skip the rest of it when it comes. */
			if (avail <= linesize - 1)
				return 0;
			evbuffer_remove(in, line, linesize - 1);
			line[linesize - 1] = '\0';
			s->skip_rest = 1;
			s->line_cut = 1;
			return 1;
		}
		len = (size_t)eol.pos;
		if (len == 0 || byte_at(in, len - 1) != '\r')
			bare_lf = 1;
		else
			len--;
		if (bare_lf && s->bare_lf_reject) {
			msg_info("disconnect: bare <LF> received from %s[%s] "
			    "after %s", s->name, s->addr, s->last_command);
			session_reply(s, "521 5.5.2 %s Error: bare <LF> received",
			    s->policy->myhostname);
			session_close_after_reply(s);
			return -1;
		}
		if (s->skip_rest) {
			evbuffer_drain(in, (size_t)eol.pos + 1);
			s->skip_rest = 0;
			continue;
		}
		if (len > linesize - 1) {
			evbuffer_remove(in, line, linesize - 1);
			line[linesize - 1] = '\0';
			evbuffer_drain(in, (size_t)eol.pos + 1 - (linesize - 1));
			s->line_cut = 1;
		} else {
			evbuffer_remove(in, line, len);
			line[len] = '\0';
			evbuffer_drain(in, (size_t)eol.pos + 1 - len);
		}
		return 1;
	}
}

static void
process_data(struct smtpd_session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
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

static void
session_process_input(struct smtpd_session *s)
{
	char *line = s->line;

	for (;;) {
		if (s->state == SS_DATA) {
			size_t before = evbuffer_get_length(
			    bufferevent_get_input(s->bev));

			process_data(s);
			if (s->state == SS_DATA && evbuffer_get_length(
			    bufferevent_get_input(s->bev)) == before)
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
		switch (next_line(s, line, s->policy->line_limit + 1)) {
		case 0:
			return;
		case -1:
			return;
		}
		debug_line(s, line);
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
    size_t len)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

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

	s->base = base;
	s->fd = fd;
	s->listener = listener;
	s->policy = listener->policy;
	s->anvil = anvil;
	s->worker_index = worker_index;
	s->done = done;
	s->last_command = "CONNECT";
	format_addr(sa, salen, s->addr, sizeof(s->addr));
	snprintf(s->name, sizeof(s->name), "unknown");
	strbuf_init(&s->content);
	s->line = xmalloc(s->policy->line_limit + 1);
	s->bare_lf_reject = s->policy->bare_lf_mode == BARE_LF_REJECT &&
	    !cidr_list_match_text(s->policy->bare_lf_exclusions, s->addr);

	s->next = sessions;
	if (sessions)
		sessions->prev = s;
	sessions = s;

	msg_info("connect from %s[%s]", s->name, s->addr);
	if (over_connection_limit(s)) {
		session_attach(s, bufferevent_socket_new(base, fd, 0));
		session_reply(s, "421 4.7.0 %s Error: too many connections "
		    "from %s", s->policy->myhostname, s->addr);
		session_close_after_reply(s);
		return;
	}
	if (s->policy->wrappermode) {
		if (tls_begin(s) < 0) {
			msg_warn("cannot start TLS for %s[%s]", s->name,
			    s->addr);
			session_free(s);
		}
		return;
	}
	session_attach(s, bufferevent_socket_new(base, fd, 0));
	set_timeout(s, s->policy->timeout);
	s->state = SS_COMMAND;
	session_greet(s);
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
			if (s->pause_timer)
				evtimer_del(s->pause_timer);
			session_reply(s, "421 4.3.2 %s Service shutting down, "
			    "closing transmission channel",
			    s->policy->myhostname);
			session_close_after_reply(s);
			break;
		case SS_HANDSHAKE:
		case SS_STARTTLS_FLUSH:
			session_free(s);
			break;
		case SS_DATA:	/* finishes its message, then 421 */
		case SS_COMMIT:
		case SS_CLOSING:
			break;
		}
	}
}
