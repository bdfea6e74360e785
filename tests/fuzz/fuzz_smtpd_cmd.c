/* Fuzz harness: command lines, and MAIL FROM / RCPT TO arguments. The
 * input is a stream of lines as a client would pipeline them; each line
 * goes through smtpd_parse_command and then, whatever its verb, through
 * both address parsers. Beyond crashes, it checks what the callers rely
 * on: exactly one of reply and address, well-formed replies that fit the
 * buffer, addresses without control bytes that parse again to themselves. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tlsrelay/smtpd_parse.h"
#include "fuzz.h"

static void
check_reply(const char *reply, size_t replylen)
{
	size_t i, len = strlen(reply);

	CHECK(len < replylen || len < 40);	/* fallbacks are literals */
	CHECK(len >= 4 && reply[3] == ' ');
	CHECK(strncmp(reply, "501 ", 4) == 0 || strncmp(reply, "555 ", 4) == 0);
	for (i = 0; i < len; i++)
		CHECK((unsigned char)reply[i] >= 0x20
		    && (unsigned char)reply[i] < 0x7f);
}

/* The address as the session will use it. */
static void
check_addr(const char *addr, int utf8_ok)
{
	size_t i, len = strlen(addr);
	int in_quote = 0, ats = 0;
	char *domain;

	CHECK(len <= 256);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)addr[i];

		CHECK(c >= 0x20 && c != 0x7f);
		CHECK(c < 0x80 || utf8_ok);
		if (in_quote) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_quote = 0;
		} else if (c == '"') {
			in_quote = 1;
		} else {
			CHECK(c != ' ' && c != '\t' && c != '<' && c != '>');
			ats += c == '@';
		}
	}
	CHECK(!in_quote);
	CHECK(ats <= 1);

	domain = addr_domain(addr);
	CHECK(strlen(domain) <= len);
	CHECK(strcasecmp(domain, addr + len - strlen(domain)) == 0);
	for (i = 0; domain[i]; i++)
		CHECK(domain[i] < 'A' || domain[i] > 'Z');
	free(domain);
}

/* Parsing "FROM:<addr>" again must give addr back. */
static void
check_roundtrip(const char *addr, int mail, int utf8)
{
	char arg[600], reply[SMTPD_REPLY_MAX], *again = NULL;
	struct smtp_mail_params params;
	const char *err;

	snprintf(arg, sizeof(arg), "%s<%s>%s", mail ? "FROM:" : "TO:", addr,
	    utf8 ? " SMTPUTF8" : "");
	err = mail ? smtpd_parse_mail(arg, &again, &params, reply,
	    sizeof(reply)) : smtpd_parse_rcpt(arg, &again, reply, sizeof(reply));
	if (err != NULL)
		fprintf(stderr, "round trip of <%s>: %s\n", addr, err);
	CHECK(err == NULL);
	CHECK(strcmp(again, addr) == 0);
	free(again);
}

static void
fuzz_line(char *line, size_t small_len)
{
	struct smtp_command cmd;
	struct smtp_mail_params params;
	char reply[SMTPD_REPLY_MAX], *small, *addr;
	const char *err, *name;
	size_t len = strlen(line);

	smtpd_parse_command(line, &cmd);
	CHECK(cmd.arg >= line && cmd.arg <= line + len);
	CHECK(cmd.arg[0] != ' ' && cmd.arg[0] != '\t');
	if (cmd.arg[0] != '\0') {
		char last = cmd.arg[strlen(cmd.arg) - 1];

		CHECK(last != ' ' && last != '\t' && last != '\r');
	}
	name = smtpd_verb_name(cmd.verb);
	CHECK(name != NULL && name[0] >= 'a' && name[0] <= 'z');
	CHECK((cmd.verb == SMTP_VERB_UNKNOWN) == (strcmp(name, "unknown") == 0));

	addr = (char *)"unset";
	err = smtpd_parse_mail(cmd.arg, &addr, &params, reply, sizeof(reply));
	if (err == NULL) {
		CHECK(addr != NULL);
		CHECK(params.has_size || params.size == 0);
		/* AUTH=: decoded to printable ASCII, bounded. */
		CHECK(params.has_auth || params.auth[0] == '\0');
		CHECK(strlen(params.auth) <= SMTP_AUTH_PARAM_MAX);
		for (const char *p = params.auth; *p; p++)
			CHECK(*p >= ' ' && *p <= '~');
		check_addr(addr, params.smtputf8);
		check_roundtrip(addr, 1, params.smtputf8);
		free(addr);
	} else {
		CHECK(addr == NULL);
		check_reply(err, sizeof(reply));
	}

	addr = (char *)"unset";
	err = smtpd_parse_rcpt(cmd.arg, &addr, reply, sizeof(reply));
	if (err == NULL) {
		CHECK(addr != NULL && addr[0] != '\0');
		check_addr(addr, 1);
		check_roundtrip(addr, 0, 0);
		free(addr);
	} else {
		CHECK(addr == NULL);
		check_reply(err, sizeof(reply));
	}

	/* A small reply buffer, exactly sized so overflows are seen. */
	small = malloc(small_len ? small_len : 1);
	if (small == NULL)
		abort();
	err = smtpd_parse_mail(cmd.arg, &addr, &params, small, small_len);
	if (err == NULL)
		free(addr);
	else if (err == small)
		CHECK(strlen(small) < small_len);
	err = smtpd_parse_rcpt(cmd.arg, &addr, small, small_len);
	if (err == NULL)
		free(addr);
	else if (err == small)
		CHECK(strlen(small) < small_len);
	free(small);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t pos = 0, small_len = size ? data[0] % 64 : 0;

	/* Lines end in LF; a CR before it goes, as in the session. Lines are
	 * cut at SMTPD_LINE_MAX and at a NUL, which C strings cannot hold. */
	while (pos < size) {
		const uint8_t *nl = memchr(data + pos, '\n', size - pos);
		size_t end = nl ? (size_t)(nl - data) : size, len = end - pos;
		char *line;

		if (len > 0 && data[pos + len - 1] == '\r')
			len--;
		if (len > SMTPD_LINE_MAX)
			len = SMTPD_LINE_MAX;
		line = malloc(len + 1);
		if (line == NULL)
			abort();
		memcpy(line, data + pos, len);
		line[len] = '\0';
		fuzz_line(line, small_len);
		free(line);
		pos = end + 1;
	}
	return 0;
}
