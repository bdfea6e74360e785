/* Fuzz harness: what Dovecot's auth server sends (sasl_dovecot_parse.c).
 * Each LF-separated line is parsed as the backend parses it. Checked:
 * what the parser accepts respects its promises (a mechanism name of
 * A-Z 0-9 - _ within SASL_MECH_NAME_MAX, a user name of 1 to
 * SASL_NAME_MAX bytes without control characters, CONT data of base64
 * characters only), and the strings lie within the line. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlsrelay/sasl.h"
#include "fuzz.h"

static int
within(const char *p, const char *line, size_t len)
{
	return p >= line && p + strlen(p) <= line + len;
}

static void
check_line(char *line, size_t len)
{
	struct dovecot_reply r;

	switch (dovecot_parse_line(line, &r)) {
	case DOVECOT_MECH:
		CHECK(strlen(r.mech) >= 1 &&
		    strlen(r.mech) <= SASL_MECH_NAME_MAX);
		CHECK(strspn(r.mech, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")
		    == strlen(r.mech));
		break;
	case DOVECOT_CONT:
		/* "CONT id" without data: an empty challenge, not the line's. */
		CHECK(*r.data == '\0' || within(r.data, line, len));
		CHECK(strspn(r.data, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklm"
		    "nopqrstuvwxyz0123456789+/=") == strlen(r.data));
		break;
	case DOVECOT_OK:
		CHECK(r.user != NULL);
		/* FALLTHROUGH */
	case DOVECOT_FAIL:
		if (r.user != NULL) {
			CHECK(within(r.user, line, len));
			CHECK(strlen(r.user) >= 1 &&
			    strlen(r.user) <= SASL_NAME_MAX);
			for (const char *p = r.user; *p; p++)
				CHECK((unsigned char)*p >= ' ' && *p != 0x7f);
		}
		if (r.reason != NULL)
			CHECK(within(r.reason, line, len));
		break;
	default:
		break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	char *line, *next;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	/* The backend never passes a line with a NUL: it ends the line. */
	for (line = text; line != NULL; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		check_line(line, strlen(line));
	}
	free(text);
	return 0;
}
