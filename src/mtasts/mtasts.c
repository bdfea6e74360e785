/* The MTA-STS lookup of one domain (RFC 8461 5.1): the _mta-sts TXT
 * record says which policy id is current; the cache answers when it
 * holds that id; otherwise the policy is fetched, and stored when it
 * parses. Failures never lose a cached policy before its max_age: a
 * domain that was seen with a policy keeps it through an outage of its
 * web server or of its DNS. The TXT answer, and a fetch that gave
 * nothing, are remembered a while (mtasts_memo.c): a domain without
 * MTA-STS costs one TXT query per memo period, not one per message.
 * Lookups of a domain that is being asked about (a TXT query or a fetch
 * in flight) wait for that one to finish, then decide from what it
 * left in the memo and the cache: a burst of mail to a domain costs one
 * query and one fetch. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include <openssl/ssl.h>

#include "tlsrelay/dns.h"
#include "tlsrelay/log.h"
#include "tlsrelay/mtasts.h"
#include "tlsrelay/scache.h"
#include "tlsrelay/util.h"
#include "mtasts_int.h"

struct mtasts {
	struct dns *dns;
	SSL_CTX *ctx;
	struct scache *cache;
	struct mtasts_memo *memo;
	struct mtasts_refresh *refreshes;	/* fetches in the background */
	struct mtasts_lookup *asking;	/* with a query or fetch in flight */
	struct mtasts_lookup *ready;	/* waiters whose turn has come */
	struct event *wake;		/* starts the ready ones */
	unsigned short port;
};

static void refresh_free(struct mtasts_refresh *r);
static void wake_ready(evutil_socket_t fd, short what, void *arg);

struct mtasts_lookup {
	struct mtasts *mt;
	char *domain;
	/* On one list at a time: mt->asking, a leader's waiters, or
	 * mt->ready; list is its head (NULL: on none). */
	struct mtasts_lookup **list;
	struct mtasts_lookup *next;
	struct mtasts_lookup *waiters;	/* for this one's answer */
	int after_leader;	/* woken by a leader that finished */
	struct dns_lookup *txt;
	struct mtasts_fetch *fetch;
	char id[MTASTS_ID_MAX + 1];	/* of the TXT record */
	struct mtasts_cached cached;	/* policy NULL: nothing cached */
	int returned;			/* mtasts_lookup() has returned */
	int completed;
	mtasts_lookup_cb cb;
	void *arg;
};

struct mtasts *
mtasts_new(struct dns *dns, const char *data_directory, const char *cafile,
    unsigned short port, char **err)
{
	struct mtasts *mt;
	SSL_CTX *ctx;
	char *path;

	if ((ctx = mtasts_fetch_ctx(cafile, err)) == NULL)
		return NULL;
	mt = xcalloc(1, sizeof(*mt));
	mt->dns = dns;
	mt->ctx = ctx;
	mt->port = port;
	mt->memo = mtasts_memo_new();
	mt->wake = evtimer_new(dns_event_base(dns), wake_ready, mt);
	path = xasprintf("%s/%s", data_directory, MTASTS_CACHE_NAME);
	mt->cache = scache_new(data_directory, SCACHE_BTREE, path, 0);
	free(path);
	return mt;
}

void
mtasts_free(struct mtasts *mt)
{
	if (mt == NULL)
		return;
	while (mt->refreshes != NULL)
		refresh_free(mt->refreshes);
	if (mt->wake != NULL)
		event_free(mt->wake);
	scache_free(mt->cache);
	mtasts_memo_free(mt->memo);
	SSL_CTX_free(mt->ctx);
	free(mt);
}

static void
list_add(struct mtasts_lookup **head, struct mtasts_lookup *lk)
{
	lk->next = *head;
	*head = lk;
	lk->list = head;
}

static void
list_remove(struct mtasts_lookup *lk)
{
	struct mtasts_lookup **pp;

	if (lk->list == NULL)
		return;
	for (pp = lk->list; *pp != lk; pp = &(*pp)->next)
		;
	*pp = lk->next;
	lk->list = NULL;
	lk->next = NULL;
}

/* The waiters of lk go to the ready list, started from the loop (never
 * from inside a caller's callback): after_leader 1 when lk has an
 * answer, 0 when it was cancelled and they must ask for themselves. */
static void
release_waiters(struct mtasts_lookup *lk, int after_leader)
{
	struct mtasts *mt = lk->mt;
	struct mtasts_lookup *w;

	while ((w = lk->waiters) != NULL) {
		list_remove(w);
		w->after_leader = after_leader;
		list_add(&mt->ready, w);
	}
	if (mt->ready != NULL && mt->wake != NULL) {
		struct timeval now = { 0, 0 };

		evtimer_add(mt->wake, &now);
	}
}

static void
lookup_free(struct mtasts_lookup *lk)
{
	list_remove(lk);
	release_waiters(lk, 0);
	if (lk->txt != NULL)
		dns_lookup_cancel(lk->txt);
	if (lk->fetch != NULL)
		mtasts_fetch_cancel(lk->fetch);
	mtasts_policy_free(lk->cached.policy);
	free(lk->domain);
	free(lk);
}

/* Hands the answer over; mode none is no policy. */
static void
complete(struct mtasts_lookup *lk, const struct mtasts_policy *policy,
    const char *id)
{
	if (policy != NULL && policy->mode == MTASTS_MODE_NONE)
		policy = NULL;
	lk->completed = 1;
	list_remove(lk);
	release_waiters(lk, 1);
	lk->cb(lk->arg, policy, policy != NULL ? id : NULL);
	if (lk->returned)
		lookup_free(lk);
	/* else mtasts_lookup() frees it and returns NULL */
}

/* The fallback after a failure: the cached policy, if any; why NULL:
 * said before, not logged again. */
static void
complete_cached(struct mtasts_lookup *lk, const char *why)
{
	if (lk->cached.policy != NULL) {
		if (why != NULL)
			msg_warn("MTA-STS policy for %s: %s; using the cached "
			    "policy id=%s", lk->domain, why, lk->cached.id);
		complete(lk, lk->cached.policy, lk->cached.id);
	} else {
		if (why != NULL)
			msg_info("MTA-STS policy for %s: %s; no policy",
			    lk->domain, why);
		complete(lk, NULL, NULL);
	}
}

/* What a fetch under id brought: the policy, stored in the cache (mode
 * none removes the cached one instead), logged with verb ("fetched",
 * "refreshed"); caller frees. NULL with *reason (caller frees) when
 * there is nothing to use, and then no new fetch under id for a while. */
static struct mtasts_policy *
fetch_result(struct mtasts *mt, const char *domain, const char *id,
    const char *body, size_t len, const char *why, const char *verb,
    char **reason)
{
	struct mtasts_policy *policy = NULL;
	char *perr = NULL;
	time_t now = time(NULL);

	*reason = NULL;
	if (body == NULL)
		*reason = xstrdup(why);
	else if ((policy = mtasts_policy_parse(body, len, &perr)) == NULL)
		*reason = xasprintf("invalid policy: %s", perr);
	free(perr);
	if (policy == NULL || policy->mode == MTASTS_MODE_NONE)
		mtasts_memo_fetch_failed(mt->memo, domain, id, now);
	if (policy == NULL)
		return NULL;
	if (policy->mode == MTASTS_MODE_NONE) {
		(void)mtasts_cache_delete(mt->cache, domain);
		msg_info("MTA-STS policy for %s: id=%s mode=none: policy "
		    "removed", domain, id);
	} else {
		(void)mtasts_cache_put(mt->cache, domain, id, now, body, len,
		    policy->max_age);
		msg_info("MTA-STS policy for %s: id=%s mode=%s max_age=%ld "
		    "%s", domain, id, mtasts_mode_name(policy->mode),
		    policy->max_age, verb);
	}
	return policy;
}

static void
fetched(void *arg, const char *body, size_t len, const char *why)
{
	struct mtasts_lookup *lk = arg;
	struct mtasts_policy *policy;
	char *reason;

	lk->fetch = NULL;
	policy = fetch_result(lk->mt, lk->domain, lk->id, body, len, why,
	    "fetched", &reason);
	if (policy == NULL) {
		complete_cached(lk, reason);
		free(reason);
		return;
	}
	complete(lk, policy, lk->id);
	mtasts_policy_free(policy);
}

/* ---- proactive refresh ------------------------------------------------- */

/* RFC 8461 5.1: senders SHOULD refresh a cached policy before it
 * expires. A cached policy older than half its max_age is fetched again
 * in the background when it is used; the lookup goes on with the cached
 * one, and a failed refresh keeps it. */
struct mtasts_refresh {
	struct mtasts *mt;
	char *domain;
	char id[MTASTS_ID_MAX + 1];
	struct mtasts_fetch *fetch;
	struct mtasts_refresh *next;
};

static void
refresh_free(struct mtasts_refresh *r)
{
	struct mtasts_refresh **pp;

	for (pp = &r->mt->refreshes; *pp != r; pp = &(*pp)->next)
		;
	*pp = r->next;
	if (r->fetch != NULL)
		mtasts_fetch_cancel(r->fetch);
	free(r->domain);
	free(r);
}

static void
refreshed(void *arg, const char *body, size_t len, const char *why)
{
	struct mtasts_refresh *r = arg;
	struct mtasts_policy *policy;
	char *reason;

	r->fetch = NULL;
	policy = fetch_result(r->mt, r->domain, r->id, body, len, why,
	    "refreshed", &reason);
	if (policy == NULL) {
		msg_warn("MTA-STS policy for %s: refresh: %s; keeping the "
		    "cached policy id=%s", r->domain, reason, r->id);
		free(reason);
	}
	mtasts_policy_free(policy);
	refresh_free(r);
}

static void
refresh_if_old(struct mtasts *mt, const char *domain,
    const struct mtasts_cached *cached)
{
	time_t now = time(NULL);
	struct mtasts_refresh *r;

	if (now - cached->fetched < cached->policy->max_age / 2 ||
	    mtasts_memo_fetch_blocked(mt->memo, domain, cached->id, now))
		return;
	for (r = mt->refreshes; r != NULL; r = r->next)
		if (strcmp(r->domain, domain) == 0)
			return;		/* under way */
	r = xcalloc(1, sizeof(*r));
	r->mt = mt;
	r->domain = xstrdup(domain);
	snprintf(r->id, sizeof(r->id), "%s", cached->id);
	r->next = mt->refreshes;
	mt->refreshes = r;
	r->fetch = mtasts_fetch_start(mt->dns, mt->ctx, domain, mt->port,
	    MTASTS_FETCH_TIMEOUT, refreshed, r);
}

/* The TXT record is known: id "" when there is no usable one (why
 * says what is wrong with it; NULL: there is none). */
static void
txt_known(struct mtasts_lookup *lk, const char *id, const char *why)
{
	if (id[0] != '\0') {
		snprintf(lk->id, sizeof(lk->id), "%s", id);
		if (lk->cached.policy != NULL &&
		    strcmp(lk->cached.id, lk->id) == 0) {
			refresh_if_old(lk->mt, lk->domain, &lk->cached);
			complete(lk, lk->cached.policy, lk->cached.id);
			return;
		}
		/* Fetched under this id a moment ago, with nothing to
		 * keep: said then. */
		if (mtasts_memo_fetch_blocked(lk->mt->memo, lk->domain,
		    lk->id, time(NULL))) {
			complete_cached(lk, NULL);
			return;
		}
		if (lk->list == NULL)
			list_add(&lk->mt->asking, lk);
		lk->fetch = mtasts_fetch_start(lk->mt->dns, lk->mt->ctx,
		    lk->domain, lk->mt->port, MTASTS_FETCH_TIMEOUT, fetched,
		    lk);
		return;
	}
	/* No usable record: a domain without MTA-STS says nothing, one
	 * whose record has gone keeps its cached policy (RFC 8461 5.1). */
	if (why == NULL)
		complete_cached(lk, lk->cached.policy != NULL ?
		    "no TXT record" : NULL);
	else
		complete_cached(lk, why);
}

static void
txt_answer(void *arg, enum dns_status status, char *const *records,
    size_t n, unsigned int ttl, const char *why)
{
	struct mtasts_lookup *lk = arg;
	char id[MTASTS_ID_MAX + 1] = "", *perr = NULL;

	lk->txt = NULL;
	if (status == DNS_TEMPFAIL) {
		/* Not remembered: the next message asks again. */
		complete_cached(lk, why);
		return;
	}
	if (status != DNS_OK || !mtasts_txt_parse(records, n, id, &perr))
		id[0] = '\0';
	mtasts_memo_txt_put(lk->mt->memo, lk->domain, id, perr, ttl,
	    time(NULL));
	txt_known(lk, id, perr);
	free(perr);
}

/* The lookup proper: the memo and the cache, else a TXT query, unless
 * another lookup of the domain is asking already: then its answer is
 * awaited. */
static void
lookup_start(struct mtasts_lookup *lk)
{
	struct mtasts *mt = lk->mt;
	const struct mtasts_memo_txt *known;
	struct mtasts_lookup *leader;
	struct dns_lookup *txt;
	time_t now = time(NULL);
	char *name;

	if (!lk->after_leader)
		for (leader = mt->asking; leader != NULL;
		    leader = leader->next)
			if (strcmp(leader->domain, lk->domain) == 0) {
				list_add(&leader->waiters, lk);
				return;
			}
	mtasts_policy_free(lk->cached.policy);
	(void)mtasts_cache_get(mt->cache, lk->domain, now, &lk->cached);
	if ((known = mtasts_memo_txt_get(mt->memo, lk->domain, now)) != NULL) {
		txt_known(lk, known->id, known->why);
		return;
	}
	if (lk->after_leader) {
		/* The leader's TXT query failed, and said so. */
		complete_cached(lk, NULL);
		return;
	}
	list_add(&mt->asking, lk);
	name = xasprintf("_mta-sts.%s", lk->domain);
	txt = dns_lookup(mt->dns, name, DNS_TYPE_TXT, txt_answer, lk);
	free(name);
	if (txt != NULL)
		lk->txt = txt;
}

static void
wake_ready(evutil_socket_t fd, short what, void *arg)
{
	struct mtasts *mt = arg;
	struct mtasts_lookup *lk;

	(void)fd;
	(void)what;
	while ((lk = mt->ready) != NULL) {
		list_remove(lk);
		lookup_start(lk);
	}
}

struct mtasts_lookup *
mtasts_lookup(struct mtasts *mt, const char *domain, mtasts_lookup_cb cb,
    void *arg)
{
	struct mtasts_lookup *lk = xcalloc(1, sizeof(*lk));

	lk->mt = mt;
	lk->domain = str_lower(xstrdup(domain));
	lk->cb = cb;
	lk->arg = arg;
	lookup_start(lk);
	lk->returned = 1;
	if (lk->completed) {
		lookup_free(lk);
		return NULL;
	}
	return lk;
}

void
mtasts_lookup_cancel(struct mtasts_lookup *lk)
{
	lookup_free(lk);
}
