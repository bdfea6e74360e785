/* tls_dane: DANE (RFC 7672) for the SMTP client, through OpenSSL's DANE
 * API (SSL_dane_enable, SSL_dane_tlsa_add): OpenSSL matches the records
 * during the handshake's chain verification, this file decides which
 * records are usable, names the references, and logs the match as
 * Postfix's tls_dane_log() does.
 *
 * RFC 7672 3.1: only DANE-TA(2) and DANE-EE(3) are used for SMTP;
 * PKIX-TA(0) and PKIX-EE(1) are ignored. For DANE-EE the certificate's
 * names and dates do not matter (DANE_FLAG_NO_DANE_EE_NAMECHECKS; OpenSSL
 * skips the validity period of a DANE-EE match); for DANE-TA the
 * reference names are the TLSA base domain (the MX host) and the next-hop
 * domain (RFC 7672 3.2.2), whole-label wildcards only. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tlsrelay/log.h"
#include "tlsrelay/tls.h"
#include "tlsrelay/tls_client.h"
#include "tlsrelay/util.h"
#include "tls_client_int.h"
#include "tls_private.h"

struct tlsa_rec {
	unsigned char usage, selector, mtype;
	unsigned char *data;
	size_t len;
};

struct tls_dane {
	char *base_domain;	/* the MX host: TLSA base, first name */
	char *nexthop;		/* the next-hop domain: second name */
	struct tlsa_rec *recs;
	size_t n;
	int insecure_mx;	/* a match is Trusted, not Verified */
};

struct tls_dane *
tls_dane_new(const char *base_domain, const char *nexthop)
{
	struct tls_dane *d = xcalloc(1, sizeof(*d));

	d->base_domain = xstrdup(base_domain);
	d->nexthop = xstrdup(nexthop ? nexthop : "");
	return d;
}

void
tls_dane_mark_insecure_mx(struct tls_dane *d)
{
	d->insecure_mx = 1;
}

void
tls_dane_free(struct tls_dane *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->n; i++)
		free(d->recs[i].data);
	free(d->recs);
	free(d->base_domain);
	free(d->nexthop);
	free(d);
}

/* 1 when the data can be what the selector and matching type say: a
 * digest of the right length, or a DER certificate or public key. */
static int
tlsa_data_ok(unsigned selector, unsigned mtype, const unsigned char *data,
    size_t len)
{
	const unsigned char *p = data;
	int ok = 0;

	switch (mtype) {
	case 1:
		return len == 32;
	case 2:
		return len == 64;
	case 0:
		if (selector == 0) {
			X509 *x = d2i_X509(NULL, &p, (long)len);

			ok = x != NULL && p == data + len;
			X509_free(x);
		} else {
			EVP_PKEY *k = d2i_PUBKEY(NULL, &p, (long)len);

			ok = k != NULL && p == data + len;
			EVP_PKEY_free(k);
		}
		ERR_clear_error();
		return ok;
	default:
		return 0;
	}
}

int
tls_dane_add(struct tls_dane *d, unsigned usage, unsigned selector,
    unsigned mtype, const unsigned char *data, size_t len)
{
	struct tlsa_rec *r;

	if (usage != 2 && usage != 3)
		return 0;	/* RFC 7672 3.1.3: PKIX usages are ignored */
	if (selector > 1 || mtype > 2 || len == 0 ||
	    !tlsa_data_ok(selector, mtype, data, len))
		return 0;
	d->recs = xrealloc(d->recs, (d->n + 1) * sizeof(*d->recs));
	r = &d->recs[d->n++];
	r->usage = (unsigned char)usage;
	r->selector = (unsigned char)selector;
	r->mtype = (unsigned char)mtype;
	r->data = xmalloc(len);
	memcpy(r->data, data, len);
	r->len = len;
	return 1;
}

size_t
tls_dane_usable(const struct tls_dane *d)
{
	return d != NULL ? d->n : 0;
}

void
tls_client_dane_ctx_init(SSL_CTX *ctx)
{
	/* Enables the API for connections that ask for it; the others are
	 * not affected. */
	if (SSL_CTX_dane_enable(ctx) <= 0)
		tls_log_errors("cannot enable DANE on a client context");
}

int
tls_client_dane_setup(SSL *ssl, const struct tls_dane *d, char **err)
{
	size_t added = 0;

	*err = NULL;
	ERR_clear_error();
	/* Sets the first reference name too (and SNI when none is set). */
	if (SSL_dane_enable(ssl, d->base_domain) <= 0)
		goto fail;
	SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (d->nexthop[0] != '\0' &&
	    strcasecmp(d->nexthop, d->base_domain) != 0 &&
	    SSL_add1_host(ssl, d->nexthop) != 1)
		goto fail;
	for (size_t i = 0; i < d->n; i++) {
		const struct tlsa_rec *r = &d->recs[i];

		if (SSL_dane_tlsa_add(ssl, r->usage, r->selector, r->mtype,
		    r->data, r->len) > 0)
			added++;
	}
	ERR_clear_error();
	if (added == 0) {
		*err = xstrdup("no usable TLSA records");
		return -1;
	}
	tls_client_verify_mark_dane(ssl, d->insecure_mx);
	return 0;

fail:
	*err = tls_openssl_reason("cannot enable DANE on the connection");
	return -1;
}

/* Postfix's dump of the matched record's data: all of it up to 256
 * bytes, else the first 224 and the last 32. */
#define MAX_TAIL_BYTES	32
#define MAX_HEAD_BYTES	(256 - MAX_TAIL_BYTES)
#define MAX_DUMP_BYTES	(MAX_HEAD_BYTES + MAX_TAIL_BYTES)

static void
hex_append(struct strbuf *sb, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		strbuf_printf(sb, "%02X", p[i]);
}

int
tls_client_dane_verified(SSL *ssl, const char *peer, int loglevel)
{
	EVP_PKEY *mspki = NULL;
	uint8_t u, s, m;
	const unsigned char *data = NULL;
	size_t dlen = 0;
	struct strbuf sb;
	int depth;

	if (SSL_get_verify_result(ssl) != X509_V_OK ||
	    (depth = SSL_get0_dane_authority(ssl, NULL, &mspki)) < 0)
		return 0;
	if (loglevel < 1)
		return 1;
	(void)SSL_get0_dane_tlsa(ssl, &u, &s, &m, &data, &dlen);
	strbuf_init(&sb);
	strbuf_puts(&sb, "");
	if (dlen > MAX_DUMP_BYTES) {
		hex_append(&sb, data, MAX_HEAD_BYTES);
		strbuf_puts(&sb, "...");
		hex_append(&sb, data + dlen - MAX_TAIL_BYTES, MAX_TAIL_BYTES);
	} else if (data != NULL)
		hex_append(&sb, data, dlen);
	msg_info("%s: Matched DANE %s at depth %d: %u %u %u %s", peer,
	    mspki != NULL ? "TA public key verified certificate" :
	    depth > 0 ? "TA certificate" : "EE certificate", depth, u, s, m,
	    sb.data);
	strbuf_free(&sb);
	return 1;
}
