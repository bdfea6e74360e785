/* Fuzz harness: the TLSA answer parser (src/dns/dns_tlsa.c), fed whatever
 * a server may send. Checked: success and failure are exclusive of
 * records, the count stays within DNS_TLSA_MAX, each record's data is
 * as long as it says (ASan reads every byte of it). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include <ares.h>

#include "tlsrelay/dns.h"
#include "fuzz.h"

#define CHECK(cond) do { if (!(cond)) { \
	fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
	    #cond); \
	abort(); } } while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_tlsa *t;
	unsigned int ttl, sum = 0;
	size_t n;
	int status;

	if (size > 65535)
		return 0;
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
