/* qmgr_mtasts: MTA-STS (RFC 8461) for a group routed by the MX records of
 * its domain, after its targets are known and before it goes to the
 * client pool.
 *
 * Precedence: an explicit smtp_tls_policy_maps entry for the next hop,
 * then DANE (a target with usable TLSA records), then MTA-STS, then
 * smtp_tls_security_level. Under a policy in mode enforce:
 *   - only targets whose MX host matches one of the policy's mx patterns
 *     are tried; none left defers the group;
 *   - the TLS policy becomes secure, match=hostname, TLS 1.2 or newer,
 *     the certificate verified against tlsrelay_mta_sts_CAfile or, when
 *     that is empty, the system store (the anchors of the policy fetch;
 *     smtp_tls_CAfile is for the administrator's own verify and secure
 *     destinations, and by Postfix's defaults trusts nothing);
 *   - any failure defers (the secure level never falls back).
 * In mode testing delivery goes on as before, and what enforce would
 * have refused is logged: an MX host not in the policy when the group
 * is decided, a server that fails enforce's TLS checks (trust, name,
 * protocol: tls_client_audit) when its TLS session is made. Both lines
 * end "would ... in mode enforce". */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/x509.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/mtasts.h"
#include "tlsrelay/tls.h"
#include "tlsrelay/tls_client.h"
#include "tlsrelay/util.h"
#include "qmgr_int.h"

/* What the enforce level asks of the MX server (RFC 8461 4.2). */
#define MTASTS_TLS_POLICY	"secure match=hostname protocols=>=TLSv1.2"

struct qmgr_mtasts {
	struct qmgr_group *g;
	struct mtasts_lookup *lookup;
	void (*done)(struct qmgr_group *);
	char *defer;		/* the group is not to be tried: why */
	int decided;
};

/* One resolver and one trust store per queue manager process. */
static struct mtasts *resolver;
static X509_STORE *anchors;

int
qmgr_mtasts_setup(struct qmgr *q, char **err)
{
	const char *cafile = conf_str(q->conf, P_tlsrelay_mta_sts_CAfile);
	int ok;

	/* Without DNS there is neither a TXT record nor an MX route. */
	if (!conf_bool(q->conf, P_tlsrelay_mta_sts_enable) ||
	    strcasecmp(conf_str(q->conf, P_smtp_dns_support_level),
	    "disabled") == 0)
		return 0;
	resolver = mtasts_new(q->dns, conf_str(q->conf, P_data_directory),
	    cafile, (unsigned short)conf_int(q->conf,
	    P_tlsrelay_mta_sts_fetch_port), err);
	if (resolver == NULL)
		return -1;
	anchors = X509_STORE_new();
	ok = cafile[0] != '\0' ?
	    X509_STORE_load_locations(anchors, cafile, NULL) :
	    X509_STORE_set_default_paths(anchors);
	if (anchors == NULL || ok != 1) {
		*err = xasprintf("tlsrelay_mta_sts_CAfile: cannot load %s",
		    cafile[0] != '\0' ? cafile : "the system's CA store");
		qmgr_mtasts_shutdown();
		return -1;
	}
	return 0;
}

void
qmgr_mtasts_shutdown(void)
{
	mtasts_free(resolver);
	resolver = NULL;
	X509_STORE_free(anchors);
	anchors = NULL;
}

int
qmgr_mtasts_wanted(const struct qmgr_group *g)
{
	if (resolver == NULL || !g->route.with_mx || g->tls_policy == NULL ||
	    g->tls_policy->from_table)
		return 0;
	/* DANE first: a target with usable TLSA records decides. */
	if (g->job.dane != NULL)
		for (size_t i = 0; i < g->n_targets; i++)
			if (g->job.dane[i].tlsa != NULL)
				return 0;
	return 1;
}

static void
log_skipped(const struct qmgr_group *g, const char *id, const char *host)
{
	msg_info("%s: MTA-STS policy for %s (id=%s): MX host %s is not in "
	    "the policy: skipped", g->msg->id, g->route.host, id, host);
}

/* Keeps the targets the policy names (DANE verdicts, if any, are
 * dropped with the policy they belonged to). Returns how many are
 * left; with none, the targets stay as they were. */
static size_t
keep_policy_targets(struct qmgr_group *g, const struct mtasts_policy *p,
    const char *id)
{
	size_t kept = 0;

	for (size_t i = 0; i < g->n_targets; i++)
		if (mtasts_policy_mx_match(p, g->targets[i].hostname))
			kept++;
	if (kept == 0) {
		for (size_t i = 0; i < g->n_targets; i++)
			log_skipped(g, id, g->targets[i].hostname);
		return 0;
	}
	kept = 0;
	for (size_t i = 0; i < g->n_targets; i++) {
		struct dns_target *t = &g->targets[i];

		if (mtasts_policy_mx_match(p, t->hostname)) {
			g->targets[kept++] = *t;
			continue;
		}
		log_skipped(g, id, t->hostname);
		free(t->hostname);
	}
	g->n_targets = kept;
	return kept;
}

/* mode enforce: the secure policy, with the MTA-STS trust anchors;
 * NULL when those cannot be shared. */
static struct tls_policy *
enforce_policy(struct qmgr_group *g, const char *id)
{
	char *where = xasprintf("MTA-STS policy for %s (id=%s)",
	    g->route.host, id);
	struct tls_policy *p = tls_policy_parse(g->msg->q->conf,
	    g->route.nexthop, MTASTS_TLS_POLICY, where);
	const char *cafile = conf_str(g->msg->q->conf,
	    P_tlsrelay_mta_sts_CAfile);
	char *key;

	free(where);
	if (p->error == NULL && X509_STORE_up_ref(anchors) != 1) {
		/* Never the secure level with smtp_tls_CAfile instead. */
		tls_policy_free(p);
		return NULL;
	}
	if (p->error == NULL) {
		p->trust_anchors = anchors;
		free(p->tafiles);
		p->tafiles = xstrdup(cafile[0] != '\0' ? cafile : "system");
		/* Sessions and connections made under other anchors are
		 * not reused under these. */
		key = xasprintf("%s mta-sts-anchors=%s", p->cache_key,
		    p->tafiles);
		free(p->cache_key);
		p->cache_key = key;
	}
	return p;
}

/* mode testing: the configured policy, and an audit of each server by
 * what enforce would ask (tls_client_audit), reported when it fails.
 * Connections and sessions made with the audit are not shared with
 * those made without, so that none escapes it. */
static void
testing_audit(struct qmgr_group *g, const char *id)
{
	struct tls_policy *p = g->tls_policy;
	char *key;

	if (p->level < TLS_LEV_MAY || p->audit != NULL ||
	    X509_STORE_up_ref(anchors) != 1)
		return;
	p->audit_anchors = anchors;
	p->audit = xasprintf("MTA-STS policy for %s (id=%s, testing)",
	    g->route.host, id);
	key = xasprintf("%s mta-sts-audit=%s", p->cache_key, p->audit);
	free(p->cache_key);
	p->cache_key = key;
}

static void
decided(void *arg, const struct mtasts_policy *policy, const char *id)
{
	struct qmgr_mtasts *st = arg;
	struct qmgr_group *g = st->g;

	st->lookup = NULL;
	st->decided = 1;
	if (policy == NULL) {
		/* No policy: the group goes on as configured. */
	} else if (policy->mode == MTASTS_MODE_TESTING) {
		for (size_t i = 0; i < g->n_targets; i++)
			if (!mtasts_policy_mx_match(policy,
			    g->targets[i].hostname))
				msg_info("%s: MTA-STS policy for %s (id=%s, "
				    "testing): MX host %s is not in the "
				    "policy: would be skipped in mode "
				    "enforce", g->msg->id, g->route.host, id,
				    g->targets[i].hostname);
		testing_audit(g, id);
	} else if (keep_policy_targets(g, policy, id) == 0) {
		st->defer = xasprintf("MTA-STS policy for %s (id=%s): no MX "
		    "host matches the policy", g->route.host, id);
	} else {
		struct tls_policy *p = enforce_policy(g, id);

		if (p == NULL) {
			st->defer = xasprintf("MTA-STS policy for %s (id=%s): "
			    "cannot use its trust anchors", g->route.host, id);
		} else if (p->error != NULL) {
			st->defer = xstrdup(p->error);
			tls_policy_free(p);
		} else {
			tls_policy_free(g->tls_policy);
			g->tls_policy = p;
			g->job.tls_policy = p;
			g->job.tls_level = p->level;
			/* DANE did not decide: no per-target verdicts. */
			g->job.dane = NULL;
			if (msg_verbose)
				msg_debug("%s: MTA-STS policy for %s (id=%s): "
				    "enforce", g->msg->id, g->route.host, id);
		}
	}
	/* The lookup may answer before qmgr_mtasts_resolve returns. */
	if (st->done != NULL)
		st->done(g);
}

void
qmgr_mtasts_resolve(struct qmgr_group *g, void (*done)(struct qmgr_group *))
{
	struct qmgr_mtasts *st = xcalloc(1, sizeof(*st));
	struct mtasts_lookup *lk;

	st->g = g;
	g->mtasts = st;
	lk = mtasts_lookup(resolver, g->route.host, decided, st);
	if (st->decided) {
		done(g);
		return;
	}
	st->lookup = lk;
	st->done = done;
}

const char *
qmgr_mtasts_defer(const struct qmgr_group *g)
{
	return g->mtasts != NULL ? g->mtasts->defer : NULL;
}

void
qmgr_mtasts_clear(struct qmgr_group *g)
{
	struct qmgr_mtasts *st = g->mtasts;

	if (st == NULL)
		return;
	if (st->lookup != NULL)
		mtasts_lookup_cancel(st->lookup);
	free(st->defer);
	free(st);
	g->mtasts = NULL;
}
