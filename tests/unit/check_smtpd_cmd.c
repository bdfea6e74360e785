/* Unit tests: command line splitting and MAIL FROM / RCPT TO parsing. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlsrelay/smtpd_parse.h"
#include "testutil.h"

/* ---- command lines ---- */

static void
check_command(const char *text, enum smtp_verb verb, const char *arg)
{
	char line[SMTPD_LINE_MAX + 1];
	struct smtp_command cmd;

	ck_assert_uint_lt(strlen(text), sizeof(line));
	strcpy(line, text);
	smtpd_parse_command(line, &cmd);
	ck_assert_msg(cmd.verb == verb, "\"%s\": verb %d, want %d", text,
	    (int)cmd.verb, (int)verb);
	ck_assert_str_eq(cmd.arg, arg);
	/* arg points into the line, as the header promises. */
	ck_assert(cmd.arg >= line && cmd.arg <= line + strlen(text));
}

START_TEST(test_command_verbs)
{
	check_command("EHLO client.example", SMTP_VERB_EHLO, "client.example");
	check_command("ehlo client.example", SMTP_VERB_EHLO, "client.example");
	check_command("HeLo x", SMTP_VERB_HELO, "x");
	check_command("MAIL FROM:<a@b>", SMTP_VERB_MAIL, "FROM:<a@b>");
	check_command("rcpt TO:<a@b>", SMTP_VERB_RCPT, "TO:<a@b>");
	check_command("DATA", SMTP_VERB_DATA, "");
	check_command("RSET", SMTP_VERB_RSET, "");
	check_command("NOOP", SMTP_VERB_NOOP, "");
	check_command("QUIT", SMTP_VERB_QUIT, "");
	check_command("VRFY postmaster", SMTP_VERB_VRFY, "postmaster");
	check_command("EXPN list", SMTP_VERB_EXPN, "list");
	check_command("HELP", SMTP_VERB_HELP, "");
	check_command("StartTLS", SMTP_VERB_STARTTLS, "");
	check_command("AUTH PLAIN AGFAYg==", SMTP_VERB_AUTH, "PLAIN AGFAYg==");
	check_command("BDAT 100 LAST", SMTP_VERB_BDAT, "100 LAST");
	check_command("ETRN example.com", SMTP_VERB_ETRN, "example.com");
}
END_TEST

START_TEST(test_command_whitespace)
{
	char line[64];
	struct smtp_command cmd;

	check_command("  NOOP", SMTP_VERB_NOOP, "");
	check_command("MAIL\tFROM:<a@b>", SMTP_VERB_MAIL, "FROM:<a@b>");
	check_command("MAIL    FROM:<a@b>  \t ", SMTP_VERB_MAIL, "FROM:<a@b>");
	check_command("HELO  a b  c  ", SMTP_VERB_HELO, "a b  c");
	check_command("QUIT   ", SMTP_VERB_QUIT, "");
	check_command("QUIT\r", SMTP_VERB_QUIT, "");
	check_command("", SMTP_VERB_UNKNOWN, "");
	check_command("   ", SMTP_VERB_UNKNOWN, "");

	/* The line itself is trimmed in place. */
	strcpy(line, "HELO x  ");
	smtpd_parse_command(line, &cmd);
	ck_assert_str_eq(line, "HELO x");
}
END_TEST

START_TEST(test_command_unknown)
{
	check_command("MAILFROM:<a@b>", SMTP_VERB_UNKNOWN, "");
	check_command("EHL0 x", SMTP_VERB_UNKNOWN, "x");
	check_command("GET / HTTP/1.0", SMTP_VERB_UNKNOWN, "/ HTTP/1.0");
	check_command("DATAX", SMTP_VERB_UNKNOWN, "");
	check_command("DAT", SMTP_VERB_UNKNOWN, "");
	check_command("\xff\xfe", SMTP_VERB_UNKNOWN, "");
}
END_TEST

START_TEST(test_verb_names)
{
	ck_assert_str_eq(smtpd_verb_name(SMTP_VERB_EHLO), "ehlo");
	ck_assert_str_eq(smtpd_verb_name(SMTP_VERB_HELO), "helo");
	ck_assert_str_eq(smtpd_verb_name(SMTP_VERB_MAIL), "mail");
	ck_assert_str_eq(smtpd_verb_name(SMTP_VERB_RCPT), "rcpt");
	ck_assert_str_eq(smtpd_verb_name(SMTP_VERB_DATA), "data");
	ck_assert_str_eq(smtpd_verb_name(SMTP_VERB_RSET), "rset");
	ck_assert_str_eq(smtpd_verb_name(SMTP_VERB_NOOP), "noop");
	ck_assert_str_eq(smtpd_verb_name(SMTP_VERB_QUIT), "quit");
	ck_assert_str_eq(smtpd_verb_name(SMTP_VERB_VRFY), "vrfy");
	ck_assert_str_eq(smtpd_verb_name(SMTP_VERB_EXPN), "expn");
	ck_assert_str_eq(smtpd_verb_name(SMTP_VERB_HELP), "help");
	ck_assert_str_eq(smtpd_verb_name(SMTP_VERB_STARTTLS), "starttls");
	ck_assert_str_eq(smtpd_verb_name(SMTP_VERB_AUTH), "auth");
	ck_assert_str_eq(smtpd_verb_name(SMTP_VERB_BDAT), "bdat");
	ck_assert_str_eq(smtpd_verb_name(SMTP_VERB_ETRN), "etrn");
	ck_assert_str_eq(smtpd_verb_name(SMTP_VERB_UNKNOWN), "unknown");
	ck_assert_str_eq(smtpd_verb_name((enum smtp_verb)999), "unknown");
}
END_TEST

/* ---- MAIL FROM ---- */

/* Expects success with the given address; returns the parameters. */
static struct smtp_mail_params
mail_ok(const char *arg, const char *want)
{
	struct smtp_mail_params params;
	char reply[SMTPD_REPLY_MAX];
	char *addr = (char *)"unset";
	const char *err;

	err = smtpd_parse_mail(arg, &addr, &params, reply, sizeof(reply));
	ck_assert_msg(err == NULL, "MAIL \"%s\": unexpected \"%s\"", arg, err);
	ck_assert_ptr_nonnull(addr);
	ck_assert_str_eq(addr, want);
	free(addr);
	return params;
}

static void
mail_err(const char *arg, const char *want)
{
	struct smtp_mail_params params;
	char reply[SMTPD_REPLY_MAX];
	char *addr = (char *)"unset";
	const char *err;

	err = smtpd_parse_mail(arg, &addr, &params, reply, sizeof(reply));
	ck_assert_msg(err != NULL, "MAIL \"%s\": accepted as <%s>", arg,
	    addr ? addr : "(null)");
	ck_assert_msg(strcmp(err, want) == 0, "MAIL \"%s\": got \"%s\", want "
	    "\"%s\"", arg, err, want);
	ck_assert_ptr_null(addr);
}

#define MAIL_SYNTAX "501 5.5.4 Syntax: MAIL FROM:<address>"
#define BAD_SENDER "501 5.1.7 Bad sender address syntax"
#define RCPT_SYNTAX "501 5.5.4 Syntax: RCPT TO:<address>"
#define BAD_RCPT "501 5.1.3 Bad recipient address syntax"

START_TEST(test_mail_forms)
{
	struct smtp_mail_params params;

	params = mail_ok("FROM:<a@b>", "a@b");
	ck_assert_int_eq(params.has_size, 0);
	ck_assert_int_eq(params.body_8bitmime, 0);
	ck_assert_int_eq(params.smtputf8, 0);
	mail_ok("from:<a@b>", "a@b");
	mail_ok("From: <a@b>", "a@b");
	mail_ok("FROM:\t <user@example.com>", "user@example.com");
	mail_ok("FROM:a@b", "a@b");
	mail_ok("FROM: a@b", "a@b");
	mail_ok("FROM:<>", "");
	mail_ok("FROM: <>", "");
	mail_ok("FROM:<postmaster>", "postmaster");
	mail_ok("FROM:<a@b>   ", "a@b");
	mail_ok("FROM:<user@[127.0.0.1]>", "user@[127.0.0.1]");
	mail_ok("FROM:<user@[IPv6:::1]>", "user@[IPv6:::1]");
	mail_ok("FROM:<srs0=ab+c#d=x.example=user@relay.example>",
	    "srs0=ab+c#d=x.example=user@relay.example");
}
END_TEST

START_TEST(test_mail_source_route)
{
	mail_ok("FROM:<@x:user@dom>", "user@dom");
	mail_ok("FROM:<@x,@y:user@dom>", "user@dom");
	mail_ok("FROM:<@a.example,@b.example,@[10.0.0.1]:u@d>", "u@d");
	mail_ok("FROM:@x:user@dom", "user@dom");
	mail_err("FROM:<@x>", BAD_SENDER);
	mail_err("FROM:<@x:>", BAD_SENDER);
	mail_err("FROM:<@:user@dom>", BAD_SENDER);
	mail_err("FROM:<@x,:user@dom>", BAD_SENDER);
	mail_err("FROM:<@x,y:user@dom>", BAD_SENDER);
	mail_err("FROM:<@x:@y>", BAD_SENDER);
}
END_TEST

START_TEST(test_mail_quoting)
{
	mail_ok("FROM:<\"a b\"@example.com>", "\"a b\"@example.com");
	mail_ok("FROM:\"a b\"@example.com", "\"a b\"@example.com");
	mail_ok("FROM:\"a b\"@example.com SIZE=1", "\"a b\"@example.com");
	mail_ok("FROM:<\"a>b\"@example.com>", "\"a>b\"@example.com");
	mail_ok("FROM:<\"a@b\"@example.com>", "\"a@b\"@example.com");
	mail_ok("FROM:<\"a\\\"b\"@example.com>", "\"a\\\"b\"@example.com");
	mail_ok("FROM:<\"<>,;:\"@example.com>", "\"<>,;:\"@example.com");
	mail_err("FROM:<\"a b@example.com>", BAD_SENDER);
	mail_err("FROM:<\"a\tb\x01\"@example.com>", BAD_SENDER);
	mail_err("FROM:<a@\"b\">", BAD_SENDER);
}
END_TEST

START_TEST(test_mail_syntax_errors)
{
	mail_err("", MAIL_SYNTAX);
	mail_err("FROM:", MAIL_SYNTAX);
	mail_err("FROM:   ", MAIL_SYNTAX);
	mail_err("<a@b>", MAIL_SYNTAX);
	mail_err("FROM <a@b>", MAIL_SYNTAX);
	mail_err("FROM :<a@b>", MAIL_SYNTAX);
	mail_err("TO:<a@b>", MAIL_SYNTAX);
	mail_err("FRO:<a@b>", MAIL_SYNTAX);
}
END_TEST

START_TEST(test_mail_bad_address)
{
	char addr[400];

	mail_err("FROM:<a@b", BAD_SENDER);
	mail_err("FROM:<a@b SIZE=10", BAD_SENDER);
	mail_err("FROM:a@b>", BAD_SENDER);
	mail_err("FROM:<<a@b>>", BAD_SENDER);
	mail_err("FROM:<a@b>x", BAD_SENDER);
	mail_err("FROM:<a@b>SIZE=10", BAD_SENDER);
	mail_err("FROM:<a b@c>", BAD_SENDER);
	mail_err("FROM:<a@b@c>", BAD_SENDER);
	mail_err("FROM:<a@>", BAD_SENDER);
	mail_err("FROM:<a@[1.2.3.4>", BAD_SENDER);
	mail_err("FROM:<a(comment)@b>", BAD_SENDER);
	mail_err("FROM:<a,b@c>", BAD_SENDER);
	mail_err("FROM:<a\\b@c>", BAD_SENDER);
	mail_err("FROM:<a\x01@b>", BAD_SENDER);
	mail_err("FROM:<a\x1f@b>", BAD_SENDER);
	mail_err("FROM:<a\x7f@b>", BAD_SENDER);
	mail_err("FROM:<a\r@b>", BAD_SENDER);
	mail_err("FROM:<a@b\x1b>", BAD_SENDER);

	/* 256 bytes pass, 257 do not. */
	memset(addr, 'x', sizeof(addr));
	memcpy(addr + 250, "@b.com", 6);
	addr[256] = '\0';
	{
		char arg[512];

		snprintf(arg, sizeof(arg), "FROM:<%s>", addr);
		mail_ok(arg, addr);
		memmove(addr + 1, addr, 257);
		addr[0] = 'y';
		snprintf(arg, sizeof(arg), "FROM:<%s>", addr);
		ck_assert_uint_eq(strlen(addr), 257);
		mail_err(arg, BAD_SENDER);
	}
}
END_TEST

START_TEST(test_mail_8bit)
{
	struct smtp_mail_params params;

	mail_err("FROM:<j\xc3\xbcrgen@example.com>", BAD_SENDER);
	mail_err("FROM:<a@b\xff>", BAD_SENDER);
	params = mail_ok("FROM:<j\xc3\xbcrgen@example.com> SMTPUTF8",
	    "j\xc3\xbcrgen@example.com");
	ck_assert_int_eq(params.smtputf8, 1);
	mail_ok("FROM:<j\xc3\xbcrgen@b\xc3\xbc.example> smtputf8",
	    "j\xc3\xbcrgen@b\xc3\xbc.example");
	/* Control characters stay refused with SMTPUTF8. */
	mail_err("FROM:<a\x01@b> SMTPUTF8", BAD_SENDER);
}
END_TEST

START_TEST(test_mail_params)
{
	struct smtp_mail_params params;

	params = mail_ok("FROM:<a@b> SIZE=12345", "a@b");
	ck_assert_int_eq(params.has_size, 1);
	ck_assert_uint_eq(params.size, 12345);
	params = mail_ok("FROM:<a@b> size=0", "a@b");
	ck_assert_int_eq(params.has_size, 1);
	ck_assert_uint_eq(params.size, 0);
	params = mail_ok("FROM:<a@b> SIZE=18446744073709551615", "a@b");
	ck_assert(params.size == 18446744073709551615ULL);
	params = mail_ok("FROM:<a@b> BODY=8BITMIME", "a@b");
	ck_assert_int_eq(params.body_8bitmime, 1);
	params = mail_ok("FROM:<a@b> body=8bitmime", "a@b");
	ck_assert_int_eq(params.body_8bitmime, 1);
	params = mail_ok("FROM:<a@b> BODY=7BIT", "a@b");
	ck_assert_int_eq(params.body_8bitmime, 0);
	params = mail_ok("FROM:<> SIZE=10  BODY=8BITMIME\tSMTPUTF8 ", "");
	ck_assert_int_eq(params.has_size, 1);
	ck_assert_uint_eq(params.size, 10);
	ck_assert_int_eq(params.body_8bitmime, 1);
	ck_assert_int_eq(params.smtputf8, 1);
	params = mail_ok("FROM:a@b SIZE=99", "a@b");
	ck_assert_uint_eq(params.size, 99);
	/* RFC 4954 5: AUTH=<> or an xtext mailbox, decoded. */
	params = mail_ok("FROM:<a@b> AUTH=<>", "a@b");
	ck_assert_int_eq(params.has_auth, 1);
	ck_assert_str_eq(params.auth, "");
	params = mail_ok("FROM:<a@b> auth=e+2Bx@example.com", "a@b");
	ck_assert_int_eq(params.has_auth, 1);
	ck_assert_str_eq(params.auth, "e+x@example.com");
	params = mail_ok("FROM:<a@b>", "a@b");
	ck_assert_int_eq(params.has_auth, 0);
	{
		char arg[600];
		int n = snprintf(arg, sizeof(arg), "FROM:<a@b> AUTH=");

		memset(arg + n, 'x', 256);
		arg[n + 256] = '\0';
		params = mail_ok(arg, "a@b");
		ck_assert_uint_eq(strlen(params.auth), 256);
	}
}
END_TEST

START_TEST(test_mail_auth_param_errors)
{
	static const char *const bad[] = {
		"FROM:<a@b> AUTH=", "FROM:<a@b> AUTH=a+", "FROM:<a@b> AUTH=a+4",
		"FROM:<a@b> AUTH=a+4g", "FROM:<a@b> AUTH=a+4a",	/* lower case */
		"FROM:<a@b> AUTH=a=b", "FROM:<a@b> AUTH=a+0Ab",	/* LF */
		"FROM:<a@b> AUTH=a+7F", "FROM:<a@b> AUTH=a+80",
	};
	char arg[600];
	int n;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		mail_err(bad[i], "501 5.5.4 Bad AUTH parameter syntax");
	/* 257 bytes once decoded. */
	n = snprintf(arg, sizeof(arg), "FROM:<a@b> AUTH=");
	memset(arg + n, 'x', 257);
	arg[n + 257] = '\0';
	mail_err(arg, "501 5.5.4 Bad AUTH parameter syntax");
	mail_err("FROM:<a@b> AUTH=<> AUTH=<>",
	    "555 5.5.4 Unsupported option: AUTH=<>");
}
END_TEST

START_TEST(test_mail_param_errors)
{
	mail_err("FROM:<a@b> SIZE=", "501 5.5.4 Bad message size syntax");
	mail_err("FROM:<a@b> SIZE=abc", "501 5.5.4 Bad message size syntax");
	mail_err("FROM:<a@b> SIZE=-1", "501 5.5.4 Bad message size syntax");
	mail_err("FROM:<a@b> SIZE=+1", "501 5.5.4 Bad message size syntax");
	mail_err("FROM:<a@b> SIZE=12k", "501 5.5.4 Bad message size syntax");
	mail_err("FROM:<a@b> SIZE=18446744073709551616",
	    "501 5.5.4 Bad message size syntax");
	mail_err("FROM:<a@b> SIZE=99999999999999999999999",
	    "501 5.5.4 Bad message size syntax");
	mail_err("FROM:<a@b> BODY=BINARYMIME",
	    "501 5.5.4 Bad BODY keyword: BINARYMIME");
	mail_err("FROM:<a@b> BODY=", "501 5.5.4 Bad BODY keyword: ");
	mail_err("FROM:<a@b> BODY=8bit", "501 5.5.4 Bad BODY keyword: 8bit");
	mail_err("FROM:<a@b> FOO=1", "555 5.5.4 Unsupported option: FOO=1");
	mail_err("FROM:<a@b> SIZE", "555 5.5.4 Unsupported option: SIZE");
	mail_err("FROM:<a@b> BODY", "555 5.5.4 Unsupported option: BODY");
	mail_err("FROM:<a@b> SMTPUTF8=yes",
	    "555 5.5.4 Unsupported option: SMTPUTF8=yes");
	mail_err("FROM:<a@b> RET=HDRS", "555 5.5.4 Unsupported option: RET=HDRS");
	/* Repeated parameters. */
	mail_err("FROM:<a@b> SIZE=1 SIZE=2",
	    "555 5.5.4 Unsupported option: SIZE=2");
	mail_err("FROM:<a@b> SIZE=1 SIZE=x",
	    "555 5.5.4 Unsupported option: SIZE=x");
	mail_err("FROM:<a@b> BODY=7BIT body=8BITMIME",
	    "555 5.5.4 Unsupported option: body=8BITMIME");
	mail_err("FROM:<a@b> SMTPUTF8 SMTPUTF8",
	    "555 5.5.4 Unsupported option: SMTPUTF8");
	/* The first error in order wins. */
	mail_err("FROM:<a@b> FOO SIZE=x", "555 5.5.4 Unsupported option: FOO");
	mail_err("FROM:<a@b> SIZE=x FOO", "501 5.5.4 Bad message size syntax");
	/* Address errors come before parameter errors. */
	mail_err("FROM:<a@b@c> FOO", BAD_SENDER);
}
END_TEST

START_TEST(test_mail_reply_quoting)
{
	struct smtp_mail_params params;
	char reply[SMTPD_REPLY_MAX], small[40], arg[SMTPD_LINE_MAX];
	char *addr;
	const char *err;

	/* Control bytes in quoted input never reach the reply. */
	err = smtpd_parse_mail("FROM:<a@b> X=\x01\r\x7f", &addr, &params,
	    reply, sizeof(reply));
	ck_assert_ptr_eq(err, reply);
	ck_assert_str_eq(err, "555 5.5.4 Unsupported option: X=???");
	err = smtpd_parse_mail("FROM:<a@b> BODY=\xc3\xa4", &addr, &params,
	    reply, sizeof(reply));
	ck_assert_str_eq(err, "501 5.5.4 Bad BODY keyword: ??");

	/* A long parameter is cut to fit the buffer. */
	strcpy(arg, "FROM:<a@b> ");
	memset(arg + strlen(arg), 'A', 1500);
	arg[11 + 1500] = '\0';
	err = smtpd_parse_mail(arg, &addr, &params, reply, sizeof(reply));
	ck_assert_ptr_eq(err, reply);
	ck_assert_uint_eq(strlen(err), SMTPD_REPLY_MAX - 1);
	ck_assert(strncmp(err, "555 5.5.4 Unsupported option: AAA", 33) == 0);

	err = smtpd_parse_mail(arg, &addr, &params, small, sizeof(small));
	ck_assert_uint_eq(strlen(err), sizeof(small) - 1);
	err = smtpd_parse_mail(arg, &addr, &params, small, 10);
	ck_assert_str_eq(err, "555 5.5.4 Unsupported option");
	err = smtpd_parse_mail("FROM:<> BODY=x", &addr, &params, NULL, 0);
	ck_assert_str_eq(err, "501 5.5.4 Bad BODY keyword");
}
END_TEST

/* ---- RCPT TO ---- */

static void
rcpt_ok(const char *arg, const char *want)
{
	char reply[SMTPD_REPLY_MAX];
	char *addr = (char *)"unset";
	const char *err;

	err = smtpd_parse_rcpt(arg, &addr, reply, sizeof(reply));
	ck_assert_msg(err == NULL, "RCPT \"%s\": unexpected \"%s\"", arg, err);
	ck_assert_str_eq(addr, want);
	free(addr);
}

static void
rcpt_err(const char *arg, const char *want)
{
	char reply[SMTPD_REPLY_MAX];
	char *addr = (char *)"unset";
	const char *err;

	err = smtpd_parse_rcpt(arg, &addr, reply, sizeof(reply));
	ck_assert_msg(err != NULL, "RCPT \"%s\": accepted as <%s>", arg,
	    addr ? addr : "(null)");
	ck_assert_msg(strcmp(err, want) == 0, "RCPT \"%s\": got \"%s\", want "
	    "\"%s\"", arg, err, want);
	ck_assert_ptr_null(addr);
}

START_TEST(test_rcpt)
{
	rcpt_ok("TO:<a@b>", "a@b");
	/* A domain's trailing dot is dropped, as Postfix's trivial-rewrite
	 * drops it; only one, and never the domain itself. */
	rcpt_ok("TO:<user@example.com.>", "user@example.com");
	rcpt_ok("TO:<user@[192.0.2.1].>", "user@[192.0.2.1]");
	mail_ok("FROM:<user@example.com.>", "user@example.com");
	rcpt_ok("TO:<postmaster.>", "postmaster.");
	rcpt_ok("to:<a@b>", "a@b");
	rcpt_ok("To: <a@b>", "a@b");
	rcpt_ok("TO:a@b", "a@b");
	rcpt_ok("TO:<postmaster>", "postmaster");
	rcpt_ok("TO:<Postmaster@Example.COM>", "Postmaster@Example.COM");
	rcpt_ok("TO:<@hop1,@hop2:u@d.example>", "u@d.example");
	rcpt_ok("TO:<\"x y\"@d.example>  ", "\"x y\"@d.example");
	rcpt_ok("TO:<u@[192.0.2.1]>", "u@[192.0.2.1]");

	rcpt_err("", RCPT_SYNTAX);
	rcpt_err("TO:", RCPT_SYNTAX);
	rcpt_err("FROM:<a@b>", RCPT_SYNTAX);
	rcpt_err("<a@b>", RCPT_SYNTAX);
	rcpt_err("TO:<>", BAD_RCPT);
	rcpt_err("TO: <>", BAD_RCPT);
	rcpt_err("TO:<a@b", BAD_RCPT);
	rcpt_err("TO:a@b>", BAD_RCPT);
	rcpt_err("TO:<a@b@c>", BAD_RCPT);
	rcpt_err("TO:<a\x01@b>", BAD_RCPT);
	rcpt_err("TO:<a\x7f@b>", BAD_RCPT);
	rcpt_err("TO:<@x>", BAD_RCPT);
	rcpt_err("TO:<a@b>junk", BAD_RCPT);

	rcpt_err("TO:<a@b> NOTIFY=NEVER",
	    "555 5.5.4 Unsupported option: NOTIFY=NEVER");
	rcpt_err("TO:<a@b> ORCPT=rfc822;a@b FOO",
	    "555 5.5.4 Unsupported option: ORCPT=rfc822;a@b");
	rcpt_err("TO:a@b SIZE=1", "555 5.5.4 Unsupported option: SIZE=1");
}
END_TEST

START_TEST(test_rcpt_long)
{
	char addr[300], arg[400];

	memset(addr, 'r', sizeof(addr));
	memcpy(addr + 240, "@example.com", 12);
	addr[252] = '\0';
	snprintf(arg, sizeof(arg), "TO:<%s>", addr);
	rcpt_ok(arg, addr);
	strcpy(addr + 240, "@example.example1");
	ck_assert_uint_eq(strlen(addr), 257);
	snprintf(arg, sizeof(arg), "TO:<%s>", addr);
	rcpt_err(arg, BAD_RCPT);
}
END_TEST

/* ---- domains ---- */

static void
check_domain(const char *addr, const char *want)
{
	char *domain = addr_domain(addr);

	ck_assert_str_eq(domain, want);
	free(domain);
}

START_TEST(test_addr_domain)
{
	check_domain("user@Example.COM", "example.com");
	check_domain("user@[127.0.0.1]", "[127.0.0.1]");
	check_domain("postmaster", "");
	check_domain("", "");
	check_domain("\"a@b\"@c.example", "c.example");
	check_domain("\"a@b\"", "");
	check_domain("\"a\\\"@b\"@D", "d");
	check_domain("user@", "");
}
END_TEST

static Suite *
smtpd_cmd_suite(void)
{
	Suite *s = suite_create("smtpd_cmd");
	TCase *tc;

	tc = tcase_create("command");
	tcase_add_test(tc, test_command_verbs);
	tcase_add_test(tc, test_command_whitespace);
	tcase_add_test(tc, test_command_unknown);
	tcase_add_test(tc, test_verb_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("mail");
	tcase_add_test(tc, test_mail_forms);
	tcase_add_test(tc, test_mail_source_route);
	tcase_add_test(tc, test_mail_quoting);
	tcase_add_test(tc, test_mail_syntax_errors);
	tcase_add_test(tc, test_mail_bad_address);
	tcase_add_test(tc, test_mail_8bit);
	tcase_add_test(tc, test_mail_params);
	tcase_add_test(tc, test_mail_param_errors);
	tcase_add_test(tc, test_mail_auth_param_errors);
	tcase_add_test(tc, test_mail_reply_quoting);
	suite_add_tcase(s, tc);

	tc = tcase_create("rcpt");
	tcase_add_test(tc, test_rcpt);
	tcase_add_test(tc, test_rcpt_long);
	tcase_add_test(tc, test_addr_domain);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(smtpd_cmd_suite)
