/* tls_errors: OpenSSL's error queue turned into our messages, and the
 * "where was this set" part of configuration errors. */
#include "config.h"

#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/tls.h"
#include "tlsrelay/util.h"
#include "tls_private.h"

const char *
tls_param_origin(const struct conf *conf, int name_id)
{
	const char *origin = conf_origin(conf, name_id);

	return origin ? origin : "default";
}

int
tls_file_error(char **err, const struct conf *conf, int param_id,
    const char *file, char *reason)
{
	const char *param = conf_param_name(param_id);

	*err = xasprintf("%s: %s %s: %s", tls_param_origin(conf, param_id),
	    param, file, reason);
	free(reason);
	return -1;
}

/* OpenSSL loads its texts with the first SSL_CTX; errors can come
 * before that. */
static void
load_error_strings(void)
{
	OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS |
	    OPENSSL_INIT_LOAD_CRYPTO_STRINGS, NULL);
}

/* The first error is the root cause; those after it are the layers that
 * passed it up. */
char *
tls_openssl_reason(const char *fallback)
{
	const char *data = NULL, *text;
	unsigned long e;
	int flags = 0;
	char *reason;

	load_error_strings();
	e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags);
	text = e ? ERR_reason_error_string(e) : NULL;
	if (text == NULL)
		text = fallback;
	if (data != NULL && *data != '\0' && (flags & ERR_TXT_STRING))
		reason = xasprintf("%s (%s)", text, data);
	else
		reason = xstrdup(text);
	ERR_clear_error();
	return reason;
}

void
tls_log_errors(const char *what)
{
	const char *data, *file, *func;
	char text[256];
	unsigned long e;
	int flags, line;

	load_error_strings();
	while ((e = ERR_get_error_all(&file, &line, &func, &data,
	    &flags)) != 0) {
		ERR_error_string_n(e, text, sizeof(text));
		if (data != NULL && *data != '\0' && (flags & ERR_TXT_STRING))
			msg_warn("%s: TLS library problem: %s: %s", what,
			    text, data);
		else
			msg_warn("%s: TLS library problem: %s", what, text);
	}
}
