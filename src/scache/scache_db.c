/* scache_db: one cache database: records with a creation and an expiry
 * time, opened lazily in the process that uses it, removed and created
 * anew when it is unreadable, reopened when someone deleted or replaced
 * the file under us. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tlsrelay/log.h"
#include "tlsrelay/util.h"
#include "scache_int.h"

/* Record layout: version byte, created and expires as 64-bit big-endian
 * seconds, then the caller's bytes. Another process may have written it,
 * or a crash cut it: decoding trusts none of it. */
#define REC_VERSION	1
#define REC_HEADER	17
#define REOPEN_SECONDS	60

static void
put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)(v & 0xff);
}

static uint64_t
get_be64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

unsigned char *
scache_record_encode(time_t created, time_t expires, const void *data,
    size_t len, size_t *size)
{
	unsigned char *rec = xmalloc(REC_HEADER + len);

	rec[0] = REC_VERSION;
	put_be64(rec + 1, (uint64_t)created);
	put_be64(rec + 9, (uint64_t)expires);
	if (len)
		memcpy(rec + REC_HEADER, data, len);
	*size = REC_HEADER + len;
	return rec;
}

int
scache_record_decode(const void *rec, size_t size, struct scache_entry *entry)
{
	const unsigned char *p = rec;

	if (size < REC_HEADER || p[0] != REC_VERSION)
		return -1;
	entry->created = (time_t)get_be64(p + 1);
	entry->expires = (time_t)get_be64(p + 9);
	entry->data = (unsigned char *)p + REC_HEADER;
	entry->len = size - REC_HEADER;
	return 0;
}

struct scache *
scache_new(const char *home, enum scache_type type, const char *path,
    int flags)
{
	struct scache *sc = xcalloc(1, sizeof(*sc));

	sc->home = xstrdup(home);
	sc->path = xasprintf("%s.db", path);
	sc->type = type;
	sc->flags = flags;
	return sc;
}

const char *
scache_path(const struct scache *sc)
{
	return sc->path;
}

void
scache_db_close(struct scache *sc)
{
	if (sc->db != NULL && sc->pid == getpid())
		(void)sc->db->close(sc->db, 0);
	/* else: the parent's handle; never touched in a child. */
	sc->db = NULL;
	scache_env_detach(sc);
}

void
scache_free(struct scache *sc)
{
	if (sc == NULL)
		return;
	scache_db_close(sc);
	free(sc->home);
	free(sc->path);
	free(sc);
}

static int
db_open_file(struct scache *sc, DB_ENV *dbenv, DB **out)
{
	DBTYPE type = sc->type == SCACHE_HASH ? DB_HASH : DB_BTREE;
	int readonly = sc->flags & SCACHE_READONLY;
	DB *db;
	int ret;

	if ((ret = db_create(&db, dbenv, 0)) != 0)
		return ret;
	db->set_errpfx(db, "TLS session cache");
	if (dbenv == NULL)
		scache_errcall(NULL, db);
	ret = db->open(db, NULL, sc->path, NULL, type,
	    readonly ? DB_RDONLY : DB_CREATE, 0600);
	if (ret != 0) {
		(void)db->close(db, 0);
		return ret;
	}
	*out = db;
	return 0;
}

/* Opens sc->db; 0, or -1 when the cache is off for now. */
static int
db_open(struct scache *sc, time_t now)
{
	struct scache_env *env;
	struct stat st;
	int absent, ret;

	if (now < sc->retry_at)
		return -1;
	env = scache_env_get(sc->home, sc->flags & SCACHE_READONLY, &absent);
	if (env == NULL && !absent)
		return -1;
	ret = db_open_file(sc, env ? env->dbenv : NULL, &sc->db);
	if (ret != 0 && ret != DB_RUNRECOVERY && ret != ENOMEM &&
	    !(sc->flags & SCACHE_READONLY) && stat(sc->path, &st) == 0) {
		/* Garbage, a truncated file, another program's file: it is
		 * only a cache. */
		msg_warn("%s: cannot open the TLS session cache (%s); "
		    "removing it and creating a new one", sc->path,
		    db_strerror(ret));
		if (unlink(sc->path) < 0)
			msg_warn("unlink %s: %s", sc->path, strerror(errno));
		ret = db_open_file(sc, env ? env->dbenv : NULL, &sc->db);
	}
	if (ret != 0) {
		if (ret == DB_RUNRECOVERY && env != NULL)
			scache_env_fail(env, ret);
		else if (!(sc->flags & SCACHE_READONLY) || ret != ENOENT)
			msg_warn("%s: cannot open the TLS session cache: %s",
			    sc->path, db_strerror(ret));
		sc->db = NULL;
		sc->retry_at = now + (ret == DB_RUNRECOVERY ? 1 :
		    REOPEN_SECONDS);
		return -1;
	}
	sc->pid = getpid();
	sc->checked = now;
	if (stat(sc->path, &st) == 0) {
		sc->dev = st.st_dev;
		sc->ino = st.st_ino;
	}
	if (env != NULL)
		scache_env_attach(env, sc);
	return 0;
}

/* A usable handle for this process, or NULL (the cache is off for now). */
static DB *
usable(struct scache *sc, time_t now)
{
	struct stat st;

	if (sc->db != NULL && sc->pid != getpid()) {
		/* Inherited through fork(): the parent's to close. */
		sc->db = NULL;
		sc->env = NULL;
		sc->next_in_env = NULL;
	}
	if (sc->db != NULL && sc->env != NULL &&
	    sc->env_generation != sc->env->generation)
		scache_db_close(sc);
	/* Once a second: is the file still the one we have open? A cache
	 * deleted by hand is created again rather than written into a
	 * file that nobody else can see. */
	if (sc->db != NULL && now != sc->checked) {
		sc->checked = now;
		if (stat(sc->path, &st) < 0 || st.st_ino != sc->ino ||
		    st.st_dev != sc->dev) {
			msg_warn("%s: the TLS session cache file was removed "
			    "or replaced; opening it again", sc->path);
			scache_db_close(sc);
		}
	}
	if (sc->db == NULL && db_open(sc, now) != 0)
		return NULL;
	return sc->db;
}

/* The guard around a call into an environment (scache_env_enter);
 * a cache without an environment has none. */
static int
enter(struct scache *sc, int write)
{
	return sc->env == NULL ? 0 : scache_env_enter(sc->env, write);
}

static void
leave(struct scache *sc, struct scache_env *env, int write)
{
	/* failed() may have closed the environment (and so its guard). */
	if (env != NULL && sc->env == env)
		scache_env_leave(env, write);
}

/* After a failed call: a dead environment is replaced; a damaged file
 * is removed (it is only a cache) and created again on the next use. */
static void
failed(struct scache *sc, const char *what, int ret)
{
	if (ret == DB_RUNRECOVERY && sc->env != NULL) {
		scache_env_fail(sc->env, ret);
		return;
	}
	msg_warn("%s: TLS session cache %s failed: %s", sc->path, what,
	    db_strerror(ret));
	if (ret == ENOMEM || ret == EAGAIN || ret == DB_LOCK_DEADLOCK)
		return;
	if (!(sc->flags & SCACHE_READONLY)) {
		msg_warn("%s: removing the TLS session cache; a new one will "
		    "be created", sc->path);
		(void)unlink(sc->path);
	}
	scache_db_close(sc);
}

int
scache_get(struct scache *sc, const char *key, time_t now,
    struct scache_entry *entry)
{
	DB *db = usable(sc, now);
	struct scache_env *env;
	DBT k, v;
	int ret;

	memset(entry, 0, sizeof(*entry));
	if (db == NULL)
		return -1;
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = (void *)key;
	k.size = (u_int32_t)strlen(key);
	v.flags = DB_DBT_MALLOC;
	if (enter(sc, 0) < 0)
		return -1;
	env = sc->env;
	ret = db->get(db, NULL, &k, &v, 0);
	leave(sc, env, 0);
	if (ret != 0) {
		if (ret == DB_NOTFOUND)
			return 0;
		failed(sc, "lookup", ret);
		return -1;
	}
	if (scache_record_decode(v.data, v.size, entry) < 0 ||
	    entry->expires <= now) {
		free(v.data);
		memset(entry, 0, sizeof(*entry));
		if (!(sc->flags & SCACHE_READONLY))
			(void)scache_delete(sc, key);
		return 0;
	}
	/* Hand out a buffer of its own: the caller frees entry->data. */
	memmove(v.data, entry->data, entry->len);
	entry->data = v.data;
	return 1;
}

int
scache_put(struct scache *sc, const char *key, time_t created,
    time_t expires, const void *data, size_t len)
{
	DB *db;
	struct scache_env *env;
	DBT k, v;
	unsigned char *rec;
	size_t size;
	int ret;

	if (sc->flags & SCACHE_READONLY || len > 1024 * 1024 ||
	    (db = usable(sc, time(NULL))) == NULL)
		return -1;
	rec = scache_record_encode(created, expires, data, len, &size);
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = (void *)key;
	k.size = (u_int32_t)strlen(key);
	v.data = rec;
	v.size = (u_int32_t)size;
	if (enter(sc, 1) < 0) {
		free(rec);
		return -1;
	}
	env = sc->env;
	ret = db->put(db, NULL, &k, &v, 0);
	leave(sc, env, 1);
	free(rec);
	if (ret != 0) {
		failed(sc, "update", ret);
		return -1;
	}
	return 0;
}

int
scache_delete(struct scache *sc, const char *key)
{
	DB *db;
	struct scache_env *env;
	DBT k;
	int ret;

	if (sc->flags & SCACHE_READONLY ||
	    (db = usable(sc, time(NULL))) == NULL)
		return -1;
	memset(&k, 0, sizeof(k));
	k.data = (void *)key;
	k.size = (u_int32_t)strlen(key);
	if (enter(sc, 1) < 0)
		return -1;
	env = sc->env;
	ret = db->del(db, NULL, &k, 0);
	leave(sc, env, 1);
	if (ret != 0 && ret != DB_NOTFOUND) {
		failed(sc, "delete", ret);
		return -1;
	}
	return 0;
}

/* Visits every record with a cursor; with purge_before != 0 deletes the
 * records expired at that time through a write cursor. */
static long
scan(struct scache *sc, time_t purge_before, scache_walk_fn fn, void *arg)
{
	DB *db = usable(sc, time(NULL));
	struct scache_env *env;
	DBC *dbc;
	DBT k, v;
	long count = 0;
	int ret, stop = 0;

	if (db == NULL || enter(sc, purge_before != 0) < 0)
		return -1;
	env = sc->env;
	/* A write cursor is the Concurrent Data Store way to delete while
	 * scanning; it exists only inside an environment. */
	ret = db->cursor(db, NULL, &dbc, purge_before && sc->env != NULL ?
	    DB_WRITECURSOR : 0);
	if (ret != 0) {
		leave(sc, env, purge_before != 0);
		failed(sc, "scan", ret);
		return -1;
	}
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	while (!stop && (ret = dbc->get(dbc, &k, &v, DB_NEXT)) == 0) {
		struct scache_entry entry;
		int bad = scache_record_decode(v.data, v.size,
		    &entry) < 0;

		if (purge_before) {
			if (bad || entry.expires <= purge_before) {
				if ((ret = dbc->del(dbc, 0)) != 0)
					break;
				count++;
			}
			continue;
		}
		if (bad)
			continue;
		if (fn != NULL) {
			char *key = xstrndup(k.data, k.size);

			stop = fn(arg, key, k.size, &entry);
			free(key);
		}
		count++;
	}
	(void)dbc->close(dbc);
	leave(sc, env, purge_before != 0);
	if (ret != 0 && ret != DB_NOTFOUND) {
		failed(sc, purge_before ? "purge" : "scan", ret);
		return -1;
	}
	return count;
}

long
scache_purge(struct scache *sc, time_t now)
{
	if (sc->flags & SCACHE_READONLY)
		return -1;
	return scan(sc, now > 0 ? now : 1, NULL, NULL);
}

int
scache_walk(struct scache *sc, scache_walk_fn fn, void *arg)
{
	return scan(sc, 0, fn, arg) < 0 ? -1 : 0;
}

struct stats_walk {
	struct scache_stats *st;
	time_t now;
};

static int
stats_fn(void *arg, const char *key, size_t key_len,
    const struct scache_entry *entry)
{
	struct stats_walk *w = arg;
	struct scache_stats *st = w->st;

	(void)key;
	st->entries++;
	if (entry->expires <= w->now)
		st->expired++;
	st->bytes += key_len + entry->len;
	if (st->oldest == 0 || entry->created < st->oldest)
		st->oldest = entry->created;
	if (entry->created > st->newest)
		st->newest = entry->created;
	return 0;
}

int
scache_stats(struct scache *sc, time_t now, struct scache_stats *st)
{
	struct stats_walk w = { st, now };

	memset(st, 0, sizeof(*st));
	return scache_walk(sc, stats_fn, &w);
}
