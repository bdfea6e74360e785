/* smtpd_restrict_basic: the restrictions that need no table of their own
 * and no DNS: permit, reject, defer; who the client is (mynetworks, SASL,
 * client certificates); where the mail goes (reject_unauth_destination);
 * who may send as whom (the sender login checks); and the syntax checks
 * of HELO names and addresses (reject_invalid_helo_hostname,
 * reject_non_fqdn_*), and reject_unauth_pipelining. Replies and codes are
 * Postfix's. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tlsrelay/log.h"
#include "tlsrelay/map.h"
#include "tlsrelay/util.h"
#include "smtpd_int.h"
#include "smtpd_restrict.h"

enum restrict_result
restrict_permit(struct restrict_ctx *ctx, const struct restrict_item *item)
{
	(void)ctx;
	(void)item;
	return RESTRICT_PERMIT;
}

enum restrict_result
restrict_reject(struct restrict_ctx *ctx, const struct restrict_item *item)
{
	(void)item;
	return restrict_refuse(ctx, ctx->set->codes.reject, "5.7.1",
	    "Access denied");
}

enum restrict_result
restrict_defer(struct restrict_ctx *ctx, const struct restrict_item *item)
{
	(void)item;
	return restrict_refuse(ctx, ctx->set->codes.defer, "4.7.1",
	    "Access denied");
}

enum restrict_result
restrict_permit_mynetworks(struct restrict_ctx *ctx,
    const struct restrict_item *item)
{
	(void)item;
	return cidr_list_match_text(ctx->policy->mynetworks,
	    ctx->q->client_addr) ? RESTRICT_PERMIT : RESTRICT_DUNNO;
}

enum restrict_result
restrict_permit_sasl_authenticated(struct restrict_ctx *ctx,
    const struct restrict_item *item)
{
	(void)item;
	return ctx->q->sasl_authenticated ? RESTRICT_PERMIT : RESTRICT_DUNNO;
}

enum restrict_result
restrict_permit_tls_all_clientcerts(struct restrict_ctx *ctx,
    const struct restrict_item *item)
{
	(void)item;
	return ctx->q->tls_client_trusted ? RESTRICT_PERMIT : RESTRICT_DUNNO;
}

/* permit_tls_clientcerts: the certificate's or its public key's
 * fingerprint is a key of relay_clientcerts (Postfix looks up both). A
 * certificate need not verify: the table names it exactly. */
enum restrict_result
restrict_permit_tls_clientcerts(struct restrict_ctx *ctx,
    const struct restrict_item *item)
{
	const struct restrict_query *q = ctx->q;
	const char *prints[] = { q->ccert_fingerprint,
	    q->ccert_pkey_fingerprint };
	int error;

	(void)item;
	for (size_t i = 0; i < 2; i++) {
		if (prints[i] == NULL || *prints[i] == '\0')
			continue;
		if (smtpd_table_lookup(ctx->policy->relay_clientcerts,
		    prints[i], &error) != NULL) {
			msg_debug("%s[%s]: relay_clientcerts has %s",
			    q->client_name, q->client_addr, prints[i]);
			return RESTRICT_PERMIT;
		}
		if (error)
			return restrict_reply(ctx, 451, "4.3.0", "<%s[%s]>: "
			    "Temporary lookup failure", q->client_name,
			    q->client_addr);
	}
	return RESTRICT_DUNNO;
}

static int
authorized_destination(const struct smtpd_policy *p, const char *rcpt)
{
	char *domain = addr_domain(rcpt);
	int ok = *domain != '\0' && *domain != '[' &&
	    domain_list_match(p->relay_domains, domain);

	free(domain);
	return ok;
}

static enum restrict_result
unauth_destination(struct restrict_ctx *ctx, int code, const char *dsn)
{
	const char *rcpt = ctx->q->recipient;

	if (rcpt == NULL || authorized_destination(ctx->policy, rcpt))
		return RESTRICT_DUNNO;
	return restrict_reply(ctx, code, dsn, "<%s>: Relay access denied",
	    rcpt);
}

enum restrict_result
restrict_reject_unauth_destination(struct restrict_ctx *ctx,
    const struct restrict_item *item)
{
	(void)item;
	return unauth_destination(ctx, 554, "5.7.1");
}

enum restrict_result
restrict_defer_unauth_destination(struct restrict_ctx *ctx,
    const struct restrict_item *item)
{
	(void)item;
	return unauth_destination(ctx, 454, "4.7.1");
}

/* Postfix's sender login checks. The owners of the sender address are
 * the login names smtpd_sender_login_maps gives for the address, else
 * for "@domain". auth: check a logged-in client (unknown addresses pass
 * when allow_unknown); unauth: refuse a client that is not logged in to
 * send as an address that has owners. */
static enum restrict_result
sender_login_mismatch(struct restrict_ctx *ctx, int auth, int unauth,
    int allow_unknown)
{
	const struct restrict_query *q = ctx->q;
	struct smtpd_table *maps = ctx->policy->sender_login_maps;
	const char *owners = NULL;
	char *domain, *key;
	int error = 0, found = 0;

	if (q->sender == NULL || *q->sender == '\0')
		return RESTRICT_DUNNO;
	if (q->sasl_username != NULL ? !auth : !unauth)
		return RESTRICT_DUNNO;
	owners = smtpd_table_lookup(maps, q->sender, &error);
	if (owners == NULL && !error && strchr(q->sender, '@') != NULL) {
		domain = addr_domain(q->sender);
		key = xasprintf("@%s", domain);
		owners = smtpd_table_lookup(maps, key, &error);
		free(key);
		free(domain);
	}
	if (error)
		return restrict_reply(ctx, 451, "4.3.0", "<%s>: Temporary "
		    "lookup failure", q->sender);
	if (q->sasl_username == NULL) {
		if (owners == NULL)
			return RESTRICT_DUNNO;
		return restrict_reply(ctx, 553, "5.7.1", "<%s>: Sender address "
		    "rejected: not logged in", q->sender);
	}
	if (owners == NULL && allow_unknown)
		return RESTRICT_DUNNO;
	if (owners != NULL) {
		char **names = strlist_split(owners, LIST_SEPARATORS, NULL);

		for (char **n = names; *n && !found; n++)
			found = strcasecmp(*n, q->sasl_username) == 0;
		strlist_free(names);
	}
	if (found)
		return RESTRICT_DUNNO;
	return restrict_reply(ctx, 553, "5.7.1", "<%s>: Sender address "
	    "rejected: not owned by user %s", q->sender, q->sasl_username);
}

enum restrict_result
restrict_reject_sender_login_mismatch(struct restrict_ctx *ctx,
    const struct restrict_item *item)
{
	(void)item;
	return sender_login_mismatch(ctx, 1, 1, 0);
}

enum restrict_result
restrict_reject_known_sender_login_mismatch(struct restrict_ctx *ctx,
    const struct restrict_item *item)
{
	(void)item;
	return sender_login_mismatch(ctx, 1, 1, 1);
}

enum restrict_result
restrict_reject_authenticated_sender_login_mismatch(struct restrict_ctx *ctx,
    const struct restrict_item *item)
{
	(void)item;
	return sender_login_mismatch(ctx, 1, 0, 0);
}

enum restrict_result
restrict_reject_unauthenticated_sender_login_mismatch(
    struct restrict_ctx *ctx, const struct restrict_item *item)
{
	(void)item;
	return sender_login_mismatch(ctx, 0, 1, 0);
}

/* An address literal: "[192.0.2.1]" or "[IPv6:2001:db8::1]". */
static int
address_literal(const char *name)
{
	char buf[INET6_ADDRSTRLEN + 8];
	unsigned char bin[sizeof(struct in6_addr)];
	size_t len = strlen(name);

	if (len < 3 || name[0] != '[' || name[len - 1] != ']' ||
	    len - 2 >= sizeof(buf))
		return 0;
	memcpy(buf, name + 1, len - 2);
	buf[len - 2] = '\0';
	if (strncasecmp(buf, "IPv6:", 5) == 0)
		return inet_pton(AF_INET6, buf + 5, bin) == 1;
	return inet_pton(AF_INET, buf, bin) == 1;
}

static int
bare_address(const char *name)
{
	unsigned char bin[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, name, bin) == 1 ||
	    inet_pton(AF_INET6, name, bin) == 1;
}

/* Postfix's valid_hostname(): labels of letters, digits, '-' and '_'
 * (not first or last: '-'), at most 63 bytes each, 255 in all, one
 * trailing dot allowed, not all numeric. */
static int
valid_hostname(const char *name)
{
	size_t len = strlen(name), label = 0;
	int non_numeric = 0;

	if (len == 0 || len > 255)
		return 0;
	if (name[len - 1] == '.')
		len--;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c == '.') {
			if (label == 0 || name[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!isalnum(c) && c != '-' && c != '_')
			return 0;
		if (c == '-' && label == 0)
			return 0;
		if (!isdigit(c))
			non_numeric = 1;
		if (++label > 63)
			return 0;
	}
	return label > 0 && name[len - 1] != '-' && non_numeric;
}

enum restrict_result
restrict_reject_invalid_helo_hostname(struct restrict_ctx *ctx,
    const struct restrict_item *item)
{
	const char *helo = ctx->q->helo;

	(void)item;
	if (helo == NULL || address_literal(helo) || bare_address(helo) ||
	    valid_hostname(helo))
		return RESTRICT_DUNNO;
	return restrict_reply(ctx, ctx->set->codes.invalid_hostname, "5.5.2",
	    "<%s>: Helo command rejected: Invalid name", helo);
}

enum restrict_result
restrict_reject_non_fqdn_helo_hostname(struct restrict_ctx *ctx,
    const struct restrict_item *item)
{
	const char *helo = ctx->q->helo;
	const char *dot;

	(void)item;
	if (helo == NULL || address_literal(helo) || bare_address(helo))
		return RESTRICT_DUNNO;
	dot = strchr(helo, '.');
	if (dot != NULL && dot[1] != '\0' && valid_hostname(helo))
		return RESTRICT_DUNNO;
	return restrict_reply(ctx, ctx->set->codes.non_fqdn, "5.5.2",
	    "<%s>: Helo command rejected: need fully-qualified hostname",
	    helo);
}

/* An address is fully qualified when its domain is a valid host name
 * with a dot, or an address literal. The null sender is not checked. */
static enum restrict_result
non_fqdn_address(struct restrict_ctx *ctx, const char *addr,
    const char *what)
{
	const char *at, *dot;

	if (addr == NULL || *addr == '\0')
		return RESTRICT_DUNNO;
	if ((at = strrchr(addr, '@')) != NULL) {
		if (address_literal(at + 1))
			return RESTRICT_DUNNO;
		dot = strchr(at + 1, '.');
		if (dot != NULL && dot[1] != '\0' && valid_hostname(at + 1))
			return RESTRICT_DUNNO;
	}
	return restrict_reply(ctx, ctx->set->codes.non_fqdn, "5.5.2",
	    "<%s>: %s rejected: need fully-qualified address", addr, what);
}

enum restrict_result
restrict_reject_non_fqdn_sender(struct restrict_ctx *ctx,
    const struct restrict_item *item)
{
	(void)item;
	return non_fqdn_address(ctx, ctx->q->sender, "Sender address");
}

enum restrict_result
restrict_reject_non_fqdn_recipient(struct restrict_ctx *ctx,
    const struct restrict_item *item)
{
	(void)item;
	return non_fqdn_address(ctx, ctx->q->recipient, "Recipient address");
}

/* The session saw commands sent ahead where a client may not: before
 * knowing that we speak ESMTP, or behind a command that must end a
 * pipelined group (Postfix's SMTPD_FLAG_ILL_PIPELINING). */
enum restrict_result
restrict_reject_unauth_pipelining(struct restrict_ctx *ctx,
    const struct restrict_item *item)
{
	(void)item;
	if (!ctx->q->improper_pipelining)
		return RESTRICT_DUNNO;
	return restrict_refuse(ctx, 503, "5.5.0",
	    "Improper use of SMTP command pipelining");
}
