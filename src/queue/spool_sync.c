/* spool_sync: group commit of recipient status marks. The queue manager
 * writes a mark with one pwrite (spool_mark), which a crash of the
 * process cannot undo, and hands the file here; a thread makes the marks
 * durable against power loss with fdatasync, each file once per batch,
 * while the event loop goes on. Everything that arrived while a batch
 * was being synced forms the next one: the busier the queue, the more
 * marks one fdatasync covers. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tlsrelay/log.h"
#include "tlsrelay/queue.h"
#include "tlsrelay/util.h"

/* Queue IDs of files set aside in spare/ (spool_spare.c). */
struct id_list {
	char **ids;
	size_t n, cap;
};

static void
id_list_push(struct id_list *list, char *id)
{
	if (list->n == list->cap) {
		list->cap = list->cap ? 2 * list->cap : 64;
		list->ids = xrealloc(list->ids, list->cap * sizeof(*list->ids));
	}
	list->ids[list->n++] = id;
}

struct spool_syncer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	int *fds;		/* queued: dup'ed descriptors */
	size_t n, cap;
	char *queue_dir;
	struct id_list spares;	/* queued: set aside, to be emptied */
	int stopping;
	unsigned long long synced;
};

struct batch_entry {
	dev_t dev;
	ino_t ino;
	nlink_t nlink;
	off_t size;
	int fd;
};

static int
compare_file(const void *a, const void *b)
{
	const struct batch_entry *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	return (x->ino > y->ino) - (x->ino < y->ino);
}

/* Syncs one batch: each file once, however many marks it got. */
static unsigned long long
sync_batch(const int *fds, size_t n)
{
	struct batch_entry *e = xcalloc(n ? n : 1, sizeof(*e));
	unsigned long long synced = 0;

	for (size_t i = 0; i < n; i++) {
		struct stat st;

		e[i].fd = fds[i];
		if (fstat(fds[i], &st) == 0) {
			e[i].dev = st.st_dev;
			e[i].ino = st.st_ino;
			e[i].nlink = st.st_nlink;
			e[i].size = st.st_size;
		}
	}
	qsort(e, n, sizeof(*e), compare_file);
	for (size_t i = 0; i < n; i++) {
		int first = i == 0 || compare_file(&e[i - 1], &e[i]) != 0;

		/* A removed or emptied file needs no durable marks. */
		if (first && e[i].nlink > 0 && e[i].size > 0) {
			if (fdatasync(e[i].fd) < 0)
				msg_warn("fdatasync of a queue file: %s",
				    strerror(errno));
			synced++;
		}
		close(e[i].fd);
	}
	free(e);
	return synced;
}

/* Files set aside are released for reuse at most this often: each
 * release fsyncs the queue directories, which costs the disk as much as
 * a commit, and a busy relay sets aside hundreds of files a second. */
#define RELEASE_INTERVAL_MS	20

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for work, at most until a release is due. */
static void
wait_for_work(struct spool_syncer *s, long long release_at, int releasing)
{
	struct timespec until;

	if (!releasing) {
		pthread_cond_wait(&s->wake, &s->lock);
		return;
	}
	until.tv_sec = (time_t)(release_at / 1000);
	until.tv_nsec = (long)(release_at % 1000) * 1000000L;
	pthread_cond_timedwait(&s->wake, &s->lock, &until);
}

static void *
syncer_main(void *arg)
{
	struct spool_syncer *s = arg;
	/* Emptied, waiting for their release. */
	struct id_list emptied = { NULL, 0, 0 };
	long long last_release = 0;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		int *batch;
		struct id_list spares;
		size_t n;
		unsigned long long synced;
		int release;

		while (s->n == 0 && s->spares.n == 0 && !s->stopping &&
		    (emptied.n == 0 ||
		    now_ms() < last_release + RELEASE_INTERVAL_MS))
			wait_for_work(s, last_release + RELEASE_INTERVAL_MS,
			    emptied.n > 0);
		if (s->n == 0 && s->spares.n == 0 && emptied.n == 0 &&
		    s->stopping)
			break;
		batch = s->fds;
		n = s->n;
		s->fds = NULL;
		s->n = s->cap = 0;
		spares = s->spares;
		s->spares = (struct id_list){ NULL, 0, 0 };
		release = s->stopping;
		pthread_mutex_unlock(&s->lock);
		/* Emptied first: an emptied file needs no durable marks. */
		spool_spare_empty(s->queue_dir, spares.ids, spares.n);
		for (size_t i = 0; i < spares.n; i++)
			if (spares.ids[i] != NULL)
				id_list_push(&emptied, spares.ids[i]);
		free(spares.ids);
		synced = sync_batch(batch, n);
		free(batch);
		if (emptied.n > 0 && (release ||
		    now_ms() >= last_release + RELEASE_INTERVAL_MS)) {
			last_release = now_ms();
			spool_spare_release(s->queue_dir, emptied.ids,
			    emptied.n);
			for (size_t i = 0; i < emptied.n; i++)
				free(emptied.ids[i]);
			emptied.n = 0;
		}
		pthread_mutex_lock(&s->lock);
		s->synced += synced;
	}
	pthread_mutex_unlock(&s->lock);
	free(emptied.ids);
	return NULL;
}

struct spool_syncer *
spool_syncer_new(const char *queue_dir, char **err)
{
	struct spool_syncer *s = xcalloc(1, sizeof(*s));
	pthread_condattr_t attr;
	int rc;

	*err = NULL;
	s->queue_dir = xstrdup(queue_dir);
	pthread_mutex_init(&s->lock, NULL);
	/* Timed waits are on the monotonic clock (wait_for_work). */
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wake, &attr);
	pthread_condattr_destroy(&attr);
	if ((rc = pthread_create(&s->thread, NULL, syncer_main, s)) != 0) {
		*err = xasprintf("cannot start the queue file sync thread: %s",
		    strerror(rc));
		pthread_cond_destroy(&s->wake);
		pthread_mutex_destroy(&s->lock);
		free(s->queue_dir);
		free(s);
		return NULL;
	}
	return s;
}

void
spool_syncer_add(struct spool_syncer *s, int fd)
{
	int copy = dup(fd);

	if (copy < 0) {
		/* Without a descriptor there is nothing to sync later:
		 * sync now rather than lose the guarantee. */
		msg_warn("dup of a queue file: %s; syncing at once",
		    strerror(errno));
		(void)fdatasync(fd);
		return;
	}
	pthread_mutex_lock(&s->lock);
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->fds = xrealloc(s->fds, s->cap * sizeof(*s->fds));
	}
	s->fds[s->n++] = copy;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
}

void
spool_syncer_queue_spare(struct spool_syncer *s, const char *id)
{
	pthread_mutex_lock(&s->lock);
	id_list_push(&s->spares, xstrdup(id));
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
}

unsigned long long
spool_syncer_synced(struct spool_syncer *s)
{
	unsigned long long n;

	pthread_mutex_lock(&s->lock);
	n = s->synced;
	pthread_mutex_unlock(&s->lock);
	return n;
}

void
spool_syncer_free(struct spool_syncer *s)
{
	if (s == NULL)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = 1;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	free(s->fds);
	free(s->spares.ids);
	free(s->queue_dir);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
