/* spool_status: recording a delivery in a queue file in place. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tlsrelay/queue.h"
#include "tlsrelay/util.h"
#include "spool_format.h"

/* 1 if offset is the status byte of the recipient record for address
 * (any address when NULL) in the file as it is now. The envelope is
 * parsed again because neighbouring bytes prove nothing: the content may
 * hold a line that looks just like a recipient record. */
static int
is_status_byte(const char *path, off_t offset, const char *address,
    char **err)
{
	struct spool_message msg;
	int found = 0;

	if (spool_read(path, &msg, err) < 0)
		return -1;
	for (size_t i = 0; i < msg.n_recipients; i++) {
		if (msg.recipients[i].status_offset == offset) {
			found = address == NULL ||
			    strcmp(address, msg.recipients[i].address) == 0;
			break;
		}
	}
	spool_message_free(&msg);
	if (!found)
		*err = xasprintf("%s: offset %lld is not a recipient status%s%s",
		    path, (long long)offset, address ? " of " : "",
		    address ? address : "");
	return found;
}

static int
valid_status(char status)
{
	return status == SPOOL_STATUS_PENDING ||
	    status == SPOOL_STATUS_DELIVERED || status == SPOOL_STATUS_BOUNCED;
}

static int
write_status(int fd, const char *path, off_t offset, char status,
    char **err)
{
	ssize_t n;

	do {
		n = pwrite(fd, &status, 1, offset);
	} while (n < 0 && errno == EINTR);
	if (n != 1) {
		*err = xasprintf("%s: write: %s", path,
		    n < 0 ? strerror(errno) : "short write");
		return -1;
	}
	return 0;
}

int
spool_mark(int fd, const char *path, const struct spool_recipient *rcpt,
    char status, char **err)
{
	char was[2];
	ssize_t n;

	*err = NULL;
	if (!valid_status(status)) {
		*err = xasprintf("%s: bad recipient status 0x%02x", path,
		    (unsigned char)status);
		return -1;
	}
	/* A cheap guard against a programming error: the offset came from
	 * parsing this very file, so the record must be there. */
	do {
		n = pread(fd, was, 2, rcpt->status_offset - 1);
	} while (n < 0 && errno == EINTR);
	if (rcpt->status_offset < 1 || n != 2 || was[0] != SPOOL_REC_RCPT ||
	    !valid_status(was[1])) {
		*err = xasprintf("%s: offset %lld is not a recipient status of "
		    "%s", path, (long long)rcpt->status_offset, rcpt->address);
		return -1;
	}
	return write_status(fd, path, rcpt->status_offset, status, err);
}

/*
 * One byte written with pwrite is atomic with respect to a crash: the
 * file holds either the old status or the new one, never a torn record.
 */
int
spool_set_status(const char *path, const struct spool_recipient *rcpt,
    char status, char **err)
{
	int fd;

	*err = NULL;
	if (!valid_status(status)) {
		*err = xasprintf("%s: bad recipient status 0x%02x", path,
		    (unsigned char)status);
		return -1;
	}
	if (is_status_byte(path, rcpt->status_offset, rcpt->address,
	    err) != 1)
		return -1;
	fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		*err = xasprintf("%s: open: %s", path, strerror(errno));
		return -1;
	}
	if (write_status(fd, path, rcpt->status_offset, status, err) < 0) {
		close(fd);
		return -1;
	}
	if (fdatasync(fd) < 0) {
		*err = xasprintf("%s: fdatasync: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (close(fd) < 0) {
		*err = xasprintf("%s: close: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}
