/* conn_error: OpenSSL's and libevent's errors turned into Postfix's
 * reasons. libevent queues the SSL_get_error() code of a failed call
 * (SSL_ERROR_SSL, SSL_ERROR_SYSCALL: small numbers of library 0) in
 * front of OpenSSL's own errors; printed as OpenSSL errors they read
 * "error:00000001:lib(0)::reason(1)", which tells nobody anything, so
 * they only decide between "lost connection" and the socket's errno. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent_ssl.h>

#include <openssl/err.h>

#include "tlsrelay/log.h"
#include "tlsrelay/stats.h"
#include "conn_int.h"

struct tls_reason {
	int log;		/* log OpenSSL's errors as warnings */
	int syscall;		/* a socket call failed */
	int eof;		/* the peer closed */
	char first[256];	/* the first OpenSSL reason */
};

static void
note_error(struct tls_reason *r, unsigned long e)
{
	const char *text;
	char line[256];

	if (ERR_GET_LIB(e) == 0) {
		if (ERR_GET_REASON(e) == SSL_ERROR_SYSCALL)
			r->syscall = 1;
		return;
	}
	/* OpenSSL 3's word for a peer that closed in mid-handshake. */
	if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
	    ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
		r->eof = 1;
		return;
	}
	if (r->log) {
		ERR_error_string_n(e, line, sizeof(line));
		msg_warn("TLS library problem: %s", line);
	}
	if (r->first[0] == '\0' && (text = ERR_reason_error_string(e)) != NULL)
		snprintf(r->first, sizeof(r->first), "%s", text);
}

char *
conn_tls_errors(struct conn *conn, int handshake, int eof)
{
	struct tls_reason r = { .log = handshake, .eof = eof };
	int saved_errno = errno;
	unsigned long e;

	OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS |
	    OPENSSL_INIT_LOAD_CRYPTO_STRINGS, NULL);
	if (conn->bev != NULL && conn->tls >= CONN_TLS_HANDSHAKE)
		while ((e = bufferevent_get_openssl_error(conn->bev)) != 0)
			note_error(&r, e);
	while ((e = ERR_get_error()) != 0)
		note_error(&r, e);
	if (!handshake)
		return NULL;
	if (r.first[0] != '\0')
		return xstrdup(r.first);
	if (!r.eof && r.syscall && saved_errno != 0 && saved_errno != EAGAIN &&
	    saved_errno != EWOULDBLOCK)
		return xstrdup(strerror(saved_errno));
	return xstrdup("lost connection");
}

void
conn_tls_log_failure(struct conn *conn, const char *reason)
{
	stats_tls_failure(conn->role == CONN_SERVER ? "smtpd" : "smtp", reason);
	if (conn->role == CONN_SERVER)
		msg_info("SSL_accept error from %s: %s", conn->peer, reason);
	else
		msg_info("SSL_connect error to %s: %s", conn->peer, reason);
}
