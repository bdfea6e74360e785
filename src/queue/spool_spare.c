/* spool_spare: queue files kept for reuse. A delivered message's file is
 * emptied and set aside in spare/ instead of being unlinked, and a new
 * message takes one from there instead of creating a file, so a busy
 * relay does not allocate and free an inode per message. (On ext4
 * without a journal, each new inode is searched for past every inode
 * freed in the last minutes; with a journal, inode and bitmap updates
 * still cost a transaction each.)
 *
 * A file becomes reusable in two steps. The queue manager's loop renames
 * it from active/ to spare/.ID (spool_spare_set_aside): out of the queue
 * at once, as an unlink was. Its sync thread then empties it (freeing
 * blocks can wait on the disk, so not in the loop: spool_spare_empty),
 * makes the renames durable with one fsync of active/ for the whole
 * batch, and only then moves each file to a numbered slot, spare/0 to
 * spare/N-1, where a writer may take it (spool_spare_release). Without
 * that fsync, power loss could bring back the old name pointing at the
 * file a new message has been written into (the reason ext4 itself
 * delays reusing a freed inode). Slots are claimed with rename and never
 * overwritten (RENAME_NOREPLACE), so at most N files wait, each empty. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tlsrelay/log.h"
#include "tlsrelay/queue.h"
#include "tlsrelay/util.h"

#define SPARE_SLOTS	128

/*
 * Each side keeps a cursor: the releaser fills slots in turn and takers
 * follow it, so a take or a release is one rename when it hits. When it
 * misses a few times, the directory is listed to find the nearest slot
 * that has a file (taking) or lacks one (releasing). When that shows none at all,
 * spare/'s mtime is remembered, and until a rename in spare/ changes it
 * a miss costs one stat instead of a listing.
 */
struct spare_side {
	unsigned cursor;
	struct timespec none_since;	/* spare/'s mtime when none was found */
	int none;
};

/* Per process: one writer loop or one sync thread uses each. */
static struct spare_side taker, releaser;
static int spare_unsupported;	/* no RENAME_NOREPLACE here */

static void
slot_path(char *buf, size_t size, const char *queue_dir, unsigned slot)
{
	snprintf(buf, size, "%s/spare/%u", queue_dir, slot % SPARE_SLOTS);
}

/* rename without replacing; EINVAL/ENOSYS: the file system cannot. */
static int
rename_noreplace(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno == EINVAL || errno == ENOSYS)
		spare_unsupported = 1;
	return -1;
}

/* The slot nearest after side->cursor that is in use (used 1) or free
 * (used 0), as spare/ is listed now; -1 when there is none, or when
 * spare/ has not changed since the last listing that found none. */
static int
find_slot(struct spare_side *side, const char *queue_dir, int used)
{
	char *dir = xasprintf("%s/spare", queue_dir);
	unsigned char in_use[SPARE_SLOTS] = { 0 };
	struct dirent *de;
	struct stat st;
	DIR *d;
	int found = -1;

	if (stat(dir, &st) < 0 || (side->none &&
	    st.st_mtim.tv_sec == side->none_since.tv_sec &&
	    st.st_mtim.tv_nsec == side->none_since.tv_nsec) ||
	    (d = opendir(dir)) == NULL) {
		free(dir);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		char *end;
		unsigned long n = strtoul(de->d_name, &end, 10);

		if (de->d_name[0] >= '0' && de->d_name[0] <= '9' &&
		    *end == '\0' && n < SPARE_SLOTS)
			in_use[n] = 1;
	}
	closedir(d);
	for (unsigned i = 0; i < SPARE_SLOTS && found < 0; i++) {
		unsigned slot = (side->cursor + i) % SPARE_SLOTS;

		if (in_use[slot] == used)
			found = (int)slot;
	}
	side->none = found < 0;
	side->none_since = st.st_mtim;
	free(dir);
	return found;
}

/* Slots tried in turn before spare/ is listed: another writer may have
 * taken the slot at the cursor, usually not the ones after it. */
#define SPARE_TRIES	4

/* One rename between path and a slot: out of the slot at side's cursor
 * (taking) or into it (releasing), else out of or into the next ones,
 * else the nearest slot a listing shows to have a file, or to lack one.
 * The cursor moves past the slot used. Returns 0, or -1 with errno of
 * the rename (EEXIST when taking: path is there already). */
static int
move_slot(struct spare_side *side, const char *queue_dir, int taking,
    const char *path)
{
	unsigned start = side->cursor;
	char slot[4096];
	int found;

	for (int attempt = 0; attempt <= SPARE_TRIES; attempt++) {
		int rc;

		if (attempt == SPARE_TRIES) {
			if ((found = find_slot(side, queue_dir, taking)) < 0) {
				side->cursor = start;
				return -1;
			}
			side->cursor = (unsigned)found;
		}
		slot_path(slot, sizeof(slot), queue_dir, side->cursor);
		rc = taking ? rename_noreplace(slot, path) :
		    rename_noreplace(path, slot);
		side->cursor = (side->cursor + 1) % SPARE_SLOTS;
		if (rc == 0)
			return 0;
		/* Taken by another writer or not released yet; in use. */
		if (errno != (taking ? ENOENT : EEXIST))
			return -1;
	}
	side->cursor = start;
	return -1;
}

/* Opens and locks a file just renamed to tmp_path; -1 if it is not an
 * empty-able regular file of ours with one link (the stale-file purge
 * may have removed it between the rename and the lock). */
static int
open_taken(const char *tmp_path)
{
	struct stat st;
	int fd = open(tmp_path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0 || fstat(fd, &st) < 0 ||
	    !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
	    st.st_uid != geteuid() ||
	    (st.st_size != 0 && ftruncate(fd, 0) < 0)) {
		close(fd);
		(void)unlink(tmp_path);
		return -1;
	}
	return fd;
}

int
spool_spare_take(const char *queue_dir, const char *tmp_path, int *clash)
{
	int fd;

	*clash = 0;
	if (spare_unsupported)
		return -1;
	if (move_slot(&taker, queue_dir, 1, tmp_path) < 0) {
		*clash = errno == EEXIST;
		return -1;
	}
	/* Unusable and removed: the purge may yet unlink that name, so
	 * the caller takes another. */
	fd = open_taken(tmp_path);
	*clash = fd < 0;
	return fd;
}

int
spool_spare_set_aside(const char *queue_dir, const char *path, const char *id)
{
	char *aside = xasprintf("%s/spare/.%s", queue_dir, id);
	int rc = rename(path, aside);

	free(aside);
	return rc;
}

void
spool_spare_empty(const char *queue_dir, char *const *ids, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *aside = xasprintf("%s/spare/.%s", queue_dir, ids[i]);

		/* Not emptied, not reused: release finds it gone. */
		if (truncate(aside, 0) < 0 && unlink(aside) < 0 &&
		    errno != ENOENT)
			msg_warn("unlink %s: %s", aside, strerror(errno));
		free(aside);
	}
}

/* Moves spare/.ID to a free slot, or removes it when spare/ is full or
 * the file is not to be reused. */
static void
release_one(const char *queue_dir, const char *id, int reusable)
{
	char *aside = xasprintf("%s/spare/.%s", queue_dir, id);

	if (!reusable || spare_unsupported ||
	    move_slot(&releaser, queue_dir, 0, aside) < 0) {
		if (unlink(aside) < 0 && errno != ENOENT)
			msg_warn("unlink %s: %s", aside, strerror(errno));
	}
	free(aside);
}

void
spool_spare_release(const char *queue_dir, char *const *ids, size_t n)
{
	char *active = xasprintf("%s/active", queue_dir);
	int fd = open(active, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int durable = fd >= 0 && fsync(fd) == 0;

	if (fd >= 0)
		close(fd);
	/* Not reusable: a name in active/ may still lead to them. */
	if (!durable)
		msg_warn("fsync %s: %s; queue files removed, not kept for "
		    "reuse", active, strerror(errno));
	for (size_t i = 0; i < n; i++)
		release_one(queue_dir, ids[i], durable);
	free(active);
}

unsigned
spool_spare_purge(const char *queue_dir)
{
	char *dir = xasprintf("%s/spare", queue_dir);
	DIR *d = opendir(dir);
	struct dirent *de;
	unsigned removed = 0;

	if (d == NULL) {
		free(dir);
		return 0;
	}
	/* Set aside but never released: whether their rename out of
	 * active/ is durable is unknown, so they are not reused. */
	while ((de = readdir(d)) != NULL) {
		char *path;

		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		if (unlink(path) == 0)
			removed++;
		free(path);
	}
	closedir(d);
	free(dir);
	return removed;
}
