/* generation: one reading of main.cf and master.cf turned into what the
 * workers run: per service its conf, policy and TLS context, and the bound
 * sockets; for the queue manager the client's keys and CAs. Every private
 * key is read here, in the supervisor and as root, before any child drops
 * its privileges. Everything that can be wrong with the configuration is
 * found here, before a child starts, so a bad reload changes nothing. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/qmgr.h"
#include "tlsrelay/smtpd.h"
#include "tlsrelay/smtpd_policy.h"
#include "tlsrelay/tls.h"
#include "tlsrelay/tls_client.h"
#include "tlsrelay/util.h"
#include "daemon.h"

#define MAX_WORKERS 32

static int
build_service(struct generation *gen, const struct master_service *svc,
    char **err)
{
	struct service *s;
	int *fds = NULL;
	size_t n_fds = 0;
	char *xerr = NULL;

	gen->services = xrealloc(gen->services,
	    (gen->n_services + 1) * sizeof(*gen->services));
	s = &gen->services[gen->n_services++];
	memset(s, 0, sizeof(*s));
	if ((s->conf = conf_for_service(gen->conf, svc, err)) == NULL)
		return -1;
	if ((s->policy = smtpd_policy_new(s->conf, &xerr)) == NULL)
		goto fail;
	s->ssl_ctx = tls_server_ctx_new(s->conf, &xerr);
	if (s->ssl_ctx == NULL && xerr != NULL)
		goto fail;
	if (listen_service(s->conf, svc, &fds, &n_fds, &xerr) < 0)
		goto fail;
	gen->listeners = xrealloc(gen->listeners,
	    (gen->n_listeners + n_fds) * sizeof(*gen->listeners));
	for (size_t i = 0; i < n_fds; i++) {
		struct smtpd_listener *l = &gen->listeners[gen->n_listeners++];

		l->fd = fds[i];
		l->name = svc->name;
		l->conf = s->conf;
		l->ssl_ctx = s->ssl_ctx;
		l->policy = s->policy;
	}
	free(fds);
	return 0;
fail:
	*err = xasprintf("service %s (%s:%d): %s", svc->name, svc->file,
	    svc->line, xerr);
	free(xerr);
	return -1;
}

struct generation *
generation_new(const char *confdir, char **err)
{
	struct generation *gen = xcalloc(1, sizeof(*gen));
	const struct master_service *const *svcs, *qmgr;
	size_t n, ignored = 0;
	long long workers;
	struct strbuf skipped;
	char *xerr = NULL;

	if ((gen->conf = conf_load(confdir, err)) == NULL) {
		free(gen);
		return NULL;
	}
	listen_mark_unused();
	strbuf_init(&skipped);
	/* Postfix's stock line "qmgr unix n - n 300 1 qmgr" turns on
	 * outbound delivery; without it mail stays queued. */
	qmgr = conf_service_by_command(gen->conf, "qmgr");
	gen->run_qmgr = qmgr != NULL;
	n = conf_services(gen->conf, &svcs);
	for (size_t i = 0; i < n; i++) {
		if (svcs[i] == qmgr)
			continue;
		if (strcmp(svcs[i]->type, "inet") != 0 ||
		    strcmp(svcs[i]->command, "smtpd") != 0) {
			strbuf_printf(&skipped, "%s%s/%s", ignored++ ? ", " : "",
			    svcs[i]->name, svcs[i]->type);
			continue;
		}
		if (build_service(gen, svcs[i], err) < 0) {
			strbuf_free(&skipped);
			generation_free(gen);
			return NULL;
		}
	}
	if (ignored)
		msg_warn("%s/master.cf: ignoring services that tlsrelay does "
		    "not run: %s", confdir, skipped.data);
	strbuf_free(&skipped);
	if (gen->n_listeners == 0) {
		*err = xasprintf("%s/master.cf: no inet service with command "
		    "smtpd: nothing to listen on", confdir);
		generation_free(gen);
		return NULL;
	}
	if (gen->run_qmgr && (qmgr_check_conf(gen->conf, &xerr) < 0 ||
	    (gen->client_tls = tls_client_new(gen->conf, &xerr)) == NULL)) {
		*err = xasprintf("queue manager: %s", xerr);
		free(xerr);
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
	return gen;
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
	tls_client_free(gen->client_tls);
	conf_free(gen->conf);
	free(gen);
}
