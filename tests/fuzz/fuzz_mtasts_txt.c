/* Fuzz harness: the _mta-sts TXT answer as mtasts_txt_parse reads it
 * (src/mtasts/mtasts_txt.c). Each input line is one TXT record (its
 * character strings already joined, as src/dns hands them over).
 * Checked: a found id is 1 to 32 letters and digits and appears in an
 * STSv1 record; no id comes with a reason and an empty id. */
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
	char id[MTASTS_ID_MAX + 1], *text, **records, *why = NULL;
	size_t n;
	int found;

	if (size > 8192)
		return 0;
	text = xstrndup((const char *)data, size);
	records = strlist_split(text, "\n", &n);
	found = mtasts_txt_parse(records, n, id, &why);
	if (found) {
		size_t len = strlen(id);
		int seen = 0;

		CHECK(why == NULL);
		CHECK(len >= 1 && len <= MTASTS_ID_MAX);
		for (size_t i = 0; i < len; i++)
			CHECK(isalnum((unsigned char)id[i]));
		for (size_t i = 0; i < n; i++)
			if (strncmp(records[i], "v=STSv1", 7) == 0 &&
			    strstr(records[i], id) != NULL)
				seen = 1;
		CHECK(seen);
	} else {
		CHECK(why != NULL);
		CHECK(id[0] == '\0');
	}
	free(why);
	strlist_free(records);
	free(text);
	return 0;
}
