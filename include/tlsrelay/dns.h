/* dns: c-ares driven from a libevent loop. Nothing here blocks, and every
 * query goes to the servers the configuration names (tlsrelay_dns_servers)
 * or, when that is empty, to those of /etc/resolv.conf -- never anywhere
 * else. With DNS disabled (smtp_dns_support_level = disabled) names come
 * from /etc/hosts only and no packet is sent. */
#ifndef TLSRELAY_DNS_H
#define TLSRELAY_DNS_H

#include <stddef.h>
#include <sys/socket.h>

struct event_base;
struct dns;

/* smtp_dns_support_level, as dns_new() takes it. */
#define DNS_LEVEL_DISABLED	0	/* /etc/hosts only, no packet */
#define DNS_LEVEL_ENABLED	1
#define DNS_LEVEL_DNSSEC	2	/* queries ask for the AD bit */

/* servers: a list of ip[:port] ("127.0.0.1:5353, [::1]:53"), or "" for
 * /etc/resolv.conf. level: DNS_LEVEL_*. At DNS_LEVEL_DNSSEC every query
 * carries the AD bit (RFC 6840 5.7) and the AD bit of each answer is
 * believed: the servers must be a validating resolver on this host (or
 * one reached over a path as trusted as loopback). Returns NULL with *err
 * set (caller frees). */
struct dns *dns_new(struct event_base *base, const char *servers, int level,
    char **err);
/* Pending callbacks are called with DNS_TEMPFAIL before this returns.
 * Not to be called from inside a dns_targets_cb. */
void dns_free(struct dns *dns);

/* The loop the resolver runs in (for its users' own timers). */
struct event_base *dns_event_base(const struct dns *dns);

/* smtp_dns_support_level into dns_new()'s level: "" and "enabled" ->
 * DNS_LEVEL_ENABLED, "disabled" -> DNS_LEVEL_DISABLED, "dnssec" ->
 * DNS_LEVEL_DNSSEC. Anything else: -1 with *err set (caller frees). */
int dns_support_level(const char *level, char **err);
/* 1 when the resolver's answers carry a DNSSEC status (DNS_LEVEL_DNSSEC). */
int dns_dnssec(const struct dns *dns);

/* Does the resolver validate? Asks name's SOA with the AD bit (the dns
 * must be at DNS_LEVEL_DNSSEC): validated is 1 when the answer came with
 * AD set (the resolver validates, and name is signed under its trust
 * anchors: "." for a resolver with the root's), 0 when it came without,
 * -1 with why when no usable answer came. The callback runs exactly
 * once, possibly before this returns. */
typedef void (*dns_probe_cb)(void *arg, int validated, const char *why);
void dns_dnssec_probe(struct dns *dns, const char *name, dns_probe_cb cb,
    void *arg);

enum dns_status {
	DNS_OK,
	DNS_NOTFOUND,	/* NXDOMAIN, or no address at all: permanent */
	DNS_TEMPFAIL,	/* SERVFAIL, timeout, refused: try again later */
	DNS_NULLMX,	/* RFC 7505: the domain accepts no mail */
};

/* Address families to use: inet_protocols. */
#define DNS_FAMILY_INET		1
#define DNS_FAMILY_INET6	2
/* inet_protocols ("all", "ipv4", "ipv4, ipv6", ...) as DNS_FAMILY_*
 * bits; IPv4 alone when it names neither. */
int dns_families(const char *inet_protocols);

/* One address to try, in order. */
struct dns_target {
	char *hostname;		/* the MX host (or the next hop itself) */
	int preference;		/* MX preference; 0 without MX */
	struct sockaddr_storage addr;	/* with the port set */
	socklen_t addrlen;
	/* DNS_LEVEL_DNSSEC: 1 when the MX answer (if there was an MX
	 * lookup) and this address's answer were both validated (AD),
	 * RFC 7672 2.2's condition for a TLSA lookup; else 0. */
	int dnssec_valid;
	/* This address's answer was validated (AD), whatever the MX
	 * answer was: with an insecure MX answer,
	 * smtp_tls_dane_insecure_mx_policy decides on a TLSA lookup. */
	int addr_dnssec_valid;
};

/* The port of t; and its address as numeric text into addr (46 bytes
 * hold an IPv6 address) with the port returned: host[addr]:port of logs. */
unsigned dns_target_port(const struct dns_target *t);
unsigned dns_target_address(const struct dns_target *t, char *addr,
    size_t len);

/* why: a Postfix-style reason for failures, e.g. "Host or domain name not
 * found. Name service error for name=example.test type=MX: Host not
 * found", NULL on DNS_OK. targets are valid only during the call. */
typedef void (*dns_targets_cb)(void *arg, enum dns_status status,
    const struct dns_target *targets, size_t n, const char *why);

/* Resolves a next hop into the addresses to try, in order (RFC 5321 5.1).
 * with_mx: look up the MX records of name, sorted by preference with equal
 * preferences shuffled, each host's addresses in turn; no MX records (the
 * name exists) means the name itself is the only host (implicit MX); a
 * single MX with preference 0 and root target "." is a null MX. Without
 * with_mx: the addresses of name only. At most max_addresses targets
 * (smtp_mx_address_limit; 0 = no limit). The callback is always called
 * exactly once, possibly before this function returns.
 * families: DNS_FAMILY_* bits (0 = both); of each host, IPv4 addresses
 * come before IPv6 ones, and an address reached through two MX hosts is
 * listed once. name may be an address ("192.0.2.1", "[2001:db8::1]"):
 * no lookup then. With use_dns = 0 there is no MX lookup whatever with_mx
 * says, and names come from /etc/hosts. */
void dns_resolve_nexthop(struct dns *dns, const char *name, int with_mx,
    int families, unsigned short port, size_t max_addresses,
    dns_targets_cb cb, void *arg);

/* Sorting, exposed for unit tests: by preference ascending, entries of
 * equal preference shuffled with rnd() (which returns 0..UINT_MAX). */
struct dns_mx {
	char *host;
	int preference;
};
void dns_mx_sort(struct dns_mx *mx, size_t n, unsigned int (*rnd)(void));

/* Parses "ip", "ip:port", "[ipv6]:port" lists into the CSV form c-ares
 * wants ("127.0.0.1:5353,[::1]:53"). Returns NULL with *err set. */
char *dns_servers_csv(const char *servers, char **err);
/* The servers the resolver asks, as text ("127.0.0.1, [::1]:5353"; the
 * port only when it is not 53). *on_host: 1 when every one is on this
 * host (127.0.0.0/8, ::1), the only place a believed AD bit is safe
 * from the network. Caller frees. */
char *dns_servers_describe(const struct dns *dns, int *on_host);

/* One question, the answer as text: the generic lookups the SMTP server's
 * restrictions and its client name need (dns_lookup.c). */
#define DNS_TYPE_A	1
#define DNS_TYPE_PTR	12
#define DNS_TYPE_MX	15
#define DNS_TYPE_TXT	16
#define DNS_TYPE_AAAA	28
#define DNS_TYPE_TLSA	52

/* ---- TLSA (RFC 6698) for DANE (RFC 7672): dns_tlsa.c ---- */

struct dns_tlsa {
	unsigned char usage;	/* 0..3: RFC 7672 uses only 2 and 3 */
	unsigned char selector;	/* 0 full certificate, 1 SPKI */
	unsigned char mtype;	/* 0 exact, 1 SHA-256, 2 SHA-512 */
	unsigned char *data;
	size_t len;
};

/* The TLSA records of the answer section of abuf (any owner: the
 * validating resolver has followed CNAMEs), bounds-checked; other types
 * are skipped. *ttl: the smallest TTL of them. Returns ARES_SUCCESS (with
 * *n possibly 0; free with dns_tlsa_free), or ARES_EBADRESP for a
 * malformed message (nothing to free). At most DNS_TLSA_MAX records are
 * kept. */
#define DNS_TLSA_MAX	64
int dns_tlsa_parse(const unsigned char *abuf, int alen,
    struct dns_tlsa **records, size_t *n, unsigned int *ttl);
void dns_tlsa_free(struct dns_tlsa *records, size_t n);

/* The bounds of the time a denial is kept, whatever the negative TTL of
 * its SOA says (and when it comes without one). */
#define DNS_NEGATIVE_TTL_MIN	60
#define DNS_NEGATIVE_TTL_MAX	3600

/* status: DNS_OK with n > 0; DNS_NOTFOUND for NXDOMAIN or NODATA;
 * DNS_TEMPFAIL for anything else (SERVFAIL: a bogus answer at a
 * validating resolver; a timeout; a malformed answer), with why.
 * secure: the answer (records or denial) was validated (AD). ttl: how
 * long the answer may be kept: the smallest TTL of the records, or for
 * a denial its negative TTL (dns_answer_ttl) bounded to
 * DNS_NEGATIVE_TTL_MIN .. DNS_NEGATIVE_TTL_MAX. records are valid
 * during the call only. */
typedef void (*dns_tlsa_cb)(void *arg, enum dns_status status, int secure,
    const struct dns_tlsa *records, size_t n, unsigned int ttl,
    const char *why);

/* Looks up _PORT._tcp.HOST TLSA. The callback runs exactly once, possibly
 * before this returns; a shutting-down or DNS-less resolver answers
 * DNS_TEMPFAIL. */
void dns_tlsa_lookup(struct dns *dns, const char *host, unsigned port,
    dns_tlsa_cb cb, void *arg);

/* How long the answer in abuf (a whole DNS message) may be kept: with
 * records of type in the answer section (any owner), the smallest of
 * their TTLs; without, the negative TTL of RFC 2308 5 (the smaller of
 * the TTL and the MINIMUM of the SOA in the authority section). Returns
 * 1 with *ttl, or 0 (*ttl = 0) when the message says neither or is
 * malformed. */
int dns_answer_ttl(const unsigned char *abuf, int alen, int type,
    unsigned int *ttl);

struct dns_lookup;

/* records: A and AAAA as printable addresses, PTR and MX as host names
 * (MX in the server's order), TXT one string per record (its character
 * strings joined); valid only during the call. status: DNS_OK with n > 0;
 * DNS_NOTFOUND for NXDOMAIN or no record of the type; DNS_NULLMX for an
 * MX answer of nothing but "." (RFC 7505); DNS_TEMPFAIL otherwise, with
 * why the c-ares reason. ttl: how long the answer may be kept
 * (dns_answer_ttl: for DNS_NOTFOUND the negative TTL), 0 when the answer
 * does not say (and for DNS_TEMPFAIL). */
typedef void (*dns_lookup_cb)(void *arg, enum dns_status status,
    char *const *records, size_t n, unsigned int ttl, const char *why);

/* Asks the question. The callback runs exactly once unless the lookup is
 * cancelled first; it may run before this returns, and then the return
 * value is NULL. With use_dns = 0 the answer is DNS_TEMPFAIL at once. */
struct dns_lookup *dns_lookup(struct dns *dns, const char *name, int type,
    dns_lookup_cb cb, void *arg);
/* The callback will not run; the query itself ends inside c-ares. */
void dns_lookup_cancel(struct dns_lookup *lk);

/* The query name of an address under a suffix: "2.0.0.127" + "bl.test"
 * -> "2.0.0.127.bl.test"; IPv6 as 32 nibbles, least significant first
 * (RFC 3596); suffix "in-addr.arpa" / "ip6.arpa" for PTR (use
 * dns_reverse_name_ptr). NULL when addr is no IPv4 or IPv6 address. */
char *dns_reverse_name(const char *addr, const char *suffix);
/* The PTR name of an address: in-addr.arpa or ip6.arpa as fits. */
char *dns_reverse_name_ptr(const char *addr);

#endif
