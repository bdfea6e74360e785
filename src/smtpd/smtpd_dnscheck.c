/* smtpd_dnscheck: the DNS answers of one SMTP session, asked through the
 * worker's resolver and kept in a memo (see smtpd_dnscheck.h).
 *
 * Each question is an entry: its DNS lookups (dns_lookup.c), a timer that
 * bounds the whole question, and the answer once complete. The session's
 * resume callback runs from its own event, never from inside c-ares, once
 * no entry is pending: the session may then start new lookups or end
 * itself without pulling the resolver's stack from under it. An entry
 * answered before the asking call returns (no server, a bad name) is
 * simply DONE and does not trigger a resume. */
#include "config.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>

#include "tlsrelay/dns.h"
#include "tlsrelay/log.h"
#include "tlsrelay/smtpd_dnscheck.h"
#include "tlsrelay/util.h"

#define RBL_TXT_LIMIT	500	/* Postfix's cap on the joined TXT text */
#define MAX_LOOKUPS	3	/* MX + A + AAAA */

enum kind { Q_DNSBL, Q_DOMAIN, Q_CLIENT };

struct entry;

/* One DNS lookup of an entry, the argument of its callback. */
struct ask {
	struct entry *e;
	struct dns_lookup *lk;	/* NULL once answered */
	int type;
};

struct entry {
	struct smtpd_dnscheck *dc;
	enum kind kind;
	char *key;		/* query name, plus "=filter" for a DNSBL */
	int done;
	struct event *timer;
	struct ask asks[MAX_LOOKUPS];
	int n_asks;		/* lookups still out */
	struct entry *next;

	/* DNSBL */
	char *query;
	char *filter;		/* NULL: any A record */
	struct dnsbl_answer dnsbl;
	/* domain */
	enum dns_status domain_status[MAX_LOOKUPS];	/* by ask */
	struct domain_answer domain;
	/* client name */
	char *client_addr;
	char *ptr_name;
	struct client_name_answer client;
};

struct smtpd_dnscheck {
	struct dns *dns;
	long timeout_ms;
	smtpd_dnscheck_resume_fn *resume;
	void *arg;
	struct event *resume_ev;
	struct entry *entries;
	int pending;		/* entries not done */
	int asking;		/* inside a smtpd_dnscheck_* call */
};

static const char unknown[] = "unknown";

/* ---- entries ----------------------------------------------------------- */

static void
entry_cancel_lookups(struct entry *e)
{
	int i;

	for (i = 0; i < MAX_LOOKUPS; i++) {
		dns_lookup_cancel(e->asks[i].lk);
		e->asks[i].lk = NULL;
	}
	e->n_asks = 0;
}

static void
entry_free(struct entry *e)
{
	entry_cancel_lookups(e);
	if (e->timer != NULL)
		event_free(e->timer);
	free(e->key);
	free(e->query);
	free(e->filter);
	free(e->dnsbl.addr);
	free(e->dnsbl.txt);
	free(e->client_addr);
	free(e->ptr_name);
	free(e);
}

static void
entry_complete(struct entry *e)
{
	struct smtpd_dnscheck *dc = e->dc;

	if (e->done)
		return;
	e->done = 1;
	entry_cancel_lookups(e);
	evtimer_del(e->timer);
	if (--dc->pending == 0 && !dc->asking)
		event_active(dc->resume_ev, EV_TIMEOUT, 0);
}

static void
resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct smtpd_dnscheck *dc = arg;

	(void)fd;
	(void)what;
	if (dc->pending == 0)
		dc->resume(dc->arg);
}

static void entry_timeout(evutil_socket_t, short, void *);

static struct entry *
entry_find(struct smtpd_dnscheck *dc, enum kind kind, const char *key)
{
	struct entry *e;

	for (e = dc->entries; e != NULL; e = e->next)
		if (e->kind == kind && strcasecmp(e->key, key) == 0)
			return e;
	return NULL;
}

static struct entry *
entry_new(struct smtpd_dnscheck *dc, enum kind kind, const char *key)
{
	struct entry *e = xcalloc(1, sizeof(*e));
	struct timeval tv;

	e->dc = dc;
	e->kind = kind;
	e->key = xstrdup(key);
	/* Not answered yet reads as a temporary failure. */
	e->dnsbl.status = e->domain.status = e->client.status =
	    e->client.reverse_status = DNSCHECK_TEMPFAIL;
	e->timer = evtimer_new(dns_event_base(dc->dns), entry_timeout, e);
	if (e->timer == NULL)
		msg_fatal("smtpd_dnscheck: cannot create a timer");
	tv.tv_sec = dc->timeout_ms / 1000;
	tv.tv_usec = (dc->timeout_ms % 1000) * 1000;
	evtimer_add(e->timer, &tv);
	e->next = dc->entries;
	dc->entries = e;
	dc->pending++;
	return e;
}

static void lookup_answer(void *, enum dns_status, char *const *, size_t,
    unsigned int, const char *);

/* Starts one lookup of the entry; its answer may come at once. */
static void
entry_ask(struct entry *e, const char *name, int type)
{
	struct ask *a;
	int i;

	for (i = 0; i < MAX_LOOKUPS && e->asks[i].e != NULL; i++)
		;
	if (i == MAX_LOOKUPS)
		msg_panic("smtpd_dnscheck: too many lookups for %s", e->key);
	a = &e->asks[i];
	a->e = e;
	a->type = type;
	e->n_asks++;
	a->lk = dns_lookup(e->dc->dns, name, type, lookup_answer, a);
}

/* ---- DNSBL ------------------------------------------------------------- */

static void
dnsbl_txt(struct entry *e, enum dns_status status, char *const *records,
    size_t n)
{
	struct strbuf sb;
	size_t i;
	char *p;

	if (status == DNS_OK && n > 0) {
		strbuf_init(&sb);
		for (i = 0; i < n && sb.len < RBL_TXT_LIMIT; i++) {
			if (i > 0)
				strbuf_puts(&sb, " / ");
			strbuf_append(&sb, records[i], strlen(records[i]));
		}
		e->dnsbl.txt = strbuf_steal(&sb);
		if (strlen(e->dnsbl.txt) > RBL_TXT_LIMIT)
			e->dnsbl.txt[RBL_TXT_LIMIT] = '\0';
		/* The text goes into an SMTP reply: no CR LF or other
		 * control bytes from a DNS server (Postfix's
		 * smtpd_expand_filter does the same). */
		for (p = e->dnsbl.txt; *p != '\0'; p++)
			if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
				*p = '?';
	}
	entry_complete(e);
}

static void
dnsbl_a(struct entry *e, enum dns_status status, char *const *records,
    size_t n, const char *why)
{
	struct dnsbl_filter f;
	char *err = NULL;
	size_t i;

	if (status == DNS_TEMPFAIL) {
		msg_warn("%s: RBL lookup error: %s", e->query, why);
		e->dnsbl.status = DNSCHECK_TEMPFAIL;
		entry_complete(e);
		return;
	}
	e->dnsbl.status = DNSCHECK_NOTFOUND;
	if (e->filter != NULL && dnsbl_filter_parse(e->filter, &f, &err) < 0) {
		/* The restriction parser rejects this at start-up. */
		msg_warn("%s", err);
		free(err);
		entry_complete(e);
		return;
	}
	for (i = 0; status == DNS_OK && i < n; i++) {
		if (e->filter == NULL || dnsbl_filter_match(&f, records[i])) {
			e->dnsbl.status = DNSCHECK_FOUND;
			e->dnsbl.addr = xstrdup(records[i]);
			break;
		}
	}
	if (e->dnsbl.status != DNSCHECK_FOUND) {
		entry_complete(e);
		return;
	}
	/* Listed: the TXT record explains why. */
	entry_ask(e, e->query, DNS_TYPE_TXT);
}

static enum dnscheck_state
dnsbl_ask(struct smtpd_dnscheck *dc, const char *query, const char *filter,
    const struct dnsbl_answer **out)
{
	struct entry *e;
	char *key;

	key = filter ? xasprintf("%s=%s", query, filter) : xstrdup(query);
	if ((e = entry_find(dc, Q_DNSBL, key)) == NULL) {
		e = entry_new(dc, Q_DNSBL, key);
		e->query = xstrdup(query);
		e->filter = filter ? xstrdup(filter) : NULL;
		dc->asking++;
		entry_ask(e, query, DNS_TYPE_A);
		dc->asking--;
	}
	free(key);
	*out = &e->dnsbl;
	return e->done ? DNSCHECK_DONE : DNSCHECK_PENDING;
}

enum dnscheck_state
smtpd_dnscheck_rbl(struct smtpd_dnscheck *dc, const char *zone,
    const char *filter, const char *client_addr,
    const struct dnsbl_answer **out)
{
	static const struct dnsbl_answer not_listed = { DNSCHECK_NOTFOUND,
	    NULL, NULL };
	enum dnscheck_state state;
	char *query;

	if ((query = dns_reverse_name(client_addr, zone)) == NULL) {
		*out = &not_listed;
		return DNSCHECK_DONE;
	}
	state = dnsbl_ask(dc, query, filter, out);
	free(query);
	return state;
}

enum dnscheck_state
smtpd_dnscheck_rhsbl(struct smtpd_dnscheck *dc, const char *zone,
    const char *filter, const char *domain,
    const struct dnsbl_answer **out)
{
	enum dnscheck_state state;
	char *query;

	query = xasprintf("%s.%s", domain, zone);
	state = dnsbl_ask(dc, query, filter, out);
	free(query);
	return state;
}

/* ---- domains ----------------------------------------------------------- */

/* MX, A and AAAA all asked at once; the domain exists for mail when any
 * of them has records (Postfix's reject_unknown_*_domain and
 * reject_unknown_helo_hostname). */
static void
domain_finish(struct entry *e)
{
	int i, any_ok = 0, any_temp = 0;

	for (i = 0; i < MAX_LOOKUPS; i++) {
		if (e->domain_status[i] == DNS_OK ||
		    e->domain_status[i] == DNS_NULLMX)
			any_ok = 1;
		else if (e->domain_status[i] == DNS_TEMPFAIL)
			any_temp = 1;
	}
	e->domain.status = any_ok ? DNSCHECK_FOUND : any_temp ?
	    DNSCHECK_TEMPFAIL : DNSCHECK_NOTFOUND;
	entry_complete(e);
}

static void
domain_answer(struct entry *e, struct ask *a, enum dns_status status)
{
	e->domain_status[a - e->asks] = status;
	if (a->type == DNS_TYPE_MX && status == DNS_NULLMX)
		e->domain.null_mx = 1;
	if (e->n_asks == 0)
		domain_finish(e);
}

enum dnscheck_state
smtpd_dnscheck_domain(struct smtpd_dnscheck *dc, const char *domain,
    const struct domain_answer **out)
{
	struct entry *e;

	if ((e = entry_find(dc, Q_DOMAIN, domain)) == NULL) {
		e = entry_new(dc, Q_DOMAIN, domain);
		dc->asking++;
		/* One extra count while launching, so that answers that come
		 * back at once do not finish the entry before all three are
		 * asked. */
		e->n_asks++;
		entry_ask(e, domain, DNS_TYPE_MX);
		entry_ask(e, domain, DNS_TYPE_A);
		entry_ask(e, domain, DNS_TYPE_AAAA);
		if (--e->n_asks == 0 && !e->done)
			domain_finish(e);
		dc->asking--;
	}
	*out = &e->domain;
	return e->done ? DNSCHECK_DONE : DNSCHECK_PENDING;
}

/* ---- the client's name ------------------------------------------------- */

/* Postfix accepts a PTR name only if it is a plausible host name: letters,
 * digits, '-' and '.', and not all-numeric (a PTR "1.2.3.4" must not pass
 * for a name). */
static int
valid_ptr_name(const char *name)
{
	const char *p, *last = name;
	int alpha = 0;

	if (*name == '\0' || strlen(name) > 255)
		return 0;
	for (p = name; *p != '\0'; p++) {
		if (*p == '.') {
			if (p == last)
				return 0;
			last = p + 1;
		} else if (!(*p == '-' || (*p >= '0' && *p <= '9') ||
		    (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    *p == '_'))
			return 0;
		else if (!(*p >= '0' && *p <= '9'))
			alpha = 1;
	}
	return alpha;
}

static int
same_address(const char *a, const char *b)
{
	unsigned char x[16], y[16];

	if (inet_pton(AF_INET, a, x) == 1)
		return inet_pton(AF_INET, b, y) == 1 && memcmp(x, y, 4) == 0;
	return inet_pton(AF_INET6, a, x) == 1 &&
	    inet_pton(AF_INET6, b, y) == 1 && memcmp(x, y, 16) == 0;
}

static void
client_forward(struct entry *e, enum dns_status status,
    char *const *records, size_t n, const char *why)
{
	size_t i;

	for (i = 0; status == DNS_OK && i < n; i++) {
		if (same_address(records[i], e->client_addr)) {
			e->client.status = DNSCHECK_FOUND;
			e->client.name = e->ptr_name;
			entry_complete(e);
			return;
		}
	}
	if (status == DNS_OK)
		msg_warn("hostname %s does not resolve to address %s",
		    e->ptr_name, e->client_addr);
	else
		msg_warn("hostname %s does not resolve to address %s: %s",
		    e->ptr_name, e->client_addr, status == DNS_TEMPFAIL ?
		    (why ? why : "Temporary failure in name resolution") :
		    "Name or service not known");
	e->client.status = status == DNS_TEMPFAIL ? DNSCHECK_TEMPFAIL :
	    DNSCHECK_NOTFOUND;
	e->client.reverse_only = 1;
	entry_complete(e);
}

static void
client_ptr(struct entry *e, enum dns_status status, char *const *records,
    size_t n)
{
	struct in_addr in;

	if (status != DNS_OK || n == 0 || !valid_ptr_name(records[0])) {
		e->client.status = e->client.reverse_status =
		    status == DNS_TEMPFAIL ? DNSCHECK_TEMPFAIL :
		    DNSCHECK_NOTFOUND;
		entry_complete(e);
		return;
	}
	e->ptr_name = xstrdup(records[0]);
	e->client.reverse_status = DNSCHECK_FOUND;
	e->client.reverse_name = e->ptr_name;
	entry_ask(e, e->ptr_name, inet_pton(AF_INET, e->client_addr, &in) == 1
	    ? DNS_TYPE_A : DNS_TYPE_AAAA);
}

enum dnscheck_state
smtpd_dnscheck_client_name(struct smtpd_dnscheck *dc, const char *client_addr,
    const struct client_name_answer **out)
{
	static const struct client_name_answer no_name = { DNSCHECK_NOTFOUND,
	    unknown, 0, DNSCHECK_NOTFOUND, unknown };
	struct entry *e;
	char *ptr;

	if ((e = entry_find(dc, Q_CLIENT, client_addr)) == NULL) {
		if ((ptr = dns_reverse_name_ptr(client_addr)) == NULL) {
			*out = &no_name;
			return DNSCHECK_DONE;
		}
		e = entry_new(dc, Q_CLIENT, client_addr);
		e->client_addr = xstrdup(client_addr);
		e->client.name = e->client.reverse_name = unknown;
		dc->asking++;
		entry_ask(e, ptr, DNS_TYPE_PTR);
		dc->asking--;
		free(ptr);
	}
	*out = &e->client;
	return e->done ? DNSCHECK_DONE : DNSCHECK_PENDING;
}

/* ---- answers and timeouts ---------------------------------------------- */

static void
lookup_answer(void *arg, enum dns_status status, char *const *records,
    size_t n, unsigned int ttl, const char *why)
{
	struct ask *a = arg;
	struct entry *e = a->e;

	(void)ttl;		/* answers are not kept */
	a->lk = NULL;
	e->n_asks--;
	switch (e->kind) {
	case Q_DNSBL:
		if (a->type == DNS_TYPE_A)
			dnsbl_a(e, status, records, n, why);
		else
			dnsbl_txt(e, status, records, n);
		break;
	case Q_DOMAIN:
		domain_answer(e, a, status);
		break;
	case Q_CLIENT:
		if (a->type == DNS_TYPE_PTR)
			client_ptr(e, status, records, n);
		else
			client_forward(e, status, records, n, why);
		break;
	}
}

static void
entry_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct entry *e = arg;

	(void)fd;
	(void)what;
	switch (e->kind) {
	case Q_DNSBL:
		if (e->dnsbl.addr != NULL)
			break;		/* listed; only the TXT is missing */
		msg_warn("%s: RBL lookup error: timeout", e->query);
		e->dnsbl.status = DNSCHECK_TEMPFAIL;
		break;
	case Q_DOMAIN:
		e->domain.status = DNSCHECK_TEMPFAIL;
		break;
	case Q_CLIENT:
		if (e->ptr_name != NULL)
			msg_warn("hostname %s does not resolve to address %s: "
			    "timeout", e->ptr_name, e->client_addr);
		e->client.status = DNSCHECK_TEMPFAIL;
		if (e->ptr_name == NULL)
			e->client.reverse_status = DNSCHECK_TEMPFAIL;
		else
			e->client.reverse_only = 1;
		break;
	}
	entry_complete(e);
}

/* ---- the memo ---------------------------------------------------------- */

struct smtpd_dnscheck *
smtpd_dnscheck_new(struct dns *dns, long timeout_ms,
    smtpd_dnscheck_resume_fn *resume, void *arg)
{
	struct smtpd_dnscheck *dc = xcalloc(1, sizeof(*dc));

	dc->dns = dns;
	dc->timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
	dc->resume = resume;
	dc->arg = arg;
	dc->resume_ev = event_new(dns_event_base(dns), -1, 0, resume_cb, dc);
	if (dc->resume_ev == NULL)
		msg_fatal("smtpd_dnscheck: cannot create an event");
	return dc;
}

void
smtpd_dnscheck_free(struct smtpd_dnscheck *dc)
{
	struct entry *e;

	if (dc == NULL)
		return;
	while ((e = dc->entries) != NULL) {
		dc->entries = e->next;
		entry_free(e);
	}
	event_free(dc->resume_ev);
	free(dc);
}

int
smtpd_dnscheck_busy(const struct smtpd_dnscheck *dc)
{
	return dc != NULL && dc->pending > 0;
}
