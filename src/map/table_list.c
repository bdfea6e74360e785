/* A parameter value naming several tables, searched in order (Postfix's
 * maps_*). The value is split on commas and white space except inside
 * braces, so "inline:{ a=1, b=2 }" stays one table. The one place where
 * a table a daemon holds is opened again when its file changed. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tlsrelay/log.h"
#include "tlsrelay/map.h"
#include "tlsrelay/util.h"

#include "table_int.h"

struct table_list {
	char *value;		/* as given, to open it again */
	int flags;
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
	list->value = xstrdup(cursor);
	list->flags = flags;
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

char **
table_split_words(const char *value, size_t *count, char **err)
{
	const char *cursor = value ? value : "";
	char **words = xcalloc(1, sizeof(*words));
	char *word, *perr = NULL;
	size_t n = 0;
	int braced;

	*err = NULL;
	while ((word = table_next_element(&cursor, LIST_SEPARATORS, 0,
	    &braced, &perr)) != NULL) {
		words = xrealloc(words, (n + 2) * sizeof(*words));
		words[n++] = word;
		words[n] = NULL;
	}
	if (perr != NULL) {
		*err = xasprintf("\"%s\": %s", value, perr);
		free(perr);
		strlist_free(words);
		return NULL;
	}
	if (count != NULL)
		*count = n;
	return words;
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

static void
close_tables(struct table_list *list)
{
	for (size_t i = 0; i < list->n; i++)
		table_close(list->tables[i]);
	free(list->tables);
	list->tables = NULL;
	list->n = 0;
	list->last = NULL;
}

int
table_list_refresh(struct table_list *list, const char *label)
{
	const struct table *changed = NULL;
	struct table_list *fresh;
	struct stat *seen;
	char *err = NULL;

	for (size_t i = 0; i < list->n && changed == NULL; i++)
		if (table_changed(list->tables[i]))
			changed = list->tables[i];
	if (changed == NULL)
		return 0;
	/* The files as they are before the attempt: after a failure they
	 * are the state to compare with, so the next change is tried
	 * again, not every lookup, and one made during the attempt is not
	 * missed. */
	seen = xcalloc(list->n, sizeof(*seen));
	for (size_t i = 0; i < list->n; i++) {
		const struct table *t = list->tables[i];

		if (t->watch_path != NULL && stat(t->watch_path, &seen[i]) < 0)
			memset(&seen[i], 0, sizeof(seen[i]));
	}
	if ((fresh = table_list_open(list->value, list->flags, &err)) ==
	    NULL) {
		msg_warn("%s: %s changed but cannot be opened again (%s); "
		    "keeping the old contents", label, table_name(changed),
		    err);
		free(err);
		for (size_t i = 0; i < list->n; i++)
			if (list->tables[i]->watch_path != NULL)
				list->tables[i]->watch_st = seen[i];
		free(seen);
		return -1;
	}
	free(seen);
	msg_info("%s: %s changed: opened again", label, table_name(changed));
	close_tables(list);
	list->tables = fresh->tables;
	list->n = fresh->n;
	fresh->tables = NULL;
	fresh->n = 0;
	table_list_close(fresh);
	return 1;
}

void
table_list_close(struct table_list *list)
{
	if (list == NULL)
		return;
	close_tables(list);
	free(list->value);
	free(list);
}
