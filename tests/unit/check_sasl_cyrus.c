/* check_sasl_cyrus: the Cyrus SASL backend through the interface
 * smtpd_auth.c drives, against the real library with a sasldb2 made by
 * saslpasswd2 and an smtpd.conf in cyrus_sasl_config_path: the mechanism
 * list and its properties, PLAIN, LOGIN and CRAM-MD5 (the digest computed
 * here), wrong passwords and unknown users, bad base64, and an exchange
 * that ends while the library is working in the offload pool. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/offload.h"
#include "tlsrelay/sasl_server.h"
#include "tlsrelay/util.h"

#include "testutil.h"

#define REALM		"example.test"
#define PASSWORD	"correct horse"
#define HOSTNAME	"relay.example.test"

static char config_dir[256];	/* smtpd.conf and sasldb2 */
static char empty_dir[256];	/* no smtpd.conf */
static char saslauthd_dir[256];	/* smtpd.conf for a saslauthd not there */

/* Outside a test, where Check's assertions cannot report. */
static void
make_dir(char *path, size_t size, const char *name)
{
	snprintf(path, size, "%s/%s", tu_tmpdir(), name);
	tu_run(tu_tmpdir(), "mkdir %s", name);
}

/* Once for the run: the database and the library's configuration. */
static void
make_sasl_config(void)
{
	char *conf;

	make_dir(config_dir, sizeof(config_dir), "cyrus");
	make_dir(empty_dir, sizeof(empty_dir), "empty");
	tu_run(config_dir, "echo '%s' | saslpasswd2 -f sasldb2 -c -p -u %s "
	    "alice", PASSWORD, REALM);
	/* Postfix's howto: without smtpd_sasl_local_domain, the realm is
	 * the server's name. */
	tu_run(config_dir, "echo '%s' | saslpasswd2 -f sasldb2 -p -u %s bob",
	    PASSWORD, HOSTNAME);
	conf = xasprintf("pwcheck_method: auxprop\n"
	    "auxprop_plugin: sasldb\n"
	    "sasldb_path: %s/sasldb2\n"
	    "mech_list: PLAIN LOGIN CRAM-MD5\n", config_dir);
	tu_run(config_dir, "printf '%%s' '%s' > smtpd.conf", conf);
	free(conf);
	make_dir(saslauthd_dir, sizeof(saslauthd_dir), "saslauthd");
	tu_run(saslauthd_dir, "printf '%%s\\n' 'pwcheck_method: saslauthd' "
	    "'saslauthd_path: %s/mux' 'mech_list: PLAIN LOGIN' > smtpd.conf",
	    saslauthd_dir);
}

/* ---- a server on a loop, and what its callback said ---------------------- */

struct outcome {
	int calls;
	enum sasl_verdict verdict;
	char *challenge, *username, *reason, *attempted;
};

static struct event_base *base;
static struct conf *conf;
static struct sasl_server *server;
static const struct sasl_backend *cyrus = &sasl_backend_cyrus;

static const struct sasl_client_info client = {
	.client_addr = "127.0.0.1", .client_port = 40000,
	.local_addr = "127.0.0.1", .local_port = 587,
	.tls_active = 1, .tls_cipher_bits = 256, .service = "smtp",
};

static char *
dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void
outcome_clear(struct outcome *o)
{
	free(o->challenge);
	free(o->username);
	free(o->reason);
	free(o->attempted);
	memset(o, 0, sizeof(*o));
}

static void
on_result(void *arg, const struct sasl_result *r)
{
	struct outcome *o = arg;

	outcome_clear(o);
	o->calls = 1;
	o->verdict = r->verdict;
	o->challenge = dup_or_null(r->challenge);
	o->username = dup_or_null(r->username);
	o->reason = dup_or_null(r->reason);
	o->attempted = dup_or_null(r->attempted);
}

/* Runs the loop until the backend has answered; the answer must not
 * have come before (the library works in the pool, not in start/step). */
static void
wait_result(struct outcome *o)
{
	struct timeval step = { 0, 10 * 1000 };
	time_t deadline = time(NULL) + 20;

	ck_assert_int_eq(o->calls, 0);
	ck_assert_uint_eq(offload_pending(), 1);
	while (o->calls == 0) {
		ck_assert_msg(time(NULL) < deadline, "no verdict");
		event_base_loopexit(base, &step);
		event_base_dispatch(base);
	}
}

static void
server_up_with(const char *dir, const char *realm)
{
	char *err = NULL, *main_cf;

	main_cf = xasprintf("myhostname = " HOSTNAME "\n"
	    "cyrus_sasl_config_path = %s\n"
	    "smtpd_sasl_local_domain = %s\n", dir, realm);
	conf = tu_conf_load(main_cf);
	free(main_cf);
	base = event_base_new();
	server = cyrus->server_new(conf, &err);
	ck_assert_msg(server != NULL, "server_new: %s", err);
	ck_assert_msg(cyrus->server_attach(server, base, &err) == 0,
	    "server_attach: %s", err);
}

static void
server_up_realm(const char *realm)
{
	server_up_with(config_dir, realm);
}

static void
server_up(void)
{
	server_up_realm(REALM);
}

static void
server_down(void)
{
	cyrus->server_free(server);
	conf_free(conf);
	event_base_free(base);
}

static char *
b64(const void *data, size_t len)
{
	char *out = xmalloc((len + 2) / 3 * 4 + 1);

	EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return out;
}

/* AUTH mech [initial] and its first verdict. */
static struct sasl_exchange *
start(const char *mech, const char *initial, struct outcome *o)
{
	struct sasl_exchange *x = cyrus->start(server, &client, mech, initial,
	    on_result, o);

	wait_result(o);
	return x;
}

static void
step(struct sasl_exchange *x, const char *text, struct outcome *o)
{
	char *response = b64(text, strlen(text));

	o->calls = 0;
	cyrus->step(x, response);
	free(response);
	wait_result(o);
}

static char *
plain_message(const char *user, const char *password)
{
	char raw[256];
	int n = snprintf(raw, sizeof(raw), "%c%s%c%s", 0, user, 0, password);

	return b64(raw, (size_t)n);
}

/* ---- the tests ---------------------------------------------------------- */

START_TEST(mechanisms_from_the_library)
{
	const struct sasl_mech *mechs;
	size_t n;
	unsigned plain = 0, login = 0, cram = 0;
	int seen = 0;

	server_up();
	n = cyrus->mechanisms(server, &mechs);
	/* mech_list in smtpd.conf, not every installed plugin. */
	ck_assert_uint_eq(n, 3);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(mechs[i].name, "PLAIN") == 0)
			plain = mechs[i].flags, seen |= 1;
		else if (strcmp(mechs[i].name, "LOGIN") == 0)
			login = mechs[i].flags, seen |= 2;
		else if (strcmp(mechs[i].name, "CRAM-MD5") == 0)
			cram = mechs[i].flags, seen |= 4;
	}
	ck_assert_int_eq(seen, 7);
	/* The plugins' own properties: PLAIN and LOGIN send the password,
	 * CRAM-MD5 does not but falls to a dictionary; none is anonymous. */
	ck_assert(plain & SASL_MECH_F_PLAINTEXT);
	ck_assert(login & SASL_MECH_F_PLAINTEXT);
	ck_assert(!(cram & SASL_MECH_F_PLAINTEXT));
	ck_assert(cram & SASL_MECH_F_DICTIONARY);
	ck_assert(!((plain | login | cram) & SASL_MECH_F_ANONYMOUS));
	server_down();
}
END_TEST

START_TEST(plain_initial_response)
{
	struct outcome o = { 0 };
	char *msg = plain_message("alice", PASSWORD);
	struct sasl_exchange *x;

	server_up();
	x = start("PLAIN", msg, &o);
	ck_assert_int_eq(o.verdict, SASL_SUCCESS);
	ck_assert_str_eq(o.username, "alice@" REALM);
	cyrus->end(x);
	outcome_clear(&o);
	free(msg);
	server_down();
}
END_TEST

/* The library's name for the user: in a realm of its own, user@realm;
 * in the default realm (myhostname), the bare name. */
START_TEST(plain_in_the_default_realm)
{
	struct outcome o = { 0 };
	char *msg = plain_message("bob", PASSWORD);
	struct sasl_exchange *x;

	server_up_realm("");
	x = start("PLAIN", msg, &o);
	ck_assert_int_eq(o.verdict, SASL_SUCCESS);
	ck_assert_str_eq(o.username, "bob");
	cyrus->end(x);
	outcome_clear(&o);
	free(msg);
	server_down();
}
END_TEST

START_TEST(plain_after_empty_challenge)
{
	struct outcome o = { 0 };
	struct sasl_exchange *x;
	char raw[] = "\0alice\0" PASSWORD;

	server_up();
	x = start("PLAIN", NULL, &o);
	ck_assert_int_eq(o.verdict, SASL_CONTINUE);
	ck_assert_str_eq(o.challenge, "");
	{
		char *msg = b64(raw, sizeof(raw) - 1);

		o.calls = 0;
		cyrus->step(x, msg);
		free(msg);
		wait_result(&o);
	}
	ck_assert_int_eq(o.verdict, SASL_SUCCESS);
	ck_assert_str_eq(o.username, "alice@" REALM);
	cyrus->end(x);
	outcome_clear(&o);
	server_down();
}
END_TEST

START_TEST(plain_wrong_password)
{
	struct outcome o = { 0 };
	char *msg = plain_message("alice", "wrong"), *log;
	struct sasl_exchange *x;

	server_up();
	tu_capture_begin();
	x = start("PLAIN", msg, &o);
	log = tu_capture_end();
	ck_assert_int_eq(o.verdict, SASL_FAILURE);
	/* Postfix's reason (sasl_errstring), which the client sees too. */
	ck_assert_str_eq(o.reason, "authentication failure");
	ck_assert_str_eq(o.attempted, "alice@" REALM);
	/* The library's detail, logged from the loop as Postfix logs it. */
	ck_assert_msg(strstr(log, "warning: SASL authentication failure: "
	    "Password verification failed") != NULL, "log: %s", log);
	cyrus->end(x);
	outcome_clear(&o);
	free(log);
	free(msg);
	server_down();
}
END_TEST

START_TEST(unknown_user_fails_like_a_wrong_password)
{
	struct outcome o = { 0 };
	char *msg = plain_message("mallory", PASSWORD);
	struct sasl_exchange *x;

	server_up();
	x = start("PLAIN", msg, &o);
	ck_assert_int_eq(o.verdict, SASL_FAILURE);
	/* Not "user not found": the reason reaches the client. */
	ck_assert_str_eq(o.reason, "authentication failure");
	cyrus->end(x);
	outcome_clear(&o);
	free(msg);
	server_down();
}
END_TEST

START_TEST(login_two_challenges)
{
	struct outcome o = { 0 };
	struct sasl_exchange *x;

	server_up();
	x = start("LOGIN", NULL, &o);
	ck_assert_int_eq(o.verdict, SASL_CONTINUE);
	ck_assert_str_eq(o.challenge, "VXNlcm5hbWU6");	/* Username: */
	step(x, "alice", &o);
	ck_assert_int_eq(o.verdict, SASL_CONTINUE);
	ck_assert_str_eq(o.challenge, "UGFzc3dvcmQ6");	/* Password: */
	step(x, PASSWORD, &o);
	ck_assert_int_eq(o.verdict, SASL_SUCCESS);
	ck_assert_str_eq(o.username, "alice@" REALM);
	cyrus->end(x);
	outcome_clear(&o);
	server_down();
}
END_TEST

/* RFC 2195: "user hex(HMAC-MD5(password, challenge))". */
static char *
cram_md5_response(const char *b64_challenge, const char *user,
    const char *password)
{
	unsigned char challenge[512], digest[EVP_MAX_MD_SIZE];
	unsigned digest_len = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	int n = EVP_DecodeBlock(challenge, (const unsigned char *)b64_challenge,
	    (int)strlen(b64_challenge));

	ck_assert_int_gt(n, 0);
	/* EVP_DecodeBlock counts the padding as bytes. */
	for (const char *p = b64_challenge + strlen(b64_challenge);
	    p > b64_challenge && p[-1] == '='; p--)
		n--;
	ck_assert_ptr_nonnull(HMAC(EVP_md5(), password, (int)strlen(password),
	    challenge, (size_t)n, digest, &digest_len));
	for (unsigned i = 0; i < digest_len; i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	return xasprintf("%s %s", user, hex);
}

START_TEST(cram_md5)
{
	struct outcome o = { 0 };
	struct sasl_exchange *x;
	char *response;

	server_up();
	x = start("CRAM-MD5", NULL, &o);
	ck_assert_int_eq(o.verdict, SASL_CONTINUE);
	ck_assert_str_ne(o.challenge, "");
	response = cram_md5_response(o.challenge, "alice", PASSWORD);
	step(x, response, &o);
	free(response);
	ck_assert_int_eq(o.verdict, SASL_SUCCESS);
	ck_assert_str_eq(o.username, "alice@" REALM);
	cyrus->end(x);

	/* The digest of another password does not do. */
	outcome_clear(&o);
	x = start("CRAM-MD5", NULL, &o);
	ck_assert_int_eq(o.verdict, SASL_CONTINUE);
	response = cram_md5_response(o.challenge, "alice", "wrong");
	step(x, response, &o);
	free(response);
	ck_assert_int_eq(o.verdict, SASL_FAILURE);
	ck_assert_str_eq(o.reason, "authentication failure");
	cyrus->end(x);
	outcome_clear(&o);
	server_down();
}
END_TEST

START_TEST(bad_base64_is_a_protocol_error)
{
	struct outcome o = { 0 };
	struct sasl_exchange *x;

	server_up();
	/* Found before the library is called: answered at once. */
	x = cyrus->start(server, &client, "PLAIN", "!!!!", on_result, &o);
	ck_assert_int_eq(o.calls, 1);
	ck_assert_int_eq(o.verdict, SASL_BADPROTO);
	ck_assert_uint_eq(offload_pending(), 0);
	cyrus->end(x);

	outcome_clear(&o);
	x = start("LOGIN", NULL, &o);
	ck_assert_int_eq(o.verdict, SASL_CONTINUE);
	o.calls = 0;
	cyrus->step(x, "YWxp*2U=");
	ck_assert_int_eq(o.calls, 1);
	ck_assert_int_eq(o.verdict, SASL_BADPROTO);
	cyrus->end(x);
	outcome_clear(&o);
	server_down();
}
END_TEST

/* A password server that cannot be reached is the library's SASL_FAIL:
 * 454, try again later, not 535. */
/* Base64, but not a PLAIN message: the library's SASL_BADPROT, a failed
 * login (535) as in Postfix. */
START_TEST(malformed_message_fails)
{
	struct outcome o = { 0 };
	char raw[] = "\0alice";
	char *msg = b64(raw, sizeof(raw) - 1);
	struct sasl_exchange *x;

	server_up();
	x = start("PLAIN", msg, &o);
	ck_assert_int_eq(o.verdict, SASL_FAILURE);
	ck_assert_str_eq(o.reason, "bad protocol / cancel");
	cyrus->end(x);
	outcome_clear(&o);
	free(msg);
	server_down();
}
END_TEST

START_TEST(saslauthd_unreachable_is_a_tempfail)
{
	struct outcome o = { 0 };
	char *msg = plain_message("alice", PASSWORD), *log;
	struct sasl_exchange *x;

	server_up_with(saslauthd_dir, "");
	tu_capture_begin();
	x = start("PLAIN", msg, &o);
	log = tu_capture_end();
	ck_assert_int_eq(o.verdict, SASL_TEMPFAIL);
	ck_assert_str_eq(o.reason, "generic failure");
	ck_assert_msg(strstr(log, "cannot connect to saslauthd") != NULL,
	    "log: %s", log);
	cyrus->end(x);
	outcome_clear(&o);
	free(log);
	free(msg);
	server_down();
}
END_TEST

START_TEST(end_while_the_library_works)
{
	struct outcome o = { 0 };
	char *msg = plain_message("alice", PASSWORD);
	struct sasl_exchange *x;
	struct timeval step_time = { 0, 10 * 1000 };
	time_t deadline = time(NULL) + 20;

	server_up();
	x = cyrus->start(server, &client, "PLAIN", msg, on_result, &o);
	ck_assert_uint_eq(offload_pending(), 1);
	/* The session goes away: the job finishes, nobody is told, the
	 * exchange is freed (LeakSanitizer would see it otherwise). */
	cyrus->end(x);
	while (offload_pending() > 0) {
		ck_assert_msg(time(NULL) < deadline, "job never came back");
		event_base_loopexit(base, &step_time);
		event_base_dispatch(base);
	}
	ck_assert_int_eq(o.calls, 0);
	free(msg);
	server_down();
}
END_TEST

START_TEST(config_path_without_the_application_file)
{
	char *err = NULL, *main_cf;
	struct conf *c;

	main_cf = xasprintf("cyrus_sasl_config_path = %s\n", empty_dir);
	c = tu_conf_load(main_cf);
	ck_assert_ptr_null(cyrus->server_new(c, &err));
	ck_assert_msg(strstr(err, "main.cf:1: cyrus_sasl_config_path: "
	    "no smtpd.conf in ") != NULL, "err: %s", err);
	free(err);
	conf_free(c);
	free(main_cf);
}
END_TEST

START_TEST(one_library_configuration_per_process)
{
	char *err = NULL, *main_cf;
	struct conf *c;
	struct sasl_server *other;

	server_up();
	tu_run(config_dir, "cp smtpd.conf submission.conf");
	main_cf = xasprintf("cyrus_sasl_config_path = %s\n"
	    "smtpd_sasl_path = submission\n", config_dir);
	c = tu_conf_load(main_cf);
	other = cyrus->server_new(c, &err);
	ck_assert_msg(other != NULL, "server_new: %s", err);
	ck_assert_int_eq(cyrus->server_attach(other, base, &err), -1);
	ck_assert_msg(strstr(err, "smtpd_sasl_path = submission") != NULL,
	    "err: %s", err);
	free(err);
	cyrus->server_free(other);
	conf_free(c);
	free(main_cf);
	server_down();
}
END_TEST

static Suite *
sasl_cyrus_suite(void)
{
	Suite *s = suite_create("sasl_cyrus");
	TCase *tc = tcase_create("cyrus");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, mechanisms_from_the_library);
	tcase_add_test(tc, plain_initial_response);
	tcase_add_test(tc, plain_in_the_default_realm);
	tcase_add_test(tc, plain_after_empty_challenge);
	tcase_add_test(tc, plain_wrong_password);
	tcase_add_test(tc, unknown_user_fails_like_a_wrong_password);
	tcase_add_test(tc, login_two_challenges);
	tcase_add_test(tc, cram_md5);
	tcase_add_test(tc, bad_base64_is_a_protocol_error);
	tcase_add_test(tc, malformed_message_fails);
	tcase_add_test(tc, saslauthd_unreachable_is_a_tempfail);
	tcase_add_test(tc, end_while_the_library_works);
	tcase_add_test(tc, config_path_without_the_application_file);
	tcase_add_test(tc, one_library_configuration_per_process);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN_WITH(sasl_cyrus_suite, make_sasl_config, NULL)
