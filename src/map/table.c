/* table: the one lookup interface behind every "type:name" a parameter
 * names (Postfix's dict_*, OpenSMTPD's table_*). This file holds the type
 * registry, dispatches on the type and folds keys; each type lives in its
 * own table_*.c. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tlsrelay/map.h"
#include "tlsrelay/util.h"

#include "table_int.h"

/* Splits "type:name"; returns the type (caller frees) and points *name
 * after the colon, or NULL when spec is not in that form. */
static char *
split_spec(const char *spec, const char **name)
{
	size_t n = strspn(spec, "abcdefghijklmnopqrstuvwxyz0123456789_");

	if (n == 0 || spec[n] != ':' || spec[n + 1] == '\0')
		return NULL;
	*name = spec + n + 1;
	return xstrndup(spec, n);
}

static struct table *
table_new(const struct table_type *type, const char *spec, int flags)
{
	struct table *t = xcalloc(1, sizeof(*t));

	t->type = type;
	t->spec = xstrdup(spec);
	t->flags = flags;
	t->fold = !(flags & TABLE_NO_FOLD);
	strbuf_init(&t->key_buf);
	return t;
}

void
table_watch(struct table *t, const char *path)
{
	free(t->watch_path);
	t->watch_path = xstrdup(path);
	if (stat(path, &t->watch_st) < 0)
		memset(&t->watch_st, 0, sizeof(t->watch_st));
}

/* The registry: every type table_open() knows, in the order messages
 * list them. A new type is one line here and one table_*.c. */
static const struct table_type types[] = {
	{ "hash", DB_HASH, 1, table_db_open, NULL },
	{ "btree", DB_BTREE, 1, table_db_open, NULL },
	{ "texthash", DB_UNKNOWN, 1, table_texthash_open,
	    table_texthash_open_text },
	{ "inline", DB_UNKNOWN, 0, table_inline_open, NULL },
	{ "cidr", DB_UNKNOWN, 0, table_cidr_open, table_cidr_open_text },
	{ "static", DB_UNKNOWN, 0, table_static_open, NULL },
};

#define N_TYPES	(sizeof(types) / sizeof(types[0]))

const struct table_type *
table_type_find(const char *type)
{
	for (size_t i = 0; i < N_TYPES; i++)
		if (strcmp(type, types[i].name) == 0)
			return &types[i];
	return NULL;
}

const char *
table_types(void)
{
	static char list[128];

	if (list[0] == '\0') {
		size_t len = 0;

		for (size_t i = 0; i < N_TYPES; i++)
			len += (size_t)snprintf(list + len, sizeof(list) - len,
			    "%s%s", i ? " " : "", types[i].name);
	}
	return list;
}

int
table_type_flags(const char *type)
{
	const struct table_type *tt = table_type_find(type);

	if (tt == NULL)
		return 0;
	return (tt->key_value_source ? TABLE_TYPE_SOURCE : 0) |
	    (tt->db_type != DB_UNKNOWN ? TABLE_TYPE_BUILT : 0);
}

char *
table_type_error(const char *type, const char *spec)
{
	return xasprintf("unsupported table type \"%s\" in \"%s\" "
	    "(supported: %s)", type, spec, table_types());
}

struct table *
table_open(const char *spec, int flags, char **err)
{
	const struct table_type *tt;
	struct table *t;
	const char *name;
	char *type;

	*err = NULL;
	if ((type = split_spec(spec, &name)) == NULL) {
		*err = xasprintf("expecting \"type:name\" form instead of "
		    "\"%s\"", spec);
		return NULL;
	}
	tt = table_type_find(type);
	if (tt == NULL) {
		*err = table_type_error(type, spec);
		free(type);
		return NULL;
	}
	free(type);
	t = table_new(tt, spec, flags);
	if (tt->open(t, name, err) < 0) {
		table_close(t);
		return NULL;
	}
	return t;
}

struct table *
table_open_text(const char *type, const char *label, const char *text,
    size_t len, int flags, char **err)
{
	const struct table_type *tt = table_type_find(type);
	struct table *t;
	char *spec;

	*err = NULL;
	if (tt == NULL || tt->open_text == NULL) {
		*err = xasprintf("table type \"%s\" has no text source", type);
		return NULL;
	}
	spec = xasprintf("%s:%s", type, label);
	t = table_new(tt, spec, flags);
	free(spec);
	if (tt->open_text(t, label, text, len, err) < 0) {
		table_close(t);
		return NULL;
	}
	return t;
}

const char *
table_lookup(struct table *t, const char *key, int *error)
{
	if (error != NULL)
		*error = 0;
	if (t == NULL || key == NULL)
		return NULL;
	if (t->fold) {
		strbuf_reset(&t->key_buf);
		strbuf_puts(&t->key_buf, key);
		key = str_lower(t->key_buf.data);
	}
	return t->ops->lookup(t, key, error);
}

int
table_each(struct table *t, table_each_fn fn, void *arg, char **err)
{
	if (t->ops->each == NULL) {
		*err = xasprintf("%s: table type %s does not support listing",
		    t->spec, t->type->name);
		return -1;
	}
	return t->ops->each(t, fn, arg, err);
}

void
table_close(struct table *t)
{
	if (t == NULL)
		return;
	if (t->ops != NULL)
		t->ops->close(t);
	free(t->spec);
	free(t->watch_path);
	strbuf_free(&t->key_buf);
	free(t);
}

const char *
table_name(const struct table *t)
{
	return t->spec;
}

int
table_changed(const struct table *t)
{
	struct stat st;

	if (t->watch_path == NULL)
		return 0;
	/* A file gone is a state of its own (all zero), as in table_watch():
	 * a change from it, and back, is a change. */
	if (stat(t->watch_path, &st) < 0)
		memset(&st, 0, sizeof(st));
	return st.st_dev != t->watch_st.st_dev ||
	    st.st_ino != t->watch_st.st_ino ||
	    st.st_size != t->watch_st.st_size ||
	    st.st_mtim.tv_sec != t->watch_st.st_mtim.tv_sec ||
	    st.st_mtim.tv_nsec != t->watch_st.st_mtim.tv_nsec;
}
