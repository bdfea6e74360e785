/* loadgen: the benchmark's SMTP client load. Not part of `make check`;
 * bench/compare builds and runs it.
 *
 *	loadgen -p PORT -n MESSAGES [-c SESSIONS] [-m PER_CONNECTION]
 *	    [-l BODY_BYTES] [-s] [-r] [-P PROCESSES] [-T SECONDS]
 *	    [-f FROM] [-t TO]
 *	loadgen -I -p PORT -n CONNECTIONS [-s] [-c PENDING] [-P PROCESSES]
 *	    [-T SECONDS]
 *
 * Send mode: SESSIONS concurrent SMTP sessions (default 20), spread over
 * PROCESSES event loops (default 2), send MESSAGES messages in all, at most
 * PER_CONNECTION (default 1) per connection, each as fast as the server
 * answers: greeting, EHLO, [STARTTLS, full handshake (-r: offer the
 * session of the slot's previous connection), EHLO,] then per message
 * MAIL, RCPT, DATA, content, and QUIT. Commands are not pipelined. Each
 * message starts with
 *	X-Bench: ID SENT_NS
 * ID its number (0 .. MESSAGES-1), SENT_NS the CLOCK_MONOTONIC time of its
 * MAIL FROM, which bench/sink turns into an end-to-end latency. At the end
 * one line:
 *	messages=2000 accepted=2000 failed=0 resumed=0 start_ns=... end_ns=...
 *	    seconds=3.21 rate=623.1
 * end_ns: the last 250 to a final dot. -T bounds the run: what is still in
 * flight then counts as failed.
 *
 * Idle mode (-I): CONNECTIONS sessions that stop after EHLO (-s: after
 * STARTTLS and the EHLO that follows), at most PENDING (default 200) being
 * set up at a time. Once each is held or failed (or -T passed) one line:
 *	connections=10000 held=10000 failed=0 seconds=4.2
 * then it holds them until its standard input closes or SIGTERM. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#define REPLY_TIMEOUT	60	/* seconds for any one reply */
#define ERRORS_SHOWN	5	/* per process, on stderr */

enum state { GREETING, EHLO, STARTTLS, HANDSHAKE, MAIL, RCPT, DATA,
	CONTENT, QUIT, HELD };

static const char *const state_names[] = { "greeting", "EHLO", "STARTTLS",
	"TLS handshake", "MAIL", "RCPT", "DATA", "end of data", "QUIT",
	"held" };

struct config {
	struct sockaddr_in sin;
	long messages;		/* or connections, idle mode */
	int sessions;		/* or pending set-ups, idle mode */
	int per_connection;
	int tls;
	int resume;
	int idle;
	int procs;
	double seconds;		/* 0: no limit */
	const char *from;
	const char *to;
	char *content;		/* headers after X-Bench, body, final dot */
	size_t content_len;
};

/* What every process draws message numbers from. */
struct shared {
	long next;
};

struct slot;

struct session {
	struct slot *slot;
	struct bufferevent *bev;
	evutil_socket_t fd;
	enum state state;
	int tls;
	long msg;		/* the message in flight, or -1 */
	uint64_t sent_ns;	/* when its MAIL FROM went out */
	int sent_here;		/* messages on this connection */
};

/* A place for one concurrent session; it keeps the TLS session for -r. */
struct slot {
	SSL_SESSION *tls_session;
};

struct results {
	long accepted, failed, resumed, held;
	uint64_t last_ns;	/* the last 250 to a final dot */
};

static struct config cfg;
static struct shared *shared;
static struct event_base *base;
static SSL_CTX *ctx;
static struct results res;
static long reserved;		/* message numbers this process took */
static long active;		/* open sessions */
static long started, finished;	/* idle mode: set-ups begun and ended */
static long share;		/* idle mode: this process's connections */
static int errors_shown;
static int report_fd = -1;

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void session_read(struct bufferevent *, void *);
static void session_event(struct bufferevent *, short, void *);
static void open_session(struct slot *);

static long
take_message(void)
{
	long n = __atomic_fetch_add(&shared->next, 1, __ATOMIC_RELAXED);

	if (n >= cfg.messages)
		return -1;
	reserved++;
	return n;
}

static void
say(struct session *s, const char *text)
{
	bufferevent_write(s->bev, text, strlen(text));
}

/* Writes this process's results to the parent, once. */
static void
report(void)
{
	char line[256];
	int n;

	if (report_fd < 0)
		return;
	/* Send mode: whatever was taken and not accepted failed, whether
	 * refused, cut off or still in flight at the time limit. */
	if (!cfg.idle)
		res.failed = reserved - res.accepted;
	n = snprintf(line, sizeof(line), "%ld %ld %ld %ld %" PRIu64 "\n",
	    res.accepted, res.failed, res.resumed, res.held, res.last_ns);
	if (write(report_fd, line, (size_t)n) != n)
		_exit(1);
	close(report_fd);
	report_fd = -1;
}

static void
idle_progress(void)
{
	finished++;
	if (finished == share)
		report();
	else if (started < share)
		open_session(NULL);
}

static void
close_session(struct session *s, const char *why)
{
	struct slot *slot = s->slot;

	if (why && errors_shown++ < ERRORS_SHOWN)
		fprintf(stderr, "loadgen: session failed at %s: %s\n",
		    state_names[s->state], why);
	if (cfg.idle && s->state != HELD) {
		res.failed++;
		idle_progress();
	}
	if (s->bev)
		bufferevent_free(s->bev);
	if (!s->tls)
		evutil_closesocket(s->fd);
	free(s);
	active--;
	if (cfg.idle)
		return;
	if (__atomic_load_n(&shared->next, __ATOMIC_RELAXED) < cfg.messages)
		open_session(slot);
	else if (active == 0)
		event_base_loopexit(base, NULL);
}

static void
begin_message(struct session *s)
{
	char line[600];

	if (s->msg < 0 && (s->sent_here >= cfg.per_connection ||
	    (s->msg = take_message()) < 0)) {
		s->state = QUIT;
		say(s, "QUIT\r\n");
		return;
	}
	s->state = MAIL;
	s->sent_ns = now_ns();
	snprintf(line, sizeof(line), "MAIL FROM:<%s>\r\n", cfg.from);
	say(s, line);
}

static void
send_content(struct session *s)
{
	struct evbuffer *out = bufferevent_get_output(s->bev);

	evbuffer_add_printf(out, "X-Bench: %ld %" PRIu64 "\r\n"
	    "Message-ID: <%ld.%" PRIu64 "@load.bench.test>\r\n", s->msg,
	    s->sent_ns, s->msg, s->sent_ns);
	evbuffer_add_reference(out, cfg.content, cfg.content_len, NULL, NULL);
}

static void
start_tls(struct session *s)
{
	SSL *ssl = SSL_new(ctx);

	if (ssl == NULL) {
		close_session(s, "SSL_new failed");
		return;
	}
	SSL_set_tlsext_host_name(ssl, "relay.test");
	if (cfg.resume && s->slot && s->slot->tls_session)
		SSL_set_session(ssl, s->slot->tls_session);
	/* Nothing is buffered: the server said 220 and waits for us. */
	bufferevent_free(s->bev);
	s->bev = bufferevent_openssl_socket_new(base, s->fd, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (s->bev == NULL) {
		SSL_free(ssl);
		close_session(s, "bufferevent_openssl_socket_new failed");
		return;
	}
	s->tls = 1;
	s->state = HANDSHAKE;
	bufferevent_openssl_set_allow_dirty_shutdown(s->bev, 1);
	bufferevent_setcb(s->bev, session_read, NULL, session_event, s);
	if (!cfg.idle) {
		struct timeval tv = { .tv_sec = REPLY_TIMEOUT };

		bufferevent_set_timeouts(s->bev, &tv, &tv);
	}
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

/* The TLS session to offer next time (-r): the newest resumable one. */
static void
keep_tls_session(struct session *s)
{
	SSL *ssl;
	SSL_SESSION *newest;

	if (!cfg.resume || !s->tls || s->slot == NULL ||
	    (ssl = bufferevent_openssl_get_ssl(s->bev)) == NULL)
		return;
	newest = SSL_get1_session(ssl);
	if (newest && SSL_SESSION_is_resumable(newest)) {
		SSL_SESSION_free(s->slot->tls_session);
		s->slot->tls_session = newest;
	} else
		SSL_SESSION_free(newest);
}

/* A whole reply came in: the next step of the session. */
static void
on_reply(struct session *s, int code, const char *text)
{
	static const int want[] = { [GREETING] = 220, [EHLO] = 250,
	    [STARTTLS] = 220, [MAIL] = 250, [RCPT] = 250, [DATA] = 354,
	    [CONTENT] = 250, [QUIT] = 221 };
	char line[600];
	if (s->state == HELD || s->state == HANDSHAKE || code != want[s->state]) {
		snprintf(line, sizeof(line), "unexpected reply: %s", text);
		close_session(s, line);
		return;
	}
	switch (s->state) {
	case GREETING:
		s->state = EHLO;
		say(s, "EHLO load.bench.test\r\n");
		break;
	case EHLO:
		if (cfg.tls && !s->tls) {
			s->state = STARTTLS;
			say(s, "STARTTLS\r\n");
		} else if (cfg.idle) {
			s->state = HELD;
			res.held++;
			bufferevent_set_timeouts(s->bev, NULL, NULL);
			idle_progress();
		} else
			begin_message(s);
		break;
	case STARTTLS:
		start_tls(s);
		break;
	case MAIL:
		s->state = RCPT;
		snprintf(line, sizeof(line), "RCPT TO:<%s>\r\n", cfg.to);
		say(s, line);
		break;
	case RCPT:
		s->state = DATA;
		say(s, "DATA\r\n");
		break;
	case DATA:
		s->state = CONTENT;
		send_content(s);
		break;
	case CONTENT:
		res.accepted++;
		res.last_ns = now_ns();
		s->msg = -1;
		s->sent_here++;
		begin_message(s);
		break;
	case QUIT:
		keep_tls_session(s);
		close_session(s, NULL);
		break;
	default:
		break;
	}
}

static void
session_read(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char *line;
	size_t len;

	while ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_CRLF)) != NULL) {
		int last = len < 4 || line[3] != '-';
		if (last) {
			/* on_reply may free the session: no more use of s. */
			on_reply(s, atoi(line), line);
			free(line);
			return;
		}
		free(line);
	}
	if (evbuffer_get_length(in) > 8192)
		close_session(s, "reply line too long");
}

static void
session_event(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;
	SSL *ssl;
	char why[300];

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		if (s->state != HANDSHAKE)
			return;	/* TCP connected: the greeting comes next */
		ssl = bufferevent_openssl_get_ssl(s->bev);
		if (SSL_session_reused(ssl))
			res.resumed++;
		s->state = EHLO;
		say(s, "EHLO load.bench.test\r\n");
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		snprintf(why, sizeof(why), "timed out");
	else if (what & BEV_EVENT_EOF)
		snprintf(why, sizeof(why), "connection closed by server");
	else {
		unsigned long e = bufferevent_get_openssl_error(s->bev);

		if (e)
			snprintf(why, sizeof(why), "TLS: %s",
			    ERR_reason_error_string(e));
		else
			snprintf(why, sizeof(why), "%s",
			    strerror(EVUTIL_SOCKET_ERROR()));
	}
	close_session(s, why);
}

static void
open_session(struct slot *slot)
{
	struct session *s;
	struct timeval tv = { .tv_sec = REPLY_TIMEOUT };
	int on = 1;
	long msg = -1;

	if (cfg.idle)
		started++;
	else if ((msg = take_message()) < 0) {
		if (active == 0)
			event_base_loopexit(base, NULL);
		return;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		perror("loadgen: calloc");
		exit(1);
	}
	s->slot = slot;
	s->msg = msg;
	s->state = GREETING;
	active++;
	s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (s->fd < 0) {
		close_session(s, strerror(errno));
		return;
	}
	setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	if ((s->bev = bufferevent_socket_new(base, s->fd, 0)) == NULL) {
		close_session(s, "bufferevent_socket_new failed");
		return;
	}
	bufferevent_setcb(s->bev, session_read, NULL, session_event, s);
	bufferevent_set_timeouts(s->bev, &tv, &tv);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(s->bev, (struct sockaddr *)&cfg.sin,
	    sizeof(cfg.sin)) < 0)
		close_session(s, strerror(EVUTIL_SOCKET_ERROR()));
}

static void
deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	fprintf(stderr, "loadgen: time limit of %.0f s reached\n",
	    cfg.seconds);
	if (cfg.idle) {
		/* Set-ups still going count as failed; the held stay. */
		res.failed += share - finished;
		finished = share;
		report();
		return;
	}
	event_base_loopexit(base, NULL);
}

static void
worker(int wfd, int index, int sessions)
{
	struct event *timer = NULL;
	struct slot *slots = calloc((size_t)sessions, sizeof(*slots));

	report_fd = wfd;
	base = event_base_new();
	if (base == NULL || slots == NULL) {
		fprintf(stderr, "loadgen: cannot set up the event loop\n");
		_exit(1);
	}
	if (cfg.seconds > 0) {
		struct timeval tv = { .tv_sec = (time_t)cfg.seconds,
		    .tv_usec = (suseconds_t)((cfg.seconds -
		    (double)(time_t)cfg.seconds) * 1e6) };

		timer = evtimer_new(base, deadline, NULL);
		evtimer_add(timer, &tv);
	}
	if (cfg.idle) {
		share = cfg.messages / cfg.procs +
		    (index < cfg.messages % cfg.procs);
		for (int i = 0; i < sessions && started < share; i++)
			open_session(NULL);
		if (share == 0)
			report();
		event_base_dispatch(base);	/* until SIGTERM */
		_exit(0);
	}
	for (int i = 0; i < sessions; i++)
		open_session(&slots[i]);
	if (active > 0)
		event_base_dispatch(base);
	report();
	_exit(0);
}

/* The message after X-Bench and Message-ID: headers, body lines of 76
 * letters and CRLF up to length bytes of body, the final dot. */
static void
make_content(size_t length)
{
	size_t cap = length + 1024, len;
	char *p = malloc(cap);

	if (p == NULL)
		exit(1);
	len = (size_t)snprintf(p, cap, "Date: Thu, 1 Jan 2026 00:00:00 +0000"
	    "\r\nFrom: <%s>\r\nTo: <%s>\r\nSubject: bench\r\n\r\n", cfg.from,
	    cfg.to);
	for (size_t done = 0; done < length; ) {
		size_t n = length - done > 78 ? 78 : length - done;

		for (size_t i = 0; i < n; i++)
			p[len + i] = (char)('a' + (done + i) % 26);
		if (n >= 3) {
			p[len + n - 2] = '\r';
			p[len + n - 1] = '\n';
		}
		len += n;
		done += n;
	}
	if (memcmp(p + len - 2, "\r\n", 2) != 0) {
		memcpy(p + len, "\r\n", 2);
		len += 2;
	}
	memcpy(p + len, ".\r\n", 3);
	cfg.content = p;
	cfg.content_len = len + 3;
}

static pid_t *children;
static int nchildren;

static void
stop_children(int sig)
{
	(void)sig;
	for (int i = 0; i < nchildren; i++)
		kill(children[i], SIGTERM);
	_exit(1);
}

int
main(int argc, char **argv)
{
	const char *addr = "127.0.0.1";
	struct results sum = { 0 };
	struct rlimit rl;
	int port = 0, ch, pipefd[2], got = 0;
	size_t length = 4096;
	uint64_t start;
	double seconds;
	FILE *fp;

	cfg.messages = 2000;
	cfg.sessions = -1;
	cfg.per_connection = 1;
	cfg.procs = 2;
	cfg.from = "sender@bench.test";
	cfg.to = "rcpt@bench.test";
	while ((ch = getopt(argc, argv, "a:p:n:c:m:l:srIP:T:f:t:")) != -1) {
		switch (ch) {
		case 'a':
			addr = optarg;
			break;
		case 'p':
			port = atoi(optarg);
			break;
		case 'n':
			cfg.messages = atol(optarg);
			break;
		case 'c':
			cfg.sessions = atoi(optarg);
			break;
		case 'm':
			cfg.per_connection = atoi(optarg);
			break;
		case 'l':
			length = (size_t)atol(optarg);
			break;
		case 's':
			cfg.tls = 1;
			break;
		case 'r':
			cfg.resume = 1;
			break;
		case 'I':
			cfg.idle = 1;
			break;
		case 'P':
			cfg.procs = atoi(optarg);
			break;
		case 'T':
			cfg.seconds = atof(optarg);
			break;
		case 'f':
			cfg.from = optarg;
			break;
		case 't':
			cfg.to = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (cfg.sessions < 0)
		cfg.sessions = cfg.idle ? 200 : 20;
	if (port <= 0 || cfg.sessions <= 0 || cfg.messages < 0 ||
	    cfg.per_connection <= 0 || cfg.procs <= 0)
		goto usage;
	if (!cfg.idle && cfg.procs > cfg.sessions)
		cfg.procs = cfg.sessions;
	cfg.sin.sin_family = AF_INET;
	cfg.sin.sin_port = htons((unsigned short)port);
	if (inet_pton(AF_INET, addr, &cfg.sin.sin_addr) != 1)
		goto usage;
	/* Idle mode holds many sockets: take all the descriptors allowed. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	make_content(length);
	if (cfg.tls) {
		ctx = SSL_CTX_new(TLS_client_method());
		/* The bench measures the server; the client trusts it. */
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
		    SSL_SESS_CACHE_NO_INTERNAL_STORE);
		SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	}
	shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED || pipe(pipefd) < 0 ||
	    (children = calloc((size_t)cfg.procs, sizeof(pid_t))) == NULL)
		return 1;
	signal(SIGTERM, stop_children);
	start = now_ns();
	for (int i = 0; i < cfg.procs; i++) {
		int sessions = cfg.sessions / cfg.procs +
		    (i < cfg.sessions % cfg.procs);
		pid_t pid = fork();

		if (pid == 0) {
			signal(SIGTERM, SIG_DFL);
			close(pipefd[0]);
			worker(pipefd[1], i, sessions);
		}
		if (pid < 0) {
			perror("loadgen: fork");
			stop_children(0);
		}
		children[nchildren++] = pid;
	}
	close(pipefd[1]);
	fp = fdopen(pipefd[0], "r");
	for (int i = 0; i < cfg.procs; i++) {
		struct results r;

		if (fscanf(fp, "%ld %ld %ld %ld %" SCNu64, &r.accepted,
		    &r.failed, &r.resumed, &r.held, &r.last_ns) != 5)
			break;
		got++;
		sum.accepted += r.accepted;
		sum.failed += r.failed;
		sum.resumed += r.resumed;
		sum.held += r.held;
		if (r.last_ns > sum.last_ns)
			sum.last_ns = r.last_ns;
	}
	seconds = (double)(now_ns() - start) / 1e9;
	if (cfg.idle) {
		char buf[256];

		printf("connections=%ld held=%ld failed=%ld seconds=%.3f\n",
		    cfg.messages, sum.held, sum.failed, seconds);
		fflush(stdout);
		while (read(0, buf, sizeof(buf)) > 0)
			;
		stop_children(0);
	}
	while (wait(NULL) > 0)
		;
	if (sum.last_ns == 0)
		sum.last_ns = start;
	seconds = (double)(sum.last_ns - start) / 1e9;
	printf("messages=%ld accepted=%ld failed=%ld resumed=%ld start_ns=%"
	    PRIu64 " end_ns=%" PRIu64 " seconds=%.3f rate=%.1f\n",
	    cfg.messages, sum.accepted, sum.failed, sum.resumed, start,
	    sum.last_ns, seconds, seconds > 0 ? (double)sum.accepted /
	    seconds : 0.0);
	return got == cfg.procs && sum.accepted == cfg.messages ? 0 : 1;
usage:
	fprintf(stderr, "usage: loadgen -p PORT -n MESSAGES [-c SESSIONS] "
	    "[-m PER_CONNECTION] [-l BODY_BYTES] [-s] [-r] [-P PROCESSES] "
	    "[-T SECONDS] [-f FROM] [-t TO]\n"
	    "       loadgen -I -p PORT -n CONNECTIONS [-s] [-c PENDING] "
	    "[-P PROCESSES] [-T SECONDS]\n");
	return 2;
}
