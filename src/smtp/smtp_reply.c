/* smtp_reply: a server's reply, one line at a time. The bytes come from the
 * network, so every line is checked: three digits, then ' ', '-' or the
 * end of the line, and the same code on every line of a multi-line reply.
 * Over-long lines are cut rather than refused, as servers do send them. */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tlsrelay/smtp.h"
#include "tlsrelay/util.h"

/* RFC 5321 4.5.3.1.5 allows 512 bytes; real servers send more. */
#define REPLY_LINE_MAX	2048

/* Length of an RFC 3463 status code "c.sss.ddd" at text: class 2, 4 or
 * 5, then one to three digits twice, then a space or the end. 0 when text
 * does not start with one. */
static size_t
dsn_length(const char *text)
{
	const char *p = text;

	if (*p != '2' && *p != '4' && *p != '5')
		return 0;
	p++;
	for (int part = 0; part < 2; part++) {
		size_t digits = 0;

		if (*p++ != '.')
			return 0;
		while (isdigit((unsigned char)*p) && digits < 4) {
			p++;
			digits++;
		}
		if (digits == 0 || digits > 3)
			return 0;
	}
	if (*p != '\0' && *p != ' ')
		return 0;
	return (size_t)(p - text);
}

/* The code of one line, or -1 when the line is not a reply line. *last
 * is 1 for "250 " or "250", 0 for "250-". */
static int
line_code(const char *line, int *last)
{
	if (line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '5' ||
	    !isdigit((unsigned char)line[2]))
		return -1;
	if (line[3] == '\0' || line[3] == ' ')
		*last = 1;
	else if (line[3] == '-')
		*last = 0;
	else
		return -1;
	return (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
}

/* The text of a line without the repeated status code, which servers put
 * on every line of a multi-line reply. */
static const char *
strip_dsn(const struct smtp_reply *reply, const char *text)
{
	size_t n = dsn_length(text);

	if (n == 0 || reply->dsn[0] == '\0' || n != strlen(reply->dsn) ||
	    strncmp(text, reply->dsn, n) != 0)
		return text;
	text += n;
	while (*text == ' ')
		text++;
	return text;
}

static void
join_text(struct smtp_reply *reply)
{
	struct strbuf sb;

	strbuf_init(&sb);
	strbuf_puts(&sb, "");
	for (size_t i = 0; i < reply->n_lines; i++) {
		const char *text = strip_dsn(reply, reply->lines[i]);

		if (*text == '\0')
			continue;
		if (sb.len > 0)
			strbuf_puts(&sb, " ");
		strbuf_puts(&sb, text);
	}
	reply->text = strbuf_steal(&sb);
	strbuf_free(&sb);
}

enum smtp_reply_status
smtp_reply_feed(struct smtp_reply *reply, const char *line)
{
	const char *text;
	size_t len;
	int code, last;

	/* Fed after it was complete. */
	if (reply->text != NULL)
		return SMTP_REPLY_BAD;
	if ((code = line_code(line, &last)) < 0)
		return SMTP_REPLY_BAD;
	if (reply->n_lines > 0 && code != reply->code)
		return SMTP_REPLY_BAD;
	if (reply->n_lines >= SMTP_REPLY_MAX_LINES)
		return SMTP_REPLY_BAD;

	text = line[3] != '\0' ? line + 4 : line + 3;
	if (reply->n_lines == 0) {
		size_t n = dsn_length(text);

		reply->code = code;
		/* RFC 3463: the class repeats the reply's first digit; a code
		 * that contradicts the reply is text, not a status. */
		if (n > 0 && n < sizeof(reply->dsn) && text[0] == line[0]) {
			memcpy(reply->dsn, text, n);
			reply->dsn[n] = '\0';
		}
	}
	len = strlen(text);
	if (len > REPLY_LINE_MAX)
		len = REPLY_LINE_MAX;
	reply->lines = xrealloc(reply->lines,
	    (reply->n_lines + 1) * sizeof(*reply->lines));
	reply->lines[reply->n_lines++] = xstrndup(text, len);
	if (!last)
		return SMTP_REPLY_MORE;
	join_text(reply);
	return SMTP_REPLY_DONE;
}

void
smtp_reply_clear(struct smtp_reply *reply)
{
	for (size_t i = 0; i < reply->n_lines; i++)
		free(reply->lines[i]);
	free(reply->lines);
	free(reply->text);
	memset(reply, 0, sizeof(*reply));
}

int
smtp_reply_has_ext(const struct smtp_reply *ehlo, const char *keyword,
    const char **param)
{
	size_t klen = strlen(keyword);

	/* The first line is the server's name and greeting, not a keyword. */
	for (size_t i = 1; i < ehlo->n_lines; i++) {
		const char *line = ehlo->lines[i];

		if (strncasecmp(line, keyword, klen) != 0 ||
		    (line[klen] != '\0' && line[klen] != ' ' &&
		    line[klen] != '\t'))
			continue;
		if (param != NULL) {
			line += klen;
			while (*line == ' ' || *line == '\t')
				line++;
			*param = line;
		}
		return 1;
	}
	return 0;
}
