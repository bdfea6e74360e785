/* smtpd_restrict_dns: the DNS-based restrictions, with Postfix's replies
 * (smtpd_check.c), asking through the session's memo (smtpd_dnscheck.h).
 * An answer not in yet makes the restriction RESTRICT_PENDING; the
 * engine evaluates the whole point again once it is, and the memo then
 * answers at once.
 *
 *	reject_rbl_client zone[=filter]		the client address in a DNSBL
 *	reject_rhsbl_client/_reverse_client/_helo/_sender zone[=filter]
 *						a domain in an RHSBL
 *	reject_unknown_sender/recipient_domain	no MX, A or AAAA (or null MX)
 *	reject_unknown_helo_hostname		no A, AAAA or MX
 *	reject_unknown_client_hostname		no forward-confirmed name
 *	reject_unknown_reverse_client_hostname	no PTR name
 *
 * A DNSBL that cannot be asked gives the client the benefit of the doubt
 * (DUNNO, with Postfix's warning); an unknown domain whose lookup failed
 * temporarily is DEFER_IF_PERMIT with 450, as Postfix's
 * unknown_*_tempfail_action defaults say. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/smtpd_dnscheck.h"
#include "tlsrelay/util.h"
#include "smtpd_int.h"
#include "smtpd_restrict.h"

#define NAME_CLIENT	"Client host"
#define NAME_REV_CLIENT	"Unverified Client host"
#define NAME_HELO	"Helo command"
#define NAME_SENDER	"Sender address"
#define NAME_RECIPIENT	"Recipient address"

static long long
param(const struct restrict_ctx *ctx, enum conf_int_param p)
{
	return conf_int(ctx->policy->conf, p);
}

/* "<name>: class rejected: text" for a name other than the stage's own
 * (reject_unknown_sender_domain among the recipient restrictions). */
static enum restrict_result
refuse_as(struct restrict_ctx *ctx, const char *name, const char *class,
    int code, const char *dsn, const char *text)
{
	const char *saved_name = ctx->reply_name, *saved_class = ctx->reply_class;
	enum restrict_result r;

	ctx->reply_name = name;
	ctx->reply_class = class;
	r = restrict_refuse(ctx, code, dsn, text);
	ctx->reply_name = saved_name;
	ctx->reply_class = saved_class;
	return r;
}

static void
defer_if_permit_as(struct restrict_ctx *ctx, const char *name,
    const char *class, const char *dsn, const char *text)
{
	const char *saved_name = ctx->reply_name, *saved_class = ctx->reply_class;

	ctx->reply_name = name;
	ctx->reply_class = class;
	restrict_defer_if_permit(ctx, 450, dsn, text);
	ctx->reply_name = saved_name;
	ctx->reply_class = saved_class;
}

/* ---- DNSBL and RHSBL --------------------------------------------------- */

/* The macros of Postfix's DNSBL reply templates. */
struct rbl_macros {
	const struct restrict_ctx *ctx;
	char code[8];
	const char *class, *what, *domain, *reason;
	char client[300];
};

static int
rbl_macro(void *arg, const char *name, const char **value, char **err)
{
	const struct rbl_macros *m = arg;
	const struct restrict_query *q = m->ctx->q;

	(void)err;
	*value = NULL;
	if (strcmp(name, "rbl_code") == 0)
		*value = m->code;
	else if (strcmp(name, "rbl_class") == 0)
		*value = m->class;
	else if (strcmp(name, "rbl_what") == 0)
		*value = m->what;
	else if (strcmp(name, "rbl_domain") == 0)
		*value = m->domain;
	else if (strcmp(name, "rbl_reason") == 0 ||
	    strcmp(name, "rbl_txt") == 0)
		*value = m->reason;
	else if (strcmp(name, "client") == 0)
		*value = m->client;
	else if (strcmp(name, "client_address") == 0)
		*value = q->client_addr;
	else if (strcmp(name, "client_name") == 0)
		*value = q->client_name;
	else if (strcmp(name, "helo_name") == 0)
		*value = q->helo;
	else if (strcmp(name, "sender") == 0)
		*value = q->sender;
	else if (strcmp(name, "recipient") == 0)
		*value = q->recipient;
	return 0;
}

/* The reply: the domain's rbl_reply_maps entry, else default_rbl_reply
 * (Postfix's: "$rbl_code Service unavailable; $rbl_class [$rbl_what]
 * blocked using $rbl_domain${rbl_reason?; $rbl_reason}"), its macros
 * filled in. A template that does not give "NNN text" with a 4xx or 5xx
 * code is a configuration error: Postfix's text, and a warning. */
static enum restrict_result
rbl_reject(struct restrict_ctx *ctx, const struct dnsbl_answer *a,
    const char *zone, const char *what, const char *class)
{
	const struct smtpd_policy *p = ctx->policy;
	struct rbl_macros m = { .ctx = ctx, .class = class, .what = what,
	    .domain = zone, .reason = a->txt && *a->txt ? a->txt : NULL };
	const char *template = NULL;
	char *text, *err = NULL;
	enum restrict_result r;
	int error = 0, code;

	snprintf(m.code, sizeof(m.code), "%lld",
	    param(ctx, P_maps_rbl_reject_code));
	snprintf(m.client, sizeof(m.client), "%s[%s]", ctx->q->client_name,
	    ctx->q->client_addr);
	if (p->rbl_reply_maps != NULL)
		template = smtpd_table_lookup(p->rbl_reply_maps, zone, &error);
	if (template == NULL)
		template = conf_raw(p->conf, P_default_rbl_reply);
	text = conf_expand_with(template, rbl_macro, &m, &err);
	if (text == NULL || strlen(text) < 5 || (text[0] != '4' &&
	    text[0] != '5') || !isdigit((unsigned char)text[1]) ||
	    !isdigit((unsigned char)text[2]) || text[3] != ' ') {
		msg_warn_once("DNSBL reply template for %s does not start "
		    "with a 4xx or 5xx code: %s", zone, err ? err : template);
		free(err);
		free(text);
		return restrict_reply(ctx, (int)param(ctx,
		    P_maps_rbl_reject_code), "4.7.1", "Service unavailable; "
		    "%s [%s] blocked using %s%s%s", class, what, zone,
		    m.reason ? "; " : "", m.reason ? m.reason : "");
	}
	code = atoi(text);
	r = restrict_reply(ctx, code, "4.7.1", "%s", text + 4);
	free(text);
	return r;
}

/* "zone=filter" into the zone (caller frees) and the filter (in arg). */
static char *
split_zone(const char *arg, const char **filter)
{
	const char *eq = strchr(arg, '=');

	*filter = eq ? eq + 1 : NULL;
	return eq ? xstrndup(arg, (size_t)(eq - arg)) : xstrdup(arg);
}

static enum restrict_result
rbl_verdict(struct restrict_ctx *ctx, enum dnscheck_state st,
    const struct dnsbl_answer *a, const char *zone, const char *what,
    const char *class)
{
	if (st == DNSCHECK_PENDING)
		return RESTRICT_PENDING;
	if (a->status != DNSCHECK_FOUND)
		return RESTRICT_DUNNO;
	return rbl_reject(ctx, a, zone, what, class);
}

enum restrict_result
restrict_reject_rbl_client(struct restrict_ctx *ctx,
    const struct restrict_item *item)
{
	const struct dnsbl_answer *a;
	enum dnscheck_state st;
	enum restrict_result r;
	const char *filter;
	char *zone;

	if (ctx->q->dnscheck == NULL)
		return RESTRICT_DUNNO;
	zone = split_zone(item->arg, &filter);
	st = smtpd_dnscheck_rbl(ctx->q->dnscheck, zone, filter,
	    ctx->q->client_addr, &a);
	r = rbl_verdict(ctx, st, a, zone, ctx->q->client_addr, NAME_CLIENT);
	free(zone);
	return r;
}

/* Postfix's find_dnsxl_domain(): the domain of what (an address or a
 * host name), or NULL when it is no name to look up: empty, an address
 * literal, a numeric last label (some RHSBLs refuse IP queries), or not
 * a valid host name. */
static const char *
rhsbl_domain(const char *what)
{
	const char *domain = strrchr(what, '@'), *p, *last;

	domain = domain ? domain + 1 : what;
	if (*domain == '\0' || *domain == '[' || strlen(domain) > 255)
		return NULL;
	last = strrchr(domain, '.');
	last = last ? last + 1 : domain;
	for (p = last; isdigit((unsigned char)*p); p++)
		;
	if (*p == '\0')
		return NULL;
	for (p = domain; *p != '\0'; p++)
		if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '.' ||
		    *p == '_') || (*p == '.' && (p == domain || p[1] == '.')))
			return NULL;
	return domain;
}

static enum restrict_result
rhsbl(struct restrict_ctx *ctx, const struct restrict_item *item,
    const char *what, const char *class)
{
	const struct dnsbl_answer *a;
	enum dnscheck_state st;
	enum restrict_result r;
	const char *filter, *domain;
	char *zone;

	if (ctx->q->dnscheck == NULL || what == NULL ||
	    (domain = rhsbl_domain(what)) == NULL)
		return RESTRICT_DUNNO;
	zone = split_zone(item->arg, &filter);
	st = smtpd_dnscheck_rhsbl(ctx->q->dnscheck, zone, filter, domain, &a);
	r = rbl_verdict(ctx, st, a, zone, what, class);
	free(zone);
	return r;
}

/* The client's names from the memo (asked before the greeting); NULL
 * when smtpd_peername_lookup = no or there is no memo: no name then. */
static enum dnscheck_state
client_names(struct restrict_ctx *ctx, const struct client_name_answer **cn)
{
	static const struct client_name_answer none = { DNSCHECK_NOTFOUND,
	    "unknown", 0, DNSCHECK_NOTFOUND, "unknown" };

	if (ctx->q->dnscheck == NULL ||
	    !conf_bool(ctx->policy->conf, P_smtpd_peername_lookup)) {
		*cn = &none;
		return DNSCHECK_DONE;
	}
	return smtpd_dnscheck_client_name(ctx->q->dnscheck,
	    ctx->q->client_addr, cn);
}

enum restrict_result
restrict_reject_rhsbl_client(struct restrict_ctx *ctx,
    const struct restrict_item *item)
{
	if (strcasecmp(ctx->q->client_name, "unknown") == 0)
		return RESTRICT_DUNNO;
	return rhsbl(ctx, item, ctx->q->client_name, NAME_CLIENT);
}

enum restrict_result
restrict_reject_rhsbl_reverse_client(struct restrict_ctx *ctx,
    const struct restrict_item *item)
{
	const struct client_name_answer *cn;

	if (client_names(ctx, &cn) == DNSCHECK_PENDING)
		return RESTRICT_PENDING;
	if (cn->reverse_status != DNSCHECK_FOUND)
		return RESTRICT_DUNNO;
	return rhsbl(ctx, item, cn->reverse_name, NAME_REV_CLIENT);
}

enum restrict_result
restrict_reject_rhsbl_helo(struct restrict_ctx *ctx,
    const struct restrict_item *item)
{
	return rhsbl(ctx, item, ctx->q->helo, NAME_HELO);
}

enum restrict_result
restrict_reject_rhsbl_sender(struct restrict_ctx *ctx,
    const struct restrict_item *item)
{
	if (ctx->q->sender == NULL || *ctx->q->sender == '\0')
		return RESTRICT_DUNNO;
	return rhsbl(ctx, item, ctx->q->sender, NAME_SENDER);
}

/* ---- unknown domains and names ----------------------------------------- */

/* Postfix's reject_unknown_address() + reject_unknown_mailhost(). */
static enum restrict_result
unknown_address(struct restrict_ctx *ctx, const char *addr,
    const char *class)
{
	int sender = strcmp(class, NAME_SENDER) == 0;
	const struct domain_answer *a;
	const char *domain, *dsn = sender ? "4.1.8" : "4.1.2";
	char text[320];

	if (ctx->q->dnscheck == NULL || addr == NULL ||
	    (domain = strrchr(addr, '@')) == NULL)
		return RESTRICT_DUNNO;
	domain++;
	if (*domain == '\0' || *domain == '[')
		return RESTRICT_DUNNO;
	if (smtpd_dnscheck_domain(ctx->q->dnscheck, domain, &a) ==
	    DNSCHECK_PENDING)
		return RESTRICT_PENDING;
	if (a->null_mx) {
		snprintf(text, sizeof(text), "Domain %s does not accept mail "
		    "(nullMX)", domain);
		return refuse_as(ctx, addr, class, sender ? 550 : 556,
		    sender ? "4.7.27" : "4.1.10", text);
	}
	if (a->status == DNSCHECK_NOTFOUND)
		return refuse_as(ctx, addr, class,
		    (int)param(ctx, P_unknown_address_reject_code), dsn,
		    "Domain not found");
	if (a->status == DNSCHECK_TEMPFAIL)
		defer_if_permit_as(ctx, addr, class, dsn, "Domain not found");
	return RESTRICT_DUNNO;
}

enum restrict_result
restrict_reject_unknown_sender_domain(struct restrict_ctx *ctx,
    const struct restrict_item *item)
{
	(void)item;
	if (ctx->q->sender == NULL || *ctx->q->sender == '\0')
		return RESTRICT_DUNNO;
	return unknown_address(ctx, ctx->q->sender, NAME_SENDER);
}

enum restrict_result
restrict_reject_unknown_recipient_domain(struct restrict_ctx *ctx,
    const struct restrict_item *item)
{
	(void)item;
	return unknown_address(ctx, ctx->q->recipient, NAME_RECIPIENT);
}

/* Postfix's reject_unknown_hostname(): a null MX is fine for a host. */
enum restrict_result
restrict_reject_unknown_helo_hostname(struct restrict_ctx *ctx,
    const struct restrict_item *item)
{
	const struct domain_answer *a;
	const char *helo = ctx->q->helo;

	(void)item;
	if (ctx->q->dnscheck == NULL || helo == NULL || *helo == '\0' ||
	    *helo == '[')
		return RESTRICT_DUNNO;
	if (smtpd_dnscheck_domain(ctx->q->dnscheck, helo, &a) ==
	    DNSCHECK_PENDING)
		return RESTRICT_PENDING;
	if (a->status == DNSCHECK_NOTFOUND)
		return refuse_as(ctx, helo, NAME_HELO,
		    (int)param(ctx, P_unknown_hostname_reject_code), "4.7.1",
		    "Host not found");
	if (a->status == DNSCHECK_TEMPFAIL)
		defer_if_permit_as(ctx, helo, NAME_HELO, "4.7.1",
		    "Host not found");
	return RESTRICT_DUNNO;
}

/* A permanent failure takes unknown_client_reject_code, a temporary one
 * 450, as Postfix's reject_unknown_client(). */
static enum restrict_result
unknown_client(struct restrict_ctx *ctx, enum dnscheck_status status,
    const char *dsn, const char *what)
{
	if (status == DNSCHECK_FOUND)
		return RESTRICT_DUNNO;
	return restrict_reply(ctx, status == DNSCHECK_TEMPFAIL ? 450 :
	    (int)param(ctx, P_unknown_client_reject_code), dsn,
	    "Client host rejected: cannot find your %s, [%s]", what,
	    ctx->q->client_addr);
}

enum restrict_result
restrict_reject_unknown_client_hostname(struct restrict_ctx *ctx,
    const struct restrict_item *item)
{
	const struct client_name_answer *cn;

	(void)item;
	if (client_names(ctx, &cn) == DNSCHECK_PENDING)
		return RESTRICT_PENDING;
	return unknown_client(ctx, cn->status, "4.7.25", "hostname");
}

enum restrict_result
restrict_reject_unknown_reverse_client_hostname(struct restrict_ctx *ctx,
    const struct restrict_item *item)
{
	const struct client_name_answer *cn;

	(void)item;
	if (client_names(ctx, &cn) == DNSCHECK_PENDING)
		return RESTRICT_PENDING;
	return unknown_client(ctx, cn->reverse_status, "4.7.1",
	    "reverse hostname");
}
