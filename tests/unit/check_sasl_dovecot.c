/* The parser of what Dovecot's auth server sends (protocol 1.x): the
 * handshake, CONT/OK/FAIL, tab escapes, and the lines it must refuse. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlsrelay/sasl.h"
#include "tlsrelay/sasl_server.h"
#include "tlsrelay/util.h"
#include "testutil.h"

static struct dovecot_reply r;
static char buf[DOVECOT_LINE_MAX + 64];

static enum dovecot_line
parse(const char *line)
{
	snprintf(buf, sizeof(buf), "%s", line);
	return dovecot_parse_line(buf, &r);
}

START_TEST(handshake)
{
	ck_assert_int_eq(parse("VERSION\t1\t2"), DOVECOT_VERSION);
	ck_assert_uint_eq(r.major, 1);
	ck_assert_uint_eq(r.minor, 2);
	ck_assert_int_eq(parse("MECH\tPLAIN\tplaintext"), DOVECOT_MECH);
	ck_assert_str_eq(r.mech, "PLAIN");
	ck_assert_uint_eq(r.flags, SASL_MECH_F_PLAINTEXT);
	ck_assert_int_eq(r.private_mech, 0);
	ck_assert_int_eq(parse("MECH\tcram-md5\tdictionary\tactive"),
	    DOVECOT_MECH);
	ck_assert_str_eq(r.mech, "CRAM-MD5");
	ck_assert_uint_eq(r.flags, SASL_MECH_F_DICTIONARY | SASL_MECH_F_ACTIVE);
	ck_assert_int_eq(parse("MECH\tSCRAM-SHA-256\tmutual-auth\t"
	    "forward-secrecy\tsomething-new"), DOVECOT_MECH);
	ck_assert_uint_eq(r.flags, SASL_MECH_F_MUTUAL_AUTH |
	    SASL_MECH_F_FORWARD_SECRECY);
	ck_assert_int_eq(parse("MECH\tANONYMOUS\tanonymous\tprivate"),
	    DOVECOT_MECH);
	ck_assert_uint_eq(r.flags, SASL_MECH_F_ANONYMOUS);
	ck_assert_int_eq(r.private_mech, 1);
	ck_assert_int_eq(parse("SPID\t1234"), DOVECOT_OTHER);
	ck_assert_int_eq(parse("CUID\t5"), DOVECOT_OTHER);
	ck_assert_int_eq(parse("COOKIE\t0123456789abcdef"), DOVECOT_OTHER);
	ck_assert_int_eq(parse("DONE"), DOVECOT_DONE);
}
END_TEST

START_TEST(results)
{
	ck_assert_int_eq(parse("CONT\t7\t"), DOVECOT_CONT);
	ck_assert_uint_eq(r.id, 7);
	ck_assert_str_eq(r.data, "");
	ck_assert_int_eq(parse("CONT\t8"), DOVECOT_CONT);
	ck_assert_str_eq(r.data, "");
	ck_assert_int_eq(parse("CONT\t9\tPDEyMzQ+"), DOVECOT_CONT);
	ck_assert_str_eq(r.data, "PDEyMzQ+");
	ck_assert_int_eq(parse("OK\t4294967295\tuser=bob@example.com"),
	    DOVECOT_OK);
	ck_assert_uint_eq(r.id, 4294967295U);
	ck_assert_str_eq(r.user, "bob@example.com");
	ck_assert_int_eq(parse("FAIL\t3\tuser=bob"), DOVECOT_FAIL);
	ck_assert_str_eq(r.user, "bob");
	ck_assert_ptr_null(r.reason);
	ck_assert_int_eq(r.temp, 0);
	ck_assert_int_eq(parse("FAIL\t3\treason=Password\001texpired\ttemp"),
	    DOVECOT_FAIL);
	ck_assert_ptr_null(r.user);
	ck_assert_str_eq(r.reason, "Password\texpired");
	ck_assert_int_eq(r.temp, 1);
	/* A user name Dovecot escaped, and one not fit to log: dropped. */
	ck_assert_int_eq(parse("FAIL\t3\tuser=a\001nb"), DOVECOT_FAIL);
	ck_assert_ptr_null(r.user);
	ck_assert_int_eq(parse("FAIL\t3\tuser=a\0011b\treason=x\0011"),
	    DOVECOT_FAIL);
	ck_assert_ptr_null(r.user);
	ck_assert_str_eq(r.reason, "x\001");
	/* Unknown fields are a newer server's. */
	ck_assert_int_eq(parse("OK\t1\tuser=bob\toriginal_user=Bob\tfoo"),
	    DOVECOT_OK);
	ck_assert_str_eq(r.user, "bob");
	ck_assert_int_eq(parse("NEWCOMMAND\t1"), DOVECOT_OTHER);
}
END_TEST

START_TEST(refused)
{
	static const char *const bad[] = {
		"VERSION", "VERSION\t1", "VERSION\tx\t2", "VERSION\t-1\t2",
		"VERSION\t99999999999\t0",
		"MECH", "MECH\t", "MECH\tPL AIN", "MECH\tPLAIN;\tplaintext",
		"MECH\tABCDEFGHIJKLMNOPQRSTU",		/* 21 characters */
		"CONT", "CONT\tx\tAAAA", "CONT\t1\tnot base64!",
		"CONT\t1\tAA\nAA", "CONT\t+1\tAAAA",
		"OK\t1", "OK\t1\tuser=", "OK\t1\treason=x", "OK",
		"OK\t1\tuser=a\001tb",		/* a tab in a name */
		"FAIL", "FAIL\tid", "FAIL\t1\treason=bad\001escape",
		"FAIL\t1\tuser=x\001",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(parse(bad[i]) == DOVECOT_BAD, "accepted: %s",
		    bad[i]);
	ck_assert_int_eq(parse("MECH\tABCDEFGHIJKLMNOPQRST"), DOVECOT_MECH);
	/* A name of SASL_NAME_MAX bytes, and one byte more. */
	{
		char line[400];
		int n = snprintf(line, sizeof(line), "OK\t1\tuser=");

		memset(line + n, 'a', SASL_NAME_MAX);
		line[n + SASL_NAME_MAX] = '\0';
		ck_assert_int_eq(parse(line), DOVECOT_OK);
		line[n + SASL_NAME_MAX] = 'a';
		line[n + SASL_NAME_MAX + 1] = '\0';
		ck_assert_int_eq(parse(line), DOVECOT_BAD);
	}
	/* Too long a line. */
	memset(buf, 'A', DOVECOT_LINE_MAX + 1);
	memcpy(buf, "CONT\t1\t", 7);
	buf[DOVECOT_LINE_MAX + 1] = '\0';
	ck_assert_int_eq(dovecot_parse_line(buf, &r), DOVECOT_BAD);
}
END_TEST

static Suite *
dovecot_suite(void)
{
	Suite *s = suite_create("sasl_dovecot");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, handshake);
	tcase_add_test(tc, results);
	tcase_add_test(tc, refused);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(dovecot_suite)
