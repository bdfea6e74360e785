/* Queue manager routing (transport_maps, relayhost, MX) and backoff. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/qmgr.h"
#include "testutil.h"

static struct conf *conf;
static struct qmgr_router *router;

static void
setup_router(const char *main_cf)
{
	char *err = NULL;

	conf = tu_conf_load(main_cf);
	router = qmgr_router_new(conf, &err);
	ck_assert_msg(router != NULL, "router: %s", err ? err : "");
}

static void
teardown_router(void)
{
	qmgr_router_free(router);
	conf_free(conf);
}

static void
expect(const char *rcpt, const char *nexthop, const char *host, int with_mx,
    int port)
{
	struct qmgr_route r;

	ck_assert_int_eq(qmgr_route(router, rcpt, &r), 0);
	ck_assert_ptr_null(r.error);
	ck_assert_str_eq(r.nexthop, nexthop);
	ck_assert_str_eq(r.host, host);
	ck_assert_int_eq(r.with_mx, with_mx);
	ck_assert_int_eq(r.port, port);
	qmgr_route_clear(&r);
}

START_TEST(default_is_mx_of_domain)
{
	setup_router("");
	expect("user@Example.COM", "example.com", "example.com", 1, 25);
	expect("user@[127.0.0.1]", "[127.0.0.1]", "127.0.0.1", 0, 25);
	teardown_router();
}
END_TEST

START_TEST(smtp_tcp_port_applies)
{
	setup_router("smtp_tcp_port = 2526\n");
	expect("user@example.com", "example.com", "example.com", 1, 2526);
	teardown_router();
}
END_TEST

START_TEST(relayhost_forms)
{
	setup_router("relayhost = [mail.isp.test]:587\n");
	expect("a@example.com", "[mail.isp.test]:587", "mail.isp.test", 0,
	    587);
	teardown_router();
	setup_router("relayhost = isp.test\n");
	expect("a@example.com", "isp.test", "isp.test", 1, 25);
	teardown_router();
	setup_router("relayhost = [ipv6:::1]:2526\n");
	expect("a@example.com", "[ipv6:::1]:2526", "::1", 0, 2526);
	teardown_router();
}
END_TEST

START_TEST(bad_relayhost_refused)
{
	char *err = NULL;

	conf = conf_load_strings("relayhost = [unclosed:25\n", "main.cf",
	    NULL, "master.cf", &err);
	ck_assert_ptr_nonnull(conf);
	ck_assert_ptr_null(qmgr_router_new(conf, &err));
	ck_assert_ptr_nonnull(strstr(err, "relayhost"));
	free(err);
	conf_free(conf);
}
END_TEST

START_TEST(transport_maps_search_order)
{
	setup_router("relayhost = [relay.test]\n"
	    "transport_maps = inline:{ special@example.com=smtp:[one.test]:1,"
	    " example.com=smtp:[two.test]:2, .sub.example.com=relay:three.test,"
	    " empty.test=smtp:, { bounce.test = error:5.1.1 no such domain },"
	    " local.test=local: }\n");
	expect("special@example.com", "[one.test]:1", "one.test", 0, 1);
	expect("other@example.com", "[two.test]:2", "two.test", 0, 2);
	/* Parent ".domain" entries match subdomains only. */
	expect("x@deep.sub.example.com", "three.test", "three.test", 1, 25);
	/* Empty next hop: the default route (relayhost). */
	expect("x@empty.test", "[relay.test]", "relay.test", 0, 25);
	/* No entry: relayhost. */
	expect("x@elsewhere.test", "[relay.test]", "relay.test", 0, 25);
	{
		struct qmgr_route r;

		ck_assert_int_eq(qmgr_route(router, "x@bounce.test", &r), 0);
		ck_assert_str_eq(r.error, "5.1.1 no such domain");
		ck_assert_int_eq(r.error_temporary, 0);
		qmgr_route_clear(&r);
		ck_assert_int_eq(qmgr_route(router, "x@local.test", &r), 0);
		ck_assert_ptr_nonnull(r.error);
		ck_assert_int_eq(r.error_temporary, 1);
		qmgr_route_clear(&r);
	}
	teardown_router();
}
END_TEST

/* What decided each route, as tlsrelay tls-finger shows it. */
static void
expect_source(const char *rcpt, const char *source)
{
	struct qmgr_route r;

	ck_assert_int_eq(qmgr_route(router, rcpt, &r), 0);
	ck_assert_ptr_nonnull(r.source);
	ck_assert_str_eq(r.source, source);
	qmgr_route_clear(&r);
}

START_TEST(route_source)
{
	setup_router("transport_maps = inline:{ a.test=smtp:[one.test],"
	    " empty.test=smtp: }\n");
	expect_source("x@a.test", "transport_maps");
	expect_source("x@b.test", "recipient domain");
	expect_source("x@[127.0.0.1]", "recipient domain");
	/* An entry without a next hop leaves it to the default. */
	expect_source("x@empty.test", "recipient domain");
	teardown_router();
	setup_router("relayhost = [relay.test]\n"
	    "transport_maps = inline:{ a.test=smtp:[one.test] }\n");
	expect_source("x@a.test", "transport_maps");
	expect_source("x@b.test", "relayhost");
	teardown_router();
}
END_TEST

START_TEST(wildcard_transport)
{
	setup_router("transport_maps = inline:{ *=smtp:[smarthost.test]:2525 }\n");
	expect("a@b.test", "[smarthost.test]:2525", "smarthost.test", 0, 2525);
	teardown_router();
}
END_TEST

START_TEST(parse_nexthop_errors)
{
	struct qmgr_route r;

	ck_assert_int_eq(qmgr_parse_nexthop("[]", 25, &r), -1);
	ck_assert_int_eq(qmgr_parse_nexthop("[a]x", 25, &r), -1);
	ck_assert_int_eq(qmgr_parse_nexthop("host:0", 25, &r), -1);
	ck_assert_int_eq(qmgr_parse_nexthop("host:70000", 25, &r), -1);
	ck_assert_int_eq(qmgr_parse_nexthop("host:smtp", 2525, &r), 0);
	ck_assert_int_eq(r.port, 25);
	qmgr_route_clear(&r);
}
END_TEST

START_TEST(backoff_is_age_clamped)
{
	ck_assert_int_eq(qmgr_backoff(0, 300, 4000), 300);
	ck_assert_int_eq(qmgr_backoff(1000, 300, 4000), 1000);
	ck_assert_int_eq(qmgr_backoff(100000, 300, 4000), 4000);
	ck_assert_int_eq(qmgr_backoff(5, 1, 2), 2);
}
END_TEST

static Suite *
qmgr_route_suite(void)
{
	Suite *s = suite_create("qmgr_route");
	TCase *tc = tcase_create("route");

	tcase_add_test(tc, default_is_mx_of_domain);
	tcase_add_test(tc, smtp_tcp_port_applies);
	tcase_add_test(tc, relayhost_forms);
	tcase_add_test(tc, bad_relayhost_refused);
	tcase_add_test(tc, transport_maps_search_order);
	tcase_add_test(tc, wildcard_transport);
	tcase_add_test(tc, route_source);
	tcase_add_test(tc, parse_nexthop_errors);
	tcase_add_test(tc, backoff_is_age_clamped);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(qmgr_route_suite)
