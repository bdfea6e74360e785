/* check_throttle: the supervisor's restart pause (src/daemon/throttle.c).
 * A child that ends soon after its start is started again after 1, 2,
 * 4, ... seconds up to service_throttle_time, with one log line per
 * pause; one that ran for service_throttle_time resets the pause; its
 * siblings ending during a pause add nothing; a reload forgets it all.
 * Time is passed in, so no test waits. */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "tlsrelay/util.h"
#include "daemon.h"
#include "testutil.h"

#define T0	((time_t)1000000)

static int
count(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

/* A child started at now ends at once; returns the log of it. */
static char *
ends_at_once(struct throttle *t, time_t now)
{
	tu_capture_begin();
	throttle_child_ended(t, now, now);
	return tu_capture_end();
}

START_TEST(pause_doubles_up_to_the_limit)
{
	static const long long pauses[] = { 1, 2, 4, 8, 16, 32, 60, 60 };
	struct throttle t;
	time_t now = T0;

	throttle_reset(&t, "qmgr", 60);
	ck_assert(throttle_ready(&t, now));
	for (size_t i = 0; i < sizeof(pauses) / sizeof(pauses[0]); i++) {
		char *log = ends_at_once(&t, now), *want;

		want = xasprintf("warning: qmgr: bad command startup -- "
		    "throttling for %lld second%s\n", pauses[i],
		    pauses[i] == 1 ? "" : "s");
		ck_assert_msg(strstr(log, want) != NULL, "%zu: %s", i, log);
		ck_assert_int_eq(count(log, "throttling"), 1);
		ck_assert(!throttle_ready(&t, now + pauses[i] - 1));
		ck_assert(throttle_ready(&t, now + pauses[i]));
		free(want);
		free(log);
		now += pauses[i];
	}
}
END_TEST

START_TEST(long_run_resets)
{
	struct throttle t;
	char *log;

	throttle_reset(&t, "smtpd", 60);
	free(ends_at_once(&t, T0));
	free(ends_at_once(&t, T0 + 1));
	ck_assert(!throttle_ready(&t, T0 + 2));
	/* Started at T0 + 3, ended a minute later: a fine run. */
	tu_capture_begin();
	throttle_child_ended(&t, T0 + 3, T0 + 63);
	log = tu_capture_end();
	ck_assert_str_eq(log, "");
	free(log);
	ck_assert(throttle_ready(&t, T0 + 63));
	/* The next failure pauses 1 second again. */
	log = ends_at_once(&t, T0 + 63);
	ck_assert_ptr_nonnull(strstr(log, "throttling for 1 second\n"));
	free(log);
}
END_TEST

START_TEST(siblings_during_a_pause)
{
	struct throttle t;
	char *log;

	throttle_reset(&t, "smtpd", 60);
	free(ends_at_once(&t, T0));
	free(ends_at_once(&t, T0 + 1));		/* pause 2 s */
	/* Another worker started with the first ends during the pause. */
	tu_capture_begin();
	throttle_child_ended(&t, T0, T0 + 2);
	log = tu_capture_end();
	ck_assert_str_eq(log, "");
	free(log);
	ck_assert(throttle_ready(&t, T0 + 3));
	log = ends_at_once(&t, T0 + 3);
	ck_assert_ptr_nonnull(strstr(log, "throttling for 4 seconds\n"));
	free(log);
}
END_TEST

START_TEST(reset_and_fork_failure)
{
	struct throttle t;

	throttle_reset(&t, "qmgr", 60);
	for (int i = 0; i < 5; i++)
		free(ends_at_once(&t, T0 + 100 * i));
	ck_assert(!throttle_ready(&t, T0 + 401));
	/* A reload: the new configuration starts at once. */
	throttle_reset(&t, "qmgr", 60);
	ck_assert(throttle_ready(&t, T0 + 401));
	throttle_fork_failed(&t, T0 + 401);
	ck_assert(!throttle_ready(&t, T0 + 401));
	ck_assert(throttle_ready(&t, T0 + 402));
	/* A limit below a second is a second. */
	throttle_reset(&t, "qmgr", 0);
	free(ends_at_once(&t, T0));
	free(ends_at_once(&t, T0 + 1));
	ck_assert(throttle_ready(&t, T0 + 2));
}
END_TEST

static Suite *
throttle_suite(void)
{
	Suite *s = suite_create("throttle");
	TCase *tc = tcase_create("throttle");

	tcase_add_test(tc, pause_doubles_up_to_the_limit);
	tcase_add_test(tc, long_run_resets);
	tcase_add_test(tc, siblings_during_a_pause);
	tcase_add_test(tc, reset_and_fork_failure);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(throttle_suite)
