/* A parameter value naming several tables, searched in order (Postfix's
 * maps_*). The value is split on commas and white space except inside
 * braces, so "inline:{ a=1, b=2 }" stays one table. */
#include "config.h"

#include <stdlib.h>

#include "tlsrelay/map.h"
#include "tlsrelay/util.h"

#include "table_int.h"

struct table_list {
	struct table **tables;
	size_t n;
	const struct table *last;
};

struct table_list *
table_list_open(const char *value, int flags, char **err)
{
	struct table_list *list = xcalloc(1, sizeof(*list));
	const char *cursor = value ? value : "";
	char *spec, *perr = NULL;
	int braced;

	*err = NULL;
	while ((spec = table_next_element(&cursor, LIST_SEPARATORS, 0,
	    &braced, &perr)) != NULL) {
		struct table *t = table_open(spec, flags, err);

		free(spec);
		if (t == NULL) {
			table_list_close(list);
			return NULL;
		}
		list->tables = xrealloc(list->tables,
		    (list->n + 1) * sizeof(*list->tables));
		list->tables[list->n++] = t;
	}
	if (perr != NULL) {
		*err = xasprintf("table list \"%s\": %s", value, perr);
		free(perr);
		table_list_close(list);
		return NULL;
	}
	return list;
}

const char *
table_list_lookup(struct table_list *list, const char *key, int *error)
{
	int failed = 0;

	if (error != NULL)
		*error = 0;
	list->last = NULL;
	for (size_t i = 0; i < list->n; i++) {
		const char *value = table_lookup(list->tables[i], key, &failed);

		if (failed) {
			/* A later table must not answer for one that could
			 * not: the caller defers. */
			if (error != NULL)
				*error = 1;
			return NULL;
		}
		if (value != NULL) {
			list->last = list->tables[i];
			return value;
		}
	}
	return NULL;
}

const struct table *
table_list_last(const struct table_list *list)
{
	return list->last;
}

size_t
table_list_count(const struct table_list *list)
{
	return list->n;
}

int
table_list_changed(const struct table_list *list)
{
	for (size_t i = 0; i < list->n; i++)
		if (table_changed(list->tables[i]))
			return 1;
	return 0;
}

void
table_list_close(struct table_list *list)
{
	if (list == NULL)
		return;
	for (size_t i = 0; i < list->n; i++)
		table_close(list->tables[i]);
	free(list->tables);
	free(list);
}
