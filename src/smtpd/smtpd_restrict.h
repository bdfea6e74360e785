/* Internal to smtpd: the restriction engine. A restriction list (one per
 * smtpd_*_restrictions parameter, one per smtpd_restriction_classes
 * class) is parsed once when the policy is built; each word becomes an
 * item that points at its entry in the name table (smtpd_restrict_parse.c)
 * and, for check_*_access, at its opened table. Evaluating an item calls
 * its function with a context that says what is being checked (the
 * "reply name" and "reply class" of Postfix's replies) and collects the
 * outcome.
 *
 * The functions live by purpose: smtpd_restrict_basic.c (permit, reject,
 * mynetworks, SASL, client certificates, relay, sender login, the syntax
 * checks), smtpd_restrict_access.c (check_*_access and the table
 * actions), smtpd_restrict_dns.c (the DNS-based ones, through
 * smtpd_dnscheck.h). */
#ifndef TLSRELAY_SMTPD_RESTRICT_H
#define TLSRELAY_SMTPD_RESTRICT_H

#include <stddef.h>

#include "tlsrelay/smtpd_parse.h"
#include "tlsrelay/smtpd_policy.h"
#include "tlsrelay/util.h"

struct conf;
struct smtpd_table;
struct restrict_ctx;
struct restrict_item;
struct restrict_class;

typedef enum restrict_result restrict_fn(struct restrict_ctx *ctx,
    const struct restrict_item *item);

/* What an entry of the name table needs and promises. */
#define RDEF_ARG		0x01	/* takes the next word */
#define RDEF_TABLE		0x02	/* ... a type:table, opened */
#define RDEF_LIMITS_RELAY	0x04	/* counts as relay protection */
#define RDEF_LOGIN_MAPS		0x08	/* smtpd_sender_login_maps */
#define RDEF_DNS		0x10	/* sessions need a dnscheck */

struct restrict_def {
	const char *name;
	restrict_fn *fn;
	unsigned flags;
};

struct restrict_item {
	const struct restrict_def *def;	/* NULL: a restriction class */
	char *arg;			/* the argument word (RDEF_ARG) */
	struct smtpd_table *table;	/* RDEF_TABLE */
	const struct restrict_class *class;
};

struct restrict_list {
	struct restrict_item *items;
	size_t n;
	unsigned flags;			/* RDEF_* of every item, or'ed */
	const char *login_maps;		/* first item that needs them */
};

struct restrict_class {
	char *name;
	struct restrict_list *list;
};

/* Postfix's reply codes, from their parameters. */
struct restrict_codes {
	int reject;			/* reject_code */
	int defer;			/* defer_code */
	int access_map_reject;		/* access_map_reject_code */
	int access_map_defer;		/* access_map_defer_code */
	int invalid_hostname;		/* invalid_hostname_reject_code */
	int non_fqdn;			/* non_fqdn_reject_code */
	int unknown_address;		/* unknown_address_reject_code */
};

/* Every list of a service, its classes and the settings they use. */
struct restrict_set {
	struct restrict_list *client, *helo, *sender, *relay, *recipient,
	    *data, *end_of_data;
	struct restrict_class *classes;
	size_t n_classes;
	struct restrict_codes codes;
	int delay_reject;		/* smtpd_delay_reject */
	int parent_matches_subdomains;	/* smtpd_access_maps in
					 * parent_domain_matches_subdomains */
	const char *null_access_key;	/* smtpd_null_access_lookup_key */
};

/* The state of one evaluation (one point of one session). */
struct restrict_ctx {
	const struct smtpd_policy *policy;
	const struct restrict_set *set;
	const struct restrict_query *q;
	/* What a reply names: "<%s>: %s rejected: ..." */
	const char *reply_name;
	const char *reply_class;
	int depth;			/* classes within classes */
	unsigned actions;		/* RESTRICT_ACTION_* */
	char reply[SMTPD_REPLY_MAX];
	/* Postfix's DEFER_IF_PERMIT and DEFER_IF_REJECT: a reply held back
	 * until the end of the evaluation, or until a reject. */
	int defer_if_permit, defer_if_reject;
	char defer_if_permit_reply[SMTPD_REPLY_MAX];
	char defer_if_reject_reply[SMTPD_REPLY_MAX];
};

/* smtpd_restrict_parse.c */
/* Parses every restriction list and class of conf. NULL with *err
 * naming FILE:LINE, the parameter and the word that is wrong. */
struct restrict_set *restrict_set_new(const struct conf *conf, char **err);
void restrict_set_free(struct restrict_set *set);
/* The RDEF_* flags of every list and class, or'ed. */
unsigned restrict_set_flags(const struct restrict_set *set);
/* The first restriction that needs smtpd_sender_login_maps, or NULL. */
const char *restrict_set_login_maps(const struct restrict_set *set);
/* A list given at run time (an access table's value): only words
 * without an argument, and class names. NULL with *err. */
struct restrict_list *restrict_list_parse_value(const struct restrict_set *set,
    const char *value, char **err);
void restrict_list_free(struct restrict_list *list);

/* smtpd_restrict.c */
/* Runs list in ctx, from the start. */
enum restrict_result restrict_eval_list(struct restrict_ctx *ctx,
    const struct restrict_list *list);
/* Ends the evaluation with a reply: "CODE DSN text". A 5xx reply
 * becomes the held DEFER_IF_REJECT reply when there is one. Returns
 * RESTRICT_REJECT or RESTRICT_DEFER as the code says. */
enum restrict_result restrict_reply(struct restrict_ctx *ctx, int code,
    const char *dsn, const char *fmt, ...) PRINTFLIKE(4, 5);
/* "CODE DSN <name>: class rejected: text", Postfix's usual form. */
enum restrict_result restrict_refuse(struct restrict_ctx *ctx, int code,
    const char *dsn, const char *text);
/* Holds "CODE DSN <name>: class rejected: text" back: it is the answer
 * if nothing rejects (DEFER_IF_PERMIT), or replaces a later reject
 * (DEFER_IF_REJECT). */
void restrict_defer_if_permit(struct restrict_ctx *ctx, int code,
    const char *dsn, const char *text);
void restrict_defer_if_reject(struct restrict_ctx *ctx, int code,
    const char *dsn, const char *text);
/* Postfix's log line for what is not a reject: "NOQUEUE: warn: RCPT
 * from name[addr]: text; from=<> to=<> proto=ESMTP helo=<>". */
void restrict_log(const struct restrict_query *q, const char *whatsup,
    const char *text);

/* smtpd_restrict_basic.c */
restrict_fn restrict_permit, restrict_reject, restrict_defer,
    restrict_permit_mynetworks, restrict_permit_sasl_authenticated,
    restrict_permit_tls_all_clientcerts, restrict_permit_tls_clientcerts,
    restrict_reject_unauth_destination, restrict_defer_unauth_destination,
    restrict_reject_sender_login_mismatch,
    restrict_reject_known_sender_login_mismatch,
    restrict_reject_authenticated_sender_login_mismatch,
    restrict_reject_unauthenticated_sender_login_mismatch,
    restrict_reject_invalid_helo_hostname,
    restrict_reject_non_fqdn_helo_hostname,
    restrict_reject_non_fqdn_sender, restrict_reject_non_fqdn_recipient,
    restrict_reject_unauth_pipelining;

/* smtpd_restrict_access.c */
restrict_fn restrict_check_client_access,
    restrict_check_reverse_client_hostname_access,
    restrict_check_helo_access, restrict_check_sender_access,
    restrict_check_recipient_access;

/* smtpd_restrict_dns.c (the DNS-based restrictions, smtpd_dnscheck.h):
 * item->arg is the zone[=filter] of reject_rbl_client and
 * reject_rhsbl_*. A lookup not answered yet returns RESTRICT_PENDING. */
restrict_fn restrict_reject_rbl_client, restrict_reject_rhsbl_client,
    restrict_reject_rhsbl_sender, restrict_reject_rhsbl_helo,
    restrict_reject_rhsbl_reverse_client,
    restrict_reject_unknown_sender_domain,
    restrict_reject_unknown_recipient_domain,
    restrict_reject_unknown_helo_hostname,
    restrict_reject_unknown_client_hostname,
    restrict_reject_unknown_reverse_client_hostname;

#endif
