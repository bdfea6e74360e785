/* scache_env: the Berkeley DB environment under data_directory, one
 * handle per process.
 *
 * Locking: Concurrent Data Store (DB_INIT_CDB | DB_INIT_MPOOL). A session
 * cache needs no transactions: a record is written whole by one put, a
 * lost record costs one full handshake, and nothing has to survive a
 * crash. CDS gives exactly what the processes need -- one writer at a
 * time, any number of readers, a shared page cache so that every process
 * sees every write at once -- without logs to trim or recovery to run.
 *
 * CDS's weak spot is a process that dies while it holds the write lock:
 * the lock stays in the shared region. Two guards, both based on
 * flock(2), whose locks the kernel drops when a process dies:
 *   - scache.users: every process holds it shared while its handle is
 *     open. A process that can take it exclusively is alone, so the
 *     region left behind by a crash (stale locks included) is removed
 *     and created fresh: a restart after any crash starts clean.
 *   - scache.lock: held exclusively only while opening, so that check
 *     and creation are one step for everybody.
 *   - scache.guard: held shared by readers and exclusively by a writer
 *     around every call (scache_env_enter): a writer killed inside a
 *     put is found by the next process in, which replaces the
 *     environment rather than wait for the lock it left.
 * After opening, and before every write, DB_ENV->failchk finds lockers
 * that died; their read locks are freed, a dead writer panics the
 * environment, and every process then closes it and opens a fresh one
 * (see scache_env_fail). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tlsrelay/log.h"
#include "tlsrelay/util.h"
#include "scache_int.h"

#define LOCK_FILE	"scache.lock"
#define USERS_FILE	"scache.users"
#define GUARD_FILE	"scache.guard"
#define GUARD_WAIT_MS	200
#define RETRY_SECONDS	10
#define MAX_PROCESSES	512	/* thread table for failchk */
#define CACHE_BYTES	(8 * 1024 * 1024)

static struct scache_env *envs;
/* Handles inherited through fork(): never used, never closed here (the
 * parent owns them), kept reachable. */
static struct scache_env *inherited;
static int atexit_done;

static int
is_alive(DB_ENV *dbenv, pid_t pid, db_threadid_t tid, u_int32_t flags)
{
	(void)dbenv;
	(void)tid;
	(void)flags;
	return kill(pid, 0) == 0 || errno == EPERM;
}

static int
open_lock(const char *home, const char *name, int create)
{
	char *path = xasprintf("%s/%s", home, name);
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
	if (fd < 0 && !(errno == ENOENT && !create))
		msg_warn("TLS session cache: open %s: %s", path,
		    strerror(errno));
	free(path);
	return fd;
}

/* scache.guard, read and written: it holds a writer's PID. */
static int
open_guard(const char *home, int create)
{
	char *path = xasprintf("%s/%s", home, GUARD_FILE);
	int fd;

	fd = open(path, O_RDWR | O_CLOEXEC | (create ? O_CREAT : 0), 0600);
	if (fd < 0 && !(errno == ENOENT && !create))
		msg_warn("TLS session cache: open %s: %s", path,
		    strerror(errno));
	free(path);
	return fd;
}

/* Removes the region files a dead set of processes left behind. */
static void
remove_stale_region(const char *home)
{
	DB_ENV *dbenv;

	if (db_env_create(&dbenv, 0) != 0)
		return;
	/* DB_FORCE: whatever the region says about its users, they are
	 * gone -- the users lock proves it. */
	(void)dbenv->remove(dbenv, home, DB_FORCE);
}

/* Berkeley DB's own messages go to our log. */
static void
db_message(const DB_ENV *dbenv, const char *prefix, const char *text)
{
	(void)dbenv;
	msg_warn("%s: %s", prefix ? prefix : "Berkeley DB", text);
}

void
scache_errcall(DB_ENV *dbenv, DB *db)
{
	if (dbenv != NULL)
		dbenv->set_errcall(dbenv, db_message);
	if (db != NULL)
		db->set_errcall(db, db_message);
}

static int
open_dbenv(struct scache_env *env, int create)
{
	DB_ENV *dbenv;
	int ret;

	if ((ret = db_env_create(&dbenv, 0)) != 0)
		return ret;
	dbenv->set_errpfx(dbenv, "TLS session cache");
	scache_errcall(dbenv, NULL);
	(void)dbenv->set_thread_count(dbenv, MAX_PROCESSES);
	(void)dbenv->set_isalive(dbenv, is_alive);
	(void)dbenv->set_cachesize(dbenv, 0, CACHE_BYTES, 1);
	ret = dbenv->open(dbenv, env->home, (create ? DB_CREATE : 0) |
	    DB_INIT_CDB | DB_INIT_MPOOL, 0600);
	if (ret == 0)
		ret = dbenv->failchk(dbenv, 0);
	if (ret != 0) {
		(void)dbenv->close(dbenv, 0);
		return ret;
	}
	env->dbenv = dbenv;
	return 0;
}

static void
close_dbenv(struct scache_env *env)
{
	while (env->dbs != NULL)
		scache_db_close(env->dbs);
	if (env->dbenv != NULL)
		(void)env->dbenv->close(env->dbenv, 0);
	env->dbenv = NULL;
	if (env->users_fd >= 0)
		close(env->users_fd);
	env->users_fd = -1;
	if (env->guard_fd >= 0)
		close(env->guard_fd);
	env->guard_fd = -1;
	env->generation++;
}

/* Opens env->dbenv under the two locks; 0 or a Berkeley DB / errno. */
static int
env_open(struct scache_env *env, int readonly, int *absent)
{
	int lock_fd, alone, ret;

	if ((lock_fd = open_lock(env->home, LOCK_FILE, !readonly)) < 0) {
		if (readonly && errno == ENOENT)
			*absent = 1;
		return errno;
	}
	if ((env->users_fd = open_lock(env->home, USERS_FILE,
	    !readonly)) < 0) {
		ret = errno;
		if (readonly && ret == ENOENT)
			*absent = 1;
		close(lock_fd);
		return ret;
	}
	while (flock(lock_fd, LOCK_EX) < 0 && errno == EINTR)
		;
	alone = flock(env->users_fd, LOCK_EX | LOCK_NB) == 0;
	if (alone && !readonly)
		remove_stale_region(env->home);
	/* Under the open lock nobody can see the change from exclusive to
	 * shared half done. */
	while (flock(env->users_fd, LOCK_SH) < 0 && errno == EINTR)
		;
	if (alone && readonly)
		*absent = 1;	/* nobody runs: read the files alone */
	ret = *absent ? ENOENT : open_dbenv(env, !readonly);
	/* A reader made before the guard existed goes without it. */
	if (ret == 0 && (env->guard_fd = open_guard(env->home,
	    !readonly)) < 0 && !readonly)
		ret = errno;
	close(lock_fd);			/* drops the open lock */
	if (ret != 0) {
		close(env->users_fd);
		env->users_fd = -1;
		if (env->dbenv != NULL)
			(void)env->dbenv->close(env->dbenv, 0);
		env->dbenv = NULL;
	}
	return ret;
}

static struct scache_env *
find_env(const char *home)
{
	struct scache_env **pp, *env;
	pid_t self = getpid();

	for (pp = &envs; (env = *pp) != NULL; pp = &env->next) {
		if (env->pid != self) {
			/* Opened before a fork(): the parent's. */
			*pp = env->next;
			env->next = inherited;
			inherited = env;
			if (env->users_fd >= 0)
				close(env->users_fd);
			if (env->guard_fd >= 0)
				close(env->guard_fd);
			return find_env(home);
		}
		if (strcmp(env->home, home) == 0)
			return env;
	}
	env = xcalloc(1, sizeof(*env));
	env->home = xstrdup(home);
	env->users_fd = -1;
	env->guard_fd = -1;
	env->pid = self;
	env->next = envs;
	envs = env;
	if (!atexit_done) {
		atexit(scache_shutdown);
		atexit_done = 1;
	}
	return env;
}

struct scache_env *
scache_env_get(const char *home, int readonly, int *absent)
{
	struct scache_env *env = find_env(home);
	time_t now = time(NULL);
	int ret;

	*absent = 0;
	if (env->dbenv != NULL)
		return env;
	if (now < env->retry_at)
		return NULL;
	if ((ret = env_open(env, readonly, absent)) != 0) {
		if (*absent)
			return NULL;
		msg_warn("TLS session cache: cannot open the environment in "
		    "%s: %s; going on without cache for %d seconds", home,
		    db_strerror(ret), RETRY_SECONDS);
		env->retry_at = now + RETRY_SECONDS;
		return NULL;
	}
	return env;
}

void
scache_env_fail(struct scache_env *env, int ret)
{
	msg_warn("TLS session cache: the environment in %s failed (%s); "
	    "opening a new one", env->home, db_strerror(ret));
	close_dbenv(env);
	/* A short pause lets every process let go, so that one of them is
	 * alone and can remove the broken region. */
	env->retry_at = time(NULL) + 1;
}

/* The PID a writer left in the guard file; 0 when none. */
static pid_t
guard_writer(int fd)
{
	char buf[16];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return (pid_t)strtol(buf, NULL, 10);
}

static void
guard_mark(int fd, pid_t pid)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%10ld\n", (long)pid);

	if (pwrite(fd, buf, (size_t)len, 0) != len)
		msg_warn("TLS session cache: write %s: %s", GUARD_FILE,
		    strerror(errno));
}

int
scache_env_enter(struct scache_env *env, int write)
{
	int op = (write ? LOCK_EX : LOCK_SH) | LOCK_NB;
	pid_t dead;

	if (env->guard_fd < 0)
		return 0;
	for (int waited = 0; flock(env->guard_fd, op) < 0; waited++) {
		if ((errno != EWOULDBLOCK && errno != EINTR) ||
		    waited >= GUARD_WAIT_MS)
			return -1;	/* a miss, not a stall */
		usleep(1000);
	}
	if ((dead = guard_writer(env->guard_fd)) != 0) {
		msg_warn("TLS session cache: process %ld died while writing "
		    "to it", (long)dead);
		guard_mark(env->guard_fd, 0);
		(void)flock(env->guard_fd, LOCK_UN);
		scache_env_fail(env, DB_RUNRECOVERY);
		return -1;
	}
	if (!write)
		return 0;
	/* No live process is inside the environment: every lock in it is
	 * a dead process's. */
	if (env->dbenv->failchk(env->dbenv, 0) != 0) {
		(void)flock(env->guard_fd, LOCK_UN);
		scache_env_fail(env, DB_RUNRECOVERY);
		return -1;
	}
	guard_mark(env->guard_fd, getpid());
	return 0;
}

void
scache_env_leave(struct scache_env *env, int write)
{
	if (env->guard_fd < 0)
		return;
	if (write)
		guard_mark(env->guard_fd, 0);
	(void)flock(env->guard_fd, LOCK_UN);
}

void
scache_env_attach(struct scache_env *env, struct scache *sc)
{
	sc->env = env;
	sc->env_generation = env->generation;
	sc->next_in_env = env->dbs;
	env->dbs = sc;
}

void
scache_env_detach(struct scache *sc)
{
	struct scache **pp;

	if (sc->env == NULL)
		return;
	for (pp = &sc->env->dbs; *pp != NULL; pp = &(*pp)->next_in_env)
		if (*pp == sc) {
			*pp = sc->next_in_env;
			break;
		}
	sc->env = NULL;
	sc->next_in_env = NULL;
}

void
scache_shutdown(void)
{
	struct scache_env *env;
	pid_t self = getpid();

	while ((env = envs) != NULL) {
		envs = env->next;
		if (env->pid == self)
			close_dbenv(env);
		else {
			env->next = inherited;
			inherited = env;
			continue;
		}
		free(env->home);
		free(env);
	}
}
