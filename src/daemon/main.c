/* tlsrelayd: the SMTP relay daemon. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tlsrelay/log.h"
#include "daemon.h"

static void
usage(void)
{
	fprintf(stderr, "usage: tlsrelayd [-c confdir] [-f] [-v]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *confdir = SYSCONFDIR;
	int foreground = 0, ch;

	log_set_service("tlsrelay", "master");
	while ((ch = getopt(argc, argv, "c:fv")) != -1) {
		switch (ch) {
		case 'c':
			confdir = optarg;
			break;
		case 'f':
			foreground = 1;
			break;
		case 'v':
			msg_verbose++;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	return supervisor_run(confdir, foreground);
}
