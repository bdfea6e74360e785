/* dns_lookup: one DNS question of one type, the answer as text records.
 *
 * The SMTP server's restrictions need single questions (the A and TXT
 * records of a DNSBL name, the MX of a sender domain, the PTR of a client)
 * rather than dns_nexthop's next-hop walk. The answer is handed over as
 * strings so that no caller sees a c-ares structure.
 *
 * A lookup can be cancelled: c-ares has no way to drop one query, so the
 * request stays allocated until c-ares answers it (or ares_destroy() ends
 * it) and only its callback is forgotten. */
#include "config.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <ares.h>

#include "tlsrelay/dns.h"
#include "tlsrelay/util.h"

#include "dns_int.h"

struct dns_lookup {
	struct dns *dns;
	int type;
	dns_lookup_cb cb;	/* NULL once cancelled */
	void *arg;
	int launching;		/* inside ares_query() */
	int answered;		/* the callback ran during the launch */
};

struct records {
	char **v;
	size_t n;
};

static void
records_add(struct records *r, char *text)
{
	r->v = xrealloc(r->v, (r->n + 1) * sizeof(*r->v));
	r->v[r->n++] = text;
}

static void
records_free(struct records *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		free(r->v[i]);
	free(r->v);
}

static int
is_negative(int status)
{
	return status == ARES_ENOTFOUND || status == ARES_ENODATA ||
	    status == ARES_EBADNAME;
}

static int
parse_addresses(int type, const unsigned char *abuf, int alen,
    struct records *r)
{
	struct hostent *he = NULL;
	char text[INET6_ADDRSTRLEN], **ap;
	int status, family = type == DNS_TYPE_A ? AF_INET : AF_INET6;

	status = type == DNS_TYPE_A ?
	    ares_parse_a_reply(abuf, alen, &he, NULL, NULL) :
	    ares_parse_aaaa_reply(abuf, alen, &he, NULL, NULL);
	if (status == ARES_SUCCESS && he->h_addrtype == family)
		for (ap = he->h_addr_list; *ap != NULL; ap++)
			if (inet_ntop(family, *ap, text, sizeof(text)) != NULL)
				records_add(r, xstrdup(text));
	if (he != NULL)
		ares_free_hostent(he);
	return status;
}

static int
parse_ptr(const unsigned char *abuf, int alen, struct records *r)
{
	struct hostent *he = NULL;
	struct in_addr dummy;	/* c-ares copies it into the hostent */
	char **alias;
	int status;

	memset(&dummy, 0, sizeof(dummy));
	status = ares_parse_ptr_reply(abuf, alen, &dummy, sizeof(dummy),
	    AF_INET, &he);
	if (status == ARES_SUCCESS) {
		records_add(r, xstrdup(he->h_name));
		for (alias = he->h_aliases; alias && *alias; alias++)
			records_add(r, xstrdup(*alias));
	}
	if (he != NULL)
		ares_free_hostent(he);
	return status;
}

/* Returns ARES_SUCCESS with no records for a set of nothing but ".". */
static int
parse_mx(const unsigned char *abuf, int alen, struct records *r,
    int *null_mx)
{
	struct ares_mx_reply *mx = NULL, *m;
	int status;

	*null_mx = 0;
	status = ares_parse_mx_reply(abuf, alen, &mx);
	if (status == ARES_SUCCESS) {
		for (m = mx; m != NULL; m = m->next)
			if (m->host[0] != '\0' && strcmp(m->host, ".") != 0)
				records_add(r, xstrdup(m->host));
		/* c-ares parses a CNAME-only answer into an empty list:
		 * only a non-empty list of root targets is a null MX. */
		*null_mx = mx != NULL && r->n == 0;
	}
	if (mx != NULL)
		ares_free_data(mx);
	return status;
}

static int
parse_txt(const unsigned char *abuf, int alen, struct records *r)
{
	struct ares_txt_ext *txt = NULL, *t;
	struct strbuf sb;
	int status;

	status = ares_parse_txt_reply_ext(abuf, alen, &txt);
	if (status == ARES_SUCCESS) {
		strbuf_init(&sb);
		for (t = txt; t != NULL; t = t->next) {
			if (t->record_start && t != txt) {
				records_add(r, strbuf_steal(&sb));
				strbuf_init(&sb);
			}
			strbuf_append(&sb, (const char *)t->txt, t->length);
		}
		if (txt != NULL)
			records_add(r, strbuf_steal(&sb));
		else
			strbuf_free(&sb);
	}
	if (txt != NULL)
		ares_free_data(txt);
	return status;
}

static void
lookup_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct dns_lookup *lk = arg;
	struct records r = { NULL, 0 };
	enum dns_status result;
	unsigned int ttl = 0;
	int null_mx = 0;

	(void)timeouts;
	if (status == ARES_SUCCESS) {
		switch (lk->type) {
		case DNS_TYPE_A:
		case DNS_TYPE_AAAA:
			status = parse_addresses(lk->type, abuf, alen, &r);
			break;
		case DNS_TYPE_PTR:
			status = parse_ptr(abuf, alen, &r);
			break;
		case DNS_TYPE_MX:
			status = parse_mx(abuf, alen, &r, &null_mx);
			break;
		default:
			status = parse_txt(abuf, alen, &r);
			break;
		}
	}
	if (null_mx)
		result = DNS_NULLMX;
	else if (status == ARES_SUCCESS && r.n > 0)
		result = DNS_OK;
	else if (status == ARES_SUCCESS || is_negative(status))
		result = DNS_NOTFOUND;
	else
		result = DNS_TEMPFAIL;
	if (result != DNS_TEMPFAIL)
		(void)dns_answer_ttl(abuf, alen, lk->type, &ttl);
	if (lk->cb != NULL)
		lk->cb(lk->arg, result, r.v, r.n, ttl, result == DNS_TEMPFAIL ?
		    ares_strerror(status) : NULL);
	records_free(&r);
	if (lk->launching)
		lk->answered = 1;	/* dns_lookup() frees it */
	else
		free(lk);
}

struct dns_lookup *
dns_lookup(struct dns *dns, const char *name, int type, dns_lookup_cb cb,
    void *arg)
{
	struct dns_lookup *lk;

	/* Without DNS nothing is known either way: a temporary failure
	 * never rejects mail for good. */
	if (dns->destroying || !dns->use_dns) {
		cb(arg, DNS_TEMPFAIL, NULL, 0, 0, dns->destroying ?
		    "resolver shutting down" : "DNS lookups are disabled");
		return NULL;
	}
	lk = xcalloc(1, sizeof(*lk));
	lk->dns = dns;
	lk->type = type;
	lk->cb = cb;
	lk->arg = arg;
	lk->launching = 1;
	ares_query(dns->channel, name, C_IN, type, lookup_cb, lk);
	lk->launching = 0;
	if (lk->answered) {
		free(lk);
		return NULL;
	}
	dns_update_timer(dns);
	return lk;
}

void
dns_lookup_cancel(struct dns_lookup *lk)
{
	if (lk != NULL)
		lk->cb = NULL;
}

char *
dns_reverse_name(const char *addr, const char *suffix)
{
	unsigned char bytes[16];
	struct strbuf sb;
	int i;

	strbuf_init(&sb);
	if (inet_pton(AF_INET, addr, bytes) == 1) {
		for (i = 3; i >= 0; i--)
			strbuf_printf(&sb, "%u.", bytes[i]);
	} else if (inet_pton(AF_INET6, addr, bytes) == 1) {
		for (i = 15; i >= 0; i--)
			strbuf_printf(&sb, "%x.%x.", bytes[i] & 0xf,
			    bytes[i] >> 4);
	} else {
		strbuf_free(&sb);
		return NULL;
	}
	strbuf_puts(&sb, suffix);
	return strbuf_steal(&sb);
}

char *
dns_reverse_name_ptr(const char *addr)
{
	struct in_addr in;

	return dns_reverse_name(addr, inet_pton(AF_INET, addr, &in) == 1 ?
	    "in-addr.arpa" : "ip6.arpa");
}
