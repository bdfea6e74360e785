/* smtpd_policy: a service's limits, tables and restriction lists, parsed
 * and checked once before any client connects. The restrictions
 * themselves are the engine's (smtpd_restrict*.c). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/map.h"
#include "tlsrelay/sasl_server.h"
#include "tlsrelay/tls.h"
#include "tlsrelay/tls_client.h"
#include "tlsrelay/util.h"
#include "smtpd_int.h"
#include "smtpd_restrict.h"

static struct cidr_list *
parse_networks(const struct conf *conf, int param_id, char **err)
{
	const char *param = conf_param_name(param_id);
	char *cerr = NULL;
	struct cidr_list *list = cidr_list_parse(conf_str(conf, param_id),
	    &cerr);

	if (list == NULL) {
		const char *origin = conf_origin(conf, param_id);

		*err = xasprintf("%s: %s: %s", origin ? origin : "default",
		    param, cerr);
		free(cerr);
	}
	return list;
}

static int
relay_domains_subdomains(const struct conf *conf)
{
	char **words = strlist_split(conf_str(conf,
	    P_parent_domain_matches_subdomains), LIST_SEPARATORS, NULL);
	int found = 0;

	for (char **w = words; *w; w++)
		if (strcasecmp(*w, "relay_domains") == 0)
			found = 1;
	strlist_free(words);
	return found;
}

static int
parse_bare_lf_mode(const struct conf *conf, enum bare_lf_mode *mode,
    char **err)
{
	const char *v = conf_str(conf, P_smtpd_forbid_bare_newline);

	if (strcasecmp(v, "reject") == 0)
		*mode = BARE_LF_REJECT;
	else if (strcasecmp(v, "normalize") == 0 || strcasecmp(v, "yes") == 0
	    || strcasecmp(v, "no") == 0)
		*mode = BARE_LF_NORMALIZE;
	else {
		const char *origin = conf_origin(conf,
		    P_smtpd_forbid_bare_newline);

		*err = xasprintf("%s: smtpd_forbid_bare_newline: bad value "
		    "\"%s\": use normalize or reject",
		    origin ? origin : "default", v);
		return -1;
	}
	return 0;
}

static int
param_error(char **err, const struct conf *conf, int param_id,
    const char *what)
{
	const char *param = conf_param_name(param_id);
	const char *origin = conf_origin(conf, param_id);

	*err = xasprintf("%s: %s: %s", origin ? origin : "default", param,
	    what);
	return -1;
}

/* SMTP AUTH, its password table, the sender login and client
 * certificate tables. */
static int
parse_auth(struct smtpd_policy *p, const struct conf *conf, char **err)
{
	const char *login_maps = restrict_set_login_maps(p->restrictions);
	const char *digest = conf_str(conf, P_smtpd_tls_fingerprint_digest);
	char *xerr = NULL;
	int ret;

	p->sasl_enabled = conf_bool(conf, P_smtpd_sasl_auth_enable);
	/* Postfix: mandatory TLS implies AUTH only after STARTTLS. */
	p->tls_auth_only = conf_bool(conf, P_smtpd_tls_auth_only) ||
	    p->tls_level >= TLS_LEV_ENCRYPT;
	p->sasl_authenticated_header = conf_bool(conf,
	    P_smtpd_sasl_authenticated_header);
	p->auth_failure_limit = conf_int(conf,
	    P_tlsrelay_smtpd_auth_failure_limit);
	p->auth_rate_limit = conf_int(conf, P_smtpd_client_auth_rate_limit);
	p->anvil_time_unit = conf_time(conf, P_anvil_rate_time_unit);
	p->fingerprint_digest = digest;
	if (!tls_fprint_digest_ok(digest)) {
		char *what = xasprintf("unknown digest \"%s\" (use sha256, "
		    "sha1 or md5)", digest);

		param_error(err, conf, P_smtpd_tls_fingerprint_digest, what);
		free(what);
		return -1;
	}
	if (smtpd_sasl_security(conf_str(conf,
	    P_smtpd_sasl_security_options), &p->sasl_sec, &xerr) < 0) {
		ret = param_error(err, conf, P_smtpd_sasl_security_options,
		    xerr);
		free(xerr);
		return ret;
	}
	if (smtpd_sasl_security(conf_str(conf,
	    P_smtpd_sasl_tls_security_options), &p->sasl_tls_sec,
	    &xerr) < 0) {
		ret = param_error(err, conf, P_smtpd_sasl_tls_security_options,
		    xerr);
		free(xerr);
		return ret;
	}
	if ((p->relay_clientcerts = smtpd_table_open(conf,
	    P_relay_clientcerts, err)) == NULL ||
	    (p->sender_login_maps = smtpd_table_open(conf,
	    P_smtpd_sender_login_maps, err)) == NULL ||
	    (p->rbl_reply_maps = smtpd_table_open(conf, P_rbl_reply_maps,
	    err)) == NULL)
		return -1;
	if (login_maps != NULL && smtpd_table_empty(p->sender_login_maps)) {
		*err = xasprintf("restriction %s requires that "
		    "smtpd_sender_login_maps is set", login_maps);
		return -1;
	}
	if (!p->sasl_enabled)
		return 0;
	/* The backend's server, made here as root (it may read a table
	 * only root can); the worker attaches it to its loop. */
	p->sasl_service = conf_str(conf, P_smtpd_sasl_service);
	p->broken_sasl_auth_clients = conf_bool(conf,
	    P_broken_sasl_auth_clients);
	p->sasl_backend = sasl_backend_find(conf_str(conf, P_smtpd_sasl_type),
	    &xerr);
	if (p->sasl_backend == NULL) {
		ret = param_error(err, conf, P_smtpd_sasl_type, xerr);
		free(xerr);
		return ret;
	}
	p->sasl_server = p->sasl_backend->server_new(conf, err);
	return p->sasl_server != NULL ? 0 : -1;
}

struct smtpd_policy *
smtpd_policy_new(const struct conf *conf, char **err)
{
	struct smtpd_policy *p = xcalloc(1, sizeof(*p));
	char *xerr = NULL;

	p->conf = conf;
	p->myhostname = conf_str(conf, P_myhostname);
	p->banner = xstrdup(conf_str(conf, P_smtpd_banner));
	p->queue_directory = conf_str(conf, P_queue_directory);
	p->tls_level = tls_smtpd_level(conf);
	if (p->tls_level < 0) {
		const char *origin = conf_origin(conf,
		    P_smtpd_tls_security_level);

		*err = xasprintf("%s: smtpd_tls_security_level: unknown level "
		    "\"%s\" (use none, may or encrypt)",
		    origin ? origin : "default",
		    conf_str(conf, P_smtpd_tls_security_level));
		goto fail;
	}
	p->wrappermode = conf_bool(conf, P_smtpd_tls_wrappermode);
	/* The only value besides empty (conf_params.def): haproxy. */
	p->upstream_proxy = *conf_str(conf,
	    P_smtpd_upstream_proxy_protocol) != '\0';
	p->upstream_proxy_timeout = conf_time(conf,
	    P_smtpd_upstream_proxy_timeout);
	p->tls_loglevel = (int)conf_int(conf, P_smtpd_tls_loglevel);
	p->tls_received_header = conf_bool(conf, P_smtpd_tls_received_header);
	p->helo_required = conf_bool(conf, P_smtpd_helo_required);
	p->vrfy_disabled = conf_bool(conf, P_disable_vrfy_command);
	p->message_size_limit = conf_size(conf, P_message_size_limit);
	p->queue_minfree = conf_size(conf, P_queue_minfree);
	/* Longer command lines are cut, as in Postfix; RFC 5321 4.5.3.1.4
	 * lets no server cut below 512. */
	p->line_limit = (size_t)conf_int(conf, P_line_length_limit);
	if (p->line_limit < 512)
		p->line_limit = 512;
	p->recipient_limit = conf_int(conf, P_smtpd_recipient_limit);
	p->recipient_overshoot_limit = conf_int(conf,
	    P_smtpd_recipient_overshoot_limit);
	p->timeout = conf_time(conf, P_smtpd_timeout);
	p->starttls_timeout = conf_time(conf, P_smtpd_starttls_timeout);
	p->per_request_deadline = conf_bool(conf, P_smtpd_per_request_deadline);
	p->min_data_rate = conf_int(conf, P_smtpd_min_data_rate);
	p->hard_error_limit = conf_int(conf, P_smtpd_hard_error_limit);
	p->soft_error_limit = conf_int(conf, P_smtpd_soft_error_limit);
	p->error_sleep_time = conf_time(conf, P_smtpd_error_sleep_time);
	p->conn_count_limit = conf_int(conf,
	    P_smtpd_client_connection_count_limit);
	if (parse_bare_lf_mode(conf, &p->bare_lf_mode, err) < 0)
		goto fail;
	if ((p->mynetworks = parse_networks(conf, P_mynetworks, err)) == NULL
	    || (p->bare_lf_exclusions = parse_networks(conf,
	    P_smtpd_forbid_bare_newline_exclusions, err)) == NULL
	    || (p->event_limit_exceptions = parse_networks(conf,
	    P_smtpd_client_event_limit_exceptions, err)) == NULL)
		goto fail;
	p->relay_domains = domain_list_parse(conf_str(conf, P_relay_domains),
	    relay_domains_subdomains(conf));
	p->allow_untrusted_routing = conf_bool(conf,
	    P_allow_untrusted_routing);
	p->percent_routes = conf_bool(conf, P_allow_percent_hack);
	p->bang_routes = conf_bool(conf, P_swap_bangpath);

	if ((p->restrictions = restrict_set_new(conf, err)) == NULL)
		goto fail;
	/* Refuse to start as an open relay, as Postfix does. */
	if (!(p->restrictions->relay->flags & RDEF_LIMITS_RELAY) &&
	    !(p->restrictions->recipient->flags & RDEF_LIMITS_RELAY)) {
		*err = xasprintf("in parameter smtpd_relay_restrictions or "
		    "smtpd_recipient_restrictions, specify at least one "
		    "working instance of: reject_unauth_destination, "
		    "defer_unauth_destination, reject, defer");
		goto fail;
	}
	if (parse_auth(p, conf, err) < 0)
		goto fail;
	free(xerr);
	return p;
fail:
	smtpd_policy_free(p);
	return NULL;
}

void
smtpd_policy_free(struct smtpd_policy *p)
{
	if (p == NULL)
		return;
	free(p->banner);
	cidr_list_free(p->mynetworks);
	cidr_list_free(p->bare_lf_exclusions);
	cidr_list_free(p->event_limit_exceptions);
	domain_list_free(p->relay_domains);
	restrict_set_free(p->restrictions);
	if (p->sasl_server != NULL)
		p->sasl_backend->server_free(p->sasl_server);
	smtpd_table_free(p->sender_login_maps);
	smtpd_table_free(p->relay_clientcerts);
	smtpd_table_free(p->rbl_reply_maps);
	free(p);
}

int
smtpd_policy_in_mynetworks(const struct smtpd_policy *p, const char *addr)
{
	return cidr_list_match_text(p->mynetworks, addr);
}

int
smtpd_policy_uses_dns(const struct smtpd_policy *p)
{
	return restrict_set_flags(p->restrictions) & RDEF_DNS;
}
