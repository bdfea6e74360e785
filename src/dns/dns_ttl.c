/* dns_ttl: how long an answer may be kept.
 *
 * Records are kept for the smallest TTL of the set (RFC 2181 5.2); a
 * denial (NXDOMAIN or NODATA) for the negative TTL of RFC 2308 5: the
 * smaller of the TTL of the SOA record in the authority section and
 * that SOA's MINIMUM field. c-ares 1.18 exposes neither for an answer
 * it parses, so the message is walked here (dns_rr.c). */
#include "config.h"

#include <arpa/nameser.h>

#include <ares.h>

#include "tlsrelay/dns.h"

#include "dns_int.h"

#define DNS_TYPE_SOA	6

/* The negative TTL of one SOA record. */
static int
soa_negative_ttl(const unsigned char *abuf, int alen, const struct dns_rr *rr,
    unsigned int *ttl)
{
	const unsigned char *p = rr->rdata, *end = rr->rdata + rr->rdlen;
	unsigned int minimum;

	/* MNAME and RNAME, then SERIAL REFRESH RETRY EXPIRE MINIMUM. */
	if (dns_skip_name(abuf, alen, &p) != 0 || p > end ||
	    dns_skip_name(abuf, alen, &p) != 0 || p > end || end - p < 20)
		return 0;
	minimum = dns_ttl_value(dns_get32(p + 16));
	*ttl = minimum < rr->ttl ? minimum : rr->ttl;
	return 1;
}

int
dns_answer_ttl(const unsigned char *abuf, int alen, int type,
    unsigned int *ttl)
{
	struct dns_rr_walk w;
	struct dns_rr rr;
	int found = 0, more;

	*ttl = 0;
	if (dns_rr_walk_start(&w, abuf, alen, DNS_SECTION_AUTHORITY) != 0)
		goto bad;
	while ((more = dns_rr_next(&w, &rr)) == 1) {
		if (rr.class != C_IN) {
			/* not ours */
		} else if (rr.section == DNS_SECTION_ANSWER &&
		    (int)rr.type == type) {
			if (!found || rr.ttl < *ttl)
				*ttl = rr.ttl;
			found = 1;
		} else if (rr.section == DNS_SECTION_AUTHORITY && !found &&
		    rr.type == DNS_TYPE_SOA) {
			/* A denial: no record of the type was answered. */
			return soa_negative_ttl(abuf, alen, &rr, ttl);
		}
	}
	if (more == 0)
		return found;
bad:
	/* A broken message: nothing in it counts, a TTL seen before the
	 * break included. */
	*ttl = 0;
	return 0;
}
