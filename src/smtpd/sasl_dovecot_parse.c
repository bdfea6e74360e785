/* sasl_dovecot_parse: the lines Dovecot's auth server sends a client of
 * its authentication protocol 1.x, as Postfix's xsasl_dovecot_server
 * reads them:
 *
 *	VERSION	1	2
 *	MECH	PLAIN	plaintext
 *	SPID	1234		CUID 5		COOKIE 0123...	(ignored)
 *	DONE
 *	CONT	<id>	<base64>
 *	OK	<id>	user=<name>	...
 *	FAIL	<id>	[reason=<text>]	[temp]	[user=<name>]	...
 *
 * Fields are separated by tabs; Dovecot escapes a tab, CR, LF and \001
 * inside a value as \001t, \001r, \001n, \0011. Everything here comes
 * from another process and is checked before use. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tlsrelay/sasl.h"
#include "tlsrelay/sasl_server.h"

#define MAX_FIELDS	64

/* Undoes Dovecot's tab escapes in place. -1 on a bad escape. */
static int
unescape(char *s)
{
	char *out = s;

	for (; *s != '\0'; s++) {
		if (*s != '\001') {
			*out++ = *s;
			continue;
		}
		switch (*++s) {
		case '1':
			*out++ = '\001';
			break;
		case 't':
			*out++ = '\t';
			break;
		case 'r':
			*out++ = '\r';
			break;
		case 'n':
			*out++ = '\n';
			break;
		default:
			return -1;
		}
	}
	*out = '\0';
	return 0;
}

static int
parse_uint(const char *s, unsigned *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > 0xffffffffUL)
		return -1;
	*out = (unsigned)v;
	return 0;
}

static int
valid_user(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > SASL_NAME_MAX)
		return 0;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < ' ' || *s == 0x7f)
			return 0;
	return 1;
}

static int
valid_base64_chars(const char *s)
{
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789+/=") == strlen(s);
}

static int
parse_mech(char **f, size_t n, struct dovecot_reply *r)
{
	static const struct {
		const char *name;
		unsigned flag;
	} flags[] = {
		{ "anonymous", SASL_MECH_F_ANONYMOUS },
		{ "plaintext", SASL_MECH_F_PLAINTEXT },
		{ "dictionary", SASL_MECH_F_DICTIONARY },
		{ "active", SASL_MECH_F_ACTIVE },
		{ "forward-secrecy", SASL_MECH_F_FORWARD_SECRECY },
		{ "mutual-auth", SASL_MECH_F_MUTUAL_AUTH },
	};
	size_t len = strlen(f[1]);

	if (len == 0 || len > SASL_MECH_NAME_MAX)
		return -1;
	for (size_t i = 0; i < len; i++) {
		char c = f[1][i];

		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_'))
			return -1;
		r->mech[i] = c;
	}
	r->mech[len] = '\0';
	/* Unknown flags are a newer server's: ignored. */
	for (size_t i = 2; i < n; i++) {
		if (strcmp(f[i], "private") == 0)
			r->private_mech = 1;
		for (size_t k = 0; k < sizeof(flags) / sizeof(flags[0]); k++)
			if (strcmp(f[i], flags[k].name) == 0)
				r->flags |= flags[k].flag;
	}
	return 0;
}

/* The name=value and flag fields after the id of OK and FAIL. */
static int
parse_result_fields(char **f, size_t n, struct dovecot_reply *r)
{
	for (size_t i = 2; i < n; i++) {
		if (strncmp(f[i], "user=", 5) == 0) {
			if (unescape(f[i] + 5) < 0)
				return -1;
			r->user = valid_user(f[i] + 5) ? f[i] + 5 : NULL;
		} else if (strncmp(f[i], "reason=", 7) == 0) {
			if (unescape(f[i] + 7) < 0)
				return -1;
			r->reason = f[i] + 7;
		} else if (strcmp(f[i], "temp") == 0)
			r->temp = 1;
	}
	return 0;
}

enum dovecot_line
dovecot_parse_line(char *line, struct dovecot_reply *r)
{
	char *f[MAX_FIELDS];
	size_t n = 0;

	memset(r, 0, sizeof(*r));
	if (strlen(line) > DOVECOT_LINE_MAX)
		return DOVECOT_BAD;
	f[n++] = line;
	for (char *p = line; *p != '\0'; p++) {
		if (*p != '\t')
			continue;
		*p = '\0';
		if (n == MAX_FIELDS)
			break;		/* the rest is of no interest */
		f[n++] = p + 1;
	}
	if (strcmp(f[0], "VERSION") == 0) {
		if (n < 3 || parse_uint(f[1], &r->major) < 0 ||
		    parse_uint(f[2], &r->minor) < 0)
			return DOVECOT_BAD;
		return DOVECOT_VERSION;
	}
	if (strcmp(f[0], "MECH") == 0)
		return n >= 2 && parse_mech(f, n, r) == 0 ? DOVECOT_MECH :
		    DOVECOT_BAD;
	if (strcmp(f[0], "DONE") == 0)
		return DOVECOT_DONE;
	if (strcmp(f[0], "CONT") == 0) {
		if (n < 2 || parse_uint(f[1], &r->id) < 0)
			return DOVECOT_BAD;
		r->data = n >= 3 ? f[2] : "";
		return valid_base64_chars(r->data) ? DOVECOT_CONT :
		    DOVECOT_BAD;
	}
	if (strcmp(f[0], "OK") == 0) {
		if (n < 2 || parse_uint(f[1], &r->id) < 0 ||
		    parse_result_fields(f, n, r) < 0 || r->user == NULL)
			return DOVECOT_BAD;
		return DOVECOT_OK;
	}
	if (strcmp(f[0], "FAIL") == 0) {
		if (n < 2 || parse_uint(f[1], &r->id) < 0 ||
		    parse_result_fields(f, n, r) < 0)
			return DOVECOT_BAD;
		return DOVECOT_FAIL;
	}
	return DOVECOT_OTHER;
}
