/* smtpd_worker: one process, one libevent loop, every listener of the
 * generation it was started for. SIGTERM: stop accepting, end idle
 * sessions with 421, let a message in flight finish (and its commit in
 * the worker's commit thread, smtpd_commit.c), exit. SIGUSR1
 * (the supervisor's "retire" after SIGHUP): stop accepting and let every
 * session end by itself. */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "tlsrelay/log.h"
#include "tlsrelay/tls.h"
#include "smtpd_int.h"

struct worker {
	struct event_base *base;
	struct evconnlistener **evl;
	size_t n_evl;
	struct smtpd_listener *listeners;
	struct anvil *anvil;
	int index;
	size_t n_sessions;
	int stopping;
};

static struct worker worker;

static void
session_done(void)
{
	worker.n_sessions--;
	if (worker.stopping && worker.n_sessions == 0)
		event_base_loopexit(worker.base, NULL);
}

static void
accept_cb(struct evconnlistener *evl, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	const struct smtpd_listener *l = arg;
	int on = 1;

	(void)evl;
	/* Replies are whole lines already: do not let Nagle hold one back
	 * behind a TLS record (TLS 1.3 tickets, pipelined replies). */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	worker.n_sessions++;
	smtpd_session_start(worker.base, fd, sa, (socklen_t)salen, l,
	    worker.anvil, worker.index, session_done);
}

static void
accept_error_cb(struct evconnlistener *evl, void *arg)
{
	int err = EVUTIL_SOCKET_ERROR();

	(void)evl;
	(void)arg;
	/* EMFILE and friends: log and carry on; the listener stays. */
	msg_warn("accept: %s", evutil_socket_error_to_string(err));
}

static void
stop_accepting(void)
{
	for (size_t i = 0; i < worker.n_evl; i++)
		if (worker.evl[i])
			evconnlistener_free(worker.evl[i]);
	free(worker.evl);
	worker.evl = NULL;
	worker.n_evl = 0;
	worker.stopping = 1;
	if (worker.n_sessions == 0)
		event_base_loopexit(worker.base, NULL);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	if (!worker.stopping)
		stop_accepting();
	if (sig == SIGTERM)
		smtpd_sessions_shutdown();
}

int
smtpd_worker_run(struct smtpd_listener *listeners, size_t n_listeners,
    struct anvil *anvil, int worker_index)
{
	struct event *sigterm, *sigusr1;

	signal(SIGPIPE, SIG_IGN);
	memset(&worker, 0, sizeof(worker));
	worker.base = event_base_new();
	if (worker.base == NULL)
		msg_fatal("event_base_new failed");
	worker.listeners = listeners;
	worker.anvil = anvil;
	worker.index = worker_index;
	worker.evl = xcalloc(n_listeners, sizeof(*worker.evl));
	worker.n_evl = n_listeners;
	/* The SASL backends first: one may run the loop for its
	 * handshake, before any client can come. */
	for (size_t i = 0; i < n_listeners; i++)
		smtpd_auth_attach(listeners[i].policy, worker.base);
	for (size_t i = 0; i < n_listeners; i++) {
		/* Our copy of the socket closes with the listener, so a
		 * stopping worker no longer holds the port open. */
		worker.evl[i] = evconnlistener_new(worker.base, accept_cb,
		    &listeners[i], LEV_OPT_CLOSE_ON_FREE, -1, listeners[i].fd);
		if (worker.evl[i] == NULL)
			msg_fatal("cannot listen on service %s",
			    listeners[i].name);
		evconnlistener_set_error_cb(worker.evl[i], accept_error_cb);
	}
	/* Expired TLS sessions and ticket keys leave the shared store. */
	if (n_listeners > 0)
		tls_scache_maintenance(worker.base, listeners[0].conf);
	smtpd_commit_start(worker.base);
	sigterm = evsignal_new(worker.base, SIGTERM, signal_cb, NULL);
	sigusr1 = evsignal_new(worker.base, SIGUSR1, signal_cb, NULL);
	evsignal_add(sigterm, NULL);
	evsignal_add(sigusr1, NULL);

	event_base_dispatch(worker.base);

	if (!worker.stopping)
		stop_accepting();
	/* The loop ends with the last session, and a session waits for
	 * its commit: none is in flight now. */
	smtpd_commit_stop();
	event_free(sigterm);
	event_free(sigusr1);
	event_base_free(worker.base);
	return 0;
}
