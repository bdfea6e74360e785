/* resumption_load: STARTTLS handshakes per second against an SMTP
 * server, full or resumed. Not part of `make check`; bench/resumption.sh
 * builds and runs it.
 *
 *	resumption_load -p PORT [-a ADDR] [-v 1.2|1.3] [-m full|id|ticket]
 *	    [-c PROCESSES] [-t SECONDS]
 *
 * Each process loops: connect, greeting, EHLO, STARTTLS, handshake, EHLO
 * over TLS (which also reads TLS 1.3 tickets), QUIT. Mode full never
 * offers a session; id (TLS 1.2 session IDs, tickets refused) and ticket
 * offer the newest session of the previous connection. Prints one line:
 *	mode=ticket version=1.3 procs=4 seconds=5.00 handshakes=9123
 *	    resumed=9119 rate=1824.6
 * The rate counts whole SMTP sessions, so it includes the SMTP round
 * trips; the ratio between modes is what matters. The client ACKs at
 * once (TCP_QUICKACK) so that Nagle on the server side does not turn the
 * TLS 1.3 ticket into a 40 ms stall; see the comment in reply(). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads a (multi-line) reply from fd or ssl; returns its code or -1. */
static int
reply(int fd, SSL *ssl)
{
	char buf[4096];
	size_t len = 0;
	int one = 1;

	for (;;) {
		ssize_t n;
		char *line, *eol;

		if (len == sizeof(buf))
			return -1;
		/* ACK at once: a server without TCP_NODELAY holds its reply
		 * behind the TLS 1.3 ticket until our ACK (Nagle), and a
		 * delayed ACK would turn every session into 40 ms of
		 * waiting. */
		(void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one,
		    sizeof(one));
		n = ssl ? SSL_read(ssl, buf + len, (int)(sizeof(buf) - len)) :
		    read(fd, buf + len, sizeof(buf) - len);
		if (n <= 0)
			return -1;
		len += (size_t)n;
		/* The last complete line decides: "250 " ends a reply. */
		for (line = buf; (eol = memchr(line, '\n',
		    len - (size_t)(line - buf))) != NULL; line = eol + 1)
			if (eol - line >= 4 && line[3] == ' ')
				return atoi(line);
	}
}

static int
say(int fd, SSL *ssl, const char *text)
{
	size_t n = strlen(text);

	if (ssl)
		return SSL_write(ssl, text, (int)n) == (int)n ? 0 : -1;
	return write(fd, text, n) == (ssize_t)n ? 0 : -1;
}

/* One SMTP session; 1 resumed, 0 full, -1 failed. *session gets the
 * newest session. */
static int
one(SSL_CTX *ctx, const struct sockaddr_in *sin, SSL_SESSION **session,
    int offer)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0), one_ = 1, reused = -1;
	SSL *ssl = NULL;

	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one_, sizeof(one_));
	if (connect(fd, (const struct sockaddr *)sin, sizeof(*sin)) < 0 ||
	    reply(fd, NULL) != 220 || say(fd, NULL, "EHLO bench.test\r\n") ||
	    reply(fd, NULL) != 250 || say(fd, NULL, "STARTTLS\r\n") ||
	    reply(fd, NULL) != 220)
		goto out;
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	SSL_set_tlsext_host_name(ssl, "relay.test");
	if (offer && *session)
		SSL_set_session(ssl, *session);
	if (SSL_connect(ssl) != 1 || say(fd, ssl, "EHLO bench.test\r\n") ||
	    reply(fd, ssl) != 250)
		goto out;
	reused = SSL_session_reused(ssl);
	SSL_SESSION_free(*session);
	*session = SSL_get1_session(ssl);
	(void)say(fd, ssl, "QUIT\r\n");
	(void)reply(fd, ssl);
	(void)SSL_shutdown(ssl);
out:
	if (ssl)
		SSL_free(ssl);
	close(fd);
	ERR_clear_error();
	return reused;
}

static void
worker(int wfd, const struct sockaddr_in *sin, int version, int mode,
    double seconds)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL_SESSION *session = NULL;
	long done = 0, resumed = 0, failed = 0;
	double end;
	char out[128];

	SSL_CTX_set_min_proto_version(ctx, version);
	SSL_CTX_set_max_proto_version(ctx, version);
	if (mode == 1)
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	/* Warm-up: the first session is full in every mode. */
	(void)one(ctx, sin, &session, 0);
	end = now() + seconds;
	while (now() < end) {
		int r = one(ctx, sin, &session, mode != 0);

		if (r < 0)
			failed++;
		else {
			done++;
			resumed += r;
		}
	}
	snprintf(out, sizeof(out), "%ld %ld %ld\n", done, resumed, failed);
	if (write(wfd, out, strlen(out)) < 0)
		_exit(1);
	SSL_SESSION_free(session);
	SSL_CTX_free(ctx);
	_exit(0);
}

int
main(int argc, char **argv)
{
	const char *addr = "127.0.0.1", *mode_name = "full";
	int port = 0, version = TLS1_3_VERSION, mode = 0, procs = 4, ch;
	double seconds = 5;
	struct sockaddr_in sin;
	long done = 0, resumed = 0, failed = 0;
	int pipefd[2];
	FILE *fp;

	while ((ch = getopt(argc, argv, "a:p:v:m:c:t:")) != -1) {
		switch (ch) {
		case 'a':
			addr = optarg;
			break;
		case 'p':
			port = atoi(optarg);
			break;
		case 'v':
			version = strcmp(optarg, "1.2") == 0 ? TLS1_2_VERSION :
			    TLS1_3_VERSION;
			break;
		case 'm':
			mode_name = optarg;
			mode = strcmp(optarg, "id") == 0 ? 1 :
			    strcmp(optarg, "ticket") == 0 ? 2 : 0;
			break;
		case 'c':
			procs = atoi(optarg);
			break;
		case 't':
			seconds = atof(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (port <= 0 || procs <= 0 || seconds <= 0)
		goto usage;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1)
		goto usage;
	if (pipe(pipefd) < 0)
		return 1;
	for (int i = 0; i < procs; i++)
		if (fork() == 0) {
			close(pipefd[0]);
			worker(pipefd[1], &sin, version, mode, seconds);
		}
	close(pipefd[1]);
	fp = fdopen(pipefd[0], "r");
	for (int i = 0; i < procs; i++) {
		long d, r, f;

		if (fscanf(fp, "%ld %ld %ld", &d, &r, &f) != 3)
			break;
		done += d;
		resumed += r;
		failed += f;
	}
	while (wait(NULL) > 0)
		;
	printf("mode=%s version=%s procs=%d seconds=%.2f handshakes=%ld "
	    "resumed=%ld failed=%ld rate=%.1f\n", mode_name,
	    version == TLS1_2_VERSION ? "1.2" : "1.3", procs, seconds, done,
	    resumed, failed, (double)done / seconds);
	return failed > done ? 1 : 0;
usage:
	fprintf(stderr, "usage: resumption_load -p PORT [-a ADDR] "
	    "[-v 1.2|1.3] [-m full|id|ticket] [-c PROCESSES] [-t SECONDS]\n");
	return 2;
}
