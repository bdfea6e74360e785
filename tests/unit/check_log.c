/* check_log: the tag in front of every line (src/log/log.c). The
 * commands write "tlsrelay: " until a service is named; a named process
 * writes "ident/service[pid]: ", renamed when the names change and with
 * its own pid after a fork, though the tag is made only when a line is
 * logged. Checks fork, as in each test they run in a process of their
 * own. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tlsrelay/log.h"
#include "testutil.h"

static char *
logged(const char *text)
{
	tu_capture_begin();
	msg_warn("%s", text);
	return tu_capture_end();
}

START_TEST(commands_write_a_bare_tag)
{
	char *log = logged("one");

	ck_assert_str_eq(log, "tlsrelay: warning: one\n");
	free(log);
}
END_TEST

START_TEST(named_services_carry_names_and_pid)
{
	char want[128], *log;
	int status, fds[2];
	pid_t pid;

	log_set_service("relay", "smtpd");
	log = logged("two");
	snprintf(want, sizeof(want), "relay/smtpd[%ld]: warning: two\n",
	    (long)getpid());
	ck_assert_str_eq(log, want);
	free(log);

	/* The same names again change nothing; a new one does. */
	log_set_service("relay", "smtpd");
	log_set_service(NULL, "qmgr");
	log = logged("three");
	snprintf(want, sizeof(want), "relay/qmgr[%ld]: warning: three\n",
	    (long)getpid());
	ck_assert_str_eq(log, want);
	free(log);

	/* A child names itself with its own pid, unasked. */
	ck_assert_int_eq(pipe(fds), 0);
	if ((pid = fork()) == 0) {
		char *child = logged("four");

		_exit(write(fds[1], child, strlen(child)) < 0);
	}
	ck_assert_int_gt(pid, 0);
	close(fds[1]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	{
		char got[128] = "";
		ssize_t n = read(fds[0], got, sizeof(got) - 1);

		ck_assert_int_gt(n, 0);
		snprintf(want, sizeof(want), "relay/qmgr[%ld]: warning: "
		    "four\n", (long)pid);
		ck_assert_str_eq(got, want);
	}
	close(fds[0]);
}
END_TEST

static Suite *
log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("tag");

	tcase_add_test(tc, commands_write_a_bare_tag);
	tcase_add_test(tc, named_services_carry_names_and_pid);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(log_suite)
