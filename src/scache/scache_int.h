/* scache internals shared by the files of src/scache. */
#ifndef TLSRELAY_SCACHE_INT_H
#define TLSRELAY_SCACHE_INT_H

#include <sys/types.h>
#include <time.h>

#include <db.h>

#include "tlsrelay/scache.h"

/* One environment (home) as this process holds it. */
struct scache_env {
	char *home;
	DB_ENV *dbenv;		/* NULL: not open (never, or broken) */
	int users_fd;		/* shared flock while dbenv is open */
	int guard_fd;		/* scache.guard: see scache_env_enter */
	pid_t pid;		/* the process that opened it */
	unsigned generation;	/* bumped each time dbenv goes away */
	time_t retry_at;	/* after a failure: not before */
	struct scache *dbs;	/* handles with a DB open in dbenv */
	struct scache_env *next;
};

struct scache {
	char *home;
	char *path;		/* with ".db" */
	enum scache_type type;
	int flags;
	DB *db;			/* NULL: not open */
	struct scache_env *env;	/* NULL: opened without environment */
	unsigned env_generation;
	pid_t pid;
	dev_t dev;		/* of the file we opened */
	ino_t ino;
	time_t checked;		/* last stat() of path */
	time_t retry_at;
	struct scache *next_in_env;
};

/* The environment at home, open in this process; NULL when it cannot be
 * used now (logged; tried again later). With readonly, an environment
 * that no one has created yet is not created: *absent is set. */
struct scache_env *scache_env_get(const char *home, int readonly,
    int *absent);
/* A Berkeley DB call said the environment is dead (DB_RUNRECOVERY):
 * close it and every database in it; the next use recreates it. */
void scache_env_fail(struct scache_env *env, int ret);
/* Around every call into the environment's databases: readers share
 * scache.guard's flock, a writer holds it alone and leaves its PID in the
 * file while it writes. The kernel drops the flock of a process that
 * dies, so the next one in finds the PID of a writer that died inside a
 * put -- and so a Concurrent Data Store lock nobody will release -- and
 * replaces the environment instead of waiting for ever; a writer also
 * runs DB_ENV->failchk first, which frees the read locks of readers that
 * died. A lock not had within a fifth of a second is a cache miss.
 * Returns 0 when the call may go ahead, -1 when it must not. */
int scache_env_enter(struct scache_env *env, int write);
void scache_env_leave(struct scache_env *env, int write);
void scache_env_attach(struct scache_env *env, struct scache *sc);
void scache_env_detach(struct scache *sc);
/* One record as stored: the header, then len bytes of data; malloc'd,
 * *size bytes. */
unsigned char *scache_record_encode(time_t created, time_t expires,
    const void *data, size_t len, size_t *size);
/* A stored record's fields: 0, entry->data pointing into rec; -1 for
 * bytes that are not such a record. */
int scache_record_decode(const void *rec, size_t size,
    struct scache_entry *entry);
/* Sends Berkeley DB's messages to msg_warn. */
void scache_errcall(DB_ENV *dbenv, DB *db);
/* Closes sc->db (the handle must belong to this process). */
void scache_db_close(struct scache *sc);

#endif
