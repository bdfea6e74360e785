/* queue_ops: what an administrator does to queued messages by ID: hold,
 * release, delete, flush, requeue. Each is a rename, an unlink or a new mtime, so
 * it is atomic on its own; the qmgr learns of it from a notice or its next
 * scan. The qmgr may move the same file at the same time, so a file that
 * vanishes under us is looked up again rather than reported missing.
 *
 * The mtime of a file in deferred/ is the time of its next attempt (as in
 * Postfix): release and flush set it to now so it is retried at once.
 * Requeue (postsuper -r) puts a message back into incoming/, where the
 * queue manager takes it as new mail and routes it with the current
 * configuration. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tlsrelay/queue.h"
#include "tlsrelay/util.h"

/* Every directory where a queue file can be, in the order searched. */
static const char *const queue_dirs[] = {
	"incoming", "active", "deferred", "hold", "corrupt",
};
#define N_QUEUE_DIRS (sizeof(queue_dirs) / sizeof(queue_dirs[0]))

/* A message moved by the qmgr between our lookup and our action is
 * looked up again, a few times. */
#define LOOKUP_TRIES 5

int
queue_id_valid(const char *id, size_t len)
{
	if (len == 0 || len >= QUEUE_ID_MAX)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		    (id[i] >= 'A' && id[i] <= 'F')))
			return 0;
	return 1;
}

/* The directory holding queue file id, or NULL. */
static const char *
find_message(const char *queue_dir, const char *id)
{
	struct stat st;

	for (size_t i = 0; i < N_QUEUE_DIRS; i++) {
		char *path = xasprintf("%s/%s/%s", queue_dir, queue_dirs[i],
		    id);
		int found = lstat(path, &st) == 0 && S_ISREG(st.st_mode);

		free(path);
		if (found)
			return queue_dirs[i];
	}
	return NULL;
}

static int
touch_now(const char *path)
{
	return utimensat(AT_FDCWD, path, NULL, AT_SYMLINK_NOFOLLOW);
}

/* Moves id from dir from to dir to. Returns 0, 1 when the file was gone
 * (ENOENT: look again), -1 with *err. */
static int
move_message(const char *queue_dir, const char *id, const char *from,
    const char *to, int touch, char **err)
{
	char *src = xasprintf("%s/%s/%s", queue_dir, from, id);
	char *dst = xasprintf("%s/%s/%s", queue_dir, to, id);
	int rc = 0;

	/* The new mtime first: the file must never be in deferred/ with
	 * the old (future) retry time after a release. */
	if (touch && touch_now(src) < 0) {
		rc = errno == ENOENT ? 1 : -1;
		if (rc < 0)
			*err = xasprintf("utime %s: %s", src, strerror(errno));
	} else if (rename(src, dst) < 0) {
		rc = errno == ENOENT ? 1 : -1;
		if (rc < 0)
			*err = xasprintf("rename %s to %s: %s", src, dst,
			    strerror(errno));
	}
	free(src);
	free(dst);
	return rc;
}

/* One attempt at op on id found in dir where. Returns a QUEUE_OP_* value,
 * -1 with *err, or -2 when the file moved meanwhile. */
static int
apply_in(const char *queue_dir, enum queue_op op, const char *id,
    const char *where, char **err)
{
	char *path;
	int rc;

	switch (op) {
	case QUEUE_OP_HOLD:
		if (strcmp(where, "hold") == 0)
			return QUEUE_OP_DONE;
		if (strcmp(where, "active") == 0) {
			/* The qmgr records deliveries in the file by path;
			 * moving it now could lose such a record and deliver
			 * a recipient twice after release. */
			*err = xasprintf("%s: is being delivered; try again "
			    "later", id);
			return QUEUE_OP_NOT_APPLICABLE;
		}
		if (strcmp(where, "corrupt") == 0)
			goto corrupt;
		rc = move_message(queue_dir, id, where, "hold", 0, err);
		return rc == 1 ? -2 : rc;
	case QUEUE_OP_RELEASE:
		if (strcmp(where, "hold") != 0) {
			*err = xasprintf("%s: is not on hold", id);
			return QUEUE_OP_NOT_APPLICABLE;
		}
		rc = move_message(queue_dir, id, "hold", "deferred", 1, err);
		return rc == 1 ? -2 : rc;
	case QUEUE_OP_DELETE:
		path = xasprintf("%s/%s/%s", queue_dir, where, id);
		rc = unlink(path);
		if (rc < 0 && errno != ENOENT)
			*err = xasprintf("remove %s: %s", path,
			    strerror(errno));
		rc = rc == 0 ? QUEUE_OP_DONE : errno == ENOENT ? -2 : -1;
		free(path);
		if (rc == QUEUE_OP_DONE)
			defer_log_remove(queue_dir, id);
		return rc;
	case QUEUE_OP_FLUSH:
		if (strcmp(where, "hold") == 0) {
			*err = xasprintf("%s: is on hold", id);
			return QUEUE_OP_NOT_APPLICABLE;
		}
		if (strcmp(where, "corrupt") == 0)
			goto corrupt;
		if (strcmp(where, "deferred") != 0)
			return QUEUE_OP_DONE;	/* on its way already */
		path = xasprintf("%s/%s/%s", queue_dir, where, id);
		rc = touch_now(path);
		if (rc < 0 && errno != ENOENT)
			*err = xasprintf("utime %s: %s", path,
			    strerror(errno));
		rc = rc == 0 ? QUEUE_OP_DONE : errno == ENOENT ? -2 : -1;
		free(path);
		return rc;
	case QUEUE_OP_REQUEUE:
		if (strcmp(where, "incoming") == 0)
			return QUEUE_OP_DONE;	/* taken anew anyway */
		if (strcmp(where, "active") == 0) {
			*err = xasprintf("%s: is being delivered; try again "
			    "later", id);
			return QUEUE_OP_NOT_APPLICABLE;
		}
		if (strcmp(where, "corrupt") == 0)
			goto corrupt;
		rc = move_message(queue_dir, id, where, "incoming", 1, err);
		return rc == 1 ? -2 : rc;
	}
	*err = xasprintf("bad queue operation %d", (int)op);
	return -1;
corrupt:
	*err = xasprintf("%s: is in corrupt/ (only delete applies)", id);
	return QUEUE_OP_NOT_APPLICABLE;
}

int
queue_op_apply(const char *queue_dir, enum queue_op op, const char *id,
    char **err)
{
	*err = NULL;
	if (!queue_id_valid(id, strlen(id))) {
		*err = xasprintf("%s: not a queue ID", id);
		return QUEUE_OP_NOT_FOUND;
	}
	for (int tries = 0; tries < LOOKUP_TRIES; tries++) {
		const char *where = find_message(queue_dir, id);
		int rc;

		if (where == NULL)
			break;
		if ((rc = apply_in(queue_dir, op, id, where, err)) != -2)
			return rc;
	}
	*err = xasprintf("%s: no such message", id);
	return QUEUE_OP_NOT_FOUND;
}

/* The directories whose messages "ALL" means for op. */
static const char *const *
op_sources(enum queue_op op, size_t *n)
{
	static const char *const hold_src[] = { "incoming", "deferred" };
	static const char *const release_src[] = { "hold" };
	static const char *const delete_src[] = {
		"incoming", "active", "deferred", "hold",
	};
	static const char *const flush_src[] = { "deferred" };
	static const char *const requeue_src[] = { "deferred", "hold" };

	switch (op) {
	case QUEUE_OP_HOLD:
		*n = 2;
		return hold_src;
	case QUEUE_OP_RELEASE:
		*n = 1;
		return release_src;
	case QUEUE_OP_DELETE:
		*n = 4;
		return delete_src;
	case QUEUE_OP_FLUSH:
		*n = 1;
		return flush_src;
	case QUEUE_OP_REQUEUE:
		*n = 2;
		return requeue_src;
	}
	*n = 0;
	return NULL;
}

int
queue_op_apply_all(const char *queue_dir, enum queue_op op, size_t *done,
    char **err)
{
	const char *const *sources;
	size_t n_sources;

	*err = NULL;
	*done = 0;
	sources = op_sources(op, &n_sources);
	for (size_t i = 0; i < n_sources; i++) {
		char *dir = xasprintf("%s/%s", queue_dir, sources[i]);
		DIR *dp = opendir(dir);
		struct dirent *de;

		if (dp == NULL) {
			*err = xasprintf("open %s: %s", dir, strerror(errno));
			free(dir);
			return -1;
		}
		while ((de = readdir(dp)) != NULL) {
			int rc;

			if (!queue_id_valid(de->d_name, strlen(de->d_name)))
				continue;
			rc = queue_op_apply(queue_dir, op, de->d_name, err);
			if (rc < 0) {
				closedir(dp);
				free(dir);
				return -1;
			}
			if (rc == QUEUE_OP_DONE)
				(*done)++;
			/* Gone or moved on meanwhile: not ours to report. */
			free(*err);
			*err = NULL;
		}
		closedir(dp);
		free(dir);
	}
	return 0;
}
