/* queue_notify: the FIFO public/qmgr through which smtpd workers and the
 * tlsrelay command wake the queue manager. A notice is a hint: the qmgr
 * also rescans the spool, so a notice lost to a full FIFO or a qmgr that
 * is not running delays a message and never loses it. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tlsrelay/log.h"
#include "tlsrelay/queue.h"
#include "tlsrelay/util.h"

#define QUEUE_FIFO	"public/qmgr"

/* The id a request may carry: 'I' needs one, 'F' may have one, 'R' and
 * 'P' have none. */
static int
valid_request(char request, const char *id, size_t len)
{
	switch (request) {
	case QUEUE_NOTIFY_NEW:
		return queue_id_valid(id, len);
	case QUEUE_NOTIFY_FLUSH:
		return len == 0 || queue_id_valid(id, len);
	case QUEUE_NOTIFY_RESCAN:
	case QUEUE_NOTIFY_PICKUP:
		return len == 0;
	default:
		return 0;
	}
}

/* write(2) with SIGPIPE held back: a qmgr that closes its end between our
 * open and write must cost an EPIPE, not the writer's life. A SIGPIPE
 * that this write raised is taken off the pending set before the mask is
 * restored; one that was already pending stays. */
static ssize_t
write_nosigpipe(int fd, const char *data, size_t len)
{
	sigset_t pipe_set, old_set, pending;
	int was_pending, saved_errno;
	ssize_t n;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigprocmask(SIG_BLOCK, &pipe_set, &old_set);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	do {
		n = write(fd, data, len);
	} while (n < 0 && errno == EINTR);
	saved_errno = errno;
	if (n < 0 && errno == EPIPE && !was_pending) {
		static const struct timespec zero = { 0, 0 };

		while (sigtimedwait(&pipe_set, NULL, &zero) < 0 &&
		    errno == EINTR)
			;
	}
	sigprocmask(SIG_SETMASK, &old_set, NULL);
	errno = saved_errno;
	return n;
}

int
queue_notify(const char *queue_dir, char request, const char *id)
{
	char record[QUEUE_NOTIFY_RECORD_MAX];
	size_t id_len = strlen(id), len;
	char *path;
	ssize_t n;
	int fd, saved_errno;

	if (!valid_request(request, id, id_len)) {
		errno = EINVAL;
		return -1;
	}
	record[0] = request;
	memcpy(record + 1, id, id_len);
	record[1 + id_len] = '\n';
	len = id_len + 2;
	_Static_assert(QUEUE_NOTIFY_RECORD_MAX <= PIPE_BUF,
	    "a notice must be one atomic FIFO write");

	path = xasprintf("%s/%s", queue_dir, QUEUE_FIFO);
	/* O_NONBLOCK: no reader gives ENXIO at once instead of waiting. */
	fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
	saved_errno = errno;
	free(path);
	if (fd < 0) {
		errno = saved_errno;
		return -1;
	}
	n = write_nosigpipe(fd, record, len);
	saved_errno = errno;
	close(fd);
	if (n < 0) {
		errno = saved_errno;
		return -1;
	}
	if ((size_t)n != len) {
		/* Cannot happen for a write <= PIPE_BUF; be explicit anyway. */
		errno = EIO;
		return -1;
	}
	return 0;
}

int
queue_notify_listen(const char *queue_dir, char **err)
{
	char *path = xasprintf("%s/%s", queue_dir, QUEUE_FIFO);
	int fd;

	*err = NULL;
	/* O_RDWR on a FIFO (defined on Linux) makes the reader a writer as
	 * well: it never sees EOF when the last notifier closes, so the
	 * event loop is not woken by an endless stream of EOFs. */
	fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		*err = xasprintf("open %s: %s", path, strerror(errno));
	free(path);
	return fd;
}

size_t
queue_notify_parse(const char *buf, size_t len, queue_notify_cb cb,
    void *arg, size_t *bad)
{
	char id[QUEUE_NOTIFY_RECORD_MAX];
	size_t pos = 0, n_bad = 0;

	while (pos < len) {
		const char *line = buf + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t line_len;

		if (nl == NULL) {
			/* A partial record: keep it for the next read unless
			 * it is already too long to be one. */
			if (len - pos < QUEUE_NOTIFY_RECORD_MAX)
				break;
			n_bad++;
			pos = len;
			break;
		}
		line_len = (size_t)(nl - line);
		pos += line_len + 1;
		if (line_len == 0 || line_len >= QUEUE_NOTIFY_RECORD_MAX ||
		    !valid_request(line[0], line + 1, line_len - 1)) {
			n_bad++;
			continue;
		}
		memcpy(id, line + 1, line_len - 1);
		id[line_len - 1] = '\0';
		cb(arg, line[0], id);
	}
	if (bad != NULL)
		*bad = n_bad;
	return pos;
}

int
queue_notify_drain(int fd, struct queue_notify_reader *r,
    queue_notify_cb cb, void *arg)
{
	for (;;) {
		size_t used, bad;
		ssize_t n;

		n = read(fd, r->buf + r->len, sizeof(r->buf) - r->len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		if (n == 0)
			return 0;	/* only if opened without O_RDWR */
		r->len += (size_t)n;
		used = queue_notify_parse(r->buf, r->len, cb, arg, &bad);
		if (bad > 0)
			msg_warn("%s: ignored %zu malformed notice%s",
			    QUEUE_FIFO, bad, bad == 1 ? "" : "s");
		memmove(r->buf, r->buf + used, r->len - used);
		r->len -= used;
	}
}
