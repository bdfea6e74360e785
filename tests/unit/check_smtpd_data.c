/* Unit tests: the DATA reader (dot-unstuffing, end of data, bare LF and
 * the SMTP smuggling sequences, split invariance). */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "tlsrelay/smtpd_parse.h"
#include "tlsrelay/util.h"
#include "testutil.h"

struct run {
	enum data_result result;
	size_t consumed;
	int bare_lf_seen;
	unsigned long long bytes_out;
	struct strbuf out;
};

/* Feeds in[0..len) in pieces of chunk bytes (0: all at once), as a session
 * would: stops at the first result other than DATA_MORE. */
static void
feed(const char *in, size_t len, enum bare_lf_mode mode, size_t chunk,
    struct run *run)
{
	struct smtpd_data_reader reader;
	size_t pos = 0;

	smtpd_data_init(&reader, mode);
	strbuf_init(&run->out);
	run->result = DATA_MORE;
	run->consumed = 0;
	if (chunk == 0)
		chunk = len ? len : 1;
	while (pos < len) {
		size_t n = len - pos < chunk ? len - pos : chunk, used;

		run->result = smtpd_data_feed(&reader, in + pos, n, &run->out,
		    &used);
		ck_assert_uint_le(used, n);
		pos += used;
		if (run->result != DATA_MORE)
			break;
		ck_assert_uint_eq(used, n);
	}
	run->consumed = pos;
	run->bare_lf_seen = reader.bare_lf_seen;
	run->bytes_out = reader.bytes_out;
	ck_assert_uint_eq(run->bytes_out, run->out.len);
}

static void
expect(const char *in, enum bare_lf_mode mode, enum data_result result,
    const char *content, size_t consumed)
{
	size_t len = strlen(in), chunk;
	struct run whole, part;

	feed(in, len, mode, 0, &whole);
	ck_assert_msg(whole.result == result, "\"%s\": result %d, want %d", in,
	    (int)whole.result, (int)result);
	if (content != NULL) {
		ck_assert_uint_eq(whole.out.len, strlen(content));
		ck_assert_mem_eq(whole.out.data ? whole.out.data : "", content,
		    whole.out.len);
	}
	ck_assert_uint_eq(whole.consumed, consumed);

	/* Any split gives the same as all at once. */
	for (chunk = 1; chunk <= len; chunk++) {
		feed(in, len, mode, chunk, &part);
		ck_assert_int_eq(part.result, whole.result);
		ck_assert_uint_eq(part.consumed, whole.consumed);
		ck_assert_int_eq(part.bare_lf_seen, whole.bare_lf_seen);
		ck_assert_uint_eq(part.out.len, whole.out.len);
		if (part.out.len)
			ck_assert_mem_eq(part.out.data, whole.out.data,
			    part.out.len);
		strbuf_free(&part.out);
	}
	strbuf_free(&whole.out);
}

#define N BARE_LF_NORMALIZE
#define R BARE_LF_REJECT

START_TEST(test_simple)
{
	expect("Hello\r\nWorld\r\n.\r\n", N, DATA_DONE, "Hello\r\nWorld\r\n",
	    17);
	expect("Subject: x\r\n\r\nbody\r\n.\r\n", R, DATA_DONE,
	    "Subject: x\r\n\r\nbody\r\n", 23);
	expect(".\r\n", N, DATA_DONE, "", 3);
	expect(".\r\n", R, DATA_DONE, "", 3);
	expect("\r\n.\r\n", N, DATA_DONE, "\r\n", 5);
	expect("", N, DATA_MORE, "", 0);
	expect("abc", N, DATA_MORE, "abc", 3);
	expect("abc\r\n", N, DATA_MORE, "abc\r\n", 5);
	/* Held back: the dot and a CR are not content yet. */
	expect("abc\r\n.", N, DATA_MORE, "abc\r\n", 6);
	expect("abc\r\n.\r", N, DATA_MORE, "abc\r\n", 7);
	expect("abc\r", N, DATA_MORE, "abc", 4);
}
END_TEST

START_TEST(test_pipelining)
{
	/* The bytes after the end of data belong to the next command. */
	expect("a\r\n.\r\nQUIT\r\n", N, DATA_DONE, "a\r\n", 6);
	expect(".\r\nMAIL FROM:<x@y>\r\n", R, DATA_DONE, "", 3);
	expect("a\r\n.\r\n.\r\n", N, DATA_DONE, "a\r\n", 6);
}
END_TEST

START_TEST(test_after_end)
{
	struct smtpd_data_reader reader;
	struct strbuf out;
	size_t used = 99;

	strbuf_init(&out);
	smtpd_data_init(&reader, N);
	ck_assert_int_eq(smtpd_data_feed(&reader, "x\r\n.\r\nyz", 8, &out,
	    &used), DATA_DONE);
	ck_assert_uint_eq(used, 6);
	ck_assert_int_eq(smtpd_data_feed(&reader, "yz", 2, &out, &used),
	    DATA_DONE);
	ck_assert_uint_eq(used, 0);
	ck_assert_str_eq(out.data, "x\r\n");

	smtpd_data_init(&reader, R);
	strbuf_reset(&out);
	ck_assert_int_eq(smtpd_data_feed(&reader, "ab\ncd", 5, &out, &used),
	    DATA_BARE_LF);
	ck_assert_uint_eq(used, 3);
	ck_assert_int_eq(reader.bare_lf_seen, 1);
	ck_assert_int_eq(smtpd_data_feed(&reader, "\r\n.\r\n", 5, &out, &used),
	    DATA_BARE_LF);
	ck_assert_uint_eq(used, 0);
	strbuf_free(&out);
}
END_TEST

START_TEST(test_dot_unstuffing)
{
	expect("..x\r\n.\r\n", N, DATA_DONE, ".x\r\n", 8);
	expect("..\r\n.\r\n", N, DATA_DONE, ".\r\n", 7);
	expect("...\r\n.\r\n", N, DATA_DONE, "..\r\n", 8);
	expect(".x\r\n.\r\n", N, DATA_DONE, "x\r\n", 7);
	expect("a\r\n..\r\n.\r\n", N, DATA_DONE, "a\r\n.\r\n", 10);
	expect("a\r\n...\r\n.\r\n", N, DATA_DONE, "a\r\n..\r\n", 11);
	/* Only at the start of a line. */
	expect("a.b\r\na..\r\n.\r\n", N, DATA_DONE, "a.b\r\na..\r\n", 13);
	expect(" .\r\n.\r\n", N, DATA_DONE, " .\r\n", 7);
	/* After a bare LF line too. */
	expect("a\n..x\r\n.\r\n", N, DATA_DONE, "a\r\n.x\r\n", 10);
	/* ". " is a stuffed line " ", not the end. */
	expect(". \r\n.\r\n", N, DATA_DONE, " \r\n", 7);
}
END_TEST

START_TEST(test_bare_cr)
{
	expect("a\rb\r\n.\r\n", N, DATA_DONE, "a\rb\r\n", 8);
	expect("a\rb\r\n.\r\n", R, DATA_DONE, "a\rb\r\n", 8);
	expect("\r\r\n.\r\n", N, DATA_DONE, "\r\r\n", 6);
	expect("a\r\r\r\n.\r\n", N, DATA_DONE, "a\r\r\r\n", 8);
	expect("\r.\r\n.\r\n", N, DATA_DONE, "\r.\r\n", 7);
	/* ".\rX": a stuffed line whose text is "\rX". */
	expect(".\rX\r\n.\r\n", N, DATA_DONE, "\rX\r\n", 8);
	expect(".\r\r\n.\r\n", N, DATA_DONE, "\r\r\n", 7);
	expect(".\r.\r\n.\r\n", N, DATA_DONE, "\r.\r\n", 8);
}
END_TEST

START_TEST(test_bare_lf_normalize)
{
	struct run run;

	expect("a\nb\r\n.\r\n", N, DATA_DONE, "a\r\nb\r\n", 8);
	expect("\n.\r\n", N, DATA_MORE, "\r\n.\r\n", 4);
	expect("a\n\n\r\n.\r\n", N, DATA_DONE, "a\r\n\r\n\r\n", 8);
	feed("a\nb\r\n.\r\n", 8, N, 0, &run);
	ck_assert_int_eq(run.bare_lf_seen, 1);
	strbuf_free(&run.out);
	feed("a\r\nb\r\n.\r\n", 9, N, 0, &run);
	ck_assert_int_eq(run.bare_lf_seen, 0);
	strbuf_free(&run.out);
}
END_TEST

START_TEST(test_bare_lf_reject)
{
	expect("a\nb\r\n.\r\n", R, DATA_BARE_LF, NULL, 2);
	expect("\n", R, DATA_BARE_LF, NULL, 1);
	expect("ok\r\nfine\r\nbad\n", R, DATA_BARE_LF, NULL, 14);
	expect(".\n", R, DATA_BARE_LF, NULL, 2);
}
END_TEST

/* The SMTP smuggling sequences: none of them ends the content. */
START_TEST(test_smuggling_normalize)
{
	expect("a\n.\nMAIL FROM:<x@y>\r\n.\r\n", N, DATA_DONE,
	    "a\r\n.\r\nMAIL FROM:<x@y>\r\n", 24);
	expect("a\r\n.\nMAIL FROM:<x@y>\r\n.\r\n", N, DATA_DONE,
	    "a\r\n.\r\nMAIL FROM:<x@y>\r\n", 25);
	expect("a\n.\r\nMAIL FROM:<x@y>\r\n.\r\n", N, DATA_DONE,
	    "a\r\n.\r\nMAIL FROM:<x@y>\r\n", 25);
	expect("a\r.\rMAIL FROM:<x@y>\r\n.\r\n", N, DATA_DONE,
	    "a\r.\rMAIL FROM:<x@y>\r\n", 24);
	expect("a\r\n.\rMAIL\r\n.\r\n", N, DATA_DONE, "a\r\n\rMAIL\r\n", 14);
	/* "." LF as the very first line is content too. */
	expect(".\nX\r\n.\r\n", N, DATA_DONE, ".\r\nX\r\n", 8);
	/* ... and so is "." ended by LF anywhere. */
	expect("a\r\n.\n", N, DATA_MORE, "a\r\n.\r\n", 5);
	expect("a\n.\n", N, DATA_MORE, "a\r\n.\r\n", 4);
	expect("a\n.\r\n", N, DATA_MORE, "a\r\n.\r\n", 5);
	expect("a\r.\r", N, DATA_MORE, "a\r.", 4);
}
END_TEST

START_TEST(test_smuggling_reject)
{
	expect("a\n.\nMAIL\r\n.\r\n", R, DATA_BARE_LF, NULL, 2);
	expect("a\r\n.\nMAIL\r\n.\r\n", R, DATA_BARE_LF, NULL, 5);
	expect("a\n.\r\nMAIL\r\n.\r\n", R, DATA_BARE_LF, NULL, 2);
	/* No LF at all: only bare CRs, which are content. */
	expect("a\r.\rMAIL\r\n.\r\n", R, DATA_DONE, "a\r.\rMAIL\r\n", 13);
}
END_TEST

START_TEST(test_bytes_out)
{
	struct smtpd_data_reader reader;
	struct strbuf out;
	size_t used;

	/* bytes_out keeps counting when the caller empties out. */
	strbuf_init(&out);
	smtpd_data_init(&reader, N);
	ck_assert_int_eq(smtpd_data_feed(&reader, "12345\r\n..", 9, &out,
	    &used), DATA_MORE);
	ck_assert_uint_eq(reader.bytes_out, 8);
	strbuf_reset(&out);
	ck_assert_int_eq(smtpd_data_feed(&reader, "x\nyz\r", 5, &out, &used),
	    DATA_MORE);
	ck_assert_str_eq(out.data, "x\r\nyz");
	ck_assert_uint_eq(reader.bytes_out, 13);
	strbuf_reset(&out);
	ck_assert_int_eq(smtpd_data_feed(&reader, "\n.\r\n", 4, &out, &used),
	    DATA_DONE);
	ck_assert_str_eq(out.data, "\r\n");
	ck_assert_uint_eq(reader.bytes_out, 15);
	strbuf_free(&out);
}
END_TEST

/* Every split of a long mixed input, against a fixed expectation. */
START_TEST(test_split_long)
{
	struct strbuf in, want;
	int i;

	strbuf_init(&in);
	strbuf_init(&want);
	for (i = 0; i < 40; i++) {
		strbuf_printf(&in, "line %d\r\n..stuffed\r\nbare\ncr\r.\r\n", i);
		strbuf_printf(&want, "line %d\r\n.stuffed\r\nbare\r\ncr\r.\r\n",
		    i);
	}
	strbuf_puts(&in, ".\r\nNEXT");
	expect(in.data, N, DATA_DONE, want.data, in.len - 4);
	strbuf_free(&in);
	strbuf_free(&want);
}
END_TEST

static Suite *
smtpd_data_suite(void)
{
	Suite *s = suite_create("smtpd_data");
	TCase *tc;

	tc = tcase_create("reader");
	tcase_add_test(tc, test_simple);
	tcase_add_test(tc, test_pipelining);
	tcase_add_test(tc, test_after_end);
	tcase_add_test(tc, test_dot_unstuffing);
	tcase_add_test(tc, test_bare_cr);
	tcase_add_test(tc, test_bare_lf_normalize);
	tcase_add_test(tc, test_bare_lf_reject);
	tcase_add_test(tc, test_smuggling_normalize);
	tcase_add_test(tc, test_smuggling_reject);
	tcase_add_test(tc, test_bytes_out);
	tcase_add_test(tc, test_split_long);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(smtpd_data_suite)
