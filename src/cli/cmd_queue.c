/* tlsrelay queue: look at and act on the mail queue, like mailq(1) and
 * postsuper(1) together.
 *
 *	tlsrelay queue [-c confdir] [-j]		list, like mailq
 *							(-j: postqueue -j)
 *	tlsrelay queue [-c confdir] flush [ID ...]	retry now
 *	tlsrelay queue [-c confdir] hold ID ... | ALL
 *	tlsrelay queue [-c confdir] release ID ... | ALL
 *	tlsrelay queue [-c confdir] delete ID ... | ALL
 *	tlsrelay queue [-c confdir] requeue ID ... | ALL	(postsuper -r)
 *
 * Changes are made in the queue directory itself (rename, unlink, mtime),
 * then the queue manager is told through public/qmgr; if it is not
 * running it sees them when it starts. Exit status 1 when a named message
 * was not acted on. Only root and mail_owner may run it. Without a queue
 * manager line in master.cf every command says, on stderr, that nothing
 * is delivered. */
#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tlsrelay/conf.h"
#include "tlsrelay/queue.h"
#include "tlsrelay/util.h"

#include "cli.h"

static const struct {
	const char *name;
	enum queue_op op;
	const char *done;	/* summary: "<done>: N messages" */
} subcommands[] = {
	{ "flush", QUEUE_OP_FLUSH, "Flushed" },
	{ "hold", QUEUE_OP_HOLD, "Placed on hold" },
	{ "release", QUEUE_OP_RELEASE, "Released from hold" },
	{ "delete", QUEUE_OP_DELETE, "Deleted" },
	{ "requeue", QUEUE_OP_REQUEUE, "Requeued" },
};

static int
usage(void)
{
	fprintf(stderr,
	    "usage: tlsrelay queue [-c confdir] [-j]\n"
	    "       tlsrelay queue [-c confdir] flush [ID ...]\n"
	    "       tlsrelay queue [-c confdir] hold|release|delete|requeue "
	    "ID ... | ALL\n");
	return 2;
}

/* Root, or the account the daemon runs as: the queue is theirs alone. */
static int
check_user(const struct conf *conf)
{
	const char *owner = conf_str(conf, P_mail_owner);
	struct passwd *pw;

	if (getuid() == 0)
		return 0;
	pw = getpwnam(owner);
	if (pw != NULL && pw->pw_uid == getuid())
		return 0;
	fprintf(stderr, "tlsrelay: fatal: queue: permission denied: run as "
	    "root or as mail_owner (%s); any user can list the queue with "
	    "tlsrelay-sendmail -bp (mailq)\n", owner);
	return -1;
}

/* The daemon logs the same when it starts: mail is taken with a 250 and
 * then left in the queue. */
static void
warn_without_qmgr(const struct conf *conf)
{
	if (conf_service_by_command(conf, "qmgr") == NULL)
		fprintf(stderr, "tlsrelay: warning: %s/master.cf: no queue "
		    "manager service (Postfix's \"qmgr unix n - n 300 1 "
		    "qmgr\"): mail will be accepted and not delivered\n",
		    conf_dir(conf));
}

/* Tells the qmgr; a qmgr that is not running is worth a note only. */
static void
notify(const char *queue_dir, char request, const char *id)
{
	if (queue_notify(queue_dir, request, id) == 0 || errno == EAGAIN)
		return;		/* EAGAIN: it has notices to read already */
	if (errno == ENXIO || errno == ENOENT)
		fprintf(stderr, "tlsrelay: warning: the queue manager is not "
		    "running; it will see this when it starts\n");
	else
		fprintf(stderr, "tlsrelay: warning: cannot notify the queue "
		    "manager: %s\n", strerror(errno));
}

static void
summary(const char *what, size_t n)
{
	fprintf(stderr, "tlsrelay: %s: %zu message%s\n", what, n,
	    n == 1 ? "" : "s");
}

/* Applies op to each ID (or ALL); returns the exit status. */
static int
run_op(const char *queue_dir, size_t sub, int argc, char **argv)
{
	enum queue_op op = subcommands[sub].op;
	size_t done = 0;
	char *err = NULL;
	int rc = 0, all = argc == 1 && strcmp(argv[0], "ALL") == 0;

	if (argc == 0 && op != QUEUE_OP_FLUSH)
		return usage();
	if (argc == 0 || all) {
		if (queue_op_apply_all(queue_dir, op, &done, &err) < 0) {
			fprintf(stderr, "tlsrelay: fatal: %s\n", err);
			free(err);
			rc = 1;
		}
		if (op == QUEUE_OP_FLUSH)
			notify(queue_dir, QUEUE_NOTIFY_FLUSH, "");
		else if (done > 0)
			notify(queue_dir, QUEUE_NOTIFY_RESCAN, "");
		summary(subcommands[sub].done, done);
		return rc;
	}
	for (int i = 0; i < argc; i++) {
		switch (queue_op_apply(queue_dir, op, argv[i], &err)) {
		case QUEUE_OP_DONE:
			done++;
			if (op == QUEUE_OP_FLUSH)
				notify(queue_dir, QUEUE_NOTIFY_FLUSH, argv[i]);
			break;
		case QUEUE_OP_NOT_APPLICABLE:
			fprintf(stderr, "tlsrelay: warning: %s\n", err);
			rc = 1;
			break;
		case QUEUE_OP_NOT_FOUND:
			fprintf(stderr, "tlsrelay: %s\n", err);
			rc = 1;
			break;
		default:
			fprintf(stderr, "tlsrelay: fatal: %s\n", err);
			rc = 1;
			break;
		}
		free(err);
		err = NULL;
	}
	if (op != QUEUE_OP_FLUSH && done > 0)
		notify(queue_dir, QUEUE_NOTIFY_RESCAN, "");
	if (done > 0)
		summary(subcommands[sub].done, done);
	return rc;
}

int
cmd_queue(int argc, char **argv)
{
	const char *confdir = SYSCONFDIR, *queue_dir;
	struct conf *conf;
	char *err = NULL;
	int ch, rc, json = 0;

	while ((ch = getopt(argc, argv, "+c:j")) != -1) {
		switch (ch) {
		case 'c':
			confdir = optarg;
			break;
		case 'j':
			json = 1;
			break;
		default:
			return usage();
		}
	}
	argc -= optind;
	argv += optind;

	if ((conf = conf_load(confdir, &err)) == NULL) {
		fprintf(stderr, "tlsrelay: fatal: %s\n", err);
		free(err);
		return 1;
	}
	if (check_user(conf) < 0) {
		conf_free(conf);
		return 1;
	}
	warn_without_qmgr(conf);
	queue_dir = conf_str(conf, P_queue_directory);
	if (argc == 0) {
		if ((json ? queue_list_json(queue_dir, stdout, &err) :
		    queue_list(queue_dir, stdout, &err)) < 0) {
			fprintf(stderr, "tlsrelay: fatal: %s\n", err);
			free(err);
			rc = 1;
		} else if (fflush(stdout) != 0 || ferror(stdout)) {
			fprintf(stderr, "tlsrelay: fatal: write error on "
			    "stdout\n");
			rc = 1;
		} else
			rc = 0;
		conf_free(conf);
		return rc;
	}
	rc = -1;
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]);
	    i++)
		if (strcmp(argv[0], subcommands[i].name) == 0)
			rc = run_op(queue_dir, i, argc - 1, argv + 1);
	if (rc < 0) {
		fprintf(stderr, "tlsrelay: queue: unknown command: %s\n",
		    argv[0]);
		rc = usage();
	}
	conf_free(conf);
	return rc;
}
