/* conf: main.cf and master.cf with Postfix's syntax and meanings.
 *
 * Every parameter tlsrelay implements is declared once, with its type and
 * default, in src/conf/conf_params.c. Postfix parameters that tlsrelay does
 * not implement are accepted quietly (and listed as ignored); names that no
 * MTA knows draw a warning naming file:line. */
#ifndef TLSRELAY_CONF_H
#define TLSRELAY_CONF_H

#include <stddef.h>

enum conf_type {
	CONF_STR,	/* any string */
	CONF_BOOL,	/* yes / no */
	CONF_INT,	/* decimal integer >= 0 */
	CONF_TIME,	/* integer with optional unit s m h d w; default unit
			 * given by the parameter ('s', 'h' or 'd') */
	CONF_SIZE,	/* integer byte count */
};

enum conf_status {
	CONF_IMPLEMENTED,	/* tlsrelay uses it */
	CONF_IGNORED,		/* a Postfix parameter tlsrelay does not use */
	CONF_OBSOLETE,		/* mapped onto another parameter with a warning */
	CONF_UNKNOWN,		/* nobody's parameter (user-defined or a typo) */
};

struct conf_param_def {
	const char *name;
	enum conf_type type;
	const char *defval;	/* may contain $name references */
	char time_unit;		/* CONF_TIME: default unit, 's', 'h' or 'd' */
};

/* One master.cf -o name=value. */
struct conf_override {
	char *name;
	char *value;
	int line;		/* master.cf line where the -o is written */
};

struct master_service {
	char *name;		/* "smtp", "127.0.0.1:2525", "submission" */
	char *type;		/* "inet", "unix", "pass", ... */
	int private_;		/* -1 for "-" (default) */
	int unpriv;
	int chroot;
	char *wakeup;
	int maxproc;		/* -1 for "-" */
	char *command;		/* "smtpd", "qmgr", ... */
	char **args;		/* NULL-terminated, -o pairs removed */
	struct conf_override *overrides;	/* from -o name=value */
	size_t n_overrides;
	char *file;		/* path of master.cf */
	int line;		/* line where the entry starts */
	/* For type "inet": the listen address split out of name. host is
	 * NULL when the name has none ("smtp", "2525"); port is the service
	 * name or number as written. IPv6 hosts are given without brackets. */
	char *host;
	char *port;
};

struct conf;

/* Reads CONFDIR/main.cf and CONFDIR/master.cf. Returns NULL on a syntax
 * error or an invalid value, with *err = "FILE:LINE: message" (caller
 * frees). Warnings (unknown names, obsolete parameters) go to msg_warn. */
struct conf *conf_load(const char *confdir, char **err);
/* Same from strings (unit tests); either may be NULL for "empty file". The
 * file names only label messages. */
struct conf *conf_load_strings(const char *main_cf, const char *main_name,
    const char *master_cf, const char *master_name, char **err);
void conf_free(struct conf *conf);

/* A copy of conf with a master.cf service's -o overrides applied and all
 * values re-expanded; NULL with *err naming master.cf:line when an override
 * has an invalid value. */
struct conf *conf_for_service(const struct conf *conf,
    const struct master_service *service, char **err);

/* Values, fully $-expanded. conf_str returns NULL for a name that is
 * neither set nor has a default. The typed getters panic on a name that is
 * not a declared parameter of that type (a programming error: values were
 * validated by conf_load). Times are in seconds. */
const char *conf_str(const struct conf *conf, const char *name);
int conf_bool(const struct conf *conf, const char *name);
long long conf_int(const struct conf *conf, const char *name);
long long conf_time(const struct conf *conf, const char *name);
long long conf_size(const struct conf *conf, const char *name);

/* Where a parameter's value was set: "/etc/tlsrelay/main.cf:12" or
 * "/etc/tlsrelay/master.cf:30"; NULL when it has its default value. */
const char *conf_origin(const struct conf *conf, const char *name);
/* 1 when the parameter is set explicitly (main.cf or -o), 0 otherwise. */
int conf_is_set(const struct conf *conf, const char *name);
const char *conf_dir(const struct conf *conf);

/* The master.cf services, in file order. */
size_t conf_services(const struct conf *conf,
    const struct master_service *const **services);
/* The first master.cf service whose command is command ("qmgr"), or
 * NULL. */
const struct master_service *conf_service_by_command(
    const struct conf *conf, const char *command);

/* Parameter catalogue, for `tlsrelay conf` and the documentation test. */
enum conf_status conf_param_status(const char *name);
const struct conf_param_def *conf_param_lookup(const char *name);
/* All implemented parameters in name order; *count gets their number. */
const struct conf_param_def *conf_param_table(size_t *count);
/* Like conf_param_status, but for this configuration: a Postfix
 * per-service name ("<master.cf service>_<parameter>") counts as ignored. */
enum conf_status conf_name_status(const struct conf *conf, const char *name);
/* Names set in main.cf, in file order, with their raw (unexpanded) values;
 * iterate with index 0.. until it returns NULL. */
const char *conf_set_name(const struct conf *conf, size_t index,
    const char **raw_value);

/* Value parsers shared with other subsystems; each returns 0 on success or
 * -1 when the text is not valid. */
int conf_parse_bool(const char *text, int *out);
int conf_parse_time(const char *text, char default_unit, long long *seconds);
int conf_parse_int(const char *text, long long *out);

/* Expands $name, ${name}, $(name), ${name?value} and ${name:value} in
 * text against conf (recursively, loops detected). Caller frees. */
char *conf_expand(const struct conf *conf, const char *text, char **err);

#endif
