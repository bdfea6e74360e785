/* tls_scache_client: our sessions with each server, in
 * smtp_tls_session_cache_database. A connection offers the session
 * stored under its destination key (next hop, server name, address,
 * port, TLS policy); OpenSSL hands us every new session (TLS 1.3
 * tickets arrive after the handshake) and we store it under the key of
 * the connection it came from. A resumed session carries the server's
 * certificate and its verification result, so the level's checks run on
 * it as on a full handshake. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/stats.h"
#include "tlsrelay/scache.h"
#include "tlsrelay/tls.h"
#include "tlsrelay/util.h"
#include "tls_private.h"
#include "tls_scache.h"

/* What a connection's SSL carries for us. */
struct client_slot {
	char *key;		/* where its sessions are filed */
	char *peer;		/* "host[addr]:port", for the log */
	int logged;
};

static int slot_index = -1;

static void
slot_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
    void *argp)
{
	struct client_slot *slot = ptr;

	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	if (slot == NULL)
		return;
	free(slot->key);
	free(slot->peer);
	free(slot);
}

static struct client_slot *
slot_get(const SSL *ssl)
{
	return slot_index >= 0 ? SSL_get_ex_data(ssl, slot_index) : NULL;
}

/* Postfix's line at its TLS_LOG_CACHE level, before the "established"
 * line: the handshake is done before the connection hears of it. */
static void
info_cb(const SSL *ssl, int where, int ret)
{
	struct tls_scache_ctx *sctx = tls_scache_ctx_get(SSL_get_SSL_CTX(ssl));
	struct client_slot *slot = slot_get(ssl);

	(void)ret;
	if ((where & SSL_CB_HANDSHAKE_DONE) && slot != NULL && !slot->logged &&
	    sctx != NULL) {
		slot->logged = 1;
		if (sctx->loglevel >= 2 && SSL_session_reused((SSL *)ssl))
			msg_info("%s: Reusing old session", slot->peer);
	}
}

static int
new_session_cb(SSL *ssl, SSL_SESSION *session)
{
	struct tls_scache_ctx *sctx = tls_scache_ctx_get(SSL_get_SSL_CTX(ssl));
	struct client_slot *slot = slot_get(ssl);
	long long life;
	unsigned long hint;
	unsigned char *der;
	size_t len;
	time_t now = time(NULL);

	if (sctx == NULL || sctx->cache == NULL || slot == NULL ||
	    !SSL_SESSION_is_resumable(session))
		return 0;
	/* The server's own lifetime hint may be shorter than ours. */
	life = sctx->timeout;
	hint = SSL_SESSION_get_ticket_lifetime_hint(session);
	if (hint > 0 && (long long)hint < life)
		life = (long long)hint;
	if ((der = tls_session_to_der(session, &len)) == NULL)
		return 0;
	(void)scache_put(sctx->cache, slot->key, now, now + (time_t)life, der,
	    len);
	OPENSSL_cleanse(der, len);
	free(der);
	return 0;
}

int
tls_client_cache_new(const struct conf *conf, struct tls_scache_ctx **cache,
    char **err)
{
	int timeout_param = P_smtp_tls_session_cache_timeout;
	long long timeout = conf_time(conf, timeout_param);
	struct tls_scache_ctx *sctx;

	*err = NULL;
	*cache = NULL;
	if (conf_check_param(conf, timeout_param, err) < 0)
		return -1;
	sctx = xcalloc(1, sizeof(*sctx));
	sctx->timeout = timeout;
	sctx->loglevel = (int)conf_int(conf, P_smtp_tls_loglevel);
	if (tls_scache_open(conf, P_smtp_tls_session_cache_database,
	    &sctx->cache, err) < 0) {
		free(sctx);
		return -1;
	}
	if (sctx->cache == NULL || timeout <= 0) {
		tls_scache_ctx_release(sctx);
		return 0;
	}
	/* A session remembers the verdict on the server's chain: one made
	 * while other CAs were trusted must not vouch for it now. */
	sctx->trust = xasprintf("%s|%s|%s",
	    conf_str(conf, P_smtp_tls_CAfile), conf_str(conf,
	    P_smtp_tls_CApath), conf_text(conf,
	    P_tls_append_default_CA));
	if (slot_index < 0)
		slot_index = SSL_get_ex_new_index(0, NULL, NULL, NULL,
		    slot_free);
	if (slot_index < 0) {
		tls_scache_ctx_release(sctx);
		*err = xstrdup("cannot set up the TLS session cache");
		return -1;
	}
	*cache = sctx;
	return 0;
}

int
tls_client_cache_attach(SSL_CTX *ctx, struct tls_scache_ctx *cache)
{
	if (cache == NULL) {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
		return 0;
	}
	if (tls_scache_ctx_attach(ctx, tls_scache_ctx_ref(cache)) < 0)
		return -1;
	/* Only the shared store: an in-memory copy per process would hide
	 * what the other processes learned. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
	SSL_CTX_set_info_callback(ctx, info_cb);
	return 0;
}

int
tls_client_session_prepare(SSL *ssl, const char *nexthop,
    const char *hostname, const char *addr, unsigned port, const char *policy)
{
	struct tls_scache_ctx *sctx = tls_scache_ctx_get(SSL_get_SSL_CTX(ssl));
	struct scache_entry entry;
	struct client_slot *slot;
	SSL_SESSION *session;
	char *key, *full_policy;
	int offered = 0;

	if (sctx == NULL || sctx->cache == NULL || slot_index < 0)
		return 0;
	full_policy = xasprintf("%s&ca=%s", policy ? policy : "", sctx->trust);
	key = tls_client_cache_key(nexthop, hostname, addr, port, full_policy);
	free(full_policy);
	if (scache_get(sctx->cache, key, time(NULL), &entry) == 1) {
		session = tls_session_from_der(entry.data, entry.len);
		OPENSSL_cleanse(entry.data, entry.len);
		free(entry.data);
		if (session != NULL && SSL_SESSION_is_resumable(session) &&
		    SSL_set_session(ssl, session) == 1)
			offered = 1;
		else
			(void)scache_delete(sctx->cache, key);
		SSL_SESSION_free(session);
	}
	stats_inc(STAT_TLS_SESSION_CACHE, "smtp", offered ? "hit" : "miss");
	/* The SSL owns the slot now: new sessions are filed under its key. */
	slot = xcalloc(1, sizeof(*slot));
	slot->key = key;
	slot->peer = xasprintf("%s[%s]:%u", hostname, addr, port);
	if (!SSL_set_ex_data(ssl, slot_index, slot))
		slot_free(NULL, slot, NULL, 0, 0, NULL);
	return offered;
}

void
tls_client_session_forget(SSL *ssl)
{
	struct tls_scache_ctx *sctx = tls_scache_ctx_get(SSL_get_SSL_CTX(ssl));
	struct client_slot *slot = slot_get(ssl);

	if (sctx != NULL && sctx->cache != NULL && slot != NULL)
		(void)scache_delete(sctx->cache, slot->key);
}
