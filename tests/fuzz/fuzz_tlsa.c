/* Fuzz harness: the TLSA answer parser (src/dns/dns_tlsa.c) and the
 * answer's TTL (src/dns/dns_ttl.c, positive and negative), fed whatever
 * a server may send. Checked: success and failure are exclusive of
 * records, the count stays within DNS_TLSA_MAX, each record's data is
 * as long as it says (ASan reads every byte of it), a TTL is never
 * above 2^31 - 1 and is 0 when nothing was found. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include <ares.h>

#include "tlsrelay/dns.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_tlsa *t;
	unsigned int ttl, sum = 0;
	size_t n;
	int status;

	if (size > 65535)
		return 0;
	if (dns_answer_ttl(data, (int)size, DNS_TYPE_TLSA, &ttl))
		CHECK(ttl <= 0x7fffffffU);
	else
		CHECK(ttl == 0);
	status = dns_tlsa_parse(data, (int)size, &t, &n, &ttl);
	if (status != ARES_SUCCESS) {
		CHECK(status == ARES_EBADRESP);
		CHECK(t == NULL && n == 0);
		return 0;
	}
	CHECK(n <= DNS_TLSA_MAX);
	CHECK((n == 0) == (t == NULL));
	CHECK(ttl <= 0x7fffffffU);
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < t[i].len; j++)
			sum += t[i].data[j];
	(void)sum;
	dns_tlsa_free(t, n);
	return 0;
}
