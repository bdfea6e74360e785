/* dns_servers: tlsrelay_dns_servers ("127.0.0.1:5353, [::1]:53") into the
 * comma-separated form ares_set_servers_ports_csv() takes. Only numeric
 * addresses: a name would need a resolver to find the resolver. And the
 * other way: the servers a channel asks, as text. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <ares.h>

#include "tlsrelay/dns.h"
#include "tlsrelay/util.h"

#include "dns_int.h"

/* "53" -> 53; anything but 1..65535 in plain decimal -> -1. */
static long
parse_port(const char *s)
{
	long port = 0;

	if (*s == '\0' || strlen(s) > 5)
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		port = port * 10 + (*s - '0');
	}
	return port >= 1 && port <= 65535 ? port : -1;
}

/* One entry to its c-ares form appended to out; -1 when malformed. */
static int
append_server(struct strbuf *out, const char *entry)
{
	unsigned char addrbuf[sizeof(struct in6_addr)];
	const char *port = NULL;
	const char *close;
	char *addr;
	int family, ok;
	long portnum = 0;

	if (*entry == '[') {
		/* [ipv6] or [ipv6]:port (a bracketed IPv4 is tolerated). */
		if ((close = strchr(entry, ']')) == NULL)
			return -1;
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != '\0')
			return -1;
		addr = xstrndup(entry + 1, (size_t)(close - entry - 1));
		family = strchr(addr, ':') != NULL ? AF_INET6 : AF_INET;
	} else if ((close = strchr(entry, ':')) != NULL &&
	    strchr(close + 1, ':') == NULL) {
		/* One colon: ipv4:port. */
		addr = xstrndup(entry, (size_t)(close - entry));
		port = close + 1;
		family = AF_INET;
	} else {
		/* No colon: ipv4. Several: a bare IPv6 address, no port. */
		addr = xstrdup(entry);
		family = close != NULL ? AF_INET6 : AF_INET;
	}

	ok = inet_pton(family, addr, addrbuf) == 1;
	if (ok && port != NULL)
		ok = (portnum = parse_port(port)) > 0;
	if (ok) {
		if (out->len > 0)
			strbuf_puts(out, ",");
		/* c-ares 1.18 wants brackets with a port, none without. */
		if (family == AF_INET6 && port != NULL)
			strbuf_printf(out, "[%s]", addr);
		else
			strbuf_puts(out, addr);
		if (port != NULL)
			strbuf_printf(out, ":%ld", portnum);
	}
	free(addr);
	return ok ? 0 : -1;
}

char *
dns_servers_csv(const char *servers, char **err)
{
	struct strbuf out;
	char **list;
	size_t i;

	strbuf_init(&out);
	list = strlist_split(servers != NULL ? servers : "", LIST_SEPARATORS,
	    NULL);
	for (i = 0; list[i] != NULL; i++) {
		if (append_server(&out, list[i]) != 0) {
			*err = xasprintf("bad DNS server \"%s\": expected "
			    "ip, ip:port or [ipv6]:port", list[i]);
			strlist_free(list);
			strbuf_free(&out);
			return NULL;
		}
	}
	strlist_free(list);
	return strbuf_steal(&out);
}

/* The channel's servers as c-ares has them: tlsrelay_dns_servers, or
 * what it read from /etc/resolv.conf (127.0.0.1 when that names none). */
char *
dns_servers_describe(const struct dns *dns, int *on_host)
{
	struct ares_addr_port_node *list = NULL, *s;
	struct strbuf out;
	char addr[INET6_ADDRSTRLEN];

	strbuf_init(&out);
	*on_host = 1;
	if (ares_get_servers_ports(dns->channel, &list) != ARES_SUCCESS)
		list = NULL;
	for (s = list; s != NULL; s = s->next) {
		int v6 = s->family == AF_INET6;
		int port = s->udp_port != 0 && s->udp_port != 53;

		if (inet_ntop(s->family, &s->addr, addr, sizeof(addr)) == NULL)
			continue;
		if (v6 ? memcmp(&s->addr.addr6, &in6addr_loopback,
		    sizeof(in6addr_loopback)) != 0 :
		    (ntohl(s->addr.addr4.s_addr) >> 24) != 127)
			*on_host = 0;
		strbuf_printf(&out, "%s%s%s%s", out.len ? ", " : "",
		    v6 && port ? "[" : "", addr, v6 && port ? "]" : "");
		if (port)
			strbuf_printf(&out, ":%d", s->udp_port);
	}
	if (list != NULL)
		ares_free_data(list);
	if (out.len == 0)
		*on_host = 0;	/* nothing to ask is nothing to trust */
	return strbuf_steal(&out);
}
