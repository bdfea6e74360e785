/* tls_verify: what the client concludes about a server certificate.
 *
 * OpenSSL checks the chain during the handshake but never stops it
 * (SSL_VERIFY_NONE): a callback keeps the error nearest to the leaf, as
 * Postfix does, so that a failure can be explained in Postfix's words.
 * After the handshake the level decides: fingerprint compares digests,
 * verify and secure want a trusted chain and a certificate name that
 * matches the policy's match list (DNS subjectAltNames, the CommonName
 * only when there are none, RFC 6125 wildcards in the left-most label
 * only: OpenSSL's X509_check_host does exactly that). The verdict words
 * are FORWARD_SECRECY_README's: Anonymous (no certificate), Untrusted,
 * Trusted (the chain verified), Verified (trusted and matched, or a
 * matching fingerprint). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tlsrelay/log.h"
#include "tlsrelay/tls.h"
#include "tlsrelay/tls_client.h"
#include "tlsrelay/util.h"
#include "tls_client_int.h"

/* The first chain error nearest to the leaf, kept on the SSL object. */
struct verify_state {
	int error;		/* X509_V_OK: none */
	int depth;
	char issuer[256];	/* of the certificate at that depth */
	int dane;		/* checked by TLSA records (tls_dane.c) */
	int dane_insecure_mx;	/* ... of an MX host whose name could be
				 * forged */
};

static int state_index = -1;

static void
state_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
    void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	free(ptr);
}

static int
state_index_get(void)
{
	if (state_index < 0)
		state_index = SSL_get_ex_new_index(0, NULL, NULL, NULL,
		    state_free);
	return state_index;
}

static int
verify_cb(int ok, X509_STORE_CTX *ctx)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(ctx,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
	struct verify_state *vs;
	X509 *cert;
	int depth;

	if (ok || ssl == NULL || state_index < 0 ||
	    (vs = SSL_get_ex_data(ssl, state_index)) == NULL)
		return 1;
	depth = X509_STORE_CTX_get_error_depth(ctx);
	/* No news is good news: keep the error nearest to the leaf. */
	if (vs->error != X509_V_OK && vs->depth <= depth)
		return 1;
	vs->error = X509_STORE_CTX_get_error(ctx);
	vs->depth = depth;
	vs->issuer[0] = '\0';
	if ((cert = X509_STORE_CTX_get_current_cert(ctx)) != NULL)
		X509_NAME_oneline(X509_get_issuer_name(cert), vs->issuer,
		    sizeof(vs->issuer));
	/* Carry on: the level decides after the handshake. */
	return 1;
}

void
tls_client_verify_init(SSL_CTX *ctx)
{
	(void)state_index_get();
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, verify_cb);
	tls_client_dane_ctx_init(ctx);
}

void
tls_client_verify_mark_dane(SSL *ssl, int insecure_mx)
{
	struct verify_state *vs = state_index < 0 ? NULL :
	    SSL_get_ex_data(ssl, state_index);

	if (vs != NULL) {
		vs->dane = 1;
		vs->dane_insecure_mx = insecure_mx;
	}
}

static int
uses_dane(SSL *ssl)
{
	struct verify_state *vs = state_index < 0 ? NULL :
	    SSL_get_ex_data(ssl, state_index);

	return vs != NULL && vs->dane;
}

static int
dane_insecure_mx(SSL *ssl)
{
	struct verify_state *vs = state_index < 0 ? NULL :
	    SSL_get_ex_data(ssl, state_index);

	return vs != NULL && vs->dane_insecure_mx;
}

int
tls_client_verify_setup(SSL *ssl, const struct tls_policy *policy)
{
	struct verify_state *vs;
	int index = state_index_get();

	if (index < 0)
		return -1;
	vs = xcalloc(1, sizeof(*vs));
	vs->error = X509_V_OK;
	if (SSL_set_ex_data(ssl, index, vs) != 1) {
		free(vs);
		return -1;
	}
	/* Trust anchors replace CAfile and CApath for this destination;
	 * an anchor need not be a self-signed root. */
	if (policy->trust_anchors != NULL) {
		if (SSL_set1_verify_cert_store(ssl,
		    policy->trust_anchors) != 1)
			return -1;
		X509_VERIFY_PARAM_set_flags(SSL_get0_param(ssl),
		    X509_V_FLAG_PARTIAL_CHAIN);
	}
	return 0;
}

/* Printable: the issuer name comes from the peer. */
static void
printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}

/* Postfix's tls_log_verify_error(): why the chain is not trusted. */
static void
log_verify_error(SSL *ssl, const char *peer)
{
	struct verify_state *vs = state_index < 0 ? NULL :
	    SSL_get_ex_data(ssl, state_index);
	int error = vs ? vs->error : (int)SSL_get_verify_result(ssl);
	const char *purpose = vs && vs->depth > 0 ? "CA" : "server";
	char issuer[256];

	if (SSL_session_reused(ssl)) {
		msg_info("%s: re-using session with untrusted certificate, "
		    "look for details earlier in the log", peer);
		return;
	}
	snprintf(issuer, sizeof(issuer), "%s", vs && vs->issuer[0] ?
	    vs->issuer : "<unknown>");
	printable(issuer);
	switch (error) {
	case X509_V_OK:
		break;
	case X509_V_ERR_CERT_UNTRUSTED:
		msg_info("certificate verification failed for %s: not "
		    "trusted by local or TLSA policy", peer);
		break;
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
		msg_info("certificate verification failed for %s: "
		    "self-signed certificate", peer);
		break;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
		msg_info("certificate verification failed for %s: untrusted "
		    "issuer %s", peer, issuer);
		break;
	case X509_V_ERR_CERT_NOT_YET_VALID:
	case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
		msg_info("%s certificate verification failed for %s: "
		    "certificate not yet valid", purpose, peer);
		break;
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:
		msg_info("%s certificate verification failed for %s: "
		    "certificate has expired", purpose, peer);
		break;
	case X509_V_ERR_INVALID_PURPOSE:
		msg_info("certificate verification failed for %s: not "
		    "designated for use as a %s certificate", peer, purpose);
		break;
	default:
		msg_info("%s certificate verification failed for %s: num=%d:%s",
		    purpose, peer, error,
		    X509_verify_cert_error_string(error));
		break;
	}
}

/* The name one pattern stands for: "hostname" the server's name,
 * "nexthop" the next hop's domain, "dot-nexthop" its subdomains (a
 * leading '.' is X509_check_host's "any subdomain"), anything else
 * itself. NULL when there is nothing to compare. Caller frees. */
static char *
pattern_name(const char *pattern, const char *hostname, const char *nexthop)
{
	if (strcasecmp(pattern, "hostname") == 0)
		return hostname && *hostname ? xstrdup(hostname) : NULL;
	if (strcasecmp(pattern, "nexthop") == 0)
		return nexthop && *nexthop ? xstrdup(nexthop) : NULL;
	if (strcasecmp(pattern, "dot-nexthop") == 0)
		return nexthop && *nexthop ? xasprintf(".%s", nexthop) : NULL;
	if (*pattern == '\0' || strcmp(pattern, ".") == 0)
		return NULL;
	return xstrdup(pattern);
}

int
tls_verify_name(X509 *cert, char *const *patterns, size_t n,
    const char *hostname, const char *nexthop, char **matched)
{
	if (matched)
		*matched = NULL;
	for (size_t i = 0; i < n; i++) {
		char *name = pattern_name(patterns[i], hostname, nexthop);
		char *peername = NULL;
		int rc;

		if (name == NULL)
			continue;
		/* Only a whole left-most label may be '*' (RFC 6125 6.4.3
		 * as Postfix applies it: no "f*.example.com"). */
		rc = X509_check_host(cert, name, 0,
		    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, &peername);
		free(name);
		if (rc == 1) {
			if (matched)
				*matched = xstrdup(peername ? peername : "");
			OPENSSL_free(peername);
			return 1;
		}
		OPENSSL_free(peername);
	}
	ERR_clear_error();
	return 0;
}

/* 1 when the certificate or its public key has one of the policy's
 * fingerprints. */
static int
fingerprint_matches(X509 *cert, const struct tls_policy *policy,
    char **cert_fp, char **pkey_fp)
{
	*cert_fp = tls_fprint_cert(cert, policy->digest);
	*pkey_fp = tls_fprint_pkey(cert, policy->digest);
	for (size_t i = 0; i < policy->n_match; i++) {
		/* Both are upper case: normalised when the policy was
		 * built, and written so here. */
		if ((*cert_fp && strcmp(*cert_fp, policy->match[i]) == 0) ||
		    (*pkey_fp && strcmp(*pkey_fp, policy->match[i]) == 0))
			return 1;
	}
	return 0;
}

static int
must_trust(int level)
{
	return level == TLS_LEV_VERIFY || level == TLS_LEV_SECURE;
}

static int
must_match(int level)
{
	return level == TLS_LEV_FPRINT || must_trust(level);
}

/* At dane and dane-only: without TLSA records for this server (an
 * insecure zone, a secure denial at level dane) the connection is
 * opportunistic, and tls_client_dane_setup was not called. */
static int
effective_level(SSL *ssl, int level)
{
	if (level == TLS_LEV_DANE || level == TLS_LEV_DANE_ONLY)
		return uses_dane(ssl) ? TLS_LEV_DANE : TLS_LEV_MAY;
	return level;
}

int
tls_client_check_peer(SSL *ssl, const struct tls_policy *policy,
    const char *hostname, const char *peer, int loglevel, char **reason)
{
	X509 *cert = SSL_get0_peer_certificate(ssl);
	struct tls_info info;
	char *cert_fp = NULL, *pkey_fp = NULL, *matched = NULL;
	int trusted = 0, verified = 0;
	int level = effective_level(ssl, policy->level);

	*reason = NULL;
	tls_info_get(ssl, &info);
	if (cert != NULL) {
		trusted = info.peer_trusted;
		if (level == TLS_LEV_DANE) {
			/* OpenSSL matched the records in the handshake; a
			 * TLSA match stands for trust and name, the name
			 * only when the MX answer was secure. */
			trusted = verified = tls_client_dane_verified(ssl,
			    peer, loglevel);
			if (dane_insecure_mx(ssl))
				verified = 0;
		} else if (level == TLS_LEV_FPRINT) {
			/* A listed fingerprint stands for trust and name. */
			if (fingerprint_matches(cert, policy, &cert_fp,
			    &pkey_fp))
				trusted = verified = 1;
		} else if (must_trust(policy->level) && trusted)
			verified = tls_verify_name(cert, policy->match,
			    policy->n_match, hostname, policy->nexthop_name,
			    &matched);
		if (!trusted && (must_trust(level) ||
		    level == TLS_LEV_DANE || loglevel >= 2))
			log_verify_error(ssl, peer);
		if (loglevel >= 1 && cert_fp == NULL) {
			cert_fp = tls_fprint_cert(cert, policy->digest);
			pkey_fp = tls_fprint_pkey(cert, policy->digest);
		}
		if (loglevel >= 1)
			msg_info("%s: subject_CN=%s, issuer_CN=%s, "
			    "fingerprint=%s, pkey_fingerprint=%s", peer,
			    info.peer_subject_cn, info.peer_issuer_cn,
			    cert_fp ? cert_fp : "", pkey_fp ? pkey_fp : "");
		if (matched != NULL && loglevel >= 2)
			msg_info("%s: matched name %s", peer, matched);
	}
	info.peer_trusted = trusted;
	tls_log_client_established(&info, verified, peer);
	if (level == TLS_LEV_FPRINT && cert != NULL && !verified)
		msg_info("%s: certificate fingerprint mismatch: "
		    "fingerprint=%s, pkey_fingerprint=%s", peer,
		    cert_fp ? cert_fp : "", pkey_fp ? pkey_fp : "");
	else if (must_trust(level) && trusted && !verified)
		msg_info("%s: server certificate name mismatch: subject_CN=%s",
		    peer, info.peer_subject_cn);
	free(cert_fp);
	free(pkey_fp);
	free(matched);
	/* Postfix's smtp_proto.c: trust first, then the match. */
	if (must_trust(level) && !trusted)
		*reason = xstrdup("Server certificate not trusted");
	else if (level == TLS_LEV_DANE ? !trusted :
	    must_match(level) && !verified)
		*reason = xstrdup("Server certificate not verified");
	return *reason ? -1 : 0;
}
