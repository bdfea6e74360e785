/* check_stats: the shared counters (src/stats/stats.c): a process's
 * counts survive its end (folded into the retired totals), across a real
 * fork; gauges go with the process; a family whose rows are all taken
 * counts in "other"; the reason classes; and the OpenMetrics text, against
 * a golden file. */
#include "config.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tlsrelay/stats.h"
#include "tlsrelay/util.h"
#include "stats_int.h"
#include "testutil.h"

/* The value of one series, or -1 when it is not there. */
static long long
value_of(const struct stats *stats, enum stat_family f, const char *key)
{
	static struct stats_snapshot snap;

	stats_snapshot(stats, &snap);
	for (int r = 0; r < snap.n_rows[f]; r++)
		if (strcmp(snap.keys[f][r], key) == 0)
			return snap.values[f][r];
	return -1;
}

START_TEST(counts_survive_the_process)
{
	struct stats *stats = stats_create(4);
	pid_t pid;
	int status;

	/* A child counts in slot 2 and dies. */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		stats_attach(stats, 2, STATS_PROC_SMTPD);
		for (int i = 0; i < 5; i++)
			stats_inc(STAT_SMTPD_CONNECTIONS, "smtp");
		stats_inc(STAT_SMTP_CONNECTIONS_ACTIVE, "mx");
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(value_of(stats, STAT_SMTPD_CONNECTIONS, "smtp"), 5);
	ck_assert_int_eq(value_of(stats, STAT_SMTP_CONNECTIONS_ACTIVE, "mx"),
	    1);
	ck_assert_int_eq(stats_smtpd_workers(stats), 1);
	/* The supervisor reaps it: the counter stays, the gauge goes. */
	stats_slot_release(stats, 2);
	ck_assert_int_eq(value_of(stats, STAT_SMTPD_CONNECTIONS, "smtp"), 5);
	ck_assert_int_eq(value_of(stats, STAT_SMTP_CONNECTIONS_ACTIVE, "mx"),
	    0);
	ck_assert_int_eq(stats_smtpd_workers(stats), 0);
	/* Its successor in the same slot adds to it. */
	stats_attach(stats, 2, STATS_PROC_SMTPD);
	stats_inc(STAT_SMTPD_CONNECTIONS, "smtp");
	stats_inc(STAT_SMTPD_CONNECTIONS, "submission");
	ck_assert_int_eq(value_of(stats, STAT_SMTPD_CONNECTIONS, "smtp"), 6);
	ck_assert_int_eq(value_of(stats, STAT_SMTPD_CONNECTIONS,
	    "submission"), 1);
	stats_slot_release(stats, 2);
	stats_slot_release(stats, 2);	/* twice: nothing more */
	ck_assert_int_eq(value_of(stats, STAT_SMTPD_CONNECTIONS, "smtp"), 6);
	stats_destroy(stats);
}
END_TEST

/* A process killed while it wrote a new row's key: the row is free again
 * once the supervisor reaps it, and the next process takes it. */
START_TEST(half_written_row_freed)
{
	struct stats *stats = stats_create(2);
	struct stats_row *row = &stats->shared->rows[STAT_DEFERRALS][0];

	atomic_store(&row->state, ROW_CLAIMED + 1);
	stats_slot_release(stats, 1);
	ck_assert_int_eq(atomic_load(&row->state), ROW_EMPTY);
	stats_attach(stats, 0, STATS_PROC_QMGR);
	stats_inc(STAT_DEFERRALS, "dns");
	ck_assert_str_eq(row->key, "dns");
	ck_assert_int_eq(value_of(stats, STAT_DEFERRALS, "dns"), 1);
	stats_destroy(stats);
}
END_TEST

START_TEST(full_family_counts_in_other)
{
	struct stats *stats = stats_create(1);
	char name[32];

	stats_attach(stats, 0, STATS_PROC_SMTPD);
	for (int i = 0; i < STATS_ROWS + 5; i++) {
		snprintf(name, sizeof(name), "svc%d", i);
		stats_inc(STAT_SMTPD_CONNECTIONS, name);
	}
	ck_assert_int_eq(value_of(stats, STAT_SMTPD_CONNECTIONS, "svc0"), 1);
	ck_assert_int_eq(value_of(stats, STAT_SMTPD_CONNECTIONS, "svc30"), 1);
	ck_assert_int_eq(value_of(stats, STAT_SMTPD_CONNECTIONS, "svc31"), -1);
	ck_assert_int_eq(value_of(stats, STAT_SMTPD_CONNECTIONS, "other"), 6);
	/* A value that cannot be a key goes there too. */
	stats_inc(STAT_TLS_SESSION_CACHE, "smtp", "a\x1f" "b");
	ck_assert_int_eq(value_of(stats, STAT_TLS_SESSION_CACHE,
	    "other\x1f" "other"), 1);
	stats_destroy(stats);
}
END_TEST

/* A call with the wrong number of labels is a bug: it panics. */
START_TEST(wrong_label_count_panics)
{
	struct stats *stats = stats_create(1);

	stats_attach(stats, 0, STATS_PROC_SMTPD);
	stats_inc(STAT_TLS_HANDSHAKES, "smtpd", "TLSv1.3");
}
END_TEST

START_TEST(reason_classes)
{
	static const struct {
		const char *reason, *class;
	} deferrals[] = {
		{ "connect to sink.test[127.0.0.1]:2525: Connection refused",
		    "connect" },
		{ "Host or domain name not found. Name service error for "
		    "name=x.test type=MX: Host not found, try again", "dns" },
		{ "host tls.test[127.0.0.1] said: 451 4.3.0 Try later (in "
		    "reply to RCPT TO command)", "reply_4xx" },
		{ "Cannot start TLS: handshake failure", "tls" },
		{ "conversation with a[127.0.0.1] timed out while receiving "
		    "the initial server greeting", "timeout" },
		{ "lost connection with a[127.0.0.1] while sending RCPT TO",
		    "connection_lost" },
		{ "something new", "other" },
	}, failures[] = {
		{ "lost connection", "eof" },
		{ "certificate verify failed", "certificate" },
		{ "unsupported protocol", "protocol" },
		{ "no shared cipher", "cipher" },
		{ "legacy sigalg disallowed or unsupported", "protocol" },
		{ "Connection reset by peer", "other" },
	};

	for (size_t i = 0; i < sizeof(deferrals) / sizeof(deferrals[0]); i++)
		ck_assert_str_eq(stats_deferral_class(deferrals[i].reason),
		    deferrals[i].class);
	for (size_t i = 0; i < sizeof(failures) / sizeof(failures[0]); i++)
		ck_assert_str_eq(stats_tls_failure_class(failures[i].reason),
		    failures[i].class);
}
END_TEST

/* Check's message has a size limit: say the first line that differs. */
static void
assert_same_text(const char *got, const char *want, const char *path)
{
	int line = 1;

	while (*got != '\0' && *got == *want) {
		line += *got == '\n';
		got++;
		want++;
	}
	ck_assert_msg(*got == *want, "%s:%d differs: got \"%.80s\"", path,
	    line, got);
}

/* The whole text for a known state, in both formats; regenerate the
 * golden files with
 * CHECK_STATS_WRITE_GOLDEN=1 and read the difference before committing
 * them. */
START_TEST(openmetrics_golden)
{
	struct stats *stats = stats_create(3);
	struct stats_queue_info queue = {
		.messages = { 1, 0, 2, 0 },
		.oldest = { 1000.5, 0, 900, 0 },
	};
	static const char *const golden_names[] = {
		[STATS_FORMAT_TEXT] = "metrics.txt",
		[STATS_FORMAT_OPENMETRICS] = "metrics.openmetrics",
	};

	stats_attach(stats, 1, STATS_PROC_QMGR);
	stats_inc(STAT_DELIVERIES, "sent", "may");
	stats_deferral("connect to x[127.0.0.1]:25: Connection refused");
	stats_inc(STAT_SMTP_CONNECTIONS_ACTIVE, "relayhost");
	stats_attach(stats, 0, STATS_PROC_SMTPD);
	stats_inc(STAT_SMTPD_CONNECTIONS, "smtp");
	stats_inc(STAT_SMTPD_CONNECTIONS, "smtp");
	stats_inc(STAT_TLS_HANDSHAKES, "smtpd", "TLSv1.3",
	    "TLS_AES_256_GCM_SHA384");
	stats_tls_failure("smtpd", "unsupported protocol");
	stats_inc(STAT_TLS_SESSION_CACHE, "smtpd", "miss");
	/* A label value that needs escaping. */
	stats_inc(STAT_SMTPD_CONNECTIONS, "a\"b\\c");
	stats_set_reloaded(stats, 1700000000);
	stats_set_certificate(stats, 0, "/etc/tlsrelay/cert.pem", 1800000000);
	stats_slot_release(stats, 0);
	for (int format = 0; format < 2; format++) {
		char *path = xasprintf("%s/stats/%s", TEST_DATA_DIR,
		    golden_names[format]);
		struct strbuf out;
		char *golden;

		strbuf_init(&out);
		stats_render(stats, &queue, 1010.5, format, &out);
		if (getenv("CHECK_STATS_WRITE_GOLDEN") != NULL) {
			FILE *f = fopen(path, "w");

			ck_assert_ptr_nonnull(f);
			fputs(out.data, f);
			fclose(f);
		}
		golden = tu_read_file(path, NULL);
		assert_same_text(out.data, golden, path);
		free(golden);
		free(path);
		strbuf_free(&out);
	}
	stats_destroy(stats);
}
END_TEST

static Suite *
stats_suite(void)
{
	Suite *s = suite_create("stats");
	TCase *tc = tcase_create("stats");

	tcase_add_test(tc, counts_survive_the_process);
	tcase_add_test(tc, half_written_row_freed);
	tcase_add_test(tc, full_family_counts_in_other);
	tcase_add_test_raise_signal(tc, wrong_label_count_panics, SIGABRT);
	tcase_add_test(tc, reason_classes);
	tcase_add_test(tc, openmetrics_golden);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(stats_suite)
