/* check_mtasts: the MTA-STS parsers (RFC 8461): the policy body, the
 * _mta-sts TXT record, and the MX pattern matcher. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlsrelay/log.h"
#include "tlsrelay/mtasts.h"
#include "tlsrelay/scache.h"
#include "tlsrelay/util.h"
#include "testutil.h"
#include "mtasts_int.h"		/* the memo */

static struct mtasts_policy *
parse(const char *text)
{
	struct mtasts_policy *p;
	char *why = NULL;

	p = mtasts_policy_parse(text, strlen(text), &why);
	if (p == NULL)
		ck_assert_ptr_nonnull(why);
	else
		ck_assert_ptr_null(why);
	free(why);
	return p;
}

static void
assert_invalid(const char *text)
{
	struct mtasts_policy *p = parse(text);

	ck_assert_msg(p == NULL, "accepted: %s", text);
}

START_TEST(policy_rfc_example)
{
	/* RFC 8461 3.2's example. */
	struct mtasts_policy *p = parse("version: STSv1\r\n"
	    "mode: enforce\r\n"
	    "mx: mail.example.com\r\n"
	    "mx: *.example.net\r\n"
	    "mx: backupmx.example.com\r\n"
	    "max_age: 604800\r\n");

	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(p->mode, MTASTS_MODE_ENFORCE);
	ck_assert_int_eq(p->max_age, 604800);
	ck_assert_uint_eq(p->n_mx, 3);
	ck_assert_str_eq(p->mx[0], "mail.example.com");
	ck_assert_str_eq(p->mx[1], "*.example.net");
	ck_assert_str_eq(p->mx[2], "backupmx.example.com");
	mtasts_policy_free(p);
}
END_TEST

START_TEST(policy_forms)
{
	struct mtasts_policy *p;

	/* LF only, no final line end, blanks around the colon, keys and
	 * values in any case, upper-case mx stored lower case. */
	p = parse("version:STSv1\nMode :  Testing \nmx:MX.Example.COM\n"
	    "max_age: 0");
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(p->mode, MTASTS_MODE_TESTING);
	ck_assert_int_eq(p->max_age, 0);
	ck_assert_str_eq(p->mx[0], "mx.example.com");
	mtasts_policy_free(p);

	/* Unknown keys ignored; the first mode wins; trailing line ends. */
	p = parse("version: STSv1\nmode: enforce\nmode: none\n"
	    "x-report_to: mailto:tls@example.com here\nmx: a.example\n"
	    "max_age: 31557600\n\r\n\n");
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(p->mode, MTASTS_MODE_ENFORCE);
	ck_assert_int_eq(p->max_age, 31557600);
	mtasts_policy_free(p);

	/* mode none needs no mx. */
	p = parse("version: STSv1\nmode: none\nmax_age: 86400\n");
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(p->mode, MTASTS_MODE_NONE);
	ck_assert_uint_eq(p->n_mx, 0);
	ck_assert_str_eq(mtasts_mode_name(p->mode), "none");
	mtasts_policy_free(p);
}
END_TEST

START_TEST(policy_malformed)
{
	/* Missing fields. */
	assert_invalid("");
	assert_invalid("mode: enforce\nmx: a.example\nmax_age: 1\n");
	assert_invalid("version: STSv1\nmx: a.example\nmax_age: 1\n");
	assert_invalid("version: STSv1\nmode: enforce\nmx: a.example\n");
	assert_invalid("version: STSv1\nmode: enforce\nmax_age: 1\n");
	/* Wrong values. */
	assert_invalid("version: STSv2\nmode: enforce\nmx: a.example\n"
	    "max_age: 1\n");
	assert_invalid("version: STSv1\nmode: strict\nmx: a.example\n"
	    "max_age: 1\n");
	assert_invalid("version: STSv1\nmode: enforce\nmx: a.example\n"
	    "max_age: 31557601\n");
	assert_invalid("version: STSv1\nmode: enforce\nmx: a.example\n"
	    "max_age: -1\n");
	assert_invalid("version: STSv1\nmode: enforce\nmx: a.example\n"
	    "max_age: 99999999999\n");
	assert_invalid("version: STSv1\nmode: enforce\nmx: a.example\n"
	    "max_age: 1d\n");
	/* Bad mx patterns. */
	assert_invalid("version: STSv1\nmode: enforce\nmx: a..example\n"
	    "max_age: 1\n");
	assert_invalid("version: STSv1\nmode: enforce\nmx: *example.com\n"
	    "max_age: 1\n");
	assert_invalid("version: STSv1\nmode: enforce\nmx: a.*.example\n"
	    "max_age: 1\n");
	assert_invalid("version: STSv1\nmode: enforce\nmx: -a.example\n"
	    "max_age: 1\n");
	assert_invalid("version: STSv1\nmode: enforce\nmx: a_b.example\n"
	    "max_age: 1\n");
	assert_invalid("version: STSv1\nmode: enforce\nmx:\nmax_age: 1\n");
	/* Lines that are not "key: value", a blank line inside, leading
	 * blanks, a NUL, a bad extension. */
	assert_invalid("version: STSv1\nmode enforce\nmx: a.example\n"
	    "max_age: 1\n");
	assert_invalid("version: STSv1\n\nmode: enforce\nmx: a.example\n"
	    "max_age: 1\n");
	assert_invalid(" version: STSv1\nmode: enforce\nmx: a.example\n"
	    "max_age: 1\n");
	assert_invalid("version: STSv1\nmode: enforce\nmx: a.example\n"
	    "max_age: 1\n_x: y\n");
	assert_invalid("version: STSv1\nmode: enforce\nmx: a.example\n"
	    "max_age: 1\nx:\n");
	{
		static const char nul[] = "version: STSv1\nmode: enforce\n"
		    "mx: a.example\nmax_age: 1\nx: a\0b\n";
		char *why = NULL;

		ck_assert_ptr_null(mtasts_policy_parse(nul, sizeof(nul) - 1,
		    &why));
		ck_assert_ptr_nonnull(why);
		free(why);
	}
}
END_TEST

START_TEST(policy_too_large)
{
	size_t len = MTASTS_POLICY_SIZE_MAX + 1;
	char *big = malloc(len), *why = NULL;
	const char *head = "version: STSv1\nmode: none\nmax_age: 1\n";

	memset(big, '\n', len);
	memcpy(big, head, strlen(head));
	ck_assert_ptr_null(mtasts_policy_parse(big, len, &why));
	ck_assert_str_eq(why, "policy too large");
	free(why);
	free(big);
}
END_TEST

static int
txt(const char *const *records, size_t n, char *id)
{
	char *why = NULL;
	int r = mtasts_txt_parse((char *const *)records, n, id, &why);

	if (r)
		ck_assert_ptr_null(why);
	else
		ck_assert_ptr_nonnull(why);
	free(why);
	return r;
}

START_TEST(txt_records)
{
	char id[MTASTS_ID_MAX + 1];
	const char *one[] = { "v=STSv1; id=20160831085700Z;" };
	const char *bare[] = { "v=STSv1;id=abc" };
	const char *ext[] = { "v=STSv1 ; x-ext=y!z ; id=ID2 ; id=ID3" };
	const char *others[] = { "v=spf1 -all", "v=STSv1; id=x1;",
	    "google-site-verification=abc" };
	/* Two character strings of one record arrive joined. */
	const char *joined[] = { "v=STSv1; id=0123456789abcdef0123456789abcdef;" };

	ck_assert_int_eq(txt(one, 1, id), 1);
	ck_assert_str_eq(id, "20160831085700Z");
	ck_assert_int_eq(txt(bare, 1, id), 1);
	ck_assert_str_eq(id, "abc");
	ck_assert_int_eq(txt(ext, 1, id), 1);
	ck_assert_str_eq(id, "ID2");
	ck_assert_int_eq(txt(others, 3, id), 1);
	ck_assert_str_eq(id, "x1");
	ck_assert_int_eq(txt(joined, 1, id), 1);
	ck_assert_str_eq(id, "0123456789abcdef0123456789abcdef");
}
END_TEST

START_TEST(txt_invalid)
{
	char id[MTASTS_ID_MAX + 1];
	const char *none[] = { "v=spf1 -all" };
	const char *two[] = { "v=STSv1; id=a;", "v=STSv1; id=b;" };
	const char *bad[] = {
		"v=STSv1;",
		"v=STSv1",
		"v=STSv1; id=;",
		"v=STSv1; id=a-b;",
		"v=STSv1; id=0123456789abcdef0123456789abcdef0;",
		"v=STSv1 id=a;",
		"v=STSv1; x=; id=a;",
		"v=STSv1; =y; id=a;",
		"v=STSv1; id=a; junk",
		"v=stsv1; id=a;",
		"v=STSv10; id=a;",
		"V=STSv1; id=a;",
		"v=STSv1; ID=a;",
	};

	ck_assert_int_eq(txt(none, 1, id), 0);
	ck_assert_int_eq(txt(none, 0, id), 0);
	ck_assert_int_eq(txt(two, 2, id), 0);
	ck_assert_str_eq(id, "");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(txt(&bad[i], 1, id) == 0, "accepted: %s",
		    bad[i]);
}
END_TEST

START_TEST(mx_patterns)
{
	struct mtasts_policy *p;

	ck_assert(mtasts_mx_pattern_match("mail.example.com",
	    "mail.example.com"));
	ck_assert(mtasts_mx_pattern_match("mail.example.com",
	    "MAIL.Example.COM."));
	ck_assert(!mtasts_mx_pattern_match("mail.example.com",
	    "mail.example.com.evil"));
	ck_assert(!mtasts_mx_pattern_match("mail.example.com",
	    "xmail.example.com"));
	/* RFC 8461 4.1: the star is exactly one left-most label. */
	ck_assert(mtasts_mx_pattern_match("*.example.net", "mx1.example.net"));
	ck_assert(mtasts_mx_pattern_match("*.example.net", "MX1.EXAMPLE.NET."));
	ck_assert(!mtasts_mx_pattern_match("*.example.net", "example.net"));
	ck_assert(!mtasts_mx_pattern_match("*.example.net",
	    "a.b.example.net"));
	ck_assert(!mtasts_mx_pattern_match("*.example.net", ".example.net"));
	ck_assert(!mtasts_mx_pattern_match("*.example.net", "mx1.xexample.net"));
	ck_assert(!mtasts_mx_pattern_match("*.example.net", ""));
	ck_assert(!mtasts_mx_pattern_match("a.example", "."));

	p = parse("version: STSv1\nmode: enforce\nmx: mail.example.com\n"
	    "mx: *.example.net\nmax_age: 60\n");
	ck_assert_ptr_nonnull(p);
	ck_assert(mtasts_policy_mx_match(p, "mail.example.com"));
	ck_assert(mtasts_policy_mx_match(p, "x.example.net"));
	ck_assert(!mtasts_policy_mx_match(p, "mx.example.org"));
	mtasts_policy_free(p);
}
END_TEST

/* The cache keeps the body and id, gives the policy back parsed, lets it
 * expire after max_age, and removes a record it cannot parse. */
START_TEST(cache_round_trip)
{
	static const char body[] = "version: STSv1\r\nmode: enforce\r\n"
	    "mx: *.example.net\r\nmax_age: 600\r\n";
	char dir[4096], *path;
	struct scache *sc;
	struct mtasts_cached c;
	time_t now = 1700000000;

	tu_make_dir(dir, sizeof(dir), "cache");
	path = xasprintf("%s/%s", dir, MTASTS_CACHE_NAME);
	sc = scache_new(dir, SCACHE_BTREE, path, 0);
	ck_assert_int_eq(mtasts_cache_get(sc, "example.net", now, &c), 0);
	ck_assert_int_eq(mtasts_cache_put(sc, "example.net", "id1", now, body,
	    sizeof(body) - 1, 600), 0);
	ck_assert_int_eq(mtasts_cache_get(sc, "example.net", now + 599, &c),
	    1);
	ck_assert_str_eq(c.id, "id1");
	ck_assert_int_eq(c.fetched, now);
	ck_assert_int_eq(c.policy->mode, MTASTS_MODE_ENFORCE);
	ck_assert_str_eq(c.policy->mx[0], "*.example.net");
	mtasts_policy_free(c.policy);
	/* Past max_age: gone. */
	ck_assert_int_eq(mtasts_cache_get(sc, "example.net", now + 600, &c),
	    0);
	ck_assert_ptr_null(c.policy);
	/* A record that does not parse is dropped, not used. */
	ck_assert_int_eq(scache_put(sc, "bad.example", now, now + 600,
	    "id2\0version: STSv9\n", 19), 0);
	ck_assert_int_eq(mtasts_cache_get(sc, "bad.example", now, &c), 0);
	ck_assert_int_eq(scache_get(sc, "bad.example", now,
	    &(struct scache_entry){ 0 }), 0);
	ck_assert_int_eq(mtasts_cache_put(sc, "gone.example", "id3", now, body,
	    sizeof(body) - 1, 600), 0);
	ck_assert_int_eq(mtasts_cache_delete(sc, "gone.example"), 0);
	ck_assert_int_eq(mtasts_cache_get(sc, "gone.example", now, &c), 0);
	scache_free(sc);
	scache_shutdown();
	free(path);
}
END_TEST

/* ---- the memo (mtasts_memo.c) -------------------------------------- */

START_TEST(memo_txt_bounds_and_expiry)
{
	struct mtasts_memo *m = mtasts_memo_new();
	const struct mtasts_memo_txt *t;
	time_t now = 1000000;

	ck_assert_ptr_null(mtasts_memo_txt_get(m, "a.test", now));
	/* A TTL of 0 (or no SOA) is kept the least, 60 s. */
	mtasts_memo_txt_put(m, "a.test", "", NULL, 0, now);
	t = mtasts_memo_txt_get(m, "a.test", now + MTASTS_MEMO_TTL_MIN - 1);
	ck_assert_ptr_nonnull(t);
	ck_assert_str_eq(t->id, "");
	ck_assert_ptr_null(t->why);
	ck_assert_ptr_null(mtasts_memo_txt_get(m, "a.test",
	    now + MTASTS_MEMO_TTL_MIN));
	/* A day is kept an hour; the id and why as given. */
	mtasts_memo_txt_put(m, "b.test", "20260101", NULL, 86400, now);
	mtasts_memo_txt_put(m, "c.test", NULL, "no STSv1 TXT record", 300,
	    now);
	/* (Time only goes forward: a lookup drops what has expired.) */
	t = mtasts_memo_txt_get(m, "c.test", now + 299);
	ck_assert_ptr_nonnull(t);
	ck_assert_str_eq(t->why, "no STSv1 TXT record");
	ck_assert_ptr_null(mtasts_memo_txt_get(m, "c.test", now + 300));
	t = mtasts_memo_txt_get(m, "b.test", now + MTASTS_MEMO_TTL_MAX - 1);
	ck_assert_ptr_nonnull(t);
	ck_assert_str_eq(t->id, "20260101");
	ck_assert_ptr_null(mtasts_memo_txt_get(m, "b.test",
	    now + MTASTS_MEMO_TTL_MAX));
	mtasts_memo_free(m);
}
END_TEST

START_TEST(memo_fetch_failed)
{
	struct mtasts_memo *m = mtasts_memo_new();
	time_t now = 1000000;

	ck_assert(!mtasts_memo_fetch_blocked(m, "a.test", "1", now));
	mtasts_memo_fetch_failed(m, "a.test", "1", now);
	ck_assert(mtasts_memo_fetch_blocked(m, "a.test", "1",
	    now + MTASTS_FETCH_RETRY - 1));
	/* Another id is another policy: fetched at once. */
	ck_assert(!mtasts_memo_fetch_blocked(m, "a.test", "2", now));
	ck_assert(!mtasts_memo_fetch_blocked(m, "b.test", "1", now));
	ck_assert(!mtasts_memo_fetch_blocked(m, "a.test", "1",
	    now + MTASTS_FETCH_RETRY));
	/* A failed fetch does not make a TXT answer up. */
	ck_assert_ptr_null(mtasts_memo_txt_get(m, "a.test", now));
	mtasts_memo_free(m);
}
END_TEST

START_TEST(memo_bounded)
{
	struct mtasts_memo *m = mtasts_memo_new();
	time_t now = 1000000;
	char name[32];

	for (int i = 0; i <= MTASTS_MEMO_MAX; i++) {
		snprintf(name, sizeof(name), "d%d.test", i);
		mtasts_memo_txt_put(m, name, "1", NULL, 3600, now);
	}
	/* The oldest went; the newest stay. */
	ck_assert_ptr_null(mtasts_memo_txt_get(m, "d0.test", now));
	ck_assert_ptr_nonnull(mtasts_memo_txt_get(m, "d1.test", now));
	snprintf(name, sizeof(name), "d%d.test", MTASTS_MEMO_MAX);
	ck_assert_ptr_nonnull(mtasts_memo_txt_get(m, name, now));
	mtasts_memo_free(m);
}
END_TEST

static Suite *
mtasts_suite(void)
{
	Suite *s = suite_create("mtasts");
	TCase *tc = tcase_create("policy");

	tcase_add_test(tc, policy_rfc_example);
	tcase_add_test(tc, policy_forms);
	tcase_add_test(tc, policy_malformed);
	tcase_add_test(tc, policy_too_large);
	suite_add_tcase(s, tc);
	tc = tcase_create("txt");
	tcase_add_test(tc, txt_records);
	tcase_add_test(tc, txt_invalid);
	suite_add_tcase(s, tc);
	tc = tcase_create("mx");
	tcase_add_test(tc, mx_patterns);
	suite_add_tcase(s, tc);
	tc = tcase_create("memo");
	tcase_add_test(tc, memo_txt_bounds_and_expiry);
	tcase_add_test(tc, memo_fetch_failed);
	tcase_add_test(tc, memo_bounded);
	suite_add_tcase(s, tc);

	tc = tcase_create("cache");
	tcase_add_test(tc, cache_round_trip);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(mtasts_suite)
