/* smtp_pool: jobs in, callbacks out. Jobs queue per next hop; each next
 * hop gets at most smtp_destination_concurrency_limit connections (within
 * its feedback window, see smtp_dest_health) and all of them together at
 * most default_process_limit, handed out round-robin so that one busy or
 * slow next hop cannot take every connection. A session that finished a
 * job is reset (RSET) and kept for the next job to the same next hop,
 * for smtp_connection_cache_time_limit while idle and
 * smtp_connection_reuse_time_limit in all; a burst for one next hop waits
 * for those sessions before it opens new ones. A next hop that keeps
 * failing is declared dead for a while, as Postfix does, and its mail is
 * deferred without a connection attempt. */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/stats.h"
#include "tlsrelay/tls.h"
#include "tlsrelay/tls_client.h"
#include "smtp_int.h"

#define SHUTDOWN_REASON	"delivery interrupted by mail system shutdown"

double
smtp_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
settings_load(struct smtp_settings *set, const struct conf *conf)
{
	set->connect_timeout = conf_time(conf, P_smtp_connect_timeout);
	set->helo_timeout = conf_time(conf, P_smtp_helo_timeout);
	set->starttls_timeout = conf_time(conf, P_smtp_starttls_timeout);
	set->mail_timeout = conf_time(conf, P_smtp_mail_timeout);
	set->rcpt_timeout = conf_time(conf, P_smtp_rcpt_timeout);
	set->data_init_timeout = conf_time(conf, P_smtp_data_init_timeout);
	set->data_xfer_timeout = conf_time(conf, P_smtp_data_xfer_timeout);
	set->line_length_limit = (size_t)conf_int(conf,
	    P_smtp_line_length_limit);
	set->per_request_deadline = conf_bool(conf,
	    P_smtp_per_request_deadline);
	set->min_data_rate = conf_int(conf, P_smtp_min_data_rate);
	set->data_done_timeout = conf_time(conf, P_smtp_data_done_timeout);
	set->rset_timeout = conf_time(conf, P_smtp_rset_timeout);
	set->quit_timeout = conf_time(conf, P_smtp_quit_timeout);
	set->dest_concurrency = conf_int(conf,
	    P_smtp_destination_concurrency_limit);
	set->initial_concurrency = conf_int(conf,
	    P_smtp_initial_destination_concurrency);
	set->failed_cohort_limit = conf_int(conf,
	    P_smtp_destination_concurrency_failed_cohort_limit);
	set->dead_time = conf_time(conf, P_minimal_backoff_time);
	set->process_limit = conf_int(conf, P_default_process_limit);
	set->cache_connections = conf_bool(conf,
	    P_smtp_connection_cache_on_demand);
	set->cache_time_limit = conf_time(conf,
	    P_smtp_connection_cache_time_limit);
	set->reuse_time_limit = conf_time(conf,
	    P_smtp_connection_reuse_time_limit);
	set->tls_loglevel = (int)conf_int(conf, P_smtp_tls_loglevel);
	set->note_starttls_offer = conf_bool(conf,
	    P_smtp_tls_note_starttls_offer);
	set->helo_name = xstrdup(conf_str(conf, P_smtp_helo_name));
}

/* ---- runs ---------------------------------------------------------- */

static struct smtp_run *
run_new(struct smtp_job *job, smtp_job_done_cb cb, void *arg)
{
	struct smtp_run *run = xcalloc(1, sizeof(*run));

	run->job = job;
	run->cb = cb;
	run->arg = arg;
	run->t_handoff = smtp_now();
	run->rcpt_state = xcalloc(job->n_rcpts ? job->n_rcpts : 1,
	    sizeof(*run->rcpt_state));
	/* The out fields are ours from now on. */
	for (size_t i = 0; i < job->n_rcpts; i++) {
		job->rcpts[i].outcome = SMTP_DEFER;
		job->rcpts[i].dsn[0] = '\0';
		job->rcpts[i].reason = NULL;
		job->rcpts[i].relay = NULL;
	}
	return run;
}

static void
run_free(struct smtp_run *run)
{
	free(run->rcpt_state);
	free(run->last_reason);
	free(run->last_relay);
	free(run);
}

void
smtp_run_set(struct smtp_run *run, size_t i, enum smtp_outcome outcome,
    const char *dsn, const char *relay, const char *reason)
{
	struct smtp_rcpt *rcpt = &run->job->rcpts[i];

	if (run->rcpt_state[i] == RCPT_FINAL)
		return;
	run->rcpt_state[i] = RCPT_FINAL;
	rcpt->outcome = outcome;
	snprintf(rcpt->dsn, sizeof(rcpt->dsn), "%s", dsn);
	rcpt->reason = xstrdup(reason);
	rcpt->relay = xstrdup(relay ? relay : "none");
}

void
smtp_run_set_rest(struct smtp_run *run, enum smtp_outcome outcome,
    const char *dsn, const char *relay, const char *reason)
{
	for (size_t i = 0; i < run->job->n_rcpts; i++)
		smtp_run_set(run, i, outcome, dsn, relay, reason);
}

static void dest_feedback(struct smtp_pool *pool, const struct smtp_run *run);

void
smtp_run_finish(struct smtp_pool *pool, struct smtp_run *run)
{
	dest_feedback(pool, run);
	/* Every path sets every recipient; this is the safety net. */
	smtp_run_set_rest(run, SMTP_DEFER, "4.3.0", NULL,
	    "delivery status unknown");
	smtp_log_run(run, smtp_now());
	TAILQ_INSERT_TAIL(&pool->done, run, entry);
	event_active(pool->done_ev, 0, 0);
}

/* The queue manager's callbacks, from an event of their own: it may
 * queue the next job from there. */
static void
done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_pool *pool = arg;
	struct smtp_run *run;

	(void)fd;
	(void)what;
	while ((run = TAILQ_FIRST(&pool->done)) != NULL) {
		TAILQ_REMOVE(&pool->done, run, entry);
		pool->n_runs--;
		run->cb(run->arg, run->job);
		run_free(run);
	}
}

/* ---- destinations -------------------------------------------------- */

static long long
concurrency_limit(const struct smtp_settings *set)
{
	return set->dest_concurrency > 0 ? set->dest_concurrency : LLONG_MAX;
}

static long long
initial_window(const struct smtp_settings *set)
{
	long long w = set->initial_concurrency > 0 ?
	    set->initial_concurrency : 1;

	return w < concurrency_limit(set) ? w : concurrency_limit(set);
}

static struct smtp_dest *
dest_find(struct smtp_pool *pool, const char *nexthop)
{
	struct smtp_dest *dest;

	TAILQ_FOREACH(dest, &pool->dests, entry)
		if (strcmp(dest->nexthop, nexthop) == 0)
			return dest;
	return NULL;
}

static struct smtp_dest *
dest_get(struct smtp_pool *pool, const char *nexthop)
{
	struct smtp_dest *dest = dest_find(pool, nexthop);

	if (dest != NULL)
		return dest;
	dest = xcalloc(1, sizeof(*dest));
	dest->pool = pool;
	dest->nexthop = xstrdup(nexthop);
	dest->health.window = (double)initial_window(&pool->set);
	TAILQ_INIT(&dest->waiting);
	TAILQ_INIT(&dest->idle);
	TAILQ_INSERT_TAIL(&pool->dests, dest, entry);
	return dest;
}

static void
dest_free(struct smtp_dest *dest)
{
	TAILQ_REMOVE(&dest->pool->dests, dest, entry);
	free(dest->health.dead_reason);
	free(dest->nexthop);
	free(dest);
}

static int
limit_reached(size_t count, long long limit)
{
	return limit > 0 && (long long)count >= limit;
}

static void
idle_remove(struct smtp_conn *conn)
{
	if (conn->idle_listed) {
		TAILQ_REMOVE(&conn->dest->idle, conn, idle_entry);
		conn->idle_listed = 0;
	}
}

/* Frees a connection slot held by an idle session of any destination,
 * for a destination that has none. */
static int
evict_idle(struct smtp_pool *pool)
{
	struct smtp_dest *dest;

	TAILQ_FOREACH(dest, &pool->dests, entry) {
		struct smtp_conn *conn = TAILQ_FIRST(&dest->idle);

		if (conn != NULL) {
			smtp_conn_quit(conn);
			return 1;
		}
	}
	return 0;
}

/* A cached session can take a run set up for the same TLS policy and
 * logged in (or not) with the same credentials. */
static int
session_fits(const struct smtp_conn *conn, const struct smtp_run *run)
{
	return smtp_conn_fits(conn, run) && smtp_sasl_fits(conn, run);
}

/* For the metrics: how the next hop was chosen. */
static const char *
dest_class(const struct smtp_dest *dest)
{
	const char *relayhost = conf_str(dest->pool->conf, P_relayhost);

	if (*relayhost && strcmp(dest->nexthop, relayhost) == 0)
		return "relayhost";
	return dest->nexthop[0] == '[' ? "transport" : "mx";
}

static void
open_connection(struct smtp_pool *pool, struct smtp_dest *dest,
    struct smtp_run *run)
{
	struct smtp_conn *conn = smtp_conn_new(pool, dest);

	stats_inc(STAT_SMTP_CONNECTIONS_ACTIVE, dest_class(dest));
	conn->counted = 1;
	dest->n_conns++;
	pool->n_conns++;
	smtp_conn_open(conn, run);
}

static struct smtp_run *
dest_pop(struct smtp_dest *dest)
{
	struct smtp_run *run = TAILQ_FIRST(&dest->waiting);

	if (run != NULL) {
		TAILQ_REMOVE(&dest->waiting, run, entry);
		dest->n_waiting--;
	}
	return run;
}

/* ---- the health of a next hop ---------------------------------------- */

static int
dest_is_dead(struct smtp_dest *dest, double now)
{
	struct smtp_dest_health *h = &dest->health;

	if (h->dead_until == 0)
		return 0;
	if (now < h->dead_until)
		return 1;
	/* Rested: try again, carefully. */
	h->dead_until = 0;
	h->failed_cohorts = 0;
	h->window = (double)initial_window(&dest->pool->set);
	return 0;
}

/* Finishes a run without a connection: its next hop is dead. */
static void
defer_suspended(struct smtp_pool *pool, struct smtp_dest *dest,
    struct smtp_run *run)
{
	char *why = xasprintf("delivery temporarily suspended: %s",
	    dest->health.dead_reason);

	smtp_run_set_rest(run, SMTP_DEFER, dest->health.dead_dsn, NULL, why);
	free(why);
	smtp_run_finish(pool, run);
}

static void
dest_declare_dead(struct smtp_dest *dest, const struct smtp_run *run)
{
	struct smtp_pool *pool = dest->pool;
	struct smtp_dest_health *h = &dest->health;
	struct smtp_run *waiting;

	h->dead_until = smtp_now() + (double)pool->set.dead_time;
	free(h->dead_reason);
	h->dead_reason = xstrdup(run->last_reason);
	snprintf(h->dead_dsn, sizeof(h->dead_dsn), "%s", run->last_dsn);
	while ((waiting = TAILQ_FIRST(&dest->waiting)) != NULL) {
		TAILQ_REMOVE(&dest->waiting, waiting, entry);
		dest->n_waiting--;
		defer_suspended(pool, dest, waiting);
	}
}

/* Postfix's feedback, from what one run found at its next hop. A run
 * that reached no usable server (every address refused, timed out,
 * greeted with 4xx/5xx or failed the TLS policy) is a site failure; one
 * that got a session is a success, whatever the recipients' fate. */
static void
dest_feedback(struct smtp_pool *pool, const struct smtp_run *run)
{
	struct smtp_dest *dest;
	struct smtp_dest_health *h;
	double limit = (double)concurrency_limit(&pool->set);

	if (pool->closing ||
	    (dest = dest_find(pool, run->job->nexthop)) == NULL)
		return;
	h = &dest->health;
	if (run->t_ready != 0) {
		/* A server answers after all: alive again. */
		h->dead_until = 0;
		h->failed_cohorts = 0;
		h->window += 1.0 / h->window;
		if (h->window > limit)
			h->window = limit;
	} else if (run->last_reason != NULL && h->dead_until == 0) {
		h->failed_cohorts += 1.0 / h->window;
		h->window -= 1.0 / h->window;
		if (h->window < 1)
			h->window = 1;
		if (pool->set.failed_cohort_limit > 0 && h->failed_cohorts >=
		    (double)pool->set.failed_cohort_limit)
			dest_declare_dead(dest, run);
	}
}

/* ---- dispatch ----------------------------------------------------------- */

/* Starts the first waiting run of dest, on a cached session or a new
 * connection. Returns 1 when it started (or settled) one. */
static int
dest_start_one(struct smtp_dest *dest)
{
	struct smtp_pool *pool = dest->pool;
	struct smtp_conn *conn;

	if (dest->n_waiting == 0)
		return 0;
	if (dest_is_dead(dest, smtp_now())) {
		defer_suspended(pool, dest, dest_pop(dest));
		return 1;
	}
	while ((conn = TAILQ_FIRST(&dest->idle)) != NULL) {
		idle_remove(conn);
		if (session_fits(conn, TAILQ_FIRST(&dest->waiting))) {
			smtp_conn_take(conn, dest_pop(dest));
			return 1;
		}
		smtp_conn_quit(conn);
	}
	/* Sessions being reset will take these. */
	if (dest->n_waiting <= dest->n_resetting)
		return 0;
	if ((double)dest->n_conns >= dest->health.window)
		return 0;
	if (limit_reached(pool->n_conns, pool->set.process_limit) &&
	    !evict_idle(pool))
		return 0;
	open_connection(pool, dest, dest_pop(dest));
	return 1;
}

/* Round-robin: one run per next hop and round while anything moves, and
 * the next dispatch starts one next hop further, so a next hop with a
 * long queue takes no more than its share of free connections. */
static void
dispatch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_pool *pool = arg;
	struct smtp_dest *dest, *next;
	struct log_name saved;
	int progress;

	(void)fd;
	(void)what;
	smtp_log_enter(&saved);
	do {
		progress = 0;
		TAILQ_FOREACH(dest, &pool->dests, entry)
			progress |= dest_start_one(dest);
	} while (progress);
	if ((dest = TAILQ_FIRST(&pool->dests)) != NULL) {
		TAILQ_REMOVE(&pool->dests, dest, entry);
		TAILQ_INSERT_TAIL(&pool->dests, dest, entry);
	}
	for (dest = TAILQ_FIRST(&pool->dests); dest != NULL; dest = next) {
		next = TAILQ_NEXT(dest, entry);
		if (dest->n_waiting == 0 && dest->n_conns == 0 &&
		    !dest_is_dead(dest, smtp_now()))
			dest_free(dest);
	}
	smtp_log_leave(&saved);
}

static void
schedule_dispatch(struct smtp_pool *pool)
{
	event_active(pool->dispatch_ev, 0, 0);
}

/* ---- what connections tell the pool --------------------------------- */

int
smtp_run_requeue(struct smtp_conn *conn, struct smtp_run *run)
{
	struct smtp_dest *dest = conn->dest;

	if (run->requeued || dest == NULL || conn->pool->closing)
		return -1;
	run->requeued = 1;
	run->t_conn = 0;
	run->t_ready = 0;
	TAILQ_INSERT_HEAD(&dest->waiting, run, entry);
	dest->n_waiting++;
	schedule_dispatch(conn->pool);
	return 0;
}

void
smtp_pool_conn_resetting(struct smtp_conn *conn)
{
	if (conn->dest != NULL && !conn->resetting) {
		conn->resetting = 1;
		conn->dest->n_resetting++;
	}
}

static void
reset_done(struct smtp_conn *conn)
{
	if (conn->resetting) {
		conn->resetting = 0;
		conn->dest->n_resetting--;
	}
}

void
smtp_pool_conn_idle(struct smtp_conn *conn)
{
	struct smtp_pool *pool = conn->pool;
	struct smtp_dest *dest = conn->dest;
	long long age, left;

	if (dest == NULL) {
		smtp_conn_quit(conn);
		return;
	}
	reset_done(conn);
	age = (long long)(smtp_now() - conn->t_connected);
	left = pool->set.reuse_time_limit - age;
	if (pool->closing || left <= 0) {
		smtp_conn_quit(conn);
		return;
	}
	conn->state = CS_IDLE;
	TAILQ_INSERT_TAIL(&dest->idle, conn, idle_entry);
	conn->idle_listed = 1;
	smtp_conn_timeout(conn, pool->set.cache_time_limit < left ?
	    pool->set.cache_time_limit : left);
	/* A job to this next hop takes the session from the idle list, one
	 * elsewhere may take its place; either way from the event, so that
	 * a run of jobs finished at once never recurses. */
	schedule_dispatch(pool);
}

void
smtp_pool_conn_detach(struct smtp_conn *conn)
{
	struct smtp_dest *dest = conn->dest;

	if (dest == NULL)
		return;
	idle_remove(conn);
	reset_done(conn);
	if (conn->counted) {
		stats_add(STAT_SMTP_CONNECTIONS_ACTIVE, -1, dest_class(dest));
		conn->counted = 0;
		dest->n_conns--;
		conn->pool->n_conns--;
	}
	conn->dest = NULL;
	schedule_dispatch(conn->pool);
}

static void
reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_pool *pool = arg;
	struct smtp_conn *conn, *next;

	(void)fd;
	(void)what;
	for (conn = TAILQ_FIRST(&pool->conns); conn != NULL; conn = next) {
		next = TAILQ_NEXT(conn, entry);
		if (conn->state == CS_CLOSED) {
			TAILQ_REMOVE(&pool->conns, conn, entry);
			smtp_conn_free(conn);
		}
	}
}

void
smtp_pool_conn_closed(struct smtp_conn *conn)
{
	smtp_pool_conn_detach(conn);
	event_active(conn->pool->reap_ev, 0, 0);
}

/* ---- the interface -------------------------------------------------- */

struct smtp_pool *
smtp_pool_new(struct event_base *base, const struct conf *conf,
    struct tls_client *tls, char **err)
{
	struct smtp_pool *pool;

	*err = NULL;
	pool = xcalloc(1, sizeof(*pool));
	pool->base = base;
	pool->conf = conf;
	pool->tls = tls;
	pool->sasl = smtp_sasl_new(conf, err);
	if (pool->sasl == NULL && *err != NULL) {
		free(pool);
		return NULL;
	}
	settings_load(&pool->set, conf);
	TAILQ_INIT(&pool->dests);
	TAILQ_INIT(&pool->conns);
	TAILQ_INIT(&pool->done);
	pool->done_ev = event_new(base, -1, 0, done_cb, pool);
	pool->dispatch_ev = event_new(base, -1, 0, dispatch_cb, pool);
	pool->reap_ev = event_new(base, -1, 0, reap_cb, pool);
	if (pool->done_ev == NULL || pool->dispatch_ev == NULL ||
	    pool->reap_ev == NULL)
		msg_fatal("smtp_pool_new: cannot create events");
	pool->iobuf = xmalloc(SMTP_IOBUF_SIZE);
	return pool;
}

void
smtp_pool_deliver(struct smtp_pool *pool, struct smtp_job *job,
    smtp_job_done_cb cb, void *arg)
{
	struct smtp_run *run = run_new(job, cb, arg);
	struct smtp_dest *dest;
	struct log_name saved;

	pool->n_runs++;
	smtp_log_enter(&saved);
	if (pool->closing) {
		smtp_run_set_rest(run, SMTP_DEFER, "4.3.0", NULL,
		    SHUTDOWN_REASON);
		smtp_run_finish(pool, run);
	} else {
		dest = dest_get(pool, job->nexthop);
		TAILQ_INSERT_TAIL(&dest->waiting, run, entry);
		dest->n_waiting++;
		schedule_dispatch(pool);
	}
	smtp_log_leave(&saved);
}

size_t
smtp_pool_busy(const struct smtp_pool *pool)
{
	return pool->n_runs;
}

void
smtp_pool_free(struct smtp_pool *pool)
{
	struct smtp_dest *dest;
	struct smtp_conn *conn;
	struct smtp_run *run;
	struct log_name saved;

	if (pool == NULL)
		return;
	smtp_log_enter(&saved);
	pool->closing = 1;
	TAILQ_FOREACH(dest, &pool->dests, entry) {
		while ((run = dest_pop(dest)) != NULL) {
			smtp_run_set_rest(run, SMTP_DEFER, "4.3.0", NULL,
			    SHUTDOWN_REASON);
			smtp_run_finish(pool, run);
		}
	}
	TAILQ_FOREACH(conn, &pool->conns, entry) {
		if (conn->run != NULL) {
			smtp_run_set_rest(conn->run, SMTP_DEFER, "4.3.0",
			    conn->relay, SHUTDOWN_REASON);
			smtp_run_finish(pool, conn->run);
			conn->run = NULL;
		}
		smtp_conn_close(conn);
	}
	smtp_log_leave(&saved);
	/* Jobs handed in by these callbacks are deferred at once, and
	 * called back by the same loop. */
	done_cb(-1, 0, pool);
	while ((conn = TAILQ_FIRST(&pool->conns)) != NULL) {
		TAILQ_REMOVE(&pool->conns, conn, entry);
		smtp_conn_free(conn);
	}
	while ((dest = TAILQ_FIRST(&pool->dests)) != NULL)
		dest_free(dest);
	event_free(pool->done_ev);
	event_free(pool->dispatch_ev);
	event_free(pool->reap_ev);
	smtp_sasl_free(pool->sasl);
	free(pool->set.helo_name);
	free(pool->iobuf);
	free(pool);
}
