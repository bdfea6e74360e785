/* tls_ciphers: Postfix's cipher grades ("high", "medium", "null") and
 * exclusion lists turned into an OpenSSL cipher string. Whether that
 * string selects any cipher only OpenSSL knows, and only when a context
 * takes it: that is checked where the contexts are built, never in a
 * context made just for the check. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/tls.h"
#include "tlsrelay/util.h"
#include "tls_private.h"

struct grade {
	const char *name;
	int list_param;
};

/* Postfix 3.6 and later treat "low" and "export" as "medium". */
static const struct grade grades[] = {
	{ "high", P_tls_high_cipherlist },
	{ "medium", P_tls_medium_cipherlist },
	{ "low", P_tls_medium_cipherlist },
	{ "export", P_tls_medium_cipherlist },
	{ "null", P_tls_null_cipherlist },
};

static int
grade_list_param(const char *grade)
{
	for (size_t i = 0; i < sizeof(grades) / sizeof(grades[0]); i++)
		if (strcasecmp(grade, grades[i].name) == 0)
			return grades[i].list_param;
	return -1;
}

int
tls_set_cipher_list(SSL_CTX *ctx, const char *ciphers, char **reason)
{
	/* SSL_CTX_set_cipher_list fails when nothing for TLS 1.2 and older
	 * is selected; TLS 1.3 has its own list. */
	if (SSL_CTX_set_cipher_list(ctx, ciphers) != 1) {
		ERR_clear_error();
		*reason = xasprintf("no cipher matches \"%s\"", ciphers);
		return -1;
	}
	return 0;
}

char *
tls_cipher_string(const struct conf *conf, const char *grade,
    const char *exclusions, char **err)
{
	const char *base;
	int param;
	char **words, *copy, *name, *result = NULL;
	struct strbuf sb;

	*err = NULL;
	copy = xstrdup(grade ? grade : "");
	name = str_trim(copy);
	param = grade_list_param(name);
	if (param < 0)
		*err = xasprintf("invalid cipher grade \"%s\": "
		    "expected high, medium or null", name);
	free(copy);
	if (param < 0)
		return NULL;
	base = conf_str(conf, param);
	if (base == NULL || *base == '\0') {
		*err = xasprintf("%s is empty", conf_param_name(param));
		return NULL;
	}

	strbuf_init(&sb);
	strbuf_puts(&sb, base);
	words = strlist_split(exclusions, LIST_SEPARATORS ":", NULL);
	for (size_t i = 0; words[i] != NULL; i++) {
		/* An exclusion names ciphers; an operator would change the
		 * meaning of the whole list. */
		if (strchr("!+-@", words[i][0]) != NULL) {
			*err = xasprintf("invalid unary '!+-@' in cipher "
			    "exclusion \"%s\"", words[i]);
			break;
		}
		strbuf_printf(&sb, ":!%s", words[i]);
	}
	strlist_free(words);
	if (*err == NULL)
		result = strbuf_steal(&sb);
	strbuf_free(&sb);
	return result;
}
