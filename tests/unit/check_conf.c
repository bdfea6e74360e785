/* check_conf: main.cf parsing, $name expansion, typed values, defaults,
 * warnings and errors with their file:line. */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/util.h"


/* Loads main.cf text (no master.cf) and fails the test on an error. */
static struct conf *
load_ok(const char *main_cf)
{
	char *err = NULL;
	struct conf *conf = conf_load_strings(main_cf, "main.cf", NULL,
	    "master.cf", &err);

	ck_assert_msg(conf != NULL, "unexpected error: %s", err);
	ck_assert_ptr_null(err);
	return conf;
}

/* Loads main.cf text that must fail; returns the error (caller frees). */
static char *
load_err(const char *main_cf)
{
	char *err = NULL;
	struct conf *conf = conf_load_strings(main_cf, "/etc/tlsrelay/main.cf",
	    NULL, "master.cf", &err);

	ck_assert_msg(conf == NULL, "loaded but should not: %s", main_cf);
	ck_assert_ptr_nonnull(err);
	return err;
}

static void
assert_err(const char *main_cf, const char *expected)
{
	char *err = load_err(main_cf);

	ck_assert_str_eq(err, expected);
	free(err);
}

/* Loads with stderr captured; returns what was logged. */
static char *
load_warnings(const char *main_cf, const char *master_cf)
{
	char *err = NULL, *log;
	struct conf *conf;

	tu_capture_begin();
	conf = conf_load_strings(main_cf, "main.cf", master_cf, "master.cf",
	    &err);
	log = tu_capture_end();
	ck_assert_msg(conf != NULL, "unexpected error: %s", err);
	conf_free(conf);
	return log;
}

/* Expansion */

START_TEST(test_expand_plain_forms)
{
	struct conf *conf = load_ok(
	    "foo = FOO\n"
	    "a = $foo\n"
	    "b = ${foo}\n"
	    "c = $(foo)\n"
	    "d = x${foo}y$(foo)z$foo.w\n"
	    "e = $$foo $$\n"
	    "f = [$nosuchname] [${nosuchname}] [$(nosuchname)]\n");

	ck_assert_str_eq(conf_lookup(conf, "a"), "FOO");
	ck_assert_str_eq(conf_lookup(conf, "b"), "FOO");
	ck_assert_str_eq(conf_lookup(conf, "c"), "FOO");
	ck_assert_str_eq(conf_lookup(conf, "d"), "xFOOyFOOzFOO.w");
	ck_assert_str_eq(conf_lookup(conf, "e"), "$foo $");
	ck_assert_str_eq(conf_lookup(conf, "f"), "[] [] []");
	conf_free(conf);
}
END_TEST

START_TEST(test_expand_conditionals)
{
	struct conf *conf = load_ok(
	    "full = yes\n"
	    "empty =\n"
	    "a = ${full?set}|${empty?set}|${unknown?set}\n"
	    "b = ${full:unset}|${empty:unset}|${unknown:unset}\n"
	    "c = ${full?{one}:{two}}|${empty?{one}:{two}}\n"
	    "d = ${full ? {one} : {two}}|${empty ? {one} : {two}}\n"
	    "e = ${full?{braced}}|${empty:{braced}}\n"
	    "f = ${full?a:b}\n"
	    "g = ${full?$full and ${empty:nothing}}\n"
	    "h = ${empty?{$loop_in_branch_not_taken}:{ok}}\n"
	    "i = $(full?paren)\n"
	    "j = ${full? spaced }\n");

	ck_assert_str_eq(conf_lookup(conf, "a"), "set||");
	ck_assert_str_eq(conf_lookup(conf, "b"), "|unset|unset");
	ck_assert_str_eq(conf_lookup(conf, "c"), "one|two");
	ck_assert_str_eq(conf_lookup(conf, "d"), "one|two");
	ck_assert_str_eq(conf_lookup(conf, "e"), "braced|braced");
	/* Classic form: everything after '?' is the text, ':' included. */
	ck_assert_str_eq(conf_lookup(conf, "f"), "a:b");
	ck_assert_str_eq(conf_lookup(conf, "g"), "yes and nothing");
	ck_assert_str_eq(conf_lookup(conf, "h"), "ok");
	ck_assert_str_eq(conf_lookup(conf, "i"), "paren");
	ck_assert_str_eq(conf_lookup(conf, "j"), " spaced ");
	conf_free(conf);
}
END_TEST

START_TEST(test_expand_recursive)
{
	struct conf *conf = load_ok(
	    "myhostname = mx.example.org\n"
	    "l3 = $myhostname\n"
	    "l2 = <$l3>\n"
	    "l1 = ${l2?[$l2]}\n"
	    "smtpd_banner = $l1 ESMTP\n");

	ck_assert_str_eq(conf_str(conf, P_smtpd_banner),
	    "[<mx.example.org>] ESMTP");
	conf_free(conf);
}
END_TEST

START_TEST(test_expand_public)
{
	struct conf *conf = load_ok("myhostname = h.example\nx = 1\n");
	char *err = NULL, *s;

	s = conf_expand(conf, "$myhostname/${x?{on}:{off}}/$$/$none", &err);
	ck_assert_ptr_null(err);
	ck_assert_str_eq(s, "h.example/on/$/");
	free(s);
	s = conf_expand(conf, "${broken", &err);
	ck_assert_ptr_null(s);
	ck_assert_ptr_nonnull(err);
	ck_assert_ptr_nonnull(strstr(err, "truncated macro reference"));
	free(err);
	conf_free(conf);
}
END_TEST

START_TEST(test_expand_loops)
{
	assert_err("smtpd_banner = $smtpd_banner\n",
	    "/etc/tlsrelay/main.cf:1: smtpd_banner: recursive parameter "
	    "expansion: $smtpd_banner -> $smtpd_banner");
	assert_err("x = $y\ny = ${x}\nsmtpd_banner = $x\n",
	    "/etc/tlsrelay/main.cf:2: y: recursive parameter expansion: "
	    "$x -> $y -> $x");
	assert_err("smtpd_banner = a $(mail_name)\nmail_name = $smtpd_banner\n",
	    "/etc/tlsrelay/main.cf:1: smtpd_banner: recursive parameter "
	    "expansion: $mail_name -> $smtpd_banner -> $mail_name");
}
END_TEST

START_TEST(test_expand_loop_in_unused_names_warns)
{
	char *log = load_warnings("p = $q\nq = $p\n", NULL);

	ck_assert_ptr_nonnull(strstr(log, "main.cf:2: q: recursive parameter "
	    "expansion: $p -> $q -> $p"));
	free(log);
}
END_TEST

START_TEST(test_expand_syntax_errors)
{
	assert_err("smtpd_banner = ${myhostname\n",
	    "/etc/tlsrelay/main.cf:1: smtpd_banner: truncated macro "
	    "reference: \"${myhostname\"");
	assert_err("\nsmtpd_banner = x$ y\n",
	    "/etc/tlsrelay/main.cf:2: smtpd_banner: empty macro name: \"$ \"");
	assert_err("smtpd_banner = ${}\n",
	    "/etc/tlsrelay/main.cf:1: smtpd_banner: empty macro name: \"${}\"");
	assert_err("smtpd_banner = ${a?{x}:y}\n",
	    "/etc/tlsrelay/main.cf:1: smtpd_banner: expected '{' after ':': "
	    "\"${a?{x}:y}\"");
	/* The failure is reported where it is, not where it is used. */
	assert_err("helper = oops$\nsmtpd_banner = $helper\n",
	    "/etc/tlsrelay/main.cf:1: helper: empty macro name: \"$\"");
}
END_TEST

START_TEST(test_expand_bounded)
{
	/* Each level quadruples the value: must stop, not eat memory. */
	struct strbuf sb;
	char *err;

	strbuf_init(&sb);
	strbuf_puts(&sb, "v0 = xxxxxxxxxxxxxxxx\n");
	for (int i = 1; i <= 12; i++)
		strbuf_printf(&sb, "v%d = $v%d$v%d$v%d$v%d\n", i, i - 1, i - 1,
		    i - 1, i - 1);
	strbuf_puts(&sb, "smtpd_banner = $v12\n");
	err = load_err(sb.data);
	ck_assert_ptr_nonnull(strstr(err, "value too long after expansion"));
	free(err);
	strbuf_free(&sb);
}
END_TEST

/* Lines */

START_TEST(test_continuation_and_comments)
{
	struct conf *conf = load_ok(
	    "# a comment\n"
	    "   # an indented comment\n"
	    "\n"
	    "smtpd_banner = one\n"
	    "  two\n"
	    "# a comment inside does not end the logical line\n"
	    "\n"
	    "\tthree\n"
	    "mail_name=x # not a comment\n"
	    "myorigin   =    spaced out   \n"
	    "crlf = value\r\n");

	ck_assert_str_eq(conf_str(conf, P_smtpd_banner), "one  two\tthree");
	ck_assert_str_eq(conf_str(conf, P_mail_name), "x # not a comment");
	ck_assert_str_eq(conf_str(conf, P_myorigin), "spaced out");
	ck_assert_str_eq(conf_lookup(conf, "crlf"), "value");
	ck_assert_str_eq(conf_origin(conf, P_smtpd_banner), "main.cf:4");
	ck_assert_str_eq(conf_origin(conf, P_mail_name), "main.cf:9");
	conf_free(conf);
}
END_TEST

START_TEST(test_leading_white_space_dropped)
{
	char *err = NULL, *log;
	struct conf *conf;

	tu_capture_begin();
	conf = conf_load_strings("  mail_name = lost\n    more\nsyslog_name "
	    "= kept\n", "main.cf", NULL, NULL, &err);
	log = tu_capture_end();
	ck_assert_ptr_nonnull(conf);
	ck_assert_str_eq(conf_str(conf, P_mail_name), "tlsrelay");
	ck_assert_str_eq(conf_str(conf, P_syslog_name), "kept");
	ck_assert_ptr_nonnull(strstr(log, "main.cf:1: logical line must not "
	    "start with white space"));
	free(log);
	conf_free(conf);
}
END_TEST

START_TEST(test_override_later_wins)
{
	char *err = NULL, *log;
	struct conf *conf;
	const char *raw;

	tu_capture_begin();
	conf = conf_load_strings("smtpd_timeout = 10s\nx = 1\n"
	    "smtpd_timeout = 20s\n", "main.cf", NULL, NULL, &err);
	log = tu_capture_end();
	ck_assert_ptr_nonnull(conf);
	ck_assert_int_eq(conf_time(conf, P_smtpd_timeout), 20);
	ck_assert_str_eq(conf_origin(conf, P_smtpd_timeout), "main.cf:3");
	/* postconf's words: the later line, the earlier value. */
	ck_assert_ptr_nonnull(strstr(log, "warning: main.cf:3: overriding "
	    "earlier entry: smtpd_timeout=10s"));
	/* Listed once, with the value that won. */
	ck_assert_str_eq(conf_set_name(conf, 0, &raw), "smtpd_timeout");
	ck_assert_str_eq(raw, "20s");
	ck_assert_str_eq(conf_set_name(conf, 1, &raw), "x");
	ck_assert_ptr_null(conf_set_name(conf, 2, &raw));
	free(log);
	conf_free(conf);
}
END_TEST

START_TEST(test_syntax_errors)
{
	assert_err("mail_name = x\n\n# c\nthis line has no equals sign\n",
	    "/etc/tlsrelay/main.cf:4: missing '=' after attribute name: "
	    "\"this line has no equals sign\"");
	assert_err("a = b\n  continued\nbroken\n  and continued\n",
	    "/etc/tlsrelay/main.cf:3: missing '=' after attribute name: "
	    "\"broken  and continued\"");
	assert_err(" \n= value\n",
	    "/etc/tlsrelay/main.cf:2: missing attribute name: \"=value\"");
}
END_TEST

/* Typed values */

START_TEST(test_typed_errors)
{
	assert_err("smtpd_helo_required = maybe\n",
	    "/etc/tlsrelay/main.cf:1: bad boolean configuration: "
	    "smtpd_helo_required = maybe");
	assert_err("x = 1\nsmtpd_timeout = 5x\n",
	    "/etc/tlsrelay/main.cf:2: invalid time value for smtpd_timeout: "
	    "5x");
	assert_err("smtpd_timeout = 1.5h\n",
	    "/etc/tlsrelay/main.cf:1: invalid time value for smtpd_timeout: "
	    "1.5h");
	assert_err("smtpd_timeout =\n",
	    "/etc/tlsrelay/main.cf:1: invalid time value for smtpd_timeout: ");
	assert_err("smtpd_recipient_limit = -1\n",
	    "/etc/tlsrelay/main.cf:1: bad numerical configuration: "
	    "smtpd_recipient_limit = -1");
	assert_err("message_size_limit = 10M\n",
	    "/etc/tlsrelay/main.cf:1: bad numerical configuration: "
	    "message_size_limit = 10M");
	assert_err("line_length_limit = 99999999999999999999999\n",
	    "/etc/tlsrelay/main.cf:1: bad numerical configuration: "
	    "line_length_limit = 99999999999999999999999");
}
END_TEST

START_TEST(test_typed_after_expansion)
{
	struct conf *conf;

	/* Validated after expansion, reported where the parameter is set. */
	assert_err("helper = maybe\n\nsmtpd_helo_required = $helper\n",
	    "/etc/tlsrelay/main.cf:3: bad boolean configuration: "
	    "smtpd_helo_required = maybe");
	conf = load_ok("t = 2\nunit = m\nsmtpd_timeout = $t$unit\n"
	    "on = yes\nsmtpd_helo_required = ${on?{yes}:{no}}\n");
	ck_assert_int_eq(conf_time(conf, P_smtpd_timeout), 120);
	ck_assert_int_eq(conf_bool(conf, P_smtpd_helo_required), 1);
	conf_free(conf);
}
END_TEST

START_TEST(test_typed_values)
{
	struct conf *conf = load_ok(
	    "smtpd_helo_required = YES\n"
	    "smtpd_delay_reject = No\n"
	    "smtpd_timeout = 2m\n"
	    "smtpd_error_sleep_time = 7\n"
	    "smtpd_tls_session_cache_timeout = 1h\n"
	    "smtpd_starttls_timeout = 1d\n"
	    "smtpd_recipient_limit = 25\n"
	    "message_size_limit = 0\n"
	    "queue_minfree = 123456789012\n");

	ck_assert_int_eq(conf_bool(conf, P_smtpd_helo_required), 1);
	ck_assert_int_eq(conf_bool(conf, P_smtpd_delay_reject), 0);
	ck_assert_int_eq(conf_time(conf, P_smtpd_timeout), 120);
	ck_assert_int_eq(conf_time(conf, P_smtpd_error_sleep_time), 7);
	ck_assert_int_eq(conf_time(conf, P_smtpd_tls_session_cache_timeout),
	    3600);
	ck_assert_int_eq(conf_time(conf, P_smtpd_starttls_timeout), 86400);
	ck_assert_int_eq(conf_int(conf, P_smtpd_recipient_limit), 25);
	ck_assert_int_eq(conf_size(conf, P_message_size_limit), 0);
	ck_assert(conf_size(conf, P_queue_minfree) == 123456789012LL);
	conf_free(conf);
}
END_TEST

START_TEST(test_value_parsers)
{
	long long n;
	int b;

	ck_assert_int_eq(conf_parse_bool("yes", &b), 0);
	ck_assert_int_eq(b, 1);
	ck_assert_int_eq(conf_parse_bool("NO", &b), 0);
	ck_assert_int_eq(b, 0);
	ck_assert_int_eq(conf_parse_bool("true", &b), -1);
	ck_assert_int_eq(conf_parse_bool("", &b), -1);

	ck_assert_int_eq(conf_parse_time("10", 's', &n), 0);
	ck_assert_int_eq(n, 10);
	ck_assert_int_eq(conf_parse_time("10", 'd', &n), 0);
	ck_assert_int_eq(n, 864000);
	ck_assert_int_eq(conf_parse_time("3w", 's', &n), 0);
	ck_assert_int_eq(n, 3 * 7 * 86400);
	ck_assert_int_eq(conf_parse_time("5m", 's', &n), 0);
	ck_assert_int_eq(n, 300);
	ck_assert_int_eq(conf_parse_time("0s", 's', &n), 0);
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(conf_parse_time("m", 's', &n), -1);
	ck_assert_int_eq(conf_parse_time("5y", 's', &n), -1);
	ck_assert_int_eq(conf_parse_time("5ms", 's', &n), -1);
	ck_assert_int_eq(conf_parse_time("-5s", 's', &n), -1);
	ck_assert_int_eq(conf_parse_time(" 5s", 's', &n), -1);
	ck_assert_int_eq(conf_parse_time("99999999999999999w", 's', &n), -1);

	ck_assert_int_eq(conf_parse_int("0", &n), 0);
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(conf_parse_int("9223372036854775807", &n), 0);
	ck_assert(n == 9223372036854775807LL);
	ck_assert_int_eq(conf_parse_int("9223372036854775808", &n), -1);
	ck_assert_int_eq(conf_parse_int("12a", &n), -1);
	ck_assert_int_eq(conf_parse_int("+1", &n), -1);
	ck_assert_int_eq(conf_parse_int("", &n), -1);
}
END_TEST

/* Defaults */

START_TEST(test_defaults)
{
	struct conf *conf = load_ok(NULL);
	char *banner;

	ck_assert_str_eq(conf_str(conf, P_mail_name), "tlsrelay");
	ck_assert_str_eq(conf_str(conf, P_mail_version), PACKAGE_VERSION);
	ck_assert_str_eq(conf_str(conf, P_queue_directory),
	    LOCALSTATEDIR "/spool/tlsrelay");
	ck_assert_str_eq(conf_str(conf, P_data_directory),
	    LOCALSTATEDIR "/lib/tlsrelay");
	ck_assert_str_eq(conf_str(conf, P_myorigin),
	    conf_str(conf, P_myhostname));
	banner = xasprintf("%s ESMTP tlsrelay", conf_str(conf, P_myhostname));
	ck_assert_str_eq(conf_str(conf, P_smtpd_banner), banner);
	free(banner);
	ck_assert_str_eq(conf_str(conf, P_smtpd_relay_restrictions),
	    "permit_mynetworks, permit_sasl_authenticated, "
	    "defer_unauth_destination");
	/* mynetworks_style = host: loopback first, then our addresses. */
	ck_assert_ptr_nonnull(strstr(conf_str(conf, P_mynetworks),
	    "127.0.0.0/8 [::1]/128"));
	ck_assert_str_eq(conf_str(conf, P_mynetworks_style), "host");
	ck_assert_str_eq(conf_str(conf, P_smtpd_tls_security_level), "");
	ck_assert_str_eq(conf_str(conf, P_smtpd_tls_protocols), ">=TLSv1");
	ck_assert_str_eq(conf_str(conf, P_smtpd_tls_ciphers), "medium");
	ck_assert_str_eq(conf_str(conf, P_tls_medium_cipherlist),
	    "aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH");
	ck_assert_str_eq(conf_str(conf, P_tls_eecdh_auto_curves),
	    "X25519 X448 prime256v1 secp521r1 secp384r1");
	ck_assert_str_eq(conf_str(conf, P_tls_session_ticket_cipher),
	    "aes-256-cbc");
	ck_assert_str_eq(conf_str(conf, P_smtpd_forbid_bare_newline),
	    "normalize");
	ck_assert_int_eq(conf_time(conf, P_smtpd_timeout), 300);
	ck_assert_int_eq(conf_time(conf, P_smtpd_error_sleep_time), 1);
	ck_assert_int_eq(conf_time(conf, P_smtpd_tls_session_cache_timeout),
	    3600);
	ck_assert_int_eq(conf_int(conf, P_smtpd_recipient_limit), 1000);
	ck_assert_int_eq(conf_int(conf, P_smtpd_hard_error_limit), 20);
	ck_assert_int_eq(conf_int(conf, P_smtpd_soft_error_limit), 10);
	ck_assert_int_eq(conf_int(conf, P_smtpd_client_connection_count_limit),
	    50);
	ck_assert_int_eq(conf_int(conf, P_tlsrelay_smtpd_workers), 0);
	/* Under systemd's TimeoutStopSec with the queue manager's 20 s for
	 * deliveries in flight (scripts/tlsrelay.service.in). */
	ck_assert_int_eq(conf_time(conf, P_tlsrelay_drain_time), 30);
	ck_assert_str_eq(conf_str(conf, P_tlsrelay_smtpd_tls_ticket_key_file),
	    "");
	ck_assert_int_eq(conf_int(conf, P_line_length_limit), 2048);
	ck_assert_int_eq(conf_int(conf, P_smtpd_tls_ccert_verifydepth), 9);
	ck_assert_int_eq(conf_size(conf, P_message_size_limit), 10240000);
	ck_assert_int_eq(conf_bool(conf, P_smtpd_delay_reject), 1);
	ck_assert_int_eq(conf_bool(conf, P_smtpd_helo_required), 0);
	ck_assert_int_eq(conf_bool(conf, P_smtpd_use_tls), 0);
	ck_assert_ptr_null(conf_origin(conf, P_smtpd_timeout));
	ck_assert_int_eq(conf_is_set(conf, P_smtpd_timeout), 0);
	ck_assert_ptr_null(conf_lookup(conf, "no_such_parameter"));
	ck_assert_ptr_null(conf_set_name(conf, 0, NULL));
	conf_free(conf);
}
END_TEST

START_TEST(test_default_follows_reference)
{
	struct conf *conf = load_ok(
	    "smtpd_tls_cert_file = /etc/ssl/a.pem\n"
	    "smtpd_tls_eccert_file = /etc/ssl/ec.pem\n"
	    "smtpd_tls_eckey_file = /etc/ssl/ec.key\n"
	    "mynetworks = 10.0.0.0/8\n");

	ck_assert_str_eq(conf_str(conf, P_smtpd_tls_key_file),
	    "/etc/ssl/a.pem");
	ck_assert_str_eq(conf_str(conf, P_smtpd_tls_eckey_file),
	    "/etc/ssl/ec.key");
	ck_assert_str_eq(conf_str(conf,
	    P_smtpd_forbid_bare_newline_exclusions),
	    "10.0.0.0/8");
	ck_assert_ptr_null(conf_origin(conf, P_smtpd_tls_key_file));
	conf_free(conf);
}
END_TEST

START_TEST(test_computed_defaults)
{
	char host[256], *expect_host, *expect_domain;
	struct conf *conf = load_ok("");
	const char *dot;

	ck_assert_int_eq(gethostname(host, sizeof(host)), 0);
	host[sizeof(host) - 1] = '\0';
	expect_host = strchr(host, '.') ? xstrdup(host) :
	    xasprintf("%s.localdomain", host);
	dot = strchr(expect_host, '.');
	expect_domain = xstrdup(dot[1] ? dot + 1 : "localdomain");
	ck_assert_str_eq(conf_str(conf, P_myhostname), expect_host);
	ck_assert_str_eq(conf_str(conf, P_mydomain), expect_domain);
	free(expect_host);
	free(expect_domain);
	conf_free(conf);

	/* mydomain follows a configured myhostname. */
	conf = load_ok("myhostname = mx1.mail.example.org\n");
	ck_assert_str_eq(conf_str(conf, P_mydomain), "mail.example.org");
	ck_assert_str_eq(conf_str(conf, P_myorigin), "mx1.mail.example.org");
	conf_free(conf);
	conf = load_ok("name = relay\nmyhostname = $name\n");
	ck_assert_str_eq(conf_str(conf, P_myhostname), "relay");
	ck_assert_str_eq(conf_str(conf, P_mydomain), "localdomain");
	conf_free(conf);
	conf = load_ok("mydomain = example.net\n");
	ck_assert_str_eq(conf_str(conf, P_mydomain), "example.net");
	conf_free(conf);
}
END_TEST

START_TEST(test_origin)
{
	struct conf *conf = load_ok("a = 1\n\n# x\nsmtpd_tls_cert_file = "
	    "/x.pem\n");

	ck_assert_str_eq(conf_origin(conf, P_smtpd_tls_cert_file),
	    "main.cf:4");
	ck_assert_str_eq(conf_lookup_origin(conf, "a"), "main.cf:1");
	ck_assert_ptr_null(conf_origin(conf, P_smtpd_tls_key_file));
	ck_assert_int_eq(conf_is_set(conf, P_smtpd_tls_cert_file), 1);
	ck_assert_int_eq(conf_is_set(conf, P_smtpd_tls_key_file), 0);
	conf_free(conf);
}
END_TEST

/* Names */

START_TEST(test_unknown_name_warned)
{
	char *log = load_warnings("mail_name = x\n\nfrobnicate = 1\n", NULL);

	ck_assert_str_eq(strstr(log, "warning: "),
	    "warning: main.cf:3: unused parameter: frobnicate=1\n");
	free(log);
}
END_TEST

START_TEST(test_referenced_helper_not_warned)
{
	char *log = load_warnings(
	    "my_restrictions = permit_mynetworks, reject\n"
	    "in_branch = x\n"
	    "smtpd_client_restrictions = $my_restrictions\n"
	    "smtpd_banner = ${mail_name?{$in_branch}}\n"
	    "from_master = permit\n",
	    "submission inet n - n - - smtpd\n"
	    "  -o smtpd_helo_restrictions=$from_master\n");

	ck_assert_str_eq(log, "");
	free(log);
}
END_TEST

START_TEST(test_postfix_names_ignored)
{
	char *err = NULL, *log;
	struct conf *conf;

	tu_capture_begin();
	conf = conf_load_strings(
	    "compatibility_level = 3.6\n"
	    "alias_maps = hash:/etc/aliases\n"
	    "smtp_tls_security_level = may\n"
	    "smtpd_sasl_type = dovecot\n"
	    "notify_classes = resource, software\n"
	    "smtpd_tls_auth_only = yes\n"
	    "submission_smtpd_tls_security_level = encrypt\n"
	    "custom_destination_concurrency_limit = 2\n"
	    "custom_foo = 1\n",
	    "main.cf",
	    "submission inet n - n - - smtpd\n"
	    "custom unix - - n - - smtp\n", "master.cf", &err);
	log = tu_capture_end();
	ck_assert_ptr_nonnull(conf);
	/* Only the name that is not Postfix's in any form is warned. */
	ck_assert_str_eq(strstr(log, "warning: "),
	    "warning: main.cf:9: unused parameter: custom_foo=1\n");
	ck_assert_int_eq(conf_name_status(conf, "alias_maps"), CONF_IGNORED);
	ck_assert_int_eq(conf_name_status(conf,
	    "submission_smtpd_tls_security_level"), CONF_IGNORED);
	ck_assert_int_eq(conf_name_status(conf,
	    "custom_destination_concurrency_limit"), CONF_IGNORED);
	ck_assert_int_eq(conf_name_status(conf, "custom_foo"), CONF_UNKNOWN);
	ck_assert_int_eq(conf_name_status(conf, "smtpd_timeout"),
	    CONF_IMPLEMENTED);
	/* Set but not implemented: still readable. */
	ck_assert_str_eq(conf_lookup(conf, "alias_maps"), "hash:/etc/aliases");
	free(log);
	conf_free(conf);
}
END_TEST

START_TEST(test_obsolete_warned)
{
	char *err = NULL, *log;
	struct conf *conf;

	tu_capture_begin();
	conf = conf_load_strings("smtpd_use_tls = yes\nsmtpd_enforce_tls = "
	    "no\n", "main.cf", NULL, NULL, &err);
	log = tu_capture_end();
	ck_assert_ptr_nonnull(conf);
	/* Each with its modern equivalent (issue 11). */
	ck_assert_ptr_nonnull(strstr(log, "warning: main.cf:1: smtpd_use_tls "
	    "is obsolete: use smtpd_tls_security_level = may instead\n"));
	ck_assert_ptr_nonnull(strstr(log, "warning: main.cf:2: "
	    "smtpd_enforce_tls is obsolete: use smtpd_tls_security_level "
	    "= encrypt instead\n"));
	ck_assert_int_eq(conf_bool(conf, P_smtpd_use_tls), 1);
	ck_assert_int_eq(conf_bool(conf, P_smtpd_enforce_tls), 0);
	ck_assert_int_eq(conf_param_status("smtpd_use_tls"), CONF_OBSOLETE);
	free(log);
	conf_free(conf);
	/* Obsolete booleans are still checked. */
	assert_err("smtpd_use_tls = sure\n", "/etc/tlsrelay/main.cf:1: "
	    "bad boolean configuration: smtpd_use_tls = sure");
}
END_TEST

START_TEST(test_param_catalogue)
{
	const struct conf_param_def *table;
	size_t n;

	table = conf_param_table(&n);
	ck_assert_uint_ge(n, 75);
	for (size_t i = 0; i < n; i++) {
		enum conf_status status = conf_param_status(table[i].name);

		if (i > 0)
			ck_assert_msg(strcmp(table[i - 1].name,
			    table[i].name) < 0, "table not sorted at %s",
			    table[i].name);
		ck_assert_ptr_eq(conf_param_lookup(table[i].name), &table[i]);
		ck_assert(status == CONF_IMPLEMENTED ||
		    status == CONF_OBSOLETE);
		if (table[i].type == CONF_TIME)
			ck_assert(table[i].time_unit == 's' ||
			    table[i].time_unit == 'h' ||
			    table[i].time_unit == 'd');
	}
	ck_assert_ptr_null(conf_param_lookup("alias_maps"));
	ck_assert_int_eq(conf_param_status("alias_maps"), CONF_IGNORED);
	ck_assert_int_eq(conf_param_status("notify_classes"), CONF_IGNORED);
	ck_assert_int_eq(conf_param_status("zzz_not_postfix"), CONF_UNKNOWN);
	ck_assert_int_eq(conf_param_lookup("smtpd_timeout")->type, CONF_TIME);
	ck_assert_int_eq(conf_param_lookup("smtpd_use_tls")->type, CONF_BOOL);
}
END_TEST

START_TEST(test_wrong_type_panics)
{
	struct conf *conf = load_ok(NULL);

	/* The cast defeats the compile-time check on purpose. */
	(void)conf_bool(conf, (enum conf_bool_param)P_smtpd_banner);
}
END_TEST

START_TEST(test_unknown_name_getter_panics)
{
	struct conf *conf = load_ok(NULL);

	(void)conf_int(conf, (enum conf_int_param)CONF_N_PARAMS);
}
END_TEST

/* Declarations: bounds, allowed words, obsolete names */

/* Writes main.cf and master.cf into a new directory; caller removes it
 * with tu_remove_tree and frees. */
static char *
write_confdir(const char *main_cf, const char *master_cf)
{
	char *dir = xstrdup("/tmp/check_conf_decl.XXXXXX");
	const char *texts[] = { main_cf, master_cf };
	const char *names[] = { "main.cf", "master.cf" };

	ck_assert_ptr_nonnull(mkdtemp(dir));
	for (size_t i = 0; i < 2; i++) {
		char *path = xasprintf("%s/%s", dir, names[i]);
		FILE *fp = fopen(path, "w");

		ck_assert_ptr_nonnull(fp);
		fputs(texts[i], fp);
		fclose(fp);
		free(path);
	}
	return dir;
}

/* conf_load of main_cf must fail with "DIR/FILE:rest". */
static void
assert_load_refuses(const char *main_cf, const char *master_cf,
    const char *file, const char *rest)
{
	char *dir = write_confdir(main_cf, master_cf), *err = NULL, *want;
	struct conf *conf = conf_load(dir, &err);

	ck_assert_msg(conf == NULL, "loaded: %s", main_cf);
	want = xasprintf("%s/%s:%s", dir, file, rest);
	ck_assert_str_eq(err, want);
	free(want);
	free(err);
	tu_remove_tree(dir);
	free(dir);
}

static void
assert_load_accepts(const char *main_cf)
{
	char *dir = write_confdir(main_cf, "smtp inet n - n - - smtpd\n");
	char *err = NULL;
	struct conf *conf = conf_load(dir, &err);

	ck_assert_msg(conf != NULL, "%s: %s", main_cf, err);
	conf_free(conf);
	tu_remove_tree(dir);
	free(dir);
}

START_TEST(test_declared_bounds)
{
	const struct conf_param_def *def =
	    conf_param_at(P_smtp_tls_session_cache_timeout);
	struct conf *conf;
	char *err = NULL;

	ck_assert_int_eq(def->min, 0);
	ck_assert_int_eq(def->max, 100LL * 86400);
	assert_load_refuses("smtp_tls_session_cache_timeout = 101d\n",
	    "", "main.cf", "1: smtp_tls_session_cache_timeout: at most "
	    "8640000 seconds (100 days)");
	assert_load_refuses("\nsmtpd_tls_session_cache_timeout = 8640001\n",
	    "", "main.cf", "2: smtpd_tls_session_cache_timeout: at most "
	    "8640000 seconds (100 days)");
	assert_load_accepts("smtp_tls_session_cache_timeout = 100d\n"
	    "smtpd_tls_session_cache_timeout = 0\n");
	/* The bound applies after expansion. */
	assert_load_refuses("t = 15w\nsmtp_tls_session_cache_timeout = $t\n",
	    "", "main.cf", "2: smtp_tls_session_cache_timeout: at most "
	    "8640000 seconds (100 days)");

	/* From strings the loader leaves it to the subsystem's guard. */
	conf = load_ok("smtpd_tls_session_cache_timeout = 101d\n");
	ck_assert_int_eq(conf_check_param(conf,
	    P_smtpd_tls_session_cache_timeout, &err), -1);
	ck_assert_str_eq(err, "main.cf:1: smtpd_tls_session_cache_timeout: "
	    "at most 8640000 seconds (100 days)");
	free(err);
	err = NULL;
	ck_assert_int_eq(conf_check_param(conf,
	    P_smtp_tls_session_cache_timeout, &err), 0);
	ck_assert_ptr_null(err);
	conf_free(conf);
}
END_TEST

START_TEST(test_declared_words)
{
	const struct conf_param_def *def =
	    conf_param_at(P_smtpd_tls_security_level);

	ck_assert_int_eq(def->type, CONF_STR);
	ck_assert_str_eq(def->noun, "level");
	assert_load_refuses("smtpd_tls_security_level = maybe\n", "",
	    "main.cf", "1: smtpd_tls_security_level: unknown level \"maybe\" "
	    "(expected none, may, encrypt, fingerprint, verify or secure)");
	/* A client-only level is refused for the server... */
	assert_load_refuses("smtpd_tls_security_level = dane\n", "",
	    "main.cf", "1: smtpd_tls_security_level: unknown level \"dane\" "
	    "(expected none, may, encrypt, fingerprint, verify or secure)");
	/* ...and taken by the client. */
	assert_load_accepts("smtp_tls_security_level = dane-only\n");
	/* Any case, surrounding space, empty when the default is. */
	assert_load_accepts("smtpd_tls_security_level = ENCRYPT\n"
	    "smtp_tls_security_level =\n"
	    "mynetworks_style = subnet\n");
	assert_load_refuses("x = 1\nmynetworks_style = everyone\n", "",
	    "main.cf", "2: mynetworks_style: unknown value \"everyone\" "
	    "(expected host, subnet or class)");
	/* Empty is not a word when the default is one. */
	assert_load_refuses("smtpd_forbid_bare_newline =\n", "", "main.cf",
	    "1: smtpd_forbid_bare_newline: unknown value \"\" (expected "
	    "normalize, reject, yes or no)");
	/* A master.cf -o is checked as well, naming its line. */
	assert_load_refuses("", "smtp inet n - n - - smtpd\n"
	    "  -o smtpd_tls_security_level=sometimes\n", "master.cf",
	    "2: smtpd_tls_security_level: unknown level \"sometimes\" "
	    "(expected none, may, encrypt, fingerprint, verify or secure)");
}
END_TEST

START_TEST(test_obsoleted_by)
{
	const struct conf_param_def *def = conf_param_at(P_smtp_use_tls);
	struct conf *conf;
	int from = -1;
	char *log;

	ck_assert_str_eq(def->obsoleted_by, "smtp_tls_security_level");
	ck_assert_str_eq(def->obsolete_value, "may");
	ck_assert_int_eq(def->type, CONF_BOOL);
	ck_assert_str_eq(conf_param_at(P_smtpd_enforce_tls)->obsoleted_by,
	    "smtpd_tls_security_level");
	ck_assert_ptr_null(conf_param_at(P_smtpd_tls_wrappermode)->
	    obsoleted_by);

	/* Nothing set: no meaning, from untouched. */
	conf = load_ok("");
	ck_assert_ptr_null(conf_obsolete_value(conf,
	    P_smtp_tls_security_level, &from));
	ck_assert_int_eq(from, -1);
	conf_free(conf);

	conf = load_ok("smtp_use_tls = yes\n");
	ck_assert_str_eq(conf_obsolete_value(conf, P_smtp_tls_security_level,
	    &from), "may");
	ck_assert_int_eq(from, P_smtp_use_tls);
	ck_assert_ptr_null(conf_obsolete_value(conf,
	    P_smtpd_tls_security_level, NULL));
	/* The client's names are warned about by their user, not at load. */
	tu_capture_begin();
	conf_warn_obsolete(conf, P_smtp_tls_security_level);
	conf_warn_obsolete(conf, P_smtpd_tls_security_level);
	log = tu_capture_end();
	ck_assert_str_eq(log, "tlsrelay: warning: main.cf:1: smtp_use_tls is "
	    "obsolete: use smtp_tls_security_level = may instead\n");
	free(log);
	conf_free(conf);

	/* enforce comes first in the declarations, so it wins. */
	conf = load_ok("smtpd_use_tls = yes\nsmtpd_enforce_tls = yes\n");
	ck_assert_str_eq(conf_obsolete_value(conf,
	    P_smtpd_tls_security_level, &from), "encrypt");
	ck_assert_int_eq(from, P_smtpd_enforce_tls);
	conf_free(conf);
	conf = load_ok("smtpd_use_tls = yes\nsmtpd_enforce_tls = no\n");
	ck_assert_str_eq(conf_obsolete_value(conf,
	    P_smtpd_tls_security_level, &from), "may");
	ck_assert_int_eq(from, P_smtpd_use_tls);
	conf_free(conf);
}
END_TEST

START_TEST(test_identifiers)
{
	const struct conf_param_def *table;
	size_t n;

	table = conf_param_table(&n);
	ck_assert_uint_eq(n, CONF_N_PARAMS);
	ck_assert_str_eq(conf_param_name(P_minimal_backoff_time),
	    "minimal_backoff_time");
	ck_assert_ptr_eq(conf_param_at(P_transport_maps),
	    conf_param_lookup("transport_maps"));
	for (size_t i = 0; i < n; i++) {
		ck_assert_ptr_eq(conf_param_at((int)i), &table[i]);
		/* Every default is within its own bounds. */
		if (table[i].type != CONF_STR && table[i].type != CONF_BOOL)
			ck_assert_int_le(table[i].min, table[i].max);
	}
	/* Defaults pass the declared checks, from a real directory too. */
	assert_load_accepts("");
}
END_TEST

/* A real main.cf: Debian's stock file plus the TLS lines every tutorial
 * has. It must load without a single warning. */
static const char debian_main_cf[] =
    "# See /usr/share/postfix/main.cf.dist for a commented, more complete "
    "version\n"
    "\n"
    "\n"
    "# Debian specific:  Specifying a file name will cause the first\n"
    "# line of that file to be used as the name.  The Debian default\n"
    "# is /etc/mailname.\n"
    "#myorigin = /etc/mailname\n"
    "\n"
    "smtpd_banner = $myhostname ESMTP $mail_name (Debian/GNU)\n"
    "biff = no\n"
    "\n"
    "# appending .domain is the MUA's job.\n"
    "append_dot_mydomain = no\n"
    "\n"
    "# Uncomment the next line to generate \"delayed mail\" warnings\n"
    "#delay_warning_time = 4h\n"
    "\n"
    "readme_directory = no\n"
    "\n"
    "# See http://www.postfix.org/COMPATIBILITY_README.html -- default to "
    "3.6 on\n"
    "# fresh installs.\n"
    "compatibility_level = 3.6\n"
    "\n"
    "\n"
    "\n"
    "# TLS parameters\n"
    "smtpd_tls_cert_file=/etc/ssl/certs/ssl-cert-snakeoil.pem\n"
    "smtpd_tls_key_file=/etc/ssl/private/ssl-cert-snakeoil.key\n"
    "smtpd_tls_security_level=may\n"
    "\n"
    "smtp_tls_CApath=/etc/ssl/certs\n"
    "smtp_tls_security_level=may\n"
    "smtp_tls_session_cache_database = btree:${data_directory}/smtp_scache\n"
    "\n"
    "\n"
    "smtpd_relay_restrictions = permit_mynetworks "
    "permit_sasl_authenticated defer_unauth_destination\n"
    "myhostname = mail.example.com\n"
    "alias_maps = hash:/etc/aliases\n"
    "alias_database = hash:/etc/aliases\n"
    "myorigin = /etc/mailname\n"
    "mydestination = $myhostname, example.com, localhost.localdomain, "
    "localhost\n"
    "relayhost =\n"
    "mynetworks = 127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128\n"
    "mailbox_size_limit = 0\n"
    "recipient_delimiter = +\n"
    "inet_interfaces = all\n"
    "inet_protocols = all\n"
    "\n"
    "# Tutorial TLS settings\n"
    "smtpd_tls_CAfile = /etc/ssl/certs/ca-certificates.crt\n"
    "smtpd_tls_session_cache_database = "
    "btree:${data_directory}/smtpd_scache\n"
    "smtpd_tls_mandatory_protocols = !SSLv2, !SSLv3, !TLSv1, !TLSv1.1\n"
    "smtpd_tls_protocols = !SSLv2, !SSLv3, !TLSv1, !TLSv1.1\n"
    "smtpd_tls_mandatory_ciphers = high\n"
    "smtpd_tls_exclude_ciphers = aNULL, MD5, DES, 3DES, RC4\n"
    "tls_preempt_cipherlist = yes\n"
    "smtpd_tls_loglevel = 1\n"
    "smtpd_tls_received_header = yes\n"
    "smtpd_tls_session_cache_timeout = 3600s\n"
    "smtpd_tls_auth_only = yes\n"
    "smtpd_sasl_type = dovecot\n"
    "smtpd_sasl_path = private/auth\n"
    "smtpd_sasl_auth_enable = yes\n"
    "smtpd_recipient_restrictions =\n"
    "    permit_mynetworks,\n"
    "    permit_sasl_authenticated,\n"
    "    reject_unauth_destination\n"
    "tls_random_source = dev:/dev/urandom\n"
    "message_size_limit = 52428800\n";

START_TEST(test_real_world_main_cf)
{
	char *err = NULL, *log;
	struct conf *conf;

	tu_capture_begin();
	conf = conf_load_strings(debian_main_cf, "/etc/tlsrelay/main.cf",
	    NULL, NULL, &err);
	log = tu_capture_end();
	ck_assert_msg(conf != NULL, "error: %s", err);
	ck_assert_str_eq(log, "");
	ck_assert_str_eq(conf_str(conf, P_smtpd_banner),
	    "mail.example.com ESMTP tlsrelay (Debian/GNU)");
	ck_assert_str_eq(conf_str(conf, P_smtpd_tls_security_level), "may");
	ck_assert_str_eq(conf_str(conf, P_smtpd_tls_session_cache_database),
	    "btree:" LOCALSTATEDIR "/lib/tlsrelay/smtpd_scache");
	/* Continuation lines are joined as written. */
	ck_assert_str_eq(conf_str(conf, P_smtpd_recipient_restrictions),
	    "permit_mynetworks,    permit_sasl_authenticated,    "
	    "reject_unauth_destination");
	ck_assert_int_eq(conf_int(conf, P_smtpd_tls_loglevel), 1);
	ck_assert_int_eq(conf_bool(conf, P_tls_preempt_cipherlist), 1);
	ck_assert_int_eq(conf_size(conf, P_message_size_limit), 52428800);
	ck_assert_str_eq(conf_origin(conf, P_smtpd_tls_security_level),
	    "/etc/tlsrelay/main.cf:29");
	ck_assert_str_eq(conf_str(conf, P_mydomain), "example.com");
	free(log);
	conf_free(conf);
}
END_TEST

/* conf_load reads CONFDIR/main.cf and CONFDIR/master.cf. */
/* Every refused value in one go, in file order, each once even when a
 * service's view sees it again; conf_load_all keeps going with the
 * defaults in their place. */
START_TEST(test_every_refusal_collected)
{
	static const char main_cf[] =
	    "smtpd_timeout = 5x\n"
	    "message_size_limit = -5\n"
	    "smtpd_tls_security_level = bogus\n"
	    "mynetworks_style = everyone\n";
	static const char master_cf[] =
	    "smtp inet n - n - - smtpd\n"
	    "submission inet n - n - - smtpd\n"
	    "  -o smtpd_recipient_limit=many\n";
	char *dir = write_confdir(main_cf, master_cf), *err = NULL, *want;
	struct conf *conf = conf_load(dir, &err);

	ck_assert_ptr_null(conf);
	want = xasprintf(
	    "%s/main.cf:1: invalid time value for smtpd_timeout: 5x\n"
	    "%s/main.cf:2: bad numerical configuration: "
	    "message_size_limit = -5\n"
	    "%s/main.cf:3: smtpd_tls_security_level: unknown level \"bogus\" "
	    "(expected none, may, encrypt, fingerprint, verify or secure)\n"
	    "%s/main.cf:4: mynetworks_style: unknown value \"everyone\" "
	    "(expected host, subnet or class)\n"
	    "%s/master.cf:3: bad numerical configuration: "
	    "smtpd_recipient_limit = many", dir, dir, dir, dir, dir);
	ck_assert_str_eq(err, want);
	free(err);

	/* The same lines, and a configuration whose refused values have
	 * their defaults: what is built from it can still be checked. */
	conf = conf_load_all(dir, &err);
	ck_assert_ptr_nonnull(conf);
	ck_assert_str_eq(err, want);
	ck_assert_int_eq(conf_time(conf, P_smtpd_timeout), 300);
	ck_assert_int_eq(conf_size(conf, P_message_size_limit), 10240000);
	ck_assert_str_eq(conf_str(conf, P_smtpd_tls_security_level), "");
	ck_assert_str_eq(conf_str(conf, P_mynetworks_style), "host");
	/* mynetworks follows the refused style: nothing, not everything. */
	ck_assert_str_eq(conf_str(conf, P_mynetworks), "");
	free(err);
	free(want);
	conf_free(conf);
	tu_remove_tree(dir);
	free(dir);
}
END_TEST

START_TEST(test_load_directory)
{
	char dir[] = "/tmp/check_conf_dir.XXXXXX";
	char *path, *err = NULL, *origin;
	struct conf *conf;
	FILE *fp;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	path = xasprintf("%s/main.cf", dir);
	fp = fopen(path, "w");
	fputs("# x\nmail_name = fromfile\n", fp);
	fclose(fp);

	/* master.cf missing: an error naming it. */
	conf = conf_load(dir, &err);
	ck_assert_ptr_null(conf);
	ck_assert_ptr_nonnull(strstr(err, "master.cf: No such file"));
	free(err);

	free(path);
	path = xasprintf("%s/master.cf", dir);
	fp = fopen(path, "w");
	fputs("smtp inet n - n - - smtpd\n", fp);
	fclose(fp);
	conf = conf_load(dir, &err);
	ck_assert_msg(conf != NULL, "error: %s", err);
	ck_assert_str_eq(conf_str(conf, P_mail_name), "fromfile");
	origin = xasprintf("%s/main.cf:2", dir);
	ck_assert_str_eq(conf_origin(conf, P_mail_name), origin);
	ck_assert_str_eq(conf_dir(conf), dir);
	free(origin);
	conf_free(conf);
	unlink(path);
	free(path);

	path = xasprintf("%s/main.cf", dir);
	unlink(path);
	conf = conf_load(dir, &err);
	ck_assert_ptr_null(conf);
	ck_assert_ptr_nonnull(strstr(err, "main.cf: No such file"));
	free(err);
	free(path);
	rmdir(dir);
}
END_TEST

static Suite *
conf_suite(void)
{
	Suite *s = suite_create("conf");
	TCase *tc;

	tc = tcase_create("expand");
	tcase_add_test(tc, test_expand_plain_forms);
	tcase_add_test(tc, test_expand_conditionals);
	tcase_add_test(tc, test_expand_recursive);
	tcase_add_test(tc, test_expand_public);
	tcase_add_test(tc, test_expand_loops);
	tcase_add_test(tc, test_expand_loop_in_unused_names_warns);
	tcase_add_test(tc, test_expand_syntax_errors);
	tcase_add_test(tc, test_expand_bounded);
	suite_add_tcase(s, tc);

	tc = tcase_create("lines");
	tcase_add_test(tc, test_continuation_and_comments);
	tcase_add_test(tc, test_leading_white_space_dropped);
	tcase_add_test(tc, test_override_later_wins);
	tcase_add_test(tc, test_syntax_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("values");
	tcase_add_test(tc, test_typed_errors);
	tcase_add_test(tc, test_typed_after_expansion);
	tcase_add_test(tc, test_typed_values);
	tcase_add_test(tc, test_value_parsers);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_default_follows_reference);
	tcase_add_test(tc, test_computed_defaults);
	tcase_add_test(tc, test_origin);
	tcase_add_test(tc, test_every_refusal_collected);
	tcase_add_test_raise_signal(tc, test_wrong_type_panics, SIGABRT);
	tcase_add_test_raise_signal(tc, test_unknown_name_getter_panics,
	    SIGABRT);
	suite_add_tcase(s, tc);

	tc = tcase_create("names");
	tcase_add_test(tc, test_unknown_name_warned);
	tcase_add_test(tc, test_referenced_helper_not_warned);
	tcase_add_test(tc, test_postfix_names_ignored);
	tcase_add_test(tc, test_obsolete_warned);
	tcase_add_test(tc, test_param_catalogue);
	suite_add_tcase(s, tc);

	tc = tcase_create("declarations");
	tcase_add_test(tc, test_declared_bounds);
	tcase_add_test(tc, test_declared_words);
	tcase_add_test(tc, test_obsoleted_by);
	tcase_add_test(tc, test_identifiers);
	suite_add_tcase(s, tc);

	tc = tcase_create("files");
	tcase_add_test(tc, test_real_world_main_cf);
	tcase_add_test(tc, test_load_directory);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(conf_suite)
