/* check_files: what the configuration names on disk besides
 * certificates. Tables: a hash:/btree: .db older than its text source
 * (an edit that `tlsrelay map` never compiled), every entry of the TLS
 * policy tables parsed as the client will parse it. Files and
 * directories: the daemon reads tables and works in the queue and data
 * directories as mail_owner, after dropping root, so they are tried as
 * that user. */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/map.h"
#include "tlsrelay/tls.h"
#include "tlsrelay/tls_client.h"
#include "tlsrelay/util.h"

#include "check.h"

/* The parameters that name tables the daemon opens. */
static const int table_params[] = {
	P_transport_maps, P_smtp_tls_policy_maps, P_smtp_sasl_password_maps,
	P_tlsrelay_smtpd_sasl_user_maps, P_relay_clientcerts,
	P_smtpd_sender_login_maps,
};

/* A path mail_owner must be able to use, and where it is configured. */
struct owned_path {
	char *path;
	int mode;		/* access(2) mode */
	char *where;		/* "main.cf:3: transport_maps" */
};

struct owned_paths {
	struct owned_path *v;
	size_t n;
};

static void
owned_add(struct owned_paths *list, const char *path, int mode,
    const char *where)
{
	list->v = xrealloc(list->v, (list->n + 1) * sizeof(*list->v));
	list->v[list->n].path = xstrdup(path);
	list->v[list->n].mode = mode;
	list->v[list->n].where = xstrdup(where);
	list->n++;
}

/* The daemon creates files in the queue and data directories. */
static void
owned_directory(struct owned_paths *list, const struct conf *conf,
    enum conf_str_param param)
{
	char *where = xasprintf("%s: %s", check_origin(conf, param),
	    conf_param_name(param));

	owned_add(list, conf_str(conf, param), R_OK | W_OK | X_OK, where);
	free(where);
}

/* ---- TLS policy tables ---------------------------------------------------- */

struct policy_walk {
	struct check *c;
	const struct conf *conf;
	const char *file;
};

static void
policy_entry(void *arg, const char *key, const char *value)
{
	struct policy_walk *w = arg;
	char *where = xasprintf("%s: key \"%s\"", w->file, key);
	struct tls_policy *p;

	/* tls_policy_parse warns with the detail, as the client does. */
	p = tls_policy_parse(w->conf, key, value, where);
	if (p->error != NULL)
		check_error(w->c, "%s: unusable TLS policy \"%s\": mail to "
		    "this destination is deferred: correct the entry and "
		    "rebuild the table", where, value);
	tls_policy_free(p);
	free(where);
}

static void
check_policy_table(struct check *c, const struct conf *conf,
    const char *spec, const char *where, const char *file)
{
	struct policy_walk w = { c, conf, file };
	struct table *t;
	char *err = NULL;

	if ((t = table_open(spec, 0, &err)) == NULL) {
		check_error(c, "%s: %s", where, err);
		free(err);
		return;
	}
	if (table_each(t, policy_entry, &w, &err) < 0) {
		/* cidr and static cannot list their entries. */
		free(err);
	}
	table_close(t);
}

/* ---- tables --------------------------------------------------------------- */

static void
check_table(struct check *c, const struct conf *conf, int param,
    const char *spec, struct owned_paths *owned)
{
	const char *colon = strchr(spec, ':');
	char *type, *where, *db;
	struct stat src_st, db_st;
	int flags;

	/* inline:{...} and other forms without a file have nothing here. */
	if (colon == NULL || colon[1] != '/')
		return;
	type = xstrndup(spec, (size_t)(colon - spec));
	flags = table_type_flags(type);
	where = xasprintf("%s: %s", check_origin(conf, param),
	    conf_param_name(param));
	if (flags & TABLE_TYPE_BUILT) {
		db = xasprintf("%s.db", colon + 1);
		/* A missing .db is reported by the subsystem that opens
		 * the table, as the daemon would. */
		if (stat(db, &db_st) == 0 && stat(colon + 1, &src_st) == 0 &&
		    src_st.st_mtim.tv_sec > db_st.st_mtim.tv_sec)
			check_warn(c, "%s: %s is older than %s: the edits "
			    "since are not in effect: run \"tlsrelay map %s\"",
			    where, db, colon + 1, spec);
		owned_add(owned, db, R_OK, where);
		free(db);
	} else if (flags & TABLE_TYPE_SOURCE) {
		owned_add(owned, colon + 1, R_OK, where);
	}
	if (param == P_smtp_tls_policy_maps)
		check_policy_table(c, conf, spec, where, colon + 1);
	free(where);
	free(type);
}

/* ---- access as mail_owner ------------------------------------------------- */

/* Run as mail_owner: each path it cannot use is an error line; returns
 * their number (at most 100: it is a child's exit status). */
static int
try_paths(const struct passwd *pw, const struct owned_paths *owned)
{
	int failed = 0;

	for (size_t i = 0; i < owned->n; i++) {
		const struct owned_path *o = &owned->v[i];

		/* A missing file is reported by whoever opens it. */
		if (access(o->path, o->mode) == 0 || errno == ENOENT)
			continue;
		msg_error("%s: %s: mail_owner %s cannot %s it: %s: change "
		    "its owner or mode (and its parents')", o->where,
		    o->path, pw->pw_name, o->mode & W_OK ? "write" : "read",
		    strerror(errno));
		if (failed < 100)
			failed++;
	}
	return failed;
}

/* In a child of root. */
static int
try_as_owner(const struct passwd *pw, const struct owned_paths *owned)
{
	if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0) {
		msg_error("cannot become mail_owner %s: %s", pw->pw_name,
		    strerror(errno));
		return 1;
	}
	return try_paths(pw, owned);
}

static void
check_owner_access(struct check *c, const struct conf *conf,
    const struct owned_paths *owned)
{
	const char *owner = conf_str(conf, P_mail_owner);
	struct passwd *pw;
	int status;
	pid_t pid;

	if ((pw = getpwnam(owner)) == NULL) {
		check_error(c, "%s: mail_owner: no user \"%s\": create it "
		    "(useradd --system %s)", check_origin(conf, P_mail_owner),
		    owner, owner);
		return;
	}
	if (geteuid() != 0 && geteuid() != pw->pw_uid) {
		check_warn(c, "%s: mail_owner: access as %s not checked: run "
		    "tlsrelay check as root", check_origin(conf, P_mail_owner),
		    owner);
		return;
	}
	if (geteuid() != 0) {
		c->errors += try_paths(pw, owned);
		return;
	}
	fflush(NULL);
	if ((pid = fork()) < 0) {
		check_error(c, "fork: %s", strerror(errno));
		return;
	}
	if (pid == 0)
		_exit(try_as_owner(pw, owned));
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status))
		c->errors += WEXITSTATUS(status);
	else
		check_error(c, "access check as %s: child died", owner);
}

void
check_files(struct check *c, const struct conf *conf)
{
	struct owned_paths owned = { NULL, 0 };

	for (size_t i = 0; i < sizeof(table_params) / sizeof(table_params[0]);
	    i++) {
		char **specs = strlist_split(conf_str(conf, table_params[i]),
		    LIST_SEPARATORS, NULL);

		for (char **s = specs; *s; s++)
			check_table(c, conf, table_params[i], *s, &owned);
		strlist_free(specs);
	}
	owned_directory(&owned, conf, P_queue_directory);
	owned_directory(&owned, conf, P_data_directory);
	check_owner_access(c, conf, &owned);
	for (size_t i = 0; i < owned.n; i++) {
		free(owned.v[i].path);
		free(owned.v[i].where);
	}
	free(owned.v);
}
