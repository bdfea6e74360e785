/* supervisor: the tlsrelayd parent. It reads the configuration and every
 * private key, binds the listeners, forks the smtpd workers and the queue
 * manager and then only waits for signals:
 *   SIGCHLD  a child ended: restart it if it was not asked to stop, after
 *            a pause when it keeps ending soon after its start
 *            (throttle.c);
 *   SIGHUP   read the configuration and certificates again; on success new
 *            workers take over and the old ones finish their sessions;
 *   SIGTERM  (or SIGINT) drain and exit: the listeners close at once,
 *            workers finish their sessions, the queue manager delivers
 *            what is queued for up to tlsrelay_drain_time; what is left
 *            stays on disk for the next start. A second SIGTERM ends the
 *            drain at once.
 * Signals are taken synchronously with sigtimedwait(), so no handler ever
 * runs in the middle of something. */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/pidfile.h"
#include "tlsrelay/qmgr.h"
#include "tlsrelay/queue.h"
#include "tlsrelay/setup.h"
#include "tlsrelay/anvil.h"
#include "tlsrelay/smtpd.h"
#include "tlsrelay/stats.h"
#include "tlsrelay/tls.h"
#include "tlsrelay/tls_client.h"
#include "tlsrelay/util.h"
#include "daemon.h"

#define MAX_PROCS	64	/* anvil columns: current + retiring workers */
#define QMGR_SLOT	MAX_PROCS	/* the queue manager's stats slot */
#define STOP_GRACE	30	/* seconds a worker gets to finish on SIGTERM,
				 * and the queue manager after its drain */

struct proc {
	pid_t pid;
	struct generation *gen;
	time_t started;
	int retiring;
};

static struct proc procs[MAX_PROCS];
static struct generation *current;
static struct generation *retired;
static struct anvil *anvil;
static struct stats *stats;
static struct run_user run_user;
static sigset_t saved_mask;
static int restart_pending;
static struct throttle smtpd_throttle;

/* A service the supervisor runs exactly one of, restarted under its own
 * throttle when it ends by itself. */
struct single {
	pid_t pid;
	time_t started;
	int wanted;		/* start one when none runs */
	struct throttle throttle;
};

/* The queue manager: at most one, and a new one only after the old one
 * has exited, so no message in active/ is worked on twice. */
static struct single qmgr_proc;
/* The status process (metrics and health endpoints), for the current
 * generation's sockets. */
static struct single status_proc;
/* queue_directory/pid/master.pid, locked while we run (pidfile.h). */
static int pid_fd = -1;
/* Seconds between looks at the certificate files, and STATUS= lines. */
#define CERT_CHECK_INTERVAL	5
#define STATUS_INTERVAL		10
static time_t next_cert_check, next_status;
static pid_t supervisor_pid;	/* what the children watch */

/* In a child: the lock is the supervisor's alone, so that a child that
 * outlives it does not keep a new daemon from starting. */
static void
close_pid_file(void)
{
	if (pid_fd >= 0)
		close(pid_fd);
	pid_fd = -1;
}

static int
open_log(const struct conf *conf, int foreground, char **err)
{
	log_set_service(conf_str(conf, P_syslog_name), "master");
	return log_open(conf_str(conf, P_maillog_file), foreground,
	    conf_str(conf, P_syslog_facility), err);
}

/* Every connection costs a descriptor: take all the hard limit allows
 * (systemd's default soft limit is 1024), for the workers to inherit. */
static void
raise_descriptor_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		msg_warn("setrlimit RLIMIT_NOFILE %llu: %s",
		    (unsigned long long)rl.rlim_max, strerror(errno));
}

/* A supervisor killed with SIGKILL leaves no one to stop its queue
 * manager if that one somehow outlived it (its children follow it, see
 * proc_follow_parent): two on one queue would send mail twice. */
static void
check_no_qmgr_left(const char *queue)
{
	pid_t left = pidfile_qmgr_running(queue);

	if (left != 0)
		msg_fatal("a queue manager (PID %ld) of an earlier tlsrelayd "
		    "still runs on %s: stop it (kill %ld) before starting",
		    (long)left, queue, (long)left);
}

/* In an smtpd worker, which talks to any client on the network: the
 * client's keys are the queue manager's, so the worker frees them
 * (OpenSSL clears a private key as it frees it; what OpenSSL's parsing
 * left in freed memory stays, as for every key the supervisor reads). */
static void
forget_client_keys(void)
{
	tls_client_free(current->client_tls);
	current->client_tls = NULL;
	for (struct generation *gen = retired; gen != NULL; gen = gen->next) {
		tls_client_free(gen->client_tls);
		gen->client_tls = NULL;
	}
}

/* Every child is forked here. The child first lets go of what is not
 * its job's, before anything that takes time: the listeners of the other
 * kinds of children (a worker holding the metrics socket, or the status
 * process an SMTP port, keeps that port open after a stop, and makes it
 * look served by the wrong process) and the supervisor's PID lock. */
static pid_t
fork_child(enum listen_role role)
{
	pid_t pid = fork();

	if (pid == 0) {
		listen_keep_only(role);
		close_pid_file();
	}
	return pid;
}

static void
start_worker(struct generation *gen)
{
	int slot;
	pid_t pid;

	for (slot = 0; slot < MAX_PROCS; slot++)
		if (procs[slot].pid == 0)
			break;
	if (slot == MAX_PROCS) {
		msg_warn("too many processes; not starting another worker");
		return;
	}
	pid = fork_child(LISTEN_SMTPD);
	if (pid < 0) {
		msg_warn("fork: %s", strerror(errno));
		restart_pending = 1;
		throttle_fork_failed(&smtpd_throttle, time(NULL));
		return;
	}
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, &saved_mask, NULL);
		log_after_fork("smtpd");
		forget_client_keys();
		run_user_drop(&run_user);
		proc_follow_parent(supervisor_pid);
		stats_attach(stats, slot, STATS_PROC_SMTPD);
		exit(smtpd_worker_run(gen->listeners, gen->n_listeners, anvil,
		    slot));
	}
	procs[slot].pid = pid;
	procs[slot].gen = gen;
	procs[slot].started = time(NULL);
	procs[slot].retiring = 0;
	gen->live_workers++;
}

static void
log_exit(const char *what, pid_t pid, int status)
{
	if (WIFSIGNALED(status))
		msg_warn("process %s pid %ld killed by signal %d", what,
		    (long)pid, WTERMSIG(status));
	else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		msg_warn("process %s pid %ld exit status %d", what,
		    (long)pid, WEXITSTATUS(status));
	else
		msg_warn("process %s pid %ld exited unexpectedly", what,
		    (long)pid);
}

/* Fork one for SVC, holding the listeners of ROLE: the child gets 0, the
 * parent the PID, or -1 when the fork failed and another try is due after
 * the throttle's pause. */
static pid_t
single_fork(struct single *svc, enum listen_role role)
{
	pid_t pid;

	svc->wanted = 0;
	if ((pid = fork_child(role)) < 0) {
		msg_warn("fork: %s", strerror(errno));
		svc->wanted = 1;
		throttle_fork_failed(&svc->throttle, time(NULL));
	} else if (pid > 0) {
		svc->pid = pid;
		svc->started = time(NULL);
	}
	return pid;
}

/* Whether PID was SVC's; one that ended by itself is logged and started
 * again after its throttle's pause, unless we are stopping. */
static int
single_reaped(struct single *svc, pid_t pid, int wstatus, int stopping)
{
	if (pid != svc->pid)
		return 0;
	svc->pid = 0;
	if (!stopping && !svc->wanted) {
		log_exit(svc->throttle.service, pid, wstatus);
		svc->wanted = 1;
		throttle_child_ended(&svc->throttle, svc->started, time(NULL));
	}
	return 1;
}

static int
single_ready(const struct single *svc)
{
	return svc->wanted && svc->pid == 0 &&
	    throttle_ready(&svc->throttle, time(NULL));
}

static void
start_qmgr(void)
{
	if (!current->run_qmgr || qmgr_proc.pid != 0) {
		qmgr_proc.wanted = 0;
		return;
	}
	/* The queue manager never accepts connections. */
	if (single_fork(&qmgr_proc, LISTEN_NONE) == 0) {
		sigset_t mask = saved_mask;

		/* SIGTERM and SIGUSR2 (stop; stop when idle) wait until
		 * qmgr_run has its handlers: sent during a slow start they
		 * would otherwise kill it with its work undone. */
		sigaddset(&mask, SIGTERM);
		sigaddset(&mask, SIGUSR2);
		sigprocmask(SIG_SETMASK, &mask, NULL);
		log_after_fork("qmgr");
		/* Its keys were read by the supervisor, as root. */
		run_user_drop(&run_user);
		proc_follow_parent(supervisor_pid);
		stats_attach(stats, QMGR_SLOT, STATS_PROC_QMGR);
		exit(qmgr_run(current->conf, current->client_tls));
	}
}

static void
start_status(void)
{
	if (current->n_metrics + current->n_health == 0 ||
	    status_proc.pid != 0) {
		status_proc.wanted = 0;
		return;
	}
	if (single_fork(&status_proc, LISTEN_STATUS) == 0) {
		sigprocmask(SIG_SETMASK, &saved_mask, NULL);
		log_after_fork("status");
		/* It talks HTTP to the network: no key of any kind. */
		forget_client_keys();
		generation_forget_server_keys(current);
		for (struct generation *g = retired; g != NULL; g = g->next)
			generation_forget_server_keys(g);
		run_user_drop(&run_user);
		proc_follow_parent(supervisor_pid);
		exit(status_server_run(current->conf, stats,
		    current->metrics_fds, current->n_metrics,
		    current->health_fds, current->n_health));
	}
}

/* At the very end of a stop: the health endpoint said 503 until now. */
static void
stop_status(void)
{
	int status;

	if (status_proc.pid == 0)
		return;
	run_user_kill(&run_user, status_proc.pid, SIGTERM);
	while (waitpid(status_proc.pid, &status, 0) < 0 && errno == EINTR)
		;
	status_proc.pid = 0;
}

static void
start_missing_workers(void)
{
	restart_pending = 0;
	while (current->live_workers < current->n_workers) {
		int before = current->live_workers;

		start_worker(current);
		if (current->live_workers == before)
			break;
	}
}

static void
release_generation(struct generation *gen)
{
	struct generation **pp;

	for (pp = &retired; *pp; pp = &(*pp)->next)
		if (*pp == gen) {
			*pp = gen->next;
			generation_free(gen);
			return;
		}
}

static void
reap_children(int stopping)
{
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		int slot;

		if (single_reaped(&status_proc, pid, status, stopping))
			continue;
		if (single_reaped(&qmgr_proc, pid, status, stopping)) {
			stats_slot_release(stats, QMGR_SLOT);
			continue;
		}

		for (slot = 0; slot < MAX_PROCS; slot++)
			if (procs[slot].pid == pid)
				break;
		if (slot == MAX_PROCS)
			continue;
		anvil_worker_reset(anvil, slot);
		stats_slot_release(stats, slot);
		procs[slot].pid = 0;
		/* A worker that died may have committed a message without
		 * telling the queue manager: have it look now, not at its
		 * next scan minutes away. */
		if (!stopping && qmgr_proc.pid != 0 && (WIFSIGNALED(status) ||
		    (WIFEXITED(status) && WEXITSTATUS(status) != 0)))
			(void)queue_notify(conf_str(current->conf,
			    P_queue_directory), QUEUE_NOTIFY_RESCAN, "");
		procs[slot].gen->live_workers--;
		if (procs[slot].gen != current) {
			if (procs[slot].gen->live_workers == 0)
				release_generation(procs[slot].gen);
			continue;
		}
		if (stopping || procs[slot].retiring)
			continue;
		log_exit("smtpd", pid, status);
		restart_pending = 1;
		throttle_child_ended(&smtpd_throttle, procs[slot].started,
		    time(NULL));
	}
}

/* Into the log, at start and on reload: nobody would guess that mail is
 * taken with a 250 and then left in the queue. */
static void
warn_without_qmgr(const char *confdir)
{
	if (!current->run_qmgr)
		msg_warn("%s/master.cf: no queue manager service (Postfix's "
		    "\"qmgr unix n - n 300 1 qmgr\"): mail will be accepted "
		    "and not delivered", confdir);
}

static void
reset_throttles(void)
{
	long long pause = conf_time(current->conf, P_service_throttle_time);

	throttle_reset(&smtpd_throttle, "smtpd", pause);
	throttle_reset(&qmgr_proc.throttle, "qmgr", pause);
	throttle_reset(&status_proc.throttle, "status", pause);
}

static int
reload(const char *confdir, int foreground)
{
	struct generation *gen;
	char *err = NULL;

	msg_info("reload -- version %s, configuration %s", PACKAGE_VERSION,
	    confdir);
	sd_notifyf("RELOADING=1\nSTATUS=reloading the configuration");
	/* A problem the new configuration still has is said again. */
	msg_warn_once_reset();
	if ((gen = generation_new(confdir, &err)) == NULL) {
		for (char *line = strtok(err, "\n"); line != NULL;
		    line = strtok(NULL, "\n"))
			msg_error("reload failed, keeping the running "
			    "configuration: %s", line);
		free(err);
		sd_notifyf("READY=1");
		return -1;
	}
	if (setup_directories(gen->conf, &run_user, &err) < 0) {
		msg_error("reload failed, keeping the running configuration: "
		    "%s", err);
		free(err);
		listen_undo();
		generation_free(gen);
		sd_notifyf("READY=1");
		return -1;
	}
	if (open_log(gen->conf, foreground, &err) < 0) {
		msg_warn("%s", err);
		free(err);
	}
	for (int i = 0; i < MAX_PROCS; i++)
		if (procs[i].pid != 0 && procs[i].gen == current) {
			procs[i].retiring = 1;
			run_user_kill(&run_user, procs[i].pid, SIGUSR1);
		}
	current->next = retired;
	retired = current;
	if (current->live_workers == 0)
		release_generation(current);
	current = gen;
	warn_without_qmgr(confdir);
	generation_log_ticket_keys(current);
	generation_warn_status(current);
	listen_close_unused();
	/* A new configuration deserves a fresh start. */
	reset_throttles();
	start_missing_workers();
	/* The new queue manager starts when the old one has gone. */
	qmgr_proc.wanted = 1;
	if (qmgr_proc.pid != 0)
		run_user_kill(&run_user, qmgr_proc.pid, SIGTERM);
	/* So does the status process, on the new sockets. */
	status_proc.wanted = 1;
	if (status_proc.pid != 0)
		run_user_kill(&run_user, status_proc.pid, SIGTERM);
	cert_watch_reset(current);
	cert_watch_publish(current, stats);
	sd_notifyf("READY=1");
	return 0;
}

/* The messages in the queue, on hold too (the metrics' own count). */
static long
count_queued(void)
{
	struct stats_queue_info info;
	long queued = 0;

	stats_queue_scan(conf_str(current->conf, P_queue_directory), &info);
	for (int q = 0; q < STATS_N_QUEUES; q++)
		queued += info.messages[q];
	return queued;
}

/* systemd's STATUS= line: what `systemctl status` shows. */
static void
report_status(void)
{
	if (getenv("NOTIFY_SOCKET") == NULL)
		return;
	sd_notifyf("STATUS=%d sessions, %ld messages in the queue",
	    anvil_total(anvil), count_queued());
}

/* Certificates renewed on disk (cert_watch.c): a reload, which keeps
 * everything as it is if the new files are not good. */
static void
watch_certificates(const char *confdir, int foreground)
{
	char *changed = cert_watch_changed();

	if (changed == NULL)
		return;
	msg_info("TLS files changed on disk: %s: reloading", changed);
	free(changed);
	if (reload(confdir, foreground) < 0)
		/* Not again until they change again. */
		cert_watch_reset(current);
}

/* The queue manager's part of the drain: it delivers as usual while
 * sessions may still commit mail; once the workers are gone it stops
 * when nothing is left to deliver now (SIGUSR2); at the end of the drain
 * time it takes no new work and finishes what is in flight (SIGTERM), and
 * is killed if that takes too long. */
enum qmgr_drain { QMGR_DELIVERING, QMGR_STOP_WHEN_IDLE, QMGR_FINISHING };

static void
drain_qmgr(enum qmgr_drain *state, int workers, time_t now, time_t drain_end,
    time_t *kill_at)
{
	if (qmgr_proc.pid == 0)
		return;
	if (*state == QMGR_DELIVERING && workers == 0) {
		run_user_kill(&run_user, qmgr_proc.pid, SIGUSR2);
		*state = QMGR_STOP_WHEN_IDLE;
	}
	if (*state != QMGR_FINISHING && now >= drain_end) {
		msg_info("drain time over: the queue manager finishes the "
		    "deliveries in flight");
		run_user_kill(&run_user, qmgr_proc.pid, SIGTERM);
		*state = QMGR_FINISHING;
		*kill_at = now + STOP_GRACE;
	}
	if (*state == QMGR_FINISHING && now >= *kill_at) {
		msg_warn("the queue manager did not finish in %d seconds; "
		    "killing it", STOP_GRACE);
		run_user_kill(&run_user, qmgr_proc.pid, SIGKILL);
		*kill_at = now + STOP_GRACE;
	}
}

static void
stop_all(int sig)
{
	sigset_t set;
	time_t started = time(NULL), deadline = started + STOP_GRACE;
	time_t drain_end = started + conf_time(current->conf,
	    P_tlsrelay_drain_time), qmgr_kill_at = 0;
	enum qmgr_drain qmgr_state = QMGR_DELIVERING;
	int workers;
	long left;

	msg_info("terminating on signal %d", sig);
	stats_set_draining(stats);
	/* Stop accepting at once; workers close their copies too. */
	listen_close_all();
	for (int i = 0; i < MAX_PROCS; i++)
		if (procs[i].pid != 0)
			run_user_kill(&run_user, procs[i].pid, SIGTERM);
	if (qmgr_proc.pid != 0)
		msg_info("draining: sessions finish, queued mail is delivered "
		    "for up to %llds", (long long)(drain_end - started));
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	/* A second SIGTERM, or Ctrl-C again: no more waiting. */
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	for (;;) {
		struct timespec ts = { .tv_sec = 1, .tv_nsec = 0 };
		time_t now = time(NULL);

		reap_children(1);
		workers = 0;
		for (int i = 0; i < MAX_PROCS; i++)
			workers += procs[i].pid != 0;
		if (workers == 0 && qmgr_proc.pid == 0)
			break;
		drain_qmgr(&qmgr_state, workers, now, drain_end,
		    &qmgr_kill_at);
		if (workers > 0 && now >= deadline) {
			msg_warn("%d workers did not finish in %d seconds; "
			    "killing them", workers, STOP_GRACE);
			for (int i = 0; i < MAX_PROCS; i++)
				if (procs[i].pid != 0)
					run_user_kill(&run_user, procs[i].pid,
					    SIGKILL);
			deadline = now + STOP_GRACE;
		}
		sig = sigtimedwait(&set, NULL, &ts);
		if ((sig == SIGTERM || sig == SIGINT) && now < drain_end) {
			msg_info("signal %d again: ending the drain", sig);
			drain_end = now;
		}
	}
	left = count_queued();
	if (left > 0)
		msg_info("stopping: %ld messages left in the queue for the next "
		    "start", left);
	else
		msg_info("stopping: queue empty");
	msg_info("stopped after %lld seconds", (long long)(time(NULL) -
	    started));
}

static void
daemonize(void)
{
	pid_t pid = fork();
	int fd;

	if (pid < 0)
		msg_fatal("fork: %s", strerror(errno));
	if (pid > 0)
		_exit(0);
	setsid();
	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
}

int
supervisor_run(const char *confdir_arg, int foreground)
{
	char confdir[PATH_MAX];
	sigset_t set;
	char *err = NULL;
	int sig = 0;

	/* Blocked from the start, taken by the loop below: the listeners
	 * are bound long before it runs, and a SIGTERM sent the moment they
	 * answer must stop us in order, not kill us. */
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, &saved_mask);
	signal(SIGPIPE, SIG_IGN);

	/* We chdir("/") when detaching and re-read the directory on SIGHUP. */
	if (realpath(confdir_arg, confdir) == NULL)
		msg_fatal("%s: %s", confdir_arg, strerror(errno));
	if ((current = generation_new(confdir, &err)) == NULL) {
		/* Every problem, the last one fatal. */
		char *last = strrchr(err, '\n');

		if (last != NULL) {
			*last++ = '\0';
			for (char *line = strtok(err, "\n"); line != NULL;
			    line = strtok(NULL, "\n"))
				msg_error("%s", line);
		}
		msg_fatal("%s", last ? last : err);
	}
	if (run_user_lookup(current->conf, &run_user, &err) < 0 ||
	    setup_directories(current->conf, &run_user, &err) < 0)
		msg_fatal("%s", err);
	/* Before detaching, so that a second daemon says why it stops. */
	if ((pid_fd = pidfile_lock(conf_str(current->conf, P_queue_directory),
	    &err)) < 0)
		msg_fatal("%s", err);
	check_no_qmgr_left(conf_str(current->conf, P_queue_directory));
	if (open_log(current->conf, foreground, &err) < 0)
		msg_fatal("%s", err);
	if (!foreground)
		daemonize();
	if (pidfile_write(pid_fd, getpid(), &err) < 0)
		msg_fatal("%s", err);
	supervisor_pid = getpid();
	raise_descriptor_limit();
	anvil = anvil_create(MAX_PROCS);
	stats = stats_create(MAX_PROCS + 1);

	msg_info("daemon started -- version %s, configuration %s",
	    PACKAGE_VERSION, confdir);
	warn_without_qmgr(confdir);
	generation_log_ticket_keys(current);
	generation_warn_status(current);
	reset_throttles();
	start_missing_workers();
	start_qmgr();
	start_status();
	cert_watch_reset(current);
	cert_watch_publish(current, stats);
	/* The sockets are bound and the workers accept on them. */
	sd_notifyf("READY=1\nMAINPID=%ld", (long)getpid());
	report_status();

	while (sig != SIGTERM && sig != SIGINT) {
		struct timespec ts = { .tv_sec = 1, .tv_nsec = 0 };
		time_t now;

		sig = sigtimedwait(&set, NULL, &ts);
		if (sig == SIGCHLD)
			reap_children(0);
		else if (sig == SIGHUP)
			(void)reload(confdir, foreground);
		now = time(NULL);
		if (now >= next_cert_check) {
			next_cert_check = now + CERT_CHECK_INTERVAL;
			watch_certificates(confdir, foreground);
		}
		if (now >= next_status) {
			next_status = now + STATUS_INTERVAL;
			report_status();
		}
		if (restart_pending && throttle_ready(&smtpd_throttle,
		    time(NULL)))
			start_missing_workers();
		if (single_ready(&qmgr_proc))
			start_qmgr();
		if (single_ready(&status_proc))
			start_status();
	}
	sd_notifyf("STOPPING=1");
	stop_all(sig);
	stop_status();
	while (retired)
		release_generation(retired);
	generation_free(current);
	listen_close_all();
	anvil_destroy(anvil);
	stats_destroy(stats);
	free(run_user.name);
	log_close();
	return 0;
}
