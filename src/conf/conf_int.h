/* conf_int: what the files of src/conf share and nobody else sees. */
#ifndef TLSRELAY_CONF_INT_H
#define TLSRELAY_CONF_INT_H

#include <stddef.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/util.h"

/* Bounds that keep hostile or broken input from exhausting memory or the
 * stack: a value may not grow beyond this after expansion, and references
 * may not nest deeper (Postfix stops at 100 levels as well). */
#define CONF_MAX_VALUE		(1024 * 1024)
#define CONF_MAX_NESTING	100

/* conf_postfix_names.c */
int conf_is_postfix_name(const char *name);

/* conf_params.c */
size_t conf_param_index(const struct conf_param_def *def);
/* The default of a parameter whose default is computed at run time
 * (myhostname), or NULL when the table's defval applies. mydomain is
 * derived from the expanded myhostname by the caller. Caller frees. */
char *conf_param_computed_default(const struct conf_param_def *def);
/* mydomain's rule: hostname minus its first label, "localdomain" when
 * nothing is left. Caller frees. */
char *conf_domain_of(const char *hostname);

/* conf_lex.c: logical lines of main.cf / master.cf. A logical line keeps
 * the physical line number of each of its pieces, so a master.cf -o on a
 * continuation line can be reported where it is. */
struct conf_lline {
	char *text;		/* pieces joined as Postfix joins them */
	int line;		/* where the logical line starts */
	size_t n_pieces;
	size_t *piece_off;	/* offset in text where each piece starts */
	int *piece_line;
};

struct conf_lline *conf_lex(const char *text, const char *file,
    size_t *count);
void conf_lex_free(struct conf_lline *lines, size_t count);
int conf_lline_line_at(const struct conf_lline *ll, size_t offset);

/* conf_expand.c: $name syntax. The lookup gives a name's expanded value
 * (NULL: undefined, expands to nothing) or fails with *err set. */
typedef int (*conf_lookup_fn)(void *arg, const char *name,
    const char **value, char **err);
int conf_expand_text(const char *text, conf_lookup_fn lookup, void *arg,
    struct strbuf *out, char **err);
/* Calls fn for every name text refers to, in every branch, without
 * expanding anything; stops quietly at a syntax error. */
void conf_scan_refs(const char *text,
    void (*fn)(void *arg, const char *name, size_t len), void *arg);

/* conf_master.c */
struct conf_services {
	int refs;		/* shared by a conf and its service copies */
	struct master_service **list;
	size_t count;
};

struct conf_services *conf_master_parse(const char *text, const char *file,
    char **err);
void conf_services_release(struct conf_services *services);
/* Splits an inet service name into host (NULL if none) and port; -1 on
 * a malformed name. */
int conf_split_inet(const char *name, char **host, char **port);

/* The object. A slot is one name with its raw text and, once resolved,
 * its expanded value. */
enum slot_state { SLOT_RAW, SLOT_BUSY, SLOT_DONE, SLOT_FAILED };

struct slot {
	char *name;
	char *raw;		/* NULL: computed default (mydomain) */
	char *origin;		/* "file:line"; NULL for a default */
	char *value;		/* expanded, once state is DONE or FAILED */
	enum slot_state state;
	enum conf_status status;
	int from_master;	/* set by a master.cf -o */
	int referenced;		/* some value refers to it via $name */
};

struct conf {
	char *dir;		/* NULL when loaded from strings */
	char *main_name;	/* labels messages about main.cf */
	struct slot *set;	/* names set in main.cf or by -o, file order */
	size_t n_set;
	struct slot *defaults;	/* one per implemented parameter */
	struct slot *pseudo;	/* service_name in a service's view */
	size_t n_pseudo;
	const char **values;	/* per parameter: its slot's value */
	long long *numbers;	/* per parameter: bool/int/time/size value */
	struct conf_services *services;
	int check_declared;	/* apply conf_check_value (conf_load) */
};

struct conf *conf_alloc(const char *dir, const char *main_name);
/* Adds or replaces a set name; the slot takes a copy of every string. */
struct slot *conf_set(struct conf *conf, const char *name, const char *raw,
    const char *origin, int from_master);
struct slot *conf_find_set(const struct conf *conf, const char *name);

/* conf_check.c: the declared bounds and allowed values of one parameter's
 * value; where names "FILE:LINE" (or a default). */
int conf_check_value(const struct conf_param_def *def, const char *where,
    const char *value, long long number, char **err);

/* conf_unsupported.c: the Postfix names whose absence weakens checks:
 * refused (-1, *err names file:line) or warned about once. */
int conf_check_unsupported(const struct conf *conf, char **err);

/* conf_obsolete.c: "WHERE: NAME is obsolete: use NEW instead". */
/* conf NULL: before values are resolved (the names warned at load have
 * one meaning whatever else is set). */
void conf_obsolete_warning(const struct conf *conf, const char *where,
    const char *name);

/* conf_resolve.c: expands every slot, checks typed values (and, when
 * conf->check_declared, their declared bounds and allowed values), fills
 * values and numbers. warn_main / warn_master: whether to repeat warnings
 * about names set in main.cf / by -o (a service's view is built more than
 * once). Returns -1 with *err = "FILE:LINE: message". */
int conf_resolve(struct conf *conf, int warn_main, int warn_master,
    char **err);
/* Warns about unknown and obsolete names (once, at load). */
void conf_warn_names(struct conf *conf);

#endif
