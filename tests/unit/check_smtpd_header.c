/* Unit tests: the Message-ID scan of the header (smtpd_header.c): found,
 * absent, folded, after the header, case and blanks, bounds, log safety
 * and split invariance. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd_header.h"
#include "testutil.h"

/* The value found in text, fed in pieces of chunk bytes (0: at once);
 * points into a static copy. */
static const char *
scan_text(const char *text, size_t len, size_t chunk)
{
	static struct smtpd_header_scan scan;
	size_t pos = 0;

	smtpd_header_init(&scan);
	while (pos < len) {
		size_t n = chunk == 0 || chunk > len - pos ? len - pos : chunk;

		smtpd_header_feed(&scan, text + pos, n);
		pos += n;
	}
	return smtpd_header_message_id(&scan);
}

static const char *
scan(const char *text)
{
	return scan_text(text, strlen(text), 0);
}

START_TEST(test_found)
{
	ck_assert_str_eq(scan("From: a@b\r\nMessage-ID: <1.2@host>\r\n"
	    "Subject: x\r\n\r\nbody\r\n"), "<1.2@host>");
	ck_assert_str_eq(scan("Message-Id:<x@y>\r\n\r\n"), "<x@y>");
	ck_assert_str_eq(scan("MESSAGE-ID :  <x@y>  \r\n\r\n"), "<x@y>");
	/* Bare LF line ends, as some clients send with normalisation on. */
	ck_assert_str_eq(scan("Subject: s\nMessage-ID: <lf@y>\n\nbody\n"),
	    "<lf@y>");
}
END_TEST

START_TEST(test_absent)
{
	ck_assert_str_eq(scan("From: a@b\r\nSubject: x\r\n\r\n"
	    "Message-ID: <in-body@host>\r\n"), "");
	ck_assert_str_eq(scan(""), "");
	ck_assert_str_eq(scan("\r\nMessage-ID: <after-empty-line@x>\r\n"), "");
	/* A line without a colon ends the header. */
	ck_assert_str_eq(scan("not a header line\r\nMessage-ID: <x@y>\r\n"),
	    "");
	/* Names that only start or end like it. */
	ck_assert_str_eq(scan("X-Message-ID: <a@b>\r\nMessage-IDs: <c@d>\r\n"
	    "Resent-Message-ID: <e@f>\r\n\r\n"), "");
}
END_TEST

START_TEST(test_folded)
{
	ck_assert_str_eq(scan("Message-ID:\r\n <folded@host>\r\nTo: t\r\n\r\n"),
	    "<folded@host>");
	ck_assert_str_eq(scan("Message-ID: <a\r\n\tb@host>\r\n\r\n"),
	    "<a b@host>");
}
END_TEST

START_TEST(test_first_only)
{
	ck_assert_str_eq(scan("Message-ID: <first@x>\r\nMessage-ID: "
	    "<second@x>\r\n\r\n"), "<first@x>");
}
END_TEST

START_TEST(test_log_safe)
{
	const char text[] = "Message-ID: <a\x01\x7f\xc3\xa9@x>\r\n\r\n";

	ck_assert_str_eq(scan_text(text, sizeof(text) - 1, 0), "<a????@x>");
	/* A NUL does not end the value early. */
	ck_assert_str_eq(scan_text("Message-ID: <a\0b>\r\n", 19, 0), "<a?b>");
}
END_TEST

START_TEST(test_bounded)
{
	size_t len = 20000;
	char *text = malloc(len + 64);
	const char *v;

	strcpy(text, "Message-ID: <");
	memset(text + 13, 'a', len);
	strcpy(text + 13 + len, ">\r\n\r\n");
	v = scan(text);
	ck_assert_uint_eq(strlen(v), SMTPD_MESSAGE_ID_MAX);
	ck_assert_int_eq(v[0], '<');
	/* A field name longer than any we look for. */
	memset(text, 'n', len);
	strcpy(text + len, ": v\r\nMessage-ID: <ok@x>\r\n\r\n");
	ck_assert_str_eq(scan(text), "<ok@x>");
	free(text);
}
END_TEST

START_TEST(test_split_invariance)
{
	const char *texts[] = {
		"From: a\r\nMessage-ID:\r\n <x@y>\r\nTo: b\r\n\r\nMessage-ID: z",
		"Message-ID : <q@r>\n\n",
		"A: b\r\n\r\n",
		"Message-ID: <no end",
	};

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		char want[SMTPD_MESSAGE_ID_MAX + 1];
		size_t len = strlen(texts[i]);

		strcpy(want, scan_text(texts[i], len, 0));
		for (size_t chunk = 1; chunk < 8; chunk++)
			ck_assert_str_eq(scan_text(texts[i], len, chunk), want);
	}
	ck_assert_str_eq(scan("Message-ID: <no end"), "<no end");
}
END_TEST

static Suite *
smtpd_header_suite(void)
{
	Suite *s = suite_create("smtpd_header");
	TCase *tc = tcase_create("message-id");

	tcase_add_test(tc, test_found);
	tcase_add_test(tc, test_absent);
	tcase_add_test(tc, test_folded);
	tcase_add_test(tc, test_first_only);
	tcase_add_test(tc, test_log_safe);
	tcase_add_test(tc, test_bounded);
	tcase_add_test(tc, test_split_invariance);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(smtpd_header_suite)
