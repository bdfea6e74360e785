/* Fuzz harness: the PROXY protocol header (src/proxy/proxy.c), the first
 * bytes of a connection from a load balancer. Checked: what is consumed
 * is within the input and the bound; an address is printable and of its
 * family; NEED_MORE is only said while more could complete a header, and
 * a parse of a longer input agrees with a shorter OK. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "tlsrelay/proxy.h"
#include "fuzz.h"

#define CHECK(cond) do { if (!(cond)) { \
	fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
	    #cond); \
	abort(); } } while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_info info, again;
	const char *why;
	size_t used, used2;

	switch (proxy_parse(data, size, &info, &used, &why)) {
	case PROXY_NEED_MORE:
		CHECK(size < PROXY_HEADER_MAX);
		break;
	case PROXY_ERROR:
		CHECK(why != NULL && *why != '\0');
		break;
	case PROXY_OK:
		CHECK(used > 0 && used <= size && used <= PROXY_HEADER_MAX);
		if (!info.local) {
			CHECK(info.family == AF_INET ||
			    info.family == AF_INET6);
			CHECK(memchr(info.client_addr, '\0',
			    sizeof(info.client_addr)) != NULL);
			CHECK(info.client_addr[0] != '\0');
			CHECK(info.client_port <= 65535);
			CHECK(strchr(info.client_addr, ' ') == NULL);
			/* IPv4-mapped IPv6 (::ffff:192.0.2.7) is given
			 * as IPv4; ::192.0.2.7 and ::ffff:ffff:0:0:c0
			 * are IPv6 addresses of their own. */
			CHECK(strncmp(info.client_addr, "::ffff:", 7) != 0 ||
			    strchr(info.client_addr, '.') == NULL);
		}
		/* The header alone parses the same. */
		CHECK(proxy_parse(data, used, &again, &used2, &why) ==
		    PROXY_OK);
		CHECK(used2 == used);
		CHECK(strcmp(again.client_addr, info.client_addr) == 0);
		break;
	}
	return 0;
}
