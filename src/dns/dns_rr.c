/* dns_rr: the resource records of a DNS message, one at a time.
 *
 * c-ares 1.18 hands the raw message to whoever needs more than its
 * parsers give (TLSA records, TTLs): the header, question and records
 * are walked here, every length checked against the end of the message
 * before it is used (fuzzed through tests/fuzz/fuzz_tlsa.c). */
#include "config.h"

#include <arpa/nameser.h>

#include <ares.h>

#include "dns_int.h"

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

int
dns_rr_walk_start(struct dns_rr_walk *w, const unsigned char *abuf,
    int alen, enum dns_section last)
{
	unsigned int qdcount;

	w->abuf = abuf;
	w->alen = alen;
	w->next = 0;
	if (abuf == NULL || alen < HFIXEDSZ)
		return -1;
	w->end = abuf + alen;
	qdcount = dns_get16(abuf + 4);
	w->ancount = dns_get16(abuf + 6);
	w->count = w->ancount;
	if (last == DNS_SECTION_AUTHORITY)
		w->count += dns_get16(abuf + 8);
	w->p = abuf + HFIXEDSZ;
	for (unsigned int i = 0; i < qdcount; i++) {
		if (dns_skip_name(abuf, alen, &w->p) != 0 ||
		    w->end - w->p < QFIXEDSZ)
			return -1;
		w->p += QFIXEDSZ;
	}
	return 0;
}

int
dns_rr_next(struct dns_rr_walk *w, struct dns_rr *rr)
{
	const unsigned char *p = w->p;

	if (w->next == w->count)
		return 0;
	if (dns_skip_name(w->abuf, w->alen, &p) != 0 ||
	    w->end - p < RRFIXEDSZ)
		return -1;
	rr->section = w->next < w->ancount ? DNS_SECTION_ANSWER :
	    DNS_SECTION_AUTHORITY;
	rr->type = dns_get16(p);
	rr->class = dns_get16(p + 2);
	rr->ttl = dns_ttl_value(dns_get32(p + 4));
	rr->rdlen = dns_get16(p + 8);
	p += RRFIXEDSZ;
	if ((size_t)(w->end - p) < rr->rdlen)
		return -1;
	rr->rdata = p;
	w->p = p + rr->rdlen;
	w->next++;
	return 1;
}
