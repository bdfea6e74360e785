/* dns_level: smtp_dns_support_level, and whether the resolver behind
 * "dnssec" validates. */
#include "config.h"

#include <arpa/nameser.h>
#include <stdlib.h>
#include <strings.h>

#include <ares.h>

#include "tlsrelay/dns.h"
#include "tlsrelay/util.h"

#include "dns_int.h"

int
dns_support_level(const char *level, char **err)
{
	if (level == NULL || *level == '\0' ||
	    strcasecmp(level, "enabled") == 0)
		return DNS_LEVEL_ENABLED;
	if (strcasecmp(level, "disabled") == 0)
		return DNS_LEVEL_DISABLED;
	/* The resolver validates; we believe its AD bit (dns_new). */
	if (strcasecmp(level, "dnssec") == 0)
		return DNS_LEVEL_DNSSEC;
	*err = xasprintf("invalid smtp_dns_support_level value \"%s\": "
	    "expected enabled, disabled or dnssec", level);
	return -1;
}

struct probe {
	struct dns *dns;
	dns_probe_cb cb;
	void *arg;
};

static void
probe_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct probe *p = arg;

	(void)timeouts;
	if (status == ARES_SUCCESS || status == ARES_ENODATA)
		p->cb(p->arg, dns_answer_secure(p->dns, abuf, alen), NULL);
	else
		p->cb(p->arg, -1, ares_strerror(status));
	free(p);
}

void
dns_dnssec_probe(struct dns *dns, const char *name, dns_probe_cb cb,
    void *arg)
{
	struct probe *p;

	if (!dns->dnssec || dns->destroying) {
		cb(arg, -1, "the resolver is not asked for DNSSEC");
		return;
	}
	p = xcalloc(1, sizeof(*p));
	p->dns = dns;
	p->cb = cb;
	p->arg = arg;
	dns_query(dns, name, T_SOA, probe_cb, p);
	dns_update_timer(dns);
}
