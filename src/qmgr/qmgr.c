/* qmgr: the queue manager process. One libevent loop holds the DNS
 * resolver, the smtp client pool, the notification FIFO and one timer.
 * Work arrives three ways: a notice from smtpd ("I<id>") for a new
 * message, `tlsrelay queue flush` ("F") or a queue operation ("R"), and
 * the timer, which rescans incoming/ and takes every deferred message
 * whose retry time (its mtime) has come. All of it enters the active set
 * through the intake (qmgr_intake.c), bounded by
 * qmgr_message_active_limit: what finds the set full is taken the moment
 * room frees, and a notice that may have been lost costs a rescan then,
 * never a wait for the timer. At start-up, messages left in active/ by a
 * crash go back to incoming/: their delivered recipients are marked in
 * the file, so only the rest are tried again.
 *
 * Stopping: SIGTERM takes no new work and gives the deliveries in flight
 * QMGR_DRAIN_TIME (a reload, or the end of the daemon's drain). While the
 * daemon drains (tlsrelay_drain_time, supervisor.c) the queue manager
 * works as usual, mail the last sessions commit included; SIGUSR2, once
 * those sessions have ended, has it exit as soon as the queue holds
 * nothing more to deliver now. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/pidfile.h"
#include "tlsrelay/maildrop.h"
#include "tlsrelay/tls.h"
#include "tlsrelay/tls_client.h"
#include "tlsrelay/util.h"
#include "qmgr_int.h"

/* Notices remembered while the active set is full; more cost a rescan. */
#define QMGR_INTAKE_CAP 100000
/* The notification FIFO's size: about 35,000 notices (Linux's default
 * for an unprivileged process's pipe-max-size). */
#define QMGR_FIFO_SIZE (1024 * 1024)
/* After SIGTERM, deliveries in flight get this long to finish; what is
 * left stays in active/ for the next queue manager. */
#define QMGR_DRAIN_TIME 20

static struct qmgr qmgr;
static struct event *scan_timer;
static struct event *notify_event;
static int notify_fd = -1;

static size_t
active_room(void *arg)
{
	(void)arg;
	if (qmgr.draining || qmgr.n_active >= qmgr.active_limit)
		return 0;
	return qmgr.active_limit - qmgr.n_active;
}

static void
activate(void *arg, const char *dir, const char *id)
{
	(void)arg;
	qmgr_message_activate(&qmgr, dir, id);
}

static void rescan(void *arg);

static const struct qmgr_intake_ops intake_ops = {
	active_room, activate, rescan,
};

/* Calls fn for each queue file name in dir, until fn says stop (1). */
static void
for_each_file(const char *dir, int (*fn)(const char *id, const char *dir))
{
	char *path = xasprintf("%s/%s", qmgr.queue_dir, dir);
	DIR *d = opendir(path);
	struct dirent *de;

	if (d == NULL) {
		msg_warn("opendir %s: %s", path, strerror(errno));
		free(path);
		return;
	}
	while ((de = readdir(d)) != NULL && !qmgr.stopping) {
		if (de->d_name[0] == '.')
			continue;
		if (fn(de->d_name, dir))
			break;
	}
	closedir(d);
	free(path);
}

static int
requeue_active(const char *id, const char *dir)
{
	char *from = xasprintf("%s/%s/%s", qmgr.queue_dir, dir, id);
	char *to = xasprintf("%s/incoming/%s", qmgr.queue_dir, id);

	if (rename(from, to) < 0)
		msg_warn("rename %s: %s", from, strerror(errno));
	free(from);
	free(to);
	return 0;
}

/* Takes dir/id into the active set; stops the scan when the set is full
 * (the intake then owes a rescan when room frees). */
static int
take_incoming(const char *id, const char *dir)
{
	if (active_room(NULL) == 0) {
		if (!qmgr.draining)
			qmgr_intake_missed(qmgr.intake);
		return 1;
	}
	qmgr_message_activate(&qmgr, dir, id);
	return 0;
}

static int flush_all;
static time_t next_due;

static int
take_deferred(const char *id, const char *dir)
{
	char *path = xasprintf("%s/%s/%s", qmgr.queue_dir, dir, id);
	struct stat st;
	time_t now = time(NULL);
	int stop = 0;

	if (stat(path, &st) == 0) {
		if (flush_all || st.st_mtime <= now)
			stop = take_incoming(id, dir);
		else if (next_due == 0 || st.st_mtime < next_due)
			next_due = st.st_mtime;
	}
	free(path);
	return stop;
}

static void
schedule_scan(void)
{
	time_t now = time(NULL);
	long long wait = qmgr.queue_run_delay;
	struct timeval tv;

	if (next_due != 0 && next_due - now < wait)
		wait = next_due > now ? next_due - now : 0;
	tv.tv_sec = (time_t)wait;
	tv.tv_usec = 0;
	evtimer_add(scan_timer, &tv);
}

static void
scan_queue(int flush)
{
	static time_t last_purge;

	flush_all = flush;
	next_due = 0;
	/* What a crash left half-received: never acknowledged, never to be
	 * delivered, only taking space. At start, then once a minute at
	 * most: a burst rescans often. */
	if (time(NULL) - last_purge >= 60) {
		last_purge = time(NULL);
		spool_purge_tmp(qmgr.queue_dir);
	}
	/* Deferred mail whose time has come first: new mail has its
	 * notices, and a scan is deferred mail's only way in. */
	for_each_file("deferred", take_deferred);
	for_each_file("incoming", take_incoming);
	flush_all = 0;
	schedule_scan();
}

/* The intake's rescan: work on disk that no notice names. */
static void
rescan(void *arg)
{
	(void)arg;
	scan_queue(0);
}

static void
scan_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (qmgr.draining) {
		struct timeval poll = { .tv_sec = 0, .tv_usec = 100000 };

		if (qmgr.n_active == 0)
			event_base_loopbreak(qmgr.base);
		else
			evtimer_add(scan_timer, &poll);
		return;
	}
	scan_queue(0);
}

/* Local mail (src/maildrop/pickup.c): maildrop/ is read at start, on
 * the sendmail command's notice, and every QMGR_PICKUP_POLL seconds for
 * a notice that could not be sent (as Postfix's pickup polls). */
#define QMGR_PICKUP_POLL	60

static struct pickup_config pickup_cfg;
static struct event *pickup_timer;

static void
picked_up(void *arg, const char *id)
{
	(void)arg;
	qmgr_intake_add(qmgr.intake, "incoming", id);
}

static void
pickup_now(void)
{
	if (!qmgr.draining)
		(void)pickup_scan(&pickup_cfg, picked_up, NULL);
}

static void
pickup_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeval poll = { .tv_sec = QMGR_PICKUP_POLL, .tv_usec = 0 };

	(void)fd;
	(void)what;
	(void)arg;
	pickup_now();
	evtimer_add(pickup_timer, &poll);
}

static void
drain_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	msg_warn("%zu messages still in delivery after %d seconds; leaving "
	    "them for the next queue manager", qmgr.n_active,
	    QMGR_DRAIN_TIME);
	event_base_loopbreak(qmgr.base);
}

static void
notice(void *arg, char request, const char *id)
{
	(void)arg;
	switch (request) {
	case 'I':
		qmgr_intake_add(qmgr.intake, "incoming", id);
		break;
	case 'F':
		if (*id)
			qmgr_intake_add(qmgr.intake, "deferred", id);
		else
			scan_queue(1);
		break;
	case 'R':
		scan_queue(0);
		break;
	case 'P':
		pickup_now();
		break;
	default:
		msg_warn("unknown queue manager request '%c'", request);
	}
}

static struct queue_notify_reader notify_reader;

static int notify_fifo_size;

static void
notify_cb(evutil_socket_t fd, short what, void *arg)
{
	int queued = 0;

	(void)what;
	(void)arg;
	/* A FIFO that was (nearly) full may have refused a notice: smtpd
	 * drops it then, and the file waits in incoming/ for a scan. */
	if (ioctl(fd, FIONREAD, &queued) == 0 && notify_fifo_size > 0 &&
	    queued >= notify_fifo_size - QUEUE_NOTIFY_RECORD_MAX)
		qmgr_intake_missed(qmgr.intake);
	if (queue_notify_drain(fd, &notify_reader, notice, NULL) < 0)
		msg_warn("read %s/public/qmgr: %s", qmgr.queue_dir,
		    strerror(errno));
	qmgr_intake_room_freed(qmgr.intake);
}

static struct event *drain_deadline;
static struct event *idle_check;

/* After SIGUSR2: nothing active, nothing waiting for room, and a last
 * scan (incoming/ that no notice named yet, deferred mail whose time has
 * come) finds nothing either: what is left waits for its retry time, on
 * disk, for the next start. */
static void
idle_check_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeval poll = { .tv_sec = 0, .tv_usec = 100000 };

	(void)fd;
	(void)what;
	(void)arg;
	if (qmgr.draining)	/* SIGTERM came: the scan timer ends it */
		return;
	if (qmgr.n_active == 0 && qmgr_intake_waiting(qmgr.intake) == 0) {
		scan_queue(0);
		if (qmgr.n_active == 0 &&
		    qmgr_intake_waiting(qmgr.intake) == 0) {
			msg_info("nothing more to deliver now: stopping");
			event_base_loopbreak(qmgr.base);
			return;
		}
	}
	evtimer_add(idle_check, &poll);
}

static void
stop_when_idle_cb(evutil_socket_t sig, short what, void *arg)
{
	struct timeval now = { .tv_sec = 0, .tv_usec = 0 };

	(void)sig;
	(void)what;
	(void)arg;
	if (!evtimer_pending(idle_check, NULL))
		evtimer_add(idle_check, &now);
}

/* SIGTERM: take no new work, let the deliveries in flight finish. The
 * scan timer, now polling, ends the loop when nothing is active. */
static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct timeval now = { .tv_sec = 0, .tv_usec = 0 };
	struct timeval deadline = { .tv_sec = QMGR_DRAIN_TIME, .tv_usec = 0 };

	(void)sig;
	(void)what;
	(void)arg;
	if (qmgr.draining)
		return;
	qmgr.draining = 1;
	event_del(notify_event);
	evtimer_del(scan_timer);
	evtimer_add(scan_timer, &now);
	drain_deadline = evtimer_new(qmgr.base, drain_deadline_cb, NULL);
	evtimer_add(drain_deadline, &deadline);
}

static int
fallback_setup(const struct conf *conf, char **err)
{
	char **list = strlist_split(conf_str(conf, P_smtp_fallback_relay),
	    LIST_SEPARATORS, NULL);
	unsigned short port = 25;
	int rc = 0;

	if (list[0] != NULL) {
		/* Forms without a port use smtp_tcp_port, as for MX hosts;
		 * the router has already checked that it is valid. */
		(void)qmgr_parse_port(conf_str(conf, P_smtp_tcp_port), &port);
		if (list[1] != NULL)
			msg_warn("smtp_fallback_relay: only the first next hop "
			    "is used: %s", list[0]);
		if (qmgr_parse_nexthop(list[0], port, &qmgr.fallback) < 0) {
			*err = xasprintf("smtp_fallback_relay: bad next hop: "
			    "%s", list[0]);
			rc = -1;
		}
	}
	strlist_free(list);
	return rc;
}

int
qmgr_check_conf(const struct conf *conf, char **err)
{
	struct qmgr_router *router;
	struct tls_policy_maps *policies;
	char *csv;

	if ((router = qmgr_router_new(conf, err)) == NULL)
		return -1;
	qmgr_router_free(router);
	if ((policies = tls_policy_maps_open(conf, err)) == NULL)
		return -1;
	tls_policy_maps_close(policies);
	if ((csv = dns_servers_csv(conf_str(conf, P_tlsrelay_dns_servers),
	    err)) == NULL)
		return -1;
	free(csv);
	memset(&qmgr.fallback, 0, sizeof(qmgr.fallback));
	if (fallback_setup(conf, err) < 0)
		return -1;
	qmgr_route_clear(&qmgr.fallback);
	return 0;
}

static int
qmgr_setup(const struct conf *conf, struct tls_client *tls, char **err)
{
	char *showq_err = NULL;
	const char *level = conf_str(conf, P_smtp_dns_support_level);

	memset(&qmgr, 0, sizeof(qmgr));
	qmgr.conf = conf;
	qmgr.queue_dir = conf_str(conf, P_queue_directory);
	qmgr.myhostname = conf_str(conf, P_myhostname);
	qmgr.min_backoff = conf_time(conf, P_minimal_backoff_time);
	qmgr.max_backoff = conf_time(conf, P_maximal_backoff_time);
	qmgr.queue_run_delay = conf_time(conf, P_queue_run_delay);
	qmgr.max_lifetime = conf_time(conf, P_maximal_queue_lifetime);
	qmgr.bounce_lifetime = conf_time(conf, P_bounce_queue_lifetime);
	qmgr.families = dns_families(conf_str(conf, P_inet_protocols));
	qmgr.mx_address_limit = (size_t)conf_int(conf,
	    P_smtp_mx_address_limit);
	qmgr.active_limit = (size_t)conf_int(conf,
	    P_qmgr_message_active_limit);
	if (qmgr.active_limit < 1)
		qmgr.active_limit = 1;
	if (qmgr.queue_run_delay < 1)
		qmgr.queue_run_delay = 1;
	if ((qmgr.base = event_base_new()) == NULL) {
		*err = xstrdup("event_base_new failed");
		return -1;
	}
	/* The value was checked with the configuration (PARAM_ENUM). */
	if ((qmgr.dns = dns_new(qmgr.base, conf_str(conf,
	    P_tlsrelay_dns_servers), dns_support_level(level, err),
	    err)) == NULL)
		return -1;
	if ((qmgr.pool = smtp_pool_new(qmgr.base, conf, tls, err)) == NULL)
		return -1;
	if ((qmgr.router = qmgr_router_new(conf, err)) == NULL)
		return -1;
	qmgr.self = qmgr_self_new(conf);
	if ((qmgr.tls_policies = tls_policy_maps_open(conf, err)) == NULL)
		return -1;
	if (qmgr_mtasts_setup(&qmgr, err) < 0)
		return -1;
	if (fallback_setup(conf, err) < 0)
		return -1;
	if ((notify_fd = queue_notify_listen(qmgr.queue_dir, err)) < 0)
		return -1;
	(void)fcntl(notify_fd, F_SETPIPE_SZ, QMGR_FIFO_SIZE);
	notify_fifo_size = fcntl(notify_fd, F_GETPIPE_SZ);
	if ((qmgr.syncer = spool_syncer_new(qmgr.queue_dir, err)) == NULL)
		return -1;
	/* Without it only root and mail_owner can list the queue: worth a
	 * warning, not a queue manager that does not deliver. */
	if (qmgr_showq_start(qmgr.base, qmgr.queue_dir, &showq_err) < 0) {
		msg_warn("mailq for users: %s", showq_err);
		free(showq_err);
	}
	qmgr.intake = qmgr_intake_new(qmgr.base, QMGR_INTAKE_CAP, &intake_ops,
	    NULL);
	return 0;
}

int
qmgr_run(const struct conf *conf, struct tls_client *tls)
{
	struct event *sigterm, *sigusr2;
	sigset_t stop_signals;
	char *err = NULL;
	int lock_fd;

	signal(SIGPIPE, SIG_IGN);
	/* Held until exit (the descriptor is never closed): no second
	 * queue manager works on this queue meanwhile. */
	if ((lock_fd = pidfile_lock_qmgr(conf_str(conf, P_queue_directory),
	    &err)) < 0 || pidfile_write(lock_fd, getpid(), &err) < 0)
		msg_fatal("queue manager: %s", err);
	if (qmgr_setup(conf, tls, &err) < 0)
		msg_fatal("queue manager: %s", err);
	notify_event = event_new(qmgr.base, notify_fd, EV_READ | EV_PERSIST,
	    notify_cb, NULL);
	event_add(notify_event, NULL);
	scan_timer = evtimer_new(qmgr.base, scan_timer_cb, NULL);
	sigterm = evsignal_new(qmgr.base, SIGTERM, signal_cb, NULL);
	evsignal_add(sigterm, NULL);
	idle_check = evtimer_new(qmgr.base, idle_check_cb, NULL);
	sigusr2 = evsignal_new(qmgr.base, SIGUSR2, stop_when_idle_cb, NULL);
	evsignal_add(sigusr2, NULL);
	/* The supervisor started us with both blocked: one sent before now
	 * waited, and is taken by the handlers above. */
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGUSR2);
	sigprocmask(SIG_UNBLOCK, &stop_signals, NULL);

	spool_spare_purge(qmgr.queue_dir);
	for_each_file("active", requeue_active);
	scan_queue(0);
	pickup_cfg.queue_dir = qmgr.queue_dir;
	pickup_cfg.myhostname = qmgr.myhostname;
	pickup_cfg.myorigin = conf_str(conf, P_myorigin);
	pickup_cfg.message_size_limit = conf_size(conf, P_message_size_limit);
	pickup_timer = evtimer_new(qmgr.base, pickup_timer_cb, NULL);
	pickup_timer_cb(-1, 0, NULL);
	event_base_dispatch(qmgr.base);

	/* Deliveries still running are abandoned: their files stay in
	 * active/ and the next queue manager takes them up again. */
	qmgr.stopping = 1;
	smtp_pool_free(qmgr.pool);
	dns_free(qmgr.dns);
	qmgr_message_abandon_all(&qmgr);
	qmgr_dane_cache_flush();
	qmgr_mtasts_shutdown();
	qmgr_intake_free(qmgr.intake);
	spool_syncer_free(qmgr.syncer);
	qmgr_router_free(qmgr.router);
	qmgr_self_free(qmgr.self);
	tls_policy_maps_close(qmgr.tls_policies);
	qmgr_route_clear(&qmgr.fallback);
	event_free(notify_event);
	event_free(scan_timer);
	event_free(pickup_timer);
	qmgr_showq_stop();
	if (drain_deadline)
		event_free(drain_deadline);
	event_free(sigterm);
	event_free(sigusr2);
	event_free(idle_check);
	close(notify_fd);
	event_base_free(qmgr.base);
	return 0;
}
