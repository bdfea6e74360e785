/* tls_scache: the OpenSSL side of the shared session caches and ticket
 * keys (the store itself is include/tlsrelay/scache.h). Internal to
 * src/tls and its unit test. */
#ifndef TLSRELAY_TLS_SCACHE_H
#define TLSRELAY_TLS_SCACHE_H

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "tlsrelay/scache.h"

struct conf;
struct tls_ticket_keys;

/* What an SSL_CTX knows about caching; owned by the SSL_CTX (freed
 * with it), built before fork() without touching the disk. The client's
 * is shared by its contexts (one per TLS policy), each holding a
 * reference. */
struct tls_scache_ctx {
	int more_refs;			/* owners besides the first */
	struct scache *cache;		/* sessions; NULL: no database */
	long long timeout;		/* seconds a session lives */
	int loglevel;			/* client: smtp_tls_loglevel */
	char *trust;			/* client: the CAs that judged the
					 * server, part of every key */
	char tag[17];			/* server: session id context */
	struct tls_ticket_keys *tickets;	/* server; NULL: not ours */
};

struct tls_scache_ctx *tls_scache_ctx_get(const SSL_CTX *ctx);
/* Hands sctx (one reference to it) to ctx. Returns 0, or -1 (that
 * reference dropped). */
int tls_scache_ctx_attach(SSL_CTX *ctx, struct tls_scache_ctx *sctx);
/* Another reference, for another context; returns sctx. */
struct tls_scache_ctx *tls_scache_ctx_ref(struct tls_scache_ctx *sctx);
/* Drops one reference; the last one frees sctx. NULL is a no-op. */
void tls_scache_ctx_release(struct tls_scache_ctx *sctx);

/* The database named by param (smtpd_ or smtp_tls_session_cache_database)
 * in the environment at data_directory; *cache = NULL when the parameter
 * is empty. Returns 0, or -1 with *err = "ORIGIN: param: reason". */
int tls_scache_open(const struct conf *conf, int param_id,
    struct scache **cache, char **err);

/* Sessions to and from bytes (DER). NULL on failure. */
unsigned char *tls_session_to_der(SSL_SESSION *session, size_t *len);
SSL_SESSION *tls_session_from_der(const unsigned char *der, size_t len);

/* Cache keys. Server: the session ID in hex, the session id context tag
 * and the OpenSSL version (a session saved by another build is not
 * read). Client: every part of the destination -- next hop, server name,
 * address, port -- and the TLS policy string (level and attributes), so
 * a session made under one policy is never offered under another. */
char *tls_server_cache_key(const unsigned char *id, size_t len,
    const char *tag);
char *tls_client_cache_key(const char *nexthop, const char *hostname,
    const char *addr, unsigned port, const char *policy);

/* Ticket keys shared through the store: the newest key encrypts for
 * lifetime seconds, then decrypts only, for lifetime seconds more. */
struct tls_ticket_keys *tls_ticket_keys_new(const char *home,
    const char *cipher_name, long long lifetime, char **err);
void tls_ticket_keys_free(struct tls_ticket_keys *keys);
/* SSL_CTX_set_tlsext_ticket_key_evp_cb's callback; finds its keys in
 * the SSL_CTX's tls_scache_ctx. */
int tls_ticket_key_cb(SSL *ssl, unsigned char *key_name, unsigned char *iv,
    EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc);
/* Ticket keys from tlsrelay_smtpd_tls_ticket_key_file, the same on every
 * node that has the same file: the first key seals, every key opens, and
 * a ticket opened by another key than the first is renewed. Nothing is
 * stored and nothing rotates: the file's owner rolls keys over. Returns
 * NULL with *err = "reason" (tls_ticket_file_read's). */
struct tls_ticket_keys *tls_ticket_keys_from_file(const char *path,
    char **err);
/* How many keys came from the file; 0 for keys of the store. */
size_t tls_ticket_keys_from_file_count(const struct tls_ticket_keys *keys);

/* tls_ticket_file.c: the file's bytes, n_keys keys of
 * TLS_TICKET_FILE_KEY_LEN each, once it proved a regular file that is
 * not world-readable, of a positive multiple of that size and at most
 * TLS_TICKET_FILE_MAX_KEYS keys. Caller cleanses and frees. NULL with
 * *reason (caller frees). */
#define TLS_TICKET_FILE_KEY_LEN		80
#define TLS_TICKET_FILE_MAX_KEYS	16
unsigned char *tls_ticket_file_read(const char *path, size_t *n_keys,
    char **reason);

/* Marks ssl as resumed by a ticket (for the log line). */
void tls_scache_mark_ticketed(SSL *ssl);
/* Removes ticket keys past their decrypt time. Returns how many, or -1. */
long tls_ticket_keys_purge(struct tls_ticket_keys *keys, time_t now);

#endif
