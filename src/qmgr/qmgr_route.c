/* qmgr_route: which next hop a recipient goes to, as Postfix's
 * trivial-rewrite decides it for the smtp transport. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/map.h"
#include "tlsrelay/qmgr.h"
#include "tlsrelay/util.h"

struct qmgr_router {
	struct table_list *transport;	/* transport_maps */
	char *relayhost;
	unsigned short port;
};

int
qmgr_parse_port(const char *service, unsigned short *port)
{
	char *end;
	long n;

	if (strcasecmp(service, "smtp") == 0) {
		*port = 25;
		return 0;
	}
	if (strcasecmp(service, "submission") == 0) {
		*port = 587;
		return 0;
	}
	if (strcasecmp(service, "smtps") == 0 ||
	    strcasecmp(service, "submissions") == 0) {
		*port = 465;
		return 0;
	}
	n = strtol(service, &end, 10);
	if (*service == '\0' || *end != '\0' || n < 1 || n > 65535)
		return -1;
	*port = (unsigned short)n;
	return 0;
}

int
qmgr_parse_nexthop(const char *text, unsigned short default_port,
    struct qmgr_route *route)
{
	const char *port_text = NULL;
	char *host;

	memset(route, 0, sizeof(*route));
	route->port = default_port;
	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (close == NULL || close == text + 1)
			return -1;
		host = xstrndup(text + 1, (size_t)(close - text - 1));
		if (close[1] == ':')
			port_text = close + 2;
		else if (close[1] != '\0') {
			free(host);
			return -1;
		}
		route->with_mx = 0;
	} else {
		const char *colon = strrchr(text, ':');

		if (colon != NULL) {
			host = xstrndup(text, (size_t)(colon - text));
			port_text = colon + 1;
		} else
			host = xstrdup(text);
		route->with_mx = 1;
	}
	/* "[ipv6:2001:db8::1]" is how Postfix writes an IPv6 literal. */
	if (strncasecmp(host, "ipv6:", 5) == 0)
		memmove(host, host + 5, strlen(host + 5) + 1);
	if (*host == '\0' || (port_text && qmgr_parse_port(port_text,
	    &route->port) < 0)) {
		free(host);
		return -1;
	}
	route->host = host;
	route->nexthop = xstrdup(text);
	return 0;
}

struct qmgr_router *
qmgr_router_new(const struct conf *conf, char **err)
{
	struct qmgr_router *r = xcalloc(1, sizeof(*r));
	char *terr = NULL;

	if (qmgr_parse_port(conf_str(conf, P_smtp_tcp_port), &r->port) < 0) {
		*err = xasprintf("smtp_tcp_port: bad port: %s",
		    conf_str(conf, P_smtp_tcp_port));
		free(r);
		return NULL;
	}
	r->relayhost = xstrdup(conf_str(conf, P_relayhost));
	if (*r->relayhost) {
		struct qmgr_route probe;

		if (qmgr_parse_nexthop(r->relayhost, r->port, &probe) < 0) {
			*err = xasprintf("relayhost: bad next hop: %s",
			    r->relayhost);
			qmgr_router_free(r);
			return NULL;
		}
		qmgr_route_clear(&probe);
	}
	r->transport = table_list_open(conf_str(conf, P_transport_maps), 0,
	    &terr);
	if (r->transport == NULL) {
		*err = xasprintf("transport_maps: %s", terr);
		free(terr);
		qmgr_router_free(r);
		return NULL;
	}
	return r;
}

void
qmgr_router_free(struct qmgr_router *r)
{
	if (r == NULL)
		return;
	if (r->transport)
		table_list_close(r->transport);
	free(r->relayhost);
	free(r);
}

void
qmgr_route_clear(struct qmgr_route *route)
{
	free(route->nexthop);
	free(route->host);
	free(route->error);
	memset(route, 0, sizeof(*route));
}

/* The first table that knows key wins. Returns 1 found, 0 not found,
 * -1 when a lookup failed. */
static int
transport_lookup(const struct qmgr_router *r, const char *key,
    const char **value)
{
	int error = 0;

	*value = table_list_lookup(r->transport, key, &error);
	if (error)
		return -1;
	return *value != NULL;
}

/* Postfix's transport(5) search order for user@domain. */
static int
find_transport(const struct qmgr_router *r, const char *rcpt,
    const char *domain, const char **value)
{
	int rc;

	if ((rc = transport_lookup(r, rcpt, value)) != 0)
		return rc;
	if (*domain) {
		if ((rc = transport_lookup(r, domain, value)) != 0)
			return rc;
		for (const char *p = strchr(domain, '.'); p; p = strchr(p + 1,
		    '.'))
			if ((rc = transport_lookup(r, p, value)) != 0)
				return rc;
	}
	return transport_lookup(r, "*", value);
}

static void
route_default(const struct qmgr_router *r, const char *domain,
    struct qmgr_route *route)
{
	if (*r->relayhost && qmgr_parse_nexthop(r->relayhost, r->port,
	    route) == 0) {
		route->source = "relayhost";
		return;
	}
	memset(route, 0, sizeof(*route));
	route->nexthop = xstrdup(domain);
	route->host = xstrdup(domain);
	route->with_mx = 1;
	route->port = r->port;
	/* An address literal is delivered to that address, no MX. */
	if (domain[0] == '[') {
		qmgr_route_clear(route);
		if (qmgr_parse_nexthop(domain, r->port, route) < 0) {
			route->nexthop = xstrdup(domain);
			route->error = xasprintf("bad address literal: %s",
			    domain);
		}
	}
	route->source = "recipient domain";
}

int
qmgr_route(const struct qmgr_router *r, const char *recipient,
    struct qmgr_route *route)
{
	char *domain = addr_domain(recipient);
	const char *value = NULL;
	char *transport, *nexthop;
	int rc;

	memset(route, 0, sizeof(*route));
	table_list_refresh(r->transport, "transport_maps");
	rc = find_transport(r, recipient, domain, &value);
	if (rc < 0) {
		free(domain);
		return -1;
	}
	if (rc == 0) {
		route_default(r, domain, route);
		free(domain);
		return 0;
	}
	/* "transport:nexthop"; either side may be empty. */
	transport = xstrndup(value, strcspn(value, ":"));
	nexthop = xstrdup(value + strlen(transport) +
	    (value[strlen(transport)] == ':'));
	str_trim(nexthop);
	if (strcasecmp(transport, "error") == 0) {
		route->nexthop = xstrdup("error");
		route->error = xstrdup(*nexthop ? nexthop :
		    "mail delivery disabled by transport_maps");
	} else if (*transport && strcasecmp(transport, "smtp") != 0 &&
	    strcasecmp(transport, "relay") != 0) {
		route->nexthop = xstrdup(transport);
		route->error = xasprintf("mail transport unavailable: "
		    "tlsrelay delivers with smtp only, not %s", transport);
		route->error_temporary = 1;
	} else if (*nexthop == '\0') {
		route_default(r, domain, route);
	} else if (qmgr_parse_nexthop(nexthop, r->port, route) < 0) {
		route->nexthop = xstrdup(nexthop);
		route->error = xasprintf("bad next hop in transport_maps: %s",
		    nexthop);
		route->error_temporary = 1;
	}
	if (route->source == NULL)
		route->source = "transport_maps";
	free(transport);
	free(nexthop);
	free(domain);
	return 0;
}
