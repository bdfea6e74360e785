/* dns_level: smtp_dns_support_level. */
#include "config.h"

#include <strings.h>

#include "tlsrelay/dns.h"
#include "tlsrelay/util.h"

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
