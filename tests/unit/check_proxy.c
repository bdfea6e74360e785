/* check_proxy: the PROXY protocol parser, versions 1 and 2: the headers
 * HAProxy sends, each cut at every length (more is needed, never an
 * error), and malformed ones refused with a reason. */
#include "config.h"

#include <check.h>
#include <string.h>
#include <sys/socket.h>

#include "tlsrelay/proxy.h"

#include "testutil.h"

static const unsigned char v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
};

/* A v2 header: command, family, address bytes, then tlv bytes of TLVs
 * (one PP2_TYPE_NOOP filling them, when tlv >= 3). */
static size_t
v2(unsigned char *out, unsigned cmd, unsigned fam, const unsigned char *a,
    size_t alen, size_t tlv)
{
	size_t body = alen + tlv;

	memcpy(out, v2_sig, 12);
	out[12] = (unsigned char)(0x20 | cmd);
	out[13] = (unsigned char)fam;
	out[14] = (unsigned char)(body >> 8);
	out[15] = (unsigned char)body;
	memcpy(out + 16, a, alen);
	memset(out + 16 + alen, 0, tlv);
	if (tlv >= 3) {
		out[16 + alen] = 0x04;
		out[16 + alen + 1] = (unsigned char)((tlv - 3) >> 8);
		out[16 + alen + 2] = (unsigned char)(tlv - 3);
	}
	return 16 + body;
}

/* Every prefix of a good header asks for more; the whole one parses. */
static void
parses(const unsigned char *buf, size_t len, struct proxy_info *info)
{
	const char *why;
	size_t used;

	for (size_t cut = 0; cut < len; cut++)
		ck_assert_msg(proxy_parse(buf, cut, info, &used, &why) ==
		    PROXY_NEED_MORE, "cut at %zu: %s", cut, why);
	ck_assert_int_eq(proxy_parse(buf, len, info, &used, &why), PROXY_OK);
	ck_assert_uint_eq(used, len);
}

static void
refused(const char *text, const char *reason)
{
	struct proxy_info info;
	const char *why = NULL;
	size_t used;

	ck_assert_int_eq(proxy_parse((const unsigned char *)text,
	    strlen(text), &info, &used, &why), PROXY_ERROR);
	ck_assert_str_eq(why, reason);
}

START_TEST(v1_tcp4_and_tcp6)
{
	static const char t4[] = "PROXY TCP4 192.0.2.7 198.51.100.1 56324 25"
	    "\r\nEHLO x\r\n";
	static const char t6[] = "PROXY TCP6 2001:db8::7 2001:db8::1 "
	    "65535 587\r\n";
	struct proxy_info info;
	const char *why;
	size_t used;

	ck_assert_int_eq(proxy_parse((const unsigned char *)t4, strlen(t4),
	    &info, &used, &why), PROXY_OK);
	ck_assert_uint_eq(used, strlen(t4) - strlen("EHLO x\r\n"));
	ck_assert_int_eq(info.local, 0);
	ck_assert_int_eq(info.family, AF_INET);
	ck_assert_str_eq(info.client_addr, "192.0.2.7");
	ck_assert_uint_eq(info.client_port, 56324);
	ck_assert_str_eq(info.server_addr, "198.51.100.1");
	ck_assert_uint_eq(info.server_port, 25);
	parses((const unsigned char *)t6, strlen(t6), &info);
	ck_assert_int_eq(info.family, AF_INET6);
	ck_assert_str_eq(info.client_addr, "2001:db8::7");
	ck_assert_uint_eq(info.client_port, 65535);
	parses((const unsigned char *)"PROXY UNKNOWN\r\n", 15, &info);
	ck_assert_int_eq(info.local, 1);
	parses((const unsigned char *)"PROXY UNKNOWN ffff::1 ::1 1 2\r\n",
	    31, &info);
	ck_assert_int_eq(info.local, 1);
	/* After UNKNOWN anything up to CR LF is ignored (the spec). */
	parses((const unsigned char *)"PROXY UNKNOWN a  b c d e f g\r\n",
	    30, &info);
	ck_assert_int_eq(info.local, 1);
}
END_TEST

/* An IPv4 client named in IPv6 form is the IPv4 address, as a socket
 * peer is: mynetworks, access tables and anvil see one name for it. */
START_TEST(v4_mapped)
{
	static const char t6[] = "PROXY TCP6 ::ffff:192.0.2.7 ::1 1 25\r\n";
	unsigned char a6[36] = { 0 }, buf[128];
	struct proxy_info info;
	size_t len;

	parses((const unsigned char *)t6, strlen(t6), &info);
	ck_assert_int_eq(info.family, AF_INET);
	ck_assert_str_eq(info.client_addr, "192.0.2.7");
	ck_assert_str_eq(info.server_addr, "::1");
	a6[10] = a6[11] = 0xff;
	a6[12] = 192;
	a6[14] = 2;
	a6[15] = 7;
	a6[31] = 1;
	len = v2(buf, 1, 0x21, a6, sizeof(a6), 0);
	parses(buf, len, &info);
	ck_assert_int_eq(info.family, AF_INET);
	ck_assert_str_eq(info.client_addr, "192.0.2.7");
	ck_assert_str_eq(info.server_addr, "::1");
}
END_TEST

START_TEST(v1_malformed)
{
	static const char nul[] = "PROXY TCP4 192.0.2.7 198.51.100.1 1 2\0\r\n";
	struct proxy_info info;
	const char *why;
	size_t used;

	/* A NUL, with or without the line's end in sight. */
	ck_assert_int_eq(proxy_parse((const unsigned char *)nul,
	    sizeof(nul) - 1, &info, &used, &why), PROXY_ERROR);
	ck_assert_int_eq(proxy_parse((const unsigned char *)nul,
	    sizeof(nul) - 3, &info, &used, &why), PROXY_ERROR);
	refused("EHLO client\r\n", "no PROXY protocol header");
	refused("PROXY TCP4 192.0.2.7 198.51.100.1 56324\r\n",
	    "PROXY v1 header with a bad address or port");
	refused("PROXY TCP4 192.0.2.7 198.51.100.1 56324 25 9\r\n",
	    "malformed PROXY v1 header");
	refused("PROXY TCP4 2001:db8::7 198.51.100.1 1 25\r\n",
	    "PROXY v1 header with a bad address or port");
	refused("PROXY TCP4 192.0.2.7 198.51.100.1 65536 25\r\n",
	    "PROXY v1 header with a bad address or port");
	refused("PROXY TCP4 192.0.2.7 198.51.100.1 +1 25\r\n",
	    "PROXY v1 header with a bad address or port");
	refused("PROXY TCP4 192.0.2.7 198.51.100.1 01 25\r\n",
	    "PROXY v1 header with a bad address or port");
	refused("PROXY TCP4  192.0.2.7 198.51.100.1 1 25\r\n",
	    "malformed PROXY v1 header");
	refused("PROXY UDP4 192.0.2.7 198.51.100.1 1 25\r\n",
	    "PROXY v1 header with an unknown protocol");
	refused("PROXY TCP4 192.0.2.7\n", "malformed PROXY v1 header");
	refused("PROXY UNKNOWNX\r\n", "PROXY v1 header with an unknown "
	    "protocol");
	refused("PROXY TCP6 fe80::1%eth0 ::1 1 25\r\n",
	    "PROXY v1 header with a bad address or port");
	refused("PROXY TCP4 192.0.2.7 198.51.100.1 1 2xxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxx", "PROXY v1 header without CR LF in 107 bytes");
}
END_TEST

START_TEST(v2_forms)
{
	static const unsigned char a4[12] = { 192, 0, 2, 7, 198, 51, 100, 1,
	    0xdc, 0x04, 0x00, 0x19 };
	unsigned char a6[36] = { 0x20, 0x01, 0x0d, 0xb8 };
	unsigned char buf[600];
	struct proxy_info info;
	size_t len;

	a6[15] = 7;
	a6[16] = 0x20;
	a6[17] = 0x01;
	a6[18] = 0x0d;
	a6[19] = 0xb8;
	a6[31] = 1;
	a6[33] = 99;
	a6[35] = 25;
	len = v2(buf, 1, 0x11, a4, sizeof(a4), 0);
	parses(buf, len, &info);
	ck_assert_str_eq(info.client_addr, "192.0.2.7");
	ck_assert_uint_eq(info.client_port, 56324);
	ck_assert_str_eq(info.server_addr, "198.51.100.1");
	ck_assert_uint_eq(info.server_port, 25);
	/* TLVs after the addresses: skipped. */
	len = v2(buf, 1, 0x21, a6, sizeof(a6), 40);
	parses(buf, len, &info);
	ck_assert_int_eq(info.family, AF_INET6);
	ck_assert_str_eq(info.client_addr, "2001:db8::7");
	ck_assert_str_eq(info.server_addr, "2001:db8::1");
	ck_assert_uint_eq(info.client_port, 99);
	/* LOCAL: a health check of the balancer's own. */
	len = v2(buf, 0, 0x00, a4, 0, 0);
	parses(buf, len, &info);
	ck_assert_int_eq(info.local, 1);
}
END_TEST

START_TEST(v2_malformed)
{
	static const unsigned char a4[12] = { 192, 0, 2, 7 };
	unsigned char buf[2048];
	struct proxy_info info;
	const char *why;
	size_t len, used;

	len = v2(buf, 1, 0x11, a4, 8, 0);	/* addresses cut short */
	ck_assert_int_eq(proxy_parse(buf, len, &info, &used, &why),
	    PROXY_ERROR);
	ck_assert_str_eq(why, "PROXY v2 header shorter than its addresses");
	len = v2(buf, 2, 0x11, a4, sizeof(a4), 0);
	ck_assert_int_eq(proxy_parse(buf, len, &info, &used, &why),
	    PROXY_ERROR);
	ck_assert_str_eq(why, "PROXY v2 header with an unknown command");
	len = v2(buf, 1, 0x31, a4, sizeof(a4), 0);	/* AF_UNIX */
	ck_assert_int_eq(proxy_parse(buf, len, &info, &used, &why),
	    PROXY_ERROR);
	len = v2(buf, 1, 0x11, a4, sizeof(a4), 0);
	buf[12] = 0x11;				/* version 1 in v2 form */
	ck_assert_int_eq(proxy_parse(buf, len, &info, &used, &why),
	    PROXY_ERROR);
	len = v2(buf, 1, 0x11, a4, sizeof(a4), PROXY_HEADER_MAX);
	ck_assert_int_eq(proxy_parse(buf, 16, &info, &used, &why),
	    PROXY_ERROR);
	ck_assert_str_eq(why, "PROXY v2 header too long");
	/* The longest one taken, and one byte more. */
	len = v2(buf, 1, 0x11, a4, sizeof(a4), PROXY_HEADER_MAX - 16 - 12);
	ck_assert_int_eq(proxy_parse(buf, len, &info, &used, &why), PROXY_OK);
	ck_assert_uint_eq(used, PROXY_HEADER_MAX);
	len = v2(buf, 1, 0x11, a4, sizeof(a4), PROXY_HEADER_MAX - 16 - 11);
	ck_assert_int_eq(proxy_parse(buf, 16, &info, &used, &why),
	    PROXY_ERROR);
	/* A TLV running past the header's end, or cut in its own header. */
	len = v2(buf, 1, 0x11, a4, sizeof(a4), 10);
	buf[16 + 12 + 2] = 8;			/* 3 + 8 > 10 */
	ck_assert_int_eq(proxy_parse(buf, len, &info, &used, &why),
	    PROXY_ERROR);
	ck_assert_str_eq(why, "PROXY v2 header with a malformed TLV");
	len = v2(buf, 1, 0x11, a4, sizeof(a4), 2);
	ck_assert_int_eq(proxy_parse(buf, len, &info, &used, &why),
	    PROXY_ERROR);
	ck_assert_str_eq(why, "PROXY v2 header with a malformed TLV");
	/* Two TLVs that fill the header exactly are fine. */
	len = v2(buf, 1, 0x11, a4, sizeof(a4), 10);
	buf[16 + 12 + 2] = 2;			/* 3 + 2, then 3 + 2 */
	buf[16 + 12 + 5] = 0x04;
	buf[16 + 12 + 7] = 2;
	ck_assert_int_eq(proxy_parse(buf, len, &info, &used, &why), PROXY_OK);
	/* UDP is not SMTP's. */
	len = v2(buf, 1, 0x12, a4, sizeof(a4), 0);
	ck_assert_int_eq(proxy_parse(buf, len, &info, &used, &why),
	    PROXY_ERROR);
	ck_assert_str_eq(why, "PROXY v2 header with an unsupported address "
	    "family");
}
END_TEST

static Suite *
proxy_suite(void)
{
	Suite *s = suite_create("proxy");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, v1_tcp4_and_tcp6);
	tcase_add_test(tc, v1_malformed);
	tcase_add_test(tc, v4_mapped);
	tcase_add_test(tc, v2_forms);
	tcase_add_test(tc, v2_malformed);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(proxy_suite)
