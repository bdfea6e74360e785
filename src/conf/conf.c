/* conf: the configuration object: loading main.cf and master.cf, a
 * service's view with its -o overrides, and the getters. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/util.h"

#include "conf_int.h"

struct conf *
conf_alloc(const char *dir, const char *main_name)
{
	struct conf *conf = xcalloc(1, sizeof(*conf));
	const struct conf_param_def *table;
	size_t n;

	table = conf_param_table(&n);
	conf->dir = dir ? xstrdup(dir) : NULL;
	conf->main_name = xstrdup(main_name);
	conf->defaults = xcalloc(n, sizeof(*conf->defaults));
	conf->values = xcalloc(n, sizeof(*conf->values));
	conf->numbers = xcalloc(n, sizeof(*conf->numbers));
	for (size_t i = 0; i < n; i++) {
		struct slot *slot = &conf->defaults[i];
		char *computed = conf_param_computed_default(&table[i]);

		slot->name = xstrdup(table[i].name);
		slot->status = conf_param_status(table[i].name);
		if (computed)
			slot->raw = computed;
		else if (table[i].defval)
			slot->raw = xstrdup(table[i].defval);
		/* else: computed from other values (mydomain) */
	}
	return conf;
}

static void
slot_clear(struct slot *slot)
{
	free(slot->name);
	free(slot->raw);
	free(slot->origin);
	free(slot->value);
}

void
conf_free(struct conf *conf)
{
	size_t n;

	if (conf == NULL)
		return;
	(void)conf_param_table(&n);
	for (size_t i = 0; i < n; i++)
		slot_clear(&conf->defaults[i]);
	for (size_t i = 0; i < conf->n_set; i++)
		slot_clear(&conf->set[i]);
	for (size_t i = 0; i < conf->n_pseudo; i++)
		slot_clear(&conf->pseudo[i]);
	free(conf->defaults);
	free(conf->set);
	free(conf->pseudo);
	free(conf->values);
	free(conf->numbers);
	conf_services_release(conf->services);
	free(conf->dir);
	free(conf->main_name);
	free(conf);
}

struct slot *
conf_find_set(const struct conf *conf, const char *name)
{
	for (size_t i = 0; i < conf->n_set; i++)
		if (strcmp(conf->set[i].name, name) == 0)
			return &conf->set[i];
	return NULL;
}

struct slot *
conf_set(struct conf *conf, const char *name, const char *raw,
    const char *origin, int from_master)
{
	struct slot *slot = conf_find_set(conf, name);

	if (slot == NULL) {
		/* Grow by one: configurations are short, and a pointer into
		 * the array is never kept across calls. */
		conf->set = xrealloc(conf->set,
		    (conf->n_set + 1) * sizeof(*conf->set));
		slot = &conf->set[conf->n_set++];
		memset(slot, 0, sizeof(*slot));
		slot->name = xstrdup(name);
		slot->status = conf_param_status(name);
	} else {
		free(slot->raw);
		free(slot->origin);
	}
	slot->raw = xstrdup(raw);
	slot->origin = xstrdup(origin);
	slot->from_master = from_master;
	return slot;
}

/* main.cf: "name = value" logical lines. */
static int
parse_main(struct conf *conf, const char *text, char **err)
{
	struct conf_lline *lines;
	size_t n_lines;
	int rc = 0;

	lines = conf_lex(text, conf->main_name, &n_lines);
	for (size_t i = 0; i < n_lines && rc == 0; i++) {
		const struct conf_lline *ll = &lines[i];
		char *eq = strchr(ll->text, '=');
		char *name, *value, *origin;
		struct slot *old;

		if (eq == NULL) {
			*err = xasprintf("%s:%d: missing '=' after attribute "
			    "name: \"%s\"", conf->main_name, ll->line,
			    str_trim(ll->text));
			rc = -1;
			break;
		}
		*eq = '\0';
		name = str_trim(ll->text);
		value = str_trim(eq + 1);
		if (*name == '\0') {
			*err = xasprintf("%s:%d: missing attribute name: "
			    "\"=%s\"", conf->main_name, ll->line, value);
			rc = -1;
			break;
		}
		origin = xasprintf("%s:%d", conf->main_name, ll->line);
		if ((old = conf_find_set(conf, name)) != NULL)
			msg_warn("%s: overriding earlier entry: %s=%s", origin,
			    name, old->raw);
		conf_set(conf, name, value, origin, 0);
		free(origin);
	}
	conf_lex_free(lines, n_lines);
	return rc;
}

/* Adds a pseudo parameter (a value Postfix defines for the process, such
 * as $service_name in a master.cf -o). */
static void
add_pseudo(struct conf *conf, const char *name, const char *value)
{
	struct slot *slot;
	struct strbuf sb;

	conf->pseudo = xrealloc(conf->pseudo,
	    (conf->n_pseudo + 1) * sizeof(*conf->pseudo));
	slot = &conf->pseudo[conf->n_pseudo++];
	memset(slot, 0, sizeof(*slot));
	slot->name = xstrdup(name);
	slot->status = CONF_UNKNOWN;
	/* A template that expands to value itself: $ doubled. */
	strbuf_init(&sb);
	for (const char *p = value; *p; p++) {
		if (*p == '$')
			strbuf_append(&sb, "$", 1);
		strbuf_append(&sb, p, 1);
	}
	slot->raw = strbuf_steal(&sb);
}

/* A service's parameters: main.cf's with its -o overrides. With keep, a
 * refused value leaves its default in place and the view is returned
 * with *err set all the same. */
static struct conf *
service_view(const struct conf *conf, const struct master_service *svc,
    int warn, int keep, char **err)
{
	struct conf *copy = conf_alloc(conf->dir, conf->main_name);

	copy->check_declared = conf->check_declared;
	for (size_t i = 0; i < conf->n_set; i++) {
		const struct slot *slot = &conf->set[i];
		struct slot *dup = conf_set(copy, slot->name, slot->raw,
		    slot->origin, slot->from_master);

		dup->status = slot->status;
		dup->referenced = slot->referenced;
	}
	for (size_t i = 0; i < svc->n_overrides; i++) {
		const struct conf_override *ov = &svc->overrides[i];
		char *origin = xasprintf("%s:%d", svc->file, ov->line);

		conf_set(copy, ov->name, ov->value, origin, 1);
		free(origin);
	}
	if (conf_find_set(copy, "service_name") == NULL)
		add_pseudo(copy, "service_name", svc->name);
	copy->services = conf->services;
	if (copy->services)
		copy->services->refs++;
	if (conf_resolve(copy, 0, warn, err) < 0 && !keep) {
		conf_free(copy);
		return NULL;
	}
	return copy;
}

struct conf *
conf_for_service(const struct conf *conf,
    const struct master_service *service, char **err)
{
	*err = NULL;
	return service_view(conf, service, 0, 0, err);
}

struct conf *
conf_for_service_all(const struct conf *conf,
    const struct master_service *service, char **err)
{
	*err = NULL;
	return service_view(conf, service, 0, 1, err);
}

/* Every refused value is reported in one go, main.cf's and each
 * service's, each line once. With keep, refused values do not stop it
 * (their defaults stand in): only unreadable files and syntax do. */
static struct conf *
load(const char *dir, const char *main_cf, const char *main_name,
    const char *master_cf, const char *master_name, int check_declared,
    int keep, char **err)
{
	struct conf *conf = conf_alloc(dir, main_name ? main_name : "main.cf");
	struct errlist errors;
	char *why = NULL;

	conf->check_declared = check_declared;

	*err = NULL;
	if (parse_main(conf, main_cf, err) < 0)
		goto fail;
	conf->services = conf_master_parse(master_cf,
	    master_name ? master_name : "master.cf", err);
	if (conf->services == NULL)
		goto fail;
	conf_warn_names(conf);
	errlist_init(&errors);
	if (conf_check_unsupported(conf, &why) < 0) {
		errlist_add(&errors, why);
		free(why);
	}
	if (conf_resolve(conf, 1, 1, &why) < 0) {
		errlist_add(&errors, why);
		free(why);
	}
	/* Check every service's -o values now, so a bad one stops start-up
	 * instead of a worker. */
	for (size_t i = 0; i < conf->services->count; i++) {
		const struct master_service *svc = conf->services->list[i];
		struct conf *view;

		if (svc->n_overrides == 0)
			continue;
		view = service_view(conf, svc, 1, 1, &why);
		if (why != NULL) {
			errlist_add(&errors, why);
			free(why);
			why = NULL;
		}
		conf_free(view);
	}
	if ((*err = errlist_steal(&errors)) != NULL && !keep)
		goto fail;
	return conf;

fail:
	conf_free(conf);
	return NULL;
}

struct conf *
conf_load_strings(const char *main_cf, const char *main_name,
    const char *master_cf, const char *master_name, char **err)
{
	return load(NULL, main_cf, main_name, master_cf, master_name, 0, 0,
	    err);
}

static struct conf *
load_dir(const char *confdir, int keep, char **err)
{
	char *main_path = xasprintf("%s/main.cf", confdir);
	char *master_path = xasprintf("%s/master.cf", confdir);
	char *main_cf = NULL, *master_cf = NULL;
	struct conf *conf = NULL;

	*err = NULL;
	if ((main_cf = file_read_text(main_path, err)) != NULL &&
	    (master_cf = file_read_text(master_path, err)) != NULL)
		conf = load(confdir, main_cf, main_path, master_cf,
		    master_path, 1, keep, err);
	free(main_cf);
	free(master_cf);
	free(main_path);
	free(master_path);
	return conf;
}

struct conf *
conf_load(const char *confdir, char **err)
{
	return load_dir(confdir, 0, err);
}

struct conf *
conf_load_all(const char *confdir, char **err)
{
	return load_dir(confdir, 1, err);
}

/* Getters. The type of each identifier is checked at compile time; an
 * index out of the table is a programming error. */

static size_t
typed_index(int param, enum conf_type type, const char *getter)
{
	const struct conf_param_def *def = conf_param_at(param);

	if (def->type != type)
		msg_panic("%s: %s is not a parameter of that type", getter,
		    def->name);
	return (size_t)param;
}

const char *
conf_str(const struct conf *conf, enum conf_str_param param)
{
	return conf->values[typed_index(param, CONF_STR, "conf_str")];
}

int
conf_bool(const struct conf *conf, enum conf_bool_param param)
{
	return (int)conf->numbers[typed_index(param, CONF_BOOL, "conf_bool")];
}

long long
conf_int(const struct conf *conf, enum conf_int_param param)
{
	return conf->numbers[typed_index(param, CONF_INT, "conf_int")];
}

long long
conf_time(const struct conf *conf, enum conf_time_param param)
{
	return conf->numbers[typed_index(param, CONF_TIME, "conf_time")];
}

long long
conf_size(const struct conf *conf, enum conf_size_param param)
{
	return conf->numbers[typed_index(param, CONF_SIZE, "conf_size")];
}

const char *
conf_text(const struct conf *conf, int param)
{
	return conf->values[conf_param_index(conf_param_at(param))];
}

const char *
conf_lookup(const struct conf *conf, const char *name)
{
	const struct conf_param_def *def = conf_param_lookup(name);
	const struct slot *slot;

	if (def)
		return conf->values[conf_param_index(def)];
	if ((slot = conf_find_set(conf, name)) != NULL)
		return slot->value;
	for (size_t i = 0; i < conf->n_pseudo; i++)
		if (strcmp(conf->pseudo[i].name, name) == 0)
			return conf->pseudo[i].value;
	return NULL;
}

const char *
conf_lookup_origin(const struct conf *conf, const char *name)
{
	const struct slot *slot = conf_find_set(conf, name);

	return slot ? slot->origin : NULL;
}

const char *
conf_origin(const struct conf *conf, int param)
{
	return conf_lookup_origin(conf, conf_param_name(param));
}

const char *
conf_raw(const struct conf *conf, int param)
{
	const struct conf_param_def *def = conf_param_at(param);
	const struct slot *slot = conf_find_set(conf, def->name);

	return slot ? slot->raw : conf->defaults[conf_param_index(def)].raw;
}

char *
conf_expand_with(const char *text, int (*lookup)(void *arg,
    const char *name, const char **value, char **err), void *arg,
    char **err)
{
	struct strbuf out;

	*err = NULL;
	strbuf_init(&out);
	if (conf_expand_text(text, lookup, arg, &out, err) < 0) {
		strbuf_free(&out);
		return NULL;
	}
	return strbuf_steal(&out);
}

int
conf_is_set(const struct conf *conf, int param)
{
	return conf_find_set(conf, conf_param_name(param)) != NULL;
}

int
conf_check_param(const struct conf *conf, int param, char **err)
{
	const struct conf_param_def *def = conf_param_at(param);
	const char *where = conf_origin(conf, param);
	size_t i = conf_param_index(def);

	return conf_check_value(def, where ? where : conf->main_name,
	    conf->values[i], conf->numbers[i], err);
}

const char *
conf_dir(const struct conf *conf)
{
	return conf->dir ? conf->dir : "";
}

size_t
conf_services(const struct conf *conf,
    const struct master_service *const **services)
{
	if (conf->services == NULL) {
		*services = NULL;
		return 0;
	}
	*services = (const struct master_service *const *)conf->services->list;
	return conf->services->count;
}

const struct master_service *
conf_service_by_command(const struct conf *conf, const char *command)
{
	const struct master_service *const *services;
	size_t n = conf_services(conf, &services);

	for (size_t i = 0; i < n; i++)
		if (strcmp(services[i]->command, command) == 0)
			return services[i];
	return NULL;
}

const char *
conf_set_name(const struct conf *conf, size_t index, const char **raw_value)
{
	if (index >= conf->n_set)
		return NULL;
	if (raw_value)
		*raw_value = conf->set[index].raw;
	return conf->set[index].name;
}

enum conf_status
conf_name_status(const struct conf *conf, const char *name)
{
	const struct slot *slot = conf_find_set(conf, name);

	return slot ? slot->status : conf_param_status(name);
}

/* After loading, every slot holds its final value: look them up. */
static int
lookup_resolved(void *arg, const char *name, const char **value, char **err)
{
	const struct conf *conf = arg;

	(void)err;
	*value = conf_lookup(conf, name);
	return 0;
}

char *
conf_expand(const struct conf *conf, const char *text, char **err)
{
	struct strbuf out;

	*err = NULL;
	strbuf_init(&out);
	if (conf_expand_text(text, lookup_resolved, (void *)conf, &out,
	    err) < 0) {
		strbuf_free(&out);
		return NULL;
	}
	return strbuf_steal(&out);
}
