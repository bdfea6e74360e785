/* smtpd_restrict_parse: the names of the restrictions tlsrelay knows and
 * the parsing of the lists that use them (smtpd_*_restrictions,
 * smtpd_restriction_classes), once, when a service's policy is built. A
 * name tlsrelay does not implement stops the start with the parameter,
 * its FILE:LINE and the word, as a misspelt one does: a restriction that
 * is silently skipped could let mail through that the administrator
 * meant to refuse. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/map.h"
#include "tlsrelay/util.h"
#include "smtpd_int.h"
#include "smtpd_restrict.h"

#define RELAY	RDEF_LIMITS_RELAY
#define LOGIN	RDEF_LOGIN_MAPS
#define TABLE	(RDEF_ARG | RDEF_TABLE)
#define DNSARG	(RDEF_ARG | RDEF_DNS)

static const struct restrict_def defs[] = {
	{ "check_client_access", restrict_check_client_access, TABLE },
	{ "check_helo_access", restrict_check_helo_access, TABLE },
	{ "check_recipient_access", restrict_check_recipient_access, TABLE },
	{ "check_reverse_client_hostname_access",
	    restrict_check_reverse_client_hostname_access, TABLE },
	{ "check_sender_access", restrict_check_sender_access, TABLE },
	{ "defer", restrict_defer, RELAY },
	{ "defer_unauth_destination", restrict_defer_unauth_destination,
	    RELAY },
	{ "permit", restrict_permit, 0 },
	{ "permit_mynetworks", restrict_permit_mynetworks, 0 },
	{ "permit_sasl_authenticated", restrict_permit_sasl_authenticated, 0 },
	{ "permit_tls_all_clientcerts", restrict_permit_tls_all_clientcerts,
	    0 },
	{ "permit_tls_clientcerts", restrict_permit_tls_clientcerts, 0 },
	{ "reject", restrict_reject, RELAY },
	{ "reject_authenticated_sender_login_mismatch",
	    restrict_reject_authenticated_sender_login_mismatch, LOGIN },
	{ "reject_invalid_helo_hostname",
	    restrict_reject_invalid_helo_hostname, 0 },
	{ "reject_invalid_hostname",	/* Postfix < 2.3 name */
	    restrict_reject_invalid_helo_hostname, 0 },
	{ "reject_known_sender_login_mismatch",
	    restrict_reject_known_sender_login_mismatch, LOGIN },
	{ "reject_non_fqdn_helo_hostname",
	    restrict_reject_non_fqdn_helo_hostname, 0 },
	{ "reject_non_fqdn_hostname",	/* Postfix < 2.3 name */
	    restrict_reject_non_fqdn_helo_hostname, 0 },
	{ "reject_non_fqdn_recipient", restrict_reject_non_fqdn_recipient, 0 },
	{ "reject_non_fqdn_sender", restrict_reject_non_fqdn_sender, 0 },
	{ "reject_rbl_client", restrict_reject_rbl_client, DNSARG },
	{ "reject_rhsbl_client", restrict_reject_rhsbl_client, DNSARG },
	{ "reject_rhsbl_helo", restrict_reject_rhsbl_helo, DNSARG },
	{ "reject_rhsbl_reverse_client", restrict_reject_rhsbl_reverse_client,
	    DNSARG },
	{ "reject_rhsbl_sender", restrict_reject_rhsbl_sender, DNSARG },
	{ "reject_sender_login_mismatch",
	    restrict_reject_sender_login_mismatch, LOGIN },
	{ "reject_unauth_destination", restrict_reject_unauth_destination,
	    RELAY },
	{ "reject_unauth_pipelining", restrict_reject_unauth_pipelining, 0 },
	{ "reject_unauthenticated_sender_login_mismatch",
	    restrict_reject_unauthenticated_sender_login_mismatch, LOGIN },
	{ "reject_unknown_client_hostname",
	    restrict_reject_unknown_client_hostname, RDEF_DNS },
	{ "reject_unknown_helo_hostname",
	    restrict_reject_unknown_helo_hostname, RDEF_DNS },
	{ "reject_unknown_recipient_domain",
	    restrict_reject_unknown_recipient_domain, RDEF_DNS },
	{ "reject_unknown_reverse_client_hostname",
	    restrict_reject_unknown_reverse_client_hostname, RDEF_DNS },
	{ "reject_unknown_sender_domain",
	    restrict_reject_unknown_sender_domain, RDEF_DNS },
};

static const struct restrict_def *
find_def(const char *name)
{
	for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++)
		if (strcasecmp(defs[i].name, name) == 0)
			return &defs[i];
	return NULL;
}

static const struct restrict_class *
find_class(const struct restrict_set *set, const char *name)
{
	for (size_t i = 0; i < set->n_classes; i++)
		if (strcmp(set->classes[i].name, name) == 0)
			return &set->classes[i];
	return NULL;
}

void
restrict_list_free(struct restrict_list *list)
{
	if (list == NULL)
		return;
	for (size_t i = 0; i < list->n; i++) {
		free(list->items[i].arg);
		smtpd_table_free(list->items[i].table);
	}
	free(list->items);
	free(list);
}

/* One list; label names it in messages ("main.cf:12: smtpd_..._
 * restrictions"), tables get param as their name in log lines. */
static struct restrict_list *
parse_list(const struct restrict_set *set, const char *value,
    const char *label, const char *param, char **err)
{
	struct restrict_list *list;
	size_t nwords;
	char *serr = NULL;
	char **words = table_split_words(value, &nwords, &serr);

	if (words == NULL) {
		*err = xasprintf("%s: %s", label, serr);
		free(serr);
		return NULL;
	}
	list = xcalloc(1, sizeof(*list));
	list->items = xcalloc(nwords ? nwords : 1, sizeof(*list->items));
	for (size_t i = 0; i < nwords; i++) {
		struct restrict_item *item = &list->items[list->n];
		const struct restrict_def *def = find_def(words[i]);
		char *terr = NULL;

		if (def == NULL) {
			if ((item->class = find_class(set, words[i])) == NULL) {
				*err = xasprintf("%s: unknown or unsupported "
				    "restriction: %s", label, words[i]);
				goto fail;
			}
			list->n++;
			continue;
		}
		item->def = def;
		list->n++;
		list->flags |= def->flags;
		if ((def->flags & RDEF_LOGIN_MAPS) && list->login_maps == NULL)
			list->login_maps = def->name;
		if (!(def->flags & RDEF_ARG))
			continue;
		if (i + 1 == nwords) {
			*err = xasprintf("%s: restriction %s needs an argument",
			    label, words[i]);
			goto fail;
		}
		item->arg = xstrdup(words[++i]);
		if (!(def->flags & RDEF_TABLE))
			continue;
		if (param == NULL) {
			*err = xasprintf("%s: %s %s: a table inside an access "
			    "table: use a restriction class", label, def->name,
			    item->arg);
			goto fail;
		}
		if ((item->table = smtpd_table_open_spec(item->arg, param,
		    &terr)) == NULL) {
			*err = xasprintf("%s: %s %s: %s", label, def->name,
			    item->arg, terr);
			free(terr);
			goto fail;
		}
	}
	strlist_free(words);
	return list;
fail:
	strlist_free(words);
	restrict_list_free(list);
	return NULL;
}

struct restrict_list *
restrict_list_parse_value(const struct restrict_set *set, const char *value,
    char **err)
{
	return parse_list(set, value, "access table value", NULL, err);
}

static struct restrict_list *
parse_param(const struct restrict_set *set, const struct conf *conf,
    int param_id, char **err)
{
	const char *origin = conf_origin(conf, param_id);
	char *label = xasprintf("%s: %s", origin ? origin : "default",
	    conf_param_name(param_id));
	struct restrict_list *list = parse_list(set, conf_str(conf, param_id),
	    label, conf_param_name(param_id), err);

	free(label);
	return list;
}

/* smtpd_restriction_classes: every name is a parameter of its own
 * (main.cf or -o) whose value is a list; a class may name classes. */
static int
parse_classes(struct restrict_set *set, const struct conf *conf, char **err)
{
	char **names = strlist_split(conf_str(conf,
	    P_smtpd_restriction_classes), LIST_SEPARATORS, &set->n_classes);
	int ret = 0;

	set->classes = xcalloc(set->n_classes ? set->n_classes : 1,
	    sizeof(*set->classes));
	for (size_t i = 0; i < set->n_classes; i++)
		set->classes[i].name = xstrdup(names[i]);
	for (size_t i = 0; i < set->n_classes && ret == 0; i++) {
		const char *name = names[i];
		const char *value = conf_lookup(conf, name);
		const char *origin = conf_lookup_origin(conf, name);
		char *label;

		if (value == NULL || find_def(name) != NULL) {
			origin = conf_origin(conf, P_smtpd_restriction_classes);
			*err = xasprintf("%s: smtpd_restriction_classes: class "
			    "%s %s", origin ? origin : "default", name,
			    value == NULL ? "is not defined" :
			    "has the name of a restriction");
			ret = -1;
			break;
		}
		label = xasprintf("%s: %s", origin ? origin : "default", name);
		if ((set->classes[i].list = parse_list(set, value, label, name,
		    err)) == NULL)
			ret = -1;
		free(label);
	}
	strlist_free(names);
	return ret;
}

static void
parse_codes(struct restrict_codes *c, const struct conf *conf)
{
	c->reject = (int)conf_int(conf, P_reject_code);
	c->defer = (int)conf_int(conf, P_defer_code);
	c->access_map_reject = (int)conf_int(conf, P_access_map_reject_code);
	c->access_map_defer = (int)conf_int(conf, P_access_map_defer_code);
	c->invalid_hostname = (int)conf_int(conf,
	    P_invalid_hostname_reject_code);
	c->non_fqdn = (int)conf_int(conf, P_non_fqdn_reject_code);
	c->unknown_address = (int)conf_int(conf,
	    P_unknown_address_reject_code);
}

static int
access_maps_subdomains(const struct conf *conf)
{
	char **words = strlist_split(conf_str(conf,
	    P_parent_domain_matches_subdomains), LIST_SEPARATORS, NULL);
	int found = 0;

	for (char **w = words; *w; w++)
		if (strcasecmp(*w, "smtpd_access_maps") == 0)
			found = 1;
	strlist_free(words);
	return found;
}

struct restrict_set *
restrict_set_new(const struct conf *conf, char **err)
{
	struct restrict_set *set = xcalloc(1, sizeof(*set));

	parse_codes(&set->codes, conf);
	set->delay_reject = conf_bool(conf, P_smtpd_delay_reject);
	set->parent_matches_subdomains = access_maps_subdomains(conf);
	set->null_access_key = conf_str(conf, P_smtpd_null_access_lookup_key);
	if (parse_classes(set, conf, err) < 0 ||
	    (set->client = parse_param(set, conf,
	    P_smtpd_client_restrictions, err)) == NULL ||
	    (set->helo = parse_param(set, conf,
	    P_smtpd_helo_restrictions, err)) == NULL ||
	    (set->sender = parse_param(set, conf,
	    P_smtpd_sender_restrictions, err)) == NULL ||
	    (set->relay = parse_param(set, conf,
	    P_smtpd_relay_restrictions, err)) == NULL ||
	    (set->recipient = parse_param(set, conf,
	    P_smtpd_recipient_restrictions, err)) == NULL ||
	    (set->data = parse_param(set, conf,
	    P_smtpd_data_restrictions, err)) == NULL ||
	    (set->end_of_data = parse_param(set, conf,
	    P_smtpd_end_of_data_restrictions, err)) == NULL) {
		restrict_set_free(set);
		return NULL;
	}
	return set;
}

void
restrict_set_free(struct restrict_set *set)
{
	if (set == NULL)
		return;
	restrict_list_free(set->client);
	restrict_list_free(set->helo);
	restrict_list_free(set->sender);
	restrict_list_free(set->relay);
	restrict_list_free(set->recipient);
	restrict_list_free(set->data);
	restrict_list_free(set->end_of_data);
	for (size_t i = 0; i < set->n_classes; i++) {
		free(set->classes[i].name);
		restrict_list_free(set->classes[i].list);
	}
	free(set->classes);
	free(set);
}

/* The i-th list of the set, stages first, then classes; NULL past
 * the end. */
static const struct restrict_list *
list_at(const struct restrict_set *set, size_t i)
{
	const struct restrict_list *stages[] = { set->client, set->helo,
	    set->sender, set->relay, set->recipient, set->data,
	    set->end_of_data };
	size_t n = sizeof(stages) / sizeof(stages[0]);

	if (i < n)
		return stages[i];
	return i - n < set->n_classes ? set->classes[i - n].list : NULL;
}

unsigned
restrict_set_flags(const struct restrict_set *set)
{
	const struct restrict_list *list;
	unsigned flags = 0;

	for (size_t i = 0; (list = list_at(set, i)) != NULL; i++)
		flags |= list->flags;
	return flags;
}

const char *
restrict_set_login_maps(const struct restrict_set *set)
{
	const struct restrict_list *list;

	for (size_t i = 0; (list = list_at(set, i)) != NULL; i++)
		if (list->login_maps != NULL)
			return list->login_maps;
	return NULL;
}
