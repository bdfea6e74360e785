/* sink: the benchmark's next hop. An SMTP server on 127.0.0.1 that offers
 * STARTTLS, accepts every message, and records for each one when its final
 * dot arrived and the send time the load generator stamped into it. Not part
 * of `make check`; bench/compare builds and runs it.
 *
 *	sink -p PORT -C CERT -K KEY -o PREFIX [-P PROCESSES]
 *
 * PROCESSES event loops (default 2) accept on one shared socket. Each keeps
 * its message count in PREFIX.count (one little-endian uint64 per process,
 * in a shared file mapping the driver reads while the run goes on). On
 * SIGTERM each process writes PREFIX.N:
 *	# sessions=S tls=T messages=M
 *	ARRIVAL_NS SENT_NS ID		(one line per message)
 * and exits. Times are CLOCK_MONOTONIC nanoseconds, the clock the load
 * generator stamps with (X-Bench: ID SENT_NS); a message without the
 * header has SENT_NS 0 and ID "-". */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#define BANNER		"220 sink.bench.test ESMTP\r\n"
#define STAMP		"X-Bench: "
#define HEADER_MAX	256	/* bytes of a header line kept for parsing */
#define IDLE_TIMEOUT	600	/* seconds before a silent client is dropped */

/* Where the data scanner stands in the message content. */
enum data_state { LINE_MID, LINE_START, DOT, DOT_CR };

enum phase { COMMANDS, DATA, STARTING_TLS, CLOSING };

struct arrival {
	uint64_t arrival_ns;
	uint64_t sent_ns;
	char id[24];
};

struct sink {
	struct event_base *base;
	SSL_CTX *ctx;
	volatile uint64_t *count;	/* this process's slot in PREFIX.count */
	struct arrival *arrivals;
	size_t narrivals, cap;
	long sessions, tls_sessions;
	const char *prefix;
	int index;
};

struct session {
	struct bufferevent *bev;
	evutil_socket_t fd;
	enum phase phase;
	int tls;
	/* The message being received. */
	enum data_state dstate;
	int in_headers;
	char header[HEADER_MAX];
	size_t header_len;
	uint64_t sent_ns;
	char id[24];
};

static struct sink sink;

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void session_read(struct bufferevent *, void *);
static void session_event(struct bufferevent *, short, void *);

static void
session_free(struct session *s)
{
	/* The TLS bufferevent owns the socket and the SSL; the plain one does
	 * not own the socket (it survives the switch to TLS). */
	bufferevent_free(s->bev);
	if (!s->tls)
		evutil_closesocket(s->fd);
	free(s);
}

static void
reply(struct session *s, const char *text)
{
	bufferevent_write(s->bev, text, strlen(text));
}

static void
record(struct session *s)
{
	struct arrival *a;

	if (sink.narrivals == sink.cap) {
		sink.cap = sink.cap ? sink.cap * 2 : 4096;
		sink.arrivals = realloc(sink.arrivals,
		    sink.cap * sizeof(*sink.arrivals));
		if (sink.arrivals == NULL) {
			perror("sink: realloc");
			exit(1);
		}
	}
	a = &sink.arrivals[sink.narrivals++];
	a->arrival_ns = now_ns();
	a->sent_ns = s->sent_ns;
	memcpy(a->id, s->id, sizeof(a->id));
	*sink.count = sink.narrivals;
}

/* A complete header line (CRLF stripped) of the message. */
static void
header_line(struct session *s)
{
	size_t n = s->header_len;
	char *p, *end;

	while (n > 0 && (s->header[n - 1] == '\r' || s->header[n - 1] == '\n'))
		n--;
	if (n == 0) {
		s->in_headers = 0;
		return;
	}
	if (n <= strlen(STAMP) || strncasecmp(s->header, STAMP,
	    strlen(STAMP)) != 0)
		return;
	s->header[n] = '\0';
	p = s->header + strlen(STAMP);
	end = strchr(p, ' ');
	if (end == NULL || (size_t)(end - p) >= sizeof(s->id))
		return;
	memcpy(s->id, p, (size_t)(end - p));
	s->id[end - p] = '\0';
	s->sent_ns = strtoull(end + 1, NULL, 10);
}

static void
header_bytes(struct session *s, const char *p, size_t n)
{
	if (!s->in_headers)
		return;
	if (n > HEADER_MAX - 1 - s->header_len)
		n = HEADER_MAX - 1 - s->header_len;
	memcpy(s->header + s->header_len, p, n);
	s->header_len += n;
}

/* Scans message content from the input; returns 1 once the final dot was
 * consumed (the rest of the input stays), 0 when more is needed. Only the
 * header lines are copied; the body is only searched for line ends. */
static int
scan_data(struct session *s, struct evbuffer *in)
{
	struct evbuffer_iovec vec[16];
	size_t used = 0;
	int n, done = 0;

	if (evbuffer_get_length(in) == 0)
		return 0;
	n = evbuffer_peek(in, -1, NULL, vec, 16);
	if (n > 16)
		n = 16;
	for (int i = 0; i < n && !done; i++) {
		const char *p = vec[i].iov_base;
		const char *end = p + vec[i].iov_len;

		while (p < end && !done) {
			const char *nl;

			switch (s->dstate) {
			case LINE_MID:
				nl = memchr(p, '\n', (size_t)(end - p));
				if (nl == NULL) {
					header_bytes(s, p, (size_t)(end - p));
					p = end;
					break;
				}
				header_bytes(s, p, (size_t)(nl + 1 - p));
				if (s->in_headers)
					header_line(s);
				s->header_len = 0;
				p = nl + 1;
				s->dstate = LINE_START;
				break;
			case LINE_START:
				s->dstate = *p == '.' ? DOT : LINE_MID;
				if (*p == '.') {
					header_bytes(s, p, 1);
					p++;
				}
				break;
			case DOT:
				s->dstate = *p == '\r' ? DOT_CR : LINE_MID;
				if (*p == '\r') {
					header_bytes(s, p, 1);
					p++;
				}
				break;
			case DOT_CR:
				if (*p == '\n') {
					p++;
					done = 1;
				} else
					s->dstate = LINE_MID;
				break;
			}
		}
		used += vec[i].iov_len - (size_t)(end - p);
	}
	evbuffer_drain(in, used);
	/* More chunks than one peek shows: go on with the rest. */
	return done || scan_data(s, in);
}

static void
start_data(struct session *s)
{
	s->phase = DATA;
	s->dstate = LINE_START;
	s->in_headers = 1;
	s->header_len = 0;
	s->sent_ns = 0;
	strcpy(s->id, "-");
	reply(s, "354 End data with <CR><LF>.<CR><LF>\r\n");
}

static void
ehlo(struct session *s)
{
	reply(s, "250-sink.bench.test\r\n250-PIPELINING\r\n250-SIZE 0\r\n"
	    "250-8BITMIME\r\n");
	if (!s->tls)
		reply(s, "250-STARTTLS\r\n");
	reply(s, "250 ENHANCEDSTATUSCODES\r\n");
}

static int
is_command(const char *line, const char *name)
{
	size_t n = strlen(name);

	return strncasecmp(line, name, n) == 0 &&
	    (line[n] == '\0' || line[n] == ' ' || line[n] == ':');
}

/* One command line; returns 0 to keep reading commands. */
static int
command(struct session *s, const char *line)
{
	if (is_command(line, "EHLO"))
		ehlo(s);
	else if (is_command(line, "HELO"))
		reply(s, "250 sink.bench.test\r\n");
	else if (is_command(line, "MAIL"))
		reply(s, "250 2.1.0 Ok\r\n");
	else if (is_command(line, "RCPT"))
		reply(s, "250 2.1.5 Ok\r\n");
	else if (is_command(line, "DATA")) {
		start_data(s);
		return 1;
	} else if (is_command(line, "RSET") || is_command(line, "NOOP"))
		reply(s, "250 2.0.0 Ok\r\n");
	else if (is_command(line, "STARTTLS") && !s->tls) {
		/* Switch once the reply is out: session_write does it. */
		reply(s, "220 2.0.0 Ready to start TLS\r\n");
		s->phase = STARTING_TLS;
		return 1;
	} else if (is_command(line, "QUIT")) {
		reply(s, "221 2.0.0 Bye\r\n");
		s->phase = CLOSING;
		return 1;
	} else
		reply(s, "502 5.5.2 Error: command not recognized\r\n");
	return 0;
}

static void
session_write(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	struct timeval idle = { .tv_sec = IDLE_TIMEOUT };
	SSL *ssl;

	(void)bev;
	if (s->phase == CLOSING) {
		session_free(s);
		return;
	}
	if (s->phase != STARTING_TLS)
		return;
	/* The 220 is out; whatever the client sent after STARTTLS (nothing,
	 * if it behaves) is discarded with the plain bufferevent. */
	if ((ssl = SSL_new(sink.ctx)) == NULL) {
		session_free(s);
		return;
	}
	bufferevent_free(s->bev);
	s->bev = bufferevent_openssl_socket_new(sink.base, s->fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (s->bev == NULL) {
		SSL_free(ssl);
		evutil_closesocket(s->fd);
		free(s);
		return;
	}
	s->tls = 1;
	sink.tls_sessions++;
	bufferevent_set_timeouts(s->bev, &idle, &idle);
	bufferevent_openssl_set_allow_dirty_shutdown(s->bev, 1);
	s->phase = COMMANDS;
	bufferevent_setcb(s->bev, session_read, session_write, session_event,
	    s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

static void
session_read(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (s->phase == COMMANDS || s->phase == DATA) {
		if (s->phase == DATA) {
			if (!scan_data(s, in))
				return;
			record(s);
			reply(s, "250 2.0.0 Ok: queued\r\n");
			s->phase = COMMANDS;
		} else {
			size_t len;
			char *line = evbuffer_readln(in, &len,
			    EVBUFFER_EOL_CRLF);
			int stop;

			if (line == NULL) {
				if (evbuffer_get_length(in) > 4096) {
					reply(s, "500 5.5.0 line too long\r\n");
					s->phase = CLOSING;
				}
				return;
			}
			stop = command(s, line);
			free(line);
			if (stop && s->phase == DATA)
				continue;
			if (stop)
				return;
		}
	}
}

static void
session_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	/* The TLS handshake is done: nothing to do until the client speaks. */
	if (what & BEV_EVENT_CONNECTED)
		return;
	/* EOF, error or timeout: the session is over. */
	session_free(arg);
}

static void
accepted(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int len, void *arg)
{
	struct session *s;
	struct timeval idle = { .tv_sec = IDLE_TIMEOUT };
	int on = 1;

	(void)l;
	(void)sa;
	(void)len;
	(void)arg;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->bev = bufferevent_socket_new(sink.base, fd, 0)) == NULL) {
		free(s);
		evutil_closesocket(fd);
		return;
	}
	s->fd = fd;
	s->phase = COMMANDS;
	sink.sessions++;
	bufferevent_setcb(s->bev, session_read, session_write, session_event,
	    s);
	bufferevent_set_timeouts(s->bev, &idle, &idle);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	reply(s, BANNER);
}

static void
dump_and_exit(evutil_socket_t sig, short what, void *arg)
{
	char path[4096];
	FILE *fp;

	(void)sig;
	(void)what;
	(void)arg;
	snprintf(path, sizeof(path), "%s.%d", sink.prefix, sink.index);
	if ((fp = fopen(path, "w")) == NULL) {
		perror(path);
		exit(1);
	}
	fprintf(fp, "# sessions=%ld tls=%ld messages=%zu\n", sink.sessions,
	    sink.tls_sessions, sink.narrivals);
	for (size_t i = 0; i < sink.narrivals; i++)
		fprintf(fp, "%" PRIu64 " %" PRIu64 " %s\n",
		    sink.arrivals[i].arrival_ns, sink.arrivals[i].sent_ns,
		    sink.arrivals[i].id);
	if (fclose(fp) != 0) {
		perror(path);
		exit(1);
	}
	exit(0);
}

static void
serve(int index, int listen_fd, volatile uint64_t *counts)
{
	struct evconnlistener *listener;
	struct event *term;

	sink.index = index;
	sink.count = &counts[index];
	sink.base = event_base_new();
	listener = evconnlistener_new(sink.base, accepted, NULL,
	    LEV_OPT_CLOSE_ON_FREE, -1, listen_fd);
	term = evsignal_new(sink.base, SIGTERM, dump_and_exit, NULL);
	if (sink.base == NULL || listener == NULL || term == NULL ||
	    evsignal_add(term, NULL) < 0) {
		fprintf(stderr, "sink: cannot set up the event loop\n");
		exit(1);
	}
	event_base_dispatch(sink.base);
	exit(1);
}

static SSL_CTX *
server_context(const char *cert, const char *key)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	static const unsigned char sid_ctx[] = "bench-sink";

	if (ctx == NULL ||
	    SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		ERR_print_errors_fp(stderr);
		exit(1);
	}
	/* Made before the fork: every process shares the ticket keys, so a
	 * relay's session resumes whichever process it reaches. */
	SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	return ctx;
}

static int
listen_on(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_port = htons((unsigned short)port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), on = 1;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on,
	    sizeof(on)) < 0 || bind(fd, (struct sockaddr *)&sin,
	    sizeof(sin)) < 0 || listen(fd, 4096) < 0) {
		perror("sink: listen");
		exit(1);
	}
	return fd;
}

/* The shared counters: PREFIX.count, mapped by every process. */
static volatile uint64_t *
counters(const char *prefix, int procs)
{
	char path[4096];
	size_t size = (size_t)procs * sizeof(uint64_t);
	void *map;
	int fd;

	snprintf(path, sizeof(path), "%s.count", prefix);
	if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644)) < 0 ||
	    ftruncate(fd, (off_t)size) < 0 ||
	    (map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
	    0)) == MAP_FAILED) {
		perror(path);
		exit(1);
	}
	close(fd);
	return map;
}

static volatile sig_atomic_t stopping;

static void
on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

int
main(int argc, char **argv)
{
	const char *cert = NULL, *key = NULL;
	int port = 0, procs = 2, ch, listen_fd, status = 0;
	volatile uint64_t *counts;
	pid_t *pids;
	struct sigaction sa = { .sa_handler = on_term };
	sigset_t block, old;

	while ((ch = getopt(argc, argv, "p:C:K:o:P:")) != -1) {
		switch (ch) {
		case 'p':
			port = atoi(optarg);
			break;
		case 'C':
			cert = optarg;
			break;
		case 'K':
			key = optarg;
			break;
		case 'o':
			sink.prefix = optarg;
			break;
		case 'P':
			procs = atoi(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (port <= 0 || procs <= 0 || !cert || !key || !sink.prefix)
		goto usage;
	signal(SIGPIPE, SIG_IGN);
	sink.ctx = server_context(cert, key);
	listen_fd = listen_on(port);
	counts = counters(sink.prefix, procs);
	if ((pids = calloc((size_t)procs, sizeof(*pids))) == NULL)
		return 1;
	/* SIGTERM is held until the handler is in place, so a stop that
	 * comes right after the start is not lost. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &old);
	sigaction(SIGTERM, &sa, NULL);
	for (int i = 0; i < procs; i++) {
		if ((pids[i] = fork()) == 0) {
			signal(SIGTERM, SIG_DFL);
			sigprocmask(SIG_SETMASK, &old, NULL);
			serve(i, listen_fd, counts);
		}
		if (pids[i] < 0) {
			perror("sink: fork");
			procs = i;
			stopping = 1;
			break;
		}
	}
	close(listen_fd);
	/* The parent only passes SIGTERM on and waits. */
	while (!stopping)
		sigsuspend(&old);
	for (int i = 0; i < procs; i++)
		kill(pids[i], SIGTERM);
	for (int i = 0; i < procs; i++) {
		int st;

		if (waitpid(pids[i], &st, 0) < 0 || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			status = 1;
	}
	return status;
usage:
	fprintf(stderr, "usage: sink -p PORT -C CERT -K KEY -o PREFIX "
	    "[-P PROCESSES]\n");
	return 2;
}
