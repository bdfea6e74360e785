/* resolver_probe: one question tells whether the resolver validates.
 * The root zone's SOA, asked with AD, comes back with AD from a
 * validating resolver that has the root's trust anchor (dns_dnssec_probe);
 * here the question gets its own event loop and a deadline, for commands
 * that wait for the answer. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/dns.h"
#include "tlsrelay/log.h"
#include "tlsrelay/util.h"

#include "resolver_probe.h"

/* How long the resolver gets to answer (c-ares retries within it). */
#define PROBE_TIMEOUT	10

struct probe_wait {
	int done;
	struct resolver_probe *rp;
	struct event_base *base;
};

static void
probe_done(void *arg, int validated, const char *why)
{
	struct probe_wait *w = arg;

	if (w->done)
		return;		/* dns_free() ending a late question */
	w->done = 1;
	w->rp->validates = validated;
	w->rp->why = why ? xstrdup(why) : NULL;
	event_base_loopbreak(w->base);
}

static void
probe_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

int
resolver_probe(const struct conf *conf, int on_host_only,
    struct resolver_probe *rp, char **err)
{
	struct timeval tv = { PROBE_TIMEOUT, 0 };
	struct probe_wait w;
	struct event *timer;
	struct dns *dns;
	char *servers;

	memset(rp, 0, sizeof(*rp));
	memset(&w, 0, sizeof(w));
	w.rp = rp;
	if ((w.base = event_base_new()) == NULL)
		msg_fatal("cannot create an event loop");
	if ((dns = dns_new(w.base, conf_str(conf, P_tlsrelay_dns_servers),
	    DNS_LEVEL_DNSSEC, err)) == NULL) {
		event_base_free(w.base);
		return -1;
	}
	servers = dns_servers_describe(dns, &rp->on_host);
	if (*conf_str(conf, P_tlsrelay_dns_servers) == '\0') {
		rp->servers = xasprintf("%s of /etc/resolv.conf", servers);
		free(servers);
	} else
		rp->servers = servers;
	rp->validates = -1;
	if (on_host_only && !rp->on_host) {
		rp->why = xstrdup("not asked: not on this host");
	} else {
		timer = evtimer_new(w.base, probe_timeout, w.base);
		evtimer_add(timer, &tv);
		dns_dnssec_probe(dns, ".", probe_done, &w);
		if (!w.done)
			event_base_dispatch(w.base);
		event_free(timer);
		if (!w.done)
			rp->why = xasprintf("no answer within %d seconds",
			    PROBE_TIMEOUT);
		w.done = 1;
	}
	dns_free(dns);
	event_base_free(w.base);
	return 0;
}

void
resolver_probe_free(struct resolver_probe *rp)
{
	free(rp->servers);
	free(rp->why);
}
