/* mtasts_memo: what a process remembers of a domain between lookups, in
 * memory only, so that mail to a domain costs no TXT query and no fetch
 * per message:
 *   - the _mta-sts TXT answer (an id, or no usable record) for its TTL,
 *     a denial for its negative TTL (RFC 2308 5), either bounded to
 *     MTASTS_MEMO_TTL_MIN .. MTASTS_MEMO_TTL_MAX;
 *   - a fetch under an id that gave no policy to cache (it failed, or
 *     the policy was in mode none), which is not repeated for
 *     MTASTS_FETCH_RETRY seconds.
 * A temporary DNS failure is not remembered. Entries are few and short
 * lived: a list, newest first, at most MTASTS_MEMO_MAX long. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlsrelay/mtasts.h"
#include "tlsrelay/util.h"
#include "mtasts_int.h"

struct memo_entry {
	char *domain;
	struct mtasts_memo_txt txt;
	time_t txt_expires;
	char fetch_id[MTASTS_ID_MAX + 1];
	time_t fetch_retry;
	struct memo_entry *next;
};

struct mtasts_memo {
	struct memo_entry *head;
	size_t size;
};

struct mtasts_memo *
mtasts_memo_new(void)
{
	return xcalloc(1, sizeof(struct mtasts_memo));
}

static void
entry_free(struct memo_entry *e)
{
	free(e->domain);
	free(e->txt.why);
	free(e);
}

void
mtasts_memo_free(struct mtasts_memo *m)
{
	struct memo_entry *e;

	if (m == NULL)
		return;
	while ((e = m->head) != NULL) {
		m->head = e->next;
		entry_free(e);
	}
	free(m);
}

/* The entry of domain, dropping those that remember nothing any more. */
static struct memo_entry *
find(struct mtasts_memo *m, const char *domain, time_t now)
{
	struct memo_entry **pp = &m->head, *e;

	while ((e = *pp) != NULL) {
		if (e->txt_expires <= now && e->fetch_retry <= now) {
			*pp = e->next;
			entry_free(e);
			m->size--;
			continue;
		}
		if (strcmp(e->domain, domain) == 0)
			return e;
		pp = &e->next;
	}
	return NULL;
}

static struct memo_entry *
find_or_add(struct mtasts_memo *m, const char *domain, time_t now)
{
	struct memo_entry *e, **pp;

	if ((e = find(m, domain, now)) != NULL)
		return e;
	e = xcalloc(1, sizeof(*e));
	e->domain = xstrdup(domain);
	e->next = m->head;
	m->head = e;
	if (++m->size > MTASTS_MEMO_MAX) {
		/* Bounded: the oldest goes. */
		for (pp = &m->head; (*pp)->next != NULL; pp = &(*pp)->next)
			;
		entry_free(*pp);
		*pp = NULL;
		m->size--;
	}
	return e;
}

const struct mtasts_memo_txt *
mtasts_memo_txt_get(struct mtasts_memo *m, const char *domain, time_t now)
{
	struct memo_entry *e = find(m, domain, now);

	return e != NULL && e->txt_expires > now ? &e->txt : NULL;
}

void
mtasts_memo_txt_put(struct mtasts_memo *m, const char *domain,
    const char *id, const char *why, unsigned int ttl, time_t now)
{
	struct memo_entry *e = find_or_add(m, domain, now);

	if (ttl < MTASTS_MEMO_TTL_MIN)
		ttl = MTASTS_MEMO_TTL_MIN;
	if (ttl > MTASTS_MEMO_TTL_MAX)
		ttl = MTASTS_MEMO_TTL_MAX;
	snprintf(e->txt.id, sizeof(e->txt.id), "%s", id != NULL ? id : "");
	free(e->txt.why);
	e->txt.why = why != NULL ? xstrdup(why) : NULL;
	e->txt_expires = now + (time_t)ttl;
}

int
mtasts_memo_fetch_blocked(struct mtasts_memo *m, const char *domain,
    const char *id, time_t now)
{
	struct memo_entry *e = find(m, domain, now);

	return e != NULL && e->fetch_retry > now &&
	    strcmp(e->fetch_id, id) == 0;
}

void
mtasts_memo_fetch_failed(struct mtasts_memo *m, const char *domain,
    const char *id, time_t now)
{
	struct memo_entry *e = find_or_add(m, domain, now);

	snprintf(e->fetch_id, sizeof(e->fetch_id), "%s", id);
	e->fetch_retry = now + MTASTS_FETCH_RETRY;
}
