/* config_build: one reading of the configuration built into what the
 * daemon runs, every problem reported. See config_build.h. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/config_build.h"
#include "tlsrelay/qmgr.h"
#include "tlsrelay/smtpd_policy.h"
#include "tlsrelay/tls.h"
#include "tlsrelay/tls_client.h"
#include "tlsrelay/util.h"

struct builder {
	struct built_config *built;
	int flags;
	config_report_fn *report;
	void *arg;
	struct errlist seen;	/* a service's view repeats main.cf's */
};

/* "FILE:LINE: ...": the text names where the problem is. */
static int
has_origin(const char *text)
{
	size_t file = strcspn(text, ": \t");

	return file > 0 && text[file] == ':' &&
	    text[file + 1] >= '0' && text[file + 1] <= '9';
}

char *
config_problem_line(const struct master_service *svc, const char *what,
    const char *text)
{
	if (svc == NULL || has_origin(text))
		return xstrdup(text);
	return xasprintf("%s:%d: %s %s: %s", svc->file, svc->line, what,
	    svc->name, text);
}

/* Each line of text, as one problem of svc. */
static void
problem(struct builder *b, const struct master_service *svc,
    const char *what, char *text)
{
	char *line = text, *next;

	for (; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (errlist_add(&b->seen, line) == 0)
			continue;
		/* tlsrelayd reads keys and certificates as root: a file that
		 * only root may read is right, not a finding of a check run
		 * by another user. */
		if ((b->flags & CONFIG_BUILD_CHECK) && geteuid() != 0 &&
		    strstr(line, strerror(EACCES)) != NULL) {
			b->report(b->arg, svc, "not checked", line);
			continue;
		}
		b->report(b->arg, svc, what, line);
		b->built->errors++;
	}
	free(text);
}

static void
build_service(struct builder *b, const struct master_service *svc)
{
	struct built_config *built = b->built;
	struct built_service *s;
	struct conf *view;
	char *err = NULL;

	view = conf_for_service_all(built->conf, svc, &err);
	if (err != NULL)
		problem(b, svc, "service", err);
	if (view == NULL)
		return;
	built->services = xrealloc(built->services,
	    (built->n_services + 1) * sizeof(*built->services));
	s = &built->services[built->n_services++];
	memset(s, 0, sizeof(*s));
	s->svc = svc;
	s->conf = view;
	if ((s->policy = smtpd_policy_new(view, &err)) == NULL)
		problem(b, svc, "service", err);
	/* NULL without an error: no TLS on this service. */
	if ((s->ssl_ctx = tls_server_ctx_new(view, &err)) == NULL &&
	    err != NULL)
		problem(b, svc, "service", err);
}

static void
build_qmgr(struct builder *b)
{
	struct built_config *built = b->built;
	char *err = NULL;

	if (qmgr_check_conf(built->conf, &err) < 0)
		problem(b, built->qmgr, "queue manager", err);
	if ((built->client_tls = tls_client_new(built->conf, &err)) == NULL)
		problem(b, built->qmgr, "queue manager", err);
}

struct built_config *
config_build(const char *confdir, int flags, config_report_fn *report,
    void *arg)
{
	struct builder b = { .flags = flags, .report = report, .arg = arg };
	const struct master_service *const *svcs;
	struct strbuf ignored;
	struct conf *conf;
	char *err = NULL;
	size_t n;

	/* A refused value does not stop the build (its default stands in):
	 * what it would find is reported in the same run. */
	conf = conf_load_all(confdir, &err);
	b.built = xcalloc(1, sizeof(*b.built));
	errlist_init(&b.seen);
	if (err != NULL)
		problem(&b, NULL, "configuration", err);
	if (conf == NULL) {
		errlist_free(&b.seen);
		free(b.built);
		return NULL;
	}
	b.built->conf = conf;
	/* Postfix's stock line "qmgr unix n - n 300 1 qmgr" turns on
	 * outbound delivery; without it mail stays queued. */
	b.built->qmgr = conf_service_by_command(conf, "qmgr");
	strbuf_init(&ignored);
	n = conf_services(conf, &svcs);
	for (size_t i = 0; i < n; i++) {
		if (svcs[i] == b.built->qmgr)
			continue;
		if (strcmp(svcs[i]->type, "inet") != 0 ||
		    strcmp(svcs[i]->command, "smtpd") != 0) {
			strbuf_printf(&ignored, "%s%s/%s",
			    ignored.len ? ", " : "", svcs[i]->name,
			    svcs[i]->type);
			continue;
		}
		build_service(&b, svcs[i]);
	}
	if (ignored.len)
		b.built->ignored = strbuf_steal(&ignored);
	strbuf_free(&ignored);
	if (b.built->n_services == 0 && b.built->errors == 0)
		problem(&b, NULL, "master.cf", xasprintf("%s/master.cf:1: no "
		    "inet service with command smtpd: nothing to listen on: "
		    "add \"smtp inet n - n - - smtpd\"", confdir));
	if (b.built->qmgr != NULL)
		build_qmgr(&b);
	errlist_free(&b.seen);
	return b.built;
}

void
config_build_free(struct built_config *built)
{
	if (built == NULL)
		return;
	for (size_t i = 0; i < built->n_services; i++) {
		smtpd_policy_free(built->services[i].policy);
		SSL_CTX_free(built->services[i].ssl_ctx);
		conf_free(built->services[i].conf);
	}
	free(built->services);
	tls_client_free(built->client_tls);
	free(built->ignored);
	conf_free(built->conf);
	free(built);
}
