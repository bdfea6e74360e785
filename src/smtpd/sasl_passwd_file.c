/* sasl_passwd_file: the edit `tlsrelay passwd` makes to the source of the
 * password table: one "user hash" line set or removed, everything else
 * (comments, blank lines, other entries, their order) kept as written.
 * The file is replaced atomically, so the daemon and `tlsrelay map` see
 * the old or the new text, never half of it. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tlsrelay/sasl.h"
#include "tlsrelay/util.h"

int
sasl_username_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > SASL_NAME_MAX || name[0] == '#')
		return 0;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p <= ' ' || *p == 0x7f)
			return 0;
	return 1;
}

/* The file's text; "" with *missing = 1 when it does not exist yet. */
static char *
read_text_or_empty(const char *path, int *missing, char **err)
{
	char *text;

	*missing = 0;
	if ((text = file_read_text(path, err)) == NULL && errno == ENOENT) {
		free(*err);
		*err = NULL;
		*missing = 1;
		return xstrdup("");
	}
	return text;
}

/* 1 when the key of entry line (starting at line, len bytes) is user. */
static int
line_is_user(const char *line, size_t len, const char *user)
{
	size_t klen = 0;

	while (klen < len && !isspace((unsigned char)line[klen]))
		klen++;
	return klen == strlen(user) && strncasecmp(line, user, klen) == 0;
}

/* The new text: text with user's entry (and its continuation lines)
 * replaced by "user hash", or removed when hash is NULL. *found tells
 * whether text had an entry for user. */
static char *
edit_text(const char *text, const char *user, const char *hash, int *found)
{
	const char *p = text;
	struct strbuf out;
	int in_user = 0;

	*found = 0;
	strbuf_init(&out);
	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		size_t skip = strspn(p, " \t\r\f\v");
		int blank = skip >= len, comment = !blank && p[skip] == '#';

		if (blank || comment) {
			/* Kept where it is; it neither starts nor ends an
			 * entry. */
		} else if (skip > 0) {
			/* A continuation line belongs to the entry above. */
			if (in_user)
				goto next;
		} else if (line_is_user(p, len, user)) {
			in_user = 1;
			/* Later duplicates are dropped: postmap would ignore
			 * them, and a stale hash must not linger. */
			if (hash != NULL && !*found)
				strbuf_printf(&out, "%s %s\n", user, hash);
			*found = 1;
			goto next;
		} else
			in_user = 0;
		strbuf_append(&out, p, len);
		strbuf_puts(&out, "\n");
next:
		p += len + (nl ? 1 : 0);
	}
	if (hash != NULL && !*found)
		strbuf_printf(&out, "%s %s\n", user, hash);
	return strbuf_steal(&out);
}

static char *
dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

/* Writes text to a temporary file next to path with the given mode and
 * owner, syncs it and renames it over path. */
static int
replace_file(const char *path, const char *text, const struct stat *old,
    char **err)
{
	char *tmp = xasprintf("%s.tmpXXXXXX", path);
	size_t len = strlen(text), done = 0;
	int fd, ret = -1;

	if ((fd = mkstemp(tmp)) < 0) {
		*err = xasprintf("create %s: %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	if (fchmod(fd, old ? old->st_mode & 07777 : 0600) < 0) {
		*err = xasprintf("chmod %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (old != NULL && geteuid() == 0 &&
	    fchown(fd, old->st_uid, old->st_gid) < 0) {
		*err = xasprintf("chown %s: %s", tmp, strerror(errno));
		goto out;
	}
	while (done < len) {
		ssize_t n = write(fd, text + done, len - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			*err = xasprintf("write %s: %s", tmp, strerror(errno));
			goto out;
		}
		done += (size_t)n;
	}
	if (fsync(fd) < 0) {
		*err = xasprintf("sync %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		*err = xasprintf("close %s: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		*err = xasprintf("rename %s to %s: %s", tmp, path,
		    strerror(errno));
		goto out;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (ret < 0)
		unlink(tmp);
	free(tmp);
	return ret;
}

int
sasl_passwd_update(const char *path, const char *user, const char *hash,
    char **err)
{
	char *dir = dir_of(path), *name = NULL, *text = NULL, *edited = NULL;
	struct stat st;
	int dirfd, missing, found, ret = -1;

	*err = NULL;
	if (!sasl_username_valid(user)) {
		*err = xasprintf("invalid user name \"%s\": 1 to %d printable "
		    "characters without white space", user, SASL_NAME_MAX);
		free(dir);
		return -1;
	}
	if (hash != NULL && (hash[0] == '\0' || strpbrk(hash, " \t\r\n"))) {
		*err = xstrdup("invalid password hash");
		free(dir);
		return -1;
	}
	/* One editor at a time: the lock is on the directory, since the
	 * file itself is replaced. */
	if ((dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		*err = xasprintf("open directory %s: %s", dir, strerror(errno));
		free(dir);
		return -1;
	}
	if (flock(dirfd, LOCK_EX) < 0) {
		*err = xasprintf("lock %s: %s", dir, strerror(errno));
		goto out;
	}
	name = str_lower(xstrdup(user));
	if ((text = read_text_or_empty(path, &missing, err)) == NULL)
		goto out;
	if (!missing && stat(path, &st) < 0) {
		*err = xasprintf("stat %s: %s", path, strerror(errno));
		goto out;
	}
	edited = edit_text(text, name, hash, &found);
	if (hash == NULL && !found) {
		ret = 1;
		goto out;
	}
	if (replace_file(path, edited, missing ? NULL : &st, err) < 0)
		goto out;
	if (fsync(dirfd) < 0) {
		*err = xasprintf("sync directory %s: %s", dir, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	if (text != NULL)
		explicit_bzero(text, strlen(text));
	if (edited != NULL)
		explicit_bzero(edited, strlen(edited));
	free(text);
	free(edited);
	free(name);
	free(dir);
	close(dirfd);
	return ret;
}
