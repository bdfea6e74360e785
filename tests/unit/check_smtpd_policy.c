/* Restriction lists: Postfix's relay rules and the open-relay guard. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/smtpd_policy.h"
#include "testutil.h"

static struct smtpd_policy *policy;

static enum restrict_result
check(const char *client, const char *rcpt, char *reply, size_t len)
{
	struct restrict_query q;

	memset(&q, 0, sizeof(q));
	q.client_addr = client;
	q.client_name = "unknown";
	q.helo = "client.test";
	q.sender = "sender@example.org";
	q.recipient = rcpt;
	reply[0] = '\0';
	return smtpd_policy_check_rcpt(policy, &q, reply, len);
}

START_TEST(default_defers_unauthorized_relay)
{
	char reply[512];

	policy = tu_policy_load(
	    "mynetworks = 127.0.0.1/32\nmyhostname = relay.test\n");
	ck_assert_int_eq(check("127.0.0.1", "x@elsewhere.test", reply,
	    sizeof(reply)), RESTRICT_PERMIT);
	ck_assert_int_eq(check("127.0.0.2", "x@elsewhere.test", reply,
	    sizeof(reply)), RESTRICT_REJECT);
	ck_assert_str_eq(reply, "454 4.7.1 <x@elsewhere.test>: Relay access "
	    "denied");
	tu_policy_unload(policy);
}
END_TEST

START_TEST(reject_unauth_destination_554)
{
	char reply[512];

	policy = tu_policy_load("mynetworks = 127.0.0.1/32\n"
	    "smtpd_relay_restrictions = permit_mynetworks, "
	    "reject_unauth_destination\n");
	ck_assert_int_eq(check("127.0.0.2", "x@elsewhere.test", reply,
	    sizeof(reply)), RESTRICT_REJECT);
	ck_assert_str_eq(reply, "554 5.7.1 <x@elsewhere.test>: Relay access "
	    "denied");
	/* An address literal or a bare local part is never a relay domain. */
	ck_assert_int_eq(check("127.0.0.2", "x@[127.0.0.1]", reply,
	    sizeof(reply)), RESTRICT_REJECT);
	ck_assert_int_eq(check("127.0.0.2", "postmaster", reply,
	    sizeof(reply)), RESTRICT_REJECT);
	tu_policy_unload(policy);
}
END_TEST

START_TEST(relay_domains_and_subdomains)
{
	char reply[512];

	policy = tu_policy_load(
	    "mynetworks = 127.0.0.1/32\nrelay_domains = example.com\n"
	    "smtpd_relay_restrictions = permit_mynetworks, "
	    "reject_unauth_destination\n");
	ck_assert_int_eq(check("127.0.0.2", "a@example.com", reply,
	    sizeof(reply)), RESTRICT_PERMIT);
	ck_assert_int_eq(check("127.0.0.2", "a@Sub.Example.COM", reply,
	    sizeof(reply)), RESTRICT_PERMIT);
	ck_assert_int_eq(check("127.0.0.2", "a@notexample.com", reply,
	    sizeof(reply)), RESTRICT_REJECT);
	tu_policy_unload(policy);
	/* Without relay_domains in parent_domain_matches_subdomains, only the
	 * domain itself matches. */
	policy = tu_policy_load(
	    "mynetworks = 127.0.0.1/32\nrelay_domains = example.com\n"
	    "parent_domain_matches_subdomains = mynetworks\n"
	    "smtpd_relay_restrictions = reject_unauth_destination\n");
	ck_assert_int_eq(check("127.0.0.2", "a@example.com", reply,
	    sizeof(reply)), RESTRICT_PERMIT);
	ck_assert_int_eq(check("127.0.0.2", "a@sub.example.com", reply,
	    sizeof(reply)), RESTRICT_REJECT);
	tu_policy_unload(policy);
}
END_TEST

START_TEST(recipient_restrictions_decide_when_relay_empty)
{
	char reply[512];

	policy = tu_policy_load(
	    "mynetworks = 127.0.0.1/32\nsmtpd_relay_restrictions =\n"
	    "smtpd_recipient_restrictions = permit_mynetworks, "
	    "reject_unauth_destination\n");
	ck_assert_int_eq(check("127.0.0.1", "x@elsewhere.test", reply,
	    sizeof(reply)), RESTRICT_PERMIT);
	ck_assert_int_eq(check("127.0.0.2", "x@elsewhere.test", reply,
	    sizeof(reply)), RESTRICT_REJECT);
	ck_assert_str_eq(reply, "554 5.7.1 <x@elsewhere.test>: Relay access "
	    "denied");
	tu_policy_unload(policy);
}
END_TEST

START_TEST(permit_in_one_list_does_not_skip_the_next)
{
	char reply[512];

	policy = tu_policy_load("mynetworks = 127.0.0.1/32\n"
	    "smtpd_client_restrictions = permit\n"
	    "smtpd_relay_restrictions = reject_unauth_destination\n");
	ck_assert_int_eq(check("127.0.0.1", "x@elsewhere.test", reply,
	    sizeof(reply)), RESTRICT_REJECT);
	tu_policy_unload(policy);
}
END_TEST

START_TEST(client_reject_names_the_client)
{
	char reply[512];

	policy = tu_policy_load(
	    "smtpd_client_restrictions = permit_mynetworks, reject\n"
	    "mynetworks = 127.0.0.1/32\n");
	ck_assert_int_eq(check("127.0.0.9", "x@elsewhere.test", reply,
	    sizeof(reply)), RESTRICT_REJECT);
	ck_assert_str_eq(reply, "554 5.7.1 <unknown[127.0.0.9]>: Client host "
	    "rejected: Access denied");
	tu_policy_unload(policy);
}
END_TEST

START_TEST(open_relay_configuration_refused)
{
	char *err = NULL;
	struct conf *c = conf_load_strings("smtpd_relay_restrictions = "
	    "permit\nsmtpd_recipient_restrictions = permit_mynetworks\n",
	    "main.cf", NULL, "master.cf", &err);

	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_null(smtpd_policy_new(c, &err));
	ck_assert_ptr_nonnull(strstr(err, "reject_unauth_destination"));
	free(err);
	conf_free(c);
}
END_TEST

START_TEST(unknown_restriction_refused_with_origin)
{
	char *err = NULL;
	struct conf *c = conf_load_strings("\nsmtpd_relay_restrictions = "
	    "permit_mynetworks, reject_bogus\n", "/etc/x/main.cf", NULL,
	    "master.cf", &err);

	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_null(smtpd_policy_new(c, &err));
	ck_assert_str_eq(err, "/etc/x/main.cf:2: smtpd_relay_restrictions: "
	    "unknown or unsupported restriction: reject_bogus");
	free(err);
	conf_free(c);
}
END_TEST

START_TEST(mynetworks_membership)
{
	policy = tu_policy_load("mynetworks = 127.0.0.0/8 [::1]/128\n");
	ck_assert(smtpd_policy_in_mynetworks(policy, "127.1.2.3"));
	ck_assert(smtpd_policy_in_mynetworks(policy, "::1"));
	ck_assert(!smtpd_policy_in_mynetworks(policy, "10.0.0.1"));
	tu_policy_unload(policy);
}
END_TEST

static Suite *
policy_suite(void)
{
	Suite *s = suite_create("smtpd_policy");
	TCase *tc = tcase_create("restrictions");

	tcase_add_test(tc, default_defers_unauthorized_relay);
	tcase_add_test(tc, reject_unauth_destination_554);
	tcase_add_test(tc, relay_domains_and_subdomains);
	tcase_add_test(tc, recipient_restrictions_decide_when_relay_empty);
	tcase_add_test(tc, permit_in_one_list_does_not_skip_the_next);
	tcase_add_test(tc, client_reject_names_the_client);
	tcase_add_test(tc, open_relay_configuration_refused);
	tcase_add_test(tc, unknown_restriction_refused_with_origin);
	tcase_add_test(tc, mynetworks_membership);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(policy_suite)
