/* tls_server: the SSL_CTX of the SMTP server, built from the smtpd_tls_*
 * parameters of one service. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/tls.h"
#include "tlsrelay/util.h"
#include "tls_private.h"

/* Resumed sessions must come from the same kind of service; OpenSSL also
 * refuses to resume a session with a client certificate without it. */
#define SESSION_ID_CONTEXT	"tlsrelay/smtpd"

static int
is_empty(const char *value)
{
	return value == NULL || value[strspn(value, LIST_SEPARATORS)] == '\0';
}

/* The parameter that turned TLS on, for messages about the whole set-up. */
static int
level_param(const struct conf *conf)
{
	int obsolete = P_smtpd_use_tls;

	if (conf_bool(conf, P_smtpd_tls_wrappermode))
		return P_smtpd_tls_wrappermode;
	if (!is_empty(conf_str(conf, P_smtpd_tls_security_level)))
		return P_smtpd_tls_security_level;
	(void)conf_obsolete_value(conf, P_smtpd_tls_security_level, &obsolete);
	return obsolete;
}

static int
setup_protocols(SSL_CTX *ctx, const struct conf *conf, int mandatory,
    char **err)
{
	int param = mandatory ? P_smtpd_tls_mandatory_protocols :
	    P_smtpd_tls_protocols;
	const char *spec = conf_str(conf, param);
	int min_version, max_version;
	long disable_ops;
	char *reason;

	if (tls_parse_protocols(spec ? spec : "", &min_version, &max_version,
	    &disable_ops, &reason) != 0) {
		*err = xasprintf("%s: %s: %s", tls_param_origin(conf, param),
		    conf_param_name(param), reason);
		free(reason);
		return -1;
	}
	/* Without a bound, OpenSSL's own (and the system policy's) stays. */
	if ((min_version && !SSL_CTX_set_min_proto_version(ctx, min_version)) ||
	    (max_version && !SSL_CTX_set_max_proto_version(ctx, max_version))) {
		reason = tls_openssl_reason("unsupported protocol version");
		*err = xasprintf("%s: %s: %s", tls_param_origin(conf, param),
		    conf_param_name(param), reason);
		free(reason);
		return -1;
	}
	SSL_CTX_set_options(ctx, (uint64_t)disable_ops);
	return 0;
}

/* OpenSSL 3 refuses SSLv3, TLSv1 and TLSv1.1 at any security level but
 * 0 (their signatures use SHA-1 and MD5): a protocol list with nothing
 * newer would fail every STARTTLS. That is an error at start, naming the
 * parameter, not a surprise for the first client. */
static int
check_protocols_usable(SSL_CTX *ctx, const struct conf *conf, int mandatory,
    char **err)
{
	int param = mandatory ? P_smtpd_tls_mandatory_protocols :
	    P_smtpd_tls_protocols;
	long max = SSL_CTX_get_max_proto_version(ctx);
	int level = SSL_CTX_get_security_level(ctx);

	if (max == 0 || max >= TLS1_2_VERSION || level == 0)
		return 0;
	*err = xasprintf("%s: %s = %s: OpenSSL 3 refuses every protocol "
	    "older than TLSv1.2 at security level %d, so no TLS session could "
	    "be established: enable TLSv1.2 and TLSv1.3 (e.g. \"%s = "
	    ">=TLSv1.2\")", tls_param_origin(conf, param),
	    conf_param_name(param), conf_str(conf, param), level,
	    conf_param_name(param));
	return -1;
}

/* The grade alone, then with each exclusion list added in turn, each
 * set on the context itself, so that an error names the parameter at
 * fault; the last one set is the full list. */
static int
setup_ciphers(SSL_CTX *ctx, const struct conf *conf, int mandatory,
    char **err)
{
	int grade_param = mandatory ? P_smtpd_tls_mandatory_ciphers :
	    P_smtpd_tls_ciphers;
	const int steps[] = {
		grade_param,
		P_smtpd_tls_exclude_ciphers,
		mandatory ? P_smtpd_tls_mandatory_exclude_ciphers : -1,
	};
	const char *grade = conf_str(conf, grade_param);
	struct strbuf exclusions;
	char *reason = NULL;
	int status = 0;

	strbuf_init(&exclusions);
	strbuf_puts(&exclusions, "");
	for (size_t i = 0; status == 0 && i < sizeof(steps) / sizeof(steps[0]) &&
	    steps[i] >= 0; i++) {
		char *ciphers;

		if (i > 0)
			strbuf_printf(&exclusions, " %s",
			    conf_str(conf, steps[i]));
		ciphers = tls_cipher_string(conf, grade, exclusions.data,
		    &reason);
		if (ciphers == NULL ||
		    tls_set_cipher_list(ctx, ciphers, &reason) != 0) {
			*err = xasprintf("%s: %s: %s",
			    tls_param_origin(conf, steps[i]),
			    conf_param_name(steps[i]), reason);
			free(reason);
			status = -1;
		}
		free(ciphers);
	}
	strbuf_free(&exclusions);
	return status;
}

static int
setup_certs(SSL_CTX *ctx, const struct conf *conf, char **err)
{
	struct tls_certkeys *keys = tls_certkeys_read(conf, "smtpd", err);
	size_t loaded = tls_certkeys_count(keys);
	int status;

	if (keys == NULL)
		return -1;
	status = tls_certkeys_install(ctx, keys, err);
	tls_certkeys_free(keys);
	if (status != 0)
		return -1;
	/*
	 * Postfix turns TLS off with a warning when level may has no
	 * certificate. Our users configure TLS on purpose, so a relay that
	 * silently stops offering STARTTLS is worse than one that refuses to
	 * start: this is a start-up error at every level.
	 */
	if (loaded == 0) {
		*err = xasprintf("%s: no server certificate: set "
		    "smtpd_tls_cert_file or smtpd_tls_chain_files",
		    tls_param_origin(conf, level_param(conf)));
		return -1;
	}
	return 0;
}

SSL_CTX *
tls_server_ctx_new(const struct conf *conf, char **err)
{
	int level = tls_smtpd_level(conf), mandatory;
	uint64_t options;
	SSL_CTX *ctx;

	*err = NULL;
	/*
	 * As Postfix (smtpd.c): a wrapper-mode port speaks TLS from its first
	 * byte, so TLS is mandatory there and smtpd_tls_security_level is
	 * ignored; the mandatory_ settings apply.
	 */
	if (conf_bool(conf, P_smtpd_tls_wrappermode))
		level = TLS_LEV_ENCRYPT;
	if (level < 0) {
		*err = xasprintf("%s: smtpd_tls_security_level: unknown level "
		    "\"%s\" (expected none, may or encrypt)",
		    tls_param_origin(conf, P_smtpd_tls_security_level),
		    conf_str(conf, P_smtpd_tls_security_level));
		return NULL;
	}
	if (level == TLS_LEV_NONE)
		return NULL;
	/* As Postfix: the mandatory_ settings apply only where TLS is
	 * mandatory. */
	mandatory = level == TLS_LEV_ENCRYPT;

	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		char *reason = tls_openssl_reason("out of memory");

		*err = xasprintf("cannot create a TLS server context: %s",
		    reason);
		free(reason);
		return NULL;
	}
	/* SSL_OP_ALL: OpenSSL's interoperability work-arounds, as Postfix. */
	options = SSL_OP_ALL | SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION;
	if (conf_bool(conf, P_tls_preempt_cipherlist))
		options |= SSL_OP_CIPHER_SERVER_PREFERENCE;
	SSL_CTX_set_options(ctx, options);
	/* An idle session holds no read or write buffer (about 17 KiB each
	 * otherwise): thousands of clients may sit between commands. With
	 * libevent's OpenSSL bufferevent they are freed after every record
	 * (measured: none held by 2,000 idle sessions). What an idle
	 * session keeps is OpenSSL 3.0's SSL itself, about 13.7 KiB: the
	 * SSL structure (7.4 KiB), two AES-GCM contexts (1.9 KiB), the
	 * SSL_SESSION, the key shares, the transcript hash. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_id_context(ctx,
	    (const unsigned char *)SESSION_ID_CONTEXT,
	    sizeof(SESSION_ID_CONTEXT) - 1);

	if (setup_protocols(ctx, conf, mandatory, err) != 0 ||
	    setup_ciphers(ctx, conf, mandatory, err) != 0 ||
	    check_protocols_usable(ctx, conf, mandatory, err) != 0 ||
	    setup_certs(ctx, conf, err) != 0 ||
	    tls_server_setup_verify(ctx, conf, mandatory, err) != 0 ||
	    tls_server_setup_kex(ctx, conf, err) != 0 ||
	    tls_server_cache_setup(ctx, conf, err) != 0) {
		SSL_CTX_free(ctx);
		ERR_clear_error();
		return NULL;
	}
	return ctx;
}
