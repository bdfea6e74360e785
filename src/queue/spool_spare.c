/* spool_spare: queue files kept for reuse. A delivered message's file is
 * emptied and set aside in spare/ instead of being unlinked, and a new
 * message takes one from there instead of creating a file, so a busy
 * relay does not allocate and free an inode per message. (On ext4
 * without a journal, each new inode is searched for past every inode
 * freed in the last minutes; with a journal, inode and bitmap updates
 * still cost a transaction each.)
 *
 * A file becomes reusable in two steps. The queue manager's loop renames
 * it from active/ to spare/.ID (spool_spare_remove): out of the queue at
 * once, as an unlink was. Its sync thread then empties it (freeing blocks
 * can wait on the disk, so not in the loop: spool_spare_empty), makes
 * every rename the file went through durable with one fsync of each queue
 * directory for the whole batch, and only then moves each file to a
 * numbered slot, spare/0 to spare/N-1, where a writer may take it
 * (spool_spare_release). Without those fsyncs, power loss could bring
 * back an old name (in incoming/, deferred/, hold/ or active/) pointing
 * at the file a new message has since been written into: the reason ext4
 * itself delays reusing a freed inode. Slots are claimed with rename and
 * never overwritten (RENAME_NOREPLACE), so at most N files wait. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tlsrelay/log.h"
#include "tlsrelay/queue.h"
#include "tlsrelay/util.h"

/*
 * Each side keeps a cursor: the releaser fills slots in turn and takers
 * follow it, so a take or a release is one rename when it hits. When it
 * misses a few times, the directory is listed to find the nearest slot
 * that has a file (taking) or lacks one (releasing). When that shows none
 * at all, spare/'s mtime is remembered, and until a rename in spare/
 * changes it a miss costs one stat instead of a listing.
 */
struct spare_side {
	unsigned cursor;
	struct timespec none_since;	/* spare/'s mtime when none was found */
	int none;
};

/* Per process: one writer loop or one sync thread uses each. */
static struct spare_side taker, releaser;
/* No RENAME_NOREPLACE here: set by either thread, read by both. */
static atomic_int spare_unsupported;

/* The directories a queue file passes through on its way to active/. */
static const char *const queue_dirs[] = {
	"incoming", "deferred", "hold", "active",
};

static char *
slot_path(const char *queue_dir, unsigned slot)
{
	return xasprintf("%s/spare/%u", queue_dir, slot % SPOOL_SPARE_SLOTS);
}

static char *
aside_path(const char *queue_dir, const char *id)
{
	return xasprintf("%s/spare/.%s", queue_dir, id);
}

/* rename without replacing; EINVAL/ENOSYS: the file system cannot. */
static int
rename_noreplace(const char *from, const char *to)
{
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno == EINVAL || errno == ENOSYS)
		atomic_store(&spare_unsupported, 1);
	return -1;
}

/* The slot nearest after side->cursor that is in use (used 1) or free
 * (used 0), as spare/ is listed now; -1 when there is none, or when
 * spare/ has not changed since the last listing that found none. */
static int
find_slot(struct spare_side *side, const char *queue_dir, int used)
{
	char *dir = xasprintf("%s/spare", queue_dir);
	unsigned char in_use[SPOOL_SPARE_SLOTS] = { 0 };
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
		    *end == '\0' && n < SPOOL_SPARE_SLOTS)
			in_use[n] = 1;
	}
	closedir(d);
	for (unsigned i = 0; i < SPOOL_SPARE_SLOTS && found < 0; i++) {
		unsigned slot = (side->cursor + i) % SPOOL_SPARE_SLOTS;

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

	for (int attempt = 0; attempt <= SPARE_TRIES; attempt++) {
		char *slot;
		int found, rc, saved;

		if (attempt == SPARE_TRIES) {
			if ((found = find_slot(side, queue_dir, taking)) < 0)
				break;
			side->cursor = (unsigned)found;
		}
		slot = slot_path(queue_dir, side->cursor);
		rc = taking ? rename_noreplace(slot, path) :
		    rename_noreplace(path, slot);
		saved = errno;
		free(slot);
		side->cursor = (side->cursor + 1) % SPOOL_SPARE_SLOTS;
		if (rc == 0)
			return 0;
		/* Taken by another writer or not released yet; in use. */
		if (saved != (taking ? ENOENT : EEXIST)) {
			side->cursor = start;
			errno = saved;
			return -1;
		}
	}
	side->cursor = start;
	errno = taking ? ENOENT : EEXIST;
	return -1;
}

/* Opens and locks a file just renamed to tmp_path; -1 (with it removed)
 * unless it is a regular file of ours with one link: the stale-file
 * purge may have removed it between the rename and the lock, and only
 * what a queue manager set aside belongs here. O_NONBLOCK: a FIFO would
 * otherwise hold the open. The mode is a new file's again: the
 * owner-execute bit says a delay warning was sent. */
static int
open_taken(const char *tmp_path)
{
	struct stat st;
	int fd = open(tmp_path, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0 &&
	    fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1 &&
	    st.st_uid == geteuid() &&
	    (st.st_size == 0 || ftruncate(fd, 0) == 0) &&
	    fchmod(fd, 0600) == 0)
		return fd;
	if (fd >= 0)
		close(fd);
	if (remove(tmp_path) < 0 && errno != ENOENT)
		msg_warn("remove %s: %s", tmp_path, strerror(errno));
	return -1;
}

int
spool_spare_take(const char *queue_dir, const char *tmp_path, int *retry)
{
	int fd;

	*retry = 0;
	if (atomic_load(&spare_unsupported))
		return -1;
	if (move_slot(&taker, queue_dir, 1, tmp_path) < 0) {
		*retry = errno == EEXIST;
		return -1;
	}
	/* Unusable and removed: the purge may yet unlink that name, so
	 * the caller takes another. */
	fd = open_taken(tmp_path);
	*retry = fd < 0;
	return fd;
}

int
spool_spare_remove(const char *queue_dir, const char *path, const char *id)
{
	char *aside;
	int rc;

	if (!atomic_load(&spare_unsupported)) {
		aside = aside_path(queue_dir, id);
		rc = rename(path, aside);
		free(aside);
		if (rc == 0)
			return 1;
	}
	return unlink(path) == 0 ? 0 : -1;
}

void
spool_spare_empty(const char *queue_dir, char **ids, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *aside = aside_path(queue_dir, ids[i]);
		int fd = open(aside, O_WRONLY | O_NOFOLLOW | O_NONBLOCK |
		    O_CLOEXEC);

		if (fd < 0 || ftruncate(fd, 0) < 0) {
			/* Not emptied, so not reused: removed at once. */
			msg_warn("empty %s: %s; removed, not kept for reuse",
			    aside, strerror(errno));
			if (unlink(aside) < 0 && errno != ENOENT)
				msg_warn("unlink %s: %s", aside,
				    strerror(errno));
			free(ids[i]);
			ids[i] = NULL;
		}
		if (fd >= 0)
			close(fd);
		free(aside);
	}
}

/* fsync of each queue directory: 0, or -1 with *failed its name. */
static int
sync_queue_dirs(const char *queue_dir, const char **failed)
{
	for (size_t i = 0; i < sizeof(queue_dirs) / sizeof(queue_dirs[0]);
	    i++) {
		char *dir = xasprintf("%s/%s", queue_dir, queue_dirs[i]);
		int rc = fsync_dir(dir), saved = errno;

		free(dir);
		if (rc < 0) {
			*failed = queue_dirs[i];
			errno = saved;
			return -1;
		}
	}
	return 0;
}

void
spool_spare_release(const char *queue_dir, char *const *ids, size_t n)
{
	const char *failed = NULL;
	int durable = sync_queue_dirs(queue_dir, &failed) == 0;

	/* Not reusable: an old name may still lead to them. */
	if (!durable)
		msg_warn("fsync %s/%s: %s; queue files removed, not kept for "
		    "reuse", queue_dir, failed, strerror(errno));
	for (size_t i = 0; i < n; i++) {
		char *aside;

		if (ids[i] == NULL)
			continue;
		aside = aside_path(queue_dir, ids[i]);
		if ((!durable || atomic_load(&spare_unsupported) ||
		    move_slot(&releaser, queue_dir, 0, aside) < 0) &&
		    unlink(aside) < 0 && errno != ENOENT)
			msg_warn("unlink %s: %s", aside, strerror(errno));
		free(aside);
	}
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
	/* Set aside but never released: whether their old names are gone
	 * for good is unknown, so they are not reused. */
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
