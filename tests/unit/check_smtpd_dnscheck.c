/* check_smtpd_dnscheck: Postfix's DNSBL reply filter, the query names of
 * addresses (IPv4 octets and IPv6 nibbles reversed), and the memo's
 * timing: a resolver that never answers ends in TEMPFAIL after the
 * timeout with one resume, a closed port fails without waiting, and a
 * memo freed while a lookup is out never calls back. The answers
 * themselves are tested against dnsmasq in tests/integration/
 * test_dnscheck.py. Only loopback sockets are used. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "tlsrelay/dns.h"
#include "tlsrelay/smtpd_dnscheck.h"
#include "tlsrelay/util.h"
#include "testutil.h"

/* ---- the filter -------------------------------------------------------- */

static int
matches(const char *filter, const char *addr)
{
	struct dnsbl_filter f;
	char *err = NULL;

	ck_assert_msg(dnsbl_filter_parse(filter, &f, &err) == 0,
	    "%s: %s", filter, err);
	return dnsbl_filter_match(&f, addr);
}

START_TEST(test_filter_single)
{
	ck_assert(matches("127.0.0.2", "127.0.0.2"));
	ck_assert(!matches("127.0.0.2", "127.0.0.3"));
	ck_assert(!matches("127.0.0.2", "127.0.1.2"));
	ck_assert(!matches("127.0.0.2", "not-an-address"));
}
END_TEST

START_TEST(test_filter_list_and_range)
{
	ck_assert(matches("127.0.0.[2;3]", "127.0.0.2"));
	ck_assert(matches("127.0.0.[2;3]", "127.0.0.3"));
	ck_assert(!matches("127.0.0.[2;3]", "127.0.0.4"));
	ck_assert(matches("127.0.0.[2..5]", "127.0.0.2"));
	ck_assert(matches("127.0.0.[2..5]", "127.0.0.5"));
	ck_assert(!matches("127.0.0.[2..5]", "127.0.0.1"));
	ck_assert(!matches("127.0.0.[2..5]", "127.0.0.6"));
	ck_assert(matches("127.0.0.[2..3;10]", "127.0.0.10"));
	ck_assert(matches("127.[0..255].0.[0..255]", "127.9.0.200"));
	ck_assert(!matches("127.[0..255].0.[0..255]", "127.9.1.200"));
}
END_TEST

START_TEST(test_filter_errors)
{
	static const char *const bad[] = { "", "127.0.0", "127.0.0.256",
	    "127.0.0.2.1", "127.0.0.[2", "127.0.0.[5..2]", "127.0.0.[]",
	    "127.0.0.x", "127.0.0.[2;]", "127..0.2", NULL };
	struct dnsbl_filter f;
	char *err;
	int i;

	for (i = 0; bad[i] != NULL; i++) {
		err = NULL;
		ck_assert_msg(dnsbl_filter_parse(bad[i], &f, &err) < 0,
		    "accepted \"%s\"", bad[i]);
		ck_assert_ptr_nonnull(strstr(err, "invalid DNSBL reply filter"));
		free(err);
	}
}
END_TEST

/* ---- query names ------------------------------------------------------- */

static void
check_name(char *got, const char *want)
{
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, want);
	free(got);
}

START_TEST(test_reverse_ipv4)
{
	check_name(dns_reverse_name("127.0.0.2", "bl.test"),
	    "2.0.0.127.bl.test");
	check_name(dns_reverse_name("192.0.2.10", "zen.example"),
	    "10.2.0.192.zen.example");
	check_name(dns_reverse_name_ptr("127.0.0.1"),
	    "1.0.0.127.in-addr.arpa");
	ck_assert_ptr_null(dns_reverse_name("example.com", "bl.test"));
	ck_assert_ptr_null(dns_reverse_name("127.0.0", "bl.test"));
}
END_TEST

START_TEST(test_reverse_ipv6)
{
	/* RFC 3596's example. */
	check_name(dns_reverse_name_ptr("4321:0:1:2:3:4:567:89ab"),
	    "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4"
	    ".ip6.arpa");
	check_name(dns_reverse_name("::1", "bl.test"),
	    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0"
	    ".bl.test");
}
END_TEST

/* ---- timing ------------------------------------------------------------ */

static int resumed;

static void
on_resume(void *arg)
{
	(void)arg;
	resumed++;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Runs the loop until done() or the deadline (seconds). */
static void
run_until(struct event_base *base, int (*done)(void), double limit)
{
	struct timeval tick = { 0, 20 * 1000 };
	double end = now() + limit;

	while (!done() && now() < end) {
		event_base_loopexit(base, &tick);
		event_base_dispatch(base);
	}
}

static int
was_resumed(void)
{
	return resumed > 0;
}

/* A bound UDP socket that reads nothing: a resolver that never answers. */
static int
silent_server(char *servers, size_t len)
{
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	ck_assert_int_ge(fd, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &slen), 0);
	snprintf(servers, len, "127.0.0.1:%u", ntohs(sin.sin_port));
	return fd;
}

START_TEST(test_timeout_is_tempfail)
{
	struct event_base *base = event_base_new();
	const struct client_name_answer *name;
	const struct dnsbl_answer *bl;
	struct smtpd_dnscheck *dc;
	char servers[64], *err = NULL;
	struct dns *dns;
	double start;
	int fd = silent_server(servers, sizeof(servers));

	dns = dns_new(base, servers, 1, &err);
	ck_assert_msg(dns != NULL, "%s", err);
	dc = smtpd_dnscheck_new(dns, 300, on_resume, NULL);
	resumed = 0;
	start = now();
	ck_assert_int_eq(smtpd_dnscheck_client_name(dc, "127.0.0.1", &name),
	    DNSCHECK_PENDING);
	ck_assert_int_eq(smtpd_dnscheck_rbl(dc, "bl.test", NULL, "127.0.0.2",
	    &bl), DNSCHECK_PENDING);
	ck_assert(smtpd_dnscheck_busy(dc));
	run_until(base, was_resumed, 10);
	ck_assert_int_eq(resumed, 1);
	ck_assert(now() - start >= 0.29);
	ck_assert(now() - start < 3);
	ck_assert(!smtpd_dnscheck_busy(dc));
	ck_assert_int_eq(name->status, DNSCHECK_TEMPFAIL);
	ck_assert_str_eq(name->name, "unknown");
	ck_assert_int_eq(bl->status, DNSCHECK_TEMPFAIL);
	/* Asked again: the memo answers at once. */
	ck_assert_int_eq(smtpd_dnscheck_client_name(dc, "127.0.0.1", &name),
	    DNSCHECK_DONE);
	ck_assert_int_eq(name->status, DNSCHECK_TEMPFAIL);
	smtpd_dnscheck_free(dc);
	dns_free(dns);
	event_base_free(base);
	close(fd);
}
END_TEST

START_TEST(test_closed_port_fails_fast)
{
	struct event_base *base = event_base_new();
	const struct domain_answer *dom = NULL;
	struct smtpd_dnscheck *dc;
	char servers[64], *err = NULL;
	struct dns *dns;
	double start;
	int fd = silent_server(servers, sizeof(servers));

	close(fd);		/* nobody there: ICMP port unreachable */
	dns = dns_new(base, servers, 1, &err);
	ck_assert_msg(dns != NULL, "%s", err);
	dc = smtpd_dnscheck_new(dns, 30000, on_resume, NULL);
	resumed = 0;
	start = now();
	if (smtpd_dnscheck_domain(dc, "example.test", &dom) ==
	    DNSCHECK_PENDING)
		run_until(base, was_resumed, 10);
	ck_assert(now() - start < 5);
	ck_assert_int_eq(dom->status, DNSCHECK_TEMPFAIL);
	smtpd_dnscheck_free(dc);
	dns_free(dns);
	event_base_free(base);
}
END_TEST

static int
never(void)
{
	return 0;
}

START_TEST(test_free_cancels)
{
	struct event_base *base = event_base_new();
	const struct dnsbl_answer *bl;
	struct smtpd_dnscheck *dc;
	char servers[64], *err = NULL;
	struct dns *dns;
	int fd = silent_server(servers, sizeof(servers));

	dns = dns_new(base, servers, 1, &err);
	ck_assert_msg(dns != NULL, "%s", err);
	dc = smtpd_dnscheck_new(dns, 100, on_resume, NULL);
	resumed = 0;
	ck_assert_int_eq(smtpd_dnscheck_rhsbl(dc, "rhsbl.test", "127.0.0.2",
	    "example.test", &bl), DNSCHECK_PENDING);
	smtpd_dnscheck_free(dc);
	run_until(base, never, 0.5);	/* past the timeout */
	ck_assert_int_eq(resumed, 0);
	dns_free(dns);		/* ends the orphaned query */
	event_base_free(base);
	close(fd);
}
END_TEST

static Suite *
dnscheck_suite(void)
{
	Suite *s = suite_create("smtpd_dnscheck");
	TCase *tc;

	tc = tcase_create("filter");
	tcase_add_test(tc, test_filter_single);
	tcase_add_test(tc, test_filter_list_and_range);
	tcase_add_test(tc, test_filter_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("names");
	tcase_add_test(tc, test_reverse_ipv4);
	tcase_add_test(tc, test_reverse_ipv6);
	suite_add_tcase(s, tc);

	tc = tcase_create("timing");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_timeout_is_tempfail);
	tcase_add_test(tc, test_closed_port_fails_fast);
	tcase_add_test(tc, test_free_cancels);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN_WITH(dnscheck_suite, NULL, NULL)
