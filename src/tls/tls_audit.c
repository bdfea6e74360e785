/* tls_audit: a check of the server that is reported, never enforced.
 *
 * An MTA-STS policy in mode testing (RFC 8461 5) asks a sender to
 * deliver as it would without the policy and to report what the policy
 * would have refused: the connection goes on at the configured level,
 * and this tells, after the handshake, whether the server would also
 * have passed enforce's checks (RFC 8461 4.2). The chain is verified
 * apart from the handshake's, against other anchors. */
#include "config.h"

#include <stdlib.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tlsrelay/tls_client.h"
#include "tlsrelay/util.h"

/* The chain the server sent, verified against anchors for the purpose
 * of a TLS server; an anchor need not be a root (as at mode enforce,
 * whose trust anchors set X509_V_FLAG_PARTIAL_CHAIN). X509_V_OK, or
 * the error OpenSSL stopped at. */
static int
chain_error(SSL *ssl, X509 *cert, X509_STORE *anchors)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int error = X509_V_ERR_UNSPECIFIED;

	if (ctx != NULL && X509_STORE_CTX_init(ctx, anchors, cert,
	    SSL_get_peer_cert_chain(ssl)) == 1) {
		(void)X509_STORE_CTX_set_default(ctx, "ssl_server");
		X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(ctx),
		    X509_V_FLAG_PARTIAL_CHAIN);
		error = X509_verify_cert(ctx) == 1 ? X509_V_OK :
		    X509_STORE_CTX_get_error(ctx);
	}
	X509_STORE_CTX_free(ctx);
	return error;
}

int
tls_client_audit(SSL *ssl, const struct tls_policy *policy,
    const char *hostname, char **why)
{
	X509 *cert = SSL_get0_peer_certificate(ssl);
	int error;

	*why = NULL;
	if (policy->audit_anchors == NULL || SSL_session_reused(ssl))
		return 0;
	if (SSL_version(ssl) < TLS1_2_VERSION)
		*why = xasprintf("protocol %s is older than TLSv1.2",
		    SSL_get_version(ssl));
	else if (cert == NULL)
		*why = xstrdup("no server certificate");
	else if ((error = chain_error(ssl, cert, policy->audit_anchors)) !=
	    X509_V_OK)
		*why = xasprintf("certificate not trusted (%s)",
		    X509_verify_cert_error_string(error));
	else if (X509_check_host(cert, hostname, 0,
	    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) != 1)
		*why = xstrdup("certificate name does not match the MX host");
	return *why != NULL ? -1 : 0;
}
