/* smtp_log: server replies turned into Postfix's reasons, and Postfix's
 * per-recipient line:
 *   ID: to=<rcpt>, relay=host[addr]:port, delay=1.2,
 *       delays=0.1/0/0.6/0.5, dsn=2.0.0, status=sent (250 2.0.0 Ok) */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlsrelay/log.h"
#include "tlsrelay/stats.h"
#include "tlsrelay/tls.h"
#include "smtp_int.h"

void
smtp_log_enter(struct log_name *saved)
{
	log_name_get(saved);
	log_set_service(NULL, "smtp");
}

void
smtp_log_leave(const struct log_name *saved)
{
	log_name_set(saved);
}

char *
smtp_reply_line(const struct smtp_reply *reply)
{
	const char *text = reply->text ? reply->text : "";

	if (reply->dsn[0] != '\0')
		return xasprintf("%d %s%s%s", reply->code, reply->dsn,
		    *text ? " " : "", text);
	return xasprintf("%d%s%s", reply->code, *text ? " " : "", text);
}

char *
smtp_reply_reason(const char *label, const struct smtp_reply *reply,
    const char *in_reply_to)
{
	char *line = smtp_reply_line(reply), *reason;

	reason = xasprintf("host %s said: %s (in reply to %s)", label, line,
	    in_reply_to);
	free(line);
	return reason;
}

void
smtp_reply_dsn(const struct smtp_reply *reply, char dsn[16])
{
	if (reply->dsn[0] != '\0')
		snprintf(dsn, 16, "%s", reply->dsn);
	else
		snprintf(dsn, 16, "%d.0.0", reply->code / 100);
}

enum smtp_outcome
smtp_reply_outcome(const struct smtp_reply *reply)
{
	switch (reply->code / 100) {
	case 2:
		return SMTP_SENT;
	case 5:
		return SMTP_BOUNCE;
	default:
		return SMTP_DEFER;
	}
}

void
smtp_format_delay(double seconds, char *buf, size_t len)
{
	int decimals;
	char *dot, *end;

	if (seconds < 0 || isnan(seconds))
		seconds = 0;
	/* Two significant digits, never finer than 10 ms. */
	decimals = seconds >= 10 ? 0 : seconds >= 1 ? 1 : 2;
	snprintf(buf, len, "%.*f", decimals, seconds);
	/* "0.10" is "0.1" and "0.00" is "0", as Postfix prints them. */
	if ((dot = strchr(buf, '.')) != NULL) {
		end = buf + strlen(buf);
		while (end > dot + 1 && end[-1] == '0')
			*--end = '\0';
		if (end == dot + 1)
			*dot = '\0';
	}
}

static const char *
status_word(enum smtp_outcome outcome)
{
	switch (outcome) {
	case SMTP_SENT:
		return "sent";
	case SMTP_BOUNCE:
		return "bounced";
	default:
		return "deferred";
	}
}

void
smtp_log_run(const struct smtp_run *run, double now)
{
	const struct smtp_job *job = run->job;
	double entry = job->queue_entry > 0 ? job->queue_entry : run->t_handoff;
	double conn = run->t_conn ? run->t_conn : now;
	double ready = run->t_ready ? run->t_ready : now;
	double parts[4], total = now - job->arrival;
	char delay[32], d[4][32];

	/* a: before the queue manager took it; b: waiting for a connection;
	 * c: connection set-up; d: transmission. */
	parts[0] = entry - job->arrival;
	parts[1] = conn - entry;
	parts[2] = ready - conn;
	parts[3] = now - ready;
	smtp_format_delay(total, delay, sizeof(delay));
	for (int i = 0; i < 4; i++)
		smtp_format_delay(parts[i], d[i], sizeof(d[i]));
	for (size_t i = 0; i < job->n_rcpts; i++) {
		const struct smtp_rcpt *r = &job->rcpts[i];

		stats_inc(STAT_DELIVERIES, status_word(r->outcome),
		    tls_level_name(job->tls_level));
		if (r->outcome == SMTP_DEFER)
			stats_deferral(r->reason);
		msg_info("%s: to=<%s>, relay=%s, delay=%s, delays=%s/%s/%s/%s, "
		    "dsn=%s, status=%s (%s)", job->queue_id, r->address,
		    r->relay ? r->relay : "none", delay, d[0], d[1], d[2],
		    d[3], r->dsn, status_word(r->outcome),
		    r->reason ? r->reason : "");
	}
}
