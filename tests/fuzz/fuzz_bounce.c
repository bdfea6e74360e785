/* Fuzz harness: remote replies turned into DSNs (src/queue/bounce.c,
 * through bounce_format, the text bounce_create queues). The first byte
 * picks the kind (bit 0: delay warning, bit 1: null sender, so a notice
 * to 2bounce_notice_recipient; bit 4: the original goes on after the
 * bytes given, as when bounce_size_limit cuts it) and the number of
 * recipients (bits 2-3, plus one); then come NUL-separated fields: the
 * sender, and for each recipient its address, original address, status
 * code, reason ("host mx[addr] said: 550 ... (in reply to RCPT TO
 * command)", as the queue manager passes it), remote MTA and SMTP reply
 * (empty: not given); the rest is the original message. The DSN is taken
 * apart as a mail reader would and checked: CR LF line ends only, lines
 * of at most 998 bytes, header fields we wrote and each once, no
 * continuation line of white space alone, a multipart/report with its
 * three parts and one closing boundary, one delivery-status group per
 * recipient with a well-formed Status of the right class and an Action
 * that matches the kind. Nothing in a reply or address may add a header
 * field, a status field, a recipient group or a MIME part. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tlsrelay/queue.h"
#include "tlsrelay/util.h"
#include "fuzz.h"

#define MAX_RCPTS	4
#define FIELDS		6	/* per recipient */
#define DSN_LINE_MAX	998

/* The DSN cut into its lines (CR LF removed, NUL-terminated in place). */
struct lines {
	char **line;
	size_t n;
};

static void
split_lines(char *msg, size_t len, struct lines *l)
{
	char *p = msg, *end = msg + len;

	l->line = NULL;
	l->n = 0;
	CHECK(len >= 2 && memcmp(end - 2, "\r\n", 2) == 0);
	while (p < end) {
		char *cr = memchr(p, '\r', (size_t)(end - p));

		/* Every CR starts a CR LF; no LF stands alone. */
		CHECK(cr != NULL && cr + 1 < end && cr[1] == '\n');
		CHECK(memchr(p, '\n', (size_t)(cr - p)) == NULL);
		CHECK(memchr(p, '\0', (size_t)(cr - p)) == NULL);
		CHECK(cr - p <= DSN_LINE_MAX);
		*cr = '\0';
		l->line = xrealloc(l->line, (l->n + 1) * sizeof(*l->line));
		l->line[l->n++] = p;
		p = cr + 2;
	}
}

static int
is_blank(const char *s)
{
	return s[strspn(s, " \t")] == '\0';
}

/* A field's name when line starts one ("Name: value"), else NULL. */
static int
field_is(const char *line, const char *name)
{
	size_t n = strlen(name);

	return strncasecmp(line, name, n) == 0 && line[n] == ':';
}

/* Checks the header fields in lines [from, to): each one of names (or a
 * continuation that is not white space alone); counts[] per name. */
static void
check_fields(const struct lines *l, size_t from, size_t to,
    const char *const *names, size_t n_names, int *counts)
{
	for (size_t i = 0; i < n_names; i++)
		counts[i] = 0;
	for (size_t i = from; i < to; i++) {
		const char *line = l->line[i];
		size_t k;

		if (*line == ' ' || *line == '\t') {
			CHECK(i > from);
			CHECK(!is_blank(line));
			continue;
		}
		for (k = 0; k < n_names; k++)
			if (field_is(line, names[k]))
				break;
		if (k == n_names)
			fprintf(stderr, "unexpected field: %.80s\n", line);
		CHECK(k < n_names);
		counts[k]++;
	}
}

/* The next line index >= i that is empty, or to. */
static size_t
next_empty(const struct lines *l, size_t i, size_t to)
{
	while (i < to && l->line[i][0] != '\0')
		i++;
	return i;
}

/* The value of the field at line i with its continuations, unfolded. */
static char *
field_value(const struct lines *l, size_t i, size_t to)
{
	struct strbuf sb;

	strbuf_init(&sb);
	strbuf_puts(&sb, strchr(l->line[i], ':') + 1);
	for (i++; i < to && (l->line[i][0] == ' ' || l->line[i][0] == '\t');
	    i++)
		strbuf_puts(&sb, l->line[i]);
	return strbuf_steal(&sb);
}

static void
check_status_code(const char *value, int delayed)
{
	const char *p = value + strspn(value, " ");

	CHECK(delayed ? *p == '4' : (*p == '4' || *p == '5'));
	p++;
	for (int part = 0; part < 2; part++) {
		size_t digits;

		CHECK(*p++ == '.');
		digits = strspn(p, "0123456789");
		CHECK(digits >= 1 && digits <= 3);
		p += digits;
	}
	CHECK(*p == '\0');
}

/* One recipient's group of delivery-status fields, lines [from, to). */
static void
check_rcpt_group(const struct lines *l, size_t from, size_t to,
    int delayed)
{
	static const char *const names[] = {
		"Final-Recipient", "Original-Recipient", "Action", "Status",
		"Remote-MTA", "Diagnostic-Code", "Will-Retry-Until",
	};
	int counts[7];

	check_fields(l, from, to, names, 7, counts);
	CHECK(counts[0] == 1 && counts[2] == 1 && counts[3] == 1);
	CHECK(counts[1] <= 1 && counts[4] <= 1 && counts[5] == 1);
	CHECK(counts[6] == (delayed ? 1 : 0));
	for (size_t i = from; i < to; i++) {
		char *value;

		if (l->line[i][0] == ' ' || l->line[i][0] == '\t')
			continue;
		value = field_value(l, i, to);
		if (field_is(l->line[i], "Action"))
			CHECK(strcmp(value, delayed ? " delayed" :
			    " failed") == 0);
		else if (field_is(l->line[i], "Status"))
			check_status_code(value, delayed);
		else if (field_is(l->line[i], "Final-Recipient") ||
		    field_is(l->line[i], "Original-Recipient"))
			CHECK(strncmp(value, " rfc822;", 8) == 0);
		else if (field_is(l->line[i], "Remote-MTA"))
			CHECK(strncmp(value, " dns;", 5) == 0);
		else if (field_is(l->line[i], "Diagnostic-Code"))
			CHECK(strncmp(value, " smtp;", 6) == 0 ||
			    strncmp(value, " X-Tlsrelay;", 12) == 0);
		free(value);
	}
}

/* The message/delivery-status part, lines [from, to): the message's
 * fields, then one group per recipient. */
static void
check_status_part(const struct lines *l, size_t from, size_t to,
    size_t n_rcpts, int delayed)
{
	static const char *const names[] = {
		"Reporting-MTA", "X-Tlsrelay-Queue-ID", "X-Tlsrelay-Sender",
		"Arrival-Date",
	};
	int counts[4];
	size_t end = next_empty(l, from, to), groups = 0;

	check_fields(l, from, end, names, 4, counts);
	for (size_t k = 0; k < 4; k++)
		CHECK(counts[k] == 1);
	while (end < to) {
		size_t start = end + 1;

		end = next_empty(l, start, to);
		if (start == end)
			continue;	/* the empty line before the boundary */
		check_rcpt_group(l, start, end, delayed);
		groups++;
	}
	CHECK(groups == n_rcpts);
}

static void
check_dsn(char *msg, size_t len, size_t n_rcpts, int delayed, int notice)
{
	static const char *const names[] = {
		"Received", "Date", "From", "To", "Subject", "Auto-Submitted",
		"Message-ID", "MIME-Version", "Content-Type",
		"Content-Transfer-Encoding", "X-Tlsrelay-Notice",
	};
	static const char *const part_names[] = {
		"Content-Description", "Content-Type",
		"Content-Transfer-Encoding",
	};
	int counts[11], part_counts[3];
	struct lines l;
	size_t header_end, delims[4], n_delims = 0;
	char *boundary, *delim, *close_delim, *q;

	split_lines(msg, len, &l);
	header_end = next_empty(&l, 0, l.n);
	CHECK(header_end < l.n);
	check_fields(&l, 0, header_end, names, 11, counts);
	for (size_t k = 0; k < 10; k++)
		CHECK(counts[k] == 1);
	CHECK(counts[10] == notice);

	/* The boundary, from Content-Type's continuation line. */
	boundary = NULL;
	for (size_t i = 0; i < header_end; i++)
		if (field_is(l.line[i], "Content-Type"))
			boundary = field_value(&l, i, header_end);
	CHECK(boundary != NULL);
	CHECK((q = strstr(boundary, "boundary=\"")) != NULL);
	delim = xasprintf("--%s", q + 10);
	CHECK((q = strchr(delim, '"')) != NULL && q[1] == '\0');
	*q = '\0';
	close_delim = xasprintf("%s--", delim);

	/* Three parts, then the close delimiter as the last line; nothing
	 * else starts with the boundary. */
	for (size_t i = header_end + 1; i < l.n; i++) {
		if (strncmp(l.line[i], delim, strlen(delim)) != 0)
			continue;
		CHECK(strcmp(l.line[i], delim) == 0 ||
		    strcmp(l.line[i], close_delim) == 0);
		CHECK(n_delims < 4);
		delims[n_delims++] = i;
	}
	CHECK(n_delims == 4);
	CHECK(delims[3] == l.n - 1 && strcmp(l.line[l.n - 1],
	    close_delim) == 0);
	for (size_t part = 0; part < 3; part++) {
		size_t start = delims[part] + 1, stop = delims[part + 1];
		size_t body = next_empty(&l, start, stop);

		CHECK(body < stop);
		check_fields(&l, start, body, part_names, 3, part_counts);
		CHECK(part_counts[0] == 1 && part_counts[1] == 1);
		if (part == 1)
			check_status_part(&l, body + 1, stop, n_rcpts,
			    delayed);
	}
	free(boundary);
	free(delim);
	free(close_delim);
	free(l.line);
}

/* The next NUL-terminated field of the input, or NULL at its end. */
static const char *
next_field(const char **p, const char *end)
{
	const char *field = *p, *nul;

	if (*p >= end)
		return NULL;
	if ((nul = memchr(*p, '\0', (size_t)(end - *p))) == NULL)
		return NULL;
	*p = nul + 1;
	return field;
}

/* Whether the original's bytes hold our notice header (any case). */
static int
has_notice(const char *content, size_t len)
{
	static const char name[] = "x-tlsrelay-notice:";
	size_t n = sizeof(name) - 1;

	for (size_t i = 0; i + n <= len; i++)
		if (strncasecmp(content + i, name, n) == 0)
			return 1;
	return 0;
}

static const char *
optional(const char *field)
{
	return field != NULL && *field != '\0' ? field : NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bounce_rcpt rcpts[MAX_RCPTS];
	struct spool_message orig;
	struct bounce_info info;
	struct strbuf msg;
	const char *p, *end, *sender;
	size_t n;
	int rc, delayed, null_sender;

	if (size < 1 || size > 65536)
		return 0;
	delayed = data[0] & 1;
	null_sender = (data[0] >> 1) & 1;
	n = 1 + ((data[0] >> 2) & 3);
	p = (const char *)data + 1;
	end = (const char *)data + size;

	sender = optional(next_field(&p, end));
	memset(rcpts, 0, sizeof(rcpts));
	for (size_t i = 0; i < n; i++) {
		const char *address = next_field(&p, end);

		rcpts[i].address = address ? address : "rcpt@example.com";
		rcpts[i].orig_address = optional(next_field(&p, end));
		rcpts[i].dsn = optional(next_field(&p, end));
		rcpts[i].reason = optional(next_field(&p, end));
		rcpts[i].remote_mta = optional(next_field(&p, end));
		rcpts[i].smtp_reply = optional(next_field(&p, end));
	}

	memset(&orig, 0, sizeof(orig));
	snprintf(orig.id, sizeof(orig.id), "%s",
	    "0005F1A2B3C4D5000012340000AB");
	orig.sender = null_sender ? "" : (char *)(sender ? sender :
	    "sender@example.org");
	orig.arrival_sec = 1796000000;
	/* The rest of the input is the original message's first bytes. */
	orig.content_length = (off_t)(end - p) + ((data[0] & 0x10) ? 100 : 0);

	memset(&info, 0, sizeof(info));
	info.myhostname = "relay.example.com";
	info.mail_name = "tlsrelay";
	info.postmaster = "postmaster";
	info.double_bounce_recipient = "postmaster@relay.example.com";
	info.delayed = delayed;
	info.bounce_size_limit = 50000;
	info.queue_lifetime = delayed ? 432000 : 0;
	info.now = 1796003600;

	strbuf_init(&msg);
	rc = bounce_format(&orig, p, (size_t)(end - p), rcpts, n, &info,
	    "0005F1A2B3C4D6000012340000CD", &msg);
	if (null_sender && delayed) {
		CHECK(rc == BOUNCE_DOUBLE_DROPPED && msg.len == 0);
	} else if (rc == BOUNCE_DOUBLE_DROPPED) {
		/* Only our own failed notice. */
		CHECK(null_sender && msg.len == 0);
		CHECK(has_notice(p, (size_t)(end - p)));
	} else {
		CHECK(rc == (null_sender ? BOUNCE_DOUBLE_NOTICE :
		    BOUNCE_QUEUED));
		check_dsn(msg.data, msg.len, n, delayed, null_sender);
	}
	strbuf_free(&msg);
	return 0;
}
