/* pickup: maildrop files into queue files, in the queue manager's
 * process. Every finished file in maildrop/ is read whole (it is bounded
 * by message_size_limit), checked, rewritten as Postfix's pickup and
 * cleanup rewrite local mail (local_message.c) and committed to
 * incoming/ like any message; the maildrop file goes only after the
 * commit, so a crash in between delivers the message twice rather than
 * never. The submitting user is the file's owner, set by the kernel; the
 * rest of the file is whatever that user wrote. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "tlsrelay/log.h"
#include "tlsrelay/maildrop.h"
#include "tlsrelay/queue.h"
#include "tlsrelay/util.h"

/* Room for the envelope lines around the content. */
#define ENVELOPE_ALLOWANCE \
	((MAILDROP_RCPT_MAX + 3) * (MAILDROP_LINE_MAX + 2))

/* Moves a file that cannot be queued out of the way, where an
 * administrator can look at it (corrupt/, as for queue files). */
static void
set_aside(const struct pickup_config *cfg, const char *name,
    const char *path, const char *why)
{
	char *to = xasprintf("%s/corrupt/maildrop-%s", cfg->queue_dir, name);

	if (rename(path, to) < 0) {
		msg_warn("maildrop file %s: %s; cannot move it to %s: %s",
		    name, why, to, strerror(errno));
		(void)unlink(path);
	} else
		msg_warn("maildrop file %s: %s; moved to corrupt/", name, why);
	free(to);
}

/* Reads all of fd (size bytes by fstat) into a new buffer. */
static char *
read_whole(int fd, size_t size, size_t *len)
{
	char *buf = xmalloc(size + 1);
	size_t got = 0;

	while (got < size) {
		ssize_t n = pread(fd, buf + got, size - got, (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	*len = got;
	return buf;
}

/* Postfix's pickup line, which log tools count as "received", under
 * pickup's name. */
static void
log_pickup_line(const char *id, uid_t uid, const char *sender)
{
	char outer[64];

	snprintf(outer, sizeof(outer), "%s", log_service());
	log_set_service(NULL, "pickup");
	msg_info("%s: uid=%lu from=<%s>", id, (unsigned long)uid, sender);
	log_set_service(NULL, outer);
}

/* The sender: as written (qualified), or the owner's login name. */
static char *
sender_of(const struct maildrop_envelope *env, uid_t uid,
    const char *myorigin)
{
	struct passwd *pw;

	if (env->sender != NULL)
		return maildrop_qualify(env->sender, myorigin);
	if ((pw = getpwuid(uid)) != NULL)
		return maildrop_qualify(pw->pw_name, myorigin);
	return xasprintf("uid%lu@%s", (unsigned long)uid, myorigin);
}

/* One file: 1 when it became a queue file, 0 when it is not finished,
 * -1 when it was set aside. */
static int
pick_up(const struct pickup_config *cfg, const char *name, char *id_out)
{
	char *path = xasprintf("%s/%s/%s", cfg->queue_dir, MAILDROP_DIR, name);
	struct maildrop_envelope env;
	struct spool_envelope spool_env;
	struct local_message_info info;
	struct spool_writer *w = NULL;
	struct strbuf content;
	struct stat st;
	struct timeval tv;
	const char **rcpts = NULL;
	char *buf = NULL, *sender = NULL, *err = NULL;
	size_t len = 0, offset;
	int fd, rc = -1;

	memset(&env, 0, sizeof(env));
	strbuf_init(&content);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			rc = 0;		/* taken meanwhile */
		else
			set_aside(cfg, name, path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		set_aside(cfg, name, path, "not a regular file");
		goto out;
	}
	if ((st.st_mode & S_IXUSR) == 0) {
		rc = 0;			/* still being written */
		goto out;
	}
	/* A second name would let a user queue a file that is not theirs. */
	if (st.st_nlink != 1) {
		set_aside(cfg, name, path, "has more than one link");
		goto out;
	}
	if (cfg->message_size_limit > 0 && st.st_size >
	    cfg->message_size_limit + (off_t)ENVELOPE_ALLOWANCE) {
		set_aside(cfg, name, path, "message file too big");
		goto out;
	}
	buf = read_whole(fd, (size_t)st.st_size, &len);
	if (maildrop_parse(buf, len, &env, &offset, &err) < 0) {
		set_aside(cfg, name, path, err);
		goto out;
	}
	if (cfg->message_size_limit > 0 &&
	    (long long)(len - offset) > cfg->message_size_limit) {
		set_aside(cfg, name, path, "message too big");
		goto out;
	}
	if (env.n_rcpts == 0) {
		set_aside(cfg, name, path, "no recipients");
		goto out;
	}
	sender = sender_of(&env, st.st_uid, cfg->myorigin);
	rcpts = xcalloc(env.n_rcpts, sizeof(*rcpts));
	for (size_t i = 0; i < env.n_rcpts; i++) {
		char *q = maildrop_qualify(env.rcpts[i], cfg->myorigin);

		free(env.rcpts[i]);
		env.rcpts[i] = q;
		rcpts[i] = q;
	}

	gettimeofday(&tv, NULL);
	memset(&spool_env, 0, sizeof(spool_env));
	spool_env.sender = sender;
	spool_env.recipients = rcpts;
	spool_env.n_recipients = env.n_rcpts;
	spool_env.client_name = "localhost";
	spool_env.client_addr = "127.0.0.1";
	spool_env.helo_name = cfg->myhostname;
	spool_env.protocol = "LOCAL";
	spool_env.tls_info = "";
	spool_env.arrival_sec = tv.tv_sec;
	spool_env.arrival_usec = tv.tv_usec;
	for (size_t i = offset; i < len; i++)
		if ((unsigned char)buf[i] >= 0x80) {
			spool_env.body_8bitmime = 1;
			break;
		}
	if ((w = spool_open(cfg->queue_dir, &spool_env, &err)) == NULL) {
		msg_warn("maildrop file %s: %s", name, err);
		rc = 0;			/* a full disk: try again later */
		goto out;
	}
	memset(&info, 0, sizeof(info));
	info.queue_id = spool_id(w);
	info.myhostname = cfg->myhostname;
	info.myorigin = cfg->myorigin;
	info.sender = sender;
	info.full_name = env.full_name;
	info.uid = st.st_uid;
	info.now = tv.tv_sec;
	local_message_build(buf + offset, len - offset, &info, &content);
	snprintf(id_out, QUEUE_ID_MAX, "%s", spool_id(w));
	if (spool_write(w, content.data, content.len) < 0 ||
	    spool_commit(w, &err) < 0) {
		if (err == NULL) {
			err = xasprintf("queue file write error: %s",
			    strerror(errno));
			spool_abort(w);
		}
		msg_warn("maildrop file %s: %s", name, err);
		rc = 0;
		goto out;
	}
	log_pickup_line(id_out, st.st_uid, sender);
	if (unlink(path) < 0)
		msg_warn("maildrop file %s: remove: %s (queued as %s)", name,
		    strerror(errno), id_out);
	rc = 1;
out:
	if (fd >= 0)
		close(fd);
	free(err);
	free(buf);
	free(sender);
	free(rcpts);
	strbuf_free(&content);
	maildrop_envelope_free(&env);
	free(path);
	return rc;
}

size_t
pickup_scan(const struct pickup_config *cfg,
    void (*new_message)(void *arg, const char *id), void *arg)
{
	char *dir_path = xasprintf("%s/%s", cfg->queue_dir, MAILDROP_DIR);
	DIR *dir = opendir(dir_path);
	struct dirent *de;
	size_t queued = 0;

	if (dir == NULL) {
		if (errno != ENOENT)
			msg_warn("open %s: %s", dir_path, strerror(errno));
		free(dir_path);
		return 0;
	}
	while ((de = readdir(dir)) != NULL) {
		char id[QUEUE_ID_MAX];

		if (de->d_name[0] == '.')
			continue;
		if (pick_up(cfg, de->d_name, id) == 1) {
			queued++;
			new_message(arg, id);
		}
	}
	closedir(dir);
	free(dir_path);
	return queued;
}
