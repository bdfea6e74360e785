/* tls_protocols: Postfix's protocol lists ("!SSLv3, !TLSv1", "TLSv1.2
 * TLSv1.3", ">=TLSv1.2 <=TLSv1.3") turned into OpenSSL's minimum and
 * maximum version plus SSL_OP_NO_* bits for any hole in between. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tlsrelay/tls.h"
#include "tlsrelay/util.h"

struct protocol {
	const char *name;
	int version;		/* OpenSSL's number; 0 when OpenSSL has none */
	long disable_op;	/* SSL_OP_NO_* */
};

/* Oldest first: bounds and holes are computed on this order. SSLv2 is a
 * valid name (configurations say "!SSLv2") that OpenSSL 3 no longer
 * implements, so it never affects the result. */
static const struct protocol protocols[] = {
	{ "SSLv2", 0, 0 },
	{ "SSLv3", SSL3_VERSION, SSL_OP_NO_SSLv3 },
	{ "TLSv1", TLS1_VERSION, SSL_OP_NO_TLSv1 },
	{ "TLSv1.1", TLS1_1_VERSION, SSL_OP_NO_TLSv1_1 },
	{ "TLSv1.2", TLS1_2_VERSION, SSL_OP_NO_TLSv1_2 },
	{ "TLSv1.3", TLS1_3_VERSION, SSL_OP_NO_TLSv1_3 },
};

#define N_PROTOCOLS	((int)(sizeof(protocols) / sizeof(protocols[0])))
#define FIRST_REAL	1	/* index of the oldest protocol OpenSSL knows */
#define ALL_PROTOCOLS	((1u << N_PROTOCOLS) - 1)

enum proto_op { OP_INCLUDE, OP_EXCLUDE, OP_FLOOR, OP_CEILING };

static int
protocol_index(const char *name)
{
	for (int i = 0; i < N_PROTOCOLS; i++)
		if (strcasecmp(name, protocols[i].name) == 0)
			return i;
	return -1;
}

/* Splits an operator prefix off a word; returns the rest (maybe ""). */
static const char *
protocol_operator(const char *word, enum proto_op *op)
{
	if (word[0] == '!') {
		*op = OP_EXCLUDE;
		return word + 1;
	}
	if (strncmp(word, ">=", 2) == 0) {
		*op = OP_FLOOR;
		return word + 2;
	}
	if (strncmp(word, "<=", 2) == 0) {
		*op = OP_CEILING;
		return word + 2;
	}
	*op = OP_INCLUDE;
	return word;
}

int
tls_parse_protocols(const char *spec, int *min_version, int *max_version,
    long *disable_ops, char **err)
{
	char **words = strlist_split(spec, LIST_SEPARATORS ":", NULL);
	unsigned include = 0, exclude = 0, enabled;
	int lower_bound = 0, upper_bound = N_PROTOCOLS - 1;
	int lowest = -1, highest = -1;

	*err = NULL;
	for (size_t i = 0; words[i] != NULL; i++) {
		enum proto_op op;
		const char *name = protocol_operator(words[i], &op);
		int index;

		/* The operator may be a word of its own: ">= TLSv1.2". */
		if (*name == '\0' && op != OP_INCLUDE && words[i + 1] != NULL)
			name = words[++i];
		if (*name == '\0') {
			*err = xasprintf("missing TLS protocol name after "
			    "\"%s\" in \"%s\"", words[i], spec);
			break;
		}
		if ((index = protocol_index(name)) < 0) {
			*err = xasprintf("unknown TLS protocol \"%s\" in "
			    "\"%s\"", name, spec);
			break;
		}
		switch (op) {
		case OP_INCLUDE:
			include |= 1u << index;
			break;
		case OP_EXCLUDE:
			exclude |= 1u << index;
			break;
		case OP_FLOOR:
			lower_bound = index;
			break;
		case OP_CEILING:
			upper_bound = index;
			break;
		}
	}
	strlist_free(words);
	if (*err != NULL)
		return -1;

	/* As Postfix: naming protocols without '!' excludes all others. */
	enabled = (include ? include : ALL_PROTOCOLS) & ~exclude;
	for (int i = FIRST_REAL; i < N_PROTOCOLS; i++) {
		if (i < lower_bound || i > upper_bound ||
		    !(enabled & (1u << i)))
			continue;
		if (lowest < 0)
			lowest = i;
		highest = i;
	}
	if (lowest < 0) {
		*err = xasprintf("no TLS protocol is left enabled by \"%s\"",
		    spec);
		return -1;
	}
	*min_version = lowest == FIRST_REAL ? 0 : protocols[lowest].version;
	*max_version = highest == N_PROTOCOLS - 1 ? 0 :
	    protocols[highest].version;
	*disable_ops = 0;
	for (int i = lowest + 1; i < highest; i++)
		if (!(enabled & (1u << i)))
			*disable_ops |= protocols[i].disable_op;
	return 0;
}
