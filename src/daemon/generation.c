/* generation: one reading of main.cf and master.cf turned into what the
 * workers run: what config_build builds (per service its conf, policy
 * and TLS context; for the queue manager the client's keys and CAs) and
 * the bound sockets. Every private key is read there, in the supervisor
 * and as root, before any child drops its privileges. Everything that can
 * be wrong with the configuration is found before a child starts, all of
 * it at once, so a bad reload changes nothing. */
#include "config.h"

#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/config_build.h"
#include "tlsrelay/log.h"
#include "tlsrelay/queue.h"
#include "tlsrelay/smtpd.h"
#include "tlsrelay/smtpd_policy.h"
#include "tlsrelay/tls.h"
#include "tlsrelay/tls_client.h"
#include "tlsrelay/util.h"
#include "daemon.h"

#define MAX_WORKERS 32

/* A problem, as tlsrelay conf and tlsrelay check say it too. */
static void
collect(void *arg, const struct master_service *svc, const char *what,
    const char *text)
{
	char *line = config_problem_line(svc, what, text);

	errlist_add(arg, line);
	free(line);
}

static int
listen_services(struct generation *gen, char **err)
{
	for (size_t i = 0; i < gen->n_services; i++) {
		const struct built_service *s = &gen->services[i];
		int *fds = NULL;
		size_t n_fds = 0;
		char *xerr = NULL;

		if (listen_service(s->conf, s->svc, &fds, &n_fds, &xerr) < 0) {
			*err = xasprintf("service %s (%s:%d): %s", s->svc->name,
			    s->svc->file, s->svc->line, xerr);
			free(xerr);
			return -1;
		}
		gen->listeners = xrealloc(gen->listeners,
		    (gen->n_listeners + n_fds) * sizeof(*gen->listeners));
		for (size_t j = 0; j < n_fds; j++) {
			struct smtpd_listener *l =
			    &gen->listeners[gen->n_listeners++];

			l->fd = fds[j];
			l->name = s->svc->name;
			l->conf = s->conf;
			l->ssl_ctx = s->ssl_ctx;
			l->policy = s->policy;
		}
		free(fds);
	}
	return 0;
}

static size_t
file_keys(const struct built_service *s)
{
	return s->ssl_ctx ? tls_server_ticket_file_keys(s->ssl_ctx) : 0;
}

void
generation_log_ticket_keys(const struct generation *gen)
{
	for (size_t i = 0; i < gen->n_services; i++) {
		const char *file = conf_str(gen->services[i].conf,
		    P_tlsrelay_smtpd_tls_ticket_key_file);
		size_t n = file_keys(&gen->services[i]);
		int seen = 0;

		for (size_t j = 0; j < i && !seen; j++)
			seen = file_keys(&gen->services[j]) > 0 &&
			    strcmp(file, conf_str(gen->services[j].conf,
			    P_tlsrelay_smtpd_tls_ticket_key_file)) == 0;
		if (n > 0 && !seen)
			msg_info("using %zu session ticket keys from %s", n,
			    file);
	}
}

/* A metrics port is meant for the monitoring on this host or behind it:
 * allowed elsewhere, but said, since anyone who reaches it reads the
 * node's traffic figures. */
static void
warn_unless_loopback(const char *param, const int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		char host[NI_MAXHOST];

		if (getsockname(fds[i], (struct sockaddr *)&ss, &len) < 0 ||
		    getnameinfo((struct sockaddr *)&ss, len, host,
		    sizeof(host), NULL, 0, NI_NUMERICHOST) != 0)
			continue;
		if (strncmp(host, "127.", 4) != 0 && strcmp(host, "::1") != 0)
			msg_warn("%s: listening on %s, which is not a loopback "
			    "address: anyone who can reach it can read it",
			    param, host);
	}
}

/* The status process's sockets, bound here as root like every listener;
 * the health port may be the metrics port (served there anyway). */
static int
listen_status(struct generation *gen, char **err)
{
	const char *metrics = conf_str(gen->conf, P_tlsrelay_metrics_listen);
	const char *health = conf_str(gen->conf, P_tlsrelay_health_listen);

	if (*metrics && listen_address(gen->conf, "tlsrelay_metrics_listen",
	    metrics, &gen->metrics_fds, &gen->n_metrics, err) < 0)
		return -1;
	if (*health && strcmp(health, metrics) != 0 && listen_address(gen->conf,
	    "tlsrelay_health_listen", health, &gen->health_fds,
	    &gen->n_health, err) < 0)
		return -1;
	return 0;
}

void
generation_warn_status(const struct generation *gen)
{
	warn_unless_loopback("tlsrelay_metrics_listen", gen->metrics_fds,
	    gen->n_metrics);
	warn_unless_loopback("tlsrelay_health_listen", gen->health_fds,
	    gen->n_health);
}

struct generation *
generation_new(const char *confdir, char **err)
{
	struct generation *gen;
	struct built_config *built;
	struct errlist errors;
	long long workers;

	errlist_init(&errors);
	built = config_build(confdir, 0, collect, &errors);
	if (built == NULL || built->errors > 0) {
		*err = errlist_steal(&errors);
		config_build_free(built);
		return NULL;
	}
	errlist_free(&errors);
	/* The generation owns what was built. */
	gen = xcalloc(1, sizeof(*gen));
	gen->conf = built->conf;
	gen->services = built->services;
	gen->n_services = built->n_services;
	gen->run_qmgr = built->qmgr != NULL;
	gen->client_tls = built->client_tls;
	if (built->ignored)
		msg_warn("%s/master.cf: ignoring services that tlsrelay does "
		    "not run: %s", confdir, built->ignored);
	free(built->ignored);
	free(built);
	listen_mark_unused();
	if (listen_services(gen, err) < 0 || listen_status(gen, err) < 0) {
		listen_undo();
		generation_free(gen);
		return NULL;
	}
	workers = conf_int(gen->conf, P_tlsrelay_smtpd_workers);
	if (workers <= 0)
		workers = sysconf(_SC_NPROCESSORS_ONLN);
	if (workers <= 0)
		workers = 1;
	if (workers > MAX_WORKERS)
		workers = MAX_WORKERS;
	gen->n_workers = (int)workers;
	/* Children started from now on name messages as this node. */
	queue_id_node(conf_str(gen->conf, P_myhostname));
	return gen;
}

void
generation_forget_server_keys(struct generation *gen)
{
	for (size_t i = 0; i < gen->n_services; i++) {
		SSL_CTX_free(gen->services[i].ssl_ctx);
		gen->services[i].ssl_ctx = NULL;
	}
	for (size_t i = 0; i < gen->n_listeners; i++)
		gen->listeners[i].ssl_ctx = NULL;
}

void
generation_free(struct generation *gen)
{
	if (gen == NULL)
		return;
	for (size_t i = 0; i < gen->n_services; i++) {
		smtpd_policy_free(gen->services[i].policy);
		SSL_CTX_free(gen->services[i].ssl_ctx);
		conf_free(gen->services[i].conf);
	}
	free(gen->services);
	free(gen->listeners);
	free(gen->metrics_fds);
	free(gen->health_fds);
	tls_client_free(gen->client_tls);
	conf_free(gen->conf);
	free(gen);
}
