/* qmgr: the queue manager process. It takes committed messages from the
 * spool, routes each recipient to a next hop, hands the groups to the smtp
 * client pool, records every outcome durably, defers with backoff, returns
 * what cannot be delivered, and removes a message when no recipient is
 * left. One qmgr runs at a time: the supervisor starts a new one only
 * after the old one has exited, so a message in active/ is never worked on
 * twice. */
#ifndef TLSRELAY_QMGR_H
#define TLSRELAY_QMGR_H

#include <stddef.h>

#include "tlsrelay/dns.h"

struct conf;
struct table;
struct tls_client;

/* Runs the queue manager until SIGTERM. tls: the client's TLS state
 * (tls.h: tls_client_new), built before privileges were dropped. Returns
 * the exit status. */
int qmgr_run(const struct conf *conf, struct tls_client *tls);
/* Checks what qmgr_run would refuse (tables, next hops, DNS servers), so
 * that a bad configuration stops start-up or a reload instead of a queue
 * manager that dies at once; the TLS client's settings and files are
 * checked by tls_client_new. Returns 0, or -1 with *err set. */
int qmgr_check_conf(const struct conf *conf, char **err);

/* ---- routing (src/qmgr/qmgr_route.c) ---- */

/* Where one recipient goes. */
struct qmgr_route {
	char *nexthop;		/* the key: "example.com", "[mx.test]:2526" */
	char *host;		/* name to resolve, without brackets/port */
	int with_mx;		/* look up MX records of host */
	unsigned short port;
	char *error;		/* non-NULL: do not deliver; this is why */
	int error_temporary;	/* defer (1) or bounce (0) for error */
	const char *source;	/* what decided: "transport_maps",
				 * "relayhost", "recipient domain" */
};

struct qmgr_router;

/* Reads transport_maps, relayhost, smtp_tcp_port. NULL with *err set when
 * a table cannot be opened or relayhost is malformed. */
struct qmgr_router *qmgr_router_new(const struct conf *conf, char **err);
void qmgr_router_free(struct qmgr_router *router);
/* Routes one recipient: transport_maps (the address, then its domain, then
 * each parent ".domain", then "*"), else relayhost, else the domain's MX.
 * Returns 0, or -1 when a table lookup failed (try again later). */
int qmgr_route(const struct qmgr_router *router, const char *recipient,
    struct qmgr_route *route);
void qmgr_route_clear(struct qmgr_route *route);
/* "smtp", "submission", "smtps" or a number 1-65535. Returns 0 or -1. */
int qmgr_parse_port(const char *service, unsigned short *port);
/* Parses a next hop as Postfix writes it: "[host]:port" (no MX lookup),
 * "host:port", "[host]", "host", "[ipv6:addr]". Returns 0 or -1. */
int qmgr_parse_nexthop(const char *text, unsigned short default_port,
    struct qmgr_route *route);

/* ---- DANE (src/qmgr/qmgr_dane.c) ---- */

/* One MX host's verdict at level dane or dane-only (RFC 7672 2.2,
 * Postfix's rules): tlsa, the usable records to authenticate by; encrypt,
 * secure records but none usable (mandatory TLS); defer, do not try the
 * host, and why; none of them, opportunistic TLS (may). */
struct tls_dane;
struct qmgr_dane_verdict {
	struct tls_dane *tlsa;
	int encrypt;
	char *defer;
};
/* How a target's DNS answers let its TLSA records count at level (RFC
 * 7672 2.2): MX and addresses validated; addresses validated through an
 * insecure MX answer (smtp_tls_dane_insecure_mx_policy decides); or no
 * lookup at all. */
enum qmgr_dane_trust {
	QMGR_DANE_SECURE,
	QMGR_DANE_INSECURE_MX,
	QMGR_DANE_INSECURE,
};
/* smtp_tls_dane_insecure_mx_policy */
enum qmgr_insecure_mx {
	QMGR_INSECURE_MX_MAY,
	QMGR_INSECURE_MX_ENCRYPT,
	QMGR_INSECURE_MX_DANE,
};
enum qmgr_insecure_mx qmgr_dane_insecure_mx_policy(const struct conf *conf);
enum qmgr_dane_trust qmgr_dane_trust(const struct dns_target *t, int level,
    enum qmgr_insecure_mx policy);
/* Decides from the TLSA answer for qname ("_25._tcp.mx.example", the
 * base domain being host) as dns_tlsa_lookup gave it; with trust
 * QMGR_DANE_INSECURE no lookup was made (the answer is then ignored).
 * nexthop: the next-hop domain, the second name of DANE-TA. With log,
 * logs what the answer says as the queue manager does (a caller judging
 * one answer at several levels logs it once). qmgr_dane_verdict_clear
 * frees what it holds. */
void qmgr_dane_decide(struct qmgr_dane_verdict *v, int level,
    enum qmgr_insecure_mx policy, const char *host, const char *qname,
    const char *nexthop, enum qmgr_dane_trust trust, enum dns_status status,
    int secure, const struct dns_tlsa *recs, size_t n, const char *why,
    int log);
void qmgr_dane_verdict_clear(struct qmgr_dane_verdict *v);

/* ---- retry schedule (src/qmgr/qmgr_backoff.c) ---- */

/* Postfix's rule: the next attempt waits as long as the message has been
 * in the queue, clamped to [minimal_backoff_time, maximal_backoff_time]. */
long long qmgr_backoff(long long age, long long min_backoff,
    long long max_backoff);

#endif
