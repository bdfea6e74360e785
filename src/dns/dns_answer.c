/* dns_answer: what a next-hop answer says, judged apart from the c-ares
 * callbacks (dns_nexthop.c) so that the fuzzer (tests/fuzz/fuzz_dns.c)
 * reaches every line of it with any bytes a server may send. c-ares
 * parses the wire format; here its results are turned into MX hosts, the
 * implicit MX, a null MX, or addresses. */
#include "config.h"

#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "tlsrelay/dns.h"
#include "tlsrelay/util.h"
#include "dns_int.h"

static int
is_root(const char *host)
{
	return host[0] == '\0' || strcmp(host, ".") == 0;
}

enum mx_verdict
dns_mx_answer(const unsigned char *abuf, int alen, unsigned int (*rnd)(void),
    struct dns_mx **mx, size_t *n, int *status)
{
	struct ares_mx_reply *replies = NULL, *r;
	size_t records = 0, usable = 0, i;

	*mx = NULL;
	*n = 0;
	*status = ares_parse_mx_reply(abuf, alen, &replies);
	if (*status != ARES_SUCCESS) {
		if (replies != NULL)
			ares_free_data(replies);
		return *status == ARES_ENODATA ? MX_VERDICT_IMPLICIT :
		    MX_VERDICT_ERROR;
	}
	for (r = replies; r != NULL; r = r->next) {
		records++;
		if (!is_root(r->host))
			usable++;
	}
	/* c-ares 1.18 parses an answer holding only a CNAME as a success
	 * with no record at all: that is no MX, as Postfix takes it. */
	if (records == 0)
		return MX_VERDICT_IMPLICIT;
	/* RFC 7505: "MX 0 ." -- and a set of one or more records, all of
	 * them root targets, can mean nothing else. */
	if (usable == 0) {
		ares_free_data(replies);
		return MX_VERDICT_NULL;
	}
	*mx = xcalloc(usable, sizeof(**mx));
	for (i = 0, r = replies; r != NULL; r = r->next) {
		if (is_root(r->host))
			continue;
		(*mx)[i].host = xstrdup(r->host);
		(*mx)[i].preference = r->priority;
		i++;
	}
	ares_free_data(replies);
	dns_mx_sort(*mx, usable, rnd);
	*n = usable;
	return MX_VERDICT_HOSTS;
}

void
dns_mx_list_free(struct dns_mx *mx, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(mx[i].host);
	free(mx);
}

int
dns_addr_answer(int family, const unsigned char *abuf, int alen,
    void (*add)(void *arg, const void *bytes), void *arg)
{
	size_t want = family == AF_INET ? sizeof(struct in_addr) :
	    sizeof(struct in6_addr);
	struct hostent *he = NULL;
	int status;

	status = family == AF_INET ?
	    ares_parse_a_reply(abuf, alen, &he, NULL, NULL) :
	    ares_parse_aaaa_reply(abuf, alen, &he, NULL, NULL);
	/* Only addresses of the family asked for, of its size. */
	if (status == ARES_SUCCESS && he->h_addrtype == family &&
	    (size_t)he->h_length == want)
		for (char **ap = he->h_addr_list; *ap != NULL; ap++)
			add(arg, *ap);
	if (he != NULL)
		ares_free_hostent(he);
	return status;
}
