/* tls internals shared by the files of src/tls; not for other subsystems. */
#ifndef TLSRELAY_TLS_PRIVATE_H
#define TLSRELAY_TLS_PRIVATE_H

#include <openssl/ssl.h>

struct conf;

/* Where a parameter was set, for error messages: "main.cf:12", or
 * "default" when it has its default value. */
const char *tls_param_origin(const struct conf *conf, int name_id);

/* Sets *err = "ORIGIN: PARAM FILE: reason", frees reason, returns -1. */
int tls_file_error(char **err, const struct conf *conf, int param_id,
    const char *file, char *reason);

/* The reason of the most recent OpenSSL error in the queue, or fallback
 * when the queue is empty. Empties the queue. Caller frees. */
char *tls_openssl_reason(const char *fallback);

/* Opens a PEM file for reading. Returns NULL with *reason (caller frees)
 * saying why not, e.g. "cannot open: No such file or directory". */
BIO *tls_open_pem(const char *file, char **reason);

/* Private keys with their certificates and chains, read into memory
 * from one side's parameters (side "smtpd" or "smtp"):
 * <side>_tls_chain_files when set, else the <side>_tls_cert_file /
 * key_file and <side>_tls_eccert_file / eckey_file pairs. Read once, as
 * root; installed into any number of contexts. Returns the keys (none
 * when nothing is configured), or NULL with *err = "ORIGIN: PARAM FILE:
 * reason". */
struct tls_certkeys;
struct tls_certkeys *tls_certkeys_read(const struct conf *conf,
    const char *side, char **err);
size_t tls_certkeys_count(const struct tls_certkeys *keys);
/* Installs every key into ctx, which takes references of its own.
 * Returns 0, or -1 with *err = "ORIGIN: PARAM FILE: reason". */
int tls_certkeys_install(SSL_CTX *ctx, const struct tls_certkeys *keys,
    char **err);
void tls_certkeys_free(struct tls_certkeys *keys);

/* Sets the OpenSSL cipher string (tls_cipher_string) on ctx. Returns 0,
 * or -1 with *reason = "no cipher matches \"...\"" when it selects no
 * cipher. */
int tls_set_cipher_list(SSL_CTX *ctx, const char *ciphers, char **reason);

/* Client certificate requests (smtpd_tls_ask_ccert, smtpd_tls_req_ccert),
 * the CA file and directory that verify them, the verification depth.
 * mandatory is 1 at level encrypt. Returns 0, or -1 with *err set. */
int tls_server_setup_verify(SSL_CTX *ctx, const struct conf *conf,
    int mandatory, char **err);

/* Key exchange: smtpd_tls_dh1024_param_file (FFDHE parameters) and
 * smtpd_tls_eecdh_grade with tls_eecdh_auto_curves (ECDHE groups).
 * Returns 0, or -1 with *err set. */
int tls_server_setup_kex(SSL_CTX *ctx, const struct conf *conf, char **err);

/* The pem_password_cb for every key and certificate we read: never
 * prompt (an encrypted key is an error, named by the caller). */
int tls_no_passphrase(char *buf, int size, int rwflag, void *arg);

/* Session resumption: the shared session cache
 * (smtpd_tls_session_cache_database), the shared ticket keys, the
 * timeout. Returns 0, or -1 with *err set. */
int tls_server_cache_setup(SSL_CTX *ctx, const struct conf *conf,
    char **err);
/* 1 when the server resumed ssl from a session ticket. */
int tls_server_ticketed(const SSL *ssl);
/* The client's session cache (smtp_tls_session_cache_database), shared
 * by all its contexts: *cache is NULL when there is none (no database,
 * or a timeout of 0). Returns 0, or -1 with *err set. */
struct tls_scache_ctx;
int tls_client_cache_new(const struct conf *conf,
    struct tls_scache_ctx **cache, char **err);
/* Makes ctx use cache (NULL: no session cache), with a reference of its
 * own. Returns 0 or -1. */
int tls_client_cache_attach(SSL_CTX *ctx, struct tls_scache_ctx *cache);

#endif
