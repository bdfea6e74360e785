/* check_master: master.cf parsing and a service's view of the
 * configuration (conf_for_service). */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "tlsrelay/conf.h"
#include "tlsrelay/util.h"

#ifndef TEST_DATA_DIR
#define TEST_DATA_DIR "tests/unit/data"
#endif


static char *
read_data(const char *name)
{
	char *path = xasprintf("%s/%s", TEST_DATA_DIR, name);
	char *text = tu_read_file(path, NULL);

	free(path);
	return text;
}

static struct conf *
load_ok(const char *main_cf, const char *master_cf)
{
	char *err = NULL;
	struct conf *conf = conf_load_strings(main_cf, "main.cf", master_cf,
	    "master.cf", &err);

	ck_assert_msg(conf != NULL, "unexpected error: %s", err);
	return conf;
}

static void
assert_err(const char *main_cf, const char *master_cf, const char *expected)
{
	char *err = NULL;
	struct conf *conf = conf_load_strings(main_cf, "main.cf", master_cf,
	    "master.cf", &err);

	ck_assert_msg(conf == NULL, "loaded but should not: %s", master_cf);
	ck_assert_ptr_nonnull(err);
	ck_assert_str_eq(err, expected);
	free(err);
}

static const struct master_service *
find_service(const struct conf *conf, const char *name, const char *type)
{
	const struct master_service *const *list;
	size_t n = conf_services(conf, &list);

	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i]->name, name) == 0 &&
		    strcmp(list[i]->type, type) == 0)
			return list[i];
	ck_abort_msg("no service %s/%s", name, type);
	return NULL;
}

START_TEST(test_debian_stock)
{
	char *master_cf = read_data("master.cf.dist"), *log;
	const struct master_service *const *list;
	const struct master_service *svc;
	struct conf *conf;
	char *err = NULL;
	size_t n;

	tu_capture_begin();
	conf = conf_load_strings("", "main.cf", master_cf, "master.cf", &err);
	log = tu_capture_end();
	ck_assert_msg(conf != NULL, "error: %s", err);
	ck_assert_str_eq(log, "");
	n = conf_services(conf, &list);
	ck_assert_uint_eq(n, 31);

	svc = list[0];
	ck_assert_str_eq(svc->name, "smtp");
	ck_assert_str_eq(svc->type, "inet");
	ck_assert_int_eq(svc->private_, 0);
	ck_assert_int_eq(svc->unpriv, -1);
	ck_assert_int_eq(svc->chroot, 1);
	ck_assert_str_eq(svc->wakeup, "-");
	ck_assert_int_eq(svc->maxproc, -1);
	ck_assert_str_eq(svc->command, "smtpd");
	ck_assert_ptr_null(svc->args[0]);
	ck_assert_ptr_null(svc->host);
	ck_assert_str_eq(svc->port, "smtp");
	ck_assert_str_eq(svc->file, "master.cf");
	ck_assert_int_eq(svc->line, 12);

	svc = find_service(conf, "tlsmgr", "unix");
	ck_assert_str_eq(svc->wakeup, "1000?");
	ck_assert_int_eq(svc->maxproc, 1);
	ck_assert_ptr_null(svc->host);
	ck_assert_ptr_null(svc->port);

	/* Same name, other type: not a duplicate. */
	svc = find_service(conf, "smtp", "unix");
	ck_assert_str_eq(svc->command, "smtp");

	svc = find_service(conf, "relay", "unix");
	ck_assert_uint_eq(svc->n_overrides, 1);
	ck_assert_str_eq(svc->overrides[0].name, "syslog_name");
	ck_assert_str_eq(svc->overrides[0].value, "postfix/$service_name");

	svc = find_service(conf, "postlog", "unix-dgram");
	ck_assert_str_eq(svc->command, "postlogd");

	/* Arguments on the continuation line, kept as written. */
	svc = find_service(conf, "maildrop", "unix");
	ck_assert_str_eq(svc->command, "pipe");
	ck_assert_str_eq(svc->args[0], "flags=DRXhu");
	ck_assert_str_eq(svc->args[1], "user=vmail");
	ck_assert_str_eq(svc->args[2], "argv=/usr/bin/maildrop");
	ck_assert_str_eq(svc->args[3], "-d");
	ck_assert_str_eq(svc->args[4], "${recipient}");
	ck_assert_ptr_null(svc->args[5]);
	ck_assert_int_eq(svc->line, 93);

	free(log);
	conf_free(conf);
	free(master_cf);
}
END_TEST

START_TEST(test_overrides_both_forms)
{
	struct conf *conf = load_ok(
	    "mua_client_restrictions = permit_sasl_authenticated, reject\n",
	    "# comment\n"
	    "submission inet n       -       y       -       -       smtpd\n"
	    "  -o syslog_name=postfix/submission\n"
	    "# a comment inside the entry\n"
	    "  -o smtpd_tls_security_level=encrypt -v\n"
	    "  -o { smtpd_client_restrictions = $mua_client_restrictions }\n"
	    "  -o { smtpd_banner = two  words  here }\n"
	    "  -o smtpd_helo_restrictions=\n"
	    "  -osmtpd_sasl_auth_enable=yes\n"
	    "  -o { mail_name = {nested} braces }\n");
	const struct master_service *svc = find_service(conf, "submission",
	    "inet");

	ck_assert_uint_eq(svc->n_overrides, 7);
	ck_assert_str_eq(svc->overrides[0].name, "syslog_name");
	ck_assert_str_eq(svc->overrides[0].value, "postfix/submission");
	ck_assert_int_eq(svc->overrides[0].line, 3);
	ck_assert_str_eq(svc->overrides[1].name, "smtpd_tls_security_level");
	ck_assert_int_eq(svc->overrides[1].line, 5);
	ck_assert_str_eq(svc->overrides[2].name, "smtpd_client_restrictions");
	ck_assert_str_eq(svc->overrides[2].value, "$mua_client_restrictions");
	ck_assert_int_eq(svc->overrides[2].line, 6);
	ck_assert_str_eq(svc->overrides[3].name, "smtpd_banner");
	ck_assert_str_eq(svc->overrides[3].value, "two  words  here");
	ck_assert_str_eq(svc->overrides[4].name, "smtpd_helo_restrictions");
	ck_assert_str_eq(svc->overrides[4].value, "");
	ck_assert_str_eq(svc->overrides[5].name, "smtpd_sasl_auth_enable");
	ck_assert_str_eq(svc->overrides[5].value, "yes");
	ck_assert_str_eq(svc->overrides[6].value, "{nested} braces");
	/* -o pairs are removed from args, other arguments stay. */
	ck_assert_str_eq(svc->args[0], "-v");
	ck_assert_ptr_null(svc->args[1]);
	ck_assert_int_eq(svc->line, 2);
	conf_free(conf);
}
END_TEST

struct split_case {
	const char *name;
	const char *host;
	const char *port;
};

START_TEST(test_inet_host_port)
{
	static const struct split_case cases[] = {
		{ "127.0.0.1:2525", "127.0.0.1", "2525" },
		{ "[::1]:2525", "::1", "2525" },
		{ "2525", NULL, "2525" },
		{ "smtp", NULL, "smtp" },
		{ "submission", NULL, "submission" },
		{ "[::]:25", "::", "25" },
		{ "localhost:smtps", "localhost", "smtps" },
		{ "[2001:db8::1]:587", "2001:db8::1", "587" },
	};
	struct strbuf sb;
	struct conf *conf;

	strbuf_init(&sb);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		strbuf_printf(&sb, "%s inet n - n - - smtpd\n", cases[i].name);
	conf = load_ok(NULL, sb.data);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct master_service *svc = find_service(conf,
		    cases[i].name, "inet");

		if (cases[i].host)
			ck_assert_str_eq(svc->host, cases[i].host);
		else
			ck_assert_ptr_null(svc->host);
		ck_assert_str_eq(svc->port, cases[i].port);
	}
	conf_free(conf);
	strbuf_free(&sb);
}
END_TEST

START_TEST(test_inet_bad_names)
{
	assert_err(NULL, "smtp inet n - n - - smtpd\n[::1] inet n - n - - "
	    "smtpd\n", "master.cf:2: bad inet service name: [::1] (expected "
	    "port, host:port or [ipv6]:port)");
	assert_err(NULL, "::1:25 inet n - n - - smtpd\n",
	    "master.cf:1: bad inet service name: ::1:25 (expected port, "
	    "host:port or [ipv6]:port)");
	assert_err(NULL, "host: inet n - n - - smtpd\n",
	    "master.cf:1: bad inet service name: host: (expected port, "
	    "host:port or [ipv6]:port)");
	assert_err(NULL, "[]:25 inet n - n - - smtpd\n",
	    "master.cf:1: bad inet service name: []:25 (expected port, "
	    "host:port or [ipv6]:port)");
}
END_TEST

START_TEST(test_errors_with_line_numbers)
{
	assert_err(NULL, "# c\nsmtp inet n - n - -\n",
	    "master.cf:2: field count: expected at least 8 fields, found 7: "
	    "\"smtp inet n - n - -\"");
	assert_err(NULL, "smtp inet n - n - many smtpd\n",
	    "master.cf:1: bad maxproc field: many");
	assert_err(NULL, "smtp inet n - n - -1 smtpd\n",
	    "master.cf:1: bad maxproc field: -1");
	assert_err(NULL, "\nsmtp tcp n - n - - smtpd\n",
	    "master.cf:2: unknown service type: tcp");
	assert_err(NULL, "smtp inet yes - n - - smtpd\n",
	    "master.cf:1: bad private/unpriv/chroot field: expected y, n or -: "
	    "\"yes - n\"");
	assert_err(NULL, "smtp inet n - n often - smtpd\n",
	    "master.cf:1: bad wakeup field: often");
	assert_err(NULL, "smtp inet n - n - - smtpd\npickup unix n - n 60 1 "
	    "pickup\n\nsmtp inet n - n - 2 smtpd\n",
	    "master.cf:4: duplicate service name and type: smtp/inet (first "
	    "defined at line 1)");
	assert_err(NULL, "smtp inet n - n - - smtpd\n  -o\n",
	    "master.cf:2: -o without name=value");
	assert_err(NULL, "smtp inet n - n - - smtpd\n  -o syslog_name\n",
	    "master.cf:2: missing '=' in -o syslog_name");
	assert_err(NULL, "smtp inet n - n - - smtpd\n -o x=1\n  -o { a = b\n",
	    "master.cf:3: missing '}' in \"{ a = b\"");
}
END_TEST

START_TEST(test_override_values_checked)
{
	assert_err(NULL, "smtp inet n - n - - smtpd\n\nsubmission inet n - n "
	    "- - smtpd\n  -o syslog_name=x\n  -o smtpd_tls_wrappermode=maybe\n",
	    "master.cf:5: bad boolean configuration: smtpd_tls_wrappermode = "
	    "maybe");
	assert_err(NULL, "smtp inet n - n - - smtpd -o smtpd_timeout=10q\n",
	    "master.cf:1: invalid time value for smtpd_timeout: 10q");
	/* Checked after expansion in the service's view. */
	assert_err("limit = lots\n", "smtp inet n - n - - smtpd\n"
	    "  -o smtpd_recipient_limit=$limit\n",
	    "master.cf:2: bad numerical configuration: smtpd_recipient_limit "
	    "= lots");
	assert_err(NULL, "smtp inet n - n - - smtpd\n"
	    "  -o smtpd_banner=${oops\n",
	    "master.cf:2: smtpd_banner: truncated macro reference: \"${oops\"");
}
END_TEST

START_TEST(test_override_names_warned)
{
	char *err = NULL, *log;
	struct conf *conf;

	tu_capture_begin();
	conf = conf_load_strings("mua_helo = permit\n", "main.cf",
	    "smtp inet n - n - - smtpd\n"
	    "  -o smtpd_helo_restrictions=$mua_helo\n"
	    "  -o made_up_name=1\n"
	    "  -o smtpd_reject_unlisted_recipient=no\n"
	    "  -o smtpd_use_tls=yes\n", "master.cf", &err);
	log = tu_capture_end();
	ck_assert_msg(conf != NULL, "error: %s", err);
	/* mua_helo is referenced: quiet. A Postfix name: quiet. */
	ck_assert_ptr_null(strstr(log, "mua_helo"));
	ck_assert_ptr_null(strstr(log, "smtpd_reject_unlisted_recipient"));
	ck_assert_ptr_nonnull(strstr(log, "warning: master.cf:3: unused "
	    "parameter: made_up_name=1\n"));
	ck_assert_ptr_nonnull(strstr(log, "warning: master.cf:5: smtpd_use_tls "
	    "is obsolete: use smtpd_tls_security_level = may instead\n"));
	free(log);
	conf_free(conf);
}
END_TEST

START_TEST(test_for_service)
{
	struct conf *conf = load_ok(
	    "myhostname = mx.example.com\n"
	    "smtpd_tls_cert_file = /etc/ssl/rsa.pem\n"
	    "tls_state = ${smtpd_tls_security_level?{tls-$smtpd_tls_security_"
	    "level}:{plain}}\n"
	    "smtpd_banner = $myhostname ESMTP $tls_state\n"
	    "smtpd_timeout = 1m\n",
	    "smtp inet n - n - - smtpd\n"
	    "submission inet n - n - - smtpd\n"
	    "  -o smtpd_tls_security_level=encrypt\n"
	    "  -o smtpd_timeout=2m\n"
	    "  -o smtpd_tls_cert_file=/etc/ssl/sub.pem\n"
	    "  -o syslog_name=tlsrelay/$service_name\n");
	const struct master_service *smtp = find_service(conf, "smtp", "inet");
	const struct master_service *sub = find_service(conf, "submission",
	    "inet");
	struct conf *view_smtp, *view_sub;
	char *err = NULL;

	view_sub = conf_for_service(conf, sub, &err);
	ck_assert_msg(view_sub != NULL, "error: %s", err);
	view_smtp = conf_for_service(conf, smtp, &err);
	ck_assert_msg(view_smtp != NULL, "error: %s", err);

	/* Overrides apply and derived values are re-expanded. */
	ck_assert_str_eq(conf_str(view_sub, P_smtpd_tls_security_level),
	    "encrypt");
	ck_assert_str_eq(conf_str(view_sub, P_smtpd_banner),
	    "mx.example.com ESMTP tls-encrypt");
	ck_assert_str_eq(conf_str(view_sub, P_smtpd_tls_key_file),
	    "/etc/ssl/sub.pem");
	ck_assert_int_eq(conf_time(view_sub, P_smtpd_timeout), 120);
	ck_assert_str_eq(conf_str(view_sub, P_syslog_name),
	    "tlsrelay/submission");
	ck_assert_str_eq(conf_origin(view_sub, P_smtpd_tls_security_level),
	    "master.cf:3");
	ck_assert_str_eq(conf_origin(view_sub, P_smtpd_timeout),
	    "master.cf:4");
	ck_assert_str_eq(conf_origin(view_sub, P_myhostname), "main.cf:1");
	ck_assert_ptr_null(conf_origin(view_sub, P_mail_name));
	ck_assert_int_eq(conf_is_set(view_sub, P_smtpd_tls_security_level), 1);

	/* A service without overrides, and the main view, are unchanged. */
	ck_assert_str_eq(conf_str(view_smtp, P_smtpd_banner),
	    "mx.example.com ESMTP plain");
	ck_assert_str_eq(conf_str(conf, P_smtpd_banner),
	    "mx.example.com ESMTP plain");
	ck_assert_int_eq(conf_time(conf, P_smtpd_timeout), 60);
	ck_assert_str_eq(conf_origin(conf, P_smtpd_timeout), "main.cf:5");
	ck_assert_int_eq(conf_is_set(conf, P_smtpd_tls_security_level), 0);
	ck_assert_str_eq(conf_str(conf, P_smtpd_tls_key_file),
	    "/etc/ssl/rsa.pem");

	/* The view shares the service list and outlives nothing. */
	{
		const struct master_service *const *list;

		ck_assert_uint_eq(conf_services(view_sub, &list), 2);
		ck_assert_ptr_eq(list[1], sub);
	}
	conf_free(view_sub);
	conf_free(view_smtp);
	ck_assert_str_eq(sub->overrides[0].value, "encrypt");
	conf_free(conf);
}
END_TEST

START_TEST(test_for_service_view_of_view)
{
	struct conf *conf = load_ok("", "a inet n - n - - smtpd -o "
	    "mail_name=A\n");
	const struct master_service *a = find_service(conf, "a", "inet");
	char *err = NULL;
	struct conf *view, *view2;

	view = conf_for_service(conf, a, &err);
	ck_assert_ptr_nonnull(view);
	view2 = conf_for_service(view, a, &err);
	ck_assert_ptr_nonnull(view2);
	conf_free(conf);
	conf_free(view);
	/* The last holder still sees the services. */
	ck_assert_str_eq(conf_str(view2, P_mail_name), "A");
	ck_assert_str_eq(a->name, "a");
	conf_free(view2);
}
END_TEST

static Suite *
master_suite(void)
{
	Suite *s = suite_create("master");
	TCase *tc;

	tc = tcase_create("parse");
	tcase_add_test(tc, test_debian_stock);
	tcase_add_test(tc, test_overrides_both_forms);
	tcase_add_test(tc, test_inet_host_port);
	tcase_add_test(tc, test_inet_bad_names);
	tcase_add_test(tc, test_errors_with_line_numbers);
	suite_add_tcase(s, tc);

	tc = tcase_create("service");
	tcase_add_test(tc, test_override_values_checked);
	tcase_add_test(tc, test_override_names_warned);
	tcase_add_test(tc, test_for_service);
	tcase_add_test(tc, test_for_service_view_of_view);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(master_suite)
