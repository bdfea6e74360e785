/* addr_list: the addresses of an RFC 5322 address-list header value
 * (3.4): mailboxes ("Name <a@b>", "a@b (Name)") and groups ("team: a@b,
 * c@d;"), with quoted strings and nested comments. Used for the
 * recipients that `sendmail -t` takes from To:, Cc: and Bcc:. The value
 * comes from the user's message: the scan is a single pass that never
 * looks outside value[0..len). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tlsrelay/maildrop.h"
#include "tlsrelay/util.h"

struct mailbox {
	struct strbuf text;	/* outside comments and <>, blanks dropped */
	struct strbuf angle;	/* inside <> */
	int seen_angle;
};

static void
emit(struct mailbox *mb, void (*add)(void *, const char *), void *arg)
{
	struct strbuf *sb = mb->seen_angle ? &mb->angle : &mb->text;
	char *addr, *colon;

	if (sb->len > 0) {
		strbuf_append(sb, "", 1);
		addr = sb->data;
		/* An obsolete source route, "<@a,@b:user@host>" (4.4). */
		if (mb->seen_angle && addr[0] == '@' &&
		    (colon = strchr(addr, ':')) != NULL)
			addr = colon + 1;
		if (*addr)
			add(arg, addr);
	}
	strbuf_reset(&mb->text);
	strbuf_reset(&mb->angle);
	mb->seen_angle = 0;
}

void
addr_list_each(const char *value, size_t len,
    void (*add)(void *arg, const char *addr), void *arg)
{
	struct mailbox mb;
	int comment = 0, quoted = 0, in_angle = 0;

	strbuf_init(&mb.text);
	strbuf_init(&mb.angle);
	mb.seen_angle = 0;
	for (size_t i = 0; i < len; i++) {
		char c = value[i];
		struct strbuf *sb = in_angle ? &mb.angle : &mb.text;

		if (comment > 0) {
			if (c == '\\' && i + 1 < len)
				i++;
			else if (c == '(')
				comment++;
			else if (c == ')')
				comment--;
			continue;
		}
		if (quoted) {
			if (c == '\\' && i + 1 < len &&
			    value[i + 1] != '\r' && value[i + 1] != '\n') {
				strbuf_append(sb, value + i, 2);
				i++;
				continue;
			}
			/* A folded line: unfolding removes the line break. */
			if (c != '\r' && c != '\n')
				strbuf_append(sb, &c, 1);
			if (c == '"')
				quoted = 0;
			continue;
		}
		switch (c) {
		case '"':
			quoted = 1;
			strbuf_append(sb, &c, 1);
			break;
		case '(':
			comment = 1;
			break;
		case '<':
			/* The display name before it is not the address. */
			in_angle = 1;
			mb.seen_angle = 1;
			strbuf_reset(&mb.angle);
			break;
		case '>':
			in_angle = 0;
			break;
		case ':':
			if (in_angle)
				strbuf_append(sb, &c, 1);
			else
				strbuf_reset(&mb.text);	/* a group's name */
			break;
		case ',':
		case ';':
			if (in_angle)
				strbuf_append(sb, &c, 1);
			else
				emit(&mb, add, arg);
			break;
		case ' ':
		case '\t':
		case '\r':
		case '\n':
			break;
		default:
			strbuf_append(sb, &c, 1);
		}
	}
	emit(&mb, add, arg);
	strbuf_free(&mb.text);
	strbuf_free(&mb.angle);
}

char *
maildrop_qualify(const char *addr, const char *myorigin)
{
	if (*addr == '\0' || strchr(addr, '@') != NULL)
		return xstrdup(addr);
	return xasprintf("%s@%s", addr, myorigin);
}
