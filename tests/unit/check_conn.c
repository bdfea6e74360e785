/* check_conn: the connection layer over a socket pair: the line reader's
 * length limit and line endings, the output a close still sends, and
 * the plaintext that STARTTLS throws away unread before the handshake,
 * with its log line; the PROXY header read before anything else, never
 * a byte past it. */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include <openssl/ssl.h>

#include "tlsrelay/conn.h"
#include "tlsrelay/log.h"
#include "tlsrelay/proxy.h"
#include "tlsrelay/util.h"

#include "testutil.h"

struct pair {
	struct event_base *base;
	struct conn *conn;
	int peer;		/* the other end */
	int reads;		/* read callbacks seen */
	int proxied;		/* PROXY header callbacks seen */
	int proxy_ok;		/* the last one had a header */
	struct proxy_info info;
};

static void
count_read(struct conn *conn, void *arg)
{
	struct pair *p = arg;

	(void)conn;
	p->reads++;
}

static const struct conn_callbacks callbacks = { .read = count_read };

static void
pair_open(struct pair *p)
{
	int sv[2];

	memset(p, 0, sizeof(*p));
	p->base = event_base_new();
	ck_assert_ptr_nonnull(p->base);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sv), 0);
	p->peer = sv[1];
	p->conn = conn_new(p->base, sv[0], "peer.test[192.0.2.1]:25", "smtp",
	    &callbacks, p);
}

static void
pair_close(struct pair *p)
{
	if (p->conn != NULL)
		conn_abort(p->conn);
	close(p->peer);
	event_base_free(p->base);
}

/* The peer sends text; the loop runs until the conn has read it. */
static void
peer_says(struct pair *p, const char *text)
{
	int before = p->reads;

	ck_assert_int_eq(send(p->peer, text, strlen(text), 0),
	    (ssize_t)strlen(text));
	for (int i = 0; i < 100 && p->reads == before; i++)
		event_base_loop(p->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	ck_assert_int_gt(p->reads, before);
}

static void
expect_line(struct pair *p, size_t limit, const char *want, int want_flags)
{
	size_t len = 0;
	int flags = -1;
	char *line = conn_read_line(p->conn, limit, &len, &flags);

	ck_assert_ptr_nonnull(line);
	ck_assert_str_eq(line, want);
	ck_assert_uint_eq(len, strlen(want));
	ck_assert_int_eq(flags, want_flags);
}

static void
expect_none(struct pair *p, size_t limit)
{
	size_t len = 0;
	int flags;

	ck_assert_ptr_null(conn_read_line(p->conn, limit, &len, &flags));
}

START_TEST(lines_and_endings)
{
	struct pair p;

	pair_open(&p);
	peer_says(&p, "EHLO a\r\nNOOP\nQUIT");
	expect_line(&p, 10, "EHLO a", 0);
	expect_line(&p, 10, "NOOP", CONN_LINE_BARE_LF);
	/* Half a line waits for the rest. */
	expect_none(&p, 10);
	peer_says(&p, "\r\n");
	expect_line(&p, 10, "QUIT", 0);
	expect_none(&p, 10);
	pair_close(&p);
}
END_TEST

START_TEST(length_limit)
{
	struct pair p;

	pair_open(&p);
	/* A whole line over the limit: its first limit bytes, cut. */
	peer_says(&p, "0123456789\r\nnext\r\n");
	expect_line(&p, 4, "0123", CONN_LINE_CUT);
	expect_line(&p, 4, "next", 0);
	/* No line end yet, but already too long: cut now, the rest of
	 * the line is skipped when it comes. */
	peer_says(&p, "abcdefgh");
	expect_line(&p, 4, "abcd", CONN_LINE_CUT);
	peer_says(&p, "ijk\r\nafter\r\n");
	expect_line(&p, 5, "after", 0);
	/* A skipped rest that ends in a bare LF is reported as such. */
	peer_says(&p, "abcdefgh");
	expect_line(&p, 4, "abcd", CONN_LINE_CUT);
	peer_says(&p, "ijk\n");
	expect_line(&p, 4, "", CONN_LINE_TAIL | CONN_LINE_BARE_LF);
	expect_none(&p, 4);
	pair_close(&p);
}
END_TEST

START_TEST(close_flushes_output)
{
	char buf[64];
	struct pair p;
	ssize_t n, got = 0;

	pair_open(&p);
	conn_printf(p.conn, "221 2.0.0 %s\r\n", "Bye");
	/* Nothing ran the loop: the close itself writes, then closes. */
	conn_close(p.conn);
	p.conn = NULL;
	while ((n = recv(p.peer, buf + got, sizeof(buf) - 1 - (size_t)got,
	    MSG_DONTWAIT)) > 0)
		got += n;
	ck_assert_int_eq(n, 0);		/* end of file after the reply */
	buf[got] = '\0';
	ck_assert_str_eq(buf, "221 2.0.0 Bye\r\n");
	pair_close(&p);
}
END_TEST

static int
log_has(const char *path, const char *needle)
{
	size_t len;
	char *text = tu_read_file(path, &len);
	int found = strstr(text, needle) != NULL;

	free(text);
	return found;
}

START_TEST(starttls_discards_plaintext)
{
	char path[] = "/tmp/check_conn.XXXXXX", *err = NULL;
	unsigned char hello[16];
	struct pair p;
	SSL_CTX *ctx;
	ssize_t n = -1;
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(log_open(path, 0, "mail", &err), 0);
	pair_open(&p);
	ctx = SSL_CTX_new(TLS_client_method());
	ck_assert_ptr_nonnull(ctx);
	/* The "220" was read; a reply injected behind it was not. */
	peer_says(&p, "250 injected\r\n");
	ck_assert_ptr_nonnull(conn_tls_new(p.conn, ctx));
	ck_assert_int_eq(conn_starttls(p.conn, CONN_CLIENT), 0);
	/* Never handed out as a line. */
	expect_none(&p, 100);
	for (int i = 0; i < 100 && n <= 0; i++) {
		event_base_loop(p.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		n = recv(p.peer, hello, sizeof(hello), MSG_DONTWAIT);
	}
	/* What the peer gets next is our ClientHello: a TLS handshake
	 * record, not an SMTP command. */
	ck_assert_int_gt(n, 5);
	ck_assert_uint_eq(hello[0], 0x16);
	ck_assert(log_has(path, "warning: peer.test[192.0.2.1]:25 sent "
	    "plaintext after 220 to STARTTLS: 14 bytes discarded"));
	expect_none(&p, 100);
	pair_close(&p);
	SSL_CTX_free(ctx);
	log_close();
	unlink(path);
}
END_TEST

/* ---- the PROXY protocol header ---------------------------------------- */

static void
proxy_done(struct conn *conn, const struct proxy_info *info, void *arg)
{
	struct pair *p = arg;

	(void)conn;
	p->proxied++;
	p->proxy_ok = info != NULL;
	if (info != NULL)
		p->info = *info;
}

static void
send_bytes(struct pair *p, const void *data, size_t len)
{
	ck_assert_int_eq(send(p->peer, data, len, 0), (ssize_t)len);
}

/* Runs the loop (blocking up to the conn's own timers) until the header
 * callback has come. */
static void
until_proxied(struct pair *p)
{
	for (int i = 0; i < 100 && p->proxied == 0; i++)
		event_base_loop(p->base, EVLOOP_ONCE);
	ck_assert_int_eq(p->proxied, 1);
}

static void
log_to_temp(char *path)
{
	char *err = NULL;
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	close(fd);
	ck_assert_int_eq(log_open(path, 0, "mail", &err), 0);
}

/* A v1 header in two pieces, the client's EHLO in the second: the header
 * is taken, the EHLO is left for the line reader. */
START_TEST(proxy_v1_pieces_then_smtp)
{
	struct pair p;

	pair_open(&p);
	conn_proxy_receive(p.conn, 5, proxy_done);
	send_bytes(&p, "PROXY TCP4 192.0.2.7 198.5", 26);
	for (int i = 0; i < 5; i++)
		event_base_loop(p.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	ck_assert_int_eq(p.proxied, 0);
	ck_assert_int_eq(p.reads, 0);
	send_bytes(&p, "1.100.1 56324 25\r\nEHLO x\r\n", 26);
	until_proxied(&p);
	ck_assert(p.proxy_ok);
	ck_assert_str_eq(p.info.client_addr, "192.0.2.7");
	ck_assert_uint_eq(p.info.client_port, 56324);
	for (int i = 0; i < 100 && p.reads == 0; i++)
		event_base_loop(p.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	expect_line(&p, 100, "EHLO x", 0);
	expect_none(&p, 100);
	pair_close(&p);
}
END_TEST

/* A v2 header byte by byte, and behind it what a wrappermode client
 * sends: the start of a TLS record, which must stay unread for the
 * handshake (here: the first bytes the bufferevent reads). */
START_TEST(proxy_v2_bytewise_keeps_what_follows)
{
	static const unsigned char hdr[] = {
		0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49,
		0x54, 0x0a, 0x21, 0x21, 0x00, 0x24,
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
		0xdc, 0x04, 0x01, 0xd1,
		0x16, 0x03, 0x01,	/* not the header's */
	};
	unsigned char first[3];
	struct pair p;

	pair_open(&p);
	conn_proxy_receive(p.conn, 5, proxy_done);
	for (size_t i = 0; i < sizeof(hdr) - 3; i++) {
		send_bytes(&p, hdr + i, 1);
		event_base_loop(p.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	}
	until_proxied(&p);
	ck_assert(p.proxy_ok);
	ck_assert_int_eq(p.info.family, AF_INET6);
	ck_assert_str_eq(p.info.client_addr, "2001:db8::7");
	ck_assert_uint_eq(p.info.server_port, 465);
	send_bytes(&p, hdr + sizeof(hdr) - 3, 3);
	for (int i = 0; i < 100 && p.reads == 0; i++)
		event_base_loop(p.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	ck_assert_uint_eq(evbuffer_get_length(conn_input(p.conn)), 3);
	evbuffer_remove(conn_input(p.conn), first, 3);
	ck_assert_mem_eq(first, hdr + sizeof(hdr) - 3, 3);
	pair_close(&p);
}
END_TEST

/* No header: SMTP straight away, nothing at all, a peer that leaves. */
START_TEST(proxy_refused)
{
	char path[] = "/tmp/check_conn.XXXXXX";
	struct pair p;
	long long t0;

	log_to_temp(path);
	pair_open(&p);
	conn_proxy_receive(p.conn, 5, proxy_done);
	send_bytes(&p, "EHLO x\r\n", 8);
	until_proxied(&p);
	ck_assert(!p.proxy_ok);
	ck_assert_int_eq(p.reads, 0);
	ck_assert(log_has(path, "warning: haproxy read: no PROXY protocol "
	    "header from peer.test[192.0.2.1]:25"));
	pair_close(&p);

	/* The limit is for the whole header, not for each piece. */
	pair_open(&p);
	t0 = monotonic_ms();
	conn_proxy_receive(p.conn, 1, proxy_done);
	send_bytes(&p, "PROXY ", 6);
	until_proxied(&p);
	ck_assert(!p.proxy_ok);
	ck_assert_int_ge(monotonic_ms() - t0, 900);
	ck_assert(log_has(path, "warning: haproxy read: time limit exceeded "
	    "from peer.test[192.0.2.1]:25"));
	pair_close(&p);

	pair_open(&p);
	conn_proxy_receive(p.conn, 5, proxy_done);
	send_bytes(&p, "PROXY TCP4", 10);
	shutdown(p.peer, SHUT_WR);
	until_proxied(&p);
	ck_assert(!p.proxy_ok);
	ck_assert(log_has(path, "warning: haproxy read: lost connection "
	    "from peer.test[192.0.2.1]:25"));
	pair_close(&p);
	log_close();
	unlink(path);
}
END_TEST

static Suite *
conn_suite(void)
{
	Suite *s = suite_create("conn");
	TCase *tc = tcase_create("lines");

	tcase_add_test(tc, lines_and_endings);
	tcase_add_test(tc, length_limit);
	tcase_add_test(tc, close_flushes_output);
	suite_add_tcase(s, tc);
	tc = tcase_create("starttls");
	tcase_add_test(tc, starttls_discards_plaintext);
	suite_add_tcase(s, tc);
	tc = tcase_create("proxy");
	tcase_add_test(tc, proxy_v1_pieces_then_smtp);
	tcase_add_test(tc, proxy_v2_bytewise_keeps_what_follows);
	tcase_add_test(tc, proxy_refused);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(conn_suite)
