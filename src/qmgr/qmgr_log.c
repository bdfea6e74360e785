/* qmgr_log: the to= line for a recipient the queue manager decided on
 * itself (no DNS answer, a null MX, an error: route), in Postfix's form:
 *   ID: to=<r>, relay=none, delay=1.2, delays=0.1/1.1/0/0, dsn=5.4.4,
 *   status=bounced (Host or domain name not found. ...) */
#include "config.h"

#include <stdio.h>
#include <sys/time.h>

#include "tlsrelay/log.h"
#include "tlsrelay/stats.h"
#include "qmgr_int.h"

static const char *
status_name(enum smtp_outcome outcome)
{
	switch (outcome) {
	case SMTP_SENT:
		return "sent";
	case SMTP_BOUNCE:
		return "bounced";
	case SMTP_DEFER:
		break;
	}
	return "deferred";
}

void
qmgr_log_result(const struct qmgr_message *m, size_t index)
{
	const struct qmgr_result *r = &m->results[index];
	struct timeval tv;
	double now, arrival;
	char total[32], a[32], b[32];

	gettimeofday(&tv, NULL);
	now = (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
	arrival = (double)m->spool.arrival_sec +
	    (double)m->spool.arrival_usec / 1e6;
	smtp_format_delay(now - arrival, total, sizeof(total));
	smtp_format_delay(m->entered - arrival, a, sizeof(a));
	smtp_format_delay(now - m->entered, b, sizeof(b));
	/* Decided before any TLS policy applied. */
	stats_inc(STAT_DELIVERIES, status_name(r->outcome), "unknown");
	if (r->outcome == SMTP_DEFER)
		stats_deferral(r->reason);
	msg_info("%s: to=<%s>, relay=%s, delay=%s, delays=%s/%s/0/0, dsn=%s, "
	    "status=%s (%s)", m->id, m->spool.recipients[index].address,
	    r->relay, total, a, b, r->dsn, status_name(r->outcome),
	    r->reason);
}
