/* dns_tlsa: TLSA records (RFC 6698) for DANE (RFC 7672).
 *
 * c-ares 1.18 has no TLSA parser: the answer's records come from the
 * bounds-checked walk of dns_rr.c, so that the fuzzer
 * (tests/fuzz/fuzz_tlsa.c) can throw any bytes at it. Whether the
 * answer is secure is the AD bit of the local validating resolver
 * (dns_query at DNS_LEVEL_DNSSEC). */
#include "config.h"

#include <arpa/nameser.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ares.h>

#include "tlsrelay/dns.h"
#include "tlsrelay/util.h"

#include "dns_int.h"

void
dns_tlsa_free(struct dns_tlsa *records, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(records[i].data);
	free(records);
}

int
dns_tlsa_parse(const unsigned char *abuf, int alen, struct dns_tlsa **records,
    size_t *n, unsigned int *ttl)
{
	struct dns_rr_walk w;
	struct dns_rr rr;
	struct dns_tlsa *out = NULL;
	size_t count = 0;
	int more;

	*records = NULL;
	*n = 0;
	*ttl = 0;
	if (dns_rr_walk_start(&w, abuf, alen, DNS_SECTION_ANSWER) != 0)
		return ARES_EBADRESP;
	while ((more = dns_rr_next(&w, &rr)) == 1) {
		struct dns_tlsa *t;

		if (rr.type != DNS_TYPE_TLSA || rr.class != C_IN)
			continue;
		/* Usage, selector, matching type, then the data. */
		if (rr.rdlen < 3)
			goto bad;
		if (count == DNS_TLSA_MAX)
			continue;
		out = xrealloc(out, (count + 1) * sizeof(*out));
		t = &out[count++];
		t->usage = rr.rdata[0];
		t->selector = rr.rdata[1];
		t->mtype = rr.rdata[2];
		t->len = rr.rdlen - 3;
		t->data = xmalloc(t->len > 0 ? t->len : 1);
		memcpy(t->data, rr.rdata + 3, t->len);
		/* The smallest TTL of the records kept (RFC 2181 5.2). */
		if (count == 1 || rr.ttl < *ttl)
			*ttl = rr.ttl;
	}
	if (more != 0)
		goto bad;
	*records = out;
	*n = count;
	return ARES_SUCCESS;

bad:
	dns_tlsa_free(out, count);
	*ttl = 0;
	return ARES_EBADRESP;
}

/* ---- the lookup -------------------------------------------------------- */

struct tlsa_req {
	struct dns *dns;
	char *qname;
	dns_tlsa_cb cb;
	void *arg;
};

/* How long a denial is kept: its negative TTL (RFC 2308 5: from the SOA
 * the resolver sends in the authority section), bounded so that a zero
 * or a missing SOA does not mean a query per message and a large one
 * does not hide new records for long. */
static unsigned int
negative_ttl(const unsigned char *abuf, int alen)
{
	unsigned int ttl;

	if (!dns_answer_ttl(abuf, alen, DNS_TYPE_TLSA, &ttl) ||
	    ttl < DNS_NEGATIVE_TTL_MIN)
		return DNS_NEGATIVE_TTL_MIN;
	return ttl > DNS_NEGATIVE_TTL_MAX ? DNS_NEGATIVE_TTL_MAX : ttl;
}

static void
tlsa_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct tlsa_req *req = arg;
	struct dns_tlsa *records = NULL;
	size_t n = 0;
	unsigned int ttl = 0;
	int secure;
	char *why;

	(void)timeouts;
	secure = dns_answer_secure(req->dns, abuf, alen);
	if (status == ARES_SUCCESS)
		status = dns_tlsa_parse(abuf, alen, &records, &n, &ttl);
	if (status == ARES_SUCCESS && n > 0) {
		req->cb(req->arg, DNS_OK, secure, records, n, ttl, NULL);
	} else if (status == ARES_SUCCESS || status == ARES_ENODATA ||
	    status == ARES_ENOTFOUND) {
		req->cb(req->arg, DNS_NOTFOUND, secure, NULL, 0,
		    negative_ttl(abuf, alen), NULL);
	} else {
		why = xasprintf("TLSA lookup error for %s: %s", req->qname,
		    status == ARES_ESERVFAIL ? "SERVFAIL (DNSSEC validation "
		    "failure or server problem)" : ares_strerror(status));
		req->cb(req->arg, DNS_TEMPFAIL, 0, NULL, 0, 0, why);
		free(why);
	}
	dns_tlsa_free(records, n);
	free(req->qname);
	free(req);
}

void
dns_tlsa_lookup(struct dns *dns, const char *host, unsigned port,
    dns_tlsa_cb cb, void *arg)
{
	struct tlsa_req *req;
	char *qname = xasprintf("_%u._tcp.%s", port, host);

	if (dns->destroying || !dns->use_dns) {
		char *why = xasprintf("TLSA lookup error for %s: %s", qname,
		    dns->destroying ? "resolver shutting down" :
		    "DNS lookups are disabled");

		cb(arg, DNS_TEMPFAIL, 0, NULL, 0, 0, why);
		free(why);
		free(qname);
		return;
	}
	req = xcalloc(1, sizeof(*req));
	req->dns = dns;
	req->qname = qname;
	req->cb = cb;
	req->arg = arg;
	dns_query(dns, qname, DNS_TYPE_TLSA, tlsa_cb, req);
	dns_update_timer(dns);
}
