/* fuzz_table: arbitrary bytes through the table parsers that read text an
 * administrator (or an attacker who can write a table file) controls. The
 * first byte picks the parser:
 *   0  texthash text (postmap syntax)     1  cidr text
 *   2  "inline:" + rest                   3  "cidr:" + rest (cidr:{...})
 *   4  "static:" + rest                   5  a list of tables (only the
 *      in-memory types: a file name makes the open fail, not read a file)
 * Whatever the input: a table or an error message, never a crash or a
 * leak; a table answers lookups of words taken from the input. No file is
 * ever opened. */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tlsrelay/log.h"
#include "tlsrelay/map.h"
#include "tlsrelay/util.h"

#include "fuzz.h"

static void
probe(struct table *t, const char *text)
{
	static const char *fixed[] = {
		"", "10.0.0.1", "::1", "2001:db8::1", "[10.0.0.1]", "0.0.0.0",
		"example.com", "a",
	};
	char **words = strlist_split(text, " \t\r\n,{}=", NULL);
	int error;

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		(void)table_lookup(t, fixed[i], &error);
	for (size_t i = 0; words[i] != NULL && i < 64; i++) {
		const char *value = table_lookup(t, words[i], &error);

		if (value != NULL && strlen(value) > strlen(text))
			abort();	/* a value is always part of the input */
	}
	strlist_free(words);
}

/* Only the types that never touch the file system. */
static int
in_memory_only(const char *text)
{
	static const char *file_types[] = {
		"hash:", "btree:", "texthash:",
	};

	for (size_t i = 0; i < sizeof(file_types) / sizeof(file_types[0]);
	    i++)
		if (strstr(text, file_types[i]) != NULL)
			return 0;
	/* cidr:NAME reads a file; cidr:{...} does not. */
	for (const char *p = strstr(text, "cidr:"); p; p = strstr(p + 1,
	    "cidr:"))
		if (p[5] != '{')
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *prefix[] = { "inline:", "cidr:", "static:" };
	struct table_list *list;
	struct table *t = NULL;
	char *text, *spec, *err = NULL;
	int mode, error;

	if (size == 0)
		return 0;
	mode = data[0] % 6;
	text = xstrndup((const char *)data + 1, size - 1);
	switch (mode) {
	case 0:
	case 1:
		/* The raw bytes, NULs included. */
		t = table_open_text(mode == 0 ? "texthash" : "cidr", "fuzz",
		    (const char *)data + 1, size - 1, 0, &err);
		break;
	case 2:
	case 3:
	case 4:
		spec = xasprintf("%s%s", prefix[mode - 2], text);
		/* "cidr:" + a name reads a file: only the {...} form. */
		if (mode != 3 || text[0] == '{')
			t = table_open(spec, 0, &err);
		free(spec);
		break;
	case 5:
		if (!in_memory_only(text))
			break;
		list = table_list_open(text, 0, &err);
		if (list != NULL) {
			(void)table_list_lookup(list, "a", &error);
			(void)table_list_lookup(list, "10.0.0.1", &error);
			table_list_close(list);
		}
		break;
	}
	if (t != NULL) {
		probe(t, text);
		table_close(t);
	}
	free(err);
	free(text);
	return 0;
}
