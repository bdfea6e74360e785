/* conf_resolve: from raw text to checked values.
 *
 * Every slot is expanded once, depth first, so a name referred to by many
 * values is expanded only once and a reference cycle is found when the
 * walk meets a slot it is still expanding. Implemented parameters must
 * expand and parse cleanly (else the configuration is refused); any other
 * name that does not expand keeps its raw text with a warning, as Postfix
 * only complains about what it uses. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/map.h"
#include "tlsrelay/util.h"

#include "conf_int.h"

struct resolver {
	struct conf *conf;
	const char *stack[CONF_MAX_NESTING + 1];
	int depth;
	int strict;		/* failures are errors, not warnings */
	int warn_main;
	int warn_master;
	int located;		/* the error already names where it is */
};

static struct slot *
slot_for(const struct conf *conf, const char *name)
{
	const struct conf_param_def *def;
	struct slot *slot = conf_find_set(conf, name);

	if (slot)
		return slot;
	if ((def = conf_param_lookup(name)) != NULL)
		return &conf->defaults[conf_param_index(def)];
	for (size_t i = 0; i < conf->n_pseudo; i++)
		if (strcmp(conf->pseudo[i].name, name) == 0)
			return &conf->pseudo[i];
	return NULL;
}

static char *
slot_where(const struct conf *conf, const struct slot *slot)
{
	if (slot->origin)
		return xasprintf("%s: %s", slot->origin, slot->name);
	return xasprintf("%s: default value of %s", conf->main_name,
	    slot->name);
}

static int expand_slot(struct resolver *, struct slot *, char **);

static int
lookup(void *arg, const char *name, const char **value, char **err)
{
	struct resolver *r = arg;
	struct slot *slot = slot_for(r->conf, name);

	*value = NULL;
	if (slot == NULL)
		return 0;
	if (expand_slot(r, slot, err) < 0)
		return -1;
	*value = slot->value;
	return 0;
}

static char *
loop_message(const struct resolver *r, const char *name)
{
	struct strbuf sb;
	int i;

	strbuf_init(&sb);
	strbuf_puts(&sb, "recursive parameter expansion: ");
	for (i = 0; i < r->depth; i++)
		if (strcmp(r->stack[i], name) == 0)
			break;
	for (; i < r->depth; i++)
		strbuf_printf(&sb, "$%s -> ", r->stack[i]);
	strbuf_printf(&sb, "$%s", name);
	return strbuf_steal(&sb);
}

/* Computed defaults, taken as values (not expanded again): mydomain is
 * the domain part of myhostname; mynetworks follows mynetworks_style as
 * in Postfix (host: loopback and this host's own addresses; subnet: the
 * networks of its interfaces; class is treated as subnet). */
static int
computed_value(struct resolver *r, struct slot *slot, char **err)
{
	const char *text;

	if (strcmp(slot->name, "mynetworks") == 0) {
		const char *style = "mynetworks_style";
		const struct slot *from = slot_for(r->conf, style);

		if (lookup(r, style, &text, err) < 0)
			return -1;
		/* Its declaration knows the styles; the message names it. */
		if (conf_check_value(conf_param_lookup(style), from->origin ?
		    from->origin : r->conf->main_name, text, 0, err) < 0) {
			r->located = 1;
			return -1;
		}
		if (strcasecmp(text, "host") == 0)
			slot->value = cidr_host_networks();
		else
			slot->value = cidr_subnet_networks();
		return 0;
	}
	if (lookup(r, "myhostname", &text, err) < 0)
		return -1;
	slot->value = conf_domain_of(text ? text : "");
	return 0;
}

static int
expand_slot(struct resolver *r, struct slot *slot, char **err)
{
	struct strbuf out;
	char *why = NULL;
	int rc;

	if (slot->state == SLOT_DONE || slot->state == SLOT_FAILED)
		return 0;
	if (slot->state == SLOT_BUSY) {
		*err = loop_message(r, slot->name);
		return -1;
	}
	if (r->depth >= CONF_MAX_NESTING) {
		*err = xstrdup("parameter references nested too deeply");
		return -1;
	}
	slot->state = SLOT_BUSY;
	r->stack[r->depth++] = slot->name;
	strbuf_init(&out);
	if (slot->raw == NULL) {
		rc = computed_value(r, slot, &why);
	} else {
		rc = conf_expand_text(slot->raw, lookup, r, &out, &why);
		if (rc == 0)
			slot->value = strbuf_steal(&out);
	}
	r->depth--;
	strbuf_free(&out);
	if (rc == 0) {
		slot->state = SLOT_DONE;
		return 0;
	}

	/* The innermost slot that fails says where. */
	if (!r->located) {
		char *where = slot_where(r->conf, slot);
		char *msg = xasprintf("%s: %s", where, why);

		free(where);
		free(why);
		why = msg;
		r->located = 1;
	}
	if (r->strict) {
		slot->state = SLOT_RAW;
		*err = why;
		return -1;
	}
	if (slot->from_master ? r->warn_master : r->warn_main)
		msg_warn("%s", why);
	free(why);
	r->located = 0;
	slot->value = xstrdup(slot->raw ? slot->raw : "");
	slot->state = SLOT_FAILED;
	return 0;
}

static int
check_typed(struct conf *conf, const struct conf_param_def *def,
    const struct slot *slot, long long *number, char **err)
{
	const char *where = slot->origin ? slot->origin : conf->main_name;
	const char *value = slot->value;
	int b;

	switch (def->type) {
	case CONF_STR:
		return 0;
	case CONF_BOOL:
		if (conf_parse_bool(value, &b) == 0) {
			*number = b;
			return 0;
		}
		*err = xasprintf("%s: bad boolean configuration: %s = %s",
		    where, def->name, value);
		return -1;
	case CONF_TIME:
		if (conf_parse_time(value, def->time_unit, number) == 0)
			return 0;
		*err = xasprintf("%s: invalid time value for %s: %s", where,
		    def->name, value);
		return -1;
	case CONF_INT:
	case CONF_SIZE:
		if (conf_parse_int(value, number) == 0)
			return 0;
		*err = xasprintf("%s: bad numerical configuration: %s = %s",
		    where, def->name, value);
		return -1;
	}
	return 0;
}

/* A refused value is reported, and its default stands in, so that the
 * rest of the configuration can still be built and checked in the same
 * run. */
static void
use_default(struct resolver *r, size_t i, const struct conf_param_def *def)
{
	struct slot *slot = &r->conf->defaults[i];
	char *why = NULL;

	r->located = 0;
	if (expand_slot(r, slot, &why) < 0) {
		/* A computed default that follows the refused value
		 * (mynetworks after mynetworks_style): nothing. */
		free(why);
		r->located = 0;
		free(slot->value);
		slot->value = xstrdup("");
		slot->state = SLOT_FAILED;
	} else if (check_typed(r->conf, def, slot, &r->conf->numbers[i],
	    &why) < 0) {
		msg_panic("default of %s: %s", def->name, why);
	}
	r->conf->values[i] = slot->value;
}

int
conf_resolve(struct conf *conf, int warn_main, int warn_master, char **err)
{
	struct resolver r = { .conf = conf, .strict = 1,
	    .warn_main = warn_main, .warn_master = warn_master };
	const struct conf_param_def *table;
	struct errlist errors;
	size_t n_params;

	table = conf_param_table(&n_params);
	errlist_init(&errors);
	/* First what tlsrelay uses, strictly; every refusal is collected so
	 * that one run names them all. */
	for (size_t i = 0; i < n_params; i++) {
		struct slot *slot = slot_for(conf, table[i].name);
		char *why = NULL;

		if (expand_slot(&r, slot, &why) < 0) {
			/* Its raw text stands in for whatever refers to it,
			 * which is not refused a second time. */
			slot->value = xstrdup(slot->raw ? slot->raw : "");
			slot->state = SLOT_FAILED;
		} else if (check_typed(conf, &table[i], slot, &conf->numbers[i],
		    &why) == 0 && (!conf->check_declared ||
		    conf_check_value(&table[i], slot->origin ? slot->origin :
		    conf->main_name, slot->value, conf->numbers[i],
		    &why) == 0)) {
			conf->values[i] = slot->value;
			continue;
		}
		errlist_add(&errors, why);
		free(why);
		use_default(&r, i, &table[i]);
	}
	/* Then everything else, leniently. */
	r.strict = 0;
	for (size_t i = 0; i < conf->n_set; i++)
		(void)expand_slot(&r, &conf->set[i], err);
	errlist_sort(&errors);
	if ((*err = errlist_steal(&errors)) != NULL)
		return -1;
	return 0;
}

/* A Postfix per-service name: "<service>_<param>" with a master.cf service
 * name, such as "submission_smtpd_tls_security_level" or
 * "relay_destination_concurrency_limit" (a "default_" parameter). */
static int
is_service_param(const struct conf *conf, const char *name)
{
	if (conf->services == NULL)
		return 0;
	for (size_t i = 0; i < conf->services->count; i++) {
		const char *svc = conf->services->list[i]->name;
		size_t len = strlen(svc);
		const char *rest;
		char *with_default;
		int known;

		if (strncmp(name, svc, len) != 0 || name[len] != '_')
			continue;
		rest = name + len + 1;
		if (conf_param_status(rest) != CONF_UNKNOWN)
			return 1;
		with_default = xasprintf("default_%s", rest);
		known = conf_param_status(with_default) != CONF_UNKNOWN;
		free(with_default);
		if (known)
			return 1;
	}
	return 0;
}

static void
mark_ref(void *arg, const char *name, size_t len)
{
	struct conf *conf = arg;

	for (size_t i = 0; i < conf->n_set; i++)
		if (strlen(conf->set[i].name) == len &&
		    memcmp(conf->set[i].name, name, len) == 0)
			conf->set[i].referenced = 1;
}

struct ref_probe {
	const char *name;
	int found;
};

static void
probe_ref(void *arg, const char *name, size_t len)
{
	struct ref_probe *probe = arg;

	if (strlen(probe->name) == len && memcmp(probe->name, name, len) == 0)
		probe->found = 1;
}

/* Whether any main.cf value or -o value refers to name. */
static int
is_referenced(const struct conf *conf, const char *name)
{
	struct ref_probe probe = { .name = name };

	for (size_t i = 0; i < conf->n_set && !probe.found; i++)
		conf_scan_refs(conf->set[i].raw, probe_ref, &probe);
	for (size_t i = 0; conf->services && i < conf->services->count;
	    i++) {
		const struct master_service *svc = conf->services->list[i];

		for (size_t j = 0; j < svc->n_overrides && !probe.found; j++)
			conf_scan_refs(svc->overrides[j].value, probe_ref,
			    &probe);
	}
	return probe.found;
}

static int
in_word_list(const char *list, const char *name)
{
	char **words = strlist_split(list, LIST_SEPARATORS, NULL);
	int found = 0;

	for (char **w = words; *w && !found; w++)
		found = strcmp(*w, name) == 0;
	strlist_free(words);
	return found;
}

/* A class of smtpd_restriction_classes (main.cf or an -o): a parameter
 * of the administrator's own naming, used by the restrictions. */
static int
is_restriction_class(const struct conf *conf, const char *name)
{
	for (size_t i = 0; i < conf->n_set; i++)
		if (strcmp(conf->set[i].name, "smtpd_restriction_classes") == 0
		    && in_word_list(conf->set[i].raw, name))
			return 1;
	for (size_t i = 0; conf->services && i < conf->services->count;
	    i++) {
		const struct master_service *svc = conf->services->list[i];

		for (size_t j = 0; j < svc->n_overrides; j++)
			if (strcmp(svc->overrides[j].name,
			    "smtpd_restriction_classes") == 0 &&
			    in_word_list(svc->overrides[j].value, name))
				return 1;
	}
	return 0;
}

static void
warn_overrides(const struct conf *conf)
{
	for (size_t i = 0; conf->services && i < conf->services->count;
	    i++) {
		const struct master_service *svc = conf->services->list[i];

		for (size_t j = 0; j < svc->n_overrides; j++) {
			const struct conf_override *ov = &svc->overrides[j];
			enum conf_status status = conf_param_status(ov->name);

			if (status == CONF_OBSOLETE) {
				char *where = xasprintf("%s:%d", svc->file,
				    ov->line);

				conf_obsolete_warning(NULL, where, ov->name);
				free(where);
			} else if (status == CONF_UNKNOWN &&
			    !is_service_param(conf, ov->name) &&
			    !is_restriction_class(conf, ov->name) &&
			    !is_referenced(conf, ov->name))
				msg_warn("%s:%d: unused parameter: %s=%s",
				    svc->file, ov->line, ov->name, ov->value);
		}
	}
}

void
conf_warn_names(struct conf *conf)
{
	for (size_t i = 0; i < conf->n_set; i++)
		conf_scan_refs(conf->set[i].raw, mark_ref, conf);
	if (conf->services) {
		for (size_t i = 0; i < conf->services->count; i++) {
			const struct master_service *svc =
			    conf->services->list[i];

			for (size_t j = 0; j < svc->n_overrides; j++)
				conf_scan_refs(svc->overrides[j].value,
				    mark_ref, conf);
		}
	}
	for (size_t i = 0; i < conf->n_set; i++) {
		struct slot *slot = &conf->set[i];

		if (slot->status == CONF_UNKNOWN &&
		    (is_service_param(conf, slot->name) ||
		    is_restriction_class(conf, slot->name)))
			slot->status = CONF_IGNORED;
		if (slot->status == CONF_OBSOLETE)
			conf_obsolete_warning(NULL, slot->origin, slot->name);
		else if (slot->status == CONF_UNKNOWN && !slot->referenced)
			msg_warn("%s: unused parameter: %s=%s", slot->origin,
			    slot->name, slot->raw);
	}
	warn_overrides(conf);
}
