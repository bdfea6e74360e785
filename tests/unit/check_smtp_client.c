/* check_smtp_client: the smtp client pool, run in a libevent loop of this
 * process against real servers on 127.0.0.1 -- tests/unit/peers/
 * smtp_peer.py (aiosmtpd, /usr/bin/python3), plus plain sockets for the
 * cases no server produces on purpose (refused, silent). Each test case
 * starts its own server in an unchecked fixture and stops it by PID; the
 * server records what it received into a directory, which the tests read.
 * A missing python3-aiosmtpd fails the suite; it never skips. */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <glob.h>
#include <netinet/in.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/dns.h"
#include "tlsrelay/log.h"
#include "tlsrelay/smtp.h"
#include "tlsrelay/tls.h"
#include "tlsrelay/tls_client.h"
#include "tlsrelay/util.h"
#include "testutil.h"

#define PYTHON	"/usr/bin/python3"

static const char *tmpdir;

/* ---- files and commands ------------------------------------------------- */

static size_t
count_lines(const char *text, const char *needle)
{
	size_t n = 0;

	for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the peer ----------------------------------------------------------- */

static struct peer {
	pid_t pid;
	unsigned port;
	char *dir;
} peer;

static void
peer_start(const char *name, const char *args)
{
	const char *top = getenv("TOP_SRCDIR");
	char *script, *portfile, *cmd, *text;
	int status;

	script = xasprintf("%s/tests/unit/peers/smtp_peer.py",
	    top ? top : "..");
	if (access(PYTHON, X_OK) != 0 || access(script, R_OK) != 0) {
		fprintf(stderr, "check_smtp_client: need %s and %s "
		    "(Debian packages python3, python3-aiosmtpd)\n", PYTHON,
		    script);
		exit(EXIT_FAILURE);
	}
	peer.dir = xasprintf("%s/%s", tmpdir, name);
	portfile = xasprintf("%s/port", peer.dir);
	mkdir(peer.dir, 0700);
	unlink(portfile);
	/* In tmpdir, where the certificates are; its complaints about
	 * the broken clients it meets on purpose go to a file. */
	cmd = xasprintf("cd '%s' && exec " PYTHON " '%s' --port-file '%s' "
	    "--dir '%s' %s 2>'%s/stderr'", tmpdir, script, portfile,
	    peer.dir, args, peer.dir);
	if ((peer.pid = fork()) == 0) {
		/* Gone with us, even when we are killed. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	/* Up to 20 s for the interpreter to import aiosmtpd and listen. */
	for (int i = 0; i < 400 && access(portfile, R_OK) != 0; i++) {
		if (waitpid(peer.pid, &status, WNOHANG) == peer.pid) {
			fprintf(stderr, "check_smtp_client: the test server "
			    "exited (is python3-aiosmtpd installed?): %s\n",
			    cmd);
			text = xasprintf("cat '%s/stderr' >&2", peer.dir);
			if (system(text) != 0)
				fprintf(stderr, "(no stderr)\n");
			exit(EXIT_FAILURE);
		}
		usleep(50000);
	}
	text = tu_slurp(portfile, NULL);
	peer.port = (unsigned)strtoul(text, NULL, 10);
	if (peer.port == 0) {
		fprintf(stderr, "check_smtp_client: the test server did not "
		    "start: %s\n", cmd);
		kill(peer.pid, SIGTERM);
		exit(EXIT_FAILURE);
	}
	free(text);
	free(cmd);
	free(portfile);
	free(script);
}

static void
peer_stop(void)
{
	if (peer.pid > 0) {
		kill(peer.pid, SIGTERM);
		waitpid(peer.pid, NULL, 0);
		peer.pid = 0;
	}
	free(peer.dir);
	peer.dir = NULL;
}

/* Forgets what the server recorded, so that a test sees its own. */
static void
peer_clear(void)
{
	tu_run(tmpdir, "rm -f '%s'/msg-* '%s/connections' '%s/events'",
	    peer.dir, peer.dir, peer.dir);
}

static char *
peer_file(const char *name)
{
	char *path = xasprintf("%s/%s", peer.dir, name), *text;

	text = tu_slurp(path, NULL);
	free(path);
	return text;
}

static size_t
peer_connections(void)
{
	char *text = peer_file("connections");
	size_t n = count_lines(text, "connect ");

	free(text);
	return n;
}

static int
by_number(const void *a, const void *b)
{
	const char *x = strrchr(*(char *const *)a, '-');
	const char *y = strrchr(*(char *const *)b, '-');

	return atoi(x + 1) - atoi(y + 1);
}

/* The n-th message (0 first) since peer_clear: its content (ext "eml")
 * or envelope ("json"); NULL when there is none. */
static char *
peer_message(size_t n, const char *ext, size_t *len)
{
	char *pattern = xasprintf("%s/msg-*.%s", peer.dir, ext), *text = NULL;
	glob_t g;

	if (glob(pattern, 0, NULL, &g) == 0) {
		qsort(g.gl_pathv, g.gl_pathc, sizeof(char *), by_number);
		if (n < g.gl_pathc)
			text = tu_slurp(g.gl_pathv[n], len);
		globfree(&g);
	}
	free(pattern);
	return text;
}

/* The server's number for the connection that carried a message. */
static int
message_conn(size_t n)
{
	char *json = peer_message(n, "json", NULL), *p;
	int id = -1;

	if (json != NULL && (p = strstr(json, "\"conn\": ")) != NULL)
		id = atoi(p + strlen("\"conn\": "));
	free(json);
	return id;
}

static int
peer_event(int conn, const char *what)
{
	char *events = peer_file("events"), *line;
	int found;

	line = xasprintf("%d %s", conn, what);
	found = strstr(events, line) != NULL;
	free(line);
	free(events);
	return found;
}

static size_t
peer_messages(void)
{
	size_t n = 0;
	char *text;

	while ((text = peer_message(n, "json", NULL)) != NULL) {
		free(text);
		n++;
	}
	return n;
}

static void
plain_up(void)
{
	peer_start("plain", "");
}

static void
pipelining_up(void)
{
	peer_start("pipelining", "--pipelining");
}

static void
tls_up(void)
{
	peer_start("tls", "--cert peer.crt --key peer.key --pipelining "
	    "--client-ca client.crt");
}

static void
tls12_up(void)
{
	peer_start("tls12", "--cert peer.crt --key peer.key --tls-max 1.2");
}

static void
inject_up(void)
{
	peer_start("inject", "--inject --cert peer.crt --key peer.key");
}

static void
small_up(void)
{
	peer_start("small", "--size 1000");
}

static void
dropper_up(void)
{
	peer_start("dropper", "--drop-in-data");
}

static void
noehlo_up(void)
{
	peer_start("noehlo", "--reject-ehlo");
}

static void
peer_down(void)
{
	peer_stop();
}

/* Certificates for the peer (peer.test) and for the client. */
static const struct tu_cert certs[] = {
	{ "peer", "/CN=peer.test", NULL, "ec", NULL },
	{ "client", "/CN=client.test", NULL, "ec", NULL },
};

static void
suite_up(void)
{
	/* A peer that dies must not take this process with it. */
	signal(SIGPIPE, SIG_IGN);
	tmpdir = tu_tmpdir();
	tu_make_certs(tmpdir, certs, sizeof(certs) / sizeof(certs[0]));
}

/* ---- the client side ---------------------------------------------------- */

struct client {
	struct event_base *base;
	struct conf *conf;
	struct tls_client *tls;
	struct smtp_pool *pool;
	char *logpath;
	int want, got;
};

static void
client_start(struct client *c, const char *extra)
{
	char *main_cf, *err = NULL;

	memset(c, 0, sizeof(*c));
	c->logpath = xasprintf("%s/log.%ld", tmpdir, (long)getpid());
	unlink(c->logpath);
	log_set_service("tlsrelay", "smtp");
	if (log_open(c->logpath, 0, "mail", &err) != 0)
		ck_abort_msg("log_open: %s", err);
	main_cf = xasprintf("myhostname = client.test\n"
	    "smtp_connect_timeout = 5s\n%s\n", extra ? extra : "");
	c->conf = conf_load_strings(main_cf, "main.cf", NULL, NULL, &err);
	ck_assert_msg(c->conf != NULL, "conf: %s", err);
	free(main_cf);
	c->base = event_base_new();
	c->tls = tls_client_new(c->conf, &err);
	ck_assert_msg(c->tls != NULL, "tls_client_new: %s", err);
	c->pool = smtp_pool_new(c->base, c->conf, c->tls, &err);
	ck_assert_msg(c->pool != NULL, "smtp_pool_new: %s", err);
}

static void
client_stop(struct client *c)
{
	smtp_pool_free(c->pool);
	event_base_free(c->base);
	tls_client_free(c->tls);
	conf_free(c->conf);
	log_close();
	free(c->logpath);
}

static char *
client_log(const struct client *c)
{
	return tu_slurp(c->logpath, NULL);
}

static int
log_has(const struct client *c, const char *needle)
{
	char *text = client_log(c);
	int found = strstr(text, needle) != NULL;

	free(text);
	return found;
}

static void
job_counted(void *arg, struct smtp_job *job)
{
	struct client *c = arg;

	(void)job;
	if (++c->got >= c->want)
		event_base_loopbreak(c->base);
}

/* Runs the loop until want jobs are done (or fails after seconds). */
static void
client_wait(struct client *c, int want, int seconds)
{
	struct timeval tv = { .tv_sec = seconds, .tv_usec = 0 };

	c->want = want;
	if (c->got < want) {
		event_base_loopexit(c->base, &tv);
		event_base_dispatch(c->base);
	}
	ck_assert_msg(c->got >= want, "%d of %d jobs done after %d s", c->got,
	    want, seconds);
}

/* Runs the loop for a while, for what happens after the callbacks. */
static void
client_idle(struct client *c, double seconds)
{
	struct timeval tv = { .tv_sec = (time_t)seconds,
	    .tv_usec = (suseconds_t)((seconds - (time_t)seconds) * 1e6) };

	event_base_loopexit(c->base, &tv);
	event_base_dispatch(c->base);
}

struct tjob {
	struct smtp_job job;
	struct smtp_rcpt rcpts[8];
	struct dns_target targets[4];
};

#define ENVELOPE_JUNK	"TLSRELAY-QUEUE 1\nM\n"

/* A job whose content sits in a file after some bytes that are not
 * content, as in a queue file. */
static void
tjob_init(struct tjob *t, const char *content, size_t len, int level)
{
	char path[64];
	int fd;

	memset(t, 0, sizeof(*t));
	snprintf(path, sizeof(path), "%s/content.XXXXXX", tmpdir);
	ck_assert_int_ge(fd = mkstemp(path), 0);
	unlink(path);
	ck_assert_int_eq(write(fd, ENVELOPE_JUNK, strlen(ENVELOPE_JUNK)),
	    (ssize_t)strlen(ENVELOPE_JUNK));
	ck_assert_int_eq(write(fd, content, len), (ssize_t)len);
	t->job.queue_id = "4F1A2B3C4D5E6F";
	t->job.nexthop = "peer.test";
	t->job.sender = "sender@client.test";
	t->job.rcpts = t->rcpts;
	t->job.targets = t->targets;
	t->job.content_fd = fd;
	t->job.content_offset = (off_t)strlen(ENVELOPE_JUNK);
	t->job.content_length = (off_t)len;
	t->job.arrival = now() - 0.5;
	t->job.queue_entry = now() - 0.1;
	t->job.tls_level = level;
}

static void
tjob_simple(struct tjob *t, int level)
{
	static const char content[] = "Subject: test\r\n\r\nHello.\r\n";

	tjob_init(t, content, sizeof(content) - 1, level);
}

static void
tjob_rcpt(struct tjob *t, const char *address)
{
	t->rcpts[t->job.n_rcpts++].address = address;
}

static void
tjob_target(struct tjob *t, const char *name, unsigned port)
{
	struct dns_target *d = &t->targets[t->job.n_targets++];
	struct sockaddr_in *sin = (struct sockaddr_in *)&d->addr;

	d->hostname = xstrdup(name);
	sin->sin_family = AF_INET;
	sin->sin_port = htons((unsigned short)port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	d->addrlen = sizeof(*sin);
}

static void
tjob_free(struct tjob *t)
{
	for (size_t i = 0; i < t->job.n_rcpts; i++) {
		free(t->rcpts[i].reason);
		free(t->rcpts[i].relay);
	}
	for (size_t i = 0; i < t->job.n_targets; i++)
		free(t->targets[i].hostname);
	close(t->job.content_fd);
}

/* One job, one target (the peer), delivered and waited for. */
static void
deliver(struct client *c, struct tjob *t)
{
	smtp_pool_deliver(c->pool, &t->job, job_counted, c);
	client_wait(c, c->got + 1, 30);
}

static char *
peer_relay(const char *host)
{
	return xasprintf("%s[127.0.0.1]:%u", host, peer.port);
}

/* A port where nothing listens. */
static unsigned
closed_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

/* A server that accepts connections (the kernel does) and never says a
 * word. The caller closes *fd. */
static unsigned
silent_port(int *fd)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	*fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(*fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(*fd, 8), 0);
	ck_assert_int_eq(getsockname(*fd, (struct sockaddr *)&sin, &len), 0);
	return ntohs(sin.sin_port);
}

/* ---- plaintext ---------------------------------------------------------- */

START_TEST(plain_delivery)
{
	static const char content[] = "Subject: plain\r\n\r\nHello.\r\n";
	struct client c;
	struct tjob t;
	char *relay, *json, *eml, *line;
	size_t len;

	peer_clear();
	client_start(&c, NULL);
	tjob_init(&t, content, sizeof(content) - 1, TLS_LEV_NONE);
	tjob_rcpt(&t, "alice@peer.test");
	tjob_target(&t, "peer.test", peer.port);
	deliver(&c, &t);

	relay = peer_relay("peer.test");
	ck_assert_int_eq(t.rcpts[0].outcome, SMTP_SENT);
	ck_assert_str_eq(t.rcpts[0].dsn, "2.0.0");
	ck_assert_str_eq(t.rcpts[0].relay, relay);
	ck_assert_msg(strncmp(t.rcpts[0].reason, "250 2.0.0 Ok: queued as M",
	    25) == 0, "reason: %s", t.rcpts[0].reason);
	json = peer_message(0, "json", NULL);
	ck_assert_ptr_nonnull(json);
	ck_assert_ptr_nonnull(strstr(json, "\"mail_from\": "
	    "\"sender@client.test\""));
	ck_assert_ptr_nonnull(strstr(json, "\"rcpt_tos\": "
	    "[\"alice@peer.test\"]"));
	ck_assert_ptr_nonnull(strstr(json, "\"tls\": false"));
	ck_assert_ptr_nonnull(strstr(json, "\"helo\": \"client.test\""));
	eml = peer_message(0, "eml", &len);
	ck_assert_uint_eq(len, sizeof(content) - 1);
	ck_assert_mem_eq(eml, content, len);
	line = xasprintf("4F1A2B3C4D5E6F: to=<alice@peer.test>, relay=%s, "
	    "delay=", relay);
	ck_assert_msg(log_has(&c, line), "no line \"%s\"", line);
	ck_assert(log_has(&c, "dsn=2.0.0, status=sent (250 2.0.0 Ok: "
	    "queued as M"));
	free(line);
	free(eml);
	free(json);
	free(relay);
	tjob_free(&t);
	client_stop(&c);
}
END_TEST

START_TEST(log_line_format)
{
	struct client c;
	struct tjob t;
	regex_t re;
	char *log, *pattern;

	peer_clear();
	client_start(&c, "smtp_helo_name = relay.example");
	tjob_simple(&t, TLS_LEV_NONE);
	tjob_rcpt(&t, "fmt@peer.test");
	tjob_target(&t, "peer.test", peer.port);
	deliver(&c, &t);
	pattern = xasprintf("tlsrelay/smtp\\[[0-9]+\\]: 4F1A2B3C4D5E6F: "
	    "to=<fmt@peer\\.test>, relay=peer\\.test\\[127\\.0\\.0\\.1\\]:%u, "
	    "delay=[0-9]+(\\.[0-9]{1,2})?, "
	    "delays=0\\.[0-9]{1,2}/[0-9.]+/[0-9.]+/[0-9.]+, dsn=2\\.0\\.0, "
	    "status=sent \\(250 2\\.0\\.0 Ok: queued as M[0-9]+\\)\n",
	    peer.port);
	ck_assert_int_eq(regcomp(&re, pattern, REG_EXTENDED), 0);
	log = client_log(&c);
	ck_assert_msg(regexec(&re, log, 0, NULL, 0) == 0, "log:\n%s", log);
	/* arrival 0.5 s ago, queue entry 0.1 s ago: delay about 0.5. */
	ck_assert_ptr_nonnull(strstr(log, "delays=0.4/"));
	free(log);
	log = peer_message(0, "json", NULL);
	ck_assert_ptr_nonnull(strstr(log, "\"helo\": \"relay.example\""));
	regfree(&re);
	free(log);
	free(pattern);
	tjob_free(&t);
	client_stop(&c);
}
END_TEST

START_TEST(reply_per_recipient)
{
	struct client c;
	struct tjob t;
	char *json, *relay = peer_relay("peer.test");

	peer_clear();
	client_start(&c, NULL);
	tjob_simple(&t, TLS_LEV_NONE);
	tjob_rcpt(&t, "ok@peer.test");
	tjob_rcpt(&t, "r450-busy@peer.test");
	tjob_rcpt(&t, "r550-gone@peer.test");
	tjob_rcpt(&t, "ok2@peer.test");
	tjob_target(&t, "peer.test", peer.port);
	deliver(&c, &t);

	ck_assert_int_eq(t.rcpts[0].outcome, SMTP_SENT);
	ck_assert_int_eq(t.rcpts[3].outcome, SMTP_SENT);
	ck_assert_int_eq(t.rcpts[1].outcome, SMTP_DEFER);
	ck_assert_str_eq(t.rcpts[1].dsn, "4.2.0");
	ck_assert_str_eq(t.rcpts[1].reason, "host peer.test[127.0.0.1] said: "
	    "450 4.2.0 <r450-busy@peer.test>: Recipient busy, try later "
	    "(in reply to RCPT TO command)");
	ck_assert_str_eq(t.rcpts[1].relay, relay);
	ck_assert_int_eq(t.rcpts[2].outcome, SMTP_BOUNCE);
	ck_assert_str_eq(t.rcpts[2].dsn, "5.1.1");
	ck_assert_str_eq(t.rcpts[2].reason, "host peer.test[127.0.0.1] said: "
	    "550 5.1.1 <r550-gone@peer.test>: Recipient address rejected "
	    "(in reply to RCPT TO command)");
	ck_assert(log_has(&c, "to=<r450-busy@peer.test>"));
	ck_assert(log_has(&c, "dsn=4.2.0, status=deferred (host peer.test"));
	ck_assert(log_has(&c, "dsn=5.1.1, status=bounced (host peer.test"));
	/* One message for the two that were accepted. */
	ck_assert_uint_eq(peer_messages(), 1);
	json = peer_message(0, "json", NULL);
	ck_assert_ptr_nonnull(strstr(json, "\"rcpt_tos\": [\"ok@peer.test\", "
	    "\"ok2@peer.test\"]"));
	free(json);
	free(relay);
	tjob_free(&t);
	client_stop(&c);
}
END_TEST

START_TEST(all_rejected)
{
	struct client c;
	struct tjob t;

	peer_clear();
	client_start(&c, NULL);
	tjob_simple(&t, TLS_LEV_NONE);
	tjob_rcpt(&t, "r550-a@peer.test");
	tjob_rcpt(&t, "r450-b@peer.test");
	tjob_target(&t, "peer.test", peer.port);
	deliver(&c, &t);
	ck_assert_int_eq(t.rcpts[0].outcome, SMTP_BOUNCE);
	ck_assert_int_eq(t.rcpts[1].outcome, SMTP_DEFER);
	ck_assert_uint_eq(peer_messages(), 0);
	tjob_free(&t);
	client_stop(&c);
}
END_TEST

/* Lines of the content as sent: none longer than 998 bytes (CR LF aside),
 * and without the CR LF SPACE that broke longer ones, the content. */
static size_t
unbreak_lines(char *text, size_t len)
{
	size_t out = 0, line = 0;

	for (size_t i = 0; i < len; i++) {
		if (text[i] == '\n') {
			line = 0;
		} else if (text[i] != '\r') {
			ck_assert_uint_lt(line, 998);
			line++;
		}
		if (text[i] == '\r' && i + 2 < len && text[i + 1] == '\n' &&
		    text[i + 2] == ' ') {
			i += 2;		/* a break of smtp_line_length_limit */
			line = 1;
			continue;
		}
		text[out++] = text[i];
	}
	return out;
}

/* Dot lines, 8-bit bytes, a line of 5000 characters, no CR LF at the
 * end: what arrives is the content (plus the CR LF it lacked), its long
 * line broken at 998 bytes as Postfix breaks it. */
START_TEST(bytes_intact)
{
	struct strbuf sb;
	struct client c;
	struct tjob t;
	char *eml, *json;
	size_t len;

	peer_clear();
	strbuf_init(&sb);
	strbuf_puts(&sb, "Subject: dots\r\n\r\n.\r\n..\r\n.leading\r\n"
	    "middle . dot\r\n. \r\n");
	strbuf_puts(&sb, "8bit: \xc3\xa9\xe2\x82\xac \xff\xfe\x80\r\n");
	for (int i = 0; i < 5000; i++)
		strbuf_puts(&sb, i % 100 == 0 ? "." : "x");
	strbuf_puts(&sb, "\r\nlast line without CR LF");
	client_start(&c, NULL);
	tjob_init(&t, sb.data, sb.len, TLS_LEV_NONE);
	t.job.body_8bitmime = 1;
	tjob_rcpt(&t, "bytes@peer.test");
	tjob_target(&t, "peer.test", peer.port);
	deliver(&c, &t);
	ck_assert_int_eq(t.rcpts[0].outcome, SMTP_SENT);

	strbuf_puts(&sb, "\r\n");
	eml = peer_message(0, "eml", &len);
	ck_assert_ptr_nonnull(eml);
	ck_assert_uint_eq(len, sb.len + 5 * 3);	/* 5000 / 998: 5 breaks */
	len = unbreak_lines(eml, len);
	ck_assert_uint_eq(len, sb.len);
	ck_assert_mem_eq(eml, sb.data, len);
	json = peer_message(0, "json", NULL);
	ck_assert_msg(strstr(json, "BODY=8BITMIME") != NULL, "%s", json);
	free(json);
	free(eml);
	strbuf_free(&sb);
	tjob_free(&t);
	client_stop(&c);
}
END_TEST

static void
two_megabytes_at(int level)
{
	struct strbuf sb;
	struct client c;
	struct tjob t;
	unsigned seed = 42;
	char *eml, *json, *size;
	size_t len;

	peer_clear();
	strbuf_init(&sb);
	strbuf_puts(&sb, "Subject: big\r\n\r\n");
	/* Lines of every length, some starting with a dot. */
	while (sb.len < 2 * 1024 * 1024) {
		size_t n = (size_t)(rand_r(&seed) % 300);
		char line[320];

		for (size_t i = 0; i < n; i++)
			line[i] = (char)('a' + rand_r(&seed) % 26);
		if (n > 0 && rand_r(&seed) % 7 == 0)
			line[0] = '.';
		strbuf_append(&sb, line, n);
		strbuf_puts(&sb, "\r\n");
	}
	client_start(&c, NULL);
	tjob_init(&t, sb.data, sb.len, level);
	tjob_rcpt(&t, "big@peer.test");
	tjob_target(&t, "peer.test", peer.port);
	deliver(&c, &t);
	ck_assert_int_eq(t.rcpts[0].outcome, SMTP_SENT);
	eml = peer_message(0, "eml", &len);
	ck_assert_uint_eq(len, sb.len);
	ck_assert(memcmp(eml, sb.data, len) == 0);
	/* The server offers SIZE: MAIL says how big. */
	json = peer_message(0, "json", NULL);
	size = xasprintf("\"SIZE=%zu\"", sb.len);
	ck_assert_msg(strstr(json, size) != NULL, "%s", json);
	ck_assert_ptr_nonnull(strstr(json, level == TLS_LEV_NONE ?
	    "\"tls\": false" : "\"tls\": true"));
	free(size);
	free(json);
	free(eml);
	strbuf_free(&sb);
	tjob_free(&t);
	client_stop(&c);
}

START_TEST(two_megabytes)
{
	two_megabytes_at(TLS_LEV_NONE);
}
END_TEST

START_TEST(two_megabytes_tls)
{
	two_megabytes_at(TLS_LEV_ENCRYPT);
}
END_TEST

START_TEST(no_pipelining_when_not_offered)
{
	struct client c;
	struct tjob t;
	char *json;

	peer_clear();
	client_start(&c, NULL);
	tjob_simple(&t, TLS_LEV_NONE);
	tjob_rcpt(&t, "a@peer.test");
	tjob_rcpt(&t, "b@peer.test");
	tjob_target(&t, "peer.test", peer.port);
	deliver(&c, &t);
	json = peer_message(0, "json", NULL);
	ck_assert_ptr_nonnull(strstr(json, "\"pipelined\": false"));
	free(json);
	tjob_free(&t);
	client_stop(&c);
}
END_TEST

START_TEST(pipelining_used)
{
	struct client c;
	struct tjob t;
	char *json;

	peer_clear();
	client_start(&c, NULL);
	tjob_simple(&t, TLS_LEV_NONE);
	tjob_rcpt(&t, "a@peer.test");
	tjob_rcpt(&t, "r550-no@peer.test");
	tjob_rcpt(&t, "b@peer.test");
	tjob_target(&t, "peer.test", peer.port);
	deliver(&c, &t);
	ck_assert_int_eq(t.rcpts[0].outcome, SMTP_SENT);
	ck_assert_int_eq(t.rcpts[1].outcome, SMTP_BOUNCE);
	ck_assert_int_eq(t.rcpts[2].outcome, SMTP_SENT);
	json = peer_message(0, "json", NULL);
	ck_assert_msg(strstr(json, "\"pipelined\": true") != NULL, "%s", json);
	ck_assert_ptr_nonnull(strstr(json, "\"rcpt_tos\": [\"a@peer.test\", "
	    "\"b@peer.test\"]"));
	free(json);
	tjob_free(&t);
	client_stop(&c);
}
END_TEST

START_TEST(connect_refused_then_next)
{
	struct client c;
	struct tjob t;
	unsigned dead = closed_port();
	char *line, *relay = peer_relay("mx2.test");

	peer_clear();
	client_start(&c, NULL);
	tjob_simple(&t, TLS_LEV_NONE);
	tjob_rcpt(&t, "next@peer.test");
	tjob_target(&t, "mx1.test", dead);
	tjob_target(&t, "mx2.test", peer.port);
	deliver(&c, &t);
	ck_assert_int_eq(t.rcpts[0].outcome, SMTP_SENT);
	ck_assert_str_eq(t.rcpts[0].relay, relay);
	line = xasprintf("connect to mx1.test[127.0.0.1]:%u: Connection "
	    "refused", dead);
	ck_assert_msg(log_has(&c, line), "no \"%s\"", line);
	ck_assert_uint_eq(peer_messages(), 1);
	free(line);
	free(relay);
	tjob_free(&t);
	client_stop(&c);
}
END_TEST

START_TEST(all_targets_refused)
{
	struct client c;
	struct tjob t;
	unsigned dead1 = closed_port(), dead2 = closed_port();
	char *reason;

	client_start(&c, NULL);
	tjob_simple(&t, TLS_LEV_NONE);
	tjob_rcpt(&t, "x@peer.test");
	tjob_rcpt(&t, "y@peer.test");
	tjob_target(&t, "mx1.test", dead1);
	tjob_target(&t, "mx2.test", dead2);
	deliver(&c, &t);
	reason = xasprintf("connect to mx2.test[127.0.0.1]:%u: Connection "
	    "refused", dead2);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(t.rcpts[i].outcome, SMTP_DEFER);
		ck_assert_str_eq(t.rcpts[i].dsn, "4.4.1");
		ck_assert_str_eq(t.rcpts[i].reason, reason);
		ck_assert_str_eq(t.rcpts[i].relay, "none");
	}
	ck_assert(log_has(&c, "relay=none, delay="));
	free(reason);
	tjob_free(&t);
	client_stop(&c);
}
END_TEST

START_TEST(greeting_timeout)
{
	struct client c;
	struct tjob t;
	int fd;
	unsigned port = silent_port(&fd);
	double start = now();

	client_start(&c, "smtp_helo_timeout = 1s");
	tjob_simple(&t, TLS_LEV_NONE);
	tjob_rcpt(&t, "late@peer.test");
	tjob_target(&t, "silent.test", port);
	deliver(&c, &t);
	ck_assert_int_eq(t.rcpts[0].outcome, SMTP_DEFER);
	ck_assert_str_eq(t.rcpts[0].dsn, "4.4.2");
	ck_assert_str_eq(t.rcpts[0].reason, "conversation with "
	    "silent.test[127.0.0.1] timed out while receiving the initial "
	    "server greeting");
	ck_assert(now() - start < 10);
	close(fd);
	tjob_free(&t);
	client_stop(&c);
}
END_TEST

START_TEST(rcpt_timeout)
{
	struct client c;
	struct tjob t;

	client_start(&c, "smtp_rcpt_timeout = 1s");
	tjob_simple(&t, TLS_LEV_NONE);
	tjob_rcpt(&t, "first@peer.test");
	tjob_rcpt(&t, "stall-x@peer.test");
	tjob_target(&t, "peer.test", peer.port);
	deliver(&c, &t);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(t.rcpts[i].outcome, SMTP_DEFER);
		ck_assert_str_eq(t.rcpts[i].reason, "conversation with "
		    "peer.test[127.0.0.1] timed out while sending RCPT TO");
	}
	tjob_free(&t);
	client_stop(&c);
}
END_TEST

START_TEST(size_limit_bounce)
{
	struct client c;
	struct tjob t;
	char content[2000];

	peer_clear();
	memset(content, 'x', sizeof(content));
	memcpy(content + sizeof(content) - 2, "\r\n", 2);
	client_start(&c, NULL);
	tjob_init(&t, content, sizeof(content), TLS_LEV_NONE);
	tjob_rcpt(&t, "big@peer.test");
	tjob_target(&t, "peer.test", peer.port);
	deliver(&c, &t);
	ck_assert_int_eq(t.rcpts[0].outcome, SMTP_BOUNCE);
	ck_assert_str_eq(t.rcpts[0].dsn, "5.3.4");
	ck_assert_str_eq(t.rcpts[0].reason, "message size 2000 exceeds size "
	    "limit 1000 of server peer.test[127.0.0.1]");
	ck_assert_uint_eq(peer_messages(), 0);
	/* A small one still goes, on the same connection. */
	tjob_free(&t);
	tjob_simple(&t, TLS_LEV_NONE);
	tjob_rcpt(&t, "small@peer.test");
	tjob_target(&t, "peer.test", peer.port);
	deliver(&c, &t);
	ck_assert_int_eq(t.rcpts[0].outcome, SMTP_SENT);
	ck_assert_uint_eq(peer_connections(), 1);
	tjob_free(&t);
	client_stop(&c);
}
END_TEST

START_TEST(helo_fallback)
{
	struct client c;
	struct tjob t;
	char *events;

	peer_clear();
	client_start(&c, NULL);
	tjob_simple(&t, TLS_LEV_NONE);
	tjob_rcpt(&t, "helo@peer.test");
	tjob_target(&t, "peer.test", peer.port);
	deliver(&c, &t);
	ck_assert_int_eq(t.rcpts[0].outcome, SMTP_SENT);
	events = peer_file("events");
	ck_assert_ptr_nonnull(strstr(events, "1 ehlo client.test"));
	ck_assert_ptr_nonnull(strstr(events, "1 helo client.test"));
	free(events);
	tjob_free(&t);
	client_stop(&c);
}
END_TEST

/* ---- connection reuse and concurrency ----------------------------------- */

struct chain {
	struct client *c;
	struct tjob *next;
};

static void
deliver_next(void *arg, struct smtp_job *job)
{
	struct chain *ch = arg;

	(void)job;
	ch->c->got++;
	smtp_pool_deliver(ch->c->pool, &ch->next->job, job_counted, ch->c);
}

START_TEST(connection_reuse)
{
	struct client c;
	struct tjob t1, t2;
	struct chain ch = { &c, &t2 };
	char *events;
	int conn;

	peer_clear();
	client_start(&c, NULL);
	tjob_simple(&t1, TLS_LEV_NONE);
	tjob_rcpt(&t1, "one@peer.test");
	tjob_target(&t1, "peer.test", peer.port);
	tjob_simple(&t2, TLS_LEV_NONE);
	tjob_rcpt(&t2, "two@peer.test");
	tjob_target(&t2, "peer.test", peer.port);
	/* The second job comes when the first is done, as from the queue
	 * manager. */
	smtp_pool_deliver(c.pool, &t1.job, deliver_next, &ch);
	client_wait(&c, 2, 30);
	ck_assert_int_eq(t1.rcpts[0].outcome, SMTP_SENT);
	ck_assert_int_eq(t2.rcpts[0].outcome, SMTP_SENT);
	ck_assert_uint_eq(peer_messages(), 2);
	ck_assert_uint_eq(peer_connections(), 1);
	conn = message_conn(0);
	ck_assert_int_eq(message_conn(1), conn);
	/* Reset between the messages; no QUIT before the cache time
	 * (smtp_connection_cache_time_limit, 2 s) is up, QUIT after. */
	ck_assert(peer_event(conn, "rset"));
	client_idle(&c, 1);
	ck_assert(!peer_event(conn, "quit"));
	client_idle(&c, 2.5);
	ck_assert(peer_event(conn, "quit"));
	events = peer_file("events");
	ck_assert_uint_eq(count_lines(events, "ehlo"), 1);
	ck_assert_uint_eq(smtp_pool_busy(c.pool), 0);
	free(events);
	tjob_free(&t1);
	tjob_free(&t2);
	client_stop(&c);
}
END_TEST

START_TEST(no_reuse_without_cache)
{
	struct client c;
	struct tjob t1, t2;
	struct chain ch = { &c, &t2 };
	char *events;

	peer_clear();
	client_start(&c, "smtp_connection_cache_on_demand = no");
	tjob_simple(&t1, TLS_LEV_NONE);
	tjob_rcpt(&t1, "one@peer.test");
	tjob_target(&t1, "peer.test", peer.port);
	tjob_simple(&t2, TLS_LEV_NONE);
	tjob_rcpt(&t2, "two@peer.test");
	tjob_target(&t2, "peer.test", peer.port);
	smtp_pool_deliver(c.pool, &t1.job, deliver_next, &ch);
	client_wait(&c, 2, 30);
	ck_assert_int_eq(t2.rcpts[0].outcome, SMTP_SENT);
	client_idle(&c, 0.5);
	ck_assert_uint_eq(peer_connections(), 2);
	ck_assert_int_ne(message_conn(0), message_conn(1));
	ck_assert(peer_event(message_conn(0), "quit"));
	ck_assert(peer_event(message_conn(1), "quit"));
	events = peer_file("events");
	ck_assert_uint_eq(count_lines(events, " rset"), 0);
	free(events);
	tjob_free(&t1);
	tjob_free(&t2);
	client_stop(&c);
}
END_TEST

static void
concurrent(const char *main_cf, size_t n_jobs, size_t expect_conns)
{
	struct client c;
	struct tjob t[4];

	peer_clear();
	client_start(&c, main_cf);
	for (size_t i = 0; i < n_jobs; i++) {
		tjob_simple(&t[i], TLS_LEV_NONE);
		tjob_rcpt(&t[i], "many@peer.test");
		tjob_target(&t[i], "peer.test", peer.port);
	}
	for (size_t i = 0; i < n_jobs; i++)
		smtp_pool_deliver(c.pool, &t[i].job, job_counted, &c);
	ck_assert_uint_eq(smtp_pool_busy(c.pool), n_jobs);
	client_wait(&c, (int)n_jobs, 30);
	for (size_t i = 0; i < n_jobs; i++) {
		ck_assert_int_eq(t[i].rcpts[0].outcome, SMTP_SENT);
		tjob_free(&t[i]);
	}
	ck_assert_uint_eq(peer_messages(), n_jobs);
	ck_assert_uint_eq(peer_connections(), expect_conns);
	client_stop(&c);
}

START_TEST(concurrency_parallel)
{
	concurrent(NULL, 4, 4);
}
END_TEST

START_TEST(concurrency_limit)
{
	/* One connection at a time: the jobs wait and share it. */
	concurrent("smtp_destination_concurrency_limit = 1", 4, 1);
}
END_TEST

START_TEST(concurrency_default_limit)
{
	/* Follows $default_destination_concurrency_limit. */
	concurrent("default_destination_concurrency_limit = 2", 4, 2);
}
END_TEST

/* With one connection for everything, a job to another next hop takes
 * the place of the idle session. */
START_TEST(process_limit)
{
	struct client c;
	struct tjob t1, t2;

	peer_clear();
	client_start(&c, "default_process_limit = 1\n"
	    "smtp_connection_cache_time_limit = 60s");
	tjob_simple(&t1, TLS_LEV_NONE);
	tjob_rcpt(&t1, "a@peer.test");
	tjob_target(&t1, "peer.test", peer.port);
	tjob_simple(&t2, TLS_LEV_NONE);
	t2.job.nexthop = "other.test";
	tjob_rcpt(&t2, "b@other.test");
	tjob_target(&t2, "other.test", peer.port);
	smtp_pool_deliver(c.pool, &t1.job, job_counted, &c);
	smtp_pool_deliver(c.pool, &t2.job, job_counted, &c);
	client_wait(&c, 2, 30);
	ck_assert_int_eq(t1.rcpts[0].outcome, SMTP_SENT);
	ck_assert_int_eq(t2.rcpts[0].outcome, SMTP_SENT);
	client_idle(&c, 0.5);
	ck_assert_uint_eq(peer_connections(), 2);
	/* Evicted long before its 60 s in the cache were up. */
	ck_assert(peer_event(message_conn(0), "quit"));
	ck_assert(!peer_event(message_conn(1), "quit"));
	tjob_free(&t1);
	tjob_free(&t2);
	client_stop(&c);
}
END_TEST

/* A cached session is not used once smtp_connection_reuse_time_limit
 * has passed since it was opened. */
START_TEST(reuse_time_limit)
{
	struct client c;
	struct tjob t1, t2;

	peer_clear();
	client_start(&c, "smtp_connection_reuse_time_limit = 1s\n"
	    "smtp_connection_cache_time_limit = 30s");
	tjob_simple(&t1, TLS_LEV_NONE);
	tjob_rcpt(&t1, "one@peer.test");
	tjob_target(&t1, "peer.test", peer.port);
	tjob_simple(&t2, TLS_LEV_NONE);
	tjob_rcpt(&t2, "two@peer.test");
	tjob_target(&t2, "peer.test", peer.port);
	deliver(&c, &t1);
	client_idle(&c, 1.5);
	/* Closed with QUIT when its time was up, not at 30 s. */
	ck_assert(peer_event(message_conn(0), "quit"));
	deliver(&c, &t2);
	ck_assert_int_eq(t2.rcpts[0].outcome, SMTP_SENT);
	ck_assert_uint_eq(peer_connections(), 2);
	tjob_free(&t1);
	tjob_free(&t2);
	client_stop(&c);
}
END_TEST

/* ---- scheduling: fairness and dead next hops ------------------------- */

struct order {
	struct client *c;
	char seen[32];
	size_t n;
};

static void
job_ordered(void *arg, struct smtp_job *job)
{
	struct order *o = arg;

	if (o->n + 1 < sizeof(o->seen))
		o->seen[o->n++] = job->nexthop[0];
	job_counted(o->c, job);
}

/* With one connection for everything and no cache, each job needs a
 * connection of its own: they go to the two next hops in turn, not all
 * of the first next hop's queue before the second's. */
START_TEST(round_robin)
{
	struct client c;
	struct tjob t[6];
	struct order o = { .c = &c };

	peer_clear();
	client_start(&c, "default_process_limit = 1\n"
	    "smtp_connection_cache_on_demand = no");
	for (size_t i = 0; i < 6; i++) {
		tjob_simple(&t[i], TLS_LEV_NONE);
		t[i].job.nexthop = i < 3 ? "a.test" : "b.test";
		tjob_rcpt(&t[i], i < 3 ? "x@a.test" : "y@b.test");
		tjob_target(&t[i], t[i].job.nexthop, peer.port);
	}
	for (size_t i = 0; i < 6; i++)
		smtp_pool_deliver(c.pool, &t[i].job, job_ordered, &o);
	client_wait(&c, 6, 30);
	o.seen[o.n] = '\0';
	ck_assert_str_eq(o.seen, "ababab");
	for (size_t i = 0; i < 6; i++) {
		ck_assert_int_eq(t[i].rcpts[0].outcome, SMTP_SENT);
		tjob_free(&t[i]);
	}
	client_stop(&c);
}
END_TEST

/* A server that answers every connection with 421 and hangs up, and
 * counts them, inside the test's own loop. */
struct refuser {
	int fd;
	unsigned port;
	struct event *ev;
	int accepted;
};

static void
refuser_cb(evutil_socket_t fd, short what, void *arg)
{
	struct refuser *r = arg;
	static const char busy[] = "421 4.3.2 busy, go away\r\n";
	int conn;

	(void)what;
	while ((conn = accept(fd, NULL, NULL)) >= 0) {
		(void)write(conn, busy, sizeof(busy) - 1);
		close(conn);
		r->accepted++;
	}
}

static void
refuser_start(struct refuser *r, struct event_base *base)
{
	r->port = silent_port(&r->fd);
	evutil_make_socket_nonblocking(r->fd);
	r->ev = event_new(base, r->fd, EV_READ | EV_PERSIST, refuser_cb, r);
	event_add(r->ev, NULL);
	r->accepted = 0;
}

static void
refuser_stop(struct refuser *r)
{
	event_free(r->ev);
	close(r->fd);
}

/* A next hop whose every server fails is declared dead after one
 * window's worth of site failures (smtp_initial_destination_concurrency
 * 5, failed cohort limit 1): the jobs still waiting, and new ones, are
 * deferred without a connection, while another next hop delivers. */
START_TEST(dead_destination)
{
	struct client c;
	struct tjob t[21], good;
	struct refuser r;
	int suspended = 0;

	peer_clear();
	client_start(&c, NULL);
	refuser_start(&r, c.base);
	for (size_t i = 0; i < 20; i++) {
		tjob_simple(&t[i], TLS_LEV_NONE);
		t[i].job.nexthop = "dead.test";
		tjob_rcpt(&t[i], "x@dead.test");
		tjob_target(&t[i], "mx.dead.test", r.port);
		smtp_pool_deliver(c.pool, &t[i].job, job_counted, &c);
	}
	tjob_simple(&good, TLS_LEV_NONE);
	tjob_rcpt(&good, "y@peer.test");
	tjob_target(&good, "peer.test", peer.port);
	smtp_pool_deliver(c.pool, &good.job, job_counted, &c);
	client_wait(&c, 21, 30);
	ck_assert_int_eq(good.rcpts[0].outcome, SMTP_SENT);
	ck_assert_int_le(r.accepted, 5);
	ck_assert_int_ge(r.accepted, 1);
	for (size_t i = 0; i < 20; i++) {
		ck_assert_int_eq(t[i].rcpts[0].outcome, SMTP_DEFER);
		if (strcmp(t[i].rcpts[0].reason, "delivery temporarily "
		    "suspended: host mx.dead.test[127.0.0.1] refused to talk "
		    "to me: 421 4.3.2 busy, go away") == 0) {
			ck_assert_str_eq(t[i].rcpts[0].relay, "none");
			suspended++;
		}
	}
	ck_assert_int_eq(suspended, 20 - r.accepted);
	ck_assert(log_has(&c, "to=<x@dead.test>, relay=none, delay="));
	ck_assert(log_has(&c, "status=deferred (delivery temporarily "
	    "suspended: host mx.dead.test[127.0.0.1] refused to talk to me: "
	    "421 4.3.2 busy"));

	/* Still dead: a new job does not connect. */
	tjob_simple(&t[20], TLS_LEV_NONE);
	t[20].job.nexthop = "dead.test";
	tjob_rcpt(&t[20], "z@dead.test");
	tjob_target(&t[20], "mx.dead.test", r.port);
	{
		int before = r.accepted;

		smtp_pool_deliver(c.pool, &t[20].job, job_counted, &c);
		client_wait(&c, 22, 30);
		ck_assert_int_eq(r.accepted, before);
	}
	ck_assert_int_eq(t[20].rcpts[0].outcome, SMTP_DEFER);
	ck_assert_ptr_nonnull(strstr(t[20].rcpts[0].reason,
	    "delivery temporarily suspended"));
	for (size_t i = 0; i < 21; i++)
		tjob_free(&t[i]);
	tjob_free(&good);
	refuser_stop(&r);
	client_stop(&c);
}
END_TEST

/* With smtp_destination_concurrency_failed_cohort_limit = 0 a next hop
 * is never declared dead: every job makes its own attempt. */
START_TEST(dead_destination_off)
{
	struct client c;
	struct tjob t[8];
	struct refuser r;

	client_start(&c, "smtp_destination_concurrency_failed_cohort_limit "
	    "= 0");
	refuser_start(&r, c.base);
	for (size_t i = 0; i < 8; i++) {
		tjob_simple(&t[i], TLS_LEV_NONE);
		t[i].job.nexthop = "dead.test";
		tjob_rcpt(&t[i], "x@dead.test");
		tjob_target(&t[i], "mx.dead.test", r.port);
		smtp_pool_deliver(c.pool, &t[i].job, job_counted, &c);
	}
	client_wait(&c, 8, 30);
	ck_assert_int_eq(r.accepted, 8);
	for (size_t i = 0; i < 8; i++) {
		ck_assert_int_eq(t[i].rcpts[0].outcome, SMTP_DEFER);
		ck_assert_ptr_null(strstr(t[i].rcpts[0].reason, "suspended"));
		tjob_free(&t[i]);
	}
	refuser_stop(&r);
	client_stop(&c);
}
END_TEST

static void
free_pool_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;

	(void)fd;
	(void)what;
	smtp_pool_free(c->pool);
	c->pool = NULL;
}

/* Jobs in flight and waiting are deferred when the pool goes. */
START_TEST(free_while_busy)
{
	struct client c;
	struct tjob t1, t2;
	struct timeval tv = { .tv_sec = 0, .tv_usec = 500000 };

	client_start(&c, "smtp_destination_concurrency_limit = 1");
	tjob_simple(&t1, TLS_LEV_NONE);
	tjob_rcpt(&t1, "stall-forever@peer.test");
	tjob_target(&t1, "peer.test", peer.port);
	tjob_simple(&t2, TLS_LEV_NONE);
	tjob_rcpt(&t2, "waiting@peer.test");
	tjob_target(&t2, "peer.test", peer.port);
	smtp_pool_deliver(c.pool, &t1.job, job_counted, &c);
	smtp_pool_deliver(c.pool, &t2.job, job_counted, &c);
	event_base_once(c.base, -1, EV_TIMEOUT, free_pool_cb, &c, &tv);
	client_wait(&c, 2, 10);
	ck_assert_ptr_null(c.pool);
	ck_assert_int_eq(t1.rcpts[0].outcome, SMTP_DEFER);
	ck_assert_int_eq(t2.rcpts[0].outcome, SMTP_DEFER);
	ck_assert_str_eq(t1.rcpts[0].dsn, "4.3.0");
	tjob_free(&t1);
	tjob_free(&t2);
	client_stop(&c);
}
END_TEST

START_TEST(lost_in_body)
{
	const size_t size = 16 * 1024 * 1024;
	struct client c;
	struct tjob t;
	char *content = xmalloc(size);

	/* More than the socket buffers hold: still on its way when the
	 * server hangs up after its 354. */
	memset(content, 'x', size);
	for (size_t i = 78; i < size; i += 80)
		memcpy(content + i, "\r\n", 2);
	client_start(&c, NULL);
	tjob_init(&t, content, size, TLS_LEV_NONE);
	tjob_rcpt(&t, "a@peer.test");
	tjob_rcpt(&t, "b@peer.test");
	tjob_target(&t, "drop.test", peer.port);
	deliver(&c, &t);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(t.rcpts[i].outcome, SMTP_DEFER);
		ck_assert_str_eq(t.rcpts[i].dsn, "4.4.2");
		ck_assert_str_eq(t.rcpts[i].reason, "lost connection with "
		    "drop.test[127.0.0.1] while sending message body");
	}
	free(content);
	tjob_free(&t);
	client_stop(&c);
}
END_TEST

/* ---- TLS ---------------------------------------------------------------- */

START_TEST(may_uses_tls)
{
	struct client c;
	struct tjob t;
	char *json, *events, *line;

	peer_clear();
	client_start(&c, "smtp_tls_servername = hostname");
	tjob_simple(&t, TLS_LEV_MAY);
	tjob_rcpt(&t, "tls@peer.test");
	tjob_target(&t, "peer.test", peer.port);
	deliver(&c, &t);
	ck_assert_int_eq(t.rcpts[0].outcome, SMTP_SENT);
	json = peer_message(0, "json", NULL);
	ck_assert_msg(strstr(json, "\"tls\": true") != NULL, "%s", json);
	/* No client certificate unless one is configured. */
	ck_assert_ptr_nonnull(strstr(json, "\"client_cn\": null"));
	events = peer_file("events");
	/* EHLO, STARTTLS, EHLO again; SNI as asked. */
	ck_assert_ptr_nonnull(strstr(events, "1 ehlo client.test tls=0"));
	ck_assert_ptr_nonnull(strstr(events, "1 ehlo client.test tls=1"));
	ck_assert_ptr_nonnull(strstr(events, "sni peer.test"));
	line = xasprintf("Untrusted TLS connection established to "
	    "peer.test[127.0.0.1]:%u: TLSv1.3 with cipher TLS_", peer.port);
	ck_assert_msg(log_has(&c, line), "no \"%s\"", line);
	free(line);
	free(events);
	free(json);
	tjob_free(&t);
	client_stop(&c);
}
END_TEST

START_TEST(trusted_with_cafile)
{
	struct client c;
	struct tjob t;
	char *cf, *events;

	peer_clear();
	cf = xasprintf("smtp_tls_CAfile = %s/peer.crt\n"
	    "smtp_tls_cert_file = %s/client.crt\n"
	    "smtp_tls_key_file = %s/client.key\n"
	    "smtp_tls_loglevel = 1\n", tmpdir, tmpdir, tmpdir);
	client_start(&c, cf);
	tjob_simple(&t, TLS_LEV_ENCRYPT);
	tjob_rcpt(&t, "trusted@peer.test");
	tjob_target(&t, "peer.test", peer.port);
	deliver(&c, &t);
	ck_assert_int_eq(t.rcpts[0].outcome, SMTP_SENT);
	ck_assert(log_has(&c, "Trusted TLS connection established to "
	    "peer.test[127.0.0.1]"));
	ck_assert(!log_has(&c, "Untrusted"));
	/* smtp_tls_loglevel 1: the server certificate's names. */
	ck_assert(log_has(&c, ": subject_CN=peer.test, issuer_CN=peer.test"));
	/* No SNI by default (smtp_tls_servername empty). */
	events = peer_file("events");
	ck_assert_msg(strstr(events, "sni -\n") != NULL &&
	    strstr(events, "sni peer") == NULL, "%s", events);
	free(events);
	/* The configured client certificate was presented. */
	events = peer_message(0, "json", NULL);
	ck_assert_msg(strstr(events, "\"client_cn\": \"client.test\"") !=
	    NULL, "%s", events);
	free(events);
	free(cf);
	tjob_free(&t);
	client_stop(&c);
}
END_TEST

START_TEST(none_never_starttls)
{
	struct client c;
	struct tjob t;
	char *json;

	peer_clear();
	client_start(&c, "smtp_tls_note_starttls_offer = yes");
	tjob_simple(&t, TLS_LEV_NONE);
	tjob_rcpt(&t, "none@peer.test");
	tjob_target(&t, "peer.test", peer.port);
	deliver(&c, &t);
	ck_assert_int_eq(t.rcpts[0].outcome, SMTP_SENT);
	json = peer_message(0, "json", NULL);
	ck_assert_ptr_nonnull(strstr(json, "\"tls\": false"));
	ck_assert(log_has(&c, "Host offered STARTTLS: [peer.test]"));
	free(json);
	tjob_free(&t);
	client_stop(&c);
}
END_TEST

/* Reuse keeps the TLS session: the second message is encrypted too. */
START_TEST(tls_reuse)
{
	struct client c;
	struct tjob t1, t2;
	struct chain ch = { &c, &t2 };
	char *j2;

	peer_clear();
	client_start(&c, NULL);
	tjob_simple(&t1, TLS_LEV_ENCRYPT);
	tjob_rcpt(&t1, "one@peer.test");
	tjob_target(&t1, "peer.test", peer.port);
	tjob_simple(&t2, TLS_LEV_ENCRYPT);
	tjob_rcpt(&t2, "two@peer.test");
	tjob_target(&t2, "peer.test", peer.port);
	smtp_pool_deliver(c.pool, &t1.job, deliver_next, &ch);
	client_wait(&c, 2, 30);
	ck_assert_int_eq(t2.rcpts[0].outcome, SMTP_SENT);
	ck_assert_uint_eq(peer_connections(), 1);
	j2 = peer_message(1, "json", NULL);
	ck_assert_ptr_nonnull(strstr(j2, "\"tls\": true"));
	free(j2);
	tjob_free(&t1);
	tjob_free(&t2);
	client_stop(&c);
}
END_TEST

START_TEST(encrypt_not_offered)
{
	struct client c;
	struct tjob t;
	char *relay = peer_relay("peer.test");

	peer_clear();
	client_start(&c, NULL);
	tjob_simple(&t, TLS_LEV_ENCRYPT);
	tjob_rcpt(&t, "secret@peer.test");
	tjob_target(&t, "peer.test", peer.port);
	deliver(&c, &t);
	ck_assert_int_eq(t.rcpts[0].outcome, SMTP_DEFER);
	ck_assert_str_eq(t.rcpts[0].dsn, "4.7.4");
	ck_assert_str_eq(t.rcpts[0].reason, "TLS is required, but was not "
	    "offered by host peer.test[127.0.0.1]");
	ck_assert_str_eq(t.rcpts[0].relay, relay);
	ck_assert(log_has(&c, "status=deferred (TLS is required, but was not "
	    "offered by host peer.test[127.0.0.1])"));
	ck_assert_uint_eq(peer_messages(), 0);
	free(relay);
	tjob_free(&t);
	client_stop(&c);
}
END_TEST

START_TEST(may_broken_handshake)
{
	struct client c;
	struct tjob t;
	char *json, *events;

	peer_clear();
	/* The server stops at TLS 1.2, the client starts at 1.3. */
	client_start(&c, "smtp_tls_protocols = >=TLSv1.3");
	tjob_simple(&t, TLS_LEV_MAY);
	tjob_rcpt(&t, "fallback@peer.test");
	tjob_target(&t, "peer.test", peer.port);
	deliver(&c, &t);
	ck_assert_int_eq(t.rcpts[0].outcome, SMTP_SENT);
	ck_assert(log_has(&c, "Cannot start TLS: handshake failure"));
	json = peer_message(0, "json", NULL);
	ck_assert_ptr_nonnull(strstr(json, "\"tls\": false"));
	/* The same server again, at once, without STARTTLS. */
	ck_assert_uint_eq(peer_connections(), 2);
	events = peer_file("events");
	ck_assert_ptr_nonnull(strstr(events, "2 ehlo client.test tls=0"));
	free(events);
	free(json);
	tjob_free(&t);
	client_stop(&c);
}
END_TEST

START_TEST(encrypt_broken_handshake)
{
	struct client c;
	struct tjob t;

	peer_clear();
	client_start(&c, "smtp_tls_mandatory_protocols = TLSv1.3");
	tjob_simple(&t, TLS_LEV_ENCRYPT);
	tjob_rcpt(&t, "secret@peer.test");
	tjob_target(&t, "peer.test", peer.port);
	deliver(&c, &t);
	ck_assert_int_eq(t.rcpts[0].outcome, SMTP_DEFER);
	ck_assert_str_eq(t.rcpts[0].reason, "Cannot start TLS: handshake "
	    "failure");
	ck_assert_uint_eq(peer_messages(), 0);
	ck_assert_uint_eq(peer_connections(), 1);
	tjob_free(&t);
	client_stop(&c);
}
END_TEST

START_TEST(starttls_injection_may)
{
	struct client c;
	struct tjob t;
	char *events, *line;

	peer_clear();
	client_start(&c, NULL);
	tjob_simple(&t, TLS_LEV_MAY);
	tjob_rcpt(&t, "inject@peer.test");
	tjob_target(&t, "inject.test", peer.port);
	deliver(&c, &t);
	line = xasprintf("inject.test[127.0.0.1]:%u sent plaintext after 220 "
	    "to STARTTLS: 20 bytes discarded", peer.port);
	ck_assert_msg(log_has(&c, line), "no \"%s\" in:\n%s", line,
	    client_log(&c));
	/* Discarded unread, as Postfix does: the session goes on over TLS
	 * on the same connection. */
	ck_assert_msg(t.rcpts[0].outcome == SMTP_SENT, "%s",
	    t.rcpts[0].reason);
	ck_assert_uint_eq(peer_connections(), 1);
	events = peer_file("events");
	ck_assert_ptr_null(strstr(events, "1 plaintext"));
	ck_assert_ptr_nonnull(strstr(events, "1 tls MAIL FROM"));
	free(events);
	free(line);
	tjob_free(&t);
	client_stop(&c);
}
END_TEST

START_TEST(starttls_injection_encrypt)
{
	struct client c;
	struct tjob t;

	peer_clear();
	client_start(&c, NULL);
	tjob_simple(&t, TLS_LEV_ENCRYPT);
	tjob_rcpt(&t, "inject@peer.test");
	tjob_target(&t, "inject.test", peer.port);
	deliver(&c, &t);
	ck_assert_msg(t.rcpts[0].outcome == SMTP_SENT, "%s",
	    t.rcpts[0].reason);
	ck_assert_uint_eq(peer_connections(), 1);
	ck_assert_uint_eq(peer_messages(), 1);
	tjob_free(&t);
	client_stop(&c);
}
END_TEST

/* ---- tls_client without a server ---------------------------------------- */

START_TEST(smtp_levels)
{
	static const struct {
		const char *cf;
		int level;
	} cases[] = {
		{ "", TLS_LEV_NONE },
		{ "smtp_tls_security_level = may", TLS_LEV_MAY },
		{ "smtp_tls_security_level = ENCRYPT", TLS_LEV_ENCRYPT },
		{ "smtp_use_tls = yes", TLS_LEV_MAY },
		/* Postfix: enforce means verify, unless the peer name is
		 * not enforced (issue 11). */
		{ "smtp_enforce_tls = yes", TLS_LEV_VERIFY },
		{ "smtp_enforce_tls = yes\nsmtp_tls_enforce_peername = no",
		    TLS_LEV_ENCRYPT },
		{ "smtp_use_tls = yes\nsmtp_enforce_tls = yes",
		    TLS_LEV_VERIFY },
		/* the level wins over the obsolete names */
		{ "smtp_enforce_tls = yes\nsmtp_tls_security_level = none",
		    TLS_LEV_NONE },
		{ "smtp_tls_security_level = bogus", -1 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct conf *conf = tu_conf_load(cases[i].cf);

		ck_assert_msg(tls_smtp_level(conf) == cases[i].level,
		    "\"%s\": %d", cases[i].cf, tls_smtp_level(conf));
		conf_free(conf);
	}
}
END_TEST

START_TEST(servernames)
{
	static const struct {
		const char *cf, *mx, *nexthop, *sni;
	} cases[] = {
		{ "", "mx.example", "example.com", NULL },
		{ "smtp_tls_servername = hostname", "mx.example",
		    "example.com", "mx.example" },
		{ "smtp_tls_servername = nexthop", "mx.example",
		    "example.com", "example.com" },
		{ "smtp_tls_servername = nexthop", "mx.example",
		    "[relay.example]:2525", "relay.example" },
		{ "smtp_tls_servername = nexthop", "mx.example",
		    "example.com:587", "example.com" },
		{ "smtp_tls_servername = sni.example", "mx.example",
		    "example.com", "sni.example" },
		/* an address is never sent as SNI */
		{ "smtp_tls_servername = hostname", "192.0.2.1",
		    "example.com", NULL },
		{ "smtp_tls_servername = nexthop", "mx.example",
		    "[2001:db8::1]", NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct conf *conf = tu_conf_load(cases[i].cf);
		char *sni = tls_client_servername(conf, cases[i].mx,
		    cases[i].nexthop);

		if (cases[i].sni == NULL)
			ck_assert_msg(sni == NULL, "%zu: \"%s\"", i, sni);
		else
			ck_assert_msg(sni != NULL &&
			    strcmp(sni, cases[i].sni) == 0, "%zu: \"%s\"", i,
			    sni ? sni : "(null)");
		free(sni);
		conf_free(conf);
	}
}
END_TEST

START_TEST(ctx_errors)
{
	static const struct {
		const char *cf, *err;
	} cases[] = {
		{ "smtp_tls_security_level = mandatory",
		    "main.cf:1: smtp_tls_security_level: unknown level" },
		{ "smtp_tls_ciphers = bogus",
		    "main.cf:1: smtp_tls_ciphers: invalid cipher grade" },
		{ "smtp_tls_mandatory_ciphers = bogus",
		    "main.cf:1: smtp_tls_mandatory_ciphers" },
		{ "smtp_tls_protocols = !SSLv3 !TLSv1 !TLSv1.1 !TLSv1.2 "
		    "!TLSv1.3",
		    "main.cf:1: smtp_tls_protocols: no TLS protocol" },
		{ "smtp_tls_mandatory_protocols = TLSv9",
		    "main.cf:1: smtp_tls_mandatory_protocols: unknown TLS "
		    "protocol" },
		{ "smtp_tls_cert_file = /nonexistent/client.crt",
		    "main.cf:1: smtp_tls_cert_file /nonexistent/client.crt: " },
		{ "smtp_tls_CAfile = /nonexistent/ca.crt",
		    "main.cf:1: smtp_tls_CAfile /nonexistent/ca.crt: " },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct conf *conf = tu_conf_load(cases[i].cf);
		char *err = NULL;
		struct tls_client *tls = tls_client_new(conf, &err);

		ck_assert_msg(tls == NULL, "\"%s\" accepted", cases[i].cf);
		ck_assert_msg(err != NULL && strncmp(err, cases[i].err,
		    strlen(cases[i].err)) == 0, "\"%s\": %s", cases[i].cf,
		    err ? err : "(null)");
		free(err);
		conf_free(conf);
	}
}
END_TEST

/* The context a connection at level may would use. */
static SSL_CTX *
may_ctx(struct tls_client *tls, const struct conf *conf)
{
	struct tls_policy *policy = tls_policy_main(conf, TLS_LEV_MAY,
	    "example.com");
	SSL_CTX *ctx = tls_client_ctx(tls, policy);

	tls_policy_free(policy);
	ck_assert_ptr_nonnull(ctx);
	return ctx;
}

START_TEST(ctx_client_cert)
{
	char *cf, *err = NULL;
	struct conf *conf;
	struct tls_client *tls;

	/* The key does not match: refused at start-up. */
	cf = xasprintf("smtp_tls_cert_file = %s/client.crt\n"
	    "smtp_tls_key_file = %s/peer.key\n", tmpdir, tmpdir);
	conf = tu_conf_load(cf);
	ck_assert_ptr_null(tls_client_new(conf, &err));
	ck_assert_msg(strstr(err, "smtp_tls_key_file") != NULL &&
	    strstr(err, "private key does not match the certificate") !=
	    NULL, "%s", err);
	free(err);
	conf_free(conf);
	free(cf);
	/* A missing key names the file and the parameter. */
	cf = xasprintf("smtp_tls_cert_file = %s/client.crt\n"
	    "smtp_tls_key_file = %s/missing.key\n", tmpdir, tmpdir);
	conf = tu_conf_load(cf);
	ck_assert_ptr_null(tls_client_new(conf, &err));
	free(cf);
	cf = xasprintf("main.cf:2: smtp_tls_key_file %s/missing.key: cannot "
	    "open: No such file or directory", tmpdir);
	ck_assert_str_eq(err, cf);
	free(err);
	conf_free(conf);
	free(cf);
	/* Two ECDSA pairs: the second one is refused by the context, and
	 * the error names it, not the ciphers. */
	cf = xasprintf("smtp_tls_cert_file = %s/client.crt\n"
	    "smtp_tls_key_file = %s/client.key\n"
	    "smtp_tls_eccert_file = %s/peer.crt\n"
	    "smtp_tls_eckey_file = %s/peer.key\n", tmpdir, tmpdir, tmpdir,
	    tmpdir);
	conf = tu_conf_load(cf);
	ck_assert_ptr_null(tls_client_new(conf, &err));
	free(cf);
	cf = xasprintf("main.cf:4: smtp_tls_eckey_file %s/peer.key: a "
	    "certificate with the same key type is already loaded", tmpdir);
	ck_assert_str_eq(err, cf);
	free(err);
	conf_free(conf);
	free(cf);
	/* A chain file: key, then certificate. */
	tu_run(tmpdir, "cat client.key client.crt > client_chain.pem");
	cf = xasprintf("smtp_tls_chain_files = %s/client_chain.pem\n",
	    tmpdir);
	conf = tu_conf_load(cf);
	tls = tls_client_new(conf, &err);
	ck_assert_msg(tls != NULL, "%s", err);
	ck_assert_ptr_nonnull(SSL_CTX_get0_certificate(may_ctx(tls, conf)));
	tls_client_free(tls);
	conf_free(conf);
	free(cf);
	/* Nothing configured: no certificate. */
	conf = tu_conf_load("");
	tls = tls_client_new(conf, &err);
	ck_assert_ptr_nonnull(tls);
	ck_assert_ptr_null(SSL_CTX_get0_certificate(may_ctx(tls, conf)));
	tls_client_free(tls);
	conf_free(conf);
}
END_TEST

START_TEST(obsolete_warning)
{
	struct client c;
	struct conf *conf;
	struct tls_client *tls;
	char *err = NULL;

	/* client_start opens the log; its pool says nothing of this. */
	client_start(&c, NULL);
	ck_assert(!log_has(&c, "obsolete"));
	conf = tu_conf_load("\nsmtp_use_tls = yes");
	ck_assert_int_eq(tls_smtp_level(conf), TLS_LEV_MAY);
	ck_assert(!log_has(&c, "obsolete"));
	tls = tls_client_new(conf, &err);
	ck_assert_ptr_nonnull(tls);
	ck_assert(log_has(&c, "warning: main.cf:2: smtp_use_tls is obsolete: "
	    "use smtp_tls_security_level = may instead"));
	tls_client_free(tls);
	conf_free(conf);
	client_stop(&c);
}
END_TEST

/* ---- the suite ---------------------------------------------------------- */

static TCase *
peer_case(const char *name, void (*up)(void))
{
	TCase *tc = tcase_create(name);

	tcase_add_unchecked_fixture(tc, up, peer_down);
	tcase_set_timeout(tc, 60);
	return tc;
}

static Suite *
client_suite(void)
{
	Suite *s = suite_create("smtp_client");
	TCase *tc;

	tc = peer_case("plain", plain_up);
	tcase_add_test(tc, plain_delivery);
	tcase_add_test(tc, log_line_format);
	tcase_add_test(tc, reply_per_recipient);
	tcase_add_test(tc, all_rejected);
	tcase_add_test(tc, bytes_intact);
	tcase_add_test(tc, two_megabytes);
	tcase_add_test(tc, no_pipelining_when_not_offered);
	tcase_add_test(tc, connect_refused_then_next);
	tcase_add_test(tc, all_targets_refused);
	tcase_add_test(tc, greeting_timeout);
	tcase_add_test(tc, rcpt_timeout);
	tcase_add_test(tc, encrypt_not_offered);
	suite_add_tcase(s, tc);

	tc = peer_case("pipelining", pipelining_up);
	tcase_add_test(tc, pipelining_used);
	/* Pipelined, nobody accepted: the DATA reply is read and nothing
	 * is sent. */
	tcase_add_test(tc, all_rejected);
	tcase_add_test(tc, connection_reuse);
	tcase_add_test(tc, no_reuse_without_cache);
	tcase_add_test(tc, concurrency_parallel);
	tcase_add_test(tc, concurrency_limit);
	tcase_add_test(tc, concurrency_default_limit);
	tcase_add_test(tc, process_limit);
	tcase_add_test(tc, round_robin);
	tcase_add_test(tc, dead_destination);
	tcase_add_test(tc, dead_destination_off);
	tcase_add_test(tc, reuse_time_limit);
	tcase_add_test(tc, free_while_busy);
	suite_add_tcase(s, tc);

	tc = peer_case("small", small_up);
	tcase_add_test(tc, size_limit_bounce);
	suite_add_tcase(s, tc);

	tc = peer_case("dropper", dropper_up);
	tcase_add_test(tc, lost_in_body);
	suite_add_tcase(s, tc);

	tc = peer_case("noehlo", noehlo_up);
	tcase_add_test(tc, helo_fallback);
	suite_add_tcase(s, tc);

	tc = peer_case("tls", tls_up);
	tcase_add_test(tc, may_uses_tls);
	tcase_add_test(tc, trusted_with_cafile);
	tcase_add_test(tc, none_never_starttls);
	tcase_add_test(tc, tls_reuse);
	tcase_add_test(tc, two_megabytes_tls);
	suite_add_tcase(s, tc);

	tc = peer_case("tls12", tls12_up);
	tcase_add_test(tc, may_broken_handshake);
	tcase_add_test(tc, encrypt_broken_handshake);
	suite_add_tcase(s, tc);

	tc = peer_case("inject", inject_up);
	tcase_add_test(tc, starttls_injection_may);
	tcase_add_test(tc, starttls_injection_encrypt);
	suite_add_tcase(s, tc);

	tc = tcase_create("tls_client");
	tcase_add_test(tc, smtp_levels);
	tcase_add_test(tc, servernames);
	tcase_add_test(tc, ctx_errors);
	tcase_add_test(tc, ctx_client_cert);
	tcase_add_test(tc, obsolete_warning);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN_WITH(client_suite, suite_up, NULL)
