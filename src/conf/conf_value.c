/* conf_value: the typed value syntaxes of main.cf, as Postfix accepts them:
 * booleans are yes/no (any case), integers and sizes plain decimal, times
 * a decimal number with an optional unit s m h d w. */
#include "config.h"

#include <ctype.h>
#include <limits.h>
#include <strings.h>

#include "tlsrelay/conf.h"

int
conf_parse_bool(const char *text, int *out)
{
	if (strcasecmp(text, "yes") == 0) {
		*out = 1;
		return 0;
	}
	if (strcasecmp(text, "no") == 0) {
		*out = 0;
		return 0;
	}
	return -1;
}

/* Leading decimal digits into *out; returns the first byte after them, or
 * NULL when there are none or the number does not fit. */
static const char *
parse_digits(const char *text, long long *out)
{
	long long n = 0;
	const char *p = text;

	for (; isdigit((unsigned char)*p); p++) {
		int d = *p - '0';

		if (n > (LLONG_MAX - d) / 10)
			return NULL;
		n = n * 10 + d;
	}
	if (p == text)
		return NULL;
	*out = n;
	return p;
}

int
conf_parse_int(const char *text, long long *out)
{
	long long n;
	const char *end = parse_digits(text, &n);

	if (end == NULL || *end != '\0')
		return -1;
	*out = n;
	return 0;
}

int
conf_parse_time(const char *text, char default_unit, long long *seconds)
{
	long long n, scale;
	const char *end = parse_digits(text, &n);
	char unit;

	if (end == NULL)
		return -1;
	if (*end == '\0')
		unit = default_unit;
	else if (end[1] == '\0')
		unit = *end;
	else
		return -1;
	switch (unit) {
	case 's':
		scale = 1;
		break;
	case 'm':
		scale = 60;
		break;
	case 'h':
		scale = 3600;
		break;
	case 'd':
		scale = 86400;
		break;
	case 'w':
		scale = 7 * 86400;
		break;
	default:
		return -1;
	}
	if (n > LLONG_MAX / scale)
		return -1;
	*seconds = n * scale;
	return 0;
}
