/* smtpd_dnsbl_filter: Postfix's "=d.d.d.d" reply filter of
 * reject_rbl_client and reject_rhsbl_* (postconf(5)): each "d" is a
 * number, or "[...]" holding ";"-separated numbers and "n..m" ranges, so
 * "127.0.0.2", "127.0.0.[2;3]", "127.0.0.[2..5;9]". Each octet becomes a
 * set of 256 bits; a listed address matches when all four octets are in
 * their sets. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>

#include "tlsrelay/smtpd_dnscheck.h"
#include "tlsrelay/util.h"

static void
set_bit(unsigned char *set, unsigned v)
{
	set[v / 8] |= (unsigned char)(1u << (v % 8));
}

/* A decimal number 0..255; advances *p. */
static int
parse_number(const char **p, unsigned *v)
{
	const char *s = *p;
	unsigned n = 0;

	if (!isdigit((unsigned char)*s))
		return -1;
	while (isdigit((unsigned char)*s)) {
		n = n * 10 + (unsigned)(*s++ - '0');
		if (n > 255)
			return -1;
	}
	*v = n;
	*p = s;
	return 0;
}

/* One octet: "2" or "[2;3..5]"; advances *p. */
static int
parse_octet(const char **p, unsigned char *set)
{
	const char *s = *p;
	unsigned lo, hi, v;

	if (*s != '[') {
		if (parse_number(&s, &v) < 0)
			return -1;
		set_bit(set, v);
		*p = s;
		return 0;
	}
	s++;
	for (;;) {
		if (parse_number(&s, &lo) < 0)
			return -1;
		hi = lo;
		if (strncmp(s, "..", 2) == 0) {
			s += 2;
			if (parse_number(&s, &hi) < 0 || hi < lo)
				return -1;
		}
		for (v = lo; v <= hi; v++)
			set_bit(set, v);
		if (*s == ';') {
			s++;
			continue;
		}
		if (*s != ']')
			return -1;
		*p = s + 1;
		return 0;
	}
}

int
dnsbl_filter_parse(const char *text, struct dnsbl_filter *f, char **err)
{
	const char *p = text;
	int i;

	memset(f, 0, sizeof(*f));
	for (i = 0; i < 4; i++) {
		if (parse_octet(&p, f->octet[i]) < 0 ||
		    *p != (i < 3 ? '.' : '\0')) {
			*err = xasprintf("invalid DNSBL reply filter \"=%s\": "
			    "expected d.d.d.d where d is a number or "
			    "[n;n..m]", text);
			return -1;
		}
		if (i < 3)
			p++;
	}
	return 0;
}

int
dnsbl_filter_match(const struct dnsbl_filter *f, const char *addr)
{
	unsigned char b[4];
	int i;

	if (inet_pton(AF_INET, addr, b) != 1)
		return 0;
	for (i = 0; i < 4; i++)
		if (!(f->octet[i][b[i] / 8] & (1u << (b[i] % 8))))
			return 0;
	return 1;
}
