/* Internal to src/net: the connection object and what its files share. */
#ifndef TLSRELAY_CONN_INT_H
#define TLSRELAY_CONN_INT_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "tlsrelay/conn.h"

struct bufferevent;
struct event;

enum conn_tls {
	CONN_TLS_NONE,		/* plaintext */
	CONN_TLS_FLUSH,		/* STARTTLS: plaintext output leaving */
	CONN_TLS_HANDSHAKE,
	CONN_TLS_OPEN,
};

struct conn {
	struct event_base *base;
	int fd;
	struct bufferevent *bev;	/* plain, or OpenSSL from the handshake */
	SSL *ssl;		/* ours until the handshake, then bev's */
	enum conn_role role;
	enum conn_tls tls;
	int broken;		/* EOF or error seen: nothing orderly left */
	int closing;		/* conn_close() is flushing */
	int shutdown_sent;	/* close_notify is out */
	struct event *deadline;	/* conn_set_deadline, and the close bound */
	struct event *close_ev;	/* closing: waiting for a writable socket */
	long long idle;		/* conn_set_idle_timeout */
	size_t write_low;
	int skip_rest;		/* skipping the rest of a cut line */
	char *line;
	size_t line_size;
	char *peer;
	char service[32];
	char ident[64];		/* syslog_name; "" keeps the process's */
	struct conn_proxy *proxy;	/* reading a PROXY header */
	struct conn_callbacks cb;
	void *arg;
};

/* conn.c */
/* Puts bev under the conn's callbacks and settings. */
void conn_attach(struct conn *conn, struct bufferevent *bev);

/* conn_tls.c */
/* The plaintext output has left: discard the input, start the
 * handshake. 0, or -1 (logged) with the conn still plaintext. */
int conn_tls_begin(struct conn *conn);
/* Moves bytes decrypted inside the SSL to the input; returns how many. */
size_t conn_tls_pull_pending(struct conn *conn);
/* The SSL stops pointing at the conn, which is being freed. */
void conn_tls_forget(struct conn *conn);

/* conn_proxy.c */
/* Stops reading a PROXY header, without a word to the owner. */
void conn_proxy_forget(struct conn *conn);

/* conn_error.c */
/* Empties libevent's and OpenSSL's error queues. handshake: logs each
 * OpenSSL error as a "TLS library problem" and returns the reason for
 * the SSL_accept/SSL_connect line (caller frees); else returns NULL. eof:
 * the peer closed. */
char *conn_tls_errors(struct conn *conn, int handshake, int eof);
/* Logs Postfix's line for a failed handshake. */
void conn_tls_log_failure(struct conn *conn, const char *reason);

#endif
