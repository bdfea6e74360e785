/* scache: the store behind the TLS session caches and the ticket keys.
 *
 * Every process (smtpd workers, qmgr, `tlsrelay cache`) opens the same
 * Berkeley DB environment, whose home is data_directory, and in it one
 * database per cache (smtpd_tls_session_cache_database,
 * smtp_tls_session_cache_database) plus the ticket keys. Records are
 * opaque bytes with a creation and an expiry time; what they mean (an
 * SSL_SESSION, a ticket key) is the business of src/tls. Keeping
 * OpenSSL out of here keeps the store replaceable (lmdb: later).
 *
 * It is only a cache: every failure (unreadable, corrupt or deleted
 * file, a broken environment) is a warning and a miss, never fatal; a bad
 * file is removed and created anew. Handles never cross fork(): a handle
 * used in another process than the one that opened it is reopened. */
#ifndef TLSRELAY_SCACHE_H
#define TLSRELAY_SCACHE_H

#include <stddef.h>
#include <time.h>

/* The ticket keys' database, in the environment's home. */
#define SCACHE_TICKET_KEYS	"tls_ticket_keys"

enum scache_type {
	SCACHE_NONE,		/* empty parameter: no database */
	SCACHE_BTREE,
	SCACHE_HASH,
};

/* Parses a cache parameter ("btree:/var/lib/tlsrelay/smtpd_scache").
 * Empty: SCACHE_NONE. btree: and hash: are Berkeley DB; another type
 * Postfix knows (lmdb:, sdbm:) is served by btree: with *warning set
 * (caller frees) so the administrator learns it. Returns 0, or -1 with
 * *err set for a value without "type:" or a relative path. *path is
 * malloc'd (without ".db"). */
int scache_parse_spec(const char *spec, enum scache_type *type, char **path,
    char **warning, char **err);

struct scache;

/* Never create or write: for `tlsrelay cache`. */
#define SCACHE_READONLY	0x1

/* A database path (".db" is appended) in the environment at home. Does
 * not touch the disk: the first operation opens it. */
struct scache *scache_new(const char *home, enum scache_type type,
    const char *path, int flags);
void scache_free(struct scache *sc);
const char *scache_path(const struct scache *sc);	/* with ".db" */

/* One record. data is malloc'd by scache_get (caller frees). */
struct scache_entry {
	time_t created;
	time_t expires;
	unsigned char *data;
	size_t len;
};

/* 1 and *entry when key is there and not expired at now; 0 when it is
 * not (an expired record is deleted on the way); -1 when the store
 * cannot be used now (already logged). */
int scache_get(struct scache *sc, const char *key, time_t now,
    struct scache_entry *entry);
/* Stores (replaces) a record. 0, or -1 (logged). */
int scache_put(struct scache *sc, const char *key, time_t created,
    time_t expires, const void *data, size_t len);
int scache_delete(struct scache *sc, const char *key);
/* Removes every record expired at now. Returns how many, or -1. */
long scache_purge(struct scache *sc, time_t now);

/* Calls fn for each record (expired ones too) until fn returns non-zero.
 * Returns 0, or -1 when the store cannot be read. */
typedef int (*scache_walk_fn)(void *arg, const char *key, size_t key_len,
    const struct scache_entry *entry);
int scache_walk(struct scache *sc, scache_walk_fn fn, void *arg);

/* What `tlsrelay cache` prints for one database. */
struct scache_stats {
	unsigned long entries;
	unsigned long expired;
	unsigned long long bytes;	/* keys and values */
	time_t oldest;			/* creation times; 0 when empty */
	time_t newest;
};
int scache_stats(struct scache *sc, time_t now, struct scache_stats *st);

/* Drops this process's environment handles (at exit; also after fork in
 * a process that will not use them). */
void scache_shutdown(void);

#endif
