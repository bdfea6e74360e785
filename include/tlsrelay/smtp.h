/* smtp: the outbound client. A pool of event-driven connections in the
 * queue manager's loop: it delivers one job (one message, the recipients
 * that share a next hop) by trying the job's addresses in order, applies
 * the destination's TLS policy, reuses connections to the same next hop,
 * and logs Postfix's per-recipient lines:
 *   ID: to=<rcpt>, relay=host[addr]:port, delay=1.2, delays=0.1/0/0.6/0.5,
 *       dsn=2.0.0, status=sent (250 2.0.0 Ok)
 */
#ifndef TLSRELAY_SMTP_H
#define TLSRELAY_SMTP_H

#include <stddef.h>
#include <sys/types.h>

#include "tlsrelay/dns.h"

struct event_base;
struct conf;
struct tls_client;
struct tls_dane;
struct tls_policy;

/* ---- reply parsing (src/smtp/smtp_reply.c): untrusted bytes ---- */

#define SMTP_REPLY_MAX_LINES 100

struct smtp_reply {
	int code;		/* 250 */
	char dsn[16];		/* "2.0.0", or "" when the server sent none */
	char *text;		/* all lines joined with ' ', code and dsn
				 * removed from the first line; malloc'd */
	char **lines;		/* each line's text after "250-"/"250 " */
	size_t n_lines;
};

enum smtp_reply_status {
	SMTP_REPLY_MORE,	/* need more lines */
	SMTP_REPLY_DONE,	/* a complete reply is in *reply */
	SMTP_REPLY_BAD,		/* malformed: not a reply */
};

/* Feeds one line (CR LF removed, NUL-terminated) of a server reply. The
 * state lives in *reply, zeroed before the first line; free with
 * smtp_reply_clear(). A reply longer than SMTP_REPLY_MAX_LINES lines, or
 * lines whose codes differ, is SMTP_REPLY_BAD. */
enum smtp_reply_status smtp_reply_feed(struct smtp_reply *reply,
    const char *line);
void smtp_reply_clear(struct smtp_reply *reply);
/* 1 if an EHLO reply announces keyword (case-insensitive), and its
 * parameter (e.g. the SIZE value) in *param when not NULL. */
int smtp_reply_has_ext(const struct smtp_reply *ehlo, const char *keyword,
    const char **param);

/* ---- delivery (src/smtp/smtp_pool.c, smtp_conn.c, ...) ---- */

enum smtp_outcome {
	SMTP_SENT,
	SMTP_DEFER,
	SMTP_BOUNCE,
};

struct smtp_rcpt {
	const char *address;		/* in */
	enum smtp_outcome outcome;	/* out */
	char dsn[16];			/* out: "5.1.1" */
	char *reason;			/* out, malloc'd: "host mx.example[
					 * 127.0.0.1] said: 550 5.1.1 no such
					 * user (in reply to RCPT TO command)"
					 * or Postfix's local reason text */
	char *relay;			/* out, malloc'd: "mx.example[addr]:port"
					 * or "none" */
};

/* One target's DANE verdict (levels dane and dane-only), made from
 * DNSSEC-validated lookups by the caller (the queue manager): tlsa set,
 * the server must match those records; defer set, the target is not
 * tried and this is its reason; neither, opportunistic TLS (may). */
struct smtp_dane {
	const struct tls_dane *tlsa;	/* usable records: authenticate */
	int encrypt;		/* records, none usable: mandatory TLS */
	const char *defer;	/* do not try this target: why */
};

struct smtp_job {
	const char *queue_id;
	const char *nexthop;		/* the destination: "example.com" or
					 * "[mx.example]:2526"; pool key */
	const char *sender;
	struct smtp_rcpt *rcpts;
	size_t n_rcpts;
	int content_fd;			/* the queue file, open for reading */
	off_t content_offset;
	off_t content_length;
	int body_8bitmime;
	double arrival;			/* epoch seconds, for delay= */
	double queue_entry;		/* when the qmgr took it, delays= b */
	const struct dns_target *targets;	/* addresses to try, in order */
	size_t n_targets;
	/* The destination's TLS policy (tls.h), the caller's; it must
	 * live until the callback. NULL: the main.cf settings at
	 * tls_level (enum tls_level), for callers without a policy table. */
	const struct tls_policy *tls_policy;
	int tls_level;
	/* Levels dane and dane-only: one verdict per target, in targets'
	 * order. Without them a DANE level defers. */
	const struct smtp_dane *dane;
};

/* Called once per job when every recipient has an outcome, always from
 * an event of the loop (never from inside smtp_pool_deliver); it may
 * deliver more jobs, but must not free the pool. The pool has logged the
 * to= lines by then. */
typedef void (*smtp_job_done_cb)(void *arg, struct smtp_job *job);

struct smtp_pool;

/* The client's settings (smtp_* parameters) come from conf, its TLS
 * contexts from tls (tls.h: tls_client_new, built before privileges were
 * dropped); both must outlive the pool. Returns NULL with *err set. */
struct smtp_pool *smtp_pool_new(struct event_base *base,
    const struct conf *conf, struct tls_client *tls, char **err);
/* Closes idle connections; jobs still running are deferred. */
void smtp_pool_free(struct smtp_pool *pool);
/* Queues the job. The pool may hold it back while the destination is at
 * its concurrency limit; jobs to the same nexthop may share a connection.
 * The job and what it points to stay the caller's and must live until
 * the callback; the recipients' out fields are overwritten (their reason
 * and relay then belong to the caller). */
void smtp_pool_deliver(struct smtp_pool *pool, struct smtp_job *job,
    smtp_job_done_cb cb, void *arg);
/* Number of jobs running or waiting (for shutdown). */
size_t smtp_pool_busy(const struct smtp_pool *pool);

/* Postfix's delay= and delays= format: two significant digits, at most
 * two decimals, whole seconds from 10 s up ("0", "0.01", "0.1", "1.2",
 * "13"); for the queue manager's own to= lines too. */
void smtp_format_delay(double seconds, char *buf, size_t len);

#endif
