/* check_tls: the server TLS context from smtpd_tls_* parameters, proved
 * with real handshakes between two SSL objects over a BIO pair. Keys and
 * certificates are made with the openssl command in a temporary directory
 * at start-up. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/tls.h"
#include "tlsrelay/util.h"
#include "testutil.h"

static const char *tmpdir;

/* ---- fixtures ---------------------------------------------------------- */

/* Server keys: RSA and ECDSA, a second RSA key to mismatch; a CA, a
 * client and a server leaf it signed, a rogue client. */
static const struct tu_cert certs[] = {
	{ "rsa", "/CN=rsa.test", NULL, "rsa", NULL },
	{ "rsa2", "/CN=rsa2.test", NULL, "rsa", NULL },
	{ "ec", "/CN=ec.test", NULL, "ec", NULL },
	{ "ca", "/CN=Test CA", NULL, "ec", TU_EXT_CA },
	{ "client", "/CN=client.test", "ca", "ec", TU_EXT_CLIENT },
	{ "leaf", "/CN=leaf.test", "ca", "ec", TU_EXT_LEAF },
	{ "rogue", "/CN=rogue.test", NULL, "ec", NULL },
};

static void
make_certs(void)
{
	tmpdir = tu_tmpdir();
	tu_make_certs(tmpdir, certs, sizeof(certs) / sizeof(certs[0]));
	/* Chain files: key first, then its chain; a traditional-format RSA
	 * key ("RSA PRIVATE KEY"); a cert file holding its key after it. */
	tu_run(tmpdir, "openssl rsa -traditional -in rsa.key "
	    "-out rsa_trad.key");
	tu_run(tmpdir, "cat rsa_trad.key rsa.crt > rsa_chain.pem");
	tu_run(tmpdir, "cat ec.key ec.crt > ec_chain.pem");
	tu_run(tmpdir, "cat leaf.key leaf.crt ca.crt > leaf_chain.pem");
	tu_run(tmpdir, "cat rsa.key ec.key ec.crt > two_keys.pem");
	tu_run(tmpdir, "cat rsa.crt rsa.key > rsa_both.pem");
	tu_run(tmpdir, "openssl genpkey -genparam -algorithm DH "
	    "-pkeyopt group:ffdhe3072 -out dh3072.pem");
	tu_run(tmpdir, "echo 'not a PEM file' > garbage.pem");
	/* Keys nobody can use without a pass phrase. */
	tu_run(tmpdir, "openssl pkey -in rsa.key -aes128 -passout pass:x "
	    "-out rsa_pkcs8_enc.key");
	tu_run(tmpdir, "openssl rsa -traditional -in rsa.key -aes128 "
	    "-passout pass:x -out rsa_trad_enc.key");
	/* A hashed CA directory for smtpd_tls_CApath. */
	tu_run(tmpdir, "mkdir capath && cp ca.crt capath/ && "
	    "openssl rehash capath");
}

/* text with every "@D@" replaced by the temporary directory. */
static char *
subst(const char *text)
{
	struct strbuf sb;
	const char *p;

	strbuf_init(&sb);
	while ((p = strstr(text, "@D@")) != NULL) {
		strbuf_append(&sb, text, (size_t)(p - text));
		strbuf_puts(&sb, tmpdir);
		text = p + 3;
	}
	strbuf_puts(&sb, text);
	return strbuf_steal(&sb);
}

static struct conf *
load(const char *main_cf)
{
	char *text = subst(main_cf);
	struct conf *conf = tu_conf_load(text);

	free(text);
	return conf;
}

static SSL_CTX *
server_ctx(const char *main_cf)
{
	struct conf *conf = load(main_cf);
	char *err = NULL;
	SSL_CTX *ctx = tls_server_ctx_new(conf, &err);

	ck_assert_msg(ctx != NULL, "tls_server_ctx_new: %s",
	    err ? err : "NULL without error");
	ck_assert_ptr_null(err);
	conf_free(conf);
	return ctx;
}

/* The error of a configuration that must not give a context. */
static char *
server_ctx_error(const char *main_cf)
{
	struct conf *conf = load(main_cf);
	char *err = NULL;
	SSL_CTX *ctx = tls_server_ctx_new(conf, &err);

	ck_assert_msg(ctx == NULL, "context made for:\n%s", main_cf);
	ck_assert_msg(err != NULL, "no error for:\n%s", main_cf);
	conf_free(conf);
	return err;
}

#define ck_assert_contains(haystack, needle) \
	ck_assert_msg(strstr((haystack), (needle)) != NULL, \
	    "\"%s\" does not contain \"%s\"", (haystack), (needle))

static char *
expected_error(const char *fmt)
{
	return subst(fmt);
}

static void
assert_error(const char *main_cf, const char *expected)
{
	char *err = server_ctx_error(main_cf), *want = expected_error(expected);

	ck_assert_contains(err, want);
	free(want);
	free(err);
}

/* ---- handshakes -------------------------------------------------------- */

static int tickets_seen;

static int
count_ticket(SSL *ssl, SSL_SESSION *session)
{
	(void)ssl;
	(void)session;
	tickets_seen++;
	return 0;		/* not kept: OpenSSL frees it */
}

/* A client that trusts anything and records the tickets it gets. */
static SSL_CTX *
client_ctx(void)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	ck_assert_ptr_nonnull(ctx);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, count_ticket);
	return ctx;
}

static void
client_use_cert(SSL_CTX *ctx, const char *name)
{
	char *cert = xasprintf("%s/%s.crt", tmpdir, name);
	char *key = xasprintf("%s/%s.key", tmpdir, name);

	ck_assert_int_eq(SSL_CTX_use_certificate_file(ctx, cert,
	    SSL_FILETYPE_PEM), 1);
	ck_assert_int_eq(SSL_CTX_use_PrivateKey_file(ctx, key,
	    SSL_FILETYPE_PEM), 1);
	free(cert);
	free(key);
}

struct session {
	SSL *server;
	SSL *client;
	int ok;			/* both sides finished the handshake */
};

static void
handshake(SSL_CTX *server, SSL_CTX *client, struct session *s)
{
	s->server = SSL_new(server);
	s->client = SSL_new(client);
	ck_assert_ptr_nonnull(s->server);
	ck_assert_ptr_nonnull(s->client);
	s->ok = tu_tls_handshake(s->client, s->server);
	ERR_clear_error();
}

/* Lets the client read what the server sent after its handshake (TLS
 * 1.3 tickets); returns the number of tickets it got. */
static int
client_read_tickets(struct session *s)
{
	char byte;

	tickets_seen = 0;
	ck_assert_int_le(SSL_read(s->client, &byte, 1), 0);
	ck_assert_int_eq(SSL_get_error(s->client, -1), SSL_ERROR_WANT_READ);
	return tickets_seen;
}

static void
session_free(struct session *s)
{
	SSL_free(s->server);
	SSL_free(s->client);
	s->server = s->client = NULL;
}

/* The key type of the certificate the server presented. */
static int
server_cert_type(struct session *s)
{
	X509 *cert = SSL_get0_peer_certificate(s->client);

	ck_assert_ptr_nonnull(cert);
	return EVP_PKEY_get_base_id(X509_get0_pubkey(cert));
}

static void
server_cert_cn(struct session *s, char *buf, size_t len)
{
	X509 *cert = SSL_get0_peer_certificate(s->client);

	ck_assert_ptr_nonnull(cert);
	X509_NAME_get_text_by_NID(X509_get_subject_name(cert),
	    NID_commonName, buf, (int)len);
}

#define RSA_ONLY \
	"smtpd_tls_security_level = may\n" \
	"smtpd_tls_cert_file = @D@/rsa.crt\n" \
	"smtpd_tls_key_file = @D@/rsa.key\n"

#define RSA_AND_EC RSA_ONLY \
	"smtpd_tls_eccert_file = @D@/ec.crt\n" \
	"smtpd_tls_eckey_file = @D@/ec.key\n"

/* ---- protocols ---------------------------------------------------------- */

static void
assert_protocols(const char *spec, int min, int max, long ops)
{
	int min_version = -1, max_version = -1;
	long disable_ops = -1;
	char *err = NULL;

	ck_assert_msg(tls_parse_protocols(spec, &min_version, &max_version,
	    &disable_ops, &err) == 0, "%s: %s", spec, err);
	ck_assert_ptr_null(err);
	ck_assert_msg(min_version == min, "%s: min %#x, want %#x", spec,
	    (unsigned)min_version, (unsigned)min);
	ck_assert_msg(max_version == max, "%s: max %#x, want %#x", spec,
	    (unsigned)max_version, (unsigned)max);
	ck_assert_msg(disable_ops == ops, "%s: ops %#lx, want %#lx", spec,
	    disable_ops, ops);
}

static void
assert_protocols_error(const char *spec, const char *expected)
{
	int min_version, max_version;
	long disable_ops;
	char *err = NULL;

	ck_assert_msg(tls_parse_protocols(spec, &min_version, &max_version,
	    &disable_ops, &err) == -1, "%s: accepted", spec);
	ck_assert_ptr_nonnull(err);
	ck_assert_contains(err, expected);
	free(err);
}

START_TEST(test_protocols_exclusions)
{
	assert_protocols("", 0, 0, 0);
	assert_protocols("!SSLv2, !SSLv3, !TLSv1", TLS1_1_VERSION, 0, 0);
	assert_protocols("!SSLv2:!SSLv3", TLS1_VERSION, 0, 0);
	assert_protocols("!sslv2 !SSLV3\t!tlsv1 !TLSv1.1", TLS1_2_VERSION,
	    0, 0);
	assert_protocols("!TLSv1.3", 0, TLS1_2_VERSION, 0);
	/* SSLv2 is a valid name without any effect. */
	assert_protocols("!SSLv2", 0, 0, 0);
}
END_TEST

START_TEST(test_protocols_inclusions)
{
	assert_protocols("TLSv1.2, TLSv1.3", TLS1_2_VERSION, 0, 0);
	assert_protocols("TLSv1.2", TLS1_2_VERSION, TLS1_2_VERSION, 0);
	assert_protocols("tlsv1.3", TLS1_3_VERSION, 0, 0);
	assert_protocols("TLSv1 TLSv1.1 TLSv1.2 !TLSv1", TLS1_1_VERSION,
	    TLS1_2_VERSION, 0);
}
END_TEST

START_TEST(test_protocols_bounds)
{
	assert_protocols(">=TLSv1", TLS1_VERSION, 0, 0);
	assert_protocols(">=TLSv1.2", TLS1_2_VERSION, 0, 0);
	assert_protocols("<=TLSv1.2", 0, TLS1_2_VERSION, 0);
	assert_protocols(">=TLSv1 <=TLSv1.2", TLS1_VERSION, TLS1_2_VERSION,
	    0);
	assert_protocols(">=TLSv1.1, <=TLSv1.1", TLS1_1_VERSION,
	    TLS1_1_VERSION, 0);
	assert_protocols(">= TLSv1.2", TLS1_2_VERSION, 0, 0);
	assert_protocols(">=tlsv1.3", TLS1_3_VERSION, 0, 0);
}
END_TEST

START_TEST(test_protocols_holes)
{
	assert_protocols("!TLSv1.1", 0, 0, SSL_OP_NO_TLSv1_1);
	assert_protocols("TLSv1, TLSv1.2", TLS1_VERSION, TLS1_2_VERSION,
	    SSL_OP_NO_TLSv1_1);
	assert_protocols(">=TLSv1 !TLSv1.2", TLS1_VERSION, 0,
	    SSL_OP_NO_TLSv1_2);
	assert_protocols("TLSv1 TLSv1.3", TLS1_VERSION, 0,
	    SSL_OP_NO_TLSv1_1 | SSL_OP_NO_TLSv1_2);
	/* A protocol cut off by a bound is not a hole. */
	assert_protocols(">=TLSv1.2 !TLSv1.1", TLS1_2_VERSION, 0, 0);
}
END_TEST

START_TEST(test_protocols_errors)
{
	assert_protocols_error("TLSv1.4", "unknown TLS protocol \"TLSv1.4\"");
	assert_protocols_error("!SSLv2, !SSLv4", "\"SSLv4\"");
	assert_protocols_error(">=TLSv9", "\"TLSv9\"");
	assert_protocols_error(">=", "missing TLS protocol name");
	assert_protocols_error("!", "missing TLS protocol name");
	assert_protocols_error(">=TLSv1.3 <=TLSv1.2", "no TLS protocol");
	assert_protocols_error("SSLv2", "no TLS protocol");
	assert_protocols_error("!SSLv3 !TLSv1 !TLSv1.1 !TLSv1.2 !TLSv1.3",
	    "no TLS protocol");
}
END_TEST

/* ---- ciphers ---------------------------------------------------------- */

static void
assert_cipher_string(const struct conf *conf, const char *grade,
    const char *exclusions, const char *expected)
{
	char *err = NULL, *ciphers = tls_cipher_string(conf, grade,
	    exclusions, &err);

	ck_assert_msg(ciphers != NULL, "%s/%s: %s", grade, exclusions, err);
	ck_assert_ptr_null(err);
	ck_assert_str_eq(ciphers, expected);
	free(ciphers);
}

static void
assert_cipher_error(const struct conf *conf, const char *grade,
    const char *exclusions, const char *expected)
{
	char *err = NULL, *ciphers = tls_cipher_string(conf, grade,
	    exclusions, &err);

	ck_assert_msg(ciphers == NULL, "%s/%s: accepted: %s", grade,
	    exclusions, ciphers);
	ck_assert_ptr_nonnull(err);
	ck_assert_contains(err, expected);
	free(err);
}

START_TEST(test_cipher_grades)
{
	struct conf *conf = load("");

	assert_cipher_string(conf, "high", "",
	    "aNULL:-aNULL:HIGH:@STRENGTH");
	assert_cipher_string(conf, "medium", NULL,
	    "aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH");
	/* Postfix 3.6+: low and export are medium. */
	assert_cipher_string(conf, "low", "",
	    "aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH");
	assert_cipher_string(conf, "EXPORT", "",
	    "aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH");
	assert_cipher_string(conf, "null", "", "eNULL:!aNULL");
	conf_free(conf);

	/* The lists come from the configuration. */
	conf = load("tls_high_cipherlist = ECDHE+AESGCM\n");
	assert_cipher_string(conf, "High", "", "ECDHE+AESGCM");
	conf_free(conf);
}
END_TEST

START_TEST(test_cipher_exclusions)
{
	struct conf *conf = load("");

	assert_cipher_string(conf, "high", "aNULL, RC4",
	    "aNULL:-aNULL:HIGH:@STRENGTH:!aNULL:!RC4");
	assert_cipher_string(conf, "medium", " 3DES:SEED  CAMELLIA ",
	    "aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH:!3DES:!SEED:!CAMELLIA");
	conf_free(conf);
}
END_TEST

START_TEST(test_cipher_errors)
{
	struct conf *conf = load("tls_medium_cipherlist = NOSUCHCIPHER\n");

	assert_cipher_error(conf, "strong", "", "invalid cipher grade "
	    "\"strong\"");
	assert_cipher_error(conf, "high", "!RC4", "invalid unary");
	assert_cipher_error(conf, "high", "+RC4", "invalid unary");
	/* Everything excluded, or a list that names nothing: only a
	 * context finds that out (test_ctx_bad_values), no scratch one. */
	assert_cipher_string(conf, "high", "ALL",
	    "aNULL:-aNULL:HIGH:@STRENGTH:!ALL");
	assert_cipher_string(conf, "medium", "", "NOSUCHCIPHER");
	conf_free(conf);
}
END_TEST

/* ---- levels -------------------------------------------------------- */

static int
level_of(const char *main_cf)
{
	struct conf *conf = load(main_cf);
	int level = tls_smtpd_level(conf);

	conf_free(conf);
	return level;
}

START_TEST(test_levels)
{
	ck_assert_int_eq(tls_level_parse("none"), TLS_LEV_NONE);
	ck_assert_int_eq(tls_level_parse("MAY"), TLS_LEV_MAY);
	ck_assert_int_eq(tls_level_parse(" encrypt "), TLS_LEV_ENCRYPT);
	ck_assert_int_eq(tls_level_parse("dane"), TLS_LEV_DANE);
	ck_assert_int_eq(tls_level_parse("bogus"), -1);
	ck_assert_int_eq(tls_level_parse(""), -1);
	ck_assert_str_eq(tls_level_name(TLS_LEV_MAY), "may");
	ck_assert_str_eq(tls_level_name(TLS_LEV_ENCRYPT), "encrypt");

	ck_assert_int_eq(level_of(""), TLS_LEV_NONE);
	ck_assert_int_eq(level_of("smtpd_use_tls = yes\n"), TLS_LEV_MAY);
	ck_assert_int_eq(level_of("smtpd_enforce_tls = yes\n"),
	    TLS_LEV_ENCRYPT);
	ck_assert_int_eq(level_of("smtpd_use_tls = yes\n"
	    "smtpd_enforce_tls = yes\n"), TLS_LEV_ENCRYPT);
	/* The server takes none, may and encrypt; verification levels
	 * mean encrypt (with a warning); DANE is a client level only. */
	ck_assert_int_eq(level_of("smtpd_tls_security_level = verify\n"),
	    TLS_LEV_ENCRYPT);
	ck_assert_int_eq(level_of("smtpd_tls_security_level = dane\n"), -1);
	/* The level, when set, wins over the obsolete parameters. */
	ck_assert_int_eq(level_of("smtpd_enforce_tls = yes\n"
	    "smtpd_tls_security_level = none\n"), TLS_LEV_NONE);
	ck_assert_int_eq(level_of("smtpd_tls_security_level = may\n"),
	    TLS_LEV_MAY);
	ck_assert_int_eq(level_of("lev = encrypt\n"
	    "smtpd_tls_security_level = $lev\n"), TLS_LEV_ENCRYPT);
	/* As Postfix: client-only verification levels mean encrypt. */
	ck_assert_int_eq(level_of("smtpd_tls_security_level = verify\n"),
	    TLS_LEV_ENCRYPT);
	ck_assert_int_eq(level_of("smtpd_tls_security_level = bogus\n"), -1);
}
END_TEST

/* ---- contexts -------------------------------------------------------- */

START_TEST(test_ctx_level_none)
{
	struct conf *conf = load("smtpd_tls_cert_file = @D@/rsa.crt\n"
	    "smtpd_tls_key_file = @D@/rsa.key\n");
	char *err = (char *)"untouched";

	ck_assert_ptr_null(tls_server_ctx_new(conf, &err));
	ck_assert_ptr_null(err);
	conf_free(conf);

	/* Not even a broken certificate matters without TLS. */
	conf = load("smtpd_tls_security_level = none\n"
	    "smtpd_tls_cert_file = /nonexistent\n");
	err = (char *)"untouched";
	ck_assert_ptr_null(tls_server_ctx_new(conf, &err));
	ck_assert_ptr_null(err);
	conf_free(conf);
}
END_TEST

START_TEST(test_ctx_wrappermode)
{
	/* As Postfix: TLS is mandatory on a wrapper-mode port and the level
	 * is ignored, so the mandatory protocols apply even at none. */
	SSL_CTX *ctx = server_ctx("smtpd_tls_wrappermode = yes\n"
	    "smtpd_tls_security_level = none\n"
	    "smtpd_tls_cert_file = @D@/rsa.crt\n"
	    "smtpd_tls_key_file = @D@/rsa.key\n"
	    "smtpd_tls_protocols = <=TLSv1.2\n"
	    "smtpd_tls_mandatory_protocols = >=TLSv1.3\n");

	ck_assert_int_eq(SSL_CTX_get_min_proto_version(ctx), TLS1_3_VERSION);
	SSL_CTX_free(ctx);
	ctx = server_ctx("smtpd_tls_wrappermode = yes\n"
	    "smtpd_tls_cert_file = @D@/rsa_both.pem\n");
	SSL_CTX_free(ctx);
	assert_error("smtpd_tls_security_level = may\n"
	    "smtpd_tls_wrappermode = yes\n",
	    "main.cf:2: no server certificate: set smtpd_tls_cert_file or "
	    "smtpd_tls_chain_files");
}
END_TEST

START_TEST(test_ctx_no_certificate)
{
	assert_error("smtpd_tls_security_level = may\n",
	    "main.cf:1: no server certificate: set smtpd_tls_cert_file or "
	    "smtpd_tls_chain_files");
	assert_error("\nsmtpd_use_tls = yes\n",
	    "main.cf:2: no server certificate");
	assert_error("smtpd_tls_security_level = encrypt\n",
	    "no server certificate");
}
END_TEST

static void
assert_loads(const char *main_cf, int rsa, int ec)
{
	SSL_CTX *ctx = server_ctx(main_cf);
	int have_rsa = 0, have_ec = 0;

	/* Walk every certificate slot the context holds. */
	for (int r = SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_FIRST);
	    r == 1; r = SSL_CTX_set_current_cert(ctx, SSL_CERT_SET_NEXT)) {
		X509 *cert = SSL_CTX_get0_certificate(ctx);

		if (cert == NULL)
			continue;
		switch (EVP_PKEY_get_base_id(X509_get0_pubkey(cert))) {
		case EVP_PKEY_RSA:
			have_rsa++;
			break;
		case EVP_PKEY_EC:
			have_ec++;
			break;
		}
	}
	ck_assert_int_eq(have_rsa, rsa);
	ck_assert_int_eq(have_ec, ec);
	SSL_CTX_free(ctx);
}

START_TEST(test_ctx_certificates)
{
	assert_loads(RSA_ONLY, 1, 0);
	assert_loads("smtpd_tls_security_level = may\n"
	    "smtpd_tls_eccert_file = @D@/ec.crt\n"
	    "smtpd_tls_eckey_file = @D@/ec.key\n", 0, 1);
	assert_loads(RSA_AND_EC, 1, 1);
	/* key_file defaults to cert_file; the key may follow the cert. */
	assert_loads("smtpd_tls_security_level = may\n"
	    "smtpd_tls_cert_file = @D@/rsa_both.pem\n", 1, 0);
	assert_loads("smtpd_tls_security_level = may\n"
	    "smtpd_tls_chain_files = @D@/rsa_chain.pem, @D@/ec_chain.pem\n",
	    1, 1);
	assert_loads("smtpd_tls_security_level = may\n"
	    "smtpd_tls_chain_files = @D@/leaf_chain.pem\n", 0, 1);
	/* The chain files replace the legacy parameters. */
	assert_loads("smtpd_tls_security_level = may\n"
	    "smtpd_tls_cert_file = @D@/rsa.crt\n"
	    "smtpd_tls_key_file = @D@/rsa.key\n"
	    "smtpd_tls_chain_files = @D@/ec_chain.pem\n", 0, 1);
}
END_TEST

START_TEST(test_ctx_mismatch)
{
	/* Same key type, another key. */
	assert_error("smtpd_tls_security_level = may\n"
	    "smtpd_tls_cert_file = @D@/rsa.crt\n"
	    "smtpd_tls_key_file = @D@/rsa2.key\n",
	    "main.cf:3: smtpd_tls_key_file @D@/rsa2.key: private key does "
	    "not match the certificate");
	/* Another key type. */
	assert_error("smtpd_tls_security_level = may\n"
	    "\n"
	    "smtpd_tls_eccert_file = @D@/ec.crt\n"
	    "smtpd_tls_eckey_file = @D@/rsa.key\n",
	    "main.cf:4: smtpd_tls_eckey_file @D@/rsa.key: private key does "
	    "not match the certificate");
	/* Two RSA certificates cannot both be served. */
	assert_error(RSA_ONLY "smtpd_tls_eccert_file = @D@/rsa2.crt\n"
	    "smtpd_tls_eckey_file = @D@/rsa2.key\n",
	    "main.cf:5: smtpd_tls_eckey_file @D@/rsa2.key: a certificate "
	    "with the same key type is already loaded");
	/* A chain file whose key does not belong to the next cert. */
	assert_error("smtpd_tls_security_level = may\n"
	    "smtpd_tls_chain_files = @D@/rsa_chain.pem @D@/two_keys.pem\n",
	    "main.cf:2: smtpd_tls_chain_files @D@/two_keys.pem: private key "
	    "not followed by its certificate");
}
END_TEST

START_TEST(test_ctx_unreadable)
{
	assert_error("smtpd_tls_security_level = may\n"
	    "smtpd_tls_cert_file = @D@/missing.crt\n"
	    "smtpd_tls_key_file = @D@/rsa.key\n",
	    "main.cf:2: smtpd_tls_cert_file @D@/missing.crt: cannot open: "
	    "No such file or directory");
	assert_error("smtpd_tls_security_level = may\n"
	    "smtpd_tls_cert_file = @D@/rsa.crt\n"
	    "smtpd_tls_key_file = @D@/missing.key\n",
	    "main.cf:3: smtpd_tls_key_file @D@/missing.key: cannot open: "
	    "No such file or directory");
	assert_error("smtpd_tls_security_level = may\n"
	    "smtpd_tls_cert_file = @D@/garbage.pem\n",
	    "main.cf:2: smtpd_tls_cert_file @D@/garbage.pem: no certificate "
	    "found");
	/* key_file left at its default ($smtpd_tls_cert_file). */
	assert_error("smtpd_tls_security_level = may\n"
	    "smtpd_tls_cert_file = @D@/rsa.crt\n",
	    "default: smtpd_tls_key_file @D@/rsa.crt: no private key found");
	assert_error("smtpd_tls_security_level = may\n"
	    "smtpd_tls_cert_file = @D@/rsa.crt\n"
	    "smtpd_tls_key_file = @D@/rsa_pkcs8_enc.key\n",
	    "main.cf:3: smtpd_tls_key_file @D@/rsa_pkcs8_enc.key: encrypted "
	    "private keys are not supported");
	assert_error("smtpd_tls_security_level = may\n"
	    "smtpd_tls_cert_file = @D@/rsa.crt\n"
	    "smtpd_tls_key_file = @D@/rsa_trad_enc.key\n",
	    "main.cf:3: smtpd_tls_key_file @D@/rsa_trad_enc.key: encrypted "
	    "private keys are not supported");
	assert_error("smtpd_tls_security_level = may\n"
	    "smtpd_tls_chain_files = @D@/rsa_chain.pem @D@/missing.pem\n",
	    "main.cf:2: smtpd_tls_chain_files @D@/missing.pem: cannot open");
	assert_error("smtpd_tls_security_level = may\n"
	    "smtpd_tls_chain_files = @D@/rsa.crt\n",
	    "main.cf:2: smtpd_tls_chain_files @D@/rsa.crt: certificate "
	    "without a private key");
	assert_error("smtpd_tls_security_level = may\n"
	    "smtpd_tls_chain_files = @D@/garbage.pem\n",
	    "smtpd_tls_chain_files @D@/garbage.pem: no private key and "
	    "certificate found");
	assert_error(RSA_ONLY "smtpd_tls_CAfile = @D@/missing-ca.pem\n",
	    "main.cf:4: smtpd_tls_CAfile @D@/missing-ca.pem: cannot open");
	assert_error(RSA_ONLY "smtpd_tls_CAfile = @D@/garbage.pem\n",
	    "main.cf:4: smtpd_tls_CAfile @D@/garbage.pem:");
	assert_error(RSA_ONLY "smtpd_tls_CApath = @D@/rsa.crt\n",
	    "main.cf:4: smtpd_tls_CApath @D@/rsa.crt: not a directory");
	assert_error(RSA_ONLY "smtpd_tls_dh1024_param_file = @D@/rsa.crt\n",
	    "main.cf:4: smtpd_tls_dh1024_param_file @D@/rsa.crt:");
	assert_error(RSA_ONLY "smtpd_tls_dh1024_param_file = @D@/none.pem\n",
	    "main.cf:4: smtpd_tls_dh1024_param_file @D@/none.pem: cannot "
	    "open");
}
END_TEST

START_TEST(test_ctx_bad_values)
{
	assert_error("smtpd_tls_security_level = sometimes\n",
	    "main.cf:1: smtpd_tls_security_level: unknown level "
	    "\"sometimes\"");
	assert_error(RSA_ONLY "smtpd_tls_protocols = >=TLSv1.4\n",
	    "main.cf:4: smtpd_tls_protocols: unknown TLS protocol "
	    "\"TLSv1.4\"");
	/* At level may the mandatory settings are not even read... */
	{
		SSL_CTX *ctx = server_ctx(RSA_ONLY
		    "smtpd_tls_mandatory_protocols = bogus\n"
		    "smtpd_tls_mandatory_ciphers = bogus\n");

		SSL_CTX_free(ctx);
	}
	/* ...and at encrypt they are the ones used. */
	assert_error("smtpd_tls_security_level = encrypt\n"
	    "smtpd_tls_cert_file = @D@/rsa_both.pem\n"
	    "smtpd_tls_mandatory_protocols = TLSv2\n",
	    "main.cf:3: smtpd_tls_mandatory_protocols: unknown TLS protocol "
	    "\"TLSv2\"");
	assert_error(RSA_ONLY "smtpd_tls_ciphers = strong\n",
	    "main.cf:4: smtpd_tls_ciphers: invalid cipher grade \"strong\"");
	assert_error(RSA_ONLY "smtpd_tls_exclude_ciphers = ALL\n",
	    "main.cf:4: smtpd_tls_exclude_ciphers: no cipher matches");
	assert_error(RSA_ONLY "tls_medium_cipherlist = NOSUCHCIPHER\n",
	    "default: smtpd_tls_ciphers: no cipher matches "
	    "\"NOSUCHCIPHER\"");
	assert_error("smtpd_tls_security_level = encrypt\n"
	    "smtpd_tls_cert_file = @D@/rsa_both.pem\n"
	    "smtpd_tls_mandatory_exclude_ciphers = ALL\n",
	    "main.cf:3: smtpd_tls_mandatory_exclude_ciphers: no cipher "
	    "matches");
	assert_error("smtpd_tls_security_level = encrypt\n"
	    "smtpd_tls_cert_file = @D@/rsa_both.pem\n"
	    "smtpd_tls_mandatory_exclude_ciphers = !RC4\n",
	    "main.cf:3: smtpd_tls_mandatory_exclude_ciphers: invalid unary");
	assert_error(RSA_ONLY "smtpd_tls_eecdh_grade = extreme\n",
	    "main.cf:4: smtpd_tls_eecdh_grade: invalid value \"extreme\"");
	assert_error(RSA_ONLY "tls_eecdh_auto_curves = nosuch1 nosuch2\n",
	    "main.cf:4: tls_eecdh_auto_curves: no curve known");
	assert_error(RSA_ONLY "tls_session_ticket_cipher = rot13\n",
	    "main.cf:4: tls_session_ticket_cipher: unknown cipher "
	    "\"rot13\"");
}
END_TEST

START_TEST(test_ctx_options)
{
	SSL_CTX *ctx = server_ctx(RSA_ONLY);
	uint64_t options = SSL_CTX_get_options(ctx);

	ck_assert(options & SSL_OP_NO_COMPRESSION);
	ck_assert(options & SSL_OP_NO_RENEGOTIATION);
	ck_assert(!(options & SSL_OP_CIPHER_SERVER_PREFERENCE));
	ck_assert(!(options & SSL_OP_NO_TICKET));
	ck_assert_uint_eq(SSL_CTX_get_num_tickets(ctx), 1);
	ck_assert_int_eq(SSL_CTX_get_min_proto_version(ctx), TLS1_VERSION);
	ck_assert_int_eq(SSL_CTX_get_verify_mode(ctx), SSL_VERIFY_NONE);
	SSL_CTX_free(ctx);

	ctx = server_ctx(RSA_ONLY "tls_preempt_cipherlist = yes\n"
	    "tls_session_ticket_cipher =\n"
	    "smtpd_tls_protocols = !SSLv2 !SSLv3 !TLSv1 !TLSv1.2\n");
	options = SSL_CTX_get_options(ctx);
	ck_assert(options & SSL_OP_CIPHER_SERVER_PREFERENCE);
	ck_assert(options & SSL_OP_NO_TICKET);
	ck_assert(options & SSL_OP_NO_TLSv1_2);
	ck_assert(!(options & SSL_OP_NO_TLSv1_1));
	ck_assert_uint_eq(SSL_CTX_get_num_tickets(ctx), 0);
	ck_assert_int_eq(SSL_CTX_get_min_proto_version(ctx), TLS1_1_VERSION);
	SSL_CTX_free(ctx);
}
END_TEST

/* ---- handshakes ------------------------------------------------------- */

START_TEST(test_hs_protocols)
{
	SSL_CTX *server = server_ctx(RSA_ONLY
	    "smtpd_tls_protocols = >=TLSv1.3\n");
	SSL_CTX *client = client_ctx();
	struct session s;

	/* A TLS 1.2 client cannot meet a server that wants 1.3. */
	SSL_CTX_set_max_proto_version(client, TLS1_2_VERSION);
	handshake(server, client, &s);
	ck_assert_int_eq(s.ok, 0);
	session_free(&s);
	SSL_CTX_set_max_proto_version(client, 0);
	handshake(server, client, &s);
	ck_assert_int_eq(s.ok, 1);
	ck_assert_str_eq(SSL_get_version(s.server), "TLSv1.3");
	session_free(&s);
	SSL_CTX_free(server);

	/* A ceiling holds a modern client down. */
	server = server_ctx(RSA_ONLY "smtpd_tls_protocols = <=TLSv1.2\n");
	handshake(server, client, &s);
	ck_assert_int_eq(s.ok, 1);
	ck_assert_str_eq(SSL_get_version(s.server), "TLSv1.2");
	session_free(&s);
	SSL_CTX_free(server);

	/* A hole: the only protocol the client has is excluded. */
	server = server_ctx(RSA_ONLY "smtpd_tls_protocols = !TLSv1.2\n");
	SSL_CTX_set_min_proto_version(client, TLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(client, TLS1_2_VERSION);
	handshake(server, client, &s);
	ck_assert_int_eq(s.ok, 0);
	session_free(&s);
	SSL_CTX_free(server);
	SSL_CTX_free(client);
}
END_TEST

START_TEST(test_hs_mandatory)
{
	const char *base = "smtpd_tls_cert_file = @D@/rsa.crt\n"
	    "smtpd_tls_key_file = @D@/rsa.key\n"
	    "smtpd_tls_protocols = >=TLSv1.3\n"
	    "smtpd_tls_mandatory_protocols = <=TLSv1.2\n";
	char *text = xasprintf("%ssmtpd_tls_security_level = encrypt\n", base);
	SSL_CTX *server = server_ctx(text);
	SSL_CTX *client = client_ctx();
	struct session s;

	/* encrypt: the mandatory protocols apply. */
	handshake(server, client, &s);
	ck_assert_int_eq(s.ok, 1);
	ck_assert_str_eq(SSL_get_version(s.server), "TLSv1.2");
	session_free(&s);
	SSL_CTX_free(server);
	free(text);

	/* may: the plain ones. */
	text = xasprintf("%ssmtpd_tls_security_level = may\n", base);
	server = server_ctx(text);
	handshake(server, client, &s);
	ck_assert_int_eq(s.ok, 1);
	ck_assert_str_eq(SSL_get_version(s.server), "TLSv1.3");
	session_free(&s);
	SSL_CTX_free(server);
	SSL_CTX_free(client);
	free(text);
}
END_TEST

static void
assert_cert_for_sigalgs(SSL_CTX *server, const char *sigalgs, int type,
    const char *cn)
{
	SSL_CTX *client = client_ctx();
	struct session s;
	char name[64] = "";

	ck_assert_int_eq(SSL_CTX_set1_sigalgs_list(client, sigalgs), 1);
	handshake(server, client, &s);
	ck_assert_msg(s.ok, "handshake with sigalgs %s failed", sigalgs);
	ck_assert_int_eq(server_cert_type(&s), type);
	server_cert_cn(&s, name, sizeof(name));
	ck_assert_str_eq(name, cn);
	session_free(&s);
	SSL_CTX_free(client);
}

START_TEST(test_hs_sigalgs)
{
	SSL_CTX *server = server_ctx(RSA_AND_EC);

	assert_cert_for_sigalgs(server, "ECDSA+SHA256", EVP_PKEY_EC,
	    "ec.test");
	assert_cert_for_sigalgs(server, "rsa_pss_rsae_sha256:RSA+SHA256",
	    EVP_PKEY_RSA, "rsa.test");
	SSL_CTX_free(server);

	server = server_ctx("smtpd_tls_security_level = may\n"
	    "smtpd_tls_chain_files = @D@/rsa_chain.pem @D@/ec_chain.pem\n");
	assert_cert_for_sigalgs(server, "ECDSA+SHA256", EVP_PKEY_EC,
	    "ec.test");
	assert_cert_for_sigalgs(server, "rsa_pss_rsae_sha256", EVP_PKEY_RSA,
	    "rsa.test");
	SSL_CTX_free(server);

	/* ECDSA only: a client that only takes RSA gets nothing. */
	server = server_ctx("smtpd_tls_security_level = may\n"
	    "smtpd_tls_eccert_file = @D@/ec.crt\n"
	    "smtpd_tls_eckey_file = @D@/ec.key\n");
	assert_cert_for_sigalgs(server, "ECDSA+SHA256", EVP_PKEY_EC,
	    "ec.test");
	{
		SSL_CTX *client = client_ctx();
		struct session s;

		SSL_CTX_set1_sigalgs_list(client, "rsa_pss_rsae_sha256");
		handshake(server, client, &s);
		ck_assert_int_eq(s.ok, 0);
		session_free(&s);
		SSL_CTX_free(client);
	}
	SSL_CTX_free(server);
}
END_TEST

START_TEST(test_hs_chain)
{
	SSL_CTX *server = server_ctx("smtpd_tls_security_level = may\n"
	    "smtpd_tls_chain_files = @D@/leaf_chain.pem\n");
	SSL_CTX *client = client_ctx();
	char *ca = xasprintf("%s/ca.crt", tmpdir);
	STACK_OF(X509) *chain;
	struct session s;

	/* The client verifies the leaf against the CA: the chain is sent. */
	SSL_CTX_set_verify(client, SSL_VERIFY_PEER, NULL);
	ck_assert_int_eq(SSL_CTX_load_verify_file(client, ca), 1);
	handshake(server, client, &s);
	ck_assert_int_eq(s.ok, 1);
	ck_assert_int_eq(SSL_get_verify_result(s.client), X509_V_OK);
	chain = SSL_get_peer_cert_chain(s.client);
	ck_assert_ptr_nonnull(chain);
	ck_assert_int_eq(sk_X509_num(chain), 2);
	session_free(&s);
	SSL_CTX_free(client);
	SSL_CTX_free(server);
	free(ca);
}
END_TEST

START_TEST(test_hs_info)
{
	SSL_CTX *server = server_ctx(RSA_ONLY);
	SSL_CTX *client = client_ctx();
	struct tls_info info, made = {
		.protocol = "TLSv1.2",
		.cipher = "ECDHE-RSA-AES128-GCM-SHA256",
		.cipher_bits = 128,
		.algorithm_bits = 128,
	};
	struct session s;
	char line[160];

	tls_info_format(&made, line, sizeof(line));
	ck_assert_str_eq(line, "TLSv1.2 with cipher "
	    "ECDHE-RSA-AES128-GCM-SHA256 (128/128 bits)");

	ck_assert_int_eq(SSL_CTX_set_ciphersuites(client,
	    "TLS_AES_256_GCM_SHA384"), 1);
	handshake(server, client, &s);
	ck_assert_int_eq(s.ok, 1);
	tls_info_get(s.server, &info);
	tls_info_format(&info, line, sizeof(line));
	ck_assert_str_eq(line, "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 "
	    "(256/256 bits)");
	ck_assert_int_eq(info.peer_cert, 0);
	ck_assert_int_eq(info.peer_trusted, 0);
	session_free(&s);

	/* TLS 1.2 with a cipher the server's exclusions leave alone. */
	SSL_CTX_set_max_proto_version(client, TLS1_2_VERSION);
	ck_assert_int_eq(SSL_CTX_set_cipher_list(client,
	    "ECDHE-RSA-CHACHA20-POLY1305"), 1);
	handshake(server, client, &s);
	ck_assert_int_eq(s.ok, 1);
	tls_info_get(s.server, &info);
	tls_info_format(&info, line, sizeof(line));
	ck_assert_str_eq(line, "TLSv1.2 with cipher "
	    "ECDHE-RSA-CHACHA20-POLY1305 (256/256 bits)");
	session_free(&s);
	SSL_CTX_free(server);

	/* smtpd_tls_exclude_ciphers takes the cipher away. */
	server = server_ctx(RSA_ONLY
	    "smtpd_tls_exclude_ciphers = CHACHA20, aNULL\n");
	handshake(server, client, &s);
	ck_assert_int_eq(s.ok, 0);
	session_free(&s);
	SSL_CTX_free(server);
	SSL_CTX_free(client);
}
END_TEST

/* Sends the log to a fresh file of its own. */
static char *
log_to_file(const char *name)
{
	char *path = xasprintf("%s/%s.log", tmpdir, name), *err = NULL;

	unlink(path);
	ck_assert_msg(log_open(path, 0, "mail", &err) == 0, "%s", err);
	return path;
}

/* Handshake with a client presenting cert (NULL: none); returns the log
 * lines tls_log_server_established writes at loglevel 1. */
static char *
client_cert_session(SSL_CTX *server, const char *cert, struct tls_info *info)
{
	SSL_CTX *client = client_ctx();
	char *path = log_to_file(cert ? cert : "anonymous"), *text;
	struct session s;

	if (cert != NULL)
		client_use_cert(client, cert);
	ck_assert_int_eq(SSL_CTX_set_ciphersuites(client,
	    "TLS_AES_256_GCM_SHA384"), 1);
	handshake(server, client, &s);
	ck_assert_msg(s.ok, "handshake with client cert %s failed",
	    cert ? cert : "(none)");
	tls_info_get(s.server, info);
	tls_log_server_established(info, "client.example", "127.0.0.1", 1);
	log_close();
	text = tu_read_file(path, NULL);
	session_free(&s);
	SSL_CTX_free(client);
	free(path);
	return text;
}

START_TEST(test_hs_ask_ccert)
{
	SSL_CTX *server = server_ctx(RSA_ONLY "smtpd_tls_ask_ccert = yes\n"
	    "smtpd_tls_CAfile = @D@/ca.crt\n");
	struct tls_info info;
	char *log;

	ck_assert_int_eq(SSL_CTX_get_verify_mode(server), SSL_VERIFY_PEER);
	ck_assert_int_eq(sk_X509_NAME_num(SSL_CTX_get_client_CA_list(server)),
	    1);

	log = client_cert_session(server, "client", &info);
	ck_assert_int_eq(info.peer_cert, 1);
	ck_assert_int_eq(info.peer_trusted, 1);
	ck_assert_str_eq(info.peer_subject_cn, "client.test");
	ck_assert_str_eq(info.peer_issuer_cn, "Test CA");
	ck_assert_contains(log, "client.example[127.0.0.1]: Trusted: "
	    "subject_CN=client.test, issuer=Test CA\n");
	ck_assert_contains(log, ": Trusted TLS connection established from "
	    "client.example[127.0.0.1]: TLSv1.3 with cipher "
	    "TLS_AES_256_GCM_SHA384 (256/256 bits)\n");
	ck_assert(strstr(log, "Trusted: subject") <
	    strstr(log, "Trusted TLS connection"));
	free(log);

	/* A certificate the CA did not sign: noted, not refused. */
	log = client_cert_session(server, "rogue", &info);
	ck_assert_int_eq(info.peer_cert, 1);
	ck_assert_int_eq(info.peer_trusted, 0);
	ck_assert_str_eq(info.peer_subject_cn, "rogue.test");
	ck_assert_contains(log, "client.example[127.0.0.1]: Untrusted: "
	    "subject_CN=rogue.test, issuer=rogue.test\n");
	ck_assert_contains(log, ": Untrusted TLS connection established "
	    "from client.example[127.0.0.1]: TLSv1.3 with cipher ");
	free(log);

	/* The CA found through a hashed directory instead of a file. */
	SSL_CTX_free(server);
	server = server_ctx(RSA_ONLY "smtpd_tls_ask_ccert = yes\n"
	    "smtpd_tls_CApath = @D@/capath\n");
	log = client_cert_session(server, "client", &info);
	ck_assert_int_eq(info.peer_trusted, 1);
	free(log);

	/* No certificate at all. */
	log = client_cert_session(server, NULL, &info);
	ck_assert_int_eq(info.peer_cert, 0);
	ck_assert_contains(log, ": Anonymous TLS connection established "
	    "from client.example[127.0.0.1]: TLSv1.3 with cipher "
	    "TLS_AES_256_GCM_SHA384 (256/256 bits)\n");
	ck_assert(strstr(log, "subject_CN") == NULL);
	free(log);
	SSL_CTX_free(server);
}
END_TEST

START_TEST(test_hs_loglevel)
{
	SSL_CTX *server = server_ctx(RSA_ONLY "smtpd_tls_ask_ccert = yes\n"
	    "smtpd_tls_CAfile = @D@/ca.crt\n");
	SSL_CTX *client = client_ctx();
	char *path = log_to_file("loglevel0"), *log;
	struct tls_info info;
	struct session s;

	client_use_cert(client, "client");
	handshake(server, client, &s);
	ck_assert_int_eq(s.ok, 1);
	tls_info_get(s.server, &info);
	tls_log_server_established(&info, "mx.example", "192.0.2.1", 0);
	log_close();
	log = tu_read_file(path, NULL);
	ck_assert_contains(log, "Trusted TLS connection established from "
	    "mx.example[192.0.2.1]: TLSv1.3 with cipher ");
	ck_assert(strstr(log, "subject_CN") == NULL);
	free(log);
	free(path);
	session_free(&s);
	SSL_CTX_free(client);
	SSL_CTX_free(server);
}
END_TEST

static int
req_ccert_handshake(SSL_CTX *server, const char *cert, int max_version)
{
	SSL_CTX *client = client_ctx();
	struct session s;
	int ok;

	if (cert != NULL)
		client_use_cert(client, cert);
	SSL_CTX_set_max_proto_version(client, max_version);
	handshake(server, client, &s);
	ok = s.ok;
	if (ok && cert != NULL) {
		struct tls_info info;

		tls_info_get(s.server, &info);
		ck_assert_int_eq(info.peer_trusted, 1);
	}
	session_free(&s);
	SSL_CTX_free(client);
	return ok;
}

START_TEST(test_hs_req_ccert)
{
	SSL_CTX *server = server_ctx("smtpd_tls_security_level = encrypt\n"
	    "smtpd_tls_cert_file = @D@/rsa.crt\n"
	    "smtpd_tls_key_file = @D@/rsa.key\n"
	    "smtpd_tls_req_ccert = yes\n"
	    "smtpd_tls_CAfile = @D@/ca.crt\n");

	ck_assert_int_eq(SSL_CTX_get_verify_mode(server),
	    SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
	for (int v = 0; v < 2; v++) {
		int max_version = v ? TLS1_2_VERSION : 0;

		ck_assert_int_eq(req_ccert_handshake(server, NULL,
		    max_version), 0);
		ck_assert_int_eq(req_ccert_handshake(server, "rogue",
		    max_version), 0);
		ck_assert_int_eq(req_ccert_handshake(server, "client",
		    max_version), 1);
	}
	SSL_CTX_free(server);

	/* As Postfix: depth 1 is enough for a client signed by a CA of
	 * the CA file, 0 leaves no room for it. */
	server = server_ctx("smtpd_tls_security_level = encrypt\n"
	    "smtpd_tls_cert_file = @D@/rsa_both.pem\n"
	    "smtpd_tls_req_ccert = yes\n"
	    "smtpd_tls_ccert_verifydepth = 1\n"
	    "smtpd_tls_CAfile = @D@/ca.crt\n");
	ck_assert_int_eq(req_ccert_handshake(server, "client", 0), 1);
	SSL_CTX_free(server);
	server = server_ctx("smtpd_tls_security_level = encrypt\n"
	    "smtpd_tls_cert_file = @D@/rsa_both.pem\n"
	    "smtpd_tls_req_ccert = yes\n"
	    "smtpd_tls_ccert_verifydepth = 0\n"
	    "smtpd_tls_CAfile = @D@/ca.crt\n");
	ck_assert_int_eq(req_ccert_handshake(server, "client", 0), 0);
	ck_assert_int_eq(req_ccert_handshake(server, "client",
	    TLS1_2_VERSION), 0);
	SSL_CTX_free(server);

	/* Asked for only: too deep is noted, not refused. */
	server = server_ctx(RSA_ONLY "smtpd_tls_ask_ccert = yes\n"
	    "smtpd_tls_ccert_verifydepth = 0\n"
	    "smtpd_tls_CAfile = @D@/ca.crt\n");
	{
		struct tls_info info;
		char *log = client_cert_session(server, "client", &info);

		ck_assert_int_eq(info.peer_cert, 1);
		ck_assert_int_eq(info.peer_trusted, 0);
		ck_assert_contains(log, "Untrusted TLS connection");
		free(log);
	}
	SSL_CTX_free(server);
}
END_TEST

START_TEST(test_hs_req_ccert_at_may)
{
	/* As Postfix: ignored (with a warning) unless TLS is mandatory. */
	SSL_CTX *server = server_ctx(RSA_ONLY "smtpd_tls_req_ccert = yes\n"
	    "smtpd_tls_CAfile = @D@/ca.crt\n");

	ck_assert_int_eq(SSL_CTX_get_verify_mode(server), SSL_VERIFY_NONE);
	ck_assert_int_eq(req_ccert_handshake(server, NULL, 0), 1);
	SSL_CTX_free(server);
}
END_TEST

START_TEST(test_hs_tickets)
{
	SSL_CTX *server = server_ctx(RSA_ONLY);
	SSL_CTX *client = client_ctx();
	struct session s;

	ck_assert_uint_eq(SSL_CTX_get_num_tickets(server), 1);
	handshake(server, client, &s);
	ck_assert_int_eq(s.ok, 1);
	ck_assert_int_eq(client_read_tickets(&s), 1);
	session_free(&s);
	SSL_CTX_free(server);

	server = server_ctx(RSA_ONLY "tls_session_ticket_cipher =\n");
	handshake(server, client, &s);
	ck_assert_int_eq(s.ok, 1);
	ck_assert_int_eq(client_read_tickets(&s), 0);
	session_free(&s);
	SSL_CTX_free(server);
	SSL_CTX_free(client);
}
END_TEST

/* The size of the FFDHE group a TLS 1.2 DHE handshake used. */
static int
dhe_bits(SSL_CTX *server)
{
	SSL_CTX *client = client_ctx();
	EVP_PKEY *key = NULL;
	struct session s;
	int bits;

	SSL_CTX_set_max_proto_version(client, TLS1_2_VERSION);
	ck_assert_int_eq(SSL_CTX_set_cipher_list(client,
	    "DHE-RSA-AES256-GCM-SHA384"), 1);
	handshake(server, client, &s);
	ck_assert_int_eq(s.ok, 1);
	ck_assert_int_eq(SSL_get_peer_tmp_key(s.client, &key), 1);
	ck_assert(EVP_PKEY_is_a(key, "DH"));
	bits = EVP_PKEY_get_bits(key);
	EVP_PKEY_free(key);
	session_free(&s);
	SSL_CTX_free(client);
	return bits;
}

START_TEST(test_hs_dh)
{
	SSL_CTX *server = server_ctx(RSA_ONLY);

	/* Automatic: matched to the 2048-bit RSA key. */
	ck_assert_int_eq(dhe_bits(server), 2048);
	SSL_CTX_free(server);
	server = server_ctx(RSA_ONLY
	    "smtpd_tls_dh1024_param_file = @D@/dh3072.pem\n");
	ck_assert_int_eq(dhe_bits(server), 3072);
	SSL_CTX_free(server);
}
END_TEST

static int
negotiated_group(SSL_CTX *server, const char *client_groups)
{
	SSL_CTX *client = client_ctx();
	struct session s;
	int group;

	if (client_groups != NULL)
		ck_assert_int_eq(SSL_CTX_set1_groups_list(client,
		    client_groups), 1);
	handshake(server, client, &s);
	group = s.ok ? SSL_get_negotiated_group(s.server) : -1;
	session_free(&s);
	SSL_CTX_free(client);
	return group;
}

START_TEST(test_hs_groups)
{
	SSL_CTX *server = server_ctx(RSA_ONLY);

	ck_assert_int_eq(negotiated_group(server, "P-256"),
	    NID_X9_62_prime256v1);
	ck_assert_int_eq(negotiated_group(server, "X25519"), NID_X25519);
	SSL_CTX_free(server);

	/* Names this OpenSSL does not know are skipped. */
	server = server_ctx(RSA_ONLY
	    "tls_eecdh_auto_curves = nosuchcurve secp384r1\n");
	ck_assert_int_eq(negotiated_group(server, "P-384"), NID_secp384r1);
	ck_assert_int_eq(negotiated_group(server, "X25519"), -1);
	SSL_CTX_free(server);

	/* Since Postfix 3.6 strong and ultra mean auto. */
	server = server_ctx(RSA_ONLY "smtpd_tls_eecdh_grade = ultra\n");
	ck_assert_int_eq(negotiated_group(server, "X448"), NID_X448);
	SSL_CTX_free(server);

	/* none: FFDHE only. */
	server = server_ctx(RSA_ONLY "smtpd_tls_eecdh_grade = none\n");
	ck_assert_int_eq(negotiated_group(server, "X25519:P-256"), -1);
	ck_assert_int_eq(negotiated_group(server, "X25519:ffdhe2048"),
	    NID_ffdhe2048);
	SSL_CTX_free(server);
}
END_TEST

START_TEST(test_log_errors)
{
	char *path = log_to_file("errors"), *log;

	ERR_raise_data(ERR_LIB_SSL, SSL_R_NO_CIPHER_MATCH, "in %s", "test");
	tls_log_errors("smtpd");
	log_close();
	ck_assert_int_eq(ERR_peek_error(), 0);
	log = tu_read_file(path, NULL);
	ck_assert_contains(log, "warning: smtpd: TLS library problem: ");
	ck_assert_contains(log, "no cipher match");
	ck_assert_contains(log, "in test");
	free(log);
	free(path);
}
END_TEST

static Suite *
tls_suite(void)
{
	Suite *s = suite_create("tls");
	TCase *tc;

	tc = tcase_create("parsers");
	tcase_add_test(tc, test_protocols_exclusions);
	tcase_add_test(tc, test_protocols_inclusions);
	tcase_add_test(tc, test_protocols_bounds);
	tcase_add_test(tc, test_protocols_holes);
	tcase_add_test(tc, test_protocols_errors);
	tcase_add_test(tc, test_cipher_grades);
	tcase_add_test(tc, test_cipher_exclusions);
	tcase_add_test(tc, test_cipher_errors);
	tcase_add_test(tc, test_levels);
	suite_add_tcase(s, tc);

	tc = tcase_create("contexts");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_ctx_level_none);
	tcase_add_test(tc, test_ctx_wrappermode);
	tcase_add_test(tc, test_ctx_no_certificate);
	tcase_add_test(tc, test_ctx_certificates);
	tcase_add_test(tc, test_ctx_mismatch);
	tcase_add_test(tc, test_ctx_unreadable);
	tcase_add_test(tc, test_ctx_bad_values);
	tcase_add_test(tc, test_ctx_options);
	suite_add_tcase(s, tc);

	tc = tcase_create("handshakes");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_hs_protocols);
	tcase_add_test(tc, test_hs_mandatory);
	tcase_add_test(tc, test_hs_sigalgs);
	tcase_add_test(tc, test_hs_chain);
	tcase_add_test(tc, test_hs_info);
	tcase_add_test(tc, test_hs_ask_ccert);
	tcase_add_test(tc, test_hs_loglevel);
	tcase_add_test(tc, test_hs_req_ccert);
	tcase_add_test(tc, test_hs_req_ccert_at_may);
	tcase_add_test(tc, test_hs_tickets);
	tcase_add_test(tc, test_hs_dh);
	tcase_add_test(tc, test_hs_groups);
	tcase_add_test(tc, test_log_errors);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN_WITH(tls_suite, make_certs, NULL)
