/* Tests for bounces (src/queue/bounce.c): the DSN is a queue file of its
 * own, and its content is taken apart here as a MIME reader would:
 * header fields, the multipart/report boundary, each part's headers and
 * the per-recipient fields of the message/delivery-status part. */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "tlsrelay/queue.h"
#include "tlsrelay/util.h"


static void
setup_queue(void)
{
	tu_queue_setup();
	setenv("TZ", "UTC", 1);
}

static size_t
count_incoming(void)
{
	char *path = xasprintf("%s/incoming", tu_queue_dir);
	DIR *dp = opendir(path);
	struct dirent *de;
	size_t n = 0;

	ck_assert_ptr_nonnull(dp);
	while ((de = readdir(dp)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(dp);
	free(path);
	return n;
}

/* An original message in incoming/, read back; *path is its file. */
static void
make_orig(struct spool_message *msg, char **path, const char *sender,
    const char *const *rcpts, size_t n, const char *content, size_t len)
{
	char id[QUEUE_ID_MAX], *err = NULL;

	tu_queue_message(tu_queue_dir, id, sender, rcpts, n,
	    1700000000, content, len);	/* Tue, 14 Nov 2023 22:13:20 */
	*path = xasprintf("%s/incoming/%s", tu_queue_dir, id);
	ck_assert_msg(spool_read(*path, msg, &err) == 0, "%s", err);
}

static void
default_info(struct bounce_info *info)
{
	memset(info, 0, sizeof(*info));
	info->myhostname = "relay.test";
	info->mail_name = "tlsrelay";
	info->postmaster = "postmaster";
	info->bounce_size_limit = 50000;
	info->now = 1700100000;
}

/* The DSN's queue file: envelope checks, then its content. */
static char *
read_dsn(const char *id, const char *want_rcpt, int want_8bit)
{
	char *path = xasprintf("%s/incoming/%s", tu_queue_dir, id);
	struct spool_message msg;
	char *err = NULL, *content;
	int fd;

	ck_assert_msg(spool_read(path, &msg, &err) == 0, "%s", err);
	ck_assert_str_eq(msg.sender, "");
	ck_assert_uint_eq(msg.n_recipients, 1);
	ck_assert_str_eq(msg.recipients[0].address, want_rcpt);
	ck_assert_int_eq(msg.recipients[0].status, ' ');
	ck_assert_int_eq(msg.body_8bitmime, want_8bit);
	content = xmalloc((size_t)msg.content_length + 1);
	fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, content, (size_t)msg.content_length,
	    msg.content_offset), (ssize_t)msg.content_length);
	content[msg.content_length] = '\0';
	close(fd);
	spool_message_free(&msg);
	free(path);
	return content;
}

/* ---- a small MIME reader ---- */

/* Every line ends in CR LF, none is longer than 998 bytes. */
static void
assert_crlf_lines(const char *text)
{
	size_t line = 0;

	for (const char *p = text; *p; p++) {
		if (*p == '\n') {
			ck_assert_msg(p > text && p[-1] == '\r',
			    "bare LF at %zu", (size_t)(p - text));
			line = 0;
		} else {
			ck_assert_msg(*p != '\r' || p[1] == '\n',
			    "bare CR at %zu", (size_t)(p - text));
			ck_assert_uint_lt(++line, 1000);
		}
	}
	ck_assert_msg(*text == '\0' || text[strlen(text) - 1] == '\n',
	    "no final line end");
}

/* Splits an entity at its first empty line: *headers is a copy of the
 * header block, the body starts at the return value. */
static const char *
split_entity(const char *entity, char **headers)
{
	const char *end = strstr(entity, "\r\n\r\n");

	if (strncmp(entity, "\r\n", 2) == 0) {
		*headers = xstrdup("");
		return entity + 2;
	}
	ck_assert_ptr_nonnull(end);
	*headers = xstrndup(entity, (size_t)(end - entity) + 2);
	return end + 4;
}

/* The unfolded value of header name in a header block, or NULL. */
static char *
header_value(const char *headers, const char *name)
{
	size_t nlen = strlen(name);
	const char *p = headers;

	while (*p) {
		const char *eol = strstr(p, "\r\n");

		ck_assert_ptr_nonnull(eol);
		if (strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
			struct strbuf sb;
			const char *v = p + nlen + 1;

			strbuf_init(&sb);
			while (*v == ' ' || *v == '\t')
				v++;
			for (;;) {
				strbuf_append(&sb, v, (size_t)(eol - v));
				if (eol[2] != ' ' && eol[2] != '\t')
					break;
				v = eol + 2;
				eol = strstr(v, "\r\n");
			}
			return strbuf_steal(&sb);
		}
		p = eol + 2;
	}
	return NULL;
}

static void
assert_header(const char *headers, const char *name, const char *want)
{
	char *value = header_value(headers, name);

	ck_assert_msg(value != NULL, "no %s header", name);
	ck_assert_str_eq(value, want);
	free(value);
}

struct mime {
	char *headers;		/* the message's header block */
	char *boundary;
	size_t n_parts;
	char *part_headers[8];
	char *part_body[8];	/* without the CR LF before a delimiter */
};

static void
mime_parse(struct mime *m, const char *message)
{
	const char *body, *p;
	char *ctype, *b, *delim, *close_delim;

	memset(m, 0, sizeof(*m));
	assert_crlf_lines(message);
	body = split_entity(message, &m->headers);
	ctype = header_value(m->headers, "Content-Type");
	ck_assert_ptr_nonnull(ctype);
	ck_assert_msg(strncmp(ctype, "multipart/report;", 17) == 0, "%s",
	    ctype);
	ck_assert_ptr_nonnull(strstr(ctype, "report-type=delivery-status"));
	b = strstr(ctype, "boundary=\"");
	ck_assert_ptr_nonnull(b);
	b += 10;
	ck_assert_ptr_nonnull(strchr(b, '"'));
	m->boundary = xstrndup(b, (size_t)(strchr(b, '"') - b));
	ck_assert_uint_gt(strlen(m->boundary), 0);
	ck_assert_uint_le(strlen(m->boundary), 70);
	free(ctype);

	delim = xasprintf("\r\n--%s\r\n", m->boundary);
	close_delim = xasprintf("\r\n--%s--\r\n", m->boundary);
	/* The first delimiter ends the preamble. */
	p = strstr(body, delim);
	ck_assert_ptr_nonnull(p);
	p += strlen(delim);
	for (;;) {
		const char *next = strstr(p, delim);
		const char *last = strstr(p, close_delim);
		const char *end = next && (!last || next < last) ? next : last;
		char *part;
		const char *part_body;

		ck_assert_ptr_nonnull(end);
		ck_assert_uint_lt(m->n_parts, 8);
		part = xstrndup(p, (size_t)(end - p));
		part_body = split_entity(part, &m->part_headers[m->n_parts]);
		m->part_body[m->n_parts] = xstrdup(part_body);
		m->n_parts++;
		free(part);
		if (end == last) {
			/* Nothing but the epilogue's end follows. */
			ck_assert_str_eq(end + strlen(close_delim), "");
			break;
		}
		p = end + strlen(delim);
	}
	/* The boundary occurs in delimiter lines only. */
	{
		size_t count = 0;

		for (p = message; (p = strstr(p, m->boundary)) != NULL; p++)
			count++;
		ck_assert_uint_eq(count, 1 + m->n_parts + 1);
	}
	free(delim);
	free(close_delim);
}

static void
mime_free(struct mime *m)
{
	free(m->headers);
	free(m->boundary);
	for (size_t i = 0; i < m->n_parts; i++) {
		free(m->part_headers[i]);
		free(m->part_body[i]);
	}
}

/* The delivery-status body as field groups (blank-line separated), each
 * group as its unfolded "Name: value" lines joined by '\n'. */
static size_t
dsn_groups(const char *body, char **groups, size_t max)
{
	size_t n = 0;
	const char *p = body;

	while (*p && n < max) {
		const char *end = strstr(p, "\r\n\r\n");
		const char *stop = end ? end + 2 : p + strlen(p);
		struct strbuf sb;

		strbuf_init(&sb);
		while (p < stop) {
			const char *eol = strstr(p, "\r\n");

			if (p[0] == ' ' || p[0] == '\t') {
				/* A continuation: unfold (drop the CR LF). */
				sb.len--;
				sb.data[sb.len] = '\0';
			}
			strbuf_append(&sb, p, (size_t)(eol - p));
			strbuf_append(&sb, "\n", 1);
			p = eol + 2;
		}
		groups[n++] = strbuf_steal(&sb);
		if (end == NULL)
			break;
		p = end + 4;
		while (strncmp(p, "\r\n", 2) == 0)
			p += 2;
	}
	return n;
}

/* The text part with its wrapped lines ("\r\n    ") joined again. */
static char *
unwrap(const char *text)
{
	struct strbuf sb;
	const char *p = text, *hit;

	strbuf_init(&sb);
	while ((hit = strstr(p, "\r\n    ")) != NULL) {
		strbuf_append(&sb, p, (size_t)(hit - p));
		strbuf_append(&sb, " ", 1);
		p = hit + 6;
	}
	strbuf_puts(&sb, p);
	return strbuf_steal(&sb);
}

/* ---- the tests ---- */

static const char orig_content[] =
    "Received: from client.test (client.test [127.0.0.1])\r\n"
    "\tby relay.test (tlsrelay) with ESMTP id X\r\n"
    "From: Sender <sender@x.test>\r\n"
    "To: a@x.test, b@y.test\r\n"
    "Subject: hello\r\n"
    "Message-ID: <m1@x.test>\r\n"
    "\r\n"
    "Body line that must not be returned.\r\n"
    "X-Looks-Like: a header\r\n";

static const char orig_headers[] =
    "Received: from client.test (client.test [127.0.0.1])\r\n"
    "\tby relay.test (tlsrelay) with ESMTP id X\r\n"
    "From: Sender <sender@x.test>\r\n"
    "To: a@x.test, b@y.test\r\n"
    "Subject: hello\r\n"
    "Message-ID: <m1@x.test>\r\n";

static const char long_reason[] = "Host or domain name not found. Name "
    "service error for name=y.test type=MX: Host not found, try again "
    "later or ask the administrator of y.test";

START_TEST(test_failure_two_recipients)
{
	static const char *const rcpts[] = { "a@x.test", "b@y.test" };
	const struct bounce_rcpt failed[] = {
		{ "a@x.test", "A@X.test", "5.1.1", "host mx.x.test[127.0.0.1] "
		    "said: 550 5.1.1 <a@x.test>: user unknown (in reply to "
		    "RCPT TO command)", NULL, NULL },
		{ "b@y.test", NULL, "5.4.4", long_reason, NULL, NULL },
	};
	struct spool_message orig;
	struct bounce_info info;
	struct mime m;
	char new_id[QUEUE_ID_MAX], *path, *err = NULL, *dsn, *groups[8];
	char *want, *text;
	size_t n;

	make_orig(&orig, &path, "sender@x.test", rcpts, 2, orig_content,
	    strlen(orig_content));
	default_info(&info);
	ck_assert_int_eq(bounce_create(tu_queue_dir, path, &orig, failed, 2,
	    &info, new_id, &err), BOUNCE_QUEUED);
	ck_assert_ptr_null(err);
	ck_assert(queue_id_valid(new_id, strlen(new_id)));
	ck_assert_str_ne(new_id, orig.id);
	ck_assert_uint_eq(count_incoming(), 2);

	dsn = read_dsn(new_id, "sender@x.test", 0);
	mime_parse(&m, dsn);
	assert_header(m.headers, "From",
	    "MAILER-DAEMON@relay.test (Mail Delivery System)");
	assert_header(m.headers, "To", "<sender@x.test>");
	assert_header(m.headers, "Subject",
	    "Undelivered Mail Returned to Sender");
	assert_header(m.headers, "Auto-Submitted", "auto-replied");
	assert_header(m.headers, "MIME-Version", "1.0");
	assert_header(m.headers, "Date",
	    "Thu, 16 Nov 2023 02:00:00 +0000 (UTC)");
	want = xasprintf("<%s@relay.test>", new_id);
	assert_header(m.headers, "Message-ID", want);
	free(want);
	ck_assert_ptr_null(header_value(m.headers, "X-Tlsrelay-Notice"));
	want = xasprintf("by relay.test (tlsrelay) id %s;\tThu, 16 Nov 2023 "
	    "02:00:00 +0000 (UTC)", new_id);
	assert_header(m.headers, "Received", want);
	free(want);
	ck_assert_uint_eq(m.n_parts, 3);

	/* 1: text for people. */
	assert_header(m.part_headers[0], "Content-Type",
	    "text/plain; charset=us-ascii");
	ck_assert_ptr_nonnull(strstr(m.part_body[0],
	    "This is the tlsrelay program at host relay.test."));
	/* Each recipient's line, wrapped with an indent: unwrap it. */
	text = unwrap(m.part_body[0]);
	want = xasprintf("\r\n<a@x.test>: %s\r\n\r\n<b@y.test>: %s\r\n",
	    failed[0].reason, long_reason);
	ck_assert_ptr_nonnull(strstr(text, want));
	free(want);
	free(text);
	ck_assert_ptr_nonnull(strstr(m.part_body[0], "\r\n    unknown (in "
	    "reply to RCPT TO command)\r\n"));
	ck_assert_ptr_nonnull(strstr(m.part_body[0], "postmaster"));

	/* 2: for programs, field by field. */
	assert_header(m.part_headers[1], "Content-Type",
	    "message/delivery-status");
	n = dsn_groups(m.part_body[1], groups, 8);
	ck_assert_uint_eq(n, 3);
	want = xasprintf(
	    "Reporting-MTA: dns; relay.test\n"
	    "X-Tlsrelay-Queue-ID: %s\n"
	    "X-Tlsrelay-Sender: rfc822; sender@x.test\n"
	    "Arrival-Date: Tue, 14 Nov 2023 22:13:20 +0000 (UTC)\n", orig.id);
	ck_assert_str_eq(groups[0], want);
	free(want);
	ck_assert_str_eq(groups[1],
	    "Final-Recipient: rfc822; a@x.test\n"
	    "Original-Recipient: rfc822; A@X.test\n"
	    "Action: failed\n"
	    "Status: 5.1.1\n"
	    "Remote-MTA: dns; mx.x.test\n"
	    "Diagnostic-Code: smtp; 550 5.1.1 <a@x.test>: user unknown\n");
	want = xasprintf(
	    "Final-Recipient: rfc822; b@y.test\n"
	    "Action: failed\n"
	    "Status: 5.4.4\n"
	    "Diagnostic-Code: X-Tlsrelay; %s\n", long_reason);
	ck_assert_str_eq(groups[2], want);
	free(want);
	/* The long Diagnostic-Code was folded. */
	ck_assert_ptr_nonnull(strstr(m.part_body[1], "\r\n "));
	for (size_t i = 0; i < n; i++)
		free(groups[i]);

	/* 3: the original headers, not the body. */
	assert_header(m.part_headers[2], "Content-Type", "text/rfc822-headers");
	/* The CR LF before a delimiter belongs to the delimiter. */
	ck_assert_str_eq(m.part_body[2], orig_headers);
	ck_assert_ptr_null(strstr(dsn, "must not be returned"));

	mime_free(&m);
	free(dsn);
	spool_message_free(&orig);
	free(path);
}
END_TEST

/* Headers longer than bounce_size_limit end at the last whole line
 * within it; bare LF line ends come back as CR LF. */
START_TEST(test_headers_cut)
{
	static const char *const rcpts[] = { "a@x.test" };
	static const char content[] =
	    "X-One: 0123456789012345678\n"	/* 27 bytes, 28 with CR */
	    "X-Two: 0123456789012345678\r\n"
	    "X-Six: 0123456789012345678\n"
	    "X-Ten: 0123456789012345678\n"
	    "\n"
	    "body\n";
	const struct bounce_rcpt failed[] = {
		{ "a@x.test", NULL, "5.0.0", "550 no", "mx.x.test",
		    "550 5.0.0 no" },
	};
	struct spool_message orig;
	struct bounce_info info;
	struct mime m;
	char new_id[QUEUE_ID_MAX], *path, *err = NULL, *dsn, *groups[4];
	size_t n;

	make_orig(&orig, &path, "sender@x.test", rcpts, 1, content,
	    strlen(content));
	default_info(&info);
	info.bounce_size_limit = 100;	/* three lines and part of a fourth */
	ck_assert_int_eq(bounce_create(tu_queue_dir, path, &orig, failed, 1,
	    &info, new_id, &err), BOUNCE_QUEUED);
	dsn = read_dsn(new_id, "sender@x.test", 0);
	mime_parse(&m, dsn);
	ck_assert_str_eq(m.part_body[2],
	    "X-One: 0123456789012345678\r\n"
	    "X-Two: 0123456789012345678\r\n"
	    "X-Six: 0123456789012345678\r\n");
	/* Explicit remote MTA and reply win over the reason text. */
	n = dsn_groups(m.part_body[1], groups, 4);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(groups[1],
	    "Final-Recipient: rfc822; a@x.test\n"
	    "Action: failed\n"
	    "Status: 5.0.0\n"
	    "Remote-MTA: dns; mx.x.test\n"
	    "Diagnostic-Code: smtp; 550 5.0.0 no\n");
	for (size_t i = 0; i < n; i++)
		free(groups[i]);
	mime_free(&m);
	free(dsn);

	/* A limit beyond the headers: all of them, up to the empty line. */
	info.bounce_size_limit = 50000;
	ck_assert_int_eq(bounce_create(tu_queue_dir, path, &orig, failed, 1,
	    &info, new_id, &err), BOUNCE_QUEUED);
	dsn = read_dsn(new_id, "sender@x.test", 0);
	mime_parse(&m, dsn);
	ck_assert_str_eq(m.part_body[2],
	    "X-One: 0123456789012345678\r\n"
	    "X-Two: 0123456789012345678\r\n"
	    "X-Six: 0123456789012345678\r\n"
	    "X-Ten: 0123456789012345678\r\n");
	mime_free(&m);
	free(dsn);

	/* A limit of 0: the part is there, empty. */
	info.bounce_size_limit = 0;
	ck_assert_int_eq(bounce_create(tu_queue_dir, path, &orig, failed, 1,
	    &info, new_id, &err), BOUNCE_QUEUED);
	dsn = read_dsn(new_id, "sender@x.test", 0);
	mime_parse(&m, dsn);
	ck_assert_uint_eq(m.n_parts, 3);
	ck_assert_str_eq(m.part_body[2], "");
	mime_free(&m);
	free(dsn);
	spool_message_free(&orig);
	free(path);
}
END_TEST

/* An original header line longer than 998 bytes is broken with CR LF
 * SPACE, as the smtp client breaks it; it went out whole before
 * (fuzz_bounce). */
START_TEST(test_long_header_line)
{
	static const char *const rcpts[] = { "a@x.test" };
	const struct bounce_rcpt failed[] = {
		{ "a@x.test", NULL, "5.1.1", "host mx.x.test[192.0.2.1] said: "
		    "550 5.1.1 no (in reply to RCPT TO command)", NULL, NULL },
	};
	struct spool_message orig;
	struct bounce_info info;
	struct strbuf content, want;
	struct mime m;
	char new_id[QUEUE_ID_MAX], *path, *err = NULL, *dsn;

	strbuf_init(&content);
	strbuf_init(&want);
	strbuf_puts(&content, "Subject: ");
	for (int i = 0; i < 1500; i++)
		strbuf_puts(&content, "z");
	strbuf_puts(&content, "\r\n\r\nbody\r\n");
	strbuf_append(&want, content.data, 998);
	strbuf_puts(&want, "\r\n ");
	strbuf_append(&want, content.data + 998, 1509 - 998);
	strbuf_puts(&want, "\r\n");
	make_orig(&orig, &path, "sender@x.test", rcpts, 1, content.data,
	    content.len);
	default_info(&info);
	ck_assert_int_eq(bounce_create(tu_queue_dir, path, &orig, failed, 1,
	    &info, new_id, &err), BOUNCE_QUEUED);
	dsn = read_dsn(new_id, "sender@x.test", 0);
	assert_crlf_lines(dsn);
	mime_parse(&m, dsn);
	ck_assert_str_eq(m.part_body[2], want.data);
	mime_free(&m);
	free(dsn);
	spool_message_free(&orig);
	free(path);
	strbuf_free(&content);
	strbuf_free(&want);
}
END_TEST

/* A message with the null sender is never bounced to its sender. */
START_TEST(test_double_bounce)
{
	static const char *const rcpts[] = { "a@x.test" };
	const struct bounce_rcpt failed[] = {
		{ "a@x.test", NULL, "5.1.1", "host mx.x.test[127.0.0.1] said: "
		    "550 5.1.1 no (in reply to RCPT TO command)", NULL, NULL },
	};
	struct spool_message orig, notice;
	struct bounce_info info;
	struct mime m;
	char new_id[QUEUE_ID_MAX], *path, *npath, *err = NULL, *dsn;

	make_orig(&orig, &path, "", rcpts, 1, orig_content,
	    strlen(orig_content));
	default_info(&info);
	/* Default: logged and dropped by the caller; nothing queued. */
	ck_assert_int_eq(bounce_create(tu_queue_dir, path, &orig, failed, 1,
	    &info, new_id, &err), BOUNCE_DOUBLE_DROPPED);
	ck_assert_str_eq(new_id, "");
	ck_assert_ptr_null(err);
	info.double_bounce_recipient = "";
	ck_assert_int_eq(bounce_create(tu_queue_dir, path, &orig, failed, 1,
	    &info, new_id, &err), BOUNCE_DOUBLE_DROPPED);
	ck_assert_uint_eq(count_incoming(), 1);

	/* With 2bounce_notice_recipient: a notice to that address. */
	info.double_bounce_recipient = "admin@ops.test";
	ck_assert_int_eq(bounce_create(tu_queue_dir, path, &orig, failed, 1,
	    &info, new_id, &err), BOUNCE_DOUBLE_NOTICE);
	ck_assert_uint_eq(count_incoming(), 2);
	dsn = read_dsn(new_id, "admin@ops.test", 0);
	mime_parse(&m, dsn);
	assert_header(m.headers, "To", "<admin@ops.test>");
	assert_header(m.headers, "Subject",
	    "Postmaster Copy: Undelivered Mail");
	assert_header(m.headers, "X-Tlsrelay-Notice", "double-bounce");
	ck_assert_ptr_nonnull(strstr(m.part_body[1],
	    "X-Tlsrelay-Sender: rfc822;\r\n"));
	mime_free(&m);
	free(dsn);

	/* That notice failing too: dropped, whatever the setting. */
	npath = xasprintf("%s/incoming/%s", tu_queue_dir, new_id);
	ck_assert_int_eq(spool_read(npath, &notice, &err), 0);
	ck_assert_int_eq(bounce_create(tu_queue_dir, npath, &notice, failed, 1,
	    &info, new_id, &err), BOUNCE_DOUBLE_DROPPED);
	ck_assert_uint_eq(count_incoming(), 2);
	spool_message_free(&notice);
	free(npath);

	/* No delay warnings for the null sender either. */
	info.delayed = 1;
	ck_assert_int_eq(bounce_create(tu_queue_dir, path, &orig, failed, 1,
	    &info, new_id, &err), BOUNCE_DOUBLE_DROPPED);
	ck_assert_uint_eq(count_incoming(), 2);
	spool_message_free(&orig);
	free(path);
}
END_TEST

START_TEST(test_delay_warning)
{
	static const char *const rcpts[] = { "a@x.test" };
	const struct bounce_rcpt delayed[] = {
		{ "a@x.test", NULL, "4.4.1", "connect to "
		    "mx.x.test[127.0.0.1]:25: Connection refused", NULL, NULL },
		/* A delay is class 4 whatever the caller passes. */
		{ "b@x.test", NULL, "5.7.1", "refused", NULL, NULL },
	};
	struct spool_message orig;
	struct bounce_info info;
	struct mime m;
	char new_id[QUEUE_ID_MAX], *path, *err = NULL, *dsn, *groups[4];
	size_t n;

	make_orig(&orig, &path, "sender@x.test", rcpts, 1, orig_content,
	    strlen(orig_content));
	default_info(&info);
	info.delayed = 1;
	info.queue_lifetime = 5 * 86400;
	ck_assert_int_eq(bounce_create(tu_queue_dir, path, &orig, delayed, 2,
	    &info, new_id, &err), BOUNCE_QUEUED);
	dsn = read_dsn(new_id, "sender@x.test", 0);
	mime_parse(&m, dsn);
	assert_header(m.headers, "Subject",
	    "Delayed Mail (still being retried)");
	ck_assert_ptr_nonnull(strstr(m.part_body[0], "WARNING ONLY"));
	n = dsn_groups(m.part_body[1], groups, 4);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(groups[2],
	    "Final-Recipient: rfc822; b@x.test\n"
	    "Action: delayed\n"
	    "Status: 4.7.1\n"
	    "Diagnostic-Code: X-Tlsrelay; refused\n"
	    "Will-Retry-Until: Sun, 19 Nov 2023 22:13:20 +0000 (UTC)\n");
	ck_assert_str_eq(groups[1],
	    "Final-Recipient: rfc822; a@x.test\n"
	    "Action: delayed\n"
	    "Status: 4.4.1\n"
	    "Diagnostic-Code: X-Tlsrelay; connect to mx.x.test[127.0.0.1]:25: "
	    "Connection refused\n"
	    "Will-Retry-Until: Sun, 19 Nov 2023 22:13:20 +0000 (UTC)\n");
	for (size_t i = 0; i < n; i++)
		free(groups[i]);
	assert_header(m.part_headers[2], "Content-Type", "text/rfc822-headers");
	mime_free(&m);
	free(dsn);
	spool_message_free(&orig);
	free(path);
}
END_TEST

/* Remote text cannot add lines of its own; 8-bit original headers make
 * the DSN 8BITMIME; a malformed status falls back to a generic one. */
START_TEST(test_hostile_input)
{
	static const char *const rcpts[] = { "a@x.test" };
	static const char content[] = "Subject: caf\xc3\xa9\r\n"
	    "X-Trap: --not-a-boundary\r\n\r\nbody\r\n";
	static char word[2500];	/* one "word" longer than an SMTP line */
	const struct bounce_rcpt failed[] = {
		{ "a@x.test", NULL, "5.x.1", "host evil.test[127.0.0.2] said: "
		    "550 no\r\nX-Injected: yes\r\n\r\n--fake (in reply to "
		    "end of DATA command)", NULL, NULL },
		{ "b@x.test", NULL, "5.0.0", word, NULL, NULL },
	};
	struct spool_message orig;
	struct bounce_info info;
	struct mime m;
	char new_id[QUEUE_ID_MAX], *path, *err = NULL, *dsn, *groups[4];
	size_t n;

	memset(word, 'w', sizeof(word) - 1);

	make_orig(&orig, &path, "sender@x.test", rcpts, 1, content,
	    strlen(content));
	default_info(&info);
	ck_assert_int_eq(bounce_create(tu_queue_dir, path, &orig, failed, 2,
	    &info, new_id, &err), BOUNCE_QUEUED);
	dsn = read_dsn(new_id, "sender@x.test", 1);
	/* (mime_parse checks that every line is shorter than 1000.) */
	ck_assert_ptr_null(strstr(dsn, "\r\nX-Injected"));
	ck_assert_ptr_null(strstr(dsn, "\r\n--fake"));
	mime_parse(&m, dsn);
	ck_assert_uint_eq(m.n_parts, 3);
	assert_header(m.headers, "Content-Transfer-Encoding", "8bit");
	assert_header(m.part_headers[2], "Content-Transfer-Encoding", "8bit");
	ck_assert_str_eq(m.part_body[2], "Subject: caf\xc3\xa9\r\n"
	    "X-Trap: --not-a-boundary\r\n");
	n = dsn_groups(m.part_body[1], groups, 4);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_gt(strlen(groups[2]), sizeof(word));
	ck_assert_str_eq(groups[1],
	    "Final-Recipient: rfc822; a@x.test\n"
	    "Action: failed\n"
	    "Status: 5.0.0\n"
	    "Remote-MTA: dns; evil.test\n"
	    "Diagnostic-Code: smtp; 550 no X-Injected: yes --fake\n");
	for (size_t i = 0; i < n; i++)
		free(groups[i]);
	mime_free(&m);
	free(dsn);

	/* No recipients is a caller bug, reported. */
	ck_assert_int_eq(bounce_create(tu_queue_dir, path, &orig, failed, 0,
	    &info, new_id, &err), -1);
	ck_assert_ptr_nonnull(err);
	free(err);
	/* An original that vanished: an error, nothing queued. */
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(bounce_create(tu_queue_dir, path, &orig, failed, 1,
	    &info, new_id, &err), -1);
	ck_assert_msg(strstr(err, "No such file") != NULL, "%s", err);
	free(err);
	ck_assert_uint_eq(count_incoming(), 1);
	spool_message_free(&orig);
	free(path);
}
END_TEST

static Suite *
bounce_suite(void)
{
	Suite *s = suite_create("bounce");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup_queue, tu_queue_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_failure_two_recipients);
	tcase_add_test(tc, test_headers_cut);
	tcase_add_test(tc, test_long_header_line);
	tcase_add_test(tc, test_double_bounce);
	tcase_add_test(tc, test_delay_warning);
	tcase_add_test(tc, test_hostile_input);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(bounce_suite)
