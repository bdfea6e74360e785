/* Fuzz harness: a TLS session cache record as the client and the server
 * read it back from the shared Berkeley DB cache (src/scache/scache_db.c,
 * src/tls/tls_scache.c): written by another process, another build, or
 * cut short by a crash. The input is the stored value. Checked: a record
 * decodes only when it has the header, and then into exactly the bytes
 * that encode it again; the data that decodes as an SSL_SESSION encodes
 * again to DER that decodes to the same DER (what we store is what we
 * read), with lengths within OpenSSL's bounds; and a client offers it in
 * a ClientHello without harm, as tls_client_session_prepare does. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "tlsrelay/scache.h"
#include "tlsrelay/util.h"
#include "../../src/scache/scache_int.h"	/* the record format */
#include "../../src/tls/tls_scache.h"		/* sessions to bytes */
#include "fuzz.h"

#define REC_HEADER	17	/* version, created, expires */

static SSL_CTX *
client_ctx(void)
{
	static SSL_CTX *ctx;

	if (ctx == NULL) {
		CHECK((ctx = SSL_CTX_new(TLS_client_method())) != NULL);
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
		    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	}
	return ctx;
}

static void
check_der_stable(SSL_SESSION *session)
{
	unsigned char *der, *again;
	size_t len, again_len;
	SSL_SESSION *copy;

	CHECK((der = tls_session_to_der(session, &len)) != NULL);
	CHECK((copy = tls_session_from_der(der, len)) != NULL);
	CHECK((again = tls_session_to_der(copy, &again_len)) != NULL);
	CHECK(again_len == len && memcmp(again, der, len) == 0);
	SSL_SESSION_free(copy);
	free(again);
	free(der);
}

/* What tls_client_session_prepare does with a cached session, up to the
 * ClientHello that offers it. */
static void
offer(SSL_SESSION *session)
{
	SSL *ssl = SSL_new(client_ctx());
	BIO *in = BIO_new(BIO_s_mem()), *out = BIO_new(BIO_s_mem());

	CHECK(ssl != NULL && in != NULL && out != NULL);
	SSL_set_bio(ssl, in, out);
	SSL_set_tlsext_host_name(ssl, "mx.example.com");
	if (SSL_SESSION_is_resumable(session) &&
	    SSL_set_session(ssl, session) == 1) {
		/* Nothing to read: it stops after writing the hello. */
		CHECK(SSL_connect(ssl) <= 0);
	}
	SSL_free(ssl);
	ERR_clear_error();
}

static void
check_session(const unsigned char *der, size_t len)
{
	SSL_SESSION *session = tls_session_from_der(der, len);
	unsigned int id_len;

	if (session == NULL) {
		ERR_clear_error();
		return;
	}
	(void)SSL_SESSION_get_id(session, &id_len);
	CHECK(id_len <= SSL_MAX_SSL_SESSION_ID_LENGTH);
	/* A TLS 1.3 resumption secret may be as long as a digest (OpenSSL
	 * reads up to TLS13_MAX_RESUMPTION_PSK_LENGTH), longer than a TLS 1.2
	 * master secret. */
	CHECK(SSL_SESSION_get_master_key(session, NULL, 0) <=
	    EVP_MAX_MD_SIZE);
	check_der_stable(session);
	offer(session);
	SSL_SESSION_free(session);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scache_entry entry;
	unsigned char *again;
	size_t again_size;

	memset(&entry, 0, sizeof(entry));
	if (scache_record_decode(data, size, &entry) < 0) {
		CHECK(size < REC_HEADER || data[0] != 1);
		return 0;
	}
	CHECK(size >= REC_HEADER);
	CHECK(entry.data == data + REC_HEADER);
	CHECK(entry.len == size - REC_HEADER);
	again = scache_record_encode(entry.created, entry.expires, entry.data,
	    entry.len, &again_size);
	CHECK(again_size == size && memcmp(again, data, size) == 0);
	free(again);
	check_session(entry.data, entry.len);
	return 0;
}
