/* tls: what both sides share (levels, protocol lists, cipher grades, the
 * log lines that describe a TLS session, the session caches) and the
 * server's context from Postfix's smtpd_tls_* parameters. The client
 * side is tls_client.h. */
#ifndef TLSRELAY_TLS_H
#define TLSRELAY_TLS_H

#include <openssl/ssl.h>

struct conf;

enum tls_level {
	TLS_LEV_NONE = 0,
	TLS_LEV_MAY,
	TLS_LEV_ENCRYPT,
	/* Client-only levels, weakest to strongest as in Postfix; the
	 * server treats fingerprint, verify and secure as encrypt. */
	TLS_LEV_FPRINT,
	TLS_LEV_DANE,		/* known, not supported: deferred */
	TLS_LEV_DANE_ONLY,	/* known, not supported: deferred */
	TLS_LEV_VERIFY,
	TLS_LEV_SECURE,
};

/* smtpd_tls_security_level, honouring the obsolete smtpd_use_tls and
 * smtpd_enforce_tls when the level itself is not set. Returns -1 on an
 * unknown value. */
int tls_smtpd_level(const struct conf *conf);
/* Every level name Postfix knows (none ... secure), case-insensitive;
 * -1 if unknown. Which levels a side accepts is up to tls_smtpd_level and
 * tls_smtp_level. */
const char *tls_level_name(int level);
int tls_level_parse(const char *name);

/* Parses a protocol list in either Postfix syntax: exclusions
 * ("!SSLv2, !SSLv3, !TLSv1", also a plain inclusion list "TLSv1.2 TLSv1.3")
 * or bounds (">=TLSv1.2", "<=TLSv1.2", both together). Sets the OpenSSL
 * version numbers *min_version and *max_version (0 = no bound) and
 * *disable_ops (SSL_OP_NO_* bits for holes in the middle). Returns 0, or -1
 * with *err set (caller frees). */
int tls_parse_protocols(const char *spec, int *min_version, int *max_version,
    long *disable_ops, char **err);

/* Builds the OpenSSL cipher string for a Postfix cipher grade ("high",
 * "medium", "null"; "export" and "low" are treated as "medium", as in
 * Postfix 3.6+) from tls_high_cipherlist / tls_medium_cipherlist /
 * tls_null_cipherlist, with the exclusions list appended as !NAME items.
 * Returns a malloc'd string, or NULL with *err set (unknown grade, empty
 * list, an operator in an exclusion). No OpenSSL work: whether the string
 * selects any cipher is found when a context takes it. */
char *tls_cipher_string(const struct conf *conf, const char *grade,
    const char *exclusions, char **err);

/* A server SSL_CTX from the smtpd_tls_* parameters of conf (which is a
 * service's conf, -o overrides applied). Loads every configured key and
 * certificate (RSA and ECDSA at once), the CA file/path, protocols and
 * ciphers (the mandatory_ ones at level encrypt), DH parameters, ECDHE
 * groups, client certificate requests, one session ticket per full
 * handshake. Returns NULL with *err = "FILE:LINE: parameter: reason" (the
 * origin of the offending parameter) when anything is unreadable or
 * invalid, including a key that does not match its certificate. Returns
 * NULL with *err == NULL when the level is none and no TLS is needed. */
SSL_CTX *tls_server_ctx_new(const struct conf *conf, char **err);
/* How many session ticket keys ctx took from
 * tlsrelay_smtpd_tls_ticket_key_file; 0 when its keys are the store's or
 * it issues no tickets. */
size_t tls_server_ticket_file_keys(const SSL_CTX *ctx);

/* What a finished handshake gives the session. */
struct tls_info {
	char protocol[16];	/* "TLSv1.3" */
	char cipher[64];	/* "TLS_AES_256_GCM_SHA384" */
	int cipher_bits;	/* 256 */
	int algorithm_bits;	/* 256 */
	int peer_cert;		/* 1 if the peer presented a certificate */
	int peer_trusted;	/* 1 if it verified against the CA list */
	char peer_subject_cn[256];
	char peer_issuer_cn[256];
	/* The peer certificate's fingerprint and that of its public key
	 * (the DER SubjectPublicKeyInfo), colon-separated upper-case hex as
	 * Postfix writes them ("AB:CD:..."); "" until
	 * tls_info_fingerprints() or without a certificate. */
	char peer_cert_fprint[EVP_MAX_MD_SIZE * 3];
	char peer_pkey_fprint[EVP_MAX_MD_SIZE * 3];
	int session_reused;	/* resumed, not a full handshake */
	int ticketed;		/* server: resumed from a session ticket */
};

void tls_info_get(SSL *ssl, struct tls_info *info);
/* Fills the two fingerprints with digest ("sha256", "sha1", "md5": the
 * smtpd_tls_fingerprint_digest value). Returns 0, or -1 for an unknown
 * digest. */
int tls_info_fingerprints(SSL *ssl, const char *digest,
    struct tls_info *info);
/* "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)" */
void tls_info_format(const struct tls_info *info, char *buf, size_t len);
/* Logs Postfix's line for an inbound session:
 * "Anonymous|Untrusted|Trusted TLS connection established from
 *  host[addr]: TLSv1.3 with cipher ... (256/256 bits)" and, at loglevel >= 1
 * with a client certificate, the subject and issuer. */
void tls_log_server_established(const struct tls_info *info,
    const char *peer_name, const char *peer_addr, int loglevel);
/* Logs every pending OpenSSL error as msg_warn lines prefixed by what. */
void tls_log_errors(const char *what);

/* ---- session caches (src/tls/tls_scache*.c; the store: scache.h) ---- */

struct event_base;

/* Before the handshake of an outbound connection: offers the session
 * stored for this destination and TLS policy (policy: a string that
 * differs between policies that accept different things, e.g.
 * tls_policy_cache_key()), and files the sessions the server sends
 * under the same key. Returns 1 when a session was offered. Does
 * nothing without smtp_tls_session_cache_database. */
int tls_client_session_prepare(SSL *ssl, const char *nexthop,
    const char *hostname, const char *addr, unsigned port,
    const char *policy);
/* After a failed handshake: the stored session may be why; drop it. */
void tls_client_session_forget(SSL *ssl);
/* In each smtpd worker: a timer that removes expired sessions and
 * ticket keys from the stores, at most once per interval across all
 * processes. */
void tls_scache_maintenance(struct event_base *base,
    const struct conf *conf);

#endif
