/* dns: a c-ares channel driven by a libevent loop.
 *
 * c-ares tells us through the socket-state callback which sockets it wants
 * watched and for what; each becomes a persistent libevent event. One timer,
 * re-armed from ares_timeout() after every batch of work, lets c-ares retry
 * and time out queries. The channel's servers are replaced before any query
 * is made, so /etc/resolv.conf's servers are never asked when the
 * configuration names others. */
#include "config.h"

#include <arpa/nameser.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

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

/* ---- questions ------------------------------------------------------- */

unsigned int
dns_random(void)
{
	static unsigned int state;
	unsigned int r;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) == (ssize_t)sizeof(r))
		return r;
	/* No entropy yet (early boot): a weak shuffle is still a shuffle. */
	if (state == 0)
		state = (unsigned int)time(NULL) | 1;
	state ^= state << 13;
	state ^= state >> 17;
	state ^= state << 5;
	return state;
}

struct dns_send {
	ares_callback cb;
	void *arg;
};

/* The RCODE and answer count into ares_query()'s statuses. */
static int
answer_status(const unsigned char *abuf, int alen)
{
	if (abuf == NULL || alen < HFIXEDSZ)
		return ARES_EBADRESP;
	switch (abuf[3] & 0x0f) {
	case NOERROR:
		return (abuf[6] << 8 | abuf[7]) == 0 ? ARES_ENODATA :
		    ARES_SUCCESS;
	case FORMERR:
		return ARES_EFORMERR;
	case SERVFAIL:
		return ARES_ESERVFAIL;
	case NXDOMAIN:
		return ARES_ENOTFOUND;
	case NOTIMP:
		return ARES_ENOTIMP;
	case REFUSED:
		return ARES_EREFUSED;
	default:
		return ARES_EBADRESP;
	}
}

static void
send_cb(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct dns_send *send = arg;

	if (status == ARES_SUCCESS)
		status = answer_status(abuf, alen);
	send->cb(send->arg, status, timeouts, abuf, alen);
	free(send);
}

void
dns_query(struct dns *dns, const char *name, int type, ares_callback cb,
    void *arg)
{
	struct dns_send *send;
	unsigned char *buf;
	int len, status;

	if (!dns->dnssec) {
		ares_query(dns->channel, name, C_IN, type, cb, arg);
		return;
	}
	/* c-ares 1.18 has no flag for AD: set it in the header by hand.
	 * ares_send() puts our ID on the wire, so make it unguessable. */
	status = ares_create_query(name, C_IN, type,
	    (unsigned short)dns_random(), 1, &buf, &len, 0);
	if (status != ARES_SUCCESS) {
		cb(arg, status, 0, NULL, 0);
		return;
	}
	buf[3] |= 0x20;
	send = xcalloc(1, sizeof(*send));
	send->cb = cb;
	send->arg = arg;
	ares_send(dns->channel, buf, len, send_cb, send);
	ares_free_string(buf);
}

int
dns_answer_secure(const struct dns *dns, const unsigned char *abuf, int alen)
{
	return dns->dnssec && abuf != NULL && alen >= HFIXEDSZ &&
	    (abuf[3] & 0x20) != 0;
}

int
dns_dnssec(const struct dns *dns)
{
	return dns->dnssec;
}

/* ---- the channel ------------------------------------------------------ */

struct dns *
dns_new(struct event_base *base, const char *servers, int level,
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
	dns->use_dns = level != DNS_LEVEL_DISABLED;
	dns->dnssec = level == DNS_LEVEL_DNSSEC;

	/* NOSEARCH: a next hop is a domain, never a name to complete with
	 * resolv.conf's search list. NOCHECKRESP with DNSSEC: a SERVFAIL
	 * (a bogus answer at a validating resolver) reaches dns_query's
	 * callback as such, not as a dead server. */
	memset(&opts, 0, sizeof(opts));
	opts.flags = ARES_FLAG_NOSEARCH |
	    (dns->dnssec ? ARES_FLAG_NOCHECKRESP : 0);
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
