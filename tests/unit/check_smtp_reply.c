/* check_smtp_reply: the client's reply parser, fed line by line as the
 * connection does, and the small helpers that turn replies into Postfix's
 * reasons and delays, and the content stuffer. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "tlsrelay/smtp.h"
#include "tlsrelay/util.h"
#include "smtp_int.h"		/* the helpers under test */
#include "testutil.h"

/* Feeds lines until the parser stops asking for more. */
static enum smtp_reply_status
feed(struct smtp_reply *r, const char *const *lines)
{
	enum smtp_reply_status st = SMTP_REPLY_BAD;

	memset(r, 0, sizeof(*r));
	for (size_t i = 0; lines[i] != NULL; i++) {
		st = smtp_reply_feed(r, lines[i]);
		if (st != SMTP_REPLY_MORE)
			break;
	}
	return st;
}

START_TEST(single_line)
{
	const char *lines[] = { "250 2.1.0 Ok", NULL };
	struct smtp_reply r;

	ck_assert_int_eq(feed(&r, lines), SMTP_REPLY_DONE);
	ck_assert_int_eq(r.code, 250);
	ck_assert_str_eq(r.dsn, "2.1.0");
	ck_assert_str_eq(r.text, "Ok");
	ck_assert_uint_eq(r.n_lines, 1);
	ck_assert_str_eq(r.lines[0], "2.1.0 Ok");
	smtp_reply_clear(&r);
	ck_assert_ptr_null(r.text);
}
END_TEST

START_TEST(no_dsn)
{
	const char *lines[] = { "220 mx.example ESMTP Postfix", NULL };
	struct smtp_reply r;

	ck_assert_int_eq(feed(&r, lines), SMTP_REPLY_DONE);
	ck_assert_int_eq(r.code, 220);
	ck_assert_str_eq(r.dsn, "");
	ck_assert_str_eq(r.text, "mx.example ESMTP Postfix");
	smtp_reply_clear(&r);
}
END_TEST

START_TEST(bare_code)
{
	const char *lines[] = { "354", NULL };
	struct smtp_reply r;

	ck_assert_int_eq(feed(&r, lines), SMTP_REPLY_DONE);
	ck_assert_int_eq(r.code, 354);
	ck_assert_str_eq(r.text, "");
	smtp_reply_clear(&r);
}
END_TEST

START_TEST(multi_line)
{
	const char *lines[] = { "250-mx.example", "250-PIPELINING",
	    "250-SIZE 10240000", "250-STARTTLS", "250 8BITMIME", NULL };
	struct smtp_reply r;
	const char *param = NULL;

	memset(&r, 0, sizeof(r));
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(smtp_reply_feed(&r, lines[i]),
		    SMTP_REPLY_MORE);
	ck_assert_int_eq(smtp_reply_feed(&r, lines[4]), SMTP_REPLY_DONE);
	ck_assert_uint_eq(r.n_lines, 5);
	ck_assert_str_eq(r.text, "mx.example PIPELINING SIZE 10240000 "
	    "STARTTLS 8BITMIME");
	ck_assert(smtp_reply_has_ext(&r, "pipelining", NULL));
	ck_assert(smtp_reply_has_ext(&r, "SIZE", &param));
	ck_assert_str_eq(param, "10240000");
	ck_assert(smtp_reply_has_ext(&r, "8BITMIME", &param));
	ck_assert_str_eq(param, "");
	ck_assert(!smtp_reply_has_ext(&r, "STARTTL", NULL));
	ck_assert(!smtp_reply_has_ext(&r, "AUTH", NULL));
	/* The first line is the server's name, never a keyword. */
	ck_assert(!smtp_reply_has_ext(&r, "mx.example", NULL));
	smtp_reply_clear(&r);
}
END_TEST

START_TEST(multi_line_dsn)
{
	const char *lines[] = { "550-5.1.1 The account does not exist.",
	    "550-5.1.1 Please check the address.", "550 5.1.1 See docs", NULL };
	struct smtp_reply r;

	ck_assert_int_eq(feed(&r, lines), SMTP_REPLY_DONE);
	ck_assert_str_eq(r.dsn, "5.1.1");
	/* The repeated code is said once. */
	ck_assert_str_eq(r.text, "The account does not exist. Please check "
	    "the address. See docs");
	smtp_reply_clear(&r);
}
END_TEST

START_TEST(dsn_forms)
{
	static const struct {
		const char *line, *dsn, *text;
	} cases[] = {
		{ "451 4.3.0 Error", "4.3.0", "Error" },
		{ "552 5.3.4 Message too big", "5.3.4", "Message too big" },
		{ "250 2.0.0", "2.0.0", "" },
		{ "550 5.123.456 x", "5.123.456", "x" },
		/* not status codes */
		{ "550 5.1234.1 x", "", "5.1234.1 x" },
		{ "550 5.1 x", "", "5.1 x" },
		{ "550 3.1.1 x", "", "3.1.1 x" },
		{ "550 5.1.1x", "", "5.1.1x" },
		/* class contradicts the reply: text */
		{ "250 5.1.1 odd", "", "5.1.1 odd" },
		{ "450 5.1.1 odd", "", "5.1.1 odd" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *lines[] = { cases[i].line, NULL };
		struct smtp_reply r;

		ck_assert_int_eq(feed(&r, lines), SMTP_REPLY_DONE);
		ck_assert_msg(strcmp(r.dsn, cases[i].dsn) == 0,
		    "%s: dsn \"%s\"", cases[i].line, r.dsn);
		ck_assert_msg(strcmp(r.text, cases[i].text) == 0,
		    "%s: text \"%s\"", cases[i].line, r.text);
		smtp_reply_clear(&r);
	}
}
END_TEST

START_TEST(malformed)
{
	static const char *const bad[] = { "", "25", "2500 x", "250x",
	    "abc def", "650 x", "150 x", "2a0 x", "260 x", " 250 x",
	    "250\tx" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct smtp_reply r;

		memset(&r, 0, sizeof(r));
		ck_assert_msg(smtp_reply_feed(&r, bad[i]) == SMTP_REPLY_BAD,
		    "\"%s\" accepted", bad[i]);
		smtp_reply_clear(&r);
	}
}
END_TEST

START_TEST(code_changes)
{
	const char *lines[] = { "250-first", "251 second", NULL };
	struct smtp_reply r;

	ck_assert_int_eq(feed(&r, lines), SMTP_REPLY_BAD);
	smtp_reply_clear(&r);
}
END_TEST

START_TEST(fed_after_done)
{
	struct smtp_reply r;

	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(smtp_reply_feed(&r, "250 ok"), SMTP_REPLY_DONE);
	ck_assert_int_eq(smtp_reply_feed(&r, "250 again"), SMTP_REPLY_BAD);
	smtp_reply_clear(&r);
	ck_assert_int_eq(smtp_reply_feed(&r, "221 bye"), SMTP_REPLY_DONE);
	ck_assert_int_eq(r.code, 221);
	smtp_reply_clear(&r);
}
END_TEST

START_TEST(too_many_lines)
{
	struct smtp_reply r;
	int i;

	memset(&r, 0, sizeof(r));
	for (i = 0; i < SMTP_REPLY_MAX_LINES; i++)
		ck_assert_int_eq(smtp_reply_feed(&r, "250-x"),
		    SMTP_REPLY_MORE);
	ck_assert_int_eq(smtp_reply_feed(&r, "250 x"), SMTP_REPLY_BAD);
	smtp_reply_clear(&r);
}
END_TEST

START_TEST(long_line_cut)
{
	char *line = xmalloc(5000 + 5);
	struct smtp_reply r;

	memcpy(line, "250 ", 4);
	memset(line + 4, 'a', 5000);
	line[5004] = '\0';
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(smtp_reply_feed(&r, line), SMTP_REPLY_DONE);
	ck_assert_uint_eq(strlen(r.lines[0]), 2048);
	ck_assert_uint_eq(strlen(r.text), 2048);
	smtp_reply_clear(&r);
	free(line);
}
END_TEST

/* ---- reasons, dsn, delays ---------------------------------------------- */

START_TEST(reasons)
{
	const char *lines[] = { "550 5.1.1 <x@y>: Recipient address rejected",
	    NULL };
	const char *plain[] = { "450 try later", NULL };
	struct smtp_reply r;
	char dsn[16], *s;

	feed(&r, lines);
	s = smtp_reply_reason("mx.example[127.0.0.1]", &r, "RCPT TO command");
	ck_assert_str_eq(s, "host mx.example[127.0.0.1] said: 550 5.1.1 "
	    "<x@y>: Recipient address rejected (in reply to RCPT TO "
	    "command)");
	free(s);
	smtp_reply_dsn(&r, dsn);
	ck_assert_str_eq(dsn, "5.1.1");
	ck_assert_int_eq(smtp_reply_outcome(&r), SMTP_BOUNCE);
	smtp_reply_clear(&r);

	feed(&r, plain);
	s = smtp_reply_line(&r);
	ck_assert_str_eq(s, "450 try later");
	free(s);
	smtp_reply_dsn(&r, dsn);
	ck_assert_str_eq(dsn, "4.0.0");
	ck_assert_int_eq(smtp_reply_outcome(&r), SMTP_DEFER);
	smtp_reply_clear(&r);
}
END_TEST

START_TEST(delays)
{
	static const struct {
		double t;
		const char *text;
	} cases[] = {
		{ 0, "0" }, { 0.001, "0" }, { 0.004, "0" }, { 0.01, "0.01" },
		{ 0.012, "0.01" }, { 0.1, "0.1" }, { 0.32, "0.32" },
		{ 0.999, "1" }, { 1.2, "1.2" }, { 1.0, "1" }, { 9.96, "10" },
		{ 12.4, "12" }, { 322, "322" }, { -1, "0" },
	};
	char buf[32];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		smtp_format_delay(cases[i].t, buf, sizeof(buf));
		ck_assert_msg(strcmp(buf, cases[i].text) == 0,
		    "%g -> %s, expected %s", cases[i].t, buf, cases[i].text);
	}
}
END_TEST

/* ---- content: dot-stuffing from a file ----------------------------------- */

static char *
stuff_file_limit(const char *content, size_t len, off_t offset,
    size_t bufsize, size_t max, size_t limit, size_t *outlen)
{
	char path[] = "/tmp/check_smtp_reply.XXXXXX";
	int fd = mkstemp(path);
	struct evbuffer *out = evbuffer_new();
	struct smtp_body body;
	char *buf = xmalloc(bufsize), *result;
	int status, rounds = 0;

	ck_assert_int_ge(fd, 0);
	unlink(path);
	ck_assert_int_eq(write(fd, "PREFIX....", (size_t)offset),
	    (ssize_t)offset);
	ck_assert_int_eq(write(fd, content, len), (ssize_t)len);
	smtp_body_init(&body, fd, offset, (off_t)len, limit);
	while ((status = smtp_body_fill(&body, out, max, buf, bufsize)) == 0)
		rounds++;
	ck_assert_int_eq(status, 1);
	/* It comes in pieces when it is larger than one piece. */
	if (len > max && len > bufsize)
		ck_assert_int_gt(rounds, 0);
	*outlen = evbuffer_get_length(out);
	result = xmalloc(*outlen + 1);
	evbuffer_remove(out, result, *outlen);
	result[*outlen] = '\0';
	evbuffer_free(out);
	free(buf);
	close(fd);
	return result;
}

static char *
stuff_file(const char *content, size_t len, off_t offset, size_t bufsize,
    size_t max, size_t *outlen)
{
	return stuff_file_limit(content, len, offset, bufsize, max, 0,
	    outlen);
}

START_TEST(dot_stuffing)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "a\r\n", "a\r\n.\r\n" },
		{ ".\r\n", "..\r\n.\r\n" },
		{ "x\r\n.\r\ny\r\n", "x\r\n..\r\ny\r\n.\r\n" },
		{ "x\r\n..two\r\n", "x\r\n...two\r\n.\r\n" },
		{ "no end", "no end\r\n.\r\n" },
		{ "ends in CR\r", "ends in CR\r\r\n.\r\n" },
		{ "a.b\r\n", "a.b\r\n.\r\n" },
		/* after a bare LF too: no end of data hides in content */
		{ "x\n.\r\n", "x\n..\r\n.\r\n" },
		{ "", "\r\n.\r\n" },
	};

	/* Every buffer size, so that lines cross every chunk boundary. */
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (size_t bufsize = 1; bufsize <= 8; bufsize++) {
			size_t len;
			char *out = stuff_file(cases[i].in,
			    strlen(cases[i].in), 3, bufsize, 2, &len);

			ck_assert_msg(strcmp(out, cases[i].out) == 0,
			    "case %zu bufsize %zu: \"%s\"", i, bufsize, out);
			free(out);
		}
	}
}
END_TEST

/* smtp_line_length_limit: a longer line goes out broken with CR LF
 * SPACE (the rest a continuation line); a line of the limit exactly, or
 * its CR LF, never is; dot-stuffing still applies to real lines only. */
START_TEST(long_lines_broken)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "12345\r\n", "12345\r\n.\r\n" },
		{ "123456\r\n", "12345\r\n 6\r\n.\r\n" },
		{ "1234567890abc\r\n", "12345\r\n 6789\r\n 0abc\r\n.\r\n" },
		{ "12345\r\n.2345678\r\n",
		    "12345\r\n..2345\r\n 678\r\n.\r\n" },
		{ "123456\n", "12345\r\n 6\n\r\n.\r\n" },
		{ "1234567", "12345\r\n 67\r\n.\r\n" },
		{ "123.56789\r\n", "123.5\r\n 6789\r\n.\r\n" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (size_t bufsize = 1; bufsize <= 8; bufsize++) {
			size_t len;
			char *out = stuff_file_limit(cases[i].in,
			    strlen(cases[i].in), 3, bufsize, 2, 5, &len);

			ck_assert_msg(strcmp(out, cases[i].out) == 0,
			    "case %zu bufsize %zu: \"%s\"", i, bufsize, out);
			free(out);
		}
	}
}
END_TEST

START_TEST(short_file)
{
	char path[] = "/tmp/check_smtp_reply.XXXXXX";
	int fd = mkstemp(path);
	struct evbuffer *out = evbuffer_new();
	struct smtp_body body;
	char buf[16];

	unlink(path);
	ck_assert_int_eq(write(fd, "abc", 3), 3);
	smtp_body_init(&body, fd, 0, 10, 0);	/* promises more */
	ck_assert_int_eq(smtp_body_fill(&body, out, 100, buf, sizeof(buf)),
	    -1);
	evbuffer_free(out);
	close(fd);
}
END_TEST

static Suite *
reply_suite(void)
{
	Suite *s = suite_create("smtp_reply");
	TCase *tc = tcase_create("parser");

	tcase_add_test(tc, single_line);
	tcase_add_test(tc, no_dsn);
	tcase_add_test(tc, bare_code);
	tcase_add_test(tc, multi_line);
	tcase_add_test(tc, multi_line_dsn);
	tcase_add_test(tc, dsn_forms);
	tcase_add_test(tc, malformed);
	tcase_add_test(tc, code_changes);
	tcase_add_test(tc, fed_after_done);
	tcase_add_test(tc, too_many_lines);
	tcase_add_test(tc, long_line_cut);
	suite_add_tcase(s, tc);
	tc = tcase_create("helpers");
	tcase_add_test(tc, reasons);
	tcase_add_test(tc, delays);
	tcase_add_test(tc, dot_stuffing);
	tcase_add_test(tc, short_file);
	tcase_add_test(tc, long_lines_broken);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(reply_suite)
