/* offload: a pool of threads for blocking calls beside the event loop.
 * Jobs go to the threads through a list guarded by a mutex and come back
 * through a pipe the loop watches; see offload.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "tlsrelay/log.h"
#include "tlsrelay/offload.h"
#include "tlsrelay/util.h"

/* Two threads: enough that one slow call (a remote saslauthd) does not
 * stop a hash, few enough to leave the cores to the loops. */
#define OFFLOAD_THREADS	2

struct offload_job {
	offload_work_fn *work;
	offload_done_fn *done;		/* loop only */
	void *arg;
	struct offload_job *next;
};

struct job_queue {
	struct offload_job *head;
	struct offload_job **tail;
};

static struct {
	pid_t pid;			/* the process that made the pool */
	struct event_base *base;
	struct event *wakeup;
	pthread_mutex_t lock;
	pthread_cond_t work_ready;
	struct job_queue todo;		/* locked */
	struct job_queue finished;	/* locked */
	int pipe[2];			/* a byte per finished job */
	unsigned pending;		/* loop only */
} pool;

static void
queue_init(struct job_queue *q)
{
	q->head = NULL;
	q->tail = &q->head;
}

static void
queue_push(struct job_queue *q, struct offload_job *job)
{
	job->next = NULL;
	*q->tail = job;
	q->tail = &job->next;
}

static struct offload_job *
queue_pop(struct job_queue *q)
{
	struct offload_job *job = q->head;

	if (job != NULL && (q->head = job->next) == NULL)
		q->tail = &q->head;
	return job;
}

static void *
pool_thread(void *unused)
{
	(void)unused;
	for (;;) {
		struct offload_job *job;

		pthread_mutex_lock(&pool.lock);
		while ((job = queue_pop(&pool.todo)) == NULL)
			pthread_cond_wait(&pool.work_ready, &pool.lock);
		pthread_mutex_unlock(&pool.lock);
		job->work(job->arg);
		pthread_mutex_lock(&pool.lock);
		queue_push(&pool.finished, job);
		pthread_mutex_unlock(&pool.lock);
		/* EAGAIN: the pipe is full and the loop will look anyway. */
		(void)!write(pool.pipe[1], "", 1);
	}
	return NULL;
}

static void
collect_finished(evutil_socket_t fd, short what, void *unused)
{
	char buf[64];
	struct job_queue done;
	struct offload_job *job;

	(void)what;
	(void)unused;
	while (read(fd, buf, sizeof(buf)) > 0)
		continue;
	pthread_mutex_lock(&pool.lock);
	done = pool.finished;
	queue_init(&pool.finished);
	pthread_mutex_unlock(&pool.lock);
	if (done.head == NULL)
		return;
	while ((job = queue_pop(&done)) != NULL) {
		pool.pending--;
		job->done(job->arg);
		free(job);
	}
}

/* The pool of this process on base; 0, or -1 with the reason logged. */
static int
pool_start(struct event_base *base)
{
	sigset_t all, saved;
	pthread_t thread;
	int started = 0, rc;

	if (pool.pid == getpid()) {
		if (pool.base != base)
			msg_panic("offload: one event loop per process");
		return 0;
	}
	/* A pool made before a fork has no threads in the child. */
	memset(&pool, 0, sizeof(pool));
	pthread_mutex_init(&pool.lock, NULL);
	pthread_cond_init(&pool.work_ready, NULL);
	queue_init(&pool.todo);
	queue_init(&pool.finished);
	if (pipe2(pool.pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
		msg_warn("offload: pipe: %s", strerror(errno));
		return -1;
	}
	pool.wakeup = event_new(base, pool.pipe[0], EV_READ | EV_PERSIST,
	    collect_finished, NULL);
	if (pool.wakeup == NULL || event_add(pool.wakeup, NULL) < 0) {
		msg_warn("offload: cannot watch the pipe");
		return -1;
	}
	/* Signals stay with the loop's thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &saved);
	for (int i = 0; i < OFFLOAD_THREADS; i++) {
		if ((rc = pthread_create(&thread, NULL, pool_thread,
		    NULL)) != 0) {
			msg_warn("offload: pthread_create: %s", strerror(rc));
			break;
		}
		pthread_detach(thread);
		started++;
	}
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	if (started == 0)
		return -1;
	pool.base = base;
	pool.pid = getpid();
	return 0;
}

struct offload_job *
offload_submit(struct event_base *base, offload_work_fn *work,
    offload_done_fn *done, void *arg)
{
	struct offload_job *job;

	if (pool_start(base) < 0)
		return NULL;
	job = xcalloc(1, sizeof(*job));
	job->work = work;
	job->done = done;
	job->arg = arg;
	pool.pending++;
	pthread_mutex_lock(&pool.lock);
	queue_push(&pool.todo, job);
	pthread_cond_signal(&pool.work_ready);
	pthread_mutex_unlock(&pool.lock);
	return job;
}

void
offload_abandon(struct offload_job *job, offload_done_fn *release)
{
	/* Only the loop reads done, once the job is back. */
	job->done = release;
}

unsigned
offload_pending(void)
{
	return pool.pid == getpid() ? pool.pending : 0;
}
