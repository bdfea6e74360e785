/* qmgr_intake: what enters the queue manager's active set, and when.
 * Internal to the queue manager (and its unit test). */
#ifndef TLSRELAY_QMGR_INTAKE_H
#define TLSRELAY_QMGR_INTAKE_H

#include <stddef.h>

struct event_base;

/* What the intake asks of its owner. */
struct qmgr_intake_ops {
	/* How many more messages the active set takes now (0 while
	 * draining). */
	size_t (*room)(void *arg);
	/* Takes queue file dir/id into the active set; a file that is gone
	 * or already taken is no error. */
	void (*activate)(void *arg, const char *dir, const char *id);
	/* Looks at the queue directories for work that no queued notice
	 * names; calls qmgr_intake_missed() if it stopped at a full set. */
	void (*rescan)(void *arg);
};

struct qmgr_intake;

/* Remembers up to cap notices while the active set is full; beyond
 * that a notice is dropped and a rescan replaces it. */
struct qmgr_intake *qmgr_intake_new(struct event_base *base, size_t cap,
    const struct qmgr_intake_ops *ops, void *arg);
void qmgr_intake_free(struct qmgr_intake *in);
/* A message is waiting in dir/ (a notice, a bounce of our own, a flush):
 * it is taken from the loop, in the order of arrival, as soon as the
 * active set has room. Never activates from inside the call. */
void qmgr_intake_add(struct qmgr_intake *in, const char *dir,
    const char *id);
/* The active set was full while a scan still saw work on disk: rescan
 * the moment room frees. */
void qmgr_intake_missed(struct qmgr_intake *in);
/* The active set shrank: take what waits, from the loop. */
void qmgr_intake_room_freed(struct qmgr_intake *in);
/* Notices waiting, and whether a rescan is owed (for tests). */
size_t qmgr_intake_waiting(const struct qmgr_intake *in);
int qmgr_intake_rescan_owed(const struct qmgr_intake *in);

#endif
