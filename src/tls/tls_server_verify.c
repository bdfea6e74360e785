/* tls_server_verify: client certificates. smtpd_tls_ask_ccert asks for
 * one and records whether it verifies; smtpd_tls_req_ccert (at level
 * encrypt) makes a verified one a condition of the handshake. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/tls.h"
#include "tlsrelay/util.h"
#include "tls_private.h"

/*
 * OpenSSL keeps the verification error in the SSL object whatever this
 * returns (SSL_get_verify_result); tls_info_get reads it from there. So
 * when a certificate is only asked for, a failure is noted and the
 * handshake goes on: the session decides what an untrusted client may do.
 *
 * Depth as Postfix counts it: the trust anchor included, so that 1 is
 * "signed by a CA of the CA file". OpenSSL's limit is one level looser
 * (see tls_server_setup_verify) and the last level is checked here.
 */
static int
verify_callback(int ok, X509_STORE_CTX *store)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(store,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
	int max_depth = ssl ? SSL_get_verify_depth(ssl) - 1 : -1;

	if (ok && max_depth >= 0 &&
	    X509_STORE_CTX_get_error_depth(store) > max_depth) {
		X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_CHAIN_TOO_LONG);
		ok = 0;
	}
	if (!ok && msg_verbose) {
		int error = X509_STORE_CTX_get_error(store);

		msg_debug("client certificate verification failed at "
		    "depth %d: %s", X509_STORE_CTX_get_error_depth(store),
		    X509_verify_cert_error_string(error));
	}
	if (ssl != NULL &&
	    (SSL_get_verify_mode(ssl) & SSL_VERIFY_FAIL_IF_NO_PEER_CERT))
		return ok;
	return 1;
}

static int
load_ca_file(SSL_CTX *ctx, const struct conf *conf, const char *file,
    char **err)
{
	int param = P_smtpd_tls_CAfile;
	STACK_OF(X509_NAME) *names;
	char *reason = NULL;
	BIO *probe;

	/* A clear "No such file" before OpenSSL's own words. */
	if ((probe = tls_open_pem(file, &reason)) == NULL)
		return tls_file_error(err, conf, param, file, reason);
	BIO_free(probe);
	ERR_clear_error();
	if (SSL_CTX_load_verify_file(ctx, file) != 1)
		return tls_file_error(err, conf, param, file,
		    tls_openssl_reason("cannot load CA certificates"));
	/* The CA names the server sends when it asks for a certificate. */
	if ((names = SSL_load_client_CA_file(file)) == NULL)
		return tls_file_error(err, conf, param, file,
		    tls_openssl_reason("no CA certificate found"));
	SSL_CTX_set_client_CA_list(ctx, names);
	return 0;
}

static int
load_ca_path(SSL_CTX *ctx, const struct conf *conf, const char *dir,
    char **err)
{
	int param = P_smtpd_tls_CApath;
	struct stat st;

	/* Postfix warns about a CA directory that is not there and goes on
	 * without it (tutorials write "smtpd_tls_CApath = no"). */
	if (stat(dir, &st) != 0) {
		if (errno != ENOENT)
			return tls_file_error(err, conf, param, dir,
			    xstrdup(strerror(errno)));
		msg_warn_once("%s: %s %s: no such directory: no CA directory "
		    "is used", tls_param_origin(conf, param),
		    conf_param_name(param), dir);
		return 0;
	}
	if (!S_ISDIR(st.st_mode))
		return tls_file_error(err, conf, param, dir,
		    xstrdup("not a directory"));
	ERR_clear_error();
	if (SSL_CTX_load_verify_dir(ctx, dir) != 1)
		return tls_file_error(err, conf, param, dir,
		    tls_openssl_reason("cannot use the CA directory"));
	return 0;
}

int
tls_server_setup_verify(SSL_CTX *ctx, const struct conf *conf,
    int mandatory, char **err)
{
	const char *ca_file = conf_str(conf, P_smtpd_tls_CAfile);
	const char *ca_path = conf_str(conf, P_smtpd_tls_CApath);
	int ask = conf_bool(conf, P_smtpd_tls_ask_ccert);
	int require = conf_bool(conf, P_smtpd_tls_req_ccert);
	long long depth = conf_int(conf, P_smtpd_tls_ccert_verifydepth);
	int mode = SSL_VERIFY_NONE;

	*err = NULL;
	if (ca_file != NULL && *ca_file != '\0' &&
	    load_ca_file(ctx, conf, ca_file, err) != 0)
		return -1;
	if (ca_path != NULL && *ca_path != '\0' &&
	    load_ca_path(ctx, conf, ca_path, err) != 0)
		return -1;
	/* As Postfix: a certificate can only be required where TLS is. */
	if (require && !mandatory) {
		msg_warn("%s: smtpd_tls_req_ccert = yes has no effect unless "
		    "TLS is mandatory (smtpd_tls_security_level = encrypt)",
		    tls_param_origin(conf, P_smtpd_tls_req_ccert));
		require = 0;
	}
	if (require)
		mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
	else if (ask)
		mode = SSL_VERIFY_PEER;
	if (depth > INT_MAX - 1)
		depth = INT_MAX - 1;
	SSL_CTX_set_verify_depth(ctx, (int)depth + 1);
	SSL_CTX_set_verify(ctx, mode,
	    mode == SSL_VERIFY_NONE ? NULL : verify_callback);
	return 0;
}
