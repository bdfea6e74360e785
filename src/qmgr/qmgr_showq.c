/* qmgr_showq: the queue listing for users who may not read the queue
 * (Postfix's showq service). The queue manager listens on
 * queue_directory/public/showq; public/ lets in only mail_owner and
 * setgid_group, so the way in for a user is the set-group-ID
 * `tlsrelay-sendmail -bp` (mailq). Each connection gets the listing that
 * `tlsrelay queue` prints, from a child process: reading every queue
 * file must not hold up deliveries. As Postfix's default
 * authorized_mailq_users = static:anyone, every user who gets in may
 * list the queue; acting on it stays with root and mail_owner. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "tlsrelay/log.h"
#include "tlsrelay/queue.h"
#include "tlsrelay/util.h"

#include "qmgr_int.h"

/* A listing that takes longer is cut off. */
#define SHOWQ_TIME_LIMIT 60

static struct event *showq_event;
static char *showq_queue_dir;

static void
serve_listing(int fd)
{
	FILE *out = fdopen(fd, "w");
	char *err = NULL;

	alarm(SHOWQ_TIME_LIMIT);
	if (out == NULL)
		_exit(1);
	if (queue_list(showq_queue_dir, out, &err) < 0)
		fprintf(out, "Queue report unavailable: %s\n", err);
	fclose(out);
	_exit(0);
}

static void
accept_cb(evutil_socket_t listener, short what, void *arg)
{
	int fd;
	pid_t pid;

	(void)what;
	(void)arg;
	if ((fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC)) < 0)
		return;
	if ((pid = fork()) < 0)
		msg_warn("showq: fork: %s", strerror(errno));
	else if (pid == 0) {
		/* The listing needs its client and stderr, nothing else of
		 * the queue manager's: not its lock on pid/qmgr.pid (held
		 * here, it keeps the next queue manager from starting), nor
		 * its FIFO, showq socket or connections to other hosts. Its
		 * warnings go to stderr: the log's descriptor (or syslog's
		 * socket) goes with the rest, and must not be written to once
		 * its number is a queue file's. */
		log_close();
		if (fd > 3)
			(void)close_range(3, (unsigned)fd - 1, 0);
		(void)close_range((unsigned)fd + 1, ~0U, 0);
		serve_listing(fd);
	}
	close(fd);
}

/* A socket bound or connected by the relative name "showq" from inside
 * public/: a queue_directory path may be longer than sun_path's 108
 * bytes. */
int
qmgr_showq_start(struct event_base *base, const char *queue_dir,
    char **err)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX,
	    .sun_path = "showq" };
	char *public = xasprintf("%s/public", queue_dir);
	int fd, cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = -1;

	/* Children are reaped by the kernel; the queue manager has no
	 * other use for SIGCHLD. */
	signal(SIGCHLD, SIG_IGN);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (cwd < 0 || fd < 0 || chdir(public) < 0) {
		*err = xasprintf("%s/showq: %s", public, strerror(errno));
		goto out;
	}
	(void)unlink(sun.sun_path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    chmod(sun.sun_path, 0666) < 0 || listen(fd, 16) < 0)
		*err = xasprintf("%s/showq: %s", public, strerror(errno));
	else
		rc = 0;
	if (fchdir(cwd) < 0 && rc == 0) {
		*err = xasprintf("fchdir: %s", strerror(errno));
		rc = -1;
	}
out:
	if (cwd >= 0)
		close(cwd);
	free(public);
	if (rc < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	showq_queue_dir = xstrdup(queue_dir);
	showq_event = event_new(base, fd, EV_READ | EV_PERSIST, accept_cb,
	    NULL);
	event_add(showq_event, NULL);
	return 0;
}

void
qmgr_showq_stop(void)
{
	if (showq_event == NULL)
		return;
	close(event_get_fd(showq_event));
	event_free(showq_event);
	showq_event = NULL;
	free(showq_queue_dir);
	showq_queue_dir = NULL;
}
