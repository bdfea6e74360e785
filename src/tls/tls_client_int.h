/* Internals of the TLS client (tls_client.c, tls_client_ctx.c,
 * tls_verify.c); not for other subsystems. */
#ifndef TLSRELAY_TLS_CLIENT_INT_H
#define TLSRELAY_TLS_CLIENT_INT_H

#include <stddef.h>

#include <openssl/ssl.h>

struct tls_certkeys;
struct tls_policy;
struct tls_scache_ctx;

/* What every connection of the client shares (tls.h: tls_client_new). */
struct tls_client {
	struct tls_certkeys *keys;	/* client certificates; maybe none */
	X509_STORE *cas;		/* smtp_tls_CAfile, smtp_tls_CApath */
	struct tls_scache_ctx *cache;	/* NULL: no session cache */
	struct client_ctx *ctxs;	/* one per distinct policy settings */
	size_t n_ctxs;
};

/* tls_client_ctx.c: the context for policy's settings, built the first
 * time and kept (a failure too). NULL with *reason (caller frees) when it
 * cannot be built: *by_settings is 1 when OpenSSL refused the policy's
 * protocols or ciphers, 0 when something else failed (a client key the
 * context will not take: *reason names its file and parameter). */
SSL_CTX *tls_client_ctx_get(struct tls_client *client,
    const struct tls_policy *policy, char **reason, int *by_settings);
void tls_client_ctxs_free(struct tls_client *client);

/* Installs the verify callback on a client context: it records the
 * chain error nearest to the leaf and lets the handshake go on. */
void tls_client_verify_init(SSL_CTX *ctx);
/* Per connection: the state the callback fills (freed with the SSL) and
 * the policy's trust anchors. Returns 0 or -1. */
int tls_client_verify_setup(SSL *ssl, const struct tls_policy *policy);
/* The connection checks the server by DANE (tls_client_dane_setup);
 * insecure_mx: a match is Trusted, not Verified (tls_dane_mark_insecure_mx). */
void tls_client_verify_mark_dane(SSL *ssl, int insecure_mx);

/* tls_dane.c: SSL_CTX_dane_enable on every client context; after the
 * handshake of a DANE connection, 1 when a TLSA record matched the chain
 * (logged as Postfix's "Matched DANE ..." at loglevel >= 1). */
void tls_client_dane_ctx_init(SSL_CTX *ctx);
int tls_client_dane_verified(SSL *ssl, const char *peer, int loglevel);

#endif
