/* dns_level: smtp_dns_support_level, as far as tlsrelay supports it. */
#include "config.h"

#include <strings.h>

#include "tlsrelay/dns.h"
#include "tlsrelay/log.h"
#include "tlsrelay/util.h"

int
dns_support_level(const char *level, char **err)
{
	if (level == NULL || *level == '\0' ||
	    strcasecmp(level, "enabled") == 0)
		return 1;
	if (strcasecmp(level, "disabled") == 0)
		return 0;
	if (strcasecmp(level, "dnssec") == 0) {
		/* No validating resolver here: say so, do not pretend. */
		msg_warn("smtp_dns_support_level = dnssec: DNSSEC validation "
		    "is not available; using \"enabled\"");
		return 1;
	}
	*err = xasprintf("invalid smtp_dns_support_level value \"%s\": "
	    "expected enabled, disabled or dnssec", level);
	return -1;
}
