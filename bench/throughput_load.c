/* throughput_load: sends N messages to an SMTP server over C concurrent
 * connections, one message per connection as smtp-source does, with
 * STARTTLS when asked (smtp-source has no TLS). Not part of `make check`;
 * bench/throughput.sh builds and runs it.
 *
 *	throughput_load -p PORT [-a ADDR] [-n MESSAGES] [-c CONNECTIONS]
 *	    [-l LENGTH] [-s] [-r] [-f FROM] [-t TO]
 *
 * -s: STARTTLS on every connection (a full handshake each time unless -r);
 * -r: offer the newest resumable session of this process's previous
 * connections (tickets or IDs).
 * Each of C processes sends its share of N sequentially: connect,
 * greeting, EHLO, [STARTTLS, handshake, EHLO,] MAIL, RCPT, DATA, LENGTH
 * bytes of body (78-byte lines) and the final dot in one write, QUIT.
 * Prints one line:
 *	messages=2000 sent=2000 failed=0 resumed=0 seconds=3.21 rate=623.1
 * The client sets TCP_NODELAY but not TCP_QUICKACK: it ACKs like an
 * ordinary MTA, so a server whose replies wait behind Nagle shows it. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

struct load {
	struct sockaddr_in sin;
	const char *from;
	const char *to;
	int tls;
	int resume;
	char *body;		/* LENGTH bytes of lines, then ".\r\n" */
	size_t body_len;
};

struct conn {
	int fd;
	SSL *ssl;
	char buf[8192];
	size_t len;		/* bytes in buf not yet consumed */
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads one whole (multi-line) reply; returns its code or -1. Bytes after
 * it stay in the buffer (the server may not pipeline, but be exact). */
static int
reply(struct conn *c)
{
	for (;;) {
		char *line = c->buf, *eol;
		ssize_t n;

		while ((eol = memchr(line, '\n',
		    c->len - (size_t)(line - c->buf))) != NULL) {
			if (eol - line >= 4 && line[3] == ' ') {
				int code = atoi(line);
				size_t used = (size_t)(eol + 1 - c->buf);

				memmove(c->buf, eol + 1, c->len - used);
				c->len -= used;
				return code;
			}
			line = eol + 1;
		}
		if (c->len == sizeof(c->buf))
			return -1;
		n = c->ssl ? SSL_read(c->ssl, c->buf + c->len,
		    (int)(sizeof(c->buf) - c->len)) :
		    read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
		if (n <= 0)
			return -1;
		c->len += (size_t)n;
	}
}

static int
send_all(struct conn *c, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = c->ssl ? SSL_write(c->ssl, data, (int)len) :
		    write(c->fd, data, len);

		if (n <= 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Sends a command and checks the reply's code. */
static int
command(struct conn *c, const char *text, int want)
{
	if (send_all(c, text, strlen(text)) < 0)
		return -1;
	return reply(c) == want ? 0 : -1;
}

/* One connection, one message. Returns 0 (sent), 1 (sent, resumed) or
 * -1; *session keeps the newest TLS session for -r. */
static int
one_message(const struct load *ld, SSL_CTX *ctx, SSL_SESSION **session)
{
	struct conn c = { .fd = -1 };
	struct timeval tv = { .tv_sec = 60 };
	char line[512];
	int on = 1, result = -1;

	if ((c.fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return -1;
	setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(c.fd, (const struct sockaddr *)&ld->sin,
	    sizeof(ld->sin)) < 0 || reply(&c) != 220 ||
	    command(&c, "EHLO load.bench.test\r\n", 250) < 0)
		goto out;
	if (ld->tls) {
		if (command(&c, "STARTTLS\r\n", 220) < 0 || c.len != 0)
			goto out;
		c.ssl = SSL_new(ctx);
		SSL_set_fd(c.ssl, c.fd);
		SSL_set_tlsext_host_name(c.ssl, "relay.test");
		if (ld->resume && *session)
			SSL_set_session(c.ssl, *session);
		if (SSL_connect(c.ssl) != 1 ||
		    command(&c, "EHLO load.bench.test\r\n", 250) < 0)
			goto out;
	}
	snprintf(line, sizeof(line), "MAIL FROM:<%s>\r\n", ld->from);
	if (command(&c, line, 250) < 0)
		goto out;
	snprintf(line, sizeof(line), "RCPT TO:<%s>\r\n", ld->to);
	if (command(&c, line, 250) < 0 || command(&c, "DATA\r\n", 354) < 0 ||
	    send_all(&c, ld->body, ld->body_len) < 0 || reply(&c) != 250)
		goto out;
	result = c.ssl && SSL_session_reused(c.ssl) ? 1 : 0;
	(void)command(&c, "QUIT\r\n", 221);
	if (c.ssl) {
		SSL_SESSION *newest = SSL_get1_session(c.ssl);

		/* Like an MTA's session cache: keep the old session when
		 * this connection left nothing to resume (no new ticket). */
		if (newest && SSL_SESSION_is_resumable(newest)) {
			SSL_SESSION_free(*session);
			*session = newest;
		} else
			SSL_SESSION_free(newest);
		(void)SSL_shutdown(c.ssl);
	}
out:
	if (c.ssl)
		SSL_free(c.ssl);
	close(c.fd);
	ERR_clear_error();
	return result;
}

static void
worker(int wfd, const struct load *ld, long count)
{
	SSL_CTX *ctx = NULL;
	SSL_SESSION *session = NULL;
	long sent = 0, resumed = 0, failed = 0;
	char out[128];

	if (ld->tls) {
		ctx = SSL_CTX_new(TLS_client_method());
		/* The bench measures the server; the client trusts it. */
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
		    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	}
	for (long i = 0; i < count; i++) {
		int r = one_message(ld, ctx, &session);

		if (r < 0)
			failed++;
		else {
			sent++;
			resumed += r;
		}
	}
	snprintf(out, sizeof(out), "%ld %ld %ld\n", sent, resumed, failed);
	if (write(wfd, out, strlen(out)) < 0)
		_exit(1);
	SSL_SESSION_free(session);
	SSL_CTX_free(ctx);
	_exit(0);
}

/* The DATA payload: a few headers, then lines of 76 letters + CRLF up
 * to length bytes of body, then the final dot. */
static void
make_body(struct load *ld, size_t length)
{
	size_t cap = length + 1024, len;
	char *p = malloc(cap);

	if (p == NULL)
		exit(1);
	len = (size_t)snprintf(p, cap, "From: <%s>\r\nTo: <%s>\r\n"
	    "Subject: throughput bench\r\n\r\n", ld->from, ld->to);
	for (size_t done = 0; done < length; ) {
		size_t n = length - done > 78 ? 78 : length - done;

		if (n < 3)
			n = length - done;	/* short tail: letters only */
		for (size_t i = 0; i < n; i++)
			p[len + i] = (char)('a' + (done + i) % 26);
		if (n >= 3) {
			p[len + n - 2] = '\r';
			p[len + n - 1] = '\n';
		}
		len += n;
		done += n;
	}
	if (len >= 2 && memcmp(p + len - 2, "\r\n", 2) != 0) {
		memcpy(p + len, "\r\n", 2);
		len += 2;
	}
	memcpy(p + len, ".\r\n", 3);
	ld->body = p;
	ld->body_len = len + 3;
}

int
main(int argc, char **argv)
{
	struct load ld = { .from = "sender@bench.test",
	    .to = "rcpt@bench.test" };
	const char *addr = "127.0.0.1";
	long messages = 2000, sent = 0, resumed = 0, failed = 0;
	int port = 0, procs = 20, ch, pipefd[2];
	size_t length = 10240;
	double start, seconds;
	FILE *fp;

	while ((ch = getopt(argc, argv, "a:p:n:c:l:srf:t:")) != -1) {
		switch (ch) {
		case 'a':
			addr = optarg;
			break;
		case 'p':
			port = atoi(optarg);
			break;
		case 'n':
			messages = atol(optarg);
			break;
		case 'c':
			procs = atoi(optarg);
			break;
		case 'l':
			length = (size_t)atol(optarg);
			break;
		case 's':
			ld.tls = 1;
			break;
		case 'r':
			ld.resume = 1;
			break;
		case 'f':
			ld.from = optarg;
			break;
		case 't':
			ld.to = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (port <= 0 || procs <= 0 || messages <= 0)
		goto usage;
	if (procs > messages)
		procs = (int)messages;
	ld.sin.sin_family = AF_INET;
	ld.sin.sin_port = htons((unsigned short)port);
	if (inet_pton(AF_INET, addr, &ld.sin.sin_addr) != 1)
		goto usage;
	make_body(&ld, length);
	if (pipe(pipefd) < 0)
		return 1;
	start = now();
	for (int i = 0; i < procs; i++) {
		long share = messages / procs + (i < messages % procs);

		if (fork() == 0) {
			close(pipefd[0]);
			worker(pipefd[1], &ld, share);
		}
	}
	close(pipefd[1]);
	fp = fdopen(pipefd[0], "r");
	for (int i = 0; i < procs; i++) {
		long s, r, f;

		if (fscanf(fp, "%ld %ld %ld", &s, &r, &f) != 3)
			break;
		sent += s;
		resumed += r;
		failed += f;
	}
	while (wait(NULL) > 0)
		;
	seconds = now() - start;
	printf("messages=%ld sent=%ld failed=%ld resumed=%ld seconds=%.3f "
	    "rate=%.1f\n", messages, sent, failed, resumed, seconds,
	    (double)sent / seconds);
	free(ld.body);
	return sent == messages ? 0 : 1;
usage:
	fprintf(stderr, "usage: throughput_load -p PORT [-a ADDR] "
	    "[-n MESSAGES] [-c CONNECTIONS] [-l LENGTH] [-s] [-r] "
	    "[-f FROM] [-t TO]\n");
	return 2;
}
