/* smtpd_policy: what one smtpd service allows (its restrictions, limits,
 * TLS and AUTH settings), built once from its configuration view. */
#ifndef TLSRELAY_SMTPD_POLICY_H
#define TLSRELAY_SMTPD_POLICY_H

/* ---- per-service policy (src/smtpd/smtpd_policy.c) ---- */

struct conf;

/* Everything a session needs from its service's conf, parsed and checked
 * once before the workers start: limits, mynetworks, relay_domains, the
 * restriction lists. */
struct smtpd_policy;

/* Returns NULL with *err naming the parameter (and its file:line) when a
 * value is invalid, a restriction is unknown, or the restrictions would
 * make an open relay (no reject_unauth_destination, defer_unauth_destination,
 * reject or defer in smtpd_relay_restrictions or
 * smtpd_recipient_restrictions, as Postfix requires). */
struct smtpd_policy *smtpd_policy_new(const struct conf *conf, char **err);
void smtpd_policy_free(struct smtpd_policy *policy);

enum restrict_result { RESTRICT_DUNNO, RESTRICT_PERMIT, RESTRICT_REJECT };

/* What the restrictions may look at. */
struct restrict_query {
	const char *client_addr;	/* text form */
	const char *client_name;
	const char *helo;		/* may be NULL */
	const char *sender;		/* may be NULL */
	const char *recipient;		/* may be NULL */
	int sasl_authenticated;
	const char *sasl_username;	/* the login name, NULL when none */
	int tls_client_trusted;
	/* Fingerprints of the client certificate (smtpd_tls_fingerprint_digest,
	 * "AB:CD:..."), NULL without one: permit_tls_clientcerts. */
	const char *ccert_fingerprint;
	const char *ccert_pkey_fingerprint;
};

/* Evaluates smtpd_client_, helo_, sender_, relay_ and recipient_
 * restrictions in that order for one RCPT (smtpd_delay_reject). On
 * RESTRICT_REJECT, reply gets the full SMTP reply, e.g. "554 5.7.1 <x@y>:
 * Relay access denied". */
enum restrict_result smtpd_policy_check_rcpt(const struct smtpd_policy *policy,
    const struct restrict_query *query, char *reply, size_t replylen);
/* 1 when addr is in mynetworks. */
int smtpd_policy_in_mynetworks(const struct smtpd_policy *policy,
    const char *addr);

#endif
