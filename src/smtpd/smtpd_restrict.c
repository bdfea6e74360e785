/* smtpd_restrict: the restriction engine. At each point of the dialogue
 * the session asks smtpd_restrict_check(); it runs the lists that belong
 * there (smtpd_delay_reject decides), each on its own as Postfix does: a
 * permit ends that list, a reject or a defer ends everything, DUNNO goes
 * on. DEFER_IF_PERMIT and DEFER_IF_REJECT replies are held back to the
 * end of the evaluation. An evaluation has no state of its own beyond
 * one call: when a DNS answer is pending, the session calls again from
 * the start once it has come (smtpd_dnscheck.h). */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tlsrelay/log.h"
#include "tlsrelay/util.h"
#include "smtpd_int.h"
#include "smtpd_restrict.h"

/* Postfix gives up on classes that name each other in a loop. */
#define CLASS_DEPTH_MAX	100

/* snprintf that may cut a long reply short, as replies are bounded. */
static void PRINTFLIKE(3, 4)
format_reply(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

void
restrict_log(const struct restrict_query *q, const char *whatsup,
    const char *text)
{
	struct strbuf sb;

	strbuf_init(&sb);
	strbuf_printf(&sb, "%s: %s: %s from %s[%s]: %s;",
	    q->queue_id ? q->queue_id : "NOQUEUE", whatsup,
	    q->where ? q->where : "RCPT", q->client_name, q->client_addr,
	    text);
	if (q->sender)
		strbuf_printf(&sb, " from=<%s>", q->sender);
	if (q->recipient)
		strbuf_printf(&sb, " to=<%s>", q->recipient);
	if (q->protocol)
		strbuf_printf(&sb, " proto=%s", q->protocol);
	if (q->helo)
		strbuf_printf(&sb, " helo=<%s>", q->helo);
	msg_info("%s", sb.data);
	strbuf_free(&sb);
}

enum restrict_result
restrict_reply(struct restrict_ctx *ctx, int code, const char *dsn,
    const char *fmt, ...)
{
	char text[SMTPD_REPLY_MAX];
	va_list ap;

	if (code >= 500 && ctx->defer_if_reject) {
		snprintf(ctx->reply, sizeof(ctx->reply), "%s",
		    ctx->defer_if_reject_reply);
		return RESTRICT_DEFER;
	}
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* The enhanced code's class follows the reply code, as Postfix's
	 * smtpd_check_reject() makes it (non_fqdn_reject_code = 450 gives
	 * "450 4.5.2"). */
	format_reply(ctx->reply, sizeof(ctx->reply), "%d %c%s %s", code,
	    code >= 500 ? '5' : '4', dsn + 1, text);
	return code >= 500 ? RESTRICT_REJECT : RESTRICT_DEFER;
}

enum restrict_result
restrict_refuse(struct restrict_ctx *ctx, int code, const char *dsn,
    const char *text)
{
	return restrict_reply(ctx, code, dsn, "<%s>: %s rejected: %s",
	    ctx->reply_name, ctx->reply_class, text);
}

void
restrict_defer_if_permit(struct restrict_ctx *ctx, int code,
    const char *dsn, const char *text)
{
	if (ctx->defer_if_permit)
		return;		/* the first one is the answer */
	ctx->defer_if_permit = 1;
	format_reply(ctx->defer_if_permit_reply,
	    sizeof(ctx->defer_if_permit_reply), "%d %s <%s>: %s rejected: %s",
	    code, dsn, ctx->reply_name, ctx->reply_class, text);
}

void
restrict_defer_if_reject(struct restrict_ctx *ctx, int code,
    const char *dsn, const char *text)
{
	if (ctx->defer_if_reject)
		return;
	ctx->defer_if_reject = 1;
	format_reply(ctx->defer_if_reject_reply,
	    sizeof(ctx->defer_if_reject_reply), "%d %s <%s>: %s rejected: %s",
	    code, dsn, ctx->reply_name, ctx->reply_class, text);
}

enum restrict_result
restrict_eval_list(struct restrict_ctx *ctx, const struct restrict_list *list)
{
	enum restrict_result r;

	if (++ctx->depth > CLASS_DEPTH_MAX) {
		ctx->depth--;
		msg_warn("restriction classes nest too deep: a class that "
		    "names itself?");
		return restrict_reply(ctx, 451, "4.3.5",
		    "Server configuration error");
	}
	for (size_t i = 0; i < list->n; i++) {
		const struct restrict_item *item = &list->items[i];

		if (item->class != NULL)
			r = restrict_eval_list(ctx, item->class->list);
		else
			r = item->def->fn(ctx, item);
		if (r != RESTRICT_DUNNO) {
			ctx->depth--;
			return r;
		}
	}
	ctx->depth--;
	return RESTRICT_DUNNO;
}

/* The stage lists: what their replies name, as Postfix's. */
enum stage { ST_CLIENT, ST_HELO, ST_SENDER, ST_RELAY, ST_RECIPIENT,
    ST_DATA, ST_END_OF_DATA };

static const struct restrict_list *
stage_list(const struct restrict_set *set, enum stage st)
{
	switch (st) {
	case ST_CLIENT:		return set->client;
	case ST_HELO:		return set->helo;
	case ST_SENDER:		return set->sender;
	case ST_RELAY:		return set->relay;
	case ST_RECIPIENT:	return set->recipient;
	case ST_DATA:		return set->data;
	case ST_END_OF_DATA:	return set->end_of_data;
	}
	return NULL;
}

static enum restrict_result
eval_stage(struct restrict_ctx *ctx, enum stage st, char *namebuf,
    size_t namelen)
{
	const struct restrict_query *q = ctx->q;

	switch (st) {
	case ST_CLIENT:
		snprintf(namebuf, namelen, "%s[%s]", q->client_name,
		    q->client_addr);
		ctx->reply_name = namebuf;
		ctx->reply_class = "Client host";
		break;
	case ST_HELO:
		ctx->reply_name = q->helo ? q->helo : "";
		ctx->reply_class = "Helo command";
		break;
	case ST_SENDER:
		ctx->reply_name = q->sender ? q->sender : "";
		ctx->reply_class = "Sender address";
		break;
	case ST_RELAY:
	case ST_RECIPIENT:
		ctx->reply_name = q->recipient ? q->recipient : "";
		ctx->reply_class = "Recipient address";
		break;
	case ST_DATA:
		ctx->reply_name = "DATA";
		ctx->reply_class = "Data command";
		break;
	case ST_END_OF_DATA:
		ctx->reply_name = "END-OF-MESSAGE";
		ctx->reply_class = "End-of-data";
		break;
	}
	return restrict_eval_list(ctx, stage_list(ctx->set, st));
}

/* The lists a point runs: with smtpd_delay_reject, the client, helo and
 * sender lists wait for RCPT. */
static size_t
point_stages(const struct restrict_set *set, enum restrict_point point,
    enum stage *out)
{
	size_t n = 0;

	switch (point) {
	case RESTRICT_AT_CONNECT:
		if (!set->delay_reject)
			out[n++] = ST_CLIENT;
		break;
	case RESTRICT_AT_HELO:
		if (!set->delay_reject)
			out[n++] = ST_HELO;
		break;
	case RESTRICT_AT_MAIL:
		if (!set->delay_reject)
			out[n++] = ST_SENDER;
		break;
	case RESTRICT_AT_RCPT:
		if (set->delay_reject) {
			out[n++] = ST_CLIENT;
			out[n++] = ST_HELO;
			out[n++] = ST_SENDER;
		}
		out[n++] = ST_RELAY;
		out[n++] = ST_RECIPIENT;
		break;
	case RESTRICT_AT_DATA:
		out[n++] = ST_DATA;
		break;
	case RESTRICT_AT_END_OF_DATA:
		out[n++] = ST_END_OF_DATA;
		break;
	}
	return n;
}

enum restrict_result
smtpd_restrict_check(const struct smtpd_policy *p, enum restrict_point point,
    const struct restrict_query *q, struct restrict_verdict *v)
{
	enum stage stages[5];
	size_t n = point_stages(p->restrictions, point, stages);
	struct restrict_ctx ctx;
	char namebuf[300];
	enum restrict_result r = RESTRICT_DUNNO;

	memset(&ctx, 0, sizeof(ctx));
	ctx.policy = p;
	ctx.set = p->restrictions;
	ctx.q = q;
	for (size_t i = 0; i < n; i++) {
		r = eval_stage(&ctx, stages[i], namebuf, sizeof(namebuf));
		if (r == RESTRICT_REJECT || r == RESTRICT_DEFER ||
		    r == RESTRICT_PENDING)
			break;
	}
	if (r != RESTRICT_REJECT && r != RESTRICT_DEFER &&
	    r != RESTRICT_PENDING && ctx.defer_if_permit) {
		snprintf(ctx.reply, sizeof(ctx.reply), "%s",
		    ctx.defer_if_permit_reply);
		r = RESTRICT_DEFER;
	}
	v->result = r;
	v->actions = ctx.actions;
	snprintf(v->reply, sizeof(v->reply), "%s", ctx.reply);
	return r;
}

enum restrict_result
smtpd_policy_check_rcpt(const struct smtpd_policy *p,
    const struct restrict_query *q, char *reply, size_t len)
{
	struct restrict_verdict v;

	switch (smtpd_restrict_check(p, RESTRICT_AT_RCPT, q, &v)) {
	case RESTRICT_REJECT:
	case RESTRICT_DEFER:
		snprintf(reply, len, "%s", v.reply);
		return RESTRICT_REJECT;
	default:
		return RESTRICT_PERMIT;
	}
}
