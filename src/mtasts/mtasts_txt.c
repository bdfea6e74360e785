/* The _mta-sts TXT record (RFC 8461 3.1):
 *
 *	sts-text-record = sts-version 1*(sts-field-delim sts-field)
 *	    [sts-field-delim]
 *	sts-field-delim = *WSP ";" *WSP
 *	sts-version = %s"v=STSv1"
 *	sts-id = %s"id=" 1*32(ALPHA / DIGIT)
 *	sts-extension = sts-ext-name "=" sts-ext-value
 *
 * The version and id keys are case-sensitive (%s). */
#include "config.h"

#include <ctype.h>
#include <string.h>

#include "tlsrelay/mtasts.h"
#include "tlsrelay/util.h"
#include "mtasts_int.h"

#define STS_VERSION		"v=STSv1"

static int
is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

/* A record is an STS record when it starts with the version and the
 * version ends there. */
static int
is_sts_record(const char *r)
{
	size_t n = sizeof(STS_VERSION) - 1;

	return strncmp(r, STS_VERSION, n) == 0 &&
	    (r[n] == ';' || is_wsp(r[n]) || r[n] == '\0');
}

/* sts-ext-value = 1*(%x21-3A / %x3C / %x3E-7E): no ";", "=", blanks. */
static int
valid_ext_value(const char *s, size_t len)
{
	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x21 || c > 0x7e || c == ';' || c == '=')
			return 0;
	}
	return 1;
}

/* One record, known to start with the version. */
static int
parse_record(const char *r, char id[MTASTS_ID_MAX + 1], char **why)
{
	const char *p = r + sizeof(STS_VERSION) - 1;
	int fields = 0, have_id = 0;

	for (;;) {
		const char *field, *eq;
		size_t len;

		while (is_wsp(*p))
			p++;
		if (*p == '\0')
			break;
		if (*p++ != ';') {
			*why = xstrdup("malformed TXT record: missing \";\"");
			return 0;
		}
		while (is_wsp(*p))
			p++;
		if (*p == '\0')
			break;		/* a trailing delimiter */
		field = p;
		while (*p != '\0' && *p != ';' && !is_wsp(*p))
			p++;
		len = (size_t)(p - field);
		eq = memchr(field, '=', len);
		if (eq == NULL ||
		    !mtasts_ext_name_valid(field, (size_t)(eq - field)) ||
		    !valid_ext_value(eq + 1, len - (size_t)(eq + 1 - field))) {
			*why = xstrdup("malformed TXT record field");
			return 0;
		}
		fields++;
		if (eq - field == 2 && strncmp(field, "id", 2) == 0) {
			size_t idlen = len - 3;

			if (idlen > MTASTS_ID_MAX) {
				*why = xstrdup("TXT record id too long");
				return 0;
			}
			for (size_t i = 0; i < idlen; i++) {
				if (!isalnum((unsigned char)eq[1 + i])) {
					*why = xstrdup("malformed TXT record id");
					return 0;
				}
			}
			/* The first id counts (RFC 8461 3.1). */
			if (!have_id) {
				memcpy(id, eq + 1, idlen);
				id[idlen] = '\0';
				have_id = 1;
			}
		}
	}
	if (fields == 0 || !have_id) {
		*why = xstrdup("TXT record without id");
		return 0;
	}
	return 1;
}

int
mtasts_txt_parse(char *const *records, size_t n, char id[MTASTS_ID_MAX + 1],
    char **why)
{
	const char *found = NULL;

	*why = NULL;
	id[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (!is_sts_record(records[i]))
			continue;
		if (found != NULL) {
			*why = xstrdup("more than one STSv1 TXT record");
			return 0;
		}
		found = records[i];
	}
	if (found == NULL) {
		*why = xstrdup("no STSv1 TXT record");
		return 0;
	}
	if (!parse_record(found, id, why)) {
		id[0] = '\0';
		return 0;
	}
	return 1;
}
