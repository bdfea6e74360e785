/* conn_tls: STARTTLS on either side. The SSL is made here, the plaintext
 * the peer sent behind the STARTTLS exchange is thrown away here (the
 * one place for CVE-2011-0411 on both sides), and the plain bufferevent
 * is swapped for an OpenSSL one on the same socket. */
#include "config.h"

#include <stdlib.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include <openssl/err.h>

#include "tlsrelay/log.h"
#include "conn_int.h"

static int ex_index = -1;

/* OpenSSL calls the context's info callback from inside libevent's
 * handshake events, where no callback of ours has set the log name:
 * every SSL of a conn calls it through this one, under the conn's
 * name ("Reusing old session" is the smtp client's line, not the queue
 * manager's). */
static void
info_cb(const SSL *ssl, int where, int ret)
{
	void (*ctx_cb)(const SSL *, int, int) =
	    SSL_CTX_get_info_callback(SSL_get_SSL_CTX(ssl));
	const struct conn *conn = SSL_get_ex_data(ssl, ex_index);
	struct log_name saved;

	if (ctx_cb == NULL)
		return;
	if (conn == NULL) {
		ctx_cb(ssl, where, ret);
		return;
	}
	conn_log_enter(conn, &saved);
	ctx_cb(ssl, where, ret);
	conn_log_leave(&saved);
}

SSL *
conn_tls_new(struct conn *conn, SSL_CTX *ctx)
{
	SSL *ssl;

	if (conn->ssl != NULL)
		return conn->ssl;
	if (ex_index < 0)
		ex_index = SSL_get_ex_new_index(0, "conn", NULL, NULL, NULL);
	if (ex_index < 0 || (ssl = SSL_new(ctx)) == NULL) {
		free(conn_tls_errors(conn, 1, 0));
		msg_warn("%s: cannot start TLS: cannot create an SSL object",
		    conn->peer);
		return NULL;
	}
	(void)SSL_set_ex_data(ssl, ex_index, conn);
	SSL_set_info_callback(ssl, info_cb);
	conn->ssl = ssl;
	return ssl;
}

int
conn_starttls(struct conn *conn, enum conn_role role)
{
	if (conn->ssl == NULL || conn->tls != CONN_TLS_NONE ||
	    conn->bev == NULL)
		return -1;
	conn->role = role;
	/* Stop reading now: the next bytes of an honest peer are TLS, for
	 * OpenSSL, not for our plaintext buffer. */
	bufferevent_disable(conn->bev, EV_READ);
	conn->tls = CONN_TLS_FLUSH;
	/* The write callback starts the handshake once the output is
	 * empty: from the event loop, so that a failure reaches the owner
	 * as CONN_TLS_FAILED, never inside this call. */
	bufferevent_setwatermark(conn->bev, EV_WRITE, 0, 0);
	conn_wake_writer(conn);
	return 0;
}

int
conn_tls_begin(struct conn *conn)
{
	struct evbuffer *in = bufferevent_get_input(conn->bev);
	size_t junk = evbuffer_get_length(in);
	struct bufferevent *bev;

	/* Whoever wrote these bytes is not the TLS peer we are about to
	 * meet: never parse them, never feed them to the handshake. */
	if (junk > 0)
		msg_warn("%s sent plaintext after %s: %zu bytes discarded",
		    conn->peer, conn->role == CONN_CLIENT ?
		    "220 to STARTTLS" : "STARTTLS", junk);
	/* The plain bufferevent goes, with those bytes; the socket stays. */
	bufferevent_free(conn->bev);
	conn->bev = NULL;
	bev = bufferevent_openssl_socket_new(conn->base, conn->fd, conn->ssl,
	    conn->role == CONN_SERVER ? BUFFEREVENT_SSL_ACCEPTING :
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		conn->tls = CONN_TLS_NONE;
		conn->broken = 1;
		msg_warn("%s: cannot start TLS: cannot create a TLS "
		    "bufferevent", conn->peer);
		return -1;
	}
	/* Many peers close without close_notify; we decide what an EOF
	 * means from the protocol state, not from OpenSSL. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	conn->tls = CONN_TLS_HANDSHAKE;
	conn_attach(conn, bev);
	return 0;
}

size_t
conn_tls_pull_pending(struct conn *conn)
{
	struct evbuffer *in;
	struct evbuffer_iovec v;
	size_t total = 0;
	int pending, n;

	if (conn->tls != CONN_TLS_OPEN || conn->bev == NULL)
		return 0;
	in = bufferevent_get_input(conn->bev);
	/* Already decrypted: SSL_read copies, it does no I/O. */
	while ((pending = SSL_pending(conn->ssl)) > 0) {
		if (evbuffer_reserve_space(in, pending, &v, 1) < 1)
			break;
		n = SSL_read(conn->ssl, v.iov_base, pending);
		if (n <= 0) {
			ERR_clear_error();
			break;
		}
		v.iov_len = (size_t)n;
		evbuffer_commit_space(in, &v, 1);
		total += (size_t)n;
	}
	return total;
}

void
conn_tls_forget(struct conn *conn)
{
	/* libevent may free the SSL later than the conn. */
	if (conn->ssl != NULL && ex_index >= 0)
		(void)SSL_set_ex_data(conn->ssl, ex_index, NULL);
}

SSL *
conn_ssl(const struct conn *conn)
{
	return conn->ssl;
}

int
conn_tls_active(const struct conn *conn)
{
	return conn->tls == CONN_TLS_OPEN;
}
