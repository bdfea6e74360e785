/* tls_server_cache: session resumption for the server, shared by every
 * worker and every restart:
 *   - TLS 1.2 session IDs in smtpd_tls_session_cache_database (OpenSSL's
 *     in-memory store is off: each worker would only know its own);
 *   - session tickets (TLS 1.2 and 1.3) sealed with the ticket keys of
 *     the store, tls_session_ticket_cipher, or with those of
 *     tlsrelay_smtpd_tls_ticket_key_file, shared by every node that has
 *     the file; one ticket per full handshake, none at all when the
 *     cipher is empty;
 *   - smtpd_tls_session_cache_timeout bounds both; 0 turns both off.
 * The SSL_CTX is built in the supervisor before fork(), as root: the key
 * file is read then, and each worker opens the store on first use. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/scache.h"
#include "tlsrelay/tls.h"
#include "tlsrelay/util.h"
#include "tls_private.h"
#include "tls_scache.h"

static int
is_empty(const char *value)
{
	return value == NULL || value[strspn(value, LIST_SEPARATORS)] == '\0';
}

/* The session id context: a digest of what makes this service's
 * sessions its own (client certificate policy, CAs, keys, protocols),
 * so a session from one service never resumes on another that would
 * have decided differently. */
static int
set_session_context(SSL_CTX *ctx, const struct conf *conf, char tag[17])
{
	static const int params[] = {
		P_smtpd_tls_security_level, P_smtpd_use_tls,
		P_smtpd_enforce_tls, P_smtpd_tls_wrappermode,
		P_smtpd_tls_ask_ccert, P_smtpd_tls_req_ccert,
		P_smtpd_tls_ccert_verifydepth, P_smtpd_tls_CAfile,
		P_smtpd_tls_CApath, P_smtpd_tls_cert_file,
		P_smtpd_tls_eccert_file, P_smtpd_tls_chain_files,
		P_smtpd_tls_protocols, P_smtpd_tls_mandatory_protocols,
	};
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	EVP_MD_CTX *mdctx = EVP_MD_CTX_new();
	int ok;

	ok = mdctx != NULL && EVP_DigestInit_ex(mdctx, EVP_sha256(), NULL);
	for (size_t i = 0; ok && i < sizeof(params) / sizeof(params[0]); i++) {
		const char *name = conf_param_name(params[i]);
		const char *value = conf_text(conf, params[i]);

		/* Name, NUL, value, NUL: no two lists hash alike. */
		ok = EVP_DigestUpdate(mdctx, name, strlen(name) + 1) &&
		    EVP_DigestUpdate(mdctx, value ? value : "",
		    strlen(value ? value : "") + 1);
	}
	ok = ok && EVP_DigestFinal_ex(mdctx, md, &md_len) && md_len >= 8;
	EVP_MD_CTX_free(mdctx);
	if (!ok)
		return -1;
	for (int i = 0; i < 8; i++)
		snprintf(tag + 2 * i, 3, "%02X", md[i]);
	if (md_len > SSL_MAX_SID_CTX_LENGTH)
		md_len = SSL_MAX_SID_CTX_LENGTH;
	return SSL_CTX_set_session_id_context(ctx, md, md_len) == 1 ? 0 : -1;
}

static int
new_session_cb(SSL *ssl, SSL_SESSION *session)
{
	struct tls_scache_ctx *sctx = tls_scache_ctx_get(SSL_get_SSL_CTX(ssl));
	const unsigned char *id;
	unsigned int id_len;
	unsigned char *der;
	size_t len;
	time_t created;
	char *key;

	if (sctx == NULL || sctx->cache == NULL)
		return 0;
	/* TLS 1.3 resumes by ticket only (stateless: we never configure
	 * OpenSSL's stateful ones); its session ID is never looked up. */
	if (SSL_SESSION_get_protocol_version(session) >= TLS1_3_VERSION)
		return 0;
	id = SSL_SESSION_get_id(session, &id_len);
	if (id_len == 0 || (der = tls_session_to_der(session, &len)) == NULL)
		return 0;
	created = (time_t)SSL_SESSION_get_time(session);
	key = tls_server_cache_key(id, id_len, sctx->tag);
	(void)scache_put(sctx->cache, key, created,
	    created + (time_t)sctx->timeout, der, len);
	free(key);
	OPENSSL_cleanse(der, len);
	free(der);
	/* 0: OpenSSL keeps its reference; we keep only the bytes. */
	return 0;
}

static SSL_SESSION *
get_session_cb(SSL *ssl, const unsigned char *id, int id_len, int *copy)
{
	struct tls_scache_ctx *sctx = tls_scache_ctx_get(SSL_get_SSL_CTX(ssl));
	struct scache_entry entry;
	SSL_SESSION *session = NULL;
	char *key;

	*copy = 0;
	if (sctx == NULL || sctx->cache == NULL || id_len <= 0)
		return NULL;
	key = tls_server_cache_key(id, (size_t)id_len, sctx->tag);
	if (scache_get(sctx->cache, key, time(NULL), &entry) == 1) {
		session = tls_session_from_der(entry.data, entry.len);
		OPENSSL_cleanse(entry.data, entry.len);
		free(entry.data);
		if (session == NULL)
			(void)scache_delete(sctx->cache, key);
	}
	free(key);
	return session;
}

/* The store's keys, or the key file's when there is one. */
static int
ticket_keys_new(struct tls_scache_ctx *sctx, const struct conf *conf,
    long long timeout, char **err)
{
	int cipher_param = P_tls_session_ticket_cipher;
	int file_param = P_tlsrelay_smtpd_tls_ticket_key_file;
	const char *file = conf_str(conf, file_param);
	char *reason = NULL;

	if (!is_empty(file)) {
		if ((sctx->tickets = tls_ticket_keys_from_file(file,
		    &reason)) == NULL)
			return tls_file_error(err, conf, file_param, file,
			    reason);
		return 0;
	}
	if ((sctx->tickets = tls_ticket_keys_new(conf_str(conf,
	    P_data_directory), conf_str(conf, cipher_param), timeout,
	    &reason)) == NULL) {
		*err = xasprintf("%s: %s: %s", tls_param_origin(conf,
		    cipher_param), conf_param_name(cipher_param), reason);
		free(reason);
		return -1;
	}
	return 0;
}

static void
cache_off(SSL_CTX *ctx)
{
	/* Without num_tickets 0, TLS 1.3 would still send stateful
	 * tickets. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_num_tickets(ctx, 0);
}

int
tls_server_cache_setup(SSL_CTX *ctx, const struct conf *conf, char **err)
{
	int timeout_param = P_smtpd_tls_session_cache_timeout;
	const char *cipher = conf_str(conf, P_tls_session_ticket_cipher);
	long long timeout = conf_time(conf, timeout_param);
	struct tls_scache_ctx *sctx;

	*err = NULL;
	if (conf_check_param(conf, timeout_param, err) < 0)
		return -1;
	sctx = xcalloc(1, sizeof(*sctx));
	sctx->timeout = timeout;
	if (tls_scache_open(conf, P_smtpd_tls_session_cache_database,
	    &sctx->cache, err) < 0) {
		free(sctx);
		return -1;
	}
	/* Checked whatever the timeout, so a typo fails at start-up. */
	if (!is_empty(cipher) && ticket_keys_new(sctx, conf, timeout,
	    err) < 0) {
		scache_free(sctx->cache);
		free(sctx);
		return -1;
	}
	if (set_session_context(ctx, conf, sctx->tag) < 0 ||
	    tls_scache_ctx_attach(ctx, sctx) < 0) {
		*err = xstrdup("cannot set up the TLS session cache");
		return -1;
	}
	/* As Postfix: a timeout of 0 turns off resumption, tickets too. */
	if (timeout <= 0) {
		cache_off(ctx);
		return 0;
	}
	SSL_CTX_set_timeout(ctx, (long)timeout);
	if (sctx->cache != NULL) {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER |
		    SSL_SESS_CACHE_NO_INTERNAL | SSL_SESS_CACHE_NO_AUTO_CLEAR);
		SSL_CTX_sess_set_new_cb(ctx, new_session_cb);
		SSL_CTX_sess_set_get_cb(ctx, get_session_cb);
		/* No remove callback, as in Postfix: OpenSSL "removes" the
		 * session of every connection that ends without a
		 * close_notify from us, which would empty the cache of good
		 * sessions. Expiry and the purge remove them. */
	} else
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (sctx->tickets == NULL) {
		/* An empty cipher turns tickets off, as in Postfix: some
		 * large receivers drop connections that get them. */
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
		SSL_CTX_set_num_tickets(ctx, 0);
		return 0;
	}
	if (SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, tls_ticket_key_cb) != 1) {
		*err = xstrdup("cannot install the session ticket keys");
		return -1;
	}
	/* Some large receivers drop connections that get several TLS 1.3
	 * tickets: one per full handshake, as Postfix. */
	SSL_CTX_set_num_tickets(ctx, 1);
	return 0;
}

size_t
tls_server_ticket_file_keys(const SSL_CTX *ctx)
{
	struct tls_scache_ctx *sctx = tls_scache_ctx_get(ctx);

	return sctx != NULL ? tls_ticket_keys_from_file_count(sctx->tickets) :
	    0;
}
