/* smtpd_tables: the lookup tables a service consults (the password table,
 * smtpd_sender_login_maps, relay_clientcerts, the check_*_access tables
 * of the restriction lists). They are opened when the
 * configuration is read, by the supervisor as root, so a table may be
 * readable by root alone. When a table file changes (`tlsrelay passwd`,
 * `tlsrelay map`), a worker re-opens it before the next lookup
 * (table_list_refresh); if it cannot (it runs as mail_owner), it keeps the
 * old contents, says so once, and a reload (SIGHUP) opens the new ones as
 * root.
 *
 * The workers and the qmgr inherit the tables with fork() and leave by
 * exit() without freeing the generation; Berkeley DB links its cache by
 * offsets, which LeakSanitizer cannot follow. So every table still open
 * at exit is closed then, in whichever process exits. */
#include "config.h"

#include <stdlib.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/log.h"
#include "tlsrelay/map.h"
#include "tlsrelay/util.h"
#include "smtpd_int.h"

struct smtpd_table {
	char *param;
	struct table_list *list;
	struct smtpd_table *next, *prev;	/* all open tables */
};

static struct smtpd_table *open_tables;

static void
close_at_exit(void)
{
	while (open_tables != NULL)
		smtpd_table_free(open_tables);
}

struct smtpd_table *
smtpd_table_open_spec(const char *spec, const char *label, char **err)
{
	struct smtpd_table *t;
	struct table_list *list;

	if ((list = table_list_open(spec, 0, err)) == NULL)
		return NULL;
	t = xcalloc(1, sizeof(*t));
	t->param = xstrdup(label);
	t->list = list;
	if (open_tables == NULL) {
		static int registered;

		if (!registered && atexit(close_at_exit) == 0)
			registered = 1;
	} else
		open_tables->prev = t;
	t->next = open_tables;
	open_tables = t;
	return t;
}

struct smtpd_table *
smtpd_table_open(const struct conf *conf, int param_id, char **err)
{
	const char *param = conf_param_name(param_id);
	struct smtpd_table *t;
	char *terr = NULL;

	if ((t = smtpd_table_open_spec(conf_str(conf, param_id), param,
	    &terr)) == NULL) {
		const char *origin = conf_origin(conf, param_id);

		*err = xasprintf("%s: %s: %s", origin ? origin : "default",
		    param, terr);
		free(terr);
	}
	return t;
}

/* The table a lookup of t answered from last, for log lines. */
const char *
smtpd_table_last_name(const struct smtpd_table *t)
{
	const struct table *last = table_list_last(t->list);

	return last ? table_name(last) : t->param;
}

const char *
smtpd_table_lookup(struct smtpd_table *t, const char *key, int *error)
{
	table_list_refresh(t->list, t->param);
	return table_list_lookup(t->list, key, error);
}

int
smtpd_table_empty(const struct smtpd_table *t)
{
	return t == NULL || table_list_count(t->list) == 0;
}

void
smtpd_table_free(struct smtpd_table *t)
{
	if (t == NULL)
		return;
	if (t->prev != NULL)
		t->prev->next = t->next;
	else
		open_tables = t->next;
	if (t->next != NULL)
		t->next->prev = t->prev;
	table_list_close(t->list);
	free(t->param);
	free(t);
}
