/* dns_ttl: how long an answer may be kept.
 *
 * Records are kept for the smallest TTL of the set (RFC 2181 5.2); a
 * denial (NXDOMAIN or NODATA) for the negative TTL of RFC 2308 5: the
 * smaller of the TTL of the SOA record in the authority section and
 * that SOA's MINIMUM field. c-ares 1.18 exposes neither for an answer
 * it parses, so the message is walked here, every length checked
 * against its end (fuzzed through tests/fuzz/fuzz_tlsa.c). */
#include "config.h"

#include <arpa/nameser.h>

#include <ares.h>

#include "tlsrelay/dns.h"

#include "dns_int.h"

#define DNS_TYPE_SOA	6

int
dns_skip_name(const unsigned char *abuf, int alen, const unsigned char **p)
{
	char *name = NULL;
	long enclen = 0;

	if (*p < abuf || *p >= abuf + alen ||
	    ares_expand_name(*p, abuf, alen, &name, &enclen) != ARES_SUCCESS)
		return -1;
	ares_free_string(name);
	if (enclen <= 0 || enclen > abuf + alen - *p)
		return -1;
	*p += enclen;
	return 0;
}

/* RFC 2181 8: a TTL with the top bit set is zero. */
static unsigned int
ttl_value(unsigned int ttl)
{
	return ttl > 0x7fffffffU ? 0 : ttl;
}

/* The negative TTL of one SOA record whose RDATA is rdata..end. */
static int
soa_negative_ttl(const unsigned char *abuf, int alen,
    const unsigned char *rdata, const unsigned char *end, unsigned int rrttl,
    unsigned int *ttl)
{
	const unsigned char *p = rdata;
	unsigned int minimum;

	/* MNAME and RNAME, then SERIAL REFRESH RETRY EXPIRE MINIMUM. */
	if (dns_skip_name(abuf, alen, &p) != 0 || p > end ||
	    dns_skip_name(abuf, alen, &p) != 0 || p > end || end - p < 20)
		return 0;
	minimum = ttl_value(dns_get32(p + 16));
	rrttl = ttl_value(rrttl);
	*ttl = minimum < rrttl ? minimum : rrttl;
	return 1;
}

int
dns_answer_ttl(const unsigned char *abuf, int alen, int type,
    unsigned int *ttl)
{
	const unsigned char *p, *end;
	unsigned int qdcount, ancount, nscount, i;
	int found = 0;

	*ttl = 0;
	if (abuf == NULL || alen < HFIXEDSZ)
		return 0;
	end = abuf + alen;
	qdcount = dns_get16(abuf + 4);
	ancount = dns_get16(abuf + 6);
	nscount = dns_get16(abuf + 8);
	p = abuf + HFIXEDSZ;
	for (i = 0; i < qdcount; i++) {
		if (dns_skip_name(abuf, alen, &p) != 0 || end - p < QFIXEDSZ)
			goto bad;
		p += QFIXEDSZ;
	}
	for (i = 0; i < ancount + nscount; i++) {
		unsigned int rrtype, class, rrttl, rdlen;

		if (dns_skip_name(abuf, alen, &p) != 0 || end - p < RRFIXEDSZ)
			goto bad;
		rrtype = dns_get16(p);
		class = dns_get16(p + 2);
		rrttl = dns_get32(p + 4);
		rdlen = dns_get16(p + 8);
		p += RRFIXEDSZ;
		if ((size_t)(end - p) < rdlen)
			goto bad;
		if (class != C_IN) {
			/* not ours */
		} else if (i < ancount && (int)rrtype == type) {
			rrttl = ttl_value(rrttl);
			if (!found || rrttl < *ttl)
				*ttl = rrttl;
			found = 1;
		} else if (i >= ancount && !found && rrtype == DNS_TYPE_SOA) {
			/* A denial: no record of the type was answered. */
			return soa_negative_ttl(abuf, alen, p, p + rdlen,
			    rrttl, ttl);
		}
		p += rdlen;
	}
	return found;
bad:
	/* A broken message: nothing in it counts, a TTL seen before the
	 * break included. */
	*ttl = 0;
	return 0;
}
