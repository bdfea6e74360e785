/* qmgr_message: the life of one message in active/. Route every pending
 * recipient, resolve each next hop, hand each group to the smtp pool,
 * record each delivery the moment it is known, then either remove the
 * file, or return what failed (DSN first, then the 'B' marks), or defer
 * the rest with backoff. Order of writes is what makes a crash harmless:
 * a 'D' mark follows the server's 250 at once, a 'B' mark follows a
 * committed DSN, and the file goes only when nothing is pending. A mark
 * is one pwrite into the file held open since it was parsed: the page
 * cache keeps it across a crash of the process, and the syncer thread
 * makes it durable against power loss without stopping the loop. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/tls.h"
#include "tlsrelay/tls_client.h"
#include "tlsrelay/util.h"
#include "qmgr_int.h"

static double
now_seconds(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static void
set_result(struct qmgr_message *m, size_t index, enum smtp_outcome outcome,
    const char *dsn, const char *reason, const char *relay)
{
	struct qmgr_result *r = &m->results[index];

	free(r->reason);
	free(r->relay);
	r->outcome = outcome;
	snprintf(r->dsn, sizeof(r->dsn), "%s", dsn);
	r->reason = xstrdup(reason ? reason : "");
	r->relay = xstrdup(relay ? relay : "none");
	r->done = 1;
}

static void
message_free(struct qmgr_message *m)
{
	struct qmgr_group *g, *next;

	for (g = m->groups; g != NULL; g = next) {
		next = g->next;
		qmgr_route_clear(&g->route);
		for (size_t i = 0; i < g->n; i++) {
			free(g->rcpts[i].reason);
			free(g->rcpts[i].relay);
		}
		free(g->rcpts);
		free(g->rcpt_index);
		for (size_t i = 0; i < g->n_targets; i++)
			free(g->targets[i].hostname);
		free(g->targets);
		free(g->primary_why);
		qmgr_dane_clear(g);
		qmgr_mtasts_clear(g);
		tls_policy_free(g->tls_policy);
		free(g);
	}
	for (size_t i = 0; m->results && i < m->spool.n_recipients; i++) {
		free(m->results[i].reason);
		free(m->results[i].relay);
	}
	free(m->results);
	spool_message_free(&m->spool);
	if (m->fd >= 0)
		close(m->fd);
	free(m->path);
	free(m);
}

static void
message_unlink(struct qmgr_message *m)
{
	struct qmgr *q = m->q;

	if (m->prev)
		m->prev->next = m->next;
	else
		q->messages = m->next;
	if (m->next)
		m->next->prev = m->prev;
	q->n_active--;
	qmgr_intake_room_freed(q->intake);
}

static void
move_to(struct qmgr_message *m, const char *dir)
{
	char *to = xasprintf("%s/%s/%s", m->q->queue_dir, dir, m->id);

	if (rename(m->path, to) < 0)
		msg_warn("%s: rename %s to %s: %s", m->id, m->path, to,
		    strerror(errno));
	free(to);
}

/* Marks one recipient. A failure here is serious but not fatal for the
 * others: the recipient stays pending and may be tried again. */
static int
mark(struct qmgr_message *m, size_t index, char status)
{
	char *err = NULL;

	if (spool_mark(m->fd, m->path, &m->spool.recipients[index], status,
	    &err) < 0) {
		msg_warn("%s: cannot record status of <%s>: %s", m->id,
		    m->spool.recipients[index].address, err);
		free(err);
		return -1;
	}
	m->spool.recipients[index].status = status;
	m->marks_unsynced = 1;
	return 0;
}

/* Hands the marks of this message to the group commit. */
static void
sync_marks(struct qmgr_message *m)
{
	if (m->marks_unsynced) {
		spool_syncer_add(m->q->syncer, m->fd);
		m->marks_unsynced = 0;
	}
}

static int
expired(const struct qmgr_message *m)
{
	const struct qmgr *q = m->q;
	long long lifetime = m->spool.sender[0] == '\0' ?
	    q->bounce_lifetime : q->max_lifetime;

	return (long long)time(NULL) - m->spool.arrival_sec >= lifetime;
}

/* What every DSN from this queue manager says about the relay. */
static void
bounce_info_init(const struct qmgr *q, struct bounce_info *info)
{
	memset(info, 0, sizeof(*info));
	info->myhostname = q->myhostname;
	info->mail_name = conf_str(q->conf, P_mail_name);
	info->postmaster = "postmaster";
	info->bounce_size_limit = conf_int(q->conf, P_bounce_size_limit);
}

/* Returns what failed for good, as one DSN to the sender. */
static void
return_failures(struct qmgr_message *m)
{
	const struct qmgr *q = m->q;
	struct bounce_rcpt *b = xcalloc(m->spool.n_recipients, sizeof(*b));
	struct bounce_info info;
	size_t n = 0;
	char new_id[QUEUE_ID_MAX] = "";
	char *err = NULL;
	int rc;

	for (size_t i = 0; i < m->spool.n_recipients; i++) {
		struct qmgr_result *r = &m->results[i];

		if (!r->done || r->outcome != SMTP_BOUNCE)
			continue;
		b[n].address = m->spool.recipients[i].address;
		b[n].dsn = r->dsn;
		b[n].reason = r->reason;
		n++;
	}
	if (n == 0) {
		free(b);
		return;
	}
	bounce_info_init(q, &info);
	info.double_bounce_recipient = conf_str(q->conf,
	    P_2bounce_notice_recipient);
	rc = bounce_create(q->queue_dir, m->path, &m->spool, b, n, &info,
	    new_id, &err);
	free(b);
	if (rc < 0) {
		/* No DSN, no 'B': the recipients stay pending and we try
		 * to return them again later. */
		msg_warn("%s: cannot create delivery status notification: %s",
		    m->id, err);
		free(err);
		for (size_t i = 0; i < m->spool.n_recipients; i++)
			if (m->results[i].done &&
			    m->results[i].outcome == SMTP_BOUNCE)
				m->results[i].outcome = SMTP_DEFER;
		return;
	}
	/* The notice is ours to deliver: no need to wait for a scan. */
	if (rc == BOUNCE_QUEUED || rc == BOUNCE_DOUBLE_NOTICE)
		qmgr_intake_add(q->intake, "incoming", new_id);
	if (rc == BOUNCE_QUEUED)
		msg_info("%s: sender non-delivery notification: %s", m->id,
		    new_id);
	else if (rc == BOUNCE_DOUBLE_NOTICE)
		msg_info("%s: undeliverable bounce: postmaster notification: "
		    "%s", m->id, new_id);
	else
		msg_info("%s: undeliverable bounce (double bounce) discarded",
		    m->id);
	for (size_t i = 0; i < m->spool.n_recipients; i++)
		if (m->results[i].done && m->results[i].outcome == SMTP_BOUNCE)
			mark(m, i, 'B');
	sync_marks(m);
}

/* delay_warning_time: once per message, tell the sender that some
 * recipients are still being retried. The owner-execute bit of the queue
 * file records that the warning went out (SPOOL-FORMAT.md). */
static void
maybe_warn_delay(struct qmgr_message *m)
{
	const struct qmgr *q = m->q;
	long long after = conf_time(q->conf, P_delay_warning_time);
	struct bounce_rcpt *b;
	struct bounce_info info;
	struct stat st;
	char new_id[QUEUE_ID_MAX] = "";
	char *err = NULL;
	size_t n = 0;
	int rc;

	if (after <= 0 || m->spool.sender[0] == '\0' ||
	    (long long)time(NULL) - m->spool.arrival_sec < after ||
	    fstat(m->fd, &st) < 0 || (st.st_mode & S_IXUSR))
		return;
	b = xcalloc(m->spool.n_recipients, sizeof(*b));
	for (size_t i = 0; i < m->spool.n_recipients; i++) {
		if (m->spool.recipients[i].status != ' ')
			continue;
		b[n].address = m->spool.recipients[i].address;
		b[n].dsn = m->results[i].done ? m->results[i].dsn : "4.0.0";
		b[n].reason = m->results[i].done ? m->results[i].reason :
		    "delivery deferred";
		n++;
	}
	bounce_info_init(q, &info);
	info.delayed = 1;
	info.queue_lifetime = q->max_lifetime;
	rc = bounce_create(q->queue_dir, m->path, &m->spool, b, n, &info,
	    new_id, &err);
	free(b);
	if (rc < 0) {
		msg_warn("%s: cannot create delay notification: %s", m->id,
		    err);
		free(err);
		return;
	}
	if (rc == BOUNCE_QUEUED) {
		qmgr_intake_add(q->intake, "incoming", new_id);
		msg_info("%s: sender delay notification: %s", m->id, new_id);
	}
	if (fchmod(m->fd, (st.st_mode & 07777) | S_IXUSR) < 0)
		msg_warn("%s: fchmod: %s", m->id, strerror(errno));
}

static void
defer_rest(struct qmgr_message *m)
{
	const struct qmgr *q = m->q;
	struct defer_entry *e = xcalloc(m->spool.n_recipients, sizeof(*e));
	size_t n = 0;
	long long age = (long long)time(NULL) - m->spool.arrival_sec;
	struct timeval times[2];
	char *err = NULL;

	for (size_t i = 0; i < m->spool.n_recipients; i++) {
		if (m->spool.recipients[i].status != ' ')
			continue;
		e[n].recipient = m->spool.recipients[i].address;
		e[n].dsn = m->results[i].done ? m->results[i].dsn : "4.0.0";
		e[n].reason = m->results[i].done ? m->results[i].reason :
		    "delivery deferred";
		n++;
	}
	if (defer_log_write(q->queue_dir, m->id, e, n, &err) < 0) {
		msg_warn("%s: %s", m->id, err);
		free(err);
	}
	free(e);
	/* The file's mtime is when to try again, as in Postfix. */
	gettimeofday(&times[0], NULL);
	times[1] = times[0];
	times[1].tv_sec += (time_t)qmgr_backoff(age, q->min_backoff,
	    q->max_backoff);
	if (utimes(m->path, times) < 0)
		msg_warn("%s: utimes: %s", m->id, strerror(errno));
	move_to(m, "deferred");
}

static void
message_finish(struct qmgr_message *m)
{
	struct qmgr *q = m->q;
	size_t pending = 0;

	message_unlink(m);
	if (q->stopping) {
		message_free(m);
		return;
	}
	/* Temporary failures past the queue lifetime are returned. */
	if (expired(m))
		for (size_t i = 0; i < m->spool.n_recipients; i++) {
			struct qmgr_result *r = &m->results[i];

			if (r->done && r->outcome == SMTP_DEFER) {
				char *why = xasprintf("message expired after "
				    "%lld seconds in the queue: %s",
				    (long long)time(NULL) - m->spool.arrival_sec,
				    r->reason);

				free(r->reason);
				r->reason = why;
				r->outcome = SMTP_BOUNCE;
				msg_info("%s: to=<%s>, relay=%s, dsn=%s, "
				    "status=expired, returned to sender",
				    m->id, m->spool.recipients[i].address,
				    r->relay, r->dsn);
			}
		}
	return_failures(m);
	for (size_t i = 0; i < m->spool.n_recipients; i++)
		pending += m->spool.recipients[i].status == ' ';
	if (pending == 0) {
		/* Kept for the next message to reuse, or removed. */
		switch (spool_spare_remove(q->queue_dir, m->path, m->id)) {
		case 1:
			spool_syncer_queue_spare(q->syncer, m->id);
			break;
		case -1:
			msg_warn("%s: unlink %s: %s", m->id, m->path,
			    strerror(errno));
			break;
		}
		defer_log_remove(q->queue_dir, m->id);
		msg_info("%s: removed", m->id);
	} else {
		maybe_warn_delay(m);
		defer_rest(m);
	}
	message_free(m);
}

static void
group_done(struct qmgr_group *g)
{
	struct qmgr_message *m = g->msg;

	if (--m->groups_pending == 0)
		message_finish(m);
}

static void
job_done(void *arg, struct smtp_job *job)
{
	struct qmgr_group *g = arg;
	struct qmgr_message *m = g->msg;

	(void)job;
	for (size_t i = 0; i < g->n && !m->q->stopping; i++) {
		struct smtp_rcpt *r = &g->rcpts[i];
		size_t index = g->rcpt_index[i];

		set_result(m, index, r->outcome, r->dsn, r->reason, r->relay);
		/* Record a delivery before anything else can happen. */
		if (r->outcome == SMTP_SENT)
			mark(m, index, 'D');
	}
	sync_marks(m);
	group_done(g);
}

/* Every recipient of the group gets the same outcome without delivery. */
static void
group_fail(struct qmgr_group *g, enum smtp_outcome outcome, const char *dsn,
    const char *reason)
{
	for (size_t i = 0; i < g->n; i++) {
		set_result(g->msg, g->rcpt_index[i], outcome, dsn, reason,
		    "none");
		qmgr_log_result(g->msg, g->rcpt_index[i]);
	}
	group_done(g);
}

/* An MX host named myhostname, or at the address and port one of our own
 * listeners accepts on, would hand the mail straight back to us. */
static int
loops_to_myself(const struct qmgr *q, const struct dns_target *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(t[i].hostname, q->myhostname) == 0 ||
		    qmgr_self_is_target(q->self, &t[i]))
			return 1;
	return 0;
}

static void
add_targets(struct qmgr_group *g, const struct dns_target *targets, size_t n)
{
	g->targets = xrealloc(g->targets,
	    (g->n_targets + n) * sizeof(*g->targets));
	for (size_t i = 0; i < n; i++) {
		g->targets[g->n_targets] = targets[i];
		g->targets[g->n_targets].hostname =
		    xstrdup(targets[i].hostname);
		g->n_targets++;
	}
}

static void deliver_group(struct qmgr_group *g);

/* The targets' DANE verdicts (qmgr_dane.c), or the domain's MTA-STS
 * policy (qmgr_mtasts.c), are in. */
static void
dane_decided(struct qmgr_group *g)
{
	if (g->msg->q->stopping) {
		group_done(g);
		return;
	}
	deliver_group(g);
}

static int
is_dane_level(int level)
{
	return level == TLS_LEV_DANE || level == TLS_LEV_DANE_ONLY;
}

/* Every address known: deliver, or fail as the destination's DNS said. */
static void
deliver_group(struct qmgr_group *g)
{
	struct qmgr *q = g->msg->q;

	if (g->n_targets == 0) {
		if (g->primary_status == DNS_NOTFOUND)
			group_fail(g, SMTP_BOUNCE, "5.4.4", g->primary_why);
		else
			group_fail(g, SMTP_DEFER, "4.4.3", g->primary_why ?
			    g->primary_why : "no address to deliver to");
		return;
	}
	/* DANE: each target's TLSA records first. */
	if (is_dane_level(g->tls_policy->level) && g->dane == NULL) {
		qmgr_dane_resolve(q, g, dane_decided);
		return;
	}
	/* Then MTA-STS, where neither policy_maps nor DANE decided. */
	if (g->mtasts == NULL && qmgr_mtasts_wanted(g)) {
		qmgr_mtasts_resolve(g, dane_decided);
		return;
	}
	if (qmgr_mtasts_defer(g) != NULL) {
		group_fail(g, SMTP_DEFER, "4.7.5", qmgr_mtasts_defer(g));
		return;
	}
	g->job.targets = g->targets;
	g->job.n_targets = g->n_targets;
	smtp_pool_deliver(q->pool, &g->job, job_done, g);
}

static void
fallback_resolved(void *arg, enum dns_status status,
    const struct dns_target *targets, size_t n, const char *why)
{
	struct qmgr_group *g = arg;

	(void)why;
	if (g->msg->q->stopping) {
		group_done(g);
		return;
	}
	if (status == DNS_OK)
		add_targets(g, targets, n);
	deliver_group(g);
}

static void
resolved(void *arg, enum dns_status status, const struct dns_target *targets,
    size_t n, const char *why)
{
	struct qmgr_group *g = arg;
	struct qmgr_message *m = g->msg;
	struct qmgr *q = m->q;
	char *reason;

	if (q->stopping) {
		group_done(g);
		return;
	}
	switch (status) {
	case DNS_NULLMX:
		reason = xasprintf("556 5.1.10 Domain %s does not accept mail "
		    "(nullMX)", g->route.host);
		group_fail(g, SMTP_BOUNCE, "5.1.10", reason);
		free(reason);
		return;
	case DNS_NOTFOUND:
	case DNS_TEMPFAIL:
		g->primary_status = status;
		g->primary_why = xstrdup(why ? why : "name service error");
		break;
	case DNS_OK:
		if (g->route.with_mx && loops_to_myself(q, targets, n)) {
			reason = xasprintf("mail for %s loops back to myself",
			    g->route.host);
			msg_warn("%s: %s: an MX host of %s is this relay (named "
			    "%s or at one of its listening addresses); fix the "
			    "DNS or add a transport_maps entry", m->id, reason,
			    g->route.host, q->myhostname);
			group_fail(g, SMTP_DEFER, "4.4.6", reason);
			free(reason);
			return;
		}
		add_targets(g, targets, n);
		break;
	}
	/* smtp_fallback_relay: its addresses go after the destination's. */
	if (q->fallback.nexthop != NULL &&
	    strcmp(q->fallback.nexthop, g->route.nexthop) != 0) {
		dns_resolve_nexthop(q->dns, q->fallback.host,
		    q->fallback.with_mx, q->families, q->fallback.port,
		    q->mx_address_limit, fallback_resolved, g);
		return;
	}
	deliver_group(g);
}

static struct qmgr_group *
group_for(struct qmgr_message *m, struct qmgr_route *route)
{
	struct qmgr_group *g;

	for (g = m->groups; g != NULL; g = g->next)
		if (strcmp(g->route.nexthop, route->nexthop) == 0 &&
		    (g->route.error == NULL) == (route->error == NULL)) {
			qmgr_route_clear(route);
			return g;
		}
	g = xcalloc(1, sizeof(*g));
	g->msg = m;
	g->route = *route;
	g->rcpt_index = xcalloc(m->spool.n_recipients,
	    sizeof(*g->rcpt_index));
	g->rcpts = xcalloc(m->spool.n_recipients, sizeof(*g->rcpts));
	g->next = m->groups;
	m->groups = g;
	return g;
}

static void
start_group(struct qmgr_group *g)
{
	struct qmgr_message *m = g->msg;
	struct qmgr *q = m->q;

	if (g->route.error) {
		group_fail(g, g->route.error_temporary ? SMTP_DEFER :
		    SMTP_BOUNCE, g->route.error_temporary ? "4.3.5" : "5.0.0",
		    g->route.error);
		return;
	}
	g->job.queue_id = m->id;
	g->job.nexthop = g->route.nexthop;
	g->job.sender = m->spool.sender;
	g->job.rcpts = g->rcpts;
	g->job.n_rcpts = g->n;
	g->job.content_fd = m->fd;
	g->job.content_offset = m->spool.content_offset;
	g->job.content_length = m->spool.content_length;
	g->job.body_8bitmime = m->spool.body_8bitmime;
	g->job.arrival = (double)m->spool.arrival_sec +
	    (double)m->spool.arrival_usec / 1e6;
	g->job.queue_entry = m->entered;
	/* smtp_tls_policy_maps by next hop, else main.cf. An unusable
	 * policy (logged with its table and key) defers the destination:
	 * never delivered with less protection than was asked for. */
	g->tls_policy = tls_policy_lookup(q->tls_policies, g->route.nexthop);
	if (g->tls_policy->error != NULL) {
		group_fail(g, SMTP_DEFER, "4.7.5", g->tls_policy->error);
		return;
	}
	g->job.tls_policy = g->tls_policy;
	g->job.tls_level = g->tls_policy->level;
	dns_resolve_nexthop(q->dns, g->route.host, g->route.with_mx,
	    q->families, g->route.port, q->mx_address_limit, resolved, g);
}

static int
empty_file(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0;
}

void
qmgr_message_activate(struct qmgr *q, const char *from_dir, const char *id)
{
	struct qmgr_message *m;
	char *from, *err = NULL;
	struct qmgr_group *g, *groups;
	size_t n_pending = 0;

	if (!queue_id_valid(id, strlen(id)))
		return;
	from = xasprintf("%s/%s/%s", q->queue_dir, from_dir, id);
	m = xcalloc(1, sizeof(*m));
	m->q = q;
	m->fd = -1;
	snprintf(m->id, sizeof(m->id), "%s", id);
	m->path = xasprintf("%s/active/%s", q->queue_dir, id);
	if (rename(from, m->path) < 0) {
		/* Already taken (a notice and a scan both saw it), or gone. */
		free(from);
		free(m->path);
		free(m);
		return;
	}
	free(from);
	m->entered = now_seconds();
	if ((m->fd = open(m->path, O_RDWR | O_CLOEXEC | O_NOCTTY)) >= 0 &&
	    empty_file(m->fd)) {
		/* No committed message is empty: a delivered one, emptied
		 * for reuse, whose removal power loss undid. */
		if (unlink(m->path) < 0)
			msg_warn("%s: unlink %s: %s", m->id, m->path,
			    strerror(errno));
		msg_info("%s: removed (an empty queue file: a delivered "
		    "message whose removal a crash undid)", m->id);
		message_free(m);
		return;
	}
	if (m->fd < 0 ||
	    spool_read_fd(m->fd, m->path, &m->spool, &err) < 0) {
		msg_warn("%s: corrupt queue file, moved to corrupt/: %s", id,
		    err ? err : strerror(errno));
		free(err);
		move_to(m, "corrupt");
		message_free(m);
		return;
	}
	m->results = xcalloc(m->spool.n_recipients, sizeof(*m->results));
	m->next = q->messages;
	if (q->messages)
		q->messages->prev = m;
	q->messages = m;
	q->n_active++;

	for (size_t i = 0; i < m->spool.n_recipients; i++) {
		struct qmgr_route route;

		if (m->spool.recipients[i].status != ' ')
			continue;
		if (qmgr_route(q->router, m->spool.recipients[i].address,
		    &route) < 0) {
			route.nexthop = xstrdup("transport_maps");
			route.error = xstrdup("transport_maps lookup failed");
			route.error_temporary = 1;
		}
		g = group_for(m, &route);
		g->rcpt_index[g->n] = i;
		g->rcpts[g->n].address = m->spool.recipients[i].address;
		g->n++;
		n_pending++;
	}
	/* Postfix's qmgr line: log tools (pflogsumm) take the sender and the
	 * size from it, each time the message enters the active queue. */
	msg_info("%s: from=<%s>, size=%lld, nrcpt=%zu (queue active)", m->id,
	    m->spool.sender, (long long)m->spool.content_length, n_pending);
	if (n_pending == 0) {
		m->groups_pending = 1;
		message_finish(m);
		return;
	}
	for (g = m->groups; g != NULL; g = g->next)
		m->groups_pending++;
	/* Starting a group may finish it (and the message) at once. */
	groups = m->groups;
	m->groups_pending++;
	for (g = groups; g != NULL; g = g->next)
		start_group(g);
	if (--m->groups_pending == 0)
		message_finish(m);
}

void
qmgr_message_abandon_all(struct qmgr *q)
{
	while (q->messages) {
		struct qmgr_message *m = q->messages;

		message_unlink(m);
		message_free(m);
	}
}
