/* tls: OpenSSL contexts built from Postfix's smtpd_tls_* parameters, and
 * the log lines that describe a TLS session. */
#ifndef TLSRELAY_TLS_H
#define TLSRELAY_TLS_H

#include <openssl/ssl.h>

struct conf;

enum tls_level {
	TLS_LEV_NONE = 0,
	TLS_LEV_MAY,
	TLS_LEV_ENCRYPT,
	/* outbound-only levels follow in later work */
};

/* smtpd_tls_security_level, honouring the obsolete smtpd_use_tls and
 * smtpd_enforce_tls when the level itself is not set. Returns -1 on an
 * unknown value. */
int tls_smtpd_level(const struct conf *conf);
const char *tls_level_name(enum tls_level level);
/* "none", "may", "encrypt" -> level; -1 if unknown. */
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
 * Returns a malloc'd string, or NULL with *err set. */
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
};

void tls_info_get(SSL *ssl, struct tls_info *info);
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

/* ---- client side (src/tls/tls_client.c) ---- */

/* smtp_tls_security_level, or the obsolete smtp_use_tls (may) and
 * smtp_enforce_tls (encrypt) when the level is empty. Returns -1 on an
 * unknown value. Quiet: tls_client_ctx_new warns about the obsolete
 * names once. */
int tls_smtp_level(const struct conf *conf);

/* The client SSL_CTX from the smtp_tls_* parameters: the CA file and
 * directory (the chain is checked to say Trusted or Untrusted, never to
 * refuse), a client certificate only when one is configured
 * (smtp_tls_chain_files, else the cert/key and eccert/eckey pairs). The
 * protocols and ciphers of both levels are checked here too. Returns NULL
 * with *err = "ORIGIN: parameter: reason" (caller frees). */
SSL_CTX *tls_client_ctx_new(const struct conf *conf, char **err);

/* Per connection: smtp_tls_protocols and smtp_tls_ciphers at level may,
 * the smtp_tls_mandatory_ ones at encrypt (the exclusion lists added), and
 * servername as SNI when not NULL. Returns 0, or -1 with *err set. */
int tls_client_ssl_setup(SSL *ssl, const struct conf *conf, int level,
    const char *servername, char **err);

/* The SNI name smtp_tls_servername asks for: NULL when empty, the MX host
 * for "hostname", the next hop's name without [] and port for "nexthop",
 * else the literal value; NULL also for an IP address (SNI carries names
 * only). Caller frees. */
char *tls_client_servername(const struct conf *conf, const char *mx_host,
    const char *nexthop);

/* Logs Postfix's "Anonymous|Untrusted|Trusted TLS connection established
 * to host[addr]:port: TLSv1.3 with cipher ... (256/256 bits)" for peer =
 * "host[addr]:port", and at loglevel >= 1 the server's names. */
void tls_log_client_established(const struct tls_info *info,
    const char *peer, int loglevel);

#endif
