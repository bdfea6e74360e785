/* Internals of the TLS client (tls_client.c, tls_verify.c); not for
 * other subsystems. */
#ifndef TLSRELAY_TLS_CLIENT_INT_H
#define TLSRELAY_TLS_CLIENT_INT_H

#include <openssl/ssl.h>

struct tls_policy;

/* Installs the verify callback on the client context: it records the
 * chain error nearest to the leaf and lets the handshake go on. */
void tls_client_verify_init(SSL_CTX *ctx);
/* Per connection: the state the callback fills (freed with the SSL) and
 * the policy's trust anchors. Returns 0 or -1. */
int tls_client_verify_setup(SSL *ssl, const struct tls_policy *policy);

#endif
