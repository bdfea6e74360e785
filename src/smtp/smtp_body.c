/* smtp_body: the message content from the queue file to the server, a
 * chunk at a time (pread: the whole message is never in memory), with
 * every line that starts with "." given a second one (RFC 5321 4.5.2).
 * A line starts after any LF, not only after CR LF: a server that takes a
 * bare LF for a line end must not find an end-of-data line in the
 * content either. A line longer than smtp_line_length_limit (998 bytes,
 * RFC 5321's limit less CR LF) is broken with CR LF SPACE, as Postfix
 * does: the rest becomes a continuation line, which keeps a header one
 * (folded) header. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "smtp_int.h"

void
smtp_body_init(struct smtp_body *body, int fd, off_t offset, off_t length,
    size_t line_limit)
{
	memset(body, 0, sizeof(*body));
	body->fd = fd;
	body->pos = offset;
	body->end = offset + length;
	body->line_limit = line_limit;
	body->at_line_start = 1;
}

/* The bytes of a run of n that are text, not its line end: an LF ends
 * it, with the CR before it; a CR last in the run may be the first half
 * of a CR LF that the next read brings. */
static size_t
text_bytes(const char *p, size_t n, int ends_line)
{
	if (ends_line)
		n--;
	if (n > 0 && p[n - 1] == '\r')
		n--;
	return n;
}

static void
stuff(struct smtp_body *body, struct evbuffer *out, const char *p, size_t n)
{
	const char *end = p + n;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t run = nl ? (size_t)(nl + 1 - p) : (size_t)(end - p);
		size_t room;

		if (body->at_line_start) {
			if (*p == '.')
				evbuffer_add(out, ".", 1);
			body->at_line_start = 0;
			body->line_len = 0;
		}
		room = body->line_len < body->line_limit ?
		    body->line_limit - body->line_len : 0;
		/* A continuation line takes at least one byte more. */
		if (room == 0 && body->line_len <= 1)
			room = 1;
		if (body->line_limit == 0 ||
		    text_bytes(p, run, nl != NULL) <= room) {
			evbuffer_add(out, p, run);
			body->line_len += run;
			body->at_line_start = nl != NULL;
			p += run;
			continue;
		}
		/* Too long: what fits, then a continuation line. */
		evbuffer_add(out, p, room);
		evbuffer_add(out, "\r\n ", 3);
		body->line_len = 1;
		p += room;
	}
	if (n >= 2) {
		body->last[0] = end[-2];
		body->last[1] = end[-1];
	} else if (n == 1) {
		body->last[0] = body->last[1];
		body->last[1] = end[-1];
	}
}

int
smtp_body_fill(struct smtp_body *body, struct evbuffer *out, size_t max,
    char *buf, size_t bufsize)
{
	size_t added = 0;

	if (body->finished)
		return 1;
	while (body->pos < body->end && added < max) {
		size_t want = bufsize;
		ssize_t n;

		if ((off_t)want > body->end - body->pos)
			want = (size_t)(body->end - body->pos);
		n = pread(body->fd, buf, want, body->pos);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			/* The file is shorter than promised. */
			errno = EIO;
			return -1;
		}
		stuff(body, out, buf, (size_t)n);
		body->pos += n;
		added += (size_t)n;
	}
	if (body->pos < body->end)
		return 0;
	if (body->last[0] != '\r' || body->last[1] != '\n')
		evbuffer_add(out, "\r\n", 2);
	evbuffer_add(out, ".\r\n", 3);
	body->finished = 1;
	return 1;
}
