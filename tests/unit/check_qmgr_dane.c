/* The queue manager's DANE verdict of one MX host (qmgr_dane_decide):
 * Postfix's rules for dane and dane-only on every kind of TLSA answer. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "tlsrelay/dns.h"
#include "tlsrelay/qmgr.h"
#include "tlsrelay/tls.h"
#include "tlsrelay/tls_client.h"
#include "testutil.h"

#define HOST	"mx.test"
#define QNAME	"_25._tcp.mx.test"

static unsigned char digest[32];

static struct dns_tlsa
rec(unsigned usage, unsigned selector, unsigned mtype, size_t len)
{
	struct dns_tlsa r;

	r.usage = (unsigned char)usage;
	r.selector = (unsigned char)selector;
	r.mtype = (unsigned char)mtype;
	r.data = digest;
	r.len = len;
	return r;
}

/* Both levels on one answer; each verdict checked, then freed. */
static void
decide(int insecure, enum dns_status status, int secure,
    const struct dns_tlsa *recs, size_t n, const char *why,
    struct qmgr_dane_verdict *dane, struct qmgr_dane_verdict *only)
{
	enum qmgr_dane_trust trust = insecure ? QMGR_DANE_INSECURE :
	    QMGR_DANE_SECURE;

	qmgr_dane_decide(dane, TLS_LEV_DANE, QMGR_INSECURE_MX_DANE, HOST,
	    QNAME, "example.test", trust, status, secure, recs, n, why, 1);
	qmgr_dane_decide(only, TLS_LEV_DANE_ONLY, QMGR_INSECURE_MX_DANE, HOST,
	    QNAME, "example.test", trust, status, secure, recs, n, why, 1);
}

static void
assert_may(const struct qmgr_dane_verdict *v)
{
	ck_assert_ptr_null(v->tlsa);
	ck_assert_int_eq(v->encrypt, 0);
	ck_assert_ptr_null(v->defer);
}

START_TEST(secure_usable_records_authenticate)
{
	struct dns_tlsa r[2] = { rec(3, 1, 1, 32), rec(1, 1, 1, 32) };
	struct qmgr_dane_verdict dane, only;

	decide(0, DNS_OK, 1, r, 2, NULL, &dane, &only);
	ck_assert_ptr_nonnull(dane.tlsa);
	ck_assert_uint_eq(tls_dane_usable(dane.tlsa), 1);
	ck_assert_ptr_null(dane.defer);
	ck_assert_ptr_nonnull(only.tlsa);
	ck_assert_ptr_null(only.defer);
	qmgr_dane_verdict_clear(&dane);
	qmgr_dane_verdict_clear(&only);
	ck_assert_ptr_null(dane.tlsa);
}
END_TEST

START_TEST(secure_unusable_records_encrypt)
{
	/* PKIX-EE, and a SHA-256 of the wrong length. */
	struct dns_tlsa r[2] = { rec(1, 1, 1, 32), rec(3, 1, 1, 31) };
	struct qmgr_dane_verdict dane, only;

	decide(0, DNS_OK, 1, r, 2, NULL, &dane, &only);
	ck_assert_ptr_null(dane.tlsa);
	ck_assert_int_eq(dane.encrypt, 1);
	ck_assert_ptr_null(dane.defer);
	ck_assert_ptr_null(only.tlsa);
	ck_assert_str_eq(only.defer, "all TLSA records of " QNAME
	    " are unusable");
	qmgr_dane_verdict_clear(&dane);
	qmgr_dane_verdict_clear(&only);
}
END_TEST

START_TEST(insecure_answers_mean_may)
{
	struct dns_tlsa r = rec(3, 1, 1, 32);
	struct qmgr_dane_verdict dane, only;

	/* Records from an insecure zone. */
	decide(0, DNS_OK, 0, &r, 1, NULL, &dane, &only);
	assert_may(&dane);
	ck_assert_str_eq(only.defer, "TLSA records of " QNAME " are not "
	    "DNSSEC-validated; dane-only needs them");
	qmgr_dane_verdict_clear(&only);
	/* An insecure MX host: no lookup, the answer is not read. */
	decide(1, DNS_OK, 1, &r, 1, NULL, &dane, &only);
	assert_may(&dane);
	ck_assert_str_eq(only.defer, HOST " is not a DNSSEC-validated MX "
	    "host; dane-only needs one");
	qmgr_dane_verdict_clear(&only);
}
END_TEST

START_TEST(denials_mean_may)
{
	struct qmgr_dane_verdict dane, only;

	decide(0, DNS_NOTFOUND, 1, NULL, 0, NULL, &dane, &only);
	assert_may(&dane);
	ck_assert_str_eq(only.defer, "no TLSA records found for " QNAME);
	qmgr_dane_verdict_clear(&only);
	decide(0, DNS_NOTFOUND, 0, NULL, 0, NULL, &dane, &only);
	assert_may(&dane);
	ck_assert_str_eq(only.defer, "no DNSSEC-validated TLSA records "
	    "found for " QNAME);
	qmgr_dane_verdict_clear(&only);
}
END_TEST

START_TEST(lookup_failure_defers_both)
{
	const char *why = "TLSA lookup error for " QNAME ": SERVFAIL";
	struct qmgr_dane_verdict dane, only;

	decide(0, DNS_TEMPFAIL, 0, NULL, 0, why, &dane, &only);
	ck_assert_str_eq(dane.defer, why);
	ck_assert_str_eq(only.defer, why);
	ck_assert_ptr_null(dane.tlsa);
	qmgr_dane_verdict_clear(&dane);
	qmgr_dane_verdict_clear(&only);
}
END_TEST

/* Secure addresses through an insecure MX answer, at dane
 * (smtp_tls_dane_insecure_mx_policy): dane uses the records, encrypt
 * makes them a demand for TLS; the trust of a target says which case. */
START_TEST(insecure_mx_policy)
{
	struct dns_tlsa r = rec(3, 1, 1, 32);
	struct qmgr_dane_verdict v;
	struct dns_target t;

	qmgr_dane_decide(&v, TLS_LEV_DANE, QMGR_INSECURE_MX_DANE, HOST, QNAME,
	    "example.test", QMGR_DANE_INSECURE_MX, DNS_OK, 1, &r, 1, NULL, 1);
	ck_assert_ptr_nonnull(v.tlsa);
	ck_assert_ptr_null(v.defer);
	qmgr_dane_verdict_clear(&v);
	qmgr_dane_decide(&v, TLS_LEV_DANE, QMGR_INSECURE_MX_ENCRYPT, HOST,
	    QNAME, "example.test", QMGR_DANE_INSECURE_MX, DNS_OK, 1, &r, 1,
	    NULL, 1);
	ck_assert_ptr_null(v.tlsa);
	ck_assert_int_eq(v.encrypt, 1);
	ck_assert_ptr_null(v.defer);
	qmgr_dane_verdict_clear(&v);

	memset(&t, 0, sizeof(t));
	t.addr_dnssec_valid = 1;
	ck_assert_int_eq(qmgr_dane_trust(&t, TLS_LEV_DANE,
	    QMGR_INSECURE_MX_DANE), QMGR_DANE_INSECURE_MX);
	ck_assert_int_eq(qmgr_dane_trust(&t, TLS_LEV_DANE,
	    QMGR_INSECURE_MX_MAY), QMGR_DANE_INSECURE);
	ck_assert_int_eq(qmgr_dane_trust(&t, TLS_LEV_DANE_ONLY,
	    QMGR_INSECURE_MX_DANE), QMGR_DANE_INSECURE);
	t.dnssec_valid = 1;
	ck_assert_int_eq(qmgr_dane_trust(&t, TLS_LEV_DANE_ONLY,
	    QMGR_INSECURE_MX_MAY), QMGR_DANE_SECURE);
	t.dnssec_valid = t.addr_dnssec_valid = 0;
	ck_assert_int_eq(qmgr_dane_trust(&t, TLS_LEV_DANE,
	    QMGR_INSECURE_MX_DANE), QMGR_DANE_INSECURE);
}
END_TEST

static Suite *
qmgr_dane_suite(void)
{
	Suite *s = suite_create("qmgr_dane");
	TCase *tc = tcase_create("decide");

	tcase_add_test(tc, secure_usable_records_authenticate);
	tcase_add_test(tc, secure_unusable_records_encrypt);
	tcase_add_test(tc, insecure_answers_mean_may);
	tcase_add_test(tc, denials_mean_may);
	tcase_add_test(tc, lookup_failure_defers_both);
	tcase_add_test(tc, insecure_mx_policy);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(qmgr_dane_suite)
