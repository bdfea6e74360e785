/* addr: helpers for mail addresses that every side needs (smtpd's
 * restrictions, the queue manager's routing). */
#include "config.h"

#include <stdlib.h>

#include "tlsrelay/util.h"

char *
addr_domain(const char *addr)
{
	const char *p, *at = NULL;
	int in_quote = 0;

	/* An '@' inside a quoted local part ("a@b"@host) is not the one. */
	for (p = addr; *p; p++) {
		if (in_quote) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '"')
				in_quote = 0;
		} else if (*p == '"') {
			in_quote = 1;
		} else if (*p == '@') {
			at = p;
		}
	}
	return str_lower(xstrdup(at ? at + 1 : ""));
}
