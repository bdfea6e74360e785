/* smtpd_commit: the worker's end of its commit thread (src/queue/
 * spool_committer.c). Sessions hand their finished queue files over
 * during a pass of the event loop; at the end of that pass all of them go
 * to the thread at once, so sessions whose final dots were read together
 * share one fsync of incoming/. The results come back through a pipe the
 * loop watches, and each session then sends its answer. */
#include "config.h"

#include <event2/event.h>

#include "tlsrelay/log.h"
#include "smtpd_session.h"

static struct {
	struct spool_committer *committer;
	struct event *kick;	/* made active by a hand-over: runs after
				 * every callback of the current pass */
	struct event *results;	/* the committer's pipe is readable */
} commit;

static void
kick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	spool_committer_kick(commit.committer);
}

static void
results_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	spool_committer_collect(commit.committer);
}

void
smtpd_commit_start(struct event_base *base)
{
	char *err = NULL;

	commit.committer = spool_committer_new(&err);
	if (commit.committer == NULL)
		msg_fatal("%s", err);
	commit.kick = event_new(base, -1, 0, kick_cb, NULL);
	commit.results = event_new(base,
	    spool_committer_fd(commit.committer), EV_READ | EV_PERSIST,
	    results_cb, NULL);
	if (commit.kick == NULL || commit.results == NULL ||
	    event_add(commit.results, NULL) < 0)
		msg_fatal("cannot watch the commit thread");
}

void
smtpd_commit(struct spool_writer *w, spool_commit_cb done, void *arg)
{
	spool_committer_submit(commit.committer, w, done, arg);
	/* Once per pass: a second activation is a no-op. */
	event_active(commit.kick, EV_TIMEOUT, 0);
}

void
smtpd_commit_stop(void)
{
	if (commit.kick)
		event_free(commit.kick);
	if (commit.results)
		event_free(commit.results);
	spool_committer_free(commit.committer);
	commit.kick = commit.results = NULL;
	commit.committer = NULL;
}
