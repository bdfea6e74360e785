/* inline:{ key=value, { key = value with spaces } } and static:value:
 * tables whose contents are in their name (Postfix's inline: and
 * static:). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tlsrelay/util.h"

#include "table_int.h"

#define INLINE_SEPARATORS ", \t\r\n"

static const char *
inline_lookup(struct table *t, const char *key, int *error)
{
	(void)error;
	return table_ht_get(t->impl, key);
}

static void
inline_close(struct table *t)
{
	table_ht_free(t->impl);
}

static int
inline_each(struct table *t, table_each_fn fn, void *arg, char **err)
{
	(void)err;
	table_ht_each(t->impl, fn, arg);
	return 0;
}

static const struct table_ops inline_ops = {
	inline_lookup,
	inline_close,
	inline_each,
};

static char *
syntax_error(const char *name, const char *what)
{
	return xasprintf("%s: \"inline:%s\"; need \"inline:{name=value...}\"",
	    what, name);
}

/* One element: "key=value" or, from braces, "key = value". The key has
 * no white space; the value keeps its inner white space. */
static int
add_element(struct table *t, struct table_ht *ht, const char *name,
    char *elem, char **err)
{
	char *eq = strchr(elem, '='), *key, *value;

	if (eq == NULL) {
		*err = syntax_error(name, "missing '=' after attribute name");
		return -1;
	}
	*eq = '\0';
	key = str_trim(elem);
	value = str_trim(eq + 1);
	if (*key == '\0' || key[strcspn(key, " \t\r\n")] != '\0') {
		*err = syntax_error(name, "missing '=' after attribute name");
		return -1;
	}
	if (*value == '\0') {
		*err = xasprintf("\"inline:%s\": key %s: empty value", name,
		    key);
		return -1;
	}
	if (t->fold)
		str_lower(key);
	/* As in Postfix, a later entry replaces an earlier one. */
	table_ht_put(ht, key, value, 1);
	return 0;
}

int
table_inline_open(struct table *t, const char *name, char **err)
{
	struct table_ht *ht;
	const char *cursor;
	size_t end;
	char *inner, *elem, *perr = NULL;
	int braced;

	if (name[0] != '{' || (end = table_brace_end(name)) == 0 ||
	    name[end + 1] != '\0') {
		*err = syntax_error(name, "bad syntax");
		return -1;
	}
	inner = xstrndup(name + 1, end - 1);
	ht = table_ht_new();
	cursor = inner;
	while ((elem = table_next_element(&cursor, INLINE_SEPARATORS, 1,
	    &braced, &perr)) != NULL) {
		int ret = add_element(t, ht, name, elem, err);

		free(elem);
		if (ret < 0)
			goto fail;
	}
	if (perr != NULL) {
		free(perr);
		*err = syntax_error(name, "bad syntax");
		goto fail;
	}
	if (table_ht_count(ht) == 0) {
		*err = syntax_error(name, "bad syntax");
		goto fail;
	}
	free(inner);
	t->impl = ht;
	t->ops = &inline_ops;
	return 0;
fail:
	free(inner);
	table_ht_free(ht);
	return -1;
}

static const char *
static_lookup(struct table *t, const char *key, int *error)
{
	(void)key;
	(void)error;
	return t->impl;
}

static void
static_close(struct table *t)
{
	free(t->impl);
}

static const struct table_ops static_ops = {
	static_lookup,
	static_close,
	NULL,		/* no listing, as Postfix */
};

int
table_static_open(struct table *t, const char *name, char **err)
{
	size_t end;

	t->fold = 0;
	if (name[0] == '{') {
		char *value;

		if ((end = table_brace_end(name)) == 0 || name[end + 1] != '\0') {
			*err = xasprintf("bad syntax: \"static:%s\"; need "
			    "\"static:{value}\"", name);
			return -1;
		}
		value = xstrndup(name + 1, end - 1);
		t->impl = xstrdup(str_trim(value));
		free(value);
	} else
		t->impl = xstrdup(name);
	t->ops = &static_ops;
	return 0;
}
