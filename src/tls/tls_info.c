/* tls_info: what a finished handshake says about the session, and
 * Postfix's log lines for it. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tlsrelay/log.h"
#include "tlsrelay/stats.h"
#include "tlsrelay/tls.h"
#include "tlsrelay/tls_client.h"
#include "tlsrelay/util.h"
#include "tls_private.h"

/* The common name of a certificate name, as printable text for the log;
 * empty when there is none. A name with a NUL byte inside is a forgery
 * attempt and yields nothing. */
static void
name_cn(const X509_NAME *name, char *buf, size_t len)
{
	const X509_NAME_ENTRY *entry;
	unsigned char *utf8 = NULL;
	int index, n;

	buf[0] = '\0';
	if (name == NULL || len == 0)
		return;
	index = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	if (index < 0 || (entry = X509_NAME_get_entry(name, index)) == NULL)
		return;
	n = ASN1_STRING_to_UTF8(&utf8,
	    X509_NAME_ENTRY_get_data((X509_NAME_ENTRY *)entry));
	if (n < 0)
		return;
	if (memchr(utf8, '\0', (size_t)n) == NULL) {
		size_t i;

		for (i = 0; i < (size_t)n && i + 1 < len; i++)
			buf[i] = (utf8[i] < 0x20 || utf8[i] == 0x7f) ?
			    '?' : (char)utf8[i];
		buf[i] = '\0';
	}
	OPENSSL_free(utf8);
}

void
tls_info_get(SSL *ssl, struct tls_info *info)
{
	const SSL_CIPHER *cipher = SSL_get_current_cipher(ssl);
	X509 *peer = SSL_get0_peer_certificate(ssl);

	memset(info, 0, sizeof(*info));
	snprintf(info->protocol, sizeof(info->protocol), "%s",
	    SSL_get_version(ssl));
	if (cipher != NULL) {
		snprintf(info->cipher, sizeof(info->cipher), "%s",
		    SSL_CIPHER_get_name(cipher));
		info->cipher_bits = SSL_CIPHER_get_bits(cipher,
		    &info->algorithm_bits);
	}
	if (peer != NULL) {
		info->peer_cert = 1;
		info->peer_trusted = SSL_get_verify_result(ssl) == X509_V_OK;
		name_cn(X509_get_subject_name(peer), info->peer_subject_cn,
		    sizeof(info->peer_subject_cn));
		name_cn(X509_get_issuer_name(peer), info->peer_issuer_cn,
		    sizeof(info->peer_issuer_cn));
	}
	info->session_reused = SSL_session_reused(ssl);
	info->ticketed = SSL_is_server(ssl) && tls_server_ticketed(ssl);
}

int
tls_info_fingerprints(SSL *ssl, const char *digest, struct tls_info *info)
{
	X509 *peer = SSL_get0_peer_certificate(ssl);
	char *cert, *pkey;

	info->peer_cert_fprint[0] = info->peer_pkey_fprint[0] = '\0';
	if (!tls_fprint_digest_ok(digest))
		return -1;
	if (peer == NULL)
		return 0;
	cert = tls_fprint_cert(peer, digest);
	pkey = tls_fprint_pkey(peer, digest);
	snprintf(info->peer_cert_fprint, sizeof(info->peer_cert_fprint), "%s",
	    cert ? cert : "");
	snprintf(info->peer_pkey_fprint, sizeof(info->peer_pkey_fprint), "%s",
	    pkey ? pkey : "");
	free(cert);
	free(pkey);
	return 0;
}

void
tls_info_format(const struct tls_info *info, char *buf, size_t len)
{
	snprintf(buf, len, "%s with cipher %s (%d/%d bits)", info->protocol,
	    info->cipher, info->cipher_bits, info->algorithm_bits);
}

void
tls_log_server_established(const struct tls_info *info,
    const char *peer_name, const char *peer_addr, int loglevel)
{
	const char *trust;
	char summary[160];

	trust = !info->peer_cert ? "Anonymous" :
	    info->peer_trusted ? "Trusted" : "Untrusted";
	/* Postfix's words, at its TLS_LOG_CACHE level. */
	if (loglevel >= 2 && info->session_reused)
		msg_info("%s[%s]: Reusing old session%s", peer_name, peer_addr,
		    info->ticketed ? " (RFC 5077 session ticket)" : "");
	if (loglevel >= 1 && info->peer_cert)
		msg_info("%s[%s]: %s: subject_CN=%s, issuer=%s", peer_name,
		    peer_addr, trust, info->peer_subject_cn,
		    info->peer_issuer_cn);
	tls_info_format(info, summary, sizeof(summary));
	stats_inc(STAT_TLS_HANDSHAKES, "smtpd", info->protocol, info->cipher);
	msg_info("%s TLS connection established from %s[%s]: %s", trust,
	    peer_name, peer_addr, summary);
}
