/* Unit tests: the maildrop file (what the writer writes the reader
 * takes; what a user could write instead is refused), address lists,
 * and the rewriting of local mail. */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tlsrelay/maildrop.h"
#include "tlsrelay/util.h"
#include "testutil.h"

/* ---- address lists */

struct collected {
	char *all;
};

static void
collect(void *arg, const char *addr)
{
	struct collected *c = arg;
	char *joined = xasprintf("%s%s%s", c->all ? c->all : "",
	    c->all ? "|" : "", addr);

	free(c->all);
	c->all = joined;
}

static char *
addrs(const char *value)
{
	struct collected c = { NULL };

	addr_list_each(value, strlen(value), collect, &c);
	return c.all ? c.all : xstrdup("");
}

#define ck_addrs(value, want) do { \
	char *got_ = addrs(value); \
	ck_assert_str_eq(got_, want); \
	free(got_); } while (0)

START_TEST(test_addr_list)
{
	ck_addrs("a@b", "a@b");
	ck_addrs(" Ann <ann@x>, bob@y (Bob B.)", "ann@x|bob@y");
	ck_addrs("\"Doe, John\" <jd@x>", "jd@x");
	ck_addrs("team: a@x, b@y;, c@z", "a@x|b@y|c@z");
	ck_addrs("undisclosed-recipients:;", "");
	ck_addrs("(a comment (nested, with comma)) u@v", "u@v");
	ck_addrs("<@relay1,@relay2:user@host>", "user@host");
	/* Kept as written: the writer refuses its blank later. */
	ck_addrs("\"quoted local\"@x", "\"quoted local\"@x");
	ck_addrs("user\r\n\t@host", "user@host");
	ck_addrs(",,", "");
	ck_addrs("a@b (unterminated comment", "a@b");
	ck_addrs("<unterminated@angle", "unterminated@angle");
}
END_TEST

START_TEST(test_qualify)
{
	char *q = maildrop_qualify("root", "example.org");

	ck_assert_str_eq(q, "root@example.org");
	free(q);
	q = maildrop_qualify("a@b", "example.org");
	ck_assert_str_eq(q, "a@b");
	free(q);
	q = maildrop_qualify("", "example.org");
	ck_assert_str_eq(q, "");
	free(q);
}
END_TEST

/* ---- the file */

static char queue_dir[160];

static void
setup(void)
{
	char *d;

	tu_make_dir(queue_dir, sizeof(queue_dir), "q");
	d = xasprintf("%s/%s", queue_dir, MAILDROP_DIR);
	ck_assert_int_eq(mkdir(d, 0700), 0);
	free(d);
}

static void
teardown(void)
{
	ck_assert_int_eq(remove_tree(queue_dir), 0);
}

/* The only file in maildrop/, read whole. */
static char *
the_file(size_t *len, mode_t *mode)
{
	char *d = xasprintf("%s/%s", queue_dir, MAILDROP_DIR), *path = NULL;
	DIR *dir = opendir(d);
	struct dirent *de;
	struct stat st;
	char *buf;
	FILE *f;

	while ((de = readdir(dir)) != NULL)
		if (de->d_name[0] != '.') {
			ck_assert_ptr_null(path);
			path = xasprintf("%s/%s", d, de->d_name);
		}
	closedir(dir);
	ck_assert_ptr_nonnull(path);
	ck_assert_int_eq(stat(path, &st), 0);
	*mode = st.st_mode & 07777;
	buf = xmalloc((size_t)st.st_size + 1);
	f = fopen(path, "rb");
	*len = fread(buf, 1, (size_t)st.st_size, f);
	fclose(f);
	free(path);
	free(d);
	return buf;
}

START_TEST(test_round_trip)
{
	struct maildrop_envelope env, back;
	struct maildrop_writer *w;
	char *err = NULL, *buf;
	size_t len, offset;
	mode_t mode;

	memset(&env, 0, sizeof(env));
	env.sender = xstrdup("");
	env.full_name = xstrdup("Cron \"Daemon\"");
	maildrop_envelope_add_rcpt(&env, "a@x");
	maildrop_envelope_add_rcpt(&env, "b");
	w = maildrop_open(queue_dir, &env, &err);
	ck_assert_msg(w != NULL, "%s", err);
	ck_assert_int_eq(maildrop_write(w, "Subject: s\n\nbody\n", 17), 0);
	ck_assert_int_eq(maildrop_close(w, &err), 0);

	buf = the_file(&len, &mode);
	ck_assert_int_eq(mode, 0544);	/* finished */
	ck_assert_int_eq(maildrop_parse(buf, len, &back, &offset, &err), 0);
	ck_assert_str_eq(back.sender, "");
	ck_assert_str_eq(back.full_name, "Cron \"Daemon\"");
	ck_assert_uint_eq(back.n_rcpts, 2);
	ck_assert_str_eq(back.rcpts[1], "b");
	ck_assert_uint_eq(len - offset, 17);
	ck_assert(memcmp(buf + offset, "Subject: s\n\nbody\n", 17) == 0);
	maildrop_envelope_free(&back);
	maildrop_envelope_free(&env);
	free(buf);
}
END_TEST

START_TEST(test_writer_refuses)
{
	struct maildrop_envelope env;
	char *err = NULL;

	memset(&env, 0, sizeof(env));
	maildrop_envelope_add_rcpt(&env, "a b@x");
	ck_assert_ptr_null(maildrop_open(queue_dir, &env, &err));
	ck_assert_ptr_nonnull(strstr(err, "blank"));
	free(err);
	maildrop_envelope_free(&env);
	env.full_name = xstrdup("two\nlines");
	maildrop_envelope_add_rcpt(&env, "a@x");
	ck_assert_ptr_null(maildrop_open(queue_dir, &env, &err));
	ck_assert_ptr_nonnull(strstr(err, "control"));
	free(err);
	maildrop_envelope_free(&env);
}
END_TEST

static const char *
parse_error(const char *text, size_t len)
{
	static char msg[128];
	struct maildrop_envelope env;
	size_t offset;
	char *err = NULL;

	if (maildrop_parse(text, len, &env, &offset, &err) == 0) {
		maildrop_envelope_free(&env);
		return "";
	}
	snprintf(msg, sizeof(msg), "%s", err);
	free(err);
	return msg;
}

#define PE(s) parse_error(s, sizeof(s) - 1)

START_TEST(test_reader_refuses)
{
	char *many;
	struct strbuf sb;

	ck_assert_str_eq(PE("tlsrelay-maildrop 1\nSa@b\nRc@d\n\nx"), "");
	ck_assert_str_eq(PE("tlsrelay-maildrop 2\n\n"), "not a maildrop file");
	ck_assert_str_eq(PE("tlsrelay-maildrop 1\nRc@d\n"),
	    "envelope not terminated");
	ck_assert_str_eq(PE("tlsrelay-maildrop 1\nSa@b\nSc@d\n\n"),
	    "two senders");
	ck_assert_str_eq(PE("tlsrelay-maildrop 1\nR\n\n"), "empty recipient");
	ck_assert_str_eq(PE("tlsrelay-maildrop 1\nRa b@c\n\n"),
	    "address with a blank, a control character, '<', '>' or a "
	    "non-ASCII byte");
	ck_assert_str_eq(PE("tlsrelay-maildrop 1\nRa@b\r\n\n"),
	    "malformed envelope line");
	ck_assert_str_eq(PE("tlsrelay-maildrop 1\nRa\0@b\n\n"),
	    "malformed envelope line");
	ck_assert_str_eq(PE("tlsrelay-maildrop 1\nXa@b\n\n"),
	    "unknown envelope line");
	strbuf_init(&sb);
	strbuf_puts(&sb, MAILDROP_MAGIC);
	for (int i = 0; i <= MAILDROP_RCPT_MAX; i++)
		strbuf_printf(&sb, "Rr%d@x\n", i);
	strbuf_puts(&sb, "\n");
	ck_assert_str_eq(parse_error(sb.data, sb.len), "too many recipients");
	strbuf_reset(&sb);
	many = xmalloc(MAILDROP_LINE_MAX + 10);
	memset(many, 'a', MAILDROP_LINE_MAX + 9);
	many[MAILDROP_LINE_MAX + 9] = '\0';
	strbuf_printf(&sb, "%sR%s\n\n", MAILDROP_MAGIC, many);
	ck_assert_str_eq(parse_error(sb.data, sb.len),
	    "malformed envelope line");
	free(many);
	strbuf_free(&sb);
}
END_TEST

/* ---- local mail */

static char *
build(const char *content, const char *full_name)
{
	struct local_message_info info = {
		.queue_id = "ABC", .myhostname = "relay.test",
		.myorigin = "origin.test", .sender = "u@origin.test",
		.full_name = full_name, .uid = 1000, .now = 1796536275,
	};
	struct strbuf out;

	strbuf_init(&out);
	local_message_build(content, strlen(content), &info, &out);
	strbuf_append(&out, "", 1);
	return strbuf_steal(&out);
}

START_TEST(test_local_headers)
{
	char *m = build("Subject: s\nBcc: hidden@x,\n more@y\nTo: t@x\n\nbody\n",
	    "Ann \"A\" Smith");

	ck_assert_msg(strncmp(m, "Received: by relay.test (tlsrelay, from "
	    "userid 1000)\r\n\tid ABC; ", 61) == 0, "%s", m);
	ck_assert_ptr_null(strstr(m, "hidden"));
	ck_assert_ptr_null(strstr(m, "more@y"));
	ck_assert_ptr_nonnull(strstr(m, "\r\nSubject: s\r\nTo: t@x\r\n"));
	ck_assert_ptr_nonnull(strstr(m,
	    "\r\nFrom: \"Ann \\\"A\\\" Smith\" <u@origin.test>\r\n"));
	ck_assert_ptr_nonnull(strstr(m, "\r\nDate: "));
	ck_assert_ptr_nonnull(strstr(m, "@relay.test>\r\n\r\nbody\r\n"));
	ck_assert_ptr_nonnull(strstr(m, "\r\nMessage-Id: <"));
	free(m);
	/* Present headers are not added twice; no header at all. */
	m = build("From: me\r\nDate: then\r\nMessage-ID: <x@y>\r\n\r\nb\r\n",
	    NULL);
	ck_assert_ptr_null(strstr(m, "Message-Id:"));
	ck_assert_ptr_null(strstr(m, "\r\nFrom: u@origin.test"));
	free(m);
	m = build("just a body line\nsecond\n", NULL);
	ck_assert_ptr_nonnull(strstr(m, "\r\nFrom: u@origin.test\r\n"));
	ck_assert_ptr_nonnull(strstr(m, "\r\n\r\njust a body line\r\nsecond\r\n"));
	free(m);
	/* A last line without its end gets one. */
	m = build("Subject: s\n\nno newline", NULL);
	ck_assert_ptr_nonnull(strstr(m, "\r\n\r\nno newline\r\n"));
	free(m);
}
END_TEST

START_TEST(test_recipients)
{
	const char *text = "To: a@x, b\nCc: g: c@x;\nBcc: d@x\nSubject: s\n\n"
	    "To: not@header\n";
	const char *resent = "To: old@x\nResent-To: new@x\nResent-Bcc: nb@x\n\n";
	struct maildrop_envelope env;

	memset(&env, 0, sizeof(env));
	local_message_recipients(text, strlen(text), "o.test", &env);
	ck_assert_uint_eq(env.n_rcpts, 4);
	ck_assert_str_eq(env.rcpts[0], "a@x");
	ck_assert_str_eq(env.rcpts[1], "b@o.test");
	ck_assert_str_eq(env.rcpts[2], "c@x");
	ck_assert_str_eq(env.rcpts[3], "d@x");
	maildrop_envelope_free(&env);
	local_message_recipients(resent, strlen(resent), "o.test", &env);
	ck_assert_uint_eq(env.n_rcpts, 2);
	ck_assert_str_eq(env.rcpts[0], "new@x");
	ck_assert_str_eq(env.rcpts[1], "nb@x");
	maildrop_envelope_free(&env);
}
END_TEST

static Suite *
maildrop_suite(void)
{
	Suite *s = suite_create("maildrop");
	TCase *tc = tcase_create("parsers");
	TCase *files = tcase_create("files");

	tcase_add_test(tc, test_addr_list);
	tcase_add_test(tc, test_qualify);
	tcase_add_test(tc, test_reader_refuses);
	tcase_add_test(tc, test_local_headers);
	tcase_add_test(tc, test_recipients);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(files, setup, teardown);
	tcase_add_test(files, test_round_trip);
	tcase_add_test(files, test_writer_refuses);
	suite_add_tcase(s, files);
	return s;
}

CHECK_MAIN(maildrop_suite)
