/* check_http: the status process's request parser
 * (src/stats/http_request.c), which reads bytes from anyone who can reach
 * the metrics port. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <string.h>

#include "stats_int.h"
#include "testutil.h"

static enum http_parse
parse(const char *text, struct http_request *req)
{
	return http_request_parse(text, strlen(text), req);
}

START_TEST(get_with_headers)
{
	struct http_request req;

	ck_assert_int_eq(parse("GET /metrics HTTP/1.1\r\nHost: x\r\n"
	    "Accept: */*\r\n\r\n", &req), HTTP_COMPLETE);
	ck_assert_str_eq(req.method, "GET");
	ck_assert_str_eq(req.path, "/metrics");
	ck_assert_int_eq(req.minor, 1);
	ck_assert_int_eq(req.openmetrics, 0);
	/* What Prometheus 2.42 sends. */
	ck_assert_int_eq(parse("GET /metrics HTTP/1.1\r\nHost: x\r\n"
	    "accept: application/openmetrics-text;version=1.0.0,"
	    "application/openmetrics-text;version=0.0.1;q=0.75,"
	    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\n\r\n", &req),
	    HTTP_COMPLETE);
	ck_assert_int_eq(req.openmetrics, 1);
	/* Bare LF, HTTP/1.0, no header, a query string. */
	ck_assert_int_eq(parse("HEAD /health?x=1 HTTP/1.0\n\n", &req),
	    HTTP_COMPLETE);
	ck_assert_str_eq(req.method, "HEAD");
	ck_assert_str_eq(req.path, "/health");
	ck_assert_int_eq(req.minor, 0);
	/* Another method is parsed; the server answers 405. */
	ck_assert_int_eq(parse("POST /metrics HTTP/1.1\r\n\r\nbody", &req),
	    HTTP_COMPLETE);
	ck_assert_str_eq(req.method, "POST");
}
END_TEST

START_TEST(incomplete_until_the_empty_line)
{
	static const char full[] = "GET /health HTTP/1.1\r\nHost: a\r\n\r\n";
	struct http_request req;

	for (size_t n = 0; n < strlen(full); n++)
		ck_assert_msg(http_request_parse(full, n, &req) ==
		    HTTP_INCOMPLETE, "%zu bytes", n);
	ck_assert_int_eq(http_request_parse(full, strlen(full), &req),
	    HTTP_COMPLETE);
}
END_TEST

START_TEST(garbage_is_bad)
{
	static const char *const bad[] = {
		"\r\n\r\n",
		"GET\r\n\r\n",
		"GET /metrics\r\n\r\n",
		"GET /metrics HTTP/2.0\r\n\r\n",
		"GET /metrics HTTP/1.1 \r\n\r\n",
		"GET  /metrics HTTP/1.1\r\n\r\n",
		"GET metrics HTTP/1.1\r\n\r\n",
		"GET http://x/metrics HTTP/1.1\r\n\r\n",
		"GET /me trics HTTP/1.1\r\n\r\n",
		"G(T /metrics HTTP/1.1\r\n\r\n",
		"VERYLONGMETHODNAME /metrics HTTP/1.1\r\n\r\n",
		"GET /metrics HTTP/1.1\r\nNo colon\r\n\r\n",
		"GET /metrics HTTP/1.1\r\n: empty name\r\n\r\n",
		"GET /metrics HTTP/1.1\r\nBad name: x\r\n\r\n",
		"GET /metrics HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
		"GET /metrics HTTP/1.1\r\nHost: a\001b\r\n\r\n",
		"\x16\x03\x01\x02\x01\xfc\x03\x03\n\n",
	};
	static const char nul[] = "GET /a\0b HTTP/1.1\n\n";
	struct http_request req;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(parse(bad[i], &req) == HTTP_BAD, "%zu: %s", i,
		    bad[i]);
	/* A NUL in the request line. */
	ck_assert_int_eq(http_request_parse(nul, sizeof(nul) - 1, &req),
	    HTTP_BAD);
}
END_TEST

START_TEST(size_limit)
{
	char buf[HTTP_REQUEST_MAX + 100];
	struct http_request req;
	size_t n;

	/* Headers that never end: bad once the limit is reached. */
	n = (size_t)snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\n");
	while (n + 8 < sizeof(buf))
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "A: b\r\n");
	ck_assert_int_eq(http_request_parse(buf, HTTP_REQUEST_MAX - 1, &req),
	    HTTP_INCOMPLETE);
	ck_assert_int_eq(http_request_parse(buf, HTTP_REQUEST_MAX, &req),
	    HTTP_BAD);
	ck_assert_int_eq(http_request_parse(buf, n, &req), HTTP_BAD);
	/* A path longer than the server keeps. */
	memset(buf, 'a', sizeof(buf));
	memcpy(buf, "GET /", 5);
	memcpy(buf + 5 + HTTP_PATH_MAX, " HTTP/1.1\n\n", 11);
	ck_assert_int_eq(http_request_parse(buf, 5 + HTTP_PATH_MAX + 11,
	    &req), HTTP_BAD);
}
END_TEST

static Suite *
http_suite(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("request");

	tcase_add_test(tc, get_with_headers);
	tcase_add_test(tc, incomplete_until_the_empty_line);
	tcase_add_test(tc, garbage_is_bad);
	tcase_add_test(tc, size_limit);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(http_suite)
