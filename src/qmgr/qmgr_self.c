/* qmgr_self: our own listening endpoints, from master.cf, so that an MX
 * host that is really this relay is recognised as a mail loop (Postfix's
 * "mail for DOMAIN loops back to myself") before we connect to ourselves.
 * A listener bound to a wildcard address accepts on every local address,
 * so for those the target's address is compared with this host's
 * interfaces (and the loopback networks). */
#include "config.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/util.h"
#include "qmgr_int.h"

struct endpoint {
	int family;		/* 0: any address */
	unsigned char addr[16];
	unsigned short port;
};

struct qmgr_self {
	struct endpoint *listen;
	size_t n_listen;
	struct endpoint *local;	/* this host's addresses (port unused) */
	size_t n_local;
};

static size_t
addr_bytes(const struct sockaddr *sa, int *family, unsigned char *out,
    unsigned short *port)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		memcpy(out, &in->sin_addr, 4);
		*family = AF_INET;
		if (port)
			*port = ntohs(in->sin_port);
		return 4;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		/* An IPv4-mapped address is the IPv4 address. */
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			memcpy(out, &in6->sin6_addr.s6_addr[12], 4);
			*family = AF_INET;
		} else {
			memcpy(out, &in6->sin6_addr, 16);
			*family = AF_INET6;
		}
		if (port)
			*port = ntohs(in6->sin6_port);
		return *family == AF_INET ? 4 : 16;
	}
	return 0;
}

static void
add(struct endpoint **list, size_t *n, const struct endpoint *e)
{
	*list = xrealloc(*list, (*n + 1) * sizeof(**list));
	(*list)[(*n)++] = *e;
}

static void
add_listener(struct qmgr_self *self, const struct master_service *svc)
{
	struct endpoint e;
	unsigned short port;
	struct addrinfo hints, *res, *ai;

	if (qmgr_parse_port(svc->port, &port) < 0)
		return;
	memset(&e, 0, sizeof(e));
	e.port = port;
	if (svc->host == NULL || *svc->host == '\0') {
		add(&self->listen, &self->n_listen, &e);	/* any address */
		return;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_NUMERICHOST;
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(svc->host, NULL, &hints, &res) != 0)
		return;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		unsigned char bytes[16];
		int family;

		if (addr_bytes(ai->ai_addr, &family, bytes, NULL) == 0)
			continue;
		/* A listener on 0.0.0.0 or :: takes every local address. */
		if ((family == AF_INET && memcmp(bytes, "\0\0\0\0", 4) == 0) ||
		    (family == AF_INET6 && memcmp(bytes, &in6addr_any, 16) == 0))
			e.family = 0;
		else {
			e.family = family;
			memcpy(e.addr, bytes, sizeof(e.addr));
		}
		add(&self->listen, &self->n_listen, &e);
	}
	freeaddrinfo(res);
}

static void
add_local_addresses(struct qmgr_self *self)
{
	struct ifaddrs *ifs, *i;

	if (getifaddrs(&ifs) != 0)
		return;
	for (i = ifs; i != NULL; i = i->ifa_next) {
		struct endpoint e;

		memset(&e, 0, sizeof(e));
		if (i->ifa_addr == NULL ||
		    addr_bytes(i->ifa_addr, &e.family, e.addr, NULL) == 0)
			continue;
		add(&self->local, &self->n_local, &e);
	}
	freeifaddrs(ifs);
}

struct qmgr_self *
qmgr_self_new(const struct conf *conf)
{
	struct qmgr_self *self = xcalloc(1, sizeof(*self));
	const struct master_service *const *svcs;
	size_t n = conf_services(conf, &svcs);

	for (size_t i = 0; i < n; i++)
		if (strcmp(svcs[i]->type, "inet") == 0 &&
		    strcmp(svcs[i]->command, "smtpd") == 0)
			add_listener(self, svcs[i]);
	add_local_addresses(self);
	return self;
}

void
qmgr_self_free(struct qmgr_self *self)
{
	if (self == NULL)
		return;
	free(self->listen);
	free(self->local);
	free(self);
}

static int
is_local(const struct qmgr_self *self, int family, const unsigned char *addr)
{
	size_t len = family == AF_INET ? 4 : 16;

	if (family == AF_INET && addr[0] == 127)
		return 1;
	for (size_t i = 0; i < self->n_local; i++)
		if (self->local[i].family == family &&
		    memcmp(self->local[i].addr, addr, len) == 0)
			return 1;
	return 0;
}

int
qmgr_self_is_target(const struct qmgr_self *self,
    const struct dns_target *target)
{
	unsigned char addr[16];
	unsigned short port;
	int family;
	size_t len;

	if (self == NULL || (len = addr_bytes((const struct sockaddr *)
	    &target->addr, &family, addr, &port)) == 0)
		return 0;
	for (size_t i = 0; i < self->n_listen; i++) {
		const struct endpoint *e = &self->listen[i];

		if (e->port != port)
			continue;
		if (e->family == 0 ? is_local(self, family, addr) :
		    e->family == family && memcmp(e->addr, addr, len) == 0)
			return 1;
	}
	return 0;
}
