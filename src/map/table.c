/* table: the one lookup interface behind every "type:name" a parameter
 * names (Postfix's dict_*, OpenSMTPD's table_*). This file dispatches on
 * the type and folds keys; each type lives in its own table_*.c. */
#include "config.h"

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
table_new(const char *spec, int flags)
{
	struct table *t = xcalloc(1, sizeof(*t));

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

struct table *
table_open(const char *spec, int flags, char **err)
{
	struct table *t;
	const char *name;
	char *type;
	int ret;

	*err = NULL;
	if ((type = split_spec(spec, &name)) == NULL) {
		*err = xasprintf("expecting \"type:name\" form instead of "
		    "\"%s\"", spec);
		return NULL;
	}
	t = table_new(spec, flags);
	if (table_db_type(type) >= 0)
		ret = table_db_open(t, type, name, err);
	else if (strcmp(type, "texthash") == 0)
		ret = table_texthash_open(t, name, err);
	else if (strcmp(type, "inline") == 0)
		ret = table_inline_open(t, name, err);
	else if (strcmp(type, "static") == 0)
		ret = table_static_open(t, name, err);
	else if (strcmp(type, "cidr") == 0)
		ret = table_cidr_open(t, name, err);
	else {
		*err = xasprintf("unsupported table type \"%s\" in \"%s\" "
		    "(supported: hash btree texthash inline cidr static)",
		    type, spec);
		ret = -1;
	}
	free(type);
	if (ret < 0) {
		table_close(t);
		return NULL;
	}
	return t;
}

int
table_type_known(const char *type)
{
	static const char *const types[] = {
		"hash", "btree", "texthash", "inline", "static", "cidr",
	};

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(type, types[i]) == 0)
			return 1;
	return 0;
}

struct table *
table_open_text(const char *type, const char *label, const char *text,
    size_t len, int flags, char **err)
{
	char *spec = xasprintf("%s:%s", type, label);
	struct table *t = table_new(spec, flags);
	int ret;

	free(spec);
	*err = NULL;
	if (strcmp(type, "texthash") == 0)
		ret = table_texthash_open_text(t, label, text, len, err);
	else if (strcmp(type, "cidr") == 0)
		ret = table_cidr_open_text(t, label, text, len, err);
	else {
		*err = xasprintf("table type \"%s\" has no text source", type);
		ret = -1;
	}
	if (ret < 0) {
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
	if (stat(t->watch_path, &st) < 0)
		return 1;
	return st.st_dev != t->watch_st.st_dev ||
	    st.st_ino != t->watch_st.st_ino ||
	    st.st_size != t->watch_st.st_size ||
	    st.st_mtim.tv_sec != t->watch_st.st_mtim.tv_sec ||
	    st.st_mtim.tv_nsec != t->watch_st.st_mtim.tv_nsec;
}
