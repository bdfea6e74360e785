/* check_smtp_sasl: the client's SMTP AUTH (src/smtp/smtp_sasl.c): the
 * PLAIN and LOGIN encodings, the order of password lookups, the security
 * options and the mechanism filter, and a session's login step by step
 * with the bytes it writes read back from the other end of a bufferevent
 * pair -- in particular that no password leaves without TLS under the
 * default options. End to end against aiosmtpd: see
 * tests/integration/test_smarthost.py. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/smtp.h"
#include "tlsrelay/tls.h"
#include "tlsrelay/util.h"
#include "smtp_int.h"
#include "testutil.h"

/* ---- helpers ------------------------------------------------------------- */

static struct smtp_sasl *
sasl_from(struct conf *conf)
{
	char *err = NULL;
	struct smtp_sasl *sasl = smtp_sasl_new(conf, &err);

	ck_assert_msg(sasl != NULL, "smtp_sasl_new: %s", err ? err : "NULL");
	return sasl;
}

/* The error smtp_sasl_new gives for main_cf (caller frees). */
static char *
sasl_error(const char *main_cf)
{
	struct conf *conf = tu_conf_load(main_cf);
	char *err = NULL;
	struct smtp_sasl *sasl = smtp_sasl_new(conf, &err);

	ck_assert_ptr_null(sasl);
	ck_assert_ptr_nonnull(err);
	conf_free(conf);
	return err;
}

static void
reply_set(struct smtp_reply *r, const char *const *lines)
{
	memset(r, 0, sizeof(*r));
	for (size_t i = 0; lines[i] != NULL; i++) {
		enum smtp_reply_status st = smtp_reply_feed(r, lines[i]);

		ck_assert_int_eq(st, lines[i + 1] ? SMTP_REPLY_MORE :
		    SMTP_REPLY_DONE);
	}
}

static void
reply_one(struct smtp_reply *r, const char *line)
{
	const char *lines[] = { line, NULL };

	reply_set(r, lines);
}

#define ENABLED	"smtp_sasl_auth_enable = yes\n"

/* ---- encoding ------------------------------------------------------------ */

START_TEST(test_base64)
{
	char *s;

	s = smtp_sasl_base64("", 0);
	ck_assert_str_eq(s, "");
	free(s);
	s = smtp_sasl_base64("f", 1);
	ck_assert_str_eq(s, "Zg==");
	free(s);
	s = smtp_sasl_base64("fo", 2);
	ck_assert_str_eq(s, "Zm8=");
	free(s);
	s = smtp_sasl_base64("foobar", 6);
	ck_assert_str_eq(s, "Zm9vYmFy");
	free(s);
	/* Long input: no line breaks (EVP_EncodeUpdate would add some). */
	{
		char in[300];

		memset(in, 'x', sizeof(in));
		s = smtp_sasl_base64(in, sizeof(in));
		ck_assert_uint_eq(strlen(s), 400);
		ck_assert_ptr_null(strchr(s, '\n'));
		free(s);
	}
}
END_TEST

START_TEST(test_plain_response)
{
	char *s;

	/* base64("\0user\0pass") */
	s = smtp_sasl_plain_response("user:pass");
	ck_assert_str_eq(s, "AHVzZXIAcGFzcw==");
	free(s);
	/* Split at the first ':': the password keeps the others. */
	s = smtp_sasl_plain_response("u@example.com:p:a:ss");
	ck_assert_str_eq(s, "AHVAZXhhbXBsZS5jb20AcDphOnNz");
	free(s);
	/* No ':' at all: an empty password, as in Postfix. */
	s = smtp_sasl_plain_response("lonely");
	ck_assert_str_eq(s, "AGxvbmVseQA=");
	free(s);
	/* Empty user name and UTF-8 survive. */
	s = smtp_sasl_plain_response(":gr\xc3\xbc\xc3\x9f");
	ck_assert_str_eq(s, "AABncsO8w58=");
	free(s);
}
END_TEST

/* ---- the protocol alone -------------------------------------------------- */

START_TEST(test_exchange_plain)
{
	struct smtp_sasl_session s = { 0 };
	struct smtp_reply r;
	char *line;

	s.mech = "PLAIN";
	s.cred = xstrdup("user:pass");
	ck_assert_int_eq(smtp_sasl_exchange(&s, NULL, &line), SMTP_SASL_SEND);
	ck_assert_str_eq(line, "AUTH PLAIN AHVzZXIAcGFzcw==");
	free(line);
	reply_one(&r, "235 2.7.0 Authentication successful");
	ck_assert_int_eq(smtp_sasl_exchange(&s, &r, &line), SMTP_SASL_DONE);
	ck_assert_ptr_null(line);
	smtp_reply_clear(&r);

	/* Refused, and a challenge PLAIN has no answer to. */
	ck_assert_int_eq(smtp_sasl_exchange(&s, NULL, &line), SMTP_SASL_SEND);
	free(line);
	reply_one(&r, "535 5.7.8 Authentication credentials invalid");
	ck_assert_int_eq(smtp_sasl_exchange(&s, &r, &line),
	    SMTP_SASL_REFUSED);
	smtp_reply_clear(&r);
	reply_one(&r, "334 ");
	ck_assert_int_eq(smtp_sasl_exchange(&s, &r, &line), SMTP_SASL_FAILED);
	ck_assert_ptr_null(line);
	smtp_reply_clear(&r);
	smtp_sasl_session_clear(&s);
}
END_TEST

START_TEST(test_exchange_login)
{
	struct smtp_sasl_session s = { 0 };
	struct smtp_reply r;
	char *line;

	s.mech = "LOGIN";
	s.cred = xstrdup("user:pa:ss");
	ck_assert_int_eq(smtp_sasl_exchange(&s, NULL, &line), SMTP_SASL_SEND);
	ck_assert_str_eq(line, "AUTH LOGIN");
	free(line);
	/* "Username:" */
	reply_one(&r, "334 VXNlcm5hbWU6");
	ck_assert_int_eq(smtp_sasl_exchange(&s, &r, &line), SMTP_SASL_SEND);
	ck_assert_str_eq(line, "dXNlcg==");
	free(line);
	smtp_reply_clear(&r);
	/* "Password:" */
	reply_one(&r, "334 UGFzc3dvcmQ6");
	ck_assert_int_eq(smtp_sasl_exchange(&s, &r, &line), SMTP_SASL_SEND);
	ck_assert_str_eq(line, "cGE6c3M=");
	free(line);
	smtp_reply_clear(&r);
	/* A third challenge is not LOGIN. */
	reply_one(&r, "334 VXNlcm5hbWU6");
	ck_assert_int_eq(smtp_sasl_exchange(&s, &r, &line), SMTP_SASL_FAILED);
	smtp_reply_clear(&r);
	reply_one(&r, "235 2.7.0 Authentication successful");
	ck_assert_int_eq(smtp_sasl_exchange(&s, &r, &line), SMTP_SASL_DONE);
	smtp_reply_clear(&r);
	reply_one(&r, "454 4.7.0 Temporary authentication failure");
	ck_assert_int_eq(smtp_sasl_exchange(&s, &r, &line),
	    SMTP_SASL_REFUSED);
	smtp_reply_clear(&r);
	smtp_sasl_session_clear(&s);
	ck_assert_ptr_null(s.cred);
}
END_TEST

/* ---- EHLO ---------------------------------------------------------------- */

START_TEST(test_ehlo_mechanisms)
{
	const char *both[] = { "250-mx.example", "250-PIPELINING",
	    "250-AUTH PLAIN LOGIN", "250-AUTH=LOGIN", "250 SIZE 1000", NULL };
	const char *none[] = { "250-mx.example", "250-AUTHX PLAIN",
	    "250 STARTTLS", NULL };
	const char *empty[] = { "250-mx.example", "250 AUTH", NULL };
	const char *greeting_only[] = { "250 AUTH PLAIN", NULL };
	struct smtp_sasl_session s = { 0 };
	struct smtp_reply r;

	reply_set(&r, both);
	smtp_sasl_ehlo(&s, &r);
	smtp_reply_clear(&r);
	ck_assert_int_eq(s.offered, 1);
	ck_assert_uint_eq(s.n_mechs, 3);
	ck_assert_str_eq(s.mechs[0], "PLAIN");
	ck_assert_str_eq(s.mechs[1], "LOGIN");
	ck_assert_str_eq(s.mechs[2], "LOGIN");

	/* A later EHLO (after STARTTLS) replaces the list. */
	reply_set(&r, none);
	smtp_sasl_ehlo(&s, &r);
	smtp_reply_clear(&r);
	ck_assert_int_eq(s.offered, 0);
	ck_assert_uint_eq(s.n_mechs, 0);

	reply_set(&r, empty);
	smtp_sasl_ehlo(&s, &r);
	smtp_reply_clear(&r);
	ck_assert_int_eq(s.offered, 1);
	ck_assert_uint_eq(s.n_mechs, 0);

	/* The first line is the server's name, not an extension. */
	reply_set(&r, greeting_only);
	smtp_sasl_ehlo(&s, &r);
	smtp_reply_clear(&r);
	ck_assert_int_eq(s.offered, 0);
	smtp_sasl_session_clear(&s);
}
END_TEST

/* ---- settings ------------------------------------------------------------ */

START_TEST(test_options_parse)
{
	unsigned opts;
	char *err = NULL;

	ck_assert_int_eq(smtp_sasl_parse_options("x", "noplaintext, "
	    "noanonymous", &opts, &err), 0);
	ck_assert_uint_eq(opts, SMTP_SASL_NOPLAINTEXT | SMTP_SASL_NOANONYMOUS);
	ck_assert_int_eq(smtp_sasl_parse_options("x", "", &opts, &err), 0);
	ck_assert_uint_eq(opts, 0);
	ck_assert_int_eq(smtp_sasl_parse_options("x", "NoActive\tnodictionary"
	    " mutual_auth,forward_secrecy", &opts, &err), 0);
	ck_assert_uint_eq(opts, SMTP_SASL_NOACTIVE | SMTP_SASL_NODICTIONARY |
	    SMTP_SASL_MUTUAL_AUTH | SMTP_SASL_FORWARD_SECRECY);
	ck_assert_int_eq(smtp_sasl_parse_options("smtp_sasl_security_options",
	    "noanonymous, noplaintxt", &opts, &err), -1);
	ck_assert_str_eq(err, "unknown smtp_sasl_security_options value "
	    "\"noplaintxt\" in \"noanonymous, noplaintxt\"");
	free(err);
}
END_TEST

START_TEST(test_settings)
{
	struct conf *conf;
	struct smtp_sasl *sasl;
	char *err = NULL;

	/* Off: no object, no error. */
	conf = tu_conf_load("smtp_sasl_password_maps = inline:{ a=b:c }\n");
	ck_assert_ptr_null(smtp_sasl_new(conf, &err));
	ck_assert_ptr_null(err);
	conf_free(conf);

	/* Postfix's defaults: the same options with and without TLS. */
	conf = tu_conf_load(ENABLED
	    "smtp_sasl_password_maps = inline:{ a=b:c }\n");
	sasl = sasl_from(conf);
	ck_assert_uint_eq(smtp_sasl_options(sasl, 0, 0),
	    SMTP_SASL_NOPLAINTEXT | SMTP_SASL_NOANONYMOUS);
	ck_assert_uint_eq(smtp_sasl_options(sasl, 1, 0),
	    SMTP_SASL_NOPLAINTEXT | SMTP_SASL_NOANONYMOUS);
	ck_assert_uint_eq(smtp_sasl_options(sasl, 1, 1),
	    SMTP_SASL_NOPLAINTEXT | SMTP_SASL_NOANONYMOUS);
	smtp_sasl_free(sasl);
	conf_free(conf);

	/* The recipe: TLS sessions (and, by default, verified ones) may. */
	conf = tu_conf_load(ENABLED
	    "smtp_sasl_password_maps = inline:{ a=b:c }\n"
	    "smtp_sasl_tls_security_options = noanonymous\n");
	sasl = sasl_from(conf);
	ck_assert_uint_eq(smtp_sasl_options(sasl, 0, 0),
	    SMTP_SASL_NOPLAINTEXT | SMTP_SASL_NOANONYMOUS);
	ck_assert_uint_eq(smtp_sasl_options(sasl, 1, 0),
	    SMTP_SASL_NOANONYMOUS);
	ck_assert_uint_eq(smtp_sasl_options(sasl, 1, 1),
	    SMTP_SASL_NOANONYMOUS);
	smtp_sasl_free(sasl);
	conf_free(conf);

	/* Only with a verified server certificate. */
	conf = tu_conf_load(ENABLED
	    "smtp_sasl_password_maps = inline:{ a=b:c }\n"
	    "smtp_sasl_tls_verified_security_options = noanonymous\n");
	sasl = sasl_from(conf);
	ck_assert_uint_eq(smtp_sasl_options(sasl, 1, 0),
	    SMTP_SASL_NOPLAINTEXT | SMTP_SASL_NOANONYMOUS);
	ck_assert_uint_eq(smtp_sasl_options(sasl, 1, 1),
	    SMTP_SASL_NOANONYMOUS);
	smtp_sasl_free(sasl);
	conf_free(conf);

	/* Settings that cannot work stop the pool. */
	err = sasl_error(ENABLED);
	ck_assert_str_eq(err, "smtp_sasl_auth_enable = yes needs a password "
	    "table in smtp_sasl_password_maps");
	free(err);
	err = sasl_error(ENABLED "smtp_sasl_password_maps = inline:{ a=b }\n"
	    "smtp_sasl_tls_security_options = noanonymous, bogus\n");
	ck_assert_ptr_nonnull(strstr(err, "unknown "
	    "smtp_sasl_tls_security_options value \"bogus\""));
	free(err);
	err = sasl_error(ENABLED "smtp_sasl_password_maps = inline:{ a=b }\n"
	    "smtp_sasl_mechanism_filter = plain, hash:/etc/mechs\n");
	ck_assert_ptr_nonnull(strstr(err, "hash:/etc/mechs"));
	free(err);
	err = sasl_error(ENABLED "smtp_sasl_password_maps = "
	    "hash:/nonexistent/sasl_passwd\n");
	ck_assert_msg(strncmp(err, "smtp_sasl_password_maps: ", 25) == 0,
	    "%s", err);
	free(err);
}
END_TEST

/* ---- mechanisms ---------------------------------------------------------- */

static const char *
choose(const char *filter, const char *offered_words, unsigned opts)
{
	static char buf[32];
	char *main_cf = xasprintf(ENABLED "smtp_sasl_password_maps = "
	    "inline:{ a=b }\nsmtp_sasl_mechanism_filter = %s\n", filter);
	struct conf *conf = tu_conf_load(main_cf);
	struct smtp_sasl *sasl = sasl_from(conf);
	size_t n;
	char **offered = strlist_split(offered_words, " ", &n);
	const char *mech = smtp_sasl_choose(sasl, offered, n, opts);

	snprintf(buf, sizeof(buf), "%s", mech ? mech : "(none)");
	strlist_free(offered);
	smtp_sasl_free(sasl);
	conf_free(conf);
	free(main_cf);
	return buf;
}

START_TEST(test_choose)
{
	/* PLAIN first, whatever the server's order; names in any case. */
	ck_assert_str_eq(choose("", "LOGIN CRAM-MD5 PLAIN", 0), "PLAIN");
	ck_assert_str_eq(choose("", "login plain", 0), "PLAIN");
	ck_assert_str_eq(choose("", "CRAM-MD5 LOGIN", 0), "LOGIN");
	ck_assert_str_eq(choose("", "CRAM-MD5 SCRAM-SHA-256", 0), "(none)");
	ck_assert_str_eq(choose("", "", 0), "(none)");
	/* Options: only noanonymous leaves PLAIN and LOGIN usable. */
	ck_assert_str_eq(choose("", "PLAIN LOGIN", SMTP_SASL_NOANONYMOUS),
	    "PLAIN");
	ck_assert_str_eq(choose("", "PLAIN LOGIN", SMTP_SASL_NOPLAINTEXT),
	    "(none)");
	ck_assert_str_eq(choose("", "PLAIN LOGIN", SMTP_SASL_NOPLAINTEXT |
	    SMTP_SASL_NOANONYMOUS), "(none)");
	ck_assert_str_eq(choose("", "PLAIN LOGIN", SMTP_SASL_NOACTIVE),
	    "(none)");
	ck_assert_str_eq(choose("", "PLAIN LOGIN", SMTP_SASL_NODICTIONARY),
	    "(none)");
	ck_assert_str_eq(choose("", "PLAIN LOGIN", SMTP_SASL_MUTUAL_AUTH),
	    "(none)");
	ck_assert_str_eq(choose("", "PLAIN LOGIN",
	    SMTP_SASL_FORWARD_SECRECY), "(none)");
	/* The filter: first match decides, no match means no. */
	ck_assert_str_eq(choose("login", "PLAIN LOGIN", 0), "LOGIN");
	ck_assert_str_eq(choose("LOGIN, plain", "PLAIN LOGIN", 0), "PLAIN");
	ck_assert_str_eq(choose("!plain, login", "PLAIN LOGIN", 0), "LOGIN");
	ck_assert_str_eq(choose("!plain", "PLAIN LOGIN", 0), "(none)");
	ck_assert_str_eq(choose("cram-md5", "PLAIN LOGIN CRAM-MD5", 0),
	    "(none)");
}
END_TEST

START_TEST(test_filtered)
{
	struct conf *conf = tu_conf_load(ENABLED "smtp_sasl_password_maps = "
	    "inline:{ a=b }\nsmtp_sasl_mechanism_filter = !gssapi, login, "
	    "cram-md5\n");
	struct smtp_sasl *sasl = sasl_from(conf);
	char *offered[] = { "GSSAPI", "LOGIN", "CRAM-MD5", "PLAIN" };

	ck_assert_uint_eq(smtp_sasl_filtered(sasl, offered, 4), 2);
	ck_assert_uint_eq(smtp_sasl_filtered(sasl, offered, 1), 0);
	smtp_sasl_free(sasl);
	conf_free(conf);
}
END_TEST

/* ---- passwords ----------------------------------------------------------- */

static char *
lookup(struct smtp_sasl *sasl, const char *host, const char *nexthop)
{
	int error = 1;
	char *v = smtp_sasl_lookup(sasl, host, nexthop, &error);

	ck_assert_int_eq(error, 0);
	return v ? v : xstrdup("(none)");
}

#define CHECK_LOOKUP(sasl, host, nexthop, want) do {			\
	char *v_ = lookup((sasl), (host), (nexthop));			\
	ck_assert_str_eq(v_, (want));					\
	free(v_);							\
} while (0)

START_TEST(test_lookup_order)
{
	struct conf *conf = tu_conf_load(ENABLED "smtp_sasl_password_maps = "
	    "inline:{ smtp.example.com=byhost:1, "
	    "[smtp.example.com]:587=byhop:2, "
	    "[submit.example.net]:587=hop-only:3, "
	    "mx1.example.org=mx:4, "
	    "example.org=domain:5, "
	    "example.edu=domain:6 }, "
	    "inline:{ example.edu=second-table:7, other.test=second:8 }\n");
	struct smtp_sasl *sasl = sasl_from(conf);

	/* Postfix: the server's name first, then the next hop as written. */
	CHECK_LOOKUP(sasl, "smtp.example.com", "[smtp.example.com]:587",
	    "byhost:1");
	CHECK_LOOKUP(sasl, "submit.example.net", "[submit.example.net]:587",
	    "hop-only:3");
	/* The next hop is the key as written: brackets and port count. */
	CHECK_LOOKUP(sasl, "submit.example.net", "[submit.example.net]",
	    "(none)");
	CHECK_LOOKUP(sasl, "submit.example.net", "submit.example.net:587",
	    "(none)");
	/* MX delivery: the MX host, then the domain. */
	CHECK_LOOKUP(sasl, "mx1.example.org", "example.org", "mx:4");
	CHECK_LOOKUP(sasl, "mx2.example.org", "example.org", "domain:5");
	/* Keys are case-insensitive. */
	CHECK_LOOKUP(sasl, "MX2.Example.ORG", "EXAMPLE.org", "domain:5");
	/* Tables in order: the first that knows the key answers. */
	CHECK_LOOKUP(sasl, "mx.example.edu", "example.edu", "domain:6");
	CHECK_LOOKUP(sasl, "mx.other.test", "other.test", "second:8");
	/* No parent domains, no other forms. */
	CHECK_LOOKUP(sasl, "mx.sub.example.org", "sub.example.org",
	    "(none)");
	CHECK_LOOKUP(sasl, "127.0.0.1", "[127.0.0.1]:2526", "(none)");
	smtp_sasl_free(sasl);
	conf_free(conf);
}
END_TEST

/* ---- one session's login ------------------------------------------------- */

struct fixture {
	struct event_base *base;
	int peer;		/* the server's end of the socket pair */
	struct conf *conf;
	struct smtp_pool pool;
	struct smtp_conn conn;
	struct smtp_job job;
	struct smtp_run run;
};

/* A connection to mx.example[192.0.2.1]:587 for next hop
 * [mx.example]:587 whose EHLO offered ehlo_auth (an AUTH line, or NULL),
 * with the other end of its socket kept to read what it sent. */
static void
fixture_init(struct fixture *f, const char *main_cf, const char *ehlo_auth,
    int tls_active, int tls_level)
{
	const char *lines[] = { "250-mx.example", ehlo_auth ? ehlo_auth :
	    "250-PIPELINING", "250 8BITMIME", NULL };
	static const struct conn_callbacks none;
	struct smtp_reply r;
	char *err = NULL;
	int sv[2];

	memset(f, 0, sizeof(*f));
	f->base = event_base_new();
	ck_assert_ptr_nonnull(f->base);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sv), 0);
	f->peer = sv[1];
	f->conf = tu_conf_load(main_cf);
	f->pool.base = f->base;
	f->pool.conf = f->conf;
	f->pool.set.helo_timeout = 300;
	f->pool.sasl = smtp_sasl_new(f->conf, &err);
	ck_assert_msg(err == NULL, "%s", err);
	f->job.queue_id = "4ABCDEF";
	f->job.nexthop = "[mx.example]:587";
	f->run.job = &f->job;
	f->conn.pool = &f->pool;
	f->conn.run = &f->run;
	f->conn.io = conn_new(f->base, sv[0], "mx.example[192.0.2.1]:587",
	    "smtp", &none, NULL);
	f->conn.hostname = xstrdup("mx.example");
	f->conn.label = xstrdup("mx.example[192.0.2.1]");
	f->conn.relay = xstrdup("mx.example[192.0.2.1]:587");
	f->conn.state = CS_EHLO;
	f->conn.esmtp = 1;
	f->conn.tls_active = tls_active;
	f->conn.tls_level = tls_level;
	reply_set(&r, lines);
	smtp_sasl_ehlo(&f->conn.sasl, &r);
	smtp_reply_clear(&r);
}

static void
fixture_free(struct fixture *f)
{
	smtp_sasl_session_clear(&f->conn.sasl);
	free(f->conn.hostname);
	free(f->conn.label);
	free(f->conn.relay);
	conn_abort(f->conn.io);
	close(f->peer);
	smtp_sasl_free(f->pool.sasl);
	conf_free(f->conf);
	event_base_free(f->base);
}

/* Everything the session wrote so far (caller frees). */
static char *
sent(struct fixture *f)
{
	char buf[4096];
	ssize_t n;

	event_base_loop(f->base, EVLOOP_NONBLOCK);
	n = recv(f->peer, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	return xstrdup(buf);
}

static enum smtp_sasl_status
step(struct fixture *f, const char *reply_line, char dsn[16], char **reason)
{
	struct smtp_reply r;
	enum smtp_sasl_status st;

	if (reply_line == NULL)
		return smtp_sasl_step(&f->conn, NULL, dsn, reason);
	reply_one(&r, reply_line);
	st = smtp_sasl_step(&f->conn, &r, dsn, reason);
	smtp_reply_clear(&r);
	return st;
}

#define PASSWORDS "smtp_sasl_password_maps = inline:{ " \
	"[mx.example]:587=joe:s3cret:x }\n"
#define TLS_OK	"smtp_sasl_tls_security_options = noanonymous\n"

START_TEST(test_session_plaintext_refused)
{
	struct fixture f;
	char dsn[16] = "", *reason = NULL, *out;

	/* Default options, no TLS, the server offers both: nothing is sent
	 * and the server is given up with Postfix's reason. */
	fixture_init(&f, ENABLED PASSWORDS TLS_OK, "250-AUTH PLAIN LOGIN", 0,
	    TLS_LEV_MAY);
	ck_assert_int_eq(step(&f, NULL, dsn, &reason), SMTP_SASL_FAILED);
	ck_assert_str_eq(dsn, "4.7.0");
	ck_assert_str_eq(reason, "SASL authentication failed; cannot "
	    "authenticate to server mx.example[192.0.2.1]: no mechanism "
	    "available");
	out = sent(&f);
	ck_assert_str_eq(out, "");
	free(out);
	free(reason);
	fixture_free(&f);

	/* Postfix's defaults refuse under TLS too. */
	fixture_init(&f, ENABLED PASSWORDS, "250-AUTH PLAIN LOGIN", 1,
	    TLS_LEV_ENCRYPT);
	ck_assert_int_eq(step(&f, NULL, dsn, &reason), SMTP_SASL_FAILED);
	ck_assert_ptr_nonnull(strstr(reason, "no mechanism available"));
	out = sent(&f);
	ck_assert_str_eq(out, "");
	free(out);
	free(reason);
	fixture_free(&f);

	/* Allowed in the clear only when the options say so. */
	fixture_init(&f, ENABLED PASSWORDS
	    "smtp_sasl_security_options = noanonymous\n",
	    "250-AUTH PLAIN LOGIN", 0, TLS_LEV_NONE);
	ck_assert_int_eq(step(&f, NULL, dsn, &reason), SMTP_SASL_SEND);
	out = sent(&f);
	ck_assert_str_eq(out, "AUTH PLAIN AGpvZQBzM2NyZXQ6eA==\r\n");
	free(out);
	fixture_free(&f);
}
END_TEST

START_TEST(test_session_plain)
{
	struct fixture f;
	char dsn[16] = "", *reason = NULL, *out;

	fixture_init(&f, ENABLED PASSWORDS TLS_OK, "250-AUTH LOGIN PLAIN", 1,
	    TLS_LEV_ENCRYPT);
	ck_assert_int_eq(step(&f, NULL, dsn, &reason), SMTP_SASL_SEND);
	ck_assert_int_eq(f.conn.state, CS_AUTH);
	ck_assert_str_eq(f.conn.sasl.mech, "PLAIN");
	out = sent(&f);
	/* base64("\0joe\0s3cret:x") */
	ck_assert_str_eq(out, "AUTH PLAIN AGpvZQBzM2NyZXQ6eA==\r\n");
	free(out);
	ck_assert_int_eq(step(&f, "235 2.7.0 Authentication successful", dsn,
	    &reason), SMTP_SASL_DONE);
	ck_assert_ptr_null(reason);
	ck_assert_str_eq(f.conn.sasl.cred, "joe:s3cret:x");
	fixture_free(&f);
}
END_TEST

START_TEST(test_session_login)
{
	struct fixture f;
	char dsn[16] = "", *reason = NULL, *out;

	fixture_init(&f, ENABLED PASSWORDS TLS_OK, "250-AUTH=LOGIN", 1,
	    TLS_LEV_ENCRYPT);
	ck_assert_int_eq(step(&f, NULL, dsn, &reason), SMTP_SASL_SEND);
	out = sent(&f);
	ck_assert_str_eq(out, "AUTH LOGIN\r\n");
	free(out);
	ck_assert_int_eq(step(&f, "334 VXNlcm5hbWU6", dsn, &reason),
	    SMTP_SASL_SEND);
	out = sent(&f);
	ck_assert_str_eq(out, "am9l\r\n");
	free(out);
	ck_assert_int_eq(step(&f, "334 UGFzc3dvcmQ6", dsn, &reason),
	    SMTP_SASL_SEND);
	out = sent(&f);
	ck_assert_str_eq(out, "czNjcmV0Ong=\r\n");
	free(out);
	ck_assert_int_eq(step(&f, "235 2.7.0 Authentication successful", dsn,
	    &reason), SMTP_SASL_DONE);
	fixture_free(&f);
}
END_TEST

START_TEST(test_session_refused)
{
	struct fixture f;
	char dsn[16] = "", *reason = NULL;

	fixture_init(&f, ENABLED PASSWORDS TLS_OK, "250-AUTH PLAIN", 1,
	    TLS_LEV_ENCRYPT);
	ck_assert_int_eq(step(&f, NULL, dsn, &reason), SMTP_SASL_SEND);
	/* 535 is deferred (smtp_sasl_auth_soft_bounce = yes). */
	ck_assert_int_eq(step(&f, "535 5.7.8 Authentication credentials "
	    "invalid", dsn, &reason), SMTP_SASL_REFUSED);
	ck_assert_str_eq(dsn, "4.7.8");
	ck_assert_str_eq(reason, "SASL authentication failed; server "
	    "mx.example[192.0.2.1] said: 535 5.7.8 Authentication "
	    "credentials invalid");
	free(reason);
	fixture_free(&f);

	fixture_init(&f, ENABLED PASSWORDS TLS_OK, "250-AUTH PLAIN", 1,
	    TLS_LEV_ENCRYPT);
	ck_assert_int_eq(step(&f, NULL, dsn, &reason), SMTP_SASL_SEND);
	ck_assert_int_eq(step(&f, "334 ", dsn, &reason), SMTP_SASL_FAILED);
	ck_assert_str_eq(dsn, "4.7.0");
	ck_assert_ptr_nonnull(strstr(reason, "cannot authenticate to server "
	    "mx.example[192.0.2.1]"));
	free(reason);
	fixture_free(&f);

	/* A 3XX other than 334 is a refusal of class 4, not "3.0.0"
	 * (fuzz_smtp_sasl). */
	fixture_init(&f, ENABLED PASSWORDS TLS_OK, "250-AUTH PLAIN", 1,
	    TLS_LEV_ENCRYPT);
	ck_assert_int_eq(step(&f, NULL, dsn, &reason), SMTP_SASL_SEND);
	ck_assert_int_eq(step(&f, "354 go ahead", dsn, &reason),
	    SMTP_SASL_REFUSED);
	ck_assert_str_eq(dsn, "4.0.0");
	ck_assert_str_eq(reason, "SASL authentication failed; server "
	    "mx.example[192.0.2.1] said: 354 go ahead");
	free(reason);
	fixture_free(&f);
}
END_TEST

START_TEST(test_session_no_login)
{
	struct fixture f;
	char dsn[16] = "", *reason = NULL, *out;

	/* AUTH not offered: no login, even with a password. */
	fixture_init(&f, ENABLED PASSWORDS TLS_OK, NULL, 1, TLS_LEV_ENCRYPT);
	ck_assert_int_eq(step(&f, NULL, dsn, &reason), SMTP_SASL_DONE);
	ck_assert_int_eq(f.conn.sasl.looked_up, 0);
	fixture_free(&f);

	/* No password for this server: no login either. */
	fixture_init(&f, ENABLED "smtp_sasl_password_maps = inline:{ "
	    "other.example=a:b }\n" TLS_OK, "250-AUTH PLAIN", 1,
	    TLS_LEV_ENCRYPT);
	ck_assert_int_eq(step(&f, NULL, dsn, &reason), SMTP_SASL_DONE);
	ck_assert_int_eq(f.conn.sasl.looked_up, 1);
	ck_assert_ptr_null(f.conn.sasl.cred);
	fixture_free(&f);

	/* Off: nothing, whatever the table says. */
	fixture_init(&f, PASSWORDS TLS_OK, "250-AUTH PLAIN", 1,
	    TLS_LEV_ENCRYPT);
	ck_assert_int_eq(step(&f, NULL, dsn, &reason), SMTP_SASL_DONE);
	out = sent(&f);
	ck_assert_str_eq(out, "");
	free(out);
	fixture_free(&f);

	/* HELO session (esmtp off): no AUTH. */
	fixture_init(&f, ENABLED PASSWORDS TLS_OK, "250-AUTH PLAIN", 1,
	    TLS_LEV_ENCRYPT);
	f.conn.esmtp = 0;
	ck_assert_int_eq(step(&f, NULL, dsn, &reason), SMTP_SASL_DONE);
	fixture_free(&f);

	/* The filter leaves nothing the server offers. */
	fixture_init(&f, ENABLED PASSWORDS TLS_OK
	    "smtp_sasl_mechanism_filter = login\n", "250-AUTH PLAIN CRAM-MD5",
	    1, TLS_LEV_ENCRYPT);
	ck_assert_int_eq(step(&f, NULL, dsn, &reason), SMTP_SASL_FAILED);
	ck_assert_str_eq(reason, "SASL authentication failed: server "
	    "mx.example[192.0.2.1] offered no compatible authentication "
	    "mechanisms for this type of connection security");
	free(reason);
	fixture_free(&f);
}
END_TEST

START_TEST(test_session_verified)
{
	struct fixture f;
	char dsn[16] = "", *reason = NULL;
	const char *main_cf = ENABLED PASSWORDS
	    "smtp_sasl_tls_verified_security_options = noanonymous\n";

	fixture_init(&f, main_cf, "250-AUTH PLAIN", 1, TLS_LEV_VERIFY);
	ck_assert_int_eq(step(&f, NULL, dsn, &reason), SMTP_SASL_SEND);
	fixture_free(&f);
	fixture_init(&f, main_cf, "250-AUTH PLAIN", 1, TLS_LEV_FPRINT);
	ck_assert_int_eq(step(&f, NULL, dsn, &reason), SMTP_SASL_SEND);
	fixture_free(&f);
	/* encrypt checks no name: not verified. */
	fixture_init(&f, main_cf, "250-AUTH PLAIN", 1, TLS_LEV_ENCRYPT);
	ck_assert_int_eq(step(&f, NULL, dsn, &reason), SMTP_SASL_FAILED);
	free(reason);
	fixture_free(&f);
}
END_TEST

START_TEST(test_session_fits)
{
	struct fixture f;
	char dsn[16] = "", *reason = NULL;
	struct smtp_job job2;
	struct smtp_run run2;

	fixture_init(&f, ENABLED "smtp_sasl_password_maps = inline:{ "
	    "[mx.example]:587=joe:pw, [mx.example]:2587=ann:pw }\n" TLS_OK,
	    "250-AUTH PLAIN", 1, TLS_LEV_ENCRYPT);
	/* Not logged in yet: any run fits. */
	memset(&job2, 0, sizeof(job2));
	memset(&run2, 0, sizeof(run2));
	run2.job = &job2;
	job2.nexthop = "[mx.example]:2587";
	ck_assert_int_eq(smtp_sasl_fits(&f.conn, &run2), 1);

	ck_assert_int_eq(step(&f, NULL, dsn, &reason), SMTP_SASL_SEND);
	ck_assert_int_eq(step(&f, "235 2.7.0 Ok", dsn, &reason),
	    SMTP_SASL_DONE);
	/* Same credentials: fits; other credentials, or none: not. */
	ck_assert_int_eq(smtp_sasl_fits(&f.conn, &f.run), 1);
	ck_assert_int_eq(smtp_sasl_fits(&f.conn, &run2), 0);
	job2.nexthop = "[elsewhere.example]:587";
	ck_assert_int_eq(smtp_sasl_fits(&f.conn, &run2), 0);
	fixture_free(&f);

	/* A session that found no password fits only runs without one. */
	fixture_init(&f, ENABLED "smtp_sasl_password_maps = inline:{ "
	    "[mx.example]:2587=ann:pw }\n" TLS_OK, "250-AUTH PLAIN", 1,
	    TLS_LEV_ENCRYPT);
	ck_assert_int_eq(step(&f, NULL, dsn, &reason), SMTP_SASL_DONE);
	ck_assert_int_eq(smtp_sasl_fits(&f.conn, &f.run), 1);
	job2.nexthop = "[mx.example]:2587";
	ck_assert_int_eq(smtp_sasl_fits(&f.conn, &run2), 0);
	fixture_free(&f);
}
END_TEST

START_TEST(test_verbose_log_hides_secrets)
{
	char path[] = "/tmp/check_smtp_sasl.XXXXXX";
	struct fixture f;
	char dsn[16] = "", *reason = NULL, *err = NULL, *out, *log;
	int fd = mkstemp(path);
	FILE *fp;
	long len;

	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_msg(log_open(path, 0, "mail", &err) == 0, "%s", err);
	msg_verbose = 1;
	fixture_init(&f, ENABLED PASSWORDS TLS_OK, "250-AUTH PLAIN", 1,
	    TLS_LEV_ENCRYPT);
	ck_assert_int_eq(step(&f, NULL, dsn, &reason), SMTP_SASL_SEND);
	free(sent(&f));
	fixture_free(&f);
	fixture_init(&f, ENABLED PASSWORDS TLS_OK, "250-AUTH LOGIN", 1,
	    TLS_LEV_ENCRYPT);
	ck_assert_int_eq(step(&f, NULL, dsn, &reason), SMTP_SASL_SEND);
	ck_assert_int_eq(step(&f, "334 VXNlcm5hbWU6", dsn, &reason),
	    SMTP_SASL_SEND);
	ck_assert_int_eq(step(&f, "334 UGFzc3dvcmQ6", dsn, &reason),
	    SMTP_SASL_SEND);
	out = sent(&f);
	ck_assert_str_eq(out, "AUTH LOGIN\r\nam9l\r\nczNjcmV0Ong=\r\n");
	free(out);
	fixture_free(&f);
	log_close();
	msg_verbose = 0;

	fp = fopen(path, "r");
	ck_assert_ptr_nonnull(fp);
	fseek(fp, 0, SEEK_END);
	len = ftell(fp);
	rewind(fp);
	log = xcalloc(1, (size_t)len + 1);
	ck_assert_uint_eq(fread(log, 1, (size_t)len, fp), (size_t)len);
	fclose(fp);
	unlink(path);
	ck_assert_msg(strstr(log, "> mx.example[192.0.2.1]: AUTH PLAIN "
	    "[credentials not shown]") != NULL, "%s", log);
	ck_assert_msg(strstr(log, "> mx.example[192.0.2.1]: AUTH LOGIN\n") !=
	    NULL, "%s", log);
	/* PLAIN's response, LOGIN's user and password, the password. */
	ck_assert_ptr_null(strstr(log, "AGpvZQBzM2NyZXQ6eA"));
	ck_assert_ptr_null(strstr(log, "am9l"));
	ck_assert_ptr_null(strstr(log, "czNjcmV0Ong"));
	ck_assert_ptr_null(strstr(log, "s3cret"));
	free(log);
}
END_TEST

static Suite *
smtp_sasl_suite(void)
{
	Suite *s = suite_create("smtp_sasl");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_base64);
	tcase_add_test(tc, test_plain_response);
	tcase_add_test(tc, test_exchange_plain);
	tcase_add_test(tc, test_exchange_login);
	tcase_add_test(tc, test_ehlo_mechanisms);
	tcase_add_test(tc, test_options_parse);
	tcase_add_test(tc, test_settings);
	tcase_add_test(tc, test_choose);
	tcase_add_test(tc, test_filtered);
	tcase_add_test(tc, test_lookup_order);
	tcase_add_test(tc, test_session_plaintext_refused);
	tcase_add_test(tc, test_session_plain);
	tcase_add_test(tc, test_session_login);
	tcase_add_test(tc, test_session_refused);
	tcase_add_test(tc, test_session_no_login);
	tcase_add_test(tc, test_session_verified);
	tcase_add_test(tc, test_session_fits);
	tcase_add_test(tc, test_verbose_log_hides_secrets);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(smtp_sasl_suite)
