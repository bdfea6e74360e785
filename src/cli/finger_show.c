/* finger_show: what a TLS session shows of the server, for tlsrelay
 * tls-finger: protocol and cipher in the relay's words, every
 * certificate of the chain the server sent (subject, issuer, its DNS and
 * IP names, validity), and the fingerprints of the leaf certificate and
 * its public key in the configured digest, computed by the code the
 * fingerprint level matches with (tls_fprint.c). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tlsrelay/tls.h"
#include "tlsrelay/tls_client.h"
#include "tlsrelay/util.h"

#include "finger.h"

/* Printable: names come from the peer. */
static void
printable(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}

static void
print_name(const char *label, const X509_NAME *name)
{
	char buf[512];

	X509_NAME_oneline(name, buf, sizeof(buf));
	printable(buf);
	printf("    %s: %s\n", label, buf);
}

static void
print_time(const char *label, const ASN1_TIME *t)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	long len;

	if (bio == NULL)
		return;
	if (t != NULL && ASN1_TIME_print(bio, t) == 1) {
		len = BIO_get_mem_data(bio, &data);
		printf("    %s: %.*s\n", label, (int)len, data);
	}
	BIO_free(bio);
}

/* The subjectAltNames a server name is matched against (DNS), and the
 * addresses (IP) for the record. */
static void
print_alt_names(X509 *cert)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name,
	    NULL, NULL);
	struct strbuf sb;
	int n;

	strbuf_init(&sb);
	strbuf_puts(&sb, "");
	n = names ? sk_GENERAL_NAME_num(names) : 0;
	for (int i = 0; i < n; i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
		char *text = NULL;

		if (gn->type == GEN_DNS)
			text = xasprintf("DNS:%.*s",
			    ASN1_STRING_length(gn->d.dNSName),
			    (const char *)ASN1_STRING_get0_data(gn->d.dNSName));
		else if (gn->type == GEN_IPADD) {
			const unsigned char *ip =
			    ASN1_STRING_get0_data(gn->d.iPAddress);

			if (ASN1_STRING_length(gn->d.iPAddress) == 4)
				text = xasprintf("IP:%u.%u.%u.%u", ip[0],
				    ip[1], ip[2], ip[3]);
			else
				text = xstrdup("IP:(IPv6)");
		}
		if (text != NULL) {
			printable(text);
			strbuf_printf(&sb, "%s%s", sb.len ? ", " : "", text);
			free(text);
		}
	}
	GENERAL_NAMES_free(names);
	printf("    names: %s\n", sb.len ? sb.data : "(no subjectAltName)");
	strbuf_free(&sb);
}

void
finger_show_session(SSL *ssl, const char *digest)
{
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl);
	X509 *leaf = SSL_get0_peer_certificate(ssl);
	struct tls_info info;
	char summary[160], *cert_fp, *pkey_fp;
	int n = chain ? sk_X509_num(chain) : 0;

	tls_info_get(ssl, &info);
	tls_info_format(&info, summary, sizeof(summary));
	printf("TLS: %s%s\n", summary, SSL_session_reused(ssl) ?
	    " (resumed session)" : "");
	if (leaf == NULL) {
		printf("no server certificate (anonymous cipher)\n");
		return;
	}
	printf("certificate chain (%d sent by the server):\n", n);
	for (int i = 0; i < n; i++) {
		X509 *cert = sk_X509_value(chain, i);

		printf("  depth %d:\n", i);
		print_name("subject", X509_get_subject_name(cert));
		print_name("issuer", X509_get_issuer_name(cert));
		print_alt_names(cert);
		print_time("notBefore", X509_get0_notBefore(cert));
		print_time("notAfter", X509_get0_notAfter(cert));
	}
	cert_fp = tls_fprint_cert(leaf, digest);
	pkey_fp = tls_fprint_pkey(leaf, digest);
	printf("certificate fingerprint (%s): %s\n", digest,
	    cert_fp ? cert_fp : "?");
	printf("public key fingerprint (%s): %s\n", digest,
	    pkey_fp ? pkey_fp : "?");
	free(cert_fp);
	free(pkey_fp);
}
