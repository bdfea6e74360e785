/* spool_init: the queue directory tree. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tlsrelay/queue.h"
#include "tlsrelay/util.h"

/* public/ lets the mail_owner group reach the qmgr FIFO and nothing
 * else; everything else is for mail_owner alone. */
static const struct {
	const char *name;
	mode_t mode;
} spool_subdirs[] = {
	{ "tmp", 0700 }, { "incoming", 0700 }, { "active", 0700 },
	{ "deferred", 0700 }, { "hold", 0700 }, { "corrupt", 0700 },
	{ "defer", 0700 }, { "spare", 0700 }, { "public", 0710 },
};

#define SPOOL_FIFO	"public/qmgr"
#define SPOOL_FIFO_MODE	0620

/* Creates path as a directory with this mode unless a directory is
 * already there; anything else at that name is an error (a file or a
 * symlink in place of a queue directory would send messages somewhere
 * unexpected). */
static int
spool_mkdir(const char *path, mode_t mode, int follow, uid_t uid, gid_t gid,
    char **err)
{
	struct stat st;

	if (mkdir(path, mode) == 0) {
		/* mkdir() honours the umask; the mode must not depend on it. */
		if (chmod(path, mode) < 0) {
			*err = xasprintf("chmod %s: %s", path, strerror(errno));
			return -1;
		}
	} else if (errno != EEXIST) {
		*err = xasprintf("mkdir %s: %s", path, strerror(errno));
		return -1;
	} else if ((follow ? stat(path, &st) : lstat(path, &st)) < 0) {
		*err = xasprintf("stat %s: %s", path, strerror(errno));
		return -1;
	} else if (!S_ISDIR(st.st_mode)) {
		*err = xasprintf("%s: exists and is not a directory", path);
		return -1;
	}
	/* A subdirectory must not be followed if swapped for a symlink. */
	if (uid != (uid_t)-1 &&
	    (follow ? chown(path, uid, gid) : lchown(path, uid, gid)) < 0) {
		*err = xasprintf("chown %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* The qmgr's notification FIFO. An existing FIFO is kept (a running qmgr
 * may hold it open) but gets its mode and owner again. */
static int
spool_mkfifo(const char *queue_dir, uid_t uid, gid_t gid, char **err)
{
	char *path = xasprintf("%s/%s", queue_dir, SPOOL_FIFO);
	struct stat st;
	int fd = -1, rc = -1;

	if (mkfifo(path, SPOOL_FIFO_MODE) < 0 && errno != EEXIST) {
		*err = xasprintf("mkfifo %s: %s", path, strerror(errno));
		goto out;
	}
	/* Mode and owner are set through a descriptor: public/ belongs to
	 * mail_owner, who must not be able to swap in a symlink between a
	 * check and a chown done as root. Opening a FIFO for reading with
	 * O_NONBLOCK does not wait for a writer. */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		*err = errno == ELOOP ?
		    xasprintf("%s: exists and is not a FIFO", path) :
		    xasprintf("open %s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		*err = xasprintf("stat %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISFIFO(st.st_mode)) {
		*err = xasprintf("%s: exists and is not a FIFO", path);
		goto out;
	}
	if (fchmod(fd, SPOOL_FIFO_MODE) < 0) {
		*err = xasprintf("chmod %s: %s", path, strerror(errno));
		goto out;
	}
	if (uid != (uid_t)-1 && fchown(fd, uid, gid) < 0) {
		*err = xasprintf("chown %s: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(path);
	return rc;
}

int
spool_init(const char *queue_dir, uid_t uid, gid_t gid, char **err)
{
	struct stat st;
	size_t i;

	*err = NULL;
	/* The top directory may be a symlink (a queue on another disk); it is
	 * created only when missing and otherwise left as the admin made it. */
	if (stat(queue_dir, &st) == 0) {
		if (!S_ISDIR(st.st_mode)) {
			*err = xasprintf("%s: exists and is not a directory",
			    queue_dir);
			return -1;
		}
	} else if (spool_mkdir(queue_dir, 0700, 1, uid, gid, err) < 0)
		return -1;

	for (i = 0; i < sizeof(spool_subdirs) / sizeof(spool_subdirs[0]); i++) {
		char *path = xasprintf("%s/%s", queue_dir,
		    spool_subdirs[i].name);
		int rc = spool_mkdir(path, spool_subdirs[i].mode, 0, uid, gid,
		    err);

		free(path);
		if (rc < 0)
			return -1;
	}
	return spool_mkfifo(queue_dir, uid, gid, err);
}

int
spool_init_maildrop(const char *queue_dir, uid_t uid, gid_t drop_gid,
    char **err)
{
	char *maildrop = xasprintf("%s/maildrop", queue_dir);
	char *public = xasprintf("%s/public", queue_dir);
	int rc;

	*err = NULL;
	rc = spool_mkdir(maildrop, 01730, 0, uid, drop_gid, err);
	if (rc == 0)
		rc = spool_mkdir(public, 0710, 0, uid, drop_gid, err);
	if (rc == 0)
		rc = spool_mkfifo(queue_dir, uid, drop_gid, err);
	free(maildrop);
	free(public);
	return rc;
}
