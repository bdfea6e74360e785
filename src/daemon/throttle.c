/* throttle: how soon a child process that ended by itself may be
 * started again. Postfix's master stops forking a service whose child
 * failed before doing any work for service_throttle_time ("bad command
 * startup -- throttling"). We cannot tell work from none, so the time
 * the child ran stands in for it: a child that ends less than
 * service_throttle_time after it started is restarted after a pause of
 * 1 second, then 2, 4, ... up to service_throttle_time while its
 * successors keep ending as soon; one that ran longer is restarted at
 * once and the pause starts again at 1 second. A passing problem costs
 * a second, a lasting one a start per service_throttle_time, never a
 * start per second for ever. One line per pause goes to the log. */
#include "config.h"

#include <string.h>

#include "tlsrelay/log.h"
#include "daemon.h"

void
throttle_reset(struct throttle *t, const char *service, long long max_pause)
{
	memset(t, 0, sizeof(*t));
	t->service = service;
	t->max_pause = max_pause < 1 ? 1 : max_pause;
}

void
throttle_child_ended(struct throttle *t, time_t started, time_t now)
{
	if (now - started >= t->max_pause) {
		t->pause = 0;
		t->until = now;
		return;
	}
	/* Its siblings that end during the same pause add nothing. */
	if (t->until > now)
		return;
	t->pause = t->pause == 0 ? 1 : t->pause * 2;
	if (t->pause > t->max_pause)
		t->pause = t->max_pause;
	t->until = now + (time_t)t->pause;
	msg_warn("%s: bad command startup -- throttling for %lld second%s",
	    t->service, t->pause, t->pause == 1 ? "" : "s");
}

void
throttle_fork_failed(struct throttle *t, time_t now)
{
	/* The system's trouble, not the service's: try again soon. */
	if (t->until < now + 1)
		t->until = now + 1;
}

int
throttle_ready(const struct throttle *t, time_t now)
{
	return now >= t->until;
}
