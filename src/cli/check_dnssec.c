/* check_dnssec: with smtp_dns_support_level = dnssec, does the resolver
 * validate? The AD bit of its answers is believed (dns.h), so a resolver
 * that does not validate makes every answer insecure: dane works as may
 * and dane-only defers everything. One question tells: the root zone's
 * SOA, asked with AD, comes back with AD from a validating resolver that
 * has the root's trust anchor. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/dns.h"
#include "tlsrelay/log.h"
#include "tlsrelay/tls.h"
#include "tlsrelay/tls_client.h"
#include "tlsrelay/util.h"
#include "check.h"

/* How long the resolver gets to answer (c-ares retries within it). */
#define PROBE_TIMEOUT	10

struct probe_result {
	int done;
	int validated;
	char *why;
	struct event_base *base;
};

static void
probe_done(void *arg, int validated, const char *why)
{
	struct probe_result *r = arg;

	if (r->done)
		return;		/* dns_free() ending a late question */
	r->done = 1;
	r->validated = validated;
	r->why = why ? xstrdup(why) : NULL;
	event_base_loopbreak(r->base);
}

static void
probe_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

void
check_dnssec(struct check *c, const struct conf *conf)
{
	const char *servers = conf_str(conf, P_tlsrelay_dns_servers);
	const char *which = *servers ? servers : "/etc/resolv.conf";
	struct timeval tv = { PROBE_TIMEOUT, 0 };
	struct probe_result r;
	struct event *timer;
	struct dns *dns;
	char *err = NULL;
	int level = tls_smtp_level(conf);

	if (dns_support_level(conf_str(conf, P_smtp_dns_support_level),
	    &err) != DNS_LEVEL_DNSSEC) {
		free(err);
		if (level == TLS_LEV_DANE || level == TLS_LEV_DANE_ONLY)
			check_warn(c, "%s: smtp_tls_security_level = %s needs "
			    "smtp_dns_support_level = dnssec: without it %s",
			    check_origin(conf, P_smtp_tls_security_level),
			    tls_level_name(level), level == TLS_LEV_DANE ?
			    "mail gets opportunistic TLS (may)" :
			    "mail is deferred");
		return;
	}
	memset(&r, 0, sizeof(r));
	if ((r.base = event_base_new()) == NULL)
		msg_fatal("check: cannot create an event loop");
	if ((dns = dns_new(r.base, servers, DNS_LEVEL_DNSSEC, &err)) == NULL) {
		/* The configuration check reports the bad value itself. */
		free(err);
		event_base_free(r.base);
		return;
	}
	timer = evtimer_new(r.base, probe_timeout, r.base);
	evtimer_add(timer, &tv);
	dns_dnssec_probe(dns, ".", probe_done, &r);
	if (!r.done)
		event_base_dispatch(r.base);
	event_free(timer);
	if (!r.done)
		r.why = xasprintf("no answer within %d seconds", PROBE_TIMEOUT);
	r.done = 1;
	dns_free(dns);
	event_base_free(r.base);

	if (r.validated == 1)
		msg_info("%s: smtp_dns_support_level = dnssec: the resolver "
		    "(%s) validates DNSSEC", check_origin(conf,
		    P_smtp_dns_support_level), which);
	else if (r.validated == 0)
		check_warn(c, "%s: smtp_dns_support_level = dnssec, but the "
		    "resolver (%s) does not validate DNSSEC (no AD bit on the "
		    "root zone's SOA): no answer is secure, dane works as may "
		    "and dane-only defers all mail; use a validating resolver "
		    "on this host", check_origin(conf,
		    P_smtp_dns_support_level), which);
	else
		check_warn(c, "%s: smtp_dns_support_level = dnssec, but the "
		    "resolver (%s) cannot say whether it validates DNSSEC: %s",
		    check_origin(conf, P_smtp_dns_support_level), which,
		    r.why);
	free(r.why);
}
