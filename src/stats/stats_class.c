/* stats_class: a failure's reason, as it is logged, reduced to a class
 * with few values, so that a metric's label set stays small. The texts
 * are Postfix's words that src/net, src/smtp and src/qmgr log. */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "stats_int.h"

struct pattern {
	const char *text;	/* matched anywhere, any case */
	const char *class;
};

static const char *
match(const char *reason, const struct pattern *p, int any_case,
    const char *fallback)
{
	if (reason == NULL)
		return fallback;
	for (; p->text != NULL; p++)
		if ((any_case ? strcasestr(reason, p->text) :
		    strstr(reason, p->text)) != NULL)
			return p->class;
	return fallback;
}

/* OpenSSL's reason strings (SSL_accept/SSL_connect error ...). */
const char *
stats_tls_failure_class(const char *reason)
{
	static const struct pattern patterns[] = {
		{ "timed out", "timeout" },
		{ "timeout", "timeout" },
		{ "lost connection", "eof" },
		{ "unexpected eof", "eof" },
		{ "certificate", "certificate" },
		{ "verif", "certificate" },
		{ "version", "protocol" },
		/* TLS 1.0 and 1.1's MD5+SHA1 signatures, which OpenSSL 3
		 * refuses: an old protocol's failure. */
		{ "legacy sigalg", "protocol" },
		{ "protocol", "protocol" },
		{ "no shared cipher", "cipher" },
		{ "cipher", "cipher" },
		{ "sigalg", "cipher" },
		{ "group", "cipher" },
		{ NULL, NULL },
	};

	return match(reason, patterns, 1, "other");
}

/* The reason of a "status=deferred (...)" line: our own words, matched
 * with their case (a host name may contain "tls"). */
const char *
stats_deferral_class(const char *reason)
{
	static const struct pattern patterns[] = {
		{ "Cannot start TLS", "tls" },
		{ "TLS is required", "tls" },
		{ "timed out", "timeout" },
		{ " said: 4", "reply_4xx" },
		{ "refused to talk to me", "reply_4xx" },
		{ "Host or domain name not found", "dns" },
		{ "no address to deliver to", "dns" },
		{ "connect to ", "connect" },
		{ "lost connection", "connection_lost" },
		{ "delivery temporarily suspended", "suspended" },
		{ NULL, NULL },
	};

	return match(reason, patterns, 0, "other");
}
