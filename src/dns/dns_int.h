/* dns_int: what the files of the dns subsystem share and nobody else sees. */
#ifndef TLSRELAY_DNS_INT_H
#define TLSRELAY_DNS_INT_H

#include <ares.h>

struct event;
struct event_base;
struct dns_sock;

struct dns {
	struct event_base *base;
	ares_channel channel;
	int use_dns;		/* 0: /etc/hosts only, no packet ever */
	int destroying;		/* inside dns_free(): start nothing new */
	struct event *timer;	/* fires at ares_timeout() */
	struct dns_sock *socks;	/* c-ares sockets watched by libevent */
};

/* Re-arms the timer after anything that may have added or finished a
 * query: call after each batch of ares_query() calls. */
void dns_update_timer(struct dns *dns);

#endif
