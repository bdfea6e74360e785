/* finger: the parts of tlsrelay tls-finger. cmd_tls_finger.c routes,
 * resolves and judges; finger_probe.c holds one SMTP session with one
 * address through the connection layer (src/net); finger_show.c prints
 * what a TLS session shows (chain, names, dates, fingerprints). */
#ifndef TLSRELAY_CLI_FINGER_H
#define TLSRELAY_CLI_FINGER_H

#include <openssl/ssl.h>

#include "tlsrelay/qmgr.h"

struct dns;
struct dns_target;
struct event_base;
struct tls_dane;
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
	const struct tls_dane *dane;	/* non-NULL: match these TLSA records
					 * and offer no cached session, as
					 * the relay's client does */
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

/* What finger_dane_run needs besides the address. */
struct finger_dane_in {
	struct dns *dns;		/* NULL: the resolver does not validate
					 * (smtp_dns_support_level) */
	const char *dns_level;		/* smtp_dns_support_level */
	enum qmgr_insecure_mx insecure_mx;	/* smtp_tls_dane_insecure_mx_policy */
	const char *nexthop_domain;	/* DANE-TA's second name */
	const struct tls_policy *policy;	/* at level dane or dane-only */
	SSL_CTX *ssl_ctx;		/* its context; NULL: refused */
	int loglevel;			/* for the relay's check */
};

/* What DANE makes of one address: the queue manager's verdicts of dane
 * (v[0]) and dane-only (v[1]), and with usable records the outcome of the
 * handshake made with them. */
struct finger_dane {
	struct qmgr_dane_verdict v[2];
	int verified;		/* the server matched a TLSA record */
	char *result;		/* "Verified: TLSA 3 1 1 matched the EE
				 * certificate at depth 0", or why not */
};

/* Looks up and prints the TLSA records of t's host at t's port (when the
 * resolver validates and t's MX and address records were validated),
 * decides dane and dane-only by qmgr_dane_decide, and with usable records
 * holds a second session like first (without its chat) with DANE in the
 * handshake. finger_dane_clear frees what it holds. */
void finger_dane_run(struct finger_dane *fd, struct event_base *base,
    const struct dns_target *t, const struct finger_probe *first,
    const struct finger_dane_in *in);
void finger_dane_clear(struct finger_dane *fd);

/* The peer's chain as posttls-finger shows it, each certificate's
 * subject, issuer, names and validity, then the leaf's certificate and
 * public key fingerprints in digest. */
void finger_show_session(SSL *ssl, const char *digest);

#endif
