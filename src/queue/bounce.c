/* bounce: delivery status notifications (RFC 3464) as new queue files.
 *
 * A DSN is a multipart/report with three parts: a text for people, a
 * message/delivery-status for programs, and the original message's
 * headers (text/rfc822-headers), never its body. It has the null sender,
 * so it is never answered by another DSN: when a message with the null
 * sender fails, nothing goes back ("double bounce"); it is logged by the
 * caller, and sent to 2bounce_notice_recipient when that is set. Such a
 * notice carries an X-Tlsrelay-Notice header, so that when the notice
 * fails too it is dropped instead of producing a notice about a notice.
 *
 * Untrusted text (remote replies, addresses, original headers) never
 * reaches the output with a line break of its own: controls become
 * spaces and long fields are folded. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "tlsrelay/queue.h"
#include "tlsrelay/util.h"

#define FOLD_WIDTH	78	/* header and DSN field lines */
#define TEXT_WIDTH	76	/* the text part */
#define LINE_LIMIT	998	/* RFC 5322: the longest line, CR LF aside */
#define NOTICE_HEADER	"X-Tlsrelay-Notice"
#define NOTICE_VALUE	"double-bounce"

enum dsn_kind {
	DSN_FAILURE,		/* to the sender: given up */
	DSN_DELAY,		/* to the sender: still trying */
	DSN_DOUBLE,		/* to 2bounce_notice_recipient */
};

struct dsn_ctx {
	const struct spool_message *orig;
	const struct bounce_rcpt *rcpts;
	size_t n;
	const struct bounce_info *info;
	enum dsn_kind kind;
	const char *to;			/* the DSN's one recipient */
	const char *mail_name;
	const char *postmaster;
	struct strbuf orig_headers;	/* CR LF lines, cut */
	struct strbuf text;		/* the parts' bodies, which do not */
	struct strbuf status;		/* depend on the new queue ID */
};

/* ---- small text helpers ---- */

static void
put_crlf(struct strbuf *sb, const char *line)
{
	strbuf_puts(sb, line);
	strbuf_append(sb, "\r\n", 2);
}

/* A copy of s fit for one line: controls (CR and LF included) become
 * spaces; with ascii_only, 8-bit bytes become '?'. */
static char *
clean_text(const char *s, int ascii_only)
{
	char *copy = xstrdup(s ? s : "");

	for (unsigned char *p = (unsigned char *)copy; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			*p = ' ';
		else if (ascii_only && *p >= 0x80)
			*p = '?';
	}
	return copy;
}

/* "Name: value" folded at spaces to FOLD_WIDTH columns where possible;
 * a word longer than a line is cut (a line must stay under 998). */
static void
put_field(struct strbuf *sb, const char *name, const char *raw_value)
{
	char *value = clean_text(raw_value, 1);
	size_t col = strlen(name) + 1;
	const char *p = value;
	int first = 1;

	strbuf_puts(sb, name);
	strbuf_puts(sb, ":");
	while (*p) {
		size_t space = strspn(p, " ");
		size_t word = strcspn(p + space, " ");

		if (word == 0)
			break;		/* trailing spaces */
		/* Never fold before the first word or twice in a row. */
		if (!first && col > 0 && col + 1 + word > FOLD_WIDTH) {
			strbuf_append(sb, "\r\n", 2);
			col = 0;
		}
		p += space;
		while (word > 900) {
			strbuf_append(sb, " ", 1);
			strbuf_append(sb, p, 900);
			strbuf_append(sb, "\r\n", 2);
			p += 900;
			word -= 900;
			col = 0;
		}
		strbuf_append(sb, " ", 1);
		strbuf_append(sb, p, word);
		col += 1 + word;
		p += word;
		first = 0;
	}
	strbuf_append(sb, "\r\n", 2);
	free(value);
}

/* Text wrapped at TEXT_WIDTH, continuation lines indented. */
static void
put_wrapped(struct strbuf *sb, const char *raw_text, const char *indent)
{
	char *text = clean_text(raw_text, 0);
	const char *p = text;
	size_t col = 0;

	while (*p) {
		size_t space = strspn(p, " ");
		size_t word = strcspn(p + space, " ");

		if (word == 0)
			break;
		if (word > 900)
			word = 900;	/* a line must stay under 998 */
		if (col > 0 && col + 1 + word > TEXT_WIDTH) {
			strbuf_append(sb, "\r\n", 2);
			strbuf_puts(sb, indent);
			col = strlen(indent);
		} else if (col > 0) {
			strbuf_append(sb, " ", 1);
			col++;
		}
		p += space;
		strbuf_append(sb, p, word);
		col += word;
		p += word;
	}
	strbuf_append(sb, "\r\n", 2);
	free(text);
}

/* "Tue, 02 Jan 2024 10:00:00 +0000 (UTC)" */
static void
format_date(char *buf, size_t len, time_t t)
{
	struct tm tm;
	char zone[16];
	size_t used;

	localtime_r(&t, &tm);
	used = strftime(buf, len, "%a, %d %b %Y %H:%M:%S %z", &tm);
	if (strftime(zone, sizeof(zone), "%Z", &tm) > 0 &&
	    used + strlen(zone) + 4 < len)
		snprintf(buf + used, len - used, " (%s)", zone);
}

/* The DSN status code "C.S.D" (up to three digits each) for buf: a
 * failure keeps class 4 (expired) or 5, a delay is class 4 whatever the
 * caller says; anything malformed becomes the generic code. */
static const char *
status_code(char *buf, size_t len, const char *dsn, enum dsn_kind kind)
{
	const char *p = dsn;

	if (p == NULL || (*p != '2' && *p != '4' && *p != '5') || p[1] != '.')
		goto generic;
	p += 2;
	for (int part = 0; part < 2; part++) {
		size_t digits = strspn(p, "0123456789");

		if (digits < 1 || digits > 3)
			goto generic;
		p += digits;
		if (part == 0 && *p++ != '.')
			goto generic;
	}
	if (*p != '\0' || (kind != DSN_DELAY && *dsn == '2'))
		goto generic;
	snprintf(buf, len, "%c%s", kind == DSN_DELAY ? '4' : *dsn, dsn + 1);
	return buf;
generic:
	return kind == DSN_DELAY ? "4.0.0" : "5.0.0";
}

/* Splits a reason of the form "host NAME[ADDR] said: REPLY (in reply to
 * WHAT command)" into NAME and REPLY. Returns 0 when it has that form. */
static int
split_reason(const char *reason, char **mta, char **reply)
{
	const char *name, *bracket, *said, *tail;
	size_t reply_len;

	if (reason == NULL || strncmp(reason, "host ", 5) != 0)
		return -1;
	name = reason + 5;
	bracket = strchr(name, '[');
	said = strstr(name, "] said: ");
	if (bracket == NULL || bracket == name || said == NULL ||
	    said < bracket || memchr(name, ' ', (size_t)(bracket - name)))
		return -1;
	said += 8;
	reply_len = strlen(said);
	tail = strstr(said, " (in reply to ");
	if (tail != NULL && said[reply_len - 1] == ')')
		reply_len = (size_t)(tail - said);
	if (reply_len == 0)
		return -1;
	*mta = xstrndup(name, (size_t)(bracket - name));
	*reply = xstrndup(said, reply_len);
	return 0;
}

/* ---- the original message's headers ---- */

/* Reads the first bytes of the original content, at most limit of them:
 * *buf (malloc'd, NULL when nothing is wanted) holds *len of them; *cut
 * is set when the content goes on after them. */
static int
read_orig_content(const char *path, const struct spool_message *orig,
    long long limit, char **buf, size_t *len, int *cut, char **err)
{
	size_t want, got = 0;
	int fd;

	*buf = NULL;
	*len = 0;
	*cut = 0;
	if (limit <= 0 || orig->content_length <= 0)
		return 0;
	want = (size_t)(limit < (long long)orig->content_length ?
	    limit : (long long)orig->content_length);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		*err = xasprintf("open %s: %s", path, strerror(errno));
		return -1;
	}
	*buf = xmalloc(want + 1);
	while (got < want) {
		ssize_t n = pread(fd, *buf + got, want - got,
		    orig->content_offset + (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*err = xasprintf("read %s: %s", path, strerror(errno));
			close(fd);
			free(*buf);
			*buf = NULL;
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	*len = got;
	*cut = got == want && (long long)got < (long long)orig->content_length;
	return 0;
}

/* Keeps the header section of the original's first got bytes (up to the
 * first empty line), cut at the last line end when cut (the original
 * goes on after them). Lines come out with CR LF, broken with CR LF
 * SPACE after LINE_LIMIT bytes; NUL and bare CR become spaces. */
static void
keep_orig_headers(const char *buf, size_t got, int cut, struct strbuf *out)
{
	size_t keep = got;

	/* The header section ends before the first empty line. */
	for (size_t i = 0; i < got; i++) {
		size_t next = i;

		if (i > 0 && buf[i - 1] != '\n')
			continue;
		if (buf[next] == '\r')
			next++;
		if (next < got && buf[next] == '\n') {
			keep = i;
			break;
		}
	}
	/* Cut by the limit: end at the last complete line. */
	if (keep == got && cut && got > 0) {
		const char *nl = buf + got;

		while (nl > buf && nl[-1] != '\n')
			nl--;
		if (nl > buf)
			keep = (size_t)(nl - buf);
	}
	for (size_t i = 0; i < keep;) {
		size_t len = 0, col = 0;

		while (i + len < keep && buf[i + len] != '\n')
			len++;
		for (size_t j = 0; j < len; j++) {
			char c = buf[i + j];

			if (c == '\r' && j + 1 == len)
				break;		/* the CR of CR LF */
			if (c == '\0' || c == '\r')
				c = ' ';
			/* Broken as the smtp client breaks a long line. */
			if (col == LINE_LIMIT) {
				strbuf_append(out, "\r\n ", 3);
				col = 1;
			}
			strbuf_append(out, &c, 1);
			col++;
		}
		strbuf_append(out, "\r\n", 2);
		i += len + 1;
	}
}

/* Whether headers (CR LF lines) contain our notice marker. */
static int
has_notice_header(const struct strbuf *headers)
{
	size_t name_len = strlen(NOTICE_HEADER);
	const char *p = headers->data;

	while (p != NULL && *p != '\0') {
		if (strncasecmp(p, NOTICE_HEADER, name_len) == 0 &&
		    p[name_len] == ':')
			return 1;
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	}
	return 0;
}

/* ---- the three parts ---- */

static void
text_part(struct strbuf *sb, const struct dsn_ctx *c)
{
	const struct bounce_info *info = c->info;
	struct strbuf line;

	strbuf_init(&line);
	strbuf_printf(&line, "This is the %s program at host %s.",
	    c->mail_name, info->myhostname);
	put_crlf(sb, line.data);
	put_crlf(sb, "");
	switch (c->kind) {
	case DSN_FAILURE:
		put_crlf(sb, "Your message could not be delivered to one or "
		    "more of its recipients.");
		put_crlf(sb, "Delivery to them has been given up, for the "
		    "reasons below. The headers");
		put_crlf(sb, "of your message are attached.");
		break;
	case DSN_DELAY:
		put_crlf(sb, "THIS IS A WARNING ONLY. YOU DO NOT NEED TO "
		    "SEND YOUR MESSAGE AGAIN.");
		put_crlf(sb, "");
		put_crlf(sb, "Your message has not yet been delivered to one "
		    "or more of its");
		put_crlf(sb, "recipients, for the reasons below. Delivery "
		    "will be tried again.");
		if (info->queue_lifetime > 0) {
			char until[64];

			format_date(until, sizeof(until),
			    (time_t)(c->orig->arrival_sec +
			    info->queue_lifetime));
			strbuf_reset(&line);
			strbuf_printf(&line, "If it still fails on %s, "
			    "you will be told.", until);
			put_wrapped(sb, line.data, "");
		}
		break;
	case DSN_DOUBLE:
		put_crlf(sb, "A message with the null sender (a delivery "
		    "notice or similar) could");
		put_crlf(sb, "not be delivered to one or more of its "
		    "recipients. It has no sender");
		put_crlf(sb, "to return it to, so this report goes to you. "
		    "Its headers are attached.");
		break;
	}
	put_crlf(sb, "");
	strbuf_reset(&line);
	strbuf_printf(&line, "For help, write to %s and include this "
	    "report.", c->postmaster);
	put_wrapped(sb, line.data, "");
	put_crlf(sb, "");
	strbuf_reset(&line);
	strbuf_printf(&line, "                   The %s program",
	    c->mail_name);
	put_crlf(sb, line.data);
	put_crlf(sb, "");
	for (size_t i = 0; i < c->n; i++) {
		strbuf_reset(&line);
		strbuf_printf(&line, "<%s>: %s", c->rcpts[i].address,
		    c->rcpts[i].reason ? c->rcpts[i].reason : "unknown error");
		put_wrapped(sb, line.data, "    ");
		put_crlf(sb, "");
	}
	strbuf_free(&line);
}

static void
status_part(struct strbuf *sb, const struct dsn_ctx *c)
{
	const struct spool_message *orig = c->orig;
	struct strbuf value;
	char date[64];

	strbuf_init(&value);
	strbuf_printf(&value, "dns; %s", c->info->myhostname);
	put_field(sb, "Reporting-MTA", value.data);
	put_field(sb, "X-Tlsrelay-Queue-ID", orig->id);
	strbuf_reset(&value);
	strbuf_printf(&value, "rfc822; %s", orig->sender);
	put_field(sb, "X-Tlsrelay-Sender", value.data);
	format_date(date, sizeof(date), (time_t)orig->arrival_sec);
	put_field(sb, "Arrival-Date", date);

	for (size_t i = 0; i < c->n; i++) {
		const struct bounce_rcpt *r = &c->rcpts[i];
		char *mta = NULL, *reply = NULL, status[16];

		if (r->remote_mta == NULL && r->smtp_reply == NULL)
			split_reason(r->reason, &mta, &reply);
		put_crlf(sb, "");
		strbuf_reset(&value);
		strbuf_printf(&value, "rfc822; %s", r->address);
		put_field(sb, "Final-Recipient", value.data);
		if (r->orig_address != NULL && r->orig_address[0] != '\0') {
			strbuf_reset(&value);
			strbuf_printf(&value, "rfc822; %s", r->orig_address);
			put_field(sb, "Original-Recipient", value.data);
		}
		put_field(sb, "Action",
		    c->kind == DSN_DELAY ? "delayed" : "failed");
		put_field(sb, "Status", status_code(status, sizeof(status),
		    r->dsn, c->kind));
		if (r->remote_mta != NULL || mta != NULL) {
			strbuf_reset(&value);
			strbuf_printf(&value, "dns; %s",
			    r->remote_mta ? r->remote_mta : mta);
			put_field(sb, "Remote-MTA", value.data);
		}
		strbuf_reset(&value);
		if (r->smtp_reply != NULL || reply != NULL)
			strbuf_printf(&value, "smtp; %s",
			    r->smtp_reply ? r->smtp_reply : reply);
		else
			strbuf_printf(&value, "X-Tlsrelay; %s",
			    r->reason ? r->reason : "unknown error");
		put_field(sb, "Diagnostic-Code", value.data);
		if (c->kind == DSN_DELAY && c->info->queue_lifetime > 0) {
			format_date(date, sizeof(date),
			    (time_t)(orig->arrival_sec +
			    c->info->queue_lifetime));
			put_field(sb, "Will-Retry-Until", date);
		}
		free(mta);
		free(reply);
	}
	strbuf_free(&value);
}

static int
has_8bit(const char *data, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)data[i] >= 0x80)
			return 1;
	return 0;
}

/* A boundary that occurs nowhere in the parts: the new queue ID and 64
 * random bits, tried again in the unlikely case of a match. */
static void
choose_boundary(char *out, size_t len, const char *id,
    const struct strbuf *const *parts, size_t n_parts)
{
	for (int tries = 0;; tries++) {
		unsigned long long r = 0;
		int clash = 0;

		if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
			r ^= (unsigned long long)time(NULL) * 2654435761ULL +
			    (unsigned long long)tries;
		snprintf(out, len, "%s/%016llX=_%d", id, r, tries);
		for (size_t i = 0; i < n_parts && !clash; i++)
			clash = parts[i]->data != NULL &&
			    memmem(parts[i]->data, parts[i]->len, out,
			    strlen(out)) != NULL;
		if (!clash)
			return;
	}
}

/* The whole DSN message, given its queue ID. */
static void
build_message(struct strbuf *msg, const struct dsn_ctx *c, const char *id)
{
	const struct bounce_info *info = c->info;
	const struct strbuf *parts[3];
	struct strbuf value;
	char boundary[80], date[64];
	time_t now = info->now ? (time_t)info->now : time(NULL);
	int text_8bit, headers_8bit;

	strbuf_init(&value);
	text_8bit = has_8bit(c->text.data, c->text.len);
	headers_8bit = has_8bit(c->orig_headers.data, c->orig_headers.len);
	parts[0] = &c->text;
	parts[1] = &c->status;
	parts[2] = &c->orig_headers;
	choose_boundary(boundary, sizeof(boundary), id, parts, 3);

	format_date(date, sizeof(date), now);
	strbuf_printf(&value, "by %s (%s) id %s;", info->myhostname,
	    c->mail_name, id);
	put_field(msg, "Received", value.data);
	/* The date on a line of its own, as a continuation. */
	msg->len -= 2;
	strbuf_printf(msg, "\r\n\t%s\r\n", date);
	put_field(msg, "Date", date);
	strbuf_reset(&value);
	strbuf_printf(&value, "MAILER-DAEMON@%s (Mail Delivery System)",
	    info->myhostname);
	put_field(msg, "From", value.data);
	strbuf_reset(&value);
	strbuf_printf(&value, "<%s>", c->to);
	put_field(msg, "To", value.data);
	put_field(msg, "Subject",
	    c->kind == DSN_FAILURE ? "Undelivered Mail Returned to Sender" :
	    c->kind == DSN_DELAY ? "Delayed Mail (still being retried)" :
	    "Postmaster Copy: Undelivered Mail");
	put_field(msg, "Auto-Submitted", "auto-replied");
	if (c->kind == DSN_DOUBLE)
		put_field(msg, NOTICE_HEADER, NOTICE_VALUE);
	strbuf_reset(&value);
	strbuf_printf(&value, "<%s@%s>", id, info->myhostname);
	put_field(msg, "Message-ID", value.data);
	put_field(msg, "MIME-Version", "1.0");
	strbuf_printf(msg, "Content-Type: multipart/report; "
	    "report-type=delivery-status;\r\n\tboundary=\"%s\"\r\n",
	    boundary);
	put_field(msg, "Content-Transfer-Encoding",
	    text_8bit || headers_8bit ? "8bit" : "7bit");
	put_crlf(msg, "");
	put_crlf(msg, "This is a MIME-encapsulated message.");
	put_crlf(msg, "");

	strbuf_printf(msg, "--%s\r\n", boundary);
	put_field(msg, "Content-Description", "Notification");
	put_field(msg, "Content-Type", text_8bit ?
	    "text/plain; charset=utf-8" : "text/plain; charset=us-ascii");
	put_crlf(msg, "");
	strbuf_append(msg, c->text.data, c->text.len);

	strbuf_printf(msg, "--%s\r\n", boundary);
	put_field(msg, "Content-Description", "Delivery report");
	put_field(msg, "Content-Type", "message/delivery-status");
	put_crlf(msg, "");
	strbuf_append(msg, c->status.data, c->status.len);
	put_crlf(msg, "");

	strbuf_printf(msg, "--%s\r\n", boundary);
	put_field(msg, "Content-Description", c->kind == DSN_DELAY ?
	    "Delayed Message Headers" : "Undelivered Message Headers");
	put_field(msg, "Content-Type", "text/rfc822-headers");
	if (headers_8bit)
		put_field(msg, "Content-Transfer-Encoding", "8bit");
	put_crlf(msg, "");
	if (c->orig_headers.len > 0)
		strbuf_append(msg, c->orig_headers.data, c->orig_headers.len);
	put_crlf(msg, "");
	strbuf_printf(msg, "--%s--\r\n", boundary);
	strbuf_free(&value);
}

/* Sets up c for a DSN about rcpts. Returns BOUNCE_QUEUED or
 * BOUNCE_DOUBLE_NOTICE, or BOUNCE_DOUBLE_DROPPED when none is due. */
static int
dsn_init(struct dsn_ctx *c, const struct spool_message *orig,
    const struct bounce_rcpt *rcpts, size_t n,
    const struct bounce_info *info)
{
	memset(c, 0, sizeof(*c));
	c->orig = orig;
	c->rcpts = rcpts;
	c->n = n;
	c->info = info;
	c->kind = info->delayed ? DSN_DELAY : DSN_FAILURE;
	c->to = orig->sender;
	c->mail_name = info->mail_name && *info->mail_name ?
	    info->mail_name : "tlsrelay";
	c->postmaster = info->postmaster && *info->postmaster ?
	    info->postmaster : "postmaster";
	strbuf_init(&c->orig_headers);
	strbuf_init(&c->text);
	strbuf_init(&c->status);
	if (orig->sender[0] != '\0')
		return BOUNCE_QUEUED;
	/* Never a DSN for a DSN. A delay is not worth a notice. */
	if (info->delayed || info->double_bounce_recipient == NULL ||
	    info->double_bounce_recipient[0] == '\0')
		return BOUNCE_DOUBLE_DROPPED;
	c->kind = DSN_DOUBLE;
	c->to = info->double_bounce_recipient;
	return BOUNCE_DOUBLE_NOTICE;
}

/* The parts of the DSN from the original's first len bytes (cut: it goes
 * on after them). BOUNCE_DOUBLE_DROPPED when it is our own notice that
 * failed, else 0. */
static int
dsn_parts(struct dsn_ctx *c, const char *content, size_t len, int cut)
{
	keep_orig_headers(content, len, cut, &c->orig_headers);
	/* Our own notice failed: the loop stops here. */
	if (c->kind == DSN_DOUBLE && has_notice_header(&c->orig_headers))
		return BOUNCE_DOUBLE_DROPPED;
	text_part(&c->text, c);
	status_part(&c->status, c);
	return 0;
}

static void
dsn_free(struct dsn_ctx *c)
{
	strbuf_free(&c->text);
	strbuf_free(&c->status);
	strbuf_free(&c->orig_headers);
}

/* Writes the DSN as a new queue file and commits it. */
static int
queue_dsn(const char *queue_dir, const struct dsn_ctx *c, char *new_id,
    char **err)
{
	const char *rcpt[1] = { c->to };
	struct spool_envelope env;
	struct spool_writer *w;
	struct strbuf msg;
	struct timeval tv;
	int rc;

	gettimeofday(&tv, NULL);
	memset(&env, 0, sizeof(env));
	env.sender = "";
	env.recipients = rcpt;
	env.n_recipients = 1;
	/* Made here, not received: no client. */
	env.client_name = "localhost";
	env.client_addr = "127.0.0.1";
	env.helo_name = c->info->myhostname;
	env.protocol = "LOCAL";
	env.tls_info = "";
	env.arrival_sec = tv.tv_sec;
	env.arrival_usec = tv.tv_usec;
	/* Only the text part and the original headers can carry 8-bit
	 * bytes; every field is cleaned to ASCII. */
	env.body_8bitmime = has_8bit(c->text.data, c->text.len) ||
	    has_8bit(c->orig_headers.data, c->orig_headers.len);

	if ((w = spool_open(queue_dir, &env, err)) == NULL)
		return -1;
	strbuf_init(&msg);
	build_message(&msg, c, spool_id(w));
	if (spool_write(w, msg.data, msg.len) < 0) {
		*err = xasprintf("queue file write error: %s",
		    strerror(errno));
		spool_abort(w);
		strbuf_free(&msg);
		return -1;
	}
	snprintf(new_id, QUEUE_ID_MAX, "%s", spool_id(w));
	rc = spool_commit(w, err);
	strbuf_free(&msg);
	return rc;
}

int
bounce_create(const char *queue_dir, const char *orig_path,
    const struct spool_message *orig, const struct bounce_rcpt *rcpts,
    size_t n, const struct bounce_info *info, char *new_id, char **err)
{
	struct dsn_ctx c;
	char *content;
	size_t len;
	int result, cut;

	*err = NULL;
	new_id[0] = '\0';
	if (n == 0) {
		*err = xasprintf("%s: bounce without recipients", orig->id);
		return -1;
	}
	if ((result = dsn_init(&c, orig, rcpts, n, info)) ==
	    BOUNCE_DOUBLE_DROPPED)
		return result;
	if (read_orig_content(orig_path, orig, info->bounce_size_limit,
	    &content, &len, &cut, err) < 0)
		return -1;
	if (dsn_parts(&c, content, len, cut) == BOUNCE_DOUBLE_DROPPED)
		result = BOUNCE_DOUBLE_DROPPED;
	else if (queue_dsn(queue_dir, &c, new_id, err) < 0) {
		new_id[0] = '\0';
		result = -1;
	}
	free(content);
	dsn_free(&c);
	return result;
}

int
bounce_format(const struct spool_message *orig, const char *content,
    size_t len, const struct bounce_rcpt *rcpts, size_t n,
    const struct bounce_info *info, const char *id, struct strbuf *msg)
{
	struct dsn_ctx c;
	int result;

	if (n == 0)
		return -1;
	if ((result = dsn_init(&c, orig, rcpts, n, info)) ==
	    BOUNCE_DOUBLE_DROPPED)
		return result;
	if (dsn_parts(&c, content, len,
	    (long long)len < (long long)orig->content_length) ==
	    BOUNCE_DOUBLE_DROPPED)
		result = BOUNCE_DOUBLE_DROPPED;
	else
		build_message(msg, &c, id);
	dsn_free(&c);
	return result;
}
