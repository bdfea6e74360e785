/* smtpd_header: a byte-at-a-time scan of the message's header section for
 * its first Message-ID field. The header ends at the first empty line, or
 * at a line that is neither a field ("name:") nor the continuation of one
 * (RFC 5322 2.2, 3.6); everything after it is body and is not looked at.
 * Only the state and at most SMTPD_MESSAGE_ID_MAX bytes of the value are
 * kept, whatever the client sends. */
#include "config.h"

#include <ctype.h>
#include <string.h>

#include "smtpd_header.h"

enum scan_state {
	HS_LINE_START,		/* at the start of a line */
	HS_LINE_START_CR,	/* a CR at the start of a line */
	HS_NAME,		/* in a field name, before the colon */
	HS_VALUE,		/* in a field value, to the end of the line */
	HS_BODY,		/* past the header: nothing more to do */
};

static const char message_id[] = "message-id";

void
smtpd_header_init(struct smtpd_header_scan *scan)
{
	memset(scan, 0, sizeof(*scan));
	scan->state = HS_LINE_START;
}

static void
value_add(struct smtpd_header_scan *scan, char c)
{
	if (!scan->capturing || scan->value_len >= SMTPD_MESSAGE_ID_MAX)
		return;
	if (scan->value_len == 0 && (c == ' ' || c == '\t'))
		return;		/* leading blanks take no room */
	scan->value[scan->value_len++] = c;
}

/* A new field starts: the Message-ID field before it, if any, is over. */
static void
field_start(struct smtpd_header_scan *scan, char c)
{
	if (scan->capturing) {
		scan->capturing = 0;
		scan->found = 1;
	}
	scan->name_len = 0;
	scan->state = HS_NAME;
	scan->name[scan->name_len++] = (char)tolower((unsigned char)c);
}

/* The colon after a field name. Blanks before it are obsolete syntax
 * (RFC 5322 4.5) and ignored. */
static void
name_end(struct smtpd_header_scan *scan)
{
	size_t n = scan->name_len;

	if (n > sizeof(scan->name) - 1)
		n = 0;		/* longer than any name we look for */
	while (n > 0 && (scan->name[n - 1] == ' ' || scan->name[n - 1] == '\t'))
		n--;
	if (!scan->found && n == sizeof(message_id) - 1 &&
	    memcmp(scan->name, message_id, n) == 0)
		scan->capturing = 1;
	scan->state = HS_VALUE;
}

static void
scan_byte(struct smtpd_header_scan *scan, char c)
{
	switch (scan->state) {
	case HS_LINE_START:
		if (c == '\r')
			scan->state = HS_LINE_START_CR;
		else if (c == '\n')
			scan->state = HS_BODY;
		else if (c == ' ' || c == '\t') {
			/* A folded line: the field goes on. */
			value_add(scan, c);
			scan->state = HS_VALUE;
		} else if (c == ':')
			scan->state = HS_BODY;	/* an empty field name */
		else
			field_start(scan, c);
		break;
	case HS_LINE_START_CR:
		/* CR LF is the empty line; a lone CR starts no field. Either
		 * way the header is over. */
		scan->state = HS_BODY;
		break;
	case HS_NAME:
		if (c == ':')
			name_end(scan);
		else if (c == ' ' || c == '\t' ||
		    ((unsigned char)c > 0x20 && (unsigned char)c < 0x7f)) {
			if (scan->name_len < sizeof(scan->name) - 1)
				scan->name[scan->name_len] =
				    (char)tolower((unsigned char)c);
			scan->name_len++;
		} else
			scan->state = HS_BODY;	/* a line without a colon */
		break;
	case HS_VALUE:
		if (c == '\n')
			scan->state = HS_LINE_START;
		else if (c != '\r')
			value_add(scan, c);
		break;
	case HS_BODY:
		break;
	}
	if (scan->state == HS_BODY && scan->capturing) {
		scan->capturing = 0;
		scan->found = 1;
	}
}

void
smtpd_header_feed(struct smtpd_header_scan *scan, const char *data,
    size_t len)
{
	for (size_t i = 0; i < len && scan->state != HS_BODY; i++)
		scan_byte(scan, data[i]);
}

const char *
smtpd_header_message_id(struct smtpd_header_scan *scan)
{
	size_t start = 0, end = scan->value_len;

	if (!scan->capturing && !scan->found)
		return "";
	while (start < end && (scan->value[start] == ' ' ||
	    scan->value[start] == '\t'))
		start++;
	while (end > start && (scan->value[end - 1] == ' ' ||
	    scan->value[end - 1] == '\t'))
		end--;
	for (size_t i = start; i < end; i++) {
		unsigned char c = (unsigned char)scan->value[i];

		if (c == '\t')
			scan->value[i] = ' ';
		else if (c < 0x20 || c > 0x7e)
			scan->value[i] = '?';
	}
	memmove(scan->value, scan->value + start, end - start);
	scan->value_len = end - start;
	scan->value[scan->value_len] = '\0';
	return scan->value;
}
