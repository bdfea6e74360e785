/* sasl_dovecot: smtpd_sasl_type = dovecot, a client of Dovecot's
 * authentication server (protocol 1.x, as Postfix's xsasl_dovecot_server
 * speaks it) at smtpd_sasl_path: a UNIX socket, relative to
 * queue_directory ("private/auth") or absolute, or inet:address:port.
 *
 * Each worker keeps one connection, made when it starts and again when
 * needed after a loss, and runs every session's exchanges over it with
 * its own request ids. Nothing blocks: a request waits at most
 * DOVECOT_TIMEOUT for the server, after which the connection is dropped;
 * a lost or unreachable server answers every waiting exchange with
 * Postfix's "Connection lost to authentication server" (454 4.7.0, which
 * fail2ban's filter leaves alone) and logs one warning until the server
 * is back. The mechanisms EHLO offers are those of the last handshake. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/sasl.h"
#include "tlsrelay/sasl_server.h"
#include "tlsrelay/util.h"

/* Seconds for the connection and handshake, and for each answer. Dovecot
 * itself delays a failure by auth_failure_delay (2s). */
#define DOVECOT_TIMEOUT		10
/* A connection this old is closed once no exchange uses it, so that a
 * reloaded Dovecot is used: its old auth processes serve the clients
 * they have, with the old configuration, for as long as those stay. */
#define DOVECOT_MAX_AGE		100
#define MECHS_MAX		32
#define LOST			"Connection lost to authentication server"

enum link_state { LINK_DOWN, LINK_HANDSHAKE, LINK_READY };

/* One connection per auth server and worker, whatever the number of
 * services that use it. */
struct dovecot_link {
	char *path;			/* as configured, for the log */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	struct event_base *base;
	struct bufferevent *bev;	/* NULL when down */
	enum link_state state;
	unsigned generation;		/* of the connection */
	struct event *handshake_timer;
	time_t ready_since;		/* of the connection */
	int version_seen;
	int warned;			/* the server is away, and we said so */
	/* The mechanisms of the last handshake, kept while it is away. */
	char names[MECHS_MAX][SASL_MECH_NAME_MAX + 1];
	struct sasl_mech mechs[MECHS_MAX];
	size_t n_mechs;
	/* Those of the handshake under way. */
	char learning_names[MECHS_MAX][SASL_MECH_NAME_MAX + 1];
	unsigned learning_flags[MECHS_MAX];
	size_t n_learning;
	unsigned next_id;
	struct sasl_exchange *exchanges;
	struct dovecot_link *next;	/* the worker's links */
};

static struct dovecot_link *links;

/* A service's view: where its server is; its link once in a worker. */
struct sasl_server {
	char *path;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	struct dovecot_link *link;
};

struct sasl_exchange {
	struct dovecot_link *link;
	struct sasl_exchange *next, *prev;
	unsigned id;
	unsigned generation;	/* of the connection that has its request */
	sasl_result_fn *fn;
	void *arg;
	char *unsent;		/* a line for the server once it is ready;
				 * it may hold a password: wiped */
	int waiting;		/* for the server's answer */
	struct event *timer;
};

static void link_connect(struct dovecot_link *link);

/* ------------------------------------------------------ configuration */

static int
parse_inet(const char *spec, struct sasl_server *server)
{
	char *host, *port, *end;
	long n;
	int ok = 0;

	if (*spec == '[') {
		host = xstrdup(spec + 1);
		if ((end = strchr(host, ']')) == NULL || end[1] != ':') {
			free(host);
			return -1;
		}
		*end = '\0';
		port = end + 2;
	} else {
		host = xstrdup(spec);
		if ((end = strrchr(host, ':')) == NULL) {
			free(host);
			return -1;
		}
		*end = '\0';
		port = end + 1;
	}
	n = strtol(port, &end, 10);
	if (*port != '\0' && *end == '\0' && n > 0 && n < 65536) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&server->addr;
		struct sockaddr_in6 *sin6 =
		    (struct sockaddr_in6 *)&server->addr;

		if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
			sin->sin_family = AF_INET;
			sin->sin_port = htons((unsigned short)n);
			server->addrlen = sizeof(*sin);
			ok = 1;
		} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
			sin6->sin6_family = AF_INET6;
			sin6->sin6_port = htons((unsigned short)n);
			server->addrlen = sizeof(*sin6);
			ok = 1;
		}
	}
	free(host);
	return ok ? 0 : -1;
}

static struct sasl_server *
dovecot_server_new(const struct conf *conf, char **err)
{
	struct sasl_server *server = xcalloc(1, sizeof(*server));
	const char *path = conf_str(conf, P_smtpd_sasl_path);
	const char *origin = conf_origin(conf, P_smtpd_sasl_path);
	const char *service = conf_str(conf, P_smtpd_sasl_service);

	server->path = xstrdup(path);
	if (*service == '\0' || strpbrk(service, "\t\r\n") != NULL) {
		origin = conf_origin(conf, P_smtpd_sasl_service);
		*err = xasprintf("%s: smtpd_sasl_service: bad service name "
		    "\"%s\"", origin ? origin : "default", service);
		goto fail;
	}
	if (strncmp(path, "inet:", 5) == 0) {
		if (parse_inet(path + 5, server) < 0) {
			*err = xasprintf("%s: smtpd_sasl_path: bad address "
			    "\"%s\" (use inet:127.0.0.1:12345 or "
			    "inet:[::1]:12345)", origin ? origin : "default",
			    path);
			goto fail;
		}
	} else {
		struct sockaddr_un *sun = (struct sockaddr_un *)&server->addr;
		char *full = *path == '/' ? xstrdup(path) : xasprintf("%s/%s",
		    conf_str(conf, P_queue_directory), path);

		if (*path == '\0' || strlen(full) >= sizeof(sun->sun_path)) {
			*err = xasprintf("%s: smtpd_sasl_path: \"%s\" is not a "
			    "usable socket path", origin ? origin : "default",
			    full);
			free(full);
			goto fail;
		}
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, full, strlen(full) + 1);
		server->addrlen = sizeof(*sun);
		free(full);
	}
	return server;
fail:
	free(server->path);
	free(server);
	return NULL;
}

static void
exchange_stop_waiting(struct sasl_exchange *x)
{
	x->waiting = 0;
	if (x->timer != NULL)
		evtimer_del(x->timer);
}

static void
unsent_free(struct sasl_exchange *x)
{
	if (x->unsent != NULL)
		sasl_secret_free(x->unsent);
	x->unsent = NULL;
}

/* ---------------------------------------------------------- verdicts */

static void
tell(struct sasl_exchange *x, enum sasl_verdict v, const char *text,
    const char *user, const char *reason)
{
	struct sasl_result r = { .verdict = v, .challenge = text,
	    .username = user, .reason = reason, .attempted = user };

	exchange_stop_waiting(x);
	/* fn may end x: nothing touches it after this. */
	x->fn(x->arg, &r);
}

/* Every exchange that waits for the server hears that it is gone. */
static void
fail_waiting(struct dovecot_link *link)
{
	struct sasl_exchange *x;

	for (;;) {
		for (x = link->exchanges; x != NULL; x = x->next)
			if (x->waiting)
				break;
		if (x == NULL)
			return;
		unsent_free(x);
		tell(x, SASL_TEMPFAIL, NULL, NULL, LOST);
	}
}

/* ------------------------------------------------------ the connection */

static void
link_drop(struct dovecot_link *link, const char *why)
{
	if (link->bev != NULL)
		bufferevent_free(link->bev);
	link->bev = NULL;
	link->state = LINK_DOWN;
	link->generation++;
	if (link->handshake_timer != NULL)
		evtimer_del(link->handshake_timer);
	if (!link->warned) {
		msg_warn("SASL: %s: %s", link->path, why);
		link->warned = 1;
	}
	fail_waiting(link);
}

static void
link_write(struct dovecot_link *link, const char *line)
{
	bufferevent_write(link->bev, line, strlen(line));
}

/* The handshake is over: what waited for it goes out. */
static void
link_ready(struct dovecot_link *link)
{
	struct sasl_exchange *x;

	link->state = LINK_READY;
	link->ready_since = time(NULL);
	evtimer_del(link->handshake_timer);
	memcpy(link->names, link->learning_names, sizeof(link->names));
	link->n_mechs = link->n_learning;
	for (size_t i = 0; i < link->n_mechs; i++) {
		link->mechs[i].name = link->names[i];
		link->mechs[i].flags = link->learning_flags[i];
	}
	if (link->warned) {
		msg_info("SASL: %s: connected again", link->path);
		link->warned = 0;
	}
	for (x = link->exchanges; x != NULL; x = x->next) {
		if (x->unsent == NULL)
			continue;
		x->generation = link->generation;
		link_write(link, x->unsent);
		unsent_free(x);
	}
}

static struct sasl_exchange *
find_waiting(struct dovecot_link *link, unsigned id)
{
	for (struct sasl_exchange *x = link->exchanges; x; x = x->next)
		if (x->id == id && x->waiting &&
		    x->generation == link->generation)
			return x;
	return NULL;
}

/* One line from the server; -1 drops the connection (*why). */
static int
link_line(struct dovecot_link *link, char *line, const char **why)
{
	struct dovecot_reply r;
	struct sasl_exchange *x;
	enum dovecot_line type = dovecot_parse_line(line, &r);

	switch (type) {
	case DOVECOT_BAD:
		*why = "malformed line from the authentication server";
		return -1;
	case DOVECOT_OTHER:
		return 0;
	case DOVECOT_VERSION:
		if (r.major != 1) {
			*why = "authentication server speaks protocol "
			    "version 2 or later, not 1";
			return -1;
		}
		link->version_seen = 1;
		return 0;
	case DOVECOT_MECH:
		if (link->state != LINK_HANDSHAKE || r.private_mech ||
		    link->n_learning == MECHS_MAX)
			return 0;
		memcpy(link->learning_names[link->n_learning], r.mech,
		    sizeof(r.mech));
		link->learning_flags[link->n_learning++] = r.flags;
		return 0;
	case DOVECOT_DONE:
		if (link->state != LINK_HANDSHAKE || !link->version_seen) {
			*why = "authentication server handshake out of order";
			return -1;
		}
		link_ready(link);
		return 0;
	case DOVECOT_OK:
	case DOVECOT_CONT:
	case DOVECOT_FAIL:
		if (link->state != LINK_READY) {
			*why = "authentication server answered before its "
			    "handshake";
			return -1;
		}
		/* An exchange that ended meanwhile is not there. */
		if ((x = find_waiting(link, r.id)) == NULL)
			return 0;
		if (type == DOVECOT_CONT)
			tell(x, SASL_CONTINUE, r.data, NULL, NULL);
		else if (type == DOVECOT_OK)
			tell(x, SASL_SUCCESS, NULL, r.user, NULL);
		else if (r.temp)
			tell(x, SASL_TEMPFAIL, NULL, r.user, r.reason ?
			    r.reason : "temporary failure");
		else
			tell(x, SASL_FAILURE, NULL, r.user, r.reason ?
			    r.reason : "(reason unavailable)");
		return 0;
	}
	return 0;
}

static void
link_read(struct bufferevent *bev, void *arg)
{
	struct dovecot_link *link = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	const char *why = NULL;
	size_t len;
	char *line;

	while ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF)) != NULL) {
		int bad = len > DOVECOT_LINE_MAX || memchr(line, '\0', len) ||
		    link_line(link, line, &why) < 0;

		free(line);
		if (bad) {
			link_drop(link, why ? why :
			    "overlong line from the authentication server");
			return;
		}
		/* A verdict's callback cannot drop the link: it is ours. */
	}
	if (evbuffer_get_length(in) > DOVECOT_LINE_MAX) {
		link_drop(link, "overlong line from the authentication "
		    "server");
		return;
	}
	/* Retired quietly; the next login connects again. */
	if (link->state == LINK_READY && link->exchanges == NULL &&
	    evbuffer_get_length(in) == 0 &&
	    time(NULL) - link->ready_since >= DOVECOT_MAX_AGE) {
		bufferevent_free(link->bev);
		link->bev = NULL;
		link->state = LINK_DOWN;
		link->generation++;
	}
}

static void
link_event(struct bufferevent *bev, short what, void *arg)
{
	struct dovecot_link *link = arg;
	char why[256];

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		/* Our half of the handshake; the server's comes in. */
		char hello[64];

		snprintf(hello, sizeof(hello), "VERSION\t1\t1\nCPID\t%ld\n",
		    (long)getpid());
		link_write(link, hello);
		bufferevent_enable(link->bev, EV_READ);
		return;
	}
	if (what & BEV_EVENT_EOF)
		snprintf(why, sizeof(why), "%s", LOST);
	else
		snprintf(why, sizeof(why), "%s failed: %s",
		    link->state == LINK_READY ? "read" : "connect",
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	link_drop(link, why);
}

static void
handshake_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	link_drop(arg, "timeout connecting to the authentication server");
}

static void
link_connect(struct dovecot_link *link)
{
	if (link->state != LINK_DOWN || link->base == NULL)
		return;
	link->bev = bufferevent_socket_new(link->base, -1,
	    BEV_OPT_CLOSE_ON_FREE);
	if (link->bev == NULL) {
		link_drop(link, "cannot make a socket");
		return;
	}
	link->state = LINK_HANDSHAKE;
	link->version_seen = 0;
	link->n_learning = 0;
	bufferevent_setcb(link->bev, link_read, NULL, link_event, link);
	{
		struct timeval tv = { DOVECOT_TIMEOUT, 0 };

		evtimer_add(link->handshake_timer, &tv);
	}
	/* A refused connect may be reported at once, through link_event
	 * (which drops the link) or by the return value. */
	if (bufferevent_socket_connect(link->bev,
	    (struct sockaddr *)&link->addr, (int)link->addrlen) < 0 &&
	    link->state == LINK_HANDSHAKE)
		link_drop(link, "connect failed");
}

/* ------------------------------------------------------ the interface */

static int
dovecot_server_attach(struct sasl_server *server, struct event_base *base,
    char **err)
{
	struct dovecot_link *link;

	(void)err;
	for (link = links; link != NULL; link = link->next)
		if (link->addrlen == server->addrlen &&
		    memcmp(&link->addr, &server->addr, server->addrlen) == 0) {
			server->link = link;
			return 0;
		}
	link = xcalloc(1, sizeof(*link));
	link->path = xstrdup(server->path);
	link->addr = server->addr;
	link->addrlen = server->addrlen;
	link->base = base;
	link->handshake_timer = evtimer_new(base, handshake_timeout, link);
	link->next = links;
	links = link;
	server->link = link;
	/* Learn the mechanisms before the first EHLO: the loop serves no
	 * one yet, and the handshake is bounded by its timer. */
	link_connect(link);
	while (link->state == LINK_HANDSHAKE)
		event_base_loop(base, EVLOOP_ONCE);
	return 0;
}

/* The link, if any, belongs to the worker and lives as long as it. */
static void
dovecot_server_free(struct sasl_server *server)
{
	if (server == NULL)
		return;
	free(server->path);
	free(server);
}

static size_t
dovecot_mechanisms(struct sasl_server *server, const struct sasl_mech **mechs)
{
	struct dovecot_link *link = server->link;

	if (link == NULL)
		return 0;
	/* Never heard from the server: try now, for the next EHLO. */
	if (link->n_mechs == 0)
		link_connect(link);
	*mechs = link->mechs;
	return link->n_mechs;
}

static void
exchange_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct sasl_exchange *x = arg;

	(void)fd;
	(void)what;
	/* A server that does not answer is of no use to anyone. */
	link_drop(x->link, "timeout waiting for the authentication server");
}

/* Sends line for x now, or when the server is ready; the answer is
 * awaited for DOVECOT_TIMEOUT. line is taken over. */
static void
request(struct sasl_exchange *x, char *line)
{
	struct dovecot_link *link = x->link;
	struct timeval tv = { DOVECOT_TIMEOUT, 0 };

	x->waiting = 1;
	if (x->timer == NULL)
		x->timer = evtimer_new(link->base, exchange_timeout, x);
	evtimer_add(x->timer, &tv);
	if (link->state == LINK_READY) {
		x->generation = link->generation;
		link_write(link, line);
		sasl_secret_free(line);
		return;
	}
	x->unsent = line;
	link_connect(link);
}

static int
base64_chars(const char *s)
{
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789+/=") == strlen(s);
}

static struct sasl_exchange *
dovecot_start(struct sasl_server *server,
    const struct sasl_client_info *client, const char *mech,
    const char *initial, sasl_result_fn *fn, void *arg)
{
	struct dovecot_link *link = server->link;
	struct sasl_exchange *x = xcalloc(1, sizeof(*x));
	struct strbuf line;

	x->link = link;
	x->fn = fn;
	x->arg = arg;
	x->id = ++link->next_id;
	if ((x->next = link->exchanges) != NULL)
		x->next->prev = x;
	link->exchanges = x;
	/* The client's bytes go into a tab-separated line: base64 only. */
	if (initial != NULL && !base64_chars(initial)) {
		tell(x, SASL_BADPROTO, NULL, NULL, NULL);
		return x;
	}
	strbuf_init(&line);
	strbuf_printf(&line, "AUTH\t%u\t%s\tservice=%s\tnologin\tlip=%s\t"
	    "rip=%s\tlport=%d\trport=%d", x->id, mech, client->service,
	    client->local_addr, client->client_addr, client->local_port,
	    client->client_port);
	if (client->tls_active)
		strbuf_puts(&line, "\tsecured");
	/* RFC 4954's "=" is an empty initial response: "resp=". */
	if (initial != NULL)
		strbuf_printf(&line, "\tresp=%s", strcmp(initial, "=") == 0 ?
		    "" : initial);
	strbuf_puts(&line, "\n");
	request(x, strbuf_steal(&line));
	return x;
}

static void
dovecot_step(struct sasl_exchange *x, const char *response)
{
	if (!base64_chars(response)) {
		tell(x, SASL_BADPROTO, NULL, NULL, NULL);
		return;
	}
	/* The connection that knew this request is gone. */
	if (x->generation != x->link->generation ||
	    x->link->state != LINK_READY) {
		tell(x, SASL_TEMPFAIL, NULL, NULL, LOST);
		return;
	}
	request(x, xasprintf("CONT\t%u\t%s\n", x->id, response));
}

static void
dovecot_end(struct sasl_exchange *x)
{
	if (x == NULL)
		return;
	if (x->prev != NULL)
		x->prev->next = x->next;
	else
		x->link->exchanges = x->next;
	if (x->next != NULL)
		x->next->prev = x->prev;
	if (x->timer != NULL)
		event_free(x->timer);
	unsent_free(x);
	free(x);
}

const struct sasl_backend sasl_backend_dovecot = {
	.type = "dovecot",
	.server_new = dovecot_server_new,
	.server_free = dovecot_server_free,
	.server_attach = dovecot_server_attach,
	.mechanisms = dovecot_mechanisms,
	.start = dovecot_start,
	.step = dovecot_step,
	.end = dovecot_end,
};
