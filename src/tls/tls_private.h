/* tls internals shared by the files of src/tls; not for other subsystems. */
#ifndef TLSRELAY_TLS_PRIVATE_H
#define TLSRELAY_TLS_PRIVATE_H

#include <openssl/ssl.h>

struct conf;

/* Where a parameter was set, for error messages: "main.cf:12", or
 * "default" when it has its default value. */
const char *tls_param_origin(const struct conf *conf, const char *name);

/* Sets *err = "ORIGIN: PARAM FILE: reason", frees reason, returns -1. */
int tls_file_error(char **err, const struct conf *conf, const char *param,
    const char *file, char *reason);

/* The reason of the most recent OpenSSL error in the queue, or fallback
 * when the queue is empty. Empties the queue. Caller frees. */
char *tls_openssl_reason(const char *fallback);

/* Opens a PEM file for reading. Returns NULL with *reason (caller frees)
 * saying why not, e.g. "cannot open: No such file or directory". */
BIO *tls_open_pem(const char *file, char **reason);

/* Loads the server's keys and certificates into ctx: smtpd_tls_chain_files
 * when set, else the smtpd_tls_cert_file/key_file and
 * smtpd_tls_eccert_file/eckey_file pairs. Returns the number of
 * key/certificate pairs loaded (0 when nothing is configured), or -1 with
 * *err = "ORIGIN: PARAM FILE: reason". */
int tls_server_load_certs(SSL_CTX *ctx, const struct conf *conf, char **err);

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
/* The client's session cache (smtp_tls_session_cache_database). Returns
 * 0, or -1 with *err set. */
int tls_client_cache_setup(SSL_CTX *ctx, const struct conf *conf,
    char **err);

#endif
