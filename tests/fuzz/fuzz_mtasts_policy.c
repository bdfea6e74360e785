/* Fuzz harness: an MTA-STS policy body as mtasts_policy_parse reads it
 * (src/mtasts/mtasts_policy.c), then every mx pattern against a host
 * name taken from the input. Checked: a rejected body comes with a
 * reason; an accepted one has a known mode, max_age within RFC 8461's
 * bounds, mx patterns outside mode none, each lower case and either a
 * host or "*." and a host, and each pattern matches itself (a star
 * pattern: with one label in place of the star). */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlsrelay/mtasts.h"
#include "tlsrelay/util.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mtasts_policy *p;
	char *why = NULL, *host;
	const char *nl;

	p = mtasts_policy_parse((const char *)data, size, &why);
	if (p == NULL) {
		CHECK(why != NULL);
		free(why);
		return 0;
	}
	CHECK(why == NULL);
	CHECK(p->mode == MTASTS_MODE_NONE || p->mode == MTASTS_MODE_TESTING ||
	    p->mode == MTASTS_MODE_ENFORCE);
	CHECK(p->max_age >= 0 && p->max_age <= MTASTS_MAX_AGE_MAX);
	CHECK(p->mode == MTASTS_MODE_NONE || p->n_mx > 0);
	/* The host to match: the input's first line. */
	nl = memchr(data, '\n', size);
	host = xstrndup((const char *)data, nl ? (size_t)(nl -
	    (const char *)data) : size);
	for (size_t i = 0; i < p->n_mx; i++) {
		const char *mx = p->mx[i];

		for (const char *c = mx; *c; c++)
			CHECK(!isupper((unsigned char)*c));
		CHECK(strchr(mx + 1, '*') == NULL);
		if (mx[0] == '*') {
			char *one = xasprintf("x%s", mx + 1);

			CHECK(mx[1] == '.');
			CHECK(mtasts_mx_pattern_match(mx, one));
			CHECK(!mtasts_mx_pattern_match(mx, mx + 2));
			free(one);
		} else
			CHECK(mtasts_mx_pattern_match(mx, mx));
		(void)mtasts_mx_pattern_match(mx, host);
	}
	(void)mtasts_policy_mx_match(p, host);
	free(host);
	mtasts_policy_free(p);
	return 0;
}
