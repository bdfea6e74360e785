/* spool_purge: queue files a crash left in tmp/. A file there is being
 * received, and its writer holds a lock on it (spool_open) until it is
 * committed or aborted; a file nobody holds, and that is not brand new
 * (between its creation and its lock), belongs to a process that died
 * before the client got its 250, so its sender still has the message. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tlsrelay/log.h"
#include "tlsrelay/queue.h"
#include "tlsrelay/util.h"

/* Older than this and unlocked: left over. */
#define TMP_MIN_AGE	60

/* 1 when path is a stale file, removed. */
static int
purge_one(const char *path, time_t now)
{
	struct stat st;
	int fd, removed = 0;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return 0;	/* gone meanwhile: committed or aborted */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_mtime < now - TMP_MIN_AGE &&
	    flock(fd, LOCK_EX | LOCK_NB) == 0) {
		if (unlink(path) == 0)
			removed = 1;
		else if (errno != ENOENT)
			msg_warn("unlink %s: %s", path, strerror(errno));
	}
	close(fd);
	return removed;
}

unsigned
spool_purge_tmp(const char *queue_dir)
{
	char *dir = xasprintf("%s/tmp", queue_dir);
	DIR *d = opendir(dir);
	struct dirent *de;
	time_t now = time(NULL);
	unsigned removed = 0;

	if (d == NULL) {
		msg_warn("opendir %s: %s", dir, strerror(errno));
		free(dir);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		char *path;

		if (de->d_name[0] == '.')
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		removed += (unsigned)purge_one(path, now);
		free(path);
	}
	closedir(d);
	if (removed > 0)
		msg_info("removed %u stale temporary file(s) from %s: "
		    "messages whose receipt a crash cut short", removed, dir);
	free(dir);
	return removed;
}
