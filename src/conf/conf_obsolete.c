/* conf_obsolete: what an obsolete parameter stands for, from its
 * declaration (PARAM_OBSOLETE in conf_params.def), and the warning that it
 * is obsolete. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/util.h"

#include "conf_int.h"

static int
maps_onto(const struct conf_param_def *def, const char *name)
{
	return def->obsoleted_by && strcmp(def->obsoleted_by, name) == 0;
}

/* What "yes" of table[i] means. Postfix's smtp_enforce_tls = yes checks
 * the server's name too (verify) unless smtp_tls_enforce_peername = no,
 * which leaves encryption alone (encrypt): a silent "encrypt" would be a
 * downgrade of the administrator's setting. */
static const char *
yes_means(const struct conf *conf, const struct conf_param_def *table,
    size_t i)
{
	if ((int)i == P_smtp_enforce_tls && conf != NULL &&
	    !conf_bool(conf, P_smtp_tls_enforce_peername))
		return "encrypt";
	return table[i].obsolete_value;
}

const char *
conf_obsolete_value(const struct conf *conf, int param, int *from)
{
	const char *name = conf_param_name(param);
	const struct conf_param_def *table;
	size_t n;

	table = conf_param_table(&n);
	for (size_t i = 0; i < n; i++) {
		if (maps_onto(&table[i], name) && conf->numbers[i]) {
			if (from)
				*from = (int)i;
			return yes_means(conf, table, i);
		}
	}
	return NULL;
}

void
conf_obsolete_warning(const struct conf *conf, const char *where,
    const char *name)
{
	const struct conf_param_def *table;
	size_t n;

	table = conf_param_table(&n);
	for (size_t i = 0; i < n; i++)
		if (strcmp(table[i].name, name) == 0 && table[i].obsoleted_by) {
			msg_warn("%s: %s is obsolete: use %s = %s instead",
			    where, name, table[i].obsoleted_by,
			    yes_means(conf, table, i));
			return;
		}
	msg_warn("%s: %s is obsolete", where, name);
}

void
conf_warn_obsolete(const struct conf *conf, int param)
{
	const char *name = conf_param_name(param);
	const struct conf_param_def *table;
	size_t n;

	table = conf_param_table(&n);
	for (size_t i = 0; i < n; i++)
		if (maps_onto(&table[i], name) &&
		    table[i].obsolete_warn == CONF_WARN_USE &&
		    conf_is_set(conf, (int)i))
			conf_obsolete_warning(conf, conf_origin(conf, (int)i),
			    table[i].name);
}
