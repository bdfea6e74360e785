/* smtpd_deadline: Postfix's smtpd_per_request_deadline and
 * smtpd_min_data_rate. Without them smtpd_timeout limits each read, and a
 * client that sends one byte a little faster holds a session for ever;
 * with them a whole request (a command line; the message content) must
 * arrive within smtpd_timeout, the content's time growing by one second
 * per smtpd_min_data_rate bytes received. A worker under stress (see
 * smtpd_worker_stressed) turns them on and shortens smtpd_timeout to 10
 * seconds, as Postfix's stress defaults do. The deadline is the
 * connection's one-shot timer; it ends as a timeout. */
#include "config.h"

#include <time.h>

#include "tlsrelay/conn.h"
#include "tlsrelay/util.h"
#include "smtpd_int.h"
#include "smtpd_session.h"

/* Postfix: smtpd_timeout = ${stress?{10}:{300}}s. */
#define STRESS_TIMEOUT	10

/* The time limit now, and whether it covers whole requests. */
static long long
current_timeout(const struct smtpd_session *s, int *per_request)
{
	long long timeout = s->policy->timeout;

	*per_request = s->policy->per_request_deadline;
	if (smtpd_worker_stressed()) {
		*per_request = 1;
		if (timeout > STRESS_TIMEOUT)
			timeout = STRESS_TIMEOUT;
	}
	return timeout;
}

static void
arm(struct smtpd_session *s, long long at_ms)
{
	long long left = at_ms - monotonic_ms();

	s->deadline_ms = at_ms;
	/* Whole seconds, rounded up: the timer must not fire early. */
	conn_set_deadline(s->conn, left <= 0 ? 1 : (left + 999) / 1000);
}

void
session_deadline_wait(struct smtpd_session *s)
{
	int per_request;
	long long timeout = current_timeout(s, &per_request);

	/* Stress shortens the per-read limit too. */
	conn_set_idle_timeout(s->conn, timeout);
	if (per_request && s->deadline_ms == 0)
		arm(s, monotonic_ms() + timeout * 1000);
}

void
session_deadline_done(struct smtpd_session *s)
{
	if (s->deadline_ms == 0)
		return;
	s->deadline_ms = 0;
	conn_set_deadline(s->conn, 0);
}

void
session_deadline_data(struct smtpd_session *s, size_t n)
{
	int per_request;
	long long timeout = current_timeout(s, &per_request);

	if (!per_request)
		return;
	if (s->deadline_ms == 0) {
		arm(s, monotonic_ms() + timeout * 1000);
		return;
	}
	/* Postfix: N bytes add N / smtpd_min_data_rate seconds. */
	if (n > 0)
		arm(s, s->deadline_ms + (long long)n * 1000 /
		    s->policy->min_data_rate);
}
