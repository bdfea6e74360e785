/* check_dns: MX sorting and the server list parser, then next-hop
 * resolution against a real dnsmasq on 127.0.0.1 that this program starts
 * (with --no-resolv it forwards nothing: no packet leaves loopback) and
 * stops by PID at the end. Every lookup runs a libevent loop with a
 * deadline, so a lost answer fails the test instead of hanging it. */
#include "config.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <ares.h>
#include <event2/event.h>

#include "tlsrelay/dns.h"
#include "tlsrelay/log.h"
#include "tlsrelay/util.h"
#include "testutil.h"

#define BOTH	(DNS_FAMILY_INET | DNS_FAMILY_INET6)

static const char *tmpdir;	/* dnsmasq's pid and log files */
static pid_t dnsmasq_pid = -1;
static unsigned short dnsmasq_port;
static char servers[64];	/* "127.0.0.1:PORT" */

/* The test zone. --local=/test/: dnsmasq answers for .test from these
 * records alone (NXDOMAIN for names it lacks); anything else is REFUSED. */
static const char *const zone[] = {
	/* two preferences */
	"--mx-host=two.test,mx1.two.test,10",
	"--mx-host=two.test,mx2.two.test,20",
	"--host-record=mx1.two.test,127.0.0.11",
	"--host-record=mx2.two.test,127.0.0.12,fd00::12",
	/* equal preferences */
	"--mx-host=eq.test,a.eq.test,10",
	"--mx-host=eq.test,b.eq.test,10",
	"--host-record=a.eq.test,127.0.0.21",
	"--host-record=b.eq.test,127.0.0.22",
	/* no MX: implicit MX */
	"--host-record=implicit.test,127.0.0.31,fd00::31",
	/* A CNAME to a name with an address and no MX: the MX answer is
	 * the CNAME alone. */
	"--cname=alias.test,implicit.test",
	/* RFC 7505 */
	"--mx-host=nullmx.test,.,0",
	/* an MX host that does not exist, then one that does */
	"--mx-host=halfdead.test,ghost.halfdead.test,10",
	"--mx-host=halfdead.test,mx.halfdead.test,20",
	"--host-record=mx.halfdead.test,127.0.0.41",
	/* only MX hosts that do not exist */
	"--mx-host=alldead.test,ghost1.alldead.test,10",
	"--mx-host=alldead.test,ghost2.alldead.test,20",
	/* an MX host whose lookup is refused (outside the zone) */
	"--mx-host=mxrefused.test,mx.outside.example,10",
	/* IPv6 only */
	"--host-record=v6only.test,fd00::51",
	/* three MX hosts with two addresses each, for the cap */
	"--mx-host=many.test,m1.many.test,10",
	"--mx-host=many.test,m2.many.test,20",
	"--mx-host=many.test,m3.many.test,30",
	"--host-record=m1.many.test,127.0.0.61,fd00::61",
	"--host-record=m2.many.test,127.0.0.62,fd00::62",
	"--host-record=m3.many.test,127.0.0.63,fd00::63",
	/* two MX hosts sharing an address: tried once */
	"--mx-host=dup.test,d1.dup.test,10",
	"--mx-host=dup.test,d2.dup.test,20",
	"--host-record=d1.dup.test,127.0.0.71",
	"--host-record=d2.dup.test,127.0.0.71",
	NULL,
};

/* ---- fixtures ---------------------------------------------------------- */

static int
bind_udp(unsigned short port, unsigned short *bound)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) != 0) {
		close(fd);
		return -1;
	}
	if (bound != NULL)
		*bound = ntohs(sin.sin_port);
	return fd;
}

/* A loopback UDP port nobody listens on. */
static unsigned short
closed_port(void)
{
	unsigned short port = 0;
	int fd = bind_udp(0, &port);

	ck_assert_int_ge(fd, 0);
	close(fd);
	return port;
}

/* Sends one MX query to dnsmasq and waits up to 100 ms for a reply. A
 * probe that never binds dnsmasq's port cannot race it for the port. */
static int
dnsmasq_answers(void)
{
	struct sockaddr_in sin;
	struct pollfd pfd;
	unsigned char *query, reply[512];
	int len, fd, ok = 0;

	if (ares_create_query("two.test", C_IN, T_MX, 4242, 1, &query, &len,
	    0) != ARES_SUCCESS)
		return 0;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(dnsmasq_port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) >= 0) {
		if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
		    send(fd, query, (size_t)len, 0) == len) {
			pfd.fd = fd;
			pfd.events = POLLIN;
			ok = poll(&pfd, 1, 100) == 1 &&
			    recv(fd, reply, sizeof(reply), 0) > 2 &&
			    reply[0] == 4242 / 256 && reply[1] == 4242 % 256;
		}
		close(fd);
	}
	if (!ok)
		usleep(100 * 1000);	/* refused at once: not up yet */
	ares_free_string(query);
	return ok;
}

static void
start_dnsmasq(void)
{
	const char *argv[64];
	char port_arg[32], pid_arg[128], log_arg[128];
	size_t n = 0, i;
	int fd, status;

	tmpdir = tu_tmpdir();
	/* Pick a free port; dnsmasq takes it over right after. */
	if ((fd = bind_udp(0, &dnsmasq_port)) < 0) {
		perror("check_dns: bind");
		exit(EXIT_FAILURE);
	}
	close(fd);
	snprintf(port_arg, sizeof(port_arg), "--port=%u", dnsmasq_port);
	snprintf(pid_arg, sizeof(pid_arg), "--pid-file=%s/dnsmasq.pid",
	    tmpdir);
	snprintf(log_arg, sizeof(log_arg), "--log-facility=%s/dnsmasq.log",
	    tmpdir);
	snprintf(servers, sizeof(servers), "127.0.0.1:%u", dnsmasq_port);

	argv[n++] = "dnsmasq";
	argv[n++] = "--keep-in-foreground";
	argv[n++] = "--no-resolv";
	argv[n++] = "--no-hosts";
	argv[n++] = "--no-poll";
	argv[n++] = "--bind-interfaces";
	argv[n++] = "--listen-address=127.0.0.1";
	argv[n++] = "--local=/test/";
	argv[n++] = "--log-queries";
	argv[n++] = log_arg;
	argv[n++] = port_arg;
	argv[n++] = pid_arg;
	for (i = 0; zone[i] != NULL; i++)
		argv[n++] = zone[i];
	argv[n] = NULL;

	if ((dnsmasq_pid = fork()) < 0) {
		perror("check_dns: fork");
		exit(EXIT_FAILURE);
	}
	if (dnsmasq_pid == 0) {
		execvp("dnsmasq", (char *const *)argv);
		execv("/usr/sbin/dnsmasq", (char *const *)argv);
		fprintf(stderr, "check_dns: cannot run dnsmasq (Debian "
		    "package dnsmasq-base): %s\n", strerror(errno));
		_exit(127);
	}

	/* Ready when it answers; fail loudly if it died. */
	for (i = 0; i < 50; i++) {
		if (waitpid(dnsmasq_pid, &status, WNOHANG) == dnsmasq_pid) {
			fprintf(stderr, "check_dns: dnsmasq exited (status "
			    "%d); see %s/dnsmasq.log\n", status, tmpdir);
			dnsmasq_pid = -1;
			exit(EXIT_FAILURE);
		}
		if (dnsmasq_answers())
			return;
	}
	fprintf(stderr, "check_dns: dnsmasq does not answer on port %u\n",
	    dnsmasq_port);
	kill(dnsmasq_pid, SIGTERM);
	waitpid(dnsmasq_pid, NULL, 0);
	exit(EXIT_FAILURE);
}

static void
stop_dnsmasq(void)
{
	if (dnsmasq_pid > 0) {
		kill(dnsmasq_pid, SIGTERM);
		waitpid(dnsmasq_pid, NULL, 0);
		dnsmasq_pid = -1;
	}
}

/* ---- running one resolution -------------------------------------------- */

struct result {
	int calls;
	enum dns_status status;
	char *why;
	/* "host pref addr port" per target, in order */
	char **targets;
	size_t n;
	struct event_base *base;	/* loop to break when answered */
	int *outstanding;	/* break only once this reaches 0 */
	int dnssec;		/* the first target's dnssec_valid */
};

static void
result_free(struct result *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		free(r->targets[i]);
	free(r->targets);
	free(r->why);
	memset(r, 0, sizeof(*r));
}

static void
on_targets(void *arg, enum dns_status status, const struct dns_target *t,
    size_t n, const char *why)
{
	struct result *r = arg;
	char addr[INET6_ADDRSTRLEN];
	unsigned short port;
	size_t i;

	r->calls++;
	r->status = status;
	r->why = why != NULL ? xstrdup(why) : NULL;
	r->targets = xcalloc(n + 1, sizeof(*r->targets));
	r->n = n;
	r->dnssec = n > 0 ? t[0].dnssec_valid : -1;
	for (i = 0; i < n; i++) {
		if (t[i].addr.ss_family == AF_INET) {
			const struct sockaddr_in *sin =
			    (const struct sockaddr_in *)&t[i].addr;

			ck_assert_uint_eq(t[i].addrlen, sizeof(*sin));
			inet_ntop(AF_INET, &sin->sin_addr, addr, sizeof(addr));
			port = ntohs(sin->sin_port);
		} else {
			const struct sockaddr_in6 *sin6 =
			    (const struct sockaddr_in6 *)&t[i].addr;

			ck_assert_int_eq(t[i].addr.ss_family, AF_INET6);
			ck_assert_uint_eq(t[i].addrlen, sizeof(*sin6));
			inet_ntop(AF_INET6, &sin6->sin6_addr, addr,
			    sizeof(addr));
			port = ntohs(sin6->sin6_port);
		}
		r->targets[i] = xasprintf("%s %d %s %u", t[i].hostname,
		    t[i].preference, addr, port);
	}
	if (r->base != NULL && (r->outstanding == NULL ||
	    --*r->outstanding == 0))
		event_base_loopbreak(r->base);
}

static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

/* Runs the loop until a callback breaks it, or 10 s have passed. */
static void
run_loop(struct event_base *base)
{
	struct timeval deadline = { 10, 0 };
	struct event *timer = evtimer_new(base, deadline_cb, base);

	evtimer_add(timer, &deadline);
	event_base_dispatch(base);
	event_free(timer);
}

/* Resolves and waits (at most 10 s) for the one callback. */
static void
resolve(struct dns *dns, struct event_base *base, const char *name,
    int with_mx, int families, unsigned short port, size_t max,
    struct result *r)
{
	memset(r, 0, sizeof(*r));
	r->base = base;
	dns_resolve_nexthop(dns, name, with_mx, families, port, max,
	    on_targets, r);
	if (r->calls == 0)
		run_loop(base);
	ck_assert_msg(r->calls == 1, "%s: %d callbacks", name, r->calls);
}

static struct dns *
dns_or_die(struct event_base *base, const char *list, int use_dns)
{
	char *err = NULL;
	struct dns *dns = dns_new(base, list, use_dns, &err);

	ck_assert_msg(dns != NULL, "dns_new: %s", err ? err : "?");
	return dns;
}

/* A resolver on dnsmasq, with the expected targets checked in order. */
static void
expect(const char *name, int with_mx, int families, size_t max,
    enum dns_status status, const char *const *want)
{
	struct event_base *base = event_base_new();
	struct dns *dns = dns_or_die(base, servers, 1);
	struct result r;
	size_t i;

	resolve(dns, base, name, with_mx, families, 25, max, &r);
	ck_assert_msg(r.status == status, "%s: status %d, want %d (%s)",
	    name, r.status, status, r.why ? r.why : "");
	if (status == DNS_OK)
		ck_assert_ptr_null(r.why);
	else
		ck_assert_ptr_nonnull(r.why);
	for (i = 0; want != NULL && want[i] != NULL; i++) {
		ck_assert_msg(i < r.n, "%s: only %zu targets", name, r.n);
		ck_assert_str_eq(r.targets[i], want[i]);
	}
	ck_assert_uint_eq(r.n, want != NULL ? i : 0);
	result_free(&r);
	dns_free(dns);
	event_base_free(base);
}

/* ---- dns_mx_sort ------------------------------------------------------- */

/* Deterministic, yet not in step with the number of calls per sort. */
static unsigned int counter;

static unsigned int
counting_rnd(void)
{
	counter = counter * 1103515245u + 12345u;
	return counter >> 16;
}

static unsigned int
zero_rnd(void)
{
	return 0;
}

START_TEST(test_sort_order)
{
	struct dns_mx mx[] = {
		{ "c", 30 }, { "a", 10 }, { "e", 50 }, { "b", 20 },
		{ "d", 40 }, { "z", 0 },
	};
	const char *want = "zabcde";
	size_t i;

	dns_mx_sort(mx, 6, zero_rnd);
	for (i = 0; i < 6; i++)
		ck_assert_int_eq(mx[i].host[0], want[i]);
	/* Nothing to sort: no crash, no change. */
	dns_mx_sort(mx, 0, zero_rnd);
	dns_mx_sort(mx, 1, zero_rnd);
	ck_assert_str_eq(mx[0].host, "z");
}
END_TEST

START_TEST(test_sort_equal_shuffled)
{
	int seen_ab = 0, seen_ba = 0, run;

	counter = 0;
	for (run = 0; run < 8; run++) {
		struct dns_mx mx[] = {
			{ "low2", 20 }, { "a", 10 }, { "high", 30 },
			{ "b", 10 }, { "low1", 20 },
		};
		int i;

		dns_mx_sort(mx, 5, counting_rnd);
		/* Preference order holds whatever the shuffle did. */
		for (i = 1; i < 5; i++)
			ck_assert_int_le(mx[i - 1].preference,
			    mx[i].preference);
		ck_assert_str_eq(mx[4].host, "high");
		ck_assert(strncmp(mx[2].host, "low", 3) == 0);
		ck_assert(strncmp(mx[3].host, "low", 3) == 0);
		if (strcmp(mx[0].host, "a") == 0 &&
		    strcmp(mx[1].host, "b") == 0)
			seen_ab++;
		else if (strcmp(mx[0].host, "b") == 0 &&
		    strcmp(mx[1].host, "a") == 0)
			seen_ba++;
		else
			ck_abort_msg("lost a host: %s %s", mx[0].host,
			    mx[1].host);
	}
	ck_assert_int_gt(seen_ab, 0);
	ck_assert_int_gt(seen_ba, 0);
}
END_TEST

/* Fisher-Yates reaches every permutation of three equal hosts. */
START_TEST(test_sort_all_permutations)
{
	char seen[6][4];
	int nseen = 0, run, i;

	counter = 0;
	for (run = 0; run < 36; run++) {
		struct dns_mx mx[] = { { "a", 5 }, { "b", 5 }, { "c", 5 } };
		char key[4];

		dns_mx_sort(mx, 3, counting_rnd);
		for (i = 0; i < 3; i++)
			key[i] = mx[i].host[0];
		key[3] = '\0';
		ck_assert(strchr(key, 'a') && strchr(key, 'b') &&
		    strchr(key, 'c'));
		for (i = 0; i < nseen; i++)
			if (strcmp(seen[i], key) == 0)
				break;
		if (i == nseen)
			memcpy(seen[nseen++], key, 4);
	}
	ck_assert_int_eq(nseen, 6);
}
END_TEST

/* ---- dns_servers_csv --------------------------------------------------- */

static void
csv_ok(const char *in, const char *want)
{
	char *err = NULL, *out = dns_servers_csv(in, &err);

	ck_assert_msg(out != NULL, "%s: %s", in, err ? err : "?");
	ck_assert_str_eq(out, want);
	free(out);
}

static void
csv_bad(const char *in, const char *entry)
{
	char *err = NULL, *out = dns_servers_csv(in, &err);

	ck_assert_msg(out == NULL, "%s accepted as %s", in, out);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, entry) != NULL, "%s: \"%s\" not in %s", in,
	    entry, err);
	free(err);
}

START_TEST(test_servers_csv)
{
	csv_ok("", "");
	csv_ok("  ", "");
	csv_ok("127.0.0.1", "127.0.0.1");
	csv_ok("127.0.0.1:5353", "127.0.0.1:5353");
	csv_ok("[::1]:53", "[::1]:53");
	csv_ok("::1", "::1");
	csv_ok("[::1]", "::1");
	csv_ok("[127.0.0.2]:54", "127.0.0.2:54");
	csv_ok("127.0.0.1:5353, [::1]:53 127.0.0.2\t2001:db8::1,,",
	    "127.0.0.1:5353,[::1]:53,127.0.0.2,2001:db8::1");

	csv_bad("ns.example", "\"ns.example\"");
	csv_bad("127.0.0.1, 127.0.0.300", "\"127.0.0.300\"");
	csv_bad("127.0.0.1:", "\"127.0.0.1:\"");
	csv_bad("127.0.0.1:0", "\"127.0.0.1:0\"");
	csv_bad("127.0.0.1:65536", "\"127.0.0.1:65536\"");
	csv_bad("127.0.0.1:53x", "\"127.0.0.1:53x\"");
	csv_bad("[::1]53", "\"[::1]53\"");
	csv_bad("[::1", "\"[::1\"");
	csv_bad("[::g]:53", "\"[::g]:53\"");
	csv_bad("127.0.0.1 ::1:53:x", "\"::1:53:x\"");
}
END_TEST

START_TEST(test_new_bad_servers)
{
	struct event_base *base = event_base_new();
	char *err = NULL;

	ck_assert_ptr_null(dns_new(base, "127.0.0.1 bogus", 1, &err));
	ck_assert_ptr_nonnull(err);
	ck_assert_ptr_nonnull(strstr(err, "\"bogus\""));
	free(err);
	event_base_free(base);
}
END_TEST

/* c-ares itself takes every form dns_servers_csv writes. */
START_TEST(test_new_server_forms)
{
	struct event_base *base = event_base_new();
	char *err = NULL;
	struct dns *dns;

	dns = dns_new(base, "127.0.0.1:5353, [::1]:53 ::1 [::1] 127.0.0.2",
	    1, &err);
	ck_assert_msg(dns != NULL, "%s", err ? err : "?");
	dns_free(dns);
	/* Empty: /etc/resolv.conf's servers (no query is made here). */
	dns = dns_new(base, "", 1, &err);
	ck_assert_msg(dns != NULL, "%s", err ? err : "?");
	dns_free(dns);
	event_base_free(base);
}
END_TEST

/* The servers as the channel has them, and whether all are on this
 * host: setup asks only such a resolver whether it validates. */
static void
expect_described(const char *list, const char *text, int on_host)
{
	struct event_base *base = event_base_new();
	char *err = NULL, *out;
	struct dns *dns = dns_new(base, list, 1, &err);
	int local = -1;

	ck_assert_msg(dns != NULL, "%s", err ? err : "?");
	out = dns_servers_describe(dns, &local);
	ck_assert_str_eq(out, text);
	ck_assert_int_eq(local, on_host);
	free(out);
	dns_free(dns);
	event_base_free(base);
}

START_TEST(test_servers_describe)
{
	expect_described("127.0.0.1:5353, [::1]:5300, 127.0.0.2",
	    "127.0.0.1:5353, [::1]:5300, 127.0.0.2", 1);
	expect_described("127.255.0.1:53 ::1", "127.255.0.1, ::1", 1);
	expect_described("127.0.0.1, 192.0.2.1", "127.0.0.1, 192.0.2.1", 0);
	expect_described("[2001:db8::1]:53", "2001:db8::1", 0);
	expect_described("128.0.0.1", "128.0.0.1", 0);
}
END_TEST

/* ---- smtp_dns_support_level -------------------------------------------- */

START_TEST(test_support_level)
{
	char path[] = "/tmp/check_dns_log.XXXXXX";
	char *err = NULL, buf[512];
	FILE *fp;
	size_t n;
	int fd;

	ck_assert_int_ge(fd = mkstemp(path), 0);
	close(fd);
	ck_assert_int_eq(log_open(path, 0, "mail", &err), 0);
	fp = fopen(path, "r");
	unlink(path);		/* both stay open; nothing is left behind */
	ck_assert_ptr_nonnull(fp);

	ck_assert_int_eq(dns_support_level("", &err), 1);
	ck_assert_int_eq(dns_support_level("enabled", &err), 1);
	ck_assert_int_eq(dns_support_level("disabled", &err), 0);
	ck_assert_int_eq(dns_support_level("Disabled", &err), 0);
	ck_assert_ptr_null(err);

	/* dnssec is a level of its own, and nothing is logged for it. */
	ck_assert_int_eq(dns_support_level("dnssec", &err), DNS_LEVEL_DNSSEC);
	ck_assert_int_eq(dns_support_level("DNSSEC", &err), DNS_LEVEL_DNSSEC);
	ck_assert_ptr_null(err);
	clearerr(fp);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	ck_assert_uint_eq(n, 0);
	fclose(fp);

	ck_assert_int_eq(dns_support_level("enable", &err), -1);
	ck_assert_ptr_nonnull(err);
	ck_assert_ptr_nonnull(strstr(err, "\"enable\""));
	free(err);
	log_close();
}
END_TEST

/* ---- inet_protocols ----------------------------------------------------- */

START_TEST(test_inet_protocols)
{
	const int both = DNS_FAMILY_INET | DNS_FAMILY_INET6;

	ck_assert_int_eq(dns_families("all"), both);
	ck_assert_int_eq(dns_families("ALL"), both);
	ck_assert_int_eq(dns_families("ipv4"), DNS_FAMILY_INET);
	ck_assert_int_eq(dns_families("ipv6"), DNS_FAMILY_INET6);
	ck_assert_int_eq(dns_families("ipv4, ipv6"), both);
	/* Neither named: IPv4, as the queue manager always did. */
	ck_assert_int_eq(dns_families(""), DNS_FAMILY_INET);
	ck_assert_int_eq(dns_families(NULL), DNS_FAMILY_INET);
}
END_TEST

/* ---- against dnsmasq --------------------------------------------------- */

START_TEST(test_mx_order)
{
	static const char *const v4[] = {
		"mx1.two.test 10 127.0.0.11 25",
		"mx2.two.test 20 127.0.0.12 25",
		NULL,
	};
	static const char *const both[] = {
		"mx1.two.test 10 127.0.0.11 25",
		"mx2.two.test 20 127.0.0.12 25",
		"mx2.two.test 20 fd00::12 25",
		NULL,
	};
	static const char *const v6[] = {
		"mx2.two.test 20 fd00::12 25",
		NULL,
	};

	expect("two.test", 1, DNS_FAMILY_INET, 0, DNS_OK, v4);
	expect("two.test", 1, BOTH, 0, DNS_OK, both);
	/* mx1 has no AAAA: skipped with IPv6 only. */
	expect("two.test", 1, DNS_FAMILY_INET6, 0, DNS_OK, v6);
	/* families 0 means both */
	expect("two.test", 1, 0, 0, DNS_OK, both);
	/* trailing dot: the same domain */
	expect("two.test.", 1, BOTH, 0, DNS_OK, both);
}
END_TEST

START_TEST(test_equal_preference_random)
{
	struct event_base *base = event_base_new();
	struct dns *dns = dns_or_die(base, servers, 1);
	struct result r;
	int seen_ab = 0, seen_ba = 0, run;

	for (run = 0; run < 50; run++) {
		resolve(dns, base, "eq.test", 1, DNS_FAMILY_INET, 25, 0, &r);
		ck_assert_int_eq(r.status, DNS_OK);
		ck_assert_uint_eq(r.n, 2);
		if (strcmp(r.targets[0], "a.eq.test 10 127.0.0.21 25") == 0) {
			ck_assert_str_eq(r.targets[1],
			    "b.eq.test 10 127.0.0.22 25");
			seen_ab++;
		} else {
			ck_assert_str_eq(r.targets[0],
			    "b.eq.test 10 127.0.0.22 25");
			ck_assert_str_eq(r.targets[1],
			    "a.eq.test 10 127.0.0.21 25");
			seen_ba++;
		}
		result_free(&r);
	}
	ck_assert_int_gt(seen_ab, 0);
	ck_assert_int_gt(seen_ba, 0);
	dns_free(dns);
	event_base_free(base);
}
END_TEST

START_TEST(test_implicit_mx)
{
	static const char *const both[] = {
		"implicit.test 0 127.0.0.31 25",
		"implicit.test 0 fd00::31 25",
		NULL,
	};
	static const char *const v4[] = {
		"implicit.test 0 127.0.0.31 25",
		NULL,
	};

	expect("implicit.test", 1, BOTH, 0, DNS_OK, both);
	expect("implicit.test", 1, DNS_FAMILY_INET, 0, DNS_OK, v4);
	/* without MX lookup: the same addresses */
	expect("implicit.test", 0, BOTH, 0, DNS_OK, both);
}
END_TEST

/* The MX query of an alias gets the CNAME and no MX record: not a null
 * MX (that is "MX 0 ." only) but no MX at all, so the implicit MX, as
 * Postfix does; the address lookup then follows the CNAME. */
START_TEST(test_cname_only_mx_answer)
{
	static const char *const v4[] = {
		"alias.test 0 127.0.0.31 25",
		NULL,
	};

	expect("alias.test", 1, DNS_FAMILY_INET, 0, DNS_OK, v4);
}
END_TEST

START_TEST(test_no_mx_lookup)
{
	static const char *const mx1[] = {
		"mx1.two.test 0 127.0.0.11 25",
		NULL,
	};

	/* two.test has MX records but no address of its own. */
	expect("two.test", 0, BOTH, 0, DNS_NOTFOUND, NULL);
	expect("mx1.two.test", 0, BOTH, 0, DNS_OK, mx1);
}
END_TEST

START_TEST(test_null_mx)
{
	struct event_base *base = event_base_new();
	struct dns *dns = dns_or_die(base, servers, 1);
	struct result r;

	resolve(dns, base, "nullmx.test", 1, BOTH, 25, 0, &r);
	ck_assert_int_eq(r.status, DNS_NULLMX);
	ck_assert_uint_eq(r.n, 0);
	ck_assert_str_eq(r.why,
	    "Domain nullmx.test does not accept mail (nullMX)");
	result_free(&r);
	dns_free(dns);
	event_base_free(base);
}
END_TEST

START_TEST(test_nxdomain)
{
	struct event_base *base = event_base_new();
	struct dns *dns = dns_or_die(base, servers, 1);
	struct result r;

	resolve(dns, base, "nosuch.test", 1, BOTH, 25, 0, &r);
	ck_assert_int_eq(r.status, DNS_NOTFOUND);
	ck_assert_str_eq(r.why, "Host or domain name not found. Name service "
	    "error for name=nosuch.test type=MX: Host not found");
	result_free(&r);

	resolve(dns, base, "nosuch.test", 0, DNS_FAMILY_INET, 25, 0, &r);
	ck_assert_int_eq(r.status, DNS_NOTFOUND);
	ck_assert_str_eq(r.why, "Host or domain name not found. Name service "
	    "error for name=nosuch.test type=A: Host not found");
	result_free(&r);
	dns_free(dns);
	event_base_free(base);
}
END_TEST

START_TEST(test_refused_is_tempfail)
{
	struct event_base *base = event_base_new();
	struct dns *dns = dns_or_die(base, servers, 1);
	struct result r;

	/* Outside dnsmasq's zone, with nowhere to forward: REFUSED. */
	resolve(dns, base, "outside.example", 1, BOTH, 25, 0, &r);
	ck_assert_int_eq(r.status, DNS_TEMPFAIL);
	ck_assert_str_eq(r.why, "Host or domain name not found. Name service "
	    "error for name=outside.example type=MX: Host not found, try "
	    "again");
	result_free(&r);

	/* The MX lookup works, the MX host's address lookup is refused. */
	resolve(dns, base, "mxrefused.test", 1, DNS_FAMILY_INET, 25, 0, &r);
	ck_assert_int_eq(r.status, DNS_TEMPFAIL);
	ck_assert_str_eq(r.why, "Host or domain name not found. Name service "
	    "error for name=mx.outside.example type=A: Host not found, try "
	    "again");
	result_free(&r);
	dns_free(dns);
	event_base_free(base);
}
END_TEST

START_TEST(test_mx_host_without_address)
{
	static const char *const half[] = {
		"mx.halfdead.test 20 127.0.0.41 25",
		NULL,
	};

	expect("halfdead.test", 1, BOTH, 0, DNS_OK, half);
	/* Every MX host NXDOMAIN: permanent. */
	expect("alldead.test", 1, BOTH, 0, DNS_NOTFOUND, NULL);
}
END_TEST

START_TEST(test_families)
{
	static const char *const v6[] = {
		"v6only.test 0 fd00::51 25",
		NULL,
	};
	struct event_base *base = event_base_new();
	struct dns *dns = dns_or_die(base, servers, 1);
	struct result r;

	expect("v6only.test", 1, DNS_FAMILY_INET6, 0, DNS_OK, v6);
	expect("v6only.test", 1, BOTH, 0, DNS_OK, v6);

	/* The name exists, but has no A record: permanent, NODATA text. */
	resolve(dns, base, "v6only.test", 1, DNS_FAMILY_INET, 25, 0, &r);
	ck_assert_int_eq(r.status, DNS_NOTFOUND);
	ck_assert_str_eq(r.why, "Host or domain name not found. Name service "
	    "error for name=v6only.test type=A: Host found but no data record "
	    "of requested type");
	result_free(&r);
	dns_free(dns);
	event_base_free(base);
}
END_TEST

START_TEST(test_port_in_sockaddr)
{
	struct event_base *base = event_base_new();
	struct dns *dns = dns_or_die(base, servers, 1);
	struct result r;

	resolve(dns, base, "two.test", 1, BOTH, 2525, 0, &r);
	ck_assert_int_eq(r.status, DNS_OK);
	ck_assert_uint_eq(r.n, 3);
	ck_assert_str_eq(r.targets[0], "mx1.two.test 10 127.0.0.11 2525");
	ck_assert_str_eq(r.targets[2], "mx2.two.test 20 fd00::12 2525");
	result_free(&r);

	resolve(dns, base, "127.0.0.9", 1, BOTH, 10025, 0, &r);
	ck_assert_int_eq(r.status, DNS_OK);
	ck_assert_uint_eq(r.n, 1);
	ck_assert_str_eq(r.targets[0], "127.0.0.9 0 127.0.0.9 10025");
	result_free(&r);
	dns_free(dns);
	event_base_free(base);
}
END_TEST

START_TEST(test_max_addresses)
{
	static const char *const three[] = {
		"m1.many.test 10 127.0.0.61 25",
		"m1.many.test 10 fd00::61 25",
		"m2.many.test 20 127.0.0.62 25",
		NULL,
	};
	static const char *const one[] = {
		"m1.many.test 10 127.0.0.61 25",
		NULL,
	};
	static const char *const all[] = {
		"m1.many.test 10 127.0.0.61 25",
		"m1.many.test 10 fd00::61 25",
		"m2.many.test 20 127.0.0.62 25",
		"m2.many.test 20 fd00::62 25",
		"m3.many.test 30 127.0.0.63 25",
		"m3.many.test 30 fd00::63 25",
		NULL,
	};
	static const char *const dup[] = {
		"d1.dup.test 10 127.0.0.71 25",
		NULL,
	};

	expect("many.test", 1, BOTH, 3, DNS_OK, three);
	expect("many.test", 1, BOTH, 1, DNS_OK, one);
	expect("many.test", 1, BOTH, 0, DNS_OK, all);
	expect("many.test", 1, BOTH, 6, DNS_OK, all);
	/* The same address behind two MX hosts is tried once. */
	expect("dup.test", 1, BOTH, 0, DNS_OK, dup);
}
END_TEST

/* host[addr]:port of the logs, for both families. */
START_TEST(test_target_address)
{
	struct dns_target t;
	struct sockaddr_in *sin = (struct sockaddr_in *)&t.addr;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&t.addr;
	char addr[INET6_ADDRSTRLEN];

	memset(&t, 0, sizeof(t));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(2525);
	ck_assert_int_eq(inet_pton(AF_INET, "192.0.2.7", &sin->sin_addr), 1);
	ck_assert_uint_eq(dns_target_port(&t), 2525);
	ck_assert_uint_eq(dns_target_address(&t, addr, sizeof(addr)), 2525);
	ck_assert_str_eq(addr, "192.0.2.7");

	memset(&t, 0, sizeof(t));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(25);
	ck_assert_int_eq(inet_pton(AF_INET6, "2001:db8::25", &sin6->sin6_addr),
	    1);
	ck_assert_uint_eq(dns_target_address(&t, addr, sizeof(addr)), 25);
	ck_assert_str_eq(addr, "2001:db8::25");
}
END_TEST

START_TEST(test_literal)
{
	static const char *const v4[] = { "127.0.0.8 0 127.0.0.8 25", NULL };
	static const char *const v4b[] = {
		"[127.0.0.8] 0 127.0.0.8 25", NULL,
	};
	static const char *const v6[] = { "::1 0 ::1 25", NULL };
	static const char *const v6b[] = {
		"[ipv6:::1] 0 ::1 25", NULL,
	};

	expect("127.0.0.8", 1, BOTH, 0, DNS_OK, v4);
	expect("[127.0.0.8]", 0, BOTH, 0, DNS_OK, v4b);
	expect("::1", 1, BOTH, 0, DNS_OK, v6);
	expect("[ipv6:::1]", 1, DNS_FAMILY_INET6, 0, DNS_OK, v6b);
	/* A literal of a family inet_protocols turned off: try later. */
	expect("::1", 1, DNS_FAMILY_INET, 0, DNS_TEMPFAIL, NULL);
}
END_TEST

/* A UDP socket that swallows queries: counts what arrived. */
static int
pending_packets(int fd)
{
	char buf[512];
	int n = 0;

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
		n++;
	return n;
}

START_TEST(test_hosts_file_no_packet)
{
	static const char *const v4[] = {
		"localhost 0 127.0.0.1 25",
		NULL,
	};
	struct event_base *base = event_base_new();
	unsigned short port;
	int sink = bind_udp(0, &port);
	char *list;
	struct dns *dns;
	struct result r;

	ck_assert_int_ge(sink, 0);
	list = xasprintf("127.0.0.1:%u", port);
	dns = dns_or_die(base, list, 0);

	resolve(dns, base, "localhost", 1, DNS_FAMILY_INET, 25, 0, &r);
	ck_assert_int_eq(r.status, DNS_OK);
	ck_assert_uint_eq(r.n, 1);
	ck_assert_str_eq(r.targets[0], v4[0]);
	result_free(&r);

	/* Not in /etc/hosts: not found, and still no query. */
	resolve(dns, base, "nosuch.test", 1, BOTH, 25, 0, &r);
	ck_assert_int_eq(r.status, DNS_NOTFOUND);
	ck_assert_ptr_nonnull(strstr(r.why, "name=nosuch.test"));
	result_free(&r);

	/* Give a stray packet time to arrive, then look. */
	usleep(100 * 1000);
	ck_assert_int_eq(pending_packets(sink), 0);

	/* The same sink does see queries with DNS on: the check can fail. */
	dns_free(dns);
	dns = dns_or_die(base, list, 1);
	memset(&r, 0, sizeof(r));
	dns_resolve_nexthop(dns, "localhost", 1, BOTH, 25, 0, on_targets,
	    &r);
	usleep(100 * 1000);
	ck_assert_int_gt(pending_packets(sink), 0);
	/* dns_free answers the pending lookup: DNS_TEMPFAIL, once. */
	dns_free(dns);
	ck_assert_int_eq(r.calls, 1);
	ck_assert_int_eq(r.status, DNS_TEMPFAIL);
	result_free(&r);

	close(sink);
	free(list);
	event_base_free(base);
}
END_TEST

START_TEST(test_closed_server_port)
{
	struct event_base *base = event_base_new();
	char *list = xasprintf("127.0.0.1:%u", closed_port());
	struct dns *dns;
	struct result r;

	/* DNS off: /etc/hosts answers, the dead server is never asked. */
	dns = dns_or_die(base, list, 0);
	resolve(dns, base, "localhost", 1, DNS_FAMILY_INET, 25, 0, &r);
	ck_assert_int_eq(r.status, DNS_OK);
	ck_assert_str_eq(r.targets[0], "localhost 0 127.0.0.1 25");
	result_free(&r);
	dns_free(dns);

	/* DNS on: the server refuses the connection -- try again later. */
	dns = dns_or_die(base, list, 1);
	resolve(dns, base, "two.test", 1, BOTH, 25, 0, &r);
	ck_assert_int_eq(r.status, DNS_TEMPFAIL);
	ck_assert_str_eq(r.why, "Host or domain name not found. Name service "
	    "error for name=two.test type=MX: Host not found, try again");
	result_free(&r);
	dns_free(dns);
	free(list);
	event_base_free(base);
}
END_TEST

/* Many lookups at once on one channel, each answered exactly once. */
START_TEST(test_concurrent)
{
	static const char *const names[] = {
		"two.test", "eq.test", "implicit.test", "nullmx.test",
		"nosuch.test", "many.test", "halfdead.test", "outside.example",
	};
	static const enum dns_status want[] = {
		DNS_OK, DNS_OK, DNS_OK, DNS_NULLMX,
		DNS_NOTFOUND, DNS_OK, DNS_OK, DNS_TEMPFAIL,
	};
	struct event_base *base = event_base_new();
	struct dns *dns = dns_or_die(base, servers, 1);
	struct result r[8];
	int i, round, outstanding;

	for (round = 0; round < 3; round++) {
		memset(r, 0, sizeof(r));
		outstanding = 8;
		for (i = 0; i < 8; i++) {
			r[i].base = base;
			r[i].outstanding = &outstanding;
			dns_resolve_nexthop(dns, names[i], 1, BOTH, 25, 0,
			    on_targets, &r[i]);
		}
		run_loop(base);
		ck_assert_int_eq(outstanding, 0);
		for (i = 0; i < 8; i++) {
			ck_assert_msg(r[i].calls == 1, "%s: %d calls",
			    names[i], r[i].calls);
			ck_assert_int_eq(r[i].status, want[i]);
			result_free(&r[i]);
		}
	}
	dns_free(dns);
	event_base_free(base);
}
END_TEST


/* ---- DNSSEC status, against a scripted server ---------------------------- */

/* A DNS server in the test's own loop: it answers every question for its
 * name with one record of the type asked (A 127.0.0.9, MX 10 to the name
 * itself, TLSA 3 1 1 of 32 bytes), with the AD bit as ad[type] says and
 * RCODE rcode (no record unless 0), and notes what each query carried. */
struct fake_dns {
	int fd;
	unsigned short port;
	struct event *ev;
	int ad[64];
	int rcode;
	unsigned soa_ttl;	/* not 0: an SOA in the authority section, */
	unsigned soa_minimum;	/* with this MINIMUM */
	int queries;
	unsigned short ids[16];
	int query_ad[16];
};

static void
fake_dns_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fake_dns *f = arg;
	unsigned char q[512], r[600];
	struct sockaddr_storage from;
	socklen_t fromlen = sizeof(from);
	ssize_t len;
	size_t qend, rlen;
	unsigned type;

	(void)what;
	len = recvfrom(fd, q, sizeof(q), 0, (struct sockaddr *)&from,
	    &fromlen);
	if (len < HFIXEDSZ + 5)
		return;
	/* The question ends with its type and class. */
	for (qend = HFIXEDSZ; qend < (size_t)len && q[qend] != 0;
	    qend += q[qend] + 1)
		;
	qend += 1 + QFIXEDSZ;
	if (qend > (size_t)len)
		return;
	type = (unsigned)q[qend - 4] << 8 | q[qend - 3];
	if (f->queries < 16) {
		f->ids[f->queries] = (unsigned short)(q[0] << 8 | q[1]);
		f->query_ad[f->queries] = (q[3] & 0x20) != 0;
	}
	f->queries++;
	memcpy(r, q, qend);
	r[2] = 0x81;			/* QR, RD */
	r[3] = (unsigned char)(0x80 | (type < 64 && f->ad[type] ? 0x20 : 0) |
	    f->rcode);
	r[6] = r[7] = r[8] = r[9] = r[10] = r[11] = 0;
	rlen = qend;
	if (f->rcode == 0 && (type == T_A || type == T_MX ||
	    type == DNS_TYPE_TLSA)) {
		static const unsigned char a[] = { 127, 0, 0, 9 };
		static const unsigned char mx[] = { 0, 10, 0xc0, 12 };
		unsigned char tlsa[35] = { 3, 1, 1 };
		const unsigned char *rd = type == T_A ? a : type == T_MX ? mx :
		    tlsa;
		size_t rdlen = type == T_A ? sizeof(a) : type == T_MX ?
		    sizeof(mx) : sizeof(tlsa);
		unsigned char rr[12] = { 0xc0, 12, 0, 0, 0, 1, 0, 0, 1, 0 };

		rr[2] = (unsigned char)(type >> 8);
		rr[3] = (unsigned char)type;
		rr[11] = (unsigned char)rdlen;
		memcpy(r + rlen, rr, sizeof(rr));
		memcpy(r + rlen + sizeof(rr), rd, rdlen);
		rlen += sizeof(rr) + rdlen;
		r[7] = 1;
	} else if (f->soa_ttl != 0) {
		unsigned char rr[12] = { 0xc0, 12, 0, 6, 0, 1, 0, 0, 0, 0,
		    0, 24 };
		unsigned char soa[24] = { 0xc0, 12, 0xc0, 12 };
		unsigned i;

		for (i = 0; i < 4; i++) {
			rr[6 + i] = (unsigned char)(f->soa_ttl >> (24 - 8 * i));
			soa[20 + i] = (unsigned char)(f->soa_minimum >>
			    (24 - 8 * i));
		}
		memcpy(r + rlen, rr, sizeof(rr));
		memcpy(r + rlen + sizeof(rr), soa, sizeof(soa));
		rlen += sizeof(rr) + sizeof(soa);
		r[9] = 1;
	}
	(void)sendto(fd, r, rlen, 0, (struct sockaddr *)&from, fromlen);
}

static void
fake_dns_start(struct fake_dns *f, struct event_base *base)
{
	memset(f, 0, sizeof(*f));
	f->fd = bind_udp(0, &f->port);
	ck_assert_int_ge(f->fd, 0);
	f->ev = event_new(base, f->fd, EV_READ | EV_PERSIST, fake_dns_cb, f);
	event_add(f->ev, NULL);
}

static void
fake_dns_stop(struct fake_dns *f)
{
	event_free(f->ev);
	close(f->fd);
}

static struct dns *
fake_dns_resolver(struct fake_dns *f, struct event_base *base, int level)
{
	char srv[64], *err = NULL;
	struct dns *dns;

	snprintf(srv, sizeof(srv), "127.0.0.1:%u", f->port);
	dns = dns_new(base, srv, level, &err);
	ck_assert_msg(dns != NULL, "%s", err);
	return dns;
}

struct tlsa_result {
	int calls;
	enum dns_status status;
	int secure;
	size_t n;
	unsigned int ttl;
	char *why;
	struct event_base *base;
};

static void
on_tlsa(void *arg, enum dns_status status, int secure,
    const struct dns_tlsa *records, size_t n, unsigned int ttl,
    const char *why)
{
	struct tlsa_result *r = arg;

	r->calls++;
	r->ttl = ttl;
	r->status = status;
	r->secure = secure;
	r->n = n;
	if (n > 0)
		ck_assert_uint_eq(records[0].usage, 3);
	r->why = why ? xstrdup(why) : NULL;
	event_base_loopbreak(r->base);
}

static void
tlsa(struct dns *dns, struct event_base *base, struct tlsa_result *r)
{
	memset(r, 0, sizeof(*r));
	r->base = base;
	dns_tlsa_lookup(dns, "mx.fake.test", 25, on_tlsa, r);
	if (r->calls == 0)
		run_loop(base);
	ck_assert_int_eq(r->calls, 1);
}

START_TEST(test_dnssec_tlsa_status)
{
	struct event_base *base = event_base_new();
	struct fake_dns f;
	struct tlsa_result r;
	struct dns *dns;

	fake_dns_start(&f, base);
	dns = fake_dns_resolver(&f, base, DNS_LEVEL_DNSSEC);
	ck_assert_int_eq(dns_dnssec(dns), 1);

	/* Validated records; the query asked for AD. */
	f.ad[DNS_TYPE_TLSA] = 1;
	tlsa(dns, base, &r);
	ck_assert_int_eq(r.status, DNS_OK);
	ck_assert_int_eq(r.secure, 1);
	ck_assert_uint_eq(r.n, 1);
	ck_assert_int_eq(f.query_ad[0], 1);

	/* The same records without AD: insecure. */
	f.ad[DNS_TYPE_TLSA] = 0;
	tlsa(dns, base, &r);
	ck_assert_int_eq(r.status, DNS_OK);
	ck_assert_int_eq(r.secure, 0);

	/* A validated denial, kept for its SOA's negative TTL (RFC 2308
	 * 5: the smaller of the SOA's TTL and MINIMUM), bounded. */
	f.ad[DNS_TYPE_TLSA] = 1;
	f.rcode = NXDOMAIN;
	f.soa_ttl = 1800;
	f.soa_minimum = 1200;
	tlsa(dns, base, &r);
	ck_assert_int_eq(r.status, DNS_NOTFOUND);
	ck_assert_int_eq(r.secure, 1);
	ck_assert_uint_eq(r.ttl, 1200);
	f.soa_ttl = 7;
	tlsa(dns, base, &r);
	ck_assert_uint_eq(r.ttl, DNS_NEGATIVE_TTL_MIN);
	f.soa_ttl = f.soa_minimum = 86400;
	tlsa(dns, base, &r);
	ck_assert_uint_eq(r.ttl, DNS_NEGATIVE_TTL_MAX);
	/* Without an SOA: the least. */
	f.soa_ttl = 0;
	tlsa(dns, base, &r);
	ck_assert_int_eq(r.status, DNS_NOTFOUND);
	ck_assert_uint_eq(r.ttl, DNS_NEGATIVE_TTL_MIN);

	/* SERVFAIL (bogus) is its own failure, not a dead server. */
	f.rcode = SERVFAIL;
	tlsa(dns, base, &r);
	ck_assert_int_eq(r.status, DNS_TEMPFAIL);
	ck_assert_int_eq(r.secure, 0);
	ck_assert_ptr_nonnull(strstr(r.why, "TLSA lookup error for "
	    "_25._tcp.mx.fake.test: SERVFAIL"));
	free(r.why);

	/* A fresh random ID each time (four equal ones: 2^-48). */
	ck_assert_int_eq(f.queries, 7);
	ck_assert(!(f.ids[0] == f.ids[1] && f.ids[1] == f.ids[2] &&
	    f.ids[2] == f.ids[3]));
	dns_free(dns);
	fake_dns_stop(&f);
	event_base_free(base);
}
END_TEST

START_TEST(test_dnssec_ad_ignored_when_enabled)
{
	struct event_base *base = event_base_new();
	struct fake_dns f;
	struct tlsa_result r;
	struct dns *dns;

	fake_dns_start(&f, base);
	dns = fake_dns_resolver(&f, base, DNS_LEVEL_ENABLED);
	ck_assert_int_eq(dns_dnssec(dns), 0);
	f.ad[DNS_TYPE_TLSA] = 1;
	tlsa(dns, base, &r);
	ck_assert_int_eq(r.status, DNS_OK);
	ck_assert_int_eq(r.secure, 0);
	ck_assert_int_eq(f.query_ad[0], 0);
	dns_free(dns);
	fake_dns_stop(&f);
	event_base_free(base);
}
END_TEST

/* A target is secure only when its MX answer and its address answer
 * both were (RFC 7672 2.2). */
START_TEST(test_dnssec_nexthop_status)
{
	static const struct { int mx_ad, a_ad, with_mx, secure; } cases[] = {
		{ 1, 1, 1, 1 },
		{ 0, 1, 1, 0 },
		{ 1, 0, 1, 0 },
		{ 0, 1, 0, 1 },		/* no MX lookup: the address counts */
		{ 0, 0, 0, 0 },
	};
	struct event_base *base = event_base_new();
	struct fake_dns f;
	struct result r;
	struct dns *dns;

	fake_dns_start(&f, base);
	dns = fake_dns_resolver(&f, base, DNS_LEVEL_DNSSEC);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		f.ad[T_MX] = cases[i].mx_ad;
		f.ad[T_A] = cases[i].a_ad;
		resolve(dns, base, "fake.test", cases[i].with_mx,
		    DNS_FAMILY_INET, 25, 0, &r);
		ck_assert_int_eq(r.status, DNS_OK);
		ck_assert_str_eq(r.targets[0], cases[i].with_mx ?
		    "fake.test 10 127.0.0.9 25" : "fake.test 0 127.0.0.9 25");
		ck_assert_msg(r.dnssec == cases[i].secure, "case %zu: %d", i,
		    r.dnssec);
		result_free(&r);
	}
	dns_free(dns);
	fake_dns_stop(&f);
	event_base_free(base);
}
END_TEST

/* ---- TLSA answers (dns_tlsa.c) ----------------------------------------- */

/* A DNS message: header (id 1, QR, AD as asked, RCODE 0), the question
 * _25._tcp.mx.test TLSA, then the answer records given as raw bytes. */
struct msg {
	unsigned char b[4096];
	size_t len;
};

static void
msg_put(struct msg *m, const void *p, size_t n)
{
	ck_assert_uint_le(m->len + n, sizeof(m->b));
	memcpy(m->b + m->len, p, n);
	m->len += n;
}

static void
msg_begin(struct msg *m, unsigned ancount)
{
	static const unsigned char qname[] = "\003_25\004_tcp\002mx\004test";
	unsigned char hdr[12] = { 0, 1, 0x81, 0xa0, 0, 1, 0, 0, 0, 0, 0, 0 };

	m->len = 0;
	hdr[7] = (unsigned char)ancount;
	msg_put(m, hdr, sizeof(hdr));
	msg_put(m, qname, sizeof(qname));	/* with its final 0 */
	msg_put(m, "\0\x34\0\1", 4);
}

/* An answer record at the question's name (a pointer to offset 12). */
static void
msg_rr(struct msg *m, unsigned type, unsigned ttl, const void *rdata,
    size_t rdlen)
{
	unsigned char rr[12] = { 0xc0, 12, 0, 0, 0, 1 };

	rr[2] = (unsigned char)(type >> 8);
	rr[3] = (unsigned char)type;
	rr[6] = (unsigned char)(ttl >> 24);
	rr[7] = (unsigned char)(ttl >> 16);
	rr[8] = (unsigned char)(ttl >> 8);
	rr[9] = (unsigned char)ttl;
	rr[10] = (unsigned char)(rdlen >> 8);
	rr[11] = (unsigned char)rdlen;
	msg_put(m, rr, sizeof(rr));
	msg_put(m, rdata, rdlen);
}

START_TEST(test_tlsa_parse)
{
	static const unsigned char r1[] = { 3, 1, 1, 0xaa, 0xbb, 0xcc };
	static const unsigned char r2[] = { 2, 0, 2, 0x01 };
	struct dns_tlsa *t;
	struct msg m;
	size_t n;
	unsigned int ttl;

	/* Two TLSA records and a CNAME-like other type in between. */
	msg_begin(&m, 3);
	msg_rr(&m, DNS_TYPE_TLSA, 3600, r1, sizeof(r1));
	msg_rr(&m, 5, 60, "\0", 1);
	msg_rr(&m, DNS_TYPE_TLSA, 300, r2, sizeof(r2));
	ck_assert_int_eq(dns_tlsa_parse(m.b, (int)m.len, &t, &n, &ttl),
	    ARES_SUCCESS);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(ttl, 300);
	ck_assert_uint_eq(t[0].usage, 3);
	ck_assert_uint_eq(t[0].selector, 1);
	ck_assert_uint_eq(t[0].mtype, 1);
	ck_assert_uint_eq(t[0].len, 3);
	ck_assert_int_eq(memcmp(t[0].data, r1 + 3, 3), 0);
	ck_assert_uint_eq(t[1].usage, 2);
	ck_assert_uint_eq(t[1].mtype, 2);
	ck_assert_uint_eq(t[1].len, 1);
	dns_tlsa_free(t, n);

	/* No answer: success with nothing. */
	msg_begin(&m, 0);
	ck_assert_int_eq(dns_tlsa_parse(m.b, (int)m.len, &t, &n, &ttl),
	    ARES_SUCCESS);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(t);
}
END_TEST

START_TEST(test_tlsa_parse_malformed)
{
	static const unsigned char r1[] = { 3, 1, 1, 0xaa, 0xbb, 0xcc };
	struct dns_tlsa *t;
	struct msg m;
	size_t n, cut;
	unsigned int ttl;

	/* Every truncation of a good message is refused, never read past. */
	msg_begin(&m, 1);
	msg_rr(&m, DNS_TYPE_TLSA, 3600, r1, sizeof(r1));
	for (cut = 0; cut < m.len; cut++) {
		unsigned char *copy = xmalloc(cut > 0 ? cut : 1);

		memcpy(copy, m.b, cut);
		ck_assert_int_eq(dns_tlsa_parse(copy, (int)cut, &t, &n, &ttl),
		    ARES_EBADRESP);
		ck_assert_ptr_null(t);
		ck_assert_uint_eq(n, 0);
		free(copy);
	}
	/* A TLSA record shorter than its three fixed bytes. */
	msg_begin(&m, 1);
	msg_rr(&m, DNS_TYPE_TLSA, 3600, r1, 2);
	ck_assert_int_eq(dns_tlsa_parse(m.b, (int)m.len, &t, &n, &ttl),
	    ARES_EBADRESP);
	/* An answer count larger than the records present. */
	msg_begin(&m, 2);
	msg_rr(&m, DNS_TYPE_TLSA, 3600, r1, sizeof(r1));
	ck_assert_int_eq(dns_tlsa_parse(m.b, (int)m.len, &t, &n, &ttl),
	    ARES_EBADRESP);
	ck_assert_ptr_null(t);
	/* A TTL with the top bit set counts as 0 (RFC 2181 8). */
	msg_begin(&m, 1);
	msg_rr(&m, DNS_TYPE_TLSA, 0x80000001U, r1, sizeof(r1));
	ck_assert_int_eq(dns_tlsa_parse(m.b, (int)m.len, &t, &n, &ttl),
	    ARES_SUCCESS);
	ck_assert_uint_eq(ttl, 0);
	dns_tlsa_free(t, n);
}
END_TEST

/* The counts of a message's answer and authority sections. */
static void
msg_counts(struct msg *m, unsigned ancount, unsigned nscount)
{
	m->b[6] = (unsigned char)(ancount >> 8);
	m->b[7] = (unsigned char)ancount;
	m->b[8] = (unsigned char)(nscount >> 8);
	m->b[9] = (unsigned char)nscount;
}

/* An SOA record (MNAME and RNAME as pointers to the question's name),
 * with MINIMUM minimum. */
static void
msg_soa(struct msg *m, unsigned ttl, unsigned minimum, size_t rdlen)
{
	unsigned char rdata[24] = { 0xc0, 12, 0xc0, 12, 0, 0, 0, 1 };

	rdata[20] = (unsigned char)(minimum >> 24);
	rdata[21] = (unsigned char)(minimum >> 16);
	rdata[22] = (unsigned char)(minimum >> 8);
	rdata[23] = (unsigned char)minimum;
	msg_rr(m, 6, ttl, rdata, rdlen);
}

START_TEST(test_answer_ttl)
{
	static const unsigned char r1[] = { 3, 1, 1, 0xaa };
	struct msg m;
	unsigned int ttl;
	size_t cut;

	/* Records: the smallest TTL of the type asked, others ignored. */
	msg_begin(&m, 3);
	msg_rr(&m, DNS_TYPE_TLSA, 3600, r1, sizeof(r1));
	msg_rr(&m, 5, 60, "\0", 1);
	msg_rr(&m, DNS_TYPE_TLSA, 300, r1, sizeof(r1));
	ck_assert_int_eq(dns_answer_ttl(m.b, (int)m.len, DNS_TYPE_TLSA, &ttl),
	    1);
	ck_assert_uint_eq(ttl, 300);

	/* A denial: the smaller of the SOA's TTL and MINIMUM (RFC 2308
	 * 5). */
	msg_begin(&m, 0);
	msg_counts(&m, 0, 1);
	msg_soa(&m, 900, 240, 24);
	ck_assert_int_eq(dns_answer_ttl(m.b, (int)m.len, DNS_TYPE_TLSA, &ttl),
	    1);
	ck_assert_uint_eq(ttl, 240);
	msg_begin(&m, 0);
	msg_counts(&m, 0, 1);
	msg_soa(&m, 120, 3600, 24);
	ck_assert_int_eq(dns_answer_ttl(m.b, (int)m.len, DNS_TYPE_TXT, &ttl),
	    1);
	ck_assert_uint_eq(ttl, 120);
	/* A CNAME answered, its target denied: still a denial. */
	msg_begin(&m, 1);
	msg_rr(&m, 5, 60, "\0", 1);
	msg_counts(&m, 1, 1);
	msg_soa(&m, 600, 500, 24);
	ck_assert_int_eq(dns_answer_ttl(m.b, (int)m.len, DNS_TYPE_TLSA, &ttl),
	    1);
	ck_assert_uint_eq(ttl, 500);
	/* A TTL with the top bit set is 0 (RFC 2181 8). */
	msg_begin(&m, 0);
	msg_counts(&m, 0, 1);
	msg_soa(&m, 0x80000001U, 300, 24);
	ck_assert_int_eq(dns_answer_ttl(m.b, (int)m.len, DNS_TYPE_TLSA, &ttl),
	    1);
	ck_assert_uint_eq(ttl, 0);

	/* No SOA (dnsmasq's NODATA): nothing said. */
	msg_begin(&m, 0);
	ck_assert_int_eq(dns_answer_ttl(m.b, (int)m.len, DNS_TYPE_TLSA, &ttl),
	    0);
	ck_assert_uint_eq(ttl, 0);
	ck_assert_int_eq(dns_answer_ttl(NULL, 0, DNS_TYPE_TLSA, &ttl), 0);
	/* An SOA without room for its five numbers. */
	msg_begin(&m, 0);
	msg_counts(&m, 0, 1);
	msg_soa(&m, 300, 300, 23);
	ck_assert_int_eq(dns_answer_ttl(m.b, (int)m.len, DNS_TYPE_TLSA, &ttl),
	    0);
	/* Every truncation of a good denial says nothing, read in bounds. */
	msg_begin(&m, 0);
	msg_counts(&m, 0, 1);
	msg_soa(&m, 300, 300, 24);
	for (cut = 0; cut < m.len; cut++) {
		unsigned char *copy = xmalloc(cut > 0 ? cut : 1);

		memcpy(copy, m.b, cut);
		ck_assert_int_eq(dns_answer_ttl(copy, (int)cut, DNS_TYPE_TLSA,
		    &ttl), 0);
		free(copy);
	}
}
END_TEST

START_TEST(test_tlsa_parse_limit)
{
	static const unsigned char r1[] = { 3, 1, 1, 0xaa };
	struct dns_tlsa *t;
	struct msg m;
	size_t n;
	unsigned int ttl, i;

	msg_begin(&m, DNS_TLSA_MAX + 5);
	for (i = 0; i < DNS_TLSA_MAX + 5; i++)
		msg_rr(&m, DNS_TYPE_TLSA, 60, r1, sizeof(r1));
	ck_assert_int_eq(dns_tlsa_parse(m.b, (int)m.len, &t, &n, &ttl),
	    ARES_SUCCESS);
	ck_assert_uint_eq(n, DNS_TLSA_MAX);
	dns_tlsa_free(t, n);
}
END_TEST

/* The TTL of a TLSA answer: the smallest of the records kept, which are
 * the first DNS_TLSA_MAX; other types and the authority section do not
 * count. */
START_TEST(test_tlsa_parse_ttl)
{
	static const unsigned char r1[] = { 3, 1, 1, 0xaa };
	struct dns_tlsa *t;
	struct msg m;
	size_t n;
	unsigned int ttl, i;

	/* The smallest is neither the first nor the last; a CNAME's
	 * smaller TTL is not taken. */
	msg_begin(&m, 4);
	msg_rr(&m, DNS_TYPE_TLSA, 600, r1, sizeof(r1));
	msg_rr(&m, DNS_TYPE_TLSA, 60, r1, sizeof(r1));
	msg_rr(&m, 5, 30, "\0", 1);
	msg_rr(&m, DNS_TYPE_TLSA, 300, r1, sizeof(r1));
	ck_assert_int_eq(dns_tlsa_parse(m.b, (int)m.len, &t, &n, &ttl),
	    ARES_SUCCESS);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(ttl, 60);
	dns_tlsa_free(t, n);

	/* More records than are kept: the smallest TTL of the kept ones
	 * (the last kept), not that of the records dropped after them,
	 * which dns_answer_ttl, counting every record, does see. */
	msg_begin(&m, DNS_TLSA_MAX + 5);
	for (i = 0; i < DNS_TLSA_MAX + 5; i++)
		msg_rr(&m, DNS_TYPE_TLSA, i < DNS_TLSA_MAX - 1 ? 3600 :
		    i == DNS_TLSA_MAX - 1 ? 120 : 5, r1, sizeof(r1));
	ck_assert_int_eq(dns_tlsa_parse(m.b, (int)m.len, &t, &n, &ttl),
	    ARES_SUCCESS);
	ck_assert_uint_eq(n, DNS_TLSA_MAX);
	ck_assert_uint_eq(ttl, 120);
	dns_tlsa_free(t, n);
	ck_assert_int_eq(dns_answer_ttl(m.b, (int)m.len, DNS_TYPE_TLSA, &ttl),
	    1);
	ck_assert_uint_eq(ttl, 5);

	/* An authority section announced but missing: the answer's
	 * records stand (the parser reads only the answer section). */
	msg_begin(&m, 2);
	msg_rr(&m, DNS_TYPE_TLSA, 900, r1, sizeof(r1));
	msg_rr(&m, DNS_TYPE_TLSA, 700, r1, sizeof(r1));
	msg_counts(&m, 2, 1);
	ck_assert_int_eq(dns_tlsa_parse(m.b, (int)m.len, &t, &n, &ttl),
	    ARES_SUCCESS);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(ttl, 700);
	dns_tlsa_free(t, n);
}
END_TEST

static Suite *
dns_suite(void)
{
	Suite *s = suite_create("dns");
	TCase *tc;

	tc = tcase_create("sort");
	tcase_add_test(tc, test_sort_order);
	tcase_add_test(tc, test_sort_equal_shuffled);
	tcase_add_test(tc, test_sort_all_permutations);
	suite_add_tcase(s, tc);

	tc = tcase_create("servers");
	tcase_add_test(tc, test_servers_csv);
	tcase_add_test(tc, test_new_bad_servers);
	tcase_add_test(tc, test_new_server_forms);
	tcase_add_test(tc, test_servers_describe);
	tcase_add_test(tc, test_support_level);
	tcase_add_test(tc, test_inet_protocols);
	suite_add_tcase(s, tc);

	tc = tcase_create("tlsa");
	tcase_add_test(tc, test_tlsa_parse);
	tcase_add_test(tc, test_tlsa_parse_malformed);
	tcase_add_test(tc, test_tlsa_parse_limit);
	tcase_add_test(tc, test_tlsa_parse_ttl);
	tcase_add_test(tc, test_answer_ttl);
	suite_add_tcase(s, tc);

	tc = tcase_create("dnssec");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_dnssec_tlsa_status);
	tcase_add_test(tc, test_dnssec_ad_ignored_when_enabled);
	tcase_add_test(tc, test_dnssec_nexthop_status);
	suite_add_tcase(s, tc);

	tc = tcase_create("dnsmasq");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_mx_order);
	tcase_add_test(tc, test_equal_preference_random);
	tcase_add_test(tc, test_implicit_mx);
	tcase_add_test(tc, test_cname_only_mx_answer);
	tcase_add_test(tc, test_no_mx_lookup);
	tcase_add_test(tc, test_null_mx);
	tcase_add_test(tc, test_nxdomain);
	tcase_add_test(tc, test_refused_is_tempfail);
	tcase_add_test(tc, test_mx_host_without_address);
	tcase_add_test(tc, test_families);
	tcase_add_test(tc, test_port_in_sockaddr);
	tcase_add_test(tc, test_max_addresses);
	tcase_add_test(tc, test_literal);
	tcase_add_test(tc, test_target_address);
	tcase_add_test(tc, test_hosts_file_no_packet);
	tcase_add_test(tc, test_closed_server_port);
	tcase_add_test(tc, test_concurrent);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN_WITH(dns_suite, start_dnsmasq, stop_dnsmasq)
