/* smtpd_policy: a service's limits and restriction lists, parsed and
 * checked once before any client connects, and the RCPT-time evaluation of
 * the restrictions (Postfix's smtpd_delay_reject = yes order). */
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

enum restriction {
	R_PERMIT,
	R_REJECT,
	R_DEFER,
	R_PERMIT_MYNETWORKS,
	R_PERMIT_SASL_AUTHENTICATED,
	R_PERMIT_TLS_ALL_CLIENTCERTS,
	R_PERMIT_TLS_CLIENTCERTS,
	R_REJECT_UNAUTH_DESTINATION,
	R_DEFER_UNAUTH_DESTINATION,
	R_REJECT_SENDER_LOGIN_MISMATCH,
	R_REJECT_KNOWN_SENDER_LOGIN_MISMATCH,
	R_REJECT_AUTH_SENDER_LOGIN_MISMATCH,
	R_REJECT_UNAUTH_SENDER_LOGIN_MISMATCH,
};

static const struct {
	const char *name;
	enum restriction code;
	int limits_relay;	/* counts as relay protection */
	int login_maps;		/* needs smtpd_sender_login_maps */
} restriction_names[] = {
	{ "permit", R_PERMIT, 0, 0 },
	{ "reject", R_REJECT, 1, 0 },
	{ "defer", R_DEFER, 1, 0 },
	{ "permit_mynetworks", R_PERMIT_MYNETWORKS, 0, 0 },
	{ "permit_sasl_authenticated", R_PERMIT_SASL_AUTHENTICATED, 0, 0 },
	{ "permit_tls_all_clientcerts", R_PERMIT_TLS_ALL_CLIENTCERTS, 0, 0 },
	{ "permit_tls_clientcerts", R_PERMIT_TLS_CLIENTCERTS, 0, 0 },
	{ "reject_unauth_destination", R_REJECT_UNAUTH_DESTINATION, 1, 0 },
	{ "defer_unauth_destination", R_DEFER_UNAUTH_DESTINATION, 1, 0 },
	{ "reject_sender_login_mismatch", R_REJECT_SENDER_LOGIN_MISMATCH, 0,
	    1 },
	{ "reject_known_sender_login_mismatch",
	    R_REJECT_KNOWN_SENDER_LOGIN_MISMATCH, 0, 1 },
	{ "reject_authenticated_sender_login_mismatch",
	    R_REJECT_AUTH_SENDER_LOGIN_MISMATCH, 0, 1 },
	{ "reject_unauthenticated_sender_login_mismatch",
	    R_REJECT_UNAUTH_SENDER_LOGIN_MISMATCH, 0, 1 },
};

struct restriction_list {
	enum restriction *items;
	size_t n;
	int limits_relay;
	const char *login_maps;	/* first restriction that needs them */
	const char *what;	/* "Client host", "Recipient address", ... */
	int about_client;	/* the reply names the client, not an address */
};

static struct restriction_list *
restriction_list_parse(const struct conf *conf, int param_id,
    const char *what, int about_client, char **err)
{
	const char *param = conf_param_name(param_id);
	struct restriction_list *list = xcalloc(1, sizeof(*list));
	char **words = strlist_split(conf_str(conf, param_id), LIST_SEPARATORS,
	    &list->n);

	list->items = xcalloc(list->n, sizeof(*list->items));
	list->what = what;
	list->about_client = about_client;
	for (size_t i = 0; i < list->n; i++) {
		size_t k, nnames = sizeof(restriction_names) /
		    sizeof(restriction_names[0]);

		for (k = 0; k < nnames; k++)
			if (strcasecmp(words[i], restriction_names[k].name) == 0)
				break;
		if (k == nnames) {
			const char *origin = conf_origin(conf, param_id);

			*err = xasprintf("%s: %s: unknown or unsupported "
			    "restriction: %s", origin ? origin : "default",
			    param, words[i]);
			strlist_free(words);
			free(list->items);
			free(list);
			return NULL;
		}
		list->items[i] = restriction_names[k].code;
		list->limits_relay |= restriction_names[k].limits_relay;
		if (restriction_names[k].login_maps && list->login_maps == NULL)
			list->login_maps = restriction_names[k].name;
	}
	strlist_free(words);
	return list;
}

static void
restriction_list_free(struct restriction_list *list)
{
	if (list == NULL)
		return;
	free(list->items);
	free(list);
}

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
	const struct restriction_list *lists[] = {
		p->client_restrictions, p->helo_restrictions,
		p->sender_restrictions, p->relay_restrictions,
		p->recipient_restrictions,
	};
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
	    P_smtpd_sender_login_maps, err)) == NULL)
		return -1;
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		if (lists[i]->login_maps == NULL ||
		    !smtpd_table_empty(p->sender_login_maps))
			continue;
		*err = xasprintf("restriction %s requires that "
		    "smtpd_sender_login_maps is set", lists[i]->login_maps);
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
	p->timeout = conf_time(conf, P_smtpd_timeout);
	p->starttls_timeout = conf_time(conf, P_smtpd_starttls_timeout);
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

	if ((p->client_restrictions = restriction_list_parse(conf,
	    P_smtpd_client_restrictions, "Client host", 1, err)) == NULL
	    || (p->helo_restrictions = restriction_list_parse(conf,
	    P_smtpd_helo_restrictions, "Helo command", 0, err)) == NULL
	    || (p->sender_restrictions = restriction_list_parse(conf,
	    P_smtpd_sender_restrictions, "Sender address", 0, err)) == NULL
	    || (p->relay_restrictions = restriction_list_parse(conf,
	    P_smtpd_relay_restrictions, "Recipient address", 0, err)) == NULL
	    || (p->recipient_restrictions = restriction_list_parse(conf,
	    P_smtpd_recipient_restrictions, "Recipient address", 0, err))
	    == NULL)
		goto fail;

	/* Refuse to start as an open relay, as Postfix does. */
	if (!p->relay_restrictions->limits_relay &&
	    !p->recipient_restrictions->limits_relay) {
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
	restriction_list_free(p->client_restrictions);
	restriction_list_free(p->helo_restrictions);
	restriction_list_free(p->sender_restrictions);
	restriction_list_free(p->relay_restrictions);
	restriction_list_free(p->recipient_restrictions);
	if (p->sasl_server != NULL)
		p->sasl_backend->server_free(p->sasl_server);
	smtpd_table_free(p->sender_login_maps);
	smtpd_table_free(p->relay_clientcerts);
	free(p);
}

int
smtpd_policy_in_mynetworks(const struct smtpd_policy *p, const char *addr)
{
	return cidr_list_match_text(p->mynetworks, addr);
}

static int
authorized_destination(const struct smtpd_policy *p, const char *rcpt)
{
	char *domain = addr_domain(rcpt);
	int ok = *domain != '\0' && *domain != '[' &&
	    domain_list_match(p->relay_domains, domain);

	free(domain);
	return ok;
}

/* The address or client a reject reply names, as Postfix does. */
static void
format_reject(char *reply, size_t len, const char *code, const char *dsn,
    const struct restriction_list *list, const struct restrict_query *q,
    const char *reason)
{
	if (list->about_client)
		snprintf(reply, len, "%s %s <%s[%s]>: %s rejected: %s", code,
		    dsn, q->client_name, q->client_addr, list->what, reason);
	else if (strcmp(list->what, "Helo command") == 0)
		snprintf(reply, len, "%s %s <%s>: %s rejected: %s", code, dsn,
		    q->helo ? q->helo : "", list->what, reason);
	else if (strcmp(list->what, "Sender address") == 0)
		snprintf(reply, len, "%s %s <%s>: %s rejected: %s", code, dsn,
		    q->sender ? q->sender : "", list->what, reason);
	else
		snprintf(reply, len, "%s %s <%s>: %s rejected: %s", code, dsn,
		    q->recipient ? q->recipient : "", list->what, reason);
}

/* permit_tls_clientcerts: the certificate's or its public key's
 * fingerprint is a key of relay_clientcerts (Postfix looks up both). A
 * certificate need not verify: the table names it exactly. */
static enum restrict_result
tls_clientcerts(const struct smtpd_policy *p, const struct restrict_query *q,
    char *reply, size_t len)
{
	const char *prints[] = { q->ccert_fingerprint,
	    q->ccert_pkey_fingerprint };
	int error;

	for (size_t i = 0; i < 2; i++) {
		if (prints[i] == NULL || *prints[i] == '\0')
			continue;
		if (smtpd_table_lookup(p->relay_clientcerts, prints[i],
		    &error) != NULL) {
			msg_debug("%s[%s]: relay_clientcerts has %s",
			    q->client_name, q->client_addr, prints[i]);
			return RESTRICT_PERMIT;
		}
		if (error) {
			snprintf(reply, len, "451 4.3.0 <%s[%s]>: Temporary "
			    "lookup failure", q->client_name, q->client_addr);
			return RESTRICT_REJECT;
		}
	}
	return RESTRICT_DUNNO;
}

/* Postfix's sender login checks. The owners of the sender address are
 * the login names smtpd_sender_login_maps gives for the address, else
 * for "@domain". auth: check a logged-in client (unknown addresses pass
 * when allow_unknown); unauth: refuse a client that is not logged in to
 * send as an address that has owners. */
static enum restrict_result
sender_login_mismatch(const struct smtpd_policy *p,
    const struct restrict_query *q, int auth, int unauth, int allow_unknown,
    char *reply, size_t len)
{
	const char *owners = NULL;
	char *domain, *key;
	int error = 0, found = 0;

	if (q->sender == NULL || *q->sender == '\0')
		return RESTRICT_DUNNO;
	if (q->sasl_username != NULL ? !auth : !unauth)
		return RESTRICT_DUNNO;
	owners = smtpd_table_lookup(p->sender_login_maps, q->sender, &error);
	if (owners == NULL && !error && strchr(q->sender, '@') != NULL) {
		domain = addr_domain(q->sender);
		key = xasprintf("@%s", domain);
		owners = smtpd_table_lookup(p->sender_login_maps, key, &error);
		free(key);
		free(domain);
	}
	if (error) {
		snprintf(reply, len, "451 4.3.0 <%s>: Temporary lookup failure",
		    q->sender);
		return RESTRICT_REJECT;
	}
	if (q->sasl_username == NULL) {
		if (owners == NULL)
			return RESTRICT_DUNNO;
		snprintf(reply, len, "553 5.7.1 <%s>: Sender address rejected: "
		    "not logged in", q->sender);
		return RESTRICT_REJECT;
	}
	if (owners == NULL && allow_unknown)
		return RESTRICT_DUNNO;
	if (owners != NULL) {
		char **names = strlist_split(owners, LIST_SEPARATORS, NULL);

		for (char **n = names; *n && !found; n++)
			found = strcasecmp(*n, q->sasl_username) == 0;
		strlist_free(names);
	}
	if (found)
		return RESTRICT_DUNNO;
	snprintf(reply, len, "553 5.7.1 <%s>: Sender address rejected: not "
	    "owned by user %s", q->sender, q->sasl_username);
	return RESTRICT_REJECT;
}

static enum restrict_result
eval_list(const struct smtpd_policy *p, const struct restriction_list *list,
    const struct restrict_query *q, char *reply, size_t len)
{
	enum restrict_result r;

	for (size_t i = 0; i < list->n; i++) {
		switch (list->items[i]) {
		case R_PERMIT:
			return RESTRICT_PERMIT;
		case R_REJECT:
			format_reject(reply, len, "554", "5.7.1", list, q,
			    "Access denied");
			return RESTRICT_REJECT;
		case R_DEFER:
			format_reject(reply, len, "450", "4.7.1", list, q,
			    "Access denied");
			return RESTRICT_REJECT;
		case R_PERMIT_MYNETWORKS:
			if (cidr_list_match_text(p->mynetworks, q->client_addr))
				return RESTRICT_PERMIT;
			break;
		case R_PERMIT_SASL_AUTHENTICATED:
			if (q->sasl_authenticated)
				return RESTRICT_PERMIT;
			break;
		case R_PERMIT_TLS_ALL_CLIENTCERTS:
			if (q->tls_client_trusted)
				return RESTRICT_PERMIT;
			break;
		case R_PERMIT_TLS_CLIENTCERTS:
			if ((r = tls_clientcerts(p, q, reply, len)) !=
			    RESTRICT_DUNNO)
				return r;
			break;
		case R_REJECT_SENDER_LOGIN_MISMATCH:
		case R_REJECT_KNOWN_SENDER_LOGIN_MISMATCH:
		case R_REJECT_AUTH_SENDER_LOGIN_MISMATCH:
		case R_REJECT_UNAUTH_SENDER_LOGIN_MISMATCH: {
			enum restriction what = list->items[i];

			r = sender_login_mismatch(p, q,
			    what != R_REJECT_UNAUTH_SENDER_LOGIN_MISMATCH,
			    what != R_REJECT_AUTH_SENDER_LOGIN_MISMATCH,
			    what == R_REJECT_KNOWN_SENDER_LOGIN_MISMATCH,
			    reply, len);
			if (r != RESTRICT_DUNNO)
				return r;
			break;
		}
		case R_REJECT_UNAUTH_DESTINATION:
		case R_DEFER_UNAUTH_DESTINATION:
			if (q->recipient == NULL ||
			    authorized_destination(p, q->recipient))
				break;
			if (list->items[i] == R_REJECT_UNAUTH_DESTINATION)
				snprintf(reply, len, "554 5.7.1 <%s>: Relay "
				    "access denied", q->recipient);
			else
				snprintf(reply, len, "454 4.7.1 <%s>: Relay "
				    "access denied", q->recipient);
			return RESTRICT_REJECT;
		}
	}
	return RESTRICT_DUNNO;
}

enum restrict_result
smtpd_policy_check_rcpt(const struct smtpd_policy *p,
    const struct restrict_query *q, char *reply, size_t len)
{
	const struct restriction_list *lists[] = {
		p->client_restrictions, p->helo_restrictions,
		p->sender_restrictions, p->relay_restrictions,
		p->recipient_restrictions,
	};

	/* Each list is evaluated on its own: a permit ends that list only,
	 * a reject ends everything (Postfix's semantics). */
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		if (eval_list(p, lists[i], q, reply, len) == RESTRICT_REJECT)
			return RESTRICT_REJECT;
	return RESTRICT_PERMIT;
}
