/* queue: the spool. A message becomes durable in three steps: written to
 * queue_directory/tmp/ID, fsync'ed, renamed into incoming/ and the directory
 * fsync'ed. Only then may smtpd say 250. The file format is documented in
 * src/queue/SPOOL-FORMAT.md and versioned by its first line. */
#ifndef TLSRELAY_QUEUE_H
#define TLSRELAY_QUEUE_H

#include <stddef.h>
#include <sys/types.h>

#define QUEUE_ID_MAX 32
#define SPOOL_FORMAT_VERSION 1

/* Creates tmp/ incoming/ active/ deferred/ hold/ corrupt/ under
 * queue_dir (mode 0700) and, when uid is not -1, gives them to uid:gid.
 * Returns 0, or -1 with *err set (caller frees). */
int spool_init(const char *queue_dir, uid_t uid, gid_t gid, char **err);

/* A new queue ID, unique on this host across processes and restarts:
 * 28 upper-case hex digits, [0-9A-F] only: microsecond time (14), pid (8)
 * and a per-process counter (6). IDs sort by arrival time. */
void queue_id_new(char id[QUEUE_ID_MAX]);

/* The envelope as smtpd knows it when DATA starts. */
struct spool_envelope {
	const char *sender;		/* "" for the null sender */
	const char *const *recipients;
	size_t n_recipients;
	const char *client_name;	/* "unknown" if no reverse name */
	const char *client_addr;
	const char *helo_name;		/* may be "" */
	const char *protocol;		/* "ESMTP", "ESMTPS", "SMTP", ... */
	const char *tls_info;		/* "TLSv1.3 with cipher ..." or "" */
	int body_8bitmime;
	long long arrival_sec;
	long arrival_usec;
};

struct spool_writer;

/* Creates queue_dir/tmp/ID and writes the envelope. Returns NULL with
 * *err set on failure (nothing is left behind). */
struct spool_writer *spool_open(const char *queue_dir,
    const struct spool_envelope *env, char **err);
const char *spool_id(const struct spool_writer *writer);
/* Appends message content. Returns 0, or -1 (errno set) on a write error;
 * the writer then remembers the failure and spool_commit fails. */
int spool_write(struct spool_writer *writer, const char *data, size_t len);
/* fsync, rename tmp/ID -> incoming/ID, fsync incoming/. Frees the writer.
 * Returns 0 when the message is durable, else -1 with *err set and the
 * tmp file removed. */
int spool_commit(struct spool_writer *writer, char **err);
/* Removes the tmp file and frees the writer. */
void spool_abort(struct spool_writer *writer);

/* Reading a queue file back (the queue manager, `tlsrelay queue`, tests). */
struct spool_recipient {
	char *address;
	char status;		/* ' ' pending, 'D' delivered, 'B' bounced */
	off_t status_offset;	/* file offset of the status byte */
};

struct spool_message {
	char id[QUEUE_ID_MAX];
	int version;
	char *sender;
	struct spool_recipient *recipients;
	size_t n_recipients;
	char *client_name, *client_addr, *helo_name, *protocol, *tls_info;
	int body_8bitmime;
	long long arrival_sec;
	long arrival_usec;
	off_t content_offset;	/* where the message content starts */
	off_t content_length;
};

/* Parses the queue file at path. Returns 0, or -1 with *err naming the
 * file and what is wrong (a queue file is untrusted input too). */
int spool_read(const char *path, struct spool_message *msg, char **err);
void spool_message_free(struct spool_message *msg);

/* Records a recipient's new status (' ', 'D' or 'B') in place: one byte
 * at rcpt->status_offset (from spool_read), written with pwrite and made
 * durable with fdatasync. Returns 0, or -1 with *err set (caller frees). */
int spool_set_status(const char *path, const struct spool_recipient *rcpt,
    char status, char **err);

#endif
