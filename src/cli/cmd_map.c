/* tlsrelay map: compile and query lookup tables, like postmap(1).
 *
 *	tlsrelay map [-c confdir] [-f] [type:]file ...
 *	tlsrelay map [-c confdir] [-f] -q key type:name ...
 *	tlsrelay map [-c confdir] [-f] -q - type:name ...
 *	tlsrelay map [-c confdir] -s type:name
 *
 * Without -q: builds file.db from each file (type hash or btree; hash when
 * no type is given, as postmap's default_database_type), atomically. With
 * -q: prints the value of key from the first table that has it; exit 1
 * when none has. With -q -, the keys are the lines of the standard input
 * and each key found is printed with its value, "key<TAB>value" (exit 1
 * when none was found). -s prints every entry of one table, "key<TAB>
 * value", in the table's order. -f keeps the case of keys (postmap -f). Errors name
 * file:line and exit 1. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tlsrelay/map.h"
#include "tlsrelay/util.h"

#include "cli.h"

static int
usage(void)
{
	fprintf(stderr, "usage: tlsrelay map [-c confdir] [-f] [-q key | -q - "
	    "| -s] [type:]file ...\ntable types: %s\n", table_types());
	return 2;
}

/* "file" means "hash:file"; a type is letters and digits before ':'. */
static char *
with_type(const char *arg)
{
	size_t n = strspn(arg, "abcdefghijklmnopqrstuvwxyz0123456789_");

	if (n > 0 && arg[n] == ':')
		return xstrdup(arg);
	return xasprintf("hash:%s", arg);
}

static int
query(const char *key, int argc, char **argv, int flags)
{
	for (int i = 0; i < argc; i++) {
		char *spec = with_type(argv[i]), *err = NULL;
		struct table *t = table_open(spec, flags, &err);
		const char *value;
		int failed = 0;

		free(spec);
		if (t == NULL) {
			fprintf(stderr, "tlsrelay: fatal: %s\n", err);
			free(err);
			return 1;
		}
		value = table_lookup(t, key, &failed);
		if (failed) {
			fprintf(stderr, "tlsrelay: fatal: table %s: lookup "
			    "of \"%s\" failed\n", table_name(t), key);
			table_close(t);
			return 1;
		}
		if (value != NULL) {
			printf("%s\n", value);
			table_close(t);
			return 0;
		}
		table_close(t);
	}
	return 1;
}

/* -q -: every line of the standard input a key; Postfix's postmap. */
static int
query_stdin(int argc, char **argv, int flags)
{
	struct table **tables = xcalloc((size_t)argc, sizeof(*tables));
	char *line = NULL, *err = NULL;
	size_t cap = 0;
	ssize_t n;
	int found = 0, rc = 1;

	for (int i = 0; i < argc; i++) {
		char *spec = with_type(argv[i]);

		tables[i] = table_open(spec, flags, &err);
		free(spec);
		if (tables[i] == NULL) {
			fprintf(stderr, "tlsrelay: fatal: %s\n", err);
			free(err);
			goto out;
		}
	}
	while ((n = getline(&line, &cap, stdin)) > 0) {
		line[strcspn(line, "\r\n")] = '\0';
		for (int i = 0; i < argc; i++) {
			int failed = 0;
			const char *value = table_lookup(tables[i], line,
			    &failed);

			if (failed) {
				fprintf(stderr, "tlsrelay: fatal: table %s: "
				    "lookup of \"%s\" failed\n",
				    table_name(tables[i]), line);
				goto out;
			}
			if (value != NULL) {
				printf("%s\t%s\n", line, value);
				found = 1;
				break;
			}
		}
	}
	rc = found ? 0 : 1;
out:
	for (int i = 0; i < argc; i++)
		table_close(tables[i]);
	free(tables);
	free(line);
	return rc;
}

static void
print_entry(void *arg, const char *key, const char *value)
{
	(void)arg;
	printf("%s\t%s\n", key, value);
}

/* -s: postmap -s, for the first table named, as postmap. */
static int
list_entries(const char *arg, int flags)
{
	char *spec = with_type(arg), *err = NULL;
	struct table *t = table_open(spec, flags, &err);
	int rc = 0;

	free(spec);
	if (t == NULL || table_each(t, print_entry, NULL, &err) < 0) {
		fprintf(stderr, "tlsrelay: fatal: %s\n", err);
		free(err);
		rc = 1;
	}
	table_close(t);
	return rc;
}

static int
build(int argc, char **argv, int flags)
{
	for (int i = 0; i < argc; i++) {
		char *spec = with_type(argv[i]), *err = NULL;
		int ret = table_build(spec, flags, &err);

		free(spec);
		if (ret < 0) {
			fprintf(stderr, "tlsrelay: fatal: %s\n", err);
			free(err);
			return 1;
		}
	}
	return 0;
}

int
cmd_map(int argc, char **argv)
{
	const char *confdir = NULL, *key = NULL;
	struct stat st;
	int ch, flags = 0, rc, list = 0;

	while ((ch = getopt(argc, argv, "c:fq:s")) != -1) {
		switch (ch) {
		case 'c':
			confdir = optarg;
			break;
		case 'f':
			flags |= TABLE_NO_FOLD;
			break;
		case 'q':
			key = optarg;
			break;
		case 's':
			list = 1;
			break;
		default:
			return usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0 || (list && key != NULL))
		return usage();
	/* No table setting lives in main.cf yet; a wrong -c is still an
	 * error, as for the other verbs. */
	if (confdir != NULL && (stat(confdir, &st) < 0 || !S_ISDIR(st.st_mode))) {
		fprintf(stderr, "tlsrelay: fatal: %s: not a configuration "
		    "directory\n", confdir);
		return 1;
	}
	if (list)
		rc = list_entries(argv[0], flags);
	else if (key != NULL && strcmp(key, "-") == 0)
		rc = query_stdin(argc, argv, flags);
	else if (key != NULL)
		rc = query(key, argc, argv, flags);
	else
		rc = build(argc, argv, flags);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "tlsrelay: fatal: write error on stdout\n");
		rc = 1;
	}
	return rc;
}
