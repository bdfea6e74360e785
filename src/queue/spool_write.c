/* spool_write: writing a new queue file and making it durable. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tlsrelay/queue.h"
#include "tlsrelay/util.h"
#include "spool_format.h"

#define SPOOL_BUFSIZE	(64 * 1024)

struct spool_writer {
	char id[QUEUE_ID_MAX];
	char *tmp_path;
	char *incoming_path;
	char *incoming_dir;
	int fd;
	int error;		/* errno of the first failed write, or 0 */
	off_t size_offset;	/* of the z record's digits */
	unsigned long long written;	/* bytes so far, envelope included */
	unsigned long long content_start;	/* written after the M record */
	size_t buf_len;
	char buf[SPOOL_BUFSIZE];
};

/* Writes all of data, retrying short writes and EINTR. */
static int
writer_flush(struct spool_writer *w)
{
	if (w->error) {
		errno = w->error;
		return -1;
	}
	if (w->buf_len == 0)
		return 0;
	if (write_all(w->fd, w->buf, w->buf_len) < 0) {
		w->error = errno;
		return -1;
	}
	w->buf_len = 0;
	return 0;
}

int
spool_write(struct spool_writer *w, const char *data, size_t len)
{
	if (w->error) {
		errno = w->error;
		return -1;
	}
	while (len > 0) {
		size_t room = SPOOL_BUFSIZE - w->buf_len;
		size_t n = len < room ? len : room;

		memcpy(w->buf + w->buf_len, data, n);
		w->buf_len += n;
		w->written += n;
		data += n;
		len -= n;
		if (w->buf_len == SPOOL_BUFSIZE && writer_flush(w) < 0)
			return -1;
	}
	return 0;
}

/* One envelope record: type byte, value, LF. */
static void
put_record(struct spool_writer *w, char type, const char *value)
{
	char t = type;

	spool_write(w, &t, 1);
	spool_write(w, value, strlen(value));
	spool_write(w, "\n", 1);
}

/* The spool is the last line of defence against record injection: a
 * value with a line break would start a record of the sender's choosing.
 * Returns an error text (caller frees) or NULL. */
static char *
check_value(const char *what, const char *value)
{
	if (value == NULL)
		return NULL;
	if (strpbrk(value, "\r\n") != NULL)
		return xasprintf("queue file envelope refused: %s contains "
		    "CR or LF", what);
	if (strlen(value) > SPOOL_VALUE_MAX)
		return xasprintf("queue file envelope refused: %s is longer "
		    "than %d bytes", what, SPOOL_VALUE_MAX);
	return NULL;
}

static char *
check_envelope(const struct spool_envelope *env)
{
	char *err;
	size_t i;

	if (env->sender == NULL)
		return xstrdup("queue file envelope has no sender");
	if (env->n_recipients == 0)
		return xstrdup("queue file envelope has no recipients");
	/* The reader takes at most 18 digits of seconds. */
	if (env->arrival_sec < 0 || env->arrival_sec > 999999999999999999LL ||
	    env->arrival_usec < 0 || env->arrival_usec > 999999)
		return xstrdup("queue file envelope has a bad arrival time");
	if ((err = check_value("sender", env->sender)) != NULL ||
	    (err = check_value("client name", env->client_name)) != NULL ||
	    (err = check_value("client address", env->client_addr)) != NULL ||
	    (err = check_value("helo name", env->helo_name)) != NULL ||
	    (err = check_value("protocol", env->protocol)) != NULL ||
	    (err = check_value("TLS info", env->tls_info)) != NULL)
		return err;
	for (i = 0; i < env->n_recipients; i++) {
		if (env->recipients[i] == NULL || env->recipients[i][0] == '\0')
			return xstrdup("queue file envelope has an empty "
			    "recipient");
		if ((err = check_value("recipient", env->recipients[i])) != NULL)
			return err;
	}
	return NULL;
}

static void
writer_free(struct spool_writer *w)
{
	free(w->tmp_path);
	free(w->incoming_path);
	free(w->incoming_dir);
	free(w);
}

struct spool_writer *
spool_open(const char *queue_dir, const struct spool_envelope *env,
    char **err)
{
	struct spool_writer *w;
	char line[64];
	size_t i;
	int tries;

	*err = check_envelope(env);
	if (*err != NULL)
		return NULL;

	/* Not zeroed: the 64 KiB buffer is written before it is read. */
	w = xmalloc(sizeof(*w));
	w->id[0] = '\0';
	w->tmp_path = w->incoming_path = w->incoming_dir = NULL;
	w->fd = -1;
	w->error = 0;
	w->buf_len = 0;
	w->written = 0;
	/* A spare file if there is one, else a new file. Neither reuses a
	 * name: a clash (clock stepped back onto a recycled pid) just takes
	 * the next ID. */
	for (tries = 0; tries < 10; tries++) {
		int retry;

		queue_id_new(w->id);
		free(w->tmp_path);
		w->tmp_path = xasprintf("%s/tmp/%s", queue_dir, w->id);
		w->fd = spool_spare_take(queue_dir, w->tmp_path, &retry);
		if (w->fd >= 0)
			break;
		if (retry)
			continue;
		w->fd = open(w->tmp_path,
		    O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
		if (w->fd >= 0 || errno != EEXIST)
			break;
	}
	if (w->fd < 0) {
		*err = xasprintf("create queue file %s: %s", w->tmp_path,
		    strerror(errno));
		writer_free(w);
		return NULL;
	}
	/* Held until the descriptor closes: a file in tmp/ that nobody
	 * holds is what a crash left (spool_purge_tmp). A new file's lock
	 * cannot be taken already; a spare file comes locked. */
	(void)flock(w->fd, LOCK_EX | LOCK_NB);
	w->incoming_dir = xasprintf("%s/incoming", queue_dir);
	w->incoming_path = xasprintf("%s/%s", w->incoming_dir, w->id);

	snprintf(line, sizeof(line), "%s%d\n", SPOOL_MAGIC,
	    SPOOL_FORMAT_VERSION);
	spool_write(w, line, strlen(line));
	put_record(w, SPOOL_REC_ID, w->id);
	snprintf(line, sizeof(line), "%lld.%06ld", env->arrival_sec,
	    env->arrival_usec);
	put_record(w, SPOOL_REC_TIME, line);
	put_record(w, SPOOL_REC_CLIENT_NAME,
	    env->client_name ? env->client_name : "unknown");
	put_record(w, SPOOL_REC_CLIENT_ADDR,
	    env->client_addr ? env->client_addr : "");
	put_record(w, SPOOL_REC_HELO, env->helo_name ? env->helo_name : "");
	put_record(w, SPOOL_REC_PROTOCOL, env->protocol ? env->protocol : "");
	put_record(w, SPOOL_REC_TLS, env->tls_info ? env->tls_info : "");
	put_record(w, SPOOL_REC_BODY,
	    env->body_8bitmime ? SPOOL_BODY_8BIT : SPOOL_BODY_7BIT);
	put_record(w, SPOOL_REC_SENDER, env->sender);
	for (i = 0; i < env->n_recipients; i++) {
		char head[2] = { SPOOL_REC_RCPT, SPOOL_STATUS_PENDING };

		spool_write(w, head, 2);
		spool_write(w, env->recipients[i],
		    strlen(env->recipients[i]));
		spool_write(w, "\n", 1);
	}
	/* Write the envelope now, so a full disk shows before DATA. */
	if (writer_flush(w) < 0) {
		*err = xasprintf("queue file write error: %s",
		    strerror(w->error));
		spool_abort(w);
		return NULL;
	}
	/* Its digits are set at commit, in place (record_content_size);
	 * kept in the buffer with the content that follows, they are set
	 * there when the content fits in it. */
	w->size_offset = (off_t)w->written + 1;
	snprintf(line, sizeof(line), "%0*d", SPOOL_SIZE_DIGITS, 0);
	put_record(w, SPOOL_REC_CONTENT_SIZE, line);
	put_record(w, SPOOL_REC_CONTENT, "");
	w->content_start = w->written;
	return w;
}

const char *
spool_id(const struct spool_writer *w)
{
	return w->id;
}

/* A failed commit takes the file back: the client is told to try again,
 * so a message that stayed in the queue would be delivered twice. */
static char *
commit_error(const char *path, const char *step, int error)
{
	unlink(path);
	return xasprintf("queue file %s error: %s", step, strerror(error));
}

/* The z record's digits: the content's length, before the fsync that
 * makes the file durable; then the rest of the buffer. In the buffer when
 * the digits are still there (a message smaller than the buffer), else
 * with a pwrite. */
static int
record_content_size(struct spool_writer *w)
{
	char digits[SPOOL_SIZE_DIGITS + 1];
	unsigned long long flushed = w->written - w->buf_len;

	snprintf(digits, sizeof(digits), "%0*llu", SPOOL_SIZE_DIGITS,
	    w->written - w->content_start);
	if ((unsigned long long)w->size_offset >= flushed) {
		memcpy(w->buf + ((unsigned long long)w->size_offset - flushed),
		    digits, SPOOL_SIZE_DIGITS);
		return writer_flush(w);
	}
	if (writer_flush(w) < 0)
		return -1;
	if (pwrite(w->fd, digits, SPOOL_SIZE_DIGITS, w->size_offset) !=
	    SPOOL_SIZE_DIGITS) {
		w->error = errno ? errno : EIO;
		return -1;
	}
	return 0;
}

/* The first half of a commit: flush, fsync, close, rename into incoming/.
 * Returns NULL, or the error with the tmp file removed. */
static char *
commit_file(struct spool_writer *w)
{
	int flushed = record_content_size(w);
	int fd = w->fd;

	w->fd = -1;
	if (flushed < 0) {
		close(fd);
		return commit_error(w->tmp_path, "write", w->error);
	}
	if (fsync(fd) < 0) {
		int saved = errno;

		close(fd);
		return commit_error(w->tmp_path, "fsync", saved);
	}
	/* NFS and some FUSE file systems report write errors only here. */
	if (close(fd) < 0)
		return commit_error(w->tmp_path, "close", errno);
	if (rename(w->tmp_path, w->incoming_path) < 0)
		return commit_error(w->tmp_path, "rename", errno);
	return NULL;
}

/* The errno of the directory fsync that covers writers[i]: each incoming/
 * directory of the batch is synced once, for the first writer in it. */
static int
sync_dir_of(struct spool_writer **writers, char **errs, int *dir_error,
    size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (errs[j] == NULL &&
		    strcmp(writers[j]->incoming_dir, writers[i]->incoming_dir) == 0)
			return dir_error[j];
	return fsync_dir(writers[i]->incoming_dir) < 0 ? errno : 0;
}

size_t
spool_commit_batch(struct spool_writer **writers, size_t n, char **errs)
{
	int *dir_error = xcalloc(n ? n : 1, sizeof(*dir_error));
	size_t failed = 0;

	for (size_t i = 0; i < n; i++)
		errs[i] = commit_file(writers[i]);
	/* One fsync of incoming/ makes every rename of the batch durable. */
	for (size_t i = 0; i < n; i++)
		if (errs[i] == NULL)
			dir_error[i] = sync_dir_of(writers, errs, dir_error, i);
	for (size_t i = 0; i < n; i++) {
		if (errs[i] == NULL && dir_error[i] != 0)
			errs[i] = commit_error(writers[i]->incoming_path,
			    "directory fsync", dir_error[i]);
		if (errs[i] != NULL)
			failed++;
		writer_free(writers[i]);
	}
	free(dir_error);
	return failed;
}

int
spool_commit(struct spool_writer *w, char **err)
{
	return spool_commit_batch(&w, 1, err) == 0 ? 0 : -1;
}

void
spool_abort(struct spool_writer *w)
{
	if (w == NULL)
		return;
	if (w->fd >= 0)
		close(w->fd);
	unlink(w->tmp_path);
	writer_free(w);
}

void
spool_hold(struct spool_writer *w)
{
	char *queue_dir = xstrndup(w->incoming_dir,
	    strlen(w->incoming_dir) - strlen("/incoming"));

	free(w->incoming_dir);
	free(w->incoming_path);
	w->incoming_dir = xasprintf("%s/hold", queue_dir);
	w->incoming_path = xasprintf("%s/%s", w->incoming_dir, w->id);
	free(queue_dir);
}
