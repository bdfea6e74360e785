/* dns_nexthop: a next hop into the list of addresses to try (RFC 5321 5.1).
 *
 * With DNS: an MX query, then A and/or AAAA queries for every MX host (or
 * for the name itself when it has no MX records), all in flight at once;
 * when the last answer is in, the addresses are laid out in MX order. Only
 * DNS questions are asked (dns_query), never ares_gethostbyname(): the
 * addresses come from DNS and nothing else. Without DNS (smtp_dns_support_level = disabled):
 * /etc/hosts, no MX, no packet -- as Postfix does with DNS turned off.
 *
 * Address order within one host: IPv4 (A) before IPv6 (AAAA), each in the
 * order the server gave. Postfix's smtp_address_preference = any promises
 * no particular order, so this is one of the orders it allows.
 *
 * Failures: an MX host without an address is skipped. When no address is
 * left the answer is DNS_NOTFOUND if every lookup was a definite "no"
 * (NXDOMAIN, or NODATA: the name exists without that record -- Postfix's
 * DNS_NOTFOUND covers both), else DNS_TEMPFAIL. */
#include "config.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ares.h>

#include "tlsrelay/dns.h"
#include "tlsrelay/log.h"
#include "tlsrelay/util.h"

#include "dns_int.h"

#define LOOKUP_PENDING	(-1)	/* nh_lookup.status before its answer */
#define LOOKUP_UNUSED	(-2)	/* family not wanted */

struct nh_req;
struct nh_host;

/* One A or AAAA question about one host. */
struct nh_lookup {
	struct nh_req *req;
	struct nh_host *host;
	int family;		/* AF_INET or AF_INET6 */
	int status;		/* ARES_* once answered */
	int secure;		/* the answer was validated (AD) */
	struct sockaddr_storage *addrs;
	size_t n_addrs;
};

struct nh_host {
	char *name;
	int preference;
	struct nh_lookup lookup[2];	/* A, AAAA */
};

struct nh_req {
	struct dns *dns;
	char *name;		/* the next hop */
	int families;
	unsigned short port;
	size_t max_addresses;
	dns_targets_cb cb;
	void *arg;
	int pending;		/* queries in flight, +1 while launching */
	int cancelled;		/* a query ended by ares_destroy() */
	int mx_secure;		/* the MX answer, if any, was validated */
	struct nh_host *hosts;
	size_t n_hosts;
};

/* ---- reasons ----------------------------------------------------------- */

static int
status_is_negative(int status)
{
	return status == ARES_ENOTFOUND || status == ARES_ENODATA ||
	    status == ARES_EBADNAME;
}

/* Postfix's wording (dns_strerror() behind smtp_addr.c). */
static char *
lookup_reason(const char *name, const char *type, int status)
{
	const char *what;

	if (status == ARES_ENODATA)
		what = "Host found but no data record of requested type";
	else if (status_is_negative(status))
		what = "Host not found";
	else
		what = "Host not found, try again";
	return xasprintf("Host or domain name not found. Name service error "
	    "for name=%s type=%s: %s", name, type, what);
}

/* ---- the request ------------------------------------------------------- */

static struct nh_req *
req_new(struct dns *dns, const char *name, int families, unsigned short port,
    size_t max_addresses, dns_targets_cb cb, void *arg)
{
	struct nh_req *req = xcalloc(1, sizeof(*req));

	req->dns = dns;
	req->name = xstrdup(name);
	req->families = families;
	req->port = port;
	req->max_addresses = max_addresses;
	req->cb = cb;
	req->arg = arg;
	return req;
}

static void
req_add_host(struct nh_req *req, const char *name, int preference)
{
	struct nh_host *host;
	int i;

	req->hosts = xrealloc(req->hosts,
	    (req->n_hosts + 1) * sizeof(*req->hosts));
	host = &req->hosts[req->n_hosts++];
	host->name = xstrdup(name);
	host->preference = preference;
	for (i = 0; i < 2; i++) {
		host->lookup[i].req = req;
		host->lookup[i].host = NULL;	/* set once hosts stop moving */
		host->lookup[i].family = i == 0 ? AF_INET : AF_INET6;
		host->lookup[i].status = LOOKUP_UNUSED;
		host->lookup[i].secure = 0;
		host->lookup[i].addrs = NULL;
		host->lookup[i].n_addrs = 0;
	}
}

static void
req_free(struct nh_req *req)
{
	size_t i;

	for (i = 0; i < req->n_hosts; i++) {
		free(req->hosts[i].name);
		free(req->hosts[i].lookup[0].addrs);
		free(req->hosts[i].lookup[1].addrs);
	}
	free(req->hosts);
	free(req->name);
	free(req);
}

/* Calls back exactly once and frees the request. */
static void
req_finish(struct nh_req *req, enum dns_status status,
    const struct dns_target *targets, size_t n, const char *why)
{
	req->cb(req->arg, status, targets, n, why);
	req_free(req);
}

static void
req_fail(struct nh_req *req, enum dns_status status, char *why)
{
	req_finish(req, status, NULL, 0, why);
	free(why);
}

/* ---- addresses --------------------------------------------------------- */

static void
lookup_add_addr(struct nh_lookup *lk, const void *bytes, unsigned short port)
{
	struct sockaddr_storage *ss;

	lk->addrs = xrealloc(lk->addrs, (lk->n_addrs + 1) * sizeof(*ss));
	ss = &lk->addrs[lk->n_addrs++];
	memset(ss, 0, sizeof(*ss));
	if (lk->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, bytes, sizeof(sin->sin_addr));
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, bytes, sizeof(sin6->sin6_addr));
	}
}

unsigned
dns_target_port(const struct dns_target *t)
{
	if (t->addr.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&t->addr)->sin6_port);
	return ntohs(((const struct sockaddr_in *)&t->addr)->sin_port);
}

unsigned
dns_target_address(const struct dns_target *t, char *addr, size_t len)
{
	const void *bytes = t->addr.ss_family == AF_INET6 ?
	    (const void *)&((const struct sockaddr_in6 *)&t->addr)->sin6_addr :
	    (const void *)&((const struct sockaddr_in *)&t->addr)->sin_addr;

	if (inet_ntop(t->addr.ss_family, bytes, addr, (socklen_t)len) == NULL)
		snprintf(addr, len, "unknown");
	return dns_target_port(t);
}

/* One address of an A or AAAA answer (dns_addr_answer). */
static void
lookup_take_addr(void *arg, const void *bytes)
{
	struct nh_lookup *lk = arg;

	lookup_add_addr(lk, bytes, lk->req->port);
}

/* The addresses of an /etc/hosts entry of the lookup's family. */
static void
lookup_take_hostent(struct nh_lookup *lk, const struct hostent *he)
{
	size_t want = lk->family == AF_INET ? sizeof(struct in_addr) :
	    sizeof(struct in6_addr);

	if (he->h_addrtype != lk->family || (size_t)he->h_length != want)
		return;
	for (char **ap = he->h_addr_list; *ap != NULL; ap++)
		lookup_take_addr(lk, *ap);
}

static int
same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
		    &((const struct sockaddr_in *)b)->sin_addr,
		    sizeof(struct in_addr)) == 0;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
	    &((const struct sockaddr_in6 *)b)->sin6_addr,
	    sizeof(struct in6_addr)) == 0;
}

/* Appends one address unless an earlier MX host had it already. */
static void
add_target(struct dns_target *targets, size_t *n, const struct nh_host *host,
    const struct sockaddr_storage *addr, int mx_secure, int addr_secure)
{
	size_t d;

	for (d = 0; d < *n; d++)
		if (same_addr(&targets[d].addr, addr))
			return;
	targets[*n].hostname = host->name;
	targets[*n].preference = host->preference;
	targets[*n].addr = *addr;
	targets[*n].addrlen = addr->ss_family == AF_INET ?
	    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	targets[*n].dnssec_valid = mx_secure && addr_secure;
	targets[*n].addr_dnssec_valid = addr_secure;
	(*n)++;
}

/* All answers are in: lay out the targets, or say why there are none. */
static void
req_complete(struct nh_req *req)
{
	struct dns_target *targets;
	const struct nh_lookup *lk, *reason = NULL;
	size_t i, j, k, n = 0, cap = 0;
	int all_negative = 1;
	char *why;

	if (req->cancelled) {
		req_fail(req, DNS_TEMPFAIL, lookup_reason(req->name, "A",
		    ARES_EDESTRUCTION));
		return;
	}
	for (i = 0; i < req->n_hosts; i++)
		for (j = 0; j < 2; j++)
			cap += req->hosts[i].lookup[j].n_addrs;
	targets = xcalloc(cap, sizeof(*targets));

	for (i = 0; i < req->n_hosts; i++) {
		for (j = 0; j < 2; j++) {
			lk = &req->hosts[i].lookup[j];
			if (lk->status == LOOKUP_UNUSED)
				continue;
			if (reason == NULL)
				reason = lk;
			if (lk->status != ARES_SUCCESS &&
			    !status_is_negative(lk->status)) {
				if (all_negative)
					reason = lk;
				all_negative = 0;
			}
			for (k = 0; k < lk->n_addrs; k++) {
				if (req->max_addresses > 0 &&
				    n >= req->max_addresses)
					break;
				add_target(targets, &n, &req->hosts[i],
				    &lk->addrs[k], req->mx_secure,
				    lk->secure);
			}
		}
	}

	if (n > 0) {
		req_finish(req, DNS_OK, targets, n, NULL);
	} else if (reason == NULL) {
		/* No family asked for: nothing to try. */
		req_fail(req, DNS_NOTFOUND, lookup_reason(req->name, "A",
		    ARES_ENOTFOUND));
	} else {
		why = lookup_reason(reason->host->name,
		    reason->family == AF_INET ? "A" : "AAAA", reason->status);
		req_fail(req, all_negative ? DNS_NOTFOUND : DNS_TEMPFAIL, why);
	}
	free(targets);
}

static void
req_release(struct nh_req *req)
{
	if (--req->pending == 0)
		req_complete(req);
}

/* ---- DNS queries ------------------------------------------------------- */

static void
addr_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct nh_lookup *lk = arg;
	struct nh_req *req = lk->req;

	(void)timeouts;
	if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED)
		req->cancelled = 1;
	if (status == ARES_SUCCESS) {
		lk->secure = dns_answer_secure(req->dns, abuf, alen);
		status = dns_addr_answer(lk->family, abuf, alen,
		    lookup_take_addr, lk);
	}
	lk->status = status;
	req_release(req);
}

/* A and/or AAAA for every host; completes when the last one answers. */
static void
req_query_addresses(struct nh_req *req)
{
	struct nh_lookup *lk;
	size_t i;
	int j;

	req->pending++;		/* no completion while launching */
	for (i = 0; i < req->n_hosts; i++) {
		for (j = 0; j < 2; j++) {
			lk = &req->hosts[i].lookup[j];
			lk->host = &req->hosts[i];
			if (!(req->families & (j == 0 ? DNS_FAMILY_INET :
			    DNS_FAMILY_INET6)))
				continue;
			lk->status = LOOKUP_PENDING;
			req->pending++;
			dns_query(req->dns, lk->host->name,
			    j == 0 ? T_A : T_AAAA, addr_cb, lk);
		}
	}
	dns_update_timer(req->dns);
	req_release(req);
}

static void
mx_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct nh_req *req = arg;
	struct dns_mx *mx = NULL;
	size_t n = 0;
	enum mx_verdict verdict = MX_VERDICT_ERROR;

	(void)timeouts;
	req->pending--;
	/* A validated MX answer, or a validated denial of MX records (the
	 * implicit MX): RFC 7672 2.2.1. */
	req->mx_secure = dns_answer_secure(req->dns, abuf, alen);
	if (status == ARES_SUCCESS)
		verdict = dns_mx_answer(abuf, alen, dns_random, &mx, &n,
		    &status);
	else if (status == ARES_ENODATA)
		verdict = MX_VERDICT_IMPLICIT;
	switch (verdict) {
	case MX_VERDICT_IMPLICIT:
		/* The name exists without MX records. */
		req_add_host(req, req->name, 0);
		break;
	case MX_VERDICT_NULL:
		req_fail(req, DNS_NULLMX, xasprintf("Domain %s does not "
		    "accept mail (nullMX)", req->name));
		return;
	case MX_VERDICT_ERROR:
		req_fail(req, status_is_negative(status) ? DNS_NOTFOUND :
		    DNS_TEMPFAIL, lookup_reason(req->name, "MX", status));
		return;
	case MX_VERDICT_HOSTS:
		for (size_t i = 0; i < n; i++)
			req_add_host(req, mx[i].host, mx[i].preference);
		dns_mx_list_free(mx, n);
		break;
	}
	req_query_addresses(req);
}

/* ---- without DNS and without names ------------------------------------- */

/* /etc/hosts only (smtp_dns_support_level = disabled): no packet. */
static void
req_from_hosts_file(struct nh_req *req)
{
	struct nh_lookup *lk;
	struct hostent *he;
	int j;

	req_add_host(req, req->name, 0);
	for (j = 0; j < 2; j++) {
		lk = &req->hosts[0].lookup[j];
		lk->host = &req->hosts[0];
		if (!(req->families & (j == 0 ? DNS_FAMILY_INET :
		    DNS_FAMILY_INET6)))
			continue;
		he = NULL;
		lk->status = ares_gethostbyname_file(req->dns->channel,
		    req->name, lk->family, &he);
		if (lk->status == ARES_SUCCESS && he != NULL)
			lookup_take_hostent(lk, he);
		if (he != NULL)
			ares_free_hostent(he);
		/* A name without an entry of this family is no failure of
		 * the file: report it like DNS would. */
		if (lk->status == ARES_SUCCESS && lk->n_addrs == 0)
			lk->status = ARES_ENODATA;
	}
	req_complete(req);
}

/* "192.0.2.1", "[192.0.2.1]", "[ipv6:2001:db8::1]", "2001:db8::1": an
 * address needs no lookup. Returns 1 and fills ss when name is one. */
static int
parse_literal(const char *name, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	size_t len = strlen(name);
	char *addr;
	int ok;

	if (len >= 2 && name[0] == '[' && name[len - 1] == ']')
		addr = xstrndup(name + 1, len - 2);
	else
		addr = xstrdup(name);
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		ok = 1;
	} else {
		const char *v6 = strncasecmp(addr, "ipv6:", 5) == 0 ?
		    addr + 5 : addr;

		ok = inet_pton(AF_INET6, v6, &sin6->sin6_addr) == 1;
		if (ok)
			sin6->sin6_family = AF_INET6;
	}
	free(addr);
	return ok;
}

static void
req_from_literal(struct nh_req *req, struct sockaddr_storage *ss)
{
	struct nh_lookup *lk;
	int j = ss->ss_family == AF_INET ? 0 : 1;

	if (!(req->families & (j == 0 ? DNS_FAMILY_INET : DNS_FAMILY_INET6))) {
		req_fail(req, DNS_TEMPFAIL, xasprintf("%s: address family "
		    "not enabled by inet_protocols", req->name));
		return;
	}
	req_add_host(req, req->name, 0);
	lk = &req->hosts[0].lookup[j];
	lk->host = &req->hosts[0];
	lk->status = ARES_SUCCESS;
	lookup_add_addr(lk, j == 0 ?
	    (const void *)&((struct sockaddr_in *)ss)->sin_addr :
	    (const void *)&((struct sockaddr_in6 *)ss)->sin6_addr, req->port);
	req_complete(req);
}

void
dns_resolve_nexthop(struct dns *dns, const char *name, int with_mx,
    int families, unsigned short port, size_t max_addresses,
    dns_targets_cb cb, void *arg)
{
	struct sockaddr_storage literal;
	struct nh_req *req;

	if (families == 0)
		families = DNS_FAMILY_INET | DNS_FAMILY_INET6;
	req = req_new(dns, name, families, port, max_addresses, cb, arg);

	if (dns->destroying) {
		req_fail(req, DNS_TEMPFAIL, lookup_reason(name, "A",
		    ARES_EDESTRUCTION));
		return;
	}
	if (*name == '\0') {
		req_fail(req, DNS_NOTFOUND, lookup_reason(name,
		    with_mx ? "MX" : "A", ARES_ENOTFOUND));
		return;
	}
	if (parse_literal(name, &literal)) {
		req_from_literal(req, &literal);
		return;
	}
	if (!dns->use_dns) {
		req_from_hosts_file(req);
		return;
	}
	if (with_mx) {
		req->pending = 1;
		dns_query(dns, name, T_MX, mx_cb, req);
		/* req may be gone: the callback can run before we get here. */
		dns_update_timer(dns);
		return;
	}
	/* No MX lookup: only the addresses' status counts. */
	req->mx_secure = 1;
	req_add_host(req, name, 0);
	req_query_addresses(req);
}
