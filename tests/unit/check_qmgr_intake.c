/* check_qmgr_intake: backpressure at the queue manager's active limit.
 * A fake active set stands in for the queue manager: the intake must
 * fill it up to its limit, keep the rest in arrival order, take the next
 * one the moment a message leaves, and owe a rescan (never a timer) for
 * notices it could not keep. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "tlsrelay/util.h"
#include "qmgr_intake.h"
#include "testutil.h"

struct fake_qmgr {
	size_t limit, active, draining;
	char taken[1000][16];
	size_t n_taken;
	int rescans;
	struct qmgr_intake *in;
};

static size_t
fake_room(void *arg)
{
	struct fake_qmgr *q = arg;

	return q->draining || q->active >= q->limit ? 0 : q->limit - q->active;
}

static void
fake_activate(void *arg, const char *dir, const char *id)
{
	struct fake_qmgr *q = arg;

	ck_assert_str_eq(dir, "incoming");
	ck_assert_uint_lt(q->active, q->limit);
	snprintf(q->taken[q->n_taken++], sizeof(q->taken[0]), "%s", id);
	q->active++;
}

static void
fake_rescan(void *arg)
{
	struct fake_qmgr *q = arg;

	q->rescans++;
}

static const struct qmgr_intake_ops fake_ops = {
	fake_room, fake_activate, fake_rescan,
};

/* Runs what the loop has to do now, without blocking. */
static void
settle(struct event_base *base)
{
	event_base_loop(base, EVLOOP_NONBLOCK);
}

static void
add_ids(struct fake_qmgr *q, size_t first, size_t n)
{
	char id[16];

	for (size_t i = first; i < first + n; i++) {
		snprintf(id, sizeof(id), "%06zX", i);
		qmgr_intake_add(q->in, "incoming", id);
	}
}

/* Some leave the active set; the intake is told, as message_unlink
 * does. */
static void
finish(struct fake_qmgr *q, size_t n)
{
	q->active -= n;
	qmgr_intake_room_freed(q->in);
}

START_TEST(backpressure)
{
	struct event_base *base = event_base_new();
	struct fake_qmgr q = { .limit = 50 };
	char id[16];

	q.in = qmgr_intake_new(base, 1000, &fake_ops, &q);
	add_ids(&q, 0, 500);
	/* Never from inside the call: a producer may be mid-update. */
	ck_assert_uint_eq(q.n_taken, 0);
	settle(base);
	ck_assert_uint_eq(q.n_taken, 50);
	ck_assert_uint_eq(qmgr_intake_waiting(q.in), 450);
	/* Full: nothing more, however often the loop runs. */
	settle(base);
	ck_assert_uint_eq(q.n_taken, 50);
	/* Each one that leaves lets exactly one more in, at once. */
	for (size_t done = 1; done <= 450; done++) {
		finish(&q, 1);
		settle(base);
		ck_assert_uint_eq(q.n_taken, 50 + done);
		ck_assert_uint_eq(q.active, 50);
	}
	ck_assert_uint_eq(qmgr_intake_waiting(q.in), 0);
	/* In the order they arrived. */
	for (size_t i = 0; i < 500; i++) {
		snprintf(id, sizeof(id), "%06zX", i);
		ck_assert_str_eq(q.taken[i], id);
	}
	ck_assert_int_eq(q.rescans, 0);
	qmgr_intake_free(q.in);
	event_base_free(base);
}
END_TEST

/* Notices beyond the cap are dropped: the files are safe on disk, and
 * one rescan, made when room frees, finds them. */
START_TEST(overflow_owes_rescan)
{
	struct event_base *base = event_base_new();
	struct fake_qmgr q = { .limit = 10 };

	q.in = qmgr_intake_new(base, 100, &fake_ops, &q);
	add_ids(&q, 0, 300);
	ck_assert_int_eq(qmgr_intake_rescan_owed(q.in), 1);
	settle(base);
	ck_assert_uint_eq(q.n_taken, 10);
	ck_assert_int_eq(q.rescans, 0);
	/* The remembered ones first... */
	while (qmgr_intake_waiting(q.in) > 0) {
		finish(&q, q.active);
		settle(base);
	}
	ck_assert_uint_eq(q.n_taken, 100);
	/* ...then, with room, the rescan: once. */
	ck_assert_int_eq(q.rescans, 0);
	finish(&q, q.active);
	settle(base);
	ck_assert_int_eq(q.rescans, 1);
	ck_assert_int_eq(qmgr_intake_rescan_owed(q.in), 0);
	finish(&q, 0);
	settle(base);
	ck_assert_int_eq(q.rescans, 1);
	qmgr_intake_free(q.in);
	event_base_free(base);
}
END_TEST

/* A scan that stopped at a full set is owed as soon as room frees, not
 * at the next queue run. */
START_TEST(missed_scan)
{
	struct event_base *base = event_base_new();
	struct fake_qmgr q = { .limit = 2, .active = 2 };

	q.in = qmgr_intake_new(base, 100, &fake_ops, &q);
	qmgr_intake_missed(q.in);
	settle(base);
	ck_assert_int_eq(q.rescans, 0);
	finish(&q, 1);
	settle(base);
	ck_assert_int_eq(q.rescans, 1);
	qmgr_intake_free(q.in);
	event_base_free(base);
}
END_TEST

/* While draining (SIGTERM) the set takes nothing. */
START_TEST(draining)
{
	struct event_base *base = event_base_new();
	struct fake_qmgr q = { .limit = 5, .draining = 1 };

	q.in = qmgr_intake_new(base, 100, &fake_ops, &q);
	add_ids(&q, 0, 3);
	settle(base);
	ck_assert_uint_eq(q.n_taken, 0);
	ck_assert_uint_eq(qmgr_intake_waiting(q.in), 3);
	qmgr_intake_free(q.in);
	event_base_free(base);
}
END_TEST

static Suite *
qmgr_intake_suite(void)
{
	Suite *s = suite_create("qmgr_intake");
	TCase *tc = tcase_create("intake");

	tcase_add_test(tc, backpressure);
	tcase_add_test(tc, overflow_owes_rescan);
	tcase_add_test(tc, missed_scan);
	tcase_add_test(tc, draining);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(qmgr_intake_suite)
