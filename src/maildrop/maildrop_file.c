/* maildrop_file: the maildrop file, written by tlsrelay-sendmail and read
 * by the queue manager's pickup. The writer is a set-group-ID program run
 * by any user, the reader must take nothing in the file on trust: both
 * live here so that what one writes is exactly what the other accepts. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tlsrelay/maildrop.h"
#include "tlsrelay/queue.h"
#include "tlsrelay/util.h"

/* Envelope lines: a letter, then the value. */
#define REC_SENDER	'S'
#define REC_FULL_NAME	'N'
#define REC_RCPT	'R'

/* Readable by the queue manager, which owns the directory, not the file;
 * the directory keeps everyone else out. The owner-execute bit means
 * "finished". */
#define MODE_WRITING	0444
#define MODE_FINISHED	0544

struct maildrop_writer {
	int fd;
	char *path;
	int error;
	struct strbuf buf;
};

void
maildrop_envelope_free(struct maildrop_envelope *env)
{
	free(env->sender);
	free(env->full_name);
	for (size_t i = 0; i < env->n_rcpts; i++)
		free(env->rcpts[i]);
	free(env->rcpts);
	memset(env, 0, sizeof(*env));
}

void
maildrop_envelope_add_rcpt(struct maildrop_envelope *env, const char *rcpt)
{
	env->rcpts = xrealloc(env->rcpts, (env->n_rcpts + 1) *
	    sizeof(*env->rcpts));
	env->rcpts[env->n_rcpts++] = xstrdup(rcpt);
}

const char *
maildrop_address_problem(const char *addr)
{
	size_t len = strlen(addr);

	if (len > MAILDROP_ADDR_MAX)
		return "address too long";
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)addr[i];

		if (c <= ' ' || c >= 0x7f || c == '<' || c == '>')
			return "address with a blank, a control character, "
			    "'<', '>' or a non-ASCII byte";
	}
	return NULL;
}

/* A full name goes into a From: header: no line breaks, no NUL. */
static const char *
full_name_problem(const char *name)
{
	if (strlen(name) > MAILDROP_LINE_MAX - 2)
		return "full name too long";
	for (const char *p = name; *p; p++)
		if ((unsigned char)*p < ' ' && *p != '\t')
			return "full name with a control character";
	return NULL;
}

static void
put_line(struct strbuf *sb, char kind, const char *value)
{
	strbuf_append(sb, &kind, 1);
	strbuf_puts(sb, value);
	strbuf_append(sb, "\n", 1);
}

struct maildrop_writer *
maildrop_open(const char *queue_dir, const struct maildrop_envelope *env,
    char **err)
{
	struct maildrop_writer *w;
	const char *problem = NULL;
	char id[QUEUE_ID_MAX];

	if (env->sender && *env->sender)
		problem = maildrop_address_problem(env->sender);
	for (size_t i = 0; problem == NULL && i < env->n_rcpts; i++)
		problem = maildrop_address_problem(env->rcpts[i]);
	if (problem == NULL && env->full_name)
		problem = full_name_problem(env->full_name);
	if (problem == NULL && env->n_rcpts > MAILDROP_RCPT_MAX)
		problem = "too many recipients";
	if (problem != NULL) {
		*err = xstrdup(problem);
		return NULL;
	}
	w = xcalloc(1, sizeof(*w));
	w->fd = -1;
	for (int tries = 0; tries < 10 && w->fd < 0; tries++) {
		queue_id_new(id);
		free(w->path);
		w->path = xasprintf("%s/%s/%s", queue_dir, MAILDROP_DIR, id);
		w->fd = open(w->path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC |
		    O_NOFOLLOW, MODE_WRITING);
		if (w->fd < 0 && errno != EEXIST)
			break;
	}
	if (w->fd < 0) {
		*err = xasprintf("create %s: %s", w->path, strerror(errno));
		free(w->path);
		free(w);
		return NULL;
	}
	/* The mode must not depend on the caller's umask. */
	(void)fchmod(w->fd, MODE_WRITING);
	strbuf_init(&w->buf);
	strbuf_puts(&w->buf, MAILDROP_MAGIC);
	if (env->sender)
		put_line(&w->buf, REC_SENDER, env->sender);
	if (env->full_name)
		put_line(&w->buf, REC_FULL_NAME, env->full_name);
	for (size_t i = 0; i < env->n_rcpts; i++)
		put_line(&w->buf, REC_RCPT, env->rcpts[i]);
	strbuf_append(&w->buf, "\n", 1);
	return w;
}

static int
flush(struct maildrop_writer *w)
{
	if (w->error == 0 && w->buf.len > 0 &&
	    write_all(w->fd, w->buf.data, w->buf.len) < 0)
		w->error = errno ? errno : EIO;
	strbuf_reset(&w->buf);
	return w->error ? -1 : 0;
}

int
maildrop_write(struct maildrop_writer *w, const char *data, size_t len)
{
	strbuf_append(&w->buf, data, len);
	if (w->buf.len >= 65536)
		return flush(w);
	return w->error ? -1 : 0;
}

void
maildrop_abort(struct maildrop_writer *w)
{
	if (w == NULL)
		return;
	if (w->fd >= 0)
		close(w->fd);
	unlink(w->path);
	strbuf_free(&w->buf);
	free(w->path);
	free(w);
}

int
maildrop_close(struct maildrop_writer *w, char **err)
{
	const char *step = "write";

	if (flush(w) == 0) {
		step = "fsync";
		if (fsync(w->fd) == 0) {
			step = "chmod";
			if (fchmod(w->fd, MODE_FINISHED) == 0) {
				step = "close";
				if (close(w->fd) == 0) {
					w->fd = -1;
					strbuf_free(&w->buf);
					free(w->path);
					free(w);
					return 0;
				}
				w->fd = -1;
			}
		}
		w->error = errno;
	}
	*err = xasprintf("%s %s: %s", step, w->path, strerror(w->error));
	maildrop_abort(w);
	return -1;
}

/* ---- The reader. */

int
maildrop_parse(const char *buf, size_t len, struct maildrop_envelope *env,
    size_t *content_offset, char **err)
{
	size_t magic_len = strlen(MAILDROP_MAGIC), pos;

	memset(env, 0, sizeof(*env));
	if (len < magic_len || memcmp(buf, MAILDROP_MAGIC, magic_len) != 0) {
		*err = xstrdup("not a maildrop file");
		return -1;
	}
	for (pos = magic_len;;) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t line_len;
		char *value;
		const char *problem = NULL;

		if (nl == NULL) {
			*err = xstrdup("envelope not terminated");
			goto fail;
		}
		line_len = (size_t)(nl - (buf + pos));
		if (line_len == 0) {
			*content_offset = pos + 1;
			return 0;
		}
		if (line_len > MAILDROP_LINE_MAX ||
		    memchr(buf + pos, '\0', line_len) != NULL ||
		    memchr(buf + pos, '\r', line_len) != NULL) {
			*err = xstrdup("malformed envelope line");
			goto fail;
		}
		value = xstrndup(buf + pos + 1, line_len - 1);
		switch (buf[pos]) {
		case REC_SENDER:
			if (env->sender == NULL && (*value == '\0' ||
			    (problem = maildrop_address_problem(value)) == NULL)) {
				env->sender = value;
				value = NULL;
			} else if (problem == NULL)
				problem = "two senders";
			break;
		case REC_FULL_NAME:
			if (env->full_name == NULL &&
			    (problem = full_name_problem(value)) == NULL) {
				env->full_name = value;
				value = NULL;
			} else if (problem == NULL)
				problem = "two full names";
			break;
		case REC_RCPT:
			if (env->n_rcpts >= MAILDROP_RCPT_MAX)
				problem = "too many recipients";
			else if (*value == '\0')
				problem = "empty recipient";
			else if ((problem = maildrop_address_problem(value))
			    == NULL)
				maildrop_envelope_add_rcpt(env, value);
			break;
		default:
			problem = "unknown envelope line";
		}
		free(value);
		if (problem != NULL) {
			*err = xstrdup(problem);
			goto fail;
		}
		pos += line_len + 1;
	}
fail:
	maildrop_envelope_free(env);
	return -1;
}
