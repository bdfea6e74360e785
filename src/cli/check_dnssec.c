/* check_dnssec: which TLS level mail routed by MX gets, and, with
 * smtp_dns_support_level = dnssec, whether the resolver validates. The
 * AD bit of its answers is believed (dns.h), so a resolver that does not
 * validate makes every answer insecure: dane works as may and dane-only
 * defers everything. Without dnssec no question is sent. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/dns.h"
#include "tlsrelay/log.h"
#include "tlsrelay/tls.h"
#include "tlsrelay/tls_client.h"
#include "tlsrelay/util.h"
#include "check.h"
#include "resolver_probe.h"

/* One line, always: the level of mail routed by MX (smtp_tls_policy_maps
 * and transport_maps may say otherwise per destination) and why, with
 * what DANE would take when it is not what mail gets. dnssec: the
 * resolver was asked (rp); else it was not. */
static void
say_level(const struct conf *conf, int level, int dnssec,
    const struct resolver_probe *rp)
{
	const char *origin = conf_origin(conf, P_smtp_tls_security_level);
	const char *name = tls_level_name(level);
	int dane = level == TLS_LEV_DANE || level == TLS_LEV_DANE_ONLY;
	int validates = dnssec && rp->validates == 1;
	/* What a dane level does when no answer is secure. */
	const char *insecure = level == TLS_LEV_DANE ? "working as may" :
	    "deferring all mail";
	char *why;

	if (origin == NULL)
		origin = "the default";
	if (dane && validates)
		why = xasprintf("%s (%s): the resolver %s validates DNSSEC",
		    name, origin, rp->servers);
	else if (dane && !dnssec)
		why = xasprintf("%s (%s), %s: smtp_dns_support_level is not "
		    "dnssec", name, origin, insecure);
	else if (dane && rp->validates == 0)
		why = xasprintf("%s (%s), %s: the resolver %s does not "
		    "validate DNSSEC", name, origin, insecure, rp->servers);
	else if (dane)
		why = xasprintf("%s (%s), but the resolver %s cannot say "
		    "whether it validates DNSSEC: %s", name, origin,
		    rp->servers, rp->why);
	else if (level != TLS_LEV_MAY && level != TLS_LEV_NONE)
		why = xasprintf("%s (%s)", name, origin);
	else if (validates)
		why = xasprintf("%s (%s); the resolver %s validates DNSSEC, "
		    "so smtp_tls_security_level = dane would add DANE", name,
		    origin, rp->servers);
	else
		why = xasprintf("%s (%s): DANE would need %s%sa validating "
		    "resolver on this host", name, origin, dnssec ? "" :
		    "smtp_dns_support_level = dnssec", dnssec ? "" : " and ");
	msg_info("outbound TLS for MX-routed mail: %s", why);
	free(why);
}

void
check_dnssec(struct check *c, const struct conf *conf)
{
	struct resolver_probe rp;
	char *err = NULL;
	int level = tls_smtp_level(conf);
	int dnssec;

	if (level < 0)
		return;		/* reported with the configuration */
	dnssec = dns_support_level(conf_str(conf, P_smtp_dns_support_level),
	    &err) == DNS_LEVEL_DNSSEC;
	free(err);
	err = NULL;
	memset(&rp, 0, sizeof(rp));
	if (!dnssec) {
		if (level == TLS_LEV_DANE || level == TLS_LEV_DANE_ONLY)
			check_warn(c, "%s: smtp_tls_security_level = %s needs "
			    "smtp_dns_support_level = dnssec: without it %s",
			    check_origin(conf, P_smtp_tls_security_level),
			    tls_level_name(level), level == TLS_LEV_DANE ?
			    "mail gets opportunistic TLS (may)" :
			    "mail is deferred");
		say_level(conf, level, 0, &rp);
		return;
	}
	if (resolver_probe(conf, 0, &rp, &err) < 0) {
		/* The configuration check reports the bad value itself. */
		free(err);
		return;
	}
	if (rp.validates == 1)
		msg_info("%s: smtp_dns_support_level = dnssec: the resolver "
		    "(%s) validates DNSSEC", check_origin(conf,
		    P_smtp_dns_support_level), rp.servers);
	else if (rp.validates == 0)
		check_warn(c, "%s: smtp_dns_support_level = dnssec, but the "
		    "resolver (%s) does not validate DNSSEC (no AD bit on the "
		    "root zone's SOA): no answer is secure, dane works as may "
		    "and dane-only defers all mail; use a validating resolver "
		    "on this host", check_origin(conf,
		    P_smtp_dns_support_level), rp.servers);
	else
		check_warn(c, "%s: smtp_dns_support_level = dnssec, but the "
		    "resolver (%s) cannot say whether it validates DNSSEC: %s",
		    check_origin(conf, P_smtp_dns_support_level), rp.servers,
		    rp.why);
	say_level(conf, level, 1, &rp);
	resolver_probe_free(&rp);
}
