/* Internals of the type:name tables (src/map/table*.c): the per-type
 * operations, the postmap text-source reader, the brace tokenizer and a
 * small string hash. Nothing outside src/map/ includes this. */
#ifndef TLSRELAY_TABLE_INT_H
#define TLSRELAY_TABLE_INT_H

#include <db.h>
#include <stddef.h>
#include <sys/stat.h>

#include "tlsrelay/map.h"
#include "tlsrelay/util.h"

struct table_ops {
	/* key is already folded when the table folds keys. */
	const char *(*lookup)(struct table *t, const char *key, int *error);
	void (*close)(struct table *t);
	/* Every entry, in the table's own order (postmap -s); NULL for
	 * types that cannot list (cidr, static: Postfix's neither). */
	int (*each)(struct table *t, table_each_fn fn, void *arg, char **err);
};

/* One entry of the type registry (table.c): the only place that knows
 * which types exist. */
struct table_type {
	const char *name;		/* "hash" */
	DBTYPE db_type;			/* DB_HASH, DB_BTREE; else DB_UNKNOWN */
	int key_value_source;		/* NAME, or NAME.db's source, is a
					 * postmap "key value" file */
	/* Fill t->ops and t->impl; name is the part after "type:". Return
	 * 0, or -1 with *err set, leaving t so that table_close() frees
	 * whatever was set up. */
	int (*open)(struct table *t, const char *name, char **err);
	/* From text in memory (table_open_text); NULL: no text source. */
	int (*open_text)(struct table *t, const char *label,
	    const char *text, size_t len, char **err);
};

/* The registry entry of type, or NULL. */
const struct table_type *table_type_find(const char *type);
/* "unsupported table type "T" in "SPEC" (supported: hash btree ...)". */
char *table_type_error(const char *type, const char *spec);

struct table {
	const struct table_type *type;
	const struct table_ops *ops;
	char *spec;		/* "hash:/etc/x", as given */
	int flags;		/* TABLE_* */
	int fold;		/* lookups fold the key to lower case */
	char *watch_path;	/* file table_changed() looks at, or NULL */
	struct stat watch_st;	/* its state at open */
	struct strbuf key_buf;	/* the folded key of the current lookup */
	void *impl;		/* owned by the type; freed by ops->close */
};

/* Per-type openers, as struct table_type describes them. */
int table_db_open(struct table *t, const char *name, char **err);
int table_texthash_open(struct table *t, const char *name, char **err);
int table_inline_open(struct table *t, const char *name, char **err);
int table_static_open(struct table *t, const char *name, char **err);
int table_cidr_open(struct table *t, const char *name, char **err);
/* From text in memory (cidr:{...}, table_open_text). */
int table_texthash_open_text(struct table *t, const char *label,
    const char *text, size_t len, char **err);
int table_cidr_open_text(struct table *t, const char *label,
    const char *text, size_t len, char **err);

/* Records t->watch_path and its current stat for table_changed(). */
void table_watch(struct table *t, const char *path);

/* ---- Berkeley DB (table_db.c) ---- */

/* Routes the messages of a DB handle to table_db_error() instead of
 * stderr. */
void table_db_capture_errors(DB *db);
/* The text for a DB return code: the handle's last message if it had
 * one, else db_strerror(code). Clears the captured message. */
const char *table_db_error(int code);

/* ---- text sources (table_text.c) ---- */

/* Called once per logical line, with the line's first physical line
 * number. line is writable and owned by the reader. Returns 0, or -1 with
 * *err set, which stops the reading. */
typedef int (*table_line_fn)(void *ctx, char *line, int lineno, char **err);

/* Reads text as postmap does: comment lines (first non-blank '#') and
 * blank lines are skipped, a line starting with white space continues the
 * logical line, trailing white space is removed. Errors: "label:N: ...". */
int table_text_lines(const char *label, const char *text, size_t len,
    table_line_fn fn, void *ctx, char **err);
/* Splits a logical line into key and value (leading white space of the
 * value skipped). Returns 0, or -1 when either is missing. */
int table_split_entry(char *line, char **key, char **value);
/* The "key whitespace value" reader shared by texthash and the BDB build:
 * calls put for each entry with the key folded (unless TABLE_NO_FOLD);
 * put returns 1 when the key exists already (duplicate: warning, the
 * first one stays), 0 when stored, -1 with *err on failure. */
typedef int (*table_put_fn)(void *ctx, const char *key, const char *value,
    char **err);
int table_text_entries(const char *label, const char *text, size_t len,
    int flags, table_put_fn put, void *ctx, char **err);

/* ---- braces (table_text.c) ---- */

/* The index of the '}' matching the '{' at s[0], or 0 when unbalanced. */
size_t table_brace_end(const char *s);
/* The next element of a brace-aware list: skips separators, returns a
 * copy of the next word (a word may contain balanced {...}), or of the
 * inside of a {...} element with surrounding white space trimmed when
 * strip_braces is set. *braced tells which. Returns NULL at the end, or
 * on unbalanced braces with *err set. Caller frees. */
char *table_next_element(const char **cursor, const char *separators,
    int strip_braces, int *braced, char **err);

/* ---- string hash (table_hash.c) ---- */

struct table_ht;
struct table_ht *table_ht_new(void);
const char *table_ht_get(const struct table_ht *ht, const char *key);
/* Stores a copy of key and value. An existing key keeps its value unless
 * replace is set. Returns 1 when the key existed, else 0. */
int table_ht_put(struct table_ht *ht, const char *key, const char *value,
    int replace);
size_t table_ht_count(const struct table_ht *ht);
void table_ht_each(const struct table_ht *ht, table_each_fn fn, void *arg);
void table_ht_free(struct table_ht *ht);

#endif
