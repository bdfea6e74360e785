/* Unit tests: the shared connection counter, across fork()ed processes. */
#include "config.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tlsrelay/anvil.h"
#include "testutil.h"

#define TABLE_SLOTS 4096	/* as in anvil.c */

/* The current total for addr, seen through the public interface. */
static int
total_of(struct anvil *anvil, int worker, const char *addr)
{
	int n = anvil_connect(anvil, worker, addr) - 1;

	anvil_disconnect(anvil, worker, addr);
	return n;
}

static void
wait_child(pid_t pid)
{
	int status;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}

START_TEST(test_single_process)
{
	struct anvil *anvil = anvil_create(2);

	ck_assert_int_eq(anvil_connect(anvil, 0, "192.0.2.1"), 1);
	ck_assert_int_eq(anvil_connect(anvil, 0, "192.0.2.1"), 2);
	ck_assert_int_eq(anvil_connect(anvil, 1, "192.0.2.1"), 3);
	/* Another address does not interfere. */
	ck_assert_int_eq(anvil_connect(anvil, 0, "2001:db8::1"), 1);
	ck_assert_int_eq(anvil_connect(anvil, 1, "192.0.2.10"), 1);
	anvil_disconnect(anvil, 0, "192.0.2.1");
	ck_assert_int_eq(total_of(anvil, 0, "192.0.2.1"), 2);
	ck_assert_int_eq(total_of(anvil, 0, "2001:db8::1"), 1);
	anvil_disconnect(anvil, 0, "2001:db8::1");
	ck_assert_int_eq(total_of(anvil, 0, "2001:db8::1"), 0);
	/* A disconnect without a connect on that worker changes nothing. */
	anvil_disconnect(anvil, 1, "2001:db8::1");
	anvil_disconnect(anvil, 0, "198.51.100.7");
	ck_assert_int_eq(total_of(anvil, 0, "192.0.2.1"), 2);
	anvil_disconnect(anvil, 0, "192.0.2.1");
	anvil_disconnect(anvil, 0, "192.0.2.1");	/* none left on 0 */
	ck_assert_int_eq(total_of(anvil, 0, "192.0.2.1"), 1);
	anvil_destroy(anvil);
}
END_TEST

START_TEST(test_fork_counts)
{
	struct anvil *anvil = anvil_create(4);
	pid_t pid[3];
	int k, i;

	/* Worker k+1 opens k+1 connections from one address, one from
	 * another, in its own process. */
	for (k = 0; k < 3; k++) {
		pid[k] = fork();
		ck_assert_int_ge(pid[k], 0);
		if (pid[k] == 0) {
			for (i = 0; i <= k; i++)
				anvil_connect(anvil, k + 1, "203.0.113.5");
			anvil_connect(anvil, k + 1, "::1");
			anvil_destroy(anvil);
			_exit(0);
		}
	}
	for (k = 0; k < 3; k++)
		wait_child(pid[k]);
	ck_assert_int_eq(anvil_connect(anvil, 0, "203.0.113.5"), 1 + 2 + 3 + 1);
	ck_assert_int_eq(total_of(anvil, 0, "::1"), 3);

	/* A child disconnects one of worker 3's connections. */
	pid[0] = fork();
	if (pid[0] == 0) {
		anvil_disconnect(anvil, 3, "203.0.113.5");
		_exit(0);
	}
	wait_child(pid[0]);
	ck_assert_int_eq(total_of(anvil, 0, "203.0.113.5"), 6);

	/* Worker 2 died: only its column goes. */
	anvil_worker_reset(anvil, 2);
	ck_assert_int_eq(total_of(anvil, 0, "203.0.113.5"), 4);
	ck_assert_int_eq(total_of(anvil, 0, "::1"), 2);
	anvil_worker_reset(anvil, 3);
	ck_assert_int_eq(total_of(anvil, 0, "203.0.113.5"), 2);
	ck_assert_int_eq(total_of(anvil, 0, "::1"), 1);
	anvil_worker_reset(anvil, 1);
	anvil_worker_reset(anvil, 0);
	ck_assert_int_eq(total_of(anvil, 0, "203.0.113.5"), 0);
	ck_assert_int_eq(total_of(anvil, 0, "::1"), 0);
	anvil_destroy(anvil);
}
END_TEST

/* Concurrent updates from several processes lose nothing. */
START_TEST(test_fork_concurrent)
{
	struct anvil *anvil = anvil_create(4);
	pid_t pid[4];
	int k, i;

	for (k = 0; k < 4; k++) {
		pid[k] = fork();
		ck_assert_int_ge(pid[k], 0);
		if (pid[k] == 0) {
			char addr[32];

			for (i = 0; i < 20000; i++) {
				snprintf(addr, sizeof(addr), "10.0.%d.%d",
				    i % 7, i % 13);
				anvil_connect(anvil, k, "192.0.2.99");
				anvil_connect(anvil, k, addr);
				if (i % 10 != 0)
					anvil_disconnect(anvil, k,
					    "192.0.2.99");
				anvil_disconnect(anvil, k, addr);
			}
			_exit(0);
		}
	}
	for (k = 0; k < 4; k++)
		wait_child(pid[k]);
	ck_assert_int_eq(total_of(anvil, 0, "192.0.2.99"), 4 * 2000);
	ck_assert_int_eq(total_of(anvil, 0, "10.0.1.1"), 0);
	anvil_destroy(anvil);
}
END_TEST

START_TEST(test_table_full)
{
	struct anvil *anvil = anvil_create(2);
	char addr[32];
	int i;

	for (i = 0; i < TABLE_SLOTS; i++) {
		snprintf(addr, sizeof(addr), "10.%d.%d.1", i / 256, i % 256);
		ck_assert_int_eq(anvil_connect(anvil, i % 2, addr), 1);
	}
	/* Full: a new client is let in uncounted, every time. */
	ck_assert_int_eq(anvil_connect(anvil, 0, "192.0.2.200"), 1);
	ck_assert_int_eq(anvil_connect(anvil, 0, "192.0.2.200"), 1);
	anvil_disconnect(anvil, 0, "192.0.2.200");
	/* Known clients still count. */
	ck_assert_int_eq(anvil_connect(anvil, 1, "10.0.5.1"), 2);
	anvil_disconnect(anvil, 1, "10.0.5.1");

	/* Free every other row; all the rest must still be found (the
	 * deletion must not break probe chains). */
	for (i = 0; i < TABLE_SLOTS; i += 2) {
		snprintf(addr, sizeof(addr), "10.%d.%d.1", i / 256, i % 256);
		anvil_disconnect(anvil, 0, addr);
	}
	for (i = 0; i < TABLE_SLOTS; i++) {
		snprintf(addr, sizeof(addr), "10.%d.%d.1", i / 256, i % 256);
		ck_assert_int_eq(anvil_connect(anvil, 1, addr),
		    i % 2 ? 2 : 1);
	}
	/* Room again: a new client counts. */
	anvil_worker_reset(anvil, 1);
	ck_assert_int_eq(anvil_connect(anvil, 0, "192.0.2.200"), 1);
	ck_assert_int_eq(anvil_connect(anvil, 0, "192.0.2.200"), 2);
	for (i = 0; i < TABLE_SLOTS; i++) {
		snprintf(addr, sizeof(addr), "10.%d.%d.1", i / 256, i % 256);
		ck_assert_int_eq(total_of(anvil, 0, addr), 0);
	}
	anvil_destroy(anvil);
}
END_TEST

START_TEST(test_long_address)
{
	struct anvil *anvil = anvil_create(1);
	char addr[100];

	memset(addr, 'a', sizeof(addr) - 1);
	addr[sizeof(addr) - 1] = '\0';
	ck_assert_int_eq(anvil_connect(anvil, 0, addr), 1);
	ck_assert_int_eq(anvil_connect(anvil, 0, addr), 1);
	anvil_disconnect(anvil, 0, addr);
	/* 63 bytes is the longest counted. */
	addr[63] = '\0';
	ck_assert_int_eq(anvil_connect(anvil, 0, addr), 1);
	ck_assert_int_eq(anvil_connect(anvil, 0, addr), 2);
	anvil_destroy(anvil);
}
END_TEST

/* A worker killed at a random moment, perhaps holding the lock: the
 * others must go on (robust mutex), and resetting its column must leave
 * correct counts. */
START_TEST(test_killed_holder)
{
	struct anvil *anvil = anvil_create(2);
	int round;

	alarm(60);
	for (round = 0; round < 30; round++) {
		struct timespec ts = {0, 1000000L * (1 + round % 5)};
		pid_t pid = fork();
		int status;

		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			char addr[32];
			int i;

			for (i = 0;; i++) {
				snprintf(addr, sizeof(addr), "10.9.%d.%d",
				    i % 50, i % 3);
				anvil_connect(anvil, 1, addr);
				anvil_connect(anvil, 1, "192.0.2.7");
				anvil_disconnect(anvil, 1, addr);
			}
		}
		anvil_connect(anvil, 0, "192.0.2.7");
		nanosleep(&ts, NULL);
		kill(pid, SIGKILL);
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		anvil_worker_reset(anvil, 1);
		ck_assert_int_eq(total_of(anvil, 0, "192.0.2.7"), round + 1);
		ck_assert_int_eq(total_of(anvil, 0, "10.9.1.1"), 0);
	}
	anvil_destroy(anvil);
}
END_TEST

/* AUTH commands per service and address in a window, over processes. */
START_TEST(test_auth_rate)
{
	struct anvil *anvil = anvil_create(2);
	pid_t pid;
	int status;

	ck_assert_int_eq(anvil_auth(anvil, "submission", "192.0.2.1", 60), 1);
	ck_assert_int_eq(anvil_auth(anvil, "submission", "192.0.2.1", 60), 2);
	/* Another address, another service: counted apart. */
	ck_assert_int_eq(anvil_auth(anvil, "submission", "192.0.2.2", 60), 1);
	ck_assert_int_eq(anvil_auth(anvil, "smtps", "192.0.2.1", 60), 1);
	/* A worker shares the counts. */
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0)
		_exit(anvil_auth(anvil, "submission", "192.0.2.1", 60) == 3 ?
		    0 : 1);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_int_eq(anvil_auth(anvil, "submission", "192.0.2.1", 60), 4);
	/* A window of 0 seconds is always over: each command starts one. */
	ck_assert_int_eq(anvil_auth(anvil, "x", "192.0.2.9", 0), 1);
	ck_assert_int_eq(anvil_auth(anvil, "x", "192.0.2.9", 0), 1);
	/* Many clients at once: each still counted from 1, and a flood
	 * never makes another client's count grow. */
	for (int i = 0; i < 10000; i++) {
		char addr[32];

		snprintf(addr, sizeof(addr), "10.%d.%d.1", i / 256, i % 256);
		ck_assert_int_eq(anvil_auth(anvil, "smtp", addr, 60), 1);
	}
	ck_assert_int_le(anvil_auth(anvil, "submission", "192.0.2.2", 60), 2);
	anvil_destroy(anvil);
}
END_TEST

static Suite *
anvil_suite(void)
{
	Suite *s = suite_create("anvil");
	TCase *tc = tcase_create("anvil");

	tcase_add_test(tc, test_single_process);
	tcase_add_test(tc, test_fork_counts);
	tcase_add_test(tc, test_fork_concurrent);
	tcase_add_test(tc, test_table_full);
	tcase_add_test(tc, test_long_address);
	tcase_add_test(tc, test_killed_holder);
	tcase_add_test(tc, test_auth_rate);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(anvil_suite)
