/* Fuzz harness: the answers of the next-hop lookups (src/dns/dns_answer.c,
 * reached by dns_nexthop.c's callbacks with whatever a server sent). The
 * first byte picks the question (0: MX, 1: A, 2: AAAA), the rest is the
 * DNS message. Checked: MX hosts are never empty or the root, are sorted
 * by preference, and come only with a verdict of hosts; a null MX and the
 * implicit MX carry no host; addresses have the size of their family. */
#include "config.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "tlsrelay/dns.h"
#include "../../src/dns/dns_int.h"	/* dns_answer.c is internal */
#include "fuzz.h"

static unsigned int
fixed_random(void)
{
	return 12345;
}

static void
count_address(void *arg, const void *bytes)
{
	CHECK(bytes != NULL);
	(*(size_t *)arg)++;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const unsigned char *abuf = data + 1;
	int alen, status;

	if (size < 1 || size > 65536)
		return 0;
	alen = (int)(size - 1);
	if (data[0] % 3 == 0) {
		struct dns_mx *mx;
		size_t n;

		switch (dns_mx_answer(abuf, alen, fixed_random, &mx, &n,
		    &status)) {
		case MX_VERDICT_HOSTS:
			CHECK(n > 0 && mx != NULL);
			for (size_t i = 0; i < n; i++) {
				CHECK(mx[i].host[0] != '\0');
				CHECK(strcmp(mx[i].host, ".") != 0);
				CHECK(i == 0 || mx[i - 1].preference <=
				    mx[i].preference);
			}
			dns_mx_list_free(mx, n);
			break;
		case MX_VERDICT_ERROR:
			CHECK(status != ARES_SUCCESS);
			/* FALLTHROUGH */
		case MX_VERDICT_IMPLICIT:
		case MX_VERDICT_NULL:
			CHECK(mx == NULL && n == 0);
			break;
		}
	} else {
		size_t count = 0;
		int family = data[0] % 3 == 1 ? AF_INET : AF_INET6;

		status = dns_addr_answer(family, abuf, alen, count_address,
		    &count);
		CHECK(status == ARES_SUCCESS || count == 0);
	}
	return 0;
}
