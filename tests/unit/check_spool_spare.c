/* Tests for spool_spare (src/queue/spool_spare.c): a delivered message's
 * file is emptied, set aside, released into a slot and taken by the next
 * message, never while a name in the queue may still lead to it. */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "tlsrelay/queue.h"
#include "tlsrelay/util.h"

static const char *const rcpts[] = { "one@example.com" };

/* Commits a message with len bytes of content; returns its ID. */
static char *
commit_message(size_t len)
{
	struct spool_envelope env;
	struct spool_writer *w;
	char *err = NULL, *id, *content = xmalloc(len + 1);

	memset(content, 'x', len);
	memset(&env, 0, sizeof(env));
	env.sender = "sender@example.com";
	env.recipients = rcpts;
	env.n_recipients = 1;
	env.arrival_sec = 1700000000;
	w = spool_open(tu_queue_dir, &env, &err);
	ck_assert_msg(w != NULL, "spool_open: %s", err);
	ck_assert_int_eq(spool_write(w, content, len), 0);
	id = xstrdup(spool_id(w));
	ck_assert_msg(spool_commit(w, &err) == 0, "spool_commit: %s", err);
	free(content);
	return id;
}

static ino_t
inode_of(const char *sub, const char *name)
{
	char *path = tu_queue_path(sub, name);
	struct stat st;

	ck_assert_msg(stat(path, &st) == 0, "stat %s", path);
	free(path);
	return st.st_ino;
}

/* incoming/ID holds message id with len bytes of content and nothing
 * behind its end (what an earlier user of the file wrote is gone). */
static void
assert_exact_file(const char *id, size_t len)
{
	char *path = tu_queue_path("incoming", id), *err = NULL;
	struct spool_message msg;
	struct stat st;

	ck_assert_msg(spool_read(path, &msg, &err) == 0, "%s", err);
	ck_assert_str_eq(msg.id, id);
	ck_assert_int_eq(msg.content_length, (off_t)len);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, msg.content_offset + (off_t)len);
	spool_message_free(&msg);
	free(path);
}

/* What the queue manager does with a delivered message: into active/,
 * then set aside. */
static void
set_aside(const char *id)
{
	char *incoming = tu_queue_path("incoming", id);
	char *active = tu_queue_path("active", id);

	ck_assert_int_eq(rename(incoming, active), 0);
	ck_assert_int_eq(spool_spare_remove(tu_queue_dir, active, id), 1);
	free(incoming);
	free(active);
}

static void
release(const char *id)
{
	char *ids[] = { xstrdup(id) };

	spool_spare_empty(tu_queue_dir, ids, 1);
	spool_spare_release(tu_queue_dir, ids, 1);
	free(ids[0]);
}

/* The one file in spare/ (a slot), its size in *size. */
static ino_t
only_spare(off_t *size)
{
	char *slot = NULL;
	struct stat st;

	ck_assert_int_eq(tu_count_files(tu_queue_dir, "spare"), 1);
	for (unsigned i = 0; i < SPOOL_SPARE_SLOTS && slot == NULL; i++) {
		char name[16];

		snprintf(name, sizeof(name), "%u", i);
		if (tu_queue_has("spare", name))
			slot = tu_queue_path("spare", name);
	}
	ck_assert_ptr_nonnull(slot);
	ck_assert_int_eq(stat(slot, &st), 0);
	*size = st.st_size;
	free(slot);
	return st.st_ino;
}

START_TEST(test_reused_by_next_message)
{
	char *first = commit_message(10000), *second;
	ino_t ino = inode_of("incoming", first);
	off_t size;

	set_aside(first);
	/* Out of the queue at once, not yet reusable. */
	ck_assert(!tu_queue_has("active", first));
	ck_assert_int_eq(tu_count_files(tu_queue_dir, "spare"), 1);
	release(first);
	ck_assert_uint_eq(only_spare(&size), ino);
	ck_assert_int_eq(size, 0);

	/* A shorter message in the same file: nothing of the first one
	 * stays behind its end. */
	second = commit_message(100);
	ck_assert_uint_eq(inode_of("incoming", second), ino);
	ck_assert_int_eq(tu_count_files(tu_queue_dir, "spare"), 0);
	ck_assert_int_eq(tu_count_files(tu_queue_dir, "tmp"), 0);
	assert_exact_file(second, 100);
	free(first);
	free(second);
}
END_TEST

START_TEST(test_not_taken_before_release)
{
	char *first = commit_message(100), *second;
	ino_t ino = inode_of("incoming", first);

	set_aside(first);
	second = commit_message(100);
	ck_assert_uint_ne(inode_of("incoming", second), ino);
	/* A crash here: the next queue manager removes it. */
	ck_assert_uint_eq(spool_spare_purge(tu_queue_dir), 1);
	ck_assert_int_eq(tu_count_files(tu_queue_dir, "spare"), 0);
	free(first);
	free(second);
}
END_TEST

START_TEST(test_purge_keeps_released)
{
	char *first = commit_message(100), *second = commit_message(100);
	off_t size;

	set_aside(first);
	release(first);
	set_aside(second);
	ck_assert_uint_eq(spool_spare_purge(tu_queue_dir), 1);
	(void)only_spare(&size);
	free(first);
	free(second);
}
END_TEST

/* spare/SLOT with len bytes of 'x'; its path (caller frees). */
static char *
make_slot(unsigned slot, size_t len)
{
	char name[16], *path, *data;
	int fd;

	snprintf(name, sizeof(name), "%u", slot);
	path = tu_queue_path("spare", name);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	ck_assert_int_ge(fd, 0);
	data = xmalloc(len + 1);
	memset(data, 'x', len);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
	free(data);
	return path;
}

START_TEST(test_full_spare_removes)
{
	char *id = commit_message(100);
	ino_t ino = inode_of("incoming", id);

	/* Every slot taken: the file is removed, none overwritten. */
	for (unsigned i = 0; i < SPOOL_SPARE_SLOTS; i++)
		free(make_slot(i, 1));
	set_aside(id);
	release(id);
	ck_assert_int_eq(tu_count_files(tu_queue_dir, "spare"),
	    SPOOL_SPARE_SLOTS);
	for (unsigned i = 0; i < SPOOL_SPARE_SLOTS; i++) {
		char name[16];
		struct stat st;
		char *path;

		snprintf(name, sizeof(name), "%u", i);
		path = tu_queue_path("spare", name);
		ck_assert_int_eq(stat(path, &st), 0);
		ck_assert_int_eq(st.st_size, 1);
		ck_assert_uint_ne(st.st_ino, ino);
		free(path);
	}
	ck_assert(!tu_queue_has("active", id));
	free(id);
}
END_TEST

START_TEST(test_unusable_spare_skipped)
{
	char *slot = make_slot(0, 8), *other = tu_queue_path("", "keep");
	char *good = make_slot(1, 0), *id;
	struct stat st, good_st;

	/* A file with a second name is not ours to overwrite; the next
	 * slot's file is taken instead. */
	ck_assert_int_eq(link(slot, other), 0);
	ck_assert_int_eq(stat(good, &good_st), 0);
	id = commit_message(100);
	ck_assert_int_eq(stat(other, &st), 0);
	ck_assert_int_eq(st.st_size, 8);
	ck_assert_int_eq(st.st_nlink, 1);
	ck_assert_uint_eq(inode_of("incoming", id), good_st.st_ino);
	ck_assert_int_eq(tu_count_files(tu_queue_dir, "tmp"), 0);
	ck_assert_int_eq(tu_count_files(tu_queue_dir, "spare"), 0);
	free(id);
	free(slot);
	free(good);
	free(other);
}
END_TEST

START_TEST(test_planted_spare_removed)
{
	char *fifo = tu_queue_path("spare", "0");
	char *dir = tu_queue_path("spare", "1");
	char *link_to = tu_queue_path("spare", "2");
	char *id;

	/* A FIFO must not hold the open, and nothing stays in tmp/. */
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	ck_assert_int_eq(symlink("/dev/null", link_to), 0);
	id = commit_message(100);
	ck_assert(tu_queue_has("incoming", id));
	ck_assert_int_eq(tu_count_files(tu_queue_dir, "tmp"), 0);
	ck_assert_int_eq(tu_count_files(tu_queue_dir, "spare"), 0);
	free(id);
	free(fifo);
	free(dir);
	free(link_to);
}
END_TEST

START_TEST(test_mode_reset)
{
	char *first = commit_message(100), *second, *path;
	struct stat st;

	/* The owner-execute bit records a delay warning sent. */
	path = tu_queue_path("incoming", first);
	ck_assert_int_eq(chmod(path, 0700), 0);
	free(path);
	set_aside(first);
	release(first);
	second = commit_message(100);
	path = tu_queue_path("incoming", second);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	free(path);
	free(first);
	free(second);
}
END_TEST

START_TEST(test_nonempty_spare_emptied)
{
	char *slot = make_slot(0, 20000), *id;

	id = commit_message(10);
	ck_assert_int_eq(tu_count_files(tu_queue_dir, "spare"), 0);
	assert_exact_file(id, 10);
	free(id);
	free(slot);
}
END_TEST

START_TEST(test_syncer_releases)
{
	char *err = NULL, *id = commit_message(100);
	struct spool_syncer *syncer = spool_syncer_new(tu_queue_dir, &err);
	off_t size;

	ck_assert_msg(syncer != NULL, "%s", err);
	set_aside(id);
	spool_syncer_queue_spare(syncer, id);
	spool_syncer_free(syncer);	/* drains the queue first */
	(void)only_spare(&size);
	ck_assert_int_eq(size, 0);
	free(id);
}
END_TEST

static Suite *
spare_suite(void)
{
	Suite *s = suite_create("spool_spare");
	TCase *tc = tcase_create("spare");

	tcase_add_checked_fixture(tc, tu_queue_setup, tu_queue_teardown);
	tcase_add_test(tc, test_reused_by_next_message);
	tcase_add_test(tc, test_not_taken_before_release);
	tcase_add_test(tc, test_purge_keeps_released);
	tcase_add_test(tc, test_full_spare_removes);
	tcase_add_test(tc, test_unusable_spare_skipped);
	tcase_add_test(tc, test_planted_spare_removed);
	tcase_add_test(tc, test_mode_reset);
	tcase_add_test(tc, test_nonempty_spare_emptied);
	tcase_add_test(tc, test_syncer_releases);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(spare_suite)
