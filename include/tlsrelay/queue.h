/* queue: the spool. A message becomes durable in three steps: written to
 * queue_directory/tmp/ID, fsync'ed, renamed into incoming/ and the directory
 * fsync'ed (once for a batch of messages). Only then may smtpd say 250. The
 * file format is documented in src/queue/SPOOL-FORMAT.md and versioned by
 * its first line. */
#ifndef TLSRELAY_QUEUE_H
#define TLSRELAY_QUEUE_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#define QUEUE_ID_MAX 32
#define SPOOL_FORMAT_VERSION 1

/* Creates tmp/ incoming/ active/ deferred/ hold/ corrupt/ under
 * queue_dir (mode 0700) and, when uid is not -1, gives them to uid:gid.
 * Returns 0, or -1 with *err set (caller frees). */
int spool_init(const char *queue_dir, uid_t uid, gid_t gid, char **err);
/* The set-group-ID side (after spool_init, as root): maildrop/ (mode
 * 1730, uid:drop_gid), where tlsrelay-sendmail leaves local mail, and
 * public/ with the qmgr FIFO given to drop_gid, so that it can wake the
 * queue manager. Returns 0, or -1 with *err set. */
int spool_init_maildrop(const char *queue_dir, uid_t uid, gid_t drop_gid,
    char **err);

/* A new queue ID, unique on this host across processes and restarts:
 * 28 upper-case hex digits, [0-9A-F] only: microsecond time (14), pid
 * with a tag of the node's name (8) and a per-process counter (6). IDs
 * sort by arrival time. queue_id_node() sets the tag from myhostname
 * (the supervisor, for the processes it starts). */
void queue_id_new(char id[QUEUE_ID_MAX]);
void queue_id_node(const char *myhostname);

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
/* Group commit: spool_commit for n writers, with one fsync of incoming/
 * for all of them (each file is still fsync'ed and renamed in turn).
 * errs[i] gets NULL when writers[i] is durable, else its error (caller
 * frees); a failed directory fsync fails, and removes, every message
 * renamed into that directory. Frees the writers. Returns how many
 * failed. Safe to call from any thread; it logs nothing. */
size_t spool_commit_batch(struct spool_writer **writers, size_t n,
    char **errs);
/* Removes the tmp file and frees the writer. */
void spool_abort(struct spool_writer *writer);
/* Removes what a crash left in tmp/: files older than a minute that no
 * writer holds (a writer holds its file locked from spool_open to its
 * commit or abort). Returns how many; logs them. */
unsigned spool_purge_tmp(const char *queue_dir);
/* Queue files kept for reuse (src/queue/spool_spare.c, SPOOL-FORMAT.md):
 * a delivered message's file is emptied into spare/ and a new message
 * takes it instead of creating a file. At most this many wait. */
#define SPOOL_SPARE_SLOTS	128
/* Renames a spare file to tmp_path (a new name) and returns it open for
 * writing, locked, empty and mode 0600; -1 when there is none: create
 * one, or, with *retry set, take a new name first. */
int spool_spare_take(const char *queue_dir, const char *tmp_path,
    int *retry);
/* The queue manager's loop, for a delivered message's file at path (in
 * active/): renamed to spare/.ID (returns 1: hand the ID to the sync
 * thread, spool_syncer_queue_spare), else unlinked (0), else -1 with
 * errno set. */
int spool_spare_remove(const char *queue_dir, const char *path,
    const char *id);
/* Its sync thread, for the IDs set aside since its last batch, in this
 * order: spool_spare_empty empties each spare/.ID (an emptied file needs
 * no durable marks, so before they are synced; one that cannot be
 * emptied is removed and its ID freed and set to NULL)... */
void spool_spare_empty(const char *queue_dir, char **ids, size_t n);
/* ...then spool_spare_release fsyncs each queue directory once for the
 * batch and moves each spare/.ID into a free slot (or removes it when
 * spare/ is full or an fsync failed). */
void spool_spare_release(const char *queue_dir, char *const *ids,
    size_t n);
/* At the queue manager's start: removes files set aside but never
 * released. Returns how many. */
unsigned spool_spare_purge(const char *queue_dir);
/* The commit renames the file into hold/ instead of incoming/ (an access
 * table's HOLD action): durable, but not delivered until `tlsrelay queue
 * release`. Call before the commit. */
void spool_hold(struct spool_writer *writer);

/* The commit thread (src/queue/spool_committer.c) lets an event loop have
 * messages committed without waiting for the disk itself. The loop
 * submits finished writers and kicks: all that was submitted since the
 * last kick goes to the thread, which commits everything it was handed
 * as one spool_commit_batch (what arrives while it works makes up its
 * next batch). The loop watches spool_committer_fd and, when it is
 * readable, calls spool_committer_collect, which runs each finished
 * commit's callback in the loop's thread. Only that one thread may call
 * these functions. */
struct spool_committer;

/* err is NULL when the message is durable, else why it is not (freed
 * when the callback returns). */
typedef void (*spool_commit_cb)(void *arg, const char *err);

/* Starts the thread. Returns NULL with *err set (caller frees). */
struct spool_committer *spool_committer_new(char **err);
/* Queues writer (the committer owns it now) for the next batch; done
 * runs from spool_committer_collect once the commit is over. */
void spool_committer_submit(struct spool_committer *committer,
    struct spool_writer *writer, spool_commit_cb done, void *arg);
/* Hands everything submitted since the last kick over to the thread. */
void spool_committer_kick(struct spool_committer *committer);
/* Readable when finished commits wait to be collected. */
int spool_committer_fd(const struct spool_committer *committer);
/* Runs the callback of every finished commit. */
void spool_committer_collect(struct spool_committer *committer);
/* Commits whatever is still queued, stops the thread and frees the
 * committer; callbacks not collected by then never run. */
void spool_committer_free(struct spool_committer *committer);

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
/* The same from an open file (read with pread; the fd stays open and its
 * position is not used); path only names the file in *err. */
int spool_read_fd(int fd, const char *path, struct spool_message *msg,
    char **err);
void spool_message_free(struct spool_message *msg);

/* Records a recipient's new status (' ', 'D' or 'B') in place: one byte
 * at rcpt->status_offset (from spool_read), written with pwrite and made
 * durable with fdatasync. The envelope is parsed again first, so a stale
 * offset fails instead of corrupting the file: for administration tools.
 * Returns 0, or -1 with *err set (caller frees). */
int spool_set_status(const char *path, const struct spool_recipient *rcpt,
    char status, char **err);
/* The queue manager's way: fd is the file that spool_read_fd parsed,
 * open for writing and held since, so the offset is known to be right;
 * the two bytes at it are checked ('R' and a status) before one byte is
 * written. No fsync: the page cache keeps the byte across a crash of the
 * process; against power loss the caller hands fd to a spool_syncer.
 * Returns 0, or -1 with *err set. */
int spool_mark(int fd, const char *path, const struct spool_recipient *rcpt,
    char status, char **err);

/* Group commit of status marks (src/queue/spool_sync.c): a thread that
 * fdatasyncs the files handed to it, each file once per batch, so the
 * event loop never waits for the disk. A file whose last link is gone by
 * then, or that was emptied, is skipped. Power-loss semantics: SPOOL-FORMAT.md. */
struct spool_syncer;
struct spool_syncer *spool_syncer_new(const char *queue_dir, char **err);
/* Queues fd (dup'ed: the caller keeps its own) for the next batch. */
void spool_syncer_add(struct spool_syncer *syncer, int fd);
/* Queues the ID of a file set aside as spare/.ID (spool_spare_remove)
 * for the next batch: emptied, then released for reuse. */
void spool_syncer_queue_spare(struct spool_syncer *syncer, const char *id);
/* Files synced so far (for tests and statistics). */
unsigned long long spool_syncer_synced(struct spool_syncer *syncer);
/* Syncs what is queued, stops the thread and frees it. */
void spool_syncer_free(struct spool_syncer *syncer);

/* ---- Outbound additions: qmgr notification, defer log, bounces, queue
 * listing and administration. Layout additions (spool_init creates them):
 * defer/ (0700, one reason file per deferred message) and public/ (0710)
 * holding the FIFO public/qmgr (0620, owned by mail_owner). ---- */

/* 1 when id[0..len) is a queue ID a reader accepts: 1 to QUEUE_ID_MAX-1
 * upper-case hex digits. Anything else must never become a path. */
int queue_id_valid(const char *id, size_t len);

/* qmgr notification (src/queue/queue_notify.c). A record is one line,
 * "<request><id>\n", written in one write(2) so records never interleave.
 * A lost notice only delays: the qmgr rescans the spool anyway. */
#define QUEUE_NOTIFY_NEW	'I'	/* id: a new message in incoming/ */
#define QUEUE_NOTIFY_FLUSH	'F'	/* id, or "" for every deferred one */
#define QUEUE_NOTIFY_RESCAN	'R'	/* id "": scan all queue directories */
#define QUEUE_NOTIFY_PICKUP	'P'	/* id "": new files in maildrop/ */
#define QUEUE_NOTIFY_RECORD_MAX	(1 + QUEUE_ID_MAX)	/* with the LF */

/* Writes one record to queue_dir/public/qmgr without blocking. Returns 0,
 * or -1 with errno: ENXIO when no qmgr is listening, EAGAIN when the FIFO
 * is full, EINVAL for a bad request or id. SIGPIPE is never raised. */
int queue_notify(const char *queue_dir, char request, const char *id);

/* The qmgr's end: opens public/qmgr O_RDWR|O_NONBLOCK|O_CLOEXEC (holding a
 * writer itself, it never reads EOF). Returns the fd, or -1 with *err. */
int queue_notify_listen(const char *queue_dir, char **err);

/* Called once per valid record; id is "" for a record without one. */
typedef void (*queue_notify_cb)(void *arg, char request, const char *id);

/* Splits buf into records and calls cb for each valid one; malformed
 * records are skipped (and counted in *bad when bad is not NULL). Returns
 * the number of bytes consumed: every complete line, and also a trailing
 * partial line that can no longer become a valid record. The caller keeps
 * buf[consumed..len) and prepends it to the next read. */
size_t queue_notify_parse(const char *buf, size_t len, queue_notify_cb cb,
    void *arg, size_t *bad);

/* Buffered reading for the qmgr's event callback. */
struct queue_notify_reader {
	size_t len;
	char buf[4096];
};

/* Reads fd until EAGAIN, calling cb per record. Returns 0, or -1 with
 * errno on a read error. Zero reader->len before the first call. */
int queue_notify_drain(int fd, struct queue_notify_reader *reader,
    queue_notify_cb cb, void *arg);

/* Defer log (src/queue/defer_log.c): defer/ID holds the latest reason per
 * recipient as lines "<recipient>\t<dsn>\t<reason>\n". TAB, CR and LF in
 * values are written as spaces. The file is replaced atomically. */
struct defer_entry {
	const char *recipient;
	const char *dsn;		/* "4.4.1" */
	const char *reason;		/* the text logged with status= */
};

struct defer_log {
	struct defer_entry *entries;	/* point into text */
	size_t n;
	char *text;
};

/* Replaces defer/ID with exactly these entries (ID.tmp, fsync, rename).
 * Returns 0, or -1 with *err set (caller frees). */
int defer_log_write(const char *queue_dir, const char *id,
    const struct defer_entry *entries, size_t n, char **err);
/* Like defer_log_write, but keeps the entries of recipients not named in
 * entries (one attempt covers one next hop; other hops keep theirs). */
int defer_log_update(const char *queue_dir, const char *id,
    const struct defer_entry *entries, size_t n, char **err);
/* Returns 1 with *log filled (free with defer_log_free), 0 when there is
 * no defer file (*log empty), -1 with *err when it cannot be read or is
 * malformed. */
int defer_log_read(const char *queue_dir, const char *id,
    struct defer_log *log, char **err);
/* Parses defer file bytes (untrusted: a fuzz target). Returns 0, or -1
 * with *err ("line N: ...") and *log empty. */
int defer_log_parse(const char *data, size_t len, struct defer_log *log,
    char **err);
/* The entry for recipient, or NULL. */
const struct defer_entry *defer_log_find(const struct defer_log *log,
    const char *recipient);
void defer_log_free(struct defer_log *log);
/* Removes defer/ID; a missing file is fine. */
void defer_log_remove(const char *queue_dir, const char *id);

/* Bounces (src/queue/bounce.c): RFC 3464 delivery status notifications. */
struct bounce_rcpt {
	const char *address;		/* Final-Recipient */
	const char *orig_address;	/* Original-Recipient, or NULL */
	const char *dsn;		/* "5.1.1" (failure), "4.4.1" (delay) */
	const char *reason;		/* the text logged with status= */
	/* The server that answered and its reply ("550 5.1.1 no such
	 * user"). When both are NULL and reason reads "host NAME[ADDR]
	 * said: REPLY (in reply to ...)", they are taken from reason; with
	 * no reply the Diagnostic-Code is "X-Tlsrelay; reason". */
	const char *remote_mta;
	const char *smtp_reply;
};

struct bounce_info {
	const char *myhostname;		/* Reporting-MTA, From: domain */
	const char *mail_name;		/* "tlsrelay", in the text */
	const char *postmaster;		/* named in the text for help */
	/* 2bounce_notice_recipient: where a bounce of a null-sender message
	 * goes instead; "" or NULL: nowhere (logged and dropped). */
	const char *double_bounce_recipient;
	int delayed;			/* delay warning, not a failure */
	long long bounce_size_limit;	/* most original header bytes sent */
	long long queue_lifetime;	/* delay warning: retried until
					 * arrival + this (0: not said) */
	long long now;			/* Date:; 0 means time(NULL) */
};

#define BOUNCE_QUEUED		0	/* DSN queued as new_id */
#define BOUNCE_DOUBLE_DROPPED	1	/* null sender: nothing created */
#define BOUNCE_DOUBLE_NOTICE	2	/* null sender: notice queued as
					 * new_id to double_bounce_recipient */

/* Queues a DSN about the recipients rcpts of the message orig (read from
 * orig_path) with the null sender and orig's sender as its recipient;
 * committed with spool_commit, so it is durable when this returns and the
 * caller may then mark those recipients 'B'. Returns a BOUNCE_* value
 * (new_id, QUEUE_ID_MAX bytes, set when something was queued), or -1 with
 * *err set. Delay warnings are never sent for null-sender mail. */
int bounce_create(const char *queue_dir, const char *orig_path,
    const struct spool_message *orig, const struct bounce_rcpt *rcpts,
    size_t n, const struct bounce_info *info, char *new_id, char **err);

/* The DSN bounce_create would queue as id, as text: content is the
 * original's first len bytes (orig->content_length in all; cut by
 * bounce_size_limit). Returns a BOUNCE_* value, *msg filled unless
 * BOUNCE_DOUBLE_DROPPED, or -1 without recipients. For tests and the
 * fuzzer: a remote reply must never break the DSN's form. */
struct strbuf;
int bounce_format(const struct spool_message *orig, const char *content,
    size_t len, const struct bounce_rcpt *rcpts, size_t n,
    const struct bounce_info *info, const char *id, struct strbuf *msg);

/* Queue listing (src/queue/queue_list.c), like mailq: one entry per
 * message in incoming/ active/ (ID marked '*') deferred/ and hold/ ('!'),
 * pending recipients with their last reason, then "-- N Kbytes in M
 * Requests." or "Mail queue is empty". Returns 0, or -1 with *err. */
int queue_list(const char *queue_dir, FILE *out, char **err);
/* The same as JSON lines, one object per message, with postqueue -j's
 * fields: queue_name, queue_id, arrival_time, message_size,
 * forced_expire, sender, recipients (address, delay_reason). */
int queue_list_json(const char *queue_dir, FILE *out, char **err);
/* The listing from the queue manager (public/showq), for users who may
 * not read the queue themselves: what mailq does through showq. It
 * changes the working directory (to public/). */
int queue_list_showq(const char *queue_dir, FILE *out, char **err);

/* Administration (src/queue/queue_ops.c). */
enum queue_op {
	QUEUE_OP_HOLD,		/* incoming/ deferred/ -> hold/ */
	QUEUE_OP_RELEASE,	/* hold/ -> deferred/, mtime = now */
	QUEUE_OP_DELETE,	/* remove the queue file and defer/ID */
	QUEUE_OP_FLUSH,		/* deferred/: mtime = now (retry at once) */
	QUEUE_OP_REQUEUE,	/* deferred/ hold/ -> incoming/: routed anew
				 * with the current configuration */
};

#define QUEUE_OP_DONE		0
#define QUEUE_OP_NOT_FOUND	1	/* no message with that ID */
#define QUEUE_OP_NOT_APPLICABLE	2	/* *err says why (e.g. not on hold,
					 * active: being delivered) */

/* Applies op to one message. Returns a QUEUE_OP_* value (with *err set
 * for NOT_FOUND and NOT_APPLICABLE), or -1 with *err on a system error. */
int queue_op_apply(const char *queue_dir, enum queue_op op, const char *id,
    char **err);
/* Applies op to every message it concerns; *done gets how many. Returns
 * 0, or -1 with *err after the first system error. */
int queue_op_apply_all(const char *queue_dir, enum queue_op op,
    size_t *done, char **err);

#endif
