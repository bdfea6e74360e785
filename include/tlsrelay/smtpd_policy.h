/* smtpd_policy: what one smtpd service allows (its restrictions, limits,
 * TLS and AUTH settings), built once from its configuration view. */
#ifndef TLSRELAY_SMTPD_POLICY_H
#define TLSRELAY_SMTPD_POLICY_H

#include <stddef.h>

#include "tlsrelay/smtpd_parse.h"

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

/* The outcome of the restrictions at one point of the dialogue. REJECT
 * and DEFER carry a whole SMTP reply (5xx / 4xx); PENDING: a DNS answer
 * is on its way (smtpd_dnscheck.h): the command's reply waits, and the
 * same point is evaluated again from the start when it has come. */
enum restrict_result {
	RESTRICT_DUNNO, RESTRICT_PERMIT, RESTRICT_REJECT, RESTRICT_DEFER,
	RESTRICT_PENDING,
};

/* Where the session asks (Postfix's smtpd_delay_reject decides which
 * restriction lists run where). */
enum restrict_point {
	RESTRICT_AT_CONNECT, RESTRICT_AT_HELO, RESTRICT_AT_MAIL,
	RESTRICT_AT_RCPT, RESTRICT_AT_DATA, RESTRICT_AT_END_OF_DATA,
};

/* Side actions of an access table (HOLD, DISCARD): they apply to the
 * whole message, whatever else is decided. */
#define RESTRICT_ACTION_HOLD	0x01
#define RESTRICT_ACTION_DISCARD	0x02

struct smtpd_dnscheck;

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
	/* For the log lines of WARN, HOLD and DISCARD, as Postfix's:
	 * "QUEUEID: warn: RCPT from name[addr]: ...; from=<> to=<> proto=
	 * helo=<>". NULL queue_id: NOQUEUE; NULL where: "RCPT". */
	const char *queue_id;
	const char *where;
	const char *protocol;
	/* The client sent commands ahead where it may not (Postfix's
	 * "improper command pipelining"): reject_unauth_pipelining. */
	int improper_pipelining;
	/* The session's DNS memo; NULL: DNS restrictions answer DUNNO. */
	struct smtpd_dnscheck *dnscheck;
};

struct restrict_verdict {
	enum restrict_result result;
	unsigned actions;		/* RESTRICT_ACTION_* met on the way */
	char reply[SMTPD_REPLY_MAX];	/* REJECT, DEFER: the SMTP reply */
};

/* Evaluates the restriction lists that belong to point (with
 * smtpd_delay_reject = yes, client, helo and sender restrictions run at
 * RCPT, before relay and recipient restrictions; with no, at CONNECT,
 * HELO and MAIL). Each list runs on its own: a permit ends that list, a
 * reject or defer ends everything. Returns v->result. */
enum restrict_result smtpd_restrict_check(const struct smtpd_policy *policy,
    enum restrict_point point, const struct restrict_query *query,
    struct restrict_verdict *v);

/* The RCPT-time evaluation (smtpd_delay_reject = yes order) as
 * smtpd_restrict_check, folded to PERMIT or REJECT (a defer is a REJECT
 * with a 4xx reply) for callers that only need the verdict. */
enum restrict_result smtpd_policy_check_rcpt(const struct smtpd_policy *policy,
    const struct restrict_query *query, char *reply, size_t replylen);
/* 1 when addr is in mynetworks. */
int smtpd_policy_in_mynetworks(const struct smtpd_policy *policy,
    const char *addr);
/* 1 when the policy has DNS-based restrictions: sessions then need a
 * struct smtpd_dnscheck. */
int smtpd_policy_uses_dns(const struct smtpd_policy *policy);

#endif
