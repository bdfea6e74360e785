/* spool_init: the queue directory tree. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tlsrelay/queue.h"
#include "tlsrelay/util.h"

static const char *const spool_subdirs[] = {
	"tmp", "incoming", "active", "deferred", "hold", "corrupt",
};

/* Creates path as a 0700 directory unless a directory is already there;
 * anything else at that name is an error (a file or a symlink in place of
 * a queue directory would send messages somewhere unexpected). */
static int
spool_mkdir(const char *path, int follow, uid_t uid, gid_t gid, char **err)
{
	struct stat st;

	if (mkdir(path, 0700) == 0) {
		/* mkdir() honours the umask; the mode must not depend on it. */
		if (chmod(path, 0700) < 0) {
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
	if (uid != (uid_t)-1 && chown(path, uid, gid) < 0) {
		*err = xasprintf("chown %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
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
	} else if (spool_mkdir(queue_dir, 1, uid, gid, err) < 0)
		return -1;

	for (i = 0; i < sizeof(spool_subdirs) / sizeof(spool_subdirs[0]); i++) {
		char *path = xasprintf("%s/%s", queue_dir, spool_subdirs[i]);
		int rc = spool_mkdir(path, 0, uid, gid, err);

		free(path);
		if (rc < 0)
			return -1;
	}
	return 0;
}
