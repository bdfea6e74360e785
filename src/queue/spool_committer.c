/* spool_committer: the commit thread of an event loop. Finished queue
 * files queue up in the loop's thread, go to this thread in batches and
 * come back as results through a pipe the loop watches: the loop never
 * waits for an fsync, and messages finished together share the fsync of
 * incoming/ (spool_commit_batch). A mutex and a condition variable guard
 * the lists both threads touch; the thread logs nothing and knows nothing
 * of the loop. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tlsrelay/queue.h"
#include "tlsrelay/util.h"

struct commit_job {
	struct spool_writer *writer;	/* NULL once committed */
	spool_commit_cb done;
	void *arg;
	char *err;			/* the result */
	struct commit_job *next;
};

/* Jobs in the order they were submitted. */
struct job_list {
	struct commit_job *head;
	struct commit_job **tail;
};

struct spool_committer {
	struct job_list staged;		/* loop only: not kicked yet */
	pthread_mutex_t lock;
	pthread_cond_t wake;		/* handed or stopping changed */
	struct job_list handed;		/* locked: the thread's next batch */
	struct job_list finished;	/* locked: for the loop to collect */
	int stopping;			/* locked */
	pthread_t thread;
	int pipe[2];			/* a byte per finished batch */
};

static void
list_init(struct job_list *list)
{
	list->head = NULL;
	list->tail = &list->head;
}

/* Moves every job of from to the end of to. */
static void
list_move(struct job_list *to, struct job_list *from)
{
	if (from->head == NULL)
		return;
	*to->tail = from->head;
	to->tail = from->tail;
	list_init(from);
}

/* Runs in the thread, without the lock. */
static void
commit_jobs(struct commit_job *batch)
{
	struct spool_writer **writers;
	struct commit_job *job;
	char **errs;
	size_t n = 0, i;

	for (job = batch; job != NULL; job = job->next)
		n++;
	writers = xcalloc(n, sizeof(*writers));
	errs = xcalloc(n, sizeof(*errs));
	for (i = 0, job = batch; job != NULL; job = job->next)
		writers[i++] = job->writer;
	spool_commit_batch(writers, n, errs);
	for (i = 0, job = batch; job != NULL; job = job->next) {
		job->writer = NULL;
		job->err = errs[i++];
	}
	free(writers);
	free(errs);
}

static void *
committer_main(void *arg)
{
	struct spool_committer *c = arg;
	struct job_list batch;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (c->handed.head == NULL && !c->stopping)
			pthread_cond_wait(&c->wake, &c->lock);
		/* Stopping: still commit what was handed over. */
		if (c->handed.head == NULL)
			break;
		list_init(&batch);
		list_move(&batch, &c->handed);
		pthread_mutex_unlock(&c->lock);
		commit_jobs(batch.head);
		pthread_mutex_lock(&c->lock);
		list_move(&c->finished, &batch);
		if (write(c->pipe[1], "", 1) < 0) {
			/* EAGAIN: the pipe is full, a wake-up is pending. */
		}
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

struct spool_committer *
spool_committer_new(char **err)
{
	struct spool_committer *c = xcalloc(1, sizeof(*c));
	sigset_t all, saved;
	int rc;

	list_init(&c->staged);
	list_init(&c->handed);
	list_init(&c->finished);
	if (pipe2(c->pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
		*err = xasprintf("commit thread: pipe: %s", strerror(errno));
		free(c);
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->wake, NULL);
	/* Signals are the loop's business: the thread takes none. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &saved);
	rc = pthread_create(&c->thread, NULL, committer_main, c);
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	if (rc != 0) {
		*err = xasprintf("commit thread: %s", strerror(rc));
		pthread_cond_destroy(&c->wake);
		pthread_mutex_destroy(&c->lock);
		close(c->pipe[0]);
		close(c->pipe[1]);
		free(c);
		return NULL;
	}
	return c;
}

void
spool_committer_submit(struct spool_committer *c, struct spool_writer *w,
    spool_commit_cb done, void *arg)
{
	struct commit_job *job = xcalloc(1, sizeof(*job));

	job->writer = w;
	job->done = done;
	job->arg = arg;
	*c->staged.tail = job;
	c->staged.tail = &job->next;
}

void
spool_committer_kick(struct spool_committer *c)
{
	if (c->staged.head == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	list_move(&c->handed, &c->staged);
	pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->lock);
}

int
spool_committer_fd(const struct spool_committer *c)
{
	return c->pipe[0];
}

static void
free_jobs(struct commit_job *job, int run_callbacks)
{
	struct commit_job *next;

	for (; job != NULL; job = next) {
		next = job->next;
		if (run_callbacks)
			job->done(job->arg, job->err);
		free(job->err);
		free(job);
	}
}

void
spool_committer_collect(struct spool_committer *c)
{
	struct job_list done;
	char buf[64];

	/* Drain first: a byte written after this belongs to a batch that
	 * is not in the list taken below, and wakes the loop again. */
	while (read(c->pipe[0], buf, sizeof(buf)) > 0)
		;
	list_init(&done);
	pthread_mutex_lock(&c->lock);
	list_move(&done, &c->finished);
	pthread_mutex_unlock(&c->lock);
	/* A callback may submit again (the next pipelined message). */
	free_jobs(done.head, 1);
}

void
spool_committer_free(struct spool_committer *c)
{
	if (c == NULL)
		return;
	spool_committer_kick(c);
	pthread_mutex_lock(&c->lock);
	c->stopping = 1;
	pthread_cond_signal(&c->wake);
	pthread_mutex_unlock(&c->lock);
	pthread_join(c->thread, NULL);
	free_jobs(c->finished.head, 0);
	pthread_cond_destroy(&c->wake);
	pthread_mutex_destroy(&c->lock);
	close(c->pipe[0]);
	close(c->pipe[1]);
	free(c);
}
