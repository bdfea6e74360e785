/* Tests for relay_domains-style domain lists (src/map/domain_list.c). */
#include "config.h"

#include <check.h>
#include <stdlib.h>

#include "tlsrelay/map.h"
#include "testutil.h"

static int
match(const char *spec, int subdomains, const char *domain)
{
	struct domain_list *list = domain_list_parse(spec, subdomains);
	int r = domain_list_match(list, domain);

	domain_list_free(list);
	return r;
}

START_TEST(test_exact)
{
	ck_assert_int_eq(match("example.com", 0, "example.com"), 1);
	ck_assert_int_eq(match("example.com", 0, "EXAMPLE.Com"), 1);
	ck_assert_int_eq(match("Example.COM", 0, "example.com"), 1);
	ck_assert_int_eq(match("example.com", 0, "example.com."), 1);
	ck_assert_int_eq(match("example.com.", 0, "example.com"), 1);
	ck_assert_int_eq(match("example.com", 0, "example.org"), 0);
	ck_assert_int_eq(match("example.com", 0, "xexample.com"), 0);
	ck_assert_int_eq(match("example.com", 0, "example.co"), 0);
	ck_assert_int_eq(match("example.com", 0, "example.com.au"), 0);
	ck_assert_int_eq(match("example.com", 0, ""), 0);
	ck_assert_int_eq(match("example.com", 0, "."), 0);
	ck_assert_int_eq(match("", 0, "example.com"), 0);
}
END_TEST

START_TEST(test_subdomains)
{
	/* subdomains = 0: only the name itself. */
	ck_assert_int_eq(match("example.com", 0, "mail.example.com"), 0);
	/* subdomains = 1: parent_domain_matches_subdomains. */
	ck_assert_int_eq(match("example.com", 1, "example.com"), 1);
	ck_assert_int_eq(match("example.com", 1, "mail.example.com"), 1);
	ck_assert_int_eq(match("example.com", 1, "a.b.Example.COM."), 1);
	ck_assert_int_eq(match("example.com", 1, "badexample.com"), 0);
	ck_assert_int_eq(match("example.com", 1, ".example.com"), 0);
	ck_assert_int_eq(match("example.com", 1, "example.com.evil"), 0);
	/* ".example.com": subdomains only, whatever the flag. */
	ck_assert_int_eq(match(".example.com", 0, "mail.example.com"), 1);
	ck_assert_int_eq(match(".example.com", 1, "mail.example.com"), 1);
	ck_assert_int_eq(match(".example.com", 0, "example.com"), 0);
	ck_assert_int_eq(match(".example.com", 1, "example.com"), 0);
	ck_assert_int_eq(match(".example.com", 0, "badexample.com"), 0);
}
END_TEST

START_TEST(test_separators_and_lists)
{
	const char *spec = "one.example, two.example\tthree.example\n"
	    "  four.example,,five.example";

	ck_assert_int_eq(match(spec, 0, "one.example"), 1);
	ck_assert_int_eq(match(spec, 0, "three.example"), 1);
	ck_assert_int_eq(match(spec, 0, "five.example"), 1);
	ck_assert_int_eq(match(spec, 0, "six.example"), 0);
}
END_TEST

START_TEST(test_address_literals_never_match)
{
	ck_assert_int_eq(match("127.0.0.1 [127.0.0.1] example.com", 1,
	    "[127.0.0.1]"), 0);
	ck_assert_int_eq(match("[ipv6:::1] example.com", 1, "[IPv6:::1]"), 0);
	/* A bare address is a (strange) name, compared as text. */
	ck_assert_int_eq(match("127.0.0.1", 0, "127.0.0.1"), 1);
}
END_TEST

START_TEST(test_tables_ignored)
{
	/* A table is skipped with a warning; the other entries work. */
	ck_assert_int_eq(match("hash:/etc/postfix/relay example.com", 0,
	    "example.com"), 1);
	ck_assert_int_eq(match("hash:/etc/postfix/relay example.com", 0,
	    "hash"), 0);
	ck_assert_int_eq(match("/etc/postfix/relay_domains", 1,
	    "relay_domains"), 0);
	ck_assert_int_eq(match("/etc/postfix/relay_domains", 1,
	    "etc"), 0);
}
END_TEST

START_TEST(test_negation)
{
	const char *spec = "!secret.example.com example.com";

	ck_assert_int_eq(match(spec, 1, "secret.example.com"), 0);
	ck_assert_int_eq(match(spec, 1, "a.secret.example.com"), 0);
	ck_assert_int_eq(match(spec, 1, "public.example.com"), 1);
	ck_assert_int_eq(match(spec, 1, "example.com"), 1);
	/* First match wins: the positive entry first. */
	ck_assert_int_eq(match("example.com !secret.example.com", 1,
	    "secret.example.com"), 1);
	ck_assert_int_eq(match("!example.com", 1, "example.com"), 0);
}
END_TEST

START_TEST(test_null_safety)
{
	struct domain_list *list = domain_list_parse(NULL, 1);

	ck_assert_int_eq(domain_list_match(list, "example.com"), 0);
	ck_assert_int_eq(domain_list_match(list, NULL), 0);
	ck_assert_int_eq(domain_list_match(NULL, "example.com"), 0);
	domain_list_free(list);
	domain_list_free(NULL);
}
END_TEST

static Suite *
domain_list_suite(void)
{
	Suite *s = suite_create("domain_list");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_exact);
	tcase_add_test(tc, test_subdomains);
	tcase_add_test(tc, test_separators_and_lists);
	tcase_add_test(tc, test_address_literals_never_match);
	tcase_add_test(tc, test_tables_ignored);
	tcase_add_test(tc, test_negation);
	tcase_add_test(tc, test_null_safety);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(domain_list_suite)
