/* tls_client: the SMTP client's side of TLS. One SSL_CTX for the whole
 * client pool (CA list, client certificate when configured, the verify
 * callback), and per connection the protocols, ciphers, SNI name and
 * trust anchors of the destination's policy (tls_policy.c); the server
 * certificate is judged after the handshake (tls_verify.c). The main.cf
 * level comes from smtp_tls_security_level, or from the obsolete
 * smtp_use_tls / smtp_enforce_tls when it is empty. */
#include "config.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/tls.h"
#include "tlsrelay/util.h"
#include "tls_client_int.h"
#include "tls_private.h"

static int
is_empty(const char *value)
{
	return value == NULL || value[strspn(value, LIST_SEPARATORS)] == '\0';
}

int
tls_smtp_level(const struct conf *conf)
{
	const char *level = conf_str(conf, "smtp_tls_security_level");

	if (!is_empty(level))
		return tls_level_parse(level);
	if (conf_bool(conf, "smtp_enforce_tls"))
		return TLS_LEV_ENCRYPT;
	if (conf_bool(conf, "smtp_use_tls"))
		return TLS_LEV_MAY;
	return TLS_LEV_NONE;
}

/* Once, when the client is set up: tls_smtp_level itself stays quiet
 * because callers may ask it for every message. */
static void
warn_obsolete(const struct conf *conf)
{
	static const char *const names[] = { "smtp_use_tls",
	    "smtp_enforce_tls" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (conf_is_set(conf, names[i]))
			msg_warn("%s: %s is obsolete: use "
			    "smtp_tls_security_level instead",
			    tls_param_origin(conf, names[i]), names[i]);
}

/* Protocol bounds and cipher string of one level. */
struct level_settings {
	int min_version, max_version;
	long disable_ops;
	char *ciphers;
};

static int
level_settings(const struct conf *conf, int mandatory,
    struct level_settings *ls, char **err)
{
	const char *proto_param = mandatory ? "smtp_tls_mandatory_protocols" :
	    "smtp_tls_protocols";
	const char *grade_param = mandatory ? "smtp_tls_mandatory_ciphers" :
	    "smtp_tls_ciphers";
	const char *spec = conf_str(conf, proto_param);
	const char *excl = conf_str(conf, "smtp_tls_exclude_ciphers");
	char *exclusions, *reason = NULL;

	memset(ls, 0, sizeof(*ls));
	if (tls_parse_protocols(spec ? spec : "", &ls->min_version,
	    &ls->max_version, &ls->disable_ops, &reason) != 0) {
		*err = xasprintf("%s: %s: %s",
		    tls_param_origin(conf, proto_param), proto_param, reason);
		free(reason);
		return -1;
	}
	/* As Postfix: the mandatory exclusions add to the general ones. */
	exclusions = xasprintf("%s %s", excl ? excl : "", mandatory ?
	    conf_str(conf, "smtp_tls_mandatory_exclude_ciphers") : "");
	ls->ciphers = tls_cipher_string(conf, conf_str(conf, grade_param),
	    exclusions, &reason);
	free(exclusions);
	if (ls->ciphers == NULL) {
		*err = xasprintf("%s: %s: %s",
		    tls_param_origin(conf, grade_param), grade_param, reason);
		free(reason);
		return -1;
	}
	return 0;
}

/* One certificate (with its chain) and its key; both may be one file. */
static int
load_pair(SSL_CTX *ctx, const struct conf *conf, const char *cert_param,
    const char *key_param, char **err)
{
	const char *cert_file = conf_str(conf, cert_param);
	const char *key_file = conf_str(conf, key_param);

	if (is_empty(key_file)) {
		key_file = cert_file;
		key_param = cert_param;
	}
	ERR_clear_error();
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1)
		return tls_file_error(err, conf, cert_param, cert_file,
		    tls_openssl_reason("cannot load the certificate"));
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1)
		return tls_file_error(err, conf, key_param, key_file,
		    tls_openssl_reason("cannot load the private key"));
	if (SSL_CTX_check_private_key(ctx) != 1)
		return tls_file_error(err, conf, key_param, key_file,
		    xstrdup("private key does not match the certificate"));
	return 0;
}

/* A client certificate is sent only when one is configured: most
 * servers do not ask, and an unasked-for identity is a privacy leak. */
static int
load_client_certs(SSL_CTX *ctx, const struct conf *conf, char **err)
{
	const char *chain_files = conf_str(conf, "smtp_tls_chain_files");

	if (!is_empty(chain_files)) {
		char **files = strlist_split(chain_files, LIST_SEPARATORS,
		    NULL);
		int status = 0;

		/* Each file: a key, then its certificate and chain. */
		for (size_t i = 0; status == 0 && files[i] != NULL; i++) {
			ERR_clear_error();
			if (SSL_CTX_use_PrivateKey_file(ctx, files[i],
			    SSL_FILETYPE_PEM) != 1 ||
			    SSL_CTX_use_certificate_chain_file(ctx,
			    files[i]) != 1 ||
			    SSL_CTX_check_private_key(ctx) != 1)
				status = tls_file_error(err, conf,
				    "smtp_tls_chain_files", files[i],
				    tls_openssl_reason("cannot load the key "
				    "and certificate"));
		}
		strlist_free(files);
		return status;
	}
	if (!is_empty(conf_str(conf, "smtp_tls_cert_file")) &&
	    load_pair(ctx, conf, "smtp_tls_cert_file", "smtp_tls_key_file",
	    err) != 0)
		return -1;
	if (!is_empty(conf_str(conf, "smtp_tls_eccert_file")) &&
	    load_pair(ctx, conf, "smtp_tls_eccert_file",
	    "smtp_tls_eckey_file", err) != 0)
		return -1;
	return 0;
}

static int
load_ca(SSL_CTX *ctx, const struct conf *conf, char **err)
{
	const char *file = conf_str(conf, "smtp_tls_CAfile");
	const char *path = conf_str(conf, "smtp_tls_CApath");

	if (is_empty(file) && is_empty(path))
		return 0;
	ERR_clear_error();
	if (SSL_CTX_load_verify_locations(ctx, is_empty(file) ? NULL : file,
	    is_empty(path) ? NULL : path) != 1) {
		const char *param = is_empty(file) ? "smtp_tls_CApath" :
		    "smtp_tls_CAfile";

		return tls_file_error(err, conf, param, conf_str(conf, param),
		    tls_openssl_reason("cannot load the CA certificates"));
	}
	/* As Postfix: the system's CAs only in addition to configured
	 * ones, and only when asked (they are many, and not ours). */
	if (conf_bool(conf, "tls_append_default_CA") &&
	    SSL_CTX_set_default_verify_paths(ctx) != 1) {
		char *reason = tls_openssl_reason("unknown error");

		*err = xasprintf("%s: tls_append_default_CA: cannot load the "
		    "system's CA certificates: %s", tls_param_origin(conf,
		    "tls_append_default_CA"), reason);
		free(reason);
		return -1;
	}
	return 0;
}

/* The settings a policy draws on, checked once at start-up: a mistake
 * here must stop the daemon, not defer every message. */
static int
check_policy_settings(const struct conf *conf, int level, int quiet,
    char **err)
{
	const char *digest = conf_str(conf, "smtp_tls_fingerprint_digest");
	char **files;
	int status = 0;

	if (!tls_fprint_digest_ok(digest)) {
		*err = xasprintf("%s: smtp_tls_fingerprint_digest: unknown "
		    "digest \"%s\" (expected md5, sha1, sha256 or sha512)",
		    tls_param_origin(conf, "smtp_tls_fingerprint_digest"),
		    digest);
		return -1;
	}
	files = strlist_split(conf_str(conf, "smtp_tls_trust_anchor_file"),
	    LIST_SEPARATORS, NULL);
	for (size_t i = 0; status == 0 && files[i] != NULL; i++) {
		char *reason = NULL;
		BIO *bio = tls_open_pem(files[i], &reason);

		if (bio == NULL)
			status = tls_file_error(err, conf,
			    "smtp_tls_trust_anchor_file", files[i], reason);
		BIO_free(bio);
	}
	strlist_free(files);
	if (status != 0 || quiet)
		return status;
	if (level == TLS_LEV_DANE || level == TLS_LEV_DANE_ONLY)
		msg_warn("%s: smtp_tls_security_level = %s: tlsrelay has no "
		    "DANE support; mail for destinations at this level is "
		    "deferred", tls_param_origin(conf,
		    "smtp_tls_security_level"), tls_level_name(level));
	if (level == TLS_LEV_FPRINT &&
	    is_empty(conf_str(conf, "smtp_tls_fingerprint_cert_match")))
		msg_warn("%s: smtp_tls_security_level = fingerprint, but "
		    "smtp_tls_fingerprint_cert_match is empty: mail is "
		    "deferred unless smtp_tls_policy_maps gives fingerprints",
		    tls_param_origin(conf, "smtp_tls_security_level"));
	return 0;
}

/* The settings, before any file is read; quiet: no warnings (the
 * supervisor's check, tls_client_check_conf). */
static int
check_settings(const struct conf *conf, int quiet, char **err)
{
	struct level_settings ls;
	int level;

	*err = NULL;
	if ((level = tls_smtp_level(conf)) < 0) {
		*err = xasprintf("%s: smtp_tls_security_level: unknown level "
		    "\"%s\" (expected none, may, encrypt, fingerprint, "
		    "verify or secure)",
		    tls_param_origin(conf, "smtp_tls_security_level"),
		    conf_str(conf, "smtp_tls_security_level"));
		return -1;
	}
	if (!quiet)
		warn_obsolete(conf);
	if (check_policy_settings(conf, level, quiet, err) != 0)
		return -1;
	/* Both levels are checked now, whatever the default: a policy may
	 * ask for either, and a typo must stop the start, not a delivery. */
	for (int mandatory = 0; mandatory < 2; mandatory++) {
		if (level_settings(conf, mandatory, &ls, err) != 0)
			return -1;
		free(ls.ciphers);
	}
	return 0;
}

int
tls_client_check_conf(const struct conf *conf, char **err)
{
	SSL_CTX *ctx;
	int status;

	if (check_settings(conf, 1, err) != 0)
		return -1;
	/* The files too, in a context of its own that is thrown away. */
	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		*err = tls_openssl_reason("cannot create a TLS client context");
		return -1;
	}
	SSL_CTX_set_default_passwd_cb(ctx, tls_no_passphrase);
	status = load_ca(ctx, conf, err) != 0 ||
	    load_client_certs(ctx, conf, err) != 0 ? -1 : 0;
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return status;
}

SSL_CTX *
tls_client_ctx_new(const struct conf *conf, char **err)
{
	SSL_CTX *ctx;

	if (check_settings(conf, 0, err) != 0)
		return NULL;
	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		char *reason = tls_openssl_reason("out of memory");

		*err = xasprintf("cannot create a TLS client context: %s",
		    reason);
		free(reason);
		return NULL;
	}
	SSL_CTX_set_options(ctx, SSL_OP_ALL | SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_default_passwd_cb(ctx, tls_no_passphrase);
	/* The chain is checked (for the log's verdict, and for levels
	 * verify and secure) but never stops the handshake. */
	tls_client_verify_init(ctx);
	if (load_ca(ctx, conf, err) != 0 ||
	    load_client_certs(ctx, conf, err) != 0 ||
	    tls_client_cache_setup(ctx, conf, err) != 0) {
		SSL_CTX_free(ctx);
		ERR_clear_error();
		return NULL;
	}
	return ctx;
}

static int
is_ip_literal(const char *name)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, name, buf) == 1 ||
	    inet_pton(AF_INET6, name, buf) == 1;
}

char *
tls_client_sni(const char *setting, const char *mx_host,
    const char *nexthop)
{
	const char *name, *end;
	char *copy, *result;

	if (is_empty(setting))
		return NULL;
	copy = xstrdup(setting);
	name = str_trim(copy);
	if (strcmp(name, "hostname") == 0)
		result = xstrdup(mx_host ? mx_host : "");
	else if (strcmp(name, "nexthop") == 0) {
		/* "[mx.example]:2525" and "example.com:2525" -> the name. */
		name = nexthop ? nexthop : "";
		if (*name == '[') {
			name++;
			end = strchr(name, ']');
		} else
			end = strrchr(name, ':');
		result = end ? xstrndup(name, (size_t)(end - name)) :
		    xstrdup(name);
	} else
		result = xstrdup(name);
	free(copy);
	/* SNI carries DNS names only (RFC 6066 3). */
	if (*result == '\0' || is_ip_literal(result)) {
		free(result);
		return NULL;
	}
	return result;
}

char *
tls_client_servername(const struct conf *conf, const char *mx_host,
    const char *nexthop)
{
	return tls_client_sni(conf_str(conf, "smtp_tls_servername"), mx_host,
	    nexthop);
}

int
tls_client_ssl_setup(SSL *ssl, const struct tls_policy *policy,
    const char *servername, char **err)
{
	int ok;

	*err = NULL;
	ERR_clear_error();
	ok = (policy->min_version == 0 ||
	    SSL_set_min_proto_version(ssl, policy->min_version)) &&
	    (policy->max_version == 0 ||
	    SSL_set_max_proto_version(ssl, policy->max_version)) &&
	    SSL_set_cipher_list(ssl, policy->cipher_list) == 1 &&
	    (servername == NULL || *servername == '\0' ||
	    SSL_set_tlsext_host_name(ssl, servername) == 1) &&
	    tls_client_verify_setup(ssl, policy) == 0;
	if (!ok) {
		*err = tls_openssl_reason("cannot set up the TLS connection");
		return -1;
	}
	SSL_set_options(ssl, (uint64_t)policy->disable_ops);
	return 0;
}

void
tls_log_client_established(const struct tls_info *info, int verified,
    const char *peer)
{
	const char *verdict;
	char summary[160];

	/* FORWARD_SECRECY_README's words. */
	verdict = !info->peer_cert ? "Anonymous" : verified ? "Verified" :
	    info->peer_trusted ? "Trusted" : "Untrusted";
	tls_info_format(info, summary, sizeof(summary));
	msg_info("%s TLS connection established to %s: %s", verdict, peer,
	    summary);
}
