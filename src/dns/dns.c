/* dns: a c-ares channel driven by a libevent loop.
 *
 * c-ares tells us through the socket-state callback which sockets it wants
 * watched and for what; each becomes a persistent libevent event. One timer,
 * re-armed from ares_timeout() after every batch of work, lets c-ares retry
 * and time out queries. The channel's servers are replaced before any query
 * is made, so /etc/resolv.conf's servers are never asked when the
 * configuration names others. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <ares.h>
#include <event2/event.h>

#include "tlsrelay/dns.h"
#include "tlsrelay/log.h"
#include "tlsrelay/util.h"

#include "dns_int.h"

struct dns_sock {
	ares_socket_t fd;
	struct event *ev;
	struct dns_sock *next;
};

void
dns_update_timer(struct dns *dns)
{
	struct timeval tv;

	if (ares_timeout(dns->channel, NULL, &tv) != NULL)
		evtimer_add(dns->timer, &tv);
	else
		evtimer_del(dns->timer);
}

static void
dns_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns *dns = arg;

	(void)fd;
	(void)what;
	ares_process_fd(dns->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	dns_update_timer(dns);
}

static void
dns_sock_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dns *dns = arg;

	ares_process_fd(dns->channel,
	    (what & EV_READ) ? (ares_socket_t)fd : ARES_SOCKET_BAD,
	    (what & EV_WRITE) ? (ares_socket_t)fd : ARES_SOCKET_BAD);
	dns_update_timer(dns);
}

/* c-ares: start, change or stop watching fd. Called from inside
 * ares_process_fd() too, possibly for the very event being handled:
 * libevent allows freeing that one from its own callback. */
static void
dns_sock_state_cb(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dns *dns = data;
	struct dns_sock **pp, *s;
	short what;

	for (pp = &dns->socks; *pp != NULL; pp = &(*pp)->next)
		if ((*pp)->fd == fd)
			break;
	s = *pp;

	if (!readable && !writable) {
		if (s != NULL) {
			*pp = s->next;
			event_free(s->ev);
			free(s);
		}
		return;
	}
	if (s == NULL) {
		s = xcalloc(1, sizeof(*s));
		s->fd = fd;
		s->next = dns->socks;
		dns->socks = s;
	} else
		event_free(s->ev);
	what = EV_PERSIST | (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0);
	s->ev = event_new(dns->base, fd, what, dns_sock_cb, dns);
	if (s->ev == NULL || event_add(s->ev, NULL) != 0)
		msg_fatal("dns: cannot watch resolver socket %d",
		    (int)fd);
}

struct dns *
dns_new(struct event_base *base, const char *servers, int use_dns,
    char **err)
{
	struct ares_options opts;
	struct dns *dns;
	char *csv;
	int status;

	if ((csv = dns_servers_csv(servers, err)) == NULL)
		return NULL;

	status = ares_library_init(ARES_LIB_INIT_ALL);
	if (status != ARES_SUCCESS) {
		*err = xasprintf("cannot initialise c-ares: %s",
		    ares_strerror(status));
		free(csv);
		return NULL;
	}

	dns = xcalloc(1, sizeof(*dns));
	dns->base = base;
	dns->use_dns = use_dns;

	/* NOSEARCH: a next hop is a domain, never a name to complete with
	 * resolv.conf's search list. */
	memset(&opts, 0, sizeof(opts));
	opts.flags = ARES_FLAG_NOSEARCH;
	opts.sock_state_cb = dns_sock_state_cb;
	opts.sock_state_cb_data = dns;
	status = ares_init_options(&dns->channel, &opts,
	    ARES_OPT_FLAGS | ARES_OPT_SOCK_STATE_CB);
	if (status != ARES_SUCCESS) {
		*err = xasprintf("cannot initialise c-ares: %s",
		    ares_strerror(status));
		goto fail_lib;
	}
	if (*csv != '\0') {
		status = ares_set_servers_ports_csv(dns->channel, csv);
		if (status != ARES_SUCCESS) {
			*err = xasprintf("cannot use DNS servers \"%s\": %s",
			    csv, ares_strerror(status));
			goto fail_channel;
		}
	}
	if ((dns->timer = evtimer_new(base, dns_timer_cb, dns)) == NULL) {
		*err = xstrdup("cannot create the resolver timer");
		goto fail_channel;
	}
	free(csv);
	return dns;

fail_channel:
	ares_destroy(dns->channel);
fail_lib:
	ares_library_cleanup();
	free(dns);
	free(csv);
	return NULL;
}

struct event_base *
dns_event_base(const struct dns *dns)
{
	return dns->base;
}

void
dns_free(struct dns *dns)
{
	struct dns_sock *s;

	if (dns == NULL)
		return;
	/* ares_destroy() ends every pending query with ARES_EDESTRUCTION:
	 * dns_nexthop turns that into DNS_TEMPFAIL for its callers, and c-ares
	 * reports each socket closed through dns_sock_state_cb. */
	dns->destroying = 1;
	ares_destroy(dns->channel);
	while ((s = dns->socks) != NULL) {
		dns->socks = s->next;
		event_free(s->ev);
		free(s);
	}
	event_free(dns->timer);
	ares_library_cleanup();
	free(dns);
}
