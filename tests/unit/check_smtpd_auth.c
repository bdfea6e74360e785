/* SMTP AUTH: the SASL decoders (base64, PLAIN, LOGIN), crypt(3) password
 * checks and the unknown-user path, the `tlsrelay passwd` file edit, and
 * the restrictions that use a login or a client certificate. */
#include "config.h"

#include <check.h>
#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/offload.h"
#include "tlsrelay/sasl.h"
#include "tlsrelay/sasl_server.h"
#include "tlsrelay/smtpd_policy.h"
#include "tlsrelay/util.h"
#include "smtpd_int.h"		/* the parsed policy */
#include "testutil.h"

/* ------------------------------------------------------------ base64 */

static long
decode(const char *in, unsigned char *out, size_t outlen)
{
	memset(out, 0xee, outlen);
	return sasl_base64_decode(in, out, outlen);
}

START_TEST(base64_valid)
{
	unsigned char out[64];

	ck_assert_int_eq(decode("AGJvYgBwdw==", out, sizeof(out)), 7);
	ck_assert(memcmp(out, "\0bob\0pw", 7) == 0);
	ck_assert_int_eq(decode("YQ==", out, sizeof(out)), 1);
	ck_assert_int_eq(out[0], 'a');
	ck_assert_int_eq(decode("YWI=", out, sizeof(out)), 2);
	ck_assert(memcmp(out, "ab", 2) == 0);
	ck_assert_int_eq(decode("YWJj", out, sizeof(out)), 3);
	ck_assert(memcmp(out, "abc", 3) == 0);
	ck_assert_int_eq(decode("+/+/", out, sizeof(out)), 3);
	ck_assert(memcmp(out, "\xfb\xff\xbf", 3) == 0);
	/* RFC 4954: "=" is the empty response. */
	ck_assert_int_eq(decode("=", out, sizeof(out)), 0);
}
END_TEST

START_TEST(base64_invalid)
{
	static const char *const bad[] = {
		"", "Y", "YQ", "YQ=", "YQ===", "====", "Y===", "=YQ=",
		"YQ==YQ==",	/* padding in the middle */
		"YR==",		/* bits beyond the last byte */
		"YWJ=",
		"YW J", " YWJj", "YWJj ", "YWJj\r", "YW\nJj", "YWJ*", "YW-_",
		"==", "*",
	};
	unsigned char out[64];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(decode(bad[i], out, sizeof(out)) == -1,
		    "\"%s\" decoded", bad[i]);
	/* Valid, but does not fit. */
	ck_assert_int_eq(decode("YWJj", out, 2), -1);
	ck_assert_int_eq(decode("YWJj", out, 3), 3);
}
END_TEST

START_TEST(base64_round_trip)
{
	unsigned char data[64], out[64];

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 37 + 11);
	for (size_t len = 0; len <= sizeof(data); len++) {
		char *text = sasl_base64_encode(data, len);

		ck_assert_uint_eq(strlen(text), (len + 2) / 3 * 4);
		if (len == 0) {
			ck_assert_str_eq(text, "");
		} else {
			ck_assert_int_eq(decode(text, out, sizeof(out)),
			    (long)len);
			ck_assert(memcmp(out, data, len) == 0);
		}
		free(text);
	}
}
END_TEST

/* ------------------------------------------------------------- PLAIN */

static enum sasl_decode
plain(const void *msg, size_t len, struct sasl_credentials *cred)
{
	char *b64 = sasl_base64_encode(msg, len);
	enum sasl_decode r = sasl_plain_decode(b64, cred);

	free(b64);
	return r;
}

START_TEST(plain_without_authzid)
{
	struct sasl_credentials c;

	ck_assert_int_eq(plain("\0bob\0secret", 11, &c), SASL_DECODE_OK);
	ck_assert_str_eq(c.authzid, "");
	ck_assert_str_eq(c.authcid, "bob");
	ck_assert_str_eq(c.passwd, "secret");
	sasl_credentials_clear(&c);
	ck_assert_ptr_null(c.passwd);
}
END_TEST

START_TEST(plain_with_authzid)
{
	struct sasl_credentials c;

	ck_assert_int_eq(plain("alice\0bob\0pass word", 19, &c),
	    SASL_DECODE_OK);
	ck_assert_str_eq(c.authzid, "alice");
	ck_assert_str_eq(c.authcid, "bob");
	ck_assert_str_eq(c.passwd, "pass word");
	sasl_credentials_clear(&c);
}
END_TEST

START_TEST(plain_malformed)
{
	struct sasl_credentials c;

	/* One separator only, three of them, empty name, empty password. */
	ck_assert_int_eq(plain("bob\0secret", 10, &c), SASL_DECODE_FORM);
	ck_assert_int_eq(plain("\0bob\0sec\0ret", 12, &c), SASL_DECODE_FORM);
	ck_assert_int_eq(plain("\0bob\0secret\0", 12, &c), SASL_DECODE_FORM);
	ck_assert_int_eq(plain("\0\0secret", 8, &c), SASL_DECODE_FORM);
	ck_assert_int_eq(plain("\0bob\0", 5, &c), SASL_DECODE_FORM);
	ck_assert_int_eq(plain("bobsecret", 9, &c), SASL_DECODE_FORM);
	ck_assert_ptr_null(c.authcid);
	/* Not base64 at all, and the empty response. */
	ck_assert_int_eq(sasl_plain_decode("AGJvYgBwdw", &c),
	    SASL_DECODE_BASE64);
	ck_assert_int_eq(sasl_plain_decode("!!!!", &c), SASL_DECODE_BASE64);
	ck_assert_int_eq(sasl_plain_decode("=", &c), SASL_DECODE_FORM);
}
END_TEST

START_TEST(plain_lengths)
{
	struct sasl_credentials c;
	char msg[SASL_NAME_MAX + SASL_PASSWD_MAX + 8];
	size_t len;

	/* The longest name and password pass; one more byte does not. */
	msg[0] = '\0';
	memset(msg + 1, 'n', SASL_NAME_MAX);
	msg[1 + SASL_NAME_MAX] = '\0';
	memset(msg + 2 + SASL_NAME_MAX, 'p', SASL_PASSWD_MAX);
	len = 2 + SASL_NAME_MAX + SASL_PASSWD_MAX;
	ck_assert_int_eq(plain(msg, len, &c), SASL_DECODE_OK);
	ck_assert_uint_eq(strlen(c.authcid), SASL_NAME_MAX);
	ck_assert_uint_eq(strlen(c.passwd), SASL_PASSWD_MAX);
	sasl_credentials_clear(&c);
	msg[len] = 'p';
	ck_assert_int_eq(plain(msg, len + 1, &c), SASL_DECODE_FORM);

	memset(msg + 1, 'n', SASL_NAME_MAX + 1);
	msg[2 + SASL_NAME_MAX] = '\0';
	memcpy(msg + 3 + SASL_NAME_MAX, "pw", 2);
	ck_assert_int_eq(plain(msg, 5 + SASL_NAME_MAX, &c), SASL_DECODE_FORM);
}
END_TEST

/* ------------------------------------------------------------- LOGIN */

START_TEST(login_responses)
{
	char *out;

	ck_assert_int_eq(sasl_login_decode("Ym9i", SASL_NAME_MAX, &out),
	    SASL_DECODE_OK);
	ck_assert_str_eq(out, "bob");
	sasl_secret_free(out);
	/* Empty, NUL inside, too long, not base64. */
	ck_assert_int_eq(sasl_login_decode("=", SASL_NAME_MAX, &out),
	    SASL_DECODE_FORM);
	ck_assert_ptr_null(out);
	ck_assert_int_eq(sasl_login_decode("AGJvYg==", SASL_NAME_MAX, &out),
	    SASL_DECODE_FORM);
	ck_assert_int_eq(sasl_login_decode("Ym9i", 2, &out),
	    SASL_DECODE_FORM);
	ck_assert_int_eq(sasl_login_decode("Ym9", SASL_NAME_MAX, &out),
	    SASL_DECODE_BASE64);
	ck_assert_int_eq(sasl_login_decode("VXNlcm5hbWU6", SASL_NAME_MAX,
	    &out), SASL_DECODE_OK);
	ck_assert_str_eq(out, "Username:");
	sasl_secret_free(out);
}
END_TEST

/* ---------------------------------------------------------- passwords */

START_TEST(password_methods)
{
	static const char *const prefixes[] = { "$y$", "$6$", "$2b$" };

	for (size_t i = 0; i < 3; i++) {
		char *err = NULL, *hash, *again;

		hash = sasl_password_hash("correct horse", prefixes[i], &err);
		ck_assert_msg(hash != NULL, "%s: %s", prefixes[i], err);
		ck_assert(strncmp(hash, prefixes[i], strlen(prefixes[i])) == 0);
		ck_assert_int_eq(sasl_password_check(hash, "correct horse"), 1);
		ck_assert_int_eq(sasl_password_check(hash, "correct horsE"), 0);
		ck_assert_int_eq(sasl_password_check(hash, ""), 0);
		/* A fresh salt each time. */
		again = sasl_password_hash("correct horse", prefixes[i], &err);
		ck_assert_str_ne(hash, again);
		free(again);
		free(hash);
	}
}
END_TEST

START_TEST(password_unusable_hashes_still_cost_a_crypt)
{
	static const char *const locked[] = { "*", "!", "", "!$6$x$y",
	    "abcdefghijklm" };
	unsigned long before;

	for (size_t i = 0; i < sizeof(locked) / sizeof(locked[0]); i++) {
		before = sasl_password_check_count();
		ck_assert_int_eq(sasl_password_check(locked[i], locked[i]), 0);
		ck_assert_uint_eq(sasl_password_check_count(), before + 1);
	}
	before = sasl_password_check_count();
	ck_assert_int_eq(sasl_password_check(NULL, "anything"), 0);
	ck_assert_uint_eq(sasl_password_check_count(), before + 1);
}
END_TEST

/* ------------------------------------------------------------- policy */

/* A directory of its own for each test that writes files. */
static char tmpdir[160];

static void
make_tmpdir(void)
{
	tu_make_dir(tmpdir, sizeof(tmpdir), "t");
}

static void
remove_tmpdir(void)
{
	ck_assert_int_eq(remove_tree(tmpdir), 0);
}

static char *
write_file(const char *name, const char *text, mode_t mode)
{
	char *path = xasprintf("%s/%s", tmpdir, name);
	FILE *fp = fopen(path, "w");

	ck_assert_ptr_nonnull(fp);
	ck_assert_int_ge(fputs(text, fp), 0);
	ck_assert_int_eq(fclose(fp), 0);
	ck_assert_int_eq(chmod(path, mode), 0);
	return path;
}

static char *
read_file(const char *path)
{
	return tu_read_file(path, NULL);
}

static struct smtpd_policy *policy;

/* smtpd_policy_new's error for main_cf, or NULL when it accepts it. */
static char *
policy_error(const char *main_cf)
{
	char *err = NULL;
	struct conf *c = tu_conf_load(main_cf);
	struct smtpd_policy *p;

	p = smtpd_policy_new(c, &err);
	smtpd_policy_free(p);
	conf_free(c);
	return p ? NULL : err;
}

/* The built-in backend's verdict on a PLAIN login, through the backend
 * interface. With base, the crypt(3) runs in an offload thread and the
 * verdict comes from the loop. */
struct verdict {
	int called;
	enum sasl_verdict verdict;
	char username[64];
};

static void
on_result(void *arg, const struct sasl_result *r)
{
	struct verdict *v = arg;

	v->called++;
	v->verdict = r->verdict;
	snprintf(v->username, sizeof(v->username), "%s",
	    r->username ? r->username : "");
}

static enum sasl_verdict
backend_plain(struct event_base *base, const char *user, const char *pw,
    struct verdict *v)
{
	const struct sasl_backend *b = policy->sasl_backend;
	struct sasl_client_info info = { .client_addr = "127.0.0.1",
	    .service = "smtp" };
	struct sasl_exchange *x;
	size_t ul = strlen(user), pl = strlen(pw);
	char *msg = xcalloc(1, ul + pl + 2), *b64;

	memcpy(msg + 1, user, ul);
	memcpy(msg + ul + 2, pw, pl);
	b64 = sasl_base64_encode(msg, ul + pl + 2);
	memset(v, 0, sizeof(*v));
	x = b->start(policy->sasl_server, &info, "PLAIN", b64, on_result, v);
	if (base != NULL) {
		/* Not before start returned: the thread has it. */
		ck_assert_int_eq(v->called, 0);
		ck_assert_uint_eq(offload_pending(), 1);
		while (v->called == 0)
			event_base_loop(base, EVLOOP_ONCE);
	}
	ck_assert_int_eq(v->called, 1);
	b->end(x);
	free(b64);
	free(msg);
	return v->verdict;
}

static enum sasl_verdict
sasl_check(const char *user, const char *pw)
{
	struct verdict v;

	return backend_plain(NULL, user, pw, &v);
}

START_TEST(sasl_check_against_table)
{
	char *err = NULL, *hash, *users, *text, *main_cf;
	unsigned long before;

	make_tmpdir();
	hash = sasl_password_hash("s3cret", SASL_HASH_PREFIX, &err);
	ck_assert_ptr_nonnull(hash);
	text = xasprintf("# users\nbob %s\nlocked *\n", hash);
	users = write_file("users", text, 0600);
	main_cf = xasprintf("smtpd_sasl_auth_enable = yes\n"
	    "tlsrelay_smtpd_sasl_user_maps = texthash:%s\n", users);
	policy = tu_policy_load(main_cf);

	ck_assert_int_eq(sasl_check("bob", "s3cret"),
	    SASL_SUCCESS);
	ck_assert_int_eq(sasl_check("BoB", "s3cret"),
	    SASL_SUCCESS);
	ck_assert_int_eq(sasl_check("bob", "wrong"),
	    SASL_FAILURE);
	/* An unknown user, a locked one and a name no table could hold
	 * each run the verifier exactly once, like a known user. */
	before = sasl_password_check_count();
	ck_assert_int_eq(sasl_check("eve", "s3cret"),
	    SASL_FAILURE);
	ck_assert_uint_eq(sasl_password_check_count(), before + 1);
	ck_assert_int_eq(sasl_check("locked", "*"),
	    SASL_FAILURE);
	ck_assert_uint_eq(sasl_password_check_count(), before + 2);
	ck_assert_int_eq(sasl_check("a b", "s3cret"),
	    SASL_FAILURE);
	ck_assert_uint_eq(sasl_password_check_count(), before + 3);
	ck_assert_int_eq(sasl_check("bob", "wrong"),
	    SASL_FAILURE);
	ck_assert_uint_eq(sasl_password_check_count(), before + 4);

	tu_policy_unload(policy);
	free(main_cf);
	free(users);
	free(text);
	free(hash);
	remove_tmpdir();
}
END_TEST

/* In a worker the crypt(3) leaves the loop; a session that goes away
 * meanwhile abandons it. */
START_TEST(sasl_check_off_the_loop)
{
	char *err = NULL, *hash, *users, *text, *main_cf;
	struct event_base *base = event_base_new();
	const struct sasl_backend *b;
	struct sasl_client_info info = { .client_addr = "127.0.0.1",
	    .service = "smtp" };
	struct sasl_exchange *x;
	struct verdict v;

	make_tmpdir();
	hash = sasl_password_hash("s3cret", SASL_HASH_PREFIX, &err);
	text = xasprintf("bob %s\n", hash);
	users = write_file("users", text, 0600);
	main_cf = xasprintf("smtpd_sasl_auth_enable = yes\n"
	    "tlsrelay_smtpd_sasl_user_maps = texthash:%s\n", users);
	policy = tu_policy_load(main_cf);
	b = policy->sasl_backend;
	ck_assert_str_eq(b->type, "tlsrelay");
	ck_assert_int_eq(b->server_attach(policy->sasl_server, base, &err), 0);

	ck_assert_int_eq(backend_plain(base, "Bob", "s3cret", &v),
	    SASL_SUCCESS);
	ck_assert_str_eq(v.username, "bob");
	ck_assert_int_eq(backend_plain(base, "bob", "nope", &v),
	    SASL_FAILURE);
	/* LOGIN's two challenges, then the check. */
	memset(&v, 0, sizeof(v));
	x = b->start(policy->sasl_server, &info, "LOGIN", NULL, on_result, &v);
	ck_assert_int_eq(v.verdict, SASL_CONTINUE);
	b->step(x, "Ym9i");			/* bob */
	ck_assert_int_eq(v.called, 2);
	ck_assert_int_eq(v.verdict, SASL_CONTINUE);
	b->step(x, "czNjcmV0");			/* s3cret */
	ck_assert_int_eq(v.called, 2);
	while (v.called == 2)
		event_base_loop(base, EVLOOP_ONCE);
	ck_assert_int_eq(v.verdict, SASL_SUCCESS);
	b->end(x);
	/* Abandoned during the check: no verdict, nothing leaks. */
	memset(&v, 0, sizeof(v));
	x = b->start(policy->sasl_server, &info, "PLAIN", "AGJvYgBzM2NyZXQ=",
	    on_result, &v);
	ck_assert_uint_eq(offload_pending(), 1);
	b->end(x);
	while (offload_pending() > 0)
		event_base_loop(base, EVLOOP_ONCE);
	ck_assert_int_eq(v.called, 0);
	/* Not base64: at once. */
	x = b->start(policy->sasl_server, &info, "PLAIN", "!!", on_result, &v);
	ck_assert_int_eq(v.verdict, SASL_BADPROTO);
	b->end(x);

	tu_policy_unload(policy);
	event_base_free(base);
	free(main_cf);
	free(users);
	free(text);
	free(hash);
	remove_tmpdir();
}
END_TEST

START_TEST(sasl_table_reopened_when_it_changes)
{
	char *err = NULL, *hash, *users, *main_cf;

	make_tmpdir();
	users = write_file("users", "# nobody yet\n", 0600);
	main_cf = xasprintf("smtpd_sasl_auth_enable = yes\n"
	    "tlsrelay_smtpd_sasl_user_maps = texthash:%s\n", users);
	policy = tu_policy_load(main_cf);
	ck_assert_int_eq(sasl_check("carol", "pw"),
	    SASL_FAILURE);
	hash = sasl_password_hash("pw", SASL_HASH_PREFIX, &err);
	ck_assert_int_eq(sasl_passwd_update(users, "carol", hash, &err), 0);
	ck_assert_int_eq(sasl_check("carol", "pw"),
	    SASL_SUCCESS);
	tu_policy_unload(policy);
	free(hash);
	free(main_cf);
	free(users);
	remove_tmpdir();
}
END_TEST

START_TEST(security_options)
{
	const unsigned plain = SASL_MECH_F_PLAINTEXT | SASL_MECH_F_ACTIVE |
	    SASL_MECH_F_DICTIONARY;		/* PLAIN, LOGIN */
	const unsigned scram = SASL_MECH_F_MUTUAL_AUTH;
	const unsigned anon = SASL_MECH_F_ANONYMOUS;
	char *err;

	policy = tu_policy_load("smtpd_sasl_security_options = noanonymous\n");
	ck_assert(sasl_security_allows(&policy->sasl_sec, plain));
	ck_assert(sasl_security_allows(&policy->sasl_sec, scram));
	ck_assert(!sasl_security_allows(&policy->sasl_sec, anon));
	ck_assert(sasl_security_allows(&policy->sasl_tls_sec, plain));
	ck_assert(!sasl_security_allows(&policy->sasl_tls_sec, anon));
	ck_assert_int_eq(policy->tls_auth_only, 0);
	ck_assert_int_eq(policy->auth_failure_limit, 3);
	tu_policy_unload(policy);
	/* Postfix's recipe: no plaintext mechanism without TLS. */
	policy = tu_policy_load(
	    "smtpd_sasl_security_options = noanonymous, noplaintext\n"
	    "smtpd_sasl_tls_security_options = noanonymous\n");
	ck_assert(!sasl_security_allows(&policy->sasl_sec, plain));
	ck_assert(sasl_security_allows(&policy->sasl_sec, scram));
	ck_assert(sasl_security_allows(&policy->sasl_tls_sec, plain));
	tu_policy_unload(policy);
	/* The TLS options follow the others by default. */
	policy = tu_policy_load("smtpd_sasl_security_options = nodictionary\n");
	ck_assert(!sasl_security_allows(&policy->sasl_tls_sec, plain));
	ck_assert(sasl_security_allows(&policy->sasl_tls_sec, scram));
	tu_policy_unload(policy);
	/* mutual_auth and forward_secrecy ask for a property. */
	policy = tu_policy_load("smtpd_sasl_security_options = mutual_auth\n");
	ck_assert(!sasl_security_allows(&policy->sasl_sec, plain));
	ck_assert(sasl_security_allows(&policy->sasl_sec, scram));
	ck_assert(!sasl_security_allows(&policy->sasl_sec, anon));
	tu_policy_unload(policy);
	policy = tu_policy_load("smtpd_sasl_security_options = "
	    "forward_secrecy, noactive\n");
	ck_assert(!sasl_security_allows(&policy->sasl_sec, scram));
	ck_assert(!sasl_security_allows(&policy->sasl_sec,
	    SASL_MECH_F_FORWARD_SECRECY | SASL_MECH_F_ACTIVE));
	ck_assert(sasl_security_allows(&policy->sasl_sec,
	    SASL_MECH_F_FORWARD_SECRECY | SASL_MECH_F_MUTUAL_AUTH));
	tu_policy_unload(policy);
	/* Mandatory TLS means AUTH only after STARTTLS, as in Postfix. */
	policy = tu_policy_load("smtpd_tls_security_level = encrypt\n");
	ck_assert_int_eq(policy->tls_auth_only, 1);
	tu_policy_unload(policy);

	err = policy_error("smtpd_sasl_security_options = noanonymous, "
	    "nosuch\n");
	ck_assert_ptr_nonnull(err);
	ck_assert_str_eq(err, "main.cf:1: smtpd_sasl_security_options: "
	    "unknown SASL security option \"nosuch\" (use noanonymous, "
	    "noplaintext, noactive, nodictionary, mutual_auth, "
	    "forward_secrecy)");
	free(err);
}
END_TEST

START_TEST(configuration_errors)
{
	char *err;

	err = policy_error("smtpd_sasl_auth_enable = yes\n");
	ck_assert_ptr_nonnull(err);
	ck_assert_str_eq(err, "default: tlsrelay_smtpd_sasl_user_maps: "
	    "smtpd_sasl_auth_enable = yes needs a password table (see "
	    "tlsrelay passwd)");
	free(err);
	err = policy_error("smtpd_sender_restrictions = "
	    "reject_sender_login_mismatch\n");
	ck_assert_ptr_nonnull(err);
	ck_assert_str_eq(err, "restriction reject_sender_login_mismatch "
	    "requires that smtpd_sender_login_maps is set");
	free(err);
	err = policy_error("smtpd_tls_fingerprint_digest = sha257\n");
	ck_assert_ptr_nonnull(err);
	ck_assert(strstr(err, "smtpd_tls_fingerprint_digest: unknown "
	    "digest \"sha257\"") != NULL);
	free(err);
	err = policy_error("smtpd_sasl_auth_enable = yes\n"
	    "tlsrelay_smtpd_sasl_user_maps = hash:/nonexistent/users\n");
	ck_assert_ptr_nonnull(err);
	ck_assert(strncmp(err, "main.cf:2: tlsrelay_smtpd_sasl_user_maps: ",
	    41) == 0);
	free(err);
	ck_assert_ptr_null(policy_error("smtpd_tls_fingerprint_digest = "
	    "md5\n"));
	/* smtpd_sasl_type: a backend's own check (Cyrus SASL's
	 * configuration file), or none of the three. */
	err = policy_error("smtpd_sasl_auth_enable = yes\n"
	    "smtpd_sasl_type = cyrus\n"
	    "cyrus_sasl_config_path = /nonexistent\n");
	ck_assert_ptr_nonnull(err);
	ck_assert_str_eq(err, "main.cf:3: cyrus_sasl_config_path: no "
	    "smtpd.conf in /nonexistent (its name is smtpd_sasl_path plus "
	    ".conf)");
	free(err);
	err = policy_error("smtpd_sasl_auth_enable = yes\n"
	    "smtpd_sasl_type = kerberos\n");
	ck_assert_ptr_nonnull(err);
	ck_assert_str_eq(err, "main.cf:2: smtpd_sasl_type: unknown SASL "
	    "type \"kerberos\" (use tlsrelay, dovecot or cyrus)");
	free(err);
	/* Dovecot: where its socket is; nothing is connected here. */
	ck_assert_ptr_null(policy_error("smtpd_sasl_auth_enable = yes\n"
	    "smtpd_sasl_type = dovecot\n"
	    "smtpd_sasl_path = private/auth\n"));
	ck_assert_ptr_null(policy_error("smtpd_sasl_auth_enable = yes\n"
	    "smtpd_sasl_type = dovecot\n"
	    "smtpd_sasl_path = inet:[::1]:12345\n"));
	err = policy_error("smtpd_sasl_auth_enable = yes\n"
	    "smtpd_sasl_type = dovecot\n"
	    "smtpd_sasl_path = inet:localhost:12345\n");
	ck_assert_ptr_nonnull(err);
	ck_assert_str_eq(err, "main.cf:3: smtpd_sasl_path: bad address "
	    "\"inet:localhost:12345\" (use inet:127.0.0.1:12345 or "
	    "inet:[::1]:12345)");
	free(err);
	err = policy_error("smtpd_sasl_auth_enable = yes\n"
	    "smtpd_sasl_type = dovecot\n"
	    "smtpd_sasl_path = /" "0123456789012345678901234567890123456789"
	    "0123456789012345678901234567890123456789"
	    "012345678901234567890123456789\n");
	ck_assert_ptr_nonnull(err);
	ck_assert(strstr(err, "is not a usable socket path") != NULL);
	free(err);
	/* Without AUTH the type is not looked at (Postfix's own main.cf
	 * names cyrus or dovecot with AUTH off). */
	ck_assert_ptr_null(policy_error("smtpd_sasl_type = kerberos\n"));
}
END_TEST

static enum restrict_result
check_sender(const char *sender, const char *login, char *reply, size_t len)
{
	struct restrict_query q;

	memset(&q, 0, sizeof(q));
	q.client_addr = "192.0.2.1";
	q.client_name = "unknown";
	q.helo = "client.test";
	q.sender = sender;
	q.recipient = "rcpt@example.com";
	q.sasl_authenticated = login != NULL;
	q.sasl_username = login;
	reply[0] = '\0';
	return smtpd_policy_check_rcpt(policy, &q, reply, len);
}

#define LOGIN_MAPS "smtpd_sender_login_maps = inline:{ " \
	"bob@example.com=bob, { shared@example.com = bob carol }, " \
	"@example.org=carol }\n" \
	"relay_domains = example.com\n"

START_TEST(sender_login_mismatch)
{
	char reply[512];

	policy = tu_policy_load(LOGIN_MAPS "smtpd_sender_restrictions = "
	    "reject_sender_login_mismatch\n");
	ck_assert_int_eq(check_sender("bob@example.com", "bob", reply,
	    sizeof(reply)), RESTRICT_PERMIT);
	ck_assert_int_eq(check_sender("Bob@Example.com", "BOB", reply,
	    sizeof(reply)), RESTRICT_PERMIT);
	ck_assert_int_eq(check_sender("shared@example.com", "carol", reply,
	    sizeof(reply)), RESTRICT_PERMIT);
	ck_assert_int_eq(check_sender("anyone@example.org", "carol", reply,
	    sizeof(reply)), RESTRICT_PERMIT);
	ck_assert_int_eq(check_sender("bob@example.com", "carol", reply,
	    sizeof(reply)), RESTRICT_REJECT);
	ck_assert_str_eq(reply, "553 5.7.1 <bob@example.com>: Sender address "
	    "rejected: not owned by user carol");
	/* An address nobody owns is refused to a logged-in user... */
	ck_assert_int_eq(check_sender("x@elsewhere.test", "bob", reply,
	    sizeof(reply)), RESTRICT_REJECT);
	ck_assert_str_eq(reply, "553 5.7.1 <x@elsewhere.test>: Sender "
	    "address rejected: not owned by user bob");
	/* ... an owned one to a client that is not logged in... */
	ck_assert_int_eq(check_sender("bob@example.com", NULL, reply,
	    sizeof(reply)), RESTRICT_REJECT);
	ck_assert_str_eq(reply, "553 5.7.1 <bob@example.com>: Sender address "
	    "rejected: not logged in");
	/* ... and neither the null sender nor an unowned address of an
	 * anonymous client is this restriction's business. */
	ck_assert_int_eq(check_sender("", "bob", reply, sizeof(reply)),
	    RESTRICT_PERMIT);
	ck_assert_int_eq(check_sender("x@elsewhere.test", NULL, reply,
	    sizeof(reply)), RESTRICT_PERMIT);
	tu_policy_unload(policy);
}
END_TEST

START_TEST(sender_login_mismatch_variants)
{
	char reply[512];

	policy = tu_policy_load(LOGIN_MAPS "smtpd_sender_restrictions = "
	    "reject_known_sender_login_mismatch\n");
	ck_assert_int_eq(check_sender("x@elsewhere.test", "bob", reply,
	    sizeof(reply)), RESTRICT_PERMIT);
	ck_assert_int_eq(check_sender("bob@example.com", "carol", reply,
	    sizeof(reply)), RESTRICT_REJECT);
	ck_assert_int_eq(check_sender("bob@example.com", NULL, reply,
	    sizeof(reply)), RESTRICT_REJECT);
	tu_policy_unload(policy);
	policy = tu_policy_load(LOGIN_MAPS "smtpd_sender_restrictions = "
	    "reject_authenticated_sender_login_mismatch\n");
	ck_assert_int_eq(check_sender("bob@example.com", NULL, reply,
	    sizeof(reply)), RESTRICT_PERMIT);
	ck_assert_int_eq(check_sender("bob@example.com", "carol", reply,
	    sizeof(reply)), RESTRICT_REJECT);
	tu_policy_unload(policy);
	policy = tu_policy_load(LOGIN_MAPS "smtpd_sender_restrictions = "
	    "reject_unauthenticated_sender_login_mismatch\n");
	ck_assert_int_eq(check_sender("bob@example.com", "carol", reply,
	    sizeof(reply)), RESTRICT_PERMIT);
	ck_assert_int_eq(check_sender("bob@example.com", NULL, reply,
	    sizeof(reply)), RESTRICT_REJECT);
	tu_policy_unload(policy);
}
END_TEST

static enum restrict_result
check_cert(const char *fprint, const char *pkey, char *reply, size_t len)
{
	struct restrict_query q;

	memset(&q, 0, sizeof(q));
	q.client_addr = "192.0.2.1";
	q.client_name = "unknown";
	q.sender = "s@example.net";
	q.recipient = "rcpt@elsewhere.test";
	q.ccert_fingerprint = fprint;
	q.ccert_pkey_fingerprint = pkey;
	reply[0] = '\0';
	return smtpd_policy_check_rcpt(policy, &q, reply, len);
}

START_TEST(permit_tls_clientcerts_by_fingerprint)
{
	char reply[512];

	policy = tu_policy_load("relay_clientcerts = inline:{ AB:CD:EF=laptop, "
	    "01:02:03=renewed-key }\n"
	    "smtpd_relay_restrictions = permit_tls_clientcerts, "
	    "reject_unauth_destination\n");
	ck_assert_int_eq(check_cert("AB:CD:EF", "99:99", reply,
	    sizeof(reply)), RESTRICT_PERMIT);
	/* Keys are folded, as every table key. */
	ck_assert_int_eq(check_cert("ab:cd:ef", NULL, reply, sizeof(reply)),
	    RESTRICT_PERMIT);
	/* The public key's fingerprint counts too. */
	ck_assert_int_eq(check_cert("77:77", "01:02:03", reply,
	    sizeof(reply)), RESTRICT_PERMIT);
	ck_assert_int_eq(check_cert("77:77", "88:88", reply, sizeof(reply)),
	    RESTRICT_REJECT);
	ck_assert_str_eq(reply, "554 5.7.1 <rcpt@elsewhere.test>: Relay "
	    "access denied");
	ck_assert_int_eq(check_cert(NULL, NULL, reply, sizeof(reply)),
	    RESTRICT_REJECT);
	tu_policy_unload(policy);
	/* Without relay_clientcerts nothing matches. */
	policy = tu_policy_load(
	    "smtpd_relay_restrictions = permit_tls_clientcerts, "
	    "reject_unauth_destination\n");
	ck_assert_int_eq(check_cert("AB:CD:EF", "01:02:03", reply,
	    sizeof(reply)), RESTRICT_REJECT);
	tu_policy_unload(policy);
}
END_TEST

/* ------------------------------------------------------ passwd file */

START_TEST(passwd_update_keeps_the_rest)
{
	char *err = NULL, *path, *text;
	struct stat st;

	make_tmpdir();
	path = write_file("users",
	    "# the users\n"
	    "alice $6$old$a\n"
	    "\n"
	    "bob $y$old$b\n"
	    "\tcontinued\n"
	    "# trailing comment\n"
	    "carol $y$c$c\n", 0640);

	ck_assert_int_eq(sasl_passwd_update(path, "Bob", "$y$new$B", &err), 0);
	text = read_file(path);
	ck_assert_str_eq(text,
	    "# the users\n"
	    "alice $6$old$a\n"
	    "\n"
	    "bob $y$new$B\n"
	    "# trailing comment\n"
	    "carol $y$c$c\n");
	free(text);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0640);

	ck_assert_int_eq(sasl_passwd_update(path, "dave", "$y$d$d", &err), 0);
	ck_assert_int_eq(sasl_passwd_update(path, "alice", NULL, &err), 0);
	text = read_file(path);
	ck_assert_str_eq(text,
	    "# the users\n"
	    "\n"
	    "bob $y$new$B\n"
	    "# trailing comment\n"
	    "carol $y$c$c\n"
	    "dave $y$d$d\n");
	free(text);

	/* Removing a user who is not there changes nothing. */
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(sasl_passwd_update(path, "alice", NULL, &err), 1);
	{
		struct stat again;

		ck_assert_int_eq(stat(path, &again), 0);
		ck_assert_uint_eq(again.st_ino, st.st_ino);
	}
	free(path);
	remove_tmpdir();
}
END_TEST

START_TEST(passwd_update_edge_cases)
{
	char *err = NULL, *path, *text;
	struct stat st;

	make_tmpdir();
	/* A new file is private. */
	path = xasprintf("%s/new", tmpdir);
	ck_assert_int_eq(sasl_passwd_update(path, "eve", "$y$e$e", &err), 0);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	text = read_file(path);
	ck_assert_str_eq(text, "eve $y$e$e\n");
	free(text);
	free(path);

	/* No newline at the end; duplicates go with the entry. */
	path = write_file("nonl", "bob $y$1$1\nx y\nbob $y$2$2", 0600);
	ck_assert_int_eq(sasl_passwd_update(path, "bob", "$y$3$3", &err), 0);
	text = read_file(path);
	ck_assert_str_eq(text, "bob $y$3$3\nx y\n");
	free(text);
	ck_assert_int_eq(sasl_passwd_update(path, "x", NULL, &err), 0);
	text = read_file(path);
	ck_assert_str_eq(text, "bob $y$3$3\n");
	free(text);

	/* Names and hashes a table cannot hold. */
	ck_assert_int_eq(sasl_passwd_update(path, "a b", "$y$1$1", &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "invalid user name"));
	free(err);
	ck_assert_int_eq(sasl_passwd_update(path, "#x", "$y$1$1", &err), -1);
	free(err);
	ck_assert_int_eq(sasl_passwd_update(path, "", "$y$1$1", &err), -1);
	free(err);
	ck_assert_int_eq(sasl_passwd_update(path, "x", "$y$ 1", &err), -1);
	free(err);
	ck_assert_int_eq(sasl_passwd_update("/nonexistent/dir/users", "x",
	    "$y$1$1", &err), -1);
	ck_assert_ptr_nonnull(err);
	free(err);
	free(path);
	remove_tmpdir();
}
END_TEST

static Suite *
auth_suite(void)
{
	Suite *s = suite_create("smtpd_auth");
	TCase *tc = tcase_create("decoders");

	tcase_add_test(tc, base64_valid);
	tcase_add_test(tc, base64_invalid);
	tcase_add_test(tc, base64_round_trip);
	tcase_add_test(tc, plain_without_authzid);
	tcase_add_test(tc, plain_with_authzid);
	tcase_add_test(tc, plain_malformed);
	tcase_add_test(tc, plain_lengths);
	tcase_add_test(tc, login_responses);
	suite_add_tcase(s, tc);

	tc = tcase_create("passwords");
	/* bcrypt and yescrypt take a while under the sanitizers. */
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, password_methods);
	tcase_add_test(tc, password_unusable_hashes_still_cost_a_crypt);
	tcase_add_test(tc, sasl_check_against_table);
	tcase_add_test(tc, sasl_check_off_the_loop);
	tcase_add_test(tc, sasl_table_reopened_when_it_changes);
	suite_add_tcase(s, tc);

	tc = tcase_create("policy");
	tcase_add_test(tc, security_options);
	tcase_add_test(tc, configuration_errors);
	tcase_add_test(tc, sender_login_mismatch);
	tcase_add_test(tc, sender_login_mismatch_variants);
	tcase_add_test(tc, permit_tls_clientcerts_by_fingerprint);
	suite_add_tcase(s, tc);

	tc = tcase_create("passwd");
	tcase_add_test(tc, passwd_update_keeps_the_rest);
	tcase_add_test(tc, passwd_update_edge_cases);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(auth_suite)
