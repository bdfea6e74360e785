/* tlsrelay tls-finger: what TLS a destination offers and what the relay
 * would make of it, in the spirit of Postfix's posttls-finger(1).
 *
 *	tlsrelay tls-finger [-c confdir] [-l level] [-m count]
 *	    [-P CAfile|CApath] [-v] [-w timeout] destination
 *
 * destination is a domain, routed as the queue manager routes a
 * recipient in it (transport_maps, relayhost, else its MX hosts), or a
 * next hop as given: "[host]:port" and "[host]" without MX lookup,
 * "host:port" with it. Addresses come from c-ares with
 * tlsrelay_dns_servers, as the relay's. Each of the first count
 * addresses gets an SMTP session through the relay's connection layer:
 * greeting, EHLO, STARTTLS, the chain and fingerprints, then the verdict
 * of every level, judged by the relay's own checks
 * (tls_client_check_peer) on that handshake, and a second connection
 * that offers the first one's session, filed and looked up as the
 * relay's client session cache does it (in a private copy of the cache:
 * the relay's own is never touched). dane and dane-only are judged as
 * the queue manager judges them, on the host's TLSA records and, when
 * they are usable, on one more handshake made with them (finger_dane.c).
 * No mail is sent.
 *
 * The level in force comes from smtp_tls_policy_maps (the table and key
 * are named) or main.cf, or from -l. Exit status: 0 when it would
 * deliver, 1 when it would defer (or return the mail), 2 on a usage or
 * configuration error. */
#include "config.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/dns.h"
#include "tlsrelay/log.h"
#include "tlsrelay/qmgr.h"
#include "tlsrelay/tls.h"
#include "tlsrelay/tls_client.h"
#include "tlsrelay/util.h"

#include "cli.h"
#include "finger.h"

#define EXIT_DELIVER	0
#define EXIT_DEFER	1
#define EXIT_USAGE	2

/* The levels in the order they are shown. */
static const int levels[] = {
	TLS_LEV_NONE, TLS_LEV_MAY, TLS_LEV_ENCRYPT, TLS_LEV_FPRINT,
	TLS_LEV_VERIFY, TLS_LEV_SECURE, TLS_LEV_DANE, TLS_LEV_DANE_ONLY,
};
#define N_LEVELS	(sizeof(levels) / sizeof(levels[0]))
#define MAX_LEVEL	TLS_LEV_SECURE

struct verdict {
	int deliver;
	char *text;		/* "would deliver (...)", "would defer: ..." */
};

struct finger {
	const struct conf *conf;	/* with the command's overrides */
	struct tls_client *tls;
	struct tls_policy *policy;	/* in force */
	char *policy_source;		/* why it is in force */
	/* Every level's policy for this next hop: the one in force, main.cf
	 * for the others (NULL for none and the DANE levels). */
	struct tls_policy *level_policy[MAX_LEVEL + 1];
	const struct tls_policy *hs_policy;	/* the handshake's */
	SSL_CTX *ssl_ctx;
	/* dane and dane-only: the policy in force at either, else main.cf's
	 * dane; one handshake judges both. */
	struct tls_policy *dane_policy;
	SSL_CTX *dane_ctx;
	struct dns *dns;
	const char *nexthop;
	const char *nexthop_domain;	/* the routed host, DANE-TA's name */
	const char *digest;
	int loglevel;
	int verbose;
	/* The address being probed. */
	const char *hostname;
	const char *peer;
	struct verdict verdict[MAX_LEVEL + 1];
};

static int
usage(void)
{
	fprintf(stderr, "usage: tlsrelay tls-finger [-c confdir] [-l level] "
	    "[-m count] [-P CAfile|CApath] [-v] [-w timeout] "
	    "domain|[host]:port|host:port\n");
	return EXIT_USAGE;
}

/* Lines the relay's code logs while a level that is not in force is
 * judged would only confuse: they go nowhere unless -v. */
static void
log_mute(const struct finger *f, int mute)
{
	char *err = NULL;

	if (f->verbose)
		return;
	if (log_open(mute ? "/dev/null" : "", 1, "mail", &err) != 0)
		free(err);
}

static void
verdict_set(struct verdict *v, int deliver, char *text)
{
	free(v->text);
	v->deliver = deliver;
	v->text = text;
}

static void
verdicts_clear(struct finger *f)
{
	for (size_t i = 0; i <= MAX_LEVEL; i++)
		verdict_set(&f->verdict[i], 0, NULL);
}

/* A policy that cannot be used defers, whatever the server does. */
static void
verdict_unusable(struct verdict *v, const struct tls_policy *p)
{
	verdict_set(v, 0, xasprintf("would defer: %s%s", p->error,
	    p->level == TLS_LEV_FPRINT && p->n_match == 0 ?
	    " (no fingerprints to match: smtp_tls_fingerprint_cert_match "
	    "is empty)" : ""));
}

/* "hostname, nexthop" with what each stands for here. */
static char *
match_text(const struct finger *f, const struct tls_policy *p)
{
	struct strbuf sb;

	strbuf_init(&sb);
	strbuf_puts(&sb, "");
	for (size_t i = 0; i < p->n_match; i++) {
		const char *m = p->match[i];

		strbuf_printf(&sb, "%s%s", i ? ", " : "", m);
		if (strcmp(m, "hostname") == 0)
			strbuf_printf(&sb, "=%s", f->hostname);
		else if (strcmp(m, "nexthop") == 0 ||
		    strcmp(m, "dot-nexthop") == 0)
			strbuf_printf(&sb, "=%s%s", m[0] == 'd' ? "." : "",
			    p->nexthop_name ? p->nexthop_name : "");
	}
	return strbuf_steal(&sb);
}

/* One level on an established session, by the relay's own checks. */
static void
judge_tls(struct finger *f, SSL *ssl, int level)
{
	const struct tls_policy *p = f->level_policy[level];
	X509 *cert = SSL_get0_peer_certificate(ssl);
	struct tls_info info;
	char *reason = NULL, *matched = NULL, *names;
	int in_force = level == f->policy->level, rc;

	if (p->error != NULL) {
		verdict_unusable(&f->verdict[level], p);
		return;
	}
	log_mute(f, !in_force);
	rc = tls_client_check_peer(ssl, p, f->hostname, f->peer,
	    in_force ? f->loglevel : 0, &reason);
	log_mute(f, 0);
	tls_info_get(ssl, &info);
	if (level == TLS_LEV_FPRINT) {
		verdict_set(&f->verdict[level], rc == 0, rc == 0 ?
		    xasprintf("would deliver (Verified: a configured %s "
		    "fingerprint matches)", p->digest) :
		    xasprintf("would defer: %s (%zu %s fingerprint(s) "
		    "configured, none matches)", reason, p->n_match,
		    p->digest));
	} else if (level == TLS_LEV_VERIFY || level == TLS_LEV_SECURE) {
		names = match_text(f, p);
		if (rc == 0 && cert != NULL)
			(void)tls_verify_name(cert, p->match, p->n_match,
			    f->hostname, p->nexthop_name, &matched);
		verdict_set(&f->verdict[level], rc == 0, rc == 0 ?
		    xasprintf("would deliver (Verified: certificate name %s "
		    "matches; match: %s)", matched ? matched : "?", names) :
		    xasprintf("would defer: %s (match: %s)", reason, names));
		free(names);
		free(matched);
	} else {
		verdict_set(&f->verdict[level], rc == 0, rc == 0 ?
		    xasprintf("would deliver (%s TLS)", cert == NULL ?
		    "Anonymous" : info.peer_trusted ? "Trusted" :
		    "Untrusted") : xasprintf("would defer: %s", reason));
	}
	free(reason);
}

/* The handshake is done: show the session and judge every level while
 * it lives. */
static void
on_tls(SSL *ssl, void *arg)
{
	struct finger *f = arg;

	finger_show_session(ssl, f->digest);
	for (int level = TLS_LEV_MAY; level <= MAX_LEVEL; level++)
		if (f->level_policy[level] != NULL)
			judge_tls(f, ssl, level);
}

/* The levels a session that never reached TLS leaves. */
static void
judge_without_tls(struct finger *f, const struct finger_probe *p)
{
	const char *plain = NULL;

	switch (p->stage) {
	case FINGER_NO_STARTTLS:
		plain = "plaintext: STARTTLS not offered";
		break;
	case FINGER_STARTTLS_REFUSED:
		plain = "plaintext: STARTTLS refused";
		break;
	case FINGER_TLS_FAILED:
		plain = "plaintext, on a new connection after the failed "
		    "handshake";
		break;
	default:
		break;
	}
	for (int level = TLS_LEV_MAY; level <= MAX_LEVEL; level++) {
		if (f->level_policy[level] == NULL)
			continue;
		if (f->level_policy[level]->error != NULL)
			verdict_unusable(&f->verdict[level],
			    f->level_policy[level]);
		else if (f->ssl_ctx == NULL)
			/* OpenSSL refused the settings (logged): the relay
			 * defers rather than go without TLS. */
			verdict_set(&f->verdict[level], 0, xstrdup("would "
			    "defer: " TLS_POLICY_PROBLEM));
		else if (level == TLS_LEV_MAY && plain != NULL)
			verdict_set(&f->verdict[level], 1, xasprintf("would "
			    "deliver (%s)", plain));
		else
			verdict_set(&f->verdict[level], 0, xasprintf("would "
			    "defer: %s", p->why ? p->why : "no TLS"));
	}
	if (p->stage <= FINGER_NO_SMTP)
		verdict_set(&f->verdict[TLS_LEV_NONE], 0, xasprintf("would "
		    "defer: %s", p->why ? p->why : "no SMTP session"));
}

static void
print_verdicts(struct finger *f, const struct finger_probe *p)
{
	if (p->stage > FINGER_NO_SMTP)
		verdict_set(&f->verdict[TLS_LEV_NONE], 1, xstrdup("would "
		    "deliver (plaintext: no STARTTLS at level none)"));
	for (size_t i = 0; i < N_LEVELS; i++) {
		int level = levels[i];

		printf("  %-11s %s%s\n", tls_level_name(level),
		    f->verdict[level].text ? f->verdict[level].text : "?",
		    level == f->policy->level && f->policy->error == NULL ?
		    "   <- in force" : "");
	}
}

static int
is_dane_level(int level)
{
	return level == TLS_LEV_DANE || level == TLS_LEV_DANE_ONLY;
}

/* dane and dane-only, as the queue manager and the client decide: with
 * usable TLSA records by the handshake made with them, else as the level
 * they fall back to (encrypt, may) or deferred. */
static void
judge_dane(struct finger *f, struct event_base *base,
    const struct dns_target *t, const struct finger_probe *p)
{
	struct finger_dane_in in;
	struct finger_dane fd;
	int in_force = is_dane_level(f->policy->level);

	memset(&in, 0, sizeof(in));
	in.dns = dns_dnssec(f->dns) ? f->dns : NULL;
	in.dns_level = conf_str(f->conf, P_smtp_dns_support_level);
	in.insecure_mx = qmgr_dane_insecure_mx_policy(f->conf);
	in.nexthop_domain = f->nexthop_domain;
	in.policy = f->dane_policy;
	in.ssl_ctx = f->dane_ctx;
	/* -v: the matched record and the chain's errors in the log too. */
	in.loglevel = f->verbose ? (f->loglevel > 2 ? f->loglevel : 2) :
	    in_force ? f->loglevel : 0;
	log_mute(f, !in_force);
	finger_dane_run(&fd, base, t, p, &in);
	log_mute(f, 0);
	for (int i = 0; i < 2; i++) {
		int level = i == 0 ? TLS_LEV_DANE : TLS_LEV_DANE_ONLY;
		const struct qmgr_dane_verdict *v = &fd.v[i];
		const struct verdict *as;

		if (f->dane_policy->error != NULL)
			verdict_unusable(&f->verdict[level], f->dane_policy);
		else if (v->defer != NULL)
			verdict_set(&f->verdict[level], 0, xasprintf("would "
			    "defer: %s", v->defer));
		else if (v->tlsa != NULL)
			verdict_set(&f->verdict[level], fd.verified,
			    xasprintf(fd.verified ? "would deliver (%s)" :
			    "would defer: %s", fd.result));
		else {
			as = &f->verdict[v->encrypt ? TLS_LEV_ENCRYPT :
			    TLS_LEV_MAY];
			verdict_set(&f->verdict[level], as->deliver,
			    xasprintf("%s; as %s: %s", as->text ? as->text :
			    "?", v->encrypt ? "encrypt" : "may", v->encrypt ?
			    "all TLSA records are unusable" :
			    "no DNSSEC-validated TLSA records"));
		}
	}
	finger_dane_clear(&fd);
}

/* The second connection: would the relay resume? */
static void
print_resumption(struct finger *f, struct event_base *base,
    const struct dns_target *t, const struct finger_probe *first,
    const char *cache)
{
	struct finger_probe p = *first;

	if (cache == NULL || *cache == '\0') {
		printf("session resumption: no: "
		    "smtp_tls_session_cache_database is empty, the relay "
		    "keeps no client sessions\n");
		return;
	}
	p.chat = 0;
	p.tls_done = NULL;
	p.why = NULL;
	finger_probe_run(base, t, &p);
	if (p.stage != FINGER_TLS)
		printf("session resumption: unknown: the second connection "
		    "did not reach TLS: %s\n", p.why ? p.why : "?");
	else if (p.resumed)
		printf("session resumption: yes: the second connection "
		    "offered the first one's session and %s resumed it "
		    "(%s, %s)\n", f->peer, p.protocol, p.ticket ?
		    "session ticket" : "session ID");
	else if (p.session_offered)
		printf("session resumption: no: the second connection offered "
		    "the first one's session, %s made a full handshake\n",
		    f->peer);
	else
		printf("session resumption: no: %s left no session to offer "
		    "(no ticket or session ID)\n", f->peer);
	finger_probe_clear(&p);
}

/* The addresses of the next hop, as the queue manager resolves them. */
struct resolved {
	int done;
	enum dns_status status;
	char *why;
	struct dns_target *targets;
	size_t n;
};

static void
resolved_cb(void *arg, enum dns_status status,
    const struct dns_target *targets, size_t n, const char *why)
{
	struct resolved *r = arg;

	r->done = 1;
	r->status = status;
	r->why = why ? xstrdup(why) : NULL;
	r->targets = xcalloc(n ? n : 1, sizeof(*targets));
	for (size_t i = 0; i < n; i++) {
		r->targets[i] = targets[i];
		r->targets[i].hostname = xstrdup(targets[i].hostname);
	}
	r->n = n;
}

/* The resolver stays in *dnsp for the TLSA lookups. */
static int
resolve(const struct conf *conf, struct event_base *base,
    const struct qmgr_route *route, struct resolved *r, struct dns **dnsp)
{
	char *err = NULL;
	struct dns *dns;
	int use_dns;

	memset(r, 0, sizeof(*r));
	if ((use_dns = dns_support_level(conf_str(conf,
	    P_smtp_dns_support_level), &err)) < 0 ||
	    (dns = dns_new(base, conf_str(conf, P_tlsrelay_dns_servers),
	    use_dns, &err)) == NULL) {
		fprintf(stderr, "tlsrelay tls-finger: %s\n", err);
		free(err);
		return -1;
	}
	dns_resolve_nexthop(dns, route->host, route->with_mx,
	    dns_families(conf_str(conf, P_inet_protocols)), route->port,
	    (size_t)conf_int(conf, P_smtp_mx_address_limit), resolved_cb, r);
	while (!r->done)
		event_base_loop(base, EVLOOP_ONCE);
	*dnsp = dns;
	return 0;
}

static void
resolved_free(struct resolved *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->targets[i].hostname);
	free(r->targets);
	free(r->why);
}

/* "host[addr]:port" */
static char *
target_peer(const struct dns_target *t)
{
	char addr[INET6_ADDRSTRLEN];
	unsigned port = dns_target_address(t, addr, sizeof(addr));

	return xasprintf("%s[%s]:%u", t->hostname, addr, port);
}

/* ---- set-up ------------------------------------------------------------ */

/* The configuration as the queue manager reads it (main.cf), with what
 * the command changes: -P for the CAs, and the client session cache
 * moved into a private directory, so that the relay's own cache is
 * neither read nor written while its semantics are kept. */
static struct conf *
finger_conf(const struct conf *conf, const char *ca, const char *tmpdir,
    char **err)
{
	struct master_service svc;
	struct conf_override ov[3];
	struct stat st;
	size_t n = 0;

	memset(&svc, 0, sizeof(svc));
	memset(ov, 0, sizeof(ov));
	if (ca != NULL) {
		ov[n].name = stat(ca, &st) == 0 && S_ISDIR(st.st_mode) ?
		    "smtp_tls_CApath" : "smtp_tls_CAfile";
		ov[n++].value = (char *)ca;
	}
	ov[n].name = "data_directory";
	ov[n++].value = (char *)tmpdir;
	if (*conf_str(conf, P_smtp_tls_session_cache_database) != '\0') {
		ov[n].name = "smtp_tls_session_cache_database";
		ov[n++].value = "btree:${data_directory}/smtp_scache";
	}
	svc.name = "tls-finger";
	svc.file = "tlsrelay tls-finger";
	svc.overrides = ov;
	svc.n_overrides = n;
	return conf_for_service(conf, &svc, err);
}

/* The policy in force and why. */
static int
finger_policy(struct finger *f, const char *level_arg, const char *nexthop)
{
	struct tls_policy_maps *maps;
	char *err = NULL, *table = NULL, *key = NULL;
	const char *origin;
	int level;

	if (level_arg != NULL) {
		if ((level = tls_level_parse(level_arg)) < 0) {
			fprintf(stderr, "tlsrelay tls-finger: -l: unknown "
			    "level \"%s\"\n", level_arg);
			return -1;
		}
		f->policy = tls_policy_main(f->conf, level, nexthop);
		f->policy_source = xstrdup("the command line (-l)");
		return 0;
	}
	if ((maps = tls_policy_maps_open(f->conf, &err)) == NULL) {
		fprintf(stderr, "tlsrelay tls-finger: %s\n", err);
		free(err);
		return -1;
	}
	f->policy = tls_policy_lookup_from(maps, nexthop, &table, &key);
	tls_policy_maps_close(maps);
	if (table != NULL) {
		f->policy_source = xasprintf("smtp_tls_policy_maps %s, "
		    "key \"%s\"", table, key);
	} else {
		const char *value = conf_str(f->conf,
		    P_smtp_tls_security_level);

		/* Empty: the obsolete smtp_use_tls / smtp_enforce_tls, or
		 * none (tls_smtp_level). */
		origin = conf_origin(f->conf, P_smtp_tls_security_level);
		f->policy_source = xasprintf("smtp_tls_security_level = %s "
		    "(%s)", *value ? value : "\"\"", origin ? origin :
		    "default");
	}
	free(table);
	free(key);
	return 0;
}

/* Every level's policy, and the one the handshake is made under: the
 * policy in force when it uses TLS, else main.cf's "may". */
static void
finger_levels(struct finger *f)
{
	log_mute(f, 1);
	for (int level = TLS_LEV_MAY; level <= MAX_LEVEL; level++) {
		if (is_dane_level(level))
			continue;
		f->level_policy[level] = level == f->policy->level ?
		    f->policy : tls_policy_main(f->conf, level, f->nexthop);
	}
	f->dane_policy = is_dane_level(f->policy->level) ? f->policy :
	    tls_policy_main(f->conf, TLS_LEV_DANE, f->nexthop);
	log_mute(f, 0);
	f->hs_policy = f->policy->error == NULL &&
	    f->level_policy[f->policy->level] == f->policy ? f->policy :
	    f->level_policy[TLS_LEV_MAY];
	if (f->hs_policy->error == NULL)
		f->ssl_ctx = tls_client_ctx(f->tls, f->hs_policy);
	if (f->dane_policy->error == NULL)
		f->dane_ctx = tls_client_ctx(f->tls, f->dane_policy);
}

static void
finger_free(struct finger *f)
{
	for (int level = TLS_LEV_MAY; level <= MAX_LEVEL; level++)
		if (f->level_policy[level] != f->policy)
			tls_policy_free(f->level_policy[level]);
	if (f->dane_policy != f->policy)
		tls_policy_free(f->dane_policy);
	tls_policy_free(f->policy);
	free(f->policy_source);
	verdicts_clear(f);
	tls_client_free(f->tls);
}

/* The next hop: a domain is routed like a recipient in it. */
static int
finger_route(const struct conf *conf, const char *dest,
    struct qmgr_route *route)
{
	struct qmgr_router *router;
	unsigned short port;
	char *err = NULL, *rcpt;
	int rc;

	if (strchr(dest, '[') != NULL || strchr(dest, ':') != NULL) {
		if (qmgr_parse_port(conf_str(conf, P_smtp_tcp_port),
		    &port) < 0 || qmgr_parse_nexthop(dest, port, route) < 0) {
			fprintf(stderr, "tlsrelay tls-finger: bad next hop: "
			    "%s\n", dest);
			return -1;
		}
		route->source = "the command line";
		return 0;
	}
	if ((router = qmgr_router_new(conf, &err)) == NULL) {
		fprintf(stderr, "tlsrelay tls-finger: %s\n", err);
		free(err);
		return -1;
	}
	rcpt = xasprintf("postmaster@%s", dest);
	rc = qmgr_route(router, rcpt, route);
	free(rcpt);
	qmgr_router_free(router);
	if (rc < 0)
		fprintf(stderr, "tlsrelay tls-finger: transport_maps: lookup "
		    "error for %s\n", dest);
	return rc;
}

/* ---- the command ------------------------------------------------------- */

static void
print_conclusion(const struct finger *f, const char *text)
{
	int bold = isatty(STDOUT_FILENO);

	printf("level in force for %s: %s, from %s: %s%s%s\n", f->nexthop,
	    f->policy->error ? "unusable policy" :
	    tls_level_name(f->policy->level), f->policy_source,
	    bold ? "\033[1m" : "", text, bold ? "\033[0m" : "");
}

/* Probes the addresses; returns the exit status. */
static int
finger_targets(struct finger *f, struct event_base *base,
    const struct resolved *r, int with_mx, long long count,
    long long timeout, const char *cache)
{
	char *last = NULL, *via = NULL;

	if (with_mx) {
		printf("MX hosts:");
		for (size_t i = 0; i < r->n; i++)
			if (i == 0 || strcmp(r->targets[i].hostname,
			    r->targets[i - 1].hostname) != 0)
				printf("%s %d %s", i ? "," : "",
				    r->targets[i].preference,
				    r->targets[i].hostname);
		printf("\n");
	}
	printf("addresses:");
	for (size_t i = 0; i < r->n; i++) {
		char *peer = target_peer(&r->targets[i]);

		if (with_mx)
			printf("%s %s (MX %d)", i ? "," : "", peer,
			    r->targets[i].preference);
		else
			printf("%s %s", i ? "," : "", peer);
		free(peer);
	}
	printf("\n");
	for (size_t i = 0; i < r->n && (long long)i < count; i++) {
		const struct dns_target *t = &r->targets[i];
		struct finger_probe p;
		char *peer = target_peer(t);

		memset(&p, 0, sizeof(p));
		p.nexthop = f->nexthop;
		p.peer = peer;
		p.helo_name = conf_str(f->conf, P_smtp_helo_name);
		p.ssl_ctx = f->ssl_ctx;
		p.policy = f->hs_policy;
		p.timeout = timeout;
		p.chat = 1;
		p.tls_done = on_tls;
		p.arg = f;
		f->hostname = t->hostname;
		f->peer = peer;
		verdicts_clear(f);
		printf("\n--- %s\n", peer);
		finger_probe_run(base, t, &p);
		if (p.stage == FINGER_TLS)
			print_resumption(f, base, t, &p, cache);
		else
			judge_without_tls(f, &p);
		judge_dane(f, base, t, &p);
		printf("verdicts for %s:\n", peer);
		print_verdicts(f, &p);
		if (f->policy->error != NULL)
			verdict_set(&f->verdict[f->policy->level], 0,
			    xasprintf("would defer: %s", f->policy->error));
		if (via == NULL && f->verdict[f->policy->level].deliver)
			via = xstrdup(peer);
		free(last);
		last = xstrdup(f->verdict[f->policy->level].text ?
		    f->verdict[f->policy->level].text : "would defer");
		finger_probe_clear(&p);
		free(peer);
	}
	printf("\n");
	if (via != NULL) {
		char *text = xasprintf("would deliver (via %s)", via);

		print_conclusion(f, text);
		free(text);
	} else
		print_conclusion(f, last ? last : "would defer: no address");
	free(last);
	free(via);
	return via != NULL ? EXIT_DELIVER : EXIT_DEFER;
}

int
cmd_tls_finger(int argc, char **argv)
{
	const char *confdir = SYSCONFDIR, *level_arg = NULL, *ca = NULL;
	long long count = 5, timeout = 30;
	struct conf *conf = NULL, *view = NULL;
	struct event_base *base = NULL;
	struct qmgr_route route;
	struct resolved r;
	struct finger f;
	char tmpdir[] = "/tmp/tlsrelay-finger.XXXXXX", *err = NULL, *cache;
	int c, status = EXIT_USAGE;

	/* Our lines and the relay's log lines (stderr) in their order. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	memset(&f, 0, sizeof(f));
	memset(&route, 0, sizeof(route));
	memset(&r, 0, sizeof(r));
	optind = 1;
	while ((c = getopt(argc, argv, "c:l:m:P:vw:")) != -1) {
		switch (c) {
		case 'c':
			confdir = optarg;
			break;
		case 'l':
			level_arg = optarg;
			break;
		case 'm':
			if (conf_parse_int(optarg, &count) < 0 || count < 1)
				return usage();
			break;
		case 'P':
			ca = optarg;
			break;
		case 'v':
			f.verbose = 1;
			msg_verbose++;
			break;
		case 'w':
			if (conf_parse_int(optarg, &timeout) < 0 || timeout < 1)
				return usage();
			break;
		default:
			return usage();
		}
	}
	if (optind != argc - 1)
		return usage();
	if ((conf = conf_load(confdir, &err)) == NULL) {
		fprintf(stderr, "tlsrelay tls-finger: %s\n", err);
		free(err);
		return EXIT_USAGE;
	}
	cache = xstrdup(conf_str(conf, P_smtp_tls_session_cache_database));
	if (mkdtemp(tmpdir) == NULL) {
		fprintf(stderr, "tlsrelay tls-finger: mkdtemp: %m\n");
		goto out;
	}
	if ((view = finger_conf(conf, ca, tmpdir, &err)) == NULL ||
	    (f.tls = tls_client_new(view, &err)) == NULL) {
		fprintf(stderr, "tlsrelay tls-finger: %s\n", err);
		free(err);
		goto out;
	}
	f.conf = view;
	f.digest = conf_str(view, P_smtp_tls_fingerprint_digest);
	f.loglevel = (int)conf_int(view, P_smtp_tls_loglevel);
	if ((base = event_base_new()) == NULL)
		msg_fatal("event_base_new failed");
	if (finger_route(view, argv[optind], &route) < 0)
		goto out;
	f.nexthop = route.nexthop;
	f.nexthop_domain = route.host;
	if (finger_policy(&f, level_arg, route.nexthop) < 0)
		goto out;
	finger_levels(&f);
	printf("destination %s: next hop %s (%s), %s\n", argv[optind],
	    route.nexthop, route.source ? route.source : "?", route.error ?
	    route.error : route.with_mx ? "MX lookup" : "no MX lookup");
	if (route.error != NULL) {
		char *text = xasprintf("would %s: %s", route.error_temporary ?
		    "defer" : "return the mail", route.error);

		print_conclusion(&f, text);
		free(text);
		status = EXIT_DEFER;
		goto out;
	}
	if (resolve(view, base, &route, &r, &f.dns) < 0)
		goto out;
	if (r.status != DNS_OK || r.n == 0) {
		char *text = xasprintf("would %s: %s", r.status ==
		    DNS_TEMPFAIL ? "defer" : "return the mail", r.why ?
		    r.why : "no address");

		printf("addresses: none\n");
		print_conclusion(&f, text);
		free(text);
		status = EXIT_DEFER;
		goto out;
	}
	status = finger_targets(&f, base, &r, route.with_mx, count, timeout,
	    cache);
out:
	resolved_free(&r);
	qmgr_route_clear(&route);
	finger_free(&f);
	if (f.dns != NULL)
		dns_free(f.dns);
	if (base != NULL)
		event_base_free(base);
	conf_free(view);
	conf_free(conf);
	free(cache);
	(void)remove_tree(tmpdir);
	return status;
}
