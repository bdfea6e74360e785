/* Tests for the mynetworks-style address lists (src/map/cidr.c,
 * src/map/host_networks.c). */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlsrelay/map.h"
#include "testutil.h"

static struct cidr_list *
parse_ok(const char *spec)
{
	char *err = NULL;
	struct cidr_list *list = cidr_list_parse(spec, &err);

	ck_assert_msg(list != NULL, "parse \"%s\" failed: %s", spec,
	    err ? err : "(no error text)");
	ck_assert_ptr_null(err);
	return list;
}

/* Parsing must fail, with an error text containing expect. */
static void
parse_fails(const char *spec, const char *expect)
{
	char *err = NULL;
	struct cidr_list *list = cidr_list_parse(spec, &err);

	ck_assert_msg(list == NULL, "parse \"%s\" should fail", spec);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, expect) != NULL,
	    "error for \"%s\" is \"%s\", expected \"%s\"", spec, err, expect);
	free(err);
}

static int
match(const char *spec, const char *addr)
{
	struct cidr_list *list = parse_ok(spec);
	int r = cidr_list_match_text(list, addr);

	cidr_list_free(list);
	return r;
}

START_TEST(test_ipv4_host_and_prefix)
{
	ck_assert_int_eq(match("127.0.0.1", "127.0.0.1"), 1);
	ck_assert_int_eq(match("127.0.0.1", "127.0.0.2"), 0);
	ck_assert_int_eq(match("127.0.0.1/32", "127.0.0.1"), 1);
	ck_assert_int_eq(match("127.0.0.0/8", "127.255.255.255"), 1);
	ck_assert_int_eq(match("127.0.0.0/8", "128.0.0.0"), 0);
	ck_assert_int_eq(match("127.0.0.0/8", "126.255.255.255"), 0);
	ck_assert_int_eq(match("0.0.0.0/0", "203.0.113.9"), 1);
	ck_assert_int_eq(match("0.0.0.0/0", "::1"), 0);
	ck_assert_int_eq(match("[192.0.2.0]/24", "192.0.2.77"), 1);
}
END_TEST

/* Every prefix length from 0 to 32: the network's first and last
 * address match, the addresses just outside do not. */
START_TEST(test_ipv4_every_prefix_boundary)
{
	for (int len = 0; len <= 32; len++) {
		unsigned int size = len == 0 ? 0 : 1U << (32 - len);
		unsigned int mask = len == 0 ? 0 : 0xffffffffU << (32 - len);
		unsigned int net = 0xc0a88000U & mask;	/* 192.168.128.0 */
		unsigned int first = net, last = net + size - 1;
		struct in_addr a;
		char spec[64], text[INET_ADDRSTRLEN], nettext[INET_ADDRSTRLEN];
		struct cidr_list *list;

		a.s_addr = htonl(net);
		inet_ntop(AF_INET, &a, nettext, sizeof(nettext));
		snprintf(spec, sizeof(spec), "%s/%d", nettext, len);
		list = parse_ok(spec);

		a.s_addr = htonl(first);
		inet_ntop(AF_INET, &a, text, sizeof(text));
		ck_assert_msg(cidr_list_match_text(list, text), "%s in %s",
		    text, spec);
		a.s_addr = htonl(last);
		inet_ntop(AF_INET, &a, text, sizeof(text));
		ck_assert_msg(cidr_list_match_text(list, text), "%s in %s",
		    text, spec);
		if (len > 0) {
			a.s_addr = htonl(first - 1);
			inet_ntop(AF_INET, &a, text, sizeof(text));
			ck_assert_msg(!cidr_list_match_text(list, text),
			    "%s not in %s", text, spec);
			a.s_addr = htonl(last + 1);
			inet_ntop(AF_INET, &a, text, sizeof(text));
			ck_assert_msg(!cidr_list_match_text(list, text),
			    "%s not in %s", text, spec);
		}
		cidr_list_free(list);
	}
}
END_TEST

/* Every prefix length from 0 to 128 on 2001:db8:: with all later bits
 * clear: the network's last address matches, one past it does not. */
START_TEST(test_ipv6_every_prefix_boundary)
{
	for (int len = 0; len <= 128; len++) {
		unsigned char net[16], last[16], after[16];
		char spec[80], text[INET6_ADDRSTRLEN];
		struct cidr_list *list;
		int carry;

		memset(net, 0, sizeof(net));
		net[0] = 0x20;
		net[1] = 0x01;
		net[2] = 0x0d;
		net[3] = 0xb8;
		for (int i = 0; i < 16; i++) {
			int keep = len - i * 8;

			if (keep < 8)
				net[i] &= keep <= 0 ? 0 :
				    (unsigned char)(0xff << (8 - keep));
		}
		memcpy(last, net, 16);
		for (int i = 0; i < 16; i++) {
			int keep = len - i * 8;

			if (keep < 8)
				last[i] |= keep <= 0 ? 0xff :
				    (unsigned char)(0xff >> keep);
		}
		inet_ntop(AF_INET6, net, text, sizeof(text));
		snprintf(spec, sizeof(spec), len % 2 ? "[%s]/%d" : "%s/%d",
		    text, len);
		list = parse_ok(spec);
		ck_assert_msg(cidr_list_match_text(list, text), "%s in %s",
		    text, spec);
		inet_ntop(AF_INET6, last, text, sizeof(text));
		ck_assert_msg(cidr_list_match_text(list, text), "%s in %s",
		    text, spec);
		/* last + 1 */
		memcpy(after, last, 16);
		carry = 1;
		for (int i = 15; i >= 0 && carry; i--) {
			after[i]++;
			carry = after[i] == 0;
		}
		if (!carry) {
			inet_ntop(AF_INET6, after, text, sizeof(text));
			ck_assert_msg(!cidr_list_match_text(list, text),
			    "%s not in %s", text, spec);
		}
		cidr_list_free(list);
	}
}
END_TEST

START_TEST(test_ipv6_forms)
{
	ck_assert_int_eq(match("[::1]/128", "::1"), 1);
	ck_assert_int_eq(match("[::1]/128", "[::1]"), 1);
	ck_assert_int_eq(match("[::1]/128", "::2"), 0);
	ck_assert_int_eq(match("::1", "::1"), 1);
	ck_assert_int_eq(match("[::1]", "::1"), 1);
	ck_assert_int_eq(match("[fe80::]/10", "fe80::1"), 1);
	ck_assert_int_eq(match("[fe80::]/10", "febf:ffff::1"), 1);
	ck_assert_int_eq(match("[fe80::]/10", "fec0::1"), 0);
	ck_assert_int_eq(match("[fe80::]/10", "fe80::1%eth0"), 1);
	ck_assert_int_eq(match("[fe80::]/10", "[fe80::1%eth0]"), 1);
	ck_assert_int_eq(match("::/0", "2001:db8::1"), 1);
	ck_assert_int_eq(match("::/0", "127.0.0.1"), 0);
	ck_assert_int_eq(match("[::1]/128", "127.0.0.1"), 0);
}
END_TEST

START_TEST(test_mapped_ipv4)
{
	/* An IPv4 client on a dual-stack socket. */
	ck_assert_int_eq(match("127.0.0.0/8", "::ffff:127.0.0.1"), 1);
	ck_assert_int_eq(match("10.0.0.0/8", "::ffff:127.0.0.1"), 0);
	ck_assert_int_eq(match("[::ffff:127.0.0.0]/104", "127.9.9.9"), 1);
	ck_assert_int_eq(match("[::ffff:127.0.0.0]/104", "::ffff:127.9.9.9"),
	    1);
	ck_assert_int_eq(match("[::ffff:127.0.0.0]/104", "128.0.0.1"), 0);
}
END_TEST

START_TEST(test_sockaddr)
{
	struct cidr_list *list = parse_ok("127.0.0.0/8, [::1]/128");
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct sockaddr sa;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
	ck_assert_int_eq(cidr_list_match(list, (struct sockaddr *)&sin), 1);
	inet_pton(AF_INET, "192.0.2.1", &sin.sin_addr);
	ck_assert_int_eq(cidr_list_match(list, (struct sockaddr *)&sin), 0);

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::1", &sin6.sin6_addr);
	ck_assert_int_eq(cidr_list_match(list, (struct sockaddr *)&sin6), 1);
	inet_pton(AF_INET6, "::ffff:127.0.0.1", &sin6.sin6_addr);
	ck_assert_int_eq(cidr_list_match(list, (struct sockaddr *)&sin6), 1);
	inet_pton(AF_INET6, "::ffff:192.0.2.1", &sin6.sin6_addr);
	ck_assert_int_eq(cidr_list_match(list, (struct sockaddr *)&sin6), 0);
	inet_pton(AF_INET6, "::2", &sin6.sin6_addr);
	ck_assert_int_eq(cidr_list_match(list, (struct sockaddr *)&sin6), 0);

	memset(&sa, 0, sizeof(sa));
	sa.sa_family = AF_UNIX;
	ck_assert_int_eq(cidr_list_match(list, &sa), 0);
	ck_assert_int_eq(cidr_list_match(list, NULL), 0);
	ck_assert_int_eq(cidr_list_match_text(list, "not an address"), 0);
	ck_assert_int_eq(cidr_list_match_text(list, "[::1"), 0);
	cidr_list_free(list);
}
END_TEST

START_TEST(test_negation_first_match_wins)
{
	const char *spec = "!192.168.1.1 192.168.1.0/24, !192.168.0.0/16 "
	    "192.168.0.0/15";

	ck_assert_int_eq(match(spec, "192.168.1.1"), 0);
	ck_assert_int_eq(match(spec, "192.168.1.2"), 1);
	ck_assert_int_eq(match(spec, "192.168.2.1"), 0);
	ck_assert_int_eq(match(spec, "192.169.2.1"), 1);
	ck_assert_int_eq(match(spec, "10.0.0.1"), 0);
	/* The order matters: the positive entry first wins. */
	ck_assert_int_eq(match("192.168.1.0/24 !192.168.1.1", "192.168.1.1"),
	    1);
	ck_assert_int_eq(match("![::1] [::]/0", "::1"), 0);
	ck_assert_int_eq(match("![::1] [::]/0", "::2"), 1);
	/* A negation alone matches nothing. */
	ck_assert_int_eq(match("!10.0.0.0/8", "10.1.1.1"), 0);
	ck_assert_int_eq(match("!10.0.0.0/8", "11.1.1.1"), 0);
}
END_TEST

START_TEST(test_separators_and_empty)
{
	ck_assert_int_eq(match("", "127.0.0.1"), 0);
	ck_assert_int_eq(match(" ,\t\n", "127.0.0.1"), 0);
	ck_assert_int_eq(match("10.0.0.0/8,127.0.0.1\t[::1]/128\n",
	    "127.0.0.1"), 1);
	ck_assert_int_eq(match("10.0.0.0/8,127.0.0.1\t[::1]/128\n", "::1"),
	    1);
}
END_TEST

START_TEST(test_errors)
{
	parse_fails("10.0.0.1/8", "non-null host address bits in 10.0.0.1/8");
	parse_fails("10.0.0.1/8", "10.0.0.0/8");
	parse_fails("[fe80::1]/10", "non-null host address bits in "
	    "[fe80::1]/10");
	parse_fails("127.0.0.1/31", "non-null host address bits");
	parse_fails("!10.0.0.1/8", "non-null host address bits");
	parse_fails("10.0.0.0/33", "bad prefix length");
	parse_fails("[::]/129", "bad prefix length");
	parse_fails("10.0.0.0/", "bad prefix length");
	parse_fails("10.0.0.0/-1", "bad prefix length");
	parse_fails("10.0.0.0/8x", "bad prefix length");
	parse_fails("10.0.0.0/0008", "bad prefix length");
	parse_fails("300.0.0.0/8", "bad address pattern: 300.0.0.0/8");
	parse_fails("example.com", "bad address pattern");
	parse_fails("127.0.0.1 garbage", "bad address pattern: garbage");
	parse_fails("[10.0.0.0/8", "bad address pattern");
	parse_fails("!", "bad address pattern");
	parse_fails("fe80::1%eth0", "bad address pattern");
	parse_fails("hash:/etc/postfix/network_table",
	    "table lookups in this list are not supported yet: "
	    "hash:/etc/postfix/network_table");
	parse_fails("127.0.0.1 cidr:/etc/postfix/nets",
	    "table lookups in this list are not supported yet");
	parse_fails("cdb:/etc/postfix/nets",
	    "table lookups in this list are not supported yet");
	parse_fails("inline:{10.0.0.0/8}",
	    "table lookups in this list are not supported yet");
	parse_fails("/etc/postfix/nets",
	    "table lookups in this list are not supported yet");
}
END_TEST

/* The host's own networks parse as a list and contain loopback. */
START_TEST(test_host_networks)
{
	char *host = cidr_host_networks();
	char *subnet = cidr_subnet_networks();
	struct cidr_list *h = parse_ok(host), *s = parse_ok(subnet);

	ck_assert_msg(strncmp(host, "127.0.0.0/8 [::1]/128", 21) == 0,
	    "host networks: %s", host);
	ck_assert_int_eq(cidr_list_match_text(h, "127.0.0.1"), 1);
	ck_assert_int_eq(cidr_list_match_text(h, "::1"), 1);
	ck_assert_int_eq(cidr_list_match_text(s, "127.0.0.1"), 1);
	ck_assert_int_eq(cidr_list_match_text(s, "::1"), 1);
	ck_assert_int_eq(cidr_list_match_text(h, "192.0.2.1"), 0);
	/* No entry is listed twice. */
	ck_assert_ptr_null(strstr(host + 21, "127.0.0.0/8"));
	ck_assert_ptr_null(strstr(host + 21, "[::1]/128"));
	cidr_list_free(h);
	cidr_list_free(s);
	free(host);
	free(subnet);
}
END_TEST

/* cidr_list_outside: entries of a list not inside one entry of another,
 * as tlsrelay check names mynetworks entries wider than the host's. */
static char *
outside(const char *spec, const char *within_spec)
{
	struct cidr_list *list = parse_ok(spec), *within = parse_ok(within_spec);
	char *wider = cidr_list_outside(list, within);

	cidr_list_free(list);
	cidr_list_free(within);
	return wider;
}

START_TEST(test_outside)
{
	const char *host = "127.0.0.0/8 [::1]/128 10.1.2.0/24 [2001:db8::]/64";
	char *wider;

	ck_assert_ptr_null(outside("127.0.0.1 10.1.2.128/25 10.1.2.0/24 "
	    "[2001:db8::1]/128 [::1]/128", host));
	/* One bit wider is outside; an IPv4-mapped entry counts as IPv4. */
	wider = outside("10.1.2.0/23 [::ffff:10.1.2.0]/120 0.0.0.0/0 "
	    "[2001:db8::]/63 127.0.0.0/8", host);
	ck_assert_str_eq(wider, "10.1.2.0/23 0.0.0.0/0 [2001:db8::]/63");
	free(wider);
	/* A negated entry trusts nobody; a negated "within" covers nothing. */
	ck_assert_ptr_null(outside("!192.0.2.1 127.0.0.1", host));
	wider = outside("192.0.2.1", "!192.0.2.0/24 127.0.0.0/8");
	ck_assert_str_eq(wider, "192.0.2.1/32");
	free(wider);
}
END_TEST

static Suite *
cidr_suite(void)
{
	Suite *s = suite_create("cidr");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_ipv4_host_and_prefix);
	tcase_add_test(tc, test_ipv4_every_prefix_boundary);
	tcase_add_test(tc, test_ipv6_every_prefix_boundary);
	tcase_add_test(tc, test_ipv6_forms);
	tcase_add_test(tc, test_mapped_ipv4);
	tcase_add_test(tc, test_sockaddr);
	tcase_add_test(tc, test_negation_first_match_wins);
	tcase_add_test(tc, test_separators_and_empty);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_host_networks);
	tcase_add_test(tc, test_outside);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(cidr_suite)
