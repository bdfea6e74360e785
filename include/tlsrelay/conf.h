/* conf: main.cf and master.cf with Postfix's syntax and meanings.
 *
 * Every parameter tlsrelay implements is declared once, with its type,
 * default, bounds or allowed values, in include/tlsrelay/conf_params.def,
 * and read through its compile-time identifier P_<name>: a misspelt name
 * does not compile, and with -Wextra (-Wenum-conversion) neither does a
 * getter of the wrong type. Postfix parameters that tlsrelay does not
 * implement are accepted quietly (and listed as ignored); names that no
 * MTA knows draw a warning naming file:line. */
#ifndef TLSRELAY_CONF_H
#define TLSRELAY_CONF_H

#include <limits.h>
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

/* When the use of an obsolete parameter is warned about. */
enum conf_warn_when {
	CONF_WARN_LOAD = 1,	/* as main.cf / master.cf are read */
	CONF_WARN_USE,		/* by its user: conf_warn_obsolete() */
};

struct conf_param_def {
	const char *name;
	enum conf_type type;
	const char *defval;	/* may contain $name references */
	char time_unit;		/* CONF_TIME: default unit, 's', 'h' or 'd' */
	long long min, max;	/* CONF_INT, CONF_TIME, CONF_SIZE */
	const char *allowed;	/* enumerations: the words allowed */
	const char *noun;	/* enumerations: "level", "value" */
	const char *obsoleted_by;	/* obsolete: the parameter to use */
	const char *obsolete_value;	/* ... and what "yes" means there */
	enum conf_warn_when obsolete_warn;
};

#define CONF_NO_MAX	LLONG_MAX
#define CONF_DAYS(n)	((n) * 86400LL)

/* Compile-time identifiers: conf_params.def included once for the index
 * of every parameter (table order), then once per type for an enumeration
 * whose members P_<name> carry the index: each PARAM_<kind> passes its
 * name to the macro of its type, which names it (CONF_ID_) in the type's
 * own enumeration and drops it (CONF_NO_ID_) in the others. */
#define PARAM_STR(n, ...)	CONF_STR_ID_(n)
#define PARAM_ENUM(n, ...)	CONF_STR_ID_(n)
#define PARAM_BOOL(n, ...)	CONF_BOOL_ID_(n)
#define PARAM_OBSOLETE(n, ...)	CONF_BOOL_ID_(n)
#define PARAM_INT(n, ...)	CONF_INT_ID_(n)
#define PARAM_TIME(n, ...)	CONF_TIME_ID_(n)
#define PARAM_SIZE(n, ...)	CONF_SIZE_ID_(n)
#define CONF_ID_(n)		P_##n = CONF_IDX_##n,
#define CONF_NO_ID_(n)
#define CONF_INDEX_(n)		CONF_IDX_##n,

#define CONF_STR_ID_	CONF_INDEX_
#define CONF_BOOL_ID_	CONF_INDEX_
#define CONF_INT_ID_	CONF_INDEX_
#define CONF_TIME_ID_	CONF_INDEX_
#define CONF_SIZE_ID_	CONF_INDEX_
enum conf_param_index {
#include "tlsrelay/conf_params.def"
	CONF_N_PARAMS
};
#undef CONF_STR_ID_
#undef CONF_BOOL_ID_
#undef CONF_INT_ID_
#undef CONF_TIME_ID_
#undef CONF_SIZE_ID_

#define CONF_STR_ID_	CONF_ID_
#define CONF_BOOL_ID_	CONF_NO_ID_
#define CONF_INT_ID_	CONF_NO_ID_
#define CONF_TIME_ID_	CONF_NO_ID_
#define CONF_SIZE_ID_	CONF_NO_ID_
enum conf_str_param {
#include "tlsrelay/conf_params.def"
};
#undef CONF_STR_ID_
#undef CONF_BOOL_ID_

#define CONF_STR_ID_	CONF_NO_ID_
#define CONF_BOOL_ID_	CONF_ID_
enum conf_bool_param {
#include "tlsrelay/conf_params.def"
};
#undef CONF_BOOL_ID_
#undef CONF_INT_ID_

#define CONF_BOOL_ID_	CONF_NO_ID_
#define CONF_INT_ID_	CONF_ID_
enum conf_int_param {
#include "tlsrelay/conf_params.def"
};
#undef CONF_INT_ID_
#undef CONF_TIME_ID_

#define CONF_INT_ID_	CONF_NO_ID_
#define CONF_TIME_ID_	CONF_ID_
enum conf_time_param {
#include "tlsrelay/conf_params.def"
};
#undef CONF_TIME_ID_
#undef CONF_SIZE_ID_

#define CONF_TIME_ID_	CONF_NO_ID_
#define CONF_SIZE_ID_	CONF_ID_
enum conf_size_param {
#include "tlsrelay/conf_params.def"
};

#undef CONF_STR_ID_
#undef CONF_BOOL_ID_
#undef CONF_INT_ID_
#undef CONF_TIME_ID_
#undef CONF_SIZE_ID_
#undef CONF_ID_
#undef CONF_NO_ID_
#undef CONF_INDEX_
#undef PARAM_STR
#undef PARAM_ENUM
#undef PARAM_BOOL
#undef PARAM_OBSOLETE
#undef PARAM_INT
#undef PARAM_TIME
#undef PARAM_SIZE

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
 * frees): one line per invalid value, every one of them, main.cf's and
 * each service's. Warnings (unknown names, obsolete parameters) go to
 * msg_warn. */
struct conf *conf_load(const char *confdir, char **err);
/* The same for a check that goes on past invalid values (tlsrelay conf,
 * tlsrelay check): each one's default stands in and *err has the lines;
 * NULL only when a file cannot be read or has a syntax error. */
struct conf *conf_load_all(const char *confdir, char **err);
/* Same from strings (unit tests); either may be NULL for "empty file". The
 * file names only label messages. Syntax and types are checked, but not
 * the declared bounds and allowed values, so a test can hand a subsystem
 * a value that conf_load refuses and prove its conf_check_param guard. */
struct conf *conf_load_strings(const char *main_cf, const char *main_name,
    const char *master_cf, const char *master_name, char **err);
void conf_free(struct conf *conf);

/* A copy of conf with a master.cf service's -o overrides applied and all
 * values re-expanded; NULL with *err naming master.cf:line when an override
 * has an invalid value. */
struct conf *conf_for_service(const struct conf *conf,
    const struct master_service *service, char **err);
/* The same, but an invalid override leaves its default in place: the view
 * is returned with *err set all the same. */
struct conf *conf_for_service_all(const struct conf *conf,
    const struct master_service *service, char **err);

/* Values, fully $-expanded and checked by the loader. Times are in
 * seconds. */
const char *conf_str(const struct conf *conf, enum conf_str_param param);
int conf_bool(const struct conf *conf, enum conf_bool_param param);
long long conf_int(const struct conf *conf, enum conf_int_param param);
long long conf_time(const struct conf *conf, enum conf_time_param param);
long long conf_size(const struct conf *conf, enum conf_size_param param);

/* What follows takes any parameter's identifier P_<name>. */
const char *conf_param_name(int param);
/* The expanded text of any parameter ("yes", "300s" as written). */
const char *conf_text(const struct conf *conf, int param);
/* Where a parameter's value was set: "/etc/tlsrelay/main.cf:12" or
 * "/etc/tlsrelay/master.cf:30"; NULL when it has its default value. */
const char *conf_origin(const struct conf *conf, int param);
/* A parameter's text as written, before $name expansion: for templates
 * whose macros are filled in later (default_rbl_reply's $rbl_code). */
const char *conf_raw(const struct conf *conf, int param);
/* Postfix's $name, ${name}, ${name?text} and ${name:text} over text,
 * the names given by lookup (*value NULL: undefined, nothing). Caller
 * frees; NULL with *err on a syntax error. */
char *conf_expand_with(const char *text, int (*lookup)(void *arg,
    const char *name, const char **value, char **err), void *arg,
    char **err);
/* 1 when the parameter is set explicitly (main.cf or -o), 0 otherwise. */
int conf_is_set(const struct conf *conf, int param);
/* The declared bounds or allowed values of param against its value: 0, or
 * -1 with *err = "FILE:LINE: name: why" (conf_load has checked them
 * already; conf_load_strings does not, see there). */
int conf_check_param(const struct conf *conf, int param, char **err);

/* What the obsolete parameters mapped onto param say, for when param
 * itself is empty: the value the first of them set to yes stands for
 * ("may" for smtp_use_tls = yes), with *from (unless NULL) its
 * identifier; NULL, *from untouched, when none is. */
const char *conf_obsolete_value(const struct conf *conf, int param,
    int *from);
/* Warns about each obsolete parameter mapped onto param that is set, as
 * the declaration says (CONF_WARN_USE): "X is obsolete: use Y instead". */
void conf_warn_obsolete(const struct conf *conf, int param);

/* By name, for what is not a compile-time identifier: `tlsrelay conf`
 * prints any name, user-defined ones included; NULL when the name is
 * neither set nor has a default. */
const char *conf_lookup(const struct conf *conf, const char *name);
/* Where name was set ("main.cf:3"), NULL when it was not. */
const char *conf_lookup_origin(const struct conf *conf, const char *name);
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
/* The declaration of an identifier P_<name>; panics on anything else. */
const struct conf_param_def *conf_param_at(int param);
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
