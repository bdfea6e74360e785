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

#include "tlsrelay/log.h"
#include "smtp_int.h"

/* The output is filled a contiguous part of its buffer at a time, each
 * part at least BODY_PART bytes: OpenSSL's bufferevent makes one
 * SSL_write of each part, so the parts decide the TLS records and the
 * write(2)s, and evbuffer_add's own parts are 4 KiB at most. 16 KiB is
 * the largest record (RFC 8446 5.1). */
#define BODY_PART	16384

/* The part of the output buffer being filled. */
struct body_out {
	struct evbuffer *buf;
	struct evbuffer_iovec v;	/* reserved; v.iov_len: filled */
	size_t room;			/* reserved bytes not yet filled */
};

static void
out_begin(struct body_out *o, struct evbuffer *buf)
{
	o->buf = buf;
	o->v.iov_base = NULL;
	o->v.iov_len = 0;
	o->room = 0;
}

static void
out_commit(struct body_out *o)
{
	if (o->v.iov_len > 0 && evbuffer_commit_space(o->buf, &o->v, 1) < 0)
		msg_fatal("smtp_body: cannot commit buffer space");
	o->v.iov_len = 0;
	o->room = 0;
}

static void
out_put(struct body_out *o, const char *p, size_t n)
{
	while (n > 0) {
		size_t k;

		if (o->room == 0) {
			out_commit(o);
			if (evbuffer_reserve_space(o->buf, BODY_PART, &o->v,
			    1) != 1)
				msg_fatal("smtp_body: out of memory");
			o->room = o->v.iov_len;
			o->v.iov_len = 0;
		}
		k = n < o->room ? n : o->room;
		memcpy((char *)o->v.iov_base + o->v.iov_len, p, k);
		o->v.iov_len += k;
		o->room -= k;
		p += k;
		n -= k;
	}
}

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
stuff(struct smtp_body *body, struct body_out *out, const char *p, size_t n)
{
	const char *end = p + n;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t run = nl ? (size_t)(nl + 1 - p) : (size_t)(end - p);
		size_t room;

		if (body->at_line_start) {
			if (*p == '.')
				out_put(out, ".", 1);
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
			out_put(out, p, run);
			body->line_len += run;
			body->at_line_start = nl != NULL;
			p += run;
			continue;
		}
		/* Too long: what fits, then a continuation line. */
		out_put(out, p, room);
		out_put(out, "\r\n ", 3);
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
	struct body_out o;
	size_t added = 0;

	if (body->finished)
		return 1;
	out_begin(&o, out);
	while (body->pos < body->end && added < max) {
		size_t want = bufsize;
		ssize_t n;

		if ((off_t)want > body->end - body->pos)
			want = (size_t)(body->end - body->pos);
		n = pread(body->fd, buf, want, body->pos);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* n == 0: the file is shorter than promised. */
			int error = n == 0 ? EIO : errno;

			out_commit(&o);
			errno = error;
			return -1;
		}
		stuff(body, &o, buf, (size_t)n);
		body->pos += n;
		added += (size_t)n;
	}
	if (body->pos == body->end) {
		if (body->last[0] != '\r' || body->last[1] != '\n')
			out_put(&o, "\r\n", 2);
		out_put(&o, ".\r\n", 3);
		body->finished = 1;
	}
	out_commit(&o);
	return body->finished;
}
