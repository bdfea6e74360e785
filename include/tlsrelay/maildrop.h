/* maildrop: mail that local programs hand to tlsrelay-sendmail.
 *
 * As in Postfix, submission and queueing are separate privileges. The
 * sendmail command runs as the user who calls it, set-group-ID to
 * setgid_group, which may create files in queue_directory/maildrop/
 * (mode 1730: the group can add files, not list or read them) and write
 * the queue manager's FIFO, nothing else. The queue manager (pickup.c)
 * turns each finished maildrop file into a queue file in incoming/,
 * treating everything in it as untrusted except the owner of the file,
 * which the kernel set: that is the submitting user. A file is finished
 * when its owner-execute bit is set (the last thing the writer does,
 * after fsync), so a half-written file is never picked up, and a file
 * written while the daemon is down waits for it.
 *
 * The file: a header line, envelope lines, an empty line, the message as
 * the program gave it (LF or CR LF line ends). SPOOL-FORMAT.md has the
 * details. */
#ifndef TLSRELAY_MAILDROP_H
#define TLSRELAY_MAILDROP_H

#include <stddef.h>
#include <sys/types.h>

#include "tlsrelay/util.h"

#define MAILDROP_DIR		"maildrop"
#define MAILDROP_DIR_MODE	01730
#define MAILDROP_MAGIC		"tlsrelay-maildrop 1\n"
/* Limits on what the reader accepts (the content's own limit is
 * message_size_limit). */
#define MAILDROP_LINE_MAX	2048
#define MAILDROP_RCPT_MAX	1000
/* RFC 5321 4.5.3.1.3: a path is at most 256 octets. */
#define MAILDROP_ADDR_MAX	256

struct maildrop_envelope {
	char *sender;		/* NULL: the user's login name */
	char *full_name;	/* NULL: none given (-F) */
	char **rcpts;
	size_t n_rcpts;
};

void maildrop_envelope_free(struct maildrop_envelope *env);
void maildrop_envelope_add_rcpt(struct maildrop_envelope *env,
    const char *rcpt);
/* An address a maildrop file may carry: at most MAILDROP_ADDR_MAX bytes
 * of printable ASCII without blanks, '<' or '>'. Returns NULL, or why
 * not (static text). */
const char *maildrop_address_problem(const char *addr);

/* ---- Writing (tlsrelay-sendmail). ---- */
struct maildrop_writer;

/* Creates a file in queue_dir/maildrop/ and writes the envelope. NULL
 * with *err set (caller frees) on failure. */
struct maildrop_writer *maildrop_open(const char *queue_dir,
    const struct maildrop_envelope *env, char **err);
int maildrop_write(struct maildrop_writer *w, const char *data, size_t len);
/* fsync, then mark the file finished. Frees w. 0, or -1 with *err set
 * and the file removed. */
int maildrop_close(struct maildrop_writer *w, char **err);
void maildrop_abort(struct maildrop_writer *w);

/* ---- Reading (the queue manager). ---- */

/* Parses the envelope at the start of buf. Returns 0 with *env filled
 * and *content_offset where the message starts, or -1 with *err set. */
int maildrop_parse(const char *buf, size_t len, struct maildrop_envelope *env,
    size_t *content_offset, char **err);

/* What the queue manager adds to local mail, as Postfix's pickup and
 * cleanup do. */
struct local_message_info {
	const char *queue_id;
	const char *myhostname;
	const char *myorigin;
	const char *sender;	/* the envelope sender, complete */
	const char *full_name;	/* for a From: header it adds; may be NULL */
	uid_t uid;
	long long now;
};

/* The queue file content for a maildrop message: Postfix's Received:
 * header for local mail ("by HOST (tlsrelay, from userid N)"), the
 * message's header without Bcc: and Resent-Bcc: lines, with From:, Date:
 * and Message-Id: added when missing, then the body; every line ended by
 * CR LF. */
void local_message_build(const char *content, size_t len,
    const struct local_message_info *info, struct strbuf *out);
/* sendmail -t: adds every address of the To:, Cc: and Bcc: headers
 * (Resent-To:, Resent-Cc:, Resent-Bcc: when the message has a Resent-
 * header), with "@myorigin" appended where there is no domain, to env's
 * recipients (at most MAILDROP_RCPT_MAX in all). */
void local_message_recipients(const char *content, size_t len,
    const char *myorigin, struct maildrop_envelope *env);

/* Calls add for each address of an RFC 5322 address list (mailboxes and
 * groups, with comments and quoted strings): the angle-addr when there
 * is one, else the addr-spec with comments and blanks removed. */
void addr_list_each(const char *value, size_t len,
    void (*add)(void *arg, const char *addr), void *arg);

/* addr with "@myorigin" appended when it has no domain (Postfix's
 * append_at_myorigin); caller frees. */
char *maildrop_qualify(const char *addr, const char *myorigin);

/* ---- The pickup (inside the queue manager). ---- */
struct pickup_config {
	const char *queue_dir;
	const char *myhostname;
	const char *myorigin;
	long long message_size_limit;	/* 0: none */
};

/* Turns every finished file in maildrop/ into a queue file in
 * incoming/; new_message(arg, id) for each. A file that cannot be used
 * is logged and moved to corrupt/ (or removed when it is not a regular
 * file). Returns the number of messages queued. */
size_t pickup_scan(const struct pickup_config *cfg,
    void (*new_message)(void *arg, const char *id), void *arg);

#endif
