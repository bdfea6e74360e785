/* The restriction engine: where each list runs (smtpd_delay_reject),
 * Postfix's access(5) lookup order and every table action, restriction
 * classes, the syntax checks and the errors that stop start-up. Tables
 * are inline: so that each case shows its whole table. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/smtpd_policy.h"
#include "testutil.h"

static struct smtpd_policy *policy;

static struct restrict_query
query(const char *client, const char *helo, const char *sender,
    const char *rcpt)
{
	struct restrict_query q;

	memset(&q, 0, sizeof(q));
	q.client_addr = client;
	q.client_name = "unknown";
	q.helo = helo;
	q.sender = sender;
	q.recipient = rcpt;
	q.protocol = "ESMTP";
	return q;
}

/* The RCPT verdict for one sender and recipient, from 192.0.2.1. */
static enum restrict_result
rcpt(const char *sender, const char *recipient, struct restrict_verdict *v)
{
	struct restrict_query q = query("192.0.2.1", "client.test", sender,
	    recipient);

	return smtpd_restrict_check(policy, RESTRICT_AT_RCPT, &q, v);
}

#define RELAY_OK "relay_domains = example.test\n"

START_TEST(delay_reject_yes_runs_everything_at_rcpt)
{
	struct restrict_query q = query("192.0.2.1", "client.test",
	    "a@senders.test", "b@example.test");
	struct restrict_verdict v;

	policy = tu_policy_load(RELAY_OK "smtpd_client_restrictions = reject\n"
	    "smtpd_helo_restrictions = reject\n"
	    "smtpd_sender_restrictions = reject\n");
	ck_assert_int_eq(smtpd_restrict_check(policy, RESTRICT_AT_CONNECT, &q,
	    &v), RESTRICT_DUNNO);
	ck_assert_int_eq(smtpd_restrict_check(policy, RESTRICT_AT_HELO, &q,
	    &v), RESTRICT_DUNNO);
	ck_assert_int_eq(smtpd_restrict_check(policy, RESTRICT_AT_MAIL, &q,
	    &v), RESTRICT_DUNNO);
	ck_assert_int_eq(smtpd_restrict_check(policy, RESTRICT_AT_RCPT, &q,
	    &v), RESTRICT_REJECT);
	/* The client list comes first. */
	ck_assert_str_eq(v.reply, "554 5.7.1 <unknown[192.0.2.1]>: Client "
	    "host rejected: Access denied");
	tu_policy_unload(policy);
}
END_TEST

START_TEST(delay_reject_no_runs_each_list_at_its_command)
{
	struct restrict_query q = query("192.0.2.1", "client.test",
	    "a@senders.test", "b@example.test");
	struct restrict_verdict v;

	policy = tu_policy_load(RELAY_OK "smtpd_delay_reject = no\n"
	    "smtpd_helo_restrictions = reject\n");
	ck_assert_int_eq(smtpd_restrict_check(policy, RESTRICT_AT_CONNECT, &q,
	    &v), RESTRICT_DUNNO);
	ck_assert_int_eq(smtpd_restrict_check(policy, RESTRICT_AT_HELO, &q,
	    &v), RESTRICT_REJECT);
	ck_assert_str_eq(v.reply, "554 5.7.1 <client.test>: Helo command "
	    "rejected: Access denied");
	/* Not again at RCPT. */
	ck_assert_int_eq(smtpd_restrict_check(policy, RESTRICT_AT_RCPT, &q,
	    &v), RESTRICT_DUNNO);
	tu_policy_unload(policy);
}
END_TEST

START_TEST(data_and_end_of_data_points)
{
	struct restrict_query q = query("192.0.2.1", "client.test",
	    "a@senders.test", NULL);
	struct restrict_verdict v;

	policy = tu_policy_load(RELAY_OK "smtpd_data_restrictions = defer\n"
	    "smtpd_end_of_data_restrictions = reject\n");
	ck_assert_int_eq(smtpd_restrict_check(policy, RESTRICT_AT_RCPT, &q,
	    &v), RESTRICT_DUNNO);
	ck_assert_int_eq(smtpd_restrict_check(policy, RESTRICT_AT_DATA, &q,
	    &v), RESTRICT_DEFER);
	ck_assert_str_eq(v.reply, "450 4.7.1 <DATA>: Data command rejected: "
	    "Access denied");
	ck_assert_int_eq(smtpd_restrict_check(policy, RESTRICT_AT_END_OF_DATA,
	    &q, &v), RESTRICT_REJECT);
	ck_assert_str_eq(v.reply, "554 5.7.1 <END-OF-MESSAGE>: End-of-data "
	    "rejected: Access denied");
	tu_policy_unload(policy);
}
END_TEST

START_TEST(address_lookup_order)
{
	struct restrict_verdict v;

	policy = tu_policy_load(RELAY_OK "smtpd_sender_restrictions = "
	    "check_sender_access inline:{ "
	    "{ whole@sub.domain.test = 551 whole } , "
	    "{ sub.domain.test = 552 domain } , "
	    "{ domain.test = 553 parent } , "
	    "{ user@ = 554 localpart } , "
	    "{ stop.domain.test = DUNNO } , "
	    "{ <> = 555 null } }\n");
	ck_assert_int_eq(rcpt("whole@sub.domain.test", "b@example.test", &v),
	    RESTRICT_REJECT);
	ck_assert_str_eq(v.reply, "551 5.7.1 <whole@sub.domain.test>: Sender "
	    "address rejected: whole");
	rcpt("user@sub.domain.test", "b@example.test", &v);
	ck_assert_str_eq(v.reply, "552 5.7.1 <user@sub.domain.test>: Sender "
	    "address rejected: domain");
	rcpt("x@deeper.sub2.domain.test", "b@example.test", &v);
	ck_assert_str_eq(v.reply, "553 5.7.1 <x@deeper.sub2.domain.test>: "
	    "Sender address rejected: parent");
	rcpt("user@other.test", "b@example.test", &v);
	ck_assert_str_eq(v.reply, "554 5.7.1 <user@other.test>: Sender "
	    "address rejected: localpart");
	rcpt("", "b@example.test", &v);
	ck_assert_str_eq(v.reply, "555 5.7.1 <>: Sender address rejected: "
	    "null");
	/* DUNNO is found: the parent's entry is not looked at. */
	ck_assert_int_eq(rcpt("user2@stop.domain.test", "b@example.test", &v),
	    RESTRICT_DUNNO);
	ck_assert_int_eq(rcpt("x@unlisted.test", "b@example.test", &v),
	    RESTRICT_DUNNO);
	tu_policy_unload(policy);
}
END_TEST

START_TEST(dot_domains_without_parent_matching)
{
	struct restrict_verdict v;

	policy = tu_policy_load(RELAY_OK
	    "parent_domain_matches_subdomains = relay_domains\n"
	    "smtpd_sender_restrictions = check_sender_access inline:{ "
	    "{ exact.test = REJECT } , { .subs.test = REJECT } }\n");
	ck_assert_int_eq(rcpt("a@exact.test", "b@example.test", &v),
	    RESTRICT_REJECT);
	ck_assert_int_eq(rcpt("a@x.exact.test", "b@example.test", &v),
	    RESTRICT_DUNNO);
	ck_assert_int_eq(rcpt("a@subs.test", "b@example.test", &v),
	    RESTRICT_DUNNO);
	ck_assert_int_eq(rcpt("a@x.y.subs.test", "b@example.test", &v),
	    RESTRICT_REJECT);
	tu_policy_unload(policy);
}
END_TEST

START_TEST(client_lookup_order)
{
	struct restrict_query q;
	struct restrict_verdict v;

	policy = tu_policy_load(RELAY_OK "smtpd_client_restrictions = "
	    "check_client_access inline:{ "
	    "{ mail.example.org = 551 name } , { example.net = 552 parent } , "
	    "{ 198.51.100.7 = 553 address } , { 198.51 = 554 network } , "
	    "{ 2001:db8:1 = 555 v6 network } }\n");
	q = query("198.51.100.7", "mail.example.org", "a@b.test",
	    "b@example.test");
	q.client_name = "mail.example.org";
	smtpd_restrict_check(policy, RESTRICT_AT_RCPT, &q, &v);
	ck_assert_str_eq(v.reply, "551 5.7.1 <mail.example.org[198.51.100.7]>: "
	    "Client host rejected: name");
	q.client_name = "mx.sub.example.net";
	smtpd_restrict_check(policy, RESTRICT_AT_RCPT, &q, &v);
	ck_assert_str_eq(v.reply, "552 5.7.1 <mx.sub.example.net"
	    "[198.51.100.7]>: Client host rejected: parent");
	q.client_name = "unknown";
	smtpd_restrict_check(policy, RESTRICT_AT_RCPT, &q, &v);
	ck_assert_str_eq(v.reply, "553 5.7.1 <unknown[198.51.100.7]>: Client "
	    "host rejected: address");
	q.client_addr = "198.51.7.9";
	smtpd_restrict_check(policy, RESTRICT_AT_RCPT, &q, &v);
	ck_assert_str_eq(v.reply, "554 5.7.1 <unknown[198.51.7.9]>: Client "
	    "host rejected: network");
	q.client_addr = "2001:db8:1:2::5";
	smtpd_restrict_check(policy, RESTRICT_AT_RCPT, &q, &v);
	ck_assert_str_eq(v.reply, "555 5.7.1 <unknown[2001:db8:1:2::5]>: "
	    "Client host rejected: v6 network");
	q.client_addr = "203.0.113.1";
	ck_assert_int_eq(smtpd_restrict_check(policy, RESTRICT_AT_RCPT, &q,
	    &v), RESTRICT_DUNNO);
	tu_policy_unload(policy);
}
END_TEST

START_TEST(table_actions)
{
	struct restrict_verdict v;

	policy = tu_policy_load(RELAY_OK
	    "access_map_reject_code = 550\naccess_map_defer_code = 451\n"
	    "smtpd_sender_restrictions = check_sender_access inline:{ "
	    "{ ok@s.test = OK } , { permit@s.test = PERMIT } , "
	    "{ reject@s.test = REJECT } , { text@s.test = REJECT No way } , "
	    "{ defer@s.test = DEFER } , { dsn@s.test = DEFER 4.2.0 Full } , "
	    "{ hold@s.test = HOLD } , { discard@s.test = DISCARD } , "
	    "{ warn@s.test = WARN careful } , "
	    "{ dip@s.test = DEFER_IF_PERMIT } , "
	    "{ filter@s.test = FILTER smtp:[192.0.2.9] } } , reject\n");
	ck_assert_int_eq(rcpt("ok@s.test", "b@example.test", &v),
	    RESTRICT_DUNNO);	/* the list permits; nothing else decides */
	ck_assert_int_eq(rcpt("permit@s.test", "b@example.test", &v),
	    RESTRICT_DUNNO);
	ck_assert_int_eq(rcpt("reject@s.test", "b@example.test", &v),
	    RESTRICT_REJECT);
	ck_assert_str_eq(v.reply, "550 5.7.1 <reject@s.test>: Sender address "
	    "rejected: Access denied");
	rcpt("text@s.test", "b@example.test", &v);
	ck_assert_str_eq(v.reply, "550 5.7.1 <text@s.test>: Sender address "
	    "rejected: No way");
	ck_assert_int_eq(rcpt("defer@s.test", "b@example.test", &v),
	    RESTRICT_DEFER);
	ck_assert_str_eq(v.reply, "451 4.7.1 <defer@s.test>: Sender address "
	    "rejected: Access denied");
	rcpt("dsn@s.test", "b@example.test", &v);
	ck_assert_str_eq(v.reply, "451 4.2.0 <dsn@s.test>: Sender address "
	    "rejected: Full");
	/* HOLD and WARN go on to the next restriction (reject here). */
	ck_assert_int_eq(rcpt("hold@s.test", "b@example.test", &v),
	    RESTRICT_REJECT);
	ck_assert_int_eq(rcpt("warn@s.test", "b@example.test", &v),
	    RESTRICT_REJECT);
	/* DISCARD accepts. */
	ck_assert_int_eq(rcpt("discard@s.test", "b@example.test", &v),
	    RESTRICT_DUNNO);
	ck_assert_uint_eq(v.actions, RESTRICT_ACTION_DISCARD);
	ck_assert_int_eq(rcpt("dip@s.test", "b@example.test", &v),
	    RESTRICT_REJECT);	/* DEFER_IF_PERMIT, then reject: reject */
	/* An action tlsrelay does not have: a server configuration error,
	 * never a silent pass. */
	ck_assert_int_eq(rcpt("filter@s.test", "b@example.test", &v),
	    RESTRICT_DEFER);
	ck_assert_str_eq(v.reply, "451 4.3.5 Server configuration error");
	tu_policy_unload(policy);
}
END_TEST

START_TEST(hold_and_defer_if_permit)
{
	struct restrict_verdict v;

	policy = tu_policy_load(RELAY_OK
	    "smtpd_sender_restrictions = check_sender_access inline:{ "
	    "{ hold@s.test = HOLD } , { dip@s.test = DEFER_IF_PERMIT Later } , "
	    "{ dir@s.test = DEFER_IF_REJECT } }\n"
	    "smtpd_recipient_restrictions = check_recipient_access inline:{ "
	    "{ no@example.test = REJECT } }\n");
	ck_assert_int_eq(rcpt("hold@s.test", "b@example.test", &v),
	    RESTRICT_DUNNO);
	ck_assert_uint_eq(v.actions, RESTRICT_ACTION_HOLD);
	ck_assert_int_eq(rcpt("dip@s.test", "b@example.test", &v),
	    RESTRICT_DEFER);
	ck_assert_str_eq(v.reply, "450 4.7.1 <dip@s.test>: Sender address "
	    "rejected: Later");
	ck_assert_int_eq(rcpt("dir@s.test", "b@example.test", &v),
	    RESTRICT_DUNNO);
	ck_assert_int_eq(rcpt("dir@s.test", "no@example.test", &v),
	    RESTRICT_DEFER);
	ck_assert_str_eq(v.reply, "450 4.7.1 <dir@s.test>: Sender address "
	    "rejected: Service unavailable");
	ck_assert_int_eq(rcpt("x@s.test", "no@example.test", &v),
	    RESTRICT_REJECT);
	tu_policy_unload(policy);
}
END_TEST

START_TEST(classes)
{
	struct restrict_verdict v;

	policy = tu_policy_load(RELAY_OK
	    "smtpd_restriction_classes = strict, loop\n"
	    "strict = reject_non_fqdn_sender, reject\n"
	    "loop = loop\n"
	    "smtpd_recipient_restrictions = check_recipient_access inline:{ "
	    "{ vip@example.test = strict } , { l@example.test = loop } , "
	    "{ list@example.test = reject_non_fqdn_sender, permit } }\n");
	rcpt("a@nodot", "vip@example.test", &v);
	ck_assert_str_eq(v.reply, "504 5.5.2 <a@nodot>: Sender address "
	    "rejected: need fully-qualified address");
	rcpt("a@b.test", "vip@example.test", &v);
	ck_assert_str_eq(v.reply, "554 5.7.1 <vip@example.test>: Recipient "
	    "address rejected: Access denied");
	ck_assert_int_eq(rcpt("a@b.test", "list@example.test", &v),
	    RESTRICT_PERMIT);
	ck_assert_int_eq(rcpt("a@b.test", "l@example.test", &v),
	    RESTRICT_DEFER);
	ck_assert_str_eq(v.reply, "451 4.3.5 Server configuration error");
	tu_policy_unload(policy);
}
END_TEST

START_TEST(helo_and_address_syntax)
{
	struct restrict_query q = query("192.0.2.1", NULL, "a@b.test",
	    "b@example.test");
	struct restrict_verdict v;
	const char *invalid[] = { "bad_host!", "a..b", "-x.test", "x-.test",
	    "123" };
	const char *valid[] = { "client.test", "[192.0.2.1]",
	    "[IPv6:2001:db8::1]", "192.0.2.1", "mx_1.test.", "a-b.test" };

	policy = tu_policy_load(RELAY_OK "smtpd_helo_restrictions = "
	    "reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname\n");
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		q.helo = invalid[i];
		ck_assert_msg(smtpd_restrict_check(policy, RESTRICT_AT_RCPT, &q,
		    &v) == RESTRICT_REJECT, "%s", invalid[i]);
		ck_assert_msg(strncmp(v.reply, "501 5.5.2 <", 11) == 0, "%s",
		    v.reply);
	}
	for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		q.helo = valid[i];
		ck_assert_msg(smtpd_restrict_check(policy, RESTRICT_AT_RCPT, &q,
		    &v) == RESTRICT_DUNNO, "%s: %s", valid[i], v.reply);
	}
	q.helo = "localhost";
	smtpd_restrict_check(policy, RESTRICT_AT_RCPT, &q, &v);
	ck_assert_str_eq(v.reply, "504 5.5.2 <localhost>: Helo command "
	    "rejected: need fully-qualified hostname");
	q.helo = NULL;		/* no HELO: nothing to check */
	ck_assert_int_eq(smtpd_restrict_check(policy, RESTRICT_AT_RCPT, &q,
	    &v), RESTRICT_DUNNO);
	tu_policy_unload(policy);
}
END_TEST

START_TEST(reply_class_follows_code)
{
	struct restrict_verdict v;

	policy = tu_policy_load(RELAY_OK "non_fqdn_reject_code = 450\n"
	    "access_map_reject_code = 450\n"
	    "smtpd_sender_restrictions = reject_non_fqdn_sender, "
	    "check_sender_access inline:{ x@s.test=REJECT }\n");
	ck_assert_int_eq(rcpt("a@nodot", "b@example.test", &v),
	    RESTRICT_DEFER);
	ck_assert_str_eq(v.reply, "450 4.5.2 <a@nodot>: Sender address "
	    "rejected: need fully-qualified address");
	rcpt("a@bad_name!.test", "b@example.test", &v);
	ck_assert_str_eq(v.reply, "450 4.5.2 <a@bad_name!.test>: Sender "
	    "address rejected: need fully-qualified address");
	rcpt("x@s.test", "b@example.test", &v);
	ck_assert_str_eq(v.reply, "450 4.7.1 <x@s.test>: Sender address "
	    "rejected: Access denied");
	tu_policy_unload(policy);
}
END_TEST

START_TEST(unauth_pipelining)
{
	struct restrict_query q = query("192.0.2.1", "c.test", "a@b.test",
	    "b@example.test");
	struct restrict_verdict v;

	policy = tu_policy_load(RELAY_OK
	    "smtpd_data_restrictions = reject_unauth_pipelining\n");
	ck_assert_int_eq(smtpd_restrict_check(policy, RESTRICT_AT_DATA, &q,
	    &v), RESTRICT_DUNNO);
	q.improper_pipelining = 1;
	ck_assert_int_eq(smtpd_restrict_check(policy, RESTRICT_AT_DATA, &q,
	    &v), RESTRICT_REJECT);
	ck_assert_str_eq(v.reply, "503 5.5.0 <DATA>: Data command rejected: "
	    "Improper use of SMTP command pipelining");
	tu_policy_unload(policy);
}
END_TEST

/* Start-up refuses main_cf with an error that begins with want. */
static void
refused(const char *main_cf, const char *want)
{
	char *err = NULL;
	struct conf *c = conf_load_strings(main_cf, "/etc/x/main.cf", NULL,
	    "master.cf", &err);

	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_null(smtpd_policy_new(c, &err));
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
	free(err);
	conf_free(c);
}

START_TEST(start_errors)
{
	refused("smtpd_sender_restrictions = reject_unverified_sender\n",
	    "/etc/x/main.cf:1: smtpd_sender_restrictions: unknown or "
	    "unsupported restriction: reject_unverified_sender");
	refused("\nsmtpd_client_restrictions = check_client_access\n",
	    "/etc/x/main.cf:2: smtpd_client_restrictions: restriction "
	    "check_client_access needs an argument");
	refused("smtpd_restriction_classes = nosuch\n",
	    "/etc/x/main.cf:1: smtpd_restriction_classes: class nosuch is not "
	    "defined");
	refused("smtpd_helo_restrictions = check_helo_access bogus:/x\n",
	    "/etc/x/main.cf:1: smtpd_helo_restrictions: check_helo_access "
	    "bogus:/x: ");
}
END_TEST

static Suite *
restrict_suite(void)
{
	Suite *s = suite_create("smtpd_restrict");
	TCase *tc = tcase_create("engine");

	tcase_add_test(tc, delay_reject_yes_runs_everything_at_rcpt);
	tcase_add_test(tc, delay_reject_no_runs_each_list_at_its_command);
	tcase_add_test(tc, data_and_end_of_data_points);
	tcase_add_test(tc, address_lookup_order);
	tcase_add_test(tc, dot_domains_without_parent_matching);
	tcase_add_test(tc, client_lookup_order);
	tcase_add_test(tc, table_actions);
	tcase_add_test(tc, hold_and_defer_if_permit);
	tcase_add_test(tc, classes);
	tcase_add_test(tc, helo_and_address_syntax);
	tcase_add_test(tc, reply_class_follows_code);
	tcase_add_test(tc, unauth_pipelining);
	tcase_add_test(tc, start_errors);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(restrict_suite)
