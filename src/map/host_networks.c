/* host_networks: mynetworks_style = host / subnet from the interfaces. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#ifdef HAVE_GETIFADDRS
#include <ifaddrs.h>
#endif

#include "tlsrelay/log.h"
#include "tlsrelay/map.h"
#include "tlsrelay/util.h"

#define LOOPBACK_NETWORKS	"127.0.0.0/8 [::1]/128"

/* Number of leading one bits of a netmask (a non-contiguous mask, which
 * no sane interface has, counts up to its first zero). */
static int
mask_prefix(const unsigned char *mask, int len)
{
	int bits = 0;

	for (int i = 0; i < len; i++) {
		for (int b = 7; b >= 0; b--) {
			if (!(mask[i] & (1 << b)))
				return bits;
			bits++;
		}
	}
	return bits;
}

/* Appends "addr/prefix" (IPv6 in brackets) unless it is already listed. */
static void
append_network(struct strbuf *sb, int family, unsigned char *addr,
    int prefix)
{
	char text[INET6_ADDRSTRLEN], entry[INET6_ADDRSTRLEN + 16];
	int len = family == AF_INET ? 4 : 16;
	const char *p;
	size_t elen;

	for (int i = 0; i < len; i++) {
		int keep = prefix - i * 8;

		if (keep < 8)
			addr[i] &= keep <= 0 ? 0 :
			    (unsigned char)(0xff << (8 - keep));
	}
	if (inet_ntop(family, addr, text, sizeof(text)) == NULL)
		return;
	if (family == AF_INET)
		snprintf(entry, sizeof(entry), "%s/%d", text, prefix);
	else
		snprintf(entry, sizeof(entry), "[%s]/%d", text, prefix);
	elen = strlen(entry);
	for (p = sb->data; p != NULL && (p = strstr(p, entry)) != NULL;
	    p += elen) {
		if ((p == sb->data || p[-1] == ' ') &&
		    (p[elen] == ' ' || p[elen] == '\0'))
			return;
	}
	strbuf_puts(sb, " ");
	strbuf_puts(sb, entry);
}

static char *
interface_networks(int subnet)
{
	struct strbuf sb;

	strbuf_init(&sb);
	strbuf_puts(&sb, LOOPBACK_NETWORKS);
#ifdef HAVE_GETIFADDRS
	struct ifaddrs *ifap, *ifa;

	if (getifaddrs(&ifap) < 0) {
		msg_warn("getifaddrs: %s; using loopback networks only",
		    strerror(errno));
		return strbuf_steal(&sb);
	}
	for (ifa = ifap; ifa != NULL; ifa = ifa->ifa_next) {
		unsigned char addr[16];
		int family, prefix;

		if (ifa->ifa_addr == NULL)
			continue;
		family = ifa->ifa_addr->sa_family;
		if (family == AF_INET) {
			memcpy(addr, &((struct sockaddr_in *)(void *)
			    ifa->ifa_addr)->sin_addr, 4);
			prefix = 32;
			if (subnet && ifa->ifa_netmask != NULL)
				prefix = mask_prefix((unsigned char *)
				    &((struct sockaddr_in *)(void *)
				    ifa->ifa_netmask)->sin_addr, 4);
		} else if (family == AF_INET6) {
			memcpy(addr, &((struct sockaddr_in6 *)(void *)
			    ifa->ifa_addr)->sin6_addr, 16);
			prefix = 128;
			if (subnet && ifa->ifa_netmask != NULL)
				prefix = mask_prefix((unsigned char *)
				    &((struct sockaddr_in6 *)(void *)
				    ifa->ifa_netmask)->sin6_addr, 16);
		} else
			continue;
		/* 127.0.0.0/8 is listed already. */
		if (family == AF_INET && addr[0] == 127 && prefix > 8)
			continue;
		append_network(&sb, family, addr, prefix);
	}
	freeifaddrs(ifap);
#else
	(void)subnet;
	(void)append_network;
	(void)mask_prefix;
#endif
	return strbuf_steal(&sb);
}

char *
cidr_host_networks(void)
{
	return interface_networks(0);
}

char *
cidr_subnet_networks(void)
{
	return interface_networks(1);
}
