/* tls_client: the SMTP client's side of TLS. What every connection
 * shares is read once, as root, before the queue manager drops its
 * privileges (struct tls_client, built by the supervisor with each
 * reading of the configuration): the client certificates and keys, the CA
 * store, the session cache. From that, one SSL_CTX per distinct set of
 * the protocols and ciphers a destination's policy asks for
 * (tls_client_ctx.c); per connection only the SNI name, the verify state
 * and the policy's trust anchors; the server certificate is judged after
 * the handshake (tls_verify.c). The main.cf level comes from
 * smtp_tls_security_level, or from the obsolete smtp_use_tls /
 * smtp_enforce_tls when it is empty. */
#include "config.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/tls.h"
#include "tlsrelay/tls_client.h"
#include "tlsrelay/util.h"
#include "tls_client_int.h"
#include "tls_private.h"
#include "tls_scache.h"

static int
is_empty(const char *value)
{
	return value == NULL || value[strspn(value, LIST_SEPARATORS)] == '\0';
}

int
tls_smtp_level(const struct conf *conf)
{
	const char *level = conf_str(conf, P_smtp_tls_security_level);

	if (!is_empty(level))
		return tls_level_parse(level);
	level = conf_obsolete_value(conf, P_smtp_tls_security_level, NULL);
	return level ? tls_level_parse(level) : TLS_LEV_NONE;
}

/* Once, when the client is set up: tls_smtp_level itself stays quiet
 * because callers may ask it for every message. */
static void
warn_obsolete(const struct conf *conf)
{
	conf_warn_obsolete(conf, P_smtp_tls_security_level);
}

/* The protocols and the cipher grade and exclusions of one level, as
 * Postfix combines them, parsed to find a mistake and name its
 * parameter. Whether OpenSSL takes the cipher list is found when a
 * context is built from it (build_main_contexts). */
static int
check_level(const struct conf *conf, int mandatory, char **err)
{
	int proto_param = mandatory ? P_smtp_tls_mandatory_protocols :
	    P_smtp_tls_protocols;
	int grade_param = mandatory ? P_smtp_tls_mandatory_ciphers :
	    P_smtp_tls_ciphers;
	const char *spec = conf_str(conf, proto_param);
	const char *excl = conf_str(conf, P_smtp_tls_exclude_ciphers);
	char *exclusions, *ciphers, *reason = NULL;
	int min_version, max_version;
	long disable_ops;

	if (tls_parse_protocols(spec ? spec : "", &min_version, &max_version,
	    &disable_ops, &reason) != 0) {
		*err = xasprintf("%s: %s: %s",
		    tls_param_origin(conf, proto_param),
		    conf_param_name(proto_param), reason);
		free(reason);
		return -1;
	}
	/* As Postfix: the mandatory exclusions add to the general ones. */
	exclusions = xasprintf("%s %s", excl ? excl : "", mandatory ?
	    conf_str(conf, P_smtp_tls_mandatory_exclude_ciphers) : "");
	ciphers = tls_cipher_string(conf, conf_str(conf, grade_param),
	    exclusions, &reason);
	free(exclusions);
	if (ciphers == NULL) {
		*err = xasprintf("%s: %s: %s",
		    tls_param_origin(conf, grade_param),
		    conf_param_name(grade_param), reason);
		free(reason);
		return -1;
	}
	free(ciphers);
	return 0;
}

/* smtp_tls_CAfile and smtp_tls_CApath into one store that every
 * context shares (a CApath directory is read when a chain is verified). */
static int
load_cas(struct tls_client *client, const struct conf *conf, char **err)
{
	const char *file = conf_str(conf, P_smtp_tls_CAfile);
	const char *path = conf_str(conf, P_smtp_tls_CApath);

	ERR_clear_error();
	if ((client->cas = X509_STORE_new()) == NULL) {
		*err = tls_openssl_reason("cannot create a certificate store");
		return -1;
	}
	if (is_empty(file) && is_empty(path))
		return 0;
	if (X509_STORE_load_locations(client->cas, is_empty(file) ? NULL :
	    file, is_empty(path) ? NULL : path) != 1) {
		int param = is_empty(file) ? P_smtp_tls_CApath :
		    P_smtp_tls_CAfile;

		return tls_file_error(err, conf, param, conf_str(conf, param),
		    tls_openssl_reason("cannot load the CA certificates"));
	}
	/* As Postfix: the system's CAs only in addition to configured
	 * ones, and only when asked (they are many, and not ours). */
	if (conf_bool(conf, P_tls_append_default_CA) &&
	    X509_STORE_set_default_paths(client->cas) != 1) {
		char *reason = tls_openssl_reason("unknown error");

		*err = xasprintf("%s: tls_append_default_CA: cannot load the "
		    "system's CA certificates: %s", tls_param_origin(conf,
		    P_tls_append_default_CA), reason);
		free(reason);
		return -1;
	}
	return 0;
}

/* The settings a policy draws on, checked once at start-up: a mistake
 * here must stop the daemon, not defer every message. */
static int
check_policy_settings(const struct conf *conf, int level, char **err)
{
	const char *digest = conf_str(conf, P_smtp_tls_fingerprint_digest);
	char **files;
	int status = 0;

	if (!tls_fprint_digest_ok(digest)) {
		*err = xasprintf("%s: smtp_tls_fingerprint_digest: unknown "
		    "digest \"%s\" (expected md5, sha1, sha256 or sha512)",
		    tls_param_origin(conf, P_smtp_tls_fingerprint_digest),
		    digest);
		return -1;
	}
	files = strlist_split(conf_str(conf, P_smtp_tls_trust_anchor_file),
	    LIST_SEPARATORS, NULL);
	for (size_t i = 0; status == 0 && files[i] != NULL; i++) {
		char *reason = NULL;
		BIO *bio = tls_open_pem(files[i], &reason);

		if (bio == NULL)
			status = tls_file_error(err, conf,
			    P_smtp_tls_trust_anchor_file, files[i], reason);
		BIO_free(bio);
	}
	strlist_free(files);
	if (status != 0)
		return status;
	/* DANE rests on validated DNS answers (RFC 7672 2.1). */
	if ((level == TLS_LEV_DANE || level == TLS_LEV_DANE_ONLY) &&
	    strcasecmp(conf_str(conf, P_smtp_dns_support_level),
	    "dnssec") != 0)
		msg_warn("%s: smtp_tls_security_level = %s needs "
		    "smtp_dns_support_level = dnssec: without it no DNS "
		    "answer is secure, and mail %s",
		    tls_param_origin(conf, P_smtp_tls_security_level),
		    tls_level_name(level), level == TLS_LEV_DANE ?
		    "gets opportunistic TLS (may)" : "is deferred");
	if (level == TLS_LEV_FPRINT &&
	    is_empty(conf_str(conf, P_smtp_tls_fingerprint_cert_match)))
		msg_warn("%s: smtp_tls_security_level = fingerprint, but "
		    "smtp_tls_fingerprint_cert_match is empty: mail is "
		    "deferred unless smtp_tls_policy_maps gives fingerprints",
		    tls_param_origin(conf, P_smtp_tls_security_level));
	return 0;
}

/* The settings, before any file is read. */
static int
check_settings(const struct conf *conf, char **err)
{
	int level;

	*err = NULL;
	if ((level = tls_smtp_level(conf)) < 0) {
		*err = xasprintf("%s: smtp_tls_security_level: unknown level "
		    "\"%s\" (expected none, may, encrypt, fingerprint, "
		    "verify or secure)",
		    tls_param_origin(conf, P_smtp_tls_security_level),
		    conf_str(conf, P_smtp_tls_security_level));
		return -1;
	}
	warn_obsolete(conf);
	if (check_policy_settings(conf, level, err) != 0)
		return -1;
	/* Both levels are checked now, whatever the default: a policy may
	 * ask for either, and a typo must stop the start, not a delivery. */
	for (int mandatory = 0; mandatory < 2; mandatory++)
		if (check_level(conf, mandatory, err) != 0)
			return -1;
	return 0;
}

/* The contexts of main.cf's opportunistic and mandatory settings, built
 * now: whether OpenSSL takes the cipher lists is known only then, and
 * most mail goes out under one of them. */
static int
build_main_contexts(struct tls_client *client, const struct conf *conf,
    char **err)
{
	static const struct {
		int level;
		int param;
	} levels[] = {
		{ TLS_LEV_MAY, P_smtp_tls_ciphers },
		{ TLS_LEV_ENCRYPT, P_smtp_tls_mandatory_ciphers },
	};

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		struct tls_policy *policy = tls_policy_main(conf,
		    levels[i].level, NULL);
		char *reason = NULL;
		int by_settings, status = 0;

		if (policy->error == NULL && tls_client_ctx_get(client,
		    policy, &reason, &by_settings) == NULL) {
			*err = by_settings ? xasprintf("%s: %s: %s",
			    tls_param_origin(conf, levels[i].param),
			    conf_param_name(levels[i].param), reason) :
			    xstrdup(reason);
			free(reason);
			status = -1;
		}
		tls_policy_free(policy);
		if (status != 0)
			return -1;
	}
	return 0;
}

struct tls_client *
tls_client_new(const struct conf *conf, char **err)
{
	struct tls_client *client;

	if (check_settings(conf, err) != 0)
		return NULL;
	client = xcalloc(1, sizeof(*client));
	if ((client->keys = tls_certkeys_read(conf, "smtp", err)) == NULL ||
	    load_cas(client, conf, err) != 0 ||
	    tls_client_cache_new(conf, &client->cache, err) != 0 ||
	    build_main_contexts(client, conf, err) != 0) {
		tls_client_free(client);
		ERR_clear_error();
		return NULL;
	}
	return client;
}

void
tls_client_free(struct tls_client *client)
{
	if (client == NULL)
		return;
	tls_client_ctxs_free(client);
	tls_scache_ctx_release(client->cache);
	X509_STORE_free(client->cas);
	tls_certkeys_free(client->keys);
	free(client);
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
	return tls_client_sni(conf_str(conf, P_smtp_tls_servername), mx_host,
	    nexthop);
}

int
tls_client_ssl_setup(SSL *ssl, const struct tls_policy *policy,
    const char *servername, char **err)
{
	*err = NULL;
	ERR_clear_error();
	if ((servername != NULL && *servername != '\0' &&
	    SSL_set_tlsext_host_name(ssl, servername) != 1) ||
	    tls_client_verify_setup(ssl, policy) != 0) {
		*err = tls_openssl_reason("cannot set up the TLS connection");
		return -1;
	}
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
