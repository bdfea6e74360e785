/* Tests for group commit (src/queue): spool_commit_batch and the commit
 * thread of spool_committer.c, on real queue directories, with fsync(2)
 * counted and made to fail where a test asks. */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "testutil.h"
#include "tlsrelay/queue.h"
#include "tlsrelay/util.h"

/* Each test gets two fresh queue directories. */
static char queue_a[128], queue_b[128];

/* The spool's fsync(2) comes here (this definition wins over libc's when
 * the library is linked in): fsyncs of directories are counted, and those
 * of one directory fail with EIO on demand. */
static int dir_syncs;
static int fail_dir;
static struct stat fail_st;

int
fsync(int fd)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		dir_syncs++;
		if (fail_dir && st.st_dev == fail_st.st_dev &&
		    st.st_ino == fail_st.st_ino) {
			errno = EIO;
			return -1;
		}
	}
	return (int)syscall(SYS_fsync, fd);
}

static void
fail_fsync_of(const char *queue)
{
	char *path = xasprintf("%s/incoming", queue);

	ck_assert_int_eq(stat(path, &fail_st), 0);
	fail_dir = 1;
	free(path);
}

static void
setup_queues(void)
{
	tu_make_queue(queue_a, sizeof(queue_a), "a");
	tu_make_queue(queue_b, sizeof(queue_b), "b");
	dir_syncs = 0;
	fail_dir = 0;
}

static void
teardown_queues(void)
{
	remove_tree(queue_a);
	remove_tree(queue_b);
}

static const char *const rcpts[] = { "rcpt@example.com" };

/* An open writer in queue with content "Subject: <text>\r\n". */
static struct spool_writer *
new_message(const char *queue, const char *text, char id[QUEUE_ID_MAX])
{
	struct spool_envelope env;
	struct spool_writer *w;
	char *err = NULL, *content;

	memset(&env, 0, sizeof(env));
	env.sender = "sender@example.com";
	env.recipients = rcpts;
	env.n_recipients = 1;
	env.client_addr = "127.0.0.1";
	env.arrival_sec = 1700000000;
	w = spool_open(queue, &env, &err);
	ck_assert_msg(w != NULL, "spool_open: %s", err);
	content = xasprintf("Subject: %s\r\n", text);
	ck_assert_int_eq(spool_write(w, content, strlen(content)), 0);
	free(content);
	snprintf(id, QUEUE_ID_MAX, "%s", spool_id(w));
	return w;
}

/* The content of queue/incoming/id, which must be a valid queue file. */
static char *
incoming_content(const char *queue, const char *id)
{
	struct spool_message msg;
	char *path = xasprintf("%s/incoming/%s", queue, id);
	char *err = NULL, *data, *content;
	size_t len;

	ck_assert_msg(spool_read(path, &msg, &err) == 0, "spool_read: %s",
	    err);
	data = file_read(path, &len, &err);
	ck_assert_msg(data != NULL, "%s", err);
	content = xstrndup(data + msg.content_offset,
	    (size_t)msg.content_length);
	free(data);
	free(path);
	spool_message_free(&msg);
	return content;
}

/* Breaks queue so that a rename into its incoming/ fails (ENOENT). */
static void
remove_incoming(const char *queue)
{
	char *path = xasprintf("%s/incoming", queue);

	ck_assert_int_eq(rmdir(path), 0);
	free(path);
}

START_TEST(test_batch_commits_all)
{
	struct spool_writer *w[3];
	char ids[3][QUEUE_ID_MAX], *errs[3], *content;

	w[0] = new_message(queue_a, "one", ids[0]);
	w[1] = new_message(queue_a, "two", ids[1]);
	w[2] = new_message(queue_b, "three", ids[2]);
	ck_assert_uint_eq(spool_commit_batch(w, 3, errs), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_ptr_null(errs[i]);
	/* One fsync per incoming/ directory, not per message. */
	ck_assert_int_eq(dir_syncs, 2);
	ck_assert_int_eq(tu_count_files(queue_a, "incoming"), 2);
	ck_assert_int_eq(tu_count_files(queue_b, "incoming"), 1);
	ck_assert_int_eq(tu_count_files(queue_a, "tmp"), 0);
	ck_assert_int_eq(tu_count_files(queue_b, "tmp"), 0);
	content = incoming_content(queue_a, ids[1]);
	ck_assert_str_eq(content, "Subject: two\r\n");
	free(content);
	content = incoming_content(queue_b, ids[2]);
	ck_assert_str_eq(content, "Subject: three\r\n");
	free(content);
}
END_TEST

/* One failure fails that message only; its file is gone. */
START_TEST(test_batch_one_fails)
{
	struct spool_writer *w[3];
	char ids[3][QUEUE_ID_MAX], *errs[3];

	w[0] = new_message(queue_a, "one", ids[0]);
	w[1] = new_message(queue_b, "lost", ids[1]);
	w[2] = new_message(queue_a, "three", ids[2]);
	remove_incoming(queue_b);
	ck_assert_uint_eq(spool_commit_batch(w, 3, errs), 1);
	ck_assert_ptr_null(errs[0]);
	ck_assert_ptr_nonnull(errs[1]);
	ck_assert_str_eq(errs[1], "queue file rename error: No such file or "
	    "directory");
	ck_assert_ptr_null(errs[2]);
	free(errs[1]);
	ck_assert_int_eq(tu_count_files(queue_a, "incoming"), 2);
	ck_assert_int_eq(tu_count_files(queue_b, "tmp"), 0);
	ck_assert_int_eq(tu_count_files(queue_a, "tmp"), 0);
}
END_TEST

/* A failed fsync of incoming/ fails, and takes back, every message of
 * the batch renamed into it; another queue's message stays. */
START_TEST(test_batch_directory_fsync_fails)
{
	struct spool_writer *w[3];
	char ids[3][QUEUE_ID_MAX], *errs[3], *content;

	w[0] = new_message(queue_a, "one", ids[0]);
	w[1] = new_message(queue_b, "other queue", ids[1]);
	w[2] = new_message(queue_a, "three", ids[2]);
	fail_fsync_of(queue_a);
	ck_assert_uint_eq(spool_commit_batch(w, 3, errs), 2);
	ck_assert_ptr_nonnull(errs[0]);
	ck_assert_str_eq(errs[0], "queue file directory fsync error: "
	    "Input/output error");
	ck_assert_ptr_null(errs[1]);
	ck_assert_ptr_nonnull(errs[2]);
	ck_assert_str_eq(errs[2], errs[0]);
	free(errs[0]);
	free(errs[2]);
	ck_assert_int_eq(tu_count_files(queue_a, "incoming"), 0);
	ck_assert_int_eq(tu_count_files(queue_a, "tmp"), 0);
	content = incoming_content(queue_b, ids[1]);
	ck_assert_str_eq(content, "Subject: other queue\r\n");
	free(content);
}
END_TEST

/* What the callbacks of the commit thread saw. */
struct outcome {
	int calls;
	char *err;
};

static void
record_outcome(void *arg, const char *err)
{
	struct outcome *o = arg;

	o->calls++;
	o->err = err ? xstrdup(err) : NULL;
}

/* Waits until the committer has results and collects them once. */
static void
collect_once(struct spool_committer *c)
{
	struct pollfd pfd = { .fd = spool_committer_fd(c), .events = POLLIN };

	ck_assert_msg(poll(&pfd, 1, 10000) == 1, "no commit result in 10 s");
	spool_committer_collect(c);
}

START_TEST(test_committer_batch)
{
	struct spool_committer *c;
	struct outcome out[3];
	char ids[3][QUEUE_ID_MAX], *err = NULL;

	memset(out, 0, sizeof(out));
	c = spool_committer_new(&err);
	ck_assert_msg(c != NULL, "spool_committer_new: %s", err);
	spool_committer_submit(c, new_message(queue_a, "one", ids[0]),
	    record_outcome, &out[0]);
	spool_committer_submit(c, new_message(queue_b, "lost", ids[1]),
	    record_outcome, &out[1]);
	spool_committer_submit(c, new_message(queue_a, "three", ids[2]),
	    record_outcome, &out[2]);
	remove_incoming(queue_b);
	spool_committer_kick(c);
	/* One kick, one batch: all results come back together. */
	collect_once(c);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(out[i].calls, 1);
	ck_assert_ptr_null(out[0].err);
	ck_assert_ptr_nonnull(out[1].err);
	ck_assert_str_eq(out[1].err, "queue file rename error: No such file "
	    "or directory");
	ck_assert_ptr_null(out[2].err);
	ck_assert_int_eq(tu_count_files(queue_a, "incoming"), 2);
	ck_assert_int_eq(tu_count_files(queue_b, "tmp"), 0);
	/* queue_b had nothing renamed: only queue_a's incoming/ synced. */
	ck_assert_int_eq(dir_syncs, 1);
	free(out[1].err);
	spool_committer_free(c);
}
END_TEST

/* A callback that submits the next message, as a session does when the
 * client pipelined another one behind the dot. */
struct chain {
	struct spool_committer *c;
	int left;
	int done;
};

static void
chain_next(void *arg, const char *err)
{
	struct chain *ch = arg;
	char id[QUEUE_ID_MAX];

	ck_assert_ptr_null(err);
	ch->done++;
	if (ch->left-- > 0) {
		spool_committer_submit(ch->c, new_message(queue_a, "next", id),
		    chain_next, ch);
		spool_committer_kick(ch->c);
	}
}

START_TEST(test_committer_submit_from_callback)
{
	struct chain ch = { .left = 3 };
	char id[QUEUE_ID_MAX], *err = NULL;

	ch.c = spool_committer_new(&err);
	ck_assert_msg(ch.c != NULL, "spool_committer_new: %s", err);
	spool_committer_submit(ch.c, new_message(queue_a, "first", id),
	    chain_next, &ch);
	spool_committer_kick(ch.c);
	while (ch.done < 4)
		collect_once(ch.c);
	ck_assert_int_eq(tu_count_files(queue_a, "incoming"), 4);
	spool_committer_free(ch.c);
}
END_TEST

/* Stopping commits what was submitted; the callback never runs. */
START_TEST(test_committer_free_commits_queued)
{
	struct spool_committer *c;
	struct outcome out = { 0, NULL };
	char id[QUEUE_ID_MAX], *err = NULL, *content;

	c = spool_committer_new(&err);
	ck_assert_msg(c != NULL, "spool_committer_new: %s", err);
	spool_committer_submit(c, new_message(queue_a, "late", id),
	    record_outcome, &out);
	spool_committer_free(c);
	ck_assert_int_eq(out.calls, 0);
	content = incoming_content(queue_a, id);
	ck_assert_str_eq(content, "Subject: late\r\n");
	free(content);
	ck_assert_int_eq(tu_count_files(queue_a, "tmp"), 0);
}
END_TEST

static Suite *
spool_commit_suite(void)
{
	Suite *s = suite_create("spool_commit");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup_queues, teardown_queues);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_batch_commits_all);
	tcase_add_test(tc, test_batch_one_fails);
	tcase_add_test(tc, test_batch_directory_fsync_fails);
	tcase_add_test(tc, test_committer_batch);
	tcase_add_test(tc, test_committer_submit_from_callback);
	tcase_add_test(tc, test_committer_free_commits_queued);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(spool_commit_suite)
