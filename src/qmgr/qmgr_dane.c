/* qmgr_dane: the DANE verdict (RFC 7672 2.2) for each target of a group
 * whose TLS level is dane or dane-only, before the group goes to the
 * client pool.
 *
 * Per MX host (and port), Postfix's rules:
 *   - its address answer not DNSSEC-validated: no TLSA lookup; dane is
 *     opportunistic (may), dane-only defers;
 *   - its address answer validated, the MX answer not: dane-only
 *     defers; at dane, smtp_tls_dane_insecure_mx_policy says: may (no
 *     TLSA lookup), encrypt (secure TLSA records of the host mean
 *     mandatory TLS, unauthenticated), dane (they are used as below,
 *     but a match is logged Trusted, not Verified: the MX name could
 *     have been forged);
 *   - TLSA lookup failure (SERVFAIL: bogus; timeout; resolver down):
 *     defer, never plaintext;
 *   - no TLSA records (a secure denial) or records from an insecure
 *     zone: dane is may, dane-only defers;
 *   - secure records, none usable (PKIX usages 0/1, unknown selectors or
 *     matching types, malformed data): dane is encrypt (mandatory TLS,
 *     unauthenticated: the domain asked for TLS), dane-only defers;
 *   - secure usable records: authenticated TLS by those records.
 *
 * TLSA answers are kept per TTL in a small cache (QMGR_TLSA_CACHE_MAX
 * names; the oldest entry goes first), a denial for its negative TTL
 * (from its SOA, RFC 2308; dns_tlsa_lookup bounds it); failures are not
 * kept. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/dns.h"
#include "tlsrelay/log.h"
#include "tlsrelay/tls.h"
#include "tlsrelay/tls_client.h"
#include "tlsrelay/util.h"
#include "qmgr_int.h"

#define QMGR_TLSA_CACHE_MAX	256

/* ---- the cache ------------------------------------------------------- */

struct tlsa_entry {
	char *qname;		/* "_25._tcp.mx.example" */
	time_t expires;
	enum dns_status status;	/* DNS_OK or DNS_NOTFOUND */
	int secure;
	struct dns_tlsa *recs;
	size_t n;
	struct tlsa_entry *next;	/* newest first */
};

static struct tlsa_entry *cache;
static size_t cache_size;

static void
entry_free(struct tlsa_entry *e)
{
	free(e->qname);
	dns_tlsa_free(e->recs, e->n);
	free(e);
}

/* The live entry for qname, dropping expired ones on the way. */
static struct tlsa_entry *
cache_find(const char *qname, time_t now)
{
	struct tlsa_entry **pp = &cache, *e;

	while ((e = *pp) != NULL) {
		if (e->expires <= now) {
			*pp = e->next;
			entry_free(e);
			cache_size--;
			continue;
		}
		if (strcasecmp(e->qname, qname) == 0)
			return e;
		pp = &e->next;
	}
	return NULL;
}

static void
cache_add(const char *qname, enum dns_status status, int secure,
    const struct dns_tlsa *recs, size_t n, unsigned int ttl, time_t now)
{
	struct tlsa_entry *e, **pp;

	if (ttl == 0)
		return;
	e = xcalloc(1, sizeof(*e));
	e->qname = xstrdup(qname);
	e->expires = now + (time_t)ttl;
	e->status = status;
	e->secure = secure;
	if (n > 0) {
		e->recs = xcalloc(n, sizeof(*e->recs));
		for (size_t i = 0; i < n; i++) {
			e->recs[i] = recs[i];
			e->recs[i].data = xmalloc(recs[i].len > 0 ?
			    recs[i].len : 1);
			memcpy(e->recs[i].data, recs[i].data, recs[i].len);
		}
		e->n = n;
	}
	e->next = cache;
	cache = e;
	if (++cache_size > QMGR_TLSA_CACHE_MAX) {
		/* Bounded: the oldest goes. */
		for (pp = &cache; (*pp)->next != NULL; pp = &(*pp)->next)
			;
		entry_free(*pp);
		*pp = NULL;
		cache_size--;
	}
}

void
qmgr_dane_cache_flush(void)
{
	struct tlsa_entry *e;

	while ((e = cache) != NULL) {
		cache = e->next;
		entry_free(e);
	}
	cache_size = 0;
}

/* ---- one group -------------------------------------------------------- */

/* One MX host at one port. */
struct dane_host {
	struct qmgr_dane *gd;	/* NULL once the group is gone */
	char *host;
	unsigned port;
	char *qname;
	enum qmgr_dane_trust trust;
	int pending;
	struct tls_dane *tlsa;	/* usable records */
	int unusable;		/* secure records, none usable */
	char *defer;		/* the reason to defer this host */
};

struct qmgr_dane {
	struct qmgr_group *g;
	int level;
	enum qmgr_insecure_mx insecure_mx;
	struct dane_host **hosts;
	size_t n_hosts;
	size_t pending;		/* lookups in flight, +1 while starting */
	struct smtp_dane *verdicts;	/* per target */
	void (*done)(struct qmgr_group *);
};

enum qmgr_dane_trust
qmgr_dane_trust(const struct dns_target *t, int level,
    enum qmgr_insecure_mx policy)
{
	if (t->dnssec_valid)
		return QMGR_DANE_SECURE;
	/* Through an insecure MX answer: as insecure addresses at dane-only
	 * and under policy may. */
	if (!t->addr_dnssec_valid || level == TLS_LEV_DANE_ONLY ||
	    policy == QMGR_INSECURE_MX_MAY)
		return QMGR_DANE_INSECURE;
	return QMGR_DANE_INSECURE_MX;
}

enum qmgr_insecure_mx
qmgr_dane_insecure_mx_policy(const struct conf *conf)
{
	const char *v = conf_str(conf, P_smtp_tls_dane_insecure_mx_policy);

	if (strcasecmp(v, "may") == 0)
		return QMGR_INSECURE_MX_MAY;
	if (strcasecmp(v, "encrypt") == 0)
		return QMGR_INSECURE_MX_ENCRYPT;
	return QMGR_INSECURE_MX_DANE;
}

static void
host_free(struct dane_host *h)
{
	free(h->host);
	free(h->qname);
	tls_dane_free(h->tlsa);
	free(h->defer);
	free(h);
}

void
qmgr_dane_decide(struct qmgr_dane_verdict *v, int level,
    enum qmgr_insecure_mx policy, const char *host, const char *qname,
    const char *nexthop, enum qmgr_dane_trust trust, enum dns_status status,
    int secure, const struct dns_tlsa *recs, size_t n, const char *why,
    int log)
{
	int dane_only = level == TLS_LEV_DANE_ONLY;

	memset(v, 0, sizeof(*v));
	if (trust == QMGR_DANE_INSECURE) {
		/* RFC 7672 2.2: no TLSA lookup for a host reached through
		 * insecure MX or address records. */
		if (dane_only)
			v->defer = xasprintf("%s is not a DNSSEC-validated MX "
			    "host; dane-only needs one", host);
		return;
	}
	switch (status) {
	case DNS_OK:
		if (!secure) {
			if (dane_only)
				v->defer = xasprintf("TLSA records of %s are "
				    "not DNSSEC-validated; dane-only needs "
				    "them", qname);
			break;
		}
		if (trust == QMGR_DANE_INSECURE_MX &&
		    policy == QMGR_INSECURE_MX_ENCRYPT) {
			/* The records ask for TLS; no authentication. */
			v->encrypt = 1;
			break;
		}
		v->tlsa = tls_dane_new(host, nexthop);
		if (trust == QMGR_DANE_INSECURE_MX)
			tls_dane_mark_insecure_mx(v->tlsa);
		for (size_t i = 0; i < n; i++)
			(void)tls_dane_add(v->tlsa, recs[i].usage,
			    recs[i].selector, recs[i].mtype, recs[i].data,
			    recs[i].len);
		if (tls_dane_usable(v->tlsa) == 0) {
			/* Secure records that cannot be used: the server
			 * cannot be authenticated, but it said that it
			 * does TLS (RFC 7672 2.2, Postfix's "encrypt"). */
			if (log)
				msg_info("%s: all TLSA records unusable",
				    qname);
			if (dane_only)
				v->defer = xasprintf("all TLSA records of %s "
				    "are unusable", qname);
			else
				v->encrypt = 1;
			tls_dane_free(v->tlsa);
			v->tlsa = NULL;
		}
		break;
	case DNS_NOTFOUND:
		if (dane_only)
			v->defer = xasprintf("no %sTLSA records found for %s",
			    secure ? "" : "DNSSEC-validated ", qname);
		break;
	default:
		if (log)
			msg_warn("DANE TLSA lookup problem: %s", why ? why :
			    "unknown error");
		v->defer = xstrdup(why ? why : "TLSA lookup error");
		break;
	}
}

void
qmgr_dane_verdict_clear(struct qmgr_dane_verdict *v)
{
	tls_dane_free(v->tlsa);
	free(v->defer);
	memset(v, 0, sizeof(*v));
}

/* The verdict of one host from its TLSA answer. */
static void
host_decide(struct dane_host *h, const struct qmgr_dane *gd,
    const char *nexthop, enum dns_status status, int secure,
    const struct dns_tlsa *recs, size_t n, const char *why)
{
	struct qmgr_dane_verdict v;

	qmgr_dane_decide(&v, gd->level, gd->insecure_mx, h->host, h->qname,
	    nexthop, h->trust, status, secure, recs, n, why, 1);
	h->tlsa = v.tlsa;
	h->unusable = v.encrypt;
	h->defer = v.defer;
}

/* Every host decided: lay out the targets' verdicts and go on. */
static void
group_decided(struct qmgr_dane *gd)
{
	struct qmgr_group *g = gd->g;

	gd->verdicts = xcalloc(g->n_targets, sizeof(*gd->verdicts));
	for (size_t i = 0; i < g->n_targets; i++) {
		const struct dns_target *t = &g->targets[i];

		for (size_t j = 0; j < gd->n_hosts; j++) {
			struct dane_host *h = gd->hosts[j];

			if (strcasecmp(h->host, t->hostname) != 0 ||
			    h->port != dns_target_port(t) ||
			    h->trust != qmgr_dane_trust(t, gd->level, gd->insecure_mx))
				continue;
			gd->verdicts[i].tlsa = h->tlsa;
			gd->verdicts[i].encrypt = h->unusable;
			gd->verdicts[i].defer = h->defer;
			break;
		}
	}
	g->job.dane = gd->verdicts;
	gd->done(g);
}

static void
host_release(struct qmgr_dane *gd)
{
	if (--gd->pending == 0)
		group_decided(gd);
}

static void
tlsa_answer(void *arg, enum dns_status status, int secure,
    const struct dns_tlsa *recs, size_t n, unsigned int ttl,
    const char *why)
{
	struct dane_host *h = arg;
	struct qmgr_dane *gd = h->gd;

	if (status != DNS_TEMPFAIL)
		cache_add(h->qname, status, secure, recs, n, ttl,
		    time(NULL));
	h->pending = 0;
	if (gd == NULL) {
		/* The group went away while we asked. */
		host_free(h);
		return;
	}
	host_decide(h, gd, gd->g->route.host, status, secure, recs, n, why);
	host_release(gd);
}

static struct dane_host *
host_find_or_add(struct qmgr_dane *gd, const struct dns_target *t, int *added)
{
	unsigned port = dns_target_port(t);
	struct dane_host *h;

	*added = 0;
	for (size_t j = 0; j < gd->n_hosts; j++) {
		h = gd->hosts[j];
		if (strcasecmp(h->host, t->hostname) == 0 && h->port == port &&
		    h->trust == qmgr_dane_trust(t, gd->level, gd->insecure_mx))
			return h;
	}
	h = xcalloc(1, sizeof(*h));
	h->gd = gd;
	h->host = xstrdup(t->hostname);
	h->port = port;
	h->qname = xasprintf("_%u._tcp.%s", port, t->hostname);
	h->trust = qmgr_dane_trust(t, gd->level, gd->insecure_mx);
	gd->hosts = xrealloc(gd->hosts, (gd->n_hosts + 1) *
	    sizeof(*gd->hosts));
	gd->hosts[gd->n_hosts++] = h;
	*added = 1;
	return h;
}

void
qmgr_dane_resolve(struct qmgr *q, struct qmgr_group *g,
    void (*done)(struct qmgr_group *))
{
	struct qmgr_dane *gd = xcalloc(1, sizeof(*gd));
	time_t now = time(NULL);

	gd->g = g;
	gd->level = g->tls_policy->level;
	gd->insecure_mx = qmgr_dane_insecure_mx_policy(q->conf);
	gd->done = done;
	g->dane = gd;
	gd->pending = 1;	/* no decision while starting */
	for (size_t i = 0; i < g->n_targets; i++) {
		const struct dns_target *t = &g->targets[i];
		struct tlsa_entry *e;
		struct dane_host *h;
		int added;

		h = host_find_or_add(gd, t, &added);
		if (!added)
			continue;
		if (h->trust == QMGR_DANE_INSECURE) {
			host_decide(h, gd, g->route.host, DNS_NOTFOUND, 0,
			    NULL, 0, NULL);
			continue;
		}
		if ((e = cache_find(h->qname, now)) != NULL) {
			host_decide(h, gd, g->route.host, e->status,
			    e->secure, e->recs, e->n, NULL);
			continue;
		}
		gd->pending++;
		h->pending = 1;
		dns_tlsa_lookup(q->dns, h->host, h->port, tlsa_answer, h);
	}
	host_release(gd);
}

void
qmgr_dane_clear(struct qmgr_group *g)
{
	struct qmgr_dane *gd = g->dane;

	if (gd == NULL)
		return;
	for (size_t j = 0; j < gd->n_hosts; j++) {
		if (gd->hosts[j]->pending)
			gd->hosts[j]->gd = NULL;	/* freed on answer */
		else
			host_free(gd->hosts[j]);
	}
	free(gd->hosts);
	free(gd->verdicts);
	free(gd);
	g->dane = NULL;
	g->job.dane = NULL;
}
