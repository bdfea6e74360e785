/* tlsrelay conf: print parameters the way postconf(1) does.
 *
 *	tlsrelay conf [-c confdir] [-n | -d] [-x] [name ...]
 *
 * No option: every implemented parameter with its value in main.cf, else
 * its default. -n: only what main.cf sets; Postfix parameters tlsrelay does
 * not implement come last, commented. -d: the defaults. Values are printed
 * as written (raw); -x expands them. Names: just those.
 *
 * Before printing, the configuration is built as tlsrelayd builds it
 * (config_build): every value, table, policy and TLS context. What the
 * daemon would refuse is reported on standard error, all of it, and the
 * exit status is 1; the values are printed all the same, as postconf
 * does. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/config_build.h"
#include "tlsrelay/log.h"
#include "tlsrelay/util.h"

#include "cli.h"

struct options {
	const char *confdir;
	int only_set;		/* -n */
	int defaults;		/* -d */
	int expand;		/* -x */
};

/* As postconf does, white space runs (continuation lines) print as one
 * space. */
static void
print_param(const char *prefix, const char *name, const char *value)
{
	char **words = strlist_split(value, " \t\r\n", NULL);

	printf("%s%s =", prefix, name);
	for (char **w = words; *w; w++)
		printf(" %s", *w);
	putchar('\n');
	strlist_free(words);
}

static const char *
set_raw_value(const struct conf *conf, const char *name)
{
	const char *set_name, *raw;

	for (size_t i = 0; (set_name = conf_set_name(conf, i, &raw)); i++)
		if (strcmp(set_name, name) == 0)
			return raw;
	return NULL;
}

/* The value to print for name, or NULL when conf has none. */
static const char *
value_of(const struct conf *conf, const struct options *opt,
    const char *name)
{
	const struct conf_param_def *def = conf_param_lookup(name);
	const char *raw;

	if (opt->expand)
		return conf_lookup(conf, name);
	if ((raw = set_raw_value(conf, name)) != NULL)
		return raw;
	if (def && def->defval)
		return def->defval;
	/* Computed defaults (myhostname, mydomain) have no template. */
	return conf_lookup(conf, name);
}

static int
compare_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void
print_set(const struct conf *conf, const struct options *opt)
{
	const char *name, *raw;
	const char **used, **ignored;
	size_t n_used = 0, n_ignored = 0, n = 0;

	while (conf_set_name(conf, n, &raw))
		n++;
	used = xcalloc(n, sizeof(*used));
	ignored = xcalloc(n, sizeof(*ignored));
	for (size_t i = 0; (name = conf_set_name(conf, i, &raw)); i++) {
		if (conf_name_status(conf, name) == CONF_IGNORED)
			ignored[n_ignored++] = name;
		else
			used[n_used++] = name;
	}
	qsort(used, n_used, sizeof(*used), compare_names);
	qsort(ignored, n_ignored, sizeof(*ignored), compare_names);
	for (size_t i = 0; i < n_used; i++)
		print_param("", used[i], value_of(conf, opt, used[i]));
	for (size_t i = 0; i < n_ignored; i++)
		print_param("# ignored (not implemented by tlsrelay): ",
		    ignored[i], value_of(conf, opt, ignored[i]));
	free(used);
	free(ignored);
}

static void
print_all(const struct conf *conf, const struct options *opt)
{
	const struct conf_param_def *table;
	size_t n;

	table = conf_param_table(&n);
	for (size_t i = 0; i < n; i++)
		print_param("", table[i].name, value_of(conf, opt,
		    table[i].name));
}

/* Prints the named parameters; returns how many were found. */
static int
print_names(const struct conf *conf, const struct options *opt, int argc,
    char **argv)
{
	int found = 0;

	for (int i = 0; i < argc; i++) {
		const char *name = argv[i];
		int is_set = conf_lookup_origin(conf, name) != NULL;

		if (conf_param_lookup(name) == NULL && !is_set) {
			if (conf_param_status(name) == CONF_IGNORED)
				fprintf(stderr, "tlsrelay: warning: %s: not "
				    "implemented by tlsrelay\n", name);
			else
				fprintf(stderr, "tlsrelay: warning: %s: "
				    "unknown parameter\n", name);
			continue;
		}
		found++;
		if (opt->only_set && !is_set)
			continue;
		print_param(conf_name_status(conf, name) == CONF_IGNORED ?
		    "# ignored (not implemented by tlsrelay): " : "", name,
		    value_of(conf, opt, name));
	}
	return found;
}

/* What tlsrelayd would refuse: each problem, one line. */
static void
report_problem(void *arg, const struct master_service *svc, const char *what,
    const char *text)
{
	int *problems = arg;
	char *line;

	if (strcmp(what, "not checked") == 0) {
		fprintf(stderr, "tlsrelay: warning: %s: not checked: tlsrelayd "
		    "reads it as root\n", text);
		return;
	}
	line = config_problem_line(svc, what, text);
	fprintf(stderr, "tlsrelay: error: %s\n", line);
	free(line);
	(*problems)++;
}

static int
usage(void)
{
	fprintf(stderr, "usage: tlsrelay conf [-c confdir] [-n | -d] [-x] "
	    "[name ...]\n");
	return 2;
}

int
cmd_conf(int argc, char **argv)
{
	struct options opt = { .confdir = SYSCONFDIR };
	struct built_config *built = NULL;
	struct conf *conf;
	char *err = NULL;
	int ch, rc = 0, problems = 0;

	while ((ch = getopt(argc, argv, "c:dnx")) != -1) {
		switch (ch) {
		case 'c':
			opt.confdir = optarg;
			break;
		case 'd':
			opt.defaults = 1;
			break;
		case 'n':
			opt.only_set = 1;
			break;
		case 'x':
			opt.expand = 1;
			break;
		default:
			return usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (opt.defaults && opt.only_set)
		return usage();

	if (opt.defaults) {
		conf = conf_load_strings("", "main.cf", "", "master.cf", &err);
	} else {
		built = config_build(opt.confdir, CONFIG_BUILD_CHECK,
		    report_problem, &problems);
		conf = built ? built->conf : NULL;
		rc = built == NULL || problems > 0;
	}
	if (conf == NULL) {
		if (err != NULL)
			fprintf(stderr, "tlsrelay: fatal: %s\n", err);
		free(err);
		return 1;
	}
	if (argc > 0) {
		if (print_names(conf, &opt, argc, argv) == 0)
			rc = 1;
	} else if (opt.only_set) {
		print_set(conf, &opt);
	} else {
		print_all(conf, &opt);
	}
	if (built != NULL)
		config_build_free(built);
	else
		conf_free(conf);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "tlsrelay: fatal: write error on stdout\n");
		rc = 1;
	}
	return rc;
}
