/* proxy: the PROXY protocol header (HAProxy's proxy-protocol.txt,
 * versions 1 and 2) that a load balancer sends before the client's first
 * byte, naming the client it accepted. Postfix's
 * smtpd_upstream_proxy_protocol = haproxy. The bytes come from the
 * network: every length is checked, nothing is trusted, and the parser
 * is fuzzed (tests/fuzz/fuzz_proxy.c). */
#ifndef TLSRELAY_PROXY_H
#define TLSRELAY_PROXY_H

#include <netinet/in.h>
#include <stddef.h>

/* The longest header: v1 is at most 107 bytes; a v2 header may carry
 * TLVs up to 64 KiB, but one this relay accepts is bounded here. */
#define PROXY_HEADER_MAX	1024

enum proxy_status {
	PROXY_NEED_MORE,	/* a valid beginning: read more */
	PROXY_OK,		/* *consumed bytes were the header */
	PROXY_ERROR,		/* malformed: close, with *why in the log */
};

struct proxy_info {
	int local;		/* v2 LOCAL / v1 UNKNOWN: no client named
				 * (a health check): keep the real peer */
	int family;		/* of client_addr, AF_INET or AF_INET6 when
				 * !local; an IPv4-mapped IPv6 address is
				 * given as the IPv4 address */
	char client_addr[INET6_ADDRSTRLEN];	/* numeric text */
	unsigned client_port;
	char server_addr[INET6_ADDRSTRLEN];
	unsigned server_port;
};

/* Looks at the first len bytes a connection sent. v2 TLVs are walked
 * (each must lie inside the header) and otherwise ignored. NEED_MORE only while
 * len < PROXY_HEADER_MAX and the bytes so far can still begin a header;
 * on OK, *consumed is the header's length (what follows is SMTP); on
 * ERROR, *why is a static text for the log. */
enum proxy_status proxy_parse(const unsigned char *buf, size_t len,
    struct proxy_info *info, size_t *consumed, const char **why);

#endif
