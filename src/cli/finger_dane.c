/* finger_dane: what DANE (RFC 7672) makes of one address for tlsrelay
 * tls-finger. The TLSA records of _PORT._tcp.HOST come from the relay's
 * lookup (dns_tlsa_lookup), and the verdicts of dane and dane-only from
 * the queue manager's own rules (qmgr_dane_decide): a DNSSEC-validated
 * MX host and answer, or no authentication. With usable records a
 * second SMTP session runs with DANE in the handshake, set up as the
 * relay's client does (tls_client_dane_setup, no session resumption),
 * because DANE changes the chain verification the other levels read. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tlsrelay/dns.h"
#include "tlsrelay/qmgr.h"
#include "tlsrelay/tls.h"
#include "tlsrelay/tls_client.h"
#include "tlsrelay/util.h"

#include "finger.h"

/* One TLSA answer, kept past the callback. */
struct tlsa_answer {
	int done;
	enum dns_status status;
	int secure;
	struct dns_tlsa *recs;
	size_t n;
	char *why;
};

static void
tlsa_answer_cb(void *arg, enum dns_status status, int secure,
    const struct dns_tlsa *recs, size_t n, unsigned int ttl,
    const char *why)
{
	struct tlsa_answer *a = arg;

	(void)ttl;
	a->done = 1;
	a->status = status;
	a->secure = secure;
	a->why = why ? xstrdup(why) : NULL;
	a->recs = xcalloc(n ? n : 1, sizeof(*a->recs));
	for (size_t i = 0; i < n; i++) {
		a->recs[i] = recs[i];
		a->recs[i].data = xmalloc(recs[i].len ? recs[i].len : 1);
		memcpy(a->recs[i].data, recs[i].data, recs[i].len);
	}
	a->n = n;
}

static void
print_hex(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%02X", p[i]);
}

/* The answer as the administrator needs to read it. */
static void
print_answer(const char *qname, const struct tlsa_answer *a)
{
	switch (a->status) {
	case DNS_OK:
		printf("DANE TLSA %s: %s, %zu record(s)\n", qname, a->secure ?
		    "secure (DNSSEC-validated)" : "insecure (not "
		    "DNSSEC-validated): ignored", a->n);
		for (size_t i = 0; i < a->n; i++) {
			const struct dns_tlsa *r = &a->recs[i];
			/* Usable as the client takes them (tls_dane_add). */
			struct tls_dane *one = tls_dane_new("", "");
			int usable = tls_dane_add(one, r->usage, r->selector,
			    r->mtype, r->data, r->len);

			tls_dane_free(one);
			printf("  TLSA %u %u %u ", r->usage, r->selector,
			    r->mtype);
			print_hex(r->data, r->len);
			printf("%s\n", usable ? "" : " (unusable: ignored)");
		}
		break;
	case DNS_NOTFOUND:
		printf("DANE TLSA %s: none, %s\n", qname, a->secure ?
		    "denied securely (DNSSEC-validated)" : "insecure denial "
		    "(not DNSSEC-validated)");
		break;
	default:
		printf("DANE TLSA %s: lookup failed: %s\n", qname, a->why ?
		    a->why : "?");
		break;
	}
}

/* The DANE session's state, for its tls_done callback. */
struct dane_session {
	struct finger_dane *fd;
	const char *match;	/* "Verified", or "Trusted" through an
				 * insecure MX answer (the name could be
				 * forged) */
	const struct tls_policy *policy;
	const char *hostname;
	const char *peer;
	int loglevel;
};

/* The handshake with DANE is done: the relay's check, and which record
 * matched at what depth, or why none did. */
static void
on_dane_tls(SSL *ssl, void *arg)
{
	struct dane_session *ds = arg;
	struct finger_dane *fd = ds->fd;
	EVP_PKEY *mspki = NULL;
	uint8_t u = 0, s = 0, m = 0;
	char *reason = NULL;
	int depth;

	fd->verified = tls_client_check_peer(ssl, ds->policy, ds->hostname,
	    ds->peer, ds->loglevel, &reason) == 0;
	if (fd->verified &&
	    (depth = SSL_get0_dane_authority(ssl, NULL, &mspki)) >= 0) {
		(void)SSL_get0_dane_tlsa(ssl, &u, &s, &m, NULL, NULL);
		fd->result = xasprintf("%s: TLSA %u %u %u matched the "
		    "%s at depth %d", ds->match, u, s, m, mspki != NULL ?
		    "TA public key" : depth > 0 ? "TA certificate" :
		    "EE certificate", depth);
	} else if (fd->verified)
		fd->result = xstrdup(ds->match);
	else
		fd->result = xasprintf("%s (%s)", reason ? reason : "not "
		    "verified", X509_verify_cert_error_string(
		    SSL_get_verify_result(ssl)));
	free(reason);
}

/* The session with DANE in the handshake. */
static void
dane_handshake(struct finger_dane *fd, struct event_base *base,
    const struct dns_target *t, const struct finger_probe *first,
    const struct finger_dane_in *in, enum qmgr_dane_trust trust)
{
	struct finger_probe p;
	struct dane_session ds;

	memset(&ds, 0, sizeof(ds));
	ds.fd = fd;
	ds.policy = in->policy;
	ds.hostname = t->hostname;
	ds.peer = first->peer;
	ds.loglevel = in->loglevel;
	ds.match = trust == QMGR_DANE_INSECURE_MX ? "Trusted" : "Verified";
	p = *first;
	p.ssl_ctx = in->ssl_ctx;
	p.policy = in->policy;
	p.dane = fd->v[0].tlsa;
	p.chat = 0;
	p.tls_done = on_dane_tls;
	p.arg = &ds;
	p.why = NULL;
	finger_probe_run(base, t, &p);
	if (fd->result == NULL)
		fd->result = xstrdup(p.why ? p.why : "no TLS");
	printf("DANE handshake with %s: %s\n", first->peer, fd->result);
	finger_probe_clear(&p);
}

void
finger_dane_run(struct finger_dane *fd, struct event_base *base,
    const struct dns_target *t, const struct finger_probe *first,
    const struct finger_dane_in *in)
{
	static const int levels[2] = { TLS_LEV_DANE, TLS_LEV_DANE_ONLY };
	struct tlsa_answer a;
	unsigned port = dns_target_port(t);
	char *qname = xasprintf("_%u._tcp.%s", port, t->hostname);
	enum qmgr_dane_trust trust[2];

	memset(fd, 0, sizeof(*fd));
	memset(&a, 0, sizeof(a));
	for (size_t i = 0; i < 2; i++)
		trust[i] = in->dns == NULL ? QMGR_DANE_INSECURE :
		    qmgr_dane_trust(t, levels[i], in->insecure_mx);
	if (in->dns == NULL)
		printf("DANE: smtp_dns_support_level = %s: dane and dane-only "
		    "need dnssec; no TLSA lookup, dane is may, dane-only "
		    "defers\n", *in->dns_level ? in->dns_level : "\"\"");
	else if (trust[0] == QMGR_DANE_INSECURE)
		printf("DANE TLSA %s: not looked up: the MX or address "
		    "records of %s are not DNSSEC-validated\n", qname,
		    t->hostname);
	else {
		if (trust[0] == QMGR_DANE_INSECURE_MX)
			printf("DANE TLSA %s: the MX answer is not "
			    "DNSSEC-validated, the addresses of %s are: "
			    "smtp_tls_dane_insecure_mx_policy applies at "
			    "dane, dane-only defers\n", qname, t->hostname);
		dns_tlsa_lookup(in->dns, t->hostname, port, tlsa_answer_cb,
		    &a);
		while (!a.done)
			event_base_loop(base, EVLOOP_ONCE);
		print_answer(qname, &a);
	}
	/* The queue manager's rules, and its log lines about the answer
	 * once: dane looks at the answer whenever dane-only does
	 * (qmgr_dane_trust), so it logs. */
	for (size_t i = 0; i < 2; i++)
		qmgr_dane_decide(&fd->v[i], levels[i], in->insecure_mx,
		    t->hostname, qname, in->nexthop_domain, trust[i],
		    a.status, a.secure, a.recs, a.n, a.why, i == 0);
	if (fd->v[0].tlsa != NULL) {
		if (in->ssl_ctx == NULL)
			fd->result = xstrdup(TLS_POLICY_PROBLEM);
		else if (first->stage <= FINGER_NO_SMTP)
			/* No SMTP session the first time: no second try. */
			fd->result = xstrdup(first->why ? first->why :
			    "no SMTP session");
		else
			dane_handshake(fd, base, t, first, in, trust[0]);
	}
	dns_tlsa_free(a.recs, a.n);
	free(a.why);
	free(qname);
}

void
finger_dane_clear(struct finger_dane *fd)
{
	for (size_t i = 0; i < 2; i++)
		qmgr_dane_verdict_clear(&fd->v[i]);
	free(fd->result);
	memset(fd, 0, sizeof(*fd));
}
