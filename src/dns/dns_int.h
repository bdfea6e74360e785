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
	int dnssec;		/* ask for and believe the AD bit */
	int destroying;		/* inside dns_free(): start nothing new */
	struct event *timer;	/* fires at ares_timeout() */
	struct dns_sock *socks;	/* c-ares sockets watched by libevent */
};

/* Re-arms the timer after anything that may have added or finished a
 * query: call after each batch of ares_query() calls. */
void dns_update_timer(struct dns *dns);

/* Sends one question (instead of ares_query): with dns->dnssec the
 * query carries the AD bit and a fresh random ID, and the callback gets
 * the answer whatever its RCODE, with the status ares_query would give
 * (ARES_ENODATA, ARES_ENOTFOUND, ARES_ESERVFAIL, ...) and the buffer,
 * so that a SERVFAIL (bogus) is told from a dead server and a denial's
 * AD bit can be read. */
void dns_query(struct dns *dns, const char *name, int type,
    ares_callback cb, void *arg);
/* 1 when abuf is an answer with the AD bit set (and dns->dnssec). */
int dns_answer_secure(const struct dns *dns, const unsigned char *abuf,
    int alen);
/* A random number (getrandom; a weak fallback before entropy). */
unsigned int dns_random(void);

/* Big-endian fields of a DNS message. */
static inline unsigned int
dns_get16(const unsigned char *p)
{
	return (unsigned int)p[0] << 8 | p[1];
}

static inline unsigned int
dns_get32(const unsigned char *p)
{
	return (unsigned int)p[0] << 24 | (unsigned int)p[1] << 16 |
	    (unsigned int)p[2] << 8 | p[3];
}

/* RFC 2181 8: a TTL with the top bit set is zero. */
static inline unsigned int
dns_ttl_value(unsigned int ttl)
{
	return ttl > 0x7fffffffU ? 0 : ttl;
}

/* dns_rr.c: the name (compressed or not) at *p inside abuf is skipped;
 * -1 when malformed. */
int dns_skip_name(const unsigned char *abuf, int alen,
    const unsigned char **p);

/* dns_rr.c: the records of a message, in order, bounds-checked. */
enum dns_section {
	DNS_SECTION_ANSWER,
	DNS_SECTION_AUTHORITY,
};
struct dns_rr {
	enum dns_section section;
	unsigned int type;
	unsigned int class;
	unsigned int ttl;		/* dns_ttl_value applied */
	const unsigned char *rdata;	/* rdlen bytes, inside the message */
	unsigned int rdlen;
};
struct dns_rr_walk {
	const unsigned char *abuf, *end, *p;
	int alen;
	unsigned int ancount;	/* records of the answer section */
	unsigned int count;	/* records to walk */
	unsigned int next;	/* records walked */
};
/* Skips the header and the question of abuf and sets up a walk of its
 * records up to the end of section last: 0, or -1 when malformed. */
int dns_rr_walk_start(struct dns_rr_walk *w, const unsigned char *abuf,
    int alen, enum dns_section last);
/* The next record: 1 with *rr, 0 after the last, -1 when malformed. */
int dns_rr_next(struct dns_rr_walk *w, struct dns_rr *rr);

/* dns_answer.c: the next-hop answers, judged (and fuzzed) apart from the
 * callbacks. */
struct dns_mx;
enum mx_verdict {
	MX_VERDICT_HOSTS,	/* *mx: n hosts, sorted (dns_mx_sort) */
	MX_VERDICT_IMPLICIT,	/* no MX: the name itself, preference 0 */
	MX_VERDICT_NULL,	/* RFC 7505 */
	MX_VERDICT_ERROR,	/* *status: c-ares's reason */
};
/* The MX answer in abuf. HOSTS: free *mx with dns_mx_list_free. */
enum mx_verdict dns_mx_answer(const unsigned char *abuf, int alen,
    unsigned int (*rnd)(void), struct dns_mx **mx, size_t *n, int *status);
void dns_mx_list_free(struct dns_mx *mx, size_t n);
/* The A (family AF_INET) or AAAA answer in abuf: add(arg, bytes) for each
 * address. Returns c-ares's status. */
int dns_addr_answer(int family, const unsigned char *abuf, int alen,
    void (*add)(void *arg, const void *bytes), void *arg);

#endif
