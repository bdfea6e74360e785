/* tlsrelay check: the configuration lint Postfix lacks.
 *
 *	tlsrelay check [-c confdir]
 *
 * Reads main.cf and master.cf, builds what the daemon builds for every
 * smtpd service and for the queue manager (without binding a socket),
 * then looks at what the configuration names: certificates, tables,
 * directories. Every finding is reported, each once, as
 * "tlsrelay: error|warning: FILE:LINE: problem: fix". Exit status: 1 with
 * at least one error (the daemon would refuse to start, or mail would be
 * lost or deferred), 0 with warnings only, 2 on a usage error. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/config_build.h"
#include "tlsrelay/log.h"
#include "tlsrelay/map.h"
#include "tlsrelay/tls.h"
#include "tlsrelay/util.h"

#include "check.h"
#include "cli.h"

/* ---- findings ----------------------------------------------------------- */

/* 1 when text was reported already (one main.cf line seen by every
 * service); else remembers it. */
static int
check_seen(struct check *c, const char *text)
{
	for (size_t i = 0; i < c->n_seen; i++)
		if (strcmp(c->seen[i], text) == 0)
			return 1;
	c->seen = xrealloc(c->seen, (c->n_seen + 1) * sizeof(*c->seen));
	c->seen[c->n_seen++] = xstrdup(text);
	return 0;
}

/* One finding, said once however many services lead to it. */
static void
finding(struct check *c, int is_error, const char *fmt, va_list ap)
{
	char *text = xvasprintf(fmt, ap);

	if (!check_seen(c, text)) {
		if (is_error) {
			msg_error("%s", text);
			c->errors++;
		} else
			msg_warn("%s", text);
	}
	free(text);
}

void
check_error(struct check *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	finding(c, 1, fmt, ap);
	va_end(ap);
}

void
check_warn(struct check *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	finding(c, 0, fmt, ap);
	va_end(ap);
}

const char *
check_origin(const struct conf *conf, int param)
{
	static char buf[4096];
	const char *origin = conf_origin(conf, param);

	if (origin != NULL)
		return origin;
	snprintf(buf, sizeof(buf), "%s/main.cf", conf_dir(conf));
	return buf;
}

/* A problem config_build found: what would stop the daemon. */
static void
build_problem(void *arg, const struct master_service *svc, const char *what,
    const char *text)
{
	struct check *c = arg;
	char *line;

	if (strcmp(what, "not checked") == 0) {
		check_warn(c, "%s: not checked: tlsrelayd reads it as root: "
		    "run tlsrelay check as root", text);
		return;
	}
	line = config_problem_line(svc, what, text);
	check_error(c, "%s", line);
	free(line);
}

/* ---- the smtpd services --------------------------------------------------- */

static int
restrictions_require_auth(const struct conf *conf)
{
	static const enum conf_str_param lists[] = {
		P_smtpd_client_restrictions, P_smtpd_helo_restrictions,
		P_smtpd_sender_restrictions, P_smtpd_relay_restrictions,
		P_smtpd_recipient_restrictions,
	};

	/* "permit_sasl_authenticated, reject": nothing else gets through. */
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		size_t n;
		char **words = strlist_split(conf_str(conf, lists[i]),
		    LIST_SEPARATORS, &n);
		int required = n >= 2 &&
		    strcmp(words[n - 2], "permit_sasl_authenticated") == 0 &&
		    strcmp(words[n - 1], "reject") == 0;

		strlist_free(words);
		if (required)
			return 1;
	}
	return 0;
}

/* Submission (RFC 6409) is for the users' clients: a password or a
 * certificate goes over it, and a relay that lets anyone submit is an
 * open relay for whoever finds the port. */
static void
check_submission(struct check *c, const struct master_service *svc,
    const struct conf *conf)
{
	int encrypted, authenticated;

	if (strcmp(svc->name, "submission") != 0 &&
	    (svc->port == NULL || strcmp(svc->port, "587") != 0))
		return;
	encrypted = conf_bool(conf, P_smtpd_tls_wrappermode) ||
	    tls_smtpd_level(conf) >= TLS_LEV_ENCRYPT;
	authenticated = conf_bool(conf, P_smtpd_sasl_auth_enable) &&
	    restrictions_require_auth(conf);
	if (!encrypted && !authenticated)
		check_warn(c, "%s:%d: submission service \"%s\" has neither "
		    "encryption nor authentication: add -o "
		    "smtpd_tls_security_level=encrypt, -o "
		    "smtpd_sasl_auth_enable=yes and -o "
		    "smtpd_relay_restrictions=permit_sasl_authenticated,reject",
		    svc->file, svc->line, svc->name);
}

/* The line after the last of master.cf, where the missing line goes. */
static int
master_end_line(const struct conf *conf, char **path)
{
	char *text, *err = NULL;
	int lines = 1;

	*path = xasprintf("%s/master.cf", conf_dir(conf));
	if ((text = file_read_text(*path, &err)) == NULL) {
		free(err);
		return 1;
	}
	for (const char *p = text; *p; p++)
		if (*p == '\n')
			lines++;
	free(text);
	return lines;
}

/* What config_build does not look at: certificates as the peers see
 * them, submission without protection, a missing queue manager. */
static void
check_built(struct check *c, const struct built_config *built)
{
	char *path;
	int line;

	for (size_t i = 0; i < built->n_services; i++) {
		check_submission(c, built->services[i].svc,
		    built->services[i].conf);
		check_certs(c, built->services[i].conf, 1);
	}
	if (built->qmgr == NULL) {
		line = master_end_line(built->conf, &path);
		check_warn(c, "%s:%d: no queue manager: mail will be accepted "
		    "and never delivered: add \"qmgr unix n - n 300 1 qmgr\"",
		    path, line);
		free(path);
		return;
	}
	check_certs(c, built->conf, 0);
}

/* ---- relay control -------------------------------------------------------- */

/* Clients in mynetworks relay anywhere: an entry wider than the subnets
 * of this host (what mynetworks_style = subnet would trust) is usually a
 * typo ("/8" for "/24") or an open relay. */
static void
check_mynetworks(struct check *c, const struct conf *conf)
{
	struct cidr_list *mine, *subnets;
	char *local, *wider, *err = NULL;

	if (!conf_is_set(conf, P_mynetworks))
		return;
	/* A list the daemon refuses was reported with the services. */
	if ((mine = cidr_list_parse(conf_str(conf, P_mynetworks), &err)) ==
	    NULL) {
		free(err);
		return;
	}
	local = cidr_subnet_networks();
	if ((subnets = cidr_list_parse(local, &err)) == NULL) {
		free(err);
	} else if ((wider = cidr_list_outside(mine, subnets)) != NULL) {
		check_warn(c, "%s: mynetworks: %s: wider than this host's "
		    "networks (%s): clients there may relay to any destination: "
		    "narrow or remove it", check_origin(conf, P_mynetworks),
		    wider, local);
		free(wider);
	}
	cidr_list_free(subnets);
	cidr_list_free(mine);
	free(local);
}

/* ---- the verb ------------------------------------------------------------- */

static int
usage(void)
{
	fprintf(stderr, "usage: tlsrelay check [-c confdir]\n");
	return 2;
}

int
cmd_check(int argc, char **argv)
{
	const char *confdir = SYSCONFDIR;
	struct built_config *built;
	struct check c;
	int ch;

	while ((ch = getopt(argc, argv, "c:")) != -1) {
		switch (ch) {
		case 'c':
			confdir = optarg;
			break;
		default:
			return usage();
		}
	}
	if (optind != argc)
		return usage();
	memset(&c, 0, sizeof(c));
	/* Only a syntax error stops the reading: a refused value is
	 * reported and its default stands in for the rest. */
	if ((built = config_build(confdir, CONFIG_BUILD_CHECK, build_problem,
	    &c)) != NULL) {
		check_built(&c, built);
		check_mynetworks(&c, built->conf);
		check_files(&c, built->conf);
		check_dnssec(&c, built->conf);
		config_build_free(built);
	} else if (c.errors == 0) {
		c.errors++;
	}
	for (size_t i = 0; i < c.n_seen; i++)
		free(c.seen[i]);
	free(c.seen);
	/* Errors only: the subsystems' own warnings (obsolete names, policy
	 * entries) go straight to the log and are not counted here. */
	printf("tlsrelay check: %s: %d error(s)\n", confdir, c.errors);
	return c.errors ? 1 : 0;
}
