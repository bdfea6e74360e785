/* tls_client: the client side of TLS (src/tls/tls_client.c, tls_policy.c,
 * tls_verify.c, tls_fprint.c): keys and CAs read once, one SSL_CTX per
 * policy, Postfix's levels and policy tables, the checks of the server's
 * certificate. */
#ifndef TLSRELAY_TLS_CLIENT_H
#define TLSRELAY_TLS_CLIENT_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "tlsrelay/tls.h"

/* smtp_tls_security_level (any client level: none, may, encrypt,
 * fingerprint, dane, dane-only, verify, secure), or the obsolete
 * smtp_use_tls (may) and smtp_enforce_tls (encrypt) when the level is
 * empty. Returns -1 on an unknown value. Quiet: tls_client_ctx_new warns
 * about the obsolete names once. */
int tls_smtp_level(const struct conf *conf);

/* What every outbound connection shares, read once and as root: the
 * supervisor builds it with each reading of the configuration, before
 * any process drops its privileges, and the queue manager inherits it.
 * The client certificates and keys (smtp_tls_chain_files, else the
 * cert/key and eccert/eckey pairs; sent only when configured), the CA
 * file and directory (tls_append_default_CA adds the system's CAs), the
 * session cache (smtp_tls_session_cache_database). The level, the
 * protocols and ciphers of both levels, smtp_tls_fingerprint_digest and
 * the main.cf policy are checked too, and obsolete parameters and a DANE
 * level draw a warning. Returns NULL with *err = "ORIGIN: parameter
 * [FILE]: reason" (caller frees), e.g. "main.cf:7: smtp_tls_key_file
 * /etc/tls/key.pem: cannot open: No such file or directory". */
struct tls_client;
struct tls_policy;
struct tls_client *tls_client_new(const struct conf *conf, char **err);
void tls_client_free(struct tls_client *client);
/* The SSL_CTX for a connection under policy (level may and up): one per
 * distinct set of protocols and ciphers, built the first time a policy
 * with that set asks for it and kept by the client until
 * tls_client_free. NULL when OpenSSL refuses the policy's settings (no
 * cipher matches, say), after a warning that is logged once: defer the
 * destination with TLS_POLICY_PROBLEM. */
SSL_CTX *tls_client_ctx(struct tls_client *client,
    const struct tls_policy *policy);

/* Postfix's reason text for a destination whose TLS policy is unusable. */
#define TLS_POLICY_PROBLEM	"client TLS configuration problem"

/* The TLS policy of one destination: its smtp_tls_policy_maps entry,
 * main.cf for the rest. Immutable once built; the owner frees it. */
struct tls_policy {
	int level;		/* enum tls_level */
	char *error;		/* non-NULL: unusable (already logged); the
				 * destination is deferred with this text */
	/* level >= may */
	char *protocols;	/* as configured, e.g. ">=TLSv1.2" */
	char *grade;		/* cipher grade */
	char *exclusions;	/* cipher exclusions, eNULL/aNULL added */
	char *cipher_list;	/* the OpenSSL cipher string */
	int min_version, max_version;	/* 0: no bound */
	long disable_ops;	/* SSL_OP_NO_* holes */
	char *servername;	/* SNI: "" none, "hostname", "nexthop", a
				 * name */
	int conn_reuse;		/* connection_reuse=: 1, 0, -1 not given */
	/* level fingerprint: "AB:CD:..." digests; verify, secure: match
	 * strategies and names ("hostname", "nexthop", "dot-nexthop",
	 * ".example.com", "mx.example.com") */
	char **match;
	size_t n_match;
	char *digest;		/* smtp_tls_fingerprint_digest */
	X509_STORE *trust_anchors;	/* tafile=: replaces CAfile/CApath */
	char *tafiles;		/* their names, for the cache key */
	char *nexthop_name;	/* the next hop without [] and :port */
	char *cache_key;
	int from_table;		/* an smtp_tls_policy_maps entry, which
				 * MTA-STS does not override */
	/* Reported, never enforced (MTA-STS mode testing): what an audit
	 * of the server would need (tls_client_audit), and the subject of
	 * the log line of a failure ("MTA-STS policy for example.com
	 * (id=1, testing)"). NULL: no audit. */
	X509_STORE *audit_anchors;
	char *audit;
};

/* The main.cf policy at level for nexthop (a level of -1 gives an
 * unusable policy). Never NULL. */
struct tls_policy *tls_policy_main(const struct conf *conf, int level,
    const char *nexthop);
/* Parses one smtp_tls_policy_maps value ("verify match=hostname:nexthop
 * ciphers=high") for nexthop. Problems are logged as "WHERE: ..." and
 * make an unusable policy; never NULL. */
struct tls_policy *tls_policy_parse(const struct conf *conf,
    const char *nexthop, const char *entry, const char *where);
void tls_policy_free(struct tls_policy *policy);
/* A string that differs between any two policies that ask for different
 * things: for session caches and connection reuse. */
const char *tls_policy_cache_key(const struct tls_policy *policy);

/* smtp_tls_policy_maps, opened once (conf must outlive it). NULL with
 * *err set when a table cannot be opened or the main.cf level is
 * unknown. */
struct tls_policy_maps;
struct tls_policy_maps *tls_policy_maps_open(const struct conf *conf,
    char **err);
void tls_policy_maps_close(struct tls_policy_maps *maps);
/* The policy for a next hop as routed ("example.com",
 * "[mx.example]:2525"): a domain is looked up as itself, then as its
 * parents with a leading dot; other forms only verbatim; no entry gives
 * the main.cf policy. A changed table is opened again first. Never NULL;
 * the caller frees. */
struct tls_policy *tls_policy_lookup(struct tls_policy_maps *maps,
    const char *nexthop);
/* The same, and where the entry came from: *table the table's name
 * ("hash:/etc/tlsrelay/tls_policy") and *key the key that matched
 * ("[mx.example]:25", ".example.com"); both NULL when main.cf decided
 * (caller frees). For tlsrelay tls-finger. */
struct tls_policy *tls_policy_lookup_from(struct tls_policy_maps *maps,
    const char *nexthop, char **table, char **key);

/* Per connection (ssl made from tls_client_ctx()): servername as SNI
 * when not NULL, the policy's trust anchors, the state the verify
 * callback fills. Returns 0, or -1 with *err set. */
int tls_client_ssl_setup(SSL *ssl, const struct tls_policy *policy,
    const char *servername, char **err);

/* The SNI name for a servername setting ("" or NULL: none, "hostname":
 * the MX host, "nexthop": the next hop's name without [] and port, else
 * the value itself); NULL also for an IP address (SNI carries names
 * only). Caller frees. tls_client_servername() reads the setting from
 * smtp_tls_servername. */
char *tls_client_sni(const char *setting, const char *mx_host,
    const char *nexthop);
char *tls_client_servername(const struct conf *conf, const char *mx_host,
    const char *nexthop);

/* ---- DANE (RFC 7672; src/tls/tls_dane.c) ---- */

/* The usable TLSA records of one MX host at one port, with the names a
 * DANE-TA(2) certificate may carry: base_domain (the MX host, whose
 * _PORT._tcp name had the records) and the next-hop domain. */
struct tls_dane;
struct tls_dane *tls_dane_new(const char *base_domain, const char *nexthop);
void tls_dane_free(struct tls_dane *dane);
/* Adds one record when RFC 7672 can use it: usage 2 or 3, selector 0 or
 * 1, matching type 0 (a DER certificate or SubjectPublicKeyInfo), 1
 * (32-byte SHA-256) or 2 (64-byte SHA-512). Returns 1 when added, 0 when
 * ignored. */
int tls_dane_add(struct tls_dane *dane, unsigned usage, unsigned selector,
    unsigned mtype, const unsigned char *data, size_t len);
/* How many records were added. */
size_t tls_dane_usable(const struct tls_dane *dane);
/* The MX host came from an insecure MX answer
 * (smtp_tls_dane_insecure_mx_policy = dane): a TLSA match authenticates
 * the server, but its name could have been forged, so the connection is
 * Trusted, not Verified (as Postfix logs it). */
void tls_dane_mark_insecure_mx(struct tls_dane *dane);
/* Per connection, after tls_client_ssl_setup: the server must match one
 * of dane's records (checked by tls_client_check_peer at level dane or
 * dane-only). Returns 0, or -1 with *err set (caller frees). */
int tls_client_dane_setup(SSL *ssl, const struct tls_dane *dane,
    char **err);

/* After a handshake (new or resumed): checks the server certificate as
 * the policy's level asks (fingerprint; trust and name for verify and
 * secure, hostname being the server's name as found in DNS; at dane and
 * dane-only a TLSA match when tls_client_dane_setup was called for the
 * connection, else nothing, as at may), logs the
 * reasons of a failure and Postfix's "Anonymous|Untrusted|Trusted|
 * Verified TLS connection established to PEER: ..." line (at loglevel
 * >= 1 also the certificate's names and fingerprints). Returns 0, or -1
 * with *reason = Postfix's text ("Server certificate not trusted",
 * "Server certificate not verified"; caller frees). */
int tls_client_check_peer(SSL *ssl, const struct tls_policy *policy,
    const char *hostname, const char *peer, int loglevel, char **reason);

/* After tls_client_check_peer passed, at a policy with an audit: would
 * the server pass a strict check? TLS 1.2 or newer, a chain trusted by
 * the policy's audit_anchors, a certificate name matching hostname (RFC
 * 6125 wildcards, as MTA-STS asks: RFC 8461 4.2). Returns 0, or -1 with
 * *why (caller frees), e.g. "certificate not trusted (self-signed
 * certificate)". A resumed session passes: it was audited when it was
 * made under the same policy (the audit is part of the cache key). */
int tls_client_audit(SSL *ssl, const struct tls_policy *policy,
    const char *hostname, char **why);

/* Logs "VERDICT TLS connection established to PEER: TLSv1.3 with cipher
 * ... (256/256 bits)": Anonymous without a certificate, else Verified
 * when verified, else Trusted or Untrusted by info->peer_trusted. */
void tls_log_client_established(const struct tls_info *info, int verified,
    const char *peer);

/* 1 when a DNS subjectAltName of cert (the CommonName only when there is
 * none) matches one of patterns: "hostname" (hostname), "nexthop"
 * (nexthop), "dot-nexthop" (any subdomain of nexthop), ".example.com"
 * (any subdomain), else the name itself; case-insensitive, a '*' only as
 * the whole left-most label of a certificate name. *matched (may be NULL)
 * gets the certificate name that matched; caller frees. */
int tls_verify_name(X509 *cert, char *const *patterns, size_t n,
    const char *hostname, const char *nexthop, char **matched);

/* Fingerprints as Postfix writes them ("AB:CD:..."): of the DER
 * certificate, and of its DER SubjectPublicKeyInfo. NULL for an unknown
 * digest. Caller frees. */
char *tls_fprint_cert(X509 *cert, const char *digest);
char *tls_fprint_pkey(X509 *cert, const char *digest);
/* A configured fingerprint in that form: hex pairs, ':' between them
 * optional, any case. NULL when malformed. Caller frees. */
char *tls_fprint_normalize(const char *text);
/* 1 when OpenSSL knows the digest (md5, sha1, sha256, sha512, ...). */
int tls_fprint_digest_ok(const char *digest);

#endif
