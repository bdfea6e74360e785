/* A string-to-string hash table for the tables read into memory
 * (texthash:, inline:). Chained buckets, doubled when full. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tlsrelay/util.h"

#include "table_int.h"

struct ht_entry {
	struct ht_entry *next;
	char *key;
	char *value;
};

struct table_ht {
	struct ht_entry **buckets;
	size_t n_buckets;	/* a power of two */
	size_t count;
};

/* FNV-1a: good enough for keys an administrator writes. */
static size_t
hash_key(const char *key)
{
	uint64_t h = 14695981039346656037ULL;

	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		h ^= *p;
		h *= 1099511628211ULL;
	}
	return (size_t)h;
}

struct table_ht *
table_ht_new(void)
{
	struct table_ht *ht = xcalloc(1, sizeof(*ht));

	ht->n_buckets = 16;
	ht->buckets = xcalloc(ht->n_buckets, sizeof(*ht->buckets));
	return ht;
}

static struct ht_entry *
find(const struct table_ht *ht, const char *key)
{
	struct ht_entry *e;

	for (e = ht->buckets[hash_key(key) & (ht->n_buckets - 1)]; e;
	    e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

const char *
table_ht_get(const struct table_ht *ht, const char *key)
{
	struct ht_entry *e = find(ht, key);

	return e ? e->value : NULL;
}

static void
grow(struct table_ht *ht)
{
	size_t n = ht->n_buckets * 2;
	struct ht_entry **buckets = xcalloc(n, sizeof(*buckets));

	for (size_t i = 0; i < ht->n_buckets; i++) {
		struct ht_entry *e, *next;

		for (e = ht->buckets[i]; e; e = next) {
			size_t b = hash_key(e->key) & (n - 1);

			next = e->next;
			e->next = buckets[b];
			buckets[b] = e;
		}
	}
	free(ht->buckets);
	ht->buckets = buckets;
	ht->n_buckets = n;
}

int
table_ht_put(struct table_ht *ht, const char *key, const char *value,
    int replace)
{
	struct ht_entry *e = find(ht, key);
	size_t b;

	if (e != NULL) {
		if (replace) {
			free(e->value);
			e->value = xstrdup(value);
		}
		return 1;
	}
	if (ht->count >= ht->n_buckets)
		grow(ht);
	e = xmalloc(sizeof(*e));
	e->key = xstrdup(key);
	e->value = xstrdup(value);
	b = hash_key(key) & (ht->n_buckets - 1);
	e->next = ht->buckets[b];
	ht->buckets[b] = e;
	ht->count++;
	return 0;
}

size_t
table_ht_count(const struct table_ht *ht)
{
	return ht->count;
}

void
table_ht_free(struct table_ht *ht)
{
	if (ht == NULL)
		return;
	for (size_t i = 0; i < ht->n_buckets; i++) {
		struct ht_entry *e, *next;

		for (e = ht->buckets[i]; e; e = next) {
			next = e->next;
			free(e->key);
			free(e->value);
			free(e);
		}
	}
	free(ht->buckets);
	free(ht);
}

void
table_ht_each(const struct table_ht *ht, table_each_fn fn, void *arg)
{
	for (size_t i = 0; i < ht->n_buckets; i++)
		for (const struct ht_entry *e = ht->buckets[i]; e != NULL;
		    e = e->next)
			fn(arg, e->key, e->value);
}
