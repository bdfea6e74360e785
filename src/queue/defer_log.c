/* defer_log: queue_directory/defer/ID, the latest reason each recipient of
 * a deferred message was not delivered, for `tlsrelay queue` and for the
 * bounce that a message gets when it expires. One line per recipient:
 * "<recipient>\t<dsn>\t<reason>\n". The file is always replaced whole
 * (ID.tmp, rename), so a reader sees the old or the new file. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tlsrelay/log.h"
#include "tlsrelay/queue.h"
#include "tlsrelay/util.h"

/* A defer file larger than this is not one of ours. */
#define DEFER_LOG_MAX	(64 * 1024 * 1024)

/* Appends value with the bytes that would break the line format (TAB,
 * CR, LF) written as spaces. */
static void
put_value(struct strbuf *sb, const char *value)
{
	for (const char *p = value; *p; p++) {
		char c = *p;

		if (c == '\t' || c == '\r' || c == '\n')
			c = ' ';
		strbuf_append(sb, &c, 1);
	}
}

static int
replace_file(const char *path, const char *data, size_t len, char **err)
{
	char *tmp = xasprintf("%s.tmp", path);
	const char *step;
	int fd, rc = -1;

	step = "open";
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd < 0)
		goto fail;
	step = "write";
	if (write_all(fd, data, len) < 0)
		goto fail;
	/* No fsync: the file is information, not state, and the queue
	 * manager must not wait for the disk at every deferral. After a
	 * power loss it may be old or empty; readers say so, and the next
	 * attempt writes it anew. */
	step = "close";
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	step = "rename";
	if (rename(tmp, path) < 0)
		goto fail;
	/* The directory is not fsync'ed: after a crash an old reason is
	 * shown until the next attempt writes a new one; nothing is lost. */
	rc = 0;
	goto out;
fail:
	*err = xasprintf("%s: defer log %s error: %s", path, step,
	    strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(tmp);
out:
	free(tmp);
	return rc;
}

static char *
defer_path(const char *queue_dir, const char *id, char **err)
{
	if (!queue_id_valid(id, strlen(id))) {
		*err = xasprintf("bad queue ID: %s", id);
		return NULL;
	}
	return xasprintf("%s/defer/%s", queue_dir, id);
}

int
defer_log_write(const char *queue_dir, const char *id,
    const struct defer_entry *entries, size_t n, char **err)
{
	struct strbuf sb;
	char *path;
	int rc;

	*err = NULL;
	if ((path = defer_path(queue_dir, id, err)) == NULL)
		return -1;
	if (n == 0) {
		/* No reasons: no file. */
		if (unlink(path) < 0 && errno != ENOENT) {
			*err = xasprintf("remove %s: %s", path,
			    strerror(errno));
			free(path);
			return -1;
		}
		free(path);
		return 0;
	}
	strbuf_init(&sb);
	for (size_t i = 0; i < n; i++) {
		put_value(&sb, entries[i].recipient);
		strbuf_puts(&sb, "\t");
		put_value(&sb, entries[i].dsn);
		strbuf_puts(&sb, "\t");
		put_value(&sb, entries[i].reason);
		strbuf_puts(&sb, "\n");
	}
	rc = replace_file(path, sb.data, sb.len, err);
	strbuf_free(&sb);
	free(path);
	return rc;
}

/* Whether two recipients are the same entry: the stored form has TAB,
 * CR and LF as spaces, so compare that way. */
static int
same_recipient(const char *stored, const char *given)
{
	for (;; stored++, given++) {
		char c = *given;

		if (c == '\t' || c == '\r' || c == '\n')
			c = ' ';
		if (*stored != c)
			return 0;
		if (c == '\0')
			return 1;
	}
}

int
defer_log_update(const char *queue_dir, const char *id,
    const struct defer_entry *entries, size_t n, char **err)
{
	struct defer_log old;
	struct defer_entry *merged;
	size_t n_merged = 0;
	int rc;

	*err = NULL;
	rc = defer_log_read(queue_dir, id, &old, err);
	if (rc < 0) {
		/* Old reasons are informational; a broken file is replaced. */
		msg_warn("%s; replacing it", *err);
		free(*err);
		*err = NULL;
	}
	merged = xcalloc(old.n + n + 1, sizeof(*merged));
	for (size_t i = 0; i < old.n; i++) {
		const struct defer_entry *e = &old.entries[i];
		size_t j;

		for (j = 0; j < n; j++)
			if (same_recipient(e->recipient, entries[j].recipient))
				break;
		merged[n_merged++] = j < n ? entries[j] : *e;
	}
	for (size_t j = 0; j < n; j++) {
		size_t i;

		for (i = 0; i < old.n; i++)
			if (same_recipient(old.entries[i].recipient,
			    entries[j].recipient))
				break;
		if (i == old.n)
			merged[n_merged++] = entries[j];
	}
	rc = defer_log_write(queue_dir, id, merged, n_merged, err);
	free(merged);
	defer_log_free(&old);
	return rc;
}

int
defer_log_parse(const char *data, size_t len, struct defer_log *log,
    char **err)
{
	size_t cap = 0, line_no = 0;
	char *p, *end;

	*err = NULL;
	memset(log, 0, sizeof(*log));
	log->text = xmalloc(len + 1);
	memcpy(log->text, data, len);
	log->text[len] = '\0';
	p = log->text;
	end = log->text + len;
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *tab1, *tab2;
		struct defer_entry *e;

		line_no++;
		if (nl == NULL) {
			*err = xasprintf("line %zu: no line end", line_no);
			goto fail;
		}
		*nl = '\0';
		if (memchr(p, '\0', (size_t)(nl - p)) != NULL ||
		    strchr(p, '\r') != NULL) {
			*err = xasprintf("line %zu: bad byte", line_no);
			goto fail;
		}
		if ((tab1 = strchr(p, '\t')) == NULL ||
		    (tab2 = strchr(tab1 + 1, '\t')) == NULL ||
		    strchr(tab2 + 1, '\t') != NULL) {
			*err = xasprintf("line %zu: not three fields",
			    line_no);
			goto fail;
		}
		if (tab1 == p) {
			*err = xasprintf("line %zu: empty recipient", line_no);
			goto fail;
		}
		*tab1 = *tab2 = '\0';
		if (log->n == cap) {
			cap = cap ? 2 * cap : 8;
			log->entries = xrealloc(log->entries,
			    cap * sizeof(*log->entries));
		}
		e = &log->entries[log->n++];
		e->recipient = p;
		e->dsn = tab1 + 1;
		e->reason = tab2 + 1;
		p = nl + 1;
	}
	return 0;
fail:
	defer_log_free(log);
	return -1;
}

int
defer_log_read(const char *queue_dir, const char *id, struct defer_log *log,
    char **err)
{
	struct strbuf sb;
	char *path, buf[8192];
	char *perr = NULL;
	int fd, rc = -1;

	*err = NULL;
	memset(log, 0, sizeof(*log));
	if ((path = defer_path(queue_dir, id, err)) == NULL)
		return -1;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			rc = 0;
		else
			*err = xasprintf("open %s: %s", path, strerror(errno));
		free(path);
		return rc;
	}
	strbuf_init(&sb);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*err = xasprintf("read %s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (sb.len + (size_t)n > DEFER_LOG_MAX) {
			*err = xasprintf("%s: file too large", path);
			goto out;
		}
		strbuf_append(&sb, buf, (size_t)n);
	}
	if (defer_log_parse(sb.data ? sb.data : "", sb.len, log, &perr) < 0) {
		*err = xasprintf("%s: %s", path, perr);
		free(perr);
		goto out;
	}
	rc = 1;
out:
	close(fd);
	strbuf_free(&sb);
	free(path);
	return rc;
}

const struct defer_entry *
defer_log_find(const struct defer_log *log, const char *recipient)
{
	for (size_t i = 0; i < log->n; i++)
		if (same_recipient(log->entries[i].recipient, recipient))
			return &log->entries[i];
	return NULL;
}

void
defer_log_free(struct defer_log *log)
{
	free(log->entries);
	free(log->text);
	memset(log, 0, sizeof(*log));
}

void
defer_log_remove(const char *queue_dir, const char *id)
{
	char *err = NULL, *path = defer_path(queue_dir, id, &err);

	if (path == NULL) {
		free(err);
		return;
	}
	if (unlink(path) < 0 && errno != ENOENT)
		msg_warn("remove %s: %s", path, strerror(errno));
	free(path);
}
