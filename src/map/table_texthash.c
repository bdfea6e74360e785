/* texthash: a postmap-syntax text file read into memory at open, so no
 * .db is needed (Postfix's texthash:). */
#include "config.h"

#include <stdlib.h>

#include "tlsrelay/util.h"

#include "table_int.h"

static const char *
texthash_lookup(struct table *t, const char *key, int *error)
{
	(void)error;
	return table_ht_get(t->impl, key);
}

static void
texthash_close(struct table *t)
{
	table_ht_free(t->impl);
}

static int
texthash_each(struct table *t, table_each_fn fn, void *arg, char **err)
{
	(void)err;
	table_ht_each(t->impl, fn, arg);
	return 0;
}

static const struct table_ops texthash_ops = {
	texthash_lookup,
	texthash_close,
	texthash_each,
};

static int
put_first(void *ctx, const char *key, const char *value, char **err)
{
	(void)err;
	return table_ht_put(ctx, key, value, 0);
}

int
table_texthash_open_text(struct table *t, const char *label,
    const char *text, size_t len, char **err)
{
	struct table_ht *ht = table_ht_new();

	if (table_text_entries(label, text, len, t->flags, put_first, ht,
	    err) < 0) {
		table_ht_free(ht);
		return -1;
	}
	t->impl = ht;
	t->ops = &texthash_ops;
	return 0;
}

int
table_texthash_open(struct table *t, const char *name, char **err)
{
	size_t len;
	char *text;
	int ret;

	/* Stat before reading: a change during the read shows as changed. */
	table_watch(t, name);
	if ((text = file_read(name, &len, err)) == NULL)
		return -1;
	ret = table_texthash_open_text(t, name, text, len, err);
	free(text);
	return ret;
}
