/* tlsrelay: the administrator's command, one verb per job:
 *	tlsrelay check [-c confdir]
 *	tlsrelay conf [-c confdir] [-n | -d] [-x] [name ...]
 *	tlsrelay map [-c confdir] [-f] [-q key] [type:]file ...
 *	tlsrelay queue [-c confdir] [-j] [flush|delete|hold|release|requeue
 *	    id ...|ALL]
 *	tlsrelay status|reload|stop [-c confdir]
 *	tlsrelay tls-finger [-c confdir] [-l level] ... destination
 * Each verb is one row of the table below. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "tlsrelay/log.h"

#include "cli.h"

struct verb {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help;
};

static const struct verb verbs[] = {
	{ "cache", cmd_cache, "show the TLS session caches: entries, ages" },
	{ "check", cmd_check, "lint the configuration: every finding with "
	    "file:line and the fix" },
	{ "conf", cmd_conf, "print configuration parameters (like postconf)" },
	{ "map", cmd_map, "compile or query a lookup table (like postmap)" },
	{ "passwd", cmd_passwd, "add, change or remove an SMTP AUTH login" },
	{ "queue", cmd_queue, "list the mail queue; flush, hold, release, "
	    "delete, requeue" },
	{ "reload", cmd_reload, "make the running daemon read its "
	    "configuration again" },
	{ "setup", cmd_setup, "after make install: samples as main.cf and "
	    "master.cf, the user, group and directories" },
	{ "status", cmd_status, "say whether the daemon runs, and its PID" },
	{ "stop", cmd_stop, "stop the running daemon and wait until it has "
	    "gone" },
	{ "tls-finger", cmd_tls_finger, "show a destination's TLS and the "
	    "verdict of each level (like posttls-finger)" },
};

static int
usage(FILE *fp)
{
	fprintf(fp, "usage: tlsrelay VERB [options]\n\nverbs:\n");
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		fprintf(fp, "  %-10s %s\n", verbs[i].name, verbs[i].help);
	return fp == stderr ? 2 : 0;
}

int
main(int argc, char **argv)
{
	if (argc < 2)
		return usage(stderr);
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0)
		return usage(stdout);
	if (strcmp(argv[1], "--version") == 0) {
		printf("tlsrelay %s\n", PACKAGE_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(argv[1], verbs[i].name) == 0)
			return verbs[i].run(argc - 1, argv + 1);
	fprintf(stderr, "tlsrelay: unknown verb: %s\n", argv[1]);
	return usage(stderr);
}
