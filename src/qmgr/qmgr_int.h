/* Internal to the queue manager. */
#ifndef TLSRELAY_QMGR_INT_H
#define TLSRELAY_QMGR_INT_H

#include <stddef.h>

#include "tlsrelay/dns.h"
#include "tlsrelay/qmgr.h"
#include "tlsrelay/queue.h"
#include "tlsrelay/smtp.h"
#include "qmgr_intake.h"

struct event_base;
struct event;
struct tls_policy;
struct tls_policy_maps;

struct qmgr {
	const struct conf *conf;
	struct event_base *base;
	struct dns *dns;
	struct smtp_pool *pool;
	struct qmgr_router *router;
	struct tls_policy_maps *tls_policies;	/* smtp_tls_policy_maps */
	const char *queue_dir;
	const char *myhostname;
	long long min_backoff, max_backoff, queue_run_delay;
	long long max_lifetime, bounce_lifetime;
	int families;
	size_t mx_address_limit;
	size_t active_limit;		/* qmgr_message_active_limit */
	struct qmgr_intake *intake;	/* what enters the active set */
	struct spool_syncer *syncer;	/* group commit of status marks */
	struct qmgr_route fallback;	/* smtp_fallback_relay, first entry;
					 * nexthop NULL when unset */
	struct qmgr_self *self;		/* where our own smtpd listens */
	size_t n_active;
	struct qmgr_message *messages;	/* in active/ */
	int draining;		/* SIGTERM: no new work, finish what runs */
	int stopping;		/* abandon everything now */
};

/* One recipient's outcome in this attempt. */
struct qmgr_result {
	enum smtp_outcome outcome;
	char dsn[16];
	char *reason;
	char *relay;
	int done;		/* has an outcome */
};

/* The recipients of one message that share a next hop. */
struct qmgr_group {
	struct qmgr_message *msg;
	struct qmgr_route route;
	size_t *rcpt_index;		/* into msg->spool.recipients */
	size_t n;
	struct smtp_rcpt *rcpts;
	struct smtp_job job;
	struct tls_policy *tls_policy;	/* of route.nexthop */
	struct dns_target *targets;
	size_t n_targets;
	enum dns_status primary_status;	/* when the destination failed */
	char *primary_why;
	struct qmgr_dane *dane;		/* levels dane, dane-only */
	struct qmgr_mtasts *mtasts;	/* its MTA-STS lookup and verdict */
	struct qmgr_group *next;
};

struct qmgr_message {
	struct qmgr *q;
	char id[QUEUE_ID_MAX];
	char *path;			/* active/ID */
	int fd;
	struct spool_message spool;
	struct qmgr_result *results;	/* one per spool recipient */
	struct qmgr_group *groups;
	size_t groups_pending;
	double entered;			/* when the qmgr took it */
	int marks_unsynced;		/* status marks not yet handed to
					 * the syncer */
	struct qmgr_message *next, *prev;
};

/* qmgr_message.c */
void qmgr_message_activate(struct qmgr *q, const char *from_dir,
    const char *id);
void qmgr_message_abandon_all(struct qmgr *q);

/* qmgr_dane.c: at levels dane and dane-only, the TLSA records of every
 * target's host (cached per TTL) into the job's per-target verdicts
 * (smtp.h: struct smtp_dane), then done(g) -- possibly before this
 * returns. qmgr_dane_clear frees the group's share (a lookup still in
 * flight ends quietly); qmgr_dane_cache_flush empties the cache. */
struct qmgr_dane;
void qmgr_dane_resolve(struct qmgr *q, struct qmgr_group *g,
    void (*done)(struct qmgr_group *));
void qmgr_dane_clear(struct qmgr_group *g);
void qmgr_dane_cache_flush(void);

/* qmgr_mtasts.c: MTA-STS (RFC 8461) for a group routed by MX records,
 * after DANE. qmgr_mtasts_wanted: the group's policy is not an explicit
 * smtp_tls_policy_maps entry and no target has usable TLSA records.
 * qmgr_mtasts_resolve looks the domain's policy up and applies it (mode
 * enforce: only the targets it names, the secure level), then done(g)
 * -- possibly before it returns; qmgr_mtasts_defer is then the reason
 * to defer the group, or NULL. qmgr_mtasts_clear frees the group's
 * share (a lookup in flight is cancelled). */
struct qmgr_mtasts;
int qmgr_mtasts_setup(struct qmgr *q, char **err);
void qmgr_mtasts_shutdown(void);
int qmgr_mtasts_wanted(const struct qmgr_group *g);
void qmgr_mtasts_resolve(struct qmgr_group *g,
    void (*done)(struct qmgr_group *));
const char *qmgr_mtasts_defer(const struct qmgr_group *g);
void qmgr_mtasts_clear(struct qmgr_group *g);

/* qmgr_self.c: is an MX host this relay itself? */
struct qmgr_self;
struct qmgr_self *qmgr_self_new(const struct conf *conf);
void qmgr_self_free(struct qmgr_self *self);
/* 1 when the target's address and port are one of our own listeners. */
int qmgr_self_is_target(const struct qmgr_self *self,
    const struct dns_target *target);

/* qmgr_log.c */
void qmgr_log_result(const struct qmgr_message *m, size_t index);

/* qmgr_showq.c: the queue listing on public/showq for mailq. */
int qmgr_showq_start(struct event_base *base, const char *queue_dir,
    char **err);
void qmgr_showq_stop(void);

#endif
