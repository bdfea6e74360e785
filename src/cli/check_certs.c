/* check_certs: the certificates a side presents, as its peers will see
 * them: not expired, not expiring within two weeks, and a chain that
 * leads to a root the peer trusts (the system's store or the CA file):
 * a server that sends its certificate without the intermediate fails
 * every client that verifies. Key/certificate mismatches are found by
 * tls_server_ctx_new and tls_client_new, which load the pairs. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/util.h"

#include "check.h"

#define EXPIRY_WARN_DAYS	14

static void
subject_cn(X509 *x, char *buf, size_t len)
{
	X509_NAME *name = X509_get_subject_name(x);

	buf[0] = '\0';
	if (X509_NAME_get_text_by_NID(name, NID_commonName, buf,
	    (int)len) < 0)
		X509_NAME_oneline(name, buf, (int)len);
}

static void
format_time(const ASN1_TIME *t, char *buf, size_t len)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1 ||
	    strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, len, "(unreadable date)");
}

static void
check_expiry(struct check *c, const char *where, const char *file, X509 *x)
{
	const ASN1_TIME *not_after = X509_get0_notAfter(x);
	char cn[256], when[64];
	time_t soon = time(NULL) + EXPIRY_WARN_DAYS * 86400;

	subject_cn(x, cn, sizeof(cn));
	format_time(not_after, when, sizeof(when));
	if (X509_cmp_current_time(not_after) <= 0)
		check_error(c, "%s: certificate \"%s\" in %s expired on %s: "
		    "renew it", where, cn, file, when);
	else if (X509_cmp_time(not_after, &soon) <= 0)
		check_warn(c, "%s: certificate \"%s\" in %s expires on %s, "
		    "within %d days: renew it", where, cn, file, when,
		    EXPIRY_WARN_DAYS);
}

/* The roots a peer of this side is assumed to trust: the system's store
 * and the configured CA file and directory. */
static X509_STORE *
trusted_roots(const struct conf *conf, int smtpd)
{
	X509_STORE *store = X509_STORE_new();
	const char *cafile = conf_str(conf, smtpd ? P_smtpd_tls_CAfile :
	    P_smtp_tls_CAfile);
	const char *capath = conf_str(conf, smtpd ? P_smtpd_tls_CApath :
	    P_smtp_tls_CApath);

	X509_STORE_set_default_paths(store);
	if (*cafile)
		X509_STORE_load_file(store, cafile);
	if (*capath)
		X509_STORE_load_path(store, capath);
	return store;
}

static void
check_chain(struct check *c, const char *where, const char *file,
    X509_STORE *roots, X509 *leaf, STACK_OF(X509) *in_file)
{
	X509_STORE_CTX *ctx;
	char cn[256], issuer[256];
	int err;

	/* A self-signed certificate has no chain to complete. */
	if (X509_check_issued(leaf, leaf) == X509_V_OK)
		return;
	if ((ctx = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(ctx, roots, leaf, in_file) != 1) {
		X509_STORE_CTX_free(ctx);
		return;
	}
	/* Expiry is check_expiry's finding. */
	X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_NO_CHECK_TIME);
	if (X509_verify_cert(ctx) != 1) {
		err = X509_STORE_CTX_get_error(ctx);
		if (err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
		    err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT) {
			X509 *last = X509_STORE_CTX_get_current_cert(ctx);

			subject_cn(leaf, cn, sizeof(cn));
			X509_NAME_oneline(X509_get_issuer_name(last ? last :
			    leaf), issuer, sizeof(issuer));
			check_warn(c, "%s: certificate \"%s\" in %s: chain "
			    "incomplete: its issuer %s is neither in the file "
			    "nor a trusted root: append the intermediate CA "
			    "certificates to %s", where, cn, file, issuer,
			    file);
		}
	}
	X509_STORE_CTX_free(ctx);
}

/* Every certificate file named by param: each certificate in it that is
 * not a CA is a server (or client) certificate; the others in the same
 * file are its chain. */
static void
check_param_files(struct check *c, const struct conf *conf, int param,
    X509_STORE *roots)
{
	const char *value = conf_text(conf, param);
	char **files = strlist_split(value ? value : "", LIST_SEPARATORS,
	    NULL);
	char *where = xasprintf("%s: %s", check_origin(conf, param),
	    conf_param_name(param));

	for (char **f = files; *f; f++) {
		STACK_OF(X509_INFO) *infos;
		STACK_OF(X509) *certs;
		BIO *bio = BIO_new_file(*f, "r");

		/* An unreadable file is tls_server_ctx_new's finding. */
		if (bio == NULL)
			continue;
		infos = PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL);
		BIO_free(bio);
		certs = sk_X509_new_null();
		for (int i = 0; infos && i < sk_X509_INFO_num(infos); i++) {
			X509_INFO *info = sk_X509_INFO_value(infos, i);

			if (info->x509)
				sk_X509_push(certs, info->x509);
		}
		for (int i = 0; i < sk_X509_num(certs); i++) {
			X509 *x = sk_X509_value(certs, i);

			if (X509_check_ca(x) != 0)
				continue;
			check_expiry(c, where, *f, x);
			check_chain(c, where, *f, roots, x, certs);
		}
		sk_X509_free(certs);
		sk_X509_INFO_pop_free(infos, X509_INFO_free);
	}
	free(where);
	strlist_free(files);
}

void
check_certs(struct check *c, const struct conf *conf, int smtpd)
{
	static const int server[] = { P_smtpd_tls_cert_file,
	    P_smtpd_tls_eccert_file, P_smtpd_tls_chain_files };
	static const int client[] = { P_smtp_tls_cert_file,
	    P_smtp_tls_eccert_file, P_smtp_tls_chain_files };
	const int *params = smtpd ? server : client;
	X509_STORE *roots = trusted_roots(conf, smtpd);

	for (size_t i = 0; i < sizeof(server) / sizeof(server[0]); i++)
		check_param_files(c, conf, params[i], roots);
	X509_STORE_free(roots);
}
