/* smtpd_addr: the arguments of MAIL FROM and RCPT TO (RFC 5321 4.1.2),
 * parsed as leniently as Postfix with strict_rfc821_envelopes = no. */
#include "config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tlsrelay/smtpd_parse.h"
#include "tlsrelay/util.h"

/* RFC 5321 4.5.3.1.3: a path is at most 256 octets. */
#define ADDR_MAX 256

#define PARAM_SPACE " \t"

enum path_status {
	PATH_OK,
	PATH_SYNTAX,		/* no "FROM:"/"TO:", or nothing after it */
	PATH_BAD,		/* the address itself is malformed */
};

/* Reply texts; those ending in ": " get the input quoted after them. */
#define REPLY_MAIL_SYNTAX	"501 5.5.4 Syntax: MAIL FROM:<address>"
#define REPLY_RCPT_SYNTAX	"501 5.5.4 Syntax: RCPT TO:<address>"
#define REPLY_BAD_SENDER	"501 5.1.7 Bad sender address syntax"
#define REPLY_BAD_RECIPIENT	"501 5.1.3 Bad recipient address syntax"
#define REPLY_BAD_SIZE		"501 5.5.4 Bad message size syntax"
#define REPLY_BAD_BODY		"501 5.5.4 Bad BODY keyword: "
#define REPLY_UNSUPPORTED	"555 5.5.4 Unsupported option: "
#define REPLY_BAD_AUTH		"501 5.5.4 Bad AUTH parameter syntax"

static int
is_space(int c)
{
	return c == ' ' || c == '\t';
}

static int
is_control(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* Writes prefix followed by the quoted input text into buf. Control and
 * 8-bit bytes become '?' (as Postfix's printable()): client text can never
 * break the reply line, and replies stay ASCII. Without room for that,
 * returns the fallback text. */
static const char *
quote_reply(char *buf, size_t buflen, const char *prefix,
    const char *fallback, const char *text, size_t text_len)
{
	size_t plen = strlen(prefix), i, n;

	if (buf == NULL || buflen <= plen)
		return fallback;
	memcpy(buf, prefix, plen);
	n = text_len < buflen - plen - 1 ? text_len : buflen - plen - 1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)text[i];

		buf[plen + i] = is_control(c) || c >= 0x80 ? '?' : (char)c;
	}
	buf[plen + n] = '\0';
	return buf;
}

/* Checks a source route "@a,@b" (without its final ':'). */
static int
valid_route(const char *route, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t start;

		if (route[i] != '@')
			return 0;
		start = ++i;
		while (i < len && route[i] != ',') {
			unsigned char c = (unsigned char)route[i];

			if (is_control(c) || c >= 0x80 || c == '@'
			    || c == '"' || is_space(c))
				return 0;
			i++;
		}
		if (i == start)
			return 0;		/* "@" with no domain */
		if (i < len)
			i++;			/* the ',' */
		if (i == len && route[len - 1] == ',')
			return 0;
	}
	return 1;
}

/* Checks one mailbox (route already removed): quoted strings may hold
 * anything printable, outside them no white space, brackets or other
 * specials, exactly one @ at most, and a non-empty domain after it.
 * *has_8bit is set when a byte >= 0x80 occurs. */
static int
valid_mailbox(const char *box, size_t len, int *has_8bit)
{
	int in_quote = 0, in_literal = 0, ats = 0;
	size_t i, after_at = 0;

	*has_8bit = 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)box[i];

		if (is_control(c))
			return 0;
		if (c >= 0x80)
			*has_8bit = 1;
		if (in_quote) {
			if (c == '\\') {
				if (++i == len || is_control((unsigned char)box[i]))
					return 0;
				if ((unsigned char)box[i] >= 0x80)
					*has_8bit = 1;
			} else if (c == '"') {
				in_quote = 0;
			}
			continue;
		}
		if (in_literal) {
			if (c == ']')
				in_literal = 0;
			else if (c == '[' || c == '\\' || c == '"' || c == '@'
			    || is_space(c) || c == '<' || c == '>')
				return 0;
			continue;
		}
		switch (c) {
		case '"':
			if (ats)
				return 0;	/* quotes only in the local part */
			in_quote = 1;
			break;
		case '[':
			if (!ats)
				return 0;	/* literals only in the domain */
			in_literal = 1;
			break;
		case '@':
			if (++ats > 1)
				return 0;
			after_at = i + 1;
			break;
		case ' ': case '\t': case '<': case '>': case '(': case ')':
		case ',': case ';': case ':': case '\\': case ']':
			return 0;
		default:
			break;
		}
	}
	if (in_quote || in_literal)
		return 0;
	if (ats && (after_at == len || after_at == 1))
		return 0;		/* "user@" or "@domain" */
	return 1;
}

/* Scans an address for its end, skipping quoted strings: the '>' that
 * closes a path opened just before p (bracketed), or else the first white
 * space. Returns NULL when a bracketed path has no '>'. */
static const char *
path_end(const char *p, int bracketed)
{
	int in_quote = 0;

	for (; *p; p++) {
		if (in_quote) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '"')
				in_quote = 0;
		} else if (*p == '"') {
			in_quote = 1;
		} else if (bracketed ? *p == '>' : is_space((unsigned char)*p)) {
			return p;
		}
	}
	return bracketed ? NULL : p;
}

/* Parses "KEYWORD:<path> params". On PATH_OK *addr is malloc'd ("" for
 * "<>"), *params points at the rest and *has_8bit tells whether the
 * address has 8-bit bytes. */
static enum path_status
parse_path(const char *arg, const char *keyword, char **addr,
    const char **params, int *has_8bit)
{
	size_t klen = strlen(keyword), len;
	const char *p, *start, *end, *colon;

	*addr = NULL;
	*has_8bit = 0;
	if (strncasecmp(arg, keyword, klen) != 0)
		return PATH_SYNTAX;
	p = arg + klen;
	p += strspn(p, PARAM_SPACE);
	if (*p == '\0')
		return PATH_SYNTAX;

	if (*p == '<') {
		start = p + 1;
		end = path_end(start, 1);
		if (end == NULL)
			return PATH_BAD;
		*params = end + 1;
		if (**params != '\0' && !is_space((unsigned char)**params))
			return PATH_BAD;	/* "<a@b>junk" */
	} else {
		start = p;
		end = path_end(start, 0);
		*params = end;
	}
	len = (size_t)(end - start);

	/* Source route "@a,@b:user@dom": RFC 5321 says to ignore it. */
	if (len > 0 && *start == '@') {
		colon = memchr(start, ':', len);
		if (colon == NULL || !valid_route(start, (size_t)(colon - start)))
			return PATH_BAD;
		len -= (size_t)(colon + 1 - start);
		start = colon + 1;
		if (len == 0)
			return PATH_BAD;	/* a route to nobody */
	}
	if (len > ADDR_MAX || !valid_mailbox(start, len, has_8bit))
		return PATH_BAD;
	/* "user@example.com.": the same domain, written as Postfix's
	 * trivial-rewrite writes it, without the dot. Relayed as sent, it
	 * draws the next hop's 553 and a bounce to whoever the sender
	 * claims to be. */
	if (len > 2 && start[len - 1] == '.' && start[len - 2] != '.' &&
	    start[len - 2] != '@' && memchr(start, '@', len) != NULL)
		len--;
	*addr = xstrndup(start, len);
	return PATH_OK;
}

/* Next white-space separated parameter: returns its length, 0 at the end. */
static size_t
next_param(const char **p)
{
	*p += strspn(*p, PARAM_SPACE);
	return strcspn(*p, PARAM_SPACE);
}

/* Case-insensitive "does the parameter [name, name+len) equal keyword". */
static int
param_is(const char *name, size_t len, const char *keyword)
{
	return strlen(keyword) == len && strncasecmp(name, keyword, len) == 0;
}

/* SIZE=value: decimal digits only, no overflow. */
static int
parse_size(const char *value, size_t len, unsigned long long *size)
{
	unsigned long long n = 0;
	size_t i;

	if (len == 0)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned digit;

		if (value[i] < '0' || value[i] > '9')
			return 0;
		digit = (unsigned)(value[i] - '0');
		if (n > (ULLONG_MAX - digit) / 10)
			return 0;
		n = n * 10 + digit;
	}
	*size = n;
	return 1;
}

static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* AUTH=: "<>" or an xtext (RFC 3461 4: "!" to "~" but "+" and "=", and
 * "+XX" for any other byte) that decodes to printable ASCII of at most
 * SMTP_AUTH_PARAM_MAX bytes. */
static int
parse_auth(const char *value, size_t len, char *out)
{
	size_t n = 0;

	if (len == 2 && memcmp(value, "<>", 2) == 0) {
		out[0] = '\0';
		return 1;
	}
	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)value[i];

		if (c == '+') {
			int hi, lo;

			if (i + 2 >= len)
				return 0;
			if ((hi = hex_digit(value[i + 1])) < 0 ||
			    (lo = hex_digit(value[i + 2])) < 0)
				return 0;
			c = hi * 16 + lo;
			i += 2;
		} else if (c < '!' || c > '~' || c == '=') {
			return 0;
		}
		if (c < ' ' || c > '~' || n == SMTP_AUTH_PARAM_MAX)
			return 0;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return 1;
}

const char *
smtpd_parse_mail(const char *arg, char **addr,
    struct smtp_mail_params *params, char *replybuf, size_t replylen)
{
	struct smtp_mail_params got;
	int has_8bit, seen_size = 0, seen_body = 0, seen_utf8 = 0, seen_auth = 0;
	const char *p;
	size_t len;

	memset(params, 0, sizeof(*params));
	switch (parse_path(arg, "FROM:", addr, &p, &has_8bit)) {
	case PATH_SYNTAX:
		return REPLY_MAIL_SYNTAX;
	case PATH_BAD:
		return REPLY_BAD_SENDER;
	case PATH_OK:
		break;
	}

	memset(&got, 0, sizeof(got));
	for (; (len = next_param(&p)) > 0; p += len) {
		const char *eq = memchr(p, '=', len);
		size_t name_len = eq ? (size_t)(eq - p) : len;
		const char *value = eq ? eq + 1 : NULL;
		size_t value_len = eq ? len - name_len - 1 : 0;
		int *seen = NULL;

		if (value != NULL && param_is(p, name_len, "SIZE")) {
			seen = &seen_size;
			if (!*seen && !parse_size(value, value_len, &got.size)) {
				free(*addr);
				*addr = NULL;
				return REPLY_BAD_SIZE;
			}
			got.has_size = 1;
		} else if (value != NULL && param_is(p, name_len, "BODY")) {
			seen = &seen_body;
			if (param_is(value, value_len, "8BITMIME")) {
				got.body_8bitmime = 1;
			} else if (param_is(value, value_len, "7BIT")) {
				got.body_8bitmime = 0;
			} else if (!*seen) {
				free(*addr);
				*addr = NULL;
				return quote_reply(replybuf, replylen,
				    REPLY_BAD_BODY, "501 5.5.4 Bad BODY keyword",
				    value, value_len);
			}
		} else if (value == NULL && param_is(p, name_len, "SMTPUTF8")) {
			seen = &seen_utf8;
			got.smtputf8 = 1;
		} else if (value != NULL && param_is(p, name_len, "AUTH")) {
			seen = &seen_auth;
			if (!*seen && !parse_auth(value, value_len, got.auth)) {
				free(*addr);
				*addr = NULL;
				return REPLY_BAD_AUTH;
			}
			got.has_auth = 1;
		}
		if (seen == NULL || (*seen)++) {
			free(*addr);
			*addr = NULL;
			return quote_reply(replybuf, replylen, REPLY_UNSUPPORTED,
			    "555 5.5.4 Unsupported option", p, len);
		}
	}
	/* 8-bit addresses need the client to have declared SMTPUTF8. */
	if (has_8bit && !got.smtputf8) {
		free(*addr);
		*addr = NULL;
		return REPLY_BAD_SENDER;
	}
	*params = got;
	return NULL;
}

const char *
smtpd_parse_rcpt(const char *arg, char **addr, char *replybuf,
    size_t replylen)
{
	const char *p;
	size_t len;
	int has_8bit;

	switch (parse_path(arg, "TO:", addr, &p, &has_8bit)) {
	case PATH_SYNTAX:
		return REPLY_RCPT_SYNTAX;
	case PATH_BAD:
		return REPLY_BAD_RECIPIENT;
	case PATH_OK:
		break;
	}
	if (**addr == '\0') {
		free(*addr);
		*addr = NULL;
		return REPLY_BAD_RECIPIENT;
	}
	if ((len = next_param(&p)) > 0) {
		free(*addr);
		*addr = NULL;
		return quote_reply(replybuf, replylen, REPLY_UNSUPPORTED,
		    "555 5.5.4 Unsupported option", p, len);
	}
	return NULL;
}
