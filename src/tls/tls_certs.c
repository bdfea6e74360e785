/* tls_certs: private keys and certificate chains, for both sides. They
 * are read into memory once, as root, before any process drops its
 * privileges (a key is often readable by root only, as Let's Encrypt
 * ships privkey.pem), and installed from there into as many SSL_CTXs as
 * need them: the server's one per service, the client's one per TLS
 * policy. Every key type goes into the same SSL_CTX (RSA and ECDSA side
 * by side), and OpenSSL picks the one that suits the peer's signature
 * algorithms. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/tls.h"
#include "tlsrelay/util.h"
#include "tls_private.h"

/* One private key with its certificate and the chain that follows it. */
struct certkey {
	EVP_PKEY *key;
	X509 *cert;
	STACK_OF(X509) *chain;
	char *where;		/* "main.cf:3: smtpd_tls_key_file FILE" */
};

struct tls_certkeys {
	struct certkey *list;
	size_t n;
};

static void
certkey_clear(struct certkey *ck)
{
	EVP_PKEY_free(ck->key);
	X509_free(ck->cert);
	sk_X509_pop_free(ck->chain, X509_free);
	free(ck->where);
	memset(ck, 0, sizeof(*ck));
}

/* A daemon must never prompt on a terminal for a pass phrase. */
int
tls_no_passphrase(char *buf, int size, int rwflag, void *arg)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)arg;
	return -1;
}

BIO *
tls_open_pem(const char *file, char **reason)
{
	FILE *fp = fopen(file, "r");
	BIO *bio;

	if (fp == NULL) {
		*reason = xasprintf("cannot open: %s", strerror(errno));
		return NULL;
	}
	if ((bio = BIO_new_fp(fp, BIO_CLOSE)) == NULL) {
		fclose(fp);
		*reason = tls_openssl_reason("cannot create a BIO");
	}
	return bio;
}

/* After a PEM read returned nothing: 1 at a clean end of file, 0 when
 * the file holds something broken. */
static int
pem_at_end(void)
{
	unsigned long e = ERR_peek_last_error();

	if (ERR_GET_LIB(e) == ERR_LIB_PEM &&
	    ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
		ERR_clear_error();
		return 1;
	}
	return 0;
}

/* The explanation for a failed SSL_CTX_use_cert_and_key or
 * SSL_CTX_check_private_key, in words an administrator knows. Empties the
 * error queue. */
static char *
install_reason(void)
{
	unsigned long e, first = 0;
	const char *known = NULL, *text;

	while ((e = ERR_get_error()) != 0) {
		int lib = ERR_GET_LIB(e), why = ERR_GET_REASON(e);

		if (first == 0)
			first = e;
		if ((lib == ERR_LIB_SSL &&
		    why == SSL_R_PRIVATE_KEY_MISMATCH) ||
		    (lib == ERR_LIB_X509 &&
		    (why == X509_R_KEY_VALUES_MISMATCH ||
		    why == X509_R_KEY_TYPE_MISMATCH)))
			known = "private key does not match the certificate";
		else if (lib == ERR_LIB_SSL &&
		    why == SSL_R_NOT_REPLACING_CERTIFICATE)
			known = "a certificate with the same key type is "
			    "already loaded";
	}
	if (known != NULL)
		return xstrdup(known);
	text = first ? ERR_reason_error_string(first) : NULL;
	return xstrdup(text ? text : "cannot use the key and certificate");
}

/* Takes ck (a key with its certificate) into keys, emptying ck; where
 * names the file for later errors. The key must belong to the
 * certificate: found now, not when a context is built from it. */
static int
certkeys_add(struct tls_certkeys *keys, struct certkey *ck,
    const char *where, char **reason)
{
	ERR_clear_error();
	if (X509_check_private_key(ck->cert, ck->key) != 1) {
		*reason = install_reason();
		certkey_clear(ck);
		return -1;
	}
	keys->list = xrealloc(keys->list, (keys->n + 1) * sizeof(*keys->list));
	ck->where = xstrdup(where);
	keys->list[keys->n++] = *ck;
	memset(ck, 0, sizeof(*ck));
	return 0;
}

static void
chain_push(struct certkey *ck, X509 *x)
{
	if (!sk_X509_push(ck->chain, x))
		msg_fatal("out of memory (certificate chain)");
}

/* Certificates of a cert_file: the server certificate, then its chain.
 * Other PEM objects (a private key) are skipped, since key_file may name
 * the same file. */
static int
read_cert_file(const char *file, struct certkey *ck, char **reason)
{
	BIO *bio = tls_open_pem(file, reason);
	X509 *x;

	if (bio == NULL)
		return -1;
	ERR_clear_error();
	ck->cert = PEM_read_bio_X509_AUX(bio, NULL, tls_no_passphrase, NULL);
	if (ck->cert == NULL) {
		*reason = pem_at_end() ? xstrdup("no certificate found") :
		    tls_openssl_reason("cannot read the certificate");
		BIO_free(bio);
		return -1;
	}
	if ((ck->chain = sk_X509_new_null()) == NULL)
		msg_fatal("out of memory (certificate chain)");
	while ((x = PEM_read_bio_X509(bio, NULL, tls_no_passphrase, NULL)))
		chain_push(ck, x);
	BIO_free(bio);
	if (!pem_at_end()) {
		*reason = tls_openssl_reason("cannot read the chain");
		return -1;
	}
	return 0;
}

static int
is_private_key(const char *pem_name)
{
	size_t len = strlen(pem_name), suffix = strlen("PRIVATE KEY");

	return len >= suffix &&
	    strcmp(pem_name + len - suffix, "PRIVATE KEY") == 0;
}

/* The key in one PEM object (PKCS#8 or a traditional RSA, EC, ... key). */
static EVP_PKEY *
decode_key(const char *name, const char *header, const unsigned char *der,
    long len, char **reason)
{
	EVP_PKEY *key;

	/* Nobody is there to type a pass phrase. */
	if (strcmp(name, PEM_STRING_PKCS8) == 0 ||
	    (header != NULL && strstr(header, "ENCRYPTED") != NULL)) {
		*reason = xstrdup("encrypted private keys are not supported");
		return NULL;
	}
	ERR_clear_error();
	if ((key = d2i_AutoPrivateKey(NULL, &der, len)) == NULL)
		*reason = tls_openssl_reason("cannot decode the private key");
	return key;
}

/* The first private key in a key_file; certificates are skipped, since
 * the key file may be the certificate file. */
static EVP_PKEY *
read_key_file(const char *file, char **reason)
{
	BIO *bio = tls_open_pem(file, reason);
	EVP_PKEY *key = NULL;

	if (bio == NULL)
		return NULL;
	ERR_clear_error();
	while (key == NULL && *reason == NULL) {
		char *name = NULL, *header = NULL;
		unsigned char *der = NULL;
		long len = 0;

		if (!PEM_read_bio(bio, &name, &header, &der, &len)) {
			*reason = pem_at_end() ?
			    xstrdup("no private key found") :
			    tls_openssl_reason("cannot read PEM data");
			break;
		}
		if (is_private_key(name))
			key = decode_key(name, header, der, len, reason);
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_clear_free(der, (size_t)len);
	}
	BIO_free(bio);
	return key;
}

/* Sets *err = "WHERE: reason" for a key and file named by where. */
static int
where_error(char **err, const char *where, char *reason)
{
	*err = xasprintf("%s: %s", where, reason);
	free(reason);
	return -1;
}

/* "ORIGIN: PARAM FILE", the prefix of every error about that file. */
static char *
file_where(const struct conf *conf, int param_id, const char *file)
{
	const char *param = conf_param_name(param_id);

	return xasprintf("%s: %s %s", tls_param_origin(conf, param_id), param,
	    file);
}

/* A legacy pair: cert_param names the certificate (and chain), key_param
 * its key; key_param empty means the key is in the certificate file. */
static int
read_pair(struct tls_certkeys *keys, const struct conf *conf,
    int cert_param_id, int key_param_id, char **err)
{
	const char *cert_file = conf_str(conf, cert_param_id);
	const char *key_file = conf_str(conf, key_param_id);
	struct certkey ck = { NULL, NULL, NULL, NULL };
	char *reason = NULL, *where;
	int status;

	if (key_file == NULL || *key_file == '\0') {
		key_file = cert_file;
		key_param_id = cert_param_id;
	}
	if (read_cert_file(cert_file, &ck, &reason) != 0) {
		certkey_clear(&ck);
		return tls_file_error(err, conf, cert_param_id, cert_file,
		    reason);
	}
	if ((ck.key = read_key_file(key_file, &reason)) == NULL) {
		certkey_clear(&ck);
		return tls_file_error(err, conf, key_param_id, key_file,
		    reason);
	}
	/* A mismatch is reported against the key: the parameter that pairs
	 * the two files. */
	where = file_where(conf, key_param_id, key_file);
	status = certkeys_add(keys, &ck, where, &reason) == 0 ? 0 :
	    where_error(err, where, reason);
	free(where);
	return status;
}

static int
is_parameters(const char *pem_name)
{
	size_t len = strlen(pem_name), suffix = strlen("PARAMETERS");

	return len >= suffix &&
	    strcmp(pem_name + len - suffix, "PARAMETERS") == 0;
}

/* Adds one PEM object of a chain file to ck, taking ck into keys first
 * when a new key starts. Returns 0, or -1 with *reason set. */
static int
chain_file_object(struct tls_certkeys *keys, struct certkey *ck,
    const char *where, const char *name, const char *header,
    const unsigned char *der, long len, char **reason)
{
	X509 *x = NULL;

	if (is_private_key(name)) {
		if (ck->key != NULL && ck->cert == NULL) {
			*reason = xstrdup("private key not followed by "
			    "its certificate");
			return -1;
		}
		if (ck->key != NULL && certkeys_add(keys, ck, where,
		    reason) != 0)
			return -1;
		ck->key = decode_key(name, header, der, len, reason);
		return ck->key ? 0 : -1;
	}
	if (strcmp(name, PEM_STRING_X509) == 0 ||
	    strcmp(name, PEM_STRING_X509_OLD) == 0)
		x = d2i_X509(NULL, &der, len);
	else if (strcmp(name, PEM_STRING_X509_TRUSTED) == 0)
		x = d2i_X509_AUX(NULL, &der, len);
	else if (is_parameters(name))
		return 0;	/* "openssl ecparam -genkey" writes these */
	else {
		*reason = xasprintf("unexpected PEM object \"%s\"", name);
		return -1;
	}
	if (x == NULL) {
		*reason = tls_openssl_reason("cannot decode the certificate");
		return -1;
	}
	if (ck->key == NULL) {
		X509_free(x);
		*reason = xstrdup("certificate without a private key before "
		    "it (each key must come first, then its chain)");
		return -1;
	}
	if (ck->cert == NULL) {
		ck->cert = x;
		if ((ck->chain = sk_X509_new_null()) == NULL)
			msg_fatal("out of memory (certificate chain)");
	} else
		chain_push(ck, x);
	return 0;
}

/* One <side>_tls_chain_files entry: key, its certificate, its chain, and
 * possibly more such sets. Returns 0, or -1 with *err set. */
static int
read_chain_file(struct tls_certkeys *keys, const struct conf *conf,
    int param_id, const char *file, char **err)
{
	struct certkey ck = { NULL, NULL, NULL, NULL };
	size_t before = keys->n;
	char *reason = NULL, *where;
	int status = 0;
	BIO *bio;

	if ((bio = tls_open_pem(file, &reason)) == NULL)
		return tls_file_error(err, conf, param_id, file, reason);
	where = file_where(conf, param_id, file);
	ERR_clear_error();
	for (;;) {
		char *name = NULL, *header = NULL;
		unsigned char *der = NULL;
		long len = 0;

		if (!PEM_read_bio(bio, &name, &header, &der, &len)) {
			if (!pem_at_end()) {
				reason = tls_openssl_reason("cannot read "
				    "PEM data");
				status = -1;
			}
			break;
		}
		status = chain_file_object(keys, &ck, where, name, header,
		    der, len, &reason);
		OPENSSL_free(name);
		OPENSSL_free(header);
		/* It may be a private key: leave no copy behind. */
		OPENSSL_clear_free(der, (size_t)len);
		if (status != 0)
			break;
	}
	BIO_free(bio);
	if (status == 0 && ck.key != NULL && ck.cert == NULL) {
		reason = xstrdup("private key not followed by its "
		    "certificate");
		status = -1;
	}
	if (status == 0 && ck.key != NULL)
		status = certkeys_add(keys, &ck, where, &reason);
	certkey_clear(&ck);
	if (status == 0 && keys->n == before) {
		reason = xstrdup("no private key and certificate found");
		status = -1;
	}
	if (status != 0)
		where_error(err, where, reason);
	free(where);
	return status;
}

static int
is_set(const char *value)
{
	return value != NULL && value[strspn(value, LIST_SEPARATORS)] != '\0';
}

struct tls_certkeys *
tls_certkeys_read(const struct conf *conf, const char *side, char **err)
{
	struct tls_certkeys *keys = xcalloc(1, sizeof(*keys));
	int server = strcmp(side, "smtpd") == 0;
	int chain_param = server ? P_smtpd_tls_chain_files :
	    P_smtp_tls_chain_files;
	int cert_param = server ? P_smtpd_tls_cert_file :
	    P_smtp_tls_cert_file;
	int key_param = server ? P_smtpd_tls_key_file : P_smtp_tls_key_file;
	int eccert_param = server ? P_smtpd_tls_eccert_file :
	    P_smtp_tls_eccert_file;
	int eckey_param = server ? P_smtpd_tls_eckey_file :
	    P_smtp_tls_eckey_file;
	const char *chain_files = conf_str(conf, chain_param);
	int status = 0;

	*err = NULL;
	/* As Postfix: the chain files replace the legacy parameters. */
	if (is_set(chain_files)) {
		char **files = strlist_split(chain_files, LIST_SEPARATORS,
		    NULL);

		for (size_t i = 0; status == 0 && files[i] != NULL; i++)
			status = read_chain_file(keys, conf, chain_param,
			    files[i], err);
		strlist_free(files);
	} else {
		if (is_set(conf_str(conf, cert_param)))
			status = read_pair(keys, conf, cert_param, key_param,
			    err);
		if (status == 0 && is_set(conf_str(conf, eccert_param)))
			status = read_pair(keys, conf, eccert_param,
			    eckey_param, err);
	}
	if (status != 0) {
		tls_certkeys_free(keys);
		return NULL;
	}
	return keys;
}

size_t
tls_certkeys_count(const struct tls_certkeys *keys)
{
	return keys ? keys->n : 0;
}

int
tls_certkeys_install(SSL_CTX *ctx, const struct tls_certkeys *keys,
    char **err)
{
	for (size_t i = 0; keys != NULL && i < keys->n; i++) {
		const struct certkey *ck = &keys->list[i];

		/* The context takes references of its own. */
		ERR_clear_error();
		if (SSL_CTX_use_cert_and_key(ctx, ck->cert, ck->key,
		    ck->chain, 0) != 1)
			return where_error(err, ck->where, install_reason());
	}
	return 0;
}

void
tls_certkeys_free(struct tls_certkeys *keys)
{
	if (keys == NULL)
		return;
	for (size_t i = 0; i < keys->n; i++)
		certkey_clear(&keys->list[i]);
	free(keys->list);
	free(keys);
}
