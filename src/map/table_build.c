/* Compiles a postmap-syntax text file into FILE.db (hash: or btree:),
 * in postmap's layout: keys folded to lower case, key and value stored
 * with their trailing NUL, the first of duplicate keys kept.
 *
 * postmap rewrites FILE.db in place under a lock; here the database is
 * written to a temporary file beside it, synced, and renamed over FILE.db,
 * so a reader sees the old or the new file, never a half-built one, and
 * a process that has the old one open goes on reading it. */
#include "config.h"

#include <db.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tlsrelay/map.h"
#include "tlsrelay/util.h"

#include "table_int.h"

/* Postfix's berkeley_db_create_buffer_size. */
#define CREATE_CACHE_SIZE	(16 * 1024 * 1024)

static int
put_entry(void *ctx, const char *key, const char *value, char **err)
{
	DB *db = ctx;
	DBT k, v;
	int ret;

	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = (void *)key;
	k.size = (u_int32_t)strlen(key) + 1;
	v.data = (void *)value;
	v.size = (u_int32_t)strlen(value) + 1;
	ret = db->put(db, NULL, &k, &v, DB_NOOVERWRITE);
	if (ret == DB_KEYEXIST)
		return 1;
	if (ret != 0) {
		*err = xasprintf("cannot store entry: %s", table_db_error(ret));
		return -1;
	}
	return 0;
}

/* Makes a completed rename durable. */
static int
sync_directory_of(const char *path, char **err)
{
	char *copy = xstrdup(path);
	const char *dir = dirname(copy);
	int ret = 0;

	if (fsync_dir(dir) < 0) {
		*err = xasprintf("sync directory %s: %s", dir,
		    strerror(errno));
		ret = -1;
	}
	free(copy);
	return ret;
}

/* The new database gets the source's permission bits and, when we are
 * root, its owner: postmap runs as the source file's owner. A secret
 * source (a password map, mode 0600) gives a secret database. */
static int
copy_owner_and_mode(int fd, const struct stat *source, const char *tmp,
    char **err)
{
	if (fchmod(fd, source->st_mode & 0666) < 0) {
		*err = xasprintf("chmod %s: %s", tmp, strerror(errno));
		return -1;
	}
	if (geteuid() == 0 && (source->st_uid != 0 || source->st_gid != 0) &&
	    fchown(fd, source->st_uid, source->st_gid) < 0) {
		*err = xasprintf("chown %s: %s", tmp, strerror(errno));
		return -1;
	}
	return 0;
}

static int
write_database(const char *source, const char *tmp, DBTYPE db_type,
    const char *text, size_t len, int flags, char **err)
{
	DB *db;
	int ret;

	if ((ret = db_create(&db, NULL, 0)) != 0) {
		*err = xasprintf("create database %s: %s", tmp,
		    db_strerror(ret));
		return -1;
	}
	table_db_capture_errors(db);
	(void)db->set_cachesize(db, 0, CREATE_CACHE_SIZE, 0);
	/* The file exists (mkstemp) and is empty: Berkeley DB creates its
	 * database in it. */
	ret = db->open(db, NULL, tmp, NULL, db_type, DB_CREATE, 0600);
	if (ret != 0) {
		*err = xasprintf("create database %s: %s", tmp,
		    table_db_error(ret));
		db->close(db, 0);
		return -1;
	}
	if (table_text_entries(source, text, len, flags, put_entry, db,
	    err) < 0) {
		db->close(db, DB_NOSYNC);
		return -1;
	}
	if ((ret = db->close(db, 0)) != 0) {
		*err = xasprintf("write database %s: %s", tmp,
		    table_db_error(ret));
		return -1;
	}
	return 0;
}

int
table_build(const char *spec, int flags, char **err)
{
	const char *colon = strchr(spec, ':'), *source;
	const struct table_type *tt;
	char *type, *text = NULL, *db_path = NULL, *tmp = NULL;
	struct stat st;
	size_t len;
	DBTYPE db_type;
	int fd = -1, ret = -1;

	*err = NULL;
	if (colon == NULL || colon == spec || colon[1] == '\0') {
		*err = xasprintf("expecting \"type:name\" form instead of "
		    "\"%s\"", spec);
		return -1;
	}
	type = xstrndup(spec, (size_t)(colon - spec));
	source = colon + 1;
	if ((tt = table_type_find(type)) == NULL) {
		*err = table_type_error(type, spec);
		goto out;
	}
	if ((db_type = tt->db_type) == DB_UNKNOWN) {
		*err = xasprintf("%s: tables of type %s are read as they are; "
		    "only hash: and btree: are built", spec, type);
		goto out;
	}
	if ((text = file_read(source, &len, err)) == NULL)
		goto out;
	if (stat(source, &st) < 0) {
		*err = xasprintf("stat %s: %s", source, strerror(errno));
		goto out;
	}
	db_path = xasprintf("%s.db", source);
	tmp = xasprintf("%s.tmpXXXXXX", db_path);
	if ((fd = mkstemp(tmp)) < 0) {
		*err = xasprintf("create %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (copy_owner_and_mode(fd, &st, tmp, err) < 0 ||
	    write_database(source, tmp, db_type, text, len, flags, err) < 0)
		goto out;
	if (fsync(fd) < 0) {
		*err = xasprintf("sync %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (rename(tmp, db_path) < 0) {
		*err = xasprintf("rename %s to %s: %s", tmp, db_path,
		    strerror(errno));
		goto out;
	}
	free(tmp);
	tmp = NULL;
	ret = sync_directory_of(db_path, err);
out:
	if (fd >= 0)
		close(fd);
	if (tmp != NULL && fd >= 0)
		unlink(tmp);
	free(tmp);
	free(db_path);
	free(text);
	free(type);
	return ret;
}
