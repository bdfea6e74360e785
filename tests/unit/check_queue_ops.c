/* Tests for the queue's administration side (src/queue): the qmgr FIFO
 * (both ends, through a real FIFO), the defer log, hold / release /
 * delete / flush, and the mailq-style listing. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "tlsrelay/queue.h"
#include "tlsrelay/util.h"


/* Queues a message (in incoming/) and returns its ID in id. */
static void
make_message(char *id, const char *sender, const char *const *rcpts,
    size_t n, long long arrival, const char *content)
{
	tu_queue_message(tu_queue_dir, id, sender, rcpts, n, arrival, content,
	    strlen(content));
}

static void
move_to(const char *from, const char *to, const char *id)
{
	char *src = tu_queue_path(from, id), *dst = tu_queue_path(to, id);

	ck_assert_int_eq(rename(src, dst), 0);
	free(src);
	free(dst);
}

static void
set_mtime(const char *sub, const char *id, time_t when)
{
	char *path = tu_queue_path(sub, id);
	struct timespec ts[2] = { { when, 0 }, { when, 0 } };

	ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
	free(path);
}

static time_t
get_mtime(const char *sub, const char *id)
{
	char *path = tu_queue_path(sub, id);
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	free(path);
	return st.st_mtime;
}

/* ---- notification ---- */

struct got {
	char records[64][QUEUE_NOTIFY_RECORD_MAX + 1];
	size_t n;
};

static void
collect(void *arg, char request, const char *id)
{
	struct got *g = arg;

	ck_assert_uint_lt(g->n, 64);
	snprintf(g->records[g->n++], sizeof(g->records[0]), "%c%s", request,
	    id);
}

START_TEST(test_layout)
{
	char *path, *err = NULL;
	struct stat st;

	path = xasprintf("%s/defer", tu_queue_dir);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_int_eq(st.st_mode & 07777, 0700);
	free(path);
	path = xasprintf("%s/public", tu_queue_dir);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_int_eq(st.st_mode & 07777, 0710);
	free(path);
	path = xasprintf("%s/public/qmgr", tu_queue_dir);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISFIFO(st.st_mode));
	ck_assert_int_eq(st.st_mode & 07777, 0620);

	/* Again, with a wrong mode to repair and an owner. */
	ck_assert_int_eq(chmod(path, 0666), 0);
	ck_assert_int_eq(spool_init(tu_queue_dir, getuid(), getgid(), &err), 0);
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0620);

	/* Something else at public/qmgr is refused. */
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(symlink("/dev/null", path), 0);
	ck_assert_int_eq(spool_init(tu_queue_dir, (uid_t)-1, (gid_t)-1, &err),
	    -1);
	ck_assert_msg(strstr(err, "not a FIFO") != NULL, "%s", err);
	free(err);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_ge(creat(path, 0600), 0);
	ck_assert_int_eq(spool_init(tu_queue_dir, (uid_t)-1, (gid_t)-1, &err),
	    -1);
	ck_assert_msg(strstr(err, "not a FIFO") != NULL, "%s", err);
	free(err);
	free(path);
}
END_TEST

START_TEST(test_notify_round_trip)
{
	struct queue_notify_reader reader;
	struct got got;
	char id[QUEUE_ID_MAX], *err = NULL;
	int fd;

	queue_id_new(id);
	/* No reader yet: ENXIO, at once. */
	errno = 0;
	ck_assert_int_eq(queue_notify(tu_queue_dir, QUEUE_NOTIFY_NEW, id), -1);
	ck_assert_int_eq(errno, ENXIO);

	fd = queue_notify_listen(tu_queue_dir, &err);
	ck_assert_msg(fd >= 0, "%s", err);
	ck_assert_int_eq(queue_notify(tu_queue_dir, QUEUE_NOTIFY_NEW, id), 0);
	ck_assert_int_eq(queue_notify(tu_queue_dir, QUEUE_NOTIFY_FLUSH, ""), 0);
	ck_assert_int_eq(queue_notify(tu_queue_dir, QUEUE_NOTIFY_FLUSH, id), 0);
	ck_assert_int_eq(queue_notify(tu_queue_dir, QUEUE_NOTIFY_RESCAN, ""),
	    0);
	/* Refused before anything is written. */
	errno = 0;
	ck_assert_int_eq(queue_notify(tu_queue_dir, 'X', id), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(queue_notify(tu_queue_dir, QUEUE_NOTIFY_NEW, ""), -1);
	ck_assert_int_eq(queue_notify(tu_queue_dir, QUEUE_NOTIFY_NEW, "../x"),
	    -1);
	ck_assert_int_eq(queue_notify(tu_queue_dir, QUEUE_NOTIFY_NEW, "abc"),
	    -1);
	ck_assert_int_eq(queue_notify(tu_queue_dir, QUEUE_NOTIFY_RESCAN, id),
	    -1);

	memset(&got, 0, sizeof(got));
	reader.len = 0;
	ck_assert_int_eq(queue_notify_drain(fd, &reader, collect, &got), 0);
	ck_assert_uint_eq(got.n, 4);
	ck_assert_str_eq(got.records[0] + 1, id);
	ck_assert_int_eq(got.records[0][0], 'I');
	ck_assert_str_eq(got.records[1], "F");
	ck_assert_int_eq(got.records[2][0], 'F');
	ck_assert_str_eq(got.records[2] + 1, id);
	ck_assert_str_eq(got.records[3], "R");
	ck_assert_uint_eq(reader.len, 0);
	/* Nothing more: EAGAIN is not an error. */
	ck_assert_int_eq(queue_notify_drain(fd, &reader, collect, &got), 0);
	ck_assert_uint_eq(got.n, 4);
	close(fd);

	/* The reader is gone again: ENXIO, no SIGPIPE. */
	errno = 0;
	ck_assert_int_eq(queue_notify(tu_queue_dir, QUEUE_NOTIFY_RESCAN, ""),
	    -1);
	ck_assert_int_eq(errno, ENXIO);
}
END_TEST

static void
count_records(void *arg, char request, const char *id)
{
	size_t *n = arg;

	ck_assert_int_eq(request, 'I');
	ck_assert_uint_eq(strlen(id), QUEUE_ID_MAX - 4);
	(*n)++;
}

/* A full FIFO makes a notifier fail at once (EAGAIN) instead of blocking
 * an smtpd worker; every record that was written arrives whole. */
START_TEST(test_notify_full_fifo)
{
	struct queue_notify_reader reader;
	char id[QUEUE_ID_MAX], *err = NULL;
	size_t written = 0, received = 0;
	int fd, rc;

	fd = queue_notify_listen(tu_queue_dir, &err);
	ck_assert_msg(fd >= 0, "%s", err);
	queue_id_new(id);
	while ((rc = queue_notify(tu_queue_dir, QUEUE_NOTIFY_NEW, id)) == 0) {
		written++;
		ck_assert_uint_lt(written, 1000000);
	}
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_uint_gt(written, 100);
	reader.len = 0;
	ck_assert_int_eq(queue_notify_drain(fd, &reader, count_records,
	    &received), 0);
	ck_assert_uint_eq(received, written);
	ck_assert_uint_eq(reader.len, 0);
	close(fd);
}
END_TEST

/* Records split across reads are joined; junk is skipped. */
START_TEST(test_notify_parse)
{
	struct queue_notify_reader reader;
	struct got got;
	size_t used, bad;
	int p[2];
	const char junk[] = "IABC\nZ12\nI\n\nFabc\nR12\nI0123456789ABCDEF0123"
	    "456789ABCDEF\nRx\nI12";

	memset(&got, 0, sizeof(got));
	used = queue_notify_parse(junk, strlen(junk), collect, &got, &bad);
	/* "I12" at the end may still become a record. */
	ck_assert_uint_eq(used, strlen(junk) - 3);
	ck_assert_uint_eq(got.n, 1);
	ck_assert_str_eq(got.records[0], "IABC");
	ck_assert_uint_eq(bad, 7);

	/* A partial line too long to be a record is dropped. */
	memset(&got, 0, sizeof(got));
	used = queue_notify_parse("I0123456789ABCDEF0123456789ABCDEF", 33,
	    collect, &got, &bad);
	ck_assert_uint_eq(used, 33);
	ck_assert_uint_eq(bad, 1);
	ck_assert_uint_eq(got.n, 0);
	/* NUL bytes are just bad bytes. */
	used = queue_notify_parse("I1\0002\nR\n", 7, collect, &got, &bad);
	ck_assert_uint_eq(used, 7);
	ck_assert_uint_eq(bad, 1);
	ck_assert_uint_eq(got.n, 1);
	ck_assert_str_eq(got.records[0], "R");

	/* Through a pipe, a record written in two pieces. */
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
	memset(&got, 0, sizeof(got));
	reader.len = 0;
	ck_assert_int_eq(write(p[1], "RiF", 3), 3);
	ck_assert_int_eq(queue_notify_drain(p[0], &reader, collect, &got), 0);
	ck_assert_uint_eq(got.n, 0);
	ck_assert_uint_eq(reader.len, 3);
	ck_assert_int_eq(write(p[1], "A\nI7\n", 5), 5);
	ck_assert_int_eq(queue_notify_drain(p[0], &reader, collect, &got), 0);
	ck_assert_uint_eq(got.n, 1);
	ck_assert_str_eq(got.records[0], "I7");
	ck_assert_uint_eq(reader.len, 0);
	close(p[0]);
	close(p[1]);
}
END_TEST

/* ---- defer log ---- */

START_TEST(test_defer_log_round_trip)
{
	const struct defer_entry first[] = {
		{ "a@x.test", "4.4.1", "connect to mx.x.test[127.0.0.1]:25: "
		    "Connection refused" },
		{ "b\tb@x.test", "4.7.0", "multi\r\nline\treason" },
	};
	const struct defer_entry second[] = {
		{ "c@y.test", "4.3.0", "new" },
		{ "b\tb@x.test", "4.2.2", "mailbox full" },
	};
	struct defer_log log;
	const struct defer_entry *e;
	char id[QUEUE_ID_MAX], *err = NULL, *path, *text;

	queue_id_new(id);
	ck_assert_int_eq(defer_log_read(tu_queue_dir, id, &log, &err), 0);
	ck_assert_uint_eq(log.n, 0);
	ck_assert_int_eq(defer_log_write(tu_queue_dir, id, first, 2, &err), 0);
	path = tu_queue_path("defer", id);
	text = tu_read_file(path, NULL);
	ck_assert_str_eq(text,
	    "a@x.test\t4.4.1\tconnect to mx.x.test[127.0.0.1]:25: "
	    "Connection refused\n"
	    "b b@x.test\t4.7.0\tmulti  line reason\n");
	free(text);

	ck_assert_int_eq(defer_log_read(tu_queue_dir, id, &log, &err), 1);
	ck_assert_uint_eq(log.n, 2);
	ck_assert_str_eq(log.entries[0].recipient, "a@x.test");
	ck_assert_str_eq(log.entries[0].dsn, "4.4.1");
	ck_assert_str_eq(log.entries[1].reason, "multi  line reason");
	e = defer_log_find(&log, "b\tb@x.test");
	ck_assert_ptr_eq(e, &log.entries[1]);
	ck_assert_ptr_null(defer_log_find(&log, "nobody@x.test"));
	defer_log_free(&log);

	/* Update: b's reason replaced in place, c added, a kept. */
	ck_assert_int_eq(defer_log_update(tu_queue_dir, id, second, 2, &err),
	    0);
	text = tu_read_file(path, NULL);
	ck_assert_str_eq(text,
	    "a@x.test\t4.4.1\tconnect to mx.x.test[127.0.0.1]:25: "
	    "Connection refused\n"
	    "b b@x.test\t4.2.2\tmailbox full\n"
	    "c@y.test\t4.3.0\tnew\n");
	free(text);

	/* Remove; a second remove is fine. */
	defer_log_remove(tu_queue_dir, id);
	ck_assert_int_eq(access(path, F_OK), -1);
	defer_log_remove(tu_queue_dir, id);
	/* Writing no entries leaves no file. */
	ck_assert_int_eq(defer_log_write(tu_queue_dir, id, first, 1, &err), 0);
	ck_assert_int_eq(defer_log_write(tu_queue_dir, id, first, 0, &err), 0);
	ck_assert_int_eq(access(path, F_OK), -1);

	/* A bad ID never becomes a path. */
	ck_assert_int_eq(defer_log_write(tu_queue_dir, "../../etc/x", first, 1,
	    &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "bad queue ID"));
	free(err);
	free(path);
}
END_TEST

/* The file is replaced, never rewritten in place: a reader that opened
 * the old file reads it whole; a failed write leaves the old file. */
START_TEST(test_defer_log_atomic)
{
	const struct defer_entry old_e[] = { { "a@x.test", "4.0.0", "old" } };
	const struct defer_entry new_e[] = { { "a@x.test", "4.0.0", "new" } };
	char id[QUEUE_ID_MAX], buf[64], *err = NULL, *path, *tmp, *text;
	struct stat before, after;
	ssize_t n;
	int fd;

	queue_id_new(id);
	path = tu_queue_path("defer", id);
	tmp = xasprintf("%s.tmp", path);
	ck_assert_int_eq(defer_log_write(tu_queue_dir, id, old_e, 1, &err), 0);
	ck_assert_int_eq(stat(path, &before), 0);
	fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(defer_log_write(tu_queue_dir, id, new_e, 1, &err), 0);
	ck_assert_int_eq(stat(path, &after), 0);
	ck_assert(before.st_ino != after.st_ino);
	n = read(fd, buf, sizeof(buf) - 1);
	ck_assert_int_eq(n, (ssize_t)strlen("a@x.test\t4.0.0\told\n"));
	buf[n] = '\0';
	ck_assert_str_eq(buf, "a@x.test\t4.0.0\told\n");
	close(fd);
	ck_assert_int_eq(access(tmp, F_OK), -1);
	ck_assert_int_eq(after.st_mode & 07777, 0600);

	/* ID.tmp cannot be created: the write fails, the file stays. */
	ck_assert_int_eq(mkdir(tmp, 0700), 0);
	ck_assert_int_eq(defer_log_write(tu_queue_dir, id, old_e, 1, &err), -1);
	ck_assert_msg(strstr(err, "defer log open error") != NULL, "%s", err);
	free(err);
	text = tu_read_file(path, NULL);
	ck_assert_str_eq(text, "a@x.test\t4.0.0\tnew\n");
	free(text);
	ck_assert_int_eq(rmdir(tmp), 0);
	free(tmp);
	free(path);
}
END_TEST

START_TEST(test_defer_log_parse)
{
	static const struct {
		const char *data;
		size_t len;
		const char *err;
	} bad[] = {
		{ "a\t4.0.0\tx", 9, "line 1: no line end" },
		{ "a\t4.0.0\tx\nb\t4.0.0\n", 18, "line 2: not three fields" },
		{ "a\t4\tb\tc\n", 8, "line 1: not three fields" },
		{ "\t4.0.0\tx\n", 9, "line 1: empty recipient" },
		{ "a\t4.0.0\tx\ry\n", 12, "line 1: bad byte" },
		{ "a\t4.0\0.0\tx\n", 11, "line 1: bad byte" },
	};
	struct defer_log log;
	char *err = NULL;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(defer_log_parse(bad[i].data, bad[i].len, &log,
		    &err), -1);
		ck_assert_str_eq(err, bad[i].err);
		ck_assert_ptr_null(log.entries);
		ck_assert_ptr_null(log.text);
		free(err);
	}
	ck_assert_int_eq(defer_log_parse("", 0, &log, &err), 0);
	ck_assert_uint_eq(log.n, 0);
	defer_log_free(&log);
	ck_assert_int_eq(defer_log_parse("a\t\t\n", 4, &log, &err), 0);
	ck_assert_uint_eq(log.n, 1);
	ck_assert_str_eq(log.entries[0].dsn, "");
	ck_assert_str_eq(log.entries[0].reason, "");
	defer_log_free(&log);
}
END_TEST

/* ---- hold / release / delete / flush ---- */

START_TEST(test_hold_release_delete)
{
	static const char *const rcpt[] = { "r@x.test" };
	const struct defer_entry reason[] = { { "r@x.test", "4.0.0", "x" } };
	char a[QUEUE_ID_MAX], b[QUEUE_ID_MAX], c[QUEUE_ID_MAX];
	char *err = NULL;
	time_t start = time(NULL), past = start - 3600;

	make_message(a, "s@x.test", rcpt, 1, 1700000000, "Subject: a\r\n");
	make_message(b, "s@x.test", rcpt, 1, 1700000000, "Subject: b\r\n");
	make_message(c, "s@x.test", rcpt, 1, 1700000000, "Subject: c\r\n");
	move_to("incoming", "deferred", b);
	move_to("incoming", "active", c);

	/* hold: from incoming and from deferred; twice is fine. */
	ck_assert_int_eq(queue_op_apply(tu_queue_dir, QUEUE_OP_HOLD, a, &err),
	    QUEUE_OP_DONE);
	ck_assert(tu_queue_has("hold", a) && !tu_queue_has("incoming", a));
	ck_assert_int_eq(queue_op_apply(tu_queue_dir, QUEUE_OP_HOLD, a, &err),
	    QUEUE_OP_DONE);
	ck_assert_int_eq(queue_op_apply(tu_queue_dir, QUEUE_OP_HOLD, b, &err),
	    QUEUE_OP_DONE);
	ck_assert(tu_queue_has("hold", b) && !tu_queue_has("deferred", b));
	/* Not while the qmgr delivers it. */
	ck_assert_int_eq(queue_op_apply(tu_queue_dir, QUEUE_OP_HOLD, c, &err),
	    QUEUE_OP_NOT_APPLICABLE);
	ck_assert_ptr_nonnull(strstr(err, c));
	ck_assert_ptr_nonnull(strstr(err, "being delivered"));
	free(err);
	ck_assert(tu_queue_has("active", c));

	/* release: to deferred with mtime now, from an old mtime. */
	set_mtime("hold", a, past);
	ck_assert_int_eq(queue_op_apply(tu_queue_dir, QUEUE_OP_RELEASE, a,
	    &err), QUEUE_OP_DONE);
	ck_assert(tu_queue_has("deferred", a) && !tu_queue_has("hold", a));
	ck_assert_int_ge(get_mtime("deferred", a), start);
	ck_assert_int_eq(queue_op_apply(tu_queue_dir, QUEUE_OP_RELEASE, a,
	    &err), QUEUE_OP_NOT_APPLICABLE);
	ck_assert_ptr_nonnull(strstr(err, "not on hold"));
	free(err);

	/* flush: a deferred message's next attempt is now. */
	set_mtime("deferred", a, start + 3600);
	ck_assert_int_eq(queue_op_apply(tu_queue_dir, QUEUE_OP_FLUSH, a, &err),
	    QUEUE_OP_DONE);
	ck_assert_int_le(get_mtime("deferred", a), time(NULL));
	ck_assert_int_ge(get_mtime("deferred", a), start);
	ck_assert_int_eq(queue_op_apply(tu_queue_dir, QUEUE_OP_FLUSH, b, &err),
	    QUEUE_OP_NOT_APPLICABLE);
	free(err);

	/* Unknown and malformed IDs are named. */
	ck_assert_int_eq(queue_op_apply(tu_queue_dir, QUEUE_OP_DELETE,
	    "0123456789ABCDEF", &err), QUEUE_OP_NOT_FOUND);
	ck_assert_str_eq(err, "0123456789ABCDEF: no such message");
	free(err);
	ck_assert_int_eq(queue_op_apply(tu_queue_dir, QUEUE_OP_DELETE, "../a",
	    &err), QUEUE_OP_NOT_FOUND);
	ck_assert_str_eq(err, "../a: not a queue ID");
	free(err);

	/* delete: the queue file and its defer file. */
	ck_assert_int_eq(defer_log_write(tu_queue_dir, a, reason, 1, &err), 0);
	ck_assert_int_eq(queue_op_apply(tu_queue_dir, QUEUE_OP_DELETE, a, &err),
	    QUEUE_OP_DONE);
	ck_assert(!tu_queue_has("deferred", a) && !tu_queue_has("defer", a));
	ck_assert_int_eq(queue_op_apply(tu_queue_dir, QUEUE_OP_DELETE, a, &err),
	    QUEUE_OP_NOT_FOUND);
	free(err);
	/* Deleting an active message is allowed (it is the admin's call). */
	ck_assert_int_eq(queue_op_apply(tu_queue_dir, QUEUE_OP_DELETE, c, &err),
	    QUEUE_OP_DONE);
	ck_assert(!tu_queue_has("active", c));
	ck_assert(tu_queue_has("hold", b));
}
END_TEST

START_TEST(test_ops_all)
{
	static const char *const rcpt[] = { "r@x.test" };
	char ids[5][QUEUE_ID_MAX], *err = NULL, *junk;
	size_t done;
	time_t start = time(NULL);

	for (int i = 0; i < 5; i++)
		make_message(ids[i], "s@x.test", rcpt, 1, 1700000000, "x\r\n");
	move_to("incoming", "deferred", ids[1]);
	move_to("incoming", "deferred", ids[2]);
	move_to("incoming", "active", ids[3]);
	move_to("incoming", "hold", ids[4]);
	/* Files that are not queue IDs are left alone. */
	junk = xasprintf("%s/deferred/README", tu_queue_dir);
	ck_assert_int_ge(creat(junk, 0600), 0);

	ck_assert_int_eq(queue_op_apply_all(tu_queue_dir, QUEUE_OP_HOLD, &done,
	    &err), 0);
	ck_assert_uint_eq(done, 3);	/* ids 0, 1, 2; 4 was held already */
	ck_assert(tu_queue_has("hold", ids[0]) && tu_queue_has("hold", ids[2]));
	ck_assert(tu_queue_has("active", ids[3]));

	for (int i = 0; i < 5; i++)
		if (i != 3)
			set_mtime("hold", ids[i], start - 7200);
	ck_assert_int_eq(queue_op_apply_all(tu_queue_dir, QUEUE_OP_RELEASE,
	    &done, &err), 0);
	ck_assert_uint_eq(done, 4);
	for (int i = 0; i < 5; i++)
		if (i != 3) {
			ck_assert(tu_queue_has("deferred", ids[i]));
			ck_assert_int_ge(get_mtime("deferred", ids[i]), start);
		}

	ck_assert_int_eq(queue_op_apply_all(tu_queue_dir, QUEUE_OP_DELETE,
	    &done, &err), 0);
	ck_assert_uint_eq(done, 5);
	for (int i = 0; i < 5; i++)
		ck_assert(!tu_queue_has("deferred", ids[i]) &&
		    !tu_queue_has("active", ids[i]));
	ck_assert_int_eq(access(junk, F_OK), 0);
	free(junk);
}
END_TEST

/* ---- listing ---- */

static char *
list_to_string(void)
{
	char *text = NULL, *err = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(fp);
	ck_assert_msg(queue_list(tu_queue_dir, fp, &err) == 0, "%s", err);
	fclose(fp);
	return text;
}

START_TEST(test_list_empty)
{
	char *text = list_to_string();

	ck_assert_str_eq(text, "Mail queue is empty\n");
	free(text);
}
END_TEST

START_TEST(test_list_format)
{
	static const char *const one[] = { "one@x.test" };
	static const char *const two[] = { "done@y.test", "todo@y.test" };
	static const char *const four[] = {
		"r1@z.test", "r2@z.test", "r3@z.test", "r4@z.test",
	};
	const struct defer_entry reasons[] = {
		{ "r1@z.test", "4.4.1", "connect to mx.z.test[127.0.0.1]:25: "
		    "Connection refused" },
		{ "r2@z.test", "4.4.1", "connect to mx.z.test[127.0.0.1]:25: "
		    "Connection refused" },
		{ "r3@z.test", "4.2.2", "host mx.z.test[127.0.0.1] said: 452 "
		    "4.2.2 Mailbox full (in reply to RCPT TO command)" },
	};
	char a[QUEUE_ID_MAX], b[QUEUE_ID_MAX], c[QUEUE_ID_MAX], d[QUEUE_ID_MAX];
	char e[QUEUE_ID_MAX], *err = NULL, *text, *expected, *path;
	char pad[61];	/* recipients start in column 60 */
	struct spool_message msg;
	char big[3000];

	memset(pad, ' ', 60);
	pad[60] = '\0';
	setenv("TZ", "UTC", 1);
	tzset();
	memset(big, 'x', sizeof(big) - 3);
	memcpy(big + sizeof(big) - 3, "\r\n", 3);
	/* 2023-11-14 22:13:20 UTC is a Tuesday. */
	make_message(a, "alice@x.test", one, 1, 1700000000, "Subject: a\r\n");
	make_message(b, "", two, 2, 1700000061, "Subject: bb\r\n");
	make_message(c, "carol@x.test", four, 4, 1700086400, big);
	make_message(d, "dave@x.test", one, 1, 1700000000, "Subject: d\r\n");
	make_message(e, "eve@x.test", one, 1, 1700000000, "Subject: e\r\n");
	move_to("incoming", "active", b);
	move_to("incoming", "deferred", c);
	move_to("incoming", "hold", d);
	move_to("incoming", "corrupt", e);	/* not listed */

	/* b's first recipient is delivered: not listed. */
	path = tu_queue_path("active", b);
	ck_assert_int_eq(spool_read(path, &msg, &err), 0);
	ck_assert_int_eq(spool_set_status(path, &msg.recipients[0], 'D',
	    &err), 0);
	spool_message_free(&msg);
	free(path);
	ck_assert_int_eq(defer_log_write(tu_queue_dir, c, reasons, 3, &err), 0);

	expected = xasprintf(
	    "-Queue ID-                    --Size-- ----Arrival Time---- "
	    "-Sender/Recipient-------\n"
	    "%s        12 Tue Nov 14 22:13:20  alice@x.test\n"
	    "%sone@x.test\n"
	    "\n"
	    "%s*       13 Tue Nov 14 22:14:21  MAILER-DAEMON\n"
	    "%stodo@y.test\n"
	    "\n"
	    "%s      2999 Wed Nov 15 22:13:20  carol@x.test\n"
	    "%s(connect to mx.z.test[127.0.0.1]:25: Connection refused)\n"
	    "%sr1@z.test\n"
	    "%sr2@z.test\n"
	    "%s(host mx.z.test[127.0.0.1] said: 452 4.2.2 Mailbox full (in "
	    "reply to RCPT TO command))\n"
	    "%sr3@z.test\n"
	    "%sr4@z.test\n"
	    "\n"
	    "%s!       12 Tue Nov 14 22:13:20  dave@x.test\n"
	    "%sone@x.test\n"
	    "\n"
	    "-- 3 Kbytes in 4 Requests.\n",
	    a, pad, b, pad, c, pad, pad, pad, pad, pad, pad, d, pad);
	text = list_to_string();
	ck_assert_str_eq(text, expected);
	free(text);
	free(expected);
}
END_TEST

static Suite *
queue_ops_suite(void)
{
	Suite *s = suite_create("queue_ops");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, tu_queue_setup, tu_queue_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_layout);
	tcase_add_test(tc, test_notify_round_trip);
	tcase_add_test(tc, test_notify_full_fifo);
	tcase_add_test(tc, test_notify_parse);
	tcase_add_test(tc, test_defer_log_round_trip);
	tcase_add_test(tc, test_defer_log_atomic);
	tcase_add_test(tc, test_defer_log_parse);
	tcase_add_test(tc, test_hold_release_delete);
	tcase_add_test(tc, test_ops_all);
	tcase_add_test(tc, test_list_empty);
	tcase_add_test(tc, test_list_format);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(queue_ops_suite)
