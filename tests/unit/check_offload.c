/* check_offload: blocking work runs beside the loop, not in it: while
 * slow jobs sleep in the pool, the loop's timer fires; each done runs in
 * the loop's thread with the work's result; an abandoned job calls its
 * release instead of done. */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "tlsrelay/offload.h"
#include "tlsrelay/util.h"

#include "testutil.h"

struct job {
	int input, output;
	pthread_t worked_in, done_in;
	int done, released;
};

static pthread_t loop_thread;
static int ticks;

static void
slow_square(void *arg)
{
	struct job *j = arg;

	usleep(100 * 1000);
	j->output = j->input * j->input;
	j->worked_in = pthread_self();
}

static void
job_done(void *arg)
{
	struct job *j = arg;

	j->done++;
	j->done_in = pthread_self();
}

static void
job_released(void *arg)
{
	((struct job *)arg)->released++;
}

static void
tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	ticks++;
}

static void
run_until_idle(struct event_base *base)
{
	struct timeval step = { 0, 10 * 1000 };
	time_t deadline = time(NULL) + 20;

	while (offload_pending() > 0) {
		ck_assert_msg(time(NULL) < deadline, "jobs never came back");
		event_base_loopexit(base, &step);
		event_base_dispatch(base);
	}
}

START_TEST(work_beside_the_loop)
{
	struct event_base *base = event_base_new();
	struct timeval every = { 0, 10 * 1000 };
	struct event *timer = event_new(base, -1, EV_PERSIST, tick, NULL);
	struct job jobs[4] = { { .input = 2 }, { .input = 3 },
	    { .input = 4 }, { .input = 5 } };

	loop_thread = pthread_self();
	event_add(timer, &every);
	for (int i = 0; i < 4; i++)
		ck_assert_ptr_nonnull(offload_submit(base, slow_square,
		    job_done, &jobs[i]));
	ck_assert_uint_eq(offload_pending(), 4);
	run_until_idle(base);
	for (int i = 0; i < 4; i++) {
		ck_assert_int_eq(jobs[i].done, 1);
		ck_assert_int_eq(jobs[i].output, jobs[i].input * jobs[i].input);
		ck_assert(!pthread_equal(jobs[i].worked_in, loop_thread));
		ck_assert(pthread_equal(jobs[i].done_in, loop_thread));
	}
	/* Four jobs of 100 ms on two threads take 200 ms, in which the
	 * loop's 10 ms timer kept firing. */
	ck_assert_int_ge(ticks, 10);
	event_free(timer);
	event_base_free(base);
}
END_TEST

START_TEST(abandoned_job_is_released)
{
	struct event_base *base = event_base_new();
	struct job kept = { .input = 6 }, left = { .input = 7 };
	struct offload_job *job;

	ck_assert_ptr_nonnull(offload_submit(base, slow_square, job_done,
	    &kept));
	job = offload_submit(base, slow_square, job_done, &left);
	ck_assert_ptr_nonnull(job);
	offload_abandon(job, job_released);
	run_until_idle(base);
	ck_assert_int_eq(kept.done, 1);
	ck_assert_int_eq(left.done, 0);
	ck_assert_int_eq(left.released, 1);
	/* The work itself still ran: only the caller stopped waiting. */
	ck_assert_int_eq(left.output, 49);
	event_base_free(base);
}
END_TEST

static Suite *
offload_suite(void)
{
	Suite *s = suite_create("offload");
	TCase *tc = tcase_create("pool");

	tcase_add_test(tc, work_beside_the_loop);
	tcase_add_test(tc, abandoned_job_is_released);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(offload_suite)
