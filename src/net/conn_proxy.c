/* conn_proxy: the PROXY protocol header (proxy.h) that a load balancer
 * sends before its client's first byte, read from the socket while the
 * bufferevent is not reading. Nothing past the header is taken: the
 * bytes are peeked, and only those that belong to the header are read
 * (what follows is SMTP, or the ClientHello of a wrappermode port, and
 * must stay in the socket). A header that arrives in pieces is taken
 * piece by piece, so a slow balancer never makes the loop spin on a
 * socket that stays readable. The whole header must be in within the
 * owner's time limit (Postfix's smtpd_upstream_proxy_timeout). */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "tlsrelay/log.h"
#include "tlsrelay/proxy.h"
#include "conn_int.h"

struct conn_proxy {
	struct event *ev;
	long long deadline;		/* monotonic_ms() */
	unsigned char buf[PROXY_HEADER_MAX];
	size_t have;			/* header bytes read so far */
	conn_proxy_done_fn done;
};

static void proxy_read_cb(evutil_socket_t, short, void *);

static void
proxy_wait(struct conn *conn)
{
	struct conn_proxy *p = conn->proxy;
	long long left = p->deadline - monotonic_ms();
	struct timeval tv;

	if (left < 0)
		left = 0;
	tv.tv_sec = (time_t)(left / 1000);
	tv.tv_usec = (suseconds_t)(left % 1000) * 1000;
	event_add(p->ev, &tv);
}

/* Ends the reading: info is the header's, or NULL after the warning
 * saying why not. */
static void
proxy_finish(struct conn *conn, const struct proxy_info *info,
    const char *why)
{
	struct conn_proxy *p = conn->proxy;
	conn_proxy_done_fn done = p->done;

	conn_proxy_forget(conn);
	if (info == NULL)
		msg_warn("haproxy read: %s from %s", why, conn->peer);
	else
		bufferevent_enable(conn->bev, EV_READ);
	done(conn, info, conn->arg);
}

static void
proxy_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *conn = arg;
	struct conn_proxy *p = conn->proxy;
	struct proxy_info info;
	enum proxy_status status;
	struct log_name saved;
	const char *why;
	size_t used, take;
	ssize_t n;

	conn_log_enter(conn, &saved);
	if (what & EV_TIMEOUT) {
		proxy_finish(conn, NULL, "time limit exceeded");
		goto out;
	}
	n = recv(fd, p->buf + p->have, sizeof(p->buf) - p->have, MSG_PEEK);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR)) {
		proxy_wait(conn);
		goto out;
	}
	if (n <= 0) {
		proxy_finish(conn, NULL, n == 0 ? "lost connection" :
		    strerror(errno));
		goto out;
	}
	status = proxy_parse(p->buf, p->have + (size_t)n, &info, &used, &why);
	if (status == PROXY_OK && used <= p->have)
		status = PROXY_ERROR;	/* cannot be: a prefix was not one */
	if (status == PROXY_ERROR) {
		proxy_finish(conn, NULL, why ? why : "malformed header");
		goto out;
	}
	/* NEED_MORE: every byte so far is header. */
	take = status == PROXY_OK ? used - p->have : (size_t)n;
	/* The same bytes again, now taken off the socket. */
	if (recv(fd, p->buf + p->have, take, 0) != (ssize_t)take) {
		proxy_finish(conn, NULL, "lost connection");
		goto out;
	}
	p->have += take;
	if (status == PROXY_OK) {
		proxy_finish(conn, &info, NULL);
		goto out;
	}
	proxy_wait(conn);
out:
	conn_log_leave(&saved);
}

void
conn_proxy_receive(struct conn *conn, long long seconds,
    conn_proxy_done_fn done)
{
	struct conn_proxy *p = xcalloc(1, sizeof(*p));

	/* Before the loop runs: the bufferevent has read nothing yet. */
	bufferevent_disable(conn->bev, EV_READ);
	p->done = done;
	p->deadline = monotonic_ms() + seconds * 1000;
	if ((p->ev = event_new(conn->base, conn->fd, EV_READ, proxy_read_cb,
	    conn)) == NULL)
		msg_fatal("conn_proxy_receive: out of memory");
	conn->proxy = p;
	proxy_wait(conn);
}

void
conn_proxy_forget(struct conn *conn)
{
	if (conn->proxy == NULL)
		return;
	event_free(conn->proxy->ev);
	free(conn->proxy);
	conn->proxy = NULL;
}
