/* pidfile: see include/tlsrelay/pidfile.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tlsrelay/pidfile.h"
#include "tlsrelay/util.h"

#define PID_DIR		"pid"
#define PID_FILE	"pid/master.pid"
#define QMGR_PID_FILE	"pid/qmgr.pid"

/* The number in an open PID file, or 0. */
static pid_t
read_pid(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	long pid;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	pid = strtol(buf, NULL, 10);
	return pid > 0 ? (pid_t)pid : 0;
}

/* Opens queue_dir/file and takes its lock: the descriptor, or -1 with
 * *err; *holder gets the PID written in a file someone else holds. */
static int
lock_file(const char *queue_dir, const char *file, pid_t *holder,
    char **err)
{
	char *dir = xasprintf("%s/%s", queue_dir, PID_DIR);
	char *path = xasprintf("%s/%s", queue_dir, file);
	int fd = -1;

	*holder = 0;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		*err = xasprintf("mkdir %s: %s", dir, strerror(errno));
		goto out;
	}
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		*err = xasprintf("open %s: %s", path, strerror(errno));
		goto out;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			*holder = read_pid(fd);
		*err = xasprintf("lock %s: %s", path, strerror(errno));
		close(fd);
		fd = -1;
	}
out:
	free(dir);
	free(path);
	return fd;
}

int
pidfile_lock(const char *queue_dir, char **err)
{
	pid_t holder;
	int fd = lock_file(queue_dir, PID_FILE, &holder, err);

	if (fd < 0 && holder != 0) {
		free(*err);
		*err = xasprintf("the mail system is already running on %s "
		    "(PID %ld, %s/%s)", queue_dir, (long)holder, queue_dir,
		    PID_FILE);
	}
	return fd;
}

int
pidfile_lock_qmgr(const char *queue_dir, char **err)
{
	pid_t holder;
	int fd = lock_file(queue_dir, QMGR_PID_FILE, &holder, err);

	if (fd < 0 && holder != 0) {
		free(*err);
		*err = xasprintf("a queue manager (PID %ld) still runs on %s: "
		    "it must stop before another starts", (long)holder,
		    queue_dir);
	}
	return fd;
}

int
pidfile_qmgr_prepare(const char *queue_dir, uid_t uid, gid_t gid, char **err)
{
	char *dir = xasprintf("%s/%s", queue_dir, PID_DIR);
	char *path = xasprintf("%s/%s", queue_dir, QMGR_PID_FILE);
	int fd = -1, rc = -1;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		*err = xasprintf("mkdir %s: %s", dir, strerror(errno));
	else if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0644)) < 0)
		*err = xasprintf("open %s: %s", path, strerror(errno));
	else if (uid != (uid_t)-1 && fchown(fd, uid, gid) < 0)
		*err = xasprintf("chown %s: %s", path, strerror(errno));
	else
		rc = 0;
	if (fd >= 0)
		close(fd);
	free(dir);
	free(path);
	return rc;
}

int
pidfile_write(int fd, pid_t pid, char **err)
{
	char buf[32];
	int len = snprintf(buf, sizeof(buf), "%10ld\n", (long)pid);

	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)len, 0) != len) {
		*err = xasprintf("write the PID file: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* The PID in queue_dir/file when its lock is held, else 0. */
static pid_t
held_by(const char *queue_dir, const char *file)
{
	char *path = xasprintf("%s/%s", queue_dir, file);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	pid_t pid = 0;

	free(path);
	if (fd < 0)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK)
		pid = read_pid(fd);
	close(fd);
	return pid;
}

pid_t
pidfile_running(const char *queue_dir)
{
	return held_by(queue_dir, PID_FILE);
}

pid_t
pidfile_qmgr_running(const char *queue_dir)
{
	return held_by(queue_dir, QMGR_PID_FILE);
}
