/* dns_families: inet_protocols as the address families a next hop's
 * addresses are taken from; one reading for the queue manager and for
 * tlsrelay tls-finger. */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "tlsrelay/dns.h"

int
dns_families(const char *inet_protocols)
{
	const char *p = inet_protocols ? inet_protocols : "";
	int f = 0;

	if (strcasecmp(p, "all") == 0)
		return DNS_FAMILY_INET | DNS_FAMILY_INET6;
	if (strstr(p, "ipv4"))
		f |= DNS_FAMILY_INET;
	if (strstr(p, "ipv6"))
		f |= DNS_FAMILY_INET6;
	return f ? f : DNS_FAMILY_INET;
}
