/* spool_read: parsing and validating a queue file. A queue file is
 * untrusted input (a disk error, a crash of an older version, a hand
 * edit), so every malformation is reported, never assumed away. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tlsrelay/queue.h"
#include "tlsrelay/util.h"
#include "spool_format.h"

/* Reads a file one record (LF-terminated line) at a time through a
 * buffer big enough for the longest record a writer may produce. */
struct record_reader {
	int fd;
	off_t buf_offset;	/* file offset of buf[0] */
	size_t start, end;	/* unread bytes are buf[start..end) */
	int eof;
	char buf[SPOOL_RECORD_MAX];
};

enum next_result { REC_OK, REC_EOF, REC_TRUNCATED, REC_TOO_LONG, REC_IO };

static int
reader_fill(struct record_reader *r)
{
	ssize_t n;

	if (r->start > 0) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->buf_offset += (off_t)r->start;
		r->end -= r->start;
		r->start = 0;
	}
	do {
		n = pread(r->fd, r->buf + r->end, sizeof(r->buf) - r->end,
		    r->buf_offset + (off_t)r->end);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if (n == 0)
		r->eof = 1;
	r->end += (size_t)n;
	return 0;
}

/* The next record without its LF: *line, *len, and its file offset. */
static enum next_result
reader_next(struct record_reader *r, const char **line, size_t *len,
    off_t *offset)
{
	char *nl;

	for (;;) {
		nl = memchr(r->buf + r->start, '\n', r->end - r->start);
		if (nl != NULL)
			break;
		if (r->eof)
			return r->start == r->end ? REC_EOF : REC_TRUNCATED;
		if (r->start == 0 && r->end == sizeof(r->buf))
			return REC_TOO_LONG;
		if (reader_fill(r) < 0)
			return REC_IO;
	}
	*line = r->buf + r->start;
	*len = (size_t)(nl - *line);
	*offset = r->buf_offset + (off_t)r->start;
	r->start += *len + 1;
	return REC_OK;
}

/* The file offset of the next unread byte. */
static off_t
reader_tell(const struct record_reader *r)
{
	return r->buf_offset + (off_t)r->start;
}

/* The z record: exactly SPOOL_SIZE_DIGITS decimal digits. */
static int
parse_size(const char *s, size_t len, unsigned long long *size)
{
	unsigned long long v = 0;

	if (len != SPOOL_SIZE_DIGITS)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9' || v > (~0ULL - 9) / 10)
			return -1;
		v = v * 10 + (unsigned long long)(s[i] - '0');
	}
	*size = v;
	return 0;
}

static int
parse_version(const char *s, size_t len, int *version)
{
	long v = 0;

	if (len == 0 || len > 6)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*version = (int)v;
	return 0;
}

static int
parse_time(const char *s, size_t len, long long *sec, long *usec)
{
	const char *dot = memchr(s, '.', len);
	size_t ilen, flen;
	long long v = 0;
	long u = 0;

	if (dot == NULL)
		return -1;
	ilen = (size_t)(dot - s);
	flen = len - ilen - 1;
	if (ilen == 0 || ilen > 18 || flen != 6)
		return -1;
	for (size_t i = 0; i < ilen; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	for (size_t i = 0; i < flen; i++) {
		if (dot[1 + i] < '0' || dot[1 + i] > '9')
			return -1;
		u = u * 10 + (dot[1 + i] - '0');
	}
	*sec = v;
	*usec = u;
	return 0;
}

static int
valid_queue_id(const char *s, size_t len)
{
	if (len == 0 || len >= QUEUE_ID_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	return 1;
}

/* Stores a single-valued record; a second copy is a malformation. */
static int
set_once(char **field, const char *value, size_t len)
{
	if (*field != NULL)
		return -1;
	*field = xstrndup(value, len);
	return 0;
}

#define FAIL(...) do { \
	char *what_ = xasprintf(__VA_ARGS__); \
	*err = xasprintf("%s: %s", path, what_); \
	free(what_); \
	goto fail; \
} while (0)

int
spool_read(const char *path, struct spool_message *msg, char **err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	int rc;

	if (fd < 0) {
		memset(msg, 0, sizeof(*msg));
		*err = xasprintf("%s: open: %s", path, strerror(errno));
		return -1;
	}
	rc = spool_read_fd(fd, path, msg, err);
	close(fd);
	return rc;
}

int
spool_read_fd(int fd, const char *path, struct spool_message *msg,
    char **err)
{
	struct record_reader *r;
	struct stat st;
	const char *line;
	size_t len, magic_len = strlen(SPOOL_MAGIC), rcpt_cap = 0;
	off_t off;
	int have_id = 0, have_time = 0, have_body = 0, have_end = 0;
	int have_size = 0;
	unsigned long long content_size = 0;

	*err = NULL;
	memset(msg, 0, sizeof(*msg));
	/* Not zeroed: the 16 KiB buffer is filled before it is read. */
	r = xmalloc(sizeof(*r));
	r->fd = fd;
	r->buf_offset = 0;
	r->start = r->end = 0;
	r->eof = 0;
	if (fstat(r->fd, &st) < 0)
		FAIL("fstat: %s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		FAIL("not a regular file");

	/* The first line: magic and version. Its shape never changes, so
	 * every version of the reader can tell which version it holds. */
	switch (reader_next(r, &line, &len, &off)) {
	case REC_OK:
		break;
	case REC_IO:
		FAIL("read: %s", strerror(errno));
	default:
		FAIL("not a tlsrelay queue file (bad magic)");
	}
	if (len < magic_len || memcmp(line, SPOOL_MAGIC, magic_len) != 0 ||
	    parse_version(line + magic_len, len - magic_len,
	    &msg->version) < 0)
		FAIL("not a tlsrelay queue file (bad magic)");
	if (msg->version < 1 || msg->version > SPOOL_FORMAT_VERSION)
		FAIL("unsupported queue file version %d", msg->version);

	while (!have_end) {
		const char *value;
		size_t vlen;
		const char *bad;

		switch (reader_next(r, &line, &len, &off)) {
		case REC_OK:
			break;
		case REC_EOF:
			FAIL("missing end-of-envelope record");
		case REC_TRUNCATED:
			FAIL("truncated record at offset %lld",
			    (long long)reader_tell(r));
		case REC_TOO_LONG:
			FAIL("record too long at offset %lld",
			    (long long)reader_tell(r));
		case REC_IO:
			FAIL("read: %s", strerror(errno));
		}
		if (len == 0)
			FAIL("bad record type 0x0a at offset %lld",
			    (long long)off);
		if ((bad = memchr(line, '\0', len)) != NULL ||
		    (bad = memchr(line, '\r', len)) != NULL)
			FAIL("bad byte 0x%02x in record at offset %lld",
			    (unsigned char)*bad, (long long)off);
		value = line + 1;
		vlen = len - 1;
		switch (line[0]) {
		case SPOOL_REC_ID:
			if (have_id)
				FAIL("duplicate queue id record at offset %lld",
				    (long long)off);
			if (!valid_queue_id(value, vlen))
				FAIL("bad queue id at offset %lld",
				    (long long)off);
			memcpy(msg->id, value, vlen);
			msg->id[vlen] = '\0';
			have_id = 1;
			break;
		case SPOOL_REC_TIME:
			if (have_time)
				FAIL("duplicate arrival time record at offset "
				    "%lld", (long long)off);
			if (parse_time(value, vlen, &msg->arrival_sec,
			    &msg->arrival_usec) < 0)
				FAIL("bad arrival time at offset %lld",
				    (long long)off);
			have_time = 1;
			break;
		case SPOOL_REC_BODY:
			if (have_body)
				FAIL("duplicate body type record at offset "
				    "%lld", (long long)off);
			if (vlen == strlen(SPOOL_BODY_8BIT) &&
			    memcmp(value, SPOOL_BODY_8BIT, vlen) == 0)
				msg->body_8bitmime = 1;
			else if (vlen != strlen(SPOOL_BODY_7BIT) ||
			    memcmp(value, SPOOL_BODY_7BIT, vlen) != 0)
				FAIL("bad body type at offset %lld",
				    (long long)off);
			have_body = 1;
			break;
		case SPOOL_REC_CLIENT_NAME:
		case SPOOL_REC_CLIENT_ADDR:
		case SPOOL_REC_HELO:
		case SPOOL_REC_PROTOCOL:
		case SPOOL_REC_TLS:
		case SPOOL_REC_SENDER: {
			char **field =
			    line[0] == SPOOL_REC_CLIENT_NAME ? &msg->client_name :
			    line[0] == SPOOL_REC_CLIENT_ADDR ? &msg->client_addr :
			    line[0] == SPOOL_REC_HELO ? &msg->helo_name :
			    line[0] == SPOOL_REC_PROTOCOL ? &msg->protocol :
			    line[0] == SPOOL_REC_TLS ? &msg->tls_info :
			    &msg->sender;

			if (set_once(field, value, vlen) < 0)
				FAIL("duplicate record type '%c' at offset %lld",
				    line[0], (long long)off);
			break;
		}
		case SPOOL_REC_RCPT: {
			struct spool_recipient *rcpt;

			if (vlen < 2)
				FAIL("empty recipient record at offset %lld",
				    (long long)off);
			if (value[0] != SPOOL_STATUS_PENDING &&
			    value[0] != SPOOL_STATUS_DELIVERED &&
			    value[0] != SPOOL_STATUS_BOUNCED)
				FAIL("bad recipient status 0x%02x at offset "
				    "%lld", (unsigned char)value[0],
				    (long long)off + 1);
			if (msg->n_recipients == rcpt_cap) {
				rcpt_cap = rcpt_cap ? rcpt_cap * 2 : 8;
				msg->recipients = xrealloc(msg->recipients,
				    rcpt_cap * sizeof(*msg->recipients));
			}
			rcpt = &msg->recipients[msg->n_recipients++];
			rcpt->status = value[0];
			rcpt->status_offset = off + 1;
			rcpt->address = xstrndup(value + 1, vlen - 1);
			break;
		}
		case SPOOL_REC_CONTENT_SIZE:
			if (have_size)
				FAIL("duplicate record type '%c' at offset "
				    "%lld", line[0], (long long)off);
			if (parse_size(value, vlen, &content_size) < 0)
				FAIL("bad content size record at offset %lld",
				    (long long)off);
			have_size = 1;
			break;
		case SPOOL_REC_CONTENT:
			if (vlen != 0)
				FAIL("bad end-of-envelope record at offset "
				    "%lld", (long long)off);
			have_end = 1;
			break;
		default:
			/* Lower case: optional information from a later
			 * writer, safe to skip. Anything else might change
			 * what the message means: refuse. */
			if (line[0] >= 'a' && line[0] <= 'z')
				break;
			FAIL("bad record type 0x%02x at offset %lld",
			    (unsigned char)line[0], (long long)off);
		}
	}

	if (!have_id)
		FAIL("missing queue id record");
	if (!have_time)
		FAIL("missing arrival time record");
	if (msg->sender == NULL)
		FAIL("missing sender record");
	if (msg->n_recipients == 0)
		FAIL("missing recipient record");
	/* Optional in the format; the writer always includes them. */
	if (msg->client_name == NULL)
		msg->client_name = xstrdup("unknown");
	if (msg->client_addr == NULL)
		msg->client_addr = xstrdup("");
	if (msg->helo_name == NULL)
		msg->helo_name = xstrdup("");
	if (msg->protocol == NULL)
		msg->protocol = xstrdup("");
	if (msg->tls_info == NULL)
		msg->tls_info = xstrdup("");
	msg->content_offset = reader_tell(r);
	msg->content_length = st.st_size - msg->content_offset;
	/* Files of writers that record it: the content must be all there,
	 * and nothing else. */
	if (have_size && (unsigned long long)msg->content_length !=
	    content_size)
		FAIL("%s content: %lld bytes where %llu were written",
		    (unsigned long long)msg->content_length < content_size ?
		    "truncated" : "overlong", (long long)msg->content_length,
		    content_size);
	free(r);
	return 0;

fail:
	free(r);
	spool_message_free(msg);
	return -1;
}

void
spool_message_free(struct spool_message *msg)
{
	if (msg == NULL)
		return;
	for (size_t i = 0; i < msg->n_recipients; i++)
		free(msg->recipients[i].address);
	free(msg->recipients);
	free(msg->sender);
	free(msg->client_name);
	free(msg->client_addr);
	free(msg->helo_name);
	free(msg->protocol);
	free(msg->tls_info);
	memset(msg, 0, sizeof(*msg));
}
