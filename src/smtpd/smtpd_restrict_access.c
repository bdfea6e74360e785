/* smtpd_restrict_access: check_client_access, check_helo_access,
 * check_sender_access, check_recipient_access and
 * check_reverse_client_hostname_access: Postfix's access(5) tables, with
 * its lookup order and its actions.
 *
 * Lookup order (access(5)): for an address user@domain, the address,
 * then the domain and its parent domains ("example.com" matches its
 * subdomains while parent_domain_matches_subdomains names
 * smtpd_access_maps, else ".example.com" does), then "user@"; the null
 * sender is smtpd_null_access_lookup_key. For a client, its name and
 * parent domains, then its address and the networks around it
 * (1.2.3.4, 1.2.3, 1.2, 1; IPv6 by dropping a ":field" at a time). The
 * first key found decides, even when its value is DUNNO. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tlsrelay/log.h"
#include "tlsrelay/util.h"
#include "smtpd_int.h"
#include "smtpd_restrict.h"

/* A value's first word is word (any case). */
static int
action_is(const char *value, size_t len, const char *word)
{
	return strlen(word) == len && strncasecmp(value, word, len) == 0;
}

/* "5.7.1 text" at the start of text: that DSN code, else def. */
static const char *
split_dsn(const char *text, const char *def, char *dsn, size_t dsnlen)
{
	size_t n = strspn(text, "0123456789.");

	if (n >= 5 && n < dsnlen && (text[0] == '2' || text[0] == '4' ||
	    text[0] == '5') && text[1] == '.' &&
	    (text[n] == ' ' || text[n] == '\0')) {
		memcpy(dsn, text, n);
		dsn[n] = '\0';
		text += n;
		while (*text == ' ')
			text++;
		return text;
	}
	snprintf(dsn, dsnlen, "%s", def);
	return text;
}

/* A reply with the code's own class: a 4xx text keeps a 4.x.x DSN. */
static enum restrict_result
table_refuse(struct restrict_ctx *ctx, int code, const char *def_dsn,
    const char *text, const char *def_text)
{
	char dsn[16];
	const char *rest = split_dsn(text, def_dsn, dsn, sizeof(dsn));

	dsn[0] = code >= 500 ? '5' : '4';
	return restrict_refuse(ctx, code, dsn, *rest ? rest : def_text);
}

/* HOLD and DISCARD concern a message: with smtpd_delay_reject = no they
 * cannot apply in the client or helo restrictions (no MAIL yet). */
static int
can_delegate(struct restrict_ctx *ctx, const char *table, const char *what)
{
	if (ctx->q->sender != NULL)
		return 1;
	msg_warn("access table %s: with smtpd_delay_reject=no, action %s is "
	    "always skipped in client or helo restrictions", table, what);
	return 0;
}

/* HOLD and DISCARD: logged as Postfix does ("hold: ... <addr>: Sender
 * address triggers HOLD action"), remembered for the message. */
static enum restrict_result
side_action(struct restrict_ctx *ctx, const char *table, unsigned action,
    const char *text)
{
	int hold = action == RESTRICT_ACTION_HOLD;
	char line[SMTPD_REPLY_MAX];

	if (!can_delegate(ctx, table, hold ? "HOLD" : "DISCARD"))
		return RESTRICT_DUNNO;
	snprintf(line, sizeof(line), "<%s>: %s %s", ctx->reply_name,
	    ctx->reply_class, *text ? text : hold ? "triggers HOLD action" :
	    "triggers DISCARD action");
	restrict_log(ctx->q, hold ? "hold" : "discard", line);
	ctx->actions |= action;
	/* DISCARD accepts the message: nothing after it matters. */
	return action == RESTRICT_ACTION_DISCARD ? RESTRICT_PERMIT :
	    RESTRICT_DUNNO;
}

/* The value of a table entry, as Postfix's check_table_result(). */
static enum restrict_result
table_result(struct restrict_ctx *ctx, const char *table, const char *value)
{
	const struct restrict_codes *codes = &ctx->set->codes;
	size_t len = strcspn(value, " \t");
	const char *text = value + len;
	struct restrict_list *list;
	enum restrict_result r;
	char *err = NULL;

	while (*text == ' ' || *text == '\t')
		text++;
	if (action_is(value, len, "DUNNO"))
		return RESTRICT_DUNNO;
	if (action_is(value, len, "OK") || action_is(value, len, "PERMIT") ||
	    action_is(value, len, "RELAY"))
		return RESTRICT_PERMIT;
	if (action_is(value, len, "REJECT"))
		return table_refuse(ctx, codes->access_map_reject, "5.7.1",
		    text, "Access denied");
	if (action_is(value, len, "DEFER"))
		return table_refuse(ctx, codes->access_map_defer, "4.7.1",
		    text, "Access denied");
	if (action_is(value, len, "DEFER_IF_PERMIT") ||
	    action_is(value, len, "DEFER_IF_REJECT")) {
		char dsn[16];
		const char *rest = split_dsn(text, "4.7.1", dsn, sizeof(dsn));

		dsn[0] = '4';
		if (action_is(value, len, "DEFER_IF_PERMIT"))
			restrict_defer_if_permit(ctx, codes->access_map_defer,
			    dsn, *rest ? rest : "Service unavailable");
		else
			restrict_defer_if_reject(ctx, codes->access_map_defer,
			    dsn, *rest ? rest : "Service unavailable");
		return RESTRICT_DUNNO;
	}
	if (action_is(value, len, "WARN") || action_is(value, len, "INFO")) {
		restrict_log(ctx->q, action_is(value, len, "WARN") ? "warn" :
		    "info", text);
		return RESTRICT_DUNNO;
	}
	if (action_is(value, len, "HOLD"))
		return side_action(ctx, table, RESTRICT_ACTION_HOLD, text);
	if (action_is(value, len, "DISCARD"))
		return side_action(ctx, table, RESTRICT_ACTION_DISCARD, text);
	if (len == 3 && (value[0] == '4' || value[0] == '5') &&
	    isdigit((unsigned char)value[1]) &&
	    isdigit((unsigned char)value[2]))
		return table_refuse(ctx, atoi(value), value[0] == '4' ?
		    "4.7.1" : "5.7.1", text, "Access denied");
	/* All digits: Postfix takes a time stamp for OK. */
	if (len > 0 && strspn(value, "0123456789") == strlen(value))
		return RESTRICT_PERMIT;
	/* Anything else is a list of restrictions or class names. */
	if ((list = restrict_list_parse_value(ctx->set, value, &err)) == NULL
	    || list->n == 0) {
		msg_warn("access table %s: entry \"%s\": %s", table, value,
		    err ? err : "empty value");
		free(err);
		restrict_list_free(list);
		return restrict_reply(ctx, 451, "4.3.5",
		    "Server configuration error");
	}
	r = restrict_eval_list(ctx, list);
	restrict_list_free(list);
	return r;
}

/* One key: 1 and *r set when the table has it (or failed). */
static int
lookup(struct restrict_ctx *ctx, const struct restrict_item *item,
    const char *key, enum restrict_result *r)
{
	const char *value;
	int error = 0;

	if (*key == '\0')
		return 0;
	value = smtpd_table_lookup(item->table, key, &error);
	if (error) {
		msg_warn("%s: table lookup error for \"%s\"", item->arg, key);
		*r = restrict_reply(ctx, 451, "4.3.5",
		    "Server configuration error");
		return 1;
	}
	if (value == NULL)
		return 0;
	msg_debug("%s: %s = %s", item->arg, key, value);
	*r = table_result(ctx, item->arg, value);
	return 1;
}

static int
numeric_address(const char *name)
{
	return strspn(name, "0123456789.") == strlen(name) ||
	    strchr(name, ':') != NULL;
}

/* The domain and its parents: "a.b.c", then "b.c", "c" (or ".b.c",
 * ".c" without parent matching). */
static int
lookup_domain(struct restrict_ctx *ctx, const struct restrict_item *item,
    const char *domain, enum restrict_result *r)
{
	const char *name = domain, *next;

	if (lookup(ctx, item, domain, r))
		return 1;
	if (numeric_address(domain))
		return 0;
	while ((next = strchr(name + 1, '.')) != NULL) {
		name = ctx->set->parent_matches_subdomains ? next + 1 : next;
		if (*name == '\0')
			break;
		if (lookup(ctx, item, name, r))
			return 1;
		name = next;
	}
	return 0;
}

/* 1.2.3.4, 1.2.3, 1.2, 1; 2001:db8:0:0:1 ... 2001. */
static int
lookup_address(struct restrict_ctx *ctx, const struct restrict_item *item,
    const char *addr, enum restrict_result *r)
{
	char *key = xstrdup(addr);
	int delim = strchr(key, ':') ? ':' : '.', found = 0;
	char *cut;

	do {
		size_t len = strlen(key);

		if (len > 0 && key[len - 1] != ':' &&
		    (found = lookup(ctx, item, key, r)))
			break;
		if ((cut = strrchr(key, delim)) != NULL)
			*cut = '\0';
	} while (cut != NULL && *key != '\0');
	free(key);
	return found;
}

static enum restrict_result
namadr_access(struct restrict_ctx *ctx, const struct restrict_item *item,
    const char *name, const char *addr)
{
	enum restrict_result r = RESTRICT_DUNNO;
	char reply_name[300];

	snprintf(reply_name, sizeof(reply_name), "%s[%s]", name, addr);
	ctx->reply_name = reply_name;
	ctx->reply_class = "Client host";
	if (strcmp(name, "unknown") != 0 &&
	    lookup_domain(ctx, item, name, &r))
		return r;
	if (lookup_address(ctx, item, addr, &r))
		return r;
	return RESTRICT_DUNNO;
}

enum restrict_result
restrict_check_client_access(struct restrict_ctx *ctx,
    const struct restrict_item *item)
{
	const char *saved_name = ctx->reply_name, *saved_class =
	    ctx->reply_class;
	enum restrict_result r = namadr_access(ctx, item, ctx->q->client_name,
	    ctx->q->client_addr);

	ctx->reply_name = saved_name;
	ctx->reply_class = saved_class;
	return r;
}

/* Without the DNS part (smtpd_peername_lookup), the reverse name is the
 * client name. */
enum restrict_result
restrict_check_reverse_client_hostname_access(struct restrict_ctx *ctx,
    const struct restrict_item *item)
{
	return restrict_check_client_access(ctx, item);
}

enum restrict_result
restrict_check_helo_access(struct restrict_ctx *ctx,
    const struct restrict_item *item)
{
	const char *saved_name = ctx->reply_name, *saved_class =
	    ctx->reply_class;
	enum restrict_result r = RESTRICT_DUNNO;
	const char *helo = ctx->q->helo;

	if (helo == NULL)
		return RESTRICT_DUNNO;
	ctx->reply_name = helo;
	ctx->reply_class = "Helo command";
	(void)lookup_domain(ctx, item, helo, &r);
	ctx->reply_name = saved_name;
	ctx->reply_class = saved_class;
	return r;
}

/* user@domain, domain and parents, user@. */
static enum restrict_result
mail_access(struct restrict_ctx *ctx, const struct restrict_item *item,
    const char *addr, const char *what)
{
	const char *saved_name = ctx->reply_name, *saved_class =
	    ctx->reply_class;
	enum restrict_result r = RESTRICT_DUNNO;
	const char *at;
	char *local;

	if (addr == NULL)
		return RESTRICT_DUNNO;
	ctx->reply_name = addr;
	ctx->reply_class = what;
	if (*addr == '\0') {
		(void)lookup(ctx, item, ctx->set->null_access_key, &r);
	} else if (!lookup(ctx, item, addr, &r) &&
	    (at = strrchr(addr, '@')) != NULL) {
		if (!lookup_domain(ctx, item, at + 1, &r)) {
			local = xstrndup(addr, (size_t)(at - addr) + 1);
			(void)lookup(ctx, item, local, &r);
			free(local);
		}
	}
	ctx->reply_name = saved_name;
	ctx->reply_class = saved_class;
	return r;
}

enum restrict_result
restrict_check_sender_access(struct restrict_ctx *ctx,
    const struct restrict_item *item)
{
	return mail_access(ctx, item, ctx->q->sender, "Sender address");
}

enum restrict_result
restrict_check_recipient_access(struct restrict_ctx *ctx,
    const struct restrict_item *item)
{
	return mail_access(ctx, item, ctx->q->recipient, "Recipient address");
}
