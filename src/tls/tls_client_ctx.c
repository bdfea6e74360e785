/* tls_client_ctx: one client SSL_CTX per distinct set of the settings a
 * TLS policy puts on a context -- protocol bounds, protocol holes, cipher
 * list -- built the first time a policy asks for it and kept for the life
 * of the process. Finding the context of a destination's policy (once
 * per connection) is a search of a few strings, with no OpenSSL work;
 * OpenSSL parses a cipher list once per distinct list, not once per
 * message group or connection. Every context shares the client's keys,
 * CA store and session cache, so sessions resume across policies' contexts
 * exactly as their cache keys allow. A new configuration (SIGHUP) means a
 * new queue manager process, with contexts built afresh. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tlsrelay/log.h"
#include "tlsrelay/tls.h"
#include "tlsrelay/tls_client.h"
#include "tlsrelay/util.h"
#include "tls_client_int.h"
#include "tls_private.h"

struct client_ctx {
	char *key;		/* the settings, see settings_key() */
	SSL_CTX *ctx;		/* NULL: it could not be built */
	char *error;		/* then: why */
	int by_settings;	/* the settings were refused, not a key */
};

/* Everything of a policy that goes into its context: policies with the
 * same key share one. */
static char *
settings_key(const struct tls_policy *p)
{
	return xasprintf("%d|%d|%lx|%s", p->min_version, p->max_version,
	    (unsigned long)p->disable_ops,
	    p->cipher_list ? p->cipher_list : "");
}

/* *by_settings: whether a failure is the policy's protocols or ciphers
 * (else *reason names the key file and parameter at fault, or says what
 * else went wrong). */
static SSL_CTX *
ctx_build(const struct tls_client *client, const struct tls_policy *p,
    char **reason, int *by_settings)
{
	SSL_CTX *ctx;

	*by_settings = 0;
	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		*reason = tls_openssl_reason("cannot create a TLS client "
		    "context");
		return NULL;
	}
	SSL_CTX_set_options(ctx, SSL_OP_ALL | SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | (uint64_t)p->disable_ops);
	if ((p->min_version != 0 &&
	    !SSL_CTX_set_min_proto_version(ctx, p->min_version)) ||
	    (p->max_version != 0 &&
	    !SSL_CTX_set_max_proto_version(ctx, p->max_version))) {
		*reason = tls_openssl_reason("unsupported protocol version");
		*by_settings = 1;
		goto fail;
	}
	if (p->cipher_list != NULL &&
	    tls_set_cipher_list(ctx, p->cipher_list, reason) != 0) {
		*by_settings = 1;
		goto fail;
	}
	SSL_CTX_set1_cert_store(ctx, client->cas);
	/* The chain is checked (for the log's verdict, and for levels
	 * verify and secure) but never stops the handshake. */
	tls_client_verify_init(ctx);
	if (tls_certkeys_install(ctx, client->keys, reason) != 0)
		goto fail;
	if (tls_client_cache_attach(ctx, client->cache) != 0) {
		*reason = xstrdup("cannot set up the TLS session cache");
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return NULL;
}

/* The entry for p's settings; *built says whether it is new. */
static struct client_ctx *
ctx_entry(struct tls_client *client, const struct tls_policy *p,
    int *built)
{
	char *key = settings_key(p);
	struct client_ctx *e;

	*built = 0;
	for (size_t i = 0; i < client->n_ctxs; i++)
		if (strcmp(client->ctxs[i].key, key) == 0) {
			free(key);
			return &client->ctxs[i];
		}
	client->ctxs = xrealloc(client->ctxs,
	    (client->n_ctxs + 1) * sizeof(*client->ctxs));
	e = &client->ctxs[client->n_ctxs++];
	e->key = key;
	e->error = NULL;
	e->ctx = ctx_build(client, p, &e->error, &e->by_settings);
	*built = 1;
	return e;
}

SSL_CTX *
tls_client_ctx_get(struct tls_client *client, const struct tls_policy *p,
    char **reason, int *by_settings)
{
	int built;
	struct client_ctx *e = ctx_entry(client, p, &built);

	if (e->ctx == NULL) {
		*reason = xstrdup(e->error);
		*by_settings = e->by_settings;
	}
	return e->ctx;
}

SSL_CTX *
tls_client_ctx(struct tls_client *client, const struct tls_policy *p)
{
	int built;
	struct client_ctx *e = ctx_entry(client, p, &built);

	/* Once per distinct settings: every later lookup finds the
	 * failure kept. */
	if (e->ctx == NULL && built)
		msg_warn("TLS policy for next-hop destination \"%s\": "
		    "protocols \"%s\", ciphers \"%s\": %s", p->nexthop_name,
		    p->protocols ? p->protocols : "",
		    p->grade ? p->grade : "", e->error);
	return e->ctx;
}

void
tls_client_ctxs_free(struct tls_client *client)
{
	for (size_t i = 0; i < client->n_ctxs; i++) {
		free(client->ctxs[i].key);
		SSL_CTX_free(client->ctxs[i].ctx);
		free(client->ctxs[i].error);
	}
	free(client->ctxs);
	client->ctxs = NULL;
	client->n_ctxs = 0;
}
