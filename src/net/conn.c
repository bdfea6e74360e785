/* conn: the connection object, its callbacks, timers, output, line
 * reader and its ending. The rules are at the top of conn.h; the TLS
 * steps are in conn_tls.c, the error texts in conn_error.c. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include <openssl/err.h>

#include "tlsrelay/log.h"
#include "conn_int.h"

/* The most libevent writes in one turn of the loop. */
#define CONN_WRITE_MAX	(64 * 1024)

static void close_continue(struct conn *);
static void conn_free(struct conn *);

/* ---- log context ------------------------------------------------------ */

void
conn_set_log_ident(struct conn *conn, const char *ident)
{
	snprintf(conn->ident, sizeof(conn->ident), "%s", ident ? ident : "");
}

void
conn_log_enter(const struct conn *conn, struct log_name *saved)
{
	log_name_get(saved);
	log_set_service(conn->ident[0] ? conn->ident : NULL, conn->service);
}

void
conn_log_leave(const struct log_name *saved)
{
	log_name_set(saved);
}

/* ---- libevent's callbacks ------------------------------------------------ */

/* libevent 2.1 reads a plaintext socket at most 4096 bytes at a time
 * (EVBUFFER_MAX_READ), each read after an ioctl(FIONREAD) and a turn of
 * the loop: 25 of each for a 100 KiB message. When it read that much,
 * more is probably waiting: take it in one readv, up to READ_MORE_MAX
 * buffered. Nothing else changes: an error or EOF is left for libevent's
 * next read, and the owner sees the same bytes in larger pieces. */
#define READ_MORE_MIN	4096
#define READ_MORE_MAX	(64 * 1024)

static void
read_more(struct conn *conn, struct evbuffer *in)
{
	struct evbuffer_iovec v[2];
	struct iovec iov[2];
	size_t have = evbuffer_get_length(in);
	ssize_t n;
	int nv;

	if (have < READ_MORE_MIN || have >= READ_MORE_MAX)
		return;
	/* A socket bufferevent keeps the end of its input frozen so that
	 * only it adds to it; it does what we do here. */
	evbuffer_unfreeze(in, 0);
	nv = evbuffer_reserve_space(in, (ev_ssize_t)(READ_MORE_MAX - have),
	    v, 2);
	for (int i = 0; i < nv; i++) {
		iov[i].iov_base = v[i].iov_base;
		iov[i].iov_len = v[i].iov_len;
	}
	do
		n = nv < 1 ? 0 : readv(conn->fd, iov, nv);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		if ((size_t)n <= v[0].iov_len) {
			v[0].iov_len = (size_t)n;
			nv = 1;
		} else
			v[1].iov_len = (size_t)n - v[0].iov_len;
		evbuffer_commit_space(in, v, nv);
	}
	evbuffer_freeze(in, 0);
}

/* The owner may close the conn in its callback: nothing here touches
 * conn after calling it. */
static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *conn = arg;
	struct log_name saved;

	if (conn->cb.read == NULL)
		return;
	if (conn->tls == CONN_TLS_NONE)
		read_more(conn, bufferevent_get_input(bev));
	conn_log_enter(conn, &saved);
	conn->cb.read(conn, conn->arg);
	conn_log_leave(&saved);
}

static void
write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *conn = arg;
	struct log_name saved;

	(void)bev;
	if (conn->tls == CONN_TLS_FLUSH) {
		if (conn_output_pending(conn) != 0)
			return;
		conn_log_enter(conn, &saved);
		if (conn_tls_begin(conn) < 0 && conn->cb.event != NULL)
			conn->cb.event(conn, CONN_TLS_FAILED, conn->arg);
		conn_log_leave(&saved);
		return;
	}
	if (conn->cb.drained == NULL)
		return;
	conn_log_enter(conn, &saved);
	conn->cb.drained(conn, conn->arg);
	conn_log_leave(&saved);
}

static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *conn = arg;
	enum conn_event event;
	struct log_name saved;
	char *reason;

	(void)bev;
	conn_log_enter(conn, &saved);
	if (what & BEV_EVENT_CONNECTED) {
		conn->tls = CONN_TLS_OPEN;
		if (conn->cb.tls_done != NULL)
			conn->cb.tls_done(conn, conn->arg);
		conn_log_leave(&saved);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		/* libevent stops the direction that timed out; the owner
		 * may still want to say 421. */
		bufferevent_enable(conn->bev, EV_WRITE);
		event = CONN_TIMEOUT;
	} else if (conn->tls == CONN_TLS_HANDSHAKE) {
		conn->broken = 1;
		reason = conn_tls_errors(conn, 1, (what & BEV_EVENT_EOF) != 0);
		conn_tls_log_failure(conn, reason);
		free(reason);
		event = CONN_TLS_FAILED;
	} else {
		conn->broken = 1;
		if (conn->ssl != NULL)
			(void)conn_tls_errors(conn, 0, 0);
		event = CONN_EOF;
	}
	if (conn->cb.event != NULL)
		conn->cb.event(conn, event, conn->arg);
	conn_log_leave(&saved);
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *conn = arg;
	struct log_name saved;

	(void)fd;
	(void)what;
	if (conn->closing) {
		/* The peer does not take our last bytes: give up. */
		conn_free(conn);
		return;
	}
	if (conn->cb.event == NULL)
		return;
	conn_log_enter(conn, &saved);
	conn->cb.event(conn, CONN_TIMEOUT, conn->arg);
	conn_log_leave(&saved);
}

/* ---- life ------------------------------------------------------------------ */

void
conn_attach(struct conn *conn, struct bufferevent *bev)
{
	struct timeval tv = { .tv_sec = (time_t)conn->idle, .tv_usec = 0 };

	conn->bev = bev;
	bufferevent_setcb(bev, read_cb, write_cb, event_cb, conn);
	bufferevent_setwatermark(bev, EV_WRITE, conn->write_low, 0);
	/* libevent writes at most 16 KiB a turn by default; OpenSSL's
	 * bufferevent makes an SSL_write of each buffer part inside that,
	 * so a part that straddles the limit went out as two records, one
	 * of them small (each one a write(2)). */
	bufferevent_set_max_single_write(bev, CONN_WRITE_MAX);
	if (conn->idle > 0)
		bufferevent_set_timeouts(bev, &tv, &tv);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

struct conn *
conn_new(struct event_base *base, int fd, const char *peer,
    const char *service, const struct conn_callbacks *cb, void *arg)
{
	struct conn *conn = xcalloc(1, sizeof(*conn));
	struct bufferevent *bev;

	conn->base = base;
	conn->fd = fd;
	conn->peer = xstrdup(peer);
	snprintf(conn->service, sizeof(conn->service), "%s", service);
	conn->cb = *cb;
	conn->arg = arg;
	if ((conn->deadline = evtimer_new(base, deadline_cb, conn)) == NULL ||
	    (bev = bufferevent_socket_new(base, fd, 0)) == NULL)
		msg_fatal("conn_new: out of memory");
	conn_attach(conn, bev);
	return conn;
}

const char *
conn_peer(const struct conn *conn)
{
	return conn->peer;
}

void
conn_set_peer(struct conn *conn, const char *peer)
{
	free(conn->peer);
	conn->peer = xstrdup(peer);
}

/* Throws away what the peer sent that nobody will read, so that closing
 * sends FIN, not a reset that could destroy our last bytes in flight. */
static void
drain_socket(int fd)
{
	char buf[1024];

	for (int i = 0; i < 16; i++)
		if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0)
			break;
}

static void
conn_free(struct conn *conn)
{
	int owned_by_bev = conn->tls >= CONN_TLS_HANDSHAKE;

	if (conn->closing && conn->fd >= 0)
		drain_socket(conn->fd);
	if (conn->close_ev != NULL)
		event_free(conn->close_ev);
	event_free(conn->deadline);
	conn_proxy_forget(conn);
	conn_tls_forget(conn);
	/* An OpenSSL bufferevent owns the socket and the SSL. */
	if (conn->bev != NULL)
		bufferevent_free(conn->bev);
	if (!owned_by_bev || conn->bev == NULL) {
		if (conn->ssl != NULL)
			SSL_free(conn->ssl);
		if (conn->fd >= 0)
			close(conn->fd);
	}
	free(conn->line);
	free(conn->peer);
	free(conn);
}

void
conn_abort(struct conn *conn)
{
	conn->closing = 0;
	conn_free(conn);
}

static void
close_writable_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	close_continue(arg);
}

static void
wait_writable(struct conn *conn)
{
	if (conn->close_ev == NULL &&
	    (conn->close_ev = event_new(conn->base, conn->fd, EV_WRITE,
	    close_writable_cb, conn)) == NULL)
		msg_fatal("conn_close: out of memory");
	event_add(conn->close_ev, NULL);
}

/* Writes some of the output directly: 1 progress, 0 the socket is full,
 * -1 the connection is gone. libevent is out of the way once closing:
 * its events are off. */
static int
flush_some(struct conn *conn)
{
	struct evbuffer *out = bufferevent_get_output(conn->bev);
	struct evbuffer_iovec v;
	int n, err;

	if (conn->tls != CONN_TLS_OPEN) {
		n = evbuffer_write(out, conn->fd);
		if (n > 0)
			return 1;
		return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ?
		    0 : -1;
	}
	/* A retried SSL_write may be longer than the one before, never
	 * shorter: the whole first chunk always is. */
	if (evbuffer_peek(out, -1, NULL, &v, 1) < 1)
		return -1;
	n = SSL_write(conn->ssl, v.iov_base, (int)v.iov_len);
	if (n > 0) {
		evbuffer_drain(out, (size_t)n);
		return 1;
	}
	err = SSL_get_error(conn->ssl, n);
	ERR_clear_error();
	return err == SSL_ERROR_WANT_WRITE ? 0 : -1;
}

static void
close_continue(struct conn *conn)
{
	while (conn_output_pending(conn) > 0) {
		switch (flush_some(conn)) {
		case 1:
			continue;
		case 0:
			wait_writable(conn);
			return;
		default:
			conn_free(conn);
			return;
		}
	}
	if (conn->tls == CONN_TLS_OPEN && !conn->shutdown_sent) {
		int r = SSL_shutdown(conn->ssl);

		if (r < 0 && SSL_get_error(conn->ssl, r) ==
		    SSL_ERROR_WANT_WRITE) {
			ERR_clear_error();
			wait_writable(conn);
			return;
		}
		ERR_clear_error();
		conn->shutdown_sent = 1;
	}
	conn_free(conn);
}

void
conn_close(struct conn *conn)
{
	struct timeval tv = { .tv_sec = CONN_CLOSE_TIMEOUT, .tv_usec = 0 };

	memset(&conn->cb, 0, sizeof(conn->cb));
	if (conn->broken || conn->bev == NULL ||
	    conn->tls == CONN_TLS_FLUSH || conn->tls == CONN_TLS_HANDSHAKE) {
		conn_abort(conn);
		return;
	}
	/* From here on the conn writes by itself. */
	conn->closing = 1;
	bufferevent_disable(conn->bev, EV_READ | EV_WRITE);
	bufferevent_set_timeouts(conn->bev, NULL, NULL);
	bufferevent_setcb(conn->bev, NULL, NULL, NULL, NULL);
	/* A socket bufferevent keeps the start of its output frozen so that
	 * only it drains it. */
	evbuffer_unfreeze(bufferevent_get_output(conn->bev), 1);
	evtimer_add(conn->deadline, &tv);
	close_continue(conn);
}

/* ---- timers -------------------------------------------------------------- */

void
conn_set_idle_timeout(struct conn *conn, long long seconds)
{
	struct timeval tv = { .tv_sec = (time_t)seconds, .tv_usec = 0 };

	conn->idle = seconds;
	if (seconds > 0)
		bufferevent_set_timeouts(conn->bev, &tv, &tv);
	else
		bufferevent_set_timeouts(conn->bev, NULL, NULL);
}

void
conn_set_deadline(struct conn *conn, long long seconds)
{
	struct timeval tv = { .tv_sec = (time_t)seconds, .tv_usec = 0 };

	if (seconds <= 0)
		evtimer_del(conn->deadline);
	else
		evtimer_add(conn->deadline, &tv);
}

/* ---- output ---------------------------------------------------------------- */

void
conn_printf(struct conn *conn, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	evbuffer_add_vprintf(bufferevent_get_output(conn->bev), fmt, ap);
	va_end(ap);
}

void
conn_write(struct conn *conn, const void *data, size_t len)
{
	bufferevent_write(conn->bev, data, len);
}

struct evbuffer *
conn_output(struct conn *conn)
{
	return bufferevent_get_output(conn->bev);
}

size_t
conn_output_pending(const struct conn *conn)
{
	return evbuffer_get_length(bufferevent_get_output(conn->bev));
}

void
conn_set_write_low(struct conn *conn, size_t low)
{
	conn->write_low = low;
	bufferevent_setwatermark(conn->bev, EV_WRITE, low, 0);
}

void
conn_wake_writer(struct conn *conn)
{
	bufferevent_enable(conn->bev, EV_WRITE);
	bufferevent_trigger(conn->bev, EV_WRITE, BEV_TRIG_IGNORE_WATERMARKS |
	    BEV_TRIG_DEFER_CALLBACKS);
}

/* ---- input ------------------------------------------------------------------ */

struct evbuffer *
conn_input(struct conn *conn)
{
	return bufferevent_get_input(conn->bev);
}

void
conn_read_pause(struct conn *conn)
{
	bufferevent_disable(conn->bev, EV_READ);
}

void
conn_read_resume(struct conn *conn)
{
	bufferevent_enable(conn->bev, EV_READ);
	(void)conn_tls_pull_pending(conn);
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

static char *
line_space(struct conn *conn, size_t len)
{
	if (conn->line_size < len + 1) {
		conn->line_size = len + 1;
		conn->line = xrealloc(conn->line, conn->line_size);
	}
	return conn->line;
}

char *
conn_read_line(struct conn *conn, size_t limit, size_t *lenp, int *flags)
{
	struct evbuffer *in = bufferevent_get_input(conn->bev);
	char *line;

	*flags = 0;
	/* Between STARTTLS and the end of the handshake the input holds
	 * plaintext that nobody may read (conn_tls_begin drops it). */
	if (conn->tls == CONN_TLS_FLUSH || conn->tls == CONN_TLS_HANDSHAKE)
		return NULL;
	for (;;) {
		size_t eol_len = 0, len, avail = evbuffer_get_length(in);
		struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, &eol_len,
		    EVBUFFER_EOL_LF);

		if (eol.pos < 0) {
			/* The rest of the line may be inside the SSL. */
			if (conn_tls_pull_pending(conn) > 0)
				continue;
			/* Cut an over-long line, as Postfix does, and skip
			 * the rest of it when it comes. */
			if (avail <= limit)
				return NULL;
			line = line_space(conn, limit);
			evbuffer_remove(in, line, limit);
			line[limit] = '\0';
			conn->skip_rest = 1;
			*flags |= CONN_LINE_CUT;
			*lenp = limit;
			return line;
		}
		len = (size_t)eol.pos;
		if (len == 0 || byte_at(in, len - 1) != '\r')
			*flags |= CONN_LINE_BARE_LF;
		else
			len--;
		if (conn->skip_rest) {
			evbuffer_drain(in, (size_t)eol.pos + 1);
			conn->skip_rest = 0;
			if (*flags & CONN_LINE_BARE_LF) {
				*flags |= CONN_LINE_TAIL;
				*lenp = 0;
				line = line_space(conn, 0);
				line[0] = '\0';
				return line;
			}
			continue;
		}
		if (len > limit) {
			line = line_space(conn, limit);
			evbuffer_remove(in, line, limit);
			evbuffer_drain(in, (size_t)eol.pos + 1 - limit);
			len = limit;
			*flags |= CONN_LINE_CUT;
		} else {
			line = line_space(conn, len);
			evbuffer_remove(in, line, len);
			evbuffer_drain(in, (size_t)eol.pos + 1 - len);
		}
		line[len] = '\0';
		*lenp = len;
		return line;
	}
}
