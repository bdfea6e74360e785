/* The MTA-STS policy body (RFC 8461 3.2) and the MX pattern matcher
 * (RFC 8461 4.1). The body comes from a web server the sender does not
 * control: it is parsed strictly, and whatever does not follow the
 * grammar means "no policy" rather than a guess. */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tlsrelay/mtasts.h"
#include "tlsrelay/util.h"
#include "mtasts_int.h"

#define DOMAIN_MAX	253
#define LABEL_MAX	63

const char *
mtasts_mode_name(enum mtasts_mode mode)
{
	switch (mode) {
	case MTASTS_MODE_ENFORCE:
		return "enforce";
	case MTASTS_MODE_TESTING:
		return "testing";
	case MTASTS_MODE_NONE:
		break;
	}
	return "none";
}

void
mtasts_policy_free(struct mtasts_policy *policy)
{
	if (policy == NULL)
		return;
	for (size_t i = 0; i < policy->n_mx; i++)
		free(policy->mx[i]);
	free(policy->mx);
	free(policy);
}

static int
is_wsp(int c)
{
	return c == ' ' || c == '\t';
}

/* RFC 5321 Domain: labels of letters, digits and hyphens, neither first
 * nor last a hyphen. */
static int
valid_domain(const char *s, size_t len)
{
	size_t label = 0;

	if (len == 0 || len > DOMAIN_MAX)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return 0;
			label = 0;
			continue;
		}
		if (!isalnum(c) && c != '-')
			return 0;
		if (c == '-' && label == 0)
			return 0;
		if (++label > LABEL_MAX)
			return 0;
	}
	return label > 0 && s[len - 1] != '-';
}

int
mtasts_ext_name_valid(const char *s, size_t len)
{
	if (len == 0 || len > 32 || !isalnum((unsigned char)s[0]))
		return 0;
	for (size_t i = 1; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!isalnum(c) && c != '_' && c != '-' && c != '.')
			return 0;
	}
	return 1;
}

/* sts-policy-ext-value: visible characters (or UTF-8) with single
 * blanks inside; the caller has cut trailing blanks. */
static int
valid_ext_value(const char *s, size_t len)
{
	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return 0;
	}
	return !is_wsp(s[0]);
}

struct parse_state {
	struct mtasts_policy *policy;
	int have_version, have_mode, have_max_age;
	char *why;
};

static int
fail(struct parse_state *st, char *why)
{
	st->why = why;
	return -1;
}

static int
parse_max_age(struct parse_state *st, const char *v, size_t len)
{
	long age = 0;

	/* 1*10DIGIT, at most a year. */
	if (len == 0 || len > 10)
		return fail(st, xstrdup("malformed max_age"));
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)v[i]))
			return fail(st, xstrdup("malformed max_age"));
		age = age * 10 + (v[i] - '0');
		if (age > MTASTS_MAX_AGE_MAX)
			return fail(st, xstrdup("max_age out of range"));
	}
	st->policy->max_age = age;
	st->have_max_age = 1;
	return 0;
}

static int
parse_mode(struct parse_state *st, const char *v, size_t len)
{
	static const struct {
		const char *name;
		enum mtasts_mode mode;
	} modes[] = {
		{ "enforce", MTASTS_MODE_ENFORCE },
		{ "testing", MTASTS_MODE_TESTING },
		{ "none", MTASTS_MODE_NONE },
	};

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (strlen(modes[i].name) == len &&
		    strncasecmp(v, modes[i].name, len) == 0) {
			st->policy->mode = modes[i].mode;
			st->have_mode = 1;
			return 0;
		}
	}
	return fail(st, xasprintf("unknown mode \"%.*s\"",
	    (int)(len > 32 ? 32 : len), v));
}

static int
parse_mx(struct parse_state *st, const char *v, size_t len)
{
	struct mtasts_policy *p = st->policy;
	size_t skip = len > 2 && v[0] == '*' && v[1] == '.' ? 2 : 0;

	if (!valid_domain(v + skip, len - skip))
		return fail(st, xstrdup("malformed mx pattern"));
	p->mx = xrealloc(p->mx, (p->n_mx + 1) * sizeof(*p->mx));
	p->mx[p->n_mx++] = str_lower(xstrndup(v, len));
	return 0;
}

/* One "key *WSP : *WSP value *WSP" line, without its line end. */
static int
parse_line(struct parse_state *st, const char *line, size_t len)
{
	const char *colon = memchr(line, ':', len);
	size_t klen, vlen;
	const char *v;

	if (colon == NULL)
		return fail(st, xstrdup("line without a colon"));
	klen = (size_t)(colon - line);
	while (klen > 0 && is_wsp(line[klen - 1]))
		klen--;
	v = colon + 1;
	vlen = len - (size_t)(v - line);
	while (vlen > 0 && is_wsp(*v))
		v++, vlen--;
	while (vlen > 0 && is_wsp(v[vlen - 1]))
		vlen--;
	if (!mtasts_ext_name_valid(line, klen))
		return fail(st, xstrdup("malformed key"));

#define KEY(name) (klen == sizeof(name) - 1 && \
	strncasecmp(line, name, klen) == 0)
	if (KEY("mx"))
		return parse_mx(st, v, vlen);
	/* Other keys: the first occurrence counts (RFC 8461 3.2). */
	if (KEY("version")) {
		if (st->have_version)
			return 0;
		if (vlen != 5 || strncasecmp(v, "STSv1", 5) != 0)
			return fail(st, xstrdup("unknown version"));
		st->have_version = 1;
		return 0;
	}
	if (KEY("mode"))
		return st->have_mode ? 0 : parse_mode(st, v, vlen);
	if (KEY("max_age"))
		return st->have_max_age ? 0 : parse_max_age(st, v, vlen);
#undef KEY
	/* An extension: ignored, but it must still be well formed. */
	if (!valid_ext_value(v, vlen))
		return fail(st, xstrdup("malformed value"));
	return 0;
}

struct mtasts_policy *
mtasts_policy_parse(const char *text, size_t len, char **why)
{
	struct parse_state st = { 0 };
	size_t pos = 0;

	*why = NULL;
	if (len > MTASTS_POLICY_SIZE_MAX) {
		*why = xstrdup("policy too large");
		return NULL;
	}
	if (memchr(text, '\0', len) != NULL) {
		*why = xstrdup("NUL byte in policy");
		return NULL;
	}
	st.policy = xcalloc(1, sizeof(*st.policy));
	while (pos < len) {
		const char *line = text + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t llen = nl != NULL ? (size_t)(nl - line) : len - pos;

		pos += llen + (nl != NULL);
		if (llen > 0 && line[llen - 1] == '\r')
			llen--;
		/* Line ends close the last field; nothing may follow them
		 * but more line ends. */
		if (llen == 0) {
			while (pos < len && (text[pos] == '\n' ||
			    text[pos] == '\r'))
				pos++;
			if (pos < len) {
				st.why = xstrdup("empty line in policy");
				break;
			}
			continue;
		}
		if (parse_line(&st, line, llen) < 0)
			break;
	}
	if (st.why == NULL) {
		if (!st.have_version)
			st.why = xstrdup("no version: STSv1");
		else if (!st.have_mode)
			st.why = xstrdup("no mode");
		else if (!st.have_max_age)
			st.why = xstrdup("no max_age");
		else if (st.policy->mode != MTASTS_MODE_NONE &&
		    st.policy->n_mx == 0)
			st.why = xstrdup("no mx");
	}
	if (st.why != NULL) {
		mtasts_policy_free(st.policy);
		*why = st.why;
		return NULL;
	}
	return st.policy;
}

int
mtasts_mx_pattern_match(const char *pattern, const char *host)
{
	size_t hlen = strlen(host);

	if (hlen > 0 && host[hlen - 1] == '.')
		hlen--;
	if (hlen == 0)
		return 0;
	if (pattern[0] == '*' && pattern[1] == '.') {
		const char *dot = memchr(host, '.', hlen);
		const char *suffix = pattern + 1;	/* ".example.com" */

		/* The star stands for exactly one non-empty label. */
		if (dot == NULL || dot == host)
			return 0;
		return strlen(suffix) == (size_t)(host + hlen - dot) &&
		    strncasecmp(dot, suffix, strlen(suffix)) == 0;
	}
	return strlen(pattern) == hlen && strncasecmp(pattern, host, hlen) == 0;
}

int
mtasts_policy_mx_match(const struct mtasts_policy *policy, const char *host)
{
	for (size_t i = 0; i < policy->n_mx; i++)
		if (mtasts_mx_pattern_match(policy->mx[i], host))
			return 1;
	return 0;
}
