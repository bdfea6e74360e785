/* tlsrelay map: compile and query lookup tables, like postmap(1).
 *
 *	tlsrelay map [-c confdir] [-f] [type:]file ...
 *	tlsrelay map [-c confdir] [-f] -q key type:name ...
 *
 * Without -q: builds file.db from each file (type hash or btree; hash when
 * no type is given, as postmap's default_database_type), atomically. With
 * -q: prints the value of key from the first table that has it; exit 1
 * when none has. -f keeps the case of keys (postmap -f). Errors name
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
	fprintf(stderr, "usage: tlsrelay map [-c confdir] [-f] [-q key] "
	    "[type:]file ...\ntable types: %s\n", table_types());
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
	int ch, flags = 0, rc;

	while ((ch = getopt(argc, argv, "c:fq:")) != -1) {
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
		default:
			return usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		return usage();
	/* No table setting lives in main.cf yet; a wrong -c is still an
	 * error, as for the other verbs. */
	if (confdir != NULL && (stat(confdir, &st) < 0 || !S_ISDIR(st.st_mode))) {
		fprintf(stderr, "tlsrelay: fatal: %s: not a configuration "
		    "directory\n", confdir);
		return 1;
	}
	rc = key != NULL ? query(key, argc, argv, flags) :
	    build(argc, argv, flags);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "tlsrelay: fatal: write error on stdout\n");
		rc = 1;
	}
	return rc;
}
