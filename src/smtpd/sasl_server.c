/* sasl_server: the table of SMTP AUTH backends, by smtpd_sasl_type.
 * Postfix's default type is cyrus; tlsrelay's is its own password table
 * (tlsrelay), so that AUTH works without a library or a daemon. A main.cf
 * that names cyrus or dovecot gets that backend. */
#include "config.h"

#include <stddef.h>
#include <strings.h>

#include "tlsrelay/sasl_server.h"
#include "tlsrelay/util.h"

static const struct {
	const char *type;
	const struct sasl_backend *backend;	/* NULL: not built in */
} backends[] = {
	{ "tlsrelay", &sasl_backend_tlsrelay },
	{ "dovecot", &sasl_backend_dovecot },
	{ "cyrus", &sasl_backend_cyrus },
};

const struct sasl_backend *
sasl_backend_find(const char *type, char **err)
{
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
		if (strcasecmp(type, backends[i].type) != 0)
			continue;
		if (backends[i].backend == NULL) {
			*err = xasprintf("SASL type \"%s\" is not built into "
			    "this tlsrelay", backends[i].type);
			return NULL;
		}
		return backends[i].backend;
	}
	*err = xasprintf("unknown SASL type \"%s\" (use tlsrelay, dovecot or "
	    "cyrus)", type);
	return NULL;
}
