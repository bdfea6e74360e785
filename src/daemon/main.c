/* tlsrelayd: the SMTP relay daemon. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "tlsrelay/log.h"
#include "daemon.h"

/* glibc gives the free top of the heap back to the kernel once it
 * passes 128 KiB, so the buffers of every message (the spool writer's
 * 64 KiB, the DATA input, the outbound content: some hundreds of KiB per
 * session in flight) were faulted in afresh for the next one; on
 * plain100k that was most of the cost of copying the content. Each
 * process keeps up to this much free for the next message. */
#define HEAP_KEEP	(16 * 1024 * 1024)

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
#ifdef M_TRIM_THRESHOLD
	/* Before any fork: the children inherit it. */
	(void)mallopt(M_TRIM_THRESHOLD, HEAP_KEEP);
#endif
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
