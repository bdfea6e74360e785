/* smtpd_worker: one process, one libevent loop, every listener of the
 * generation it was started for. SIGTERM: stop accepting, end idle
 * sessions with 421, let a message in flight finish (and its commit in
 * the worker's commit thread, smtpd_commit.c), exit. SIGUSR1
 * (the supervisor's "retire" after SIGHUP): stop accepting and let every
 * session end by itself.
 *
 * Descriptors run out before anything else does: the worker keeps its
 * sessions under a cap below its descriptor limit (the client past it
 * gets "421 4.7.0 Server busy"), and when accept() fails for want of
 * descriptors or memory it stops accepting for a second instead of
 * failing again at once, as OpenSMTPD does; the warnings about either are
 * rate-limited. */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <strings.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/dns.h"
#include "tlsrelay/log.h"
#include "tlsrelay/stats.h"
#include "tlsrelay/tls.h"
#include "smtpd_int.h"

/* Descriptors a session may hold at once (the client's socket, a queue
 * file during DATA), and those the worker keeps for itself (listeners,
 * log, pipes, the session cache, DNS). */
#define FDS_PER_SESSION		2
#define FDS_RESERVED		64
/* After accept() ran out of descriptors or memory. */
#define ACCEPT_PAUSE_MS		1000
/* At most one warning of a kind per this many seconds. */
#define WARN_INTERVAL		10

struct worker {
	struct event_base *base;
	struct evconnlistener **evl;
	size_t n_evl;
	struct smtpd_listener *listeners;
	struct anvil *anvil;
	struct dns *dns;	/* client names, DNS-based restrictions */
	int index;
	size_t n_sessions;
	size_t max_sessions;	/* the cap below the descriptor limit */
	int stopping;
	struct event *resume_accept;	/* after an accept() failure */
};

/* A warning that a flood would repeat: once per WARN_INTERVAL, with the
 * number of those left out. */
struct rate_warning {
	time_t last;
	unsigned long suppressed;
};

static struct worker worker;

struct dns *
smtpd_worker_dns(void)
{
	return worker.dns;
}

static void
session_done(void)
{
	worker.n_sessions--;
	if (worker.stopping && worker.n_sessions == 0)
		event_base_loopexit(worker.base, NULL);
}

static int
warn_due(struct rate_warning *w, unsigned long *suppressed)
{
	time_t now = time(NULL);

	if (w->last != 0 && now - w->last < WARN_INTERVAL) {
		w->suppressed++;
		return 0;
	}
	*suppressed = w->suppressed;
	w->suppressed = 0;
	w->last = now;
	return 1;
}

int
smtpd_worker_stressed(void)
{
	static struct rate_warning warned;
	unsigned long suppressed;
	int stressed = worker.max_sessions != SIZE_MAX &&
	    worker.n_sessions * 4 >= worker.max_sessions * 3;

	if (stressed && warn_due(&warned, &suppressed))
		msg_warn("%zu sessions, three quarters of the %zu this worker "
		    "takes: stress mode: smtpd_timeout 10s, per-request "
		    "deadlines", worker.n_sessions, worker.max_sessions);
	return stressed;
}

/* The cap: what the descriptor limit leaves for sessions. */
static size_t
session_cap(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return SIZE_MAX;
	if (rl.rlim_cur <= FDS_RESERVED + FDS_PER_SESSION)
		return 1;
	return (size_t)(rl.rlim_cur - FDS_RESERVED) / FDS_PER_SESSION;
}

/* Over the cap: one line, written without waiting (the socket buffer of
 * a new connection has room), and the connection closed. */
static void
refuse_busy(evutil_socket_t fd, const struct smtpd_listener *l)
{
	static struct rate_warning warned;
	unsigned long suppressed;
	char line[512];
	int len;

	len = snprintf(line, sizeof(line), "421 4.7.0 %s Server busy, try "
	    "again later\r\n", conf_str(l->conf, P_myhostname));
	if (len > 0 && (size_t)len < sizeof(line))
		(void)!write(fd, line, (size_t)len);
	evutil_closesocket(fd);
	if (warn_due(&warned, &suppressed))
		msg_warn("service %s: %zu sessions, the most this worker's "
		    "descriptor limit allows: new connections get 421%s",
		    l->name, worker.n_sessions, suppressed ? " (repeated)" :
		    "");
}

static void
set_accepting(int on)
{
	for (size_t i = 0; i < worker.n_evl; i++)
		if (worker.evl[i] != NULL) {
			if (on)
				evconnlistener_enable(worker.evl[i]);
			else
				evconnlistener_disable(worker.evl[i]);
		}
}

static void
resume_accept_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (!worker.stopping)
		set_accepting(1);
}

static void
accept_cb(struct evconnlistener *evl, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	const struct smtpd_listener *l = arg;
	int on = 1;

	(void)evl;
	if (worker.n_sessions >= worker.max_sessions) {
		refuse_busy(fd, l);
		return;
	}
	/* Replies are whole lines already: do not let Nagle hold one back
	 * behind a TLS record (TLS 1.3 tickets, pipelined replies). */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	worker.n_sessions++;
	stats_inc(STAT_SMTPD_CONNECTIONS, l->name);
	smtpd_session_start(worker.base, fd, sa, (socklen_t)salen, l,
	    worker.anvil, worker.index, session_done);
}

static void
accept_error_cb(struct evconnlistener *evl, void *arg)
{
	static struct rate_warning warned;
	struct timeval pause = { ACCEPT_PAUSE_MS / 1000,
	    (ACCEPT_PAUSE_MS % 1000) * 1000 };
	int err = EVUTIL_SOCKET_ERROR();
	unsigned long suppressed;
	int exhausted = err == EMFILE || err == ENFILE || err == ENOBUFS ||
	    err == ENOMEM;

	(void)evl;
	(void)arg;
	/* The connection stays in the backlog and would fail again at
	 * once: pause every listener until some descriptors are free. */
	if (exhausted) {
		set_accepting(0);
		event_add(worker.resume_accept, &pause);
	}
	if (warn_due(&warned, &suppressed))
		msg_warn("accept: %s%s%s", evutil_socket_error_to_string(err),
		    exhausted ? ": not accepting for a second" : "",
		    suppressed ? " (repeated)" : "");
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
	worker.max_sessions = session_cap();
	worker.resume_accept = evtimer_new(worker.base, resume_accept_cb,
	    NULL);
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
	/* One resolver for the worker, asking the servers main.cf names.
	 * With smtp_dns_support_level = disabled it sends nothing either:
	 * client names stay "unknown" and DNS restrictions see temporary
	 * failures. */
	if (n_listeners > 0) {
		const struct conf *conf = listeners[0].conf;
		char *err = NULL;

		worker.dns = dns_new(worker.base, conf_str(conf,
		    P_tlsrelay_dns_servers), strcasecmp(conf_str(conf,
		    P_smtp_dns_support_level), "disabled") != 0, &err);
		if (worker.dns == NULL)
			msg_fatal("smtpd: %s", err);
	}
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
	event_free(worker.resume_accept);
	dns_free(worker.dns);
	event_free(sigterm);
	event_free(sigusr1);
	event_base_free(worker.base);
	return 0;
}
