/* tlsrelay status | reload | stop: the running daemon, found through its
 * locked PID file (include/tlsrelay/pidfile.h), as `postfix status`,
 * `postfix reload` and `postfix stop` find Postfix's master.
 *
 *	tlsrelay status [-c confdir]	exit 0 when running, 1 when not
 *	tlsrelay reload [-c confdir]	SIGHUP: read the configuration again
 *	tlsrelay stop [-c confdir]	SIGTERM, then wait until it has gone
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/pidfile.h"
#include "tlsrelay/util.h"

#include "cli.h"

/* How long stop waits: the daemon gives its sessions and deliveries some
 * seconds to finish, then kills what is left. */
#define STOP_WAIT 120

/* The queue directory of the configuration, or NULL (said why). */
static struct conf *
load(int argc, char **argv, const char *verb)
{
	const char *confdir = SYSCONFDIR;
	struct conf *conf;
	char *err = NULL;
	int ch;

	optind = 1;
	while ((ch = getopt(argc, argv, "c:")) != -1) {
		if (ch != 'c') {
			fprintf(stderr, "usage: tlsrelay %s [-c confdir]\n",
			    verb);
			return NULL;
		}
		confdir = optarg;
	}
	if (optind != argc) {
		fprintf(stderr, "usage: tlsrelay %s [-c confdir]\n", verb);
		return NULL;
	}
	if ((conf = conf_load(confdir, &err)) == NULL) {
		fprintf(stderr, "tlsrelay: fatal: %s\n", err);
		free(err);
	}
	return conf;
}

static int
control(int argc, char **argv, const char *verb, int sig)
{
	struct conf *conf = load(argc, argv, verb);
	const char *queue_dir;
	pid_t pid;

	if (conf == NULL)
		return 2;
	queue_dir = conf_str(conf, P_queue_directory);
	pid = pidfile_running(queue_dir);
	if (pid == 0) {
		fprintf(stderr, "tlsrelay: the mail system is not running\n");
		conf_free(conf);
		return 1;
	}
	if (sig == 0) {
		printf("tlsrelay: the mail system is running: PID: %ld\n",
		    (long)pid);
		conf_free(conf);
		return 0;
	}
	if (kill(pid, sig) < 0) {
		fprintf(stderr, "tlsrelay: fatal: signal PID %ld: %s\n",
		    (long)pid, strerror(errno));
		conf_free(conf);
		return 1;
	}
	if (sig == SIGHUP) {
		printf("tlsrelay: refreshing the mail system\n");
		conf_free(conf);
		return 0;
	}
	printf("tlsrelay: stopping the mail system\n");
	fflush(stdout);
	for (time_t deadline = time(NULL) + STOP_WAIT;
	    pidfile_running(queue_dir) != 0;) {
		struct timespec ts = { .tv_sec = 0, .tv_nsec = 100000000 };

		if (time(NULL) > deadline) {
			fprintf(stderr, "tlsrelay: PID %ld still running after "
			    "%d seconds\n", (long)pid, STOP_WAIT);
			conf_free(conf);
			return 1;
		}
		nanosleep(&ts, NULL);
	}
	conf_free(conf);
	return 0;
}

int
cmd_status(int argc, char **argv)
{
	return control(argc, argv, "status", 0);
}

int
cmd_reload(int argc, char **argv)
{
	return control(argc, argv, "reload", SIGHUP);
}

int
cmd_stop(int argc, char **argv)
{
	return control(argc, argv, "stop", SIGTERM);
}
