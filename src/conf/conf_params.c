/* conf_params: the parameter table, generated from the declarations in
 * include/tlsrelay/conf_params.def, and what is known about names.
 *
 * Computed defaults: myhostname is this machine's name from gethostname()
 * (".localdomain" appended when it has no dot); mydomain is $myhostname
 * minus its first label. mynetworks follows mynetworks_style (the map
 * subsystem lists this host's networks); both are computed when values
 * are resolved (conf_resolve.c). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/util.h"

#include "conf_int.h"

#define PARAM_STR(n, d) \
	{ .name = #n, .type = CONF_STR, .defval = d },
#define PARAM_BOOL(n, d) \
	{ .name = #n, .type = CONF_BOOL, .defval = d },
#define PARAM_INT(n, d, lo, hi) \
	{ .name = #n, .type = CONF_INT, .defval = d, .min = lo, .max = hi },
#define PARAM_SIZE(n, d, lo, hi) \
	{ .name = #n, .type = CONF_SIZE, .defval = d, .min = lo, .max = hi },
#define PARAM_TIME(n, d, u, lo, hi) \
	{ .name = #n, .type = CONF_TIME, .defval = d, .time_unit = u, \
	    .min = lo, .max = hi },
#define PARAM_ENUM(n, d, what, words) \
	{ .name = #n, .type = CONF_STR, .defval = d, .noun = what, \
	    .allowed = words },
#define PARAM_OBSOLETE(n, to, v, when) \
	{ .name = #n, .type = CONF_BOOL, .defval = "no", \
	    .obsoleted_by = #to, .obsolete_value = v, .obsolete_warn = when },

static const struct conf_param_def params[] = {
#include "tlsrelay/conf_params.def"
};

#define N_PARAMS (sizeof(params) / sizeof(params[0]))

_Static_assert(N_PARAMS == CONF_N_PARAMS, "one identifier per parameter");

static int
def_compare(const void *key, const void *elem)
{
	return strcmp(key, ((const struct conf_param_def *)elem)->name);
}

const struct conf_param_def *
conf_param_lookup(const char *name)
{
	return bsearch(name, params, N_PARAMS, sizeof(params[0]), def_compare);
}

const struct conf_param_def *
conf_param_table(size_t *count)
{
	*count = N_PARAMS;
	return params;
}

const struct conf_param_def *
conf_param_at(int param)
{
	if (param < 0 || (size_t)param >= N_PARAMS)
		msg_panic("conf_param_at: no parameter %d", param);
	return &params[param];
}

const char *
conf_param_name(int param)
{
	return conf_param_at(param)->name;
}

size_t
conf_param_index(const struct conf_param_def *def)
{
	return (size_t)(def - params);
}

enum conf_status
conf_param_status(const char *name)
{
	const struct conf_param_def *def = conf_param_lookup(name);

	if (def && def->obsoleted_by && def->obsolete_warn == CONF_WARN_LOAD)
		return CONF_OBSOLETE;
	if (def)
		return CONF_IMPLEMENTED;
	if (conf_is_postfix_name(name))
		return CONF_IGNORED;
	return CONF_UNKNOWN;
}

char *
conf_domain_of(const char *hostname)
{
	const char *dot = strchr(hostname, '.');

	if (dot == NULL || dot[1] == '\0')
		return xstrdup("localdomain");
	return xstrdup(dot + 1);
}

char *
conf_param_computed_default(const struct conf_param_def *def)
{
	char host[256];

	if (strcmp(def->name, "myhostname") != 0)
		return NULL;
	/* No DNS here: the name the machine calls itself is the answer. */
	if (gethostname(host, sizeof(host)) != 0 || host[0] == '\0')
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	if (strchr(host, '.') == NULL)
		return xasprintf("%s.localdomain", host);
	return xstrdup(host);
}
