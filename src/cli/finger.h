/* finger: the parts of tlsrelay tls-finger. cmd_tls_finger.c routes,
 * resolves and judges; finger_probe.c holds one SMTP session with one
 * address through the connection layer (src/net); finger_show.c prints
 * what a TLS session shows (chain, names, dates, fingerprints). */
#ifndef TLSRELAY_CLI_FINGER_H
#define TLSRELAY_CLI_FINGER_H

#include <openssl/ssl.h>

struct dns_target;
struct event_base;
struct tls_policy;

/* How far one session with one address got. */
enum finger_stage {
	FINGER_NO_CONNECT,	/* connect failed or timed out */
	FINGER_NO_SMTP,		/* no 220 greeting, EHLO refused, lost */
	FINGER_NO_STARTTLS,	/* EHLO did not offer STARTTLS */
	FINGER_STARTTLS_REFUSED,	/* STARTTLS answered other than 220 */
	FINGER_TLS_FAILED,	/* the handshake failed */
	FINGER_TLS,		/* TLS established */
};

struct finger_probe {
	/* In. */
	const char *nexthop;	/* as routed: session cache key, SNI */
	const char *peer;	/* "host[addr]:port" */
	const char *helo_name;
	SSL_CTX *ssl_ctx;	/* NULL: no STARTTLS */
	const struct tls_policy *policy;	/* per-connection TLS set-up */
	long long timeout;	/* seconds, per step */
	int chat;		/* print the dialogue */
	/* Called once the handshake is done, while the session lives. */
	void (*tls_done)(SSL *ssl, void *arg);
	void *arg;
	/* Out. */
	enum finger_stage stage;
	char *why;		/* stage < FINGER_TLS: Postfix's words */
	int session_offered;	/* a cached session went into the handshake */
	int resumed;		/* ... and the server took it */
	int ticket;		/* the session came as a ticket (RFC 5077,
				 * TLS 1.3), not a session ID */
	char protocol[16];	/* "TLSv1.3" */
};

/* Connects to t, greets, EHLO, STARTTLS when offered and ssl_ctx is
 * set, EHLO again over TLS (TLS 1.3 tickets arrive then), QUIT. Runs
 * base until the connection is gone. Sends no mail. */
void finger_probe_run(struct event_base *base, const struct dns_target *t,
    struct finger_probe *p);
void finger_probe_clear(struct finger_probe *p);

/* The peer's chain as posttls-finger shows it, each certificate's
 * subject, issuer, names and validity, then the leaf's certificate and
 * public key fingerprints in digest. */
void finger_show_session(SSL *ssl, const char *digest);

#endif
