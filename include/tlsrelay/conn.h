/* conn: one TCP connection, plaintext or TLS, for both sides of SMTP.
 * smtpd and the smtp client drive their sockets only through it.
 *
 * The rules of the layer:
 *
 * - Ownership. A conn owns its socket, its bufferevent, its SSL and its
 *   timers. Until STARTTLS a plain bufferevent runs on the socket and the
 *   conn closes the socket itself; from the handshake on, an OpenSSL
 *   bufferevent made with BEV_OPT_CLOSE_ON_FREE owns the socket and the
 *   SSL, and freeing it frees both. Nothing outside src/net/ creates an
 *   SSL for a connection or a bufferevent on one.
 *
 * - Callbacks. The owner's callbacks run from the event loop, never from
 *   inside a conn_* call, with the log service set to the conn's (so a
 *   client inside the queue manager logs as "smtp"); the OpenSSL info
 *   callback runs under the same name. After conn_close() no callback
 *   is made.
 *
 * - STARTTLS. conn_starttls() stops reading, lets the plaintext output
 *   (the 220, or the STARTTLS command) leave, then throws away every byte
 *   the peer sent in plaintext behind it, never parsing it, logs
 *   "HOST sent plaintext after STARTTLS: N bytes discarded" (the client:
 *   "after 220 to STARTTLS"), and starts the handshake. This is the only
 *   place either side discards such bytes (CVE-2011-0411).
 *
 * - Errors. A failed handshake is logged here, once, in Postfix's words:
 *   "SSL_accept error from HOST: REASON" or "SSL_connect error to HOST:
 *   REASON", with OpenSSL's own errors as "TLS library problem" warnings.
 *   libevent's bare SSL_get_error() codes are never printed; a peer that
 *   went away is "lost connection". The owner gets CONN_TLS_FAILED and
 *   says what it does about it.
 *
 * - SSL_pending. OpenSSL decrypts a whole record at a time, so bytes can
 *   wait inside the SSL that the socket will never announce again.
 *   bufferevent_openssl (libevent 2.1) reads SSL_pending() bytes into the
 *   input buffer in the same loop as the socket read, but only while
 *   reading is enabled; conn_read_resume() and conn_read_line() pull what
 *   is left in the SSL so that a paused reader never stalls.
 *
 * - PROXY protocol. conn_proxy_receive() reads a load balancer's header
 *   (proxy.h) before the bufferevent reads anything, and never a byte
 *   past its end, so what follows stays in the socket for SMTP or for a
 *   wrappermode handshake. A bad, missing or cut header is logged here,
 *   as Postfix says it: "haproxy read: REASON from HOST".
 *
 * - Endings. conn_close() is orderly: the output is flushed, a TLS
 *   session gets its close_notify, then the socket closes. When the
 *   socket cannot take it at once this finishes from the event loop,
 *   bounded by CONN_CLOSE_TIMEOUT. conn_abort() drops at once. */
#ifndef TLSRELAY_CONN_H
#define TLSRELAY_CONN_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "tlsrelay/log.h"
#include "tlsrelay/util.h"

struct conn;
struct event_base;
struct evbuffer;
struct proxy_info;

/* Seconds an orderly close may wait for a full socket. */
#define CONN_CLOSE_TIMEOUT	2

enum conn_role {
	CONN_SERVER,		/* SSL_accept */
	CONN_CLIENT,		/* SSL_connect */
};

enum conn_event {
	CONN_EOF,		/* the peer closed, or the socket failed */
	CONN_TIMEOUT,		/* the idle timeout or the deadline */
	CONN_TLS_FAILED,	/* the handshake failed (already logged) */
};

struct conn_callbacks {
	/* Input is waiting: conn_read_line(), conn_input(). */
	void (*read)(struct conn *conn, void *arg);
	/* The output went down to the low mark (0 unless set). */
	void (*drained)(struct conn *conn, void *arg);
	/* The TLS handshake is done: conn_ssl() is usable. */
	void (*tls_done)(struct conn *conn, void *arg);
	void (*event)(struct conn *conn, enum conn_event what, void *arg);
};

/* Takes the connected socket fd. peer names the other end in log lines
 * ("host[addr]", or "host[addr]:port" for a server we connected to);
 * service is the log name the callbacks run under ("smtpd", "smtp"). */
struct conn *conn_new(struct event_base *base, int fd, const char *peer,
    const char *service, const struct conn_callbacks *cb, void *arg);
/* Orderly close (see above); conn is gone for the caller. */
void conn_close(struct conn *conn);
/* Drops the connection at once: no flush, no close_notify. */
void conn_abort(struct conn *conn);

const char *conn_peer(const struct conn *conn);
/* Renames the other end, e.g. once the client's name is known. */
void conn_set_peer(struct conn *conn, const char *peer);

/* The log name the callbacks run under: service (from conn_new) after
 * syslog_name ident, when one is set (a master.cf -o syslog_name=...).
 * conn_log_enter/leave put the owner's own work under the same name (a
 * timer, a commit result) and back. */
void conn_set_log_ident(struct conn *conn, const char *ident);
void conn_log_enter(const struct conn *conn, struct log_name *saved);
void conn_log_leave(const struct log_name *saved);

/* Timers. The idle timeout restarts with every byte read or written;
 * the deadline fires once, seconds from now. <= 0 turns either off. Both
 * end in CONN_TIMEOUT. */
void conn_set_idle_timeout(struct conn *conn, long long seconds);
void conn_set_deadline(struct conn *conn, long long seconds);

/* Output. */
void conn_printf(struct conn *conn, const char *fmt, ...) PRINTFLIKE(2, 3);
void conn_write(struct conn *conn, const void *data, size_t len);
struct evbuffer *conn_output(struct conn *conn);
size_t conn_output_pending(const struct conn *conn);
/* drained is called when the output is at or below low bytes. */
void conn_set_write_low(struct conn *conn, size_t low);
/* Makes the drained callback run soon, even with the output empty. */
void conn_wake_writer(struct conn *conn);

/* Input. */
struct evbuffer *conn_input(struct conn *conn);
void conn_read_pause(struct conn *conn);
/* Reads again; bytes already inside the SSL are moved to the input, and
 * the caller should look at the input at once. */
void conn_read_resume(struct conn *conn);

/* conn_read_line() flags. */
#define CONN_LINE_CUT		0x01	/* longer than limit: the first
					 * limit bytes; the rest is skipped */
#define CONN_LINE_BARE_LF	0x02	/* ended in LF without CR */
#define CONN_LINE_TAIL		0x04	/* the skipped rest of a cut line:
					 * nothing to process */
/* The next line, without its line ending, NUL-terminated, at most limit
 * bytes; valid until the next call. NULL when no whole line is there
 * yet (a line longer than limit is returned cut before its end arrives).
 * The buffer is the caller's to modify. */
char *conn_read_line(struct conn *conn, size_t limit, size_t *len,
    int *flags);

/* PROXY protocol: reads the header within seconds in all; then done
 * runs from the event loop with what it says, reading on again; or with
 * NULL when there was none (logged), the conn still the owner's to
 * close. No other callback is made meanwhile. */
typedef void (*conn_proxy_done_fn)(struct conn *conn,
    const struct proxy_info *info, void *arg);
void conn_proxy_receive(struct conn *conn, long long seconds,
    conn_proxy_done_fn done);

/* TLS. conn_tls_new() makes the SSL for ctx (the caller may set it up:
 * SNI, a session to resume); NULL when OpenSSL refused (logged).
 * conn_starttls() starts the handshake as the role says, from the event
 * loop, after the plaintext steps above; tls_done or CONN_TLS_FAILED
 * follows. -1 only when called without an SSL or twice. */
SSL *conn_tls_new(struct conn *conn, SSL_CTX *ctx);
int conn_starttls(struct conn *conn, enum conn_role role);
/* The SSL from conn_tls_new(), or NULL. */
SSL *conn_ssl(const struct conn *conn);
/* 1 once the handshake is done. */
int conn_tls_active(const struct conn *conn);

#endif
