/* tls_level: the server's TLS security level from smtpd_tls_security_level,
 * or from the obsolete smtpd_use_tls / smtpd_enforce_tls when it is empty. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/tls.h"
#include "tlsrelay/util.h"
#include "tls_private.h"

/* Every level Postfix names; the server accepts only the first three. */
static const char *const level_names[] = {
	[TLS_LEV_NONE] = "none",
	[TLS_LEV_MAY] = "may",
	[TLS_LEV_ENCRYPT] = "encrypt",
	[TLS_LEV_FPRINT] = "fingerprint",
	[TLS_LEV_DANE] = "dane",
	[TLS_LEV_DANE_ONLY] = "dane-only",
	[TLS_LEV_VERIFY] = "verify",
	[TLS_LEV_SECURE] = "secure",
};

#define N_LEVELS (sizeof(level_names) / sizeof(level_names[0]))

const char *
tls_level_name(int level)
{
	if (level < 0 || (size_t)level >= N_LEVELS)
		return "unknown";
	return level_names[level];
}

int
tls_level_parse(const char *name)
{
	char *copy, *word;
	int level = -1;

	if (name == NULL)
		return -1;
	/* Postfix compares level names without regard to case. */
	copy = xstrdup(name);
	word = str_trim(copy);
	for (size_t i = 0; i < N_LEVELS; i++) {
		if (strcasecmp(word, level_names[i]) == 0) {
			level = (int)i;
			break;
		}
	}
	free(copy);
	return level;
}

int
tls_smtpd_level(const struct conf *conf)
{
	const char *level = conf_str(conf, P_smtpd_tls_security_level);

	if (level != NULL && level[strspn(level, LIST_SEPARATORS)] != '\0') {
		switch (tls_level_parse(level)) {
		case TLS_LEV_NONE:
		case TLS_LEV_MAY:
		case TLS_LEV_ENCRYPT:
			return tls_level_parse(level);
		case TLS_LEV_FPRINT:
		case TLS_LEV_VERIFY:
		case TLS_LEV_SECURE:
			/* Client levels Postfix's server takes as encrypt. */
			msg_warn("%s: unsupported TLS security level \"%s\" "
			    "for the SMTP server: using \"encrypt\"",
			    tls_param_origin(conf,
			    P_smtpd_tls_security_level), level);
			return TLS_LEV_ENCRYPT;
		default:
			return -1;
		}
	}
	level = conf_obsolete_value(conf, P_smtpd_tls_security_level, NULL);
	return level ? tls_level_parse(level) : TLS_LEV_NONE;
}
