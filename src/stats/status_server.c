/* status_server: the status process. Like Postfix's small services it
 * runs as mail_owner with its own event loop, started (and restarted) by
 * the supervisor, and stops with it. It answers
 *   GET /metrics  the counters of every process (OpenMetrics text), on
 *                 tlsrelay_metrics_listen;
 *   GET /health   200 while the node takes mail, 503 while it drains or
 *                 has no smtpd worker, on tlsrelay_health_listen and on
 *                 the metrics sockets;
 * with Connection: close, a bound on the request's size and time and on
 * the clients served at once. The root supervisor never reads HTTP. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/stats.h"
#include "tlsrelay/util.h"
#include "stats_int.h"

#define CLIENT_LIMIT	16	/* served at once; the rest wait in the
				 * kernel's backlog */
#define REQUEST_SECONDS	5	/* for a whole connection: request,
				 * response, close */
#define QUEUE_CACHE_MS	1000	/* a scrape storm scans the spool once */

struct client {
	TAILQ_ENTRY(client) entry;
	struct bufferevent *bev;
	struct event *deadline;	/* for the whole connection */
	int metrics;		/* came to a metrics socket */
};

struct status_listener {
	struct event *ev;
	int metrics;		/* a metrics socket (else health only) */
};

static struct {
	struct event_base *base;
	struct stats *stats;
	const char *queue_dir;
	struct status_listener *listeners;
	size_t n_listeners;
	TAILQ_HEAD(, client) clients;
	int n_clients;
	int paused;
	int stopping;		/* SIGTERM: finish the clients, then exit */
	struct stats_queue_info queue;
	long long queue_at;		/* monotonic ms; 0: never */
} srv;

static void
set_accepting(int on)
{
	if (srv.stopping)
		on = 0;
	if (on == !srv.paused)
		return;
	srv.paused = !on;
	for (size_t i = 0; i < srv.n_listeners; i++) {
		if (on)
			event_add(srv.listeners[i].ev, NULL);
		else
			event_del(srv.listeners[i].ev);
	}
}

static void
client_free(struct client *c)
{
	TAILQ_REMOVE(&srv.clients, c, entry);
	event_free(c->deadline);
	bufferevent_free(c->bev);
	free(c);
	srv.n_clients--;
	set_accepting(1);
	if (srv.stopping && srv.n_clients == 0)
		event_base_loopexit(srv.base, NULL);
}

static void
respond(struct client *c, int code, const char *reason,
    const char *content_type, const char *extra, const char *body,
    size_t body_len, int head_only)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n"
	    "Content-Type: %s\r\n"
	    "Content-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n"
	    "%s"
	    "Connection: close\r\n\r\n", code, reason, content_type,
	    body_len, extra ? extra : "");
	if (!head_only)
		evbuffer_add(out, body, body_len);
}

static void
respond_text(struct client *c, int code, const char *reason,
    const char *extra, const char *text, int head_only)
{
	respond(c, code, reason, "text/plain; charset=utf-8", extra, text,
	    strlen(text), head_only);
}

/* A timeout, an error, or the client gone (after the response: its
 * close). */
static void
event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	(void)what;
	client_free(arg);
}

static void
serve_metrics(struct client *c, int openmetrics, int head_only)
{
	long long now_ms = monotonic_ms();
	struct strbuf body;
	struct timeval tv;

	if (srv.queue_at == 0 || now_ms - srv.queue_at >= QUEUE_CACHE_MS) {
		stats_queue_scan(srv.queue_dir, &srv.queue);
		srv.queue_at = now_ms;
	}
	gettimeofday(&tv, NULL);
	strbuf_init(&body);
	stats_render(srv.stats, &srv.queue, (double)tv.tv_sec +
	    (double)tv.tv_usec / 1e6, openmetrics ? STATS_FORMAT_OPENMETRICS :
	    STATS_FORMAT_TEXT, &body);
	respond(c, 200, "OK", openmetrics ? STATS_CONTENT_TYPE_OPENMETRICS :
	    STATS_CONTENT_TYPE_TEXT, NULL, body.data, body.len, head_only);
	strbuf_free(&body);
}

static void
serve_health(struct client *c, int head_only)
{
	if (stats_draining(srv.stats))
		respond_text(c, 503, "Service Unavailable", NULL,
		    "draining\n", head_only);
	else if (stats_smtpd_workers(srv.stats) == 0)
		respond_text(c, 503, "Service Unavailable", NULL,
		    "no smtpd worker\n", head_only);
	else
		respond_text(c, 200, "OK", NULL, "ok\n", head_only);
}

static void
serve(struct client *c, const struct http_request *req)
{
	int head = strcmp(req->method, "HEAD") == 0;

	if (!head && strcmp(req->method, "GET") != 0)
		respond_text(c, 405, "Method Not Allowed",
		    "Allow: GET, HEAD\r\n", "method not allowed\n", 0);
	else if (strcmp(req->path, "/health") == 0)
		serve_health(c, head);
	else if (c->metrics && strcmp(req->path, "/metrics") == 0)
		serve_metrics(c, req->openmetrics, head);
	else
		respond_text(c, 404, "Not Found", NULL, "not found\n", head);
}

/* After the response: whatever the client still sends is read and
 * dropped until it closes (or the deadline), since closing with unread
 * input makes the kernel send a reset that can destroy the response on
 * its way (an oversized request, a body). */
static void
discard_cb(struct bufferevent *bev, void *arg)
{
	(void)arg;
	evbuffer_drain(bufferevent_get_input(bev),
	    evbuffer_get_length(bufferevent_get_input(bev)));
}

/* The response is out: no more from us. */
static void
write_cb(struct bufferevent *bev, void *arg)
{
	shutdown(bufferevent_getfd(bev), SHUT_WR);
	bufferevent_setcb(bev, discard_cb, NULL, event_cb, arg);
	discard_cb(bev, arg);
	bufferevent_enable(bev, EV_READ);
}

static void
read_cb(struct bufferevent *bev, void *arg)
{
	struct client *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct http_request req;
	size_t len = evbuffer_get_length(in);
	enum http_parse rc;
	const char *data;

	if (len > HTTP_REQUEST_MAX)
		len = HTTP_REQUEST_MAX;
	data = (const char *)evbuffer_pullup(in, (ev_ssize_t)len);
	rc = http_request_parse(data, len, &req);
	if (rc == HTTP_INCOMPLETE)
		return;
	/* One request per connection: read no more for now. */
	bufferevent_disable(bev, EV_READ);
	bufferevent_setcb(bev, NULL, write_cb, event_cb, c);
	if (rc == HTTP_BAD)
		respond_text(c, 400, "Bad Request", NULL, "bad request\n", 0);
	else
		serve(c, &req);
}

/* A client that sends its request a byte at a time does not keep its
 * place for longer than this either. */
static void
deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	client_free(arg);
}

static void
accept_cb(evutil_socket_t fd, short what, void *arg)
{
	struct status_listener *l = arg;
	struct timeval deadline = { REQUEST_SECONDS, 0 };
	struct client *c;
	int cfd;

	(void)what;
	while (srv.n_clients < CLIENT_LIMIT) {
		cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR && errno != ECONNABORTED)
				msg_warn("status: accept: %s",
				    strerror(errno));
			return;
		}
		c = xcalloc(1, sizeof(*c));
		c->metrics = l->metrics;
		c->bev = bufferevent_socket_new(srv.base, cfd,
		    BEV_OPT_CLOSE_ON_FREE);
		if (c->bev == NULL) {
			close(cfd);
			free(c);
			return;
		}
		c->deadline = evtimer_new(srv.base, deadline_cb, c);
		evtimer_add(c->deadline, &deadline);
		TAILQ_INSERT_TAIL(&srv.clients, c, entry);
		srv.n_clients++;
		bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
		bufferevent_setwatermark(c->bev, EV_READ, 0,
		    HTTP_REQUEST_MAX + 1);
		bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	}
	set_accepting(0);
}

/* A reload or a stop: no new client (the next status process, or none,
 * takes those waiting in the backlog); those here get their answer,
 * within their deadline. */
static void
sigterm_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	(void)arg;
	srv.stopping = 1;
	set_accepting(0);
	if (srv.n_clients == 0)
		event_base_loopexit(srv.base, NULL);
}

static void
add_listeners(const int *fds, size_t n, int metrics)
{
	for (size_t i = 0; i < n; i++) {
		struct status_listener *l = &srv.listeners[srv.n_listeners++];

		l->metrics = metrics;
		l->ev = event_new(srv.base, fds[i], EV_READ | EV_PERSIST,
		    accept_cb, l);
		event_add(l->ev, NULL);
	}
}

int
status_server_run(const struct conf *conf, struct stats *stats,
    const int *metrics_fds, size_t n_metrics, const int *health_fds,
    size_t n_health)
{
	struct event *sigterm;

	signal(SIGPIPE, SIG_IGN);
	memset(&srv, 0, sizeof(srv));
	if ((srv.base = event_base_new()) == NULL)
		msg_fatal("event_base_new failed");
	srv.stats = stats;
	TAILQ_INIT(&srv.clients);
	srv.queue_dir = conf_str(conf, P_queue_directory);
	srv.listeners = xcalloc(n_metrics + n_health + 1,
	    sizeof(*srv.listeners));
	add_listeners(metrics_fds, n_metrics, 1);
	add_listeners(health_fds, n_health, 0);
	sigterm = evsignal_new(srv.base, SIGTERM, sigterm_cb, NULL);
	event_add(sigterm, NULL);
	event_base_dispatch(srv.base);
	while (!TAILQ_EMPTY(&srv.clients))
		client_free(TAILQ_FIRST(&srv.clients));
	for (size_t i = 0; i < srv.n_listeners; i++)
		event_free(srv.listeners[i].ev);
	event_free(sigterm);
	free(srv.listeners);
	event_base_free(srv.base);
	return 0;
}
