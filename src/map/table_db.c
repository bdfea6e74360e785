/* hash: and btree: tables: Berkeley DB files NAME.db in postmap's layout,
 * opened read-only. postmap stores keys and values with a trailing NUL;
 * other writers may not: a lookup tries the key with the NUL, then
 * without, and keeps to whichever convention answered first (Postfix's
 * DICT_FLAG_TRY1NULL / TRY0NULL). */
#include "config.h"

#include <db.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tlsrelay/log.h"
#include "tlsrelay/util.h"

#include "table_int.h"

#define TRY1NULL	0x01	/* try the key with its trailing NUL */
#define TRY0NULL	0x02	/* try the key without it */

/* Postfix's berkeley_db_read_buffer_size. */
#define READ_CACHE_SIZE	(128 * 1024)

/* A source edited in the last 100 seconds is probably being rebuilt right
 * now; Postfix stays quiet about it too. */
#define STALE_GRACE	100

struct db_table {
	DB *db;
	int fd;			/* for flock, as postmap and Postfix readers */
	int try;		/* TRY1NULL | TRY0NULL */
	struct strbuf value;	/* the last value found, NUL-terminated */
};

static char db_message[512];

static void
capture(const DB_ENV *env, const char *prefix, const char *msg)
{
	(void)env;
	(void)prefix;
	snprintf(db_message, sizeof(db_message), "%s", msg);
}

void
table_db_capture_errors(DB *db)
{
	db->set_errcall(db, capture);
}

const char *
table_db_error(int code)
{
	static char text[sizeof(db_message)];

	if (db_message[0] == '\0')
		return db_strerror(code);
	memcpy(text, db_message, sizeof(text));
	db_message[0] = '\0';
	return text;
}

/* 0 found, DB_NOTFOUND, or another DB error. */
static int
get(struct db_table *dt, const char *key, size_t key_len, DBT *value)
{
	DBT k;
	int ret;

	memset(&k, 0, sizeof(k));
	memset(value, 0, sizeof(*value));
	k.data = (void *)key;
	k.size = (u_int32_t)key_len;
	/* postmap rebuilds in place under an exclusive flock. */
	if (dt->fd >= 0)
		(void)flock(dt->fd, LOCK_SH);
	ret = dt->db->get(dt->db, NULL, &k, value, 0);
	if (dt->fd >= 0)
		(void)flock(dt->fd, LOCK_UN);
	return ret;
}

static const char *
db_lookup(struct table *t, const char *key, int *error)
{
	struct db_table *dt = t->impl;
	size_t len = strlen(key);
	DBT value;
	int ret = DB_NOTFOUND;

	if (dt->try & TRY1NULL) {
		ret = get(dt, key, len + 1, &value);
		if (ret == 0)
			dt->try = TRY1NULL;
	}
	if (ret == DB_NOTFOUND && (dt->try & TRY0NULL)) {
		ret = get(dt, key, len, &value);
		if (ret == 0)
			dt->try = TRY0NULL;
	}
	if (ret == DB_NOTFOUND)
		return NULL;
	if (ret != 0) {
		msg_warn("%s: lookup of \"%s\" failed: %s", t->spec, key,
		    table_db_error(ret));
		if (error != NULL)
			*error = 1;
		return NULL;
	}
	strbuf_reset(&dt->value);
	strbuf_append(&dt->value, value.data, value.size);
	/* The stored NUL, if any, ends the string; so does an inner one. */
	return dt->value.data;
}

static void
db_close(struct table *t)
{
	struct db_table *dt = t->impl;

	if (dt == NULL)
		return;
	if (dt->db != NULL)
		dt->db->close(dt->db, 0);
	strbuf_free(&dt->value);
	free(dt);
}

/* A cursor over the whole file. Keys and values are stored with or
 * without their NUL (postmap writes one, older tools none): what is
 * printed stops at the first NUL either way. */
static int
db_each(struct table *t, table_each_fn fn, void *arg, char **err)
{
	struct db_table *dt = t->impl;
	struct strbuf key, value;
	DBT k, v;
	DBC *cursor;
	int ret;

	if ((ret = dt->db->cursor(dt->db, NULL, &cursor, 0)) != 0) {
		*err = xasprintf("%s: %s", t->spec, table_db_error(ret));
		return -1;
	}
	strbuf_init(&key);
	strbuf_init(&value);
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	while ((ret = cursor->get(cursor, &k, &v, DB_NEXT)) == 0) {
		strbuf_reset(&key);
		strbuf_append(&key, k.data, k.size);
		strbuf_append(&key, "", 1);
		strbuf_reset(&value);
		strbuf_append(&value, v.data, v.size);
		strbuf_append(&value, "", 1);
		fn(arg, key.data, value.data);
	}
	cursor->close(cursor);
	strbuf_free(&key);
	strbuf_free(&value);
	if (ret != DB_NOTFOUND) {
		*err = xasprintf("%s: %s", t->spec, table_db_error(ret));
		return -1;
	}
	return 0;
}

static const struct table_ops db_ops = {
	db_lookup,
	db_close,
	db_each,
};

static void
warn_if_stale(const char *source, const char *db_path, const struct stat *db)
{
	struct stat st;

	if (stat(source, &st) == 0 && st.st_mtime > db->st_mtime &&
	    st.st_mtime < time(NULL) - STALE_GRACE)
		msg_warn("database %s is older than source file %s", db_path,
		    source);
}

int
table_db_open(struct table *t, const char *name, char **err)
{
	struct db_table *dt;
	char *db_path = xasprintf("%s.db", name);
	struct stat st;
	int ret;

	dt = xcalloc(1, sizeof(*dt));
	dt->fd = -1;
	dt->try = TRY1NULL | TRY0NULL;
	strbuf_init(&dt->value);
	t->impl = dt;
	t->ops = &db_ops;
	if ((ret = db_create(&dt->db, NULL, 0)) != 0) {
		*err = xasprintf("open database %s: %s", db_path,
		    db_strerror(ret));
		goto fail;
	}
	table_db_capture_errors(dt->db);
	(void)dt->db->set_cachesize(dt->db, 0, READ_CACHE_SIZE, 0);
	ret = dt->db->open(dt->db, NULL, db_path, NULL,
	    t->type->db_type, DB_RDONLY, 0);
	if (ret != 0) {
		*err = xasprintf("open database %s: %s", db_path,
		    table_db_error(ret));
		goto fail;
	}
	if (dt->db->fd(dt->db, &dt->fd) != 0)
		dt->fd = -1;
	table_watch(t, db_path);
	/* Watch the file actually opened, even if renamed over since. */
	if (dt->fd >= 0 && fstat(dt->fd, &st) == 0)
		t->watch_st = st;
	warn_if_stale(name, db_path, &t->watch_st);
	free(db_path);
	return 0;
fail:
	free(db_path);
	return -1;
}
