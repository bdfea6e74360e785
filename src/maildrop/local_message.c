/* local_message: a maildrop message made into queue file content, as
 * Postfix's pickup and cleanup do for local mail: its Received: header,
 * the headers a message from a program often lacks (From:, Date:,
 * Message-Id:), Bcc: removed, every line ended by CR LF, and with -t the
 * recipients taken from the header. */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "tlsrelay/maildrop.h"
#include "tlsrelay/util.h"

/* One header field: its first line and its continuation lines. */
struct field {
	const char *start;	/* in the content */
	size_t len;		/* up to the last line's end, without it */
	char name[32];		/* lower case; "" when longer */
};

/* The length of the line at p (without LF and a CR before it) and where
 * the next one starts. */
static size_t
line_at(const char *p, const char *end, const char **next)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	size_t len;

	if (nl == NULL) {
		*next = end;
		len = (size_t)(end - p);
	} else {
		*next = nl + 1;
		len = (size_t)(nl - p);
	}
	if (len > 0 && p[len - 1] == '\r')
		len--;
	return len;
}

/* "name:" at the start of a line: the length of name, or 0. */
static size_t
field_name_len(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len && p[i] != ':'; i++)
		if ((unsigned char)p[i] <= ' ' || (unsigned char)p[i] >= 0x7f)
			return 0;
	return i < len && i > 0 ? i : 0;
}

/* Appends the lines of [p, p + len) with CR LF ends. */
static void
append_lines(struct strbuf *out, const char *p, size_t len)
{
	const char *end = p + len, *next;

	while (p < end) {
		size_t n = line_at(p, end, &next);

		strbuf_append(out, p, n);
		strbuf_append(out, "\r\n", 2);
		p = next;
	}
}

struct extract_ctx {
	struct maildrop_envelope *env;
	const char *myorigin;
};

static void
add_extracted(void *arg, const char *addr)
{
	struct extract_ctx *x = arg;
	char *full;

	if (x->env->n_rcpts >= MAILDROP_RCPT_MAX)
		return;
	full = maildrop_qualify(addr, x->myorigin);
	maildrop_envelope_add_rcpt(x->env, full);
	free(full);
}

static int
is_recipient_field(const char *name, int resent)
{
	if (resent)
		return strcmp(name, "resent-to") == 0 ||
		    strcmp(name, "resent-cc") == 0 ||
		    strcmp(name, "resent-bcc") == 0;
	return strcmp(name, "to") == 0 || strcmp(name, "cc") == 0 ||
	    strcmp(name, "bcc") == 0;
}

/* A display name as a quoted string when it has anything but atext and
 * blanks (RFC 5322 3.2.3). */
static void
append_display_name(struct strbuf *out, const char *name)
{
	int plain = 1;

	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != ' ' &&
		    strchr("!#$%&'*+-/=?^_`{|}~", *p) == NULL)
			plain = 0;
	if (plain) {
		strbuf_puts(out, name);
		return;
	}
	strbuf_append(out, "\"", 1);
	for (const char *p = name; *p; p++) {
		if (*p == '"' || *p == '\\')
			strbuf_append(out, "\\", 1);
		strbuf_append(out, p, 1);
	}
	strbuf_append(out, "\"", 1);
}

/* The header's fields (up to an empty line, or a line that is neither a
 * field nor a continuation) and where the body starts. */
static struct field *
header_fields(const char *content, size_t len, size_t *n_fields,
    size_t *body_offset)
{
	const char *p = content, *end = content + len, *next;
	struct field *fields = NULL;
	size_t n = 0;

	while (p < end) {
		size_t line_len = line_at(p, end, &next), name_len;

		if (line_len == 0) {
			p = next;	/* the empty line: replaced by ours */
			break;
		}
		if ((*p == ' ' || *p == '\t') && n > 0) {
			fields[n - 1].len = (size_t)(p + line_len -
			    fields[n - 1].start);
			p = next;
			continue;
		}
		if ((name_len = field_name_len(p, line_len)) == 0)
			break;
		fields = xrealloc(fields, (n + 1) * sizeof(*fields));
		fields[n].start = p;
		fields[n].len = line_len;
		fields[n].name[0] = '\0';
		if (name_len < sizeof(fields[n].name)) {
			for (size_t i = 0; i < name_len; i++)
				fields[n].name[i] =
				    (char)tolower((unsigned char)p[i]);
			fields[n].name[name_len] = '\0';
		}
		n++;
		p = next;
	}
	*n_fields = n;
	*body_offset = (size_t)(p - content);
	return fields;
}

static int
has_resent(const struct field *fields, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strncmp(fields[i].name, "resent-", 7) == 0)
			return 1;
	return 0;
}

void
local_message_recipients(const char *content, size_t len,
    const char *myorigin, struct maildrop_envelope *env)
{
	struct extract_ctx x = { env, myorigin };
	size_t n, body_offset;
	struct field *fields = header_fields(content, len, &n, &body_offset);
	int resent = has_resent(fields, n);

	for (size_t i = 0; i < n; i++) {
		size_t colon = field_name_len(fields[i].start, fields[i].len);

		if (is_recipient_field(fields[i].name, resent))
			addr_list_each(fields[i].start + colon + 1,
			    fields[i].len - colon - 1, add_extracted, &x);
	}
	free(fields);
}

void
local_message_build(const char *content, size_t len,
    const struct local_message_info *info, struct strbuf *out)
{
	size_t n, body_offset;
	struct field *fields = header_fields(content, len, &n, &body_offset);
	int has_from = 0, has_date = 0, has_msgid = 0;
	char date[64], stamp[32];
	time_t now = (time_t)info->now;
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm);

	strbuf_printf(out, "Received: by %s (tlsrelay, from userid %lu)\r\n"
	    "\tid %s; %s\r\n", info->myhostname, (unsigned long)info->uid,
	    info->queue_id, date);
	for (size_t i = 0; i < n; i++) {
		const char *name = fields[i].name;

		/* Blind copies stay blind. */
		if (strcmp(name, "bcc") == 0 || strcmp(name, "resent-bcc") == 0)
			continue;
		if (strcmp(name, "from") == 0)
			has_from = 1;
		else if (strcmp(name, "date") == 0)
			has_date = 1;
		else if (strcmp(name, "message-id") == 0)
			has_msgid = 1;
		append_lines(out, fields[i].start, fields[i].len);
	}
	if (!has_from && *info->sender) {
		strbuf_puts(out, "From: ");
		if (info->full_name && *info->full_name) {
			append_display_name(out, info->full_name);
			strbuf_printf(out, " <%s>\r\n", info->sender);
		} else
			strbuf_printf(out, "%s\r\n", info->sender);
	}
	if (!has_date)
		strbuf_printf(out, "Date: %s\r\n", date);
	if (!has_msgid)
		strbuf_printf(out, "Message-Id: <%s.%s@%s>\r\n", stamp,
		    info->queue_id, info->myhostname);
	strbuf_append(out, "\r\n", 2);
	append_lines(out, content + body_offset, len - body_offset);
	free(fields);
}
