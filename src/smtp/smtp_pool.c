/* smtp_pool: jobs in, callbacks out. Jobs queue per next hop; each next
 * hop gets at most smtp_destination_concurrency_limit connections and all
 * of them together at most default_process_limit. A session that finished
 * a job is reset (RSET) and kept for the next job to the same next hop,
 * for smtp_connection_cache_time_limit while idle and
 * smtp_connection_reuse_time_limit in all. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/tls.h"
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
	set->connect_timeout = conf_time(conf, "smtp_connect_timeout");
	set->helo_timeout = conf_time(conf, "smtp_helo_timeout");
	set->starttls_timeout = conf_time(conf, "smtp_starttls_timeout");
	set->mail_timeout = conf_time(conf, "smtp_mail_timeout");
	set->rcpt_timeout = conf_time(conf, "smtp_rcpt_timeout");
	set->data_init_timeout = conf_time(conf, "smtp_data_init_timeout");
	set->data_xfer_timeout = conf_time(conf, "smtp_data_xfer_timeout");
	set->data_done_timeout = conf_time(conf, "smtp_data_done_timeout");
	set->rset_timeout = conf_time(conf, "smtp_rset_timeout");
	set->quit_timeout = conf_time(conf, "smtp_quit_timeout");
	set->dest_concurrency = conf_int(conf,
	    "smtp_destination_concurrency_limit");
	set->process_limit = conf_int(conf, "default_process_limit");
	set->cache_connections = conf_bool(conf,
	    "smtp_connection_cache_on_demand");
	set->cache_time_limit = conf_time(conf,
	    "smtp_connection_cache_time_limit");
	set->reuse_time_limit = conf_time(conf,
	    "smtp_connection_reuse_time_limit");
	set->tls_loglevel = (int)conf_int(conf, "smtp_tls_loglevel");
	set->note_starttls_offer = conf_bool(conf,
	    "smtp_tls_note_starttls_offer");
	set->helo_name = xstrdup(conf_str(conf, "smtp_helo_name"));
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

void
smtp_run_finish(struct smtp_pool *pool, struct smtp_run *run)
{
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

static struct smtp_dest *
dest_get(struct smtp_pool *pool, const char *nexthop)
{
	struct smtp_dest *dest;

	TAILQ_FOREACH(dest, &pool->dests, entry)
		if (strcmp(dest->nexthop, nexthop) == 0)
			return dest;
	dest = xcalloc(1, sizeof(*dest));
	dest->pool = pool;
	dest->nexthop = xstrdup(nexthop);
	TAILQ_INIT(&dest->waiting);
	TAILQ_INIT(&dest->idle);
	TAILQ_INSERT_TAIL(&pool->dests, dest, entry);
	return dest;
}

static void
dest_free(struct smtp_dest *dest)
{
	TAILQ_REMOVE(&dest->pool->dests, dest, entry);
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

static void
open_connection(struct smtp_pool *pool, struct smtp_dest *dest,
    struct smtp_run *run)
{
	struct smtp_conn *conn = smtp_conn_new(pool, dest);

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

static void
dest_dispatch(struct smtp_dest *dest)
{
	struct smtp_pool *pool = dest->pool;
	struct smtp_conn *conn;

	while (dest->n_waiting > 0) {
		if ((conn = TAILQ_FIRST(&dest->idle)) != NULL) {
			idle_remove(conn);
			if (!session_fits(conn, TAILQ_FIRST(&dest->waiting))) {
				smtp_conn_quit(conn);
				continue;
			}
			smtp_conn_take(conn, dest_pop(dest));
			continue;
		}
		/* Sessions being reset will take these. */
		if (dest->n_waiting <= dest->n_resetting)
			break;
		if (limit_reached(dest->n_conns,
		    pool->set.dest_concurrency))
			break;
		if (limit_reached(pool->n_conns, pool->set.process_limit) &&
		    !evict_idle(pool))
			break;
		open_connection(pool, dest, dest_pop(dest));
	}
}

static void
dispatch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtp_pool *pool = arg;
	struct smtp_dest *dest, *next;

	(void)fd;
	(void)what;
	smtp_log_enter();
	TAILQ_FOREACH(dest, &pool->dests, entry)
		if (dest->n_waiting > 0)
			dest_dispatch(dest);
	for (dest = TAILQ_FIRST(&pool->dests); dest != NULL; dest = next) {
		next = TAILQ_NEXT(dest, entry);
		if (dest->n_waiting == 0 && dest->n_conns == 0)
			dest_free(dest);
	}
	smtp_log_leave();
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

	pool->n_runs++;
	smtp_log_enter();
	if (pool->closing) {
		smtp_run_set_rest(run, SMTP_DEFER, "4.3.0", NULL,
		    SHUTDOWN_REASON);
		smtp_run_finish(pool, run);
	} else {
		dest = dest_get(pool, job->nexthop);
		TAILQ_INSERT_TAIL(&dest->waiting, run, entry);
		dest->n_waiting++;
		dest_dispatch(dest);
	}
	smtp_log_leave();
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

	if (pool == NULL)
		return;
	smtp_log_enter();
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
	smtp_log_leave();
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
