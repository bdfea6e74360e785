/* listen: binds the inet services of master.cf and the status process's
 * sockets. Sockets live as long as some generation of workers needs them,
 * so a reload that keeps a service keeps its socket and never needs
 * privileges again. Every socket the supervisor holds is here, with the
 * role of the children that serve it: a forked child keeps its role's
 * and closes the rest (listen_keep_only). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/util.h"
#include "daemon.h"

struct bound_socket {
	char *key;		/* "addr|port", numeric */
	int fd;
	int used;		/* by the generation being built */
	enum listen_role role;	/* in the generation that last used it */
	enum listen_role saved_role;	/* in the running one */
};

static struct bound_socket *sockets;
static size_t n_sockets;
/* Those from here on were bound for the generation being built. */
static size_t n_running;

/* /etc/services may be missing on a minimal system. */
static const char *
well_known_port(const char *service)
{
	static const struct { const char *name, *port; } ports[] = {
		{ "smtp", "25" }, { "submission", "587" },
		{ "smtps", "465" }, { "submissions", "465" },
	};

	for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++)
		if (strcasecmp(service, ports[i].name) == 0)
			return ports[i].port;
	return service;
}

static int
bind_one(const struct addrinfo *ai, char **err, const char *label)
{
	int fd, on = 1;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, ai->ai_protocol);
	if (fd < 0) {
		*err = xasprintf("socket for %s: %s", label, strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
	    listen(fd, SOMAXCONN) < 0) {
		*err = xasprintf("bind %s: %s", label, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int
socket_for(const struct addrinfo *ai, enum listen_role role, int **fds,
    size_t *n_fds, char **err)
{
	char host[NI_MAXHOST], port[NI_MAXSERV], *key;
	size_t i;
	int fd;

	if (getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof(host), port,
	    sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		*err = xasprintf("getnameinfo failed");
		return -1;
	}
	key = xasprintf("%s|%s", host, port);
	for (i = 0; i < n_sockets; i++)
		if (strcmp(sockets[i].key, key) == 0)
			break;
	if (i < n_sockets) {
		free(key);
		if (sockets[i].used) {
			*err = xasprintf("%s port %s: listed twice in "
			    "master.cf", host, port);
			return -1;
		}
	} else {
		char *label = xasprintf("%s port %s", host, port);

		fd = bind_one(ai, err, label);
		free(label);
		if (fd < 0) {
			free(key);
			return -1;
		}
		sockets = xrealloc(sockets, (n_sockets + 1) * sizeof(*sockets));
		sockets[n_sockets].key = key;
		sockets[n_sockets].fd = fd;
		sockets[n_sockets].used = 0;
		i = n_sockets++;
	}
	sockets[i].used = 1;
	/* A reload may give an address to the other kind of child. */
	sockets[i].role = role;
	*fds = xrealloc(*fds, (*n_fds + 1) * sizeof(**fds));
	(*fds)[(*n_fds)++] = sockets[i].fd;
	return 0;
}

static int
family_allowed(const struct conf *conf, int family)
{
	const char *p = conf_str(conf, P_inet_protocols);

	if (strcasecmp(p, "all") == 0)
		return 1;
	return strstr(p, family == AF_INET ? "ipv4" : "ipv6") != NULL;
}

static int
resolve_and_bind(const struct conf *conf, const char *host, const char *port,
    const char *where, enum listen_role role, int **fds, size_t *n_fds,
    char **err)
{
	struct addrinfo hints, *res, *ai;
	int rc, bound = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	rc = getaddrinfo(host, well_known_port(port), &hints, &res);
	if (rc != 0) {
		*err = xasprintf("%s: cannot resolve %s%s%s: %s", where,
		    host ? host : "", host ? ":" : "", port, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (!family_allowed(conf, ai->ai_family))
			continue;
		if (socket_for(ai, role, fds, n_fds, err) < 0) {
			char *e = *err;

			*err = xasprintf("%s: %s", where, e);
			free(e);
			freeaddrinfo(res);
			return -1;
		}
		bound++;
	}
	freeaddrinfo(res);
	if (bound == 0) {
		*err = xasprintf("%s: no usable address for %s (inet_protocols "
		    "= %s)", where, host ? host : "*",
		    conf_str(conf, P_inet_protocols));
		return -1;
	}
	return 0;
}

int
listen_service(const struct conf *conf, const struct master_service *svc,
    int **fds, size_t *n_fds, char **err)
{
	char *where = xasprintf("%s:%d", svc->file, svc->line);
	int rc = 0;

	if (svc->host != NULL) {
		rc = resolve_and_bind(conf, *svc->host ? svc->host : NULL,
		    svc->port, where, LISTEN_SMTPD, fds, n_fds, err);
	} else {
		/* No address in the service name: inet_interfaces says. */
		const char *ifs = conf_str(conf, P_inet_interfaces);
		char **list;

		if (strcasecmp(ifs, "all") == 0)
			list = strlist_split(family_allowed(conf, AF_INET6) &&
			    family_allowed(conf, AF_INET) ? "0.0.0.0 ::" :
			    family_allowed(conf, AF_INET6) ? "::" : "0.0.0.0",
			    LIST_SEPARATORS, NULL);
		else if (strcasecmp(ifs, "loopback-only") == 0)
			list = strlist_split(family_allowed(conf, AF_INET6) &&
			    family_allowed(conf, AF_INET) ? "127.0.0.1 ::1" :
			    family_allowed(conf, AF_INET6) ? "::1" : "127.0.0.1",
			    LIST_SEPARATORS, NULL);
		else
			list = strlist_split(ifs, LIST_SEPARATORS, NULL);
		for (char **h = list; *h && rc == 0; h++) {
			char *host = *h;
			size_t len = strlen(host);

			if (host[0] == '[' && len > 2 && host[len - 1] == ']') {
				host[len - 1] = '\0';
				host++;
			}
			rc = resolve_and_bind(conf, host, svc->port, where,
			    LISTEN_SMTPD, fds, n_fds, err);
		}
		strlist_free(list);
	}
	free(where);
	return rc;
}

int
listen_address(const struct conf *conf, const char *param, const char *value,
    int **fds, size_t *n_fds, char **err)
{
	char *copy = xstrdup(value), *host = copy, *port;
	int rc;

	/* "host:port" or "[ipv6]:port", as Postfix writes inet services. */
	if (*host == '[' && (port = strstr(host, "]:")) != NULL) {
		*port = '\0';
		host++;
		port += 2;
	} else if ((port = strrchr(host, ':')) != NULL) {
		*port++ = '\0';
	}
	if (port == NULL || *port == '\0' || *host == '\0' ||
	    strchr(host, '[') || strchr(host, ']')) {
		*err = xasprintf("%s = %s: not host:port", param, value);
		free(copy);
		return -1;
	}
	rc = resolve_and_bind(conf, host, port, param, LISTEN_STATUS, fds,
	    n_fds, err);
	free(copy);
	return rc;
}

void
listen_mark_unused(void)
{
	for (size_t i = 0; i < n_sockets; i++) {
		sockets[i].used = 0;
		sockets[i].saved_role = sockets[i].role;
	}
	n_running = n_sockets;
}

void
listen_undo(void)
{
	for (size_t i = n_running; i < n_sockets; i++) {
		close(sockets[i].fd);
		free(sockets[i].key);
	}
	n_sockets = n_running;
	for (size_t i = 0; i < n_sockets; i++) {
		sockets[i].used = 1;
		sockets[i].role = sockets[i].saved_role;
	}
}

void
listen_close_unused(void)
{
	size_t j = 0;

	for (size_t i = 0; i < n_sockets; i++) {
		if (sockets[i].used) {
			sockets[j++] = sockets[i];
			continue;
		}
		close(sockets[i].fd);
		free(sockets[i].key);
	}
	n_sockets = n_running = j;
}

void
listen_close_all(void)
{
	listen_mark_unused();
	listen_close_unused();
	free(sockets);
	sockets = NULL;
}

/* The sockets are SOCK_CLOEXEC, but children are forked, not executed:
 * without this a worker would hold the metrics socket, the status
 * process every SMTP port, and the port would stay open after a stop
 * for as long as such a copy lives. */
void
listen_keep_only(enum listen_role role)
{
	for (size_t i = 0; i < n_sockets; i++)
		if (sockets[i].role != role)
			sockets[i].used = 0;
	listen_close_unused();
}
