/* Fuzz harness: server replies as the smtp client reads them. The input is
 * a stream of lines (LF-separated, a CR before it dropped, as
 * evbuffer_readln gives them); each goes through smtp_reply_feed, and
 * every complete reply is checked for what the client relies on: a code
 * 200-559 equal on every line, a status code that is well-formed and of
 * the reply's class, lines cut at 2048 bytes, at most
 * SMTP_REPLY_MAX_LINES lines. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlsrelay/smtp.h"
#include "fuzz.h"

static void
check_dsn(const struct smtp_reply *r)
{
	const char *p = r->dsn;
	int parts = 0;

	if (*p == '\0')
		return;
	CHECK(*p == '0' + r->code / 100);
	CHECK(*p == '2' || *p == '4' || *p == '5');
	for (p++; *p != '\0'; parts++) {
		size_t digits = 0;

		CHECK(*p++ == '.');
		while (isdigit((unsigned char)*p)) {
			p++;
			digits++;
		}
		CHECK(digits >= 1 && digits <= 3);
	}
	CHECK(parts == 2);
}

static void
check_reply(const struct smtp_reply *r)
{
	const char *param;

	CHECK(r->code >= 200 && r->code <= 559);
	CHECK(r->n_lines >= 1 && r->n_lines <= SMTP_REPLY_MAX_LINES);
	CHECK(r->text != NULL);
	check_dsn(r);
	for (size_t i = 0; i < r->n_lines; i++)
		CHECK(strlen(r->lines[i]) <= 2048);
	/* The status code is the first line's first word; the text is
	 * what the lines say, so it is never longer than they are. */
	if (r->dsn[0] != '\0')
		CHECK(strncmp(r->lines[0], r->dsn, strlen(r->dsn)) == 0);
	{
		size_t total = 0;

		for (size_t i = 0; i < r->n_lines; i++)
			total += strlen(r->lines[i]) + 1;
		CHECK(strlen(r->text) <= total);
	}
	if (smtp_reply_has_ext(r, "SIZE", &param))
		CHECK(param != NULL && *param != ' ');
	(void)smtp_reply_has_ext(r, "PIPELINING", NULL);
	(void)smtp_reply_has_ext(r, "", NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_reply reply;
	const char *p = (const char *)data, *end = p + size;

	memset(&reply, 0, sizeof(reply));
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl ? nl : end) - p);
		char *line = malloc(len + 1);

		if (line == NULL)
			abort();
		memcpy(line, p, len);
		line[len] = '\0';
		if (len > 0 && line[len - 1] == '\r')
			line[len - 1] = '\0';
		switch (smtp_reply_feed(&reply, line)) {
		case SMTP_REPLY_MORE:
			CHECK(reply.n_lines <= SMTP_REPLY_MAX_LINES);
			CHECK(reply.text == NULL);
			break;
		case SMTP_REPLY_DONE:
			check_reply(&reply);
			smtp_reply_clear(&reply);
			break;
		case SMTP_REPLY_BAD:
			smtp_reply_clear(&reply);
			break;
		}
		free(line);
		p = nl ? nl + 1 : end;
	}
	smtp_reply_clear(&reply);
	return 0;
}
