/* tls_ticket_file: reads tlsrelay_smtpd_tls_ticket_key_file, the session
 * ticket keys that configuration management gives every node of a
 * cluster, so that a ticket issued by one node resumes on any other.
 * The format is nginx's ssl_session_ticket_key: 80 random bytes per key
 * (`openssl rand 80 > FILE`), several keys concatenated for rollover.
 * How the 80 bytes are used is tls_scache_ticket.c's business; here the
 * file only has to be one we may trust with a secret: a regular file,
 * not world-readable, of a positive multiple of 80 bytes. It is read by
 * the supervisor, as root, whenever it builds the TLS contexts (start,
 * reload, cert_watch.c noticing a change): the workers inherit the keys
 * and never open it. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "tlsrelay/util.h"
#include "tls_scache.h"

unsigned char *
tls_ticket_file_read(const char *path, size_t *n_keys, char **reason)
{
	unsigned char *buf;
	struct stat st;
	size_t len, got = 0;
	int fd;

	if ((fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC)) < 0) {
		*reason = xasprintf("cannot open: %s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0) {
		*reason = xasprintf("cannot stat: %s", strerror(errno));
		close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		*reason = xstrdup("not a regular file");
		close(fd);
		return NULL;
	}
	/* Anyone who reads it can decrypt every recorded session. */
	if (st.st_mode & S_IROTH) {
		*reason = xstrdup("the file is world-readable: it holds secret "
		    "keys (chmod 600 it)");
		close(fd);
		return NULL;
	}
	if (st.st_size <= 0 || st.st_size % TLS_TICKET_FILE_KEY_LEN != 0) {
		*reason = xasprintf("size %lld bytes is not a positive multiple "
		    "of %d (make a key with: openssl rand %d)",
		    (long long)st.st_size, TLS_TICKET_FILE_KEY_LEN,
		    TLS_TICKET_FILE_KEY_LEN);
		close(fd);
		return NULL;
	}
	if (st.st_size > TLS_TICKET_FILE_MAX_KEYS * TLS_TICKET_FILE_KEY_LEN) {
		*reason = xasprintf("%lld keys, more than %d", (long long)
		    (st.st_size / TLS_TICKET_FILE_KEY_LEN),
		    TLS_TICKET_FILE_MAX_KEYS);
		close(fd);
		return NULL;
	}
	len = (size_t)st.st_size;
	buf = xmalloc(len);
	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* Rewritten in place while we read: the next look
			 * (cert_watch.c) sees the change and tries again. */
			*reason = n < 0 ? xasprintf("read: %s",
			    strerror(errno)) : xstrdup("the file shrank "
			    "while being read");
			OPENSSL_cleanse(buf, len);
			free(buf);
			close(fd);
			return NULL;
		}
		got += (size_t)n;
	}
	close(fd);
	*n_keys = len / TLS_TICKET_FILE_KEY_LEN;
	return buf;
}
