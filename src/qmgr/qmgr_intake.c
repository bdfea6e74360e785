/* qmgr_intake: the queue manager's admission of new work. Every producer
 * (smtpd's notices, the queue manager's own bounces and delay notices,
 * flush requests) goes through one FIFO; an event takes from it while
 * the active set has room, and is raised again the moment a message
 * leaves the set. So mail that finds the set full waits on disk only
 * until room frees, never for the queue_run_delay timer. A notice that
 * cannot be remembered (the FIFO is at its cap) or was never read (a
 * full pipe) costs a rescan of the directories when room frees. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "tlsrelay/log.h"
#include "tlsrelay/queue.h"
#include "tlsrelay/util.h"
#include "qmgr_intake.h"

struct intake_entry {
	char dir[12];		/* "incoming", "deferred" */
	char id[QUEUE_ID_MAX];
};

struct qmgr_intake {
	const struct qmgr_intake_ops *ops;
	void *arg;
	struct event *run_ev;
	struct intake_entry *ring;
	size_t cap, alloc, head, count;
	int rescan_owed;
};

static void
intake_run(evutil_socket_t fd, short what, void *arg)
{
	struct qmgr_intake *in = arg;

	(void)fd;
	(void)what;
	while (in->count > 0 && in->ops->room(in->arg) > 0) {
		struct intake_entry e = in->ring[in->head];

		in->head = (in->head + 1) % in->alloc;
		in->count--;
		in->ops->activate(in->arg, e.dir, e.id);
	}
	if (in->count == 0 && in->rescan_owed && in->ops->room(in->arg) > 0) {
		in->rescan_owed = 0;
		in->ops->rescan(in->arg);
	}
}

struct qmgr_intake *
qmgr_intake_new(struct event_base *base, size_t cap,
    const struct qmgr_intake_ops *ops, void *arg)
{
	struct qmgr_intake *in = xcalloc(1, sizeof(*in));

	in->ops = ops;
	in->arg = arg;
	in->cap = cap ? cap : 1;
	if ((in->run_ev = event_new(base, -1, 0, intake_run, in)) == NULL)
		msg_fatal("qmgr_intake_new: cannot create an event");
	return in;
}

void
qmgr_intake_free(struct qmgr_intake *in)
{
	if (in == NULL)
		return;
	event_free(in->run_ev);
	free(in->ring);
	free(in);
}

/* Doubles the ring (up to cap), keeping the order. */
static int
ring_grow(struct qmgr_intake *in)
{
	size_t alloc = in->alloc ? 2 * in->alloc : 64;
	struct intake_entry *ring;

	if (in->alloc >= in->cap)
		return -1;
	if (alloc > in->cap)
		alloc = in->cap;
	ring = xcalloc(alloc, sizeof(*ring));
	for (size_t i = 0; i < in->count; i++)
		ring[i] = in->ring[(in->head + i) % in->alloc];
	free(in->ring);
	in->ring = ring;
	in->alloc = alloc;
	in->head = 0;
	return 0;
}

void
qmgr_intake_add(struct qmgr_intake *in, const char *dir, const char *id)
{
	struct intake_entry *e;

	if (in->count == in->alloc && ring_grow(in) < 0) {
		/* The file is safe on disk; a scan will find it. */
		in->rescan_owed = 1;
		return;
	}
	e = &in->ring[(in->head + in->count) % in->alloc];
	snprintf(e->dir, sizeof(e->dir), "%s", dir);
	snprintf(e->id, sizeof(e->id), "%s", id);
	in->count++;
	event_active(in->run_ev, 0, 0);
}

void
qmgr_intake_missed(struct qmgr_intake *in)
{
	in->rescan_owed = 1;
}

void
qmgr_intake_room_freed(struct qmgr_intake *in)
{
	if (in->count > 0 || in->rescan_owed)
		event_active(in->run_ev, 0, 0);
}

size_t
qmgr_intake_waiting(const struct qmgr_intake *in)
{
	return in->count;
}

int
qmgr_intake_rescan_owed(const struct qmgr_intake *in)
{
	return in->rescan_owed;
}
