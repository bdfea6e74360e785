/* offload: blocking work (password hashing, a SASL library that may call
 * saslauthd) done by a small pool of threads beside an event loop, so that
 * one slow call does not hold up every other session of the process. The
 * work function runs in a pool thread and must touch nothing the loop
 * owns; the done function runs later in the loop's thread. The pool is
 * made on first use, so a process that forks its workers first gets its
 * own threads in each child. */
#ifndef TLSRELAY_OFFLOAD_H
#define TLSRELAY_OFFLOAD_H

struct event_base;
struct offload_job;

typedef void offload_work_fn(void *arg);	/* in a pool thread */
typedef void offload_done_fn(void *arg);	/* in the loop's thread */

/* Runs work(arg) in a pool thread, then done(arg) in base's loop. NULL
 * when no thread could be started (with the reason in the log): the
 * caller then runs work and done itself. */
struct offload_job *offload_submit(struct event_base *base,
    offload_work_fn *work, offload_done_fn *done, void *arg);
/* The caller no longer waits (its session went away): done is not called;
 * instead release(arg) runs in the loop once the work has finished. */
void offload_abandon(struct offload_job *job, offload_done_fn *release);
/* Jobs submitted and not yet completed: a test hook. */
unsigned offload_pending(void);

#endif
