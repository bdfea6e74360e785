/* tls_fprint: certificate and public-key fingerprints as Postfix writes
 * and compares them: upper-case hex pairs joined by ':' ("AB:CD:..."),
 * the digest of the whole DER certificate or of its DER
 * SubjectPublicKeyInfo (what `openssl x509 -pubkey | openssl pkey -pubin
 * -outform DER | openssl dgst` digests), so a key kept through a renewal
 * keeps its fingerprint. */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "tlsrelay/tls.h"
#include "tlsrelay/tls_client.h"
#include "tlsrelay/util.h"

static char *
hex_pairs(const unsigned char *md, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = xmalloc(len * 3 + 1), *p = out;

	for (size_t i = 0; i < len; i++) {
		if (i > 0)
			*p++ = ':';
		*p++ = hex[md[i] >> 4];
		*p++ = hex[md[i] & 15];
	}
	*p = '\0';
	return out;
}

char *
tls_fprint_cert(X509 *cert, const char *digest)
{
	const EVP_MD *md = EVP_get_digestbyname(digest);
	unsigned char buf[EVP_MAX_MD_SIZE];
	unsigned len;

	if (md == NULL || cert == NULL || X509_digest(cert, md, buf,
	    &len) != 1) {
		ERR_clear_error();
		return NULL;
	}
	return hex_pairs(buf, len);
}

char *
tls_fprint_pkey(X509 *cert, const char *digest)
{
	const EVP_MD *md = EVP_get_digestbyname(digest);
	unsigned char buf[EVP_MAX_MD_SIZE], *der = NULL;
	unsigned len;
	int der_len;
	char *result = NULL;

	if (md == NULL || cert == NULL)
		return NULL;
	der_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
	if (der_len > 0 && EVP_Digest(der, (size_t)der_len, buf, &len, md,
	    NULL) == 1)
		result = hex_pairs(buf, len);
	OPENSSL_free(der);
	ERR_clear_error();
	return result;
}

static int
hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

char *
tls_fprint_normalize(const char *text)
{
	unsigned char raw[EVP_MAX_MD_SIZE];
	size_t n = 0;
	const char *p = text;

	/* Pairs of hex digits; a ':' may separate pairs, as Postfix
	 * accepts (it decodes with colons allowed, not required). */
	while (*p != '\0') {
		int hi, lo;

		if (n > 0 && *p == ':')
			p++;
		if ((hi = hex_value(p[0])) < 0 || (lo = hex_value(p[1])) < 0 ||
		    n == sizeof(raw))
			return NULL;
		raw[n++] = (unsigned char)(hi << 4 | lo);
		p += 2;
	}
	if (n == 0)
		return NULL;
	return hex_pairs(raw, n);
}

int
tls_fprint_digest_ok(const char *digest)
{
	return digest != NULL && *digest != '\0' &&
	    EVP_get_digestbyname(digest) != NULL;
}
