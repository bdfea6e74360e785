/* Tests for the durable spool (src/queue): IDs, writing, committing,
 * reading back, in-place status updates, a full disk and crashes. */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include "testutil.h"
#include "tlsrelay/queue.h"
#include "tlsrelay/util.h"

static const char *const test_rcpts[] = {
	"one@example.com", "two@example.net", "three@example.org",
};

static void
make_envelope(struct spool_envelope *env)
{
	memset(env, 0, sizeof(*env));
	env->sender = "sender@example.com";
	env->recipients = test_rcpts;
	env->n_recipients = 3;
	env->client_name = "client.example";
	env->client_addr = "127.0.0.1";
	env->helo_name = "helo.example";
	env->protocol = "ESMTPS";
	env->tls_info = "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 "
	    "(256/256 bits)";
	env->body_8bitmime = 1;
	env->arrival_sec = 1700000000;
	env->arrival_usec = 42;
}

static char *
incoming_path(const char *id)
{
	return xasprintf("%s/incoming/%s", tu_queue_dir, id);
}

/* Writes a message, commits it, returns its incoming path. */
static char *
spool_message(const struct spool_envelope *env, const char *content,
    size_t len)
{
	struct spool_writer *w;
	char *err = NULL, *path;

	w = spool_open(tu_queue_dir, env, &err);
	ck_assert_msg(w != NULL, "spool_open: %s", err);
	ck_assert_int_eq(spool_write(w, content, len), 0);
	path = incoming_path(spool_id(w));
	ck_assert_msg(spool_commit(w, &err) == 0, "spool_commit: %s", err);
	return path;
}

/* Content of a message as read back: content_offset/length of msg. */
static char *
read_content(const char *path, const struct spool_message *msg)
{
	size_t len;
	char *data = tu_read_file(path, &len);
	char *content;

	ck_assert_int_eq((off_t)len, msg->content_offset + msg->content_length);
	content = xmalloc((size_t)msg->content_length + 1);
	memcpy(content, data + msg->content_offset,
	    (size_t)msg->content_length);
	free(data);
	return content;
}

START_TEST(test_init_dirs)
{
	static const char *const subs[] = {
		"tmp", "incoming", "active", "deferred", "hold", "corrupt",
		"spare",
	};
	char *err = NULL, *path;
	struct stat st;
	int fd;

	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		path = xasprintf("%s/%s", tu_queue_dir, subs[i]);
		ck_assert_int_eq(lstat(path, &st), 0);
		ck_assert(S_ISDIR(st.st_mode));
		ck_assert_int_eq(st.st_mode & 07777, 0700);
		free(path);
	}
	/* Again: existing directories are fine. */
	ck_assert_int_eq(spool_init(tu_queue_dir, (uid_t)-1, (gid_t)-1, &err),
	    0);
	ck_assert_ptr_null(err);
	/* Ownership is given when asked for. */
	ck_assert_int_eq(spool_init(tu_queue_dir, getuid(), getgid(), &err), 0);

	/* A file where a directory belongs is an error. */
	path = xasprintf("%s/hold", tu_queue_dir);
	ck_assert_int_eq(rmdir(path), 0);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(spool_init(tu_queue_dir, (uid_t)-1, (gid_t)-1, &err),
	    -1);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, "not a directory") != NULL, "%s", err);
	free(err);
	/* So is a symlink. */
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(symlink("/tmp", path), 0);
	ck_assert_int_eq(spool_init(tu_queue_dir, (uid_t)-1, (gid_t)-1, &err),
	    -1);
	ck_assert_msg(strstr(err, "not a directory") != NULL, "%s", err);
	free(err);
	free(path);

	/* A missing queue directory is created; a file is refused. */
	path = xasprintf("%s/sub", tu_queue_dir);
	ck_assert_int_eq(spool_init(path, (uid_t)-1, (gid_t)-1, &err), 0);
	free(path);
	path = xasprintf("%s/sub/tmp/file", tu_queue_dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	close(fd);
	ck_assert_int_eq(spool_init(path, (uid_t)-1, (gid_t)-1, &err), -1);
	ck_assert_msg(strstr(err, "not a directory") != NULL, "%s", err);
	free(err);
	free(path);
}
END_TEST

static int
valid_id(const char *id)
{
	return strlen(id) == 28 && strspn(id, "0123456789ABCDEF") == 28;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

START_TEST(test_queue_id)
{
	enum { PER_PROC = 2000, PROCS = 4, TOTAL = PER_PROC * PROCS };
	char (*ids)[QUEUE_ID_MAX] = xcalloc(TOTAL, QUEUE_ID_MAX);
	int fds[2];

	/* Several processes at once, as the smtpd workers are. */
	ck_assert_int_eq(pipe(fds), 0);
	for (int p = 1; p < PROCS; p++) {
		pid_t pid = fork();

		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			char id[QUEUE_ID_MAX];

			for (int i = 0; i < PER_PROC; i++) {
				memset(id, 0, sizeof(id));
				queue_id_new(id);
				if (write(fds[1], id, sizeof(id)) != sizeof(id))
					_exit(1);
			}
			_exit(0);
		}
	}
	close(fds[1]);
	for (int i = 0; i < PER_PROC; i++)
		queue_id_new(ids[i]);
	for (int i = PER_PROC; i < TOTAL; i++) {
		size_t got = 0;

		while (got < QUEUE_ID_MAX) {
			ssize_t n = read(fds[0], ids[i] + got,
			    QUEUE_ID_MAX - got);

			ck_assert_int_gt(n, 0);
			got += (size_t)n;
		}
	}
	close(fds[0]);
	while (wait(NULL) > 0)
		;
	for (int i = 0; i < TOTAL; i++)
		ck_assert_msg(valid_id(ids[i]), "bad id \"%s\"", ids[i]);
	qsort(ids, TOTAL, QUEUE_ID_MAX, cmp_str);
	for (int i = 1; i < TOTAL; i++)
		ck_assert_msg(strcmp(ids[i - 1], ids[i]) != 0,
		    "duplicate id %s", ids[i]);
	free(ids);
}
END_TEST

/* The pid field: this process's PID below bit 22, the node's tag above,
 * different for the nodes of a cluster (names as in test_cluster). */
static unsigned long
pid_field(const char *node)
{
	char id[QUEUE_ID_MAX], hex[9];

	queue_id_node(node);
	queue_id_new(id);
	memcpy(hex, id + 14, 8);
	hex[8] = '\0';
	return strtoul(hex, NULL, 16);
}

START_TEST(test_queue_id_node)
{
	unsigned long a = pid_field("node1.relay.test");
	unsigned long b = pid_field("node2.relay.test");
	unsigned long c = pid_field("node3.relay.test");

	ck_assert_uint_eq(a & 0x3fffff, (unsigned long)getpid());
	ck_assert_uint_eq(b & 0x3fffff, (unsigned long)getpid());
	ck_assert_uint_ne(a >> 22, b >> 22);
	ck_assert_uint_ne(a >> 22, c >> 22);
	ck_assert_uint_ne(b >> 22, c >> 22);
	ck_assert_uint_eq(pid_field("node1.relay.test"), a);
	queue_id_node("");
}
END_TEST

START_TEST(test_round_trip)
{
	struct spool_envelope env;
	struct spool_message msg;
	char content[1024], *path, *err = NULL, *back;

	/* Every byte value, NUL and bare CR and LF included. */
	for (size_t i = 0; i < sizeof(content); i++)
		content[i] = (char)(i * 7 + 3);
	make_envelope(&env);
	path = spool_message(&env, content, sizeof(content));
	ck_assert_int_eq(tu_count_files(tu_queue_dir, "tmp"), 0);
	ck_assert_int_eq(tu_count_files(tu_queue_dir, "incoming"), 1);

	ck_assert_msg(spool_read(path, &msg, &err) == 0, "spool_read: %s",
	    err);
	ck_assert_int_eq(msg.version, SPOOL_FORMAT_VERSION);
	ck_assert_str_eq(path + strlen(path) - strlen(msg.id), msg.id);
	ck_assert(valid_id(msg.id));
	ck_assert_str_eq(msg.sender, env.sender);
	ck_assert_uint_eq(msg.n_recipients, 3);
	for (size_t i = 0; i < 3; i++) {
		ck_assert_str_eq(msg.recipients[i].address, test_rcpts[i]);
		ck_assert_int_eq(msg.recipients[i].status, ' ');
	}
	ck_assert_str_eq(msg.client_name, env.client_name);
	ck_assert_str_eq(msg.client_addr, env.client_addr);
	ck_assert_str_eq(msg.helo_name, env.helo_name);
	ck_assert_str_eq(msg.protocol, env.protocol);
	ck_assert_str_eq(msg.tls_info, env.tls_info);
	ck_assert_int_eq(msg.body_8bitmime, 1);
	ck_assert_int_eq(msg.arrival_sec, 1700000000);
	ck_assert_int_eq(msg.arrival_usec, 42);
	ck_assert_int_eq(msg.content_length, sizeof(content));
	back = read_content(path, &msg);
	ck_assert(memcmp(back, content, sizeof(content)) == 0);
	free(back);
	spool_message_free(&msg);
	free(path);

	/* The null sender, empty optional values, 7BIT, no content. */
	env.sender = "";
	env.helo_name = "";
	env.tls_info = NULL;
	env.client_name = NULL;
	env.body_8bitmime = 0;
	env.n_recipients = 1;
	env.arrival_usec = 999999;
	path = spool_message(&env, "", 0);
	ck_assert_msg(spool_read(path, &msg, &err) == 0, "spool_read: %s",
	    err);
	ck_assert_str_eq(msg.sender, "");
	ck_assert_str_eq(msg.helo_name, "");
	ck_assert_str_eq(msg.tls_info, "");
	ck_assert_str_eq(msg.client_name, "unknown");
	ck_assert_int_eq(msg.body_8bitmime, 0);
	ck_assert_int_eq(msg.arrival_usec, 999999);
	ck_assert_uint_eq(msg.n_recipients, 1);
	ck_assert_int_eq(msg.content_length, 0);
	spool_message_free(&msg);
	free(path);
	ck_assert_int_eq(tu_count_files(tu_queue_dir, "incoming"), 2);
	ck_assert_int_eq(tu_count_files(tu_queue_dir, "tmp"), 0);
}
END_TEST

/* 5 MB through odd-sized writes that straddle the 64 KiB buffer. */
START_TEST(test_large_odd_chunks)
{
	static const size_t chunks[] = { 1, 7, 4093, 65535, 65536, 65537,
	    131071, 3, 200003 };
	const size_t total = 5 * 1024 * 1024 + 17;
	struct spool_envelope env;
	struct spool_message msg;
	struct spool_writer *w;
	char *content = xmalloc(total), *err = NULL, *path, *back;
	size_t off = 0, k = 0;
	unsigned int x = 12345;

	for (size_t i = 0; i < total; i++) {
		x = x * 1103515245U + 12345U;
		content[i] = (char)(x >> 16);
	}
	make_envelope(&env);
	w = spool_open(tu_queue_dir, &env, &err);
	ck_assert_msg(w != NULL, "spool_open: %s", err);
	while (off < total) {
		size_t n = chunks[k++ % (sizeof(chunks) / sizeof(chunks[0]))];

		if (n > total - off)
			n = total - off;
		ck_assert_int_eq(spool_write(w, content + off, n), 0);
		off += n;
	}
	path = incoming_path(spool_id(w));
	ck_assert_msg(spool_commit(w, &err) == 0, "spool_commit: %s", err);
	ck_assert_msg(spool_read(path, &msg, &err) == 0, "spool_read: %s",
	    err);
	ck_assert_int_eq(msg.content_length, total);
	back = read_content(path, &msg);
	ck_assert(memcmp(back, content, total) == 0);
	free(back);
	spool_message_free(&msg);
	free(path);
	free(content);
}
END_TEST

START_TEST(test_abort)
{
	struct spool_envelope env;
	struct spool_writer *w;
	char *err = NULL;

	make_envelope(&env);
	w = spool_open(tu_queue_dir, &env, &err);
	ck_assert_ptr_nonnull(w);
	ck_assert_int_eq(tu_count_files(tu_queue_dir, "tmp"), 1);
	ck_assert_int_eq(spool_write(w, "Subject: x\r\n\r\nbody\r\n", 20), 0);
	spool_abort(w);
	ck_assert_int_eq(tu_count_files(tu_queue_dir, "tmp"), 0);
	ck_assert_int_eq(tu_count_files(tu_queue_dir, "incoming"), 0);
	spool_abort(NULL);
}
END_TEST

START_TEST(test_tmp_file_mode)
{
	struct spool_envelope env;
	struct spool_writer *w;
	struct stat st;
	char *err = NULL, *path;

	make_envelope(&env);
	w = spool_open(tu_queue_dir, &env, &err);
	ck_assert_ptr_nonnull(w);
	path = xasprintf("%s/tmp/%s", tu_queue_dir, spool_id(w));
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	free(path);
	spool_abort(w);
}
END_TEST

/* A line break in any value would let it forge records. */
START_TEST(test_refuse_line_breaks)
{
	static const char *const bad_values[] = {
		"a\r\nRXevil@example.com", "a\nb", "a\rb", "\n",
	};
	const char *rcpts[2] = { "ok@example.com", NULL };
	struct spool_envelope env;
	struct spool_writer *w;
	char *err = NULL;

	for (size_t v = 0; v < sizeof(bad_values) / sizeof(bad_values[0]);
	    v++) {
		for (int field = 0; field < 7; field++) {
			make_envelope(&env);
			rcpts[1] = "ok2@example.com";
			env.recipients = rcpts;
			env.n_recipients = 2;
			switch (field) {
			case 0: env.sender = bad_values[v]; break;
			case 1: rcpts[1] = bad_values[v]; break;
			case 2: env.client_name = bad_values[v]; break;
			case 3: env.client_addr = bad_values[v]; break;
			case 4: env.helo_name = bad_values[v]; break;
			case 5: env.protocol = bad_values[v]; break;
			case 6: env.tls_info = bad_values[v]; break;
			}
			w = spool_open(tu_queue_dir, &env, &err);
			ck_assert_msg(w == NULL, "field %d value %zu accepted",
			    field, v);
			ck_assert_ptr_nonnull(err);
			ck_assert_msg(strstr(err, "CR or LF") != NULL, "%s",
			    err);
			free(err);
			err = NULL;
		}
	}
	/* No sender, no recipients, bad time: refused as well. */
	make_envelope(&env);
	env.sender = NULL;
	ck_assert_ptr_null(spool_open(tu_queue_dir, &env, &err));
	free(err);
	make_envelope(&env);
	env.n_recipients = 0;
	ck_assert_ptr_null(spool_open(tu_queue_dir, &env, &err));
	free(err);
	make_envelope(&env);
	env.arrival_usec = 1000000;
	ck_assert_ptr_null(spool_open(tu_queue_dir, &env, &err));
	free(err);
	make_envelope(&env);
	env.arrival_sec = -1;
	ck_assert_ptr_null(spool_open(tu_queue_dir, &env, &err));
	free(err);
	make_envelope(&env);
	rcpts[0] = "";
	env.recipients = rcpts;
	env.n_recipients = 1;
	ck_assert_ptr_null(spool_open(tu_queue_dir, &env, &err));
	ck_assert_msg(strstr(err, "empty recipient") != NULL, "%s", err);
	free(err);
	ck_assert_int_eq(tu_count_files(tu_queue_dir, "tmp"), 0);
}
END_TEST

START_TEST(test_open_error)
{
	struct spool_envelope env;
	char *err = NULL;
	char *missing = xasprintf("%s/nonexistent", tu_queue_dir);

	make_envelope(&env);
	ck_assert_ptr_null(spool_open(missing, &env, &err));
	ck_assert_msg(strstr(err, "No such file or directory") != NULL, "%s",
	    err);
	free(err);
	free(missing);
}
END_TEST

/* spool_read on bad files: each malformation, its error text. */
#define HDR	"TLSRELAY-QUEUE 1\n"
#define ID	"I0123456789ABCDEF\n"
#define TIME	"T1700000000.123456\n"
#define OPT	"Nclient.example\nA127.0.0.1\nHhelo\nPESMTP\nX\nB7BIT\n"
#define SND	"Ssender@example.com\n"
#define RCPT	"R rcpt@example.com\n"
#define END	"M\n"
#define SIZE6	"z00000000000000000006\n"

static const struct {
	const char *data;
	size_t len;		/* 0: strlen(data) */
	const char *error;	/* NULL: must parse */
} read_cases[] = {
	{ HDR ID TIME OPT SND RCPT END "body\r\n", 0, NULL },
	{ HDR ID TIME SND RCPT END, 0, NULL },	/* optional records absent */
	{ HDR "xfuture optional\n" ID TIME SND RCPT "yy\n" END, 0, NULL },
	/* The content size, when recorded, must match. */
	{ HDR ID TIME SND RCPT SIZE6 END "body\r\n", 0, NULL },
	{ HDR ID TIME SND RCPT SIZE6 END "bo", 0,
	    "truncated content: 2 bytes where 6 were written" },
	{ HDR ID TIME SND RCPT SIZE6 END "body\r\nX", 0,
	    "overlong content: 7 bytes where 6 were written" },
	{ HDR ID TIME SND RCPT "z6\n" END "body\r\n", 0,
	    "bad content size record at offset" },
	{ HDR ID TIME SND RCPT "z0000000000000000000x\n" END, 0,
	    "bad content size record at offset" },
	{ HDR ID TIME SND RCPT SIZE6 SIZE6 END "body\r\n", 0,
	    "duplicate record type 'z'" },
	{ HDR ID TIME SND RCPT END "\0\r\n\n", 4 + sizeof(HDR ID TIME SND
	    RCPT END) - 1, NULL },
	{ "", 0, "bad magic" },
	{ "GARBAGE\n", 0, "bad magic" },
	{ "TLSRELAY-QUEUE 1", 0, "bad magic" },
	{ "TLSRELAY-QUEUE \n", 0, "bad magic" },
	{ "TLSRELAY-QUEUE 1x\n", 0, "bad magic" },
	{ "TLSRELAY-QUEUE  1\n", 0, "bad magic" },
	{ "tlsrelay-queue 1\n", 0, "bad magic" },
	{ "TLSRELAY-QUEUE 2\n" ID TIME SND RCPT END, 0,
	    "unsupported queue file version 2" },
	{ "TLSRELAY-QUEUE 0\n" ID TIME SND RCPT END, 0,
	    "unsupported queue file version 0" },
	{ HDR, 0, "missing end-of-envelope record" },
	{ HDR ID TIME SND RCPT, 0, "missing end-of-envelope record" },
	{ HDR ID TIME SND "R rcpt@example.com", 0,
	    "truncated record at offset" },
	{ HDR "Zfoo\n" ID TIME SND RCPT END, 0,
	    "bad record type 0x5a at offset 17" },
	{ HDR ID "\n" TIME SND RCPT END, 0,
	    "bad record type 0x0a at offset 35" },
	{ HDR "\001x\n" ID TIME SND RCPT END, 0,
	    "bad record type 0x01 at offset 17" },
	{ HDR "\377x\n" ID TIME SND RCPT END, 0,
	    "bad record type 0xff at offset 17" },
	{ HDR ID TIME "Sa\0b\n" RCPT END,
	    sizeof(HDR ID TIME "Sa\0b\n" RCPT END) - 1,
	    "bad byte 0x00 in record at offset 54" },
	{ HDR ID TIME "Sa\rb\n" RCPT END, 0,
	    "bad byte 0x0d in record at offset 54" },
	{ HDR ID TIME "S<>\r\n" RCPT END, 0, "bad byte 0x0d" },
	{ HDR ID TIME RCPT END, 0, "missing sender record" },
	{ HDR TIME SND RCPT END, 0, "missing queue id record" },
	{ HDR ID SND RCPT END, 0, "missing arrival time record" },
	{ HDR ID TIME SND END, 0, "missing recipient record" },
	{ HDR ID TIME SND SND RCPT END, 0, "duplicate record type 'S'" },
	{ HDR ID ID TIME SND RCPT END, 0, "duplicate queue id record" },
	{ HDR ID TIME TIME SND RCPT END, 0, "duplicate arrival time record" },
	{ HDR ID TIME "B7BIT\nB7BIT\n" SND RCPT END, 0,
	    "duplicate body type record" },
	{ HDR ID TIME "Hh\nHh\n" SND RCPT END, 0,
	    "duplicate record type 'H'" },
	{ HDR "I0123abc\n" TIME SND RCPT END, 0, "bad queue id" },
	{ HDR "I\n" TIME SND RCPT END, 0, "bad queue id" },
	{ HDR "I0123456789ABCDEF0123456789ABCDEF\n" TIME SND RCPT END, 0,
	    "bad queue id" },
	{ HDR "I../../etc/x\n" TIME SND RCPT END, 0, "bad queue id" },
	{ HDR ID "T1700000000\n" SND RCPT END, 0, "bad arrival time" },
	{ HDR ID "T1700000000.5\n" SND RCPT END, 0, "bad arrival time" },
	{ HDR ID "T-1.000000\n" SND RCPT END, 0, "bad arrival time" },
	{ HDR ID "T.000000\n" SND RCPT END, 0, "bad arrival time" },
	{ HDR ID "T99999999999999999999.000000\n" SND RCPT END, 0,
	    "bad arrival time" },
	{ HDR ID TIME "BBINARYMIME\n" SND RCPT END, 0, "bad body type" },
	{ HDR ID TIME SND "RXrcpt@example.com\n" END, 0,
	    "bad recipient status 0x58" },
	{ HDR ID TIME SND "R \n" END, 0, "empty recipient record" },
	{ HDR ID TIME SND "R\n" END, 0, "empty recipient record" },
	{ HDR ID TIME SND RCPT "Mx\n", 0, "bad end-of-envelope record" },
};

static char *
write_case(const char *data, size_t len)
{
	char *path = xasprintf("%s/corrupt/case", tu_queue_dir);
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
	return path;
}

START_TEST(test_read_malformed)
{
	struct spool_message msg;
	char *err = NULL;
	char *path;
	size_t len;

	len = read_cases[_i].len ? read_cases[_i].len :
	    strlen(read_cases[_i].data);
	path = write_case(read_cases[_i].data, len);
	if (read_cases[_i].error == NULL) {
		ck_assert_msg(spool_read(path, &msg, &err) == 0,
		    "case %d: %s", _i, err);
		ck_assert_str_eq(msg.id, "0123456789ABCDEF");
		ck_assert_str_eq(msg.sender, "sender@example.com");
		ck_assert_uint_eq(msg.n_recipients, 1);
		ck_assert_str_eq(msg.recipients[0].address,
		    "rcpt@example.com");
		ck_assert_int_eq(msg.content_offset + msg.content_length,
		    (off_t)len);
		spool_message_free(&msg);
	} else {
		ck_assert_msg(spool_read(path, &msg, &err) == -1,
		    "case %d parsed, expected \"%s\"", _i,
		    read_cases[_i].error);
		ck_assert_ptr_nonnull(err);
		ck_assert_msg(strncmp(err, path, strlen(path)) == 0 &&
		    strstr(err, read_cases[_i].error) != NULL,
		    "case %d: error \"%s\", expected \"%s\"", _i, err,
		    read_cases[_i].error);
		/* The message was reset: free is safe and frees nothing. */
		ck_assert_ptr_null(msg.sender);
		ck_assert_ptr_null(msg.recipients);
		spool_message_free(&msg);
		free(err);
	}
	free(path);
}
END_TEST

START_TEST(test_read_other_errors)
{
	struct spool_message msg;
	struct strbuf sb;
	char *err = NULL, *path;

	path = xasprintf("%s/corrupt/none", tu_queue_dir);
	ck_assert_int_eq(spool_read(path, &msg, &err), -1);
	ck_assert_msg(strstr(err, "No such file or directory") != NULL, "%s",
	    err);
	free(err);
	free(path);

	ck_assert_int_eq(spool_read(tu_queue_dir, &msg, &err), -1);
	ck_assert_msg(strstr(err, "not a regular file") != NULL, "%s", err);
	free(err);

	/* A record longer than any writer produces. */
	strbuf_init(&sb);
	strbuf_puts(&sb, HDR ID TIME "H");
	for (int i = 0; i < 20000; i++)
		strbuf_puts(&sb, "h");
	strbuf_puts(&sb, "\n" SND RCPT END);
	path = write_case(sb.data, sb.len);
	ck_assert_int_eq(spool_read(path, &msg, &err), -1);
	ck_assert_msg(strstr(err, "record too long") != NULL, "%s", err);
	free(err);
	free(path);
	strbuf_free(&sb);

	/* The longest value a writer accepts reads back. */
	{
		struct spool_envelope env;
		struct spool_writer *w;
		char *helo = xmalloc(16385);

		memset(helo, 'h', 16384);
		helo[16384] = '\0';
		make_envelope(&env);
		env.helo_name = helo;
		path = spool_message(&env, "x", 1);
		ck_assert_msg(spool_read(path, &msg, &err) == 0, "%s", err);
		ck_assert_str_eq(msg.helo_name, helo);
		spool_message_free(&msg);
		free(path);
		/* One more byte is refused at write time. */
		helo = xrealloc(helo, 16386);
		memset(helo, 'h', 16385);
		helo[16385] = '\0';
		env.helo_name = helo;
		w = spool_open(tu_queue_dir, &env, &err);
		ck_assert_ptr_null(w);
		ck_assert_msg(strstr(err, "helo name is longer than 16384 "
		    "bytes") != NULL, "%s", err);
		free(err);
		free(helo);
	}
}
END_TEST

START_TEST(test_set_status)
{
	struct spool_envelope env;
	struct spool_message msg;
	char *err = NULL, *path, *before, *after;
	size_t len_before, len_after, diffs = 0, where = 0;
	struct spool_recipient bogus;

	make_envelope(&env);
	path = spool_message(&env, "R pretend record\r\n", 18);
	ck_assert_msg(spool_read(path, &msg, &err) == 0, "%s", err);
	before = tu_read_file(path, &len_before);
	ck_assert_msg(spool_set_status(path, &msg.recipients[1], 'D',
	    &err) == 0, "%s", err);
	after = tu_read_file(path, &len_after);
	ck_assert_uint_eq(len_before, len_after);
	for (size_t i = 0; i < len_before; i++) {
		if (before[i] != after[i]) {
			diffs++;
			where = i;
		}
	}
	ck_assert_uint_eq(diffs, 1);
	ck_assert_int_eq((off_t)where, msg.recipients[1].status_offset);
	ck_assert_int_eq(after[where], 'D');
	free(before);
	spool_message_free(&msg);

	ck_assert_msg(spool_read(path, &msg, &err) == 0, "%s", err);
	ck_assert_int_eq(msg.recipients[0].status, ' ');
	ck_assert_int_eq(msg.recipients[1].status, 'D');
	ck_assert_int_eq(msg.recipients[2].status, ' ');
	ck_assert_int_eq(spool_set_status(path, &msg.recipients[2], 'B', &err),
	    0);
	ck_assert_int_eq(spool_set_status(path, &msg.recipients[1], ' ', &err),
	    0);
	spool_message_free(&msg);
	ck_assert_msg(spool_read(path, &msg, &err) == 0, "%s", err);
	ck_assert_int_eq(msg.recipients[1].status, ' ');
	ck_assert_int_eq(msg.recipients[2].status, 'B');

	/* Refused: an unknown status, an offset that is not a status byte
	 * (here: inside the content, which looks like "R " but is not
	 * preceded by a record), and the file is not touched. */
	ck_assert_int_eq(spool_set_status(path, &msg.recipients[0], 'X', &err),
	    -1);
	ck_assert_msg(strstr(err, "bad recipient status") != NULL, "%s", err);
	free(err);
	bogus = msg.recipients[0];
	bogus.status_offset = msg.content_offset + 1;
	ck_assert_int_eq(spool_set_status(path, &bogus, 'D', &err), -1);
	ck_assert_msg(strstr(err, "is not a recipient status") != NULL, "%s",
	    err);
	free(err);
	bogus.status_offset = msg.recipients[0].status_offset + 1;
	ck_assert_int_eq(spool_set_status(path, &bogus, 'D', &err), -1);
	free(err);
	bogus.status_offset = 1;
	ck_assert_int_eq(spool_set_status(path, &bogus, 'D', &err), -1);
	free(err);
	bogus.status_offset = 1 << 30;
	ck_assert_int_eq(spool_set_status(path, &bogus, 'D', &err), -1);
	free(err);
	/* The right offset with another recipient's address: the file is
	 * not the one the caller read. */
	bogus = msg.recipients[0];
	bogus.address = msg.recipients[1].address;
	ck_assert_int_eq(spool_set_status(path, &bogus, 'D', &err), -1);
	ck_assert_msg(strstr(err, "is not a recipient status of "
	    "two@example.net") != NULL, "%s", err);
	free(err);
	before = tu_read_file(path, &len_before);
	ck_assert_uint_eq(len_before, len_after);
	after[msg.recipients[1].status_offset] = ' ';
	after[msg.recipients[2].status_offset] = 'B';
	ck_assert(memcmp(before, after, len_before) == 0);
	free(before);
	free(after);
	spool_message_free(&msg);
	free(path);
}
END_TEST

/* A child that writes a message and waits to be killed; it reports its
 * queue ID (and, if commit is set, that the commit returned) first. */
static pid_t
crash_child(int commit, char id[QUEUE_ID_MAX], size_t content_len)
{
	int fds[2];
	pid_t pid;
	size_t got = 0;

	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct spool_envelope env;
		struct spool_writer *w;
		char *err = NULL, *content = xmalloc(content_len);
		char reply[QUEUE_ID_MAX];

		memset(content, 'x', content_len);
		make_envelope(&env);
		w = spool_open(tu_queue_dir, &env, &err);
		if (w == NULL || spool_write(w, content, content_len) < 0)
			_exit(1);
		memset(reply, 0, sizeof(reply));
		strcpy(reply, spool_id(w));
		if (commit && spool_commit(w, &err) < 0)
			_exit(1);
		if (write(fds[1], reply, sizeof(reply)) != sizeof(reply))
			_exit(1);
		for (;;)
			pause();
	}
	close(fds[1]);
	while (got < QUEUE_ID_MAX) {
		ssize_t n = read(fds[0], id + got, QUEUE_ID_MAX - got);

		ck_assert_msg(n > 0, "crash child failed");
		got += (size_t)n;
	}
	close(fds[0]);
	return pid;
}

static void
kill_child(pid_t pid)
{
	int status;

	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

START_TEST(test_crash_before_commit)
{
	char id[QUEUE_ID_MAX];
	pid_t pid = crash_child(0, id, 300000);

	kill_child(pid);
	ck_assert_int_eq(tu_count_files(tu_queue_dir, "incoming"), 0);
	/* The half-written file stays in tmp/ for a cleanup pass; it is
	 * never seen by the queue manager. */
	ck_assert_int_eq(tu_count_files(tu_queue_dir, "tmp"), 1);
}
END_TEST

START_TEST(test_crash_after_commit)
{
	char id[QUEUE_ID_MAX], *path, *err = NULL;
	struct spool_message msg;
	pid_t pid = crash_child(1, id, 300000);

	kill_child(pid);
	ck_assert_int_eq(tu_count_files(tu_queue_dir, "tmp"), 0);
	ck_assert_int_eq(tu_count_files(tu_queue_dir, "incoming"), 1);
	path = incoming_path(id);
	ck_assert_msg(spool_read(path, &msg, &err) == 0, "%s", err);
	ck_assert_str_eq(msg.id, id);
	ck_assert_uint_eq(msg.n_recipients, 3);
	ck_assert_int_eq(msg.content_length, 300000);
	spool_message_free(&msg);
	free(path);
}
END_TEST

/* The full disk: a 1 MiB tmpfs, mounted in the unchecked fixture (in the
 * parent process, so the unmount runs even when an assertion fails). */
static char full_dir[128];
static int full_mounted;
static const char *full_skip;

static void
setup_full(void)
{
	snprintf(full_dir, sizeof(full_dir), "%s/full.XXXXXX", tu_tmpdir());
	if (mkdtemp(full_dir) == NULL) {
		full_skip = "mkdtemp failed";
		return;
	}
	if (mount("tmpfs", full_dir, "tmpfs", 0, "size=1m,mode=0700") < 0) {
		full_skip = errno == EPERM ? "mount needs root" : NULL;
		if (full_skip == NULL)
			fprintf(stderr, "mount tmpfs: %s\n", strerror(errno));
		return;
	}
	full_mounted = 1;
}

static void
teardown_full(void)
{
	if (full_mounted && umount(full_dir) < 0)
		fprintf(stderr, "umount %s: %s\n", full_dir, strerror(errno));
	full_mounted = 0;
	rmdir(full_dir);
}

START_TEST(test_disk_full)
{
	struct spool_envelope env;
	struct spool_writer *w;
	char *err = NULL, chunk[8192];
	int write_failed = 0, saved_errno = 0;
	size_t written;

	if (!full_mounted && full_skip != NULL) {
		printf("test_disk_full skipped: %s\n", full_skip);
		return;
	}
	ck_assert_msg(full_mounted, "could not mount a tmpfs");
	snprintf(tu_queue_dir, sizeof(tu_queue_dir), "%s", full_dir);
	ck_assert_msg(spool_init(tu_queue_dir, (uid_t)-1, (gid_t)-1, &err) == 0,
	    "spool_init: %s", err);
	memset(chunk, 'y', sizeof(chunk));
	make_envelope(&env);
	w = spool_open(tu_queue_dir, &env, &err);
	ck_assert_msg(w != NULL, "spool_open: %s", err);
	for (written = 0; written < 2 * 1024 * 1024; written += sizeof(chunk)) {
		if (spool_write(w, chunk, sizeof(chunk)) < 0) {
			write_failed = 1;
			saved_errno = errno;
			break;
		}
	}
	ck_assert_int_eq(write_failed, 1);
	ck_assert_int_eq(saved_errno, ENOSPC);
	/* A failed write is remembered. */
	ck_assert_int_eq(spool_write(w, "z", 1), -1);
	ck_assert_int_eq(spool_commit(w, &err), -1);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, "No space left on device") != NULL, "%s",
	    err);
	ck_assert_str_eq(err, "queue file write error: No space left on "
	    "device");
	free(err);
	ck_assert_int_eq(tu_count_files(tu_queue_dir, "tmp"), 0);
	ck_assert_int_eq(tu_count_files(tu_queue_dir, "incoming"), 0);

	/* The space is back: a small message goes through. */
	w = spool_open(tu_queue_dir, &env, &err);
	ck_assert_msg(w != NULL, "spool_open: %s", err);
	ck_assert_int_eq(spool_write(w, "hello\r\n", 7), 0);
	ck_assert_msg(spool_commit(w, &err) == 0, "%s", err);
	ck_assert_int_eq(tu_count_files(tu_queue_dir, "incoming"), 1);
}
END_TEST

/* On a full disk where even the envelope does not fit, spool_open fails
 * cleanly. */
START_TEST(test_disk_full_at_open)
{
	struct spool_envelope env;
	struct spool_writer *w;
	char *err = NULL, *fill;
	int fd;
	char chunk[8192];

	if (!full_mounted && full_skip != NULL) {
		printf("test_disk_full_at_open skipped: %s\n", full_skip);
		return;
	}
	ck_assert_msg(full_mounted, "could not mount a tmpfs");
	snprintf(tu_queue_dir, sizeof(tu_queue_dir), "%s", full_dir);
	ck_assert_int_eq(spool_init(tu_queue_dir, (uid_t)-1, (gid_t)-1, &err),
	    0);
	fill = xasprintf("%s/filler", full_dir);
	fd = open(fill, O_CREAT | O_WRONLY, 0600);
	ck_assert_int_ge(fd, 0);
	memset(chunk, 'f', sizeof(chunk));
	while (write(fd, chunk, sizeof(chunk)) > 0)
		;
	close(fd);
	make_envelope(&env);
	w = spool_open(tu_queue_dir, &env, &err);
	ck_assert_ptr_null(w);
	ck_assert_msg(strstr(err, "No space left on device") != NULL, "%s",
	    err);
	free(err);
	ck_assert_int_eq(tu_count_files(tu_queue_dir, "tmp"), 0);
	unlink(fill);
	free(fill);
}
END_TEST

static Suite *
spool_suite(void)
{
	Suite *s = suite_create("spool");
	TCase *tc = tcase_create("core");
	TCase *full = tcase_create("disk_full");

	tcase_add_checked_fixture(tc, tu_queue_setup, tu_queue_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_init_dirs);
	tcase_add_test(tc, test_queue_id);
	tcase_add_test(tc, test_queue_id_node);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_large_odd_chunks);
	tcase_add_test(tc, test_abort);
	tcase_add_test(tc, test_tmp_file_mode);
	tcase_add_test(tc, test_refuse_line_breaks);
	tcase_add_test(tc, test_open_error);
	tcase_add_loop_test(tc, test_read_malformed, 0,
	    (int)(sizeof(read_cases) / sizeof(read_cases[0])));
	tcase_add_test(tc, test_read_other_errors);
	tcase_add_test(tc, test_set_status);
	tcase_add_test(tc, test_crash_before_commit);
	tcase_add_test(tc, test_crash_after_commit);
	suite_add_tcase(s, tc);

	tcase_add_unchecked_fixture(full, setup_full, teardown_full);
	tcase_add_test(full, test_disk_full);
	tcase_add_test(full, test_disk_full_at_open);
	suite_add_tcase(s, full);
	return s;
}

CHECK_MAIN(spool_suite)
